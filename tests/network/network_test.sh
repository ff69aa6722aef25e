#!/bin/bash
# TAP test: nfs_ebpf's bucket type crosses collectd's network plugin, between
# two REAL collectd 5.x daemons on loopback. The sender loads the shipped
# collectd.conf.d/nfs_ebpf-types.db (as the plugin registers the type for
# itself); value lists are fed through its unixsock's PUTVAL, the
# plugin_dispatch_values path the plugin uses. Receivers:
#   - with the shipped types.db: every bucket arrives, under its data
#     source name (docs/identifiers.md, "The bucket type");
#   - with the stock types.db only: the buckets are dropped with collectd's
#     "Dataset not found" error, the other values still arrive;
#   - a type for other bounds (nfs_ebpf_buckets_<hex>) that the receiver
#     does not know is dropped the same way, never given the default names.
#   tests/network/network_test.sh
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
typesdb=$here/collectd.conf.d/nfs_ebpf-types.db
# shellcheck source=tests/lib/tap.sh
source "$here/tests/lib/tap.sh"

if [[ ! -x /usr/sbin/collectd || ! -r $typesdb ]]; then
	nok "/usr/sbin/collectd and $typesdb exist"
	echo "1..$n"
	exit 1
fi
tmp=$(mktemp -d /tmp/nfs-ebpf-network-test.XXXXXX)
pids=()
stop_all() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap stop_all EXIT
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The type for the bounds 1e-05 and 0.001, as the plugin would log it.
custom_type=nfs_ebpf_buckets_0badc0de
printf '%s\tle_1em05:DERIVE:0:U, le_0_001:DERIVE:0:U, le_inf:DERIVE:0:U\n' \
	"$custom_type" >"$tmp/custom-types.db"

start_collectd() { # NAME TYPESDB-LINE PLUGIN-CONFIG
	local name=$1 dir=$tmp/$1
	mkdir -p "$dir"
	cat >"$dir/collectd.conf" <<-C
		Hostname "$name"
		FQDNLookup false
		Interval 60
		WriteThreads 1
		BaseDir "$dir"
		PIDFile "$dir/collectd.pid"
		$2
		LoadPlugin unixsock
		<Plugin unixsock>
		  SocketFile "$dir/sock"
		</Plugin>
		LoadPlugin network
		$3
	C
	/usr/sbin/collectd -C "$dir/collectd.conf" -f >"$dir/collectd.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [[ -S $dir/sock ]] && break; sleep 0.1; done
	[[ -S $dir/sock ]]
}

# Sends (or asks) over a unixsock; prints the answers.
unixsock() { # SOCKET COMMAND...
	python3 - "$@" <<-'EOF'
		import socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.connect(sys.argv[1])
		f = s.makefile("rw")
		for cmd in sys.argv[2:]:
		    f.write(cmd + "\n"); f.flush()
		    head = f.readline()
		    print(head.rstrip())
		    count = int(head.split()[0])
		    for _ in range(max(count, 0)):
		        print(f.readline().rstrip())
	EOF
}

stock='TypesDB "/usr/share/collectd/types.db"'
with_ours="TypesDB \"/usr/share/collectd/types.db\" \"$typesdb\""
port_ours=$(free_port)
port_stock=$(free_port)
listen() { printf '<Plugin network>\n  Listen "127.0.0.1" "%s"\n</Plugin>' "$1"; }
check "receiver with the shipped types.db starts" \
	start_collectd receiver-ours "$with_ours" "$(listen "$port_ours")"
check "receiver with the stock types.db only starts" \
	start_collectd receiver-stock "$stock" "$(listen "$port_stock")"
check "sender with the shipped types.db starts" \
	start_collectd sender "$with_ours
TypesDB \"$tmp/custom-types.db\"" \
	"$(printf '<Plugin network>\n  Server "127.0.0.1" "%s"\n  Server "127.0.0.1" "%s"\n</Plugin>' "$port_ours" "$port_stock")"

W="node1/nfs_ebpf-shop_web-0_nginx"
M="read@10.0.0.5:|vol|data"
# Two updates 10 s apart (explicit times): GETVAL answers a DERIVE with
# its rate, here bucket i grows by 10 i, so its rate is exactly i.
now=$(date +%s)
zeros=$(printf '0%.0s:' $(seq 17))
buckets=$(seq 10 10 170 | paste -sd:)
unixsock "$tmp/sender/sock" \
	"PUTVAL $W/operations-$M $now:17" \
	"PUTVAL $W/nfs_ebpf_buckets-$M $((now - 10)):${zeros%:}" \
	"PUTVAL $W/nfs_ebpf_buckets-$M $now:$buckets" \
	"PUTVAL $W/$custom_type-$M $now:1:2:3" \
	"FLUSH plugin=network" >"$tmp/putval.log" 2>&1
check "the sender accepts the bucket value lists (PUTVAL) and sends them (FLUSH)" \
	bash -c "[ \$(grep -c '^0 ' '$tmp/putval.log') -eq 5 ]"
sed 's/^/# sender: /' "$tmp/putval.log"

# PUTVAL only queues a value list: collectd's write thread hands it to the
# network plugin later, so the FLUSH above may run before the lists are in
# its buffer, and they would then wait for a buffer that never fills. Flush
# again on every round and wait for what arrives, not for a time. One write
# thread per daemon (WriteThreads 1 above) keeps the two bucket updates in
# order: two threads may swap them, and the receiver then drops the older as
# "too old" and answers NaN.
arrived() { # SOCKET IDENTIFIER
	unixsock "$1" "LISTVAL" 2>/dev/null | grep -qF "$2"
}
rate_known() { # SOCKET IDENTIFIER: GETVAL answers a number for le_inf
	unixsock "$1" "GETVAL $2" 2>/dev/null | grep -q '^le_inf=[0-9]'
}
for _ in $(seq 300); do
	unixsock "$tmp/sender/sock" "FLUSH plugin=network" >/dev/null 2>&1
	rate_known "$tmp/receiver-ours/sock" "$W/nfs_ebpf_buckets-$M" &&
		arrived "$tmp/receiver-stock/sock" "$W/operations-$M" &&
		grep -q "Dataset not found: $custom_type" "$tmp/receiver-ours/collectd.log" &&
		grep -q 'Dataset not found: nfs_ebpf_buckets ' "$tmp/receiver-stock/collectd.log" && break
	sleep 0.2
done

unixsock "$tmp/receiver-ours/sock" "GETVAL $W/nfs_ebpf_buckets-$M" >"$tmp/ours.txt" 2>&1
sed 's/^/# receiver-ours: /' "$tmp/ours.txt"
check "shipped types.db: all 17 buckets arrive" grep -q '^17 Values found' "$tmp/ours.txt"
check "shipped types.db: each bucket under its data source name (le_0_0001 first, le_2_5 14th, le_inf last)" \
	bash -c "grep -qx 'le_0_0001=1.000000e+00' '$tmp/ours.txt' && grep -qx 'le_2_5=1.400000e+01' '$tmp/ours.txt' && grep -qx 'le_inf=1.700000e+01' '$tmp/ours.txt'"

unixsock "$tmp/receiver-stock/sock" "LISTVAL" >"$tmp/stock-list.txt" 2>&1
check "stock types.db: the other values arrive" grep -qF "$W/operations-$M" "$tmp/stock-list.txt"
check "stock types.db: the buckets do not arrive" \
	bash -c "! grep -qF 'nfs_ebpf_buckets' '$tmp/stock-list.txt'"
check "stock types.db: collectd says why (Dataset not found: nfs_ebpf_buckets)" \
	grep -q 'Dataset not found: nfs_ebpf_buckets' "$tmp/receiver-stock/collectd.log"

unixsock "$tmp/receiver-ours/sock" "LISTVAL" >"$tmp/ours-list.txt" 2>&1
check "other bounds' type unknown to the receiver: dropped, not given the default names" \
	bash -c "! grep -qF '$custom_type' '$tmp/ours-list.txt' && grep -q 'Dataset not found: $custom_type' '$tmp/receiver-ours/collectd.log'"
echo "1..$n"
