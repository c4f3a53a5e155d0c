/* SPDX-License-Identifier: MIT */
/*
 * Aborting allocators for small internal allocations whose size does not
 * depend on input. Input-sized allocations must use malloc and check.
 */
#ifndef KILN_XALLOC_H
#define KILN_XALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static inline void *xalloc__die(size_t size)
{
	log__printf(LOG_ERROR, "out of memory allocating %zu bytes", size);
	abort();
}

static inline void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	return p ? p : xalloc__die(size);
}

static inline void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	return p ? p : xalloc__die(n * size);
}

static inline void *xrealloc(void *old, size_t size)
{
	void *p = realloc(old, size ? size : 1);
	return p ? p : xalloc__die(size);
}

static inline char *xstrdup(const char *s)
{
	char *p = strdup(s);
	return p ? p : xalloc__die(strlen(s) + 1);
}

#endif
