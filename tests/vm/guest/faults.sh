#!/bin/bash
# Fault scenarios of the VM lab, sourced by scenario.sh (which defines tap,
# run_actor, has, MODE and the lab_* helpers).
#
# reload_modules (features=reload): every NFS mount goes, the NFS client
# modules are removed and loaded again while collectd runs, the exports are
# mounted again and a new actor does I/O. Its operations must be counted
# exactly, without restarting collectd. Where the kernel keeps the module
# (fentry/fexit trampolines hold a reference since 5.12), rmmod must fail
# and collectd must have said why; tracing then simply goes on.

# Lines of collectd's log matching an extended regex.
log_count() { grep -cE "$1" "$LAB_OUT/collectd.log" || true; }

reload_modules() {
	local m out removed=1 before_nfs before_v4 before_wire
	before_nfs=$(log_count 'nfs_ebpf plugin: attached [0-9]+ programs to nfs \(')
	before_v4=$(log_count 'nfs_ebpf plugin: attached [0-9]+ programs to nfsv4 \(')
	before_wire=$(log_count 'nfs_ebpf plugin: wire level: attached [0-9]+ programs')
	# The earlier workloads' calls must have been read (and their device
	# named from the mount table) before their mounts go: a call read out
	# only after its umount is reported under unknown-dev-* (README).
	lab_scrape_settled "$LAB_RUN/before-reload.txt" 120 \
		'^collectd_nfs_ebpf_[a-z0-9_]+\{nfs_ebpf="(shop_|batch_|@nfs-backup|kube-system_|late_|gone_|lab-swap_|@cri-containerd-)'
	# Every NFS mount, the other features' (reuse's export B) included: any
	# one left holds the modules.
	awk '$3 == "nfs" || $3 == "nfs4" {print $2}' /proc/mounts | sort -r |
		xargs -r umount || lab_die "umount of the NFS mounts failed"
	for m in nfsv4 nfsv3 nfs; do
		grep -q "^$m " /proc/modules || continue
		if ! out=$(rmmod "$m" 2>&1); then
			removed=0
			lab_log "rmmod $m: $out"
			break
		fi
	done
	if ((removed)); then
		tap OK "nfs modules removed while collectd runs (AttachMode $MODE)"
		if lab_wait_log 'nfs_ebpf plugin: module nfs was unloaded; detaching' 120; then
			tap OK "collectd noticed the unload: $(grep -m1 -E 'module nfs was unloaded' "$LAB_OUT/collectd.log" | sed 's/.*nfs_ebpf plugin: //')"
		else
			tap FAIL "collectd noticed the unload of nfs"
		fi
		modprobe nfs && modprobe nfsv3 && modprobe nfsv4 || lab_die "modprobe of the nfs modules failed"
		# Attached again before any mount, so no call races the attach.
		if lab_wait "120" "attached to nfs again" \
			test_log_grew 'nfs_ebpf plugin: attached [0-9]+ programs to nfs \(' "$before_nfs" &&
			lab_wait "120" "attached to nfsv4 again" \
				test_log_grew 'nfs_ebpf plugin: attached [0-9]+ programs to nfsv4 \(' "$before_v4"; then
			tap OK "traced again after the reload, without a restart: $(grep -E 'attached [0-9]+ programs to nfs \(' "$LAB_OUT/collectd.log" | tail -n1 | sed 's/.*nfs_ebpf plugin: //')"
		else
			tap FAIL "traced again after the reload, without a restart"
			grep nfs_ebpf "$LAB_OUT/collectd.log" | tail -n 10 || true
		fi
		# The wire level's programs on nfs went with it (kprobes) and
		# come back; without module BTF (5.10) it was never on.
		if [[ -e /sys/kernel/btf/sunrpc ]]; then
			if lab_wait "120" "wire level attached again" \
				test_log_grew 'nfs_ebpf plugin: wire level: attached [0-9]+ programs' "$before_wire"; then
				tap OK "wire level attached again after the reload: $(grep -E 'wire level: attached' "$LAB_OUT/collectd.log" | tail -n1 | sed 's/.*nfs_ebpf plugin: //')"
			else
				tap FAIL "wire level attached again after the reload"
				grep 'wire level' "$LAB_OUT/collectd.log" | tail -n 5 || true
			fi
		fi
	else
		# The kernel refused: fine where fentry holds the module, but the
		# user must have been told.
		if [[ $out == *"in use"* ]] &&
			grep -qE 'nfs_ebpf plugin: module nfs cannot be unloaded while its fentry/fexit programs are attached' "$LAB_OUT/collectd.log"; then
			tap OK "rmmod refused ($out) and collectd said why: $(grep -m1 -E 'module nfs cannot be unloaded' "$LAB_OUT/collectd.log" | sed 's/.*nfs_ebpf plugin: //' | cut -c1-120)"
		else
			tap FAIL "rmmod refused ($out) and collectd said why"
		fi
	fi
	lab_mount v3
	lab_mount v4
	for h in $LAB_CGROUP_HIERS; do mkdir -p "$h/system.slice/nfs-reload.service"; done
	run_actor reload '{"namespace":"","pod":"","container":"","cgroup":"nfs-reload.service"}' 3 \
		cgroup:system.slice/nfs-reload.service /mnt/v3 /mnt/v4 ||
		lab_die "workload after the module reload failed"
}

# test_log_grew PATTERN N: more than N lines of collectd's log match.
test_log_grew() { (($(log_count "$1") > $2)); }
