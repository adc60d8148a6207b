#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The figures mechanism of the benchmarks (tests/lib/figures.sh) and the host-side rendering
# of the e2e perf scenarios (tests/e2e/figures.sh), on small fixed inputs: the JSON document
# says where it came from, the markdown tables hold exactly the expected rows (ratios, rounding,
# a missing value), the PNG is a non-empty PNG, and a gnuplot error is an error. No timing.
#
#   figures_test.sh SOURCE_DIR
# Exit 0 pass, 1 fail, 77 skip (no jq or no gnuplot).
set -u
src=${1:?usage: figures_test.sh SOURCE_DIR}
for tool in jq gnuplot; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
# shellcheck source=../lib/workdir.sh
source "$src/tests/lib/workdir.sh"
# shellcheck source=../lib/figures.sh
source "$src/tests/lib/figures.sh"
work=""
work_dir work figures-test
trap 'rm -rf "$work"' EXIT

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok:   $*"; }
# is_png FILE: non-empty and starts with the PNG signature
is_png() { [[ -s $1 ]] && [[ $(head -c 8 "$1" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; }
# has_line FILE LINE: FILE holds exactly that line
has_line() { grep -qxF -- "$2" "$1"; }

# ---- tests/lib/figures.sh -------------------------------------------------------------------
rows=$work/rows.jsonl
: >"$rows"
figures_row "$rows" --argjson q 1 '{store: "null", queue_depth: $q, iops: 1000, p99_us: null}'
figures_row "$rows" --argjson q 1 '{store: "pmem", queue_depth: $q, iops: 666.666, p99_us: 12.3456}'
figures_row "$rows" --argjson q 4 '{store: "pmem", queue_depth: $q, iops: 2000, p99_us: 20}'
(figures_row "$rows" '{broken') 2>/dev/null && fail "figures_row accepted a broken filter"
[[ $(wc -l <"$rows") -eq 3 ]] || fail "figures_row: $(wc -l <"$rows") rows, want 3"

json=$work/t.json md=$work/t.md png=$work/t.png
figures_document "$rows" "$json" test "a \"quoted\" title" "bench.sh --qd '1 4'"
if jq -e '.benchmark == "test" and .title == "a \"quoted\" title"
          and .command == "bench.sh --qd '"'1 4'"'" and (.host | test("cores, kernel "))
          and (.date | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")) and (.rows | length == 3)' \
     "$json" >/dev/null; then
  ok "figures_document: benchmark, title, command, host, date and 3 rows"
else
  fail "figures_document wrote $(cat "$json")"
fi

figures_header "$json" "$md"
figures_table "$json" "$md" '.store == "pmem"' "store=.store" "QD:=.queue_depth" \
  "IOPS:=.iops | fix(0)" "p99 us:=.p99_us | fix(1)"
figures_table "$json" "$md" '.store == "null"' "store=.store" "p99 us:=.p99_us | fix(1)"
want_lines=("## a \"quoted\" title"
      "Command: \`bench.sh --qd '1 4'\`"
      "| store | QD | IOPS | p99 us |" "|---|---:|---:|---:|"
      "| pmem | 1 | 667 | 12.3 |" "| pmem | 4 | 2000 | 20 |"
      "| store | p99 us |" "| null | - |")
missing=0
for line in "${want_lines[@]}"; do has_line "$md" "$line" || { fail "table: no line '$line'"; missing=1; }; done
(( missing )) || ok "figures_header and figures_table: title, command, rows, rounding, '-' for null"
grep -q '^| null | 1 |' "$md" && fail "figures_table: the filter let null's row into pmem's table"

[[ $(figures_dat "$json" 'select(.store == "pmem") | "\(.queue_depth) \(.iops)"') == \
   $'1 666.666\n4 2000' ]] && ok "figures_dat" || fail "figures_dat printed the wrong lines"

figures_dat "$json" 'select(.store == "pmem") | "\(.queue_depth) \(.iops)"' >"$work/pmem.dat"
if figures_plot "$json" "$png" 640 400 <<GNUPLOT && is_png "$png"; then
set title heading
set xlabel "queue depth"
plot '$work/pmem.dat' u 1:2 w lp t 'pmem'
GNUPLOT
  ok "figures_plot wrote a PNG ($(stat -c %s "$png") bytes)"
else
  fail "figures_plot: no PNG"
fi
# Negative control: a gnuplot error is the caller's error, and leaves no PNG behind.
if figures_plot "$json" "$png" 640 400 <<<"plot '$work/no-such.dat' u 1:2" 2>/dev/null; then
  fail "figures_plot returned 0 for a plot of a missing file"
elif [[ -e $png ]]; then
  fail "figures_plot left a PNG of a failed plot"
else
  ok "figures_plot: a gnuplot error returns non-zero and no PNG"
fi

# ---- tests/e2e/figures.sh: fio pairs ---------------------------------------------------------
# fio_json RW IOPS P50_US P99_US TIMESTAMP: the parts of fio's JSON report that figures.sh reads
fio_json() {
  local dir="read"
  [[ $1 == randwrite ]] && dir="write"
  jq -n --arg rw "$1" --arg d "$dir" --argjson i "$2" --argjson p50 "$3" --argjson p99 "$4" \
    --argjson ts "$5" '{timestamp: $ts, jobs: [{"job options": {rw: $rw, bs: "4k",
      iodepth: "16"}, ($d): {iops: $i, clat_ns: {mean: ($p50 * 1000), percentile:
      {"50.000000": ($p50 * 1000), "99.000000": ($p99 * 1000), "99.900000": ($p99 * 2000)}}}}]}'
}
logs=$work/perf-logs out=$work/figures
mkdir -p "$logs"
# Measured in this order: tgt-null, then lio-x, then tgt-pmem (not alphabetical).
fio_json randread 1000 10 50 100 >"$logs/fio-tgt-null-randread.json"
fio_json randwrite 800 12 60 101 >"$logs/fio-tgt-null-randwrite.json"
fio_json randread 250 40 90 200 >"$logs/fio-lio-x-randread.json"
fio_json randwrite 400 20 70 201 >"$logs/fio-lio-x-randwrite.json"
fio_json randread 500 20 80 300 >"$logs/fio-tgt-pmem-randread.json"
fio_json randwrite 1200 8 40 301 >"$logs/fio-tgt-pmem-randwrite.json"
fio_json randread 1 1 1 400 >"$logs/fio-lonely-randread.json"   # no randwrite: left out
echo "fill" >"$logs/fio-tgt-null-fill.txt"
if "$src/tests/e2e/figures.sh" --command "run.sh perf" perf "$logs" "$out" 2>"$work/err"; then
  body=$(grep '^| [a-z]' "$out/perf.md")
  want=$'| target | workload | IOPS | p50 us | p99 us | p99.9 us | vs null |
| tgt-null | randread | 1000 | 10 | 50 | 100 | 1 |
| tgt-null | randwrite | 800 | 12 | 60 | 120 | 1 |
| lio-x | randread | 250 | 40 | 90 | 180 | 0.25 |
| lio-x | randwrite | 400 | 20 | 70 | 140 | 0.5 |
| tgt-pmem | randread | 500 | 20 | 80 | 160 | 0.5 |
| tgt-pmem | randwrite | 1200 | 8 | 40 | 80 | 1.5 |'
  [[ $body == "$want" ]] && ok "e2e figures (fio): rows in measurement order, ratios to null" ||
    fail "e2e figures (fio) table:"$'\n'"$body"
  has_line "$out/perf.md" "Command: \`run.sh perf\`" || fail "e2e figures (fio): no command line"
  jq -e '.date == "1970-01-01T00:01:40Z" and (.host | test("TCG guest"))' "$out/perf.json" \
    >/dev/null && ok "e2e figures (fio): date of the measurement, the guest named" ||
    fail "e2e figures (fio): date or host wrong in $(jq -c '{date, host}' "$out/perf.json")"
  is_png "$out/perf.png" && ok "e2e figures (fio): PNG" || fail "e2e figures (fio): no PNG"
else
  fail "tests/e2e/figures.sh failed on fio pairs: $(cat "$work/err")"
fi

# ---- tests/e2e/figures.sh: push-mode ------------------------------------------------------
logs=$work/push-logs
mkdir -p "$logs"
fio_json randwrite 100 400 900 500 >"$logs/fio-iser-qd1.json"
bench='{"tool":"tgtpmem-push","mode":"bench","size":4096,"count":10,"region":1048576,"results":[
  {"method":"write+commit","count":10,"mean_us":200,"p50_us":150,"p99_us":700,"iops":5000,"mib_s":19.5},
  {"method":"write+read-after-write","count":10,"mean_us":100,"p50_us":90,"p99_us":300,"iops":10000,"mib_s":39}]}'
printf '{"setting":"%s","bench":%s}\n' "event loop" "$(jq -c . <<<"$bench")" >"$logs/push-bench.jsonl"
if "$src/tests/e2e/figures.sh" push "$logs" "$out" 2>"$work/err"; then
  body=$(grep '^| [a-zA-Z]' "$out/push.md")
  want=$'| method | mean us | p50 us | p99 us | mean / iSER |
| iSER O_DIRECT write, write-through LUN | 400 | 400 | 900 | 1 |
| push write+commit, event loop | 200 | 150 | 700 | 0.5 |
| push write+read-after-write, event loop | 100 | 90 | 300 | 0.25 |'
  [[ $body == "$want" ]] && ok "e2e figures (push): latency rows, ratios to iSER" ||
    fail "e2e figures (push) table:"$'\n'"$body"
  is_png "$out/push.png" && ok "e2e figures (push): PNG" || fail "e2e figures (push): no PNG"
else
  fail "tests/e2e/figures.sh failed on push-mode's results: $(cat "$work/err")"
fi
# A scenario without figures: nothing written, exit 0.
mkdir -p "$work/none"
"$src/tests/e2e/figures.sh" none "$work/none" "$out" && [[ ! -e $out/none.json ]] &&
  ok "e2e figures: a scenario without results has no figures" ||
  fail "e2e figures: a scenario without results failed or got figures"

(( failures == 0 )) || { echo "$failures check(s) failed"; exit 1; }
echo "PASS"
