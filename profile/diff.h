/* SPDX-License-Identifier: MIT */
/*
 * The comparison engine behind `kiln diff`: per-function self and total
 * sample counts of two profiles, turned into shares of each profile's
 * total (so a longer run does not look like a slower one), the changes in
 * percentage points, a verdict against a threshold, and reports.
 *
 * Functions are keyed by name, like pprof's default granularity: inlined
 * and out-of-line copies of a function count together, and a function
 * appearing several times in one stack (recursion) counts once in its
 * total.
 */
#ifndef KILN_DIFF_H
#define KILN_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profile/profile.h"

enum diff_metric { DIFF_SELF = 0, DIFF_TOTAL };
enum diff_output { DIFF_TEXT = 0, DIFF_MARKDOWN, DIFF_JSON };

enum diff_verdict {
	DIFF_OK = 0,	 /* no function grew past the threshold */
	DIFF_REGRESSION, /* at least one did */
	DIFF_TOO_FEW,	 /* a profile has fewer than min_samples samples */
};

struct diff_opts {
	enum diff_metric metric;
	double
	    threshold_pp; /* regression when a share grows by more; <0: never */
	uint64_t min_samples; /* below this in either profile: DIFF_TOO_FEW */
	size_t limit;	      /* rows in reports; 0 = all */
	const char *base_name, *new_name; /* shown in reports */
};

struct diff_row {
	const char *name;
	uint64_t base_self, base_total, new_self, new_total;
	double base_self_pct, base_total_pct, new_self_pct, new_total_pct;
	double delta_self_pp, delta_total_pp; /* new% - base% */
	bool regression;
};

struct diff;

/*
 * Compares 'cur' against 'base'. The profiles are only read during the
 * call. Returns NULL with errno set on allocation failure.
 */
struct diff *diff__new(const struct profile *base, const struct profile *cur,
		       const struct diff_opts *opts);
void diff__free(struct diff *d);

/* Rows sorted by the size of the change in the chosen metric, largest
 * first (ties by name). Borrowed; valid until diff__free(). */
size_t diff__nr_rows(const struct diff *d);
const struct diff_row *diff__row(const struct diff *d, size_t i);
uint64_t diff__base_total(const struct diff *d);
uint64_t diff__new_total(const struct diff *d);

enum diff_verdict diff__verdict(const struct diff *d);
size_t diff__nr_regressions(const struct diff *d);

/* Writes a report. Returns 0 or -EIO. */
int diff__write(const struct diff *d, enum diff_output fmt, FILE *out);

/*
 * pprof -top style table of one profile (flat, flat%, sum%, cum, cum%,
 * name), 'limit' rows (0 = all), sorted by flat then name. Used by
 * `kiln export --top` and the tests that hold kiln to go tool pprof.
 */
int diff__write_top(const struct profile *p, size_t limit, FILE *out);

#endif
