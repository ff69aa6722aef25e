#!/bin/bash
# Install the Debian packages listed in tests/deps.txt that are missing.
# Usage: tests/lib/install-deps.sh [DEPS_FILE]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
deps_file=${1:-$here/tests/deps.txt}

mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$deps_file" | grep -v '^$')
missing=()
for p in "${wanted[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "# deps: all ${#wanted[@]} packages present"
	exit 0
fi
echo "# deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages and not root: apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
