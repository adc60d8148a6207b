#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# iSER on devdax: the NVDIMM as the character device /dev/dax0.0 (no file system, no
# read/write: mmap only), exported whole by tgtd over iSER on Soft-RoCE. Data written with
# O_DIRECT from open-iscsi must read back identical, before and after tgtd is SIGKILLed and
# restarted.
set -u
source /e2e/guest/lib.sh

step "NVDIMM namespace in devdax mode"
pmem_namespace devdax
if [[ $E2E_BSTYPE != pmem ]]; then
  # tgt's built-in stores do read/write on the path, which device DAX does not implement.
  skip "bstype $E2E_BSTYPE cannot serve device DAX (mmap-only); needs --bstype pmem"
fi
dax_size=$(cat /sys/bus/dax/devices/dax0.0/size)
(( dax_size > 0 )) || fail "dax0.0 reports size 0"

iser_restart_roundtrip "$E2E_IQN_PREFIX:devdax" "$PMEM_DEV" $((128 * 1024 * 1024)) "$dax_size" 0

summary "bstype $E2E_BSTYPE on /dev/dax0.0 ($dax_size bytes): ${ROUNDTRIP_SIZE}-byte LUN over iSER; 16 MiB patterns + 16 MiB fio crc32c intact after tgtd SIGKILL+restart"
