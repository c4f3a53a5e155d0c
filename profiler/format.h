/* SPDX-License-Identifier: MIT */
/*
 * Profile file formats: writers and readers over the in-memory profile.
 * Every command that reads or writes profiles goes through here, so a new
 * format is one new file plus one line in format.c.
 */
#ifndef KILN_FORMAT_H
#define KILN_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profile.h"

enum profile_format {
	FORMAT_FOLDED = 0,
	FORMAT_PPROF,
	FORMAT_SPEEDSCOPE,
	FORMAT_SVG,
	FORMAT_JSON,
	FORMAT_UNKNOWN,
};

/* "folded", "pprof", ... -> enum; FORMAT_UNKNOWN if not a format name. */
enum profile_format format__from_name(const char *name);
const char *format__name(enum profile_format fmt);

struct write_opts {
	const char *title;  /* SVG title; NULL picks a default */
	int width;	    /* SVG width in px; 0 picks 1200 */
	double min_width;   /* SVG: omit frames narrower than this many px */
	bool icicle;	    /* SVG: root at the top */
	bool with_pid;	    /* folded: "comm-pid" rather than "comm" as root */
};

/*
 * Writes 'p' to 'out' in 'fmt'. Returns 0 or -errno (-EIO on a write
 * error, -ENOTSUP for a format with no writer).
 */
int profile__write(const struct profile *p, enum profile_format fmt,
		   const struct write_opts *opts, FILE *out);

/* Folded stacks: "comm;root;...;leaf COUNT" lines, largest first. */
int folded__write(const struct profile *p, const struct write_opts *opts,
		  FILE *out);

#endif
