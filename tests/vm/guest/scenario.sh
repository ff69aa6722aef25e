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
#
# Writes to /vmout: metrics.txt (scrape), truth.json, node.json, info.json,
# collectd.log, guest.tap (checks done inside the guest).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

MODE=auto ORDER=before EXPECT_MODE="" EXPECT_FAIL=0
TAP_N=0
tap() { # tap OK|FAIL text
	TAP_N=$((TAP_N + 1))
	if [[ $1 == OK ]]; then
		echo "ok $TAP_N - $2" | tee -a "$LAB_OUT/guest.tap"
	else
		echo "not ok $TAP_N - $2" | tee -a "$LAB_OUT/guest.tap"
	fi
}

parse_args() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		--mode) MODE=$2; shift 2 ;;
		--order) ORDER=$2; shift 2 ;;
		--expect-mode) EXPECT_MODE=$2; shift 2 ;;
		--expect-attach-failure) EXPECT_FAIL=1; shift ;;
		*) lab_die "unknown argument $1" ;;
		esac
	done
	case $MODE in auto | kprobe | fentry | none) ;; *) lab_die "bad --mode $MODE" ;; esac
	case $ORDER in before | mixed | after) ;; *) lab_die "bad --order $ORDER" ;; esac
	[[ -n $EXPECT_MODE || $MODE == auto || $MODE == none ]] || EXPECT_MODE=$MODE
}

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
		</Plugin>
	EOF
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
		pod:batch/loader-7d9f8c6b5-x2kqp/loader /mnt/v3 /mnt/v4 &
	pids+=($!)
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	((rc == 0)) || lab_die "a pod workload failed"
	run_actor shipper '{"namespace":"shop","pod":"web-0","container":"log-shipper","cgroup":""}' 1 \
		pod:shop/web-0/log-shipper /mnt/v4 || lab_die "log-shipper workload failed"
	run_actor backup '{"namespace":"","pod":"","container":"","cgroup":"nfs-backup.service"}' 2 \
		cgroup:system.slice/nfs-backup.service /mnt/v3 || lab_die "non-pod workload failed"
	python3 - "$LAB_RUN" "$LAB_OUT/truth.json" <<-'EOF'
		import glob, json, sys
		runs = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/truth-*.json"))]
		json.dump(runs, open(sys.argv[2], "w"), indent=1)
	EOF
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
	printf '{"kernel":"%s","mode":"%s","order":"%s","expect_mode":"%s","plugin":%s}\n' \
		"$(uname -r)" "$MODE" "$ORDER" "$EXPECT_MODE" \
		"$([[ $MODE == none ]] && echo false || echo true)" >"$LAB_OUT/info.json"

	case $ORDER in
	before) lab_mount v3; lab_mount v4 ;;
	mixed) lab_mount v3 ;;
	after) ;;
	esac
	write_plugin_conf "$LAB_RUN/plugin.conf"
	lab_collectd_conf "$LAB_RUN/collectd.conf" "$LAB_RUN/plugin.conf"
	lab_collectd_start "$LAB_RUN/collectd.conf"

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
	workloads
	if [[ $MODE == none ]]; then
		# cpu counters never settle: one scrape that has them is enough.
		lab_wait 30 "cpu series in the scrape" scrape_has '^collectd_cpu_' ||
			lab_die "no collectd_cpu series scraped"
	else
		# Only the workload actors' series: they must stop moving once the
		# workloads are done (the guest's own shell is in the root cgroup).
		lab_scrape_settled "$LAB_OUT/metrics.txt" 120 \
			'^collectd_nfs_ebpf_[a-z_]+\{nfs_ebpf="(shop_|batch_|@nfs-backup)'
	fi
	lab_log "scraped $(grep -c '^collectd_' "$LAB_OUT/metrics.txt") collectd series"
	lab_collectd_stop
	! grep -q '^not ok' "$LAB_OUT/guest.tap"
}

main "$@"
