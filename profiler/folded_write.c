// SPDX-License-Identifier: MIT
/*
 * Folded stacks (Brendan Gregg's FlameGraph format). One line per distinct
 * stack: the process name first, then frames root to leaf, then a count.
 * Lines are sorted by count, largest first, so `head` shows what matters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "xalloc.h"

struct folded_line {
	char *text;
	uint64_t count;
};

static int line_cmp(const void *a, const void *b)
{
	const struct folded_line *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->text, y->text);
}

static int text_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->text,
		      ((const struct folded_line *)b)->text);
}

/* Appends a frame name, replacing the separator ';' and line breaks. */
static void append_name(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 2 > *cap) {
		*cap = (*len + n + 2) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		(*buf)[(*len)++] = (c == ';' || c == '\n' || c == '\r') ? ':' : c;
	}
	(*buf)[*len] = 0;
}

int folded__write(const struct profile *p, const struct write_opts *opts,
		  FILE *out)
{
	struct profile *tmp = profile__new();
	size_t n, nlines = 0;
	struct folded_line *lines;
	char name[1024];
	int err = 0;

	if (!tmp)
		return -ENOMEM;
	/* Merge by (series, stack) across time, then by rendered text. */
	profile__merge(tmp, p);
	profile__compact(tmp, 0);
	const struct sample *s = profile__samples(tmp, &n);
	lines = xcalloc(n, sizeof(*lines));
	for (size_t i = 0; i < n; i++) {
		const char *comm = profile__series_label(tmp, s[i].series, LABEL_COMM);
		const char *pid = profile__series_label(tmp, s[i].series, LABEL_PID);
		size_t depth, len = 0, cap = 256;
		const uint32_t *frames = profile__stack(tmp, s[i].stack, &depth);
		char *buf = xmalloc(cap);

		buf[0] = 0;
		append_name(&buf, &len, &cap, comm && *comm ? comm : "[unknown]");
		if (opts && opts->with_pid && pid) {
			append_name(&buf, &len, &cap, "-");
			append_name(&buf, &len, &cap, pid);
		}
		for (size_t j = 0; j < depth; j++) {
			profile__frame_folded_name(tmp, frames[j], name, sizeof(name));
			buf[len++] = ';';
			buf[len] = 0;
			append_name(&buf, &len, &cap, name);
		}
		lines[nlines].text = buf;
		lines[nlines++].count = s[i].count;
	}
	/* Series differing only in labels not shown (pid, host) render the
	 * same text: sort by text, merge equal neighbours, then by count. */
	qsort(lines, nlines, sizeof(*lines), text_cmp);
	size_t kept = 0;
	for (size_t i = 0; i < nlines; i++) {
		if (kept && !strcmp(lines[kept - 1].text, lines[i].text)) {
			lines[kept - 1].count += lines[i].count;
			free(lines[i].text);
		} else {
			lines[kept++] = lines[i];
		}
	}
	nlines = kept;
	qsort(lines, nlines, sizeof(*lines), line_cmp);
	for (size_t i = 0; i < nlines; i++) {
		if (fprintf(out, "%s %llu\n", lines[i].text,
			    (unsigned long long)lines[i].count) < 0)
			err = -EIO;
		free(lines[i].text);
	}
	free(lines);
	profile__free(tmp);
	if (!err && fflush(out))
		err = -EIO;
	return err;
}
