# SPDX-License-Identifier: MIT
# Shared helpers for integration tests (sourced). Each test is one script:
# exit 0 passes, 77 skips (last line says why), anything else fails.
set -euo pipefail
OUT=${OUT:-.output}
KILN=$PWD/$OUT/kiln
TMP=$(mktemp -d /tmp/kiln-test.XXXXXX)
# The agent's web process runs as an unprivileged user: it must reach
# stores kept here.
chmod 755 "$TMP"
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

# start_agent LOG ARGS... -> kiln agent ARGS in the background, stderr to
# LOG, its pid in AGENT (killed at exit); waits up to 30 s for it to sample
# every CPU, failing at once if it dies.
start_agent() {
	local log=$1; shift
	"$KILN" agent "$@" 2>"$log" &
	AGENT=$!
	CLEANUP_PIDS+=("$AGENT")
	for _ in $(seq 300); do
		grep -qs 'sampling every CPU' "$log" && break
		kill -0 "$AGENT" 2>/dev/null || fail "the agent died: $(cat "$log")"
		sleep 0.1
	done
}

# agent_sampling LOG: fails unless the agent logged that it samples.
agent_sampling() {
	grep -q 'sampling every CPU' "$1" || fail "the agent did not start: $(cat "$1")"
}

# agent_port LOG -> PORT, the agent's UI port on 127.0.0.1 from its log.
agent_port() {
	PORT=$(sed -n 's|.*serving the UI at http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$1")
	[ -n "$PORT" ] || fail "the agent did not start: $(cat "$1")"
}

# wait_server PID OUT [ERR] [TRIES] -> PORT, from the 'listening on
# http(s)://HOST:PORT/' line kiln server writes to OUT; waits TRIES x 0.05 s
# (default 100) and fails, printing ERR (default OUT.err), if PID exits
# first or the line never comes.
wait_server() {
	local pid=$1 out=$2 err=${3:-$2.err} tries=${4:-100}
	for _ in $(seq "$tries"); do
		# OUT may not exist yet: the server's redirection runs in its child.
		PORT=$(sed -n 's|^listening on https*://[^:]*:\([0-9]*\)/$|\1|p' "$out" 2>/dev/null || true)
		[ -n "$PORT" ] && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$err"; fail "server exited"; }
		sleep 0.05
	done
	cat "$err"
	fail "server did not say where it listens"
}

# start_server OUT ARGS... -> `kiln server ARGS...` on 127.0.0.1, a port of
# its choosing, in the background: PORT, SERVER_PID (killed at exit),
# output in OUT and OUT.err. Fails if it exits or never says where it
# listens (within SERVER_TRIES x 0.05 s, default 100: a ThreadSanitizer
# build wants more).
start_server() {
	local out=$1; shift
	: >"$out" # a port left in OUT by an earlier server is not this one's
	"$KILN" server "$@" --listen 127.0.0.1:0 >"$out" 2>"$out.err" &
	SERVER_PID=$!
	CLEANUP_PIDS+=("$SERVER_PID")
	wait_server "$SERVER_PID" "$out" "$out.err" "${SERVER_TRIES:-100}"
}

# start_clickhouse [HTTP_PORT] -> a real clickhouse-server on loopback with
# its data in $TMP/ch (kept across restarts): sets CH_PORT (HTTP), CH_PID and
# CH_URL (clickhouse://kiln:secret@127.0.0.1:PORT, add /DB). Port 0 (the
# default) lets the server pick; a restart passes the old port back.
# CH_SETTINGS: XML of more settings for the users' profile.
start_clickhouse() {
	local want=${1:-0} ch=$TMP/ch bin
	bin=$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)
	if [ ! -x "$bin" ]; then
		[ "${CI:-}" = true ] && fail "clickhouse-server is missing (scripts/deps.sh installs it)"
		skip "clickhouse-server is missing (scripts/deps.sh installs it)"
	fi
	mkdir -p "$ch/data" "$ch/tmp"
	cat >"$ch/users.xml" <<-XML
	<?xml version="1.0"?>
	<yandex>
	  <profiles><default><max_memory_usage>1000000000</max_memory_usage>${CH_SETTINGS:-}</default></profiles>
	  <users>
	    <default><password></password><networks><ip>127.0.0.1</ip></networks>
	      <profile>default</profile><quota>default</quota></default>
	    <kiln><password>secret</password><networks><ip>127.0.0.1</ip></networks>
	      <profile>default</profile><quota>default</quota></kiln>
	  </users>
	  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
	    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
	  </interval></default></quotas>
	</yandex>
	XML
	cat >"$ch/config.xml" <<-XML
	<?xml version="1.0"?>
	<yandex>
	  <logger><level>warning</level><console>1</console></logger>
	  <http_port>$want</http_port>
	  <tcp_port>0</tcp_port>
	  <listen_host>127.0.0.1</listen_host>
	  <path>$ch/data/</path>
	  <tmp_path>$ch/tmp/</tmp_path>
	  <users_config>$ch/users.xml</users_config>
	  <default_profile>default</default_profile>
	  <default_database>default</default_database>
	  <mark_cache_size>67108864</mark_cache_size>
	</yandex>
	XML
	"$bin" --config-file="$ch/config.xml" >>"$ch/log" 2>&1 &
	CH_PID=$!
	CLEANUP_PIDS+=($CH_PID)
	CH_PORT=
	for _ in $(seq 300); do
		kill -0 "$CH_PID" 2>/dev/null || { tail -5 "$ch/log"; fail "clickhouse-server exited"; }
		for port in $(ss -ltnpH 2>/dev/null | grep "pid=$CH_PID," | awk '{ sub(/.*:/, "", $4); print $4 }'); do
			# The TCP (native) port answers /ping with a complaint.
			if [ "$(curl -s -m 1 "http://127.0.0.1:$port/ping")" = "Ok." ]; then
				CH_PORT=$port
				break 2
			fi
		done
		sleep 0.1
	done
	[ -n "$CH_PORT" ] || fail "clickhouse-server did not start in 30 s: $(tail -3 "$ch/log")"
	CH_URL=clickhouse://kiln:secret@127.0.0.1:$CH_PORT
}

# stop_clickhouse [SIGNAL]
stop_clickhouse() {
	kill -"${1:-TERM}" "$CH_PID" 2>/dev/null || true
	wait "$CH_PID" 2>/dev/null || true
}
