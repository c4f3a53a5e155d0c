// SPDX-License-Identifier: MIT
/*
 * Demangling through libiberty's cplus_demangle: it tries Rust (legacy
 * _ZN...17h<hash>E and v0 _R...) first, then the Itanium C++ ABI, and
 * keeps GCC's clone suffixes ("foo() [clone .cold]"). libstdc++'s
 * __cxa_demangle was the alternative; it knows no Rust v0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#include "symbolizer/demangle.h"
#include "symbolizer/sym_int.h"

bool demangle__is_mangled(const char *name)
{
	if (!name || name[0] != '_')
		return false;
	/* _Z: Itanium (and Rust legacy); _R: Rust v0; static initializers. */
	return name[1] == 'Z' || name[1] == 'R' ||
	       !strncmp(name, "_GLOBAL_", 8);
}

size_t demangle__name(const char *name, char *buf, size_t size)
{
	char *out;
	size_t len;

	if (!demangle__is_mangled(name) ||
	    strnlen(name, DEMANGLE_MAX_LEN + 1) > DEMANGLE_MAX_LEN || !size)
		return 0;
	/* DMGL_AUTO takes Rust, then C++; the recursion limit stays on. */
	out = cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
	if (!out)
		return 0;
	len = strlen(out);
	if (!len || len >= size) {
		free(out);
		return 0;
	}
	memcpy(buf, out, len + 1);
	free(out);
	return len;
}

/* ---- per-object name cache (sym_int.h) ---- */

static size_t nc_slot(const struct namecache *nc, uint64_t key)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 17) & (nc->cap - 1);
}

/* libiberty's header declares its own aborting xmalloc family, so this
 * file allocates plainly: without memory a name just stays as it is. */
static int nc_grow(struct namecache *nc)
{
	size_t old_cap = nc->cap, cap = nc->cap ? nc->cap * 2 : 64;
	struct nc_slot *old = nc->slots, *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -1;
	nc->slots = slots;
	nc->cap = cap;
	nc->bytes += (cap - old_cap) * sizeof(*slots);
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].key)
			continue;
		for (j = nc_slot(nc, old[i].key); nc->slots[j].key;
		     j = (j + 1) & (nc->cap - 1))
			;
		nc->slots[j] = old[i];
	}
	free(old);
	return 0;
}

/* The slot of 'key': found (key set) or the empty one to fill. */
static struct nc_slot *nc_lookup(const struct namecache *nc, uint64_t key)
{
	size_t i;

	if (!nc->cap)
		return NULL;
	for (i = nc_slot(nc, key); nc->slots[i].key;
	     i = (i + 1) & (nc->cap - 1))
		if (nc->slots[i].key == key)
			break;
	return &nc->slots[i];
}

static struct nc_slot *nc_insert(struct namecache *nc, uint64_t key)
{
	if ((nc->len + 1) * 2 > nc->cap && nc_grow(nc))
		return NULL;
	return nc_lookup(nc, key);
}

const char *namecache__find(const struct namecache *nc, uint64_t key)
{
	const struct nc_slot *s = nc_lookup(nc, key);

	return s && s->key ? s->val : NULL;
}

const char *namecache__put(struct namecache *nc, uint64_t key, const char *s)
{
	struct nc_slot *slot = nc_insert(nc, key);
	char *copy;

	if (!slot)
		return NULL;
	if (slot->key)
		return slot->val;
	copy = strdup(s);
	if (!copy)
		return NULL;
	*slot = (struct nc_slot){key, copy};
	nc->len++;
	nc->bytes += strlen(copy) + 1;
	return copy;
}

const char *namecache__demangle(struct namecache *nc, const char *name,
				const char **mangled)
{
	char buf[DEMANGLE_MAX_LEN * 4];
	uint64_t key = (uint64_t)(uintptr_t)name;
	struct nc_slot *slot;
	size_t n;

	*mangled = NULL;
	if (!demangle__is_mangled(name))
		return name;
	slot = nc_lookup(nc, key);
	if (!slot || !slot->key) {
		slot = nc_insert(nc, key);
		if (!slot)
			return name;
		n = demangle__name(name, buf, sizeof(buf));
		*slot = (struct nc_slot){key, n ? strdup(buf) : NULL};
		nc->len++;
		nc->bytes += slot->val ? n + 1 : 0;
	}
	if (!slot->val)
		return name;
	*mangled = name;
	return slot->val;
}

void namecache__release(struct namecache *nc)
{
	for (size_t i = 0; i < nc->cap; i++)
		free(nc->slots[i].val);
	free(nc->slots);
	*nc = (struct namecache){0};
}
