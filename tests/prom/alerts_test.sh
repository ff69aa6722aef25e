#!/bin/bash
# TAP test: contrib/prometheus/alerts.yml is valid, and each alert fires in
# the case it is for and stays silent in the cases next to it
# (tests/prom/alerts/*.yml, `promtool test rules`). Mutants of the rules
# (a threshold raised, an exclusion dropped) must fail those tests: proof
# that the silent cases are checked, not only the firing ones.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
rules=$here/contrib/prometheus/alerts.yml
tmp=$(mktemp -d /tmp/nfs-ebpf-alerts-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
result() { # STATUS TEXT
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else failed=$((failed + 1)); echo "not ok $n - $2"; fi
}

if ! command -v promtool >/dev/null; then
	result 1 "promtool installed (apt-get install prometheus)"
	echo "$((n - failed)) passed, $failed failed"
	exit 1
fi
promtool check rules "$rules" >"$tmp/check.log" 2>&1
result $? "promtool check rules accepts alerts.yml ($(grep -o '[0-9]* rules found' "$tmp/check.log"))"
[ "$failed" -eq 0 ] || sed 's/^/# /' "$tmp/check.log"

for t in "$here"/tests/prom/alerts/*.yml; do
	promtool test rules "$t" >"$tmp/out.log" 2>&1
	rc=$?
	result "$rc" "promtool test rules $(basename "$t"): $(sed -n 1p "$t" | sed "s/^# //")"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/out.log" | head -n 30
done

# mutant RULE_TEST SED_EXPR TEXT: the tests must fail on the mutated rules.
mutant() {
	local test=$1 expr=$2 text=$3
	mkdir -p "$tmp/mutant/contrib/prometheus" "$tmp/mutant/tests/prom/alerts"
	sed -e "$expr" "$rules" >"$tmp/mutant/contrib/prometheus/alerts.yml"
	if cmp -s "$rules" "$tmp/mutant/contrib/prometheus/alerts.yml"; then
		result 1 "mutant '$text' differs from alerts.yml (edit $expr matched nothing)"
		return
	fi
	cp "$here/tests/prom/alerts/$test" "$tmp/mutant/tests/prom/alerts/"
	! promtool test rules "$tmp/mutant/tests/prom/alerts/$test" >/dev/null 2>&1
	result $? "$test fails on a mutant: $text"
}
mutant latency.yml 's/> 0.5$/> 5/' "latency threshold 5 s"
mutant latency.yml 's/rate(nfs_ebpf_operation_duration_seconds_count{pod!=""}\[5m\])) >= 1/rate(nfs_ebpf_operation_duration_seconds_count{pod!=""}[5m])) >= 0/' "no minimum rate"
mutant errors.yml 's/errno!~"ENOENT|EEXIST"/errno!~"NONE"/' "ENOENT not excluded"
mutant health.yml 's/max_over_time(nfs_ebpf_lost_events_total\[6h\])/max_over_time(nfs_ebpf_lost_events_total[1m])/' "not-reporting memory of 1 minute"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
