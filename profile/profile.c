// SPDX-License-Identifier: MIT
#include "profile/profile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/idxset.h"
#include "lib/xalloc.h"

/* A growable array of fixed-size elements. */
struct vec {
	void *data;
	size_t len, cap, elem;
};

static void *vec__push(struct vec *v, const void *elem, size_t count)
{
	/* Nothing to add (the empty string, an empty stack): memcpy with a
	 * NULL pointer is undefined even for 0 bytes, UBSan says so. */
	if (!count)
		return v->data;
	if (v->len + count > v->cap) {
		size_t cap = v->cap ? v->cap : 16;

		while (cap < v->len + count)
			cap *= 2;
		v->data = xrealloc(v->data, cap * v->elem);
		v->cap = cap;
	}
	void *dst = (char *)v->data + v->len * v->elem;
	if (elem)
		memcpy(dst, elem, count * v->elem);
	v->len += count;
	return dst;
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
};

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
	vec__push(&p->chars, s, len);
	vec__push(&p->chars, "", 1);
	id = (uint32_t)p->strings.len;
	vec__push(&p->strings, &span, 1);
	idxset__insert(&p->string_set, hash, id);
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

	hash = hash__bytes(&copy, sizeof(copy), 1);
	if (!idxset__find(&p->frame_set, hash, &copy, frame_eq, p, &id))
		return id;
	id = (uint32_t)p->frames.len;
	vec__push(&p->frames, &copy, 1);
	idxset__insert(&p->frame_set, hash, id);
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
	vec__push(&p->stack_ids, frames, depth);
	id = (uint32_t)p->stacks.len;
	vec__push(&p->stacks, &span, 1);
	idxset__insert(&p->stack_set, hash, id);
	return id;
}

const uint32_t *profile__stack(const struct profile *p, uint32_t id,
			       size_t *depth)
{
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
	vec__push(&p->labels, sorted, n);
	id = (uint32_t)p->series.len;
	vec__push(&p->series, &span, 1);
	idxset__insert(&p->series_set, hash, id);
	return id;
}

const struct label *profile__series(const struct profile *p, uint32_t id,
				    size_t *n)
{
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

/* ---- samples ---- */

void profile__add_sample(struct profile *p, uint32_t series, uint32_t stack,
			 uint64_t time_ns, uint64_t count)
{
	struct sample s = {series, stack, time_ns, count};

	vec__push(&p->samples, &s, 1);
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

void profile__merge(struct profile *dst, const struct profile *src)
{
	size_t nf = profile__nr_frames(src), nsr = profile__nr_series(src);
	uint32_t *fmap = xcalloc(nf, sizeof(*fmap));
	uint32_t *smap = xcalloc(nsr, sizeof(*smap));
	uint32_t *stmap = xcalloc(profile__nr_stacks(src), sizeof(*stmap));
	size_t n;

	for (size_t i = 0; i < nf; i++) {
		struct frame f = *profile__frame(src, (uint32_t)i);

		f.name = profile__intern(dst, profile__str(src, f.name));
		f.file = profile__intern(dst, profile__str(src, f.file));
		f.module = profile__intern(dst, profile__str(src, f.module));
		f.sysname = profile__intern(dst, profile__str(src, f.sysname));
		fmap[i] = profile__add_frame(dst, &f);
	}
	for (size_t i = 0; i < nsr; i++) {
		const struct label *l = profile__series(src, (uint32_t)i, &n);
		struct label copy[n ? n : 1];

		for (size_t j = 0; j < n; j++) {
			copy[j].key =
			    profile__intern(dst, profile__str(src, l[j].key));
			copy[j].value =
			    profile__intern(dst, profile__str(src, l[j].value));
		}
		smap[i] = profile__add_series(dst, copy, n);
	}
	for (size_t i = 0; i < profile__nr_stacks(src); i++) {
		size_t depth;
		const uint32_t *ids = profile__stack(src, (uint32_t)i, &depth);
		uint32_t *copy = xmalloc((depth ? depth : 1) * sizeof(*copy));

		for (size_t j = 0; j < depth; j++)
			copy[j] = fmap[ids[j]];
		stmap[i] = profile__add_stack(dst, copy, depth);
		free(copy);
	}
	const struct sample *s = profile__samples(src, &n);
	for (size_t i = 0; i < n; i++)
		profile__add_sample(dst, smap[s[i].series], stmap[s[i].stack],
				    s[i].time_ns, s[i].count);
	free(fmap);
	free(smap);
	free(stmap);
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
