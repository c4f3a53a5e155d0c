// SPDX-License-Identifier: MIT
/*
 * The public store API: picks the engine from the store URL and forwards
 * every call through the engine's operations table (store_ops.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "storage/store_ops.h"

static const struct store_ops *ops(struct store *st)
{
	return ((const struct store_base *)(const void *)st)->ops;
}

struct store *store__open(const struct store_opts *opts)
{
	struct store_opts o;

	if (!opts || !opts->path || !*opts->path) {
		errno = EINVAL;
		return NULL;
	}
	o = *opts;
	if (!strncmp(o.path, "clickhouse://", 13) ||
	    !strncmp(o.path, "clickhouses://", 14))
		return clickhouse__open(&o);
	if (!strncmp(o.path, "sqlite:", 7))
		o.path += 7;
	/* "sqlite://PATH" reads as a URL too: keep PATH absolute. */
	if (!strncmp(o.path, "//", 2))
		o.path += 1;
	if (!*o.path) {
		pr_err("store URL '%s' names no file", opts->path);
		errno = EINVAL;
		return NULL;
	}
	return sqlite__open(&o);
}

void store__close(struct store *st)
{
	if (st)
		ops(st)->close(st);
}

int store__write(struct store *st, const struct profile *p)
{
	if (!ops(st)->write)
		return -EOPNOTSUPP;
	return ops(st)->write(st, p);
}

int store__enforce_retention(struct store *st, uint64_t now_ns)
{
	if (!ops(st)->enforce_retention)
		return -EOPNOTSUPP;
	return ops(st)->enforce_retention(st, now_ns);
}

int store__query(struct store *st, const struct store_query *q,
		 struct profile *out)
{
	if (!ops(st)->query)
		return -EOPNOTSUPP;
	return ops(st)->query(st, q, out);
}

int store__timeline(struct store *st, const struct store_query *q,
		    uint64_t step_ns, const char *group_by,
		    int (*fn)(const struct store_point *pt, void *ctx),
		    void *ctx)
{
	if (!ops(st)->timeline)
		return -EOPNOTSUPP;
	return ops(st)->timeline(st, q, step_ns, group_by, fn, ctx);
}

int store__heatmap(struct store *st, const struct store_query *q,
		   int (*fn)(uint64_t second_ns, const uint64_t *counts,
			     void *ctx),
		   void *ctx)
{
	if (!ops(st)->heatmap)
		return -EOPNOTSUPP;
	return ops(st)->heatmap(st, q, fn, ctx);
}

int store__label_names(struct store *st, int (*fn)(const char *name, void *ctx),
		       void *ctx)
{
	if (!ops(st)->label_names)
		return -EOPNOTSUPP;
	return ops(st)->label_names(st, fn, ctx);
}

int store__label_values(struct store *st, const char *key,
			const struct store_query *q,
			int (*fn)(const char *value, void *ctx), void *ctx)
{
	if (!ops(st)->label_values)
		return -EOPNOTSUPP;
	return ops(st)->label_values(st, key, q, fn, ctx);
}

int store__windows(struct store *st, const struct store_query *q,
		   int (*fn)(const struct profile *p, void *ctx), void *ctx)
{
	if (!ops(st)->windows)
		return -EOPNOTSUPP;
	return ops(st)->windows(st, q, fn, ctx);
}

void store__redact(const char *url, char *buf, size_t size)
{
	const char *scheme = strstr(url, "://"), *at, *colon, *end;

	if (!size)
		return;
	snprintf(buf, size, "%s", url);
	if (!scheme)
		return;
	end = scheme + 3 + strcspn(scheme + 3, "/?#");
	/* The last '@' of the authority ends the credentials. */
	at = NULL;
	for (const char *p = scheme + 3; p < end; p++)
		if (*p == '@')
			at = p;
	colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
	if (colon)
		snprintf(buf, size, "%.*s:***%s", (int)(colon - url), url, at);
}

void store__stats(struct store *st, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (ops(st)->stats)
		ops(st)->stats(st, out);
}

int store__check(struct store *st)
{
	if (!ops(st)->check)
		return -EOPNOTSUPP;
	return ops(st)->check(st);
}

int store__instance_id(struct store *st, uint64_t *id)
{
	if (!ops(st)->instance_id)
		return -EOPNOTSUPP;
	return ops(st)->instance_id(st, id);
}

int store__write_spooled(struct store *st, const struct profile *p,
			 const struct store_window *w, uint64_t *seq)
{
	if (!ops(st)->write_spooled)
		return -EOPNOTSUPP;
	return ops(st)->write_spooled(st, p, w, seq);
}

int store__spool_next(struct store *st, uint64_t after,
		      struct store_spooled *out)
{
	if (!ops(st)->spool_next)
		return -EOPNOTSUPP;
	return ops(st)->spool_next(st, after, out);
}

int store__spool_ack(struct store *st, uint64_t seq, uint64_t now_ns)
{
	if (!ops(st)->spool_ack)
		return -EOPNOTSUPP;
	return ops(st)->spool_ack(st, seq, now_ns);
}

int store__spool_stats(struct store *st, struct store_spool_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!ops(st)->spool_stats)
		return -EOPNOTSUPP;
	return ops(st)->spool_stats(st, out);
}

int store__write_pushed(struct store *st, const struct profile *p,
			const struct store_push *w)
{
	if (!ops(st)->write_pushed)
		return -EOPNOTSUPP;
	return ops(st)->write_pushed(st, p, w);
}

int store__write_pushed_batch(struct store *st, const struct store_pushed *w,
			      size_t n, int *rets)
{
	if (!ops(st)->write_pushed_batch)
		return -EOPNOTSUPP;
	return ops(st)->write_pushed_batch(st, w, n, rets);
}

int store__agents(struct store *st,
		  int (*fn)(const struct store_agent *a, void *ctx), void *ctx)
{
	if (!ops(st)->agents)
		return -EOPNOTSUPP;
	return ops(st)->agents(st, fn, ctx);
}

int store__frames_of_build_id(struct store *st, const char *build_id,
			      int64_t after, struct store_frame_ref *out,
			      size_t max)
{
	if (!ops(st)->frames_of_build_id)
		return -EOPNOTSUPP;
	return ops(st)->frames_of_build_id(st, build_id, after, out, max);
}

int store__rename_frames(struct store *st, const struct store_frame_name *n,
			 size_t nr)
{
	if (!ops(st)->rename_frames)
		return -EOPNOTSUPP;
	return ops(st)->rename_frames(st, n, nr);
}
