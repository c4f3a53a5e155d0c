// SPDX-License-Identifier: MIT
/*
 * Store benchmark: a synthetic history of one 16-CPU host sampled at 99 Hz
 * (1584 samples/s), written through store__write in 10 s windows, then
 * queried. Several hundred live processes (pids churn every hour), 80
 * programs with ~36,000 distinct stacks between them, CPU shares and stack
 * popularity Zipf-distributed, a quarter of the samples idle (drawn by
 * tests/histgen.h).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "profile/profile.h"
#include "storage/store.h"
#include "tests/histgen.h"

#define NS 1000000000ULL
#define CPUS 16
#define HZ 99
#define WINDOW_S 10
#define PROGRAMS 80
#define LIVE 400
#define CHURN_PER_HOUR 40
#define START_S 1763596800ULL /* 2025-11-20T00:00:00Z */

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
	struct histgen *g;
	struct histgen_stats hs;
	uint64_t windows, total = 0, end_ns;
	struct store *st;
	char buf[300];
	double t_write = 0, c_write = 0, t0, c0;
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
	 * 80 programs with 100-799 stacks each, 6-30 frames deep, stacks
	 * Zipf-popular within a program, programs Zipf-popular among the
	 * 400 live processes, the processes among themselves too, a quarter
	 * of the samples idle, 40 pids replaced every hour. Each window
	 * rewrites the generator's profile in place (histgen__refill), so
	 * the bench times the store rather than the building of profiles.
	 * store__write still resolves every series and stack a window uses,
	 * like with a fresh profile.
	 */
	g = histgen__new(&(struct histgen_opts){
	    .seed = 0x9e3779b97f4a7c15ULL,
	    .shape = HISTGEN_PROGRAMS,
	    .stacks = 100,
	    .stacks_max = 800,
	    .funcs = 150,
	    .depth_min = 6,
	    .depth_max = 30,
	    .stack_pick = HISTGEN_ZIPF,
	    .stack_zipf = 1.1,
	    .programs = PROGRAMS,
	    .program_zipf = 0.8,
	    .hosts = (const char *const[]){"bench1"},
	    .nr_hosts = 1,
	    .pid_base = 1000,
	    .live = LIVE,
	    .live_pick = HISTGEN_ZIPF,
	    .live_zipf = 1.0,
	    .churn_per_hour = CHURN_PER_HOUR,
	    .start_ns = START_S * NS,
	    .hours = hours,
	    .agent_labels = 1,
	    .idle_percent = 25,
	    .step_ns = 10000000, /* 10 ms, like the agent */
	});
	if (!g) {
		perror("histgen__new");
		return 1;
	}
	histgen__stats(g, &hs);

	st = store__open(&(struct store_opts){.path = path});
	if (!st) {
		perror("store__open");
		return 1;
	}
	printf("store bench: %.2f h of a %d-CPU host at %d Hz: %llu windows of "
	       "%d s, %zu programs' stacks, %zu frames\n",
	       hours, CPUS, HZ, (unsigned long long)windows, WINDOW_S,
	       hs.stacks, hs.frames);
	double t_gen = 0;
	for (uint64_t w = 0; w < windows; w++) {
		uint64_t wstart = (START_S + w * WINDOW_S) * NS;
		struct profile *tpl;

		t0 = now_s();
		tpl = histgen__refill(g, wstart, wstart + WINDOW_S * NS,
				      CPUS * HZ * WINDOW_S);
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
		total += CPUS * HZ * WINDOW_S;
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
	histgen__stats(g, &hs);
	printf("ingest: %llu samples in %.1f s of store__write: %.2f M "
	       "samples/s wall, %.2f M samples/s per CPU second (generation "
	       "%.1f s, not counted)\n",
	       (unsigned long long)total, t_write,
	       (double)total / t_write / 1e6, (double)total / c_write / 1e6,
	       t_gen);
	printf("size: %.1f MB on disk, %.2f bytes/sample (%zu series)\n",
	       (double)ss.size_bytes / 1e6,
	       (double)ss.size_bytes / (double)total, hs.processes + 1);

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
			struct store_query q = {.from_ns = qs[i].from,
						.to_ns = qs[i].to,
						.filters = &qs[i].f,
						.nr_filters = qs[i].nf};

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
	histgen__free(g);
	return 0;
}
