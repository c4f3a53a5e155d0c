#!/bin/bash
# SPDX-License-Identifier: MIT
# The reproductions of issue 12 against a real `kiln server`: requests a
# local user or a web page could send to crash, stall or steer it. Each
# must get a JSON 4xx/5xx answer in bounded time, and /healthz must still
# answer afterwards from the same process.
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"
GEN=$PWD/$OUT/bench/web_datagen
[ -x "$GEN" ] || fail "$GEN is missing: run make"
T0=$(( ($(date +%s) - 1800) / 60 * 60 ))
"$GEN" known "$TMP/k.db" "$T0" || fail "cannot write the test store"

start_server "$TMP/out" --db "$TMP/k.db" --ingest
node tests/integration/web_hostile.mjs "http://127.0.0.1:$PORT" "$T0" "$SERVER_PID" ||
	{ tail -5 "$TMP/out.err"; fail "hostile request checks failed"; }
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died"
kill "$SERVER_PID"
wait "$SERVER_PID" || fail "server exit status $? on SIGTERM"

# A corrupt store (issue 12: a NULL in strings.s reached strdup(NULL)):
# `kiln query` exits 3 with one line, the server answers 500 JSON and
# stays up.
command -v sqlite3 >/dev/null || fail "sqlite3 is missing (scripts/deps.sh installs it)"
cp "$TMP/k.db" "$TMP/bad.db"
sqlite3 "$TMP/bad.db" "PRAGMA writable_schema=ON; UPDATE sqlite_schema SET sql=replace(sql, 's TEXT NOT NULL UNIQUE', 's TEXT UNIQUE') WHERE name='strings';"
sqlite3 "$TMP/bad.db" "UPDATE strings SET s = NULL WHERE id = (SELECT name FROM functions LIMIT 1);"
set +e
"$KILN" query --db "$TMP/bad.db" --from "$T0" --to "$((T0 + 180))" >"$TMP/q.out" 2>"$TMP/q.err"
rc=$?
set -e
[ "$rc" = 3 ] || { cat "$TMP/q.err"; fail "kiln query on a corrupt store: exit $rc, want 3"; }
grep -q "corrupt" "$TMP/q.err" || fail "kiln query gave no reason: $(cat "$TMP/q.err")"
echo "kiln query on a corrupt store: exit 3: $(tail -1 "$TMP/q.err")"
start_server "$TMP/out2" --db "$TMP/bad.db"
for path in "flamegraph?from=$T0&to=$((T0 + 180))" "top?from=$T0&to=$((T0 + 180))" "export?format=pprof&from=$T0&to=$((T0 + 180))"; do
	code=$(curl -s -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/$path")
	[ "$code" = 500 ] || fail "$path on a corrupt store: $code $(head -c 200 "$TMP/body")"
	grep -q '"error":".*damaged' "$TMP/body" || fail "$path: no JSON error: $(head -c 200 "$TMP/body")"
done
[ "$(curl -s "http://127.0.0.1:$PORT/healthz")" = ok ] || fail "healthz after corrupt-store requests"
kill "$SERVER_PID"
wait "$SERVER_PID" || fail "server on a corrupt store: exit status $? on SIGTERM"
echo "server on a corrupt store: 500 JSON, still up"
# One exit code per failure kind, server and agent alike: a taken port is
# a runtime error (3), a refused address a usage error (2).
"$KILN" server --db "$TMP/k.db" --listen 127.0.0.1:0 >"$TMP/out3" 2>"$TMP/err3" &
HOLDER=$!
CLEANUP_PIDS+=($HOLDER)
TAKEN=
for _ in $(seq 100); do
	TAKEN=$(sed -n 's|^listening on http://[^:]*:\([0-9]*\)/$|\1|p' "$TMP/out3")
	[ -n "$TAKEN" ] && break
	sleep 0.05
done
[ -n "$TAKEN" ] || fail "holder server did not start"
set +e
"$KILN" server --db "$TMP/k.db" --listen "127.0.0.1:$TAKEN" >/dev/null 2>"$TMP/e1"; rc_srv_busy=$?
"$KILN" server --db "$TMP/k.db" --listen "0.0.0.0:0" >/dev/null 2>"$TMP/e2"; rc_srv_open=$?
"$KILN" server --db "$TMP/k.db" --listen "[::1]:0" >"$TMP/o6" 2>"$TMP/e6" &
V6=$!
set -e
[ "$rc_srv_busy" = 3 ] || fail "server on a taken port: exit $rc_srv_busy, want 3"
[ "$rc_srv_open" = 2 ] || fail "server on 0.0.0.0 without a token: exit $rc_srv_open, want 2"
# IPv6: it listens, or (civetweb built without IPv6, as Debian's) says so.
for _ in $(seq 40); do
	grep -q listening "$TMP/o6" && break
	kill -0 "$V6" 2>/dev/null || break
	sleep 0.05
done
if kill -0 "$V6" 2>/dev/null; then
	grep -q 'listening on http://\[::1\]:' "$TMP/o6" || fail "[::1] listen: $(cat "$TMP/o6")"
	kill "$V6"
else
	wait "$V6" && rc6=0 || rc6=$?
	[ "$rc6" = 2 ] || fail "[::1] listen: exit $rc6, want 2 ($(cat "$TMP/e6"))"
	grep -q "IPv6" "$TMP/e6" || fail "[::1] listen: no reason: $(cat "$TMP/e6")"
	echo "[::1] listen refused with a reason: $(head -1 "$TMP/e6")"
fi
if [ "$(id -u)" = 0 ]; then
	set +e
	timeout 60 "$KILN" agent --db "$TMP/a.db" --listen "127.0.0.1:$TAKEN" >/dev/null 2>"$TMP/e3"; rc_agent_busy=$?
	timeout 60 "$KILN" agent --db "$TMP/a.db" --listen "0.0.0.0:0" >/dev/null 2>"$TMP/e4"; rc_agent_open=$?
	set -e
	[ "$rc_agent_busy" = "$rc_srv_busy" ] || fail "agent on a taken port: exit $rc_agent_busy, server $rc_srv_busy"
	[ "$rc_agent_open" = "$rc_srv_open" ] || fail "agent on 0.0.0.0 without a token: exit $rc_agent_open, server $rc_srv_open"
	echo "taken port: server and agent exit $rc_srv_busy; open address without token: both $rc_srv_open"
elif [ "${CI:-}" = true ]; then
	fail "the agent's exit codes need root (CI=true)"
fi
kill "$HOLDER"
echo "web_hostile: all checks passed"
