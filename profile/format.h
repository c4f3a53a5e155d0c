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

#include "profile/profile.h"

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
	const char *title; /* SVG title; NULL picks a default */
	int width;	   /* SVG width in px; 0 picks 1200 */
	double min_width;  /* SVG: omit frames narrower than this many px */
	bool icicle;	   /* SVG: root at the top */
	bool with_pid;	   /* folded: "comm-pid" rather than "comm" as root */
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

/*
 * pprof: gzip-compressed profile.proto (see profile/pprof.c for the exact
 * mapping of kiln's model onto pprof's). Sample types samples/count and
 * cpu/nanoseconds (count * period_ns; 1e9/99 when the period is unknown).
 * Samples are merged across time: pprof has no per-sample time stamp.
 */
int pprof__write(const struct profile *p, const struct write_opts *opts,
		 FILE *out);

/* speedscope JSON (file-format-schema.json), one merged sampled profile
 * plus one per process name when there are several; weights are counts. */
int speedscope__write(const struct profile *p, const struct write_opts *opts,
		      FILE *out);

/* kiln's own JSON: one entry per (labels, stack) with its count, largest
 * first (the format of `kiln query --format json`, see json_write.c). */
int json__write(const struct profile *p, const struct write_opts *opts,
		FILE *out);

/* A standalone interactive SVG flame graph (click zoom, Ctrl-F search). */
int svg__write(const struct profile *p, const struct write_opts *opts,
	       FILE *out);

/*
 * A differential SVG flame graph: frame widths from 'cur', colours from
 * the change of each frame's share of all samples (red grew, blue shrank,
 * intensity relative to the largest change).
 */
int svg__write_diff(const struct profile *base, const struct profile *cur,
		    const struct write_opts *opts, FILE *out);

/*
 * Limits for reading untrusted profiles. Exceeding one is an error
 * (-E2BIG) with a message naming the limit; nothing is half-read into the
 * caller's profile that it should keep (discard 'p' on any error).
 */
struct read_limits {
	size_t max_input;	 /* bytes of input as given */
	size_t max_decompressed; /* bytes after gunzip (gzip bombs) */
	size_t max_memory;	 /* bytes the protobuf decoder may allocate */
	size_t max_samples;	 /* pprof samples / folded lines */
	size_t max_locations;
	size_t max_functions;
	size_t max_strings;
	size_t max_depth;   /* frames per stack, inline frames included */
	uint64_t max_count; /* per sample; larger is "absurd" */
	/*
	 * Folded input: false (default) takes the first frame of each line
	 * as the process name (kiln's and stackcollapse-perf.pl's output),
	 * true takes it as an ordinary root frame (plain folded files from
	 * other tools: py-spy, async-profiler, ...).
	 */
	bool folded_no_comm;
};

/* Fills 'lim' with the defaults used by the CLI. */
void read_limits__default(struct read_limits *lim);

/*
 * Checks the size of an input about to be read against 'lim' (NULL: the
 * defaults), calling it 'what' ("input", "body") in the reason. Returns 0,
 * or -E2BIG (over max_input) or -EINVAL (empty) with a one-line reason in
 * 'err'.
 */
int read_limits__check_size(const struct read_limits *lim, size_t len,
			    const char *what, char *err, size_t errlen);

/*
 * Reads a profile in any importable format into the (fresh) profile 'p':
 * gzip data is pprof (after gunzip), other binary data starting like a
 * protobuf is uncompressed pprof, everything else is folded text.
 * Returns 0, or -errno with a one-line reason in 'err': -EINVAL malformed
 * input, -EILSEQ a name that is not UTF-8, -E2BIG over a limit, -ENOMEM.
 * 'lim' NULL uses the defaults.
 */
int profile__read(struct profile *p, const void *data, size_t len,
		  const struct read_limits *lim, char *err, size_t errlen);

/* Reads a file ("-" is stdin) with profile__read(). */
int profile__read_file(struct profile *p, const char *path,
		       const struct read_limits *lim, char *err, size_t errlen);

/* The format-specific readers behind profile__read(). */
int pprof__read(struct profile *p, const void *data, size_t len,
		const struct read_limits *lim, char *err, size_t errlen);
int folded__read(struct profile *p, const void *data, size_t len,
		 const struct read_limits *lim, char *err, size_t errlen);

/* ---- helpers shared by the readers and writers ---- */

/*
 * Inflates gzip 'data' (concatenated members allowed) into a malloc'd
 * buffer of at most 'max' bytes. Returns 0 or -errno with 'err' set.
 */
int format__gunzip(const void *data, size_t len, size_t max, void **out,
		   size_t *outlen, char *err, size_t errlen);

#endif
