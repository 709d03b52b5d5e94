#!/usr/bin/env bash
# Install into a scratch prefix and build the examples the way a user would:
# with only the installed header, the libraries and pkg-config. Catches a
# header that works only inside the tree.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=$(mktemp -d /tmp/umove-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
make -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
for ex in examples/*.c; do
	bin="$prefix/$(basename "$ex" .c)"
	# shellcheck disable=SC2046
	cc -std=gnu11 -Wall -Wextra -Werror "$ex" -o "$bin" $(pkg-config --cflags --libs umove)
	LD_LIBRARY_PATH="$prefix/lib" timeout 60 "$bin" >/dev/null
	echo "install-check: $ex builds against the installed library and runs"
done
test -x "$prefix/bin/umove" && "$prefix/bin/umove" --version >/dev/null
# Every function the library exports has an installed man page.
missing=0
for fn in $(nm -D --defined-only "$prefix/lib/libumove.so" | awk '$2 == "T" && $3 ~ /^umove_/ { sub(/@.*/, "", $3); print $3 }'); do
	if ! MANPATH="$prefix/share/man" man -w 3 "$fn" >/dev/null 2>&1; then
		echo "install-check: no man page for $fn"
		missing=1
	fi
done
[ "$missing" = 0 ]
echo "install-check: header, libraries, umove.pc, CLI and man pages installed"
