#!/bin/bash
# The VM lab matrix: every kernel (5.10, 6.1, 6.12 and the newest Debian
# ships, "sid") x every attach mode it
# supports, each a fresh VM with knfsd, NFSv3 + NFSv4.2 mounts, a
# Kubernetes-shaped node, the real collectd with the freshly built plugin and
# workloads of known size; the scrape goes through the shipped Prometheus
# relabel rules and check.py compares it with the ground truth.
#
#   tests/vm/lab.sh [SERIES...]      # e.g. tests/vm/lab.sh 6.1
#
# Environment: NFS_EBPF_LAB_JOBS (cells run at the same time, default 2:
# much of a cell is waiting for collectd intervals), NFS_EBPF_PLUGIN (plugin .so; default the build tree's
# .libs/nfs_ebpf.so), NFS_EBPF_LAB_OUT (results, default
# /var/tmp/nfs_ebpf-lab), NFS_EBPF_LAB_MATCH (extended regex: only cells
# whose line matches, e.g. 'runtime='), NFS_EBPF_LAB_INFRA=1 (no plugin: prove the lab
# itself with collectd's cpu plugin), plus run-vm.sh's knobs.
# Output: TAP lines renumbered across the matrix, then "N passed, N failed".
# Exit status non-zero if anything failed, including a VM that did not boot
# or NFS that did not come up: nothing is skipped.
set -euo pipefail
# A cell's whole VM run, boot to poweroff. The longest cell (5.10, kprobe,
# four features) took 900 s and more beside the soak and another cell, and
# run-vm.sh's default is 900 s; a hung guest still ends, 25 minutes on.
export NFS_EBPF_VM_TIMEOUT=${NFS_EBPF_VM_TIMEOUT:-1500}

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=host-lib.sh
source "$HERE/host-lib.sh"
OUT=${NFS_EBPF_LAB_OUT:-/var/tmp/nfs_ebpf-lab}
INFRA=${NFS_EBPF_LAB_INFRA:-0}

# Matrix cells: "<series> <AttachMode> <mount order> <expectation>".
# expectation: kprobe|fentry (mode that must be reported), refuse (the
# mode must fail with a clear log line), "-" (AttachMode is explicit).
# Mount orders alternate so attach-on-module-load is proven on every kernel.
# Optional key=value words shape the node (scenario.sh): cgroup=v2|hybrid|v1,
# runtime=containerd|crio|docker, driver=systemd|cgroupfs,
# features=static,churn,hostile,daemonset,dashboard,oddnames,restart,top,
# reuse,mapfull (reuse: a device number reused by another export under a
# long-lived cgroup; mapfull: MaxEntries 64, checked with check.py
# --map-full).
# The node-shape cells: 6.12 has no v1 memory/cpuset controllers
# (CONFIG_MEMCG_V1, CONFIG_CPUSETS_V1 unset), so hybrid (which needs v1
# memory) runs on 6.1 and the 6.12 v1-only cell identifies pods by the pids
# controller, the plugin's fallback after memory; the 6.1 v1-only cell uses
# the memory controller.
# guest=NAME runs tests/vm/guest/NAME.sh instead of scenario.sh; such a
# guest asserts everything itself (its guest.tap): unit-tests (the unit
# tests that load BPF, on that kernel), outage (the NFS server stops for
# 60 s under a hard mount while a pod has calls in flight).
CELLS=(
	# The wire level (guest wire.sh, checked by check_wire.py): it needs
	# module BTF, so every kernel but 5.10; its tp_btf/fentry programs on
	# 6.1 and sid, its raw_tp/kprobe ones on 6.12 (auto mode attaches the
	# former, and the scenario cells check it attaches in every mode).
	# First: they are among the longest cells, and the matrix ends sooner
	# with short ones last.
	"6.1 fentry before - guest=wire"
	"6.12 kprobe before - guest=wire"
	"sid fentry before - guest=wire"
	# The faults run on every kernel where they apply (fentry does not exist
	# on 5.10: no module BTF). mapfull sits where nothing else in the cell
	# needs new keys: 5.10 and 6.1 compare map errors before Linux 6.4's
	# helper return type change, 6.12 after it (as 7.x does).
	"5.10 kprobe mixed - features=reuse,restart,aio,reload"
	"5.10 auto after kprobe features=mapfull"
	"5.10 fentry before refuse"
	"6.1 kprobe before - features=dashboard,oddnames,restart"
	"6.1 fentry after - features=reuse"
	"6.12 kprobe mixed - features=reload"
	"6.12 fentry before - features=top,reuse,restart,aio,reload"
	"6.1 auto before - cgroup=hybrid runtime=crio driver=systemd features=static"
	"6.12 auto mixed - cgroup=v1 runtime=docker driver=cgroupfs features=static,mapfull"
	"6.1 kprobe after - cgroup=v1 runtime=docker driver=systemd features=static,mapfull"
	"6.1 auto before - cgroup=v2 runtime=containerd driver=systemd features=churn,hostile,daemonset"
	# Faults: asynchronous direct I/O and nfs modules reloaded under
	# collectd (with kprobes they go and come back; fentry keeps them).
	"6.1 kprobe before - features=aio,reload"
	# The newest kernel (7.x: nfs_mkdir returns struct dentry *).
	"sid fentry before - features=aio,reload,reuse,restart"
	"sid kprobe after - features=reload"
	# The unit tests that load BPF, on the lab's kernels; the NFS server
	# stopped for 60 s under a hard mount (guest scripts of their own) on
	# every kernel: kprobe on 5.10 (its only mode), fentry on the others.
	# A 6.1 kprobe outage cell added nothing 5.10's does not check and
	# cost some 350 s of a loaded CI machine.
	"5.10 unit - - guest=unit-tests"
	"6.1 unit - - guest=unit-tests"
	"6.12 unit - - guest=unit-tests"
	"6.1 fentry before - guest=outage"
	"5.10 kprobe before - guest=outage"
	"6.12 fentry before - guest=outage"
	"sid fentry before - guest=outage"
)
INFRA_CELLS=("5.10 none mixed -" "6.1 none after -" "6.12 none before -")

N=0 FAILED=0
tap() { # tap 0|1 text
	N=$((N + 1))
	if [[ $1 == 0 ]]; then echo "ok $N - $2"; else FAILED=$((FAILED + 1)); echo "not ok $N - $2"; fi
}
# Re-emit a file of TAP lines under the global numbering.
retap() {
	local prefix=$1 file=$2 line
	while IFS= read -r line; do
		case $line in
		"ok "*) tap 0 "$prefix${line#ok * - }" ;;
		"not ok "*) tap 1 "$prefix${line#not ok * - }" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$file"
}

# check_wire NAME DIR: a guest=wire cell's snapshots, through the shipped
# relabel rules in one Prometheus run, against its mountstats.
check_wire() {
	local name=$1 dir=$2
	if ! python3 "$HERE/check_wire.py" merge "$dir" "$dir/wire-merged.txt" >"$dir/merge.log" 2>&1; then
		tap 1 "$name: the guest's snapshots are readable (see $dir/merge.log)"
		return
	fi
	if ! "$REPO/tests/prom/relabel-through-prometheus.sh" "$dir/wire-merged.txt" \
		"$dir/wire-relabeled.json" >"$dir/relabel.log" 2>&1; then
		tap 1 "$name: scrapes relabelled through Prometheus (see $dir/relabel.log)"
		return
	fi
	python3 "$HERE/check_wire.py" check "$dir" "$dir/wire-relabeled.json" >"$dir/check.tap" 2>&1 || true
	retap "$name: " "$dir/check.tap"
}

run_cell() {
	local series=$1 mode=$2 order=$3 expect=$4 kver name dir args start rc=0 kv tag=""
	local guest=scenario
	shift 4
	name="$series $mode $order"
	args=(--mode "$mode" --order "$order")
	for kv in "$@"; do
		if [[ $kv == guest=* ]]; then guest=${kv#guest=}; else args+=("--${kv%%=*}" "${kv#*=}"); fi
		name+=" $kv"
		tag+=-${kv#*=}
	done
	kver=$(kver_of "$series")
	if [[ -z $kver ]]; then
		tap 1 "$name: kernel $series is in the cache (run tests/vm/fetch-kernels.sh)"
		return
	fi
	dir=$OUT/$kver-$mode-$order${tag//,/+}
	rm -rf "$dir"
	mkdir -p "$dir"
	case $expect in
	refuse) args+=(--expect-attach-failure) ;;
	kprobe | fentry) args+=(--expect-mode "$expect") ;;
	esac
	start=$SECONDS
	"$HERE/run-vm.sh" "$kver" "$HERE/guest/$guest.sh" "$dir" "${args[@]}" \
		>"$dir/run-vm.log" 2>&1 || rc=$?
	echo "# $name: VM run ${rc}, $((SECONDS - start))s ($kver)"
	[[ ! -s $dir/guest.tap ]] || retap "$name: " "$dir/guest.tap"
	if ((rc != 0)); then
		tap 1 "$name: VM scenario completed (see $dir)"
		grep -E '^(run-vm|lab|workload)' "$dir/run-vm.log" "$dir/guest.log" 2>/dev/null |
			grep -iE 'fail|did not|timed out|kernel' | sed 's/^/# /' | tail -n 5 || true
		return
	fi
	tap 0 "$name: VM scenario completed ($((SECONDS - start))s)"
	if [[ $guest == wire ]]; then
		check_wire "$name" "$dir"
		return
	fi
	[[ $expect != refuse && $mode != none && $guest == scenario ]] || return 0

	# Prometheus returns only samples within its 5 min lookback, and a cell
	# may scrape long before the VM ends (the restart phase, a loaded
	# machine): stamp the samples now, as tests/prom/relabel_test.sh does.
	sed -E "s/^([^#].*\} [^ ]+) [0-9]+\$/\1 $(date +%s%3N)/" "$dir/metrics.txt" >"$dir/metrics-now.txt"
	if ! "$REPO/tests/prom/relabel-through-prometheus.sh" "$dir/metrics-now.txt" \
		"$dir/relabeled.json" >"$dir/relabel.log" 2>&1; then
		tap 1 "$name: scrape relabelled through Prometheus (see $dir/relabel.log)"
		return
	fi
	local idle=()
	mapfile -t idle < <(python3 -c 'import json, sys
for p in json.load(open(sys.argv[1])).get("idle_pods", []): print("--idle-pod=" + p)' "$dir/info.json")
	# Modules loaded after collectd started: the probes attach while the
	# mount's own calls may run, and such a call can return with no entry
	# recorded (a reported missed_entry, not a defect). At most a few.
	local window=0
	if python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])).get("order") == "before")' "$dir/info.json"; then
		window=3
	fi
	local full=()
	if python3 -c 'import json, sys; sys.exit("mapfull" not in json.load(open(sys.argv[1])).get("features", []))' "$dir/info.json"; then
		full=(--map-full)
	fi
	# Calls the kernel skipped one of the plugin's programs for (seen on
	# 7.x, whose preemption can stop a thread inside a program): reported
	# as missed_entry/missed_return, and short in their op's count.
	local skips
	skips=$(cat "$dir/kernel-skips" 2>/dev/null || echo 0)
	python3 "$HERE/check.py" --truth "$dir/truth.json" --series "$dir/relabeled.json" \
		--attach-window-entries "$window" --kernel-skips "${skips:-0}" "${full[@]}" "${idle[@]}" \
		>"$dir/check.tap" 2>&1 || true
	retap "$name: " "$dir/check.tap"
}

main() {
	local want=("$@") cell series cells start
	mkdir -p "$OUT"
	start=$SECONDS
	"$HERE/fetch-kernels.sh" >/dev/null || { tap 1 "kernels fetched"; exit 1; }
	if [[ $INFRA == 1 ]]; then
		cells=("${INFRA_CELLS[@]}")
	else
		cells=("${CELLS[@]}")
		local so
		if ! so=$(plugin_path); then
			tap 1 "plugin built (no .libs/nfs_ebpf.so; set NFS_EBPF_PLUGIN or NFS_EBPF_LAB_INFRA=1)"
			echo "$((N - FAILED)) passed, $FAILED failed"
			exit 1
		fi
		export NFS_EBPF_PLUGIN=$so
		echo "# plugin: $so"
	fi
	# Cells run JOBS at a time, each into a file of its own; the files are
	# then read in matrix order, so the TAP numbering and the output do not
	# depend on which cell finished first.
	local jobs=${NFS_EBPF_LAB_JOBS:-2} i=0 f
	local -a outs=()
	for cell in "${cells[@]}"; do
		read -r series _ <<<"$cell"
		if ((${#want[@]})) && [[ " ${want[*]} " != *" $series "* ]]; then
			continue
		fi
		[[ -z ${NFS_EBPF_LAB_MATCH:-} || $cell =~ $NFS_EBPF_LAB_MATCH ]] || continue
		while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
		i=$((i + 1))
		outs+=("$OUT/.cell-$i.tap")
		# shellcheck disable=SC2086
		run_cell $cell >"$OUT/.cell-$i.tap" 2>&1 &
	done
	wait
	for f in "${outs[@]}"; do retap "" "$f"; done
	echo "# matrix took $((SECONDS - start))s ($jobs cells at a time), results in $OUT"
	echo "$((N - FAILED)) passed, $FAILED failed"
	((FAILED == 0 && N > 0))
}

main "$@"
