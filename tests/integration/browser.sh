#!/bin/bash
# SPDX-License-Identifier: MIT
# The web UI in real headless Chromium (tests/browser/ui.test.mjs) against a
# real `kiln server` with a store of known counts. Screenshots of every step
# go to $OUT/test-logs/screenshots.
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing (scripts/deps.sh installs Debian's chromium)"
[ -d tests/browser/node_modules/playwright-core ] ||
	fail "playwright-core is missing: run scripts/deps.sh (npm ci in tests/browser)"
GEN=$PWD/$OUT/bench/web_datagen
[ -x "$GEN" ] || fail "$GEN is missing: run make"
SHOTS=$PWD/$OUT/test-logs/screenshots
rm -rf "$SHOTS"
mkdir -p "$SHOTS"

T0=$(( ($(date +%s) - 1800) / 60 * 60 ))
"$GEN" known "$TMP/k.db" "$T0" || fail "cannot write the test store"
# A source file the line view can show (absolute path, .c).
printf 'int x;\nvoid hot_loop(void) {\n\tfor (;;)\n\t\tx++;\n\tx--;\n}\n' >"$TMP/hot.c"
"$GEN" source "$TMP/k.db" "$T0" "$TMP/hot.c" || fail "cannot write the source test data"
start_server "$TMP/srv" --db "$TMP/k.db" --ingest
echo "server on port $PORT, T0=$T0"
CHROMIUM=$CHROMIUM timeout 300 node tests/browser/ui.test.mjs "http://127.0.0.1:$PORT" "$T0" "$SHOTS" ||
	fail "browser tests failed (screenshots in $SHOTS)"
echo "screenshots: $(ls "$SHOTS" | wc -l) in $SHOTS"
