#!/bin/bash
# SPDX-License-Identifier: MIT
# End to end: kiln agent records the whole machine while a workload with a
# known 50/30/20 CPU split runs; kiln query then finds that workload by
# comm (the split within 5 points) and by host, and a wrong host or comm
# finds nothing.
source tests/integration/lib.sh
need_root
W=$(build_workload cpu_split)
NAME=kq${RANDOM}split # a comm no other process has
cp "$W" "$TMP/$NAME"
HOST=kiln-test-$RANDOM
DB=$TMP/kiln.db
LOG=$TMP/agent.log
# 299 Hz: enough samples for a 5-point tolerance on a loaded machine.
start_agent "$LOG" --db "$DB" --no-web --window 1s --frequency 299 --host "$HOST"
agent_sampling "$LOG"
TIMEFORMAT='%3U %3S'
{ time "$TMP/$NAME" 6 >/dev/null 2>&1; } 2>"$TMP/time" || fail "the workload failed"
cpu=$(awk '{ print $1 + $2 }' "$TMP/time")
kill -TERM "$AGENT"
wait "$AGENT" || fail "the agent must exit 0 on SIGTERM: $(tail -3 "$LOG")"

q() { "$KILN" query --db "$DB" --from -5m --to now "$@"; }
q --filter "comm=$NAME" --format folded -o "$TMP/comm.folded" || fail "query by comm failed"
# Shown for the log only; head may close the pipe before sort is done.
sort -t" " -k2 -rn "$TMP/comm.folded" | head -8 || true
n=$(total "$TMP/comm.folded")
# One sample per 1/299 s of the workload's CPU time, give or take.
expect=$(awk -v c="$cpu" 'BEGIN { printf "%d", c * 299 }')
echo "$NAME used $cpu s of CPU: ~$expect samples expected, $n stored"
[ "$n" -ge $((expect * 7 / 10)) ] && [ "$n" -le $((expect * 13 / 10 + 30)) ] ||
	fail "expected about $expect samples of $NAME, got $n"
[ "$n" -ge 300 ] || fail "too few samples ($n) to check a split within 5 points"
# Frames stored while the binary was still being read (a loaded
# machine: the loader busy past the window's end) are named again once
# it is read, so none keeps an offset name such as 'NAME+0x11b6'.
grep -q ";$NAME+0x" "$TMP/comm.folded" &&
	fail "frames of $NAME kept offset names: $(grep ";$NAME+0x" "$TMP/comm.folded" | head -2)"
a=$(share "$TMP/comm.folded" ';func_a;')
b=$(share "$TMP/comm.folded" ';func_b;')
c=$(share "$TMP/comm.folded" ';func_c;')
echo "func_a $a% func_b $b% func_c $c% of $n samples"
within "$a" 50 5 || fail "func_a has $a%, expected 50 +- 5"
within "$b" 30 5 || fail "func_b has $b%, expected 30 +- 5"
within "$c" 20 5 || fail "func_c has $c%, expected 20 +- 5"
grep -v "^$NAME;" "$TMP/comm.folded" | head -3 | grep . &&
	fail "the comm filter let in other processes"

q --format folded -o "$TMP/all.folded" || fail "unfiltered query failed"
q --filter "host=$HOST" --format folded -o "$TMP/host.folded" || fail "query by host failed"
all=$(total "$TMP/all.folded") byhost=$(total "$TMP/host.folded")
echo "all $all samples, host=$HOST $byhost"
[ "$all" -gt "$n" ] || fail "a whole-system profile must hold more than the workload ($all vs $n)"
[ "$byhost" -eq "$all" ] || fail "every sample is from host $HOST: $byhost of $all"
q --filter "host=$HOST" --filter "comm=$NAME" --format folded -o "$TMP/both.folded"
[ "$(total "$TMP/both.folded")" -eq "$n" ] || fail "host and comm filters together must give the comm's $n samples"
q --filter "host=not-$HOST" --format folded -o "$TMP/none.folded" || fail "query by another host failed"
[ "$(total "$TMP/none.folded")" -eq 0 ] || fail "another host must match nothing"
q --filter "comm=$NAME" --format json -o "$TMP/comm.json" || fail "json query failed"
grep -q "$NAME" "$TMP/comm.json" || fail "the json profile does not name the workload"
exit 0
