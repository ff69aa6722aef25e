#!/bin/bash
# TAP test: nfs-ebpf-top against a REAL collectd 5.x (unixsock and
# write_prometheus loaded). nfs_ebpf's identifiers are fed through the
# unixsock's PUTVAL (the same plugin_dispatch_values path the plugin uses)
# with explicit timestamps ten seconds apart, so collectd's rates are known
# exactly whatever the machine's speed: 10 ops/s, 4096 B/s and so on. The
# latency buckets are one value list of type nfs_ebpf_buckets (one data
# source per bucket, docs/identifiers.md): the plugin registers that type
# itself, a collectd without it reads it from the shipped types.db.
#   tests/top/collectd_test.sh [path/to/nfs-ebpf-top]
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
top=${1:-$here/nfs-ebpf-top}
# shellcheck source=tests/lib/tap.sh
source "$here/tests/lib/tap.sh"

if [[ ! -x $top || ! -x /usr/sbin/collectd ]]; then
	nok "nfs-ebpf-top ($top) and /usr/sbin/collectd exist"
	exit 1
fi
tmp=$(mktemp -d /tmp/nfs-ebpf-top-test.XXXXXX)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
# The shipped types.db of the default bounds, and a type of other bounds
# (0.01 0.1 +Inf) as the plugin logs its line.
types=$here/collectd.conf.d/nfs_ebpf-types.db
if [[ ! -f $types ]]; then
	nok "the shipped types.db $types exists"
	exit 1
fi
printf 'nfs_ebpf_buckets_f4d60fe4\tle_0_01:DERIVE:0:U, le_0_1:DERIVE:0:U, le_inf:DERIVE:0:U\n' >"$tmp/other-bounds.db"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/collectd.conf" <<C
Hostname "node1"
FQDNLookup false
Interval 60
BaseDir "$tmp"
PIDFile "$tmp/collectd.pid"
TypesDB "/usr/share/collectd/types.db" "$types" "$tmp/other-bounds.db"
LoadPlugin unixsock
<Plugin unixsock>
  SocketFile "$tmp/sock"
</Plugin>
LoadPlugin write_prometheus
<Plugin write_prometheus>
  Host "127.0.0.1"
  Port "$port"
</Plugin>
C
/usr/sbin/collectd -C "$tmp/collectd.conf" -f >"$tmp/collectd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -S $tmp/sock ]] && break; sleep 0.1; done

# Two updates of each value, at t0 and t0 + 10 s (recent enough that
# neither collectd's cache nor write_prometheus expires them).
if ! python3 - "$tmp/sock" >"$tmp/putval.log" 2>&1 <<'EOF'; then
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
M = "@127.0.0.1:|srv|nfs|export"
W = "node1/nfs_ebpf-shop_web-0_nginx/"
L = "node1/nfs_ebpf-batch_loader-7d9f8c6b5-x2kqp_loader/"
# the default bounds: 0.0001 0.00025 0.0005 0.001 0.0025 0.005 0.01 0.025
# 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf; 50 of 100 <= 1 ms, 90 <= 50 ms
buckets = [0, 0, 0, 50, 50, 50, 50, 50, 90] + [100] * 8
values = [  # identifier, value at t0, value at t0 + 10 (":" between several)
    (W + "operations-read" + M, 100, 200),
    (W + "total_bytes-read" + M, 0, 40960),
    (W + "errors-read-ESTALE" + M, 0, 5),
    (W + "duration-read" + M, 1.0, 1.5),
    (W + "nfs_ebpf_buckets-read" + M, ":".join(["0"] * 17), ":".join(map(str, buckets))),
    (L + "operations-write" + M, 0, 30),
    (L + "total_bytes-write" + M, 0, 30720),
    (L + "nfs_ebpf_buckets_f4d60fe4-write" + M, "0:0:0", "0:30:30"),
    ("node1/nfs_ebpf-@nfs-backup.service/operations-write@10.0.0.5:|vol", 0, 10),
    ("node1/nfs_ebpf/derive-missed_return", 0, 20),
    ("node1/cpu-0/cpu-idle", 0, 1000),
]
# 300 more, 1 op/s each: more values than the tool asks for in one batch
values += [("node1/nfs_ebpf-bulk_many-0_c/operations-op%d" % k + M, 0, 10) for k in range(300)]
t0 = int(time.time()) - 20
for i, t in enumerate((t0, t0 + 10)):
    for ident, *v in values:
        f.write('PUTVAL "%s" interval=60 %d:%s\n' % (ident, t, v[i]))
        f.flush()
        answer = f.readline()
        if not answer.startswith("0 "):
            sys.exit("PUTVAL %s: %s" % (ident, answer))
EOF
	nok "PUTVAL into collectd's unixsock"
	sed 's/^/# /' "$tmp/putval.log" "$tmp/collectd.log"
	exit 1
fi
ok "311 value lists (2 of them buckets) put twice into a real collectd through its unixsock"

# field ROW COLUMN FILE: a column (1-based) of the row whose name is ROW
field() { awk -v r="$1" -v c="$2" '$1 == r { print $c }' "$3"; }

# 1. unixsock, per container: collectd's own rates
"$top" -1 -i 0.2 -x -c -s "$tmp/sock" >"$tmp/rates.txt" 2>&1
rc=$?
sed 's/^/# /' "$tmp/rates.txt"
check "one-shot over the unixsock exits 0" test "$rc" -eq 0
N=shop/web-0/nginx L=batch/loader-7d9f8c6b5-x2kqp/loader
check "nginx: 10 ops/s" test "$(field $N 2 "$tmp/rates.txt")" = 10
check "nginx: 4096 bytes read/s" test "$(field $N 3 "$tmp/rates.txt")" = 4096
check "nginx: p99 95 ms from the bucket rates (17 data sources)" test "$(field $N 6 "$tmp/rates.txt")" = 0.095000
check "loader: p99 99.1 ms from buckets of other bounds" test "$(field $L 6 "$tmp/rates.txt")" = 0.099100
check "nginx: mean unknown until the tool saw two updates of the sum" test "$(field $N 5 "$tmp/rates.txt")" = -
check "nginx: 0.5 errors/s, ESTALE" test "$(field $N 7 "$tmp/rates.txt") $(field $N 8 "$tmp/rates.txt")" = "0.5 ESTALE"
check "loader: 3 ops/s, 3072 bytes written/s" test "$(field $L 2 "$tmp/rates.txt") $(field $L 4 "$tmp/rates.txt")" = "3 3072"
check "@nfs-backup.service: 1 op/s" test "$(field @nfs-backup.service 2 "$tmp/rates.txt")" = 1
check "bulk/many-0/c: 300 ops/s from 300 values (GETVALs in batches)" test "$(field bulk/many-0/c 2 "$tmp/rates.txt")" = 300
check "sorted by ops: bulk, nginx, loader, backup" test "$(awk 'NR > 2 { printf "%s ", $1 }' "$tmp/rates.txt")" = "bulk/many-0/c $N $L @nfs-backup.service "
check "header: host, source and lost events 2/s" grep -q "^nfs-ebpf-top  node1  .* unixsock $tmp/sock .* lost events 2.0/s" "$tmp/rates.txt"
check "cpu values are not shown" test "$(grep -c cpu "$tmp/rates.txt")" = 0

# 2. per pod and mount, sorted by name, one row
"$top" -1 -i 0.2 -m -o name -n 1 -s "$tmp/sock" >"$tmp/mount.txt" 2>&1
sed 's/^/# /' "$tmp/mount.txt"
check "-m -o name -n 1: @nfs-backup.service on 10.0.0.5:/vol first" \
	test "$(awk 'NR == 3 { print $1, $2, $3 }' "$tmp/mount.txt")" = "@nfs-backup.service 10.0.0.5:/vol 1.0"
check "-n 1: then \"(3 more)\"" test "$(sed -n 4p "$tmp/mount.txt")" = "(3 more)"

# 3. write_prometheus: totals since the start, the mean included
"$top" -1 -t -x -w "127.0.0.1:$port" >"$tmp/totals.txt" 2>&1
rc=$?
sed 's/^/# /' "$tmp/totals.txt"
check "totals from write_prometheus exit 0" test "$rc" -eq 0
check "shop/web-0 totals: 200 ops, 40960 bytes read, mean 7.5 ms, p99 95 ms, 5 errors" \
	test "$(awk '$1 == "shop/web-0" { print $2, $3, $5, $6, $7 }' "$tmp/totals.txt")" = "200 40960 0.007500 0.095000 5"
check "batch/loader-7d9f8c6b5-x2kqp totals: p99 99.1 ms (nfs_ebpf_buckets_f4d60fe4 families)" \
	test "$(field batch/loader-7d9f8c6b5-x2kqp 6 "$tmp/totals.txt")" = 0.099100

# 4. failures are clear
"$top" -1 -s "$tmp/nonexistent" >"$tmp/err.txt" 2>&1
rc=$?
check "a missing socket: exit 1 naming it and LoadPlugin unixsock" \
	test "$rc" -eq 1 -a -n "$(grep -F "$tmp/nonexistent" "$tmp/err.txt" | head -n1)" -a -n "$(grep -F 'LoadPlugin unixsock' "$tmp/err.txt")"
"$top" -1 -t -s "$tmp/sock" >"$tmp/err.txt" 2>&1
check "-t without -w: exit 2 (unixsock answers rates only)" test $? -eq 2
"$top" -o nonsense >/dev/null 2>&1
check "a bad sort key: exit 2" test $? -eq 2
echo "1..$n"
