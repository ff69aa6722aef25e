#!/bin/bash
# The unit tests that load BPF (tests/unit/tracer_test), run inside a lab VM so
# that they hold on the lab's kernels and not only on the build machine's.
# Run by run-vm.sh; re-emits the test's TAP lines into /vmout/guest.tap
# (lab.sh renumbers them). A test binary that is missing or that crashes
# is a failure, never a skip.
#
#   unit-tests.sh [--mode unit] [--order ...]   (lab.sh's cell words; ignored)
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

main() {
	local bin=${NFS_EBPF_TRACER_TEST:-$NFS_EBPF_REPO/tests/unit/tracer_test} rc=0
	: >"$LAB_OUT/guest.tap"
	lab_base
	[[ -x $bin ]] || {
		echo "not ok 1 - $bin built (make check builds it)" >>"$LAB_OUT/guest.tap"
		lab_die "$bin missing"
	}
	# The binary reads nothing from the build tree; run it from a writable
	# directory so its temporary files land in the guest's overlay.
	(cd /tmp && "$bin") >"$LAB_OUT/tracer_test.log" 2>&1 || rc=$?
	grep -E '^(ok|not ok) ' "$LAB_OUT/tracer_test.log" |
		sed -E "s/^(ok|not ok) [0-9]+ - /\\1 0 - tracer_test on $(uname -r): /" >>"$LAB_OUT/guest.tap"
	grep -E '^not ok ' "$LAB_OUT/tracer_test.log" | head -n 20 || true
	if ((rc != 0)); then
		echo "not ok 0 - tracer_test on $(uname -r) exited $rc" >>"$LAB_OUT/guest.tap"
		lab_die "tracer_test exited $rc"
	fi
	echo "ok 0 - tracer_test on $(uname -r) exited 0" >>"$LAB_OUT/guest.tap"
	lab_log "tracer_test passed: $(grep -c '^ok ' "$LAB_OUT/tracer_test.log") checks"
}

main "$@"
