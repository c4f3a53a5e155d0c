#!/bin/bash
# SPDX-License-Identifier: MIT
# kiln agent's resident memory over a long run with python3, node and
# chromium sampled (the binaries with the largest symbol tables and JIT
# maps on a typical machine), beside the object cache's own gauges.
#   bench/agent_rss.sh [SECONDS]   (default 600; RSS every 30 s)
# Prints "seconds rss_MB anon_MB file_MB cache_MB objects evicted
# jit_MB lost load1" rows and the agent's summary line. With KEEP=DIR,
# each row's /proc/PID/smaps_rollup and /metrics are kept there too
# (tSECONDS.smaps, tSECONDS.metrics), to see what holds the memory.
set -euo pipefail
OUT=${OUT:-.output}
KILN=${KILN:-$PWD/$OUT/kiln}
secs=${1:-600}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
tmp=$(mktemp -d)
chmod 755 "$tmp" # the agent's web process runs as an unprivileged user
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done
	sleep 1 # chromium's children write their profile as they go
	rm -rf "$tmp"
}
trap cleanup EXIT

"$KILN" agent --db "$tmp/kiln.db" --listen 127.0.0.1:0 --stats-interval 1h \
	"${@:2}" 2>"$tmp/agent.log" &
agent=$!
pids+=("$agent")
for _ in $(seq 300); do
	grep -qs 'sampling every CPU' "$tmp/agent.log" && break
	sleep 0.1
done
port=$(sed -n 's|.*serving the UI at http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/agent.log")

# Half-busy workloads, so the machine's other users keep their CPU.
python3 -c '
import time
def work(n):
    return sum(i * i for i in range(n))
while True:
    work(200000); time.sleep(0.05)' &
pids+=("$!")
(cd "$tmp" && exec node --perf-basic-prof -e '
function work(n) { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i); return s; }
setInterval(() => work(3e6), 50);') &
pids+=("$!")
chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$tmp/chromium" \
	"data:text/html,<script>function f(n){let s=0;for(let i=0;i<n;i++)s+=Math.sin(i);return s}setInterval(()=>f(2e6),50)</script>" \
	>/dev/null 2>&1 &
pids+=("$!")

metric() { awk -v m="$1" '$1 == m { print $2 }' "$tmp/metrics"; }
echo "seconds rss_MB anon_MB file_MB cache_MB objects evicted jit_MB lost load1"
start=$SECONDS
while :; do
	t=$((SECONDS - start))
	curl -sf --max-time 5 "http://127.0.0.1:$port/metrics" >"$tmp/metrics" || : >"$tmp/metrics"
	awk -v t="$t" -v c="$(metric kiln_symbolizer_cache_bytes)" \
		-v o="$(metric kiln_symbolizer_objects_open)" \
		-v e="$(metric kiln_symbolizer_objects_evicted_total)" \
		-v j="$(metric kiln_symbolizer_jit_bytes)" \
		-v l="$(awk '$1 ~ /ring_buffer_full/ { print $2 }' "$tmp/metrics")" \
		-v la="$(cut -d' ' -f1 /proc/loadavg)" '
		/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 }
		END { printf "%d %.1f %.1f %.1f %.1f %d %d %.1f %d %s\n", t, r / 1024,
			a / 1024, f / 1024, c / 1048576, o, e, j / 1048576, l, la }' \
		"/proc/$agent/status"
	if [ -n "${KEEP:-}" ]; then
		cp "$tmp/metrics" "$KEEP/t$t.metrics"
		cat "/proc/$agent/smaps_rollup" >"$KEEP/t$t.smaps" 2>/dev/null || true
	fi
	[ "$t" -ge "$secs" ] && break
	sleep 30
done
kill -TERM "$agent"
wait "$agent" || true
grep 'info: samples' "$tmp/agent.log" | tail -1
