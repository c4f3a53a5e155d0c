// SPDX-License-Identifier: MIT
/*
 * Unit tests of the sampler's record check (sampler__unpack): a ring-buffer
 * record is the head of a kiln_sample and exactly the frames its lengths
 * say. Records are placed so that they end at a page the process may not
 * read: a check that reads one byte past a record crashes the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "profiler/sampler.h"

struct guarded {
	char *base;
	size_t page;
};

static int setup(void **state)
{
	struct guarded *g = calloc(1, sizeof(*g));

	if (!g)
		return -1;
	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->base = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->base == MAP_FAILED ||
	    mprotect(g->base + g->page, g->page, PROT_NONE)) {
		free(g);
		return -1;
	}
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	struct guarded *g = *state;

	munmap(g->base, 2 * g->page);
	free(g);
	return 0;
}

/* A record of 'size' bytes ending at the guard page: a head with these
 * lengths, then frames numbered 1, 2, ... for as many as fit. */
static const void *record(struct guarded *g, size_t size, int32_t klen,
			  int32_t ulen)
{
	char *r = g->base + g->page - size;
	struct kiln_sample head = {0};

	head.pid = 42;
	head.tid = 43;
	head.cgroup_id = 0x1234;
	head.kstack_len = klen;
	head.ustack_len = ulen;
	memcpy(head.comm, "deep", 5);
	memset(g->base, 0xee, g->page);
	memcpy(r, &head,
	       size < KILN_SAMPLE_HEAD_SIZE ? size : KILN_SAMPLE_HEAD_SIZE);
	for (size_t i = 0; KILN_SAMPLE_HEAD_SIZE + (i + 1) * 8 <= size; i++) {
		uint64_t v = i + 1;

		memcpy(r + KILN_SAMPLE_HEAD_SIZE + i * 8, &v, 8);
	}
	return r;
}

static size_t size_of(uint32_t frames)
{
	return KILN_SAMPLE_HEAD_SIZE + (size_t)frames * 8;
}

static void test_sampler__unpacks_what_the_lengths_say(void **state)
{
	struct guarded *g = *state;
	static struct kiln_sample out;

	/* 3 kernel frames, then 5 user frames. */
	assert_int_equal(
	    sampler__unpack(record(g, size_of(8), 3, 5), size_of(8), &out), 0);
	assert_int_equal(out.pid, 42);
	assert_int_equal(out.tid, 43);
	assert_int_equal(out.cgroup_id, 0x1234);
	assert_string_equal(out.comm, "deep");
	assert_int_equal(out.kstack_len, 3);
	assert_int_equal(out.ustack_len, 5);
	for (int i = 0; i < 3; i++)
		assert_int_equal(out.kstack[i], i + 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(out.ustack[i], 3 + i + 1);

	/* No kernel part (an -errno): the frames are all the user's. */
	assert_int_equal(sampler__unpack(record(g, size_of(2), -EFAULT, 2),
					 size_of(2), &out),
			 0);
	assert_int_equal(out.kstack_len, -EFAULT);
	assert_int_equal(out.ustack[0], 1);
	assert_int_equal(out.ustack[1], 2);

	/* An unreadable user stack after a kernel one. */
	assert_int_equal(sampler__unpack(record(g, size_of(4), 4, -EFAULT),
					 size_of(4), &out),
			 0);
	assert_int_equal(out.kstack[3], 4);

	/* Only the head: a kernel thread's sample, nothing readable. */
	assert_int_equal(
	    sampler__unpack(record(g, size_of(0), 0, 0), size_of(0), &out), 0);

	/* The largest record: both stacks at the limit. */
	assert_int_equal(sampler__unpack(record(g, size_of(2 * KILN_MAX_STACK),
						KILN_MAX_STACK, KILN_MAX_STACK),
					 size_of(2 * KILN_MAX_STACK), &out),
			 0);
	assert_int_equal(out.kstack[KILN_MAX_STACK - 1], KILN_MAX_STACK);
	assert_int_equal(out.ustack[0], KILN_MAX_STACK + 1);
	assert_int_equal(out.ustack[KILN_MAX_STACK - 1], 2 * KILN_MAX_STACK);
	assert_int_equal(size_of(2 * KILN_MAX_STACK),
			 sizeof(struct kiln_sample));
}

static void test_sampler__rejects_records_that_disagree(void **state)
{
	struct guarded *g = *state;
	static struct kiln_sample out;

	/* One frame short, one frame more, a partial frame. */
	assert_int_equal(
	    sampler__unpack(record(g, size_of(7), 3, 5), size_of(7), &out),
	    -EINVAL);
	assert_int_equal(
	    sampler__unpack(record(g, size_of(9), 3, 5), size_of(9), &out),
	    -EINVAL);
	assert_int_equal(sampler__unpack(record(g, size_of(8) - 4, 3, 5),
					 size_of(8) - 4, &out),
			 -EINVAL);
	/* The old fixed-size record: its lengths do not fill it. */
	assert_int_equal(
	    sampler__unpack(record(g, sizeof(out), 3, 5), sizeof(out), &out),
	    -EINVAL);
	/* Lengths out of range, even when the size matches them. */
	assert_int_equal(sampler__unpack(record(g, size_of(KILN_MAX_STACK + 1),
						KILN_MAX_STACK + 1, 0),
					 size_of(KILN_MAX_STACK + 1), &out),
			 -EINVAL);
	assert_int_equal(sampler__unpack(record(g, size_of(2 * KILN_MAX_STACK),
						0, 2 * KILN_MAX_STACK),
					 size_of(2 * KILN_MAX_STACK), &out),
			 -EINVAL);
	assert_int_equal(sampler__unpack(record(g, size_of(0), INT32_MIN, 0),
					 size_of(0), &out),
			 -EINVAL);
	assert_int_equal(sampler__unpack(record(g, size_of(1), 1, INT32_MAX),
					 size_of(1), &out),
			 -EINVAL);
	/* Shorter than a head: not even its lengths are read. */
	for (size_t n = 0; n < KILN_SAMPLE_HEAD_SIZE; n++)
		assert_int_equal(sampler__unpack(record(g, n, 0, 0), n, &out),
				 -EINVAL);
}

/* Every combination of lengths and sizes around the right one: accepted
 * exactly when the size is the head plus the frames the lengths say. */
static void test_sampler__accepts_exactly_consistent_records(void **state)
{
	struct guarded *g = *state;
	static struct kiln_sample out;
	static const int32_t lens[] = {-4096, -4095, -14, -1,  0,   1,
				       2,     63,    126, 127, 128, 1000};
	size_t accepted = 0;

	for (size_t a = 0; a < sizeof(lens) / sizeof(lens[0]); a++)
		for (size_t b = 0; b < sizeof(lens) / sizeof(lens[0]); b++) {
			int32_t k = lens[a], u = lens[b];
			int in_range = k >= -4095 && k <= KILN_MAX_STACK &&
				       u >= -4095 && u <= KILN_MAX_STACK;
			uint32_t frames = (uint32_t)(k > 0 ? k : 0) +
					  (uint32_t)(u > 0 ? u : 0);

			for (int d = -9; d <= 9; d++) {
				long size = (long)size_of(frames) + d;
				int ok;

				if (size < 0 || (size_t)size > g->page)
					continue;
				ok = sampler__unpack(
					 record(g, (size_t)size, k, u),
					 (size_t)size, &out) == 0;
				assert_int_equal(ok, in_range && d == 0);
				accepted += ok;
			}
		}
	assert_int_equal(accepted, 9 * 9); /* 9 lengths in range */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sampler__unpacks_what_the_lengths_say),
	    cmocka_unit_test(test_sampler__rejects_records_that_disagree),
	    cmocka_unit_test(test_sampler__accepts_exactly_consistent_records),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
