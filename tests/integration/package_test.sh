#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The Debian packages, installed for real: build them (packaging/build-deb.sh), dpkg -i them,
# start a tgtd of our own from the installed files (control port 9311, iSCSI 127.0.0.1:3311),
# serve pmem LUNs on files made by the installed
# tgtpmem-admin, once with tgtadm and once with Debian's unchanged tgt-admin from the shipped
# targets.conf example, do verified I/O with the installed tgtpmem-load and libiscsi's
# tools, try push mode (bsopts push=on) and the installed tgtpmem-push, build an application
# of the push client library (push_client_app.cc) with pkg-config against the installed
# libtgtpmem-push-dev and run it, upgrade tgt under it to another Debian revision of the same
# release (tgt-pmem stays configured, the upgraded tgtd loads it) and try one of another
# release (dpkg refuses it), then dpkg -r (the running tgtd keeps its module; a new one no
# longer has it) and dpkg -P, and check that nothing the packages installed is left behind.
#
#   package_test.sh REPO_DIR WORK_DIR [TGT_SOURCE_DIR]
#
# Leaves the machine as it found it: skipped (77) if one of the packages is already
# installed; a bs_pmem.so or lld_srp.so installed by hand (cmake --install) is put back
# afterwards, and so is the tgt package (its .deb from apt's cache, or apt-get download).
# Run it under 'flock /tmp/tgtpmem-pkg.lock': it installs packages system-wide.
set -uo pipefail
# grepq: grep -q that reads all its input. Under pipefail, 'producer | grep -q' fails when grep
# exits at the first match and the producer dies of SIGPIPE (ldconfig -p did, in CI).
grepq() { grep "$@" >/dev/null; }
repo=$(readlink -f "${1:?usage: package_test.sh REPO_DIR WORK_DIR [TGT_SOURCE_DIR]}")
pkg_work=${2:?usage: package_test.sh REPO_DIR WORK_DIR [TGT_SOURCE_DIR]}
[[ -n ${3:-} ]] && export TGT_SOURCE_DIR=$3
CTL=${PACKAGE_TEST_CONTROL_PORT:-9311} PORT=${PACKAGE_TEST_ISCSI_PORT:-3311}
PUSH_PORT=${PACKAGE_TEST_PUSH_PORT:-3312}  # an RDMA CM port, used only with an RDMA device
BSDIR=/usr/lib/tgt/backing-store
IQN1=iqn.2026-11.org.tgt-pmem:package-test IQN2=iqn.2026-11.org.example:pmem

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (dpkg -i)"
for tool in dpkg-buildpackage dh tgtd tgtadm tgt-admin iscsi-inq iscsi-readcapacity16 jq g++ \
            pkg-config nm objdump; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup-deps.sh)"
done
PACKAGES=(tgt-pmem libtgtpmem-push0 libtgtpmem-push-dev)
for p in "${PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grepq 'installed'; then
    skip "$p is installed already; this test would replace and remove it"
  fi
done
LIBDIR=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)

source "$repo/tests/lib/tgtd.sh"  # tgtadm_c, tgtd_stop (the start is ours: no bind mount)
source "$repo/tests/lib/workdir.sh"
work_dir work tgtpmem-package
log=$work/tgtd.log
failures=0 installed=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }

# State to restore: a hand-installed module, and whether the module directory existed.
had_bsdir=0; [[ -d $BSDIR ]] && had_bsdir=1
for m in bs_pmem.so lld_srp.so; do
  if [[ -e $BSDIR/$m ]]; then cp -a "$BSDIR/$m" "$work/$m.orig"; fi
done

tgt_orig_version=$(dpkg-query -W -f='${Version}' tgt)
tgt_orig_deb=""     # the installed tgt's .deb, once the upgrade test has found it
made_policy_rc=0    # whether this test put /usr/sbin/policy-rc.d there
had_tgt_pid=0; [[ -e /run/tgt.pid ]] && had_tgt_pid=1
tgt_was_auto=0; apt-mark showauto tgt 2>/dev/null | grepq -x tgt && tgt_was_auto=1
restore_tgt() {
  [[ $(dpkg-query -W -f='${Version}' tgt 2>/dev/null) == "$tgt_orig_version" ]] && return 0
  [[ -n $tgt_orig_deb ]] || { echo "FAIL - cannot put tgt $tgt_orig_version back: no .deb"; return 1; }
  DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "$tgt_orig_deb" >"$work/tgt-restore.out" 2>&1 ||
    { echo "FAIL - dpkg -i $tgt_orig_deb:"; cat "$work/tgt-restore.out"; return 1; }
  (( tgt_was_auto )) && apt-mark auto tgt >/dev/null  # apt-get install ./tgt.deb marked it manual
  return 0
}
cleanup() {
  tgtd_stop 2>/dev/null
  restore_tgt
  (( made_policy_rc )) && rm -f /usr/sbin/policy-rc.d
  (( had_tgt_pid )) || rm -f /run/tgt.pid  # tgt's postinst writes it when a tgtd runs
  if (( installed )); then dpkg -P "${PACKAGES[@]}" >/dev/null 2>&1; fi
  for m in bs_pmem.so lld_srp.so; do
    if [[ -e $work/$m.orig ]]; then mkdir -p "$BSDIR"; cp -a "$work/$m.orig" "$BSDIR/$m"; fi
  done
  if (( had_bsdir )); then mkdir -p "$BSDIR"; fi
  if (( failures )); then echo "--- tgtd log ---"; cat "$log" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

start_installed_tgtd() {
  tgtd -f -C "$CTL" --iscsi "portal=127.0.0.1:$PORT" \
    >>"$log" 2>&1 </dev/null &
  TGTD_PID=$! TGTD_CONTROL_PORT=$CTL
  local i
  for i in $(seq 1 100); do
    kill -0 "$TGTD_PID" 2>/dev/null || { fail "tgtd exited at start"; return 1; }
    tgtadm -C "$CTL" --mode sys --op show >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "tgtd did not answer on control port $CTL"; return 1
}
bstypes() { tgtadm_c --mode sys --op show | sed -n '/Backing stores:/,/Device types:/p'; }

# --- 1. build ------------------------------------------------------------------------------
start=$(date +%s)
if ! deb=$(TGTPMEM_PKG_WORK=$pkg_work "$repo/packaging/build-deb.sh" "$work/out" 2>"$work/build.err" | tail -n 1); then
  cat "$work/build.err"; fail "build-deb.sh failed"; exit 1
fi
echo "# .deb built in $(( $(date +%s) - start )) s: $deb"
grep '^build-deb: lintian:' "$work/build.err" | grep -E ': [EW]: ' && fail "lintian errors or warnings" ||
  pass "lintian: no errors or warnings"
# Any Debian revision of the tgt release the modules were built for (README.md, 'Packages'),
# and that release in the version, so that a build against another one is an upgrade.
tgt_version=$(dpkg-query -W -f='${Version}' tgt)
tgt_epoch=$(sed -n 's/^\([0-9]*:\).*/\1/p' <<<"$tgt_version")
tgt_release=${tgt_version#*:} tgt_release=${tgt_release%-*}
tgt_next=$(awk -F. -v OFS=. '{ $NF = $NF + 1; print }' <<<"$tgt_release")
want="tgt (>= $tgt_epoch$tgt_release), tgt (<< $tgt_epoch$tgt_next~)"
[[ $(dpkg-deb -f "$deb" Depends) == "$want, "* ]] &&
  pass "Depends: $want" || fail "Depends is not '$want, ...': $(dpkg-deb -f "$deb" Depends)"
[[ $(dpkg-deb -f "$deb" Version) == *"+tgt$tgt_release" ]] &&
  pass "Version $(dpkg-deb -f "$deb" Version) names tgt $tgt_release" ||
  fail "Version $(dpkg-deb -f "$deb" Version) does not end in +tgt$tgt_release"
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^$' | sort >"$work/files"
for f in $BSDIR/bs_pmem.so $BSDIR/lld_srp.so /usr/bin/tgtpmem-admin /usr/bin/tgtpmem-load \
         /usr/bin/tgtpmem-push \
         /usr/share/man/man8/bs_pmem.8.gz /usr/share/man/man8/lld_srp.8.gz \
         /usr/share/man/man8/tgtpmem-admin.8.gz /usr/share/man/man1/tgtpmem-load.1.gz \
         /usr/share/man/man1/tgtpmem-push.1.gz \
         /usr/share/doc/tgt-pmem/examples/pmem.conf /usr/share/doc/tgt-pmem/examples/srp.conf \
         /usr/share/doc/tgt-pmem/copyright; do
  grep -qx "$f" "$work/files" && pass "ships $f" || fail "does not ship $f"
done
# Exactly these files, nothing more: no headers in particular (they are libtgtpmem-push-dev's).
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort >"$work/regular"
sort >"$work/expected" <<LIST
$BSDIR/bs_pmem.so
$BSDIR/lld_srp.so
/usr/bin/tgtpmem-admin
/usr/bin/tgtpmem-load
/usr/bin/tgtpmem-push
/usr/share/bash-completion/completions/tgtadm
/usr/share/bash-completion/completions/tgtpmem-admin
/usr/share/bash-completion/completions/tgtpmem-load
/usr/share/bash-completion/completions/tgtpmem-push
/usr/share/doc/tgt-pmem/README.md
/usr/share/doc/tgt-pmem/atomic-layout.md
/usr/share/doc/tgt-pmem/changelog.gz
/usr/share/doc/tgt-pmem/copyright
/usr/share/doc/tgt-pmem/push-protocol.md
/usr/share/doc/tgt-pmem/security.md
/usr/share/doc/tgt-pmem/examples/pmem.conf
/usr/share/doc/tgt-pmem/examples/srp.conf
/usr/share/man/man1/tgtpmem-load.1.gz
/usr/share/man/man1/tgtpmem-push.1.gz
/usr/share/man/man8/bs_pmem.8.gz
/usr/share/man/man8/lld_srp.8.gz
/usr/share/man/man8/tgtpmem-admin.8.gz
/lib/systemd/system/tgt.service.d/tgt-pmem.conf
/lib/systemd/system-generators/tgt-pmem-generator
/lib/udev/rules.d/60-tgt-pmem-dax.rules
LIST
diff "$work/expected" "$work/regular" >"$work/files.diff" && pass "ships exactly the expected files (no headers)" ||
  { fail "the .deb's files differ from the expected list:"; cat "$work/files.diff"; }
# The man pages cite the documents by these paths: each path a man page names must be shipped.
for page in bs_pmem.8 lld_srp.8; do
  for doc in $(dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/share/man/man8/$page.gz" | gzip -d |
               sed 's/\\&//g; s/\\-/-/g' | grep -o '/usr/share/doc/tgt-pmem/[A-Za-z0-9._/-]*' | sed 's/[.]$//' | sort -u); do
    grep -qx "$doc" "$work/regular" && pass "$page cites $doc, which is shipped" ||
      fail "$page cites $doc, which the .deb does not ship"
  done
done
# Where the examples and quickstart.sh put backing-store files; ndctl/daxctl set up namespaces.
grep -qx /var/lib/tgt-pmem "$work/files" && pass "ships the directory /var/lib/tgt-pmem" ||
  fail "no /var/lib/tgt-pmem directory"
[[ $(dpkg-deb -f "$deb" Recommends) == 'ndctl, daxctl' ]] && pass "Recommends: ndctl, daxctl" ||
  fail "Recommends: $(dpkg-deb -f "$deb" Recommends)"
# bs_pmem.so and tgtpmem-push link librdmacm, libibverbs and Nettle (push mode, CHAP).
depends=$(dpkg-deb -f "$deb" Depends)
for p in librdmacm1 libibverbs1 libnettle8; do
  [[ $depends =~ (^|[ ,])$p([ ,]|$) ]] && pass "Depends: $p (from shlibs)" || fail "Depends lacks $p: $depends"
done

# The push client library: libtgtpmem-push0 (the .so.N) and libtgtpmem-push-dev (headers, the
# .so link, tgtpmem-push.pc), built beside tgt-pmem.
# Our own upstream version: the package's without the tgt release (0.1.0+tgt1.0.85 -> 0.1.0).
version=$(dpkg-deb -f "$deb" Version) upstream=$(dpkg-deb -f "$deb" Version | sed 's/+tgt.*$//')
lib_deb=$(ls "$(dirname "$deb")"/libtgtpmem-push0_"${version}"_*.deb 2>/dev/null | head -n 1)
dev_deb=$(ls "$(dirname "$deb")"/libtgtpmem-push-dev_"${version}"_*.deb 2>/dev/null | head -n 1)
if [[ -z $lib_deb || -z $dev_deb ]]; then
  fail "libtgtpmem-push0 / libtgtpmem-push-dev not built:"; ls "$(dirname "$deb")"; exit 1
fi
regular_files() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort; }
regular_files "$lib_deb" >"$work/regular-lib"
sort >"$work/expected-lib" <<LIST
$LIBDIR/libtgtpmem-push.so.0
$LIBDIR/libtgtpmem-push.so.$upstream
/usr/share/doc/libtgtpmem-push0/changelog.gz
/usr/share/doc/libtgtpmem-push0/copyright
LIST
diff "$work/expected-lib" "$work/regular-lib" >"$work/files-lib.diff" &&
  pass "libtgtpmem-push0 ships exactly libtgtpmem-push.so.0 and .so.$upstream" ||
  { fail "libtgtpmem-push0's files differ from the expected list:"; cat "$work/files-lib.diff"; }
regular_files "$dev_deb" >"$work/regular-dev"
sort >"$work/expected-dev" <<LIST
$LIBDIR/libtgtpmem-push.so
$LIBDIR/pkgconfig/tgtpmem-push.pc
/usr/include/tgt_pmem/push/client.h
/usr/include/tgt_pmem/push/export.h
/usr/include/tgt_pmem/push/protocol.h
/usr/share/doc/libtgtpmem-push-dev/changelog.gz
/usr/share/doc/libtgtpmem-push-dev/copyright
LIST
diff "$work/expected-dev" "$work/regular-dev" >"$work/files-dev.diff" &&
  pass "libtgtpmem-push-dev ships exactly the headers, the .so link and tgtpmem-push.pc" ||
  { fail "libtgtpmem-push-dev's files differ from the expected list:"; cat "$work/files-dev.diff"; }
dpkg-deb -c "$dev_deb" | grepq -E " \./usr/lib/[^ ]+/libtgtpmem-push\.so -> libtgtpmem-push\.so\.0$" &&
  pass "the .so link points to the SONAME" || fail "libtgtpmem-push.so does not link to libtgtpmem-push.so.0"
[[ $(dpkg-deb -f "$dev_deb" Depends) == *"libtgtpmem-push0 (= $version)"* ]] &&
  pass "libtgtpmem-push-dev Depends: libtgtpmem-push0 (= $version)" ||
  fail "libtgtpmem-push-dev Depends: $(dpkg-deb -f "$dev_deb" Depends)"
lib_depends=$(dpkg-deb -f "$lib_deb" Depends)
for p in librdmacm1 libibverbs1 libnettle8 libstdc++6; do
  tr ',' '\n' <<<"$lib_depends" | awk '{ print $1 }' | grepq -xF "$p" && pass "libtgtpmem-push0 Depends: $p" ||
    fail "libtgtpmem-push0 Depends lacks $p: $lib_depends"
done
[[ $lib_depends != *libpmem2* ]] && pass "libtgtpmem-push0 does not depend on libpmem2" ||
  fail "libtgtpmem-push0 depends on libpmem2: $lib_depends"
[[ $(dpkg-deb -f "$lib_deb" Multi-Arch) == same && $(dpkg-deb -f "$dev_deb" Multi-Arch) == same ]] &&
  pass "the library packages are Multi-Arch: same" || fail "the library packages are not Multi-Arch: same"
dpkg-deb -I "$lib_deb" shlibs 2>/dev/null | grepq -x "libtgtpmem-push 0 libtgtpmem-push0 (>= $upstream)" &&
  pass "shlibs: libtgtpmem-push 0 libtgtpmem-push0 (>= $upstream)" ||
  { fail "shlibs control file:"; dpkg-deb -I "$lib_deb" shlibs; }
dpkg-deb -I "$lib_deb" triggers 2>/dev/null | grepq -x 'activate-noawait ldconfig' &&
  pass "libtgtpmem-push0 activates the ldconfig trigger" || fail "no ldconfig trigger in libtgtpmem-push0"
dpkg-deb --fsys-tarfile "$lib_deb" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^$' | sort >"$work/files-lib"
dpkg-deb --fsys-tarfile "$dev_deb" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^$' | sort >"$work/files-dev"
# What existed before, so that "left behind" means "created by the packages and still there".
cat "$work/files" "$work/files-lib" "$work/files-dev" | sort -u >"$work/files-all"
while read -r f; do [[ -e $f || -L $f ]] && echo "$f"; done <"$work/files-all" >"$work/existed"

# --- 2. install ----------------------------------------------------------------------------
if dpkg -i "$deb" "$lib_deb" "$dev_deb" >"$work/install.out" 2>&1; then
  installed=1; pass "dpkg -i tgt-pmem libtgtpmem-push0 libtgtpmem-push-dev"
else
  cat "$work/install.out"; fail "dpkg -i failed"; exit 1
fi
grep -qE 'tgt-pmem: tgtd (is running without bs_pmem.so: restart it|will load bs_pmem.so)' "$work/install.out" &&
  pass "postinst says tgtd must be (re)started" || { fail "postinst message missing"; cat "$work/install.out"; }
[[ -z $(dpkg --verify "${PACKAGES[@]}") ]] && pass "dpkg --verify: installed files intact" || fail "dpkg --verify"
# Every installed tool says which tgt-pmem it is, the package's upstream version.
for t in tgtpmem-admin tgtpmem-load tgtpmem-push; do
  got=$(/usr/bin/$t --version 2>&1 | head -n 1)
  [[ $got == "$t (tgt-pmem) $upstream" ]] && pass "$t --version: $got" ||
    fail "$t --version printed '$got', expected '$t (tgt-pmem) $upstream'"
done
# At boot (bs_pmem(8)): the drop-in names the installed tgtpmem-admin, the generator is
# executable and, run as systemd runs it, writes the drop-in for a pmem LUN's device;
# systemd-analyze verify of Debian's tgt.service (with the installed drop-in) has no complaint.
dropin=/lib/systemd/system/tgt.service.d/tgt-pmem.conf gen=/lib/systemd/system-generators/tgt-pmem-generator
grepq -x 'ExecStartPre=-/usr/bin/tgtpmem-admin check-config /etc/tgt/targets.conf' "$dropin" &&
  pass "the drop-in runs /usr/bin/tgtpmem-admin check-config before tgtd" || fail "the drop-in: $(cat "$dropin")"
mkdir -p "$work/gen"
printf '<target iqn.2026-12.org.example:pkg>\n  bs-type pmem\n  backing-store /dev/dax7.0\n</target>\n' >"$work/gen.conf"
if [[ -x $gen ]] && TGTPMEM_GENERATOR_CONFIG=$work/gen.conf "$gen" "$work/gen" "$work/gen" "$work/gen" &&
   grepq -x 'Wants=dev-dax7.0.device' "$work/gen/tgt.service.d/50-tgt-pmem-deps.conf"; then
  pass "the installed generator writes tgt.service.d/50-tgt-pmem-deps.conf (Wants=dev-dax7.0.device)"
else
  fail "the installed generator: $(ls -l "$gen"; cat "$work/gen/tgt.service.d/50-tgt-pmem-deps.conf" 2>&1)"
fi
if command -v systemd-analyze >/dev/null; then
  complaints=$(cd / && systemd-analyze verify --man=no tgt.service 2>&1 | grep -iE 'tgt-pmem|tgtpmem')
  [[ -z $complaints ]] && pass "systemd-analyze verify tgt.service: nothing about tgt-pmem's drop-in" ||
    fail "systemd-analyze verify tgt.service: $complaints"
fi
diff <(dpkg -L tgt-pmem | grep -v '^/\.$' | sort) <(grep -v '^/$' "$work/files" | sort) >/dev/null &&
  pass "dpkg -L matches the .deb" || fail "dpkg -L differs from the .deb contents"
for p in lib dev; do
  name=libtgtpmem-push0; [[ $p == dev ]] && name=libtgtpmem-push-dev
  diff <(dpkg -L "$name" | grep -v '^/\.$' | sort) <(grep -v '^/$' "$work/files-$p" | sort) >"$work/dpkg-L-$p.diff" &&
    pass "dpkg -L $name matches its .deb" || { fail "dpkg -L $name differs from its .deb:"; cat "$work/dpkg-L-$p.diff"; }
done
man -w bs_pmem >/dev/null 2>&1 && man -w lld_srp >/dev/null 2>&1 && man -w tgtpmem-admin >/dev/null 2>&1 &&
  man -w tgtpmem-push >/dev/null 2>&1 &&
  pass "man pages found by man -w" ||
  fail "man -w cannot find the man pages"

# --- 3. a LUN through tgtadm ----------------------------------------------------------------
start_installed_tgtd || exit 1
bstypes | grepq -x '    pmem' && pass "installed tgtd lists bstype pmem" || fail "pmem not among the backing stores"
# The SRP driver is loaded whether or not this host has an RDMA device (state ready or error).
tgtadm_c --mode sys --op show | grepq -E '^[[:space:]]+srp: (ready|error)$' &&
  pass "installed tgtd lists the srp LLD (lld_srp.so)" || fail "srp not among the LLDs"
grep -q "bs_pmem .* (built for tgt $tgt_version) registered as bstype pmem" "$log" &&
  pass "log: module registered, built for tgt $tgt_version" || fail "no registration line in the log"
/usr/bin/tgtpmem-admin create "$work/a.img" --size 64m >/dev/null && pass "installed tgtpmem-admin create" ||
  fail "tgtpmem-admin create"
tgtadm_c --lld iscsi --mode target --op new --tid 1 --targetname "$IQN1" &&
  tgtadm_c --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem --backing-store "$work/a.img" &&
  tgtadm_c --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL ||
  fail "tgtadm could not create the pmem LUN"
# A plain file: msync, whatever tgtd's environment says (issue 13).
grep -qF "bs_pmem: opened $work/a.img: file, 67108864 bytes, block size 512, durability msync, write cache off, exec auto" "$log" &&
  pass "log: opened with durability msync" || fail "no 'opened' line with msync"
url1=iscsi://127.0.0.1:$PORT/$IQN1/1
iscsi-inq "$url1" >"$work/inq.out" 2>&1 && grep -q 'Peripheral Device Type:DIRECT_ACCESS' "$work/inq.out" &&
  pass "iscsi-inq answers" || { fail "iscsi-inq"; cat "$work/inq.out"; }
/usr/bin/tgtpmem-load --json --verify --read-percent 50 --queue-depth 8 --ios 4000 --size 16m "$url1" \
  >"$work/load.json" 2>"$work/load.err"
jq -e '.ok and .verify.errors == 0 and .write.ios > 0 and .verify.blocks_checked > 0' "$work/load.json" >/dev/null &&
  pass "verified I/O with the installed tgtpmem-load" || { fail "tgtpmem-load"; cat "$work/load.json" "$work/load.err"; }

# --- 3b. push mode: bs_pmem.so with RDMA CM, the installed tgtpmem-push ---------------------
# Without an RDMA device (the usual host) a push=on LUN is refused, and said why; with one it
# listens. Either way the installed module reached librdmacm. The push service itself runs
# in the e2e guest (tests/e2e/scenarios/push-mode.sh).
/usr/bin/tgtpmem-push --help >"$work/push-help.out" 2>&1 && grep -q -- '--address' "$work/push-help.out" &&
  pass "installed tgtpmem-push --help" || { fail "tgtpmem-push --help"; cat "$work/push-help.out"; }
/usr/bin/tgtpmem-admin create "$work/push.img" --size 16m >/dev/null
push_lun() {
  tgtadm_c --lld iscsi --mode logicalunit --op new --tid 1 --lun 2 --bstype pmem \
    --backing-store "$work/push.img" --bsopts "push=on;push_port=$PUSH_PORT" >/dev/null 2>&1
}
if compgen -G '/sys/class/infiniband/*' >/dev/null; then
  push_lun && pass "push=on LUN created (this host has an RDMA device)" || fail "push=on LUN refused"
  grep -qF "bs_pmem: $work/push.img: push mode on RDMA CM port $PUSH_PORT (target 1, LUN 2)" "$log" &&
    pass "log: push mode on RDMA CM port $PUSH_PORT" || fail "no 'push mode on RDMA CM port' line"
  tgtadm_c --lld iscsi --mode logicalunit --op delete --tid 1 --lun 2 >/dev/null 2>&1
  grep -qF "push: port $PUSH_PORT stopped" "$log" && pass "log: the push port stops with its last LUN" ||
    fail "no 'push: port $PUSH_PORT stopped' line"
else
  push_lun && fail "push=on LUN accepted without an RDMA device" ||
    pass "push=on LUN refused without an RDMA device"
  grep -qF "bs_pmem: refused: $work/push.img: push mode cannot listen on RDMA CM 0.0.0.0 port $PUSH_PORT (no RDMA device for that address)" "$log" &&
    pass "log: push mode cannot listen (no RDMA device)" || fail "no 'cannot listen ... (no RDMA device for that address)' line"
  tgtadm_c --mode target --op show | grepq 'LUN: 2' && fail "a refused push LUN is listed" ||
    pass "the refused push LUN is not listed"
  /usr/bin/tgtpmem-push -a 127.0.0.1 -p "$PUSH_PORT" -i iqn.2026-11.org.example:client -t "$IQN1" -l 2 \
    --timeout 2 >"$work/push.out" 2>&1
  rc=$?
  (( rc == 1 )) && grep -q "^connect 127.0.0.1:$PUSH_PORT: FAILED " "$work/push.out" &&
    pass "installed tgtpmem-push: connect FAILED, exit 1, without an RDMA device" ||
    { fail "tgtpmem-push without an RDMA device (exit $rc)"; cat "$work/push.out"; }
fi

# --- 3c. the push client library: an application built from the installed files only --------
# push_client_app.cc is copied out of the tree; the compiler sees only what pkg-config names.
ldconfig -p | grepq -F 'libtgtpmem-push.so.0 (' &&
  pass "ldconfig's cache has libtgtpmem-push.so.0 (the dpkg trigger ran)" ||
  fail "libtgtpmem-push.so.0 is not in ldconfig's cache"
[[ $(pkg-config --modversion tgtpmem-push 2>&1) == "$upstream" ]] &&
  pass "pkg-config --modversion tgtpmem-push: $upstream" ||
  fail "pkg-config tgtpmem-push: $(pkg-config --modversion tgtpmem-push 2>&1)"
# The library after the source: Debian's g++ links with --as-needed, which drops a library
# named before the objects that need it.
mkdir -p "$work/app"
cp "$repo/tests/integration/push_client_app.cc" "$work/app/app.cc"
cflags=$(pkg-config --cflags tgtpmem-push) libs=$(pkg-config --libs tgtpmem-push)
echo "# g++ -std=c++2b $cflags -o app app.cc $libs"
[[ $cflags != *-std=* ]] && pass "pkg-config's flags leave the language standard to the application" ||
  fail "pkg-config --cflags tgtpmem-push forces a standard: $cflags"
# shellcheck disable=SC2086  # the flags are words
if (cd "$work/app" && env -u CPATH -u CPLUS_INCLUDE_PATH -u LIBRARY_PATH \
      g++ -std=c++2b -Wall -Wextra -Werror $cflags -o app app.cc $libs) >"$work/app/build.out" 2>&1; then
  pass "push_client_app.cc builds with -std=c++2b and pkg-config's flags against the installed files"
else
  fail "push_client_app.cc does not build:"; cat "$work/app/build.out"
fi
# Without C++23 the header says what it needs, rather than failing somewhere in <expected>.
# shellcheck disable=SC2086
(cd "$work/app" && g++ $cflags -c -o /dev/null app.cc) >"$work/app/build17.out" 2>&1
grep -q "needs C++23" "$work/app/build17.out" && pass "without -std=c++2b the header asks for C++23" ||
  { fail "g++ without -std=c++2b: no clear message"; head -n 5 "$work/app/build17.out"; }
# shellcheck disable=SC2086
(cd "$work/app" && g++ $cflags -M app.cc) >"$work/app/deps" 2>&1
grep -qw /usr/include/tgt_pmem/push/client.h "$work/app/deps" && ! grep -qF "$repo" "$work/app/deps" &&
  pass "the headers came from /usr/include/tgt_pmem/push, none from the source tree" ||
  { fail "headers not (only) from /usr/include:"; cat "$work/app/deps"; }
loaded=$(env -u LD_LIBRARY_PATH ldd "$work/app/app" 2>&1 | awk '$1 == "libtgtpmem-push.so.0" { print $3 }')
[[ -n $loaded && $(readlink -f "$loaded") == $(readlink -f "$LIBDIR/libtgtpmem-push.so.0") ]] &&
  pass "the application loads the installed libtgtpmem-push.so.0 ($loaded)" ||
  { fail "the application does not load the installed library:"; ldd "$work/app/app"; }
if env -u LD_LIBRARY_PATH "$repo/tests/integration/push_client_library_test.sh" \
     "$LIBDIR/libtgtpmem-push.so.0" "$work/app/app" >"$work/app/run.out" 2>&1; then
  sed 's/^/    /' "$work/app/run.out"
  pass "the installed library and its application (push_client_library_test.sh)"
else
  fail "push_client_library_test.sh on the installed files:"; cat "$work/app/run.out"
fi

# --- 3d. tgt upgraded under tgt-pmem ----------------------------------------------------------
# tgt's .deb, repacked with only its version changed: another Debian revision of the same
# release (a security update, like 1.0.85-1+deb12u1 was) must install under tgt-pmem and leave
# it configured, and the upgraded tgtd must load the modules; another release (1.0.86-1) must
# be refused by apt, because of tgt-pmem's Depends. tgt's maintainer scripts start and stop
# its service through invoke-rc.d: a policy-rc.d that answers 101 keeps them from touching
# any tgtd.
tgtd_stop
upgrade_tgt=1
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\n# tgt-pmem package_test.sh: no service starts while it installs tgt\nexit 101\n' \
    >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy_rc=1
fi
/usr/sbin/policy-rc.d tgt start >/dev/null 2>&1; [[ $? == 101 ]] ||
  { fail "/usr/sbin/policy-rc.d would let tgt's scripts start tgtd: tgt upgrade not tested"; upgrade_tgt=0; }
arch=$(dpkg --print-architecture)
tgt_orig_deb=/var/cache/apt/archives/tgt_${tgt_orig_version/:/%3a}_$arch.deb
if [[ ! -f $tgt_orig_deb || $(dpkg-deb -f "$tgt_orig_deb" Version 2>/dev/null) != "$tgt_orig_version" ]]; then
  mkdir -p "$work/tgt-deb"
  (cd "$work/tgt-deb" && apt-get download -q "tgt=$tgt_orig_version" >/dev/null 2>&1)
  tgt_orig_deb=$(ls "$work"/tgt-deb/tgt_*.deb 2>/dev/null | head -n 1)
  [[ -n $tgt_orig_deb ]] || { fail "no .deb of tgt $tgt_orig_version (apt cache, apt-get download)"; upgrade_tgt=0; }
fi
repack_tgt() {  # repack_tgt VERSION OUT: tgt's .deb with another Version
  rm -rf "$work/tgt-repack" && dpkg-deb -R "$tgt_orig_deb" "$work/tgt-repack" &&
    sed -i "s/^Version: .*/Version: $1/" "$work/tgt-repack/DEBIAN/control" &&
    dpkg-deb -b "$work/tgt-repack" "$2" >/dev/null
}
pkg_state() { dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null; }
if (( upgrade_tgt )); then
  ours_before=$(pkg_state tgt-pmem)
  # 1:1.0.85-1+deb12u1 -> 1:1.0.85-1+deb12u99 (a later stable update); 1:1.0.86-1.
  revision=${tgt_orig_version##*-} revision=${revision%%+*}
  bumped=${tgt_orig_version%-*}-$revision+deb12u99 other=$tgt_epoch$tgt_next-1
  dpkg --compare-versions "$bumped" gt "$tgt_orig_version" || fail "$bumped is not above $tgt_orig_version"
  repack_tgt "$other" "$work/tgt-other.deb" && repack_tgt "$bumped" "$work/tgt-bumped.deb" ||
    fail "repacking tgt's .deb"
  # Through apt, as updates arrive: dpkg -i alone checks the Depends of the package it
  # installs, not those of the installed packages that depend on it (it would put tgt 1.0.86
  # under tgt-pmem and leave tgt-pmem's dependency broken; the modules would then refuse to
  # register, if that tgtd were really 1.0.86). --no-remove: apt may not solve it by removing
  # tgt-pmem.
  apt_tgt() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-remove --no-install-recommends \
                -o Dpkg::Options::=--force-confold "$1"; }
  # Another release: refused, nothing changes.
  if apt_tgt "$work/tgt-other.deb" >"$work/tgt-other.out" 2>&1; then
    fail "apt-get installed tgt $other under tgt-pmem built for $tgt_release"; cat "$work/tgt-other.out"
  else
    # apt's resolver would have to remove tgt-pmem, whose Depends tgt 1.0.86 breaks.
    sed -n '/^The following packages will be REMOVED:/{n;p}' "$work/tgt-other.out" | grepq -w tgt-pmem &&
      grepq -x 'E: Packages need to be removed but remove is disabled.' "$work/tgt-other.out" &&
      pass "apt refuses tgt $other: it would have to remove tgt-pmem, whose Depends it breaks" ||
      { fail "apt-get install tgt $other failed, but not for tgt-pmem's Depends:"; cat "$work/tgt-other.out"; }
  fi
  [[ $(pkg_state tgt) == "ii $tgt_orig_version" && $(pkg_state tgt-pmem) == "$ours_before" ]] &&
    pass "tgt $tgt_orig_version and tgt-pmem unchanged after the refusal" ||
    fail "after the refusal: tgt $(pkg_state tgt), tgt-pmem $(pkg_state tgt-pmem)"
  # Another revision of the same release: installs, tgt-pmem stays configured.
  if apt_tgt "$work/tgt-bumped.deb" >"$work/tgt-bumped.out" 2>&1; then
    pass "apt-get installs tgt $bumped under tgt-pmem"
  else
    fail "apt-get install tgt $bumped:"; cat "$work/tgt-bumped.out"
  fi
  [[ $(pkg_state tgt) == "ii $bumped" ]] && pass "tgt is $bumped" || fail "tgt: $(pkg_state tgt)"
  [[ $(pkg_state tgt-pmem) == "$ours_before" && $ours_before == ii* ]] &&
    pass "tgt-pmem stays installed and configured ($ours_before)" || fail "tgt-pmem: $(pkg_state tgt-pmem)"
  [[ -z $(dpkg --audit 2>&1) ]] && pass "dpkg --audit: nothing half-done" || { fail "dpkg --audit:"; dpkg --audit; }
  start_installed_tgtd || exit 1
  grep -c "bs_pmem .* (built for tgt $tgt_orig_version) registered as bstype pmem" "$log" | grepq -x 2 &&
    pass "the upgraded tgt's tgtd registers bs_pmem (built for $tgt_orig_version)" ||
    fail "no second registration line after the tgt upgrade"
  grep -q 'not registered' "$log" && fail "a module refused the upgraded tgtd: $(grep 'not registered' "$log")" ||
    pass "no module refuses the upgraded tgtd"
  bstypes | grepq -x '    pmem' && pass "the upgraded tgtd lists bstype pmem" || fail "pmem not listed after the tgt upgrade"
  tgtadm_c --lld iscsi --mode target --op new --tid 1 --targetname "$IQN1" &&
    tgtadm_c --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem --backing-store "$work/a.img" &&
    tgtadm_c --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL &&
    iscsi-inq "$url1" >"$work/inq-upgraded.out" 2>&1 &&
    pass "a pmem LUN in the upgraded tgtd answers iscsi-inq" || fail "no pmem LUN in the upgraded tgtd"
  # The rest of the test runs on the original tgt again.
  tgtd_stop
  restore_tgt && [[ $(pkg_state tgt) == "ii $tgt_orig_version" && $(pkg_state tgt-pmem) == "$ours_before" ]] &&
    pass "tgt $tgt_orig_version restored, tgt-pmem still configured" ||
    fail "restoring tgt: tgt $(pkg_state tgt), tgt-pmem $(pkg_state tgt-pmem)"
fi
start_installed_tgtd || exit 1

# --- 4. a LUN through Debian's tgt-admin, from the shipped example --------------------------
/usr/bin/tgtpmem-admin create "$work/lun1.img" --size 64m --block-size 4096 >/dev/null
sed -e "s|/var/lib/tgt-pmem/lun1.img|$work/lun1.img|" -e 's|initiator-address .*|initiator-address 127.0.0.1|' \
  /usr/share/doc/tgt-pmem/examples/pmem.conf >"$work/targets.conf"
/usr/bin/tgtpmem-admin check-config "$work/targets.conf" >"$work/check-config.out" 2>&1 &&
  grep -q "$work/lun1.img: ok (block size 4096" "$work/check-config.out" &&
  pass "the installed tgtpmem-admin check-config passes the example" ||
  { fail "check-config on the example:"; cat "$work/check-config.out"; }
if tgt-admin -C "$CTL" -c "$work/targets.conf" --execute >"$work/tgt-admin.out" 2>&1; then
  pass "tgt-admin --execute the example"
else
  fail "tgt-admin failed"; cat "$work/tgt-admin.out"
fi
tgtadm_c --mode target --op show >"$work/show.out"
sed -n "/Target [0-9]*: $IQN2/,\$p" "$work/show.out" >"$work/show2.out"
grep -q "Backing store type: pmem" "$work/show2.out" && grep -q "Backing store path: $work/lun1.img" "$work/show2.out" &&
  grep -q "Block size: 4096" "$work/show2.out" &&
  pass "tgt-admin made a pmem LUN with block size 4096" || { fail "LUN from targets.conf"; cat "$work/show.out"; }
grep -qF "bs_pmem: opened $work/lun1.img: file, 67108864 bytes, block size 4096, durability msync, write cache off, exec auto" "$log" &&
  pass "log: both bsopts keys arrived (block_size=4096, write_cache=off)" || fail "bsopts did not reach the module"
url2=iscsi://127.0.0.1:$PORT/$IQN2/1
iscsi-readcapacity16 "$url2" >"$work/rc16.out" 2>&1 && grep -q 'LOGICAL BLOCK LENGTH IN BYTES:4096' "$work/rc16.out" &&
  pass "READ CAPACITY(16): 4096-byte blocks" || { fail "readcapacity16"; cat "$work/rc16.out"; }
/usr/bin/tgtpmem-load --json --verify --read-percent 50 --ios 2000 --size 8m "$url2" >"$work/load2.json" 2>&1
jq -e '.ok and .verify.errors == 0' "$work/load2.json" >/dev/null &&
  pass "verified I/O on the tgt-admin LUN" || { fail "tgtpmem-load on the tgt-admin LUN"; cat "$work/load2.json"; }

# --- 5. remove while tgtd runs: it keeps the module until restarted ---------------------------
dpkg -r tgt-pmem >"$work/remove.out" 2>&1 && pass "dpkg -r" || { fail "dpkg -r"; cat "$work/remove.out"; }
grep -q "tgt-pmem: the running tgtd still has bs_pmem.so loaded" "$work/remove.out" &&
  pass "postrm says tgtd must be restarted to unload" || { fail "postrm message"; cat "$work/remove.out"; }
[[ ! -e $BSDIR/bs_pmem.so && ! -e $BSDIR/lld_srp.so ]] && pass "module files removed" ||
  fail "module files still there"
/usr/bin/tgtpmem-admin --help >/dev/null 2>&1 && fail "tgtpmem-admin still installed"
[[ -e /usr/bin/tgtpmem-push ]] && fail "tgtpmem-push still installed"
# (tgt-admin --execute removed target 1, which is not in its configuration: use target 2.)
tgtpmem_load=$work/tgtpmem-load  # the installed one is gone: use the one the package build made
cp "$pkg_work/obj/utils/load/tgtpmem-load" "$tgtpmem_load" 2>/dev/null || tgtpmem_load=""
if [[ -n $tgtpmem_load ]]; then
  "$tgtpmem_load" --json --verify --read-percent 50 --ios 2000 --size 8m "$url2" >"$work/load3.json" 2>&1
  jq -e '.ok and .verify.errors == 0' "$work/load3.json" >/dev/null &&
    pass "the running tgtd still serves its pmem LUN (verified I/O)" ||
    { fail "the running tgtd lost its LUN on removal"; cat "$work/load3.json"; }
else
  iscsi-inq "$url2" >"$work/inq3.out" 2>&1 && pass "the running tgtd still serves its pmem LUN" ||
    { fail "the running tgtd lost its LUN on removal"; cat "$work/inq3.out"; }
fi
tgtd_stop
! kill -0 "$TGTD_PID" 2>/dev/null && pass "tgtd stopped (targets, then system delete)" || fail "tgtd still runs"
start_installed_tgtd || exit 1
bstypes | grepq -x '    pmem' && fail "a new tgtd still has pmem" || pass "a new tgtd no longer has bstype pmem"
tgtadm_c --lld iscsi --mode target --op new --tid 1 --targetname "$IQN1"
if tgtadm_c --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
     --backing-store "$work/a.img" >/dev/null 2>&1; then
  fail "--bstype pmem accepted without the module"
else
  pass "--bstype pmem refused without the module"
fi
tgtd_stop

# --- 6. the library packages removed, then purge: nothing left behind -------------------------
dpkg -r libtgtpmem-push-dev libtgtpmem-push0 >"$work/remove-lib.out" 2>&1 &&
  pass "dpkg -r libtgtpmem-push-dev libtgtpmem-push0" || { fail "dpkg -r of the library"; cat "$work/remove-lib.out"; }
[[ ! -e $LIBDIR/libtgtpmem-push.so.0 && ! -e /usr/include/tgt_pmem ]] && pass "library and headers removed" ||
  fail "library or headers still there"
ldconfig -p | grepq -F 'libtgtpmem-push.so' && fail "ldconfig's cache still has libtgtpmem-push" ||
  pass "ldconfig's cache no longer has libtgtpmem-push (the dpkg trigger ran)"
dpkg -P "${PACKAGES[@]}" >/dev/null 2>&1 && installed=0 && pass "dpkg -P" || fail "dpkg -P"
listed=$(for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grepq -v 'not-installed' && echo "$p"
done)
[[ -z $listed ]] && pass "dpkg knows nothing of ${PACKAGES[*]}" || fail "dpkg still lists" $listed
compgen -G '/var/lib/dpkg/info/tgt-pmem.*' >/dev/null || compgen -G '/var/lib/dpkg/info/libtgtpmem-push*' >/dev/null &&
  fail "dpkg info files left" || pass "no dpkg info files left"
left=$(while read -r f; do
  grep -qx "$f" "$work/existed" && continue
  [[ -e $f || -L $f ]] && echo "$f"
done <"$work/files-all")
[[ ! -e /lib/systemd/system/tgt.service.d/tgt-pmem.conf && ! -e /lib/systemd/system-generators/tgt-pmem-generator &&
   ! -e /lib/udev/rules.d/60-tgt-pmem-dax.rules ]] && pass "purge removed the drop-in, the generator and the udev rule" ||
  fail "purge left the drop-in, the generator or the udev rule"
[[ -z $left ]] && pass "nothing the packages installed is left behind" || { fail "left behind:"; echo "$left"; }

if (( failures )); then echo "package_test: $failures check(s) failed"; exit 1; fi
echo "package_test: all checks passed"
