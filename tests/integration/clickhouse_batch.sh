#!/bin/bash
# SPDX-License-Identifier: MIT
# Agents' pushes into `kiln server --store clickhouse://...` written in
# batches (--push-batch-ms): many windows per store write; every window
# stored once when two copies of it arrive together; and when
# clickhouse-server is killed (-9) while batches are written and then
# restarted, a replay of every window (what agents' spools do) leaves each
# stored exactly once: nothing lost, nothing counted twice.
source "$(dirname "$0")/lib.sh"
LOAD=$PWD/$OUT/bench/push_load
[ -x "$LOAD" ] || fail "$LOAD is missing: run make"
start_clickhouse
q() { curl -sS "http://127.0.0.1:$CH_PORT/?database=batch" --data-binary "$1"; }
# A store of schema version 3 (no push_attempts): the server upgrades it.
q0() { curl -sS --fail-with-body "http://127.0.0.1:$CH_PORT/?database=$1" --data-binary "$2"; }
q0 default "CREATE DATABASE batch" >/dev/null
grep -v '^--' storage/clickhouse.sql | awk -v RS=';\n' 'NF && !/push_attempts/ { printf "%s%c", $0, 0 }' |
	while IFS= read -r -d '' stmt; do q0 batch "$stmt" >/dev/null || exit 1; done || fail "version 3 schema"
q0 batch "INSERT INTO kiln_schema VALUES (3, now())"
start_server "$TMP/s" --store "$CH_URL/batch" --ingest --threads 64 --push-batch-ms 300
[ "$(q "SELECT max(version) FROM kiln_schema")" = 4 ] && [ "$(q "EXISTS TABLE push_attempts")" = 1 ] ||
	fail "version 3 not upgraded: $(q "SELECT max(version) FROM kiln_schema") $(cat "$TMP/s.err")"
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
push() { # START HOSTS WINDOWS OUT: push_load's windows (same START: same windows)
	"$LOAD" run "http://127.0.0.1:$PORT" --start "$1" --hosts "$2" --windows "$3" \
		--threads 16 --cpus 2 >"$4" 2>&1
}
field() { sed -n "s/.* $1 \([0-9]*\) .*/\1/p" "$2"; }
# Rows of a window stored twice (same window_id, a (slot, series, stack) repeated).
doubled() {
	q "SELECT count() FROM (SELECT window_id, second, slot, series, stack FROM samples
		GROUP BY window_id, second, slot, series, stack HAVING count() > 1)"
}
H=$(( $(date +%s) / 3600 * 3600 - 3 * 3600 )) # whole past hours: no window straddles one

# ---- two copies of 40 windows at once ----
push "$H" 8 5 "$TMP/r1" & P1=$!
push "$H" 8 5 "$TMP/r2" & P2=$!
wait $P1 || { cat "$TMP/r1"; fail "first copy"; }
wait $P2 || { cat "$TMP/r2"; fail "second copy"; }
ok=$(($(field ok "$TMP/r1") + $(field ok "$TMP/r2")))
dup=$(($(field dup "$TMP/r1") + $(field dup "$TMP/r2")))
[ $((ok + dup)) = 80 ] || fail "80 sends: $(cat "$TMP/r1" "$TMP/r2")"
batches=$(metric kiln_push_batches_total) windows=$(metric kiln_push_batched_windows_total)
echo "two copies: $ok answered 200, $dup 409; $windows pushes written in $batches batches"
[ "$windows" = 80 ] || fail "pushes written in batches: $windows"
[ "$batches" -lt 40 ] || fail "$batches batches for 80 pushes: not batched"
[ "$(q "SELECT uniqExact(instance, seq) FROM push_windows")" = 40 ] || fail "windows recorded"
[ "$(q "SELECT uniqExact(window_id), sum(count) FROM samples")" = $'40\t79200' ] ||
	fail "samples: $(q "SELECT uniqExact(window_id), sum(count) FROM samples")"
[ "$(doubled)" = 0 ] || fail "a window's rows are stored twice"

# ---- ClickHouse killed while batches are written ----
H2=$((H + 3600))
b0=$(metric kiln_push_batches_total)
"$LOAD" run "http://127.0.0.1:$PORT" --start "$H2" --hosts 16 --windows 4 --threads 32 --cpus 16 \
	>"$TMP/k1" 2>&1 &
P=$!
for _ in $(seq 600); do
	[ "$(metric kiln_push_batches_total)" -gt "$b0" ] && break
	sleep 0.05
done
stop_clickhouse KILL
wait $P # 503s while ClickHouse is down: not a failure
sent=$(field ok "$TMP/k1")
busy=$(sed -n 's/.* busy(503) \([0-9]*\) .*/\1/p' "$TMP/k1")
echo "kill: $sent windows stored before the kill, $busy answered 503"
[ "$busy" -gt 0 ] || fail "ClickHouse was killed but no push was refused: $(cat "$TMP/k1")"
start_clickhouse "$CH_PORT"
# Every window again, as agents retry what was not acknowledged (and
# what was: a 200 whose answer got lost).
"$LOAD" run "http://127.0.0.1:$PORT" --start "$H2" --hosts 16 --windows 4 --threads 32 --cpus 16 \
	>"$TMP/k2" 2>&1 || { cat "$TMP/k2"; fail "replay"; }
ok2=$(field ok "$TMP/k2") dup2=$(field dup "$TMP/k2")
echo "replay: $ok2 stored now, $dup2 already stored"
[ $((ok2 + dup2)) = 64 ] || fail "replay not all answered: $(cat "$TMP/k2")"
[ "$(q "SELECT uniqExact(instance, seq) FROM push_windows")" = 104 ] || fail "windows recorded after the kill"
[ "$(q "SELECT uniqExact(window_id), sum(count) FROM samples")" = $'104\t1092960' ] ||
	fail "samples after the kill: $(q "SELECT uniqExact(window_id), sum(count) FROM samples")"
[ "$(doubled)" = 0 ] || fail "a window's rows are stored twice after the kill"
echo "clickhouse_batch: all checks passed"
