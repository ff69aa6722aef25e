#!/bin/bash
# Helpers for the host side of the VM scripts (lab.sh, demo.sh and the
# overhead benchmark), sourced after they set REPO to the tree's root.

# plugin_path: the absolute path of the plugin to test: NFS_EBPF_PLUGIN if
# set, else the build tree's (.libs/ of an in-tree or src/ build). Status 1
# if there is none.
plugin_path() {
	local so
	for so in "${NFS_EBPF_PLUGIN:-}" "$REPO/.libs/nfs_ebpf.so" "$REPO/src/.libs/nfs_ebpf.so"; do
		[[ -n $so && -f $so ]] && { realpath "$so"; return 0; }
	done
	return 1
}

# kver_of SERIES|KVER: the full version of a cached kernel (6.1 ->
# 6.1.0-NN-amd64); empty if tests/vm/fetch-kernels.sh has not fetched it.
kver_of() {
	local cache=${NFS_EBPF_VM_CACHE:-/var/cache/nfs_ebpf-vm}
	if [[ -f $cache/$1/boot/vmlinuz-$1 ]]; then
		echo "$1"
	else
		"$REPO/tests/vm/fetch-kernels.sh" --series "$1"
	fi
}
