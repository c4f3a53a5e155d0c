/* SPDX-License-Identifier: MIT */
/*
 * Private to storage/: the table of operations behind struct store. Each
 * engine (SQLite in store.c and store_query.c, ClickHouse in clickhouse.c)
 * puts a struct store_base first in its handle and fills one store_ops;
 * store_ops.c turns the public store__* calls of store.h into calls through
 * it, so web/ and cli/ never know which engine they talk to.
 *
 * A new public store__* function needs an entry here and an implementation
 * in every engine (or NULL there: the call then returns -EOPNOTSUPP).
 */
#ifndef KILN_STORE_OPS_H
#define KILN_STORE_OPS_H

#include "storage/store.h"

struct store_ops {
	const char *name; /* "sqlite", "clickhouse": for messages */
	void (*close)(struct store *st);
	int (*write)(struct store *st, const struct profile *p);
	int (*enforce_retention)(struct store *st, uint64_t now_ns);
	int (*query)(struct store *st, const struct store_query *q,
		     struct profile *out);
	int (*timeline)(struct store *st, const struct store_query *q,
			uint64_t step_ns, const char *group_by,
			int (*fn)(const struct store_point *pt, void *ctx),
			void *ctx);
	int (*heatmap)(struct store *st, const struct store_query *q,
		       int (*fn)(uint64_t second_ns, const uint64_t *counts,
				 void *ctx),
		       void *ctx);
	int (*label_names)(struct store *st,
			   int (*fn)(const char *name, void *ctx), void *ctx);
	int (*label_values)(struct store *st, const char *key,
			    const struct store_query *q,
			    int (*fn)(const char *value, void *ctx), void *ctx);
	int (*windows)(struct store *st, const struct store_query *q,
		       int (*fn)(const struct profile *p, void *ctx),
		       void *ctx);
	void (*stats)(struct store *st, struct store_stats *out);
	int (*check)(struct store *st);
	/* push: the agent's spool, the server's window identities */
	int (*instance_id)(struct store *st, uint64_t *id);
	int (*write_spooled)(struct store *st, const struct profile *p,
			     const struct store_window *w, uint64_t *seq);
	int (*spool_next)(struct store *st, uint64_t after,
			  struct store_spooled *out);
	int (*spool_ack)(struct store *st, uint64_t seq, uint64_t now_ns);
	int (*spool_stats)(struct store *st, struct store_spool_stats *out);
	int (*write_pushed)(struct store *st, const struct profile *p,
			    const struct store_push *w);
	int (*write_pushed_batch)(struct store *st,
				  const struct store_pushed *w, size_t n,
				  int *rets);
	int (*agents)(struct store *st,
		      int (*fn)(const struct store_agent *a, void *ctx),
		      void *ctx);
	/* frames named again when debug info arrives */
	int (*frames_of_build_id)(struct store *st, const char *build_id,
				  int64_t after, struct store_frame_ref *out,
				  size_t max);
	int (*rename_frames)(struct store *st, const struct store_frame_name *n,
			     size_t nr);
};

/* The first member of every engine's handle. */
struct store_base {
	const struct store_ops *ops;
};

/* Engine constructors: as store__open, with opts->path already stripped
 * of its scheme (a file path for SQLite, the whole URL for ClickHouse). */
struct store *sqlite__open(const struct store_opts *opts);
struct store *clickhouse__open(const struct store_opts *opts);

#endif
