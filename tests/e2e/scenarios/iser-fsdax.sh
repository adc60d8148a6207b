#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: boot iser
# iSER on fsdax: the NVDIMM as /dev/pmem0, ext4 mounted -o dax, a 256 MiB pool file on it
# exported by tgtd (--bstype from the run) over iSER on Soft-RoCE. Data written with O_DIRECT
# from open-iscsi must read back identical, before and after tgtd is SIGKILLed and restarted.
set -u
source /e2e/guest/lib.sh

pool_size=$((256 * 1024 * 1024))

step "NVDIMM namespace in fsdax mode, ext4 -o dax"
fsdax_files "$pool_size" pool
pool=$E2E_PMEM_MNT/pool

# rdwr maps the file 1:1; a pmem pool may keep metadata in the file, so only an upper bound.
min_size=$((128 * 1024 * 1024))
[[ $E2E_BSTYPE == rdwr ]] && min_size=$pool_size
iser_restart_roundtrip "$E2E_IQN_PREFIX:fsdax" "$pool" "$min_size" "$pool_size" 1

summary "bstype $E2E_BSTYPE on ext4-dax file: ${ROUNDTRIP_SIZE}-byte LUN over iSER; 16 MiB patterns + 16 MiB fio crc32c intact after tgtd SIGKILL+restart"
