#!/bin/bash
# SPDX-License-Identifier: MIT
# A binary replaced by a copy (same path, same build id, a new inode: a
# reinstall, or a container's copy of the host's file): mmap records name
# it by path and build id, which kiln has seen, so user space writes
# nothing for it; the BPF walk meets an inode it does not know, tells user
# space through 'unwind_unknown', and the new inode is named within a
# poll. The second process's samples must be complete like the first's.
source tests/integration/lib.sh
need_root
SRC=$PWD/tests/workloads
gcc -O2 -fomit-frame-pointer -fPIC -shared -o "$TMP/libunwind_lib.so" "$SRC/unwind_lib.c" || fail "cannot build the library"
gcc -O2 -fomit-frame-pointer -o "$TMP/u_inode" "$SRC/unwind.c" -L"$TMP" -lunwind_lib -Wl,-rpath,"$TMP" -lpthread || fail "cannot build the fixture"
# Started before the recording so that --pid follows its children.
bash -c "sleep 3; '$TMP/u_inode' chain 2 >/dev/null
	cp '$TMP/u_inode' '$TMP/u_inode.new'; mv '$TMP/u_inode.new' '$TMP/u_inode'
	'$TMP/u_inode' chain 3 >/dev/null" &
loop=$!
CLEANUP_PIDS+=("$loop")
"$KILN" record --pid "$loop" --frequency 999 --duration 9 --user-only -o "$TMP/out.folded" 2>"$TMP/err"
cat "$TMP/err"
wait "$loop" || fail "the workload failed"
of() { awk -v re="${1:-.}" 'index($0, "u_inode;") == 1 && $0 ~ re { t += $NF } END { print t + 0 }' "$TMP/out.folded"; }
all=$(of)
done=$(of ';__libc_start_call_main;|;_start;_dl_start;')
echo "u_inode: $done of $all samples complete"
[ "$all" -ge 100 ] || fail "only $all samples of the workload"
# Not loaded until the first poll after the new inode's first sample
# (100 ms), and the first process's first moments: well under 10%.
awk -v d="$done" -v a="$all" 'BEGIN { exit !(d >= 0.9 * a) }' ||
	fail "$done of $all samples complete (< 90%): $(grep -v '__libc_start_call_main' "$TMP/out.folded" | sort -k2 -t' ' -nr | head -5)"
exit 0
