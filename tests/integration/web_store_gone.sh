#!/bin/bash
# SPDX-License-Identifier: MIT
# Uploads while the store cannot be opened for writing (its directory
# removed after the server started): /api/v1/push, Pyroscope's /ingest and
# /api/v1/ingest answer a JSON 503 and release the write lock exactly once
# (the ThreadSanitizer build reports an unlock of an unlocked mutex
# otherwise); once the directory is back, the next upload is stored.
source "$(dirname "$0")/lib.sh"
TSAN_KILN=$PWD/$OUT/tsan/kiln
LOAD=$PWD/$OUT/bench/push_load
[ -x "$LOAD" ] || fail "$LOAD is missing: run make"
if [ ! -x "$TSAN_KILN" ]; then
	[ "${CI:-}" = true ] && fail "$TSAN_KILN is missing: run make tsan"
	skip "$TSAN_KILN is missing: run make tsan"
fi
mkdir "$TMP/d"
DB=$TMP/d/k.db
T=$(($(date +%s) - 120))
"$LOAD" frame "$TMP/w1" --host alpha --instance 7 --seq 1 --start "$T" >/dev/null || fail "cannot write a push frame"

export TSAN_OPTIONS="halt_on_error=0 exitcode=66 suppressions=$PWD/tests/tsan.supp"
KILN=$TSAN_KILN SERVER_TRIES=600 start_server "$TMP/srv" --db "$DB" --init --ingest
rm -rf "$TMP/d"

# post PATH CONTENT-TYPE FILE -> "STATUS BODY"
post() {
	curl -sS -m 30 -o "$TMP/resp" -w '%{http_code}' -H "Content-Type: $2" \
		--data-binary @"$3" "http://127.0.0.1:$PORT$1"
	echo " $(cat "$TMP/resp")"
}
printf 'app;main;work 5\n' >"$TMP/folded"
for i in 1 2; do
	r=$(post /api/v1/push application/x-kiln-window "$TMP/w1")
	[[ $r == "503 "*'"error"'* ]] || fail "push $i with the store gone: $r"
	r=$(post "/ingest?name=app%7Benv%3Dx%7D&from=$T&format=folded" text/x-folded "$TMP/folded")
	[[ $r == "503 "*'"error"'* ]] || fail "Pyroscope ingest $i with the store gone: $r"
	r=$(post "/api/v1/ingest?time=$T" text/x-folded "$TMP/folded")
	[[ $r == "503 "*'"error"'* ]] || fail "ingest $i with the store gone: $r"
done
mkdir "$TMP/d"
r=$(post /api/v1/push application/x-kiln-window "$TMP/w1")
[ "${r%% *}" = 200 ] || fail "push once the directory is back: $r"
r=$(post "/api/v1/ingest?time=$T" text/x-folded "$TMP/folded")
[ "${r%% *}" = 200 ] || fail "ingest once the directory is back: $r"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
if grep -q "WARNING: ThreadSanitizer" "$TMP/srv.err"; then
	grep -A20 "WARNING: ThreadSanitizer" "$TMP/srv.err" | head -40
	fail "ThreadSanitizer reported the server"
fi
echo "web_store_gone: 503s with the store gone, stored once it is back, TSan quiet"
