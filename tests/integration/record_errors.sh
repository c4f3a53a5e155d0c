#!/bin/bash
# SPDX-License-Identifier: MIT
# Clear one-line errors and exit codes for bad use of kiln record.
source tests/integration/lib.sh
set +e
"$KILN" record --pid 999999999 --duration 1 >/dev/null 2>"$TMP/err"; rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] || fail "a missing pid must be a runtime error, got exit $rc"
grep -q "no process with pid 999999999" "$TMP/err" || fail "unclear error: $(cat "$TMP/err")"
[ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "expected one line: $(cat "$TMP/err")"
"$KILN" record --frequency abc >/dev/null 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] || fail "a bad --frequency is a usage error (2), got $rc"
"$KILN" record --format nope >/dev/null 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] || fail "a bad --format is a usage error (2), got $rc"
"$KILN" record --kernel-only --user-only >/dev/null 2>"$TMP/err"; rc=$?
[ "$rc" -eq 2 ] || fail "--kernel-only with --user-only is a usage error, got $rc"
"$KILN" record --help | grep -q -- '--frequency' || fail "--help must list options"
# Without privileges: run as 'nobody' with no capabilities.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$KILN" record --duration 1 >/dev/null 2>"$TMP/err"; rc=$?
	[ "$rc" -ne 0 ] || fail "unprivileged record must fail"
	grep -q "needs root or CAP_BPF and CAP_PERFMON" "$TMP/err" || fail "unclear privilege error: $(cat "$TMP/err")"
fi
exit 0
