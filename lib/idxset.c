// SPDX-License-Identifier: MIT
#include "lib/idxset.h"

#include <errno.h>
#include <string.h>

#include "lib/xalloc.h"

void idxset__init(struct idxset *set)
{
	memset(set, 0, sizeof(*set));
}

void idxset__release(struct idxset *set)
{
	if (!set)
		return;
	free(set->slots);
	memset(set, 0, sizeof(*set));
}

void idxset__clear(struct idxset *set)
{
	if (set->slots)
		memset(set->slots, 0, set->cap * sizeof(*set->slots));
	set->len = 0;
}

int idxset__find(const struct idxset *set, uint32_t hash, const void *key,
		 idxset_eq_fn eq, void *ctx, uint32_t *id)
{
	if (!set->cap)
		return -ENOENT;
	for (size_t i = hash & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
		uint64_t slot = set->slots[i];

		if (!slot)
			return -ENOENT;
		if ((uint32_t)(slot >> 32) != hash)
			continue;
		if (eq((uint32_t)slot - 1, key, ctx)) {
			*id = (uint32_t)slot - 1;
			return 0;
		}
	}
}

static void place(uint64_t *slots, size_t cap, uint64_t slot)
{
	size_t i = (size_t)(slot >> 32) & (cap - 1);

	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = slot;
}

int idxset__try_insert(struct idxset *set, uint32_t hash, uint32_t id)
{
	/* Keep the load under 1/2 so probe chains stay short. */
	if ((set->len + 1) * 2 > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		uint64_t *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < set->cap; i++)
			if (set->slots[i])
				place(slots, cap, set->slots[i]);
		free(set->slots);
		set->slots = slots;
		set->cap = cap;
	}
	place(set->slots, set->cap,
	      ((uint64_t)hash << 32) | ((uint64_t)id + 1));
	set->len++;
	return 0;
}

void idxset__insert(struct idxset *set, uint32_t hash, uint32_t id)
{
	if (idxset__try_insert(set, hash, id))
		xalloc__die((set->cap ? set->cap * 2 : 64) * sizeof(uint64_t));
}
