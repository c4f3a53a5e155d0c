#!/bin/bash
# SPDX-License-Identifier: MIT
# The agent's per-sample path (collector__add: stack interning, process
# table and mapping lookups, the JIT check) and its window flush, on
# synthetic samples shaped like a busy 2-CPU machine at 99 Hz
# (bench/bench_collector.c). No outside tool does this step alone; the
# agent's whole cost beside `perf record` is bench/agent_overhead.sh.
# Three rounds: on a shared machine the spread is part of the result.
# KILN_BENCH_QUICK=1 runs 100 windows a round instead of 500.
set -eu
OUT=${OUT:-.output}
windows=500
[ "${KILN_BENCH_QUICK:-}" = 1 ] && windows=100
for round in 1 2 3; do
	echo "round $round:"
	"$OUT/bench/bench_collector" "$windows" 2>/dev/null
done
