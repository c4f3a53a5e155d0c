#!/bin/bash
# SPDX-License-Identifier: MIT
# kiln record's own CPU time while sampling every CPU at 99 Hz on a busy
# machine, side by side with `perf record -F 99 -a -g` in the same run, and
# kiln's peak memory over a whole-system run.
#   bench/record_overhead.sh [SECONDS]   (default 30; KILN_BENCH_QUICK=1: 5)
set -euo pipefail
OUT=${OUT:-.output}
secs=${1:-30}
[ "${KILN_BENCH_QUICK:-0}" = 1 ] && secs=5
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

# Busy machine: one spinning process per CPU; CHURN=1 adds a process
# churn load (a fork+exec loop, thousands of processes a second).
for _ in $(seq "$(nproc)"); do ( while :; do :; done ) & done
[ "${CHURN:-0}" = 1 ] && ( while :; do /bin/true; done ) &

# usage CMD...: prints "user+sys seconds, max RSS KiB" of CMD.
usage() {
	python3 - "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime:.3f} {r.ru_maxrss}")
PY
}

read -r kiln_cpu kiln_rss < <(usage "$OUT/kiln" record -F 99 --duration "$secs" --format pprof -o "$tmp/kiln.pb.gz")
read -r perf_cpu perf_rss < <(usage perf record -F 99 -a -g -o "$tmp/perf.data" -- sleep "$secs")
# perf record writes raw addresses; its symbols come later, from perf
# report. kiln's number includes symbolization, so show both.
read -r report_cpu report_rss < <(usage perf report --stdio --no-children -i "$tmp/perf.data")
awk -v s="$secs" -v kc="$kiln_cpu" -v kr="$kiln_rss" -v pc="$perf_cpu" -v pr="$perf_rss" \
	-v rc="$report_cpu" -v rr="$report_rss" -v n="$(nproc)" 'BEGIN {
	printf "machine: %d CPUs, busy; %d s at 99 Hz, every CPU\n", n, s
	printf "%-32s %10s %14s %10s\n", "tool", "CPU s", "% of one core", "max RSS"
	printf "%-32s %10.3f %13.3f%% %8.1f MB\n", "kiln record -F 99", kc, 100 * kc / s, kr / 1024
	printf "%-32s %10.3f %13.3f%% %8.1f MB\n", "perf record -F 99 -a -g", pc, 100 * pc / s, pr / 1024
	printf "%-32s %10.3f %13.3f%% %8.1f MB\n", "  + perf report (symbolize)", rc, 100 * rc / s, rr / 1024
	if (pc > 0) printf "kiln / perf record CPU time: %.2f\n", kc / pc
	if (pc + rc > 0) printf "kiln / (perf record + perf report) CPU time: %.2f\n", kc / (pc + rc)
}'
# The files each tool leaves for the same recording time.
ks=$(stat -c %s "$tmp/kiln.pb.gz") ps=$(stat -c %s "$tmp/perf.data")
awk -v k="$ks" -v p="$ps" 'BEGIN { printf "output: kiln pprof %.1f KB, perf.data %.1f KB (%.1fx smaller)\n", k / 1024, p / 1024, p / k }'
