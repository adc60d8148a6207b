#!/usr/bin/env bash
# Installs every Debian package tgt-pmem needs to build, test and run, and enables
# deb-src so that the build can fetch the source of the *installed* tgt (see
# fetch-tgt-source.sh). Idempotent: a second run only checks.
#
#   TGTPMEM_WITH_E2E=1   also install what the QEMU guest tests need (qemu, debootstrap)
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-deps: run as root (apt-get install)" >&2
  exit 1
fi

packages=(
  # build
  build-essential cmake pkg-config dpkg-dev googletest libgtest-dev libgmock-dev
  libbenchmark-dev libboost-program-options-dev
  # the libFuzzer targets (tests/fuzz): clang >= 16 for libstdc++ 12's std::expected
  clang-16 libclang-rt-16-dev
  # the target and the libraries we build on
  tgt libpmem2-dev libibverbs-dev librdmacm-dev libiscsi-dev nettle-dev nlohmann-json3-dev
  # real peers for the tests
  libiscsi-bin open-iscsi
  # util-linux gives unshare(1); iproute2/procps for the test harness
  util-linux procps iproute2 jq e2fsprogs
  # the bash completion's test (an interactive bash with bash-completion on a pty)
  bash-completion bsdutils
  # man pages (scdoc), the .deb (debhelper, lintian) and the .rpm (rpmbuild) in packaging/
  scdoc debhelper lintian rpm rpmlint file
  # the plot of the scaling benchmark (tests/bench/scaling.sh), and its arithmetic
  gnuplot-nox bc
)
if [[ ${TGTPMEM_WITH_E2E:-0} == 1 ]]; then
  packages+=(qemu-system-x86 qemu-utils debootstrap e2fsprogs cpio)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# deb-src: needed by 'apt-get source tgt'. Debian 12 uses deb822 .sources files.
need_update=0
src=/etc/apt/sources.list.d/debian.sources
if [[ -f $src ]] && ! grep -q '^Types:.*deb-src' "$src"; then
  sed -i 's/^Types: deb$/Types: deb deb-src/' "$src"
  need_update=1
elif [[ ! -f $src ]] && ! grep -rqs '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/tgt-pmem-src.list
  need_update=1
fi

if (( ${#missing[@]} )) || (( need_update )); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  if (( ${#missing[@]} )); then
    echo "setup-deps: installing ${missing[*]}"
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi
# The distribution enables tgtd's systemd unit; our tests start their own tgtd on their own
# control port, so a running system tgtd does no harm, but we never start one ourselves.
echo "setup-deps: ok (tgt $(dpkg-query -W -f='${Version}' tgt))"
