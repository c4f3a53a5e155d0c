#!/bin/bash
# SPDX-License-Identifier: MIT
# A binary that exists only inside another mount namespace (as in a
# container) is symbolized: kiln reaches it through /proc/PID/map_files or
# /proc/PID/root, not the host path.
source tests/integration/lib.sh
need_root
command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
W=$(build_workload cpu_split)
mkdir -p "$TMP/ns"
# Inside the namespace a tmpfs covers $TMP/ns; the host sees it empty.
unshare --mount --propagation private sh -c \
	"mount -t tmpfs kiln-test '$TMP/ns' && cp '$W' '$TMP/ns/contained' && exec '$TMP/ns/contained' 7" >/dev/null &
PID=$!
CLEANUP_PIDS+=("$PID")
sleep 1
[ ! -e "$TMP/ns/contained" ] || fail "the binary should not be visible on the host"
"$KILN" record --frequency 499 --duration 3 --user-only -o "$TMP/out.folded" 2>"$TMP/err"
cat "$TMP/err"
grep '^contained;' "$TMP/out.folded" | head -5 || true
n=$({ grep '^contained;' "$TMP/out.folded" || true; } | awk '{ t += $NF } END { print t + 0 }')
named=$({ grep '^contained;' "$TMP/out.folded" | grep -E ';func_[abc];burn ' || true; } | awk '{ t += $NF } END { print t + 0 }')
echo "contained: $n samples, $named with named frames"
[ "$n" -ge 50 ] || fail "expected samples of the contained process, got $n"
[ $((named * 100)) -ge $((n * 80)) ] || fail "only $named of $n samples in the other mount namespace were symbolized"
exit 0
