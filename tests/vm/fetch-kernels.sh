#!/bin/bash
# Download and unpack the Debian kernels the VM lab boots (5.10, 6.1, 6.12
# and the newest kernel Debian ships, from unstable: series "sid") into a
# cache, without touching the host's apt state or installed packages.
#
#   tests/vm/fetch-kernels.sh            # fetch (if needed) and list kernels
#   tests/vm/fetch-kernels.sh --list     # only print what the cache holds
#   tests/vm/fetch-kernels.sh --series S # print the cached kernel of series S
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
# 6.12 for bookworm is the +deb12 backport in bookworm-security. "sid" is
# whatever kernel unstable carries today (7.x when this was written): its
# version is not known in advance, so the series name is recorded beside it
# ($CACHE/<series>.kver) for lab.sh.
SERIES=(
	"5.10 bullseye,bullseye-security ^linux-image-5\.10\.0-[0-9]+-amd64$"
	"6.1 bookworm,bookworm-security ^linux-image-6\.1\.0-[0-9]+-amd64$"
	"6.12 bookworm-security ^linux-image-6\.12\.[0-9]+\+deb12-amd64$"
	"sid unstable ^linux-image-[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9]+)?\+[a-z0-9.]+-amd64$"
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
SRCID=""
setup_apt() {
	local main sec sources
	read -r main sec < <(mirror_uris)
	# Private sources: every suite the series above need, nothing else.
	sources=$(cat <<-EOF
		deb [signed-by=$KEYRING] $main bullseye main
		deb [signed-by=$KEYRING] $sec bullseye-security main
		deb [signed-by=$KEYRING] $main bookworm main
		deb [signed-by=$KEYRING] $sec bookworm-security main
		deb [signed-by=$KEYRING] $main unstable main
	EOF
	)
	# Sources, lists and apt's package caches are named after their
	# content: the cache is shared, and a copy of this script with other
	# suites (an older checkout) must neither rewrite our sources, prune
	# our lists nor rebuild apt's cache under us.
	SRCID=$(md5sum <<<"$sources" | cut -c1-12)
	mkdir -p "$APTDIR/lists.$SRCID/partial" "$APTDIR/cache/archives/partial" "$APTDIR/etc"
	echo "$sources" >"$APTDIR/etc/sources.$SRCID.list"
	APT_OPTS=(
		-o "Dir::Etc::SourceList=$APTDIR/etc/sources.$SRCID.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$APTDIR/lists.$SRCID"
		-o "Dir::Cache=$APTDIR/cache"
		-o "Dir::Cache::pkgcache=$APTDIR/pkgcache.$SRCID.bin"
		-o "Dir::Cache::srcpkgcache=$APTDIR/srcpkgcache.$SRCID.bin"
		-o Dir::State::status=/dev/null
		-o APT::Architecture=amd64
		-o Debug::NoLocking=1
	)
}

apt_update() {
	# Refresh at most once a day: the lists are only needed to pick versions.
	local stamp=$APTDIR/lists.$SRCID/updated
	if [[ -f $stamp ]] && [[ -z $(find "$stamp" -mmin +1440) ]]; then
		return 0
	fi
	log "updating private package lists"
	apt-get "${APT_OPTS[@]}" -q update >"$APTDIR/update.$SRCID.log" 2>&1 ||
		die "apt-get update failed, see $APTDIR/update.$SRCID.log"
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
	# Since 7.x (unstable) linux-image-KVER is a small package depending
	# on linux-binary-KVER (the vmlinuz) and linux-modules-KVER; take
	# those too where they exist.
	local pkgs=("$pkg") extra
	for extra in "linux-binary-$kver" "linux-modules-$kver"; do
		if apt-cache "${APT_OPTS[@]}" show "$extra" >/dev/null 2>&1; then
			pkgs+=("$extra")
		fi
	done
	log "downloading ${pkgs[*]}"
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	(cd "$tmp" && apt-get "${APT_OPTS[@]}" -q download "${pkgs[@]}" >"$tmp/download.log" 2>&1) ||
		{ cat "$tmp/download.log" >&2; rm -rf "$tmp"; die "apt-get download ${pkgs[*]} failed"; }
	rm -rf "$dest"
	mkdir -p "$dest"
	for deb in "$tmp"/*.deb; do
		dpkg -x "$deb" "$dest"
	done
	rm -rf "$tmp"
	# The 7.x packages are merged-/usr and keep the image beside the
	# modules (usr/lib/modules/KVER/vmlinuz): give them the usual layout.
	if [[ ! -e $dest/lib && -d $dest/usr/lib/modules/$kver ]]; then
		ln -s usr/lib "$dest/lib"
	fi
	if [[ ! -f $dest/boot/vmlinuz-$kver && -f $dest/lib/modules/$kver/vmlinuz ]]; then
		mkdir -p "$dest/boot"
		ln -s "../lib/modules/$kver/vmlinuz" "$dest/boot/vmlinuz-$kver"
	fi
	[[ -f $dest/boot/vmlinuz-$kver ]] || die "$pkg has no boot/vmlinuz-$kver"
	[[ -d $dest/lib/modules/$kver ]] || die "$pkg has no lib/modules/$kver"
	depmod -b "$dest" "$kver" || die "depmod failed for $kver"
	touch "$dest/.complete"
	echo "$kver"
}

# The cached kernel of a series: the recorded one for named series (sid),
# else the newest cached version starting with "<series>.".
series_kver() {
	local series=$1 kver
	if [[ -f $CACHE/$series.kver ]]; then
		kver=$(cat "$CACHE/$series.kver")
		[[ -f $CACHE/$kver/.complete ]] && echo "$kver"
		return 0
	fi
	list_cache | grep -E "^${series//./\\.}\.[0-9]+[-.+]" | sort -V | tail -n1 || true
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
	if [[ ${1:-} == --series ]]; then
		series_kver "${2:?--series needs a series}"
		return 0
	fi
	command -v apt-get >/dev/null || die "apt-get is required"
	mkdir -p "$CACHE"
	# One fetch at a time: run-tests.sh starts the soak and the lab side by
	# side, and two apt-get updates writing the same private lists corrupt
	# each other ("Splitting up ... InRelease into data and signature
	# failed"). The second waits, then finds the lists and kernels fresh.
	exec 8>"$CACHE/.fetch.lock"
	flock 8
	setup_apt
	apt_update
	local line series suites regex found
	for line in "${SERIES[@]}"; do
		read -r series suites regex <<<"$line"
		found=$(newest_pkg "$regex" "$suites") ||
			die "no linux-image package for $series in $suites"
		unpack "$found"
		[[ $series =~ ^[0-9] ]] || echo "${found#linux-image-}" >"$CACHE/$series.kver"
	done
}

main "$@"
