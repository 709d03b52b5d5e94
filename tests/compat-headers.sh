#!/usr/bin/env bash
# Build the library against newer Linux uapi headers than the system's, so
# that src/uffd_compat.h is proven never to redefine what they already have
# (Linux >= 6.8 defines struct uffdio_move). The headers come from Debian's
# linux-headers-*-common package, fetched once into build/uapi.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build/uapi
if [ ! -f "$dir/include/linux/userfaultfd.h" ]; then
	pkg=$(apt-cache search --names-only '^linux-headers-6\.[0-9]+\.[0-9]+.*-common$' 2>/dev/null |
		awk '{print $1}' | sort -V | tail -n 1)
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		pkg=$(apt-cache search --names-only '^linux-headers-6\.[0-9]+\.[0-9]+.*-common$' 2>/dev/null |
			awk '{print $1}' | sort -V | tail -n 1)
	fi
	if [ -z "$pkg" ]; then
		echo "compat-headers: SKIPPED: no linux-headers-*-common package in the apt lists"
		exit 0
	fi
	rm -rf "$dir" && mkdir -p "$dir/deb" "$dir/include/linux"
	(cd "$dir/deb" && apt-get download -qq "$pkg" >/dev/null 2>&1)
	dpkg -x "$dir"/deb/*.deb "$dir/x"
	cp "$dir"/x/usr/src/linux-headers-*/include/uapi/linux/{userfaultfd,fs}.h "$dir/include/linux/"
	# What the kernel's headers_install does to these two files: uapi
	# sources use the kernel-internal spelling of the packed attribute.
	sed -i 's/\b__packed\b/__attribute__((packed))/g' "$dir"/include/linux/*.h
	rm -rf "$dir/x" "$dir/deb"
	echo "compat-headers: using uapi headers of $pkg"
fi
grep -q 'struct uffdio_move' "$dir/include/linux/userfaultfd.h" ||
	{ echo "compat-headers: fetched headers lack struct uffdio_move" >&2; exit 1; }

for cc in gcc clang; do
	make -s lib CC=$cc BUILD=build/compat-$cc EXTRA_CFLAGS="-isystem $PWD/$dir/include"
done
echo "compat-headers: library builds with gcc and clang against new and old uapi headers"
