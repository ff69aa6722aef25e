#!/usr/bin/env python3
"""TAP test of the Grafana dashboard contrib/grafana/nfs_ebpf.json.

    dashboard_test.py                      # the JSON: importable, up to date
    dashboard_test.py --prometheus URL --time T [--rate-interval W] [--first N]
        # every panel query and variable query against a real Prometheus
        # (the VM lab's, which scraped collectd during the workloads), at
        # unix time T; TAP numbering starts at N.

A panel query passes when Prometheus accepts it and returns at least one
series with a value above 0: a query that errors, returns nothing, only NaN
or only zeros fails (a panel of zeros is what a broken rate looks like, and
the lab does I/O in the window). Queries over errors and lost events
(QUIET_METRICS: also retransmissions and major timeouts) need a finite
value only: a window without a fault or a lost event is a healthy one. Dashboard variables are given their "All"
value (.*), $__rate_interval W (default 1m: the lab passes a window holding
all of its workloads, so that no rate depends on when the last operation
happened) and $__interval 15s.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
JSON_PATH = os.path.join(ROOT, "contrib", "grafana", "nfs_ebpf.json")
GENERATOR = os.path.join(ROOT, "contrib", "grafana", "generate-dashboard.py")
VARIABLES = ["datasource", "instance", "namespace", "pod", "server", "export"]
DS_REF = {"type": "prometheus", "uid": "${datasource}"}
# Counters that stay flat on a healthy node.
QUIET_METRICS = ("nfs_ebpf_operation_errors_total", "nfs_ebpf_lost_events_total",
                 "nfs_ebpf_rpc_transmissions_total", "nfs_ebpf_rpc_major_timeouts_total")


class Tap:
    def __init__(self, first=1):
        self.n, self.failed = first - 1, 0

    def check(self, ok, text, why=""):
        self.n += 1
        if ok:
            print("ok %d - %s" % (self.n, text))
        else:
            self.failed += 1
            print("not ok %d - %s%s" % (self.n, text, ": " + why if why else ""))
        return ok


def panel_targets(dash):
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        for t in p.get("targets", []):
            yield p, t


def static_checks(tap, dash):
    generated = subprocess.run([sys.executable, GENERATOR], check=True,
                               capture_output=True, text=True).stdout
    with open(JSON_PATH) as f:
        tap.check(f.read() == generated, "nfs_ebpf.json is what generate-dashboard.py writes")
    tap.check(isinstance(dash.get("schemaVersion"), int) and dash["schemaVersion"] >= 36,
              "schemaVersion is a number Grafana 9+ imports (%r)" % dash.get("schemaVersion"))
    tap.check(bool(dash.get("uid")) and len(dash["uid"]) <= 40 and bool(dash.get("title")),
              "uid (at most 40 characters) and title set (%r)" % dash.get("uid"))
    names = [v.get("name") for v in dash.get("templating", {}).get("list", [])]
    tap.check(names == VARIABLES, "templating variables %s" % ", ".join(VARIABLES), repr(names))
    ds = [v for v in dash["templating"]["list"] if v["name"] == "datasource"]
    tap.check(bool(ds) and ds[0]["type"] == "datasource" and ds[0]["query"] == "prometheus",
              "the data source is a variable of type prometheus")
    bad_vars = [v["name"] for v in dash["templating"]["list"][1:]
                if v.get("datasource") != DS_REF or not v.get("definition")]
    tap.check(not bad_vars, "every query variable uses ${datasource}", repr(bad_vars))
    ids = [p.get("id") for p in dash["panels"]]
    tap.check(len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids),
              "panel ids unique (%d panels)" % len(ids))
    bad_grid = [p["title"] for p in dash["panels"]
                if not (0 <= p["gridPos"]["x"] and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24)]
    tap.check(not bad_grid, "every panel fits the 24-column grid", repr(bad_grid))
    bad_ds = [p["title"] for p in dash["panels"] if p["type"] != "row" and
              (p.get("datasource") != DS_REF or
               any(t.get("datasource") != DS_REF for t in p.get("targets", [])))]
    tap.check(not bad_ds, "every panel and query uses the ${datasource} variable", repr(bad_ds))
    empty = [p["title"] for p in dash["panels"] if p["type"] != "row" and
             not all(t.get("expr") and t.get("refId") for t in p.get("targets", [None]) if t)]
    tap.check(not empty and all(p.get("targets") for p in dash["panels"] if p["type"] != "row"),
              "every panel has queries with expr and refId", repr(empty))
    # The panel groups issue 8 asks for, in this order, with the wire
    # level's (issue 7) before the plugin's health.
    rows = [p["title"].split(":")[0] for p in dash["panels"] if p["type"] == "row"]
    tap.check(rows == ["Who", "How slow", "What fails", "What the NAS does", "Plugin health"],
              "rows in order: who, how slow, what fails, what the NAS does, plugin health", repr(rows))
    wire = {t["expr"].split("(")[-1].split("{")[0] for p, t in panel_targets(dash)
            if "nfs_ebpf_rpc_" in t["expr"]}
    tap.check({"nfs_ebpf_rpc_sent_bytes_total", "nfs_ebpf_rpc_received_bytes_total",
               "nfs_ebpf_rpc_requests_total", "nfs_ebpf_rpc_rtt_seconds_count",
               "nfs_ebpf_rpc_major_timeouts_total"} <= wire,
              "the wire level's panels: bytes, RPCs, RTT, queue, retransmissions, timeouts", repr(sorted(wire)))
    kinds = {p["type"] for p in dash["panels"]}
    tap.check("heatmap" in kinds, "a latency heatmap")


RATE_INTERVAL = "1m"


def expand(expr):
    for v in VARIABLES[1:]:
        expr = expr.replace("$" + v, ".*")
    return expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "15s")


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def count_values(result):
    """(finite values, values above 0) in a query result."""
    finite = positive = 0
    for s in result:
        for _, v in [s["value"]] if "value" in s else s.get("values", []):
            v = float(v)
            finite += math.isfinite(v)
            positive += math.isfinite(v) and v > 0
    return finite, positive


def live_checks(tap, dash, prom, at):
    for p, t in panel_targets(dash):
        expr = expand(t["expr"])
        url = "%s/api/v1/query?%s" % (prom, urllib.parse.urlencode({"query": expr, "time": at}))
        try:
            r = get(url)
        except Exception as e:  # HTTP 400 for a bad query, or no answer
            tap.check(False, "panel '%s' %s" % (p["title"], t["refId"]), str(e))
            continue
        res = r.get("data", {}).get("result", []) if r.get("status") == "success" else []
        finite, positive = count_values(res)
        quiet = any(m in expr for m in QUIET_METRICS)
        n, want = (finite, "finite value") if quiet else (positive, "value above 0")
        tap.check(r.get("status") == "success" and n > 0,
                  "panel '%s' %s returns data (%d series, %d finite, %d above 0)"
                  % (p["title"], t["refId"], len(res), finite, positive),
                  r.get("error", "no " + want) if n == 0 else "")
    for v in dash["templating"]["list"][1:]:
        m = re.match(r"label_values\((.*),\s*(\w+)\)$", v["definition"])
        if not tap.check(m is not None, "variable %s is label_values(metric, label)" % v["name"]):
            continue
        match, label = expand(m.group(1)), m.group(2)
        url = "%s/api/v1/series?%s" % (prom, urllib.parse.urlencode(
            {"match[]": match, "start": at - 600, "end": at}))
        try:
            r = get(url)
        except Exception as e:
            tap.check(False, "variable %s values" % v["name"], str(e))
            continue
        values = sorted({s.get(label, "") for s in r.get("data", [])} - {""})
        tap.check(bool(values), "variable %s offers %s" % (v["name"], ", ".join(values[:6]) or "nothing"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus")
    ap.add_argument("--time", type=float)
    ap.add_argument("--rate-interval", default="1m")
    ap.add_argument("--first", type=int, default=1)
    a = ap.parse_args()
    global RATE_INTERVAL
    RATE_INTERVAL = a.rate_interval
    tap = Tap(a.first)
    with open(JSON_PATH) as f:
        dash = json.load(f)
    if a.prometheus:
        live_checks(tap, dash, a.prometheus.rstrip("/"), a.time)
    else:
        static_checks(tap, dash)
    print("%d passed, %d failed" % (tap.n - a.first + 1 - tap.failed, tap.failed))
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
