#!/bin/bash
# SPDX-License-Identifier: MIT
# The sample record's size and what it costs, two kiln builds side by side
# in one run (issue 16: a record sized to its stacks instead of a fixed
# 2,104 bytes). With python3, node and gzip keeping both CPUs busy, per
# build and round (the builds' order alternates each round):
#   - in-kernel cost per sample: `kiln record -F 499` on the whole system,
#     kiln's own histogram of the program's time per kept sample and
#     bpf_stats' run_time_ns / run_cnt (bench/unwind_cost.py), over SECS;
#   - ring-buffer bytes per record (record's summary; a build without that
#     line has fixed records: 2,104 bytes + 8 of header);
#   - samples lost to a full ring buffer at agent start-up: `kiln agent`
#     started while the load runs (it scans /proc and reads every object
#     at once), the program's ringbuf_full counter after STARTUP seconds.
#   - samples lost while the agent does not read: `kiln agent` warmed up
#     for WARM seconds, then stopped (SIGSTOP) for STALL seconds, as a long
#     flush or a busy machine would keep it, then left to drain.
#   bench/sample_record.sh                KILN_BEFORE=path/to/kiln required
#   ROUNDS=3 SECS=5 STARTUP=30 WARM=15 STALL=5 BUSY=0 CHURN=0
#   ONLY=cost|startup|stall  UNWIND=fp (cost of the frame-pointer walk)
#   ONLY=full: the program's cost per run while the ring buffer is full
#   (the agent stopped until samples are lost; not in the default set)
# The agent's CPU beside it: TOOLS="kiln before" SCENARIOS=busy
# KILN_BEFORE=... bench/agent_overhead.sh.
set -u
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
BEFORE=${KILN_BEFORE:?KILN_BEFORE=path/to/an/older/kiln}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
STARTUP=${STARTUP:-30}
BUSY=${BUSY:-0}   # more busy loops beside the load
CHURN=${CHURN:-0} # 1: also 50 short processes a second
ONLY=${ONLY:-}    # cost, startup or stall: only that measurement
WARM=${WARM:-15}
STALL=${STALL:-5}
UNWIND=${UNWIND:-cfi}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 0; }
TMP=$(mktemp -d)
load_pids=()
tool_pid=
cleanup() {
	[ -z "$tool_pid" ] || kill -9 "$tool_pid" 2>/dev/null
	for p in "${load_pids[@]:-}"; do [ -z "$p" ] || kill "$p" 2>/dev/null; done
	[ -z "${old_stats:-}" ] || sysctl -q -w kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$TMP"
}
trap cleanup EXIT
head -c 20000000 /dev/urandom | base64 >"$TMP/data"
# RINGBUF_FULL and SAMPLES in the 'stats' map (bpf/profile.h).
STAT_INDEX='{"samples": 0, "ringbuf_full": 2}'

load_on() {
	python3 -c "
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
while True: fib(25)" &
	load_pids+=("$!")
	node -e 'function f(n) { return n < 2 ? n : f(n - 1) + f(n - 2) } for (;;) f(25)' &
	load_pids+=("$!")
	bash -c "while :; do gzip -6 -c '$TMP/data' >/dev/null; done" &
	load_pids+=("$!")
	for _ in $(seq "$BUSY"); do
		bash -c 'while :; do :; done' &
		load_pids+=("$!")
	done
	if [ "$CHURN" = 1 ]; then
		bash -c 'while :; do for i in $(seq 50); do dd if=/dev/zero of=/dev/null bs=1k count=2000 2>/dev/null & done; wait; sleep 1; done' &
		load_pids+=("$!")
	fi
	sleep 2
}

# wait_loaded PID: until the process holds its sample_stack program.
wait_loaded() {
	for _ in $(seq 120); do
		sleep 0.5
		kill -0 "$1" 2>/dev/null || return 1
		python3 bench/unwind_cost.py "$1" "$TMP/probe.json" 2>/dev/null && return 0
	done
	return 1
}

cost() { # LABEL BIN
	"$2" record --unwind "$UNWIND" -F 499 --duration $((SECS + 90)) -o /dev/null 2>"$TMP/err" &
	tool_pid=$!
	wait_loaded "$tool_pid" || { echo "$1: kiln record failed: $(cat "$TMP/err")"; return; }
	sleep 2
	python3 bench/unwind_cost.py "$tool_pid" "$TMP/a.json"
	sleep "$SECS"
	python3 bench/unwind_cost.py "$tool_pid" "$TMP/b.json"
	kill -INT "$tool_pid"
	wait "$tool_pid"
	tool_pid=
	python3 bench/unwind_cost.py --diff "$TMP/a.json" "$TMP/b.json" "$1 cost ($UNWIND)" "$STAT_INDEX"
	local rb
	rb=$(sed -n 's/.*ring buffer: \([0-9]*\) records, \([0-9]*\) bytes each.*/\2 bytes per record (\1 records)/p' "$TMP/err")
	echo "$1 ring buffer: ${rb:-2112 bytes per record (fixed size)}"
}

# start_agent LABEL BIN: an agent on a fresh store, its program loaded
# (tool_pid); says why and fails when it did not start.
start_agent() {
	rm -f "$TMP/db"*
	"$2" agent --db "$TMP/db" --no-web --stats-interval 1h 2>"$TMP/agent.err" &
	tool_pid=$!
	wait_loaded "$tool_pid" && return 0
	echo "$1: kiln agent failed: $(cat "$TMP/agent.err")"
	return 1
}

startup() { # LABEL BIN
	start_agent "$@" || return 0
	sleep "$STARTUP"
	python3 bench/unwind_cost.py "$tool_pid" "$TMP/s.json"
	kill -INT "$tool_pid"
	wait "$tool_pid"
	tool_pid=
	python3 - "$TMP/s.json" "$1" "$STARTUP" <<'PY'
import json, sys
snap = max(json.load(open(sys.argv[1])).values(), key=lambda s: s["run_cnt"])
st = {int(k): v for k, v in snap["stats"].items()}
print("%s start-up: %d samples in the agent's first %s s, %d lost to a full ring buffer"
      % (sys.argv[2], st.get(0, 0), sys.argv[3], st.get(2, 0)))
PY
}

stall() { # LABEL BIN
	start_agent "$@" || return 0
	sleep "$WARM"
	python3 bench/unwind_cost.py "$tool_pid" "$TMP/a.json"
	kill -STOP "$tool_pid"
	sleep "$STALL"
	kill -CONT "$tool_pid"
	sleep 3
	python3 bench/unwind_cost.py "$tool_pid" "$TMP/b.json"
	kill -INT "$tool_pid"
	wait "$tool_pid"
	tool_pid=
	python3 - "$TMP/a.json" "$TMP/b.json" "$1" "$STALL" <<'PY'
import json, sys
def load(p):
    snap = max(json.load(open(p)).values(), key=lambda s: s["run_cnt"])
    return {int(k): v for k, v in snap["stats"].items()}
a, b = load(sys.argv[1]), load(sys.argv[2])
print("%s stall: agent stopped %s s: %d samples, %d lost to a full ring buffer"
      % (sys.argv[3], sys.argv[4], b.get(0, 0) - a.get(0, 0), b.get(2, 0) - a.get(2, 0)))
PY
}

# The program's cost per run while the ring buffer is full: the agent
# stopped until samples are being lost, then 5 s of bpf_stats.
full() { # LABEL BIN
	start_agent "$@" || return 0
	sleep "$WARM"
	kill -STOP "$tool_pid"
	for _ in $(seq 60); do
		sleep 2
		python3 bench/unwind_cost.py "$tool_pid" "$TMP/a.json"
		python3 -c "import json, sys; s = max(json.load(open(sys.argv[1])).values(), key=lambda s: s['run_cnt']); sys.exit(s['stats'].get('2', 0) == 0)" "$TMP/a.json" && break
	done
	sleep 5
	python3 bench/unwind_cost.py "$tool_pid" "$TMP/b.json"
	kill -CONT "$tool_pid"
	kill -INT "$tool_pid"
	wait "$tool_pid"
	tool_pid=
	python3 - "$TMP/a.json" "$TMP/b.json" "$1" <<'PY'
import json, sys
def load(p):
    return max(json.load(open(p)).values(), key=lambda s: s["run_cnt"])
a, b = load(sys.argv[1]), load(sys.argv[2])
runs = b["run_cnt"] - a["run_cnt"]
lost = b["stats"].get("2", 0) - a["stats"].get("2", 0)
print("%s full: %d runs, %d lost, bpf_stats %.2f us/run while the ring buffer is full"
      % (sys.argv[3], runs, lost, (b["run_time_ns"] - a["run_time_ns"]) / runs / 1000 if runs else 0))
PY
}

old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
load_on
echo "## sample records, $ROUNDS rounds; load: python3, node, gzip (both CPUs busy), $BUSY more busy loops, churn $CHURN; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="after before"; else order="before after"; fi
	for b in $order; do
		bin=$KILN
		[ "$b" = before ] && bin=$BEFORE
		[ -n "$ONLY" ] && [ "$ONLY" != cost ] || cost "round $r $b" "$bin"
		[ -n "$ONLY" ] && [ "$ONLY" != startup ] || startup "round $r $b" "$bin"
		[ -n "$ONLY" ] && [ "$ONLY" != stall ] || stall "round $r $b" "$bin"
		[ "$ONLY" != full ] || full "round $r $b" "$bin"
	done
	echo "   (load average $(cut -d' ' -f1-3 /proc/loadavg))"
done
