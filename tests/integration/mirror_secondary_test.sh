#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A mirror secondary through the real tgtd (issue 16; bs_pmem(8), MIRRORING): a LUN whose
# mirror metadata (bsopts mirror_meta=, made by tgtpmem-admin mirror-format) says it is a
# secondary. Bugs it catches:
#  - an initiator writing to a secondary (its blocks are its primary's: a write there is
#    lost at the next resync, or worse, read back by whoever fails over to it): every command
#    that changes blocks must fail with DATA PROTECT, WRITE PROTECTED, and change nothing;
#  - the metadata of another LUN (another size) taken, a blank or missing store taken, a
#    primary's store served without its secondary (mirror=): each refused, saying why;
#  - the status file not saying the LUN is a secondary.
# Push mode (how the primary writes to it) needs RDMA: its MIRROR_STATE is tested on the fake
# verbs (tests/unit/push_service), the data path in the guest when it exists.
# Ports 9123 (control) and 3383 (iSCSI).
# Usage: mirror_secondary_test.sh TGTPMEM_ADMIN PATTERN_IO MODULE_DIR
set -uo pipefail
ADMIN=$1 PIO=$2 MODULE_DIR=$3
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
command -v jq >/dev/null || { echo "needs jq"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"
source "$(dirname "$0")/../lib/workdir.sh"
CTL=9123 PORT=3383 IQN=iqn.2026-12.org.tgt-pmem:mirror-secondary
work_dir W tgtpmem-mirror-secondary
LOG=$W/tgtd.log
export TGTPMEM_STATE_DIR=$W/stores TGTPMEM_RUN_DIR=$W/run
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; [[ -n ${KEEP:-} ]] || rm -rf "$W"; }
trap cleanup EXIT
url() { echo "iscsi://127.0.0.1:$PORT/$IQN/$1"; }

truncate -s 64m "$W/lun.img"
"$ADMIN" mirror-format "$W/sec.meta" --role secondary --lun-size 64m >/dev/null &&
  pass "mirror-format makes a secondary's store" || fail "mirror-format"
"$ADMIN" mirror-format "$W/pri.meta" --role primary --lun-size 64m >/dev/null || fail "mirror-format primary"
"$ADMIN" mirror-format "$W/other.meta" --role secondary --lun-size 32m >/dev/null || fail "mirror-format 32m"
truncate -s 12k "$W/blank.meta"

tgtd_start "$MODULE_DIR" $CTL $PORT "$LOG" || { echo "tgtd did not start"; exit 1; }
tgt_new_target 1 $IQN && tgt_allow_all 1 || { fail "target"; exit 1; }

# refused LUN META MESSAGE: LUN not served, and the log says MESSAGE.
refused() {
  if tgt_new_lun 1 "$1" pmem "$W/lun.img" "mirror_meta=$2;durability=emulated" 2>/dev/null; then
    fail "LUN with $2 was served"
    tgtadm_c --mode logicalunit --op delete --tid 1 --lun "$1"
  elif grep -q -- "$3" "$LOG"; then
    pass "refused: $(basename "$2"), the log says: $3"
  else
    fail "refused without '$3' in the log"
  fi
}
refused 2 "$W/other.meta" "formatted for a LUN of 33554432 bytes, this LUN has 67108864"
refused 2 "$W/blank.meta" "blank: not a mirror metadata store yet"
refused 2 "$W/missing.meta" "no such file (tgtpmem-admin mirror-format makes one)"
refused 2 "$W/pri.meta" "the store says this LUN is a mirror primary: name its secondary with mirror="

# Data written before the LUN became a secondary: it must be what reads return afterwards.
tgt_new_lun 1 1 pmem "$W/lun.img" "durability=emulated" || fail "plain LUN"
"$PIO" write "$(url 1)" 0 64 11 >/dev/null || fail "pattern write"
tgtadm_c --mode logicalunit --op delete --tid 1 --lun 1
cp "$W/lun.img" "$W/before.img"

if tgt_new_lun 1 1 pmem "$W/lun.img" "mirror_meta=$W/sec.meta;durability=emulated"; then
  pass "a secondary is served"
else
  fail "the secondary was refused: $(tail -3 "$LOG")"; echo "$passes passed, $failures failed"; exit 1
fi
grep -q "mirror secondary, generation 0000000000000000: SCSI writes refused (DATA PROTECT); push=off" "$LOG" &&
  pass "the log says it is a secondary" || fail "no log line for the secondary"
for op in write write-fua; do
  r=$("$PIO" sense $op "$(url 1)" 8 8)
  [[ $r == "CHECK key=0x7 asc=0x2700"* ]] && pass "$op: DATA PROTECT, WRITE PROTECTED" ||
    fail "$op answered: $r"
done
r=$("$PIO" sense read "$(url 1)" 0 8)
[[ $r == GOOD ]] && pass "reads are served" || fail "read answered: $r"
r=$("$PIO" sense sync "$(url 1)" 0 8)
[[ $r == GOOD ]] && pass "SYNCHRONIZE CACHE is not a write" || fail "sync answered: $r"
"$PIO" verify "$(url 1)" 0 64 11 >/dev/null && pass "the data reads as it was" || fail "data changed"
cmp -s "$W/lun.img" "$W/before.img" && pass "not one byte of the store changed" ||
  fail "the store changed under refused writes"
f=$TGTPMEM_RUN_DIR/tgtd.$CTL/lun.1.1.json
for i in $(seq 1 30); do [[ -s $f ]] && jq -e .mirror "$f" >/dev/null 2>&1 && break; sleep 0.2; done
[[ $(jq -r '.mirror.role' "$f" 2>/dev/null) == secondary && $(jq -r '.mirror.meta' "$f") == "$W/sec.meta" ]] &&
  pass "the status file: mirror role secondary, its store" || fail "status file: $(jq -c .mirror "$f" 2>&1)"
TGTPMEM_RUN_DIR=$TGTPMEM_RUN_DIR "$ADMIN" status -C $CTL | grep -q "mirror: secondary ($W/sec.meta), generation 0000000000000000, 0 region(s) marked" &&
  pass "tgtpmem-admin status shows the mirror role" || fail "status: $("$ADMIN" status -C $CTL 2>&1 | grep -i mirror)"
"$ADMIN" mirror-status "$W/sec.meta" --json | jq -e '.role == "secondary" and .regions == 64' >/dev/null &&
  pass "tgtpmem-admin mirror-status" || fail "mirror-status"
# check-config predicts each of them, changing nothing.
conf() {
  printf '<target %s>\n  <backing-store %s>\n    bs-type pmem\n    bsopts '"'"'mirror_meta=%s;durability=emulated'"'"'\n  </backing-store>\n</target>\n' \
    "$IQN" "$W/lun.img" "$1" >"$W/t.conf"
}
for case in "sec.meta:0:ok (block size 512, layout raw" \
            "other.meta:1:failed: mirror: bs_pmem refuses it: mirror_meta=$W/other.meta: formatted for a LUN of 33554432" \
            "pri.meta:1:failed: mirror: bs_pmem refuses it: mirror_meta=$W/pri.meta: the store says this LUN is a mirror primary"; do
  meta=${case%%:*} rest=${case#*:} want_rc=${rest%%:*} want=${rest#*:}
  conf "$W/$meta"
  "$ADMIN" check-config "$W/t.conf" >"$W/cc.txt" 2>&1; rc=$?
  [[ $rc == "$want_rc" ]] && grep -qF -- "$want" "$W/cc.txt" && pass "check-config: $meta" ||
    fail "check-config $meta: exit $rc: $(grep -i mirror "$W/cc.txt")"
done
conf "$W/sec.meta"
"$ADMIN" check-config --json "$W/t.conf" | jq -e '[.. | objects | select(.name? == "mirror")][0] |
  .result == "ok" and (.detail | startswith("secondary (current=0000000000000000"))' >/dev/null &&
  pass "check-config --json: the mirror finding of a secondary" ||
  fail "check-config --json: $("$ADMIN" check-config --json "$W/t.conf" | jq -c '[.. | objects | select(.name? == "mirror")]')"
kill -0 "$TGTD_PID" 2>/dev/null && pass "tgtd is still running" || fail "tgtd died"
echo "$passes passed, $failures failed"
exit $((failures > 0))
