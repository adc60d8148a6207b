#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# PID 1 of one e2e run, exec'd by /sbin/e2e-boot from the artefact disk mounted on /e2e.
#
# Mounts what a bare init needs, installs the module under test, brings up Soft-RoCE on a
# veth pair inside the guest (the guest has no NIC: nothing can leave it), runs each scenario
# of /e2e/config in turn and prints one machine-readable line per scenario on the console:
#
#   E2E-RESULT <scenario> PASS|FAIL|SKIP <detail>
#
# then E2E-DONE, and powers off whatever happens (EXIT trap, guest watchdog; the host has a
# hard timeout of its own). Logs of each scenario go to /e2e/out/<scenario>/, which the host
# copies out of the artefact disk after the run.
#
# Scenarios marked '# e2e: systemd' (tgt-service: the real tgt.service) need systemd as PID 1.
# They come last: their 'prepare' step runs here, then this script execs /lib/systemd/systemd
# (the image's real boot path from then on: generators, udev, fstab mounts, enabled units),
# which starts e2e-systemd.service = this script with --systemd-stage SCENARIO...: it runs
# them, prints E2E-DONE and powers off through systemd.
set -u
stage=boot
if [[ ${1:-} == --systemd-stage ]]; then
  stage=systemd
  shift
fi
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=${TERM:-linux}
cd /

E2E=/e2e
OUT=$E2E/out
# E2E_BSTYPE E2E_BSOPTS E2E_SCENARIOS E2E_SHELL E2E_GUEST_TIMEOUT E2E_SCENARIO_TIMEOUT
set -a
# shellcheck source=/dev/null
source "$E2E/config"
set +a

power_off() {
  trap - EXIT
  echo "E2E-POWEROFF"
  [[ -d $OUT ]] && dmesg > "$OUT/dmesg.txt" 2>/dev/null
  sync
  umount "$E2E" 2>/dev/null || mount -o remount,ro "$E2E" 2>/dev/null
  sync
  busybox poweroff -f
  echo o > /proc/sysrq-trigger
  sleep 30
}
# run_scenario NAME [ARG]: runs scenarios/NAME.sh (with ARG: one step of it, such as
# 'prepare', which reports only on failure) under the per-scenario timeout, logs into
# $OUT/NAME/, prints its E2E-RESULT line and cleans up after it. Returns 1 when it failed.
setup_error=""
run_scenario() {
  local s=$1 arg=${2:-} script=$E2E/scenarios/$1.sh rc t0 secs detail status
  if [[ -n $setup_error ]]; then
    echo "E2E-RESULT $s FAIL guest setup failed: $setup_error"
    return 1
  fi
  if [[ ! -f $script ]]; then
    echo "E2E-RESULT $s FAIL no such scenario script"
    return 1
  fi
  mkdir -p "$OUT/$s"
  echo "E2E-BEGIN $s${arg:+ ($arg)}"
  t0=$(cut -d' ' -f1 /proc/uptime)
  E2E_NAME=$s E2E_LOG=$OUT/$s timeout -k 10 "${E2E_SCENARIO_TIMEOUT:-600}" \
    bash "$script" ${arg:+"$arg"} 2>&1 | tee -a "$OUT/$s/output.log"
  rc=${PIPESTATUS[0]}
  secs=$(awk -v s="$t0" '{printf "%.0f", $1 - s}' /proc/uptime)
  detail=$(head -n 1 "$OUT/$s/summary" 2>/dev/null)
  case $rc in
    0) status=PASS ;;
    77) status=SKIP ;;
    124|137) status=FAIL; detail="timed out after ${E2E_SCENARIO_TIMEOUT:-600} s; ${detail:-no summary}" ;;
    *) status=FAIL
       [[ -n $detail ]] || detail="exit status $rc; last output: $(grep -v '^$' "$OUT/$s/output.log" | tail -n 1)" ;;
  esac
  if [[ -n $arg && $status == PASS ]]; then
    echo "E2E-STEP $s: $arg done in ${secs}s"
    return 0
  fi
  # Whatever the scenario left behind must not leak into the next one.
  E2E_NAME=$s E2E_LOG=$OUT/$s e2e_cleanup >>"$OUT/$s/cleanup.log" 2>&1
  echo "E2E-RESULT $s $status ${secs}s ${detail:-}${arg:+ (in its $arg step)}"
  [[ $status != FAIL ]]
}
is_systemd_scenario() { grep -qx '# e2e: systemd' "$E2E/scenarios/$1.sh" 2>/dev/null; }

if [[ $stage == systemd ]]; then
  # ---- under systemd: run the systemd scenarios, then power off through systemd --------
  E2E_NAME=init E2E_LOG=$OUT
  source "$E2E/guest/lib.sh"
  [[ -d $E2E/bin ]] && export PATH="$E2E/bin:$PATH"
  echo "E2E-SYSTEMD $(systemctl is-system-running --wait 2>&1) at uptime $(cut -d' ' -f1 /proc/uptime)s;" \
       "failed units: $(systemctl list-units --failed --no-legend --plain 2>&1 | awk '{print $1}' | paste -sd' ')"
  for s in "$@"; do run_scenario "$s"; done
  echo "E2E-DONE"
  dmesg > "$OUT/dmesg.txt" 2>/dev/null
  journalctl -b --no-pager > "$OUT/journal.txt" 2>&1
  sync
  # poweroff.target itself: 'systemctl poweroff' asks logind first, and there is no D-Bus.
  systemctl start --no-block poweroff.target || echo o > /proc/sysrq-trigger
  exit 0
fi
trap power_off EXIT

mountpoint -q /run || mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /dev/pts /dev/shm /run/lock/iscsi
mountpoint -q /dev/pts || mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mountpoint -q /dev/shm || mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config 2>/dev/null
mountpoint -q /tmp || mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p "$OUT"
hostname tgt-pmem-e2e
# shellcheck source=lib.sh
E2E_NAME=init E2E_LOG=$OUT
source "$E2E/guest/lib.sh"

# Guest-side watchdog: even if a scenario wedges the kernel's I/O path, power off in time.
( sleep "${E2E_GUEST_TIMEOUT:-1500}"
  echo "E2E-ERROR guest watchdog: ${E2E_GUEST_TIMEOUT:-1500} s elapsed, powering off"
  sync; echo o > /proc/sysrq-trigger ) &

echo "E2E-BOOTED $(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)s bstype=$E2E_BSTYPE scenarios=[$E2E_SCENARIOS]"

# Everything every scenario shares; a failure here fails every requested scenario.
setup_error=""
install_artefacts() {
  # A private rdma-core (run.sh --rdma-core), at the path it was built for: every program of
  # the run uses its libibverbs, which finds its providers and their configuration there.
  if [[ -n ${E2E_RDMA_CORE:-} ]]; then
    mkdir -p "$E2E_RDMA_CORE" && cp -a "$E2E/rdma-core/." "$E2E_RDMA_CORE/" ||
      { setup_error="could not install the private rdma-core in $E2E_RDMA_CORE"; return 1; }
    export LD_LIBRARY_PATH=$E2E_RDMA_CORE/lib
  fi

  # Debian's tgt ships no modules, so the directory tgtd scans may not exist yet.
  local so
  for so in "$E2E"/module/*.so; do
    [[ -f $so ]] || continue
    install -D -m 0644 "$so" "/usr/lib/tgt/backing-store/${so##*/}" ||
      { setup_error="could not install ${so##*/}"; return 1; }
    if ldd "/usr/lib/tgt/backing-store/${so##*/}" | grep -q 'not found'; then
      ldd "/usr/lib/tgt/backing-store/${so##*/}" | tee -a "$OUT/setup.log"
      setup_error="${so##*/} has unresolved libraries in the guest (see setup.log)"
      return 1
    fi
  done
  # Programs the scenarios use (run.sh --bin).
  [[ -d $E2E/bin ]] && export PATH="$E2E/bin:$PATH"

  return 0
}

guest_setup() {
  local m
  # Drivers a udev would load from modaliases; we run no udevd, so load them by name.
  for m in nfit nd_pmem dax_pmem device_dax sd_mod sg rdma_rxe ib_iser iscsi_tcp ib_srp rdma_ucm \
           ib_uverbs; do
    modprobe "$m" 2>>"$OUT/setup.log" || { setup_error="modprobe $m failed"; return 1; }
  done

  install_artefacts || return 1

  # Soft-RoCE on one side of a veth pair. Addresses are from TEST-NET-1 (RFC 5737) and live
  # only inside this NIC-less guest.
  ip link set lo up
  ip link add veth0 type veth peer name veth1 || { setup_error="veth"; return 1; }
  ip addr add "$E2E_TARGET_IP/24" dev veth0
  ip addr add "$E2E_PEER_IP/24" dev veth1
  ip link set veth0 up && ip link set veth1 up
  rdma link add rxe0 type rxe netdev veth0 || { setup_error="rdma link add rxe0 failed"; return 1; }
  for _ in $(seq 1 50); do
    rdma link show rxe0/1 2>/dev/null | grep -q 'state ACTIVE' && break
    sleep 0.2
  done
  rdma link show >> "$OUT/setup.log" 2>&1
  rdma link show rxe0/1 | grep -q 'state ACTIVE' || { setup_error="rxe0 port not ACTIVE"; return 1; }

  # Gate: an RDMA CM connection with data transfer over rxe0 (rping), before any iSER.
  if ! rdma_cm_ping 60 "$OUT/setup.log"; then
    setup_error="rping over rxe0 failed (60 s of attempts)"
    return 1
  fi

  # open-iscsi: a fixed initiator name (targets bind to it) and iscsid by hand (no systemd).
  echo "InitiatorName=$E2E_INITIATOR_IQN" > /etc/iscsi/initiatorname.iscsi
  iscsid >>"$OUT/setup.log" 2>&1 || { setup_error="iscsid failed to start"; return 1; }
  return 0
}

plain=() under_systemd=()
for s in $E2E_SCENARIOS; do
  if is_systemd_scenario "$s"; then under_systemd+=("$s"); else plain+=("$s"); fi
done
start=$(cut -d' ' -f1 /proc/uptime)
if (( ${#plain[@]} == 0 )) && [[ ${E2E_SHELL:-0} != 1 ]]; then
  # Only systemd scenarios: systemd's boot brings up what they need (udev loads the drivers).
  install_artefacts || echo "E2E-SETUP failed: $setup_error"
elif guest_setup; then
  echo "E2E-SETUP ok in $(awk -v s="$start" '{printf "%.1f", $1 - s}' /proc/uptime) s" \
       "(rping attempts: ${RDMA_CM_PING_ATTEMPTS:-?})"
else
  echo "E2E-SETUP failed: $setup_error"
  # The host keeps only the console of a CI run: the evidence goes there.
  tail -n 30 "$OUT/setup.log" | sed 's/^/E2E-SETUP-LOG /'
  dmesg | grep -aiE 'rxe|rdma|infiniband' | tail -n 10 | sed 's/^/E2E-SETUP-DMESG /'
fi

for s in "${plain[@]}"; do run_scenario "$s"; done

# ---- the systemd scenarios: prepared here, run under systemd as PID 1 (a boot of its own) --
if (( ${#under_systemd[@]} )) && [[ ${E2E_SHELL:-0} != 1 ]]; then
  ready=()
  for s in "${under_systemd[@]}"; do
    run_scenario "$s" prepare && ready+=("$s")
  done
  if (( ${#ready[@]} )); then
    # What this script started must not outlive it into systemd's boot: iscsid (systemd
    # socket-activates its own), anything on the NVDIMM.
    iscsiadm -k 0 >/dev/null 2>&1
    cat > /etc/systemd/system/e2e-systemd.service <<UNIT
[Unit]
Description=tgt-pmem e2e: the scenarios that need systemd
After=multi-user.target

[Service]
Type=exec
ExecStart=$E2E/guest/init.sh --systemd-stage ${ready[*]}
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no
Environment=HOME=/root TERM=linux
UNIT
    mkdir -p /etc/systemd/system/multi-user.target.wants /etc/systemd/system.conf.d
    ln -sf ../e2e-systemd.service /etc/systemd/system/multi-user.target.wants/e2e-systemd.service
    ln -sf /lib/systemd/system/multi-user.target /etc/systemd/system/default.target
    # The serial console is the harness's: no getty on it, no status lines in its output.
    for u in serial-getty@ttyS0.service getty@tty1.service; do
      ln -sf /dev/null "/etc/systemd/system/$u"
    done
    printf '[Manager]\nShowStatus=no\n' > /etc/systemd/system.conf.d/e2e.conf
    echo "E2E-SYSTEMD exec /lib/systemd/systemd for: ${ready[*]}"
    sync
    trap - EXIT
    exec /lib/systemd/systemd
  fi
fi
echo "E2E-DONE"

if [[ ${E2E_SHELL:-0} == 1 ]]; then
  echo "e2e: interactive shell; helpers: source /e2e/guest/lib.sh. Exit the shell to power off."
  setsid -w -c bash -l <>/dev/ttyS0 >&0 2>&0
fi
exit 0
