#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds (once) the cached e2e guest: a Debian bookworm root file system as a raw ext4 image
# plus the kernel and initrd it boots with.
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
readonly kRecipe=1
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
     -f $cache/rootfs.img && -f $cache/vmlinuz && -f $cache/initrd.img ]]
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

install -m 0755 "$here/guest/boot-stub" "$rootfs/sbin/e2e-boot"
echo tgt-pmem-e2e > "$rootfs/etc/hostname"
: > "$rootfs/etc/fstab"
rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_Packages
chroot "$rootfs" dpkg-query -W -f='${Package} ${Version}\n' > "$work/versions.txt"

kernels=("$rootfs"/boot/vmlinuz-*)
initrds=("$rootfs"/boot/initrd.img-*)
if [[ ${#kernels[@]} -ne 1 || ${#initrds[@]} -ne 1 || ! -f ${kernels[0]} || ! -f ${initrds[0]} ]]; then
  log "expected exactly one kernel and initrd in $rootfs/boot"
  exit 1
fi
cp "${kernels[0]}" "$work/vmlinuz"
cp "${initrds[0]}" "$work/initrd.img"

# Size: what the tree uses plus 1 GiB of room (scenarios write logs and scratch files; the
# image is opened snapshot=on, so nothing is written back to the cache).
used_mib=$(du -sm "$rootfs" | cut -f1)
size_mib=$(( used_mib + 1024 ))
mkfs.ext4 -q -F -L e2e-root -d "$rootfs" "$work/rootfs.img" "${size_mib}M" >&2
remove_tree "$rootfs"

for f in rootfs.img vmlinuz initrd.img versions.txt; do mv -f "$work/$f" "$cache/$f"; done
mv -f "$work/debootstrap.log" "$cache/debootstrap.log"
rmdir "$work" 2>/dev/null || true
echo "$hash" > "$cache/stamp"
log "guest image ready in $((SECONDS - start)) s: $cache (${used_mib} MiB used)"
echo "$cache"
