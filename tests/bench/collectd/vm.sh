#!/bin/bash
# What collectd spends on the real plugin on a busy node, in a lab VM
# (issue 11, item 3): N pods (default 250) each doing open, write, read,
# getattr and close on 4 NFS mounts every interval, so the plugin's kernel
# maps hold N x 4 x 5 real keys (5,000 by default), and collectd with the
# built plugin, then with a baseline build if given, with write_prometheus
# and with network (to a second collectd in the VM). Per case: how long
# until every series is visible, collectd's CPU over that fill, then over
# STEADY intervals its CPU (all threads, with a scrape every 30 s), RSS,
# write queue and dropped values. One boot, one kernel; prints the table
# (report: results.tsv). Prints figures, asserts no timing.
#
#   tests/bench/collectd/vm.sh [KERNEL]        # default 6.1
#
# Environment: PODS (250), INTERVAL (collectd's, s; 10), FILL_MAX (s; 900),
# OUTPUTS (the cases, "write_prometheus network"),
# STEADY (intervals; 12), NFS_EBPF_BENCH_BASELINE (another build's
# nfs_ebpf.so, measured in the same boot), NFS_EBPF_BENCH_OUT (default
# /var/tmp/nfs_ebpf-collectd-vm), NFS_EBPF_PLUGIN, and run-vm.sh's
# NFS_EBPF_VM_* knobs (timeout here 10800 s).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../vm/host-lib.sh
source "$REPO/tests/vm/host-lib.sh"
OUT=${NFS_EBPF_BENCH_OUT:-/var/tmp/nfs_ebpf-collectd-vm}
BASELINE=${NFS_EBPF_BENCH_BASELINE:-}
export NFS_EBPF_VM_TIMEOUT=${NFS_EBPF_VM_TIMEOUT:-10800}

die() { echo "collectd-vm: $*" >&2; exit 1; }

main() {
	local k=${1:-6.1} kver so rc=0 dir
	so=$(plugin_path) || die "plugin not built (./autogen.sh && ./configure && make), or set NFS_EBPF_PLUGIN"
	[[ -z $BASELINE ]] || BASELINE=$(realpath "$BASELINE")
	kver=$("$REPO/tests/vm/fetch-kernels.sh" --series "$k") || die "kernel $k not available"
	mkdir -p "$OUT/bin"
	gcc -std=gnu11 -O2 -Wall -Wextra -o "$OUT/bin/pods" "$HERE/pods.c" || die "building pods.c failed"
	dir=$OUT/$kver
	rm -rf "$dir"
	mkdir -p "$dir"
	"$REPO/tests/vm/run-vm.sh" "$kver" "$HERE/vm-guest.sh" "$dir" --bin "$OUT/bin" \
		--plugin "$so" ${BASELINE:+--baseline "$BASELINE"} --pods "${PODS:-250}" \
		--interval "${INTERVAL:-10}" --fill-max "${FILL_MAX:-900}" --steady "${STEADY:-12}" \
		--outputs "${OUTPUTS:-write_prometheus network}" || rc=$?
	echo "collectd-vm: $kver: VM exited $rc (results in $dir)" >&2
	[[ ! -s $dir/info.txt ]] || sed 's/^/# /' "$dir/info.txt"
	[[ ! -s $dir/results.tsv ]] || column -t -s $'\t' "$dir/results.tsv"
	return "$rc"
}

main "$@"
