#!/bin/bash
# SPDX-License-Identifier: MIT
# Every pprof file kiln writes must read in Debian's `go tool pprof` with
# the same total and the same per-function flat/cum counts that kiln
# itself reports (`kiln export --top 0`). Covered: a generated folded
# fixture (many functions, kernel, inline and JIT frames, two processes),
# a real Go CPU profile read by kiln and written again, and a real
# `kiln record` of a workload (root).
source "$(dirname "$0")/lib.sh"
command -v go >/dev/null || fail "go is missing (scripts/deps.sh installs golang-go)"
export HOME=${HOME:-$TMP} GOCACHE=$TMP/gocache GOPATH=$TMP/gopath GOFLAGS=-mod=mod
export PPROF_TMPDIR=$TMP/pprof

# table FILE -> "name flat cum" lines, sorted, from a -top table (kiln's
# or pprof's); pprof marks inlined functions "(inline)", which kiln does
# not, and pprof's percentages are not compared (they round differently).
table() {
	awk '/^ *[0-9.]+[a-z]* +[0-9.]+% +[0-9.]+% +[0-9.]+[a-z]* +[0-9.]+% / {
		name = $6; for (i = 7; i <= NF; i++) name = name " " $i
		sub(/ \((partial-)?inline\)$/, "", name)
		print name, $1, $4 }' "$1" | sort
}

table_order() {
	awk '/^ *[0-9.]+[a-z]* +[0-9.]+% +[0-9.]+% +[0-9.]+[a-z]* +[0-9.]+% / {
		name = $6; for (i = 7; i <= NF; i++) name = name " " $i
		sub(/ \((partial-)?inline\)$/, "", name); print name }' "$1"
}

# compare PPROF_FILE LABEL: go tool pprof and kiln agree on it
compare() {
	local f=$1 what=$2
	go tool pprof -top -sample_index=samples -nodefraction=0 -nodecount=100000 \
		"$f" >"$TMP/go.top" 2>"$TMP/go.err" || { cat "$TMP/go.err"; fail "$what: go tool pprof cannot read $f"; }
	"$KILN" export "$f" --top 0 >"$TMP/kiln.top" || fail "$what: kiln cannot read $f"
	local gt kt
	gt=$(sed -n 's/^Showing nodes accounting for .* of \([0-9]*\) total.*/\1/p' "$TMP/go.top")
	kt=$(sed -n 's/^Showing nodes accounting for .* of \([0-9]*\) total.*/\1/p' "$TMP/kiln.top")
	[ -n "$gt" ] && [ "$gt" = "$kt" ] || { head -5 "$TMP/go.top" "$TMP/kiln.top"; fail "$what: totals differ: go=$gt kiln=$kt"; }
	table "$TMP/go.top" >"$TMP/go.tab"
	table "$TMP/kiln.top" >"$TMP/kiln.tab"
	[ "$(wc -l <"$TMP/go.tab")" -gt 0 ] || fail "$what: no rows parsed from go tool pprof"
	diff -u "$TMP/go.tab" "$TMP/kiln.tab" || fail "$what: per-function flat/cum differ"
	# The top functions in the same order (ties in flat are broken by
	# name in both tools).
	table_order "$TMP/go.top" | head -5 >"$TMP/go.first"
	table_order "$TMP/kiln.top" | head -5 >"$TMP/kiln.first"
	diff -u "$TMP/go.first" "$TMP/kiln.first" || fail "$what: top functions differ"
	echo "$what: total $gt, $(wc -l <"$TMP/go.tab") functions agree"
}

# 1. A generated fixture: 400 stacks over 120 functions, with kernel,
#    inlined and JIT frames, in two processes.
awk 'BEGIN { srand(7)
	for (i = 0; i < 400; i++) {
		comm = (i % 3) ? "server" : "batch"
		d = 2 + int(rand() * 12); s = comm ";main"
		for (j = 0; j < d; j++) {
			f = "fn_" int(rand() * 120)
			r = rand()
			if (r < 0.08) f = f "_[i]"; else if (r < 0.12) f = f "_[j]"
			s = s ";" f
		}
		if (rand() < 0.3) s = s ";do_syscall_64_[k];ksys_read_[k]"
		print s, 1 + int(rand() * 500)
	} }' >"$TMP/fixture.folded"
"$KILN" export "$TMP/fixture.folded" -o "$TMP/fixture.pb.gz" || fail "export to pprof failed"
compare "$TMP/fixture.pb.gz" "generated fixture"
# The cpu/nanoseconds type, period and labels are visible to pprof too.
go tool pprof -raw "$TMP/fixture.pb.gz" >"$TMP/raw" 2>&1 || fail "go tool pprof -raw failed"
grep -q "PeriodType: cpu nanoseconds" "$TMP/raw" || fail "no cpu/nanoseconds period type"
grep -q "samples/count cpu/nanoseconds" "$TMP/raw" || fail "sample types missing"
grep -q "comm:\[server\]" "$TMP/raw" || fail "comm label missing"
go tool pprof -tags "$TMP/fixture.pb.gz" 2>/dev/null | grep -q "batch" || fail "pprof -tags does not show comm=batch"

# 2. A real Go CPU profile: kiln reads it, and what kiln writes from it
#    still agrees with pprof's view of the original.
mkdir -p "$TMP/gop"
cat >"$TMP/gop/main.go" <<'GO'
package main

import (
	"context"
	"os"
	"runtime/pprof"
)

//go:noinline
func spin(n int) uint64 {
	var h uint64 = 1469598103934665603
	for i := 0; i < n; i++ {
		h ^= uint64(i)
		h *= 1099511628211
	}
	return h
}

//go:noinline
func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func main() {
	f, _ := os.Create(os.Args[1])
	pprof.StartCPUProfile(f)
	pprof.Do(context.Background(), pprof.Labels("phase", "fib"), func(context.Context) { fib(36) })
	spin(400000000)
	pprof.StopCPUProfile()
	f.Close()
}
GO
printf 'module gop\ngo 1.19\n' >"$TMP/gop/go.mod"
(cd "$TMP/gop" && go build -o gop . && ./gop "$TMP/go.pb.gz") || fail "cannot build or run the Go workload"
compare "$TMP/go.pb.gz" "Go CPU profile"
"$KILN" export "$TMP/go.pb.gz" -o "$TMP/go_again.pb.gz" || fail "cannot re-export the Go profile"
compare "$TMP/go_again.pb.gz" "Go profile written again by kiln"
"$KILN" export "$TMP/go.pb.gz" | grep -q "main.fib" || fail "folded export of the Go profile lacks main.fib"

# 3. A real recording, when this machine can record (root with BPF).
if [ "$(id -u)" = 0 ] && [ -e /sys/kernel/btf/vmlinux ]; then
	W=$(build_workload cpu_split)
	"$W" 3 >/dev/null 2>&1 &
	CLEANUP_PIDS+=($!)
	wpid=$!
	if "$KILN" record -p "$wpid" -d 2 -f pprof -o "$TMP/rec.pb.gz" 2>"$TMP/rec.err"; then
		compare "$TMP/rec.pb.gz" "kiln record"
	else
		cat "$TMP/rec.err"
		fail "kiln record -f pprof failed"
	fi
	wait "$wpid" 2>/dev/null || true
fi
echo "pprof output agrees with go tool pprof"
