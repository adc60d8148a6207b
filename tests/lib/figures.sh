# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Figures of a benchmark: its results as one JSON document, a short markdown table made from
# that document, and a PNG plot (gnuplot) beside it. Every benchmark (tests/bench/*.sh, the
# host-side rendering of the e2e guest's perf scenarios) writes its figures through these
# functions, so that every figure says the same things about where it came from: the date,
# the machine (CPU model, cores, kernel) and the exact command.
#
# Source this file; it needs jq (gnuplot only for figures_plot). The functions:
#
#   figures_host
#       prints "CPU model, N cores, kernel RELEASE" of this machine.
#   figures_row ROWS JQ-ARGS... FILTER
#       appends one compact JSON object, made by `jq -n JQ-ARGS... FILTER`, to the file ROWS
#       (one object a line). Dies (exit 1) if jq refuses it.
#   figures_document ROWS JSON NAME TITLE COMMAND [HOST [DATE]]
#       writes JSON: {benchmark: NAME, title: TITLE, date: DATE (default: now; UTC, ISO
#       8601), host: HOST (default: figures_host), command: COMMAND, rows: [the objects of
#       ROWS]}.
#   figures_header JSON MD
#       starts the markdown file MD: the title, then one line with the date, host and command.
#   figures_table JSON MD FILTER HEADER=EXPR...
#       appends to MD a markdown table of the rows that pass `select(FILTER)`, one column per
#       HEADER=EXPR (a jq expression on the row; `fix(N)` rounds a number to N decimals and
#       a missing value shows as "-"). A header ending in ':' is right-aligned (numbers).
#   figures_dat JSON FILTER
#       prints `.rows[] | FILTER` as raw text (jq -r): the data lines gnuplot reads.
#   figures_plot JSON PNG WIDTH HEIGHT   (the gnuplot commands on stdin)
#       runs gnuplot with a PNG terminal of WIDTH x HEIGHT pixels writing PNG, then the
#       commands from stdin. They can use the string variable `heading`: the document's title
#       and a second line "measured DATE on HOST", for a (multi)plot's title. Returns 77,
#       after a note on stderr, when gnuplot is not installed; 1 when gnuplot fails or writes
#       no PNG (a failed plot leaves no PNG behind).

figures_host() {
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
  echo "${cpu:-unknown CPU}, $(nproc) cores, kernel $(uname -r)"
}

figures_row() {
  local rows=$1
  shift
  local line
  line=$(jq -cn "$@") || { echo "figures: jq refused a row: $*" >&2; exit 1; }
  printf '%s\n' "$line" >>"$rows"
}

figures_document() {
  local rows=$1 json=$2 name=$3 title=$4 command=$5 host=${6:-} date=${7:-}
  [[ -n $host ]] || host=$(figures_host)
  [[ -n $date ]] || date=$(date -u +%FT%TZ)
  jq -s --arg n "$name" --arg t "$title" --arg d "$date" --arg h "$host" \
     --arg c "$command" '{benchmark: $n, title: $t, date: $d, host: $h, command: $c, rows: .}' \
     "$rows" >"$json.tmp" && mv "$json.tmp" "$json"
}

figures_header() {
  jq -r '"## \(.title)\n\nMeasured \(.date) on \(.host).  \nCommand: `\(.command)`\n"' \
     "$1" >"$2"
}

figures_table() {
  local json=$1 md=$2 filter=$3
  shift 3
  local col head sep="" exprs=()
  head="|"
  for col in "$@"; do
    local h=${col%%=*}
    if [[ $h == *: ]]; then head+=" ${h%:} |"; sep+="---:|"; else head+=" $h |"; sep+="---|"; fi
    exprs+=("(${col#*=})")
  done
  local program
  program="def fix(n): if type == \"number\" then (. * pow(10; n) | round) / pow(10; n) else . end;
    .rows[] | select($filter) | [$(IFS=,; echo "${exprs[*]}")]
    | map(if . == null then \"-\" else tostring end) | \"| \" + join(\" | \") + \" |\""
  {
    echo "$head"
    echo "|$sep"
    jq -r "$program" "$json" || { echo "figures: cannot make the table of $json" >&2; return 1; }
    echo
  } >>"$md"
}

figures_dat() {
  jq -r ".rows[] | $2" "$1"
}

figures_plot() {
  local json=$1 png=$2 width=$3 height=$4
  if ! command -v gnuplot >/dev/null; then
    echo "figures: no plot $png: gnuplot is not installed (apt-get install gnuplot-nox)" >&2
    return 77
  fi
  local heading
  # gnuplot's double-quoted strings: backslash and double quote escaped, \n a line break.
  heading=$(jq -r '"\(.title)\nmeasured \(.date) on \(.host)" | gsub("\\\\"; "\\\\")
                   | gsub("\""; "\\\"") | gsub("\n"; "\\n")' "$json") || return 1
  rm -f "$png"
  { printf 'set terminal pngcairo noenhanced size %d,%d font ",10"\n' "$width" "$height"
    printf 'set output "%s"\n' "$png"
    printf 'heading = "%s"\n' "$heading"
    echo 'set grid'
    cat
  } | gnuplot || { echo "figures: gnuplot failed on $png" >&2; rm -f "$png"; return 1; }
  [[ -s $png ]] || { echo "figures: gnuplot wrote no $png" >&2; return 1; }
}
