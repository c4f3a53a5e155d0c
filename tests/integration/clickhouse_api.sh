#!/bin/bash
# SPDX-License-Identifier: MIT
# The same API test suite as web_api.sh, against a `kiln server` whose store
# is a real clickhouse-server (started here on loopback): the same data in
# (bench/web_datagen), the same counts out on every endpoint, and every
# endpoint answering exactly as the same data in SQLite does. Then uploads,
# and the errors a store URL can have.
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"
GEN=$PWD/$OUT/bench/web_datagen
[ -x "$GEN" ] || fail "$GEN is missing: run make"
start_clickhouse
echo "clickhouse-server on port $CH_PORT"

T0=$(( ($(date +%s) - 1800) / 60 * 60 ))
"$GEN" known "$TMP/k.db" "$T0" || fail "cannot write the SQLite store"
"$GEN" known "$CH_URL/api" "$T0" || fail "cannot write the ClickHouse store"

start_server "$TMP/sq" --store "sqlite:$TMP/k.db"
SQ=$PORT
start_server "$TMP/chs" --store "$CH_URL/api"
CH=$PORT
node tests/integration/web_api.mjs "http://127.0.0.1:$CH" "$T0" || fail "API checks failed on ClickHouse"
node tests/integration/store_compare.mjs "http://127.0.0.1:$SQ" "http://127.0.0.1:$CH" "$T0" $((T0 + 180)) \
	|| fail "SQLite and ClickHouse answer differently"

# Uploads land in ClickHouse.
start_server "$TMP/ing" --store "$CH_URL/ingest" --ingest
# web_ingest.mjs's store checks (its 65 MB body check is the HTTP layer's,
# run by web_api.sh, and races the server's early close under load).
node - "http://127.0.0.1:$PORT" <<'JS' || fail "ingest checks failed on ClickHouse"
import assert from 'node:assert/strict';
const base = process.argv[2];
const post = (qs, body) => fetch(`${base}/api/v1/ingest${qs}`,
  { method: 'POST', body, headers: { 'Content-Type': 'text/x-folded' } });
const get = async (p) => (await fetch(base + p)).json();
let r = await post('?label=commit%3Dabc&label=branch%3Dmain&time=-1m', 'ci;main;bench_loop 40\nci;main;parse 2\n');
assert.equal(r.status, 200);
assert.equal((await r.json()).samples, 42);
assert.equal((await post('?label=commit%3Ddef', 'ci;main;bench_loop 10\n')).status, 200);
assert.equal((await get('/api/v1/flamegraph?from=-10m&to=%2B1m&filter=commit%3Dabc')).total, 42);
const top = await get('/api/v1/top?from=-10m&to=%2B1m&filter=branch%3Dmain');
assert.deepEqual(top.functions.map((f) => [f.name, f.self]), [['bench_loop', 40], ['parse', 2], ['main', 0]]);
const d = await get('/api/v1/diff?a_from=-10m&a_to=%2B1m&a_filter=commit%3Dabc&b_from=-10m&b_to=%2B1m&b_filter=commit%3Ddef');
assert.deepEqual([d.total_a, d.total_b], [42, 10]);
assert.equal((await post('', 'main;x notanumber\n')).status, 400);
console.log('ingest on ClickHouse: labels, counts, filters, diff, bad bodies');
JS

# Store URL errors: one line, exit 3 (runtime) or 2 (usage).
set +e
"$KILN" server --store "clickhouse://127.0.0.1:$CH_PORT/nosuchdb" 2>"$TMP/e1"; rc1=$?
"$KILN" server --store "clickhouse://kiln:wrong@127.0.0.1:$CH_PORT/api" 2>"$TMP/e2"; rc2=$?
"$KILN" server --store "clickhouse://127.0.0.1:1/api" 2>"$TMP/e3"; rc3=$?
"$KILN" server --store "clickhouse://127.0.0.1:$CH_PORT/bad-name" 2>"$TMP/e4"; rc4=$?
set -e
[ "$rc1" = 3 ] && grep -q "no kiln schema" "$TMP/e1" || fail "missing schema: exit $rc1: $(cat "$TMP/e1")"
[ "$rc2" = 3 ] && grep -q "Wrong password\|Authentication failed" "$TMP/e2" || fail "wrong password: exit $rc2: $(cat "$TMP/e2")"
[ "$rc3" = 3 ] && grep -q "does not answer" "$TMP/e3" || fail "nothing listening: exit $rc3: $(cat "$TMP/e3")"
[ "$rc4" = 3 ] && grep -q "malformed" "$TMP/e4" || fail "bad database name: exit $rc4: $(cat "$TMP/e4")"
! grep -q secret "$TMP/e1" "$TMP/e2" "$TMP/e3" "$TMP/e4" || fail "a password was printed"

# A schema from a newer kiln is refused, with the versions.
curl -sS "http://127.0.0.1:$CH_PORT/?database=api" --data-binary "INSERT INTO kiln_schema VALUES (99, now())"
set +e
"$KILN" server --store "$CH_URL/api" 2>"$TMP/e5"; rc5=$?
set -e
[ "$rc5" = 3 ] && grep -q "schema version 99.*newer kiln" "$TMP/e5" || fail "newer schema: exit $rc5: $(cat "$TMP/e5")"

# ClickHouse stopped under a running server: 503 with a JSON error.
stop_clickhouse KILL
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$CH/api/v1/flamegraph?from=$T0&to=$((T0 + 180))")
[ "$code" = 503 ] || fail "ClickHouse down: HTTP $code, want 503: $(cat "$TMP/body")"
node -e "const j = JSON.parse(require('fs').readFileSync('$TMP/body', 'utf8')); if (typeof j.error !== 'string') process.exit(1)" ||
	fail "no JSON error: $(cat "$TMP/body")"
echo "clickhouse_api: all checks passed"
