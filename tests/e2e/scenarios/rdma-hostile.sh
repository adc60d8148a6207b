#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Hostile push-mode peers against tgtd (issue 14), while an iSER job and tgtadm run beside
# them. tgtd serves LUN 1 of an iSER target on /dev/dax0.0 with push=on; then, at once:
#   - 100 RDMA CM connections that never send a byte (tgtpmem-push-hostile idle);
#   - a COMMIT storm: whole-region COMMITs of 256 MiB back to back;
#   - registration churn: REGISTER/UNREGISTER of 256 MiB back to back;
#   - a client holding a registered region whose link is cut (netem drops every packet both
#     ways): a peer that vanished without a disconnect, as a crashed host or a pulled cable.
# That client reaches tgtd over the veth pair through a second Soft-RoCE device (rxe1 on
# veth1, target address 192.0.2.3 on veth0, policy routes for locally sent packets: lib.sh's
# rxe_cut_path, link_cut, link_restore), so the cut leaves rxe0's loopback, which the iSER
# session and the other peers use, alone.
# Checked: tgtd stays up; the iSER job completes I/O in every second of the attack; tgtadm
# answers within a bound; the unadmitted connections are capped and closed by the handshake
# timeout; the vanished peer's connection and region go (liveness probe); afterwards tgtd's
# queue pairs, memory regions, RDMA CM ids, pinned memory and descriptors are back to what
# they were before. The figures go to guest/rdma-hostile/hostile.txt and the result line.
# Runs on the backports kernel (run.sh --kernel backports, as CTest registers it): Debian 12's
# 6.1 rxe completes a zero-length RDMA WRITE (or READ) without the peer's acknowledgement -
# in the guest, liveness probes kept completing with the link cut while a new connection over
# the same path timed out - so no probe can find a vanished peer there.
set -u
source /e2e/guest/lib.sh

command -v tgtpmem-push-hostile >/dev/null || skip "no tgtpmem-push-hostile in the guest (run.sh --bin)"
[[ $E2E_BSTYPE == pmem ]] || skip "push mode is bs_pmem's; bstype is $E2E_BSTYPE"
[[ $(uname -r) == 6.1.* ]] &&
  skip "Linux $(uname -r): its rxe completes zero-length RDMA WRITEs unacknowledged (run.sh --kernel backports)"

port=5566
iqn=$E2E_IQN_PREFIX:hostile
cut_ip=192.0.2.3      # veth0 too; reached from rxe1 over the veth pair
attack_s=40           # how long the attack lasts
tgtadm_bound_ms=3000  # tgtadm must answer within this during the attack (TCG guest)
probe_s=5             # tgtd's liveness probe after this long quiet (default 30)
mib=$((1024 * 1024))
W=$E2E_WORK
R=$E2E_LOG/hostile.txt
: > "$R"
note() { echo "$*" | tee -a "$R" >&2; }
hostile() { tgtpmem-push-hostile --address "$1" --port "$port" --target "$iqn" --lun 1 "${@:2}"; }

# tgtd's RDMA resources and memory: "qp mr cm_id pinned_kB fds".
resources() {
  local p=$TGTD_PID
  echo "$(rdma res show qp 2>/dev/null | grep -c "pid $p ")" \
       "$(rdma res show mr 2>/dev/null | grep -c "pid $p ")" \
       "$(rdma res show cm_id 2>/dev/null | grep -c "pid $p ")" \
       "$(awk '/^VmPin:/ {print $2}' /proc/"$p"/status)" \
       "$(ls /proc/"$p"/fd | wc -l)"
}

# tgtadm_sampler FILE: tgtadm --op show every 0.2 s, one latency in ms per line, until killed.
tgtadm_sampler() {
  local t0 t1
  while :; do
    t0=$(date +%s%N)
    tgtadm --mode target --op show > /dev/null 2>&1 || echo "tgtadm failed" >> "$1.err"
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000)) >> "$1"
    sleep 0.2
  done
}
# stats FILE: "max median n" of the numbers in FILE.
stats() { sort -n "$1" | awk '{v[NR] = $1} END {printf "%d %d %d", v[NR], v[int((NR + 1) / 2)], NR}'; }

step "Soft-RoCE rxe1 on veth1, routes over the veth pair to $cut_ip"
rxe_cut_path "$cut_ip"

step "tgtd (liveness probe after ${probe_s} s quiet, answered within ${probe_s} s), LUN 1 on devdax with push mode, iSER login"
pmem_namespace devdax
export TGTPMEM_RDMA_IDLE_PROBE_S=$probe_s TGTPMEM_RDMA_PROBE_TIMEOUT_S=$probe_s
tgtd_start
must tgtadm --lld iser --mode target --op new --tid 1 --targetname "$iqn" >/dev/null
must tgtadm --lld iser --mode logicalunit --op new --tid 1 --lun 1 --bstype pmem \
     --backing-store "$PMEM_DEV" --bsopts "push=on;push_port=$port;push_address=0.0.0.0" >/dev/null
must tgtadm --lld iser --mode target --op bind --tid 1 -I ALL >/dev/null
must tgtadm --lld iser --mode target --op bind --tid 1 -Q "$E2E_INITIATOR_IQN" >/dev/null
iser_login "$iqn"
# The path the cut will take works, through tgtd.
hostile "$cut_ip" churn 1 1M > "$W/path.txt" 2>&1 || fail "a push client over rxe1 failed: $(cat "$W/path.txt")"
grep -q "from $E2E_PEER_IP:" "$E2E_LOG/tgtd.log" ||
  fail "the client over rxe1 did not reach tgtd from $E2E_PEER_IP (tgtd.log)"
sleep 2
base=$(resources)
note "tgtd before the attack (qp mr cm_id pinned_kB fds): $base"

step "baseline: iSER 4 KiB random writes and tgtadm, 15 s, nothing else"
tgtadm_sampler "$W/tgtadm-base" &
sampler=$!
must fio --name=iser-base --filename="$DEV" --ioengine=libaio --direct=1 --iodepth=4 --bs=4k \
         --rw=randwrite --offset=$((512 * mib)) --size=$((64 * mib)) --time_based --runtime=15 \
         --output-format=json --output="$E2E_LOG/fio-base.json" >/dev/null
kill "$sampler"; wait "$sampler" 2>/dev/null
iops() { awk '/"write" : \{/ {w = 1} w && /"iops" :/ {gsub(/[",]/, "", $3); printf "%.0f", $3; exit}' "$1"; }
base_iops=$(iops "$E2E_LOG/fio-base.json")
read -r base_max base_med base_n <<< "$(stats "$W/tgtadm-base")"
note "baseline: iSER $base_iops IOPS; tgtadm max $base_max ms, median $base_med ms ($base_n calls)"

step "the attack: idle connections, COMMIT storm, registration churn, a vanished peer; ${attack_s} s"
tgtadm_sampler "$W/tgtadm-attack" &
sampler=$!
fio --name=iser-attack --filename="$DEV" --ioengine=libaio --direct=1 --iodepth=4 --bs=4k \
    --rw=randwrite --offset=$((512 * mib)) --size=$((64 * mib)) --time_based --runtime=$attack_s \
    --write_iops_log="$W/fio-attack" --log_avg_msec=1000 \
    --output-format=json --output="$E2E_LOG/fio-attack.json" > "$W/fio-attack.out" 2>&1 &
fio_pid=$!
hostile "$cut_ip" hold 64M 600 > "$W/hold.txt" 2>&1 &
hold_pid=$!
for _ in $(seq 1 100); do grep -q holding "$W/hold.txt" && break; sleep 0.2; done
grep -q holding "$W/hold.txt" || fail "the holding client never registered: $(cat "$W/hold.txt")"
hold_conn=$(grep -o "push: connection [0-9]* from $E2E_PEER_IP:[0-9]*: [^ ]* connected" "$E2E_LOG/tgtd.log" |
            tail -n 1 | awk '{print $3}')
[[ -n $hold_conn ]] || fail "tgtd did not log the holding client's connection (tgtd.log)"
# The storm and the churn log in first: the idle connections, from the same address, would
# otherwise fill its cap of connections not yet logged in and get them refused (seen in CI
# runs of the guest: "storm: connect failed: Connection refused").
logged_in() { grep -c "push: connection [0-9]* from $E2E_TARGET_IP:[0-9]*: [^ ]* connected" "$E2E_LOG/tgtd.log"; }
before=$(logged_in)
hostile "$E2E_TARGET_IP" storm $((attack_s - 10)) 256M > "$W/storm.txt" 2>&1 &
storm_pid=$!
hostile "$E2E_TARGET_IP" churn $((attack_s - 10)) 256M > "$W/churn.txt" 2>&1 &
churn_pid=$!
for _ in $(seq 1 150); do (( $(logged_in) - before >= 2 )) && break; sleep 0.2; done
(( $(logged_in) - before >= 2 )) ||
  fail "the storm and churn clients did not log in within 30 s: $(cat "$W/storm.txt" "$W/churn.txt")"
hostile "$E2E_TARGET_IP" idle 100 $((attack_s - 10)) > "$W/idle.txt" 2>&1 &
idle_pid=$!
sleep 2
# The holding client's link goes dark both ways: no disconnect will ever arrive.
link_cut || fail "netem could not cut veth1/veth0 (net.log)"
t_cut=$SECONDS
gone=""
for _ in $(seq 1 300); do
  grep -q "push: connection $hold_conn gone; 1 region deregistered" "$E2E_LOG/tgtd.log" && { gone=$((SECONDS - t_cut)); break; }
  sleep 0.2
done
wait "$idle_pid" "$storm_pid" "$churn_pid"
wait "$fio_pid"; fio_rc=$?
kill "$sampler"; wait "$sampler" 2>/dev/null
kill -0 "$TGTD_PID" 2>/dev/null || fail "tgtd died under the attack (tgtd.log)"
link_restore || fail "the netem cut could not be removed (net.log)"
kill "$hold_pid" 2>/dev/null; wait "$hold_pid" 2>/dev/null

for f in idle storm churn; do note "$(cat "$W/$f.txt")"; done
[[ -n $gone ]] || fail "tgtd kept the vanished peer's connection $hold_conn (and its 64 MiB region) for 60 s after the cut"
note "vanished peer: connection $hold_conn and its region gone ${gone} s after the cut (probe after ${probe_s} s quiet, unanswered for ${probe_s} s)"
(( fio_rc == 0 )) || fail "the iSER job failed under the attack (exit $fio_rc): $(tail -n 3 "$W/fio-attack.out")"
attack_iops=$(iops "$E2E_LOG/fio-attack.json")
# Per second of the attack (the log's averages over 1 s windows): none may be empty.
per_s=$(awk -F, '{print $2 + 0}' "$W"/fio-attack_iops*.log | sort -n | head -n 1)
seconds=$(wc -l < "$(ls "$W"/fio-attack_iops*.log | head -n 1)")
read -r att_max att_med att_n <<< "$(stats "$W/tgtadm-attack")"
note "attack: iSER $attack_iops IOPS (baseline $base_iops), slowest second $per_s IOPS of $seconds; tgtadm max $att_max ms, median $att_med ms ($att_n calls)"
[[ -s $W/tgtadm-attack.err ]] && fail "tgtadm failed during the attack ($(wc -l < "$W/tgtadm-attack.err") times)"
(( seconds >= attack_s - 2 )) || fail "fio logged $seconds seconds of a ${attack_s} s job"
(( per_s > 0 )) || fail "the iSER job completed no I/O in some second of the attack (fio-attack_iops.log)"
(( att_max <= tgtadm_bound_ms )) || fail "tgtadm took $att_max ms during the attack (bound $tgtadm_bound_ms ms)"

# The unadmitted connections: at most 8 from one address (TGTPMEM_RDMA_MAX_UNADMITTED_PER_PEER)
# were taken, the rest refused, and every one taken was closed by the 10 s handshake timeout.
read -r accepted refused closed last_close <<< "$(awk '{for (i = 1; i < NF; ++i) v[$i] = $(i + 1)}
  END {print v["accepted"], v["refused"], v["closed_by_target"], v["last_close_s"]}' "$W/idle.txt")"
[[ -n $accepted && -n $closed ]] || fail "no figures from the idle connections: $(cat "$W/idle.txt")"
(( accepted <= 8 )) || fail "tgtd took $accepted never-speaking connections from one address (cap 8)"
(( refused > 0 )) || fail "tgtd refused none of 100 never-speaking connections"
(( closed == accepted )) || fail "tgtd closed $closed of the $accepted never-speaking connections it took"
grep -q "^storm: commits [1-9]" "$W/storm.txt" || fail "the COMMIT storm did not run: $(cat "$W/storm.txt")"
grep -q "^churn: registered [1-9]" "$W/churn.txt" || fail "the registration churn did not run: $(cat "$W/churn.txt")"

step "afterwards: tgtd's resources back to the baseline"
after=""
for _ in $(seq 1 60); do
  after=$(resources)
  [[ $after == "$base" ]] && break
  sleep 0.5
done
note "tgtd after the attack (qp mr cm_id pinned_kB fds): $after"
[[ $after == "$base" ]] || fail "tgtd's resources (qp mr cm_id pinned_kB fds) were '$base' before the attack, '$after' after"
must tgtadm --mode target --op show >/dev/null
iser_logout "$iqn"

summary "tgtd served on: iSER $attack_iops IOPS under attack (baseline $base_iops, slowest second $per_s), tgtadm max $att_max ms (baseline $base_max), idle conns $accepted taken/$refused refused, vanished peer released in ${gone} s, resources back to baseline"
