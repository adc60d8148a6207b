#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The mutation check: builds the durability tests once per deliberate bug (mutants/*.patch)
# and requires each build's tests to fail. A mutant that survives means the suite cannot
# tell that bug from a correct engine.
#
#   run_mutants.sh SOURCE_DIR WORK_DIR TGT_SOURCE_DIR [MUTANT...]
#
# SOURCE_DIR is copied to WORK_DIR/src (the tree itself is never patched); one build in
# WORK_DIR/build is reused, so each mutant recompiles only what its patch touches. Each
# patch names, in its header, the tests that must catch it (# filter: a gtest filter, of the
# durability tests unless "# target:" names another test executable of tests/unit); the
# unmutated build must pass that same filter first, or the check proves nothing.
set -uo pipefail
src=${1:?SOURCE_DIR}
work=${2:?WORK_DIR}
tgt_src=${3:?TGT_SOURCE_DIR}
shift 3
mutants_dir="$src/tests/mutation/mutants"
if (( $# )); then
  patches=()
  for m in "$@"; do patches+=("$mutants_dir/$m.patch"); done
else
  patches=("$mutants_dir"/*.patch)
fi
target_of() { local t; t=$(sed -n 's/^# target: //p' "$1" | head -n 1); echo "${t:-durability_unit_tests}"; }
declare -A wanted
for p in "${patches[@]}"; do wanted[$(target_of "$p")]=1; done
targets=("${!wanted[@]}")

mkdir -p "$work"
rm -rf "$work/src"
# The tree as it is (working copy included), without build trees; fresh mtimes, so that no
# object of an earlier run's mutant is taken as up to date.
tar -C "$src" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$work" --one-top-level=src -m -xf -
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DTGT_SOURCE_DIR="$tgt_src" -DTGTPMEM_BUILD_LOAD_TOOL=OFF -DTGTPMEM_WERROR=OFF \
      >"$work/configure.log" 2>&1 || {
  echo "mutation: configure failed, see $work/configure.log" >&2; exit 1; }
# The executable of a test target (every one lives under tests/unit/<dir>/).
bin_of() { find "$work/build/tests/unit" -type f -name "$1" -perm -u+x | head -n 1; }

# build LOG TARGET...: those test targets, quietly (a mutant is sloppy code on purpose: no
# -Werror). The unmutated build makes every target; a mutant relinks only its own, since a
# change to the engine would otherwise relink every test executable for each mutant.
build() { local log=$1; shift; cmake --build "$work/build" -j"$(nproc)" --target "$@" >"$work/$log.log" 2>&1; }
# How many tests a gtest log says ran (a filter that matches nothing proves nothing).
ran() { sed -n 's/^\[==========\] \([0-9]*\) tests\? from .* ran\..*/\1/p' "$1" | tail -n 1; }
filter_of() { sed -n 's/^# filter: //p' "$1" | head -n 1; }
bug_of() { sed -n 's/^# bug: //p' "$1" | head -n 1; }

build build "${targets[@]}" || { echo "mutation: the unmutated build failed, see $work/build.log" >&2; exit 1; }

killed=0 survived=0 broken=0
# First every mutant's tests on the unmutated build: they must pass, and run something. They
# only read the build, so as many run at once as there are processors.
baseline() {  # baseline PATCH: its verdict in WORK/NAME.baseline.verdict
  local p=$1 name filter verdict=ok
  name=$(basename "$p" .patch)
  filter=$(filter_of "$p")
  if [[ -z $filter ]]; then
    verdict="has no '# filter:' line"
  elif ! "$(bin_of "$(target_of "$p")")" --gtest_filter="$filter" >"$work/$name.baseline.log" 2>&1; then
    verdict="its tests fail without the mutant ($work/$name.baseline.log)"
  elif [[ $(ran "$work/$name.baseline.log") -lt 1 ]]; then
    verdict="its filter '$filter' selects no test"
  fi
  echo "$verdict" >"$work/$name.baseline.verdict"
}
parallel=$(nproc)
for p in "${patches[@]}"; do
  while (( $(jobs -rp | wc -l) >= parallel )); do wait -n; done
  baseline "$p" &
done
wait
declare -A usable
for p in "${patches[@]}"; do
  name=$(basename "$p" .patch)
  verdict=$(cat "$work/$name.baseline.verdict" 2>/dev/null || echo "no baseline verdict")
  if [[ $verdict == ok ]]; then
    usable[$name]=1
  else
    echo "mutation: $name: $verdict" >&2
  fi
done

printf '%-42s %-9s %s\n' mutant result "caught by"
for p in "${patches[@]}"; do
  name=$(basename "$p" .patch)
  filter=$(filter_of "$p")
  if [[ -z ${usable[$name]:-} ]]; then
    printf '%-42s %-9s %s\n' "$name" BASELINE "see above"
    broken=$((broken + 1)); continue
  fi
  if ! patch -s -p1 -d "$work/src" <"$p"; then
    printf '%-42s %-9s %s\n' "$name" STALE "the patch no longer applies: update it to the code"
    broken=$((broken + 1)); continue
  fi
  if ! build "$name.build" "$(target_of "$p")"; then
    printf '%-42s %-9s %s\n' "$name" NOBUILD "see $work/$name.build.log"
    broken=$((broken + 1))
  elif "$(bin_of "$(target_of "$p")")" --gtest_filter="$filter" >"$work/$name.log" 2>&1; then
    printf '%-42s %-9s %s\n' "$name" SURVIVED "$(bug_of "$p")"
    survived=$((survived + 1))
  else
    caught=$(sed -n 's/^\[  FAILED  \] \([^ ,]*\.[^ ,]*\).*/\1/p' "$work/$name.log" | sort -u |
             sed 's|^Layouts/||; s|\.EveryAcknowledgedWriteSurvivesEveryCrash||; s|\.EveryFailingCallBreaksNoPromise||' |
             head -n 3 | paste -sd ' ')
    printf '%-42s %-9s %s\n' "$name" killed "${caught:-the test binary failed}"
    killed=$((killed + 1))
  fi
  patch -s -R -p1 -d "$work/src" <"$p" || { echo "mutation: cannot revert $name" >&2; exit 1; }
done
echo "mutation: $killed killed, $survived survived, $broken broken, of ${#patches[@]} mutants"
(( survived == 0 && broken == 0 ))
