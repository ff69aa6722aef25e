#!/bin/bash
# Soak inside the VM (run by tests/vm/soak.sh through run-vm.sh): pods
# churn for NFS_EBPF_SOAK_SECONDS (default 600) at up to 20 a minute, each
# writing, reading, stating and removing files on the NFSv3 and NFSv4.2
# mounts, while two collectd instances trace them:
#   - "asan": the plugin built with AddressSanitizer (NFS_EBPF_SOAK_ASAN_PLUGIN),
#     libasan preloaded into the stock collectd; any memory error, and at
#     exit any leak with a frame in the plugin, fails the soak;
#   - "plain": the normal build (NFS_EBPF_PLUGIN), whose RSS is sampled
#     (ASan's quarantine would make the first one's RSS meaningless).
# The plain instance also reports collectd's write queue and value cache
# after the churn, and glibc malloc's totals once drained (gdb).
# Writes to /vmout: guest.tap, rss.tsv (seconds, plain KiB, asan KiB),
# figures.txt, collectd-*.log, asan.* (sanitizer reports), metrics-*.txt.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

SECS=${NFS_EBPF_SOAK_SECONDS:-600}
PER_MINUTE=20
# Interval 10 s with Timeout 6 (a minute) instead of the lab's 3 s and 20:
# each retained pod is some 130 series per read (one mount, four ops), and
# at 3 s the two collectd instances (one under ASan) took the emulated VM's
# CPU, so pods came 2 or 3 a minute instead of 20. The plugin's code paths
# are the same; a read just comes less often.
LAB_INTERVAL=10
TIMEOUT_INTERVALS=6
RETAIN=60 # RetainEndedSeries: ended pods' series must go, or memory grows
# An ended pod's series leave the scrape after: its cgroup's tombstone
# (identity keeps a removed cgroup's name 5 minutes for late increments;
# its kernel keys retire after that), RetainEndedSeries, and collectd's
# Timeout, plus room for slow reads.
RETAINED_FOR=$((300 + RETAIN + TIMEOUT_INTERVALS * LAB_INTERVAL))
DRAINED_AFTER=$((RETAINED_FOR + 120))
# RSS follows how many ended pods are retained, so it can only be flat once
# the first pods leave as fast as new ones end: warm-up is RETAINED_FOR
# from the churn's start (a third of it in runs too short for that).
WARMUP=$RETAINED_FOR
MAX_LIVES=40
TAP_N=0
tap() { # tap 0|1 text
	TAP_N=$((TAP_N + 1))
	if [[ $1 == 0 ]]; then
		echo "ok $TAP_N - $2" | tee -a "$LAB_OUT/guest.tap"
	else
		echo "not ok $TAP_N - $2" | tee -a "$LAB_OUT/guest.tap"
	fi
}
check() { # check TEXT CMD...: one TAP line from CMD's status
	local text=$1
	shift
	if "$@"; then tap 0 "$text"; else tap 1 "$text"; fi
}

# Two collectd instances, each with its own PluginDir (holding the stock
# plugins and its own nfs_ebpf.so), log and cgroup. PORT "-": no
# write_prometheus. The asan instance has none: under emulation collectd
# 5.12's write_prometheus (a family re-sorted on every new series) costs
# more CPU than everything else in the VM, the memory it measures is the
# plain instance's, and without a writer the plugin runs the same code.
start_instance() { # NAME PLUGIN_SO PORT|- [ENV...]
	local name=$1 so=$2 port=$3 dir=$LAB_RUN/plugins-$1 conf=$LAB_RUN/collectd-$1.conf
	shift 3
	mkdir -p "$dir" "$LAB_CGROUP_ROOT/system.slice/collectd-$name.service"
	# collectd loads regular files only, no symbolic links.
	cp /usr/lib/collectd/{logfile,write_prometheus}.so "$dir/"
	cp "$so" "$dir/nfs_ebpf.so"
	cat >"$LAB_RUN/plugin-$name.conf" <<-EOF
		LoadPlugin nfs_ebpf
		<Plugin nfs_ebpf>
		  AttachMode "auto"
		  RetainEndedSeries $RETAIN
		</Plugin>
	EOF
	lab_collectd_conf "$conf" "$LAB_RUN/plugin-$name.conf"
	# No unixsock: two instances would share its socket, and nothing here
	# reads it.
	if [[ $port == - ]]; then
		sed -i -e '/^LoadPlugin write_prometheus/d' -e '/^<Plugin write_prometheus>/,/^<\/Plugin>/d' "$conf"
	fi
	sed -i -e '/LoadPlugin unixsock/d' -e "s|Port \"9103\"|Port \"$port\"|" \
		-e "s|^Timeout .*|Timeout $TIMEOUT_INTERVALS\nCollectInternalStats true|" \
		-e "s|$LAB_OUT/collectd.log|$LAB_OUT/collectd-$name.log|" \
		-e "s|PluginDir \"/usr/lib/collectd\"|PluginDir \"$dir\"|" \
		-e "s|/run/collectd/collectd.pid|/run/collectd/collectd-$name.pid|" "$conf"
	: >"$LAB_OUT/collectd-$name.log"
	lab_in_cgroup "system.slice/collectd-$name.service" env "$@" \
		/usr/sbin/collectd -C "$conf" -f >"$LAB_OUT/collectd-$name.stdout" 2>&1 &
	# $! is the shell that moved itself into the cgroup; collectd is the
	# process running this instance's configuration.
	lab_wait 60 "collectd $name started" pgrep -f "collectd -C $conf"
	eval "PID_$name=$(pgrep -f "collectd -C $conf" | head -n1)"
	[[ $port == - ]] || lab_wait 180 "collectd $name serving :$port" lab_scrape /dev/null "$port" || {
		tail -n 20 "$LAB_OUT/collectd-$name.log" "$LAB_OUT/collectd-$name.stdout" || true
		lab_die "collectd $name did not start serving /metrics"
	}
	lab_wait 300 "collectd $name attached to nfsv4" grep -qE \
		'nfs_ebpf plugin: attached [0-9]+ programs to nfsv4 ' "$LAB_OUT/collectd-$name.log" ||
		lab_die "collectd $name did not attach to nfsv4"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# CPU time (user + system) of process $1 in clock ticks.
cpu_ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# mknode.py rewrites node.json: one change at a time.
node() { flock "$LAB_RUN/node.lock" python3 "$LAB_GUEST_DIR/mknode.py" --node "$LAB_RUN/node.json" "$@"; }

# Pods come and go in waves: every WAVE seconds one mknode.py call adds
# the wave's pods (python starts slowly under TCG, and node.json takes one
# writer at a time: a call per pod held the churn to 2 pods a minute), each
# new pod's container creates, writes, reads, stats and removes a file on
# one mount (even pods NFSv3, odd NFSv4.2: two mounts per pod doubled the
# series collectd had to write, and it fell behind), and one more call
# deletes the pods whose I/O is done (cgroups, then state). Lives overlap
# across waves. Each wave brings the count up to PER_MINUTE a minute of
# the time to the wave's end (the churn's end at the latest): a wave that
# started late (the VM was busy) is made up by the next one instead of
# lowering the rate.
WAVE=30

# Adds pods FIRST .. FIRST+COUNT-1; prints "N CGROUP" for each.
wave_add() { # FIRST COUNT
	local args=() i
	for ((i = $1; i < $1 + $2; i++)); do args+=(--add-pod "soak/soak-$i/besteffort/app"); done
	node "${args[@]}" --print-cgroups | sed -E 's|^soak/soak-([0-9]+)/app |\1 |'
}

pod_io() { # N CGROUP
	local mnt=/mnt/v3
	(($1 % 2 == 0)) || mnt=/mnt/v4
	lab_in_cgroup "$2" sh -c 'dd if=/dev/zero of="$1" bs=4096 count=16 status=none &&
		cat "$1" >/dev/null && stat "$1" >/dev/null && rm -f "$1"' io "$mnt/soak-$1"
}

# Deletes the pods whose I/O is over (IO_PID: pod -> pid), in one call;
# counts failed I/O in FAILED.
declare -A IO_PID=()
FAILED=0
wave_remove() {
	local n gone=()
	for n in "${!IO_PID[@]}"; do
		kill -0 "${IO_PID[$n]}" 2>/dev/null && continue
		wait "${IO_PID[$n]}" || FAILED=$((FAILED + 1))
		unset "IO_PID[$n]"
		gone+=("$n")
	done
	((${#gone[@]})) || return 0
	local args=()
	for n in "${gone[@]}"; do args+=(--remove-pod "soak/soak-$n"); done
	node "${args[@]}" || FAILED=$((FAILED + ${#gone[@]}))
}

# collectd's own queue and cache (CollectInternalStats) in a scrape: a
# write queue that grows means collectd cannot keep up with the dispatches,
# and the queued value lists are memory.
internal_stats() {
	awk '/^collectd_collectd_queue_length\{.*write_queue/ {q = $2}
		/^collectd_collectd_derive_total\{.*write_queue.*dropped/ {d = $2}
		/^collectd_collectd_cache_size\{/ {c = $2}
		END {printf "write queue %s value lists (%s dropped), value cache %s entries\n", q, d, c}' "$1"
}

# glibc malloc's view of process $1, through gdb: "SYSTEM INUSE" in KiB
# (every arena and mmap), then malloc_trim(0) hands free pages back. Tells
# memory still allocated from freed memory malloc keeps. malloc_stats()
# writes to the process's stderr, collectd-NAME.stdout here ($2).
malloc_totals() { # PID STDERR_FILE
	timeout 300 gdb -p "$1" -batch -ex 'call (void) malloc_stats()' -ex 'call (int) malloc_trim(0)' \
		>"$LAB_RUN/gdb-$1.log" 2>&1 || { echo "? ?"; return; }
	awk '/^Total \(incl. mmap\):/ {t = 1; next}
		t && /^system bytes/ {s = $NF}
		t && /^in use bytes/ {u = $NF; t = 0}
		END {if (s == "") print "? ?"; else printf "%d %d\n", s / 1024, u / 1024}' "$2"
}

# The soak pods a scrape reports, one number a line.
pods_in() { grep -oE 'nfs_ebpf="soak_soak-[0-9]+' "$1" | sed 's/.*-//' | sort -u; }

main() {
	: >"$LAB_OUT/guest.tap"
	local plain=${NFS_EBPF_PLUGIN:?} asan=${NFS_EBPF_SOAK_ASAN_PLUGIN:?} libasan
	libasan=$(ldd "$asan" | awk '/libasan/ {print $3}')
	[[ -n $libasan && -f $libasan ]] || lab_die "$asan is not linked against libasan"
	lab_base
	lab_nfs_server
	lab_node
	lab_mount v3
	lab_mount v4
	rm -f "$LAB_OUT"/asan.*
	start_instance plain "$plain" 9103
	# halt_on_error=0: report every error, not only the first; leaks are
	# checked at exit (collectd runs every plugin's shutdown first).
	start_instance asan "$asan" - LD_PRELOAD="$libasan" \
		ASAN_OPTIONS="log_path=$LAB_OUT/asan:detect_leaks=1:halt_on_error=0:malloc_context_size=20" \
		ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer || true)"
	check "the asan instance runs with AddressSanitizer loaded" \
		grep -q libasan "/proc/$PID_asan/maps"

	local start=$SECONDS n=0 failed next sampler add k n_new rel churn
	# Both instances' RSS every 30 s, from the churn's start.
	printf 'seconds\tplain_kib\tasan_kib\n' >"$LAB_OUT/rss.tsv"
	local cpu0_plain cpu0_asan
	cpu0_plain=$(cpu_ticks "$PID_plain") cpu0_asan=$(cpu_ticks "$PID_asan")
	(
		while :; do
			printf '%d\t%s\t%s\n' $((SECONDS - start)) "$(rss_kib "$PID_plain")" \
				"$(rss_kib "$PID_asan")" >>"$LAB_OUT/rss.tsv"
			sleep 30
		done
	) &
	sampler=$!
	while ((SECONDS - start < SECS)); do
		next=$((SECONDS + WAVE))
		((next - start < SECS)) || next=$((start + SECS))
		wave_remove
		# At most MAX_LIVES pods doing I/O: a slow VM lowers the rate
		# instead of piling pods up.
		k=$((PER_MINUTE * (next - start) / 60 - n))
		((k < MAX_LIVES - ${#IO_PID[@]})) || k=$((MAX_LIVES - ${#IO_PID[@]}))
		if ((k > 0)); then
			add=$(wave_add "$n" "$k") || FAILED=$((FAILED + k))
			while read -r n_new rel; do
				[[ -n $rel ]] || continue
				pod_io "$n_new" "$rel" >>"$LAB_OUT/pods.log" 2>&1 &
				IO_PID[$n_new]=$!
			done <<<"$add"
			n=$((n + k))
		fi
		((SECONDS >= next)) || sleep $((next - SECONDS))
	done
	churn=$((SECONDS - start))
	while ((${#IO_PID[@]})); do
		wave_remove
		((${#IO_PID[@]} == 0)) || sleep 1
	done
	failed=$FAILED
	kill "$sampler"
	local took=$((SECONDS - start)) rss_end rss_warm rss_min rss_max hz cpu_plain cpu_asan
	hz=$(getconf CLK_TCK)
	cpu_plain=$((($(cpu_ticks "$PID_plain") - cpu0_plain) / hz))
	cpu_asan=$((($(cpu_ticks "$PID_asan") - cpu0_asan) / hz))
	rss_end=$(rss_kib "$PID_plain")
	printf '%d\t%s\t%s\n' "$took" "$rss_end" "$(rss_kib "$PID_asan")" >>"$LAB_OUT/rss.tsv"
	((SECS > WARMUP + 60)) || WARMUP=$((SECS / 3))
	# the first, lowest and highest sample from warm-up on
	read -r rss_warm rss_min rss_max < <(awk -v w=$WARMUP 'NR > 1 && $1 >= w {
			if (n++ == 0) first = min = max = $2
			if ($2 < min) min = $2
			if ($2 > max) max = $2
		} END {print first + 0, min + 0, max + 0}' "$LAB_OUT/rss.tsv")
	check "$n pods lived and did their I/O ($failed failed)" test "$failed" -eq 0
	check "both collectd instances still running after ${took}s of churn" \
		kill -0 "$PID_plain" "$PID_asan"

	# The last pods' reads are out after two intervals; lost events and the
	# ended pods' series are read from the plain instance.
	sleep $((3 * LAB_INTERVAL))
	lab_scrape "$LAB_OUT/metrics-plain.txt" 9103 || lab_die "scrape of :9103 failed"
	local lost left
	# Every reason but rpc_program_skipped, the kernel skipping the wire
	# level's counting program, which the plugin reports as the kernel
	# counts it (the wire cells check that it does).
	lost=$(awk '/^collectd_nfs_ebpf_derive_total\{/ && !/nfs_ebpf="rpc_program_skipped"/ {s += $2} END {print s + 0}' \
		"$LAB_OUT/metrics-plain.txt")
	check "no operation or RPC lost over the soak (sum $lost)" test "$lost" = 0
	# Churn over: every soak pod's series must leave (bounded state in the
	# plugin and in collectd), at the latest DRAINED_AFTER after the last
	# pod ended.
	local drained=$((SECONDS + DRAINED_AFTER))
	while lab_scrape "$LAB_OUT/metrics-drained.txt" 9103 &&
		left=$(pods_in "$LAB_OUT/metrics-drained.txt" | grep -c . || true) &&
		((left > 0 && SECONDS < drained)); do
		sleep 15
	done
	check "ended pods' series all expire after the churn ($left of $n soak pods left, waited $((SECONDS - drained + DRAINED_AFTER)) s)" \
		test "$left" = 0
	local rss_drained heap_system heap_inuse rss_trimmed
	rss_drained=$(rss_kib "$PID_plain")
	read -r heap_system heap_inuse < <(malloc_totals "$PID_plain" "$LAB_OUT/collectd-plain.stdout")
	rss_trimmed=$(rss_kib "$PID_plain")
	check "no nfs_ebpf error logged by either instance" \
		bash -c '! grep -h "\[error\] nfs_ebpf" "$1" "$2"' _ \
		"$LAB_OUT/collectd-plain.log" "$LAB_OUT/collectd-asan.log"
	local growth=$((rss_end - rss_warm))

	kill "$PID_plain" "$PID_asan"
	wait "$PID_plain" || true
	wait "$PID_asan" || true
	local errors leaks
	errors=$(cat "$LAB_OUT"/asan.* 2>/dev/null | grep -c 'ERROR: AddressSanitizer' || true)
	check "AddressSanitizer reported no memory error ($errors)" test "$errors" = 0
	# Leak reports of the asan instance with a frame in the plugin.
	leaks=$(python3 - "$LAB_OUT" "$PID_asan" <<-'EOF'
		import glob, re, sys
		n = 0
		for f in glob.glob("%s/asan.%s" % (sys.argv[1], sys.argv[2])):
		    for block in re.split(r"\n(?=(?:Direct|Indirect) leak of)", open(f, errors="replace").read()):
		        if block.startswith(("Direct leak", "Indirect leak")) and "nfs_ebpf" in block:
		            n += 1
		print(n)
	EOF
	)
	check "LeakSanitizer found no leak through the plugin at exit ($leaks)" test "$leaks" = 0
	{
		echo "soak: $n pods started in ${churn}s ($(awk -v n=$n -v s=$churn 'BEGIN {printf "%.1f", n * 60 / (s > 0 ? s : 1)}') a minute, scheduled $PER_MINUTE), the last one's I/O over at ${took}s, $failed failed"
		echo "soak: plain collectd RSS ${rss_warm} KiB after warm-up (${WARMUP} s), ${rss_end} KiB at the end of the churn (growth ${growth} KiB), ${rss_drained} KiB once drained"
		echo "soak: plain collectd RSS from warm-up to the end of the churn: min ${rss_min} KiB, max ${rss_max} KiB"
		echo "soak: collectd CPU during the churn: plain ${cpu_plain} s, asan ${cpu_asan} s (of ${took} s, $(nproc) vCPUs)"
		echo "soak: series in the final scrape: $(grep -c '^collectd_nfs_ebpf_' "$LAB_OUT/metrics-plain.txt"), soak pods in it: $(pods_in "$LAB_OUT/metrics-plain.txt" | grep -c .)"
		echo "soak: plain collectd after the churn: $(internal_stats "$LAB_OUT/metrics-plain.txt")"
		echo "soak: plain collectd once drained: malloc holds ${heap_system} KiB from the system, ${heap_inuse} KiB of it allocated; RSS ${rss_trimmed} KiB after malloc_trim(0)"
		echo "soak: asan instance: $errors errors, $leaks plugin leaks"
	} | tee "$LAB_OUT/figures.txt"
	! grep -q '^not ok' "$LAB_OUT/guest.tap"
}

main "$@"
