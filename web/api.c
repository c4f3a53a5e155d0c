// SPDX-License-Identifier: MIT
/*
 * The JSON API. Each handler validates its parameters (400 with a message
 * for anything wrong), asks the store, and writes JSON into the response.
 * Times go out as unix milliseconds, what JavaScript's Date takes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile/diff.h"
#include "profile/format.h"
#include "profile/ingest.h"
#include "lib/log.h"
#include "lib/timeparse.h"
#include "lib/xalloc.h"
#include "web/api.h"

#define NS 1000000000ULL
#define MS 1000000ULL
/* Label names a store may hold; uploads adding one more are refused. */
#define MAX_KEYS 1024
#define MAX_TIMELINE_POINTS 5000
#define MAX_GROUPS 20
#define MAX_HEATMAP_NS (2ULL * 3600 * NS)
#define DEFAULT_MAX_NODES 20000
#define MAX_PATH 512
/*
 * 1,000,000 nodes cost ~10 GB and 80 s a request; the UI asks 20,000, and
 * 200,000 when the user expands an "[other]" node.
 */
#define LIMIT_MAX_NODES 200000
/*
 * Budgets of one request: distinct (series, stack) pairs merged from the
 * store (~100 bytes each through the profile and the tree), and frames
 * summed over the distinct stacks a tree is built from (a node each at
 * worst). Over budget: 503 with Retry-After, never an out-of-memory.
 */
#define MAX_ENTRIES 2000000
#define API_INGEST_MAX_SAMPLES 2000000
/* 200,000 new stacks took 10 s to write on a 2-core test machine: half
 * that keeps an upload's hold on the write lock under an agent window. */
#define API_INGEST_MAX_STACKS 100000
#define MAX_TREE_FRAMES 8000000

static const char *const builtin_keys[] = {LABEL_HOST,	   LABEL_COMM,
					   LABEL_PID,	   LABEL_EXE,
					   LABEL_BUILD_ID, LABEL_CONTAINER};

void web_response__init(struct web_response *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->content_type = "application/json";
	jbuf__init(&r->body);
}

/*
 * The HTTP status for a store error: a store that is down, slow or
 * overloaded (a ClickHouse server restarting) is a 503 the client retries;
 * a full disk a 507; a bad query a 400.
 */
static int store_status(int err)
{
	switch (err) {
	case -EINVAL:
		return 400;
	case -EAGAIN:
		return 503;
	case -ENOSPC:
		return 507;
	default:
		return 500;
	}
}

void web_response__release(struct web_response *r)
{
	jbuf__release(&r->body);
}

void web_response__error(struct web_response *r, int status, const char *fmt,
			 ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = status;
	r->content_type = "application/json";
	r->disposition[0] = '\0';
	r->body.len = 0;
	r->body.oom = false;
	jbuf__puts(&r->body, "{\"error\":");
	jbuf__str(&r->body, msg);
	jbuf__puts(&r->body, "}\n");
}

/* A store error for a client: a damaged store says so (the details are
 * in the server's log, one line per bad row). */
static const char *store_strerror(int err)
{
	if (err == -EBADMSG)
		return "the store is damaged (details in the server's log)";
	return strerror(-err);
}

/* ---- label keys known to the store, for validating filters ---- */

struct keys {
	char **v; /* NULL-terminated */
	size_t n, cap;
};

static int keys_add(const char *name, void *ctx)
{
	struct keys *k = ctx;

	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->v[i], name))
			return 0;
	/* Past the cap (a store written by something else) the rest stay
	 * unknown to filters rather than costing every request. */
	if (k->n >= MAX_KEYS + 16)
		return 0;
	if (k->n + 2 > k->cap) {
		k->cap = k->cap ? 2 * k->cap : 32;
		k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
	}
	k->v[k->n++] = xstrdup(name);
	k->v[k->n] = NULL;
	return 0;
}

static int keys_load(struct api_ctx *c, struct keys *k)
{
	int err;

	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < sizeof(builtin_keys) / sizeof(builtin_keys[0]);
	     i++)
		keys_add(builtin_keys[i], k);
	err = store__label_names(c->st, keys_add, k);
	return err;
}

static void keys_release(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
	k->v = NULL;
	k->n = k->cap = 0;
}

static bool keys_has(const struct keys *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->v[i], name))
			return true;
	return false;
}

/* ---- shared request setup ---- */

struct req {
	struct api_ctx *c;
	struct web_response *r;
	struct query_params pp;
	struct keys keys;
	char err[512];
	/* What resolving != =~ !~ filters allocated, freed by req_end(). */
	void *owned[4 * 2];
	size_t nr_owned;
};

static int req_begin(struct req *q, struct api_ctx *c, const char *qs,
		     struct web_response *r)
{
	int err;

	memset(q, 0, sizeof(*q));
	q->c = c;
	q->r = r;
	err = query_params__parse(&q->pp, qs, q->err, sizeof(q->err));
	if (err) {
		web_response__error(r, 400, "%s", q->err);
		return err;
	}
	err = keys_load(c, &q->keys);
	if (err) {
		web_response__error(r, store_status(err),
				    "cannot read label names: %s",
				    store_strerror(err));
		return err;
	}
	return 0;
}

struct strs;
static void strs_release(struct strs *l);

static void req_end(struct req *q)
{
	query_params__release(&q->pp);
	keys_release(&q->keys);
	/* owned[] holds pairs: a filter array, then a struct strs. */
	for (size_t i = 0; i < q->nr_owned; i++) {
		if (i % 2)
			strs_release(q->owned[i]);
		free(q->owned[i]);
	}
}

struct strs {
	char **v;
	size_t n, cap;
};

static int strs_add(const char *s, void *ctx)
{
	struct strs *l = ctx;

	if (l->n == l->cap) {
		if (l->cap >= 100000)
			return -E2BIG;
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = xstrdup(s);
	return 0;
}

static void strs_release(struct strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/*
 * Resolves key!=value, key=~regex and key!~regex into key=value filters:
 * the label's values present in the range (without filters), kept when
 * they pass every operator on that key and, if the key also has key=value
 * filters, are among those. Regexes match the whole value (as in
 * Prometheus), with web/match.c's bounds. At most WEB_MAX_EXPANDED values
 * per side; none left means nothing matches.
 */
#define WEB_MAX_EXPANDED 1024
#define NO_VALUE "\x01(no value matches)"

static int req_ops(struct req *q, struct query_range *rg)
{
	struct web_match *re[QUERY_MAX_FILTERS] = {0};
	struct store_query all = rg->q;
	struct store_filter *out;
	struct strs *vals;
	size_t n = 0, cap = rg->q.nr_filters + WEB_MAX_EXPANDED;
	int err = 0;

	if (q->nr_owned + 2 > sizeof(q->owned) / sizeof(q->owned[0])) {
		web_response__error(q->r, 400, "too many ranges");
		return -EINVAL;
	}
	out = xcalloc(cap, sizeof(*out));
	vals = xcalloc(1, sizeof(*vals));
	q->owned[q->nr_owned++] = out;
	q->owned[q->nr_owned++] = vals; /* its strings: below */
	for (size_t i = 0; i < rg->nr_ops; i++) {
		char pat[QUERY_MAX_VALUE + 16], msg[256];

		if (rg->ops[i].op != QUERY_OP_MATCH &&
		    rg->ops[i].op != QUERY_OP_NOT_MATCH)
			continue;
		snprintf(pat, sizeof(pat), "^(?:%s)$", rg->ops[i].value);
		if (web_match__compile(pat, &re[i], msg, sizeof(msg))) {
			web_response__error(q->r, 400, "filter %s=~%.64s: %s",
					    rg->ops[i].key, rg->ops[i].value,
					    msg);
			err = -EINVAL;
			goto done;
		}
	}
	/* key=value filters on keys without an operator stay as they are. */
	for (size_t i = 0; i < rg->q.nr_filters; i++) {
		bool has_op = false;

		for (size_t k = 0; k < rg->nr_ops && !has_op; k++)
			has_op = !strcmp(rg->ops[k].key, rg->q.filters[i].key);
		if (!has_op)
			out[n++] = rg->q.filters[i];
	}
	all.nr_filters = 0;
	for (size_t i = 0; i < rg->nr_ops; i++) {
		const char *key = rg->ops[i].key;
		size_t first = vals->n, kept = 0;
		bool seen = false, any_eq = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = !strcmp(rg->ops[k].key, key);
		if (seen)
			continue;
		err = store__label_values(q->c->st, key, &all, strs_add, vals);
		if (err) {
			web_response__error(q->r, store_status(err),
					    "cannot list values of '%.64s': %s",
					    key, store_strerror(err));
			goto done;
		}
		for (size_t k = 0; k < rg->q.nr_filters; k++)
			any_eq |= !strcmp(rg->q.filters[k].key, key);
		for (size_t v = first; v < vals->n; v++) {
			const char *val = vals->v[v];
			bool ok = !any_eq;

			for (size_t k = 0; k < rg->q.nr_filters && !ok; k++)
				ok = !strcmp(rg->q.filters[k].key, key) &&
				     !strcmp(rg->q.filters[k].value, val);
			for (size_t k = i; k < rg->nr_ops && ok; k++) {
				int m;

				if (strcmp(rg->ops[k].key, key))
					continue;
				if (rg->ops[k].op == QUERY_OP_NOT_EQUAL) {
					ok = strcmp(rg->ops[k].value, val) != 0;
					continue;
				}
				m = web_match__exec(re[k], val);
				if (m < 0) {
					web_response__error(
					    q->r, 400,
					    "regex in filter on '%.64s' is too "
					    "costly",
					    key);
					err = -EINVAL;
					goto done;
				}
				ok = rg->ops[k].op == QUERY_OP_MATCH ? m == 1
								     : m == 0;
			}
			if (!ok)
				continue;
			if (n == cap) {
				web_response__error(
				    q->r, 400,
				    "filters on '%.64s' match more than %d "
				    "values: narrow them",
				    key, WEB_MAX_EXPANDED);
				err = -E2BIG;
				goto done;
			}
			out[n].key = key;
			out[n++].value = val;
			kept++;
		}
		if (!kept) {
			out[n].key = key;
			out[n++].value = NO_VALUE;
		}
	}
	rg->q.filters = out;
	rg->q.nr_filters = n;
	rg->nr_ops = 0;
done:
	for (size_t i = 0; i < QUERY_MAX_FILTERS; i++)
		web_match__free(re[i]);
	return err;
}

static int req_range(struct req *q, const char *prefix, struct query_range *rg)
{
	int err = query_params__range(&q->pp, prefix, q->c->now_ns,
				      (const char *const *)q->keys.v, rg,
				      q->err, sizeof(q->err));

	if (err) {
		web_response__error(q->r, 400, "%s", q->err);
		return err;
	}
	rg->q.deadline_mono_ns = q->c->deadline_mono_ns;
	rg->q.max_entries = MAX_ENTRIES;
	return rg->nr_ops ? req_ops(q, rg) : 0;
}

/* A request over its time or memory budget: 503, try later or narrower. */
static void over_budget(struct web_response *r, int err)
{
	r->retry_after = 5;
	web_response__error(
	    r, 503, "%s: narrow the time range or add filters",
	    err == -ETIME ? "the query took longer than this server allows"
			  : "the query needs more memory than this server "
			    "allows a request");
}

/* A store query that failed: over budget (-ETIME), or the store's status
 * with "WHAT query failed: why". */
static void query_failed(struct web_response *r, int err, const char *what)
{
	if (err == -ETIME)
		over_budget(r, err);
	else
		web_response__error(r, store_status(err), "%s query failed: %s",
				    what, store_strerror(err));
}

static int req_regex(struct req *q, struct web_match **re)
{
	const char *m = query_params__get(&q->pp, "match");
	int err;

	*re = NULL;
	if (!m || !*m)
		return 0;
	err = web_match__compile(m, re, q->err, sizeof(q->err));
	if (err)
		web_response__error(q->r, err == -ENOMEM ? 500 : 400, "%s",
				    q->err);
	return err;
}

/* Runs the store query of one side into a compacted profile. */
static struct profile *req_profile(struct req *q, const struct query_range *rg)
{
	struct profile *p = profile__new();
	int err;

	if (!p) {
		web_response__error(q->r, 500, "out of memory");
		return NULL;
	}
	profile__set_checked(p); /* the request decides its size */
	err = store__query(q->c->st, &rg->q, p);
	if (!err && profile__oom(p))
		err = -ENOMEM;
	if (err) {
		if (err == -ETIME || err == -E2BIG)
			over_budget(q->r, err);
		else if (err == -EINVAL)
			web_response__error(q->r, 400,
					    "bad query (unknown label?)");
		else
			web_response__error(q->r, store_status(err),
					    "store query failed: %s",
					    store_strerror(err));
		profile__free(p);
		return NULL;
	}
	/* One sample per (series, stack): the tree walk is per sample. */
	profile__compact(p, 0);
	return p;
}

/* Whether a tree built from 'p' fits the request's memory budget. */
static bool tree_fits(const struct profile *p)
{
	size_t frames = 0, nr = profile__nr_stacks(p);

	for (size_t i = 0; i < nr; i++) {
		size_t depth;

		profile__stack(p, (uint32_t)i, &depth);
		frames += depth + 1;
		if (frames > MAX_TREE_FRAMES)
			return false;
	}
	return true;
}

static void range_json(struct jbuf *b, const char *prefix,
		       const struct query_range *rg)
{
	jbuf__printf(b, "\"%sfrom_ms\":%llu,\"%sto_ms\":%llu", prefix,
		     (unsigned long long)(rg->q.from_ns / MS), prefix,
		     (unsigned long long)(rg->q.to_ns / MS));
}

/* ---- /labels, /labels/NAME/values ---- */

static int name_out(const char *name, void *ctx)
{
	struct jbuf *b = ctx;

	jbuf__sep(b);
	jbuf__str(b, name);
	return 0;
}

static void api_labels(struct req *q)
{
	struct jbuf *b = &q->r->body;
	int err;

	jbuf__puts(b, "{\"names\":[");
	err = store__label_names(q->c->st, name_out, b);
	if (err) {
		web_response__error(q->r, store_status(err),
				    "cannot list labels: %s",
				    store_strerror(err));
		return;
	}
	jbuf__puts(b, "]}\n");
}

/*
 * "comms":{"PID":"COMM",...} for a pid menu: one query of pids per
 * process name in the range (far fewer than pids), at most MAX_COMMS.
 */
#define MAX_COMMS 256

static void pid_comms_json(struct req *q, const struct query_range *rg)
{
	struct jbuf *b = &q->r->body;
	struct strs comms = {0};
	struct query_range one;

	jbuf__puts(b, ",\"comms\":{");
	if (rg->q.nr_filters >= QUERY_MAX_FILTERS ||
	    store__label_values(q->c->st, LABEL_COMM, &rg->q, strs_add, &comms))
		goto out;
	for (size_t i = 0; i < comms.n && i < MAX_COMMS; i++) {
		struct strs pids = {0};

		one = *rg;
		memcpy(one.filters, rg->q.filters,
		       rg->q.nr_filters * sizeof(*one.filters));
		one.q.filters = one.filters;
		one.filters[one.q.nr_filters].key = LABEL_COMM;
		one.filters[one.q.nr_filters++].value = comms.v[i];
		if (!store__label_values(q->c->st, LABEL_PID, &one.q, strs_add,
					 &pids))
			for (size_t k = 0; k < pids.n; k++) {
				jbuf__sep(b);
				jbuf__str(b, pids.v[k]);
				jbuf__raw(b, ":", 1);
				jbuf__str(b, comms.v[i]);
			}
		strs_release(&pids);
	}
out:
	jbuf__puts(b, "}");
	strs_release(&comms);
}

static void api_label_values(struct req *q, const char *name)
{
	struct jbuf *b = &q->r->body;
	struct query_range rg;
	const struct store_query *sq = NULL;
	int err;

	if (!name || !*name) {
		web_response__error(q->r, 400, "missing label name");
		return;
	}
	if (!keys_has(&q->keys, name)) {
		web_response__error(q->r, 400, "unknown label '%.64s'", name);
		return;
	}
	/*
	 * Without a range: values over all the data, what a filter menu
	 * wants. Asked as an explicit range over the store's data, the path
	 * that also refreshes a fresh connection's view of the labels.
	 */
	if (query_params__get(&q->pp, "from") ||
	    query_params__get(&q->pp, "to") ||
	    query_params__get(&q->pp, "filter")) {
		if (req_range(q, "", &rg))
			return;
	} else {
		struct store_stats ss;

		store__stats(q->c->st, &ss);
		memset(&rg, 0, sizeof(rg));
		rg.q.filters = rg.filters;
		rg.q.from_ns = ss.first_ns;
		rg.q.to_ns = ss.last_ns + 1;
		if (!ss.first_ns) {
			jbuf__puts(b, "{\"name\":");
			jbuf__str(b, name);
			jbuf__puts(b, ",\"values\":[]}\n");
			return;
		}
	}
	sq = &rg.q;
	jbuf__puts(b, "{\"name\":");
	jbuf__str(b, name);
	jbuf__puts(b, ",\"values\":[");
	err = store__label_values(q->c->st, name, sq, name_out, b);
	if (err) {
		if (err == -EINVAL)
			web_response__error(q->r, 400, "unknown label '%.64s'",
					    name);
		else
			web_response__error(q->r, store_status(err),
					    "cannot list values: %s",
					    store_strerror(err));
		return;
	}
	jbuf__puts(b, "]");
	if (!strcmp(name, LABEL_PID))
		pid_comms_json(q, &rg);
	jbuf__puts(b, "}\n");
}

/* ---- /timeline ---- */

struct tl_group {
	char *name;
	uint64_t *pts; /* pairs (t_ns, count) */
	size_t n, cap;
	uint64_t sum;
};

struct tl_ctx {
	struct tl_group *g;
	size_t n, cap;
	size_t points;
};

static int tl_point(const struct store_point *pt, void *ctx)
{
	struct tl_ctx *c = ctx;
	const char *name = pt->group ? pt->group : "";
	struct tl_group *g = NULL;

	if (++c->points > 10 * MAX_TIMELINE_POINTS * MAX_GROUPS)
		return -E2BIG;
	/* Points arrive grouped, so the last group is the likely one. */
	if (c->n && !strcmp(c->g[c->n - 1].name, name))
		g = &c->g[c->n - 1];
	for (size_t i = 0; !g && i < c->n; i++)
		if (!strcmp(c->g[i].name, name))
			g = &c->g[i];
	if (!g) {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 16;
			c->g = xrealloc(c->g, c->cap * sizeof(*c->g));
		}
		g = &c->g[c->n++];
		memset(g, 0, sizeof(*g));
		g->name = xstrdup(name);
	}
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->pts = xrealloc(g->pts, g->cap * 2 * sizeof(uint64_t));
	}
	g->pts[2 * g->n] = pt->t_ns;
	g->pts[2 * g->n + 1] = pt->count;
	g->n++;
	g->sum += pt->count;
	return 0;
}

static int cmp_group(const void *a, const void *b)
{
	const struct tl_group *x = a, *y = b;

	return x->sum < y->sum	 ? 1
	       : x->sum > y->sum ? -1
				 : strcmp(x->name, y->name);
}

static int cmp_pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/*
 * Lost samples: the collector writes them as their own series (comm
 * "[lost]", one "[lost: REASON]" frame), counted when a window closes.
 * The time line and heat map show them apart from what was sampled, so
 * a burst of losses neither flattens the chart nor hides in it.
 */
#define LOST_COMM "[lost]"
#define DEFAULT_LOST_WINDOW_NS (10ULL * NS) /* kiln agent's --window */

/* The query of the lost samples that match 'rg''s filters; false when
 * its filters exclude them (a comm filter without "[lost]"). */
static bool lost_range(const struct query_range *rg, struct query_range *lr)
{
	bool comm = false, lost = false;
	size_t n = 0;

	memset(lr, 0, sizeof(*lr));
	lr->q.from_ns = rg->q.from_ns;
	lr->q.to_ns = rg->q.to_ns;
	lr->q.filters = lr->filters;
	for (size_t i = 0; i < rg->q.nr_filters; i++) {
		const struct store_filter *f = &rg->q.filters[i];

		if (n >= QUERY_MAX_FILTERS)
			return false; /* many resolved filters: no lost line */
		if (!strcmp(f->key, LABEL_COMM)) {
			comm = true;
			lost |= !strcmp(f->value, LOST_COMM);
			continue;
		}
		lr->filters[n++] = *f;
	}
	if ((comm && !lost) || n >= QUERY_MAX_FILTERS)
		return false;
	lr->filters[n].key = LABEL_COMM;
	lr->filters[n++].value = LOST_COMM;
	lr->q.nr_filters = n;
	return true;
}

static struct tl_group *tl_find(struct tl_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->g[i].name, name))
			return &c->g[i];
	return NULL;
}

/* Takes the lost points out of the sampled series (same group, same
 * time), dropping groups left empty (the "[lost]" group of group_by=comm). */
static void tl_subtract(struct tl_ctx *tc, struct tl_ctx *lc)
{
	for (size_t i = 0; i < lc->n; i++) {
		struct tl_group *l = &lc->g[i], *g = tl_find(tc, l->name);

		if (!g)
			continue;
		qsort(g->pts, g->n, 2 * sizeof(uint64_t), cmp_pair);
		for (size_t k = 0; k < l->n; k++) {
			uint64_t key[2] = {l->pts[2 * k], 0}, *hit, d;

			hit = bsearch(key, g->pts, g->n, 2 * sizeof(uint64_t),
				      cmp_pair);
			if (!hit)
				continue;
			d = hit[1] < l->pts[2 * k + 1] ? hit[1]
						       : l->pts[2 * k + 1];
			hit[1] -= d;
			g->sum -= d;
		}
	}
	for (size_t i = 0; i < tc->n;) {
		if (tc->g[i].sum) {
			i++;
			continue;
		}
		free(tc->g[i].name);
		free(tc->g[i].pts);
		tc->g[i] = tc->g[--tc->n];
	}
}

/*
 * Spreads each lost count (stamped when its window closed) evenly over
 * the window before it, in time line steps, keeping the total exact:
 * a loss of 16,847 in one window is ~1,685/s for 10 s, not one spike.
 * Writes "lost":{"total","window_ms","points":[[t,n]...]}; counts outside
 * the range are left out.
 */
static void lost_points_json(struct jbuf *b, struct tl_ctx *lc,
			     const struct query_range *rg, uint64_t step,
			     uint64_t window)
{
	size_t nb = (rg->q.to_ns - rg->q.from_ns + step - 1) / step;
	uint64_t base = rg->q.from_ns / step * step, total = 0;
	uint64_t *acc;

	nb += 2;
	acc = calloc(nb, sizeof(*acc));
	if (!acc) {
		b->oom = true;
		return;
	}
	for (size_t i = 0; i < lc->n; i++)
		for (size_t k = 0; k < lc->g[i].n; k++) {
			uint64_t t1 = lc->g[i].pts[2 * k],
				 n = lc->g[i].pts[2 * k + 1];
			uint64_t t0 = t1 > window ? t1 - window : 0, done = 0;

			for (uint64_t s = t0 / step * step; s < t1; s += step) {
				uint64_t e = s + step < t1 ? s + step : t1;
				/* Share of the window up to 'e', rounded so
				 * the parts add up to n. */
				uint64_t upto =
				    (uint64_t)((double)n * (double)(e - t0) /
					       (double)(t1 - t0));
				uint64_t part = (e == t1 ? n : upto) - done;

				done += part;
				if (s < base || (s - base) / step >= nb ||
				    s >= rg->q.to_ns || !part)
					continue;
				acc[(s - base) / step] += part;
			}
			if (t0 == t1 && t1 >= base && (t1 - base) / step < nb &&
			    t1 < rg->q.to_ns)
				acc[(t1 - base) / step] += n;
		}
	jbuf__puts(b, ",\"lost\":{\"points\":[");
	for (size_t i = 0; i < nb; i++) {
		if (!acc[i])
			continue;
		jbuf__sep(b);
		jbuf__printf(b, "[%llu,%llu]",
			     (unsigned long long)((base + i * step) / MS),
			     (unsigned long long)acc[i]);
		total += acc[i];
	}
	jbuf__printf(b, "],\"total\":%llu,\"window_ms\":%llu",
		     (unsigned long long)total,
		     (unsigned long long)(window / MS));
	free(acc);
}

/* "reasons":[{"reason","count"}...] from the "[lost: REASON]" frames. */
static void lost_reasons_json(struct req *q, const struct query_range *lr)
{
	struct jbuf *b = &q->r->body;
	struct profile *p = profile__new();
	const char *names[16];
	uint64_t counts[16];
	size_t nr = 0, ns = 0;
	const struct sample *sm;

	jbuf__puts(b, ",\"reasons\":[");
	if (p && !store__query(q->c->st, &lr->q, p)) {
		sm = profile__samples(p, &ns);
		for (size_t i = 0; i < ns; i++) {
			size_t depth = 0, k;
			const uint32_t *st =
			    profile__stack(p, sm[i].stack, &depth);
			const char *nm;

			if (!depth)
				continue;
			nm = profile__str(
			    p, profile__frame(p, st[depth - 1])->name);
			if (strncmp(nm, "[lost: ", 7))
				continue;
			for (k = 0; k < nr && strcmp(names[k], nm); k++)
				;
			if (k == nr) {
				if (nr == 16)
					continue;
				names[nr] = nm;
				counts[nr++] = 0;
			}
			counts[k] += sm[i].count;
		}
		for (size_t k = 0; k < nr; k++) {
			char reason[256];
			size_t len = strlen(names[k]) - 8; /* "[lost: " "]" */

			if (len >= sizeof(reason))
				len = sizeof(reason) - 1;
			memcpy(reason, names[k] + 7, len);
			reason[len] = '\0';
			jbuf__sep(b);
			jbuf__puts(b, "{\"reason\":");
			jbuf__str(b, reason);
			jbuf__printf(b, ",\"count\":%llu}",
				     (unsigned long long)counts[k]);
		}
	}
	jbuf__puts(b, "]}");
	profile__free(p);
}

static void tl_release(struct tl_ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->g[i].name);
		free(c->g[i].pts);
	}
	free(c->g);
	memset(c, 0, sizeof(*c));
}

/* Steps of at least 10 s are whole 10 s buckets of the store (no 15 s):
 * a point then sums stored totals without reading any sample blob. */
static uint64_t nice_step(uint64_t range_ns)
{
	static const uint64_t steps[] = {
	    1,	 2,   5,    10,	  20,	30,    60,    120,   300,
	    600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400};
	uint64_t want = range_ns / 300;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] * NS >= want)
			return steps[i] * NS;
	return 86400 * NS * ((want + 86400 * NS - 1) / (86400 * NS));
}

static void api_timeline(struct req *q)
{
	struct jbuf *b = &q->r->body;
	struct tl_ctx tc = {0}, lc = {0};
	struct query_range rg, lr;
	const char *group_by, *st, *lw;
	uint64_t step, lost_window = DEFAULT_LOST_WINDOW_NS;
	bool with_lost;
	int err;

	if (req_range(q, "", &rg))
		return;
	st = query_params__get(&q->pp, "step");
	if (st && *st) {
		if (timeparse__duration(st, &step) || step < NS) {
			web_response__error(
			    q->r, 400,
			    "bad step '%.32s' (e.g. 10s, 1m; at least 1s)", st);
			return;
		}
	} else {
		step = nice_step(rg.q.to_ns - rg.q.from_ns);
	}
	if ((rg.q.to_ns - rg.q.from_ns) / step > MAX_TIMELINE_POINTS) {
		web_response__error(q->r, 400,
				    "step too small: more than %d points",
				    MAX_TIMELINE_POINTS);
		return;
	}
	lw = query_params__get(&q->pp, "lost_window");
	if (lw && *lw &&
	    (timeparse__duration(lw, &lost_window) ||
	     lost_window > 3600 * NS)) {
		web_response__error(q->r, 400,
				    "bad lost_window '%.32s' (e.g. 10s; at "
				    "most 1h)",
				    lw);
		return;
	}
	group_by = query_params__get(&q->pp, "group_by");
	if (group_by && !*group_by)
		group_by = NULL;
	if (group_by && !keys_has(&q->keys, group_by)) {
		web_response__error(
		    q->r, 400, "unknown label '%.64s' in group_by", group_by);
		return;
	}
	err = store__timeline(q->c->st, &rg.q, step, group_by, tl_point, &tc);
	if (err) {
		query_failed(q->r, err, "timeline");
		goto out;
	}
	with_lost = lost_range(&rg, &lr);
	if (with_lost) {
		err = store__timeline(q->c->st, &lr.q, step, group_by, tl_point,
				      &lc);
		if (err) {
			web_response__error(q->r, store_status(err),
					    "timeline query failed: %s",
					    store_strerror(err));
			goto out;
		}
		tl_subtract(&tc, &lc);
	}
	/* Keep the biggest groups apart and sum the rest into "[other]". */
	qsort(tc.g, tc.n, sizeof(*tc.g), cmp_group);
	if (tc.n > MAX_GROUPS) {
		struct tl_group *o = &tc.g[MAX_GROUPS - 1];
		size_t n = 0;

		for (size_t i = MAX_GROUPS; i < tc.n; i++) {
			struct tl_group *g = &tc.g[i];

			if (o->n + g->n > o->cap) {
				o->cap = o->n + g->n;
				o->pts = xrealloc(o->pts, o->cap * 2 *
							      sizeof(uint64_t));
			}
			memcpy(o->pts + 2 * o->n, g->pts,
			       g->n * 2 * sizeof(uint64_t));
			o->n += g->n;
			o->sum += g->sum;
		}
		qsort(o->pts, o->n, 2 * sizeof(uint64_t), cmp_pair);
		for (size_t i = 0; i < o->n; i++) {
			if (n && o->pts[2 * (n - 1)] == o->pts[2 * i]) {
				o->pts[2 * (n - 1) + 1] += o->pts[2 * i + 1];
				continue;
			}
			o->pts[2 * n] = o->pts[2 * i];
			o->pts[2 * n + 1] = o->pts[2 * i + 1];
			n++;
		}
		o->n = n;
		free(o->name);
		o->name = xstrdup("[other]");
	}
	jbuf__puts(b, "{");
	range_json(b, "", &rg);
	jbuf__printf(b, ",\"step_ms\":%llu,\"group_by\":",
		     (unsigned long long)(step / MS));
	jbuf__str(b, group_by ? group_by : "");
	jbuf__puts(b, ",\"series\":[");
	for (size_t i = 0; i < tc.n && i < MAX_GROUPS; i++) {
		struct tl_group *g = &tc.g[i];

		jbuf__sep(b);
		jbuf__puts(b, "{\"group\":");
		jbuf__str(b, g->name);
		jbuf__printf(b, ",\"total\":%llu,\"points\":[",
			     (unsigned long long)g->sum);
		for (size_t k = 0; k < g->n; k++) {
			if (!g->pts[2 * k + 1])
				continue; /* all lost */
			jbuf__sep(b);
			jbuf__printf(b, "[%llu,%llu]",
				     (unsigned long long)(g->pts[2 * k] / MS),
				     (unsigned long long)g->pts[2 * k + 1]);
		}
		jbuf__puts(b, "]}");
	}
	jbuf__puts(b, "]");
	if (with_lost && lc.n) {
		lost_points_json(b, &lc, &rg, step, lost_window);
		lost_reasons_json(q, &lr);
	}
	jbuf__puts(b, "}\n");
	if (b->oom)
		web_response__error(q->r, 500, "out of memory");
out:
	tl_release(&tc);
	tl_release(&lc);
}

/* ---- /heatmap ---- */

struct heat_ctx {
	struct jbuf *b;
	uint64_t *lost; /* (second, STORE_HEAT_SLOTS counts) rows */
	size_t nr_lost, cap_lost;
	uint64_t lost_total;
	size_t pos;
};

static int heat_lost(uint64_t second_ns, const uint64_t *counts, void *ctx)
{
	struct heat_ctx *h = ctx;
	const size_t row = STORE_HEAT_SLOTS + 1;

	if (h->nr_lost == h->cap_lost) {
		h->cap_lost = h->cap_lost ? 2 * h->cap_lost : 64;
		if (h->cap_lost > 8 * 3600)
			return -E2BIG;
		h->lost =
		    xrealloc(h->lost, h->cap_lost * row * sizeof(uint64_t));
	}
	h->lost[h->nr_lost * row] = second_ns;
	memcpy(&h->lost[h->nr_lost * row + 1], counts,
	       STORE_HEAT_SLOTS * sizeof(uint64_t));
	h->nr_lost++;
	return 0;
}

static int heat_col(uint64_t second_ns, const uint64_t *counts, void *ctx)
{
	struct heat_ctx *h = ctx;
	struct jbuf *b = h->b;
	const uint64_t *lost = NULL;

	/* Columns arrive in time order, as the lost ones were collected. */
	while (h->pos < h->nr_lost &&
	       h->lost[h->pos * (STORE_HEAT_SLOTS + 1)] < second_ns)
		h->pos++;
	if (h->pos < h->nr_lost &&
	    h->lost[h->pos * (STORE_HEAT_SLOTS + 1)] == second_ns)
		lost = &h->lost[h->pos * (STORE_HEAT_SLOTS + 1) + 1];
	jbuf__sep(b);
	jbuf__printf(b, "[%llu", (unsigned long long)(second_ns / MS));
	for (int i = 0; i < STORE_HEAT_SLOTS; i++) {
		uint64_t v = counts[i];

		if (lost) {
			uint64_t d = lost[i] < v ? lost[i] : v;

			v -= d;
			h->lost_total += d;
		}
		jbuf__raw(b, ",", 1);
		jbuf__u64(b, v);
	}
	jbuf__raw(b, "]", 1);
	return 0;
}

static void api_heatmap(struct req *q)
{
	struct jbuf *b = &q->r->body;
	struct heat_ctx h = {.b = b};
	struct query_range rg, lr;
	int err = 0;

	if (req_range(q, "", &rg))
		return;
	if (rg.q.to_ns - rg.q.from_ns > MAX_HEATMAP_NS) {
		web_response__error(q->r, 400,
				    "heat map range longer than 2 hours");
		return;
	}
	jbuf__puts(b, "{");
	range_json(b, "", &rg);
	jbuf__printf(b, ",\"slots\":%d,\"slot_ms\":%d,\"columns\":[",
		     STORE_HEAT_SLOTS, 1000 / STORE_HEAT_SLOTS);
	/* Lost samples are left out: they are stamped at one instant. */
	if (lost_range(&rg, &lr))
		err = store__heatmap(q->c->st, &lr.q, heat_lost, &h);
	if (!err)
		err = store__heatmap(q->c->st, &rg.q, heat_col, &h);
	if (err) {
		query_failed(q->r, err, "heat map");
		goto out;
	}
	jbuf__printf(b, "],\"lost_excluded\":%llu}\n",
		     (unsigned long long)h.lost_total);
out:
	free(h.lost);
}

/* ---- /flamegraph, /top, /diff ---- */

static void tree_meta(struct jbuf *b, const struct calltree *t)
{
	jbuf__printf(b, ",\"nodes\":%llu,\"tree_nodes\":%llu,\"truncated\":",
		     (unsigned long long)t->out_nodes,
		     (unsigned long long)t->nr_nodes);
	if (t->merged_nodes)
		jbuf__printf(b,
			     "{\"merged_nodes\":%llu,\"merged_samples\":%llu,"
			     "\"other_nodes\":%llu,\"min_total\":%llu}",
			     (unsigned long long)t->merged_nodes,
			     (unsigned long long)t->merged_samples,
			     (unsigned long long)t->other_nodes,
			     (unsigned long long)t->min_total);
	else
		jbuf__puts(b, "null");
}

/*
 * Adds the samples of range 'rg' to side 'side' of 't'. Returns
 * calltree__add()'s result; *answered is set when the profile could not be
 * read or is over budget (the response already says why).
 */
static int tree_add_range(struct req *q, const struct query_range *rg,
			  struct calltree *t, int side,
			  const struct calltree_add_opts *ao, bool *answered)
{
	struct profile *p = req_profile(q, rg);
	int err;

	if (!p) {
		*answered = true;
		return 0;
	}
	if (!tree_fits(p)) {
		profile__free(p);
		over_budget(q->r, -E2BIG);
		*answered = true;
		return 0;
	}
	err = calltree__add(t, p, side, ao);
	profile__free(p);
	return err;
}

static const char *const tree_keep[] = {LABEL_COMM};

static void api_tree(struct req *q, bool diff, bool top)
{
	struct jbuf *b = &q->r->body;
	struct calltree_add_opts ao = {0};
	struct query_range ra, rb;
	struct calltree t;
	bool answered = false;
	uint64_t max_nodes, limit, with_process, with_functions;
	struct web_match *re = NULL;
	const char *path = top ? NULL : query_params__get(&q->pp, "path");
	uint32_t path_nodes[MAX_PATH], top_node = 0;
	size_t path_len = 0;
	int err;

	flame__init(&t, diff);
	if (req_range(q, diff ? "a_" : "", &ra))
		goto out;
	if (diff && req_range(q, "b_", &rb))
		goto out;
	if (query_params__uint(&q->pp, "max_nodes", DEFAULT_MAX_NODES, 10,
			       LIMIT_MAX_NODES, &max_nodes, q->err,
			       sizeof(q->err)) ||
	    query_params__uint(&q->pp, "limit", top ? 200 : 500, 1, 100000,
			       &limit, q->err, sizeof(q->err)) ||
	    query_params__uint(&q->pp, "process", 1, 0, 1, &with_process,
			       q->err, sizeof(q->err)) ||
	    query_params__uint(&q->pp, "functions", top || diff, 0, 1,
			       &with_functions, q->err, sizeof(q->err))) {
		web_response__error(q->r, 400, "%s", q->err);
		goto out;
	}
	if (req_regex(q, &re))
		goto out;
	ao.with_process = with_process && !top;
	ao.match = re ? flame__match : NULL;
	ao.match_ctx = re;
	/* A tree needs the process name at most: the store merges the
	 * series of every host and pid, so a fleet's tree costs one host's. */
	ra.q.merge = true;
	ra.q.keep = ao.with_process ? tree_keep : NULL;
	ra.q.nr_keep = ao.with_process ? 1 : 0;
	if (diff) {
		rb.q.merge = true;
		rb.q.keep = ra.q.keep;
		rb.q.nr_keep = ra.q.nr_keep;
	}

	err = tree_add_range(q, &ra, &t, 0, &ao, &answered);
	if (!err && !answered && diff)
		err = tree_add_range(q, &rb, &t, 1, &ao, &answered);
	if (answered)
		goto out;
	if (err)
		goto add_failed;

	jbuf__puts(b, "{\"version\":1,\"unit\":\"samples\",");
	if (diff) {
		range_json(b, "a_", &ra);
		jbuf__raw(b, ",", 1);
		range_json(b, "b_", &rb);
		jbuf__printf(b, ",\"total_a\":%llu,\"total_b\":%llu",
			     (unsigned long long)t.total[0],
			     (unsigned long long)t.total[1]);
	} else {
		range_json(b, "", &ra);
		jbuf__printf(b, ",\"total\":%llu",
			     (unsigned long long)t.total[0]);
	}
	if (!top) {
		if (path && *path) {
			/* One subtree at the detail asked for ("[other]"
			 * expanded in the browser). */
			top_node = flame__find_path(&t, path, path_nodes,
						    MAX_PATH, &path_len);
			if (top_node == CALLTREE_NONE) {
				web_response__error(q->r, 404,
						    "path not in this profile "
						    "(or deeper than %d)",
						    MAX_PATH);
				goto out;
			}
			if (flame__limit_subtree(&t, top_node, max_nodes))
				goto oom;
		} else {
			calltree__limit(&t, max_nodes);
		}
		tree_meta(b, &t);
		jbuf__raw(b, ",", 1);
		if (flame__write_json_path(&t, b, path_nodes, path_len))
			goto oom;
	}
	/* functions=1: the table in the same response, one store query. */
	if (top || with_functions) {
		jbuf__raw(b, ",", 1);
		if (flame__write_functions(&t, b, limit))
			goto oom;
	}
	jbuf__puts(b, "}\n");
	if (b->oom)
		goto oom;
	goto out;
add_failed:
	if (err == -E2BIG) {
		web_response__error(q->r, 400,
				    "regex in 'match' is too costly (it went "
				    "over its backtracking limit on a name)");
		goto out;
	}
	if (err == -ETIME) {
		q->r->retry_after = 1;
		web_response__error(q->r, 503,
				    "regex in 'match' took more than %d ms "
				    "over this range: narrow it or simplify "
				    "the pattern",
				    WEB_MATCH_BUDGET_MS);
		goto out;
	}
	if (err != -ENOMEM) {
		web_response__error(q->r, 400, "regex in 'match' failed: %s",
				    store_strerror(err));
		goto out;
	}
oom:
	web_response__error(q->r, 500, "out of memory building the response");
out:
	web_match__free(re);
	calltree__release(&t);
}

/* ---- /lines: one function's source lines ---- */

#define MAX_LINE_ROWS 4096
#define MAX_SOURCE_FILES 4
#define MAX_SOURCE_BYTES (4 << 20)
#define MAX_SOURCE_LINES 4000
#define SOURCE_CONTEXT 6

struct line_row {
	uint32_t file, line;
	uint64_t self, total;
	size_t stamp;
};

static int cmp_line_total(const void *a, const void *b)
{
	const struct line_row *x = a, *y = b;

	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * Source files are served only when a frame of the function asked for
 * names them (the path never comes from the request), as absolute paths
 * to regular files with a source-code extension, outside /proc, /sys
 * and /dev, at most MAX_SOURCE_BYTES: what a debugger would open, and
 * nothing else.
 */
static const char *source_refusal(const char *path)
{
	static const char *const exts[] = {
	    ".c",    ".h",   ".cc",    ".cpp",	 ".cxx", ".hpp", ".hh",	 ".hxx",
	    ".inl",  ".ipp", ".tcc",   ".c++",	 ".h++", ".rs",	 ".go",	 ".py",
	    ".java", ".kt",  ".scala", ".js",	 ".ts",	 ".rb",	 ".s",	 ".S",
	    ".zig",  ".m",   ".mm",    ".swift", ".cs",	 ".d",	 ".f90", ".f",
	    ".pl",   ".php", ".lua",   ".hs",	 ".ml",	 ".nim", ".v",	 ".cu"};
	const char *dot = strrchr(path, '.');

	if (path[0] != '/')
		return "a relative path: the server cannot know its directory";
	if (!strncmp(path, "/proc/", 6) || !strncmp(path, "/sys/", 5) ||
	    !strncmp(path, "/dev/", 5) || strstr(path, "/../"))
		return "not a source file";
	for (size_t i = 0; dot && i < sizeof(exts) / sizeof(exts[0]); i++)
		if (!strcmp(dot, exts[i]))
			return NULL;
	return "not a source file (by its extension)";
}

/* Reads a regular file of at most MAX_SOURCE_BYTES; NULL with a reason. */
static char *read_source(const char *path, size_t *len, const char **why)
{
	struct stat sb;
	char *buf = NULL;
	size_t got = 0;
	int fd;

	fd = open(path,
		  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*why = errno == ENOENT ? "not on this server's file system"
				       : "not readable by the server";
		return NULL;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		*why = "not a regular file";
		goto out;
	}
	if (sb.st_size > MAX_SOURCE_BYTES) {
		*why = "larger than 4 MiB";
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		*why = "out of memory";
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	for (size_t i = 0; i < got; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[got] = '\0';
	*len = got;
out:
	close(fd);
	return buf;
}

static void source_json(struct jbuf *b, const char *path,
			const struct line_row *rows, size_t nr, uint32_t file)
{
	uint32_t lo = UINT32_MAX, hi = 0, first, last, ln = 1;
	const char *why = source_refusal(path), *p, *start = NULL;
	size_t len = 0;
	char *text = NULL;

	for (size_t i = 0; i < nr; i++)
		if (rows[i].file == file && rows[i].line) {
			lo = rows[i].line < lo ? rows[i].line : lo;
			hi = rows[i].line > hi ? rows[i].line : hi;
		}
	jbuf__sep(b);
	jbuf__puts(b, "{\"file\":");
	jbuf__str(b, path);
	if (!why)
		text = read_source(path, &len, &why);
	if (!text || lo == UINT32_MAX) {
		jbuf__puts(b, ",\"error\":");
		jbuf__str(b, why ? why : "no line numbers");
		jbuf__puts(b, "}");
		free(text);
		return;
	}
	first = lo > SOURCE_CONTEXT ? lo - SOURCE_CONTEXT : 1;
	last = hi + SOURCE_CONTEXT;
	if (last - first > MAX_SOURCE_LINES)
		last = first + MAX_SOURCE_LINES;
	/* The lines [first, last] as one string. */
	for (p = text; *p && ln <= last; p++) {
		if (ln == first && !start)
			start = p;
		if (*p == '\n')
			ln++;
	}
	if (!start) {
		jbuf__puts(b, ",\"error\":");
		jbuf__str(b, "the file is shorter than its line numbers: "
			     "another version?");
		jbuf__puts(b, "}");
		free(text);
		return;
	}
	text[p - text] = '\0';
	jbuf__printf(b, ",\"first\":%u,\"text\":", first);
	jbuf__str(b, start);
	jbuf__puts(b, ",\"heat\":{");
	for (size_t i = 0; i < nr; i++)
		if (rows[i].file == file && rows[i].line >= first &&
		    rows[i].line <= last) {
			jbuf__sep(b);
			jbuf__printf(b, "\"%u\":[%llu,%llu]", rows[i].line,
				     (unsigned long long)rows[i].self,
				     (unsigned long long)rows[i].total);
		}
	jbuf__puts(b, "}}");
	free(text);
}

static void api_lines(struct req *q)
{
	struct jbuf *b = &q->r->body;
	const char *fn = query_params__get(&q->pp, "function");
	struct line_row *rows = NULL;
	uint8_t *hit = NULL;
	struct query_range rg;
	struct profile *p = NULL;
	const struct sample *sm;
	size_t nr = 0, ns = 0, nf;
	uint32_t files[MAX_SOURCE_FILES];
	size_t nfiles = 0;
	bool capped = false;

	if (!fn || !*fn) {
		web_response__error(q->r, 400, "missing 'function'");
		return;
	}
	if (req_range(q, "", &rg))
		return;
	p = req_profile(q, &rg);
	if (!p)
		return;
	nf = profile__nr_frames(p);
	hit = calloc(nf + 1, 1);
	rows = calloc(MAX_LINE_ROWS, sizeof(*rows));
	if (!hit || !rows) {
		web_response__error(q->r, 500, "out of memory");
		goto out;
	}
	for (size_t f = 0; f < nf; f++)
		hit[f] = !strcmp(
		    profile__str(p, profile__frame(p, (uint32_t)f)->name), fn);
	sm = profile__samples(p, &ns);
	for (size_t i = 0; i < ns; i++) {
		size_t depth = 0;
		const uint32_t *st = profile__stack(p, sm[i].stack, &depth);

		for (size_t d = 0; d < depth; d++) {
			const struct frame *f;
			size_t k;

			if (!hit[st[d]])
				continue;
			f = profile__frame(p, st[d]);
			for (k = 0; k < nr; k++)
				if (rows[k].file == f->file &&
				    rows[k].line == f->line)
					break;
			if (k == nr) {
				if (nr == MAX_LINE_ROWS) {
					capped = true;
					continue;
				}
				rows[nr].file = f->file;
				rows[nr++].line = f->line;
			}
			if (d == depth - 1)
				rows[k].self += sm[i].count;
			/* Once per stack: recursion does not count twice. */
			if (rows[k].stamp != i + 1) {
				rows[k].stamp = i + 1;
				rows[k].total += sm[i].count;
			}
		}
	}
	qsort(rows, nr, sizeof(*rows), cmp_line_total);
	jbuf__puts(b, "{\"function\":");
	jbuf__str(b, fn);
	jbuf__printf(b, ",\"truncated\":%s,\"lines\":[",
		     capped ? "true" : "false");
	for (size_t k = 0; k < nr; k++) {
		jbuf__sep(b);
		jbuf__puts(b, "{\"file\":");
		jbuf__str(b, rows[k].file ? profile__str(p, rows[k].file) : "");
		jbuf__printf(b, ",\"line\":%u,\"self\":%llu,\"total\":%llu}",
			     rows[k].line, (unsigned long long)rows[k].self,
			     (unsigned long long)rows[k].total);
		if (rows[k].file && nfiles < MAX_SOURCE_FILES) {
			size_t j;

			for (j = 0; j < nfiles && files[j] != rows[k].file; j++)
				;
			if (j == nfiles)
				files[nfiles++] = rows[k].file;
		}
	}
	jbuf__puts(b, "],\"sources\":[");
	for (size_t j = 0; j < nfiles; j++)
		source_json(b, profile__str(p, files[j]), rows, nr, files[j]);
	jbuf__puts(b, "]}\n");
	if (b->oom)
		web_response__error(q->r, 500, "out of memory");
out:
	free(hit);
	free(rows);
	profile__free(p);
}

/* ---- /diff_report: what `kiln diff` writes, for the two ranges ---- */

static void api_diff_report(struct req *q)
{
	const char *fmt = query_params__get(&q->pp, "format");
	struct profile *pa = NULL, *pb = NULL;
	struct diff_opts o = {0};
	struct write_opts wo = {0};
	struct query_range ra, rb;
	struct diff *d = NULL;
	char *data = NULL, an[96], bn[96];
	size_t size = 0;
	uint64_t limit;
	enum diff_output out = DIFF_MARKDOWN;
	bool svg = false;
	FILE *mem;
	int err;

	if (!fmt || !*fmt || !strcmp(fmt, "markdown") || !strcmp(fmt, "md"))
		out = DIFF_MARKDOWN;
	else if (!strcmp(fmt, "text"))
		out = DIFF_TEXT;
	else if (!strcmp(fmt, "json"))
		out = DIFF_JSON;
	else if (!strcmp(fmt, "svg"))
		svg = true;
	else {
		web_response__error(q->r, 400,
				    "unknown format '%.32s' (markdown, text, "
				    "json, svg)",
				    fmt);
		return;
	}
	if (query_params__uint(&q->pp, "limit", 20, 0, 100000, &limit, q->err,
			       sizeof(q->err))) {
		web_response__error(q->r, 400, "%s", q->err);
		return;
	}
	if (req_range(q, "a_", &ra) || req_range(q, "b_", &rb))
		return;
	pa = req_profile(q, &ra);
	if (!pa)
		return;
	pb = req_profile(q, &rb);
	if (!pb)
		goto done;
	snprintf(an, sizeof(an), "A (%llu..%llu)",
		 (unsigned long long)(ra.q.from_ns / NS),
		 (unsigned long long)(ra.q.to_ns / NS));
	snprintf(bn, sizeof(bn), "B (%llu..%llu)",
		 (unsigned long long)(rb.q.from_ns / NS),
		 (unsigned long long)(rb.q.to_ns / NS));
	mem = open_memstream(&data, &size);
	if (!mem) {
		web_response__error(q->r, 500, "out of memory");
		goto done;
	}
	if (svg) {
		wo.title = "kiln diff: B against A";
		err = svg__write_diff(pa, pb, &wo, mem);
	} else {
		/* `kiln diff`'s defaults: self, report only, 100 samples. */
		o.metric = DIFF_SELF;
		o.threshold_pp = -1;
		o.min_samples = 100;
		o.limit = (size_t)limit;
		o.base_name = an;
		o.new_name = bn;
		d = diff__new(pa, pb, &o);
		err = d ? diff__write(d, out, mem) : -ENOMEM;
	}
	if (fclose(mem) && !err)
		err = -EIO;
	if (err) {
		web_response__error(q->r, 500, "cannot write the report: %s",
				    strerror(-err));
		goto done;
	}
	jbuf__raw(&q->r->body, data, size);
	q->r->content_type = svg		? "image/svg+xml"
			     : out == DIFF_JSON ? "application/json"
			     : out == DIFF_MARKDOWN
				 ? "text/markdown; charset=utf-8"
				 : "text/plain; charset=utf-8";
	snprintf(q->r->disposition, sizeof(q->r->disposition),
		 "attachment; filename=\"kiln-diff-%llu-%llu.%s\"",
		 (unsigned long long)(rb.q.from_ns / NS),
		 (unsigned long long)(rb.q.to_ns / NS),
		 svg			? "svg"
		 : out == DIFF_JSON	? "json"
		 : out == DIFF_MARKDOWN ? "md"
					: "txt");
done:
	diff__free(d);
	free(data);
	profile__free(pa);
	profile__free(pb);
}

/* ---- /export ---- */

/*
 * The view the browser shows, for downloads: path=COMM;F1;F2 (the zoomed
 * frame: process name, then frames from the root) keeps the samples whose
 * stack goes through it; focus=NAME the samples with NAME in their stack.
 * Whole stacks are kept, as flamegraph.pl's zoom shows the ancestors.
 */
struct view_filter {
	char *parts[MAX_PATH];
	size_t n;
	const char *focus;
};

static bool view_keeps(const struct profile *p, const struct sample *sm,
		       const struct view_filter *v)
{
	size_t depth = 0;
	const uint32_t *st = profile__stack(p, sm->stack, &depth);

	if (v->n) {
		const char *comm =
		    profile__series_label(p, sm->series, LABEL_COMM);

		if (strcmp(comm ? comm : "[unknown process]", v->parts[0]) ||
		    depth < v->n - 1)
			return false;
		for (size_t k = 1; k < v->n; k++)
			if (strcmp(profile__str(
				       p, profile__frame(p, st[k - 1])->name),
				   v->parts[k]))
				return false;
	}
	if (v->focus) {
		for (size_t k = 0; k < depth; k++)
			if (!strcmp(
				profile__str(p, profile__frame(p, st[k])->name),
				v->focus))
				return true;
		return false;
	}
	return true;
}

/* A copy of 'p' with only the samples the view keeps; NULL on ENOMEM. */
static struct profile *view_profile(const struct profile *p,
				    const struct view_filter *v)
{
	size_t nf = profile__nr_frames(p), nsr = profile__nr_series(p),
	       nst = profile__nr_stacks(p), ns = 0, n;
	struct profile *out = profile__new();
	uint32_t *fmap = calloc(nf + 1, sizeof(*fmap));
	uint32_t *smap = calloc(nsr + 1, sizeof(*smap));
	uint32_t *stmap = calloc(nst + 1, sizeof(*stmap));
	const struct sample *sm = profile__samples(p, &ns);

	if (!out || !fmap || !smap || !stmap) {
		profile__free(out);
		out = NULL;
		goto done;
	}
	*profile__meta(out) = *profile__meta_const(p);
	/* Ids + 1 in the maps: 0 is "not copied yet". */
	for (size_t i = 0; i < ns; i++) {
		const struct sample *x = &sm[i];

		if (!view_keeps(p, x, v))
			continue;
		if (!smap[x->series]) {
			const struct label *l =
			    profile__series(p, x->series, &n);
			struct label copy[QUERY_MAX_FILTERS + 16];

			if (n > sizeof(copy) / sizeof(copy[0]))
				n = sizeof(copy) / sizeof(copy[0]);
			for (size_t j = 0; j < n; j++) {
				copy[j].key = profile__intern(
				    out, profile__str(p, l[j].key));
				copy[j].value = profile__intern(
				    out, profile__str(p, l[j].value));
			}
			smap[x->series] = profile__add_series(out, copy, n) + 1;
		}
		if (!stmap[x->stack]) {
			size_t depth = 0;
			const uint32_t *ids =
			    profile__stack(p, x->stack, &depth);
			uint32_t copy[512];

			if (depth > sizeof(copy) / sizeof(copy[0]))
				depth = sizeof(copy) / sizeof(copy[0]);
			for (size_t j = 0; j < depth; j++) {
				if (!fmap[ids[j]]) {
					struct frame f =
					    *profile__frame(p, ids[j]);

					f.name = profile__intern(
					    out, profile__str(p, f.name));
					f.file = profile__intern(
					    out, profile__str(p, f.file));
					f.module = profile__intern(
					    out, profile__str(p, f.module));
					fmap[ids[j]] =
					    profile__add_frame(out, &f) + 1;
				}
				copy[j] = fmap[ids[j]] - 1;
			}
			stmap[x->stack] =
			    profile__add_stack(out, copy, depth) + 1;
		}
		profile__add_sample(out, smap[x->series] - 1,
				    stmap[x->stack] - 1, x->time_ns, x->count);
	}
done:
	free(fmap);
	free(smap);
	free(stmap);
	return out;
}

static void api_export(struct req *q)
{
	static const char *const ext[] = {[FORMAT_FOLDED] = "folded",
					  [FORMAT_PPROF] = "pb.gz",
					  [FORMAT_SPEEDSCOPE] =
					      "speedscope.json",
					  [FORMAT_SVG] = "svg",
					  [FORMAT_JSON] = "json"};
	static const char *const mime[] = {
	    [FORMAT_FOLDED] = "text/plain; charset=utf-8",
	    [FORMAT_PPROF] = "application/octet-stream",
	    [FORMAT_SPEEDSCOPE] = "application/json",
	    [FORMAT_SVG] = "image/svg+xml",
	    [FORMAT_JSON] = "application/json"};
	const char *fname = query_params__get(&q->pp, "format");
	struct write_opts wo = {0};
	enum profile_format fmt;
	struct query_range rg;
	struct profile *p;
	char *data = NULL;
	size_t size = 0;
	struct view_filter view = {0};
	const char *vpath;
	char *vbuf = NULL;
	FILE *mem;
	int err;

	if (!fname || !*fname)
		fname = "folded";
	fmt = format__from_name(fname);
	if (fmt == FORMAT_UNKNOWN) {
		web_response__error(q->r, 400, "unknown format '%.32s'", fname);
		return;
	}
	if (req_range(q, "", &rg))
		return;
	p = req_profile(q, &rg);
	if (!p)
		return;
	vpath = query_params__get(&q->pp, "path");
	view.focus = query_params__get(&q->pp, "focus");
	if (view.focus && !*view.focus)
		view.focus = NULL;
	if (vpath && *vpath) {
		char *save = NULL, *tok;

		vbuf = xstrdup(vpath);
		for (tok = strtok_r(vbuf, ";", &save); tok;
		     tok = strtok_r(NULL, ";", &save)) {
			if (view.n == MAX_PATH) {
				web_response__error(
				    q->r, 400, "path deeper than %d", MAX_PATH);
				goto out;
			}
			view.parts[view.n++] = tok;
		}
	}
	if (view.n || view.focus) {
		struct profile *vp = view_profile(p, &view);

		if (!vp) {
			web_response__error(q->r, 500, "out of memory");
			goto out;
		}
		profile__free(p);
		p = vp;
	}
	mem = open_memstream(&data, &size);
	if (!mem) {
		web_response__error(q->r, 500, "out of memory");
		goto out;
	}
	wo.title = "kiln";
	err = profile__write(p, fmt, &wo, mem);
	if (fclose(mem) && !err)
		err = -EIO;
	if (err == -ENOTSUP) {
		web_response__error(
		    q->r, 501, "format '%s' is not available in this build",
		    fname);
		goto out;
	}
	if (err) {
		web_response__error(q->r, 500, "cannot write %s: %s", fname,
				    store_strerror(err));
		goto out;
	}
	jbuf__raw(&q->r->body, data, size);
	if (q->r->body.oom) {
		web_response__error(q->r, 500,
				    "out of memory building the response");
		goto out;
	}
	q->r->content_type = mime[fmt];
	snprintf(q->r->disposition, sizeof(q->r->disposition),
		 "attachment; filename=\"kiln-%llu-%llu.%s\"",
		 (unsigned long long)(rg.q.from_ns / NS),
		 (unsigned long long)(rg.q.to_ns / NS), ext[fmt]);
out:
	free(vbuf);
	free(data);
	profile__free(p);
}

void api__get(struct api_ctx *c, const char *path, const char *qs,
	      struct web_response *r)
{
	struct req q;

	if (req_begin(&q, c, qs, r))
		goto out;
	if (!strcmp(path, "labels")) {
		api_labels(&q);
	} else if (!strncmp(path, "labels/", 7)) {
		const char *name = path + 7, *slash = strchr(name, '/');
		char buf[128];

		if (!slash || strcmp(slash, "/values") ||
		    (size_t)(slash - name) >= sizeof(buf)) {
			web_response__error(r, 404, "no such API path");
			goto out;
		}
		memcpy(buf, name, (size_t)(slash - name));
		buf[slash - name] = '\0';
		api_label_values(&q, buf);
	} else if (!strcmp(path, "label_values")) {
		api_label_values(&q, query_params__get(&q.pp, "name"));
	} else if (!strcmp(path, "timeline")) {
		api_timeline(&q);
	} else if (!strcmp(path, "heatmap")) {
		api_heatmap(&q);
	} else if (!strcmp(path, "flamegraph")) {
		api_tree(&q, false, false);
	} else if (!strcmp(path, "top")) {
		api_tree(&q, false, true);
	} else if (!strcmp(path, "diff")) {
		api_tree(&q, true, false);
	} else if (!strcmp(path, "lines")) {
		api_lines(&q);
	} else if (!strcmp(path, "diff_report")) {
		api_diff_report(&q);
	} else if (!strcmp(path, "export")) {
		api_export(&q);
	} else if (!strcmp(path, "hosts")) {
		api__hosts(c->st, c->now_ns, r);
	} else {
		web_response__error(r, 404, "no such API path");
	}
out:
	req_end(&q);
}

/* ---- POST /ingest ---- */

/*
 * Uploads are read with limits well below the CLI's: a request must not
 * take the server's memory (a 428 KB gzipped pprof of 49 M samples once
 * took 3.7 GB), and its write must not hold the store's write lock for
 * longer than an agent's window.
 */
static void ingest_limits(struct read_limits *lim, size_t len)
{
	read_limits__default(lim);
	lim->max_input = len;
	lim->max_decompressed = 256u << 20;
	lim->max_memory = 512u << 20;
	lim->max_samples = API_INGEST_MAX_SAMPLES;
	lim->max_locations = 1000000;
	lim->max_functions = 1000000;
	lim->max_strings = 1000000;
}

/*
 * Whether the counts of an upload add up without overflow, and below 2^53
 * (where JSON consumers stop being exact). Counts once wrapped modulo 2^64.
 */
static bool counts_fit(const struct profile *p)
{
	size_t nr;
	const struct sample *s = profile__samples(p, &nr);
	uint64_t sum = 0;

	for (size_t i = 0; i < nr; i++)
		if (__builtin_add_overflow(sum, s[i].count, &sum) ||
		    sum > (1ULL << 53))
			return false;
	return true;
}

struct profile *api__ingest_parse(struct api_ctx *c, const char *qs,
				  const void *body, size_t len,
				  const char *content_type,
				  struct web_response *r)
{
	const char *labels[QUERY_MAX_FILTERS];
	struct read_limits lim;
	struct profile *p = NULL, *rel = NULL;
	struct query_params pp;
	const char *ts, *plain;
	uint64_t time_ns = 0;
	size_t nl = 0;
	char err[256] = "";
	int ret;

	if (query_params__parse(&pp, qs, err, sizeof(err))) {
		web_response__error(r, 400, "%s", err);
		goto out;
	}
	for (size_t i = 0; i < pp.n; i++) {
		if (strcmp(pp.kv[i].key, "label"))
			continue;
		if (nl == QUERY_MAX_FILTERS) {
			web_response__error(r, 400, "more than %d labels",
					    QUERY_MAX_FILTERS);
			goto out;
		}
		labels[nl++] = pp.kv[i].value;
	}
	ts = query_params__get(&pp, "time");
	if (ts && *ts && timeparse__time(ts, c->now_ns, &time_ns)) {
		web_response__error(r, 400, "cannot parse time '%.64s'", ts);
		goto out;
	}
	if (!ts || !*ts)
		time_ns =
		    c->now_ns; /* "or now": uploads land when they arrive */
	ingest_limits(&lim, len);
	plain = query_params__get(&pp, "plain_folded");
	lim.folded_no_comm = plain && !strcmp(plain, "1");
	p = profile__new();
	if (!p) {
		web_response__error(r, 500, "out of memory");
		goto out;
	}
	profile__set_checked(p); /* the upload decides its size */
	ret = ingest__parse(body, len, content_type, &lim, p, err, sizeof(err));
	if (!ret && profile__oom(p)) {
		ret = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory reading the profile");
	}
	if (ret) {
		web_response__error(r,
				    ret == -E2BIG    ? 413
				    : ret == -ENOMEM ? 500
						     : 400,
				    "%s", err[0] ? err : strerror(-ret));
		goto out;
	}
	rel = ingest__relabel(p, labels, nl, time_ns);
	if (!rel && errno == ENOMEM) {
		web_response__error(r, 500,
				    "out of memory relabelling the "
				    "profile");
		goto out;
	}
	if (!rel) {
		web_response__error(r, 400,
				    "bad label (want key=value, UTF-8)");
		goto out;
	}
	if (!counts_fit(rel)) {
		web_response__error(r, 400,
				    "sample counts add up past 2^53: refused "
				    "rather than wrapped");
		profile__free(rel);
		rel = NULL;
	} else if (profile__nr_stacks(rel) > API_INGEST_MAX_STACKS) {
		web_response__error(
		    r, 413,
		    "%zu distinct stacks in one upload: at most "
		    "%d (split it)",
		    profile__nr_stacks(rel), API_INGEST_MAX_STACKS);
		profile__free(rel);
		rel = NULL;
	}
out:
	profile__free(p);
	query_params__release(&pp);
	return rel;
}

/* An upload may not take the store past MAX_KEYS label names. */
static int check_new_keys(struct api_ctx *c, const struct profile *rel,
			  struct web_response *r)
{
	struct keys k;
	size_t added = 0;
	int err;

	if ((err = keys_load(c, &k))) {
		web_response__error(r, store_status(err),
				    "cannot read label names: %s",
				    store_strerror(err));
		return err;
	}
	for (size_t s = 0; s < profile__nr_series(rel) && !err; s++) {
		size_t n;
		const struct label *ls = profile__series(rel, (uint32_t)s, &n);

		for (size_t i = 0; i < n; i++) {
			const char *key = profile__str(rel, ls[i].key);

			if (keys_has(&k, key))
				continue;
			keys_add(key, &k);
			if (k.n > MAX_KEYS || ++added > MAX_KEYS) {
				web_response__error(
				    r, 400,
				    "label '%.64s' would take the store past "
				    "%d label names",
				    key, MAX_KEYS);
				err = -E2BIG;
				break;
			}
		}
	}
	keys_release(&k);
	return err;
}

void api__ingest_write(struct api_ctx *c, struct profile *rel,
		       struct web_response *r)
{
	struct timespec t0, t1;
	int ret;

	if ((ret = check_new_keys(c, rel, r)))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = store__write(c->st, rel);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret) {
		web_response__error(r, store_status(ret),
				    "cannot write to the store: %s",
				    strerror(-ret));
		return;
	}
	/* write_ms: how long the store's write lock was held. */
	jbuf__printf(
	    &r->body,
	    "{\"samples\":%llu,\"stacks\":%zu,\"time_ms\":%llu,"
	    "\"write_ms\":%lld}\n",
	    (unsigned long long)profile__total(rel), profile__nr_stacks(rel),
	    (unsigned long long)(profile__meta_const(rel)->start_ns / MS),
	    (long long)((t1.tv_sec - t0.tv_sec) * 1000 +
			(t1.tv_nsec - t0.tv_nsec) / 1000000));
}

void api__ingest(struct api_ctx *c, const char *qs, const void *body,
		 size_t len, const char *content_type, struct web_response *r)
{
	struct profile *rel =
	    api__ingest_parse(c, qs, body, len, content_type, r);

	if (rel)
		api__ingest_write(c, rel, r);
	profile__free(rel);
}
