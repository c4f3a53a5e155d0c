#!/bin/bash
# SPDX-License-Identifier: MIT
# The layout is checked, not a convention: every include follows DESIGN's
# layer order, the check catches an include that goes the wrong way, and
# every C file is formatted with the repository's .clang-format.
set -eu
cd "$(dirname "$0")/../.."

scripts/check-layout.sh

# The check must be able to fail: a copy of the tree where lib/ reaches up
# into web/ is refused, with the offending line named.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r lib profile web "$tmp"/
echo '#include "web/server.h"' >>"$tmp/lib/log.c"
if out=$(scripts/check-layout.sh "$tmp"); then
	echo "check-layout accepted lib/ including web/" >&2
	exit 1
fi
grep -q 'lib/log.c:.*lib/ must not include web/' <<<"$out" || {
	echo "check-layout did not name the bad include: $out" >&2
	exit 1
}

# Formatting: clang-format reports any file that differs from its output.
files=$(git ls-files '*.c' '*.h')
# shellcheck disable=SC2086
if ! clang-format --dry-run --Werror $files 2>"$tmp/fmt"; then
	grep -m 20 warning "$tmp/fmt" >&2
	echo "run: clang-format -i \$(git ls-files '*.c' '*.h')" >&2
	exit 1
fi
echo "layout and formatting ok"
