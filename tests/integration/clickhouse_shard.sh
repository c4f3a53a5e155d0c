#!/bin/bash
# SPDX-License-Identifier: MIT
# kiln over a sharded ClickHouse: 'samples' as a Distributed table over two
# shards, beside a plain single-table database fed the same pushes. One
# clickhouse-server plays both shards (a cluster of two replicas of itself
# on its own native port, each shard its own database), which is what one
# machine allows; docs/clickhouse.md has the real cluster's schema. kiln's
# queries (kiln query, and every read endpoint of the API through
# store_compare.mjs) must give the same answers on both, and the rows must
# be spread over both shards.
source "$(dirname "$0")/lib.sh"
LOAD=$PWD/$OUT/bench/push_load
[ -x "$LOAD" ] || fail "$LOAD is missing: run make"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"
# A window is acknowledged only once its rows are on their shard.
CH_SETTINGS='<insert_distributed_sync>1</insert_distributed_sync>'
start_clickhouse
q() { curl -sS --fail-with-body "http://kiln:secret@127.0.0.1:$CH_PORT/" --data-binary "$1"; }
TCP=$(ss -ltnpH | grep "pid=$CH_PID," | awk '{ sub(/.*:/, "", $4); print $4 }' | grep -vx "$CH_PORT" | head -1)
[ -n "$TCP" ] || fail "no native port for clickhouse-server"
mkdir -p "$TMP/ch/config.d"
shard() { echo "<shard><replica><host>127.0.0.1</host><port>$TCP</port><user>kiln</user>
	<password>secret</password><default_database>$1</default_database></replica></shard>"; }
cat >"$TMP/ch/config.d/kiln_two.xml" <<XML
<?xml version="1.0"?>
<yandex><remote_servers><kiln_two>$(shard kiln_s1)$(shard kiln_s2)</kiln_two></remote_servers></yandex>
XML
# clickhouse-server reads config.d again by itself within seconds.
for _ in $(seq 150); do
	[ "$(q "SELECT count() FROM system.clusters WHERE cluster = 'kiln_two'")" = 2 ] && break
	sleep 0.2
done
[ "$(q "SELECT count() FROM system.clusters WHERE cluster = 'kiln_two'")" = 2 ] || fail "cluster kiln_two not loaded"

# kiln's schema in a database, statement by statement (as kiln runs it).
schema() {
	q "CREATE DATABASE IF NOT EXISTS $1" >/dev/null
	grep -v '^--' storage/clickhouse.sql | awk -v RS=';\n' 'NF { printf "%s%c", $0, 0 }' |
		while IFS= read -r -d '' stmt; do
			curl -sS --fail-with-body "http://kiln:secret@127.0.0.1:$CH_PORT/?database=$1" \
				--data-binary "$stmt" >/dev/null || exit 1
		done || fail "schema in $1"
}
schema kiln_s1
schema kiln_s2
# The sharded database: samples spread by series over the shards' local
# tables; everything else (the dictionary, pushes, rollups) whole here. On a
# real cluster the dictionary is replicated to every node, so shards read
# their own copy; here each shard's 'series' reads the one in kiln.
q "CREATE DATABASE kiln" >/dev/null
q "CREATE TABLE kiln.samples AS kiln_s1.samples
	ENGINE = Distributed(kiln_two, '', samples, intHash64(series))" >/dev/null || fail "Distributed table"
schema kiln
for s in kiln_s1 kiln_s2; do
	q "DROP TABLE $s.series" >/dev/null
	q "CREATE VIEW $s.series AS SELECT * FROM kiln.series" >/dev/null || fail "series view in $s"
done

start_server "$TMP/plain" --store "$CH_URL/plain" --ingest --threads 32; PLAIN=$PORT
start_server "$TMP/kiln" --store "$CH_URL/kiln" --ingest --threads 32; SHARDED=$PORT
H=$(( $(date +%s) / 3600 * 3600 - 2 * 3600 ))
for P in "$PLAIN" "$SHARDED"; do
	"$LOAD" run "http://127.0.0.1:$P" --start "$H" --hosts 6 --windows 4 --threads 8 --cpus 2 \
		>"$TMP/load" 2>&1 || { cat "$TMP/load"; fail "push to port $P"; }
	grep -q "ok 24 dup 0 .*failed 0 " "$TMP/load" || fail "pushes to port $P: $(tail -1 "$TMP/load")"
done
s1=$(q "SELECT count() FROM kiln_s1.samples") s2=$(q "SELECT count() FROM kiln_s2.samples")
plain=$(q "SELECT count() FROM plain.samples")
echo "rows: plain $plain, shard 1 $s1, shard 2 $s2"
[ "$s1" -gt 0 ] && [ "$s2" -gt 0 ] || fail "rows not spread over both shards"
[ $((s1 + s2)) = "$plain" ] || fail "shards hold $((s1 + s2)) rows, plain $plain"

# The same questions to both: kiln query, then the HTTP API.
for args in "" "--filter host=host-0003" "--filter comm=postgres"; do
	# shellcheck disable=SC2086
	for db in plain kiln; do
		"$KILN" query --store "$CH_URL/$db" --from "$((H - 60))" --to "$((H + 3600))" \
			--format folded $args | sort >"$TMP/q.$db" || fail "kiln query on $db $args"
	done
	[ -s "$TMP/q.plain" ] || fail "no samples for '$args'"
	cmp -s "$TMP/q.plain" "$TMP/q.kiln" || fail "kiln query $args differs: $(diff "$TMP/q.plain" "$TMP/q.kiln" | head -5)"
	echo "kiln query $args: same $(total "$TMP/q.plain") samples"
done
# Every read endpoint of the API, as the SQLite/ClickHouse comparison asks.
node tests/integration/store_compare.mjs "http://127.0.0.1:$PLAIN" "http://127.0.0.1:$SHARDED" \
	"$((H - 60))" "$((H + 3600))" host=host-0001 comm || fail "the API answers differ"
echo "clickhouse_shard: all checks passed"
