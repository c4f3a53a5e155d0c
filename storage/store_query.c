// SPDX-License-Identifier: MIT
/*
 * Reading the store: merged profiles, time lines, heat maps, label values.
 * Every call runs in one read transaction, so it sees whole windows only,
 * and plans the range over the coarsest tables that fit it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "storage/store_int.h"

#define MAX_TIMELINE_POINTS 1000000

static const char *const well_known[] = {LABEL_HOST,	 LABEL_COMM,
					 LABEL_PID,	 LABEL_EXE,
					 LABEL_BUILD_ID, LABEL_CONTAINER};

static bool is_well_known(const char *key)
{
	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++)
		if (!strcmp(key, well_known[i]))
			return true;
	return false;
}

/* Sums of stored counts stop at the largest value instead of wrapping: a
 * damaged or hostile store must not turn a big count into a small one. */
static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* ---- the reader's dictionary ---- */

/*
 * Every value read back is checked: a store is input like any file (a
 * disk error, a crash of another program, or someone's editing can leave
 * NULLs, ids out of range or broken blobs). Ids index arrays, so they must
 * be positive and bounded; the dictionary tables only grow, so their ids
 * are dense and a big jump means a broken row. Series are deleted by
 * retention, so their ids may be sparse, within a larger bound.
 */
#define RD_MAX_ID (1u << 28)
#define RD_MAX_JUMP (1u << 20)
#define RD_MAX_STR (1u << 20)	/* bytes of one string */
#define RD_MAX_STACK_DEPTH 4096 /* frames of one stored stack */
#define RD_MAX_LABELS 1024	/* labels of one series */

/* Logs one line about a broken row and returns -EBADMSG. */
static int corrupt(struct store *st, const char *table, int64_t id,
		   const char *why)
{
	pr_warn("store '%s' is corrupt: %s row %lld: %s", st->path, table,
		(long long)id, why);
	return -EBADMSG;
}

/*
 * Grows an id-indexed array to hold index 'id', zeroing the new part.
 * Returns 0 or -ENOMEM (the array is left as it was).
 */
static int grow_to(void **arrp, size_t elem, size_t *nr, size_t id)
{
	size_t n = *nr, cap;
	void *arr;

	if (id < n)
		return 0;
	cap = n ? n : 64;
	while (cap <= id)
		cap *= 2;
	arr = realloc(*arrp, cap * elem);
	if (!arr)
		return -ENOMEM;
	memset((char *)arr + n * elem, 0, (cap - n) * elem);
	*arrp = arr;
	*nr = cap;
	return 0;
}

struct loader {
	struct store *st;
	sqlite3_stmt *s;
	const char *table;
	int64_t id, prev;
	int rc;
};

static bool load_begin(struct loader *l, struct store *st, enum stmt_id id,
		       const char *table, int64_t after)
{
	l->st = st;
	l->table = table;
	l->prev = after;
	l->s = store__stmt(st, id);
	if (!l->s)
		return false;
	sqlite3_bind_int64(l->s, 1, after);
	return true;
}

static bool load_next(struct loader *l)
{
	l->rc = sqlite3_step(l->s);
	return l->rc == SQLITE_ROW;
}

static int load_end(struct loader *l, int err)
{
	sqlite3_reset(l->s);
	if (err)
		return err;
	return l->rc == SQLITE_DONE
		   ? 0
		   : store__sqlerr(l->st, l->rc, "reading the dictionary");
}

/* Column 0 of the current row, the id, checked; 'dense' for tables that
 * never delete rows. */
static int load_id(struct loader *l, bool dense, size_t *out)
{
	int64_t id = sqlite3_column_int64(l->s, 0);

	l->id = id;
	if (sqlite3_column_type(l->s, 0) != SQLITE_INTEGER || id <= l->prev ||
	    id >= (int64_t)RD_MAX_ID ||
	    (dense && id - l->prev > (int64_t)RD_MAX_JUMP))
		return corrupt(l->st, l->table, id, "id out of range");
	l->prev = id;
	*out = (size_t)id;
	return 0;
}

/* An integer column that is a reference (an id) or a small number. */
static int load_u32(struct loader *l, int col, uint32_t max, uint32_t *out)
{
	int64_t v = sqlite3_column_int64(l->s, col);

	if (sqlite3_column_type(l->s, col) != SQLITE_INTEGER || v < 0 ||
	    v > (int64_t)max)
		return corrupt(l->st, l->table, l->id,
			       "a value is NULL, not an integer or out of "
			       "range");
	*out = (uint32_t)v;
	return 0;
}

static int rd_strings(struct store *st, struct rdict *rd)
{
	struct loader l;
	int err = 0;

	if (!load_begin(&l, st, ST_DICT_STR, "strings", rd->max_str))
		return -EIO;
	while (!err && load_next(&l)) {
		const unsigned char *t;
		size_t id;
		int len;
		char *copy;

		if ((err = load_id(&l, true, &id)))
			break;
		t = sqlite3_column_text(l.s, 1);
		len = sqlite3_column_bytes(l.s, 1);
		if (sqlite3_column_type(l.s, 1) != SQLITE_TEXT || !t ||
		    len < 0 || (size_t)len > RD_MAX_STR ||
		    memchr(t, 0, (size_t)len)) {
			err = corrupt(st, l.table, l.id,
				      "NULL, not text, too long or with a NUL "
				      "byte");
			break;
		}
		if ((err = grow_to((void **)&rd->strs, sizeof(*rd->strs),
				   &rd->nr_strs, id)))
			break;
		copy = malloc((size_t)len + 1);
		if (!copy) {
			err = -ENOMEM;
			break;
		}
		memcpy(copy, t, (size_t)len);
		copy[len] = '\0';
		free(rd->strs[id]);
		rd->strs[id] = copy;
		rd->max_str = (int64_t)id;
	}
	return load_end(&l, err);
}

static int rd_maps(struct store *st, struct rdict *rd)
{
	struct loader l;
	int err = 0;

	if (!load_begin(&l, st, ST_DICT_MAP, "mappings", rd->max_map))
		return -EIO;
	while (!err && load_next(&l)) {
		size_t id;
		uint32_t path;

		if ((err = load_id(&l, true, &id)) ||
		    (err = load_u32(&l, 1, RD_MAX_ID, &path)) ||
		    (err = grow_to((void **)&rd->map_path, sizeof(uint32_t),
				   &rd->nr_maps, id)))
			break;
		rd->map_path[id] = path;
		rd->max_map = (int64_t)id;
	}
	return load_end(&l, err);
}

static int rd_funcs(struct store *st, struct rdict *rd)
{
	struct loader l;
	int err = 0;

	if (!load_begin(&l, st, ST_DICT_FUNC, "functions", rd->max_func))
		return -EIO;
	while (!err && load_next(&l)) {
		size_t id, nr = rd->nr_funcs;
		uint32_t name, file;

		size_t nr2 = rd->nr_funcs;
		uint32_t sys;

		if ((err = load_id(&l, true, &id)) ||
		    (err = load_u32(&l, 1, RD_MAX_ID, &name)) ||
		    (err = load_u32(&l, 2, RD_MAX_ID, &file)) ||
		    (err = load_u32(&l, 3, RD_MAX_ID, &sys)) ||
		    (err = grow_to((void **)&rd->func_name, sizeof(uint32_t),
				   &nr, id)) ||
		    (err = grow_to((void **)&rd->func_sys, sizeof(uint32_t),
				   &nr2, id)) ||
		    (err = grow_to((void **)&rd->func_file, sizeof(uint32_t),
				   &rd->nr_funcs, id)))
			break;
		rd->func_name[id] = name;
		rd->func_file[id] = file;
		rd->func_sys[id] = sys;
		rd->max_func = (int64_t)id;
	}
	return load_end(&l, err);
}

static int rd_frames(struct store *st, struct rdict *rd)
{
	struct loader l;
	int err = 0;

	if (!load_begin(&l, st, ST_DICT_FRAME, "frames", rd->max_frame))
		return -EIO;
	while (!err && load_next(&l)) {
		size_t id;
		uint32_t func, map, line, kind;

		if ((err = load_id(&l, true, &id)) ||
		    (err = load_u32(&l, 1, RD_MAX_ID, &func)) ||
		    (err = load_u32(&l, 2, RD_MAX_ID, &map)) ||
		    (err = load_u32(&l, 3, UINT32_MAX, &line)) ||
		    (err = load_u32(&l, 4, FRAME_KIND_MAX - 1, &kind)))
			break;
		if (sqlite3_column_type(l.s, 5) != SQLITE_INTEGER) {
			err = corrupt(st, l.table, l.id,
				      "address not an integer");
			break;
		}
		if ((err = grow_to((void **)&rd->frames, sizeof(*rd->frames),
				   &rd->nr_frames, id)))
			break;
		rd->frames[id] = (struct rd_frame){
		    .func = func,
		    .map = map,
		    .line = line,
		    .kind = kind,
		    .addr = (uint64_t)sqlite3_column_int64(l.s, 5),
		};
		rd->max_frame = (int64_t)id;
	}
	return load_end(&l, err);
}

/*
 * Frames named again (frame_names, in the order of their changes): the
 * new function and line replace the frame's own. A change for a frame
 * this reader has not loaded yet (added since its frames were read) waits
 * for the next refresh, with everything after it.
 */
static int rd_frame_names(struct store *st, struct rdict *rd)
{
	struct loader l;
	bool later = false;
	int err = 0;

	if (!load_begin(&l, st, ST_DICT_FRAME_NAME, "frame_names",
			rd->max_frame_name))
		return -EIO;
	while (!err && load_next(&l)) {
		size_t seq;
		uint32_t frame, func, line;

		if ((err = load_id(&l, false, &seq)) ||
		    (err = load_u32(&l, 1, RD_MAX_ID, &frame)) ||
		    (err = load_u32(&l, 2, RD_MAX_ID, &func)) ||
		    (err = load_u32(&l, 3, UINT32_MAX, &line)))
			break;
		if ((int64_t)frame > rd->max_frame) {
			later = true;
			break;
		}
		/* Frame 0 of a store without frames: nothing to rename. */
		if (frame < rd->nr_frames) {
			rd->frames[frame].func = func;
			rd->frames[frame].line = line;
		}
		rd->max_frame_name = (int64_t)seq;
	}
	if (later) {
		sqlite3_reset(l.s);
		return 0;
	}
	return load_end(&l, err);
}

/* The varints of a blob column as uint32 values appended to *ids. */
static int load_varints(struct loader *l, uint32_t **ids, size_t *nr,
			size_t *cap, size_t max, uint32_t *count)
{
	const uint8_t *p = sqlite3_column_blob(l->s, 1);
	int bytes = sqlite3_column_bytes(l->s, 1);
	const uint8_t *end = p ? p + bytes : NULL;

	*count = 0;
	/* An empty blob (an empty stack, a series without labels) is fine. */
	if (sqlite3_column_type(l->s, 1) != SQLITE_BLOB || bytes < 0 ||
	    (bytes && !p))
		return corrupt(l->st, l->table, l->id, "NULL or not a blob");
	while (p < end) {
		uint64_t v;

		if (!(p = varint__get(p, end, &v)))
			return corrupt(l->st, l->table, l->id,
				       "truncated varint in the blob");
		if (v >= RD_MAX_ID || *count >= max)
			return corrupt(l->st, l->table, l->id,
				       "blob holds an id out of range or too "
				       "many entries");
		if (*nr == *cap) {
			size_t ncap = *cap ? *cap * 2 : 4096;
			uint32_t *n = realloc(*ids, ncap * sizeof(uint32_t));

			if (!n)
				return -ENOMEM;
			*ids = n;
			*cap = ncap;
		}
		(*ids)[(*nr)++] = (uint32_t)v;
		(*count)++;
	}
	return 0;
}

static int rd_stacks(struct store *st, struct rdict *rd)
{
	struct loader l;
	int err = 0;

	/* Offsets are stored plus one, so a zero span means "not loaded". */
	if (!load_begin(&l, st, ST_DICT_STACK, "stacks", rd->max_stack))
		return -EIO;
	while (!err && load_next(&l)) {
		size_t id, start = rd->nr_stack_ids;
		uint32_t len;

		if ((err = load_id(&l, true, &id)) ||
		    (err = grow_to((void **)&rd->stacks, sizeof(*rd->stacks),
				   &rd->nr_stacks, id)))
			break;
		if (start + RD_MAX_STACK_DEPTH >= UINT32_MAX) {
			err = corrupt(st, l.table, l.id, "too many frames");
			break;
		}
		err =
		    load_varints(&l, &rd->stack_ids, &rd->nr_stack_ids,
				 &rd->cap_stack_ids, RD_MAX_STACK_DEPTH, &len);
		if (err) {
			rd->nr_stack_ids = start;
			break;
		}
		rd->stacks[id] = (struct rd_span){(uint32_t)start + 1, len};
		rd->max_stack = (int64_t)id;
	}
	return load_end(&l, err);
}

static const char *rd_str(const struct rdict *rd, uint32_t id);

static int rd_series(struct store *st, struct rdict *rd)
{
	struct loader l;
	int err = 0;

	if (!load_begin(&l, st, ST_DICT_SERIES, "series", rd->max_series))
		return -EIO;
	while (!err && load_next(&l)) {
		size_t id, start = rd->nr_series_kv;
		uint32_t n;

		if ((err = load_id(&l, false, &id)) ||
		    (err = grow_to((void **)&rd->series, sizeof(*rd->series),
				   &rd->nr_series, id)))
			break;
		if (start + 2 * RD_MAX_LABELS >= UINT32_MAX) {
			err = corrupt(st, l.table, l.id, "too many labels");
			break;
		}
		err = load_varints(&l, &rd->series_kv, &rd->nr_series_kv,
				   &rd->cap_series_kv, 2 * RD_MAX_LABELS, &n);
		if (!err && n % 2)
			err = corrupt(st, l.table, l.id,
				      "a label without a value");
		if (err) {
			rd->nr_series_kv = start;
			break;
		}
		rd->series[id] = (struct rd_span){(uint32_t)start, n / 2};
		rd->max_series = (int64_t)id;
		if ((err = grow_to((void **)&rd->fleet, 1, &rd->nr_fleet, id)))
			break;
		for (uint32_t i = 0; i < n / 2; i++)
			if (!strcmp(rd_str(rd, rd->series_kv[start + 2 * i]),
				    FLEET_KEY)) {
				rd->fleet[id] = 1;
				rd->fleet_series++;
			}
	}
	return load_end(&l, err);
}

/*
 * Loads the dictionary rows added since the last refresh. On an error
 * what was loaded stays valid (every row is checked before it is used).
 */
static int rd_refresh(struct store *st)
{
	struct rdict *rd = &st->rd;
	int err;

	if ((err = rd_strings(st, rd)) || (err = rd_maps(st, rd)) ||
	    (err = rd_funcs(st, rd)) || (err = rd_frames(st, rd)) ||
	    (err = rd_frame_names(st, rd)) || (err = rd_stacks(st, rd)) ||
	    (err = rd_series(st, rd)))
		return err;
	return 0;
}

static const char *rd_str(const struct rdict *rd, uint32_t id)
{
	return id < rd->nr_strs && rd->strs[id] ? rd->strs[id] : "";
}

/* The string id of a series' label 'key' (a string id), or 0. */
static uint32_t series_value(const struct rdict *rd, uint32_t series,
			     uint32_t key)
{
	if (series >= rd->nr_series)
		return 0;
	const struct rd_span *sp = &rd->series[series];
	for (uint32_t i = 0; i < sp->len; i++)
		if (rd->series_kv[sp->off + 2 * i] == key)
			return rd->series_kv[sp->off + 2 * i + 1];
	return 0;
}

/* The string id of 's', 0 when the store has never seen it. */
static int str_id(struct store *st, const char *s, uint32_t *id)
{
	sqlite3_stmt *get = store__stmt(st, ST_STR_GET);
	int rc;

	if (!get)
		return -EIO;
	sqlite3_bind_text(get, 1, s, -1, SQLITE_STATIC);
	rc = sqlite3_step(get);
	*id = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(get, 0) : 0;
	sqlite3_reset(get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store__sqlerr(st, rc, "looking up a label");
	return 0;
}

/* Whether some series has label 'key' (a string id). */
static bool key_in_use(const struct rdict *rd, uint32_t key)
{
	for (size_t i = 0; key && i < rd->nr_series_kv; i += 2)
		if (rd->series_kv[i] == key)
			return true;
	return false;
}

/* A label key as the caller named it: -EINVAL when the store has no such
 * label and it is not one kiln always knows. *id is 0 for a known key no
 * series has yet. */
static int label_key(struct store *st, const char *key, uint32_t *id)
{
	int err = str_id(st, key, id);

	if (err)
		return err;
	if (key_in_use(&st->rd, *id))
		return 0;
	*id = 0;
	if (is_well_known(key))
		return 0;
	pr_debug("store '%s': unknown label '%s'", st->path, key);
	return -EINVAL;
}

static bool is_fleet(const struct rdict *rd, size_t s)
{
	return s < rd->nr_fleet && rd->fleet[s];
}

/*
 * The series that pass the filters, as a byte per series id: the stored
 * series, or with 'fleet' the fleet series (storage/store_int.h). NULL
 * when there are no filters and no fleet series to leave out.
 */
static int filter_build_ex(struct store *st, const struct store_query *q,
			   bool fleet, uint8_t **match)
{
	struct rdict *rd = &st->rd;
	size_t nf = q ? q->nr_filters : 0;
	uint32_t *keys = NULL, *vals = NULL;
	uint8_t *m;
	int err = 0;

	*match = NULL;
	if (!nf && !rd->fleet_series && !fleet)
		return 0;
	keys = calloc(nf, sizeof(*keys));
	vals = calloc(nf, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nf; i++) {
		if (!q->filters[i].key || !q->filters[i].value) {
			err = -EINVAL;
			goto out;
		}
		if ((err = label_key(st, q->filters[i].key, &keys[i])) ||
		    (err = str_id(st, q->filters[i].value, &vals[i])))
			goto out;
	}
	m = calloc(rd->nr_series + 1, 1);
	if (!m) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t s = 1; s < rd->nr_series; s++) {
		bool pass = rd->series[s].len > 0 && is_fleet(rd, s) == fleet;

		/* Every key must match one of the values given for it. */
		for (size_t i = 0; pass && i < nf; i++) {
			bool any = false;

			for (size_t j = 0; j < nf && !any; j++)
				if (!strcmp(q->filters[j].key,
					    q->filters[i].key))
					any = keys[j] && vals[j] &&
					      series_value(rd, (uint32_t)s,
							   keys[j]) == vals[j];
			pass = any;
		}
		m[s] = pass;
	}
	*match = m;
out:
	free(keys);
	free(vals);
	return err;
}

static int filter_build(struct store *st, const struct store_query *q,
			uint8_t **match)
{
	return filter_build_ex(st, q, false, match);
}

/* ---- planning a range over the levels ---- */

struct seg {
	enum level lvl;
	int64_t b0, b1; /* buckets of the level */
	uint64_t from_ns, to_ns;
};

struct plan {
	struct seg segs[2 * NR_LEVELS];
	size_t n;
	int64_t rolled[NR_LEVELS];
};

static void plan_add(struct plan *pl, int lvl, uint64_t from, uint64_t to)
{
	uint64_t g;
	int64_t a, b;

	if (from >= to)
		return;
	g = level_width_s[lvl] * NS_PER_SEC;
	if (lvl == LVL_10S) {
		pl->segs[pl->n++] =
		    (struct seg){LVL_10S, (int64_t)(from / g),
				 (int64_t)((to + g - 1) / g), from, to};
		return;
	}
	a = (int64_t)((from + g - 1) / g);
	b = (int64_t)(to / g);
	if (b > pl->rolled[lvl])
		b = pl->rolled[lvl];
	if (a >= b) {
		plan_add(pl, lvl - 1, from, to);
		return;
	}
	plan_add(pl, lvl - 1, from, (uint64_t)a * g);
	pl->segs[pl->n++] = (struct seg){(enum level)lvl, a, b, (uint64_t)a * g,
					 (uint64_t)b * g};
	plan_add(pl, lvl - 1, (uint64_t)b * g, to);
}

/* ---- scanning ---- */

struct scan_row {
	const struct seg *seg;
	int64_t bucket;
	uint32_t series;
	uint64_t total;
	sqlite3_stmt *s;  /* column 3 is the blob, unless totals_only */
	bool partial;	  /* raw bucket not wholly inside the range */
	bool totals_only; /* read from the totals index: no blob column */
	struct store *st;
};

typedef int (*row_fn)(struct store *st, const struct scan_row *row, void *ctx);

static int read_begin(struct store *st, uint8_t **match,
		      const struct store_query *q, struct plan *pl)
{
	int err = store__exec(st, "BEGIN");

	if (err)
		return err;
	if ((err = rd_refresh(st)) ||
	    (err = store__meta_get(st, "rolled_1m", &pl->rolled[LVL_1M])) ||
	    (err = store__meta_get(st, "rolled_1h", &pl->rolled[LVL_1H])) ||
	    (err = filter_build(st, q, match))) {
		store__exec(st, "ROLLBACK");
		return err;
	}
	return 0;
}

static int read_end(struct store *st, uint8_t *match, int err)
{
	free(match);
	if (err) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	return store__exec(st, "COMMIT");
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/*
 * Runs of consecutive series ids that pass the filters (ids of series
 * that do not pass never inside a run). A filter that keeps one host of
 * a fleet keeps a few runs (a host's series are mostly created together),
 * and reading those runs bucket by bucket through the primary key beats
 * stepping over every other host's rows. NULL (*n = 0) when the filters
 * keep so much that a plain scan of the range is cheaper.
 */
static int match_runs(const struct store *st, const uint8_t *match,
		      uint32_t (**out)[2], size_t *n)
{
	const struct rdict *rd = &st->rd;
	uint32_t(*runs)[2] = NULL;
	size_t nr = 0, cap = 0, live = 0, kept = 0;
	bool open = false;

	*out = NULL;
	*n = 0;
	if (!match)
		return 0;
	for (size_t s = 1; s < rd->nr_series; s++) {
		if (!rd->series[s].len)
			continue; /* no such series (deleted or never seen) */
		live++;
		if (!match[s]) {
			open = false;
			continue;
		}
		kept++;
		if (open) {
			runs[nr - 1][1] = (uint32_t)s;
			continue;
		}
		if (nr == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *r = realloc(runs, ncap * sizeof(*runs));

			if (!r) {
				free(runs);
				return -ENOMEM;
			}
			runs = r;
			cap = ncap;
		}
		runs[nr][0] = runs[nr][1] = (uint32_t)s;
		nr++;
		open = true;
	}
	/* A pick is a seek, a scanned row a step: picks pay off only when
	 * they skip most rows. */
	if (nr * 4 > live || kept * 2 > live) {
		free(runs);
		return 0;
	}
	if (!nr) {
		free(runs);
		runs = calloc(1, sizeof(*runs)); /* nothing passes: no reads */
		if (!runs)
			return -ENOMEM;
	}
	*out = runs;
	*n = nr;
	return 0;
}

/* Steps one bound statement of segment 'sg', calling fn for its rows. */
static int scan_rows(struct store *st, const struct seg *sg, sqlite3_stmt *s,
		     bool totals_only, const uint8_t *match, uint64_t deadline,
		     unsigned *rows, row_fn fn, void *ctx)
{
	uint64_t g = level_width_s[sg->lvl] * NS_PER_SEC;
	int rc, err = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (deadline && !((*rows)++ & 255) && mono_ns() > deadline) {
			sqlite3_reset(s);
			return -ETIME;
		}
		struct scan_row row = {
		    .seg = sg,
		    .bucket = sqlite3_column_int64(s, 0),
		    .series = (uint32_t)sqlite3_column_int64(s, 1),
		    .total = (uint64_t)sqlite3_column_int64(s, 2),
		    .s = s,
		    .totals_only = totals_only,
		    .st = st,
		};
		int64_t series = sqlite3_column_int64(s, 1);

		/*
		 * A damaged index can return rows outside the range asked
		 * for, and a damaged row any numbers: both index arrays
		 * below.
		 */
		if (row.bucket < sg->b0 || row.bucket >= sg->b1 ||
		    series <= 0 || series >= (int64_t)RD_MAX_ID ||
		    sqlite3_column_int64(s, 2) < 0) {
			sqlite3_reset(s);
			pr_warn("store '%s' is corrupt: a sample row (bucket "
				"%lld, series %lld) is out of range",
				st->path, (long long)row.bucket,
				(long long)series);
			return -EBADMSG;
		}

		/* A series this reader has not loaded: none of its labels
		 * are known, so it cannot be shown. */
		if (row.series >= st->rd.nr_series ||
		    (match && !match[row.series]))
			continue;
		row.partial = (uint64_t)row.bucket * g < sg->from_ns ||
			      (uint64_t)(row.bucket + 1) * g > sg->to_ns;
		if ((err = fn(st, &row, ctx))) {
			sqlite3_reset(s);
			return err;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return store__sqlerr(st, rc, "reading samples");
	return 0;
}

/*
 * The first bucket of level 'lvl' in [from, to) that holds rows, or -1.
 * A filtered read goes from one stored bucket to the next through it
 * rather than through every bucket of the range: `--from 0` alone is 177
 * million 10 s buckets.
 */
static int next_bucket(struct store *st, int lvl, int64_t from, int64_t to,
		       int64_t *out)
{
	sqlite3_stmt *s = store__stmt(st, ST_NEXT_BUCKET_10S + lvl);
	int rc;

	*out = -1;
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store__sqlerr(st, rc, "finding the next bucket");
	return 0;
}

/*
 * Calls fn for every row of the plan that passes 'match', in bucket order
 * within each segment. 'totals_only': the rows come from the totals
 * index (time lines), and row_decode() fetches a blob when one is needed.
 */
static int scan_ex(struct store *st, const struct plan *pl,
		   const uint8_t *match, bool totals_only, uint64_t deadline,
		   row_fn fn, void *ctx)
{
	uint32_t(*runs)[2];
	size_t nruns;
	unsigned rows = 0;
	int err;

	if ((err = match_runs(st, match, &runs, &nruns)))
		return err;
	for (size_t i = 0; i < pl->n && !err; i++) {
		const struct seg *sg = &pl->segs[i];
		sqlite3_stmt *s;

		if (!runs) {
			if (!(s = store__stmt(st, (totals_only ? ST_TOTALS_10S
							       : ST_SCAN_10S) +
						      sg->lvl))) {
				err = -EIO;
				break;
			}
			sqlite3_bind_int64(s, 1, sg->b0);
			sqlite3_bind_int64(s, 2, sg->b1);
			err = scan_rows(st, sg, s, totals_only, match, deadline,
					&rows, fn, ctx);
			continue;
		}
		if (!(s = store__stmt(
			  st, (totals_only ? ST_PICK_TOTALS_10S : ST_PICK_10S) +
				  sg->lvl))) {
			err = -EIO;
			break;
		}
		for (int64_t b = sg->b0; b < sg->b1 && !err; b++) {
			if ((err = next_bucket(st, sg->lvl, b, sg->b1, &b)) ||
			    b < 0)
				break;
			for (size_t r = 0; r < nruns && !err; r++) {
				if (deadline && !(rows++ & 255) &&
				    mono_ns() > deadline) {
					err = -ETIME;
					break;
				}
				sqlite3_bind_int64(s, 1, b);
				sqlite3_bind_int64(s, 2, runs[r][0]);
				sqlite3_bind_int64(s, 3, runs[r][1]);
				err = scan_rows(st, sg, s, totals_only, match,
						deadline, &rows, fn, ctx);
			}
		}
	}
	free(runs);
	return err;
}

static int scan(struct store *st, const struct plan *pl, const uint8_t *match,
		uint64_t deadline, row_fn fn, void *ctx)
{
	return scan_ex(st, pl, match, false, deadline, fn, ctx);
}

/* The first slot of a 10 s row at or after time t (0..RAW_SLOTS). */
static uint32_t slot_bound(const struct scan_row *row, uint64_t t)
{
	uint64_t b = (uint64_t)row->bucket * 10 * NS_PER_SEC;

	if (t <= b)
		return 0;
	if (t >= b + RAW_SLOTS * SLOT_NS)
		return RAW_SLOTS;
	return (uint32_t)((t - b + SLOT_NS - 1) / SLOT_NS);
}

/*
 * A row's blob decoded: every (stack, slot) entry, or with 'per_stack'
 * one entry per stack summing the slots inside the segment's range.
 */
static int row_read(const struct scan_row *row, bool per_stack,
		    struct blob_ent **ents, size_t *n, size_t *cap)
{
	bool slots = row->seg->lvl == LVL_10S;
	uint32_t lo = 0, hi = RAW_SLOTS;
	sqlite3_stmt *s = row->s, *get = NULL;
	int col = 3, rc, err;

	*n = 0;
	if (per_stack && slots && row->partial) {
		lo = slot_bound(row, row->seg->from_ns);
		hi = slot_bound(row, row->seg->to_ns);
	}
	if (row->totals_only) {
		/* A row read from the totals index: its blob by key. */
		get = store__stmt(row->st, ST_ROW_GET_10S + row->seg->lvl);
		if (!get)
			return -EIO;
		sqlite3_bind_int64(get, 1, row->bucket);
		sqlite3_bind_int64(get, 2, row->series);
		rc = sqlite3_step(get);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(get);
			/* gone meanwhile: cannot be, in one read */
			return rc == SQLITE_DONE
				   ? 0
				   : store__sqlerr(row->st, rc,
						   "reading samples");
		}
		s = get;
		col = 1;
	}
	const void *data = sqlite3_column_blob(s, col);
	size_t size = (size_t)sqlite3_column_bytes(s, col);

	err = per_stack ? blob__sum(data, size, slots, lo, hi, ents, n, cap)
			: blob__decode(data, size, slots, ents, n, cap);
	if (get)
		sqlite3_reset(get);
	return err;
}

static int row_decode(const struct scan_row *row, struct blob_ent **ents,
		      size_t *n, size_t *cap)
{
	return row_read(row, false, ents, n, cap);
}

static bool slot_in(const struct scan_row *row, uint32_t slot, uint64_t *t)
{
	*t = (uint64_t)row->bucket * 10 * NS_PER_SEC + slot * SLOT_NS;
	return *t >= row->seg->from_ns && *t < row->seg->to_ns;
}

/* ---- merged profile ---- */

struct acc {
	uint64_t key; /* series (or merged group) << 32 | stack */
	uint64_t count;
	uint64_t first_ns;
};

#define MAX_KEEP 16 /* labels a merged profile can keep */

struct qctx {
	size_t max_entries; /* 0: no budget */
	struct acc *accs;
	size_t nr, cap;
	uint32_t *slots; /* hash: acc index + 1 */
	size_t mask;
	struct blob_ent *ents;
	size_t nents, ents_cap;
	/* merged series (store_query.merge): a group per distinct tuple of
	 * the kept labels' value ids */
	bool merge;
	uint32_t keys[MAX_KEEP]; /* string ids; 0: a key no series has */
	size_t nkeys;
	uint32_t *group_of; /* series id -> group + 1 */
	size_t nr_group_of;
	uint32_t *gvals; /* nkeys values per group */
	size_t ngroups, gcap;
	uint32_t *ghash; /* hash of tuples: group + 1 */
	size_t gmask;
};

static inline size_t key_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

static size_t tuple_hash(const uint32_t *v, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < n; i++)
		h = key_hash(h ^ v[i]);
	return (size_t)h;
}

/* Doubles the group hash; 0 or -ENOMEM. */
static int group_rehash(struct qctx *c)
{
	size_t ncap = c->gmask ? (c->gmask + 1) * 2 : 64;
	uint32_t *nh = calloc(ncap, sizeof(*nh));

	if (!nh)
		return -ENOMEM;
	for (size_t g = 0; g < c->ngroups; g++) {
		size_t h =
		    tuple_hash(c->gvals + g * c->nkeys, c->nkeys) & (ncap - 1);

		while (nh[h])
			h = (h + 1) & (ncap - 1);
		nh[h] = (uint32_t)g + 1;
	}
	free(c->ghash);
	c->ghash = nh;
	c->gmask = ncap - 1;
	return 0;
}

/* The merged group of 'series' (index + 1), or 0 out of memory. */
static uint32_t group_of(struct qctx *c, const struct rdict *rd,
			 uint32_t series)
{
	uint32_t v[MAX_KEEP];
	size_t h;

	if (series < c->nr_group_of && c->group_of[series])
		return c->group_of[series];
	if (grow_to((void **)&c->group_of, sizeof(*c->group_of),
		    &c->nr_group_of, series))
		return 0;
	for (size_t i = 0; i < c->nkeys; i++) {
		v[i] = c->keys[i] ? series_value(rd, series, c->keys[i]) : 0;
		if (v[i] >= rd->nr_strs)
			v[i] = 0; /* never loaded: the store is damaged */
	}
	if ((c->ngroups + 1) * 2 > c->gmask + 1 && group_rehash(c))
		return 0;
	for (h = tuple_hash(v, c->nkeys) & c->gmask; c->ghash[h];
	     h = (h + 1) & c->gmask) {
		uint32_t g = c->ghash[h] - 1;

		if (!memcmp(c->gvals + (size_t)g * c->nkeys, v,
			    c->nkeys * sizeof(*v)))
			return c->group_of[series] = g + 1;
	}
	if (c->ngroups == c->gcap) {
		size_t ncap = c->gcap ? c->gcap * 2 : 64;
		uint32_t *n = realloc(
		    c->gvals, ncap * (c->nkeys ? c->nkeys : 1) * sizeof(*n));

		if (!n)
			return 0;
		c->gvals = n;
		c->gcap = ncap;
	}
	memcpy(c->gvals + c->ngroups * c->nkeys, v, c->nkeys * sizeof(*v));
	c->ghash[h] = (uint32_t)++c->ngroups;
	return c->group_of[series] = (uint32_t)c->ngroups;
}

static int acc_add(struct qctx *c, uint32_t series, uint32_t stack,
		   uint64_t count, uint64_t t)
{
	uint64_t key = (uint64_t)series << 32 | stack;
	size_t h;

	if ((c->nr + 1) * 2 > c->mask + 1) {
		size_t ncap = (c->mask + 1) * 2;
		uint32_t *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		free(c->slots);
		c->slots = ns;
		c->mask = ncap - 1;
		for (size_t i = 0; i < c->nr; i++) {
			h = key_hash(c->accs[i].key) & c->mask;
			while (c->slots[h])
				h = (h + 1) & c->mask;
			c->slots[h] = (uint32_t)i + 1;
		}
	}
	for (h = key_hash(key) & c->mask; c->slots[h]; h = (h + 1) & c->mask) {
		struct acc *a = &c->accs[c->slots[h] - 1];

		if (a->key == key) {
			a->count = sat_add(a->count, count);
			if (t < a->first_ns)
				a->first_ns = t;
			return 0;
		}
	}
	if (c->nr == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 4096;
		struct acc *na = realloc(c->accs, ncap * sizeof(*na));

		if (!na)
			return -ENOMEM;
		c->accs = na;
		c->cap = ncap;
	}
	c->accs[c->nr] = (struct acc){key, count, t};
	c->slots[h] = (uint32_t)++c->nr;
	return 0;
}

static int query_row(struct store *st, const struct scan_row *row, void *ctx)
{
	struct qctx *c = ctx;
	uint64_t t0 =
	    (uint64_t)row->bucket * level_width_s[row->seg->lvl] * NS_PER_SEC;
	uint32_t series = row->series;
	/* A stack's slots summed before touching the hash. */
	int err = row_read(row, true, &c->ents, &c->nents, &c->ents_cap);

	if (err)
		return err;
	if (c->merge && !(series = group_of(c, &st->rd, row->series)))
		return -ENOMEM;
	for (size_t i = 0; i < c->nents; i++) {
		const struct blob_ent *e = &c->ents[i];

		if ((err = acc_add(c, series, e->stack, e->count, t0)))
			return err;
		if (c->max_entries && c->nr > c->max_entries)
			return -E2BIG;
	}
	return 0;
}

/* The output series of accumulator key 'series': a stored series' labels,
 * or a merged group's kept labels (those it has). */
static uint32_t out_series(const struct rdict *rd, const struct qctx *c,
			   uint32_t series, uint32_t *smemo,
			   struct profile *out)
{
#define OUTSTR(id)                                                             \
	((id) < rd->nr_strs                                                    \
	     ? (smemo[id]                                                      \
		    ? smemo[id] - 1                                            \
		    : (smemo[id] = profile__intern(out, rd_str(rd, id)) + 1) - \
			  1)                                                   \
	     : 0)
	struct label ls[c->merge ? MAX_KEEP : RD_MAX_LABELS];
	size_t n = 0;

	if (c->merge) {
		const uint32_t *v =
		    series && series <= c->ngroups
			? c->gvals + (size_t)(series - 1) * c->nkeys
			: NULL;

		for (size_t j = 0; v && j < c->nkeys; j++)
			if (v[j])
				ls[n++] = (struct label){OUTSTR(c->keys[j]),
							 OUTSTR(v[j])};
		return profile__add_series(out, ls, n);
	}
	const struct rd_span *sp = series < rd->nr_series
				       ? &rd->series[series]
				       : &(struct rd_span){0, 0};

	for (uint32_t j = 0; j < sp->len && n < RD_MAX_LABELS; j++, n++) {
		ls[n].key = OUTSTR(rd->series_kv[sp->off + 2 * j]);
		ls[n].value = OUTSTR(rd->series_kv[sp->off + 2 * j + 1]);
	}
	return profile__add_series(out, ls, n);
}

/* Copies the dictionary entries the result needs into 'out'. Returns 0 or
 * -ENOMEM. */
static int build_profile(struct store *st, struct qctx *c, struct profile *out)
{
	struct rdict *rd = &st->rd;
	size_t nser = c->merge ? c->ngroups + 1 : rd->nr_series;
	uint32_t *smemo = calloc(rd->nr_strs + 1, sizeof(*smemo));
	uint32_t *fmemo = calloc(rd->nr_frames + 1, sizeof(*fmemo));
	uint32_t *stmemo = calloc(rd->nr_stacks + 1, sizeof(*stmemo));
	uint32_t *sermemo = calloc(nser + 1, sizeof(*sermemo));
	uint32_t *ids = NULL;
	size_t ids_cap = 0;
	int err = -ENOMEM;

	if (!smemo || !fmemo || !stmemo || !sermemo)
		goto out;
	for (size_t i = 0; i < c->nr; i++) {
		uint32_t series = (uint32_t)(c->accs[i].key >> 32);
		uint32_t stack = (uint32_t)c->accs[i].key;
		uint32_t os, ost;

		if (series < nser && sermemo[series]) {
			os = sermemo[series] - 1;
		} else {
			os = out_series(rd, c, series, smemo, out);
			if (series < nser)
				sermemo[series] = os + 1;
		}
		if (stack < rd->nr_stacks && stmemo[stack]) {
			ost = stmemo[stack] - 1;
		} else {
			struct rd_span sp = stack < rd->nr_stacks
						? rd->stacks[stack]
						: (struct rd_span){0, 0};

			if (sp.len > ids_cap) {
				uint32_t *n = realloc(ids, sp.len * sizeof(*n));

				if (!n)
					goto out;
				ids = n;
				ids_cap = sp.len;
			}
			for (uint32_t j = 0; j < sp.len; j++) {
				uint32_t f = rd->stack_ids[sp.off - 1 + j];

				if (f < rd->nr_frames && fmemo[f]) {
					ids[j] = fmemo[f] - 1;
					continue;
				}
				struct rd_frame rf = f < rd->nr_frames
							 ? rd->frames[f]
							 : (struct rd_frame){0};
				uint32_t name = rf.func < rd->nr_funcs
						    ? rd->func_name[rf.func]
						    : 0;
				uint32_t file = rf.func < rd->nr_funcs
						    ? rd->func_file[rf.func]
						    : 0;
				uint32_t sys = rf.func < rd->nr_funcs
						   ? rd->func_sys[rf.func]
						   : 0;
				uint32_t mod = rf.map < rd->nr_maps
						   ? rd->map_path[rf.map]
						   : 0;
				struct frame fr = {
				    .name = OUTSTR(name),
				    .file = OUTSTR(file),
				    .module = OUTSTR(mod),
				    .sysname = sys ? OUTSTR(sys) : 0,
				    .line = rf.line,
				    .kind = rf.kind,
				    .addr = rf.addr,
				};
				ids[j] = profile__add_frame(out, &fr);
				if (f < rd->nr_frames)
					fmemo[f] = ids[j] + 1;
			}
			ost = profile__add_stack(out, ids, sp.len);
			if (stack < rd->nr_stacks)
				stmemo[stack] = ost + 1;
		}
		profile__add_sample(out, os, ost, c->accs[i].first_ns,
				    c->accs[i].count);
	}
#undef OUTSTR
	err = 0;
out:
	free(ids);
	free(smemo);
	free(fmemo);
	free(stmemo);
	free(sermemo);
	return err;
}

static int check_range(const struct store_query *q)
{
	return q && q->from_ns < q->to_ns ? 0 : -EINVAL;
}

/* The string ids of the labels a merged profile keeps. */
static int keep_keys(struct store *st, const struct store_query *q,
		     struct qctx *c)
{
	int err;

	c->merge = q->merge;
	if (!q->merge)
		return 0;
	if (q->nr_keep > MAX_KEEP || (q->nr_keep && !q->keep))
		return -EINVAL;
	c->nkeys = q->nr_keep;
	for (size_t i = 0; i < q->nr_keep; i++) {
		if (!q->keep[i])
			return -EINVAL;
		/* A key no series has keeps nothing: no error. */
		if ((err = str_id(st, q->keep[i], &c->keys[i])))
			return err;
	}
	return 0;
}

/* The part of q's range the fleet series can serve when q filters on the
 * process name at most: whole 10 s buckets from 'fleet_since' on, and the
 * buckets the range cuts where the fleet rows hold slots. */
static int fleet_whole(struct store *st, const struct store_query *q,
		       uint64_t *a, uint64_t *b)
{
	const uint64_t g = 10 * NS_PER_SEC;
	int64_t since, sfrom, sto;
	int err;

	*a = *b = 0;
	if (!st->rd.fleet_series)
		return 0;
	for (size_t i = 0; i < q->nr_filters; i++)
		if (strcmp(q->filters[i].key, LABEL_COMM))
			return 0;
	if ((err = store__meta_get(st, "fleet_since", &since)) ||
	    (err = store__meta_get(st, FLEET_SLOTS_FROM, &sfrom)) ||
	    (err = store__meta_get(st, FLEET_SLOTS_TO, &sto)))
		return err == -ENOENT ? 0 : err;
	*a = (q->from_ns + g - 1) / g * g;
	*b = q->to_ns / g * g;
	if ((int64_t)(q->from_ns / g) >= sfrom &&
	    (int64_t)(q->from_ns / g) < sto)
		*a = q->from_ns;
	if ((int64_t)(q->to_ns / g) >= sfrom && (int64_t)(q->to_ns / g) < sto)
		*b = q->to_ns;
	/* Before fleet_since (an hour boundary) from the stored series. */
	if (since > 0 && *a < (uint64_t)since * NS_PER_SEC)
		*a = (uint64_t)since * NS_PER_SEC;
	if (*a >= *b || since < 0)
		*a = *b = 0;
	return 0;
}

/*
 * Whether a merged query can read the fleet series: it keeps the process
 * name at most and filters on it only. [*a, *b) is the part it reads from
 * them: whole 10 s buckets, from 'fleet_since' on; empty when none.
 */
static int fleet_span(struct store *st, const struct store_query *q,
		      uint64_t *a, uint64_t *b)
{
	*a = *b = 0;
	if (!q->merge)
		return 0;
	for (size_t i = 0; i < q->nr_keep; i++)
		if (strcmp(q->keep[i], LABEL_COMM))
			return 0;
	return fleet_whole(st, q, a, b);
}

int sqlite__query(struct store *st, const struct store_query *q,
		  struct profile *out)
{
	struct qctx c = {0};
	struct plan pl = {0}, fpl = {0};
	uint8_t *match = NULL, *fmatch = NULL;
	uint64_t fa = 0, fb = 0;
	int64_t period = 0;
	int err;

	if ((err = check_range(q)))
		return err;
	if ((err = read_begin(st, &match, q, &pl)))
		return err;
	c.mask = 1023;
	c.max_entries = q->max_entries;
	if (!(c.slots = calloc(c.mask + 1, sizeof(*c.slots))))
		err = -ENOMEM;
	if (!err)
		err = keep_keys(st, q, &c);
	if (!err)
		err = fleet_span(st, q, &fa, &fb);
	if (!err && fa < fb) {
		/* Whole buckets from the fleet series, the cut buckets at
		 * the edges from the stored series (the fleet's have no
		 * 20 ms slots). */
		memcpy(fpl.rolled, pl.rolled, sizeof(pl.rolled));
		plan_add(&fpl, LVL_1H, fa, fb);
		plan_add(&pl, LVL_1H, q->from_ns, fa);
		plan_add(&pl, LVL_1H, fb, q->to_ns);
		if (!(err = filter_build_ex(st, q, true, &fmatch)))
			err = scan(st, &fpl, fmatch, q->deadline_mono_ns,
				   query_row, &c);
		free(fmatch);
	} else {
		plan_add(&pl, LVL_1H, q->from_ns, q->to_ns);
	}
	if (!err)
		err = scan(st, &pl, match, q->deadline_mono_ns, query_row, &c);
	if (!err)
		err = store__meta_get(st, "period_ns", &period);
	if (!err) {
		struct profile_meta *meta = profile__meta(out);

		err = build_profile(st, &c, out);
		meta->start_ns = q->from_ns;
		meta->duration_ns = q->to_ns - q->from_ns;
		if (period > 0)
			meta->period_ns = (uint64_t)period;
	}
	free(c.accs);
	free(c.slots);
	free(c.ents);
	free(c.group_of);
	free(c.gvals);
	free(c.ghash);
	return read_end(st, match, err);
}

/* ---- time line ---- */

struct tl_group {
	uint32_t value; /* string id, 0 for "" */
	uint64_t *counts;
};

struct tlctx {
	uint64_t t0, step;
	size_t npoints;
	uint32_t key; /* group-by key string id; 0 for one series */
	bool grouped;
	struct tl_group *groups;
	size_t nr_groups;
	uint32_t *group_of; /* value string id -> group + 1 */
	size_t nr_group_of;
	struct blob_ent *ents;
	size_t nents, ents_cap;
};

static uint64_t *tl_counts(struct store *st, struct tlctx *c, uint32_t series)
{
	uint32_t v = c->grouped ? series_value(&st->rd, series, c->key) : 0;

	/* A value never loaded (the store is damaged), or "" (a fleet
	 * series of samples without a process name): no value. */
	if (v >= st->rd.nr_strs || !*rd_str(&st->rd, v))
		v = 0;
	if (grow_to((void **)&c->group_of, sizeof(*c->group_of),
		    &c->nr_group_of, v))
		return NULL;
	if (!c->group_of[v]) {
		struct tl_group *g =
		    realloc(c->groups, (c->nr_groups + 1) * sizeof(*c->groups));
		uint64_t *counts;

		if (!g)
			return NULL;
		c->groups = g;
		if (!(counts = calloc(c->npoints, sizeof(*counts))))
			return NULL;
		c->groups[c->nr_groups] = (struct tl_group){v, counts};
		c->group_of[v] = (uint32_t)++c->nr_groups;
	}
	return c->groups[c->group_of[v] - 1].counts;
}

static int timeline_row(struct store *st, const struct scan_row *row, void *ctx)
{
	struct tlctx *c = ctx;
	uint64_t *counts = tl_counts(st, c, row->series), t;
	uint64_t g = level_width_s[row->seg->lvl] * NS_PER_SEC;
	int err;

	if (!counts)
		return -ENOMEM;

	t = (uint64_t)row->bucket * g;
	/* The whole row falls in one point: its total, no blob read. */
	if (!row->partial && t >= c->t0 &&
	    (t - c->t0) / c->step == (t + g - 1 - c->t0) / c->step) {
		counts[(t - c->t0) / c->step] =
		    sat_add(counts[(t - c->t0) / c->step], row->total);
		return 0;
	}
	/* Finer than a bucket, or cut by the range: go by 20 ms slot. */
	if ((err = row_decode(row, &c->ents, &c->nents, &c->ents_cap)))
		return err;
	for (size_t i = 0; i < c->nents; i++)
		if (slot_in(row, c->ents[i].slot, &t))
			counts[(t - c->t0) / c->step] = sat_add(
			    counts[(t - c->t0) / c->step], c->ents[i].count);
	return 0;
}

static int group_cmp(const void *a, const void *b, void *ctx)
{
	const struct tl_group *x = a, *y = b;
	const struct rdict *rd = ctx;

	return strcmp(rd_str(rd, x->value), rd_str(rd, y->value));
}

int sqlite__timeline(struct store *st, const struct store_query *q,
		     uint64_t step_ns, const char *group_by,
		     int (*fn)(const struct store_point *pt, void *ctx),
		     void *ctx)
{
	struct tlctx c = {0};
	struct plan pl = {0};
	uint8_t *match = NULL;
	uint64_t fa = 0, fb = 0;
	int maxlvl = LVL_10S, err;

	if ((err = check_range(q)) || !step_ns)
		return err ? err : -EINVAL;
	c.step = step_ns;
	c.t0 = q->from_ns - q->from_ns % step_ns;
	c.npoints = (size_t)((q->to_ns - c.t0 + step_ns - 1) / step_ns);
	if (c.npoints > MAX_TIMELINE_POINTS)
		return -ERANGE;
	if ((err = read_begin(st, &match, q, &pl)))
		return err;
	if (group_by) {
		c.grouped = true;
		if ((err = label_key(st, group_by, &c.key)))
			goto out;
	}
	/* A row of a coarser level must fall in one point. */
	for (int lvl = LVL_1M; lvl < NR_LEVELS; lvl++)
		if (step_ns % (level_width_s[lvl] * NS_PER_SEC) == 0)
			maxlvl = lvl;
	/*
	 * Every host's line, or its process names': the whole buckets from
	 * the fleet series (a few per process name instead of a fleet's
	 * tens of thousands of rows per bucket), the cut ones at the edges
	 * from the stored series. Their rows hold no 20 ms slots, so only
	 * when each falls in one point.
	 */
	if (step_ns % (10 * NS_PER_SEC) == 0 &&
	    (!group_by || !strcmp(group_by, LABEL_COMM)) &&
	    (err = fleet_whole(st, q, &fa, &fb)))
		goto out;
	if (fa < fb) {
		struct plan fpl = {0};
		uint8_t *fmatch = NULL;

		memcpy(fpl.rolled, pl.rolled, sizeof(pl.rolled));
		plan_add(&fpl, maxlvl, fa, fb);
		plan_add(&pl, maxlvl, q->from_ns, fa);
		plan_add(&pl, maxlvl, fb, q->to_ns);
		if (!(err = filter_build_ex(st, q, true, &fmatch)))
			err = scan_ex(st, &fpl, fmatch, true,
				      q->deadline_mono_ns, timeline_row, &c);
		free(fmatch);
		if (err)
			goto out;
	} else {
		plan_add(&pl, maxlvl, q->from_ns, q->to_ns);
	}
	if ((err = scan_ex(st, &pl, match, true, q->deadline_mono_ns,
			   timeline_row, &c)))
		goto out;
	if (c.nr_groups > 1)
		qsort_r(c.groups, c.nr_groups, sizeof(*c.groups), group_cmp,
			&st->rd);
	for (size_t g = 0; g < c.nr_groups && !err; g++) {
		for (size_t i = 0; i < c.npoints && !err; i++) {
			struct store_point pt = {
			    .t_ns = c.t0 + i * step_ns,
			    .count = c.groups[g].counts[i],
			    .group = rd_str(&st->rd, c.groups[g].value),
			};

			if (pt.count)
				err = fn(&pt, ctx);
		}
	}
out:
	for (size_t g = 0; g < c.nr_groups; g++)
		free(c.groups[g].counts);
	free(c.groups);
	free(c.group_of);
	free(c.ents);
	/* A callback's own value is not a reason to roll back a read. */
	int end = read_end(st, match, 0);
	return err ? err : end;
}

/* ---- heat map ---- */

struct hmctx {
	int64_t bucket; /* the bucket being summed, -1 before the first */
	uint64_t cells[RAW_SLOTS];
	int (*fn)(uint64_t second_ns, const uint64_t *counts, void *ctx);
	void *ctx;
	struct blob_ent *ents;
	size_t nents, ents_cap;
};

static int hm_flush(struct hmctx *c)
{
	int err = 0;

	if (c->bucket < 0)
		return 0;
	for (int s = 0; s < 10 && !err; s++) {
		const uint64_t *cell = c->cells + s * STORE_HEAT_SLOTS;
		bool any = false;

		for (int i = 0; i < STORE_HEAT_SLOTS && !any; i++)
			any = cell[i] != 0;
		if (any)
			err = c->fn(((uint64_t)c->bucket * 10 + (uint64_t)s) *
					NS_PER_SEC,
				    cell, c->ctx);
	}
	memset(c->cells, 0, sizeof(c->cells));
	return err;
}

static int heatmap_row(struct store *st, const struct scan_row *row, void *ctx)
{
	struct hmctx *c = ctx;
	uint64_t t;
	int err;

	(void)st;
	if (row->bucket != c->bucket) {
		if ((err = hm_flush(c)))
			return err;
		c->bucket = row->bucket;
	}
	if ((err = row_decode(row, &c->ents, &c->nents, &c->ents_cap)))
		return err;
	for (size_t i = 0; i < c->nents; i++)
		if (slot_in(row, c->ents[i].slot, &t))
			c->cells[c->ents[i].slot] = sat_add(
			    c->cells[c->ents[i].slot], c->ents[i].count);
	return 0;
}

int sqlite__heatmap(struct store *st, const struct store_query *q,
		    int (*fn)(uint64_t second_ns, const uint64_t *counts,
			      void *ctx),
		    void *ctx)
{
	struct hmctx *c;
	struct plan pl = {0};
	uint8_t *match = NULL;
	int err;

	if ((err = check_range(q)))
		return err;
	if ((err = read_begin(st, &match, q, &pl)))
		return err;
	if (!(c = calloc(1, sizeof(*c)))) {
		read_end(st, match, 0);
		return -ENOMEM;
	}
	c->bucket = -1;
	c->fn = fn;
	c->ctx = ctx;
	plan_add(&pl, LVL_10S, q->from_ns, q->to_ns);
	err = scan(st, &pl, match, q->deadline_mono_ns, heatmap_row, c);
	if (!err)
		err = hm_flush(c);
	free(c->ents);
	free(c);
	int end = read_end(st, match, 0);
	return err ? err : end;
}

/* ---- labels ---- */

static int each_string(struct store *st, const char *sql, int64_t arg,
		       int (*fn)(const char *s, void *ctx), void *ctx)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), err = 0;

	if (rc != SQLITE_OK)
		return store__sqlerr(st, rc, "listing labels");
	sqlite3_bind_int64(s, 1, arg);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && !err) {
		const char *v = (const char *)sqlite3_column_text(s, 0);

		if (!v) {
			err = -EBADMSG;
			pr_warn("store '%s' is corrupt: a label name or value "
				"is NULL",
				st->path);
			break;
		}
		err = fn(v, ctx);
	}
	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = store__sqlerr(st, rc, "listing labels");
	sqlite3_finalize(s);
	return err;
}

int sqlite__label_names(struct store *st,
			int (*fn)(const char *name, void *ctx), void *ctx)
{
	return each_string(st,
			   "SELECT s FROM strings WHERE id IN "
			   "(SELECT DISTINCT key FROM series_labels) "
			   "AND ?1 = ?1 ORDER BY s",
			   0, fn, ctx);
}

struct lvctx {
	uint8_t *active; /* per series id */
};

static int active_row(struct store *st, const struct scan_row *row, void *ctx)
{
	struct lvctx *c = ctx;

	(void)st;
	c->active[row->series] = 1;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sqlite__label_values(struct store *st, const char *key,
			 const struct store_query *q,
			 int (*fn)(const char *value, void *ctx), void *ctx)
{
	struct plan pl = {0};
	struct lvctx c = {0};
	uint8_t *match = NULL, *seen = NULL;
	const char **vals = NULL;
	size_t nvals = 0;
	uint32_t kid;
	int err;

	if (!key)
		return -EINVAL;
	if (!q) {
		if ((err = store__exec(st, "BEGIN")))
			return err;
		err = label_key(st, key, &kid);
		if (!err && kid)
			err = each_string(
			    st,
			    "SELECT s FROM strings WHERE id IN (SELECT "
			    "value FROM series_labels WHERE key = ?) "
			    "ORDER BY s",
			    kid, fn, ctx);
		return read_end(st, NULL, 0) ? -EIO : err;
	}
	if ((err = check_range(q)))
		return err;
	if ((err = read_begin(st, &match, q, &pl)))
		return err;
	if ((err = label_key(st, key, &kid)) || !kid)
		goto out;
	if (!(c.active = calloc(st->rd.nr_series + 1, 1))) {
		err = -ENOMEM;
		goto out;
	}
	plan_add(&pl, LVL_1H, q->from_ns, q->to_ns);
	if ((err = scan(st, &pl, match, q->deadline_mono_ns, active_row, &c)))
		goto out;
	seen = calloc(st->rd.nr_strs + 1, 1);
	vals = calloc(st->rd.nr_series + 1, sizeof(*vals));
	if (!seen || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t s = 0; s < st->rd.nr_series; s++) {
		uint32_t v;

		if (!c.active[s] ||
		    !(v = series_value(&st->rd, (uint32_t)s, kid)) ||
		    v >= st->rd.nr_strs)
			continue;
		if (!seen[v]) {
			seen[v] = 1;
			vals[nvals++] = rd_str(&st->rd, v);
		}
	}
	if (nvals > 1)
		qsort(vals, nvals, sizeof(*vals), str_cmp);
	for (size_t i = 0; i < nvals && !err; i++)
		err = fn(vals[i], ctx);
out:
	free(c.active);
	free(seen);
	free(vals);
	int end = read_end(st, match, 0);
	return err ? err : end;
}

/* ---- raw windows, for copying a store (kiln migrate) ---- */

/* id -> output id, valid for one window (generation 'gen'). */
struct memo {
	uint32_t *val, *gen;
	size_t n;
};

static bool memo_get(const struct memo *m, size_t id, uint32_t gen, uint32_t *v)
{
	if (id >= m->n || m->gen[id] != gen)
		return false;
	*v = m->val[id];
	return true;
}

static void memo_set(struct memo *m, size_t id, uint32_t gen, uint32_t v)
{
	if (id >= m->n) {
		size_t n = m->n;

		/* Out of memory: the entry is just not remembered. */
		if (grow_to((void **)&m->val, sizeof(*m->val), &n, id) ||
		    grow_to((void **)&m->gen, sizeof(*m->gen), &m->n, id))
			return;
	}
	m->gen[id] = gen;
	m->val[id] = v;
}

struct winctx {
	int64_t bucket; /* -1 before the first row */
	uint32_t gen;
	struct profile *p;
	struct memo strs, frames, stacks, series;
	struct blob_ent *ents;
	size_t nents, ents_cap;
	uint32_t *ids;
	size_t ids_cap;
	int64_t period;
	int (*fn)(const struct profile *p, void *ctx);
	void *ctx;
};

static uint32_t win_str(struct winctx *c, const struct rdict *rd, uint32_t id)
{
	uint32_t v;

	if (!memo_get(&c->strs, id, c->gen, &v)) {
		v = profile__intern(c->p, rd_str(rd, id));
		memo_set(&c->strs, id, c->gen, v);
	}
	return v;
}

static uint32_t win_frame(struct winctx *c, const struct rdict *rd, uint32_t f)
{
	uint32_t v;

	if (memo_get(&c->frames, f, c->gen, &v))
		return v;
	struct rd_frame rf =
	    f < rd->nr_frames ? rd->frames[f] : (struct rd_frame){0};
	uint32_t name = rf.func < rd->nr_funcs ? rd->func_name[rf.func] : 0;
	uint32_t file = rf.func < rd->nr_funcs ? rd->func_file[rf.func] : 0;
	uint32_t sys = rf.func < rd->nr_funcs ? rd->func_sys[rf.func] : 0;
	uint32_t mod = rf.map < rd->nr_maps ? rd->map_path[rf.map] : 0;
	struct frame fr = {
	    .name = win_str(c, rd, name),
	    .file = win_str(c, rd, file),
	    .module = win_str(c, rd, mod),
	    .sysname = sys ? win_str(c, rd, sys) : 0,
	    .line = rf.line,
	    .kind = rf.kind,
	    .addr = rf.addr,
	};
	v = profile__add_frame(c->p, &fr);
	memo_set(&c->frames, f, c->gen, v);
	return v;
}

static uint32_t win_stack(struct winctx *c, const struct rdict *rd,
			  uint32_t stack)
{
	struct rd_span sp =
	    stack < rd->nr_stacks ? rd->stacks[stack] : (struct rd_span){0, 0};
	uint32_t v;

	if (memo_get(&c->stacks, stack, c->gen, &v))
		return v;
	/* ids holds RD_MAX_STACK_DEPTH, the most a loaded stack has. */
	if (sp.len > c->ids_cap)
		sp.len = (uint32_t)c->ids_cap;
	for (uint32_t j = 0; j < sp.len; j++)
		c->ids[j] = win_frame(c, rd, rd->stack_ids[sp.off - 1 + j]);
	v = profile__add_stack(c->p, c->ids, sp.len);
	memo_set(&c->stacks, stack, c->gen, v);
	return v;
}

static uint32_t win_series(struct winctx *c, const struct rdict *rd,
			   uint32_t series)
{
	const struct rd_span *sp = series < rd->nr_series
				       ? &rd->series[series]
				       : &(struct rd_span){0, 0};
	struct label ls[sp->len ? sp->len : 1];
	uint32_t v;

	if (memo_get(&c->series, series, c->gen, &v))
		return v;
	for (uint32_t j = 0; j < sp->len; j++)
		ls[j] = (struct label){
		    win_str(c, rd, rd->series_kv[sp->off + 2 * j]),
		    win_str(c, rd, rd->series_kv[sp->off + 2 * j + 1])};
	v = profile__add_series(c->p, ls, sp->len);
	memo_set(&c->series, series, c->gen, v);
	return v;
}

static int win_flush(struct winctx *c)
{
	size_t n;
	int err = 0;

	if (c->bucket < 0)
		return 0;
	profile__samples(c->p, &n);
	if (n) {
		struct profile_meta *meta = profile__meta(c->p);

		meta->start_ns = (uint64_t)c->bucket * 10 * NS_PER_SEC;
		meta->duration_ns = 10 * NS_PER_SEC;
		if (c->period > 0)
			meta->period_ns = (uint64_t)c->period;
		err = c->fn(c->p, c->ctx);
	}
	profile__free(c->p);
	c->p = profile__new();
	c->gen++;
	return err ? err : c->p ? 0 : -ENOMEM;
}

static int window_row(struct store *st, const struct scan_row *row, void *ctx)
{
	struct winctx *c = ctx;
	uint64_t t;
	int err;

	if (row->bucket != c->bucket) {
		if ((err = win_flush(c)))
			return err;
		c->bucket = row->bucket;
	}
	if ((err = row_decode(row, &c->ents, &c->nents, &c->ents_cap)))
		return err;
	for (size_t i = 0; i < c->nents; i++) {
		const struct blob_ent *e = &c->ents[i];

		if (!slot_in(row, e->slot, &t))
			continue;
		profile__add_sample(c->p, win_series(c, &st->rd, row->series),
				    win_stack(c, &st->rd, e->stack), t,
				    e->count);
	}
	return 0;
}

int sqlite__windows(struct store *st, const struct store_query *q,
		    int (*fn)(const struct profile *p, void *ctx), void *ctx)
{
	struct winctx c = {.bucket = -1, .gen = 1, .fn = fn, .ctx = ctx};
	struct plan pl = {0};
	uint8_t *match = NULL;
	int err;

	if ((err = check_range(q)))
		return err;
	c.ids_cap = RD_MAX_STACK_DEPTH;
	if (!(c.ids = malloc(c.ids_cap * sizeof(*c.ids))))
		return -ENOMEM;
	if (!(c.p = profile__new())) {
		free(c.ids);
		return -ENOMEM;
	}
	if ((err = read_begin(st, &match, q, &pl)))
		goto out;
	err = store__meta_get(st, "period_ns", &c.period);
	plan_add(&pl, LVL_10S, q->from_ns, q->to_ns);
	if (!err)
		err = scan(st, &pl, match, q->deadline_mono_ns, window_row, &c);
	if (!err)
		err = win_flush(&c);
	int end = read_end(st, match, 0);
	err = err ? err : end;
out:
	profile__free(c.p);
	free(c.strs.val);
	free(c.strs.gen);
	free(c.frames.val);
	free(c.frames.gen);
	free(c.stacks.val);
	free(c.stacks.gen);
	free(c.series.val);
	free(c.series.gen);
	free(c.ents);
	free(c.ids);
	return err;
}
