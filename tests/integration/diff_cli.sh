#!/bin/bash
# SPDX-License-Identifier: MIT
# `kiln diff`, `kiln export` and `kiln import` from the command line:
# exit codes (0 ok, 1 regression, 2 usage, 3 error or too few samples),
# the three report formats, --svg, pprof and folded inputs, store queries,
# and bad input refused with nothing written to the store.
source "$(dirname "$0")/lib.sh"

cat >"$TMP/base.folded" <<'F'
api;main;handle;parse_json 300
api;main;handle;query_db 500
api;main;handle;render 200
F
cat >"$TMP/new.folded" <<'F'
api;main;handle;parse_json 900
api;main;handle;query_db 700
api;main;handle;render 400
F
"$KILN" export "$TMP/base.folded" -o "$TMP/base.pb.gz" || fail "export base"
"$KILN" export "$TMP/new.folded" -o "$TMP/new.pb.gz" || fail "export new"

expect_rc() { # expect_rc RC CMD...
	local want=$1 rc=0; shift
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ "$rc" = "$want" ] || { cat "$TMP/out" "$TMP/err"; fail "'$*' exited $rc, want $want"; }
}

# parse_json 30% -> 45%: +15 pp.
expect_rc 1 "$KILN" diff "$TMP/base.pb.gz" "$TMP/new.pb.gz" --threshold 2%
grep -q "regression: 1 function grew by more than 2.00 pp" "$TMP/out" || fail "no regression line"
grep -q "parse_json  <-- regression" "$TMP/out" || fail "parse_json not flagged"
expect_rc 0 "$KILN" diff "$TMP/base.pb.gz" "$TMP/new.pb.gz" --threshold 20
expect_rc 0 "$KILN" diff "$TMP/base.folded" "$TMP/new.pb.gz"  # no threshold: report only
# Mixed inputs; total metric: handle stays at 100%.
expect_rc 0 "$KILN" diff "$TMP/base.folded" "$TMP/new.pb.gz" --metric total --threshold 16
expect_rc 1 "$KILN" diff "$TMP/base.folded" "$TMP/new.pb.gz" --metric total --threshold 14

expect_rc 1 "$KILN" diff "$TMP/base.folded" "$TMP/new.folded" --threshold 2 --format markdown
grep -qF '| **parse\_json** | 30.00% | 45.00% | +15.00 pp |' "$TMP/out" || { cat "$TMP/out"; fail "markdown row"; }
expect_rc 1 "$KILN" diff "$TMP/base.folded" "$TMP/new.folded" --threshold 2 --format json --svg "$TMP/d.svg"
python3 - "$TMP/out" "$TMP/d.svg" <<'PY' || fail "json or svg invalid"
import json, sys, xml.etree.ElementTree as E
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "regression" and d["regressions"] == 1, d
f = {x["name"]: x for x in d["functions"]}
assert abs(f["parse_json"]["delta_self_pp"] - 15) < 1e-6
assert f["query_db"]["delta_self_pp"] < -14
r = E.parse(sys.argv[2]).getroot()
ns = "{http://www.w3.org/2000/svg}"
t = {g.find(ns + "title").text.split(" ")[0]: g.find(ns + "rect").get("fill")
     for g in r.iter(ns + "g") if g.get("class") == "f"}
assert t["parse_json"].startswith("rgb(255,"), t["parse_json"]
assert t["query_db"].endswith(",255)"), t["query_db"]
PY

# Too few samples to judge: said plainly, exit 3.
printf 'p;a 5\n' >"$TMP/tiny.folded"
expect_rc 3 "$KILN" diff "$TMP/tiny.folded" "$TMP/new.folded" --threshold 2
grep -q "too few samples to judge" "$TMP/err" || fail "too-few message missing"
expect_rc 1 "$KILN" diff "$TMP/tiny.folded" "$TMP/new.folded" --threshold 2 --min-samples 1

# Usage errors: exit 2.
expect_rc 2 "$KILN" diff "$TMP/base.folded"
expect_rc 2 "$KILN" diff "$TMP/base.folded" "$TMP/new.folded" --threshold lots
expect_rc 2 "$KILN" diff "$TMP/base.folded" "$TMP/new.folded" --metric wall
expect_rc 2 "$KILN" diff "$TMP/base.folded" "$TMP/new.folded" --format xml
expect_rc 0 "$KILN" diff --help
# Unreadable input: exit 3 with the reason.
expect_rc 3 "$KILN" diff "$TMP/missing.pb.gz" "$TMP/new.folded"
grep -q "No such file" "$TMP/err" || fail "missing-file reason"
printf 'api;main 10\napi;main\n' >"$TMP/bad.folded"
expect_rc 3 "$KILN" diff "$TMP/bad.folded" "$TMP/new.folded"
grep -q "line 2: no count" "$TMP/err" || fail "folded line number missing: $(cat "$TMP/err")"

# Export: every format from pprof input.
for f in folded speedscope svg pprof; do
	"$KILN" export "$TMP/new.pb.gz" --format "$f" -o "$TMP/x.$f" || fail "export --format $f"
	[ -s "$TMP/x.$f" ] || fail "empty $f export"
done
cmp <(sort "$TMP/x.folded") <(sort "$TMP/new.folded") || fail "pprof -> folded differs from the source"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert sum(d["profiles"][0]["weights"])==2000' "$TMP/x.speedscope" ||
	fail "speedscope weights"
"$KILN" export "$TMP/new.folded" --format svg --title 'T<&>' --width 640 --min-width 1 --icicle -o "$TMP/t.svg" || fail "svg options"
python3 -c 'import sys,xml.dom.minidom as m; d=m.parse(sys.argv[1]); r=d.documentElement; assert r.getAttribute("width")=="640" and r.getAttribute("data-icicle")=="1"' "$TMP/t.svg" || fail "svg options not applied"
expect_rc 2 "$KILN" export "$TMP/new.folded" --format xml

# Import into a store and diff store queries.
DB=$TMP/k.db
"$KILN" import "$TMP/base.pb.gz" --db "$DB" --label commit=abc --time -90m || fail "import base"
"$KILN" import "$TMP/new.folded" --db "$DB" --label commit=def --time -30m || fail "import new"
expect_rc 1 "$KILN" diff "db:$DB?from=-2h&to=-1h" "db:$DB?from=-1h&to=now" --threshold 2
grep -q "(1000 samples)" "$TMP/out" && grep -q "(2000 samples)" "$TMP/out" || { cat "$TMP/out"; fail "db query totals"; }
expect_rc 1 "$KILN" diff "db:$DB?from=-3h&filter=commit=abc" "db:$DB?from=-3h&filter=commit=def" --threshold 2 --format json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["base"]["samples"]==1000 and d["new"]["samples"]==2000' "$TMP/out" ||
	fail "db filter by label"
expect_rc 3 "$KILN" diff "db:$DB?bogus=1" "$TMP/new.folded"

# Bad input: refused, nothing written to the store.
size_before=$(sqlite3 "$DB" 'select count(*) from sqlite_master' 2>/dev/null || echo x)
python3 - "$TMP" <<'PY'
import gzip, sys
d = sys.argv[1]
good = open(d + "/new.pb.gz", "rb").read()
open(d + "/trunc.pb.gz", "wb").write(good[: len(good) // 2])
open(d + "/bomb.pb.gz", "wb").write(gzip.compress(b"\0" * (600 << 20), 9))
open(d + "/utf8.folded", "wb").write(b"api;ma\xffin 3\n")
open(d + "/abs.folded", "wb").write(b"api;main 99999999999999999999\n")
open(d + "/garbage.pb", "wb").write(b"\x0a\xff\xff\xff\xff\x0f\x00\x01\x02")
PY
for bad in trunc.pb.gz bomb.pb.gz utf8.folded abs.folded garbage.pb bad.folded; do
	expect_rc 3 "$KILN" import "$TMP/$bad" --db "$DB" --label commit=zzz
	grep -q "cannot import" "$TMP/err" || fail "$bad: no reason given"
	echo "$bad: $(cat "$TMP/err")"
done
expect_rc 0 "$KILN" diff "db:$DB?from=-3h&filter=commit=zzz" "$TMP/new.folded" --min-samples 0
grep -q "(0 samples)" "$TMP/out" || fail "bad input reached the store"
expect_rc 2 "$KILN" import "$TMP/new.folded" --db "$DB" --label novalue
expect_rc 2 "$KILN" import "$TMP/new.folded"
echo "diff, export and import behave"
