#!/bin/bash
# SPDX-License-Identifier: MIT
# The HTTP API against a real `kiln server` on an ephemeral loopback port,
# serving a store written with known counts (bench/web_datagen known):
# every endpoint's numbers, every bad request, the listen/auth rules.
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"
GEN=$PWD/$OUT/bench/web_datagen
[ -x "$GEN" ] || fail "$GEN is missing: run make"

# A whole minute half an hour ago, so minute buckets line up.
T0=$(( ($(date +%s) - 1800) / 60 * 60 ))
"$GEN" known "$TMP/k.db" "$T0" || fail "cannot write the test store"


start_server "$TMP/srv1" --db "$TMP/k.db"
echo "server on port $PORT, T0=$T0"
node tests/integration/web_api.mjs "http://127.0.0.1:$PORT" "$T0" || fail "API checks failed"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null && echo "server stopped cleanly on SIGTERM" || fail "server exit status $? on SIGTERM"

# A non-loopback address without a token is refused, with a reason.
set +e
"$KILN" server --db "$TMP/k.db" --listen 0.0.0.0:0 >"$TMP/o" 2>"$TMP/e"
rc=$?
set -e
[ "$rc" = 2 ] || fail "non-loopback without token: exit $rc, want 2"
grep -q -- "--auth-token-file" "$TMP/e" || fail "no reason given: $(cat "$TMP/e")"
! grep -q listening "$TMP/o" || fail "it listened anyway"
echo "refused 0.0.0.0 without a token: $(head -1 "$TMP/e")"

# Bad listen values and a missing store are usage/runtime errors.
set +e
"$KILN" server --db "$TMP/k.db" --listen nonsense:port 2>/dev/null; [ $? = 2 ] || fail "bad --listen accepted"
"$KILN" server --db "$TMP/missing.db" 2>/dev/null; [ $? = 3 ] || fail "missing db not a runtime error"
"$KILN" server 2>/dev/null; [ $? = 2 ] || fail "missing --db not a usage error"
set -e
"$KILN" server --help | grep -q -- "--listen" || fail "--help"

# With a token file, every request needs the token.
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$TMP/token"
start_server "$TMP/srv2" --db "$TMP/k.db" --auth-token-file "$TMP/token"
node tests/integration/web_auth.mjs "http://127.0.0.1:$PORT" "$TOKEN" || fail "auth checks failed"

# Uploads: refused unless --ingest, then they land in the store.
node -e "fetch('http://127.0.0.1:$PORT/api/v1/ingest', { method: 'POST', body: 'a;b 1', headers: { Authorization: 'Bearer $TOKEN', 'Content-Type': 'text/x-folded' } }).then((r) => process.exit(r.status === 404 ? 0 : 1))" ||
	fail "ingest accepted without --ingest"
start_server "$TMP/srv3" --db "$TMP/k.db" --ingest
node tests/integration/web_ingest.mjs "http://127.0.0.1:$PORT" || fail "ingest checks failed"
echo "web_api: all checks passed"
