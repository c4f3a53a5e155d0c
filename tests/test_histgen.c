// SPDX-License-Identifier: MIT
/*
 * The synthetic history generator the tests and benches share: the same
 * seed gives the same history, the shapes and draws are the ones its
 * header promises, and a window's profile names what the draw said.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/log.h"
#include "profile/profile.h"
#include "tests/histgen.h"

#define NS 1000000000ULL
#define T0 (1763596800ULL * NS)

static const struct histgen_opts programs = {
    .seed = 7,
    .shape = HISTGEN_PROGRAMS,
    .stacks = 20,
    .stacks_max = 40,
    .funcs = 30,
    .depth_min = 6,
    .depth_max = 12,
    .stack_pick = HISTGEN_ZIPF,
    .stack_zipf = 1.1,
    .programs = 5,
    .program_zipf = 0.8,
    .pid_base = 1000,
    .live = 10,
    .live_pick = HISTGEN_ZIPF,
    .live_zipf = 1.0,
    .churn_per_hour = 4,
    .start_ns = T0,
    .hours = 3,
    .agent_labels = 1,
    .idle_percent = 25,
    .step_ns = 10000000,
};

static void test_histgen__same_seed_same_history(void **state)
{
	struct histgen *a = histgen__new(&programs);
	struct histgen *b = histgen__new(&programs);
	struct histgen_sample sa[2000], sb[2000];

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	histgen__draw(a, T0, T0 + 10 * NS, 2000, sa);
	histgen__draw(b, T0, T0 + 10 * NS, 2000, sb);
	assert_memory_equal(sa, sb, sizeof(sa));
	/* Another seed, another history. */
	histgen__seed(b, 8);
	histgen__draw(a, T0, T0 + 10 * NS, 2000, sa);
	histgen__draw(b, T0, T0 + 10 * NS, 2000, sb);
	assert_memory_not_equal(sa, sb, sizeof(sa));
	histgen__free(a);
	histgen__free(b);
}

static void test_histgen__samples_on_grid_with_idle_share(void **state)
{
	struct histgen *g = histgen__new(&programs);
	struct histgen_sample s[4000];
	size_t idle = 0;

	(void)state;
	histgen__draw(g, T0 + 20 * NS, T0 + 30 * NS, 4000, s);
	for (size_t i = 0; i < 4000; i++) {
		assert_true(s[i].time_ns >= T0 + 20 * NS);
		assert_true(s[i].time_ns < T0 + 30 * NS);
		assert_int_equal(s[i].time_ns % 10000000, 0);
		assert_int_equal(s[i].count, 1);
		if (s[i].process == HISTGEN_IDLE)
			idle++;
		else
			assert_true(s[i].process < programs.live);
	}
	assert_in_range(idle, 800, 1200); /* 25% of 4000 */
	histgen__free(g);
}

/* Every hour after start_ns, churn_per_hour new pids, up to 'hours'. */
static void test_histgen__pids_churn_every_hour(void **state)
{
	struct histgen *g = histgen__new(&programs);
	struct histgen_sample s[3000];
	struct histgen_stats st;
	size_t newer = 0;

	(void)state;
	histgen__stats(g, &st);
	assert_int_equal(st.processes, 10);
	histgen__draw(g, T0 + 3590 * NS, T0 + 3600 * NS, 10, s);
	histgen__stats(g, &st);
	assert_int_equal(st.processes, 10);
	histgen__draw(g, T0 + 2 * 3600 * NS, T0 + 2 * 3600 * NS + 10 * NS, 3000,
		      s);
	histgen__stats(g, &st);
	assert_int_equal(st.processes, 18);
	for (size_t i = 0; i < 3000; i++)
		if (s[i].process != HISTGEN_IDLE && s[i].process >= 10)
			newer++;
	assert_true(newer > 0);
	/* No more than 'hours' + 1 hours' worth of pids. */
	histgen__draw(g, T0 + 30 * 3600 * NS, T0 + 30 * 3600 * NS + 10 * NS, 1,
		      s);
	histgen__stats(g, &st);
	assert_int_equal(st.processes, 10 + 4 * 4);
	histgen__free(g);
}

static void count_picks(enum histgen_pick how, size_t n, size_t draws,
			size_t *hist)
{
	struct histgen_opts o = {
	    .shape = HISTGEN_FLAT,
	    .stacks = n,
	    .exe = "/usr/bin/x",
	    .programs = 1,
	    .live = 1,
	    .stack_pick = how,
	    .stack_zipf = 1.0,
	};
	struct histgen *g = histgen__new(&o);
	struct histgen_sample *s = calloc(draws, sizeof(*s));

	assert_non_null(g);
	assert_non_null(s);
	histgen__draw(g, T0, T0 + NS, draws, s);
	memset(hist, 0, n * sizeof(*hist));
	for (size_t i = 0; i < draws; i++) {
		assert_true(s[i].stack < n);
		hist[s[i].stack]++;
	}
	free(s);
	histgen__free(g);
}

static void test_histgen__stack_distributions(void **state)
{
	size_t h[100], low = 0, high = 0;

	(void)state;
	count_picks(HISTGEN_EACH, 100, 300, h);
	for (int i = 0; i < 100; i++)
		assert_int_equal(h[i], 3);
	/* Zipf, s = 1 over 100 ranks: rank 1 has ~19% of the draws, rank
	 * 100 ~0.2%. */
	count_picks(HISTGEN_ZIPF, 100, 20000, h);
	assert_in_range(h[0], 3400, 4300);
	assert_true(h[99] < 150);
	count_picks(HISTGEN_SQUARE, 100, 20000, h);
	for (int i = 0; i < 50; i++)
		low += h[i], high += h[50 + i];
	assert_true(low > 2 * high);
	/* Cube: index 0 takes u < 0.01^(1/3), ~21.5%; the lower half
	 * 0.5^(1/3), ~79%. */
	count_picks(HISTGEN_CUBE, 100, 20000, h);
	assert_in_range(h[0], 3800, 4800);
	low = high = 0;
	for (int i = 0; i < 50; i++)
		low += h[i], high += h[50 + i];
	assert_true(low > 3 * high);
	count_picks(HISTGEN_UNIFORM, 100, 20000, h);
	for (int i = 0; i < 100; i++)
		assert_in_range(h[i], 100, 300);
}

/* The flat shape decodes back: pid to process, leaf_k to stack k. */
static void test_histgen__flat_profile_names_the_draw(void **state)
{
	static const char *const comms[] = {"postgres", "nginx", "kiln"};
	struct histgen_opts o = {
	    .shape = HISTGEN_FLAT,
	    .stacks = 12,
	    .exe = "/usr/bin/x",
	    .programs = 3,
	    .comms = comms,
	    .pid_base = 1000,
	    .live = 6,
	    .count_max = 3,
	};
	struct histgen *g = histgen__new(&o);
	struct histgen_sample s[500];
	struct profile *p;
	const struct sample *ps;
	size_t n;

	(void)state;
	histgen__draw(g, T0, T0 + 10 * NS, 500, s);
	p = histgen__profile(g, s, 500);
	ps = profile__samples(p, &n);
	assert_int_equal(n, 500);
	for (size_t i = 0; i < n; i++) {
		size_t depth;
		const uint32_t *fr = profile__stack(p, ps[i].stack, &depth);
		const char *leaf =
		    profile__str(p, profile__frame(p, fr[depth - 1])->name);
		char want[16];

		assert_int_equal(ps[i].time_ns, s[i].time_ns);
		assert_int_equal(ps[i].count, s[i].count);
		assert_in_range(s[i].count, 1, 3);
		snprintf(want, sizeof(want), "%u", 1000 + s[i].process);
		assert_string_equal(
		    profile__series_label(p, ps[i].series, LABEL_PID), want);
		assert_string_equal(
		    profile__series_label(p, ps[i].series, LABEL_COMM),
		    comms[s[i].process % 3]);
		assert_string_equal(
		    profile__series_label(p, ps[i].series, LABEL_EXE),
		    "/usr/bin/x");
		if (s[i].stack == 0) {
			assert_int_equal(depth, 1);
			assert_string_equal(leaf, "main");
		} else {
			snprintf(want, sizeof(want), "leaf_%u", s[i].stack);
			assert_int_equal(depth, 3);
			assert_string_equal(leaf, want);
		}
	}
	profile__free(p);
	histgen__free(g);
}

/* How a frame of a SERVICES stack looks, as push_load's windows rely on. */
static void check_service_frame(const struct profile *p, uint32_t id,
				const char *comm, int kernel)
{
	const struct frame *f = profile__frame(p, id);
	const char *name = profile__str(p, f->name);
	char want[64];

	if (kernel) {
		assert_int_equal(f->kind, FRAME_KERNEL);
		assert_string_equal(profile__str(p, f->module), "[kernel]");
		assert_true(strstr(name, "do_syscall_") == name ||
			    strstr(name, "__x64_sys_read_") == name);
		assert_true(f->addr >= 0xffffffff81000000ULL);
		return;
	}
	assert_true(f->kind == FRAME_USER || f->kind == FRAME_INLINED);
	snprintf(want, sizeof(want), "%s::detail::Component", comm);
	assert_ptr_equal(strstr(name, want), name);
	assert_non_null(strstr(name, "(Request const&)"));
	snprintf(want, sizeof(want), "src/%s/module", comm);
	assert_ptr_equal(strstr(profile__str(p, f->file), want),
			 profile__str(p, f->file));
	snprintf(want, sizeof(want), "/usr/bin/%s", comm);
	assert_string_equal(profile__str(p, f->module), want);
	assert_true(f->addr >= 0x400000);
}

/*
 * SERVICES: C++-style names per program, kernel tails of four frames on
 * every third stack, evenly spaced times with their jitter.
 */
static void test_histgen__services_window(void **state)
{
	static const char *const comms[] = {"postgres", "nginx", "envoy"};
	struct histgen *g = histgen__new(&(struct histgen_opts){
	    .shape = HISTGEN_SERVICES,
	    .stacks = 30,
	    .funcs = 40,
	    .depth_min = 8,
	    .depth_max = 12,
	    .stack_pick = HISTGEN_CUBE,
	    .programs = 3,
	    .comms = comms,
	    .pid_base = 1000,
	    .live = 6,
	    .live_pick = HISTGEN_CUBE,
	    .even_times = 1,
	    .jitter_ns = 5000000,
	});
	struct profile *p;
	const struct sample *ps;
	size_t n, tails = 0, inlined = 0;

	(void)state;
	assert_non_null(g);
	p = histgen__refill(g, T0, T0 + 10 * NS, 1000);
	ps = profile__samples(p, &n);
	assert_int_equal(n, 1000);
	for (size_t i = 0; i < n; i++) {
		const char *comm =
		    profile__series_label(p, ps[i].series, LABEL_COMM);
		char exe[64];
		size_t depth, user;
		const uint32_t *fr = profile__stack(p, ps[i].stack, &depth);

		/* The i-th of 1000 over 10 s: at i * 10 ms, plus < 5 ms. */
		assert_in_range(ps[i].time_ns, T0 + i * 10000000,
				T0 + i * 10000000 + 4999999);
		snprintf(exe, sizeof(exe), "/usr/bin/%s", comm);
		assert_string_equal(
		    profile__series_label(p, ps[i].series, LABEL_EXE), exe);
		user = profile__frame(p, fr[depth - 1])->kind == FRAME_KERNEL
			   ? depth - 4
			   : depth;
		assert_in_range(user, 8, 12);
		tails += user < depth;
		for (size_t d = 0; d < depth; d++) {
			check_service_frame(p, fr[d], comm, d >= user);
			inlined +=
			    profile__frame(p, fr[d])->kind == FRAME_INLINED;
		}
	}
	assert_true(tails > 0 && tails < n);
	assert_true(inlined > 0);
	/* A pool of 'stacks' per program (no two alike with this seed). */
	assert_int_equal(profile__nr_stacks(p), 3 * 30);
	histgen__free(g);
}

/* A fresh window's profile and the refilled one name the same stacks. */
static void test_histgen__profile_and_refill_agree(void **state)
{
	struct histgen *a = histgen__new(&programs);
	struct histgen *b = histgen__new(&programs);
	struct histgen_sample s[1000];
	struct profile *pa, *pb;
	const struct sample *xa, *xb;
	size_t na, nb;
	char fa[4096], fb[4096];

	(void)state;
	histgen__draw(a, T0, T0 + 10 * NS, 1000, s);
	pa = histgen__profile(a, s, 1000);
	pb = histgen__refill(b, T0, T0 + 10 * NS, 1000);
	xa = profile__samples(pa, &na);
	xb = profile__samples(pb, &nb);
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++) {
		size_t da, db;
		const uint32_t *sa = profile__stack(pa, xa[i].stack, &da);
		const uint32_t *sb = profile__stack(pb, xb[i].stack, &db);

		assert_int_equal(xa[i].time_ns, xb[i].time_ns);
		assert_int_equal(da, db);
		for (size_t d = 0; d < da; d++) {
			profile__frame_folded_name(pa, sa[d], fa, sizeof(fa));
			profile__frame_folded_name(pb, sb[d], fb, sizeof(fb));
			assert_string_equal(fa, fb);
		}
		assert_string_equal(
		    profile__series_label(pa, xa[i].series, LABEL_PID),
		    profile__series_label(pb, xb[i].series, LABEL_PID));
	}
	/* A refill rewrites the same samples in place. */
	assert_ptr_equal(histgen__refill(b, T0 + 10 * NS, T0 + 20 * NS, 1000),
			 pb);
	xb = profile__samples(pb, &nb);
	assert_int_equal(nb, 1000);
	assert_true(xb[0].time_ns >= T0 + 10 * NS);
	assert_int_equal(profile__meta(pb)->start_ns, T0 + 10 * NS);
	profile__free(pa);
	histgen__free(a);
	histgen__free(b);
}

static void test_histgen__bad_options_refused(void **state)
{
	struct histgen_opts o = programs;
	struct histgen *g;

	(void)state;
	o.live = 0;
	errno = 0;
	assert_null(histgen__new(&o));
	assert_int_equal(errno, EINVAL);
	o = programs;
	o.stacks_max = o.stacks;
	assert_null(histgen__new(&o));
	o = programs;
	o.depth_max = 1000;
	assert_null(histgen__new(&o));
	o = (struct histgen_opts){.shape = HISTGEN_TREE,
				  .stacks = 3,
				  .programs = 1,
				  .live = 1}; /* no exe */
	assert_null(histgen__new(&o));
	/* Room for the kernel tail below the deepest stack. */
	o = (struct histgen_opts){.shape = HISTGEN_SERVICES,
				  .stacks = 3,
				  .funcs = 10,
				  .depth_min = 8,
				  .depth_max = 125,
				  .programs = 1,
				  .live = 1};
	assert_null(histgen__new(&o));
	o.depth_max = 124;
	g = histgen__new(&o);
	assert_non_null(g);
	histgen__free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_histgen__same_seed_same_history),
	    cmocka_unit_test(test_histgen__samples_on_grid_with_idle_share),
	    cmocka_unit_test(test_histgen__pids_churn_every_hour),
	    cmocka_unit_test(test_histgen__stack_distributions),
	    cmocka_unit_test(test_histgen__flat_profile_names_the_draw),
	    cmocka_unit_test(test_histgen__services_window),
	    cmocka_unit_test(test_histgen__profile_and_refill_agree),
	    cmocka_unit_test(test_histgen__bad_options_refused),
	};

	log__init(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
