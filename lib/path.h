/* SPDX-License-Identifier: MIT */
/* File name helpers. */
#ifndef KILN_PATH_H
#define KILN_PATH_H

#include <string.h>

/* The part of 'path' after its last '/' (all of it when there is none). */
static inline const char *path__base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

#endif
