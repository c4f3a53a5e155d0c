#!/bin/bash
# SPDX-License-Identifier: MIT
# kiln agent's own cost at 99 Hz: CPU time (sampling, symbolization and
# SQLite writes, all included: it is one process) with no load and with a
# busy loop on every CPU, side by side with `perf record -F 99 -a -g` under
# the same load in the same run; and its resident memory.
#   bench/agent_overhead.sh [SECONDS]   per phase (default 60; KILN_BENCH_QUICK=1: 10)
#   AGENT_RSS_SECS=600 bench/agent_overhead.sh   adds a long run under load
#                                               sampling RSS every 30 s
# The agent's CPU is read from /proc/PID/stat after a 5 s warm-up (start-up
# scans /proc and opens every mapped binary once), so the steady state is
# what is reported; the start-up cost is printed separately.
set -euo pipefail
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
secs=${1:-60}
[ "${KILN_BENCH_QUICK:-0}" = 1 ] && secs=10
rss_secs=${AGENT_RSS_SECS:-0}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
tmp=$(mktemp -d)
load_pids=()
agent=
cleanup() {
	[ -z "$agent" ] || kill -9 "$agent" 2>/dev/null || true
	for p in "${load_pids[@]:-}"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)
warm=5

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
load_on() { for _ in $(seq "$(nproc)"); do ( while :; do :; done ) & load_pids+=("$!"); done; }
load_off() { for p in "${load_pids[@]:-}"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done; load_pids=(); }

# run_agent SECONDS -> "startup_cpu_s steady_cpu_s rss_kB hwm_kB samples"
run_agent() {
	local t=$1 c0 c1
	rm -f "$tmp/kiln.db"*
	KILN_LOG=info "$KILN" agent --db "$tmp/kiln.db" --listen 127.0.0.1:0 --stats-interval 1h \
		2>"$tmp/agent.log" &
	agent=$!
	sleep "$warm"
	c0=$(cpu_ticks "$agent")
	sleep "$t"
	c1=$(cpu_ticks "$agent")
	local rss hwm
	rss=$(rss_kb "$agent") hwm=$(hwm_kb "$agent")
	kill -TERM "$agent"
	wait "$agent" || true
	agent=
	local n
	n=$(sed -n 's/.*info: samples \([0-9]*\),.*/\1/p' "$tmp/agent.log" | tail -1)
	echo "$c0 $c1 $rss $hwm ${n:-0}" | awk -v hz="$hz" '{ printf "%.3f %.3f %d %d %d\n", $1 / hz, ($2 - $1) / hz, $3, $4, $5 }'
}

# perf_cpu SECONDS -> "cpu_s max_rss_kB" of perf record over the run
perf_cpu() {
	python3 - "$1" "$tmp/perf.data" <<'PY'
import resource, subprocess, sys
subprocess.run(["perf", "record", "-F", "99", "-a", "-g", "-o", sys.argv[2], "--", "sleep", sys.argv[1]],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime:.3f} {r.ru_maxrss}")
PY
}

read -r idle_start idle_cpu idle_rss idle_hwm idle_n < <(run_agent "$secs")
load_on
read -r busy_start busy_cpu busy_rss busy_hwm busy_n < <(run_agent "$secs")
read -r perf_c perf_rss < <(perf_cpu "$((secs + warm))")
load_off

awk -v s="$secs" -v w="$warm" -v n="$(nproc)" \
	-v is="$idle_start" -v ic="$idle_cpu" -v ir="$idle_rss" -v ih="$idle_hwm" -v in_="$idle_n" \
	-v bs="$busy_start" -v bc="$busy_cpu" -v br="$busy_rss" -v bh="$busy_hwm" -v bn="$busy_n" \
	-v pc="$perf_c" -v pr="$perf_rss" 'BEGIN {
	printf "machine: %d CPUs; %d s per phase at 99 Hz on every CPU (after %d s warm-up)\n", n, s, w
	printf "%-40s %9s %14s %9s %9s %9s\n", "run", "CPU s", "% of one core", "RSS MB", "peak MB", "samples"
	printf "%-40s %9.3f %13.3f%% %9.1f %9.1f %9d\n", "kiln agent, idle machine", ic, 100 * ic / s, ir / 1024, ih / 1024, in_
	printf "%-40s %9.3f %13.3f%% %9.1f %9.1f %9d\n", "kiln agent, every CPU busy", bc, 100 * bc / s, br / 1024, bh / 1024, bn
	printf "%-40s %9.3f %13.3f%% %9s %9.1f\n", "perf record -F 99 -a -g, every CPU busy", pc, 100 * pc / (s + w), "", pr / 1024
	printf "kiln agent start-up CPU (first %d s): %.3f s idle, %.3f s busy\n", w, is, bs
	if (pc > 0) printf "kiln agent / perf record CPU per second, busy: %.2f\n", (bc / s) / (pc / (s + w))
}'

if [ "$rss_secs" -gt 0 ]; then
	load_on
	rm -f "$tmp/kiln.db"*
	"$KILN" agent --db "$tmp/kiln.db" --listen 127.0.0.1:0 --stats-interval 5m 2>"$tmp/long.log" &
	agent=$!
	echo "long run under load: $rss_secs s, RSS every 30 s"
	echo "seconds rss_MB cpu_%_of_core_since_start"
	start=$SECONDS
	while [ $((SECONDS - start)) -lt "$rss_secs" ]; do
		sleep 30
		awk -v t=$((SECONDS - start)) -v r="$(rss_kb "$agent")" -v c="$(cpu_ticks "$agent")" -v hz="$hz" \
			'BEGIN { printf "%d %.1f %.3f\n", t, r / 1024, 100 * c / hz / t }'
	done
	echo "peak RSS $(awk '{ printf "%.1f", $1 / 1024 }' <<<"$(hwm_kb "$agent")") MB"
	kill -TERM "$agent"
	wait "$agent" || true
	agent=
	grep 'info: samples' "$tmp/long.log" | tail -1
	load_off
fi
