#!/usr/bin/env bash
# The main job: a pmem LUN served by the distribution's tgtd.
#
#   sudo scripts/quickstart.sh            install packages, build, start the distribution's
#                                         tgtd with the built bs_pmem.so and one pmem LUN,
#                                         write and read it back
#   sudo scripts/quickstart.sh stop       stop that tgtd (the backing file is kept)
#
# Nothing is installed outside this tree (but Debian packages, and the emulated pmem file):
# tgtd runs in a private mount namespace where its module directory is build/modules, so the
# packages (packaging/, README "Installing") and a tgt service the machine may already run
# are left alone. If the iSCSI port is taken (a running tgt.service holds 3260), the next free
# one is used, and said.
#
# Settings (environment):
#   PMEM_PATH   backing store: a /dev/daxX.Y device, a file on an fsdax mount, or a plain file.
#               Default: /var/lib/tgt-pmem/pmem0.img, an emulated pmem file (see below).
#   PMEM_SIZE   size of the emulated file when it is created (default 256M)
#   PMEM_BSOPTS bsopts for the LUN (default: none, i.e. 512-byte blocks, write-through)
#   ISCSI_PORT  first iSCSI port to try on 127.0.0.1 (default 3260); CONTROL_PORT the first
#               tgtadm port to try (default 9900)
#
# Emulated pmem: this machine may have no persistent memory. The default file is treated as
# pmem (its LUN gets bsopts durability=emulated): acknowledged writes survive a crash of tgtd,
# but not of the machine. Point PMEM_PATH at real pmem for real durability; a plain file given
# by you is made durable with msync.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/lib/tgtd.sh  # tgtd_start: the distribution's tgtd with our module directory

STATE=/run/tgt-pmem/quickstart
IQN=iqn.2026-11.org.tgt-pmem:quickstart
DEFAULT_PATH=/var/lib/tgt-pmem/pmem0.img
PMEM_PATH=${PMEM_PATH:-$DEFAULT_PATH}
PMEM_SIZE=${PMEM_SIZE:-256M}
PMEM_BSOPTS=${PMEM_BSOPTS:-}

CONTROL_PORT=${CONTROL_PORT:-9900}
ISCSI_PORT=${ISCSI_PORT:-3260}

stop() {
  if [[ -f $STATE/tgtd.pid ]] && kill -0 "$(cat "$STATE/tgtd.pid")" 2>/dev/null; then
    local control iscsi
    read -r control iscsi <"$STATE/ports"  # where the running one listens
    TGTD_PID=$(cat "$STATE/tgtd.pid") TGTD_CONTROL_PORT=$control tgtd_stop
    echo "quickstart: tgtd stopped (backing store $PMEM_PATH kept)"
  else
    echo "quickstart: no tgtd of ours is running"
  fi
  rm -f "$STATE/tgtd.pid" "$STATE/ports"
}

if [[ ${1:-} == stop ]]; then stop; exit 0; fi
[[ $(id -u) -eq 0 ]] || { echo "quickstart: run as root (installs packages, starts tgtd)" >&2; exit 1; }

# 1. Packages and the build (nothing is installed from it). With the configuration
# scripts/test.sh builds (Release; warnings as errors: Debian 12's g++ 12 builds the project
# warning-free, as CI checks), so that running the tests next reuses this build instead of
# compiling it all again.
scripts/build.sh --main

# 2. The backing store.
emulate=0
if [[ $PMEM_PATH == "$DEFAULT_PATH" ]]; then
  emulate=1
  mkdir -p "$(dirname "$PMEM_PATH")"
  [[ -e $PMEM_PATH ]] || truncate -s "$PMEM_SIZE" "$PMEM_PATH"
fi
[[ -e $PMEM_PATH ]] || { echo "quickstart: $PMEM_PATH does not exist" >&2; exit 1; }

# 3. tgtd, on the first free ports from the ones asked for.
stop >/dev/null
taken() { ss -ltnH "sport = :$1" | grep -q .; }
free_port() {  # free_port FIRST: FIRST or the next free one of the 20 after it
  local p
  for p in $(seq "$1" $(($1 + 20))); do taken "$p" || { echo "$p"; return 0; }; done
  return 1
}
wanted=$ISCSI_PORT
ISCSI_PORT=$(free_port "$ISCSI_PORT") ||
  { echo "quickstart: no free iSCSI port from $wanted on; set ISCSI_PORT=..." >&2; exit 1; }
if [[ $ISCSI_PORT != "$wanted" ]]; then
  owner=$(ss -ltnpH "sport = :$wanted" | sed -n 's/.*users:(("\([^"]*\)".*/\1/p' | head -n 1)
  echo "quickstart: port $wanted is taken${owner:+ by $owner} (the distribution's tgt service?);" \
       "serving on $ISCSI_PORT instead"
fi
CONTROL_PORT=$(free_port "$CONTROL_PORT") ||
  { echo "quickstart: no free control port; set CONTROL_PORT=..." >&2; exit 1; }
mkdir -p "$STATE"
: >"$STATE/tgtd.log"
tgtd_start build/modules "$CONTROL_PORT" "$ISCSI_PORT" "$STATE/tgtd.log" ||
  { echo "quickstart: tgtd did not start; see $STATE/tgtd.log" >&2; exit 1; }
echo "$TGTD_PID" >"$STATE/tgtd.pid"
echo "$CONTROL_PORT $ISCSI_PORT" >"$STATE/ports"
tgtadm_c --mode sys --op show | grep -q '^    pmem$' ||
  { echo "quickstart: tgtd did not load bs_pmem; see $STATE/tgtd.log" >&2; exit 1; }

((emulate)) && PMEM_BSOPTS="durability=emulated${PMEM_BSOPTS:+;$PMEM_BSOPTS}"
tgtadm_c --lld iscsi --mode target --op new --tid 1 --targetname "$IQN"
lun_args=(--mode logicalunit --op new --lun 1 --bstype pmem --backing-store "$PMEM_PATH")
[[ -n $PMEM_BSOPTS ]] && lun_args+=(--bsopts "$PMEM_BSOPTS")
if ! tgtadm_c --lld iscsi --tid 1 "${lun_args[@]}"; then
  echo "quickstart: the LUN was refused; tgtd says:" >&2
  grep 'bs_pmem' "$STATE/tgtd.log" | tail -n 3 >&2
  exit 1
fi
tgtadm_c --lld iscsi --mode target --op bind --tid 1 --initiator-address 127.0.0.1
iser=0
if compgen -G '/sys/class/infiniband/*' >/dev/null; then
  # An RDMA device: the same LUN over iSER too (open-iscsi: iscsiadm -I iser).
  tgtadm_c --lld iser --mode target --op new --tid 2 --targetname "$IQN-iser" &&
    tgtadm_c --lld iser --tid 2 "${lun_args[@]}" &&
    tgtadm_c --lld iser --mode target --op bind --tid 2 --initiator-address ALL && iser=1
fi

# 4. Write and read back through a real initiator (libiscsi), with verification.
URL=iscsi://127.0.0.1:$ISCSI_PORT/$IQN/1
echo "quickstart: 3 s of verified 4 KiB random writes and reads through libiscsi:"
build/utils/load/tgtpmem-load --verify -q 8 -b 4k -r 50 -t 3 "$URL"

grep 'bs_pmem: opened' "$STATE/tgtd.log" | tail -n 1 | sed 's/^tgtd: [^ ]* /quickstart: /'
cat <<MSG

A pmem LUN is served by tgtd (pid $TGTD_PID, log $STATE/tgtd.log):
  target  $IQN, LUN 1, iSCSI on 127.0.0.1:$ISCSI_PORT$( ((iser)) && echo ", and $IQN-iser over iSER")
  backing $PMEM_PATH$( ((emulate)) && echo " (emulated pmem)")
Nothing was installed: this tgtd loads build/modules/bs_pmem.so in a private mount namespace.
To install tgt-pmem for the machine's own tgt service, see README.md, "Installing".

Connect with open-iscsi:
  iscsiadm -m discovery -t sendtargets -p 127.0.0.1:$ISCSI_PORT
  iscsiadm -m node -T $IQN -p 127.0.0.1:$ISCSI_PORT --login
Look at it:   tgtadm -C $CONTROL_PORT --mode target --op show
Stop it:      sudo scripts/quickstart.sh stop
MSG
