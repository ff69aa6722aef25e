#!/bin/bash
# Soak: pods churning with NFS I/O for NFS_EBPF_SOAK_SECONDS (default 600)
# in a VM of one Debian kernel (default 6.1), traced by the plugin built
# with AddressSanitizer and by the normal build side by side
# (tests/vm/guest/soak.sh says what is checked).
#
#   tests/vm/soak.sh [SERIES]
#
# Builds the ASan plugin from a copy of the tree's tracked files (the tree's
# own build is left alone); the normal plugin is the tree's .libs/nfs_ebpf.so
# (or NFS_EBPF_PLUGIN). Output: TAP lines, the figures (pods a minute, RSS
# after warm-up and at the end), then "N passed, N failed". Results in
# $NFS_EBPF_LAB_OUT/soak-<kver> (default /var/tmp/nfs_ebpf-lab).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SERIES=${1:-6.1}
SECS=${NFS_EBPF_SOAK_SECONDS:-600}
OUT=${NFS_EBPF_LAB_OUT:-/var/tmp/nfs_ebpf-lab}

N=0 FAILED=0
tap() { # tap 0|1 text
	N=$((N + 1))
	if [[ $1 == 0 ]]; then echo "ok $N - $2"; else FAILED=$((FAILED + 1)); echo "not ok $N - $2"; fi
}
finish() {
	echo "$((N - FAILED)) passed, $FAILED failed"
	((FAILED == 0 && N > 0))
	exit
}

plain=${NFS_EBPF_PLUGIN:-$REPO/.libs/nfs_ebpf.so}
if [[ ! -f $plain ]]; then
	tap 1 "soak: plugin built ($plain missing)"
	finish
fi
"$HERE/fetch-kernels.sh" >/dev/null || { tap 1 "soak: kernels fetched"; finish; }
kver=$("$HERE/fetch-kernels.sh" --list | grep -E "^${SERIES//./\\.}\.[0-9]+[-.+]" | sort -V | tail -n1 || true)
if [[ -z $kver ]]; then
	tap 1 "soak: kernel $SERIES is in the cache"
	finish
fi
dir=$OUT/soak-$kver
rm -rf "$dir"
mkdir -p "$dir/build"

# The ASan build: same sources, same configure, sanitizer flags on.
build() {
	(cd "$REPO" && git ls-files -z --cached --others --exclude-standard) |
		(cd "$REPO" && tar cf - --null --no-recursion -T -) | tar xf - -C "$dir/build"
	cd "$dir/build"
	./autogen.sh && ./configure CFLAGS="-O1 -g -fsanitize=address -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address" && make -j"$(nproc)"
}
if (build) >"$dir/build.log" 2>&1; then
	tap 0 "soak: plugin built with AddressSanitizer"
else
	tap 1 "soak: plugin built with AddressSanitizer (see $dir/build.log)"
	tail -n 20 "$dir/build.log" | sed 's/^/# /'
	finish
fi

start=$SECONDS
rc=0
NFS_EBPF_PLUGIN=$plain NFS_EBPF_SOAK_ASAN_PLUGIN=$dir/build/.libs/nfs_ebpf.so \
	NFS_EBPF_SOAK_SECONDS=$SECS NFS_EBPF_VM_TIMEOUT=$((SECS + 1800)) \
	"$HERE/run-vm.sh" "$kver" "$HERE/guest/soak.sh" "$dir/vm" >"$dir/run-vm.log" 2>&1 || rc=$?
echo "# soak on $kver: VM run $rc, $((SECONDS - start)) s"
if [[ -s $dir/vm/guest.tap ]]; then
	while IFS= read -r line; do
		case $line in
		"ok "*) tap 0 "soak $SERIES: ${line#ok * - }" ;;
		"not ok "*) tap 1 "soak $SERIES: ${line#not ok * - }" ;;
		esac
	done <"$dir/vm/guest.tap"
fi
if ((rc == 0)); then
	tap 0 "soak $SERIES: VM scenario completed"
else
	tap 1 "soak $SERIES: VM scenario completed (see $dir/vm)"
	grep -h '^lab: FAILED' "$dir/vm/guest.log" 2>/dev/null | sed 's/^/# /' || true
fi
[[ ! -f $dir/vm/figures.txt ]] || sed 's/^/# /' "$dir/vm/figures.txt"
[[ ! -f $dir/vm/rss.tsv ]] || sed 's/^/# rss /' "$dir/vm/rss.tsv"
finish
