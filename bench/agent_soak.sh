#!/bin/bash
# SPDX-License-Identifier: MIT
# The agent's resident memory over a long run of a changing workload: a set
# of programs that changes every PHASE seconds (python3, gzip, xz, perl,
# bash loops, node with a JIT map, headless chromium when installed),
# short-lived process churn (~50 processes a second) throughout, and the
# agent with its defaults. One CSV row a minute.
#   bench/agent_soak.sh [SECONDS] [CSV]   (default 600 s; 86400 for a day)
# Rows go to CSV (default: stdout). Columns: minute, the agent's sampling
# process's VmRSS, RssAnon and RssFile (MB), then its /metrics gauges (the
# web server is a separate process, not counted here), then the machine's
# load average. PHASE (default 300) sets how long each set of programs runs.
# The load is kept modest (each program sleeps about half of the time).
# NO_LOAD=1 runs the agent alone (beside another soak's load: two builds
# side by side under the same workload); ARGS adds agent options.
set -euo pipefail
OUT=${OUT:-.output}
KILN=${KILN:-$PWD/$OUT/kiln}
secs=${1:-600}
[ -n "${KILN_BENCH_QUICK:-}" ] && [ -z "${1:-}" ] && secs=120
csv=${2:-}
phase_s=${PHASE:-300}
[[ $secs =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS] [CSV]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }

tmp=$(mktemp -d)
chmod 755 "$tmp" # the agent's web process runs as an unprivileged user
agent=
groups=() # process groups of the current phase's programs
churn=
stop_phase() {
	for g in "${groups[@]:-}"; do
		[ -z "$g" ] || kill -TERM -- "-$g" 2>/dev/null || true
	done
	sleep 0.5
	for g in "${groups[@]:-}"; do
		# node writes its JIT map to /tmp whatever its directory.
		[ -z "$g" ] || rm -f "/tmp/perf-$g.map"
	done
	groups=()
}
cleanup() {
	stop_phase
	[ -z "$churn" ] || kill -TERM -- "-$churn" 2>/dev/null || true
	if [ -n "$agent" ]; then
		kill -TERM "$agent" 2>/dev/null || true
		wait "$agent" 2>/dev/null || true
	fi
	sleep 1 # chromium's children write their profile as they go
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Each program runs in its own session, so a phase ends with one kill per
# group (children included).
spawn() {
	setsid "$@" </dev/null >/dev/null 2>&1 &
	groups+=("$!")
}

# Input for the compressors: text that compresses, 4 MB.
seq 1 600000 | awk '{ print $1, $1 * 7 % 1000, "soak" }' >"$tmp/input"

w_python() {
	spawn python3 -c '
import time
def work(n):
    return sum(i * i for i in range(n))
while True:
    work(100000); time.sleep(0.1)'
}
w_gzip() {
	spawn bash -c "while :; do gzip -c '$tmp/input' >/dev/null; sleep 1; done"
}
w_xz() {
	spawn bash -c "while :; do head -c 1000000 '$tmp/input' | xz -c -1 >/dev/null; sleep 1; done"
}
w_perl() {
	spawn perl -e 'while (1) { my $s = 0; $s += sqrt($_) for 1 .. 100000;
		select(undef, undef, undef, 0.1) }'
}
w_bash() {
	spawn bash -c 'while :; do for ((i = 0; i < 20000; i++)); do :; done; sleep 0.1; done'
}
w_node() {
	command -v node >/dev/null || return 0
	# In $tmp: node leaves an isolate log in its directory.
	spawn bash -c 'cd "$1" && exec node --perf-basic-prof -e "
function work(n) { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i); return s; }
setInterval(() => work(1e6), 100);"' _ "$tmp"
}
w_chromium() {
	command -v chromium >/dev/null || return 0
	rm -rf "$tmp/chromium"
	spawn chromium --headless=new --no-sandbox --disable-gpu \
		--user-data-dir="$tmp/chromium" \
		"data:text/html,<script>function f(n){let s=0;for(let i=0;i<n;i++)s+=Math.sin(i);return s}setInterval(()=>f(5e5),100)</script>"
}
phases=(
	"w_python w_gzip w_bash"
	"w_perl w_xz w_node"
	"w_chromium w_python w_gzip"
	"w_node w_perl w_bash w_xz"
)

"$KILN" agent --db "$tmp/kiln.db" --listen 127.0.0.1:0 --stats-interval 1h \
	${ARGS:-} 2>"$tmp/agent.log" &
agent=$!
for _ in $(seq 300); do
	grep -qs 'sampling every CPU' "$tmp/agent.log" && break
	sleep 0.1
done
port=$(sed -n 's|.*serving the UI at http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/agent.log")
[ -n "$port" ] || { cat "$tmp/agent.log" >&2; exit 3; }

# Churn: ten short processes every 0.2 s, about 50 a second with the sleep.
if [ -n "${NO_LOAD:-}" ]; then
	phases=("")
else
	setsid bash -c 'while :; do for i in 1 2 3 4 5 6 7 8 9; do /bin/true; done; sleep 0.2; done' \
		</dev/null >/dev/null 2>&1 &
	churn=$!
fi

gauges=(symbolizer_cache_bytes symbolizer_cache_pinned_bytes symbolizer_objects_open
	symbolizer_objects_evicted_total symbolizer_objects_unloaded_total
	symbolizer_jit_bytes processes_tracked store_cache_bytes
	store_cache_resets_total sqlite_memory_bytes collector_bytes
	window_profile_bytes cgroups_cached unwind_rows heap_bytes
	heap_free_bytes)
if [ -n "$csv" ]; then exec 3>"$csv"; else exec 3>&1; fi
{
	printf "minute,rss_mb,anon_mb,file_mb"
	printf ",%s" "${gauges[@]}" samples_total lost_ring_buffer_full load1
	printf "\n"
} >&3
sample() {
	local m=$1 line v
	curl -sf --max-time 5 "http://127.0.0.1:$port/metrics" >"$tmp/metrics" ||
		: >"$tmp/metrics"
	line=$(awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 }
		END { printf "%.1f,%.1f,%.1f", r / 1024, a / 1024, f / 1024 }' \
		"/proc/$agent/status")
	for g in "${gauges[@]}" samples_total; do
		v=$(awk -v m="kiln_$g" '$1 == m { print $2 }' "$tmp/metrics")
		line+=",$v"
	done
	v=$(awk '$1 ~ /cause="ring_buffer_full"/ { print $2 }' "$tmp/metrics")
	line+=",$v,$(cut -d' ' -f1 /proc/loadavg)"
	echo "$m,$line" >&3
}

start=$SECONDS
next_phase=0
phase=0
minute=0
sample 0
while :; do
	t=$((SECONDS - start))
	[ "$t" -ge "$secs" ] && break
	kill -0 "$agent" 2>/dev/null || { echo "the agent exited" >&2; exit 3; }
	if [ "$t" -ge "$next_phase" ]; then
		stop_phase
		for w in ${phases[$((phase % ${#phases[@]}))]}; do "$w"; done
		phase=$((phase + 1))
		next_phase=$((next_phase + phase_s))
	fi
	if [ "$t" -ge $(((minute + 1) * 60)) ]; then
		minute=$((minute + 1))
		sample "$minute"
	fi
	sleep 5
done
grep 'info: samples' "$tmp/agent.log" | tail -1 >&2 || true
