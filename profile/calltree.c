// SPDX-License-Identifier: MIT
/*
 * Builds the tree from distinct (process, stack) entries in path order:
 * each entry only looks up the nodes below the prefix it shares with the
 * previous one. Per-sample walks did a hash lookup per frame per sample,
 * a cache miss each on big trees.
 */
#include "profile/calltree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

/* Stacks are capped far below this (perf_event_max_stack is 127). */
#define PATH_MAX_DEPTH 1024

struct name_key {
	const char *name;
	uint32_t kind;
};

static bool name_eq(uint32_t id, const void *key, void *ctx)
{
	const struct calltree *t = ctx;
	const struct name_key *k = key;

	return t->names[id].kind == k->kind &&
	       !strcmp(t->names[id].name, k->name);
}

struct child_key {
	uint32_t parent, name;
};

static bool child_eq(uint32_t id, const void *key, void *ctx)
{
	const struct calltree *t = ctx;
	const struct child_key *k = key;

	return t->nodes[id].parent == k->parent && t->nodes[id].name == k->name;
}

/* Grows an array of 'size'-byte items to at least 'need' (checked). */
static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 256;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / size)
		return -ENOMEM;
	p = realloc(*arr, n * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

static int grow_fn(struct calltree *t, size_t need)
{
	size_t cap = t->cap_fn ? t->cap_fn : 256;
	uint64_t *p64;
	uint32_t *p32;

	if (need <= t->cap_fn)
		return 0;
	while (cap < need)
		cap *= 2;
	for (int s = 0; s < 2; s++) {
		p64 = realloc(t->fn_self[s], cap * sizeof(uint64_t));
		if (!p64)
			return -ENOMEM;
		t->fn_self[s] = p64;
		memset(p64 + t->cap_fn, 0, (cap - t->cap_fn) * sizeof(*p64));
		p64 = realloc(t->fn_total[s], cap * sizeof(uint64_t));
		if (!p64)
			return -ENOMEM;
		t->fn_total[s] = p64;
		memset(p64 + t->cap_fn, 0, (cap - t->cap_fn) * sizeof(*p64));
	}
	p32 = realloc(t->fn_seen, cap * sizeof(uint32_t));
	if (!p32)
		return -ENOMEM;
	t->fn_seen = p32;
	memset(p32 + t->cap_fn, 0, (cap - t->cap_fn) * sizeof(*p32));
	t->cap_fn = cap;
	return 0;
}

uint32_t calltree__name(struct calltree *t, const char *name, uint32_t kind,
			const char *file, uint32_t line)
{
	struct name_key key = {name, kind};
	uint32_t h = hash__bytes(name, strlen(name), kind), id;
	struct calltree_name *n;
	char *nm, *fl;

	if (!idxset__find(&t->name_set, h, &key, name_eq, t, &id))
		return id;
	if (t->nr_names >= CALLTREE_NONE - 1 ||
	    grow((void **)&t->names, &t->cap_names, t->nr_names + 1,
		 sizeof(*t->names)) ||
	    grow_fn(t, t->nr_names + 1))
		return CALLTREE_NONE;
	nm = strdup(name);
	if (file && *file) {
		size_t len = strlen(file) + 16;

		fl = malloc(len);
		if (fl && line)
			snprintf(fl, len, "%s:%u", file, line);
		else if (fl)
			snprintf(fl, len, "%s", file);
	} else {
		fl = strdup("");
	}
	if (!nm || !fl ||
	    idxset__try_insert(&t->name_set, h, (uint32_t)t->nr_names)) {
		free(nm);
		free(fl);
		return CALLTREE_NONE;
	}
	id = (uint32_t)t->nr_names++;
	n = &t->names[id];
	n->name = nm;
	n->file = fl;
	n->sysname = n->module = NULL;
	n->kind = kind;
	return id;
}

/*
 * A full 64-bit mix: the set probes linearly from the low bits, and
 * (parent, name) pairs are small dense integers that a byte-wise hash
 * spreads poorly there, which made long probe chains on big trees.
 */
static uint32_t child_hash(uint32_t parent, uint32_t name)
{
	return (uint32_t)hash__mix64(((uint64_t)parent << 32) | name);
}

static uint32_t child(struct calltree *t, uint32_t parent, uint32_t name)
{
	struct child_key key = {parent, name};
	uint32_t h = child_hash(parent, name), id;
	struct calltree_node *n;

	if (!idxset__find(&t->child_set, h, &key, child_eq, t, &id))
		return id;
	if (t->nr_nodes >= CALLTREE_NONE - 1 ||
	    grow((void **)&t->nodes, &t->cap_nodes, t->nr_nodes + 1,
		 sizeof(*t->nodes)) ||
	    idxset__try_insert(&t->child_set, h, (uint32_t)t->nr_nodes))
		return CALLTREE_NONE;
	id = (uint32_t)t->nr_nodes++;
	n = &t->nodes[id];
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->parent = parent;
	n->depth = t->nodes[parent].depth + 1;
	if (n->depth > t->max_depth)
		t->max_depth = n->depth;
	n->first_child = CALLTREE_NONE;
	n->next_sibling = t->nodes[parent].first_child;
	t->nodes[parent].first_child = id;
	return id;
}

void calltree__init(struct calltree *t, const struct calltree_opts *opts)
{
	memset(t, 0, sizeof(*t));
	if (opts)
		t->opts = *opts;
	if (!t->opts.root)
		t->opts.root = "total";
	if (!t->opts.unknown_process)
		t->opts.unknown_process = "[unknown process]";
	t->diff = t->opts.diff;
	idxset__init(&t->name_set);
	idxset__init(&t->child_set);
	t->cap_nodes = 1024;
	t->nodes = xcalloc(t->cap_nodes, sizeof(*t->nodes));
	t->nr_nodes = 1;
	t->nodes[0].first_child = CALLTREE_NONE;
	t->nodes[0].next_sibling = CALLTREE_NONE;
	t->nodes[0].parent = CALLTREE_NONE;
	t->nodes[0].name =
	    calltree__name(t, t->opts.root, FRAME_SPECIAL, NULL, 0);
	if (t->nodes[0].name == CALLTREE_NONE)
		xalloc__die(strlen(t->opts.root));
}

void calltree__release(struct calltree *t)
{
	for (size_t i = 0; i < t->nr_names; i++) {
		free(t->names[i].name);
		free(t->names[i].file);
		free(t->names[i].sysname);
		free(t->names[i].module);
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
static uint32_t frame_name(struct calltree *t, const struct profile *p,
			   uint32_t frame)
{
	const struct frame *f = profile__frame(p, frame);
	const char *name = profile__str(p, f->name);
	uint32_t kind = f->kind < FRAME_KIND_MAX ? f->kind : FRAME_USER;
	const char *sys = profile__str(p, f->sysname);
	const char *mod = profile__str(p, f->module);
	uint32_t id;

	if (!*name)
		name = "[unknown]";
	if (t->opts.by_name)
		kind = FRAME_USER;
	id = calltree__name(t, name, kind, profile__str(p, f->file), f->line);
	if (id == CALLTREE_NONE)
		return id;
	/* Tooltips: names merged under one keep the first frame's details
	 * (out of memory, they are just left out). */
	if (*sys && !t->names[id].sysname)
		t->names[id].sysname = strdup(sys);
	if (*mod && !t->names[id].module) {
		const char *slash = strrchr(mod, '/');

		t->names[id].module = strdup(slash ? slash + 1 : mod);
	}
	return id;
}

/* One distinct (process, stack) of the input, with its summed count. */
struct entry {
	uint32_t proc; /* tree name of the process, or CALLTREE_NONE */
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

/* 1 when a frame of the stack matches, 0 if none, or match's error. */
static int stack_matches(const struct profile *p, uint32_t stack,
			 const struct calltree_add_opts *opts, int8_t *fmatch)
{
	size_t depth;
	const uint32_t *fr = profile__stack(p, stack, &depth);

	for (size_t d = 0; d < depth; d++) {
		uint32_t f = fr[d];

		if (!fmatch[f]) {
			const char *nm =
			    profile__str(p, profile__frame(p, f)->name);
			int r = opts->match(opts->match_ctx, nm);

			if (r < 0)
				return r;
			fmatch[f] = r ? 1 : -1;
		}
		if (fmatch[f] > 0)
			return 1;
	}
	return 0;
}

/* Collects the distinct (process, stack) entries of 'p' with counts. */
static int collect(struct calltree *t, const struct profile *p,
		   const struct calltree_add_opts *opts, struct entry **out,
		   size_t *nr_out)
{
	size_t nr, ne = 0, nr_series = profile__nr_series(p);
	const struct sample *samples = profile__samples(p, &nr);
	bool with_proc = opts && opts->with_process;
	bool re = opts && opts->match;
	uint32_t *snames = NULL;
	int8_t *fmatch = NULL;
	uint64_t *per_stack = NULL;
	struct entry *ents = malloc((nr + 1) * sizeof(*ents));
	int err = -ENOMEM;

	if (!ents)
		goto out;
	if (re && !(fmatch = calloc(profile__nr_frames(p) + 1, 1)))
		goto out;
	if (with_proc) {
		snames = malloc((nr_series + 1) * sizeof(*snames));
		if (!snames)
			goto out;
		memset(snames, 0xff, (nr_series + 1) * sizeof(*snames));
	} else {
		/* Without processes, a stack is the key: sum per stack. */
		per_stack =
		    calloc(profile__nr_stacks(p) + 1, sizeof(*per_stack));
		if (!per_stack)
			goto out;
	}
	for (size_t i = 0; i < nr; i++) {
		const struct sample *s = &samples[i];
		uint32_t proc = CALLTREE_NONE;

		if (!s->count)
			continue;
		if (re) {
			int r = stack_matches(p, s->stack, opts, fmatch);

			if (r < 0) {
				err = r;
				goto out;
			}
			if (!r)
				continue;
		}
		if (!with_proc) {
			if (!per_stack[s->stack]++)
				ents[ne++] =
				    (struct entry){CALLTREE_NONE, s->stack, 0};
			per_stack[s->stack] += s->count - 1;
			continue;
		}
		if (snames[s->series] == CALLTREE_NONE) {
			const char *comm =
			    profile__series_label(p, s->series, LABEL_COMM);

			snames[s->series] = calltree__name(
			    t, comm && *comm ? comm : t->opts.unknown_process,
			    CALLTREE_KIND_PROCESS, NULL, 0);
			if (snames[s->series] == CALLTREE_NONE)
				goto out;
		}
		proc = snames[s->series];
		ents[ne++] = (struct entry){proc, s->stack, s->count};
	}
	if (with_proc) {
		/* Merge equal (process, stack): pids of one program
		 * collapse. */
		size_t w = 0;

		qsort(ents, ne, sizeof(*ents), cmp_entry_id);
		for (size_t i = 0; i < ne; i++) {
			if (w && ents[w - 1].proc == ents[i].proc &&
			    ents[w - 1].stack == ents[i].stack) {
				ents[w - 1].count += ents[i].count;
				continue;
			}
			ents[w++] = ents[i];
		}
		ne = w;
	} else {
		for (size_t i = 0; i < ne; i++)
			ents[i].count = per_stack[ents[i].stack];
	}
	err = 0;
out:
	free(snames);
	free(fmatch);
	free(per_stack);
	if (err) {
		free(ents);
		ents = NULL;
		ne = 0;
	}
	*out = ents;
	*nr_out = ne;
	return err;
}

int calltree__add(struct calltree *t, const struct profile *p, int side,
		  const struct calltree_add_opts *opts)
{
	size_t nr_frames = profile__nr_frames(p), ne = 0, prev_len = 0;
	uint32_t *fnames = NULL, path[PATH_MAX_DEPTH + 2];
	uint32_t names[PATH_MAX_DEPTH + 2], prev_names[PATH_MAX_DEPTH + 2];
	struct entry *ents = NULL;
	bool nodes = !t->opts.functions_only;
	int err = -ENOMEM;

	fnames = malloc((nr_frames + 1) * sizeof(*fnames));
	if (!fnames)
		goto out;
	for (size_t f = 0; f < nr_frames; f++) {
		fnames[f] = frame_name(t, p, (uint32_t)f);
		if (fnames[f] == CALLTREE_NONE)
			goto out;
	}
	err = collect(t, p, opts, &ents, &ne);
	if (err)
		goto out;
	if (nodes) {
		struct entry_ctx ec = {p, fnames};

		qsort_r(ents, ne, sizeof(*ents), cmp_entry_path, &ec);
	}

	path[0] = 0;
	for (size_t i = 0; i < ne; i++) {
		const struct entry *e = &ents[i];
		size_t depth, len = 0, keep = 0;
		const uint32_t *stack = profile__stack(p, e->stack, &depth);
		uint32_t leaf = CALLTREE_NONE;

		if (depth > PATH_MAX_DEPTH)
			depth = PATH_MAX_DEPTH; /* never in practice: kernels
						   cap stacks at 127 */
		if (e->proc != CALLTREE_NONE)
			names[len++] = e->proc;
		for (size_t d = 0; d < depth; d++)
			names[len++] = fnames[stack[d]];
		t->total[side] += e->count;
		t->nodes[0].total[side] += e->count;
		if (nodes) {
			while (keep < len && keep < prev_len &&
			       names[keep] == prev_names[keep])
				keep++;
			for (size_t d = keep; d < len; d++) {
				path[d + 1] = child(t, path[d], names[d]);
				if (path[d + 1] == CALLTREE_NONE) {
					err = -ENOMEM;
					goto out;
				}
			}
			memcpy(prev_names, names, len * sizeof(*names));
			prev_len = len;
			for (size_t d = 1; d <= len; d++)
				t->nodes[path[d]].total[side] += e->count;
			t->nodes[path[len]].self[side] += e->count;
		}

		if (++t->stamp == 0) { /* wrapped: forget old stamps */
			memset(t->fn_seen, 0, t->cap_fn * sizeof(uint32_t));
			t->stamp = 1;
		}
		for (size_t d = e->proc != CALLTREE_NONE ? 1 : 0; d < len;
		     d++) {
			uint32_t nm = names[d];

			if (t->fn_seen[nm] != t->stamp) {
				t->fn_seen[nm] = t->stamp;
				t->fn_total[side][nm] += e->count;
			}
			leaf = nm;
		}
		if (leaf != CALLTREE_NONE)
			t->fn_self[side][leaf] += e->count;
	}
	err = 0;
out:
	free(fnames);
	free(ents);
	return err;
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

/* Nodes the tree would have if nodes narrower than 'min' merge. */
static size_t count_kept(const struct calltree *t, uint64_t min,
			 uint8_t *has_other)
{
	size_t kept = 1, others = 0;

	memset(has_other, 0, t->nr_nodes);
	for (size_t i = 1; i < t->nr_nodes; i++) {
		const struct calltree_node *n = &t->nodes[i];

		if (calltree__width(t, n) >= min) {
			kept++;
		} else if (calltree__width(t, &t->nodes[n->parent]) >= min &&
			   !has_other[n->parent]) {
			has_other[n->parent] = 1;
			others++;
		}
	}
	return kept + others;
}

void calltree__limit(struct calltree *t, size_t max_nodes)
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
		widths[i] = calltree__width(t, &t->nodes[i + 1]);
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
		const struct calltree_node *nd = &t->nodes[i];
		uint64_t w = calltree__width(t, nd);

		if (w >= t->min_total) {
			t->out_nodes++;
			continue;
		}
		t->merged_nodes++;
		if (calltree__width(t, &t->nodes[nd->parent]) >= t->min_total)
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

static int cmp_child_name(const void *a, const void *b, void *ctx)
{
	const struct calltree *t = ctx;
	const struct calltree_name *x =
	    &t->names[t->nodes[*(const uint32_t *)a].name];
	const struct calltree_name *y =
	    &t->names[t->nodes[*(const uint32_t *)b].name];
	int c = strcmp(x->name, y->name);

	return c ? c : (int)x->kind - (int)y->kind;
}

size_t calltree__children(const struct calltree *t, uint32_t node,
			  uint32_t *kids,
			  int (*cmp)(const void *, const void *, void *),
			  void *ctx)
{
	size_t nk = 0;

	for (uint32_t c = t->nodes[node].first_child; c != CALLTREE_NONE;
	     c = t->nodes[c].next_sibling)
		kids[nk++] = c;
	if (!cmp) {
		cmp = cmp_child_name;
		ctx = (void *)t;
	}
	qsort_r(kids, nk, sizeof(*kids), cmp, ctx);
	return nk;
}
