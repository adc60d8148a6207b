#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Benchmark (prints figures, asserts nothing): bs_pmem's two execution models side by side in
# one tgtd, one run: exec=inline (commands run on tgtd's event loop) and exec=threads (tgt's
# bs_thread pool, 4 workers), on two emulated pmem files. Rounds are interleaved; medians and
# the ratio threads/inline are printed for 4 KiB random writes at QD 1 and 16 and for 1 MiB
# sequential writes at QD 4.
# Usage: exec_model.sh LOAD_TOOL MODULE_DIR [ROUNDS] [SECONDS]
set -euo pipefail
LOAD=$1 MODULE_DIR=$2 ROUNDS=${3:-3} SECONDS_PER=${4:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib/tgtd.sh"
WORK=$(mktemp -d /tmp/tgtpmem-exec-XXXXXX)
trap 'tgtd_stop; rm -rf "$WORK"' EXIT
CTL=9203 PORT=3393 IQN=iqn.2026-11.org.tgt-pmem:exec-bench
export PMEM2_FORCE_GRANULARITY=CACHE_LINE
tgtd_start "$MODULE_DIR" $CTL $PORT "$WORK/tgtd.log"
tgt_new_target 1 $IQN && tgt_allow_all 1
truncate -s 1G "$WORK/a.img" "$WORK/b.img"
tgt_new_lun 1 1 pmem "$WORK/a.img" "exec=inline"
tgt_new_lun 1 2 pmem "$WORK/b.img" "exec=threads;threads=4"
for l in 1 2; do  # allocate the files' pages once, so that no row pays for page faults
  "$LOAD" -q 16 -b 1m -r 0 -a sequential -n 1024 "iscsi://127.0.0.1:$PORT/$IQN/$l" >/dev/null
done

declare -A iops
workloads=("4k-randwrite-qd1:-q 1 -b 4k -r 0 -a random"
           "4k-randwrite-qd16:-q 16 -b 4k -r 0 -a random"
           "1m-seqwrite-qd4:-q 4 -b 1m -r 0 -a sequential")
for r in $(seq 1 "$ROUNDS"); do
  for w in "${workloads[@]}"; do
    name=${w%%:*} args=${w#*:}
    for l in 1 2; do
      # shellcheck disable=SC2086
      v=$("$LOAD" --json -t "$SECONDS_PER" $args "iscsi://127.0.0.1:$PORT/$IQN/$l" |
          jq -r '.write.iops')
      iops[$name,$l]+="$v "
    done
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "bs_pmem execution model, emulated pmem (cache-flush), %s rounds x %s s, medians\n" \
  "$ROUNDS" "$SECONDS_PER"
printf "%-20s %12s %12s %16s\n" workload inline threads "threads/inline"
for w in "${workloads[@]}"; do
  name=${w%%:*}
  a=$(echo "${iops[$name,1]}" | median) b=$(echo "${iops[$name,2]}" | median)
  printf "%-20s %12.0f %12.0f %16.2f\n" "$name" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print b / a}')"
done
