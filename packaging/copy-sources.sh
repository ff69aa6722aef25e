#!/bin/bash
# Copy this project's sources, as they are in the work tree but without
# build products, into DEST (created if needed):
#   packaging/copy-sources.sh DEST
# In a git checkout: the tracked files plus untracked ones git does not
# ignore (what a commit of the work tree would hold); elsewhere (an
# unpacked release tarball): everything but _build and .git.
# Used by packaging/deb/build.sh, packaging/rpm/build.sh and the tests.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: copy-sources.sh DEST}
mkdir -p "$dest"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
		while IFS= read -r -d '' f; do if [ -e "$src/$f" ]; then printf '%s\0' "$f"; fi; done |
		(cd "$src" && tar cf - --null --no-recursion -T -) | tar xf - -C "$dest"
else
	(cd "$src" && tar cf - --exclude=./_build --exclude=.git .) | tar xf - -C "$dest"
fi
