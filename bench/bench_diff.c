// SPDX-License-Identifier: MIT
/*
 * Formats bench: generates two pprof profiles of N samples each with
 * (nearly) all-distinct stacks through kiln's pprof writer, and reports
 * the writer's and reader's throughput. bench/formats.sh then times
 * `kiln diff` against `go tool pprof -top -diff_base` on the two files.
 *
 *   bench_diff BASE.pb.gz NEW.pb.gz [SAMPLES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "profile/format.h"

#define NR_FUNCS 5000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* 'skew' makes a band of functions more likely as leaves in the new
 * profile, so the diff has real regressions to find. */
static struct profile *generate(size_t samples, uint64_t seed, int skew)
{
	struct profile *p = profile__new();
	uint32_t funcs[NR_FUNCS], stack[32];
	char name[64], file[64];

	rng_state = seed;
	for (int i = 0; i < NR_FUNCS; i++) {
		struct frame f = {0};

		snprintf(name, sizeof(name), "pkg%d::function_%d", i % 50, i);
		snprintf(file, sizeof(file), "src/pkg%d/file%d.c", i % 50,
			 i % 400);
		f.name = profile__intern(p, name);
		f.file = profile__intern(p, file);
		f.module = profile__intern(p, i < 4000 ? "/usr/bin/app"
						       : "/usr/lib/libc.so.6");
		f.line = 10 + (uint32_t)i % 900;
		f.addr = 0x10000 + (uint64_t)i * 64;
		f.kind = (i % 37 == 5) ? FRAME_INLINED : FRAME_USER;
		funcs[i] = profile__add_frame(p, &f);
	}
	struct label l[3] = {
	    {profile__intern(p, "comm"), profile__intern(p, "app")},
	    {profile__intern(p, "pid"), profile__intern(p, "1234")},
	    {profile__intern(p, "host"), profile__intern(p, "bench")},
	};
	uint32_t series = profile__add_series(p, l, 3);
	for (size_t s = 0; s < samples; s++) {
		size_t depth = 10 + rnd(20);

		stack[0] = funcs[0];
		for (size_t d = 1; d < depth; d++)
			stack[d] = funcs[1 + rnd(NR_FUNCS - 1)];
		if (skew && rnd(10) == 0)
			stack[depth - 1] = funcs[100 + rnd(10)];
		profile__add_sample(p, series,
				    profile__add_stack(p, stack, depth), 0, 1);
	}
	profile__meta(p)->period_ns = 10101010;
	return p;
}

static int write_timed(const struct profile *p, const char *path)
{
	FILE *f = fopen(path, "wb");
	double t0 = now();
	int err;

	if (!f) {
		perror(path);
		return 1;
	}
	err = profile__write(p, FORMAT_PPROF, NULL, f);
	fclose(f);
	double dt = now() - t0;
	if (err) {
		fprintf(stderr, "write '%s' failed: %d\n", path, err);
		return 1;
	}
	printf("pprof write: %zu samples, %zu stacks in %.2f s = %.0f "
	       "samples/s (%s)\n",
	       (size_t)profile__total(p), profile__nr_stacks(p), dt,
	       (double)profile__total(p) / dt, path);
	return 0;
}

int main(int argc, char **argv)
{
	size_t samples = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000;
	char err[256];

	if (argc < 3) {
		fprintf(stderr,
			"usage: bench_diff BASE.pb.gz NEW.pb.gz [SAMPLES]\n");
		return 2;
	}
	struct profile *a = generate(samples, 0x9e3779b97f4a7c15ull, 0);
	struct profile *b = generate(samples, 0xda942042e4dd58b5ull, 1);
	if (write_timed(a, argv[1]) || write_timed(b, argv[2]))
		return 1;
	profile__free(a);
	profile__free(b);

	struct profile *r = profile__new();
	double t0 = now();
	if (profile__read_file(r, argv[1], NULL, err, sizeof(err))) {
		fprintf(stderr, "read failed: %s\n", err);
		return 1;
	}
	double dt = now() - t0;
	printf(
	    "pprof read:  %zu samples, %zu stacks in %.2f s = %.0f samples/s\n",
	    (size_t)profile__total(r), profile__nr_stacks(r), dt,
	    (double)profile__total(r) / dt);
	profile__free(r);
	return 0;
}
