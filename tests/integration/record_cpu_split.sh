#!/bin/bash
# SPDX-License-Identifier: MIT
# kiln record --pid on a workload with a known 50/30/20 CPU split across
# three functions: the profile must show the split within 5 points.
source tests/integration/lib.sh
need_root
W=$(build_workload cpu_split)
"$W" 8 >/dev/null &
PID=$!
CLEANUP_PIDS+=("$PID")
"$KILN" record --pid "$PID" --frequency 499 --duration 5 --user-only -o "$TMP/out.folded" 2>"$TMP/err"
cat "$TMP/err"
head -5 "$TMP/out.folded"
n=$(total "$TMP/out.folded")
# A loaded machine gives the workload less CPU; 300 samples still judge the split.
[ "$n" -ge 300 ] || fail "expected >= 300 samples at 499 Hz for 5 s, got $n"
a=$(share "$TMP/out.folded" ';func_a;')
b=$(share "$TMP/out.folded" ';func_b;')
c=$(share "$TMP/out.folded" ';func_c;')
echo "func_a $a% func_b $b% func_c $c% of $n samples"
within "$a" 50 5 || fail "func_a has $a%, expected 50 +- 5"
within "$b" 30 5 || fail "func_b has $b%, expected 30 +- 5"
within "$c" 20 5 || fail "func_c has $c%, expected 20 +- 5"
grep -q '^cpu_split;' "$TMP/out.folded" || fail "stacks must start with the process name"
grep -q 'main;func_a;burn ' "$TMP/out.folded" || fail "expected the stack main;func_a;burn"
grep -q '_\[k\]' "$TMP/out.folded" && fail "--user-only must not have kernel frames"
grep -q 'lost samples: 0' "$TMP/err" || fail "summary must report lost samples"
exit 0
