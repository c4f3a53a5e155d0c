#!/bin/bash
# SPDX-License-Identifier: MIT
# Helpers shared by the benchmark scripts (source it).

# listen_port OUT PID [SECONDS]: the port a `kiln server` started with
# --listen ADDR:0 and stdout to OUT reports, once it does. Fails when PID
# exits first or after SECONDS (default 60).
listen_port() {
	local out=$1 pid=$2 tries=$((${3:-60} * 10)) port
	for _ in $(seq "$tries"); do
		port=$(sed -n 's|^listening on http://[^:]*:\([0-9]*\)/$|\1|p' "$out" 2>/dev/null)
		[ -n "$port" ] && { echo "$port"; return 0; }
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
