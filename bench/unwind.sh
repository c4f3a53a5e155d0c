#!/bin/bash
# SPDX-License-Identifier: MIT
# User stack completeness on Debian's own binaries (no frame pointers):
# kiln's CFI walk vs kiln's frame-pointer walk (--unwind fp) vs
# `perf record --call-graph dwarf`, in one run: % of samples whose stack
# reaches __libc_start_call_main, and mean user depth. Then the in-kernel
# cost per sample (kernel.bpf_stats_enabled: run_time_ns / run_cnt of
# kiln's program), unwind table build times, and the agent's memory.
set -u
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
# KILN_BEFORE=path/to/kiln: the cost rows for another build too, interleaved
SECS=${KILN_BENCH_QUICK:+2}
SECS=${SECS:-5}
TMP=$(mktemp -d /tmp/kiln-bench-unwind.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 0; }
head -c 20000000 /dev/urandom | base64 > "$TMP/data"

# workload NAME: starts it in the background and prints its pid (its stdout
# must not be the caller's pipe, or $(...) would wait for it to exit)
workload() {
	case $1 in
	gzip) bash -c "exec gzip -9 -c '$TMP/data' >/dev/null" & ;;
	xz) bash -c "exec xz -6 -T1 -c '$TMP/data' >/dev/null" & ;;
	python3) /usr/bin/python3 -c "
import time
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
end = time.time() + $SECS + ${EXTRA_SECS:-2}
while time.time() < end: fib(20)" >/dev/null & ;;
	sqlite3) sqlite3 :memory: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 200000000) SELECT sum(x) FROM c;" >/dev/null & ;;
	bash) bash -c 'i=0; while [ $i -lt 100000000 ]; do i=$((i + 1)); done' >/dev/null & ;;
	perl) perl -e 'my $s = 0; for my $i (1 .. 2000000000) { $s += $i * 2 } print $s' >/dev/null & ;;
	esac
	echo $!
}

# folded FILE -> "pct_main mean_depth samples"
folded_stats() {
	awk '{ n = $NF; line = $0; sub(/ [0-9]+$/, "", line); k = split(line, f, ";");
		d = 0; for (i = 2; i <= k; i++) if (f[i] !~ /^\[/) d++;
		t += n; dsum += d * n; if (line ~ /__libc_start_call_main/) m += n }
		END { if (t == 0) print "0 0 0"; else printf "%.1f %.1f %d\n", 100 * m / t, dsum / t, t }' "$1"
}

# perf script output -> "pct_main mean_depth samples" (user frames only)
perf_stats() {
	awk 'function flush() { if (inside) { t++; dsum += d; if (hit) m++ } inside = 0; d = 0; hit = 0 }
		/^[^ \t]/ { flush(); inside = 1; next }
		/^[ \t]+[0-9a-f]+ / { if ($0 !~ /kernel.kallsyms|\[unknown\] \(\[kernel/) d++; if ($0 ~ /__libc_start_call_main/) hit = 1; next }
		/^$/ { flush() }
		END { flush(); if (t == 0) print "0 0 0"; else printf "%.1f %.1f %d\n", 100 * m / t, dsum / t, t }' "$1"
}

echo "## completeness: % of samples reaching __libc_start_call_main, mean user depth ($SECS s at 499 Hz each)"
printf '%-8s %22s %22s %22s\n' program "kiln (CFI)" "kiln --unwind fp" "perf --call-graph dwarf"
[ -n "${KILN_BENCH_UNWIND_COST_ONLY:-}" ] || for prog in gzip xz python3 sqlite3 bash perl; do
	row=$(printf '%-8s' "$prog")
	for mode in cfi fp perf; do
		pid=$(workload "$prog")
		sleep 0.5
		if [ "$mode" = perf ]; then
			perf record -q -F 499 --call-graph dwarf -p "$pid" -o "$TMP/perf.data" -- sleep "$SECS" >/dev/null 2>&1
			perf script -i "$TMP/perf.data" -F comm,ip,sym 2>/dev/null > "$TMP/perf.txt"
			s=$(perf_stats "$TMP/perf.txt")
		else
			"$KILN" record --pid "$pid" --unwind "$mode" -F 499 --duration "$SECS" --user-only -o "$TMP/k.folded" 2>/dev/null
			s=$(folded_stats "$TMP/k.folded")
		fi
		kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		read -r pct depth n <<<"$s"
		row+=$(printf ' %9s%% %5s (%4d)' "$pct" "$depth" "$n")
	done
	echo "$row"
done

echo
# Stat indexes of bpf/profile.h's enum kiln_stat.
STAT_INDEX='{"cfi_frames": 17, "fp_frames": 18, "trie_lookups": 19, "vma_lookups": 20, "search_steps": 21}'
# cost LABEL BIN ARGS...: BIN record ARGS with the python3 fib loop running
# (@PID in ARGS is its pid); prints the program's cost between its 2nd and
# last second.
cost() {
	local label=$1 bin=$2; shift 2
	local pid kpid
	pid=$(EXTRA_SECS=60 workload python3)
	set -- "${@/@PID/$pid}"
	"$bin" record "$@" -F 499 --duration $((SECS + 60)) --user-only -o /dev/null 2>"$TMP/err" &
	kpid=$!
	rm -f "$TMP/a.json"
	for _ in $(seq 60); do # until the program is loaded, then 2 s
		sleep 1
		kill -0 "$kpid" 2>/dev/null || { echo "$label: kiln record failed: $(cat "$TMP/err")"; return; }
		python3 bench/unwind_cost.py "$kpid" "$TMP/a.json" 2>/dev/null && break
	done
	sleep 2
	python3 bench/unwind_cost.py "$kpid" "$TMP/a.json"
	sleep "$SECS"
	python3 bench/unwind_cost.py "$kpid" "$TMP/b.json"
	kill -INT "$kpid"
	python3 bench/unwind_cost.py --diff "$TMP/a.json" "$TMP/b.json" "$label" "$STAT_INDEX"
	wait "$kpid"
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}
# cost_bpftrace LABEL FILTER: bpftrace's profile:hz:499 { @[ustack] = count() }
# (a frame-pointer walk by bpf_get_stackid), FILTER such as /pid == @PID/;
# bpf_stats' run_time_ns / run_cnt only.
cost_bpftrace() {
	local label=$1 filter=$2 pid kpid
	pid=$(EXTRA_SECS=60 workload python3)
	filter=${filter/@PID/$pid}
	bpftrace -q -e "profile:hz:499 $filter { @[ustack] = count(); }" >/dev/null 2>"$TMP/err" &
	kpid=$!
	rm -f "$TMP/a.json"
	for _ in $(seq 60); do
		sleep 1
		kill -0 "$kpid" 2>/dev/null || { echo "$label: bpftrace failed: $(cat "$TMP/err")"; return; }
		UNWIND_COST_PROG=any python3 bench/unwind_cost.py "$kpid" "$TMP/a.json" 2>/dev/null && break
	done
	sleep 2
	UNWIND_COST_PROG=any python3 bench/unwind_cost.py "$kpid" "$TMP/a.json"
	sleep "$SECS"
	UNWIND_COST_PROG=any python3 bench/unwind_cost.py "$kpid" "$TMP/b.json"
	kill -TERM "$kpid"
	python3 bench/unwind_cost.py --diff "$TMP/a.json" "$TMP/b.json" "$label"
	wait "$kpid"
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}
echo "## in-kernel cost per sample (kernel.bpf_stats_enabled and kiln's own histogram), python3 fib loop running, 499 Hz"
[ -z "${KILN_BEFORE:-}" ] || echo "(\"before\" rows: $KILN_BEFORE, interleaved with this build's)"
# KILN_BENCH_LOAD=N: N copies of bench/cache_thrash (random reads over 1 GiB
# each) run through the cost rows, as a loaded machine's other jobs would:
# they evict kiln's rows and page-table entries between two samples.
thrash_pids=()
stop_thrash() {
	[ ${#thrash_pids[@]} = 0 ] || kill "${thrash_pids[@]}" 2>/dev/null
	wait "${thrash_pids[@]}" 2>/dev/null
	thrash_pids=()
}
trap 'stop_thrash; rm -rf "$TMP"' EXIT
for _ in $(seq "${KILN_BENCH_LOAD:-0}"); do
	"$OUT/bench/cache_thrash" 1024 100000 &
	thrash_pids+=($!)
done
[ "${KILN_BENCH_LOAD:-0}" = 0 ] || echo "(with $KILN_BENCH_LOAD x cache_thrash 1024 MiB running)"
old=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
for i in $(seq "${ROUNDS:-2}"); do
	cost "whole system, cfi" "$KILN" --unwind cfi
	[ -z "${KILN_BEFORE:-}" ] || cost "before: whole system, cfi" "$KILN_BEFORE" --unwind cfi
	cost "whole system, fp" "$KILN" --unwind fp
	cost "python3 only (--pid), cfi" "$KILN" --unwind cfi --pid @PID
	[ -z "${KILN_BEFORE:-}" ] || cost "before: python3 only, cfi" "$KILN_BEFORE" --unwind cfi --pid @PID
	if command -v bpftrace >/dev/null; then
		cost_bpftrace "bpftrace, whole system" ""
		cost_bpftrace "bpftrace, python3 only" "/pid == @PID/"
	fi
done
sysctl -q -w kernel.bpf_stats_enabled="$old"
stop_thrash
command -v bpftrace >/dev/null || echo "(bpftrace is not installed here: no reference number)"
[ -z "${KILN_BENCH_UNWIND_COST_ONLY:-}" ] || exit 0

echo
echo "## unwind table build (one core)"
"$OUT/bench/bench_unwind" /lib/x86_64-linux-gnu/libc.so.6 /usr/bin/python3.11 /usr/bin/node \
	/usr/bin/gzip /usr/bin/xz /usr/bin/bash /usr/bin/perl /usr/lib/x86_64-linux-gnu/libsqlite3.so.0

echo
echo "## whole system: tables and memory (kiln record -a for 5 s)"
"$KILN" record -F 99 --duration 5 -o /dev/null 2>"$TMP/err" &
kpid=$!
sleep 4
rss=$(awk '/VmRSS/ {print $2}' /proc/$kpid/status)
wait "$kpid"
grep -E 'user stacks|unwind tables' "$TMP/err"
echo "kiln RSS: $((rss / 1024)) MiB; kernel maps: the rows in 32 KiB chunks made as tables need them, up to --unwind-memory (default min(RAM/128, 64 MiB)); objects 256 KiB"
