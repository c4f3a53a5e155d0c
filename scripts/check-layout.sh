#!/bin/bash
# SPDX-License-Identifier: MIT
# Checks that each folder includes only the folders above it in DESIGN's
# layout table, so data flows one way:
#   lib -> bpf -> symbolizer -> profile -> profiler -> storage -> web -> cli
# (profile and symbolizer do not see each other; storage and web do not
# see the sampling pipeline). Prints each include that crosses the line the
# wrong way and exits 1 if there is one. Usage: check-layout.sh [TREE]
set -u
cd "${1:-$(dirname "$0")/..}"
declare -A allowed=(
	[lib]="lib"
	[bpf]="bpf"
	[symbolizer]="lib symbolizer"
	[profile]="lib profile"
	[profiler]="lib bpf symbolizer profile profiler"
	[storage]="lib profile storage"
	[web]="lib profile storage web"
	[cli]="lib bpf symbolizer profile profiler storage web cli"
)
bad=0
for dir in "${!allowed[@]}"; do
	[ -d "$dir" ] || continue
	while IFS=: read -r file line inc; do
		target=${inc#*\"}
		target=${target%%/*}
		# Only includes of another layer folder are checked; generated
		# headers (skeleton, protobuf) live in .output/ and have no folder.
		[ -n "${allowed[$target]+x}" ] || continue
		case " ${allowed[$dir]} " in
		*" $target "*) ;;
		*)
			echo "$file:$line: $dir/ must not include $target/ ($inc)"
			bad=1
			;;
		esac
	done < <(grep -rn --include='*.c' --include='*.h' '^#include "[a-z_]*/' "$dir")
done
[ "$bad" -eq 0 ] && echo "layout: every include follows the layer order"
exit "$bad"
