#!/bin/bash
# SPDX-License-Identifier: MIT
# /metrics says what every cache of the agent holds, beside its bound: the
# symbolizer's object cache under --symbol-cache-size, the store writer's
# id cache under its 8 MB bound (plus one window), the collector's arrays,
# the window's profile, the process table, the cgroup cache, SQLite's and
# malloc's heaps. Every metric has its HELP and TYPE lines.
source tests/integration/lib.sh
need_root
LOG=$TMP/agent.log
start_agent "$LOG" --db "$TMP/kiln.db" --window 1s --listen 127.0.0.1:0 \
	--symbol-cache-size 4MB
agent_sampling "$LOG"
agent_port "$LOG"
# A workload of its own, so windows have stacks whatever the machine does.
W=$(build_workload cpu_split)
"$W" 4 >/dev/null 2>&1 &
CLEANUP_PIDS+=("$!")
m() { awk -v m="kiln_$1" '$1 == m { print $2 }' "$TMP/metrics"; }
for _ in $(seq 40); do
	sleep 0.5
	curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics" || continue
	[ "$(m windows_written_total)" -ge 3 ] 2>/dev/null && [ "$(m collector_bytes)" -gt 0 ] &&
		[ "$(m window_profile_bytes)" -gt 0 ] && break
done
cat "$TMP/metrics" | grep -E '^kiln_(symbolizer_cache|store_cache|collector|window_profile|processes_tracked|cgroups|sqlite|heap|resident)'
for g in symbolizer_cache_bytes symbolizer_cache_limit_bytes symbolizer_cache_pinned_bytes store_cache_bytes \
	store_cache_resets_total collector_bytes window_profile_bytes processes_tracked \
	cgroups_cached sqlite_memory_bytes heap_bytes heap_free_bytes resident_memory_bytes \
	symbolizer_jit_bytes unwind_rows_capacity; do
	v=$(m "$g")
	[[ $v =~ ^[0-9]+$ ]] || fail "kiln_$g missing or not a number: '$v'"
	grep -q "^# HELP kiln_$g " "$TMP/metrics" || fail "kiln_$g has no HELP line"
	grep -q "^# TYPE kiln_$g \(gauge\|counter\)$" "$TMP/metrics" || fail "kiln_$g has no TYPE line"
done
[ "$(m windows_written_total)" -ge 3 ] || fail "no windows written: $(tail -3 "$LOG")"
[ "$(m symbolizer_cache_limit_bytes)" -eq $((4 << 20)) ] ||
	fail "the cache limit must be --symbol-cache-size: $(m symbolizer_cache_limit_bytes)"
# Gauges are read after the window's trim: above the ceiling only by what
# objects in use that cannot be unloaded hold (read again for this
# window: with a 4 MB ceiling, node's symbol table alone is over it).
[ "$(m symbolizer_cache_bytes)" -le $(($(m symbolizer_cache_limit_bytes) + $(m symbolizer_cache_pinned_bytes))) ] ||
	fail "symbolizer cache above its ceiling by more than its pinned objects"
[ "$(m store_cache_bytes)" -gt 0 ] || fail "the store writer's cache is empty after windows"
[ "$(m store_cache_bytes)" -le $((20 << 20)) ] || fail "store cache above its bound"
[ "$(m collector_bytes)" -gt 0 ] && [ "$(m window_profile_bytes)" -gt 0 ] ||
	fail "collector and window sizes must be measured"
[ "$(m processes_tracked)" -gt 0 ] || fail "no process tracked"
[ "$(m sqlite_memory_bytes)" -gt 0 ] || fail "SQLite's heap must be measured"
[ "$(m heap_bytes)" -gt "$(m store_cache_bytes)" ] ||
	fail "malloc's heap must hold at least the store cache"
exit 0
