// SPDX-License-Identifier: MIT
/*
 * A workload with a known CPU split, for kiln's integration tests: per
 * round, func_a burns 5 units, func_b 3 and func_c 2, so 50% / 30% / 20%
 * of its CPU time. Built with frame pointers so stacks unwind.
 * Usage: cpu_split SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void burn(unsigned long units)
{
	for (unsigned long i = 0; i < units * 200000UL; i++)
		sink += i ^ (sink >> 3);
}

__attribute__((noinline)) void func_a(void)
{
	burn(5);
}

__attribute__((noinline)) void func_b(void)
{
	burn(3);
}

__attribute__((noinline)) void func_c(void)
{
	burn(2);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		func_a();
		func_b();
		func_c();
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((double)(now.tv_sec - start.tv_sec) +
		     (now.tv_nsec - start.tv_nsec) / 1e9 <
		 secs);
	printf("%lu\n", sink & 1);
	return 0;
}
