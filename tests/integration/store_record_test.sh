#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The raw layout's store records through the real tgtd (issue 15, item 2; bs_pmem(8), STORE
# RECORDS). Bugs it catches: a raw LUN brought back with another block size than it was
# served with (the initiator's partition table and file systems are read at the wrong
# offsets: a silent corruption of what it then writes), and the refusal standing in the way
# of what an administrator does on purpose (tgtpmem-admin forget / create, a re-created file).
# Ports 9116 (control) and 3376 (iSCSI).
# Usage: store_record_test.sh TGTPMEM_ADMIN MODULE_DIR
set -uo pipefail
ADMIN=$1 MODULE_DIR=$2
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"
source "$(dirname "$0")/../lib/workdir.sh"
CTL=9116 PORT=3376 IQN=iqn.2026-12.org.tgt-pmem:store-record
work_dir W tgtpmem-store-record
LOG=$W/tgtd.log
export TGTPMEM_STATE_DIR=$W/stores
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; [[ -n ${KEEP:-} ]] || rm -rf "$W"; }
trap cleanup EXIT

tgtd_start "$MODULE_DIR" $CTL $PORT "$LOG" || { echo "tgtd did not start"; exit 1; }
tgt_new_target 1 $IQN || { fail "target"; exit 1; }
truncate -s 64m "$W/raw.img"
ln -s "$W/raw.img" "$W/alias.img"
# lun BS [PATH]: LUN 1 with that block size; 0 if tgtd took it. The LUN is deleted again.
lun() {
  local rc
  tgt_new_lun 1 1 pmem "${2:-$W/raw.img}" "block_size=$1" 2>/dev/null; rc=$?
  ((rc == 0)) && tgtadm_c --mode logicalunit --op delete --tid 1 --lun 1
  return $rc
}
lun 512 && pass "a new raw store is served (512-byte blocks)" || fail "a new raw store was refused"
ls "$TGTPMEM_STATE_DIR"/*.json >/dev/null 2>&1 && pass "its record is in TGTPMEM_STATE_DIR" || fail "no record"
lun 512 && pass "again with 512-byte blocks" || fail "the same block size was refused"
if lun 4096; then
  fail "the same store with 4096-byte blocks was served"
else
  grep -q "refused: $W/raw.img was served with 512-byte blocks" "$LOG" &&
    pass "4096-byte blocks refused, the log says why" || fail "refused without the reason in the log"
fi
lun 4096 "$W/alias.img" && fail "through a symlink, 4096-byte blocks were served" ||
  pass "through a symlink too"
# check-config predicts it, changing nothing.
conf() { printf '<target %s>\n  <backing-store %s>\n    bs-type pmem\n    bsopts block_size=%s\n  </backing-store>\n</target>\n' "$IQN" "$W/raw.img" "$1" >"$W/t.conf"; }
conf 4096
"$ADMIN" check-config "$W/t.conf" >"$W/cc.txt"; rc=$?
[[ $rc == 1 ]] && grep -q "failed: record: bs_pmem refuses it: $W/raw.img was served with 512-byte blocks" "$W/cc.txt" &&
  pass "check-config: 4096 fails on the record" || fail "check-config with 4096: exit $rc: $(cat "$W/cc.txt")"
conf 512
"$ADMIN" check-config "$W/t.conf" >"$W/cc.txt"; rc=$?
[[ $rc == 0 ]] && pass "check-config: 512 passes" || fail "check-config with 512: exit $rc: $(cat "$W/cc.txt")"
"$ADMIN" forget "$W/raw.img" | grep -q "^forgot $W/raw.img" && pass "tgtpmem-admin forget" ||
  fail "tgtpmem-admin forget"
lun 4096 && pass "after forget, 4096-byte blocks are served" || fail "refused after forget"
lun 512 && fail "then 512 was served" || pass "and then 512 is refused"
"$ADMIN" create "$W/raw.img" --force --block-size 512 >/dev/null || fail "tgtpmem-admin create --force"
lun 512 && pass "tgtpmem-admin create forgets the old record" || fail "refused after create"
rm -f "$W/raw.img" && truncate -s 64m "$W/other.img" "$W/raw.img"
lun 4096 && grep -q "is another store than the one recorded for it" "$LOG" &&
  pass "a re-created file is a new store (said in the log)" || fail "a re-created file was refused or not said"
kill -0 "$TGTD_PID" 2>/dev/null && pass "tgtd is still running" || fail "tgtd died"
echo "$passes passed, $failures failed"
exit $((failures > 0))
