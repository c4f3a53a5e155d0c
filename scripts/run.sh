#!/bin/sh
# SPDX-License-Identifier: MIT
# `make run`: starts the agent on a local store with the UI at
# http://127.0.0.1:7070. Sampling needs root (or CAP_BPF+CAP_PERFMON).
set -eu
OUT=${OUT:-.output}
DB=${KILN_DB:-kiln.db}
set -- "$OUT/kiln" agent --db "$DB" --listen "${KILN_LISTEN:-127.0.0.1:7070}"
echo "kiln: UI at http://${KILN_LISTEN:-127.0.0.1:7070}/, data in '$DB'; Ctrl-C stops" >&2
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then
	# The agent's web process runs unprivileged: as you, who can reach
	# the store in this directory (nobody may not).
	exec sudo "$@" --user "$(id -un)"
fi
exec "$@"
