#!/bin/bash
# SPDX-License-Identifier: MIT
# Go without symbols: the same Go program built normally (DWARF, .symtab)
# and with -ldflags="-s -w" (only .gopclntab left) is recorded; both must
# show the same Go function names, the inlined call (main.small inside
# main.spinB) and file:line positions that the full binary's own line
# table knows for that function.
source "$(dirname "$0")/lib.sh"
need_root
command -v go >/dev/null || fail "go is missing (scripts/deps.sh installs golang-go)"
export HOME=${HOME:-$TMP} GOCACHE=$TMP/gocache GOPATH=$TMP/gopath GOFLAGS=-mod=mod
export PPROF_TMPDIR=$TMP/pprof

mkdir -p "$TMP/g"
cp tests/workloads/gospin.go "$TMP/g/main.go"
printf 'module gospin\ngo 1.16\n' >"$TMP/g/go.mod"
(cd "$TMP/g" && go build -o full . && go build -ldflags="-s -w" -o stripped .) ||
	fail "cannot build the Go workload"
! go tool nm "$TMP/g/stripped" >/dev/null 2>&1 || fail "-s -w left a symbol table"

# lines BIN -> "function file:line" of main.* in a recording of BIN
lines() {
	"$TMP/g/$1" 4 &
	CLEANUP_PIDS+=($!)
	local pid=$!
	"$KILN" record -p "$pid" -d 2 -f pprof -o "$TMP/$1.pb.gz" 2>"$TMP/$1.err" || { cat "$TMP/$1.err"; fail "record of $1 failed"; }
	wait "$pid" 2>/dev/null || true
	go tool pprof -top -lines -nodefraction=0 -nodecount=1000 "$TMP/$1.pb.gz" 2>/dev/null |
		awk '$6 ~ /^main\./ { sub(/ \(inline\)$/, ""); print $6, $7 }' | sed 's|^\(main\.[^ ]*\) .*/\([^/]*:[0-9]*\)$|\1 \2|' | sort -u
}
lines full >"$TMP/full.lines"
lines stripped >"$TMP/stripped.lines"
echo "full:"; cat "$TMP/full.lines"; echo "stripped:"; cat "$TMP/stripped.lines"

for f in main.spinA main.spinB main.small; do
	grep -q "^$f " "$TMP/full.lines" || fail "full binary: no $f"
	grep -q "^$f " "$TMP/stripped.lines" || fail "stripped binary: no $f"
done
# main.small is an inlined frame under main.spinB in both.
for b in full stripped; do
	"$KILN" export "$TMP/$b.pb.gz" -o "$TMP/$b.folded" || fail "export $b"
	grep -q ';main.spinB;main.small_\[i\] ' "$TMP/$b.folded" || { cat "$TMP/$b.folded"; fail "$b: main.small is not inlined under main.spinB"; }
	! grep -q 'stripped+0x\|full+0x' "$TMP/$b.folded" || fail "$b: unnamed Go frames"
done
# Every position seen in the stripped binary is one the full binary's
# line table has for that function (go tool objdump lists them).
go tool objdump -s '^main\.' "$TMP/g/full" | awk '
	/^TEXT / { fn = $2; sub(/\(SB\)$/, "", fn); next }
	$1 ~ /:[0-9]+$/ { print fn, $1 }' | sort -u >"$TMP/known"
# Inlined positions belong to the callee's lines inside the caller.
sed 's/^main.small /main.spinB /' "$TMP/stripped.lines" | while read -r fn pos; do
	grep -q "^$fn $pos\$" "$TMP/known" || fail "stripped: $fn at $pos is not in the line table"
done
n=$(comm -12 "$TMP/full.lines" "$TMP/stripped.lines" | wc -l)
[ "$n" -ge 3 ] || fail "full and stripped share only $n positions"
echo "Go with and without -s -w: same names, inlined frames, $n shared positions"
