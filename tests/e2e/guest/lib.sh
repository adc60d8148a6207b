# SPDX-License-Identifier: GPL-2.0-only
# Helpers for e2e scenarios; sourced (functions and constants only). Runs inside the guest.
#
# A scenario is one bash script, scenarios/<name>.sh, run by init.sh with E2E_NAME (its
# name), E2E_LOG (its log directory, copied to the host) and the run's config (E2E_BSTYPE,
# E2E_BSOPTS) in the environment. It exits 0 for pass, 77 for skip, anything else for fail,
# and says in one line what it proved or why it failed (summary/fail/skip).
# shellcheck disable=SC2034  # constants and results are for the scripts that source this

E2E_TARGET_IP=192.0.2.1          # veth0, carries rxe0; TEST-NET-1, guest-internal only
E2E_PEER_IP=192.0.2.2            # veth1
E2E_ISCSI_PORT=3260
E2E_INITIATOR_IQN=iqn.2024-01.org.tgt-pmem:e2e-initiator
E2E_IQN_PREFIX=iqn.2024-01.org.tgt-pmem:e2e
E2E_PMEM_MNT=/mnt/pmem
E2E_WORK=/run/e2e                # scratch (tmpfs): patterns, pid files

: "${E2E_NAME:=shell}" "${E2E_LOG:=/tmp/e2e-shell}"
mkdir -p "$E2E_LOG" "$E2E_WORK"

# ---- reporting ---------------------------------------------------------------------------
step() { echo "E2E-STEP $E2E_NAME [$(cut -d" " -f1 /proc/uptime)s]: $*" >&2; }
summary() { echo "$*" > "$E2E_LOG/summary"; }
# fail/skip end the scenario; they write to stderr, which stays on the console even where a
# caller has redirected stdout.
fail() {
  echo "E2E-FAIL $E2E_NAME: $*" >&2
  summary "$*"
  exit 1
}
skip() {
  echo "E2E-SKIP $E2E_NAME: $*" >&2
  summary "$*"
  exit 77
}

# must CMD...: runs CMD, logging its output; on failure shows the output and fails the scenario.
must() {
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  { echo "+ $*"; [[ -n $out ]] && echo "$out"; } >> "$E2E_LOG/commands.log"
  if (( rc != 0 )); then
    [[ -n $out ]] && echo "$out" | tail -n 20 | sed 's/^/    /' >&2
    fail "exit $rc: $*"
  fi
  [[ -n $out ]] && printf '%s\n' "$out"
  return 0
}

# ---- NVDIMM ------------------------------------------------------------------------------
# pmem_namespace fsdax|devdax: (re)configures the emulated NVDIMM's namespace; sets PMEM_DEV
# to its device node (/dev/pmem0 or /dev/dax0.0). Unmounts what a previous scenario left.
pmem_namespace() {
  local mode=$1 dev i
  mountpoint -q "$E2E_PMEM_MNT" && must umount "$E2E_PMEM_MNT" >/dev/null
  # The DIMM has no label area (QEMU: no label-size), so region0 holds one label-less
  # namespace spanning the whole 1 GiB, which ndctl reconfigures in place.
  must ndctl create-namespace -f -e namespace0.0 -m "$mode" -M mem >> "$E2E_LOG/ndctl.json"
  case $mode in
    fsdax) dev=/dev/pmem0 ;;
    devdax) dev=/dev/dax0.0 ;;
    *) fail "pmem_namespace: unknown mode $mode" ;;
  esac
  for i in $(seq 1 50); do
    [[ -b $dev || -c $dev ]] && break
    sleep 0.1
  done
  [[ -b $dev || -c $dev ]] || fail "$dev did not appear after ndctl create-namespace -m $mode"
  PMEM_DEV=$dev
}

# ---- tgtd --------------------------------------------------------------------------------
# The distribution's tgtd, unmodified, in the foreground of a background job. Sets TGTD_PID.
tgtd_start() {
  tgtd -f >> "$E2E_LOG/tgtd.log" 2>&1 </dev/null &
  TGTD_PID=$!
  echo "$TGTD_PID" > "$E2E_WORK/tgtd.pid"
  local i
  for i in $(seq 1 100); do
    kill -0 "$TGTD_PID" 2>/dev/null || fail "tgtd exited at start (see tgtd.log)"
    tgtadm --mode sys --op show > "$E2E_WORK/tgtd-sys.txt" 2>/dev/null && break
    sleep 0.1
  done
  tgtadm --mode sys --op show > "$E2E_WORK/tgtd-sys.txt" 2>&1 || fail "tgtd does not answer tgtadm"
  # The module under test must really be loaded, not silently missing.
  # (lines look like "    rdwr (bsoflags sync:direct)")
  if ! awk '/^Backing stores:/ {b = 1; next} /^[^ \t]/ {b = 0} b {print $1}' \
         "$E2E_WORK/tgtd-sys.txt" | grep -qx "$E2E_BSTYPE"; then
    cat "$E2E_WORK/tgtd-sys.txt" >> "$E2E_LOG/commands.log"
    fail "tgtd has no backing store '$E2E_BSTYPE' (tgtadm --mode sys --op show; tgtd.log)"
  fi
}

# tgtd_kill9: SIGKILL, as a crash would, and wait until it is gone.
tgtd_kill9() {
  [[ -n ${TGTD_PID:-} ]] || return 0
  kill -9 "$TGTD_PID" 2>/dev/null
  wait "$TGTD_PID" 2>/dev/null
  TGTD_PID=""
  rm -f "$E2E_WORK/tgtd.pid"
}

# iser_export TID IQN PATH: an iSER target with LUN 1 on PATH, bstype/bsopts from the run.
iser_export() {
  local tid=$1 iqn=$2 path=$3
  local lun=(--lld iser --mode logicalunit --op new --tid "$tid" --lun 1
             --bstype "$E2E_BSTYPE" --backing-store "$path")
  [[ -n ${E2E_BSOPTS:-} ]] && lun+=(--bsopts "$E2E_BSOPTS")
  must tgtadm --lld iser --mode target --op new --tid "$tid" --targetname "$iqn" >/dev/null
  must tgtadm "${lun[@]}" >/dev/null
  # tgt's iSER discovery reports a portal only for a target bound by address and by name.
  must tgtadm --lld iser --mode target --op bind --tid "$tid" -I ALL >/dev/null
  must tgtadm --lld iser --mode target --op bind --tid "$tid" -Q "$E2E_INITIATOR_IQN" >/dev/null
  tgtadm --lld iser --mode target --op show >> "$E2E_LOG/commands.log" 2>&1
}

# ---- open-iscsi over iSER ----------------------------------------------------------------
# iser_login IQN: discovery and login through the iser iface; checks the session really runs
# on iSER; sets DEV to the attached disk (/dev/sdX).
iser_login() {
  local iqn=$1 portal="$E2E_TARGET_IP:$E2E_ISCSI_PORT" disk=""
  must iscsiadm -m discovery -t sendtargets -p "$portal" -I iser > "$E2E_WORK/discovery.txt"
  grep -q " $iqn\$" "$E2E_WORK/discovery.txt" ||
    fail "discovery on $portal did not report $iqn: $(tr '\n' ' ' < "$E2E_WORK/discovery.txt")"
  must iscsiadm -m node -T "$iqn" -p "$portal" -I iser --login >/dev/null
  iscsiadm -m session 2>/dev/null | grep -q "^iser: .* $portal,[0-9]* $iqn" ||
    fail "session to $iqn is not on the iser transport: $(iscsiadm -m session 2>&1 | tr '\n' ' ')"
  for _ in $(seq 1 150); do
    disk=$(iscsiadm -m session -P 3 2>/dev/null |
           awk -v t="$iqn" '$1 == "Target:" {on = ($2 == t)} on && /Attached scsi disk/ {print $4; exit}')
    [[ -n $disk && -b /dev/$disk ]] && break
    sleep 0.2
  done
  [[ -n $disk && -b /dev/$disk ]] || fail "no SCSI disk attached after iSER login to $iqn"
  DEV=/dev/$disk
}

iser_logout() {
  local iqn=$1
  must iscsiadm -m node -T "$iqn" -p "$E2E_TARGET_IP:$E2E_ISCSI_PORT" --logout >/dev/null
  DEV=""
}

# ---- data --------------------------------------------------------------------------------
# make_pattern FILE MiB: random data, kept in the guest's RAM to compare against later.
make_pattern() { must dd if=/dev/urandom of="$1" bs=1M count="$2" status=none; }

# write_at DEV OFFSET FILE: O_DIRECT write of FILE at byte OFFSET (a multiple of 4096).
write_at() {
  must dd if="$3" of="$1" bs=1M oflag=direct,seek_bytes seek="$2" conv=notrunc status=none
}

# verify_at DEV OFFSET FILE WHAT: O_DIRECT read of len(FILE) bytes at OFFSET, compared.
verify_at() {
  local dev=$1 off=$2 file=$3 what=$4 len got="$E2E_WORK/readback"
  len=$(stat -c %s "$file")
  must dd if="$dev" of="$got" bs=1M iflag=direct,skip_bytes,count_bytes skip="$off" \
          count="$len" status=none
  [[ $(stat -c %s "$got") -eq $len ]] || fail "$what: short read at $off"
  if ! cmp "$file" "$got" > "$E2E_WORK/cmp.txt" 2>&1; then
    fail "$what: data differs at byte offset $off: $(head -n 1 "$E2E_WORK/cmp.txt")"
  fi
  rm -f "$got"
}

# verify_zero_at DEV OFFSET LEN WHAT: a never-written range reads back as zeros.
verify_zero_at() {
  local dev=$1 off=$2 len=$3 what=$4 got="$E2E_WORK/readback"
  must dd if="$dev" of="$got" bs=1M iflag=direct,skip_bytes,count_bytes skip="$off" \
          count="$len" status=none
  cmp -n "$len" "$got" /dev/zero > /dev/null 2>&1 || fail "$what: never-written range at $off is not zero"
  rm -f "$got"
}

# fio_verify DEV OFFSET SIZE write|verify_only: concurrent 4 KiB random writes (QD 16,
# libaio, O_DIRECT) with crc32c headers, read back; verify_only re-checks them later.
fio_verify() {
  local dev=$1 off=$2 size=$3 mode=$4
  local args=(--name=e2e --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite
              --bs=4k --iodepth=16 --offset="$off" --size="$size" --randrepeat=1
              --verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting)
  [[ $mode == verify_only ]] && args+=(--verify_only=1)
  must fio "${args[@]}" --output="$E2E_WORK/fio.txt" >/dev/null
  cat "$E2E_WORK/fio.txt" >> "$E2E_LOG/fio.txt"
  grep -q 'err= 0' "$E2E_WORK/fio.txt" || fail "fio $mode reported an error (fio.txt)"
}

# ---- cleanup -----------------------------------------------------------------------------
# Logs out every session, forgets node records, stops tgtd, unmounts the pmem file system.
e2e_cleanup() {
  iscsiadm -m node --logoutall=all >/dev/null 2>&1
  iscsiadm -m node -o delete >/dev/null 2>&1
  iscsiadm -m discoverydb -t sendtargets -p "$E2E_TARGET_IP:$E2E_ISCSI_PORT" -o delete >/dev/null 2>&1
  local pid
  pid=$(cat "$E2E_WORK/tgtd.pid" 2>/dev/null)
  if [[ -n $pid ]]; then
    kill -9 "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$E2E_WORK/tgtd.pid"
  fi
  mountpoint -q "$E2E_PMEM_MNT" && umount "$E2E_PMEM_MNT"
  return 0
}

# ---- the common check of the iSER scenarios ----------------------------------------------
# iser_restart_roundtrip IQN BACKING MIN_SIZE MAX_SIZE FRESH
#   tgtd exports BACKING over iSER; the initiator checks the LUN size lies in
#   [MIN_SIZE, MAX_SIZE], writes two random 8 MiB patterns with O_DIRECT (at LBA 0 and at
#   the LUN's end) plus 16 MiB of fio random writes with crc32c, reads all back, logs out.
#   Then tgtd is SIGKILLed, restarted on the same BACKING, and after a new login every byte
#   is checked again. FRESH=1: BACKING was zero-filled, so a never-written range must read
#   zeros before and after the restart.
iser_restart_roundtrip() {
  local iqn=$1 backing=$2 min_size=$3 max_size=$4 fresh=$5
  local size size2 off_b mib=$((1024 * 1024))
  local a="$E2E_WORK/pattern-a" b="$E2E_WORK/pattern-b"

  step "tgtd --bstype $E2E_BSTYPE on $backing, iSER login"
  tgtd_start
  iser_export 1 "$iqn" "$backing"
  iser_login "$iqn"
  size=$(blockdev --getsize64 "$DEV")
  (( size >= min_size && size <= max_size )) ||
    fail "LUN size $size outside [$min_size, $max_size] for $backing"
  (( size >= 128 * mib )) || fail "LUN of $size bytes is too small for the test layout"
  off_b=$(( (size - 8 * mib) / 4096 * 4096 ))
  step "LUN $DEV: $size bytes; writing patterns at 0 and $off_b, fio at 64 MiB"

  make_pattern "$a" 8
  make_pattern "$b" 8
  write_at "$DEV" 0 "$a"
  write_at "$DEV" "$off_b" "$b"
  fio_verify "$DEV" $((64 * mib)) $((16 * mib)) write
  verify_at "$DEV" 0 "$a" "pattern A (same session)"
  verify_at "$DEV" "$off_b" "$b" "pattern B (same session)"
  (( fresh )) && verify_zero_at "$DEV" $((32 * mib)) "$mib" "fresh LUN"
  iser_logout "$iqn"

  step "SIGKILL tgtd, restart on the same backing store, log in again"
  tgtd_kill9
  tgtd_start
  iser_export 1 "$iqn" "$backing"
  iser_login "$iqn"
  size2=$(blockdev --getsize64 "$DEV")
  (( size2 == size )) || fail "LUN size changed across the restart: $size -> $size2"
  verify_at "$DEV" 0 "$a" "pattern A after tgtd SIGKILL+restart"
  verify_at "$DEV" "$off_b" "$b" "pattern B after tgtd SIGKILL+restart"
  fio_verify "$DEV" $((64 * mib)) $((16 * mib)) verify_only
  (( fresh )) && verify_zero_at "$DEV" $((32 * mib)) "$mib" "fresh LUN after restart"
  iser_logout "$iqn"
  tgtd_kill9
  ROUNDTRIP_SIZE=$size
}
