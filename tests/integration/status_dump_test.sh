#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# tgtpmem-admin status and dump against the real tgtd with bs_pmem (issue 15, items 2 and 5).
# libiscsi (pattern_io) is the initiator; flush_faults.so (LD_PRELOAD) fails tgtd's msync on
# demand; a backing file truncated under a LUN makes real media errors (SIGBUS).
# Each check names the bug it catches:
#  - status: a LUN missing, or a field that does not follow the LUN (bsopts, block size,
#    layout, UUID, write cache after an initiator's MODE SELECT, counters after I/O, media
#    errors and bad ranges after a truncation, a latched flush error) - an administrator
#    would be told a stale or false story; the exit status not saying a LUN needs attention;
#    files of a SIGKILLed tgtd taken as live;
#  - dump: re-applying it with tgt-admin must give back every LUN as it was (bs-type, LUN
#    number, block size, bsopts, layout and UUID); the same round trip through tgt-admin
#    --dump is shown to lose them, so the comparison can tell; a pmem LUN it cannot describe
#    makes it refuse rather than write a lossy file.
# Ports 9115 (control) and 3375 (iSCSI).
# Usage: status_dump_test.sh TGTPMEM_ADMIN PATTERN_IO MODULE_DIR FLUSH_FAULTS_SO
set -uo pipefail
ADMIN=$1 PATTERN_IO=$2 MODULE_DIR=$3 FAULTS_SO=$(readlink -f "$4")
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
command -v tgt-admin >/dev/null || { echo "tgt-admin is not installed"; exit 77; }
command -v jq >/dev/null || { echo "jq is not installed"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"
source "$(dirname "$0")/../lib/workdir.sh"
CTL=9115 PORT=3375
IQN1=iqn.2026-12.org.tgt-pmem:status-one IQN2=iqn.2026-12.org.tgt-pmem:status-two
URL1=iscsi://127.0.0.1:$PORT/$IQN1 URL2=iscsi://127.0.0.1:$PORT/$IQN2
work_dir W tgtpmem-status
LOG=$W/tgtd.log FAULTS=$W/faults
mkdir -p "$FAULTS"
export TGTPMEM_RUN_DIR=$W/run
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; [[ -n ${KEEP:-} ]] || rm -rf "$W"; }
trap cleanup EXIT

start() {
  export TGTPMEM_FAULTS=$FAULTS LD_PRELOAD=$FAULTS_SO
  tgtd_start "$MODULE_DIR" $CTL $PORT "$LOG" || { echo "tgtd did not start"; tail -n 20 "$LOG"; exit 1; }
  unset TGTPMEM_FAULTS LD_PRELOAD
}
status_json() { "$ADMIN" status -C $CTL --json; }
# field TID LUN JQ-PATH: one field of one LUN in status --json.
field() { status_json | jq -c --argjson t "$1" --argjson l "$2" ".luns[] | select(.tid == \$t and .lun == \$l) | $3"; }
# wait_field TID LUN JQ-PATH WANT: the file is refreshed every second; give it three.
wait_field() {
  local i got
  for i in $(seq 1 30); do
    got=$(field "$1" "$2" "$3")
    [[ $got == "$4" ]] && { echo "$got"; return 0; }
    sleep 0.1
  done
  echo "$got"
  return 1
}
check_field() {  # check_field WHAT TID LUN JQ-PATH WANT
  local got
  if got=$(wait_field "$2" "$3" "$4" "$5"); then pass "$1: $4 = $got"; else fail "$1: $4 = '$got', want '$5'"; fi
}

"$ADMIN" create "$W/raw4k.img" --size 64m --block-size 4096 >/dev/null
"$ADMIN" create "$W/atomic.img" --size 64m --block-size 4096 --layout atomic >/dev/null
truncate -s 64m "$W/raw512.img" "$W/rdwr.img" "$W/bad.img"
want_uuid=$("$ADMIN" check "$W/atomic.img" | sed -n 's/.*UUID \([0-9a-f]*\).*/\1/p')

start
tgt_new_target 1 $IQN1 && tgt_allow_all 1 && tgt_new_target 2 $IQN2 && tgt_allow_all 2 ||
  { fail "targets"; exit 1; }
tgt_new_lun 1 1 pmem "$W/raw4k.img" "block_size=4096;write_cache=on" &&
  tgt_new_lun 1 2 rdwr "$W/rdwr.img" &&
  tgt_new_lun 1 5 pmem "$W/atomic.img" "layout=atomic;block_size=4096;exec=threads;threads=2" &&
  tgt_new_lun 2 3 pmem "$W/raw512.img" &&
  tgt_new_lun 2 4 pmem "$W/bad.img" "exec=threads;threads=2" || { fail "LUNs"; exit 1; }

# --- status: every pmem LUN, as configured --------------------------------------------------
n=$(status_json | jq '.luns | length')
[[ $n == 4 ]] && pass "status lists the 4 pmem LUNs (not the rdwr one)" || fail "status lists $n LUNs, want 4"
check_field "raw 4k LUN" 1 1 '[.target, .path, .bsopts, .block_size, .layout, .write_cache, .exec]' \
  "[\"$IQN1\",\"$W/raw4k.img\",\"block_size=4096;write_cache=on\",4096,\"raw\",true,\"auto\"]"
uuid=$(field 1 5 .uuid | tr -d '"')
[[ -n $uuid && $uuid == "$want_uuid" ]] && pass "atomic LUN: the UUID of its header ($uuid)" ||
  fail "atomic LUN: uuid '$uuid', header says '$want_uuid'"
check_field "atomic LUN" 1 5 '[.layout, .block_size, .exec, .max_atomic_blocks > 0, .serial == .uuid]' \
  '["atomic",4096,"threads",true,true]'
check_field "plain file" 2 3 '[.medium, .durability, .block_size, .write_cache]' '["file","msync",512,false]'
"$ADMIN" status -C $CTL >"$W/status.txt"; rc=$?
[[ $rc == 0 ]] && grep -q "4 pmem LUN(s), 0 needing attention" "$W/status.txt" &&
  pass "status: exit 0, nothing needs attention" || fail "status exit $rc: $(tail -n1 "$W/status.txt")"

# --- counters follow I/O; the write cache follows the initiator's MODE SELECT ------------------
before=$(field 2 3 .counters.commands)
"$PATTERN_IO" write "$URL2/3" 0 2048 7 && "$PATTERN_IO" verify "$URL2/3" 0 2048 7 || fail "I/O to LUN 2/3"
after=$(wait_field 2 3 '.counters.commands > '"$before"' + 1' true) &&
  pass "commands counted ($before -> $(field 2 3 .counters.commands))" || fail "commands not counted ($before)"
"$PATTERN_IO" set-wce "$URL1/1" 0 || fail "MODE SELECT WCE=0"
check_field "after MODE SELECT WCE=0" 1 1 .write_cache false

# --- media errors: the file shrinks under LUN 2/4 ---------------------------------------------
"$PATTERN_IO" write "$URL2/4" 0 4096 9 || fail "writing LUN 2/4"
truncate -s 1m "$W/bad.img"
got=$("$PATTERN_IO" sense read "$URL2/4" 4000 8 2>&1)
[[ $got == "CHECK key=0x3 asc=0x1100"* ]] && pass "READ past the cut: $got" || fail "READ past the cut: $got"
check_field "after a media error" 2 4 '[.counters.media_errors, .counters.failed_commands, .bad_ranges_total > 0, .bad_ranges[0].origin]' \
  '[1,1,true,"learnt"]'
truncate -s 64m "$W/bad.img"
"$PATTERN_IO" write "$URL2/4" 0 16384 10 || fail "rewriting LUN 2/4 whole"
check_field "after the whole LUN was rewritten" 2 4 '[.bad_ranges_total, .counters.bad_ranges_cleared > 0]' '[0,true]'

# --- a latched flush error: status says so and exits 1 ----------------------------------------
touch "$FAULTS/fail-next"
got=$("$PATTERN_IO" sense write "$URL2/3" 0 8 2>&1)
[[ $got == "CHECK key=0x3 asc=0x0c00"* ]] && pass "write-through WRITE over an injected EIO: $got" || fail "write: $got"
check_field "after the failed flush" 2 3 '[.flush_error.errno, .counters.flush_failures]' '[5,1]'
"$ADMIN" status -C $CTL >"$W/status.txt"; rc=$?
[[ $rc == 1 ]] && grep -q "ATTENTION: flush error latched" "$W/status.txt" &&
  pass "status: exit 1, the latched flush error named" || fail "status exit $rc after a flush error"
# Re-open in place (documented remedy): the latch clears, and so does the status.
tgtadm_c --mode logicalunit --op update --tid 2 --lun 3 --params online=0 &&
  tgtadm_c --mode logicalunit --op update --tid 2 --lun 3 --params "path=$W/raw512.img" &&
  tgtadm_c --mode logicalunit --op update --tid 2 --lun 3 --params online=1 || fail "reopen LUN 2/3"
check_field "after re-opening LUN 2/3" 2 3 '[.flush_error, .online]' '[null,true]'

# --- dump: a round trip through tgt-admin gives back every LUN -----------------------------
# summary: what must survive, one line per LUN (tgtadm's view, plus status for pmem LUNs).
summary() {
  tgtadm_c --mode target --op show | awk '
    /^Target [0-9]+:/ { t = $3 }
    /^ +LUN: / { l = $2 }
    /Block size: / { s = $0; sub(/.*Block size: /, "", s); bs = s + 0 }
    /Backing store type: / { ty = $4 }
    /Backing store path: / { if (l != 0) print t, l, ty, $4, bs }' | sort
  status_json | jq -r '.luns[] | "\(.target) \(.lun) \(.bsopts) \(.layout) \(.uuid)"' | sort
}
summary >"$W/before.txt"
"$ADMIN" dump -C $CTL >"$W/dump.conf"; rc=$?
[[ $rc == 0 ]] && pass "dump: exit 0" || fail "dump: exit $rc"
"$ADMIN" check-config "$W/dump.conf" >"$W/cc.txt"; rc=$?
[[ $rc == 0 ]] && pass "check-config passes the dump" || { fail "check-config on the dump: exit $rc"; cat "$W/cc.txt"; }
tgt-admin -C $CTL --dump >"$W/tgt-admin-dump.conf"
reapply() {  # reapply FILE: every target deleted, then the file applied with tgt-admin
  tgt-admin -C $CTL --delete ALL --force >/dev/null 2>&1
  tgtadm_c --mode target --op show | grep -q '^Target' && { fail "targets left after delete"; return 1; }
  tgt-admin -C $CTL -e -c "$1" >"$W/apply.log" 2>&1
}
reapply "$W/tgt-admin-dump.conf"
summary >"$W/after-tgt-admin.txt"
if diff -u "$W/before.txt" "$W/after-tgt-admin.txt" >"$W/diff-tgt-admin.txt"; then
  fail "tgt-admin --dump's round trip kept everything: the comparison cannot tell"
else
  pass "control: tgt-admin --dump loses pmem LUNs ($(grep -c '^-[^-]' "$W/diff-tgt-admin.txt") line(s) differ)"
fi
reapply "$W/dump.conf" || { fail "tgt-admin -e of the dump: $(cat "$W/apply.log")"; }
summary >"$W/after.txt"
if diff -u "$W/before.txt" "$W/after.txt"; then
  pass "tgtpmem-admin dump's round trip gives back every LUN ($(wc -l <"$W/before.txt") lines)"
else
  fail "tgtpmem-admin dump's round trip changed LUNs"
fi
# A pmem LUN it cannot describe (its status file gone): refuse, write nothing.
rm -f "$TGTPMEM_RUN_DIR/tgtd.$CTL/lun.1.1.json"; [[ -n ${KEEP:-} ]] && cp -a "$TGTPMEM_RUN_DIR" "$W/run-copy"
"$ADMIN" dump -C $CTL >"$W/dump2.conf" 2>"$W/dump2.err"; rc=$?; cat "$W/dump2.err"
[[ $rc == 1 && ! -s $W/dump2.conf ]] && grep -q "without a status file" "$W/dump2.err" &&
  pass "dump refuses (exit 1, nothing written) without a LUN's status file" ||
  fail "dump with a status file missing: exit $rc, $(wc -c <"$W/dump2.conf") bytes"

# --- a SIGKILLed tgtd: its files are not taken as live; the next tgtd sweeps them -------------
tgtd_kill9
"$ADMIN" status -C $CTL >"$W/status.txt" 2>"$W/status.err"; rc=$?
[[ $rc == 0 ]] && grep -q "no pmem LUN is open" "$W/status.txt" && grep -q "left by a tgtd that is gone" "$W/status.err" &&
  pass "after SIGKILL: no live LUN, stale files named" || fail "after SIGKILL: exit $rc, $(cat "$W/status.txt")"
start
tgt_new_target 1 $IQN1 && tgt_new_lun 1 7 pmem "$W/raw512.img" || fail "LUN after restart"
files=$(cd "$TGTPMEM_RUN_DIR/tgtd.$CTL" && echo lun.*.json)
[[ $files == "lun.1.7.json" ]] && pass "the new tgtd swept its predecessor's files" || fail "files after restart: $files"
tgtadm_c --mode logicalunit --op delete --tid 1 --lun 7
files=$(cd "$TGTPMEM_RUN_DIR/tgtd.$CTL" && ls lun.*.json 2>/dev/null)
[[ -z $files ]] && pass "deleting the LUN removes its status file" || fail "files after delete: $files"

echo "$passes passed, $failures failed"
exit $((failures > 0))
