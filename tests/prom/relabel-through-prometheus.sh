#!/bin/bash
# Run a write_prometheus exposition through a real Prometheus configured with
# the SHIPPED scrape job (contrib/prometheus/scrape-config.yml; only its
# target is rewritten) and write the query result (data.result JSON).
#
#   tests/prom/relabel-through-prometheus.sh IN_METRICS_TXT OUT_JSON [QUERY [OUT2 QUERY2]...]
#
# QUERY defaults to {__name__=~"nfs_ebpf_.*"}. IN is served as /metrics on a
# loopback port; Prometheus scrapes it once (the wait polls the targets API,
# no fixed sleeps), then each QUERY is run as an instant query and its
# data.result written to its OUT file.
# Samples keep their exposition timestamps (honor_timestamps): they must be
# recent (within Prometheus' 5 min lookback) to be returned.
# Environment: PROMETHEUS (binary, default prometheus), SCRAPE_CONFIG
# (default the shipped file), WAIT_SECONDS (default 60), KEEP_TMP=1.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 IN_METRICS_TXT OUT_JSON [QUERY [OUT QUERY]...]" >&2; exit 2; }
in=$1 out=$2
shift 2
query=${1:-'{__name__=~"nfs_ebpf_.*"}'}
[ $# -gt 0 ] && shift
extra=("$@")
config=${SCRAPE_CONFIG:-$here/contrib/prometheus/scrape-config.yml}
prom=${PROMETHEUS:-prometheus}
wait_s=${WAIT_SECONDS:-60}
[ -r "$in" ] || { echo "$0: cannot read $in" >&2; exit 2; }

tmp=$(mktemp -d /tmp/nfs-ebpf-prom.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "# kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# --- serve IN as /metrics on an ephemeral loopback port ---------------------
cp "$in" "$tmp/metrics"
python3 - "$tmp/metrics" "$tmp/exporter.port" >"$tmp/exporter.log" 2>&1 <<'PY' &
import http.server, sys
body_path, port_file = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404); return
        body = open(body_path, "rb").read()
        self.send_response(200)
        # what collectd's write_prometheus sends
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
pids+=($!)

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

deadline=$((SECONDS + wait_s))
until [ -s "$tmp/exporter.port" ]; do
	[ $SECONDS -lt $deadline ] || { echo "$0: exporter did not start" >&2; cat "$tmp/exporter.log" >&2; exit 1; }
	sleep 0.1
done
exporter="127.0.0.1:$(cat "$tmp/exporter.port")"

# --- the shipped config, target rewritten ----------------------------------
n=$(grep -c "targets: \['localhost:9103'\]" "$config" || true)
[ "$n" = 1 ] || { echo "$0: expected exactly one \"targets: ['localhost:9103']\" in $config, found $n" >&2; exit 1; }
sed "s/targets: \['localhost:9103'\]/targets: ['$exporter']/" "$config" >"$tmp/prometheus.yml"
promtool check config "$tmp/prometheus.yml" >"$tmp/promtool.log" 2>&1 || {
	cat "$tmp/promtool.log" >&2; exit 1; }

# --- Prometheus ----------------------------------------------------------------
for try in 1 2 3; do
	pport=$(free_port)
	"$prom" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
		--web.listen-address="127.0.0.1:$pport" --log.level=warn \
		>"$tmp/prometheus.log" 2>&1 &
	ppid=$!
	pids+=("$ppid")
	api="http://127.0.0.1:$pport/api/v1"
	until curl -fsS "http://127.0.0.1:$pport/-/ready" >/dev/null 2>&1; do
		kill -0 "$ppid" 2>/dev/null || break
		[ $SECONDS -lt $deadline ] || { echo "$0: prometheus not ready" >&2; cat "$tmp/prometheus.log" >&2; exit 1; }
		sleep 0.2
	done
	kill -0 "$ppid" 2>/dev/null && break
	echo "# prometheus exited (port $pport taken?), retrying" >&2
done
kill -0 "$ppid" 2>/dev/null || { cat "$tmp/prometheus.log" >&2; exit 1; }

# Wait for the first completed scrape of our target.
until curl -fsS "$api/targets" -o "$tmp/targets.json" &&
	python3 - "$tmp/targets.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["data"]["activeTargets"]
done = [x for x in t if x["labels"].get("job") == "nfs_ebpf"
        and not x["lastScrape"].startswith("0001-")]
if done and done[0]["health"] != "up":
    sys.stderr.write("scrape failed: %s\n" % done[0]["lastError"]); sys.exit(3)
sys.exit(0 if done else 1)
PY
do
	rc=$?
	[ $rc -ne 3 ] || exit 1
	[ $SECONDS -lt $deadline ] || { echo "$0: target not scraped within ${wait_s}s" >&2; cat "$tmp/targets.json" >&2; exit 1; }
	sleep 0.2
done

run_query() { # QUERY OUT
	curl -fsS "$api/query" --data-urlencode "query=$1" -o "$tmp/q.json"
	python3 - "$tmp/q.json" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("status") != "success":
    sys.stderr.write("query failed: %r\n" % r); sys.exit(1)
json.dump(r["data"]["result"], open(sys.argv[2], "w"), indent=1, sort_keys=True)
PY
}
run_query "$query" "$out"
set -- "${extra[@]+"${extra[@]}"}"
while [ $# -ge 2 ]; do
	run_query "$2" "$1"
	shift 2
done
