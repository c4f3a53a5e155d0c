#!/bin/bash
# SPDX-License-Identifier: MIT
# Store: 24 h of a synthetic 16-CPU host at 99 Hz through store__write,
# then queries. KILN_BENCH_QUICK=1 runs 15 minutes of history instead.
# Reference point for size: Parca sizes its storage at ~60 bytes/sample.
set -eu
OUT=${OUT:-.output}
hours=24
[ "${KILN_BENCH_QUICK:-}" = 1 ] && hours=0.25
out=$("$OUT/bench/bench_store" "$hours")
echo "$out"
bps=$(echo "$out" | sed -n 's/.* \([0-9.]*\) bytes\/sample.*/\1/p')
[ -n "$bps" ] && awk -v b="$bps" 'BEGIN { printf "size vs Parca (~60 B/sample): %.1fx smaller\n", 60 / b }'
exit 0
