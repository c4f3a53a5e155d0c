/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets: limits small enough that a fuzzer
 * under ASan stays within its memory budget, and a round-trip check that
 * turns "read succeeded but the writers disagree" into a crash.
 */
#ifndef KILN_FUZZ_COMMON_H
#define KILN_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "profile/format.h"

static inline void fuzz__limits(struct read_limits *lim)
{
	read_limits__default(lim);
	lim->max_input = 4 << 20;
	lim->max_decompressed = 16 << 20;
	lim->max_memory = 256 << 20;
	lim->max_samples = 1 << 20;
	lim->max_locations = 1 << 20;
	lim->max_functions = 1 << 20;
	lim->max_strings = 1 << 20;
}

/* Whatever was read must survive every writer, and pprof must read back
 * with the same total. */
static inline void fuzz__check(const struct profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	for (int fmt = FORMAT_FOLDED; fmt <= FORMAT_SVG; fmt++) {
		f = open_memstream(&buf, &len);
		if (profile__write(p, (enum profile_format)fmt, NULL, f))
			abort();
		fclose(f);
		if (fmt == FORMAT_PPROF && profile__total(p) < (1ull << 40)) {
			struct profile *q = profile__new();
			char err[256];

			if (pprof__read(q, buf, len, NULL, err, sizeof(err)) ||
			    profile__total(q) != profile__total(p)) {
				fprintf(stderr, "pprof round trip failed: %s\n",
					err);
				abort();
			}
			profile__free(q);
		}
		free(buf);
		buf = NULL;
	}
}

#endif
