// SPDX-License-Identifier: MIT
/*
 * The store against real SQLite files in a temporary directory: known
 * samples in, the same counts out on every read path, and the failure
 * modes (version, read-only, missing directory, corrupt file, full disk).
 * SQLite is used directly only to inspect or damage files from outside.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <dirent.h>
#include <sqlite3.h>

#include "lib/log.h"
#include "profile/profile.h"
#include "storage/store.h"
#include "tests/histgen.h"
#include "tests/fuzz/fuzz_store.h"

#define NS 1000000000ULL
#define T0 (1763733600ULL * NS) /* on an hour boundary */
#define NSERIES 6
#define NSTACKS 12

static char dir[64];
static char path[128];

/* ---- a reference model of what was written ---- */

/*
 * NSERIES processes: pid 1000 + s, comm comms[s % 3], host hosts[s % 2];
 * NSTACKS stacks main;work|idle;leaf_k (k = 0: main alone). Samples on a
 * 10 ms grid like the agent's, counts 1-3. Every sample written is kept
 * in refs, by process and stack index.
 */
static const char *const comms[] = {"postgres", "nginx", "kiln"};
static const char *const hosts[] = {"web1", "db1"};
static const struct histgen_opts gen_opts = {
    .shape = HISTGEN_FLAT,
    .stacks = NSTACKS,
    .exe = "/usr/bin/x",
    .programs = 3,
    .comms = comms,
    .hosts = hosts,
    .nr_hosts = 2,
    .pid_base = 1000,
    .live = NSERIES,
    .step_ns = 10000000,
    .count_max = 3,
};
static struct histgen *gen;
static struct histgen_sample *refs;
static size_t nrefs, caprefs;

static const char *comm_of(int s)
{
	return comms[s % 3];
}

/* Writes random samples in [from, to) as one window; all go in refs. */
static int write_window(struct store *st, uint64_t from, uint64_t to, size_t n)
{
	size_t first = nrefs;
	struct profile *p;
	int err;

	if (nrefs + n > caprefs) {
		caprefs = caprefs * 2 > nrefs + n ? caprefs * 2 : nrefs + n;
		refs = realloc(refs, caprefs * sizeof(*refs));
		assert_non_null(refs);
	}
	histgen__draw(gen, from, to, n, refs + first);
	nrefs += n;
	p = histgen__profile(gen, refs + first, n);
	err = store__write(st, p);
	profile__free(p);
	if (err)
		nrefs = first; /* not stored */
	return err;
}

static bool slot_in(uint64_t t, uint64_t from, uint64_t to)
{
	uint64_t slot = t - t % (20 * 1000000ULL);

	return slot >= from && slot < to;
}

/* Expected counts[series][stack] for a range and an optional filter. */
static uint64_t expect(uint64_t from, uint64_t to, bool (*pick)(int),
		       uint64_t out[NSERIES][NSTACKS])
{
	uint64_t total = 0;

	memset(out, 0, sizeof(uint64_t) * NSERIES * NSTACKS);
	for (size_t i = 0; i < nrefs; i++) {
		if (!slot_in(refs[i].time_ns, from, to) ||
		    (pick && !pick(refs[i].process)))
			continue;
		out[refs[i].process][refs[i].stack] += refs[i].count;
		total += refs[i].count;
	}
	return total;
}

/* Turns a query result back into counts[series][stack]. */
static uint64_t actual(const struct profile *p, uint64_t out[NSERIES][NSTACKS])
{
	size_t n;
	const struct sample *s = profile__samples(p, &n);
	uint64_t total = 0;

	memset(out, 0, sizeof(uint64_t) * NSERIES * NSTACKS);
	for (size_t i = 0; i < n; i++) {
		const char *pid = profile__series_label(p, s[i].series, "pid");
		size_t depth;
		const uint32_t *fr = profile__stack(p, s[i].stack, &depth);
		const char *leaf;
		int series, stack;

		assert_non_null(pid);
		series = atoi(pid) - 1000;
		assert_true(series >= 0 && series < NSERIES);
		assert_string_equal(
		    profile__series_label(p, s[i].series, "comm"),
		    comm_of(series));
		assert_true(depth >= 1);
		leaf = profile__str(p, profile__frame(p, fr[depth - 1])->name);
		stack = depth == 1 ? 0 : atoi(leaf + 5);
		assert_true(stack >= 0 && stack < NSTACKS);
		out[series][stack] += s[i].count;
		total += s[i].count;
	}
	return total;
}

static void check_range(struct store *st, uint64_t from, uint64_t to,
			const struct store_filter *f, size_t nf,
			bool (*pick)(int))
{
	uint64_t want[NSERIES][NSTACKS], got[NSERIES][NSTACKS];
	struct store_query q = {
	    .from_ns = from, .to_ns = to, .filters = f, .nr_filters = nf};
	struct profile *p = profile__new();

	assert_int_equal(store__query(st, &q, p), 0);
	uint64_t tw = expect(from, to, pick, want);
	uint64_t tg = actual(p, got);
	if (tw != tg)
		fail_msg(
		    "range [%+.3f s, %+.3f s): want %llu samples, got %llu",
		    ((double)from - (double)T0) / 1e9,
		    ((double)to - (double)T0) / 1e9, (unsigned long long)tw,
		    (unsigned long long)tg);
	assert_memory_equal(want, got, sizeof(want));
	profile__free(p);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/kiln-test-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/kiln.db", dir);
	nrefs = 0;
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "umount %s/mnt 2>/dev/null; rm -rf %s", dir,
		 dir);
	return system(cmd) == -1;
}

static struct store *open_rw(const char *p)
{
	struct store_opts o = {.path = p};
	struct store *st = store__open(&o);

	assert_non_null(st);
	return st;
}

static struct store *open_ro(const char *p)
{
	struct store_opts o = {.path = p, .read_only = true};
	struct store *st = store__open(&o);

	assert_non_null(st);
	return st;
}

static void sql(const char *p, const char *stmt)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	if (sqlite3_exec(db, stmt, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", stmt, msg);
	sqlite3_close(db);
}

static int64_t sql_int(const char *p, const char *stmt)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, stmt, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* ---- tests ---- */

static void test_storage__roundtrip_frames_and_labels(void **state)
{
	struct store *st = open_rw(path);
	struct profile *p = profile__new();
	struct store_query q = {.from_ns = T0,
				.to_ns = T0 + 10 * NS,
				.filters = NULL,
				.nr_filters = 0};
	size_t n;
	bool found = false;

	(void)state;
	assert_int_equal(write_window(st, T0, T0 + 10 * NS, 500), 0);
	assert_int_equal(store__query(st, &q, p), 0);
	assert_int_equal(profile__meta(p)->period_ns, NS / 99);
	for (size_t i = 0; i < profile__nr_stacks(p); i++) {
		size_t depth;
		const uint32_t *fr = profile__stack(p, (uint32_t)i, &depth);

		if (depth != 3)
			continue;
		const struct frame *root = profile__frame(p, fr[0]);
		const struct frame *mid = profile__frame(p, fr[1]);
		const struct frame *leaf = profile__frame(p, fr[2]);

		assert_string_equal(profile__str(p, root->name), "main");
		assert_string_equal(profile__str(p, root->file), "main.c");
		assert_string_equal(profile__str(p, root->module),
				    "/usr/bin/x");
		assert_int_equal(root->line, 10);
		assert_int_equal(root->kind, FRAME_USER);
		assert_int_equal(root->addr, 0x1000);
		assert_int_equal(mid->kind, FRAME_INLINED);
		/* The mangled name comes back (v3's functions.system_name). */
		assert_string_equal(profile__str(p, mid->sysname),
				    strcmp(profile__str(p, mid->name), "work")
					? ""
					: "_Z4workv");
		assert_string_equal(profile__str(p, root->sysname), "");
		assert_int_equal(leaf->kind, FRAME_KERNEL);
		assert_string_equal(profile__str(p, leaf->module), "[kernel]");
		assert_string_equal(profile__str(p, leaf->file), "");
		found = true;
	}
	assert_true(found);
	profile__samples(p, &n);
	assert_true(n > 0);
	assert_int_equal(profile__series_label(p, 0, "exe") != NULL, 1);
	profile__free(p);
	check_range(st, T0, T0 + 10 * NS, NULL, 0, NULL);
	/* Dictionary deduplicated: a second window adds no stacks. */
	int64_t stacks = sql_int(path, "SELECT count(*) FROM stacks");
	assert_int_equal(write_window(st, T0 + 10 * NS, T0 + 20 * NS, 500), 0);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM stacks"), stacks);
	/* main, idle and work, 11 leaves (stack 0 is "main" alone) */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM frames"),
			 1 + 2 + 11);
	/* ... and one fleet series per comm (not in series_labels). */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM series"),
			 NSERIES + 3);
	assert_int_equal(sql_int(path, "SELECT count(DISTINCT series) FROM "
				       "series_labels"),
			 NSERIES);
	/* A reader in another handle sees the same, through its own cache. */
	struct store *rd = open_ro(path);
	check_range(rd, T0, T0 + 20 * NS, NULL, 0, NULL);
	assert_int_equal(write_window(st, T0 + 20 * NS, T0 + 30 * NS, 500), 0);
	check_range(rd, T0, T0 + 30 * NS, NULL, 0, NULL);
	store__close(rd);
	assert_int_equal(store__check(st), 0);
	store__close(st);
}

/*
 * The writer's id cache is bounded in bytes: an agent that writes new
 * stacks for hours drops it past its bound instead of growing, and what it
 * writes after a drop still finds the rows written before (no duplicate
 * stacks, every sample read back).
 */
static void test_storage__write_cache_bounded(void **state)
{
	struct store *st = open_rw(path);
	struct store_stats stats;
	uint64_t written = 0, max_cache = 0;
	int unique = 0;

	(void)state;
	for (int w = 0; w < 40; w++) {
		struct profile *p = profile__new();
		struct label l[2] = {
		    {profile__intern(p, LABEL_HOST), profile__intern(p, "h")},
		    {profile__intern(p, LABEL_PID), 0}};
		char name[64], pid[16];

		snprintf(pid, sizeof(pid), "%d", w);
		l[1].value = profile__intern(p, pid);
		uint32_t series = profile__add_series(p, l, 2);
		/* One stack every window shares, and 150 new ones of 40
		 * frames with distinct names and addresses. */
		for (int i = 0; i <= 150; i++) {
			uint32_t ids[40];
			int id = i ? ++unique : 0;

			for (int d = 0; d < 40; d++) {
				struct frame f = {.kind = FRAME_USER,
						  .line = (uint32_t)d,
						  .addr =
						      (uint64_t)id * 64 + d};

				snprintf(name, sizeof(name),
					 "function_%d_of_a_long_name_%d", id,
					 d);
				f.name = profile__intern(p, name);
				f.module = profile__intern(p, "/usr/bin/app");
				ids[d] = profile__add_frame(p, &f);
			}
			profile__add_sample(p, series,
					    profile__add_stack(p, ids, 40),
					    T0 + (uint64_t)w * 10 * NS, 1);
			written++;
		}
		assert_int_equal(store__write(st, p), 0);
		profile__free(p);
		store__stats(st, &stats);
		if (stats.cache_bytes > max_cache)
			max_cache = stats.cache_bytes;
	}
	store__stats(st, &stats);
	assert_true(stats.cache_resets >= 2);
	/* Dropped past 8 MB, checked before each write: at most one window
	 * and one doubling of its arrays above that. */
	assert_true(max_cache < (20u << 20));

	struct profile *p = profile__new();
	struct store_query q = {.from_ns = T0, .to_ns = T0 + 400 * NS};
	assert_int_equal(store__query(st, &q, p), 0);
	assert_int_equal(profile__total(p), written);
	profile__free(p);
	store__close(st);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM stacks"),
			 unique + 1);
}

static bool pick_postgres(int s)
{
	return s % 3 == 0;
}
static bool pick_pg_or_nginx(int s)
{
	return s % 3 != 2;
}
static bool pick_pg_or_nginx_db1(int s)
{
	return s % 3 != 2 && s % 2;
}
static bool pick_none(int s)
{
	(void)s;
	return false;
}

static void test_storage__ranges_rollups_and_filters(void **state)
{
	struct store *st = open_rw(path);
	const uint64_t H = 3600 * NS;
	struct store_filter f[3];

	(void)state;
	/* Three hours and a bit, window by window, as the agent writes. */
	for (uint64_t t = T0; t < T0 + 3 * H + 130 * NS; t += 10 * NS)
		assert_int_equal(write_window(st, t, t + 10 * NS, 40), 0);
	/* The rollups exist, so the coarse paths below are exercised. */
	assert_true(sql_int(path, "SELECT count(*) FROM samples_1h") > 0);
	assert_true(sql_int(path, "SELECT count(*) FROM samples_1m") > 0);
	assert_int_equal(
	    sql_int(path, "SELECT value FROM meta WHERE key='rolled_1h'"),
	    T0 / NS / 3600 + 3);

	check_range(st, T0, T0 + 4 * H, NULL, 0, NULL);	    /* all */
	check_range(st, T0 + H, T0 + 2 * H, NULL, 0, NULL); /* one hour row */
	check_range(st, T0 + 1053370000000ULL, T0 + 2 * H + 2472500000000ULL,
		    NULL, 0, NULL); /* hour + minutes + raw edges */
	check_range(st, T0 + 61 * NS, T0 + 62 * NS, NULL, 0, NULL);
	check_range(st, T0 + 61 * NS + 330000000, T0 + 61 * NS + 570000000,
		    NULL, 0, NULL); /* sub-second */
	check_range(st, T0 + 3 * H, T0 + 3 * H + 200 * NS, NULL, 0, NULL);
	check_range(st, T0 - 2 * H, T0, NULL, 0, NULL); /* before any data */

	f[0] = (struct store_filter){"comm", "postgres"};
	check_range(st, T0 + 1053370000000ULL, T0 + 2 * H + 2472500000000ULL, f,
		    1, pick_postgres);
	f[1] = (struct store_filter){"comm", "nginx"};
	check_range(st, T0, T0 + 4 * H, f, 2, pick_pg_or_nginx);
	f[2] = (struct store_filter){"host", "db1"};
	check_range(st, T0 + 17 * NS, T0 + 2 * H, f, 3, pick_pg_or_nginx_db1);
	f[0] = (struct store_filter){"comm", "no-such-process"};
	check_range(st, T0, T0 + 4 * H, f, 1, pick_none);
	f[0] = (struct store_filter){"container", "abc"}; /* known, unused */
	check_range(st, T0, T0 + 4 * H, f, 1, pick_none);

	struct profile *p = profile__new();
	struct store_query q = {
	    .from_ns = T0, .to_ns = T0 + H, .filters = f, .nr_filters = 1};
	f[0] = (struct store_filter){"colour", "red"};
	assert_int_equal(store__query(st, &q, p), -EINVAL);
	q.nr_filters = 0;
	q.to_ns = T0;
	assert_int_equal(store__query(st, &q, p), -EINVAL); /* empty range */
	profile__free(p);

	/* Late data for an hour already rolled up lands in every level. */
	assert_int_equal(write_window(st, T0 + 1800 * NS, T0 + 1810 * NS, 300),
			 0);
	check_range(st, T0, T0 + 4 * H, NULL, 0, NULL);
	check_range(st, T0, T0 + H, NULL, 0, NULL);
	check_range(st, T0 + 1800 * NS, T0 + 1860 * NS, NULL, 0, NULL);
	check_range(st, T0 + 1800 * NS + 5 * NS, T0 + 1806 * NS, NULL, 0, NULL);
	assert_int_equal(store__check(st), 0);
	store__close(st);
}

struct tl_point {
	char group[16];
	uint64_t t, count;
};

struct tl_out {
	struct tl_point pts[4096];
	size_t n;
};

static int collect_point(const struct store_point *pt, void *ctx)
{
	struct tl_out *o = ctx;

	assert_true(o->n < 4096);
	snprintf(o->pts[o->n].group, sizeof(o->pts[o->n].group), "%s",
		 pt->group);
	o->pts[o->n].t = pt->t_ns;
	o->pts[o->n++].count = pt->count;
	return 0;
}

static void check_timeline(struct store *st, uint64_t from, uint64_t to,
			   uint64_t step, bool by_comm)
{
	static struct tl_out o;
	struct store_query q = {
	    .from_ns = from, .to_ns = to, .filters = NULL, .nr_filters = 0};
	uint64_t sum = 0, want_sum = 0;

	o.n = 0;
	assert_int_equal(store__timeline(st, &q, step, by_comm ? "comm" : NULL,
					 collect_point, &o),
			 0);
	for (size_t i = 0; i < o.n; i++) {
		uint64_t want = 0;

		assert_int_equal(o.pts[i].t % step, 0);
		if (i && !strcmp(o.pts[i].group, o.pts[i - 1].group))
			assert_true(o.pts[i].t > o.pts[i - 1].t);
		for (size_t j = 0; j < nrefs; j++) {
			uint64_t slot =
			    refs[j].time_ns - refs[j].time_ns % 20000000;

			if (slot_in(refs[j].time_ns, from, to) &&
			    slot - slot % step == o.pts[i].t &&
			    (!by_comm ||
			     !strcmp(comm_of(refs[j].process), o.pts[i].group)))
				want += refs[j].count;
		}
		if (want != o.pts[i].count)
			fail_msg("point %s@%+.2f s: want %llu got %llu",
				 o.pts[i].group,
				 ((double)o.pts[i].t - (double)T0) / 1e9,
				 (unsigned long long)want,
				 (unsigned long long)o.pts[i].count);
		sum += o.pts[i].count;
	}
	for (size_t j = 0; j < nrefs; j++)
		if (slot_in(refs[j].time_ns, from, to))
			want_sum += refs[j].count;
	assert_int_equal(sum, want_sum); /* no point missing */
}

struct hm_out {
	uint64_t seconds[64];
	uint64_t cells[64][STORE_HEAT_SLOTS];
	size_t n;
};

static int collect_second(uint64_t second_ns, const uint64_t *counts, void *ctx)
{
	struct hm_out *o = ctx;

	assert_true(o->n < 64);
	o->seconds[o->n] = second_ns;
	memcpy(o->cells[o->n++], counts, sizeof(o->cells[0]));
	return 0;
}

static int collect_string(const char *s, void *ctx)
{
	char *buf = ctx;

	strcat(buf, s);
	strcat(buf, ",");
	return 0;
}

static void test_storage__timeline_heatmap_labels(void **state)
{
	struct store *st = open_rw(path);
	static struct hm_out hm;
	char buf[256] = "";

	(void)state;
	for (uint64_t t = T0; t < T0 + 7200 * NS; t += 10 * NS)
		assert_int_equal(write_window(st, t, t + 10 * NS, 20), 0);
	check_timeline(st, T0, T0 + 7200 * NS, 3600 * NS, false);
	check_timeline(st, T0, T0 + 7200 * NS, 600 * NS, true);
	check_timeline(st, T0 + 95 * NS, T0 + 1800 * NS, 60 * NS, true);
	check_timeline(st, T0 + 3590 * NS, T0 + 3650 * NS, NS, false);
	check_timeline(st, T0 + 3595 * NS + 20000000, T0 + 3605 * NS, 10 * NS,
		       true);

	struct store_query q = {.from_ns = T0 + 3595 * NS,
				.to_ns = T0 + 3630 * NS + 500000000,
				.filters = NULL,
				.nr_filters = 0};
	assert_int_equal(store__heatmap(st, &q, collect_second, &hm), 0);
	assert_true(hm.n > 0);
	uint64_t seen = 0, want = 0;
	for (size_t i = 0; i < hm.n; i++) {
		if (i)
			assert_true(hm.seconds[i] > hm.seconds[i - 1]);
		for (int c = 0; c < STORE_HEAT_SLOTS; c++) {
			uint64_t w = 0,
				 from = hm.seconds[i] + (uint64_t)c * 20000000;

			for (size_t j = 0; j < nrefs; j++)
				if (slot_in(refs[j].time_ns, from,
					    from + 20000000) &&
				    slot_in(refs[j].time_ns, q.from_ns,
					    q.to_ns))
					w += refs[j].count;
			assert_int_equal(hm.cells[i][c], w);
			seen += w;
		}
	}
	for (size_t j = 0; j < nrefs; j++)
		if (slot_in(refs[j].time_ns, q.from_ns, q.to_ns))
			want += refs[j].count;
	assert_int_equal(seen, want);

	assert_int_equal(store__label_names(st, collect_string, buf), 0);
	assert_string_equal(buf, "comm,exe,host,pid,");
	buf[0] = 0;
	assert_int_equal(
	    store__label_values(st, "comm", NULL, collect_string, buf), 0);
	assert_string_equal(buf, "kiln,nginx,postgres,");
	buf[0] = 0;
	struct store_filter f = {"host", "db1"};
	struct store_query fq = {.from_ns = T0,
				 .to_ns = T0 + 7200 * NS,
				 .filters = &f,
				 .nr_filters = 1};
	assert_int_equal(
	    store__label_values(st, "pid", &fq, collect_string, buf), 0);
	assert_string_equal(buf, "1001,1003,1005,");
	buf[0] = 0;
	fq.nr_filters = 0;
	fq.from_ns = T0 + 9000 * NS; /* no data there */
	fq.to_ns = T0 + 9999 * NS;
	assert_int_equal(
	    store__label_values(st, "pid", &fq, collect_string, buf), 0);
	assert_string_equal(buf, "");
	assert_int_equal(
	    store__label_values(st, "colour", NULL, collect_string, buf),
	    -EINVAL);
	assert_int_equal(store__timeline(st, &q, NS, "colour", collect_point,
					 &(struct tl_out){0}),
			 -EINVAL);
	store__close(st);
}

/* ---- a fleet: many hosts' series, filtered reads and merged series ---- */

#define FLEET_HOSTS 40
#define FLEET_COMMS 3
#define FLEET_STACKS 5

static uint64_t fleet_rnd(void)
{
	static uint64_t r = 0x2545f4914f6cdd1dULL;

	r ^= r << 13;
	r ^= r >> 7;
	r ^= r << 17;
	return r;
}

/* One window with one series per (host, comm) and 'per' samples each;
 * counts also go to want[host][comm][stack]. */
static void fleet_window(struct store *st, uint64_t from,
			 uint64_t want[FLEET_HOSTS][FLEET_COMMS][FLEET_STACKS])
{
	struct profile *p = profile__new();
	uint32_t stacks[FLEET_STACKS];
	char buf[32];

	assert_non_null(p);
	for (int k = 0; k < FLEET_STACKS; k++) {
		struct frame f = {0};
		uint32_t fr[2];

		f.name = profile__intern(p, "main");
		fr[0] = profile__add_frame(p, &f);
		snprintf(buf, sizeof(buf), "leaf_%d", k);
		f.name = profile__intern(p, buf);
		fr[1] = profile__add_frame(p, &f);
		stacks[k] = profile__add_stack(p, fr, 2);
	}
	for (int h = 0; h < FLEET_HOSTS; h++) {
		for (int c = 0; c < FLEET_COMMS; c++) {
			struct label l[3];
			uint32_t series;

			snprintf(buf, sizeof(buf), "h%02d", h);
			l[0] = (struct label){profile__intern(p, LABEL_HOST),
					      profile__intern(p, buf)};
			l[1] = (struct label){profile__intern(p, LABEL_COMM),
					      profile__intern(p, comm_of(c))};
			snprintf(buf, sizeof(buf), "%d", 100 * h + c);
			l[2] = (struct label){profile__intern(p, LABEL_PID),
					      profile__intern(p, buf)};
			series = profile__add_series(p, l, 3);
			for (int i = 0; i < 3; i++) {
				int k = (int)(fleet_rnd() % FLEET_STACKS);
				uint64_t n = 1 + fleet_rnd() % 4;

				profile__add_sample(
				    p, series, stacks[k],
				    from + fleet_rnd() % 500 * 20000000ULL, n);
				want[h][c][k] += n;
			}
		}
	}
	profile__meta(p)->period_ns = NS / 99;
	assert_int_equal(store__write(st, p), 0);
	profile__free(p);
}

/* A query's counts by [host][comm][stack]; host -1 when the result has no
 * host label (merged away). Checks that only 'keep' labels are left. */
static void
fleet_counts(const struct profile *p,
	     uint64_t got[FLEET_HOSTS + 1][FLEET_COMMS][FLEET_STACKS],
	     bool comm_kept, bool all_kept)
{
	size_t n;
	const struct sample *s = profile__samples(p, &n);

	memset(got, 0,
	       sizeof(uint64_t) * (FLEET_HOSTS + 1) * FLEET_COMMS *
		   FLEET_STACKS);
	for (size_t i = 0; i < n; i++) {
		const char *host =
		    profile__series_label(p, s[i].series, LABEL_HOST);
		const char *comm =
		    profile__series_label(p, s[i].series, LABEL_COMM);
		const char *pid =
		    profile__series_label(p, s[i].series, LABEL_PID);
		size_t depth;
		const uint32_t *fr = profile__stack(p, s[i].stack, &depth);
		int h = FLEET_HOSTS, c = 0, k;

		assert_true(all_kept ? host && pid : !host && !pid);
		if (all_kept)
			h = atoi(host + 1);
		assert_true(comm_kept ? comm != NULL : comm == NULL);
		while (comm && strcmp(comm, comm_of(c)))
			assert_true(++c < FLEET_COMMS);
		assert_int_equal(depth, 2);
		k = atoi(profile__str(p, profile__frame(p, fr[1])->name) + 5);
		got[h][c][k] += s[i].count;
	}
}

static int fleet_sum(const struct store_point *pt, void *ctx)
{
	*(uint64_t *)ctx += pt->count;
	return 0;
}

/* Time line points summed into per-comm arrays: ctx is a tl_sum. */
#define TL_POINTS 200
struct tl_sum {
	uint64_t t0, step;
	uint64_t pts[FLEET_COMMS + 1][TL_POINTS]; /* [FLEET_COMMS]: no group */
};

static int tl_add(const struct store_point *pt, void *ctx)
{
	struct tl_sum *t = ctx;
	int c = 0;

	if (!*pt->group)
		c = FLEET_COMMS;
	else
		while (strcmp(pt->group, comm_of(c)))
			assert_true(++c < FLEET_COMMS);
	assert_true(pt->t_ns >= t->t0);
	assert_true((pt->t_ns - t->t0) / t->step < TL_POINTS);
	t->pts[c][(pt->t_ns - t->t0) / t->step] += pt->count;
	return 0;
}

static void test_storage__fleet_filters_and_merges(void **state)
{
	static uint64_t want[FLEET_HOSTS][FLEET_COMMS][FLEET_STACKS];
	static uint64_t got[FLEET_HOSTS + 1][FLEET_COMMS][FLEET_STACKS];
	static const char *const keep_comm[] = {LABEL_COMM, "no-such-label"};
	const uint64_t H = 3600 * NS;
	struct store *st = open_rw(path);
	struct store_filter f[2] = {{LABEL_HOST, "h07"}, {LABEL_HOST, "h31"}};
	struct store_query q = {.from_ns = T0, .to_ns = T0 + 2 * H};
	struct profile *p;

	(void)state;
	/* An hour and some minutes: hour, minute and raw rows are read. */
	for (uint64_t t = T0; t < T0 + H + 200 * NS; t += 10 * NS)
		fleet_window(st, t, want);
	assert_true(sql_int(path, "SELECT count(*) FROM samples_1h") > 0);

	/* One host (and then two) of forty: read by series runs, and the
	 * same counts as the scan of everything gives. */
	for (size_t nf = 1; nf <= 2; nf++) {
		q.filters = f;
		q.nr_filters = nf;
		q.from_ns = T0 + 37 * NS + 500000000; /* raw edges too */
		q.to_ns = T0 + H + 150 * NS;
		p = profile__new();
		assert_int_equal(store__query(st, &q, p), 0);
		fleet_counts(p, got, true, true);
		profile__free(p);
		uint64_t sel[FLEET_HOSTS + 1][FLEET_COMMS][FLEET_STACKS];
		q.nr_filters = 0;
		p = profile__new();
		assert_int_equal(store__query(st, &q, p), 0);
		fleet_counts(p, sel, true, true);
		profile__free(p);
		for (int h = 0; h < FLEET_HOSTS; h++) {
			bool in = h == 7 || (nf == 2 && h == 31);

			for (int c = 0; c < FLEET_COMMS; c++)
				for (int k = 0; k < FLEET_STACKS; k++)
					assert_int_equal(got[h][c][k],
							 in ? sel[h][c][k] : 0);
		}
	}

	/* Merged: every host's series of one comm become one. */
	q.from_ns = T0;
	q.to_ns = T0 + 2 * H;
	q.nr_filters = 0;
	q.merge = true;
	q.keep = keep_comm;
	q.nr_keep = 2;
	p = profile__new();
	assert_int_equal(store__query(st, &q, p), 0);
	assert_int_equal(profile__nr_series(p), FLEET_COMMS);
	fleet_counts(p, got, true, false);
	profile__free(p);
	for (int c = 0; c < FLEET_COMMS; c++)
		for (int k = 0; k < FLEET_STACKS; k++) {
			uint64_t w = 0;

			for (int h = 0; h < FLEET_HOSTS; h++)
				w += want[h][c][k];
			assert_int_equal(got[FLEET_HOSTS][c][k], w);
		}

	/* Merged with a filter, and keeping nothing: one series. */
	q.filters = f;
	q.nr_filters = 1;
	q.nr_keep = 0;
	p = profile__new();
	assert_int_equal(store__query(st, &q, p), 0);
	assert_int_equal(profile__nr_series(p), 1);
	fleet_counts(p, got, false, false);
	profile__free(p);
	for (int k = 0; k < FLEET_STACKS; k++) {
		uint64_t w = 0;

		for (int c = 0; c < FLEET_COMMS; c++)
			w += want[7][c][k];
		assert_int_equal(got[FLEET_HOSTS][0][k], w);
	}

	/* The rolled-up minutes' fleet rows hold slots (the last minute's
	 * not yet), so cut buckets there are read from them too; a window
	 * that arrives late for such a bucket adds its slots. */
	assert_int_equal(sql_int(path, "SELECT value FROM meta WHERE key = "
				       "'fleet_slots_from'"),
			 T0 / NS / 10);
	assert_int_equal(sql_int(path, "SELECT value FROM meta WHERE key = "
				       "'fleet_slots_to'"),
			 (T0 / NS + 3600 + 180) / 60 * 6);
	fleet_window(st, T0 + 30 * NS, want);

	/* Merged on the process name alone, no filter or one on it: read
	 * from the fleet series (cut buckets too where they have slots),
	 * other cut buckets from the stored ones; the same counts as
	 * summing every host's series. */
	static const char *const only_comm[] = {LABEL_COMM};
	struct store_filter cf = {LABEL_COMM, "nginx"};
	for (int filtered = 0; filtered <= 1; filtered++) {
		uint64_t each[FLEET_HOSTS + 1][FLEET_COMMS][FLEET_STACKS];
		struct store_query m = {.from_ns = T0 + 37 * NS + 500000000,
					.to_ns = T0 + H + 150 * NS + 20000000,
					.filters = &cf,
					.nr_filters = (size_t)filtered};

		p = profile__new();
		assert_int_equal(store__query(st, &m, p), 0);
		fleet_counts(p, each, true, true);
		profile__free(p);
		m.merge = true;
		m.keep = only_comm;
		m.nr_keep = 1;
		p = profile__new();
		assert_int_equal(store__query(st, &m, p), 0);
		assert_int_equal(profile__nr_series(p),
				 filtered ? 1 : FLEET_COMMS);
		fleet_counts(p, got, true, false);
		profile__free(p);
		for (int c = 0; c < FLEET_COMMS; c++)
			for (int k = 0; k < FLEET_STACKS; k++) {
				uint64_t w = 0;

				for (int h = 0; h < FLEET_HOSTS; h++)
					w += each[h][c][k];
				assert_int_equal(got[FLEET_HOSTS][c][k], w);
			}
	}

	/* A store upgraded to fleet series at T0 + 1 h: before that they
	 * are not complete (here: gone), and that part of a range is read
	 * from the stored series. */
	sql(path, "UPDATE meta SET value = 1763737200 "
		  "WHERE key = 'fleet_since';"
		  "DELETE FROM samples_10s WHERE bucket < 176373720 AND series "
		  "NOT IN (SELECT series FROM series_labels);"
		  "DELETE FROM samples_1m WHERE bucket < 29395620 AND series "
		  "NOT IN (SELECT series FROM series_labels);"
		  "DELETE FROM samples_1h WHERE bucket < 489927 AND series "
		  "NOT IN (SELECT series FROM series_labels);");
	{
		struct store_query m = {.from_ns = T0 + 1800 * NS,
					.to_ns = T0 + H + 190 * NS,
					.merge = true,
					.keep = only_comm,
					.nr_keep = 1};
		uint64_t w = 0;

		p = profile__new();
		assert_int_equal(store__query(st, &m, p), 0);
		m.merge = false;
		struct profile *all = profile__new();
		assert_int_equal(store__query(st, &m, all), 0);
		w = profile__total(all);
		assert_true(w > 0);
		assert_int_equal(profile__total(p), w);
		profile__free(all);
		profile__free(p);
	}

	/* Time lines from the totals index: one host (series runs), all
	 * hosts, whole rows and rows cut by the range. */
	for (int one = 0; one <= 1; one++) {
		uint64_t w = 0, sum = 0;

		q.nr_filters = (size_t)one;
		q.from_ns = T0;
		q.to_ns = T0 + 2 * H;
		assert_int_equal(
		    store__timeline(st, &q, 60 * NS, NULL, fleet_sum, &sum), 0);
		for (int h = 0; h < FLEET_HOSTS; h++)
			for (int c = 0; c < FLEET_COMMS; c++)
				for (int k = 0; k < FLEET_STACKS; k++)
					if (!one || h == 7)
						w += want[h][c][k];
		assert_int_equal(sum, w);
		q.from_ns = T0 + 3 * NS; /* cuts the first bucket */
		sum = 0;
		assert_int_equal(
		    store__timeline(st, &q, 10 * NS, NULL, fleet_sum, &sum), 0);
		assert_true(sum < w && sum > w - w / 100);
	}

	/* Every host's time line (and by process name) is read from the
	 * fleet series, the buckets the range cuts from the stored ones:
	 * point for point what each host's lines sum to. */
	for (int grouped = 0; grouped <= 1; grouped++) {
		static struct tl_sum all, each;
		const char *by = grouped ? LABEL_COMM : NULL;
		char host[8];

		memset(&all, 0, sizeof(all));
		memset(&each, 0, sizeof(each));
		q.from_ns = T0 + 37 * NS + 500000000;
		q.to_ns = T0 + H + 155 * NS;
		all.step = each.step = 20 * NS;
		all.t0 = each.t0 = q.from_ns - q.from_ns % all.step;
		q.nr_filters = 0;
		assert_int_equal(
		    store__timeline(st, &q, 20 * NS, by, tl_add, &all), 0);
		q.filters = f;
		q.nr_filters = 1;
		for (int h = 0; h < FLEET_HOSTS; h++) {
			snprintf(host, sizeof(host), "h%02d", h);
			f[0].value = host;
			assert_int_equal(
			    store__timeline(st, &q, 20 * NS, by, tl_add, &each),
			    0);
		}
		f[0].value = "h07";
		assert_memory_equal(all.pts, each.pts, sizeof(all.pts));
		assert_true(all.pts[grouped ? 1 : FLEET_COMMS][3] > 0);
	}
	store__close(st);
}

static void test_storage__version_refused_and_migrated(void **state)
{
	struct store_opts o = {.path = path};
	struct store *st = open_rw(path);

	(void)state;
	assert_int_equal(write_window(st, T0, T0 + 10 * NS, 200), 0);
	store__close(st);

	sql(path, "PRAGMA user_version = 99");
	errno = 0;
	assert_null(store__open(&o));
	assert_int_equal(errno, EPROTO);
	o.read_only = true;
	assert_null(store__open(&o));
	assert_int_equal(errno, EPROTO);
	o.read_only = false;

	/* Turn it into a version 1 file: no series.last_bucket (v2), no
	 * functions.system_name (v3), no push tables (v4), frames without
	 * build ids and no frame_names (v5), no totals indexes (v6). */
	sql(path, "ALTER TABLE series DROP COLUMN last_bucket;"
		  "DROP INDEX samples_10s_totals; DROP INDEX samples_1m_totals;"
		  "DROP INDEX samples_1h_totals; DROP INDEX push_windows_end;"
		  "ALTER TABLE functions DROP COLUMN system_name;"
		  "DROP TABLE push_spool; DROP TABLE push_ack;"
		  "DROP TABLE push_windows; DROP TABLE push_agents;"
		  "DROP TABLE frame_names;"
		  "CREATE TABLE frames_v1 (id INTEGER PRIMARY KEY,"
		  " function INTEGER NOT NULL, mapping INTEGER NOT NULL,"
		  " line INTEGER NOT NULL, kind INTEGER NOT NULL,"
		  " addr INTEGER NOT NULL,"
		  " UNIQUE (function, mapping, line, kind, addr));"
		  "INSERT INTO frames_v1 SELECT id, function, mapping, line,"
		  " kind, addr FROM frames;"
		  "DROP TABLE frames; ALTER TABLE frames_v1 RENAME TO frames;"
		  "PRAGMA user_version = 1");
	/* A reader (kiln server, kiln query) opening the old file upgrades
	 * it first instead of failing later on a missing column. */
	o.read_only = true;
	st = store__open(&o);
	assert_non_null(st);
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 6);
	check_range(st, T0, T0 + 10 * NS, NULL, 0, NULL);
	store__close(st);
	st = open_rw(path);
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 6);
	assert_int_equal(
	    sql_int(path, "SELECT count(*) FROM functions WHERE system_name"),
	    0);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM push_ack"), 1);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM frames "
				       "WHERE build_id OR file_offset"),
			 0);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM frame_names"), 0);
	assert_int_equal(sql_int(path, "SELECT min(last_bucket) FROM series"),
			 T0 / NS / 3600);
	check_range(st, T0, T0 + 10 * NS, NULL, 0, NULL);
	assert_int_equal(write_window(st, T0 + 10 * NS, T0 + 20 * NS, 200), 0);
	check_range(st, T0, T0 + 20 * NS, NULL, 0, NULL);
	assert_int_equal(store__check(st), 0);
	store__close(st);
}

/* One sample at 't' whose only frame is 'name' (with a build id, when
 * given, at file offset 0x1040). */
static int write_named(struct store *st, uint64_t t, const char *name,
		       const char *build_id)
{
	struct profile *p = profile__new();
	struct frame fr = {.kind = FRAME_USER, .addr = 0x1040};
	struct label l = {profile__intern(p, "comm"), profile__intern(p, "x")};
	uint32_t f;
	int err;

	fr.name = profile__intern(p, name);
	fr.module = profile__intern(p, "/bin/x");
	if (build_id) {
		fr.build_id = profile__intern(p, build_id);
		fr.offset = 0x1040;
	}
	f = profile__add_frame(p, &fr);
	profile__add_sample(p, profile__add_series(p, &l, 1),
			    profile__add_stack(p, &f, 1), t, 1);
	err = store__write(st, p);
	profile__free(p);
	return err;
}

/* "name:count;" for every distinct frame name of a query, sorted. */
static void names_of(struct store *st, uint64_t from, uint64_t to, char *buf,
		     size_t size)
{
	struct store_query q = {.from_ns = from, .to_ns = to};
	struct profile *p = profile__new();
	size_t n, len = 0;
	const struct sample *s;

	assert_int_equal(store__query(st, &q, p), 0);
	profile__compact(p, 0);
	s = profile__samples(p, &n);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t depth;
		const uint32_t *fr = profile__stack(p, s[i].stack, &depth);

		assert_int_equal(depth, 1);
		len += (size_t)snprintf(
		    buf + len, size - len, "%s:%llu;",
		    profile__str(p, profile__frame(p, fr[0])->name),
		    (unsigned long long)s[i].count);
		assert_true(len < size);
	}
	profile__free(p);
}

/*
 * Debug info that arrives later names stored frames again: a window
 * written with a poor name shows the new one afterwards, in a reader
 * opened before the renaming too, and the frames of a later window with
 * that name merge with it.
 */
static void test_storage__frames_named_again(void **state)
{
	struct store *st = open_rw(path), *rd;
	struct store_frame_ref refs[4];
	struct store_frame_name nm = {
	    .name = "main", .file = "main.c", .system_name = NULL, .line = 7};
	char buf[256];

	(void)state;
	assert_int_equal(write_named(st, T0, "x+0x1040", "abcd"), 0);
	assert_int_equal(write_named(st, T0 + NS, "x+0x2000", NULL), 0);
	rd = open_ro(path);
	names_of(rd, T0, T0 + 10 * NS, buf, sizeof(buf));
	assert_string_equal(buf, "x+0x1040:1;x+0x2000:1;");

	assert_int_equal(store__frames_of_build_id(st, "abcd", 0, refs, 4), 1);
	assert_int_equal(refs[0].offset, 0x1040);
	assert_int_equal(
	    store__frames_of_build_id(st, "abcd", refs[0].id, refs, 4), 0);
	assert_int_equal(store__frames_of_build_id(st, "ffff", 0, refs, 4), 0);
	nm.id = refs[0].id;
	assert_int_equal(store__rename_frames(st, &nm, 1), 1);
	assert_int_equal(store__rename_frames(st, &nm, 1), 0); /* no change */

	/* A later window already named: both count under one name. */
	assert_int_equal(write_named(st, T0 + 2 * NS, "main", "abcd"), 0);
	names_of(rd, T0, T0 + 10 * NS, buf, sizeof(buf));
	assert_string_equal(buf, "main:1;x+0x2000:1;main:1;");
	names_of(st, T0, T0 + NS, buf, sizeof(buf));
	assert_string_equal(buf, "main:1;");
	store__close(rd);
	rd = open_ro(path);
	names_of(rd, T0, T0 + NS, buf, sizeof(buf));
	assert_string_equal(buf, "main:1;");

	/* Named again: the newest name wins in every reader. */
	nm.name = "main_again";
	assert_int_equal(store__rename_frames(st, &nm, 1), 1);
	names_of(rd, T0, T0 + NS, buf, sizeof(buf));
	assert_string_equal(buf, "main_again:1;");
	assert_int_equal(store__check(st), 0);
	store__close(rd);
	store__close(st);
}

static void test_storage__open_errors(void **state)
{
	struct store_opts o = {0};
	char p[256];
	int fd;

	(void)state;
	snprintf(p, sizeof(p), "%s/no/such/dir/kiln.db", dir);
	o.path = p;
	errno = 0;
	assert_null(store__open(&o));
	assert_int_equal(errno, ENOENT);

	snprintf(p, sizeof(p), "%s/missing.db", dir);
	o.read_only = true;
	assert_null(store__open(&o));
	assert_int_equal(errno, ENOENT);
	o.read_only = false;

	/* Not a database at all. */
	snprintf(p, sizeof(p), "%s/corrupt.db", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(
		    write(fd, "this is not an SQLite database!!", 32), 32);
	close(fd);
	assert_null(store__open(&o));
	assert_int_equal(errno, EBADMSG);
	o.read_only = true;
	assert_null(store__open(&o));
	assert_int_equal(errno, EBADMSG);
	o.read_only = false;

	/* Store URLs: sqlite:PATH is the same file as PATH. */
	snprintf(p, sizeof(p), "sqlite:%s/url.db", dir);
	struct store *su = store__open(&o);
	assert_non_null(su);
	assert_int_equal(write_window(su, T0, T0 + 10 * NS, 100), 0);
	store__close(su);
	snprintf(p, sizeof(p), "%s/url.db", dir);
	o.read_only = true;
	su = store__open(&o);
	assert_non_null(su);
	assert_int_equal(store__check(su), 0);
	store__close(su);
	o.read_only = false;
	o.path = "sqlite:";
	assert_null(store__open(&o));
	assert_int_equal(errno, EINVAL);
	o.path = p;

	/* An SQLite file of someone else's. */
	snprintf(p, sizeof(p), "%s/other.db", dir);
	sql(p, "CREATE TABLE t (x)");
	assert_null(store__open(&o));
	assert_int_equal(errno, EBADMSG);

	/* Read-only: permissions bind only non-root; root gets a ro mount. */
	if (geteuid() == 0) {
		char mnt[128], cmd[256];

		snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
		assert_int_equal(mkdir(mnt, 0755), 0);
		assert_int_equal(mount("tmpfs", mnt, "tmpfs", 0, "size=4m"), 0);
		snprintf(p, sizeof(p), "%s/kiln.db", mnt);
		o.path = p;
		struct store *st = open_rw(p);
		assert_int_equal(write_window(st, T0, T0 + 10 * NS, 100), 0);
		store__close(st);
		snprintf(cmd, sizeof(cmd), "mount -o remount,ro %s", mnt);
		assert_int_equal(system(cmd), 0);
		errno = 0;
		assert_null(store__open(&o));
		assert_int_equal(errno, EROFS);
	} else {
		snprintf(p, sizeof(p), "%s/ro.db", dir);
		o.path = p;
		store__close(open_rw(p));
		assert_int_equal(chmod(p, 0444), 0);
		assert_null(store__open(&o));
		assert_int_equal(errno, EACCES);
	}
}

static void test_storage__retention_by_age_and_size(void **state)
{
	struct store_opts o = {.path = path, .retention_ns = 3600 * NS};
	struct store *st = store__open(&o);
	struct store_stats stats;
	uint64_t end = T0 + 4 * 3600 * NS;

	(void)state;
	assert_non_null(st);
	/* A process that lived only in the first minute. */
	struct profile *gone = profile__new();
	struct label gl = {profile__intern(gone, "pid"),
			   profile__intern(gone, "9999")};
	profile__add_sample(gone, profile__add_series(gone, &gl, 1),
			    profile__add_stack(gone, NULL, 0), T0 + NS, 5);
	assert_int_equal(store__write(st, gone), 0);
	profile__free(gone);
	for (uint64_t t = T0; t < end; t += 10 * NS)
		assert_int_equal(write_window(st, t, t + 10 * NS, 20), 0);
	/* and the fleet series of its three comms and of "no comm" */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM series"),
			 NSERIES + 1 + 4);
	store__stats(st, &stats);
	assert_int_equal(stats.first_ns, T0);
	assert_int_equal(stats.windows_written, 4 * 360 + 1);

	assert_int_equal(store__enforce_retention(st, end), 0);
	store__stats(st, &stats);
	assert_true(stats.rows_deleted > 0);
	/* Nothing older than the hour before 'end' is left at any level. */
	assert_true(stats.first_ns >= end - 3600 * NS);
	assert_true(stats.first_ns < end);
	/* What is within the retention is still all there. */
	check_range(st, end - 3600 * NS, end, NULL, 0, NULL);
	struct profile *p = profile__new();
	struct store_query q = {.from_ns = T0,
				.to_ns = end - 3600 * NS,
				.filters = NULL,
				.nr_filters = 0};
	assert_int_equal(store__query(st, &q, p), 0);
	assert_int_equal(profile__total(p), 0);
	profile__free(p);
	/* Its series (and its fleet series) went with its data; the live
	 * ones stay. */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM series"),
			 NSERIES + 3);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM series_labels "
				       "WHERE value IN (SELECT id FROM strings "
				       "WHERE s = '9999')"),
			 0);
	store__close(st);

	/* By size: three more hours, then a limit of half of the file. */
	o.retention_ns = 0;
	st = store__open(&o);
	assert_non_null(st);
	for (uint64_t t = end; t < end + 3 * 3600 * NS; t += 10 * NS)
		assert_int_equal(write_window(st, t, t + 10 * NS, 20), 0);
	store__close(st);
	int64_t pages = sql_int(path, "PRAGMA page_count");
	int64_t psize = sql_int(path, "PRAGMA page_size");
	o.max_size_bytes = (uint64_t)(pages * psize / 2);
	st = store__open(&o);
	assert_non_null(st);
	assert_int_equal(store__enforce_retention(st, end + 3 * 3600 * NS), 0);
	store__stats(st, &stats);
	if (stats.first_ns <= end - 3600 * NS)
		fail_msg("first %+.0f s, used %llu, limit %llu",
			 ((double)stats.first_ns - (double)end) / 1e9,
			 (unsigned long long)sql_int(path, "PRAGMA page_count"),
			 (unsigned long long)o.max_size_bytes);
	int64_t used =
	    sql_int(path, "SELECT (SELECT page_count FROM pragma_page_count) - "
			  "(SELECT freelist_count FROM pragma_freelist_count)");
	assert_true((uint64_t)(used * psize) <= o.max_size_bytes);
	/* The newest hour is intact. */
	check_range(st, end + 2 * 3600 * NS, end + 3 * 3600 * NS, NULL, 0,
		    NULL);
	assert_int_equal(store__check(st), 0);
	store__close(st);
}

static void test_storage__long_reader_loses_no_window(void **state)
{
	struct store *st = open_rw(path);
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t before, during;

	(void)state;
	assert_int_equal(write_window(st, T0, T0 + 10 * NS, 100), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT sum(total) FROM samples_10s", -1, &s,
			       NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	before = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	/* The writer goes on while the snapshot is held. */
	for (uint64_t t = T0 + 10 * NS; t < T0 + 600 * NS; t += 10 * NS)
		assert_int_equal(write_window(st, t, t + 10 * NS, 100), 0);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	during = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	assert_int_equal(before, during); /* a consistent snapshot */
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_true(sqlite3_column_int64(s, 0) > during);
	sqlite3_finalize(s);
	sqlite3_close(db);
	check_range(st, T0, T0 + 600 * NS, NULL, 0, NULL);
	store__close(st);
	st = open_ro(path);
	check_range(st, T0, T0 + 600 * NS, NULL, 0, NULL);
	assert_int_equal(store__check(st), 0);
	store__close(st);
}

static void test_storage__disk_full_reported_and_recovered(void **state)
{
	char mnt[128], p[192], cmd[256];
	struct store *st;
	int err = 0, i;

	(void)state;
	if (geteuid() != 0) {
		if (getenv("CI") && !strcmp(getenv("CI"), "true"))
			fail_msg("needs root to mount a small tmpfs");
		skip();
	}
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	assert_int_equal(mkdir(mnt, 0755), 0);
	assert_int_equal(mount("tmpfs", mnt, "tmpfs", 0, "size=1m"), 0);
	snprintf(p, sizeof(p), "%s/kiln.db", mnt);
	st = open_rw(p);
	/* Big windows (distinct 20 ms slots) fill 1 MB fast. */
	for (i = 0; i < 500 && !err; i++)
		err = write_window(st, T0 + (uint64_t)i * 10 * NS,
				   T0 + (uint64_t)(i + 1) * 10 * NS, 3000);
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(store__check(st), 0);
	check_range(st, T0, T0 + 10000 * NS, NULL, 0, NULL);
	/* Space comes back: the same store writes again. */
	snprintf(cmd, sizeof(cmd), "mount -o remount,size=16m %s", mnt);
	assert_int_equal(system(cmd), 0);
	for (int j = 0; j < 5; j++)
		assert_int_equal(
		    write_window(st, T0 + (uint64_t)(i + j) * 10 * NS,
				 T0 + (uint64_t)(i + j + 1) * 10 * NS, 3000),
		    0);
	check_range(st, T0, T0 + 10000 * NS, NULL, 0, NULL);
	assert_int_equal(store__check(st), 0);
	store__close(st);
}

/*
 * A store is input like any file: NULLs, ids and kinds out of range and
 * sample rows pointing nowhere give -EBADMSG on every read path, never a
 * crash (issue 12: a NULL in strings.s reached strdup(NULL)).
 */
static int count_cb(const char *s, void *ctx)
{
	(void)s;
	(*(int *)ctx)++;
	return 0;
}

static int point_cb(const struct store_point *pt, void *ctx)
{
	(void)pt;
	(*(int *)ctx)++;
	return 0;
}

static void expect_corrupt(const char *damage, const char *more)
{
	struct store_query q = {.from_ns = T0 - 3600 * NS,
				.to_ns = T0 + 3600 * NS};
	struct store *st;
	struct profile *p;
	int n = 0;

	unlink(path);
	st = open_rw(path);
	assert_int_equal(write_window(st, T0, T0 + 10 * NS, 50), 0);
	store__close(st);
	sql(path, damage);
	if (more)
		sql(path, more); /* a new connection sees the new schema */
	st = open_ro(path);
	p = profile__new();
	assert_int_equal(store__query(st, &q, p), -EBADMSG);
	profile__free(p);
	assert_int_equal(
	    store__timeline(st, &q, 10 * NS, LABEL_COMM, point_cb, &n),
	    -EBADMSG);
	assert_int_equal(store__label_values(st, LABEL_COMM, &q, count_cb, &n),
			 -EBADMSG);
	store__close(st);
}

static void test_storage__corrupt_values_refused(void **state)
{
	(void)state;
	/* NOT NULL dropped from the schema first, as a damaged page could. */
	expect_corrupt("PRAGMA writable_schema=ON;"
		       "UPDATE sqlite_schema SET sql=replace(sql, "
		       "'s TEXT NOT NULL UNIQUE', 's TEXT UNIQUE') "
		       "WHERE name='strings';",
		       "UPDATE strings SET s = NULL WHERE id = 2");
	expect_corrupt("UPDATE frames SET kind = 99 WHERE id = 1", NULL);
	expect_corrupt("UPDATE frames SET function = 'abc' WHERE id = 1", NULL);
	expect_corrupt("UPDATE strings SET id = 1000000000 WHERE id = "
		       "(SELECT max(id) FROM strings)",
		       NULL);
	expect_corrupt("UPDATE stacks SET frames = x'ff' WHERE id = 1", NULL);
	expect_corrupt("UPDATE series SET labels = x'0102ff' WHERE id = 1",
		       NULL);
	expect_corrupt(
	    "UPDATE samples_10s SET series = -5 - series WHERE bucket = "
	    "(SELECT min(bucket) FROM samples_10s)",
	    NULL);
}

static size_t replay_store_dir(struct fuzz_store *fs, const char *dirname,
			       const char *prefix)
{
	DIR *d = opendir(dirname);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char file[4096];
		uint8_t buf[4096];
		ssize_t len;
		int fd;

		if (e->d_name[0] == '.' ||
		    strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(file, sizeof(file), "%s/%s", dirname, e->d_name);
		fd = open(file, O_RDONLY);
		assert_true(fd >= 0);
		len = read(fd, buf, sizeof(buf));
		close(fd);
		assert_true(len >= 0);
		fuzz_store__run(fs, buf, (size_t)len);
		n++;
	}
	closedir(d);
	return n;
}

/* The store fuzzer's corpus and crash inputs (scripts/fuzz.sh). */
static void test_storage__fuzz_corpus_replay(void **state)
{
	const char *root =
	    getenv("KILN_SRC_DIR") ? getenv("KILN_SRC_DIR") : ".";
	struct fuzz_store fs;
	char dirname[4096];
	size_t n;
	enum log_level saved = log_level;

	(void)state;
	assert_int_equal(fuzz_store__init(&fs), 0);
	log_level = LOG_ERROR;
	snprintf(dirname, sizeof(dirname), "%s/tests/fuzz/corpus/store", root);
	n = replay_store_dir(&fs, dirname, "");
	snprintf(dirname, sizeof(dirname), "%s/tests/fuzz/regressions", root);
	n += replay_store_dir(&fs, dirname, "store-");
	log_level = saved;
	fuzz_store__fini(&fs);
	if (!n)
		fail_msg("no store fuzz corpus under %s/tests/fuzz", root);
	print_message("replayed %zu corrupted stores\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_storage__write_cache_bounded,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_storage__roundtrip_frames_and_labels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_storage__frames_named_again,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_storage__ranges_rollups_and_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_storage__timeline_heatmap_labels, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_storage__version_refused_and_migrated, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_storage__fleet_filters_and_merges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_storage__open_errors, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_storage__retention_by_age_and_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_storage__long_reader_loses_no_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_storage__disk_full_reported_and_recovered, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_storage__corrupt_values_refused, setup, teardown),
	    cmocka_unit_test(test_storage__fuzz_corpus_replay),
	};

	int failed;

	log__init(LOG_WARN);
	gen = histgen__new(&gen_opts);
	if (!gen)
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	histgen__free(gen);
	free(refs);
	return failed;
}
