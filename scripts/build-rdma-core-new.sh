#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds a newer rdma-core (Debian trixie's, which has ibv_wr_flush: rdma-core >= 45) into a
# private prefix, for the RDMA FLUSH code: Debian 12 has rdma-core 44, whose libibverbs has no
# ibv_wr_flush, so the FLUSH posting path (utils/rdma/src/verbs_flush.cc) is not even compiled
# there. scripts/test.sh builds against it (build-flush/) and runs the FLUSH unit tests, and
# the guest scenario push-rdma-flush with this prefix copied into the guest (e2e run.sh
# --rdma-core). Not for production. Nothing is installed system-wide and Debian's rdma-core
# is left alone: the source comes through apt with a private configuration (its own sources list and
# lists directory under WORK), is checked against the signed Sources index, and is built and
# installed under WORK/prefix.
#
# Usage: scripts/build-rdma-core-new.sh [WORK]      (default WORK=/work/rdma-core-new)
#   SUITE=trixie (default) picks the Debian suite whose rdma-core is built.
# Then configure tgt-pmem against it, in a build directory of its own:
#   cmake -S . -B build-flush-new -DCMAKE_PREFIX_PATH=WORK/prefix [-DTGT_SOURCE_DIR=...]
#   cmake --build build-flush-new -j2 --target tgtpmem_rdma tgtpmem_flush \
#         flush_remote_unit_tests rdma_verbs_unit_tests rdma_fake_unit_tests
# CMake then reports "RDMA FLUSH (ibv_wr_flush) in libibverbs 1.14.56.1: 1" (or the like).
#
# Needs (Debian 12 packages): cmake ninja-build pkgconf gcc libnl-3-dev libnl-route-3-dev
# (it installs those that are missing with apt-get). Man pages, pyverbs, valgrind
# annotations, static libraries are not built. Takes a few minutes on 2 cores.
set -euo pipefail

work=${1:-/work/rdma-core-new}
suite=${SUITE:-trixie}
jobs=${JOBS:-2}
prefix=$work/prefix
apt_dir=$work/apt
src_dir=$work/src

need=()
for p in cmake ninja-build pkgconf gcc libnl-3-dev libnl-route-3-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  echo "build-rdma-core-new: installing ${need[*]}" >&2
  apt-get install -y --no-install-recommends "${need[@]}"
fi

# A private apt configuration that knows only the deb-src of $suite: the machine's own
# sources and package lists are not touched.
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$src_dir"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
  >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=/nonexistent"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
apt-get "${apt_opts[@]}" -q update >/dev/null

version=$(apt-cache "${apt_opts[@]}" showsrc rdma-core | sed -n 's/^Version: //p' | head -n 1)
[[ -n $version ]] || { echo "build-rdma-core-new: no rdma-core in $suite" >&2; exit 1; }
upstream=${version%-*}
upstream=${upstream#*:}
orig=rdma-core_$upstream.orig.tar.gz
echo "build-rdma-core-new: rdma-core $version from $suite" >&2

cd "$src_dir"
if [[ ! -f $orig ]]; then
  # --download-only: no dpkg-source needed. (deb.debian.org's mirror here has been seen to
  # answer 404 for the .dsc while serving the tarballs: the tarball is what counts, and it is
  # checked against the signed index below.)
  apt-get "${apt_opts[@]}" -q source --download-only "rdma-core=$version" >/dev/null 2>&1 || true
fi
[[ -f $orig ]] || { echo "build-rdma-core-new: could not download $orig" >&2; exit 1; }
# The Sources index came through InRelease, which apt verified with Debian's archive key.
want=$(apt-cache "${apt_opts[@]}" showsrc rdma-core |
       awk -v v="$version" -v f="$orig" '/^Version:/ { ours = ($2 == v) }
                                         /^Checksums-Sha256:/ { sums = 1; next }
                                         /^[^ ]/ { sums = 0 }
                                         ours && sums && $3 == f { print $1; exit }')
have=$(sha256sum "$orig" | cut -d' ' -f1)
[[ -n $want && $want == "$have" ]] || {
  echo "build-rdma-core-new: $orig: sha256 $have, the index says '$want'" >&2; exit 1; }

tree=$src_dir/rdma-core-$upstream
if [[ ! -d $tree ]]; then
  tar xzf "$orig"
fi
cmake -S "$tree" -B "$tree/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DNO_MAN_PAGES=1 -DNO_PYVERBS=1 -DENABLE_VALGRIND=0 \
  -DENABLE_STATIC=0 >"$work/configure.log"
# Everything (providers too: a couple of minutes), because rdma-core's install has no
# components; only libibverbs, librdmacm and their headers and .pc files are used.
nice -n 10 ninja -C "$tree/build" -j "$jobs" >"$work/build.log"
ninja -C "$tree/build" install >"$work/install.log"

grep -q 'ibv_wr_flush' "$prefix/include/infiniband/verbs.h" ||
  { echo "build-rdma-core-new: $prefix has no ibv_wr_flush" >&2; exit 1; }
echo "$version" >"$prefix/.rdma-core-version"
echo "build-rdma-core-new: rdma-core $version in $prefix" >&2
echo "$prefix"
