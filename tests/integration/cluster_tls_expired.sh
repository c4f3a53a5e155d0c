#!/bin/bash
# SPDX-License-Identifier: MIT
# An https server whose certificate has expired (signed by a CA the agent
# trusts through --push-ca, so only the dates are wrong): the agent sends
# nothing, logs one clear line about the certificate (once a minute, not
# once a try), keeps sampling and keeps every window; when the server
# comes back on the same port with a valid certificate from the same CA,
# the same agent process delivers everything it kept, once.
source "$(dirname "$0")/lib.sh"
need_root
command -v openssl >/dev/null || fail "openssl is missing"

# A test CA, and one server key with two certificates from it: one valid
# only in January 2020 (openssl ca sets the dates; no clock faking), one
# valid now.
CA=$TMP/ca
mkdir -p "$CA"
cat >"$CA/ca.cnf" <<'CNF'
[ ca ]
default_ca = kiln_test
[ kiln_test ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[ any ]
commonName = supplied
CNF
: >"$CA/index.txt"
echo 01 >"$CA/serial"
(
	cd "$CA"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3 \
		-subj "/CN=kiln test CA" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout key.pem -out req.csr -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
	openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in req.csr -out expired.pem \
		-startdate 20200101000000Z -enddate 20200201000000Z 2>/dev/null
	openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in req.csr -out good.pem \
		-days 2 2>/dev/null
) || fail "cannot make the test certificates"
verdict=$(openssl verify -CAfile "$CA/ca.pem" "$CA/expired.pem" 2>&1 || true)
[[ $verdict == *"certificate has expired"* ]] ||
	fail "the expired certificate is not expired: $(openssl x509 -in "$CA/expired.pem" -noout -dates)"
openssl verify -CAfile "$CA/ca.pem" "$CA/good.pem" >/dev/null || fail "the valid certificate does not verify"

TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN" >"$TMP/token"
DB=$TMP/central.db
# tls_server CERT: on the same port again once PORT is set (lib.sh's
# start_server always takes a new one).
tls_server() {
	: >"$TMP/srv.out"
	"$KILN" server --db "$DB" --ingest --listen "127.0.0.1:${PORT:-0}" --auth-token-file "$TMP/token" \
		--tls-cert "$1" --tls-key "$CA/key.pem" >"$TMP/srv.out" 2>>"$TMP/srv.err" &
	SERVER_PID=$!
	CLEANUP_PIDS+=("$SERVER_PID")
	wait_server "$SERVER_PID" "$TMP/srv.out" "$TMP/srv.err"
}
spool() { sqlite3 "$1" 'SELECT count(*) FROM push_spool' 2>/dev/null || echo -1; }
stored() { sqlite3 "$DB" 'SELECT count(*) FROM push_windows' 2>/dev/null || echo -1; }
wait_until() {
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do [ "$SECONDS" -lt "$deadline" ] || return 1; sleep 0.2; done
}
spooled() { [ "$(spool "$A")" -ge "$1" ]; }
drained() { [ "$(spool "$A")" = 0 ]; }
folded_total() { # DB [FILTER...]
	local db=$1; shift
	"$KILN" query --db "$db" --from 0 --to now --format folded "$@" | awk '{ t += $NF } END { print t + 0 }'
}

tls_server "$CA/expired.pem"
A=$TMP/a.db
"$KILN" agent --db "$A" --window 1s --host tlshost --no-web --stats-interval 1h \
	--push "https://127.0.0.1:$PORT" --push-token-file "$TMP/token" --push-ca "$CA/ca.pem" \
	--push-max-backoff 1s 2>"$TMP/a.err" &
AGENT=$!
CLEANUP_PIDS+=("$AGENT")
wait_until 30 grep -q 'TLS certificate is not accepted' "$TMP/a.err" ||
	fail "no certificate error logged: $(tail -3 "$TMP/a.err")"
grep 'TLS certificate is not accepted' "$TMP/a.err" | grep -q 'expired' ||
	fail "the line does not say the certificate expired: $(grep -m1 'TLS cert' "$TMP/a.err")"
# Sampling goes on and windows pile up in the spool while it retries
# (backoff at most 1 s: many tries in these seconds, one line).
n0=$(spool "$A")
wait_until 40 spooled $((n0 + 3)) || fail "no windows kept while the certificate is refused"
[ "$(grep -c 'TLS certificate is not accepted' "$TMP/a.err")" = 1 ] ||
	fail "want one certificate line, got $(grep -c 'TLS certificate is not accepted' "$TMP/a.err")"
[ "$(stored)" = 0 ] || fail "a window went past an expired certificate"
kill -0 "$AGENT" 2>/dev/null || fail "the agent exited: $(tail -3 "$TMP/a.err")"
kept=$(spool "$A")
echo "expired certificate: $(grep -m1 'TLS certificate' "$TMP/a.err" | sed 's/^.*push: //' | cut -c1-150)"
echo "  $kept windows kept, nothing stored on the server"

# The certificate is renewed: same port, same agent process.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
tls_server "$CA/good.pem"
# The agent goes on sampling: compare totals with it stopped (SIGSTOP) at
# a moment its spool is empty, i.e. every window it stored was
# acknowledged. (Its own exit is not what is tested here.)
settled=
for _ in $(seq 20); do
	wait_until 40 drained || fail "not delivered after the certificate was fixed: spool $(spool "$A"); $(tail -3 "$TMP/a.err")"
	kill -STOP "$AGENT"
	drained && { settled=1; break; }
	kill -CONT "$AGENT"
done
[ -n "$settled" ] || fail "the agent's spool never settled empty"
local_total=$(folded_total "$A")
server_total=$(folded_total "$DB" --filter host=tlshost)
dups=$(sqlite3 "$DB" 'SELECT count(*) - count(DISTINCT seq) FROM push_windows')
echo "renewed certificate: delivered $(stored) windows; agent $local_total samples, server $server_total"
[ "$local_total" -gt 0 ] && [ "$local_total" = "$server_total" ] || fail "totals differ"
[ "$dups" = 0 ] || fail "$dups windows stored twice"
[ "$(stored)" -ge "$kept" ] || fail "fewer windows stored ($(stored)) than were kept ($kept)"
kill -9 "$AGENT"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
echo "cluster_tls_expired: all checks passed"
