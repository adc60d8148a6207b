#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: boot srp-push
# Our SRP target on fsdax: tgtd with lld_srp.so exports a 256 MiB pool file on ext4 -o dax
# (--bstype from the run) as LUN 1 of SRP target 1; the kernel's ib_srp logs in over RDMA CM
# (rxe0, port 5555). The LUN must answer INQUIRY, READ CAPACITY and VPD 0x83 as tgtd says
# (vendor and SCSI ID of `tgtadm --op show`, the size the block layer sees); two random 8 MiB
# patterns (LBA 0, the end) and 16 MiB of fio crc32c random writes must read back, a
# never-written range must read zeros. Then tgtd is SIGKILLed under the logged-in initiator,
# restarted and re-exported; the stale remote port is removed, ib_srp logs in again and every
# byte is checked again.
# Skipped when lld_srp.so was not given to run.sh; fails if tgtd then has no srp LLD.
# E2E_SRP_TARGET=lio runs the same against LIO's ib_srpt (a check of the scenario itself).
set -u
source /e2e/guest/lib.sh

pool_size=$((256 * 1024 * 1024))
mib=$((1024 * 1024))
[[ $E2E_SRP_TARGET == lio || -f $E2E_SRP_MODULE ]] ||
  skip "no lld_srp.so in the guest (run.sh --module PATH/lld_srp.so)"

step "NVDIMM namespace in fsdax mode, ext4 -o dax, a $((pool_size >> 20)) MiB pool"
fsdax_files "$pool_size" pool
pool=$E2E_PMEM_MNT/pool
# rdwr (and LIO's fileio) map the file 1:1; a pmem pool may keep metadata in it.
min_size=$((128 * mib))
[[ $E2E_BSTYPE == rdwr || $E2E_SRP_TARGET == lio ]] && min_size=$pool_size
trap srp_cleanup EXIT
label="tgtd srp, bstype $E2E_BSTYPE"
[[ $E2E_SRP_TARGET == lio ]] && label="LIO ib_srpt"

# up_and_login: the target exports the pool, ib_srp logs in (first removing what it still
# holds for that target port); checks the LUN's size and SCSI identity. Sets size.
up_and_login() {
  srp_target_up "$pool"
  srp_remove_stale "$SRP_T_ID_EXT" "$SRP_T_IOC_GUID"
  srp_target_login
  size=$(blockdev --getsize64 "$DEV")
  (( size >= min_size && size <= pool_size )) ||
    fail "LUN size $size outside [$min_size, $pool_size] for $pool"
  srp_scsi_checks "$DEV" "$SRP_T_VENDOR" "$size" "$SRP_T_VPD_ID"
}

step "$label on $pool, ib_srp login, SCSI identity"
up_and_login
size1=$size
off_b=$(( (size - 8 * mib) / 4096 * 4096 ))
# The administrator's view of the logged-in initiator (lld_srp's status file).
if [[ $E2E_SRP_TARGET != lio ]] && command -v tgtpmem-admin >/dev/null; then
  for _ in $(seq 1 30); do
    tgtpmem-admin status > "$E2E_LOG/status.txt" 2>&1
    grep -qE "^srp: listening on port [0-9]+, [1-9][0-9]* channel\(s\)" "$E2E_LOG/status.txt" && break
    sleep 0.2
  done
  grep -qE "^srp: listening on port [0-9]+, [1-9][0-9]* channel\(s\)" "$E2E_LOG/status.txt" &&
    grep -qE "^    target tid [0-9]+: initiator port [0-9a-f]{32} from 192\.0\.2\.[0-9]+(:[0-9]+)?, live" "$E2E_LOG/status.txt" ||
    fail "tgtpmem-admin status does not show the SRP channel(s) of the login (status.txt)"
  [[ $E2E_BSTYPE != pmem ]] || grep -q "^target .*: $pool\$" "$E2E_LOG/status.txt" ||
    fail "tgtpmem-admin status does not show the pmem LUN on $pool (status.txt)"
fi
step "LUN $DEV ($SRP_HOST, id_ext $SRP_T_ID_EXT): $size bytes; patterns at 0 and $off_b, fio at 64 MiB"
a=$E2E_WORK/pattern-a b=$E2E_WORK/pattern-b
patterns_write "$DEV" "$off_b" "$a" "$b" 1

step "target killed under the logged-in initiator, restarted, re-exported; log in again"
srp_target_crash
up_and_login
(( size == size1 )) || fail "LUN size changed across the restart: $size1 -> $size"
patterns_check "$DEV" "$off_b" "$a" "$b" 1 "after the target's restart"
srp_logout
srp_target_crash
dmesg | grep -aE 'ib_srp|scsi host' > "$E2E_LOG/srp-dmesg.txt"

summary "$label: ${size}-byte LUN, INQUIRY/READ CAPACITY/VPD 0x83 ok; 16 MiB patterns + 16 MiB fio crc32c intact after the target's SIGKILL+restart"
