#!/usr/bin/env bash
# libiscsi's iscsi-test-cu (SCSI family) against three LUNs of one real tgtd: tgt's own `rdwr`
# store and bs_pmem, both thin-provisioned, and bs_pmem on the atomic layout, same size.
# Each test is PASS, SKIP or FAIL (cunit_results.sh: libiscsi skips by printing [SKIPPED]
# and returning, which CUnit would count as passed). Passes when, for each pmem LUN,
#   1. no test that passes on rdwr fails on it (one it skips must be explained, see 3.),
#   2. it has no failure in the suites that exercise a backing store, except failures that
#      are tgt's own (listed below, each checked to fail on rdwr too), and
#   3. every test it skips or fails is in conformance-skips.txt for that store, with the
#      reason, and every entry there for it still skips or fails (the table stays exact);
# and WRITE ATOMIC(16) is really exercised (not skipped) on the atomic LUN, and COMPARE AND
# WRITE on both (tgt's own table leaves it out; bs_pmem routes it to its engine); and
# REPORT SUPPORTED OPERATION CODES answers its one-command form for every command it lists
# (rsoc_check.cc: libiscsi's own test of it cannot tell, see there).
# Usage: conformance_test.sh MODULE_DIR OUT_DIR RSOC_CHECK      (results kept in OUT_DIR)
set -uo pipefail
MODULE_DIR=$1 OUT=$2 RSOC_CHECK=$3
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
command -v iscsi-test-cu >/dev/null || { echo "iscsi-test-cu missing (libiscsi-bin)"; exit 1; }
HERE=$(dirname "$(readlink -f "$0")")
source "$HERE/../lib/tgtd.sh"

CTL=9102 PORT=3362 IQN=iqn.2026-11.org.tgt-pmem:conformance
rm -rf "$OUT" && mkdir -p "$OUT"
source "$HERE/../lib/workdir.sh"
work_dir WORK tgtpmem-cu
trap 'tgtd_stop; rm -rf "$WORK"' EXIT

# Suites whose commands reach the backing store.
BS_SUITES='^(Read6|Read10|Read12|Read16|Write10|Write12|Write16|WriteVerify10|WriteVerify12|WriteVerify16|Verify10|Verify12|Verify16|WriteSame10|WriteSame16|Unmap|CompareAndWrite|GetLBAStatus|Prefetch10|Prefetch16|OrWrite|WriteAtomic16)\.'
# Failures that are tgt's own, not the backing store's (each must fail on rdwr too):
#   none known at present.
KNOWN_TGT_FAILURES=()

tgtd_start "$MODULE_DIR" $CTL $PORT "$OUT/tgtd.log" || exit 1
# A second portal to the same target, for the MultipathIO tests (libiscsi's second URL).
PORT2=$((PORT + 100))
tgtadm_c --lld iscsi --mode portal --op new --param "portal=127.0.0.1:$PORT2" ||
  { echo "FAIL: tgtd took no second portal 127.0.0.1:$PORT2"; exit 1; }
tgt_new_target 1 $IQN && tgt_allow_all 1
truncate -s 256M "$WORK/rdwr.img" "$WORK/pmem.img" "$WORK/atomic.img"
tgt_new_lun 1 1 rdwr "$WORK/rdwr.img"
tgtadm_c --mode logicalunit --op update --tid 1 --lun 1 --params thin_provisioning=1
tgt_new_lun 1 2 pmem "$WORK/pmem.img" durability=emulated
tgt_new_lun 1 3 pmem "$WORK/atomic.img" "layout=atomic;durability=emulated"

run_suite() {  # run_suite NAME LUN
  mkdir -p "$OUT/$1"
  (cd "$OUT/$1" && iscsi-test-cu --dataloss -t SCSI "iscsi://127.0.0.1:$PORT/$IQN/$2" \
     "iscsi://127.0.0.1:$PORT2/$IQN/$2" >iscsi-test-cu.log 2>&1)
  local rc=$?
  # Failed tests make it exit 1; a signal (a crash of the initiator) would silently drop
  # every test after it.
  ((rc < 128)) || { echo "FAIL: iscsi-test-cu died (exit $rc) on the $1 LUN"; exit 1; }
  "$HERE/../lib/cunit_results.sh" "$OUT/$1/iscsi-test-cu.log" | sort > "$OUT/$1.results"
}
run_suite rdwr 1
run_suite pmem 2
run_suite atomic 3
kill -0 "$TGTD_PID" || { echo "FAIL: tgtd died during the conformance run"; exit 1; }

failures=0 passes=0
for lun in pmem atomic; do
  n_tests=$(wc -l < "$OUT/$lun.results")
  ((n_tests > 100)) || { echo "FAIL: only $n_tests tests ran on $lun"; exit 1; }

  # 1. Nothing rdwr passes may fail here (a skip must be explained in the table: 3.).
  regress=$(join "$OUT/rdwr.results" "$OUT/$lun.results" | awk '$2 == "PASS" && $3 == "FAIL" {print $1}')
  if [[ -z $regress ]]; then
    passes=$((passes + 1)); echo "PASS: no test that passes on rdwr fails on $lun"
  else
    failures=$((failures + 1)); echo "FAIL: pass on rdwr, fail on $lun:"; echo "$regress" | sed 's/^/    /'
  fi

  # 2. No backing-store failure, apart from tgt's own.
  bs_fail=$(grep -E "$BS_SUITES" "$OUT/$lun.results" | awk '$2 == "FAIL" {print $1}')
  before=$failures
  for t in $bs_fail; do
    if printf '%s\n' "${KNOWN_TGT_FAILURES[@]}" | grep -qx "$t" &&
       grep -qx "$t FAIL" "$OUT/rdwr.results"; then
      echo "note: $t fails on $lun and on rdwr alike (tgt's own)"
    else
      failures=$((failures + 1)); echo "FAIL: backing-store test $t fails on $lun"
    fi
  done
  ((failures == before)) && { passes=$((passes + 1)); echo "PASS: no backing-store failure on $lun"; }
done

# 3. Every skip and failure explained, per store, and no stale entry.
TABLE=$HERE/conformance-skips.txt
for lun in pmem atomic; do
  before=$failures
  # The table's entries for this store: TEST RESULT (lines "TEST<TAB>STORES<TAB>RESULT<TAB>...").
  awk -F'\t' -v s="$lun" '!/^#/ && NF >= 4 && ("," $2 ",") ~ ("," s ",") {print $1, $3}' "$TABLE" |
    sort >"$OUT/$lun.table"
  awk '$2 != "PASS" {print $1, $2}' "$OUT/$lun.results" | sort >"$OUT/$lun.notpass"
  unexplained=$(comm -13 "$OUT/$lun.table" "$OUT/$lun.notpass")
  stale=$(comm -23 "$OUT/$lun.table" "$OUT/$lun.notpass")
  if [[ -n $unexplained ]]; then
    failures=$((failures + 1))
    echo "FAIL: $lun: skips or failures not in conformance-skips.txt:"
    while read -r t r; do echo "    $t $r: $(grep "^$t " "$OUT/$lun.results" | cut -d' ' -f3-)"; done <<<"$unexplained"
  fi
  if [[ -n $stale ]]; then
    failures=$((failures + 1))
    echo "FAIL: $lun: conformance-skips.txt lists what no longer skips or fails (remove it):"
    echo "$stale" | sed 's/^/    /'
  fi
  # A failure the table calls tgt's own must fail on tgt's rdwr store too.
  for t in $(awk '$2 == "FAIL" {print $1}' "$OUT/$lun.table"); do
    grep -qx "$t FAIL" "$OUT/rdwr.results" ||
      { failures=$((failures + 1)); echo "FAIL: $t fails on $lun but not on rdwr: not tgt's own"; }
  done
  ((failures == before)) && { passes=$((passes + 1)); echo "PASS: every skip and failure on $lun is in conformance-skips.txt with its reason"; }
  echo "note: skipped on $lun, passed on rdwr (explained in the table): $(join "$OUT/rdwr.results" "$OUT/$lun.results" | awk '$2 == "PASS" && $3 == "SKIP" {printf "%s ", $1}')"
done

# 4. WRITE ATOMIC(16) ran on the atomic LUN.
if grep -q '^WriteAtomic16\.[^ ]* SKIP' "$OUT/atomic.results"; then
  failures=$((failures + 1)); echo "FAIL: WRITE ATOMIC(16) was skipped on the atomic LUN"
elif grep -q '^WriteAtomic16.Simple PASS' "$OUT/atomic.results"; then
  passes=$((passes + 1)); echo "PASS: WriteAtomic16 suite ran and passed on the atomic LUN"
else
  failures=$((failures + 1)); echo "FAIL: WriteAtomic16.Simple did not pass on the atomic LUN"
fi

# 5. COMPARE AND WRITE (VMware's ATS) reaches bs_pmem on both layouts, despite tgt's table.
for lun in pmem atomic; do
  caw=$(grep -E '^CompareAndWrite\.(Simple|Miscompare|DpoFua|Unwritten) ' "$OUT/$lun.results")
  if [[ $(grep -c ' PASS$' <<<"$caw") -eq 4 ]]; then
    passes=$((passes + 1)); echo "PASS: COMPARE AND WRITE ran and passed on $lun (Simple, Miscompare, DpoFua, Unwritten)"
  else
    failures=$((failures + 1)); echo "FAIL: COMPARE AND WRITE on $lun:"; echo "$caw" | sed 's/^/    /'
  fi
done

# 6. REPORT SUPPORTED OPERATION CODES, one-command form, for every command listed; COMPARE
#    AND WRITE (0x89) listed on both layouts, WRITE ATOMIC(16) (0x9c) on the atomic one.
for spec in "pmem 2 0x89" "atomic 3 0x89 0x9c"; do
  read -r lun n opcodes <<<"$spec"
  # shellcheck disable=SC2086
  if "$RSOC_CHECK" "iscsi://127.0.0.1:$PORT/$IQN/$n" $opcodes >"$OUT/$lun.rsoc" 2>&1; then
    passes=$((passes + 1)); echo "PASS: REPORT SUPPORTED OPERATION CODES on $lun: $(tail -1 "$OUT/$lun.rsoc")"
  else
    failures=$((failures + 1)); echo "FAIL: REPORT SUPPORTED OPERATION CODES on $lun:"; sed 's/^/    /' "$OUT/$lun.rsoc"
  fi
done

summary() { awk '{n[$2]++} END {printf "%d passed, %d skipped, %d failed", n["PASS"], n["SKIP"], n["FAIL"]}' "$1"; }
echo "iscsi-test-cu SCSI family: rdwr $(summary "$OUT/rdwr.results"); pmem $(summary "$OUT/pmem.results"); pmem atomic $(summary "$OUT/atomic.results")"
echo "pmem passes where rdwr fails: $(join "$OUT/rdwr.results" "$OUT/pmem.results" | awk '$2 == "FAIL" && $3 == "PASS" {printf "%s ", $1}')"
echo "$passes passed, $failures failed"
exit $((failures > 0))
