#!/bin/bash
# SPDX-License-Identifier: MIT
# Web bench (docs/performance.md "Web"):
#  1. server time and bytes of GET /api/v1/flamegraph for the last 1 h and
#     the whole 24 h of the store bench's history (bench_store), next to
#     `kiln query --format folded` of the same range (the reference: the
#     same store read, no tree, no JSON, no HTTP);
#  2. in Chromium, time to first flame graph (navigation to graph and table
#     drawn) for 15 min, 1 h and 24 h of that history;
#  3. in Chromium, decode/draw/zoom/search/hover/row-pick time of a
#     ~100k-node flame graph, next to the same nodes as a flamegraph.pl-style
#     SVG (layout and paint, search and zoom the way its script does).
# KILN_BENCH_QUICK=1 uses 2 h of history instead of 24 h.
set -eu
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
TMP=$(mktemp -d /tmp/kiln-web-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

HOURS=24
[ "${KILN_BENCH_QUICK:-0}" = 1 ] && HOURS=2
START=1763596800 # bench_store's first second (2025-11-20T00:00:00Z)
END=$((START + HOURS * 3600))

start_server() { # DB -> PORT
	"$KILN" server --db "$1" --listen 127.0.0.1:0 >"$TMP/srv.$2" 2>&1 &
	PIDS+=($!)
	PORT=$(listen_port "$TMP/srv.$2" "$!" 10) && return 0
	echo "server did not start: $(cat "$TMP/srv.$2")" >&2
	return 1
}

ms_of() { # command... -> median wall ms of 5 runs
	local t=()
	for _ in 1 2 3 4 5; do
		local s e
		s=$(date +%s%N)
		"$@" >/dev/null
		e=$(date +%s%N)
		t+=($(( (e - s) / 1000000 )))
	done
	printf '%s\n' "${t[@]}" | sort -n | sed -n 3p
}

echo "writing ${HOURS} h of bench_store history..."
"$OUT/bench/bench_store" "$HOURS" "$TMP/h.db" | sed -n '1,3p'
start_server "$TMP/h.db" h
for r in "1h $((END - 3600)) $END" "${HOURS}h $START $END"; do
	set -- $r
	node bench/web_server.mjs "http://127.0.0.1:$PORT" "$1" "$2" "$3" 5 | tee "$TMP/res" | grep -v '^RESULT'
	web=$(awk '/^RESULT/ { print $3 }' "$TMP/res")
	ref=$(ms_of "$KILN" query --db "$TMP/h.db" --from "$2" --to "$3" --format folded)
	echo "  reference: kiln query --format folded, same range: ${ref} ms -> web/query = $(awk -v a="$web" -v b="$ref" 'BEGIN { printf "%.2f", a / (b ? b : 1) }')"
done

if [ -x /usr/bin/chromium ] && [ -d tests/browser/node_modules/playwright-core ]; then
	# Time to first flame graph in the UI, same history store.
	(cd tests/browser && timeout 600 node bench.mjs "http://127.0.0.1:$PORT" ttfg "$END") | grep -v '^RESULT'
	"$OUT/bench/web_datagen" wide "$TMP/w.db" 100000
	start_server "$TMP/w.db" w
	(cd tests/browser && timeout 300 node bench.mjs "http://127.0.0.1:$PORT") | grep -v '^RESULT'
else
	echo "browser bench skipped: chromium or playwright-core missing (scripts/deps.sh)"
fi
