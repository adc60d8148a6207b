#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: benchmark
# A performance sample, not a pass/fail figure: fio 4 KiB random read and random write IOPS
# (libaio, O_DIRECT, QD 16, time-based) on the iSER disk of four targets in the same guest:
# tgt with bs_pmem, tgt's `null` (no data at all: the ceiling of tgt's iSER path) and `rdwr`
# stores, and LIO, the kernel's target (ib_isert, fileio backstore), configured through
# configfs. pmem, rdwr and LIO serve a 256 MiB file each on the same ext4 -o dax. Large I/O
# too, on tgt's null and pmem (issue 17, item 1): 1 MiB random read and write at QD 4. Prints a
# table with ratios to `null`: under TCG absolute numbers mean little, ratios do. Passes when
# all four produced numbers (exit 77 if the run's store is not pmem).
set -u
source /e2e/guest/lib.sh

runtime=${E2E_PERF_RUNTIME:-10}      # s per fio job
span=$((32 * 1024 * 1024))           # fio works on the first 32 MiB of each disk
file_size=$((256 * 1024 * 1024))
lio_port=3261
lio_iqn=$E2E_IQN_PREFIX:perf-lio
CFG=/sys/kernel/config/target

[[ $E2E_BSTYPE == pmem ]] || skip "perf-sample compares bs_pmem with the others; bstype is $E2E_BSTYPE"

# json_iops FILE read|write: IOPS of that direction in fio's JSON report.
json_iops() {
  awk -v sec="\"$2\"" '
    $1 == sec && $2 == ":" && $3 == "{" { on = 1; next }
    on && $1 == "\"iops\"" { v = $3; sub(/,$/, "", v); printf "%.0f\n", v; exit }' "$1"
}

# json_mibs FILE read|write: MiB/s of that direction in fio's JSON report (its bw, KiB/s).
json_mibs() {
  awk -v sec="\"$2\"" '
    $1 == sec && $2 == ":" && $3 == "{" { on = 1; next }
    on && $1 == "\"bw\"" { v = $3; sub(/,$/, "", v); printf "%.1f\n", v / 1024; exit }' "$1"
}

# measure_large NAME DEV: 1 MiB random write, then read, QD 4 (after measure's fill); sets
# MIBS_W[NAME], MIBS_R[NAME]. Files fio-NAME-large-*.json (not figures.sh's 4 KiB pairs).
declare -A MIBS_R MIBS_W
measure_large() {
  local name=$1 dev=$2 dir out
  for dir in write read; do
    out=$E2E_LOG/fio-$name-large-$dir.json
    must fio --name="$name-large-$dir" --filename="$dev" --ioengine=libaio --direct=1 \
             --iodepth=4 --bs=1M --rw="rand$dir" --size="$span" --time_based \
             --runtime="$runtime" --randrepeat=0 --norandommap --output-format=json \
             --output="$out" >/dev/null
    grep -q '"error" : 0,' "$out" || fail "fio 1 MiB rand$dir on $name reported an error ($out)"
    if [[ $dir == read ]]; then MIBS_R[$name]=$(json_mibs "$out" read)
    else MIBS_W[$name]=$(json_mibs "$out" write); fi
  done
  step "$name: 1 MiB randread ${MIBS_R[$name]} MiB/s, randwrite ${MIBS_W[$name]} MiB/s"
}

# measure NAME DEV: fills the span once (sequential 1 MiB writes), then a random write and a
# random read job; sets IOPS_W[NAME], IOPS_R[NAME].
declare -A IOPS_R IOPS_W
measure() {
  local name=$1 dev=$2 rw dir out
  must fio --name=fill --filename="$dev" --ioengine=libaio --direct=1 --iodepth=4 --bs=1M \
           --rw=write --size="$span" --output="$E2E_LOG/fio-$name-fill.txt" >/dev/null
  for rw in randwrite randread; do
    out=$E2E_LOG/fio-$name-$rw.json
    dir=${rw#rand}
    must fio --name="$name-$rw" --filename="$dev" --ioengine=libaio --direct=1 --iodepth=16 \
             --bs=4k --rw="$rw" --size="$span" --time_based --runtime="$runtime" \
             --randrepeat=0 --norandommap --output-format=json --output="$out" >/dev/null
    grep -q '"error" : 0,' "$out" || fail "fio $rw on $name ($dev) reported an error ($out)"
    if [[ $dir == read ]]; then IOPS_R[$name]=$(json_iops "$out" read)
    else IOPS_W[$name]=$(json_iops "$out" write); fi
  done
  step "$name: randread ${IOPS_R[$name]} IOPS, randwrite ${IOPS_W[$name]} IOPS"
}

# ---- LIO (kernel target) through configfs -------------------------------------------------
lio_teardown() {
  local t=$CFG/iscsi/$lio_iqn/tpgt_1
  [[ -d $CFG/iscsi/$lio_iqn ]] || { [[ -d $CFG/core/fileio_1 ]] && rmdir "$CFG"/core/fileio_1/e2e "$CFG"/core/fileio_1; return 0; }
  echo 0 > "$t/enable" 2>/dev/null
  rm -f "$t/acls/$E2E_INITIATOR_IQN/lun_0/lun0"
  rmdir "$t/acls/$E2E_INITIATOR_IQN/lun_0" "$t/acls/$E2E_INITIATOR_IQN" 2>/dev/null
  find "$t/lun/lun_0" -maxdepth 1 -type l -delete 2>/dev/null
  rmdir "$t/lun/lun_0" "$t/np/$E2E_TARGET_IP:$lio_port" "$t" "$CFG/iscsi/$lio_iqn" 2>/dev/null
  rmdir "$CFG/core/fileio_1/e2e" "$CFG/core/fileio_1" 2>/dev/null
  return 0
}
# lio_export FILE: LUN 0 of an iSER portal on $E2E_TARGET_IP:$lio_port, open to our initiator.
lio_export() {
  local file=$1 t=$CFG/iscsi/$lio_iqn/tpgt_1
  must modprobe -a configfs target_core_mod target_core_file target_core_iblock iscsi_target_mod ib_isert
  # init.sh mounts configfs at boot, but the file system type only exists once the configfs
  # module is loaded, which nothing had needed before LIO.
  mountpoint -q /sys/kernel/config || must mount -t configfs configfs /sys/kernel/config
  [[ -d $CFG ]] || fail "no $CFG after loading target_core_mod (configfs)"
  must mkdir -p "$CFG/core/fileio_1/e2e"
  echo "fd_dev_name=$file,fd_dev_size=$file_size" > "$CFG/core/fileio_1/e2e/control" ||
    fail "LIO fileio control write failed"
  echo 1 > "$CFG/core/fileio_1/e2e/enable" || fail "LIO fileio backstore could not be enabled"
  must mkdir -p "$t/lun/lun_0"
  must ln -s "$CFG/core/fileio_1/e2e" "$t/lun/lun_0/e2e"
  must mkdir "$t/np/$E2E_TARGET_IP:$lio_port"
  echo 1 > "$t/np/$E2E_TARGET_IP:$lio_port/iser" || fail "LIO: iser=1 on the portal refused (ib_isert)"
  must mkdir -p "$t/acls/$E2E_INITIATOR_IQN/lun_0"
  must ln -s "$t/lun/lun_0" "$t/acls/$E2E_INITIATOR_IQN/lun_0/lun0"
  echo 0 > "$t/attrib/authentication"
  echo 1 > "$t/enable" || fail "LIO: could not enable the TPG"
}

step "NVDIMM namespace in fsdax mode, ext4 -o dax, three $((file_size >> 20)) MiB files"
fsdax_files "$file_size" pmem rdwr lio

step "tgtd: pmem, null and rdwr targets over iSER"
tgtd_start
iser_export 1 "$E2E_IQN_PREFIX:perf-pmem" "$E2E_PMEM_MNT/pmem"
E2E_BSTYPE=null E2E_BSOPTS='' iser_export 2 "$E2E_IQN_PREFIX:perf-null" null0
E2E_BSTYPE=rdwr E2E_BSOPTS='' iser_export 3 "$E2E_IQN_PREFIX:perf-rdwr" "$E2E_PMEM_MNT/rdwr"
for name in null pmem rdwr; do
  iser_login "$E2E_IQN_PREFIX:perf-$name"
  measure "tgt-$name" "$DEV"
  [[ $name == rdwr ]] || measure_large "tgt-$name" "$DEV"
  iser_logout "$E2E_IQN_PREFIX:perf-$name"
done
tgtd_kill9

step "LIO: ib_isert + fileio on $E2E_PMEM_MNT/lio, portal $E2E_TARGET_IP:$lio_port"
trap lio_teardown EXIT
lio_export "$E2E_PMEM_MNT/lio"
E2E_ISCSI_PORT=$lio_port iser_login "$lio_iqn"
measure lio-fileio "$DEV"
E2E_ISCSI_PORT=$lio_port iser_logout "$lio_iqn"
iscsiadm -m discoverydb -t sendtargets -p "$E2E_TARGET_IP:$lio_port" -o delete >/dev/null 2>&1
lio_teardown

{
  echo "4 KiB random IOPS over iSER (rxe0, TCG guest), libaio QD 16, ${runtime}s each, 32 MiB span"
  printf '%-12s %10s %8s %10s %8s\n' target randread /null randwrite /null
  for name in tgt-null tgt-pmem tgt-rdwr lio-fileio; do
    awk -v n="$name" -v r="${IOPS_R[$name]}" -v w="${IOPS_W[$name]}" \
        -v r0="${IOPS_R[tgt-null]}" -v w0="${IOPS_W[tgt-null]}" \
        'BEGIN { printf "%-12s %10d %8.2f %10d %8.2f\n", n, r, r / r0, w, w / w0 }'
  done
  echo "1 MiB random MiB/s over iSER, libaio QD 4, ${runtime}s each"
  printf '%-12s %10s %8s %10s %8s\n' target randread /null randwrite /null
  for name in tgt-null tgt-pmem; do
    awk -v n="$name" -v r="${MIBS_R[$name]}" -v w="${MIBS_W[$name]}" \
        -v r0="${MIBS_R[tgt-null]}" -v w0="${MIBS_W[tgt-null]}" \
        'BEGIN { printf "%-12s %10.1f %8.2f %10.1f %8.2f\n", n, r, r / r0, w, w / w0 }'
  done
} > "$E2E_LOG/perf.txt"
sed 's/^/    /' "$E2E_LOG/perf.txt" >&2
for name in tgt-null tgt-pmem tgt-rdwr lio-fileio; do
  (( ${IOPS_R[$name]:-0} > 0 && ${IOPS_W[$name]:-0} > 0 )) || fail "no IOPS figure for $name"
done
for name in tgt-null tgt-pmem; do
  awk -v r="${MIBS_R[$name]:-0}" -v w="${MIBS_W[$name]:-0}" 'BEGIN { exit !(r > 0 && w > 0) }' ||
    fail "no 1 MiB figure for $name"
done
summary "1 MiB MiB/s rr/rw: null ${MIBS_R[tgt-null]}/${MIBS_W[tgt-null]}, pmem ${MIBS_R[tgt-pmem]}/${MIBS_W[tgt-pmem]}; IOPS rr/rw: null ${IOPS_R[tgt-null]}/${IOPS_W[tgt-null]}, pmem ${IOPS_R[tgt-pmem]}/${IOPS_W[tgt-pmem]}, rdwr ${IOPS_R[tgt-rdwr]}/${IOPS_W[tgt-rdwr]}, LIO fileio ${IOPS_R[lio-fileio]}/${IOPS_W[lio-fileio]}"
