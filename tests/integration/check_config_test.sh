#!/usr/bin/env bash
# tgtpmem-admin check-config against what really happens. Each case is one tgt-admin
# configuration with one LUN under test; check-config's verdict on it is compared with the
# real tgt-admin applying it (tgt-admin -e) to the real tgtd with bs_pmem loaded:
#   - "ok" cases: check-config exits 0, tgt-admin succeeds and the LUN exists with the block
#     size check-config reported;
#   - "fail" cases: check-config exits 1 naming the problem, and tgt-admin stops, skips the
#     LUN silently, or creates it other than configured;
#   - "shared": one store configured under two LUNs, which check-config fails;
#   - "stricter" cases: check-config fails what tgt-admin and bs_pmem accept, on purpose
#     (an atomic store served raw).
# The bug it catches: check-config passing a LUN that the restart would lose or change (the
# administrator restarts tgt on its word), or failing one that works. tgt-admin's own
# behaviour is observed, not assumed: each case prints what it did.
# Usage: check_config_test.sh TGTPMEM_ADMIN MODULE_DIR
set -uo pipefail
ADMIN=$1 MODULE_DIR=$2
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
command -v tgt-admin >/dev/null || { echo "tgt-admin is not installed"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"
source "$(dirname "$0")/../lib/workdir.sh"
CTL=9108 PORT=3368
work_dir W tgtpmem-check-config
LOG=$W/tgtd.log
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; rm -rf "$W"; }
trap cleanup EXIT

tgtd_start "$MODULE_DIR" $CTL $PORT "$LOG" || { echo "tgtd did not start"; exit 1; }

"$ADMIN" create "$W/raw4k.img" --size 64m --block-size 4096 >/dev/null
"$ADMIN" create "$W/raw512.img" --size 64m >/dev/null
"$ADMIN" create "$W/atomic.img" --size 64m --block-size 4096 --layout atomic >/dev/null
truncate -s 64m "$W/zero.img"
truncate -s 64m "$W/data.img" && printf 'a raw LUN holds data here' | dd of="$W/data.img" conv=notrunc status=none
truncate -s 64k "$W/small.img"

clear_targets() {
  local tid
  for tid in $(tgtadm_c --lld iscsi --mode target --op show | sed -n 's/^Target \([0-9]*\):.*/\1/p'); do
    tgtadm_c --lld iscsi --mode target --op delete --force --tid "$tid"
  done
}
# lun_block_size PATH: the block size of the LUN whose backing store is PATH, empty if none.
lun_block_size() {
  tgtadm_c --lld iscsi --mode target --op show | awk -v p="$1" '
    /^ +LUN: / { bs = "" }
    /Block size: / { s = $0; sub(/.*Block size: /, "", s); bs = s + 0 }
    /Backing store path: / { s = $0; sub(/.*Backing store path: /, "", s); if (s == p) print bs }'
}

n=0
# check KIND PATH WANT_BS CONFIG...: KIND ok|fail|shared|stricter; PATH the store under test;
# WANT_BS the block size the configuration asks for; CONFIG the file's lines.
check() {
  local kind=$1 path=$2 want_bs=$3
  shift 3
  n=$((n + 1))
  local conf=$W/case$n.conf what
  printf '%s\n' "$@" >"$conf"
  what="case $n ($kind, $(grep -m1 -E 'bsopts|bs-type|backing-store' "$conf" | sed 's/^ *//'))"
  local out rc
  out=$("$ADMIN" check-config "$conf" 2>&1); rc=$?
  local json; json=$("$ADMIN" check-config --json "$conf" 2>/dev/null)
  clear_targets
  local admin_out admin_rc
  admin_out=$(tgt-admin -C $CTL -c "$conf" -e 2>&1); admin_rc=$?
  kill -0 "$TGTD_PID" 2>/dev/null || { fail "$what: tgtd died"; exit 1; }
  local got_bs luns; got_bs=$(lun_block_size "$path"); luns=$(grep -c . <<<"$got_bs")
  ((luns > 1)) && got_bs="$luns LUNs"
  echo "# $what: check-config rc=$rc; tgt-admin rc=$admin_rc, LUN: ${got_bs:-absent}"
  case $kind in
    ok)
      local said_bs; said_bs=$(sed -n 's/.*"block_size":\([0-9]*\).*/\1/p' <<<"$json")
      if [[ $rc -eq 0 && $admin_rc -eq 0 && $got_bs == "$want_bs" && $said_bs == "$want_bs" ]]; then
        pass "$what: check-config ok, and tgt-admin created it with block size $got_bs"
      else
        fail "$what: check-config rc=$rc (block size ${said_bs:-?}), tgt-admin rc=$admin_rc, LUN block size '${got_bs}'"
        echo "$out" | sed 's/^/    /'; echo "$admin_out" | tail -n 3 | sed 's/^/    /'
      fi ;;
    fail)
      if [[ $rc -eq 1 ]] && grep -qE 'FAILED|tgt-admin (stops|refuses)|overwrite each other' <<<"$out" &&
         [[ $admin_rc -ne 0 || -z $got_bs || $got_bs != "$want_bs" ]]; then
        pass "$what: check-config failed it, and tgt-admin $( ((admin_rc)) && echo "stopped (rc $admin_rc)" ||
              { [[ -z $got_bs ]] && echo "skipped it silently" || echo "created it other than configured ($got_bs, not block size $want_bs)"; })"
      else
        fail "$what: check-config rc=$rc; tgt-admin rc=$admin_rc, LUN block size '${got_bs}'"
        echo "$out" | sed 's/^/    /'; echo "$admin_out" | tail -n 3 | sed 's/^/    /'
      fi ;;
    shared)  # the store is configured for two LUNs: neither outcome is what was asked for
      if [[ $rc -eq 1 ]] && grep -q 'overwrite each other' <<<"$out"; then
        pass "$what: check-config failed it; tgt-admin $( ((luns > 1)) && echo "created $luns LUNs on one store" ||
              echo "created one of the two LUNs and skipped the other (in use), rc $admin_rc")"
      else
        fail "$what: check-config rc=$rc"; echo "$out" | sed 's/^/    /'
      fi ;;
    stricter)
      if [[ $rc -eq 1 && $admin_rc -eq 0 && -n $got_bs ]]; then
        pass "$what: check-config failed what tgt-admin and bs_pmem accept, on purpose"
      else
        fail "$what: check-config rc=$rc; tgt-admin rc=$admin_rc, LUN block size '${got_bs}'"
        echo "$out" | sed 's/^/    /'
      fi ;;
  esac
  echo "$out" | sed 's/^/    | /'
}

T='<target iqn.2026-12.org.tgt-pmem:check-config>'
E='</target>'
B() { printf '    <backing-store %s>' "$1"; }
BE='    </backing-store>'

# --- what works ----------------------------------------------------------------------------
check ok "$W/raw4k.img" 4096 "$T" "$(B "$W/raw4k.img")" "        bs-type pmem" \
  "        bsopts 'block_size=4096;write_cache=off'" "        lun 1" "$BE" "$E"
check ok "$W/raw512.img" 512 "$T" "    bs-type pmem" "    backing-store $W/raw512.img" "$E"
check ok "$W/raw4k.img" 4096 "$T" "$(B "$W/raw4k.img")" "        bs-type pmem" "        block-size 4096" "$BE" "$E"
check ok "$W/zero.img" 512 "$T" "$(B "$W/zero.img")" "        bs-type pmem" "        bsopts layout=atomic" "$BE" "$E"
check ok "$W/atomic.img" 4096 "$T" "    bs-type pmem" "    bsopts \"layout=atomic\"" "$(B "$W/atomic.img")" \
  "        bsopts 'layout=atomic;block_size=4096'" "$BE" "$E"

# --- what tgt-admin or bs_pmem refuse, skip or change --------------------------------------
check fail "$W/raw4k.img" 4096 "$T" "$(B "$W/raw4k.img")" "        bs-type pmem" \
  "        bsopts 'block_size=4096;write_cach=off'" "$BE" "$E"
check fail "$W/raw4k.img" 4096 "$T" "$(B "$W/raw4k.img")" "        bs-type pmem" \
  "        bsopts \"write_cache=off;block_size=4096\"" "$BE" "$E"
check fail "$W/missing.img" 512 "$T" "$(B "$W/missing.img")" "        bs-type pmem" "$BE" "$E"
check fail "$W/raw4k.img" 4096 "$T" "$(B "$W/raw4k.img")" "        bs-type pmem" "        block-size 4096" \
  "        bsopts block_size=512" "$BE" "$E"
check fail "$W/data.img" 512 "$T" "$(B "$W/data.img")" "        bs-type pmem" "        bsopts layout=atomic" "$BE" "$E"
check fail "$W/raw512.img" 512 "$T" "$(B "$W/raw512.img")" "        bs-type pmem" "        bsopts durability=cache-flush" "$BE" "$E"
check fail "$W/small.img" 512 "$T" "$(B "$W/small.img")" "        bs-type pmem" "$BE" "$E"
check fail "$W/raw512.img" 512 "$T" "$(B "$W/raw512.img")" "        bs-type pmem" "        bs-type pmem" "$BE" "$E"
check fail "$W/raw512.img" 512 "$T" "    bs-type pmem" "    backing-store $W/raw4k.img" "$(B "$W/raw512.img")" "$BE" "$E"
check shared "$W/raw512.img" 512 "$T" "$(B "$W/raw4k.img")" "        bs-type pmem" "        lun 1" "$BE" \
  "$(B "$W/raw512.img")" "        bs-type pmem" "        lun 2" "$BE" "$E" \
  '<target iqn.2026-12.org.tgt-pmem:check-config-2>' "$(B "$W/raw512.img")" "        bs-type pmem" "$BE" "$E"

# --- stricter than tgt on purpose ----------------------------------------------------------
check stricter "$W/atomic.img" 4096 "$T" "$(B "$W/atomic.img")" "        bs-type pmem" "        block-size 4096" "$BE" "$E"

# --- boot: tgt-admin stops at the first refused LUN, unless ignore-errors -------------------
# Two targets, applied in name order: a-first's LUN has a bsopts typo, b-second's is good.
boot_conf() {
  printf '%s\n' "$@" \
    '<target iqn.2026-12.org.tgt-pmem:a-first>' "$(B "$W/raw4k.img")" "        bs-type pmem" \
    "        bsopts 'block_size=4096;write_cach=off'" "$BE" "$E" \
    '<target iqn.2026-12.org.tgt-pmem:b-second>' "$(B "$W/raw512.img")" "        bs-type pmem" "$BE" "$E"
}
for ignore in no yes; do
  conf=$W/boot-$ignore.conf
  if [[ $ignore == yes ]]; then boot_conf 'ignore-errors yes' >"$conf"; else boot_conf >"$conf"; fi
  out=$("$ADMIN" check-config "$conf" 2>&1); rc=$?
  clear_targets
  tgt-admin -C $CTL -c "$conf" -e >/dev/null 2>&1; admin_rc=$?
  second=$(lun_block_size "$W/raw512.img")
  echo "# ignore-errors $ignore: check-config rc=$rc; tgt-admin rc=$admin_rc, the second target's LUN: ${second:-absent}"
  if [[ $ignore == no ]]; then
    [[ $rc -eq 1 && $admin_rc -ne 0 && -z $second ]] && grep -q "creates no target after it" <<<"$out" &&
      pass "without ignore-errors: tgt-admin stopped at the bad LUN, the next target never came, and check-config said so" ||
      { fail "without ignore-errors"; echo "$out"; }
  else
    [[ $rc -eq 1 && -n $second ]] && ! grep -q "creates no target after it" <<<"$out" &&
      pass "with ignore-errors yes: tgt-admin went on to the next target (rc $admin_rc); check-config still fails the bad LUN" ||
      { fail "with ignore-errors"; echo "$out"; }
  fi
done

# --- the default file and an unreadable one ------------------------------------------------
"$ADMIN" check-config "$W/nonexistent.conf" >/dev/null 2>&1; rc=$?
[[ $rc -eq 3 ]] && pass "an unreadable configuration file: exit 3" || fail "unreadable configuration: exit $rc"

echo "# $passes passed, $failures failed"
((failures == 0))
