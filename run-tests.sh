#!/bin/bash
# Run every test of nfs_ebpf: install missing Debian packages, build, unit
# tests (make check), Prometheus relabel test, Debian packaging test, fuzz
# corpus replay, VM lab.
# Ends with `N passed, N failed` over all TAP lines; exits non-zero if any
# test failed or any suite crashed, exited non-zero or printed no TAP.
#
# Environment: JOBS (parallel make, default: number of CPUs),
#   SKIP_DEPS=1 (do not install packages), RESULTS (default ./test-results),
#   FUZZ_SECONDS (per fuzz target; default 0, corpus replay only, and 20
#   under CI so every CI run also fuzzes each parser for a bounded time).
set -u
cd "$(dirname "$0")"
ROOT=$PWD
RESULTS=${RESULTS:-$ROOT/test-results}
JOBS=${JOBS:-$(nproc)}
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
. tests/lib/tap-summary.sh

t0=$(date +%s)
timing() { # NAME START
	echo "# timing: $1 $(($(date +%s) - $2)) s" | tee -a "$RESULTS/timing.txt"
}
# One suite: its TAP lines in $RESULTS/NAME.tap, its time in timing.txt.
suite() { # NAME CMD...
	local name=$1 start
	shift
	start=$(date +%s)
	tap_suite "$name" "$RESULTS/$name.tap" "$@"
	timing "$name" "$start"
}

# --- dependencies ----------------------------------------------------------
s=$(date +%s)
if [ "${SKIP_DEPS:-0}" != 1 ]; then
	if tests/lib/install-deps.sh >"$RESULTS/deps.log" 2>&1; then
		echo "ok 1 - dependencies installed (tests/deps.txt)" >"$RESULTS/deps.tap"
	else
		echo "not ok 1 - dependencies installed (tests/deps.txt): see $RESULTS/deps.log" >"$RESULTS/deps.tap"
		tail -20 "$RESULTS/deps.log"
	fi
	cat "$RESULTS/deps.tap"
fi
timing deps "$s"

# --- build -------------------------------------------------------------------
build() {
	local n=0
	step() { # TEXT CMD...
		local text=$1
		shift
		n=$((n + 1))
		if "$@" >>"$RESULTS/build.log" 2>&1; then
			echo "ok $n - $text"
		else
			echo "not ok $n - $text (see test-results/build.log)"
			tail -30 "$RESULTS/build.log" | sed 's/^/# /'
			return 1
		fi
	}
	step "autogen.sh (autoreconf -fi)" ./autogen.sh &&
		step "configure" ./configure &&
		step "make: BPF object, skeleton, plugin module" make -j"$JOBS" &&
		step "plugin exports only module_register" check_exports &&
		step "plugin's undefined symbols all resolve (collectd binary + its libraries)" check_undefined
}
check_exports() {
	local syms
	syms=$(nm -D --defined-only .libs/nfs_ebpf.so | awk '$2 ~ /^[TDBRW]$/ {print $3}')
	echo "exported: $syms"
	[ "$syms" = module_register ]
}
# Every symbol the plugin leaves undefined must come from the collectd
# executable (resolved at dlopen time) or a library the plugin links.
check_undefined() {
	local collectd lib missing
	collectd=$(command -v collectd || echo /usr/sbin/collectd)
	{
		nm -D --defined-only "$collectd"
		ldd .libs/nfs_ebpf.so | awk '$3 ~ /^\// {print $3}' | while read -r lib; do
			nm -D --defined-only "$lib"
		done
	} | awk '{print $3}' | sed 's/@.*//' | sort -u >"$RESULTS/defined.txt"
	nm -D --undefined-only .libs/nfs_ebpf.so | awk '$1 == "U" {print $2}' | sed 's/@.*//' |
		sort -u >"$RESULTS/undefined.txt"
	missing=$(comm -23 "$RESULTS/undefined.txt" "$RESULTS/defined.txt")
	[ -z "$missing" ] || { echo "unresolved: $missing"; return 1; }
}
suite build build

# --- unit tests (make check) -------------------------------------------------
unit() {
	local rc=0 tests t log trs result
	make -j"$JOBS" check >"$RESULTS/make-check.log" 2>&1 || rc=$?
	tests=$(make -s print-tests 2>/dev/null)
	if [ -z "$tests" ]; then
		echo "not ok - make check: no unit test is registered in Makefile.am"
		return 1
	fi
	for t in $tests; do
		log=$t.log trs=$t.trs
		echo "# --- $t"
		if [ ! -f "$trs" ]; then
			echo "not ok - $t: not built or not run (see test-results/make-check.log)"
			continue
		fi
		cat "$log"
		result=$(sed -n 's/^:test-result: //p' "$trs")
		if [ "$result" != PASS ] && ! grep -q '^not ok' "$log"; then
			echo "not ok - $t: $result (crashed or exited non-zero)"
		elif ! grep -Eq '^(not )?ok([ \t]|$)' "$log"; then
			echo "not ok - $t: printed no TAP line"
		fi
	done
	[ "$rc" -eq 0 ] || grep -E '(error|Error)' "$RESULTS/make-check.log" | head -20 | sed 's/^/# /'
	return "$rc"
}
suite unit unit

# --- one style: every C file as clang-format formats it (.clang-format) -------
suite style tests/style_test.sh

# --- the README's Layout section against the tree -----------------------------
suite layout python3 tests/layout_test.py

# --- Prometheus relabelling through a real Prometheus --------------------------
suite relabel tests/prom/relabel_test.sh

# --- alerting rules: promtool unit tests, with mutants that must fail --------
suite alerts tests/prom/alerts_test.sh

# --- Grafana dashboard: importable JSON, up to date (queries: VM lab) ---------
suite dashboard python3 tests/grafana/dashboard_test.py
suite dashboard-live python3 tests/grafana/dashboard_selftest.py

# --- nfs-ebpf-top against a real collectd (unixsock and write_prometheus) ------
suite top tests/top/collectd_test.sh

# --- the bucket type across collectd's network plugin (two real daemons) -----
suite network tests/network/network_test.sh

# --- Debian package ------------------------------------------------------------
suite packaging tests/packaging_test.sh

# --- fuzz targets: replay of the committed corpus and reproducers under
#     ASan/UBSan (deterministic); FUZZ_SECONDS>0 also fuzzes each target
if [ "${CI:-}" = true ]; then fuzz_default=20; else fuzz_default=0; fi
suite fuzz bash tests/fuzz/run.sh "${FUZZ_SECONDS:-$fuzz_default}"

# --- benchmark: pod identity at 1,000 and 10,000 containers. It prints
#     figures (times, memory, ratios); its TAP lines only say that every id
#     resolved to the right pod, never that something was fast enough.
suite bench bash tests/bench/run.sh
# A whole read's stages on real BPF maps at 10,000 and 100,000 keys: its
# TAP lines only say that every key became a series.
suite bench-read bash tests/bench/run.sh read

# --- VM lab: real kernels, real NFS --------------------------------------------
# The soak and the lab each fetch the kernels first, at the same moment.
suite fetch bash tests/vm/fetch_kernels_test.sh
# The lab's boots: one that stops before /init (stuck or panicked) is tried again, once.
suite run-vm bash tests/vm/run_vm_test.sh
# The soak (pods churning for 10 minutes under an ASan-built plugin, one
# VM of its own) paces itself by the clock, so it runs beside the lab's
# cells rather than after them; its output is reported after the lab's.
soak_out=$RESULTS/soak.out
bash tests/vm/soak.sh 6.1 >"$soak_out" 2>&1 &
soak_pid=$!
# The lab's checker must fail on wrong data before its passes mean anything.
suite vm-check python3 tests/vm/check_selftest.py
suite vm-check-wire python3 tests/vm/check_wire_selftest.py
suite vm bash tests/vm/lab.sh

s=$(date +%s)
soak_rc=0
wait "$soak_pid" || soak_rc=$?
soak_report() { cat "$soak_out"; return "$soak_rc"; }
tap_suite soak "$RESULTS/soak.tap" soak_report
timing soak-wait "$s"

timing total "$t0"
echo "# results in $RESULTS"
tests/lib/tap-summary.sh "$RESULTS"/*.tap
