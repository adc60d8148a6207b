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
#   pmem-NAME  with --pmem-variant NAME=BSOPTS: a second pmem LUN with those bsopts besides,
#         to set a bs_pmem option against the default in the same run
# Each LUN is first filled (every block of the region written once, sequentially, 1 MiB
# writes: the steady state of a LUN in use, where no write is the first to touch its page of
# a sparse file; --no-fill skips it to show that first-touch cost), then gets a random-write
# warm-up; then 4 KiB random write and 4 KiB random read are measured for each LUN in turn;
# every row is also given as a ratio to null. With --rounds N the whole sequence is repeated
# N times, interleaved (so drift on a shared host hits every store alike), and each row shows
# medians plus the spread of IOPS over the rounds. --qd takes a list: every queue depth is
# measured in every round.
#
# The figures go to --out as iscsi-backends.json (tests/lib/figures.sh: date, machine,
# command, one row per workload, store and queue depth), iscsi-backends.md (the table, also
# printed) and iscsi-backends.png (gnuplot: IOPS, ratio to null and latency percentiles
# against the queue depth).
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
# shellcheck source=../lib/figures.sh
source "$here/../lib/figures.sh"
command_line=$(printf '%q ' "$0" "$@")

usage() {
  cat <<USAGE
Usage: iscsi_backends.sh [OPTIONS]

  --load PATH          tgtpmem-load executable (default: tgtpmem-load in PATH)
  --module-dir DIR     directory with bs_pmem.so; without it only null and rdwr are measured
  --pmem-bsopts OPTS   --bsopts for the pmem LUN (default: none, the module's defaults)
  --pmem-variant NAME=BSOPTS
                       also measure a second pmem LUN, store pmem-NAME, with these bsopts
                       (e.g. copy=read_in_place=off)
  --qd LIST            queue depth, or a list of them: "1 4 16 32" (default 16)
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
  --out DIR            where iscsi-backends.{json,md,png} go (default: current directory)
  -h, --help
USAGE
}

load=$(command -v tgtpmem-load || true)
module_dir=""
pmem_bsopts=""
pmem_variant=""
qds=16
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
out=$PWD
while (( $# )); do
  case $1 in
    --load) load=$2; shift 2 ;;
    --module-dir) module_dir=$2; shift 2 ;;
    --pmem-bsopts) pmem_bsopts=$2; shift 2 ;;
    --pmem-variant) pmem_variant=$2; shift 2 ;;
    --qd) qds=$2; shift 2 ;;
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
    --out) out=$2; shift 2 ;;
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
read -ra qd_list <<<"$qds"
(( ${#qd_list[@]} )) || die "--qd needs at least one queue depth"
for qd in "${qd_list[@]}"; do
  [[ $qd =~ ^[1-9][0-9]*$ ]] || die "--qd: '$qd' is not a positive integer"
done
mkdir -p "$out" || die "cannot create --out $out"
out=$(readlink -f "$out")
[[ -n $load && -x $load ]] || die "tgtpmem-load not found; pass --load PATH"
load=$(readlink -f "$load")
if [[ -n $module_dir ]]; then
  [[ -f $module_dir/bs_pmem.so ]] || die "--module-dir $module_dir has no bs_pmem.so"
fi
variant_name=${pmem_variant%%=*} variant_bsopts=${pmem_variant#*=}
if [[ -n $pmem_variant ]]; then
  [[ -n $module_dir ]] || die "--pmem-variant needs --module-dir"
  [[ $pmem_variant == *=* && $variant_name =~ ^[a-z0-9_]+$ ]] ||
    die "--pmem-variant: expected NAME=BSOPTS with NAME of a-z, 0-9, _"
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
  if [[ -n $pmem_variant ]]; then
    truncate -s "$size" "$work/pmem-$variant_name.img"
    if ! tgt_new_lun 1 4 pmem "$work/pmem-$variant_name.img" "$pmem_bsopts;$variant_bsopts"; then
      cat "$work/tgtd.log" >&2
      die "tgtd refused the pmem-$variant_name LUN (see its log above)"
    fi
    backends+=("pmem-$variant_name")
    lun[pmem-$variant_name]=4
  fi
fi
tgt_allow_all 1

url() { echo "iscsi://127.0.0.1:$iscsi_port/$iqn/${lun[$1]}"; }

# run BACKEND READ_PERCENT SECONDS OUT QD: one tgtpmem-load run, JSON to OUT; dies on failure.
run() {
  local backend=$1 read_percent=$2 secs=$3 out=$4 qd=$5
  if ! "$load" --json --queue-depth "$qd" --block-size "$block_size" --access random \
      --read-percent "$read_percent" --duration "$secs" --size "$size" "${fua[@]}" \
      "$(url "$backend")" >"$out" 2>"$out.err"; then
    cat "$out" "$out.err" >&2
    die "tgtpmem-load failed on the $backend LUN"
  fi
}

fs_type=$(stat -f -c %T "$work")
echo "iSCSI backing stores: tgtd $(tgtd -V 2>/dev/null | head -n 1 || echo '?') on 127.0.0.1," \
     "initiator tgtpmem-load (libiscsi), all rows from one run"
echo "host:     $(figures_host)"
(( fill )) && fill_label="every block written once, then a" || fill_label="no fill, only a"
echo "workload: $block_size random, QD $qds, ${seconds} s per row; per LUN $fill_label ${warmup} s" \
     "random-write warm-up; region $size; FUA $fua_label; $rounds round(s), medians shown"
echo "files:    $work ($fs_type)"
if (( have_pmem )); then
  echo "pmem:     emulated: a $size file made with truncate on $fs_type, bsopts '${pmem_bsopts}'"
  [[ -z $pmem_variant ]] ||
    echo "pmem-$variant_name: the same, bsopts '$pmem_bsopts;$variant_bsopts'"
  echo "module:   $module_id"
else
  echo "pmem:     not measured: no bs_pmem module given (--module-dir DIR with bs_pmem.so)"
fi
load_start=$(cut -d' ' -f1 /proc/loadavg)
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
  run "$b" 0 "$warmup" "$work/warmup-$b.json" "${qd_list[-1]}"
done

workloads=(randwrite randread)
for (( r = 1; r <= rounds; r++ )); do
  for qd in "${qd_list[@]}"; do
    for workload in "${workloads[@]}"; do
      [[ $workload == randwrite ]] && rp=0 || rp=100
      for b in "${backends[@]}"; do
        run "$b" "$rp" "$seconds" "$work/$workload-$b-qd$qd-$r.json" "$qd"
      done
    done
  done
done

# rounds_of WORKLOAD BACKEND QD: that cell's tgtpmem-load reports, one per round, as one
# array: [{op, iops, mib_s, latency_us}...] of the workload's direction.
rounds_of() {
  local op
  [[ $1 == randwrite ]] && op=write || op=read
  jq -s --arg op "$op" 'map(.[$op])' "$work/$1-$2-qd$3-"[0-9]*.json
}
# One row per workload, store and queue depth: medians over the rounds, the IOPS range, and
# the ratio of the median IOPS to null's at the same workload and queue depth.
rows="$work/rows.jsonl"
: >"$rows"
median='sort | if length % 2 == 1 then .[length / 2 | floor]
                else (.[length / 2 - 1] + .[length / 2]) / 2 end'
for workload in "${workloads[@]}"; do
  for qd in "${qd_list[@]}"; do
    for b in "${backends[@]}"; do
      figures_row "$rows" --arg w "$workload" --arg b "$b" --argjson q "$qd" \
        --argjson r "$(rounds_of "$workload" "$b" "$qd")" --arg bs "$block_size" \
        "def median: $median;
         {workload: \$w, store: \$b, block_size: \$bs, queue_depth: \$q, rounds: (\$r | length),
          iops: (\$r | map(.iops) | median), iops_low: (\$r | map(.iops) | min),
          iops_high: (\$r | map(.iops) | max), mib_s: (\$r | map(.mib_s) | median),
          p50_us: (\$r | map(.latency_us.p50) | median),
          p99_us: (\$r | map(.latency_us.p99) | median),
          p99_9_us: (\$r | map(.latency_us.p99_9) | median)}"
    done
  done
done
# Each row's ratio to null's row of the same workload and queue depth.
jq -cs 'map(select(.store == "null")) as $null | .[] | . as $r
  | ($null | map(select(.workload == $r.workload and .queue_depth == $r.queue_depth))[0].iops)
  as $n | $r + {vs_null: (if $n > 0 then $r.iops / $n else null end)}' "$rows" >"$rows.ratio"

name=iscsi-backends
stores=$(printf ' vs %s' "${backends[@]}")
title="tgtd over iSCSI/TCP on 127.0.0.1: $block_size random I/O, ${stores# vs } (libiscsi initiator, ${seconds} s per point, $rounds round(s), medians)"
# The load beside the machine: tgtd and the initiator share its CPUs with whatever else runs.
figures_document "$rows.ratio" "$out/$name.json" "$name" "$title" "${command_line% }" \
  "$(figures_host), load average $load_start at start"
figures_header "$out/$name.json" "$out/$name.md"
columns=("workload=.workload" "store=.store" "QD:=.queue_depth" "IOPS:=.iops | fix(0)"
         "MiB/s:=.mib_s | fix(1)" "p50 us:=.p50_us | fix(1)" "p99 us:=.p99_us | fix(1)"
         "vs null:=.vs_null | fix(2)")
(( rounds > 1 )) && columns+=("IOPS range:=\"\(.iops_low | fix(0))-\(.iops_high | fix(0))\"")
figures_table "$out/$name.json" "$out/$name.md" true "${columns[@]}" || die "no table"

# The plot: four panels against the queue depth; a colour per store, writes solid, reads
# dashed.
plot_iops="" plot_ratio="" plot_wlat="" plot_rlat="" ci=0
for b in "${backends[@]}"; do
  ci=$(( ci + 1 ))
  for workload in "${workloads[@]}"; do
    dat="$work/$b-$workload.dat"
    figures_dat "$out/$name.json" "select(.store == \"$b\" and .workload == \"$workload\") |
      \"\(.queue_depth) \(.iops) \(.vs_null // 0) \(.p50_us) \(.p99_us)\"" >"$dat"
    [[ $workload == randwrite ]] && dt=1 || dt=2
    plot_iops+="'$dat' u 1:2 w lp lw 2 lc $ci dt $dt pt 7 t '$b $workload', "
    [[ $b != null ]] &&
      plot_ratio+="'$dat' u 1:3 w lp lw 2 lc $ci dt $dt pt 7 t '$b $workload', "
    if [[ $workload == randwrite ]]; then
      plot_wlat+="'$dat' u 1:4 w lp lw 2 lc $ci dt 1 pt 7 t '$b p50', '$dat' u 1:5 w lp lw 1 lc $ci dt 3 pt 6 t '$b p99', "
    else
      plot_rlat+="'$dat' u 1:4 w lp lw 2 lc $ci dt 1 pt 7 t '$b p50', '$dat' u 1:5 w lp lw 1 lc $ci dt 3 pt 6 t '$b p99', "
    fi
  done
done
xtics=$(IFS=,; echo "${qd_list[*]}")
plot_rc=0
figures_plot "$out/$name.json" "$out/$name.png" 1200 1000 <<GNUPLOT || plot_rc=$?
set multiplot layout 2,2 title heading
set logscale x 2
set xrange [${qd_list[0]} * 0.7:${qd_list[-1]} * 1.4]
set xtics ($xtics)
set xlabel "queue depth (commands in flight, one session)"
set key below horizontal
set ylabel "IOPS ($block_size)"
set yrange [0:*]
set title "throughput"
plot ${plot_iops%, }
set ylabel "IOPS / null's IOPS"
set yrange [0:1.2<*]
set title "ratio to tgt's null store (1 = the iSCSI path's ceiling)"
plot ${plot_ratio%, }, 1 w l lc rgb "gray" dt 2 notitle
set ylabel "latency (us, log scale)"
set logscale y
set yrange [*:*]
set title "random write latency, p50 and p99"
plot ${plot_wlat%, }
set title "random read latency, p50 and p99"
plot ${plot_rlat%, }
unset multiplot
GNUPLOT
(( plot_rc == 0 || plot_rc == 77 )) || die "the plot failed"
(( plot_rc == 0 )) && echo "![$name]($name.png)" >>"$out/$name.md"

cat "$out/$name.md"
echo "figures:  $out/$name.json, $out/$name.md$( (( plot_rc == 0 )) && echo ", $out/$name.png")"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the end"
