#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Benchmark (prints figures, asserts nothing): two bs_pmem configurations side by side in one
# tgtd, one run, on two emulated pmem files (bsopts durability=emulated). Rounds are
# interleaved; medians and the ratio second/first are printed for 4 KiB random writes at
# QD 1 and 16 and for 1 MiB sequential writes at QD 4.
# Usage: pmem_variants.sh LOAD_TOOL MODULE_DIR ROUNDS SECONDS NAME1=BSOPTS1 NAME2=BSOPTS2
#   e.g. ... 3 5 inline=exec=inline threads="exec=threads;threads=4"
set -euo pipefail
LOAD=$1 MODULE_DIR=$2 ROUNDS=$3 SECONDS_PER=$4
NAME1=${5%%=*} OPTS1=${5#*=} NAME2=${6%%=*} OPTS2=${6#*=}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/tgtd.sh"
WORK=$(mktemp -d /tmp/tgtpmem-variants-XXXXXX)
trap 'tgtd_stop; rm -rf "$WORK"' EXIT
CTL=9203 PORT=3393 IQN=iqn.2026-11.org.tgt-pmem:variants-bench
tgtd_start "$MODULE_DIR" $CTL $PORT "$WORK/tgtd.log"
tgt_new_target 1 $IQN && tgt_allow_all 1
truncate -s 1G "$WORK/a.img" "$WORK/b.img"
tgt_new_lun 1 1 pmem "$WORK/a.img" "durability=emulated${OPTS1:+;$OPTS1}"
tgt_new_lun 1 2 pmem "$WORK/b.img" "durability=emulated${OPTS2:+;$OPTS2}"
for l in 1 2; do  # touch every page once, so that no row pays for first-touch page faults
  "$LOAD" -q 16 -b 1m -r 0 -a sequential -n 1100 "iscsi://127.0.0.1:$PORT/$IQN/$l" >/dev/null
done

declare -A iops mibs
workloads=("4k-randwrite-qd1:-q 1 -b 4k -r 0 -a random"
           "4k-randwrite-qd16:-q 16 -b 4k -r 0 -a random"
           "1m-seqwrite-qd4:-q 4 -b 1m -r 0 -a sequential")
for r in $(seq 1 "$ROUNDS"); do
  for w in "${workloads[@]}"; do
    name=${w%%:*} args=${w#*:}
    for l in 1 2; do
      # shellcheck disable=SC2086
      json=$("$LOAD" --json -t "$SECONDS_PER" $args "iscsi://127.0.0.1:$PORT/$IQN/$l")
      iops[$name,$l]+="$(jq -r '.write.iops' <<<"$json") "
      mibs[$name,$l]+="$(jq -r '.write.mib_s' <<<"$json") "
    done
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "bs_pmem: %s (%s) vs %s (%s); emulated pmem (cache-flush), %s rounds x %s s, medians\n" \
  "$NAME1" "$OPTS1" "$NAME2" "$OPTS2" "$ROUNDS" "$SECONDS_PER"
printf "%-20s %14s %14s %10s\n" "workload (IOPS)" "$NAME1" "$NAME2" "$NAME2/$NAME1"
for w in "${workloads[@]}"; do
  name=${w%%:*}
  a=$(echo "${iops[$name,1]}" | median) b=$(echo "${iops[$name,2]}" | median)
  printf "%-20s %14.0f %14.0f %10.2f\n" "$name" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print b / a}')"
done
