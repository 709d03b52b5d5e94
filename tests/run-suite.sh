#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every Criterion test binary in BUILD_DIR/tests and totals the results.
#
# Criterion 2.4 prints "Synthesis: Tested: T | Passing: P | Failing: F |
# Crashing: C" where Tested leaves skipped tests out and Failing already counts
# the crashes. Skips only show in --verbose output, as "[SKIP]" lines, so the
# binaries run verbose and the per-test pass/run lines are filtered out.
set -u

build=${1:?usage: run-suite.sh BUILD_DIR}
jobs=${JOBS:-2}
passed=0
failed=0
skipped=0
status=0
found=0

for bin in "$build"/tests/test_*; do
	[ -x "$bin" ] || continue
	found=$((found + 1))
	name=${bin##*/}
	echo "== $name"
	out=$("$bin" --jobs "$jobs" --verbose --color=never -S 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v -e '^\[RUN \]' -e '^\[PASS\]' \
		-e '^\[----\] Criterion v' -e '^\[====\] Running'
	synth=$(printf '%s\n' "$out" | grep 'Synthesis: Tested:' | tail -n 1)
	skips=$(printf '%s\n' "$out" | grep -c '^\[SKIP\]')
	if [ -z "$synth" ]; then
		echo "$name: no Criterion synthesis (exit status $rc)"
		failed=$((failed + 1))
		status=1
		continue
	fi
	p=$(printf '%s\n' "$synth" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(printf '%s\n' "$synth" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + skips))
	if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
		status=1
		# A non-zero exit with no failing test (e.g. a sanitizer report
		# outside any test) still counts once.
		[ "$f" -eq 0 ] && failed=$((failed + 1))
	fi
done

if [ "$found" -eq 0 ]; then
	echo "no test binaries in $build/tests"
	status=1
fi
echo "suite: $passed passed, $failed failed, $skipped skipped"
exit $status
