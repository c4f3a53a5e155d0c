#!/bin/bash
# SPDX-License-Identifier: MIT
# Symbolization: kiln's symbolizer vs `eu-addr2line -f -i` (inline frames
# on) on the same random addresses of the same binaries, in the same run.
# Binaries: Debian's stripped libc with its build-id debug file (libc6-dbg),
# and the kiln binary (-O2 -g). KILN_BENCH_QUICK=1 uses fewer addresses.
set -eu
OUT=${OUT:-.output}
n=20000
[ "${KILN_BENCH_QUICK:-}" = 1 ] && n=3000
libc=$(ldd "$OUT/bench/bench_symbolize" | awk '/libc.so/ { print $3 }')
for bin in "$libc" "$OUT/kiln"; do
	[ -e "$bin" ] || { echo "skipping '$bin': not found"; continue; }
	"$OUT/bench/bench_symbolize" "$bin" "$n"
done
