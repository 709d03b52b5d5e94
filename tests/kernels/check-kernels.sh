#!/usr/bin/env bash
# Run the suite on another kernel, booted under QEMU: by default Debian 12's
# Linux 6.1, which has no UFFDIO_MOVE, so the emulated path runs because the
# kernel lacks the feature, not because UMOVE_EMULATE asked for it.
#
#   tests/kernels/check-kernels.sh [KERNEL]
#
# KERNEL is a vmlinuz path or a Debian package name (linux-image-...);
# default: the newest linux-image-6.1.0-*-amd64 in the apt lists.
# Only Debian's package registry is contacted (apt-get download).
set -euo pipefail
cd "$(dirname "$0")/../.."

work=build/kernels
bdir=$work/build
kernel=${1:-${KERNEL:-}}
timeout_s=${UMOVE_GUEST_TIMEOUT:-1500}

say() { echo "check-kernels: $*"; }

install_tools() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	[ -x /bin/busybox ] || missing+=(busybox-static)
	command -v cpio >/dev/null || missing+=(cpio)
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		say "SKIPPED: ${missing[*]} missing and not root to install them"
		exit 0
	fi
	say "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" >/dev/null; } ||
		{ say "SKIPPED: cannot install ${missing[*]}"; exit 0; }
}

# Prints the path of a vmlinuz for $kernel, fetching a package if needed.
fetch_kernel() {
	local pkg=$kernel
	if [ -n "$pkg" ] && [ -f "$pkg" ]; then
		echo "$pkg"
		return
	fi
	if [ -z "$pkg" ]; then
		pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
			awk '{print $1}' | sort -V | tail -n 1)
		[ -n "$pkg" ] || { apt-get update -qq >/dev/null 2>&1 || true; pkg=$(apt-cache search \
			--names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -n 1); }
	fi
	[ -n "$pkg" ] || { echo "no linux-image-6.1 package found" >&2; exit 1; }
	local dir=$work/pkg-$pkg
	if ! ls "$dir"/boot/vmlinuz-* >/dev/null 2>&1; then
		rm -rf "$dir" && mkdir -p "$dir/deb"
		(cd "$dir/deb" && apt-get download -qq "$pkg" >/dev/null 2>&1) ||
			{ echo "apt-get download $pkg failed" >&2; exit 1; }
		dpkg -x "$dir"/deb/*.deb "$dir/x"
		mkdir -p "$dir/boot" && cp "$dir"/x/boot/vmlinuz-* "$dir/boot/"
		rm -rf "$dir/x" "$dir/deb"
	fi
	ls "$dir"/boot/vmlinuz-* | head -n 1
}

# Copies an executable and every shared library it loads into the guest root.
add_elf() {
	local root=$1 bin=$2 lib
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] || cp -L --parents "$lib" "$root"
	done
}

build_initramfs() { # mode, output
	local mode=$1 out=$2 root=$work/root
	rm -rf "$root"
	mkdir -p "$root"/{bin,proc,sys,dev,tmp,umove/build/tests,umove/tests}
	cp /bin/busybox "$root/bin/busybox"
	cp tests/kernels/init "$root/init"
	chmod +x "$root/init"
	echo "$mode" >"$root/umove/mode"
	cp "$bdir/umove" "$root/umove/build/"
	cp "$bdir"/tests/test_* "$root/umove/build/tests/"
	cp tests/run-suite.sh "$root/umove/tests/"
	for elf in "$bdir/umove" "$bdir"/tests/test_*; do
		add_elf "$root" "$elf"
	done
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
}

# KVM hangs on some hosts (nested virtualisation): try it on a probe-only
# guest with a short timeout, and use TCG if it does not come back.
pick_accel() {
	if [ ! -w /dev/kvm ]; then
		say "WARNING: /dev/kvm not usable; using TCG (software emulation, slow)" >&2
		echo tcg
		return
	fi
	build_initramfs probe "$work/probe.cpio.gz"
	if boot kvm "$work/probe.cpio.gz" 30 >"$work/kvm-probe.log" 2>&1 &&
		grep -q 'UMOVE-GUEST-DONE rc=0' "$work/kvm-probe.log"; then
		echo kvm
	else
		say "WARNING: KVM did not boot the guest within 30 s (nested KVM?); using TCG" >&2
		echo tcg
	fi
}

boot() { # accel, initramfs, timeout
	timeout --foreground -k 5 "$3" qemu-system-x86_64 -accel "$1" -m 2048 -smp 2 \
		-nographic -no-reboot -kernel "$vmlinuz" -initrd "$2" \
		-append "console=ttyS0 quiet panic=-1 transparent_hugepage=madvise"
}

install_tools
mkdir -p "$work"
vmlinuz=$(fetch_kernel)
say "kernel image $vmlinuz"
make -s all tests BUILD="$bdir"
accel=$(pick_accel)
build_initramfs suite "$work/suite.cpio.gz"
say "booting with $accel (timeout ${timeout_s}s)"
log=$work/guest.log
boot "$accel" "$work/suite.cpio.gz" "$timeout_s" 2>&1 | tr -d '\r' | tee "$log" || true
rc=$(sed -n 's/^UMOVE-GUEST-DONE rc=\([0-9]*\).*/\1/p' "$log" | tail -n 1)
if [ -z "$rc" ]; then
	say "FAILED: the guest did not finish (see $log)"
	exit 1
fi
[ "$rc" -eq 0 ] || { say "FAILED: suite failed in the guest"; exit 1; }
say "suite passed on Linux $(sed -n 's/.*guest: uname -r: //p' "$log" | tail -n 1)"
