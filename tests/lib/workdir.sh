# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Source this file; it defines one function.
#
#   work_dir VAR NAME
#       makes a fresh directory NAME.XXXXXX under ${TMPDIR:-/tmp} and stores its path in VAR.
#       If none can be made the test ends here (exit 1): the test scripts run without set -e,
#       and an empty path would send their files to the root directory.
work_dir() {
  local d
  d=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX") ||
    { echo "FAIL: cannot create a work directory in ${TMPDIR:-/tmp}" >&2; exit 1; }
  printf -v "$1" '%s' "$d"
}
