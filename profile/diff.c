// SPDX-License-Identifier: MIT
/*
 * Per-function shares and their changes. The work is linear in the
 * number of distinct stacks times their depth: samples are first summed
 * per stack, each frame is mapped once to a function (name) id, and a
 * per-function stamp counts a function once per stack for its total.
 */
#include "lib/escape.h"
#include "profile/diff.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "profile/format.h"
#include "profile/calltree.h"

struct diff {
	struct calltree ct; /* per-function counts: side 0 base, 1 new */
	struct diff_row *rows;
	size_t nr_rows, nr_regressions;
	struct diff_opts opts;
	enum diff_verdict verdict;
};

/* Functions keyed by name alone, counted once per stack. */
static int count_functions(struct calltree *t, const struct profile *base,
			   const struct profile *cur)
{
	struct calltree_opts o = {.by_name = true, .functions_only = true};
	int err;

	calltree__init(t, &o);
	err = base ? calltree__add(t, base, 0, NULL) : 0;
	if (!err)
		err = calltree__add(t, cur, 1, NULL);
	return err;
}

static double pct(uint64_t v, uint64_t total)
{
	return total ? 100.0 * (double)v / (double)total : 0.0;
}

static int row_cmp(const void *a, const void *b, void *ctx)
{
	const struct diff_row *x = a, *y = b;
	enum diff_metric metric = *(const enum diff_metric *)ctx;
	double dx = metric == DIFF_SELF ? x->delta_self_pp : x->delta_total_pp;
	double dy = metric == DIFF_SELF ? y->delta_self_pp : y->delta_total_pp;

	if (fabs(dx) != fabs(dy))
		return fabs(dx) > fabs(dy) ? -1 : 1;
	if (dx != dy) /* growth before shrinkage of the same size */
		return dx > dy ? -1 : 1;
	/* Then the other metric, so callers of a changed function follow. */
	double ox = metric == DIFF_SELF ? x->delta_total_pp : x->delta_self_pp;
	double oy = metric == DIFF_SELF ? y->delta_total_pp : y->delta_self_pp;
	if (fabs(ox) != fabs(oy))
		return fabs(ox) > fabs(oy) ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct diff *diff__new(const struct profile *base, const struct profile *cur,
		       const struct diff_opts *opts)
{
	struct diff *d = calloc(1, sizeof(*d));
	const struct calltree *t = &d->ct;
	uint64_t base_sum, cur_sum;

	if (!d)
		return NULL;
	d->opts = *opts;
	if (count_functions(&d->ct, base, cur))
		goto oom;
	base_sum = t->total[0];
	cur_sum = t->total[1];
	d->rows = calloc(t->nr_names + 1, sizeof(*d->rows));
	if (!d->rows)
		goto oom;
	for (size_t f = 0; f < t->nr_names; f++) {
		struct diff_row *r = &d->rows[d->nr_rows];

		if (!t->fn_total[0][f] && !t->fn_total[1][f])
			continue;
		r->name = t->names[f].name;
		r->base_self = t->fn_self[0][f];
		r->base_total = t->fn_total[0][f];
		r->new_self = t->fn_self[1][f];
		r->new_total = t->fn_total[1][f];
		r->base_self_pct = pct(r->base_self, base_sum);
		r->base_total_pct = pct(r->base_total, base_sum);
		r->new_self_pct = pct(r->new_self, cur_sum);
		r->new_total_pct = pct(r->new_total, cur_sum);
		r->delta_self_pp = r->new_self_pct - r->base_self_pct;
		r->delta_total_pp = r->new_total_pct - r->base_total_pct;
		double delta = opts->metric == DIFF_SELF ? r->delta_self_pp
							 : r->delta_total_pp;
		r->regression =
		    opts->threshold_pp >= 0 && delta > opts->threshold_pp;
		d->nr_regressions += r->regression;
		d->nr_rows++;
	}
	qsort_r(d->rows, d->nr_rows, sizeof(*d->rows), row_cmp,
		&d->opts.metric);
	if (base_sum < opts->min_samples || cur_sum < opts->min_samples)
		d->verdict = DIFF_TOO_FEW;
	else if (d->nr_regressions)
		d->verdict = DIFF_REGRESSION;
	else
		d->verdict = DIFF_OK;
	return d;
oom:
	diff__free(d);
	errno = ENOMEM;
	return NULL;
}

void diff__free(struct diff *d)
{
	if (!d)
		return;
	free(d->rows);
	calltree__release(&d->ct);
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
	return d->ct.total[0];
}

uint64_t diff__new_total(const struct diff *d)
{
	return d->ct.total[1];
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
			 d->ct.total[0], d->ct.total[1], o->min_samples);
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
	fputs("base: ", out);
	escape__text_file(out, d->opts.base_name ? d->opts.base_name : "base");
	fprintf(out, " (%" PRIu64 " samples)\nnew:  ", d->ct.total[0]);
	escape__text_file(out, d->opts.new_name ? d->opts.new_name : "new");
	fprintf(out, " (%" PRIu64 " samples)\n", d->ct.total[1]);
	fprintf(out, "%s\n\n", verdict);
	fprintf(out, "%9s %9s %10s  %9s %9s %10s  %s\n", "base self",
		"new self", "change", "base tot", "new tot", "change",
		"function");
	for (size_t i = 0; i < n; i++) {
		const struct diff_row *r = &d->rows[i];

		fprintf(
		    out,
		    "%8.2f%% %8.2f%% %+7.2f pp  %8.2f%% %8.2f%% %+7.2f pp  ",
		    r->base_self_pct, r->new_self_pct, r->delta_self_pp,
		    r->base_total_pct, r->new_total_pct, r->delta_total_pp);
		escape__text_file(out, r->name);
		fputs(r->regression ? "  <-- regression\n" : "\n", out);
	}
	if (n < d->nr_rows)
		fprintf(out, "(%zu more functions; --limit 0 shows all)\n",
			d->nr_rows - n);
}

/* Markdown table cells: '|' would end the cell, backticks and '<' could
 * start code or HTML in the rendered comment. */
static void md_sink(void *ctx, const char *s, size_t len)
{
	FILE *out = ctx;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '|' || c == '`' || c == '*' || c == '_' || c == '\\' ||
		    c == '[' || c == ']')
			fputc('\\', out);
		if (c == '<')
			fputs("&lt;", out);
		else if (c == '>')
			fputs("&gt;", out);
		else
			fputc(c, out);
	}
}

static void md_escape(FILE *out, const char *s)
{
	escape__text(md_sink, out, s, strlen(s));
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
	fprintf(out, " (%" PRIu64 " samples), new: ", d->ct.total[0]);
	md_escape(out, d->opts.new_name ? d->opts.new_name : "new");
	fprintf(out,
		" (%" PRIu64
		" samples). Shares are of each profile's total.\n\n",
		d->ct.total[1]);
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
	escape__json_file(out, d->opts.base_name ? d->opts.base_name : "base");
	fprintf(out,
		",\"samples\":%" PRIu64 "},\"new\":{\"name\":", d->ct.total[0]);
	escape__json_file(out, d->opts.new_name ? d->opts.new_name : "new");
	fprintf(out, ",\"samples\":%" PRIu64 "},\"metric\":\"%s\",",
		d->ct.total[1], metric_name(d->opts.metric));
	if (d->opts.threshold_pp >= 0)
		fprintf(out, "\"threshold_pp\":%.6g,", d->opts.threshold_pp);
	else
		fputs("\"threshold_pp\":null,", out);
	fprintf(out,
		"\"min_samples\":%" PRIu64 ",\"verdict\":\"%s\",\"message\":",
		d->opts.min_samples, verdicts[d->verdict]);
	escape__json_file(out, verdict);
	fprintf(
	    out,
	    ",\"regressions\":%zu,\"functions_compared\":%zu,\"functions\":[",
	    d->nr_regressions, d->nr_rows);
	for (size_t i = 0; i < n; i++) {
		const struct diff_row *r = &d->rows[i];

		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		escape__json_file(out, r->name);
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
	struct calltree t;
	struct top_row *rows = NULL;
	size_t nrows = 0;
	uint64_t total;
	int err = count_functions(&t, NULL, p);

	if (err)
		goto out;
	total = t.total[1];
	rows = calloc(t.nr_names + 1, sizeof(*rows));
	if (!rows) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t f = 0; f < t.nr_names; f++)
		if (t.fn_total[1][f])
			rows[nrows++] = (struct top_row){
			    t.names[f].name, t.fn_self[1][f], t.fn_total[1][f]};
	qsort(rows, nrows, sizeof(*rows), top_cmp);
	size_t n = limit && limit < nrows ? limit : nrows;
	uint64_t shown_flat = 0, sum = 0;
	for (size_t i = 0; i < n; i++)
		shown_flat += rows[i].flat;
	fprintf(out,
		"Showing nodes accounting for %" PRIu64 ", %.2f%% of %" PRIu64
		" total\n",
		shown_flat, pct(shown_flat, total), total);
	fprintf(out, "%10s %6s %6s %10s %6s\n", "flat", "flat%", "sum%", "cum",
		"cum%");
	for (size_t i = 0; i < n; i++) {
		sum += rows[i].flat;
		fprintf(out,
			"%10" PRIu64 " %5.2f%% %5.2f%% %10" PRIu64 " %5.2f%%  ",
			rows[i].flat, pct(rows[i].flat, total), pct(sum, total),
			rows[i].cum, pct(rows[i].cum, total));
		escape__text_file(out, rows[i].name);
		fputc('\n', out);
	}
	err = ferror(out) || fflush(out) ? -EIO : 0;
out:
	free(rows);
	calltree__release(&t);
	return err;
}
