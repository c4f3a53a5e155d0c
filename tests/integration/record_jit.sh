#!/bin/bash
# SPDX-License-Identifier: MIT
# JIT code announced in /tmp/perf-PID.map is symbolized as NAME_[j].
source tests/integration/lib.sh
need_root
[ "$(uname -m)" = x86_64 ] || skip "the fake JIT workload is x86-64 machine code"
W=$(build_workload fake_jit)
"$W" 6 &
PID=$!
CLEANUP_PIDS+=("$PID")
sleep 0.5
"$KILN" record --pid "$PID" --frequency 499 --duration 3 --user-only -o "$TMP/out.folded" 2>"$TMP/err"
cat "$TMP/err"
head -5 "$TMP/out.folded"
n=$(total "$TMP/out.folded")
[ "$n" -ge 100 ] || fail "expected >= 100 samples, got $n"
jit=$(share "$TMP/out.folded" ';jit_spin_\\[j\\]( |;)')
echo "jit_spin: $jit% of $n samples"
awk -v j="$jit" 'BEGIN { exit !(j >= 60) }' || fail "jit_spin_[j] has $jit% of the samples, expected most"
exit 0
