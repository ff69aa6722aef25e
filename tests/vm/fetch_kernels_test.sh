#!/bin/bash
# fetch-kernels.sh run twice at once (run-tests.sh starts the soak beside the
# lab, and each fetches the kernels first) must not run two apt-get updates
# on its private lists at the same time: they corrupt each other. A stand-in
# apt-get, first in PATH, notes every update that starts while another is
# running; apt-cache knows no package, so both runs then stop with "no
# linux-image package" (expected: only their overlap is checked). No network.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/cache"
cat >"$tmp/bin/apt-get" <<'FAKE'
#!/bin/bash
for a in "$@"; do
	if [[ $a == update ]]; then
		if ! mkdir "$FAKE_APT_STATE/inside" 2>/dev/null; then
			echo overlap >>"$FAKE_APT_STATE/overlaps"
		fi
		echo started >>"$FAKE_APT_STATE/updates"
		sleep 1
		rmdir "$FAKE_APT_STATE/inside" 2>/dev/null
		exit 0
	fi
done
exit 0
FAKE
printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/apt-cache"
chmod +x "$tmp/bin/apt-get" "$tmp/bin/apt-cache"
printf 'Types: deb\nURIs: http://archive.invalid/debian\nSuites: bookworm\n' >"$tmp/sources"

run() {
	FAKE_APT_STATE=$tmp PATH="$tmp/bin:$PATH" NFS_EBPF_VM_CACHE=$tmp/cache \
		NFS_EBPF_APT_SOURCES=$tmp/sources bash "$HERE/fetch-kernels.sh" >/dev/null 2>"$tmp/err.$1"
}
run 1 &
run 2 &
wait

n=0 failed=0
tap() { # tap 0|1 text
	n=$((n + 1))
	if [[ $1 == 0 ]]; then echo "ok $n - $2"; else failed=$((failed + 1)); echo "not ok $n - $2"; fi
}
count() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
updates=$(count "$tmp/updates")
tap "$([[ $updates -ge 1 ]] && echo 0 || echo 1)" "the stand-in apt-get update ran ($updates times)"
overlaps=$(count "$tmp/overlaps")
tap "$([[ $overlaps -eq 0 ]] && echo 0 || echo 1)" \
	"two fetch-kernels.sh at once never run apt-get update at the same time ($overlaps overlaps)"
tap "$(grep -q 'no linux-image package' "$tmp/err.1" && grep -q 'no linux-image package' "$tmp/err.2" && echo 0 || echo 1)" \
	"both runs went past the update (stopped at the empty package list)"
echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
((failed == 0))
