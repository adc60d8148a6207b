#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The SRP driver (lld_srp.so) in the real distribution tgtd, next to bs_pmem.so, on a host
# without an RDMA device (the usual CI machine): tgtd must
#  - load lld_srp.so from its backing-store directory and list the LLD `srp` in state error;
#  - log why: "srp: no RDMA device; after loading one, start the driver with tgtadm ...";
#  - refuse `tgtadm --lld srp --mode target --op new` (non-zero exit, "can't find the driver")
#    and `--mode lld --op start` (non-zero exit, the reason logged again), and keep running;
#  - go on serving an iSCSI LUN on bs_pmem (libiscsi's iscsi-inq and iscsi-readcapacity16 on
#    127.0.0.1), and shut down in order (system delete, exit status 0): it never crashes.
# On a host with an RDMA device the driver must instead be ready and listening (on port
# SRP_PORT of every address, so as not to meet a system tgtd's 5555), create an SRP target
# whose `show` names its id_ext, and serve iSCSI all the same.
# Control port 9105, iSCSI 127.0.0.1:3365. The real SRP data path runs in the guest
# (tests/e2e/scenarios/srp-*.sh).
# Usage: srp_lld_test.sh BS_PMEM_SO LLD_SRP_SO
set -uo pipefail
BS_PMEM_SO=${1:?usage: srp_lld_test.sh BS_PMEM_SO LLD_SRP_SO}
LLD_SRP_SO=${2:?usage: srp_lld_test.sh BS_PMEM_SO LLD_SRP_SO}
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (mount namespace for tgtd)"; exit 77; }
for tool in tgtd tgtadm iscsi-inq iscsi-readcapacity16; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup-deps.sh)"; exit 77; }
done
source "$(dirname "$0")/../lib/tgtd.sh"

CTL=9105 PORT=3365 SRP_PORT=5365 IQN=iqn.2026-11.org.tgt-pmem:srp-lld-test
source "$(dirname "$0")/../lib/workdir.sh"
work_dir WORK tgtpmem-srp-lld
LOG=$WORK/tgtd.log
URL=iscsi://127.0.0.1:$PORT/$IQN/1
NODEV_MSG="srp: no RDMA device; after loading one, start the driver with tgtadm --lld srp --mode lld --op start"
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() {
  tgtd_stop
  if ((failures)); then echo "--- tgtd log ---"; cat "$LOG" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

alive() { kill -0 "$TGTD_PID" 2>/dev/null; }
# must_live WHAT: tgtd is still there after WHAT, or the test ends here.
must_live() {
  if alive; then pass "tgtd still running after $1"; else fail "tgtd died after $1"; exit 1; fi
}
srp_state() {  # the srp LLD's state in `tgtadm --mode sys --op show`, empty if none
  tgtadm_c --mode sys --op show | awk '/^LLDs:/ {b = 1; next} /^[^ \t]/ {b = 0}
    b && $1 == "srp:" {print $2}'
}
log_count() { grep -cF -- "$1" "$LOG"; }

# tgtd's module directory: both modules, as the packages install them side by side.
mkdir "$WORK/modules"
cp "$BS_PMEM_SO" "$WORK/modules/bs_pmem.so" && cp "$LLD_SRP_SO" "$WORK/modules/lld_srp.so" ||
  { echo "FAIL: cannot copy the modules"; exit 1; }

has_rdma=0
if compgen -G '/sys/class/infiniband/*' >/dev/null ||
   rdma link show 2>/dev/null | grep -q '^link '; then
  has_rdma=1
fi

export TGTPMEM_SRP_PORTAL=0.0.0.0:$SRP_PORT
tgtd_start "$WORK/modules" $CTL $PORT "$LOG" || { cat "$LOG"; echo "FAIL: tgtd did not start"; exit 1; }
must_live "loading bs_pmem.so and lld_srp.so"
tgtadm_c --mode sys --op show | sed -n '/Backing stores:/,/Device types:/p' | grep -qx '    pmem' &&
  pass "bstype pmem registered next to the SRP driver" || fail "pmem is not among the backing stores"

# --- the SRP driver ------------------------------------------------------------------------------
state=$(srp_state)
if ((has_rdma)); then
  echo "# this host has an RDMA device: checking the listener instead of the no-device path"
  [[ $state == ready ]] && pass "LLD srp: ready" || fail "LLD srp in state '${state:-absent}', want ready"
  grep -qF "srp: listening with RDMA CM on 0.0.0.0:$SRP_PORT" "$LOG" &&
    pass "log: listening with RDMA CM on 0.0.0.0:$SRP_PORT" || fail "no 'listening' line in the log"
  if tgtadm_c --lld srp --mode target --op new --tid 1 --targetname srp-lld-test; then
    pass "SRP target 1 created"
    show=$(tgtadm_c --lld srp --mode target --op show)
    grep -q 'id_ext: 0000000000000001' <<<"$show" && grep -q "RDMA CM: 0.0.0.0:$SRP_PORT" <<<"$show" &&
      grep -q 'Channels: 0' <<<"$show" && pass "show: id_ext, RDMA CM address, no channels" ||
      { fail "tgtadm show of the SRP target"; echo "$show"; }
    tgtadm_c --lld srp --mode target --op delete --tid 1 && pass "SRP target 1 deleted" ||
      fail "SRP target 1 not deleted"
  else
    fail "SRP target 1 refused"
  fi
  must_live "the SRP target's life"
else
  [[ $state == error ]] && pass "LLD srp listed, state error (no RDMA device)" ||
    fail "LLD srp in state '${state:-absent}', want error"
  [[ $(log_count "$NODEV_MSG") -ge 1 ]] && pass "log: $NODEV_MSG" ||
    fail "no 'no RDMA device' line in the log"

  out=$(tgtadm_c --lld srp --mode target --op new --tid 1 --targetname srp-lld-test 2>&1)
  rc=$?
  ((rc != 0)) && pass "tgtadm --lld srp --mode target --op new refused (exit $rc: $out)" ||
    fail "an SRP target was created without an RDMA device"
  [[ $out == *"can't find the driver"* ]] && pass "tgtadm says: can't find the driver" ||
    fail "tgtadm's answer: '$out'"
  grep -qF "driver srp is in state: error" "$LOG" && pass "log: driver srp is in state: error" ||
    fail "no 'driver srp is in state: error' line in the log"
  must_live "the refused SRP target"
  [[ -z $(tgtadm_c --mode target --op show) ]] && pass "no target exists" ||
    fail "a target exists: $(tgtadm_c --mode target --op show)"

  before=$(log_count "$NODEV_MSG")
  out=$(tgtadm_c --lld srp --mode lld --op start 2>&1)
  rc=$?
  ((rc != 0)) && pass "tgtadm --lld srp --mode lld --op start refused (exit $rc: $out)" ||
    fail "the SRP driver started without an RDMA device"
  [[ $(log_count "$NODEV_MSG") -gt $before ]] && pass "log: the start attempt says 'no RDMA device' again" ||
    fail "the start attempt logged no reason"
  must_live "the refused driver start"
  state=$(srp_state)
  [[ $state == error ]] && pass "LLD srp still in state error" || fail "LLD srp in state '${state:-absent}'"
fi

# --- iSCSI on bs_pmem, served all along ----------------------------------------------------------
truncate -s 64M "$WORK/lun.img"
tgt_new_target 1 $IQN && tgt_allow_all 1 && tgt_new_lun 1 1 pmem "$WORK/lun.img" &&
  pass "iSCSI target 1 with a pmem LUN" || fail "iSCSI target with a pmem LUN"
grep -qF "bs_pmem: opened $WORK/lun.img: file, 67108864 bytes" "$LOG" &&
  pass "log: bs_pmem opened the LUN" || fail "no 'opened' line for the LUN"
iscsi-inq "$URL" >"$WORK/inq.out" 2>&1 && grep -q 'Peripheral Device Type:DIRECT_ACCESS' "$WORK/inq.out" &&
  pass "iscsi-inq: a direct-access LUN" || { fail "iscsi-inq"; cat "$WORK/inq.out"; }
iscsi-readcapacity16 "$URL" >"$WORK/rc16.out" 2>&1 &&
  grep -q 'RETURNED LOGICAL BLOCK ADDRESS:131071' "$WORK/rc16.out" &&
  grep -q 'LOGICAL BLOCK LENGTH IN BYTES:512' "$WORK/rc16.out" &&
  pass "iscsi-readcapacity16: 131072 blocks of 512 bytes" || { fail "iscsi-readcapacity16"; cat "$WORK/rc16.out"; }
if ((!has_rdma)); then
  # A second attempt, now that tgtd has a target: still refused, still served.
  tgtadm_c --lld srp --mode lld --op start >/dev/null 2>&1 && fail "driver start succeeded" ||
    pass "driver start refused again with an iSCSI target present"
  iscsi-inq "$URL" >/dev/null 2>&1 && pass "iSCSI served after the second refused start" ||
    fail "iSCSI lost after the second refused start"
fi
must_live "the iSCSI checks"

# --- orderly shutdown: the driver's exit runs too ------------------------------------------------
tgtadm_c --mode target --op delete --force --tid 1 >/dev/null 2>&1
tgtadm_c --mode system --op delete >/dev/null 2>&1
rc=timeout
for _ in $(seq 1 100); do
  if ! alive; then wait "$TGTD_PID"; rc=$?; break; fi
  sleep 0.1
done
[[ $rc == 0 ]] && pass "tgtd exited with status 0 on system delete" || fail "tgtd's exit on system delete: $rc"
TGTD_PID=""

echo "$passes passed, $failures failed"
exit $((failures > 0))
