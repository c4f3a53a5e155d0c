#!/bin/bash
# SPDX-License-Identifier: MIT
# kiln agent's own cost at 99 Hz beside `perf record -F 99 -a -g` and
# bpftrace's profile program (`profile:hz:99 { @[ustack,kstack] = count() }`)
# in the same run: three scenarios (idle; a busy loop on every CPU; 50 short
# processes a second), ROUNDS rounds, the tools' order rotated each round so
# that a change in the machine's load does not favour one of them.
#   bench/agent_overhead.sh [SECONDS]     per measurement (default 20;
#                                         KILN_BENCH_QUICK=1: 5, one round)
#   ROUNDS=3                              rounds (default 3)
#   KILN_BEFORE=path/to/kiln              also measure another kiln build
#                                         (an older commit), labelled "before"
#   KILN_FP=1                             also the agent with --unwind fp
#                                         (no CFI tables), labelled "kiln-fp"
#   TOOLS="kiln perf"                     measure only these (of kiln,
#                                         kiln-fp, before, perf, bpftrace)
#   SCENARIOS="busy churn"                only these scenarios
#   WARM=15                               warm-up seconds (default 15)
#   AGENT_RSS_SECS=600                    adds a long run under load
#                                         sampling RSS every 30 s
# Each tool runs alone for a 15 s warm-up (start-up: kiln scans /proc,
# reads every mapped binary once, and its first 10 s window's flush loads
# /proc/kallsyms and symbolizes every object the first time), then its process's CPU time (user +
# system, /proc/PID/task/*/schedstat) is read over SECONDS: the steady
# state. The BPF
# programs' own time is charged to the interrupted tasks, for all three
# tools alike, so this is what each costs in user space and in its system
# calls. The agent runs with --no-web (the UI process is separate and idle).
# perf record's output is then read by `perf script` (what the FlameGraph
# pipeline does to get symbolized stacks), timed, and kiln's whole run is
# also compared with perf record's plus that.
# kiln symbolizes and stores as it goes; perf record and bpftrace only
# collect (their symbolization comes later, in perf report or at exit).
set -euo pipefail
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
secs=${1:-20}
rounds=${ROUNDS:-3}
if [ "${KILN_BENCH_QUICK:-0}" = 1 ]; then
	secs=5
	rounds=1
fi
rss_secs=${AGENT_RSS_SECS:-0}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
tmp=$(mktemp -d)
load_pids=()
tool_pid=
wrapper_pid=
cleanup() {
	[ -z "$tool_pid" ] || kill -9 "$tool_pid" 2>/dev/null || true
	[ -z "$wrapper_pid" ] || kill -9 "$wrapper_pid" 2>/dev/null || true
	for p in "${load_pids[@]:-}"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)
warm=${WARM:-15}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# CPU time of every thread of a process, in ns (clock ticks are too coarse
# for tools that use a fraction of a percent).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { print t + 0 }'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

load_busy() {
	for _ in $(seq "$(nproc)"); do
		(while :; do :; done) &
		load_pids+=("$!")
	done
}
# 50 short processes a second, each a few milliseconds of work.
load_churn() {
	(while :; do
		for _ in $(seq 50); do dd if=/dev/zero of=/dev/null bs=1k count=2000 2>/dev/null & done
		wait
		sleep 1
	done) &
	load_pids+=("$!")
}
load_off() {
	for p in "${load_pids[@]:-}"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done
	load_pids=()
	sleep 0.5
}

tools=(kiln)
[ "${KILN_FP:-0}" = 1 ] && tools+=(kiln-fp)
[ -n "${KILN_BEFORE:-}" ] && tools+=(before)
command -v perf >/dev/null && tools+=(perf)
command -v bpftrace >/dev/null && tools+=(bpftrace)
if [ -n "${TOOLS:-}" ]; then
	wanted=" $TOOLS "
	picked=()
	for t in "${tools[@]}" kiln-fp ${KILN_BEFORE:+before}; do
		case $wanted in *" $t "*) case " ${picked[*]:-} " in *" $t "*) ;; *) picked+=("$t") ;; esac ;; esac
	done
	tools=("${picked[@]}")
fi
scenarios=${SCENARIOS:-idle busy churn}

# Each tool runs under a small wrapper that forwards SIGINT/SIGTERM and, at
# the end, writes the tool's whole CPU time (start-up and exit included:
# perf record gathers build ids as it exits, bpftrace prints its map) from
# rusage; the tool's own pid goes to a file for the steady-state reading.
run_wrapped() {
	python3 - "$tmp/child.pid" "$tmp/total" "$@" <<'PY' &
import resource, signal, subprocess, sys
p = subprocess.Popen(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[2] + ".err", "w"))
open(sys.argv[1], "w").write(str(p.pid))
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda n, f: p.send_signal(n))
while True:
    try:
        p.wait()
        break
    except InterruptedError:
        pass
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[2], "w").write(f"{r.ru_utime + r.ru_stime:.4f}\n")
PY
	wrapper_pid=$!
}

start_tool() {
	rm -f "$tmp/child.pid" "$tmp/total"
	case $1 in
	kiln | before | kiln-fp)
		local bin=$KILN extra=()
		[ "$1" = before ] && bin=$KILN_BEFORE
		[ "$1" = kiln-fp ] && extra=(--unwind fp)
		rm -f "$tmp/kiln.db"*
		run_wrapped "$bin" agent --db "$tmp/kiln.db" --no-web --stats-interval 1h "${extra[@]}"
		;;
	perf)
		run_wrapped perf record -F 99 -a -g -o "$tmp/perf.data"
		;;
	bpftrace)
		run_wrapped bpftrace -e 'profile:hz:99 { @[ustack, kstack] = count(); }'
		;;
	esac
	for _ in $(seq 50); do [ -s "$tmp/child.pid" ] && break; sleep 0.1; done
	tool_pid=$(cat "$tmp/child.pid")
}

# measure TOOL -> "steady_cpu_s rss_kB hwm_kB whole_run_cpu_s"
measure() {
	local c0 c1 rss hwm total
	start_tool "$1"
	sleep "$warm"
	c0=$(cpu_ns "$tool_pid")
	sleep "$secs"
	c1=$(cpu_ns "$tool_pid")
	rss=$(rss_kb "$tool_pid") hwm=$(hwm_kb "$tool_pid")
	kill -INT "$wrapper_pid" 2>/dev/null || true
	for _ in $(seq 300); do kill -0 "$wrapper_pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$tool_pid" 2>/dev/null || true
	wait "$wrapper_pid" 2>/dev/null || true
	total=$(cat "$tmp/total" 2>/dev/null || echo 0)
	tool_pid=
	# perf record's stacks are addresses until perf script (the
	# FlameGraph pipeline) or perf report reads them: its CPU is the
	# other half of what kiln does as it goes.
	local post=0
	if [ "$1" = perf ] && [ -s "$tmp/perf.data" ]; then
		post=$({
			TIMEFORMAT='%U %S'
			time perf script -i "$tmp/perf.data" >/dev/null 2>&1
		} 2>&1 | awk '{ print $1 + $2 }')
	fi
	rm -f "$tmp/perf.data"
	awk -v a="$c0" -v b="$c1" -v r="$rss" -v h="$hwm" -v t="$total" -v p="$post" \
		'BEGIN { printf "%.4f %d %d %.4f %.4f\n", (b - a) / 1e9, r, h, t, p }'
}

echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
echo "tools: ${tools[*]}; $secs s per measurement after $warm s warm-up; $rounds rounds, order rotated"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
results=$tmp/results
: >"$results"
for scenario in $scenarios; do
	for r in $(seq "$rounds"); do
		n=${#tools[@]}
		for i in $(seq 0 $((n - 1))); do
			t=${tools[$(((i + r - 1) % n))]}
			case $scenario in
			busy) load_busy ;;
			churn) load_churn ;;
			esac
			measure "$t" >"$tmp/m"
			read -r cpu rss hwm total post <"$tmp/m"
			load_off
			echo "$scenario $r $t $cpu $rss $hwm $(cut -d' ' -f1 /proc/loadavg) $total $post" >>"$results"
		done
	done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# One line per scenario and tool: steady CPU as % of one core (mean, and
# each round), whole-run CPU seconds (start-up and exit included), RSS;
# then kiln / perf record per round (same round: same load), both ways.
awk -v s="$secs" '
{ key = $1 " " $3; cpu[key] = cpu[key] sprintf(" %.2f", 100 * $4 / s); sum[key] += $4; whole[key] += $8; n[key]++
  rss[key] = $5 > rss[key] ? $5 : rss[key]; hwm[key] = $6 > hwm[key] ? $6 : hwm[key]
  c[$1, $2, $3] = $4; w[$1, $2, $3] = $8; la[$1] = la[$1] " " $7; sc[$1] = 1
  if ($3 == "perf") { post[$1] += $9; ws[$1, $2] = $8 + $9 } }
END {
	printf "%-8s %-9s %12s  %-22s %11s %8s %8s\n", "scenario", "tool", "% of a core", "per round", "whole run", "RSS MB", "peak MB"
	split("idle busy churn", order, " ")
	split("kiln kiln-fp before perf bpftrace", tools, " ")
	for (o = 1; o <= 3; o++) {
		sn = order[o]
		if (!(sn in sc)) continue
		for (t = 1; t <= 5; t++) {
			key = sn " " tools[t]
			if (!(key in n)) continue
			printf "%-8s %-9s %11.3f%%  %-22s %9.3f s %8.1f %8.1f\n", sn, tools[t], 100 * sum[key] / n[key] / s, cpu[key], whole[key] / n[key], rss[key] / 1024, hwm[key] / 1024
		}
		for (t = 1; t <= 3; t++) {
			k = tools[t]
			if (!((sn " " k) in n) || !((sn " perf") in n)) continue
			line = ""; tot = 0; m = 0; wl = ""; wt = 0
			for (r = 1; r <= 100; r++) {
				if (!((sn, r, k) in c)) break
				ratio = c[sn, r, "perf"] > 0 ? c[sn, r, k] / c[sn, r, "perf"] : 0
				wr = w[sn, r, "perf"] > 0 ? w[sn, r, k] / w[sn, r, "perf"] : 0
				line = line sprintf(" %.1f", ratio); tot += ratio; m++
				wl = wl sprintf(" %.2f", wr); wt += wr
			}
			printf "%-8s %s / perf record: steady %.1f (rounds:%s), whole run %.2f (rounds:%s)\n", sn, k, tot / m, line, wt / m, wl
			line = ""; tot = 0; m = 0
			for (r = 1; r <= 100; r++) {
				if (!((sn, r, k) in w) || !((sn, r) in ws) || ws[sn, r] <= 0) break
				ratio = w[sn, r, k] / ws[sn, r]
				line = line sprintf(" %.2f", ratio); tot += ratio; m++
			}
			if (m) printf "%-8s %s / (perf record + perf script): whole run %.2f (rounds:%s)\n", sn, k, tot / m, line
		}
		if ((sn " perf") in n)
			printf "%-8s perf script afterwards (symbolized stacks): %.3f s of CPU per run\n", sn, post[sn] / n[sn " perf"]
		printf "%-8s load average (1 min) at each measurement:%s\n", sn, la[sn]
	}
}' "$results"

if [ "$rss_secs" -gt 0 ]; then
	load_busy
	rm -f "$tmp/kiln.db"*
	"$KILN" agent --db "$tmp/kiln.db" --no-web --stats-interval 5m 2>"$tmp/long.log" &
	tool_pid=$!
	echo "long run under load: $rss_secs s, RSS every 30 s"
	echo "seconds rss_MB cpu_%_of_core_since_start"
	start=$SECONDS
	while [ $((SECONDS - start)) -lt "$rss_secs" ]; do
		sleep 30
		awk -v t=$((SECONDS - start)) -v r="$(rss_kb "$tool_pid")" -v c="$(cpu_ticks "$tool_pid")" -v hz="$hz" \
			'BEGIN { printf "%d %.1f %.3f\n", t, r / 1024, 100 * c / hz / t }'
	done
	echo "peak RSS $(awk '{ printf "%.1f", $1 / 1024 }' <<<"$(hwm_kb "$tool_pid")") MB"
	kill -TERM "$tool_pid"
	wait "$tool_pid" || true
	tool_pid=
	load_off
fi
