/* SPDX-License-Identifier: MIT */
/*
 * Files embedded into the binary at build time by scripts/embed.sh. Each
 * folder that embeds files declares its own table (web/ its UI, storage/ its
 * SQL); each table ends with an entry whose path is NULL. Data is NUL
 * terminated (not counted in size).
 */
#ifndef KILN_EMBEDDED_H
#define KILN_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *path; /* relative to the folder that was embedded */
	const unsigned char *data;
	size_t size;
};

/* Finds 'path' in 'table'; NULL if absent. */
const struct embedded_file *embedded__find(const struct embedded_file *table,
					   const char *path);

#endif
