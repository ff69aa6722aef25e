#!/bin/bash
# Build the binary RPM collectd-nfs-ebpf from this source tree in a scratch
# rpmbuild top directory (the tree itself stays untouched):
#   packaging/rpm/build.sh COLLECTD_TARBALL [OUTDIR]   (default ./_build/rpm)
# COLLECTD_TARBALL is collectd's source (the version the RPM will run with):
# upstream's collectd-5.12.0.tar.bz2, or any tarball of that tree with one
# top directory. The .rpm files end up in OUTDIR.
# Environment: COLLECTD_VERSION (default 5.12.0), RPMBUILD_OPTS (extra
# rpmbuild options; on a machine that is not an RPM distribution, e.g.
# Debian, "--nodeps": the BuildRequires are there under Debian's names).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tarball=${1:?usage: build.sh COLLECTD_TARBALL [OUTDIR]}
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
out=${2:-$src/_build/rpm}
mkdir -p "$out"
out=$(cd "$out" && pwd)
spec=$src/packaging/rpm/collectd-nfs-ebpf.spec
name=$(rpmspec -q --srpm --qf '%{name}-%{version}' "$spec")
work=$(mktemp -d /tmp/nfs-ebpf-rpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/SOURCES" "$work/stage"
"$src/packaging/copy-sources.sh" "$work/stage/$name"
tar czf "$work/SOURCES/$name.tar.gz" -C "$work/stage" "$name"
cp "$tarball" "$work/SOURCES/"
# shellcheck disable=SC2086
rpmbuild -bb --define "_topdir $work" \
	--define "collectd_version ${COLLECTD_VERSION:-5.12.0}" \
	--define "collectd_tarball $(basename "$tarball")" \
	${RPMBUILD_OPTS:-} "$spec"
cp "$work"/RPMS/*/*.rpm "$out"/
ls "$out"/*.rpm
