#!/bin/bash
# Builds and runs a benchmark: tests/bench/run.sh [N ...] runs the identity
# resolver benchmark (default N = 1000 10000 containers);
# tests/bench/run.sh dispatch [N ...] the dispatch stage's (default N =
# 10000 series); tests/bench/run.sh read [N ...] a whole read's stages on
# real BPF maps (default N = 10000 100000 keys; root). Prints figures, asserts no timing; exits non-zero only if
# the build fails or the identity resolver resolves a container wrongly
# (then the figures would be meaningless).
#
# Built like the plugin (gcc -O2, no sanitizer). identity_bench: against the
# real identity, cgroup_index, cgroup_path, runtime_state (with runtime_json
# and container_table), safe_file and log_once modules, with
# tests/unit/mock_collectd.c for the daemon's symbols and
# tests/unit/cgroup_tree.c to build the fake node. dispatch_bench: against
# the real series, dispatch and identifier modules, with its own counting
# plugin_dispatch_values. read_bench: against the real drain, kstats,
# resolve, mount_table, series and dispatch modules, with stand-ins for
# identity and the daemon. Environment:
# BENCH_OUT (binary; default ${TMPDIR:-/tmp}/nfs_ebpf-bench), CC (gcc).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${BENCH_OUT:-${TMPDIR:-/tmp}/nfs_ebpf-bench}
CC=${CC:-gcc}
mkdir -p "$OUT"

FLAGS=(-std=gnu11 -g -O2 -Wall -Wextra -DHAVE_CONFIG_H
	-I/usr/include/collectd -I/usr/include/yajl -I"$ROOT/src" -I"$ROOT/src/drain" -I"$ROOT/src/resolve"
	-I"$ROOT/src/series" -I"$ROOT/src/dispatch" -I"$ROOT/src/utils" -I"$ROOT/src/probe" -I"$ROOT/bpf"
	-I"$ROOT/tests/unit")

# build NAME SOURCE...: $OUT/NAME, or "not ok" and exit 1
build() {
	local name=$1
	shift
	if ! $CC "${FLAGS[@]}" -o "$OUT/$name" "$@" -lyajl -lpthread -lm \
		>"$OUT/build.log" 2>&1; then
		echo "not ok 1 - $name: build failed"
		sed 's/^/# /' "$OUT/build.log" | grep -i error | head -20
		exit 1
	fi
}

if [ "${1:-}" = dispatch ]; then
	shift
	build dispatch_bench "$ROOT/tests/bench/dispatch_bench.c" "$ROOT/tests/bench/bench_daemon.c" \
		"$ROOT/src/dispatch/dispatch.c" "$ROOT/src/dispatch/identifier.c" \
		"$ROOT/src/series/series.c" "$ROOT/src/series/histogram.c" \
		"$ROOT/src/utils/op_names.c" "$ROOT/src/utils/errno_names.c" \
		"$ROOT/src/utils/rpc_procs.c" "$ROOT/src/utils/log_once.c" \
		"$ROOT/src/utils/hash.c"
	exec "$OUT/dispatch_bench" "$@"
fi

if [ "${1:-}" = read ]; then
	shift
	build read_bench "$ROOT/tests/bench/read_bench.c" "$ROOT/tests/bench/bench_daemon.c" \
		"$ROOT/src/drain/drain.c" "$ROOT/src/drain/kstats.c" \
		"$ROOT/src/resolve/resolve.c" "$ROOT/src/resolve/mount_table.c" \
		"$ROOT/src/series/series.c" "$ROOT/src/series/histogram.c" \
		"$ROOT/src/dispatch/dispatch.c" "$ROOT/src/dispatch/identifier.c" \
		"$ROOT/src/utils/op_names.c" "$ROOT/src/utils/errno_names.c" \
		"$ROOT/src/utils/rpc_procs.c" "$ROOT/src/utils/hash.c" \
		"$ROOT/src/utils/log_once.c" "$ROOT/src/utils/safe_file.c" -lbpf
	exec "$OUT/read_bench" "$ROOT/tests/fixtures/mountinfo/k8s-node.mountinfo" "$@"
fi

build identity_bench "$ROOT/tests/bench/identity_bench.c" \
	"$ROOT/src/resolve/identity.c" "$ROOT/src/resolve/cgroup_index.c" \
	"$ROOT/src/resolve/cgroup_path.c" "$ROOT/src/resolve/runtime_state.c" \
	"$ROOT/src/resolve/runtime_json.c" "$ROOT/src/resolve/container_table.c" \
	"$ROOT/src/utils/safe_file.c" "$ROOT/src/utils/log_once.c" \
	"$ROOT/src/utils/hash.c" "$ROOT/src/utils/inotify_drain.c" \
	"$ROOT/tests/unit/mock_collectd.c" \
	"$ROOT/tests/unit/cgroup_tree.c"
exec "$OUT/identity_bench" "$ROOT/tests/fixtures" "$@"
