#!/usr/bin/env python3
"""Write the Grafana dashboard contrib/grafana/nfs_ebpf.json.

    contrib/grafana/generate-dashboard.py > contrib/grafana/nfs_ebpf.json

The dashboard reads the metric names and labels that the shipped scrape job
(contrib/prometheus/scrape-config.yml) produces. Its rows answer, in order:
which pods do the most NFS work, how slow it is for them, what fails, what
the NAS had to do for them (the wire level), and whether the plugin itself
is healthy. tests/grafana/dashboard_test.py checks the JSON and runs every
query against a Prometheus that scraped a lab run.
"""
import json
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
# Every query is narrowed by the dashboard's variables.
SEL = ('instance=~"$instance", namespace=~"$namespace", pod=~"$pod", '
       'server=~"$server", export=~"$export"')
RATE = "[$__rate_interval]"
WHO = "{{namespace}}/{{pod}}{{cgroup}}"


def sel(extra=""):
    return "{" + SEL + (", " + extra if extra else "") + "}"


def target(expr, legend, ref="A", **extra):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}
    t.update(extra)
    return t


def timeseries(title, description, targets, unit, stack=False):
    return {
        "type": "timeseries", "title": title, "description": description,
        "datasource": DS, "targets": targets,
        "fieldConfig": {"defaults": {
            "unit": unit,
            "custom": {"stacking": {"mode": "normal" if stack else "none"},
                       "fillOpacity": 20 if stack else 0}},
            "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right",
                               "calcs": ["mean", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def table(title, description, targets, unit):
    return {
        "type": "table", "title": title, "description": description,
        "datasource": DS, "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "transformations": [{"id": "merge", "options": {}},
                            {"id": "organize", "options": {
                                "excludeByName": {"Time": True}}}],
        "options": {"sortBy": [{"displayName": "Value #A", "desc": True}]},
    }


def heatmap(title, description, targets):
    return {
        "type": "heatmap", "title": title, "description": description,
        "datasource": DS, "targets": targets,
        "options": {"calculate": False, "yAxis": {"unit": "s"},
                    "cellGap": 1, "color": {"scheme": "Oranges", "mode": "scheme"}},
        "fieldConfig": {"defaults": {}, "overrides": []},
    }


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def panels():
    count = "nfs_ebpf_operation_duration_seconds_count"
    bucket = "nfs_ebpf_operation_duration_seconds_bucket"
    total = "nfs_ebpf_operation_duration_seconds_sum"
    return [
        row("Who: NFS work by pod right now"),
        timeseries(
            "Operations per second by pod",
            "NFS client operations (all 14 ops) completed per second, per pod; "
            "processes outside pods by cgroup.",
            [target("sum by (namespace, pod, cgroup) (rate(%s%s%s))" % (count, sel(), RATE), WHO)],
            "ops", stack=True),
        timeseries(
            "Bytes per second by pod",
            "Bytes read and written by applications (return values of read and "
            "write), per pod and op. Page cache hits count too: the wire level "
            "says what reached the NAS.",
            [target("sum by (namespace, pod, cgroup, op) (rate(nfs_ebpf_bytes_total%s%s))" % (sel(), RATE),
                    WHO + " {{op}}")],
            "Bps", stack=True),
        table(
            "Top 10 pods by operations per second",
            "The busiest pods over the dashboard's rate interval.",
            [target("topk(10, sum by (namespace, pod, cgroup) (rate(%s%s%s)))" % (count, sel(), RATE),
                    WHO, instant=True, format="table")],
            "ops"),
        timeseries(
            "Operations per second by op",
            "Which NFS operations the selected pods run: a stat storm shows as "
            "getattr, a directory walk as lookup and readdir.",
            [target("sum by (op) (rate(%s%s%s))" % (count, sel(), RATE), "{{op}}")],
            "ops", stack=True),
        row("How slow: latency seen by applications"),
        timeseries(
            "p99 latency by op",
            "99th percentile of the time each NFS call took, entry to return, "
            "from the histogram buckets.",
            [target("histogram_quantile(0.99, sum by (op, le) (rate(%s%s%s)))" % (bucket, sel(), RATE),
                    "p99 {{op}}"),
             target("histogram_quantile(0.5, sum by (op, le) (rate(%s%s%s)))" % (bucket, sel(), RATE),
                    "p50 {{op}}", ref="B")],
            "s"),
        timeseries(
            "Mean latency by pod and op",
            "Total time spent in NFS calls divided by their number.",
            [target("sum by (namespace, pod, cgroup, op) (rate(%s%s%s)) / "
                    "sum by (namespace, pod, cgroup, op) (rate(%s%s%s))"
                    % (total, sel(), RATE, count, sel(), RATE), WHO + " {{op}}")],
            "s"),
        heatmap(
            "Latency distribution (all selected ops)",
            "How many NFS calls finished in each latency bucket per interval.",
            [target("sum by (le) (increase(%s%s[$__interval]))" % (bucket, sel()), "{{le}}",
                    format="heatmap")]),
        row("What fails: errors by errno"),
        timeseries(
            "Errors per second by op and errno",
            "NFS calls that returned an error. ENOENT on lookup and EEXIST on "
            "create are normal answers; ESTALE, EIO, EACCES and ETIMEDOUT are not.",
            [target("sum by (op, errno) (rate(nfs_ebpf_operation_errors_total%s%s))" % (sel(), RATE),
                    "{{op}} {{errno}}")],
            "ops", stack=True),
        timeseries(
            "Errors per second by pod",
            "Which pods see the errors.",
            [target("sum by (namespace, pod, cgroup, errno) (rate(nfs_ebpf_operation_errors_total%s%s))"
                    % (sel(), RATE), WHO + " {{errno}}")],
            "ops", stack=True),
        row("What the NAS does: RPCs on the wire (the wire level)"),
        timeseries(
            "NAS bytes per second by pod",
            "Bytes on the wire, RPC headers included: sent (WRITE and the "
            "requests) and received (READ and the replies). Buffered writeback "
            "is charged to the pod that wrote; page cache hits are not here.",
            [target("sum by (namespace, pod, cgroup) (rate(nfs_ebpf_rpc_sent_bytes_total%s%s))"
                    % (sel(), RATE), WHO + " sent"),
             target("sum by (namespace, pod, cgroup) (rate(nfs_ebpf_rpc_received_bytes_total%s%s))"
                    % (sel(), RATE), WHO + " received", ref="B")],
            "Bps", stack=True),
        timeseries(
            "RPCs per second by pod and procedure",
            "What each pod made the NAS do: READ, WRITE, COMMIT, GETATTR, "
            "LOOKUP, ACCESS, on NFSv4 OPEN, CLOSE, SEQUENCE... "
            "nfs-client is the NFS client's own lease and session traffic.",
            [target("sum by (namespace, pod, cgroup, proc) (rate(nfs_ebpf_rpc_requests_total%s%s))"
                    % (sel(), RATE), WHO + " {{proc}}")],
            "reqps", stack=True),
        timeseries(
            "NAS response time and client queue time by procedure",
            "Round trip time, transmission to reply (the NAS and the network), "
            "against the time RPCs waited in the client before going out "
            "(slots, congestion, reconnects): is the NAS slow, or are we "
            "queueing?",
            [target("sum by (proc) (rate(nfs_ebpf_rpc_rtt_seconds_sum%s%s)) / "
                    "sum by (proc) (rate(nfs_ebpf_rpc_rtt_seconds_count%s%s))"
                    % (sel(), RATE, sel(), RATE), "RTT {{proc}}"),
             target("sum by (proc) (rate(nfs_ebpf_rpc_queue_seconds_total%s%s)) / "
                    "sum by (proc) (rate(nfs_ebpf_rpc_requests_total%s%s))"
                    % (sel(), RATE, sel(), RATE), "queue {{proc}}", ref="B")],
            "s"),
        timeseries(
            "Retransmissions and major timeouts by pod",
            "Transmissions beyond one per RPC, and major timeouts (the mount's "
            "timeo and retrans exhausted): a lossy network or a NAS that does "
            "not answer. Zero on a healthy node.",
            [target("sum by (namespace, pod, cgroup) (rate(nfs_ebpf_rpc_transmissions_total%s%s)) - "
                    "sum by (namespace, pod, cgroup) (rate(nfs_ebpf_rpc_requests_total%s%s))"
                    % (sel(), RATE, sel(), RATE), WHO + " retransmissions"),
             target("sum by (namespace, pod, cgroup) (rate(nfs_ebpf_rpc_major_timeouts_total%s%s))"
                    % (sel(), RATE), WHO + " major timeouts", ref="B")],
            "ops"),
        row("Plugin health"),
        timeseries(
            "Lost events per second by reason",
            "Events the kernel side could not record (README, lost events). "
            "Anything above zero means the numbers above are too low.",
            [target('sum by (instance, reason) (rate(nfs_ebpf_lost_events_total{instance=~"$instance"}%s))'
                    % RATE, "{{instance}} {{reason}}")],
            "ops"),
        timeseries(
            "Series reported",
            "(pod, mount, op) series each node reports: the cardinality this "
            "plugin costs Prometheus.",
            [target('count by (instance) (nfs_ebpf_operation_duration_seconds_count{instance=~"$instance"})',
                    "{{instance}}")],
            "short"),
    ]


def layout(items):
    """Rows take the full width; panels two to a line, 8 units high."""
    y, x, next_id = 0, 0, 1
    for p in items:
        p["id"] = next_id
        next_id += 1
        if p["type"] == "row":
            if x:
                y, x = y + 8, 0
            p["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            y += 1
            continue
        p["gridPos"] = {"h": 8, "w": 12, "x": x, "y": y}
        x += 12
        if x >= 24:
            y, x = y + 8, 0
    return items


def variable(name, label, query):
    return {
        "name": name, "label": label, "type": "query", "datasource": DS,
        "definition": query, "query": {"query": query, "refId": name},
        "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1, "hide": 0,
    }


def dashboard():
    metric = "nfs_ebpf_operation_duration_seconds_count"
    return {
        "uid": "nfs-ebpf-pods",
        "title": "NFS by pod (nfs_ebpf)",
        "description": "Per-pod NFS client work from the nfs_ebpf collectd plugin.",
        "tags": ["nfs", "kubernetes", "collectd", "nfs_ebpf"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "timezone": "",
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}],
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource",
             "query": "prometheus", "refresh": 1, "hide": 0, "current": {}},
            variable("instance", "Node", "label_values(nfs_ebpf_lost_events_total, instance)"),
            variable("namespace", "Namespace",
                     'label_values(%s{instance=~"$instance"}, namespace)' % metric),
            variable("pod", "Pod",
                     'label_values(%s{instance=~"$instance", namespace=~"$namespace"}, pod)' % metric),
            variable("server", "NFS server",
                     'label_values(%s{instance=~"$instance"}, server)' % metric),
            variable("export", "Export",
                     'label_values(%s{instance=~"$instance", server=~"$server"}, export)' % metric),
        ]},
        "panels": layout(panels()),
    }


if __name__ == "__main__":
    json.dump(dashboard(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
