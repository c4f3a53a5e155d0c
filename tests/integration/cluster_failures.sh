#!/bin/bash
# SPDX-License-Identifier: MIT
# One agent against a real server, for the failures an operator meets:
# a wrong token (401: logged once, windows kept; the corrected token file
# is picked up and everything is delivered), a server whose disk is full
# (a 1 MB tmpfs: 503, the agent keeps its spool and delivers once there is
# room), an https server whose certificate the agent cannot verify
# (nothing sent, windows kept), and --push-format pyroscope into the
# server's Pyroscope-compatible /ingest (same totals as the agent's store).
source "$(dirname "$0")/lib.sh"
need_root
command -v openssl >/dev/null || fail "openssl is missing"

MNT=$TMP/mnt
mkdir -p "$MNT"
mount -t tmpfs -o size=1m kiln-test-push-full "$MNT" || fail "cannot mount a tmpfs"
trap 'for p in "${CLEANUP_PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; umount -l "$MNT" 2>/dev/null; [ -n "${KEEP:-}" ] && cp -r "$TMP" /tmp/kiln-failures-keep; rm -rf "$TMP"' EXIT

GOOD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$GOOD" >"$TMP/server.token"
echo "wrongwrongwrongwrongwrong" >"$TMP/agent.token"

# start_server DB ARGS... -> PORT, SERVER_PID (the same port again once
# PORT is set: the agent's URL stays the same)
start_server() {
	local db=$1; shift
	: >"$TMP/srv.out"
	"$KILN" server --db "$db" --ingest --listen "127.0.0.1:${PORT:-0}" --auth-token-file "$TMP/server.token" \
		"$@" >"$TMP/srv.out" 2>>"$TMP/srv.err" &
	SERVER_PID=$!
	CLEANUP_PIDS+=("$SERVER_PID")
	PORT=
	for _ in $(seq 100); do
		PORT=$(sed -n 's|^listening on https*://[^:]*:\([0-9]*\)/$|\1|p' "$TMP/srv.out")
		[ -n "$PORT" ] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/srv.err"; fail "server exited"; }
		sleep 0.1
	done
	fail "server did not start"
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
spool() { sqlite3 "$1" 'SELECT count(*) FROM push_spool' 2>/dev/null || echo -1; }
total() { # DB [FILTER...]
	local db=$1; shift
	"$KILN" query --db "$db" --from 0 --to now --format folded "$@" | awk '{ t += $NF } END { print t + 0 }'
}
wait_until() {
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.2; done
}
drained() { [ "$(spool "$1")" = 0 ]; }
spooled() { [ "$(spool "$1")" -ge "$2" ]; }

# 1. Wrong token, then the right one in the same file.
start_server "$TMP/central.db"
A=$TMP/a.db
"$KILN" agent --db "$A" --window 1s --host failhost --no-web --stats-interval 1h \
	--push "http://127.0.0.1:$PORT" --push-token-file "$TMP/agent.token" --push-max-backoff 1s \
	2>"$TMP/a.err" &
AGENT=$!
CLEANUP_PIDS+=("$AGENT")
wait_until 30 spooled "$A" 4 || fail "the agent spooled nothing: $(tail -3 "$TMP/a.err")"
[ "$(grep -c 'refused the token' "$TMP/a.err")" = 1 ] ||
	fail "want one 401 line, got: $(grep -c 'refused the token' "$TMP/a.err")"
[ "$(sqlite3 "$TMP/central.db" 'SELECT count(*) FROM push_windows')" = 0 ] || fail "a refused push was stored"
echo "wrong token: one log line, $(spool "$A") windows kept"
echo "$GOOD" >"$TMP/agent.token"
wait_until 30 drained "$A" || fail "the corrected token was not picked up: $(tail -3 "$TMP/a.err")"
echo "token corrected in the file: spool drained"

# 2. The server's disk fills up: 503, windows kept, delivered afterwards.
stop_server
start_server "$MNT/central.db"
wait_until 60 grep -q 'answered HTTP 503' "$TMP/a.err" ||
	fail "no 503 from a full server: $(tail -3 "$TMP/a.err"; tail -3 "$TMP/srv.err")"
wait_until 20 spooled "$A" 3 || fail "the agent did not keep its windows"
echo "full disk: 503, $(spool "$A") windows kept"
mount -o remount,size=256m "$MNT"
wait_until 60 drained "$A" || fail "not delivered after the disk had room: spool $(spool "$A")"
echo "room again: spool drained"
stop_server

# 3. https with a certificate the agent cannot verify: nothing is sent.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
	-days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
PORT=
start_server "$TMP/tls.db" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
kill "$AGENT"; wait "$AGENT" 2>/dev/null || true
"$KILN" agent --db "$A" --window 1s --host failhost --no-web --stats-interval 1h \
	--push "https://127.0.0.1:$PORT" --push-token-file "$TMP/agent.token" --push-max-backoff 1s \
	2>"$TMP/b.err" &
AGENT=$!
CLEANUP_PIDS+=("$AGENT")
wait_until 30 grep -q 'TLS certificate is not accepted' "$TMP/b.err" ||
	fail "TLS failure not logged: $(tail -3 "$TMP/b.err")"
n0=$(spool "$A")
wait_until 30 spooled "$A" $((n0 + 2)) || fail "no windows kept while TLS fails"
[ "$(sqlite3 "$TMP/tls.db" 'SELECT count(*) FROM push_windows')" = 0 ] || fail "pushed past an unverified certificate"
echo "unverifiable certificate: $(grep -m1 'certificate is not accepted' "$TMP/b.err" | cut -c1-160)"
kill "$AGENT"; wait "$AGENT" 2>/dev/null || true
# With the CA given, the same agent delivers what it kept.
"$KILN" agent --db "$A" --window 1s --host failhost --no-web --stats-interval 1h \
	--push "https://127.0.0.1:$PORT" --push-token-file "$TMP/agent.token" --push-ca "$TMP/cert.pem" \
	--push-max-backoff 1s 2>"$TMP/c.err" &
AGENT=$!
CLEANUP_PIDS+=("$AGENT")
wait_until 30 drained "$A" || fail "https with --push-ca did not deliver: $(tail -3 "$TMP/c.err")"
kill "$AGENT"; wait "$AGENT" 2>/dev/null || fail "agent exit status on SIGTERM"
drained "$A" || fail "the last window was not delivered at exit"
echo "https with --push-ca: delivered"
stop_server

# 4. --push-format pyroscope into the server's /ingest.
PORT=
start_server "$TMP/pyro.db"
P=$TMP/p.db
"$KILN" agent --db "$P" --window 1s --host pyrohost --no-web --stats-interval 1h \
	--push "http://127.0.0.1:$PORT" --push-token-file "$TMP/agent.token" --push-format pyroscope \
	--push-app myservice 2>"$TMP/p.err" &
AGENT=$!
CLEANUP_PIDS+=("$AGENT")
sleep 4
kill "$AGENT"; wait "$AGENT" 2>/dev/null || fail "agent exit status on SIGTERM"
drained "$P" || fail "pyroscope push left $(spool "$P") windows: $(tail -3 "$TMP/p.err")"
local_total=$(total "$P")
server_total=$(total "$TMP/pyro.db" --filter service_name=myservice --filter host=pyrohost)
echo "pyroscope format: agent $local_total samples, server $server_total"
[ "$local_total" -gt 0 ] && [ "$local_total" = "$server_total" ] || fail "pyroscope totals differ"
stop_server
echo "cluster_failures: all checks passed"
