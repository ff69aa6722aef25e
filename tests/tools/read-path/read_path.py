#!/usr/bin/env python3
"""Print the project files the first read that dispatched values went
through, from an instrumented binary's trace (see read_path.sh).

Usage: read_path.py BINARY TRACE SRCDIR
"""
import collections
import os
import subprocess
import sys


def main(binary, trace, srcdir):
    syms = {}
    for line in subprocess.run(["nm", binary], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms.setdefault(parts[2], int(parts[0], 16))
    events = [line.split() for line in open(trace)]
    # A PIE: the hook's own address (the first line) gives the load address.
    base = int(events[0][1], 16) - syms["__cyg_profile_func_enter"]
    events = events[1:]
    read = syms["nfs_ebpf_read"] + base
    reads, current = [], None
    for kind, addr in events:
        addr = int(addr, 16)
        if kind == "E" and addr == read and current is None:
            current = []
        if current is None:
            continue
        if kind == "E":
            current.append(addr - base)
        elif addr == read:
            reads.append(current)
            current = None
    addrs = sorted({a for r in reads for a in r})
    out = subprocess.run(["addr2line", "-f", "-e", binary] +
                         [hex(a) for a in addrs], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    where = {a: (out[2 * i], out[2 * i + 1].split(":")[0])
             for i, a in enumerate(addrs)}
    for calls in reads:
        if not any(where[a][0] == "submit_series" for a in calls):
            continue
        files = collections.OrderedDict()
        for a in calls:
            func, path = where[a]
            path = os.path.normpath(path.replace(srcdir.rstrip("/") + "/", ""))
            files.setdefault(path, set()).add(func)
        project = [p for p in files if p.startswith(("src/", "bpf/"))]
        for path, funcs in files.items():
            print("%-28s %3d functions: %s" % (path, len(funcs),
                                                ", ".join(sorted(funcs))))
        print("%d files of src/ in the first read that dispatched values "
              "(faked by the test, so not counted: tracer.c, kstats.c, "
              "identity.c and the BPF side)" % len(project))
        return 0
    print("no read dispatched values")
    return 1


sys.exit(main(*sys.argv[1:]))
