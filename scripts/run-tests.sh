#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every test: the cmocka unit binaries (.output/tests/test_*), then the
# integration scripts (tests/integration/*.sh, which drive the real kiln
# binary). Ends with the line "N passed, N failed".
#
# An integration script passes with exit 0, skips with 77 (printing why),
# and fails otherwise. Under CI=true a skip counts as a failure: tests that
# need root or BPF must run there. KILN_TEST_FILTER=regex selects tests.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-.output}
LOGDIR=$OUT/test-logs
mkdir -p "$LOGDIR"
filter=${KILN_TEST_FILTER:-.}
passed=0 failed=0 skipped=0
failures=()

for bin in "$OUT"/tests/test_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	[[ $name =~ $filter ]] || continue
	log=$LOGDIR/$name.log
	"$bin" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed before cmocka could report
	fi
	if [ "${CI:-}" = true ] && [ "$s" -gt 0 ]; then
		f=$((f + s))
		s=0
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	printf '%-40s %3d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
	[ "$f" -gt 0 ] && failures+=("$name (see $log)") && grep -E '^\[  (FAILED|ERROR)|Failure|error' "$log" | head -20
done

for script in tests/integration/*.sh; do
	[ -f "$script" ] || continue
	name=$(basename "$script" .sh)
	[ "$name" = lib ] && continue # shared helpers, sourced by the tests
	[[ $name =~ $filter ]] || continue
	log=$LOGDIR/it_$name.log
	start=$(date +%s)
	OUT=$OUT bash "$script" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		printf '%-40s ok (%ds)\n' "$name" "$secs"
	elif [ "$rc" -eq 77 ] && [ "${CI:-}" != true ]; then
		skipped=$((skipped + 1))
		printf '%-40s SKIPPED: %s\n' "$name" "$(tail -1 "$log")"
	else
		failed=$((failed + 1))
		failures+=("$name (see $log)")
		printf '%-40s FAILED (exit %d, %ds)\n' "$name" "$rc" "$secs"
		tail -15 "$log" | sed 's/^/    /'
	fi
done

for f in "${failures[@]}"; do echo "failed: $f"; done
[ "$skipped" -gt 0 ] && echo "$skipped skipped (run as root with CI=true to run everything)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
