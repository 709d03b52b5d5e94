#!/usr/bin/env bash
# Install what building and testing umove needs, on Debian, if it is missing.
# Safe to run again: it only calls apt-get when a package is absent.
set -euo pipefail

need=(make gcc clang clang-format pkg-config libcriterion-dev valgrind liblz4-dev liburing-dev
	libmemcached-dev memcached)
missing=()
for pkg in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
