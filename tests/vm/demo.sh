#!/bin/bash
# Live demo: one VM (Debian 6.1 kernel, qemu TCG) with knfsd, NFSv3 and
# NFSv4.2 mounts, collectd + the freshly built nfs_ebpf plugin, two pods
# doing NFS I/O; prints the scraped pod-level nfs_ebpf lines, raw and (when
# Prometheus is installed) after the shipped relabel rules.
#
#   tests/vm/demo.sh            (NFS_EBPF_PLUGIN=... to pick the .so)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=host-lib.sh
source "$HERE/host-lib.sh"
OUT=${NFS_EBPF_LAB_OUT:-/var/tmp/nfs_ebpf-lab}/demo

die() { echo "demo: $*" >&2; exit 1; }

main() {
	local kver so
	"$HERE/fetch-kernels.sh" >/dev/null || die "could not fetch the kernels"
	kver=$("$HERE/fetch-kernels.sh" --list | grep -E '^6\.1\.' | sort -V | tail -n1)
	[[ -n $kver ]] || die "no 6.1 kernel in the cache"
	so=$(plugin_path) || die "plugin not built (run ./demo.sh or make first)"
	export NFS_EBPF_PLUGIN=$so
	rm -rf "$OUT"
	mkdir -p "$OUT"
	echo "== booting $kver under qemu TCG (collectd + $so, AttachMode auto)"
	if ! "$HERE/run-vm.sh" "$kver" "$HERE/guest/scenario.sh" "$OUT" --mode auto --order mixed; then
		tail -n 20 "$OUT/guest.log" 2>/dev/null || true
		die "the demo VM failed (logs in $OUT)"
	fi
	echo "== plugin log"
	grep 'nfs_ebpf plugin' "$OUT/collectd.log" | head -n 10
	echo "== write_prometheus, pod series (plugin_instance <namespace>_<pod>_<container>)"
	grep -E '^collectd_nfs_ebpf_[a-z_]+\{nfs_ebpf="[^@"]' "$OUT/metrics.txt" |
		grep -E '^collectd_nfs_ebpf_(total_bytes|operations)_total' | sed -E 's/ [0-9]+$//' | sort
	if command -v prometheus >/dev/null && [[ -x $REPO/tests/prom/relabel-through-prometheus.sh ]]; then
		echo "== after contrib/prometheus/scrape-config.yml (bytes per pod)"
		"$REPO/tests/prom/relabel-through-prometheus.sh" "$OUT/metrics.txt" "$OUT/relabeled.json" \
			'nfs_ebpf_bytes_total{pod!=""}' >"$OUT/relabel.log" 2>&1 ||
			die "relabelling failed (see $OUT/relabel.log)"
		python3 - "$OUT/relabeled.json" <<-'EOF'
			import json, sys
			for s in sorted(json.load(open(sys.argv[1])), key=lambda s: sorted(s["metric"].items())):
			    m = s["metric"]
			    print("nfs_ebpf_bytes_total{namespace=%r,pod=%r,container=%r,server=%r,export=%r,op=%r} %s"
			          % (m.get("namespace"), m.get("pod"), m.get("container"), m.get("server"),
			             m.get("export"), m.get("op"), s["value"][1]))
		EOF
	fi
	echo "== results in $OUT"
}

main "$@"
