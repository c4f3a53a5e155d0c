#!/bin/bash
# SPDX-License-Identifier: MIT
# The container label comes from the cgroup the kernel reports at sample
# time: a long-running process and a stream of short ones (gone before
# their samples are read, so /proc/PID/cgroup could not name them) inside
# a cgroup named like a Docker container's carry its 12-digit id, and a
# process outside it carries none.
source tests/integration/lib.sh
need_root
W=$(build_workload cpu_split)
ID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SHORT=${ID:0:12}
NAME=kc${RANDOM}in
OUTSIDE=kc${RANDOM}out
BRIEF=kc${RANDOM}sh
cp "$W" "$TMP/$NAME"
cp "$W" "$TMP/$BRIEF"
cp "$W" "$TMP/$OUTSIDE"
# One cgroup of that name in every mounted hierarchy (v1 and v2): kiln
# reads ids from one of them, whichever this host uses.
CGROUPS=()
while read -r _ point type _; do
	case $type in cgroup | cgroup2) ;; *) continue ;; esac
	d=$point/kiln-test-docker-$ID.scope
	mkdir "$d" 2>/dev/null || continue
	CGROUPS+=("$d")
	# cpuset (v1) takes no task before it has CPUs and memory nodes.
	for f in cpuset.cpus cpuset.mems; do
		[ -e "$d/$f" ] && cat "$point/$f" >"$d/$f" 2>/dev/null || true
	done
done </proc/self/mounts
[ ${#CGROUPS[@]} -gt 0 ] || skip "no writable cgroup hierarchy"
cleanup_cgroups() {
	cleanup
	for d in "${CGROUPS[@]}"; do
		for _ in $(seq 50); do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
	done
}
trap cleanup_cgroups EXIT
enter="for d in ${CGROUPS[*]}; do echo \$\$ >\$d/cgroup.procs || exit 1; done"
DB=$TMP/kiln.db
start_agent "$TMP/agent.log" --db "$DB" --no-web --window 1s --frequency 299
agent_sampling "$TMP/agent.log"
sh -c "$enter; exec '$TMP/$NAME' 3" >/dev/null &
LONG=$!
CLEANUP_PIDS+=("$LONG")
# Short processes: 40 runs of 50 ms each.
sh -c "$enter; for i in \$(seq 40); do '$TMP/$BRIEF' 0.05; done" >/dev/null &
LOOP=$!
CLEANUP_PIDS+=("$LOOP")
"$TMP/$OUTSIDE" 3 >/dev/null
wait "$LONG" || fail "the process in the container failed"
wait "$LOOP" || fail "the short processes in the container failed"
kill -TERM "$AGENT"
wait "$AGENT" || fail "the agent must exit 0 on SIGTERM: $(tail -3 "$TMP/agent.log")"
q() { "$KILN" query --db "$DB" --from -5m --to now "$@"; }
# Folded stacks start with the process name.
samples() { { q "$@" || fail "query $* failed"; } | awk '{ t += $NF } END { print t + 0 }'; }
in_long=$(samples --filter "container=$SHORT" --filter "comm=$NAME")
all_long=$(samples --filter "comm=$NAME")
in_short=$(samples --filter "container=$SHORT" --filter "comm=$BRIEF")
all_short=$(samples --filter "comm=$BRIEF")
in_out=$(samples --filter "container=$SHORT" --filter "comm=$OUTSIDE")
all_out=$(samples --filter "comm=$OUTSIDE")
echo "container $SHORT: long-running $in_long of $all_long samples, short $in_short of $all_short, outside $in_out of $all_out"
[ "$all_long" -ge 30 ] || fail "too few samples of the long-running process: $all_long"
[ "$all_short" -ge 20 ] || fail "too few samples of the short processes: $all_short"
[ "$all_out" -ge 30 ] || fail "too few samples of the process outside: $all_out"
[ $((in_long * 100)) -ge $((all_long * 95)) ] || fail "only $in_long of $all_long samples in the container are labelled"
[ $((in_short * 100)) -ge $((all_short * 95)) ] || fail "only $in_short of $all_short samples of short processes are labelled"
[ "$in_out" = 0 ] || fail "$in_out samples outside the container carry its label"
exit 0
