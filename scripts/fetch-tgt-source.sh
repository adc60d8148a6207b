#!/usr/bin/env bash
# Unpacks the source of exactly the installed tgt version into DIR (default build/tgt-src),
# so that bs_pmem is compiled against the same struct layouts as the running tgtd.
# Prints the source tree's path.
set -euo pipefail
dir=${1:-build/tgt-src}
version=$(dpkg-query -W -f='${Version}' tgt)
stamp="$dir/.version"
if [[ -f $stamp && $(cat "$stamp") == "$version" ]]; then
  ls -d "$dir"/tgt-*/ | head -n 1
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
( cd "$dir" && apt-get source -q "tgt=$version" >/dev/null 2>apt-source.log ) || {
  echo "fetch-tgt-source: 'apt-get source tgt=$version' failed; see $dir/apt-source.log" >&2
  exit 1
}
echo "$version" > "$stamp"
ls -d "$dir"/tgt-*/ | head -n 1
