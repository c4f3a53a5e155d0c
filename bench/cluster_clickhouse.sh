#!/bin/bash
# SPDX-License-Identifier: MIT
# The cluster benchmark's fleet (bench/push_load: simulated 16-CPU hosts at
# 99 Hz, 10 s windows) pushed to a real `kiln server --ingest`, once over a
# SQLite store and once over ClickHouse (a clickhouse-server started here
# on loopback, as the tests do), same windows, same client threads, one
# after the other: ingest rate (wall and per server CPU second, kiln and
# clickhouse-server each), bytes per sample on disk, and query times on the
# store it filled (1 h of one host, 1 h of all hosts, 24 h of all hosts).
#
# CLUSTER_HOSTS="100 1000" (default; "100x6" for 6 windows of 100 hosts),
# CLUSTER_WINDOWS=W (default 3000 / hosts, at most 30), PUSH_THREADS=T (concurrent pushes, default 32),
# CLUSTER_STORES="sqlite clickhouse" (default both), KILN_SERVER_ARGS
# (extra `kiln server` options, e.g. --push-batch-ms 0 to turn batching
# off). KILN_BENCH_QUICK=1: 100 hosts only.
set -eu
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
LOAD=$PWD/$OUT/bench/push_load
hosts=${CLUSTER_HOSTS:-100 1000}
[ "${KILN_BENCH_QUICK:-}" = 1 ] && hosts=100
threads=${PUSH_THREADS:-32}
stores=${CLUSTER_STORES:-sqlite clickhouse}
if ! command -v clickhouse-server >/dev/null && [ ! -x /usr/sbin/clickhouse-server ]; then
	echo "--- ClickHouse: skipped, clickhouse-server is missing (scripts/deps.sh installs it)"
	stores=sqlite
fi
source tests/integration/lib.sh
set +e
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/token"

cpu_s() { # user+system seconds of a pid
	awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# One SQL statement on the bench's ClickHouse, its answer on stdout.
chq() {
	curl -sS "http://127.0.0.1:$CH_PORT/" --data-binary "$1"
}

q() { # best of 2 runs, ms
	local best= t0 t1 ms
	for _ in 1 2; do
		t0=$(date +%s%N)
		"$KILN" query --store "$STORE" --format folded "$@" >/dev/null || echo "(query failed)" >&2
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		[ -z "$best" ] || [ "$ms" -lt "$best" ] && best=$ms
	done
	echo "$best ms"
}

for kind in $stores; do
	if [ "$kind" = clickhouse ]; then
		start_clickhouse
		STORE="$CH_URL/cluster?timeout=120"
		echo "=== ClickHouse $(chq 'SELECT version()') (pid $CH_PID, port $CH_PORT)"
	else
		STORE=$TMP/central.db
		echo "=== SQLite ($STORE)"
	fi
	# shellcheck disable=SC2086
	start_server "$TMP/out" --store "$STORE" --ingest --threads 64 \
		--auth-token-file "$TMP/token" ${KILN_SERVER_ARGS:-}
	start=$(($(date +%s) / 10 * 10 - 7200))
	t0=$start
	total=0
	for n in $hosts; do
		w=$((${n%x*} / 1)) # "NxW": N hosts, W windows each
		w=$((3000 / w)); [ "$w" -gt 30 ] && w=30; [ "$w" -lt 1 ] && w=1
		[ -n "${CLUSTER_WINDOWS:-}" ] && w=$CLUSTER_WINDOWS
		[ "$n" != "${n#*x}" ] && w=${n#*x} && n=${n%x*}
		ch0=0; [ "$kind" = clickhouse ] && ch0=$(cpu_s "$CH_PID")
		out=$("$LOAD" run "http://127.0.0.1:$PORT" --hosts "$n" --windows "$w" --threads "$threads" \
			--token-file "$TMP/token" --server-pid "$SERVER_PID" --start "$start" 2>/dev/null)
		echo "$out"
		if [ "$kind" = clickhouse ]; then
			ch1=$(cpu_s "$CH_PID")
			samples=$(($(echo "$out" | sed -n 's/.* ok \([0-9]*\) .*/\1/p') * 16 * 99 * 10))
			awk -v c="$(echo "$ch1 - $ch0" | bc)" -v s="$samples" \
				'BEGIN { printf "  clickhouse-server cpu %.2f s (%.0f samples per its CPU second)\n", c, s / c }'
		fi
		total=$((total + n * w * 16 * 99 * 10))
		start=$((start + w * 10))
	done
	if [ "$kind" = clickhouse ]; then
		sleep 20 # background merges settle the parts
		bytes=$(chq "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'cluster' AND active")
		chq "SELECT table, count() AS parts, sum(rows) AS rows, round(sum(bytes_on_disk) / 1e6, 1) AS MB
			FROM system.parts WHERE database = 'cluster' AND active GROUP BY table ORDER BY MB DESC
			FORMAT PrettyCompactMonoBlock"
	else
		bytes=$(stat -c %s "$STORE")
	fi
	# Ranges from the data's own start (ingest time varies by store).
	h1="--from $((t0 - 60)) --to $((t0 + 3540))" d1="--from $((t0 - 23 * 3600)) --to $((t0 + 3600))"
	# shellcheck disable=SC2086
	merged=$("$KILN" query --store "$STORE" --format folded $d1 | awk '{ t += $NF } END { print t + 0 }')
	awk -v b="$bytes" -v s="$merged" -v p="$total" \
		'BEGIN { printf "store: %.1f MB for %.1f M samples stored (of %.1f M pushed), %.2f bytes/sample\n", b / 1e6, s / 1e6, p / 1e6, b / s }'
	echo "--- queries (kiln query --format folded > /dev/null, best of 2)"
	# shellcheck disable=SC2086
	echo "1 h, one host (host-0000):   $(q $h1 --filter host=host-0000)"
	# shellcheck disable=SC2086
	echo "1 h, all hosts:              $(q $h1)"
	# shellcheck disable=SC2086
	echo "24 h, all hosts:             $(q $d1)"
	kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
	[ "$kind" = clickhouse ] && stop_clickhouse
done
exit 0
