#!/bin/bash
# SPDX-License-Identifier: MIT
# Demangled names end to end: a C++ workload built here (namespace, class
# template member, operator[], lambda, and two Rust-mangled asm labels, v0
# and legacy) is recorded; its functions must read demangled in folded
# output, in pprof (go tool pprof -top shows the name, the mangled one is
# Function.system_name), and in the HTTP API (name, system_name, short
# label material) after the pprof is imported into a store.
source "$(dirname "$0")/lib.sh"
need_root
command -v g++ >/dev/null || fail "g++ is missing (scripts/deps.sh installs it)"
command -v go >/dev/null || fail "go is missing (scripts/deps.sh installs golang-go)"
export HOME=${HOME:-$TMP} GOCACHE=$TMP/gocache PPROF_TMPDIR=$TMP/pprof

g++ -O0 -g -fno-omit-frame-pointer -o "$TMP/names_cpp" tests/workloads/names_cpp.cpp ||
	fail "cannot build the C++ workload"
"$TMP/names_cpp" 4 &
CLEANUP_PIDS+=($!)
wpid=$!
"$KILN" record -p "$wpid" -d 2 -f pprof -o "$TMP/rec.pb.gz" 2>"$TMP/rec.err" || { cat "$TMP/rec.err"; fail "record failed"; }
wait "$wpid" 2>/dev/null || true
"$KILN" export "$TMP/rec.pb.gz" -o "$TMP/rec.folded" || fail "export to folded failed"

want=(
	'kiln_fix::Grid<long>::sum(int) const'
	'kiln_fix::Grid<long>::operator[](unsigned long)'
	'main::{lambda(int)#1}::operator()(int) const'
	'kiln_fix::spin_plain(int)'
	'mycrate::hot_v0'
	'mycrate::hot_legacy'
)
for w in "${want[@]}"; do
	grep -qF ";$w " "$TMP/rec.folded" || { cat "$TMP/rec.folded"; fail "folded lacks '$w'"; }
done
! grep -q '_Z\|_RNv' "$TMP/rec.folded" || fail "mangled names left in folded output"
echo "folded: ${#want[@]} demangled names"

go tool pprof -top -nodecount=100 "$TMP/rec.pb.gz" >"$TMP/top" 2>"$TMP/top.err" || { cat "$TMP/top.err"; fail "go tool pprof failed"; }
for w in "${want[@]}"; do
	grep -qF "$w" "$TMP/top" || { cat "$TMP/top"; fail "go tool pprof -top lacks '$w'"; }
done
# The mangled names are there as system names (pprof -raw prints both).
go tool pprof -raw "$TMP/rec.pb.gz" >"$TMP/raw" 2>&1 || fail "go tool pprof -raw failed"
for m in _ZN8kiln_fix10spin_plainEi _RNvCs1234_7mycrate6hot_v0 _ZN7mycrate10hot_legacy17h0123456789abcdefE; do
	grep -qF "$m" "$TMP/raw" || fail "pprof lacks system name $m"
done
echo "pprof: demangled names, mangled system names"

# The store keeps the mangled name; the API hands out both.
"$KILN" import "$TMP/rec.pb.gz" --db "$TMP/k.db" --time now >/dev/null 2>"$TMP/imp.err" || { cat "$TMP/imp.err"; fail "import failed"; }
start_server "$TMP/srv" --db "$TMP/k.db"
node - "http://127.0.0.1:$PORT" <<'JS' || fail "API checks failed"
const base = process.argv[2];
const get = async (p) => { const r = await fetch(base + p); if (!r.ok) throw new Error(p + ': ' + r.status); return r.json(); };
(async () => {
  const top = await get('/api/v1/top?from=-1h&to=now');
  const fn = (n) => top.functions.find((f) => f.name === n);
  const cases = { 'kiln_fix::spin_plain(int)': '_ZN8kiln_fix10spin_plainEi',
    'mycrate::hot_v0': '_RNvCs1234_7mycrate6hot_v0',
    'kiln_fix::Grid<long>::operator[](unsigned long)': '_ZN8kiln_fix4GridIlEixEm' };
  for (const [n, sys] of Object.entries(cases)) {
    const f = fn(n);
    if (!f) throw new Error('top lacks ' + n + ': ' + JSON.stringify(top.functions.map((x) => x.name)));
    if (f.system_name !== sys) throw new Error(n + ': system_name ' + f.system_name);
    if (f.module !== 'names_cpp') throw new Error(n + ': module ' + f.module);
  }
  const fl = await get('/api/v1/flamegraph?from=-1h&to=now');
  const i = fl.names.indexOf('mycrate::hot_legacy');
  if (i < 0 || fl.sysnames[i] !== '_ZN7mycrate10hot_legacy17h0123456789abcdefE')
    throw new Error('flamegraph sysnames: ' + i + ' ' + (fl.sysnames || [])[i]);
  if (fl.names.length !== fl.sysnames.length || fl.names.length !== fl.modules.length)
    throw new Error('flamegraph arrays differ in length');
  console.log('API: names, system_name and module for', Object.keys(cases).length, 'functions');
})().catch((e) => { console.error(e.message); process.exit(1); });
JS
echo "demangled names in folded, pprof and the API"
