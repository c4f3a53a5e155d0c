/* SPDX-License-Identifier: MIT */
/*
 * A hash set of 32-bit ids, for interning: the caller keeps the objects in
 * its own array and the set maps "an object equal to this one" to its id.
 * The caller supplies the hash and an equality callback, so one set type
 * serves strings, frames and stacks without copying keys.
 */
#ifndef KILN_IDXSET_H
#define KILN_IDXSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idxset {
	uint64_t *slots; /* (hash << 32) | (id + 1); 0 means empty */
	size_t cap;	 /* power of two */
	size_t len;
};

/* Returns true when object 'id' equals the key being looked up. */
typedef bool (*idxset_eq_fn)(uint32_t id, const void *key, void *ctx);

void idxset__init(struct idxset *set);
void idxset__release(struct idxset *set);

/* Finds an id whose object equals 'key'. Returns 0 and sets *id, or -ENOENT. */
int idxset__find(const struct idxset *set, uint32_t hash, const void *key,
		 idxset_eq_fn eq, void *ctx, uint32_t *id);

/* Adds 'id' under 'hash'; the caller has checked it is not present. */
void idxset__insert(struct idxset *set, uint32_t hash, uint32_t id);

/* Removes every id from the set, keeping its memory. */
void idxset__clear(struct idxset *set);

/* FNV-1a style mixing, good enough for interning tables. */
static inline uint32_t hash__bytes(const void *data, size_t len, uint32_t seed)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

#endif
