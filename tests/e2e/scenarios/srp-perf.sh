#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: benchmark
# A performance sample, not a pass/fail figure: fio 4 KiB random read and random write IOPS
# (libaio, O_DIRECT, QD 16, 10 s each, 32 MiB span filled once - perf-sample's job) on
#   tgt-srp-pmem  our SRP target (tgtd + lld_srp.so) with bs_pmem,
#   tgt-srp-null  the same with tgt's `null` store (no data: the ceiling of our SRP path),
#   lio-srpt      LIO's ib_srpt, fileio backstore,
#   tgt-iser-pmem tgtd with bs_pmem over iSER (as perf-sample.sh measures it),
# each on its own 256 MiB file on the same ext4 -o dax; ib_srp and open-iscsi on rxe0. Prints
# one table with ratios to tgt-srp-null (guest/srp-perf/perf.txt); passes when all four gave
# numbers. Skipped without lld_srp.so or unless --bstype pmem.
set -u
source /e2e/guest/lib.sh

file_size=$((256 * 1024 * 1024))
[[ -f $E2E_SRP_MODULE ]] || skip "no lld_srp.so in the guest (run.sh --module PATH/lld_srp.so)"
[[ $E2E_BSTYPE == pmem ]] || skip "srp-perf compares bs_pmem with the others; bstype is $E2E_BSTYPE"

step "NVDIMM namespace in fsdax mode, ext4 -o dax, three $((file_size >> 20)) MiB files"
fsdax_files "$file_size" srp-pmem iser-pmem lio

trap srp_cleanup EXIT
guid=$(srp_node_guid)

step "tgtd: SRP targets 1 (pmem) and 2 (null), iSER target 3 (pmem)"
tgtd_start
srp_require_lld
srp_tgtd_export 1 srp-perf-pmem "$E2E_PMEM_MNT/srp-pmem"
srp_tgtd_export 2 srp-perf-null null0 null
iser_export 3 "$E2E_IQN_PREFIX:srp-perf-iser" "$E2E_PMEM_MNT/iser-pmem"
for tid in 2 1; do
  srp_login "$E2E_TARGET_IP" "$E2E_SRP_PORT" "$(srp_tid_id_ext "$tid")" "$guid"
  (( tid == 1 )) && name=tgt-srp-pmem || name=tgt-srp-null
  srp_measure "$name" "$DEV"
  srp_logout
done
iser_login "$E2E_IQN_PREFIX:srp-perf-iser"
srp_measure tgt-iser-pmem "$DEV"
iser_logout "$E2E_IQN_PREFIX:srp-perf-iser"
tgtd_kill9

step "LIO: ib_srpt + fileio on $E2E_PMEM_MNT/lio, RDMA CM port $E2E_LIO_SRP_PORT"
lio_srpt_export "$E2E_PMEM_MNT/lio"
srp_login "$E2E_TARGET_IP" "$E2E_LIO_SRP_PORT" "$LIO_SRPT_ID" "$LIO_SRPT_ID"
srp_measure lio-srpt "$DEV"
srp_logout
lio_srpt_teardown

names=(tgt-srp-null tgt-srp-pmem lio-srpt tgt-iser-pmem)
{
  echo "4 KiB random IOPS (rxe0, TCG guest), libaio QD 16, ${SRP_PERF_RUNTIME}s each, $((SRP_PERF_SPAN >> 20)) MiB span"
  printf '%-14s %10s %9s %10s %9s\n' target randread /srp-null randwrite /srp-null
  for name in "${names[@]}"; do
    awk -v n="$name" -v r="${SRP_IOPS_R[$name]}" -v w="${SRP_IOPS_W[$name]}" \
        -v r0="${SRP_IOPS_R[tgt-srp-null]}" -v w0="${SRP_IOPS_W[tgt-srp-null]}" \
        'BEGIN { printf "%-14s %10d %9.2f %10d %9.2f\n", n, r, r / r0, w, w / w0 }'
  done
} > "$E2E_LOG/perf.txt"
sed 's/^/    /' "$E2E_LOG/perf.txt" >&2
for name in "${names[@]}"; do
  (( ${SRP_IOPS_R[$name]:-0} > 0 && ${SRP_IOPS_W[$name]:-0} > 0 )) || fail "no IOPS figure for $name"
done
summary "IOPS rr/rw: srp-null ${SRP_IOPS_R[tgt-srp-null]}/${SRP_IOPS_W[tgt-srp-null]}, srp-pmem ${SRP_IOPS_R[tgt-srp-pmem]}/${SRP_IOPS_W[tgt-srp-pmem]}, LIO srpt ${SRP_IOPS_R[lio-srpt]}/${SRP_IOPS_W[lio-srpt]}, iser-pmem ${SRP_IOPS_R[tgt-iser-pmem]}/${SRP_IOPS_W[tgt-iser-pmem]}"
