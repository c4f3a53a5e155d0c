#!/bin/bash
# SPDX-License-Identifier: MIT
# kiln agent takes kiln record's --unwind and --unwind-memory: the ceiling
# shows on /metrics, the CFI walk (the default) completes stacks, and
# --unwind fp walks frame pointers only; bad values exit 2.
source tests/integration/lib.sh
need_root
for bad in "--unwind dwarf" "--unwind-memory 0" "--unwind-memory 5000"; do
	# shellcheck disable=SC2086
	rc=0
	"$KILN" agent --db "$TMP/x.db" $bad 2>"$TMP/err" || rc=$?
	[ $rc -eq 2 ] || fail "agent $bad: exit $rc, not 2"
	grep -q 'unwind' "$TMP/err" || fail "agent $bad: $(cat "$TMP/err")"
done
"$KILN" agent --help | grep -q -- '--unwind-memory MIB' || fail "--unwind-memory not in agent --help"
"$KILN" agent --help | grep -q -- '--unwind METHOD' || fail "--unwind not in agent --help"

metric() { # NAME -> value on /metrics
	curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics" |
		awk -v n="$1" 'index($0, n " ") == 1 { print $NF }'
}
# wait_metric NAME: polls /metrics up to 30 s until NAME is above 0.
wait_metric() {
	for _ in $(seq 150); do
		[ "$(metric "$1")" -gt 0 ] 2>/dev/null && return 0
		kill -0 "$AGENT" 2>/dev/null || fail "the agent died"
		sleep 0.2
	done
	return 1
}
busy() { timeout 20 sh -c 'while :; do :; done' & CLEANUP_PIDS+=($!); }

start_agent "$TMP/cfi.log" --db "$TMP/cfi.db" --window 1s --listen 127.0.0.1:0 --unwind-memory 8
agent_port "$TMP/cfi.log"
busy
wait_metric 'kiln_user_stacks_total{end="complete"}' || fail "default (cfi) walk: no complete stack"
cap=$(metric kiln_unwind_rows_capacity)
[ "$cap" = $((8 << 20 >> 3)) ] || fail "--unwind-memory 8: capacity $cap rows"
[ "$(metric kiln_unwind_memory_limit_bytes)" = $((8 << 20)) ] || fail "--unwind-memory 8: limit not on /metrics"
[ "$(metric kiln_unwind_memory_bytes)" -gt 0 ] || fail "no unwind memory used"
kill -TERM "$AGENT"
wait "$AGENT" || true

start_agent "$TMP/fp.log" --db "$TMP/fp.db" --window 1s --listen 127.0.0.1:0 --unwind fp
agent_port "$TMP/fp.log"
wait_metric 'kiln_user_stacks_total{end="frame pointers"}' || fail "--unwind fp: no frame-pointer walk"
complete=$(metric 'kiln_user_stacks_total{end="complete"}')
[ "${complete:-0}" = 0 ] || fail "--unwind fp: $complete CFI walks"
[ "$(metric kiln_unwind_rows_capacity)" = 0 ] || fail "--unwind fp: unwind tables allocated"
kill -TERM "$AGENT"
wait "$AGENT" || true
exit 0
