#!/bin/bash
# wire_probe: a lab probe for the wire level (what the NAS had to do, per
# Pod). Builds the probe, boots one lab VM per kernel (default 6.1 6.12;
# module BTF is needed, so not 5.10) and prints, for a known workload in
# three cgroups, the probe's per-procedure sums beside /proc/self/mountstats
# and who each RPC was charged to (guest.sh says what runs, report.py what
# is printed). Prints; asserts nothing.
#
#   tests/tools/wire-probe/run.sh [KERNEL...]
#
# NFS_EBPF_PROBE_OUT: results (default /var/tmp/nfs_ebpf-wire-probe/KVER).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../../vm/host-lib.sh
source "$REPO/tests/vm/host-lib.sh"
OUT=${NFS_EBPF_PROBE_OUT:-/var/tmp/nfs_ebpf-wire-probe}

mkdir -p "$OUT/bin"
clang -target bpf -D__TARGET_ARCH_x86 -O2 -g -c "$HERE/wire_probe.bpf.c" \
	-o "$OUT/bin/wire_probe.bpf.o"
gcc -std=gnu11 -O2 -g -Wall -Wextra -o "$OUT/bin/wire_probe" "$HERE/wire_probe.c" -lbpf

kernels=("$@")
((${#kernels[@]})) || kernels=(6.1 6.12)
failed=0
for k in "${kernels[@]}"; do
	kver=$(kver_of "$k")
	[[ -n $kver ]] || { echo "wire-probe: kernel $k not fetched (tests/vm/fetch-kernels.sh)" >&2; failed=1; continue; }
	rc=0
	"$REPO/tests/vm/run-vm.sh" "$kver" "$HERE/guest.sh" "$OUT/$kver" --bin "$OUT/bin" || rc=$?
	echo "wire-probe: $kver: VM exited $rc (results in $OUT/$kver)"
	((rc == 0)) || failed=1
	grep -v '^lab: ' "$OUT/$kver/guest.log" 2>/dev/null | grep -v '^cgroup ' || true
done
exit "$failed"
