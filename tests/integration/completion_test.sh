#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The bash completion (packaging/bash-completion/tgt-pmem) as a user meets it: lines typed
# into a real interactive bash on a pseudo-terminal (script(1)), TAB pressed, and the line
# readline makes of it compared with the expected one. Also: the bsopts keys it offers are
# exactly those bs_pmem's parser knows, and every value it offers is one the parser accepts
# (asked through tgtpmem-admin check-config, which uses that parser). Bugs it catches: a
# key added to bs_pmem and not to the completion (or the reverse), a completed value tgtd
# would refuse, readline's '=' word break doubling "key=key=" (seen while writing it).
# Usage: completion_test.sh COMPLETION_FILE TGTPMEM_ADMIN TGTPMEM_LOAD TGTPMEM_PUSH
set -uo pipefail
file=$(readlink -f "$1") admin=$(readlink -f "$2")
command -v script >/dev/null || { echo "script(1) is not installed"; exit 77; }
[[ -r /usr/share/bash-completion/bash_completion ]] ||
  { echo "bash-completion is not installed (scripts/setup-deps.sh)"; exit 77; }
source "$(dirname "$0")/../lib/workdir.sh"
work_dir work completion-test
trap 'rm -rf "$work"' EXIT
# The tools under test first on PATH: completion asks them for their options.
mkdir "$work/bin"
for t in "$2" "$3" "$4"; do ln -s "$(readlink -f "$t")" "$work/bin/$(basename "$t")"; done
export PATH=$work/bin:$PATH
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }

# --- the keys and values, against bs_pmem's parser ------------------------------------------
keys=$(bash -c "source '$file'; echo \$_tgtpmem_bsopts_keys" | tr ' ' '\n' | sort)
"$admin" create "$work/s.img" --size 4m >/dev/null
conf() { printf '<target iqn.x:a>\n  <backing-store %s>\n    bs-type pmem\n    bsopts %s\n  </backing-store>\n</target>\n' \
           "$work/s.img" "'$1'" >"$work/c.conf"; "$admin" check-config --json "$work/c.conf" || :; }
known=$(conf 'no_such_key=1' | grep -o "(known: [^)]*)" | sed 's/(known: //; s/)//' | tr -d ' ' | tr ',' '\n' | sort)
if [[ -n $known && $keys == "$known" ]]; then
  pass "bsopts keys: the same $(wc -l <<<"$keys") as bs_pmem's parser"
else
  fail "bsopts keys differ from bs_pmem's parser:"; diff <(echo "$keys") <(echo "$known")
fi
for k in $keys; do
  for v in $(bash -c "source '$file'; _tgtpmem_bsopts_values $k"); do
    opts="$k=$v"
    # Keys that need another one to be accepted.
    case $k in
      threads) opts="exec=threads;$opts" ;;
      push_port|push_address|push_poll_us) opts="push=on;$opts" ;;
      mirror_policy) opts="mirror=192.0.2.1;mirror_target=iqn.x:b;mirror_meta=/m.meta;$opts" ;;
    esac
    if conf "$opts" | jq -e '[.luns[0].checks[] | select(.name | startswith("bsopts")) | .result] == ["ok"]' >/dev/null; then
      pass "bsopts $opts: accepted by bs_pmem's parser"
    else
      fail "bsopts $opts: the completion offers it, bs_pmem refuses it"; conf "$opts"
    fi
  done
done

# --- real readline --------------------------------------------------------------------------
# probe LINE...: types each LINE, TAB, then Ctrl-A and "echo RESULT: ", Enter: bash prints the
# line as completed.
probe() {
  {
    sleep 0.5
    printf 'bind "set enable-bracketed-paste off"; PS1="$ "; source /usr/share/bash-completion/bash_completion; source %s\n' "$file"
    local l
    for l in "$@"; do sleep 0.3; printf '%s\t' "$l"; sleep 0.3; printf '\001echo RESULT: \n'; done
    sleep 0.3; printf 'exit\n'
  } | script -qfc "bash --norc --noprofile -i" /dev/null | tr -d '\r' | sed -n 's/^RESULT: //p'
}
cases=(
  # typed | expected (the shell removes the quotes of a quoted bsopts when echoing)
  "tgtadm --bstype pm|tgtadm --bstype pmem"
  "tgtadm --lld s|tgtadm --lld srp"
  "tgtadm --bstype pmem --bsopts wri|tgtadm --bstype pmem --bsopts write_cache="
  "tgtadm --bstype pmem --bsopts write_cache=of|tgtadm --bstype pmem --bsopts write_cache=off"
  "tgtadm -E pmem --bsopts durability=em|tgtadm -E pmem --bsopts durability=emulated"
  "tgtadm --bstype pmem --bsopts 'block_size=4096;lay|tgtadm --bstype pmem --bsopts block_size=4096;layout="
  "tgtadm --bstype pmem --bsopts 'exec=threads;layout=at|tgtadm --bstype pmem --bsopts exec=threads;layout=atomic"
  "tgtadm --bstype rdwr --bsopts wri|tgtadm --bstype rdwr --bsopts wri"
  "tgtpmem-admin check-c|tgtpmem-admin check-config"
  "tgtpmem-admin st|tgtpmem-admin status"
  "tgtpmem-admin dump --control|tgtpmem-admin dump --control-port"
  "tgtpmem-admin create x --lay|tgtpmem-admin create x --layout"
  "tgtpmem-admin create x --layout a|tgtpmem-admin create x --layout atomic"
  "tgtpmem-admin check x --block-size 40|tgtpmem-admin check x --block-size 4096"
  "tgtpmem-load --veri|tgtpmem-load --verify"
  "tgtpmem-push --chap-secret-f|tgtpmem-push --chap-secret-file"
)
typed=() want=()
for c in "${cases[@]}"; do typed+=("${c%%|*}"); want+=("${c#*|}"); done
mapfile -t got < <(probe "${typed[@]}")
for i in "${!typed[@]}"; do
  # A completed word ends in a space unless it ends in '='.
  g=${got[i]-}; g=${g% }
  if [[ $g == "${want[i]}" ]]; then
    pass "'${typed[i]}' TAB -> '$g'"
  else
    fail "'${typed[i]}' TAB -> '${got[i]-<nothing>}', expected '${want[i]}'"
  fi
done

if ((failures)); then echo "completion_test: $failures check(s) failed"; exit 1; fi
echo "completion_test: all checks passed"
