#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The RPMs: built with rpmbuild on this host (packaging/build-rpm.sh); their files and
# dependencies, read back with rpm -qpl / -qpR / -qp --provides / --scripts, must be those of
# Fedora's conventions. rpm cannot install them on Debian: -libs and -devel are unpacked
# (rpm2cpio) into an empty root, and push_client_app.cc is built against that root with
# pkg-config (PKG_CONFIG_SYSROOT_DIR) and run on its library.
#   package_rpm_test.sh REPO_DIR WORK_DIR [TGT_SOURCE_DIR (its tgt_*.orig.tar.gz is Source1)]
set -uo pipefail
# grepq: grep -q that reads all its input. Under pipefail, 'producer | grep -q' fails when grep
# exits at the first match and the producer dies of SIGPIPE (ldconfig -p did, in CI).
grepq() { grep "$@" >/dev/null; }
repo=$(readlink -f "${1:?usage: package_rpm_test.sh REPO_DIR WORK_DIR [TGT_SOURCE_DIR]}")
rpm_work=${2:?}
# tgt's release tarball (Source1): Debian's orig tarball beside the tgt source the build used.
if [[ -n ${3:-} ]] && tarball=$(ls "$(dirname "$3")"/tgt_*.orig.tar.gz 2>/dev/null | head -n 1) && [[ -n $tarball ]]; then
  export TGT_TARBALL=$tarball
fi
command -v rpmbuild >/dev/null || { echo "SKIP: rpmbuild is not installed (apt-get install rpm)"; exit 77; }
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
source "$repo/tests/lib/workdir.sh"
work_dir out tgtpmem-rpm
trap 'rm -rf "$out"' EXIT

start=$(date +%s)
if ! rpm_file=$(TGTPMEM_RPM_WORK=$rpm_work "$repo/packaging/build-rpm.sh" "$out" 2>"$out/build.err" | tail -n 1); then
  cat "$out/build.err"; echo "FAIL - build-rpm.sh"; exit 1
fi
echo "# .rpm built in $(( $(date +%s) - start )) s: $rpm_file"
libdir=$(rpm --eval '%{_libdir}')
tgt_version=$(dpkg-query -W -f='${Version}' tgt); tgt_version=${tgt_version#*:}; tgt_version=${tgt_version%-*}

rpm -qpl "$rpm_file" | grep -v '/\.build-id' | sort >"$out/files"
sort >"$out/expected" <<LIST
$libdir/tgt/backing-store/bs_pmem.so
$libdir/tgt/backing-store/lld_srp.so
/usr/bin/tgtpmem-admin
/usr/bin/tgtpmem-load
/usr/bin/tgtpmem-push
/usr/share/bash-completion/completions/tgtadm
/usr/share/bash-completion/completions/tgtpmem-admin
/usr/share/bash-completion/completions/tgtpmem-load
/usr/share/bash-completion/completions/tgtpmem-push
/usr/share/doc/tgt-pmem
/usr/share/doc/tgt-pmem/README.md
/usr/share/doc/tgt-pmem/atomic-layout.md
/usr/share/doc/tgt-pmem/examples
/usr/share/doc/tgt-pmem/examples/pmem.conf
/usr/share/doc/tgt-pmem/examples/srp.conf
/usr/share/doc/tgt-pmem/push-protocol.md
/usr/share/doc/tgt-pmem/security.md
/usr/share/man/man1/tgtpmem-load.1$(rpm --eval '%{?_compress_ext}')
/usr/share/man/man1/tgtpmem-push.1$(rpm --eval '%{?_compress_ext}')
/usr/share/man/man8/bs_pmem.8$(rpm --eval '%{?_compress_ext}')
/usr/share/man/man8/lld_srp.8$(rpm --eval '%{?_compress_ext}')
/usr/share/man/man8/tgtpmem-admin.8$(rpm --eval '%{?_compress_ext}')
/var/lib/tgt-pmem
/usr/lib/systemd/system/tgtd.service.d
/usr/lib/systemd/system/tgtd.service.d/tgt-pmem.conf
/usr/lib/systemd/system-generators/tgt-pmem-generator
/usr/lib/udev/rules.d/60-tgt-pmem-dax.rules
LIST
# Man pages may or may not be compressed by the host's brp scripts: compare without suffix.
if diff <(sed 's/\.gz$//' "$out/files") <(sed 's/\.gz$//' "$out/expected") >"$out/diff"; then
  pass "rpm -qpl: exactly the expected files, module in $libdir/tgt/backing-store"
else
  fail "rpm -qpl differs:"; cat "$out/diff"
fi
rpm -qpR "$rpm_file" >"$out/requires"
arch=$(rpm --eval '%{?_isa}')
# The tgt release without a release of scsi-target-utils: rpm then takes any of that version.
grep -qx "scsi-target-utils$arch = $tgt_version" "$out/requires" &&
  pass "Requires: scsi-target-utils$arch = $tgt_version (any release)" || { fail "no scsi-target-utils = $tgt_version requirement"; cat "$out/requires"; }
[[ $(grep -c '^scsi-target-utils' "$out/requires") == 1 ]] && pass "no other scsi-target-utils requirement" ||
  { fail "scsi-target-utils requirements:"; grep '^scsi-target-utils' "$out/requires"; }
[[ $(rpm -qp --qf '%{RELEASE}' "$rpm_file") == 1.tgt"$tgt_version"* ]] &&
  pass "Release $(rpm -qp --qf '%{RELEASE}' "$rpm_file") names tgt $tgt_version" ||
  fail "Release $(rpm -qp --qf '%{RELEASE}' "$rpm_file") does not start with 1.tgt$tgt_version"
for lib in 'libpmem2.so.1()(64bit)' 'libiscsi.so.7()(64bit)' 'libboost_program_options.so.1.74.0()(64bit)' \
           'librdmacm.so.1()(64bit)' 'libibverbs.so.1()(64bit)' 'libnettle.so.8()(64bit)'; do
  grep -qxF "$lib" "$out/requires" && pass "Requires: $lib (found by rpm's ELF scan)" || fail "lacks $lib"
done
rpm -qp --qf '%{LICENSE}\n' "$rpm_file" | grepq -x 'GPL-2.0-only' && pass "License: GPL-2.0-only" || fail "licence"
# rpmlint (build-rpm.sh ran it on the spec and the packages with packaging/rpm/rpmlint.toml).
grep -qE ' 0 errors, 0 warnings' "$out/rpmlint.txt" && pass "rpmlint: 0 errors, 0 warnings" ||
  { fail "rpmlint:"; cat "$out/rpmlint.txt"; }
# The spec builds from tgt's release tarball, with nothing of Debian's.
spec=$repo/packaging/rpm/tgt-pmem.spec
grep -q '^Source1: *https://.*/tgt-%{tgt_version}.tar.gz$' "$spec" && ! grep -qE 'dpkg|apt-get|--nodeps' "$spec" &&
  pass "the spec takes tgt from Source1 (tgt's release tarball) and names no dpkg, apt-get or --nodeps" ||
  fail "the spec still depends on Debian tools or lacks Source1"
[[ $(rpm -qp --recommends "$rpm_file" | sort | tr '\n' ' ') == 'daxctl ndctl ' ]] &&
  pass "Recommends: ndctl, daxctl" || fail "Recommends: $(rpm -qp --recommends "$rpm_file" | tr '\n' ' ')"


# --- tgt-pmem-libs and tgt-pmem-devel: the push client library --------------------------------
version=$(rpm -qp --qf '%{VERSION}' "$rpm_file") release=$(rpm -qp --qf '%{RELEASE}' "$rpm_file")
libs_rpm=$(ls "$(dirname "$rpm_file")"/tgt-pmem-libs-"$version"-*.rpm 2>/dev/null | head -n 1)
devel_rpm=$(ls "$(dirname "$rpm_file")"/tgt-pmem-devel-"$version"-*.rpm 2>/dev/null | head -n 1)
if [[ -z $libs_rpm || -z $devel_rpm ]]; then
  fail "tgt-pmem-libs / tgt-pmem-devel not built:"; ls "$(dirname "$rpm_file")"; exit 1
fi
# The licence directory is named by %_docdir_fmt: %{NAME} on Fedora, rpm's default
# %{NAME}-%{VERSION} here; compare without the version.
rpm -qpl "$libs_rpm" | grep -v '/\.build-id' | sed "s|^\(/usr/share/licenses/tgt-pmem-libs\)-$version|\1|" |
  sort >"$out/files-libs"
sort >"$out/expected-libs" <<LIST
$libdir/libtgtpmem-push.so.0
$libdir/libtgtpmem-push.so.$version
/usr/share/licenses/tgt-pmem-libs
/usr/share/licenses/tgt-pmem-libs/COPYING
LIST
diff "$out/expected-libs" "$out/files-libs" >"$out/diff-libs" &&
  pass "tgt-pmem-libs: exactly libtgtpmem-push.so.0, .so.$version and the licence" ||
  { fail "tgt-pmem-libs' files differ:"; cat "$out/diff-libs"; }
rpm -qpl "$devel_rpm" | grep -v '/\.build-id' | sort >"$out/files-devel"
sort >"$out/expected-devel" <<LIST
$libdir/libtgtpmem-push.so
$libdir/pkgconfig/tgtpmem-push.pc
/usr/include/tgt_pmem
/usr/include/tgt_pmem/push
/usr/include/tgt_pmem/push/client.h
/usr/include/tgt_pmem/push/export.h
/usr/include/tgt_pmem/push/protocol.h
LIST
diff "$out/expected-devel" "$out/files-devel" >"$out/diff-devel" &&
  pass "tgt-pmem-devel: exactly the headers, the .so link and tgtpmem-push.pc" ||
  { fail "tgt-pmem-devel's files differ:"; cat "$out/diff-devel"; }
rpm -qp --provides "$libs_rpm" | grepq -xF 'libtgtpmem-push.so.0()(64bit)' &&
  pass "tgt-pmem-libs Provides: libtgtpmem-push.so.0()(64bit)" || { fail "libs Provides:"; rpm -qp --provides "$libs_rpm"; }
rpm -qpR "$libs_rpm" >"$out/requires-libs"
for lib in 'librdmacm.so.1()(64bit)' 'libibverbs.so.1()(64bit)' 'libnettle.so.8()(64bit)'; do
  grep -qxF "$lib" "$out/requires-libs" && pass "tgt-pmem-libs Requires: $lib" || fail "tgt-pmem-libs lacks $lib"
done
grep -q 'libpmem2' "$out/requires-libs" && fail "tgt-pmem-libs requires libpmem2" ||
  pass "tgt-pmem-libs does not require libpmem2"
rpm -qpR "$devel_rpm" | grepq -xF "tgt-pmem-libs$arch = $version-$release" &&
  pass "tgt-pmem-devel Requires: tgt-pmem-libs$arch = $version-$release" ||
  { fail "tgt-pmem-devel does not require its -libs exactly:"; rpm -qpR "$devel_rpm"; }
if [[ -e /usr/lib/rpm/fileattrs/pkgconfig.attr ]]; then
  rpm -qp --provides "$devel_rpm" | grepq -xF "pkgconfig(tgtpmem-push) = $version" &&
    pass "tgt-pmem-devel Provides: pkgconfig(tgtpmem-push) = $version" ||
    { fail "tgt-pmem-devel Provides:"; rpm -qp --provides "$devel_rpm"; }
fi
# ldconfig after install and removal: %ldconfig_scriptlets where rpm defines it (Fedora: empty,
# glibc's file triggers do it), else /sbin/ldconfig in %post and %postun.
rpm -qp --scripts "$libs_rpm" >"$out/scripts-libs"
if [[ -n $(rpm --eval '%{?ldconfig_scriptlets:1}') ]]; then
  pass "tgt-pmem-libs: ldconfig left to %ldconfig_scriptlets"
elif grep -q '^postinstall program: /sbin/ldconfig' "$out/scripts-libs" &&
     grep -q '^postuninstall program: /sbin/ldconfig' "$out/scripts-libs"; then
  pass "tgt-pmem-libs runs /sbin/ldconfig in %post and %postun"
else
  fail "tgt-pmem-libs: no ldconfig scriptlets:"; cat "$out/scripts-libs"
fi
# The application, against the unpacked -libs and -devel only.
root=$out/root app=$out/app
mkdir -p "$root" "$app"
for r in "$libs_rpm" "$devel_rpm"; do (cd "$root" && rpm2cpio "$r" | cpio -idm --quiet); done
cp "$repo/tests/integration/push_client_app.cc" "$app/app.cc"
export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root$libdir/pkgconfig PKG_CONFIG_PATH=
cflags=$(pkg-config --cflags tgtpmem-push) libs=$(pkg-config --libs tgtpmem-push)
echo "# g++ -std=c++2b $cflags -o app app.cc $libs"
# shellcheck disable=SC2086  # the flags are words
if (cd "$app" && g++ -std=c++2b -Wall -Wextra -Werror $cflags -o app app.cc $libs) >"$app/build.out" 2>&1; then
  pass "push_client_app.cc builds against the unpacked tgt-pmem-devel"
else
  fail "push_client_app.cc does not build against the unpacked RPMs:"; cat "$app/build.out"
fi
if LD_LIBRARY_PATH=$root$libdir "$repo/tests/integration/push_client_library_test.sh" \
     "$root$libdir/libtgtpmem-push.so.0" "$app/app" >"$app/run.out" 2>&1; then
  sed 's/^/    /' "$app/run.out"
  pass "the RPMs' library and its application (push_client_library_test.sh)"
else
  fail "push_client_library_test.sh on the unpacked RPMs:"; cat "$app/run.out"
fi

if (( failures )); then echo "package_rpm_test: $failures check(s) failed"; exit 1; fi
echo "package_rpm_test: all checks passed"
