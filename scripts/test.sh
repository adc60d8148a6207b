#!/usr/bin/env bash
# Runs every test of tgt-pmem: unit, integration (the real tgtd + libiscsi on 127.0.0.1) and
# e2e (a QEMU guest with Soft-RoCE and an emulated NVDIMM) in the main build (Release, as the
# quick start builds it), the mutation check of the durability tests, then the unit tests
# again in an ASan+UBSan build, then the RDMA FLUSH tests in a build against a newer
# rdma-core (below). Two tests at a time where they can share the machine: a guest boot
# (both vCPUs) and the package builds run alone.
# Installs what it needs (scripts/setup-deps.sh). Run as root.
#   TGTPMEM_E2E=0     skip the guest tests (they need qemu and ~15 minutes)
#   TGTPMEM_FLUSH=0   skip the RDMA FLUSH build and its tests
set -euo pipefail
cd "$(dirname "$0")/.."
export TGTPMEM_WITH_E2E=${TGTPMEM_E2E:-1}
# Warnings are errors here (CI, developers), in every build type the project ships; the
# default for users and packagers is off (CMakeLists.txt). The main build is the Release one
# (-O3: g++'s warnings there differ from -O2's); the mutation check builds RelWithDebInfo, the
# sanitizer build Debug.
scripts/build.sh --main
jobs=$(nproc)
# The guest image (built once, then cached; 3-4 min, mostly downloads and unpacking) is made
# beside the first tests: the guest tests come last and wait for it (image.sh's lock).
image_pid=""
if [[ $TGTPMEM_WITH_E2E == 1 ]] && command -v debootstrap >/dev/null; then
  tests/e2e/image.sh >build/e2e-image.log 2>&1 &
  image_pid=$!
fi
labels='unit|integration'
[[ $TGTPMEM_WITH_E2E == 1 ]] && labels='unit|integration|e2e'
status=0
ctest --test-dir build -L "$labels" -j"$jobs" --output-on-failure || status=1
# Its verdict is the guest tests' (they call image.sh too); this only reaps it.
[[ -n $image_pid ]] && { wait "$image_pid" || true; }
# The mutation check (tests/mutation/): the durability tests rebuilt with each deliberate bug
# must fail on every one (~12 min on 2 cores; it builds in build/mutation/).
ctest --test-dir build -L mutation --output-on-failure || status=1

# The other builds take tgt's headers from the main build's copy of its source. The fuzz
# targets are ASan+UBSan builds already (tests/fuzz/), run in the main build: not again here.
tgt_src=$(sed -n 's/^TGT_SOURCE_DIR:PATH=//p' build/CMakeCache.txt)
BUILD_DIR=build-asan scripts/build.sh -DTGTPMEM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
  -DTGTPMEM_WERROR=ON -DTGTPMEM_BUILD_FUZZERS=OFF -DTGT_SOURCE_DIR="$tgt_src"
ctest --test-dir build-asan -L unit -j"$jobs" --output-on-failure || status=1

# RDMA FLUSH. Debian 12's rdma-core (44) has no ibv_wr_flush, so the builds above leave the
# FLUSH path out and skip its unit tests. This build is against Debian trixie's rdma-core,
# built into a private prefix (nothing installed system-wide): the unit tests of the libraries
# that use FLUSH, and push mode's RDMA FLUSH on a device, in a guest with the backports kernel
# (e2e_push-rdma-flush). Only what those need is built.
if [[ ${TGTPMEM_FLUSH:-1} == 1 ]]; then
  rdma_prefix=$(scripts/build-rdma-core-new.sh "$PWD/build-rdma-core")
  # The unit test programs of the code that is built differently here (all of it links
  # tgt_pmem::rdma), run directly: most of the suite is not built in this tree.
  flush_tests=(flush_remote_unit_tests rdma_fake_unit_tests rdma_verbs_unit_tests
               push_service_unit_tests push_client_unit_tests push_client_service_tests)
  BUILD_DIR=build-flush BUILD_TARGETS="bs_pmem lld_srp tgtpmem-push tgtpmem-push-hostile tgtpmem-admin ${flush_tests[*]}" \
    scripts/build.sh -DCMAKE_PREFIX_PATH="$rdma_prefix" -DTGTPMEM_WERROR=ON
  grep -q '^TGTPMEM_HAVE_IBV_WR_FLUSH:INTERNAL=1$' build-flush/CMakeCache.txt ||
    { echo "test.sh: build-flush did not find ibv_wr_flush in $rdma_prefix" >&2; exit 1; }
  for t in "${flush_tests[@]}"; do
    bin=$(find build-flush/tests/unit -type f -name "$t" -perm -u+x | head -n 1)
    [[ -n $bin ]] || { echo "test.sh: $t was not built in build-flush" >&2; status=1; continue; }
    echo "build-flush: $t" >&2
    (cd "$(dirname "$bin")" && GTEST_BRIEF=1 "./$t") || status=1
  done
  if [[ $TGTPMEM_WITH_E2E == 1 ]]; then
    ctest --test-dir build-flush -R '^e2e_push-rdma-flush$' --output-on-failure || status=1
  fi
fi
exit $status
