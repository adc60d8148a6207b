#!/usr/bin/env bash
# Runs a libFuzzer target on a bounded number of inputs, from the seed corpus in the
# repository. Inputs it finds go to a scratch corpus in the build tree, never into the
# repository; a crash leaves its input in WORK_DIR (crash-*, leak-*, timeout-*) and fails.
# Usage: run_fuzzer.sh FUZZER SEED_DIR WORK_DIR [libFuzzer options...]
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3
shift 3
rm -rf "$work/corpus"
mkdir -p "$work/corpus"
# A fixed seed: the same inputs on every run, so that a failure is reproducible.
exec "$fuzzer" -seed=1 -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
  -artifact_prefix="$work/" -print_final_stats=1 "$@" "$work/corpus" "$seeds"
