#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: boot srp-push
# Push mode (iser_ext): tgtd serves LUN 1 on /dev/dax0.0 with bsopts push=on; the client
# tool tgtpmem-push (run.sh --bin) connects over RDMA CM (rxe0, port 5566), registers
# regions, RDMA-WRITEs into the pmem directly and COMMITs. Checked:
#   - durability: a committed pattern survives tgtd's SIGKILL and reads back through the
#     push path and through open-iscsi over iSER;
#   - security, each a refused operation: RDMA access after UNREGISTER, after COMMIT +
#     UNREGISTER, with a handle of another connection, outside the region, through a
#     read-only handle; CONNECT to a LUN whose ACL does not admit us; CHAP with a wrong
#     secret (and the right one works);
#   - a client killed with registered regions leaves tgtd healthy, its regions deregistered;
#   - a busy push client, polled (push_poll_us), does not starve an iSER job on the same tgtd;
#   - a benchmark table: durable 4 KiB writes via push (WRITE+COMMIT with tgtd's event loop
#     and with push_poll_us, WRITE+read-after-write) next to an iSER O_DIRECT write
#     (write-through LUN: durable on completion) of the LUN.
set -u
source /e2e/guest/lib.sh

command -v tgtpmem-push >/dev/null || skip "no tgtpmem-push in the guest (run.sh --bin)"
[[ $E2E_BSTYPE == pmem ]] || skip "push mode is bs_pmem's; bstype is $E2E_BSTYPE"

port=5566
poll_us=1000  # the benchmark's push_poll_us
# Every push LUN listens on the guest's RDMA address only (all LUNs of a port share one).
push_opts="push=on;push_port=$port;push_address=$E2E_TARGET_IP"
iqn=$E2E_IQN_PREFIX:push
iqn_acl=$E2E_IQN_PREFIX:push-acl
iqn_chap=$E2E_IQN_PREFIX:push-chap
me=iqn.2024-01.org.tgt-pmem:push-client
mib=$((1024 * 1024))
W=$E2E_WORK

# push_argv [--target IQN] ARGS...: PUSH_ARGV is the client's command line against
# $E2E_TARGET_IP:$port (target $iqn unless given), logged to commands.log.
push_argv() {
  local target=$iqn
  if [[ ${1:-} == --target ]]; then target=$2; shift 2; fi
  echo "+ tgtpmem-push --target $target $*" >> "$E2E_LOG/commands.log"
  PUSH_ARGV=(tgtpmem-push --address "$E2E_TARGET_IP" --port "$port" --initiator "$me"
             --target "$target" --lun 1 --timeout 20 "$@")
}
push() { push_argv "$@"; "${PUSH_ARGV[@]}" >> "$E2E_LOG/push.log" 2>&1; }
# push_bg ARGS...: push in the background; PUSH_PID is the client's own PID. ("push ... &"
# would give the PID of a subshell, and a kill would leave the client running.)
push_bg() {
  push_argv "$@"
  "${PUSH_ARGV[@]}" >> "$E2E_LOG/push.log" 2>&1 &
  PUSH_PID=$!
}
must_push() { push "$@" || { tail -n 5 "$E2E_LOG/push.log" | sed 's/^/    /' >&2; fail "tgtpmem-push $* failed (push.log)"; }; }

export_all() {
  tgtd_start
  # LUN under test: the whole NVDIMM as devdax, push mode on; open to everyone.
  must tgtadm --lld iser --mode target --op new --tid 1 --targetname "$iqn" >/dev/null
  must tgtadm --lld iser --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
       --backing-store "$PMEM_DEV" --bsopts "$push_opts" >/dev/null
  must tgtadm --lld iser --mode target --op bind --tid 1 -I ALL >/dev/null
  must tgtadm --lld iser --mode target --op bind --tid 1 -Q "$E2E_INITIATOR_IQN" >/dev/null
  # A LUN whose ACL names another initiator only (a file on tmpfs: page-cache pmem).
  must truncate -s 16M "$W/acl.img"
  must tgtadm --lld iser --mode target --op new --tid 2 --targetname "$iqn_acl" >/dev/null
  must tgtadm --lld iser --mode logicalunit --op new --tid 2 --lun 1 --bstype pmem \
       --backing-store "$W/acl.img" --bsopts "$push_opts" >/dev/null
  must tgtadm --lld iser --mode target --op bind --tid 2 -Q iqn.2024-01.org.tgt-pmem:someone-else >/dev/null
  # A LUN behind CHAP (an incoming account bound to the target).
  must truncate -s 16M "$W/chap.img"
  must tgtadm --lld iser --mode target --op new --tid 3 --targetname "$iqn_chap" >/dev/null
  must tgtadm --lld iser --mode logicalunit --op new --tid 3 --lun 1 --bstype pmem \
       --backing-store "$W/chap.img" --bsopts "$push_opts" >/dev/null
  must tgtadm --lld iser --mode target --op bind --tid 3 -I ALL >/dev/null
  tgtadm --mode account --op new --user pushuser --password pushsecret1234 >/dev/null 2>&1
  must tgtadm --mode account --op bind --tid 3 --user pushuser >/dev/null
}

step "NVDIMM as devdax, tgtd with three push-enabled LUNs on port $port"
pmem_namespace devdax
export_all
grep -q "push mode on RDMA CM port $port" "$E2E_LOG/tgtd.log" ||
  fail "tgtd did not report push mode for the LUN (tgtd.log)"
grep -q "listening with RDMA CM on $E2E_TARGET_IP:$port" "$E2E_LOG/tgtd.log" ||
  fail "the push port does not listen on push_address=$E2E_TARGET_IP only (tgtd.log)"
# An address no RDMA device has (TEST-NET-2), and the port taken on another address: the LUN
# is refused, with the reason in tgtd's log, and tgtd serves on.
tgtadm --lld iser --mode logicalunit --op new --tid 2 --lun 2 --bstype pmem --backing-store "$W/acl.img" \
  --bsopts "push=on;push_port=$((port + 1));push_address=198.51.100.1" >/dev/null 2>&1 &&
  fail "a LUN with push_address=198.51.100.1 (no RDMA device has it) was accepted"
grep -q "198.51.100.1 port $((port + 1)) (no RDMA device for that address)" "$E2E_LOG/tgtd.log" ||
  fail "no clear reason for refusing push_address=198.51.100.1 (tgtd.log)"
tgtadm --lld iser --mode logicalunit --op new --tid 2 --lun 2 --bstype pmem --backing-store "$W/acl.img" \
  --bsopts "push=on;push_port=$port;push_address=0.0.0.0" >/dev/null 2>&1 &&
  fail "a LUN on port $port with another push_address was accepted"
grep -q "0.0.0.0 port $port (port in use" "$E2E_LOG/tgtd.log" ||
  fail "no clear reason for refusing a second address on port $port (tgtd.log)"
kill -0 "$TGTD_PID" 2>/dev/null || fail "tgtd died refusing a push LUN"

step "register, RDMA WRITE 4 MiB, COMMIT, read back over the push path"
make_pattern "$W/pattern" 4
must_push register:1M:4M:rw write:h0:0:file:"$W/pattern" commit:h0 \
          read:h0:0:4M:out:"$W/readback" unregister:h0
cmp "$W/pattern" "$W/readback" >/dev/null || fail "push read-back differs from what was written"

step "security: every forbidden access must be refused"
# After UNREGISTER (the handle saved before).
must_push register:0:64K:rw save-handle:h0:"$W/h-unreg" unregister:h0 \
          write-raw:"$W/h-unreg":0:pattern:7:4K:expect=refused
# After COMMIT + UNREGISTER.
must_push register:0:64K:rw write:h0:0:pattern:8:4K commit:h0 save-handle:h0:"$W/h-commit" \
          unregister:h0 write-raw:"$W/h-commit":0:pattern:9:4K:expect=refused
# Outside the registered range (the handle is right, the offset is past its end).
must_push register:0:64K:rw save-handle:h0:"$W/h-range" \
          write-raw:"$W/h-range":64K:pattern:10:4K:expect=refused
# Through a read-only handle.
must_push register:0:64K:r save-handle:h0:"$W/h-ro" \
          write-raw:"$W/h-ro":0:pattern:11:4K:expect=refused
# With a handle of another, still connected, connection.
push_bg register:0:64K:rw save-handle:h0:"$W/h-other" sleep:30
holder=$PUSH_PID
for _ in $(seq 1 100); do [[ -s $W/h-other ]] && break; sleep 0.2; done
[[ -s $W/h-other ]] || fail "the first connection never saved its handle (push.log)"
must_push write-raw:"$W/h-other":0:pattern:12:4K:expect=refused
# The administrator's view of that live session (bs_pmem's status file, refreshed each second).
if command -v tgtpmem-admin >/dev/null; then
  want=" $me: 1 region(s), 65536 bytes exposed"
  for _ in $(seq 1 30); do
    tgtpmem-admin status > "$E2E_LOG/status.txt" 2>&1
    grep -qF "$want" "$E2E_LOG/status.txt" && break
    sleep 0.2
  done
  grep -qF "$want" "$E2E_LOG/status.txt" && grep -q "push mode: $E2E_TARGET_IP port $port, 1 session(s)" "$E2E_LOG/status.txt" ||
    fail "tgtpmem-admin status does not show the live push session '$want' (status.txt)"
fi
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
# CONNECT refused by the target's ACL.
must_push --target "$iqn_acl" --expect-connect refused
# CHAP: a wrong secret is refused, the right one admitted (here read from a file, which
# keeps it off the command line).
must_push --target "$iqn_chap" --chap-user pushuser --chap-secret wrong-secret-99 --expect-connect refused
must_push --target "$iqn_chap" --chap-user pushuser --chap-secret pushsecret1234 register:0:4K:rw unregister:h0
(umask 077 && echo pushsecret1234 > "$W/chap-secret")
must_push --target "$iqn_chap" --chap-user pushuser --chap-secret-file "$W/chap-secret" register:0:4K:rw unregister:h0
(umask 077 && echo wrong-secret-99 > "$W/chap-wrong")
must_push --target "$iqn_chap" --chap-user pushuser --chap-secret-file "$W/chap-wrong" --expect-connect refused
push --target "$iqn_chap" --chap-user pushuser --chap-secret-file "$W/no-such-file"
[[ $? == 2 ]] || fail "tgtpmem-push with a missing --chap-secret-file did not exit 2 (push.log)"
# The right secret in a file that others may read is refused before connecting.
(umask 022 && echo pushsecret1234 > "$W/chap-open")
push --target "$iqn_chap" --chap-user pushuser --chap-secret-file "$W/chap-open" register:0:4K:rw
[[ $? == 2 ]] || fail "tgtpmem-push with a group/world-readable secret file did not exit 2"
# The refused write past the region's end (LUN bytes 64K..68K of a zeroed NVDIMM) left
# nothing behind.
must_push register:0:128K:r read:h0:64K:4K:out:"$W/after" unregister:h0
cmp -n 4096 "$W/after" /dev/zero >/dev/null 2>&1 || fail "a refused RDMA WRITE changed the LUN"

step "a client killed with regions registered"
push_bg register:0:1M:rw register:2M:1M:r save-handle:h0:"$W/h-dead" sleep:60
victim=$PUSH_PID
for _ in $(seq 1 100); do [[ -s $W/h-dead ]] && break; sleep 0.2; done
[[ -s $W/h-dead ]] || fail "the victim never registered (push.log)"
grep -q " 2 regions deregistered" "$E2E_LOG/tgtd.log" &&
  fail "tgtd already logged '2 regions deregistered' before the victim died: the check below would prove nothing"
kill -9 "$victim"
wait "$victim" 2>/dev/null
victim_rc=$?
(( victim_rc == 137 )) || fail "the victim did not die of SIGKILL (exit $victim_rc): it must die abruptly"
t_dead=$SECONDS
# The kernel tears the dead process's connection down (DREQ); tgtd must drop its regions. Within
# 30 s: half the victim's sleep:60, so only its death (not a clean exit at the end of its
# script) can have closed the connection by then.
for _ in $(seq 1 150); do grep -q " 2 regions deregistered" "$E2E_LOG/tgtd.log" && break; sleep 0.2; done
grep -q " 2 regions deregistered" "$E2E_LOG/tgtd.log" ||
  fail "tgtd did not deregister the dead client's 2 regions within 30 s of its death (tgtd.log)"
dead_s=$((SECONDS - t_dead))
kill -0 "$TGTD_PID" 2>/dev/null || fail "tgtd died with its push client"
must tgtadm --mode target --op show >/dev/null
must_push write-raw:"$W/h-dead":0:pattern:13:4K:expect=refused
must_push register:0:4K:rw unregister:h0

step "SIGKILL tgtd, restart: the committed pattern is there, over push and over iSER"
tgtd_kill9
export_all
must_push register:1M:4M:r read:h0:0:4M:out:"$W/readback2" unregister:h0
cmp "$W/pattern" "$W/readback2" >/dev/null || fail "committed pattern lost across tgtd SIGKILL (push read)"
iser_login "$iqn"
verify_at "$DEV" "$mib" "$W/pattern" "committed push pattern read over iSER after SIGKILL"

step "benchmark: durable 4 KiB writes, push vs iSER"
# bench_record SETTING JSON: one line of push-bench.jsonl, from which the host renders the
# figures (tests/e2e/figures.sh: the guest has no jq or gnuplot) beside fio-iser-qd1.json.
bench_record() { printf '{"setting":"%s","bench":%s}\n' "$1" "$2" >> "$E2E_LOG/push-bench.jsonl"; }
must_push --bench --size 4K --count 2000 --region 1M --json > /dev/null
bench_json=$(grep '^{' "$E2E_LOG/push.log" | tail -n 1)
bench_record "tgtd's event loop" "$bench_json"
must fio --name=iser-durable --filename="$DEV" --ioengine=libaio --direct=1 --iodepth=1 \
         --bs=4k --rw=randwrite --offset=$((512 * mib)) --size=$((16 * mib)) --number_ios=2000 \
         --output-format=json --output="$E2E_LOG/fio-iser-qd1.json" >/dev/null
iser_lat=$(awk '/"write" : \{/ {w = 1} w && /"clat_ns" : \{/ {c = 1} c && /"mean"/ {gsub(/[",]/, "", $3); print $3 / 1000; exit}' "$E2E_LOG/fio-iser-qd1.json")
iser_logout "$iqn"
# The same LUN again with push_poll_us: tgtd polls the connection for the next request.
must tgtadm --lld iser --mode logicalunit --op delete --tid 1 --lun 1 >/dev/null
must tgtadm --lld iser --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
     --backing-store "$PMEM_DEV" --bsopts "$push_opts;push_poll_us=$poll_us" >/dev/null
grep -q "polled $poll_us us after each request" "$E2E_LOG/tgtd.log" ||
  fail "tgtd did not report push_poll_us=$poll_us (tgtd.log)"
must_push --bench --size 4K --count 2000 --region 1M --json > /dev/null
polled_json=$(grep '^{' "$E2E_LOG/push.log" | tail -n 1)
bench_record "push_poll_us=$poll_us" "$polled_json"
# And the client polling too (tgtpmem-push --poll-us): no wake-up on either side.
must_push --poll-us "$poll_us" --bench --size 4K --count 2000 --region 1M --json > /dev/null
both_json=$(grep '^{' "$E2E_LOG/push.log" | tail -n 1)
bench_record "both poll $poll_us us" "$both_json"
# field FIELD METHOD JSON: that field of that row of a tgtpmem-push --bench --json line
field() { sed 's/},{/}\n{/g' <<<"$3" | grep "\"method\":\"$2\"" | sed "s/.*\"$1\":\([0-9.]*\).*/\1/"; }
mean() { field mean_us "$@"; }

step "a busy polled push client does not starve tgtd's other connections"
# While a push client sends COMMIT after COMMIT (push_poll_us keeps tgtd polling it), an iSER
# job on the same tgtd must still be served: tgtd yields its event loop every millisecond.
iser_login "$iqn"
# A runtime, not a count: a count sized for one machine's speed ends too soon on a faster one.
push --bench --size 4K --runtime 6 --region 1M --json > /dev/null &
busy=$!
sleep 1
must fio --name=iser-beside-push --filename="$DEV" --ioengine=libaio --direct=1 --iodepth=1 \
         --bs=4k --rw=randwrite --offset=$((512 * mib)) --size=$((16 * mib)) --time_based \
         --runtime=3 --output-format=json --output="$E2E_LOG/fio-beside-push.json" >/dev/null
wait "$busy" || fail "the busy push client failed (push.log)"
iser_logout "$iqn"
busy_json=$(grep '^{' "$E2E_LOG/push.log" | tail -n 1)
busy_count=$(field count write+commit "$busy_json")
busy_iops=$(field iops write+commit "$busy_json")
[[ -n $busy_count && -n $busy_iops ]] || fail "no figures from the busy push client (push.log)"
# The fio job ran during the COMMIT phase (1 s in, for 3 s) only if that phase lasted 4 s
# (it runs for 6 s, unless the client stalled or failed).
awk -v n="$busy_count" -v r="$busy_iops" 'BEGIN { exit !(n / r >= 4) }' ||
  fail "the busy client's COMMITs took under 4 s ($busy_count at $busy_iops IOPS): no overlap with fio"
beside_ios=$(awk '/"write" : \{/ {w = 1} w && /"total_ios"/ {gsub(/[",]/, "", $3); print $3; exit}' "$E2E_LOG/fio-beside-push.json")
beside_lat=$(awk '/"write" : \{/ {w = 1} w && /"clat_ns" : \{/ {c = 1} c && /"mean"/ {gsub(/[",]/, "", $3); print $3 / 1000; exit}' "$E2E_LOG/fio-beside-push.json")
[[ -n $beside_ios && -n $beside_lat ]] || fail "no figures from fio beside the busy push client"
# Starved, the job would complete next to nothing in its 3 s; served every millisecond or so,
# hundreds of writes (alone, about 2500).
(( beside_ios >= 100 )) ||
  fail "iSER beside a busy polled push client: $beside_ios writes in 3 s (starved)"
commit_ev=$(mean write+commit "$bench_json")
raf_ev=$(mean write+read-after-write "$bench_json")
commit_poll=$(mean write+commit "$polled_json")
commit_both=$(mean write+commit "$both_json")
raf_both=$(mean write+read-after-write "$both_json")
[[ -n $commit_ev && -n $raf_ev && -n $commit_poll && -n $commit_both && -n $raf_both && -n $iser_lat ]] ||
  fail "benchmark figures missing (push.log, fio-iser-qd1.json)"
{
  echo "durable 4 KiB write latency, QD 1, mean (TCG guest, rxe), one run:"
  awk -v c="$commit_ev" -v r="$raf_ev" -v p="$commit_poll" -v i="$iser_lat" -v u="$poll_us" \
      -v b="$commit_both" -v rb="$raf_both" 'BEGIN {
    printf "  %-44s %9s %9s\n", "method", "mean us", "/ iSER"
    printf "  %-44s %9.0f %9.2f\n", "push WRITE+COMMIT", c, c / i
    printf "  %-44s %9.0f %9.2f\n", "push WRITE+COMMIT, push_poll_us=" u, p, p / i
    printf "  %-44s %9.0f %9.2f\n", "push WRITE+COMMIT, both poll " u " us", b, b / i
    printf "  %-44s %9.0f %9.2f\n", "push WRITE+read-after-write", r, r / i
    printf "  %-44s %9.0f %9.2f\n", "push WRITE+read-after-write, client polls", rb, rb / i
    printf "  %-44s %9.0f %9.2f\n", "iSER O_DIRECT write (write-through LUN)", i, 1 }'
  echo "iSER O_DIRECT write beside a busy push client (push_poll_us=$poll_us): $beside_ios in 3 s, mean $beside_lat us"
  echo "  (the push client meanwhile: $busy_iops COMMITs/s)"
  echo "push (event loop): $bench_json"
  echo "push (polled):     $polled_json"
  echo "push (both poll):   $both_json"
} | tee "$E2E_LOG/bench.txt" >&2
summary "push mode on devdax: 4 MiB committed pattern survived SIGKILL (push + iSER read); 7 forbidden accesses refused; a SIGKILLed client's 2 regions deregistered within ${dead_s} s; bench in bench.txt"
