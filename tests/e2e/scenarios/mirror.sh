#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: boot srp-push
# e2e: benchmark part
# Synchronous replication (issue 16; bs_pmem(8), MIRRORING) between two tgtd in the guest:
# the primary (tgtd on control port 0, iSER for open-iscsi) mirrors its LUN over RDMA to the
# secondary (a second tgtd, control port 1, push mode on port 5567). The mirror link runs
# over a path that can be cut (lib.sh's rxe_cut_path): the secondary listens on 192.0.2.3
# (rxe0, veth0), which the primary reaches through rxe1 on veth1 and the veth pair; netem on
# both veths (link_cut) drops its packets both ways - no disconnect reaches either tgtd -
# while the iSER session on rxe0's loopback carries on. Both LUNs are files on tmpfs with
# durability=emulated: pmem that survives a crash of tgtd, the failure injected in (a).
# Checked, in order:
#   - a blank secondary gets everything by a full resync (its throughput is stated); the
#     copies are then equal byte for byte;
#   - with E2E_BENCH=1 only (run.sh --bench: the target bench-mirror), a benchmark: 4 KiB
#     random writes, QD 1 latency and QD 16 IOPS, mirrored (over the cut path, uncut)
#     against a single-node LUN of the same tgtd (figures in bench.txt);
#   (b) policy degrade: the link cut under fio --verify load; fio goes on writing and
#       completes without an error, the primary is degraded and tgtpmem-admin status asks
#       for attention; the link restored, the primary reconnects by itself (its backoff),
#       resynchronises from its bitmap and is synchronous again: the copies are equal;
#   (c) policy fail under the same cut, fio one write at a time (fsync, verify state saved):
#       writes fail (NOT READY / MEDIUM ERROR reach the initiator as I/O errors), and with
#       the link still cut fio --verify_only on the secondary's own file finds every write
#       fio saw acknowledged (nothing acknowledged is on one copy only); restored and
#       resynchronised, the copies are equal;
#   (a) the primary's tgtd is SIGKILLed at an arbitrary moment under fio (one write at a time,
#       fsync after each, verify state saved); the secondary is promoted and served; fio
#       --verify_only finds every write it saw acknowledged there;
#   (d) both copies are primaries (the old one is back, the promoted one was written): no data
#       flows (the old primary finds no secondary there), and demoting the copy that went on
#       alone is refused without --discard-my-data. The old primary, demoted (it never went on
#       alone), then receives the promoted copy's data: equal again.
# Timings of the cuts (until degraded/stopped, until reconnected, the resyncs) in cut.txt.
# The decide() refusals of a split brain (both wrote apart since a shared generation) are
# tested against the real push service in-process (tests/unit/mirror).
set -u
source /e2e/guest/lib.sh

[[ $E2E_BSTYPE == pmem ]] || skip "mirroring is bs_pmem's; bstype is $E2E_BSTYPE"
command -v tgtpmem-admin >/dev/null || skip "no tgtpmem-admin in the guest (run.sh --bin)"

W=$E2E_WORK
mib=$((1024 * 1024))
size=$((32 * mib))
pri_iqn=$E2E_IQN_PREFIX:mirror-primary
sec_iqn=$E2E_IQN_PREFIX:mirror-secondary
one_iqn=$E2E_IQN_PREFIX:single
ip=$E2E_TARGET_IP
cut_ip=192.0.2.3  # veth0 too: the secondary's push service; the primary reaches it over rxe1
sec_push=5567 pri_push=5566 sec_ctl=1 sec_iscsi=3261
R=$E2E_LOG/bench.txt
C=$E2E_LOG/cut.txt
SEC_PID=""
trap '[[ -n $SEC_PID ]] && kill -9 "$SEC_PID" 2>/dev/null' EXIT

# field CTL KEY: KEY's value in the mirror object of LUN 1 of target 1's status file.
field() {
  sed -n "s/.*\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" \
    "/run/tgt-pmem/tgtd.$1/lun.1.1.json" 2>/dev/null | head -n 1
}
# wait_sync CTL SECONDS: until that tgtd's LUN is a synchronous primary, link up, no resync.
wait_sync() {
  local i
  for i in $(seq 1 $(( $2 * 5 ))); do
    [[ $(field "$1" state) == synchronous && $(field "$1" link) == up &&
       $(field "$1" running) == false ]] && return 0
    sleep 0.2
  done
  return 1
}
mstate() { echo "state=$(field "$1" state) link=$(field "$1" link) last=$(field "$1" last_failure)"; }
# wait_field CTL KEY VALUE SECONDS: until KEY of that tgtd's LUN is VALUE.
wait_field() {
  for _ in $(seq 1 $(( $4 * 5 ))); do
    [[ $(field "$1" "$2") == "$3" ]] && return 0
    sleep 0.2
  done
  return 1
}
note() { echo "$*" | tee -a "$C" >&2; }
# writes_done DEV: writes the kernel completed on the SCSI disk (/sys/block/X/stat field 5).
writes_done() { awk '{print $5}' "/sys/block/$(basename "$1")/stat"; }
# wait_writes DEV FROM N PID: until N writes more than FROM completed on DEV, while PID runs
# (at most 120 s).
wait_writes() {
  for _ in $(seq 1 1200); do
    kill -0 "$4" 2>/dev/null || return 1
    (( $(writes_done "$1") - $2 >= $3 )) && return 0
    sleep 0.1
  done
  return 1
}
# json_num FILE SECTION KEY: a number from fio's JSON report ("write", "io_bytes").
json_num() {
  awk -v sec="\"$2\"" -v key="\"$3\"" '
    $1 == sec && $2 == ":" && $3 == "{" { on = 1; next }
    on && $1 == key { v = $3; sub(/,$/, "", v); print v; exit }' "$1"
}
json_err() { awk '$1 == "\"error\"" {v = $3; sub(/,$/, "", v); print v; exit}' "$1"; }
# restored WHAT DECISION: after link_restore, the primary reconnects by itself, decides
# DECISION (generations.h: "resync from the bitmap" after going on alone, "in sync" when
# policy fail kept the generations) and is synchronous again; the times (from the restore)
# go to cut.txt with the resync's size and the secondary's queue pairs. No disconnect crossed
# the cut, so the secondary still had the old connection, pinning the whole LUN, unless its
# liveness probe ended it during a long cut: the new one's handshake must have retired it
# (push: one mirror primary per LUN). s_cut and p_cut: the secondary's and the primary's log
# lengths at the cut (not at the restore: a reconnect attempt in flight can get through
# while link_restore is still checking its work, as it once did in CI).
restored() {
  local t0=$SECONDS t_up lines=$p_cut how
  wait_field 0 link up 180 || fail "$1: no reconnect within 180 s of restoring the link: $(mstate 0)"
  t_up=$((SECONDS - t0))
  wait_sync 0 180 || fail "$1: not synchronous within 180 s of the reconnect: $(mstate 0)"
  note "$1: link restored; reconnected after ${t_up} s, synchronous after $((SECONDS - t0)) s;" \
       "$(tail -n +$((lines + 1)) "$E2E_LOG/tgtd.log" | grep -o 'mirror: secondary up ([^)]*)' | tail -n 1);" \
       "$(tail -n +$((lines + 1)) "$E2E_LOG/tgtd.log" | grep -o 'resync done, [0-9]* regions copied' | tail -n 1);" \
       "the secondary's tgtd has $(rdma res show qp 2>/dev/null | grep -c "pid $SEC_PID ") queue pairs"
  tail -n +$((lines + 1)) "$E2E_LOG/tgtd.log" | grep -q "mirror: secondary up ($2, " ||
    fail "$1: the primary did not reconnect with '$2' (tgtd.log)"
  how=$(tail -n +$((s_cut + 1)) "$E2E_LOG/tgtd-secondary.log" |
        grep -o -E "closing: replaced by connection [0-9]*|did not answer a liveness probe" | head -n 1)
  [[ -n $how ]] || fail "$1: the secondary kept the connection the cut left behind (tgtd-secondary.log)"
  note "$1: the secondary's old connection: $how"
}

# The secondary's tgtd: iSCSI/TCP on its own port. Its iSER cannot listen (the primary's tgtd
# holds RDMA CM port 3260 and tgt 1.0.85's --iser port= is unusable: its parser tests a stale
# errno); tgtd goes on without iSER, which the secondary does not need (push mode is bs_pmem's).
sec_tgtd_start() {
  tgtd -f -C $sec_ctl --iscsi portal=0.0.0.0:$sec_iscsi \
    >> "$E2E_LOG/tgtd-secondary.log" 2>&1 </dev/null &
  SEC_PID=$!
  for _ in $(seq 1 100); do
    tgtadm -C $sec_ctl --mode sys --op show >/dev/null 2>&1 && break
    sleep 0.1
  done
  tgtadm -C $sec_ctl --mode sys --op show >/dev/null 2>&1 || fail "the secondary tgtd does not answer"
}
# sec_serve BSOPTS: target 1 of the secondary tgtd, LUN 1 on sec.img.
sec_serve() {
  must tgtadm -C $sec_ctl --mode target --op new --tid 1 --targetname "$sec_iqn" >/dev/null
  must tgtadm -C $sec_ctl --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
       --backing-store "$W/sec.img" --bsopts "$1" >/dev/null
  must tgtadm -C $sec_ctl --mode target --op bind --tid 1 -I ALL >/dev/null
}
sec_as_secondary="durability=emulated;push=on;push_port=$sec_push;push_address=$cut_ip;mirror_meta=$W/sec.meta"
pri_bsopts() {
  echo "durability=emulated;mirror=$cut_ip:$sec_push;mirror_target=$sec_iqn;mirror_meta=$W/pri.meta;mirror_policy=$1"
}
pri_lun() {
  must tgtadm --lld iser --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
       --backing-store "$W/pri.img" --bsopts "$(pri_bsopts "$1")" >/dev/null
}
# same WHAT: the two copies are equal byte for byte.
same() {
  cmp "$W/pri.img" "$W/sec.img" > "$W/cmp.txt" 2>&1 ||
    fail "$1: the copies differ: $(head -n 1 "$W/cmp.txt")"
}
fio_lat() { # FILE: mean completion latency (us) of the write side of fio's JSON
  awk '/"write" :/ {w = 1} w && /"clat_ns" :/ {c = 1} c && /"mean" :/ {gsub(/[",]/, "", $3); printf "%.0f", $3 / 1000; exit}' "$1"
}
fio_iops() { awk '/"write" : \{/ {w = 1} w && /"iops" :/ {gsub(/[",]/, "", $3); printf "%.0f", $3; exit}' "$1"; }
bench() { # DEV QD NAME
  must fio --name="$3" --filename="$1" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k \
       --iodepth="$2" --size=$((16 * mib)) --time_based --runtime=5 --randrepeat=0 \
       --output-format=json --output="$E2E_LOG/fio-$3.json" >/dev/null
}

step "the mirror link's path: rxe1 on veth1, the veth pair, $cut_ip on rxe0"
rxe_cut_path "$cut_ip"
: > "$C"

step "two tgtd: a blank secondary (push mode on $cut_ip:$sec_push), a primary with $((size / mib)) MiB of data"
must truncate -s $size "$W/sec.img"
must truncate -s $size "$W/one.img"
must dd if=/dev/urandom of="$W/pri.img" bs=1M count=$((size / mib)) status=none
must tgtpmem-admin mirror-format "$W/sec.meta" --role secondary --lun-size $size
must tgtpmem-admin mirror-format "$W/pri.meta" --role primary --lun-size $size
tgtd_start
sec_tgtd_start
sec_serve "$sec_as_secondary"
must tgtadm --lld iser --mode target --op new --tid 1 --targetname "$pri_iqn" >/dev/null
t0=$(date +%s%N)
pri_lun degrade
must tgtadm --lld iser --mode target --op bind --tid 1 -I ALL >/dev/null
must tgtadm --lld iser --mode target --op bind --tid 1 -Q "$E2E_INITIATOR_IQN" >/dev/null
wait_sync 0 300 || fail "no full resync within 300 s: $(mstate 0)"
resync_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
same "after the full resync"
grep -q "full resync" "$E2E_LOG/tgtd.log" || fail "the log does not say a full resync ran"
grep -q "in sync with the secondary" "$E2E_LOG/tgtd.log" || fail "the log does not say it is in sync"
grep -q "from $E2E_PEER_IP:" "$E2E_LOG/tgtd-secondary.log" ||
  fail "the mirror link did not reach the secondary from $E2E_PEER_IP, over rxe1 (tgtd-secondary.log)"
dur=$(field 0 link_durability)
: > "$R"
echo "full resync of $((size / mib)) MiB (connect, handshake, copy, records): $resync_ms ms," \
     "$(awk -v s=$size -v ms=$resync_ms 'BEGIN {printf "%.1f", s / 1048576 / (ms / 1000)}') MiB/s;" \
     "secondary durability: $dur" | tee -a "$R" >&2

# The benchmark runs only as one (run.sh --bench, the target bench-mirror): in the suite it
# would only cost guest time, and its figures judge nothing.
if (( E2E_BENCH )); then
  step "benchmark: 4 KiB random writes, mirrored against a single-node LUN, QD 1 and QD 16"
  must tgtadm --lld iser --mode target --op new --tid 2 --targetname "$one_iqn" >/dev/null
  must tgtadm --lld iser --mode logicalunit --op new --tid 2 --lun 1 --bstype pmem \
       --backing-store "$W/one.img" --bsopts "durability=emulated" >/dev/null
  must tgtadm --lld iser --mode target --op bind --tid 2 -I ALL >/dev/null
  must tgtadm --lld iser --mode target --op bind --tid 2 -Q "$E2E_INITIATOR_IQN" >/dev/null
  iser_login "$one_iqn"
  one_dev=$DEV
  iser_login "$pri_iqn"
  pri_dev=$DEV
  # Three rounds, single-node and mirrored alternating, so that the guest's drift (TCG: the
  # same job varies by a factor of 3 between boots) hits both alike; median and range.
  for round in 1 2 3; do
    bench "$one_dev" 1 single-qd1-$round
    bench "$pri_dev" 1 mirror-qd1-$round
    bench "$one_dev" 16 single-qd16-$round
    bench "$pri_dev" 16 mirror-qd16-$round
  done
  # stats WHAT KIND: "median min max" of the three rounds' figures (fio_lat or fio_iops).
  stats() {
    local r
    for r in 1 2 3; do "fio_$2" "$E2E_LOG/fio-$1-$r.json"; echo; done |
      sort -n | awk 'NF {v[n++] = $1} END {if (n == 3) print v[1], v[0], v[2]}'
  }
  read -r l1 l1lo l1hi <<<"$(stats single-qd1 lat)"
  read -r lm lmlo lmhi <<<"$(stats mirror-qd1 lat)"
  read -r i1 i1lo i1hi <<<"$(stats single-qd16 iops)"
  read -r im imlo imhi <<<"$(stats mirror-qd16 iops)"
  [[ -n $l1 && -n $lm && -n $i1 && -n $im ]] || fail "benchmark figures missing (fio-*.json)"
  {
    echo "4 KiB random writes over iSER (TCG guest, iSER on rxe0's loopback; the mirror link over"
    echo "rxe1 -> veth pair -> rxe0, the path (b) and (c) cut, here uncut), 3 rounds of 5 s, alternating;"
    echo "median [min-max]:"
    printf "  %-26s %22s %22s %9s\n" "" "single-node" "mirrored" "mirr/single"
    printf "  %-26s %8s [%5s-%5s] %8s [%5s-%5s] %9s\n" "QD 1 mean latency (us)" "$l1" "$l1lo" "$l1hi" \
      "$lm" "$lmlo" "$lmhi" "$(awk -v a="$lm" -v b="$l1" 'BEGIN {printf "%.2f", a / b}')"
    printf "  %-26s %8s [%5s-%5s] %8s [%5s-%5s] %9s\n" "QD 16 IOPS" "$i1" "$i1lo" "$i1hi" \
      "$im" "$imlo" "$imhi" "$(awk -v a="$im" -v b="$i1" 'BEGIN {printf "%.2f", a / b}')"
  } | tee -a "$R" >&2
  wait_sync 0 30 || fail "not synchronous after the benchmark: $(mstate 0)"
else
  iser_login "$pri_iqn"
  pri_dev=$DEV
fi

step "(b) policy degrade: the mirror link cut (netem, both ways) under fio --verify load"
fio_args=(--name=degrade --filename="$pri_dev" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k
          --iodepth=4 --offset=0 --size=$((8 * mib)) --randrepeat=1 --verify=crc32c
          --verify_fatal=1 --do_verify=1 --loops=2)
w0=$(writes_done "$pri_dev")
fio "${fio_args[@]}" --output="$E2E_LOG/fio-degrade.txt" >/dev/null 2>&1 &
fio_pid=$!
wait_writes "$pri_dev" "$w0" 300 "$fio_pid" ||
  fail "(b) fio did not write 300 times before the cut ($(( $(writes_done "$pri_dev") - w0 )) writes; running: $(kill -0 "$fio_pid" 2>/dev/null && echo yes || echo no))"
link_cut || fail "(b) netem could not cut the link (net.log)"
s_cut=$(wc -l < "$E2E_LOG/tgtd-secondary.log")
p_cut=$(wc -l < "$E2E_LOG/tgtd.log")
t_cut=$SECONDS
w_cut=$(writes_done "$pri_dev")
wait_field 0 state degraded 120 || fail "(b) the primary is not degraded 120 s after the cut: $(mstate 0)"
note "(b) link cut under fio (QD 4) after $((w_cut - w0)) writes; primary degraded after $((SECONDS - t_cut)) s ($(field 0 last_failure))"
# The link stays cut until fio is done: every write after the cut was made with it cut.
wait "$fio_pid" || fail "(b) fio failed with the link cut under policy degrade (fio-degrade.txt)"
grep -q 'err= 0' "$E2E_LOG/fio-degrade.txt" || fail "(b) fio reported an error (fio-degrade.txt)"
w_end=$(writes_done "$pri_dev")
(( w_end - w_cut >= 1000 )) ||
  fail "(b) fio completed only $((w_end - w_cut)) writes after the cut (expected the rest of its 2 x 2048)"
[[ $(field 0 state) == degraded && $(field 0 link) != up ]] ||
  fail "(b) with the link still cut the primary is not degraded and down: $(mstate 0)"
tgtpmem-admin status > "$E2E_LOG/status-degraded.txt" 2>&1
grep -q "ATTENTION: mirror degraded" "$E2E_LOG/status-degraded.txt" ||
  fail "(b) tgtpmem-admin status does not ask for attention (status-degraded.txt)"
marked=$(field 0 regions_marked)
(( marked > 0 )) || fail "(b) $((w_end - w_cut)) writes while degraded, but no region is marked in the bitmap"
note "(b) fio wrote $((w_end - w_cut)) times with the link cut, verified, err=0; $marked regions marked; cut for $((SECONDS - t_cut)) s"
step "(b) the link restored: the primary must reconnect, resynchronise $marked regions, and the copies be equal"
link_restore || fail "(b) the netem cut could not be removed (net.log)"
restored "(b)" "resync from the bitmap"
same "(b) after the bitmap resync"

step "(c) policy fail: the link cut under fio (one write at a time, fsync, verify state saved)"
iser_logout "$pri_iqn"
must tgtadm --lld iser --mode logicalunit --op delete --tid 1 --lun 1 >/dev/null
pri_lun fail
wait_sync 0 60 || fail "(c) the primary with policy fail did not come up synchronous: $(mstate 0)"
iser_login "$pri_iqn"
pri_dev=$DEV
cstate=$W/fio-cut
rm -rf "$cstate" && mkdir -p "$cstate"
# cut_job FILE ARGS...: the job and, with --verify_only --verify_state_load, its check.
cut_job() {
  fio --name=cut --filename="$1" --ioengine=psync --rw=randwrite --bs=4k --offset=0 \
      --size=$((16 * mib)) --randrepeat=1 --randseed=5151 --verify=crc32c --verify_fatal=1 \
      --verify_state_save=1 --output-format=json "${@:2}"
}
dmesg_lines=$(dmesg | wc -l)
w0=$(writes_done "$pri_dev")
(cd "$cstate" && cut_job "$pri_dev" --direct=1 --fsync=1 --output="$cstate/write.json" \
   > "$cstate/write.out" 2>&1) &
fio_pid=$!
wait_writes "$pri_dev" "$w0" 300 "$fio_pid" ||
  fail "(c) fio did not write 300 times before the cut ($(( $(writes_done "$pri_dev") - w0 )) writes)"
link_cut || fail "(c) netem could not cut the link (net.log)"
s_cut=$(wc -l < "$E2E_LOG/tgtd-secondary.log")
p_cut=$(wc -l < "$E2E_LOG/tgtd.log")
t_cut=$SECONDS
for _ in $(seq 1 1200); do kill -0 "$fio_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$fio_pid" 2>/dev/null &&
  { pkill -9 -P "$fio_pid"; fail "(c) fio still writing 120 s after the cut under policy fail"; }
wait "$fio_pid"
fio_rc=$?
t_fio=$((SECONDS - t_cut))
cp "$cstate/write.json" "$cstate/write.out" "$E2E_LOG/" 2>/dev/null
w_done=$(( $(json_num "$cstate/write.json" write io_bytes) / 4096 ))   # acknowledged
w_ios=$(json_num "$cstate/write.json" write total_ios)                 # issued
w_err=$(json_err "$cstate/write.json")
(( fio_rc != 0 && w_err != 0 )) ||
  fail "(c) fio was not stopped by a failed write under policy fail with the link cut (exit $fio_rc, error $w_err)"
(( w_done >= 300 && w_done < 4096 )) || fail "(c) fio reports $w_done acknowledged writes (expected 300 to 4095)"
wait_field 0 state stopped 60 || fail "(c) the primary is not stopped: $(mstate 0)"
# The write in flight at the cut fails with MEDIUM ERROR (WRITE ERROR), which sd retries: by
# then the primary is stopped and the retry gets NOT READY, the one the initiator logs.
dmesg | tail -n +$((dmesg_lines + 1)) > "$E2E_LOG/dmesg-cut.txt"
sense=$(grep -o -E 'Sense Key : (Not Ready|Medium Error)' "$E2E_LOG/dmesg-cut.txt" | sort | uniq -c | tr -s ' ' | paste -sd, -)
[[ -n $sense ]] || fail "(c) the initiator logged no NOT READY / MEDIUM ERROR for the failed writes (dmesg-cut.txt)"
note "(c) link cut under fio (QD 1, fsync) after $((w_done)) acknowledged writes of $w_ios issued; fio stopped after ${t_fio} s with error $w_err; initiator saw:$sense"
# With the link still cut: the secondary's own file must hold every write fio saw acknowledged.
tc qdisc show dev veth0 | grep -q netem || fail "(c) the link is not cut any more"
(cd "$cstate" && cut_job "$W/sec.img" --direct=0 --verify_only=1 --verify_state_load=1 \
   --output="$cstate/verify-secondary.json" > "$cstate/verify-secondary.out" 2>&1)
v_rc=$?
cp "$cstate/verify-secondary.json" "$cstate/verify-secondary.out" "$E2E_LOG/" 2>/dev/null
v_ios=$(json_num "$cstate/verify-secondary.json" read total_ios)
v_err=$(json_err "$cstate/verify-secondary.json")
(( v_rc == 0 )) && [[ $v_err == 0 ]] ||
  fail "(c) an acknowledged write is missing on the secondary (exit $v_rc, error ${v_err:-none}): $(grep -m1 -i 'verify\|bad\|fio:' "$cstate/verify-secondary.out")"
# fio verifies in issue order up to the first write still in flight: one write at a time,
# that is exactly the acknowledged ones.
(( v_ios == w_done )) || fail "(c) fio verified $v_ios blocks on the secondary, but $w_done writes were acknowledged"
note "(c) with the link still cut, fio --verify_only on the secondary's file: all $v_ios acknowledged writes there"
step "(c) the link restored: the primary must reconnect, resynchronise, and the copies be equal"
link_restore || fail "(c) the netem cut could not be removed (net.log)"
restored "(c)" "in sync"
same "(c) after the link's return"
make_pattern "$W/p4k" 1
dd if="$W/p4k" of="$pri_dev" bs=4096 count=1 seek=100 oflag=direct conv=notrunc status=none ||
  fail "(c) a write failed with the link back"

step "(a) the primary's tgtd SIGKILLed under fio; the secondary promoted must hold every acknowledged write"
state=$W/fio-crash
rm -rf "$state" && mkdir -p "$state"
sess=""
for s in /sys/class/iscsi_session/session*; do
  [[ $(cat "$s/targetname" 2>/dev/null) == "$pri_iqn" ]] && sess=$s
done
[[ -n $sess ]] && echo 5 > "$sess/recovery_tmo"
crash_job() {
  fio --name=crash --filename="$1" --ioengine=psync --direct=1 --fsync=1 --rw=randwrite --bs=4k \
      --offset=0 --size=$((16 * mib)) --randrepeat=1 --randseed=4343 --verify=crc32c \
      --verify_fatal=1 --verify_state_save=1 "${@:2}"
}
(cd "$state" && crash_job "$pri_dev" --output="$state/write.txt" > /dev/null 2>&1) &
fio_pid=$!
sleep $(( 3 + RANDOM % 4 ))  # an arbitrary moment
kill -0 "$fio_pid" 2>/dev/null || fail "(a) fio ended before the primary was killed"
tgtd_kill9
for _ in $(seq 1 600); do kill -0 "$fio_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$fio_pid" 2>/dev/null && { pkill -9 -x fio; fail "(a) fio still running 60 s after the crash"; }
wait "$fio_pid" 2>/dev/null
iscsiadm -m node -T "$pri_iqn" --logout >/dev/null 2>&1
ls "$state"/*verify.state >/dev/null 2>&1 || fail "(a) fio saved no verify state"
must tgtadm -C $sec_ctl --mode logicalunit --op delete --tid 1 --lun 1 >/dev/null
must tgtpmem-admin mirror-promote "$W/sec.meta"
must tgtadm -C $sec_ctl --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
     --backing-store "$W/sec.img" \
     --bsopts "durability=emulated;mirror=$ip:$pri_push;mirror_target=$pri_iqn;mirror_meta=$W/sec.meta;mirror_policy=degrade" >/dev/null
must tgtadm -C $sec_ctl --mode target --op bind --tid 1 -Q "$E2E_INITIATOR_IQN" >/dev/null
must iscsiadm -m discovery -t sendtargets -p "$ip:$sec_iscsi" >/dev/null
must iscsiadm -m node -T "$sec_iqn" -p "$ip:$sec_iscsi" --login >/dev/null
sec_dev=$(attached_disk "$sec_iqn")
[[ -n $sec_dev ]] || fail "(a) no disk from the promoted secondary"
(cd "$state" && crash_job "/dev/$sec_dev" --verify_only --verify_state_load=1 \
   --output="$state/verify.txt" > /dev/null 2>&1) ||
  fail "(a) a write fio saw acknowledged is missing on the promoted secondary ($(grep -m1 -i 'verify\|bad' "$state/verify.txt"))"
cp "$state"/*.txt "$E2E_LOG/" 2>/dev/null
acked_writes=$(grep -o 'issued rwts: total=[0-9]*,[0-9]*' "$state/write.txt" | head -n 1 | cut -d, -f2)
echo "(a) writes fio issued before the crash: ${acked_writes:-?}, all acknowledged ones found on the promoted secondary" | tee -a "$R" >&2
must dd if="$W/p4k" of="/dev/$sec_dev" bs=4096 count=1 seek=7 oflag=direct conv=notrunc status=none

step "(d) the copies went apart: the link is refused, the promoted copy cannot be demoted silently"
tgtd_start
must tgtadm --lld iser --mode target --op new --tid 1 --targetname "$pri_iqn" >/dev/null
pri_lun degrade
must tgtadm --lld iser --mode target --op bind --tid 1 -I ALL >/dev/null
for _ in $(seq 1 100); do [[ -n $(field 0 last_failure) ]] && break; sleep 0.3; done
[[ -n $(field 0 last_failure) && $(field 0 link) != up ]] ||
  fail "(d) two primaries: the old one's link is not refused ($(mstate 0))"
same_before=$(cmp "$W/pri.img" "$W/sec.img" >/dev/null 2>&1 && echo yes || echo no)
[[ $same_before == no ]] || fail "(d) expected the copies to differ after the promoted copy's write"
iscsiadm -m node -T "$sec_iqn" --logout >/dev/null 2>&1
must tgtadm -C $sec_ctl --mode logicalunit --op delete --tid 1 --lun 1 >/dev/null
tgtpmem-admin mirror-demote "$W/sec.meta" > "$W/demote.txt" 2>&1 &&
  fail "(d) the promoted copy, written since, was demoted without --discard-my-data"
grep -q -- "--discard-my-data" "$W/demote.txt" || fail "(d) the refusal does not name the way out: $(cat "$W/demote.txt")"
step "(d) failback: the old primary is demoted and receives the promoted copy's data"
must tgtadm --lld iser --mode logicalunit --op delete --tid 1 --lun 1 >/dev/null
must tgtpmem-admin mirror-demote "$W/pri.meta"
must tgtadm --lld iser --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
     --backing-store "$W/pri.img" \
     --bsopts "durability=emulated;push=on;push_port=$pri_push;push_address=$ip;mirror_meta=$W/pri.meta" >/dev/null
must tgtadm -C $sec_ctl --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
     --backing-store "$W/sec.img" \
     --bsopts "durability=emulated;mirror=$ip:$pri_push;mirror_target=$pri_iqn;mirror_meta=$W/sec.meta;mirror_policy=degrade" >/dev/null
wait_sync $sec_ctl 180 || fail "(d) the promoted copy did not resynchronise its old primary: $(mstate $sec_ctl)"
sec_cmp() { cmp "$W/sec.img" "$W/pri.img" > "$W/cmp.txt" 2>&1 || fail "(d) after failback the copies differ: $(head -n 1 "$W/cmp.txt")"; }
sec_cmp
kill -0 "$TGTD_PID" 2>/dev/null && kill -0 "$SEC_PID" 2>/dev/null || fail "a tgtd died"
figures="no benchmark (bench-mirror runs it)"
if (( E2E_BENCH )); then
  figures="QD1 latency mirrored/single $(awk -v a="$lm" -v b="$l1" 'BEGIN {printf "%.2f", a / b}'), QD16 IOPS $(awk -v a="$im" -v b="$i1" 'BEGIN {printf "%.2f", a / b}')"
fi
summary "mirror: full resync $resync_ms ms for $((size / mib)) MiB; $figures; (b) cut/degraded/resync, (c) cut/fail: $w_done acknowledged writes all on the secondary; (a)-(d) checked; bench.txt, cut.txt"
