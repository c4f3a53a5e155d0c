#!/bin/bash
# SPDX-License-Identifier: MIT
# Cluster push: bytes per sample on the wire beside gzipped pprof of the
# same window; a real `kiln server --ingest` taking windows from 1, 10,
# 100 and 1000 simulated hosts (16 CPUs at 99 Hz, 10 s windows, replayed
# by bench/push_load with 8 concurrent clients): samples per second and
# per server CPU second; then query times on the store it filled
# (bench/cluster_query.sh).
# KILN_BENCH_QUICK=1 stops at 100 hosts; CLUSTER_HOSTS="N..." and
# CLUSTER_WINDOWS=W pick the runs.
set -eu
. "$(dirname "$0")/lib.sh"
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
LOAD=$PWD/$OUT/bench/push_load
TMP=$(mktemp -d /tmp/kiln-bench-cluster.XXXXXX)
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"' EXIT

echo "--- wire size, one window of 16 CPUs x 99 Hz x 10 s"
"$LOAD" size --cpus 16 --window 10
echo "--- the same for this machine's agent (2 CPUs), 10 s and 1 s windows"
"$LOAD" size --cpus 2 --window 10
"$LOAD" size --cpus 2 --window 1

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/token"
"$KILN" server --db "$TMP/central.db" --ingest --listen 127.0.0.1:0 --threads 8 \
	--auth-token-file "$TMP/token" >"$TMP/out" 2>"$TMP/err" &
SERVER_PID=$!
PORT=$(listen_port "$TMP/out" "$SERVER_PID") || { cat "$TMP/err"; exit 1; }

hosts=${CLUSTER_HOSTS:-1 10 100 1000}
[ "${KILN_BENCH_QUICK:-}" = 1 ] && hosts="1 10 100"
echo "--- ingest (server pid $SERVER_PID, 8 client threads)"
start=$(($(date +%s) / 10 * 10 - 7200))
start0=$start
for n in $hosts; do
	w=$((3000 / n)); [ "$w" -gt 30 ] && w=30; [ "$w" -lt 2 ] && w=2
	[ -n "${CLUSTER_WINDOWS:-}" ] && w=$CLUSTER_WINDOWS
	"$LOAD" run "http://127.0.0.1:$PORT" --hosts "$n" --windows "$w" --threads 8 \
		--token-file "$TMP/token" --server-pid "$SERVER_PID" --start "$start" 2>/dev/null ||
		echo "(some pushes failed)"
	start=$((start + w * 10))
done
ls -l "$TMP/central.db" | awk '{ printf "store after ingest: %.1f MB\n", $5 / 1e6 }'

kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
# Queries on that store: the HTTP API (flame graph, time line, top) and
# kiln query; the data spans [start0, start) and one host is host-0000.
bench/cluster_query.sh "$TMP/central.db" "$start0" "$start" host-0000
