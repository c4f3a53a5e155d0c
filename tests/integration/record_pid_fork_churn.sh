#!/bin/bash
# SPDX-License-Identifier: MIT
# --pid on a process that forks 20,000 short-lived children: the BPF pid set
# (8,192 entries) forgets children as they exit, so a child forked after all
# of them is still sampled, and no child was refused for lack of room.
source tests/integration/lib.sh
need_root
W=$(build_workload fork_many)
"$W" 20000 1.5 &
PARENT=$!
CLEANUP_PIDS+=("$PARENT")
start=$(date +%s)
"$KILN" record --pid "$PARENT" --frequency 199 --duration 60 --user-only \
	-o "$TMP/out.folded" 2>"$TMP/err" &
REC=$!
CLEANUP_PIDS+=("$REC")
wait "$PARENT" || fail "the workload failed"
kill -INT "$REC"
wait "$REC" || fail "kiln record failed: $(cat "$TMP/err")"
echo "workload and recording took $(($(date +%s) - start)) s"
cat "$TMP/err"
late=$({ grep '^late_child;' "$TMP/out.folded" || true; } | awk '{ t += $NF } END { print t + 0 }')
[ "$late" -ge 20 ] || fail "the child forked after 20,000 others has $late samples, expected >= 20"
! grep -q 'child processes not sampled' "$TMP/err" || fail "the pid set was full: $(grep 'not sampled' "$TMP/err")"
exit 0
