#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Integration test of tgtpmem-load (utils/load) against the real distribution tgtd:
# an rdwr LUN on a file, libiscsi on 127.0.0.1.
#
#   load_tool_test.sh PATH/TO/tgtpmem-load
#
# Checks that a verified read/write mix runs clean with real throughput, that the verifier
# does catch data that goes back in time under it, and that setup failures (unknown target
# name, missing LUN, region beyond the end) and a CHECK CONDITION (writing to a read-only LUN)
# end with the documented exit status and a message that says what went wrong.
# Ports: control 9201, iSCSI 3391 (override with LOAD_TEST_CONTROL_PORT/LOAD_TEST_ISCSI_PORT).
# Exit 77 (skipped) without root or without tgtd/jq.
set -euo pipefail

load=${1:?usage: load_tool_test.sh PATH/TO/tgtpmem-load}
load=$(readlink -f "$load")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/tgtd.sh
source "$here/../lib/tgtd.sh"

control_port=${LOAD_TEST_CONTROL_PORT:-9201}
iscsi_port=${LOAD_TEST_ISCSI_PORT:-3391}
iqn=iqn.2024-01.org.tgt-pmem:load-tool-test
url=iscsi://127.0.0.1:$iscsi_port/$iqn/1

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (tgtd runs in a private mount namespace)"
for tool in tgtd tgtadm unshare jq; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[[ -x $load ]] || { echo "FAIL: $load is not an executable"; exit 1; }

# tgtd 1.0.85 ignores SIGTERM (its handler is empty), so tgtd_stop alone waits and then
# SIGKILLs. Shut it down the orderly way first: delete the target, then the system.
shutdown_tgtd() {
  [[ -n ${TGTD_PID:-} ]] || return 0
  tgtadm_c --lld iscsi --mode target --op delete --force --tid 1 >/dev/null 2>&1 || true
  tgtadm_c --mode system --op delete >/dev/null 2>&1 || true
  tgtd_stop
}

work=$(mktemp -d "${TMPDIR:-/tmp}/load-tool-test.XXXXXX")
failures=0
cleanup() {
  shutdown_tgtd || true
  if (( failures )); then
    echo "--- tgtd log ---"; cat "$work/tgtd.log" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
# check DESCRIPTION JQ-FILTER FILE: the filter must print true
check_json() {
  local what=$1 filter=$2 file=$3
  if [[ $(jq -r "$filter" "$file" 2>/dev/null) == true ]]; then
    pass "$what"
  else
    fail "$what ($filter) in:"; cat "$file"
  fi
}
# run_load NAME ARGS...: runs the tool, stdout to $work/NAME.out, stderr to $work/NAME.err,
# exit status to $rc.
run_load() {
  local name=$1; shift
  set +e
  "$load" "$@" >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  set -e
}
expect_rc() {
  local name=$1 want=$2
  if [[ $rc -eq $want ]]; then
    pass "$name: exit status $want"
  else
    fail "$name: exit status $rc, expected $want"; cat "$work/$name.out" "$work/$name.err"
  fi
}
expect_stderr() {
  local name=$1 pattern=$2
  if grep -q -- "$pattern" "$work/$name.err"; then
    pass "$name: says '$pattern': $(head -n 1 "$work/$name.err")"
  else
    fail "$name: stderr lacks '$pattern':"; cat "$work/$name.err"
  fi
}

mkdir "$work/modules"  # rdwr is built into tgtd; no module needed
truncate -s 64M "$work/disk.img"
tgtd_start "$work/modules" "$control_port" "$iscsi_port" "$work/tgtd.log"
tgt_new_target 1 "$iqn"
tgt_new_lun 1 1 rdwr "$work/disk.img"
tgt_allow_all 1

# 1. A verified random read/write mix: real I/O in both directions, every read checked.
run_load mix --json --verify --read-percent 50 --queue-depth 16 --duration 3 --size 16m "$url"
expect_rc mix 0
check_json "mix: ok" '.ok' "$work/mix.out"
check_json "mix: reads done" '.read.ios > 1000 and .read.iops > 0' "$work/mix.out"
check_json "mix: writes done" '.write.ios > 1000 and .write.iops > 0' "$work/mix.out"
check_json "mix: latency percentiles ordered" \
  '[.total.latency_us | .p50, .p90, .p99, .p99_9, .max] | . == sort and .[0] > 0' "$work/mix.out"
check_json "mix: reads checked against acknowledged writes" \
  '.verify.blocks_checked > .verify.blocks_unknown and .verify.blocks_unknown >= 0' \
  "$work/mix.out"
check_json "mix: no verification errors" '.verify.errors == 0' "$work/mix.out"

# 2. Sequential, FUA, stopped by an I/O count: exactly that many I/Os, still verified.
run_load count --json --verify --read-percent 30 --access sequential --fua --ios 3000 \
  --block-size 8k --offset 1m --size 4m "$url"
expect_rc count 0
check_json "count: exactly 3000 I/Os" '.total.ios == 3000 and .read.ios > 0 and .write.ios > 0' \
  "$work/count.out"
check_json "count: no verification errors" '.verify.errors == 0 and .verify.blocks_checked > 0' \
  "$work/count.out"

# 3. The verifier must fail when the data goes back in time: while a verified run is going,
#    copy the region aside and, a moment later, put the old copy back behind tgtd's back (the
#    rdwr store reads the same page cache), as a lost write would.
"$load" --json --verify --read-percent 50 --queue-depth 4 --duration 5 --size 1m "$url" \
  >"$work/stale.out" 2>"$work/stale.err" &
load_pid=$!
sleep 1.5
dd if="$work/disk.img" of="$work/snapshot" bs=1M count=1 status=none
sleep 1.5
dd if="$work/snapshot" of="$work/disk.img" bs=1M count=1 conv=notrunc status=none
set +e; wait "$load_pid"; rc=$?; set -e
expect_rc stale 1
check_json "stale: mismatches counted" '.ok == false and .verify.errors > 0' "$work/stale.out"
check_json "stale: old generations named as such" \
  '[.verify.first_errors[] | test("stale data|torn or corrupted")] | any' "$work/stale.out"
expect_stderr stale "data verification failed"

# 4. Setup failures: exit status 3 and the reason.
run_load wrong-target --duration 1 "iscsi://127.0.0.1:$iscsi_port/iqn.2024-01.org.tgt-pmem:nosuch/1"
expect_rc wrong-target 3
expect_stderr wrong-target "Target not found"
run_load wrong-lun --duration 1 "iscsi://127.0.0.1:$iscsi_port/$iqn/7"
expect_rc wrong-lun 3
expect_stderr wrong-lun "LOGICAL_UNIT_NOT_SUPPORTED"
run_load wrong-region --duration 1 --offset 60m --size 8m "$url"
expect_rc wrong-region 3
expect_stderr wrong-region "beyond the end of the LUN"
run_load bad-usage --queue-depth 0 "$url"
expect_rc bad-usage 2
expect_stderr bad-usage "queue-depth"

# 5. A CHECK CONDITION during the run: writes to a read-only LUN fail with DATA PROTECT,
#    WRITE PROTECTED (ASC/ASCQ 27h/00h, SPC-4).
tgtadm_c --mode logicalunit --op update --tid 1 --lun 1 --params readonly=1
run_load readonly --read-percent 0 --duration 2 "$url"
expect_rc readonly 1
expect_stderr readonly "CHECK CONDITION, sense key DATA PROTECTION (0x7), ASC/ASCQ 0x27/0x00"
grep -q '^result   FAILED' "$work/readonly.out" && pass "readonly: report says FAILED" ||
  { fail "readonly: report lacks 'result FAILED'"; cat "$work/readonly.out"; }
tgtadm_c --mode logicalunit --op update --tid 1 --lun 1 --params readonly=0

# 6. ... and reads of a LUN that is fine again still work (the session state was not sticky).
run_load after --duration 1 "$url"
expect_rc after 0

if (( failures )); then
  echo "load_tool_test: $failures check(s) failed"
  exit 1
fi
echo "load_tool_test: all checks passed"
