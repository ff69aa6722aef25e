#!/usr/bin/env python3
"""Check one VM lab run against its ground truth, on the series as a
Prometheus user sees them (after the shipped relabel rules).

  check.py --truth truth.json --series relabeled.json [--name PREFIX]

truth.json: the list workload.py runs wrote (scenario.sh merges them).
relabeled.json: Prometheus' data.result for {__name__=~"nfs_ebpf_.*"}
(tests/prom/relabel-through-prometheus.sh), [{"metric": {...}, "value": [ts, "v"]}].

Prints TAP lines (ok N - ... / not ok N - ...), exits 1 if any failed.
Prometheus drops empty labels: a missing label reads as "".
"""

import argparse
import json
import math
import sys

WHO = ("namespace", "pod", "container", "cgroup")


class Tap:
    def __init__(self, prefix):
        self.n = 0
        self.failed = 0
        self.prefix = prefix + ": " if prefix else ""

    def check(self, cond, text, detail=None):
        self.n += 1
        if cond:
            print("ok %d - %s%s" % (self.n, self.prefix, text))
        else:
            self.failed += 1
            print("not ok %d - %s%s" % (self.n, self.prefix, text))
            if detail:
                print("# " + str(detail).replace("\n", "\n# "))
        return cond


def lab(metric, name):
    return metric.get(name, "")


def load_series(path):
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict):  # a whole API answer
        data = data.get("data", {}).get("result", [])
    out = []
    for s in data:
        m = dict(s["metric"])
        out.append((m, float(s["value"][1])))
    return out


# ---- what the user sees of a name: src/dispatch/identifier.c's encoding, then the
# relabel rules' decoding (docs/identifiers.md), written again from the
# documentation so the lab checks the C code against it.
IDENTIFIER_MAX_LEN = 127
IDENTIFIER_HASH_LEN = 13


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def hash_text(h):
    return b"~%012x" % (h >> 16)


def encode_who(ns, pod, container, cgroup):
    """The plugin_instance ("who") nfs_ebpf writes for these names."""
    pieces = []  # [text, variable, hashed, out_len, cut]

    def seg(text, reserved):
        raw = text.encode()
        bad = any(c < 0x20 or c > 0x7e or c in b"|~" + reserved for c in raw)
        if bad:
            pieces.append([hash_text(fnv1a64(raw)), True, True, IDENTIFIER_HASH_LEN, False])
        else:
            pieces.append([raw, True, False, len(raw), False])

    def fixed(text):
        pieces.append([text, False, False, len(text), False])

    if pod:
        seg(ns, b"_@"), fixed(b"_"), seg(pod, b"_@"), fixed(b"_"), seg(container, b"_@")
    else:
        fixed(b"@"), seg(cgroup, b"")
    total = sum(p[3] for p in pieces)
    while total > IDENTIFIER_MAX_LEN:
        cand = [p for p in pieces if p[1] and not p[2] and p[3] > IDENTIFIER_HASH_LEN]
        if not cand:
            raise ValueError("identifier cannot fit")
        longest = max(cand, key=lambda p: p[3])  # the first of the longest
        second = max([IDENTIFIER_HASH_LEN] + [p[3] for p in cand if p is not longest])
        step = min(max(longest[3] - second, 1), total - IDENTIFIER_MAX_LEN)
        longest[3] -= step
        longest[4] = True
        total -= step
    for p in pieces:
        while p[4] and p[3] > IDENTIFIER_HASH_LEN and p[0][p[3] - IDENTIFIER_HASH_LEN - 1:][:1] == b":":
            p[3] -= 1
    cut_hash = hash_text(fnv1a64(b"".join(p[0].replace(b"/", b"|") for p in pieces)))
    out = b""
    for text, _, hashed, out_len, cut in pieces:
        if hashed:
            out += text
        elif cut:
            out += text[:out_len - IDENTIFIER_HASH_LEN].replace(b"/", b"|") + cut_hash
        else:
            out += text.replace(b"/", b"|")
    return out.decode()


def user_labels(actor):
    """An actor's namespace, pod, container and cgroup labels as a
    Prometheus user sees them: encoded by the plugin, split and '/'-restored
    by the relabel rules. Ordinary names come back unchanged."""
    who = encode_who(*(actor.get(k, "") for k in WHO))
    if who.startswith("@"):
        return {"namespace": "", "pod": "", "container": "",
                "cgroup": who[1:].replace("|", "/")}
    ns, pod, container = who.split("_", 2)
    return {"namespace": ns, "pod": pod, "container": container, "cgroup": ""}


def merge_truth(runs):
    """(who, server, export) -> {"ops": {op: {count, exact, bytes}},
    "any_of": {ops_tuple: n}, "errors": {(ops_tuple, errno): n}}"""
    merged = {}
    estale = []
    for run in runs:
        shown = user_labels(run["actor"])
        who = tuple(shown[k] for k in WHO)
        if run.get("estale"):
            estale.append((who, run["estale"]))
        for mp in run["mounts"]:
            key = (who, mp["server"], mp["export"])
            t = merged.setdefault(key, {"ops": {}, "any_of": {}, "errors": {}})
            for op, o in mp["ops"].items():
                d = t["ops"].setdefault(op, {"count": 0, "exact": o["exact"], "bytes": 0})
                d["count"] += o["count"]
                d["bytes"] += o.get("bytes", 0)
                d["queued"] = d.get("queued", 0) + o.get("queued", 0)
            for a in mp["any_of"]:
                k = tuple(a["ops"])
                t["any_of"][k] = t["any_of"].get(k, 0) + a["count"]
            for e in mp["errors"]:
                k = (tuple(e["ops"]), e["errno"])
                t["errors"][k] = t["errors"].get(k, 0) + e["count"]
    return merged, estale


def select(series, name, **want):
    return [(m, v) for m, v in series
            if m.get("__name__") == name and all(lab(m, k) == w for k, w in want.items())]


def total(series, name, **want):
    return sum(v for _, v in select(series, name, **want))


def who_text(who):
    if who[1]:
        return "%s/%s/%s" % who[:3]
    return "cgroup %s" % who[3]


def check_truth(tap, series, merged, missing=None, skips=None):
    """missing: None, or (MaxEntries too small for every key) a dict that
    collects the operations of (who, mount, op) with no series at all,
    whose checks are left out: the kernel never had a key for them.
    skips: {"left": N}, the calls the kernel skipped one of the plugin's
    programs for (their recursion_misses): an exact count may fall short by
    at most that many in all, each shortfall spending from it."""
    if skips is None:
        skips = {"left": 0}
    for (who, server, export), t in sorted(merged.items()):
        where = "%s on %s:%s" % (who_text(who), server, export)
        labels = dict(zip(WHO, who), server=server, export=export)
        for op, o in sorted(t["ops"].items()):
            cnt = select(series, "nfs_ebpf_operation_duration_seconds_count", op=op, **labels)
            got = sum(v for _, v in cnt)
            if missing is not None and not cnt:
                missing["exact" if o["exact"] else "minimum"] += o["count"]
                missing["keys"] += 1
                continue
            short = o["count"] - got
            skipped = 0 < short <= skips["left"]
            if skipped:
                skips["left"] -= short
            if o["exact"]:
                tap.check(len(cnt) == 1 and (got == o["count"] or skipped),
                          "%s: %s count == %d%s" % (
                              where, op, o["count"],
                              " (less %d call(s) the kernel skipped a program for)" % short
                              if skipped else ""),
                          "got %s from %d series" % (got, len(cnt)))
            else:
                tap.check(got >= o["count"] or skipped,
                          "%s: %s count >= %d%s" % (
                              where, op, o["count"],
                              " (less %d skipped)" % short if skipped else ""),
                          "got %s" % got)
            if o.get("queued"):
                # Queued asynchronous direct I/O (-EIOCBQUEUED): counted
                # above, never an error; its bytes arrive with the
                # completion, not seen (README, "Limits").
                q = total(series, "nfs_ebpf_operation_errors_total", op=op,
                          errno="EIOCBQUEUED", **labels)
                tap.check(q == 0, "%s: %d queued asynchronous %s calls are not "
                          "errors" % (where, o["queued"], op), "got %s EIOCBQUEUED" % q)
            if op in ("read", "write"):
                b = select(series, "nfs_ebpf_bytes_total", op=op, **labels)
                gotb = sum(v for _, v in b)
                # A skipped call's bytes are not counted either.
                tap.check(len(b) == 1 and (gotb == o["bytes"] or
                                           (skipped and gotb < o["bytes"])),
                          "%s: %s bytes == %d%s" % (where, op, o["bytes"],
                                                    " (less the skipped calls')"
                                                    if skipped else ""),
                          "got %s from %d series" % (gotb, len(b)))
        for ops, n in sorted(t["any_of"].items()):
            have = [op for op in ops
                    if select(series, "nfs_ebpf_operation_duration_seconds_count", op=op, **labels)]
            if missing is not None and not have:
                missing["minimum"] += n
                continue
            got = sum(total(series, "nfs_ebpf_operation_duration_seconds_count", op=op, **labels)
                      for op in ops)
            tap.check(got >= n, "%s: %s count >= %d" % (where, "+".join(ops), n),
                      "got %s" % got)
        for (ops, err), n in sorted(t["errors"].items()):
            if missing is not None and not any(
                    select(series, "nfs_ebpf_operation_duration_seconds_count", op=op, **labels)
                    for op in ops):
                continue  # the operations themselves had no key
            got = sum(total(series, "nfs_ebpf_operation_errors_total", op=op, errno=err, **labels)
                      for op in ops)
            tap.check(got >= n, "%s: %s errors %s >= %d" % (where, "|".join(ops), err, n),
                      "got %s" % got)


# The le labels of the default Bucket bounds, the lab's, as Prometheus prints
# them: the relabel rules' decoding of the bucket type's data source names
# (le_0_0001 ... le_inf, docs/identifiers.md "The bucket type").
DEFAULT_LES = ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
               "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]


def le_value(s):
    return math.inf if s == "+Inf" else float(s)


def check_histograms(tap, series):
    groups = {}
    for m, v in series:
        if m.get("__name__") != "nfs_ebpf_operation_duration_seconds_bucket":
            continue
        key = tuple(sorted((k, x) for k, x in m.items() if k not in ("le", "__name__")))
        groups.setdefault(key, []).append((lab(m, "le"), v))
    counts = {tuple(sorted((k, x) for k, x in m.items() if k != "__name__")): v
              for m, v in series if m.get("__name__") == "nfs_ebpf_operation_duration_seconds_count"}
    tap.check(len(groups) > 0 and len(groups) == len(counts),
              "every _count series has buckets (%d histograms, %d counts)"
              % (len(groups), len(counts)))
    bad_inf, bad_order, bad_le, bad_set = [], [], [], []
    for key, buckets in groups.items():
        try:
            buckets.sort(key=lambda b: le_value(b[0]))
        except ValueError:
            bad_le.append(dict(key))
            continue
        les = [le for le, _ in buckets]
        if les != DEFAULT_LES:
            bad_set.append((dict(key), les))
        inf = [v for le, v in buckets if le == "+Inf"]
        if len(inf) != 1 or inf[0] != counts.get(key):
            bad_inf.append((dict(key), inf, counts.get(key)))
        vals = [v for _, v in buckets]
        if any(b > a for a, b in zip(vals[1:], vals)):
            bad_order.append((dict(key), buckets))
    tap.check(not bad_le, "every le label is a number or +Inf", bad_le[:3])
    tap.check(not bad_set, "every histogram has the default bounds' %d buckets, le as "
              "Prometheus prints it (0.00025, 2.5, +Inf)" % len(DEFAULT_LES), bad_set[:3])
    tap.check(not bad_inf, 'le="+Inf" bucket == _count for every series', bad_inf[:3])
    tap.check(not bad_order, "bucket counts non-decreasing in le", bad_order[:3])


def check_map_full(tap, series, missing):
    """MaxEntries smaller than the keys: the operations of keys that never
    got into op_stats are counted as stats_map_full, at least the ones the
    workloads know exactly (other cgroups' operations, the mounts' own
    calls, are lost the same way but not known here)."""
    lost = {lab(m, "reason"): v for m, v in select(series, "nfs_ebpf_lost_events_total")}
    full = lost.get("stats_map_full", 0)
    tap.check(missing["keys"] > 0,
              "MaxEntries 64 left %d actor/mount/op keys out of op_stats" % missing["keys"])
    tap.check(full >= missing["exact"] + missing["minimum"] and full > 0,
              "stats_map_full (%d) >= the operations of keys left out (%d exact + %d at least)"
              % (full, missing["exact"], missing["minimum"]))
    over = [(r, v) for r, v in lost.items()
            if v > (full if r == "stats_map_full" else 0) and not wire_reason(r)]
    tap.check(not over, "no other reason lost anything", over)


def wire_reason(reason):
    """The wire level's reasons (rpc_*): checked by check_wire.py in cells
    of their own. Here its map shares MaxEntries with the operations' (a
    mapfull cell fills both), and RPCs a mount sends while it is made, or
    before the plugin saw any of its inodes, have no mount yet
    (rpc_mount_unknown, README "Wire level")."""
    return (reason or "").startswith("rpc_")


def check_lost(tap, series, attach_window_entries=0, kernel_skips=0):
    """Nothing may be lost, with two exceptions that are not defects. When
    the nfs modules load after collectd started, the plugin attaches while
    the mount's own NFS calls may be running; a call that entered before the
    entry probe and returns after the return probe is a real, reported
    missed_entry. attach_window_entries bounds those (0 when the modules
    were loaded before collectd). And the kernel may skip one of the
    plugin's programs (recursion protection: on a preemptible kernel, a
    thread preempted inside a program makes the next one on that CPU skip
    it); such a call is a reported missed_entry or missed_return, at most
    kernel_skips of them (the programs' recursion_misses)."""
    lost = select(series, "nfs_ebpf_lost_events_total")
    tap.check(len(lost) > 0, "nfs_ebpf_lost_events_total is exported (%d reasons)" % len(lost))
    allowed = {"missed_entry": attach_window_entries + kernel_skips,
               "missed_return": kernel_skips}
    over = [(lab(m, "reason") or m, v) for m, v in lost
            if v > allowed.get(lab(m, "reason"), 0) and not wire_reason(lab(m, "reason"))]
    missed = sum(v for m, v in lost if lab(m, "reason") in allowed)
    if missed > attach_window_entries + kernel_skips:
        over.append(("missed_entry + missed_return", missed))
    text = "nfs_ebpf_lost_events_total == 0 for every reason of the operations"
    if attach_window_entries:
        text += (", but for at most %d missed_entry of calls in flight while probes "
                 "attached" % attach_window_entries)
    if kernel_skips:
        text += (", and %d missed_entry or missed_return of calls the kernel skipped "
                 "a program for" % kernel_skips)
    tap.check(not over, text, over)


def check_attribution(tap, series, merged, idle_pods):
    actors = {who for who, _, _ in merged}
    pods = {who for who in actors if who[1]}
    seen_pods = set()
    strays, mixed = [], []
    for m, _ in series:
        if m.get("__name__") == "nfs_ebpf_lost_events_total":
            continue
        who = tuple(lab(m, k) for k in WHO)
        if who[1] or who[0] or who[2]:
            seen_pods.add(who)
            if not (who[0] and who[1] and who[2]) or who[3]:
                mixed.append(m)
            elif who not in pods:
                strays.append(m)
        elif not who[3]:
            mixed.append(m)
    tap.check(not mixed, "pod series carry namespace+pod+container and no cgroup; "
              "others a cgroup", mixed[:3])
    tap.check(not strays, "no series attributed to a pod container that did no NFS I/O",
              strays[:3])
    for ns, pod in idle_pods:
        tap.check(not any(w[0] == ns and w[1] == pod for w in seen_pods),
                  "idle pod %s/%s has no series" % (ns, pod))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--truth", required=True)
    ap.add_argument("--series", required=True)
    ap.add_argument("--name", default="")
    ap.add_argument("--attach-window-entries", type=int, default=0,
                    help="missed_entry allowed: calls in flight while probes "
                         "attached after collectd started (0: none)")
    ap.add_argument("--kernel-skips", type=int, default=0,
                    help="calls the kernel skipped one of the plugin's programs for "
                         "(the sum of their recursion_misses): each may be a "
                         "missed_entry or missed_return and a call short in a count")
    ap.add_argument("--map-full", action="store_true",
                    help="MaxEntries is too small for every key: series may be "
                         "missing, counted as stats_map_full; present ones exact")
    ap.add_argument("--idle-pod", action="append", default=[],
                    help="NAMESPACE/POD that must have no series (repeatable)")
    o = ap.parse_args()
    tap = Tap(o.name)
    try:
        with open(o.truth) as f:
            runs = json.load(f)
        series = load_series(o.series)
    except (OSError, ValueError, KeyError) as e:
        tap.check(False, "inputs readable", e)
        return 1
    merged, estale = merge_truth(runs)
    tap.check(len(merged) > 0, "ground truth has %d actor/mount entries" % len(merged))
    tap.check(len(series) > 0, "relabelled scrape has %d nfs_ebpf series" % len(series))
    missing = {"keys": 0, "exact": 0, "minimum": 0} if o.map_full else None
    check_truth(tap, series, merged, missing, {"left": o.kernel_skips})
    for who, err in estale:
        tap.check(err == "ESTALE", "stale handle probe of %s saw ESTALE" % who_text(who),
                  "the application saw %s" % err)
    check_histograms(tap, series)
    if o.map_full:
        check_map_full(tap, series, missing)
    else:
        check_lost(tap, series, o.attach_window_entries, o.kernel_skips)
    check_attribution(tap, series, merged,
                      [tuple(p.split("/", 1)) for p in o.idle_pod])
    print("# %d checks, %d failed" % (tap.n, tap.failed))
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
