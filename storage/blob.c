// SPDX-License-Identifier: MIT
/* The sample-blob codec; the layout is documented in storage/schema.sql. */
#include <errno.h>
#include <stdlib.h>

#include "storage/store_int.h"

int blob__decode(const void *data, size_t size, bool with_slots,
		 struct blob_ent **ents, size_t *nr, size_t *cap)
{
	const uint8_t *p = data, *end = p + size;
	uint64_t stack = 0, slot = 0;
	bool first = true;

	while (p < end) {
		uint64_t d, v, count = 1;

		if (!(p = varint__get(p, end, &d)))
			return -EBADMSG;
		stack += d;
		if (with_slots) {
			if (!(p = varint__get(p, end, &v)))
				return -EBADMSG;
			slot = d || first ? v >> 1 : slot + (v >> 1);
			if ((v & 1) && !(p = varint__get(p, end, &count)))
				return -EBADMSG;
			if (slot >= RAW_SLOTS)
				return -EBADMSG;
		} else if (!(p = varint__get(p, end, &count))) {
			return -EBADMSG;
		}
		if (stack > UINT32_MAX)
			return -EBADMSG;
		first = false;
		if (*nr == *cap) {
			size_t ncap = *cap ? *cap * 2 : 1024;
			struct blob_ent *n = realloc(*ents, ncap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			*ents = n;
			*cap = ncap;
		}
		(*ents)[(*nr)++] =
		    (struct blob_ent){(uint32_t)stack, (uint32_t)slot, count};
	}
	return 0;
}

/* varint__get with the one-byte case (most stack deltas, slots and
 * counts) first. */
static inline const uint8_t *get(const uint8_t *p, const uint8_t *end,
				 uint64_t *v)
{
	if (p < end && *p < 0x80) {
		*v = *p;
		return p + 1;
	}
	return varint__get(p, end, v);
}

static int put(struct blob_ent **ents, size_t *nr, size_t *cap, uint64_t stack,
	       uint64_t count)
{
	if (*nr == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		struct blob_ent *n = realloc(*ents, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		*ents = n;
		*cap = ncap;
	}
	(*ents)[(*nr)++] = (struct blob_ent){(uint32_t)stack, 0, count};
	return 0;
}

int blob__sum(const void *data, size_t size, bool with_slots, uint32_t lo,
	      uint32_t hi, struct blob_ent **ents, size_t *nr, size_t *cap)
{
	const uint8_t *p = data, *end = p + size;
	uint64_t stack = 0, slot = 0, sum = 0;
	bool first = true;

	*nr = 0;
	while (p < end) {
		uint64_t d, v, count = 1;

		if (!(p = get(p, end, &d)))
			return -EBADMSG;
		if (d || first) {
			if (sum && put(ents, nr, cap, stack, sum))
				return -ENOMEM;
			sum = 0;
			stack += d;
			if (stack > UINT32_MAX)
				return -EBADMSG;
		}
		if (with_slots) {
			if (!(p = get(p, end, &v)))
				return -EBADMSG;
			slot = d || first ? v >> 1 : slot + (v >> 1);
			if ((v & 1) && !(p = get(p, end, &count)))
				return -EBADMSG;
			if (slot >= RAW_SLOTS)
				return -EBADMSG;
			if (slot < lo || slot >= hi)
				count = 0;
		} else if (!(p = get(p, end, &count))) {
			return -EBADMSG;
		}
		first = false;
		if (__builtin_add_overflow(sum, count, &sum))
			sum = UINT64_MAX; /* a damaged store: saturate */
	}
	if (sum && put(ents, nr, cap, stack, sum))
		return -ENOMEM;
	return 0;
}

size_t blob__encode(const struct blob_ent *ents, size_t n, bool with_slots,
		    uint8_t **out)
{
	/* Worst case: three 10-byte varints per entry. */
	uint8_t *buf = malloc(n * 30 + 1), *p = buf;
	uint32_t stack = 0, slot = 0;

	*out = buf;
	if (!buf)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t d = ents[i].stack - stack;

		p = varint__put(p, d);
		if (with_slots) {
			uint64_t s =
			    d || i == 0 ? ents[i].slot : ents[i].slot - slot;

			p = varint__put(p, s << 1 | (ents[i].count != 1));
			if (ents[i].count != 1)
				p = varint__put(p, ents[i].count);
		} else {
			p = varint__put(p, ents[i].count);
		}
		stack = ents[i].stack;
		slot = ents[i].slot;
	}
	return (size_t)(p - buf);
}
