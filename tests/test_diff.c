// SPDX-License-Identifier: MIT
/* The diff engine: shares, ordering, thresholds, verdicts, reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "profile/diff.h"
#include "profile/format.h"

static struct profile *folded(const char *text)
{
	struct profile *p = profile__new();
	char err[256];

	if (folded__read(p, text, strlen(text), NULL, err, sizeof(err)))
		fail_msg("bad fixture: %s", err);
	return p;
}

static const struct diff_row *row(const struct diff *d, const char *name)
{
	for (size_t i = 0; i < diff__nr_rows(d); i++)
		if (!strcmp(diff__row(d, i)->name, name))
			return diff__row(d, i);
	fail_msg("no row '%s'", name);
	return NULL;
}

/* base: compute 60%, read 20%; new (twice as many samples): compute 40%,
 * read 40%. Shares, not counts, decide. */
static const char *base_txt = "app;main;work;compute 600\n"
			      "app;main;io;read 200\n"
			      "app;main;parse 200\n";
static const char *new_txt = "app;main;work;compute 800\n"
			     "app;main;io;read 800\n"
			     "app;main;parse 400\n";

static void test_diff__shares_and_order(void **state)
{
	(void)state;
	struct profile *a = folded(base_txt), *b = folded(new_txt);
	struct diff_opts o = {
	    .metric = DIFF_SELF, .threshold_pp = 5, .min_samples = 100};
	struct diff *d = diff__new(a, b, &o);

	assert_non_null(d);
	assert_int_equal(diff__base_total(d), 1000);
	assert_int_equal(diff__new_total(d), 2000);
	const struct diff_row *r = row(d, "read");
	assert_int_equal(r->base_self, 200);
	assert_int_equal(r->new_self, 800);
	assert_true(r->base_self_pct > 19.99 && r->base_self_pct < 20.01);
	assert_true(r->new_self_pct > 39.99 && r->new_self_pct < 40.01);
	assert_true(r->delta_self_pp > 19.99 && r->delta_self_pp < 20.01);
	assert_true(r->regression);
	r = row(d, "compute");
	assert_true(r->delta_self_pp < -19.99 && r->delta_self_pp > -20.01);
	assert_false(r->regression);
	r = row(d, "main");
	assert_int_equal(r->base_self, 0);
	assert_true(r->base_total_pct > 99.99);
	/* Largest change first; growth before an equal shrink. */
	assert_string_equal(diff__row(d, 0)->name, "read");
	assert_string_equal(diff__row(d, 1)->name, "compute");
	assert_int_equal(diff__verdict(d), DIFF_REGRESSION);
	assert_int_equal(diff__nr_regressions(d), 1);
	diff__free(d);

	/* The same numbers under a higher threshold: no regression. */
	o.threshold_pp = 25;
	d = diff__new(a, b, &o);
	assert_int_equal(diff__verdict(d), DIFF_OK);
	diff__free(d);
	/* No threshold: report only. */
	o.threshold_pp = -1;
	d = diff__new(a, b, &o);
	assert_int_equal(diff__verdict(d), DIFF_OK);
	diff__free(d);
	profile__free(a);
	profile__free(b);
}

static void test_diff__total_metric_and_recursion(void **state)
{
	(void)state;
	/* recurse appears 3x in one stack: its total counts the stack once. */
	struct profile *a = folded(
	    "p;main;recurse;recurse;recurse;leaf 100\np;main;other 100\n");
	struct profile *b = folded(
	    "p;main;recurse;recurse;recurse;leaf 150\np;main;other 50\n");
	struct diff_opts o = {
	    .metric = DIFF_TOTAL, .threshold_pp = 10, .min_samples = 1};
	struct diff *d = diff__new(a, b, &o);
	const struct diff_row *r = row(d, "recurse");

	assert_int_equal(r->base_total, 100);
	assert_int_equal(r->new_total, 150);
	assert_int_equal(r->base_self, 0);
	assert_true(r->regression); /* total 50% -> 75% */
	assert_true(row(d, "leaf")->regression);
	assert_false(row(d, "main")->regression);
	assert_int_equal(diff__verdict(d), DIFF_REGRESSION);
	diff__free(d);
	/* By self, recurse has no samples of its own: only leaf regressed. */
	o.metric = DIFF_SELF;
	d = diff__new(a, b, &o);
	assert_false(row(d, "recurse")->regression);
	assert_true(row(d, "leaf")->regression);
	assert_int_equal(diff__nr_regressions(d), 1);
	diff__free(d);
	profile__free(a);
	profile__free(b);
}

static void test_diff__too_few_and_new_functions(void **state)
{
	(void)state;
	struct profile *a = folded("p;a 10\n"),
		       *b = folded("p;a 5\np;brand_new 5\n");
	struct diff_opts o = {.threshold_pp = 1, .min_samples = 100};
	struct diff *d = diff__new(a, b, &o);

	/* Even with a regression in the numbers, 10 samples cannot judge. */
	assert_int_equal(diff__verdict(d), DIFF_TOO_FEW);
	const struct diff_row *r = row(d, "brand_new");
	assert_int_equal(r->base_total, 0);
	assert_true(r->new_self_pct > 49.9);
	diff__free(d);
	o.min_samples = 10;
	d = diff__new(a, b, &o);
	assert_int_equal(diff__verdict(d), DIFF_REGRESSION);
	diff__free(d);
	/* Empty profiles are "too few", never a division by zero. */
	struct profile *e = profile__new();
	o.min_samples = 1;
	d = diff__new(e, e, &o);
	assert_int_equal(diff__verdict(d), DIFF_TOO_FEW);
	assert_int_equal(diff__nr_rows(d), 0);
	diff__free(d);
	profile__free(e);
	profile__free(a);
	profile__free(b);
}

static char *report(const struct diff *d, enum diff_output fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(diff__write(d, fmt, f), 0);
	fclose(f);
	return buf;
}

static void test_diff__reports(void **state)
{
	(void)state;
	struct profile *a = folded(base_txt),
		       *b = folded(
			   "app;main;work;compute 800\napp;main;io;read 800\n"
			   "app;main;parse|pipe 400\n");
	struct diff_opts o = {.threshold_pp = 5,
			      .min_samples = 100,
			      .limit = 3,
			      .base_name = "base.pb.gz",
			      .new_name = "new.pb.gz"};
	struct diff *d = diff__new(a, b, &o);
	char *t = report(d, DIFF_TEXT);

	assert_non_null(strstr(t, "base: base.pb.gz (1000 samples)"));
	assert_non_null(
	    strstr(t, "regression: 2 functions grew by more than 5.00 pp"));
	assert_non_null(strstr(t, "read  <-- regression"));
	assert_non_null(strstr(t, "more functions; --limit 0 shows all"));
	free(t);

	t = report(d, DIFF_MARKDOWN);
	assert_non_null(strstr(t, "### :x: kiln diff: regression"));
	assert_non_null(strstr(t, "| Function | Base self |"));
	assert_non_null(strstr(t, "parse\\|pipe")); /* '|' escaped in a cell */
	assert_non_null(
	    strstr(t, "| **read** | 20.00% | 40.00% | +20.00 pp |"));
	free(t);

	t = report(d, DIFF_JSON);
	char path[] = "/tmp/kiln-test-diff-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
	close(fd);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));"
		 "assert d[\"verdict\"]==\"regression\"; assert "
		 "d[\"regressions\"]==2;"
		 "assert len(d[\"functions\"])==3; f=d[\"functions\"][0];"
		 "assert f[\"name\"] in (\"read\",\"parse|pipe\") and "
		 "f[\"regression\"];"
		 "assert d[\"base\"][\"samples\"]==1000' %s",
		 path);
	assert_int_equal(system(cmd), 0);
	unlink(path);
	free(t);
	diff__free(d);
	profile__free(a);
	profile__free(b);
}

static void test_diff__top_table(void **state)
{
	(void)state;
	struct profile *a = folded(base_txt);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(diff__write_top(a, 2, f), 0);
	fclose(f);
	assert_non_null(strstr(
	    buf, "Showing nodes accounting for 800, 80.00% of 1000 total"));
	assert_non_null(
	    strstr(buf, "       600 60.00% 60.00%        600 60.00%  compute"));
	/* ties by name, like pprof: parse before read */
	assert_non_null(strstr(buf, "  parse\n"));
	assert_null(strstr(buf, "read"));
	free(buf);
	profile__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff__shares_and_order),
	    cmocka_unit_test(test_diff__total_metric_and_recursion),
	    cmocka_unit_test(test_diff__too_few_and_new_functions),
	    cmocka_unit_test(test_diff__reports),
	    cmocka_unit_test(test_diff__top_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
