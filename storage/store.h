/* SPDX-License-Identifier: MIT */
/*
 * The durable profile store, written by the agent or server a window at a
 * time and read by queries, the web server and `kiln diff` concurrently.
 * Two engines sit behind the same calls, picked by the store URL:
 *   PATH, sqlite:PATH        one SQLite file (WAL); storage/schema.sql
 *   clickhouse://[USER[:PASS]@]HOST[:PORT]/DB
 *                            a ClickHouse server over its HTTP interface,
 *                            shared by any number of kiln servers
 * Callers never learn which one they hold.
 *
 * Times are unix nanoseconds. A store is used by one thread at a time;
 * readers in other threads or processes open their own store.
 */
#ifndef KILN_STORE_H
#define KILN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

struct store;

struct store_opts {
	const char *path;	 /* a store URL (above) or a plain file path */
	bool read_only;		 /* queries only; never creates or migrates */
	uint64_t retention_ns;	 /* drop data older than this; 0 keeps all */
	uint64_t max_size_bytes; /* drop oldest data above this; 0: no limit */
	int busy_timeout_ms;	 /* 0 picks a default (5 s) */
};

/*
 * Opens or creates the store (creating the schema, migrating an older
 * version). Returns NULL with errno set and logs one line saying why: a
 * malformed URL (EINVAL), an engine that does not answer (EAGAIN), a
 * missing directory (ENOENT), a read-only file or file system (EACCES,
 * EROFS), a corrupt file or one that is not a kiln store (EBADMSG), a
 * database from a newer kiln (EPROTO).
 */
struct store *store__open(const struct store_opts *opts);
void store__close(struct store *st);

/*
 * Writes every sample of 'p' in one transaction: series from their labels,
 * stacks/frames/functions/mappings deduplicated against what the store has,
 * counts per time bucket, heat-map cells and rollups. Either the whole
 * profile lands or nothing does. Returns 0 or -errno (-ENOSPC on a full
 * disk: the caller keeps the profile and retries).
 */
int store__write(struct store *st, const struct profile *p);

/* Drops data beyond the retention age and size limits. */
int store__enforce_retention(struct store *st, uint64_t now_ns);

struct store_filter {
	const char *key;   /* host, comm, pid, exe, container, or any label */
	const char *value; /* exact match */
};

struct store_query {
	uint64_t from_ns, to_ns; /* [from, to) */
	const struct store_filter *filters;
	size_t nr_filters; /* filters on different keys AND, same key OR */
	/*
	 * Budgets of one read (0: none), for servers answering requests:
	 * past 'deadline_mono_ns' (CLOCK_MONOTONIC) the read stops with
	 * -ETIME; past 'max_entries' distinct (series, stack) pairs a merged
	 * profile stops with -E2BIG. Engines that cannot check them ignore
	 * them.
	 */
	uint64_t deadline_mono_ns;
	size_t max_entries;
	/*
	 * store__query only: with 'merge' set, the profile keeps only the
	 * labels named in 'keep' (none when nr_keep is 0), and series that
	 * agree on them are merged into one. A flame graph needs the
	 * process name only: merging every host's and pid's series makes a
	 * whole fleet's profile as small as one host's. Engines that cannot
	 * may keep more labels.
	 */
	bool merge;
	const char *const *keep;
	size_t nr_keep;
};

/*
 * Merges every sample in the range that matches the filters into 'out'
 * (series labels kept, sample times at bucket resolution). Returns 0 or
 * -errno; -EINVAL for an unknown label key.
 */
int store__query(struct store *st, const struct store_query *q,
		 struct profile *out);

/* One point of a time line: 'count' samples of 'group' in [t, t + step). */
struct store_point {
	uint64_t t_ns;
	uint64_t count;
	const char *group; /* value of the group-by label, or "" */
};

/*
 * Sample counts per 'step_ns' over the range, one series per value of
 * 'group_by' (NULL: one series). Calls 'fn' for every non-zero point in
 * time order within each group. Returns 0, -errno, or fn's non-zero value.
 */
int store__timeline(struct store *st, const struct store_query *q,
		    uint64_t step_ns, const char *group_by,
		    int (*fn)(const struct store_point *pt, void *ctx),
		    void *ctx);

#define STORE_HEAT_SLOTS 50 /* 20 ms offsets within a second */

/*
 * Sub-second heat map: for each second in the range, sample counts per
 * 20 ms slot. Calls fn(second_ns, counts[STORE_HEAT_SLOTS]) for seconds
 * with samples, in time order.
 */
int store__heatmap(struct store *st, const struct store_query *q,
		   int (*fn)(uint64_t second_ns, const uint64_t *counts,
			     void *ctx),
		   void *ctx);

/* Label keys present, and values of one key (optionally in a range). */
int store__label_names(struct store *st, int (*fn)(const char *name, void *ctx),
		       void *ctx);
int store__label_values(struct store *st, const char *key,
			const struct store_query *q,
			int (*fn)(const char *value, void *ctx), void *ctx);

/*
 * Calls fn with the raw data of the range one 10 s window at a time, in
 * time order: samples at their 20 ms times, labels and frames as stored,
 * the window's start and duration in the meta. 'p' lives for the call
 * only. For copying a store (kiln migrate). Returns 0, -errno, fn's
 * non-zero value, or -EOPNOTSUPP from an engine that cannot (ClickHouse).
 */
int store__windows(struct store *st, const struct store_query *q,
		   int (*fn)(const struct profile *p, void *ctx), void *ctx);

/*
 * Copies a store URL into 'buf' without its password, for messages
 * ("clickhouse://kiln:***@host:8123/db"). Paths are copied as they are.
 */
void store__redact(const char *url, char *buf, size_t size);

struct store_stats {
	uint64_t size_bytes;	  /* main file + WAL */
	uint64_t windows_written; /* by this handle */
	uint64_t samples_written; /* by this handle */
	uint64_t write_errors;
	uint64_t rows_deleted;	      /* by retention */
	uint64_t first_ns, last_ns;   /* data range in the store, 0 if empty */
	uint64_t cache_bytes;	      /* the writer's id cache now (bounded) */
	uint64_t cache_resets;	      /* ... dropped for its size */
	uint64_t sqlite_memory_bytes; /* SQLite's heap, every connection */
};
void store__stats(struct store *st, struct store_stats *out);

/*
 * Runs the engine's integrity check (SQLite's integrity_check, ClickHouse's
 * CHECK TABLE). Returns 0 when it passes, -EBADMSG (logging the first
 * problem) otherwise, or -errno if it could not run.
 */
int store__check(struct store *st);

/* ---- push, agent side: the store is the spool (storage/wire.h) ---- */

/*
 * This store's agent instance id: random, non-zero, created on first use
 * and kept in the store, so a restarted agent goes on with the same id and
 * its window numbers. Returns 0 or -errno.
 */
int store__instance_id(struct store *st, uint64_t *id);

/* A window encoded for the wire (wire__encode_payload). */
struct store_window {
	uint64_t start_ns, end_ns;
	uint64_t samples, raw_len;
	const void *payload;
	size_t len;
};

/*
 * store__write() plus, in the same transaction, 'w' appended to the spool
 * under the next window number (*seq). Either both land or neither.
 */
int store__write_spooled(struct store *st, const struct profile *p,
			 const struct store_window *w, uint64_t *seq);

struct store_spooled {
	uint64_t seq, start_ns, end_ns, samples, raw_len;
	void *data; /* malloc'ed compressed payload, the caller frees */
	size_t len;
};

/*
 * The oldest spooled window with a number above 'after'. Returns 0,
 * -ENOENT when there is none, or -errno.
 */
int store__spool_next(struct store *st, uint64_t after,
		      struct store_spooled *out);

/* The server has the windows up to 'seq': drop them from the spool. */
int store__spool_ack(struct store *st, uint64_t seq, uint64_t now_ns);

struct store_spool_stats {
	uint64_t pending, pending_samples; /* windows not acknowledged */
	uint64_t oldest_pending_ns;	   /* start of the oldest, 0 if none */
	uint64_t acked_seq, acked_ns;
	uint64_t dropped_windows, dropped_samples; /* by retention */
};
int store__spool_stats(struct store *st, struct store_spool_stats *out);

/* ---- push, server side ---- */

/* A window received from an agent, with what the agent says of itself. */
struct store_push {
	uint64_t instance, seq, start_ns, end_ns, samples;
	const char *host, *version;
	uint64_t pending, lost_samples; /* as reported by the agent */
	uint64_t now_ns;
};

/*
 * Writes 'p' and records the window's identity in one transaction.
 * Returns 0, -EEXIST when that window is already stored (nothing is
 * written), -ENOSPC on a full disk, or -errno.
 */
int store__write_pushed(struct store *st, const struct profile *p,
			const struct store_push *w);

/* One window of a batch: the profile and its push. */
struct store_pushed {
	const struct profile *p;
	struct store_push w;
};

/*
 * Writes n pushed windows together (ClickHouse: one INSERT per table for
 * all of them, instead of several per window). rets[i] is what
 * store__write_pushed would answer for window i alone: 0 once it is
 * stored, -EEXIST when it was already (a window twice in one batch gets
 * the first one's answer), or -errno, then nothing of it is acknowledged
 * as stored and a retry adds nothing twice. Returns 0 when every rets[i]
 * is set; -EOPNOTSUPP, with nothing written, for an engine that writes
 * windows one by one (SQLite, where a window is one transaction).
 * n == 0 asks only whether the engine batches.
 */
int store__write_pushed_batch(struct store *st, const struct store_pushed *w,
			      size_t n, int *rets);

struct store_agent {
	uint64_t instance;
	const char *host, *version;
	uint64_t first_push_ns, last_push_ns, last_end_ns;
	uint64_t windows, samples, pending, lost_samples;
};

/* Every agent that has pushed, by host name. Returns 0, -errno or fn's. */
int store__agents(struct store *st,
		  int (*fn)(const struct store_agent *a, void *ctx), void *ctx);

/* ---- naming stored frames again (debug info arrived later) ---- */

/* A stored user frame of one build id: what the symbolizer resolves. */
struct store_frame_ref {
	int64_t id;	 /* the store's frame id */
	uint64_t offset; /* file offset looked up (struct frame.offset) */
};

/*
 * Up to 'max' user frames (kind FRAME_USER, the outermost function of an
 * address) stored with build id 'build_id' (lowercase hex), whose ids are
 * above 'after', in id order: page through them by passing the last id
 * seen. Returns how many were filled, or -errno (-EOPNOTSUPP: the engine
 * keeps no build ids).
 */
int store__frames_of_build_id(struct store *st, const char *build_id,
			      int64_t after, struct store_frame_ref *out,
			      size_t max);

/* A stored frame's better name. NULL file / system_name: none. */
struct store_frame_name {
	int64_t id;
	const char *name, *system_name, *file;
	uint32_t line;
};

/*
 * Names stored frames again, in one transaction: queries from now on (in
 * any process) show the new names in every window, old ones included.
 * Frames whose name would not change are left alone. Returns how many
 * frames changed, or -errno.
 */
int store__rename_frames(struct store *st, const struct store_frame_name *n,
			 size_t nr);

#endif
