#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds the tgt-pmem .debs from packaging/debian without touching the repository: the tree
# (tracked and new files, as git lists them) is copied to WORK/src, packaging/debian becomes
# WORK/src/debian, and `dpkg-buildpackage -us -uc -b` runs there. The CMake build directory
# (WORK/obj) outlives the copy and dpkg-buildpackage does not pre-clean, so a second build
# only recompiles what changed. lintian then checks the result; its errors fail the build.
#
#   packaging/build-deb.sh [OUT_DIR]     .debs, .buildinfo, .changes to OUT_DIR (default WORK/out):
#                                        tgt-pmem, libtgtpmem-push0, libtgtpmem-push-dev (+ dbgsym)
#   TGTPMEM_PKG_WORK=DIR     work directory (default /tmp/tgt-pmem-deb)
#   TGTPMEM_PKG_CLEAN=1      start from an empty CMake build directory
#   TGT_SOURCE_DIR=DIR       tgt source of the installed version (default: fetched into WORK
#                            with scripts/fetch-tgt-source.sh, once)
#   TGTPMEM_LINTIAN=0        skip lintian
# The packages' version is the changelog's with the installed tgt's release appended
# (0.1.0+tgt1.0.85): a build against another tgt release is a new version.
# The last line printed is the path of the tgt-pmem .deb; the others are beside it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${TGTPMEM_PKG_WORK:-/tmp/tgt-pmem-deb}
out=${1:-$work/out}
mkdir -p "$work" "$out"
work=$(readlink -f "$work")
out=$(readlink -f "$out")

for tool in dpkg-buildpackage dh cmake git; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (scripts/setup-deps.sh)" >&2; exit 1; }
done

if [[ -z ${TGT_SOURCE_DIR:-} ]]; then
  TGT_SOURCE_DIR=$("$repo/scripts/fetch-tgt-source.sh" "$work/tgt-src")
fi
export TGT_SOURCE_DIR
export B=$work/obj  # debian/rules: the CMake build directory
[[ ${TGTPMEM_PKG_CLEAN:-0} == 1 ]] && rm -rf "$B"

# A fresh copy of the sources, timestamps kept (make then sees which objects are current).
rm -rf "$work/src"
mkdir -p "$work/src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard -- . ':!:debian' |
  while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$work/src"
cp -a "$repo/packaging/debian" "$work/src/debian"
# The version names the tgt release the modules are built for (debian/rules says why):
# 0.1.0 -> 0.1.0+tgt1.0.85, from the installed tgt (CMake checks TGT_SOURCE_DIR is the same).
tgt_release=$(dpkg-query -W -f='${Version}' tgt) || { echo "build-deb: tgt is not installed" >&2; exit 1; }
tgt_release=${tgt_release#*:} tgt_release=${tgt_release%-*}
sed -i "1s/^tgt-pmem (\([^)+]*\))/tgt-pmem (\1+tgt$tgt_release)/" "$work/src/debian/changelog"

rm -f "$work"/tgt-pmem_* "$work"/tgt-pmem-dbgsym_* "$work"/libtgtpmem-push*_*
start=$(date +%s)
(cd "$work/src" && dpkg-buildpackage -us -uc -b -nc) >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed; full log: $work/build.log" >&2
  exit 1
}
echo "build-deb: dpkg-buildpackage took $(( $(date +%s) - start )) s (log: $work/build.log)" >&2
mv -f "$work"/tgt-pmem_* "$work"/tgt-pmem-dbgsym_* "$work"/libtgtpmem-push*_* "$out"/ \
  2>/dev/null || true
deb=$(ls "$out"/tgt-pmem_*.deb | head -n 1)

if [[ ${TGTPMEM_LINTIAN:-1} == 1 ]] && command -v lintian >/dev/null; then
  changes=$(ls "$out"/tgt-pmem_*.changes | head -n 1)
  lintian --info --display-info --pedantic "$changes" >"$out/lintian.txt" 2>&1 || true
  sed 's/^/build-deb: lintian: /' "$out/lintian.txt" >&2
  if grep -q '^E: ' "$out/lintian.txt"; then
    echo "build-deb: lintian reports errors" >&2
    exit 1
  fi
fi
echo "$deb"
