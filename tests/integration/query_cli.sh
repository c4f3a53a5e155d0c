#!/bin/bash
# SPDX-License-Identifier: MIT
# kiln query against a store filled by kiln import: ranges (RFC 3339, unix
# seconds), filters (same key OR, different keys AND), folded and JSON
# output, and the usage/runtime errors with their exit codes.
. tests/integration/lib.sh

cd "$TMP"
printf 'postgres;main;exec_query;scan 30\npostgres;main;exec_query;sort 10\nnginx;main;ngx_process;epoll_wait_[k] 5\n' > a.folded
printf 'postgres;main;exec_query;scan 7\n' > b.folded
"$KILN" import a.folded --db q.db --label host=db1 --time 2026-11-21T14:02:03Z 2>/dev/null || fail "import a"
"$KILN" import b.folded --db q.db --label host=web1 --time 2026-11-21T14:03:03Z 2>/dev/null || fail "import b"

"$KILN" query --db q.db --from 2026-11-21T14:00:00Z --to 2026-11-21T14:05:00Z > all.folded || fail "query all"
[ "$(total all.folded)" = 52 ] || fail "all: $(total all.folded) samples, want 52"
grep -qx 'postgres;main;exec_query;scan 37' all.folded || fail "scan not merged across hosts: $(cat all.folded)"
grep -qx 'nginx;main;ngx_process;epoll_wait_\[k\] 5' all.folded || fail "kernel frame suffix lost"

# All of time: a read filtered to one host of several steps from one
# stored bucket to the next, not through the 177 million 10 s buckets
# since 1970 (it looped for minutes before).
for h in 1 2 3 4 5 6 7 8; do
	"$KILN" import b.folded --db ever.db --label host=h$h --time 2026-11-21T14:03:03Z 2>/dev/null || fail "import h$h"
done
for f in "" "--filter host=h3"; do
	# shellcheck disable=SC2086
	timeout 20 "$KILN" query --db ever.db --from 0 --to now $f > ever.folded ||
		fail "query --from 0 --to now $f: exit $? (124: took over 20 s)"
	want=56 && [ -n "$f" ] && want=7
	[ "$(total ever.folded)" = "$want" ] || fail "--from 0 $f: $(total ever.folded) samples, want $want"
done

# unix seconds, and a range that ends before the second import
"$KILN" query --db q.db --from 1795269600 --to 1795269780 > early.folded || fail "query early"
[ "$(total early.folded)" = 45 ] || fail "early: $(total early.folded), want 45"

"$KILN" query --db q.db --from 2026-11-21T14:00:00Z --to 2026-11-21T14:05:00Z \
	--filter comm=postgres --filter host=web1 > f.folded || fail "query filtered"
[ "$(cat f.folded)" = 'postgres;main;exec_query;scan 7' ] || fail "AND filter: $(cat f.folded)"
"$KILN" query --db q.db --from 2026-11-21T14:00:00Z --to 2026-11-21T14:05:00Z \
	--filter comm=nginx --filter comm=postgres --filter host=db1 > f2.folded || fail "query OR"
[ "$(total f2.folded)" = 45 ] || fail "OR filter: $(total f2.folded), want 45"

"$KILN" query --db q.db --from 2026-11-21T14:00:00Z --to 2026-11-21T14:05:00Z \
	--filter host=db1 --format json -o out.json || fail "json"
python3 - out.json <<'PY' || fail "json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["total"] == 45, d["total"]
assert sum(s["count"] for s in d["stacks"]) == 45
top = d["stacks"][0]
assert top["count"] == 30 and top["frames"] == ["main", "exec_query", "scan"], top
assert top["labels"]["comm"] == "postgres" and top["labels"]["host"] == "db1", top
PY

set +e
# Names with terminal escapes and other control bytes (valid UTF-8, so
# import takes them): what query prints has no raw control byte, and what
# it writes reads back.
printf 'evil\033[2J\033]0;t\007;ma\033[31min;f\x01oo\x7f 4\n' > esc.folded
"$KILN" import esc.folded --db esc.db --time 2026-11-21T14:02:03Z 2>/dev/null || fail "import esc"
for f in folded json svg speedscope; do
	"$KILN" query --db esc.db --from 2026-11-21T14:00:00Z --to 2026-11-21T14:05:00Z \
		--format $f > esc.$f || fail "query esc $f"
	! LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177]')" esc.$f || fail "$f output has raw control bytes: $(od -c esc.$f | head -3)"
done
"$KILN" import esc.folded --db esc2.db 2>/dev/null || fail "query's folded output does not read back"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' esc.json || fail "query JSON not valid"
xmllint --noout esc.svg || fail "query SVG not valid XML"

"$KILN" query --db q.db --filter colour=red 2>err.txt; rc=$?
[ $rc = 2 ] || fail "unknown label: exit $rc"
"$KILN" query --db q.db --from yesterday 2>err.txt; rc=$?
[ $rc = 2 ] && [ "$(wc -l < err.txt)" = 1 ] || fail "bad time: exit $rc, $(cat err.txt)"
"$KILN" query --db q.db --from now --to -1h 2>err.txt; rc=$?
[ $rc = 2 ] || fail "inverted range: exit $rc"
"$KILN" query --db q.db --format png 2>err.txt; rc=$?
[ $rc = 2 ] || fail "bad format: exit $rc"
"$KILN" query --db no/such/dir.db 2>err.txt; rc=$?
[ $rc = 3 ] && [ "$(wc -l < err.txt)" = 1 ] && grep -q "does not exist" err.txt || fail "missing db: exit $rc, $(cat err.txt)"
echo "not a database, not at all, really not" > bad.db
"$KILN" query --db bad.db 2>err.txt; rc=$?
[ $rc = 3 ] && grep -q "not a database" err.txt || fail "corrupt db: exit $rc, $(cat err.txt)"
"$KILN" query --help | grep -q -- "--filter" || fail "--help"
exit 0
