#!/bin/bash
# wire_probe inside one lab VM (started by run.sh through tests/vm/run-vm.sh):
# knfsd, NFSv3 and NFSv4.2 mounts, the probe attached, then per version:
#   1. "writer" writes 4 MiB into an open file and keeps it open while
#      "syncer" runs sync(1): the flusher's WRITEs and COMMIT;
#   2. "reader" reads a file after the page cache was dropped (READ);
#   3. "reader" lists the mount after the caches were dropped (metadata);
#   4. "syncer" writes 1 MiB with dd conv=fsync (WRITEs in its own context).
# Then report.py compares the probe with /proc/self/mountstats and prints
# who was charged.
#
#   guest.sh --bin DIR   (DIR holds wire_probe and wire_probe.bpf.o)
set -uo pipefail
# shellcheck source=../../vm/guest/lib.sh
source "$NFS_EBPF_REPO/tests/vm/guest/lib.sh"

BIN=""
lab_options "BIN" "$@"
[[ -x $BIN/wire_probe && -f $BIN/wire_probe.bpf.o ]] || lab_die "wire_probe missing in '$BIN'"

lab_base
lab_nfs_server
lab_mount v3
lab_mount v4
CG=$LAB_CGROUP_ROOT
for g in writer syncer reader; do
	mkdir -p "$CG/$g"
	echo "cgroup $(stat -c %i "$CG/$g") $g"
done | tee "$LAB_OUT/cgroups.txt"
echo "cgroup $(stat -c %i "$CG") root" >>"$LAB_OUT/cgroups.txt"

mkfifo /run/wire_probe.in
"$BIN/wire_probe" "$BIN/wire_probe.bpf.o" /run/wire_probe.ready \
	</run/wire_probe.in >"$LAB_OUT/charged.tsv" 2>"$LAB_OUT/wire_probe.err" &
probe=$!
exec 9>/run/wire_probe.in
lab_wait 300 "wire_probe attached" test -e /run/wire_probe.ready ||
	{ tail -30 "$LAB_OUT/wire_probe.err"; lab_die "wire_probe did not attach"; }
cp /proc/self/mountstats "$LAB_OUT/mountstats.before"

for v in v3 v4; do
	rm -f /run/wrote /run/go
	lab_in_cgroup writer python3 -c '
import os, sys, time
f = open(sys.argv[1], "wb")
f.write(b"w" * (4 << 20))
f.flush()
open("/run/wrote", "w").close()
while not os.path.exists("/run/go"):
    time.sleep(0.1)
f.close()' "/mnt/$v/written" &
	writer=$!
	lab_wait 120 "the writer's 4 MiB" test -e /run/wrote || lab_die "writer"
	lab_in_cgroup syncer sync
	touch /run/go
	wait "$writer" || lab_die "writer failed"
	echo 3 >/proc/sys/vm/drop_caches
	lab_in_cgroup reader cat "/mnt/$v-ro/data" >/dev/null
	echo 3 >/proc/sys/vm/drop_caches
	lab_in_cgroup reader ls -lR "/mnt/$v" >/dev/null
	lab_in_cgroup syncer dd if=/dev/zero of="/mnt/$v/synced" bs=64k count=16 conv=fsync status=none
done

cp /proc/self/mountstats "$LAB_OUT/mountstats.after"
echo dump >&9
exec 9>&-
wait "$probe" || lab_die "wire_probe failed: $(tail -3 "$LAB_OUT/wire_probe.err")"
python3 "$(dirname "$0")/report.py" "$LAB_OUT"
