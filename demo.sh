#!/bin/bash
# Demo: install what is missing, build the plugin, then show it at work on
# real kernels with real NFS in the VM lab (tests/vm/demo.sh).
#   ./demo.sh            (SKIP_DEPS=1 to skip the package check)
set -euo pipefail
cd "$(dirname "$0")"
t0=$(date +%s)
if [ "${SKIP_DEPS:-0}" != 1 ]; then
	tests/lib/install-deps.sh
fi
t1=$(date +%s)
echo "== build"
{ ./autogen.sh && ./configure && make -j"$(nproc)"; } >demo-build.log 2>&1 || {
	tail -40 demo-build.log
	echo "build failed (see demo-build.log)" >&2
	exit 1
}
t2=$(date +%s)
echo "# deps $((t1 - t0)) s, build $((t2 - t1)) s"
if [ ! -f tests/vm/demo.sh ]; then
	echo "tests/vm/demo.sh is missing" >&2
	exit 1
fi
bash tests/vm/demo.sh "$@"
echo "# demo total $(($(date +%s) - t0)) s"
