#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: boot iser
# iSER on devdax: the NVDIMM as the character device /dev/dax0.0 (no file system, no
# read/write: mmap only), exported whole by tgtd over iSER on Soft-RoCE. Data written with
# O_DIRECT from open-iscsi must read back identical, before and after tgtd is SIGKILLed and
# restarted. Then COMPARE AND WRITE from the Linux initiator (sg_compare_and_write).
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

# COMPARE AND WRITE (VMware's ATS) from the Linux initiator, through the kernel's SG_IO:
# written when the compare data matches, MISCOMPARE (sg3_utils exit 14) and nothing written
# when it does not.
step "COMPARE AND WRITE with sg_compare_and_write on the iSER disk"
tgtd_start
iser_export 1 "$E2E_IQN_PREFIX:devdax" "$PMEM_DEV"
iser_login "$E2E_IQN_PREFIX:devdax"
bs=$(blockdev --getss "$DEV")
lba=4096
must dd if=/dev/urandom of="$E2E_WORK/caw-old" bs="$bs" count=1 status=none
must dd if=/dev/urandom of="$E2E_WORK/caw-new" bs="$bs" count=1 status=none
write_at "$DEV" $((lba * bs)) "$E2E_WORK/caw-old"
cat "$E2E_WORK/caw-old" "$E2E_WORK/caw-new" > "$E2E_WORK/caw-match"
sg_compare_and_write --in="$E2E_WORK/caw-match" --lba=$lba --num=1 --xferlen=$((2 * bs)) "$DEV" \
  > "$E2E_WORK/caw.out" 2>&1 || fail "COMPARE AND WRITE with matching data: exit $? ($(cat "$E2E_WORK/caw.out"))"
verify_at "$DEV" $((lba * bs)) "$E2E_WORK/caw-new" "COMPARE AND WRITE wrote the new block"
# The same buffer again: the block now holds the new data, so the compare fails.
sg_compare_and_write --quiet --in="$E2E_WORK/caw-match" --lba=$lba --num=1 --xferlen=$((2 * bs)) "$DEV" \
  > "$E2E_WORK/caw.out" 2>&1
rc=$?
(( rc == 14 )) || fail "COMPARE AND WRITE with stale compare data: exit $rc, expected 14 (MISCOMPARE): $(cat "$E2E_WORK/caw.out")"
verify_at "$DEV" $((lba * bs)) "$E2E_WORK/caw-new" "a miscompared COMPARE AND WRITE left the block alone"
iser_logout "$E2E_IQN_PREFIX:devdax"
tgtd_kill9

summary "bstype $E2E_BSTYPE on /dev/dax0.0 ($dax_size bytes): ${ROUNDTRIP_SIZE}-byte LUN over iSER; 16 MiB patterns + 16 MiB fio crc32c intact after tgtd SIGKILL+restart; COMPARE AND WRITE from Linux: written on match, MISCOMPARE (exit 14) and untouched on mismatch"
