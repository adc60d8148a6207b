#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Large commands through the real tgtd (issue 17, item 1; bs_pmem(8), EXECUTION and
# ENVIRONMENT). Bugs it catches:
#  - tgtd's heap not tuned (src/tgtd_heap.h): every 1 MiB command's buffer is fresh memory,
#    one page fault per 4 KiB moved, on tgtd's event loop. Counted in tgtd's minor faults, with
#    glibc's defaults (TGTPMEM_TGTD_HEAP=default) as the control that shows the count can tell;
#  - the administrator's own malloc tuning overridden (GLIBC_TUNABLES);
#  - exec=auto sending large commands to the event loop, or small ones to the workers
#    (status file counter commands_on_workers), and exec=inline/threads not doing what they
#    say;
#  - data mixed up when small inline and large worker commands hit one LUN together
#    (tgtpmem-load --verify from two sessions at once);
#  - READs in place (read_in_place, the default): not taken (counter reads_in_place), taken
#    for writes, data sent from the wrong place (--verify from two sessions at once), tgt's
#    own buffer not given back (tgtd aborts in free()).
# Not a timed test: it counts faults and commands, it does not measure speed.
# Ports 9122 (control) and 3382 (iSCSI).
# Usage: large_io_test.sh LOAD_TOOL MODULE_DIR
set -uo pipefail
LOAD=$1 MODULE_DIR=$2
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"
source "$(dirname "$0")/../lib/workdir.sh"
CTL=9122 PORT=3382 IQN=iqn.2026-12.org.tgt-pmem:large-io
work_dir W tgtpmem-large-io
export TGTPMEM_STATE_DIR=$W/stores TGTPMEM_RUN_DIR=$W/run
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; [[ -n ${KEEP:-} ]] || rm -rf "$W"; }
trap cleanup EXIT
url() { echo "iscsi://127.0.0.1:$PORT/$IQN/$1"; }
minflt() { awk '{print $10}' "/proc/$TGTD_PID/stat"; }

# start_tgtd LOG [VAR=VALUE...]: tgtd with one target, LUN 1 on tgt's null store, LUNs 2-4
# on pmem files with exec auto, inline and threads (read_in_place=off: every READ executes
# where exec says), and LUN 5 with the defaults; each written whole once.
start_tgtd() {
  local log=$1 v rc; shift
  for v in "$@"; do export "${v?}"; done  # for tgtd alone: unset again below
  tgtd_start "$MODULE_DIR" $CTL $PORT "$log"; rc=$?
  for v in "$@"; do unset "${v%%=*}"; done
  ((rc == 0)) || return 1
  tgt_new_target 1 $IQN && tgt_allow_all 1 || return 1
  tgtadm_c --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --bstype null \
    --backing-store /dev/null || return 1
  local n=2 e o
  for e in auto inline threads default; do
    rm -f "$W/$e.img"; truncate -s 256m "$W/$e.img"
    o=durability=emulated
    [[ $e == default ]] || o+=";exec=$e;read_in_place=off"
    tgt_new_lun 1 $n pmem "$W/$e.img" "$o" || return 1
    "$LOAD" -q 8 -b 1m -r 0 -a sequential -n 256 "$(url $n)" >/dev/null || return 1
    n=$((n + 1))
  done
}

# faults_per_mib LUN: tgtd's minor page faults per MiB of 1 MiB random reads at QD 4.
faults_per_mib() {
  "$LOAD" -q 4 -b 1m -r 100 -n 32 "$(url "$1")" >/dev/null || { echo -1; return; }  # warm
  local before after
  before=$(minflt)
  "$LOAD" -q 4 -b 1m -r 100 -n 256 "$(url "$1")" >/dev/null || { echo -1; return; }
  after=$(minflt)
  echo $(((after - before) / 256))
}

# counters LUN [MIN]: "COMMANDS ON_WORKERS IN_PLACE" from the LUN's status file, once it
# counts at least MIN commands (the file is refreshed each second).
counters() {
  local f=$TGTPMEM_RUN_DIR/tgtd.$CTL/lun.1.$1.json i v="-1 -1 -1"
  for i in $(seq 1 50); do
    v=$(jq -r '"\(.counters.commands) \(.counters.commands_on_workers) \(.counters.reads_in_place)"' \
        "$f" 2>/dev/null || echo "-1 -1 -1")
    ((${v%% *} >= ${2:-0})) && break
    sleep 0.1
  done
  echo "$v"
}
# settled LUN: the counters once two refreshes of the file (1 s apart) agree: nothing of an
# earlier run still to be counted.
settled() {
  local a="" b
  b=$(counters "$1")
  until [[ $a == "$b" ]]; do a=$b; sleep 1.1; b=$(counters "$1"); done
  echo "$b"
}

# --- 1. the heap: faults per MiB moved, tuned and with glibc's defaults -------------------
start_tgtd "$W/tuned.log" || { fail "tgtd with its LUNs did not start"; exit 1; }
grep -q "data buffers up to 32 MiB come from its heap" "$W/tuned.log" &&
  pass "bs_pmem says it tuned tgtd's heap" || fail "no heap line in tgtd's log"
tuned_null=$(faults_per_mib 1) tuned_pmem=$(faults_per_mib 2)
tgtd_stop
start_tgtd "$W/default.log" TGTPMEM_TGTD_HEAP=default || { fail "tgtd (glibc defaults)"; exit 1; }
grep -q "thresholds left as they are (TGTPMEM_TGTD_HEAP=default)" "$W/default.log" &&
  pass "TGTPMEM_TGTD_HEAP=default leaves glibc's defaults, and says so" ||
  fail "TGTPMEM_TGTD_HEAP=default not reported"
default_null=$(faults_per_mib 1) default_pmem=$(faults_per_mib 2)
tgtd_stop
echo "note: tgtd minor faults per MiB of 1 MiB reads at QD 4: null $tuned_null, pmem $tuned_pmem" \
     "(tuned); null $default_null, pmem $default_pmem (glibc's defaults; 256 = a fault per 4 KiB)"
# The control first: with glibc's defaults the buffers fault in afresh (else the count below
# could not tell).
((default_pmem >= 128)) && pass "control: glibc's defaults fault $default_pmem times per MiB (pmem)" ||
  fail "control: only $default_pmem faults per MiB with glibc's defaults: the count cannot tell"
((tuned_null >= 0 && tuned_null < 16 && tuned_pmem >= 0 && tuned_pmem < 16)) &&
  pass "tuned heap: $tuned_null (null) and $tuned_pmem (pmem) faults per MiB" ||
  fail "tuned heap still faults: $tuned_null (null), $tuned_pmem (pmem) per MiB"

start_tgtd "$W/tunables.log" GLIBC_TUNABLES=glibc.malloc.trim_threshold=1048576 ||
  { fail "tgtd (GLIBC_TUNABLES)"; exit 1; }
grep -q "thresholds left as they are (GLIBC_TUNABLES sets malloc thresholds)" "$W/tunables.log" &&
  pass "an administrator's GLIBC_TUNABLES is left alone" || fail "GLIBC_TUNABLES overridden"
tgtd_stop

# --- 2. where commands run -------------------------------------------------------------------
start_tgtd "$W/exec.log" || { fail "tgtd did not start"; exit 1; }
declare -A cmds workers
# run N BS: N commands of BS (half reads) on LUNs 2-4; sets moved[LUN] to how many of the
# commands executed meanwhile ran on workers.
declare -A moved
run() {
  local n c w
  for n in 2 3 4; do read -r cmds[$n] workers[$n] _ <<<"$(settled $n)"; done
  for n in 2 3 4; do "$LOAD" -q 4 -b "$2" -r 50 -n "$1" "$(url $n)" >/dev/null; done
  for n in 2 3 4; do
    read -r c w _ <<<"$(counters $n $((cmds[$n] + $1)))"
    moved[$n]=$((w - workers[$n]))
  done
}
run 200 4k
small_auto=${moved[2]} small_inline=${moved[3]} small_threads=${moved[4]}
run 64 1m
large_auto=${moved[2]} large_inline=${moved[3]} large_threads=${moved[4]}
echo "note: commands on workers, 200 x 4 KiB then 64 x 1 MiB: auto $small_auto/$large_auto," \
     "inline $small_inline/$large_inline, threads $small_threads/$large_threads"
((small_auto == 0 && large_auto == 64)) &&
  pass "exec=auto: 4 KiB commands inline, 1 MiB commands on workers" ||
  fail "exec=auto: $small_auto of 200 small and $large_auto of 64 large commands on workers"
((small_inline == 0 && large_inline == 0)) && pass "exec=inline: nothing on workers" ||
  fail "exec=inline: $small_inline small, $large_inline large on workers"
((small_threads == 200 && large_threads == 64)) && pass "exec=threads: everything on workers" ||
  fail "exec=threads: $small_threads of 200 small, $large_threads of 64 large on workers"

# --- 3. small and large commands at once on one exec=auto LUN, verified ----------------------
# verified LUN WHAT: a 4 KiB and a 1 MiB session at once on the LUN (their own regions), every
# READ checked against what the session wrote.
verified() {
  local small small_rc large_rc
  "$LOAD" -q 8 -b 4k -r 50 --verify --size 64m -t 5 "$(url "$1")" >"$W/small$1.out" 2>&1 & small=$!
  "$LOAD" -q 4 -b 1m -r 50 --verify --offset 64m --size 128m -t 5 "$(url "$1")" \
    >"$W/large$1.out" 2>&1
  large_rc=$?
  wait $small; small_rc=$?
  ((small_rc == 0 && large_rc == 0)) &&
    pass "$2: 4 KiB and 1 MiB sessions at once, every read verified" ||
    { fail "$2: verify failed (small $small_rc, large $large_rc)"; cat "$W/small$1.out" "$W/large$1.out"; }
}
verified 2 exec=auto
kill -0 "$TGTD_PID" 2>/dev/null && pass "tgtd still running" || fail "tgtd died"

# --- 4. READs in place (LUN 5, the defaults) -----------------------------------------------
read -r _ _ off_in_place <<<"$(settled 2)"
((off_in_place == 0)) && pass "read_in_place=off: no READ sent in place" ||
  fail "read_in_place=off: $off_in_place READs sent in place"
read -r c0 w0 p0 <<<"$(settled 5)"
"$LOAD" -q 4 -b 4k -r 100 -n 200 "$(url 5)" >/dev/null &&
  "$LOAD" -q 4 -b 1m -r 100 -n 64 "$(url 5)" >/dev/null &&
  "$LOAD" -q 4 -b 1m -r 0 -n 64 "$(url 5)" >/dev/null || fail "load on LUN 5 failed"
read -r c1 w1 p1 <<<"$(counters 5 $((c0 + 328)))"
echo "note: LUN 5, 200 x 4 KiB and 64 x 1 MiB READs, 64 x 1 MiB WRITEs: $((c1 - c0)) commands," \
     "$((p1 - p0)) in place, $((w1 - w0)) on workers"
((c1 - c0 == 328 && p1 - p0 == 264 && w1 - w0 == 64)) &&
  pass "read_in_place: every READ sent in place, the 1 MiB WRITEs on workers" ||
  fail "read_in_place: $((p1 - p0)) of 264 READs in place, $((w1 - w0)) of 64 WRITEs on workers"
verified 5 read_in_place
kill -0 "$TGTD_PID" 2>/dev/null && pass "tgtd still running (tgt freed its own buffers)" ||
  fail "tgtd died"

echo "$passes passed, $failures failed"
exit $((failures > 0))
