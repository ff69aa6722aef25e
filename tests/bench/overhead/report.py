#!/usr/bin/env python3
"""Tables of the overhead benchmark (run.sh) from what guest.sh wrote.

    report.py DIR...      one DIR per kernel (run.sh's OUT/<kver>)

Prints markdown (timings per workload and configuration, then the kernel's
own accounting per hooked function) and writes DIR/summary.tsv (every
median, interquartile spread, minimum and ratio of medians) and DIR/accounting.tsv (run_cnt and
run_time_ns per function, configuration and direction). Judges nothing.
"""
import json
import os
import re
import statistics
import sys

CONFIGS = ["untraced", "floor-fentry", "nfs_ebpf-fentry", "baseline-fentry", "floor-kprobe",
           "nfs_ebpf-kprobe", "baseline-kprobe"]
MODES = ["fentry", "kprobe"]
# Who ran the programs: the empty ones, this build, another build.
WHO = ["floor", "nfs_ebpf", "baseline"]
# Fewer calls make no per-function mean (the first call of a key pays for
# its map insert): such functions count in the total only.
MIN_CALLS = 100
WORKLOADS = {
    "stat": "stat()",
    "read": "pread 4 KiB, cached",
    "open": "open+close",
    "create": "create+close+unlink",
}
# /proc/net/rpc/nfs "proc3" columns after the count.
PROC3 = ["null", "getattr", "setattr", "lookup", "access", "readlink", "read", "write",
         "create", "mkdir", "symlink", "mknod", "remove", "rmdir", "rename", "link",
         "readdir", "readdirplus", "fsstat", "fsinfo", "pathconf", "commit"]


def read_info(d):
    info = {}
    with open(os.path.join(d, "info.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition(" ")
            info[k] = v
    return info


def read_raw(d):
    """{(config, workload): [ns per op, ...]} of the timed rounds, and counts."""
    per_op, counts = {}, {}
    with open(os.path.join(d, "raw.tsv")) as f:
        for line in f:
            _kver, rnd, config, workload, count, ns = line.split("\t")
            if rnd.startswith("acct"):
                continue
            per_op.setdefault((config, workload), []).append(int(ns) / int(count))
            counts[workload] = int(count)
    return per_op, counts


def quartiles(values):
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def rpc_per_op(d, workload):
    """(RPCs per operation, {procedure: per op}) of a workload run alone."""
    def load(path):
        out = {}
        with open(path) as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] in ("rpc", "proc3"):
                    out[fields[0]] = [int(x) for x in fields[1:]]
        return out
    try:
        before = load(os.path.join(d, "rpc-%s-before.txt" % workload))
        after = load(os.path.join(d, "rpc-%s-after.txt" % workload))
        with open(os.path.join(d, "rpc-%s-count.txt" % workload)) as f:
            n = int(f.read())
    except OSError:
        return None, {}
    total = (after["rpc"][0] - before["rpc"][0]) / n
    procs = {}
    if "proc3" in before and "proc3" in after:
        for name, a, b in zip(PROC3, before["proc3"][1:], after["proc3"][1:]):
            if b - a:
                procs[name] = (b - a) / n
    return total, procs


def hook_of(name, functions):
    """Function a program name of nfs_ebpf belongs to, and entry/exit."""
    m = re.match(r"^(fentry|fexit|kprobe|kretprobe)_(.+)$", name)
    if not m:
        return None, None
    kind, rest = m.groups()
    func = rest if rest in functions else None
    if func is None:  # a second exit program, e.g. fexit_nfs_mkdir_dentry
        cands = [f for f in functions if rest.startswith(f + "_")]
        func = max(cands, key=len) if cands else None
    return func, ("entry" if kind in ("fentry", "kprobe") else "exit")


def accounting_round(d, a, functions):
    """{(who, mode): {func: [entry_cnt, entry_ns, exit_cnt, exit_ns]}} of
    accounting round a."""
    acct = {}
    for mode in MODES:
        before, after = {}, {}
        for which, into in (("before", before), ("after", after)):
            path = os.path.join(d, "bpfstats-floor-%s-%s.%d.txt" % (mode, which, a))
            if not os.path.exists(path):
                continue
            with open(path) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) == 7 and fields[0] == "stat":
                        into[fields[2]] = [int(x) for x in fields[3:]]
        if after:
            acct[("floor", mode)] = {
                fn: [x - y for x, y in zip(v, before.get(fn, [0, 0, 0, 0]))]
                for fn, v in after.items()}
        for who in ("nfs_ebpf", "baseline"):
            path = os.path.join(d, "bpfstats-%s-%s.%d.json" % (who, mode, a))
            if not os.path.exists(path):
                continue
            stats = {}
            with open(path) as f:
                for prog in json.load(f):
                    func, where = hook_of(prog.get("name", ""), functions)
                    if func is None:
                        continue
                    s = stats.setdefault(func, [0, 0, 0, 0])
                    off = 0 if where == "entry" else 2
                    s[off] += prog.get("run_cnt", 0)
                    s[off + 1] += prog.get("run_time_ns", 0)
            acct[(who, mode)] = stats
    return acct


def accounting(d, functions, rounds):
    """[{(who, mode): {func: [entry_cnt, entry_ns, exit_cnt, exit_ns]}}, ...],
    one per accounting round that left files."""
    out = []
    for a in range(1, rounds + 1):
        acct = accounting_round(d, a, functions)
        if acct:
            out.append(acct)
    return out


def fmt_us(ns):
    us = ns / 1000.0
    return "%.2f" % us if us < 100 else "%.0f" % us


def report(d, out):
    info = read_info(d)
    functions = info.get("functions", "").split()
    per_op, counts = read_raw(d)
    med = {k: statistics.median(v) for k, v in per_op.items()}
    runs = {k: len(v) for k, v in per_op.items()}
    spread = {}
    for k, v in per_op.items():
        q1, q3 = quartiles(v)
        spread[k] = (q3 - q1) / med[k] * 100 if med[k] else 0.0

    print("### Linux %s (qemu TCG, %s vCPUs)\n" % (info.get("kernel", "?"), info.get("cpus", "?")),
          file=out)
    baseline = any(c.startswith("baseline-") for c, _w in med)
    print("Median of %s timed runs per cell, in µs per operation; in brackets the ratio "
          "to untraced. *×floor*: nfs_ebpf over the empty programs of the same attach mode "
          "on the same functions.%s\n" % (
              info.get("runs", "?"),
              " *×baseline*: nfs_ebpf over the baseline build in the same mode."
              if baseline else ""), file=out)
    head = ["workload", "ops/run", "untraced"]
    for mode in MODES:
        head += ["floor " + mode, "nfs_ebpf " + mode, "×floor"]
        if baseline:
            head += ["baseline " + mode, "×baseline"]
    print("| " + " | ".join(head) + " |", file=out)
    print("|---|" + "--:|" * (len(head) - 1), file=out)
    rows = []
    for w, label in WORKLOADS.items():
        base = med.get(("untraced", w))
        if base is None:
            continue
        cells = [label, str(counts.get(w, "?")), fmt_us(base)]
        for mode in MODES:
            floor = med.get(("floor-" + mode, w))
            traced = med.get(("nfs_ebpf-" + mode, w))
            for v in (floor, traced):
                cells.append("-" if v is None else "%s (×%.2f)" % (fmt_us(v), v / base))
            cells.append("-" if floor is None or traced is None else "×%.2f" % (traced / floor))
            if baseline:
                other = med.get(("baseline-" + mode, w))
                cells.append("-" if other is None else "%s (×%.2f)" % (fmt_us(other), other / base))
                cells.append("-" if other is None or traced is None else
                             "×%.2f" % (traced / other))
        print("| " + " | ".join(cells) + " |", file=out)
        for c in CONFIGS:
            if (c, w) in med:
                floor = med.get(("floor-" + c.split("-")[-1], w)) if c != "untraced" else None
                rows.append((info.get("kernel"), w, c, counts.get(w), runs[(c, w)],
                             med[(c, w)], spread[(c, w)], min(per_op[(c, w)]),
                             med[(c, w)] / base, med[(c, w)] / floor if floor else ""))
    worst = max(spread.values()) if spread else 0
    print("\nRun-to-run spread (interquartile range / median) per cell: at most %.1f%%, "
          "median %.1f%%." % (worst, statistics.median(spread.values()) if spread else 0),
          file=out)
    rpcs = []
    for w in WORKLOADS:
        total, procs = rpc_per_op(d, w)
        if total is None:
            continue
        detail = ", ".join("%s %.2f" % (p, v) for p, v in procs.items())
        rpcs.append("%s %.2f%s" % (w, total, " (%s)" % detail if detail else ""))
    if rpcs:
        print("NFS RPCs per operation (untraced, warm): %s. Mount: `%s`; %s of %s hooked "
              "functions present; collectd Interval %s s." %
              ("; ".join(rpcs), info.get("mount", "?"), info.get("present", "?"),
               len(functions), info.get("interval", "?")), file=out)

    rounds = accounting(d, functions, int(info.get("acct_runs", "1") or 1))
    acct_rows = []
    if rounds:
        whos = [w for w in WHO if any((w, m) in r for r in rounds for m in MODES)]
        print("\nKernel accounting (`kernel.bpf_stats_enabled=1`, %d untimed round%s of every "
              "workload): run_time_ns / run_cnt of the entry and exit programs summed, per "
              "call of the function; the median over the rounds.\n" %
              (len(rounds), "" if len(rounds) == 1 else "s"), file=out)
        head = ["function", "calls"]
        for mode in MODES:
            head += ["floor %s ns" % mode, "nfs_ebpf %s ns" % mode, "×floor"]
            if "baseline" in whos:
                head += ["baseline %s ns" % mode, "×baseline"]
        print("| " + " | ".join(head) + " |", file=out)
        print("|---|" + "--:|" * (len(head) - 1), file=out)

        def per_call(r, key, fn):
            """ns per call of fn in round r, or of every call when fn is None."""
            stats = r.get(key, {})
            items = [stats.get(fn)] if fn else list(stats.values())
            cnt = sum(v[0] for v in items if v)
            ns = sum(v[1] + v[3] for v in items if v)
            return ns / cnt if cnt else None

        def median_of(key, fn):
            vals = [v for v in (per_call(r, key, fn) for r in rounds) if v is not None]
            return statistics.median(vals) if vals else None

        def line(name, calls, fn):
            cells = [name, calls]
            for mode in MODES:
                f, n = median_of(("floor", mode), fn), median_of(("nfs_ebpf", mode), fn)
                cells += ["-" if f is None else "%.0f" % f, "-" if n is None else "%.0f" % n,
                          "-" if not f or n is None else "×%.1f" % (n / f)]
                if "baseline" in whos:
                    b = median_of(("baseline", mode), fn)
                    cells += ["-" if b is None else "%.0f" % b,
                              "-" if not b or n is None else "×%.2f" % (n / b)]
            print("| " + " | ".join(cells) + " |", file=out)

        rare, measured = [], []
        for fn in functions:
            calls = max((r.get(k, {}).get(fn, [0])[0] for r in rounds for k in r), default=0)
            if calls == 0:
                continue
            if calls < MIN_CALLS:
                rare.append("%s (%d)" % (fn, calls))
                continue
            measured.append(fn)
            line(fn, str(calls), fn)
        calls = max((sum(v[0] for v in r.get(("nfs_ebpf", "fentry"), {}).values())
                     for r in rounds), default=0)
        line("**all calls**", str(calls), None)
        if rare:
            print("\nCalled fewer than %d times, in *all calls* only: %s." %
                  (MIN_CALLS, ", ".join(rare)), file=out)
        for a, r in enumerate(rounds, 1):
            for (who, mode), stats in sorted(r.items()):
                for fn, v in stats.items():
                    acct_rows.append((info.get("kernel"), a, fn, "%s-%s" % (who, mode)) + tuple(v))
    print("", file=out)

    def write(name, header, selected):
        with open(os.path.join(d, name), "w") as f:
            f.write("\t".join(header) + "\n")
            for r in selected:
                f.write("\t".join("%.3f" % x if isinstance(x, float) else str(x) for x in r) + "\n")
    write("summary.tsv", ["kernel", "workload", "config", "ops_per_run", "runs",
                          "median_ns_per_op", "iqr_percent", "min_ns_per_op",
                          "ratio_untraced", "ratio_floor"],
          rows)
    write("accounting.tsv", ["kernel", "round", "function", "config", "entry_cnt",
                             "entry_ns", "exit_cnt", "exit_ns"], acct_rows)


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for d in sys.argv[1:]:
        report(d, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
