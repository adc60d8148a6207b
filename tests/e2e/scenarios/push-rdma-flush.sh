#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Push mode's one-sided durability by the RDMA FLUSH verb, on a device that implements it:
# the backports kernel's rxe (RDMA FLUSH from 6.2 on), with tgtd and tgtpmem-push on an
# rdma-core whose libibverbs has ibv_wr_flush (>= 45; Debian 12 has 44). Run as
#   run.sh --kernel backports --rdma-core PREFIX --module .../bs_pmem.so --bin .../tgtpmem-push
# with both built against PREFIX (scripts/test.sh does this); skipped in any other run.
# Checked:
#   - the connection offers RDMA FLUSH and tgtd registers a writable region for it;
#   - a pattern written and made durable by RDMA FLUSH alone (write-flush, no COMMIT)
#     survives tgtd's SIGKILL and reads back over push and over open-iscsi iSER;
#   - a read-only region is not registered for FLUSH, and RDMA FLUSH asked for on it fails
#     before anything is sent;
#   - figures: WRITE+RDMA FLUSH next to WRITE+read-after-write and WRITE+COMMIT (printed, not
#     asserted).
set -u
source /e2e/guest/lib.sh

[[ -n ${E2E_RDMA_CORE:-} ]] ||
  skip "needs tgtd and tgtpmem-push on rdma-core >= 45 and a 6.2+ kernel (run.sh --kernel backports --rdma-core PREFIX; scripts/test.sh runs it so)"
[[ $E2E_BSTYPE == pmem ]] || skip "push mode is bs_pmem's; bstype is $E2E_BSTYPE"
# From here on this run was set up for RDMA FLUSH: anything missing is a failure.
command -v tgtpmem-push >/dev/null || fail "no tgtpmem-push in the guest (run.sh --bin)"
kver=$(uname -r)
IFS=. read -r kmajor kminor _ <<<"$kver"
(( kmajor > 6 || (kmajor == 6 && kminor >= 2) )) ||
  fail "kernel $kver: rxe implements RDMA FLUSH from 6.2 on (run.sh --kernel backports)"
ldd "$(command -v tgtpmem-push)" | grep -q "$E2E_RDMA_CORE/lib/libibverbs.so.1" ||
  fail "tgtpmem-push does not use the libibverbs of $E2E_RDMA_CORE: $(ldd "$(command -v tgtpmem-push)" | grep ibverbs)"

port=5566
iqn=$E2E_IQN_PREFIX:push-flush
me=iqn.2024-01.org.tgt-pmem:push-client
mib=$((1024 * 1024))
W=$E2E_WORK

push() {  # push ARGS...: the client against $E2E_TARGET_IP:$port, logged
  echo "+ tgtpmem-push $*" >> "$E2E_LOG/commands.log"
  tgtpmem-push --address "$E2E_TARGET_IP" --port "$port" --initiator "$me" \
    --target "$iqn" --lun 1 --timeout 20 "$@" >> "$E2E_LOG/push.log" 2>&1
}
must_push() { push "$@" || { tail -n 5 "$E2E_LOG/push.log" | sed 's/^/    /' >&2; fail "tgtpmem-push $* failed (push.log)"; }; }
# last_line PATTERN: the newest line of push.log matching PATTERN.
last_line() { grep -a -- "$1" "$E2E_LOG/push.log" | tail -n 1; }

export_lun() {
  tgtd_start
  must tgtadm --lld iser --mode target --op new --tid 1 --targetname "$iqn" >/dev/null
  must tgtadm --lld iser --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
       --backing-store "$PMEM_DEV" --bsopts "push=on;push_port=$port;push_address=$E2E_TARGET_IP" >/dev/null
  # tgt's iSER discovery reports a portal only for a target bound by address and by name.
  must tgtadm --lld iser --mode target --op bind --tid 1 -I ALL >/dev/null
  must tgtadm --lld iser --mode target --op bind --tid 1 -Q "$E2E_INITIATOR_IQN" >/dev/null
}

step "kernel $kver, rdma-core of $E2E_RDMA_CORE; NVDIMM as devdax, tgtd with a push LUN"
pmem_namespace devdax
export_lun
grep -q "listening with RDMA CM on $E2E_TARGET_IP:$port" "$E2E_LOG/tgtd.log" ||
  fail "the push port is not listening (tgtd.log)"

step "RDMA WRITE 4 MiB, RDMA FLUSH (no COMMIT), read back over the push path"
make_pattern "$W/pattern" 4
must_push --remote-flush rdma-flush register:1M:4M:rw write-flush:h0:0:file:"$W/pattern" \
          read:h0:0:4M:out:"$W/readback" unregister:h0
last_line "^connect " | grep -q " rdma_flush=yes" ||
  fail "the connection does not offer RDMA FLUSH: $(last_line '^connect ')"
last_line "step 1 register:1M:4M:rw: ok" | grep -q " flushable" ||
  fail "tgtd did not register the writable region for RDMA FLUSH: $(last_line 'step 1 ')"
last_line "step 2 write-flush:" | grep -q "durable (rdma-flush)" ||
  fail "the write was not made durable by RDMA FLUSH: $(last_line 'step 2 ')"
cmp "$W/pattern" "$W/readback" >/dev/null || fail "push read-back differs from what was written"

step "a read-only region is not flushable; RDMA FLUSH on it fails before anything is sent"
must_push --remote-flush rdma-flush register:8M:64K:r write-flush:h0:0:pattern:3:4K:expect=refused \
          unregister:h0
last_line "step 1 register:8M:64K:r: ok" | grep -q " flushable" &&
  fail "tgtd registered a read-only region for RDMA FLUSH: $(last_line 'step 1 ')"
last_line "step 2 write-flush:h0:0:pattern:3:4K:expect=refused" | grep -q "RDMA FLUSH" ||
  fail "the refusal does not say why: $(last_line 'step 2 ')"

step "SIGKILL tgtd, restart: the flushed pattern is there, over push and over iSER"
tgtd_kill9
export_lun
must_push register:1M:4M:r read:h0:0:4M:out:"$W/readback2" unregister:h0
cmp "$W/pattern" "$W/readback2" >/dev/null || fail "RDMA-FLUSHed pattern lost across tgtd SIGKILL (push read)"
iser_login "$iqn"
verify_at "$DEV" "$mib" "$W/pattern" "RDMA-FLUSHed push pattern read over iSER after SIGKILL"
iser_logout "$iqn"

step "figures: durable 4 KiB writes, WRITE+RDMA FLUSH vs WRITE+read-after-write vs WRITE+COMMIT"
field() { sed 's/},{/}\n{/g' <<<"$3" | grep "\"method\":\"$2\"" | sed "s/.*\"$1\":\([0-9.]*\).*/\1/"; }
must_push --remote-flush rdma-flush --bench --size 4K --count 2000 --region 1M --json
json=$(grep '^{' "$E2E_LOG/push.log" | tail -n 1)
commit_us=$(field mean_us write+commit "$json")
flush_us=$(field mean_us write+rdma-flush "$json")
must_push --remote-flush read-after-write --bench --size 4K --count 2000 --region 1M --json
json=$(grep '^{' "$E2E_LOG/push.log" | tail -n 1)
raf_us=$(field mean_us write+read-after-write "$json")
[[ -n $commit_us && -n $flush_us && -n $raf_us ]] ||
  fail "no write+commit, write+rdma-flush and write+read-after-write rows (push.log)"
{
  echo "durable 4 KiB write latency, QD 1, mean (TCG guest, kernel $kver, rxe), one run:"
  printf '  %-36s %10s %10s\n' method "mean us" "/ COMMIT"
  for row in "push WRITE+COMMIT:$commit_us" "push WRITE+RDMA FLUSH:$flush_us" \
             "push WRITE+read-after-write:$raf_us"; do
    awk -v name="${row%%:*}" -v us="${row##*:}" -v c="$commit_us" \
      'BEGIN { printf "  %-36s %10.0f %10.2f\n", name, us, us / c }'
  done
} > "$E2E_LOG/bench.txt"
sed 's/^/    /' "$E2E_LOG/bench.txt" >&2

summary "RDMA FLUSH on kernel $kver: a 4 MiB pattern made durable by RDMA FLUSH alone survived tgtd SIGKILL (push + iSER read); read-only region not flushable; WRITE+RDMA FLUSH $flush_us us vs WRITE+COMMIT $commit_us us"
