/* SPDX-License-Identifier: MIT */
/*
 * The store read paths over corrupted copies of a real store: a small
 * store is written once with the store's own writer, then each input is a
 * list of 5-byte edits (little-endian 32-bit offset modulo the file size,
 * a byte XORed in) applied to a copy of it. Every read the web server and
 * `kiln query` make is run on the copy; errors are fine, crashes are not.
 * Used by the libFuzzer target (fuzz_store.c) and by test_storage.c, which
 * replays tests/fuzz/regressions/store-* and the corpus in `make test`.
 */
#ifndef KILN_FUZZ_STORE_H
#define KILN_FUZZ_STORE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "profile/format.h"
#include "storage/store.h"

#define FUZZ_STORE_T0 (1700000000ULL * 1000000000ULL)

struct fuzz_store {
	char dir[64], base[96], copy[96];
	uint8_t *bytes;
	size_t len;
};

static int fuzz_store__ignore(const void *a, void *ctx)
{
	(void)a;
	(void)ctx;
	return 0;
}

static int fuzz_store__point(const struct store_point *pt, void *ctx)
{
	(void)ctx;
	return pt->group ? 0 : -EINVAL;
}

static int fuzz_store__col(uint64_t s, const uint64_t *counts, void *ctx)
{
	(void)s;
	(void)ctx;
	return counts ? 0 : -EINVAL;
}

/* A few windows of a few series and stacks, the shapes the agent writes. */
static int fuzz_store__write_base(const char *path)
{
	static const char *const comms[] = {"postgres", "nginx", "bash"};
	struct store_opts so = {.path = path};
	struct store *st = store__open(&so);
	int err = 0;

	if (!st)
		return -errno;
	for (int w = 0; w < 3 && !err; w++) {
		struct profile *p = profile__new();
		uint32_t series[3], stacks[4], fr[3];
		char buf[32];

		for (int s = 0; s < 3; s++) {
			struct label l[3];

			snprintf(buf, sizeof(buf), "%d", 100 + s);
			l[0] = (struct label){profile__intern(p, LABEL_PID),
					      profile__intern(p, buf)};
			l[1] = (struct label){profile__intern(p, LABEL_COMM),
					      profile__intern(p, comms[s])};
			l[2] = (struct label){profile__intern(p, "env"),
					      profile__intern(p, "prod")};
			series[s] = profile__add_series(p, l, 3);
		}
		for (int k = 0; k < 4; k++) {
			struct frame f = {0};

			f.name = profile__intern(p, "main");
			f.file = profile__intern(p, "main.c");
			f.module = profile__intern(p, "/usr/bin/x");
			f.line = 7;
			fr[0] = profile__add_frame(p, &f);
			snprintf(buf, sizeof(buf), "fn_%d", k);
			f.name = profile__intern(p, buf);
			f.kind = k % 2 ? FRAME_KERNEL : FRAME_INLINED;
			f.addr = 0x1000 + (uint64_t)k;
			fr[1] = profile__add_frame(p, &f);
			stacks[k] = profile__add_stack(p, fr, k ? 2 : 1);
		}
		for (int i = 0; i < 40; i++)
			profile__add_sample(p, series[i % 3], stacks[i % 4],
					    FUZZ_STORE_T0 +
						(uint64_t)w * 10000000000ULL +
						(uint64_t)i * 20000000ULL,
					    1 + (uint64_t)i % 5);
		profile__meta(p)->period_ns = 10101010;
		err = store__write(st, p);
		profile__free(p);
	}
	store__close(st);
	return err;
}

static void fuzz_store__remove(const char *path)
{
	char side[128];

	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-journal", path);
	unlink(side);
}

/* Writes the base store and keeps its bytes. Returns 0 or -errno. */
static int fuzz_store__init(struct fuzz_store *fs)
{
	struct stat sb;
	ssize_t n;
	int fd, err;

	memset(fs, 0, sizeof(*fs));
	snprintf(fs->dir, sizeof(fs->dir), "/tmp/kiln-fuzz-store-XXXXXX");
	if (!mkdtemp(fs->dir))
		return -errno;
	snprintf(fs->base, sizeof(fs->base), "%s/base.db", fs->dir);
	snprintf(fs->copy, sizeof(fs->copy), "%s/copy.db", fs->dir);
	if ((err = fuzz_store__write_base(fs->base)))
		return err;
	fd = open(fs->base, O_RDONLY);
	if (fd < 0 || fstat(fd, &sb))
		return -errno;
	fs->len = (size_t)sb.st_size;
	fs->bytes = malloc(fs->len);
	n = fs->bytes ? read(fd, fs->bytes, fs->len) : -1;
	close(fd);
	return n == (ssize_t)fs->len ? 0 : -EIO;
}

static void fuzz_store__fini(struct fuzz_store *fs)
{
	fuzz_store__remove(fs->base);
	fuzz_store__remove(fs->copy);
	rmdir(fs->dir);
	free(fs->bytes);
}

/* Applies the edits in 'data' to a copy and runs every read on it. */
static void fuzz_store__run(struct fuzz_store *fs, const uint8_t *data,
			    size_t size)
{
	static const struct store_filter filt[] = {{LABEL_COMM, "nginx"},
						   {"env", "prod"}};
	struct store_opts so = {.path = fs->copy, .read_only = true};
	struct store_query q = {.from_ns = FUZZ_STORE_T0 - 3600000000000ULL,
				.to_ns = FUZZ_STORE_T0 + 3600000000000ULL};
	uint8_t *b = malloc(fs->len);
	struct store *st;
	int fd;

	if (!b || !fs->len)
		abort();
	memcpy(b, fs->bytes, fs->len);
	for (size_t i = 0; i + 5 <= size && i < 5 * 64; i += 5) {
		uint32_t off = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
			       (uint32_t)data[i + 2] << 16 |
			       (uint32_t)data[i + 3] << 24;

		b[off % fs->len] ^= data[i + 4];
	}
	fuzz_store__remove(fs->copy);
	fd = open(fs->copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, b, fs->len) != (ssize_t)fs->len)
		abort();
	close(fd);
	free(b);

	st = store__open(&so);
	if (!st)
		return;
	for (int f = 0; f < 2; f++) {
		struct profile *p = profile__new();
		struct store_stats ss;
		char *out = NULL;
		size_t outlen = 0;
		FILE *mem;

		q.filters = f ? filt : NULL;
		q.nr_filters = f ? 2 : 0;
		if (!store__query(st, &q, p)) {
			/* What came back must be a sound profile. */
			mem = open_memstream(&out, &outlen);
			if (!mem)
				abort();
			profile__write(p, FORMAT_FOLDED, NULL, mem);
			fclose(mem);
			free(out);
		}
		profile__free(p);
		store__timeline(st, &q, 10000000000ULL, f ? LABEL_COMM : NULL,
				fuzz_store__point, NULL);
		store__heatmap(st, &q, fuzz_store__col, NULL);
		store__label_names(
		    st, (int (*)(const char *, void *))fuzz_store__ignore,
		    NULL);
		store__label_values(
		    st, f ? "env" : LABEL_COMM, f ? &q : NULL,
		    (int (*)(const char *, void *))fuzz_store__ignore, NULL);
		store__stats(st, &ss);
	}
	store__close(st);
}

#endif
