#!/bin/bash
# SPDX-License-Identifier: MIT
# FIFOs where kiln opens files: an unprivileged user's processes put one at
# /tmp/perf-PID.map and, as they exit, at their own binary's path. Opening
# either with a blocking open() hung kiln for good; now `kiln record` ends
# on time and the agent keeps writing windows.
source tests/integration/lib.sh
# The attackers leave FIFOs at /tmp/perf-PID.map: remove them at the end so
# they do not outlive the test (other profilers on this machine open them).
trap 'find /tmp -maxdepth 1 -name "perf-*.map" -type p -user nobody -delete 2>/dev/null; cleanup' EXIT
need_root
command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
W=$(build_workload hostile)
mkdir -p "$TMP/h"
chmod 777 "$TMP" "$TMP/h"
# Unprivileged attackers, one fresh binary each (the old path becomes a FIFO).
attack() {
	local end=$((SECONDS + $1)) i=$2
	while [ "$SECONDS" -lt "$end" ]; do
		i=$((i + 1))
		cp "$W" "$TMP/h/hostile_$i"
		chmod 755 "$TMP/h/hostile_$i"
		setpriv --reuid nobody --regid nogroup --clear-groups \
			"$TMP/h/hostile_$i" 0.05 2>/dev/null || true
	done
	echo "$((i - $2))" >"$TMP/attacks"
}

attack 8 0 &
CLEANUP_PIDS+=("$!")
start=$(date +%s.%N)
timeout -s KILL 60 "$KILN" record --frequency 499 --duration 3 --user-only \
	-o "$TMP/out.folded" 2>"$TMP/err" || fail "kiln record failed or hung: $(tail -3 "$TMP/err")"
secs=$(echo "$(date +%s.%N) - $start" | bc)
cat "$TMP/err"
echo "kiln record --duration 3 took $secs s"
# Start-up (the /proc scan, unwind tables) and the final flush (up to 2 s
# for binaries being read) come on top of the 3 s; the old open() never
# returned at all.
awk -v s="$secs" 'BEGIN { exit !(s < 20) }' || fail "kiln record --duration 3 took $secs s"
# Every sample delivered is in the profile (those drained while it was
# symbolized too), and so are the ring buffer's losses, as [lost] samples.
awk '/samples from/ { got = $2; kept = $(NF - 3) } /^kiln: lost samples:/ { lost = $4 }
	END { exit !(got > 0 && got + lost == kept) }' "$TMP/err" ||
	fail "samples delivered but not in the profile: $(grep -E 'samples from|lost samples' "$TMP/err")"
n=$({ grep '^hostile_' "$TMP/out.folded" || true; } | awk '{ t += $NF } END { print t + 0 }')
echo "$n samples of the attackers"
[ "$n" -ge 20 ] || fail "expected samples of the attackers, got $n"
wait
echo "$(cat "$TMP/attacks") attacking processes"
find "$TMP/h" -type p | grep -q . || fail "the attackers made no FIFO"

# The agent: windows of 1 s keep landing while the attack goes on.
DB=$TMP/kiln.db
LOG=$TMP/agent.log
start_agent "$LOG" --db "$DB" --window 1s --listen 127.0.0.1:0
agent_port "$LOG"
attack 8 100000
windows=$(curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" | awk '$1 == "kiln_windows_written_total" { print $2 }')
echo "windows written during 8 s of attack: $windows"
[ "${windows:-0}" -ge 5 ] || fail "the agent wrote ${windows:-0} windows in 8 s of 1 s windows"
curl -sf --max-time 5 "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "/healthz says unhealthy"
kill -TERM "$AGENT"
for _ in $(seq 50); do kill -0 "$AGENT" 2>/dev/null || break; sleep 0.1; done
kill -0 "$AGENT" 2>/dev/null && fail "the agent did not exit within 5 s of SIGTERM"
wait "$AGENT" || fail "the agent failed: $(tail -3 "$LOG")"
exit 0
