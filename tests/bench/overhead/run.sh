#!/bin/bash
# What nfs_ebpf costs the NFS calls it traces, measured in lab VMs:
#
#   tests/bench/overhead/run.sh [KERNEL...]     # default: 6.1 6.12
#
# KERNEL is a series of tests/vm/fetch-kernels.sh (6.1, 6.12, 5.10, sid) or
# a kernel version in its cache (/var/cache/nfs_ebpf-vm). Each kernel is ONE
# boot of tests/vm/run-vm.sh (qemu TCG) running guest.sh: knfsd on tmpfs, an
# NFSv3 mount of it with a cached file set, and RUNS rounds in which every
# configuration runs every workload once, the order of the configurations
# rotating from round to round so that drift hits them all alike:
#   untraced         nothing attached
#   floor-fentry     an EMPTY fentry/fexit pair on every function nfs_ebpf
#                    hooks (the list is src/probe/tracer.c's hooks[])
#   floor-kprobe     an EMPTY kprobe/kretprobe pair on the same functions
#   nfs_ebpf-fentry  collectd with the built plugin, AttachMode "fentry"
#   nfs_ebpf-kprobe  collectd with the built plugin, AttachMode "kprobe"
# Workloads (workload.c, built here, run in a pod's cgroup pinned to one
# vCPU): stat() of a file (nfs_getattr), 4 KiB pread() from the page cache
# (nfs_file_read), open+close (nfs_file_open, nfs_file_flush), and
# create+close+unlink (nfs_create/atomic_open, nfs_unlink, ...).
# The floor's programs (floor.bpf.c, clang -target bpf) are loaded by
# floor.c (libbpf); the difference between floor and untraced is what any
# hook there costs, the one between nfs_ebpf and floor what nfs_ebpf does.
# Then, with kernel.bpf_stats_enabled=1, one more run of every traced
# configuration gives the kernel's run_time_ns / run_cnt per program.
#
# Prints markdown tables (report.py): median µs per operation of each
# workload under each configuration, its ratio to untraced and nfs_ebpf's to
# the floor of its attach mode; then the accounting per hooked function in
# ns per call. Absolute times under TCG mean nothing; ratios within one run
# do. Nothing is asserted: the exit status is non-zero only when something
# could not run (build, boot, a program that did not load or attach,
# collectd that did not start).
#
# Environment:
#   NFS_EBPF_BENCH_RUNS      timed rounds (default 15; 3 for a quick look)
#   NFS_EBPF_BENCH_ACCT_RUNS rounds of the kernel's accounting (default 3;
#                            the tables give the median per call)
#   NFS_EBPF_BENCH_BASELINE  another build's plugin .so: it runs as two more
#                            configurations (baseline-fentry, -kprobe) in
#                            the same rounds, and the tables compare it
#   NFS_EBPF_BENCH_COUNTS    operations per run, "stat=N read=N open=N
#                            create=N" (default below, sized for about 1 to
#                            3 s per workload under TCG on a loaded host)
#   NFS_EBPF_BENCH_MOUNT     NFS mount options (default vers=3,nolock,nocto,
#                            actimeo=3600: stat, read and open+close stay in
#                            the client's caches, create+unlink goes to the
#                            server)
#   NFS_EBPF_BENCH_INTERVAL  collectd Interval in s (default 10)
#   NFS_EBPF_BENCH_OUT       results (default /var/tmp/nfs_ebpf-overhead):
#                            OUT/<kver>/ has raw.tsv (every timed run),
#                            summary.tsv (medians, spread, minimum,
#                            ratios), accounting.tsv, table.md, guest.log,
#                            the snapshots behind them; OUT/bin the binaries
#   NFS_EBPF_PLUGIN          plugin .so (default the build tree's)
#   and run-vm.sh's: NFS_EBPF_VM_SMP (default 2), NFS_EBPF_VM_TIMEOUT
#   (default here 14400 s), NFS_EBPF_VM_MEM, NFS_EBPF_VM_CACHE.
# One kernel at a time: never two VMs at once on a small host.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../vm/host-lib.sh
source "$REPO/tests/vm/host-lib.sh"
OUT=${NFS_EBPF_BENCH_OUT:-/var/tmp/nfs_ebpf-overhead}
RUNS=${NFS_EBPF_BENCH_RUNS:-15}
ACCT_RUNS=${NFS_EBPF_BENCH_ACCT_RUNS:-3}
BASELINE=${NFS_EBPF_BENCH_BASELINE:-}
COUNTS=${NFS_EBPF_BENCH_COUNTS:-stat=50000 read=50000 open=20000 create=100}
MOUNT=${NFS_EBPF_BENCH_MOUNT:-vers=3,nolock,nocto,actimeo=3600}
INTERVAL=${NFS_EBPF_BENCH_INTERVAL:-10}
export NFS_EBPF_VM_SMP=${NFS_EBPF_VM_SMP:-2}
export NFS_EBPF_VM_TIMEOUT=${NFS_EBPF_VM_TIMEOUT:-14400}

die() { echo "overhead: $*" >&2; exit 1; }

build() {
	local bin=$OUT/bin
	mkdir -p "$bin"
	gcc -std=gnu11 -O2 -Wall -Wextra -o "$bin/workload" "$HERE/workload.c" ||
		die "building workload.c failed"
	gcc -std=gnu11 -O2 -g -Wall -Wextra -o "$bin/floor" "$HERE/floor.c" -lbpf ||
		die "building floor.c failed (libbpf-dev)"
	clang -target bpf -O2 -g -c "$HERE/floor.bpf.c" -o "$bin/floor.bpf.o" ||
		die "building floor.bpf.c failed (clang)"
}

# The functions nfs_ebpf hooks: the first field of each entry of hooks[].
hooked_functions() {
	sed -nE 's/^[[:space:]]*\{"([a-z0-9_]+)", SET_[A-Z0-9]+,.*/\1/p' "$REPO/src/probe/tracer.c" | tr '\n' ' '
}

main() {
	local kernels=("$@") k kver dir so funcs rc failed=0 start
	if [[ ${1:-} == -h || ${1:-} == --help ]]; then
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		return 0
	fi
	((${#kernels[@]})) || kernels=(6.1 6.12)
	so=$(plugin_path) || die "plugin not built (./autogen.sh && ./configure && make), or set NFS_EBPF_PLUGIN"
	funcs=$(hooked_functions)
	[[ -n $funcs ]] || die "no hooked functions found in src/probe/tracer.c"
	build
	if [[ -n $BASELINE ]]; then
		[[ -f $BASELINE ]] || die "NFS_EBPF_BENCH_BASELINE: no such file $BASELINE"
		BASELINE=$(realpath "$BASELINE")
	fi
	echo "overhead: plugin $so${BASELINE:+, baseline $BASELINE}; $RUNS rounds," \
		"$ACCT_RUNS of accounting; $COUNTS; mount $MOUNT" >&2
	echo "overhead: hooked functions: $funcs" >&2
	for k in "${kernels[@]}"; do
		kver=$(kver_of "$k")
		if [[ -z $kver ]]; then
			echo "overhead: kernel $k not in the cache (tests/vm/fetch-kernels.sh)" >&2
			failed=1
			continue
		fi
		dir=$OUT/$kver
		mkdir -p "$dir"
		start=$SECONDS
		rc=0
		"$REPO/tests/vm/run-vm.sh" "$kver" "$HERE/guest.sh" "$dir" \
			--bin "$OUT/bin" --plugin "$so" --runs "$RUNS" --counts "$COUNTS" \
			--acct-runs "$ACCT_RUNS" ${BASELINE:+--baseline "$BASELINE"} \
			--mount-options "$MOUNT" --interval "$INTERVAL" --funcs "$funcs" || rc=$?
		echo "overhead: $kver: VM exited $rc after $((SECONDS - start))s (results in $dir)" >&2
		if ((rc != 0)); then
			failed=1
			[[ ! -s $dir/problems.txt ]] || sed 's/^/overhead: problem: /' "$dir/problems.txt" >&2
			grep -h 'lab: FAILED' "$dir/guest.log" 2>/dev/null | sed 's/^/overhead: /' >&2 || true
		fi
		if [[ -s $dir/raw.tsv && -s $dir/info.txt ]]; then
			python3 "$HERE/report.py" "$dir" | tee "$dir/table.md"
		fi
	done
	return "$failed"
}

main "$@"
