#!/usr/bin/env python3
"""The README's Layout section against the tree (TAP).

- the walk "One NFS read, from the hook to the Prometheus line": every file
  a step names exists, and every function it names (`name()`) is defined in
  one of the files that step names;
- the layout table: every path in its first column exists;
- every source file of src/ and bpf/ is named in the section (a header by
  its own name or by its .c file's).

Usage: tests/layout_test.py [README] (default: the repository's).
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "README.md")

n = failed = 0


def tap(ok, text):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print(("ok" if ok else "not ok") + " %d - %s" % (n, text))


def tracked_files():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "src", "bpf"],
                         capture_output=True, text=True, check=True).stdout
    return [f for f in out.split() if os.path.exists(os.path.join(ROOT, f))]


def resolve(name, files):
    """A path as the README writes it: relative to the root, or a bare file
    name that exactly one tracked file has."""
    if os.path.exists(os.path.join(ROOT, name)):
        return name
    hits = [f for f in files if os.path.basename(f) == name]
    return hits[0] if len(hits) == 1 else None


def defines(path, func):
    """A C definition starts at column 0 (collectd's and clang-format's
    layout); calls and declarations inside functions are indented."""
    pat = re.compile(r"^[A-Za-z_][^;(]*\b%s\(" % re.escape(func))
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        for line in f:
            if pat.match(line) and not line.rstrip().endswith(";"):
                return True
    return False


def main():
    text = open(README, encoding="utf-8").read()
    m = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    tap(m is not None, "the README has a Layout section")
    if m is None:
        return
    layout = m.group(1)
    files = tracked_files()

    walk = re.search(r"^One NFS read, from the hook.*?\n\n(.*?)\n\n", layout,
                     re.S | re.M)
    tap(walk is not None, "the Layout section walks one NFS read")
    steps = re.split(r"^\d+\. ", walk.group(1), flags=re.M)[1:] if walk else []
    tap(len(steps) >= 6, "the walk has its steps (%d)" % len(steps))
    for i, step in enumerate(steps, 1):
        names = re.findall(r"`([^`\s]+\.(?:c|h|yml))`", step)
        paths = [resolve(p, files) for p in names]
        tap(names and all(paths),
            "step %d: every file it names exists (%s)" % (i, ", ".join(names)))
        cfiles = [p for p in paths if p and p.endswith((".c", ".h"))]
        for func in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)\(\)`", step):
            where = [p for p in cfiles if defines(p, func)]
            tap(bool(where), "step %d: %s() is defined in %s" %
                (i, func, where[0] if where else "none of " + ", ".join(cfiles)))

    table = re.findall(r"^\| `([^`]+)` \|", layout, re.M)
    missing = [p for p in table if not os.path.exists(os.path.join(ROOT, p))]
    tap(table and not missing, "every path of the layout table exists (%d; "
        "missing: %s)" % (len(table), ", ".join(missing) or "none"))

    named = set(re.findall(r"[A-Za-z0-9_.-]+\.(?:c|h|map)\b", layout))
    unnamed = []
    for f in files:
        base = os.path.basename(f)
        stem_c = re.sub(r"\.h$", ".c", base)
        if base not in named and stem_c not in named and \
                re.sub(r"\.bpf\.c$", ".h", base) not in named:
            unnamed.append(f)
    tap(not unnamed, "every file of src/ and bpf/ is named in the Layout "
        "section (unnamed: %s)" % (", ".join(unnamed) or "none"))


main()
print("1..%d" % n)
print("%d passed, %d failed" % (n - failed, failed))
sys.exit(1 if failed else 0)
