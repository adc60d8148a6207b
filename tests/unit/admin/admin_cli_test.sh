#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# tgtpmem-admin as an administrator meets it: help, exit statuses, one clear message per
# mistake, files never modified by a refused or read-only command, and the progress of
# --zero as a bar on a terminal and as lines in a pipe. No root needed.
#   admin_cli_test.sh PATH/TO/tgtpmem-admin
set -uo pipefail
admin=$(readlink -f "${1:?usage: admin_cli_test.sh PATH/TO/tgtpmem-admin}")
work=$(mktemp -d "${TMPDIR:-/tmp}/admin-cli-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
unset PMEM2_FORCE_GRANULARITY
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }

# run NAME ARGS...: stdout/stderr to $work/NAME.{out,err}, status in $rc
run() {
  local name=$1; shift
  "$admin" "$@" >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
}
# expect NAME STATUS [STDERR-TEXT]: exactly one diagnostic line set, no crash
expect() {
  local name=$1 want=$2 text=${3:-}
  if [[ $rc -ne $want ]]; then
    fail "$name: exit status $rc, expected $want"; cat "$work/$name.out" "$work/$name.err"; return
  fi
  if (( rc >= 128 )); then fail "$name: killed by a signal"; return; fi
  if [[ -n $text ]] && ! grep -qF -- "$text" "$work/$name.err"; then
    fail "$name: stderr lacks '$text'"; cat "$work/$name.err"; return
  fi
  pass "$name: exit $rc${text:+, says '$text'}"
}

# --- help, version ------------------------------------------------------------------------
run version --version
expect version 0
grep -qE '^tgtpmem-admin \(tgt-pmem\) [0-9]+\.[0-9]+\.[0-9]+$' "$work/version.out" &&
  pass "--version: $(head -n 1 "$work/version.out")" || fail "--version: $(cat "$work/version.out")"
run version-late info --version
expect version-late 0
run help --help
expect help 0
for section in "Usage: tgtpmem-admin COMMAND PATH" "Commands:" "Exit status:" "PMEM2_FORCE_GRANULARITY"; do
  grep -qF "$section" "$work/help.out" && pass "help: has '$section'" || fail "help: lacks '$section'"
done
for cmd in create info check; do
  run "help-$cmd" "$cmd" --help
  expect "help-$cmd" 0
  grep -q "^Usage: tgtpmem-admin $cmd PATH" "$work/help-$cmd.out" && pass "$cmd --help: usage line" ||
    fail "$cmd --help: no usage line"
done
[[ $(awk '{ if (length($0) > 90) n++ } END { print n+0 }' "$work"/help*.out) -eq 0 ]] &&
  pass "help: no line longer than 90 columns" || fail "help: lines longer than 90 columns"

# --- usage errors: exit 2 -------------------------------------------------------------------
run none;          expect none 2 "no command given"
run unknown frob;  expect unknown 2 "unknown command 'frob'"
run badopt info "$work/x" --frob; expect badopt 2 "unrecognised option '--frob'"
run nopath check;  expect nopath 2 "check: no PATH given"
run twopaths info a b; expect twopaths 2 "one PATH only"
run badsize create "$work/new.img" --size 10x; expect badsize 2 "unknown suffix"
run badbs create "$work/new.img" --size 8m --block-size 1000; expect badbs 2 "must be 512 or 4096"
run tiny create "$work/new.img" --size 4k; expect tiny 2 "below the minimum of 1048576 bytes"
run unaligned create "$work/new.img" --size 1049088; expect unaligned 2 "not a multiple of the mapping alignment"
run nosize create "$work/new.img"; expect nosize 2 "does not exist: give --size"
[[ ! -e $work/new.img ]] && pass "refused creates left no file behind" || fail "a refused create left $work/new.img"

# --- the path cannot be used: exit 3 ---------------------------------------------------------
run missing info "$work/missing.img"; expect missing 3 "no such file or device"
run missingcheck check "$work/missing.img"; expect missingcheck 3
run dir info "$work"; expect dir 3 "not a regular file or a devdax character device"
run chr info /dev/null; expect chr 3 "not devdax"
run nodir create "$work/no/such/x.img" --size 1m; expect nodir 3 "cannot create"

# --- create, info, check ---------------------------------------------------------------------
img=$work/lun.img
run create create "$img" --size 16m --block-size 4096 --json
expect create 0
jq -e '.created and .size == 16777216 and .layout == "raw" and .block_size == 4096 and .durability == "msync"' \
  "$work/create.out" >/dev/null && pass "create --json: fields" || { fail "create --json"; cat "$work/create.out"; }
run info info "$img" --json
expect info 0
jq -e '.medium == "file" and .size == 16777216 and .block_size == null and .layout == "raw"
       and .durability == "msync" and (.bad_blocks | type) == "array"' "$work/info.out" >/dev/null &&
  pass "info --json: fields" || { fail "info --json"; cat "$work/info.out"; }
PMEM2_FORCE_GRANULARITY=CACHE_LINE "$admin" info "$img" --json >"$work/forced.out" 2>&1
# The variable forces what libpmem2 reports; bs_pmem ignores it, and info says what bs_pmem does.
jq -e '.durability == "msync" and .forced_granularity == "CACHE_LINE"
       and .store_granularity == "cache-line"' "$work/forced.out" >/dev/null &&
  pass "info: PMEM2_FORCE_GRANULARITY does not make a file pmem" ||
  { fail "forced granularity"; cat "$work/forced.out"; }
run check check "$img" --block-size 4096
expect check 0
grep -q "^check passed" "$work/check.out" && pass "check: passed" || fail "check: no verdict line"

# A store with data: create refuses and changes nothing, even with --zero; --force wipes.
printf 'precious' | dd of="$img" bs=1 seek=123456 conv=notrunc status=none
before=$(sha256sum "$img")
run refuse create "$img" --size 32m --zero
expect refuse 4 "holds data (first non-zero byte at offset 123456)"
[[ $(sha256sum "$img") == "$before" && $(stat -c %s "$img") -eq 16777216 ]] &&
  pass "refused create left the store unchanged" || fail "refused create modified the store"
# check and info never write, not even the timestamps.
mtime=$(stat -c %Y.%y "$img")
"$admin" check "$img" >/dev/null 2>&1; "$admin" info "$img" >/dev/null 2>&1
[[ $(sha256sum "$img") == "$before" && $(stat -c %Y.%y "$img") == "$mtime" ]] &&
  pass "check and info left the store unchanged" || fail "check or info modified the store"

# --zero through a pipe: plain progress lines; then the data is gone.
run zero create "$img" --force --zero
expect zero 0 "zeroing $img: 100% (16 MiB of 16 MiB)"
grep -q $'\r' "$work/zero.err" && fail "zero: carriage returns in a pipe" || pass "zero: plain lines in a pipe"
[[ $(grep -c '^zeroing' "$work/zero.err") -eq 11 ]] && pass "zero: a line per 10%" ||
  { fail "zero: expected 11 progress lines"; cat "$work/zero.err"; }
cmp -s "$img" <(head -c 16777216 /dev/zero) && pass "zero: the store reads as zeros" || fail "zero: data left"

# On a terminal (script(1) gives one): a bar redrawn in place.
if command -v script >/dev/null; then
  printf 'x' | dd of="$img" bs=1 seek=99 conv=notrunc status=none
  script -qec "'$admin' create '$img' --force --zero" /dev/null >"$work/tty.out" 2>&1
  if grep -q $'\r' "$work/tty.out" && grep -q '\] 100%  16 MiB / 16 MiB' "$work/tty.out"; then
    pass "zero: a progress bar on a terminal"
  else
    fail "zero: no progress bar on a terminal"; cat -v "$work/tty.out"
  fi
else
  echo "skip - script(1) not installed: no terminal test"
fi

# check reports what the module would refuse, with exit 1.
truncate -s 1049088 "$work/odd.img"
run odd check "$work/odd.img" --json
expect odd 1
jq -e '.ok == false and ([.checks[] | select(.result == "failed") | .name] == ["size.alignment"])' \
  "$work/odd.out" >/dev/null && pass "check: names the failed rule" || { fail "check odd"; cat "$work/odd.out"; }

# check-config: the help names the default file; a good file passes (0), a typo in bsopts
# fails (1) with bs_pmem's own message and the file:line, an unreadable file is exit 3. Its
# agreement with tgt-admin and tgtd is tests/integration/check_config_test.sh.
run cc-help check-config --help
expect cc-help 0
grep -qF '/etc/tgt/targets.conf' "$work/cc-help.out" && pass "check-config --help names targets.conf" ||
  fail "check-config --help: $(head -n 3 "$work/cc-help.out")"
"$admin" create "$work/cc.img" --size 4m --block-size 4096 >/dev/null
printf '<target iqn.x:a>\n  <backing-store %s>\n    bs-type pmem\n    bsopts %s\n  </backing-store>\n</target>\n' \
  "$work/cc.img" "'block_size=4096;write_cache=on'" >"$work/good.conf"
run cc-good check-config "$work/good.conf"
expect cc-good 0
grep -qF "good.conf:2: target iqn.x:a, lun (next free), $work/cc.img: ok (block size 4096, layout raw" \
  "$work/cc-good.out" && pass "check-config: the good LUN is ok" || { fail "check-config good"; cat "$work/cc-good.out"; }
sed 's/write_cache=on/writecache=on/' "$work/good.conf" >"$work/typo.conf"
run cc-typo check-config "$work/typo.conf"
expect cc-typo 1
grep -qF "bsopts: unknown key 'writecache'" "$work/cc-typo.out" && grep -qF 'typo.conf:2:' "$work/cc-typo.out" &&
  pass "check-config: a typo fails with bs_pmem's message and file:line" || { fail "check-config typo"; cat "$work/cc-typo.out"; }
run cc-missing check-config "$work/none.conf"
expect cc-missing 3
run cc-bad-option check-config --bogus
expect cc-bad-option 2 "unrecognised option '--bogus'"

if (( failures )); then echo "admin_cli_test: $failures check(s) failed"; exit 1; fi
echo "admin_cli_test: all checks passed"
