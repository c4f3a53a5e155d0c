// SPDX-License-Identifier: MIT
/*
 * Store benchmark: a synthetic history of one 16-CPU host sampled at 99 Hz
 * (1584 samples/s), written through store__write in 10 s windows, then
 * queried. Several hundred live processes (pids churn every hour), 80
 * programs with ~36,000 distinct stacks between them, CPU shares and stack
 * popularity Zipf-distributed, a quarter of the samples idle.
 *
 *   bench_store [HOURS [STORE]]  default 24 h into a temporary file;
 *                                STORE may be any store URL (an empty
 *                                ClickHouse database: clickhouse://...)
 *
 * Prints ingest rate, query times (24 h, 1 h aligned, 1 h unaligned, 1 h
 * with a label filter, time lines) and bytes on disk per sample.
 */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "profile/profile.h"
#include "storage/store.h"

#define NS 1000000000ULL
#define CPUS 16
#define HZ 99
#define WINDOW_S 10
#define PROGRAMS 80
#define LIVE 400
#define CHURN_PER_HOUR 40
#define START_S 1763596800ULL /* 2025-11-20T00:00:00Z */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time too: on a shared machine wall time also measures neighbours. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Zipf CDF over n items. */
static double *zipf(size_t n, double s)
{
	double *cdf = malloc(n * sizeof(*cdf)), sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += 1.0 / pow((double)(i + 1), s);
	for (size_t i = 0, acc = 0; i < n; i++) {
		(void)acc;
		cdf[i] =
		    (i ? cdf[i - 1] : 0) + 1.0 / pow((double)(i + 1), s) / sum;
	}
	return cdf;
}

static size_t pick(const double *cdf, size_t n)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct program {
	uint32_t *stacks; /* template stack ids */
	size_t nr;
	double *cdf;
};

struct instance {
	int prog;
	uint32_t series;
};

static int count_point(const struct store_point *pt, void *ctx)
{
	(void)pt;
	++*(uint64_t *)ctx;
	return 0;
}

int main(int argc, char **argv)
{
	double hours = argc > 1 ? atof(argv[1]) : 24;
	char tmpdir[] = "/tmp/kiln-bench-XXXXXX", path[256];
	struct program progs[PROGRAMS];
	struct instance *inst;
	size_t ninst = 0, live[LIVE];
	uint32_t idle_series, idle_stack;
	uint64_t windows, total = 0, end_ns;
	struct profile *tpl;
	struct store *st;
	char buf[300];
	double t_write = 0, c_write = 0, t0, c0, *slot_cdf;
	int err;

	log__init(LOG_WARN);
	setvbuf(stdout, NULL, _IOLBF, 0); /* progress visible when piped */
	if (hours <= 0) {
		fprintf(stderr, "usage: bench_store [HOURS [DB]]\n");
		return 2;
	}
	if (argc > 2) {
		snprintf(path, sizeof(path), "%s", argv[2]);
	} else {
		if (!mkdtemp(tmpdir))
			return 1;
		snprintf(path, sizeof(path), "%s/bench.db", tmpdir);
	}
	bool is_file = !strstr(path, "://");
	if (is_file)
		unlink(path);
	windows = (uint64_t)(hours * 3600 / WINDOW_S);
	end_ns = (START_S + windows * WINDOW_S) * NS;

	/*
	 * One template profile holds every series and stack; each window
	 * rewrites its sample array in place, so the bench times the store
	 * rather than the building of profiles. store__write still resolves
	 * every series and stack a window uses, like with a fresh profile.
	 */
	tpl = profile__new();
	size_t nstacks = 0, nframes_total = 0;
	for (int p = 0; p < PROGRAMS; p++) {
		uint32_t fr[64];

		progs[p].nr = 100 + rnd() % 700;
		progs[p].stacks = malloc(progs[p].nr * sizeof(uint32_t));
		progs[p].cdf = zipf(progs[p].nr, 1.1);
		for (size_t k = 0; k < progs[p].nr; k++) {
			size_t depth = 6 + rnd() % 25, d = 0;
			struct frame f = {0};

			snprintf(buf, sizeof(buf), "/usr/bin/prog%d", p);
			f.module = profile__intern(tpl, buf);
			f.name = profile__intern(tpl, "main");
			snprintf(buf, sizeof(buf), "src/prog%d/main.c", p);
			f.file = profile__intern(tpl, buf);
			f.line = 12;
			fr[d++] = profile__add_frame(tpl, &f);
			/* A walk down the program's call tree. */
			while (d < depth) {
				uint64_t r = rnd() % 100;
				int fn = (int)(rnd() % 150);

				if (d > depth - 6 && r < 40) {
					f.module =
					    profile__intern(tpl, "[kernel]");
					snprintf(buf, sizeof(buf),
						 "kernel_fn_%d",
						 (int)(rnd() % 500));
					f.name = profile__intern(tpl, buf);
					f.file = 0;
					f.line = 0;
					f.kind = FRAME_KERNEL;
				} else if (r < 15) {
					f.module = profile__intern(
					    tpl, "/usr/lib/x86_64-linux-gnu/"
						 "libc.so.6");
					snprintf(buf, sizeof(buf), "libc_fn_%d",
						 (int)(rnd() % 300));
					f.name = profile__intern(tpl, buf);
					f.file = 0;
					f.line = 0;
					f.kind = FRAME_USER;
				} else {
					snprintf(buf, sizeof(buf),
						 "/usr/bin/prog%d", p);
					f.module = profile__intern(tpl, buf);
					snprintf(buf, sizeof(buf),
						 "prog%d_fn_%d", p, fn);
					f.name = profile__intern(tpl, buf);
					snprintf(buf, sizeof(buf),
						 "src/prog%d/f%d.c", p,
						 fn / 10);
					f.file = profile__intern(tpl, buf);
					f.line = 10 + (uint32_t)fn;
					f.kind =
					    r < 30 ? FRAME_INLINED : FRAME_USER;
				}
				fr[d++] = profile__add_frame(tpl, &f);
				if (f.kind == FRAME_KERNEL)
					f.kind =
					    FRAME_KERNEL; /* stay in kernel */
			}
			progs[p].stacks[k] = profile__add_stack(tpl, fr, depth);
		}
		nstacks += progs[p].nr;
	}
	nframes_total = profile__nr_frames(tpl);
	{
		uint32_t fr[3] = {
		    profile__add_named_frame(tpl, "secondary_startup_64",
					     FRAME_KERNEL),
		    profile__add_named_frame(tpl, "do_idle", FRAME_KERNEL),
		    profile__add_named_frame(tpl, "default_idle", FRAME_KERNEL),
		};
		struct label l[3] = {
		    {profile__intern(tpl, "host"),
		     profile__intern(tpl, "bench1")},
		    {profile__intern(tpl, "comm"),
		     profile__intern(tpl, "swapper/0")},
		    {profile__intern(tpl, "pid"), profile__intern(tpl, "0")},
		};

		idle_stack = profile__add_stack(tpl, fr, 3);
		idle_series = profile__add_series(tpl, l, 3);
	}
	/* Every process that will ever live, with its labels. */
	size_t max_inst = LIVE + (size_t)(hours + 1) * CHURN_PER_HOUR;
	inst = calloc(max_inst, sizeof(*inst));
	double *prog_cdf = zipf(PROGRAMS, 0.8);
	for (size_t i = 0; i < max_inst; i++) {
		struct label l[6];
		int p = (int)pick(prog_cdf, PROGRAMS);
		char pid[24], exe[64], bid[48], cont[32];

		snprintf(pid, sizeof(pid), "%zu", 1000 + i);
		snprintf(exe, sizeof(exe), "/usr/bin/prog%d", p);
		snprintf(bid, sizeof(bid), "%08x%08x", p * 2654435761u, p);
		snprintf(cont, sizeof(cont), "%s", i % 3 ? "" : "c0ffee");
		snprintf(buf, sizeof(buf), "prog%d", p);
		l[0] = (struct label){profile__intern(tpl, "host"),
				      profile__intern(tpl, "bench1")};
		l[1] = (struct label){profile__intern(tpl, "comm"),
				      profile__intern(tpl, buf)};
		l[2] = (struct label){profile__intern(tpl, "pid"),
				      profile__intern(tpl, pid)};
		l[3] = (struct label){profile__intern(tpl, "exe"),
				      profile__intern(tpl, exe)};
		l[4] = (struct label){profile__intern(tpl, "build_id"),
				      profile__intern(tpl, bid)};
		l[5] = (struct label){profile__intern(tpl, "container"),
				      profile__intern(tpl, cont)};
		inst[i] = (struct instance){
		    p, profile__add_series(tpl, l, i % 3 ? 5 : 6)};
	}
	for (size_t i = 0; i < LIVE; i++)
		live[i] = ninst++;
	slot_cdf = zipf(LIVE, 1.0);
	for (size_t i = 0; i < CPUS * HZ * WINDOW_S; i++)
		profile__add_sample(tpl, 0, 0, 0, 1);
	profile__meta(tpl)->period_ns = NS / HZ;

	st = store__open(&(struct store_opts){.path = path});
	if (!st) {
		perror("store__open");
		return 1;
	}
	printf("store bench: %.2f h of a %d-CPU host at %d Hz: %llu windows of "
	       "%d s, %zu programs' stacks, %zu frames\n",
	       hours, CPUS, HZ, (unsigned long long)windows, WINDOW_S, nstacks,
	       nframes_total);
	double t_gen = 0;
	for (uint64_t w = 0; w < windows; w++) {
		uint64_t wstart = (START_S + w * WINDOW_S) * NS;
		size_t n;
		struct sample *s = (struct sample *)profile__samples(tpl, &n);

		if (w && w % (3600 / WINDOW_S) == 0)
			for (int c = 0; c < CHURN_PER_HOUR && ninst < max_inst;
			     c++)
				live[rnd() % LIVE] = ninst++;
		t0 = now_s();
		for (size_t i = 0; i < n; i++) {
			s[i].time_ns =
			    wstart + (rnd() % (WINDOW_S * 100)) * 10000000ULL;
			s[i].count = 1;
			if (rnd() % 100 < 25) {
				s[i].series = idle_series;
				s[i].stack = idle_stack;
				continue;
			}
			const struct instance *in =
			    &inst[live[pick(slot_cdf, LIVE)]];
			const struct program *pg = &progs[in->prog];

			s[i].series = in->series;
			s[i].stack = pg->stacks[pick(pg->cdf, pg->nr)];
		}
		profile__meta(tpl)->start_ns = wstart;
		t_gen += now_s() - t0;
		t0 = now_s();
		c0 = cpu_s();
		err = store__write(st, tpl);
		t_write += now_s() - t0;
		c_write += cpu_s() - c0;
		if (err) {
			fprintf(stderr, "store__write: %s\n", strerror(-err));
			return 1;
		}
		total += n;
		if (isatty(2) && w % 360 == 0)
			fprintf(stderr, "\r  %llu/%llu windows",
				(unsigned long long)w,
				(unsigned long long)windows);
	}
	if (isatty(2))
		fputc('\n', stderr);
	store__close(st);
	/* The engine's own count: file + WAL, or ClickHouse's parts. */
	st = store__open(&(struct store_opts){.path = path, .read_only = true});
	if (!st)
		return 1;
	struct store_stats ss;
	store__stats(st, &ss);
	store__close(st);
	printf("ingest: %llu samples in %.1f s of store__write: %.2f M "
	       "samples/s wall, %.2f M samples/s per CPU second (generation "
	       "%.1f s, not counted)\n",
	       (unsigned long long)total, t_write,
	       (double)total / t_write / 1e6, (double)total / c_write / 1e6,
	       t_gen);
	printf("size: %.1f MB on disk, %.2f bytes/sample (%zu series)\n",
	       (double)ss.size_bytes / 1e6,
	       (double)ss.size_bytes / (double)total, ninst + 1);

	/* Queries, through a fresh read-only handle as kiln query uses. */
	struct {
		const char *name;
		uint64_t from, to;
		struct store_filter f;
		size_t nf;
	} qs[] = {
	    {"whole range merged", START_S * NS, end_ns, {0}, 0},
	    {"last hour (aligned)", end_ns - 3600 * NS, end_ns, {0}, 0},
	    {"1 h unaligned (-1h17m..-17m)",
	     end_ns - 4620 * NS,
	     end_ns - 1020 * NS,
	     {0},
	     0},
	    {"1 h unaligned, comm=prog0",
	     end_ns - 4620 * NS,
	     end_ns - 1020 * NS,
	     {"comm", "prog0"},
	     1},
	    {"last 5 min", end_ns - 300 * NS, end_ns, {0}, 0},
	};
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double best = 1e9, first = 0, cbest = 1e9;
		uint64_t got = 0;
		size_t stacks = 0;

		if (qs[i].from < START_S * NS)
			continue;
		st = store__open(
		    &(struct store_opts){.path = path, .read_only = true});
		if (!st)
			return 1;
		for (int rep = 0; rep < 3; rep++) {
			struct profile *p = profile__new();
			struct store_query q = {qs[i].from, qs[i].to, &qs[i].f,
						qs[i].nf,   0,	      0};

			t0 = now_s();
			c0 = cpu_s();
			err = store__query(st, &q, p);
			double dt = now_s() - t0, dc = cpu_s() - c0;
			if (err) {
				fprintf(stderr, "query: %s\n", strerror(-err));
				return 1;
			}
			if (!rep)
				first = dt;
			if (dt < best)
				best = dt;
			if (dc < cbest)
				cbest = dc;
			got = profile__total(p);
			stacks = profile__nr_stacks(p);
			profile__free(p);
		}
		printf("query %-30s %7.1f ms first (cold handle), %7.1f ms "
		       "warm, %7.1f ms warm CPU; %llu samples, %zu stacks\n",
		       qs[i].name, first * 1e3, best * 1e3, cbest * 1e3,
		       (unsigned long long)got, stacks);
		store__close(st);
	}
	/* Time lines: the UI's default step for the range, one series and
	 * grouped by comm. */
	struct {
		const char *name;
		uint64_t from, step;
		const char *group;
	} tls[] = {
	    {"24 h, 5 min steps", end_ns - 86400 * NS, 300 * NS, NULL},
	    {"24 h, 5 min steps, by comm", end_ns - 86400 * NS, 300 * NS,
	     "comm"},
	    {"1 h, 10 s steps", end_ns - 3600 * NS, 10 * NS, NULL},
	};
	for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++) {
		double best = 1e9;
		uint64_t points = 0;

		if (tls[i].from < START_S * NS)
			continue;
		st = store__open(
		    &(struct store_opts){.path = path, .read_only = true});
		if (!st)
			return 1;
		for (int rep = 0; rep < 3; rep++) {
			struct store_query q = {.from_ns = tls[i].from,
						.to_ns = end_ns};

			points = 0;
			t0 = now_s();
			err = store__timeline(st, &q, tls[i].step, tls[i].group,
					      count_point, &points);
			if (err) {
				fprintf(stderr, "timeline: %s\n",
					strerror(-err));
				return 1;
			}
			if (now_s() - t0 < best)
				best = now_s() - t0;
		}
		printf("timeline %-30s %7.1f ms warm; %llu points\n",
		       tls[i].name, best * 1e3, (unsigned long long)points);
		store__close(st);
	}
	if (argc <= 2) {
		/* Read-only handles leave the WAL index behind. */
		unlink(path);
		snprintf(buf, sizeof(buf), "%s-wal", path);
		unlink(buf);
		snprintf(buf, sizeof(buf), "%s-shm", path);
		unlink(buf);
		rmdir(tmpdir);
	}
	profile__free(tpl);
	return 0;
}
