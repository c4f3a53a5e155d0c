// SPDX-License-Identifier: MIT
/*
 * The store: opening (schema, migration, error translation), ingest of a
 * window, rollups, retention. Queries are in store_query.c.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/idxset.h"
#include "lib/clock.h"
#include "lib/embedded.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "storage/store_int.h"

/* The SQL files of storage/, embedded by scripts/embed.sh. */
extern const struct embedded_file sql_assets[];

static const struct store_ops sqlite_ops;

const uint64_t level_width_s[NR_LEVELS] = {10, 60, 3600};
const char *const level_table[NR_LEVELS] = {"samples_10s", "samples_1m",
					    "samples_1h"};

/*
 * Caches are dropped past these sizes, so pid churn cannot grow memory.
 * The byte bound decides on a long-running agent: every process that ever
 * ran adds a series and its frames, and an agent sampling a changing
 * workload grew by about 1 MB a minute before it (issue 16). A dropped
 * cache costs one window its id lookups in SQL.
 */
#define WCACHE_MAX_SERIES 100000
#define WCACHE_MAX_STRINGS 1000000
#define WCACHE_MAX_BYTES (8u << 20)
#define RETENTION_BATCH_S 600 /* one delete transaction covers 10 min */

static const char *const stmt_sql[NR_STMTS] = {
    [ST_STR_GET] = "SELECT id FROM strings WHERE s = ?",
    [ST_STR_ADD] = "INSERT INTO strings (s) VALUES (?)",
    [ST_MAP_GET] = "SELECT id FROM mappings WHERE path = ?",
    [ST_MAP_ADD] = "INSERT INTO mappings (path) VALUES (?)",
    [ST_FUNC_GET] = "SELECT id FROM functions WHERE name = ? AND file = ?",
    [ST_FUNC_ADD] = "INSERT INTO functions (name, file, system_name) "
		    "VALUES (?, ?, ?)",
    [ST_FRAME_GET] = "SELECT id FROM frames WHERE function = ? AND "
		     "mapping = ? AND line = ? AND kind = ? AND addr = ? AND "
		     "build_id = ? AND file_offset = ?",
    [ST_FRAME_ADD] =
	"INSERT INTO frames (function, mapping, line, kind, "
	"addr, build_id, file_offset) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_FRAMES_OF_BUILD] =
	"SELECT id, file_offset FROM frames WHERE build_id = "
	"(SELECT id FROM strings WHERE s = ?1) AND build_id != 0 "
	"AND id > ?2 AND kind = ?3 ORDER BY id LIMIT ?4", /* != 0: the
							    partial index */
    [ST_FRAME_NAME_CUR] =
	"SELECT coalesce(n.function, f.function), coalesce(n.line, f.line) "
	"FROM frames f LEFT JOIN frame_names n ON n.frame = f.id "
	"WHERE f.id = ?",
    [ST_FRAME_NAME_SET] = "INSERT OR REPLACE INTO frame_names "
			  "(frame, function, line) VALUES (?, ?, ?)",
    [ST_STACK_GET] = "SELECT id FROM stacks WHERE frames = ?",
    [ST_STACK_ADD] = "INSERT INTO stacks (frames) VALUES (?)",
    [ST_SERIES_GET] = "SELECT id, last_bucket FROM series WHERE labels = ?",
    [ST_SERIES_ADD] = "INSERT INTO series (labels, last_bucket) VALUES (?, ?)",
    [ST_SERIES_LABEL_ADD] = "INSERT OR IGNORE INTO series_labels "
			    "(key, value, series) VALUES (?, ?, ?)",
    [ST_SERIES_TOUCH] = "UPDATE series SET last_bucket = ?1 "
			"WHERE id = ?2 AND last_bucket < ?1",
    [ST_SERIES_LABELS] = "SELECT labels FROM series WHERE id = ?",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?",
    [ST_META_SET] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
    [ST_ROW_GET_10S] = "SELECT total, data FROM samples_10s "
		       "WHERE bucket = ? AND series = ?",
    [ST_ROW_GET_1M] = "SELECT total, data FROM samples_1m "
		      "WHERE bucket = ? AND series = ?",
    [ST_ROW_GET_1H] = "SELECT total, data FROM samples_1h "
		      "WHERE bucket = ? AND series = ?",
    [ST_ROW_PUT_10S] = "INSERT OR REPLACE INTO samples_10s "
		       "(bucket, series, total, data) VALUES (?, ?, ?, ?)",
    [ST_ROW_PUT_1M] = "INSERT OR REPLACE INTO samples_1m "
		      "(bucket, series, total, data) VALUES (?, ?, ?, ?)",
    [ST_ROW_PUT_1H] = "INSERT OR REPLACE INTO samples_1h "
		      "(bucket, series, total, data) VALUES (?, ?, ?, ?)",
    [ST_SCAN_10S] = "SELECT bucket, series, total, data FROM samples_10s "
		    "WHERE bucket >= ? AND bucket < ?",
    [ST_SCAN_1M] = "SELECT bucket, series, total, data FROM samples_1m "
		   "WHERE bucket >= ? AND bucket < ?",
    [ST_SCAN_1H] = "SELECT bucket, series, total, data FROM samples_1h "
		   "WHERE bucket >= ? AND bucket < ?",
    [ST_PICK_10S] = "SELECT bucket, series, total, data FROM samples_10s "
		    "WHERE bucket = ?1 AND series >= ?2 AND series <= ?3",
    [ST_PICK_1M] = "SELECT bucket, series, total, data FROM samples_1m "
		   "WHERE bucket = ?1 AND series >= ?2 AND series <= ?3",
    [ST_PICK_1H] = "SELECT bucket, series, total, data FROM samples_1h "
		   "WHERE bucket = ?1 AND series >= ?2 AND series <= ?3",
    [ST_TOTALS_10S] = "SELECT bucket, series, total FROM samples_10s "
		      "INDEXED BY samples_10s_totals "
		      "WHERE bucket >= ?1 AND bucket < ?2",
    [ST_TOTALS_1M] = "SELECT bucket, series, total FROM samples_1m "
		     "INDEXED BY samples_1m_totals "
		     "WHERE bucket >= ?1 AND bucket < ?2",
    [ST_TOTALS_1H] = "SELECT bucket, series, total FROM samples_1h "
		     "INDEXED BY samples_1h_totals "
		     "WHERE bucket >= ?1 AND bucket < ?2",
    [ST_PICK_TOTALS_10S] = "SELECT bucket, series, total FROM samples_10s "
			   "INDEXED BY samples_10s_totals WHERE bucket = ?1 "
			   "AND series >= ?2 AND series <= ?3",
    [ST_PICK_TOTALS_1M] = "SELECT bucket, series, total FROM samples_1m "
			  "INDEXED BY samples_1m_totals WHERE bucket = ?1 "
			  "AND series >= ?2 AND series <= ?3",
    [ST_PICK_TOTALS_1H] = "SELECT bucket, series, total FROM samples_1h "
			  "INDEXED BY samples_1h_totals WHERE bucket = ?1 "
			  "AND series >= ?2 AND series <= ?3",
    [ST_NEXT_BUCKET_10S] = "SELECT min(bucket) FROM samples_10s "
			   "WHERE bucket >= ?1 AND bucket < ?2",
    [ST_NEXT_BUCKET_1M] = "SELECT min(bucket) FROM samples_1m "
			  "WHERE bucket >= ?1 AND bucket < ?2",
    [ST_NEXT_BUCKET_1H] = "SELECT min(bucket) FROM samples_1h "
			  "WHERE bucket >= ?1 AND bucket < ?2",
    [ST_DICT_STR] = "SELECT id, s FROM strings WHERE id > ? ORDER BY id",
    [ST_DICT_MAP] = "SELECT id, path FROM mappings WHERE id > ? ORDER BY id",
    [ST_DICT_FUNC] =
	"SELECT id, name, file, system_name FROM functions WHERE id > ? "
	"ORDER BY id",
    [ST_DICT_FRAME] = "SELECT id, function, mapping, line, kind, addr "
		      "FROM frames WHERE id > ? ORDER BY id",
    [ST_DICT_FRAME_NAME] = "SELECT seq, frame, function, line "
			   "FROM frame_names WHERE seq > ? ORDER BY seq",
    [ST_DICT_STACK] = "SELECT id, frames FROM stacks WHERE id > ? ORDER BY id",
    [ST_DICT_SERIES] = "SELECT id, labels FROM series WHERE id > ? ORDER BY id",
};

int store__sqlerr(struct store *st, int rc, const char *what)
{
	int err, sys = sqlite3_system_errno(st->db);

	switch (rc & 0xff) {
	case SQLITE_FULL:
		err = -ENOSPC;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = -EBUSY;
		break;
	case SQLITE_READONLY:
		err = -EROFS;
		break;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		err = -EBADMSG;
		break;
	case SQLITE_NOMEM:
		err = -ENOMEM;
		break;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		err = -EACCES;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		err = sys == ENOSPC ? -ENOSPC : sys ? -sys : -EIO;
		break;
	default:
		err = -EIO;
	}
	/* A full disk fails every window until it clears: say it once. */
	if (err != st->last_err) {
		pr_err("store '%s': %s failed: %s", st->path, what,
		       err == -ENOSPC ? "no space left on device"
				      : sqlite3_errmsg(st->db));
		st->last_err = err;
	}
	return err;
}

sqlite3_stmt *store__stmt(struct store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmts[id];
	int rc;

	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
				SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK) {
		store__sqlerr(st, rc, "preparing a statement");
		return NULL;
	}
	st->stmts[id] = s;
	return s;
}

int store__exec(struct store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store__sqlerr(st, rc, sql);
}

int store__meta_get(struct store *st, const char *key, int64_t *value)
{
	sqlite3_stmt *s = store__stmt(st, ST_META_GET);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*value = sqlite3_column_int64(s, 0);
	else if (rc == SQLITE_DONE)
		*value = 0;
	else
		return store__sqlerr(st, rc, "reading meta");
	sqlite3_reset(s);
	return 0;
}

int store__meta_set(struct store *st, const char *key, int64_t value)
{
	sqlite3_stmt *s = store__stmt(st, ST_META_SET);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, value);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store__sqlerr(st, rc, "writing meta");
}

static int int_pragma(struct store *st, const char *sql, int64_t *out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return store__sqlerr(st, rc, sql);
	rc = sqlite3_step(s);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		   ? 0
		   : store__sqlerr(st, rc, sql);
}

/* ---- opening ---- */

static void wcache__release(struct wcache *wc)
{
	free(wc->fp);
	profile__free(wc->in);
	free(wc->str_db);
	free(wc->frame_db);
	free(wc->stack_db);
	free(wc->series_db);
	free(wc->series_hour);
	free(wc->fleet_of);
	memset(wc, 0, sizeof(*wc));
}

/*
 * Empties the write cache. Its copy of the written values grows with the
 * input, so it is a checked profile: running out of memory fails the write
 * (-ENOMEM) instead of aborting. On failure the cache is left empty
 * (wc->in NULL) and the next write tries again.
 */
static int wcache__reset(struct wcache *wc)
{
	wcache__release(wc);
	wc->in = profile__new();
	wc->fp = calloc(4096, sizeof(*wc->fp));
	if (!wc->in || !wc->fp) {
		wcache__release(wc);
		return -ENOMEM;
	}
	profile__set_checked(wc->in);
	wc->fp_mask = 4095;
	return 0;
}

static size_t wcache__bytes(const struct wcache *wc)
{
	if (!wc->in)
		return 0;
	return profile__mem_bytes(wc->in) +
	       (wc->fp_mask + 1) * sizeof(*wc->fp) +
	       (wc->str_cap + wc->frame_cap + wc->stack_cap + wc->series_cap +
		wc->hour_cap + wc->fleet_cap) *
		   sizeof(int64_t);
}

/* Two hash lanes over a string, eight bytes at a time. */
static void str_hash2(const char *s, uint64_t h[2])
{
	size_t n = strlen(s);
	uint64_t w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h[0] = (h[0] ^ w) * 0x9e3779b97f4a7c15ULL;
		h[0] ^= h[0] >> 29;
		h[1] = (h[1] + w) * 0xc2b2ae3d27d4eb4fULL;
		h[1] ^= h[1] >> 31;
	}
	w = 0;
	memcpy(&w, s, n);
	w ^= (uint64_t)n << 56; /* n < 8: the top byte is free for it */
	h[0] = hash__mix64((h[0] ^ w) * 0x9e3779b97f4a7c15ULL);
	h[1] = hash__mix64((h[1] + w) * 0xc2b2ae3d27d4eb4fULL);
}

/* Fingerprint of a frame's content: two independently mixed lanes. */
static void frame_fp(const struct profile *p, uint32_t fid, uint64_t out[2])
{
	const struct frame *f = profile__frame(p, fid);
	uint64_t h[2] = {0x2545f4914f6cdd1dULL, 0x9e3779b97f4a7c15ULL};

	str_hash2(profile__str(p, f->name), h);
	str_hash2(profile__str(p, f->file), h);
	str_hash2(profile__str(p, f->module), h);
	if (f->build_id) {
		str_hash2(profile__str(p, f->build_id), h);
		h[0] = hash__mix64(h[0] ^ f->offset);
		h[1] = hash__mix64(h[1] + f->offset);
	}
	out[0] =
	    hash__mix64(h[0] ^ ((uint64_t)f->line << 8 | f->kind)) ^ f->addr;
	out[1] =
	    hash__mix64(h[1] + f->addr) ^ ((uint64_t)f->line << 8 | f->kind);
}

static struct fp_ent *fp_slot(struct wcache *wc, uint64_t a, uint64_t b)
{
	size_t h = (size_t)(a ^ (b >> 7)) & wc->fp_mask;

	while (wc->fp[h].a && (wc->fp[h].a != a || wc->fp[h].b != b))
		h = (h + 1) & wc->fp_mask;
	return &wc->fp[h];
}

static int fp_insert(struct wcache *wc, uint64_t a, uint64_t b, int64_t id)
{
	if ((wc->fp_len + 1) * 2 > wc->fp_mask + 1) {
		struct fp_ent *old = wc->fp;
		size_t n = wc->fp_mask + 1;
		struct fp_ent *nw = calloc(n * 2, sizeof(*nw));

		if (!nw)
			return -ENOMEM;
		wc->fp_mask = n * 2 - 1;
		wc->fp = nw;
		for (size_t i = 0; i < n; i++)
			if (old[i].a)
				*fp_slot(wc, old[i].a, old[i].b) = old[i];
		free(old);
	}
	struct fp_ent *e = fp_slot(wc, a, b);
	if (!e->a)
		wc->fp_len++;
	*e = (struct fp_ent){a, b, id};
	return 0;
}

static int apply_sql(struct store *st, const char *name)
{
	const struct embedded_file *f = embedded__find(sql_assets, name);

	if (!f) {
		pr_err("store: '%s' is missing from this build", name);
		return -ENOENT;
	}
	return store__exec(st, (const char *)f->data);
}

/* Creates or migrates the schema inside one write transaction. */
static int setup_schema(struct store *st)
{
	int64_t version, tables;
	char name[48], sql[64];
	int err;

	err = store__exec(st, "BEGIN IMMEDIATE");
	if (err)
		return err;
	/* Re-read under the lock: another process may have just done it. */
	err = int_pragma(st, "PRAGMA user_version", &version);
	if (err)
		goto rollback;
	if (version == 0) {
		err = int_pragma(st, "SELECT count(*) FROM sqlite_master",
				 &tables);
		if (err)
			goto rollback;
		if (tables) {
			pr_err("store '%s' is an SQLite database but not a "
			       "kiln store",
			       st->path);
			err = -EBADMSG;
			goto rollback;
		}
		err = apply_sql(st, "schema.sql");
		if (err)
			goto rollback;
	} else if (version < STORE_VERSION) {
		for (int64_t v = version + 1; v <= STORE_VERSION; v++) {
			snprintf(name, sizeof(name), "migrate_v%lld.sql",
				 (long long)v);
			err = apply_sql(st, name);
			if (err)
				goto rollback;
		}
		pr_info("store '%s': migrated from version %lld to %d",
			st->path, (long long)version, STORE_VERSION);
	} else {
		return store__exec(st, "COMMIT");
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_VERSION);
	err = store__exec(st, sql);
	if (err)
		goto rollback;
	return store__exec(st, "COMMIT");
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

/* Checks the things SQLite reports poorly, so the one error line is clear. */
static int precheck(const struct store_opts *opts)
{
	char *copy = xstrdup(opts->path);
	const char *dir = dirname(copy);
	struct stat sb;
	int err = 0;

	if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
		pr_err("cannot open store '%s': directory '%s' does not exist",
		       opts->path, dir);
		err = -ENOENT;
	} else if (stat(opts->path, &sb)) {
		if (opts->read_only) {
			pr_err("cannot open store '%s': %s", opts->path,
			       strerror(errno));
			err = -errno;
		} else if (access(dir, W_OK)) {
			err = -errno;
			pr_err("cannot create store '%s': directory '%s': %s",
			       opts->path, dir, strerror(errno));
		}
	} else if (!S_ISREG(sb.st_mode)) {
		pr_err("cannot open store '%s': not a regular file",
		       opts->path);
		err = -EINVAL;
	} else if (!opts->read_only && access(opts->path, W_OK)) {
		err = -errno;
		pr_err("cannot write store '%s': %s", opts->path,
		       strerror(errno));
	}
	free(copy);
	return err;
}

/*
 * A read-only open of a store an older kiln wrote: migrate it with a
 * read-write open when this process may write the file, then open it
 * read-only again. A reader that may not write gets one line saying how
 * to upgrade, instead of failing later on a missing column.
 */
static struct store *open_upgraded(const struct store_opts *opts,
				   int64_t version)
{
	struct store_opts rw = *opts;
	struct store *st;

	if (access(opts->path, W_OK)) {
		pr_err("cannot open store '%s': it has schema version %lld "
		       "from an older kiln; open it once read-write (kiln "
		       "agent, kiln import) to upgrade it to version %d",
		       opts->path, (long long)version, STORE_VERSION);
		errno = EPROTO;
		return NULL;
	}
	rw.read_only = false;
	st = sqlite__open(&rw);
	if (!st)
		return NULL;
	store__close(st);
	return sqlite__open(opts);
}

struct store *sqlite__open(const struct store_opts *opts)
{
	struct store *st = NULL;
	int64_t version;
	int err, rc, flags;

	if (!opts || !opts->path || !*opts->path) {
		err = -EINVAL;
		goto fail;
	}
	err = precheck(opts);
	if (err)
		goto fail;
	st = xcalloc(1, sizeof(*st));
	st->base.ops = &sqlite_ops;
	st->path = xstrdup(opts->path);
	st->read_only = opts->read_only;
	st->retention_ns = opts->retention_ns;
	st->max_size = opts->max_size_bytes;
	st->last_err = 1; /* not an errno: the first error is always logged */
	flags = (opts->read_only ? SQLITE_OPEN_READONLY
				 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
		SQLITE_OPEN_NOMUTEX;
	rc = sqlite3_open_v2(opts->path, &st->db, flags, NULL);
	if (rc != SQLITE_OK) {
		err = store__sqlerr(st, rc, "opening");
		goto fail;
	}
	sqlite3_busy_timeout(
	    st->db, opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000);
	if (!opts->read_only && sqlite3_db_readonly(st->db, "main") == 1) {
		pr_err("cannot write store '%s': the file or its file system "
		       "is read-only",
		       st->path);
		err = -EROFS;
		goto fail;
	}
	rc = sqlite3_exec(st->db, "SELECT count(*) FROM sqlite_master", NULL,
			  NULL, NULL);
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_NOTADB ||
		    (rc & 0xff) == SQLITE_CORRUPT) {
			pr_err(
			    "cannot open store '%s': not a database or corrupt",
			    st->path);
			err = -EBADMSG;
		} else {
			err = store__sqlerr(st, rc, "opening");
		}
		goto fail;
	}
	err = int_pragma(st, "PRAGMA user_version", &version);
	if (err)
		goto fail;
	if (version > STORE_VERSION) {
		pr_err("cannot open store '%s': it has schema version %lld, "
		       "written by a newer kiln (this one knows up to %d)",
		       st->path, (long long)version, STORE_VERSION);
		err = -EPROTO;
		goto fail;
	}
	if (opts->read_only) {
		if (version == 0) {
			pr_err("cannot open store '%s': not a kiln store (no "
			       "schema)",
			       st->path);
			err = -EBADMSG;
			goto fail;
		}
		if (version < STORE_VERSION) {
			/* Queries are written for the current schema: an
			 * older store is upgraded first (once, by a short
			 * read-write open) or refused with a clear line. */
			store__close(st);
			st = NULL;
			return open_upgraded(opts, version);
		}
	} else {
		int64_t tables = 0;

		/* Refuse another program's database before any pragma below
		 * rewrites its header (journal mode, auto-vacuum). */
		if (version == 0) {
			err = int_pragma(
			    st, "SELECT count(*) FROM sqlite_master", &tables);
			if (err)
				goto fail;
			if (tables) {
				pr_err("store '%s' is an SQLite database but "
				       "not a kiln store",
				       st->path);
				err = -EBADMSG;
				goto fail;
			}
		}
		/* Must precede the first table; a no-op on existing files. */
		if (version == 0)
			store__exec(st, "PRAGMA auto_vacuum = INCREMENTAL");
		err = store__exec(st, "PRAGMA journal_mode = WAL");
		if (!err)
			err = store__exec(st, "PRAGMA synchronous = NORMAL");
		/* Keep the WAL file from staying large after a checkpoint. */
		if (!err)
			err = store__exec(
			    st, "PRAGMA journal_size_limit = 67108864");
		if (!err)
			err = setup_schema(st);
		if (err)
			goto fail;
	}
	/* On ENOMEM the cache stays empty: the first write retries. */
	(void)wcache__reset(&st->wc);
	st->last_err = 0;
	return st;
fail:
	store__close(st);
	errno = -err;
	return NULL;
}

static void rdict__release(struct rdict *rd)
{
	for (size_t i = 0; i < rd->nr_strs; i++)
		free(rd->strs[i]);
	free(rd->strs);
	free(rd->map_path);
	free(rd->func_name);
	free(rd->func_file);
	free(rd->func_sys);
	free(rd->frames);
	free(rd->stacks);
	free(rd->stack_ids);
	free(rd->series);
	free(rd->series_kv);
	free(rd->fleet);
	memset(rd, 0, sizeof(*rd));
}

static void sqlite__close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < NR_STMTS; i++)
		sqlite3_finalize(st->stmts[i]);
	if (st->db && !st->read_only)
		sqlite3_wal_checkpoint_v2(
		    st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close(st->db);
	wcache__release(&st->wc);
	rdict__release(&st->rd);
	free(st->path);
	free(st);
}

/* ---- writer: resolving values to database ids ---- */

static int grow64(int64_t **arr, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 256;
	int64_t *a;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	a = realloc(*arr, ncap * sizeof(**arr));
	if (!a)
		return -ENOMEM;
	*arr = a;
	memset(*arr + *cap, 0, (ncap - *cap) * sizeof(**arr));
	*cap = ncap;
	return 0;
}

/* Runs a prepared GET; on no row runs the ADD. Both already bound. */
static int get_or_add(struct store *st, sqlite3_stmt *get, sqlite3_stmt *add,
		      int64_t *id)
{
	int rc = sqlite3_step(get);

	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(get, 0);
		sqlite3_reset(get);
		return 0;
	}
	sqlite3_reset(get);
	if (rc != SQLITE_DONE)
		return store__sqlerr(st, rc, "looking up the dictionary");
	rc = sqlite3_step(add);
	sqlite3_reset(add);
	if (rc != SQLITE_DONE)
		return store__sqlerr(st, rc, "adding to the dictionary");
	*id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

/* functions.id of the row of these strings.id, added when missing. */
static int function_row(struct store *st, int64_t name, int64_t file,
			int64_t sys, int64_t *id)
{
	sqlite3_stmt *get = store__stmt(st, ST_FUNC_GET);
	sqlite3_stmt *add = store__stmt(st, ST_FUNC_ADD);

	if (!get || !add)
		return -EIO;
	sqlite3_bind_int64(get, 1, name);
	sqlite3_bind_int64(get, 2, file);
	sqlite3_bind_int64(add, 1, name);
	sqlite3_bind_int64(add, 2, file);
	sqlite3_bind_int64(add, 3, sys);
	return get_or_add(st, get, add, id);
}

static int resolve_str(struct store *st, uint32_t local, int64_t *id)
{
	struct wcache *wc = &st->wc;
	const char *s = profile__str(wc->in, local);
	sqlite3_stmt *get, *add;
	int err;

	if (grow64(&wc->str_db, &wc->str_cap, local + 1))
		return -ENOMEM;
	if (wc->str_db[local]) {
		*id = wc->str_db[local];
		return 0;
	}
	get = store__stmt(st, ST_STR_GET);
	add = store__stmt(st, ST_STR_ADD);
	if (!get || !add)
		return -EIO;
	sqlite3_bind_text(get, 1, s, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 1, s, -1, SQLITE_STATIC);
	err = get_or_add(st, get, add, id);
	if (!err)
		wc->str_db[local] = *id;
	return err;
}

static int resolve_frame(struct store *st, const struct profile *p,
			 uint32_t fid, uint32_t *local_out, int64_t *id)
{
	struct wcache *wc = &st->wc;
	struct frame f = *profile__frame(p, fid);
	int64_t name, file, path, func, map, sys = 0, bid = 0;
	sqlite3_stmt *get, *add;
	uint32_t local;
	int err;

	f.name = profile__intern(wc->in, profile__str(p, f.name));
	f.file = profile__intern(wc->in, profile__str(p, f.file));
	f.module = profile__intern(wc->in, profile__str(p, f.module));
	f.sysname = profile__intern(wc->in, profile__str(p, f.sysname));
	f.build_id = profile__intern(wc->in, profile__str(p, f.build_id));
	if (!f.build_id)
		f.offset = 0; /* an offset means nothing without its file */
	local = profile__add_frame(wc->in, &f);
	*local_out = local;
	if (profile__oom(wc->in) ||
	    grow64(&wc->frame_db, &wc->frame_cap, local + 1))
		return -ENOMEM;
	if (wc->frame_db[local]) {
		*id = wc->frame_db[local];
		return 0;
	}
	if ((err = resolve_str(st, f.name, &name)) ||
	    (err = resolve_str(st, f.file, &file)) ||
	    (err = resolve_str(st, f.module, &path)) ||
	    (f.sysname && (err = resolve_str(st, f.sysname, &sys))) ||
	    (f.build_id && (err = resolve_str(st, f.build_id, &bid))))
		return err;
	if ((err = function_row(st, name, file, sys, &func)))
		return err;
	get = store__stmt(st, ST_MAP_GET);
	add = store__stmt(st, ST_MAP_ADD);
	if (!get || !add)
		return -EIO;
	sqlite3_bind_int64(get, 1, path);
	sqlite3_bind_int64(add, 1, path);
	if ((err = get_or_add(st, get, add, &map)))
		return err;
	get = store__stmt(st, ST_FRAME_GET);
	add = store__stmt(st, ST_FRAME_ADD);
	if (!get || !add)
		return -EIO;
	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *s = i ? add : get;

		sqlite3_bind_int64(s, 1, func);
		sqlite3_bind_int64(s, 2, map);
		sqlite3_bind_int64(s, 3, f.line);
		sqlite3_bind_int64(s, 4, f.kind);
		sqlite3_bind_int64(s, 5, (int64_t)f.addr);
		sqlite3_bind_int64(s, 6, bid);
		sqlite3_bind_int64(s, 7, (int64_t)f.offset);
	}
	if ((err = get_or_add(st, get, add, id)))
		return err;
	wc->frame_db[local] = *id;
	return 0;
}

static int resolve_stack(struct store *st, const struct profile *p,
			 uint32_t sid, int64_t *id)
{
	struct wcache *wc = &st->wc;
	size_t depth;
	const uint32_t *fr = profile__stack(p, sid, &depth);
	uint32_t *locals = malloc((depth ? depth : 1) * sizeof(*locals));
	int64_t *dbf = malloc((depth ? depth : 1) * sizeof(*dbf));
	uint8_t *blob = NULL, *q;
	sqlite3_stmt *get, *add;
	uint32_t local;
	int err = 0;

	if (!locals || !dbf) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < depth; i++) {
		err = resolve_frame(st, p, fr[i], &locals[i], &dbf[i]);
		if (err)
			goto out;
	}
	local = profile__add_stack(wc->in, locals, depth);
	if (profile__oom(wc->in) ||
	    grow64(&wc->stack_db, &wc->stack_cap, local + 1)) {
		err = -ENOMEM;
		goto out;
	}
	if (wc->stack_db[local]) {
		*id = wc->stack_db[local];
		goto out;
	}
	blob = malloc(depth * 10 + 1);
	if (!blob) {
		err = -ENOMEM;
		goto out;
	}
	q = blob;
	for (size_t i = 0; i < depth; i++)
		q = varint__put(q, (uint64_t)dbf[i]);
	get = store__stmt(st, ST_STACK_GET);
	add = store__stmt(st, ST_STACK_ADD);
	if (!get || !add) {
		err = -EIO;
		goto out;
	}
	/* A zero-length blob would read back as NULL: keep it a blob. */
	sqlite3_bind_blob(get, 1, blob, (int)(q - blob), SQLITE_STATIC);
	sqlite3_bind_blob(add, 1, blob, (int)(q - blob), SQLITE_STATIC);
	if (q == blob) {
		sqlite3_bind_zeroblob(get, 1, 0);
		sqlite3_bind_zeroblob(add, 1, 0);
	}
	err = get_or_add(st, get, add, id);
	if (!err)
		wc->stack_db[local] = *id;
out:
	free(blob);
	free(locals);
	free(dbf);
	return err;
}

static int label_key_cmp(const void *a, const void *b, void *ctx)
{
	const struct label *x = a, *y = b;
	const struct profile *p = ctx;

	return strcmp(profile__str(p, x->key), profile__str(p, y->key));
}

/* 'index_labels': also in series_labels (filters, label pickers); not for
 * fleet series, which readers never show as such. */
static int resolve_series(struct store *st, const struct profile *p,
			  uint32_t sid, bool index_labels, uint32_t *local_out,
			  int64_t *id)
{
	struct wcache *wc = &st->wc;
	size_t n;
	const struct label *l = profile__series(p, sid, &n);
	struct label *ll = malloc((n ? n : 1) * sizeof(*ll));
	int64_t *kv = malloc((n ? n : 1) * 2 * sizeof(*kv));
	uint8_t *blob = malloc(n * 20 + 1), *q = blob;
	sqlite3_stmt *get, *add, *lab;
	uint32_t local;
	int err = 0, rc;

	if (!ll || !kv || !blob) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ll[i].key = profile__intern(wc->in, profile__str(p, l[i].key));
		ll[i].value =
		    profile__intern(wc->in, profile__str(p, l[i].value));
	}
	local = profile__add_series(wc->in, ll, n);
	*local_out = local;
	if (profile__oom(wc->in) ||
	    grow64(&wc->series_db, &wc->series_cap, local + 1) ||
	    grow64(&wc->series_hour, &wc->hour_cap, local + 1)) {
		err = -ENOMEM;
		goto out;
	}
	if (wc->series_db[local]) {
		*id = wc->series_db[local];
		goto out;
	}
	/* The canonical identity: pairs in key-name order. */
	qsort_r(ll, n, sizeof(*ll), label_key_cmp, wc->in);
	for (size_t i = 0; i < n; i++) {
		if ((err = resolve_str(st, ll[i].key, &kv[2 * i])) ||
		    (err = resolve_str(st, ll[i].value, &kv[2 * i + 1])))
			goto out;
		q = varint__put(q, (uint64_t)kv[2 * i]);
		q = varint__put(q, (uint64_t)kv[2 * i + 1]);
	}
	get = store__stmt(st, ST_SERIES_GET);
	if (!get) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_blob(get, 1, blob, (int)(q - blob), SQLITE_STATIC);
	if (q == blob)
		sqlite3_bind_zeroblob(get, 1, 0);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(get, 0);
		wc->series_hour[local] = sqlite3_column_int64(get, 1);
		sqlite3_reset(get);
		wc->series_db[local] = *id;
		goto out;
	}
	sqlite3_reset(get);
	if (rc != SQLITE_DONE) {
		err = store__sqlerr(st, rc, "looking up a series");
		goto out;
	}
	add = store__stmt(st, ST_SERIES_ADD);
	if (!add) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_blob(add, 1, blob, (int)(q - blob), SQLITE_STATIC);
	if (q == blob)
		sqlite3_bind_zeroblob(add, 1, 0);
	sqlite3_bind_int64(add, 2, 0);
	rc = sqlite3_step(add);
	sqlite3_reset(add);
	if (rc != SQLITE_DONE) {
		err = store__sqlerr(st, rc, "adding a series");
		goto out;
	}
	*id = sqlite3_last_insert_rowid(st->db);
	for (size_t i = 0; index_labels && i < n; i++) {
		lab = store__stmt(st, ST_SERIES_LABEL_ADD);
		if (!lab) {
			err = -EIO;
			goto out;
		}
		sqlite3_bind_int64(lab, 1, kv[2 * i]);
		sqlite3_bind_int64(lab, 2, kv[2 * i + 1]);
		sqlite3_bind_int64(lab, 3, *id);
		rc = sqlite3_step(lab);
		sqlite3_reset(lab);
		if (rc != SQLITE_DONE) {
			err = store__sqlerr(st, rc, "adding series labels");
			goto out;
		}
	}
	wc->series_db[local] = *id;
	wc->series_hour[local] = 0;
out:
	free(ll);
	free(kv);
	free(blob);
	return err;
}

/* ---- writer: sample rows ---- */

struct went {
	uint64_t bucket; /* in the level's units */
	uint32_t series; /* database id */
	uint32_t stack;	 /* database id */
	uint32_t slot;
	uint32_t pad;
	uint64_t count;
};

static int went_cmp(const void *a, const void *b)
{
	const struct went *x = a, *y = b;

	if (x->bucket != y->bucket)
		return x->bucket < y->bucket ? -1 : 1;
	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return 0;
}

static inline bool went_less(const struct went *x, const struct went *y)
{
	if (x->bucket != y->bucket)
		return x->bucket < y->bucket;
	if (x->series != y->series)
		return x->series < y->series;
	if (x->stack != y->stack)
		return x->stack < y->stack;
	return x->slot < y->slot;
}

/* qsort() with an inlined comparison: sorting is a hot part of a write. */
static void went_sort(struct went *w, size_t n)
{
	while (n > 16) {
		struct went pivot, t;
		size_t i = 0, j = n - 1, m = n / 2;

		/* Median of three. */
		if (went_less(&w[m], &w[0])) {
			t = w[m];
			w[m] = w[0];
			w[0] = t;
		}
		if (went_less(&w[j], &w[0])) {
			t = w[j];
			w[j] = w[0];
			w[0] = t;
		}
		if (went_less(&w[j], &w[m])) {
			t = w[j];
			w[j] = w[m];
			w[m] = t;
		}
		pivot = w[m];
		for (;;) {
			while (went_less(&w[i], &pivot))
				i++;
			while (went_less(&pivot, &w[j]))
				j--;
			if (i >= j)
				break;
			t = w[i];
			w[i] = w[j];
			w[j] = t;
			i++;
			j--;
		}
		/* Recurse into the smaller side, loop on the larger. */
		if (j + 1 < n - j - 1) {
			went_sort(w, j + 1);
			w += j + 1;
			n -= j + 1;
		} else {
			went_sort(w + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (size_t i = 1; i < n; i++) {
		struct went t = w[i];
		size_t j = i;

		while (j > 0 && went_less(&t, &w[j - 1])) {
			w[j] = w[j - 1];
			j--;
		}
		w[j] = t;
	}
}

/* Sorts and sums equal keys in place; returns the new length. */
static size_t went_merge(struct went *w, size_t n)
{
	size_t out = 0;

	if (!n)
		return 0;
	went_sort(w, n);
	for (size_t i = 1; i < n; i++) {
		if (!went_cmp(&w[i], &w[out]))
			w[out].count += w[i].count;
		else
			w[++out] = w[i];
	}
	return out + 1;
}

/* Writes the row (bucket, series) of 'lvl' as these entries, sorted by
 * (stack, slot) and unique, whose counts sum to 'total'. */
static int row_put(struct store *st, enum level lvl, uint64_t bucket,
		   uint32_t series, const struct blob_ent *ents, size_t n,
		   uint64_t total)
{
	sqlite3_stmt *put = store__stmt(st, ST_ROW_PUT_10S + lvl);
	uint8_t *blob;
	size_t size;
	int rc;

	if (!put)
		return -EIO;
	size = blob__encode(ents, n, lvl == LVL_10S, &blob);
	if (!blob)
		return -ENOMEM;
	sqlite3_bind_int64(put, 1, (int64_t)bucket);
	sqlite3_bind_int64(put, 2, series);
	sqlite3_bind_int64(put, 3, (int64_t)total);
	sqlite3_bind_blob(put, 4, blob, (int)size, SQLITE_STATIC);
	rc = sqlite3_step(put);
	sqlite3_reset(put);
	free(blob);
	return rc == SQLITE_DONE
		   ? 0
		   : store__sqlerr(st, rc, "writing a sample row");
}

/*
 * Adds sorted, unique entries to the row (bucket, series) of 'lvl',
 * merging with what the row already holds.
 */
static int row_add(struct store *st, enum level lvl, uint64_t bucket,
		   uint32_t series, const struct went *w, size_t n)
{
	bool slots = lvl == LVL_10S;
	sqlite3_stmt *get = store__stmt(st, ST_ROW_GET_10S + lvl);
	struct blob_ent *old = NULL, *all = NULL;
	size_t nold = 0, cap = 0, nall = 0, i = 0, j = 0;
	uint64_t total = 0;
	int err = 0, rc;

	if (!get)
		return -EIO;
	sqlite3_bind_int64(get, 1, (int64_t)bucket);
	sqlite3_bind_int64(get, 2, series);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW) {
		err = blob__decode(sqlite3_column_blob(get, 1),
				   (size_t)sqlite3_column_bytes(get, 1), slots,
				   &old, &nold, &cap);
		if (err) {
			pr_err("store '%s': a row of %s is malformed", st->path,
			       level_table[lvl]);
			goto out;
		}
	} else if (rc != SQLITE_DONE) {
		err = store__sqlerr(st, rc, "reading a sample row");
		goto out;
	}
	sqlite3_reset(get);
	all = malloc((nold + n) * sizeof(*all) + 1);
	if (!all) {
		err = -ENOMEM;
		goto out;
	}
	/* Both sides are sorted by (stack, slot): a linear merge. */
	while (i < nold || j < n) {
		struct blob_ent e;

		if (j == n || (i < nold && (old[i].stack < w[j].stack ||
					    (old[i].stack == w[j].stack &&
					     old[i].slot < w[j].slot)))) {
			e = old[i++];
		} else {
			e = (struct blob_ent){w[j].stack, slots ? w[j].slot : 0,
					      w[j].count};
			j++;
			if (i < nold && old[i].stack == e.stack &&
			    old[i].slot == e.slot)
				e.count += old[i++].count;
		}
		total += e.count;
		all[nall++] = e;
	}
	err = row_put(st, lvl, bucket, series, all, nall, total);
out:
	sqlite3_reset(get);
	free(old);
	free(all);
	return err;
}

/* Writes entries sorted by (bucket, series, stack, slot), row by row. */
static int rows_add(struct store *st, enum level lvl, const struct went *w,
		    size_t n)
{
	for (size_t i = 0, j; i < n; i = j) {
		int err;

		for (j = i + 1; j < n && w[j].bucket == w[i].bucket &&
				w[j].series == w[i].series;
		     j++)
			;
		err = row_add(st, lvl, w[i].bucket, w[i].series, w + i, j - i);
		if (err)
			return err;
	}
	return 0;
}

/* ---- fleet rows with slots (FLEET_SLOTS_FROM in store_int.h) ---- */

#define FLEET_OF_MAX (1u << 24) /* series ids cached below this */

static int str_lookup(struct store *st, const char *str, int64_t *id)
{
	sqlite3_stmt *get = store__stmt(st, ST_STR_GET);
	int rc;

	if (!get)
		return -EIO;
	sqlite3_bind_text(get, 1, str, -1, SQLITE_STATIC);
	rc = sqlite3_step(get);
	*id = rc == SQLITE_ROW ? sqlite3_column_int64(get, 0) : 0;
	sqlite3_reset(get);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		   ? 0
		   : store__sqlerr(st, rc, "looking up a string");
}

/*
 * The id of the fleet series that stored series 'series' is summed into
 * (the one of its process name), -1 when it is a fleet series itself, 0
 * when it has none (written before fleet series, or a damaged store).
 */
static int fleet_of(struct store *st, int64_t series, int64_t *out)
{
	struct wcache *wc = &st->wc;
	bool cache = series > 0 && series < (int64_t)FLEET_OF_MAX;
	int64_t fk = 0, ck = 0, v = 0, pairs[4];
	uint8_t blob[40], *q = blob;
	const uint8_t *p, *end;
	sqlite3_stmt *s;
	int err, rc;

	if (cache && (size_t)series < wc->fleet_cap && wc->fleet_of[series]) {
		*out = wc->fleet_of[series];
		return 0;
	}
	*out = 0;
	if ((err = str_lookup(st, FLEET_KEY, &fk)) ||
	    (err = str_lookup(st, LABEL_COMM, &ck)))
		return err;
	if (!(s = store__stmt(st, ST_SERIES_LABELS)))
		return -EIO;
	sqlite3_bind_int64(s, 1, series);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE
			   ? 0
			   : store__sqlerr(st, rc, "reading a series");
	}
	p = sqlite3_column_blob(s, 0);
	end = p ? p + sqlite3_column_bytes(s, 0) : NULL;
	while (p && p < end) {
		uint64_t k, val;

		if (!(p = varint__get(p, end, &k)) ||
		    !(p = varint__get(p, end, &val)))
			break;
		if (fk && (int64_t)k == fk)
			*out = -1;
		else if (ck && (int64_t)k == ck)
			v = (int64_t)val;
	}
	sqlite3_reset(s);
	/* No process name: the fleet series of "". */
	if (!*out && !v && (err = str_lookup(st, "", &v)))
		return err;
	if (!*out && fk && ck && v) {
		/* Its labels in key-name order: __kiln_fleet, then comm. */
		pairs[0] = fk;
		pairs[1] = ck; /* FLEET_COMM is the same string */
		pairs[2] = ck;
		pairs[3] = v;
		for (int i = 0; i < 4; i++)
			q = varint__put(q, (uint64_t)pairs[i]);
		if (!(s = store__stmt(st, ST_SERIES_GET)))
			return -EIO;
		sqlite3_bind_blob(s, 1, blob, (int)(q - blob), SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			*out = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return store__sqlerr(st, rc, "finding a fleet series");
	}
	if (cache && *out &&
	    !grow64(&wc->fleet_of, &wc->fleet_cap, (size_t)series + 1))
		wc->fleet_of[series] = *out;
	return 0;
}

/* One 10 s bucket's fleet rows summed per (series, stack, slot), up to
 * FSUM_MAX entries (~170 MB with the hash). */
#define FSUM_MAX (4u << 20)

struct fsum {
	struct went *w;
	size_t n, cap;
	uint32_t *tab; /* open addressing: index into w + 1 */
	size_t mask;
};

static size_t fsum_hash(uint32_t series, uint32_t stack, uint32_t slot)
{
	return (size_t)hash__mix64(((uint64_t)series << 32 | stack) * 512 +
				   slot);
}

static int fsum_add(struct fsum *f, uint32_t series, uint32_t stack,
		    uint32_t slot, uint64_t count)
{
	size_t h;

	if ((f->n + 1) * 2 > f->mask + 1) {
		size_t ncap = f->mask ? (f->mask + 1) * 2 : 4096;
		uint32_t *t = calloc(ncap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (size_t i = 0; i < f->n; i++) {
			h = fsum_hash(f->w[i].series, f->w[i].stack,
				      f->w[i].slot) &
			    (ncap - 1);
			while (t[h])
				h = (h + 1) & (ncap - 1);
			t[h] = (uint32_t)i + 1;
		}
		free(f->tab);
		f->tab = t;
		f->mask = ncap - 1;
	}
	for (h = fsum_hash(series, stack, slot) & f->mask; f->tab[h];
	     h = (h + 1) & f->mask) {
		struct went *e = &f->w[f->tab[h] - 1];

		if (e->series == series && e->stack == stack &&
		    e->slot == slot) {
			e->count += count;
			return 0;
		}
	}
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 4096;
		struct went *nw = realloc(f->w, ncap * sizeof(*nw));

		if (!nw)
			return -ENOMEM;
		f->w = nw;
		f->cap = ncap;
	}
	f->w[f->n] = (struct went){
	    .series = series, .stack = stack, .slot = slot, .count = count};
	f->tab[h] = (uint32_t)++f->n;
	return 0;
}

/* Writes the summed fleet rows of 10 s bucket 'bucket' in place of what
 * they held (the same samples at slot 0), and empties 'f'. */
static int fsum_flush(struct store *st, struct fsum *f, int64_t bucket)
{
	struct blob_ent *e = NULL;
	int err = 0;

	if (!f->n)
		return 0;
	went_sort(f->w, f->n);
	e = malloc(f->n * sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0, j; i < f->n && !err; i = j) {
		uint64_t total = 0;

		for (j = i; j < f->n && f->w[j].series == f->w[i].series; j++) {
			e[j - i] = (struct blob_ent){
			    f->w[j].stack, f->w[j].slot, f->w[j].count};
			total += f->w[j].count;
		}
		err = row_put(st, LVL_10S, (uint64_t)bucket, f->w[i].series, e,
			      j - i, total);
	}
	free(e);
	memset(f->tab, 0, (f->mask + 1) * sizeof(*f->tab));
	f->n = 0;
	return err;
}

/*
 * Rolls up every 'lvl' bucket in [first, upto) from the level below,
 * reading the source rows in key order and writing one target bucket at a
 * time.
 */
static int rollup(struct store *st, enum level lvl, int64_t first, int64_t upto)
{
	uint64_t ratio = level_width_s[lvl] / level_width_s[lvl - 1];
	sqlite3_stmt *scan = store__stmt(st, ST_SCAN_10S + lvl - 1);
	struct blob_ent *ents = NULL;
	struct went *w = NULL;
	size_t nents, cap = 0, nw = 0, wcap = 0;
	int64_t cur = -1;
	int err = 0, rc;
	/* Minutes: the fleet rows of their 10 s buckets get slots. */
	struct fsum fs = {0};
	int64_t since = 0, sfrom = 0, sto = 0, fcur = -1;
	bool slots = lvl == LVL_1M;

	if (!scan)
		return -EIO;
	if (slots && ((err = store__meta_get(st, "fleet_since", &since)) ||
		      (err = store__meta_get(st, FLEET_SLOTS_FROM, &sfrom)) ||
		      (err = store__meta_get(st, FLEET_SLOTS_TO, &sto))))
		return err;
	slots = slots && since >= 0;
	/* The span goes on where it ended, or starts again here. */
	if (slots && (!sto || sto != first * (int64_t)ratio))
		sfrom = first * (int64_t)ratio;
	sqlite3_bind_int64(scan, 1, first * (int64_t)ratio);
	sqlite3_bind_int64(scan, 2, upto * (int64_t)ratio);
	for (;;) {
		rc = sqlite3_step(scan);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			err = store__sqlerr(st, rc, "reading rows to roll up");
			goto out;
		}
		int64_t raw =
		    rc == SQLITE_ROW ? sqlite3_column_int64(scan, 0) : -1;
		int64_t b = raw >= 0 ? raw / (int64_t)ratio : -1;
		uint32_t series = 0;

		/* Decoded before anything is written: the fleet rows
		 * rewritten below are in the table being scanned. */
		nents = 0;
		if (rc == SQLITE_ROW) {
			err = blob__decode(
			    sqlite3_column_blob(scan, 3),
			    (size_t)sqlite3_column_bytes(scan, 3),
			    lvl - 1 == LVL_10S, &ents, &nents, &cap);
			if (err)
				goto out;
			series = (uint32_t)sqlite3_column_int64(scan, 1);
		}
		if (b != cur && nw) {
			/* The scan statement stays open while we write: fine,
			 * the rows written are in another table. */
			nw = went_merge(w, nw);
			err = rows_add(st, lvl, w, nw);
			if (err)
				goto out;
			nw = 0;
		}
		/* The scan has left bucket fcur: its fleet rows (behind the
		 * scan's position) are rewritten with their slots. */
		if (slots && raw != fcur && fs.n &&
		    (err = fsum_flush(st, &fs, fcur)))
			goto out;
		fcur = raw;
		if (rc == SQLITE_DONE)
			break;
		cur = b;
		int64_t fleet = 0;

		if (slots && raw * 10 >= since) {
			if ((err = fleet_of(st, series, &fleet)))
				goto out;
			if (!fleet) {
				/* Not every sample has its fleet series:
				 * these buckets keep rows without slots. */
				slots = false;
				fs.n = 0;
				if (fs.tab)
					memset(fs.tab, 0,
					       (fs.mask + 1) * sizeof(*fs.tab));
			}
		}
		for (size_t i = 0; slots && fleet > 0 && i < nents; i++)
			if ((err = fsum_add(&fs, (uint32_t)fleet, ents[i].stack,
					    ents[i].slot, ents[i].count)))
				goto out;
		if (slots && fs.n > FSUM_MAX) {
			/* A bucket of very many distinct stacks: its cut
			 * reads stay per stored series, and memory bounded. */
			slots = false;
			free(fs.w);
			free(fs.tab);
			memset(&fs, 0, sizeof(fs));
		}
		for (size_t i = 0; i < nents; i++) {
			/* Raw entries come per slot: sum a stack's run first.
			 */
			if (i && ents[i].stack == ents[i - 1].stack) {
				w[nw - 1].count += ents[i].count;
				continue;
			}
			/* Full: sum what repeats first (an hour sees each
			 * stack in up to 60 minute rows), and grow only when
			 * that leaves it more than half full. Without this,
			 * an hour's rollup held every minute's entries (16 MB
			 * for this machine's agent, 67 MB in bench_store). */
			bool full = nw == wcap;

			if (full && wcap)
				nw = went_merge(w, nw);
			if (full && (!wcap || nw > wcap / 2)) {
				size_t ncap = wcap ? wcap * 2 : 4096;
				struct went *grown =
				    realloc(w, ncap * sizeof(*w));

				if (!grown) {
					err = -ENOMEM;
					goto out;
				}
				w = grown;
				wcap = ncap;
			}
			w[nw++] = (struct went){.bucket = (uint64_t)cur,
						.series = series,
						.stack = ents[i].stack,
						.count = ents[i].count};
		}
	}
	if (slots && ((err = store__meta_set(st, FLEET_SLOTS_FROM, sfrom)) ||
		      (err = store__meta_set(st, FLEET_SLOTS_TO,
					     upto * (int64_t)ratio))))
		goto out;
out:
	sqlite3_reset(scan);
	free(ents);
	free(w);
	free(fs.w);
	free(fs.tab);
	return err;
}

static int min_bucket(struct store *st, enum level lvl, int64_t *out)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "SELECT min(bucket) FROM %s",
		 level_table[lvl]);
	return int_pragma(st, sql, out);
}

static const char *const rolled_key[NR_LEVELS] = {NULL, "rolled_1m",
						  "rolled_1h"};

/* Advances the rollup watermarks after raw data up to 'max_raw'. */
static int roll_forward(struct store *st, uint64_t max_raw)
{
	int64_t target[NR_LEVELS], mark;
	int err;

	target[LVL_1M] = (int64_t)(max_raw * 10 / 60);
	for (int lvl = LVL_1M; lvl < NR_LEVELS; lvl++) {
		if ((err = store__meta_get(st, rolled_key[lvl], &mark)))
			return err;
		if (!mark) {
			/* First rollup: start at the oldest data there is. */
			int64_t m;

			if ((err = min_bucket(st, lvl - 1, &m)))
				return err;
			mark = m * (int64_t)level_width_s[lvl - 1] /
			       (int64_t)level_width_s[lvl];
			if (!mark)
				break; /* nothing below: nothing to roll */
			if ((err = store__meta_set(st, rolled_key[lvl], mark)))
				return err;
		}
		if (mark < target[lvl]) {
			if ((err = rollup(st, lvl, mark, target[lvl])) ||
			    (err = store__meta_set(st, rolled_key[lvl],
						   target[lvl])))
				return err;
			mark = target[lvl];
		}
		if (lvl + 1 < NR_LEVELS)
			target[lvl + 1] = mark * (int64_t)level_width_s[lvl] /
					  (int64_t)level_width_s[lvl + 1];
	}
	return 0;
}

/* Data for periods already rolled up goes into the rollups directly. */
static int add_late(struct store *st, struct went *w, size_t n)
{
	int64_t mark[NR_LEVELS];
	struct went *late = NULL;
	size_t nl = 0;
	int err;

	if ((err = store__meta_get(st, rolled_key[LVL_1M], &mark[LVL_1M])) ||
	    (err = store__meta_get(st, rolled_key[LVL_1H], &mark[LVL_1H])))
		return err;
	for (int lvl = LVL_1M; lvl < NR_LEVELS && !err; lvl++) {
		uint64_t div = level_width_s[lvl] / 10;

		nl = 0;
		for (size_t i = 0; i < n; i++) {
			uint64_t b = w[i].bucket / div;

			if (!mark[lvl] || (int64_t)b >= mark[lvl])
				continue;
			if (!late && !(late = malloc(n * sizeof(*late)))) {
				err = -ENOMEM;
				break;
			}
			late[nl] = w[i];
			late[nl].bucket = b;
			late[nl++].slot = 0;
		}
		nl = went_merge(late, nl);
		err = rows_add(st, (enum level)lvl, late, nl);
	}
	free(late);
	return err;
}

static int check_generation(struct store *st)
{
	int64_t gen;
	int err = store__meta_get(st, "gc_generation", &gen);

	if (err)
		return err;
	if (gen != st->gc_generation) {
		st->gc_generation = gen;
		return wcache__reset(&st->wc);
	}
	/* Empty after a failed reset, or grown too big: start again. */
	if (!st->wc.in || profile__oom(st->wc.in))
		return wcache__reset(&st->wc);
	if (profile__nr_series(st->wc.in) > WCACHE_MAX_SERIES ||
	    profile__nr_strings(st->wc.in) > WCACHE_MAX_STRINGS ||
	    wcache__bytes(&st->wc) > WCACHE_MAX_BYTES) {
		st->stats.cache_resets++;
		return wcache__reset(&st->wc);
	}
	return 0;
}

/* Records that series 'id' (local 'l') has data in 'hour', for series
 * garbage collection. */
static int touch_series(struct store *st, uint32_t l, int64_t id, int64_t hour)
{
	sqlite3_stmt *touch;
	int rc;

	if (st->wc.series_hour[l] >= hour)
		return 0;
	if (!(touch = store__stmt(st, ST_SERIES_TOUCH)))
		return -EIO;
	sqlite3_bind_int64(touch, 1, hour);
	sqlite3_bind_int64(touch, 2, id);
	rc = sqlite3_step(touch);
	sqlite3_reset(touch);
	if (rc != SQLITE_DONE)
		return store__sqlerr(st, rc, "updating a series");
	st->wc.series_hour[l] = hour;
	return 0;
}

/*
 * The fleet series of series 'sid' of 'p': labels {comm: its comm,
 * FLEET_KEY: FLEET_COMM}, interned through 'fleet' (a scratch profile),
 * not indexed in series_labels.
 */
static int resolve_fleet(struct store *st, const struct profile *p,
			 uint32_t sid, struct profile *fleet, uint32_t *local,
			 int64_t *id)
{
	const char *comm = profile__series_label(p, sid, LABEL_COMM);
	struct label l[2] = {
	    {profile__intern(fleet, LABEL_COMM),
	     profile__intern(fleet, comm ? comm : "")},
	    {profile__intern(fleet, FLEET_KEY),
	     profile__intern(fleet, FLEET_COMM)},
	};
	uint32_t fsid = profile__add_series(fleet, l, 2);

	if (profile__oom(fleet))
		return -ENOMEM;
	return resolve_series(st, fleet, fsid, false, local, id);
}

static int write_locked(struct store *st, const struct profile *p,
			uint64_t *nsamples)
{
	size_t n, nr_series = profile__nr_series(p);
	size_t nr_stacks = profile__nr_stacks(p);
	const struct sample *s = profile__samples(p, &n);
	const struct profile_meta *meta = profile__meta_const(p);
	uint64_t fallback = meta->start_ns ? meta->start_ns : clock__unix_ns();
	int64_t *smap = calloc(nr_series ? nr_series : 1, sizeof(*smap));
	uint32_t *slocal = calloc(nr_series ? nr_series : 1, sizeof(*slocal));
	/* each series' fleet series (store_int.h), and its local id */
	int64_t *fmap = calloc(nr_series ? nr_series : 1, sizeof(*fmap));
	uint32_t *flocal = calloc(nr_series ? nr_series : 1, sizeof(*flocal));
	struct profile *fleet = profile__new();
	int64_t *stmap = calloc(nr_stacks ? nr_stacks : 1, sizeof(*stmap));
	uint64_t(*ffp)[2] = NULL; /* per frame of p, computed on first use */
	uint8_t *ffp_done = NULL;
	struct went *w = malloc((n ? 2 * n : 1) * sizeof(*w));
	uint64_t max_raw = 0;
	int64_t period, sfrom = 0, sto = 0;
	int err = 0;

	if (!w || !smap || !slocal || !stmap || !fmap || !flocal || !fleet) {
		err = -ENOMEM;
		goto out;
	}
	profile__set_checked(fleet);
	if ((err = check_generation(st)) ||
	    (err = store__meta_get(st, FLEET_SLOTS_FROM, &sfrom)) ||
	    (err = store__meta_get(st, FLEET_SLOTS_TO, &sto)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = s[i].time_ns ? s[i].time_ns : fallback;

		if (!s[i].count)
			continue;
		if (!smap[s[i].series] &&
		    ((err = resolve_series(st, p, s[i].series, true,
					   &slocal[s[i].series],
					   &smap[s[i].series])) ||
		     (err = resolve_fleet(st, p, s[i].series, fleet,
					  &flocal[s[i].series],
					  &fmap[s[i].series]))))
			goto out;
		if (!stmap[s[i].stack]) {
			size_t depth, nf = profile__nr_frames(p);
			const uint32_t *fr =
			    profile__stack(p, s[i].stack, &depth);
			uint64_t a = 0x6a09e667f3bcc908ULL ^ depth;
			uint64_t b = 0xbb67ae8584caa73bULL ^ depth;
			struct fp_ent *e;

			if (!ffp) {
				ffp = malloc((nf ? nf : 1) * sizeof(*ffp));
				ffp_done = calloc(nf ? nf : 1, 1);
				if (!ffp || !ffp_done) {
					err = -ENOMEM;
					goto out;
				}
			}
			for (size_t j = 0; j < depth; j++) {
				if (!ffp_done[fr[j]]) {
					frame_fp(p, fr[j], ffp[fr[j]]);
					ffp_done[fr[j]] = 1;
				}
				a = hash__mix64(a ^ ffp[fr[j]][0]) + j;
				b = hash__mix64(b + ffp[fr[j]][1]) ^ j;
			}
			a |= 1;
			e = fp_slot(&st->wc, a, b);
			if (e->a) {
				stmap[s[i].stack] = e->id;
			} else {
				if ((err = resolve_stack(st, p, s[i].stack,
							 &stmap[s[i].stack])))
					goto out;
				if ((err = fp_insert(&st->wc, a, b,
						     stmap[s[i].stack])))
					goto out;
			}
		}
		w[i] = (struct went){
		    .bucket = t / (10 * NS_PER_SEC),
		    .series = (uint32_t)smap[s[i].series],
		    .stack = (uint32_t)stmap[s[i].stack],
		    .slot = (uint32_t)(t % (10 * NS_PER_SEC) / SLOT_NS),
		    .count = s[i].count,
		};
		*nsamples += s[i].count;
		if (w[i].bucket > max_raw)
			max_raw = w[i].bucket;
		/* The same samples summed into the fleet series, at
		 * bucket resolution (slot 0), or with their slots where
		 * the fleet rows have them (late data, store_int.h). */
		w[n + i] = w[i];
		w[n + i].series = (uint32_t)fmap[s[i].series];
		if ((int64_t)w[i].bucket < sfrom || (int64_t)w[i].bucket >= sto)
			w[n + i].slot = 0;
		/* Newest hour per series, for series garbage collection. */
		int64_t hour = (int64_t)(t / NS_PER_SEC / 3600);
		if ((err = touch_series(st, slocal[s[i].series],
					smap[s[i].series], hour)) ||
		    (err = touch_series(st, flocal[s[i].series],
					fmap[s[i].series], hour)))
			goto out;
	}
	/* Zero counts were skipped above; compact them away. */
	size_t m = 0;
	for (size_t i = 0; i < 2 * n; i++)
		if (s[i % n].count)
			w[m++] = w[i];
	m = went_merge(w, m);
	if (!m)
		goto out;
	if ((err = rows_add(st, LVL_10S, w, m)) || (err = add_late(st, w, m)) ||
	    (err = roll_forward(st, max_raw)))
		goto out;
	if (meta->period_ns && meta->period_ns != st->period_ns) {
		if ((err = store__meta_get(st, "period_ns", &period)))
			goto out;
		if ((uint64_t)period != meta->period_ns &&
		    (err = store__meta_set(st, "period_ns",
					   (int64_t)meta->period_ns)))
			goto out;
		st->period_ns = meta->period_ns;
	}
out:
	free(ffp);
	free(ffp_done);
	free(w);
	free(smap);
	free(slocal);
	free(fmap);
	free(flocal);
	profile__free(fleet);
	free(stmap);
	return err;
}

int store__write_tx(struct store *st, const struct profile *p,
		    int (*hook)(struct store *st, void *ctx), void *ctx)
{
	uint64_t nsamples = 0;
	int err, rc;

	if (st->read_only)
		return -EROFS;
	rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		err = store__sqlerr(st, rc, "starting a write");
		goto fail;
	}
	/* The hook first: it may find the write is not wanted (-EEXIST). */
	err = hook ? hook(st, ctx) : 0;
	if (!err)
		err = write_locked(st, p, &nsamples);
	if (!err) {
		rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			err = store__sqlerr(st, rc, "committing a window");
	}
	if (err) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	if (st->last_err)
		pr_info("store '%s': writing again", st->path);
	st->last_err = 0;
	st->stats.windows_written++;
	st->stats.samples_written += nsamples;
	return 0;
fail:
	/* Ids cached during the rolled-back transaction do not exist. */
	(void)wcache__reset(&st->wc);
	if (err != -EEXIST)
		st->stats.write_errors++;
	return err;
}

static int sqlite__write(struct store *st, const struct profile *p)
{
	return store__write_tx(st, p, NULL, NULL);
}

/* ---- frames named again ---- */

static int sqlite__frames_of_build_id(struct store *st, const char *build_id,
				      int64_t after,
				      struct store_frame_ref *out, size_t max)
{
	sqlite3_stmt *s = store__stmt(st, ST_FRAMES_OF_BUILD);
	size_t n = 0;
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, build_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, after);
	sqlite3_bind_int64(s, 3, FRAME_USER);
	sqlite3_bind_int64(s, 4, (int64_t)(max < INT32_MAX ? max : INT32_MAX));
	while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		out[n++] = (struct store_frame_ref){
		    .id = sqlite3_column_int64(s, 0),
		    .offset = (uint64_t)sqlite3_column_int64(s, 1),
		};
	sqlite3_reset(s);
	if (n < max && rc != SQLITE_DONE)
		return store__sqlerr(st, rc,
				     "reading the frames of a build id");
	return (int)n;
}

/* functions.id of (name, file, system_name), added when missing. */
static int function_id(struct store *st, const struct store_frame_name *fn,
		       int64_t *id)
{
	struct wcache *wc = &st->wc;
	int64_t name, file, sys = 0;
	uint32_t lname, lfile, lsys;
	int err;

	lname = profile__intern(wc->in, fn->name);
	lfile = profile__intern(wc->in, fn->file ? fn->file : "");
	lsys = fn->system_name ? profile__intern(wc->in, fn->system_name) : 0;
	if (profile__oom(wc->in))
		return -ENOMEM;
	if ((err = resolve_str(st, lname, &name)) ||
	    (err = resolve_str(st, lfile, &file)) ||
	    (lsys && (err = resolve_str(st, lsys, &sys))))
		return err;
	return function_row(st, name, file, sys, id);
}

static int rename_locked(struct store *st, const struct store_frame_name *n,
			 size_t nr, int *changed)
{
	int err, rc;

	for (size_t i = 0; i < nr; i++) {
		sqlite3_stmt *cur, *set;
		int64_t func;

		if (!n[i].name || !n[i].name[0])
			continue;
		if ((err = function_id(st, &n[i], &func)))
			return err;
		cur = store__stmt(st, ST_FRAME_NAME_CUR);
		if (!cur)
			return -EIO;
		sqlite3_bind_int64(cur, 1, n[i].id);
		rc = sqlite3_step(cur);
		if (rc == SQLITE_ROW && sqlite3_column_int64(cur, 0) == func &&
		    sqlite3_column_int64(cur, 1) == (int64_t)n[i].line) {
			sqlite3_reset(cur);
			continue; /* already so named */
		}
		sqlite3_reset(cur);
		if (rc == SQLITE_DONE)
			continue; /* no such frame */
		if (rc != SQLITE_ROW)
			return store__sqlerr(st, rc, "reading a frame's name");
		set = store__stmt(st, ST_FRAME_NAME_SET);
		if (!set)
			return -EIO;
		sqlite3_bind_int64(set, 1, n[i].id);
		sqlite3_bind_int64(set, 2, func);
		sqlite3_bind_int64(set, 3, n[i].line);
		rc = sqlite3_step(set);
		sqlite3_reset(set);
		if (rc != SQLITE_DONE)
			return store__sqlerr(st, rc, "naming a frame again");
		++*changed;
	}
	return 0;
}

static int sqlite__rename_frames(struct store *st,
				 const struct store_frame_name *n, size_t nr)
{
	int changed = 0, err;

	if (st->read_only)
		return -EROFS;
	if (!st->wc.in && (err = wcache__reset(&st->wc)))
		return err;
	if ((err = store__exec(st, "BEGIN IMMEDIATE")))
		return err;
	err = rename_locked(st, n, nr, &changed);
	if (!err)
		err = store__exec(st, "COMMIT");
	if (err) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		/* Ids cached during the rolled-back transaction do not exist.
		 */
		(void)wcache__reset(&st->wc);
		return err;
	}
	return changed;
}

/* ---- retention ---- */

/* Deletes rows of 'lvl' older than 'cutoff_s' in short transactions. */
static int delete_before(struct store *st, enum level lvl, uint64_t cutoff_s)
{
	uint64_t width = level_width_s[lvl];
	int64_t end = (int64_t)(cutoff_s / width), first;
	int64_t step = (int64_t)((RETENTION_BATCH_S + width - 1) / width);
	char sql[96];
	int err;

	if ((err = min_bucket(st, lvl, &first)))
		return err;
	if (!first)
		return 0;
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE bucket < ?",
		 level_table[lvl]);
	/* Hour rows span 360 raw buckets: a batch of a few is still small. */
	if (lvl == LVL_1H)
		step = 6;
	for (int64_t b = first + step; first < end; b += step) {
		sqlite3_stmt *del;
		int rc;

		if (b > end)
			b = end;
		if ((err = store__exec(st, "BEGIN IMMEDIATE")))
			return err;
		rc = sqlite3_prepare_v2(st->db, sql, -1, &del, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(del, 1, b);
			rc = sqlite3_step(del);
			sqlite3_finalize(del);
		}
		if (rc != SQLITE_DONE && rc != SQLITE_OK) {
			err = store__sqlerr(st, rc, "deleting old data");
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return err;
		}
		st->stats.rows_deleted += (uint64_t)sqlite3_changes(st->db);
		if ((err = store__exec(st, "COMMIT")))
			return err;
		if (b >= end)
			break;
	}
	return 0;
}

static int used_bytes(struct store *st, uint64_t *out)
{
	int64_t pages, free_pages, size;
	int err;

	if ((err = int_pragma(st, "PRAGMA page_count", &pages)) ||
	    (err = int_pragma(st, "PRAGMA freelist_count", &free_pages)) ||
	    (err = int_pragma(st, "PRAGMA page_size", &size)))
		return err;
	*out = (uint64_t)((pages - free_pages) * size);
	return 0;
}

/* Oldest data, in unix seconds; 0 when the store is empty. */
static int oldest_s(struct store *st, uint64_t *out)
{
	*out = 0;
	for (int lvl = 0; lvl < NR_LEVELS; lvl++) {
		int64_t b;
		int err = min_bucket(st, lvl, &b);

		if (err)
			return err;
		if (b && (!*out || (uint64_t)b * level_width_s[lvl] < *out))
			*out = (uint64_t)b * level_width_s[lvl];
	}
	return 0;
}

/* Drops series with no data left, and their labels. */
static int gc_series(struct store *st)
{
	uint64_t oldest;
	int64_t gen;
	char sql[256];
	int err;

	if ((err = oldest_s(st, &oldest)))
		return err;
	if (!oldest)
		return 0; /* empty: a writer may be about to add its series */
	if ((err = store__exec(st, "BEGIN IMMEDIATE")))
		return err;
	snprintf(sql, sizeof(sql),
		 "DELETE FROM series_labels WHERE series IN "
		 "(SELECT id FROM series WHERE last_bucket < %llu);"
		 "DELETE FROM series WHERE last_bucket < %llu;",
		 (unsigned long long)(oldest / 3600),
		 (unsigned long long)(oldest / 3600));
	if ((err = store__exec(st, sql)))
		goto rollback;
	if (sqlite3_changes(st->db) > 0) {
		if ((err = store__meta_get(st, "gc_generation", &gen)) ||
		    (err = store__meta_set(st, "gc_generation", gen + 1)))
			goto rollback;
	}
	return store__exec(st, "COMMIT");
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

static int sqlite__enforce_retention(struct store *st, uint64_t now)
{
	uint64_t used, oldest, before = st->stats.rows_deleted;
	int err = 0;

	if (st->read_only)
		return -EROFS;
	if (st->retention_ns && now > st->retention_ns) {
		uint64_t cutoff = (now - st->retention_ns) / NS_PER_SEC;

		for (int lvl = 0; lvl < NR_LEVELS && !err; lvl++)
			err = delete_before(st, (enum level)lvl, cutoff);
	}
	while (!err && st->max_size) {
		if ((err = used_bytes(st, &used)) || used <= st->max_size)
			break;
		if ((err = oldest_s(st, &oldest)) || !oldest)
			break;
		/* The oldest hour goes first, from every level. */
		uint64_t cut = (oldest / 3600 + 1) * 3600;
		uint64_t deleted = st->stats.rows_deleted;

		for (int lvl = 0; lvl < NR_LEVELS && !err; lvl++)
			err = delete_before(st, (enum level)lvl, cut);
		if (st->stats.rows_deleted == deleted)
			break;
	}
	if (!err && st->stats.rows_deleted != before) {
		/* The spool follows the data: what retention took from the
		 * samples is not delivered either. */
		uint64_t cut = st->retention_ns && now > st->retention_ns
				   ? now - st->retention_ns
				   : 0;

		if (!(err = oldest_s(st, &oldest)) && oldest * NS_PER_SEC > cut)
			cut = oldest * NS_PER_SEC;
		if (!err && cut)
			err = store__spool_expire(st, cut);
	}
	if (!err && st->stats.rows_deleted != before) {
		err = gc_series(st);
		/* Give freed pages back to the file system, a bit at a time. */
		for (int i = 0; !err && i < 1000; i++) {
			int64_t free_pages;

			if ((err = int_pragma(st, "PRAGMA freelist_count",
					      &free_pages)) ||
			    !free_pages)
				break;
			err =
			    store__exec(st, "PRAGMA incremental_vacuum(2048)");
		}
	}
	return err;
}

/* ---- stats and checks ---- */

static void sqlite__stats(struct store *st, struct store_stats *out)
{
	char wal[4096];
	struct stat sb;
	int64_t b;

	*out = st->stats;
	out->cache_bytes = wcache__bytes(&st->wc);
	out->sqlite_memory_bytes = (uint64_t)sqlite3_memory_used();
	out->size_bytes = 0;
	if (!stat(st->path, &sb))
		out->size_bytes += (uint64_t)sb.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", st->path);
	if (!stat(wal, &sb))
		out->size_bytes += (uint64_t)sb.st_size;
	oldest_s(st, &out->first_ns);
	out->first_ns *= NS_PER_SEC;
	out->last_ns = 0;
	for (int lvl = 0; lvl < NR_LEVELS; lvl++) {
		char sql[64];

		snprintf(sql, sizeof(sql), "SELECT max(bucket) FROM %s",
			 level_table[lvl]);
		if (!int_pragma(st, sql, &b) && b &&
		    (uint64_t)(b + 1) * level_width_s[lvl] * NS_PER_SEC >
			out->last_ns)
			out->last_ns =
			    (uint64_t)(b + 1) * level_width_s[lvl] * NS_PER_SEC;
	}
}

static int sqlite__check(struct store *st)
{
	sqlite3_stmt *s;
	int rc =
	    sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL);
	int err = 0;

	if (rc != SQLITE_OK)
		return store__sqlerr(st, rc, "integrity check");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(s, 0);

		if (msg && strcmp(msg, "ok")) {
			if (!err)
				pr_err("store '%s': integrity check: %s",
				       st->path, msg);
			err = -EBADMSG;
		}
	}
	if (rc != SQLITE_DONE && !err)
		err = store__sqlerr(st, rc, "integrity check");
	sqlite3_finalize(s);
	return err;
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite__close,
    .write = sqlite__write,
    .instance_id = sqlite__instance_id,
    .write_spooled = sqlite__write_spooled,
    .spool_next = sqlite__spool_next,
    .spool_ack = sqlite__spool_ack,
    .spool_stats = sqlite__spool_stats,
    .write_pushed = sqlite__write_pushed,
    .agents = sqlite__agents,
    .frames_of_build_id = sqlite__frames_of_build_id,
    .rename_frames = sqlite__rename_frames,
    .enforce_retention = sqlite__enforce_retention,
    .query = sqlite__query,
    .timeline = sqlite__timeline,
    .heatmap = sqlite__heatmap,
    .label_names = sqlite__label_names,
    .label_values = sqlite__label_values,
    .windows = sqlite__windows,
    .stats = sqlite__stats,
    .check = sqlite__check,
};
