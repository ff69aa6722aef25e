#!/usr/bin/env python3
"""Prints what wire_probe saw in one lab VM (guest.sh's output folder):

1. per NFS version and procedure, the probe's sums beside the deltas of
   /proc/self/mountstats over the NFS mounts of that version (OK when they
   are equal: the probe counts where mountstats counts);
2. who was charged: per cgroup, version, procedure and where the cgroup
   came from (the creating task, or the writer of the open context for an
   RPC a kernel thread created), and how many were counted in a kernel
   thread (rpciod) rather than in the task that caused them.

Prints; asserts nothing.   report.py DIR
"""
import collections
import os
import re
import sys

FIELDS = ("ops", "ntrans", "timeouts", "bytes_sent", "bytes_recv", "errors")
SOURCES = {0: "creator", 1: "writer of the context", 2: "kernel thread, no writer",
           3: "no begin seen"}


def mountstats(path):
    """{(mount point, version): {proc: [ops, ntrans, timeouts, sent, recv, errors]}}"""
    mounts, cur = {}, None
    with open(path) as f:
        for line in f:
            m = re.match(r"device \S+ mounted on (\S+) with fstype (nfs4?) ", line)
            if m:
                cur = (m.group(1), "3" if m.group(2) == "nfs" else "4")
                mounts[cur] = {}
                continue
            if not line.startswith("device ") and cur is not None:
                m = re.match(r"\s+([A-Z_0-9]+): ((?:\d+ ){8}\d+)$", line)
                if m:
                    v = [int(x) for x in m.group(2).split()]
                    # ops ntrans timeouts sent recv queue rtt execute errors
                    mounts[cur][m.group(1)] = v[:5] + [v[8]]
            elif line.startswith("device "):
                cur = None
    return mounts


def main(out):
    names = {0: "unattributed"}
    with open(os.path.join(out, "cgroups.txt")) as f:
        for line in f:
            _, cid, name = line.split()
            names[int(cid)] = name
    before = mountstats(os.path.join(out, "mountstats.before"))
    after = mountstats(os.path.join(out, "mountstats.after"))
    kernel = collections.defaultdict(lambda: [0] * len(FIELDS))
    for (mnt, vers), procs in after.items():
        if not mnt.startswith("/mnt/"):
            continue
        for proc, vals in procs.items():
            old = before.get((mnt, vers), {}).get(proc, [0] * len(FIELDS))
            for i, v in enumerate(vals):
                kernel[(vers, proc)][i] += v - old[i]

    probe = collections.defaultdict(lambda: [0] * len(FIELDS))
    charged = collections.defaultdict(lambda: [0, 0, 0, 0])
    with open(os.path.join(out, "charged.tsv")) as f:
        for line in f:
            cid, vers, source, in_kthread, proc, *vals = line.rstrip("\n").split("\t")
            vals = [int(v) for v in vals]
            for i, v in enumerate(vals):
                probe[(vers, proc)][i] += v
            who = names.get(int(cid), "cgroup %s" % cid)
            row = charged[(who, vers, proc, SOURCES.get(int(source), source))]
            row[0] += vals[0]
            row[1] += vals[0] if in_kthread == "1" else 0
            row[2] += vals[3]
            row[3] += vals[4]

    print("# mountstats (sum over the version's mounts) against wire_probe:")
    print("#   ops/ntrans/timeouts/bytes_sent/bytes_recv/errors")
    equal = 0
    keys = [k for k in sorted(set(kernel) | set(probe)) if any(kernel[k]) or any(probe[k])]
    for key in keys:
        k, p = "/".join(map(str, kernel[key])), "/".join(map(str, probe[key]))
        equal += k == p
        print("  v%s %-12s mountstats %-30s probe %-30s %s"
              % (key[0], key[1], k, p, "OK" if k == p else "DIFF"))
    print("# %d of %d procedures equal" % (equal, len(keys)))
    print("# charged: cgroup, version, procedure, source: ops (counted in a "
          "kernel thread), bytes sent, bytes received")
    for key in sorted(charged):
        ops, in_kthread, sent, recv = charged[key]
        print("  %-12s v%s %-12s %-26s %4d (%d) %9d %9d"
              % (key + (ops, in_kthread, sent, recv)))


if __name__ == "__main__":
    main(sys.argv[1])
