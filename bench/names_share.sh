#!/bin/bash
# SPDX-License-Identifier: MIT
# Share of frames with a real function name, whole system, by cause of
# the rest. Usage: bench/names_share.sh FOLDED... (kiln's folded output,
# process name first). Without arguments (make bench, root): records the
# whole system for KILN_NAMES_SECS (default 60) seconds with $OUT/kiln
# and classifies that. Weighted by samples; distinct names in brackets.
set -eu
OUT=${OUT:-.output}
classify() {
	awk '
	function cls(f) {
		if (f ~ /_\[k\]$/) return "kernel"
		if (f ~ /_\[j\]$/) return "jit"
		if (f ~ /^\[anon\]/ || f ~ /^\[unknown\]\+0x/) return "anon-no-map"
		if (f ~ /^\[(lost|truncated|unknown)/) return "placeholder"
		if (f ~ /\+0x[0-9a-f]+$/) return "no-symbols"
		if (f ~ /^_[ZR]/) return "mangled"
		return "named"
	}
	{
		n = $NF; line = $0; sub(/ [0-9.]+$/, "", line)
		k = split(line, fr, ";")
		for (i = 2; i <= k; i++) {
			c = cls(fr[i]); w[c] += n; tot += n
			if (!((c, fr[i]) in seen)) { seen[c, fr[i]] = 1; d[c]++ }
		}
	}
	END {
		for (c in w) printf "  %-12s %6.2f%% of frames (%d distinct)\n", c, 100 * w[c] / tot, d[c]
		printf "  real names (named + kernel + jit): %.2f%%\n", 100 * (w["named"] + w["kernel"] + w["jit"]) / tot
	}' "$1" | sort
}
if [ $# -eq 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "skipping: recording the whole system needs root"; exit 0; }
	f=$(mktemp /tmp/kiln-names-share.XXXXXX)
	"$OUT/kiln" record -d "${KILN_NAMES_SECS:-60}" -o "$f" 2>/dev/null
	set -- "$f"
fi
for f in "$@"; do echo "$f:"; classify "$f"; done
