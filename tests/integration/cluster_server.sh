#!/bin/bash
# SPDX-License-Identifier: MIT
# The central server's push and Pyroscope endpoints against a real `kiln
# server --ingest` on a loopback port, fed with frames from
# bench/push_load (synthetic agent windows): a window is stored once (a
# replay gets 409 and changes nothing); wrong or missing tokens get 401;
# malformed, truncated and oversized bodies get a 4xx JSON error and write
# nothing; any token of a multi-token file works; Pyroscope's /ingest with
# pprof and folded bodies lands with service_name and the name's labels;
# /api/v1/hosts lists the agent; https with a self-signed certificate.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is missing (scripts/deps.sh installs it)"
command -v openssl >/dev/null || fail "openssl is missing (scripts/deps.sh installs it)"
LOAD=$PWD/$OUT/bench/push_load
[ -x "$LOAD" ] || fail "$LOAD is missing: run make"

TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOKEN2=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '# two tokens: one being rotated out\n%s\n\n%s\n' "$TOKEN" "$TOKEN2" >"$TMP/tokens"
DB=$TMP/central.db

# start_server OUTFILE ARGS... -> sets PORT, SCHEME, SERVER_PID
start_server() {
	local out=$1; shift
	"$KILN" server --db "$DB" --ingest "$@" >"$out" 2>"$out.err" &
	SERVER_PID=$!
	CLEANUP_PIDS+=("$SERVER_PID")
	wait_server "$SERVER_PID" "$out" "$out.err" 200
	SCHEME=$(sed -n 's|^listening on \(https*\)://.*|\1|p' "$out")
}

# post PATH FILE [TOKEN] [curl args...] -> prints "STATUS BODY"
post() {
	local path=$1 file=$2 tok=${3-$TOKEN}; shift 3 || shift $#
	local auth=()
	[ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
	curl -sS -o "$TMP/resp" -w '%{http_code}' "${auth[@]}" "$@" \
		-H 'Content-Type: application/x-kiln-window' \
		--data-binary @"$file" "http://127.0.0.1:$PORT$path"
	echo " $(cat "$TMP/resp")"
}

windows() { sqlite3 "$DB" 'SELECT count(*) FROM push_windows'; }
stored() {
	"$KILN" query --db "$DB" --from 0 --to now --format folded "$@" |
		awk '{ t += $NF } END { print t + 0 }'
}

start_server "$TMP/srv" --listen 127.0.0.1:0 --auth-token-file "$TMP/tokens"
echo "server on port $PORT"

T=$(($(date +%s) - 120))
n1=$("$LOAD" frame "$TMP/w1" --host alpha --instance 77 --seq 1 --start "$T")
n2=$("$LOAD" frame "$TMP/w2" --host alpha --instance 77 --seq 2 --start $((T + 10)))

r=$(post /api/v1/push "$TMP/w1")
[ "${r%% *}" = 200 ] || fail "first push: $r"
r=$(post /api/v1/push "$TMP/w2" "$TOKEN2")
[ "${r%% *}" = 200 ] || fail "push with the second token: $r"
total=$(stored --filter host=alpha)
[ "$total" = $((n1 + n2)) ] || fail "stored $total samples, pushed $((n1 + n2))"
echo "two windows stored: $total samples"

# A replayed window: 409 with a JSON error, nothing written.
r=$(post /api/v1/push "$TMP/w1")
[ "${r%% *}" = 409 ] || fail "replay: $r"
echo "$r" | grep -q '"error"' || fail "replay answer is not a JSON error: $r"
[ "$(stored --filter host=alpha)" = "$total" ] || fail "a replay changed the counts"
[ "$(windows)" = 2 ] || fail "a replay added a window identity"
echo "replay refused: $r"

# Tokens: wrong and missing get 401 and write nothing.
r=$(post /api/v1/push "$TMP/w1" wrongwrongwrongwrongwrong)
[ "${r%% *}" = 401 ] || fail "wrong token: $r"
r=$(post /api/v1/push "$TMP/w1" "")
[ "${r%% *}" = 401 ] || fail "no token: $r"

# Malformed, truncated, corrupted and oversized bodies: 4xx JSON, nothing
# written. Each is a new window number, so only the damage can refuse it.
"$LOAD" frame "$TMP/w3" --host alpha --instance 77 --seq 3 --start $((T + 20)) >/dev/null
head -c 1000 /dev/urandom >"$TMP/bad.random"
head -c $(($(stat -c %s "$TMP/w3") / 2)) "$TMP/w3" >"$TMP/bad.truncated"
head -c $(($(stat -c %s "$TMP/w3") - 1)) "$TMP/w3" >"$TMP/bad.short1"
cp "$TMP/w3" "$TMP/bad.flipped"
printf '\xff\xff\xff' | dd of="$TMP/bad.flipped" bs=1 seek=200 conv=notrunc 2>/dev/null
: >"$TMP/bad.empty"
for f in random truncated short1 flipped empty; do
	r=$(post /api/v1/push "$TMP/bad.$f")
	case ${r%% *} in 4??) ;; *) fail "$f body: $r" ;; esac
	echo "$r" | grep -q '"error"' || fail "$f body: no JSON error: $r"
	echo "  $f: $r"
done
head -c $((17 << 20)) /dev/zero >"$TMP/bad.huge"
r=$(post /api/v1/push "$TMP/bad.huge")
[ "${r%% *}" = 413 ] || fail "oversized body: $r"
[ "$(windows)" = 2 ] || fail "a bad push added a window identity"
[ "$(stored --filter host=alpha)" = "$total" ] || fail "a bad push changed the counts"
# The intact window still goes in afterwards.
r=$(post /api/v1/push "$TMP/w3")
[ "${r%% *}" = 200 ] || fail "intact third window: $r"
echo "bad bodies refused with 4xx, the intact one stored"

# Hosts page API.
curl -sS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/hosts" >"$TMP/hosts"
grep -q '"host":"alpha"' "$TMP/hosts" || fail "hosts: $(cat "$TMP/hosts")"
grep -q '"windows":3' "$TMP/hosts" || fail "hosts windows: $(cat "$TMP/hosts")"
grep -q '"instance":"000000000000004d"' "$TMP/hosts" || fail "hosts instance: $(cat "$TMP/hosts")"
echo "hosts: $(cat "$TMP/hosts")"
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/assets/hosts.html" | grep -q '/assets/hosts.js' ||
	fail "no hosts page"

# Pyroscope's ingest API: folded and pprof bodies.
printf 'main;work;spin 30\nmain;idle 12\n' >"$TMP/p.folded"
r=$(post "/ingest?name=myapp%7Benv%3Dx%2Cregion%3Deu%7D&from=$T&until=$((T + 10))&format=folded&sampleRate=100" \
	"$TMP/p.folded" "$TOKEN" -H 'Content-Type: text/plain')
[ "${r%% *}" = 200 ] || fail "pyroscope folded: $r"
[ "$(stored --filter service_name=myapp --filter env=x --filter region=eu)" = 42 ] ||
	fail "pyroscope folded: $(stored --filter service_name=myapp) samples with the labels"
"$KILN" query --db "$DB" --from 0 --to now --format folded --filter service_name=myapp |
	grep -q 'work;spin 30' || fail "pyroscope folded stacks lost"
"$KILN" query --db "$DB" --from 0 --to now --filter host=alpha --format pprof -o "$TMP/p.pb.gz"
want=$(stored --filter host=alpha)
r=$(post "/ingest?name=other.cpu%7Benv%3Dy%7D&from=$T&until=$((T + 30))&format=pprof" \
	"$TMP/p.pb.gz" "$TOKEN" -H 'Content-Type: application/octet-stream')
[ "${r%% *}" = 200 ] || fail "pyroscope pprof: $r"
got=$(stored --filter service_name=other.cpu --filter env=y)
[ "$got" = "$want" ] || fail "pyroscope pprof: $got samples, sent $want"
# Multipart, as Pyroscope's SDKs send it.
r=$(curl -sS -o "$TMP/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	-F "profile=@$TMP/p.folded" \
	"http://127.0.0.1:$PORT/ingest?name=mp%7Benv%3Dz%7D&from=$T&format=folded")
[ "$r" = 200 ] || fail "pyroscope multipart: $r $(cat "$TMP/resp")"
[ "$(stored --filter service_name=mp --filter env=z)" = 42 ] || fail "pyroscope multipart counts"
for q in "name=bad%7Benv" "name=" "name=a&format=trie"; do
	r=$(post "/ingest?$q" "$TMP/p.folded")
	case ${r%% *} in 4??) ;; *) fail "pyroscope bad query '$q': $r" ;; esac
done
echo "pyroscope ingest: folded, pprof and multipart bodies stored with their labels"

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true

# https: a self-signed certificate made here, verified by curl.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
	-days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null ||
	fail "openssl req failed"
start_server "$TMP/srv_tls" --listen 127.0.0.1:0 --auth-token-file "$TMP/tokens" \
	--tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
[ "$SCHEME" = https ] || fail "TLS server says $SCHEME"
"$LOAD" frame "$TMP/w4" --host beta --instance 78 --seq 1 --start "$T" >/dev/null
r=$(curl -sS -o "$TMP/resp" -w '%{http_code}' --cacert "$TMP/cert.pem" \
	-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/x-kiln-window" \
	--data-binary @"$TMP/w4" \
	"https://127.0.0.1:$PORT/api/v1/push") || fail "https push failed: $(cat "$TMP/srv_tls.err")"
[ "$r" = 200 ] || fail "https push: $r"
# Plain http to the TLS port gets nowhere.
! curl -sS -m 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 ||
	fail "TLS port answered plain http"
echo "https push with a self-signed certificate: $r"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
echo "cluster_server: all checks passed"
