#!/bin/bash
# TAP bookkeeping for run-tests.sh.
#
#   tests/lib/tap-summary.sh FILE...
#       Count the TAP result lines in FILEs and print `N passed, N failed`
#       (`, N skipped` appended when any test was skipped), after the
#       failing lines themselves. Exit 1 when any test failed or when no
#       test line was found at all.
#
# Counted lines start in column 0: `ok ...` passes, `not ok ...` fails
# (a `# TODO` directive does not excuse a failure), `ok ... # SKIP` is a skip.
#
# Sourced (`. tests/lib/tap-summary.sh`), it also provides
#   tap_suite NAME OUTFILE CMD...  run CMD, tee its output to OUTFILE and the
#       terminal, and append a `not ok` line to OUTFILE when CMD exited
#       non-zero without reporting a failure itself, or printed no TAP.
#   tap_count FILE...  print "PASSED FAILED SKIPPED".

tap_count() {
	awk '
		/^not ok([ \t]|$)/ { f++; next }
		/^ok([ \t]|$)/ {
			if (toupper($0) ~ /#[ \t]*SKIP/) s++; else p++
			next
		}
		END { printf "%d %d %d\n", p, f, s }
	' "$@" </dev/null
}

tap_suite() {
	local name=$1 out=$2
	shift 2
	local rc start end
	start=$(date +%s)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	end=$(date +%s)
	local counts p f s
	counts=$(tap_count "$out")
	read -r p f s <<<"$counts"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name: exited with status $rc without reporting a failing test" | tee -a "$out"
	elif [ $((p + f + s)) -eq 0 ]; then
		echo "not ok - $name: printed no TAP result line" | tee -a "$out"
	fi
	echo "# $name: exit $rc, $((end - start)) s" | tee -a "$out"
	return "$rc"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	if [ $# -eq 0 ]; then
		echo "usage: $0 TAP_FILE..." >&2
		exit 2
	fi
	read -r p f s <<<"$(tap_count "$@")"
	# The failures again, just above the count: a log read from its end
	# (CI keeps only the tail) still says which tests failed.
	if [ "$f" -gt 0 ]; then
		echo "# failed:"
		grep -h -E '^not ok([ \t]|$)' "$@" | head -n 40 | cut -c1-300
		[ "$f" -le 40 ] || echo "# ... and $((f - 40)) more"
	fi
	line="$p passed, $f failed"
	[ "$s" -gt 0 ] && line="$line, $s skipped"
	echo "$line"
	[ "$f" -eq 0 ] && [ $((p + s)) -gt 0 ]
fi
