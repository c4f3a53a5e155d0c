/* SPDX-License-Identifier: MIT */
/*
 * Files embedded into the binary at build time by scripts/embed.sh: the web
 * UI (web/ui/) and the SQL schema (storage/ SQL files). Each table ends with an
 * entry whose path is NULL. Data is NUL terminated (not counted in size).
 */
#ifndef KILN_EMBEDDED_H
#define KILN_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *path; /* relative to web/ui or storage */
	const unsigned char *data;
	size_t size;
};

extern const struct embedded_file ui_assets[];
extern const struct embedded_file sql_assets[];

/* Finds 'path' in 'table'; NULL if absent. */
const struct embedded_file *embedded__find(const struct embedded_file *table,
					   const char *path);

#endif
