#!/usr/bin/env python3
"""Check the scrapes taken while collectd was stopped and started again in
the middle of a workload (scenario.sh, feature "restart").

  restart_check.py --scrapes DIR --who WHO TRUTH.json...

DIR holds write_prometheus scrapes named NNN-runR.prom, in scrape order (NNN)
and collectd run (R: 1 before the restart, 2 after). WHO is the restarted
actor's plugin instance ("<ns>_<pod>_<container>"); TRUTH.json are the
workload.py runs of that actor (all of them: the workload ran in a loop
across the restart).

What a Prometheus user must see (counter resets are fine, spikes are not):
  - within one collectd run, no nfs_ebpf value ever decreases (a decrease
    is read as a counter reset and rate() spikes by the whole value);
  - across the restart a value may fall (a reset), and then, for every
    operation whose count the workload knows exactly, the increase
    Prometheus computes over all the scrapes (resets counted from 0) and
    every value scraped stay at or below the ground truth: nothing counted
    twice;
  - the actor's I/O was seen in both runs (the restart really happened
    mid-workload).
Prints TAP lines, exits 1 if any failed.
"""

import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check import Tap  # noqa: E402

LINE = re.compile(r'^(collectd_nfs_ebpf_[a-z0-9_]+)\{(.*)\} (\S+)(?: \d+)?$')
LABEL = re.compile(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"')


def parse(path):
    """{(name, labels without instance): value} of the nfs_ebpf lines."""
    out = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            m = LINE.match(line.strip())
            if not m:
                continue
            labels = tuple(sorted((k, v) for k, v in LABEL.findall(m.group(2))
                                  if k != "instance"))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def load_scrapes(d):
    runs = []
    for name in sorted(os.listdir(d)):
        m = re.match(r"^(\d+)-run(\d+)\.prom$", name)
        if m:
            runs.append((int(m.group(2)), name, parse(os.path.join(d, name))))
    return runs


def increase(values):
    """Prometheus' increase() over a run of samples, from 0 before the
    first: a decrease is a reset and the new value counts whole."""
    total, prev = 0.0, 0.0
    for v in values:
        total += v - prev if v >= prev else v
        prev = v
    return total


def truth_totals(paths):
    """{(op, type label value): (count, bytes)} of the exactly known ops."""
    out = {}
    for p in paths:
        with open(p) as f:
            run = json.load(f)
        for mp in run["mounts"]:
            what = "@%s:%s" % (mp["server"], mp["export"].replace("/", "|"))
            for op, o in mp["ops"].items():
                if not o["exact"]:
                    continue
                c, b = out.get(op + what, (0, 0))
                out[op + what] = (c + o["count"], b + o.get("bytes", 0))
    return out


def check(tap, scrapes, who, truth):
    by_run = {}
    for run, _, s in scrapes:
        by_run.setdefault(run, []).append(s)
    tap.check(len(by_run.get(1, [])) >= 2 and len(by_run.get(2, [])) >= 2,
              "at least two scrapes before and two after the restart (%s)"
              % {r: len(v) for r, v in sorted(by_run.items())})

    # 1. no decrease within a run
    falls = []
    for run, seq in sorted(by_run.items()):
        for a, b in zip(seq, seq[1:]):
            falls += [(run, k, a[k], b[k]) for k in a if k in b and b[k] < a[k]]
    tap.check(not falls, "no nfs_ebpf value decreases within one collectd run",
              falls[:5])

    # 2. the restarted actor: seen in both runs, never above the truth
    def actor_values(name, what, seq):
        key = (name, (("nfs_ebpf", who), ("type", what)))
        return [s.get(key, 0.0) for s in seq]

    all_seq = [s for _, _, s in scrapes]
    resets, over, seen = 0, [], {1: 0.0, 2: 0.0}
    for what, (count, nbytes) in sorted(truth.items()):
        for name, want in (("collectd_nfs_ebpf_operations_total", count),
                           ("collectd_nfs_ebpf_total_bytes_total", nbytes)):
            if name.endswith("bytes_total") and not what.startswith(("read@", "write@")):
                continue
            vals = actor_values(name, what, all_seq)
            resets += any(b < a for a, b in zip(vals, vals[1:]))
            inc = increase(vals)
            if inc > want or max(vals) > want:
                over.append((name, what, "increase %g, max %g > truth %g"
                             % (inc, max(vals), want)))
            if name.endswith("bytes_total"):
                for run in (1, 2):
                    seen[run] += max(actor_values(name, what, by_run.get(run, [])) or [0])
    tap.check(len(truth) > 0, "ground truth of the restarted actor has %d exact ops"
              % len(truth))
    tap.check(seen[1] > 0 and seen[2] > 0,
              "the restarted actor's bytes were reported before (%d) and after (%d) "
              "the restart" % (seen[1], seen[2]))
    tap.check(not over, "no double counting across the restart: increase() over the "
              "scrapes and every value <= ground truth (%d counters reset at the "
              "restart)" % resets, over[:5])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scrapes", required=True)
    ap.add_argument("--who", required=True)
    ap.add_argument("--name", default="")
    ap.add_argument("truth", nargs="+")
    o = ap.parse_args()
    tap = Tap(o.name)
    try:
        scrapes = load_scrapes(o.scrapes)
        truth = truth_totals(o.truth)
    except (OSError, ValueError, KeyError) as e:
        tap.check(False, "inputs readable", e)
        return 1
    check(tap, scrapes, o.who, truth)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
