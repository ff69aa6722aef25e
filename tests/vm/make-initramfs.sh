#!/bin/bash
# Build the tiny initramfs the lab boots: static busybox, the modules needed
# to reach the host's root over virtio-9p and put a tmpfs overlay on it, and
# tests/vm/initramfs-init as /init.
#
#   tests/vm/make-initramfs.sh KVER [OUT]
#
# OUT defaults to $NFS_EBPF_VM_CACHE/<KVER>/initramfs.cpio.gz and is reused
# while it is newer than this script, the init and the kernel's modules.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${NFS_EBPF_VM_CACHE:-/var/cache/nfs_ebpf-vm}
BUSYBOX=${NFS_EBPF_VM_BUSYBOX:-/bin/busybox}
# Roots of the dependency trees; modprobe --show-depends lists the rest in
# load order (and says "builtin" for what this kernel has built in).
ROOT_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

die() { echo "make-initramfs: $*" >&2; exit 1; }

# Print the module files (relative to lib/modules/KVER) in load order,
# each once.
module_files() {
	local kdir=$1 kver=$2 m line path
	local -A seen=()
	for m in "${ROOT_MODULES[@]}"; do
		# The 7.x packages ship no modules.builtin, so modprobe cannot
		# tell "built in" from "missing": a root module without a .ko
		# file is taken as built in (the boot says so if it is not).
		if [[ ! -s $kdir/lib/modules/$kver/modules.builtin &&
			! -s $kdir/lib/modules/$kver/modules.builtin.bin ]] &&
			[[ -z $(find "$kdir/lib/modules/$kver/" -name "$m.ko*" -print -quit) ]]; then
			continue
		fi
		while read -r line; do
			case $line in
			insmod\ *)
				path=${line#insmod }
				path=${path%% *}
				path=${path#"$kdir/lib/modules/$kver/"}
				if [[ -z ${seen[$path]:-} ]]; then
					seen[$path]=1
					echo "$path"
				fi
				;;
			builtin\ *) ;;
			*) die "unexpected modprobe output for $m: $line" ;;
			esac
		done < <(modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>&1 ||
			echo "error: modprobe cannot resolve $m")
	done
}

# Copy one module, decompressed: busybox insmod cannot read .xz/.zst.
copy_module() {
	local src=$1 dst=$2
	case $src in
	*.ko.xz) xz -dc "$src" >"${dst%.xz}" ;;
	*.ko.zst) zstd -qdc "$src" >"${dst%.zst}" ;;
	*.ko.gz) gzip -dc "$src" >"${dst%.gz}" ;;
	*.ko) cp "$src" "$dst" ;;
	*) die "unknown module format: $src" ;;
	esac
}

main() {
	[[ $# -ge 1 ]] || die "usage: $0 KVER [OUT]"
	local kver=$1 kdir out
	kdir=$CACHE/$kver
	out=${2:-$kdir/initramfs.cpio.gz}
	[[ -d $kdir/lib/modules/$kver ]] ||
		die "kernel $kver not in $CACHE (run tests/vm/fetch-kernels.sh)"
	[[ -x $BUSYBOX ]] || die "$BUSYBOX missing (apt-get install busybox-static)"
	file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
		die "$BUSYBOX is not statically linked (apt-get install busybox-static)"

	# The lab boots several cells at once: one builder per kernel at a
	# time, the others wait and then find the image fresh.
	exec 9>"$kdir/.initramfs.lock"
	flock 9
	if [[ -s $out && $out -nt $HERE/make-initramfs.sh &&
		$out -nt $HERE/initramfs-init && $out -nt $kdir/.complete ]]; then
		echo "$out"
		return 0
	fi

	local f name list=()
	STAGE=$(mktemp -d)
	local stage=$STAGE
	trap 'rm -rf "$STAGE"' EXIT
	mkdir -p "$stage"/{bin,dev,proc,sys,host,newroot,upper,modules}
	cp "$BUSYBOX" "$stage/bin/busybox"
	ln -s busybox "$stage/bin/sh"
	install -m 0755 "$HERE/initramfs-init" "$stage/init"
	mapfile -t list < <(module_files "$kdir" "$kver")
	for f in "${list[@]}"; do
		[[ $f != error:* ]] || die "${f#error: }"
		name=$(basename "$f")
		copy_module "$kdir/lib/modules/$kver/$f" "$stage/modules/$name"
		# Load order for /init: plain .ko names.
		name=${name%.xz}
		name=${name%.zst}
		echo "${name%.gz}" >>"$stage/modules/order"
	done
	touch "$stage/modules/order"
	(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) |
		gzip -1 >"$out.tmp.$$"
	mv "$out.tmp.$$" "$out"
	echo "$out"
}

main "$@"
