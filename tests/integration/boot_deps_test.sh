#!/usr/bin/env bash
# The systemd side of tgt-pmem at boot (bs_pmem(8), "At boot"), on real files with the real
# systemd tools of the host (no systemd needs to run): tgt-pmem-generator, as configured for
# installation, reads a tgt-admin configuration with includes and an fstab and writes the
# drop-in that makes tgt.service wait for its pmem LUNs' devices and file systems:
#   - the drop-in has exactly the expected Wants=/After= (and nothing for the LUNs that need
#     nothing), and every unit name is what `systemd-escape --path` makes of the path;
#   - `systemd-analyze verify` of Debian's real tgt.service with our static drop-in and the
#     generated one prints no complaint (and does complain about a broken drop-in: the check
#     can fail);
#   - a generator must never fail the boot: a missing configuration, no output directory, a
#     failing tgtpmem-admin: exit 0, nothing written, a reason on stderr where there is one.
# The whole boot with the real systemd is tests/e2e/scenarios/tgt-service.sh.
# Usage: boot_deps_test.sh GENERATOR DROP_IN TGTPMEM_ADMIN
set -uo pipefail
GEN=$1 DROP_IN=$2 ADMIN=$3
source "$(dirname "$0")/../lib/workdir.sh"
command -v systemd-escape >/dev/null || { echo "systemd-escape missing (package systemd)"; exit 77; }
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (package systemd)"; exit 77; }
work_dir W tgtpmem-boot-deps
trap 'rm -rf "$W"' EXIT
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir -p "$W/etc/conf.d" "$W/gen/normal" "$W/gen/early" "$W/gen/late"
cat > "$W/etc/targets.conf" <<CONF
ignore-errors yes
include $W/etc/conf.d/*.conf
CONF
cat > "$W/etc/conf.d/10-dax.conf" <<'CONF'
<target iqn.2026-12.org.example:dax>
  bs-type pmem
  backing-store /dev/dax0.0
</target>
CONF
cat > "$W/etc/conf.d/20-files.conf" <<'CONF'
<target iqn.2026-12.org.example:files>
  <backing-store /srv/pmem-a/luns/lun1.img>
    bs-type pmem
    bsopts block_size=4096
  </backing-store>
  <backing-store /var/lib/tgt-pmem/root.img>
    bs-type pmem
  </backing-store>
  <backing-store /srv/pmem-a/luns/rdwr.img>
  </backing-store>
</target>
CONF
cat > "$W/fstab" <<'FSTAB'
# <file system> <mount point> <type> <options> <dump> <pass>
UUID=0a1b / ext4 errors=remount-ro 0 1
/dev/pmem1 /srv/pmem-a ext4 dax,nofail 0 0
/dev/sdb1 /srv/pmem-a/luns ext4 dax,nofail 0 0
/dev/sda2 none swap sw 0 0
FSTAB

run_gen() {  # run_gen CONFIG [ADMIN]: the generator as systemd runs it, stderr in $W/gen.err
  rm -rf "$W/gen/normal"/*
  TGTPMEM_GENERATOR_CONFIG=$1 TGTPMEM_GENERATOR_FSTAB=$W/fstab \
    TGTPMEM_GENERATOR_ADMIN=${2:-$ADMIN} "$GEN" "$W/gen/normal" "$W/gen/early" "$W/gen/late" \
    2>"$W/gen.err"
}

# ---- the drop-in for a real configuration ------------------------------------------------
run_gen "$W/etc/targets.conf"
rc=$?
out=$W/gen/normal/tgt.service.d/50-tgt-pmem-deps.conf
if (( rc == 0 )) && [[ -f $out && ! -s $W/gen.err ]]; then
  pass "generator wrote $out"
else
  fail "generator: exit $rc, stderr: $(cat "$W/gen.err"), files: $(find "$W/gen" -type f)"
fi
cat "$out" 2>/dev/null
dax_unit=$(systemd-escape --path --suffix=device /dev/dax0.0)
mnt1=$(systemd-escape --path --suffix=mount /srv/pmem-a)
mnt2=$(systemd-escape --path --suffix=mount /srv/pmem-a/luns)
expected="Wants=$dax_unit
After=$dax_unit
Wants=$mnt1 $mnt2
After=$mnt1 $mnt2"
got=$(grep -E '^(Wants|After|Requires|BindsTo|Requisite)' "$out" 2>/dev/null)
if [[ $got == "$expected" ]]; then
  pass "dependencies as systemd-escape names them: $dax_unit, $mnt1, $mnt2"
else
  fail "dependencies: expected
$expected
got
$got"
fi
if grep -q "^# $W/etc/conf.d/20-files.conf:6: target iqn.2026-12.org.example:files, /var/lib/tgt-pmem/root.img: on no file system of fstab but /" "$out" &&
   ! grep -q 'rdwr.img' "$out"; then
  pass "a file on / needs nothing (said so, with file:line); the rdwr LUN is not ours"
else
  fail "the LUN on / or the rdwr LUN is described wrongly"
fi

# ---- systemd-analyze verify: Debian's tgt.service with both drop-ins -----------------------
verify() {  # verify DROPIN...: tgt.service with these drop-ins; systemd's complaints on stdout
  rm -rf "$W/units" && mkdir -p "$W/units/tgt.service.d"
  cp "$tgt_unit" "$W/units/tgt.service" && cp "$@" "$W/units/tgt.service.d/"
  (cd "$W/units" && SYSTEMD_UNIT_PATH=$W/units: systemd-analyze verify --man=no tgt.service 2>&1)
}
tgt_unit=/lib/systemd/system/tgt.service
if [[ ! -f $tgt_unit ]]; then
  fail "$tgt_unit missing: Debian's tgt is not installed"
else
  complaints=$(verify "$DROP_IN" "$out")
  if [[ -z $complaints ]]; then
    pass "systemd-analyze verify tgt.service with both drop-ins: no complaint"
  else
    fail "systemd-analyze verify: $complaints"
  fi
  # The check can fail: a drop-in with a unit name systemd cannot take.
  sed 's/^Wants=dev-dax0.0.device/Wants=dev-dax0.0/' "$out" > "$W/50-broken.conf"
  complaints=$(verify "$DROP_IN" "$W/50-broken.conf")
  if [[ $complaints == *"Failed to add dependency on dev-dax0.0"* ]]; then
    pass "systemd-analyze verify catches a broken drop-in"
  else
    fail "systemd-analyze verify did not complain about a broken drop-in: '$complaints'"
  fi
  if grep -qx "ExecStartPre=-.*tgtpmem-admin check-config /etc/tgt/targets.conf" "$DROP_IN"; then
    pass "the static drop-in runs check-config before tgtd, as a report only ('-')"
  else
    fail "the static drop-in has no ExecStartPre=-... check-config: $(cat "$DROP_IN")"
  fi
fi

# ---- a generator never fails the boot -----------------------------------------------------
nothing_written() { [[ -z $(find "$W/gen/normal" -mindepth 1) ]]; }
run_gen "$W/etc/missing.conf"; rc=$?
if (( rc == 0 )) && nothing_written && [[ ! -s $W/gen.err ]]; then
  pass "no configuration: exit 0, nothing written, silent"
else
  fail "no configuration: exit $rc, stderr '$(cat "$W/gen.err")'"
fi
run_gen "$W/etc/targets.conf" /bin/false; rc=$?
if (( rc == 0 )) && nothing_written && grep -q 'failed' "$W/gen.err"; then
  pass "tgtpmem-admin failing: exit 0, nothing written, said so"
else
  fail "tgtpmem-admin failing: exit $rc, written: $(find "$W/gen/normal" -type f)"
fi
TGTPMEM_GENERATOR_CONFIG=$W/etc/targets.conf "$GEN" 2>"$W/gen.err"; rc=$?
if (( rc == 0 )) && grep -q 'no output directory' "$W/gen.err"; then
  pass "no output directory: exit 0, said so"
else
  fail "no output directory: exit $rc"
fi

echo "boot_deps: $failures failure(s)"
(( failures == 0 ))
