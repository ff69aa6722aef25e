#!/bin/bash
# run-vm.sh's boot watchdog, with a stand-in qemu first in PATH and a copy
# of run-vm.sh beside a stand-in make-initramfs.sh (no kernel is booted).
# The stand-in qemu either never writes a console line (a TCG boot stuck
# before /init), panics before /init (the kernel's panic line, then exits),
# reaches /init and runs the guest (writes the console markers and an exit
# status), or reaches /init and then hangs (a guest script that never
# ends). Its STANDIN_PLAN file lists one behaviour per
# boot, in order.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/vm" "$tmp/cache/9.9/boot"
touch "$tmp/cache/9.9/boot/vmlinuz-9.9"
cp "$HERE/run-vm.sh" "$tmp/vm/"
printf '#!/bin/sh\necho /dev/null\n' >"$tmp/vm/make-initramfs.sh"
printf '#!/bin/sh\nexit 0\n' >"$tmp/guest.sh"
chmod +x "$tmp/vm/make-initramfs.sh" "$tmp/guest.sh"
cat >"$tmp/bin/qemu-system-x86_64" <<'STANDIN'
#!/bin/bash
console='' out=''
for a in "$@"; do
	case $a in
	file:*) console=${a#file:} ;;
	local,path=*,mount_tag=out,*) out=${a#local,path=} out=${out%%,*} ;;
	esac
done
echo boot >>"$STANDIN_DIR/boots"
n=$(wc -l <"$STANDIN_DIR/boots")
case $(sed -n "${n}p" "$STANDIN_DIR/plan") in
hang-before-init) : >"$console"; exec sleep 600 ;;
panic-before-init)
	printf '[    3.711991] Kernel panic - not syncing: Fatal exception in interrupt\n' >"$console"
	exit 0
	;;
hang-in-guest)
	echo 'nfs_ebpf-vm: init started (9.9)' >"$console"
	echo 'nfs_ebpf-vm: guest script starting' >>"$console"
	exec sleep 600
	;;
*)
	echo 'nfs_ebpf-vm: init started (9.9)' >"$console"
	echo 'nfs_ebpf-vm: guest script starting' >>"$console"
	echo 0 >"$out/exit-status"
	;;
esac
STANDIN
chmod +x "$tmp/bin/qemu-system-x86_64"

# Long enough for the stand-in to write its first console line however
# busy the machine; only the stuck boots wait for it.
BOOT_TIMEOUT=5

# run NAME PLAN... : one run-vm.sh with that boot plan; sets rc and boots.
run() {
	local name=$1
	shift
	mkdir -p "$tmp/$name"
	printf '%s\n' "$@" >"$tmp/$name/plan"
	rc=0
	STANDIN_DIR=$tmp/$name PATH="$tmp/bin:$PATH" NFS_EBPF_VM_CACHE=$tmp/cache \
		NFS_EBPF_VM_BOOT_TIMEOUT=$BOOT_TIMEOUT NFS_EBPF_VM_TIMEOUT=${VM_TIMEOUT:-60} \
		bash "$tmp/vm/run-vm.sh" 9.9 "$tmp/guest.sh" "$tmp/$name/out" \
		2>"$tmp/$name/log" || rc=$?
	boots=$(wc -l <"$tmp/$name/boots" 2>/dev/null || echo 0)
}

n=0 failed=0
tap() { # tap 0|1 text
	n=$((n + 1))
	if [[ $1 == 0 ]]; then echo "ok $n - $2"; else
		failed=$((failed + 1))
		echo "not ok $n - $2"
	fi
}
ok() { "$@" && echo 0 || echo 1; }

run clean runs
tap "$(ok [ "$rc" = 0 -a "$boots" = 1 ])" \
	"a boot that reaches /init runs once and brings the guest's status back (rc $rc, $boots boots)"

run stuck hang-before-init runs
tap "$(ok [ "$rc" = 0 ])" "a boot stuck before /init is booted again and the guest runs (rc $rc)"
tap "$(ok [ "$boots" = 2 ])" "the stuck boot was stopped and one more started ($boots boots)"
tap "$(ok grep -q "no output from /init after ${BOOT_TIMEOUT}s; booting again (try 2 of 2)" "$tmp/stuck/log")" \
	"the retry is logged with its reason"

run stuck-twice hang-before-init hang-before-init runs
tap "$(ok [ "$rc" = 3 -a "$boots" = 2 ])" \
	"two stuck boots: the VM failure status, no third boot (rc $rc, $boots boots)"
tap "$(ok grep -q 'kernel did not boot (no output from /init' "$tmp/stuck-twice/log")" \
	"the failure says the kernel did not boot"

run panic panic-before-init runs
tap "$(ok [ "$rc" = 0 -a "$boots" = 2 ])" \
	"a kernel that panics before /init is booted again and the guest runs (rc $rc, $boots boots)"
tap "$(ok grep -q "kernel did not boot: .*Kernel panic - not syncing: Fatal exception in interrupt; booting again (try 2 of 2)" "$tmp/panic/log")" \
	"the retry names the panic"

run panic-twice panic-before-init panic-before-init runs
tap "$(ok [ "$rc" = 3 -a "$boots" = 2 ])" \
	"two panics before /init: the VM failure status, no third boot (rc $rc, $boots boots)"

VM_TIMEOUT=$((BOOT_TIMEOUT * 2)) run guest-hangs hang-in-guest runs
tap "$(ok [ "$rc" = 3 -a "$boots" = 1 ])" \
	"a guest script that hangs after /init is not booted again (rc $rc, $boots boots)"
tap "$(ok grep -q "guest script did not finish within $((BOOT_TIMEOUT * 2))s" "$tmp/guest-hangs/log")" \
	"it is reported as the guest script's timeout"

echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
((failed == 0))
