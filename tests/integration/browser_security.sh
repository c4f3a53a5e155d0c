#!/bin/bash
# SPDX-License-Identifier: MIT
# Browser-side attacks on a real `kiln server --ingest --auth-token-file`
# in real headless Chromium (tests/browser/security.test.mjs): another
# origin's POST, a DNS-rebinding Host, the login cookie, a hostile ?q=.
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing (scripts/deps.sh installs Debian's chromium)"
[ -d tests/browser/node_modules/playwright-core ] ||
	fail "playwright-core is missing: run scripts/deps.sh (npm ci in tests/browser)"
GEN=$PWD/$OUT/bench/web_datagen
[ -x "$GEN" ] || fail "$GEN is missing: run make"
T0=$(( ($(date +%s) - 1800) / 60 * 60 ))
"$GEN" known "$TMP/k.db" "$T0" || fail "cannot write the test store"
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$TMP/token"
start_server "$TMP/srv" --db "$TMP/k.db" --ingest --auth-token-file "$TMP/token"
CHROMIUM=$CHROMIUM timeout 120 node tests/browser/security.test.mjs "http://127.0.0.1:$PORT" "$TOKEN" ||
	{ tail -5 "$TMP/srv.err"; fail "browser security checks failed"; }
echo "browser_security: all checks passed"
