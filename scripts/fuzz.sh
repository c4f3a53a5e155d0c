#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets (clang -fsanitize=fuzzer,address,undefined)
# for the pprof reader, the folded reader, the ingest parser, the store's
# read paths over corrupted copies of a real store and the push wire
# decoder, and runs
# each for FUZZ_SECONDS (default 600) on its committed corpus in
# tests/fuzz/corpus/<target>/. New interesting inputs are merged back into
# the corpus; crashes land in tests/fuzz/regressions/ (replayed by
# `make test`) and make this script fail.
#   FUZZ_SECONDS=60 FUZZ_TARGETS="pprof folded" scripts/fuzz.sh
set -eu
cd "$(dirname "$0")/.."
OUT=${OUT:-.output}
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
FUZZ_TARGETS=${FUZZ_TARGETS:-pprof folded ingest store wire}
CLANG=${CLANG:-clang}
BIN=$OUT/fuzz
mkdir -p "$BIN" tests/fuzz/regressions

# The generated protobuf-c code comes from the normal build.
make --no-print-directory OUT="$OUT" "$OUT/profile.pb-c.c" "$OUT/sql_assets.c" >/dev/null
SRCS="$(echo lib/*.c profile/*.c)
$OUT/profile.pb-c.c"
# pointer-overflow is off: the profile model's vectors compute NULL + 0
# for empty arrays (never dereferenced), which UBSan reports; every other
# UB check aborts.
FLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -I. -I$OUT -fsanitize=fuzzer,address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=undefined"

failed=0
for t in $FUZZ_TARGETS; do
	echo "fuzz: building $t" >&2
	extra= libs=
	if [ "$t" = store ]; then
		extra="$(echo storage/*.c) $OUT/sql_assets.c"
		libs="-lsqlite3 -lcurl"
	elif [ "$t" = wire ]; then
		extra=storage/wire.c
	fi
	# shellcheck disable=SC2086
	$CLANG $FLAGS tests/fuzz/fuzz_$t.c $SRCS $extra -lprotobuf-c -lz -lm $libs -o "$BIN/fuzz_$t"
	corpus=tests/fuzz/corpus/$t
	work=$BIN/work_$t
	mkdir -p "$corpus" "$work"
	echo "fuzz: running $t for ${FUZZ_SECONDS}s" >&2
	start=$(date +%s)
	if ! "$BIN/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 \
		-max_len=65536 -timeout=20 -print_final_stats=1 \
		-artifact_prefix=tests/fuzz/regressions/"$t"- \
		"$work" "$corpus" 2>"$BIN/fuzz_$t.log"; then
		echo "fuzz: $t FAILED after $(($(date +%s) - start))s; see $BIN/fuzz_$t.log and tests/fuzz/regressions/" >&2
		tail -30 "$BIN/fuzz_$t.log" >&2
		failed=1
		continue
	fi
	# Keep the committed corpus small: only inputs adding coverage.
	"$BIN/fuzz_$t" -merge=1 "$corpus" "$work" >/dev/null 2>&1 || true
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$BIN/fuzz_$t.log")
	echo "fuzz: $t ok: ${runs:-?} runs in $(($(date +%s) - start))s, corpus $(ls "$corpus" | wc -l) files" >&2
done
exit $failed
