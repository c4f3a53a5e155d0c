// SPDX-License-Identifier: MIT
/*
 * kiln's own JSON form of a profile, simple and stable:
 *   {"from_ns":N,"to_ns":N,"total":N,
 *    "stacks":[{"labels":{"comm":"x",...},"frames":["root",...,"leaf"],
 *               "count":N}, ...]}
 * one entry per (label set, stack), largest count first (ties by series,
 * then stack id); frame names carry the folded suffixes (_[k] kernel,
 * _[i] inlined, _[j] JIT). Strings go through lib/escape.h, so any bytes
 * in names give valid JSON.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/escape.h"
#include "profile/format.h"

static int by_key(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static int by_count_desc(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return by_key(a, b);
}

int json__write(const struct profile *p, const struct write_opts *opts,
		FILE *out)
{
	const struct profile_meta *m = profile__meta_const(p);
	size_t n, w = 0;
	const struct sample *src = profile__samples(p, &n);
	struct sample *s = malloc((n ? n : 1) * sizeof(*s));
	char name[4096];

	(void)opts;
	if (!s)
		return -ENOMEM;
	/* Merged across time, like profile__compact(p, 0), on a copy. */
	memcpy(s, src, n * sizeof(*s));
	qsort(s, n, sizeof(*s), by_key);
	for (size_t i = 0; i < n; i++) {
		if (w && s[w - 1].series == s[i].series &&
		    s[w - 1].stack == s[i].stack)
			s[w - 1].count += s[i].count;
		else
			s[w++] = s[i];
	}
	qsort(s, w, sizeof(*s), by_count_desc);
	fprintf(out,
		"{\"from_ns\":%llu,\"to_ns\":%llu,\"total\":%llu,\"stacks\":[",
		(unsigned long long)m->start_ns,
		(unsigned long long)(m->start_ns + m->duration_ns),
		(unsigned long long)profile__total(p));
	for (size_t i = 0; i < w; i++) {
		size_t nl, depth;
		const struct label *l = profile__series(p, s[i].series, &nl);
		const uint32_t *fr = profile__stack(p, s[i].stack, &depth);

		fputs(i ? ",\n{\"labels\":{" : "\n{\"labels\":{", out);
		for (size_t j = 0; j < nl; j++) {
			if (j)
				fputc(',', out);
			escape__json_file(out, profile__str(p, l[j].key));
			fputc(':', out);
			escape__json_file(out, profile__str(p, l[j].value));
		}
		fputs("},\"frames\":[", out);
		for (size_t j = 0; j < depth; j++) {
			if (j)
				fputc(',', out);
			profile__frame_folded_name(p, fr[j], name,
						   sizeof(name));
			escape__json_file(out, name);
		}
		fprintf(out, "],\"count\":%llu}",
			(unsigned long long)s[i].count);
	}
	fputs("\n]}\n", out);
	free(s);
	return ferror(out) || fflush(out) ? -EIO : 0;
}
