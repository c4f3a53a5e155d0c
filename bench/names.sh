#!/bin/bash
# SPDX-License-Identifier: MIT
# Cost of names: demangling every symbol of C++ libraries (kiln's
# libiberty wrapper vs c++filt, the same demangler behind a pipe), and
# resolving every function of a Go binary built with -s -w from .gopclntab
# (kiln vs go tool addr2line, which reads the same table).
set -eu
OUT=${OUT:-.output}
B=$OUT/bench/bench_names
T=$(mktemp -d /tmp/kiln-bench-names.XXXXXX)
trap 'rm -rf "$T"' EXIT
for lib in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 "$(command -v node || true)"; do
	[ -n "$lib" ] && [ -e "$lib" ] || continue
	nm -D --defined-only "$lib" | awk '{ n = $NF; sub(/@.*/, "", n); print n }' >"$T/names"
	echo "object=$lib $("$B" demangle <"$T/names")"
	t0=$(date +%s%N); c++filt <"$T/names" >/dev/null; t1=$(date +%s%N)
	echo "  c++filt total_us=$(( (t1 - t0) / 1000 ))"
done
if command -v go >/dev/null; then
	export HOME=${HOME:-$T} GOCACHE=$T/gocache GOFLAGS=-mod=mod
	mkdir -p "$T/g"
	cp tests/workloads/gospin.go "$T/g/main.go"
	printf 'module gospin\ngo 1.16\n' >"$T/g/go.mod"
	(cd "$T/g" && go build -o full . && go build -ldflags="-s -w" -o stripped .)
	go tool nm "$T/g/full" | awk '$2 == "T" || $2 == "t" { print $1 }' >"$T/addrs"
	echo "functions=$(wc -l <"$T/addrs")"
	"$B" go "$T/g/stripped" "$T/addrs"
	"$B" go "$T/g/full" "$T/addrs"
	sed 's/^/0x/' "$T/addrs" >"$T/addrs0x"
	t0=$(date +%s%N); go tool addr2line "$T/g/stripped" <"$T/addrs0x" >/dev/null; t1=$(date +%s%N)
	echo "  go tool addr2line (stripped) total_us=$(( (t1 - t0) / 1000 ))"
fi
# Naming stored frames again when debug info arrives, the store's side:
# 100k frames of one build id renamed (bench_rename: beside writing them
# fresh, and the query before and after), then the same store taken back
# to version 4's frames table and opened by `kiln query`, which migrates
# it (v5 rebuilds the frames table), beside the same query without.
KILN=$OUT/kiln
"$OUT/bench/bench_rename" "$T/r.db" 100000
command -v sqlite3 >/dev/null || { echo "sqlite3 missing: migration not measured"; exit 0; }
sqlite3 "$T/r.db" "DROP TABLE frame_names;
CREATE TABLE f4 (id INTEGER PRIMARY KEY, function INTEGER NOT NULL, mapping INTEGER NOT NULL,
	line INTEGER NOT NULL, kind INTEGER NOT NULL, addr INTEGER NOT NULL,
	UNIQUE (function, mapping, line, kind, addr));
INSERT INTO f4 SELECT id, function, mapping, line, kind, addr FROM frames;
DROP TABLE frames; ALTER TABLE f4 RENAME TO frames; PRAGMA user_version = 4;"
q() { "$KILN" query --store "$T/r.db" --from 1790000000 --to 1790007200 >/dev/null; }
t0=$(date +%s%N); q; t1=$(date +%s%N); q; t2=$(date +%s%N)
echo "frames=$(sqlite3 "$T/r.db" 'SELECT count(*) FROM frames') query_migrating_v4_ms=$(( (t1 - t0) / 1000000 )) query_ms=$(( (t2 - t1) / 1000000 ))"
