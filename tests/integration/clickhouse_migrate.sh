#!/bin/bash
# SPDX-License-Identifier: MIT
# `kiln migrate` from SQLite to a real clickhouse-server on loopback: the
# SQLite store and its copy answer every endpoint the same (rolled-up hours
# included), a second copy adds nothing, and a late window in a rolled-up
# hour counts at once.
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"
GEN=$PWD/$OUT/bench/web_datagen
[ -x "$GEN" ] || fail "$GEN is missing: run make"
start_clickhouse
echo "clickhouse-server on port $CH_PORT"
q() { curl -sS "http://127.0.0.1:$CH_PORT/?database=$1" --data-binary "$2"; }

# ---- migrate round trip ----
# 1.6 h of history ending half an hour before this hour: it holds one
# whole clock hour, which ClickHouse rolls up.
END=$(( $(date +%s) / 3600 * 3600 - 1800 ))
"$GEN" history "$TMP/h.db" 1.6 "$END" || fail "cannot write the SQLite history"
"$KILN" migrate --from "$TMP/h.db" --to "$CH_URL/mig" 2>"$TMP/m1" || { cat "$TMP/m1"; fail "migrate failed"; }
tail -1 "$TMP/m1"
rows=$(q mig "SELECT count(), sum(count) FROM samples")
"$KILN" migrate --from "sqlite:$TMP/h.db" --to "$CH_URL/mig" --since $((END - 900)) 2>"$TMP/m2" ||
	{ cat "$TMP/m2"; fail "second migrate failed"; }
[ "$(q mig "SELECT count(), sum(count) FROM samples")" = "$rows" ] || fail "a second copy changed the rows: $rows"
! grep -q secret "$TMP/m1" "$TMP/m2" || fail "migrate printed the password"
[ "$(q mig "SELECT count() FROM rollups")" -gt 0 ] || fail "no hour was rolled up"
start_server "$TMP/sq" --store "$TMP/h.db"; SQ=$PORT
start_server "$TMP/chm" --store "$CH_URL/mig"; CHM=$PORT
NOW=$END FROM=$((END - 5760))
node tests/integration/store_compare.mjs "http://127.0.0.1:$SQ" "http://127.0.0.1:$CHM" "$FROM" "$NOW" comm=proc3 ||
	fail "the SQLite store and its ClickHouse copy answer differently"
# A late window in a rolled-up hour counts at once on both.
LATE=$(( (FROM / 3600 + 1) * 3600 + 100 ))
printf 'late;window 1234\n' >"$TMP/late.folded"
for s in "$TMP/h.db" "$CH_URL/mig"; do
	"$KILN" import "$TMP/late.folded" --store "$s" --time "$LATE" 2>/dev/null || fail "import into $s"
done
ftotal() { curl -s "http://127.0.0.1:$1/api/v1/flamegraph?from=$FROM&to=$NOW" |
	node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).total))'; }
a=$(ftotal "$SQ") b=$(ftotal "$CHM")
[ "$a" = "$b" ] || fail "after a late window: SQLite total $a, ClickHouse $b"
echo "migrate round trip: same answers; late window seen by both (total $b)"

# Retention drops whole hours that ended before the cutoff, with their
# rollups out of use, and keeps the rest. The cutoff is the start of the
# last hour of data (END - 1800), whatever the clock says now.
CUT=$((END - 1800))
keep=$(q mig "SELECT count() FROM samples WHERE second >= $CUT")
[ "$keep" -gt 0 ] || fail "nothing in the hour that retention keeps: $keep"
start_server "$TMP/ret" --store "$CH_URL/mig" --ingest --retention "$(( $(date +%s) - CUT - 60 ))s"
for _ in $(seq 100); do
	[ "$(q mig "SELECT min(second) >= $CUT FROM samples")" = 1 ] && break
	sleep 0.1
done
[ "$(q mig "SELECT min(second) >= $CUT FROM samples")" = 1 ] || fail "retention dropped nothing"
[ "$(q mig "SELECT count() FROM samples")" = "$keep" ] || fail "retention dropped rows it should keep"
a=$(curl -s "http://127.0.0.1:$CHM/api/v1/flamegraph?from=$FROM&to=$CUT" |
	node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).total))')
[ "$a" = 0 ] || fail "samples of dropped hours still counted: $a"
echo "retention: hours before $CUT dropped, $keep rows kept"
echo "clickhouse_migrate: all checks passed"
