// SPDX-License-Identifier: MIT
/*
 * Unit tests of the profiler's own pieces: the profile model, the folded
 * writer, the process table and the collector (fed hand-made samples, with
 * the real symbolizer on this test's own process).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiler/collector.h"
#include "profile/format.h"
#include "profiler/proc_table.h"
#include "profile/profile.h"
#include "symbolizer/symbolizer.h"

static uint32_t series(struct profile *p, const char *comm, const char *pid)
{
	struct label l[2] = {
	    {profile__intern(p, LABEL_PID), profile__intern(p, pid)},
	    {profile__intern(p, LABEL_COMM), profile__intern(p, comm)},
	};

	return profile__add_series(p, l, 2);
}

static uint32_t stack2(struct profile *p, const char *a, enum frame_kind ka,
		       const char *b, enum frame_kind kb)
{
	uint32_t f[2] = {profile__add_named_frame(p, a, ka),
			 profile__add_named_frame(p, b, kb)};

	return profile__add_stack(p, f, 2);
}

static void test_profiler__interning_dedups(void **state)
{
	struct profile *p = profile__new();
	struct label ab[2], ba[2];

	(void)state;
	assert_int_equal(profile__intern(p, ""), 0);
	assert_int_equal(profile__intern(p, "x"), profile__intern(p, "x"));
	assert_int_not_equal(profile__intern(p, "x"), profile__intern(p, "y"));
	assert_int_equal(stack2(p, "a", FRAME_USER, "b", FRAME_USER),
			 stack2(p, "a", FRAME_USER, "b", FRAME_USER));
	/* Same name, other kind: another frame. */
	assert_int_not_equal(profile__add_named_frame(p, "a", FRAME_USER),
			     profile__add_named_frame(p, "a", FRAME_KERNEL));
	/* Label order does not change a series' identity. */
	ab[0] =
	    (struct label){profile__intern(p, "k1"), profile__intern(p, "v1")};
	ab[1] =
	    (struct label){profile__intern(p, "k2"), profile__intern(p, "v2")};
	ba[0] = ab[1];
	ba[1] = ab[0];
	assert_int_equal(profile__add_series(p, ab, 2),
			 profile__add_series(p, ba, 2));
	assert_string_equal(
	    profile__series_label(p, profile__add_series(p, ab, 2), "k2"),
	    "v2");
	assert_null(
	    profile__series_label(p, profile__add_series(p, ab, 2), "k3"));
	profile__free(p);
}

static void test_profiler__compact_and_merge(void **state)
{
	struct profile *p = profile__new(), *q = profile__new();
	uint32_t s = series(p, "app", "1");
	uint32_t st = stack2(p, "main", FRAME_USER, "work", FRAME_USER);
	const struct sample *out;
	size_t n;

	(void)state;
	profile__add_sample(p, s, st, 1000000000, 2);
	profile__add_sample(p, s, st, 1015000000, 3); /* the next 10 ms */
	profile__add_sample(p, s, st, 1009999999, 4); /* the first 10 ms */
	profile__compact(p, 10000000);
	out = profile__samples(p, &n);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].count, 6);
	assert_int_equal(out[1].count, 3);
	assert_int_equal(profile__total(p), 9);
	profile__merge(q, p);
	profile__merge(q, p);
	profile__compact(q, 0);
	out = profile__samples(q, &n);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].count, 18);
	assert_string_equal(profile__series_label(q, out[0].series, LABEL_COMM),
			    "app");
	profile__free(p);
	profile__free(q);
}

/* Writes 'p' as folded text into 'buf'. */
static void folded(const struct profile *p, bool with_pid, char *buf,
		   size_t size)
{
	struct write_opts o = {.with_pid = with_pid};
	FILE *f = fmemopen(buf, size, "w");

	assert_non_null(f);
	assert_int_equal(folded__write(p, &o, f), 0);
	fclose(f);
}

static void test_profiler__folded_writer(void **state)
{
	struct profile *p = profile__new();
	char buf[4096];

	(void)state;
	/* Two pids of one comm merge; kinds get their suffixes; ';' in a
	 * name cannot split a frame; lines sort by count. */
	profile__add_sample(p, series(p, "app", "1"),
			    stack2(p, "main", FRAME_USER, "read", FRAME_KERNEL),
			    0, 2);
	profile__add_sample(p, series(p, "app", "2"),
			    stack2(p, "main", FRAME_USER, "read", FRAME_KERNEL),
			    0, 3);
	profile__add_sample(p, series(p, "app", "2"),
			    stack2(p, "a;b", FRAME_USER, "inl", FRAME_INLINED),
			    0, 1);
	profile__add_sample(
	    p, series(p, "vm", "3"),
	    stack2(p, "jitted", FRAME_JIT, "[lost user stack]", FRAME_SPECIAL),
	    0, 7);
	folded(p, false, buf, sizeof(buf));
	assert_string_equal(buf, "vm;jitted_[j];[lost user stack] 7\n"
				 "app;main;read_[k] 5\n"
				 "app;a:b;inl_[i] 1\n");
	folded(p, true, buf, sizeof(buf));
	assert_non_null(strstr(buf, "app-2;main;read_[k] 3\n"));
	assert_non_null(strstr(buf, "app-1;main;read_[k] 2\n"));
	profile__free(p);
}

static void test_profiler__proc_table_events(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct proc_table *t = proc_table__new(sym);
	struct task_event e = {0};
	struct proc_info *p;

	(void)state;
	e.type = TASK_COMM, e.pid = e.tid = 900001, e.comm = "parent";
	proc_table__handle(t, &e);
	e = (struct task_event){.type = TASK_MMAP,
				.pid = 900001,
				.tid = 900001,
				.addr = 0x1000,
				.len = 0x1000,
				.filename = "/bin/true"};
	proc_table__handle(t, &e);
	/* The child's exec arrives before its fork (another CPU's buffer). */
	e = (struct task_event){.type = TASK_COMM,
				.pid = 900002,
				.tid = 900002,
				.comm = "child",
				.exec = true};
	proc_table__handle(t, &e);
	e = (struct task_event){.type = TASK_MMAP,
				.pid = 900002,
				.tid = 900002,
				.addr = 0x5000,
				.len = 0x2000,
				.filename = "/bin/ls"};
	proc_table__handle(t, &e);
	e = (struct task_event){.type = TASK_FORK,
				.pid = 900002,
				.tid = 900002,
				.ppid = 900001,
				.ptid = 900001};
	proc_table__handle(t, &e);
	p = proc_table__find(t, 900002);
	assert_non_null(p);
	assert_string_equal(p->comm, "child");
	assert_string_equal(p->exe, "/bin/ls");
	assert_null(proc_info__lookup(p, 0x1000)); /* not the parent's */
	assert_non_null(proc_info__lookup(p, 0x6fff));
	assert_null(proc_info__lookup(p, 0x7000));
	/* A new mmap over an old range replaces it. */
	e = (struct task_event){.type = TASK_MMAP,
				.pid = 900002,
				.tid = 900002,
				.addr = 0x6000,
				.len = 0x1000,
				.filename = "/bin/cat"};
	proc_table__handle(t, &e);
	assert_null(proc_info__lookup(p, 0x5000));
	assert_string_equal(proc_info__lookup(p, 0x6000)->map.path, "/bin/cat");
	/* Exit with nothing pending: gone after one more drain. */
	e = (struct task_event){
	    .type = TASK_EXIT, .pid = 900002, .tid = 900002};
	proc_table__handle(t, &e);
	proc_table__sweep(t);
	assert_non_null(proc_table__find(t, 900002));
	proc_table__sweep(t);
	assert_null(proc_table__find(t, 900002));
	/* pid 900001 never existed in the kernel: pruned. */
	assert_int_equal(proc_table__prune(t), 1);
	assert_int_equal(proc_table__count(t), 0);
	proc_table__free(t);
	symbolizer__free(sym);
}

__attribute__((noinline)) static void marker_function(void)
{
	__asm__ volatile("" ::: "memory");
}

static void test_profiler__collector_symbolizes_and_counts_losses(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct proc_table *t = proc_table__new(sym);
	struct collector_opts o = {.host = "h1"};
	struct collector *c = collector__new(sym, t, &o);
	struct profile *p = profile__new();
	static struct kiln_sample s;
	char buf[8192];

	(void)state;
	marker_function();
	memset(&s, 0, sizeof(s));
	s.pid = s.tid = (uint32_t)getpid();
	snprintf(s.comm, sizeof(s.comm), "thread-name");
	s.ustack_len = 2;
	/* The leaf is the sampled instruction itself (the function may be a
	 * lone 'ret'); callers' entries are return addresses. */
	s.ustack[0] = (uint64_t)(uintptr_t)marker_function;
	s.ustack[1] = 0x10;	/* garbage from a frame-pointer walk */
	s.kstack_len = -EFAULT; /* user mode: no kernel part */
	collector__add(c, &s);
	collector__add(c, &s);
	s.ustack_len = -EFAULT; /* unreadable user stack */
	collector__add(c, &s);
	s.ustack_len = KILN_MAX_STACK; /* truncated */
	for (int i = 0; i < KILN_MAX_STACK; i++)
		s.ustack[i] = (uint64_t)(uintptr_t)marker_function + (i > 0);
	collector__add(c, &s);
	collector__add_lost(c, "ring buffer full", 5, 0);
	assert_int_equal(collector__pending(c), 9);
	/* Objects are read by the symbolizer's loader thread. */
	collector__request_objects(c);
	symbolizer__object_collect(sym, 10000, proc_table__object_loaded, t);
	assert_int_equal(collector__flush(c, p), 9);
	assert_int_equal(profile__total(p), 9);
	assert_int_equal(collector__pending(c), 0);
	folded(p, false, buf, sizeof(buf));
	/* The process's name, not the thread's, roots the stack. */
	assert_null(strstr(buf, "thread-name"));
	assert_non_null(strstr(buf, ";[unknown];marker_function 2\n"));
	assert_non_null(strstr(buf, ";[lost user stack] 1\n"));
	assert_non_null(strstr(buf, ";[truncated];marker_function;"));
	assert_non_null(strstr(buf, ";marker_function;marker_function 1\n"));
	assert_non_null(strstr(buf, "[lost];[lost: ring buffer full] 5\n"));
	const struct sample *smp;
	size_t n;
	smp = profile__samples(p, &n);
	assert_string_equal(profile__series_label(p, smp[0].series, LABEL_HOST),
			    "h1");
	collector__free(c);
	proc_table__free(t);
	symbolizer__free(sym);
	profile__free(p);
}

/* Interning keeps stacks apart that differ in one address or only in
 * where the kernel part ends, window after window in reused arrays. */
static void test_profiler__collector_merges_exactly_across_windows(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct proc_table *t = proc_table__new(sym);
	struct collector_opts o = {0};
	struct collector *c = collector__new(sym, t, &o);
	static struct kiln_sample a, b, k;

	(void)state;
	/* No such process, and kernel addresses below any symbol: every
	 * frame stays unresolved, told apart by its address. */
	a.pid = a.tid = 3999999;
	snprintf(a.comm, sizeof(a.comm), "fake");
	a.kstack_len = 40;
	for (int i = 0; i < 40; i++)
		a.kstack[i] = 0x1000 + (uint64_t)i * 8;
	a.ustack_len = 1;
	a.ustack[0] = 0x400000;
	b = a;
	b.kstack[39] += 1; /* the root frame differs */
	k = a;		   /* the same words, split differently */
	k.kstack_len = 39;
	k.ustack_len = 2;
	k.ustack[0] = a.kstack[39];
	k.ustack[1] = a.ustack[0];
	for (int w = 0; w < 3; w++) {
		struct profile *p = profile__new();
		const struct sample *smp;
		uint64_t per_stack[8] = {0};
		size_t n;

		for (int i = 0; i < 3 + w; i++)
			collector__add(c, &a);
		collector__add(c, &b);
		collector__add(c, &b);
		collector__add(c, &k);
		assert_int_equal(collector__flush(c, p), 6 + w);
		assert_int_equal(profile__nr_stacks(p), 3);
		smp = profile__samples(p, &n);
		for (size_t i = 0; i < n; i++)
			per_stack[smp[i].stack] += smp[i].count;
		/* Stack ids follow first sight: a, then b, then k. */
		assert_int_equal(per_stack[0], 3 + w);
		assert_int_equal(per_stack[1], 2);
		assert_int_equal(per_stack[2], 1);
		profile__free(p);
	}
	collector__free(c);
	proc_table__free(t);
	symbolizer__free(sym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_profiler__interning_dedups),
	    cmocka_unit_test(test_profiler__compact_and_merge),
	    cmocka_unit_test(test_profiler__folded_writer),
	    cmocka_unit_test(test_profiler__proc_table_events),
	    cmocka_unit_test(
		test_profiler__collector_symbolizes_and_counts_losses),
	    cmocka_unit_test(
		test_profiler__collector_merges_exactly_across_windows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
