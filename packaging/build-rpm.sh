#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds the tgt-pmem RPM from packaging/rpm/tgt-pmem.spec with rpmbuild, on this Debian host:
# a source tarball of the tree (tracked and new files, as git lists them), then
# `rpmbuild -bb --nodeps` (there is no rpm database of build dependencies on Debian). The
# spec's tgt_version is the upstream part of the installed Debian tgt (1:1.0.85-1+deb12u1 ->
# 1.0.85), the version Fedora's scsi-target-utils would carry.
#
#   packaging/build-rpm.sh [OUT_DIR]     the binary .rpms to OUT_DIR (default WORK/out):
#                                        tgt-pmem, tgt-pmem-libs, tgt-pmem-devel
#   TGTPMEM_RPM_WORK=DIR     work directory, rpmbuild's _topdir below it (default /tmp/tgt-pmem-rpm)
#   TGT_SOURCE_DIR=DIR       tgt source of the installed version (default: fetched into WORK)
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
tgt_deb=$(dpkg-query -W -f='${Version}' tgt)
tgt_version=${tgt_deb#*:}      # no epoch
tgt_version=${tgt_version%-*}  # no Debian revision
if [[ -z ${TGT_SOURCE_DIR:-} ]]; then
  TGT_SOURCE_DIR=$("$repo/scripts/fetch-tgt-source.sh" "$work/tgt-src")
fi

top=$work/rpmbuild
rm -rf "$top"
mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS}
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
  tar --null -T - --transform "s,^,$name-$version/," -czf "$top/SOURCES/$name-$version.tar.gz")
cp "$spec" "$top/SPECS/"

defines=(--define "_topdir $top" --define "tgt_version $tgt_version"
         --define "tgt_source_dir $TGT_SOURCE_DIR")
# Debian's rpm has no find-debuginfo: no -debuginfo subpackage here (Fedora builds one).
command -v find-debuginfo >/dev/null || defines+=(--define "debug_package %{nil}")

start=$(date +%s)
rpmbuild -bb --nodeps "${defines[@]}" "$top/SPECS/tgt-pmem.spec" >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  echo "build-rpm: rpmbuild failed; full log: $work/build.log" >&2
  exit 1
}
echo "build-rpm: rpmbuild took $(( $(date +%s) - start )) s (log: $work/build.log)" >&2
rpm_file=$(find "$top/RPMS" -name "$name-$version-*.rpm" | head -n 1)
find "$top/RPMS" -name "$name-*$version-*.rpm" -exec cp -f {} "$out/" \;
echo "$out/$(basename "$rpm_file")"
