#!/bin/bash
# TAP test: the shipped Prometheus scrape job (contrib/prometheus/scrape-config.yml)
# turns a real collectd 5.12 write_prometheus exposition (captured by
# tests/prom/capture-fixture.sh) into the contract metrics of
# /shared/spec/metrics.md, run through a real Prometheus.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
fixture=${1:-$here/tests/prom/fixtures/write_prometheus.txt}
tmp=$(mktemp -d /tmp/nfs-ebpf-relabel-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)) failed=1; echo "not ok $n - $*"; }

# 1. the shipped YAML is what its generator writes
if "$here/contrib/prometheus/generate-scrape-config.py" | cmp -s - "$here/contrib/prometheus/scrape-config.yml"; then
	ok "scrape-config.yml is up to date with generate-scrape-config.py"
else
	nok "scrape-config.yml differs from generate-scrape-config.py output"
fi

# 2. Prometheus accepts it as it is
if promtool check config "$here/contrib/prometheus/scrape-config.yml" >"$tmp/promtool.log" 2>&1; then
	ok "promtool check config accepts the shipped scrape config"
else
	nok "promtool check config rejects the shipped scrape config"
	sed 's/^/# /' "$tmp/promtool.log"
fi

# 3. through Prometheus; timestamps refreshed to now (collectd stamps each
#    sample with its collection time, Prometheus only returns recent ones)
now=$(date +%s%3N)
sed -E "s/^([^#].*\} [^ ]+) [0-9]+\$/\\1 $now/" "$fixture" >"$tmp/metrics.txt"
if "$here/tests/prom/relabel-through-prometheus.sh" "$tmp/metrics.txt" "$tmp/all.json" \
	'{job="nfs_ebpf",__name__!~"up|scrape_.*"}' \
	"$tmp/quantile.json" 'histogram_quantile(0.5, nfs_ebpf_operation_duration_seconds_bucket)' \
	"$tmp/inf.json" 'nfs_ebpf_operation_duration_seconds_bucket{le="+Inf"} - ignoring(le) nfs_ebpf_operation_duration_seconds_count' \
	2>"$tmp/through.log"; then
	ok "exposition scraped and queried through a real Prometheus"
else
	nok "exposition scraped and queried through a real Prometheus"
	sed 's/^/# /' "$tmp/through.log"
	echo "1..$n"
	exit 1
fi

python3 - "$tmp/all.json" "$tmp/quantile.json" "$tmp/inf.json" "$fixture" "$n" <<'PY'
import json, math, re, sys

allres = json.load(open(sys.argv[1]))
quant = json.load(open(sys.argv[2]))
infdiff = json.load(open(sys.argv[3]))
fixture = sys.argv[4]
n = int(sys.argv[5])


failed = 0


def tap(cond, text):
    global n, failed
    n += 1
    failed += not cond
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, text))
    return cond


def key(labels):
    return tuple(sorted(labels.items()))


got = {}
for r in allres:
    m = dict(r["metric"])
    if m.pop("job", None) != "nfs_ebpf":
        continue
    got[key(m)] = r["value"][1]

POD = {"namespace": "shop", "pod": "web-0", "container": "nginx"}
M1 = {"server": "10.0.0.5", "export": "/vol/data"}
DEEP6 = {"server": "[fd00::1]", "export": "/exports/team/a/b/c/d/e/f/g/h/i/j"}
CSI = {"namespace": "kube-system", "pod": "csi-nfs-node-7x2k9", "container": "liveness-probe"}
KUBELET = {"cgroup": "kubelet.service"}
EX = {"server": "nfs.example.com", "export": "/srv/nfs_share.v2"}
VERY_DEEP = {"server": "10.0.0.5", "export": "/x" * 54}


def s(name, value, *parts, what="series", **labels):
    d = {"__name__": name, "instance": "node1"}
    for p in parts:
        d.update(p)
    d.update(labels)
    return (d, value, what)


B = "nfs_ebpf_operation_duration_seconds_bucket"
# read: `Bucket 0.00001 0.001 0.01 0.1 1 2.5 1000000`, type nfs_ebpf_buckets_<hex>
READ_LES = ["1e-05", "0.001", "0.01", "0.1", "1", "2.5", "1e+06", "+Inf"]
READ_BUCKETS = ["0", "3", "7", "9", "10", "10", "10", "10"]
# write: the default bounds, type nfs_ebpf_buckets
WRITE_LES = ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
             "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
WRITE_BUCKETS = ["0"] * 5 + ["1"] * 4 + ["2"] * 8
LE_WHAT = {"1e-05": "bucket le with a negative exponent (le_1em05)",
           "1e+06": "bucket le with a positive exponent (le_1ep06)",
           "2.5": "bucket le with a fraction (le_2_5)", "+Inf": "+Inf bucket (le_inf)"}
expected = [
    s("nfs_ebpf_operation_duration_seconds_count", "10", POD, M1, op="read", what="pod read count"),
    s("nfs_ebpf_operation_duration_seconds_count", "2", POD, M1, op="write"),
    s("nfs_ebpf_operation_duration_seconds_sum", "0.125", POD, M1, op="read",
      what="duration sum (gauge -> _sum)"),
    s("nfs_ebpf_operation_duration_seconds_sum", "0.0625", POD, M1, op="write"),
] + [
    s(B, v, POD, M1, op="read", le=le,
      what="hex-suffixed bucket type: " + LE_WHAT.get(le, "bucket"))
    for le, v in zip(READ_LES, READ_BUCKETS)
] + [
    s(B, v, POD, M1, op="write", le=le, what="default bucket type: " + LE_WHAT.get(le, "bucket"))
    for le, v in zip(WRITE_LES, WRITE_BUCKETS)
] + [
    s("nfs_ebpf_bytes_total", "40960", POD, M1, op="read", what="bytes read"),
    s("nfs_ebpf_bytes_total", "8192", POD, M1, op="write"),
    s("nfs_ebpf_operation_errors_total", "4", POD, M1, op="open", errno="ENOENT", what="errno label"),
    s("nfs_ebpf_operation_duration_seconds_count", "5", CSI, DEEP6, op="getattr",
      what="IPv6 server in brackets, deep export (>8 levels)"),
    s("nfs_ebpf_operation_errors_total", "1", CSI, DEEP6, op="getattr", errno="ESTALE"),
    s("nfs_ebpf_operation_duration_seconds_count", "7", KUBELET, EX, op="lookup",
      what="non-pod cgroup (kubelet.service)"),
    s("nfs_ebpf_operation_errors_total", "2", KUBELET, EX, op="lookup", errno="EACCES"),
    s("nfs_ebpf_operation_duration_seconds_count", "3", op="fsync", cgroup="/", server="fileserver",
      export="/", what="root cgroup '/' and root export '/'"),
    s("nfs_ebpf_operation_duration_seconds_count", "6", op="write", cgroup="system.slice/backup.service",
      server="fileserver:vol",
      what="nested cgroup path, source without ':/' ('fileserver:vol:') is all server, "
           "without the separating ':'"),
    s("nfs_ebpf_operation_errors_total", "1", VERY_DEEP, op="write", errno="EIO", cgroup="user.slice",
      what="export with 54 levels (chain crosses 8/4/2 boundaries)"),
    s("nfs_ebpf_operation_duration_seconds_count", "1", M1, op="readdir", namespace="shop",
      pod="web-0-very-long-name~0123456789ab", container="nginx",
      what="hash-shortened pod name kept verbatim"),
] + [
    s(name, value, POD, M1, proc="WRITE", what="wire level: " + name)
    for name, value in (("nfs_ebpf_rpc_requests_total", "16"),
                        ("nfs_ebpf_rpc_transmissions_total", "18"),
                        ("nfs_ebpf_rpc_major_timeouts_total", "1"),
                        ("nfs_ebpf_rpc_errors_total", "2"),
                        ("nfs_ebpf_rpc_sent_bytes_total", "1052864"),
                        ("nfs_ebpf_rpc_received_bytes_total", "3200"),
                        ("nfs_ebpf_rpc_rtt_seconds_count", "15"),
                        ("nfs_ebpf_rpc_queue_seconds_total", "1.5"),
                        ("nfs_ebpf_rpc_rtt_seconds_sum", "0.25"),
                        ("nfs_ebpf_rpc_execute_seconds_total", "2"))
] + [
    s("nfs_ebpf_rpc_rtt_seconds_bucket", v, POD, M1, proc="WRITE", le=le,
      what="wire level RTT bucket (nfs_ebpf_rtt_buckets)")
    for le, v in zip(WRITE_LES, ["0", "0", "0", "10", "10", "10", "10", "10", "10",
                                 "15", "15", "15", "15", "15", "15", "15", "15"])
] + [
    s(name, value, proc="SEQUENCE", cgroup="nfs-client", server="10.0.0.5",
      what="wire level, the server's shared client: no export label")
    for name, value in (("nfs_ebpf_rpc_requests_total", "7"),
                        ("nfs_ebpf_rpc_transmissions_total", "7"),
                        ("nfs_ebpf_rpc_major_timeouts_total", "0"),
                        ("nfs_ebpf_rpc_errors_total", "0"),
                        ("nfs_ebpf_rpc_sent_bytes_total", "868"),
                        ("nfs_ebpf_rpc_received_bytes_total", "560"),
                        ("nfs_ebpf_rpc_rtt_seconds_count", "7"),
                        ("nfs_ebpf_rpc_queue_seconds_total", "0"),
                        ("nfs_ebpf_rpc_rtt_seconds_sum", "0.01"),
                        ("nfs_ebpf_rpc_execute_seconds_total", "0.02"))
] + [
    s("nfs_ebpf_lost_events_total", "12", reason="stats_map_full",
      what="lost events: reason from a series without plugin instance"),
    s("nfs_ebpf_lost_events_total", "0", reason="missed_return"),
    s("nfs_ebpf_operation_duration_seconds_count", "11", M1, op="read", namespace="argo",
      pod="data-pipeline-nightly-ingest-data-pipeline-nightly-ingest-data-pipeline-nightly-"
          "ingest-data-pipeline-nig~020ffc47d5db", container="main",
      what="200-character pod name, shortened to a 127-character who by the plugin"),
    s("nfs_ebpf_operation_duration_seconds_count", "13", M1, op="read", cgroup="~656ce3a8fd56",
      what="cgroup name with odd bytes ('caf\\xc3\\xa9.service'), hashed by the plugin"),
    s("nfs_ebpf_operation_duration_seconds_count", "9", op="read", cgroup="system.slice/backup.service",
      server="10.0.0.5", export="~0123456789ab",
      what="hashed export ('~' + 12 hex digits) split from its server"),
]

for labels, value, what in expected:
    k = key(labels)
    text = "%s: %s{%s} = %s" % (what, labels["__name__"],
                                ",".join("%s=%r" % kv for kv in sorted(labels.items()) if kv[0] != "__name__"),
                                value)
    if k not in got:
        tap(False, text + " (missing)")
    else:
        tap(got[k] == value, text + ("" if got[k] == value else " (got %s)" % got[k]))

ours = {k: v for k, v in got.items() if dict(k)["__name__"].startswith("nfs_ebpf_")}
exp_keys = {key(l) for l, _, _ in expected}
extra = [dict(k) for k in ours if k not in exp_keys]
tap(not extra, "no unexpected nfs_ebpf_ series (%d expected, %d got)%s" % (
    len(expected), len(ours), "" if not extra else ": %r" % extra[:3]))
raw = [dict(k)["__name__"] for k in got if dict(k)["__name__"].startswith("collectd_nfs_ebpf_")]
tap(not raw, "no raw collectd_nfs_ebpf_* series left%s" % ("" if not raw else ": %r" % raw[:3]))
leaked = sorted({l for k in ours for l, _ in k if l in ("nfs_ebpf", "type") or l.startswith("__nfs_ebpf")})
tap(not leaked, "raw nfs_ebpf/type and temporary labels removed%s" % ("" if not leaked else ": %r" % leaked))
# on any series of the job: no bucket family name, no temporary label, in
# a name or a label value
stray = sorted({"%s=%s" % (l, v) for k in got for l, v in k
                if re.search("nfs_ebpf_(rtt_)?buckets|collectd_nfs_ebpf_", v + " " + l) or l.startswith("__nfs_ebpf")})
tap(not stray, "no raw nfs_ebpf_buckets name or __nfs_ebpf_* label left on any series%s"
    % ("" if not stray else ": %r" % stray[:3]))
allowed = {"__name__", "instance", "namespace", "pod", "container", "cgroup", "server", "export",
           "op", "proc", "le", "errno", "reason"}
odd = sorted({l for k in ours for l, _ in k} - allowed)
tap(not odd, "only contract labels on nfs_ebpf_ series%s" % ("" if not odd else ": %r" % odd))
pipes = [v for k in ours for l, v in k if "|" in v]
tap(not pipes, "no '|' left in any label value%s" % ("" if not pipes else ": %r" % pipes[:2]))

# le: exactly the bounds' texts, numerically sorted, +Inf last, cumulative
# counts, +Inf == _count
def bucket_les(op):
    return sorted(((float(dict(k)["le"]), dict(k)["le"], float(v)) for k, v in ours.items()
                   if dict(k)["__name__"] == B and dict(k).get("pod") == "web-0"
                   and dict(k).get("op") == op))


for op, want, form in (("read", READ_LES, "nfs_ebpf_buckets_<hex>"),
                       ("write", WRITE_LES, "nfs_ebpf_buckets")):
    bk = bucket_les(op)
    les = [b[1] for b in bk]
    tap(les == want, "%s (%s): le values as Prometheus prints them, in numeric order, +Inf last: %s"
        % (op, form, les))
    counts = [b[2] for b in bk]
    tap(all(a <= b for a, b in zip(counts, counts[1:])), "%s: bucket counts are cumulative: %s"
        % (op, counts))
tap(len(infdiff) == 2 and all(float(r["value"][1]) == 0.0 for r in infdiff),
    'le="+Inf" bucket equals _count for both histograms (PromQL join on all labels but le; %d joined)'
    % len(infdiff))


def quantile(op):
    q = [r for r in quant if r["metric"].get("pod") == "web-0" and r["metric"].get("op") == op]
    return float(q[0]["value"][1]) if len(q) == 1 else None


# read: rank 5 of 10 lies in (0.001, 0.01] holding ranks 4..7: 0.001 + 0.009 * (5-3)/4
got_q = quantile("read")
tap(got_q is not None and abs(got_q - 0.0055) < 1e-9,
    "read: histogram_quantile(0.5) over the relabelled buckets = 0.0055 (got %s)" % got_q)
# write: rank 1 of 2 lies in (0.0025, 0.005] holding rank 1: 0.005
got_q = quantile("write")
tap(got_q is not None and abs(got_q - 0.005) < 1e-9,
    "write: histogram_quantile(0.5) over the relabelled buckets = 0.005 (got %s)" % got_q)

# other collectd metrics: exactly the labels write_prometheus gave them
line_re = re.compile(r'^(collectd_(?:cpu|load|nfs_nfs)[a-z_]*)\{(.*)\} (\S+) \d+$')
others = []
for line in open(fixture):
    m = line_re.match(line.strip())
    if not m:
        continue
    labels = dict(re.findall(r'([a-zA-Z_]+)="([^"]*)"', m.group(2)))
    labels["__name__"] = m.group(1)
    others.append((labels, m.group(3)))
tap(len(others) >= 4, "fixture holds other collectd metrics (%d)" % len(others))
bad = [l for l, v in others if got.get(key(l)) != v]
tap(not bad, "cpu, load and the nfs plugin's collectd_nfs_nfs_procedure_total are untouched "
    "(same name, labels incl. type=, value)%s" % ("" if not bad else ": %r" % bad[:2]))
print("1..%d" % n)
sys.exit(1 if failed else 0)
PY
rc=$?
# exit 1 when any test failed (the TAP lines say which)
[ "$failed" -eq 0 ] || rc=1
exit "$rc"
