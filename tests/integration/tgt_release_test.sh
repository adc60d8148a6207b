#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The modules refuse to register in a tgtd of another tgt release (utils/tgt_abi): a tgtd is
# built from the very tgt source the modules were compiled against, with only its release
# changed (VERSION=<next>, what its -V prints), and started with bs_pmem.so and lld_srp.so:
#  - its log says, once per module, what it was built for, what it found and what to do;
#  - it lists neither bstype pmem nor the srp LLD, and tgtadm --bstype pmem is refused;
#  - it keeps no child (the probe is reaped) and keeps serving (a LUN of tgt's own rdwr);
# then the distribution's tgtd, with the same module directory, registers both and accepts
# --bstype pmem: what is refused is the release, not the module.
#
#   tgt_release_test.sh TGT_SOURCE_DIR TGT_RELEASE BS_PMEM_SO LLD_SRP_SO CACHE_DIR
# CACHE_DIR keeps the other tgtd between runs (its build takes ~40 s on a busy host).
set -uo pipefail
TGT_SRC=$1 RELEASE=$2 BS_PMEM=$3 LLD_SRP=$4 CACHE=$5
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (mount namespace for tgtd)"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"
source "$(dirname "$0")/../lib/workdir.sh"
CTL=9121 PORT=3381 IQN=iqn.2026-12.org.tgt-pmem:release-test
work_dir WORK tgtpmem-release
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; rm -rf "$WORK"; }
trap cleanup EXIT

# --- a tgtd of the next release, from the same source -------------------------------------
other=$(awk -F. -v OFS=. '{ $NF = $NF + 1; print }' <<<"$RELEASE")  # 1.0.85 -> 1.0.86
other_tgtd=$CACHE/bin/tgtd
if [[ ! -x $other_tgtd || $("$other_tgtd" -V 2>/dev/null) != "$other" ]]; then
  echo "# building tgtd $other from $TGT_SRC (cached in $CACHE)"
  rm -rf "$CACHE" && mkdir -p "$CACHE/bin" && cp -a "$TGT_SRC" "$CACHE/src" || { fail "copy $TGT_SRC"; exit 1; }
  # usr/Makefile alone: VERSION on the command line (the top Makefile would export it); no
  # RDMA, rbd or glusterfs (not needed to load modules).
  if ! make -C "$CACHE/src/usr" -j2 tgtd VERSION="$other" \
       DEB_HOST_MULTIARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)" \
       >"$CACHE/build.log" 2>&1; then
    tail -n 20 "$CACHE/build.log"; fail "building tgtd $other"; exit 1
  fi
  cp "$CACHE/src/usr/tgtd" "$other_tgtd" && rm -rf "$CACHE/src"
fi
[[ $("$other_tgtd" -V) == "$other" ]] && pass "the other tgtd says it is $other" ||
  { fail "$other_tgtd -V: $("$other_tgtd" -V)"; exit 1; }

mkdir "$WORK/modules"
cp "$BS_PMEM" "$LLD_SRP" "$WORK/modules/"
truncate -s 64M "$WORK/a.img"

lists_pmem() { tgtadm_c --mode sys --op show | sed -n '/Backing stores:/,/Device types:/p' | grep -qx '    pmem'; }
lists_srp() { tgtadm_c --mode sys --op show | grep -qE '^[[:space:]]+srp: '; }
pmem_lun() {
  tgtadm_c --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
    --backing-store "$WORK/a.img" >/dev/null 2>&1
}

# --- refused by tgtd $other ------------------------------------------------------------------
log=$WORK/other.log
start=$(date +%s%N)
PATH=$CACHE/bin:$PATH tgtd_start "$WORK/modules" $CTL $PORT "$log" || { cat "$log"; fail "tgtd $other did not start"; exit 1; }
echo "# tgtd $other answered after $(( ($(date +%s%N) - start) / 1000000 )) ms"
[[ $(readlink -f "/proc/$TGTD_PID/exe") == $(readlink -f "$other_tgtd") ]] &&
  pass "running the tgtd of release $other" || fail "not the other tgtd: $(readlink -f "/proc/$TGTD_PID/exe")"
for m in bs_pmem lld_srp; do
  line="$m: not registered: built for tgt $RELEASE, but this tgtd is tgt $other (its internal structures may differ); install the tgt-pmem built for this tgt, or rebuild tgt-pmem against its source (-DTGT_SOURCE_DIR)"
  n=$(grep -cF "$line" "$log")
  (( n == 1 )) && pass "log: $m refuses, once, and says why" || fail "log: $n lines '$line'"
done
grep -q 'registered as bstype pmem' "$log" && fail "bs_pmem registered in tgtd $other" ||
  pass "no registration line"
lists_pmem && fail "tgtd $other lists bstype pmem" || pass "tgtd $other does not list bstype pmem"
lists_srp && fail "tgtd $other lists the srp LLD" || pass "tgtd $other does not list the srp LLD"
tgt_new_target 1 "$IQN" && tgt_allow_all 1
pmem_lun && fail "tgtadm --bstype pmem accepted by tgtd $other" || pass "tgtadm --bstype pmem refused by tgtd $other"
tgtadm_c --lld iscsi --mode logicalunit --op new --tid 1 --lun 2 --bstype rdwr \
  --backing-store "$WORK/a.img" && pass "tgtd $other still serves its own bstype rdwr" ||
  fail "tgtd $other cannot make an rdwr LUN"
children=$(ps -o pid=,stat=,comm= --ppid "$TGTD_PID")
[[ -z $children ]] && pass "tgtd $other has no child left (the probes were reaped)" ||
  fail "tgtd $other has children: $children"
tgtd_stop

# --- accepted by the distribution's tgtd ---------------------------------------------------------
log=$WORK/real.log
tgtd_start "$WORK/modules" $CTL $PORT "$log" || { cat "$log"; fail "tgtd did not start"; exit 1; }
[[ $(tgtd -V) == "$RELEASE" ]] && pass "the distribution's tgtd is $RELEASE" || fail "tgtd -V: $(tgtd -V)"
grep -q 'not registered' "$log" && fail "a module refused the distribution's tgtd: $(grep 'not registered' "$log")" ||
  pass "no refusal in the distribution's tgtd"
grep -q "bs_pmem .* registered as bstype pmem" "$log" && pass "log: bs_pmem registered" || fail "no registration line"
lists_pmem && pass "tgtd $RELEASE lists bstype pmem" || fail "tgtd $RELEASE does not list pmem"
lists_srp && pass "tgtd $RELEASE lists the srp LLD" || fail "tgtd $RELEASE does not list srp"
tgt_new_target 1 "$IQN" && tgt_allow_all 1
pmem_lun && pass "tgtadm --bstype pmem accepted by tgtd $RELEASE" || fail "tgtadm --bstype pmem refused by tgtd $RELEASE"
children=$(ps -o pid=,stat=,comm= --ppid "$TGTD_PID")
[[ -z $children ]] && pass "tgtd $RELEASE has no child left" || fail "tgtd $RELEASE has children: $children"
tgtd_stop

if (( failures )); then
  echo "--- logs ---"; cat "$WORK"/*.log
  echo "tgt_release_test: $failures check(s) failed"; exit 1
fi
echo "tgt_release_test: all checks passed"
