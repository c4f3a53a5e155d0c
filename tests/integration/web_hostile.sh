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

"$KILN" server --db "$TMP/k.db" --listen 127.0.0.1:0 --ingest >"$TMP/out" 2>"$TMP/err" &
SERVER_PID=$!
CLEANUP_PIDS+=($SERVER_PID)
PORT=
for _ in $(seq 100); do
	PORT=$(sed -n 's|^listening on http://[^:]*:\([0-9]*\)/$|\1|p' "$TMP/out")
	[ -n "$PORT" ] && break
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/err"; fail "server exited"; }
	sleep 0.05
done
[ -n "$PORT" ] || fail "server did not say where it listens"
node tests/integration/web_hostile.mjs "http://127.0.0.1:$PORT" "$T0" ||
	{ tail -5 "$TMP/err"; fail "hostile request checks failed"; }
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died"
kill "$SERVER_PID"
wait "$SERVER_PID" || fail "server exit status $? on SIGTERM"
echo "web_hostile: all checks passed"
