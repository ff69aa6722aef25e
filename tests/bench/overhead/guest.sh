#!/bin/bash
# The overhead benchmark inside one lab VM (started by run.sh through
# tests/vm/run-vm.sh; see run.sh for what it measures and why).
#
#   guest.sh --bin DIR --plugin SO --runs N --counts "stat=N read=N ..."
#            --mount-options OPTIONS --interval SECONDS --funcs "FUNC ..."
#            [--baseline SO] [--acct-runs N]
#
# One boot: knfsd, one NFSv3 mount with a cached file set, the floor loader
# (floor.c) with everything loaded but nothing attached, then RUNS rounds;
# each round runs the workloads once under every configuration, in an
# order that rotates from round to round, so that drift in the VM (TCG
# translation caches, the host's load) hits every configuration alike.
# A configuration is switched on just before its run and off right after:
#   untraced         nothing attached
#   floor-fentry     empty fentry/fexit pairs on the hooked functions
#   floor-kprobe     empty kprobe/kretprobe pairs on the same functions
#   nfs_ebpf-fentry  collectd with the plugin, AttachMode "fentry"
#   nfs_ebpf-kprobe  collectd with the plugin, AttachMode "kprobe"
#   baseline-fentry, baseline-kprobe  the same with another build of the
#                    plugin (--baseline), to measure a change side by side
# Timed rounds run with kernel.bpf_stats_enabled=0 (the accounting itself
# costs two clock reads per program run); then ACCT_RUNS untimed rounds
# (rotating like the timed ones) run every traced configuration with it on
# and record the kernel's run_cnt and run_time_ns of every program.
#
# Writes to /vmout: raw.tsv (kernel round config workload count ns),
# floor-load.txt, rpc-*.txt (/proc/net/rpc/nfs around each workload run
# alone), bpfstats-floor-MODE-{before,after}.A.txt and bpfstats-CONFIG.A.json
# (bpftool prog show -j) of accounting round A, collectd-all.log, info.txt.
# Exits non-zero when a
# configuration could not be set up as asked (a program that did not load
# or attach, collectd that did not start); timings are never judged.
set -euo pipefail
# shellcheck source=../../vm/guest/lib.sh
source "$NFS_EBPF_REPO/tests/vm/guest/lib.sh"

BIN="" PLUGIN="" BASELINE="" RUNS=15 ACCT_RUNS=3 COUNTS="" MOUNT_OPTIONS=""
INTERVAL=10 FUNCS=""
BENCH_DIR=/mnt/bench
POD=shop/web-0/nginx
CONFIGS=(untraced floor-fentry floor-kprobe nfs_ebpf-fentry nfs_ebpf-kprobe)
KVER=$(uname -r)
PROBLEMS=0

parse_args() {
	lab_options "BIN PLUGIN BASELINE ACCT_RUNS RUNS COUNTS MOUNT_OPTIONS INTERVAL FUNCS" "$@"
	[[ -x $BIN/workload && -x $BIN/floor && -f $BIN/floor.bpf.o ]] || lab_die "binaries missing in '$BIN'"
	[[ -f $PLUGIN ]] || lab_die "plugin '$PLUGIN' missing"
	if [[ -n $BASELINE ]]; then
		[[ -f $BASELINE ]] || lab_die "baseline plugin '$BASELINE' missing"
		CONFIGS+=(baseline-fentry baseline-kprobe)
	fi
	[[ -n $COUNTS && -n $MOUNT_OPTIONS && -n $FUNCS ]] || lab_die "--counts, --mount-options and --funcs are required"
}

problem() {
	lab_log "PROBLEM: $*"
	echo "$*" >>"$LAB_OUT/problems.txt"
	PROBLEMS=$((PROBLEMS + 1))
}

# ---- the file set --------------------------------------------------------

bench_mount() {
	# The v4 functions are hooked by the plugin when nfsv4.ko is there;
	# load it so that both sets, and the floor, hook all of them.
	{ modprobe nfs && modprobe nfsv4; } || lab_die "cannot load the nfs modules"
	mkdir -p "$BENCH_DIR"
	timeout 180 mount -t nfs -o "$MOUNT_OPTIONS" "$LAB_V3_SERVER:$LAB_EXPORT_DIR/export" "$BENCH_DIR" ||
		lab_die "NFS did not mount ($MOUNT_OPTIONS)"
	mkdir -p "$BENCH_DIR/files" "$BENCH_DIR/churn"
	head -c 65536 /dev/zero | tr '\0' 'd' >"$BENCH_DIR/files/data"
	sync
	cat "$BENCH_DIR/files/data" >/dev/null
	chmod -R a+rwX "$BENCH_DIR"
	lab_log "bench mount: $(awk -v m="$BENCH_DIR" '$5==m' /proc/self/mountinfo | sed 's/.* - //')"
}

# ---- the floor ------------------------------------------------------------

# Answer lines of the floor loader up to its "end".
floor_reply() {
	local line
	while IFS= read -r -t 900 line <&"${FLOOR[0]}"; do
		[[ $line == end ]] && return 0
		printf '%s\n' "$line"
	done
	lab_die "the floor loader stopped answering"
}
floor_cmd() {
	printf '%s\n' "$1" >&"${FLOOR[1]}"
	floor_reply
}

floor_start() {
	local t0=$SECONDS
	# shellcheck disable=SC2086 # FUNCS is a list of words
	coproc FLOOR { exec "$BIN/floor" "$BIN/floor.bpf.o" $FUNCS 2>>"$LAB_OUT/floor.stderr"; }
	floor_reply >"$LAB_OUT/floor-load.txt"
	sed 's/^/lab: floor: /' "$LAB_OUT/floor-load.txt"
	grep -q ' failed' "$LAB_OUT/floor-load.txt" &&
		problem "floor: some programs did not load ($(grep ' failed' "$LAB_OUT/floor-load.txt" | tr '\n' ';'))"
	PRESENT=$(grep -c '^load fentry ' "$LAB_OUT/floor-load.txt" || true)
	lab_log "floor loaded in $((SECONDS - t0))s: $PRESENT of $(wc -w <<<"$FUNCS") functions present"
	((PRESENT > 0)) || lab_die "none of the hooked functions is in /proc/kallsyms"
}

floor_up() { # MODE
	local reply
	reply=$(floor_cmd "attach $1")
	if grep -q '^attach-failed' <<<"$reply"; then
		problem "floor $1: $(grep '^attach-failed' <<<"$reply" | tr '\n' ';')"
	fi
	grep -q "^attached $1 $((2 * PRESENT))\$" <<<"$reply" ||
		problem "floor $1: $(grep '^attached' <<<"$reply") programs attached, $((2 * PRESENT)) wanted"
}

floor_down() {
	floor_cmd detach >/dev/null
}

# ---- nfs_ebpf in collectd ---------------------------------------------------

# (Not "bpftool | grep -q": under pipefail grep's early exit makes bpftool
# die of SIGPIPE and the pipeline fail, whatever grep found.)
nfs_ebpf_gone() {
	local progs
	progs=$(bpftool prog show 2>/dev/null) || return 1
	! grep -qE ' name (fentry|fexit|kprobe|kretprobe)_nfs' <<<"$progs"
}

# lib.sh's lab_collectd_start starts collectd two subshells down
# ("lab_in_cgroup ... &": the function runs in one, its "( ... exec )" in
# another), so lab_collectd_stop's kill reaches the outer subshell only and
# collectd goes on running, its programs attached. Here collectd is the
# background job itself: lab_in_cgroup's few lines, inline.
COLLECTD_PID=""
bench_collectd_start() {
	local conf=$1 rel=system.slice/collectd.service deadline=$((SECONDS + 600))
	[[ -x /usr/sbin/collectd ]] || lab_die "/usr/sbin/collectd missing (apt-get install collectd-core)"
	: >"$LAB_OUT/collectd.log"
	(
		for h in $LAB_CGROUP_HIERS; do
			echo "$BASHPID" >"$h/$rel/cgroup.procs" || exit 125
		done
		exec /usr/sbin/collectd -C "$conf" -f
	) >"$LAB_OUT/collectd.stdout" 2>&1 &
	COLLECTD_PID=$!
	# The plugin's init attaches; collectd then says it is complete (also
	# when the plugin failed, which the caller finds in the log).
	until grep -qE 'nfs_ebpf plugin: ready:|Initialization complete' "$LAB_OUT/collectd.log" 2>/dev/null; do
		if ! kill -0 "$COLLECTD_PID" 2>/dev/null || ((SECONDS >= deadline)); then
			tail -n 20 "$LAB_OUT/collectd.log" "$LAB_OUT/collectd.stdout" 2>/dev/null || true
			lab_die "collectd did not start (exited, or not initialised after 600s)"
		fi
		sleep 0.2
	done
	lab_log "collectd running (pid $COLLECTD_PID)"
}

bench_collectd_stop() {
	[[ -n $COLLECTD_PID ]] || return 0
	kill "$COLLECTD_PID" 2>/dev/null || true
	wait "$COLLECTD_PID" 2>/dev/null || true
	COLLECTD_PID=""
}

nfs_ebpf_up() { # MODE SO
	local mode=$1 so=$2 got
	cp "$so" /usr/lib/collectd/nfs_ebpf.so
	cat >"$LAB_RUN/plugin.conf" <<-EOF
		LoadPlugin nfs_ebpf
		<Plugin nfs_ebpf>
		  AttachMode "$mode"
		</Plugin>
	EOF
	lab_collectd_conf "$LAB_RUN/collectd.conf" "$LAB_RUN/plugin.conf"
	bench_collectd_start "$LAB_RUN/collectd.conf"
	# "attached N programs to nfs (fentry)", and to nfsv4: the mode must be
	# the one asked for throughout, and every present function hooked.
	got=$(sed -nE 's/.*nfs_ebpf plugin: attached ([0-9]+) programs to [a-z0-9]+ \((.*)\)$/\1 \2/p' "$LAB_OUT/collectd.log")
	if [[ $(awk '{ n += $1 } END { print n + 0 }' <<<"$got") != $((2 * PRESENT)) ]] ||
		grep -qv " $mode\$" <<<"$got"; then
		problem "nfs_ebpf $mode: attached '$(tr '\n' ';' <<<"$got")', wanted $((2 * PRESENT)) programs in $mode mode"
		grep -E 'nfs_ebpf plugin: .*(attach|fentry|kprobe)' "$LAB_OUT/collectd.log" | head -n 5 || true
	fi
}

nfs_ebpf_down() {
	bench_collectd_stop
	cat "$LAB_OUT/collectd.log" >>"$LAB_OUT/collectd-all.log"
	# Its programs go with its file descriptors; make sure before timing
	# the next configuration.
	lab_wait 120 "nfs_ebpf programs to go" nfs_ebpf_gone ||
		lab_die "nfs_ebpf programs still loaded after collectd stopped"
}

# ---- configurations ---------------------------------------------------------

config_up() {
	case $1 in
	untraced) ;;
	floor-*) floor_up "${1#floor-}" ;;
	nfs_ebpf-*) nfs_ebpf_up "${1#nfs_ebpf-}" "$PLUGIN" ;;
	baseline-*) nfs_ebpf_up "${1#baseline-}" "$BASELINE" ;;
	esac
}

config_down() {
	case $1 in
	untraced) ;;
	floor-*) floor_down ;;
	nfs_ebpf-* | baseline-*) nfs_ebpf_down ;;
	esac
}

# ---- workloads --------------------------------------------------------------

CPU=0
# run_workloads ROUND CONFIG: one run of the workload program in
# the pod's cgroup, pinned to one CPU; its lines go to raw.tsv.
run_workloads() {
	local round=$1 config=$2 out name count ns
	# shellcheck disable=SC2086 # COUNTS is a list of words
	out=$(lab_in_cgroup "$POD_CGROUP" taskset -c "$CPU" "$BIN/workload" "$BENCH_DIR" $COUNTS) ||
		lab_die "workload failed (round $round, $config)"
	while read -r name count ns; do
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$KVER" "$round" "$config" "$name" "$count" "$ns" >>"$LAB_OUT/raw.tsv"
	done <<<"$out"
}

# RPCs per operation of each workload alone, untraced, after a warm-up:
# shows which workloads stay in the client's caches.
rpc_probe() {
	local w n
	for w in $COUNTS; do
		n=${w#*=}
		n=$((n / 10 + 1))
		lab_in_cgroup "$POD_CGROUP" "$BIN/workload" "$BENCH_DIR" "${w%%=*}=$n" >/dev/null ||
			lab_die "workload ${w%%=*} failed"
		cp /proc/net/rpc/nfs "$LAB_OUT/rpc-${w%%=*}-before.txt"
		lab_in_cgroup "$POD_CGROUP" "$BIN/workload" "$BENCH_DIR" "${w%%=*}=$n" warm=0 >/dev/null ||
			lab_die "workload ${w%%=*} failed"
		cp /proc/net/rpc/nfs "$LAB_OUT/rpc-${w%%=*}-after.txt"
		echo "$n" >"$LAB_OUT/rpc-${w%%=*}-count.txt"
	done
}

rounds() {
	local r k cfg t0 t1 n=${#CONFIGS[@]}
	for ((r = 1; r <= RUNS; r++)); do
		t0=$SECONDS
		for ((k = 0; k < n; k++)); do
			cfg=${CONFIGS[(r - 1 + k) % n]}
			config_up "$cfg"
			t1=$SECONDS
			run_workloads "$r" "$cfg"
			lab_log "round $r: $cfg workloads ran in $((SECONDS - t1))s"
			config_down "$cfg"
		done
		lab_log "round $r of $RUNS done in $((SECONDS - t0))s"
	done
}

# The kernel's own accounting: ACCT_RUNS untimed rounds of every traced
# configuration, rotating like the timed rounds.
accounting() {
	local a k cfg mode traced=() n
	for cfg in "${CONFIGS[@]}"; do
		[[ $cfg == untraced ]] || traced+=("$cfg")
	done
	n=${#traced[@]}
	sysctl -qw kernel.bpf_stats_enabled=1 || lab_die "cannot enable kernel.bpf_stats_enabled"
	for ((a = 1; a <= ACCT_RUNS; a++)); do
		for ((k = 0; k < n; k++)); do
			cfg=${traced[(a - 1 + k) % n]}
			mode=${cfg#*-}
			config_up "$cfg"
			if [[ $cfg == floor-* ]]; then
				floor_cmd "stats $mode" >"$LAB_OUT/bpfstats-floor-$mode-before.$a.txt"
			fi
			run_workloads "acct$a" "$cfg"
			if [[ $cfg == floor-* ]]; then
				floor_cmd "stats $mode" >"$LAB_OUT/bpfstats-floor-$mode-after.$a.txt"
			else
				bpftool -j prog show >"$LAB_OUT/bpfstats-$cfg.$a.json" ||
					lab_die "bpftool prog show failed"
			fi
			config_down "$cfg"
			lab_log "accounting $a of $ACCT_RUNS: $cfg recorded"
		done
	done
	sysctl -qw kernel.bpf_stats_enabled=0
}

main() {
	local t0=$SECONDS
	parse_args "$@"
	: >"$LAB_OUT/raw.tsv"
	: >"$LAB_OUT/collectd-all.log"
	rm -f "$LAB_OUT"/problems.txt "$LAB_OUT"/rpc-*.txt "$LAB_OUT"/bpfstats-*
	lab_base
	lab_nfs_server
	lab_node
	bench_mount
	POD_CGROUP=$(python3 "$LAB_GUEST_DIR/mknode.py" --node "$LAB_RUN/node.json" --cgroup-of "$POD") ||
		lab_die "no container $POD"
	CPU=$(($(nproc) - 1))
	# collectd's own default interval unless told otherwise: the plugin's
	# read callback (draining the maps) is part of what it costs.
	# shellcheck disable=SC2034 # read by lib.sh's lab_collectd_conf
	LAB_INTERVAL=$INTERVAL
	sysctl -qw kernel.bpf_stats_enabled=0 || true

	floor_start
	rpc_probe
	{
		echo "kernel $KVER"
		echo "cpus $(nproc)"
		echo "runs $RUNS"
		echo "acct_runs $ACCT_RUNS"
		echo "baseline ${BASELINE:+yes}"
		echo "counts $COUNTS"
		echo "mount $MOUNT_OPTIONS"
		echo "interval $INTERVAL"
		echo "present $PRESENT"
		echo "functions $FUNCS"
	} >"$LAB_OUT/info.txt"
	lab_log "workloads pinned to CPU $CPU: $COUNTS; $RUNS rounds"

	rounds
	accounting
	printf 'quit\n' >&"${FLOOR[1]}"
	wait "$FLOOR_PID" || problem "the floor loader exited $?"
	echo "seconds $((SECONDS - t0))" >>"$LAB_OUT/info.txt"
	lab_log "benchmark done in $((SECONDS - t0))s, $PROBLEMS problem(s)"
	((PROBLEMS == 0))
}

main "$@"
