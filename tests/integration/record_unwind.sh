#!/bin/bash
# SPDX-License-Identifier: MIT
# True user stacks without frame pointers: fixtures built at test time with
# gcc -O2 -fomit-frame-pointer (PIE and non-PIE), Debian's own gzip (run as
# a stream of short-lived processes: a known binary under churn) and
# python3, and a frame-pointer build whose leaf has no frame. One recording
# of all of them at once; each must have its known CPU split within 3
# points and a complete chain (to __libc_start_call_main, or to clone3 for
# another thread) in >= 99% of its samples.
source tests/integration/lib.sh
need_root
SRC=$PWD/tests/workloads
cd "$TMP"
gcc -O2 -fomit-frame-pointer -fPIC -shared -o libunwind_lib.so "$SRC/unwind_lib.c" || fail "cannot build the library"
gcc -O2 -fomit-frame-pointer -o unwind_pie "$SRC/unwind.c" -L. -lunwind_lib -Wl,-rpath,"$TMP" -lpthread || fail "cannot build the PIE fixture"
gcc -O2 -fomit-frame-pointer -no-pie -o u_chain_nopie "$SRC/unwind.c" -L. -lunwind_lib -Wl,-rpath,"$TMP" -lpthread || fail "cannot build the non-PIE fixture"
gcc -O2 -fno-omit-frame-pointer -fno-optimize-sibling-calls -o fp_split "$SRC/cpu_split.c" || fail "cannot build the frame-pointer fixture"
# One copy per mode, so each process has its own name in the profile.
for m in chain recurse plt alloca signal thread; do cp unwind_pie "u_$m"; done
head -c 3000000 /dev/urandom | base64 > data.txt
cd - >/dev/null
echo "fixtures in $TMP"

SECS=14
# The workloads run niced: thirteen busy processes on a small machine must
# not starve the profiler's own threads (the table builder, the loop that
# reads mmap records), or the test measures the scheduler.
N="nice -n 5"
pids=()
for m in chain recurse plt alloca signal thread; do
	$N "$TMP/u_$m" "$m" "$SECS" >/dev/null &
	pids+=("$!")
done
$N "$TMP/u_chain_nopie" chain "$SECS" >/dev/null &
pids+=("$!")
$N "$TMP/fp_split" "$SECS" >/dev/null &
pids+=("$!")
$N /usr/bin/python3 -c "
import time
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
end = time.time() + $SECS
while time.time() < end: fib(18)" &
pids+=("$!")
# gzip: Debian's stripped binary, a new process every ~0.2 s (--pid follows
# children forked after the recording began).
$N bash -c "end=\$((SECONDS + $SECS)); while [ \$SECONDS -lt \$end ]; do gzip -1 -c '$TMP/data.txt' >/dev/null; done" &
pids+=("$!")
# Churn: a known binary started again and again, each run 0.1 s.
cp "$TMP/unwind_pie" "$TMP/u_churn"
$N bash -c "end=\$((SECONDS + $SECS)); while [ \$SECONDS -lt \$end ]; do '$TMP/u_churn' chain 0.1 >/dev/null; done" &
pids+=("$!")
CLEANUP_PIDS+=("${pids[@]}")
# Let every workload reach its steady state first (python3's startup
# imports nest deeper than the 127-frame limit).
sleep 4
args=()
for p in "${pids[@]}"; do args+=(--pid "$p"); done
"$KILN" record "${args[@]}" --frequency 999 --duration $((SECS - 8)) --user-only -o "$TMP/out.folded" 2>"$TMP/err"
cat "$TMP/err"

F=$TMP/out.folded
# of COMM [REGEX]: samples of process COMM (matching REGEX)
of() { awk -v c="$1" -v re="${2:-.}" 'index($0, c ";") == 1 && $0 ~ re { t += $NF } END { print t + 0 }' "$F"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print 0; else printf "%.1f\n", 100 * a / b }'; }
errors=0
check() { # NAME VALUE OP LIMIT
	if awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !((op == ">=") ? v >= l : v <= l) }'; then
		echo "ok   $1: $2 ($3 $4)"
	else
		echo "FAIL $1: $2 (want $3 $4)"
		errors=$((errors + 1))
	fi
}
# Complete: from the leaf to the outermost frame: __libc_start_call_main
# for a main thread, clone3 for another, ld.so's _start before main runs.
COMPLETE=';__libc_start_call_main;|;clone3;|^[^;]*;_start;_dl_start;'
complete() { # COMM [FLOOR]
	local all done floor
	all=$(of "$1")
	done=$(of "$1" "$COMPLETE")
	[ "$all" -ge 50 ] || { echo "FAIL $1: only $all samples"; errors=$((errors + 1)); return; }
	# >= 99%; with few samples (a busy machine) up to 2 may miss.
	floor=$(awk -v n="$all" -v f="${2:-99}" 'BEGIN { l = 100 * (n - 2) / n; print (l < f ? l : f) }')
	check "$1 complete % of $all" "$(pct "$done" "$all")" ">=" "$floor"
}

for c in u_chain u_chain_nopie; do
	complete "$c"
	all=$(of "$c" ";leaf ")
	ab=$(of "$c" ";run_chain;chain_a;chain_b;leaf ")
	cc=$(of "$c" ";run_chain;chain_c;leaf ")
	# +-3 points, or 3 standard errors where the samples are too few to
	# judge 3 points (a busy machine gives the workload less CPU).
	tol=$(awk -v n="$all" 'BEGIN { if (n == 0) n = 1; t = 300 * sqrt(0.24 / n); print (t > 3 ? t : 3) }')
	a=$(pct "$ab" "$all")
	check "$c main;run_chain;chain_a;chain_b;leaf % of $all (tolerance $tol)" "$a" ">=" "$(awk -v t="$tol" 'BEGIN { print 60 - t }')"
	check "$c main;run_chain;chain_a;chain_b;leaf % of $all (tolerance $tol)" "$a" "<=" "$(awk -v t="$tol" 'BEGIN { print 60 + t }')"
	b=$(pct "$cc" "$all")
	check "$c main;run_chain;chain_c;leaf %" "$b" ">=" "$(awk -v t="$tol" 'BEGIN { print 40 - t }')"
	check "$c main;run_chain;chain_c;leaf %" "$b" "<=" "$(awk -v t="$tol" 'BEGIN { print 40 + t }')"
done
complete u_recurse
deep=$(awk 'index($0, "u_recurse;") == 1 { n = gsub(/;recurse;/, "&"); m = gsub(/;recurse/, "&"); if (m >= 100) t += $NF } END { print t + 0 }' "$F")
inleaf=$(of u_recurse ";recurse;leaf ")
check "u_recurse: samples in leaf with >= 100 recurse frames, % of those in leaf" "$(pct "$deep" "$inleaf")" ">=" 99
complete u_plt
check "u_plt: main;call_lib;unwind_lib_work;lib_leaf %" "$(pct "$(of u_plt ";main;call_lib;unwind_lib_work;lib_leaf ")" "$(of u_plt)")" ">=" 90
complete u_alloca
check "u_alloca: main;with_alloca;leaf %" "$(pct "$(of u_alloca ";main;with_alloca;leaf ")" "$(of u_alloca)")" ">=" 90
complete u_signal
sig=$(of u_signal ";on_signal;leaf ")
sigfull=$(of u_signal ";main;send_signals;.*;on_signal;leaf ")
check "u_signal: handler samples whose stack goes through the signal frame to main %" "$(pct "$sigfull" "$sig")" ">=" 99
check "u_signal: samples in the handler" "$sig" ">=" 50
tall=$(of u_thread ";thread_main;")
tdone=$(of u_thread ";clone3;start_thread;thread_main;")
check "u_thread: other-thread samples ending at clone3 %" "$(pct "$tdone" "$tall")" ">=" 99
# Debian's python3 and gzip: 99% is the target and what a quiet machine
# gives; the floor is 97% because gzip here is a stream of 0.2 s processes
# (their exec and exit moments can be unreadable) and python3's startup
# imports nest past the frame limit.
complete python3 97
complete gzip 97
# Short-lived processes of a known binary (0.1 s each): unwindable from
# their first sample (the walk finds the vma in the kernel and the file by
# inode in unwind_files, written once per file: nothing per process waits for
# user space). What is left is exec and exit moments, whose stacks
# cannot be read, and more of them under load: the floor is 70% (frame
# pointers gave 0% on this binary).
churn_all=$(of u_churn)
churn_done=$(of u_churn "$COMPLETE")
check "u_churn: short-lived processes' samples complete % of $churn_all" "$(pct "$churn_done" "$churn_all")" ">=" 70
# The frame-pointer build: the leaf (burn) keeps its caller.
fpall=$(of fp_split ";burn ")
fpok=$(of fp_split ";func_[abc];burn ")
check "fp_split: burn's caller present %" "$(pct "$fpok" "$fpall")" ">=" 99
complete fp_split
grep -q 'user stacks: [0-9]* complete' "$TMP/err" || fail "the summary must say how user stacks ended"
[ "$errors" -eq 0 ] || { grep -v '^\(u_\|gzip\|python3\|fp_split\)' "$F" | head; sort -k2 -t' ' -nr "$F" | awk -v re="$COMPLETE" '$0 !~ re' | head -10 | cut -c1-300; fail "$errors checks failed"; }
exit 0
