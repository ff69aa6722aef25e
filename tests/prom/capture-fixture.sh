#!/bin/bash
# Capture tests/prom/fixtures/write_prometheus.txt from a REAL collectd 5.x
# with write_prometheus: the nfs_ebpf identifiers below are dispatched through
# the exec plugin's PUTVAL (the same plugin_dispatch_values path the plugin
# uses), next to the stock cpu and load plugins and an in-tree-nfs-plugin-like
# series whose name also starts with collectd_nfs_. The relabel test runs the
# committed capture through Prometheus; rerun this to refresh it:
#   tests/prom/capture-fixture.sh > tests/prom/fixtures/write_prometheus.txt
# The wire level's columns are one multi-value PUTVAL of nfs_ebpf_rpc and
# its RTT histogram one of nfs_ebpf_rtt_buckets (both in the shipped
# types.db). A histogram is one multi-value PUTVAL of nfs_ebpf's bucket type (one data
# source per bucket, docs/identifiers.md "The bucket type"): the default
# bounds' nfs_ebpf_buckets from the shipped collectd.conf.d/nfs_ebpf-types.db,
# and other bounds' nfs_ebpf_buckets_<hex> from a types.db written here, so
# the capture holds both family name forms and every le spelling (1e-05,
# 1e+06, 2.5, +Inf). One plugin uses one set of bounds; a collectd receiving
# several nodes' values may see both.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/nfs-ebpf-capture.XXXXXX)
chmod 755 "$tmp"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# `Bucket 0.00001 0.001 0.01 0.1 1 2.5 1000000`: the type the plugin
# registers for these bounds (the hex digits: the top 32 bits of the FNV-1a
# 64-bit hash of the data source names joined by spaces)
cat >"$tmp/types-fixture.db" <<'T'
nfs_ebpf_buckets_2228590e	le_1em05:DERIVE:0:U, le_0_001:DERIVE:0:U, le_0_01:DERIVE:0:U, le_0_1:DERIVE:0:U, le_1:DERIVE:0:U, le_2_5:DERIVE:0:U, le_1ep06:DERIVE:0:U, le_inf:DERIVE:0:U
T

# identifier (as nfs_ebpf dispatches it) and value(s), ':'-separated
cat >"$tmp/values" <<'V'
nfs_ebpf-shop_web-0_nginx/operations-read@10.0.0.5:|vol|data 10
nfs_ebpf-shop_web-0_nginx/nfs_ebpf_buckets_2228590e-read@10.0.0.5:|vol|data 0:3:7:9:10:10:10:10
nfs_ebpf-shop_web-0_nginx/duration-read@10.0.0.5:|vol|data 0.125
nfs_ebpf-shop_web-0_nginx/nfs_ebpf_buckets-write@10.0.0.5:|vol|data 0:0:0:0:0:1:1:1:1:2:2:2:2:2:2:2:2
nfs_ebpf-shop_web-0_nginx/duration-write@10.0.0.5:|vol|data 0.0625
nfs_ebpf-shop_web-0_nginx/total_bytes-read@10.0.0.5:|vol|data 40960
nfs_ebpf-shop_web-0_nginx/total_bytes-write@10.0.0.5:|vol|data 8192
nfs_ebpf-shop_web-0_nginx/operations-write@10.0.0.5:|vol|data 2
nfs_ebpf-shop_web-0_nginx/errors-open-ENOENT@10.0.0.5:|vol|data 4
nfs_ebpf-kube-system_csi-nfs-node-7x2k9_liveness-probe/operations-getattr@[fd00::1]:|exports|team|a|b|c|d|e|f|g|h|i|j 5
nfs_ebpf-kube-system_csi-nfs-node-7x2k9_liveness-probe/errors-getattr-ESTALE@[fd00::1]:|exports|team|a|b|c|d|e|f|g|h|i|j 1
nfs_ebpf-@kubelet.service/operations-lookup@nfs.example.com:|srv|nfs_share.v2 7
nfs_ebpf-@kubelet.service/errors-lookup-EACCES@nfs.example.com:|srv|nfs_share.v2 2
nfs_ebpf-@|/operations-fsync@fileserver:| 3
nfs_ebpf-@system.slice|backup.service/operations-write@fileserver:vol: 6
nfs_ebpf-@system.slice|backup.service/operations-read@10.0.0.5:~0123456789ab 9
nfs_ebpf-@user.slice/errors-write-EIO@10.0.0.5:|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x 1
nfs_ebpf-shop_web-0-very-long-name~0123456789ab_nginx/operations-readdir@10.0.0.5:|vol|data 1
nfs_ebpf-argo_data-pipeline-nightly-ingest-data-pipeline-nightly-ingest-data-pipeline-nightly-ingest-data-pipeline-nig~020ffc47d5db_main/operations-read@10.0.0.5:|vol|data 11
nfs_ebpf-@~656ce3a8fd56/operations-read@10.0.0.5:|vol|data 13
nfs_ebpf-shop_web-0_nginx/nfs_ebpf_rpc-WRITE@10.0.0.5:|vol|data 16:18:1:2:1052864:3200:15:1.5:0.25:2
nfs_ebpf-shop_web-0_nginx/nfs_ebpf_rtt_buckets-WRITE@10.0.0.5:|vol|data 0:0:0:10:10:10:10:10:10:15:15:15:15:15:15:15:15
nfs_ebpf-@nfs-client/nfs_ebpf_rpc-SEQUENCE@10.0.0.5: 7:7:0:0:868:560:7:0:0.01:0.02
nfs_ebpf/derive-stats_map_full 12
nfs_ebpf/derive-missed_return 0
nfs-v3client/nfs_procedure-read 42
V
{
	echo '#!/bin/sh'
	echo 'while :; do'
	while read -r id val; do
		echo "echo 'PUTVAL \"node1/$id\" interval=1 N:$val'"
	done <"$tmp/values"
	echo 'sleep 1; done'
} >"$tmp/emit.sh"
chmod 755 "$tmp/emit.sh"
cat >"$tmp/collectd.conf" <<C
Hostname "node1"
FQDNLookup false
Interval 1
TypesDB "/usr/share/collectd/types.db" "$repo/collectd.conf.d/nfs_ebpf-types.db" "$tmp/types-fixture.db"
LoadPlugin cpu
LoadPlugin load
LoadPlugin exec
LoadPlugin write_prometheus
<Plugin exec>
  Exec "nobody" "$tmp/emit.sh"
</Plugin>
<Plugin write_prometheus>
  Host "127.0.0.1"
  Port "$port"
</Plugin>
C
collectd -f -C "$tmp/collectd.conf" >"$tmp/collectd.log" 2>&1 &
pid=$!
# one series per value (a histogram line holds one per bucket)
want=$(awk '{n += split($2, v, ":")} END {print n}' "$tmp/values")
for _ in $(seq 150); do
	if curl -fsS "http://127.0.0.1:$port/metrics" -o "$tmp/m" 2>/dev/null &&
		[ "$(grep -c -e '^collectd_nfs_ebpf_' -e '^collectd_nfs_nfs' "$tmp/m")" -ge "$want" ] &&
		grep -q '^collectd_cpu_total' "$tmp/m" && grep -q '^collectd_load_' "$tmp/m"; then
		# keep the cpu family short: the first CPU only
		grep -v -E '^collectd_cpu_total\{cpu="[1-9]' "$tmp/m"
		exit 0
	fi
	sleep 0.2
done
echo "capture failed" >&2
cat "$tmp/collectd.log" >&2
exit 1
