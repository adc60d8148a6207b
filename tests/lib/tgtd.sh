# Shell helpers that run the real, unmodified distribution tgtd for tests and benchmarks.
# Source this file; it defines functions only.
#
# tgtd loads backing-store modules from a directory compiled into it
# (/usr/lib/tgt/backing-store). To test a freshly built module without installing it, tgtd
# runs in a private mount namespace where that directory is a bind mount of ours; the host
# sees nothing. Each instance has its own control port and iSCSI port on 127.0.0.1, so it
# never clashes with a system tgtd.
#
#   tgtd_start MODULE_DIR CONTROL_PORT ISCSI_PORT LOG [extra tgtd args...]
#       starts tgtd in the foreground (in the background of this shell); sets TGTD_PID,
#       TGTD_CONTROL_PORT; waits until it answers tgtadm (returns 1 if it never does).
#   tgtadm_c ARGS...       tgtadm on this instance's control port
#   tgtd_kill9             SIGKILL, as a crash would; waits for it to be gone
#   tgtd_stop              orderly shutdown (targets, then the system), waits
#   tgt_new_target TID IQN ; tgt_new_lun TID LUN BSTYPE PATH [BSOPTS] ; tgt_allow_all TID

TGT_MODULE_MOUNTPOINT=/usr/lib/tgt/backing-store

tgtd_start() {
  local module_dir=$1 control_port=$2 iscsi_port=$3 log=$4
  shift 4
  module_dir=$(readlink -f "$module_dir")
  # bs_pmem records raw stores' block sizes (bs_pmem(8), STORE RECORDS): a test's records
  # stay in its own directory, beside its log, not in the host's /var/lib/tgt-pmem.
  if [[ -z ${TGTPMEM_STATE_DIR:-} ]]; then
    TGTPMEM_STATE_DIR=$(dirname "$(readlink -f "$log")")/tgtpmem-stores
    export TGTPMEM_STATE_DIR
  fi
  mkdir -p "$TGT_MODULE_MOUNTPOINT"
  # unshare without --fork execs in place, and so does bash: $! is tgtd's own pid.
  unshare -m --propagation private bash -c \
    'mount --bind "$0" "$1" && exec tgtd -f -C "$2" --iscsi "portal=127.0.0.1:$3" "${@:4}"' \
    "$module_dir" "$TGT_MODULE_MOUNTPOINT" "$control_port" "$iscsi_port" "$@" \
    >>"$log" 2>&1 </dev/null &
  TGTD_PID=$!
  TGTD_CONTROL_PORT=$control_port
  local i
  for i in $(seq 1 100); do
    if ! kill -0 "$TGTD_PID" 2>/dev/null; then
      echo "tgtd exited at start; log: $log" >&2
      return 1
    fi
    if tgtadm -C "$control_port" --mode sys --op show >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "tgtd did not answer on control port $control_port; log: $log" >&2
  return 1
}

tgtadm_c() { tgtadm -C "$TGTD_CONTROL_PORT" "$@"; }

_tgtd_wait_gone() {
  local i
  for i in $(seq 1 100); do
    kill -0 "$TGTD_PID" 2>/dev/null || { wait "$TGTD_PID" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  return 1
}

tgtd_kill9() {
  kill -9 "$TGTD_PID" 2>/dev/null
  _tgtd_wait_gone 2>/dev/null  # no "Killed" job notice: that is what we asked for
}

# tgtd 1.0.85 ignores SIGTERM; the orderly way is to remove every target, then the system.
tgtd_stop() {
  [[ -n ${TGTD_PID:-} ]] || return 0
  kill -0 "$TGTD_PID" 2>/dev/null || return 0
  local tid
  for tid in $(tgtadm_c --mode target --op show 2>/dev/null | sed -n 's/^Target \([0-9]*\):.*/\1/p'); do
    tgtadm_c --mode target --op delete --force --tid "$tid" >/dev/null 2>&1
  done
  tgtadm_c --mode system --op delete >/dev/null 2>&1
  _tgtd_wait_gone || tgtd_kill9
}

tgt_new_target() { tgtadm_c --lld iscsi --mode target --op new --tid "$1" --targetname "$2"; }
tgt_allow_all() { tgtadm_c --lld iscsi --mode target --op bind --tid "$1" --initiator-address ALL; }
tgt_new_lun() {
  local tid=$1 lun=$2 bstype=$3 path=$4 bsopts=${5:-}
  local args=(--lld iscsi --mode logicalunit --op new --tid "$tid" --lun "$lun" --bstype "$bstype")
  [[ -n $path ]] && args+=(--backing-store "$path")
  [[ -n $bsopts ]] && args+=(--bsopts "$bsopts")
  tgtadm_c "${args[@]}"
}
