// SPDX-License-Identifier: MIT
/*
 * Writes stores for the web tests and benchmarks through the real
 * store__write path:
 *   web_datagen known DB T0_SECONDS   a small profile with known counts
 *                                     (tests/integration/web_api.sh checks
 *                                     every endpoint against them)
 *   web_datagen history DB HOURS [END]
 *                                     synthetic history ending now (or at
 *                                     unix second END): a
 *                                     window every 10 s, 60 processes,
 *                                     ~3000 stacks (benchmarks)
 *   web_datagen wide DB NODES         one window whose call tree has about
 *                                     NODES distinct nodes (browser bench)
 *   web_datagen source DB T0 FILE     app;main;hot_loop with FILE as its
 *                                     source: line 3 self 30, line 5
 *                                     self 10, at T0 - 900 (line view)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profile/profile.h"
#include "storage/store.h"

#define NS 1000000000ULL

static uint32_t series(struct profile *p, const char *host, const char *comm,
		       const char *pid)
{
	struct label l[3] = {
	    {profile__intern(p, LABEL_HOST), profile__intern(p, host)},
	    {profile__intern(p, LABEL_COMM), profile__intern(p, comm)},
	    {profile__intern(p, LABEL_PID), profile__intern(p, pid)},
	};
	return profile__add_series(p, l, 3);
}

static uint32_t frame(struct profile *p, const char *name, enum frame_kind kind,
		      const char *file, uint32_t line)
{
	struct frame f = {0};

	f.name = profile__intern(p, name);
	f.kind = kind;
	f.file = file ? profile__intern(p, file) : 0;
	f.line = line;
	f.module = profile__intern(p, kind == FRAME_KERNEL ? "[kernel.kallsyms]"
							   : "/usr/bin/app");
	return profile__add_frame(p, &f);
}

static int write_store(const char *path, struct profile *p)
{
	struct store_opts so = {.path = path};
	struct store *st = store__open(&so);
	int err;

	if (!st) {
		fprintf(stderr, "web_datagen: cannot open '%s': %s\n", path,
			strerror(errno));
		return 1;
	}
	err = store__write(st, p);
	store__close(st);
	if (err) {
		fprintf(stderr, "web_datagen: store__write: %s\n",
			strerror(-err));
		return 1;
	}
	return 0;
}

/*
 * The known profile (times relative to T0, a whole minute):
 *   app pid 100 host h1: main;work;compute 50 @0.000  10 @1.020
 *                        main;work;sys_read[k] 20 @2.040
 *   db  pid 200 host h1: main;idle 15 @0.500   main;helper[i];compute 5 @60.0
 *   app pid 300 host h2: main;work;compute 7 @120.0
 * total 107; comm=app 87, db 20; host=h2 7; compute self 72, total 72.
 */
static int gen_known(const char *path, uint64_t t0)
{
	struct profile *p = profile__new();
	uint32_t s1, s2, s3, main_f, work, compute, sys_read, idle, helper;
	uint32_t a[3], b[3], c[3], d[2], st_a, st_b, st_c, st_d;
	int ret;

	if (!p)
		return 1;
	s1 = series(p, "h1", "app", "100");
	s2 = series(p, "h1", "db", "200");
	s3 = series(p, "h2", "app", "300");
	main_f = frame(p, "main", FRAME_USER, "src/main.c", 10);
	work = frame(p, "work", FRAME_USER, "src/work.c", 20);
	compute = frame(p, "compute", FRAME_USER, "src/compute.c", 30);
	sys_read = frame(p, "sys_read", FRAME_KERNEL, NULL, 0);
	idle = frame(p, "idle", FRAME_USER, "src/idle.c", 5);
	helper = frame(p, "helper", FRAME_INLINED, "src/helper.h", 7);
	a[0] = main_f, a[1] = work, a[2] = compute;
	b[0] = main_f, b[1] = work, b[2] = sys_read;
	c[0] = main_f, c[1] = helper, c[2] = compute;
	d[0] = main_f, d[1] = idle;
	st_a = profile__add_stack(p, a, 3);
	st_b = profile__add_stack(p, b, 3);
	st_c = profile__add_stack(p, c, 3);
	st_d = profile__add_stack(p, d, 2);
	profile__add_sample(p, s1, st_a, t0, 50);
	profile__add_sample(p, s1, st_a, t0 + 1020000000ULL, 10);
	profile__add_sample(p, s1, st_b, t0 + 2040000000ULL, 20);
	profile__add_sample(p, s2, st_d, t0 + 500000000ULL, 15);
	profile__add_sample(p, s2, st_c, t0 + 60 * NS, 5);
	profile__add_sample(p, s3, st_a, t0 + 120 * NS, 7);
	profile__meta(p)->start_ns = t0;
	profile__meta(p)->duration_ns = 121 * NS;
	profile__meta(p)->period_ns = NS / 99;
	ret = write_store(path, p);
	profile__free(p);
	return ret;
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A pool of synthetic stacks: paths through a random call tree. */
struct pool {
	uint32_t *stacks;
	size_t n;
};

static void make_stacks(struct profile *p, struct pool *pool, size_t nr_stacks,
			size_t nr_funcs, size_t max_depth)
{
	uint32_t *funcs = calloc(nr_funcs, sizeof(*funcs)), path[128];
	char name[64];

	for (size_t i = 0; i < nr_funcs; i++) {
		enum frame_kind kind = i % 17 == 0   ? FRAME_KERNEL
				       : i % 23 == 0 ? FRAME_INLINED
				       : i % 97 == 0 ? FRAME_JIT
						     : FRAME_USER;
		snprintf(name, sizeof(name), "%s_%zu",
			 kind == FRAME_KERNEL ? "k_func" : "fn", i);
		funcs[i] =
		    frame(p, name, kind, "src/gen.c", (uint32_t)(i % 900 + 1));
	}
	pool->stacks = calloc(nr_stacks, sizeof(*pool->stacks));
	pool->n = nr_stacks;
	for (size_t s = 0; s < nr_stacks; s++) {
		size_t depth = 3 + rnd() % (max_depth - 2);

		/*
		 * Prefixes are shared: the first frames come from few
		 * functions, deeper ones from more, like real call trees.
		 */
		for (size_t d = 0; d < depth && d < 128; d++) {
			size_t span = 2 + d * d * 3;

			if (span > nr_funcs)
				span = nr_funcs;
			path[d] = funcs[(rnd() % span + d * 7) % nr_funcs];
		}
		pool->stacks[s] = profile__add_stack(p, path, depth);
	}
	free(funcs);
}

static int gen_history(const char *path, double hours, uint64_t end_s)
{
	struct store_opts so = {.path = path};
	struct store *st = store__open(&so);
	uint64_t now = (end_s ? end_s : (uint64_t)time(NULL)) * NS, start;
	size_t windows = (size_t)(hours * 360), nr_series = 60;
	uint32_t series_ids[60];
	char comm[32], pid[16], host[16];
	int err = 0;

	if (!st) {
		fprintf(stderr, "web_datagen: cannot open '%s': %s\n", path,
			strerror(errno));
		return 1;
	}
	start = now - windows * 10 * NS;
	for (size_t w = 0; w < windows; w++) {
		struct profile *p = profile__new();
		struct pool pool;

		/* Same seed per window: the same functions and stacks recur. */
		rng_state = 88172645463325252ULL;
		make_stacks(p, &pool, 3000, 4000, 40);
		rng_state = 88172645463325252ULL + w * 7919;
		for (size_t s = 0; s < nr_series; s++) {
			snprintf(comm, sizeof(comm), "proc%zu", s % 20);
			snprintf(pid, sizeof(pid), "%zu", 1000 + s);
			snprintf(host, sizeof(host), "host%zu", s % 3);
			series_ids[s] = series(p, host, comm, pid);
		}
		/* ~99 Hz on 2 CPUs for 10 s: about 2000 samples a window. */
		for (size_t i = 0; i < 400; i++) {
			uint64_t t = start + w * 10 * NS + rnd() % (10 * NS);

			profile__add_sample(
			    p, series_ids[rnd() % nr_series],
			    pool.stacks[(rnd() % pool.n) * (rnd() % pool.n) /
					pool.n],
			    t, 1 + rnd() % 9);
		}
		err = store__write(st, p);
		free(pool.stacks);
		profile__free(p);
		if (err) {
			fprintf(stderr, "web_datagen: store__write: %s\n",
				strerror(-err));
			break;
		}
	}
	store__close(st);
	return err ? 1 : 0;
}

/* One window with a call tree of about 'nodes' distinct nodes. */
static int gen_wide(const char *path, size_t nodes)
{
	struct profile *p = profile__new();
	uint64_t now = (uint64_t)time(NULL) * NS;
	struct pool pool;
	uint32_t s;
	int ret;

	/* Random deep stacks share little beyond the first levels: each adds
	 * roughly depth/2 new nodes. */
	make_stacks(p, &pool, nodes / 18 + 1, 30000, 40);
	s = series(p, "h1", "wide", "1");
	for (size_t i = 0; i < pool.n; i++)
		profile__add_sample(p, s, pool.stacks[i],
				    now - 60 * NS + rnd() % (30 * NS),
				    1 + rnd() % 50);
	ret = write_store(path, p);
	free(pool.stacks);
	profile__free(p);
	return ret;
}

static int gen_source(const char *path, uint64_t t0, const char *file)
{
	struct profile *p = profile__new();
	uint32_t s, st[2], a[3];
	int ret;

	if (!p)
		return 1;
	s = series(p, "h1", "src", "400");
	a[0] = frame(p, "main", FRAME_USER, "src/main.c", 10);
	a[1] = frame(p, "hot_loop", FRAME_USER, file, 3);
	a[2] = frame(p, "hot_loop", FRAME_USER, file, 5);
	st[0] = profile__add_stack(p, a, 2);
	st[1] = profile__add_stack(p, (uint32_t[]){a[0], a[2]}, 2);
	profile__add_sample(p, s, st[0], t0 - 900 * NS, 30);
	profile__add_sample(p, s, st[1], t0 - 900 * NS, 10);
	ret = write_store(path, p);
	profile__free(p);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "known"))
		return gen_known(argv[2], strtoull(argv[3], NULL, 10) * NS);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "history"))
		return gen_history(argv[2], atof(argv[3]),
				   argc == 5 ? strtoull(argv[4], NULL, 10) : 0);
	if (argc == 4 && !strcmp(argv[1], "wide"))
		return gen_wide(argv[2], strtoull(argv[3], NULL, 10));
	if (argc == 5 && !strcmp(argv[1], "source"))
		return gen_source(argv[2], strtoull(argv[3], NULL, 10) * NS,
				  argv[4]);
	fprintf(stderr, "usage: web_datagen known DB T0_SECONDS | history DB "
			"HOURS [END] | wide DB NODES | source DB T0 FILE\n");
	return 2;
}
