// SPDX-License-Identifier: MIT
/*
 * The push wire format and the store's push bookkeeping: a window encoded
 * and decoded keeps every frame, label, count and 20 ms slot; every
 * truncation and many corruptions of a frame are refused without a crash;
 * the spool hands out windows oldest first, never reuses a window number,
 * and the server side stores a window once and forgets its identity when
 * retention takes its data.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "lib/log.h"
#include "profile/profile.h"
#include "storage/store.h"
#include "storage/wire.h"

#define NS 1000000000ULL
#define MS 1000000ULL
#define T0 (1763733600ULL * NS)

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A window like the agent's: a few processes, shared stack prefixes,
 * kernel and user frames, times spread over 'secs' seconds. */
static struct profile *make_window(uint64_t start, int secs, int nsamples)
{
	struct profile *p = profile__new();
	uint32_t series[5], frames[40], stacks[60];
	char buf[64];

	assert_non_null(p);
	profile__meta(p)->period_ns = NS / 99;
	for (int s = 0; s < 5; s++) {
		struct label l[3];

		snprintf(buf, sizeof(buf), "%d", 100 + s);
		l[0] = (struct label){profile__intern(p, "host"),
				      profile__intern(p, "h1")};
		l[1] = (struct label){profile__intern(p, "pid"),
				      profile__intern(p, buf)};
		l[2] = (struct label){profile__intern(p, "comm"),
				      profile__intern(p, s % 2 ? "db" : "web")};
		series[s] = profile__add_series(p, l, 3);
	}
	for (int f = 0; f < 40; f++) {
		struct frame fr = {0};

		snprintf(buf, sizeof(buf), "func_%d", f);
		fr.name = profile__intern(p, buf);
		fr.file = f % 3 ? profile__intern(p, "src/a.c") : 0;
		fr.module = profile__intern(p, f < 10 ? "[kernel]" : "/bin/x");
		fr.line = (uint32_t)(f * 7);
		fr.kind = f < 10  ? FRAME_KERNEL
			  : f % 5 ? FRAME_USER
				  : FRAME_INLINED;
		fr.addr = 0x1000u + (uint64_t)f * 0x40;
		/* Version 2: mangled names, build ids and offsets. */
		if (f >= 10 && f % 4 == 0)
			fr.sysname = profile__intern(p, "_Z5func_v");
		if (f >= 10 && f % 3 == 0) {
			fr.build_id =
			    profile__intern(p, f % 2 ? "0123abcd" : "4567ef89");
			/* Offsets below and above the address. */
			fr.offset = f % 2 ? fr.addr - 1 : fr.addr + 0x200000;
		}
		frames[f] = profile__add_frame(p, &fr);
	}
	for (int s = 0; s < 60; s++) {
		uint32_t st[12];
		size_t depth = (size_t)(s % 12);

		for (size_t j = 0; j < depth; j++)
			st[j] = frames[(j * 3 + (j + 1 == depth ? s : 0)) % 40];
		stacks[s] = profile__add_stack(p, st, depth);
	}
	for (int i = 0; i < nsamples; i++)
		profile__add_sample(p, series[rnd() % 5], stacks[rnd() % 60],
				    start + rnd() % ((uint64_t)secs * NS),
				    rnd() % 8 ? 1 : 1 + rnd() % 1000);
	return p;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One canonical line per sample: labels, frames in full, 20 ms slot. */
static char *canon(const struct profile *p)
{
	char *out = NULL, **lines;
	size_t n, len = 0;
	const struct sample *s = profile__samples(p, &n);
	FILE *f;

	lines = calloc(n ? n : 1, sizeof(*lines));
	assert_non_null(lines);
	for (size_t i = 0; i < n; i++) {
		size_t nl, depth, sz = 0;
		const struct label *l = profile__series(p, s[i].series, &nl);
		const uint32_t *st = profile__stack(p, s[i].stack, &depth);
		FILE *m = open_memstream(&lines[i], &sz);

		for (size_t j = 0; j < nl; j++)
			fprintf(m, "%s=%s,", profile__str(p, l[j].key),
				profile__str(p, l[j].value));
		for (size_t j = 0; j < depth; j++) {
			const struct frame *fr = profile__frame(p, st[j]);

			fprintf(m, ";%s|%s|%s|%u|%u|%llx|%s|%s|%llx",
				profile__str(p, fr->name),
				profile__str(p, fr->file),
				profile__str(p, fr->module), fr->line, fr->kind,
				(unsigned long long)fr->addr,
				profile__str(p, fr->sysname),
				profile__str(p, fr->build_id),
				(unsigned long long)fr->offset);
		}
		fprintf(m, " @%llu x%llu",
			(unsigned long long)(s[i].time_ns / (20 * MS)),
			(unsigned long long)s[i].count);
		fclose(m);
	}
	/* Merge equal keys: the encoder merges counts per slot. */
	qsort(lines, n, sizeof(*lines), cmp_line);
	f = open_memstream(&out, &len);
	for (size_t i = 0; i < n; i++) {
		fputs(lines[i], f);
		fputc('\n', f);
		free(lines[i]);
	}
	fclose(f);
	free(lines);
	return out;
}

/* The sample multiset with counts summed per (series, stack, slot). */
static char *canon_merged(const struct profile *p)
{
	struct profile *q = profile__new();
	char *r;

	profile__merge(q, p);
	profile__compact(q, 20 * MS);
	r = canon(q);
	profile__free(q);
	return r;
}

static int encode(const struct profile *p, const struct wire_header *h0,
		  uint8_t **frame, size_t *len)
{
	struct wire_header h = *h0;
	uint8_t *payload;
	size_t plen;
	uint64_t raw;
	int err;

	err = wire__encode_payload(p, &payload, &plen, &raw, &h.samples);
	if (err)
		return err;
	err = wire__frame(&h, raw, payload, plen, frame, len);
	free(payload);
	return err;
}

static void test_wire__roundtrip_keeps_everything(void **state)
{
	struct wire_header h = {.instance = 42,
				.seq = 7,
				.start_ns = T0,
				.end_ns = T0 + 10 * NS},
			   got;
	struct profile *p = make_window(T0, 10, 20000), *q = profile__new();
	uint8_t *frame;
	size_t len;
	char err[256];
	char *a, *b;

	(void)state;
	snprintf(h.host, sizeof(h.host), "h1");
	assert_int_equal(encode(p, &h, &frame, &len), 0);
	assert_int_equal(
	    wire__decode(frame, len, NULL, &got, q, err, sizeof(err)), 0);
	assert_int_equal(got.instance, 42);
	assert_int_equal(got.seq, 7);
	assert_int_equal(got.start_ns, T0);
	assert_int_equal(got.end_ns, T0 + 10 * NS);
	assert_string_equal(got.host, "h1");
	assert_int_equal(got.samples, profile__total(p));
	assert_int_equal(profile__total(q), profile__total(p));
	assert_int_equal(profile__meta(q)->period_ns, NS / 99);
	a = canon_merged(p);
	b = canon_merged(q);
	assert_string_equal(a, b);
	/* Compact: well under 10 bytes a sample for this window. */
	print_message("wire: %zu bytes for %llu samples (%.2f B/sample)\n", len,
		      (unsigned long long)profile__total(p),
		      (double)len / 20000);
	assert_true(len < 20000 * 10);
	free(a);
	free(b);
	free(frame);
	profile__free(p);
	profile__free(q);
}

/* A version 1 frame (an agent before build ids, or a window spooled by
 * one) still decodes: its frames simply have none. */
static void test_wire__version_1_read(void **state)
{
	struct wire_header h = {.instance = 1,
				.seq = 1,
				.start_ns = T0,
				.end_ns = T0 + NS},
			   got;
	struct profile *p = profile__new(), *q = profile__new();
	struct frame fr = {.kind = FRAME_USER, .addr = 0x40};
	uint8_t *frame;
	size_t len;
	char err[256];
	uint32_t f;

	(void)state;
	snprintf(h.host, sizeof(h.host), "h1");
	fr.name = profile__intern(p, "main");
	fr.module = profile__intern(p, "/bin/x");
	f = profile__add_frame(p, &fr);
	profile__add_sample(p, profile__add_series(p, NULL, 0),
			    profile__add_stack(p, &f, 1), T0, 3);
	assert_int_equal(encode(p, &h, &frame, &len), 0);
	assert_int_equal(frame[4], WIRE_VERSION);
	frame[4] = 1;
	assert_int_equal(
	    wire__decode(frame, len, NULL, &got, q, err, sizeof(err)), 0);
	assert_int_equal(profile__total(q), 3);
	assert_int_equal(profile__nr_frames(q), 1);
	assert_string_equal(profile__str(q, profile__frame(q, 0)->name),
			    "main");
	assert_int_equal(profile__frame(q, 0)->build_id, 0);
	frame[4] = WIRE_VERSION + 1;
	assert_int_equal(
	    wire__decode(frame, len, NULL, &got, q, err, sizeof(err)), -EPROTO);
	free(frame);
	profile__free(p);
	profile__free(q);
}

static void test_wire__empty_window(void **state)
{
	struct wire_header h = {.instance = 1,
				.seq = 1,
				.start_ns = T0,
				.end_ns = T0},
			   got;
	struct profile *p = profile__new(), *q = profile__new();
	uint8_t *frame;
	size_t len;
	char err[256];

	(void)state;
	snprintf(h.host, sizeof(h.host), "x");
	assert_int_equal(encode(p, &h, &frame, &len), 0);
	assert_int_equal(
	    wire__decode(frame, len, NULL, &got, q, err, sizeof(err)), 0);
	assert_int_equal(profile__total(q), 0);
	free(frame);
	profile__free(p);
	profile__free(q);
}

static void test_wire__truncated_and_corrupt_refused(void **state)
{
	struct wire_header h = {.instance = 3,
				.seq = 1,
				.start_ns = T0,
				.end_ns = T0 + NS},
			   got;
	struct profile *p = make_window(T0, 1, 300);
	struct wire_limits lim;
	uint8_t *frame;
	size_t len;
	char err[256];

	(void)state;
	snprintf(h.host, sizeof(h.host), "h");
	assert_int_equal(encode(p, &h, &frame, &len), 0);
	for (size_t n = 0; n < len; n++) {
		struct profile *q = profile__new();

		assert_int_not_equal(
		    wire__decode(frame, n, NULL, &got, q, err, sizeof(err)), 0);
		assert_true(err[0] != '\0');
		profile__free(q);
	}
	/* Random byte flips: refused or decoded, never a crash. */
	for (int i = 0; i < 3000; i++) {
		uint8_t *c = malloc(len);
		struct profile *q = profile__new();

		memcpy(c, frame, len);
		for (int k = 0; k < 1 + i % 4; k++)
			c[rnd() % len] ^= (uint8_t)(1 + rnd() % 255);
		wire__decode(c, len, NULL, &got, q, err, sizeof(err));
		profile__free(q);
		free(c);
	}
	/* Limits are enforced. */
	wire_limits__default(&lim);
	lim.max_frame = len - 1;
	assert_int_equal(
	    wire__decode(frame, len, &lim, &got, NULL, err, sizeof(err)),
	    -E2BIG);
	wire_limits__default(&lim);
	lim.max_strings = 3;
	{
		struct profile *q = profile__new();

		assert_int_equal(
		    wire__decode(frame, len, &lim, &got, q, err, sizeof(err)),
		    -E2BIG);
		profile__free(q);
	}
	free(frame);
	profile__free(p);
}

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kiln-wire.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int spool(struct store *st, struct profile *p, uint64_t start,
		 uint64_t end, uint64_t *seq)
{
	struct store_window w = {.start_ns = start, .end_ns = end};
	uint8_t *payload;
	int err;

	assert_int_equal(
	    wire__encode_payload(p, &payload, &w.len, &w.raw_len, &w.samples),
	    0);
	w.payload = payload;
	err = store__write_spooled(st, p, &w, seq);
	free(payload);
	return err;
}

static void test_wire__spool_oldest_first_never_reused(void **state)
{
	struct store_opts o = {.path = path};
	struct store *st = store__open(&o);
	struct store_spool_stats ss;
	struct store_spooled sp;
	uint64_t id, id2, seq = 0, total = 0;

	(void)state;
	assert_non_null(st);
	assert_int_equal(store__instance_id(st, &id), 0);
	assert_true(id > 0);
	for (int i = 0; i < 3; i++) {
		struct profile *p = make_window(T0 + (uint64_t)i * NS, 1, 100);

		assert_int_equal(spool(st, p, T0 + (uint64_t)i * NS,
				       T0 + (uint64_t)(i + 1) * NS, &seq),
				 0);
		assert_int_equal(seq, (uint64_t)i + 1);
		total += profile__total(p);
		profile__free(p);
	}
	assert_int_equal(store__spool_stats(st, &ss), 0);
	assert_int_equal(ss.pending, 3);
	assert_int_equal(ss.pending_samples, total);
	assert_int_equal(store__spool_next(st, 0, &sp), 0);
	assert_int_equal(sp.seq, 1);
	assert_int_equal(sp.start_ns, T0);
	free(sp.data);
	assert_int_equal(store__spool_next(st, 1, &sp), 0);
	assert_int_equal(sp.seq, 2);
	free(sp.data);
	assert_int_equal(store__spool_ack(st, 3, T0), 0);
	assert_int_equal(store__spool_next(st, 0, &sp), -ENOENT);
	store__close(st);

	/* Reopened: same instance, and window numbers go on from 4. */
	st = store__open(&o);
	assert_non_null(st);
	assert_int_equal(store__instance_id(st, &id2), 0);
	assert_int_equal(id, id2);
	{
		struct profile *p = make_window(T0 + 5 * NS, 1, 10);

		assert_int_equal(spool(st, p, T0 + 5 * NS, T0 + 6 * NS, &seq),
				 0);
		assert_int_equal(seq, 4);
		profile__free(p);
	}
	assert_int_equal(store__spool_stats(st, &ss), 0);
	assert_int_equal(ss.pending, 1);
	assert_int_equal(ss.acked_seq, 3);
	store__close(st);
}

static int count_agents(const struct store_agent *a, void *ctx)
{
	int *n = ctx;

	assert_string_equal(a->host, "h1");
	assert_string_equal(a->version, "v1");
	assert_int_equal(a->windows, 1);
	assert_int_equal(a->pending, 2);
	(*n)++;
	return 0;
}

static void test_wire__pushed_window_stored_once(void **state)
{
	struct store_opts o = {.path = path};
	struct store *st = store__open(&o);
	struct profile *p = make_window(T0, 10, 1000), *q = profile__new();
	struct store_query all = {.from_ns = T0 - NS, .to_ns = T0 + 20 * NS};
	struct store_push w = {.instance = 9,
			       .seq = 1,
			       .start_ns = T0,
			       .end_ns = T0 + 10 * NS,
			       .host = "h1",
			       .version = "v1",
			       .pending = 2,
			       .now_ns = T0 + 11 * NS};
	int n = 0;

	(void)state;
	assert_non_null(st);
	w.samples = profile__total(p);
	assert_int_equal(store__write_pushed(st, p, &w), 0);
	assert_int_equal(store__write_pushed(st, p, &w), -EEXIST);
	assert_int_equal(store__query(st, &all, q), 0);
	assert_int_equal(profile__total(q), profile__total(p));
	assert_int_equal(store__agents(st, count_agents, &n), 0);
	assert_int_equal(n, 1);
	profile__free(p);
	profile__free(q);
	store__close(st);
}

/* One integer from the store file, read beside the store's own handle. */
static long long sql_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void test_wire__pushed_windows_expire_with_data(void **state)
{
	const uint64_t H = 3600 * NS;
	struct store_opts o = {.path = path, .retention_ns = 2 * H};
	struct store *st = store__open(&o);
	struct profile *old = make_window(T0, 10, 500);
	struct profile *young = make_window(T0 + 3 * H, 10, 700);
	struct profile *q = profile__new();
	struct store_query all = {.from_ns = T0 - H, .to_ns = T0 + 4 * H};
	struct store_push w = {.instance = 7,
			       .seq = 1,
			       .start_ns = T0,
			       .end_ns = T0 + 10 * NS,
			       .host = "h1",
			       .version = "v1",
			       .now_ns = T0 + 11 * NS};

	(void)state;
	assert_non_null(st);
	w.samples = profile__total(old);
	assert_int_equal(store__write_pushed(st, old, &w), 0);
	w.seq = 2;
	w.start_ns = T0 + 3 * H;
	w.end_ns = w.start_ns + 10 * NS;
	w.now_ns = w.end_ns + NS;
	w.samples = profile__total(young);
	assert_int_equal(store__write_pushed(st, young, &w), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM push_windows"), 2);

	/* Retention at 3 h 20 s: the first window's data is older than 2 h,
	 * and its identity goes with it; the second stays, and a replay of
	 * it is still recognised. */
	assert_int_equal(store__enforce_retention(st, T0 + 3 * H + 20 * NS), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM push_windows"), 1);
	assert_int_equal(sql_int("SELECT seq FROM push_windows"), 2);
	assert_int_equal(store__write_pushed(st, young, &w), -EEXIST);
	assert_int_equal(store__query(st, &all, q), 0);
	assert_int_equal(profile__total(q), profile__total(young));
	/* The hosts page keeps the agent. */
	assert_int_equal(sql_int("SELECT windows FROM push_agents"), 2);

	/* Retention past everything: no identity is left. */
	assert_int_equal(store__enforce_retention(st, T0 + 6 * H), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM push_windows"), 0);
	profile__free(old);
	profile__free(young);
	profile__free(q);
	store__close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire__roundtrip_keeps_everything),
	    cmocka_unit_test(test_wire__version_1_read),
	    cmocka_unit_test(test_wire__empty_window),
	    cmocka_unit_test(test_wire__truncated_and_corrupt_refused),
	    cmocka_unit_test_setup_teardown(
		test_wire__spool_oldest_first_never_reused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_wire__pushed_window_stored_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_wire__pushed_windows_expire_with_data, setup, teardown),
	};

	log__init(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
