#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Benchmark (a program that prints figures, not a test): how bs_pmem's cost grows with the
# work, measured on the real tgtd (issue 17, item 2). Four tables, in markdown:
#
#   1. LUN size: for raw and atomic (512-byte blocks), sparse files of 1 GiB .. 1 TiB: time of
#      the first open (tgtadm logicalunit new: for atomic, the format) and of a reopen, and
#      tgtd's VmRSS / VmHWM (/proc/PID/status) before and after. A fresh tgtd per row, so
#      VmHWM is the row's own peak. Opens run on tgtd's event loop: their time is the time
#      every other LUN and session waits.
#   2. Number of LUNs: 1, 16, 64 LUNs of --luns-size each, one target: total open time and
#      tgtd's memory after.
#   3. First touch: one LUN; tgtd's minor page faults (/proc/PID/stat) while every block is
#      written once (a fresh mapping: each page faults once), then while it is written again.
#   4. Sessions x queue depth: 1, 4, 16 iSCSI sessions (one tgtpmem-load each, its own
#      initiator name) x queue depth 1, 8, 32, 4 KiB random writes to one LUN: total IOPS.
#
# Also writes the figures into --out (tests/lib/figures.sh): scaling.json (date, machine,
# command, every row of the four tables), scaling.md (table 1) and, if gnuplot is installed,
# scaling.png (open time and tgtd's peak memory against LUN size).
#
# Needs root (tgtd runs in a private mount namespace, tests/lib/tgtd.sh), jq, and a file
# system with sparse files for --dir (ext4, xfs, tmpfs: SEEK_DATA/SEEK_HOLE).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/tgtd.sh
source "$here/../lib/tgtd.sh"
# shellcheck source=../lib/figures.sh
source "$here/../lib/figures.sh"
command_line=$(printf '%q ' "$0" "$@")

usage() {
  cat <<USAGE
Usage: scaling.sh --module-dir DIR [OPTIONS]

  --module-dir DIR     directory with the bs_pmem.so to measure
  --load PATH          tgtpmem-load (default: in PATH); without it table 4 is skipped
  --out DIR            where the JSON and the plot go (default: current directory)
  --dir DIR            where the sparse LUN files go (default /var/tmp)
  --sizes LIST         LUN sizes for table 1 (default "1g 16g 256g 1t")
  --luns LIST          LUN counts for table 2 (default "1 16 64")
  --luns-size SIZE     size of each LUN in table 2 (default 16g)
  --touch-size SIZE    LUN size of table 3 (default 1g)
  --sessions LIST      (default "1 4 16")
  --qds LIST           queue depths (default "1 8 32")
  --seconds S          seconds per cell of table 4 (default 3)
  --only LIST          tables to run, e.g. "1 2" (default "1 2 3 4")
  --before JSON        a scaling.json of another module (an older build): table 1 of it is
                       plotted beside this run's, dashed
  --control-port N     (default 9212)
  --iscsi-port N       (default 3402)
  -h, --help
USAGE
}

module_dir=""
load=$(command -v tgtpmem-load || true)
out=$PWD
dir=/var/tmp
sizes="1g 16g 256g 1t"
lun_counts="1 16 64"
luns_size=16g
touch_size=1g
sessions_list="1 4 16"
qds="1 8 32"
seconds=3
only="1 2 3 4"
before=""
control_port=9212
iscsi_port=3402
while (( $# )); do
  case $1 in
    --module-dir) module_dir=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --luns) lun_counts=$2; shift 2 ;;
    --luns-size) luns_size=$2; shift 2 ;;
    --touch-size) touch_size=$2; shift 2 ;;
    --sessions) sessions_list=$2; shift 2 ;;
    --qds) qds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --before) before=$(readlink -f "$2"); shift 2 ;;
    --control-port) control_port=$2; shift 2 ;;
    --iscsi-port) iscsi_port=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scaling: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "scaling: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (tgtd runs in a private mount namespace)"
for tool in tgtd tgtadm unshare jq truncate; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -f $module_dir/bs_pmem.so ]] || die "--module-dir '$module_dir' has no bs_pmem.so"
wants() { [[ " $only " == *" $1 "* ]]; }
mkdir -p "$out"
out=$(readlink -f "$out")

work=$(mktemp -d "$dir/tgtpmem-scaling.XXXXXX")
cleanup() { tgtd_stop || true; rm -rf "$work"; }
trap cleanup EXIT
# A private module directory holding a copy: a rebuild during the run changes nothing.
mkdir "$work/modules"
cp "$module_dir/bs_pmem.so" "$work/modules/bs_pmem.so"
iqn=iqn.2024-01.org.tgt-pmem:scaling
bsopts_for() { echo "durability=emulated;layout=$1"; }

now_ns() { date +%s%N; }
ms_since() { echo "scale=1; ($(now_ns) - $1) / 1000000" | bc; }
# status_kb FIELD: tgtd's /proc/PID/status field (VmRSS, VmHWM) in KiB
status_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$TGTD_PID/status"; }
mib() { echo "scale=1; $1 / 1024" | bc; }
# minflt: tgtd's minor faults so far (field 10 of /proc/PID/stat; the name may hold spaces)
minflt() { sed 's/.*) //' "/proc/$TGTD_PID/stat" | awk '{ print $8 }'; }

start_tgtd() {
  tgtd_start "$work/modules" "$control_port" "$iscsi_port" "$work/tgtd.log" ||
    { tail -n 20 "$work/tgtd.log" >&2; die "tgtd did not start"; }
  tgt_new_target 1 "$iqn"
  tgt_allow_all 1
}
# new_lun LUN PATH LAYOUT: dies with tgtd's log if the LUN is refused
new_lun() {
  if ! tgt_new_lun 1 "$1" pmem "$2" "$(bsopts_for "$3")" >"$work/tgtadm.err" 2>&1; then
    cat "$work/tgtadm.err" >&2; tail -n 5 "$work/tgtd.log" >&2
    die "tgtd refused LUN $1 ($2, layout=$3)"
  fi
}
del_lun() { tgtadm_c --lld iscsi --mode logicalunit --op delete --tid 1 --lun "$1"; }
sparse() { rm -f "$1"; truncate -s "$2" "$1"; }

json_rows="$work/rows.jsonl"
: >"$json_rows"
row() { figures_row "$json_rows" "$@"; }

fs_type=$(stat -f -c %T "$work")
echo "# bs_pmem scaling on tgtd $(tgtd -V 2>/dev/null | head -n 1 || echo '?')"
echo
echo "host: $(figures_host), $(free -g | awk '/^Mem/ { print $2 }') GiB RAM;" \
     "files: sparse, on $work ($fs_type); module: $(readlink -f "$module_dir/bs_pmem.so")" \
     "(sha256 $(sha256sum "$work/modules/bs_pmem.so" | cut -c1-12)); bsopts durability=emulated"
echo

# --- 1. LUN size -----------------------------------------------------------------------------
if wants 1; then
  echo "## 1. Open time and tgtd memory per LUN size (512-byte blocks; a fresh tgtd per row)"
  echo
  echo "| layout | size | first open ms | reopen ms | VmRSS before MiB | VmRSS after MiB | VmHWM MiB |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for layout in raw atomic; do
    for size in $sizes; do
      f="$work/size-$layout-$size.img"
      sparse "$f" "$size"
      start_tgtd
      rss0=$(status_kb VmRSS)
      t=$(now_ns); new_lun 1 "$f" "$layout"; first=$(ms_since "$t")
      del_lun 1
      t=$(now_ns); new_lun 1 "$f" "$layout"; reopen=$(ms_since "$t")
      rss1=$(status_kb VmRSS); hwm=$(status_kb VmHWM)
      tgtd_stop
      rm -f "$f"
      echo "| $layout | $size | $first | $reopen | $(mib "$rss0") | $(mib "$rss1") | $(mib "$hwm") |"
      row --arg t size --arg l "$layout" --arg s "$size" --argjson b "$(numfmt --from=iec "${size^^}")" \
        --argjson f "$first" --argjson r "$reopen" --argjson r0 "$rss0" --argjson r1 "$rss1" \
        --argjson h "$hwm" '{table:$t, layout:$l, size:$s, bytes:$b, first_open_ms:$f,
          reopen_ms:$r, vmrss_before_kib:$r0, vmrss_after_kib:$r1, vmhwm_kib:$h}'
    done
  done
  echo
fi

# --- 2. Number of LUNs ---------------------------------------------------------------------
if wants 2; then
  echo "## 2. Number of LUNs ($luns_size each, sparse, first open; one tgtd per row)"
  echo
  echo "| layout | LUNs | total open ms | per LUN ms | VmRSS after MiB | VmHWM MiB | RSS per LUN KiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for layout in raw atomic; do
    for n in $lun_counts; do
      for (( i = 1; i <= n; i++ )); do sparse "$work/many-$i.img" "$luns_size"; done
      start_tgtd
      rss0=$(status_kb VmRSS)
      t=$(now_ns)
      for (( i = 1; i <= n; i++ )); do new_lun "$i" "$work/many-$i.img" "$layout"; done
      total=$(ms_since "$t")
      rss1=$(status_kb VmRSS); hwm=$(status_kb VmHWM)
      tgtd_stop
      rm -f "$work"/many-*.img
      per=$(echo "scale=1; $total / $n" | bc)
      per_rss=$(( (rss1 - rss0) / n ))
      echo "| $layout | $n | $total | $per | $(mib "$rss1") | $(mib "$hwm") | $per_rss |"
      row --arg t luns --arg l "$layout" --argjson n "$n" --arg s "$luns_size" \
        --argjson tot "$total" --argjson r1 "$rss1" --argjson h "$hwm" --argjson p "$per_rss" \
        '{table:$t, layout:$l, luns:$n, size:$s, total_open_ms:$tot, vmrss_after_kib:$r1,
          vmhwm_kib:$h, rss_per_lun_kib:$p}'
    done
  done
  echo
fi

# --- 3 and 4 need an initiator -----------------------------------------------------------
if { wants 3 || wants 4; } && [[ -z $load || ! -x $load ]]; then
  echo "(tables 3 and 4 not measured: no tgtpmem-load; pass --load PATH)"
  only=${only//3/}; only=${only//4/}
fi
url() { echo "iscsi://127.0.0.1:$iscsi_port/$iqn/1"; }

if wants 3; then
  echo "## 3. First-touch cost ($touch_size LUN, every block written once with 1 MiB writes, then again)"
  echo
  echo "| layout | pass | tgtd minor faults | faults per MiB | mapping's first touch per MiB | seconds |"
  echo "|---|---|---:|---:|---:|---:|"
  bytes=$(numfmt --from=iec "${touch_size^^}")
  count=$(( bytes / 1048576 ))
  for layout in raw atomic; do
    f="$work/touch-$layout.img"
    sparse "$f" "$touch_size"
    start_tgtd
    new_lun 1 "$f" "$layout"
    # atomic: the map takes 8 bytes per 512-byte block, so the LUN offers ~1.5% less.
    n=$count
    [[ $layout == atomic ]] && n=$(( count * 512 / 520 - 2 ))
    fresh_faults=0
    for pass in fresh again; do
      m0=$(minflt); t=$(now_ns)
      "$load" --queue-depth 4 --block-size 1m --access sequential --read-percent 0 \
        --ios "$n" --size "${n}m" "$(url)" >"$work/touch.out" 2>&1 ||
        { cat "$work/touch.out" >&2; die "tgtpmem-load failed writing the $layout LUN"; }
      secs=$(echo "scale=2; ($(now_ns) - $t) / 1000000000" | bc)
      faults=$(( $(minflt) - m0 ))
      # The second pass pays what every write pays (tgtd's own command buffers); the
      # difference is the first touch of the mapping.
      if [[ $pass == fresh ]]; then fresh_faults=$faults; first="";
      else first=$(echo "scale=1; ($fresh_faults - $faults) / $n" | bc); fi
      echo "| $layout | $pass | $faults | $(( faults / n )) | $first | $secs |"
      row --arg t touch --arg l "$layout" --arg p "$pass" --arg s "$touch_size" \
        --argjson fl "$faults" --argjson sec "$secs" \
        '{table:$t, layout:$l, pass:$p, size:$s, minor_faults:$fl, seconds:$sec}'
    done
    tgtd_stop
    rm -f "$f"
  done
  echo
  echo "(Every pass faults ~256 times per MiB in tgtd itself: its per-command data buffers,"
  echo "not the LUN's mapping. The first touch of the mapping is the difference between the"
  echo "passes: 256 per MiB where the file system maps 4 KiB pages (tmpfs), a few where it maps"
  echo "large folios (ext4, xfs on recent kernels), one per 2 MiB on devdax. A prefault of the"
  echo "whole mapping at open would pay that for the whole LUN on tgtd's loop, and fill its"
  echo "memory with the pages of a sparse file, which item 2 forbids: bs_pmem does not prefault.)"
  echo
fi

if wants 4; then
  echo "## 4. Sessions x queue depth (4 KiB random writes, ${seconds} s per cell, one 1 GiB atomic LUN, total IOPS)"
  echo
  header="| sessions |"; sep="|---:|"
  for qd in $qds; do header+=" QD $qd |"; sep+="---:|"; done
  echo "$header"; echo "$sep"
  f="$work/sessions.img"
  sparse "$f" 1g
  start_tgtd
  new_lun 1 "$f" atomic
  "$load" --queue-depth 4 --block-size 1m --access sequential --read-percent 0 --ios 1000 \
    "$(url)" >/dev/null 2>&1 || die "filling the LUN failed"
  for s in $sessions_list; do
    line="| $s |"
    for qd in $qds; do
      pids=()
      for (( i = 1; i <= s; i++ )); do
        "$load" --json --initiator-name "iqn.2024-01.org.tgt-pmem:scaling-init$i" \
          --queue-depth "$qd" --block-size 4k --access random --read-percent 0 \
          --duration "$seconds" --size 900m "$(url)" >"$work/s$i.json" 2>"$work/s$i.err" &
        pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p" || { cat "$work"/s*.err >&2; die "tgtpmem-load failed"; }; done
      iops=$(jq -s '[.[].write.iops] | add | floor' "$work"/s[0-9]*.json)
      rm -f "$work"/s[0-9]*.json
      line+=" $iops |"
      row --arg t sessions --argjson s "$s" --argjson q "$qd" --argjson i "$iops" \
        '{table:$t, sessions:$s, queue_depth:$q, write_iops:$i}'
    done
    echo "$line"
  done
  tgtd_stop
  echo
fi

figures_document "$json_rows" "$out/scaling.json" scaling \
  "bs_pmem on tgtd: cost of opening a LUN against its size (sparse file, 512-byte blocks)" \
  "${command_line% }"
figures_header "$out/scaling.json" "$out/scaling.md"
echo "JSON: $out/scaling.json"
if wants 1; then
  figures_table "$out/scaling.json" "$out/scaling.md" '.table == "size"' "layout=.layout" \
    "size=.size" "first open ms:=.first_open_ms" "reopen ms:=.reopen_ms" \
    "VmHWM MiB:=.vmhwm_kib / 1024 | fix(1)" || die "no table"
  plots_t="" plots_m=""
  for l in raw atomic; do
    # "GiB first_open_ms reopen_ms vmhwm_mib" per size row
    dat='select(.table == "size" and .layout == "'$l'") |
      "\(.bytes / 1073741824) \(.first_open_ms) \(.reopen_ms) \(.vmhwm_kib / 1024)"'
    figures_dat "$out/scaling.json" "$dat" >"$work/$l.dat"
    plots_t+="'$work/$l.dat' u 1:2 w lp lw 2 t '$l first open', '$work/$l.dat' u 1:3 w lp t '$l reopen', "
    plots_m+="'$work/$l.dat' u 1:4 w lp lw 2 t '$l', "
    if [[ -n $before ]]; then
      figures_dat "$before" "$dat" >"$work/$l-before.dat"
      plots_t+="'$work/$l-before.dat' u 1:2 w lp dt 2 t '$l first open, before', "
      plots_m+="'$work/$l-before.dat' u 1:4 w lp dt 2 t '$l, before', "
    fi
  done
  plot_rc=0
  figures_plot "$out/scaling.json" "$out/scaling.png" 1100 480 <<GNUPLOT || plot_rc=$?
set multiplot layout 1,2 title heading
set logscale xy
set xrange [0.7:1500]
set xlabel "LUN size (GiB)"
set key top left
set ylabel "open time, tgtadm round trip (ms)"
plot ${plots_t%, }
set ylabel "tgtd VmHWM (MiB)"
plot ${plots_m%, }
unset multiplot
GNUPLOT
  (( plot_rc == 0 || plot_rc == 77 )) || die "the plot failed"
  if (( plot_rc == 0 )); then
    echo "![scaling](scaling.png)" >>"$out/scaling.md"
    echo "plot: $out/scaling.png"
  fi
  echo "table: $out/scaling.md"
fi
