#!/usr/bin/env bash
# Media errors in the real tgtd: the backing file of a running LUN is truncated underneath, as
# an administrator's mistake or a failing file system would do (on real pmem, poison raises
# the same SIGBUS). Without the guard tgtd dies with every LUN it serves. Checked, for
# exec=inline (tgtd's event loop) and exec=threads (tgt's workers, which block every signal),
# with cache-line flushing (emulated pmem) and with msync (a plain file):
#  - READ of lost LBAs: MEDIUM ERROR / UNRECOVERED READ ERROR, INFORMATION = first lost LBA;
#  - WRITE of lost LBAs: MEDIUM ERROR / WRITE ERROR, INFORMATION = its LBA;
#  - tgtd stays up, serves the LBAs that are left and another LUN;
#  - once the file has grown back, a write of a whole lost page makes it readable again.
# Usage: media_error_test.sh PATTERN_IO MODULE_DIR
set -uo pipefail
PATTERN_IO=$1 MODULE_DIR=$2
[[ $(id -u) -eq 0 ]] || { echo "needs root (mount namespace for tgtd)"; exit 77; }
source "$(dirname "$0")/../lib/tgtd.sh"

CTL=9104 PORT=3364 IQN=iqn.2026-11.org.tgt-pmem:media-error
source "$(dirname "$0")/../lib/workdir.sh"
work_dir WORK tgtpmem-media
LOG=$WORK/tgtd.log
URL=iscsi://127.0.0.1:$PORT/$IQN
BLOCKS=32768 KEPT_BLOCKS=16384  # 16 MiB files, truncated to 8 MiB
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() { tgtd_stop; rm -rf "$WORK"; }
trap cleanup EXIT

alive() { kill -0 "$TGTD_PID" 2>/dev/null; }
expect() {  # expect WHAT WANT pattern_io sense args...
  local what=$1 want=$2 got
  shift 2
  got=$("$PATTERN_IO" sense "$@" 2>&1)
  if [[ $got == "$want" ]]; then pass "$what: $got"; else fail "$what: got '$got', want '$want'"; fi
}

round() {  # round LABEL DURABILITY
  local label=$1 dur=durability=$2
  tgtd_start "$MODULE_DIR" $CTL $PORT "$LOG" || { fail "$label: tgtd did not start"; return; }
  tgt_new_target 1 $IQN && tgt_allow_all 1
  local f
  for f in inline threads healthy; do truncate -s $((BLOCKS * 512)) "$WORK/$f.img"; done
  tgt_new_lun 1 1 pmem "$WORK/inline.img" "$dur" &&
    tgt_new_lun 1 2 pmem "$WORK/threads.img" "exec=threads;threads=2;$dur" &&
    tgt_new_lun 1 3 pmem "$WORK/healthy.img" "$dur" || { fail "$label: LUN creation"; return; }
  local lun seed=$RANDOM
  for lun in 1 2 3; do
    "$PATTERN_IO" write "$URL/$lun" 0 $BLOCKS $seed || { fail "$label: writing LUN $lun"; return; }
  done

  for lun in 1 2; do
    local name; name=$([[ $lun == 1 ]] && echo inline || echo threads)
    truncate -s $((KEPT_BLOCKS * 512)) "$WORK/$name.img"
    expect "$label, exec=$name: READ across the cut" "CHECK key=0x3 asc=0x1100 info=$KEPT_BLOCKS" \
      read "$URL/$lun" $((KEPT_BLOCKS - 100)) 1000
    expect "$label, exec=$name: READ past the cut" "CHECK key=0x3 asc=0x1100 info=$((KEPT_BLOCKS + 5000))" \
      read "$URL/$lun" $((KEPT_BLOCKS + 5000)) 8
    expect "$label, exec=$name: WRITE past the cut" "CHECK key=0x3 asc=0x0c00 info=$((KEPT_BLOCKS + 777))" \
      write "$URL/$lun" $((KEPT_BLOCKS + 777)) 3
    if alive; then pass "$label, exec=$name: tgtd survived"; else fail "$label, exec=$name: tgtd died"; return; fi
    "$PATTERN_IO" verify "$URL/$lun" 0 $KEPT_BLOCKS $seed &&
      pass "$label, exec=$name: the blocks that are left read back" ||
      fail "$label, exec=$name: the blocks that are left do not read back"
    # The space comes back: learnt pages stay bad until a write covers them wholly.
    truncate -s $((BLOCKS * 512)) "$WORK/$name.img"
    expect "$label, exec=$name: READ of a learnt page after regrowing" \
      "CHECK key=0x3 asc=0x1100 info=$KEPT_BLOCKS" read "$URL/$lun" $KEPT_BLOCKS 8
    expect "$label, exec=$name: WRITE of part of a learnt page" \
      "CHECK key=0x3 asc=0x0c00 info=$((KEPT_BLOCKS + 1))" write "$URL/$lun" $((KEPT_BLOCKS + 1)) 1
    expect "$label, exec=$name: WRITE of the whole learnt page" "GOOD" write "$URL/$lun" $KEPT_BLOCKS 8
    expect "$label, exec=$name: READ after the rewrite" "GOOD" read "$URL/$lun" $KEPT_BLOCKS 8
  done
  "$PATTERN_IO" verify "$URL/3" 0 $BLOCKS $seed && pass "$label: the other LUN is served throughout" ||
    fail "$label: the other LUN lost data"
  # The line names the command's LBA and the first bad one (INFORMATION).
  if grep -q "opcode 0x88, LBA $((KEPT_BLOCKS - 100)), 1000 blocks, failed: key 0x3 asc 0x1100, information $KEPT_BLOCKS" "$LOG"; then
    pass "$label: tgtd logged the failed READ with its LBA and the first bad one"
  else
    fail "$label: no log line for the failed READ"
  fi
  alive && pass "$label: tgtd is still running" || fail "$label: tgtd is gone"
  tgtd_stop
}

round "emulated pmem (cache-line flush)" emulated
round "plain file (msync)" auto

echo "$passes passed, $failures failed"
exit $((failures > 0))
