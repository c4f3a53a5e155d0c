#!/bin/bash
# SPDX-License-Identifier: MIT
# The agent's web server runs in its own unprivileged process (issue 12):
# not root, no capabilities, no new privileges; the sampling process has
# no listening socket. kill -9 of the web process: it is logged, counted
# and restarted, the UI answers again, and windows keep being written
# meanwhile. The issue's requests against that process get JSON errors.
source "$(dirname "$0")/lib.sh"
need_root
command -v ss >/dev/null || fail "ss is missing (iproute2)"
DB=$TMP/a.db
KILN_LOG=debug "$KILN" agent --db "$DB" --listen 127.0.0.1:0 --window 500ms \
	--stats-interval 1h 2>"$TMP/agent.log" &
AGENT=$!
CLEANUP_PIDS+=($AGENT)
PORT=
for _ in $(seq 300); do
	PORT=$(sed -n 's|.*serving the UI at http://[^:]*:\([0-9]*\)/.*|\1|p' "$TMP/agent.log")
	[ -n "$PORT" ] && break
	kill -0 "$AGENT" 2>/dev/null || { tail "$TMP/agent.log"; fail "agent exited"; }
	sleep 0.1
done
[ -n "$PORT" ] || fail "agent did not say where it serves"
URL=http://127.0.0.1:$PORT

web_pid() { ss -Hltnp "sport = :$PORT" | sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -1; }
W=$(web_pid)
[ -n "$W" ] || fail "nothing listens on $PORT"
[ "$W" != "$AGENT" ] || fail "the sampling process itself listens"
ss -Hltnp | grep -q "pid=$AGENT," && fail "the sampling process has a listening socket: $(ss -Hltnp | grep "pid=$AGENT,")"
st=/proc/$W/status
awk '/^Uid:/ { for (i = 2; i <= 5; i++) if ($i == 0) exit 1 }' "$st" || fail "web process runs as root: $(grep Uid "$st")"
awk '/^Gid:/ { for (i = 2; i <= 5; i++) if ($i == 0) exit 1 }' "$st" || fail "web process has group root: $(grep Gid "$st")"
for c in CapPrm CapEff CapBnd CapAmb; do
	grep -q "^$c:[[:space:]]*0000000000000000$" "$st" || fail "web process $(grep "^$c" "$st")"
done
grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || fail "web process without no_new_privs"
[ "$(cat /proc/$W/comm)" = kiln-web ] || fail "web process is called '$(cat /proc/$W/comm)'"
# Nothing of the sampler's is open in it: no BPF map, no perf event.
if ls -l "/proc/$W/fd" | grep -Eq 'bpf|perf_event'; then
	fail "the web process holds the sampler's descriptors: $(ls -l /proc/$W/fd)"
fi
echo "web process $W: $(grep ^Uid "$st" | tr -s '\t ' ' '), no capabilities, no_new_privs; agent $AGENT listens on nothing"

# The UI and the API answer, with the agent's own metrics and health.
[ "$(curl -s "$URL/healthz")" = ok ] || fail "healthz"
curl -s "$URL/metrics" | grep -q '^kiln_agent_web_restarts_total 0$' || fail "metrics: $(curl -s "$URL/metrics" | tail -5)"
# Some of issue 12's requests, against the agent's web process.
code=$(curl -s -o "$TMP/b" -w '%{http_code}' "$URL/api/v1/flamegraph?match=(.*)%7B1,300%7D")
case $code in 200 | 400) ;; *) fail "regex of nested repeats: $code $(head -c 200 "$TMP/b")" ;; esac
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -H 'Host: evil.example' "$URL/api/v1/labels")
[ "$code" = 421 ] || fail "rebinding Host: $code"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -H 'Content-Type: text/x-folded' --data-binary 'a;b 1' "$URL/api/v1/ingest")
[ "$code" = 404 ] || fail "ingest on the agent without --ingest: $code $(cat "$TMP/b")"

windows() { grep -c 'window committed' "$TMP/agent.log" || true; }
w0=$(windows)
kill -9 "$W"
t0=$(date +%s.%N)
# Sampling goes on while the web process is down and comes back.
back=
for _ in $(seq 100); do
	if [ "$(curl -s -m 1 "$URL/healthz")" = ok ]; then back=1; break; fi
	sleep 0.1
done
[ -n "$back" ] || fail "the UI did not come back: $(grep -i web "$TMP/agent.log" | tail -3)"
t1=$(date +%s.%N)
W2=$(web_pid)
[ -n "$W2" ] && [ "$W2" != "$W" ] || fail "no new web process (was $W, now '$W2')"
grep -q 'web process was killed by signal 9' "$TMP/agent.log" || fail "the death was not logged"
curl -s "$URL/metrics" | grep -q '^kiln_agent_web_restarts_total 1$' || fail "restart not counted"
sleep 1.5
w1=$(windows)
[ "$w1" -ge $((w0 + 3)) ] || fail "windows written around the kill: $w0 -> $w1"
kill -0 "$AGENT" || fail "the agent died"
echo "kill -9 of the web process: UI back in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s as pid $W2; windows $w0 -> $w1"

# SIGTERM to the agent takes the web process with it.
kill "$AGENT"
wait "$AGENT" || fail "agent exit status $? on SIGTERM"
for _ in $(seq 50); do kill -0 "$W2" 2>/dev/null || break; sleep 0.1; done
kill -0 "$W2" 2>/dev/null && fail "the web process outlived the agent"

# With --ingest the web process writes through its own connection (the
# store is group-writable for it) while the agent keeps writing windows.
KILN_LOG=debug "$KILN" agent --db "$DB" --listen 127.0.0.1:0 --window 500ms \
	--stats-interval 1h --ingest 2>"$TMP/agent2.log" &
AGENT=$!
CLEANUP_PIDS+=($AGENT)
PORT=
for _ in $(seq 300); do
	PORT=$(sed -n 's|.*serving the UI at http://[^:]*:\([0-9]*\)/.*|\1|p' "$TMP/agent2.log")
	[ -n "$PORT" ] && break
	kill -0 "$AGENT" 2>/dev/null || { tail "$TMP/agent2.log"; fail "agent --ingest exited"; }
	sleep 0.1
done
[ -n "$PORT" ] || fail "agent --ingest did not say where it serves"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -H 'Content-Type: text/x-folded' \
	--data-binary 'uploaded;main;via_web_process 7' "http://127.0.0.1:$PORT/api/v1/ingest?label=src%3Dci")
[ "$code" = 200 ] || fail "ingest through the agent's web process: $code $(cat "$TMP/b")"
sleep 1
kill "$AGENT"
wait "$AGENT" || fail "agent --ingest exit status $? on SIGTERM"
got=$("$KILN" query --db "$DB" --from -1h --to now --filter src=ci --format folded | awk '{ t += $NF } END { print t + 0 }')
[ "$got" = 7 ] || fail "the upload through the web process: $got samples in the store, want 7"
grep -q 'window committed' "$TMP/agent2.log" || fail "no window written beside the upload"
echo "ingest through the agent's web process: 7 samples stored beside the agent's windows"

# A root --user is refused as a usage error.
set +e
timeout 60 "$KILN" agent --db "$DB" --listen 127.0.0.1:0 --user root 2>"$TMP/e" >/dev/null
rc=$?
set -e
[ "$rc" = 2 ] || fail "--user root: exit $rc, want 2 ($(tail -1 "$TMP/e"))"
echo "agent_web_priv: all checks passed"
