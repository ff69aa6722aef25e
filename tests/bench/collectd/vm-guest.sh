#!/bin/bash
# The collectd benchmark inside one lab VM (started by vm.sh through
# tests/vm/run-vm.sh; see vm.sh for what it measures and why).
#
#   vm-guest.sh --bin DIR --plugin SO [--baseline SO] --pods N
#               --interval SECONDS --fill-max SECONDS --steady INTERVALS
#               [--outputs "write_prometheus network"]
#
# One boot: knfsd with four exports, each mounted (NFSv3), N pods on a
# kubelet-style node, each pod a process of pods.c doing open, write, read,
# getattr and close on each mount every interval: N x 4 x 5 real keys in
# the plugin's kernel maps. Then, for each plugin (the build, and the
# baseline if given) and each output (write_prometheus, network), a fresh
# collectd runs the plugin:
#   fill    from collectd's start until every (pod, mount, op) series is
#           visible (write_prometheus' page; for network, a receiving
#           collectd's unixsock LISTVAL: a receiver with write_prometheus
#           would take as long to fill as the sender did), at most FILL_MAX
#           seconds;
#   steady  STEADY intervals after that (with write_prometheus a scrape
#           every 30 s, as a Prometheus would do): the sending collectd's
#           CPU time (user + system, all its threads) per second of wall
#           time, its RSS, and its own write queue and dropped values
#           (CollectInternalStats, through the page or the receiver).
# Writes to /vmout: results.tsv, collectd-*.log, receiver-*.log, pods.err,
# scrape-*.txt (the last page of each phase), info.txt.
set -euo pipefail
# shellcheck source=../../vm/guest/lib.sh
source "$NFS_EBPF_REPO/tests/vm/guest/lib.sh"

BIN="" PLUGIN="" BASELINE="" PODS=250 INTERVAL=10 FILL_MAX=600 STEADY=12
OUTPUTS="write_prometheus network"
MOUNTS=4
OPS=5 # open, write, read, getattr, close: what pods.c does per mount

parse_args() {
	lab_options "BIN PLUGIN BASELINE PODS INTERVAL FILL_MAX STEADY OUTPUTS" "$@"
	[[ -x $BIN/pods ]] || lab_die "pods binary missing in '$BIN'"
	[[ -f $PLUGIN ]] || lab_die "plugin '$PLUGIN' missing"
	[[ -z $BASELINE || -f $BASELINE ]] || lab_die "baseline plugin '$BASELINE' missing"
}

# Four more exports of their own (a series is per server and export, so
# four mounts of one export would be one series), NFSv3 mounts of each.
bench_mounts() {
	local i d
	for ((i = 0; i < MOUNTS; i++)); do
		d=$LAB_EXPORT_DIR/b$i
		mkdir -p "$d" "/mnt/b$i"
		mount -t tmpfs -o mode=0777 tmpfs "$d"
		echo "$d 127.0.0.0/8(rw,no_root_squash,insecure,no_subtree_check,async,fsid=$((10 + i)))" >>/etc/exports
	done
	exportfs -ra || lab_die "exportfs failed"
	for ((i = 0; i < MOUNTS; i++)); do
		timeout 180 mount -t nfs -o vers=3,nolock "$LAB_V3_SERVER:$LAB_EXPORT_DIR/b$i" "/mnt/b$i" ||
			lab_die "NFS did not mount b$i"
	done
	lab_log "mounted: $(awk '$5 ~ /^\/mnt\/b/ {print $3, $5}' /proc/self/mountinfo | tr '\n' ';')"
}

# The pods on the node, and pods.c in their cgroups.
PODS_PID=""
bench_pods() {
	local args=() i rel h line
	for ((i = 0; i < PODS; i++)); do args+=(--add-pod "bench/pod-$i/besteffort/app"); done
	python3 "$LAB_GUEST_DIR/mknode.py" --node "$LAB_RUN/node.json" "${args[@]}" --print-cgroups \
		>"$LAB_RUN/pods.cgroups" || lab_die "cannot add $PODS pods to the node"
	: >"$LAB_RUN/pods.in"
	while read -r _ rel; do
		line=""
		for h in $LAB_CGROUP_HIERS; do
			# crun's "container" leaf exists in cgroup2 only (lab_in_cgroup)
			if [[ -d $h/$rel ]]; then line+=" $h/$rel"; else line+=" $h/${rel%/container}"; fi
		done
		echo "${line# }" >>"$LAB_RUN/pods.in"
	done <"$LAB_RUN/pods.cgroups"
	[[ $(wc -l <"$LAB_RUN/pods.in") == "$PODS" ]] || lab_die "expected $PODS pod cgroups"
	local dirs=()
	for ((i = 0; i < MOUNTS; i++)); do dirs+=("/mnt/b$i"); done
	setsid "$BIN/pods" "$INTERVAL" "${dirs[@]}" <"$LAB_RUN/pods.in" \
		>"$LAB_RUN/pods.out" 2>"$LAB_OUT/pods.err" &
	PODS_PID=$!
	lab_wait 1800 "pods' first round" grep -q '^ready' "$LAB_RUN/pods.out" ||
		lab_die "pods did not finish their first round"
	grep -qx "ready $PODS" "$LAB_RUN/pods.out" ||
		lab_die "only $(cat "$LAB_RUN/pods.out") of $PODS pods did their first round (pods.err)"
	lab_log "$PODS pods busy on $MOUNTS mounts, a round every ${INTERVAL}s"
}

scrape() { # FILE PORT: a slow page under TCG is still a page
	curl -sf -m 300 -o "$1" "http://127.0.0.1:$2/metrics"
}

# (pod, mount, op) series of the bench pods in a page: their _count lines.
series_in() {
	grep -cE '^collectd_nfs_ebpf_operations_total\{nfs_ebpf="bench_pod-[0-9]+_app"' "$1" || true
}

cpu_ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# The answer of a collectd's unixsock to one command: its status line
# ("N Values found", negative N an error) and the N lines that follow.
sock_cmd() { # SOCKET COMMAND
	python3 - "$1" "$2" <<-'EOF'
		import socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.settimeout(300)
		s.connect(sys.argv[1])
		f = s.makefile("rw")
		f.write(sys.argv[2] + "\n")
		f.flush()
		head = f.readline()
		print(head, end="")
		for _ in range(max(int(head.split()[0]), 0)):
		    print(f.readline(), end="")
	EOF
}

# The same series as series_in, among the values a receiver holds.
series_in_receiver() { # SOCKET
	sock_cmd "$1" LISTVAL | grep -cE ' bench-node/nfs_ebpf-bench_pod-[0-9]+_app/operations-' || true
}

# The sender's write queue and dropped values, as its CollectInternalStats
# values reached the receiver.
queue_stats_receiver() { # SOCKET
	local q d
	q=$(sock_cmd "$1" "GETVAL bench-node/collectd-write_queue/queue_length" | sed -n 's/^value=//p')
	d=$(sock_cmd "$1" "GETVAL bench-node/collectd-write_queue/derive-dropped" | sed -n 's/^value=//p')
	# GETVAL answers in %e; a value not there yet is "?", as in queue_stats.
	[[ -z $q ]] || q=$(printf '%.0f' "$q")
	[[ -z $d ]] || d=$(printf '%.0f' "$d")
	echo "${q:-?} ${d:-?}"
}

# collectd's write queue and dropped values, as CollectInternalStats
# reports them for HOST.
queue_stats() { # PAGE HOST
	awk -v host="$2" '$0 ~ "instance=\"" host "\"" {
		if ($0 ~ /^collectd_collectd_queue_length\{.*write_queue/) q = $2
		if ($0 ~ /^collectd_collectd_derive_total\{.*write_queue.*dropped/) d = $2
	} END {printf "%s %s\n", (q == "" ? "?" : q), (d == "" ? "?" : d)}' "$1"
}

# A collectd of its own: its PluginDir holds copies of the stock plugins it
# loads and of the nfs_ebpf.so under test (collectd loads regular files
# only). The background job is collectd itself, so PID_OF is its pid.
start_collectd() { # NAME CONF_BODY
	local name=$1 dir=$LAB_RUN/plugins-$1 conf=$LAB_RUN/collectd-$1.conf
	mkdir -p "$dir" "$LAB_CGROUP_ROOT/system.slice/collectd-$name.service"
	cp /usr/lib/collectd/{logfile,write_prometheus,network,unixsock}.so "$dir/"
	cat >"$conf" <<-EOF
		FQDNLookup false
		Interval $INTERVAL
		BaseDir "/run/collectd"
		PIDFile "/run/collectd/collectd-$name.pid"
		PluginDir "$dir"
		LoadPlugin logfile
		<Plugin logfile>
		  LogLevel info
		  File "$LAB_OUT/collectd-$name.log"
		  Timestamp true
		  PrintSeverity true
		</Plugin>
		$2
	EOF
	mkdir -p /run/collectd
	: >"$LAB_OUT/collectd-$name.log"
	(
		for h in $LAB_CGROUP_HIERS; do
			mkdir -p "$h/system.slice/collectd-$name.service"
			echo "$BASHPID" >"$h/system.slice/collectd-$name.service/cgroup.procs" || exit 125
		done
		exec /usr/sbin/collectd -C "$conf" -f
	) >"$LAB_OUT/collectd-$name.stdout" 2>&1 &
	PID_OF=$!
}

# A collectd far behind writes its whole queue out before it exits: after
# 60 s it is killed (the next phase needs the CPU, not those values).
stop_collectd() { # PID
	kill "$1" 2>/dev/null || true
	lab_wait 60 "collectd $1 to exit" bash -c "! kill -0 $1" || kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# One phase: LABEL (build|baseline), SO, OUTPUT (write_prometheus|network).
phase() {
	local label=$1 so=$2 output=$3 name=$1-$3 port="" pid receiver="" expected
	local sock=/run/collectd/receiver-$label.sock
	expected=$((PODS * MOUNTS * OPS))
	if [[ $output == network ]]; then
		# The receiver: its own collectd, the stock types and nfs_ebpf's,
		# values kept in its cache and read through its unixsock.
		rm -f "$sock"
		start_collectd "receiver-$label" "Hostname \"bench-receiver\"
TypesDB \"/usr/share/collectd/types.db\" \"$NFS_EBPF_REPO/collectd.conf.d/nfs_ebpf-types.db\"
LoadPlugin network
<Plugin network>
  Listen \"127.0.0.1\" \"25826\"
</Plugin>
LoadPlugin unixsock
<Plugin unixsock>
  SocketFile \"$sock\"
</Plugin>"
		receiver=$PID_OF
		lab_wait 120 "receiver's unixsock" sock_cmd "$sock" LISTVAL || lab_die "receiver did not start"
		out_conf="LoadPlugin network
<Plugin network>
  Server \"127.0.0.1\" \"25826\"
</Plugin>"
	else
		port=9103
		out_conf="LoadPlugin write_prometheus
<Plugin write_prometheus>
  Host \"127.0.0.1\"
  Port \"9103\"
</Plugin>"
	fi
	mkdir -p "$LAB_RUN/plugins-$name"
	cp "$so" "$LAB_RUN/plugins-$name/nfs_ebpf.so"
	start_collectd "$name" "Hostname \"bench-node\"
TypesDB \"/usr/share/collectd/types.db\"
CollectInternalStats true
LoadPlugin nfs_ebpf
<Plugin nfs_ebpf>
  AttachMode \"auto\"
</Plugin>
$out_conf"
	pid=$PID_OF
	local t0=$SECONDS cpu0 hz seen=0 filled=""
	cpu0=$(cpu_ticks "$pid")
	hz=$(getconf CLK_TCK)
	lab_wait 600 "$name: plugin ready" grep -q 'nfs_ebpf plugin: ready' "$LAB_OUT/collectd-$name.log" ||
		lab_die "$name: the plugin did not start"
	while ((SECONDS - t0 < FILL_MAX)); do
		sleep 5
		kill -0 "$pid" 2>/dev/null || lab_die "$name: collectd exited"
		if [[ -n $receiver ]]; then
			seen=$(series_in_receiver "$sock")
		else
			scrape "$LAB_RUN/page" "$port" || continue
			seen=$(series_in "$LAB_RUN/page")
		fi
		if ((seen >= expected)); then
			filled=$((SECONDS - t0))
			break
		fi
	done
	local fill_cpu=$((($(cpu_ticks "$pid") - cpu0) / hz))
	lab_log "$name: ${filled:-not} filled ($seen of $expected series after $((SECONDS - t0)) s, ${fill_cpu} s CPU)"

	# Steady: STEADY intervals, a scrape every 30 s (write_prometheus).
	local s0 c0 steady_s cpu_pct rss q d warnings page=$LAB_OUT/scrape-$name.txt
	s0=$(date +%s.%N) c0=$(cpu_ticks "$pid")
	local until=$((SECONDS + STEADY * INTERVAL))
	while ((SECONDS < until)); do
		sleep $((until - SECONDS < 30 ? until - SECONDS : 30))
		[[ -n $receiver ]] || scrape "$page" "$port" || true
	done
	steady_s=$(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
	cpu_pct=$(awk -v t=$(($(cpu_ticks "$pid") - c0)) -v hz="$hz" -v s="$steady_s" \
		'BEGIN {printf "%.1f", 100 * t / hz / s}')
	rss=$(($(rss_kib "$pid") / 1024))
	if [[ -n $receiver ]]; then
		seen=$(series_in_receiver "$sock")
		read -r q d < <(queue_stats_receiver "$sock")
	else
		seen=$(series_in "$page")
		read -r q d < <(queue_stats "$page" bench-node)
	fi
	warnings=$(grep -cE 'Low water mark|read-function of plugin .nfs_ebpf. took|took longer than the interval' \
		"$LAB_OUT/collectd-$name.log" || true)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$output" "$expected" \
		"${filled:-not in $FILL_MAX}" "$fill_cpu" "$seen" "$cpu_pct" "$rss" "$q" "$d" "$warnings" \
		>>"$LAB_OUT/results.tsv"
	lab_log "$name: steady ${steady_s%.*} s: collectd ${cpu_pct} % of a core, RSS ${rss} MiB," \
		"$seen series, write queue $q, dropped $d, $warnings warnings"
	stop_collectd "$pid"
	[[ -z $receiver ]] || stop_collectd "$receiver"
	lab_wait 120 "nfs_ebpf programs to go" bash -c '! bpftool prog show 2>/dev/null | grep -qE " name (fentry|fexit|kprobe|kretprobe)_nfs"' ||
		lab_die "$name: nfs_ebpf programs still loaded after collectd stopped"
}

main() {
	parse_args "$@"
	lab_base
	lab_nfs_server
	lab_node
	modprobe nfs || lab_die "cannot load nfs"
	bench_mounts
	bench_pods
	{
		echo "kernel $(uname -r), $(nproc) vCPUs, pods $PODS, mounts $MOUNTS, interval $INTERVAL s"
		echo "plugin $PLUGIN${BASELINE:+, baseline $BASELINE}"
		/usr/sbin/collectd -h 2>&1 | head -n 1
	} >"$LAB_OUT/info.txt"
	printf 'plugin\toutput\tseries_wanted\tfill_s\tfill_cpu_s\tseries_seen\tsteady_cpu_pct\trss_mib\twrite_queue\tdropped\twarnings\n' \
		>"$LAB_OUT/results.tsv"
	local label so output
	for label in build ${BASELINE:+baseline}; do
		so=$PLUGIN
		[[ $label == build ]] || so=$BASELINE
		for output in $OUTPUTS; do
			phase "$label" "$so" "$output"
		done
	done
	kill -- -"$PODS_PID" 2>/dev/null || true
	lab_log "done"
}

main "$@"
