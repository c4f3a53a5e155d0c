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
#include <string.h>

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

/* Adds 'id' under 'hash'; the caller has checked it is not present.
 * Aborts when out of memory: for sets whose size input does not decide. */
void idxset__insert(struct idxset *set, uint32_t hash, uint32_t id);
/* The same, returning -ENOMEM (set unchanged) instead of aborting. */
int idxset__try_insert(struct idxset *set, uint32_t hash, uint32_t id);

/* Removes every id from the set, keeping its memory. */
void idxset__clear(struct idxset *set);

/*
 * The one 64-bit finalizer (MurmurHash3's fmix64): every bit of 'k'
 * reaches the low bits that open addressing probes from. For keys that
 * are already words (ids, pairs of ids, fingerprints).
 */
static inline uint64_t hash__mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

/*
 * Hashes a word at a time with multiply-xorshift mixing (constants from
 * MurmurHash3's finalizer): stacks are arrays of 8-byte addresses, and a
 * byte-at-a-time hash was the sampler's hottest code.
 */
static inline uint32_t hash__bytes(const void *data, size_t len, uint32_t seed)
{
	const unsigned char *p = data;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ seed ^ ((uint64_t)len << 32);
	uint64_t w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 33;
	}
	w = 0;
	if (len)
		memcpy(&w, p, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	return (uint32_t)(h ^ (h >> 32));
}

#endif
