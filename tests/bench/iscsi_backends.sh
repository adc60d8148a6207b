#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Benchmark (a program that prints figures, not a test): tgt backing stores side by side, end
# to end through iSCSI on 127.0.0.1 with tgtpmem-load as the initiator.
#
# One tgtd, one target, up to three LUNs measured in the same run:
#   null  tgt's null store (no data kept): the ceiling of tgtd + iSCSI + the initiator
#   rdwr  tgt's pread/pwrite store on a file
#   pmem  bs_pmem on an emulated pmem file (created with truncate; bsopts
#         durability=emulated), only when --module-dir holds bs_pmem.so
# Each LUN is first filled (every block of the region written once, sequentially, 1 MiB
# writes: the steady state of a LUN in use, where no write is the first to touch its page of
# a sparse file; --no-fill skips it to show that first-touch cost), then gets a random-write
# warm-up; then 4 KiB random write and 4 KiB random read are measured for each LUN in turn;
# every row is also given as a ratio to null. With --rounds N the whole sequence is repeated
# N times, interleaved (so drift on a shared host hits every store alike), and each row shows
# medians plus the spread of IOPS over the rounds.
#
# Where the files live: by default on /dev/shm (tmpfs), because what the pmem file emulates
# is memory: pmem has no page cache and nothing writes it back. On a disk file system (--dir
# /tmp on ext4) the kernel keeps writing the mapped file's dirty pages back to the disk and
# write-protects them again, so that later stores fault (ext4's page_mkwrite, journalling):
# that is the cost of the emulation on that file system, paid by rdwr as well, not bs_pmem's.
#
# Needs root (tgtd runs in a private mount namespace, see tests/lib/tgtd.sh) and jq.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/tgtd.sh
source "$here/../lib/tgtd.sh"

usage() {
  cat <<USAGE
Usage: iscsi_backends.sh [OPTIONS]

  --load PATH          tgtpmem-load executable (default: tgtpmem-load in PATH)
  --module-dir DIR     directory with bs_pmem.so; without it only null and rdwr are measured
  --pmem-bsopts OPTS   --bsopts for the pmem LUN (default: none, the module's defaults)
  --qd N               queue depth (default 16)
  --block-size SIZE    I/O size (default 4k)
  --seconds S          measured seconds per row (default 10)
  --warmup S           random-write warm-up per LUN before measuring (default 3)
  --no-fill            skip writing the whole region once before the warm-up (the rows then
                       include page faults and block allocation of first writes to the
                       sparse files)
  --rounds N           repeat the measurements N times, interleaved; report medians (default 1)
  --size SIZE          LUN files and the region used on every LUN (default 1g)
  --fua                FUA on every write
  --dir DIR            where the rdwr and pmem files go (default /dev/shm if it is a tmpfs,
                       else \${TMPDIR:-/tmp}); the file system matters (see above)
  --control-port N     tgtd control port (default 9202)
  --iscsi-port N       iSCSI port on 127.0.0.1 (default 3392)
  -h, --help
USAGE
}

load=$(command -v tgtpmem-load || true)
module_dir=""
pmem_bsopts=""
qd=16
block_size=4k
seconds=10
warmup=3
fill=1
rounds=1
size=1g
fua=()
fua_label=off
dir=${TMPDIR:-/tmp}
[[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]] && dir=/dev/shm
control_port=9202
iscsi_port=3392
while (( $# )); do
  case $1 in
    --load) load=$2; shift 2 ;;
    --module-dir) module_dir=$2; shift 2 ;;
    --pmem-bsopts) pmem_bsopts=$2; shift 2 ;;
    --qd) qd=$2; shift 2 ;;
    --block-size) block_size=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --no-fill) fill=0; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --fua) fua=(--fua); fua_label=on; shift ;;
    --dir) dir=$2; shift 2 ;;
    --control-port) control_port=$2; shift 2 ;;
    --iscsi-port) iscsi_port=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "iscsi_backends: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "iscsi_backends: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (tgtd runs in a private mount namespace)"
for tool in tgtd tgtadm unshare jq truncate; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[[ -n $load && -x $load ]] || die "tgtpmem-load not found; pass --load PATH"
load=$(readlink -f "$load")
if [[ -n $module_dir ]]; then
  [[ -f $module_dir/bs_pmem.so ]] || die "--module-dir $module_dir has no bs_pmem.so"
fi

# tgtd 1.0.85 ignores SIGTERM (its handler is empty), so tgtd_stop alone waits and then
# SIGKILLs. Shut it down the orderly way first: delete the target, then the system.
shutdown_tgtd() {
  [[ -n ${TGTD_PID:-} ]] || return 0
  tgtadm_c --lld iscsi --mode target --op delete --force --tid 1 >/dev/null 2>&1 || true
  tgtadm_c --mode system --op delete >/dev/null 2>&1 || true
  tgtd_stop
}

work=$(mktemp -d "$dir/iscsi-bench.XXXXXX")
cleanup() { shutdown_tgtd || true; rm -rf "$work"; }
trap cleanup EXIT
# tgtd dlopens every file in its module directory; give it a private one holding a copy of
# bs_pmem.so only, so that a rebuild during the run cannot change what is measured.
mkdir "$work/modules"
if [[ -n $module_dir ]]; then
  cp "$module_dir/bs_pmem.so" "$work/modules/bs_pmem.so"
  module_id="$(readlink -f "$module_dir/bs_pmem.so"), $(date -r "$work/modules/bs_pmem.so" \
    '+%F %T'), sha256 $(sha256sum "$work/modules/bs_pmem.so" | cut -c1-12)"
  have_pmem=1
else
  have_pmem=0
fi

# The emulated pmem: a file on an ordinary file system treated as pmem (CPU cache flushes, no
# msync per persist), as on a host without persistent memory: bsopts durability=emulated.
pmem_bsopts="durability=emulated${pmem_bsopts:+;$pmem_bsopts}"
iqn=iqn.2024-01.org.tgt-pmem:bench
tgtd_start "$work/modules" "$control_port" "$iscsi_port" "$work/tgtd.log" ||
  { cat "$work/tgtd.log" >&2; exit 1; }
tgt_new_target 1 "$iqn"
backends=(null rdwr)
tgt_new_lun 1 1 null /dev/null
truncate -s "$size" "$work/rdwr.img"
tgt_new_lun 1 2 rdwr "$work/rdwr.img"
declare -A lun=([null]=1 [rdwr]=2)
if (( have_pmem )); then
  truncate -s "$size" "$work/pmem.img"
  if ! tgt_new_lun 1 3 pmem "$work/pmem.img" "$pmem_bsopts"; then
    cat "$work/tgtd.log" >&2
    die "tgtd refused the pmem LUN (see its log above)"
  fi
  backends+=(pmem)
  lun[pmem]=3
fi
tgt_allow_all 1

url() { echo "iscsi://127.0.0.1:$iscsi_port/$iqn/${lun[$1]}"; }

# run BACKEND READ_PERCENT SECONDS OUT: one tgtpmem-load run, JSON to OUT; dies on failure.
run() {
  local backend=$1 read_percent=$2 secs=$3 out=$4
  if ! "$load" --json --queue-depth "$qd" --block-size "$block_size" --access random \
      --read-percent "$read_percent" --duration "$secs" --size "$size" "${fua[@]}" \
      "$(url "$backend")" >"$out" 2>"$out.err"; then
    cat "$out" "$out.err" >&2
    die "tgtpmem-load failed on the $backend LUN"
  fi
}

fs_type=$(stat -f -c %T "$work")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "iSCSI backing stores: tgtd $(tgtd -V 2>/dev/null | head -n 1 || echo '?') on 127.0.0.1," \
     "initiator tgtpmem-load (libiscsi), all rows from one run"
echo "host:     ${cpu:-unknown CPU}, $(nproc) CPUs, kernel $(uname -r)"
(( fill )) && fill_label="every block written once, then a" || fill_label="no fill, only a"
echo "workload: $block_size random, QD $qd, ${seconds} s per row; per LUN $fill_label ${warmup} s" \
     "random-write warm-up; region $size; FUA $fua_label; $rounds round(s), medians shown"
echo "files:    $work ($fs_type)"
if (( have_pmem )); then
  echo "pmem:     emulated: a $size file made with truncate on $fs_type, bsopts '${pmem_bsopts}'"
  echo "module:   $module_id"
else
  echo "pmem:     not measured: no bs_pmem module given (--module-dir DIR with bs_pmem.so)"
fi
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start; tgtd and the initiator" \
     "share these CPUs"
echo

# fill BACKEND: writes every block of the region once (sequential 1 MiB writes, QD 4).
fill() {
  local b=$1 bytes count
  bytes=$(numfmt --from=iec "${size^^}")
  count=$(( (bytes + 1048575) / 1048576 ))
  if ! "$load" --queue-depth 4 --block-size 1m --access sequential --read-percent 0 \
      --ios "$count" --size "$size" "$(url "$b")" >"$work/fill-$b.out" 2>&1; then
    cat "$work/fill-$b.out" >&2
    die "filling the $b LUN failed"
  fi
}
for b in "${backends[@]}"; do
  (( fill )) && fill "$b"
  run "$b" 0 "$warmup" "$work/warmup-$b.json"
done

workloads=(randwrite randread)
for (( r = 1; r <= rounds; r++ )); do
  for workload in "${workloads[@]}"; do
    [[ $workload == randwrite ]] && rp=0 || rp=100
    for b in "${backends[@]}"; do
      run "$b" "$rp" "$seconds" "$work/$workload-$b-$r.json"
    done
  done
done

# median: the median of the numbers on stdin, one per line
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
                                              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# field WORKLOAD BACKEND JQ-PATH: the median of that figure over the rounds
field() {
  local workload=$1 b=$2 path=$3 op
  [[ $workload == randwrite ]] && op=write || op=read
  for (( r = 1; r <= rounds; r++ )); do
    jq -r --arg op "$op" ".[\$op] | $path" "$work/$workload-$b-$r.json"
  done | median
}
spread() {
  local workload=$1 b=$2 op
  [[ $workload == randwrite ]] && op=write || op=read
  for (( r = 1; r <= rounds; r++ )); do
    jq -r --arg op "$op" '.[$op].iops' "$work/$workload-$b-$r.json"
  done | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'
}

if (( rounds > 1 )); then
  printf '%-10s %-6s %10s %9s %9s %9s %8s  %s\n' workload store IOPS MiB/s 'p50 us' 'p99 us' \
    'vs null' 'IOPS range'
else
  printf '%-10s %-6s %10s %9s %9s %9s %8s\n' workload store IOPS MiB/s 'p50 us' 'p99 us' 'vs null'
fi
for workload in "${workloads[@]}"; do
  null_iops=""
  for b in "${backends[@]}"; do
    iops=$(field "$workload" "$b" .iops)
    mib=$(field "$workload" "$b" .mib_s)
    p50=$(field "$workload" "$b" .latency_us.p50)
    p99=$(field "$workload" "$b" .latency_us.p99)
    [[ $b == null ]] && null_iops=$iops
    ratio=$(awk -v a="$iops" -v b="$null_iops" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf '%-10s %-6s %10.0f %9.1f %9.1f %9.1f %8s' "$workload" "$b" "$iops" "$mib" "$p50" \
      "$p99" "$ratio"
    (( rounds > 1 )) && printf '  %s' "$(spread "$workload" "$b")"
    printf '\n'
  done
done
echo
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the end"
