#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 12's load test: 16 clients on loopback mixing flame graphs, top
# tables, time lines, heat maps, exports (SVG, pprof, folded) and uploads
# against one `kiln server --ingest` built with ThreadSanitizer (`make
# tsan`, shared with web_concurrent) for KILN_LOAD_SECS (default 60).
# Every answer must be 200 with a well-formed body (a 503 "busy" counts as
# an error: 16 clients must fit), every upload must show up, /healthz must
# answer within a second throughout, and TSan must report nothing.
source "$(dirname "$0")/lib.sh"
TSAN_KILN=$PWD/$OUT/tsan/kiln
SECS=${KILN_LOAD_SECS:-60}
GEN=$PWD/$OUT/bench/web_datagen
[ -x "$GEN" ] || fail "$GEN is missing: run make"
if [ ! -x "$TSAN_KILN" ]; then
	[ "${CI:-}" = true ] && fail "$TSAN_KILN is missing: run make tsan"
	skip "$TSAN_KILN is missing: run make tsan"
fi
T0=$(( ($(date +%s) - 1800) / 60 * 60 ))
"$GEN" known "$TMP/k.db" "$T0" || fail "cannot write the test store"

export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
KILN=$TSAN_KILN SERVER_TRIES=600 start_server "$TMP/srv" --db "$TMP/k.db" --ingest

python3 - "http://127.0.0.1:$PORT" "$SECS" "$T0" <<'PY' || { grep -A30 "WARNING: ThreadSanitizer" "$TMP/srv.err" | head -60; fail "clients failed"; }
import gzip, json, sys, threading, time, urllib.request, xml.etree.ElementTree as E
base, secs, t0 = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
R = "from=%d&to=%d" % (t0, t0 + 180)
errors, counts, uploaded = [], [0] * 16, [0] * 16
health = []

def req(path, data=None, ctype=None):
    r = urllib.request.Request(base + path, data=data)
    if ctype:
        r.add_header("Content-Type", ctype)
    with urllib.request.urlopen(r, timeout=120) as resp:
        return resp.status, resp.read()

def job(i, k):
    kind = (i + k) % 8
    if kind == 0:
        st, b = req("/api/v1/flamegraph?" + R)
        j = json.loads(b)
        assert j["total"] > 0 and j["names"][0] == "total", j.get("total")
    elif kind == 1:
        st, b = req("/api/v1/top?" + R + "&match=" + ("work|sys_" if k % 2 else "comp"))
        assert json.loads(b)["functions"], "empty top"
    elif kind == 2:
        st, b = req("/api/v1/export?format=svg&" + R)
        E.fromstring(b)
    elif kind == 3:
        st, b = req("/api/v1/export?format=pprof&" + R)
        assert len(gzip.decompress(b)) > 0
    elif kind == 4:
        st, b = req("/api/v1/timeline?" + R + "&group_by=comm")
        assert json.loads(b)["series"], "empty timeline"
    elif kind == 5:
        st, b = req("/api/v1/heatmap?" + R)
        json.loads(b)
    elif kind == 6:
        body = "load%d;main;f%d 1\nload%d;main;g 2\n" % (i, k % 50, i)
        st, b = req("/api/v1/ingest?label=client%%3D%d&time=-2m" % i, body.encode(), "text/x-folded")
        assert json.loads(b)["samples"] == 3
        uploaded[i] += 3
    else:
        st, b = req("/api/v1/diff?a_from=%d&a_to=%d&b_from=%d&b_to=%d" % (t0, t0 + 60, t0 + 60, t0 + 180))
        json.loads(b)
    assert st == 200, st

def client(i):
    end = time.time() + secs
    k = 0
    try:
        while time.time() < end:
            job(i, k)
            k += 1
            counts[i] += 1
    except Exception as e:
        errors.append("client %d, request %d: %r" % (i, k, e))

def prober(stop):
    while not stop.is_set():
        t = time.time()
        try:
            st, b = req("/healthz")
            health.append(time.time() - t)
        except Exception as e:
            errors.append("healthz: %r" % e)
        stop.wait(1)

stop = threading.Event()
p = threading.Thread(target=prober, args=(stop,))
p.start()
ts = [threading.Thread(target=client, args=(i,)) for i in range(16)]
for t in ts: t.start()
for t in ts: t.join()
stop.set(); p.join()
print("requests per client:", counts, "total", sum(counts))
print("healthz: %d probes, slowest %.2f s" % (len(health), max(health or [0])))
if max(health or [0]) > 1.0:
    errors.append("healthz took %.2f s" % max(health))
# Every upload landed.
for i in range(16):
    if not uploaded[i]:
        continue
    st, b = req("/api/v1/top?from=-1h&to=%%2B1h&filter=client%%3D%d" % i)
    total = json.loads(b)["total"]
    if total != uploaded[i]:
        errors.append("client %d uploaded %d samples, the store has %d" % (i, uploaded[i], total))
if errors:
    print("\n".join(errors[:10])); sys.exit(1)
PY
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died"
kill "$SERVER_PID"
wait "$SERVER_PID" || { rc=$?; grep -A40 "WARNING: ThreadSanitizer" "$TMP/srv.err" | head -80; fail "server exit status $rc on SIGTERM"; }
if grep -q "ThreadSanitizer" "$TMP/srv.err"; then
	grep -A30 "WARNING: ThreadSanitizer" "$TMP/srv.err" | head -60
	fail "ThreadSanitizer reported $(grep -c 'WARNING: ThreadSanitizer' "$TMP/srv.err") problem(s)"
fi
echo "web_load_tsan: 16 clients for ${SECS}s under ThreadSanitizer: no error, no report"
