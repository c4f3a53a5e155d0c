#!/bin/bash
# SPDX-License-Identifier: MIT
# ClickHouse keeps what SQLite keeps of a frame (schema version 3): the
# mangled name (pprof's Function.system_name), and the build id and file
# offset that name a frame again. A recorded C++/Rust-mangled program is
# imported into both engines; pprof from the ClickHouse store carries the
# same system names as from SQLite. A version 2 database (frames without
# those columns) is read as it is, and upgraded by the first writer.
source "$(dirname "$0")/lib.sh"
need_root
command -v g++ >/dev/null || fail "g++ is missing (scripts/deps.sh installs it)"
command -v go >/dev/null || fail "go is missing (scripts/deps.sh installs golang-go)"
export HOME=${HOME:-$TMP} GOCACHE=$TMP/gocache PPROF_TMPDIR=$TMP/pprof
start_clickhouse
q() { curl -sS "http://127.0.0.1:$CH_PORT/?database=$1" --data-binary "$2"; }
MANGLED=(_ZN8kiln_fix10spin_plainEi _RNvCs1234_7mycrate6hot_v0 _ZN7mycrate10hot_legacy17h0123456789abcdefE)

g++ -O0 -g -fno-omit-frame-pointer -o "$TMP/names_cpp" tests/workloads/names_cpp.cpp ||
	fail "cannot build the C++ workload"
"$TMP/names_cpp" 3 &
CLEANUP_PIDS+=($!)
wpid=$!
"$KILN" record -p "$wpid" -d 2 --format pprof -o "$TMP/rec.pb.gz" 2>"$TMP/rec.err" || { cat "$TMP/rec.err"; fail "record failed"; }
wait "$wpid" 2>/dev/null || true

# system_names FILE -> the sorted "name<TAB>system_name" pairs of a pprof
system_names() {
	go tool pprof -raw "$1" 2>/dev/null | grep -E '_Z|_R' | sed 's/^ *[0-9]*: *//; s/ M=[0-9]*//' | sort -u
}

# 1. The same profile into SQLite and ClickHouse, out again as pprof.
"$KILN" import "$TMP/rec.pb.gz" --store "$TMP/k.db" --time now 2>"$TMP/i1" || { cat "$TMP/i1"; fail "import into SQLite failed"; }
"$KILN" import "$TMP/rec.pb.gz" --store "$CH_URL/names" --time now 2>"$TMP/i2" || { cat "$TMP/i2"; fail "import into ClickHouse failed"; }
"$KILN" query --store "$TMP/k.db" --from -1h --to +1m --format pprof -o "$TMP/sq.pb.gz" || fail "query of SQLite failed"
"$KILN" query --store "$CH_URL/names" --from -1h --to +1m --format pprof -o "$TMP/ch.pb.gz" || fail "query of ClickHouse failed"
for m in "${MANGLED[@]}"; do
	go tool pprof -raw "$TMP/ch.pb.gz" 2>/dev/null | grep -qF "$m" || fail "pprof from ClickHouse lacks system name $m"
done
system_names "$TMP/sq.pb.gz" >"$TMP/sq.sys"
system_names "$TMP/ch.pb.gz" >"$TMP/ch.sys"
[ -s "$TMP/sq.sys" ] || fail "pprof from SQLite has no system names"
diff "$TMP/sq.sys" "$TMP/ch.sys" >"$TMP/sys.diff" || { cat "$TMP/sys.diff"; fail "SQLite and ClickHouse give different system names"; }
[ "$(q names "SELECT count() FROM frames WHERE system_name != ''")" -gt 0 ] || fail "no system_name stored"
echo "1. pprof from ClickHouse: $(wc -l <"$TMP/ch.sys") locations with system names, as from SQLite"

# 2. Build id and offset from an agent's window travel into ClickHouse too.
bid=$(readelf -n "$TMP/names_cpp" | awk '/Build ID/ { print $3 }')
"$KILN" agent --db "$CH_URL/agent" --window 1s --no-web 2>"$TMP/agent.err" &
CLEANUP_PIDS+=($!)
apid=$!
for _ in $(seq 150); do grep -qs 'sampling every CPU' "$TMP/agent.err" && break; sleep 0.1; done
"$TMP/names_cpp" 4 &
CLEANUP_PIDS+=($!)
sleep 3.5
kill -TERM "$apid"; wait "$apid" || { cat "$TMP/agent.err"; fail "agent on ClickHouse failed"; }
n=$(q agent "SELECT count() FROM frames WHERE build_id = '$bid' AND file_offset > 0")
[ "$n" -gt 0 ] || { cat "$TMP/agent.err"; fail "no frame of names_cpp ($bid) kept its build id and offset"; }
echo "2. $n frames of names_cpp kept build id and file offset"

# 3. A version 2 database: readers read it as it is, a writer upgrades it.
"$KILN" import "$TMP/rec.pb.gz" --store "$CH_URL/old" --time now 2>/dev/null || fail "import into old failed"
q old "ALTER TABLE frames DROP COLUMN system_name" && q old "ALTER TABLE frames DROP COLUMN build_id" &&
	q old "ALTER TABLE frames DROP COLUMN file_offset" && q old "DROP TABLE kiln_schema" &&
	q old "CREATE TABLE kiln_schema (version UInt32, written DateTime) ENGINE = TinyLog" &&
	q old "INSERT INTO kiln_schema VALUES (2, now())" || fail "cannot make a version 2 database"
"$KILN" query --store "$CH_URL/old" --from -1h --to +1m --format pprof -o "$TMP/old.pb.gz" 2>"$TMP/q3" || { cat "$TMP/q3"; fail "reading a version 2 database failed"; }
go tool pprof -top "$TMP/old.pb.gz" >"$TMP/old.top" 2>&1; grep -qF "kiln_fix::spin_plain" "$TMP/old.top" || { cat "$TMP/q3" "$TMP/old.top"; fail "version 2 database read without its names"; }
[ "$(q old "SELECT max(version) FROM kiln_schema")" = 2 ] || fail "a reader changed the schema"
KILN_LOG=info "$KILN" import "$TMP/rec.pb.gz" --store "$CH_URL/old" --time now 2>"$TMP/i3" || { cat "$TMP/i3"; fail "writing a version 2 database failed"; }
grep -q 'upgraded to 3' "$TMP/i3" || { cat "$TMP/i3"; fail "the upgrade was not said"; }
# (and on to version 4, which adds push_attempts)
[ "$(q old "SELECT max(version) FROM kiln_schema")" = 4 ] || fail "not upgraded to version 4"
"$KILN" query --store "$CH_URL/old" --from -1h --to +1m --format pprof -o "$TMP/old3.pb.gz" || fail "query after the upgrade failed"
go tool pprof -raw "$TMP/old3.pb.gz" 2>/dev/null | grep -qF _ZN8kiln_fix10spin_plainEi || fail "no system names after the upgrade"
echo "3. version 2 read as it is, upgraded by a writer"
echo "clickhouse_names: system_name, build id and offset kept in ClickHouse"
