// SPDX-License-Identifier: MIT
/*
 * Push bookkeeping in the store: the agent's spool of windows not yet
 * acknowledged by the server, and the server's record of the windows and
 * agents it has received. Tables in schema.sql (version 4).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/log.h"
#include "storage/store_int.h"

static sqlite3_stmt *prep(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK) {
		store__sqlerr(st, rc, "preparing a push statement");
		return NULL;
	}
	return s;
}

/* Steps a statement that returns no rows and finalizes it. */
static int step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : store__sqlerr(st, rc, what);
}

/*
 * Runs a statement that returns no rows with ?1 = a and, when it has a
 * second parameter, ?2 = b; finalizes it.
 */
static int exec_u64s(struct store *st, const char *sql, uint64_t a, uint64_t b,
		     const char *what)
{
	sqlite3_stmt *s = prep(st, sql);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)a);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, (int64_t)b);
	return step_done(st, s, what);
}

int sqlite__instance_id(struct store *st, uint64_t *id)
{
	int64_t v;
	uint64_t r = 0;
	int err;

	if ((err = store__meta_get(st, "instance_id", &v)))
		return err;
	if (v > 0) {
		*id = (uint64_t)v;
		return 0;
	}
	if (st->read_only)
		return -EROFS;
	if ((err = store__exec(st, "BEGIN IMMEDIATE")))
		return err;
	/* Another process may have made it meanwhile. */
	if ((err = store__meta_get(st, "instance_id", &v)))
		goto rollback;
	if (v <= 0) {
		/* Positive in SQLite's signed integers. */
		while (!(r & INT64_MAX))
			if (getrandom(&r, sizeof(r), 0) != sizeof(r))
				r = (uint64_t)rand() << 32 ^ (uint64_t)rand();
		v = (int64_t)(r & INT64_MAX);
		if ((err = store__meta_set(st, "instance_id", v)))
			goto rollback;
	}
	if ((err = store__exec(st, "COMMIT")))
		goto rollback;
	*id = (uint64_t)v;
	return 0;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

/* ---- agent side ---- */

struct spool_ctx {
	const struct store_window *w;
	uint64_t seq;
};

static int spool_hook(struct store *st, void *ctx)
{
	struct spool_ctx *c = ctx;
	sqlite3_stmt *s =
	    prep(st, "INSERT INTO push_spool (start_ns, end_ns, samples, "
		     "raw_len, data) VALUES (?, ?, ?, ?, ?)");
	int err;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)c->w->start_ns);
	sqlite3_bind_int64(s, 2, (int64_t)c->w->end_ns);
	sqlite3_bind_int64(s, 3, (int64_t)c->w->samples);
	sqlite3_bind_int64(s, 4, (int64_t)c->w->raw_len);
	sqlite3_bind_blob(s, 5, c->w->payload, (int)c->w->len, SQLITE_STATIC);
	err = step_done(st, s, "spooling a window");
	if (!err)
		c->seq = (uint64_t)sqlite3_last_insert_rowid(st->db);
	return err;
}

int sqlite__write_spooled(struct store *st, const struct profile *p,
			  const struct store_window *w, uint64_t *seq)
{
	struct spool_ctx c = {.w = w};
	int err;

	if (w->len > INT32_MAX)
		return -E2BIG;
	err = store__write_tx(st, p, spool_hook, &c);
	if (!err && seq)
		*seq = c.seq;
	return err;
}

int sqlite__spool_next(struct store *st, uint64_t after,
		       struct store_spooled *out)
{
	sqlite3_stmt *s =
	    prep(st, "SELECT seq, start_ns, end_ns, samples, raw_len, data "
		     "FROM push_spool WHERE seq > ? ORDER BY seq LIMIT 1");
	int rc, err = 0;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)after);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *d = sqlite3_column_blob(s, 5);
		int n = sqlite3_column_bytes(s, 5);

		out->seq = (uint64_t)sqlite3_column_int64(s, 0);
		out->start_ns = (uint64_t)sqlite3_column_int64(s, 1);
		out->end_ns = (uint64_t)sqlite3_column_int64(s, 2);
		out->samples = (uint64_t)sqlite3_column_int64(s, 3);
		out->raw_len = (uint64_t)sqlite3_column_int64(s, 4);
		out->len = n > 0 ? (size_t)n : 0;
		out->data = malloc(out->len ? out->len : 1);
		if (!out->data)
			err = -ENOMEM;
		else if (out->len)
			memcpy(out->data, d, out->len);
	} else if (rc == SQLITE_DONE) {
		err = -ENOENT;
	} else {
		err = store__sqlerr(st, rc, "reading the spool");
	}
	sqlite3_finalize(s);
	return err;
}

int sqlite__spool_ack(struct store *st, uint64_t seq, uint64_t now_ns)
{
	int err;

	if ((err = store__exec(st, "BEGIN IMMEDIATE")))
		return err;
	if ((err = exec_u64s(st, "DELETE FROM push_spool WHERE seq <= ?", seq,
			     0, "acknowledging windows")) ||
	    (err = exec_u64s(st,
			     "UPDATE push_ack SET acked_seq = max(acked_seq, "
			     "?1), acked_ns = ?2 WHERE id = 1",
			     seq, now_ns, "acknowledging windows")))
		goto rollback;
	return store__exec(st, "COMMIT");
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

int sqlite__spool_stats(struct store *st, struct store_spool_stats *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	s = prep(st,
		 "SELECT count(*), coalesce(sum(samples), 0), "
		 "coalesce(min(start_ns), 0), a.acked_seq, a.acked_ns, "
		 "a.dropped_windows, a.dropped_samples "
		 "FROM push_ack a LEFT JOIN push_spool ON 1 WHERE a.id = 1");
	if (!s)
		return -EIO;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->pending = (uint64_t)sqlite3_column_int64(s, 0);
		out->pending_samples = (uint64_t)sqlite3_column_int64(s, 1);
		out->oldest_pending_ns = (uint64_t)sqlite3_column_int64(s, 2);
		out->acked_seq = (uint64_t)sqlite3_column_int64(s, 3);
		out->acked_ns = (uint64_t)sqlite3_column_int64(s, 4);
		out->dropped_windows = (uint64_t)sqlite3_column_int64(s, 5);
		out->dropped_samples = (uint64_t)sqlite3_column_int64(s, 6);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		   ? 0
		   : store__sqlerr(st, rc, "reading spool stats");
}

/* Retention: spooled windows that ended before 'cutoff_ns' are gone with
 * their data; count them as dropped. Called inside no transaction. */
int store__spool_expire(struct store *st, uint64_t cutoff_ns)
{
	int err, changed;

	if ((err = store__exec(st, "BEGIN IMMEDIATE")))
		return err;
	if ((err = exec_u64s(st,
			     "UPDATE push_ack SET "
			     "dropped_windows = dropped_windows + (SELECT "
			     "count(*) FROM push_spool WHERE end_ns < ?1), "
			     "dropped_samples = dropped_samples + (SELECT "
			     "coalesce(sum(samples), 0) FROM push_spool "
			     "WHERE end_ns < ?1) WHERE id = 1",
			     cutoff_ns, 0, "expiring the spool")) ||
	    (err = exec_u64s(st, "DELETE FROM push_spool WHERE end_ns < ?",
			     cutoff_ns, 0, "expiring the spool")))
		goto rollback;
	changed = sqlite3_changes(st->db);
	/* Server side: identities of windows whose data has aged out. */
	if ((err = exec_u64s(st, "DELETE FROM push_windows WHERE end_ns < ?",
			     cutoff_ns, 0, "expiring window identities")))
		goto rollback;
	if ((err = store__exec(st, "COMMIT")))
		goto rollback;
	if (changed > 0)
		pr_warn("store '%s': retention dropped %d windows that were "
			"never delivered to the server",
			st->path, changed);
	return 0;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

/* ---- server side ---- */

static int pushed_hook(struct store *st, void *ctx)
{
	const struct store_push *w = ctx;
	sqlite3_stmt *s;
	int rc;

	s = prep(st, "INSERT OR IGNORE INTO push_windows (instance, seq, "
		     "start_ns, end_ns, samples, received_ns) "
		     "VALUES (?, ?, ?, ?, ?, ?)");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)w->instance);
	sqlite3_bind_int64(s, 2, (int64_t)w->seq);
	sqlite3_bind_int64(s, 3, (int64_t)w->start_ns);
	sqlite3_bind_int64(s, 4, (int64_t)w->end_ns);
	sqlite3_bind_int64(s, 5, (int64_t)w->samples);
	sqlite3_bind_int64(s, 6, (int64_t)w->now_ns);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store__sqlerr(st, rc, "recording a window");
	if (!sqlite3_changes(st->db))
		return -EEXIST;
	s = prep(st,
		 "INSERT INTO push_agents (instance, host, version, "
		 "first_push_ns, last_push_ns, last_end_ns, windows, samples, "
		 "pending, lost_samples) VALUES (?1, ?2, ?3, ?4, ?4, ?5, 1, "
		 "?6, ?7, ?8) ON CONFLICT (instance) DO UPDATE SET host = ?2, "
		 "version = ?3, last_push_ns = ?4, last_end_ns = "
		 "max(last_end_ns, ?5), windows = windows + 1, samples = "
		 "samples + ?6, pending = ?7, lost_samples = ?8");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, (int64_t)w->instance);
	sqlite3_bind_text(s, 2, w->host, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, w->version ? w->version : "", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)w->now_ns);
	sqlite3_bind_int64(s, 5, (int64_t)w->end_ns);
	sqlite3_bind_int64(s, 6, (int64_t)w->samples);
	sqlite3_bind_int64(s, 7, (int64_t)w->pending);
	sqlite3_bind_int64(s, 8, (int64_t)w->lost_samples);
	return step_done(st, s, "recording an agent");
}

int sqlite__write_pushed(struct store *st, const struct profile *p,
			 const struct store_push *w)
{
	if (w->instance > INT64_MAX || w->seq > INT64_MAX || !w->host)
		return -EINVAL;
	return store__write_tx(st, p, pushed_hook, (void *)w);
}

int sqlite__agents(struct store *st,
		   int (*fn)(const struct store_agent *a, void *ctx), void *ctx)
{
	sqlite3_stmt *s = prep(
	    st, "SELECT instance, host, version, first_push_ns, last_push_ns, "
		"last_end_ns, windows, samples, pending, lost_samples "
		"FROM push_agents ORDER BY host, instance");
	int rc, ret = 0;

	if (!s)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_agent a = {
		    .instance = (uint64_t)sqlite3_column_int64(s, 0),
		    .host = (const char *)sqlite3_column_text(s, 1),
		    .version = (const char *)sqlite3_column_text(s, 2),
		    .first_push_ns = (uint64_t)sqlite3_column_int64(s, 3),
		    .last_push_ns = (uint64_t)sqlite3_column_int64(s, 4),
		    .last_end_ns = (uint64_t)sqlite3_column_int64(s, 5),
		    .windows = (uint64_t)sqlite3_column_int64(s, 6),
		    .samples = (uint64_t)sqlite3_column_int64(s, 7),
		    .pending = (uint64_t)sqlite3_column_int64(s, 8),
		    .lost_samples = (uint64_t)sqlite3_column_int64(s, 9),
		};
		if (!a.host)
			a.host = "";
		if (!a.version)
			a.version = "";
		if ((ret = fn(&a, ctx)))
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store__sqlerr(st, rc, "listing agents");
	sqlite3_finalize(s);
	return ret;
}
