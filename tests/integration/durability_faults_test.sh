#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Durability end to end through the real tgtd (issue 13): plain files on a disk file system
# (the msync method), tgtd's msync(2) and fdatasync(2) recorded and failed on demand by an
# LD_PRELOAD library (flush_faults.c), libiscsi (pattern_io) as the initiator. Shown:
#  - an initiator's MODE SELECT turning WCE off flushes what the cache held before it completes
#    (and the cached writes before it were not flushed: the flush is the MODE SELECT's);
#  - deleting a LUN flushes its write cache;
#  - after an injected EIO, no later SYNCHRONIZE CACHE answers GOOD, nothing is flushed again,
#    tgtd says so once, and re-opening the LUN in place (online=0, path=, online=1) clears it;
#  - a write-through write over a failed flush is not acknowledged, nor is any after it;
#  - an atomic LUN never returns another LBA's data across an injected failure and a SIGKILL
#    and restart of tgtd, and takes writes again after it.
# Each check names the bug it catches. Ports 9107 (control) and 3367 (iSCSI).
# Usage: durability_faults_test.sh PATTERN_IO MODULE_DIR FLUSH_FAULTS_SO
set -uo pipefail
PATTERN_IO=$1 MODULE_DIR=$2 FAULTS_SO=$(readlink -f "$3")
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"
source "$(dirname "$0")/../lib/workdir.sh"

CTL=9107 PORT=3367 IQN=iqn.2026-11.org.tgt-pmem:durability-faults
work_dir WORK tgtpmem-faults
LOG=$WORK/tgtd.log FAULTS=$WORK/faults CALLS=$WORK/faults/calls
URL=iscsi://127.0.0.1:$PORT/$IQN
mkdir -p "$FAULTS"
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; rm -rf "$WORK"; }
trap cleanup EXIT

start() {
  export TGTPMEM_FAULTS=$FAULTS LD_PRELOAD=$FAULTS_SO
  tgtd_start "$MODULE_DIR" $CTL $PORT "$LOG" || { echo "tgtd did not start"; tail -n 20 "$LOG"; exit 1; }
  unset TGTPMEM_FAULTS LD_PRELOAD
  tgt_new_target 1 $IQN && tgt_allow_all 1
}
mark() { echo "mark $1" >>"$CALLS"; }
# The system calls tgtd made between two marks.
between() { sed -n "/^mark $1\$/,/^mark $2\$/p" "$CALLS" | grep -v '^mark'; }
lun() {  # lun N FILE [BSOPTS]
  truncate -s 64M "$WORK/$2"
  tgt_new_lun 1 "$1" pmem "$WORK/$2" "${3:-}" || { fail "LUN $1 ($2) was refused"; return 1; }
}
expect() {  # expect WHAT WANT pattern_io args...
  local what=$1 want=$2 got
  shift 2
  got=$("$PATTERN_IO" "$@" 2>&1)
  if [[ $got == "$want" ]]; then pass "$what: $got"; else fail "$what: got '$got', want '$want'"; fi
}
WRITE_ERROR="CHECK key=0x3 asc=0x0c00 info=-"

start

# --- MODE SELECT WCE=0 flushes what the cache held (bug: nothing ran when WCE went 1 -> 0) ----
lun 1 wce.img "write_cache=on"
mark wce-begin
"$PATTERN_IO" write "$URL/1" 0 256 11 || fail "cached writes to LUN 1"
"$PATTERN_IO" write "$URL/1" 60000 64 12 || fail "cached writes to LUN 1"
mark wce-written
expect "MODE SELECT WCE=0" GOOD set-wce "$URL/1" 0
mark wce-off
if [[ -z $(between wce-begin wce-written | grep '^msync') ]]; then
  pass "writes with the cache on were acknowledged without msync (cached)"
else
  fail "writes with the cache on were msynced: the test cannot tell what MODE SELECT did"
fi
n=$(between wce-written wce-off | grep -c '^msync [0-9]*$')
((n >= 1)) && pass "MODE SELECT WCE=0 msynced the cached writes before it completed ($n msync)" ||
  fail "MODE SELECT WCE=0 completed without flushing the cache"
expect "the caching page now says" 0 wce "$URL/1"

# --- deleting a LUN flushes its cache (bug: the mapping went with the cache unflushed) -------
lun 2 delete.img "write_cache=on"
"$PATTERN_IO" write "$URL/2" 100 128 21 || fail "cached writes to LUN 2"
mark delete-begin
tgtadm_c --mode logicalunit --op delete --tid 1 --lun 2 || fail "deleting LUN 2"
mark delete-end
n=$(between delete-begin delete-end | grep -c '^msync [0-9]*$')
((n >= 1)) && pass "deleting a LUN msynced its write cache ($n msync)" ||
  fail "deleting a LUN did not flush its write cache"

# --- a flush error is latched (bug: the ranges were put back, the retry "succeeded") ---------
lun 3 latch.img "write_cache=on"
"$PATTERN_IO" write "$URL/3" 0 64 31 || fail "cached writes to LUN 3"
touch "$FAULTS/fail-next"
mark latch-begin
expect "SYNCHRONIZE CACHE whose msync fails" "$WRITE_ERROR" sense sync "$URL/3" 0 0
"$PATTERN_IO" write "$URL/3" 64 64 32 && pass "a cached write after the failure is still taken" ||
  fail "a cached write after the failure"
expect "the next SYNCHRONIZE CACHE (Linux would let msync succeed now)" "$WRITE_ERROR" \
  sense sync "$URL/3" 0 0
expect "a FUA write after the failure" "$WRITE_ERROR" sense write-fua "$URL/3" 200 1
mark latch-end
calls=$(between latch-begin latch-end)
if [[ $(grep -c 'EIO' <<<"$calls") == 1 && $(grep -vc 'EIO' <<<"$calls") == 0 ]]; then
  pass "after the failed msync nothing was flushed again (no retry)"
else
  fail "calls after the failure: $(tr '\n' ';' <<<"$calls")"
fi
[[ $(grep -c "latch.img: flush failed" "$LOG") == 1 ]] &&
  pass "tgtd logged the flush failure once, with what it means" ||
  fail "tgtd logged the flush failure $(grep -c 'latch.img: flush failed' "$LOG") times"
# The administrator's way out, documented in bs_pmem(8): re-open the LUN in place.
tgtadm_c --mode logicalunit --op update --tid 1 --lun 3 --params online=0 &&
  tgtadm_c --mode logicalunit --op update --tid 1 --lun 3 --params "path=$WORK/latch.img" &&
  tgtadm_c --mode logicalunit --op update --tid 1 --lun 3 --params online=1 ||
  fail "re-opening LUN 3 in place"
expect "SYNCHRONIZE CACHE after re-opening the LUN" GOOD sense sync "$URL/3" 0 0

# --- write-through: a write over a failed flush is not acknowledged --------------------------
lun 4 wt.img
touch "$FAULTS/fail-next"
expect "write-through WRITE whose msync fails" "$WRITE_ERROR" sense write "$URL/4" 10 8
expect "the next write-through WRITE" "$WRITE_ERROR" sense write "$URL/4" 20 8

# --- atomic layout: failure, SIGKILL, restart; never another LBA's data ----------------------
# (bug: a transaction failing after its commit point left its new block in the lane's free
# list, and the next write in that lane overwrote the failed LBA with another LBA's data).
# The failure is put at several calls of one 64-block write (pattern_io's unit): its data,
# its log entry, its map and free-list updates, whichever phase each lands in.
lun 5 atomic.img "layout=atomic"
"$PATTERN_IO" write "$URL/5" 0 256 51 || fail "first pattern on LUN 5"
gen=60 lost=0
for n in 1 2 63 64 65 66 67 68 69; do
  gen=$((gen + 1))
  echo "$n" >"$FAULTS/fail-next"
  if "$PATTERN_IO" write "$URL/5" 64 64 $gen >/dev/null 2>&1; then
    rm -f "$FAULTS/fail-next"  # the write needed fewer calls: nothing failed
    printf 'A 64 64 %s\n' $gen >>"$WORK/atomic.log"
  else
    printf 'P 64 64 %s\n' $gen >>"$WORK/atomic.log"
    # Another LBA's write right after, in the same lane: it must fail too (latched).
    printf 'P 200 8 %s\n' $((gen + 100)) >>"$WORK/atomic.log"
    "$PATTERN_IO" write "$URL/5" 200 8 $((gen + 100)) >/dev/null 2>&1 &&
      { fail "atomic layout, call $n failed: a later write was acknowledged"; lost=1; }
  fi
  tgtd_kill9
  start
  tgt_new_lun 1 5 pmem "$WORK/atomic.img" "layout=atomic" ||
    { fail "atomic layout, call $n failed: the LUN does not open again"; lost=1; continue; }
  # Blocks 0-63 and 128-255 acknowledged 51; 64-127 the last acknowledged generation, or any
  # failed one after it; 200-207 possibly a write that failed too. Nothing else.
  { printf 'A 0 256 51\n'; cat "$WORK/atomic.log"; } >"$WORK/atomic.check"
  "$PATTERN_IO" check "$URL/5" "$WORK/atomic.check" >/dev/null 2>"$WORK/check.err" ||
    { fail "atomic layout, call $n failed: $(cat "$WORK/check.err")"; lost=1; }
done
((lost == 0)) && pass "atomic layout: a failure at each of 9 calls of a write, then SIGKILL and restart: every block holds its own data, old or new"
"$PATTERN_IO" write "$URL/5" 0 256 99 && "$PATTERN_IO" verify "$URL/5" 0 256 99 &&
  pass "atomic layout: writes work again once re-opened" || fail "atomic layout: writes after re-opening"

echo "$passes passed, $failures failed"
exit $((failures > 0))
