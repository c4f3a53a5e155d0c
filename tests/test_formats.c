// SPDX-License-Identifier: MIT
/*
 * Format round trips and bad input: pprof (checked at the protobuf level
 * too), folded, speedscope (validated by python3's json), SVG (python3's
 * XML parser), and every fuzz corpus and regression input replayed
 * through the readers.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "profile.pb-c.h"
#include "profile/diff.h"
#include "profile/format.h"
#include "profile/ingest.h"

/* ---- helpers ---- */

struct buf {
	char *data;
	size_t len;
};

static struct buf write_mem(const struct profile *p, enum profile_format fmt,
			    const struct write_opts *o)
{
	struct buf b = {0};
	FILE *f = open_memstream(&b.data, &b.len);

	assert_non_null(f);
	assert_int_equal(profile__write(p, fmt, o, f), 0);
	assert_int_equal(fclose(f), 0);
	return b;
}

static uint32_t frame(struct profile *p, const char *name, const char *file,
		      const char *module, uint32_t line, enum frame_kind kind,
		      uint64_t addr)
{
	struct frame f = {.name = profile__intern(p, name),
			  .file = profile__intern(p, file),
			  .module = profile__intern(p, module),
			  .line = line,
			  .kind = kind,
			  .addr = addr};

	return profile__add_frame(p, &f);
}

/*
 * A profile with everything pprof must carry: two processes with pid,
 * tid, comm, host, exe and build_id labels; user frames with files and
 * lines; an inline run (main's code inlined helper, which inlined leaf);
 * kernel and JIT frames; a stack that is only kernel frames.
 */
static struct profile *rich_profile(void)
{
	struct profile *p = profile__new();
	struct label l1[] = {
	    {profile__intern(p, "comm"), profile__intern(p, "server")},
	    {profile__intern(p, "pid"), profile__intern(p, "4242")},
	    {profile__intern(p, "tid"), profile__intern(p, "4243")},
	    {profile__intern(p, "host"), profile__intern(p, "box1")},
	    {profile__intern(p, "exe"), profile__intern(p, "/usr/bin/server")},
	    {profile__intern(p, "build_id"),
	     profile__intern(p, "abcdef0123456789")},
	};
	struct label l2[] = {
	    {profile__intern(p, "comm"), profile__intern(p, "worker")},
	    {profile__intern(p, "pid"), profile__intern(p, "77")},
	    {profile__intern(p, "host"), profile__intern(p, "box1")},
	};
	uint32_t s1 = profile__add_series(p, l1, 6),
		 s2 = profile__add_series(p, l2, 3);
	uint32_t start =
	    frame(p, "_start", "", "/usr/bin/server", 0, FRAME_USER, 0x1000);
	uint32_t mainf = frame(p, "main", "main.c", "/usr/bin/server", 10,
			       FRAME_USER, 0x1100);
	uint32_t helper = frame(p, "helper", "util.h", "/usr/bin/server", 20,
				FRAME_INLINED, 0x1100);
	uint32_t leaf = frame(p, "leaf", "util.h", "/usr/bin/server", 30,
			      FRAME_INLINED, 0x1100);
	uint32_t work = frame(p, "work", "work.c", "/usr/bin/server", 44,
			      FRAME_USER, 0x1200);
	uint32_t sys =
	    frame(p, "do_syscall_64", "", "", 0, FRAME_KERNEL, 0xffff1000);
	uint32_t rd =
	    frame(p, "ksys_read", "", "", 0, FRAME_KERNEL, 0xffff2000);
	uint32_t jit =
	    frame(p, "LazyCompile:foo", "", "", 0, FRAME_JIT, 0x7000);
	uint32_t wmain = frame(p, "worker_main", "w.c", "/usr/lib/libw.so", 5,
			       FRAME_USER, 0x50);

	uint32_t a[] = {start, mainf, helper, leaf};
	uint32_t b[] = {start, mainf, work, sys, rd};
	uint32_t c[] = {start, mainf, helper, leaf, work};
	uint32_t d[] = {wmain, jit};
	uint32_t e[] = {sys, rd};
	profile__add_sample(p, s1, profile__add_stack(p, a, 4), 1000, 50);
	profile__add_sample(p, s1, profile__add_stack(p, b, 5), 2000, 30);
	profile__add_sample(p, s1, profile__add_stack(p, a, 4), 3000, 7);
	profile__add_sample(p, s1, profile__add_stack(p, c, 5), 3000, 3);
	profile__add_sample(p, s2, profile__add_stack(p, d, 2), 1000, 9);
	profile__add_sample(p, s2, profile__add_stack(p, e, 2), 1000, 1);
	profile__meta(p)->start_ns = 1700000000000000000ull;
	profile__meta(p)->duration_ns = 10000000000ull;
	profile__meta(p)->period_ns = 10101010;
	return p;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A canonical text of a profile, independent of ids and sample order:
 * one line per (series, stack) with labels, frames (folded name, file,
 * line) and the summed count.
 */
static char *canon(const struct profile *src)
{
	struct profile *p = profile__new();
	size_t n, len = 0;
	char **lines, *out;

	profile__merge(p, src);
	profile__compact(p, 0);
	const struct sample *s = profile__samples(p, &n);
	lines = calloc(n, sizeof(*lines));
	for (size_t i = 0; i < n; i++) {
		char *line = NULL, name[512];
		size_t ll = 0, nl, depth;
		FILE *f = open_memstream(&line, &ll);
		const struct label *l = profile__series(p, s[i].series, &nl);
		const uint32_t *fr = profile__stack(p, s[i].stack, &depth);

		for (size_t j = 0; j < nl; j++)
			fprintf(f, "%s=%s,", profile__str(p, l[j].key),
				profile__str(p, l[j].value));
		for (size_t j = 0; j < depth; j++) {
			const struct frame *fm = profile__frame(p, fr[j]);

			profile__frame_folded_name(p, fr[j], name,
						   sizeof(name));
			fprintf(f, ";%s@%s:%u", name, profile__str(p, fm->file),
				fm->line);
		}
		fprintf(f, " %llu", (unsigned long long)s[i].count);
		fclose(f);
		lines[i] = line;
		len += strlen(line) + 1;
	}
	qsort(lines, n, sizeof(*lines), str_cmp);
	out = calloc(1, len + 1);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	free(lines);
	profile__free(p);
	return out;
}

static int read_buf(struct profile *p, const void *d, size_t len,
		    const struct read_limits *lim, char *err)
{
	return profile__read(p, d, len, lim, err, 256);
}

static struct buf gzip_mem(const void *data, size_t len)
{
	struct buf b;
	z_stream zs = {0};

	b.data = malloc(compressBound(len) + 64);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = (unsigned char *)b.data;
	zs.avail_out = (uInt)(compressBound(len) + 64);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	b.len = zs.total_out;
	deflateEnd(&zs);
	return b;
}

static Kiln__Pprof__Profile *unpack_pprof(const struct buf *b)
{
	void *raw;
	size_t rawlen;
	char err[256];

	assert_int_equal(format__gunzip(b->data, b->len, 1 << 28, &raw, &rawlen,
					err, sizeof(err)),
			 0);
	Kiln__Pprof__Profile *pp =
	    kiln__pprof__profile__unpack(NULL, rawlen, raw);
	free(raw);
	assert_non_null(pp);
	return pp;
}

static const char *pstr(const Kiln__Pprof__Profile *pp, int64_t i)
{
	/* bytes fields are not NUL-terminated: copy into a small ring */
	static char ring[8][256];
	static int next;
	char *out = ring[next++ % 8];
	size_t len =
	    pp->string_table[i].len < 255 ? pp->string_table[i].len : 255;

	if (len)
		memcpy(out, pp->string_table[i].data, len);
	out[len] = 0;
	return out;
}

/* ---- pprof ---- */

static void test_formats__pprof_round_trip(void **state)
{
	(void)state;
	struct profile *p = rich_profile(), *q = profile__new();
	struct buf b = write_mem(p, FORMAT_PPROF, NULL);
	char err[256] = "";

	assert_true(b.len > 20);
	assert_int_equal((unsigned char)b.data[0], 0x1f);
	assert_int_equal(read_buf(q, b.data, b.len, NULL, err), 0);
	assert_int_equal(profile__total(q), profile__total(p));
	char *c1 = canon(p), *c2 = canon(q);
	assert_string_equal(c1, c2);
	assert_int_equal(profile__meta(q)->start_ns, 1700000000000000000ull);
	assert_int_equal(profile__meta(q)->duration_ns, 10000000000ull);
	assert_int_equal(profile__meta(q)->period_ns, 10101010);

	/* Writing what was read gives the same profile again. */
	struct buf b2 = write_mem(q, FORMAT_PPROF, NULL);
	struct profile *r = profile__new();
	assert_int_equal(read_buf(r, b2.data, b2.len, NULL, err), 0);
	char *c3 = canon(r);
	assert_string_equal(c1, c3);
	free(c1);
	free(c2);
	free(c3);
	free(b.data);
	free(b2.data);
	profile__free(p);
	profile__free(q);
	profile__free(r);
}

/* The wire level: what go tool pprof and other readers rely on. */
static void test_formats__pprof_wire_layout(void **state)
{
	(void)state;
	struct profile *p = rich_profile();
	struct buf b = write_mem(p, FORMAT_PPROF, NULL);
	Kiln__Pprof__Profile *pp = unpack_pprof(&b);

	assert_string_equal(pstr(pp, 0), "");
	assert_int_equal(pp->n_sample_type, 2);
	assert_string_equal(pstr(pp, pp->sample_type[0]->type), "samples");
	assert_string_equal(pstr(pp, pp->sample_type[0]->unit), "count");
	assert_string_equal(pstr(pp, pp->sample_type[1]->type), "cpu");
	assert_string_equal(pstr(pp, pp->sample_type[1]->unit), "nanoseconds");
	assert_string_equal(pstr(pp, pp->period_type->type), "cpu");
	assert_int_equal(pp->period, 10101010);
	assert_int_equal(pp->time_nanos, 1700000000000000000ll);
	assert_int_equal(pp->duration_nanos, 10000000000ll);

	/* The inline run is one location: leaf, helper, main (callee first). */
	bool found_inline = false;
	for (size_t i = 0; i < pp->n_location; i++) {
		Kiln__Pprof__Location *l = pp->location[i];

		assert_int_equal(l->id, i + 1);
		if (l->n_line != 3)
			continue;
		found_inline = true;
		const char *names[3];
		for (int k = 0; k < 3; k++) {
			uint64_t fid = l->line[k]->function_id;
			names[k] = pstr(pp, pp->function[fid - 1]->name);
		}
		assert_string_equal(names[0], "leaf");
		assert_string_equal(names[1], "helper");
		assert_string_equal(names[2], "main");
		assert_int_equal(l->line[0]->line, 30);
		assert_int_equal(l->line[2]->line, 10);
		assert_int_equal(l->address, 0x1100);
		Kiln__Pprof__Mapping *m = pp->mapping[l->mapping_id - 1];
		assert_string_equal(pstr(pp, m->filename), "/usr/bin/server");
		assert_string_equal(pstr(pp, m->build_id), "abcdef0123456789");
		assert_true(m->has_inline_frames);
		assert_true(m->has_functions);
	}
	assert_true(found_inline);

	/* Sample values, leaf-first location ids and labels. */
	uint64_t total = 0, cpu = 0;
	bool saw_pid = false, saw_tid = false;
	for (size_t i = 0; i < pp->n_sample; i++) {
		Kiln__Pprof__Sample *s = pp->sample[i];

		assert_int_equal(s->n_value, 2);
		assert_int_equal(s->value[1], s->value[0] * 10101010);
		total += (uint64_t)s->value[0];
		cpu += (uint64_t)s->value[1];
		Kiln__Pprof__Location *leafloc =
		    pp->location[s->location_id[0] - 1];
		Kiln__Pprof__Location *rootloc =
		    pp->location[s->location_id[s->n_location_id - 1] - 1];
		const char *root = pstr(
		    pp,
		    pp->function
			[rootloc->line[rootloc->n_line - 1]->function_id - 1]
			    ->name);
		const char *leafn = pstr(
		    pp, pp->function[leafloc->line[0]->function_id - 1]->name);
		assert_true(!strcmp(root, "_start") ||
			    !strcmp(root, "worker_main") ||
			    !strcmp(root, "do_syscall_64"));
		assert_true(strcmp(leafn, "_start") && strcmp(leafn, "main"));
		for (size_t k = 0; k < s->n_label; k++) {
			const char *key = pstr(pp, s->label[k]->key);

			if (!strcmp(key, "pid")) {
				saw_pid = true;
				assert_int_equal(s->label[k]->str, 0);
				assert_true(s->label[k]->num == 4242 ||
					    s->label[k]->num == 77);
			}
			if (!strcmp(key, "tid")) {
				saw_tid = true;
				assert_int_equal(s->label[k]->num, 4243);
			}
			if (!strcmp(key, "comm"))
				assert_true(!strcmp(pstr(pp, s->label[k]->str),
						    "server") ||
					    !strcmp(pstr(pp, s->label[k]->str),
						    "worker"));
		}
	}
	assert_true(saw_pid && saw_tid);
	assert_int_equal(total, 100);
	assert_int_equal(cpu, 100 * 10101010ull);
	/* Kernel and JIT frames live in mappings named for them. */
	bool kernel = false, jit = false;
	for (size_t i = 0; i < pp->n_mapping; i++) {
		kernel |= !strcmp(pstr(pp, pp->mapping[i]->filename),
				  "[kernel.kallsyms]");
		jit |= !strcmp(pstr(pp, pp->mapping[i]->filename), "[jit]");
		assert_int_equal(pp->mapping[i]->id, i + 1);
	}
	assert_true(kernel && jit);
	kiln__pprof__profile__free_unpacked(pp, NULL);
	free(b.data);
	profile__free(p);
}

/* Builds a pprof the way other tools do: sample types without
 * samples/count, non-dense ids, a location without lines, repeated label
 * keys, numeric labels with units. */
static struct buf foreign_pprof(int variant)
{
	Kiln__Pprof__Profile pp = KILN__PPROF__PROFILE__INIT;
	ProtobufCBinaryData strs[16];
	const char *s[] = {"",
			   "alloc_objects",
			   "count",
			   "alloc_space",
			   "bytes",
			   "main.run",
			   "main.go",
			   "/app/bin",
			   "runtime.mallocgc",
			   "goroutine",
			   "bytes",
			   "worker",
			   "cpu",
			   "nanoseconds",
			   "\xff\xfe"};
	size_t ns = variant == 2 ? 15 : 14;
	for (size_t i = 0; i < ns; i++) {
		strs[i].data = (uint8_t *)s[i];
		strs[i].len = strlen(s[i]);
	}
	Kiln__Pprof__ValueType vt[2] = {KILN__PPROF__VALUE_TYPE__INIT,
					KILN__PPROF__VALUE_TYPE__INIT};
	vt[0].type = 1, vt[0].unit = 2, vt[1].type = 3, vt[1].unit = 4;
	Kiln__Pprof__ValueType *vtp[2] = {&vt[0], &vt[1]};
	Kiln__Pprof__Mapping m = KILN__PPROF__MAPPING__INIT;
	m.id = 7, m.memory_start = 0x400000, m.memory_limit = 0x500000,
	m.filename = 7;
	Kiln__Pprof__Mapping *mp = &m;
	Kiln__Pprof__Function f[2] = {KILN__PPROF__FUNCTION__INIT,
				      KILN__PPROF__FUNCTION__INIT};
	f[0].id = 100, f[0].name = 5, f[0].filename = 6;
	f[1].id = 200, f[1].name = 8;
	Kiln__Pprof__Function *fp[2] = {&f[0], &f[1]};
	Kiln__Pprof__Line ln[2] = {KILN__PPROF__LINE__INIT,
				   KILN__PPROF__LINE__INIT};
	ln[0].function_id = 200, ln[0].line = 12;
	ln[1].function_id = 100, ln[1].line = 34;
	Kiln__Pprof__Line *lp0[1] = {&ln[0]}, *lp1[1] = {&ln[1]};
	Kiln__Pprof__Location loc[3] = {KILN__PPROF__LOCATION__INIT,
					KILN__PPROF__LOCATION__INIT,
					KILN__PPROF__LOCATION__INIT};
	loc[0].id = 30, loc[0].mapping_id = 7, loc[0].address = 0x401000,
	loc[0].n_line = 1, loc[0].line = lp0;
	loc[1].id = 10, loc[1].mapping_id = 7, loc[1].address = 0x402000,
	loc[1].n_line = 1, loc[1].line = lp1;
	loc[2].id = 20, loc[2].mapping_id = 7, loc[2].address = 0x403abc;
	Kiln__Pprof__Location *lp[3] = {&loc[0], &loc[1], &loc[2]};
	uint64_t ids[3] = {30, 10, 20};
	if (variant == 1)
		ids[1] = 999; /* unknown location */
	int64_t vals[2] = {3, 4096};
	Kiln__Pprof__Label lab[3] = {KILN__PPROF__LABEL__INIT,
				     KILN__PPROF__LABEL__INIT,
				     KILN__PPROF__LABEL__INIT};
	lab[0].key = 9, lab[0].num = 17;
	lab[1].key = 9, lab[1].num = 18; /* repeated key: first wins */
	lab[2].key = 10, lab[2].num = 512, lab[2].num_unit = 4;
	Kiln__Pprof__Label *labp[3] = {&lab[0], &lab[1], &lab[2]};
	Kiln__Pprof__Sample smp = KILN__PPROF__SAMPLE__INIT;
	smp.n_location_id = 3, smp.location_id = ids;
	smp.n_value = 2, smp.value = vals;
	smp.n_label = 3, smp.label = labp;
	Kiln__Pprof__Sample *sp = &smp;
	pp.n_sample_type = 2, pp.sample_type = vtp;
	pp.n_sample = 1, pp.sample = &sp;
	pp.n_mapping = 1, pp.mapping = &mp;
	pp.n_location = 3, pp.location = lp;
	pp.n_function = 2, pp.function = fp;
	pp.n_string_table = ns, pp.string_table = strs;
	pp.default_sample_type = 3; /* alloc_space */
	size_t len = kiln__pprof__profile__get_packed_size(&pp);
	uint8_t *raw = malloc(len);
	kiln__pprof__profile__pack(&pp, raw);
	struct buf b = {(char *)raw, len};
	return b;
}

static void test_formats__pprof_foreign(void **state)
{
	(void)state;
	struct buf raw = foreign_pprof(0);
	struct buf gz = gzip_mem(raw.data, raw.len);
	char err[256] = "";

	/* Both compressed and raw protobuf are pprof. */
	for (int k = 0; k < 2; k++) {
		struct profile *p = profile__new();
		struct buf *in = k ? &raw : &gz;

		assert_int_equal(read_buf(p, in->data, in->len, NULL, err), 0);
		/* No samples/count: the default type (alloc_space) is used. */
		assert_int_equal(profile__total(p), 4096);
		size_t n, depth;
		const struct sample *s = profile__samples(p, &n);
		assert_int_equal(n, 1);
		const uint32_t *fr = profile__stack(p, s[0].stack, &depth);
		assert_int_equal(depth, 3);
		/* Root first: the unsymbolized location, main.run, mallocgc. */
		assert_string_equal(
		    profile__str(p, profile__frame(p, fr[0])->name),
		    "bin+0x3abc");
		assert_string_equal(
		    profile__str(p, profile__frame(p, fr[1])->name),
		    "main.run");
		assert_string_equal(
		    profile__str(p, profile__frame(p, fr[1])->file), "main.go");
		assert_int_equal(profile__frame(p, fr[1])->line, 34);
		assert_string_equal(
		    profile__str(p, profile__frame(p, fr[2])->name),
		    "runtime.mallocgc");
		assert_string_equal(
		    profile__series_label(p, s[0].series, "goroutine"), "17");
		assert_string_equal(
		    profile__series_label(p, s[0].series, "bytes"), "512");
		profile__free(p);
	}
	free(raw.data);
	free(gz.data);

	struct profile *p = profile__new();
	raw = foreign_pprof(1);
	assert_int_equal(read_buf(p, raw.data, raw.len, NULL, err), -EINVAL);
	assert_non_null(strstr(err, "unknown location id 999"));
	free(raw.data);
	profile__free(p);

	p = profile__new();
	raw = foreign_pprof(2);
	assert_int_equal(read_buf(p, raw.data, raw.len, NULL, err), -EILSEQ);
	assert_non_null(strstr(err, "UTF-8"));
	free(raw.data);
	profile__free(p);
}

static void test_formats__pprof_bad_input(void **state)
{
	(void)state;
	struct profile *rich = rich_profile();
	struct buf good = write_mem(rich, FORMAT_PPROF, NULL);
	struct read_limits lim;
	char err[256];
	int ret;

	/* Every truncation of a valid file is refused, never a crash. */
	for (size_t cut = 1; cut < good.len; cut += 1) {
		struct profile *p = profile__new();

		err[0] = 0;
		ret = read_buf(p, good.data, cut, NULL, err);
		assert_true(ret < 0);
		assert_true(strlen(err) > 0);
		profile__free(p);
	}
	/* Corrupt gzip: flip bytes in the deflate data. */
	struct buf bad = {malloc(good.len), good.len};
	memcpy(bad.data, good.data, good.len);
	for (size_t i = 12; i < bad.len - 8; i += 7)
		bad.data[i] ^= 0x5a;
	struct profile *p = profile__new();
	ret = read_buf(p, bad.data, bad.len, NULL, err);
	assert_true(ret == -EINVAL);
	assert_non_null(strstr(err, "gzip"));
	profile__free(p);
	free(bad.data);

	/* A gzip bomb: 64 MB of zeros in ~64 KB, against a 1 MB limit. */
	size_t big = 64 << 20;
	char *zeros = calloc(1, big);
	struct buf bomb = gzip_mem(zeros, big);
	free(zeros);
	assert_true(bomb.len < 256 * 1024);
	read_limits__default(&lim);
	lim.max_decompressed = 1 << 20;
	p = profile__new();
	assert_int_equal(read_buf(p, bomb.data, bomb.len, &lim, err), -E2BIG);
	assert_non_null(strstr(err, "gzip bomb"));
	profile__free(p);
	free(bomb.data);

	/* Garbage after a valid protobuf prefix. */
	void *raw;
	size_t rawlen;
	assert_int_equal(format__gunzip(good.data, good.len, 1 << 26, &raw,
					&rawlen, err, sizeof(err)),
			 0);
	((unsigned char *)raw)[rawlen / 2] = 0xff;
	((unsigned char *)raw)[rawlen / 2 + 1] = 0xff;
	p = profile__new();
	assert_true(read_buf(p, raw, rawlen, NULL, err) < 0);
	profile__free(p);
	free(raw);

	/* Limits: samples, strings, depth. */
	read_limits__default(&lim);
	lim.max_samples = 2;
	p = profile__new();
	assert_int_equal(read_buf(p, good.data, good.len, &lim, err), -E2BIG);
	assert_non_null(strstr(err, "samples exceed"));
	profile__free(p);
	read_limits__default(&lim);
	lim.max_strings = 3;
	p = profile__new();
	assert_int_equal(read_buf(p, good.data, good.len, &lim, err), -E2BIG);
	assert_non_null(strstr(err, "strings exceed"));
	profile__free(p);
	read_limits__default(&lim);
	lim.max_depth = 4;
	p = profile__new();
	assert_int_equal(read_buf(p, good.data, good.len, &lim, err), -E2BIG);
	assert_non_null(strstr(err, "deeper than the limit"));
	profile__free(p);
	read_limits__default(&lim);
	lim.max_memory = 1000;
	p = profile__new();
	assert_int_equal(read_buf(p, good.data, good.len, &lim, err), -E2BIG);
	assert_non_null(strstr(err, "memory"));
	profile__free(p);

	/* Not gzip, not protobuf, not folded. */
	p = profile__new();
	assert_int_equal(read_buf(p, "\x1f\x8b\x08", 3, NULL, err), -EINVAL);
	profile__free(p);
	free(good.data);
	profile__free(rich);
}

/* ---- folded ---- */

static void test_formats__folded_round_trip(void **state)
{
	(void)state;
	const char *in = "app;main;work;compute 60\n"
			 "app;main;io;read_[k] 20\n"
			 "app;main;parse;lex_[i] 10\n"
			 "app;main;jitted_[j] 4\n"
			 "other;start;run with spaces(int) 5\n";
	struct profile *p = profile__new();
	char err[256] = "";

	assert_int_equal(read_buf(p, in, strlen(in), NULL, err), 0);
	assert_int_equal(profile__total(p), 99);
	/* kinds come from the suffixes; comm from the first frame */
	size_t n, depth;
	const struct sample *s = profile__samples(p, &n);
	assert_int_equal(n, 5);
	assert_string_equal(profile__series_label(p, s[1].series, "comm"),
			    "app");
	const uint32_t *fr = profile__stack(p, s[1].stack, &depth);
	assert_int_equal(depth, 3);
	assert_string_equal(profile__str(p, profile__frame(p, fr[2])->name),
			    "read");
	assert_int_equal(profile__frame(p, fr[2])->kind, FRAME_KERNEL);
	fr = profile__stack(p, s[2].stack, &depth);
	assert_int_equal(profile__frame(p, fr[2])->kind, FRAME_INLINED);
	fr = profile__stack(p, s[3].stack, &depth);
	assert_int_equal(profile__frame(p, fr[1])->kind, FRAME_JIT);

	struct buf b = write_mem(p, FORMAT_FOLDED, NULL);
	/* the writer sorts by count; the input already is */
	assert_int_equal(b.len, strlen(in) - 0);
	char *sorted_in = strdup(in);
	(void)sorted_in;
	struct profile *q = profile__new();
	assert_int_equal(read_buf(q, b.data, b.len, NULL, err), 0);
	char *c1 = canon(p), *c2 = canon(q);
	assert_string_equal(c1, c2);
	free(c1);
	free(c2);
	free(sorted_in);
	free(b.data);
	profile__free(q);
	profile__free(p);

	/* Plain folded: the first frame is a frame; CRLF, comments, blank
	 * lines and a "-" separator are fine. */
	const char *plain =
	    "# from py-spy\r\nmain;f 3\r\n\r\nmain;-;g_[k] 2\r\n";
	struct read_limits lim;
	read_limits__default(&lim);
	lim.folded_no_comm = true;
	p = profile__new();
	assert_int_equal(read_buf(p, plain, strlen(plain), &lim, err), 0);
	assert_int_equal(profile__total(p), 5);
	s = profile__samples(p, &n);
	assert_null(profile__series_label(p, s[0].series, "comm"));
	fr = profile__stack(p, s[1].stack, &depth);
	assert_int_equal(depth, 2);
	assert_string_equal(profile__str(p, profile__frame(p, fr[0])->name),
			    "main");
	assert_int_equal(profile__frame(p, fr[1])->kind, FRAME_KERNEL);
	profile__free(p);
}

static void expect_folded_error(const char *in, int code, const char *needle,
				const struct read_limits *lim)
{
	struct profile *p = profile__new();
	char err[256] = "";
	int ret = folded__read(p, in, strlen(in), lim, err, sizeof(err));

	if (ret != code || !strstr(err, needle))
		fail_msg("input '%s': got %d '%s', want %d '%s'", in, ret, err,
			 code, needle);
	profile__free(p);
}

static void test_formats__folded_bad_input(void **state)
{
	(void)state;
	struct read_limits lim;

	expect_folded_error("a;b 1\na;b\n", -EINVAL, "line 2: no count", NULL);
	expect_folded_error("a;b 1\n\na;c 2.5\n", -EINVAL,
			    "line 3: count '2.5'", NULL);
	expect_folded_error("a;b -3\n", -EINVAL, "line 1: count '-3'", NULL);
	expect_folded_error("a;b 99999999999999999999999\n", -E2BIG,
			    "line 1: count exceeds", NULL);
	expect_folded_error("a;\xc3\x28 1\n", -EILSEQ,
			    "line 1: not valid UTF-8", NULL);
	expect_folded_error("a;\xed\xa0\x80 1\n", -EILSEQ, "UTF-8",
			    NULL); /* surrogate */
	expect_folded_error("a;;b 1\n", -EINVAL, "line 1: empty frame", NULL);
	expect_folded_error("a;b \n", -EINVAL, "line 1: no count after", NULL);
	expect_folded_error("\n\n# only comments\n", -EINVAL, "no stacks",
			    NULL);
	char nul[] = "a;b 1\nx\0y 2\n";
	struct profile *p = profile__new();
	char err[256];
	assert_int_equal(
	    folded__read(p, nul, sizeof(nul) - 1, NULL, err, sizeof(err)),
	    -EILSEQ);
	assert_non_null(strstr(err, "line 2"));
	profile__free(p);
	read_limits__default(&lim);
	lim.max_depth = 3;
	expect_folded_error("c;a;b;c 1\nc;a;b;c;d 1\n", -E2BIG,
			    "line 2: stack deeper", &lim);
	read_limits__default(&lim);
	lim.max_count = 1000;
	expect_folded_error("c;a 1000\nc;a 1001\n", -E2BIG,
			    "line 2: count exceeds", &lim);
	read_limits__default(&lim);
	lim.max_samples = 2;
	expect_folded_error("c;a 1\nc;b 1\nc;c 1\n", -E2BIG,
			    "line 3: more than 2", &lim);
}

/* ---- speedscope and SVG, validated by python3 ---- */

static int run_python(const char *script, const char *path)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "python3 -c '%s' '%s'", script, path);
	return system(cmd);
}

static void write_file(const char *path, const struct buf *b)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	fclose(f);
}

static void test_formats__speedscope_valid(void **state)
{
	(void)state;
	struct profile *p = rich_profile();
	struct write_opts o = {.title = "ti\"tle\\"};
	struct buf b = write_mem(p, FORMAT_SPEEDSCOPE, &o);
	char path[] = "/tmp/kiln-test-ss-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	write_file(path, &b);
	/* Schema essentials; weights sum to the total; frame indices valid;
	 * per-process profiles present for the two processes. */
	assert_int_equal(
	    run_python(
		"import json,sys\n"
		"d=json.load(open(sys.argv[1]))\n"
		"assert "
		"d[\"$schema\"]==\"https://www.speedscope.app/"
		"file-format-schema.json\"\n"
		"assert d[\"name\"]==\"ti\\\"tle\\\\\"\n"
		"fr=d[\"shared\"][\"frames\"]\n"
		"ps=d[\"profiles\"]\n"
		"assert len(ps)==3, len(ps)\n"
		"for p in ps:\n"
		"  assert p[\"type\"]==\"sampled\" and p[\"unit\"]==\"none\"\n"
		"  assert len(p[\"samples\"])==len(p[\"weights\"])\n"
		"  assert sum(p[\"weights\"])==p[\"endValue\"]\n"
		"  assert all(0<=i<len(fr) for s in p[\"samples\"] for i in "
		"s)\n"
		"assert ps[0][\"endValue\"]==100, ps[0][\"endValue\"]\n"
		"assert ps[1][\"endValue\"]+ps[2][\"endValue\"]==100\n"
		"names=[f[\"name\"] for f in fr]\n"
		"assert \"do_syscall_64_[k]\" in names and \"leaf_[i]\" in "
		"names\n"
		"m=[f for f in fr if f[\"name\"]==\"main\"][0]\n"
		"assert m[\"file\"]==\"main.c\" and m[\"line\"]==10\n",
		path),
	    0);
	unlink(path);
	free(b.data);
	profile__free(p);
}

static void test_formats__svg_valid(void **state)
{
	(void)state;
	struct profile *p = rich_profile();
	/* A name that needs escaping and one that is long and multi-byte. */
	size_t n;
	const struct sample *s = profile__samples(p, &n);
	uint32_t odd = profile__add_named_frame(
	    p,
	    "operator<<(std::ostream&, \"q\") "
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	    FRAME_USER);
	profile__add_sample(p, s[0].series, profile__add_stack(p, &odd, 1), 0,
			    40);
	struct write_opts o = {.title = "A <title> & more", .width = 900};
	struct buf b = write_mem(p, FORMAT_SVG, &o);
	char path[] = "/tmp/kiln-test-svg-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	write_file(path, &b);
	assert_int_equal(
	    run_python(
		"import sys,xml.etree.ElementTree as E\n"
		"r=E.parse(sys.argv[1]).getroot()\n"
		"ns=\"{http://www.w3.org/2000/svg}\"\n"
		"assert r.get(\"width\")==\"900\"\n"
		"g=[e for e in r.iter(ns+\"g\") if e.get(\"class\")==\"f\"]\n"
		"t=[e.find(ns+\"title\").text for e in g]\n"
		"assert any(x.startswith(\"all (140 samples\") for x in t), "
		"t[:3]\n"
		"assert any(x.startswith(\"leaf_[i] \") for x in t)\n"
		"assert any(\"operator<<(std::ostream&\" in x for x in t)\n"
		"assert any(e.text==\"A <title> & more\" for e in "
		"r.iter(ns+\"text\"))\n"
		"assert r.find(ns+\"script\") is not None\n"
		"for e in g:\n"
		"  w=float(e.find(ns+\"rect\").get(\"width\"))\n"
		"  assert 0<=w<=900\n",
		path),
	    0);
	free(b.data);

	/* --min-width drops narrow frames; --icicle flips the y axis. */
	struct write_opts wide = {.width = 1200, .min_width = 200};
	b = write_mem(p, FORMAT_SVG, &wide);
	write_file(path, &b);
	assert_int_equal(
	    run_python(
		"import sys,xml.etree.ElementTree as E\n"
		"r=E.parse(sys.argv[1]).getroot()\n"
		"ns=\"{http://www.w3.org/2000/svg}\"\n"
		"g=[e for e in r.iter(ns+\"g\") if e.get(\"class\")==\"f\"]\n"
		"assert all(float(e.find(ns+\"rect\").get(\"width\"))>=199 for "
		"e in g)\n"
		"assert not "
		"any(e.find(ns+\"title\").text.startswith(\"worker_main\") for "
		"e in g)\n",
		path),
	    0);
	free(b.data);
	struct write_opts ice = {.icicle = true};
	b = write_mem(p, FORMAT_SVG, &ice);
	assert_non_null(strstr(b.data, "data-icicle=\"1\""));
	free(b.data);

	/* Differential: widths from the new profile, red for growth. */
	struct profile *base = rich_profile();
	FILE *f = fopen(path, "w");
	assert_int_equal(svg__write_diff(base, p, NULL, f), 0);
	fclose(f);
	assert_int_equal(
	    run_python(
		"import sys,xml.etree.ElementTree as E\n"
		"r=E.parse(sys.argv[1]).getroot()\n"
		"ns=\"{http://www.w3.org/2000/svg}\"\n"
		"g=[e for e in r.iter(ns+\"g\") if e.get(\"class\")==\"f\"]\n"
		"op=[e for e in g if "
		"e.find(ns+\"title\").text.startswith(\"operator\")][0]\n"
		"assert op.find(ns+\"rect\").get(\"fill\")==\"rgb(255,0,0)\", "
		"op.find(ns+\"rect\").get(\"fill\")\n"
		"assert \"base 0 samples\" in op.find(ns+\"title\").text\n"
		"lf=[e for e in g if "
		"e.find(ns+\"title\").text.startswith(\"leaf_[i]\")][0]\n"
		"assert "
		"lf.find(ns+\"rect\").get(\"fill\").endswith(\",255)\")\n",
		path),
	    0);
	unlink(path);
	profile__free(base);
	profile__free(p);
}

/* ---- ingest ---- */

static void test_formats__ingest(void **state)
{
	(void)state;
	struct profile *rich = rich_profile();
	struct buf pb = write_mem(rich, FORMAT_PPROF, NULL);
	const char *folded = "app;main 5\n";
	char err[256];
	struct profile *p = profile__new();

	assert_int_equal(ingest__parse(pb.data, pb.len,
				       "application/x-protobuf", NULL, p, err,
				       sizeof(err)),
			 0);
	assert_int_equal(profile__total(p), 100);
	profile__free(p);
	/* text/plain forces folded even for binary: an error, not pprof. */
	p = profile__new();
	assert_true(ingest__parse(pb.data, pb.len, "text/plain; charset=utf-8",
				  NULL, p, err, sizeof(err)) < 0);
	profile__free(p);
	p = profile__new();
	assert_int_equal(ingest__parse(folded, strlen(folded), NULL, NULL, p,
				       err, sizeof(err)),
			 0);
	const char *labels[] = {"commit=abc", "comm=renamed", "commit=def"};
	struct profile *q = ingest__relabel(p, labels, 3, 12345);
	assert_non_null(q);
	size_t n;
	const struct sample *s = profile__samples(q, &n);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].time_ns, 12345);
	assert_string_equal(profile__series_label(q, s[0].series, "commit"),
			    "def");
	assert_string_equal(profile__series_label(q, s[0].series, "comm"),
			    "renamed");
	profile__free(q);
	const char *bad[] = {"novalue"};
	assert_null(ingest__relabel(p, bad, 1, 0));
	assert_int_equal(errno, EINVAL);
	profile__free(p);
	/* Body limit. */
	struct read_limits lim;
	read_limits__default(&lim);
	lim.max_input = 10;
	p = profile__new();
	assert_int_equal(
	    ingest__parse(pb.data, pb.len, NULL, &lim, p, err, sizeof(err)),
	    -E2BIG);
	profile__free(p);
	free(pb.data);
	profile__free(rich);
}

/* ---- fuzz corpus replay ---- */

static size_t replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t count = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[8192], err[256];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		FILE *f = fopen(path, "rb");
		char *data = malloc((size_t)st.st_size + 1);
		size_t len = fread(data, 1, (size_t)st.st_size, f);
		fclose(f);
		struct read_limits lim;
		read_limits__default(&lim);
		lim.max_decompressed = 64 << 20;
		lim.max_memory = 256 << 20;
		const char *types[] = {NULL, "application/x-protobuf",
				       "text/plain"};
		for (int k = 0; k < 3; k++) {
			struct profile *p = profile__new();

			err[0] = 0;
			int ret = ingest__parse(data, len, types[k], &lim, p,
						err, sizeof(err));
			/* Success, or a failure that says why. */
			if (ret)
				assert_true(strlen(err) > 0);
			else
				profile__write(p, FORMAT_FOLDED, NULL,
					       fopen("/dev/null", "w"));
			profile__free(p);
		}
		free(data);
		count++;
	}
	closedir(d);
	return count;
}

static void test_formats__fuzz_corpus_replay(void **state)
{
	(void)state;
	const char *root =
	    getenv("KILN_SRC_DIR") ? getenv("KILN_SRC_DIR") : ".";
	const char *sub[] = {"corpus/pprof", "corpus/folded", "corpus/ingest",
			     "regressions"};
	size_t total = 0;
	char dir[4096];

	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/%s", root, sub[i]);
		total += replay_dir(dir);
	}
	/* The corpus is committed: an empty replay means a wrong path. */
	if (total == 0)
		fail_msg("no fuzz corpus found under %s/tests/fuzz (run from "
			 "the repo root or set KILN_SRC_DIR)",
			 root);
	print_message("replayed %zu corpus inputs\n", total);
}

/* ---- names that are not text ---- */

/* True when 'b' has a control byte other than '\n' (and '\t' when
 * 'tab_ok'), or DEL. */
static bool has_control(const struct buf *b, bool tab_ok)
{
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if ((c < 0x20 && c != '\n' && !(tab_ok && c == '\t')) ||
		    c == 0x7f)
			return true;
	}
	return false;
}

/*
 * comm and function names are untrusted bytes: invalid UTF-8 (a lone
 * continuation byte, a truncated sequence, a surrogate, an overlong
 * slash), terminal escapes, DEL, a C1 control, XML and JSON specials.
 * Every writer must give a file a strict parser accepts, and kiln must
 * read back what it wrote.
 */
static void test_formats__hostile_names(void **state)
{
	(void)state;
	struct profile *p = profile__new();
	const char *comm = "\xff\xfe\x1b[31mevil\x07\xc0\xaf";
	struct label l[] = {
	    {profile__intern(p, "comm"), profile__intern(p, comm)},
	    {profile__intern(p, "pid"), profile__intern(p, "1")},
	};
	uint32_t s = profile__add_series(p, l, 2);
	uint32_t f1 = frame(p, "main\x01\x7f\xc2\x9b", "src\xff.c",
			    "/bin/x\xfe", 3, FRAME_USER, 0x10);
	uint32_t f2 =
	    frame(p, "<&>\"'\\;\n\r\t", "", "", 0, FRAME_INLINED, 0x10);
	uint32_t f3 = frame(p, "\xed\xa0\x80 sur \xe2\x82", "", "", 0,
			    FRAME_KERNEL, 0xffff0000);
	uint32_t st[] = {f1, f2, f3};
	char path[] = "/tmp/kiln-test-hostile-XXXXXX", cmd[4200], err[256];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	profile__add_sample(p, s, profile__add_stack(p, st, 3), 1000, 7);
	profile__add_sample(p, s, profile__add_stack(p, st, 1), 1000, 2);
	profile__meta(p)->start_ns = 1700000000000000000ull;

	/* SVG: a strict XML parser. */
	struct buf b = write_mem(p, FORMAT_SVG, NULL);
	write_file(path, &b);
	snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
	assert_int_equal(system(cmd), 0);
	free(b.data);

	/* speedscope and kiln's JSON: python3's json, which refuses raw
	 * control characters in strings. */
	enum profile_format js[] = {FORMAT_SPEEDSCOPE, FORMAT_JSON};
	for (size_t i = 0; i < 2; i++) {
		b = write_mem(p, js[i], NULL);
		assert_false(has_control(&b, false));
		write_file(path, &b);
		assert_int_equal(
		    run_python("import json,sys\n"
			       "json.loads(open(sys.argv[1],\"rb\").read()"
			       ".decode(\"utf-8\",\"strict\"))\n",
			       path),
		    0);
		free(b.data);
	}

	/* folded: valid UTF-8 without control bytes, read back by kiln with
	 * the same counts and depths. */
	b = write_mem(p, FORMAT_FOLDED, NULL);
	assert_false(has_control(&b, false));
	struct profile *q = profile__new();
	assert_int_equal(folded__read(q, b.data, b.len, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(profile__total(q), 9);
	free(b.data);
	profile__free(q);

	/* pprof: kiln's reader and go tool pprof (when Go is there). */
	b = write_mem(p, FORMAT_PPROF, NULL);
	q = profile__new();
	assert_int_equal(pprof__read(q, b.data, b.len, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(profile__total(q), 9);
	profile__free(q);
	write_file(path, &b);
	free(b.data);
	if (!system("command -v go >/dev/null 2>&1")) {
		snprintf(cmd, sizeof(cmd),
			 "go tool pprof -raw '%s' "
			 ">'%s.raw' 2>&1",
			 path, path);
		int rc = system(cmd);
		snprintf(cmd, sizeof(cmd), "%s.raw", path);
		if (rc)
			fail_msg("go tool pprof -raw failed (see %s)", cmd);
		unlink(cmd);
	}

	/* Terminal tables: no control bytes reach the terminal. */
	b.data = NULL;
	FILE *f = open_memstream(&b.data, &b.len);
	assert_int_equal(diff__write_top(p, 0, f), 0);
	fclose(f);
	assert_false(has_control(&b, false));
	free(b.data);
	unlink(path);
	profile__free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formats__pprof_round_trip),
	    cmocka_unit_test(test_formats__pprof_wire_layout),
	    cmocka_unit_test(test_formats__pprof_foreign),
	    cmocka_unit_test(test_formats__pprof_bad_input),
	    cmocka_unit_test(test_formats__folded_round_trip),
	    cmocka_unit_test(test_formats__folded_bad_input),
	    cmocka_unit_test(test_formats__speedscope_valid),
	    cmocka_unit_test(test_formats__svg_valid),
	    cmocka_unit_test(test_formats__ingest),
	    cmocka_unit_test(test_formats__fuzz_corpus_replay),
	    cmocka_unit_test(test_formats__hostile_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
