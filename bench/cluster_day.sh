#!/bin/bash
# SPDX-License-Identifier: MIT
# A central store holding a day of a 1000-host fleet, then query times on
# it (bench/cluster_query.sh):
#   bench/cluster_day.sh DB      fills DB if it does not exist, then queries
# KILN=path queries with another build (the same file for both: a build of
# main beside this one). Not part of `make bench` (it takes ~15 minutes
# and a few GB): run it by hand and keep the file for reruns.
#
# A day at full density is 1000 x 16 CPUs x 99 Hz x 86,400 s = 137 G
# samples, far beyond one machine's session, so the day is sparse where
# that does not change what a query reads, and dense where it does:
#  - fleet: every host (16 CPUs, 60 processes) pushes one 10 s window at
#    each hour for 25 hours (push_load run --hosts 1000 --windows 1, once
#    per hour). Every series has data in every hour, so the hour rollups
#    hold the row count of a real day (60,000 series x 24 hours), and each
#    hour's first bucket holds all 1000 hosts, as any bucket of a real
#    fleet does (an hour that starts or ends inside it cuts 60,000 rows);
#  - dense: the first CLUSTER_DENSE hosts (10) push every 10 s window of
#    the last 70 minutes, like real agents: the one-host hour reads a full
#    hour of that host (60 series x 360 buckets), and the fleet series have
#    data in every bucket of the queried hour.
# CLUSTER_HOURS (25) and CLUSTER_DENSE change the shape.
set -eu
. "$(dirname "$0")/lib.sh"
DB=$1
OUT=${OUT:-.output}
# KILN_FILL / PUSH_LOAD: the builds that fill (copies, when rebuilding
# meanwhile); KILN: the one that queries.
KILN_BUILD=${KILN_FILL:-$PWD/$OUT/kiln}
LOAD=${PUSH_LOAD:-$PWD/$OUT/bench/push_load}
HOURS=${CLUSTER_HOURS:-25}
DENSE=${CLUSTER_DENSE:-10}
# Fixed times, so a kept file and its queries agree across runs: the data
# ends at END (an hour boundary in the past, then 70 minutes of dense data
# after it would reach into the future: dense data ends at END + 600).
END=${CLUSTER_END:-$(($(date +%s) / 3600 * 3600 - 3600))}
if [ -e "$DB.times" ]; then
	# shellcheck source=/dev/null
	. "$DB.times"
fi

fill() {
	local tmp server port slot t0
	tmp=$(mktemp -d /tmp/kiln-bench-day.XXXXXX)
	server=
	trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' RETURN
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/token"
	"$KILN_BUILD" server --db "$DB" --ingest --listen 127.0.0.1:0 --threads 8 \
		--auth-token-file "$tmp/token" >"$tmp/out" 2>"$tmp/err" &
	server=$!
	port=$(listen_port "$tmp/out" "$server") || { cat "$tmp/err"; return 1; }
	t0=$(date +%s)
	# Oldest first, as agents deliver: the fleet's hourly windows, then
	# the dense hosts' 70 minutes (which end 10 minutes after the last
	# hourly slot, so that slot's bucket is inside the dense span).
	for h in $(seq $((HOURS - 1)) -1 0); do
		slot=$((END - h * 3600))
		"$LOAD" run "http://127.0.0.1:$port" --hosts 1000 --windows 1 --threads 8 \
			--token-file "$tmp/token" --server-pid "$server" --start "$slot" 2>/dev/null |
			sed "s/^/fleet $(date -u -d @"$slot" +%FT%H:%M): /"
	done
	"$LOAD" run "http://127.0.0.1:$port" --hosts "$DENSE" --windows 420 --threads 8 \
		--token-file "$tmp/token" --server-pid "$server" --start $((END - 3600)) 2>/dev/null |
		sed 's/^/dense: /'
	kill "$server"
	wait "$server" 2>/dev/null || true
	server=
	echo "filled in $(($(date +%s) - t0)) s"
	printf 'END=%s\nHOURS=%s\nDENSE=%s\n' "$END" "$HOURS" "$DENSE" >"$DB.times"
}

if [ ! -e "$DB" ]; then
	echo "--- filling $DB: 1000 hosts x one window an hour x $HOURS h, $DENSE hosts dense for 70 min"
	fill
fi
ls -l "$DB" | awk '{ printf "store: %.1f MB\n", $5 / 1e6 }'
# The data spans [END - (HOURS-1) h, END + 600]; "1 h" is the hour
# ending 10 s before the data's end (so not on an hour boundary:
# minutes and 10 s buckets at its edges), "24 h" the day ending with it,
# and the cut-bucket hour ends 5 s into the fleet bucket at END (all
# 1000 hosts) and so starts 5 s into the one an hour before.
CQ_HOUR_END=$((END + 590)) CQ_CUT=$((END + 5)) \
	bench/cluster_query.sh "$DB" $((END - (HOURS - 1) * 3600)) $((END + 600)) host-0000
