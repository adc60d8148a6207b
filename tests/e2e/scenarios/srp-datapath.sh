#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: benchmark
# A figure, not a verdict: SRP's data path (issue 17, item 5) against LIO's ib_srpt in the
# same guest run. fio, libaio, O_DIRECT, on the first SRP_PERF_SPAN bytes (filled once):
#   4 KiB random read / write at QD 1 (latency), at QD 16 (IOPS),
#   1 MiB random read / write at QD 4 (bandwidth; above the per-slot pool chunk, so it shows
#   the fallback path too),
# SRP_DATAPATH_RUNTIME s each (default 6), for tgtd + lld_srp.so with bs_pmem and for LIO
# (fileio), each on its own 256 MiB file on the same ext4 -o dax. Both targets are up at once
# and measured in turns, SRP_DATAPATH_ROUNDS times (default 2): a TCG guest on a busy host
# drifts by a factor of two within minutes, so a ratio is only worth something between
# figures taken close together, and the rounds show the drift. Prints one table
# (guest/srp-datapath/datapath.txt): per job and round IOPS, MiB/s, mean latency and fio's
# stddev of its per-second IOPS samples (the noise within a job), and tgt/LIO. Passes when
# every job gave a number. Skipped without lld_srp.so or unless --bstype pmem.
set -u
source /e2e/guest/lib.sh

file_size=$((256 * 1024 * 1024))
runtime=${SRP_DATAPATH_RUNTIME:-6}
rounds=${SRP_DATAPATH_ROUNDS:-2}
[[ -f $E2E_SRP_MODULE ]] || skip "no lld_srp.so in the guest (run.sh --module PATH/lld_srp.so)"
[[ $E2E_BSTYPE == pmem ]] || skip "srp-datapath measures bs_pmem; bstype is $E2E_BSTYPE"

# The jobs: name rw bs iodepth.
jobs=("4k-randread-qd1 randread 4k 1" "4k-randwrite-qd1 randwrite 4k 1"
      "4k-randread-qd16 randread 4k 16" "4k-randwrite-qd16 randwrite 4k 16"
      "1m-randread-qd4 randread 1M 4" "1m-randwrite-qd4 randwrite 1M 4")

# fio_fields FILE read|write: "IOPS KiB/s mean-latency-us iops-stddev" from fio's JSON report.
fio_fields() {
  awk -v sec="\"$2\"" '
    function num(v) { sub(/,$/, "", v); return v + 0 }
    $1 == sec && $2 == ":" && $3 == "{" { on = 1; next }
    !on { next }
    $1 == "\"lat_ns\"" { lat = 1; next }
    $1 == "\"bw\"" && bw == "" { bw = num($3) }
    $1 == "\"iops\"" && iops == "" { iops = num($3) }
    lat && $1 == "\"mean\"" && mean == "" { mean = num($3) / 1000; lat = 0 }
    $1 == "\"iops_stddev\"" { printf "%.0f %.0f %.1f %.1f\n", iops, bw, mean, num($3); exit }' "$1"
}

declare -A R
# measure NAME ROUND DEV: every job on DEV; R[NAME/ROUND/job] = fio_fields.
measure() {
  local name=$1 round=$2 dev=$3 j job rw bs qd out dir
  (( round == 1 )) &&
    must fio --name=fill --filename="$dev" --ioengine=libaio --direct=1 --iodepth=4 --bs=1M \
             --rw=write --size="$SRP_PERF_SPAN" --output="$E2E_LOG/fio-$name-fill.txt" >/dev/null
  for j in "${jobs[@]}"; do
    read -r job rw bs qd <<< "$j"
    out=$E2E_LOG/fio-$name-$round-$job.json
    must fio --name="$name-$job" --filename="$dev" --ioengine=libaio --direct=1 --iodepth="$qd" \
             --bs="$bs" --rw="$rw" --size="$SRP_PERF_SPAN" --time_based --runtime="$runtime" \
             --randrepeat=0 --norandommap --output-format=json --output="$out" >/dev/null
    grep -q '"error" : 0,' "$out" || fail "fio $job on $name ($dev) reported an error ($out)"
    dir=${rw#rand}
    R[$name/$round/$job]=$(fio_fields "$out" "$dir")
    step "$name round $round $job: ${R[$name/$round/$job]} (IOPS KiB/s lat-us iops-stddev)"
  done
}

step "NVDIMM namespace in fsdax mode, ext4 -o dax, two $((file_size >> 20)) MiB files"
fsdax_files "$file_size" srp-pmem lio

trap srp_cleanup EXIT
guid=$(srp_node_guid)

step "tgtd: SRP target 1 (pmem); LIO: ib_srpt + fileio on $E2E_PMEM_MNT/lio, RDMA CM port $E2E_LIO_SRP_PORT"
tgtd_start
srp_require_lld
srp_tgtd_export 1 srp-datapath-pmem "$E2E_PMEM_MNT/srp-pmem"
lio_srpt_export "$E2E_PMEM_MNT/lio"
for (( round = 1; round <= rounds; ++round )); do
  srp_login "$E2E_TARGET_IP" "$E2E_SRP_PORT" "$(srp_tid_id_ext 1)" "$guid"
  measure tgt-srp-pmem "$round" "$DEV"
  srp_logout
  srp_login "$E2E_TARGET_IP" "$E2E_LIO_SRP_PORT" "$LIO_SRPT_ID" "$LIO_SRPT_ID"
  measure lio-srpt "$round" "$DEV"
  srp_logout
done
srp_target_alive "after the measurements"
tgtd_kill9
lio_srpt_teardown

{
  echo "SRP data path (rxe0, TCG guest), libaio O_DIRECT, ${runtime}s each, $((SRP_PERF_SPAN >> 20)) MiB span, $rounds rounds (tgt, then LIO)"
  printf '%-18s %2s | %8s %8s %9s %7s | %8s %8s %9s %7s | %6s\n' job r \
    tgt-IOPS MiB/s lat-us sd LIO-IOPS MiB/s lat-us sd tgt/LIO
  for j in "${jobs[@]}"; do
    read -r job _ <<< "$j"
    for (( round = 1; round <= rounds; ++round )); do
      read -r ti tb tl ts <<< "${R[tgt-srp-pmem/$round/$job]:-0 0 0 0}"
      read -r li lb ll ls <<< "${R[lio-srpt/$round/$job]:-0 0 0 0}"
      awk -v j="$job" -v r="$round" -v ti="$ti" -v tb="$tb" -v tl="$tl" -v ts="$ts" \
          -v li="$li" -v lb="$lb" -v ll="$ll" -v ls="$ls" 'BEGIN {
        printf "%-18s %2d | %8d %8.1f %9.1f %7.1f | %8d %8.1f %9.1f %7.1f | %6.2f\n",
               j, r, ti, tb / 1024, tl, ts, li, lb / 1024, ll, ls, (li > 0 ? ti / li : 0) }'
    done
  done
} > "$E2E_LOG/datapath.txt"
sed 's/^/    /' "$E2E_LOG/datapath.txt" >&2
for j in "${jobs[@]}"; do
  read -r job _ <<< "$j"
  for (( round = 1; round <= rounds; ++round )); do
    for name in tgt-srp-pmem lio-srpt; do
      read -r iops _ <<< "${R[$name/$round/$job]:-0}"
      (( ${iops:-0} > 0 )) || fail "no IOPS figure for $name round $round $job"
    done
  done
done
summary "tgt/LIO $(awk 'NR > 2 { printf "%s/%s %s; ", $1, $2, $NF }' "$E2E_LOG/datapath.txt")"
