#!/bin/bash
# SPDX-License-Identifier: MIT
# What pushing adds to the agent: the same agent (99 Hz, 10 s windows) runs
# DURATION seconds without --push, then DURATION seconds with --push to a
# local `kiln server --ingest`; prints each run's CPU (from /proc) and the
# push thread's own CPU (thread "kiln-push"), then the catch-up after an
# outage: the agent spools OUTAGE seconds with no server, and the time and
# push-thread CPU to deliver the backlog once the server is up. Needs root.
# KILN_BENCH_QUICK=1 runs 20 s / 30 s.
set -eu
. "$(dirname "$0")/lib.sh"
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
DURATION=${DURATION:-60}
OUTAGE=${OUTAGE:-120}
[ "${KILN_BENCH_QUICK:-}" = 1 ] && DURATION=20 OUTAGE=30
[ "$(id -u)" = 0 ] || { echo "push_agent: needs root (BPF); skipped"; exit 0; }
TMP=$(mktemp -d /tmp/kiln-bench-push.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait; rm -rf "$TMP" || true' EXIT

cpu_of() { # PID -> CPU seconds of the process
	awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); split($0, f, " "); printf "%.2f\n", (f[12] + f[13]) / t }' "/proc/$1/stat"
}
push_cpu() { # PID -> CPU seconds of its kiln-push thread
	local t
	for t in /proc/"$1"/task/*; do
		if [ "$(cat "$t/comm" 2>/dev/null)" = kiln-push ]; then
			awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); split($0, f, " "); printf "%.3f\n", (f[12] + f[13]) / t }' "$t/stat"
			return
		fi
	done
	echo 0
}

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/token"
start_server() {
	"$KILN" server --db "$TMP/central.db" --ingest --listen 127.0.0.1:"${1:-0}" \
		--auth-token-file "$TMP/token" >"$TMP/srv.out" 2>"$TMP/srv.err" &
	SERVER=$!
	PIDS+=("$SERVER")
	PORT=$(listen_port "$TMP/srv.out" "$SERVER" 10)
}
start_server

run() { # NAME ARGS... -> CPU of a DURATION-second agent run
	"$KILN" agent --db "$TMP/$1.db" --no-web --stats-interval 1h "${@:2}" 2>"$TMP/$1.err" &
	local pid=$!
	PIDS+=("$pid")
	sleep 3 # start-up (BPF load, /proc scan) is not what we measure
	local c0 p0
	c0=$(cpu_of "$pid") p0=$(push_cpu "$pid")
	sleep "$DURATION"
	local c1 p1
	c1=$(cpu_of "$pid") p1=$(push_cpu "$pid")
	kill "$pid"
	wait "$pid" || true
	awk -v a="$c0" -v b="$c1" -v pa="$p0" -v pb="$p1" -v d="$DURATION" -v n="$1" \
		'BEGIN { printf "%-10s agent %.2f%% of a core, push thread %.3f%% of a core\n", n, 100 * (b - a) / d, 100 * (pb - pa) / d }'
}
echo "--- $DURATION s each, 99 Hz, 10 s windows"
run plain
run push --push "http://127.0.0.1:$PORT" --push-token-file "$TMP/token"

echo "--- catch-up after a $OUTAGE s outage (1 s windows)"
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
"$KILN" agent --db "$TMP/outage.db" --no-web --stats-interval 1h --window 1s \
	--push "http://127.0.0.1:$PORT" --push-token-file "$TMP/token" --push-max-backoff 2s \
	2>"$TMP/outage.err" &
AGENT=$!
PIDS+=("$AGENT")
sleep "$OUTAGE"
pending=$(sqlite3 "$TMP/outage.db" 'SELECT count(*) FROM push_spool')
p0=$(push_cpu "$AGENT")
t0=$(date +%s%N)
start_server "$PORT"
until [ "$(sqlite3 "$TMP/outage.db" 'SELECT count(*) FROM push_spool' 2>/dev/null || echo 9)" -le 1 ]; do
	sleep 0.2
	[ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 120 ] || { echo "did not catch up in 120 s"; break; }
done
t1=$(date +%s%N)
p1=$(push_cpu "$AGENT")
echo "backlog of $pending windows delivered in $(( (t1 - t0) / 1000000 )) ms, push thread CPU $(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.2f", b - a }') s"
