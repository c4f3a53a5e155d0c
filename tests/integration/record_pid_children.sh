#!/bin/bash
# SPDX-License-Identifier: MIT
# --pid follows children (started after the recording began) and threads:
# the filter lives in BPF and a fork tracker adds children to it.
source tests/integration/lib.sh
need_root
W=$(build_workload cpu_split)
# A parent that waits, then forks the workload as its child.
bash -c "sleep 1; '$W' 3 >/dev/null; true" &
PARENT=$!
CLEANUP_PIDS+=("$PARENT")
"$KILN" record --pid "$PARENT" --frequency 499 --duration 4 --user-only -o "$TMP/out.folded" 2>"$TMP/err"
cat "$TMP/err"
head -3 "$TMP/out.folded"
child=$({ grep '^cpu_split;' "$TMP/out.folded" || true; } | awk '{ t += $NF } END { print t + 0 }')
[ "$child" -ge 100 ] || fail "the child of the recorded pid has $child samples, expected >= 100"
others=$({ grep -v -E '^(cpu_split|bash|sleep)[; ]' "$TMP/out.folded" || true; } | awk '{ t += $NF } END { print t + 0 }')
[ "$others" -eq 0 ] || fail "$others samples from processes outside the recorded tree: $(grep -v -E '^(cpu_split|bash|sleep)[; ]' "$TMP/out.folded" | head -3)"
exit 0
