// SPDX-License-Identifier: MIT
/*
 * Cost of naming stored frames again (debug info that arrives later), on
 * the store's side:
 *
 *   bench_rename DB NFRAMES
 *
 * writes one window of NFRAMES distinct user frames of one build id (one
 * stack each, under a shared root) into a new store DB, then renames them
 * all the way cli/renamer.c does (store__frames_of_build_id pages of 256,
 * store__rename_frames per page), and queries the whole range before and
 * after: with a reader opened before the renaming (its dictionary cache
 * loads only the renames) and with a fresh one. Writing the same frames
 * fresh is the yardstick. Prints key=value lines (ms, frames/s).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "profile/profile.h"
#include "storage/store.h"

#define T0 1790000000ULL
#define NS 1000000000ULL

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct store *open_store(const char *path, bool ro)
{
	struct store_opts o = {.path = path, .read_only = ro};
	struct store *st = store__open(&o);

	if (!st)
		exit(1);
	return st;
}

static double query_ms(struct store *st, uint64_t *total)
{
	struct store_query q = {.from_ns = T0 * NS, .to_ns = (T0 + 7200) * NS};
	struct profile *p = profile__new();
	double t0 = now_ms();

	if (store__query(st, &q, p)) {
		fprintf(stderr, "bench_rename: query failed\n");
		exit(1);
	}
	t0 = now_ms() - t0;
	*total = profile__total(p);
	profile__free(p);
	return t0;
}

int main(int argc, char **argv)
{
	size_t n = argc == 3 ? strtoul(argv[2], NULL, 10) : 0;
	struct profile *p;
	struct store *st, *rd;
	struct store_frame_ref refs[256];
	struct store_frame_name names[256];
	char buf[256][32];
	uint32_t root, series, f[2];
	uint64_t total, total2, renamed = 0;
	struct label l;
	double t0, write_ms, q_before, q_warm, q_cold, rename_ms;
	int64_t after = 0;
	int got;

	if (!n) {
		fprintf(stderr, "usage: bench_rename DB NFRAMES\n");
		return 2;
	}
	st = open_store(argv[1], false);
	p = profile__new();
	l = (struct label){profile__intern(p, "comm"), profile__intern(p, "x")};
	series = profile__add_series(p, &l, 1);
	root = profile__add_named_frame(p, "_start", FRAME_USER);
	for (size_t i = 0; i < n; i++) {
		struct frame fr = {.kind = FRAME_USER,
				   .addr = 0x1000 + i * 16,
				   .offset = 0x1000 + i * 16};
		char name[32];

		snprintf(name, sizeof(name), "x+0x%zx", 0x1000 + i * 16);
		fr.name = profile__intern(p, name);
		fr.module = profile__intern(p, "/usr/bin/x");
		fr.build_id = profile__intern(p, "0123456789abcdef");
		f[0] = root;
		f[1] = profile__add_frame(p, &fr);
		profile__add_sample(p, series, profile__add_stack(p, f, 2),
				    (T0 + i % 3600) * NS, 1);
	}
	t0 = now_ms();
	if (store__write(st, p))
		return 1;
	write_ms = now_ms() - t0;
	profile__free(p);

	rd = open_store(argv[1], true);
	q_before = query_ms(rd, &total);

	t0 = now_ms();
	while ((got = store__frames_of_build_id(st, "0123456789abcdef", after,
						refs, 256)) > 0) {
		for (int i = 0; i < got; i++) {
			snprintf(buf[i], sizeof(buf[i]), "func_%lld",
				 (long long)refs[i].id);
			names[i] = (struct store_frame_name){
			    .id = refs[i].id,
			    .name = buf[i],
			    .file = "x.c",
			    .line = (uint32_t)(refs[i].offset % 1000)};
		}
		int r = store__rename_frames(st, names, (size_t)got);
		if (r < 0)
			return 1;
		renamed += (uint64_t)r;
		after = refs[got - 1].id;
	}
	rename_ms = now_ms() - t0;
	if (got < 0)
		return 1;

	q_warm = query_ms(rd, &total2);
	store__close(rd);
	rd = open_store(argv[1], true);
	q_cold = query_ms(rd, &total2);
	store__close(rd);
	store__close(st);
	if (total2 != total || renamed != n) {
		fprintf(stderr, "bench_rename: renamed %llu of %zu\n",
			(unsigned long long)renamed, n);
		return 1;
	}
	printf("frames=%zu write_new_ms=%.1f rename_ms=%.1f "
	       "rename_frames_per_s=%.0f\n",
	       n, write_ms, rename_ms, n / (rename_ms / 1e3));
	printf("query_before_ms=%.1f query_after_same_reader_ms=%.1f "
	       "query_after_new_reader_ms=%.1f\n",
	       q_before, q_warm, q_cold);
	return 0;
}
