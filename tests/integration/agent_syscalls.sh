#!/bin/bash
# SPDX-License-Identifier: MIT
# No repeated failing system calls: a JIT-like process runs 6 s without
# its perf map (every flush misses its frames), then writes the map; 50
# short processes a second come and go meanwhile. Under strace (the first
# 5 s), the agent looks for the absent map a few times at most (its
# absence is remembered, looked at again every few seconds, or soon after
# new anonymous executable memory), yet finds the late map; and it opens
# no /proc/PID/cgroup (containers come from cgroup ids at sample time).
source tests/integration/lib.sh
need_root
[ "$(uname -m)" = x86_64 ] || skip "the fake JIT workload is x86-64 machine code"
command -v strace >/dev/null || skip "strace is missing"
W=$(build_workload fake_jit)
NAME=kj${RANDOM}late
cp "$W" "$TMP/$NAME"
DB=$TMP/kiln.db
start_agent "$TMP/agent.log" --db "$DB" --no-web --window 1s --frequency 199
agent_sampling "$TMP/agent.log"
"$TMP/$NAME" 14 6 >/dev/null &
JIT=$!
CLEANUP_PIDS+=("$JIT")
# strace slows every system call of the agent: it watches the first 5 s
# only, while the map is absent.
strace -f -qq -e trace=openat,openat2,open,stat,newfstatat,statx,close -p "$AGENT" -o "$TMP/strace" &
STRACE=$!
CLEANUP_PIDS+=("$STRACE")
end=$((SECONDS + 5))
while [ "$SECONDS" -lt "$end" ]; do
	for _ in $(seq 50); do /bin/true; done
	sleep 1
done
kill -INT "$STRACE"
wait "$STRACE" || true
wait "$JIT" || fail "the JIT workload failed"
kill -TERM "$AGENT"
wait "$AGENT" || fail "the agent must exit 0 on SIGTERM: $(tail -3 "$TMP/agent.log")"
looks=$(grep -c "perf-$JIT\\.map" "$TMP/strace" || true)
cgroup=$(grep -cE '"/proc/[0-9]+/cgroup"' "$TMP/strace" || true)
# A perf-map read once closed descriptor 0 twice (its job's file handles
# were zero, not -1): whatever held that number went, the web process's
# control socket or a push connection among them.
stdin_closes=$(grep -c 'close(0)' "$TMP/strace" || true)
"$KILN" query --db "$DB" --from -5m --to now --filter "comm=$NAME" -o "$TMP/jit.folded" ||
	fail "query failed"
n=$(total "$TMP/jit.folded")
named=$({ grep ';jit_spin_\[j\] ' "$TMP/jit.folded" || true; } | awk '{ t += $NF } END { print t + 0 }')
echo "absent perf map of $JIT looked at $looks times in 5 s; /proc/PID/cgroup opened $cgroup times; $named of $n samples named jit_spin"
[ "$n" -ge 100 ] || fail "too few samples of the JIT workload: $n"
# Found within a few seconds of being written: in at least a tenth of
# the samples (the last 8 s are more than half of them).
[ "$named" -ge 10 ] && [ $((named * 10)) -ge "$n" ] ||
	fail "the perf map written after 6 s was not found in time: $named of $n samples named"
# At first sight, after its anonymous executable mappings were seen, then
# every few seconds: far fewer than one per flush (5) or per sample.
[ "$looks" -le 4 ] || fail "the absent perf map was looked for $looks times"
[ "$cgroup" = 0 ] || fail "/proc/PID/cgroup was opened $cgroup times"
[ "$stdin_closes" = 0 ] || fail "descriptor 0 was closed $stdin_closes times"
exit 0
