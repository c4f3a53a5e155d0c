#!/bin/bash
# SPDX-License-Identifier: MIT
# Three agents, each in its own network namespace with a veth pair to the
# server's namespace, push to one `kiln server --ingest` while the test
# breaks things: the server is killed (-9) for 20 s and restarted on the
# same store; one agent is killed (-9) during the outage and another while
# it catches up, both restarted on their stores; the link to the third is
# cut and restored. Afterwards every window reached the server exactly
# once: per host, the server's sample total equals the agent's own store,
# the server holds one identity per window the agent committed, and every
# agent's spool is empty.
source "$(dirname "$0")/lib.sh"
need_root
command -v ip >/dev/null || fail "ip (iproute2) is missing: scripts/deps.sh installs it"
command -v curl >/dev/null || fail "curl is missing"

ID=$$
NS_S=kiln${ID}s
NSES=("$NS_S")
cleanup() {
	for p in "${CLEANUP_PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	for n in "${NSES[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$TMP"
}

ip netns add "$NS_S" || fail "cannot create a network namespace"
ip -n "$NS_S" link set lo up
for i in 1 2 3; do
	ns=kiln${ID}a$i
	NSES+=("$ns")
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "ks${ID}x$i" netns "$NS_S" type veth peer name "ka${ID}x$i" netns "$ns" ||
		fail "cannot create a veth pair"
	ip -n "$NS_S" addr add "10.199.$i.1/30" dev "ks${ID}x$i"
	ip -n "$ns" addr add "10.199.$i.2/30" dev "ka${ID}x$i"
	ip -n "$NS_S" link set "ks${ID}x$i" up
	ip -n "$ns" link set "ka${ID}x$i" up
done

TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN" >"$TMP/token"
DB=$TMP/central.db

SERVER_PID=
start_server() {
	ip netns exec "$NS_S" "$KILN" server --db "$DB" --listen 0.0.0.0:7070 --ingest \
		--auth-token-file "$TMP/token" --threads 8 >>"$TMP/server.out" 2>>"$TMP/server.err" &
	SERVER_PID=$!
	CLEANUP_PIDS+=("$SERVER_PID")
	for _ in $(seq 100); do
		api hosts >/dev/null 2>&1 && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.err"; fail "server exited"; }
		sleep 0.1
	done
	fail "server did not answer"
}
api() {
	ip netns exec "$NS_S" curl -sf -m 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:7070/api/v1/$1"
}

declare -A APID
start_agent() {
	local i=$1
	ip netns exec "kiln${ID}a$i" "$KILN" agent --db "$TMP/a$i.db" --window 1s --host "host$i" \
		--no-web --stats-interval 1h --push "http://10.199.$i.1:7070" \
		--push-token-file "$TMP/token" --push-max-backoff 2s >>"$TMP/a$i.out" 2>>"$TMP/a$i.err" &
	APID[$i]=$!
	CLEANUP_PIDS+=("$!")
}

# windows_on_server HOST -> windows the server has from that host
windows_on_server() {
	api hosts | tr '{' '\n' | grep "\"host\":\"$1\"" | sed -n 's/.*"windows":\([0-9]*\).*/\1/p' |
		awk '{ t += $1 } END { print t + 0 }'
}
spool() { sqlite3 "$TMP/a$1.db" 'SELECT count(*) FROM push_spool' 2>/dev/null || echo -1; }

# wait_until SECONDS COMMAND...: polls until COMMAND succeeds.
wait_until() {
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}
has_windows() { [ "$(windows_on_server "host$1")" -ge "$2" ]; }
drained() { [ "$(spool "$1")" = 0 ]; }

start_server
for i in 1 2 3; do start_agent "$i"; done
for i in 1 2 3; do
	wait_until 30 has_windows "$i" 2 || fail "host$i: no windows reached the server: $(tail -3 "$TMP/a$i.err")"
done
echo "three agents pushing: $(api hosts)"
grep -c "without TLS" "$TMP/server.err" | grep -qx 1 || fail "no single warning about plain http on 0.0.0.0"

# The server dies; the agents keep sampling and spooling.
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
t_down=$SECONDS
sleep 4
# Agent 3 dies during the outage and comes back on its store.
kill -9 "${APID[3]}"; wait "${APID[3]}" 2>/dev/null || true
start_agent 3
sleep 4
# The link to agent 2 goes down, so it misses the server's return.
ip -n "kiln${ID}a2" link set "ka${ID}x2" down
sleep $((20 - (SECONDS - t_down)))
for i in 1 2 3; do
	[ "$(spool "$i")" -ge 5 ] || fail "host$i spooled only $(spool "$i") windows during the outage"
done
echo "after $((SECONDS - t_down)) s without a server: spools $(spool 1) $(spool 2) $(spool 3)"
start_server
# Agent 1 dies while it catches up (a burst of pushes), and comes back.
wait_until 10 has_windows 1 5 || true
kill -9 "${APID[1]}"; wait "${APID[1]}" 2>/dev/null || true
echo "killed agent 1 at $(spool 1) spooled windows"
start_agent 1
wait_until 30 drained 1 || fail "host1 did not catch up: spool $(spool 1): $(tail -3 "$TMP/a1.err")"
wait_until 30 drained 3 || fail "host3 did not catch up: spool $(spool 3): $(tail -3 "$TMP/a3.err")"
[ "$(spool 2)" -ge 5 ] || fail "host2 delivered with its link down"
ip -n "kiln${ID}a2" link set "ka${ID}x2" up
wait_until 45 drained 2 || fail "host2 did not catch up after its link came back: spool $(spool 2): $(tail -3 "$TMP/a2.err")"
echo "all caught up: $(api hosts)"

# Stop the agents (each writes and delivers its last window), then count.
for i in 1 2 3; do kill "${APID[$i]}"; done
for i in 1 2 3; do wait "${APID[$i]}" 2>/dev/null || fail "agent $i exit status $? on SIGTERM"; done
for i in 1 2 3; do
	drained "$i" || fail "host$i left $(spool "$i") windows spooled at exit"
	local_total=$("$KILN" query --db "$TMP/a$i.db" --from 0 --to now --format folded |
		awk '{ t += $NF } END { print t + 0 }')
	server_total=$("$KILN" query --db "$DB" --from 0 --to now --format folded --filter "host=host$i" |
		awk '{ t += $NF } END { print t + 0 }')
	inst=$(sqlite3 "$TMP/a$i.db" "SELECT value FROM meta WHERE key = 'instance_id'")
	committed=$(sqlite3 "$TMP/a$i.db" "SELECT seq FROM sqlite_sequence WHERE name = 'push_spool'")
	received=$(sqlite3 "$DB" "SELECT count(*) || ' ' || coalesce(sum(samples), 0) FROM push_windows WHERE instance = $inst")
	echo "host$i: agent $local_total samples in $committed windows; server $server_total samples, windows+samples $received"
	[ "$local_total" -gt 0 ] || fail "host$i sampled nothing"
	[ "$server_total" = "$local_total" ] || fail "host$i: server has $server_total samples, agent $local_total"
	[ "$received" = "$committed $local_total" ] || fail "host$i: server received '$received', agent committed $committed windows of $local_total samples"
done
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
echo "cluster_push: every window reached the server exactly once"
