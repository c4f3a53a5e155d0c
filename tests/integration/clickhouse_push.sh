#!/bin/bash
# SPDX-License-Identifier: MIT
# Agents' pushes (storage/wire.h frames from bench/push_load's simulated
# hosts) into `kiln server --store clickhouse://...`: every window stored
# once however often it is sent, to either of two servers over one
# database; the hosts page lists every agent with its windows and samples.
source "$(dirname "$0")/lib.sh"
LOAD=$PWD/$OUT/bench/push_load
[ -x "$LOAD" ] || fail "$LOAD is missing: run make"
start_clickhouse
q() { curl -sS "http://127.0.0.1:$CH_PORT/?database=push" --data-binary "$1"; }
start_server "$TMP/a" --store "$CH_URL/push" --ingest; A=$PORT
start_server "$TMP/b" --store "$CH_URL/push" --ingest; B=$PORT
# The same 3 hosts x 5 windows sent to A, then all again to B (one --start:
# push_load's default start moves every 10 s, and with it the windows).
S=$(( $(date +%s) / 10 * 10 - 120 ))
"$LOAD" run "http://127.0.0.1:$A" --start "$S" --hosts 3 --windows 5 --threads 2 --cpus 2 >"$TMP/l1" 2>&1 || { cat "$TMP/l1"; fail "push to A"; }
"$LOAD" run "http://127.0.0.1:$B" --start "$S" --hosts 3 --windows 5 --threads 2 --cpus 2 >"$TMP/l2" 2>&1 || { cat "$TMP/l2"; fail "push to B"; }
grep -q "ok 15 dup 0 .*failed 0 " "$TMP/l1" || fail "first round: $(tail -1 "$TMP/l1")"
grep -q "ok 0 dup 15 .*failed 0 " "$TMP/l2" || fail "replay to the other server: $(tail -1 "$TMP/l2")"
[ "$(q "SELECT count() FROM push_windows")" = 15 ] || fail "windows recorded: $(q "SELECT count() FROM push_windows")"
[ "$(q "SELECT count() FROM (SELECT window_id FROM samples GROUP BY window_id)")" = 15 ] ||
	fail "sample windows: $(q "SELECT count() FROM (SELECT window_id FROM samples GROUP BY window_id)")"
# Both servers' hosts pages: three agents, five windows each, same samples.
for P in "$A" "$B"; do
	curl -s "http://127.0.0.1:$P/api/v1/hosts" >"$TMP/hosts"
	node -e '
		const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		if (j.hosts.length !== 3) throw new Error(`hosts: ${j.hosts.length}`);
		for (const h of j.hosts) if (h.windows !== 5 || !(h.samples > 0)) throw new Error(JSON.stringify(h));
	' "$TMP/hosts" || fail "hosts page on port $P: $(head -c 400 "$TMP/hosts")"
done
total=$(q "SELECT sum(count) FROM samples")
node -e '
	const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	const s = j.hosts.reduce((a, h) => a + h.samples, 0);
	if (s !== Number(process.argv[2])) throw new Error(`hosts say ${s}, samples hold ${process.argv[2]}`);
' "$TMP/hosts" "$total" || fail "hosts page and samples disagree"
echo "clickhouse_push: 15 windows stored once from 30 sends; hosts page on both servers"
