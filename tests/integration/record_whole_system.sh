#!/bin/bash
# SPDX-License-Identifier: MIT
# Whole-system recording: every CPU, user and kernel frames, a busy
# process found by name; output to stdout feeds folded tools.
source tests/integration/lib.sh
need_root
W=$(build_workload cpu_split)
"$W" 6 >/dev/null &
CLEANUP_PIDS+=("$!")
# A kernel-heavy load too, so kernel stacks appear.
( end=$((SECONDS + 5)); while [ $SECONDS -lt $end ]; do cat /proc/self/maps /proc/kallsyms >/dev/null; done ) &
CLEANUP_PIDS+=("$!")
"$KILN" record --duration 3 > "$TMP/out.folded" 2>"$TMP/err"
cat "$TMP/err"
head -5 "$TMP/out.folded"
grep -Eq '^[^ ]+( [0-9]+)$' "$TMP/out.folded" || fail "not folded output"
awk '{ if ($NF !~ /^[0-9]+$/) exit 1 }' "$TMP/out.folded" || fail "a line without a count"
grep -q '^cpu_split;.*func_a' "$TMP/out.folded" || fail "the busy workload is missing"
grep -q '_\[k\]' "$TMP/out.folded" || fail "no kernel frames in a whole-system profile"
n=$(total "$TMP/out.folded")
# 2 CPUs x 99 Hz x 3 s is at most ~600 samples; the two loads keep both busy.
[ "$n" -ge 150 ] || fail "expected >= 150 samples, got $n"
"$KILN" record --duration 1 --kernel-only > "$TMP/k.folded" 2>/dev/null
awk -F';' '{ for (i = 2; i <= NF; i++) { f = $i; sub(/ [0-9]+$/, "", f); if (f !~ /_\[k\]$/ && f !~ /^\[/) exit 1 } }' "$TMP/k.folded" ||
	fail "--kernel-only has user frames: $(head -3 "$TMP/k.folded")"
exit 0
