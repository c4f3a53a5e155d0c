// SPDX-License-Identifier: MIT
/*
 * Folded stacks (Brendan Gregg's FlameGraph format). One line per distinct
 * stack: the process name first, then frames root to leaf, then a count.
 * Lines are sorted by count, largest first, so `head` shows what matters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/escape.h"
#include "profile/format.h"
#include "lib/idxset.h"

/* One (root name, stack) pair: what a folded line is made of. */
struct folded_key {
	uint32_t root; /* string id: comm, or comm-pid */
	uint32_t stack;
	uint64_t count;
	char *text;
};

struct folded_set {
	struct folded_key *keys;
	size_t len, cap;
	struct idxset set;
	bool oom;
};

static bool key_eq(uint32_t id, const void *key, void *ctx)
{
	const struct folded_set *fs = ctx;
	const struct folded_key *k = key;

	return fs->keys[id].root == k->root && fs->keys[id].stack == k->stack;
}

static void add_count(struct folded_set *fs, uint32_t root, uint32_t stack,
		      uint64_t count)
{
	struct folded_key k = {root, stack, count, NULL};
	uint32_t pair[2] = {root, stack};
	uint32_t hash = hash__bytes(pair, sizeof(pair), 11), id;

	if (!idxset__find(&fs->set, hash, &k, key_eq, fs, &id)) {
		fs->keys[id].count += count;
		return;
	}
	if (fs->len == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 1024;
		struct folded_key *keys =
		    realloc(fs->keys, cap * sizeof(*fs->keys));

		if (!keys) {
			fs->oom = true;
			return;
		}
		fs->keys = keys;
		fs->cap = cap;
	}
	if (idxset__try_insert(&fs->set, hash, (uint32_t)fs->len)) {
		fs->oom = true;
		return;
	}
	fs->keys[fs->len++] = k;
}

static int text_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folded_key *)a)->text,
		      ((const struct folded_key *)b)->text);
}

static int count_cmp(const void *a, const void *b)
{
	const struct folded_key *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->text, y->text);
}

struct text_buf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void buf_put(struct text_buf *b, const char *s, size_t n, bool map)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->s, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	/* A ';' inside a name would split the frame. */
	for (size_t i = 0; i < n; i++)
		b->s[b->len++] = map && s[i] == ';' ? ':' : s[i];
	b->s[b->len] = 0;
}

static void text_sink(void *ctx, const char *s, size_t n)
{
	buf_put(ctx, s, n, true);
}

/*
 * Appends a name, after a ';' separator when 'separate' is set, as text
 * (valid UTF-8, no control characters: see lib/escape.h) so that kiln and
 * FlameGraph read it back; a ';' or line break inside the name becomes ':'.
 */
static void append_name(struct text_buf *b, bool separate, const char *s)
{
	size_t n = strlen(s), start = 0;

	if (separate)
		buf_put(b, ";", 1, false);
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '\n' && s[i] != '\r')
			continue;
		escape__text(text_sink, b, s + start, i - start);
		if (i < n)
			buf_put(b, ":", 1, false);
		start = i + 1;
	}
	buf_put(b, "", 0, false);
}

/* The root name of each series, comm (or comm-pid), interned in 'names'. */
static uint32_t *series_roots(const struct profile *p, struct profile *names,
			      const struct write_opts *opts)
{
	size_t n = profile__nr_series(p);
	uint32_t *roots = malloc((n ? n : 1) * sizeof(*roots));
	char buf[256];

	if (!roots)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *comm =
		    profile__series_label(p, (uint32_t)i, LABEL_COMM);
		const char *pid =
		    profile__series_label(p, (uint32_t)i, LABEL_PID);

		if (!comm || !*comm)
			comm = "[unknown]";
		if (opts && opts->with_pid && pid) {
			snprintf(buf, sizeof(buf), "%s-%s", comm, pid);
			comm = buf;
		}
		roots[i] = profile__intern(names, comm);
	}
	return roots;
}

int folded__write(const struct profile *p, const struct write_opts *opts,
		  FILE *out)
{
	struct profile *names = profile__new(); /* root names only */
	struct folded_set fs = {0};
	struct text_buf buf = {0};
	char name[1024];
	size_t n, kept = 0;
	int err = 0;

	uint32_t *roots;

	if (!names)
		return -ENOMEM;
	/* Sizes follow the profile: out of memory fails the write. */
	profile__set_checked(names);
	roots = series_roots(p, names, opts);
	const struct sample *s = profile__samples(p, &n);
	idxset__init(&fs.set);
	for (size_t i = 0; roots && i < n && !fs.oom; i++)
		add_count(&fs, roots[s[i].series], s[i].stack, s[i].count);
	free(roots);
	if (!roots || fs.oom || profile__oom(names))
		fs.len = 0, err = -ENOMEM;

	for (size_t i = 0; i < fs.len; i++) {
		struct folded_key *k = &fs.keys[i];
		size_t depth;
		const uint32_t *frames = profile__stack(p, k->stack, &depth);

		buf.len = 0;
		append_name(&buf, false, profile__str(names, k->root));
		for (size_t j = 0; j < depth; j++) {
			profile__frame_folded_name(p, frames[j], name,
						   sizeof(name));
			append_name(&buf, true, name);
		}
		k->text = buf.oom ? NULL : strdup(buf.s);
		if (!k->text) {
			/* Keep what has text; the write fails. */
			fs.len = i;
			err = -ENOMEM;
		}
	}
	free(buf.s);
	idxset__release(&fs.set);
	profile__free(names);

	/* Distinct frames may render the same text (same name, other line):
	 * FlameGraph merges them, so do we. */
	if (fs.len)
		qsort(fs.keys, fs.len, sizeof(*fs.keys), text_cmp);
	for (size_t i = 0; i < fs.len; i++) {
		if (kept && !strcmp(fs.keys[kept - 1].text, fs.keys[i].text)) {
			fs.keys[kept - 1].count += fs.keys[i].count;
			free(fs.keys[i].text);
		} else {
			fs.keys[kept++] = fs.keys[i];
		}
	}
	if (kept)
		qsort(fs.keys, kept, sizeof(*fs.keys), count_cmp);
	for (size_t i = 0; i < kept; i++) {
		if (!err && fprintf(out, "%s %llu\n", fs.keys[i].text,
				    (unsigned long long)fs.keys[i].count) < 0)
			err = -EIO;
		free(fs.keys[i].text);
	}
	free(fs.keys);
	if (!err && fflush(out))
		err = -EIO;
	return err;
}
