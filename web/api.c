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

#include "profile/format.h"
#include "profile/ingest.h"
#include "lib/log.h"
#include "lib/timeparse.h"
#include "lib/xalloc.h"
#include "web/api.h"

#define NS 1000000000ULL
#define MS 1000000ULL
#define MAX_KEYS 64
#define MAX_TIMELINE_POINTS 5000
#define MAX_GROUPS 20
#define MAX_HEATMAP_NS (2ULL * 3600 * NS)
#define DEFAULT_MAX_NODES 20000
#define LIMIT_MAX_NODES 1000000

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
	char *v[MAX_KEYS + 1];
	size_t n;
};

static int keys_add(const char *name, void *ctx)
{
	struct keys *k = ctx;

	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->v[i], name))
			return 0;
	if (k->n < MAX_KEYS)
		k->v[k->n++] = xstrdup(name);
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
	k->v[k->n] = NULL;
	return err;
}

static void keys_release(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i]);
	k->n = 0;
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
	struct web_params pp;
	struct keys keys;
	char err[512];
};

static int req_begin(struct req *q, struct api_ctx *c, const char *qs,
		     struct web_response *r)
{
	int err;

	memset(q, 0, sizeof(*q));
	q->c = c;
	q->r = r;
	err = web_params__parse(&q->pp, qs, q->err, sizeof(q->err));
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

static void req_end(struct req *q)
{
	web_params__release(&q->pp);
	keys_release(&q->keys);
}

static int req_range(struct req *q, const char *prefix, struct web_range *rg)
{
	int err = web_params__range(&q->pp, prefix, q->c->now_ns,
				    (const char *const *)q->keys.v, rg, q->err,
				    sizeof(q->err));

	if (err)
		web_response__error(q->r, 400, "%s", q->err);
	return err;
}

static int req_regex(struct req *q, struct web_match **re)
{
	const char *m = web_params__get(&q->pp, "match");
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
static struct profile *req_profile(struct req *q, const struct web_range *rg)
{
	struct profile *p = profile__new();
	int err;

	if (!p) {
		web_response__error(q->r, 500, "out of memory");
		return NULL;
	}
	err = store__query(q->c->st, &rg->q, p);
	if (err) {
		if (err == -EINVAL)
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

static void range_json(struct jbuf *b, const char *prefix,
		       const struct web_range *rg)
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

static void api_label_values(struct req *q, const char *name)
{
	struct jbuf *b = &q->r->body;
	struct web_range rg;
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
	if (web_params__get(&q->pp, "from") || web_params__get(&q->pp, "to") ||
	    web_params__get(&q->pp, "filter")) {
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
	jbuf__puts(b, "]}\n");
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

static uint64_t nice_step(uint64_t range_ns)
{
	static const uint64_t steps[] = {
	    1,	 2,   5,    10,	  15,	30,    60,    120,   300,
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
	struct tl_ctx tc = {0};
	struct web_range rg;
	const char *group_by, *st;
	uint64_t step;
	int err;

	if (req_range(q, "", &rg))
		return;
	st = web_params__get(&q->pp, "step");
	if (st && *st) {
		if (duration__parse(st, &step) || step < NS) {
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
	group_by = web_params__get(&q->pp, "group_by");
	if (group_by && !*group_by)
		group_by = NULL;
	if (group_by && !keys_has(&q->keys, group_by)) {
		web_response__error(
		    q->r, 400, "unknown label '%.64s' in group_by", group_by);
		return;
	}
	err = store__timeline(q->c->st, &rg.q, step, group_by, tl_point, &tc);
	if (err) {
		web_response__error(q->r, store_status(err),
				    "timeline query failed: %s",
				    store_strerror(err));
		goto out;
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
		for (size_t k = 0; k < g->n; k++)
			jbuf__printf(b, "%s[%llu,%llu]", k ? "," : "",
				     (unsigned long long)(g->pts[2 * k] / MS),
				     (unsigned long long)g->pts[2 * k + 1]);
		jbuf__puts(b, "]}");
	}
	jbuf__puts(b, "]}\n");
out:
	for (size_t i = 0; i < tc.n; i++) {
		free(tc.g[i].name);
		free(tc.g[i].pts);
	}
	free(tc.g);
}

/* ---- /heatmap ---- */

static int heat_col(uint64_t second_ns, const uint64_t *counts, void *ctx)
{
	struct jbuf *b = ctx;

	jbuf__sep(b);
	jbuf__printf(b, "[%llu", (unsigned long long)(second_ns / MS));
	for (int i = 0; i < STORE_HEAT_SLOTS; i++) {
		jbuf__raw(b, ",", 1);
		jbuf__u64(b, counts[i]);
	}
	jbuf__raw(b, "]", 1);
	return 0;
}

static void api_heatmap(struct req *q)
{
	struct jbuf *b = &q->r->body;
	struct web_range rg;
	int err;

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
	err = store__heatmap(q->c->st, &rg.q, heat_col, b);
	if (err) {
		web_response__error(q->r, store_status(err),
				    "heat map query failed: %s",
				    store_strerror(err));
		return;
	}
	jbuf__puts(b, "]}\n");
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

static void api_tree(struct req *q, bool diff, bool top)
{
	struct jbuf *b = &q->r->body;
	struct profile *pa = NULL, *pb = NULL;
	struct calltree_add_opts ao = {0};
	struct web_range ra, rb;
	struct calltree t;
	uint64_t max_nodes, limit, with_process;
	struct web_match *re = NULL;
	int err;

	flame__init(&t, diff);
	if (req_range(q, diff ? "a_" : "", &ra))
		goto out;
	if (diff && req_range(q, "b_", &rb))
		goto out;
	if (web_params__uint(&q->pp, "max_nodes", DEFAULT_MAX_NODES, 10,
			     LIMIT_MAX_NODES, &max_nodes, q->err,
			     sizeof(q->err)) ||
	    web_params__uint(&q->pp, "limit", top ? 200 : 500, 1, 100000,
			     &limit, q->err, sizeof(q->err)) ||
	    web_params__uint(&q->pp, "process", 1, 0, 1, &with_process, q->err,
			     sizeof(q->err))) {
		web_response__error(q->r, 400, "%s", q->err);
		goto out;
	}
	if (req_regex(q, &re))
		goto out;
	ao.with_process = with_process && !top;
	ao.match = re ? flame__match : NULL;
	ao.match_ctx = re;

	pa = req_profile(q, &ra);
	if (!pa)
		goto out;
	err = calltree__add(&t, pa, 0, &ao);
	profile__free(pa);
	if (err)
		goto add_failed;
	if (diff) {
		pb = req_profile(q, &rb);
		if (!pb)
			goto out;
		err = calltree__add(&t, pb, 1, &ao);
		profile__free(pb);
		if (err)
			goto add_failed;
	}

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
		calltree__limit(&t, max_nodes);
		tree_meta(b, &t);
		jbuf__raw(b, ",", 1);
		if (flame__write_json(&t, b))
			goto oom;
	}
	if (top || diff) {
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

/* ---- /export ---- */

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
	const char *fname = web_params__get(&q->pp, "format");
	struct write_opts wo = {0};
	enum profile_format fmt;
	struct web_range rg;
	struct profile *p;
	char *data = NULL;
	size_t size = 0;
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
	q->r->content_type = mime[fmt];
	snprintf(q->r->disposition, sizeof(q->r->disposition),
		 "attachment; filename=\"kiln-%llu-%llu.%s\"",
		 (unsigned long long)(rg.q.from_ns / NS),
		 (unsigned long long)(rg.q.to_ns / NS), ext[fmt]);
out:
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
		api_label_values(&q, web_params__get(&q.pp, "name"));
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
	} else if (!strcmp(path, "export")) {
		api_export(&q);
	} else {
		web_response__error(r, 404, "no such API path");
	}
out:
	req_end(&q);
}

/* ---- POST /ingest ---- */

void api__ingest(struct api_ctx *c, const char *qs, const void *body,
		 size_t len, const char *content_type, struct web_response *r)
{
	const char *labels[WEB_MAX_FILTERS];
	struct read_limits lim;
	struct profile *p = NULL, *rel = NULL;
	struct web_params pp;
	const char *ts, *plain;
	uint64_t time_ns = 0;
	size_t nl = 0;
	char err[256] = "";
	int ret;

	if (web_params__parse(&pp, qs, err, sizeof(err))) {
		web_response__error(r, 400, "%s", err);
		goto out;
	}
	for (size_t i = 0; i < pp.n; i++) {
		if (strcmp(pp.kv[i].key, "label"))
			continue;
		if (nl == WEB_MAX_FILTERS) {
			web_response__error(r, 400, "more than %d labels",
					    WEB_MAX_FILTERS);
			goto out;
		}
		labels[nl++] = pp.kv[i].value;
	}
	ts = web_params__get(&pp, "time");
	if (ts && *ts && time__parse(ts, c->now_ns, &time_ns)) {
		web_response__error(r, 400, "cannot parse time '%.64s'", ts);
		goto out;
	}
	if (!ts || !*ts)
		time_ns =
		    c->now_ns; /* "or now": uploads land when they arrive */
	read_limits__default(&lim);
	plain = web_params__get(&pp, "plain_folded");
	lim.folded_no_comm = plain && !strcmp(plain, "1");
	p = profile__new();
	if (!p) {
		web_response__error(r, 500, "out of memory");
		goto out;
	}
	ret = ingest__parse(body, len, content_type, &lim, p, err, sizeof(err));
	if (ret) {
		web_response__error(r, ret == -E2BIG ? 413 : 400, "%s",
				    err[0] ? err : strerror(-ret));
		goto out;
	}
	rel = ingest__relabel(p, labels, nl, time_ns);
	if (!rel) {
		web_response__error(r, 400,
				    "bad label (want key=value, UTF-8)");
		goto out;
	}
	ret = store__write(c->st, rel);
	if (ret) {
		web_response__error(r, store_status(ret),
				    "cannot write to the store: %s",
				    strerror(-ret));
		goto out;
	}
	jbuf__printf(
	    &r->body, "{\"samples\":%llu,\"stacks\":%zu,\"time_ms\":%llu}\n",
	    (unsigned long long)profile__total(rel), profile__nr_stacks(rel),
	    (unsigned long long)(time_ns / MS));
out:
	profile__free(rel);
	profile__free(p);
	web_params__release(&pp);
}
