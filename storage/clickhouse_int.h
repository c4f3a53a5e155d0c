/* SPDX-License-Identifier: MIT */
/*
 * Private to storage/: the ClickHouse engine's handle, shared by the
 * connection, schema and write side (clickhouse.c) and the read side
 * (clickhouse_query.c), and the RowBinary codec both speak.
 *
 * Everything ClickHouse sends back is untrusted input: responses are
 * bounded in size and time, and every RowBinary read is bounds-checked.
 */
#ifndef KILN_CLICKHOUSE_INT_H
#define KILN_CLICKHOUSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/idxset.h"
#include "storage/store_ops.h"

#define CH_SCHEMA_VERSION 4
#define CH_SLOT_NS 20000000ULL /* 20 ms */
#define CH_SLOTS_PER_S 50
#define CH_MAX_RESPONSE (512u << 20) /* bytes of one response */
#define CH_MAX_ARRAY 65536	     /* elements of one array value */
#define CH_MAX_STRING (1u << 20)     /* bytes of one string value */

/* A growable byte buffer. */
struct chbuf {
	uint8_t *p;
	size_t len, cap;
};

void chbuf__put(struct chbuf *b, const void *data, size_t n);
void chbuf__printf(struct chbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends 's' as a quoted ClickHouse string literal. */
void chbuf__quote(struct chbuf *b, const char *s);
void chbuf__release(struct chbuf *b);

static inline void chbuf__u8(struct chbuf *b, uint8_t v)
{
	chbuf__put(b, &v, 1);
}
static inline void chbuf__u32(struct chbuf *b, uint32_t v)
{
	chbuf__put(b, &v, 4); /* RowBinary is little-endian, as is x86 */
}
static inline void chbuf__u64(struct chbuf *b, uint64_t v)
{
	chbuf__put(b, &v, 8);
}
void chbuf__varint(struct chbuf *b, uint64_t v);
void chbuf__str(struct chbuf *b, const char *s); /* RowBinary String */

/* A RowBinary reader over a response: any read past the end, or a length
 * above the limits, sets 'bad' and returns zeroes from then on. */
struct rbin {
	const uint8_t *p, *end;
	bool bad;
};

static inline bool rbin__more(const struct rbin *r)
{
	return !r->bad && r->p < r->end;
}
uint8_t rbin__u8(struct rbin *r);
uint32_t rbin__u32(struct rbin *r);
uint64_t rbin__u64(struct rbin *r);
uint64_t rbin__varint(struct rbin *r);
/* A String: points into the response (not NUL-terminated). */
const char *rbin__str(struct rbin *r, size_t *len);

/* Reader's dictionary: content-addressed ids, so entries never go stale. */
struct ch_frame {
	uint64_t id;
	char *name, *file, *module;
	uint32_t line, kind;
	uint64_t addr;
	char *system_name, *build_id; /* "" when none */
	uint64_t file_offset;
};

struct ch_stack {
	uint64_t id;
	uint32_t off, len; /* into ch_dict.stack_frames */
};

struct ch_series {
	uint64_t id;
	char **kv; /* key, value, key, value ... */
	uint32_t n;
};

struct ch_dict {
	struct ch_frame *frames;
	size_t nr_frames, cap_frames;
	struct idxset frame_set;
	struct ch_stack *stacks;
	size_t nr_stacks, cap_stacks;
	struct idxset stack_set;
	uint64_t *stack_frames;
	size_t nr_stack_frames, cap_stack_frames;
	struct ch_series *series;
	size_t nr_series, cap_series;
	struct idxset series_set;
};

struct ch_store {
	struct store_base base; /* first: see store_ops.h */
	void *curl;		/* CURL *, kept private to clickhouse.c */
	char *endpoint;		/* http(s)://host:port/ */
	char *db;		/* database name (checked identifier) */
	char *user, *pass;
	char *name; /* the URL without its password, for messages */
	bool read_only;
	uint32_t schema; /* the database's version (2: frames without v3's) */
	uint64_t retention_ns, max_size;
	long timeout_ms;
	struct store_stats stats;
	int last_err; /* so a streak of one error logs once */
	/* writer: ids known to be in the database, and series' stored hour */
	struct idxset w_frames, w_stacks, w_series;
	uint64_t *w_ids; /* frame, stack and series ids by set position */
	uint32_t *w_hour;
	size_t w_nr, w_cap;
	uint64_t period_ns;   /* as written to meta */
	uint64_t newest_hour; /* of the windows this handle wrote */
	uint64_t prev_newest_hour;
	double last_roll; /* monotonic seconds of the last rollup pass */
	/* The budgets of the query being run (store_query), 0: none. */
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	size_t max_groups;
	struct ch_dict rd;
	struct chbuf resp;
};

static inline struct ch_store *ch_of(struct store *st)
{
	return (struct ch_store *)(void *)st;
}

/*
 * Sends one statement ('sql', with 'body' appended after it when 'body' is
 * not NULL: an INSERT's RowBinary rows). The response lands in c->resp.
 * Returns 0 or -errno: -EAGAIN when ClickHouse cannot be reached, timed out
 * or is overloaded (the caller may retry later), -EACCES for refused
 * credentials, -ENOENT for a missing database or table, -ENOSPC for a full
 * disk, -EFBIG for a response above CH_MAX_RESPONSE, -EIO otherwise. The
 * first error of a streak is logged with 'what'.
 */
int ch__request(struct ch_store *c, const char *sql, const struct chbuf *body,
		const char *what);

/*
 * As ch__request, with 'ids' sent as the external table "ids" (one UInt64
 * column "id"), for "... WHERE id IN ids": no list in the SQL to parse.
 */
int ch__request_ids(struct ch_store *c, const char *sql, const uint64_t *ids,
		    size_t n, const char *what);

/* The hours of [from, to) whose rollup is usable, with its attempt. */
struct ch_rolled {
	uint32_t *hours;
	uint64_t *attempts;
	size_t n;
};

int ch__rolled(struct ch_store *c, uint64_t from_ns, uint64_t to_ns,
	       struct ch_rolled *out);
void ch__rolled_release(struct ch_rolled *r);

/* A time range as conditions on (second, slot), appended to 'b'. */
void ch__range_sql(struct chbuf *b, uint64_t from_ns, uint64_t to_ns);
/*
 * Appends " AND series IN (...)" for the query's filters, or nothing
 * without filters. -EINVAL for a label key that no series has and that is
 * not one kiln always knows.
 */
int ch__filter_sql(struct ch_store *c, struct chbuf *b,
		   const struct store_query *q);
/* -EINVAL for a label key unknown to the store (see ch__filter_sql). */
int ch__check_key(struct ch_store *c, const char *key);

/* Loads the dictionary entries for these stack ids (and their frames). */
int ch__dict_load_stacks(struct ch_store *c, const uint64_t *ids, size_t n);
int ch__dict_load_series(struct ch_store *c, const uint64_t *ids, size_t n);
void ch__dict_release(struct ch_dict *d);
const struct ch_stack *ch__dict_stack(const struct ch_dict *d, uint64_t id);
const struct ch_frame *ch__dict_frame(const struct ch_dict *d, uint64_t id);
const struct ch_series *ch__dict_series(const struct ch_dict *d, uint64_t id);

/* The read side, behind clickhouse_ops. */
int ch__query(struct store *st, const struct store_query *q,
	      struct profile *out);
int ch__timeline(struct store *st, const struct store_query *q,
		 uint64_t step_ns, const char *group_by,
		 int (*fn)(const struct store_point *pt, void *ctx), void *ctx);
int ch__heatmap(struct store *st, const struct store_query *q,
		int (*fn)(uint64_t second_ns, const uint64_t *counts,
			  void *ctx),
		void *ctx);
int ch__label_names(struct store *st, int (*fn)(const char *name, void *ctx),
		    void *ctx);
int ch__label_values(struct store *st, const char *key,
		     const struct store_query *q,
		     int (*fn)(const char *value, void *ctx), void *ctx);

#endif
