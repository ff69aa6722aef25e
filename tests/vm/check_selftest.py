#!/usr/bin/env python3
"""Self-test of check.py: it must pass on series that match a ground truth
and fail on each kind of wrong data. The truth is sample/truth.json (from a
real lab run on 6.1); the series are synthesised the way docs/identifiers.md
says the relabelled output looks. Prints TAP lines."""

import copy
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check  # noqa: E402

LES = check.DEFAULT_LES
LOST = ["start_map_full", "stats_map_full", "errors_map_full", "missed_entry", "missed_return"]


def series_from_truth(runs):
    merged, _ = check.merge_truth(runs)
    out = []

    def add(name, labels, value):
        m = {k: v for k, v in labels.items() if v != ""}  # Prometheus drops empty labels
        m["__name__"] = name
        m["instance"] = "nfs-ebpf-vm"
        out.append({"metric": m, "value": [1700000000.0, repr(float(value))]})

    for (who, server, export), t in merged.items():
        base = dict(zip(check.WHO, who), server=server, export=export)
        counts = {op: o["count"] + (0 if o["exact"] else 1) for op, o in t["ops"].items()}
        for ops, n in t["any_of"].items():
            counts[ops[0]] = counts.get(ops[0], 0) + n
        for op, n in counts.items():
            lb = dict(base, op=op)
            add("nfs_ebpf_operation_duration_seconds_count", lb, n)
            add("nfs_ebpf_operation_duration_seconds_sum", lb, n * 0.002)
            for i, le in enumerate(LES):
                add("nfs_ebpf_operation_duration_seconds_bucket", dict(lb, le=le),
                    n if le == "+Inf" else min(n, i * n // 3))
            if op in ("read", "write"):
                add("nfs_ebpf_bytes_total", lb, t["ops"][op]["bytes"])
        for (ops, err), n in t["errors"].items():
            add("nfs_ebpf_operation_errors_total", dict(base, op=ops[0], errno=err), n)
    for r in LOST:
        add("nfs_ebpf_lost_events_total", {"reason": r}, 0)
    return out


def find(series, name, **want):
    for s in series:
        m = s["metric"]
        if m["__name__"] == name and all(m.get(k, "") == v for k, v in want.items()):
            return s
    raise LookupError("%s %r not in the synthetic series" % (name, want))


def bump(s, delta):
    s["value"][1] = repr(float(s["value"][1]) + delta)


# Each mutation: (description, function changing the series in place)
def m_bytes(ss):
    bump(find(ss, "nfs_ebpf_bytes_total", pod="web-0", container="nginx", op="write"), 1)


def m_count(ss):
    bump(find(ss, "nfs_ebpf_operation_duration_seconds_count", pod="loader-7d9f8c6b5-x2kqp",
              op="fsync"), 1)


def m_pod(ss):
    s = find(ss, "nfs_ebpf_bytes_total", pod="web-0", container="nginx", op="read")
    s["metric"]["pod"] = "web-1"


def m_namespace(ss):
    for s in ss:
        if s["metric"].get("pod") == "loader-7d9f8c6b5-x2kqp":
            s["metric"]["namespace"] = "shop"


def m_cgroup(ss):
    for s in ss:
        if s["metric"].get("cgroup") == "nfs-backup.service":
            s["metric"]["cgroup"] = "system.slice"


def m_inf(ss):
    bump(find(ss, "nfs_ebpf_operation_duration_seconds_bucket", pod="web-0", op="read",
              le="+Inf"), -1)


def m_order(ss):
    bump(find(ss, "nfs_ebpf_operation_duration_seconds_bucket", pod="web-0", op="write",
              le="0.1"), 1000)


def m_bucket_gone(ss):
    # one data source's family lost on the way (not relabelled, or dropped)
    ss.remove(find(ss, "nfs_ebpf_operation_duration_seconds_bucket", pod="web-0", op="read",
                   le="0.0025"))


def m_le_raw(ss):
    # le left as the data source spells it (le_0_00025 -> 0_00025)
    find(ss, "nfs_ebpf_operation_duration_seconds_bucket", pod="web-0", op="read",
         le="0.00025")["metric"]["le"] = "0_00025"


def m_le_respelled(ss):
    # a number, but not as Prometheus prints it (2.5 -> 2.50)
    find(ss, "nfs_ebpf_operation_duration_seconds_bucket", pod="web-0", op="read",
         le="2.5")["metric"]["le"] = "2.50"


def m_lost(ss):
    bump(find(ss, "nfs_ebpf_lost_events_total", reason="missed_return"), 1)


def m_entries(n):
    def mutate(ss):
        bump(find(ss, "nfs_ebpf_lost_events_total", reason="missed_entry"), n)
    return mutate


def m_skipped(n):
    """n fsync calls of the loader whose return program the kernel skipped:
    not counted (count, sum and every bucket that held them), reported as
    missed_return."""
    def mutate(ss):
        cnt = find(ss, "nfs_ebpf_operation_duration_seconds_count",
                   pod="loader-7d9f8c6b5-x2kqp", op="fsync")
        bump(cnt, -n)
        labels = {k: v for k, v in cnt["metric"].items() if k != "__name__"}
        for s in ss:
            m = s["metric"]
            if (m["__name__"] == "nfs_ebpf_operation_duration_seconds_bucket" and
                    {k: v for k, v in m.items() if k not in ("__name__", "le")} == labels):
                # the skipped calls were the slowest: out of the top buckets
                cap = float(cnt["value"][1])
                s["value"][1] = repr(min(float(s["value"][1]), cap))
        bump(find(ss, "nfs_ebpf_lost_events_total", reason="missed_return"), n)
    return mutate


def m_no_lost(ss):
    ss[:] = [s for s in ss if s["metric"]["__name__"] != "nfs_ebpf_lost_events_total"]


def m_erofs(ss):
    ss[:] = [s for s in ss if s["metric"].get("errno") != "EROFS"
             or s["metric"].get("op") != "mkdir" or s["metric"].get("pod") != "web-0"]


def m_idle(ss):
    s = copy.deepcopy(find(ss, "nfs_ebpf_bytes_total", pod="web-0", op="read"))
    s["metric"].update(namespace="kube-system", pod="etcd-nfs-ebpf-vm", container="etcd")
    ss.append(s)


def m_split(ss):
    # The same bytes split over two series (e.g. one per device) is wrong.
    s = find(ss, "nfs_ebpf_bytes_total", pod="web-0", container="nginx", op="write")
    t = copy.deepcopy(s)
    v = float(s["value"][1])
    s["value"][1] = repr(v - 10)
    t["value"][1] = "10"
    t["metric"]["instance"] = "other"
    ss.append(t)


MUTATIONS = [
    ("write bytes off by one", m_bytes),
    ("exact fsync count off by one", m_count),
    ("bytes attributed to the wrong pod", m_pod),
    ("pod in the wrong namespace", m_namespace),
    ("non-pod process in the wrong cgroup", m_cgroup),
    ("+Inf bucket != _count", m_inf),
    ("buckets decreasing in le", m_order),
    ("a bucket missing", m_bucket_gone),
    ("an le not decoded from its data source name", m_le_raw),
    ("an le not spelled as Prometheus prints it", m_le_respelled),
    ("a lost event", m_lost),
    ("lost-event counters missing", m_no_lost),
    ("mkdir EROFS missing", m_erofs),
    ("idle pod has a series", m_idle),
    ("bytes split over two series", m_split),
]


def run_check(truth_path, series, tmp, window=0, skips=0):
    p = os.path.join(tmp, "series.json")
    with open(p, "w") as f:
        json.dump(series, f)
    r = subprocess.run([sys.executable, os.path.join(HERE, "check.py"), "--truth", truth_path,
                        "--series", p, "--idle-pod", "kube-system/etcd-nfs-ebpf-vm",
                        "--attach-window-entries", str(window), "--kernel-skips", str(skips)],
                       capture_output=True, text=True)
    return r.returncode, r.stdout


def main():
    truth_path = os.path.join(HERE, "sample", "truth.json")
    with open(truth_path) as f:
        runs = json.load(f)
    good = series_from_truth(runs)
    n = failed = 0

    def tap(ok, text, detail=""):
        nonlocal n, failed
        n += 1
        failed += not ok
        print("%s %d - %s" % ("ok" if ok else "not ok", n, text))
        if not ok and detail:
            print("# " + detail.strip().replace("\n", "\n# "))

    with tempfile.TemporaryDirectory() as tmp:
        rc, out = run_check(truth_path, good, tmp)
        tap(rc == 0 and "not ok" not in out, "check.py passes on series matching the truth",
            "\n".join(l for l in out.splitlines() if l.startswith("not ok")))
        for text, fn in MUTATIONS:
            bad = copy.deepcopy(good)
            fn(bad)
            rc, out = run_check(truth_path, bad, tmp)
            tap(rc != 0 and "not ok" in out, "check.py fails on: " + text)
        rc, out = run_check(truth_path, [], tmp)
        tap(rc != 0, "check.py fails on an empty scrape")
        # Allowances, each with a scrape it must still reject: a few
        # missed_entry within an attach window (asked for, never more, and
        # never another reason), and as many short counts and missed_* as
        # the kernel skipped programs (recursion_misses), never more.
        # (mutation, run_check options, passes, text)
        allowances = [
            (m_entries(1), {}, False, "check.py fails on a missed_entry without an attach window"),
            (m_entries(1), {"window": 3}, True,
             "check.py accepts 1 missed_entry within an attach window of 3"),
            (m_entries(4), {"window": 3}, False,
             "check.py fails on 4 missed_entry with an attach window of 3"),
            (m_lost, {"window": 3}, False,
             "check.py fails on a missed_return even with an attach window"),
            (m_skipped(1), {}, False,
             "check.py fails on a call short and a missed_return, no program skipped"),
            (m_skipped(1), {"skips": 1}, True,
             "check.py accepts a call short and a missed_return for 1 skipped program"),
            (m_skipped(2), {"skips": 1}, False,
             "check.py fails on 2 calls short for 1 skipped program"),
        ]
        for fn, options, passes, text in allowances:
            bad = copy.deepcopy(good)
            fn(bad)
            rc, out = run_check(truth_path, bad, tmp, **options)
            tap((rc == 0) == passes, text,
                "\n".join(l for l in out.splitlines() if l.startswith("not ok")))
        restart_selftest(tmp, tap)
        encoding_selftest(tap)
    print("%d passed, %d failed" % (n - failed, failed))
    return 1 if failed else 0


def restart_selftest(tmp, tap):
    """restart_check.py passes on resets and fails on a spike within a run,
    on double counting across the restart, and on no restart at all."""
    who, what = "ns_pod_c", "read@127.0.0.1:|export"
    truth = os.path.join(tmp, "restart-truth.json")
    with open(truth, "w") as f:
        json.dump({"actor": {}, "mounts": [{"server": "127.0.0.1", "export": "/export",
                                            "ops": {"read": {"count": 10, "exact": True,
                                                             "bytes": 1000}}}]}, f)

    def run(seq, le10=None):
        """le10: the <= 10 s bucket's values (default: the counts)"""
        d = tempfile.mkdtemp(dir=tmp)
        for i, (r, count) in enumerate(seq):
            with open(os.path.join(d, "%03d-run%d.prom" % (i, r)), "w") as f:
                for name, v in (("operations_total", count), ("total_bytes_total", 100 * count),
                                ("nfs_ebpf_buckets_le_10_total", count if le10 is None else le10[i])):
                    f.write('collectd_nfs_ebpf_%s{nfs_ebpf="%s",type="%s",instance="vm"} %g 1\n'
                            % (name, who, what, v))
        r = subprocess.run([sys.executable, os.path.join(HERE, "restart_check.py"), "--scrapes",
                            d, "--who", who, truth], capture_output=True, text=True)
        return r.returncode

    tap(run([(1, 3), (1, 5), (2, 2), (2, 4)]) == 0,
        "restart_check.py passes on a counter reset at the restart")
    tap(run([(1, 3), (1, 0), (1, 5), (2, 2), (2, 4)]) != 0,
        "restart_check.py fails on a value falling within one collectd run")
    tap(run([(1, 3), (1, 5), (2, 2), (2, 8)]) != 0,
        "restart_check.py fails on double counting across the restart")
    tap(run([(1, 3), (1, 5), (1, 6)]) != 0, "restart_check.py fails without a restart")
    tap(run([(1, 3), (1, 5), (2, 2), (2, 4)], le10=[3, 2, 2, 4]) != 0,
        "restart_check.py fails on a bucket (one family per data source) falling within one run")


def encoding_selftest(tap):
    """check.py's copy of the identifier encoding gives what the plugin
    (src/dispatch/identifier.c) gives: values taken from the C code."""
    pod = ("data-pipeline-nightly-ingest-" * 7)[:186] + "-28f6d-x7k9q"
    tap(check.encode_who("argo", pod, "main", "") ==
        "argo_data-pipeline-nightly-ingest-data-pipeline-nightly-ingest-data-pipeline-"
        "nightly-ingest-data-pipeline-nig~020ffc47d5db_main",
        "check.py shortens a 200-character pod name like the plugin")
    tap(check.encode_who("", "", "", "odd|pipe.scope") == "@~08b9e6ea3446" and
        check.encode_who("", "", "", "odd~tilde.scope") == "@~2d59739f0303" and
        check.encode_who("", "", "", "caf\u00e9.service") == "@~656ce3a8fd56",
        "check.py hashes cgroup names with '|', '~' or UTF-8 like the plugin")
    tap(check.user_labels({"namespace": "shop", "pod": "web-0", "container": "nginx"}) ==
        {"namespace": "shop", "pod": "web-0", "container": "nginx", "cgroup": ""} and
        check.user_labels({"cgroup": "system.slice/x.service"})["cgroup"] ==
        "system.slice/x.service",
        "ordinary names are shown unchanged")


if __name__ == "__main__":
    sys.exit(main())
