#!/usr/bin/env bash
# Runs every test of tgt-pmem: unit, integration (the real tgtd + libiscsi on 127.0.0.1) and
# e2e (a QEMU guest with Soft-RoCE and an emulated NVDIMM), then the unit tests again in an
# ASan+UBSan build. Installs what it needs (scripts/setup-deps.sh). Run as root.
#   TGTPMEM_E2E=0   skip the guest tests (they need qemu and ~10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
export TGTPMEM_WITH_E2E=${TGTPMEM_E2E:-1}
scripts/build.sh
labels='unit|integration'
[[ $TGTPMEM_WITH_E2E == 1 ]] && labels='unit|integration|e2e'
status=0
ctest --test-dir build -L "$labels" --output-on-failure || status=1

BUILD_DIR=build-asan scripts/build.sh -DTGTPMEM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ctest --test-dir build-asan -L unit --output-on-failure || status=1
exit $status
