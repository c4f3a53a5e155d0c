#!/bin/bash
# SPDX-License-Identifier: MIT
# Code without symbols groups by function: a C program stripped of every
# symbol is recorded, and every sample inside one function must carry one
# frame name, module + the function's start taken from .eh_frame, equal to
# the address nm gives for it in the unstripped copy. No frame name may
# hold an absolute address ([unknown]+0x7f..., [anon]+0x...).
source "$(dirname "$0")/lib.sh"
need_root

gcc -O1 -fno-omit-frame-pointer -o "$TMP/two_funcs.full" tests/workloads/two_funcs.c ||
	fail "cannot build the workload"
strip --strip-all -o "$TMP/two_funcs" "$TMP/two_funcs.full"
! nm "$TMP/two_funcs" 2>/dev/null | grep -q hot_one || fail "strip left symbols"
one=$(nm "$TMP/two_funcs.full" | awk '$3 == "hot_one" { sub(/^0+/, "", $1); print $1 }')
two=$(nm "$TMP/two_funcs.full" | awk '$3 == "hot_two" { sub(/^0+/, "", $1); print $1 }')

"$TMP/two_funcs" 4 &
CLEANUP_PIDS+=($!)
wpid=$!
"$KILN" record -p "$wpid" -d 2 -o "$TMP/rec.folded" 2>"$TMP/rec.err" || { cat "$TMP/rec.err"; fail "record failed"; }
wait "$wpid" 2>/dev/null || true

# Leaf frames in the program itself.
awk '{ n = $NF; $NF = ""; sub(/ $/, ""); k = split($0, f, ";"); print f[k], n }' "$TMP/rec.folded" |
	grep '^two_funcs+0x' >"$TMP/leaves" || { cat "$TMP/rec.folded"; fail "no leaf frames in two_funcs"; }
awk '{ c[$1] += $2 } END { for (k in c) print k, c[k] }' "$TMP/leaves" | sort -k2 -n -r >"$TMP/byname"
cat "$TMP/byname"
total=$(awk '{ t += $2 } END { print t }' "$TMP/byname")
in_one=$(awk -v n="two_funcs+0x$one" '$1 == n { print $2 }' "$TMP/byname")
in_two=$(awk -v n="two_funcs+0x$two" '$1 == n { print $2 }' "$TMP/byname")
[ -n "$in_one" ] && [ -n "$in_two" ] || fail "want frames two_funcs+0x$one and two_funcs+0x$two"
# Nearly every sample is in one of the two functions (main's loop and
# clock_gettime's caller frames are a sliver).
[ $(( (in_one + in_two) * 100 )) -ge $(( total * 95 )) ] ||
	fail "only $((in_one + in_two)) of $total leaf samples under the two function names"
[ "$(wc -l <"$TMP/byname")" -le 3 ] || fail "more leaf names than functions"
! grep -q '\[unknown\]+0x\|\[anon\]+0x' "$TMP/rec.folded" || fail "absolute addresses in frame names"
echo "stripped: $in_one + $in_two of $total samples under two_funcs+0x$one and two_funcs+0x$two"
