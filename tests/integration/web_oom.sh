#!/bin/bash
# SPDX-License-Identifier: MIT
# Requests bigger than the server's memory: a store with 200k distinct
# frames, served by a `kiln server` whose address space is capped a little
# above its idle size. Every export and flame graph of the whole range
# must answer 200 or a JSON 5xx (never abort: the request's profile, call
# tree and writers check their allocations), at least one must hit the
# cap, and the same process must answer afterwards. Then a big folded
# upload to a fresh server under the same cap: parsed (checked), then
# written to the store, whose write cache and copies check their
# allocations too; the answer is 2xx or a JSON 4xx/5xx and the process
# keeps answering.
source "$(dirname "$0")/lib.sh"

python3 - "$TMP/big.folded" <<'PY'
import sys
pad = "x" * 100
with open(sys.argv[1], "w") as f:
    for i in range(200000):
        f.write("app;fn_%d_%s;leaf 1\n" % (i, pad))
    f.write("small;main;tiny 3\n")
PY
"$KILN" import "$TMP/big.folded" --db "$TMP/big.db" --time -10m >/dev/null 2>&1 ||
	fail "cannot import the test profile"

# start LIMIT_KB [DB]: the server under 'ulimit -v LIMIT_KB' (0: none).
start() {
	: >"$TMP/out"
	(
		[ "$1" = 0 ] || ulimit -v "$1"
		MALLOC_ARENA_MAX=2 exec "$KILN" server --db "${2:-$TMP/big.db}" --ingest --listen 127.0.0.1:0
	) >"$TMP/out" 2>"$TMP/err" &
	PID=$!
	CLEANUP_PIDS+=($PID)
	PORT=
	wait_server "$PID" "$TMP/out" "$TMP/err" 200
}

# The idle size of this server on this machine, then a cap 64 MiB above.
start 0
idle=$(awk '/^VmSize:/ { print $2 }' "/proc/$PID/status")
kill "$PID"
wait "$PID" || fail "server exit status $? on SIGTERM"
limit=$((idle + 65536))
start "$limit"
echo "idle ${idle} kB, cap ${limit} kB"

python3 - "http://127.0.0.1:$PORT" <<'PY' || { tail -5 "$TMP/err"; fail "requests over the cap"; }
import json, sys, urllib.request, urllib.error
base = sys.argv[1]
hit = 0
paths = ["/api/v1/export?format=%s&from=-1h" % f
         for f in ("svg", "pprof", "folded", "speedscope", "json")]
paths += ["/api/v1/flamegraph?from=-1h&max_nodes=100000",
          "/api/v1/top?from=-1h", "/api/v1/export?format=svg&from=-1h"]
for p in paths:
    try:
        with urllib.request.urlopen(base + p, timeout=120) as r:
            body = r.read()
            print("%s: %d, %d bytes" % (p, r.status, len(body)))
            assert r.status == 200 and len(body) > 0, p
    except urllib.error.HTTPError as e:
        body = e.read()
        msg = json.loads(body)["error"]
        print("%s: %d %s" % (p, e.code, msg))
        assert 500 <= e.code < 600, (p, e.code)
        hit += "memory" in msg or "allocate" in msg
print("answers that hit the cap:", hit)
assert hit > 0, "no request reached the memory cap: the test proves nothing"
# The same process still answers, small requests correctly.
with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
    assert r.status == 200
with urllib.request.urlopen(base + "/api/v1/flamegraph?from=-1h&filter=comm%3Dsmall", timeout=30) as r:
    assert json.loads(r.read())["total"] == 3
PY
kill -0 "$PID" 2>/dev/null || fail "the server died"
kill "$PID"
wait "$PID" || fail "server exit status $? on SIGTERM"

# A big upload to a fresh server under the same cap: 60k stacks of
# distinct, long frames, 24 MB of folded text. It parses under the cap and
# the write's own copies come near it (a build whose store write cache
# used aborting allocators died here).
start "$limit" "$TMP/up.db"
python3 - "http://127.0.0.1:$PORT" <<'PY' || { tail -5 "$TMP/err"; fail "upload over the cap"; }
import json, sys, urllib.request, urllib.error
base = sys.argv[1]
def ingest(body):
    req = urllib.request.Request(base + "/api/v1/ingest", data=body,
                                 headers={"Content-Type": "text/x-folded"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            print("ingest %d bytes: %d" % (len(body), r.status))
            return r.status
    except urllib.error.HTTPError as e:
        msg = json.loads(e.read())["error"]
        print("ingest %d bytes: %d %s" % (len(body), e.code, msg))
        assert 400 <= e.code < 600, e.code
        return e.code
pad = "y" * 380
ingest("".join("up;g_%d_%s;leaf 1\n" % (i, pad)
               for i in range(60000)).encode())
with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
    assert r.status == 200
assert ingest(b"small;main;tiny 3\n") == 200
PY
kill -0 "$PID" 2>/dev/null || fail "the server died after the upload"
kill "$PID"
wait "$PID" || fail "server exit status $? on SIGTERM"
echo "web_oom: every answer was 200 or a JSON 5xx; the server kept answering"
