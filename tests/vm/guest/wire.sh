#!/bin/bash
# The wire level inside a lab VM (run by run-vm.sh, chosen by lab.sh's cell
# word guest=wire): real knfsd, NFSv3 and NFSv4.2 mounts, the real collectd
# with the plugin, and workloads in pods whose RPCs are known. The guest
# records; tests/vm/check_wire.py (on the host, after the shipped relabel
# rules) asserts.
#
#   wire.sh --mode fentry|auto [--order ...] [--outage SECONDS]
#
# Snapshots: after every phase, once the plugin's values settled, one scrape
# (wire-<n>.txt) and /proc/self/mountstats (wire-<n>.mountstats), taken
# while nothing else runs. Phases (wire-phases.json says which snapshot
# ends which):
#   start      collectd attached; no inode touched since it started
#   lease      the NFSv4 client renewed its lease, the mounts still idle
#   setup      every mount walked, files written by a node process
#   cache      the page cache dropped, shop/web-0/nginx reads a file twice
#   sync       batch/loader writes into a file it keeps open; a node process
#              (nfs-backup.service, in no pod) runs sync(1)
#   flusher    the same, and the flusher writes it back after
#              dirty_expire_centisecs, while the file is still open
#   mmap       as sync, the loader writing through a shared mapping
#   same-uid   batch/loader and nginx write alternate 64 KiB chunks of one
#              file as the same uid and keep it open; the node runs sync
#   other-uid  the same with nginx as another uid
#   direct     nginx writes and reads with O_DIRECT
#   metadata   nginx stats files a node process made before the first
#              snapshot, after the caches were dropped
#   retrans    every packet on lo is lost for OUTAGE seconds, and the
#              connection broken, while kube-system/etcd reads from a mount
#              with a short timeo
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

MODE=auto OUTAGE=20
WEB=shop/web-0/nginx
LOADER=batch/loader-7d9f8c6b5-x2kqp/loader
ETCD=kube-system/etcd-nfs-ebpf-vm/etcd
NODE=system.slice/nfs-backup.service
FILE_MIB=8
N_FILES=100
SNAP=0
PHASES=()

parse_args() {
	# --order and --expect-mode are lab.sh's cell words, not used here
	local ORDER EXPECT_MODE
	lab_options "MODE ORDER EXPECT_MODE OUTAGE" "$@"
	case $MODE in auto | fentry | kprobe) ;; *) lab_die "bad --mode $MODE" ;; esac
}

# The per-procedure lines of every mount's statistics (not its age or its
# transport's idle time, which change by themselves).
op_lines() { grep -E '^device|^[[:space:]]+[A-Z][A-Z0-9_]*: [0-9]' /proc/self/mountstats; }

# snapshot PHASE: wait until the plugin read everything, then scrape and copy
# mountstats. An RPC can come at any time (the NFSv4 lease is renewed
# whenever the mount has been idle for a while), so the scrape counts only
# when the mounts' statistics are the same before it settled and after:
# then the plugin has read every RPC mountstats shows.
snapshot() {
	local phase=$1 f=$LAB_OUT/wire-$SNAP before try
	for try in 1 2 3 4 5; do
		before=$(op_lines)
		lab_scrape_settled "$f.txt" 180 '^collectd_nfs_ebpf_' || lab_die "no settled scrape after $phase"
		cp /proc/self/mountstats "$f.mountstats"
		[[ $(op_lines) != "$before" ]] || break
		lab_log "an RPC came while snapshot $SNAP settled (try $try): again"
	done
	PHASES+=("$phase")
	lab_log "snapshot $SNAP after $phase"
	SNAP=$((SNAP + 1))
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# A file of FILE_MIB MiB written by the node, on the server for good.
node_file() {
	lab_in_cgroup "$NODE" dd if=/dev/zero of="$1" bs=1M count="$FILE_MIB" conv=fsync status=none ||
		lab_die "cannot write $1"
}

# No inode touched since collectd started (the mounts were made before it):
# the NFSv4 client renews its lease on the server's shared client (a
# SEQUENCE every two thirds of knfsd's 90 s lease while the mount is idle),
# which the plugin must place without having seen the server's inodes.
lease_renewed() { (($(op_column /mnt/v4 SEQUENCE 2) > $1)); }

phase_lease() {
	local before
	snapshot start
	before=$(op_column /mnt/v4 SEQUENCE 2)
	lab_wait 240 "the NFSv4 client's lease renewal" lease_renewed "$before" ||
		lab_die "no SEQUENCE on /mnt/v4 in 240 s"
	snapshot lease
}

phase_cache() {
	local v
	for v in v3 v4; do
		node_file "/mnt/$v/cached"
		# for the metadata phase
		mkdir -p "/mnt/$v/meta"
		lab_in_cgroup "$NODE" python3 -c 'import sys
for i in range(int(sys.argv[2])): open("%s/f%d" % (sys.argv[1], i), "w").close()' \
			"/mnt/$v/meta" "$N_FILES" || lab_die "cannot create files on $v"
	done
	snapshot setup
	drop_caches
	for v in v3 v4; do
		lab_in_pod "$WEB" sh -c "cat /mnt/$v/cached >/dev/null; cat /mnt/$v/cached >/dev/null" ||
			lab_die "the reads of /mnt/$v/cached failed"
	done
	snapshot cache
}

# keep_writing FILE READY GO [mmap]: in the loader pod, write FILE_MIB MiB
# into FILE (with write(2), or through a shared mapping) and keep it open
# (and mapped) until GO exists.
keep_writing() {
	lab_in_pod "$LOADER" python3 -c '
import mmap, os, sys, time
path, ready, go, size, how = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) << 20, sys.argv[5]
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
if how == "mmap":
    os.ftruncate(fd, size)
    m = mmap.mmap(fd, size)
    for off in range(0, size, 4096):
        m[off:off + 4096] = b"m" * 4096
else:
    os.write(fd, b"w" * size)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.1)
if how == "mmap":
    m.close()
os.close(fd)' "$1" "$2" "$3" "$FILE_MIB" "${4:-write}" &
}

# op_column MOUNT PROC N: column N of PROC's line in MOUNT's mountstats
# (2 ops, 5 bytes sent; 0 before the first).
op_column() {
	awk -v m="$1" -v p="$2:" -v n="$3" '$1 == "device" { on = ($5 == m) }
		on && $1 == p { v = $n; exit } END { print v + 0 }' /proc/self/mountstats
}
write_bytes_sent() { op_column "$1" WRITE 5; }
written_back() { (($(write_bytes_sent "$1") >= $2)); }

# synced_by_node PHASE FILE write|mmap: the loader writes FILE on each mount
# and keeps it open; a node process runs sync; snapshot PHASE.
synced_by_node() {
	local phase=$1 file=$2 how=$3 v pids=()
	rm -f "$LAB_RUN"/wb-*
	for v in v3 v4; do
		keep_writing "/mnt/$v/$file" "$LAB_RUN/wb-$v.ready" "$LAB_RUN/wb-go" "$how"
		pids+=($!)
	done
	for v in v3 v4; do
		lab_wait 120 "the loader's $v writes ($how)" test -e "$LAB_RUN/wb-$v.ready" || lab_die "writer $v ($how)"
	done
	lab_in_cgroup "$NODE" sync
	touch "$LAB_RUN/wb-go"
	wait "${pids[@]}" || lab_die "a writer failed ($how)"
	snapshot "$phase"
}

phase_writeback() {
	local v pids=() before
	synced_by_node sync by-sync write

	# The flusher: dirty pages older than 1 s are written back within 1 s.
	sysctl -qw vm.dirty_expire_centisecs=100 vm.dirty_writeback_centisecs=100
	rm -f "$LAB_RUN"/wb-*
	pids=()
	for v in v3 v4; do
		before=$(write_bytes_sent "/mnt/$v")
		keep_writing "/mnt/$v/by-flusher" "$LAB_RUN/wb-$v.ready" "$LAB_RUN/wb-go"
		pids+=($!)
		lab_wait 120 "the loader's $v writes" test -e "$LAB_RUN/wb-$v.ready" || lab_die "writer $v"
		lab_wait 120 "the flusher to write back /mnt/$v" \
			written_back "/mnt/$v" $((before + (FILE_MIB << 20))) ||
			lab_die "the flusher did not write /mnt/$v back"
	done
	touch "$LAB_RUN/wb-go"
	wait "${pids[@]}" || lab_die "a writer failed"
	sysctl -qw vm.dirty_expire_centisecs=3000 vm.dirty_writeback_centisecs=500
	snapshot flusher

	# Through a shared mapping (the writer learnt where the page fault
	# makes a page writable), written back by the node's sync.
	synced_by_node mmap by-mmap mmap
}

# share_writer FILE UID PARITY READY GO: in the pod of $WHO, as UID, write
# every other CHUNK of a FILE_MIB MiB file (PARITY 0: the even ones, 1: the
# odd ones) and keep it open until GO exists.
CHUNK=65536
share_writer() {
	lab_in_pod "$WHO" python3 -c '
import os, sys, time
path, uid, parity, ready, go, size, chunk = sys.argv[1:8]
uid, parity, size, chunk = int(uid), int(parity), int(size) << 20, int(chunk)
os.setresgid(uid, uid, uid)
os.setresuid(uid, uid, uid)
fd = os.open(path, os.O_WRONLY)
for off in range(parity * chunk, size, 2 * chunk):
    os.pwrite(fd, b"s" * chunk, off)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.1)
os.close(fd)' "$@" "$FILE_MIB" "$CHUNK" &
}

# Two pods write one file, interleaved in 64 KiB chunks, and keep it open
# while a node process runs sync: with the same uid ("same-uid": the NFS
# client joins both opens' pages into one WRITE, charged to the writer of
# its first page) and with different uids ("other-uid": never joined).
phase_shared() {
	local v kind uid2 pids
	for kind in same-uid other-uid; do
		uid2=0
		[[ $kind == same-uid ]] || uid2=1000
		# the writers' ready files, writable by either uid
		rm -rf "$LAB_RUN/sh"
		mkdir -m 1777 "$LAB_RUN/sh"
		pids=()
		for v in v3 v4; do
			# shellcheck disable=SC2016 # sh expands $1
			lab_in_cgroup "$NODE" sh -c ': >"$1" && chmod 666 "$1"' _ "/mnt/$v/$kind" ||
				lab_die "cannot create /mnt/$v/$kind"
			WHO=$LOADER share_writer "/mnt/$v/$kind" 0 0 "$LAB_RUN/sh/$v-0" "$LAB_RUN/sh/go"
			pids+=($!)
			WHO=$WEB share_writer "/mnt/$v/$kind" "$uid2" 1 "$LAB_RUN/sh/$v-1" "$LAB_RUN/sh/go"
			pids+=($!)
		done
		for v in v3 v4; do
			lab_wait 120 "the $kind writers on $v" test -e "$LAB_RUN/sh/$v-0" -a -e "$LAB_RUN/sh/$v-1" ||
				lab_die "a $kind writer on $v"
		done
		lab_in_cgroup "$NODE" sync
		touch "$LAB_RUN/sh/go"
		wait "${pids[@]}" || lab_die "a $kind writer failed"
		snapshot "$kind"
	done
}

phase_direct() {
	local v
	for v in v3 v4; do
		lab_in_pod "$WEB" dd if=/dev/zero of="/mnt/$v/direct" bs=1M count="$FILE_MIB" \
			oflag=direct status=none || lab_die "O_DIRECT write on $v"
		lab_in_pod "$WEB" dd if="/mnt/$v/direct" of=/dev/null bs=1M iflag=direct status=none ||
			lab_die "O_DIRECT read on $v"
	done
	# The retrans phase needs its connection up (an idle one is closed
	# after 5 minutes, and a request waiting for a connection is not sent).
	lab_in_cgroup "$NODE" dd if=/mnt/rt/slow of=/dev/null bs=4k count=1 iflag=direct status=none ||
		lab_die "read on /mnt/rt"
	snapshot direct
}

# The caches dropped, nginx stats the files the node made before the first
# snapshot, in one process.
phase_metadata() {
	drop_caches
	lab_in_pod "$WEB" python3 -c 'import os, sys
for d in sys.argv[2:]:
    for i in range(int(sys.argv[1])): os.stat("%s/f%d" % (d, i))' \
		"$N_FILES" /mnt/v3/meta /mnt/v4/meta || lab_die "stat failed"
	snapshot metadata
}

# A mount of its own (nosharecache: its own superblock and rpc client) with
# a 1 s timeo and 2 retransmissions before a major timeout; mounted before
# collectd starts, like the others, so its own mount-time RPCs are in no
# window.
retrans_mount() {
	mkdir -p /mnt/rt
	timeout 180 mount -t nfs -o vers=3,nolock,hard,timeo=10,retrans=2,nosharecache \
		"$LAB_V3_SERVER:$LAB_EXPORT_DIR/export" /mnt/rt || lab_die "NFS did not mount on /mnt/rt"
	node_file /mnt/rt/slow
	modprobe sch_netem || lab_die "no sch_netem: cannot lose packets"
}

# Every packet on lo is lost for OUTAGE seconds while etcd opens and reads a
# file on /mnt/rt. Over TCP the RPC client leaves resending to TCP while the
# connection stands, so the connection is broken too (ss -K, as a reset
# would be): the client reconnects, each connect that times out is a minor
# timeout and `retrans` of them a major one, and once packets flow again the
# request is sent once more. (The lab saw the open's ACCESS take them: 2
# requests, 4 or 5 transmissions, 22 to 24 major timeouts.)
phase_retrans() {
	tc qdisc add dev lo root netem loss 100% || lab_die "tc netem failed"
	lab_in_pod "$ETCD" dd if=/mnt/rt/slow of=/dev/null bs=64k count=1 iflag=direct status=none &
	local reader=$!
	sleep 3
	ss -K dst "$LAB_V3_SERVER" dport = 2049 >/dev/null || lab_die "ss -K failed"
	sleep "$OUTAGE"
	tc qdisc del dev lo root || lab_die "tc qdisc del failed"
	wait "$reader" || lab_die "the read across the outage failed"
	snapshot retrans
}

main() {
	parse_args "$@"
	: >"$LAB_OUT/guest.tap"
	lab_base
	lab_nfs_server
	lab_node
	lab_mount v3
	lab_mount v4
	retrans_mount
	sysctl -qw kernel.bpf_stats_enabled=1 || true
	local so=${NFS_EBPF_PLUGIN:-$NFS_EBPF_REPO/.libs/nfs_ebpf.so}
	[[ -f $so ]] || lab_die "plugin not built ($so)"
	cp "$so" /usr/lib/collectd/nfs_ebpf.so
	cat >"$LAB_RUN/plugin.conf" <<-EOF
		LoadPlugin nfs_ebpf
		<Plugin nfs_ebpf>
		  AttachMode "$MODE"
		</Plugin>
	EOF
	lab_collectd_conf "$LAB_RUN/collectd.conf" "$LAB_RUN/plugin.conf"
	lab_collectd_start "$LAB_RUN/collectd.conf"
	local set
	set=$(lab_wire_set "$MODE")
	if lab_wait_log "nfs_ebpf plugin: wire level: attached [0-9]+ programs .*\\($set\\)" 180; then
		tap OK "wire level attached: $(grep -m1 -oE 'wire level: attached.*' "$LAB_OUT/collectd.log")"
	else
		tap FAIL "wire level attached"
		grep nfs_ebpf "$LAB_OUT/collectd.log" | tail -n 20
		lab_die "the wire level did not attach"
	fi
	phase_lease
	# Every mount walked once: the first RPCs of each in the setup window.
	ls -l /mnt/v3 /mnt/v3-ro /mnt/v4 /mnt/v4-ro /mnt/rt >/dev/null

	phase_cache
	phase_writeback
	phase_shared
	phase_direct
	phase_metadata
	phase_retrans

	python3 -c 'import json, sys; json.dump({"phases": sys.argv[2:]}, open(sys.argv[1], "w"))' \
		"$LAB_OUT/wire-phases.json" "${PHASES[@]}"
	cp "$LAB_RUN/node.json" "$LAB_OUT/node.json"
	# For the record: what the wire level learnt, and what each program
	# cost (kernel.bpf_stats_enabled: run time and runs per program).
	bpftool map dump name client_mounts >"$LAB_OUT/wire-client_mounts.txt" 2>&1 || true
	bpftool -j prog show >"$LAB_OUT/wire-progs.json" 2>/dev/null || true
	lab_collectd_stop
	tap OK "guest ran every phase (${#PHASES[@]} snapshots)"
}

main "$@"
