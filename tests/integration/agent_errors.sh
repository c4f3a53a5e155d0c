#!/bin/bash
# SPDX-License-Identifier: MIT
# kiln agent against stores it cannot use (a missing directory, a read-only
# file, a read-only file system, a corrupt file, a foreign SQLite file):
# one clear line, a non-zero exit, no crash, the file untouched. Against
# other processes holding the database (a long read transaction, a writer
# holding the lock): windows keep landing or wait, none is lost. SIGTERM
# and SIGINT write the open window and exit 0.
source tests/integration/lib.sh
need_root
MNT=$TMP/ro
AGENT=
trap '{ [ -z "$AGENT" ] || kill -9 "$AGENT"; umount -l "$MNT"; } 2>/dev/null || true; cleanup' EXIT

# refuse DB REGEX WHAT [same-content]: the agent must exit non-zero with one
# line matching REGEX, and leave DB (if it exists) byte for byte as it was
# (with same-content: the same SQL dump).
refuse() {
	local db=$1 re=$2 what=$3 sum=none rc=0
	if [ "${4:-}" = same-content ]; then
		fingerprint() { sqlite3 "$1" .dump | sha256sum; }
	else
		fingerprint() { sha256sum <"$1"; }
	fi
	[ -e "$db" ] && sum=$(fingerprint "$db")
	timeout 20 "$KILN" agent --db "$db" --no-web >"$TMP/out" 2>"$TMP/err" || rc=$?
	echo "$what: exit $rc: $(cat "$TMP/err")"
	[ "$rc" -ne 0 ] || fail "$what: the agent must refuse the store, it exited 0"
	[ "$rc" -ne 124 ] || fail "$what: the agent did not exit (still running after 20 s)"
	[ "$rc" -lt 128 ] || fail "$what: the agent crashed (exit $rc)"
	[ "$rc" -ne 2 ] || fail "$what: a bad store is a runtime error, not a usage error (2)"
	[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$what: expected one line on stderr, got: $(cat "$TMP/err")"
	grep -Eq "$re" "$TMP/err" || fail "$what: unclear error (expected /$re/): $(cat "$TMP/err")"
	grep -qF "$db" "$TMP/err" || fail "$what: the error must name the file '$db'"
	[ ! -s "$TMP/out" ] || fail "$what: stdout must carry data only, got: $(cat "$TMP/out")"
	if [ "$sum" != none ]; then
		[ "$(fingerprint "$db")" = "$sum" ] || fail "$what: the file was modified"
	fi
	[ ! -s "$db-wal" ] || [ "$sum" = none ] || fail "$what: the agent left a non-empty WAL file next to it"
	return 0
}

# 1. A missing directory: not created behind the user's back.
refuse "$TMP/missing/dir/kiln.db" 'does not exist|No such file' "missing directory"
[ ! -e "$TMP/missing" ] || fail "the agent created the missing directory"

# A valid store to make read-only.
W=$(build_workload cpu_split)
"$W" 600 >/dev/null &
CLEANUP_PIDS+=("$!")
DB=$TMP/kiln.db
timeout -s INT 3 "$KILN" agent --db "$DB" --no-web --window 200ms 2>"$TMP/seed.log" || true
[ -s "$DB" ] || fail "could not create a store to test with: $(cat "$TMP/seed.log")"
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
rm -f "$DB-wal" "$DB-shm"

# 2a. A read-only file. Root ignores permission bits, so make the file
# immutable where the file system allows it.
cp "$DB" "$TMP/immutable.db"
if chattr +i "$TMP/immutable.db" 2>/dev/null; then
	rc=0
	( refuse "$TMP/immutable.db" 'cannot write|read-only|not permitted|denied' "immutable file" ) || rc=$?
	chattr -i "$TMP/immutable.db"
	[ "$rc" -eq 0 ] || exit "$rc"
else
	echo "immutable file: chattr +i not supported on $TMP, skipping this case"
fi
# 2b. A read-only file system.
mkdir -p "$MNT"
mount -t tmpfs -o size=8m kiln-test-ro "$MNT" || fail "cannot mount a tmpfs"
cp "$DB" "$MNT/kiln.db"
mount -o remount,ro "$MNT" || fail "cannot remount '$MNT' read-only"
refuse "$MNT/kiln.db" 'read-only|cannot write' "read-only file system"
refuse "$MNT/new.db" 'read-only|cannot' "new store on a read-only file system"
umount "$MNT"

# 3. Corrupt files: random bytes, and a store with its pages scrambled
# after the header; and a SQLite file that is not a kiln store.
head -c 262144 /dev/urandom >"$TMP/random.db"
refuse "$TMP/random.db" 'corrupt|not a database' "random bytes"
cp "$DB" "$TMP/scrambled.db"
size=$(stat -c %s "$TMP/scrambled.db")
dd if=/dev/urandom of="$TMP/scrambled.db" bs=1 seek=100 count=$((size - 100)) conv=notrunc 2>/dev/null
refuse "$TMP/scrambled.db" 'corrupt|not a database|malformed' "scrambled pages"
# Another program's database is refused before anything touches it.
sqlite3 "$TMP/foreign.db" 'CREATE TABLE t (x); INSERT INTO t VALUES (1)'
refuse "$TMP/foreign.db" 'not a kiln store' "foreign SQLite file"

wait_log() { # FILE REGEX SECONDS
	local deadline=$((SECONDS + $3))
	until grep -Eq "$2" "$1" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		[ -z "$AGENT" ] || kill -0 "$AGENT" 2>/dev/null || fail "the agent died: $(tail -5 "$LOG")"
		sleep 0.05
	done
}
commits() { grep -c 'window committed' "$LOG" || true; }
logged_total() { grep -o '[0-9]* written in all' "$LOG" | tail -1 | cut -d' ' -f1; }
store_total() {
	"$KILN" query --db "$DB" --from 0 --to now --format folded | awk '{ t += $NF } END { print t + 0 }'
}
start_agent() { # extra args...
	LOG=$TMP/agent.$RANDOM.log
	KILN_LOG=debug "$KILN" agent --db "$DB" --no-web --stats-interval 1h "$@" 2>"$LOG" &
	AGENT=$!
	wait_log "$LOG" 'sampling every CPU' 30 || fail "the agent did not start: $(cat "$LOG")"
}
stop_agent() { # SIGNAL -> exit status checked to be 0
	local rc=0
	kill "-$1" "$AGENT"
	wait "$AGENT" || rc=$?
	AGENT=
	[ "$rc" -eq 0 ] || fail "SIG$1 must exit 0, got $rc: $(tail -3 "$LOG")"
}

# 4. A reader holding a read transaction for 6 s: WAL lets the agent keep
# committing; the reader sees one snapshot throughout; nothing is lost.
rm -f "$DB" "$DB-wal" "$DB-shm"
start_agent --window 200ms
wait_log "$LOG" 'written in all' 30 || fail "no window committed: $(tail -3 "$LOG")"
(
	echo 'BEGIN;'
	echo 'SELECT sum(total) FROM samples_10s;'
	sleep 6
	echo 'SELECT sum(total) FROM samples_10s;'
	echo 'COMMIT;'
) | sqlite3 "$DB" >"$TMP/reader.out" 2>&1 &
reader=$!
sleep 0.5
c0=$(commits)
wait "$reader" || fail "the reader failed: $(cat "$TMP/reader.out")"
c1=$(commits)
sleep 1.5
c2=$(commits)
echo "reader: $(tr '\n' ' ' <"$TMP/reader.out"); windows committed while it held its snapshot: $((c1 - c0)), after: $((c2 - c1))"
[ "$(sort -u "$TMP/reader.out" | wc -l)" -eq 1 ] ||
	fail "a read transaction saw the store change under it: $(cat "$TMP/reader.out")"
[ $((c1 - c0)) -ge 10 ] || fail "only $((c1 - c0)) windows committed during a 5.5 s read (window 0.2 s)"
[ $((c2 - c1)) -ge 3 ] || fail "windows stopped after the reader let go"
grep -E '^kiln: error|cannot write' "$LOG" && fail "the agent logged errors with a reader present"

# 5. A writer holding the write lock for 8 s: longer than the store's 5 s
# busy timeout, so a window write fails and is retried with the next one.
# The samples must all land once the lock is released.
(
	echo '.timeout 5000'
	echo 'BEGIN IMMEDIATE;'
	echo 'SELECT 1;'
	sleep 8
	echo 'COMMIT;'
) | sqlite3 "$DB" >"$TMP/writer.out" 2>&1 &
writer=$!
wait "$writer" || fail "the lock holder failed: $(cat "$TMP/writer.out")"
grep -q 'cannot write a window' "$LOG" || fail "the lock did not make a window write fail: the case tests nothing"
wait_log "$LOG" 'writable again' 20 || fail "the agent did not write again after the lock was released"
[ "$(grep -c 'error:' "$LOG")" -le 1 ] || fail "one locked period, several errors: $(grep 'error:' "$LOG")"
sleep 1
kill -0 "$AGENT" || fail "the agent died while the store was locked"
stop_agent TERM
last=$(logged_total) total=$(store_total)
echo "locked store: $(grep -c 'cannot write' "$LOG" || true) failure notices; logged $last written, store has $total"
[ "$total" -eq "$last" ] || fail "the agent logged $last samples written, the store has $total"
collected=$(sed -n 's/.*info: samples \([0-9]*\), lost.*/\1/p' "$LOG" | tail -1)
[ "$total" -ge "$collected" ] || fail "the agent collected $collected samples, the store has only $total"
[ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check failed"

# 6. SIGTERM and SIGINT write the open window: with a 1 h window nothing
# is written before the signal, so every stored sample came from it.
for sig in TERM INT; do
	rm -f "$DB" "$DB-wal" "$DB-shm"
	start_agent --window 1h
	sleep 2
	[ "$(commits)" -eq 0 ] || fail "a window was written before SIG$sig"
	stop_agent "$sig"
	total=$(store_total)
	collected=$(sed -n 's/.*info: samples \([0-9]*\), lost.*/\1/p' "$LOG" | tail -1)
	echo "SIG$sig: exit 0, the open window held $total samples ($collected collected)"
	[ "$total" -ge 150 ] || fail "SIG$sig: expected >= 150 samples from 2 s of a busy CPU, the store has $total"
	[ "$total" -ge "$collected" ] || fail "SIG$sig: $collected collected, $total stored"
done
exit 0
