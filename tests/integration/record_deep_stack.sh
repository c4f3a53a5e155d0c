#!/bin/bash
# SPDX-License-Identifier: MIT
# The sample record is sized to its stacks (bpf/profile.h: a head, then the
# kernel's frames, then the user's). Its largest case must arrive whole: a
# 200-deep recursion sampled in user mode and inside read() (kernel frames
# on top), with the CFI walk and with the frame-pointer walk. Every sample
# of it must carry exactly 127 user frames, all of this program (so the
# user frames were written after the kernel's and sent whole), kernel
# samples must be among them, and no record may have been dropped for
# lengths that disagree with its size.
source tests/integration/lib.sh
need_root
gcc -O2 -fno-omit-frame-pointer -fno-optimize-sibling-calls \
	-o "$TMP/deep_stack" tests/workloads/deep_stack.c || fail "cannot build the workload"

for mode in cfi fp; do
	"$TMP/deep_stack" 9 >/dev/null &
	pid=$!
	CLEANUP_PIDS+=("$pid")
	sleep 0.5
	"$KILN" record --pid "$pid" --unwind "$mode" --frequency 499 --duration 4 \
		-o "$TMP/$mode.folded" 2>"$TMP/$mode.err" || fail "$mode: kiln record failed: $(cat "$TMP/$mode.err")"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	cat "$TMP/$mode.err"
	grep -q 'lost samples: [0-9]* (ring buffer full), 0 (malformed record)' "$TMP/$mode.err" ||
		fail "$mode: records were dropped as malformed: $(grep 'lost samples' "$TMP/$mode.err")"
	# Per sample: user frames (not _[k], not a [placeholder]), kernel
	# frames, and how many of the user frames are 'deep'.
	read -r n whole kern kwhole < <(awk '{
		c = $NF; line = $0; sub(/ [0-9]+$/, "", line); k = split(line, f, ";")
		u = 0; kk = 0; d = 0
		for (i = 2; i <= k; i++) {
			if (f[i] ~ /_\[k\]$/) kk++
			else if (f[i] !~ /^\[/) u++
			if (f[i] == "deep") d++
		}
		ok = f[1] == "deep_stack" && f[2] == "[truncated]" && u == 127 && d >= 124
		if (!ok && bad++ < 3) print "not whole: user " u ", deep " d ": " substr(line, 1, 200) > "/dev/stderr"
		n += c; if (ok) whole += c
		if (kk > 0) { kern += c; if (ok) kwhole += c }
	} END { print n + 0, whole + 0, kern + 0, kwhole + 0 }' "$TMP/$mode.folded")
	echo "$mode: $n samples, $whole with 127 user frames of deep_stack; $kern with kernel frames, $kwhole of them whole"
	[ "$n" -ge 100 ] || fail "$mode: expected >= 100 samples, got $n"
	[ "$whole" -eq "$n" ] || fail "$mode: $((n - whole)) of $n samples did not arrive with their 127 user frames"
	# The kernel clears read()'s megabytes: a good share of samples.
	[ "$kern" -ge $((n / 10)) ] || fail "$mode: only $kern of $n samples have kernel frames"
done
exit 0
