#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# libtgtpmem-push.so as applications meet it: its SONAME, a dynamic symbol table holding the
# tgt_pmem::push API only (nothing of utils/ or std:: exported, iser_ext/client/tgtpmem-push.map),
# and an application (push_client_app.cc, already built against it) that runs.
#   push_client_library_test.sh LIBRARY APP
# CTest runs it on the build tree; package_test.sh and package_rpm_test.sh on installed files.
set -uo pipefail
lib=${1:?usage: push_client_library_test.sh LIBRARY APP}
app=${2:?usage: push_client_library_test.sh LIBRARY APP}
source "$(dirname "$0")/../lib/workdir.sh"
work_dir tmp tgtpmem-pushlib
trap 'rm -rf "$tmp"' EXIT
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
[[ $soname == libtgtpmem-push.so.0 ]] && pass "SONAME $soname" || fail "SONAME is '$soname'"
nm -D --defined-only "$lib" | c++filt >"$tmp/exports"
exported=$(wc -l <"$tmp/exports")
others=$(awk '$3 !~ /^tgt_pmem::push::/' "$tmp/exports")
[[ -z $others ]] && (( exported > 0 )) && pass "$exported dynamic symbols, all tgt_pmem::push::" ||
  { fail "exports beyond tgt_pmem::push ($exported in all):"; echo "$others"; }
objdump -p "$lib" | grep -E '^ *(RPATH|RUNPATH) ' >/dev/null && fail "the library carries an RPATH/RUNPATH" ||
  pass "no RPATH"
if "$app" >"$tmp/app.out" 2>&1; then
  sed 's/^/     /' "$tmp/app.out"
  pass "the application runs"
else
  fail "the application failed:"; cat "$tmp/app.out"
fi

if (( failures )); then echo "push_client_library_test: $failures check(s) failed"; exit 1; fi
echo "push_client_library_test: all checks passed"
