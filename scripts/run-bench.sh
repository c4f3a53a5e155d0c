#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench`: runs every benchmark side by side with its reference tool
# and prints the numbers recorded in docs/performance.md. Each section is a
# script bench/*.sh (they may run binaries built from bench/*.c).
# KILN_BENCH_FILTER=regex selects sections; KILN_BENCH_QUICK=1 shrinks them.
set -u
cd "$(dirname "$0")/.."
export OUT=${OUT:-.output}
filter=${KILN_BENCH_FILTER:-.}
rc=0
for b in bench/*.sh; do
	[ -f "$b" ] || continue
	name=$(basename "$b" .sh)
	# lib.sh is sourced by the others; cluster_query.sh is run by
	# cluster.sh and cluster_day.sh on the store they fill.
	case $name in lib | cluster_query) continue ;; esac
	[[ $name =~ $filter ]] || continue
	echo "=== $name"
	bash "$b" || { echo "bench $name failed"; rc=1; }
done
exit $rc
