#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A mirror primary through the real tgtd whose secondary cannot be reached (issue 16;
# bs_pmem(8), MIRRORING): this host has no RDMA device, so the primary's link never comes up,
# which is exactly the case its policies are for. The mirrored data path itself runs in the
# guest (tests/e2e, mirror scenario). Bugs it catches:
#  - policy fail writing the primary alone, or answering anything but NOT READY (nothing may
#    be acknowledged that is on one copy only);
#  - policy degrade answering GOOD without the generation moved on and the region marked,
#    durably (mirror-status reads the store file as a restarted tgtd would);
#  - a link that cannot connect stalling tgtd (commands of other LUNs, tgtadm, LUN delete);
#  - bsopts that would bypass the mirror (push=on) or leak the CHAP secret (a file others can
#    read) accepted; a secondary's store served as a primary;
#  - the status file and tgtpmem-admin status not saying what state the mirror is in;
#  - a copy that went on alone demoted without the administrator saying its writes may go
#    (split brain), or a role changed under a running tgtd.
# Ports 9124 (control) and 3384 (iSCSI).
# Usage: mirror_primary_test.sh TGTPMEM_ADMIN PATTERN_IO MODULE_DIR
set -uo pipefail
ADMIN=$1 PIO=$2 MODULE_DIR=$3
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
command -v jq >/dev/null || { echo "needs jq"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"
source "$(dirname "$0")/../lib/workdir.sh"
CTL=9124 PORT=3384 IQN=iqn.2026-12.org.tgt-pmem:mirror-primary
SEC=iqn.2026-12.org.tgt-pmem:mirror-secondary
work_dir W tgtpmem-mirror-primary
LOG=$W/tgtd.log
export TGTPMEM_STATE_DIR=$W/stores TGTPMEM_RUN_DIR=$W/run
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; [[ -n ${KEEP:-} ]] || rm -rf "$W"; }
trap cleanup EXIT
url() { echo "iscsi://127.0.0.1:$PORT/$IQN/$1"; }
status_file() { echo "$TGTPMEM_RUN_DIR/tgtd.$CTL/lun.1.$1.json"; }
# wait_status LUN JQ: until the LUN's status file satisfies JQ (10 s).
wait_status() {
  local f; f=$(status_file "$1")
  for _ in $(seq 1 50); do
    [[ -s $f ]] && jq -e "$2" "$f" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

for n in 1 2 3; do truncate -s 64m "$W/lun$n.img"; done
cp "$W/lun2.img" "$W/zero.img"
for m in degrade fail; do
  "$ADMIN" mirror-format "$W/$m.meta" --role primary --lun-size 64m >/dev/null || fail "mirror-format $m"
done
"$ADMIN" mirror-format "$W/sec.meta" --role secondary --lun-size 64m >/dev/null || fail "mirror-format secondary"
gen0=$("$ADMIN" mirror-status "$W/degrade.meta" --json | jq -r .current)

tgtd_start "$MODULE_DIR" $CTL $PORT "$LOG" || { echo "tgtd did not start"; exit 1; }
tgt_new_target 1 $IQN && tgt_allow_all 1 || { fail "target"; exit 1; }
common="durability=emulated;mirror=192.0.2.1;mirror_target=$SEC"

if tgt_new_lun 1 1 pmem "$W/lun1.img" "$common;mirror_meta=$W/degrade.meta;mirror_policy=degrade"; then
  pass "a primary with policy degrade is served"
else
  fail "the primary was refused: $(tail -3 "$LOG")"; echo "$passes passed, $failures failed"; exit 1
fi
grep -q "lun1.img: mirror primary, generation $gen0: every write goes to the secondary too" "$LOG" &&
  pass "the log says it is a primary" || fail "no log line for the primary: $(grep mirror "$LOG")"
wait_status 1 '.mirror.role == "primary" and .mirror.last_failure != "" and .mirror.link != "up"' &&
  pass "the status file: primary, link not up ($(jq -r .mirror.last_failure "$(status_file 1)"))" ||
  fail "status: $(jq -c .mirror "$(status_file 1)" 2>&1)"
grep -q "mirror: secondary connect to 192.0.2.1:5566" "$LOG" &&
  pass "the log says why the secondary is not there" || fail "no connect failure logged"

"$PIO" write "$(url 1)" 0 64 21 >/dev/null && pass "policy degrade: a write is GOOD alone" ||
  fail "policy degrade: write failed"
"$PIO" verify "$(url 1)" 0 64 21 >/dev/null && pass "and reads back" || fail "read back"
grep -q "policy degrade: going on alone" "$LOG" && pass "the log says it goes on alone" ||
  fail "no degrade line in the log"
st=$("$ADMIN" mirror-status "$W/degrade.meta" --json)
[[ $(jq -r .bitmap <<<"$st") == "$gen0" && $(jq -r .current <<<"$st") != "$gen0" &&
   $(jq -r .regions_marked <<<"$st") -ge 1 ]] &&
  pass "on the medium: generation moved on, the old one is the bitmap's, regions marked" ||
  fail "mirror-status after a degraded write: $st"
wait_status 1 '.mirror.state == "degraded" and .mirror.writes.degraded >= 1' &&
  pass "the status file: degraded" || fail "status: $(jq -c .mirror "$(status_file 1)")"
TGTPMEM_RUN_DIR=$TGTPMEM_RUN_DIR "$ADMIN" status -C $CTL >"$W/status.txt" 2>&1
grep -q "secondary 192.0.2.1:5566 $SEC lun 1, policy degrade: degraded, link" "$W/status.txt" &&
  grep -q "ATTENTION: mirror degraded" "$W/status.txt" &&
  pass "tgtpmem-admin status shows the mirror and asks for attention" ||
  fail "status: $(grep -i -A1 mirror "$W/status.txt")"

wait_status 1 '.mirror.resync.limit_mib_per_s == 100' &&
  pass "the status file: the resync's default rate limit, 100 MiB/s" ||
  fail "status: $(jq -c .mirror.resync "$(status_file 1)")"

tgt_new_lun 1 2 pmem "$W/lun2.img" "$common;mirror_meta=$W/fail.meta;mirror_resync_mibps=0" ||
  fail "the primary with policy fail was refused: $(tail -3 "$LOG")"
wait_status 2 '.mirror.resync.limit_mib_per_s == 0' &&
  pass "the status file: mirror_resync_mibps=0, no limit" ||
  fail "status: $(jq -c .mirror.resync "$(status_file 2)")"
# Until the first connect has failed, a write is BECOMING READY (tests/unit: CApiPrimary);
# this host has no RDMA, so it fails at once.
wait_status 2 '.mirror.last_failure != ""' || fail "no connect failure: $(jq -c .mirror "$(status_file 2)")"
for op in write write-fua; do
  r=$("$PIO" sense $op "$(url 2)" 8 8)
  [[ $r == "CHECK key=0x2 asc=0x0403"* ]] &&
    pass "policy fail: $op is NOT READY, MANUAL INTERVENTION REQUIRED" || fail "policy fail: $op answered: $r"
done
r=$("$PIO" sense read "$(url 2)" 0 8)
[[ $r == GOOD ]] && pass "policy fail: reads are served" || fail "read answered: $r"
cmp -s "$W/lun2.img" "$W/zero.img" && pass "policy fail: not one byte written" ||
  fail "policy fail wrote the primary alone"
wait_status 2 '.mirror.state == "stopped"' && pass "the status file: stopped" ||
  fail "status: $(jq -c .mirror "$(status_file 2)")"

# Roles change only with the LUN not served: the running bs_pmem holds the record.
"$ADMIN" mirror-demote "$W/degrade.meta" >"$W/demote.txt" 2>&1; rc=$?
[[ $rc == 4 ]] && grep -q "serves it (target $IQN, LUN 1): delete that LUN first" "$W/demote.txt" &&
  pass "mirror-demote refused while tgtd serves the LUN" || fail "demote of a served LUN: $rc $(cat "$W/demote.txt")"
"$ADMIN" mirror-promote "$W/sec.meta" >"$W/promote.txt" 2>&1; rc=$?
[[ $rc == 4 ]] && grep -q "a blank secondary" "$W/promote.txt" &&
  pass "mirror-promote refuses a blank secondary" || fail "promote blank: $rc $(cat "$W/promote.txt")"

# Refused configurations, each saying why.
refused() {
  if tgt_new_lun 1 3 pmem "$W/lun3.img" "$1" 2>/dev/null; then
    fail "served: $1"; tgtadm_c --mode logicalunit --op delete --tid 1 --lun 3
  elif grep -qF -- "$2" "$LOG"; then
    pass "refused, the log says: $2"
  else
    fail "refused without '$2' in the log"
  fi
}
refused "$common;mirror_meta=$W/sec.meta" "the store says this LUN is a mirror secondary, and mirror= is for primaries"
refused "$common;mirror_meta=$W/fail.meta;push=on" "cannot be combined with push=on"
printf 'primary\ns3cret-s3cret\n' >"$W/chap"; chmod 644 "$W/chap"
"$ADMIN" mirror-format "$W/c.meta" --role primary --lun-size 64m >/dev/null
refused "$common;mirror_meta=$W/c.meta;mirror_chap=$W/chap" "mirror_chap=$W/chap: readable by others than its owner"
grep -q "s3cret" "$LOG" && fail "the CHAP secret is in tgtd's log" || pass "the secret is not logged"
chmod 600 "$W/chap"
tgt_new_lun 1 3 pmem "$W/lun3.img" "$common;mirror_meta=$W/c.meta;mirror_chap=$W/chap" &&
  pass "a CHAP file of mode 0600 is taken" || fail "0600 CHAP file refused: $(tail -2 "$LOG")"

# Deleting a primary whose link keeps retrying is immediate: nothing waits for RDMA CM.
start=$(date +%s%N)
tgtadm_c --mode logicalunit --op delete --tid 1 --lun 3 && tgtadm_c --mode logicalunit --op delete --tid 1 --lun 2 &&
  pass "primaries deleted" || fail "delete"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
(( ms < 3000 )) && pass "deleting two primaries took $ms ms" || fail "delete took $ms ms"
"$PIO" verify "$(url 1)" 0 64 21 >/dev/null && pass "the other LUN still serves" || fail "LUN 1 after deletes"
# Demoting this primary: it went on alone (degraded), so it holds an acknowledged write the
# other copy lacks. Refused (a split brain is never merged) unless its writes are discarded;
# then it must receive everything (its generations cleared).
tgtadm_c --mode logicalunit --op delete --tid 1 --lun 1 || fail "delete LUN 1"
"$ADMIN" mirror-demote "$W/degrade.meta" >"$W/demote.txt" 2>&1; rc=$?
[[ $rc == 4 ]] && grep -q "went on without its secondary since generation $gen0" "$W/demote.txt" &&
  grep -q -- "--discard-my-data" "$W/demote.txt" &&
  pass "mirror-demote refuses a copy that went on alone, naming the way out" ||
  fail "demote of a degraded copy: $rc $(cat "$W/demote.txt")"
"$ADMIN" mirror-demote "$W/degrade.meta" --discard-my-data --json >"$W/demote.json" 2>&1 &&
  jq -e '.role == "secondary" and .current == "0000000000000000" and (.next | startswith("a full resync"))' \
    "$W/demote.json" >/dev/null && pass "mirror-demote: secondary, a full resync next" ||
  fail "demote: $(cat "$W/demote.json")"
tgt_new_lun 1 1 pmem "$W/lun1.img" "durability=emulated;mirror_meta=$W/degrade.meta" &&
  r=$("$PIO" sense write "$(url 1)" 8 8) && [[ $r == "CHECK key=0x7 asc=0x2700"* ]] &&
  pass "the demoted LUN is served as a secondary: writes refused" || fail "demoted LUN: ${r:-refused}"
kill -0 "$TGTD_PID" 2>/dev/null && pass "tgtd is still running" || fail "tgtd died"

# check-config sees the role and the policy's consequences.
printf '<target %s>\n  <backing-store %s>\n    bs-type pmem\n    bsopts '"'"'%s'"'"'\n  </backing-store>\n</target>\n' \
  "$IQN" "$W/lun2.img" "$common;mirror_meta=$W/fail.meta" >"$W/t.conf"
"$ADMIN" check-config --json "$W/t.conf" | jq -e '[.. | objects | select(.name? == "mirror")][0] |
  .result == "ok" and (.detail | startswith("primary (current="))' >/dev/null &&
  pass "check-config --json: the mirror finding of a primary" ||
  fail "check-config: $("$ADMIN" check-config --json "$W/t.conf" | jq -c '[.. | objects | select(.name? == "mirror")]')"
echo "$passes passed, $failures failed"
exit $((failures > 0))
