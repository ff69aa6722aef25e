#!/usr/bin/env python3
"""Threads that each make one NFS call which the test holds up on the
server (tests/vm/guest/outage.sh): every thread opens its own file first,
then all wait for a go file, then each does one O_DIRECT read or write
(O_DIRECT: the call reaches the server however warm the page cache is).
Each thread exits after its call, so the kernel sees thread exits too.

  stall_io.py --op read|write --threads N --dir DIR --ready FILE --go FILE
              --out RESULT.json

READY gets this process's pid once every thread has its file open.
RESULT.json: {"op", "threads", "ok": calls that succeeded, "seconds": the
time each call took, as seen by the caller}.
"""
import argparse
import json
import mmap
import os
import threading
import time

SIZE = 4096


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--op", choices=("read", "write"), required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--go", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    flags = os.O_DIRECT | (os.O_RDONLY if a.op == "read" else os.O_WRONLY)
    fds = [os.open(os.path.join(a.dir, "%s-%d" % (a.op, i)), flags) for i in range(a.threads)]
    took = [None] * a.threads

    def call(i):
        buf = mmap.mmap(-1, SIZE)  # page aligned, as O_DIRECT wants
        if a.op == "write":
            buf.write(b"w" * SIZE)
        while not os.path.exists(a.go):
            time.sleep(0.05)
        t = time.monotonic()
        n = os.preadv(fds[i], [buf], 0) if a.op == "read" else os.pwritev(fds[i], [buf], 0)
        took[i] = time.monotonic() - t
        assert n == SIZE, n

    threads = [threading.Thread(target=call, args=(i,)) for i in range(a.threads)]
    for t in threads:
        t.start()
    with open(a.ready + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(a.ready + ".tmp", a.ready)
    for t in threads:
        t.join()
    for fd in fds:
        os.close(fd)
    ok = sum(1 for x in took if x is not None)
    json.dump({"op": a.op, "threads": a.threads, "ok": ok, "seconds": took}, open(a.out, "w"))
    return 0 if ok == a.threads else 1


if __name__ == "__main__":
    raise SystemExit(main())
