#!/bin/bash
# SPDX-License-Identifier: MIT
# Where the kiln agent's own time goes: the agent at 99 Hz with a busy loop
# on every CPU and 50 short processes a second, profiled by
# `perf record --call-graph dwarf -p AGENT` for SECONDS; prints the top
# functions (self time, with the system calls they make) and how many
# failing file system calls (strace -c) the agent makes in 10 s.
#   bench/agent_profile.sh [SECONDS]     default 60
#   KILN=path/to/kiln                    another build (default .output/kiln)
set -euo pipefail
OUT=${OUT:-.output}
KILN=${KILN:-$PWD/$OUT/kiln}
secs=${1:-60}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
tmp=$(mktemp -d)
pids=()
agent=
cleanup() {
	[ -z "$agent" ] || kill -9 "$agent" 2>/dev/null || true
	for p in "${pids[@]:-}"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq "$(nproc)"); do
	(while :; do :; done) &
	pids+=("$!")
done
(while :; do
	for _ in $(seq 50); do dd if=/dev/zero of=/dev/null bs=1k count=2000 2>/dev/null & done
	wait
	sleep 1
done) &
pids+=("$!")
"$KILN" agent --db "$tmp/kiln.db" --no-web --stats-interval 1h >/dev/null 2>"$tmp/agent.log" &
agent=$!
sleep 5
echo "kiln: $KILN; load average $(cut -d' ' -f1-3 /proc/loadavg)"
perf record -q --call-graph dwarf,16384 -F 499 -p "$agent" -o "$tmp/perf.data" -- sleep "$secs" >/dev/null 2>&1 || true
if command -v strace >/dev/null; then
	timeout -s INT 10 strace -f -c -p "$agent" -o "$tmp/strace" >/dev/null 2>&1 || true
	echo "system calls in 10 s (strace -c -f):"
	awk '/^------/ { n++; next } n == 1 && $NF != "total" && NF >= 5 { printf "  %-16s %8s calls %8s errors\n", $NF, $(NF - 2), (NF == 6 ? $(NF - 1) : 0) }' "$tmp/strace" |
		sort -k2 -nr | head -12 || true
fi
echo "top functions by self time (perf report --no-children):"
perf report -i "$tmp/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
	grep -E '^ +[0-9]' | head -25 || true
echo "inclusive time of the agent's file-system work and hot paths (perf report --children):"
perf report -i "$tmp/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
	grep -E '^ +[0-9]' |
	grep -E ' (jit_read|jit__read|jit__reload_if_changed|open_map|read_container|proc_fopen|safe_open[a-z_]*|cgroups__container|proc_table__scan|proc_table__get|sym_source__take|open_mapping|collector__add|collector__flush|intern_raw|symbolizer__resolve_jit|__x64_sys_openat2?|__x64_sys_newfstatat|malloc|free|_int_free|_int_malloc)$' |
	head -30 || true
kill -TERM "$agent"
wait "$agent" || true
agent=
