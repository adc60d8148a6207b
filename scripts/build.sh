#!/usr/bin/env bash
# Configures and builds tgt-pmem into BUILD_DIR (default: build/). Installs the Debian
# packages it needs first (scripts/setup-deps.sh). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup-deps.sh
cmake -S . -B "$BUILD_DIR" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
