#!/bin/bash
# Boot one Debian kernel under qemu TCG with the host's / as a read-only
# root (tmpfs overlay on top), run GUEST_SCRIPT inside as root and bring its
# exit status and logs back.
#
#   tests/vm/run-vm.sh KVER GUEST_SCRIPT OUTDIR [ARGS...]
#
# OUTDIR (created if missing) is shared writable and is /vmout in the guest.
# It receives console.log (serial console), guest.log (the script's output),
# exit-status, and whatever the script writes there. The exit status of
# run-vm.sh is the script's, or 2..5 when the VM itself failed (the reason
# is printed). Environment passed into the guest: every NFS_EBPF_* variable.
#
# Knobs: NFS_EBPF_VM_TIMEOUT (seconds, default 900), NFS_EBPF_VM_MEM (MiB,
# default 2048), NFS_EBPF_VM_SMP (default 2), NFS_EBPF_VM_CACHE,
# NFS_EBPF_VM_BOOT_TIMEOUT (seconds for the kernel to reach /init, default
# 300) and NFS_EBPF_VM_BOOT_TRIES (boots tried, default 2).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${NFS_EBPF_VM_CACHE:-/var/cache/nfs_ebpf-vm}
TIMEOUT=${NFS_EBPF_VM_TIMEOUT:-900}
MEM=${NFS_EBPF_VM_MEM:-2048}
SMP=${NFS_EBPF_VM_SMP:-2}
BOOT_TIMEOUT=${NFS_EBPF_VM_BOOT_TIMEOUT:-300}
BOOT_TRIES=${NFS_EBPF_VM_BOOT_TRIES:-2}

die() { echo "run-vm: $*" >&2; exit 2; }

# Write the script that /init execs after switch_root: module tree, env,
# the guest script with its output teed to guest.log, exit status, poweroff.
write_job() {
	local job=$1 kver=$2 script=$3
	shift 3
	local v
	{
		echo '#!/bin/bash'
		echo 'set -uo pipefail'
		echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
		echo 'export HOME=/root LANG=C.UTF-8'
		printf 'export NFS_EBPF_VM_KVER=%q\n' "$kver"
		printf 'export NFS_EBPF_VM_CACHE=%q\n' "$CACHE"
		printf 'export NFS_EBPF_REPO=%q\n' "$(cd "$HERE/../.." && pwd)"
		for v in $(compgen -e); do
			case $v in
			NFS_EBPF_VM_KVER | NFS_EBPF_VM_CACHE | NFS_EBPF_REPO) ;;
			NFS_EBPF_*) printf 'export %s=%q\n' "$v" "${!v}" ;;
			esac
		done
		cat <<-'EOF'
			# The guest's modprobe looks in /lib/modules/<kver>: bind the
			# unpacked package's tree there (the overlay makes the dir).
			mods=$NFS_EBPF_VM_CACHE/$NFS_EBPF_VM_KVER/lib/modules/$NFS_EBPF_VM_KVER
			mkdir -p "/lib/modules/$NFS_EBPF_VM_KVER"
			if ! mount --bind "$mods" "/lib/modules/$NFS_EBPF_VM_KVER"; then
				echo "nfs_ebpf-vm: FATAL: cannot bind $mods"
				poweroff -f
			fi
			hostname nfs-ebpf-vm
			cd /vmout
			echo "nfs_ebpf-vm: guest script starting"
		EOF
		printf '%q ' "$script" "$@"
		echo '2>&1 </dev/null | tee /vmout/guest.log'
		cat <<-'EOF'
			rc=${PIPESTATUS[0]}
			echo "$rc" >/vmout/exit-status.tmp && mv /vmout/exit-status.tmp /vmout/exit-status
			echo "nfs_ebpf-vm: guest script exited $rc"
			sync
			poweroff -f
		EOF
	} >"$job"
}

# Explain a VM that produced no exit status, from the console markers.
diagnose() {
	local console=$1 qrc=$2
	if ! grep -q 'nfs_ebpf-vm: init started' "$console" 2>/dev/null; then
		if grep -q 'Kernel panic' "$console" 2>/dev/null; then
			echo "kernel did not boot: $(grep -m1 'Kernel panic' "$console")"
		else
			echo "kernel did not boot (no output from /init; qemu exit $qrc)"
		fi
	elif grep -q 'nfs_ebpf-vm: FATAL' "$console"; then
		grep -m1 'nfs_ebpf-vm: FATAL' "$console" | sed 's/^.*FATAL: /guest setup failed: /'
	elif ! grep -q 'nfs_ebpf-vm: guest script starting' "$console"; then
		echo "root switch failed (no guest script start)"
	elif [[ $qrc == 124 ]]; then
		echo "guest script did not finish within ${TIMEOUT}s (killed)"
	else
		echo "VM stopped before the guest script finished (qemu exit $qrc)"
	fi
}

# qemu's status when the boot watchdog stopped a kernel that never
# reached /init (timeout(1)'s own codes are 124..127 and 137).
BOOT_HUNG=200

# Boot once and wait for the guest. Returns qemu's exit status (124: the
# VM timeout), or BOOT_HUNG when /init's first console line did not come
# within BOOT_TIMEOUT seconds (the VM is stopped then).
boot() {
	local kver=$1 kdir=$2 initrd=$3 outdir=$4 name=$5 pid qrc=0
	local start=$SECONDS hung=0
	echo "run-vm: booting $kver for $name (timeout ${TIMEOUT}s)" >&2
	# TCG: KVM hangs on this nested host. -no-reboot + panic=-1 turn a
	# panic into a qemu exit instead of a reboot loop. no_timer_check: on a
	# busy host the emulated timer can miss the kernel's IO-APIC boot check,
	# which then panics ("IO-APIC + timer doesn't work!").
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
		-accel tcg -cpu max -m "$MEM" -smp "$SMP" \
		-display none -monitor none -no-reboot \
		-serial "file:$outdir/console.log" \
		-kernel "$kdir/boot/vmlinuz-$kver" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 no_timer_check" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$outdir,mount_tag=out,security_model=none,multidevs=remap" \
		</dev/null >"$outdir/.vm/qemu.log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null &&
		! grep -q 'nfs_ebpf-vm: init started' "$outdir/console.log" 2>/dev/null; do
		if ((SECONDS - start >= BOOT_TIMEOUT)); then
			hung=1
			kill -TERM "$pid" 2>/dev/null || true # timeout(1) passes it on
			break
		fi
		sleep 1
	done
	((hung)) || ! grep -q 'nfs_ebpf-vm: init started' "$outdir/console.log" 2>/dev/null ||
		echo "run-vm: $kver reached /init after $((SECONDS - start))s" >&2
	wait "$pid" || qrc=$?
	echo "run-vm: $kver finished in $((SECONDS - start))s" >&2
	if ((hung)); then return "$BOOT_HUNG"; fi
	return "$qrc"
}

main() {
	[[ $# -ge 3 ]] || die "usage: $0 KVER GUEST_SCRIPT OUTDIR [ARGS...]"
	local kver=$1 script=$2 outdir=$3
	shift 3
	local kdir=$CACHE/$kver
	[[ -f $kdir/boot/vmlinuz-$kver ]] ||
		die "kernel $kver not in $CACHE (run tests/vm/fetch-kernels.sh)"
	[[ -x $script ]] || die "guest script $script is not executable"
	script=$(realpath "$script")
	command -v qemu-system-x86_64 >/dev/null ||
		die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"

	mkdir -p "$outdir/.vm"
	outdir=$(realpath "$outdir")
	rm -f "$outdir/exit-status" "$outdir/console.log" "$outdir/guest.log"
	local initrd
	initrd=$("$HERE/make-initramfs.sh" "$kver") || die "initramfs for $kver failed"
	write_job "$outdir/.vm/job.sh" "$kver" "$script" "$@"

	local try qrc why
	for ((try = 1; ; try++)); do
		qrc=0
		boot "$kver" "$kdir" "$initrd" "$outdir" "$(basename "$script")" || qrc=$?
		# A kernel that never reaches /init has not run a line of the
		# project yet: what stopped it is the emulator. Seen in labs of
		# hundreds of boots: no console output at all (the kernel stuck
		# before its first line), and on 6.12 "Oops: int3" in
		# sched_clock_tick at 3.7 s, a CPU running a jump label that
		# another CPU was patching (MTTCG and cross-modifying code). Boot
		# again; a panic or a hang after /init is the guest's and is not
		# retried.
		if [[ $qrc == "$BOOT_HUNG" ]]; then
			why="no output from /init after ${BOOT_TIMEOUT}s"
		elif ! grep -q 'nfs_ebpf-vm: init started' "$outdir/console.log" 2>/dev/null; then
			why=$(diagnose "$outdir/console.log" "$qrc")
		else
			break
		fi
		((try < BOOT_TRIES)) || break
		echo "run-vm: $kver: $why; booting again (try $((try + 1)) of $BOOT_TRIES)" >&2
		mv "$outdir/console.log" "$outdir/console.$try.log" 2>/dev/null || true
	done
	[[ $qrc != "$BOOT_HUNG" ]] ||
		echo "run-vm: $kver: no output from /init after ${BOOT_TIMEOUT}s; stopped" >&2

	if [[ ! -s $outdir/exit-status ]]; then
		echo "run-vm: $kver: $(diagnose "$outdir/console.log" "$qrc")" >&2
		echo "run-vm: last console lines ($outdir/console.log):" >&2
		tail -n 25 "$outdir/console.log" >&2 || true
		[[ ! -s $outdir/.vm/qemu.log ]] || cat "$outdir/.vm/qemu.log" >&2
		exit 3
	fi
	local rc
	rc=$(cat "$outdir/exit-status")
	[[ $rc =~ ^[0-9]+$ ]] || die "unreadable exit status '$rc'"
	echo "run-vm: $kver: guest script exited $rc" >&2
	exit "$rc"
}

main "$@"
