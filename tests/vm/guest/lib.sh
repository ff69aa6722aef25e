# shellcheck shell=bash
# Common guest set-up for the VM lab, sourced by the guest scripts (which
# run as PID 1's child inside run-vm.sh's VM, as root, with the host's /
# under a tmpfs overlay and /vmout shared with the host).
#
# Every step either works or stops the script with a clear "lab: ..." line:
# a lab that cannot bring up NFS, BPF or cgroups fails, it never skips.

LAB_GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_RUN=/run/nfs_ebpf-lab
LAB_OUT=${LAB_OUT:-/vmout}
# NFS layout: v3 mounts talk to 127.0.0.1, v4.2 mounts to 127.0.0.2, so the
# two protocol versions end up as different server labels in the output.
LAB_V3_SERVER=127.0.0.1
LAB_V4_SERVER=127.0.0.2

# Each line ends with the seconds since the guest script started, so a slow
# cell shows where its time went.
lab_log() { echo "lab: $* (+${SECONDS}s)"; }

# The guest's own checks, as TAP lines in $LAB_OUT/guest.tap (lab.sh
# renumbers them across the matrix).
TAP_N=0
tap() { # tap OK|FAIL text
	TAP_N=$((TAP_N + 1))
	if [[ $1 == OK ]]; then
		echo "ok $TAP_N - $2" | tee -a "$LAB_OUT/guest.tap"
	else
		echo "not ok $TAP_N - $2" | tee -a "$LAB_OUT/guest.tap"
	fi
}
# lab_retap FILE [PREFIX]: a checker's TAP lines (FILE) into guest.tap,
# renumbered, each text after PREFIX; its comment lines to stdout. Fails
# when FILE holds no result line (the checker did not run).
lab_retap() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok "*) tap OK "${2:-}${line#ok * - }" ;;
		"not ok "*) tap FAIL "${2:-}${line#not ok * - }" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$1"
	grep -qE '^(not )?ok ' "$1"
}
lab_die() {
	echo "lab: FAILED: $*"
	exit 1
}
# lab_options "VAR ..." ARGS...: sets each listed variable from its option,
# named after it in lower case with - for _ (FILL_MAX: --fill-max VALUE).
# Any other argument, or an option without its value, ends the script.
lab_options() {
	local vars=" $1 " var
	shift
	while [[ $# -gt 0 ]]; do
		var=${1#--}
		var=${var//-/_}
		var=${var^^}
		[[ $1 == --?* && $vars == *" $var "* ]] || lab_die "unknown argument $1"
		[[ $# -ge 2 ]] || lab_die "$1 needs a value"
		printf -v "$var" '%s' "$2"
		shift 2
	done
}

# Poll CMD... every 0.2 s until it succeeds or SECONDS_MAX pass.
# Usage: lab_wait SECONDS_MAX WHAT CMD...
lab_wait() {
	local max=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + max))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			lab_log "timed out after ${max}s waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# ---- base file systems ---------------------------------------------------

# Cgroup layout of the node (NFS_EBPF_VM_CGROUP):
#   v2      cgroup2 at /sys/fs/cgroup (systemd's unified layout)
#   hybrid  tmpfs at /sys/fs/cgroup, v1 controllers below it (memory, pids,
#           cpuset, cpu,cpuacct, name=systemd) and cgroup2 at
#           /sys/fs/cgroup/unified (systemd's hybrid layout)
#   v1      the same without any cgroup2 mount (legacy layout)
# LAB_CGROUP_HIERS lists every hierarchy's root; lab_in_cgroup places a
# process in the same path in each, as runc does. LAB_CGROUP_ROOT is the
# one the plugin resolves ids against (cgroup2; on v1 the memory
# controller, else pids: kernels without CONFIG_MEMCG_V1 have no v1
# memory controller).
lab_mount_v1() {
	local c dir mounted=()
	mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup || lab_die "cannot mount tmpfs on /sys/fs/cgroup"
	for c in memory pids cpuset cpu,cpuacct; do
		dir=/sys/fs/cgroup/$c
		mkdir -p "$dir"
		if mount -t cgroup -o "$c" cgroup "$dir" 2>/dev/null; then
			mounted+=("$dir")
		else
			rmdir "$dir"
			lab_log "v1 controller $c cannot be mounted on $(uname -r) (not built for v1)"
		fi
	done
	[[ ! -d /sys/fs/cgroup/cpu,cpuacct ]] || { ln -s cpu,cpuacct /sys/fs/cgroup/cpu; ln -s cpu,cpuacct /sys/fs/cgroup/cpuacct; }
	mkdir -p /sys/fs/cgroup/systemd
	mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd ||
		lab_die "cannot mount the name=systemd v1 hierarchy"
	mounted+=(/sys/fs/cgroup/systemd)
	LAB_CGROUP_HIERS="${mounted[*]}"
	if [[ -d /sys/fs/cgroup/memory ]]; then
		LAB_CGROUP_V1_ID=/sys/fs/cgroup/memory
	elif [[ -d /sys/fs/cgroup/pids ]]; then
		LAB_CGROUP_V1_ID=/sys/fs/cgroup/pids
	else
		lab_die "neither the memory nor the pids v1 controller could be mounted"
	fi
}

lab_mount_cgroup() {
	local layout=${NFS_EBPF_VM_CGROUP:-v2}
	case $layout in
	v2)
		mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup ||
			lab_die "cannot mount cgroup2 on /sys/fs/cgroup"
		LAB_CGROUP_ROOT=/sys/fs/cgroup
		LAB_CGROUP_HIERS=$LAB_CGROUP_ROOT
		;;
	hybrid)
		lab_mount_v1
		[[ -d /sys/fs/cgroup/memory ]] || lab_die "hybrid layout needs the v1 memory controller"
		mkdir -p /sys/fs/cgroup/unified
		mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup/unified ||
			lab_die "cannot mount cgroup2 on /sys/fs/cgroup/unified"
		LAB_CGROUP_ROOT=/sys/fs/cgroup/unified
		LAB_CGROUP_HIERS="$LAB_CGROUP_ROOT $LAB_CGROUP_HIERS"
		;;
	v1)
		lab_mount_v1
		LAB_CGROUP_ROOT=$LAB_CGROUP_V1_ID
		LAB_CGROUP_HIERS="$LAB_CGROUP_ROOT ${LAB_CGROUP_HIERS//$LAB_CGROUP_ROOT/}"
		;;
	*) lab_die "unknown cgroup layout '$layout' (NFS_EBPF_VM_CGROUP)" ;;
	esac
	export LAB_CGROUP_ROOT LAB_CGROUP_HIERS
	lab_log "cgroup hierarchies: $LAB_CGROUP_HIERS"
}

lab_base() {
	mount -t tmpfs -o mode=0755 tmpfs /run || lab_die "cannot mount /run"
	# Scripts here use <(...), which needs /dev/fd (initramfs-init links it).
	[[ "$(cat <(echo fd))" == fd ]] || lab_die "no /dev/fd: process substitution fails"
	mkdir -p "$LAB_RUN" /run/lock
	# No tmpfs on /tmp: the root overlay is already writable, and a fresh
	# /tmp would hide a repository cloned under the host's /tmp (CI may).
	mount -t tracefs tracefs /sys/kernel/tracing || lab_die "cannot mount tracefs"
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
	mount -t bpf bpf /sys/fs/bpf || lab_die "cannot mount bpffs"
	lab_mount_cgroup
	ip link set lo up || lab_die "cannot bring lo up"
	# write_prometheus resolves its bind address with AI_ADDRCONFIG, which
	# finds nothing on a host with loopback addresses only: give lo one
	# documentation-range address so IPv4 counts as configured.
	ip addr add 192.0.2.1/32 dev lo || lab_die "cannot add an address to lo"
	# /etc comes from the host: the guest's own name and exports live in
	# the overlay and never reach the host.
	echo nfs-ebpf-vm >/etc/hostname
	printf '127.0.0.1 localhost nfs-ebpf-vm\n' >/etc/hosts
	[[ -r /sys/kernel/btf/vmlinux ]] || lab_die "kernel has no /sys/kernel/btf/vmlinux"
	lab_log "base ready: kernel $(uname -r), cgroup ${NFS_EBPF_VM_CGROUP:-v2}"
}

# ---- NFS server ----------------------------------------------------------

# knfsd with two exports on tmpfs (which needs explicit fsids):
# $LAB_EXPORT_DIR/export (rw) and $LAB_EXPORT_DIR/export-ro (read-only, to
# provoke EROFS), below an NFSv4 pseudo root (fsid=0) at $LAB_EXPORT_DIR.
# v3 mounts name the full path, v4 mounts the path below the pseudo root:
# 127.0.0.1:/srv/nfs/export and 127.0.0.2:/export.
LAB_EXPORT_DIR=/srv/nfs
lab_nfs_server() {
	local d=$LAB_EXPORT_DIR
	modprobe nfsd || lab_die "modprobe nfsd failed"
	mount -t nfsd nfsd /proc/fs/nfsd || lab_die "cannot mount /proc/fs/nfsd"
	mkdir -p "$d" /var/lib/nfs/v4recovery
	mount -t tmpfs -o mode=0755 tmpfs "$d"
	mkdir -p "$d/export" "$d/export-ro"
	mount -t tmpfs -o mode=0777 tmpfs "$d/export"
	mount -t tmpfs -o mode=0777 tmpfs "$d/export-ro"
	# Content the read-only export serves: a file to read and to try chmod on.
	head -c 65536 /dev/zero | tr '\0' 'r' >"$d/export-ro/data"
	mkdir -p "$d/export-ro/dir"
	: >/var/lib/nfs/etab
	: >/var/lib/nfs/rmtab
	cat >/etc/exports <<-EOF
		$d 127.0.0.0/8(ro,fsid=0,insecure,no_subtree_check)
		$d/export 127.0.0.0/8(rw,no_root_squash,insecure,no_subtree_check,sync,fsid=1)
		$d/export-ro 127.0.0.0/8(ro,no_root_squash,insecure,no_subtree_check,sync,fsid=2)
	EOF
	rpcbind -w || lab_die "rpcbind failed"
	exportfs -ra || lab_die "exportfs failed"
	rpc.mountd || lab_die "rpc.mountd failed"
	rpc.nfsd 4 || lab_die "rpc.nfsd failed"
	lab_wait 30 "nfsd threads" grep -qv '^0$' /proc/fs/nfsd/threads ||
		lab_die "knfsd did not start"
	lab_log "knfsd up: $(tr '\n' ' ' </proc/fs/nfsd/versions)"
}

# ---- NFS client mounts ---------------------------------------------------

# File system type of the mount at $1, from mountinfo (field after " - ").
lab_fstype() {
	awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1); exit } }' \
		/proc/self/mountinfo
}

# lab_mount v3|v4: mounts /export and /export-ro with that protocol version
# on /mnt/<ver> and /mnt/<ver>-ro (the first mount loads the nfs modules).
lab_mount() {
	local ver=$1 opts server
	local base
	case $ver in
	v3) opts=vers=3,nolock server=$LAB_V3_SERVER base=$LAB_EXPORT_DIR ;;
	v4) opts=vers=4.2 server=$LAB_V4_SERVER base="" ;;
	*) lab_die "lab_mount: unknown version $ver" ;;
	esac
	mkdir -p "/mnt/$ver" "/mnt/$ver-ro"
	# Bounded: a hard NFS mount that cannot reach the server would hang.
	timeout 180 mount -t nfs -o "$opts" "$server:$base/export" "/mnt/$ver" ||
		lab_die "NFS did not mount: $server:$base/export ($opts)"
	timeout 180 mount -t nfs -o "$opts" "$server:$base/export-ro" "/mnt/$ver-ro" ||
		lab_die "NFS did not mount: $server:$base/export-ro ($opts)"
	[[ $(lab_fstype "/mnt/$ver") == nfs* ]] ||
		lab_die "/mnt/$ver is not an NFS mount after mount"
	[[ -r /mnt/$ver-ro/data ]] || lab_die "/mnt/$ver-ro/data not readable over NFS"
	lab_log "mounted $ver: $(awk -v m="/mnt/$ver" '$5==m {print $0}' /proc/self/mountinfo | sed 's/.* - //')"
}

# ---- Kubernetes node -------------------------------------------------------

# Kubelet-style cgroup tree and containerd state dir; writes
# $LAB_RUN/node.json (pods, containers, cgroup paths) for the helpers.
lab_node() {
	local roots=() h
	for h in $LAB_CGROUP_HIERS; do roots+=(--cgroup-root "$h"); done
	python3 "$LAB_GUEST_DIR/mknode.py" "${roots[@]}" \
		--runtime "${NFS_EBPF_VM_RUNTIME:-containerd}" --driver "${NFS_EBPF_VM_DRIVER:-systemd}" \
		--out "$LAB_RUN/node.json" ||
		lab_die "cannot lay out the Kubernetes node"
	for h in $LAB_CGROUP_HIERS; do
		mkdir -p "$h/system.slice/collectd.service" "$h/system.slice/nfs-backup.service" \
			"$h/system.slice/collectd-ds.service"
	done
	lab_log "node laid out (${NFS_EBPF_VM_RUNTIME:-containerd}, ${NFS_EBPF_VM_DRIVER:-systemd} driver): $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join(p["namespace"]+"/"+p["name"] for p in d["pods"]))' "$LAB_RUN/node.json")"
}

# lab_in_cgroup CGROUP_REL CMD...: run CMD inside that cgroup (relative to
# each hierarchy's root) in every hierarchy. The subshell moves itself,
# then execs, so CMD and its children are the cgroup's from their first
# instruction. crun's "container" leaf exists in cgroup2 only: in a v1
# hierarchy the process stays in its parent, as with crun.
lab_in_cgroup() {
	local rel=$1
	shift
	[[ -d $LAB_CGROUP_ROOT/$rel || -d $LAB_CGROUP_ROOT/${rel%/container} ]] ||
		lab_die "no cgroup $rel"
	(
		for h in $LAB_CGROUP_HIERS; do
			r=$rel
			[[ -d $h/$r || $r != */container ]] || r=${r%/container}
			echo "$BASHPID" >"$h/$r/cgroup.procs" || exit 125
		done
		exec "$@"
	)
}

# lab_in_pod NAMESPACE/POD/CONTAINER CMD...
lab_in_pod() {
	local who=$1 rel
	shift
	rel=$(python3 "$LAB_GUEST_DIR/mknode.py" --node "$LAB_RUN/node.json" --cgroup-of "$who") ||
		lab_die "no container $who on this node"
	lab_in_cgroup "$rel" "$@"
}

# ---- collectd --------------------------------------------------------------

# lab_wire_set MODE: the wire level's program set for an AttachMode, as its
# attach line names it (src/probe/wire.c).
lab_wire_set() { if [[ $1 == kprobe ]]; then echo raw_tp/kprobe; else echo tp_btf/fentry; fi; }

# collectd's interval in the lab. Under qemu TCG one read of a few hundred
# values can take longer than a second; write_prometheus drops series not
# updated within Timeout intervals, so a short interval makes whole series
# flicker in and out of the scrape. 3 s with Timeout 20 keeps them steady.
LAB_INTERVAL=3

# lab_collectd_conf FILE [EXTRA_CONF_FILE]: Interval $LAB_INTERVAL, logfile
# (info) into $LAB_OUT/collectd.log, write_prometheus on 9103, unixsock at
# its default socket, plus EXTRA_CONF_FILE.
lab_collectd_conf() {
	local conf=$1 extra=${2:-}
	mkdir -p /run/collectd
	cat >"$conf" <<-EOF
		Hostname "nfs-ebpf-vm"
		FQDNLookup false
		Interval $LAB_INTERVAL
		Timeout 20
		BaseDir "/run/collectd"
		PIDFile "/run/collectd/collectd.pid"
		PluginDir "/usr/lib/collectd"
		TypesDB "/usr/share/collectd/types.db"
		LoadPlugin logfile
		<Plugin logfile>
		  LogLevel info
		  File "$LAB_OUT/collectd.log"
		  Timestamp true
		  PrintSeverity true
		</Plugin>
		LoadPlugin write_prometheus
		<Plugin write_prometheus>
		  # The guest has no IPv6 on lo: the default [::] bind fails.
		  Host "127.0.0.1"
		  Port "9103"
		</Plugin>
		# nfs-ebpf-top reads it at its default SocketFile (none given here,
		# so the test proves the two defaults agree).
		LoadPlugin unixsock
	EOF
	[[ -z $extra ]] || cat "$extra" >>"$conf"
}

# lab_collectd_start CONF: start the host's collectd in its own cgroup and
# wait until it serves /metrics.
lab_collectd_start() {
	local conf=$1
	[[ -x /usr/sbin/collectd ]] || lab_die "/usr/sbin/collectd missing (apt-get install collectd-core)"
	# The logfile plugin appends: start from an empty log so stale lines of
	# an earlier run in the same OUTDIR can never satisfy a wait.
	: >"$LAB_OUT/collectd.log"
	if [[ -n ${LAB_COLLECTD_PID:-} ]] && lab_alive "$LAB_COLLECTD_PID"; then
		lab_die "collectd (pid $LAB_COLLECTD_PID) still runs: it would answer the scrapes"
	fi
	lab_in_cgroup system.slice/collectd.service /usr/sbin/collectd -C "$conf" -f \
		>"$LAB_OUT/collectd.stdout" 2>&1 &
	# $! is the shell that runs lab_in_cgroup; collectd is the subshell
	# inside it that exec'd, its child. Signals must go to collectd itself.
	LAB_COLLECTD_WRAPPER=$! LAB_COLLECTD_PID=
	local deadline=$((SECONDS + 120)) why=""
	until [[ -n $LAB_COLLECTD_PID ]] && lab_scrape /dev/null 2>/dev/null; do
		[[ -n $LAB_COLLECTD_PID ]] || LAB_COLLECTD_PID=$(lab_child_of "$LAB_COLLECTD_WRAPPER" collectd)
		if ! lab_alive "$LAB_COLLECTD_WRAPPER"; then
			why="collectd exited"
		elif grep -qE 'Initialization of plugin .write_prometheus. failed' "$LAB_OUT/collectd.log" 2>/dev/null; then
			why="write_prometheus failed to initialise"
		elif ((SECONDS >= deadline)); then
			why="not serving after 120s"
		fi
		if [[ -n $why ]]; then
			tail -n 20 "$LAB_OUT/collectd.log" "$LAB_OUT/collectd.stdout" 2>/dev/null || true
			lab_die "collectd did not start serving /metrics: $why"
		fi
		sleep 0.2
	done
	lab_log "collectd running (pid $LAB_COLLECTD_PID)"
}

# lab_alive PID: PID runs (a zombie, exited and not yet waited for, does not).
lab_alive() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	[[ ${stat##*) } != Z* ]]
}

# lab_child_of PID COMM: the pid of PID's child whose command is COMM.
# (Builtins only: a fork per process would take minutes in a loaded TCG VM.)
lab_child_of() {
	local f stat
	for f in /proc/[0-9]*/stat; do
		read -r stat 2>/dev/null <"$f" || continue
		[[ ${stat#* (} == "$2) "* ]] || continue
		stat=${stat##*) }
		stat=${stat#* }
		[[ ${stat%% *} == "$1" ]] || continue
		f=${f#/proc/}
		echo "${f%/stat}"
		return 0
	done
	return 0 # not (yet) there: nothing printed
}

# lab_prog_skips [NAME...]: how often the kernel skipped programs (the sum
# of their recursion_misses): of the programs NAMEd, or of every fentry,
# fexit, kprobe and kretprobe program loaded. Each such call is a
# missed_entry or missed_return.
lab_prog_skips() {
	bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
names = sys.argv[1:]
def counted(name):
    if names:
        return name in names
    return name.startswith(("fentry_", "fexit_", "kprobe_", "kretprobe_"))
print(sum(p.get("recursion_misses", 0) for p in json.load(sys.stdin)
          if counted(p.get("name", ""))))' "$@"
}

# lab_collectd_stop: SIGTERM to collectd, and wait until it is gone (its
# shutdown detaches the programs), so a following start is a real restart.
lab_collectd_stop() {
	[[ -n ${LAB_COLLECTD_WRAPPER:-} ]] || return 0
	[[ -z ${LAB_COLLECTD_PID:-} ]] || kill "$LAB_COLLECTD_PID" 2>/dev/null || true
	lab_wait 60 "collectd to exit" eval "! lab_alive $LAB_COLLECTD_WRAPPER" ||
		lab_die "collectd (pid ${LAB_COLLECTD_PID:-?}) did not exit on SIGTERM"
	wait "$LAB_COLLECTD_WRAPPER" 2>/dev/null || true
	LAB_COLLECTD_WRAPPER= LAB_COLLECTD_PID=
}

# lab_scrape FILE [PORT]: one scrape of write_prometheus (default port
# 9103) into FILE. (Debian's static busybox wget segfaults on this
# endpoint; curl, else python.)
lab_scrape() {
	local port=${2:-9103}
	if command -v curl >/dev/null; then
		curl -sf -m 5 -o "$1" "http://127.0.0.1:$port/metrics"
	else
		python3 -c 'import sys, urllib.request
open(sys.argv[1], "wb").write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[2], timeout=5).read())' "$1" "$port"
	fi
}

# lab_wait_log PATTERN SECONDS: poll collectd's log for an extended regex.
lab_wait_log() {
	lab_wait "$2" "collectd log line /$1/" grep -qE "$1" "$LAB_OUT/collectd.log"
}

# lab_scrape_settled FILE SECONDS PATTERN [PORT]: scrape until the lines matching
# PATTERN (the values under test) are identical in two scrapes taken at
# least two collectd intervals apart, i.e. the last workload has been
# read out.
lab_scrape_settled() {
	local out=$1 max=$2 pattern=$3 port=${4:-9103} deadline prev="" cur=""
	deadline=$((SECONDS + max))
	while ((SECONDS < deadline)); do
		lab_scrape "$out.tmp" "$port" || lab_die "scrape of :$port failed"
		# Compare series and values, not write_prometheus' timestamps.
		prev=$cur
		cur=$(grep -E "$pattern" "$out.tmp" | sed -E 's/(\} [^ ]+) [0-9]+$/\1/' | sort || true)
		if [[ -n $cur && $cur == "$prev" ]]; then
			mv "$out.tmp" "$out"
			return 0
		fi
		# Two intervals between the compared scrapes.
		sleep $((2 * LAB_INTERVAL + 1))
	done
	# Keep the last two scrapes so the moving series can be found.
	printf '%s\n' "$prev" >"$out.prev"
	printf '%s\n' "$cur" >"$out.last"
	diff "$out.prev" "$out.last" | head -n 20 || true
	lab_die "values matching /$pattern/ did not settle within ${max}s"
}
