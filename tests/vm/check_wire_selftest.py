#!/usr/bin/env python3
"""check_wire.py must fail on wrong data before its passes mean anything.

Builds a guest=wire result by hand (two snapshots around a "sync" phase:
mountstats and the relabelled series), checks that check_wire.py passes it
as it is, and that each fault below makes exactly the check about it fail.
"""
import contextlib
import copy
import io
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_wire  # noqa: E402

MIB = 1 << 20
LOADER = {"namespace": "batch", "pod": "loader-7d9f8c6b5-x2kqp", "container": "loader"}
V3 = {"server": "127.0.0.1", "export": "/srv/nfs/export"}
V4 = {"server": "127.0.0.2", "export": "/export"}
# (who, mount labels, proc, {column: (before, after)}); an empty export is
# left out, as Prometheus does
SERIES = [
    (LOADER, V3, "WRITE", {"ops": (0, 32), "ntrans": (0, 32), "bytes_sent": (0, 8 * MIB + 4096),
                           "bytes_recv": (0, 5120)}),
    (LOADER, V3, "COMMIT", {"ops": (0, 1), "ntrans": (0, 1), "bytes_sent": (0, 112), "bytes_recv": (0, 120)}),
    (LOADER, V4, "WRITE", {"ops": (0, 32), "ntrans": (0, 32), "bytes_sent": (0, 8 * MIB + 6784),
                           "bytes_recv": (0, 5888)}),
    (LOADER, V4, "COMMIT", {"ops": (0, 1), "ntrans": (0, 1), "bytes_sent": (0, 336), "bytes_recv": (0, 104)}),
    ({"cgroup": "nfs-client"}, {"server": "127.0.0.2"}, "SEQUENCE",
     {"ops": (3, 4), "ntrans": (3, 4), "bytes_sent": (372, 496), "bytes_recv": (240, 320)}),
]
COLUMN_METRIC = dict(check_wire.COLUMNS)
LOST = ["start_map_full", "stats_map_full", "errors_map_full", "missed_entry", "missed_return",
        "rpc_stats_map_full", "rpc_mount_unknown", "rpc_program_skipped"]


ETCD = {"namespace": "kube-system", "pod": "etcd-nfs-ebpf-vm", "container": "etcd"}
# an ACCESS across the outage on /mnt/rt (same source as /mnt/v3)
RETRANS = [
    (ETCD, V3, "ACCESS", {"ops": (0, 2), "ntrans": (0, 5), "timeouts": (0, 22), "bytes_sent": (0, 288),
                          "bytes_recv": (0, 240)}),
    (ETCD, V3, "READ", {"ops": (0, 1), "ntrans": (0, 1), "bytes_sent": (0, 112), "bytes_recv": (0, 65664)}),
]


def mountstats(series, snap):
    per = {}
    for _, mount, proc, cols in series:
        for src in ([mount] if mount.get("export") else [V4]):
            key = "%s:%s" % (src["server"], src["export"])
            row = per.setdefault(key, {}).setdefault(proc, {})
            for c, v in cols.items():
                row[c] = row.get(c, 0) + v[snap]
    out = []
    for src, point in (("127.0.0.1:/srv/nfs/export", "/mnt/v3"), ("127.0.0.2:/export", "/mnt/v4"),
                       ("127.0.0.1:/srv/nfs/export", "/mnt/rt")):
        if point == "/mnt/rt":
            # a second mount of the same source: its counts are its own
            out.append("device %s mounted on %s with fstype nfs statvers=1.1" % (src, point))
            continue
        out.append("device %s mounted on %s with fstype nfs statvers=1.1" % (src, point))
        out.append("\tper-op statistics")
        for proc, row in sorted(per.get(src, {}).items()):
            vals = [row.get(c, 0) for c in ("ops", "ntrans", "timeouts", "bytes_sent", "bytes_recv")]
            out.append("\t%12s %s 0 0 0 %d" % (proc + ":", " ".join(map(str, vals)), row.get("errors", 0)))
    return "\n".join(out) + "\n"


def series_json(series, lost_after, rtt_inf_after):
    res = []
    for snap in (0, 1):
        for who, mount, proc, cols in series:
            for c, metric in COLUMN_METRIC.items():
                m = {"__name__": metric, "lab_snapshot": str(snap), "proc": proc, "instance": "vm"}
                m.update(who)
                m.update(mount)
                res.append({"metric": m, "value": [0, str(cols.get(c, (0, 0))[snap])]})
            count = cols["ops"][snap]
            base = {"lab_snapshot": str(snap), "proc": proc, "instance": "vm"}
            base.update(who)
            base.update(mount)
            res.append({"metric": dict(base, __name__="nfs_ebpf_rpc_rtt_seconds_count"),
                        "value": [0, str(count)]})
            inf = rtt_inf_after if snap == 1 and proc == "COMMIT" and rtt_inf_after is not None else count
            res.append({"metric": dict(base, __name__="nfs_ebpf_rpc_rtt_seconds_bucket", le="+Inf"),
                        "value": [0, str(inf)]})
        for r in LOST:
            v = lost_after.get(r, 0) if snap == 1 else 0
            res.append({"metric": {"__name__": "nfs_ebpf_lost_events_total", "reason": r,
                                   "lab_snapshot": str(snap)}, "value": [0, str(v)]})
    return res


def run(series=SERIES, plugin_series=None, lost_after=None, rtt_inf_after=None, misses=None,
        phase="sync"):
    """check_wire's output and its failed lines for a built result: the
    kernel's mountstats from `series`, the plugin's from plugin_series;
    `misses`: the counting program's recursion_misses (default: the
    rpc_program_skipped reported)."""
    lost_after = lost_after or {}
    if misses is None:
        misses = lost_after.get("rpc_program_skipped", 0)
    with tempfile.TemporaryDirectory() as d:
        json.dump([{"name": "tp_btf_rpc_stats_latency", "run_cnt": 70, "run_time_ns": 7000,
                    "recursion_misses": misses}], open(d + "/wire-progs.json", "w"))
        json.dump({"phases": ["setup", phase]}, open(d + "/wire-phases.json", "w"))
        for snap in (0, 1):
            open("%s/wire-%d.mountstats" % (d, snap), "w").write(mountstats(series, snap))
        json.dump(series_json(plugin_series or series, lost_after, rtt_inf_after),
                  open(d + "/rel.json", "w"))
        check_wire.N = check_wire.FAILED = 0
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            check_wire.check(d, d + "/rel.json")
    lines = out.getvalue().splitlines()
    return lines, [l for l in lines if l.startswith("not ok")]


N = 0
FAILED = 0


def tap(ok, text, detail=None):
    global N, FAILED
    N += 1
    FAILED += not ok
    print("%s %d - %s" % ("ok" if ok else "not ok", N, text))
    if not ok and detail:
        for l in detail:
            print("# " + l)


def fails_only(bad, word):
    return len(bad) >= 1 and all(word in l for l in bad)


lines, bad = run()
tap(not bad and any("sync, v3: WRITE" in l for l in lines),
    "check_wire.py passes a consistent result", lines)

short = copy.deepcopy(SERIES)
short[2][3]["ops"] = (0, 27)
lines, bad = run(plugin_series=short)
tap(fails_only(bad, "equals mountstats"), "check_wire.py fails when the plugin counts 27 of 32 WRITEs", lines)

moved = copy.deepcopy(SERIES)
moved.append(({"cgroup": "unattributed"}, V3, "WRITE", {"ops": (0, 1), "ntrans": (0, 1),
                                                       "bytes_sent": (0, 262144), "bytes_recv": (0, 160)}))
moved[0][3]["ops"] = (0, 31)
moved[0][3]["ntrans"] = (0, 31)
moved[0][3]["bytes_sent"] = (0, 8 * MIB + 4096 - 262144)
moved[0][3]["bytes_recv"] = (0, 5120 - 160)
lines, bad = run(plugin_series=moved)
tap(fails_only(bad, "charged to the pod that wrote"),
    "check_wire.py fails when 3 % of the writeback is not charged to the writer", lines)

lines, bad = run(plugin_series=[s for s in SERIES if s[2] != "SEQUENCE"])
tap(fails_only(bad, "SEQUENCE"),
    "check_wire.py fails when the server's shared client's lease RPCs are missing", lines)

lines, bad = run(lost_after={"rpc_stats_map_full": 1})
tap(fails_only(bad, "no event lost"), "check_wire.py fails on a lost event in a window", lines)

skip = copy.deepcopy(SERIES)
skip[2][3].update({"ops": (0, 31), "ntrans": (0, 31), "bytes_sent": (0, 8 * MIB + 6784 - 262356),
                   "bytes_recv": (0, 5888 - 184)})
lines, bad = run(plugin_series=skip, lost_after={"rpc_program_skipped": 1})
tap(not bad, "check_wire.py accepts a WRITE short where the kernel skipped the counting program "
    "once (rpc_program_skipped 1, recursion_misses 1)", lines)
lines, bad = run(plugin_series=skip, lost_after={"rpc_program_skipped": 1}, misses=2)
tap(fails_only(bad, "rpc_program_skipped"),
    "check_wire.py fails when rpc_program_skipped differs from the kernel's recursion_misses", lines)
lines, bad = run(plugin_series=skip)
tap(len(bad) >= 1 and any("equals mountstats" in l for l in bad),
    "check_wire.py fails on the same WRITE short with no skip reported", lines)

lines, bad = run(series=RETRANS, phase="retrans")
tap(not bad and any("22 major timeouts" in l for l in lines),
    "check_wire.py passes retransmissions and timeouts charged to the pod across the outage", lines)
other = copy.deepcopy(RETRANS)
other[0] = (LOADER,) + other[0][1:]
lines, bad = run(series=RETRANS, plugin_series=other, phase="retrans")
tap(fails_only(bad, "retrans: the pod's RPCs"),
    "check_wire.py fails when the retransmissions are charged to another pod", lines)

lines, bad = run(phase="lease")
tap(not bad and any("lease: 1 lease renewal" in l for l in lines),
    "check_wire.py passes an idle mount's lease renewal charged to nfs-client", lines)
lines, bad = run(phase="lease", plugin_series=[s for s in SERIES if s[2] != "SEQUENCE"],
                 lost_after={"rpc_mount_unknown": 1})
tap(any("lease:" in l for l in bad) and any("no event lost" in l for l in bad),
    "check_wire.py fails when the idle mount's lease renewal is an RPC of an unknown mount", lines)

WEB = {"namespace": "shop", "pod": "web-0", "container": "nginx"}


def shared(loader_mib, web_mib):
    """Two pods' WRITEs of one 8 MiB file on both mounts."""
    out = []
    for mount in (V3, V4):
        for who, mib in ((LOADER, loader_mib), (WEB, web_mib)):
            n = int(mib * 4)
            out.append((who, mount, "WRITE", {"ops": (0, n), "ntrans": (0, n),
                                              "bytes_sent": (0, int(mib * MIB) + 160 * n),
                                              "bytes_recv": (0, 160 * n)}))
    return out


lines, bad = run(series=shared(4, 4), phase="other-uid")
tap(not bad and any("other-uid, v3" in l and "(50.0 %)" in l for l in lines),
    "check_wire.py passes two uids' interleaved writes charged to each writer", lines)
lines, bad = run(series=shared(8, 0), phase="same-uid")
tap(not bad and any("same-uid, v4" in l and "(100.0 %)" in l for l in lines),
    "check_wire.py passes one uid's joined WRITEs charged to the writer of their first page", lines)
lines, bad = run(series=shared(4, 4), plugin_series=shared(8, 0), phase="other-uid")
tap(fails_only(bad, "two pods wrote"),
    "check_wire.py fails when another uid's writes are charged to the first writer", lines)
stray = shared(4, 4)
stray[0] = ({"cgroup": "unattributed"},) + stray[0][1:]
lines, bad = run(series=shared(4, 4), plugin_series=stray, phase="same-uid")
tap(fails_only(bad, "two pods wrote"),
    "check_wire.py fails when a shared file's WRITEs go to neither writer", lines)

lines, bad = run(rtt_inf_after=0)
tap(fails_only(bad, "+Inf"), "check_wire.py fails when an RTT histogram's +Inf differs from _count", lines)

print("%d passed, %d failed" % (N - FAILED, FAILED))
sys.exit(1 if FAILED else 0)
