#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds (once) the cached e2e guest: a Debian bookworm root file system as a raw ext4 image
# plus the kernels and initrds it boots with: Debian 12's own kernel (vmlinuz, initrd.img), the
# default, and bookworm-backports' (vmlinuz-backports, initrd-backports.img), for what 6.1
# lacks: rxe implements RDMA FLUSH from 6.2 on (run.sh --kernel backports).
#
#   image.sh [CACHE_DIR]      (default $TGTPMEM_E2E_CACHE, else /var/cache/tgt-pmem/e2e)
#
# CACHE_DIR/stamp holds a hash of packages.list, guest/boot-stub and kRecipe below; the image
# is rebuilt only when that hash changes (or a file is missing). Prints CACHE_DIR on success.
# Needs root (debootstrap, chroot) and the Debian mirror of the host's apt sources
# (override with TGTPMEM_E2E_MIRROR). Concurrent callers are serialised by flock.
# Exit 0 ready, 77 this host cannot build it (no debootstrap, not root), 1 the build failed.
set -euo pipefail

# Bump when the way the image is made changes (not for package list edits: those are hashed).
readonly kRecipe=2
readonly kSuite=bookworm

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${1:-${TGTPMEM_E2E_CACHE:-/var/cache/tgt-pmem/e2e}}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

log() { echo "e2e-image: $*" >&2; }

packages=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/packages.list" | grep -v '^$' | paste -sd, -)
hash=$( { echo "recipe $kRecipe suite $kSuite"; echo "$packages"; cat "$here/guest/boot-stub"; } \
        | sha256sum | cut -d' ' -f1)

is_current() {
  [[ -f $cache/stamp && $(cat "$cache/stamp") == "$hash" &&
     -f $cache/rootfs.img && -f $cache/vmlinuz && -f $cache/initrd.img &&
     -f $cache/vmlinuz-backports && -f $cache/initrd-backports.img ]]
}

exec 9>"$cache/.lock"
flock 9
if is_current; then
  echo "$cache"
  exit 0
fi

# The Debian mirror the host's apt uses (deb822 first, then one-line format).
mirror=${TGTPMEM_E2E_MIRROR:-}
if [[ -z $mirror && -f /etc/apt/sources.list.d/debian.sources ]]; then
  mirror=$(awk -v suite="$kSuite" '
      /^[[:space:]]*$/ { if (uris != "" && ok) { print uris; exit } uris = ""; ok = 0; next }
      /^URIs:/   { uris = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END        { if (uris != "" && ok) print uris }' /etc/apt/sources.list.d/debian.sources |
    head -n 1)
fi
if [[ -z $mirror ]]; then
  mirror=$(awk -v suite="$kSuite" '$1 == "deb" && $3 == suite { print $2; exit }' \
             /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1)
fi
[[ -n $mirror ]] || { log "no Debian mirror found; set TGTPMEM_E2E_MIRROR"; exit 1; }
# Exit 77 (run.sh: skip) when this host cannot build the image at all.
command -v debootstrap >/dev/null || { log "debootstrap missing (TGTPMEM_WITH_E2E=1 scripts/setup-deps.sh)"; exit 77; }
[[ $(id -u) -eq 0 ]] || { log "building the guest image needs root (debootstrap)"; exit 77; }

# remove_tree DIR: a debootstrap killed half-way can leave /proc or /sys mounted inside the
# tree; unmount those first and never let rm cross into another file system.
remove_tree() {
  local m
  [[ -e $1 ]] || return 0
  findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$1"
}

work="$cache/build.tmp"
remove_tree "$work"
mkdir -p "$work"
rootfs="$work/rootfs"
start=$SECONDS
log "building guest image in $cache (debootstrap $kSuite from $mirror; log: $work/debootstrap.log)"
if ! debootstrap --variant=minbase --include="$packages" "$kSuite" "$rootfs" "$mirror" \
       >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  log "debootstrap failed; full log: $work/debootstrap.log"
  exit 1
fi
log "debootstrap done in $((SECONDS - start)) s"

kernels=("$rootfs"/boot/vmlinuz-*)
if [[ ${#kernels[@]} -ne 1 || ! -f ${kernels[0]} ]]; then
  log "expected exactly one kernel in $rootfs/boot after debootstrap"
  exit 1
fi
default_kver=${kernels[0]##*/vmlinuz-}

# The backports kernel, beside the default one (its modules go to /lib/modules/<its version>;
# user space stays bookworm's). Only the kernel comes from backports.
log "installing bookworm-backports' kernel"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
echo "deb $mirror ${kSuite}-backports main" > "$rootfs/etc/apt/sources.list.d/backports.list"
mount -t proc proc "$rootfs/proc"
if ! { chroot "$rootfs" apt-get -q update &&
       DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -q -y \
         --no-install-recommends "linux-image-amd64/${kSuite}-backports"; } \
       >"$work/backports.log" 2>&1; then
  umount "$rootfs/proc"
  tail -n 30 "$work/backports.log" >&2
  log "installing the backports kernel failed; full log: $work/backports.log"
  exit 1
fi
umount "$rootfs/proc"
rm -f "$rootfs/etc/apt/sources.list.d/backports.list" "$rootfs/etc/resolv.conf"
log "backports kernel installed in $((SECONDS - start)) s"

install -m 0755 "$here/guest/boot-stub" "$rootfs/sbin/e2e-boot"
echo tgt-pmem-e2e > "$rootfs/etc/hostname"
: > "$rootfs/etc/fstab"
rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_Packages
chroot "$rootfs" dpkg-query -W -f='${Package} ${Version}\n' > "$work/versions.txt"

backports_kver=""
for k in "$rootfs"/boot/vmlinuz-*; do
  [[ ${k##*/vmlinuz-} == "$default_kver" ]] || backports_kver=${k##*/vmlinuz-}
done
for v in "$default_kver" "$backports_kver"; do
  if [[ -z $v || ! -f $rootfs/boot/vmlinuz-$v || ! -f $rootfs/boot/initrd.img-$v ]]; then
    log "expected a kernel and an initrd for $default_kver and for the backports kernel in $rootfs/boot"
    exit 1
  fi
done
cp "$rootfs/boot/vmlinuz-$default_kver" "$work/vmlinuz"
cp "$rootfs/boot/initrd.img-$default_kver" "$work/initrd.img"
cp "$rootfs/boot/vmlinuz-$backports_kver" "$work/vmlinuz-backports"
cp "$rootfs/boot/initrd.img-$backports_kver" "$work/initrd-backports.img"

# Size: what the tree uses plus 1 GiB of room (scenarios write logs and scratch files; the
# image is opened snapshot=on, so nothing is written back to the cache).
used_mib=$(du -sm "$rootfs" | cut -f1)
size_mib=$(( used_mib + 1024 ))
mkfs.ext4 -q -F -L e2e-root -d "$rootfs" "$work/rootfs.img" "${size_mib}M" >&2
remove_tree "$rootfs"

for f in rootfs.img vmlinuz initrd.img vmlinuz-backports initrd-backports.img versions.txt; do
  mv -f "$work/$f" "$cache/$f"
done
mv -f "$work/debootstrap.log" "$work/backports.log" "$cache/"
rmdir "$work" 2>/dev/null || true
echo "$hash" > "$cache/stamp"
log "guest image ready in $((SECONDS - start)) s: $cache (${used_mib} MiB used)"
echo "$cache"
