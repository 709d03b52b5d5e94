#!/usr/bin/env bash
# `make check`: the README's test command and what CI runs. Installs missing
# Debian packages, then builds and runs the suite with gcc, with clang, and
# with ASan+UBSan; the threaded tests under helgrind; builds against newer
# uapi headers; checks an install; runs the suite on Linux 6.1 under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."

tests/deps.sh

total_pass=0 total_fail=0 total_skip=0
add_counts() { # a log holding run-suite.sh's closing line
	local p f s
	read -r p f s < <(sed -n 's/.*suite: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped.*/\1 \2 \3/p' "$1" | tail -n 1)
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-0}))
	total_skip=$((total_skip + ${s:-0}))
}
run_variant() { # name, make arguments...
	local name=$1 log
	shift
	echo "== $name"
	make -s all tests "$@"
	log=$(mktemp)
	local rc=0
	tests/run-suite.sh "$(make -s --no-print-directory print-build "$@")" | tee "$log" || rc=$?
	add_counts "$log"
	rm -f "$log"
	[ "$rc" -eq 0 ] || { echo "check: $name failed"; summary; exit 1; }
}
summary() {
	echo "check: $total_pass passed, $total_fail failed, $total_skip skipped"
}

run_variant gcc
# The clang build runs every test, its stress tests at a quarter size (the
# gcc and sanitizer runs keep the full 1 GiB): it checks what the other
# compiler made of the code, and saves a minute.
UMOVE_TEST_STRESS_MIB=256 run_variant clang CC=clang BUILD=build/clang
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_sigbus=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_variant asan+ubsan SAN=1

# Threaded tests under helgrind (Criterion's runner crashes under TSan).
# test_move_wake is left out: a thread blocked in a userfault keeps
# valgrind's global lock, so the thread that would serve the fault never runs.
echo "== helgrind"
for t in concurrency move_eexist eagain store_mem store_file; do
	log=$(mktemp)
	if ! UMOVE_TEST_UNDER_VALGRIND=1 valgrind --tool=helgrind --trace-children=yes -q --error-exitcode=99 \
		--suppressions=tests/helgrind.supp build/tests/test_$t --jobs 1 >"$log" 2>&1 ||
		grep -q 'Possible data race\|lock order' "$log"; then
		grep -v 'unhandled\|README_MISSING\|You may be able\|Nevertheless\|valgrind.org\|spurious value\|with no size' "$log"
		rm -f "$log"
		echo "check: helgrind found a problem in test_$t"
		summary
		exit 1
	fi
	grep 'Synthesis' "$log"
	rm -f "$log"
	echo "helgrind: test_$t clean"
done

echo "== format"
clang-format --dry-run -Werror include/*.h src/*.[ch] tools/*.[ch] tests/*.[ch] examples/*.c
echo "== uapi headers"
tests/compat-headers.sh
echo "== install"
tests/install-check.sh
# A kernel without UFFDIO_MOVE, for real: Debian 12's Linux 6.1 under QEMU
# (KVM when it works, else TCG; skipped with a message if QEMU cannot be had).
# UMOVE_SKIP_KERNELS=1 leaves it out of a quick local run.
echo "== kernels"
if [ "${UMOVE_SKIP_KERNELS:-0}" = 1 ]; then
	echo "check-kernels: SKIPPED: UMOVE_SKIP_KERNELS=1"
else
	log=$(mktemp)
	rc=0
	tests/kernels/check-kernels.sh | tee "$log" || rc=$?
	add_counts "$log"
	rm -f "$log"
	[ "$rc" -eq 0 ] || { echo "check: kernels failed"; summary; exit 1; }
fi
summary
