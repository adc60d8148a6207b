#!/usr/bin/env bash
# bs_pmem in the real distribution tgtd, driven by libiscsi on 127.0.0.1:
#  - tgtadm lists the pmem backing store;
#  - refused configurations: tgtadm fails, the log says why, tgtd keeps running, and the
#    backing file is not modified;
#  - data written reads back after SIGKILL of tgtd and a restart on the same file, with the
#    durability method both of the emulated pmem (cache flush) and of a plain file (msync);
#  - PMEM2_FORCE_GRANULARITY in tgtd's environment is ignored (logged) and weakens no LUN;
#  - SIGKILL at random moments under a write load loses no acknowledged write;
#  - the caching mode page says WCE=0 by default and WCE=1 with write_cache=on.
# Usage: bs_pmem_lun_test.sh PATTERN_IO MODULE_DIR
#   TGTPMEM_KILL_ROUNDS         SIGKILL rounds on the raw layout (default 20)
#   TGTPMEM_ATOMIC_KILL_ROUNDS  SIGKILL rounds on the atomic layout (default 100)
set -uo pipefail
PATTERN_IO=$1 MODULE_DIR=$2 ROUNDS=${TGTPMEM_KILL_ROUNDS:-20}
ATOMIC_ROUNDS=${TGTPMEM_ATOMIC_KILL_ROUNDS:-100}
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"

CTL=9101 PORT=3361 IQN=iqn.2026-11.org.tgt-pmem:lun-test
source "$(dirname "$0")/../lib/workdir.sh"
work_dir WORK tgtpmem-lun
LOG=$WORK/tgtd.log
URL=iscsi://127.0.0.1:$PORT/$IQN/1
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; chattr -i "$WORK"/* 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start() {  # start [VAR=value...]: tgtd's environment
  unset PMEM2_FORCE_GRANULARITY
  (($#)) && export "$@"
  tgtd_start "$MODULE_DIR" $CTL $PORT "$LOG" || { echo "tgtd did not start"; exit 1; }
  tgt_new_target 1 $IQN && tgt_allow_all 1
}

# --- the module is registered ---------------------------------------------------------------
start
if tgtadm_c --mode sys --op show | sed -n '/Backing stores:/,/Device types:/p' | grep -qx '    pmem'; then
  pass "tgtadm --mode sys --op show lists pmem"
else
  fail "pmem is not among the backing stores"
fi

# --- refused configurations ----------------------------------------------------------------
truncate -s 64M "$WORK/good.img"
printf 'precious data' | dd of="$WORK/good.img" conv=notrunc status=none
truncate -s 64K "$WORK/small.img"
truncate -s $((2 * 1024 * 1024 + 512)) "$WORK/odd.img"
mkdir "$WORK/dir"
before=$(sha256sum "$WORK/good.img" | cut -d' ' -f1)
refuse() {  # refuse "what" "expected log text" tgtadm lun args...
  local what=$1 text=$2
  shift 2
  local offset; offset=$(stat -c %s "$LOG")
  if tgtadm_c --lld iscsi --mode logicalunit --op new --tid 1 --lun 9 "$@" 2>/dev/null; then
    fail "$what: accepted"
    tgtadm_c --lld iscsi --mode logicalunit --op delete --tid 1 --lun 9
    return
  fi
  if ! kill -0 "$TGTD_PID" 2>/dev/null; then fail "$what: tgtd died"; exit 1; fi
  if tail -c +"$((offset + 1))" "$LOG" | grep -F -- "$text" >/dev/null; then  # not -q: under pipefail, tail would die of SIGPIPE
    pass "$what: refused ($text)"
  else
    fail "$what: refused, but the log does not say '$text'"; tail -c +"$((offset + 1))" "$LOG"
  fi
}
refuse "unknown bsopts key" "unknown key 'bogus'" --bstype pmem --backing-store "$WORK/good.img" --bsopts "bogus=1"
refuse "bad block size" "must be 512 or 4096" --bstype pmem --backing-store "$WORK/good.img" --bsopts "block_size=1024"
refuse "bad on/off value" "expected on or off" --bstype pmem --backing-store "$WORK/good.img" --bsopts "write_cache=perhaps"
refuse "conflicting block sizes" "conflicts with --blocksize" --bstype pmem --backing-store "$WORK/good.img" --blocksize 4096 --bsopts "block_size=512"
refuse "missing file" "no such file" --bstype pmem --backing-store "$WORK/missing.img"
refuse "too small" "below the minimum" --bstype pmem --backing-store "$WORK/small.img"
refuse "unaligned size" "not a multiple of the mapping alignment" --bstype pmem --backing-store "$WORK/odd.img"
refuse "directory" "not a regular file" --bstype pmem --backing-store "$WORK/dir"
refuse "atomic layout over raw data" "refusing to format over existing data" --bstype pmem --backing-store "$WORK/good.img" --bsopts "layout=atomic"
refuse "atomic layout with a write cache" "cannot be combined with layout=atomic" --bstype pmem --backing-store "$WORK/good.img" --bsopts "layout=atomic;write_cache=on"
cp "$WORK/good.img" "$WORK/ro.img"
if chattr +i "$WORK/ro.img" 2>/dev/null; then
  refuse "read-only (immutable) file" "cannot be opened for writing" --bstype pmem --backing-store "$WORK/ro.img"
  chattr -i "$WORK/ro.img"
else
  echo "SKIP: read-only file (chattr +i not supported on this file system)"
fi
if [[ $(sha256sum "$WORK/good.img" | cut -d' ' -f1) == "$before" ]]; then
  pass "refusals left the backing file untouched"
else
  fail "a refused configuration modified the backing file"
fi

# --- data survives SIGKILL + restart, for each durability method -----------------------------
BLOCKS=$((64 * 1024 * 1024 / 512))
restart_round() {  # restart_round LABEL EXPECTED_METHOD BSOPTS [ENV...]
  local label=$1 method=$2 bsopts=$3
  shift 3
  tgtd_stop
  start "$@"
  tgt_new_lun 1 1 pmem "$WORK/good.img" "$bsopts" || { fail "$label: LUN creation"; return; }
  if grep -q "bs_pmem: opened $WORK/good.img: file, 67108864 bytes, block size 512, durability $method" "$LOG"; then
    pass "$label: durability method $method logged"
  else
    fail "$label: expected durability $method in the log"
  fi
  local seed=$RANDOM
  "$PATTERN_IO" write "$URL" 0 256 $seed && "$PATTERN_IO" write "$URL" $((BLOCKS / 2)) 1000 $seed &&
    "$PATTERN_IO" write "$URL" $((BLOCKS - 64)) 64 $seed fua || { fail "$label: writes"; return; }
  tgtd_kill9
  start "$@"
  tgt_new_lun 1 1 pmem "$WORK/good.img" "$bsopts"
  if "$PATTERN_IO" verify "$URL" 0 256 $seed && "$PATTERN_IO" verify "$URL" $((BLOCKS / 2)) 1000 $seed &&
     "$PATTERN_IO" verify "$URL" $((BLOCKS - 64)) 64 $seed; then
    pass "$label: data written before SIGKILL reads back after restart"
  else
    fail "$label: data lost across SIGKILL"
  fi
}
restart_round "emulated pmem" "cache-flush (emulated pmem" durability=emulated
restart_round "plain file" msync ""
# The variable that used to turn every plain-file LUN of a tgtd into "pmem" (issue 13).
restart_round "plain file, PMEM2_FORCE_GRANULARITY=CACHE_LINE in tgtd's environment" msync "" \
  PMEM2_FORCE_GRANULARITY=CACHE_LINE
grep -q "PMEM2_FORCE_GRANULARITY=CACHE_LINE in tgtd's environment is ignored" "$LOG" &&
  pass "tgtd logs that it ignores PMEM2_FORCE_GRANULARITY" ||
  fail "no log line about the ignored PMEM2_FORCE_GRANULARITY"

# --- SIGKILL at random moments under load -------------------------------------------------------
# kill_rounds LABEL URL LOG ROUNDS SEED_BASE [torn-ok]: each round runs a logged write load,
# kills tgtd with SIGKILL after 0.1-0.9 s, restarts it with the LUNs (relun), and checks that
# every write the target acknowledged (in any round so far) reads back. On the raw layout a
# block under a write that the kill cut short may be torn (torn-ok); on the atomic layout it
# must hold exactly one of the versions written to it.
relun() {
  tgt_new_lun 1 1 pmem "$WORK/good.img" durability=emulated &&
    { [[ ! -e $WORK/atomic.img ]] ||
        tgt_new_lun 1 3 pmem "$WORK/atomic.img" "layout=atomic;durability=emulated"; }
}
kill_rounds() {
  local label=$1 url=$2 log=$3 rounds=$4 seed=$5 torn=${6:-} lost=0 early=0 round churn acked rc
  rm -f "$log"
  for round in $(seq 1 "$rounds"); do
    "$PATTERN_IO" churn "$url" "$log" 5 "$((round + seed))" 20000 >/dev/null 2>"$WORK/churn.err" &
    churn=$!
    sleep "0.$((RANDOM % 9 + 1))"
    tgtd_kill9
    wait $churn
    rc=$?
    # 2: the kill came before the load tool had logged in (nothing written this round).
    if ((rc == 2)); then
      early=$((early + 1))
    elif ((rc != 0)); then
      fail "$label: SIGKILL round $round: the load tool failed (exit $rc): $(tail -n 1 "$WORK/churn.err")"
    fi
    start
    relun || { fail "$label: LUNs could not be recreated after round $round"; return; }
    "$PATTERN_IO" check "$url" "$log" $torn >/dev/null || lost=$((lost + 1))
  done
  acked=$(grep -c '^A' "$log")
  if ((lost == 0 && acked > 0)); then
    pass "$label, SIGKILL under load: $rounds rounds ($early killed before login), $acked acknowledged writes, none lost"
  else
    fail "$label, SIGKILL under load: $lost of $rounds rounds lost acknowledged writes ($acked acknowledged)"
  fi
}
kill_rounds "raw layout" "$URL" "$WORK/churn.log" "$ROUNDS" 0 torn-ok

# --- the same on the atomic layout, whose identity must survive too ------------------------------
truncate -s 64M "$WORK/atomic.img"
tgt_new_lun 1 3 pmem "$WORK/atomic.img" "layout=atomic;durability=emulated"
lun3_sn() { tgtadm_c --mode target --op show | awk '/LUN: 3/ {f=1} f && /SCSI SN:/ {print $3; exit}'; }
sn_before=$(lun3_sn)
kill_rounds "atomic layout" "iscsi://127.0.0.1:$PORT/$IQN/3" "$WORK/churn-atomic.log" \
  "$ATOMIC_ROUNDS" 1000
sn_after=$(lun3_sn)
if [[ ${#sn_before} == 32 && $sn_before == "$sn_after" ]]; then
  pass "atomic layout: serial number $sn_before (from the header's UUID) survives restarts"
else
  fail "atomic layout: serial number '$sn_before' became '$sn_after'"
fi

# --- the caching mode page tells the truth ---------------------------------------------------------
wce=$("$PATTERN_IO" wce "$URL")
[[ $wce == 0 ]] && pass "default LUN reports WCE=0" || fail "default LUN reports WCE=$wce"
truncate -s 8M "$WORK/cached.img"
tgt_new_lun 1 2 pmem "$WORK/cached.img" "write_cache=on"
wce=$("$PATTERN_IO" wce "iscsi://127.0.0.1:$PORT/$IQN/2")
[[ $wce == 1 ]] && pass "write_cache=on reports WCE=1" || fail "write_cache=on reports WCE=$wce"

echo "$passes passed, $failures failed"
exit $((failures > 0))
