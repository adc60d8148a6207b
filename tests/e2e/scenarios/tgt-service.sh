#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# e2e: systemd
#
# tgt-service: Debian's real tgt.service, started by a real systemd (PID 1) at boot, with
# tgt-pmem's drop-in (check-config before tgtd), generator (waits for the LUNs' devices and
# file systems) and udev rule installed where the packages put them - what an administrator
# sees at boot and after a configuration mistake (issue 15, item 1).
#
# Two steps (the line '# e2e: systemd' above makes init.sh run it so):
#   prepare  (init.sh, no systemd yet) a devdax namespace on region0 (/dev/dax0.0), an fsdax
#            one on region1 (run.sh's second NVDIMM: /dev/pmem1, ext4, in /etc/fstab on
#            /srv/pmem with dax,nofail), pool files on it, tgt-pmem's files, a good /etc/tgt/conf.d file
#            with a pmem LUN on each, tgt enabled; then init.sh execs systemd.
#   (run)    under systemd, after the boot:
#     a) the generator's drop-in is in force, tgt.service is active and started after
#        dev-dax0.0.device and srv-pmem.mount, both LUNs are pmem LUNs, the journal has
#        check-config's "ok" lines, and an open-iscsi login over TCP (127.0.0.1) sees the
#        devdax LUN's disk and reads back what it wrote;
#     b) a misspelt bsopts key in one conf.d file, a good target after it (tgt-admin works
#        through the targets sorted by name: every good one comes after '...-bad') and a LUN
#        whose file does not exist: without 'ignore-errors yes' `systemctl restart tgt` fails
#        (tgt-admin exits 22, no target is served); with it the service is active, the good
#        targets have their LUNs, the two bad ones come up without theirs; each time the
#        journal names file:line and the problem.
# What the administrator sees (systemctl status, journalctl -u tgt) is printed on the
# console and kept in guest/tgt-service/*.txt.
source /e2e/guest/lib.sh
set -uo pipefail
shopt -s extglob

IQN=iqn.2026-12.org.tgt-pmem:svc
MNT=/srv/pmem
CONFD=/etc/tgt/conf.d
DROPIN_DIR=/lib/systemd/system/tgt.service.d
GENERATED=/run/systemd/generator/tgt.service.d/50-tgt-pmem-deps.conf

# ---- prepare: before systemd ---------------------------------------------------------------
prepare() {
  [[ -f /e2e/systemd/tgt-pmem-generator ]] ||
    fail "no tgt-pmem systemd files on the artefact disk (run.sh --systemd BUILD/packaging/systemd)"
  [[ -x /lib/systemd/systemd ]] || fail "the guest image has no systemd (tests/e2e/packages.list)"
  command -v tgtpmem-admin >/dev/null || fail "tgtpmem-admin not given (run.sh --bin)"
  [[ -f /usr/lib/tgt/backing-store/bs_pmem.so ]] || fail "bs_pmem.so not installed (run.sh --module)"
  grep -qx 'include /etc/tgt/conf.d/\*.conf' /etc/tgt/targets.conf ||
    fail "Debian's targets.conf does not include conf.d/*.conf"

  step "prepare: NVDIMM namespaces (devdax on region0, fsdax on region1), ext4-dax in fstab"
  local m
  for m in nfit nd_pmem dax_pmem device_dax; do must modprobe "$m" >/dev/null; done
  ndctl list -R 2>/dev/null | grep -q '"dev":"region1"' ||
    fail "no second NVDIMM (region1): run.sh adds one for '# e2e: systemd' scenarios"
  must ndctl create-namespace -f -e namespace0.0 -m devdax -M mem >> "$E2E_LOG/ndctl.json"
  must ndctl create-namespace -f -e namespace1.0 -m fsdax -M mem >> "$E2E_LOG/ndctl.json"
  for _ in $(seq 1 50); do [[ -c /dev/dax0.0 && -b /dev/pmem1 ]] && break; sleep 0.1; done
  [[ -c /dev/dax0.0 && -b /dev/pmem1 ]] || fail "/dev/dax0.0 or /dev/pmem1 did not appear"
  must mkfs.ext4 -q -F -b 4096 /dev/pmem1 >/dev/null
  mkdir -p "$MNT"
  must mount -o dax /dev/pmem1 "$MNT" >/dev/null
  local f
  for f in lun1 bad later; do
    must tgtpmem-admin create "$MNT/$f.img" --size 64m >/dev/null
  done
  must umount "$MNT"
  echo "/dev/pmem1 $MNT ext4 dax,nofail 0 0" >> /etc/fstab

  step "prepare: tgt-pmem's drop-in, generator and udev rule where the packages install them"
  local admin_path
  admin_path=$(sed -n 's/^ExecStartPre=-\([^ ]*\) check-config .*/\1/p' /e2e/systemd/tgt-pmem.conf)
  [[ $admin_path == /* ]] || fail "the drop-in names no tgtpmem-admin: $(cat /e2e/systemd/tgt-pmem.conf)"
  must install -D -m 0755 "$(command -v tgtpmem-admin)" "$admin_path"
  must install -D -m 0644 /e2e/systemd/tgt-pmem.conf "$DROPIN_DIR/tgt-pmem.conf"
  must install -D -m 0755 /e2e/systemd/tgt-pmem-generator /lib/systemd/system-generators/tgt-pmem-generator
  must install -D -m 0644 /e2e/systemd/60-tgt-pmem-dax.rules /lib/udev/rules.d/60-tgt-pmem-dax.rules

  step "prepare: a good configuration, tgt enabled, a fixed initiator name"
  mkdir -p "$CONFD"
  cat > "$CONFD/10-pmem.conf" <<EOF
<target $IQN-dax>
    <backing-store /dev/dax0.0>
        bs-type pmem
        lun 1
    </backing-store>
</target>
<target $IQN-file>
    <backing-store $MNT/lun1.img>
        bs-type pmem
        lun 1
    </backing-store>
</target>
EOF
  mkdir -p /etc/systemd/system/multi-user.target.wants
  ln -sf /lib/systemd/system/tgt.service /etc/systemd/system/multi-user.target.wants/tgt.service
  echo "InitiatorName=$E2E_INITIATOR_IQN" > /etc/iscsi/initiatorname.iscsi
  exit 0
}

# ---- helpers under systemd -----------------------------------------------------------------
# show_admin NAME: what the administrator sees, on the console and in NAME.txt: systemctl
# status tgt and journalctl -u tgt since $T0 (this step's start).
show_admin() {
  local file=$E2E_LOG/$1.txt
  {
    echo "# systemctl status tgt"
    SYSTEMD_COLORS=0 systemctl status tgt --no-pager -l -n 0
    echo "# journalctl -u tgt (this step)"
    journalctl -u tgt --no-pager --since "@$T0" -o short-monotonic
  } > "$file" 2>&1
  sed "s/^/E2E-ADMIN $1| /" "$file" >&2
}
# lun_type TARGET LUN: the 'Backing store type' tgtadm shows for that LUN ("" if none).
lun_type() {
  tgtadm --lld iscsi --mode target --op show 2>/dev/null | awk -v t="$1" -v l="$2" '
    /^Target [0-9]+: / { in_t = ($3 == t); next }
    in_t && /LUN: / { in_l = ($2 == l) }
    in_t && in_l && /Backing store type:/ { print $4; exit }'
}
has_target() { tgtadm --lld iscsi --mode target --op show 2>/dev/null | grep -q "^Target [0-9]*: $1\$"; }
journal_has() { journalctl -u tgt --no-pager --since "@$T0" -o cat | grep -qF -- "$1"; }
mono() { systemctl show -P "$2" "$1"; }

run() {
  # ---- a) the good configuration, as the boot left it -------------------------------------
  T0=$(date +%s)
  T0=$((T0 - 600))   # the boot's whole journal for step a
  step "a) boot: the generator's drop-in, tgt.service's state and ordering"
  cp "$GENERATED" "$E2E_LOG/50-tgt-pmem-deps.conf" 2>/dev/null ||
    fail "the generator wrote no $GENERATED at boot"
  grep -qx 'Wants=dev-dax0.0.device' "$GENERATED" && grep -qx 'Wants=srv-pmem.mount' "$GENERATED" ||
    fail "the generated drop-in lacks dev-dax0.0.device or srv-pmem.mount: $(grep -v '^#' "$GENERATED" | tr '\n' ' ')"
  local wants after
  wants=$(systemctl show -P Wants tgt) after=$(systemctl show -P After tgt)
  [[ " $wants " == *" dev-dax0.0.device "* && " $wants " == *" srv-pmem.mount "* &&
     " $after " == *" dev-dax0.0.device "* && " $after " == *" srv-pmem.mount "* ]] ||
    fail "systemd did not take the drop-in: Wants=$wants After=$after"
  systemctl cat tgt --no-pager > "$E2E_LOG/systemctl-cat-tgt.txt" 2>&1
  show_admin a-boot
  [[ $(systemctl is-active tgt) == active ]] || fail "tgt.service is $(systemctl is-active tgt) after boot"
  [[ $(systemctl is-active dev-dax0.0.device) == active ]] ||
    fail "dev-dax0.0.device is $(systemctl is-active dev-dax0.0.device): the udev rule did not make it a unit"
  [[ $(systemctl is-active srv-pmem.mount) == active ]] || fail "srv-pmem.mount is not active"
  findmnt -no OPTIONS "$MNT" | grep -q dax || fail "$MNT is not mounted with dax"
  local t_tgt t_dax t_mnt
  t_tgt=$(mono tgt InactiveExitTimestampMonotonic)
  t_dax=$(mono dev-dax0.0.device ActiveEnterTimestampMonotonic)
  t_mnt=$(mono srv-pmem.mount ActiveEnterTimestampMonotonic)
  echo "monotonic us: dev-dax0.0.device up $t_dax, srv-pmem.mount up $t_mnt, tgt.service starts $t_tgt" |
    tee "$E2E_LOG/ordering.txt" >&2
  (( t_dax > 0 && t_mnt > 0 && t_tgt >= t_dax && t_tgt >= t_mnt )) ||
    fail "tgt.service started before its LUNs' device or file system (see ordering.txt)"

  step "a) the LUNs, check-config's report, an iSCSI login over TCP"
  [[ $(lun_type "$IQN-dax" 1) == pmem && $(lun_type "$IQN-file" 1) == pmem ]] ||
    fail "LUN 1 of $IQN-dax / $IQN-file is '$(lun_type "$IQN-dax" 1)' / '$(lun_type "$IQN-file" 1)', not pmem"
  journal_has "10-pmem.conf:2: target $IQN-dax, lun 1, /dev/dax0.0: ok" &&
    journal_has "10-pmem.conf:8: target $IQN-file, lun 1, $MNT/lun1.img: ok" ||
    fail "the journal lacks check-config's ok lines for both LUNs"
  must iscsiadm -m discovery -t sendtargets -p 127.0.0.1:3260 > "$E2E_LOG/discovery.txt"
  must iscsiadm -m node -T "$IQN-dax" -p 127.0.0.1:3260 --login >/dev/null
  local disk="" size want
  for _ in $(seq 1 100); do
    disk=$(iscsiadm -m session -P 3 2>/dev/null | awk '/Attached scsi disk/ {print $4; exit}')
    [[ -n $disk && -b /dev/$disk ]] && break
    sleep 0.2
  done
  [[ -n $disk && -b /dev/$disk ]] || fail "no disk after the login to $IQN-dax"
  size=$(blockdev --getsize64 "/dev/$disk")
  want=$(cat /sys/bus/dax/devices/dax0.0/size)
  (( size == want )) || fail "/dev/$disk has $size bytes, /dev/dax0.0 $want"
  make_pattern "$E2E_WORK/p" 1
  must dd if="$E2E_WORK/p" of="/dev/$disk" bs=1M count=1 oflag=direct status=none
  must dd if="/dev/$disk" of="$E2E_WORK/r" bs=1M count=1 iflag=direct status=none
  cmp -s "$E2E_WORK/p" "$E2E_WORK/r" || fail "what was written to /dev/$disk did not read back"
  must iscsiadm -m node -T "$IQN-dax" -p 127.0.0.1:3260 --logout >/dev/null
  step "a) iSCSI over TCP: /dev/$disk, $size bytes (= dax0.0), 1 MiB written and read back"

  # ---- b) a misspelt bsopts key, a good target after it, a missing file -------------------
  cat > "$CONFD/15-bad.conf" <<EOF
<target $IQN-bad>
    <backing-store $MNT/bad.img>
        bs-type pmem
        bsopts blok_size=4096
        lun 1
    </backing-store>
</target>
EOF
  cat > "$CONFD/20-later.conf" <<EOF
<target $IQN-later>
    <backing-store $MNT/later.img>
        bs-type pmem
        lun 1
    </backing-store>
</target>
<target $IQN-missing>
    <backing-store $MNT/missing.img>
        bs-type pmem
        lun 1
    </backing-store>
</target>
EOF
  step "b1) the mistake without 'ignore-errors yes': systemctl restart tgt"
  # The stop that hangs (below) lasts TimeoutStopSec, Debian's 90 s; 10 s here, for this
  # step only (a runtime drop-in of the test's own): the same path, 80 s less guest time.
  mkdir -p /run/systemd/system/tgt.service.d
  printf '[Service]\nTimeoutStopSec=10s\n' > /run/systemd/system/tgt.service.d/90-e2e-stop-timeout.conf
  must systemctl daemon-reload
  T0=$(date +%s)
  local rc=0 t_restart=$SECONDS
  systemctl restart tgt > "$E2E_LOG/b1-restart.txt" 2>&1 || rc=$?
  t_restart=$((SECONDS - t_restart))
  # When tgt-admin fails, systemd stops tgtd with SIGTERM, which tgtd ignores (it leaves only
  # through 'tgtadm --op delete --mode system'): the restart hangs for TimeoutStopSec (90 s;
  # 10 s in this step),
  # tgtd is SIGKILLed, and Restart=on-failure starts it again - and again, failing each time.
  # What the administrator sees is sampled now; then the loop is ended at once (SIGKILL).
  sleep 2
  local state
  state=$(systemctl show -P ActiveState tgt)/$(systemctl show -P SubState tgt)/$(systemctl show -P Result tgt)
  local served=no
  has_target "$IQN-later" && served=yes
  show_admin b1-no-ignore-errors
  echo "systemctl restart tgt: exit $rc after ${t_restart} s; tgt.service now: $state; $IQN-later served: $served" |
    tee -a "$E2E_LOG/b1.txt" >&2
  (( rc != 0 )) || fail "systemctl restart tgt succeeded with a misspelt bsopts key and no ignore-errors"
  journal_has "15-bad.conf:2: target $IQN-bad, lun 1, $MNT/bad.img: FAILED" &&
    journal_has "unknown key 'blok_size'" ||
    fail "the journal does not name 15-bad.conf:2 and the misspelt key"
  journal_has "status=22" || fail "the journal does not show tgt-admin's exit status 22"
  [[ $served == no ]] || fail "$IQN-later is served although tgt-admin stopped before it"
  # A stop job first (no restart after it), then SIGKILL for the tgtd that ignores SIGTERM.
  systemctl stop --no-block tgt >/dev/null 2>&1
  sleep 1
  systemctl kill --signal=SIGKILL tgt >/dev/null 2>&1
  for _ in $(seq 1 100); do
    [[ $(systemctl show -P ActiveState tgt) == @(inactive|failed) ]] && break
    sleep 0.2
  done
  systemctl reset-failed tgt >/dev/null 2>&1
  [[ $(systemctl show -P ActiveState tgt) == inactive ]] ||
    fail "tgt.service is $(systemctl show -P ActiveState tgt) after the stop that ends b1"
  rm -f /run/systemd/system/tgt.service.d/90-e2e-stop-timeout.conf
  must systemctl daemon-reload

  step "b2) the same with 'ignore-errors yes' in targets.conf: systemctl restart tgt"
  sed -i '1i ignore-errors yes' /etc/tgt/targets.conf
  T0=$(date +%s)
  rc=0
  systemctl restart tgt > "$E2E_LOG/b2-restart.txt" 2>&1 || rc=$?
  show_admin b2-ignore-errors
  (( rc == 0 )) || fail "systemctl restart tgt failed (exit $rc) with ignore-errors yes"
  [[ $(systemctl is-active tgt) == active ]] || fail "tgt.service is $(systemctl is-active tgt) with ignore-errors yes"
  local t l
  for t in dax file later; do
    l=$(lun_type "$IQN-$t" 1)
    [[ $l == pmem ]] || fail "$IQN-$t: LUN 1 is '$l', not pmem, with ignore-errors yes"
  done
  for t in bad missing; do
    has_target "$IQN-$t" || fail "$IQN-$t was not created at all"
    [[ -z $(lun_type "$IQN-$t" 1) ]] || fail "$IQN-$t has a LUN 1 although its configuration is wrong"
  done
  journal_has "15-bad.conf:2: target $IQN-bad, lun 1, $MNT/bad.img: FAILED" &&
    journal_has "unknown key 'blok_size'" &&
    journal_has "20-later.conf:8: target $IQN-missing, lun 1, $MNT/missing.img: FAILED" &&
    journal_has "tgt-admin skips such a LUN silently" ||
    fail "the journal does not name both bad LUNs with file:line and the problem"
  summary "boot: tgt.service active after dev-dax0.0.device and srv-pmem.mount, 2 pmem LUNs, iSCSI/TCP read-back;" \
          "misspelt key: restart fails after ${t_restart} s (status=22, $IQN-later not served) without ignore-errors," \
          "active with it (3 LUNs up, 2 bad ones left out); journal names file:line each time"
  exit 0
}

case ${1:-run} in
  prepare) prepare ;;
  run) run ;;
  *) fail "tgt-service.sh: unknown step '$1'" ;;
esac
