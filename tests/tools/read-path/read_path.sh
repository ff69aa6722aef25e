#!/bin/bash
# Which files one read of the plugin passes through, measured: builds
# tests/unit/nfs_ebpf_test (the plugin through collectd's mocked dispatcher,
# the kernel side faked by tests/unit/fake_kernel.c) with gcc's
# -finstrument-functions in a scratch build, runs it, and prints the
# project files and functions of the first read that dispatched values.
# Prints; asserts nothing. Needs the build dependencies (tests/deps.txt).
#
#   tests/tools/read-path/read_path.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

git -C "$ROOT" archive --format=tar HEAD | tar -x -C "$tmp"
gcc -c -O2 "$HERE/trace_hook.c" -o "$tmp/trace_hook.o"
(
	cd "$tmp"
	./autogen.sh && ./configure
	make -j"$(nproc)" tests/unit/nfs_ebpf_test \
		CFLAGS='-g -O0 -finstrument-functions' LIBS="$tmp/trace_hook.o"
) >"$tmp/build.log" 2>&1 || {
	tail -20 "$tmp/build.log"
	exit 1
}
READ_PATH_TRACE=$tmp/trace.txt "$tmp/tests/unit/nfs_ebpf_test" >/dev/null 2>&1
python3 "$HERE/read_path.py" "$tmp/tests/unit/nfs_ebpf_test" "$tmp/trace.txt" "$tmp"
