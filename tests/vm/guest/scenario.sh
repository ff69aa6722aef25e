#!/bin/bash
# One lab scenario inside the VM (run by run-vm.sh): NFS server and mounts,
# the Kubernetes node, the real collectd with nfs_ebpf, workloads of known
# size in pods and outside them, a settled scrape.
#
#   scenario.sh --mode auto|kprobe|fentry|none --order before|mixed|after
#               [--expect-mode kprobe|fentry] [--expect-attach-failure]
#
# --order: when the NFS mounts happen relative to collectd's start
#   before: v3 and v4.2 mounted first; mixed: v3 first, v4.2 after;
#   after: collectd starts before any nfs module is loaded.
# --mode none: no plugin (stock cpu plugin instead), to prove the lab itself.
# --expect-attach-failure: the mode must be refused with a clear log line.
# Node shape: --cgroup v2|hybrid|v1, --runtime containerd|crio|docker,
# --driver systemd|cgroupfs (lib.sh, mknode.py).
# --features a,b,...:
#   static    the static (Guaranteed) pod does I/O too; CRI-O's conmon of
#             web-0/nginx does I/O (reported as container "POD")
#   churn     pods created after collectd started do I/O at once; a pod is
#             deleted (cgroups, then state) right after its last writes
#   hostile   hostile runtime state appears while collectd runs (mknode.py
#             make_hostile) plus a container whose state entry is replaced
#             by rename during its I/O
#   top       nfs-ebpf-top's totals (write_prometheus) equal the ground
#             truth and its unixsock one-shot lists the same actors
#   dashboard Prometheus in the guest scrapes collectd every 3 s through
#             the shipped scrape job during the workloads; every query of
#             contrib/grafana/nfs_ebpf.json must return data from it
#   daemonset a second collectd in its own mount namespace sees the host
#             only at /host (HostRoot "/host", port 9104); its results
#             must equal the node-installed one's
#   oddnames  a pod with a 200-character name (valid in Kubernetes) and a
#             cgroup outside pods whose name holds '|', '~' and UTF-8 do
#             I/O: reported, with the labels check.py expects after the
#             relabel rules (shortened, hashed)
#   restart   after the main scrape, collectd is stopped and started again
#             while a pod keeps doing I/O: restart_check.py asserts no value
#             falls within a run and nothing is counted twice across it
#   reuse     in one long-lived cgroup (node-daemon.service): I/O on export
#             A, umount A, mount export B (another server address) on the
#             same, reused device numbers, I/O on B: each keeps its own
#             server and export
#   mapfull   MaxEntries 64, far fewer than the keys the workloads make:
#             check.py --map-full (overflow counted as stats_map_full,
#             every recorded series exact)
#   aio       the loader pod also does io_submit O_DIRECT I/O (queued,
#             -EIOCBQUEUED: counted, never an error)
#   reload    nfs modules removed and loaded again under collectd, then
#             new mounts and I/O (faults.sh)
#
# Writes to /vmout: metrics.txt (scrape), truth.json, node.json, info.json,
# collectd.log, guest.tap (checks done inside the guest).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=faults.sh
source "$(dirname "$0")/faults.sh"

MODE=auto ORDER=before EXPECT_MODE="" EXPECT_FAIL=0 FEATURES=""
IDLE_PODS=(kube-system/etcd-nfs-ebpf-vm)

parse_args() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		--mode) MODE=$2; shift 2 ;;
		--order) ORDER=$2; shift 2 ;;
		--expect-mode) EXPECT_MODE=$2; shift 2 ;;
		--expect-attach-failure) EXPECT_FAIL=1; shift ;;
		--cgroup) export NFS_EBPF_VM_CGROUP=$2; shift 2 ;;
		--runtime) export NFS_EBPF_VM_RUNTIME=$2; shift 2 ;;
		--driver) export NFS_EBPF_VM_DRIVER=$2; shift 2 ;;
		--features) FEATURES=,$2,; shift 2 ;;
		*) lab_die "unknown argument $1" ;;
		esac
	done
	case $MODE in auto | kprobe | fentry | none) ;; *) lab_die "bad --mode $MODE" ;; esac
	case $ORDER in before | mixed | after) ;; *) lab_die "bad --order $ORDER" ;; esac
	[[ -n $EXPECT_MODE || $MODE == auto || $MODE == none ]] || EXPECT_MODE=$MODE
	[[ $FEATURES != *,static,* ]] || IDLE_PODS=()
	[[ $FEATURES != *,hostile,* ]] || IDLE_PODS+=(victim/victim-0 lab-hostile/hostile-0)
}

has() { [[ $FEATURES == *",$1,"* ]]; }

# The freshly built plugin: NFS_EBPF_PLUGIN, else the build tree's libtool
# output. Copied into the guest's overlay: the host is never touched.
install_plugin() {
	local so=${NFS_EBPF_PLUGIN:-}
	if [[ -z $so ]]; then
		for so in "$NFS_EBPF_REPO/.libs/nfs_ebpf.so" "$NFS_EBPF_REPO/src/.libs/nfs_ebpf.so" ""; do
			[[ -z $so || -f $so ]] && break
		done
	fi
	[[ -n $so && -f $so ]] ||
		lab_die "plugin not built (no .libs/nfs_ebpf.so in $NFS_EBPF_REPO; set NFS_EBPF_PLUGIN)"
	cp "$so" /usr/lib/collectd/nfs_ebpf.so
	lab_log "plugin: $so"
}

write_plugin_conf() {
	local f=$1
	if [[ $MODE == none ]]; then
		printf 'LoadPlugin cpu\n' >"$f"
		return
	fi
	cat >"$f" <<-EOF
		LoadPlugin nfs_ebpf
		<Plugin nfs_ebpf>
		  AttachMode "$MODE"
		  $(has mapfull && echo "MaxEntries 64")
		</Plugin>
	EOF
}

# The wire level (Wire is on by default) attaches where the kernel has BTF
# for sunrpc and nfs, with raw_tp and kprobes in kprobe mode and tp_btf and
# fentry otherwise; elsewhere one line says why it is off.
wire_check() {
	local want what set
	[[ $MODE != none ]] || return 0
	set=$(lab_wire_set "$MODE")
	if [[ ! -e /sys/kernel/btf/sunrpc ]]; then
		want='the wire level \(nfs_ebpf_rpc_\*\) is off: this kernel has no BTF for its modules'
		what="off without module BTF, said once"
	else
		want="wire level: attached [0-9]+ programs to sunrpc and nfs \\($set\\)" what="attached ($set)"
	fi
	if lab_wait_log "$want" 120 && (($(grep -cE "$want" "$LAB_OUT/collectd.log") == 1)); then
		tap OK "wire level $what"
	else
		tap FAIL "wire level $what"
		grep 'wire level' "$LAB_OUT/collectd.log" | head -n 5 || true
	fi
}

# Wait for "attached N programs to MODULE (MODE)" and check the mode.
wait_attached() {
	local module=$1 line got
	[[ $MODE != none ]] || return 0
	if ! lab_wait_log "nfs_ebpf plugin: attached [0-9]+ programs to $module \(" 180; then
		tap FAIL "plugin attached to $module"
		grep 'nfs_ebpf' "$LAB_OUT/collectd.log" | tail -n 20 || true
		lab_die "plugin did not attach to $module"
	fi
	line=$(grep -E "nfs_ebpf plugin: attached [0-9]+ programs to $module \(" "$LAB_OUT/collectd.log" | head -n1)
	got=$(sed -E 's/.*\((\w+)\).*/\1/' <<<"$line")
	tap OK "plugin attached to $module: ${line#*nfs_ebpf plugin: }"
	if [[ -n $EXPECT_MODE ]]; then
		if [[ $got == "$EXPECT_MODE" ]]; then
			tap OK "$module attached with $EXPECT_MODE (AttachMode $MODE)"
		else
			tap FAIL "$module attached with $got, expected $EXPECT_MODE (AttachMode $MODE)"
		fi
	fi
}

# AttachMode the kernel cannot do: an error line naming the mode, and no
# "attached" line for nfs.
attach_failure() {
	lab_mount v3
	if lab_wait_log '\[error\] nfs_ebpf plugin: .*fentry' 180; then
		tap OK "AttachMode $MODE refused: $(grep -m1 -E '\[error\] nfs_ebpf plugin: .*fentry' "$LAB_OUT/collectd.log" | sed 's/.*nfs_ebpf plugin: //')"
	else
		tap FAIL "AttachMode $MODE refused with an error log line naming fentry"
	fi
	if grep -qE 'nfs_ebpf plugin: attached [0-9]+ programs to nfs ' "$LAB_OUT/collectd.log"; then
		tap FAIL "no programs attached in a mode the kernel cannot do"
	else
		tap OK "no programs attached in a mode the kernel cannot do"
	fi
	if kill -0 "$LAB_COLLECTD_PID" 2>/dev/null; then
		tap OK "collectd still running after the refused mode"
	else
		tap FAIL "collectd still running after the refused mode"
	fi
}

# lab_run_actor NAME LABELS_JSON SCALE WHERE MOUNTS... (WHERE: pod:NS/POD/C
# or cgroup:PATH). Runs the workload there, truth into $LAB_RUN/truth-NAME.json.
run_actor() {
	local name=$1 labels=$2 scale=$3 where=$4 rel
	shift 4
	case $where in
	pod:*) rel=$(python3 "$LAB_GUEST_DIR/mknode.py" --node "$LAB_RUN/node.json" --cgroup-of "${where#pod:}") ;;
	cgroup:*) rel=${where#cgroup:} ;;
	esac
	lab_in_cgroup "$rel" python3 "$LAB_GUEST_DIR/workload.py" --actor "$labels" \
		--scale "$scale" --tag "$name" --out "$LAB_RUN/truth-$name.json" \
		--expect-cgroup "$rel" "$@"
}

workloads() {
	local pids=() p rc=0
	# Two pods in different namespaces at the same time, then a second
	# container of the first pod and a process outside any pod.
	run_actor web '{"namespace":"shop","pod":"web-0","container":"nginx","cgroup":""}' 3 \
		pod:shop/web-0/nginx --estale /mnt/v3:/srv/nfs/export /mnt/v3 /mnt/v4 &
	pids+=($!)
	run_actor loader '{"namespace":"batch","pod":"loader-7d9f8c6b5-x2kqp","container":"loader","cgroup":""}' 5 \
		pod:batch/loader-7d9f8c6b5-x2kqp/loader $(has aio && echo --aio) /mnt/v3 /mnt/v4 &
	pids+=($!)
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	((rc == 0)) || lab_die "a pod workload failed"
	run_actor shipper '{"namespace":"shop","pod":"web-0","container":"log-shipper","cgroup":""}' 1 \
		pod:shop/web-0/log-shipper /mnt/v4 || lab_die "log-shipper workload failed"
	run_actor backup '{"namespace":"","pod":"","container":"","cgroup":"nfs-backup.service"}' 2 \
		cgroup:system.slice/nfs-backup.service /mnt/v3 || lab_die "non-pod workload failed"
	! has static || static_workloads
	! has churn || churn_workloads
	! has hostile || hostile_workloads
	! has oddnames || oddname_workloads
	! has reuse || reuse_workloads
	! has reload || reload_modules
	python3 - "$LAB_RUN" "$LAB_OUT/truth.json" <<-'EOF'
		import glob, json, sys
		runs = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/truth-*.json"))]
		json.dump(runs, open(sys.argv[2], "w"), indent=1)
	EOF
}

pod_json() { # NS POD CONTAINER
	printf '{"namespace":"%s","pod":"%s","container":"%s","cgroup":""}' "$1" "$2" "$3"
}

static_workloads() {
	run_actor etcd "$(pod_json kube-system etcd-nfs-ebpf-vm etcd)" 1 \
		pod:kube-system/etcd-nfs-ebpf-vm/etcd /mnt/v3 || lab_die "static pod workload failed"
	if [[ ${NFS_EBPF_VM_RUNTIME:-containerd} == crio ]]; then
		# conmon is the pod's, in no container: reported as container POD.
		run_actor conmon "$(pod_json shop web-0 POD)" 1 pod:shop/web-0/conmon /mnt/v4 ||
			lab_die "conmon workload failed"
	fi
}

# The anonymous device numbers (major:minor) of the mounts at $@.
devs_of() {
	local m
	for m in "$@"; do
		awk -v m="$m" '$5 == m { print $3 }' /proc/self/mountinfo
	done | tr '\n' ' '
}

# lab_mount's pair (rw export on MNT, read-only one on MNT-ro) over NFSv3
# from server address ADDR (127.0.0.0/8 all reach the lab's knfsd; another
# address is another NFS client, so another superblock).
mount_pair() { # ADDR MNT
	mkdir -p "$2" "$2-ro"
	timeout 180 mount -t nfs -o vers=3,nolock "$1:$LAB_EXPORT_DIR/export" "$2" &&
		timeout 180 mount -t nfs -o vers=3,nolock "$1:$LAB_EXPORT_DIR/export-ro" "$2-ro" ||
		lab_die "cannot mount $1:$LAB_EXPORT_DIR/export{,-ro} on $2{,-ro}"
}

# A node daemon's cgroup lives on while an export is replaced by another
# on the same device numbers (the lowest free anonymous minors).
reuse_workloads() {
	local cg=system.slice/node-daemon.service h before after actor
	actor='{"namespace":"","pod":"","container":"","cgroup":"node-daemon.service"}'
	for h in $LAB_CGROUP_HIERS; do mkdir -p "$h/$cg"; done
	mount_pair 127.0.0.3 /mnt/reuse
	before=$(devs_of /mnt/reuse /mnt/reuse-ro)
	run_actor reuse-a "$actor" 1 "cgroup:$cg" /mnt/reuse || lab_die "reuse workload on A failed"
	# A's operations read out under A before it goes.
	lab_scrape_settled "$LAB_RUN/reuse-a.txt" 120 '^collectd_nfs_ebpf_[a-z0-9_]+\{nfs_ebpf="@node-daemon'
	umount /mnt/reuse-ro /mnt/reuse || lab_die "cannot umount export A"
	mount_pair 127.0.0.4 /mnt/reuse
	after=$(devs_of /mnt/reuse /mnt/reuse-ro)
	if [[ $before == "$after" ]]; then
		tap OK "export B reuses export A's device numbers ($after)"
	else
		tap FAIL "export B reuses export A's device numbers (A: $before, B: $after)"
	fi
	# The first read that sees a device's new mount rebinds the cgroup's
	# keys on it: B's series appear (at 0) before B's I/O starts. Both
	# mounts' series: a read between the two mounts rebinds only the first,
	# and I/O before the next read would still be A's (a CI run on sid
	# counted B's read-only mkdir under A that way).
	reuse_b_listed() {
		lab_scrape "$LAB_RUN/reuse-b.txt" &&
			grep -E 'nfs_ebpf="@node-daemon.*@127\.0\.0\.4:[^"]*export"' "$LAB_RUN/reuse-b.txt" >/dev/null &&
			grep -E 'nfs_ebpf="@node-daemon.*@127\.0\.0\.4:[^"]*export-ro"' "$LAB_RUN/reuse-b.txt" >/dev/null
	}
	lab_wait 60 "node-daemon series under both of export B's mounts" reuse_b_listed ||
		lab_die "no node-daemon series under export B after the remount"
	run_actor reuse-b "$actor" 1 "cgroup:$cg" /mnt/reuse || lab_die "reuse workload on B failed"
	lab_log "export A ($before) replaced by export B ($after) under node-daemon.service"
}

mknode() { python3 "$LAB_GUEST_DIR/mknode.py" --node "$LAB_RUN/node.json" "$@"; }

# A pod whose name is 200 characters (a DNS-1123 subdomain without dots, as
# Kubernetes allows; namespace + pod + container exceed collectd's 127) and
# a cgroup outside pods whose name holds '|', '~' and a UTF-8 letter. The
# truth holds the real names; check.py derives the labels a user sees.
ODD_POD=$(printf 'spark-etl-nightly-aggregation-%.0s' 1 2 3 4 5 6 7)
ODD_POD=${ODD_POD:0:188}-driver-7k9q
ODD_CGROUP=$'odd|pipe~tilde-caf\xc3\xa9.scope'
oddname_workloads() {
	local h label
	mknode --add-pod "odd-names/$ODD_POD/besteffort/app" || lab_die "cannot add the long-named pod"
	run_actor oddpod "$(pod_json odd-names "$ODD_POD" app)" 1 "pod:odd-names/$ODD_POD/app" \
		/mnt/v4 || lab_die "long-named pod workload failed"
	for h in $LAB_CGROUP_HIERS; do
		mkdir -p "$h/system.slice/$ODD_CGROUP" || lab_die "cannot make cgroup $ODD_CGROUP"
	done
	label=$(python3 -c 'import json, sys; print(json.dumps({"namespace": "", "pod": "", "container": "", "cgroup": sys.argv[1]}))' "$ODD_CGROUP")
	run_actor oddcg "$label" 1 "cgroup:system.slice/$ODD_CGROUP" /mnt/v4 ||
		lab_die "odd-named cgroup workload failed"
}

# collectd stopped and started again while a pod does I/O in a loop: scrapes
# before, after, and once the loop has ended go to $LAB_OUT/restart
# (NNN-runR.prom), checked by restart_check.py.
restart_phase() {
	local dir=$LAB_OUT/restart rel loop n=0 who=restart_restart-0_app seen
	rm -rf "$dir" "$LAB_RUN/restart"
	mkdir -p "$dir" "$LAB_RUN/restart"
	mknode --add-pod restart/restart-0/besteffort/app || lab_die "cannot add pod restart-0"
	rel=$(mknode --cgroup-of restart/restart-0/app)
	rm -f "$LAB_RUN/restart.stop"
	(
		i=0
		while [[ ! -e $LAB_RUN/restart.stop ]]; do
			i=$((i + 1))
			lab_in_cgroup "$rel" python3 "$LAB_GUEST_DIR/workload.py" \
				--actor "$(pod_json restart restart-0 app)" --scale 2 --tag "restart-$i" \
				--out "$LAB_RUN/restart/truth-$i.json" --expect-cgroup "$rel" /mnt/v3 >/dev/null ||
				exit 1
		done
	) &
	loop=$!
	# scrape_run R N: scrapes (one per interval) until N of them hold the
	# actor's series, all kept as NNN-runR.prom. A longer first run makes a
	# visible counter reset at the restart likely (not required).
	scrape_run() {
		local tries=0 f
		seen=0
		while ((seen < $2 && tries < 60)); do
			f=$dir/$(printf %03d "$n")-run$1.prom
			n=$((n + 1)) tries=$((tries + 1))
			lab_scrape "$f" || lab_die "scrape during the restart phase failed"
			! grep -q "nfs_ebpf=\"$who\"" "$f" || seen=$((seen + 1))
			sleep "$LAB_INTERVAL"
		done
		((seen >= $2)) || lab_die "the restarted pod's series did not appear in run $1"
	}
	scrape_run 1 4
	cp "$LAB_OUT/collectd.log" "$LAB_OUT/collectd-run1.log"
	local old_pid=$LAB_COLLECTD_PID
	lab_collectd_stop
	lab_log "collectd stopped while restart-0 does I/O"
	sleep $((2 * LAB_INTERVAL))
	kill -0 "$loop" 2>/dev/null || lab_die "the restart workload ended early"
	lab_collectd_start "$LAB_RUN/collectd.conf"
	if ! lab_alive "$old_pid" && [[ $LAB_COLLECTD_PID != "$old_pid" ]]; then
		tap OK "restart: collectd pid $old_pid exited; pid $LAB_COLLECTD_PID serves run 2"
	else
		tap FAIL "restart: collectd pid $old_pid still runs next to pid $LAB_COLLECTD_PID"
	fi
	wait_attached nfs
	wait_attached nfsv4
	scrape_run 2 2
	touch "$LAB_RUN/restart.stop"
	wait "$loop" || lab_die "the restart workload failed"
	cp "$LAB_RUN"/restart/truth-*.json "$dir/"
	lab_scrape_settled "$dir/$(printf %03d "$n")-run2.prom" 120 "nfs_ebpf=\"$who\""
	python3 "$LAB_GUEST_DIR/../restart_check.py" --scrapes "$dir" --who "$who" \
		"$dir"/truth-*.json >"$dir/check.tap" 2>&1 || true
	lab_retap "$dir/check.tap" "restart: " || tap FAIL "restart: restart_check.py ran (see restart/check.tap)"
}

# Pods that appear after collectd started: the first I/O comes right after
# the state and cgroups are made. One pod is deleted right after its I/O.
churn_workloads() {
	mknode --add-pod late/late-job-28431/besteffort/worker || lab_die "cannot add pod late-job"
	run_actor late "$(pod_json late late-job-28431 worker)" 4 pod:late/late-job-28431/worker \
		/mnt/v3 || lab_die "late pod workload failed"
	mknode --add-pod gone/ephemeral-0/burstable/app || lab_die "cannot add pod ephemeral-0"
	run_actor gone "$(pod_json gone ephemeral-0 app)" 6 pod:gone/ephemeral-0/app /mnt/v4 ||
		lab_die "ephemeral pod workload failed"
	# Its processes have exited: cgroups go, then the runtime state.
	mknode --remove-pod gone/ephemeral-0 || lab_die "cannot delete pod ephemeral-0"
	lab_log "pod gone/ephemeral-0 deleted right after its I/O"
}

# Hostile state appears while collectd runs; each hostile container does
# I/O that must be reported under its cgroup name. A legitimate container's
# state is replaced by rename for as long as it does I/O.
hostile_workloads() {
	local hostile pids=() p rc=0 name label cg
	hostile=$(mknode --hostile "$LAB_RUN/decoy") || lab_die "cannot lay out hostile state"
	echo "$hostile" >"$LAB_OUT/hostile.json"
	# One line per hostile container, read twice below (runs, then checks).
	python3 -c 'import json,sys
for h in json.load(sys.stdin): print(h["name"], h["label"], h["cgroup"])' \
		<<<"$hostile" >"$LAB_RUN/hostile.list"
	while read -r name label cg; do
		run_actor "hostile-$name" "{\"namespace\":\"\",\"pod\":\"\",\"container\":\"\",\"cgroup\":\"$label\"}" \
			1 "cgroup:$cg" /mnt/v4 &
		pids+=($!)
	done <"$LAB_RUN/hostile.list"
	mknode --add-pod lab-swap/swap-0/burstable/app || lab_die "cannot add pod swap-0"
	rm -f "$LAB_RUN/swap.stop"
	mknode --swap-bundle lab-swap/swap-0/app --until "$LAB_RUN/swap.stop" &
	local swapper=$!
	run_actor swap "$(pod_json lab-swap swap-0 app)" 2 pod:lab-swap/swap-0/app /mnt/v3 /mnt/v4 || rc=1
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	# Keep replacing for a few more reads: the key is resolved after the I/O.
	sleep $((3 * LAB_INTERVAL))
	touch "$LAB_RUN/swap.stop"
	wait "$swapper" || rc=1
	((rc == 0)) || lab_die "a hostile-state workload failed"
	# Each hostile file must have been refused for its own reason (not,
	# say, because it was not there yet).
	local -A why=([symlink]="symbolic link" [huge]="size cap" [deep]="nested"
		[utf8]="UTF-8" [ctrl]="control character")
	local id
	while read -r name label cg; do
		id=${label#cri-containerd-}
		id=${id%.scope}
		if grep -F "$id" "$LAB_OUT/collectd.log" | grep -qF "${why[$name]}"; then
			tap OK "hostile state '$name' refused (${why[$name]}), collectd logged it"
		else
			tap FAIL "hostile state '$name' refused (${why[$name]}), collectd logged it"
		fi
	done <"$LAB_RUN/hostile.list"
}

# DaemonSet mode: collectd in its own mount namespace where the host's / is
# only at /host (rslave, like HostToContainer propagation), its own empty
# /run and /sys/fs/cgroup on top (a container has its own), so every host
# path the plugin needs must come through HostRoot.
LAB_DS_CONF=/etc/nfs_ebpf-lab-ds.conf
ds_start() {
	local plugin=$LAB_RUN/plugin-ds.conf
	cat >"$plugin" <<-EOF
		LoadPlugin nfs_ebpf
		<Plugin nfs_ebpf>
		  AttachMode "$MODE"
		  HostRoot "/host"
		</Plugin>
	EOF
	lab_collectd_conf "$LAB_DS_CONF" "$plugin"
	sed -i -e 's/Port "9103"/Port "9104"/' -e "s|$LAB_OUT/collectd.log|$LAB_OUT/collectd-ds.log|" \
		"$LAB_DS_CONF"
	mkdir -p /host
	: >"$LAB_OUT/collectd-ds.log"
	lab_in_cgroup system.slice/collectd-ds.service unshare -m --propagation slave \
		bash -c 'set -e
			mount --rbind / /host
			mount --make-rslave /host
			mount -t tmpfs -o mode=0755 tmpfs /run
			mount -t tmpfs -o mode=0755 tmpfs /sys/fs/cgroup
			mkdir -p /run/collectd
			[[ ! -e /run/containerd && ! -e /sys/fs/cgroup/kubepods.slice ]]
			exec /usr/sbin/collectd -C "$1" -f' ds "$LAB_DS_CONF" \
		>"$LAB_OUT/collectd-ds.stdout" 2>&1 &
	LAB_DS_PID=$!
	lab_wait 120 "DaemonSet collectd serving :9104" lab_scrape /dev/null 9104 || {
		tail -n 20 "$LAB_OUT/collectd-ds.log" "$LAB_OUT/collectd-ds.stdout" || true
		lab_die "DaemonSet collectd did not start serving /metrics"
	}
	lab_log "DaemonSet collectd running (pid $LAB_DS_PID)"
}

ds_check() {
	if grep -q "HostRoot" "$LAB_DS_CONF" && grep -qE 'nfs_ebpf plugin: ready: .*mountinfo /host/proc/1/mountinfo' "$LAB_OUT/collectd-ds.log"; then
		tap OK "DaemonSet collectd reads the host's mount table through HostRoot"
	else
		tap FAIL "DaemonSet collectd reads the host's mount table through HostRoot"
		grep nfs_ebpf "$LAB_OUT/collectd-ds.log" | head -n 5 || true
	fi
	lab_scrape_settled "$LAB_OUT/metrics-ds.txt" 120 "$SETTLE_PATTERN" 9104
	# Same pods, cgroups, ops, counts, bytes and errors as the node install
	# (latency sums and buckets are timed by each instance's own probes).
	if python3 - "$LAB_OUT/metrics.txt" "$LAB_OUT/metrics-ds.txt" >"$LAB_OUT/ds-diff.txt" <<-'EOF'
		import re, sys
		def load(p):
		    out = {}
		    for line in open(p):
		        m = re.match(r'^(collectd_nfs_ebpf_(?:operations|total_bytes|errors)_total)\{(.*)\} (\S+)', line)
		        if not m or 'nfs_ebpf="@|"' in m.group(2) or 'nfs_ebpf="@collectd' in m.group(2):
		            continue
		        out[(m.group(1), m.group(2))] = float(m.group(3))
		    return out
		a, b = load(sys.argv[1]), load(sys.argv[2])
		diff = sorted(set(a.items()) ^ set(b.items()))
		for d in diff[:20]:
		    print(d)
		print("%d series on the node, %d in the DaemonSet, %d differ" % (len(a), len(b), len(diff)))
		sys.exit(1 if diff or not a else 0)
	EOF
	then
		tap OK "DaemonSet (HostRoot /host) equals the node install: $(tail -n1 "$LAB_OUT/ds-diff.txt")"
	else
		tap FAIL "DaemonSet (HostRoot /host) equals the node install: $(tail -n1 "$LAB_OUT/ds-diff.txt")"
		sed 's/^/# /' "$LAB_OUT/ds-diff.txt" | head -n 20
	fi
}

# Prometheus in the guest, on the shipped scrape job (target and interval
# adapted to the lab): the dashboard's queries run against what it scraped.
prometheus_start() {
	sed -e "s/targets: \['localhost:9103'\]/targets: ['127.0.0.1:9103']/" \
		-e 's/scrape_interval: 10s/scrape_interval: 3s/' -e 's/scrape_timeout: 10s/scrape_timeout: 3s/' \
		"$NFS_EBPF_REPO/contrib/prometheus/scrape-config.yml" >"$LAB_RUN/prometheus.yml"
	prometheus --config.file="$LAB_RUN/prometheus.yml" --storage.tsdb.path="$LAB_RUN/prometheus" \
		--web.listen-address=127.0.0.1:9090 --log.level=warn >"$LAB_OUT/prometheus.log" 2>&1 &
	LAB_PROM_PID=$!
	lab_wait 120 "Prometheus ready" curl -fsS http://127.0.0.1:9090/-/ready ||
		lab_die "Prometheus did not start (see prometheus.log)"
}

# dashboard_check UNIX_TIME: every panel and variable query of the
# dashboard, evaluated at that time (a few seconds after the workloads).
# Called once the scrape settled: every value is in collectd, and two of
# Prometheus' 3 s scrapes later in Prometheus too. The queries run now, with
# a rate window reaching back before the first workload ($1, unix time),
# so no rate depends on how long ago the last operation happened (under
# TCG the last minute may hold none).
#
# A series enters Prometheus with the value it has at its first scrape, so
# growth before that is invisible to rate(): on a quiet machine the
# workloads are over before the first scrape of their series, and every
# rate is 0 (0/0 for the quantiles and means). web-0 therefore stats, lists
# and reads a file on both mounts until Prometheus shows its operations and
# bytes growing (at most 180 s); the settled scrape check.py compares is
# already taken. dashboard_test.py then wants a value above 0 from every
# panel but the error and lost-event ones.
prom_growing() { # METRIC: a rate above 0 for web-0 in Prometheus
	curl -fsS -m 10 http://127.0.0.1:9090/api/v1/query \
		--data-urlencode "query=sum(rate($1{pod=\"web-0\"}[30s])) > 0" | grep -q '"result":\[{'
}
dashboard_check() {
	local now rel traffic deadline=$((SECONDS + 180))
	rel=$(python3 "$LAB_GUEST_DIR/mknode.py" --node "$LAB_RUN/node.json" --cgroup-of shop/web-0/nginx) ||
		lab_die "no cgroup for shop/web-0/nginx"
	rm -f "$LAB_RUN/dashboard-live.stop"
	lab_in_cgroup "$rel" sh -c 'for m in /mnt/v3 /mnt/v4; do echo live >"$m/dashboard-live" || exit 1; done
		while [ ! -e "$1" ]; do
			for m in /mnt/v3 /mnt/v4; do
				stat "$m" >/dev/null && ls "$m" >/dev/null && cat "$m/dashboard-live" >/dev/null || exit 1
			done
			sleep 0.5
		done
		rm -f /mnt/v3/dashboard-live /mnt/v4/dashboard-live' live "$LAB_RUN/dashboard-live.stop" &
	traffic=$!
	until prom_growing nfs_ebpf_operation_duration_seconds_count && prom_growing nfs_ebpf_bytes_total; do
		kill -0 "$traffic" 2>/dev/null || lab_die "the dashboard's live traffic failed"
		((SECONDS < deadline)) || lab_die "Prometheus showed no growth of web-0's operations and bytes in 180 s"
		sleep 3
	done
	lab_log "Prometheus shows web-0's operations and bytes growing"
	touch "$LAB_RUN/dashboard-live.stop"
	wait "$traffic" || lab_die "the dashboard's live traffic failed"
	now=$(date +%s)
	python3 "$NFS_EBPF_REPO/tests/grafana/dashboard_test.py" \
		--prometheus http://127.0.0.1:9090 --time "$now" \
		--rate-interval "$((now - $1 + 30))s" >"$LAB_OUT/dashboard.tap" 2>&1 || true
	lab_retap "$LAB_OUT/dashboard.tap" "dashboard: " || tap FAIL "dashboard: test ran (see dashboard.tap)"
	kill "$LAB_PROM_PID" 2>/dev/null || true
}

# nfs-ebpf-top (the terminal view) against this collectd: its totals from
# write_prometheus equal the ground truth's bytes and the settled scrape's
# operation counts, and its one-shot unixsock view (default socket) lists
# the same actors, idle now (rate 0).
top_check() {
	local top=$NFS_EBPF_REPO/nfs-ebpf-top
	[[ -x $top ]] || { tap FAIL "nfs-ebpf-top built ($top)"; return; }
	"$top" -1 -t -x -c -m -n 0 -w 127.0.0.1:9103 >"$LAB_OUT/top-totals.txt" 2>&1 || true
	"$top" -1 -i "$LAB_INTERVAL" -x -c -m -n 0 >"$LAB_OUT/top-unixsock.txt" 2>&1 || true
	local out
	if out=$(python3 - "$LAB_OUT" <<-'EOF'
		import json, re, sys
		d = sys.argv[1]
		def table(name):
		    lines = open("%s/%s" % (d, name)).read().splitlines()
		    assert len(lines) >= 2 and lines[1].startswith("POD/CONTAINER"), lines[:3]
		    rows = {}
		    for l in lines[2:]:
		        f = l.split()
		        rows[(f[0], f[1])] = [float(x) for x in f[2:5]]  # ops, read, write
		    return lines[0], rows
		def name(a):
		    return "%s/%s/%s" % (a["namespace"], a["pod"], a["container"]) if a["pod"] else "@" + a["cgroup"]
		truth = {}
		for run in json.load(open(d + "/truth.json")):
		    for m in run["mounts"]:
		        k = (name(run["actor"]), "%s:%s" % (m["server"], m["export"]))
		        t = truth.setdefault(k, [0, 0])
		        for i, op in enumerate(("read", "write")):
		            t[i] += m["ops"].get(op, {}).get("bytes", 0)
		scrape = {}
		for l in open(d + "/metrics.txt"):
		    m = re.match(r'collectd_nfs_ebpf_operations_total\{nfs_ebpf="([^"]*)",type="[a-z]+@([^"]*)".*\} (\S+)', l)
		    if m:
		        who = m.group(1).replace("|", "/")
		        who = who if who.startswith("@") else "/".join(who.split("_", 2))
		        k = (who, m.group(2).replace("|", "/"))
		        scrape[k] = scrape.get(k, 0) + float(m.group(3))
		_, tot = table("top-totals.txt")
		head, now = table("top-unixsock.txt")
		bad, n = [], 0
		for k, (rd, wr) in sorted(truth.items()):
		    if k[0].startswith("@cri-containerd-"):
		        continue  # hostile state: reported under hashed names
		    n += 1
		    got = tot.get(k)
		    if got is None or got[1:] != [rd, wr] or got[0] != scrape.get(k):
		        bad.append("totals %s: got %s, truth bytes %s, scrape ops %s" % (k, got, [rd, wr], scrape.get(k)))
		    if now.get(k, [None])[0] != 0 or "unixsock /var/run/collectd-unixsock" not in head:
		        bad.append("unixsock %s: got %s (%s)" % (k, now.get(k), head))
		print("%d actor mounts: totals equal truth bytes and scrape ops, unixsock lists them idle" % n
		      if not bad and n else "; ".join(bad[:5]) or "no actors")
		sys.exit(1 if bad or not n else 0)
	EOF
	); then
		tap OK "nfs-ebpf-top: $out"
	else
		tap FAIL "nfs-ebpf-top: $out"
		sed 's/^/# /' "$LAB_OUT/top-totals.txt" "$LAB_OUT/top-unixsock.txt" | head -n 40
	fi
}

# One scrape into metrics.txt that contains PATTERN.
scrape_has() {
	lab_scrape "$LAB_OUT/metrics.txt" && grep -q "$1" "$LAB_OUT/metrics.txt"
}

main() {
	parse_args "$@"
	rm -f "$LAB_OUT"/{metrics.txt,truth.json,info.json,node.json}
	: >"$LAB_OUT/guest.tap"
	lab_base
	lab_nfs_server
	lab_node
	cp "$LAB_RUN/node.json" "$LAB_OUT/node.json"
	[[ $MODE == none ]] || install_plugin
	python3 - "$LAB_OUT/info.json" "$(uname -r)" "$MODE" "$ORDER" "$EXPECT_MODE" \
		"${NFS_EBPF_VM_CGROUP:-v2}" "${NFS_EBPF_VM_RUNTIME:-containerd}" \
		"${NFS_EBPF_VM_DRIVER:-systemd}" "$FEATURES" "${IDLE_PODS[@]}" <<-'EOF'
		import json, sys
		a = sys.argv
		json.dump({"kernel": a[2], "mode": a[3], "order": a[4], "expect_mode": a[5],
		           "plugin": a[3] != "none", "cgroup": a[6], "runtime": a[7], "driver": a[8],
		           "features": [f for f in a[9].split(",") if f], "idle_pods": a[10:]},
		          open(a[1], "w"))
	EOF

	case $ORDER in
	before) lab_mount v3; lab_mount v4 ;;
	mixed) lab_mount v3 ;;
	after) ;;
	esac
	write_plugin_conf "$LAB_RUN/plugin.conf"
	lab_collectd_conf "$LAB_RUN/collectd.conf" "$LAB_RUN/plugin.conf"
	lab_collectd_start "$LAB_RUN/collectd.conf"
	! has daemonset || ds_start
	! has dashboard || prometheus_start

	if ((EXPECT_FAIL)); then
		attach_failure
		lab_collectd_stop
		! grep -q '^not ok' "$LAB_OUT/guest.tap"
		return
	fi
	case $ORDER in
	before) ;;
	mixed) lab_mount v4 ;;
	after) lab_mount v3; lab_mount v4 ;;
	esac
	wait_attached nfs
	wait_attached nfsv4
	wire_check
	if has daemonset; then
		lab_wait_ds_log() { grep -qE "nfs_ebpf plugin: attached [0-9]+ programs to $1 \(" "$LAB_OUT/collectd-ds.log"; }
		lab_wait 180 "DaemonSet attach" lab_wait_ds_log nfsv4 || lab_die "DaemonSet collectd did not attach to nfsv4"
	fi
	local workloads_started
	workloads_started=$(date +%s)
	workloads
	if [[ $MODE == none ]]; then
		# cpu counters never settle: one scrape that has them is enough.
		lab_wait 30 "cpu series in the scrape" scrape_has '^collectd_cpu_' ||
			lab_die "no collectd_cpu series scraped"
	else
		# Only the workload actors' series: they must stop moving once the
		# workloads are done (the guest's own shell is in the root cgroup).
		SETTLE_PATTERN='^collectd_nfs_ebpf_[a-z0-9_]+\{nfs_ebpf="(shop_|batch_|@nfs-backup|@node-daemon|@nfs-reload|kube-system_|late_|gone_|lab-swap_|@cri-containerd-|odd-names_|@~)'
		lab_scrape_settled "$LAB_OUT/metrics.txt" 120 "$SETTLE_PATTERN"
		# For check.py: calls the kernel skipped a program for until now.
		lab_prog_skips >"$LAB_OUT/kernel-skips" || lab_die "bpftool prog show failed"
		lab_log "the kernel skipped the plugin's programs $(cat "$LAB_OUT/kernel-skips") times"
	fi
	if [[ $MODE != none ]]; then
		if kill -0 "$LAB_COLLECTD_PID" 2>/dev/null; then
			tap OK "collectd still running after the workloads${FEATURES:+ (features ${FEATURES:1:-1})}"
		else
			tap FAIL "collectd still running after the workloads${FEATURES:+ (features ${FEATURES:1:-1})}"
		fi
	fi
	! has dashboard || dashboard_check "$workloads_started"
	! has top || top_check
	if has daemonset; then
		ds_check
		kill "$LAB_DS_PID" 2>/dev/null || true
		wait "$LAB_DS_PID" 2>/dev/null || true
	fi
	lab_log "scraped $(grep -c '^collectd_' "$LAB_OUT/metrics.txt") collectd series"
	! has restart || restart_phase
	lab_collectd_stop
	! grep -q '^not ok' "$LAB_OUT/guest.tap"
}

main "$@"
