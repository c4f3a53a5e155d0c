// SPDX-License-Identifier: MIT
/*
 * Per-function shares and their changes. The work is linear in the
 * number of distinct stacks times their depth: samples are first summed
 * per stack, each frame is mapped once to a function (name) id, and a
 * per-function stamp counts a function once per stack for its total.
 */
#include "profile/diff.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "profile/format.h"
#include "lib/xalloc.h"

struct fstats {
	uint64_t *self, *total;
	uint64_t sum;
};

struct diff {
	struct profile *names; /* function name interner shared by both */
	struct fstats base, cur;
	struct diff_row *rows;
	size_t nr_rows, nr_regressions;
	struct diff_opts opts;
	enum diff_verdict verdict;
};

/* frame id -> function name id in 'names' */
static uint32_t *map_frames(struct profile *names, const struct profile *p)
{
	size_t nf = profile__nr_frames(p);
	uint32_t *fn = xcalloc(nf, sizeof(*fn));

	for (size_t f = 0; f < nf; f++)
		fn[f] = profile__intern(
		    names,
		    profile__str(p, profile__frame(p, (uint32_t)f)->name));
	return fn;
}

static void stats(const struct profile *p, const uint32_t *fn, size_t nfuncs,
		  struct fstats *st)
{
	size_t nst = profile__nr_stacks(p), n;
	uint64_t *per_stack = xcalloc(nst, sizeof(*per_stack));
	uint32_t *stamp = xcalloc(nfuncs, sizeof(*stamp));
	const struct sample *s = profile__samples(p, &n);

	st->self = xcalloc(nfuncs, sizeof(*st->self));
	st->total = xcalloc(nfuncs, sizeof(*st->total));
	st->sum = 0;
	for (size_t i = 0; i < n; i++) {
		per_stack[s[i].stack] += s[i].count;
		st->sum += s[i].count;
	}
	for (size_t k = 0; k < nst; k++) {
		uint64_t c = per_stack[k];
		size_t depth;
		const uint32_t *fr;

		if (!c)
			continue;
		fr = profile__stack(p, (uint32_t)k, &depth);
		if (!depth)
			continue;
		st->self[fn[fr[depth - 1]]] += c;
		for (size_t j = 0; j < depth; j++) {
			uint32_t f = fn[fr[j]];

			if (stamp[f] != k + 1) {
				stamp[f] = (uint32_t)k + 1;
				st->total[f] += c;
			}
		}
	}
	free(per_stack);
	free(stamp);
}

static double pct(uint64_t v, uint64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

static enum diff_metric sort_metric;

static int row_cmp(const void *a, const void *b)
{
	const struct diff_row *x = a, *y = b;
	double dx =
	    sort_metric == DIFF_SELF ? x->delta_self_pp : x->delta_total_pp;
	double dy =
	    sort_metric == DIFF_SELF ? y->delta_self_pp : y->delta_total_pp;

	if (fabs(dx) != fabs(dy))
		return fabs(dx) > fabs(dy) ? -1 : 1;
	if (dx != dy) /* growth before shrinkage of the same size */
		return dx > dy ? -1 : 1;
	/* Then the other metric, so callers of a changed function follow. */
	double ox =
	    sort_metric == DIFF_SELF ? x->delta_total_pp : x->delta_self_pp;
	double oy =
	    sort_metric == DIFF_SELF ? y->delta_total_pp : y->delta_self_pp;
	if (fabs(ox) != fabs(oy))
		return fabs(ox) > fabs(oy) ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct diff *diff__new(const struct profile *base, const struct profile *cur,
		       const struct diff_opts *opts)
{
	struct diff *d = calloc(1, sizeof(*d));
	uint32_t *fb, *fc;

	if (!d)
		return NULL;
	d->names = profile__new();
	if (!d->names) {
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	d->opts = *opts;
	fb = map_frames(d->names, base);
	fc = map_frames(d->names, cur);
	size_t nfuncs = profile__nr_strings(d->names);
	stats(base, fb, nfuncs, &d->base);
	stats(cur, fc, nfuncs, &d->cur);
	free(fb);
	free(fc);

	d->rows = xcalloc(nfuncs, sizeof(*d->rows));
	for (size_t f = 0; f < nfuncs; f++) {
		struct diff_row *r = &d->rows[d->nr_rows];

		if (!d->base.total[f] && !d->cur.total[f])
			continue;
		r->name = profile__str(d->names, (uint32_t)f);
		r->base_self = d->base.self[f];
		r->base_total = d->base.total[f];
		r->new_self = d->cur.self[f];
		r->new_total = d->cur.total[f];
		r->base_self_pct = pct(r->base_self, d->base.sum);
		r->base_total_pct = pct(r->base_total, d->base.sum);
		r->new_self_pct = pct(r->new_self, d->cur.sum);
		r->new_total_pct = pct(r->new_total, d->cur.sum);
		r->delta_self_pp = r->new_self_pct - r->base_self_pct;
		r->delta_total_pp = r->new_total_pct - r->base_total_pct;
		double delta = opts->metric == DIFF_SELF ? r->delta_self_pp
							 : r->delta_total_pp;
		r->regression =
		    opts->threshold_pp >= 0 && delta > opts->threshold_pp;
		d->nr_regressions += r->regression;
		d->nr_rows++;
	}
	sort_metric = opts->metric;
	qsort(d->rows, d->nr_rows, sizeof(*d->rows), row_cmp);
	if (d->base.sum < opts->min_samples || d->cur.sum < opts->min_samples)
		d->verdict = DIFF_TOO_FEW;
	else if (d->nr_regressions)
		d->verdict = DIFF_REGRESSION;
	else
		d->verdict = DIFF_OK;
	return d;
}

void diff__free(struct diff *d)
{
	if (!d)
		return;
	free(d->base.self);
	free(d->base.total);
	free(d->cur.self);
	free(d->cur.total);
	free(d->rows);
	profile__free(d->names);
	free(d);
}

size_t diff__nr_rows(const struct diff *d)
{
	return d->nr_rows;
}

const struct diff_row *diff__row(const struct diff *d, size_t i)
{
	return i < d->nr_rows ? &d->rows[i] : NULL;
}

uint64_t diff__base_total(const struct diff *d)
{
	return d->base.sum;
}

uint64_t diff__new_total(const struct diff *d)
{
	return d->cur.sum;
}

enum diff_verdict diff__verdict(const struct diff *d)
{
	return d->verdict;
}

size_t diff__nr_regressions(const struct diff *d)
{
	return d->nr_regressions;
}

static const char *metric_name(enum diff_metric m)
{
	return m == DIFF_SELF ? "self" : "total";
}

/* One sentence saying what the verdict is and why. */
static void verdict_line(const struct diff *d, char *buf, size_t size)
{
	const struct diff_opts *o = &d->opts;

	switch (d->verdict) {
	case DIFF_TOO_FEW:
		snprintf(buf, size,
			 "too few samples to judge: base has %" PRIu64
			 ", new has %" PRIu64 ", at least %" PRIu64
			 " each are needed (--min-samples)",
			 d->base.sum, d->cur.sum, o->min_samples);
		break;
	case DIFF_REGRESSION:
		snprintf(buf, size,
			 "regression: %zu function%s grew by more than %.2f pp "
			 "of %s samples",
			 d->nr_regressions, d->nr_regressions == 1 ? "" : "s",
			 o->threshold_pp, metric_name(o->metric));
		break;
	default:
		if (o->threshold_pp >= 0)
			snprintf(buf, size,
				 "ok: no function grew by more than %.2f pp of "
				 "%s samples",
				 o->threshold_pp, metric_name(o->metric));
		else
			snprintf(buf, size,
				 "no threshold set (--threshold): report only");
	}
}

static size_t shown(const struct diff *d)
{
	return d->opts.limit && d->opts.limit < d->nr_rows ? d->opts.limit
							   : d->nr_rows;
}

static void write_text(const struct diff *d, FILE *out)
{
	char verdict[256];
	size_t n = shown(d);

	verdict_line(d, verdict, sizeof(verdict));
	fprintf(out, "base: %s (%" PRIu64 " samples)\n",
		d->opts.base_name ? d->opts.base_name : "base", d->base.sum);
	fprintf(out, "new:  %s (%" PRIu64 " samples)\n",
		d->opts.new_name ? d->opts.new_name : "new", d->cur.sum);
	fprintf(out, "%s\n\n", verdict);
	fprintf(out, "%9s %9s %10s  %9s %9s %10s  %s\n", "base self",
		"new self", "change", "base tot", "new tot", "change",
		"function");
	for (size_t i = 0; i < n; i++) {
		const struct diff_row *r = &d->rows[i];

		fprintf(out,
			"%8.2f%% %8.2f%% %+7.2f pp  %8.2f%% %8.2f%% %+7.2f pp  "
			"%s%s\n",
			r->base_self_pct, r->new_self_pct, r->delta_self_pp,
			r->base_total_pct, r->new_total_pct, r->delta_total_pp,
			r->name, r->regression ? "  <-- regression" : "");
	}
	if (n < d->nr_rows)
		fprintf(out, "(%zu more functions; --limit 0 shows all)\n",
			d->nr_rows - n);
}

/* Markdown table cells: '|' would end the cell, backticks and '<' could
 * start code or HTML in the rendered comment. */
static void md_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|' || *s == '`' || *s == '*' || *s == '_' ||
		    *s == '\\' || *s == '[' || *s == ']')
			fputc('\\', out);
		if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else
			fputc(*s, out);
	}
}

static void write_markdown(const struct diff *d, FILE *out)
{
	char verdict[256];
	size_t n = shown(d);
	const char *icon = d->verdict == DIFF_REGRESSION ? ":x:"
			   : d->verdict == DIFF_TOO_FEW	 ? ":warning:"
							 : ":white_check_mark:";

	verdict_line(d, verdict, sizeof(verdict));
	fprintf(out, "### %s kiln diff: %s\n\n", icon, verdict);
	fputs("Base: ", out);
	md_escape(out, d->opts.base_name ? d->opts.base_name : "base");
	fprintf(out, " (%" PRIu64 " samples), new: ", d->base.sum);
	md_escape(out, d->opts.new_name ? d->opts.new_name : "new");
	fprintf(out,
		" (%" PRIu64
		" samples). Shares are of each profile's total.\n\n",
		d->cur.sum);
	fputs("| Function | Base self | New self | Δ self | Base total | New "
	      "total | Δ total |\n"
	      "|---|---:|---:|---:|---:|---:|---:|\n",
	      out);
	for (size_t i = 0; i < n; i++) {
		const struct diff_row *r = &d->rows[i];

		fputs("| ", out);
		if (r->regression)
			fputs("**", out);
		md_escape(out, r->name);
		if (r->regression)
			fputs("**", out);
		fprintf(out,
			" | %.2f%% | %.2f%% | %+.2f pp | %.2f%% | %.2f%% | "
			"%+.2f pp |\n",
			r->base_self_pct, r->new_self_pct, r->delta_self_pp,
			r->base_total_pct, r->new_total_pct, r->delta_total_pp);
	}
	if (n < d->nr_rows)
		fprintf(out, "\n%zu more functions not shown.\n",
			d->nr_rows - n);
}

static void write_json(const struct diff *d, FILE *out)
{
	static const char *const verdicts[] = {"ok", "regression",
					       "too_few_samples"};
	char verdict[256];
	size_t n = shown(d);

	verdict_line(d, verdict, sizeof(verdict));
	fputs("{\"base\":{\"name\":", out);
	format__json_string(out,
			    d->opts.base_name ? d->opts.base_name : "base");
	fprintf(out,
		",\"samples\":%" PRIu64 "},\"new\":{\"name\":", d->base.sum);
	format__json_string(out, d->opts.new_name ? d->opts.new_name : "new");
	fprintf(out, ",\"samples\":%" PRIu64 "},\"metric\":\"%s\",", d->cur.sum,
		metric_name(d->opts.metric));
	if (d->opts.threshold_pp >= 0)
		fprintf(out, "\"threshold_pp\":%.6g,", d->opts.threshold_pp);
	else
		fputs("\"threshold_pp\":null,", out);
	fprintf(out,
		"\"min_samples\":%" PRIu64 ",\"verdict\":\"%s\",\"message\":",
		d->opts.min_samples, verdicts[d->verdict]);
	format__json_string(out, verdict);
	fprintf(
	    out,
	    ",\"regressions\":%zu,\"functions_compared\":%zu,\"functions\":[",
	    d->nr_regressions, d->nr_rows);
	for (size_t i = 0; i < n; i++) {
		const struct diff_row *r = &d->rows[i];

		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		format__json_string(out, r->name);
		fprintf(out,
			",\"base_self\":%" PRIu64 ",\"new_self\":%" PRIu64
			",\"base_total\":%" PRIu64 ",\"new_total\":%" PRIu64
			",\"base_self_pct\":%.6f,\"new_self_pct\":%.6f"
			",\"base_total_pct\":%.6f,\"new_total_pct\":%.6f"
			",\"delta_self_pp\":%.6f,\"delta_total_pp\":%.6f,"
			"\"regression\":%s}",
			r->base_self, r->new_self, r->base_total, r->new_total,
			r->base_self_pct, r->new_self_pct, r->base_total_pct,
			r->new_total_pct, r->delta_self_pp, r->delta_total_pp,
			r->regression ? "true" : "false");
	}
	fputs("]}\n", out);
}

int diff__write(const struct diff *d, enum diff_output fmt, FILE *out)
{
	switch (fmt) {
	case DIFF_MARKDOWN:
		write_markdown(d, out);
		break;
	case DIFF_JSON:
		write_json(d, out);
		break;
	default:
		write_text(d, out);
	}
	return ferror(out) || fflush(out) ? -EIO : 0;
}

struct top_row {
	const char *name;
	uint64_t flat, cum;
};

static int top_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	if (x->flat != y->flat)
		return x->flat > y->flat ? -1 : 1;
	return strcmp(x->name, y->name);
}

int diff__write_top(const struct profile *p, size_t limit, FILE *out)
{
	struct profile *names = profile__new();
	struct fstats st;
	struct top_row *rows;
	size_t nrows = 0;

	if (!names)
		return -ENOMEM;
	uint32_t *fn = map_frames(names, p);
	size_t nfuncs = profile__nr_strings(names);
	stats(p, fn, nfuncs, &st);
	rows = xcalloc(nfuncs, sizeof(*rows));
	for (size_t f = 0; f < nfuncs; f++)
		if (st.total[f])
			rows[nrows++] =
			    (struct top_row){profile__str(names, (uint32_t)f),
					     st.self[f], st.total[f]};
	qsort(rows, nrows, sizeof(*rows), top_cmp);
	size_t n = limit && limit < nrows ? limit : nrows;
	uint64_t shown_flat = 0, sum = 0;
	for (size_t i = 0; i < n; i++)
		shown_flat += rows[i].flat;
	fprintf(out,
		"Showing nodes accounting for %" PRIu64 ", %.2f%% of %" PRIu64
		" total\n",
		shown_flat, pct(shown_flat, st.sum), st.sum);
	fprintf(out, "%10s %6s %6s %10s %6s\n", "flat", "flat%", "sum%", "cum",
		"cum%");
	for (size_t i = 0; i < n; i++) {
		sum += rows[i].flat;
		fprintf(
		    out,
		    "%10" PRIu64 " %5.2f%% %5.2f%% %10" PRIu64 " %5.2f%%  %s\n",
		    rows[i].flat, pct(rows[i].flat, st.sum), pct(sum, st.sum),
		    rows[i].cum, pct(rows[i].cum, st.sum), rows[i].name);
	}
	free(rows);
	free(fn);
	free(st.self);
	free(st.total);
	profile__free(names);
	return ferror(out) || fflush(out) ? -EIO : 0;
}
