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
 *                                     ~3000 stacks (tests/histgen.h)
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
#include "tests/histgen.h"

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

/*
 * 4000 functions' call tree, 3000 stacks 3-40 deep, 60 processes (20
 * programs on 3 hosts), stacks drawn with low indexes likelier.
 */
static const struct histgen_opts history_opts = {
    .seed = 88172645463325252ULL,
    .shape = HISTGEN_TREE,
    .stacks = 3000,
    .funcs = 4000,
    .depth_min = 3,
    .depth_max = 40,
    .stack_pick = HISTGEN_SQUARE,
    .exe = "/usr/bin/app",
    .programs = 20,
    .comm_prefix = "proc",
    .hosts = (const char *const[]){"host0", "host1", "host2"},
    .nr_hosts = 3,
    .pid_base = 1000,
    .live = 60,
    .count_max = 9,
};

static int gen_history(const char *path, double hours, uint64_t end_s)
{
	struct store_opts so = {.path = path};
	struct store *st = store__open(&so);
	uint64_t now = (end_s ? end_s : (uint64_t)time(NULL)) * NS, start;
	size_t windows = (size_t)(hours * 360);
	struct histgen *g = histgen__new(&history_opts);
	struct histgen_sample s[400];
	int err = 0;

	if (!st || !g) {
		fprintf(stderr, "web_datagen: cannot open '%s': %s\n", path,
			strerror(errno));
		store__close(st);
		histgen__free(g);
		return 1;
	}
	start = now - windows * 10 * NS;
	for (size_t w = 0; w < windows; w++) {
		uint64_t from = start + w * 10 * NS;
		struct profile *p;

		/* ~99 Hz on 2 CPUs for 10 s: about 2000 samples a window. */
		histgen__seed(g, history_opts.seed + w * 7919);
		histgen__draw(g, from, from + 10 * NS, 400, s);
		p = histgen__profile(g, s, 400);
		err = store__write(st, p);
		profile__free(p);
		if (err) {
			fprintf(stderr, "web_datagen: store__write: %s\n",
				strerror(-err));
			break;
		}
	}
	histgen__free(g);
	store__close(st);
	return err ? 1 : 0;
}

/* One window with a call tree of about 'nodes' distinct nodes. */
static int gen_wide(const char *path, size_t nodes)
{
	uint64_t now = (uint64_t)time(NULL) * NS;
	/* Random deep stacks share little beyond the first levels: each adds
	 * roughly depth/2 new nodes. Every stack once, counts 1-50. */
	struct histgen *g = histgen__new(&(struct histgen_opts){
	    .seed = 88172645463325252ULL,
	    .shape = HISTGEN_TREE,
	    .stacks = nodes / 18 + 1,
	    .funcs = 30000,
	    .depth_min = 3,
	    .depth_max = 40,
	    .stack_pick = HISTGEN_EACH,
	    .exe = "/usr/bin/app",
	    .programs = 1,
	    .comms = (const char *const[]){"wide"},
	    .pid_base = 1,
	    .live = 1,
	    .count_max = 50,
	});
	struct histgen_sample *s;
	struct profile *p;
	int ret;

	if (!g)
		return 1;
	s = calloc(nodes / 18 + 1, sizeof(*s));
	if (!s) {
		histgen__free(g);
		return 1;
	}
	histgen__draw(g, now - 60 * NS, now - 30 * NS, nodes / 18 + 1, s);
	p = histgen__profile(g, s, nodes / 18 + 1);
	ret = write_store(path, p);
	profile__free(p);
	free(s);
	histgen__free(g);
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
