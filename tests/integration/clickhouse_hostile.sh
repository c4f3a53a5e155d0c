#!/bin/bash
# SPDX-License-Identifier: MIT
# Every answer from ClickHouse is input: a fake ClickHouse (clickhouse_fake.mjs)
# sends garbage, cut rows, absurd lengths, binary error text, nothing, or a
# cut connection. kiln query exits 3 with one line; kiln server answers a
# JSON 5xx and stays up; nothing crashes.
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"
T0=$(( $(date +%s) - 3600 ))
for mode in garbage truncated lengths error slow badstatus; do
	node tests/integration/clickhouse_fake.mjs "$mode" >"$TMP/fake.$mode" &
	FAKE=$!
	CLEANUP_PIDS+=($FAKE)
	for _ in $(seq 100); do
		P=$(sed -n 's/^port //p' "$TMP/fake.$mode")
		[ -n "$P" ] && break
		sleep 0.05
	done
	[ -n "$P" ] || fail "the fake ClickHouse did not start"
	URL="clickhouse://127.0.0.1:$P/x?timeout=2"
	set +e
	"$KILN" query --store "$URL" --from "$T0" --to +0s >"$TMP/out" 2>"$TMP/err"
	rc=$?
	set -e
	[ "$rc" = 3 ] || fail "$mode: kiln query exit $rc, want 3: $(head -3 "$TMP/err")"
	[ "$(grep -c . "$TMP/err")" -le 2 ] || fail "$mode: more than a line or two: $(cat "$TMP/err")"
	! grep -q '[^[:print:]]' "$TMP/err" || fail "$mode: raw bytes in the message: $(od -c "$TMP/err" | head -3)"
	echo "$mode: exit 3: $(tail -1 "$TMP/err")"

	start_server "$TMP/srv.$mode" --store "$URL"
	SP=$PORT
	for path in "flamegraph?from=$T0&to=%2B0s" "timeline?from=$T0&to=%2B0s&step=60s" \
		"heatmap?from=$T0&to=%2B0s" "labels" "labels/comm/values"; do
		code=$(curl -s -m 20 -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$SP/api/v1/$path")
		# Junk that happens to parse as label names may give a 200;
		# anything else is a JSON 5xx.
		case "$code" in 5??|200) ;; *) fail "$mode $path: HTTP $code" ;; esac
		node -e "const j = JSON.parse(require('fs').readFileSync('$TMP/body', 'utf8'));
			if ($code !== 200 && !(typeof j.error === 'string' && j.error.length)) process.exit(1)" ||
			fail "$mode $path: HTTP $code without a JSON error: $(head -c 200 "$TMP/body")"
	done
	kill -0 "$SERVER_PID" || fail "$mode: the server died"
	kill "$SERVER_PID" "$FAKE"
	wait "$SERVER_PID" 2>/dev/null || true
done
echo "clickhouse_hostile: all checks passed"
