#!/bin/bash
# Build the Debian binary package collectd-nfs-ebpf from this source tree
# in a scratch copy (the tree itself stays untouched):
#   packaging/deb/build.sh [OUTDIR]     (default OUTDIR: ./_build/deb)
# The .deb files end up in OUTDIR. Needs the Build-Depends of
# packaging/deb/debian/control (tests/deps.txt has them).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/_build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/nfs-ebpf-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree=$work/collectd-nfs-ebpf-0.1.0
# the sources as they are in the work tree, without build products
"$src/packaging/copy-sources.sh" "$tree"
rm -rf "$tree/debian"
cp -r "$tree/packaging/deb/debian" "$tree/debian"
(cd "$tree" && dpkg-buildpackage -us -uc -b ${DPKG_BUILDPACKAGE_OPTS:-})
cp "$work"/*.deb "$out"/
ls "$out"/*.deb
