#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Figures of an e2e scenario, rendered on the host (the guest has neither jq nor gnuplot):
# JSON, a markdown table and a PNG plot (tests/lib/figures.sh) made from what the scenario
# left in its log directory. run.sh calls it for every scenario it ran; by hand:
#
#   figures.sh [--command CMD] SCENARIO LOG_DIR OUT_DIR
#
# Two kinds of results are understood; a scenario with neither has no figures (exit 0):
#   fio      fio-TARGET-randread.json and fio-TARGET-randwrite.json pairs (perf-sample,
#            srp-perf, srp-lio-reference: guest/lib.sh's srp_measure and perf-sample's
#            measure): IOPS and completion-latency percentiles per target, and the ratio to
#            the target named *-null where there is one (tgt's null store: the ceiling of the
#            transport), in the order the targets were measured.
#   push     push-bench.jsonl (push-mode: one line per setting, {"setting", "bench": the
#            tgtpmem-push --bench --json report}) and fio-iser-qd1.json (the iSER write it is
#            compared with): durable 4 KiB write latency, mean, p50 and p99 per method, and
#            the ratio of the mean to iSER's.
# Writes OUT_DIR/SCENARIO.json, .md and .png. Exit 0 done (or nothing to do), 1 an error,
# 2 usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/figures.sh
source "$here/../lib/figures.sh"

command_line=""
if [[ ${1:-} == --command ]]; then command_line=$2; shift 2; fi
(( $# == 3 )) || { sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
scenario=$1 logs=$2 out=$3
[[ -n $command_line ]] || command_line="tests/e2e/run.sh $scenario"
die() { echo "e2e figures ($scenario): $*" >&2; exit 1; }
command -v jq >/dev/null || die "jq is not installed"

# Where these numbers come from: an emulated machine, whose absolute figures mean little.
host="a QEMU TCG guest (2 vCPUs, Soft-RoCE rxe) on host $(figures_host)"
work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-figures.XXXXXX")
trap 'rm -rf "$work"' EXIT
rows="$work/rows.jsonl"
: >"$rows"
mkdir -p "$out" || die "cannot create $out"
json="$out/$scenario.json" md="$out/$scenario.md" png="$out/$scenario.png"

# fio_row FILE TARGET: one row of fio's JSON report (its one job, the direction it measured).
# Latencies are fio's completion latency (clat: its percentiles are the ones fio reports;
# push-mode's table compares the same mean).
fio_row() {
  figures_row "$rows" --arg t "$2" --argjson f "$(cat "$1")" '
    $f.jobs[0] as $j | ($j["job options"].rw) as $rw
    | ($j[if $rw | test("read") then "read" else "write" end]) as $d
    | def us(p): $d.clat_ns.percentile[p] / 1000;
      {target: $t, workload: $rw, block_size: $j["job options"].bs,
       queue_depth: ($j["job options"].iodepth | tonumber), timestamp: $f.timestamp,
       iops: $d.iops, mean_us: ($d.clat_ns.mean / 1000), p50_us: us("50.000000"),
       p99_us: us("99.000000"), p99_9_us: us("99.900000")}'
}

# measured ROWS: when the first fio job of the rows started (its report's timestamp; the
# guest's clock is the host's)
measured() { date -u -d "@$(jq -s 'map(.timestamp // empty) | min' "$1")" +%FT%TZ; }

plot_rc=0
shopt -s nullglob
if [[ -f $logs/push-bench.jsonl ]]; then
  # ---- push-mode: durable write latency per method, next to iSER's ----------------------
  [[ -f $logs/fio-iser-qd1.json ]] || die "push-bench.jsonl without fio-iser-qd1.json"
  fio_row "$logs/fio-iser-qd1.json" "iSER O_DIRECT write, write-through LUN"
  jq -c '.setting as $s | .bench.results[] |
    {target: "push \(.method), \($s)", workload: "write", iops: .iops, mean_us: .mean_us,
     p50_us: .p50_us, p99_us: .p99_us}' "$logs/push-bench.jsonl" >>"$rows" ||
    die "push-bench.jsonl is not what tgtpmem-push --bench --json writes"
  jq -cs '.[0].mean_us as $i | .[] | . + {vs_iser: (.mean_us / $i)}' "$rows" >"$rows.ratio"
  figures_document "$rows.ratio" "$json" "$scenario" \
    "push mode vs iSER: durable 4 KiB write latency at QD 1 (tgtd, bs_pmem on devdax; iSER: fio clat)" \
    "$command_line" "$host" "$(measured "$rows")"
  figures_header "$json" "$md"
  figures_table "$json" "$md" true "method=.target" "mean us:=.mean_us | fix(1)" \
    "p50 us:=.p50_us | fix(1)" "p99 us:=.p99_us | fix(1)" "mean / iSER:=.vs_iser | fix(2)" ||
    die "no table"
  figures_dat "$json" '"\"\(.target | sub(", "; "\\n"))\" \(.p50_us) \(.mean_us) \(.p99_us)"' \
    >"$work/lat.dat"
  figures_plot "$json" "$png" 1200 560 <<GNUPLOT || plot_rc=$?
set title heading
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel "latency per durable 4 KiB write (us, log scale)"
set logscale y
set yrange [10:*]
set xtics rotate by -20 left font ",8"
set key below horizontal width 3
plot '$work/lat.dat' u 2:xtic(1) t 'p50', '' u 3 t 'mean', '' u 4 t 'p99'
GNUPLOT
else
  # ---- fio pairs: IOPS and latency per target -------------------------------------------
  targets=()
  for f in "$logs"/fio-*-randread.json; do
    t=${f##*/fio-}; t=${t%-randread.json}
    [[ -f $logs/fio-$t-randwrite.json ]] && targets+=("$t")
  done
  (( ${#targets[@]} )) || exit 0
  for t in "${targets[@]}"; do
    fio_row "$logs/fio-$t-randread.json" "$t"
    fio_row "$logs/fio-$t-randwrite.json" "$t"
  done
  # The measurement order (fio's start time), and the ratio to the *-null target's row of the
  # same workload.
  jq -cs 'sort_by(.timestamp) | (group_by(.target) | map(min_by(.timestamp)) | sort_by(.timestamp)
           | map(.target)) as $order
    | map(select(.target | endswith("-null"))) as $null | sort_by(.target as $t | $order
           | index($t)) | .[] | . as $r
    | ($null | map(select(.workload == $r.workload))[0].iops) as $n
    | $r + {vs_null: (if $n then $r.iops / $n else null end)}' "$rows" >"$rows.ratio"
  first=$(head -n 1 "$rows.ratio")
  bs=$(jq -r .block_size <<<"$first") qd=$(jq -r .queue_depth <<<"$first")
  figures_document "$rows.ratio" "$json" "$scenario" \
    "$scenario: fio $bs random read and write, libaio O_DIRECT, QD $qd, per target" \
    "$command_line" "$host" "$(measured "$rows")"
  figures_header "$json" "$md"
  figures_table "$json" "$md" true "target=.target" "workload=.workload" "IOPS:=.iops | fix(0)" \
    "p50 us:=.p50_us | fix(0)" "p99 us:=.p99_us | fix(0)" "p99.9 us:=.p99_9_us | fix(0)" \
    "vs null:=.vs_null | fix(2)" || die "no table"
  # One line per target: name, read and write IOPS, their ratios, p50 and p99 of both.
  jq -r '.rows | group_by(.target) | sort_by(.[0].timestamp)[] | (map({(.workload): .}) | add)
    | "\(.randread.target) \(.randread.iops) \(.randwrite.iops) \(.randread.vs_null // 0)
       \(.randwrite.vs_null // 0) \(.randread.p50_us) \(.randread.p99_us) \(.randwrite.p50_us)
       \(.randwrite.p99_us)" | gsub("\n *"; " ")' "$json" >"$work/t.dat"
  panels=2
  has_null=$(jq '[.rows[] | select(.vs_null != null)] | length > 0' "$json")
  [[ $has_null == true ]] && panels=3
  figures_plot "$json" "$png" $(( panels * 450 )) 520 <<GNUPLOT || plot_rc=$?
set multiplot layout 1,$panels title heading
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set xtics rotate by -20 left
set key below horizontal
set yrange [0:*]
set title "throughput"
set ylabel "IOPS ($bs)"
plot '$work/t.dat' u 2:xtic(1) t 'randread', '' u 3 t 'randwrite'
set title "completion latency, p50 and p99"
set ylabel "latency (us)"
plot '$work/t.dat' u 6:xtic(1) t 'read p50', '' u 7 t 'read p99', '' u 8 t 'write p50', '' u 9 t 'write p99'
if ($panels == 3) {
  set title "ratio to the null store (tgt's: the transport's ceiling)"
  set ylabel "IOPS / null's IOPS"
  set yrange [0:1.2<*]
  plot '$work/t.dat' u 4:xtic(1) t 'randread', '' u 5 t 'randwrite', 1 w l lc rgb "gray" dt 2 notitle
}
unset multiplot
GNUPLOT
fi
(( plot_rc == 0 || plot_rc == 77 )) || die "the plot failed"
(( plot_rc == 0 )) && echo "![$scenario]($scenario.png)" >>"$md"
echo "e2e figures ($scenario): $json, $md$( (( plot_rc == 0 )) && echo ", $png")" >&2
