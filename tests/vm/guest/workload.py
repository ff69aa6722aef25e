#!/usr/bin/env python3
"""NFS workload of known size for the VM lab, run by one actor (a pod's
container or a plain process), recording ground truth as it goes.

  workload.py --actor JSON --scale N --tag NAME --out TRUTH.json MOUNT...

MOUNT is a mount point of an rw export (/mnt/v3) whose read-only sibling is
MOUNT-ro (/mnt/v3-ro). Only raw syscalls (os.open/read/write/...) touch
NFS, so every NFS client operation the plugin can see is one this script
did and counted. Every expected error must actually happen (EROFS on the
read-only export); an unexpected outcome stops the workload with a clear
message and a non-zero exit. The ESTALE probe records whatever errno the
application saw.

Truth format (one file per run; check.py adds runs of one actor up):
  {"actor": {namespace,pod,container,cgroup},
   "mounts": [{"server","export","mount",
               "ops": {op: {"count", "exact", "bytes",
                            "queued", "queued_bytes"}},
               "any_of": [{"ops": [...], "count"}],        # sum >= count
               "errors": [{"ops": [...], "errno", "count"}]}]}
"""

import argparse
import ctypes
import errno
import json
import mmap
import os
import sys
import time

# Ops whose count this script controls exactly (one syscall, one call of
# the NFS client function). Others (open, getattr, lookup, readdir, setattr)
# may be called more often by the VFS: the truth is a minimum there.
EXACT_OPS = {"read", "write", "fsync", "mkdir", "rmdir", "unlink", "rename", "close"}


def fail(msg):
    print("workload: FAILED: " + msg, flush=True)
    sys.exit(1)


def mount_source(mnt):
    """server, export of the NFS mount at mnt, split like the plugin does
    (first ':/' of the mountinfo source)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            if left.split()[4] == mnt:
                src = right.split()[1]
                i = src.find(":/")
                if i < 0:
                    return src, ""
                return src[:i], src[i + 1:]
    fail("%s is not mounted" % mnt)


class Mount:
    def __init__(self, mnt):
        self.mnt = mnt
        self.server, self.export = mount_source(mnt)
        self.ops = {}
        self.any_of = {}
        self.errors = {}

    def count(self, op, nbytes=None, queued=False):
        o = self.ops.setdefault(op, {"count": 0, "exact": op in EXACT_OPS})
        o["count"] += 1
        if queued:
            # Asynchronous direct I/O: the call returned -EIOCBQUEUED and
            # the bytes came with the completion, which the plugin does
            # not see (README, "Limits"): counted, never an error.
            o["queued"] = o.get("queued", 0) + 1
            o["queued_bytes"] = o.get("queued_bytes", 0) + (nbytes or 0)
            o.setdefault("bytes", 0)
        elif op in ("read", "write"):
            o["bytes"] = o.get("bytes", 0) + (nbytes or 0)

    def alt(self, ops):
        key = tuple(ops)
        self.any_of[key] = self.any_of.get(key, 0) + 1

    def error(self, ops, err):
        key = (tuple(ops), errno.errorcode.get(err, str(err)))
        self.errors[key] = self.errors.get(key, 0) + 1

    def truth(self):
        return {"server": self.server, "export": self.export, "mount": self.mnt,
                "ops": self.ops,
                "any_of": [{"ops": list(k), "count": v} for k, v in self.any_of.items()],
                "errors": [{"ops": list(k[0]), "errno": k[1], "count": v}
                           for k, v in self.errors.items()]}


class Actor:
    """Wrappers around the syscalls: do it, then record what the NFS
    client must have seen."""

    def __init__(self, mounts):
        self.m = {mp.mnt: mp for mp in mounts}

    def _m(self, path):
        best = None
        for mnt in self.m:
            if path == mnt or path.startswith(mnt + "/"):
                if best is None or len(mnt) > len(best):
                    best = mnt
        return self.m[best]

    def open(self, path, flags, mode=0o644, create=False):
        m = self._m(path)
        fd = os.open(path, flags, mode)
        if create:
            m.alt(["create", "open"])
        else:
            m.count("open")
        return fd, m

    def close(self, fd, m):
        try:
            os.close(fd)
            m.count("close")
        except OSError as e:
            m.count("close")
            m.error(["close"], e.errno)

    def write(self, fd, m, data):
        n = os.write(fd, data)
        if n != len(data):
            fail("short write %d of %d on %s" % (n, len(data), m.mnt))
        m.count("write", n)
        return n

    def read(self, fd, m, size):
        data = os.read(fd, size)
        m.count("read", len(data))
        return data

    def pread_direct(self, fd, m, buf, off):
        n = os.preadv(fd, [buf], off)
        m.count("read", n)
        return n

    def fsync(self, fd, m):
        os.fsync(fd)
        m.count("fsync")

    def stat(self, path):
        st = os.stat(path)
        self._m(path).count("getattr")
        return st

    def chmod(self, path, mode):
        os.chmod(path, mode)
        self._m(path).count("setattr")

    def listdir(self, path):
        names = os.listdir(path)
        self._m(path).count("readdir")
        return names

    def mkdir(self, path):
        os.mkdir(path)
        self._m(path).count("mkdir")

    def rmdir(self, path):
        os.rmdir(path)
        self._m(path).count("rmdir")

    def unlink(self, path):
        os.unlink(path)
        self._m(path).count("unlink")

    def rename(self, a, b):
        os.rename(a, b)
        self._m(a).count("rename")

    def expect_error(self, want, ops, fn, *args):
        """Call fn, which must fail with errno want; count it as ops."""
        m = self._m(args[0])
        try:
            r = fn(*args)
        except OSError as e:
            if e.errno != want:
                fail("%s%r: expected %s, got %s" % (fn.__name__, args,
                                                    errno.errorcode[want], e))
            # A failed operation still completed: it is in the count.
            if len(ops) > 1:
                m.alt(ops)
            else:
                m.count(ops[0])
            m.error(ops, e.errno)
            return
        if isinstance(r, int) and fn is os.open:
            os.close(r)
        fail("%s%r succeeded, expected %s" % (fn.__name__, args, errno.errorcode[want]))


def rw_workload(a, mnt, tag, scale):
    d = "%s/%s" % (mnt, tag)
    a.mkdir(d)
    f1 = d + "/data"
    fd, m = a.open(f1, os.O_CREAT | os.O_EXCL | os.O_WRONLY, create=True)
    # Sizes differ per actor (scale) so a mix-up between pods shows.
    for size in (4096 * scale, 1000 + scale, 65536):
        a.write(fd, m, b"w" * size)
    a.fsync(fd, m)
    a.close(fd, m)
    a.stat(f1)
    a.chmod(f1, 0o600)
    fd, m = a.open(f1, os.O_RDONLY)
    while a.read(fd, m, 8192):
        pass
    a.close(fd, m)

    # O_DIRECT, with a page-aligned buffer.
    f2 = d + "/direct"
    size = 4096 * 2 * scale
    buf = mmap.mmap(-1, size)
    buf.write(b"d" * size)
    fd, m = a.open(f2, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_DIRECT, create=True)
    a.write(fd, m, buf)
    a.close(fd, m)
    fd, m = a.open(f2, os.O_RDONLY | os.O_DIRECT)
    got = a.pread_direct(fd, m, buf, 0)
    if got != size:
        fail("O_DIRECT read %d of %d bytes" % (got, size))
    a.close(fd, m)

    names = a.listdir(d)
    if sorted(names) != ["data", "direct"]:
        fail("unexpected directory content %r in %s" % (names, d))
    a.rename(f1, f1 + ".renamed")
    a.unlink(f1 + ".renamed")
    a.unlink(f2)
    a.mkdir(d + "/sub")
    a.rmdir(d + "/sub")
    a.rmdir(d)


def ro_workload(a, mnt, tag, scale):
    ro = mnt + "-ro"
    fd, m = a.open(ro + "/data", os.O_RDONLY)
    n = len(a.read(fd, m, 4096 * scale))
    if n != 4096 * scale:
        fail("read %d of %d bytes from %s/data" % (n, 4096 * scale, ro))
    a.close(fd, m)
    a.expect_error(errno.EROFS, ["create", "open"], os.open, "%s/%s-new" % (ro, tag),
                   os.O_CREAT | os.O_WRONLY, 0o644)
    a.expect_error(errno.EROFS, ["mkdir"], os.mkdir, "%s/%s-dir" % (ro, tag))
    a.expect_error(errno.EROFS, ["setattr"], os.chmod, ro + "/data", 0o600)


def estale_probe(a, mnt, tag, server_dir):
    """Open a file, delete it on the server side, then use the handle.
    knfsd's file cache may keep the inode alive for a few seconds, so poll
    (bounded) until the stale handle is noticed."""
    path = "%s/%s-stale" % (mnt, tag)
    fd, m = a.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, create=True)
    a.write(fd, m, b"s" * 4096)
    a.fsync(fd, m)
    a.close(fd, m)
    fd, m = a.open(path, os.O_RDONLY | os.O_DIRECT)
    os.unlink("%s/%s-stale" % (server_dir, tag))  # server side, not NFS
    buf = mmap.mmap(-1, 4096)
    seen = None
    deadline = time.monotonic() + 30
    while seen is None and time.monotonic() < deadline:
        try:
            os.fstat(fd)
        except OSError as e:
            # Not recorded against getattr: where glibc's fstat walks the
            # empty path (5.10), the VFS's d_weak_revalidate raises this
            # ESTALE before nfs_getattr is ever called, so no NFS
            # operation failed. Whether nfs_getattr ran at all depends on
            # the kernel, so fstat adds no exact getattr expectation.
            seen = e.errno
        try:
            n = os.preadv(fd, [buf], 0)
            m.count("read", n)
        except OSError as e:
            m.count("read", 0)
            m.error(["read"], e.errno)
            seen = seen or e.errno
        if seen is None:
            time.sleep(0.2)
    a.close(fd, m)
    return errno.errorcode.get(seen, "none") if seen else "none"


# Linux AIO by raw syscalls (no libaio in the guest): x86_64 numbers and
# the uapi struct iocb / io_event layouts (linux/aio_abi.h).
SYS_IO_SETUP, SYS_IO_DESTROY, SYS_IO_GETEVENTS, SYS_IO_SUBMIT = 206, 207, 208, 209
IOCB_CMD_PREAD, IOCB_CMD_PWRITE = 0, 1


class Iocb(ctypes.Structure):
    _fields_ = [("aio_data", ctypes.c_uint64), ("aio_key", ctypes.c_uint32),
                ("aio_rw_flags", ctypes.c_int32), ("aio_lio_opcode", ctypes.c_uint16),
                ("aio_reqprio", ctypes.c_int16), ("aio_fildes", ctypes.c_uint32),
                ("aio_buf", ctypes.c_uint64), ("aio_nbytes", ctypes.c_uint64),
                ("aio_offset", ctypes.c_int64), ("aio_reserved2", ctypes.c_uint64),
                ("aio_flags", ctypes.c_uint32), ("aio_resfd", ctypes.c_uint32)]


class IoEvent(ctypes.Structure):
    _fields_ = [("data", ctypes.c_uint64), ("obj", ctypes.c_uint64),
                ("res", ctypes.c_int64), ("res2", ctypes.c_int64)]


def aio_workload(a, mnt, tag, n=4, size=16384):
    """io_submit of n O_DIRECT writes, then n reads, each its own
    nfs_file_write / nfs_file_read call that returns -EIOCBQUEUED."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ctx = ctypes.c_ulong(0)
    if libc.syscall(SYS_IO_SETUP, n, ctypes.byref(ctx)) != 0:
        fail("io_setup: %s" % os.strerror(ctypes.get_errno()))
    path = "%s/%s-aio" % (mnt, tag)
    fd, m = a.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_DIRECT, create=True)
    bufs = [mmap.mmap(-1, size) for _ in range(n)]
    for b in bufs:
        b.write(b"a" * size)
    try:
        for cmd, op in ((IOCB_CMD_PWRITE, "write"), (IOCB_CMD_PREAD, "read")):
            iocbs = (Iocb * n)()
            ptrs = (ctypes.c_void_p * n)()
            for i in range(n):
                addr = ctypes.addressof(ctypes.c_char.from_buffer(bufs[i]))
                iocbs[i] = Iocb(aio_data=i, aio_lio_opcode=cmd, aio_fildes=fd,
                                aio_buf=addr, aio_nbytes=size, aio_offset=i * size)
                ptrs[i] = ctypes.addressof(iocbs[i])
            got = libc.syscall(SYS_IO_SUBMIT, ctx, n, ptrs)
            if got != n:
                fail("io_submit %s: %d of %d (%s)" % (op, got, n, os.strerror(ctypes.get_errno())))
            events = (IoEvent * n)()
            done = 0
            while done < n:
                r = libc.syscall(SYS_IO_GETEVENTS, ctx, n - done, n - done,
                                 ctypes.byref(events, done * ctypes.sizeof(IoEvent)), None)
                if r < 0:
                    fail("io_getevents: %s" % os.strerror(ctypes.get_errno()))
                done += r
            for e in events:
                if e.res != size:
                    fail("aio %s completed with %d, want %d" % (op, e.res, size))
            for _ in range(n):
                m.count(op, size, queued=True)
    finally:
        libc.syscall(SYS_IO_DESTROY, ctx)
    a.close(fd, m)
    a.unlink(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--actor", required=True, help="JSON labels of this actor")
    ap.add_argument("--scale", type=int, required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--estale", metavar="MOUNT:SERVER_DIR",
                    help="run the stale-handle probe on MOUNT (server path SERVER_DIR)")
    ap.add_argument("--expect-cgroup", help="cgroup v2 path this process must be in")
    ap.add_argument("--aio", action="store_true",
                    help="also io_submit O_DIRECT writes and reads on the first mount")
    ap.add_argument("mounts", nargs="+")
    o = ap.parse_args()

    if o.expect_cgroup:
        # Every hierarchy the lab mounted must hold this process at that
        # path (lab_in_cgroup places it in each, like runc). The "0::" line
        # is the cgroup2 one; on a v1-only host nothing is mounted there.
        # crun's "container" leaf exists in cgroup2 only.
        want = "/" + o.expect_cgroup.strip("/")
        layout = os.environ.get("NFS_EBPF_VM_CGROUP", "v2")
        with open("/proc/self/cgroup") as f:
            lines = [l.rstrip("\n").split(":", 2) for l in f]
        bad = []
        for hid, ctrl, path in lines:
            if hid == "0" and layout == "v1":
                continue
            ok = {want}
            if hid != "0" and want.endswith("/container"):
                ok = {want[:-len("/container")]}
            if path not in ok:
                bad.append("%s:%s:%s" % (hid, ctrl, path))
        if bad or not lines:
            fail("running in cgroups %r, expected %s in every hierarchy" % (bad, want))

    mounts = []
    for mnt in o.mounts:
        mounts += [Mount(mnt), Mount(mnt + "-ro")]
    a = Actor(mounts)
    try:
        for mnt in o.mounts:
            rw_workload(a, mnt, o.tag, o.scale)
            ro_workload(a, mnt, o.tag, o.scale)
        if o.aio:
            aio_workload(a, o.mounts[0], o.tag)
        stale = None
        if o.estale:
            mnt, server_dir = o.estale.split(":", 1)
            stale = estale_probe(a, mnt, o.tag, server_dir)
    except OSError as e:
        fail("unexpected error: %s" % e)
    truth = {"actor": json.loads(o.actor), "estale": stale,
             "mounts": [mp.truth() for mp in mounts]}
    with open(o.out + ".tmp", "w") as f:
        json.dump(truth, f, indent=1)
    os.rename(o.out + ".tmp", o.out)
    print("workload %s: done on %s%s" % (o.tag, " ".join(o.mounts),
                                         ", stale probe saw " + stale if stale else ""),
          flush=True)


if __name__ == "__main__":
    main()
