#!/bin/bash
# Fuzz every parser for a bounded time: tests/fuzz/run.sh [SECONDS]
#
# For each target (tests/fuzz/fuzz_<target>.c):
#  1. builds it with gcc, ASan and UBSan and the plain driver replay_main.c,
#     and replays the committed seed corpus (tests/fuzz/corpus/<target>/)
#     and the committed reproducers (tests/fuzz/crashes/<target>/): the
#     corpus as a regression test, without libFuzzer;
#  2. builds it with clang -fsanitize=fuzzer,address,undefined and fuzzes it
#     for SECONDS (default 30; 0 skips this step). New inputs go to a work
#     corpus, never into the committed one.
# Prints one TAP line per target: ok if both steps ran clean (no crash, no
# leak, no undefined behaviour, no broken invariant). Exits non-zero on any
# finding; findings are kept in $FUZZ_OUT/findings/ with the log.
#
# FUZZ_RUNS=N fuzzes each target for N executions instead of SECONDS (the
# benchmark-sized campaign behind the README's figures: FUZZ_RUNS=10000000).
#
# Environment: FUZZ_OUT (build dir, work corpora, logs, findings; default
# ${TMPDIR:-/tmp}/nfs_ebpf-fuzz), CC_FUZZ (default clang-14, else clang),
# CC_REPLAY (default gcc), FUZZ_TARGETS (default: all four).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
FUZZ=$ROOT/tests/fuzz
SECS=${1:-30}
OUT=${FUZZ_OUT:-${TMPDIR:-/tmp}/nfs_ebpf-fuzz}
TARGETS=${FUZZ_TARGETS:-runtime_state mountinfo cgroup_path config}
CC_REPLAY=${CC_REPLAY:-gcc}
if [ -z "${CC_FUZZ:-}" ]; then
	CC_FUZZ=clang
	command -v clang-14 >/dev/null && CC_FUZZ=clang-14
fi
case $SECS in '' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

mkdir -p "$OUT/bin" "$OUT/logs" "$OUT/findings"
# Scratch files of the targets (on tmpfs if possible); a crashing target
# cannot clean up after itself, so this script does.
if [ -w /dev/shm ]; then
	FUZZ_SCRATCH=$(mktemp -d /dev/shm/nfs_ebpf-fuzz.XXXXXX)
else
	FUZZ_SCRATCH=$(mktemp -d "$OUT/scratch.XXXXXX")
fi
export FUZZ_SCRATCH
trap 'rm -rf "$FUZZ_SCRATCH"' EXIT

# Same include set as the unit tests (Makefile.am): collectd's headers as
# Debian installs them, config.h through HAVE_CONFIG_H.
CPPFLAGS="-DHAVE_CONFIG_H -I/usr/include/collectd -I/usr/include/yajl \
-I$ROOT/src -I$ROOT/src/probe -I$ROOT/src/drain -I$ROOT/src/resolve \
-I$ROOT/src/series -I$ROOT/src/dispatch -I$ROOT/src/utils -I$ROOT/bpf -I$ROOT/tests/unit -I$FUZZ"
CFLAGS="-std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra"
# float-cast-overflow is UB in C but not in gcc's "undefined" group.
SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all"
# FUZZ_EXTRA_CFLAGS: e.g. -fno-sanitize=float-cast-overflow to fuzz past a
# known, reported finding.
SAN="$SAN ${FUZZ_EXTRA_CFLAGS:-}"
MOCK=$ROOT/tests/unit/mock_collectd.c

# Sources each target links besides its own file (and the mock daemon).
sources() {
	case $1 in
	runtime_state) echo src/resolve/runtime_json.c src/utils/safe_file.c src/utils/log_once.c \
		src/utils/hash.c ;;
	mountinfo) echo src/resolve/mount_table.c src/dispatch/identifier.c ;;
	cgroup_path) echo src/resolve/cgroup_path.c ;;
	config) echo tests/unit/fake_kernel.c src/drain/drain.c src/resolve/resolve.c \
		src/dispatch/dispatch.c src/resolve/mount_table.c src/series/series.c \
		src/dispatch/identifier.c src/series/histogram.c src/utils/op_names.c src/utils/rpc_procs.c \
		src/utils/errno_names.c \
		src/utils/hash.c src/utils/log_once.c src/utils/safe_file.c src/resolve/cgroup_path.c ;;
	esac
}

# Sanitizer settings for both drivers: stop at the first report, with a
# stack; leaks are findings.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

n=0
failed=0
for t in $TARGETS; do
	n=$((n + 1))
	log=$OUT/logs/$t.log
	: >"$log"
	srcs=$(for s in $(sources "$t"); do echo "$ROOT/$s"; done)
	problem=""
	replayed=0
	corpus=$FUZZ/corpus/$t
	replay_dirs=$corpus
	[ -d "$FUZZ/crashes/$t" ] && replay_dirs="$replay_dirs $FUZZ/crashes/$t"

	# 1. plain driver, gcc
	# shellcheck disable=SC2086
	if ! $CC_REPLAY $CFLAGS $SAN $CPPFLAGS -o "$OUT/bin/replay_$t" \
		"$FUZZ/fuzz_$t.c" "$FUZZ/replay_main.c" $srcs "$MOCK" \
		-lyajl -lm >>"$log" 2>&1; then
		problem="replay build failed"
	else
		# shellcheck disable=SC2086
		# (in a subshell that does not exec the driver, so bash's "Aborted"
		# notice goes to the subshell's silenced stderr, not into the TAP)
		if (
			"$OUT/bin/replay_$t" $replay_dirs >"$OUT/logs/$t.replay" 2>&1
			rc=$?
			exit $rc
		) 2>/dev/null; then
			replayed=$(sed -n 's/^# replayed \([0-9]*\) inputs/\1/p' "$OUT/logs/$t.replay")
		else
			cat "$OUT/logs/$t.replay" >>"$log"
			problem="corpus replay failed"
		fi
	fi

	# 2. libFuzzer, clang
	stats=""
	# (also after a failed replay: a known finding must not hide new ones)
	if [ -n "${FUZZ_RUNS:-}" ]; then
		limit="-runs=$FUZZ_RUNS" what="$FUZZ_RUNS runs"
	else
		limit="-max_total_time=$SECS" what="$SECS s"
	fi
	if [ "$problem" != "replay build failed" ] && { [ "$SECS" -gt 0 ] || [ -n "${FUZZ_RUNS:-}" ]; }; then
		# shellcheck disable=SC2086
		if ! $CC_FUZZ $CFLAGS -fsanitize=fuzzer $SAN $CPPFLAGS -o "$OUT/bin/fuzz_$t" \
			"$FUZZ/fuzz_$t.c" $srcs "$MOCK" -lyajl -lm >>"$log" 2>&1; then
			problem="${problem:+$problem; }libFuzzer build failed ($CC_FUZZ; Debian: libclang-rt-14-dev)"
		else
			mkdir -p "$OUT/work/$t"
			# -timeout: one input taking 10 s is a finding (a hang);
			# the work corpus is first so new inputs land there.
			fuzz_start=$SECONDS
			"$OUT/bin/fuzz_$t" "$limit" -timeout=10 \
				-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
				-artifact_prefix="$OUT/findings/$t-" \
				"$OUT/work/$t" "$corpus" >"$OUT/logs/$t.fuzz" 2>&1
			rc=$?
			execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/logs/$t.fuzz" | tail -1)
			cov=$(grep -o 'cov: [0-9]*' "$OUT/logs/$t.fuzz" | tail -1 | cut -d' ' -f2)
			stats=", libFuzzer $what: ${execs:-?} execs in $((SECONDS - fuzz_start)) s, cov ${cov:-?}"
			if [ "$rc" -ne 0 ]; then
				cat "$OUT/logs/$t.fuzz" >>"$log"
				art=$(grep -o "Test unit written to [^ ]*" "$OUT/logs/$t.fuzz" | tail -1 | cut -d' ' -f5)
				problem="${problem:+$problem; }libFuzzer finding (exit $rc${art:+, input $art})"
			fi
		fi
	fi

	if [ -z "$problem" ]; then
		echo "ok $n - fuzz $t: replayed ${replayed:-0} inputs (gcc ASan+UBSan)$stats"
	else
		failed=$((failed + 1))
		echo "not ok $n - fuzz $t: $problem$stats; log $log"
		grep -E 'ERROR: |SUMMARY: |runtime error|fuzz invariant failed|error:' "$log" |
			head -8 | sed 's/^/# /'
	fi
done
echo "# fuzz output in $OUT"
[ "$failed" -eq 0 ]
