#!/bin/bash
# SPDX-License-Identifier: MIT
# Disk full: the store lives on a small tmpfs that a junk file fills while
# kiln agent runs. The agent must log one clear error (not one per window),
# keep running and sampling, and once the junk is gone write again, with
# the samples of the full period landing from its in-memory backlog. The
# database passes SQLite's integrity check at the end.
source tests/integration/lib.sh
need_root
MNT=$TMP/mnt
mkdir -p "$MNT"
mount -t tmpfs -o size=24m kiln-test-full "$MNT" || fail "cannot mount a tmpfs on '$MNT'"
AGENT=
trap '[ -n "$AGENT" ] && kill -9 "$AGENT" 2>/dev/null; umount -l "$MNT" 2>/dev/null; cleanup' EXIT

W=$(build_workload cpu_split)
"$W" 300 >/dev/null &
CLEANUP_PIDS+=("$!")
DB=$MNT/kiln.db
LOG=$TMP/agent.log
KILN_LOG=debug "$KILN" agent --db "$DB" --window 200ms --listen 127.0.0.1:0 \
	--stats-interval 1h 2>"$LOG" &
AGENT=$!

wait_log() { # FILE REGEX SECONDS
	local deadline=$((SECONDS + $3))
	until grep -Eq "$2" "$1" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		kill -0 "$AGENT" 2>/dev/null || fail "the agent died: $(tail -5 "$LOG")"
		sleep 0.05
	done
}
commits() { grep -c 'window committed' "$LOG" || true; }
metric() { # NAME -> value from /metrics
	curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v n="kiln_$1" '$1 == n { print $2 }'
}

wait_log "$LOG" 'serving the UI at' 30 || fail "the agent did not start: $(cat "$LOG")"
PORT=$(sed -n 's|.*serving the UI at http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$LOG")
wait_log "$LOG" 'written in all' 30 || fail "no window committed: $(tail -5 "$LOG")"
sleep 1
before=$(commits)
echo "$before windows committed before the disk filled; $(df -h "$MNT" | tail -1)"

# Fill the file system. tmpfs hands out whole pages, so after dd stops
# with ENOSPC not one more page fits.
full_from=$(date +%s.%N)
dd if=/dev/zero of="$MNT/junk" bs=64k 2>/dev/null || true
avail=$(df --output=avail -B1 "$MNT" | tail -1)
[ "$avail" -lt 65536 ] || fail "the file system is not full: $avail bytes free"
samples_at_full=$(metric samples_total)
wait_log "$LOG" 'cannot write a window' 30 || fail "no write failure logged with a full disk: $(tail -5 "$LOG")"
sleep 4 # about 20 windows that cannot be written
kill -0 "$AGENT" 2>/dev/null || fail "the agent died with a full disk: $(tail -5 "$LOG")"
failed=$(metric window_write_failures_total)
samples_full=$(metric samples_total)
echo "while full: $failed window writes failed, samples $samples_at_full -> $samples_full"
[ "$failed" -ge 5 ] || fail "expected the agent to retry every window, $failed failures"
[ "$samples_full" -gt $((samples_at_full + 200)) ] ||
	fail "the agent stopped sampling while the disk was full ($samples_at_full -> $samples_full)"
errors=$(grep -c 'error:' "$LOG" || true)
grep 'error:' "$LOG"
[ "$errors" -eq 1 ] || fail "expected one error line for the full disk, got $errors"
grep 'error:' "$LOG" | grep -Eqi 'space|full' || fail "the error does not say the disk is full"
written_full=$(metric windows_written_total)

rm -f "$MNT/junk"
full_to=$(date +%s.%N)
wait_log "$LOG" 'writable again' 30 || fail "the agent did not write again after space returned: $(tail -5 "$LOG")"
sleep 1
written_after=$(metric windows_written_total)
[ "$written_after" -gt "$written_full" ] || fail "windows_written did not grow after space returned"
# The first commit after recovery carries the backlog of the full period.
backlog=$(grep -B1 -m1 'writable again' "$LOG" |
	sed -n 's/.*window committed: \([0-9]*\) samples.*/\1/p')
[ -n "$backlog" ] || fail "no commit logged right before 'writable again': $(grep -B2 -m1 'writable again' "$LOG")"
echo "the backlog window held $backlog samples"

kill -TERM "$AGENT"
rc=0
wait "$AGENT" || rc=$?
AGENT=
[ "$rc" -eq 0 ] || fail "SIGTERM after recovery must exit 0, got $rc: $(tail -3 "$LOG")"
ic=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)
[ "$ic" = ok ] || fail "integrity_check: $ic"

# Every sample taken while the disk was full must be in the store: the
# samples delivered between the two /metrics reads above all have times in
# [full_from - 1 s, full_to + 1 s] (the margin covers delivery latency).
from=$(awk -v a="$full_from" 'BEGIN { printf "%d", a - 1 }')
to=$(awk -v b="$full_to" 'BEGIN { printf "%d", b + 2 }')
got=$("$KILN" query --db "$DB" --from "$from" --to "$to" --format folded |
	awk '{ t += $NF } END { print t + 0 }')
taken=$((samples_full - samples_at_full))
echo "full for $(awk -v a="$full_from" -v b="$full_to" 'BEGIN { printf "%.1f", b - a }') s: $taken samples taken while full, $got stored in [$from, $to)"
[ "$got" -ge "$taken" ] || fail "samples of the full period are missing: $taken taken, $got stored"
[ "$backlog" -ge "$taken" ] || fail "the first window after recovery held $backlog samples, $taken were taken while full"
last=$(grep -o '[0-9]* written in all' "$LOG" | tail -1 | cut -d' ' -f1)
total=$("$KILN" query --db "$DB" --from 0 --to now --format folded | awk '{ t += $NF } END { print t + 0 }')
echo "the agent logged $last samples written in all, the store has $total"
[ "$total" -eq "$last" ] || fail "the agent logged $last samples written, the store has $total"
exit 0
