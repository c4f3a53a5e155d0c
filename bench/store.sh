#!/bin/bash
# SPDX-License-Identifier: MIT
# Store: 24 h of a synthetic 16-CPU host at 99 Hz through store__write,
# then queries, in SQLite and then in ClickHouse (a clickhouse-server
# started here on loopback, as the tests do) in the same run.
# KILN_BENCH_QUICK=1 runs 15 minutes of history instead.
# Reference point for size: Parca sizes its storage at ~60 bytes/sample.
set -eu
OUT=${OUT:-.output}
hours=24
[ "${KILN_BENCH_QUICK:-}" = 1 ] && hours=0.25
echo "--- SQLite"
out=$("$OUT/bench/bench_store" "$hours")
echo "$out"
bps=$(echo "$out" | sed -n 's/.* \([0-9.]*\) bytes\/sample.*/\1/p')
[ -n "$bps" ] && awk -v b="$bps" 'BEGIN { printf "size vs Parca (~60 B/sample): %.1fx smaller\n", 60 / b }'

# ClickHouse, same history, same queries.
if ! command -v clickhouse-server >/dev/null && [ ! -x /usr/sbin/clickhouse-server ]; then
	echo "--- ClickHouse: skipped, clickhouse-server is missing (scripts/deps.sh installs it)"
	exit 0
fi
source tests/integration/lib.sh
set +e
start_clickhouse
echo "--- ClickHouse $(curl -s "http://127.0.0.1:$CH_PORT/?query=SELECT%20version()") on port $CH_PORT"
"$OUT/bench/bench_store" "$hours" "$CH_URL/bench"
# Background merges shrink the parts after the ingest: the settled size.
sleep 30
curl -s "http://127.0.0.1:$CH_PORT/" --data-binary "SELECT table, count() AS parts, sum(rows) AS rows,
	round(sum(bytes_on_disk) / 1e6, 1) AS MB FROM system.parts WHERE database = 'bench' AND active
	GROUP BY table ORDER BY MB DESC FORMAT PrettyCompactMonoBlock"
echo "data directory: $(du -sm "$TMP/ch/data" | cut -f1) MB"
stop_clickhouse
exit 0
