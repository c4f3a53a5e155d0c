#!/bin/sh
# SPDX-License-Identifier: MIT
# `make run`: starts the agent on a local store with the UI at
# http://127.0.0.1:7070. Sampling needs root (or CAP_BPF+CAP_PERFMON).
set -eu
OUT=${OUT:-.output}
DB=${KILN_DB:-kiln.db}
# As root, the agent's web process runs as 'kiln' (or 'nobody'), which must
# reach the store: a checkout under /root cannot be reached, so the store
# goes to /var/lib/kiln there instead of failing at start.
if [ "$(id -u)" = 0 ] && [ -z "${KILN_DB:-}" ]; then
	web_user=nobody
	id -u kiln >/dev/null 2>&1 && web_user=kiln
	if ! setpriv --reuid "$web_user" --regid "$(id -g "$web_user")" \
		--clear-groups test -x "$PWD" 2>/dev/null; then
		mkdir -p /var/lib/kiln
		chmod 755 /var/lib/kiln
		DB=/var/lib/kiln/kiln.db
		echo "kiln: '$PWD' is out of reach of the web process's user '$web_user': the store goes to '$DB'" >&2
	fi
fi
set -- "$OUT/kiln" agent --db "$DB" --listen "${KILN_LISTEN:-127.0.0.1:7070}"
echo "kiln: UI at http://${KILN_LISTEN:-127.0.0.1:7070}/, data in '$DB'; Ctrl-C stops" >&2
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then
	# The agent's web process runs unprivileged: as you, who can reach
	# the store in this directory (nobody may not).
	exec sudo "$@" --user "$(id -un)"
fi
exec "$@"
