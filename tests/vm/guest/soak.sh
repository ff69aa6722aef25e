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
# Writes to /vmout: guest.tap, rss.tsv (seconds, plain KiB, asan KiB),
# figures.txt, collectd-*.log, asan.* (sanitizer reports), metrics-*.txt.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

SECS=${NFS_EBPF_SOAK_SECONDS:-600}
PER_MINUTE=20
RETAIN=60 # RetainEndedSeries: ended pods' series must go, or memory grows
# An ended pod's series leave the scrape after: its cgroup's tombstone
# (identity keeps a removed cgroup's name 5 minutes for late increments;
# its kernel keys retire after that), RetainEndedSeries, and collectd's
# Timeout (20 intervals in the lab's configuration), plus room for slow reads.
DRAINED_AFTER=$((300 + RETAIN + 20 * LAB_INTERVAL + 120))
WAVE=10     # pods created and deleted together
MAX_WAVES=3 # waves alive at once
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
# plugins and its own nfs_ebpf.so), log, port and cgroup.
start_instance() { # NAME PLUGIN_SO PORT [ENV...]
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
	sed -i -e '/LoadPlugin unixsock/d' -e "s|Port \"9103\"|Port \"$port\"|" \
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
	lab_wait 180 "collectd $name serving :$port" lab_scrape /dev/null "$port" || {
		tail -n 20 "$LAB_OUT/collectd-$name.log" "$LAB_OUT/collectd-$name.stdout" || true
		lab_die "collectd $name did not start serving /metrics"
	}
	lab_wait 300 "collectd $name attached to nfsv4" grep -qE \
		'nfs_ebpf plugin: attached [0-9]+ programs to nfsv4 ' "$LAB_OUT/collectd-$name.log" ||
		lab_die "collectd $name did not attach to nfsv4"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# mknode.py rewrites node.json: one change at a time.
node() { flock "$LAB_RUN/node.lock" python3 "$LAB_GUEST_DIR/mknode.py" --node "$LAB_RUN/node.json" "$@"; }

# One wave of pods: WAVE pods created in one mknode call, each one's
# container writes, reads, stats and removes a file on each mount, then the
# wave is deleted in one call (cgroups, then state) and the time its pods
# ended is noted in ended.txt. Waves overlap; one mknode call per wave keeps
# the churn at PER_MINUTE even where python starts slowly (TCG).
pod_io() { # REL N
	lab_in_cgroup "$1" sh -c 'for f; do
			dd if=/dev/zero of="$f" bs=4096 count=16 status=none &&
			cat "$f" >/dev/null && stat "$f" >/dev/null && rm -f "$f" || exit 1
		done' io "/mnt/v3/soak-$2" "/mnt/v4/soak-$2"
}

wave() { # FIRST: pods FIRST .. FIRST+WAVE-1
	local i who rel failed=0 p
	local -a add=() remove=() ios=()
	for ((i = $1; i < $1 + WAVE; i++)); do
		add+=(--add-pod "soak/soak-$i/besteffort/app")
		remove+=(--remove-pod "soak/soak-$i")
	done
	node "${add[@]}" --print-cgroups >"$LAB_RUN/wave-$1.cgroups" || return 1
	while read -r who rel; do
		i=${who#soak/soak-}
		i=${i%/app}
		pod_io "$rel" "$i" &
		ios+=($!)
	done <"$LAB_RUN/wave-$1.cgroups"
	for p in "${ios[@]}"; do wait "$p" || failed=$((failed + 1)); done
	node "${remove[@]}" || return 1
	for ((i = $1; i < $1 + WAVE; i++)); do echo "$i $SECONDS" >>"$LAB_RUN/ended.txt"; done
	echo "wave $1: ${#ios[@]} pods, $failed failed"
	((failed == 0 && ${#ios[@]} == WAVE))
}

alive() { # PID...: how many still run
	local p k=0
	for p; do ! kill -0 "$p" 2>/dev/null || k=$((k + 1)); done
	echo "$k"
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
	start_instance asan "$asan" 9105 LD_PRELOAD="$libasan" \
		ASAN_OPTIONS="log_path=$LAB_OUT/asan:detect_leaks=1:halt_on_error=0:malloc_context_size=20" \
		ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer || true)"
	check "the asan instance runs with AddressSanitizer loaded" \
		grep -q libasan "/proc/$PID_asan/maps"

	local start=$SECONDS n=0 failed=0 next p sampler
	local -a lives=()
	: >"$LAB_RUN/ended.txt"
	# Both instances' RSS every 30 s, from the churn's start.
	printf 'seconds\tplain_kib\tasan_kib\n' >"$LAB_OUT/rss.tsv"
	(
		while :; do
			printf '%d\t%s\t%s\n' $((SECONDS - start)) "$(rss_kib "$PID_plain")" \
				"$(rss_kib "$PID_asan")" >>"$LAB_OUT/rss.tsv"
			sleep 30
		done
	) &
	sampler=$!
	local waves=0
	while ((SECONDS - start < SECS)); do
		next=$((start + (waves + 1) * 60 * WAVE / PER_MINUTE))
		# At most MAX_WAVES alive: a slow VM lowers the rate instead of
		# piling up pods.
		while (($(alive "${lives[@]}") >= MAX_WAVES && SECONDS - start < SECS)); do sleep 0.5; done
		((SECONDS - start < SECS)) || break
		wave "$n" >>"$LAB_OUT/pods.log" 2>&1 &
		lives+=($!)
		n=$((n + WAVE))
		waves=$((waves + 1))
		((SECONDS >= next)) || sleep $((next - SECONDS))
	done
	for p in "${lives[@]}"; do wait "$p" || failed=$((failed + WAVE)); done
	kill "$sampler"
	local took=$((SECONDS - start)) rss_end rss_warm
	rss_end=$(rss_kib "$PID_plain")
	printf '%d\t%s\t%s\n' "$took" "$rss_end" "$(rss_kib "$PID_asan")" >>"$LAB_OUT/rss.tsv"
	# Warm-up: until the first ended pods' series could leave (identity's
	# 5-minute tombstone, RetainEndedSeries, a wave's life): before that,
	# every pod adds live series and RSS must grow. The sample closest after
	# it is the reference; from there on pods end as fast as they start.
	local warm=$((300 + RETAIN + 60))
	((warm < SECS)) || warm=$((SECS / 2))
	rss_warm=$(awk -v w=$warm 'NR > 1 && $1 >= w {print $2; exit}' "$LAB_OUT/rss.tsv")
	check "$n pods lived and did their I/O (waves with a failure: $((failed / WAVE)))" test "$failed" -eq 0
	# The churn the soak promises: PER_MINUTE pods a minute, within a
	# tenth (the last wave may start just before the end).
	check "pods churned at $((n * 60 / SECS)) a minute over ${SECS}s (at least $((PER_MINUTE * 9 / 10)))" \
		test $((n * 60 / SECS)) -ge $((PER_MINUTE * 9 / 10))
	check "both collectd instances still running after ${took}s of churn" \
		kill -0 "$PID_plain" "$PID_asan"

	# The last pods' reads are out after two intervals; lost events and the
	# ended pods' series are read from the plain instance.
	sleep $((3 * LAB_INTERVAL))
	lab_scrape "$LAB_OUT/metrics-plain.txt" 9103 || lab_die "scrape of :9103 failed"
	lab_scrape "$LAB_OUT/metrics-asan.txt" 9105 || lab_die "scrape of :9105 failed"
	local lost left
	lost=$(awk '/^collectd_nfs_ebpf_derive_total\{/ {s += $2} END {print s + 0}' "$LAB_OUT/metrics-plain.txt")
	check "no lost events over the soak (sum $lost)" test "$lost" = 0
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
	local rss_drained
	rss_drained=$(rss_kib "$PID_plain")
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
		echo "soak: $n pods in ${took}s ($((n * 60 / (took > 0 ? took : 1))) a minute), $failed failed"
		echo "soak: plain collectd RSS ${rss_warm} KiB after the warm-up (${warm}s), ${rss_end} KiB at the end of the churn (growth ${growth} KiB), ${rss_drained} KiB once drained"
		echo "soak: series in the final scrape: $(grep -c '^collectd_nfs_ebpf_' "$LAB_OUT/metrics-plain.txt"), soak pods in it: $(pods_in "$LAB_OUT/metrics-plain.txt" | grep -c .)"
		echo "soak: asan instance: $errors errors, $leaks plugin leaks"
	} | tee "$LAB_OUT/figures.txt"
	! grep -q '^not ok' "$LAB_OUT/guest.tap"
}

main "$@"
