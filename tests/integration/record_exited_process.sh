#!/bin/bash
# SPDX-License-Identifier: MIT
# A process that exits mid-recording, started from a binary that is then
# deleted, is still symbolized (its mappings were captured while alive).
source tests/integration/lib.sh
need_root
W=$(build_workload cpu_split)
cp "$W" "$TMP/doomed"
"$KILN" record --duration 5 --user-only -o "$TMP/out.folded" 2>"$TMP/err" &
REC=$!
CLEANUP_PIDS+=("$REC")
sleep 1
"$TMP/doomed" 2 >/dev/null &
DOOMED=$!
sleep 0.3
rm -f "$TMP/doomed"
wait "$DOOMED"
wait "$REC" || fail "kiln record failed: $(cat "$TMP/err")"
cat "$TMP/err"
grep '^doomed;' "$TMP/out.folded" | head -5 || true
n=$({ grep '^doomed;' "$TMP/out.folded" || true; } | awk '{ t += $NF } END { print t + 0 }')
[ "$n" -ge 10 ] || fail "expected samples of the exited process, got $n; roots: $(cut -d";" -f1 "$TMP/out.folded" | sort | uniq -c | sort -rn | head -5 | tr "\n" " ")"
named=$({ grep '^doomed;' "$TMP/out.folded" | grep -E ';func_[abc];burn ' || true; } | awk '{ t += $NF } END { print t + 0 }')
echo "doomed: $n samples, $named with named frames"
[ $((named * 100)) -ge $((n * 80)) ] || fail "only $named of $n samples of the deleted, exited binary were symbolized"
exit 0
