#!/bin/bash
# SPDX-License-Identifier: MIT
# kill -9 of kiln agent at random moments, 22 times on the same store, with
# a CPU workload running. After every kill: SQLite's integrity check says
# ok, and every window the agent logged as committed before it died is in
# the store (the store grew by at least the run's "M written in all").
source tests/integration/lib.sh
need_root
W=$(build_workload cpu_split)
"$W" 300 >/dev/null &
CLEANUP_PIDS+=("$!")
DB=$TMP/kiln.db
KILLS=${KILN_KILL9_RUNS:-22}
# A run can commit one window between its last log line and the kill; a
# window is 0.2 s, so 2 s of samples on every CPU is a generous ceiling.
SLACK=$((99 * $(nproc) * 2))

store_total() {
	"$KILN" query --db "$DB" --from 0 --to now --format folded 2>"$TMP/qerr" |
		awk '{ t += $NF } END { print t + 0 }' ||
		fail "query failed: $(cat "$TMP/qerr")"
}

# wait_log FILE REGEX SECONDS: until a line of FILE matches REGEX.
wait_log() {
	local deadline=$((SECONDS + $3))
	until grep -Eq "$2" "$1" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

sum=0 prev=0 committed_runs=0
for i in $(seq "$KILLS"); do
	log=$TMP/agent.$i.log
	KILN_LOG=debug "$KILN" agent --db "$DB" --window 200ms --no-web \
		--stats-interval 1h 2>"$log" &
	pid=$!
	CLEANUP_PIDS+=("$pid")
	# Every fourth kill lands at random during start-up (0.05 .. 1.5 s
	# after launch); the others at random 0 .. 1.5 s after the first
	# commit, so between windows and inside commits. Waiting for the
	# first commit keeps the test meaningful on a loaded machine, where
	# start-up time varies.
	ms=$((50 + RANDOM % 1450)) when="after launch"
	if [ $((i % 4)) -ne 1 ]; then
		wait_log "$log" 'window committed' 30 || fail "run $i: no window committed in 30 s: $(tail -3 "$log")"
		ms=$((RANDOM % 1500)) when="after the first commit"
	fi
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	grep -q '^kiln: error:' "$log" && grep '^kiln: error:' "$log" | head -3 &&
		fail "run $i logged an error before the kill"
	m=$(sed -n 's/.*window committed: [0-9]* samples, \([0-9]*\) written in all.*/\1/p' "$log" | tail -1)
	m=${m:-0}
	[ "$m" -gt 0 ] && committed_runs=$((committed_runs + 1))
	sum=$((sum + m))
	ic=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1) || fail "run $i: sqlite3 failed: $ic"
	[ "$ic" = ok ] || fail "run $i: integrity_check after kill -9 ${ms} ms $when: $ic"
	t=$(store_total)
	delta=$((t - prev))
	echo "run $i: killed ${ms} ms $when, logged $m committed, store grew by $delta (total $t, logged sum $sum)"
	[ "$delta" -ge "$m" ] ||
		fail "run $i: $m samples were committed before the kill but the store grew by only $delta"
	[ "$delta" -le $((m + SLACK)) ] ||
		fail "run $i: the store grew by $delta, more than the $m committed plus one window ($SLACK): duplicates?"
	prev=$t
done
[ "$committed_runs" -ge $((KILLS * 3 / 4)) ] ||
	fail "only $committed_runs of $KILLS runs committed a window before the kill"
[ "$prev" -ge "$sum" ] || fail "store has $prev samples, $sum were committed"
echo "$KILLS kills, $committed_runs runs with commits, $sum samples logged as committed, $prev in the store"
exit 0
