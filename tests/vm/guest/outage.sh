#!/bin/bash
# Fault scenario inside a lab VM (run by run-vm.sh, chosen by lab.sh's cell
# word guest=outage): the NFS server stops answering for OUTAGE seconds
# under a hard mount while a pod has calls in flight.
#
#   outage.sh --mode fentry|kprobe|auto [--order ...] [--outage SECONDS]
#             [--readers N]
#
# The server is stopped for real: every knfsd thread ends (rpc.nfsd 0), so
# the client's connection is closed and refused; the mount is hard, so the
# client keeps trying. Then N reader threads of pod shop/web-0/nginx each
# start one O_DIRECT read and sleep in nfs_file_read (N is above the kprobe
# mode's default kretprobe maxactive, 2 x CPUs and at least 10) until the
# server is started again (rpc.nfsd 4). (Freezing the exported file system
# instead deadlocked the thaw against writeback on Debian's 6.1.)
#
# Asserted (guest.tap):
#  - during the outage collectd's read callback keeps running: the plugin's
#    own values and the load plugin's get new timestamps, and collectd never
#    says the plugin's read took longer than its interval;
#  - after it, each stuck call is counted exactly once: as a read with its
#    whole latency (every counted read in the bucket above the outage, the
#    latency sum at least reads x outage) or, in kprobe mode, as
#    missed_return for a return no kretprobe instance was left to see, or
#    for a return program the kernel skipped, or as missed_entry for an
#    entry program the kernel skipped (each skip is in that program's
#    recursion_misses: on a preemptible kernel, a reader preempted inside
#    the program makes the next reader on that CPU skip it); in fentry
#    mode missed_entry and missed_return equal those skips; no
#    start_map_full;
#  - a second, short stall of as many readers: with MaxEntries 64 the
#    first round's missed returns must not have filled the map of calls in
#    flight (start_map_full stays 0) and the count is exact again.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

MODE=auto OUTAGE=60 READERS=40
STALL_DIR=/mnt/stall
POD=shop/web-0/nginx
check() { # check TEXT CMD...: a TAP line for CMD's status
	local text=$1
	shift
	if "$@"; then tap OK "$text"; else tap FAIL "$text"; fi
}

parse_args() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		--mode) MODE=$2; shift 2 ;;
		--order | --expect-mode) shift 2 ;; # lab.sh's cell words: not used here
		--outage) OUTAGE=$2; shift 2 ;;
		--readers) READERS=$2; shift 2 ;;
		*) lab_die "unknown argument $1" ;;
		esac
	done
	case $MODE in auto | kprobe | fentry) ;; *) lab_die "bad --mode $MODE" ;; esac
}

# A hard v3 mount of the read-write export, with files to read.
stall_mount() {
	mkdir -p "$STALL_DIR"
	timeout 180 mount -t nfs -o vers=3,nolock,hard \
		"$LAB_V3_SERVER:$LAB_EXPORT_DIR/export" "$STALL_DIR" || lab_die "NFS did not mount"
	local i
	for i in $(seq 0 $((READERS - 1))); do
		head -c 4096 /dev/zero >"$STALL_DIR/read-$i"
	done
	sync
	lab_log "hard v3 mount: $(awk -v m="$STALL_DIR" '$5==m' /proc/self/mountinfo | sed 's/.* - //')"
}

# For the log: records of calls in flight, and how often the read
# programs ran (kernel.bpf_stats_enabled is set in main).
bpf_diag() {
	local id
	for id in $(bpftool map show 2>/dev/null | sed -nE 's/^([0-9]+): hash  name op_starts .*/\1/p'); do
		lab_log "round $1: op_starts (map $id) holds $(bpftool map dump id "$id" 2>/dev/null | grep -c '"key"\|^key') records"
	done
	bpftool prog show 2>/dev/null | grep -A1 -E 'name (kprobe|kretprobe|fentry|fexit)_nfs_file_r|reap_exited' |
		sed -n 's/^\([0-9]*\): .* name \([a-z_]*\) .*run_cnt \([0-9]*\).*/lab: prog \2 run_cnt \3/p' || true
	grep -h . /sys/kernel/debug/kprobes/list 2>/dev/null | grep nfs_file_read | sed 's/^/lab: kprobes: /' || true
}

# prog_skips FILE: "ENTRY RETURN" into FILE: the kernel's recursion_misses
# of the program on nfs_file_read's entry (fentry or kprobe), and of the
# one on its return (fexit or kretprobe).
prog_skips() {
	local entry ret
	entry=$(lab_prog_skips fentry_nfs_file_read kprobe_nfs_file_read) &&
		ret=$(lab_prog_skips fexit_nfs_file_read kretprobe_nfs_file_read) ||
		lab_die "bpftool prog show failed"
	echo "$entry $ret" >"$1"
}

# Threads of process $1 in state D (uninterruptible: waiting for NFS).
threads_in_d() {
	local n=0 s
	for s in /proc/"$1"/task/*/stat; do
		[[ $(sed -E 's/^.*\) (.).*/\1/' "$s" 2>/dev/null) == D ]] && n=$((n + 1))
	done
	echo "$n"
}
all_in_d() { (($(threads_in_d "$1") >= $2)); }

# stall ROUND SECONDS: stop the server, let READERS calls get stuck, keep
# it stopped SECONDS more (checking collectd meanwhile), start it again,
# wait for every caller. Writes the outage in ms to $LAB_RUN/ROUND/ms.
stall() {
	local round=$1 seconds=$2 r=$LAB_RUN/$1 rpid t0 t1
	mkdir -p "$r"
	lab_in_pod "$POD" python3 "$LAB_GUEST_DIR/stall_io.py" --op read --threads "$READERS" \
		--dir "$STALL_DIR" --ready "$r/readers.ready" --go "$r/readers.go" \
		--out "$LAB_OUT/stall-$round-readers.json" >"$LAB_OUT/stall-$round-readers.log" 2>&1 &
	rpid=$!
	lab_wait 120 "stall readers ready" test -e "$r/readers.ready" ||
		lab_die "stall readers did not get ready"
	lab_scrape "$LAB_OUT/stall-$round-before.txt" || lab_die "scrape failed"
	prog_skips "$r/skips-before"

	rpc.nfsd 0 || lab_die "rpc.nfsd 0 failed"
	lab_wait 60 "knfsd to stop" grep -qx 0 /proc/fs/nfsd/threads || lab_die "knfsd did not stop"
	touch "$r/readers.go"
	# (rpid is the shell that runs it; the ready file names the process.)
	local readers_pid
	readers_pid=$(cat "$r/readers.ready")
	lab_wait 120 "$READERS readers stuck in NFS" all_in_d "$readers_pid" "$READERS" ||
		lab_die "the readers did not all block ($(threads_in_d "$readers_pid") in D)"
	t0=$(date +%s%N)
	lab_log "round $round: server stopped, $READERS readers stuck"
	bpf_diag "$round"
	if ((seconds >= 3 * LAB_INTERVAL + 10)); then
		sleep 3
		lab_scrape "$LAB_OUT/stall-$round-during-a.txt" || lab_die "scrape during the outage failed"
		sleep $((3 * LAB_INTERVAL + 1))
		lab_scrape "$LAB_OUT/stall-$round-during-b.txt" || lab_die "scrape during the outage failed"
		check "round $round: during the outage collectd keeps reading (nfs_ebpf and load values get new timestamps)" \
			python3 - "$LAB_OUT/stall-$round-during-a.txt" "$LAB_OUT/stall-$round-during-b.txt" <<-'EOF'
				import re, sys
				def stamps(p):
				    out = {}
				    for line in open(p):
				        m = re.match(r'^(collectd_load_shortterm|collectd_nfs_ebpf_derive_total)\{(.*)\} \S+ (\d+)\s*$', line)
				        if m and (m.group(1) != "collectd_nfs_ebpf_derive_total" or 'missed_return' in m.group(2)):
				            out[m.group(1)] = int(m.group(3))
				    return out
				a, b = stamps(sys.argv[1]), stamps(sys.argv[2])
				print("# timestamps before", a, "after", b)
				sys.exit(0 if len(a) == 2 and all(b.get(k, 0) > v for k, v in a.items()) else 1)
			EOF
	fi
	while (($(date +%s%N) - t0 < seconds * 1000000000)); do sleep 1; done
	rpc.nfsd 4 || lab_die "rpc.nfsd 4 failed"
	t1=$(date +%s%N)
	lab_log "round $round: server back after $(((t1 - t0) / 1000000)) ms"
	lab_wait $((OUTAGE + 240)) "stuck readers to finish" bash -c "! kill -0 $rpid" || lab_die "readers still stuck"
	wait "$rpid" || lab_die "a reader failed (see stall-$round-readers.log)"
	bpf_diag "$round"
	prog_skips "$r/skips-after"
	echo $(((t1 - t0) / 1000000)) >"$r/ms"
}

# verify ROUND OUTAGE_MS: compare the settled scrape with the round's start.
verify() {
	local round=$1 ms=$2
	lab_scrape_settled "$LAB_OUT/stall-$round-after.txt" 120 \
		'^collectd_nfs_ebpf_[a-z0-9_]+\{nfs_ebpf="(shop_web-0_nginx|missed|start_map)'
	python3 - "$LAB_OUT/stall-$round-before.txt" "$LAB_OUT/stall-$round-after.txt" \
		"$round" "$ms" "$READERS" "$MODE" "$(cat "$LAB_OUT/attached-mode")" \
		"$(cat "$LAB_RUN/$round/skips-before")" "$(cat "$LAB_RUN/$round/skips-after")" \
		>>"$LAB_OUT/guest.tap.$round" <<-'EOF'
		import re, sys
		before, after, rnd, ms, readers, mode, got, skips0, skips1 = sys.argv[1:]
		ms, readers = int(ms), int(readers)
		# The kernel's skips of the entry and the return program this round.
		skips, ret_skips = (int(b) - int(a) for a, b in zip(skips0.split(), skips1.split()))
		def load(p):
		    out = {}
		    for line in open(p):
		        m = re.match(r'^(collectd_nfs_ebpf_\w+)\{(.*)\} (\S+)', line)
		        if not m:
		            continue
		        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
		        out[(m.group(1), labels.get("nfs_ebpf", ""), labels.get("type", ""))] = float(m.group(3))
		    return out
		a, b = load(before), load(after)
		def delta(name, who, typ):
		    # name: a regex matching the whole metric name
		    hits = [k for k in b if re.fullmatch(name, k[0]) and k[1] == who and re.match(typ, k[2])]
		    return sum(b[k] - a.get(k, 0.0) for k in hits), len(hits)
		def lost(reason):
		    # Lost events have no type label: the reason is the nfs_ebpf one.
		    return delta("collectd_nfs_ebpf_derive_total", reason, "^$")[0]
		n = 0
		def tap(ok, text):
		    global n
		    n += 1
		    print("%s %d - round %s (%s): %s" % ("ok" if ok else "not ok", n, rnd, got, text))
		on_export = r'@127\.0\.0\.1:\|srv\|nfs\|export$'
		reads, found = delta("collectd_nfs_ebpf_operations_total", "shop_web-0_nginx", "^read" + on_export)
		# The <= 50 s bucket: data source le_50 of the bucket type for
		# `Bucket 1 50` (nfs_ebpf_buckets_<hex>, docs/identifiers.md).
		le50, le50_found = delta(r"collectd_nfs_ebpf_nfs_ebpf_buckets(_[0-9a-f]{8})?_le_50_total",
		                         "shop_web-0_nginx", "^read" + on_export)
		lsum, _ = delta("collectd_nfs_ebpf_duration_seconds", "shop_web-0_nginx", "^read" + on_export)
		mret, ment, full = lost("missed_return"), lost("missed_entry"), lost("start_map_full")
		tap(found == 1, "the pod's reads on the stopped export are one series")
		tap(reads + mret + ment == readers,
		    "%d stuck reads counted exactly once: %d reads + %d missed_return + %d missed_entry"
		    % (readers, reads, mret, ment))
		tap(ment == skips,
		    "missed_entry only for entries the kernel skipped: %d missed_entry, %d recursion_misses "
		    "of the entry program" % (ment, skips))
		tap(("collectd_nfs_ebpf_derive_total", "start_map_full", "") in b and
		    b[("collectd_nfs_ebpf_derive_total", "start_map_full", "")] == 0,
		    "no start_map_full with MaxEntries 64 (got %d this round)" % full)
		if got == "kprobe":
		    tap(mret > 0, "more sleeping readers than kretprobe instances: %d returns missed, each "
		        "counted once when its thread exited" % mret)
		else:
		    tap(mret == ret_skips and reads + ment + mret == readers,
		        "fentry/fexit: every stuck read counted as a read but for the kernel's skips: "
		        "%d missed_return, %d recursion_misses of the return program" % (mret, ret_skips))
		if ms >= 50000:
		    tap(reads > 0 and le50_found == 1 and le50 == 0,
		        "every counted read took longer than 50 s (%d in the <= 50 s bucket, %d series)"
		        % (le50, le50_found))
		    tap(lsum >= reads * ms / 1000.0,
		        "latency sum %.1f s >= %d reads x %.1f s outage" % (lsum, reads, ms / 1000.0))
		sys.exit(0)
	EOF
	lab_retap "$LAB_OUT/guest.tap.$round" || tap FAIL "round $round: the check ran (see guest.tap.$round)"
}

main() {
	parse_args "$@"
	: >"$LAB_OUT/guest.tap"
	rm -f "$LAB_OUT"/guest.tap.*
	lab_base
	lab_nfs_server
	lab_node
	stall_mount
	local so=${NFS_EBPF_PLUGIN:-$NFS_EBPF_REPO/.libs/nfs_ebpf.so}
	[[ -f $so ]] || lab_die "plugin not built ($so)"
	cp "$so" /usr/lib/collectd/nfs_ebpf.so
	cat >"$LAB_RUN/plugin.conf" <<-EOF
		LoadPlugin load
		LoadPlugin nfs_ebpf
		<Plugin nfs_ebpf>
		  AttachMode "$MODE"
		  MaxEntries 64
		  Bucket 1 50
		</Plugin>
	EOF
	sysctl -qw kernel.bpf_stats_enabled=1 || true
	lab_collectd_conf "$LAB_RUN/collectd.conf" "$LAB_RUN/plugin.conf"
	lab_collectd_start "$LAB_RUN/collectd.conf"
	lab_wait_log 'nfs_ebpf plugin: attached [0-9]+ programs to nfs \(' 180 ||
		lab_die "plugin did not attach to nfs"
	grep -m1 -E 'nfs_ebpf plugin: attached [0-9]+ programs to nfs \(' "$LAB_OUT/collectd.log" |
		sed -E 's/.*\((\w+)\).*/\1/' >"$LAB_OUT/attached-mode"
	tap OK "plugin attached to nfs ($(cat "$LAB_OUT/attached-mode"), AttachMode $MODE)"
	# Give the attach a read to settle, so no call of the set-up straddles it.
	sleep $((2 * LAB_INTERVAL))

	stall 1 "$OUTAGE"
	verify 1 "$(cat "$LAB_RUN/1/ms")"
	stall 2 0
	verify 2 "$(cat "$LAB_RUN/2/ms")"

	if grep -qE "read-function of the .nfs_ebpf' plugin took" "$LAB_OUT/collectd.log"; then
		tap FAIL "collectd never reports the plugin's read as slower than its interval"
		grep -E "plugin took" "$LAB_OUT/collectd.log" | head -n 3
	else
		tap OK "collectd never reports the plugin's read as slower than its interval"
	fi
	check "collectd still running after the outage" kill -0 "$LAB_COLLECTD_PID"
	lab_collectd_stop
	! grep -q '^not ok' "$LAB_OUT/guest.tap"
}

main "$@"
