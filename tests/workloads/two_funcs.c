// SPDX-License-Identifier: MIT
/*
 * Two functions whose loops span many instructions, so samples land on
 * many addresses inside each; kiln's tests strip the binary and expect one
 * frame name per function (module + function start from .eh_frame).
 * Usage: two_funcs SECONDS
 */
#include <stdlib.h>
#include <time.h>

#ifndef VARIANT
#define VARIANT 0
#endif

static volatile unsigned long sink = VARIANT;

__attribute__((noinline)) void hot_one(void)
{
	for (unsigned long i = 0; i < 400000UL; i++) {
		sink += i ^ (sink >> 3);
		sink ^= sink << 7;
		sink += sink / 3 + i % 7;
		sink -= (sink >> 11) * 5;
	}
}

__attribute__((noinline)) void hot_two(void)
{
	for (unsigned long i = 0; i < 400000UL; i++) {
		sink ^= i * 2654435761UL;
		sink += (sink >> 5) % 13;
		sink *= 3;
		sink -= i / 9;
	}
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		hot_one();
		hot_two();
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec +
		     (now.tv_nsec - start.tv_nsec) / 1e9 <
		 secs);
	return (int)(sink & 1);
}
