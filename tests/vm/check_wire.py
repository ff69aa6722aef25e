#!/usr/bin/env python3
"""The wire level's proof, from a guest=wire lab cell (tests/vm/guest/wire.sh).

    check_wire.py merge DIR OUT_TXT
        every snapshot's nfs_ebpf lines (DIR/wire-<n>.txt) in one exposition,
        each sample labelled lab_snapshot="<n>" and stamped now, for one run
        through Prometheus with the shipped relabel rules
    check_wire.py check DIR RELABELED_JSON
        TAP lines: the relabelled series against /proc/self/mountstats
        (DIR/wire-<n>.mountstats) and the workloads of DIR/wire-phases.json

What is checked, per window between two snapshots:
  - reconciliation: for every mount source (server:export) and every
    procedure, the sum over all label sets of requests, transmissions, major
    timeouts, errors, sent and received bytes equals the increase of the same
    mountstats columns (summed over the mounts of that source: a nosharecache
    mount of the same export has the same labels). RPCs on the server's
    shared client (export "") count for every mount of the server, as
    mountstats counts its parent client for each;
  - who: the workload's pod is charged with what it caused (see PHASES).
And on the last snapshot: every RTT histogram's +Inf bucket equals its
_count, and no event was lost.
"""
import json
import re
import sys
import time
from collections import defaultdict

MIB = 1 << 20
FILE_MIB = 8
N_FILES = 100
WEB = ("shop", "web-0", "nginx")
LOADER = ("batch", "loader-7d9f8c6b5-x2kqp", "loader")
ETCD = ("kube-system", "etcd-nfs-ebpf-vm", "etcd")
# mountstats' per-op columns -> the metric of each
COLUMNS = [
    ("ops", "nfs_ebpf_rpc_requests_total"),
    ("ntrans", "nfs_ebpf_rpc_transmissions_total"),
    ("timeouts", "nfs_ebpf_rpc_major_timeouts_total"),
    ("bytes_sent", "nfs_ebpf_rpc_sent_bytes_total"),
    ("bytes_recv", "nfs_ebpf_rpc_received_bytes_total"),
    ("errors", "nfs_ebpf_rpc_errors_total"),
]
MOUNTS = {"/mnt/v3": "v3", "/mnt/v4": "v4"}
# NFSv4.2 clients read with READ_PLUS where the server offers it (6.12+)
READS = ("READ", "READ_PLUS")


def merge(d, out):
    phases = json.load(open(d + "/wire-phases.json"))["phases"]
    now = int(time.time() * 1000)
    with open(out, "w") as f:
        for n in range(len(phases)):
            for line in open("%s/wire-%d.txt" % (d, n)):
                m = re.match(r"^(collectd_nfs_ebpf_\w+)\{(.*)\} (\S+)(?: \d+)?$", line.strip())
                if m:
                    f.write('%s{lab_snapshot="%d",%s} %s %d\n' % (m.group(1), n, m.group(2), m.group(3), now))


def mountstats(path):
    """{source: {proc: {column: value}}} summed over the mounts of a source,
    and {mount point: source}."""
    out = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    points = {}
    source = None
    for line in open(path):
        f = line.split()
        if f and f[0] == "device":
            source = f[1] if len(f) > 7 and f[7].startswith("nfs") else None
            if source:
                points[f[4]] = source
            continue
        if source and len(f) >= 9 and f[0].endswith(":") and f[0][:-1].isupper() and f[1].isdigit():
            vals = [int(x) for x in f[1:]]
            names = ["ops", "ntrans", "timeouts", "bytes_sent", "bytes_recv", "queue", "rtt", "execute", "errors"]
            for k, v in zip(names, vals):
                out[source][f[0][:-1]][k] += v
    return out, points


def who_of(m):
    if m.get("pod"):
        return (m.get("namespace", ""), m["pod"], m.get("container", ""))
    return ("@" + m.get("cgroup", ""),)


def load_series(path):
    """{snapshot: {(name, frozenset(labels)): value}}"""
    snaps = defaultdict(dict)
    for r in json.load(open(path)):
        m = dict(r["metric"])
        snap = int(m.pop("lab_snapshot"))
        m.pop("job", None)
        snaps[snap][(m["__name__"], frozenset(m.items()))] = float(r["value"][1])
    return snaps


def split_source(source):
    server, _, export = source.partition(":")
    return server, export


def delta(snaps, a, b, name, pred):
    total = 0.0
    for (n, labels), v in snaps[b].items():
        if n != name:
            continue
        m = dict(labels)
        if pred(m):
            total += v - snaps[a].get((n, labels), 0.0)
    return total


N = 0
FAILED = 0


def tap(ok, text):
    global N, FAILED
    N += 1
    FAILED += not ok
    print("%s %d - %s" % ("ok" if ok else "not ok", N, text))
    return ok


def of_source(source, shared_too=True):
    """Series of a mount source; with shared_too also those of its server's
    shared client (empty export, a label Prometheus then leaves out)."""
    server, export = split_source(source)
    return lambda m: m.get("server") == server and (
        m.get("export", "") == export or (shared_too and m.get("export", "") == ""))


def check(d, series_path):
    phases = json.load(open(d + "/wire-phases.json"))["phases"]
    snaps = load_series(series_path)
    tap(len(snaps) == len(phases),
        "every snapshot went through the relabel rules (%d of %d)" % (len(snaps), len(phases)))
    stats = [mountstats("%s/wire-%d.mountstats" % (d, n)) for n in range(len(phases))]
    points = stats[-1][1]

    def lost_delta(a, b, reason):
        return delta(snaps, a, b, "nfs_ebpf_lost_events_total", lambda m: m.get("reason") == reason)

    for b in range(1, len(phases)):
        a = b - 1
        phase = phases[b]
        ms_a, ms_b = stats[a][0], stats[b][0]
        # RPCs the kernel skipped the counting program for (reported as
        # rpc_program_skipped): each is one attempt short in its mount's
        # columns, never more
        skipped = lost_delta(a, b, "rpc_program_skipped")
        short = defaultdict(float)
        bad = []
        checked = 0
        for source in sorted(ms_b):
            procs = set(ms_b[source]) | set(ms_a.get(source, {}))
            for proc in sorted(procs):
                for col, metric in COLUMNS:
                    want = ms_b[source][proc][col] - ms_a.get(source, {}).get(proc, {}).get(col, 0)
                    sel = of_source(source)
                    got = delta(snaps, a, b, metric, lambda m, sel=sel, proc=proc: sel(m) and m.get("proc") == proc)
                    if want == 0 and got == 0:
                        continue
                    checked += 1
                    if got != want:
                        bad.append((source, proc, col, want, got))
                        if col == "ops":
                            short[source] += want - got
        explained = bad and all(got < want for _, _, _, want, got in bad) and all(
            0 < n <= skipped for n in short.values()) and all((s, p) in {(x, y) for x, y, c, _, _ in bad if c == "ops"}
                                                              for s, p, _, _, _ in bad)
        tap((not bad or explained) and checked > 0,
            "%s: every mount's every procedure and column equals mountstats' increase (%d compared)%s%s"
            % (phase, checked,
               "" if not bad else ", but for %d RPCs the kernel skipped the counting program for" % skipped
               if explained else "",
               "" if not bad else ": " + "; ".join("%s %s %s: mountstats +%d, plugin +%d" % x for x in bad[:6])))

        def charged(proc, metric, who, mount):
            source = points[mount]
            sel = of_source(source, shared_too=False)
            return delta(snaps, a, b, metric,
                         lambda m: sel(m) and m.get("proc") == proc and (who is None or who_of(m) == who))

        def app(op, metric, who, mount):
            sel = of_source(points[mount], shared_too=False)
            return delta(snaps, a, b, metric, lambda m: sel(m) and m.get("op") == op and who_of(m) == who)

        if phase == "lease":
            # the mounts idle since before collectd started: the renewal is
            # placed on the server of /mnt/v4 without any of its inodes seen
            server, _ = split_source(points["/mnt/v4"])
            renewals = delta(snaps, a, b, "nfs_ebpf_rpc_requests_total",
                             lambda m: m.get("server") == server and m.get("proc") in ("SEQUENCE", "RENEW")
                             and who_of(m) == ("@nfs-client",) and m.get("export", "") == "")
            unknown = lost_delta(a, b, "rpc_mount_unknown")
            tap(renewals >= 1 and unknown == 0,
                "lease: %d lease renewal(s) of the idle NFSv4 mount's server charged to nfs-client, "
                "%d RPCs of an unknown mount" % (renewals, unknown))
        for mount, v in sorted(MOUNTS.items()):
            if phase in ("same-uid", "other-uid"):
                total = charged("WRITE", "nfs_ebpf_rpc_sent_bytes_total", None, mount)
                loader = charged("WRITE", "nfs_ebpf_rpc_sent_bytes_total", LOADER, mount)
                web = charged("WRITE", "nfs_ebpf_rpc_sent_bytes_total", WEB, mount)
                half = FILE_MIB * MIB / 2
                # as another uid, each pod's pages go in WRITEs of its own:
                # each pod is charged at least its half (more where the
                # kernel sent pages twice: Debian's 7.2 did on NFSv3)
                own = phase == "same-uid" or min(loader, web) >= half
                tap(total >= FILE_MIB * MIB and loader + web == total and own,
                    "%s, %s: two pods wrote alternate 64 KiB chunks of one file: WRITE wire bytes "
                    "%.3f MiB to batch/loader (%.1f %%), %.3f MiB to shop/web-0 (%.1f %%), none to anyone else"
                    % (phase, v, loader / MIB, 100.0 * loader / total if total else 0,
                       web / MIB, 100.0 * web / total if total else 0))
            if phase == "cache":
                app_bytes = app("read", "nfs_ebpf_bytes_total", WEB, mount)
                wire = sum(charged(p, "nfs_ebpf_rpc_received_bytes_total", WEB, mount) for p in READS)
                tap(app_bytes == 2 * FILE_MIB * MIB and FILE_MIB * MIB <= wire <= FILE_MIB * MIB * 1.02,
                    "cache, %s: the pod read %d MiB (2 x the file) and %.3f MiB came over the wire (the file once)"
                    % (v, app_bytes / MIB, wire / MIB))
            if phase in ("sync", "flusher", "mmap"):
                for proc in ("WRITE", "COMMIT"):
                    total = charged(proc, "nfs_ebpf_rpc_sent_bytes_total", None, mount)
                    pod = charged(proc, "nfs_ebpf_rpc_sent_bytes_total", LOADER, mount)
                    kernel = (ms_b[points[mount]][proc]["bytes_sent"]
                              - ms_a.get(points[mount], {}).get(proc, {}).get("bytes_sent", 0))
                    # what the plugin did not count is what the kernel
                    # skipped its program for: at most wsize (1 MiB) each
                    enough = (proc == "COMMIT" or kernel >= FILE_MIB * MIB) and \
                        kernel - total <= skipped * MIB
                    tap(enough and total > 0 and pod >= 0.99 * total,
                        "%s, %s: %s wire bytes charged to the pod that wrote: %.0f of %.0f counted "
                        "(%.2f %%; the kernel sent %d)"
                        % (phase, v, proc, pod, total, 100.0 * pod / total if total else 0, kernel))
            if phase == "direct":
                w = charged("WRITE", "nfs_ebpf_rpc_sent_bytes_total", WEB, mount)
                r = sum(charged(p, "nfs_ebpf_rpc_received_bytes_total", WEB, mount) for p in READS)
                tap(w >= FILE_MIB * MIB and r >= FILE_MIB * MIB,
                    "direct, %s: O_DIRECT WRITE %.3f MiB and READ %.3f MiB on the wire, charged to the pod"
                    % (v, w / MIB, r / MIB))
            if phase == "metadata":
                meta = ("LOOKUP", "GETATTR", "ACCESS")
                pod = sum(charged(p, "nfs_ebpf_rpc_requests_total", WEB, mount) for p in meta)
                total = sum(charged(p, "nfs_ebpf_rpc_requests_total", None, mount) for p in meta)
                tap(pod >= N_FILES and pod == total,
                    "metadata, %s: %d of %d LOOKUP/GETATTR/ACCESS RPCs charged to the pod that stat()ed %d files"
                    % (v, pod, total, N_FILES))
        if phase == "retrans":
            # the mount the pod read from across the outage: its
            # retransmissions and major timeouts, all of them the pod's
            sel = of_source(points["/mnt/rt"], shared_too=False)

            def total(metric, who=None):
                return delta(snaps, a, b, metric, lambda m: sel(m) and (who is None or who_of(m) == who))
            reqs = total("nfs_ebpf_rpc_requests_total", ETCD)
            trans = total("nfs_ebpf_rpc_transmissions_total", ETCD)
            tmo = total("nfs_ebpf_rpc_major_timeouts_total", ETCD)
            extra = trans - reqs
            all_extra = total("nfs_ebpf_rpc_transmissions_total") - total("nfs_ebpf_rpc_requests_total")
            tap(reqs >= 1 and extra >= 1 and tmo >= 1 and extra == all_extra and
                tmo == total("nfs_ebpf_rpc_major_timeouts_total"),
                "retrans: the pod's RPCs across the outage: %d requests, %d transmissions, %d major "
                "timeouts; every retransmission and timeout of the mount is the pod's" % (reqs, trans, tmo))

    last = snaps[len(phases) - 1]
    counts = {}
    infs = {}
    for (n, labels), v in last.items():
        m = dict(labels)
        if n == "nfs_ebpf_rpc_rtt_seconds_count":
            counts[labels] = v
        elif n == "nfs_ebpf_rpc_rtt_seconds_bucket" and m.get("le") == "+Inf":
            infs[frozenset((k, x) for k, x in labels if k not in ("le", "__name__")) | {("__name__", "nfs_ebpf_rpc_rtt_seconds_count")}] = v
    odd = [dict(k) for k, v in counts.items() if infs.get(k) != v]
    tap(counts and not odd, "every RTT histogram's +Inf bucket equals its _count (%d series)%s"
        % (len(counts), "" if not odd else ": %r" % odd[:2]))
    # From the first snapshot on (collectd attached, no inode touched yet)
    # nothing is lost: not the idle mounts' lease renewals, not the first
    # RPCs of each mount's first walk. Before it, RPCs a mount sent before
    # the plugin saw it may be rpc_mount_unknown (README "Wire level").
    first = snaps[0]
    lost = {dict(l)["reason"]: v - first.get((n, l), 0.0) for (n, l), v in last.items()
            if n == "nfs_ebpf_lost_events_total"}
    before = {dict(l)["reason"]: v for (n, l), v in first.items() if n == "nfs_ebpf_lost_events_total"}
    skipped = lost.pop("rpc_program_skipped", None)
    tap(len(lost) >= 7 and skipped is not None and not any(lost.values()),
        "no event lost in any window: %r (before the first: %r)"
        % (lost, {k: v for k, v in before.items() if v}))
    misses = kernel_misses(d)
    tap(misses is not None and skipped is not None and
        skipped + before.get("rpc_program_skipped", 0) == misses,
        "rpc_program_skipped (%s) is what the kernel says it skipped the counting program (%s)"
        % (skipped, misses))
    print_costs(d)
    print("1..%d" % N)
    return 1 if FAILED else 0


def kernel_misses(d):
    """recursion_misses of the wire level's counting program at the end."""
    try:
        progs = json.load(open(d + "/wire-progs.json"))
    except (OSError, ValueError):
        return None
    # tp_btf_... or, attached with kprobes, raw_tp_rpc_stats_latency
    return sum(p.get("recursion_misses", 0) for p in progs
               if p.get("name", "").startswith(("tp_btf_rpc_stat", "raw_tp_rpc_stat")))


def print_costs(d):
    """Figures, not checks: what each program cost per run in this VM
    (kernel.bpf_stats_enabled; qemu TCG, so some ten times a real CPU's),
    the wire level's per RPC beside the operations' per VFS call."""
    try:
        progs = json.load(open(d + "/wire-progs.json"))
    except (OSError, ValueError):
        print("# cost: no wire-progs.json")
        return
    per = {}
    for p in progs:
        name, runs, ns = p.get("name", ""), p.get("run_cnt", 0), p.get("run_time_ns", 0)
        if runs:
            per[name] = (ns / runs, runs)
            print("# cost: %-34s %8.0f ns/run over %d runs" % (name, ns / runs, runs))
    # The kernel truncates program names to 15 characters.
    begin = next((v for k, v in per.items() if k.startswith(("tp_btf_rpc_task", "raw_tp_rpc_task"))), None)
    count = next((v for k, v in per.items() if k.startswith(("tp_btf_rpc_stat", "raw_tp_rpc_stat"))), None)
    read_in = next((v for k, v in per.items() if k in ("fentry_nfs_file_read", "kprobe_nfs_file_read")), None)
    read_out = next((v for k, v in per.items() if k in ("fexit_nfs_file_read", "kretprobe_nfs_file_read")), None)
    if begin and count:
        print("# cost: wire level per RPC (rpc_task_begin + rpc_stats_latency): %.0f ns"
              % (begin[0] + count[0]))
    if read_in and read_out:
        print("# cost: operations per nfs_file_read call (entry + return): %.0f ns"
              % (read_in[0] + read_out[0]))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "merge":
        merge(sys.argv[2], sys.argv[3])
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    sys.exit(__doc__)
