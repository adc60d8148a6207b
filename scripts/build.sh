#!/usr/bin/env bash
# Configures and builds tgt-pmem into BUILD_DIR (default: build/). Installs the Debian
# packages it needs first (scripts/setup-deps.sh). Extra arguments go to cmake.
# BUILD_TARGETS="a b": build only those targets (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup-deps.sh
cmake -S . -B "$BUILD_DIR" "$@" >/dev/null
read -r -a targets <<<"${BUILD_TARGETS:-}"
cmake --build "$BUILD_DIR" -j"$(nproc)" ${targets[@]:+--target "${targets[@]}"}
