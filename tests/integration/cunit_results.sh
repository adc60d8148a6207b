#!/usr/bin/env bash
# Turns iscsi-test-cu's CUnit XML (CUnitAutomated-Results.xml) into one line per test:
#   Suite.Test PASS|FAIL
# A test with several failure records is listed once. Usage: cunit_results.sh FILE
set -euo pipefail
awk '
  /<SUITE_NAME>/      { gsub(/.*<SUITE_NAME> *| *<\/SUITE_NAME>.*/, ""); suite = $0 }
  /<CUNIT_RUN_TEST_SUCCESS>/ { state = "PASS" }
  /<CUNIT_RUN_TEST_FAILURE>/ { state = "FAIL" }
  /<TEST_NAME>/ {
    gsub(/.*<TEST_NAME> *| *<\/TEST_NAME>.*/, "")
    key = suite "." $0
    if (!(key in seen)) { order[++n] = key; seen[key] = state }
    else if (state == "FAIL") seen[key] = "FAIL"
  }
  END { for (i = 1; i <= n; i++) print order[i], seen[order[i]] }
' "$1"
