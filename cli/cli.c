// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/timeparse.h"
#include <linux/types.h>

#include "bpf/profile.h"
#include "storage/query_params.h"

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

/* "db:PATH?from=..&to=..&filter=k=v" -> store query into 'p', through
 * storage/query_params.h like the HTTP API. */
static int read_db(struct profile *p, const char *src, const char *store,
		   char *err, size_t errlen)
{
	static const char *const allowed[] = {"from", "to", "filter", NULL};
	const char *path = src + 3, *qs = strchr(path, '?');
	struct query_params pp;
	struct query_range r;
	struct store *st = NULL;
	char *spec, name[512];
	int ret;

	spec = qs ? strndup(path, (size_t)(qs - path)) : strdup(path);
	if (!spec) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* 'db:?from=..' queries the --store store. */
	if (!*spec && store) {
		free(spec);
		spec = strdup(store);
		if (!spec) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	if (!*spec) {
		snprintf(err, errlen, "no database path in '%s' (nor --store)",
			 src);
		free(spec);
		return -EINVAL;
	}
	ret = query_params__parse(&pp, qs ? qs + 1 : "", err, errlen);
	if (!ret)
		ret = query_params__only(&pp, allowed, err, errlen);
	if (!ret)
		ret = query_params__range(&pp, "", clock__unix_ns(), NULL, &r,
					  err, errlen);
	if (!ret && r.nr_ops) {
		snprintf(err, errlen,
			 "only key=value filters here (filter=KEY=VALUE)");
		ret = -EINVAL;
	}
	if (ret)
		goto out;
	store__redact(spec, name, sizeof(name));
	st = store__open(&(struct store_opts){.path = spec, .read_only = true});
	if (!st) {
		ret = -errno;
		snprintf(err, errlen, "cannot open store '%.300s': %s", name,
			 strerror(errno));
		goto out;
	}
	ret = store__query(st, &r.q, p);
	if (ret)
		snprintf(err, errlen, "query of '%.300s' failed: %s", name,
			 strerror(-ret));
out:
	store__close(st);
	query_params__release(&pp);
	free(spec);
	return ret;
}

struct profile *cli__load_profile(const char *src, const char *store,
				  const struct read_limits *lim,
				  const char *verb)
{
	struct profile *p = profile__new();
	char err[512];
	int ret;

	if (!p) {
		pr_err("out of memory");
		return NULL;
	}
	if (store && !strncmp(src, "db:", 3))
		ret = read_db(p, src, *store ? store : NULL, err, sizeof(err));
	else
		ret = profile__read_file(p, src, lim, err, sizeof(err));
	if (ret) {
		pr_err("cannot %s '%s': %s", verb ? verb : "read", src, err);
		profile__free(p);
		return NULL;
	}
	return p;
}

int cli__max_upload(const char *arg, size_t *out)
{
	uint64_t v;

	if (timeparse__size(arg, &v) || !v || v > (1ULL << 32)) {
		pr_err("--max-upload must be a size up to 4GB (e.g. 64MB)");
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

int cli__unwind_mode(const char *arg, unsigned int *mode)
{
	if (!strcmp(arg, "cfi")) {
		*mode = KILN_UNWIND_MODE_CFI;
	} else if (!strcmp(arg, "fp")) {
		*mode = KILN_UNWIND_MODE_FP;
	} else {
		pr_err("--unwind must be cfi or fp, not '%s'", arg);
		return -1;
	}
	return 0;
}

int cli__uint(const char *arg, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || !v || v > max || arg[0] == '-')
		return -1;
	*out = v;
	return 0;
}

int cli__frequency(const char *arg, unsigned int *hz)
{
	unsigned long v;

	if (cli__uint(arg, 10000, &v)) {
		pr_err("--frequency must be 1..10000 Hz, not '%s'", arg);
		return -1;
	}
	*hz = (unsigned int)v;
	return 0;
}

int cli__unwind_memory(const char *arg, uint64_t *bytes)
{
	unsigned long v;

	if (cli__uint(arg, 4096, &v)) {
		pr_err("--unwind-memory must be 1..4096 MiB, not '%s'", arg);
		return -1;
	}
	*bytes = (uint64_t)v << 20;
	return 0;
}

int cli__extra_args(int argc, char **argv)
{
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}
