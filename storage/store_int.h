/* SPDX-License-Identifier: MIT */
/*
 * Private to storage/: the store handle shared by the ingest side
 * (store.c) and the read side (store_query.c), and the blob codec.
 */
#ifndef KILN_STORE_INT_H
#define KILN_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"
#include "storage/store_ops.h"

#define STORE_VERSION 6

#define NS_PER_SEC 1000000000ULL
#define SLOT_NS (20 * 1000000ULL) /* heat-map slot: 20 ms */
#define RAW_SLOTS 500		  /* slots per 10 s bucket */

/*
 * Fleet series (v6): every sample written is also summed into the series
 * {comm: its comm, FLEET_KEY: FLEET_COMM}, at bucket resolution (slot 0 in
 * samples_10s, then rolled up like any series). A merged query that needs
 * the process name at most (a flame graph of every host) reads those few
 * series instead of every host's. Readers never show them as series; they
 * are not in series_labels. Data older than meta 'fleet_since' (unix
 * seconds, an hour boundary: the first version 6 write) has none.
 */
#define FLEET_KEY "__kiln_fleet"
#define FLEET_COMM "comm"
/*
 * Fleet series' 10 s rows of buckets in meta [fleet_slots_from,
 * fleet_slots_to) (10 s bucket indexes) hold the 20 ms slots of their
 * samples: the minute rollup, which reads every row of those buckets once
 * all hosts' windows are in, writes them again summed per (stack, slot),
 * and later windows for them add their slots. A range that cuts such a
 * bucket reads a few fleet rows instead of every host's. Stores without
 * the keys have none (both 0).
 */
#define FLEET_SLOTS_FROM "fleet_slots_from"
#define FLEET_SLOTS_TO "fleet_slots_to"

/* Levels of sample tables, finest first. */
enum level { LVL_10S = 0, LVL_1M, LVL_1H, NR_LEVELS };

extern const uint64_t level_width_s[NR_LEVELS];
extern const char *const level_table[NR_LEVELS];

enum stmt_id {
	ST_STR_GET,
	ST_STR_ADD,
	ST_MAP_GET,
	ST_MAP_ADD,
	ST_FUNC_GET,
	ST_FUNC_ADD,
	ST_FRAME_GET,
	ST_FRAME_ADD,
	ST_STACK_GET,
	ST_STACK_ADD,
	/* frames named again (debug info arrived) */
	ST_FRAMES_OF_BUILD,
	ST_FRAME_NAME_CUR,
	ST_FRAME_NAME_SET,
	ST_SERIES_GET,
	ST_SERIES_ADD,
	ST_SERIES_LABEL_ADD,
	ST_SERIES_TOUCH,
	ST_SERIES_LABELS,
	ST_META_GET,
	ST_META_SET,
	ST_ROW_GET_10S,
	ST_ROW_GET_1M,
	ST_ROW_GET_1H,
	ST_ROW_PUT_10S,
	ST_ROW_PUT_1M,
	ST_ROW_PUT_1H,
	ST_SCAN_10S,
	ST_SCAN_1M,
	ST_SCAN_1H,
	/* one bucket, a run of series ids: filtered reads (store_query.c) */
	ST_PICK_10S,
	ST_PICK_1M,
	ST_PICK_1H,
	/* the same from the totals indexes (v6): time lines */
	ST_TOTALS_10S,
	ST_TOTALS_1M,
	ST_TOTALS_1H,
	ST_PICK_TOTALS_10S,
	ST_PICK_TOTALS_1M,
	ST_PICK_TOTALS_1H,
	/* the first stored bucket in a range: filtered reads skip gaps */
	ST_NEXT_BUCKET_10S,
	ST_NEXT_BUCKET_1M,
	ST_NEXT_BUCKET_1H,
	/* reader dictionary refresh */
	ST_DICT_STR,
	ST_DICT_MAP,
	ST_DICT_FUNC,
	ST_DICT_FRAME,
	ST_DICT_FRAME_NAME,
	ST_DICT_STACK,
	ST_DICT_SERIES,
	NR_STMTS,
};

/* 128-bit content fingerprint of a stack -> stacks.id (a == 0: empty). */
struct fp_ent {
	uint64_t a, b;
	int64_t id;
};

/* Writer's caches: value -> database id, so a warm window does no lookups. */
struct wcache {
	/*
	 * Stacks by fingerprint first: hashing a stack's frames once is much
	 * cheaper than interning each frame, and a 128-bit fingerprint makes a
	 * collision far less likely than a disk error.
	 */
	struct fp_ent *fp;
	size_t fp_mask, fp_len;
	struct profile *in; /* interner for strings, frames, stacks, series */
	int64_t *str_db;    /* per interned string: strings.id, 0 unknown */
	int64_t *frame_db;
	int64_t *stack_db;
	int64_t *series_db;
	int64_t *series_hour; /* last_bucket known to be stored */
	/* per series id below FLEET_OF_MAX: its fleet series' id, -1 for
	 * none (a fleet series itself), 0 not looked up yet (rollups) */
	int64_t *fleet_of;
	size_t str_cap, frame_cap, stack_cap, series_cap, hour_cap, fleet_cap;
};

struct rd_frame {
	uint32_t func, map, line, kind;
	uint64_t addr;
};

struct rd_span {
	uint32_t off, len;
};

/* Reader's copy of the dictionary, indexed by database id. */
struct rdict {
	char **strs;
	size_t nr_strs;
	uint32_t *map_path; /* mappings.id -> strings.id */
	size_t nr_maps;
	uint32_t *func_name, *func_file, *func_sys;
	size_t nr_funcs;
	struct rd_frame *frames;
	size_t nr_frames;
	struct rd_span *stacks; /* into stack_ids */
	size_t nr_stacks;
	uint32_t *stack_ids;
	size_t nr_stack_ids, cap_stack_ids;
	struct rd_span *series; /* into series_kv (pairs of string ids) */
	size_t nr_series;
	uint32_t *series_kv;
	size_t nr_series_kv, cap_series_kv;
	uint8_t *fleet;		       /* per series id: 1 for a fleet series */
	size_t nr_fleet, fleet_series; /* array size; how many are fleet */
	/* the largest id loaded of each table: refreshes load what follows */
	int64_t max_str, max_map, max_func, max_frame, max_stack, max_series;
	int64_t max_frame_name; /* frame_names.seq */
};

struct store {
	struct store_base base; /* first: see store_ops.h */
	sqlite3 *db;
	char *path;
	bool read_only;
	uint64_t retention_ns, max_size;
	sqlite3_stmt *stmts[NR_STMTS];
	struct store_stats stats;
	int last_err; /* the last error logged, so a streak logs once */
	struct wcache wc;
	int64_t gc_generation;
	uint64_t period_ns;
	struct rdict rd;
};

/* The SQLite engine's read side (store_query.c), behind sqlite_ops. */
int sqlite__query(struct store *st, const struct store_query *q,
		  struct profile *out);
int sqlite__timeline(struct store *st, const struct store_query *q,
		     uint64_t step_ns, const char *group_by,
		     int (*fn)(const struct store_point *pt, void *ctx),
		     void *ctx);
int sqlite__heatmap(struct store *st, const struct store_query *q,
		    int (*fn)(uint64_t second_ns, const uint64_t *counts,
			      void *ctx),
		    void *ctx);
int sqlite__label_names(struct store *st,
			int (*fn)(const char *name, void *ctx), void *ctx);
int sqlite__label_values(struct store *st, const char *key,
			 const struct store_query *q,
			 int (*fn)(const char *value, void *ctx), void *ctx);

int sqlite__windows(struct store *st, const struct store_query *q,
		    int (*fn)(const struct profile *p, void *ctx), void *ctx);

/* Prepared on first use, kept for the life of the store. */
sqlite3_stmt *store__stmt(struct store *st, enum stmt_id id);
/* Maps an SQLite result to -errno and logs it once per streak. */
int store__sqlerr(struct store *st, int rc, const char *what);
int store__exec(struct store *st, const char *sql);
int store__meta_get(struct store *st, const char *key, int64_t *value);
int store__meta_set(struct store *st, const char *key, int64_t value);
/* Drops spooled windows and pushed-window identities that ended before
 * 'cutoff_ns' (store_push.c), counting the undelivered ones. */
int store__spool_expire(struct store *st, uint64_t cutoff_ns);

/* The SQLite engine's push operations (store_push.c). */
int sqlite__instance_id(struct store *st, uint64_t *id);
int sqlite__write_spooled(struct store *st, const struct profile *p,
			  const struct store_window *w, uint64_t *seq);
int sqlite__spool_next(struct store *st, uint64_t after,
		       struct store_spooled *out);
int sqlite__spool_ack(struct store *st, uint64_t seq, uint64_t now_ns);
int sqlite__spool_stats(struct store *st, struct store_spool_stats *out);
int sqlite__write_pushed(struct store *st, const struct profile *p,
			 const struct store_push *w);
int sqlite__agents(struct store *st,
		   int (*fn)(const struct store_agent *a, void *ctx),
		   void *ctx);
/*
 * store__write() with 'hook' run inside the same transaction, before the
 * samples are written: a non-zero return (-EEXIST: already stored) rolls
 * everything back and is returned.
 */
int store__write_tx(struct store *st, const struct profile *p,
		    int (*hook)(struct store *st, void *ctx), void *ctx);

/* ---- LEB128 varints ---- */

static inline uint8_t *varint__put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Returns the position after the varint, or NULL when it runs past 'end'. */
static inline const uint8_t *varint__get(const uint8_t *p, const uint8_t *end,
					 uint64_t *v)
{
	uint64_t r = 0;

	for (int shift = 0; p < end && shift < 64; shift += 7) {
		uint8_t b = *p++;

		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return p;
		}
	}
	return NULL;
}

/* A decoded entry of a sample blob; slot is 0 for rollups. */
struct blob_ent {
	uint32_t stack;
	uint32_t slot;
	uint64_t count;
};

/*
 * Decodes a raw (with_slots) or rollup blob, appending to *ents (grown with
 * realloc). Returns 0 or -EBADMSG for a malformed blob, -ENOMEM.
 */
int blob__decode(const void *data, size_t size, bool with_slots,
		 struct blob_ent **ents, size_t *nr, size_t *cap);
/*
 * Sums a raw (with_slots) or rollup blob per stack: *ents gets one entry
 * per stack with counts in slots [lo, hi) (a rollup's counts whatever
 * lo and hi), slot 0, in stack order; stacks without any are left out.
 * *nr is reset first. What a merged profile needs of a row, without an
 * entry per (stack, slot): a fleet's bucket holds millions. Returns 0 or
 * -EBADMSG for a malformed blob, -ENOMEM.
 */
int blob__sum(const void *data, size_t size, bool with_slots, uint32_t lo,
	      uint32_t hi, struct blob_ent **ents, size_t *nr, size_t *cap);
/*
 * Encodes entries sorted by (stack, slot), unique, into a malloc'ed
 * buffer. Returns the size, or 0 with *out NULL on allocation failure.
 */
size_t blob__encode(const struct blob_ent *ents, size_t n, bool with_slots,
		    uint8_t **out);

#endif
