#!/bin/bash
# What collectd itself spends on nfs_ebpf's value lists, per way of shaping
# them (issue 11, item 3): a real collectd with write_prometheus or network
# loads shape_plugin.so (see shape_plugin.c), which dispatches SERIES series
# shaped as nfs_ebpf does (bucket: one value list per latency bucket), with
# 8 buckets (coarse) or with the buckets as one value list of 17 data
# sources (multids), optionally replacing CHURN series by new ones each
# interval. For each case it prints collectd's CPU time (all its threads)
# over the fill (the first FILL intervals) and per steady interval after
# it, its RSS, and how many of the series write_prometheus serves at the
# end. Prints figures, asserts no timing.
#
#   tests/bench/collectd/run.sh [SERIES [CHURN]]   (default 5000 and 0 67)
#
# Environment: INTERVAL (s, default 1), FILL (network's fill, intervals,
# default 5), FILL_MAX (s, default 600), STEADY
# (intervals, default 20), SHAPES ("bucket coarse multids"), OUTPUTS
# ("write_prometheus network"), QUEUE_LIMIT (collectd's WriteQueueLimitHigh,
# Low at 4/5 of it; default unset: an unbounded queue).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SERIES=${1:-5000}
CHURNS=${2:-"0 67"}
INTERVAL=${INTERVAL:-1}
FILL=${FILL:-5}
FILL_MAX=${FILL_MAX:-600}
STEADY=${STEADY:-20}
SHAPES=${SHAPES:-"bucket coarse multids"}
OUTPUTS=${OUTPUTS:-"write_prometheus network"}
QUEUE_LIMIT=${QUEUE_LIMIT:-}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
pid=

command -v collectd >/dev/null || { echo "not ok - collectd missing"; exit 1; }
sysplugins=$(dirname "$(dpkg -L collectd-core 2>/dev/null | grep '/write_prometheus.so$' | head -1)")
[ -f "$sysplugins/write_prometheus.so" ] || { echo "not ok - write_prometheus.so not found"; exit 1; }
mkdir -p "$tmp/plugins"
# collectd loads regular files only (no symlinks)
cp "$sysplugins/write_prometheus.so" "$sysplugins/network.so" "$tmp/plugins/"
if ! gcc -shared -fPIC -O2 -Wall -Wextra -DHAVE_CONFIG_H -I/usr/include/collectd \
	-I"$ROOT/src/utils" -o "$tmp/plugins/shape.so" "$HERE/shape_plugin.c" 2>"$tmp/build.log"; then
	echo "not ok - shape_plugin.c does not build"
	sed 's/^/# /' "$tmp/build.log"
	exit 1
fi

hz=$(getconf CLK_TCK)
cpu_s() { # utime + stime of all threads, seconds
	awk -v hz="$hz" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
served() { # series write_prometheus serves (its operations metric)
	curl -s --max-time 120 "http://127.0.0.1:$1/metrics" |
		grep -c '^collectd_nfs_ebpf_operations_total{'
}
port=$((20000 + RANDOM % 20000))
n=0

for churn in $CHURNS; do
	for output in $OUTPUTS; do
		for shape in $SHAPES; do
			port=$((port + 1))
			{
				echo "Interval $INTERVAL"
				echo "PluginDir \"$tmp/plugins\""
				echo "TypesDB \"/usr/share/collectd/types.db\""
				echo "WriteThreads 5"
				if [ -n "$QUEUE_LIMIT" ]; then
					echo "WriteQueueLimitHigh $QUEUE_LIMIT"
					echo "WriteQueueLimitLow $((QUEUE_LIMIT * 4 / 5))"
				fi
				echo "LoadPlugin shape"
				echo "LoadPlugin $output"
				if [ "$output" = write_prometheus ]; then
					echo "<Plugin write_prometheus>"
					echo "  Port \"$port\""
					echo "</Plugin>"
				else
					echo "<Plugin network>"
					echo "  Server \"127.0.0.1\" \"$port\""
					echo "</Plugin>"
				fi
			} >"$tmp/collectd.conf"
			NFS_EBPF_SHAPE=$shape NFS_EBPF_SHAPE_SERIES=$SERIES NFS_EBPF_SHAPE_CHURN=$churn \
				collectd -f -C "$tmp/collectd.conf" >"$tmp/collectd.log" 2>&1 &
			pid=$!
			# Filled: write_prometheus serves every series (polled once an
			# interval, for at most FILL_MAX s); network: after FILL intervals.
			start=$SECONDS served=-
			if [ "$output" = write_prometheus ]; then
				while :; do
					sleep "$INTERVAL"
					served=$(served "$port")
					[ "$served" -lt "$SERIES" ] && [ $((SECONDS - start)) -lt "$FILL_MAX" ] || break
				done
			else
				sleep "$((INTERVAL * FILL))"
			fi
			fill_s=$((SECONDS - start))
			filled=$(cpu_s "$pid")
			sleep "$((INTERVAL * STEADY))"
			steady=$(cpu_s "$pid")
			rss=$(awk '/^VmRSS/ {print $2 / 1024}' "/proc/$pid/status")
			[ "$output" != write_prometheus ] || served=$(served "$port")
			drops=$(grep -c 'Low water mark\|Dropping' "$tmp/collectd.log")
			kill "$pid"
			wait "$pid" 2>/dev/null
			pid=
			n=$((n + 1))
			echo "ok $n - $shape, $output, $SERIES series, churn $churn: collectd ran"
			awk -v s="$shape" -v o="$output" -v n="$SERIES" -v c="$churn" -v f="$filled" \
				-v st="$steady" -v fi="$FILL" -v sti="$STEADY" -v i="$INTERVAL" -v r="$rss" \
				-v sv="$served" -v d="$drops" -v fs="$fill_s" 'BEGIN {
				printf "# %-8s %-16s series %d churn %3d: filled in %d s (%.1f s CPU); steady %.1f ms CPU per interval (%.1f %% of a core at Interval %d s; %.2f %% at 10 s); RSS %.0f MiB; served %s of %d; drop warnings %d\n",
					s, o, n, c, fs, f, (st - f) * 1000 / sti, (st - f) * 100 / (sti * i), i,
					(st - f) * 100 / (sti * 10), r, sv, n, d }'
		done
	done
done
echo "1..$n"
