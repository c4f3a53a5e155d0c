#!/bin/bash
# SPDX-License-Identifier: MIT
# /healthz tells the truth: while no window can be written (another process
# holds the store's write lock), it answers 503 with the reason in JSON,
# and 200 again once windows land.
source tests/integration/lib.sh
need_root
DB=$TMP/kiln.db
LOG=$TMP/agent.log
start_agent "$LOG" --db "$DB" --window 1s --listen 127.0.0.1:0
agent_port "$LOG"
code() { curl -s -o "$TMP/health" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/healthz"; }
sleep 2
[ "$(code)" = 200 ] || fail "healthy agent: /healthz said $(cat "$TMP/health")"
# Hold the write lock for 12 s.
python3 - "$DB" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
time.sleep(12)
db.execute("ROLLBACK")
PY
LOCKER=$!
CLEANUP_PIDS+=("$LOCKER")
status=
for _ in $(seq 100); do
	status=$(code)
	[ "$status" = 503 ] && break
	sleep 0.1
done
cat "$TMP/health"
echo
[ "$status" = 503 ] || fail "/healthz said $status while no window could be written"
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert "no window written" in r["error"], r' "$TMP/health" ||
	fail "the 503 must carry a JSON reason"
wait "$LOCKER"
for _ in $(seq 100); do
	status=$(code)
	[ "$status" = 200 ] && break
	sleep 0.1
done
[ "$status" = 200 ] || fail "/healthz said $status after the store came back: $(cat "$TMP/health")"
kill -TERM "$AGENT"
wait "$AGENT" || true
exit 0
