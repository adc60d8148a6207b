#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: boot srp-push
# e2e: benchmark part
# The SRP initiator side of the harness, proven against the kernel's own SRP target: LIO's
# ib_srpt (fileio backstore on a 256 MiB file on ext4 -o dax, RDMA CM port 5556) and ib_srp
# logging in over RDMA CM on rxe0. Checks INQUIRY / READ CAPACITY / VPD 0x83, an 8 MiB random
# pattern at LBA 0 and one at the end (O_DIRECT, read back). With E2E_BENCH=1 only (run.sh
# --bench: the target bench-srp-lio-reference) it then measures fio 4 KiB randread and
# randwrite (QD 16, libaio, SRP_PERF_RUNTIME s each; 0 skips it) as a reference figure.
# Needs no module: it documents what our target (srp-fsdax.sh) must do as well as LIO does.
set -u
source /e2e/guest/lib.sh

file_size=$((256 * 1024 * 1024))
mib=$((1024 * 1024))

step "NVDIMM namespace in fsdax mode, ext4 -o dax, a $((file_size >> 20)) MiB file"
fsdax_files "$file_size" lio-srp
file=$E2E_PMEM_MNT/lio-srp

trap srp_cleanup EXIT
step "LIO ib_srpt: fileio on $file, RDMA CM port $E2E_LIO_SRP_PORT"
lio_srpt_export "$file"
step "ib_srp login: id_ext=ioc_guid=$LIO_SRPT_ID, dest=$E2E_TARGET_IP:$E2E_LIO_SRP_PORT"
srp_login "$E2E_TARGET_IP" "$E2E_LIO_SRP_PORT" "$LIO_SRPT_ID" "$LIO_SRPT_ID"
size=$(blockdev --getsize64 "$DEV")
(( size == file_size )) || fail "LUN size $size, expected $file_size (the file)"
step "$DEV ($SRP_HOST, ${SRP_RPORT##*/}): $size bytes; sg_inq, sg_readcap, sg_vpd -p 0x83"
srp_scsi_checks "$DEV" LIO-ORG "$size" "$LIO_SRPT_SERIAL"

off_b=$(( size - 8 * mib ))
step "8 MiB random patterns at 0 and $off_b, O_DIRECT, read back"
make_pattern "$E2E_WORK/pattern-a" 8
make_pattern "$E2E_WORK/pattern-b" 8
write_at "$DEV" 0 "$E2E_WORK/pattern-a"
write_at "$DEV" "$off_b" "$E2E_WORK/pattern-b"
verify_at "$DEV" 0 "$E2E_WORK/pattern-a" "pattern A"
verify_at "$DEV" "$off_b" "$E2E_WORK/pattern-b" "pattern B"

perf=""
if (( E2E_BENCH && SRP_PERF_RUNTIME > 0 )); then
  srp_measure lio-srpt "$DEV"
  perf="; fio 4 KiB QD16 ${SRP_PERF_RUNTIME}s: randread ${SRP_IOPS_R[lio-srpt]} IOPS, randwrite ${SRP_IOPS_W[lio-srpt]} IOPS"
fi

step "logout, teardown"
srp_logout
lio_srpt_teardown
dmesg | grep -aE 'ib_srp|ib_srpt|scsi host' > "$E2E_LOG/srp-dmesg.txt"
summary "LIO ib_srpt over RDMA CM: ${size}-byte LUN, INQUIRY/READ CAPACITY/VPD 0x83 ok, 16 MiB of patterns intact$perf"
