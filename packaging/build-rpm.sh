#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds the tgt-pmem RPMs from packaging/rpm/tgt-pmem.spec with rpmbuild, the way a Fedora
# build would: a source tarball of the tree (tracked and new files, as git lists them) as
# Source0 and tgt's release tarball of the version the spec pins as Source1, then rpmbuild -bb
# and rpmlint on the spec and the packages. On this Debian host rpmbuild runs with --nodeps
# (there is no rpm database of build dependencies here) and Source1 is Debian's
# tgt_VERSION.orig.tar.gz, which is tgt's upstream release tarball.
#
#   packaging/build-rpm.sh [OUT_DIR]     the binary .rpms to OUT_DIR (default WORK/out):
#                                        tgt-pmem, tgt-pmem-libs, tgt-pmem-devel
#   TGTPMEM_RPM_WORK=DIR     work directory, rpmbuild's _topdir below it (default /tmp/tgt-pmem-rpm)
#   TGT_TARBALL=FILE         tgt's release tarball of the pinned version (default: Debian's
#                            orig tarball of it, from 'apt-get source')
# %_libdir is rpm's own for the build architecture (/usr/lib64 on x86_64), as on Fedora.
# The last line printed is the path of the tgt-pmem .rpm; the subpackages are beside it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${TGTPMEM_RPM_WORK:-/tmp/tgt-pmem-rpm}
out=${1:-$work/out}
mkdir -p "$work" "$out"
work=$(readlink -f "$work")
out=$(readlink -f "$out")
command -v rpmbuild >/dev/null || { echo "build-rpm: rpmbuild is missing (apt-get install rpm)" >&2; exit 1; }

spec=$repo/packaging/rpm/tgt-pmem.spec
name=$(sed -n 's/^Name: *//p' "$spec")
version=$(sed -n 's/^Version: *//p' "$spec")
tgt_version=$(sed -n 's/^%{!?tgt_version: %global tgt_version \(.*\)}$/\1/p' "$spec")
[[ -n $tgt_version ]] || { echo "build-rpm: the spec pins no tgt_version" >&2; exit 1; }
if [[ -z ${TGT_TARBALL:-} ]]; then
  # Debian's source package of that upstream release carries its tarball unchanged.
  mkdir -p "$work/tgt-src"
  TGT_TARBALL=$work/tgt-src/tgt_$tgt_version.orig.tar.gz
  if [[ ! -f $TGT_TARBALL ]]; then
    (cd "$work/tgt-src" && apt-get source -q --download-only "tgt" >/dev/null 2>apt-source.log) || {
      echo "build-rpm: 'apt-get source --download-only tgt' failed; see $work/tgt-src/apt-source.log" >&2
      exit 1
    }
  fi
  [[ -f $TGT_TARBALL ]] || { echo "build-rpm: no $TGT_TARBALL (Debian's tgt is not $tgt_version?)" >&2; exit 1; }
fi

top=$work/rpmbuild
rm -rf "$top"
mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS}
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
  tar --null -T - --transform "s,^,$name-$version/," -czf "$top/SOURCES/$name-$version.tar.gz")
cp "$TGT_TARBALL" "$top/SOURCES/tgt-$tgt_version.tar.gz"
cp "$spec" "$top/SPECS/"

defines=(--define "_topdir $top")
# Debian's rpm has no find-debuginfo: no -debuginfo subpackage here (Fedora builds one).
command -v find-debuginfo >/dev/null || defines+=(--define "debug_package %{nil}")
# Debian's brp-compress says #!/bin/sh but uses bash's 'read -d': under dash man pages stay
# uncompressed. Run it with bash, as Fedora's /bin/sh is. (brp-strip needs file(1).)
defines+=(--define "__brp_compress bash %{_rpmconfigdir}/brp-compress %{?_prefix}")
command -v file >/dev/null || { echo "build-rpm: file(1) is missing (brp-strip needs it)" >&2; exit 1; }

start=$(date +%s)
rpmbuild -bb --nodeps "${defines[@]}" "$top/SPECS/tgt-pmem.spec" >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  echo "build-rpm: rpmbuild failed; full log: $work/build.log" >&2
  exit 1
}
echo "build-rpm: rpmbuild took $(( $(date +%s) - start )) s (log: $work/build.log)" >&2
rpm_file=$(find "$top/RPMS" -name "$name-$version-*.rpm" | head -n 1)
find "$top/RPMS" -name "$name-*$version-*.rpm" -exec cp -f {} "$out/" \;
# rpmlint on the spec and every package; its report is kept beside the packages.
if command -v rpmlint >/dev/null; then
  rpmlint -c "$repo/packaging/rpm/rpmlint.toml" "$spec" $(find "$top/RPMS" -name "$name-*$version-*.rpm") >"$out/rpmlint.txt" 2>&1 || true
  sed 's/^/build-rpm: rpmlint: /' "$out/rpmlint.txt" >&2
fi
echo "$out/$(basename "$rpm_file")"
