// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile sig_atomic_t cli__stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	cli__stop = 1;
}

void cli__catch_stop_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static uint64_t env_u64(const char *name, uint64_t max)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return 0;
	v = strtoull(s, &end, 10);
	return *end || v > max ? 0 : (uint64_t)v;
}

void cli__debuginfod_opts(const char *url, const char *cache,
			  struct dbgd_opts *out, char *buf, size_t size)
{
	const char *env = getenv("DEBUGINFOD_URLS"), *home;

	*out = (struct dbgd_opts){0};
	out->urls = url && *url ? url : env && *env ? env : NULL;
	if (!out->urls)
		return;
	if (cache && *cache)
		snprintf(buf, size, "%s", cache);
	else if ((home = getenv("KILN_DEBUGINFOD_CACHE")) && *home)
		snprintf(buf, size, "%s", home);
	else if ((home = getenv("XDG_CACHE_HOME")) && *home)
		snprintf(buf, size, "%s/kiln/debuginfod", home);
	else if ((home = getenv("HOME")) && *home)
		snprintf(buf, size, "%s/.cache/kiln/debuginfod", home);
	else
		snprintf(buf, size, "/var/cache/kiln/debuginfod");
	out->cache_dir = buf;
	out->timeout_ms =
	    (unsigned)env_u64("KILN_DEBUGINFOD_TIMEOUT_MS", 3600000);
	out->max_bytes = env_u64("KILN_DEBUGINFOD_MAX_BYTES", 1ULL << 40);
	out->cache_bytes = env_u64("KILN_DEBUGINFOD_CACHE_BYTES", 1ULL << 50);
	out->retry_s = (unsigned)env_u64("KILN_DEBUGINFOD_RETRY_S", 86400);
	out->miss_s = (unsigned)env_u64("KILN_DEBUGINFOD_MISS_S", 86400);
}
