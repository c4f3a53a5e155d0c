#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what kiln needs to build, run and test from Debian's packages,
# and only what is missing, so `make run` and `make test` work on a fresh
# Debian 12 machine. Set KILN_NO_DEPS=1 to skip.
set -eu
[ "${KILN_NO_DEPS:-0}" = 1 ] && exit 0

# libssl-dev: Debian's civetweb loads OpenSSL at run time by the name
# libssl.so (the dev symlink), so `kiln server --tls-cert` needs it.
# libcurl4-openssl-dev: the agent's push client. iproute2: the cluster
# test's network namespaces; openssl: its self-signed certificates.
pkgs="make gcc clang llvm bpftool pkg-config libbpf-dev libelf-dev libdw-dev
zlib1g-dev libsqlite3-dev sqlite3 libcivetweb-dev libcmocka-dev libpcre2-dev
protobuf-c-compiler libprotobuf-c-dev elfutils golang-go chromium
hyperfine linux-perf libclang-rt-14-dev util-linux procps libc6-dbg
clang-format libcurl4-openssl-dev clickhouse-server curl iproute2 libiberty-dev g++
debuginfod libssl-dev openssl libxml2-utils bc python3"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
# Node.js may come from elsewhere than Debian (it bundles npm then): check
# the commands, not the packages.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
	echo "kiln: installing missing packages:$missing" >&2
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
fi

# Browser tests drive Debian's chromium with playwright-core (npm, test only).
if [ -f tests/browser/package.json ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
	echo "kiln: installing browser test tooling (npm ci in tests/browser)" >&2
	(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
exit 0
