// SPDX-License-Identifier: MIT
/*
 * Reading a ClickHouse store. ClickHouse does the merging: every query
 * aggregates in SQL (per stack and series, per time-line point, per heat-map
 * cell), so what comes back is the size of the answer, never the rows of
 * the range. kiln then fills in the names from its dictionary cache, which
 * fetches only ids it has not seen (ids are content fingerprints, so cached
 * entries never go stale).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "storage/clickhouse_int.h"

#define MAX_TIMELINE_POINTS 1000000

static const char *const well_known[] = {LABEL_HOST,	 LABEL_COMM,
					 LABEL_PID,	 LABEL_EXE,
					 LABEL_BUILD_ID, LABEL_CONTAINER};

static struct rbin resp(const struct ch_store *c)
{
	return (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
}

static char *dupn(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = 0;
	/* A NUL inside would cut the name short; the profile model is C
	 * strings, so it stops there as SQLite's text would. */
	return d;
}

/* ---- SQL pieces ---- */

void ch__range_sql(struct chbuf *b, uint64_t from_ns, uint64_t to_ns)
{
	uint64_t tf = (from_ns + CH_SLOT_NS - 1) / CH_SLOT_NS;
	uint64_t tt = (to_ns + CH_SLOT_NS - 1) / CH_SLOT_NS;

	uint64_t s0 = tf / CH_SLOTS_PER_S,
		 s1 = (tt + CH_SLOTS_PER_S - 1) / CH_SLOTS_PER_S;

	/* block for the primary key, second for partitions, slots for the
	 * 20 ms edges. */
	chbuf__printf(b,
		      "block >= %llu AND block <= %llu AND second >= %llu AND "
		      "second < %llu AND toUInt64(second) * 50 + slot >= %llu "
		      "AND toUInt64(second) * 50 + slot < %llu",
		      (unsigned long long)(s0 / 600),
		      (unsigned long long)(s1 / 600), (unsigned long long)s0,
		      (unsigned long long)s1, (unsigned long long)tf,
		      (unsigned long long)tt);
}

static void label_value_sql(struct chbuf *b, const char *key)
{
	chbuf__printf(b, "label_values[indexOf(label_keys, ");
	chbuf__quote(b, key);
	chbuf__printf(b, ")]");
}

int ch__check_key(struct ch_store *c, const char *key)
{
	struct chbuf sql = {0};
	struct rbin r;
	int err;

	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++)
		if (!strcmp(key, well_known[i]))
			return 0;
	chbuf__printf(&sql,
		      "SELECT count() FROM series WHERE has(label_keys, ");
	chbuf__quote(&sql, key);
	chbuf__printf(&sql, ") FORMAT RowBinary");
	err = ch__request(c, (const char *)sql.p, NULL, "looking up a label");
	chbuf__release(&sql);
	if (err)
		return err;
	r = resp(c);
	if (!rbin__u64(&r)) {
		pr_debug("store '%s': unknown label '%s'", c->name, key);
		return r.bad ? -EBADMSG : -EINVAL;
	}
	return 0;
}

int ch__filter_sql(struct ch_store *c, struct chbuf *b,
		   const struct store_query *q)
{
	size_t nf = q ? q->nr_filters : 0;
	int err;

	if (!nf)
		return 0;
	for (size_t i = 0; i < nf; i++) {
		if (!q->filters[i].key || !q->filters[i].value)
			return -EINVAL;
		if ((err = ch__check_key(c, q->filters[i].key)))
			return err;
	}
	chbuf__printf(b, " AND series IN (SELECT id FROM series WHERE 1");
	/* Filters on one key OR, on different keys AND. */
	for (size_t i = 0; i < nf; i++) {
		const char *key = q->filters[i].key;
		bool first = true, seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(q->filters[j].key, key);
		if (seen)
			continue;
		chbuf__printf(b, " AND has(label_keys, ");
		chbuf__quote(b, key);
		chbuf__printf(b, ") AND ");
		label_value_sql(b, key);
		chbuf__printf(b, " IN (");
		for (size_t j = i; j < nf; j++) {
			if (strcmp(q->filters[j].key, key))
				continue;
			if (!first)
				chbuf__put(b, ", ", 2);
			chbuf__quote(b, q->filters[j].value);
			first = false;
		}
		chbuf__printf(b, ")");
	}
	chbuf__printf(b, ")");
	return 0;
}

static int check_range(const struct store_query *q)
{
	return q && q->from_ns < q->to_ns ? 0 : -EINVAL;
}

/* ---- the dictionary cache ---- */

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool frame_eq(uint32_t pos, const void *key, void *ctx)
{
	return ((const struct ch_dict *)ctx)->frames[pos].id ==
	       *(const uint64_t *)key;
}

static bool stack_eq(uint32_t pos, const void *key, void *ctx)
{
	return ((const struct ch_dict *)ctx)->stacks[pos].id ==
	       *(const uint64_t *)key;
}

static bool series_eq(uint32_t pos, const void *key, void *ctx)
{
	return ((const struct ch_dict *)ctx)->series[pos].id ==
	       *(const uint64_t *)key;
}

static long frame_pos(const struct ch_dict *d, uint64_t id)
{
	uint32_t pos;

	return idxset__find(&d->frame_set, (uint32_t)id, &id, frame_eq,
			    (void *)d, &pos)
		   ? -1
		   : (long)pos;
}

static long stack_pos(const struct ch_dict *d, uint64_t id)
{
	uint32_t pos;

	return idxset__find(&d->stack_set, (uint32_t)id, &id, stack_eq,
			    (void *)d, &pos)
		   ? -1
		   : (long)pos;
}

static long series_pos(const struct ch_dict *d, uint64_t id)
{
	uint32_t pos;

	return idxset__find(&d->series_set, (uint32_t)id, &id, series_eq,
			    (void *)d, &pos)
		   ? -1
		   : (long)pos;
}

const struct ch_stack *ch__dict_stack(const struct ch_dict *d, uint64_t id)
{
	long pos = stack_pos(d, id);

	return pos < 0 ? NULL : &d->stacks[pos];
}

const struct ch_frame *ch__dict_frame(const struct ch_dict *d, uint64_t id)
{
	long pos = frame_pos(d, id);

	return pos < 0 ? NULL : &d->frames[pos];
}

const struct ch_series *ch__dict_series(const struct ch_dict *d, uint64_t id)
{
	long pos = series_pos(d, id);

	return pos < 0 ? NULL : &d->series[pos];
}

/* Runs 'prefix' + " WHERE id IN ids" for these ids (sorted, unique),
 * then 'parse' on the response. */
static int fetch_ids(struct ch_store *c, const char *prefix,
		     const uint64_t *ids, size_t n,
		     int (*parse)(struct ch_store *c))
{
	struct chbuf sql = {0};
	int err;

	if (!n)
		return 0;
	chbuf__printf(&sql, "%s WHERE id IN ids FORMAT RowBinary", prefix);
	err = ch__request_ids(c, (const char *)sql.p, ids, n,
			      "reading the dictionary");
	chbuf__release(&sql);
	return err ? err : parse(c);
}

/*
 * Two rows of one frame id: its content is the id's, but a row written
 * before the database was upgraded to version 3 has no system name, build
 * id or file offset, and a later writer's row of the same frame has them.
 * Until ClickHouse merges them, either may come first: what one lacks is
 * taken from the other.
 */
static void frame_fill(struct ch_frame *kept, struct ch_frame *other)
{
	char *t;

	if (!*kept->system_name && *other->system_name) {
		t = kept->system_name;
		kept->system_name = other->system_name;
		other->system_name = t;
	}
	if (!*kept->build_id && *other->build_id) {
		t = kept->build_id;
		kept->build_id = other->build_id;
		other->build_id = t;
		kept->file_offset = other->file_offset;
	}
}

static int parse_frames(struct ch_store *c)
{
	struct ch_dict *d = &c->rd;
	struct rbin r = resp(c);

	while (rbin__more(&r)) {
		struct ch_frame f = {0};
		const char *s;
		size_t n;
		long pos;

		f.id = rbin__u64(&r);
		s = rbin__str(&r, &n);
		f.name = dupn(s, n);
		s = rbin__str(&r, &n);
		f.file = dupn(s, n);
		s = rbin__str(&r, &n);
		f.module = dupn(s, n);
		f.line = rbin__u32(&r);
		f.kind = rbin__u8(&r);
		f.addr = rbin__u64(&r);
		s = rbin__str(&r, &n);
		f.system_name = dupn(s, n);
		s = rbin__str(&r, &n);
		f.build_id = dupn(s, n);
		f.file_offset = rbin__u64(&r);
		if (f.kind >= FRAME_KIND_MAX)
			f.kind = FRAME_USER;
		pos = r.bad ? -1 : frame_pos(d, f.id);
		if (pos >= 0)
			frame_fill(&d->frames[pos], &f);
		if (r.bad || pos >= 0) {
			free(f.name);
			free(f.file);
			free(f.module);
			free(f.system_name);
			free(f.build_id);
			continue;
		}
		if (d->nr_frames == d->cap_frames) {
			d->cap_frames =
			    d->cap_frames ? 2 * d->cap_frames : 1024;
			d->frames = xrealloc(d->frames, d->cap_frames *
							    sizeof(*d->frames));
		}
		d->frames[d->nr_frames] = f;
		idxset__insert(&d->frame_set, (uint32_t)f.id,
			       (uint32_t)d->nr_frames++);
	}
	return r.bad ? -EBADMSG : 0;
}

static int parse_stacks(struct ch_store *c)
{
	struct ch_dict *d = &c->rd;
	struct rbin r = resp(c);

	while (rbin__more(&r)) {
		uint64_t id = rbin__u64(&r), n = rbin__varint(&r);

		if (n > CH_MAX_ARRAY || (size_t)(r.end - r.p) < n * 8) {
			r.bad = true;
			break;
		}
		if (stack_pos(d, id) >= 0) {
			r.p += n * 8;
			continue;
		}
		if (d->nr_stack_frames + n > d->cap_stack_frames) {
			size_t cap =
			    d->cap_stack_frames ? d->cap_stack_frames : 4096;

			while (cap < d->nr_stack_frames + n)
				cap *= 2;
			d->stack_frames =
			    xrealloc(d->stack_frames, cap * sizeof(uint64_t));
			d->cap_stack_frames = cap;
		}
		memcpy(d->stack_frames + d->nr_stack_frames, r.p, n * 8);
		r.p += n * 8;
		if (d->nr_stacks == d->cap_stacks) {
			d->cap_stacks =
			    d->cap_stacks ? 2 * d->cap_stacks : 1024;
			d->stacks = xrealloc(d->stacks, d->cap_stacks *
							    sizeof(*d->stacks));
		}
		d->stacks[d->nr_stacks] = (struct ch_stack){
		    id, (uint32_t)d->nr_stack_frames, (uint32_t)n};
		d->nr_stack_frames += n;
		idxset__insert(&d->stack_set, (uint32_t)id,
			       (uint32_t)d->nr_stacks++);
	}
	return r.bad ? -EBADMSG : 0;
}

static int parse_series(struct ch_store *c)
{
	struct ch_dict *d = &c->rd;
	struct rbin r = resp(c);

	while (rbin__more(&r)) {
		uint64_t id = rbin__u64(&r), nk, nv;
		struct ch_series se = {.id = id};
		const char *s;
		size_t len;

		nk = rbin__varint(&r);
		if (nk > 4096) {
			r.bad = true;
			break;
		}
		se.kv = xcalloc(2 * nk + 1, sizeof(*se.kv));
		for (uint64_t i = 0; i < nk; i++) {
			s = rbin__str(&r, &len);
			se.kv[2 * i] = dupn(s, len);
		}
		nv = rbin__varint(&r);
		for (uint64_t i = 0; i < nv && i < nk; i++) {
			s = rbin__str(&r, &len);
			se.kv[2 * i + 1] = dupn(s, len);
		}
		se.n = (uint32_t)nk;
		if (r.bad || nv != nk || series_pos(d, id) >= 0) {
			for (uint64_t i = 0; i < 2 * nk; i++)
				free(se.kv[i]);
			free(se.kv);
			if (nv != nk)
				r.bad = true;
			continue;
		}
		if (d->nr_series == d->cap_series) {
			d->cap_series = d->cap_series ? 2 * d->cap_series : 256;
			d->series = xrealloc(d->series, d->cap_series *
							    sizeof(*d->series));
		}
		d->series[d->nr_series] = se;
		idxset__insert(&d->series_set, (uint32_t)id,
			       (uint32_t)d->nr_series++);
	}
	return r.bad ? -EBADMSG : 0;
}

int ch__dict_load_stacks(struct ch_store *c, const uint64_t *ids, size_t n)
{
	uint64_t *want = xcalloc(n ? n : 1, sizeof(*want));
	size_t m = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		if (stack_pos(&c->rd, ids[i]) < 0)
			want[m++] = ids[i];
	err = fetch_ids(c, "SELECT id, frames FROM stacks", want, m,
			parse_stacks);
	if (err)
		goto out;
	/* The frames those stacks name that are new. */
	m = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ch_stack *s = ch__dict_stack(&c->rd, ids[i]);

		for (uint32_t j = 0; s && j < s->len; j++) {
			uint64_t f = c->rd.stack_frames[s->off + j];

			if (frame_pos(&c->rd, f) >= 0)
				continue;
			if (m % 1024 == 0)
				want =
				    xrealloc(want, (m + 1024) * sizeof(*want));
			want[m++] = f;
		}
	}
	qsort(want, m, sizeof(*want), u64_cmp);
	size_t u = 0;
	for (size_t i = 0; i < m; i++)
		if (!u || want[u - 1] != want[i])
			want[u++] = want[i];
	m = u;
	/* A version 2 database (read only: writers upgrade it) has no
	 * system_name, build_id or file_offset yet. */
	err = fetch_ids(
	    c,
	    c->schema >= 3 ? "SELECT id, name, file, module, line, kind, addr, "
			     "system_name, build_id, file_offset FROM frames"
			   : "SELECT id, name, file, module, line, kind, addr, "
			     "'', '', toUInt64(0) FROM frames",
	    want, m, parse_frames);
out:
	free(want);
	return err;
}

int ch__dict_load_series(struct ch_store *c, const uint64_t *ids, size_t n)
{
	uint64_t *want = xcalloc(n ? n : 1, sizeof(*want));
	size_t m = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		if (series_pos(&c->rd, ids[i]) < 0)
			want[m++] = ids[i];
	err = fetch_ids(c, "SELECT id, label_keys, label_values FROM series",
			want, m, parse_series);
	free(want);
	return err;
}

/* ---- merged profile ---- */

#define MAX_KEEP 16 /* labels a merged profile can keep */

struct qrow {
	uint64_t series, stack, count;
	uint32_t second;
};

/* Sorted unique ids of one field of the rows. */
static uint64_t *unique_ids(const struct qrow *rows, size_t n, bool stacks,
			    size_t *out_n)
{
	uint64_t *ids = xmalloc((n ? n : 1) * sizeof(*ids));
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		ids[i] = stacks ? rows[i].stack : rows[i].series;
	qsort(ids, n, sizeof(*ids), u64_cmp);
	for (size_t i = 0; i < n; i++)
		if (!m || ids[m - 1] != ids[i])
			ids[m++] = ids[i];
	*out_n = m;
	return ids;
}

static int period(struct ch_store *c, uint64_t *out)
{
	struct rbin r;
	int err =
	    ch__request(c,
			"SELECT toUInt64(argMax(value, updated)) FROM meta "
			"WHERE key = 'period_ns' FORMAT RowBinary",
			NULL, "reading settings");

	*out = 0;
	if (err)
		return err;
	r = resp(c);
	if (rbin__more(&r))
		*out = rbin__u64(&r);
	return r.bad ? -EBADMSG : 0;
}

/* 'row_series', when not NULL, holds each row's series in 'out' already
 * (a merged query's groups); else rows name series in the dictionary. */
static void build_profile(struct ch_store *c, const struct qrow *rows, size_t n,
			  const uint32_t *row_series, struct profile *out)
{
	struct ch_dict *d = &c->rd;
	uint32_t *fmemo = xcalloc(d->nr_frames + 1, sizeof(*fmemo));
	uint32_t *stmemo = xcalloc(d->nr_stacks + 1, sizeof(*stmemo));
	uint32_t *sememo = xcalloc(d->nr_series + 1, sizeof(*sememo));
	uint32_t *ids = NULL;
	size_t ids_cap = 0;

	for (size_t i = 0; i < n; i++) {
		long sp = row_series ? -1 : series_pos(d, rows[i].series);
		long tp = stack_pos(d, rows[i].stack);
		uint32_t os, ost;

		if (row_series) {
			os = row_series[i];
		} else if (sp >= 0 && sememo[sp]) {
			os = sememo[sp] - 1;
		} else {
			const struct ch_series *se =
			    sp >= 0 ? &d->series[sp] : NULL;
			uint32_t nl = se ? se->n : 0;
			struct label ls[nl ? nl : 1];

			for (uint32_t j = 0; j < nl; j++)
				ls[j] = (struct label){
				    profile__intern(out, se->kv[2 * j]),
				    profile__intern(out, se->kv[2 * j + 1])};
			os = profile__add_series(out, ls, nl);
			if (sp >= 0)
				sememo[sp] = os + 1;
		}
		if (tp >= 0 && stmemo[tp]) {
			ost = stmemo[tp] - 1;
		} else {
			const struct ch_stack *st =
			    tp >= 0 ? &d->stacks[tp] : NULL;
			uint32_t len = st ? st->len : 0;

			if (len > ids_cap) {
				ids_cap = len;
				ids = xrealloc(ids, ids_cap * sizeof(*ids));
			}
			for (uint32_t j = 0; j < len; j++) {
				long fp =
				    frame_pos(d, d->stack_frames[st->off + j]);
				const struct ch_frame *cf =
				    fp >= 0 ? &d->frames[fp] : NULL;

				if (fp >= 0 && fmemo[fp]) {
					ids[j] = fmemo[fp] - 1;
					continue;
				}
				struct frame fr = {
				    .name = profile__intern(
					out, cf ? cf->name : "[unknown]"),
				    .file =
					cf ? profile__intern(out, cf->file) : 0,
				    .module =
					cf ? profile__intern(out, cf->module)
					   : 0,
				    .line = cf ? cf->line : 0,
				    .kind = cf ? cf->kind : FRAME_SPECIAL,
				    .addr = cf ? cf->addr : 0,
				    .sysname = cf ? profile__intern(
							out, cf->system_name)
						  : 0,
				};
				ids[j] = profile__add_frame(out, &fr);
				if (fp >= 0)
					fmemo[fp] = ids[j] + 1;
			}
			ost = profile__add_stack(out, ids, len);
			if (tp >= 0)
				stmemo[tp] = ost + 1;
		}
		profile__add_sample(out, os, ost,
				    (uint64_t)rows[i].second * 1000000000ULL,
				    rows[i].count);
	}
	free(ids);
	free(fmemo);
	free(stmemo);
	free(sememo);
}

/* The range less the rolled-up hours, as intervals the primary key can
 * skip to. */
static void raw_range_sql(struct chbuf *sql, uint64_t from_ns, uint64_t to_ns,
			  const struct ch_rolled *rolled)
{
	uint64_t cur = from_ns, hns = 3600 * 1000000000ULL;

	chbuf__printf(sql, "(0");
	for (size_t i = 0; i <= rolled->n; i++) {
		uint64_t end = i < rolled->n ? rolled->hours[i] * hns : to_ns;

		if (cur < end) {
			chbuf__printf(sql, " OR (");
			ch__range_sql(sql, cur, end);
			chbuf__printf(sql, ")");
		}
		if (i < rolled->n)
			cur = (rolled->hours[i] + 1ULL) * hns;
	}
	chbuf__printf(sql, ")");
}

/* "(HOUR, attempt) IN (...)" for the rolled-up hours; 'hour' is an SQL
 * expression for a row's hour. */
static void rolled_sql(struct chbuf *sql, const char *hour,
		       const struct ch_rolled *rolled)
{
	chbuf__printf(sql, "(%s, attempt) IN (", hour);
	for (size_t i = 0; i < rolled->n; i++)
		chbuf__printf(sql, "%s(%u, %llu)", i ? "," : "",
			      rolled->hours[i],
			      (unsigned long long)rolled->attempts[i]);
	chbuf__printf(sql, ")");
}

int ch__query(struct store *st, const struct store_query *q,
	      struct profile *out)
{
	struct ch_store *c = ch_of(st);
	struct chbuf sql = {0}, filter = {0};
	struct ch_rolled rolled = {0};
	struct qrow *rows = NULL;
	uint32_t *row_series = NULL;
	uint64_t *ids = NULL, per = 0;
	size_t n = 0, cap = 0, nids;
	/* More kept labels than that: keep them all (store.h allows it). */
	bool merge = q->merge && q->nr_keep <= MAX_KEEP;
	struct rbin r;
	int err;

	if ((err = check_range(q)))
		return err;
	c->deadline_ns = q->deadline_mono_ns;
	c->max_groups = q->max_entries;
	if ((err = ch__filter_sql(c, &filter, q)) ||
	    (err = ch__rolled(c, q->from_ns, q->to_ns, &rolled)))
		goto out;
	/* Whole hours with a usable rollup come from samples_1h, the rest
	 * from samples. */
	pr_debug("store '%s': %zu hours from rollups", c->name, rolled.n);
	/*
	 * Merged (store_query.merge): ClickHouse names each row's series by
	 * the kept labels' values (a hash join on the series dictionary,
	 * small beside the rows) and sums per (those values, stack), so a
	 * fleet's answer is about as many rows as one host's. Summing per
	 * (series, stack) first would build a group per host and stack:
	 * millions for a thousand hosts. Unmerged: one row per (series,
	 * stack).
	 */
	if (merge && q->nr_keep) {
		chbuf__printf(&sql, "SELECT ");
		for (size_t i = 0; i < q->nr_keep; i++)
			chbuf__printf(&sql, "g%zu, ", i);
		chbuf__printf(&sql, "stack, toUInt64(sum(c)), toUInt32(min(t)) "
				    "FROM (SELECT series, stack, c, t FROM (");
	} else if (merge) {
		chbuf__printf(&sql, "SELECT stack, toUInt64(sum(c)), "
				    "toUInt32(min(t)) FROM (");
	} else {
		chbuf__printf(&sql, "SELECT series, stack, toUInt64(sum(c)), "
				    "toUInt32(min(t)) FROM (");
	}
	chbuf__printf(&sql, "SELECT series, stack, count AS c, second AS t "
			    "FROM samples WHERE ");
	raw_range_sql(&sql, q->from_ns, q->to_ns, &rolled);
	chbuf__put(&sql, filter.p, filter.len);
	if (rolled.n) {
		chbuf__printf(&sql,
			      " UNION ALL SELECT series, stack, count AS c, "
			      "toUInt32(hour * 3600) AS t FROM samples_1h "
			      "WHERE hour >= %u AND hour <= %u AND ",
			      rolled.hours[0], rolled.hours[rolled.n - 1]);
		rolled_sql(&sql, "hour", &rolled);
		chbuf__put(&sql, filter.p, filter.len);
	}
	if (merge && q->nr_keep) {
		chbuf__printf(&sql, ")) ANY LEFT JOIN (SELECT id AS series");
		for (size_t i = 0; i < q->nr_keep; i++) {
			chbuf__printf(&sql,
				      ", label_values[indexOf(label_keys, ");
			chbuf__quote(&sql, q->keep[i]);
			chbuf__printf(&sql, ")] AS g%zu", i);
		}
		chbuf__printf(&sql, " FROM series) USING series GROUP BY ");
		for (size_t i = 0; i < q->nr_keep; i++)
			chbuf__printf(&sql, "g%zu, ", i);
		chbuf__printf(&sql, "stack FORMAT RowBinary");
	} else {
		chbuf__printf(&sql, ") GROUP BY %sstack FORMAT RowBinary",
			      merge ? "" : "series, ");
	}
	if ((err =
		 ch__request(c, (const char *)sql.p, NULL, "querying samples")))
		goto out;
	r = resp(c);
	while (rbin__more(&r)) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			rows = xrealloc(rows, cap * sizeof(*rows));
			if (merge)
				row_series = xrealloc(
				    row_series, cap * sizeof(*row_series));
		}
		if (merge) {
			struct label ls[MAX_KEEP];
			size_t nl = 0;

			for (size_t i = 0; i < q->nr_keep; i++) {
				size_t len;
				const char *v = rbin__str(&r, &len);

				if (!len || r.bad)
					continue;
				char *val = xmalloc(len + 1);

				memcpy(val, v, len);
				val[len] = 0;
				ls[nl++] = (struct label){
				    profile__intern(out, q->keep[i]),
				    profile__intern(out, val)};
				free(val);
			}
			row_series[n] = profile__add_series(out, ls, nl);
			rows[n].series = 0;
		} else {
			rows[n].series = rbin__u64(&r);
		}
		rows[n].stack = rbin__u64(&r);
		rows[n].count = rbin__u64(&r);
		rows[n].second = rbin__u32(&r);
		n++;
	}
	if (r.bad) {
		err = -EBADMSG;
		goto out;
	}
	ids = unique_ids(rows, n, true, &nids);
	if ((err = ch__dict_load_stacks(c, ids, nids)))
		goto out;
	free(ids);
	ids = unique_ids(rows, n, false, &nids);
	if ((!merge && (err = ch__dict_load_series(c, ids, nids))) ||
	    (err = period(c, &per)))
		goto out;
	build_profile(c, rows, n, row_series, out);
	struct profile_meta *meta = profile__meta(out);
	meta->start_ns = q->from_ns;
	meta->duration_ns = q->to_ns - q->from_ns;
	if (per)
		meta->period_ns = per;
out:
	if (err == -EBADMSG)
		pr_err("store '%s': malformed answer from ClickHouse", c->name);
	free(ids);
	free(rows);
	free(row_series);
	ch__rolled_release(&rolled);
	chbuf__release(&sql);
	chbuf__release(&filter);
	c->deadline_ns = 0;
	c->max_groups = 0;
	return err;
}

/* ---- time line ---- */

int ch__timeline(struct store *st, const struct store_query *q,
		 uint64_t step_ns, const char *group_by,
		 int (*fn)(const struct store_point *pt, void *ctx), void *ctx)
{
	struct ch_store *c = ch_of(st);
	struct chbuf sql = {0}, filter = {0};
	struct ch_rolled rolled = {0};
	uint64_t t0, npoints;
	char *group = NULL;
	struct rbin r;
	int err;

	if ((err = check_range(q)) || !step_ns)
		return err ? err : -EINVAL;
	t0 = q->from_ns - q->from_ns % step_ns;
	npoints = (q->to_ns - t0 + step_ns - 1) / step_ns;
	if (npoints > MAX_TIMELINE_POINTS)
		return -ERANGE;
	c->deadline_ns = q->deadline_mono_ns;
	if (group_by && (err = ch__check_key(c, group_by)))
		goto out;
	/* Whole-minute steps read the per-minute totals of rolled-up hours. */
	if (step_ns % 60000000000ULL == 0 &&
	    (err = ch__rolled(c, q->from_ns, q->to_ns, &rolled)))
		goto out;
	if ((err = ch__filter_sql(c, &filter, q)))
		goto out;
	chbuf__printf(
	    &sql,
	    "SELECT %s, p, toUInt64(sum(c)) FROM (SELECT p, series, c "
	    "FROM (SELECT toUInt64(intDiv(toUInt64("
	    "second) * 1000000000 + slot * 20000000 - %llu, %llu)) AS "
	    "p, series, count AS c FROM samples WHERE ",
	    group_by ? "g" : "''", (unsigned long long)t0,
	    (unsigned long long)step_ns);
	raw_range_sql(&sql, q->from_ns, q->to_ns, &rolled);
	chbuf__put(&sql, filter.p, filter.len);
	if (rolled.n) {
		chbuf__printf(
		    &sql,
		    " UNION ALL SELECT toUInt64(intDiv(toUInt64("
		    "minute) * 60000000000 - %llu, %llu)) AS p, "
		    "series, count AS c FROM totals_1m WHERE minute >= "
		    "%u AND minute < %u AND ",
		    (unsigned long long)t0, (unsigned long long)step_ns,
		    rolled.hours[0] * 60,
		    (rolled.hours[rolled.n - 1] + 1) * 60);
		rolled_sql(&sql, "intDiv(minute, 60)", &rolled);
		chbuf__put(&sql, filter.p, filter.len);
	}
	/* Rows join their series' group-by value before any sum: a sum per
	 * (point, series) first would be a group per host and point. */
	chbuf__printf(&sql, "))");
	if (group_by) {
		chbuf__printf(&sql, " ANY LEFT JOIN (SELECT id AS series, ");
		label_value_sql(&sql, group_by);
		chbuf__printf(&sql, " AS g FROM series) USING series GROUP BY "
				    "g, p ORDER BY g, p");
	} else {
		chbuf__printf(&sql, " GROUP BY p ORDER BY p");
	}
	chbuf__printf(&sql, " FORMAT RowBinary");
	if ((err = ch__request(c, (const char *)sql.p, NULL,
			       "querying the time line")))
		goto out;
	r = resp(c);
	while (rbin__more(&r) && !err) {
		size_t len;
		const char *g = rbin__str(&r, &len);
		uint64_t p = rbin__u64(&r), count = rbin__u64(&r);

		if (r.bad || p >= npoints) {
			r.bad = true;
			break;
		}
		free(group);
		group = dupn(g, len);
		if (count) {
			struct store_point pt = {
			    .t_ns = t0 + p * step_ns,
			    .count = count,
			    .group = group,
			};
			err = fn(&pt, ctx);
		}
	}
	if (!err && r.bad) {
		pr_err("store '%s': malformed answer from ClickHouse", c->name);
		err = -EBADMSG;
	}
out:
	c->deadline_ns = 0;
	free(group);
	ch__rolled_release(&rolled);
	chbuf__release(&sql);
	chbuf__release(&filter);
	return err;
}

/* ---- heat map ---- */

int ch__heatmap(struct store *st, const struct store_query *q,
		int (*fn)(uint64_t second_ns, const uint64_t *counts,
			  void *ctx),
		void *ctx)
{
	struct ch_store *c = ch_of(st);
	uint64_t cells[STORE_HEAT_SLOTS] = {0};
	struct chbuf sql = {0};
	int64_t cur = -1;
	struct rbin r;
	int err;

	if ((err = check_range(q)))
		return err;
	c->deadline_ns = q->deadline_mono_ns;
	chbuf__printf(&sql, "SELECT second, slot, toUInt64(sum(count)) FROM "
			    "samples WHERE ");
	ch__range_sql(&sql, q->from_ns, q->to_ns);
	if ((err = ch__filter_sql(c, &sql, q)))
		goto out;
	chbuf__printf(&sql, " GROUP BY second, slot ORDER BY second, slot "
			    "FORMAT RowBinary");
	if ((err = ch__request(c, (const char *)sql.p, NULL,
			       "querying the heat map")))
		goto out;
	r = resp(c);
	while (rbin__more(&r) && !err) {
		uint32_t sec = rbin__u32(&r);
		uint8_t slot = rbin__u8(&r);
		uint64_t count = rbin__u64(&r);

		if (r.bad || slot >= STORE_HEAT_SLOTS || (int64_t)sec < cur) {
			r.bad = true;
			break;
		}
		if ((int64_t)sec != cur) {
			if (cur >= 0)
				err = fn((uint64_t)cur * 1000000000ULL, cells,
					 ctx);
			memset(cells, 0, sizeof(cells));
			cur = sec;
		}
		cells[slot] += count;
	}
	if (!err && r.bad) {
		pr_err("store '%s': malformed answer from ClickHouse", c->name);
		err = -EBADMSG;
	}
	if (!err && cur >= 0)
		err = fn((uint64_t)cur * 1000000000ULL, cells, ctx);
out:
	c->deadline_ns = 0;
	chbuf__release(&sql);
	return err;
}

/* ---- labels ---- */

static int each_string(struct ch_store *c, const char *sql,
		       int (*fn)(const char *s, void *ctx), void *ctx)
{
	struct rbin r;
	int err = ch__request(c, sql, NULL, "listing labels");

	if (err)
		return err;
	r = resp(c);
	while (rbin__more(&r) && !err) {
		size_t len;
		const char *s = rbin__str(&r, &len);
		char *copy;

		if (r.bad)
			break;
		copy = dupn(s, len);
		err = fn(copy, ctx);
		free(copy);
	}
	if (!err && r.bad)
		err = -EBADMSG;
	return err;
}

int ch__label_names(struct store *st, int (*fn)(const char *name, void *ctx),
		    void *ctx)
{
	return each_string(ch_of(st),
			   "SELECT DISTINCT arrayJoin(label_keys) AS k FROM "
			   "series ORDER BY k FORMAT RowBinary",
			   fn, ctx);
}

int ch__label_values(struct store *st, const char *key,
		     const struct store_query *q,
		     int (*fn)(const char *value, void *ctx), void *ctx)
{
	struct ch_store *c = ch_of(st);
	struct chbuf sql = {0};
	int err;

	if (!key)
		return -EINVAL;
	if (q && (err = check_range(q)))
		return err;
	if ((err = ch__check_key(c, key)))
		return err;
	chbuf__printf(&sql, "SELECT DISTINCT ");
	label_value_sql(&sql, key);
	chbuf__printf(&sql, " AS v FROM series WHERE has(label_keys, ");
	chbuf__quote(&sql, key);
	chbuf__printf(&sql, ")");
	if (q) {
		chbuf__printf(&sql, " AND id IN (SELECT DISTINCT series FROM "
				    "samples WHERE ");
		ch__range_sql(&sql, q->from_ns, q->to_ns);
		if ((err = ch__filter_sql(c, &sql, q)))
			goto out;
		chbuf__printf(&sql, ")");
	}
	chbuf__printf(&sql, " ORDER BY v FORMAT RowBinary");
	err = each_string(c, (const char *)sql.p, fn, ctx);
out:
	chbuf__release(&sql);
	return err;
}
