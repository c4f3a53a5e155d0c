#!/bin/bash
# SPDX-License-Identifier: MIT
# Formats and diff: two pprof files of 1M samples each (nearly all stacks
# distinct, 5000 functions) written by kiln's pprof writer; pprof write and
# read throughput; then `kiln diff` against `go tool pprof -top
# -diff_base` on the same files (wall time and peak RSS).
# KILN_BENCH_QUICK=1 uses 100k samples.
set -eu
OUT=${OUT:-.output}
n=1000000
[ "${KILN_BENCH_QUICK:-}" = 1 ] && n=100000
tmp=$(mktemp -d /tmp/kiln-bench-fmt.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$OUT/bench/bench_diff" "$tmp/base.pb.gz" "$tmp/new.pb.gz" "$n"
ls -l "$tmp"/*.pb.gz | awk '{ printf "file: %s %.1f MB\n", $NF, $5 / 1e6 }'
measure() { # measure LABEL CMD... -> "LABEL: S s, KB"
	local label=$1; shift
	/usr/bin/time -f "$label: %e s wall, %M KB peak RSS" "$@" >/dev/null 2>"$tmp/time" || true
	tail -1 "$tmp/time"
}
k=$(measure "kiln diff" "$OUT/kiln" diff "$tmp/base.pb.gz" "$tmp/new.pb.gz" --threshold 0.5)
echo "$k"
if command -v go >/dev/null; then
	export GOCACHE=$tmp/gocache PPROF_TMPDIR=$tmp
	# pprof needs tens of minutes and >10 GB on 1M distinct stacks: cap
	# it, and report a lower bound when it does not finish.
	limit=${GO_PPROF_LIMIT:-300}
	g=$(measure "go tool pprof -top -diff_base" timeout "$limit" go tool pprof -top -nodecount=20 \
		-diff_base="$tmp/base.pb.gz" "$tmp/new.pb.gz")
	ks=$(echo "$k" | sed 's/.*: \([0-9.]*\) s wall.*/\1/')
	gs=$(echo "$g" | sed 's/.*: \([0-9.]*\) s wall.*/\1/')
	if awk -v g="$gs" -v l="$limit" 'BEGIN { exit !(g >= l - 1) }'; then
		echo "go tool pprof -top -diff_base: did not finish in ${limit} s (stopped)"
		awk -v k="$ks" -v l="$limit" 'BEGIN { if (k > 0) printf "kiln diff is more than %.1fx faster than go tool pprof -diff_base\n", l / k }'
	else
		echo "$g"
		awk -v k="$ks" -v g="$gs" 'BEGIN { if (k > 0) printf "kiln diff is %.1fx faster than go tool pprof -diff_base\n", g / k }'
	fi
fi
