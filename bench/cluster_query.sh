#!/bin/bash
# SPDX-License-Identifier: MIT
# Query times on a central server's store (bench/cluster.sh fills one):
#   bench/cluster_query.sh DB FROM_S TO_S HOST
# FROM_S..TO_S (unix seconds) is the span that holds data; "1 h" is the
# hour around it, "24 h" the day ending with that hour, "cut bucket" an
# hour that ends in the middle of the data and of a 10 s bucket
# (CQ_HOUR_END and CQ_CUT, unix seconds, set where those hours end;
# bench/cluster_day.sh does). Through the HTTP
# API of a `kiln server` on the store (what the UI asks: flame graph,
# time line, top table), first request after start (the server loads the
# store's dictionary) and the median of 5 more; and `kiln query --format
# folded` as a cold process, the earlier measure. KILN=path picks the
# binary (the same store file for both when comparing builds: copy it).
set -eu
. "$(dirname "$0")/lib.sh"
DB=$1 FROM=$2 TO=$3 HOST=$4
KILN=${KILN:-$PWD/${OUT:-.output}/kiln}
TMP=$(mktemp -d /tmp/kiln-bench-cq.XXXXXX)
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"' EXIT

mid=$(((FROM + TO) / 2))
h1_to=${CQ_HOUR_END:-$((mid + 1800))}
h1_from=$((h1_to - 3600))
d_from=$((h1_to - 86400)) d_to=$h1_to

"$KILN" server --db "$DB" --listen 127.0.0.1:0 >"$TMP/out" 2>"$TMP/err" &
SERVER_PID=$!
PORT=$(listen_port "$TMP/out" "$SERVER_PID") || { cat "$TMP/err"; exit 1; }

# get PATH_AND_QUERY -> "ms status bytes"
get() {
	curl -s -o "$TMP/body" -w '%{time_total} %{http_code} %{size_download}\n' \
		"http://127.0.0.1:$PORT$1" | awk '{ printf "%d %s %s\n", $1 * 1000, $2, $3 }'
}
# The server's CPU time so far, in ms (user + system): on a loaded
# machine wall time is mostly waiting for a core.
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($14 + $15) * 1000 / hz }' \
		"/proc/$SERVER_PID/stat"
}
# row NAME QUERY: first, then the median of 5 and their mean server CPU
row() {
	local name=$1 q=$2 first times=() st c0 c1
	for ep in flamegraph timeline top; do
		first=$(get "/api/v1/$ep?$q")
		times=()
		c0=$(cpu_ms)
		for _ in 1 2 3 4 5; do times+=("$(get "/api/v1/$ep?$q" | cut -d' ' -f1)"); done
		c1=$(cpu_ms)
		st=$(echo "$first" | cut -d' ' -f2)
		med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
		printf '%-24s %-10s first %6s ms  warm median %6s ms  server CPU %5s ms  (HTTP %s, %s bytes)\n' \
			"$name" "$ep" "$(echo "$first" | cut -d' ' -f1)" "$med" $(((c1 - c0) / 5)) \
			"$st" "$(echo "$first" | cut -d' ' -f3)"
	done
}
echo "--- HTTP API on $(basename "$DB") ($(du -m "$DB" | cut -f1) MB), kiln $("$KILN" --version 2>/dev/null | head -1)"
row "1 h, one host" "from=$h1_from&to=$h1_to&filter=host%3D$HOST"
row "1 h, all hosts" "from=$h1_from&to=$h1_to"
row "24 h, all hosts" "from=$d_from&to=$d_to"
# A range that ends inside the data, in the middle of a 10 s bucket (like
# "the last hour" while windows arrive): that bucket is read per series.
cut=${CQ_CUT:-$((mid / 10 * 10 + 5))}
row "1 h, all, cut bucket" "from=$((cut - 3600))&to=$cut"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

echo "--- kiln query --format folded > /dev/null (a cold process each)"
q() {
	local t0 t1
	t0=$(date +%s%N)
	"$KILN" query --db "$DB" --format folded "$@" >/dev/null
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 1000000)) ms"
}
echo "1 h, one host:    $(q --from $h1_from --to $h1_to --filter "host=$HOST")"
echo "1 h, all hosts:   $(q --from $h1_from --to $h1_to)"
echo "24 h, all hosts:  $(q --from $d_from --to $d_to)"
echo "(24 h, all hosts: $("$KILN" query --db "$DB" --format folded --from $d_from --to $d_to |
	awk '{ t += $NF } END { print t + 0 }') samples)"
