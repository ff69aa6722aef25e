#!/bin/bash
# One style everywhere: every C file of the project (src/, bpf/, tests/,
# tools/) is as clang-format formats it with the repository's .clang-format.
# One TAP line per file; a file that differs fails with the first lines of
# the difference. Reformat with:
#   clang-format -i $(git ls-files '*.c' '*.h')
set -uo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
	echo "not ok 1 - clang-format is not installed (apt-get install clang-format)"
	exit 1
fi
if [ ! -f .clang-format ]; then
	echo "not ok 1 - .clang-format is missing at the top of the tree"
	exit 1
fi
n=0 failed=0
# The tracked C files (bpf/vmlinux_min.h, our subset of the kernel's
# types, included); fixtures are data.
while IFS= read -r f; do
	n=$((n + 1))
	if d=$(clang-format --style=file "$f" | diff -u "$f" - | head -n 12) && [ -z "$d" ]; then
		echo "ok $n - $f is formatted"
	else
		failed=$((failed + 1))
		echo "not ok $n - $f differs from clang-format's output"
		printf '%s\n' "$d" | sed 's/^/# /'
	fi
done < <(git ls-files 'src/*.[ch]' 'bpf/*.[ch]' 'tests/*.[ch]' 'tools/*.[ch]' |
	grep -v '^tests/fixtures/')
echo "1..$n"
[ "$failed" -eq 0 ]
