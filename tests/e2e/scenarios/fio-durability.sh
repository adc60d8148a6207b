#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: boot iser
# Durability across a crash of tgtd, seen by fio. fio writes 4 KiB random blocks with crc32c
# verify headers (O_DIRECT, one write at a time, fsync after each) to the iSER disk of a LUN on
# a fresh ext4-dax pool file; tgtd is SIGKILLed while fio runs. open-iscsi (recovery_tmo
# shortened) then fails the outstanding I/O with EIO, fio stops and saves its verify state
# (which writes completed). tgtd restarts on the same pool, the initiator logs in again, and
# `fio --verify_only --verify_state_load=1` replays the same job and reads back every write
# fio saw complete. The pool starts as zeros, so a write that was acknowledged but lost shows
# up as a block without fio's header: the check fails (try `run.sh --bstype null`).
set -u
source /e2e/guest/lib.sh

pool_size=$((256 * 1024 * 1024))
region=$((64 * 1024 * 1024))          # fio's span: 16384 blocks, each written at most once
kill_after=1500                       # writes completed on the disk before tgtd is killed
recovery_tmo=5                        # s until open-iscsi fails I/O of a lost session
iqn=$E2E_IQN_PREFIX:durability
state=$E2E_WORK/fio-durability        # fio's cwd: its verify state file lands here

# The one job, written and then verified; every option that shapes the sequence of offsets
# and the data (seed, span, block size) must be the same for both runs.
fio_job() {
  fio --name=durable --filename="$1" --ioengine=psync --direct=1 --fsync=1 \
      --rw=randwrite --bs=4k --offset=0 --size="$region" --randrepeat=1 --randseed=4242 \
      --verify=crc32c --verify_fatal=1 --verify_state_save=1 --output-format=json "${@:2}"
}
# json_num FILE SECTION KEY: the first "KEY" : number inside "SECTION" : { of fio's JSON.
json_num() {
  awk -v sec="\"$2\"" -v key="\"$3\"" '
    $1 == sec && $2 == ":" && $3 == "{" { on = 1; next }
    on && $1 == key { v = $3; sub(/,$/, "", v); print v; exit }' "$1"
}
# writes_done DEV: writes the kernel completed on the SCSI disk (/sys/block/X/stat field 5).
writes_done() { awk '{print $5}' "/sys/block/$(basename "$1")/stat"; }

step "NVDIMM namespace in fsdax mode, ext4 -o dax, fresh $((pool_size >> 20)) MiB pool"
fsdax_files "$pool_size" pool
pool=$E2E_PMEM_MNT/pool

step "tgtd --bstype $E2E_BSTYPE, iSER login, recovery_tmo ${recovery_tmo}s"
tgtd_start
iser_export 1 "$iqn" "$pool"
iser_login "$iqn"
size=$(blockdev --getsize64 "$DEV")
(( size >= region )) || fail "LUN of $size bytes is smaller than fio's $region-byte span"
sess=""
for s in /sys/class/iscsi_session/session*; do
  [[ $(cat "$s/targetname" 2>/dev/null) == "$iqn" ]] && sess=$s
done
[[ -n $sess ]] || fail "no iscsi_session in sysfs for $iqn"
echo "$recovery_tmo" > "$sess/recovery_tmo" || fail "could not set $sess/recovery_tmo"

rm -rf "$state" && mkdir -p "$state"
step "fio random writes on $DEV; SIGKILL tgtd after $kill_after completed writes"
w0=$(writes_done "$DEV")
(cd "$state" && fio_job "$DEV" --output="$state/write.json" > "$state/write.out" 2>&1) &
fio_pid=$!
for _ in $(seq 1 1200); do
  kill -0 "$fio_pid" 2>/dev/null || break
  (( $(writes_done "$DEV") - w0 >= kill_after )) && break
  sleep 0.1
done
kill -0 "$fio_pid" 2>/dev/null ||
  fail "fio ended before tgtd was killed ($(( $(writes_done "$DEV") - w0 )) writes; write.out)"
(( $(writes_done "$DEV") - w0 >= kill_after )) ||
  fail "fio made no progress: $(( $(writes_done "$DEV") - w0 )) writes in 120 s"
t_kill=$SECONDS
tgtd_kill9
kill -0 "$fio_pid" 2>/dev/null || fail "fio was not running any more when tgtd was killed"
step "tgtd killed with fio running; waiting for fio to see the I/O error"
waited=0
while kill -0 "$fio_pid" 2>/dev/null && (( waited < 600 )); do sleep 0.1; waited=$((waited + 1)); done
# On timeout: $fio_pid is only the subshell; fio and its job processes run below it.
kill -0 "$fio_pid" 2>/dev/null && { kill -9 "$fio_pid"; pkill -9 -x fio; fail "fio still running 60 s after tgtd was killed"; }
wait "$fio_pid"
fio_rc=$?
cp "$state/write.json" "$state/write.out" "$E2E_LOG/" 2>/dev/null
[[ -s $state/write.json ]] || fail "fio wrote no JSON report (write.out)"
w_ios=$(json_num "$state/write.json" write total_ios)   # issued, including the failed one
w_done=$(( $(json_num "$state/write.json" write io_bytes) / 4096 ))   # completed
w_err=$(awk '$1 == "\"error\"" {v = $3; sub(/,$/, "", v); print v; exit}' "$state/write.json")
step "fio stopped $((SECONDS - t_kill)) s after the kill: exit $fio_rc, error $w_err, $w_ios writes issued, $w_done completed"
(( fio_rc != 0 && w_err != 0 )) ||
  fail "fio did not report the lost target (exit $fio_rc, error $w_err): it was not stopped by the crash"
(( w_done >= kill_after / 2 && w_done < region / 4096 && w_ios >= w_done )) ||
  fail "fio reports $w_done of $w_ios writes completed: expected between $((kill_after / 2)) and $((region / 4096))"
ls "$state"/*verify.state >/dev/null 2>&1 || fail "fio saved no verify state ($state)"

step "log out, restart tgtd on the same pool, log in again"
iscsiadm -m node -T "$iqn" -p "$E2E_TARGET_IP:$E2E_ISCSI_PORT" --logout >> "$E2E_LOG/commands.log" 2>&1
iscsiadm -m session 2>/dev/null | grep -q " $iqn\$" && fail "session to $iqn survived the logout"
tgtd_start
iser_export 1 "$iqn" "$pool"
iser_login "$iqn"

step "fio --verify_only with the saved state on $DEV"
(cd "$state" && fio_job "$DEV" --verify_only=1 --verify_state_load=1 \
                        --output="$state/verify.json" > "$state/verify.out" 2>&1)
v_rc=$?
cp "$state/verify.json" "$state/verify.out" "$E2E_LOG/" 2>/dev/null
v_ios=$(json_num "$state/verify.json" read total_ios)
v_err=$(awk '$1 == "\"error\"" {v = $3; sub(/,$/, "", v); print v; exit}' "$state/verify.json")
step "fio verify: exit $v_rc, error ${v_err:-?}, ${v_ios:-?} blocks read and checked"
(( v_rc == 0 )) && [[ $v_err == 0 ]] ||
  fail "fio verify failed after the tgtd crash (exit $v_rc, error ${v_err:-none}): $(grep -m1 -i 'verify\|bad\|fio:' "$state/verify.out")"
# fio verifies in issue order and stops at the first write that was still in flight; with
# one write at a time, that is exactly the writes it saw complete.
(( v_ios == w_done )) || fail "fio verified $v_ios blocks, but $w_done writes had completed"
iser_logout "$iqn"
tgtd_kill9

summary "bstype $E2E_BSTYPE: tgtd SIGKILLed during fio ($w_done of $((region / 4096)) writes completed, fsync each); fio stopped with error $w_err; after restart+login fio verified all $v_ios completed writes (crc32c), none lost"
