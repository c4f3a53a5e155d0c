// SPDX-License-Identifier: MIT
/*
 * A stand-in for a loaded machine's other work, for bench/unwind.sh
 * (KILN_BENCH_LOAD=N): reads random bytes of a large buffer until a time
 * is up, so the caches and the TLB hold its lines and pages instead of
 * kiln's between two samples, as they do when other jobs run.
 *
 * usage: cache_thrash MIB SECONDS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	size_t n = argc == 3 ? (size_t)strtoul(argv[1], NULL, 10) << 20 : 0;
	long secs = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
	volatile uint8_t *p;
	uint64_t x = 88172645463325252ULL, sum = 0;
	time_t end;

	if (!n || n > (64ULL << 30) || secs <= 0) {
		fprintf(stderr, "usage: cache_thrash MIB SECONDS\n");
		return 2;
	}
	p = malloc(n);
	if (!p) {
		fprintf(stderr, "cache_thrash: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	end = time(NULL) + secs;
	while (time(NULL) < end) {
		for (int k = 0; k < 1000000; k++) {
			x ^= x << 13; /* xorshift64 */
			x ^= x >> 7;
			x ^= x << 17;
			sum += p[x % n];
		}
	}
	return (int)(sum & 0);
}
