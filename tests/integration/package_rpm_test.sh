#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The RPM: built with rpmbuild on this host (packaging/build-rpm.sh); its files and
# dependencies, read back with rpm -qpl / -qpR, must be those of Fedora's conventions.
#   package_rpm_test.sh REPO_DIR WORK_DIR [TGT_SOURCE_DIR]
set -uo pipefail
repo=$(readlink -f "${1:?usage: package_rpm_test.sh REPO_DIR WORK_DIR [TGT_SOURCE_DIR]}")
rpm_work=${2:?}
[[ -n ${3:-} ]] && export TGT_SOURCE_DIR=$3
command -v rpmbuild >/dev/null || { echo "SKIP: rpmbuild is not installed (apt-get install rpm)"; exit 77; }
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
out=$(mktemp -d /tmp/tgtpmem-rpm-XXXXXX)
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
/usr/share/doc/tgt-pmem
/usr/share/doc/tgt-pmem/README.md
/usr/share/doc/tgt-pmem/examples
/usr/share/doc/tgt-pmem/examples/pmem.conf
/usr/share/doc/tgt-pmem/examples/srp.conf
/usr/share/man/man1/tgtpmem-load.1$(rpm --eval '%{?_compress_ext}')
/usr/share/man/man1/tgtpmem-push.1$(rpm --eval '%{?_compress_ext}')
/usr/share/man/man8/bs_pmem.8$(rpm --eval '%{?_compress_ext}')
/usr/share/man/man8/lld_srp.8$(rpm --eval '%{?_compress_ext}')
/usr/share/man/man8/tgtpmem-admin.8$(rpm --eval '%{?_compress_ext}')
LIST
# Man pages may or may not be compressed by the host's brp scripts: compare without suffix.
if diff <(sed 's/\.gz$//' "$out/files") <(sed 's/\.gz$//' "$out/expected") >"$out/diff"; then
  pass "rpm -qpl: exactly the expected files, module in $libdir/tgt/backing-store"
else
  fail "rpm -qpl differs:"; cat "$out/diff"
fi
rpm -qpR "$rpm_file" >"$out/requires"
arch=$(rpm --eval '%{?_isa}')
grep -qx "scsi-target-utils$arch = $tgt_version" "$out/requires" &&
  pass "Requires: scsi-target-utils$arch = $tgt_version" || { fail "no exact scsi-target-utils requirement"; cat "$out/requires"; }
for lib in 'libpmem2.so.1()(64bit)' 'libiscsi.so.7()(64bit)' 'libboost_program_options.so.1.74.0()(64bit)' \
           'librdmacm.so.1()(64bit)' 'libibverbs.so.1()(64bit)' 'libnettle.so.8()(64bit)'; do
  grep -qxF "$lib" "$out/requires" && pass "Requires: $lib (found by rpm's ELF scan)" || fail "lacks $lib"
done
rpm -qp --qf '%{LICENSE}\n' "$rpm_file" | grep -qx 'GPL-2.0-only' && pass "License: GPL-2.0-only" || fail "licence"

if (( failures )); then echo "package_rpm_test: $failures check(s) failed"; exit 1; fi
echo "package_rpm_test: all checks passed"
