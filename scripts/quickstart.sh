#!/usr/bin/env bash
# The main job: a pmem LUN served by the distribution's tgtd.
#
#   sudo scripts/quickstart.sh            install packages, build, install bs_pmem.so, start
#                                         tgtd with one pmem LUN, write and read it back
#   sudo scripts/quickstart.sh stop       stop that tgtd (the backing file is kept)
#
# Settings (environment):
#   PMEM_PATH   backing store: a /dev/daxX.Y device, a file on an fsdax mount, or a plain file.
#               Default: /var/lib/tgt-pmem/pmem0.img, an emulated pmem file (see below).
#   PMEM_SIZE   size of the emulated file when it is created (default 256M)
#   PMEM_BSOPTS bsopts for the LUN (default: none, i.e. 512-byte blocks, write-through)
#   ISCSI_PORT  iSCSI port on 127.0.0.1 (default 3260); CONTROL_PORT tgtadm port (default 9900)
#
# Emulated pmem: this machine may have no persistent memory. The default file is treated as
# pmem (its LUN gets bsopts durability=emulated): acknowledged writes survive a crash of tgtd,
# but not of the machine. Point PMEM_PATH at real pmem for real durability; a plain file given
# by you is made durable with msync.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=/run/tgt-pmem
CONTROL_PORT=${CONTROL_PORT:-9900}
ISCSI_PORT=${ISCSI_PORT:-3260}
IQN=iqn.2026-11.org.tgt-pmem:quickstart
DEFAULT_PATH=/var/lib/tgt-pmem/pmem0.img
PMEM_PATH=${PMEM_PATH:-$DEFAULT_PATH}
PMEM_SIZE=${PMEM_SIZE:-256M}
PMEM_BSOPTS=${PMEM_BSOPTS:-}

tgtadm_q() { tgtadm -C "$CONTROL_PORT" "$@"; }

stop() {
  if [[ -f $STATE/tgtd.pid ]] && kill -0 "$(cat "$STATE/tgtd.pid")" 2>/dev/null; then
    local pid; pid=$(cat "$STATE/tgtd.pid")
    tgtadm_q --mode target --op delete --force --tid 1 >/dev/null 2>&1 || true
    tgtadm_q --mode target --op delete --force --tid 2 >/dev/null 2>&1 || true
    tgtadm_q --mode system --op delete >/dev/null 2>&1 || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "quickstart: tgtd stopped (backing store $PMEM_PATH kept)"
  else
    echo "quickstart: no tgtd of ours is running"
  fi
  rm -f "$STATE/tgtd.pid"
}

if [[ ${1:-} == stop ]]; then stop; exit 0; fi
[[ $(id -u) -eq 0 ]] || { echo "quickstart: run as root (installs packages, starts tgtd)" >&2; exit 1; }

# 1. Packages, build, install the module where the distribution's tgtd looks for it.
scripts/build.sh
cmake --install build >/dev/null
echo "quickstart: installed $(ls /usr/lib/tgt/backing-store/bs_pmem.so)"

# 2. The backing store.
emulate=0
if [[ $PMEM_PATH == "$DEFAULT_PATH" ]]; then
  emulate=1
  mkdir -p "$(dirname "$PMEM_PATH")"
  [[ -e $PMEM_PATH ]] || truncate -s "$PMEM_SIZE" "$PMEM_PATH"
fi
[[ -e $PMEM_PATH ]] || { echo "quickstart: $PMEM_PATH does not exist" >&2; exit 1; }

# 3. Our own tgtd (a system tgtd, if any, keeps running on its own port and config).
stop >/dev/null
if ss -ltn "sport = :$ISCSI_PORT" | grep -q LISTEN; then
  echo "quickstart: port $ISCSI_PORT is taken (a system tgtd?); set ISCSI_PORT=..." >&2
  exit 1
fi
mkdir -p "$STATE"
((emulate)) && PMEM_BSOPTS="durability=emulated${PMEM_BSOPTS:+;$PMEM_BSOPTS}"
portals=(--iscsi "portal=127.0.0.1:$ISCSI_PORT")
nohup tgtd -f -C "$CONTROL_PORT" "${portals[@]}" \
  >"$STATE/tgtd.log" 2>&1 </dev/null &
echo $! > "$STATE/tgtd.pid"
for _ in $(seq 50); do tgtadm_q --mode sys --op show >/dev/null 2>&1 && break; sleep 0.1; done
tgtadm_q --mode sys --op show | grep -q '^    pmem$' ||
  { echo "quickstart: tgtd did not load bs_pmem; see $STATE/tgtd.log" >&2; exit 1; }

tgtadm_q --lld iscsi --mode target --op new --tid 1 --targetname "$IQN"
lun_args=(--mode logicalunit --op new --lun 1 --bstype pmem --backing-store "$PMEM_PATH")
[[ -n $PMEM_BSOPTS ]] && lun_args+=(--bsopts "$PMEM_BSOPTS")
if ! tgtadm_q --lld iscsi --tid 1 "${lun_args[@]}"; then
  echo "quickstart: the LUN was refused; tgtd says:" >&2
  grep 'bs_pmem' "$STATE/tgtd.log" | tail -n 3 >&2
  exit 1
fi
tgtadm_q --lld iscsi --mode target --op bind --tid 1 --initiator-address 127.0.0.1
iser=0
if compgen -G '/sys/class/infiniband/*' >/dev/null; then
  # An RDMA device: the same LUN over iSER too (open-iscsi: iscsiadm -I iser).
  tgtadm_q --lld iser --mode target --op new --tid 2 --targetname "$IQN-iser" &&
    tgtadm_q --lld iser --tid 2 "${lun_args[@]}" &&
    tgtadm_q --lld iser --mode target --op bind --tid 2 --initiator-address ALL && iser=1
fi

# 4. Write and read back through a real initiator (libiscsi), with verification.
URL=iscsi://127.0.0.1:$ISCSI_PORT/$IQN/1
echo "quickstart: 3 s of verified 4 KiB random writes and reads through libiscsi:"
build/utils/load/tgtpmem-load --verify -q 8 -b 4k -r 50 -t 3 "$URL"

grep 'bs_pmem: opened' "$STATE/tgtd.log" | tail -n 1 | sed 's/^tgtd: [^ ]* /quickstart: /'
cat <<MSG

A pmem LUN is served by tgtd (pid $(cat "$STATE/tgtd.pid"), log $STATE/tgtd.log):
  target  $IQN, LUN 1, iSCSI on 127.0.0.1:$ISCSI_PORT$( ((iser)) && echo ", and $IQN-iser over iSER")
  backing $PMEM_PATH$( ((emulate)) && echo " (emulated pmem)")

Connect with open-iscsi:
  iscsiadm -m discovery -t sendtargets -p 127.0.0.1:$ISCSI_PORT
  iscsiadm -m node -T $IQN -p 127.0.0.1:$ISCSI_PORT --login
Look at it:   tgtadm -C $CONTROL_PORT --mode target --op show
Stop it:      sudo scripts/quickstart.sh stop
MSG
