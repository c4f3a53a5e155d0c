// SPDX-License-Identifier: MIT
/*
 * Builds the call tree of a profile (or of two, for a diff) and encodes it
 * in the compact form the browser draws: a name table plus, per depth, a
 * flat integer array of nodes (Pyroscope's "flamebearer" idea). Nodes with
 * the same function name under the same parent merge, as in flamegraph.pl.
 *
 * A node limit keeps responses bounded: the narrowest nodes are merged into
 * one "[other]" child per parent, and the response says how many nodes and
 * samples went there, so nothing disappears silently.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "web/web_int.h"

#define NONE UINT32_MAX
/* Stacks are capped far below this (perf_event_max_stack is 127). */
#define PATH_MAX_DEPTH 1024

static const char kind_letters[] = "ukijsp";

struct name_key {
	const char *name;
	uint32_t kind;
};

static bool name_eq(uint32_t id, const void *key, void *ctx)
{
	const struct flame_tree *t = ctx;
	const struct name_key *k = key;

	return t->names[id].kind == k->kind &&
	       !strcmp(t->names[id].name, k->name);
}

struct child_key {
	uint32_t parent, name;
};

static bool child_eq(uint32_t id, const void *key, void *ctx)
{
	const struct flame_tree *t = ctx;
	const struct child_key *k = key;

	return t->nodes[id].parent == k->parent && t->nodes[id].name == k->name;
}

static uint32_t flame_tree__name(struct flame_tree *t, const char *name,
				 uint32_t kind, const char *file, uint32_t line)
{
	struct name_key key = {name, kind};
	uint32_t h = hash__bytes(name, strlen(name), kind), id;
	struct flame_name *n;

	if (!idxset__find(&t->name_set, h, &key, name_eq, t, &id))
		return id;
	if (t->nr_names == t->cap_names) {
		t->cap_names = t->cap_names ? t->cap_names * 2 : 256;
		t->names = xrealloc(t->names, t->cap_names * sizeof(*t->names));
	}
	if (t->nr_names >= t->cap_fn) {
		size_t cap = t->cap_fn ? t->cap_fn * 2 : 256;

		for (int s = 0; s < 2; s++) {
			t->fn_self[s] =
			    xrealloc(t->fn_self[s], cap * sizeof(uint64_t));
			t->fn_total[s] =
			    xrealloc(t->fn_total[s], cap * sizeof(uint64_t));
			memset(t->fn_self[s] + t->cap_fn, 0,
			       (cap - t->cap_fn) * sizeof(uint64_t));
			memset(t->fn_total[s] + t->cap_fn, 0,
			       (cap - t->cap_fn) * sizeof(uint64_t));
		}
		t->fn_seen = xrealloc(t->fn_seen, cap * sizeof(uint32_t));
		memset(t->fn_seen + t->cap_fn, 0,
		       (cap - t->cap_fn) * sizeof(uint32_t));
		t->cap_fn = cap;
	}
	id = (uint32_t)t->nr_names++;
	n = &t->names[id];
	n->name = xstrdup(name);
	n->kind = kind;
	if (file && *file) {
		size_t len = strlen(file) + 16;

		n->file = xmalloc(len);
		if (line)
			snprintf(n->file, len, "%s:%u", file, line);
		else
			snprintf(n->file, len, "%s", file);
	} else {
		n->file = xstrdup("");
	}
	idxset__insert(&t->name_set, h, id);
	return id;
}

/*
 * A full 64-bit mix: the set probes linearly from the low bits, and
 * (parent, name) pairs are small dense integers that byte-wise FNV spreads
 * poorly there, which made long probe chains on big trees.
 */
static uint32_t child_hash(uint32_t parent, uint32_t name)
{
	uint64_t x = ((uint64_t)parent << 32) | name;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

static uint32_t flame_tree__child(struct flame_tree *t, uint32_t parent,
				  uint32_t name)
{
	struct child_key key = {parent, name};
	uint32_t h = child_hash(parent, name), id;
	struct flame_node *n;

	if (!idxset__find(&t->child_set, h, &key, child_eq, t, &id))
		return id;
	if (t->nr_nodes == t->cap_nodes) {
		t->cap_nodes = t->cap_nodes * 2;
		t->nodes = xrealloc(t->nodes, t->cap_nodes * sizeof(*t->nodes));
	}
	id = (uint32_t)t->nr_nodes++;
	n = &t->nodes[id];
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->parent = parent;
	n->first_child = NONE;
	n->next_sibling = t->nodes[parent].first_child;
	t->nodes[parent].first_child = id;
	idxset__insert(&t->child_set, h, id);
	return id;
}

void flame_tree__init(struct flame_tree *t, bool diff)
{
	memset(t, 0, sizeof(*t));
	idxset__init(&t->name_set);
	idxset__init(&t->child_set);
	t->diff = diff;
	t->cap_nodes = 1024;
	t->nodes = xcalloc(t->cap_nodes, sizeof(*t->nodes));
	t->nr_nodes = 1;
	t->nodes[0].first_child = NONE;
	t->nodes[0].next_sibling = NONE;
	t->nodes[0].parent = NONE;
	t->nodes[0].name = flame_tree__name(t, "total", FRAME_SPECIAL, NULL, 0);
}

void flame_tree__release(struct flame_tree *t)
{
	for (size_t i = 0; i < t->nr_names; i++) {
		free(t->names[i].name);
		free(t->names[i].file);
	}
	free(t->names);
	free(t->nodes);
	for (int s = 0; s < 2; s++) {
		free(t->fn_self[s]);
		free(t->fn_total[s]);
	}
	free(t->fn_seen);
	idxset__release(&t->name_set);
	idxset__release(&t->child_set);
	memset(t, 0, sizeof(*t));
}

/* Tree name of a frame: the name as kiln prints it, kind kept apart. */
static uint32_t frame_name(struct flame_tree *t, const struct profile *p,
			   uint32_t frame)
{
	const struct frame *f = profile__frame(p, frame);
	const char *name = profile__str(p, f->name);
	uint32_t kind = f->kind < FRAME_KIND_MAX ? f->kind : FRAME_USER;

	if (!*name)
		name = "[unknown]";
	return flame_tree__name(t, name, kind, profile__str(p, f->file),
				f->line);
}

/* One distinct (process, stack) of the input, with its summed count. */
struct entry {
	uint32_t proc; /* tree name of the process, or NONE */
	uint32_t stack;
	uint64_t count;
};

struct entry_ctx {
	const struct profile *p;
	const uint32_t *fnames;
};

static int cmp_entry_id(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* Orders entries as paths of tree names, so neighbours share prefixes. */
static int cmp_entry_path(const void *a, const void *b, void *ctx)
{
	const struct entry *x = a, *y = b;
	const struct entry_ctx *c = ctx;
	const uint32_t *fx, *fy;
	size_t dx, dy;

	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	fx = profile__stack(c->p, x->stack, &dx);
	fy = profile__stack(c->p, y->stack, &dy);
	for (size_t d = 0; d < dx && d < dy; d++) {
		uint32_t nx = c->fnames[fx[d]], ny = c->fnames[fy[d]];

		if (nx != ny)
			return nx < ny ? -1 : 1;
	}
	return dx < dy ? -1 : dx > dy;
}

/*
 * Builds the tree from distinct (process, stack) entries in path order:
 * each entry only looks up the nodes below the prefix it shares with the
 * previous one. Per-sample walks did a hash lookup per frame per sample,
 * a cache miss each on big trees.
 */
int flame_tree__add(struct flame_tree *t, const struct profile *p, int side,
		    const struct flame_add_opts *opts)
{
	size_t nr_frames = profile__nr_frames(p),
	       nr_series = profile__nr_series(p);
	uint32_t *fnames = NULL, *snames = NULL, path[PATH_MAX_DEPTH + 2];
	uint32_t prev_names[PATH_MAX_DEPTH + 2];
	struct entry *ents = NULL;
	int8_t *fmatch = NULL;
	const struct sample *samples;
	size_t nr, ne = 0, prev_len = 0;
	int err = 0;

	samples = profile__samples(p, &nr);
	fnames = malloc((nr_frames + 1) * sizeof(*fnames));
	snames = malloc((nr_series + 1) * sizeof(*snames));
	fmatch = calloc(nr_frames + 1, 1);
	ents = malloc((nr + 1) * sizeof(*ents));
	if (!fnames || !snames || !fmatch || !ents) {
		err = -ENOMEM;
		goto out;
	}
	memset(snames, 0xff, (nr_series + 1) * sizeof(*snames));
	for (size_t f = 0; f < nr_frames; f++)
		fnames[f] = frame_name(t, p, (uint32_t)f);

	for (size_t i = 0; i < nr; i++) {
		const struct sample *s = &samples[i];
		uint32_t proc = NONE;

		if (!s->count)
			continue;
		if (opts && opts->match) {
			size_t depth;
			const uint32_t *stack =
			    profile__stack(p, s->stack, &depth);
			bool hit = false;

			for (size_t d = 0; d < depth && !hit; d++) {
				uint32_t f = stack[d];

				if (!fmatch[f]) {
					const char *nm = profile__str(
					    p, profile__frame(p, f)->name);
					int r =
					    web_match__exec(opts->match, nm);

					if (r < 0) {
						err = r;
						goto out;
					}
					fmatch[f] = r ? 1 : -1;
				}
				hit = fmatch[f] > 0;
			}
			if (!hit)
				continue;
		}
		if (opts && opts->with_process) {
			if (snames[s->series] == NONE) {
				const char *comm = profile__series_label(
				    p, s->series, LABEL_COMM);
				snames[s->series] = flame_tree__name(
				    t,
				    comm && *comm ? comm : "[unknown process]",
				    FLAME_KIND_PROCESS, NULL, 0);
			}
			proc = snames[s->series];
		}
		ents[ne].proc = proc;
		ents[ne].stack = s->stack;
		ents[ne].count = s->count;
		ne++;
	}
	/* Merge equal (process, stack): pids of one program collapse. */
	qsort(ents, ne, sizeof(*ents), cmp_entry_id);
	{
		size_t w = 0;

		for (size_t i = 0; i < ne; i++) {
			if (w && ents[w - 1].proc == ents[i].proc &&
			    ents[w - 1].stack == ents[i].stack) {
				ents[w - 1].count += ents[i].count;
				continue;
			}
			ents[w++] = ents[i];
		}
		ne = w;
	}
	{
		struct entry_ctx ec = {p, fnames};

		qsort_r(ents, ne, sizeof(*ents), cmp_entry_path, &ec);
	}

	path[0] = 0;
	for (size_t i = 0; i < ne; i++) {
		const struct entry *e = &ents[i];
		size_t depth, len = 0, keep = 0;
		const uint32_t *stack = profile__stack(p, e->stack, &depth);
		uint32_t names[PATH_MAX_DEPTH + 2], leaf = NONE;

		if (depth > PATH_MAX_DEPTH)
			depth = PATH_MAX_DEPTH; /* never in practice: kernels
						   cap stacks at 127 */
		if (e->proc != NONE)
			names[len++] = e->proc;
		for (size_t d = 0; d < depth; d++)
			names[len++] = fnames[stack[d]];
		while (keep < len && keep < prev_len &&
		       names[keep] == prev_names[keep])
			keep++;
		for (size_t d = keep; d < len; d++)
			path[d + 1] = flame_tree__child(t, path[d], names[d]);
		memcpy(prev_names, names, len * sizeof(*names));
		prev_len = len;

		t->total[side] += e->count;
		t->nodes[0].total[side] += e->count;
		for (size_t d = 1; d <= len; d++)
			t->nodes[path[d]].total[side] += e->count;
		t->nodes[path[len]].self[side] += e->count;

		if (++t->stamp == 0) { /* wrapped: forget old stamps */
			memset(t->fn_seen, 0, t->cap_fn * sizeof(uint32_t));
			t->stamp = 1;
		}
		for (size_t d = e->proc != NONE ? 1 : 0; d < len; d++) {
			uint32_t nm = names[d];

			if (t->fn_seen[nm] != t->stamp) {
				t->fn_seen[nm] = t->stamp;
				t->fn_total[side][nm] += e->count;
			}
			leaf = nm;
		}
		if (leaf != NONE)
			t->fn_self[side][leaf] += e->count;
	}
out:
	free(fnames);
	free(snames);
	free(fmatch);
	free(ents);
	return err;
}

static uint64_t node_width(const struct flame_tree *t,
			   const struct flame_node *n)
{
	return n->total[0] + (t->diff ? n->total[1] : 0);
}

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Moves the k largest values to the front (in any order): quickselect, so
 * picking a cut among a million nodes does not sort them all.
 */
static void select_top(uint64_t *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	while (hi - lo > 1 && k > lo && k < hi) {
		uint64_t pivot, tmp;
		size_t i = lo, j = hi - 1, m;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		pivot = v[lo + (seed >> 33) % (hi - lo)];
		/* Three-way partition: > pivot, == pivot, < pivot. */
		for (m = lo; m <= j;) {
			if (v[m] > pivot) {
				tmp = v[m], v[m] = v[i], v[i] = tmp;
				i++, m++;
			} else if (v[m] < pivot) {
				tmp = v[m], v[m] = v[j], v[j] = tmp;
				if (!j)
					break;
				j--;
			} else {
				m++;
			}
		}
		if (k <= i)
			hi = i;
		else if (k <= j + 1)
			return;
		else
			lo = j + 1;
	}
}

/* Nodes the encoding would have if nodes narrower than 'min' merge. */
static size_t count_kept(const struct flame_tree *t, uint64_t min,
			 uint8_t *has_other)
{
	size_t kept = 1, others = 0;

	memset(has_other, 0, t->nr_nodes);
	for (size_t i = 1; i < t->nr_nodes; i++) {
		const struct flame_node *n = &t->nodes[i];

		if (node_width(t, n) >= min) {
			kept++;
		} else if (node_width(t, &t->nodes[n->parent]) >= min &&
			   !has_other[n->parent]) {
			has_other[n->parent] = 1;
			others++;
		}
	}
	return kept + others;
}

void flame_tree__limit(struct flame_tree *t, size_t max_nodes)
{
	uint64_t *widths = NULL;
	uint8_t *has_other = NULL;
	size_t n = t->nr_nodes - 1, lo, hi;

	t->min_total = 0;
	t->merged_nodes = t->merged_samples = t->other_nodes = 0;
	t->out_nodes = t->nr_nodes;
	if (t->nr_nodes <= max_nodes)
		return;
	if (max_nodes < 2)
		max_nodes = 2;
	widths = malloc(n * sizeof(*widths));
	has_other = malloc(t->nr_nodes);
	if (!widths || !has_other) {
		/* Cannot plan a cut: keep only the root and one "other". */
		t->min_total = UINT64_MAX;
		goto count;
	}
	for (size_t i = 0; i < n; i++)
		widths[i] = node_width(t, &t->nodes[i + 1]);
	/* Only the widest max_nodes can be kept: sort just those. */
	if (max_nodes < n) {
		select_top(widths, n, max_nodes);
		n = max_nodes;
	}
	qsort(widths, n, sizeof(*widths), cmp_u64_desc);
	/*
	 * Keeping the k widest nodes: find the largest k whose threshold
	 * widths[k-1] fits. Ties make it approximate, so check and step up.
	 */
	lo = 0;
	hi = max_nodes < n ? max_nodes : n;
	while (lo < hi) {
		size_t mid = (lo + hi + 1) / 2;

		if (count_kept(t, widths[mid - 1], has_other) <= max_nodes)
			lo = mid;
		else
			hi = mid - 1;
	}
	/* The count is not strictly monotone: walk up to a wider threshold. */
	t->min_total = lo ? widths[lo - 1] : UINT64_MAX;
	while (t->min_total != UINT64_MAX &&
	       count_kept(t, t->min_total, has_other) > max_nodes) {
		while (lo && widths[lo - 1] <= t->min_total)
			lo--;
		t->min_total = lo ? widths[lo - 1] : UINT64_MAX;
	}
	if (t->min_total == 0)
		t->min_total = 1;
count:
	t->out_nodes = 1;
	for (size_t i = 1; i < t->nr_nodes; i++) {
		const struct flame_node *nd = &t->nodes[i];
		uint64_t w = node_width(t, nd);

		if (w >= t->min_total) {
			t->out_nodes++;
			continue;
		}
		t->merged_nodes++;
		if (node_width(t, &t->nodes[nd->parent]) >= t->min_total)
			t->merged_samples += w;
	}
	if (has_other) {
		t->other_nodes =
		    count_kept(t, t->min_total, has_other) - t->out_nodes;
		t->out_nodes += t->other_nodes;
	}
	free(widths);
	free(has_other);
}

static int cmp_child(const void *a, const void *b, void *ctx)
{
	const struct flame_tree *t = ctx;
	const struct flame_name *x =
	    &t->names[t->nodes[*(const uint32_t *)a].name];
	const struct flame_name *y =
	    &t->names[t->nodes[*(const uint32_t *)b].name];
	int c = strcmp(x->name, y->name);

	return c ? c : (int)x->kind - (int)y->kind;
}

struct level_entry {
	uint32_t node; /* NONE: an "[other]" node */
	uint64_t x;
	uint64_t total[2];
};

static void write_entry(struct flame_tree *t, struct jbuf *b,
			const struct level_entry *e, uint64_t *end,
			uint32_t other_name)
{
	uint64_t self[2], w;
	uint32_t name;

	if (e->node == NONE) {
		self[0] = e->total[0];
		self[1] = e->total[1];
		name = other_name;
	} else {
		self[0] = t->nodes[e->node].self[0];
		self[1] = t->nodes[e->node].self[1];
		name = t->nodes[e->node].name;
	}
	w = e->total[0] + (t->diff ? e->total[1] : 0);
	jbuf__sep(b);
	jbuf__u64(b, e->x - *end);
	jbuf__raw(b, ",", 1);
	jbuf__u64(b, e->total[0]);
	jbuf__raw(b, ",", 1);
	jbuf__u64(b, self[0]);
	if (t->diff) {
		jbuf__raw(b, ",", 1);
		jbuf__u64(b, e->total[1]);
		jbuf__raw(b, ",", 1);
		jbuf__u64(b, self[1]);
	}
	jbuf__raw(b, ",", 1);
	jbuf__u64(b, name);
	*end = e->x + w;
}

int flame_tree__write_json(struct flame_tree *t, struct jbuf *b)
{
	struct level_entry *cur = NULL, *next = NULL;
	size_t nr_cur = 1, nr_next, cap = t->nr_nodes + 1;
	uint32_t *kids = NULL, other_name;
	int err = 0;

	if (!t->out_nodes)
		t->out_nodes = t->nr_nodes;
	/* Interned before the name table is written. */
	other_name = flame_tree__name(t, "[other]", FRAME_SPECIAL, NULL, 0);
	cur = malloc(cap * sizeof(*cur));
	next = malloc(cap * sizeof(*next));
	kids = malloc(cap * sizeof(*kids));
	if (!cur || !next || !kids) {
		err = -ENOMEM;
		goto out;
	}

	jbuf__puts(b, "\"names\":[");
	for (size_t i = 0; i < t->nr_names; i++) {
		jbuf__sep(b);
		jbuf__str(b, t->names[i].name);
	}
	jbuf__puts(b, "],\"kinds\":\"");
	for (size_t i = 0; i < t->nr_names; i++)
		jbuf__raw(b, &kind_letters[t->names[i].kind], 1);
	jbuf__puts(b, "\",\"files\":[");
	for (size_t i = 0; i < t->nr_names; i++) {
		jbuf__sep(b);
		jbuf__str(b, t->names[i].file);
	}
	jbuf__puts(b, "],\"levels\":[");

	cur[0].node = 0;
	cur[0].x = 0;
	cur[0].total[0] = t->nodes[0].total[0];
	cur[0].total[1] = t->nodes[0].total[1];
	while (nr_cur) {
		uint64_t end = 0;

		jbuf__sep(b);
		jbuf__raw(b, "[", 1);
		for (size_t i = 0; i < nr_cur; i++)
			write_entry(t, b, &cur[i], &end, other_name);
		jbuf__raw(b, "]", 1);

		nr_next = 0;
		for (size_t i = 0; i < nr_cur; i++) {
			struct level_entry other = {NONE, 0, {0, 0}};
			uint64_t x = cur[i].x;
			size_t nk = 0;

			if (cur[i].node == NONE)
				continue;
			for (uint32_t c = t->nodes[cur[i].node].first_child;
			     c != NONE; c = t->nodes[c].next_sibling)
				kids[nk++] = c;
			qsort_r(kids, nk, sizeof(*kids), cmp_child, t);
			for (size_t k = 0; k < nk; k++) {
				const struct flame_node *c = &t->nodes[kids[k]];

				if (node_width(t, c) < t->min_total) {
					other.total[0] += c->total[0];
					other.total[1] += c->total[1];
					continue;
				}
				next[nr_next].node = kids[k];
				next[nr_next].x = x;
				next[nr_next].total[0] = c->total[0];
				next[nr_next].total[1] = c->total[1];
				x += node_width(t, c);
				nr_next++;
			}
			if (other.total[0] || other.total[1]) {
				other.x = x;
				next[nr_next++] = other;
			}
		}
		struct level_entry *tmp = cur;
		cur = next;
		next = tmp;
		nr_cur = nr_next;
	}
	jbuf__raw(b, "]", 1);
	if (b->oom)
		err = -ENOMEM;
out:
	free(cur);
	free(next);
	free(kids);
	return err;
}

struct fn_sort_ctx {
	const struct flame_tree *t;
	double scale[2];
};

static double fn_key(const struct fn_sort_ctx *c, uint32_t i)
{
	const struct flame_tree *t = c->t;

	if (t->diff) {
		double d = t->fn_self[1][i] * c->scale[1] -
			   t->fn_self[0][i] * c->scale[0];
		return d < 0 ? -d : d;
	}
	return (double)t->fn_self[0][i] + (double)t->fn_total[0][i] * 1e-12;
}

static int cmp_fn(const void *a, const void *b, void *ctx)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	double kx = fn_key(ctx, x), ky = fn_key(ctx, y);

	if (kx != ky)
		return kx < ky ? 1 : -1;
	return x < y ? -1 : x > y;
}

int flame_tree__write_functions(struct flame_tree *t, struct jbuf *b,
				size_t limit)
{
	struct fn_sort_ctx ctx = {t, {0, 0}};
	uint32_t *idx;
	size_t n = 0;

	idx = malloc((t->nr_names + 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (int s = 0; s < 2; s++)
		ctx.scale[s] = t->total[s] ? 1.0 / (double)t->total[s] : 0;
	for (uint32_t i = 0; i < t->nr_names; i++) {
		if (t->names[i].kind == FLAME_KIND_PROCESS)
			continue;
		if (!t->fn_total[0][i] && !t->fn_total[1][i])
			continue;
		idx[n++] = i;
	}
	qsort_r(idx, n, sizeof(*idx), cmp_fn, &ctx);
	if (n > limit)
		n = limit;
	jbuf__puts(b, "\"functions\":[");
	for (size_t k = 0; k < n; k++) {
		uint32_t i = idx[k];

		jbuf__sep(b);
		jbuf__puts(b, "{\"name\":");
		jbuf__str(b, t->names[i].name);
		jbuf__printf(b, ",\"kind\":\"%c\",\"file\":",
			     kind_letters[t->names[i].kind]);
		jbuf__str(b, t->names[i].file);
		if (t->diff) {
			jbuf__printf(b,
				     ",\"self_a\":%llu,\"total_a\":%llu,"
				     "\"self_b\":%llu,\"total_b\":%llu}",
				     (unsigned long long)t->fn_self[0][i],
				     (unsigned long long)t->fn_total[0][i],
				     (unsigned long long)t->fn_self[1][i],
				     (unsigned long long)t->fn_total[1][i]);
		} else {
			jbuf__printf(b, ",\"self\":%llu,\"total\":%llu}",
				     (unsigned long long)t->fn_self[0][i],
				     (unsigned long long)t->fn_total[0][i]);
		}
	}
	jbuf__raw(b, "]", 1);
	free(idx);
	return b->oom ? -ENOMEM : 0;
}
