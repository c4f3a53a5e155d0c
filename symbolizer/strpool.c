// SPDX-License-Identifier: MIT
/*
 * Interned strings for the symbolizer. Strings are packed into arena chunks
 * so that the pointers handed out never move and cost one allocation per
 * 64 KiB rather than one per name.
 */
#include <string.h>

#include "lib/xalloc.h"
#include "symbolizer/sym_int.h"

#define CHUNK_SIZE (64 * 1024)

struct strkey {
	const char *s;
	size_t len;
};

void strpool__init(struct strpool *sp)
{
	memset(sp, 0, sizeof(*sp));
	idxset__init(&sp->set);
}

void strpool__release(struct strpool *sp)
{
	if (!sp)
		return;
	for (size_t i = 0; i < sp->nr_chunks; i++)
		free(sp->chunks[i]);
	free(sp->chunks);
	free(sp->strs);
	idxset__release(&sp->set);
	memset(sp, 0, sizeof(*sp));
}

static bool str_eq(uint32_t id, const void *key, void *ctx)
{
	const struct strpool *sp = ctx;
	const struct strkey *k = key;
	const char *s = sp->strs[id];

	return !strncmp(s, k->s, k->len) && s[k->len] == '\0';
}

static char *arena_alloc(struct strpool *sp, size_t size)
{
	char *p;

	if (sp->chunk && sp->chunk_used + size <= sp->chunk_size) {
		p = sp->chunk + sp->chunk_used;
		sp->chunk_used += size;
		return p;
	}
	sp->chunks = xrealloc(sp->chunks, (sp->nr_chunks + 1) * sizeof(char *));
	if (size > CHUNK_SIZE / 4) {
		/* A big string gets its own block; the current chunk stays. */
		p = xmalloc(size);
		sp->chunks[sp->nr_chunks++] = p;
		return p;
	}
	sp->chunk = xmalloc(CHUNK_SIZE);
	sp->chunks[sp->nr_chunks++] = sp->chunk;
	sp->chunk_size = CHUNK_SIZE;
	sp->chunk_used = size;
	return sp->chunk;
}

const char *strpool__intern_len(struct strpool *sp, const char *s, size_t len)
{
	struct strkey key = {s, len};
	uint32_t hash = hash__bytes(s, len, 0);
	uint32_t id;
	char *copy;

	if (!idxset__find(&sp->set, hash, &key, str_eq, sp, &id))
		return sp->strs[id];
	if (sp->nr == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 256;
		sp->strs = xrealloc(sp->strs, sp->cap * sizeof(*sp->strs));
	}
	copy = arena_alloc(sp, len + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	sp->strs[sp->nr] = copy;
	idxset__insert(&sp->set, hash, (uint32_t)sp->nr);
	return sp->strs[sp->nr++];
}

const char *strpool__intern(struct strpool *sp, const char *s)
{
	return strpool__intern_len(sp, s, strlen(s));
}
