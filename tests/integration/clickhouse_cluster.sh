#!/bin/bash
# SPDX-License-Identifier: MIT
# ClickHouse as the central store, with real processes on loopback:
#  - two `kiln server`s over one database: uploads to either are seen by both;
#  - clickhouse-server killed (-9) and restarted while uploads go on: every
#    window lands once (no loss, nothing counted twice), the servers answer
#    503 meanwhile and recover without a restart.
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"
start_clickhouse
echo "clickhouse-server on port $CH_PORT"
q() { curl -sS "http://127.0.0.1:$CH_PORT/?database=$1" --data-binary "$2"; }

# ---- two servers, one database ----
start_server "$TMP/a" --store "$CH_URL/shared" --ingest; A=$PORT
start_server "$TMP/b" --store "$CH_URL/shared" --ingest; B=$PORT
T0=$(( $(date +%s) - 600 ))
post() { # PORT LABEL TIME BODY -> HTTP status
	curl -s -o /dev/null -w '%{http_code}' -m 20 -H "Content-Type: text/x-folded" --data-binary "$4" \
		"http://127.0.0.1:$1/api/v1/ingest?label=$2&time=$3"
}
total() { # PORT FILTER -> samples
	curl -s "http://127.0.0.1:$1/api/v1/flamegraph?from=$((T0 - 60))&to=$((T0 + 3600))${2:+&filter=$2}" |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.total ?? j.error)})'
}
[ "$(post "$A" via%3Da "$T0" $'app;main;via_a 7\n')" = 200 ] || fail "upload to A"
[ "$(post "$B" via%3Db "$T0" $'app;main;via_b 5\n')" = 200 ] || fail "upload to B"
[ "$(total "$B" via%3Da)" = 7 ] || fail "B does not see A's upload: $(total "$B" via%3Da)"
[ "$(total "$A" via%3Db)" = 5 ] || fail "A does not see B's upload: $(total "$A" via%3Db)"
echo "two servers: each sees the other's uploads"
# The same window again (a retry whose first try did land) counts once.
[ "$(post "$B" via%3Da "$T0" $'app;main;via_a 7\n')" = 200 ] || fail "repeat upload"
[ "$(total "$A" via%3Da)" = 7 ] || fail "a repeated window counted twice: $(total "$A" via%3Da)"

# ---- ClickHouse killed and restarted during uploads ----
# Like an agent: each window has fixed content and time, and is retried
# until the server says 200.
N=60 expect=0 n503=0
for i in $(seq 1 $N); do
	if [ "$i" = 20 ]; then
		stop_clickhouse KILL
		( sleep 3; start_clickhouse "$CH_PORT" >/dev/null; echo "$CH_PID" >"$TMP/ch.pid" ) &
		RESTARTER=$!
	fi
	srv=$([ $((i % 2)) = 0 ] && echo "$A" || echo "$B")
	for try in $(seq 100); do
		code=$(post "$srv" "run%3Dkill" $((T0 + 10 * i)) "app;main;w$i $i")
		[ "$code" = 200 ] && break
		[ "$code" = 503 ] || [ "$code" = 000 ] || fail "window $i: HTTP $code"
		n503=$((n503 + 1))
		sleep 0.2
	done
	[ "$code" = 200 ] || fail "window $i never landed"
	expect=$((expect + i))
done
wait "$RESTARTER"
CLEANUP_PIDS+=($(cat "$TMP/ch.pid"))
[ "$n503" -gt 0 ] || fail "no upload was refused while ClickHouse was down"
got_a=$(total "$A" run%3Dkill) got_b=$(total "$B" run%3Dkill)
rows=$(q shared "SELECT count(), sum(count) FROM samples WHERE window_id IN (SELECT window_id FROM samples GROUP BY window_id HAVING count() > 1 AND uniqExact(second, slot, series, stack) < count())")
echo "windows: $N, retries while down: $n503, total on A: $got_a, on B: $got_b, expected $expect"
[ "$got_a" = "$expect" ] && [ "$got_b" = "$expect" ] || fail "lost or doubled samples across the restart"
[ "$rows" = $'0\t0' ] || fail "a window's rows are stored twice: $rows"
echo "clickhouse_cluster: all checks passed"
