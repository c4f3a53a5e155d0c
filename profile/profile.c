// SPDX-License-Identifier: MIT
#include "profile/profile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/escape.h"
#include "lib/idxset.h"
#include "lib/xalloc.h"

/* A growable array of fixed-size elements. */
struct vec {
	void *data;
	size_t len, cap, elem;
};

static void profile__set_oom(struct profile *p);

/* Returns false when out of memory (only in a checked profile: others
 * abort), and then adds nothing. */
static bool vec__push(struct profile *p, struct vec *v, const void *elem,
		      size_t count)
{
	/* Nothing to add (the empty string, an empty stack): memcpy with a
	 * NULL pointer is undefined even for 0 bytes, UBSan says so. */
	if (!count)
		return true;
	if (v->len + count > v->cap) {
		size_t cap = v->cap ? v->cap : 16;
		void *data;

		while (cap < v->len + count)
			cap *= 2;
		data = profile__checked(p)
			   ? (cap > SIZE_MAX / v->elem
				  ? NULL
				  : realloc(v->data, cap * v->elem))
			   : xrealloc(v->data, cap * v->elem);
		if (!data) {
			profile__set_oom(p);
			return false;
		}
		v->data = data;
		v->cap = cap;
	}
	void *dst = (char *)v->data + v->len * v->elem;
	if (elem)
		memcpy(dst, elem, count * v->elem);
	v->len += count;
	return true;
}

struct span {
	uint32_t off, len;
};

struct profile {
	struct vec chars;   /* string bytes, each NUL terminated */
	struct vec strings; /* struct span into chars */
	struct idxset string_set;

	struct vec frames; /* struct frame */
	struct idxset frame_set;

	struct vec stack_ids; /* frame ids of all stacks, concatenated */
	struct vec stacks;    /* struct span into stack_ids */
	struct idxset stack_set;

	struct vec labels; /* struct label of all series, concatenated */
	struct vec series; /* struct span into labels */
	struct idxset series_set;

	struct vec samples; /* struct sample */
	uint64_t total;
	struct profile_meta meta;
	bool checked; /* allocation failures set 'oom' instead of aborting */
	bool oom;
};

bool profile__checked(const struct profile *p)
{
	return p->checked;
}

void profile__set_checked(struct profile *p)
{
	p->checked = true;
}

bool profile__oom(const struct profile *p)
{
	return p->oom;
}

static void profile__set_oom(struct profile *p)
{
	p->oom = true;
}

/* idxset__insert, or a failure remembered in a checked profile. */
static void set_insert(struct profile *p, struct idxset *set, uint32_t hash,
		       uint32_t id)
{
	if (!p->checked)
		idxset__insert(set, hash, id);
	else if (idxset__try_insert(set, hash, id))
		p->oom = true;
}

static void vec__init(struct vec *v, size_t elem)
{
	memset(v, 0, sizeof(*v));
	v->elem = elem;
}

struct profile *profile__new(void)
{
	struct profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	vec__init(&p->chars, 1);
	vec__init(&p->strings, sizeof(struct span));
	vec__init(&p->frames, sizeof(struct frame));
	vec__init(&p->stack_ids, sizeof(uint32_t));
	vec__init(&p->stacks, sizeof(struct span));
	vec__init(&p->labels, sizeof(struct label));
	vec__init(&p->series, sizeof(struct span));
	vec__init(&p->samples, sizeof(struct sample));
	idxset__init(&p->string_set);
	idxset__init(&p->frame_set);
	idxset__init(&p->stack_set);
	idxset__init(&p->series_set);
	profile__intern(p, "");
	return p;
}

void profile__free(struct profile *p)
{
	if (!p)
		return;
	free(p->chars.data);
	free(p->strings.data);
	free(p->frames.data);
	free(p->stack_ids.data);
	free(p->stacks.data);
	free(p->labels.data);
	free(p->series.data);
	free(p->samples.data);
	idxset__release(&p->string_set);
	idxset__release(&p->frame_set);
	idxset__release(&p->stack_set);
	idxset__release(&p->series_set);
	free(p);
}

/* ---- strings ---- */

struct bytes_key {
	const void *data;
	size_t len;
};

static bool string_eq(uint32_t id, const void *key, void *ctx)
{
	const struct profile *p = ctx;
	const struct bytes_key *k = key;
	const struct span *s = (const struct span *)p->strings.data + id;

	return s->len == k->len &&
	       !memcmp((const char *)p->chars.data + s->off, k->data, k->len);
}

uint32_t profile__intern_len(struct profile *p, const char *s, size_t len)
{
	struct bytes_key key = {s, len};
	uint32_t hash = hash__bytes(s, len, 0), id;

	if (!idxset__find(&p->string_set, hash, &key, string_eq, p, &id))
		return id;
	struct span span = {(uint32_t)p->chars.len, (uint32_t)len};
	size_t chars = p->chars.len;
	if (!vec__push(p, &p->chars, s, len) ||
	    !vec__push(p, &p->chars, "", 1) ||
	    !vec__push(p, &p->strings, &span, 1)) {
		p->chars.len = chars;
		return 0; /* out of memory: "" */
	}
	id = (uint32_t)p->strings.len - 1;
	set_insert(p, &p->string_set, hash, id);
	return id;
}

uint32_t profile__intern(struct profile *p, const char *s)
{
	return profile__intern_len(p, s, strlen(s));
}

const char *profile__str(const struct profile *p, uint32_t id)
{
	if (id >= p->strings.len)
		return "";
	return (const char *)p->chars.data +
	       ((const struct span *)p->strings.data)[id].off;
}

size_t profile__nr_strings(const struct profile *p)
{
	return p->strings.len;
}

/* ---- frames ---- */

static bool frame_eq(uint32_t id, const void *key, void *ctx)
{
	const struct profile *p = ctx;

	return !memcmp((const struct frame *)p->frames.data + id, key,
		       sizeof(struct frame));
}

uint32_t profile__add_frame(struct profile *p, const struct frame *f)
{
	struct frame copy = *f;
	uint32_t hash, id;

	copy.pad_ = 0;

	hash = hash__bytes(&copy, sizeof(copy), 1);
	if (!idxset__find(&p->frame_set, hash, &copy, frame_eq, p, &id))
		return id;
	id = (uint32_t)p->frames.len;
	if (!vec__push(p, &p->frames, &copy, 1))
		return 0; /* out of memory: see profile__oom() */
	set_insert(p, &p->frame_set, hash, id);
	return id;
}

uint32_t profile__add_named_frame(struct profile *p, const char *name,
				  enum frame_kind kind)
{
	struct frame f = {.name = profile__intern(p, name), .kind = kind};

	return profile__add_frame(p, &f);
}

const struct frame *profile__frame(const struct profile *p, uint32_t id)
{
	static const struct frame none;

	/* Only a profile that ran out of memory hands out unknown ids. */
	if (id >= p->frames.len)
		return &none;
	return (const struct frame *)p->frames.data + id;
}

size_t profile__nr_frames(const struct profile *p)
{
	return p->frames.len;
}

/* ---- stacks ---- */

static bool ids_eq(const struct vec *spans, const struct vec *ids, uint32_t id,
		   const struct bytes_key *k)
{
	const struct span *s = (const struct span *)spans->data + id;

	/* Empty arrays may have NULL data: never memcmp them. */
	return s->len * ids->elem == k->len &&
	       (!k->len || !memcmp((const char *)ids->data + s->off * ids->elem,
				   k->data, k->len));
}

static bool stack_eq(uint32_t id, const void *key, void *ctx)
{
	const struct profile *p = ctx;

	return ids_eq(&p->stacks, &p->stack_ids, id, key);
}

uint32_t profile__add_stack(struct profile *p, const uint32_t *frames,
			    size_t depth)
{
	struct bytes_key key = {frames, depth * sizeof(*frames)};
	uint32_t hash = hash__bytes(key.data, key.len, 2), id;

	if (!idxset__find(&p->stack_set, hash, &key, stack_eq, p, &id))
		return id;
	struct span span = {(uint32_t)p->stack_ids.len, (uint32_t)depth};
	size_t nids = p->stack_ids.len;
	if (!vec__push(p, &p->stack_ids, frames, depth) ||
	    !vec__push(p, &p->stacks, &span, 1)) {
		p->stack_ids.len = nids;
		return 0; /* out of memory: see profile__oom() */
	}
	id = (uint32_t)p->stacks.len - 1;
	set_insert(p, &p->stack_set, hash, id);
	return id;
}

const uint32_t *profile__stack(const struct profile *p, uint32_t id,
			       size_t *depth)
{
	if (id >= p->stacks.len) { /* out of memory: an empty stack */
		*depth = 0;
		return NULL;
	}
	const struct span *s = (const struct span *)p->stacks.data + id;

	*depth = s->len;
	return (const uint32_t *)p->stack_ids.data + s->off;
}

size_t profile__nr_stacks(const struct profile *p)
{
	return p->stacks.len;
}

/* ---- series ---- */

static bool series_eq(uint32_t id, const void *key, void *ctx)
{
	const struct profile *p = ctx;

	return ids_eq(&p->series, &p->labels, id, key);
}

static int label_cmp(const struct profile *p, const struct label *x,
		     const struct label *y)
{
	return strcmp(profile__str(p, x->key), profile__str(p, y->key));
}

uint32_t profile__add_series(struct profile *p, const struct label *labels,
			     size_t n)
{
	struct label sorted[n ? n : 1];
	struct bytes_key key = {sorted, n * sizeof(*sorted)};
	uint32_t hash, id;

	memcpy(sorted, labels, n * sizeof(*labels));
	/* Sorting by key keeps the series identity independent of order. */
	for (size_t i = 1; i < n; i++) {
		struct label cur = sorted[i];
		size_t j = i;

		while (j > 0 && label_cmp(p, &sorted[j - 1], &cur) > 0) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = cur;
	}
	hash = hash__bytes(key.data, key.len, 3);
	if (!idxset__find(&p->series_set, hash, &key, series_eq, p, &id))
		return id;
	struct span span = {(uint32_t)p->labels.len, (uint32_t)n};
	size_t nlabels = p->labels.len;
	if (!vec__push(p, &p->labels, sorted, n) ||
	    !vec__push(p, &p->series, &span, 1)) {
		p->labels.len = nlabels;
		return 0; /* out of memory: see profile__oom() */
	}
	id = (uint32_t)p->series.len - 1;
	set_insert(p, &p->series_set, hash, id);
	return id;
}

const struct label *profile__series(const struct profile *p, uint32_t id,
				    size_t *n)
{
	if (id >= p->series.len) { /* out of memory: no labels */
		*n = 0;
		return NULL;
	}
	const struct span *s = (const struct span *)p->series.data + id;

	*n = s->len;
	return (const struct label *)p->labels.data + s->off;
}

const char *profile__series_label(const struct profile *p, uint32_t series,
				  const char *key)
{
	size_t n;
	const struct label *l = profile__series(p, series, &n);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(profile__str(p, l[i].key), key))
			return profile__str(p, l[i].value);
	return NULL;
}

size_t profile__nr_series(const struct profile *p)
{
	return p->series.len;
}

static size_t vec_bytes(const struct vec *v)
{
	return v->cap * v->elem;
}

static size_t set_bytes(const struct idxset *s)
{
	return s->cap * sizeof(*s->slots);
}

size_t profile__mem_bytes(const struct profile *p)
{
	return sizeof(*p) + vec_bytes(&p->chars) + vec_bytes(&p->strings) +
	       set_bytes(&p->string_set) + vec_bytes(&p->frames) +
	       set_bytes(&p->frame_set) + vec_bytes(&p->stack_ids) +
	       vec_bytes(&p->stacks) + set_bytes(&p->stack_set) +
	       vec_bytes(&p->labels) + vec_bytes(&p->series) +
	       set_bytes(&p->series_set) + vec_bytes(&p->samples);
}

/* ---- samples ---- */

void profile__add_sample(struct profile *p, uint32_t series, uint32_t stack,
			 uint64_t time_ns, uint64_t count)
{
	struct sample s = {series, stack, time_ns, count};

	if (vec__push(p, &p->samples, &s, 1))
		p->total += count;
}

const struct sample *profile__samples(const struct profile *p, size_t *n)
{
	*n = p->samples.len;
	return p->samples.data;
}

uint64_t profile__total(const struct profile *p)
{
	return p->total;
}

static uint64_t bucket_of(uint64_t t, uint64_t bucket_ns)
{
	return bucket_ns ? t / bucket_ns : 0;
}

static int sample_cmp(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return 0;
}

void profile__compact(struct profile *p, uint64_t bucket_ns)
{
	struct sample *s = p->samples.data;
	size_t n = p->samples.len, out = 0;

	if (!n)
		return;
	qsort(s, n, sizeof(*s), sample_cmp);
	for (size_t i = 1; i < n; i++) {
		struct sample *last = &s[out];

		if (s[i].series == last->series && s[i].stack == last->stack &&
		    bucket_of(s[i].time_ns, bucket_ns) ==
			bucket_of(last->time_ns, bucket_ns))
			last->count += s[i].count;
		else
			s[++out] = s[i];
	}
	p->samples.len = out + 1;
}

/* The series labels of 'src' series 'id' in 'dst', with the relabelling
 * keys[]/vals[] (already in 'dst') replacing labels of the same key. */
static uint32_t copy_series(struct profile *dst, const struct profile *src,
			    uint32_t id, const uint32_t *keys,
			    const uint32_t *vals, size_t nr, struct label *copy)
{
	size_t n, m = 0;
	const struct label *l = profile__series(src, id, &n);

	/* Relabelling wins over the profile's own labels; among repeated
	 * keys the last one wins. */
	for (size_t k = 0; k < nr; k++) {
		bool later = false;

		for (size_t k2 = k + 1; k2 < nr; k2++)
			later |= keys[k2] == keys[k];
		if (!later)
			copy[m++] = (struct label){keys[k], vals[k]};
	}
	for (size_t j = 0; j < n; j++) {
		uint32_t key =
		    profile__intern(dst, profile__str(src, l[j].key));
		bool replaced = false;

		for (size_t k = 0; k < nr; k++)
			replaced |= key == keys[k];
		if (!replaced)
			copy[m++] = (struct label){
			    key, profile__intern(
				     dst, profile__str(src, l[j].value))};
	}
	return profile__add_series(dst, copy, m);
}

int profile__merge_relabel(struct profile *dst, const struct profile *src,
			   const struct profile_relabel *rl)
{
	size_t nf = profile__nr_frames(src), nsr = profile__nr_series(src);
	size_t nst = profile__nr_stacks(src), nr = rl ? rl->nr_labels : 0, n;
	size_t maxl = 1, maxd = 1;
	uint32_t *fmap, *smap, *stmap, *keys, *vals, *ids = NULL;
	struct label *lab = NULL;
	int err = -ENOMEM;

	for (size_t i = 0; i < nsr; i++) {
		profile__series(src, (uint32_t)i, &n);
		maxl = n > maxl ? n : maxl;
	}
	for (size_t i = 0; i < nst; i++) {
		profile__stack(src, (uint32_t)i, &n);
		maxd = n > maxd ? n : maxd;
	}
	fmap = calloc(nf + 1, sizeof(*fmap));
	smap = calloc(nsr + 1, sizeof(*smap));
	stmap = calloc(nst + 1, sizeof(*stmap));
	keys = calloc(nr + 1, sizeof(*keys));
	vals = calloc(nr + 1, sizeof(*vals));
	ids = calloc(maxd, sizeof(*ids));
	lab = calloc(maxl + nr, sizeof(*lab));
	if (!fmap || !smap || !stmap || !keys || !vals || !ids || !lab)
		goto out;
	for (size_t i = 0; i < nr; i++) {
		const char *kv = rl->labels[i], *eq = strchr(kv, '=');

		if (!eq || eq == kv || !escape__utf8_valid(kv, strlen(kv))) {
			err = -EINVAL;
			goto out;
		}
		keys[i] = profile__intern_len(dst, kv, (size_t)(eq - kv));
		vals[i] = profile__intern(dst, eq + 1);
	}
	for (size_t i = 0; i < nf; i++) {
		struct frame f = *profile__frame(src, (uint32_t)i);

		f.name = profile__intern(dst, profile__str(src, f.name));
		f.file = profile__intern(dst, profile__str(src, f.file));
		f.module = profile__intern(dst, profile__str(src, f.module));
		f.sysname = profile__intern(dst, profile__str(src, f.sysname));
		f.build_id =
		    profile__intern(dst, profile__str(src, f.build_id));
		fmap[i] = profile__add_frame(dst, &f);
	}
	for (size_t i = 0; i < nsr; i++)
		smap[i] =
		    copy_series(dst, src, (uint32_t)i, keys, vals, nr, lab);
	for (size_t i = 0; i < nst; i++) {
		size_t depth;
		const uint32_t *fr = profile__stack(src, (uint32_t)i, &depth);

		for (size_t j = 0; j < depth; j++)
			ids[j] = fmap[fr[j]];
		stmap[i] = profile__add_stack(dst, ids, depth);
	}
	const struct sample *s = profile__samples(src, &n);
	for (size_t i = 0; i < n; i++)
		profile__add_sample(
		    dst, smap[s[i].series], stmap[s[i].stack],
		    rl && rl->time_ns ? rl->time_ns : s[i].time_ns, s[i].count);
	err = dst->oom ? -ENOMEM : 0;
out:
	if (err == -ENOMEM && !dst->checked)
		xalloc__die(0);
	free(fmap);
	free(smap);
	free(stmap);
	free(keys);
	free(vals);
	free(ids);
	free(lab);
	return err;
}

int profile__merge(struct profile *dst, const struct profile *src)
{
	return profile__merge_relabel(dst, src, NULL);
}

struct profile_meta *profile__meta(struct profile *p)
{
	return &p->meta;
}

const struct profile_meta *profile__meta_const(const struct profile *p)
{
	return &p->meta;
}

size_t profile__frame_folded_name(const struct profile *p, uint32_t frame,
				  char *buf, size_t size)
{
	static const char *const suffix[FRAME_KIND_MAX] = {
	    [FRAME_KERNEL] = "_[k]",
	    [FRAME_INLINED] = "_[i]",
	    [FRAME_JIT] = "_[j]",
	};
	const struct frame *f = profile__frame(p, frame);
	const char *sfx =
	    f->kind < FRAME_KIND_MAX && suffix[f->kind] ? suffix[f->kind] : "";
	int n = snprintf(buf, size, "%s%s", profile__str(p, f->name), sfx);

	return n < 0 ? 0 : (size_t)n;
}
