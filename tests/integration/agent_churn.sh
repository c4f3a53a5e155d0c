#!/bin/bash
# SPDX-License-Identifier: MIT
# Process churn: thousands of processes a minute, each living 30 ms, for
# KILN_CHURN_SECS (default 100 s) under kiln agent. Each one's samples must
# be symbolized (the workload's function names, not hex), and the agent's
# memory and file descriptors must stay bounded: the process table forgets
# exited processes and the symbolizer keeps one object per binary, so
# nothing should grow with the number of processes seen.
source tests/integration/lib.sh
need_root
SECS=${KILN_CHURN_SECS:-100}
W=$(build_workload cpu_split)
NAME=kchurn$RANDOM
cp "$W" "$TMP/$NAME"
DB=$TMP/kiln.db
LOG=$TMP/agent.log
start_agent "$LOG" --db "$DB" --window 2s --listen 127.0.0.1:0 --stats-interval 20s
agent_sampling "$LOG"

# Two spawning loops; each child burns ~30 ms and exits.
: >"$TMP/spawned"
for _ in 1 2; do
	(
		end=$((SECONDS + SECS))
		while [ "$SECONDS" -lt "$end" ]; do
			"$TMP/$NAME" 0.03 >/dev/null
			echo >>"$TMP/spawned"
		done
	) &
	CLEANUP_PIDS+=("$!")
done

# Every 5 s: RSS (kB), open descriptors, processes spawned so far, and the
# agent's own gauges: processes in its table, ELF objects it holds.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT/status"; }
fds() { ls "/proc/$AGENT/fd" | wc -l; }
PORT=$(sed -n 's|.*serving the UI at http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$LOG")
gauges() {
	curl -sf "http://127.0.0.1:$PORT/metrics" | awk '
		$1 == "kiln_processes_tracked" { p = $2 }
		$1 == "kiln_symbolizer_objects_open" { o = $2 }
		END { print p + 0, o + 0 }'
}
row() { echo "$((SECONDS - start)) $(rss) $(fds) $(wc -l <"$TMP/spawned") $(gauges)" >>"$TMP/usage"; }
: >"$TMP/usage"
start=$SECONDS
while [ $((SECONDS - start)) -lt "$SECS" ]; do
	kill -0 "$AGENT" 2>/dev/null || fail "the agent died during churn: $(tail -5 "$LOG")"
	row
	sleep 5
done
sleep 1
row
bin_fds=$(ls -l "/proc/$AGENT/fd" | grep -c "$NAME" || true)
kill -TERM "$AGENT"
wait "$AGENT" || fail "the agent must exit 0 on SIGTERM: $(tail -3 "$LOG")"
echo "seconds  rss_kB  fds  processes_spawned  processes_tracked  objects_open"
cat "$TMP/usage"
grep 'info: samples' "$LOG" | tail -1
spawned=$(wc -l <"$TMP/spawned")
per_min=$((spawned * 60 / SECS))
echo "$spawned processes in $SECS s: $per_min a minute"
[ "$per_min" -ge 1000 ] || fail "only $per_min processes a minute: not the churn this test is about"

# The process table forgets exited processes: it holds about what runs on
# the machine, not what ran. Bound: twice its size at warm-up plus 100.
awk '
	$1 >= 20 && !warm { warm = $5 }
	$1 >= 20 { if ($5 > max) max = $5 }
	END {
		printf "process table: %d at warm-up, max %d\n", warm, max
		if (max > 2 * warm + 100) { print "FAIL: the process table grows with churn"; exit 1 }
	}' "$TMP/usage" || fail "exited processes are not forgotten"
# Descriptors: the agent holds one per open ELF object (and, through
# libdw's debuginfod client, a socket pair per object), plus the store,
# BPF and web sockets. Churn of one binary adds no object: allow 3 per
# object that other activity on the machine brought in, plus 8. A leak
# stays, so the least of the last three readings is checked: objects being
# read (a few descriptors each while in flight) and unwind row chunks being
# made come and go between two readings.
[ "$bin_fds" -le 2 ] || fail "$bin_fds descriptors open on the churned binary; one object per binary expected"
awk '
	$1 >= 20 && !warm { warm = $3; wobj = $6 }
	$1 >= 20 { if ($3 > max) max = $3; if ($6 > mobj) mobj = $6; f[++n] = $3 }
	END {
		low = f[n]
		for (i = n - 2; i < n; i++)
			if (i > 0 && f[i] < low) low = f[i]
		bound = warm + 8 + 3 * (mobj - wobj)
		printf "fds: %d at warm-up, %d at the end (least of the last 3), max %d (bound %d; objects %d -> %d)\n", warm, low, max, bound, wobj, mobj
		if (low > bound) { print "FAIL: descriptors grew by " (low - warm); exit 1 }
	}' "$TMP/usage" || fail "file descriptors leak under process churn"
# Memory: after 20 s (caches warm, first windows written) RSS may move with
# window sizes but must not climb with the process count. Bound: 12 MB
# over the warm value (a leak of 4 KB per process crosses it within the
# run; the table check above catches the per-process state directly),
# plus 2 MB per ELF object other activity on the machine brought in.
awk '
	$1 >= 20 && !warm { warm = $2; wobj = $6 }
	$1 >= 20 { last = $2; if ($2 > max) max = $2; if ($6 > mobj) mobj = $6 }
	END {
		bound = 12288 + 2048 * (mobj - wobj)
		printf "RSS: %.1f MB at warm-up, max %.1f MB, last %.1f MB (bound +%.1f MB)\n", warm / 1024, max / 1024, last / 1024, bound / 1024
		if (max - warm > bound) { print "FAIL: RSS grew by " (max - warm) " kB under churn"; exit 1 }
	}' "$TMP/usage" || fail "memory is not bounded under process churn"

# Symbolization: every short-lived process's samples name the workload's
# functions. Samples in the dynamic loader or exec (before main) are
# symbolized too but name no workload function, so the bar is a large
# majority, not all.
"$KILN" query --db "$DB" --from 0 --to now --filter "comm=$NAME" --format json -o "$TMP/churn.json" ||
	fail "query failed"
python3 - "$TMP/churn.json" "$NAME" <<'PY' || fail "samples of short-lived processes are not symbolized"
import json, re, sys
prof = json.load(open(sys.argv[1]))
name = sys.argv[2]
total = named = hexed = 0
pids = set()
for s in prof["stacks"]:
    n = s["count"]
    total += n
    pids.add(s["labels"].get("pid"))
    user = [f for f in s["frames"] if not f.endswith("_[k]")]
    if any(f in ("main", "func_a", "func_b", "func_c", "burn") for f in user):
        named += n
    if any(re.search(r"\+0x[0-9a-f]+$", f) for f in user):
        hexed += n
print(f"{total} samples of {name} from {len(pids)} processes: "
      f"{100 * named / max(total, 1):.1f}% name the workload's functions, "
      f"{100 * hexed / max(total, 1):.1f}% have a hex user frame")
ok = total >= 500 and len(pids) >= 300 and named >= 0.8 * total and hexed <= 0.1 * total
sys.exit(0 if ok else 1)
PY
exit 0
