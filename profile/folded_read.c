// SPDX-License-Identifier: MIT
/*
 * Folded stacks reader: "comm;root;...;leaf COUNT" lines.
 *
 * Decisions (documented in format.h and docs):
 * - The count is the text after the last space: an integer, at most
 *   lim->max_count. Decimal counts (FlameGraph tolerates them) are
 *   rejected rather than silently rounded: kiln counts samples.
 * - By default the first frame is the process name (series label "comm"),
 *   as kiln and stackcollapse-perf.pl write it; lim->folded_no_comm makes
 *   it an ordinary frame for plain folded files from other tools.
 * - Suffixes _[k] _[i] _[j] give the frame kind; a lone "-" frame
 *   (FlameGraph's user/kernel separator) is dropped.
 * - Blank lines and lines starting with '#' are skipped; CRLF is fine.
 * - Any other malformed line is an error naming its line number: the
 *   whole input is refused, never half-imported.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/escape.h"
#include "profile/format.h"

static uint32_t add_frame(struct profile *p, const char *s, size_t len)
{
	static const struct {
		const char *sfx;
		enum frame_kind kind;
	} kinds[] = {{"_[k]", FRAME_KERNEL},
		     {"_[i]", FRAME_INLINED},
		     {"_[j]", FRAME_JIT}};
	struct frame f = {0};

	f.kind = FRAME_USER;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (len > 4 && !memcmp(s + len - 4, kinds[i].sfx, 4)) {
			f.kind = kinds[i].kind;
			len -= 4;
			break;
		}
	}
	f.name = profile__intern_len(p, s, len);
	return profile__add_frame(p, &f);
}

int folded__read(struct profile *p, const void *data, size_t len,
		 const struct read_limits *lim, char *err, size_t errlen)
{
	const char *d = data, *end = d + len;
	struct read_limits def;
	uint32_t *frames = NULL;
	uint32_t comm_key;
	size_t lineno = 0, nlines = 0;
	int ret = 0;

	if (!lim) {
		read_limits__default(&def);
		lim = &def;
	}
	frames = malloc((lim->max_depth + 1) * sizeof(*frames));
	if (!frames) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	comm_key = profile__intern(p, LABEL_COMM);
	while (d < end) {
		const char *nl = memchr(d, '\n', (size_t)(end - d));
		const char *le = nl ? nl : end, *ls = d;
		size_t depth = 0;

		lineno++;
		d = nl ? nl + 1 : end;
		if (le > ls && le[-1] == '\r')
			le--;
		if (le == ls || *ls == '#')
			continue;
		if (!escape__utf8_valid(ls, (size_t)(le - ls))) {
			snprintf(
			    err, errlen,
			    "line %zu: not valid UTF-8 (or has a NUL byte)",
			    lineno);
			ret = -EILSEQ;
			goto out;
		}
		const char *sp = le;
		while (sp > ls && sp[-1] != ' ')
			sp--;
		if (sp == ls) {
			snprintf(err, errlen,
				 "line %zu: no count (expected "
				 "'frame;frame;... COUNT')",
				 lineno);
			ret = -EINVAL;
			goto out;
		}
		uint64_t count = 0;
		const char *c = sp;
		if (c == le) {
			snprintf(err, errlen,
				 "line %zu: no count after the stack", lineno);
			ret = -EINVAL;
			goto out;
		}
		for (; c < le; c++) {
			if (*c < '0' || *c > '9') {
				snprintf(err, errlen,
					 "line %zu: count '%.*s' is not a "
					 "non-negative integer",
					 lineno,
					 (int)(le - sp > 32 ? 32 : le - sp),
					 sp);
				ret = -EINVAL;
				goto out;
			}
			if (count >
			    (lim->max_count - (uint64_t)(*c - '0')) / 10) {
				snprintf(
				    err, errlen,
				    "line %zu: count exceeds the limit of %llu",
				    lineno, (unsigned long long)lim->max_count);
				ret = -E2BIG;
				goto out;
			}
			count = count * 10 + (uint64_t)(*c - '0');
		}
		/* The stack is everything before the separating space(s). */
		const char *se = sp - 1;
		while (se > ls && se[-1] == ' ')
			se--;
		if (se == ls) {
			snprintf(err, errlen, "line %zu: empty stack", lineno);
			ret = -EINVAL;
			goto out;
		}
		if (++nlines > lim->max_samples) {
			snprintf(err, errlen, "line %zu: more than %zu stacks",
				 lineno, lim->max_samples);
			ret = -E2BIG;
			goto out;
		}
		uint32_t comm = 0;
		bool have_comm = false;
		for (const char *f = ls; f <= se;) {
			const char *fe = memchr(f, ';', (size_t)(se - f));
			size_t flen;

			if (!fe)
				fe = se;
			flen = (size_t)(fe - f);
			if (flen == 0) {
				snprintf(err, errlen,
					 "line %zu: empty frame name", lineno);
				ret = -EINVAL;
				goto out;
			}
			if (!have_comm && !lim->folded_no_comm) {
				comm = profile__intern_len(p, f, flen);
				have_comm = true;
			} else if (!(flen == 1 && *f == '-')) {
				if (depth >= lim->max_depth) {
					snprintf(err, errlen,
						 "line %zu: stack deeper than "
						 "the limit of %zu frames",
						 lineno, lim->max_depth);
					ret = -E2BIG;
					goto out;
				}
				frames[depth++] = add_frame(p, f, flen);
			}
			f = fe + 1;
		}
		if (count == 0)
			continue;
		struct label l = {comm_key, comm};
		uint32_t series = profile__add_series(p, &l, have_comm ? 1 : 0);
		uint32_t stack = profile__add_stack(p, frames, depth);

		profile__add_sample(p, series, stack, 0, count);
	}
	if (nlines == 0) {
		snprintf(err, errlen,
			 "no stacks found (expected folded 'frame;frame;... "
			 "COUNT' lines)");
		ret = -EINVAL;
	}
out:
	free(frames);
	return ret;
}
