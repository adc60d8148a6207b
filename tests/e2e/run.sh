#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# tgt-pmem end-to-end tests: boots a Debian guest under QEMU (TCG) with an emulated NVDIMM and
# Soft-RoCE, runs scenarios/<name>.sh inside it against the distribution's tgtd, and turns
# the guest's E2E-RESULT lines into an exit status.
#
#   run.sh [options] [SCENARIO...]        (default: every scenarios/*.sh, in one boot)
#     --module PATH    a tgtd module (bs_pmem.so, srp_ext.so) to install in the guest's
#                      /usr/lib/tgt/backing-store/; repeatable
#     --bin PATH       a program for the scenarios, put in the guest's PATH; repeatable
#     --systemd DIR    tgt-pmem's systemd and udev files as configured for installation
#                      (BUILD/packaging/systemd: drop-in, generator, udev rule), for the
#                      scenarios that run the real tgt.service (guest: /e2e/systemd)
#     --bstype NAME    backing store to test (default: pmem with --module, else rdwr)
#     --bsopts STR     --bsopts for the LUN (bs_pmem: "key=value;key=value")
#     --out DIR        logs and scratch files (default: /tmp/tgt-pmem-e2e); the console is
#                      DIR/console.log, the scenarios' logs DIR/guest/<scenario>/, the
#                      perf scenarios' figures DIR/figures/<scenario>.{json,md,png}
#                      (figures.sh)
#     --timeout SEC    hard limit for the whole boot (default 1500)
#     --kernel NAME    default (Debian 12's 6.1) or backports (bookworm-backports' kernel:
#                      rxe implements RDMA FLUSH from 6.2 on)
#     --rdma-core DIR  a private rdma-core install prefix (scripts/build-rdma-core-new.sh)
#                      to run tgtd and the --bin programs with: copied into the guest at the
#                      same path (its libibverbs finds its providers there); E2E_RDMA_CORE
#     --bench          run the scenarios' measurements too (E2E_BENCH=1 in the guest): the
#                      benchmark parts of mirror and srp-lio-reference; the suite leaves
#                      them out (the bench-<scenario> targets pass it)
#     --shell          interactive: console on this terminal, a root shell after the
#                      scenarios (none given: right after setup); exit it to power off
#     --list           print the scenario names and exit
#
# Environment: TGTPMEM_E2E_CACHE (guest image cache, default /var/cache/tgt-pmem/e2e),
# TGTPMEM_E2E_MIRROR (Debian mirror for the first build), TGTPMEM_E2E_ACCEL (default tcg),
# TGTPMEM_E2E_KEEP=1 (keep the NVDIMM backing file and the artefact disk).
#
# Exit: 0 all requested scenarios PASS, 1 a FAIL or a missing result, 2 usage, 77 the host
# cannot run the guest (no qemu/debootstrap, not root), or no scenario failed but one of them
# was skipped (the guest could not run it) - CTest reports a skip, never a pass, then.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command_line=$(printf '%q ' "$0" "$@")
modules=() bins=() systemd_dir="" bstype="" bsopts="" out=${TMPDIR:-/tmp}/tgt-pmem-e2e timeout=1500 shell=0
kernel=default rdma_core="" bench=0
scenarios=()

usage() { sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2; }
all_scenarios() { for f in "$here"/scenarios/*.sh; do basename "$f" .sh; done; }

while (( $# )); do
  case $1 in
    --module) modules+=("$2"); shift 2 ;;
    --bin) bins+=("$2"); shift 2 ;;
    --systemd) systemd_dir=$2; shift 2 ;;
    --bstype) bstype=$2; shift 2 ;;
    --bsopts) bsopts=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --kernel) kernel=$2; shift 2 ;;
    --rdma-core) rdma_core=$2; shift 2 ;;
    --bench) bench=1; shift ;;
    --shell) shell=1; shift ;;
    --list) all_scenarios; exit 0 ;;
    -h|--help) usage ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) scenarios+=("$1"); shift ;;
  esac
done
[[ -n $bstype ]] || { (( ${#modules[@]} )) && bstype=pmem || bstype=rdwr; }
if (( ${#scenarios[@]} == 0 && ! shell )); then
  mapfile -t scenarios < <(all_scenarios)
fi
for s in "${scenarios[@]}"; do
  [[ -f $here/scenarios/$s.sh ]] || { echo "run.sh: no scenario '$s' (--list)" >&2; exit 2; }
done

log() { echo "e2e: $*" >&2; }
case $kernel in
  default) kernel_files=(vmlinuz initrd.img) ;;
  backports) kernel_files=(vmlinuz-backports initrd-backports.img) ;;
  *) echo "run.sh: --kernel must be default or backports" >&2; exit 2 ;;
esac
if [[ -n $rdma_core ]]; then
  [[ -f $rdma_core/lib/libibverbs.so.1 ]] ||
    { echo "run.sh: --rdma-core $rdma_core: no lib/libibverbs.so.1 there" >&2; exit 2; }
  rdma_core=$(cd "$rdma_core" && pwd)
fi

# ---- can this host run the guest at all? ------------------------------------------------
for tool in qemu-system-x86_64 mkfs.ext4 debugfs; do
  command -v "$tool" >/dev/null || { log "SKIP: $tool missing (TGTPMEM_WITH_E2E=1 scripts/setup-deps.sh)"; exit 77; }
done
if [[ $(id -u) -ne 0 ]]; then
  log "SKIP: needs root (debootstrap for the guest image)"
  exit 77
fi
if [[ $bstype == pmem && " ${modules[*]##*/} " != *" bs_pmem.so "* ]]; then
  log "--bstype pmem needs --module PATH/bs_pmem.so"
  exit 2
fi
for f in "${modules[@]}" "${bins[@]}"; do
  [[ -f $f ]] || { log "$f does not exist (build it first)"; exit 1; }
done

# ---- the cached guest image ----------------------------------------------------------------
t_start=$SECONDS
cache=${TGTPMEM_E2E_CACHE:-/var/cache/tgt-pmem/e2e}
image_rc=0
"$here/image.sh" "$cache" >/dev/null || image_rc=$?
if (( image_rc == 77 )); then
  log "SKIP: cannot build the guest image on this host"
  exit 77
elif (( image_rc != 0 )); then
  log "could not build the guest image in $cache"
  exit 1
fi
t_image=$((SECONDS - t_start))
if (( ${#modules[@]} )); then
  # The module is compiled against the host's tgt headers; tgtd's structs must match.
  host_tgt=$(dpkg-query -W -f='${Version}' tgt 2>/dev/null || echo none)
  guest_tgt=$(awk '$1 == "tgt" {print $2}' "$cache/versions.txt")
  if [[ $host_tgt != "$guest_tgt" ]]; then
    log "guest tgt $guest_tgt != host tgt $host_tgt the module was built against"
    exit 1
  fi
fi

# ---- this run's artefact disk (second virtio disk, /dev/vdb in the guest) -----------------
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage="$out/stage"
rm -rf "$stage" "$out/guest" "$out/console.log"
mkdir -p "$stage/guest" "$stage/scenarios" "$stage/out"
cp "$here/guest/init.sh" "$here/guest/lib.sh" "$stage/guest/"
# Shared with the host tests: iscsi-test-cu's console output as PASS/SKIP/FAIL per test, and
# the table of the skips and failures bs_pmem is known to have, with their reasons.
cp "$here/../lib/cunit_results.sh" "$here/../integration/conformance-skips.txt" "$stage/guest/"
cp "$here"/scenarios/*.sh "$stage/scenarios/"
chmod 0755 "$stage/guest/init.sh"
if (( ${#modules[@]} )); then
  mkdir -p "$stage/module"
  cp "${modules[@]}" "$stage/module/"
fi
if [[ -n $rdma_core ]]; then
  # Libraries, providers and their configuration; not headers, man pages or tools.
  mkdir -p "$stage/rdma-core"
  cp -a "$rdma_core/lib" "$rdma_core/etc" "$stage/rdma-core/"
fi
if [[ -n $systemd_dir ]]; then
  [[ -f $systemd_dir/tgt-pmem-generator ]] ||
    { log "--systemd $systemd_dir: no tgt-pmem-generator there (build first)"; exit 1; }
  mkdir -p "$stage/systemd"
  cp "$systemd_dir"/* "$stage/systemd/"
fi
if (( ${#bins[@]} )); then
  mkdir -p "$stage/bin"
  cp "${bins[@]}" "$stage/bin/"
  chmod 0755 "$stage/bin/"*
fi
# Scenario budget: what is left of the boot's time, shared, minus boot and shutdown.
per_scenario=$(( (timeout - 180) / (${#scenarios[@]} > 0 ? ${#scenarios[@]} : 1) ))
(( per_scenario > 900 )) && per_scenario=900
(( per_scenario < 60 )) && per_scenario=60
{
  printf 'E2E_BSTYPE=%q\n' "$bstype"
  printf 'E2E_BSOPTS=%q\n' "$bsopts"
  printf 'E2E_SCENARIOS=%q\n' "${scenarios[*]}"
  printf 'E2E_SHELL=%q\n' "$shell"
  printf 'E2E_BENCH=%q\n' "$bench"
  printf 'E2E_GUEST_TIMEOUT=%q\n' "$(( shell ? 86400 : timeout - 30 ))"
  printf 'E2E_SCENARIO_TIMEOUT=%q\n' "$per_scenario"
  printf 'E2E_RDMA_CORE=%q\n' "$rdma_core"
} > "$stage/config"
artefacts="$out/artefacts.img"
rm -f "$artefacts"
mkfs.ext4 -q -F -L e2e-run -d "$stage" "$artefacts" 256M >/dev/null

# The NVDIMM's backing file: fresh and zero for every run.
nvdimm="$out/nvdimm.img"
rm -f "$nvdimm"
truncate -s 1G "$nvdimm"

# Scenarios that run under systemd (a line '# e2e: systemd': tgt-service) get a second
# NVDIMM, so that a devdax and an fsdax namespace exist at once through a boot. It is 1 GiB
# like the first: which of the two QEMU makes region0 is its choice (the second, in practice),
# and region0 is what the other scenarios of the same boot use. Runs without such a scenario
# have one DIMM, as before.
nvdimm2=""
for s in "${scenarios[@]}"; do
  if grep -qx '# e2e: systemd' "$here/scenarios/$s.sh"; then
    nvdimm2="$out/nvdimm2.img"
    rm -f "$nvdimm2"
    truncate -s 1G "$nvdimm2"
    break
  fi
done

cleanup() {
  if [[ ${TGTPMEM_E2E_KEEP:-0} != 1 ]]; then
    rm -f "$nvdimm" "$artefacts" ${nvdimm2:+"$nvdimm2"}
  fi
  rm -rf "$stage"
}
trap cleanup EXIT

# ---- boot ----------------------------------------------------------------------------------
accel=${TGTPMEM_E2E_ACCEL:-tcg}
# shellcheck disable=SC2054  # the commas belong to QEMU's option syntax
qemu=(qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -machine pc,nvdimm=on
      -m 4G,slots=2,maxmem=8G
      -object "memory-backend-file,id=mem1,share=on,mem-path=$nvdimm,size=1G"
      -device nvdimm,id=nv1,memdev=mem1
      -kernel "$cache/${kernel_files[0]}" -initrd "$cache/${kernel_files[1]}"
      -drive "file=$cache/rootfs.img,format=raw,if=virtio,snapshot=on"
      -drive "file=$artefacts,format=raw,if=virtio"
      -nic none -no-reboot)
if [[ -n $nvdimm2 ]]; then
  # shellcheck disable=SC2054
  qemu+=(-object "memory-backend-file,id=mem2,share=on,mem-path=$nvdimm2,size=1G"
         -device nvdimm,id=nv2,memdev=mem2)
fi
append="root=/dev/vda rw console=ttyS0 init=/sbin/e2e-boot panic=1"

if (( shell )); then
  log "interactive guest (console on this terminal; Ctrl-A X quits QEMU)"
  set +e
  "${qemu[@]}" -nographic -append "$append" 2>&1 | tee "$out/console.log"
  set -e
  exit 0
fi

log "booting guest ($accel) for: ${scenarios[*]} (bstype $bstype; console: $out/console.log)"
t_boot=$SECONDS
set +e
timeout -k 10 "$timeout" "${qemu[@]}" -display none -monitor none -serial "file:$out/console.log" \
  -append "$append quiet" </dev/null >"$out/qemu.log" 2>&1
qemu_rc=$?
set -e
t_boot=$((SECONDS - t_boot))

# The scenarios' own logs, from the artefact disk.
mkdir -p "$out/guest"
debugfs -R "rdump /out $out/guest" "$artefacts" >/dev/null 2>&1 || log "could not copy the guest's logs"
[[ -d $out/guest/out ]] && { cp -a "$out/guest/out/." "$out/guest/"; rm -rf "$out/guest/out"; }

# The perf scenarios' figures (JSON, markdown table, PNG) in $out/figures, rendered here: the
# guest has neither jq nor gnuplot. A scenario without figures leaves nothing; one whose
# figures cannot be rendered is reported and still judged by its own result line.
if command -v jq >/dev/null; then
  for s in "${scenarios[@]}"; do
    [[ -d $out/guest/$s ]] || continue
    "$here/figures.sh" --command "${command_line% }" "$s" "$out/guest/$s" "$out/figures" ||
      log "the figures of $s could not be rendered (see above)"
  done
else
  log "no figures: jq is not installed"
fi

# ---- verdict -------------------------------------------------------------------------------
tr -d '\r' < "$out/console.log" > "$out/console.txt"
failed=0 skipped=0
echo "e2e results (bstype $bstype, image $t_image s, boot $t_boot s):"
for s in "${scenarios[@]}"; do
  line=$(grep -a "^E2E-RESULT $s " "$out/console.txt" | tail -n 1 || true)
  if [[ -z $line ]]; then
    echo "  $s: FAIL (no result line; the guest did not finish it)"
    failed=1
    continue
  fi
  read -r _ _ status detail <<< "$line"
  echo "  $s: $status $detail"
  case $status in
    PASS) ;;
    SKIP) skipped=1 ;;
    *) failed=1 ;;
  esac
done
if (( qemu_rc == 124 || qemu_rc == 137 )); then
  echo "  QEMU killed by the hard timeout of $timeout s"
  failed=1
elif (( qemu_rc != 0 )); then
  echo "  QEMU exited with status $qemu_rc (see $out/qemu.log)"
  failed=1
fi
grep -aq '^E2E-DONE' "$out/console.txt" || { echo "  the guest never printed E2E-DONE"; failed=1; }
if (( failed )); then
  echo "--- last lines of the guest console ($out/console.txt) ---"
  grep -av '^\[' "$out/console.txt" | tail -n 40
fi
echo "e2e: logs in $out (console.txt, guest/<scenario>/)"
if (( !failed && skipped )); then
  echo "e2e: not every scenario ran (SKIP above): reported as skipped, not passed"
  exit 77
fi
exit "$failed"
