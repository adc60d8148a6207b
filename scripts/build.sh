#!/usr/bin/env bash
# Configures and builds tgt-pmem into BUILD_DIR (default: build/). Installs the Debian
# packages it needs first (scripts/setup-deps.sh). Extra arguments go to cmake.
# BUILD_TARGETS="a b": build only those targets (default: all).
#   --main   the main build's configuration, first: Release (-O3, what the quick start runs
#            and the tests test) with warnings as errors. The quick start and scripts/test.sh
#            both build so, so the tests reuse the quick start's build.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [[ ${1:-} == --main ]]; then
  shift
  set -- -DCMAKE_BUILD_TYPE=Release -DTGTPMEM_WERROR=ON "$@"
fi
scripts/setup-deps.sh
cmake -S . -B "$BUILD_DIR" "$@" >/dev/null
read -r -a targets <<<"${BUILD_TARGETS:-}"
cmake --build "$BUILD_DIR" -j"$(nproc)" ${targets[@]:+--target "${targets[@]}"}
