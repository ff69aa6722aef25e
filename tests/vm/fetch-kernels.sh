#!/bin/bash
# Download and unpack the Debian kernels the VM lab boots (5.10, 6.1, 6.12)
# into a cache, without touching the host's apt state or installed packages.
#
#   tests/vm/fetch-kernels.sh            # fetch (if needed) and list kernels
#   tests/vm/fetch-kernels.sh --list     # only print what the cache holds
#
# Layout: $NFS_EBPF_VM_CACHE/<kver>/{boot/vmlinuz-<kver>,lib/modules/<kver>}
# (default cache /var/cache/nfs_ebpf-vm). Prints one kernel version a line.
#
# The mirror is read at run time from the host's apt sources: the project
# never names a mirror host itself.
set -euo pipefail

CACHE=${NFS_EBPF_VM_CACHE:-/var/cache/nfs_ebpf-vm}
SOURCES=${NFS_EBPF_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
APTDIR=$CACHE/.apt

# Kernel series the lab needs: "<series> <suites> <package name regex>".
# 6.12 for bookworm is the +deb12 backport in bookworm-security.
SERIES=(
	"5.10 bullseye,bullseye-security ^linux-image-5\.10\.0-[0-9]+-amd64$"
	"6.1 bookworm,bookworm-security ^linux-image-6\.1\.0-[0-9]+-amd64$"
	"6.12 bookworm-security ^linux-image-6\.12\.[0-9]+\+deb12-amd64$"
)

die() { echo "fetch-kernels: $*" >&2; exit 1; }
log() { echo "fetch-kernels: $*" >&2; }

# URIs of the archive and of the security archive, as configured on the host.
# deb822 first, then one-line format as a fallback.
mirror_uris() {
	local main="" sec=""
	if [[ -r $SOURCES ]]; then
		while read -r uri; do
			case $uri in
			*security*) [[ -n $sec ]] || sec=$uri ;;
			*) [[ -n $main ]] || main=$uri ;;
			esac
		done < <(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$SOURCES")
	fi
	if [[ -z $main && -r /etc/apt/sources.list ]]; then
		main=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
		sec=$(awk '$1=="deb" && $0 ~ /security/ {print $2; exit}' /etc/apt/sources.list)
	fi
	[[ -n $main ]] || die "no Debian archive URI found in $SOURCES or /etc/apt/sources.list"
	# The security archive lives beside the main one on every Debian mirror
	# layout we know of; derive it only when the host did not configure one.
	[[ -n $sec ]] || sec=${main%/debian}/debian-security
	echo "$main $sec"
}

APT_OPTS=()
setup_apt() {
	local main sec
	read -r main sec < <(mirror_uris)
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/etc"
	# Private sources: every suite the series above need, nothing else.
	cat >"$APTDIR/etc/sources.list" <<-EOF
		deb [signed-by=$KEYRING] $main bullseye main
		deb [signed-by=$KEYRING] $sec bullseye-security main
		deb [signed-by=$KEYRING] $main bookworm main
		deb [signed-by=$KEYRING] $sec bookworm-security main
	EOF
	APT_OPTS=(
		-o "Dir::Etc::SourceList=$APTDIR/etc/sources.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$APTDIR/lists"
		-o "Dir::Cache=$APTDIR/cache"
		-o Dir::State::status=/dev/null
		-o APT::Architecture=amd64
		-o Debug::NoLocking=1
	)
}

apt_update() {
	# Refresh at most once a day: the lists are only needed to pick versions.
	local stamp=$APTDIR/updated
	if [[ -f $stamp ]] && [[ -z $(find "$stamp" -mmin +1440) ]]; then
		return 0
	fi
	log "updating private package lists"
	apt-get "${APT_OPTS[@]}" -q update >"$APTDIR/update.log" 2>&1 ||
		die "apt-get update failed, see $APTDIR/update.log"
	touch "$stamp"
}

# Newest package matching REGEX that one of SUITES (comma separated)
# carries. The kernel ABI number is part of the package name, so a version
# sort of the names finds the newest; prints the package name.
newest_pkg() {
	local regex=$1 suites=$2 pkg
	while read -r pkg; do
		# Only accept it from a wanted suite (the lists hold all four).
		if apt-cache "${APT_OPTS[@]}" policy "$pkg" 2>/dev/null |
			grep -qE " ($(tr , '|' <<<"$suites"))/main "; then
			echo "$pkg"
			return 0
		fi
	done < <(apt-cache "${APT_OPTS[@]}" pkgnames linux-image- 2>/dev/null |
		grep -E "$regex" | sort -rV)
	return 1
}

unpack() {
	local pkg=$1 kver=${1#linux-image-} dest tmp deb
	dest=$CACHE/$kver
	if [[ -f $dest/.complete ]]; then
		echo "$kver"
		return 0
	fi
	log "downloading $pkg"
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	(cd "$tmp" && apt-get "${APT_OPTS[@]}" -q download "$pkg" >"$tmp/download.log" 2>&1) ||
		{ cat "$tmp/download.log" >&2; rm -rf "$tmp"; die "apt-get download $pkg failed"; }
	deb=$(ls "$tmp"/*.deb)
	rm -rf "$dest"
	mkdir -p "$dest"
	dpkg -x "$deb" "$dest"
	rm -rf "$tmp"
	[[ -f $dest/boot/vmlinuz-$kver ]] || die "$pkg has no boot/vmlinuz-$kver"
	[[ -d $dest/lib/modules/$kver ]] || die "$pkg has no lib/modules/$kver"
	depmod -b "$dest" "$kver" || die "depmod failed for $kver"
	touch "$dest/.complete"
	echo "$kver"
}

list_cache() {
	local d
	for d in "$CACHE"/*/; do
		[[ -f $d/.complete ]] && basename "$d"
	done
	return 0
}

main() {
	if [[ ${1:-} == --list ]]; then
		list_cache
		return 0
	fi
	command -v apt-get >/dev/null || die "apt-get is required"
	mkdir -p "$CACHE"
	setup_apt
	apt_update
	local line series suites regex found
	for line in "${SERIES[@]}"; do
		read -r series suites regex <<<"$line"
		found=$(newest_pkg "$regex" "$suites") ||
			die "no linux-image package for $series in $suites"
		unpack "$found"
	done
}

main "$@"
