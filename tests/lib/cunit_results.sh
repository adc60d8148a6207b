#!/usr/bin/env bash
# Turns the console output of iscsi-test-cu (CUnit's basic interface, i.e. run without -x)
# into one line per test:
#   Suite.Test PASS|FAIL|SKIP [reason]
# libiscsi's tests skip by printing "[SKIPPED] <why>" and returning, which CUnit counts as
# passed (and its -x XML does not record at all): a test that printed [SKIPPED] is SKIP here,
# with the first reason it gave, unless it also failed. Usage: cunit_results.sh LOG
set -euo pipefail
awk '
  function finish(result) {
    if (test == "") return
    if (result == "PASS" && skip != "") result = "SKIP " skip
    print test, result
    test = ""
  }
  /^Suite: / { suite = substr($0, 8); next }
  /^  Test: / {
    finish("FAIL")  # a test without a verdict line: the run stopped in it
    t = substr($0, 9); sub(/ \.\.\..*/, "", t)
    test = suite "." t; skip = ""
  }
  test != "" && /\[SKIPPED\]/ && skip == "" {
    r = $0; sub(/.*\[SKIPPED\] */, "", r); gsub(/[ \t]+$/, "", r); skip = r
  }
  # The CUnit verdict: "passed" or "FAILED" right after "Test: X ..." or at the start of a line
  # (libiscsi messages are bracketed, "[FAILED] ...", and may follow it on the line).
  test != "" && /(^|\.\.\.)[ \t]*passed/ { finish("PASS"); next }
  test != "" && /(^|\.\.\.)[ \t]*FAILED/ { finish("FAIL"); next }
  END { finish("FAIL") }
' "$1"
