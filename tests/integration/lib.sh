# SPDX-License-Identifier: MIT
# Shared helpers for integration tests (sourced). Each test is one script:
# exit 0 passes, 77 skips (last line says why), anything else fails.
set -euo pipefail
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
TMP=$(mktemp -d /tmp/kiln-test.XXXXXX)
trap 'cleanup' EXIT
CLEANUP_PIDS=()
cleanup() {
	for p in "${CLEANUP_PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root for BPF and perf events (run as root)"
}

# Builds a test workload from tests/workloads/NAME.c with frame pointers.
build_workload() {
	local name=$1; shift
	gcc -O0 -g -fno-omit-frame-pointer "$@" \
		-o "$TMP/$name" "tests/workloads/$name.c" || fail "cannot build workload $name"
	echo "$TMP/$name"
}

# share FOLDED_FILE REGEX -> percent of samples whose stack matches REGEX
share() {
	awk -v re="$2" '{ n = $NF; total += n; if ($0 ~ re) m += n }
		END { if (total == 0) print 0; else printf "%.1f\n", 100 * m / total }' "$1"
}

total() { awk '{ t += $NF } END { print t + 0 }' "$1"; }

# within A B TOL: |A - B| <= TOL
within() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
