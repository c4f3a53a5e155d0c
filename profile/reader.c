// SPDX-License-Identifier: MIT
/*
 * Format sniffing and the shared input plumbing of the readers: limits,
 * reading a whole file with a size cap, and a gunzip that refuses to grow
 * past a limit, so a 10 KB gzip bomb cannot become 10 GB of memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile/format.h"

void read_limits__default(struct read_limits *lim)
{
	*lim = (struct read_limits){
	    .max_input = 1ull << 30,
	    .max_decompressed = 512ull << 20,
	    .max_memory = 4ull << 30,
	    .max_samples = 50 * 1000 * 1000,
	    .max_locations = 20 * 1000 * 1000,
	    .max_functions = 20 * 1000 * 1000,
	    .max_strings = 20 * 1000 * 1000,
	    .max_depth = 2048,
	    /* 2^53: beyond it counts stop being exact in JSON consumers,
	     * and no real profile has that many samples in one stack. */
	    .max_count = 1ull << 53,
	    .folded_no_comm = false,
	};
}

int format__gunzip(const void *data, size_t len, size_t max, void **out,
		   size_t *outlen, char *err, size_t errlen)
{
	z_stream zs;
	size_t cap = len * 4 < 65536 ? 65536 : len * 4, used = 0;
	unsigned char *buf;
	int zret, ret = 0;

	if (cap > max + 1)
		cap = max + 1;
	buf = malloc(cap);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS: gzip wrapper only, so zlib checks the CRC and size.
	 */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(buf);
		snprintf(err, errlen, "cannot initialise zlib");
		return -ENOMEM;
	}
	zs.next_in = (unsigned char *)data;
	/* zlib counts in uInt; inputs above 4 GB are over max_input anyway. */
	zs.avail_in = (uInt)len;
	for (;;) {
		if (used == cap) {
			if (cap > max) {
				snprintf(err, errlen,
					 "decompressed size exceeds the limit "
					 "of %zu bytes (gzip bomb?)",
					 max);
				ret = -E2BIG;
				goto out;
			}
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			unsigned char *nbuf = realloc(buf, ncap);

			if (!nbuf) {
				snprintf(err, errlen, "out of memory");
				ret = -ENOMEM;
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		zs.next_out = buf + used;
		zs.avail_out = (uInt)(cap - used);
		zret = inflate(&zs, Z_NO_FLUSH);
		used = cap - zs.avail_out;
		if (zret == Z_STREAM_END) {
			/* gzip allows concatenated members; anything else
			 * after the end is corruption. */
			if (zs.avail_in == 0)
				break;
			if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f &&
			    zs.next_in[1] == 0x8b) {
				inflateReset(&zs);
				continue;
			}
			snprintf(err, errlen,
				 "trailing garbage after the gzip data");
			ret = -EINVAL;
			goto out;
		}
		if (zret == Z_BUF_ERROR && zs.avail_in == 0) {
			snprintf(err, errlen, "truncated gzip data");
			ret = -EINVAL;
			goto out;
		}
		if (zret != Z_OK && zret != Z_BUF_ERROR) {
			snprintf(err, errlen, "corrupt gzip data: %s",
				 zs.msg ? zs.msg : "inflate failed");
			ret = -EINVAL;
			goto out;
		}
	}
	if (used > max) {
		snprintf(err, errlen,
			 "decompressed size exceeds the limit of %zu bytes "
			 "(gzip bomb?)",
			 max);
		ret = -E2BIG;
		goto out;
	}
	*out = buf;
	*outlen = used;
	buf = NULL;
out:
	inflateEnd(&zs);
	free(buf);
	return ret;
}

/*
 * Uncompressed pprof: a protobuf Profile starts with a field 1..15 tag of
 * wire type 0 or 2, and (unlike folded text) nearly always holds bytes
 * that are not printable text within its first few hundred bytes.
 */
static bool looks_like_protobuf(const unsigned char *d, size_t len)
{
	unsigned tag = d[0];

	if ((tag & 7) != 0 && (tag & 7) != 2)
		return false;
	if ((tag >> 3) < 1 || (tag >> 3) > 15)
		return false;
	for (size_t i = 0; i < len && i < 512; i++)
		if (d[i] < 0x09 || (d[i] > 0x0d && d[i] < 0x20))
			return true;
	return false;
}

int read_limits__check_size(const struct read_limits *lim, size_t len,
			    const char *what, char *err, size_t errlen)
{
	struct read_limits def;

	if (!lim) {
		read_limits__default(&def);
		lim = &def;
	}
	if (len > lim->max_input) {
		snprintf(err, errlen,
			 "%s of %zu bytes exceeds the limit of %zu", what, len,
			 lim->max_input);
		return -E2BIG;
	}
	if (len == 0) {
		snprintf(err, errlen, "empty %s", what);
		return -EINVAL;
	}
	return 0;
}

int profile__read(struct profile *p, const void *data, size_t len,
		  const struct read_limits *lim, char *err, size_t errlen)
{
	const unsigned char *d = data;
	struct read_limits def;
	int ret;

	if (!lim) {
		read_limits__default(&def);
		lim = &def;
	}
	if ((ret = read_limits__check_size(lim, len, "input", err, errlen)))
		return ret;
	if (len >= 2 && d[0] == 0x1f && d[1] == 0x8b) {
		void *raw = NULL;
		size_t rawlen = 0;

		/* Gzip holds pprof usually, but folded text too (a .folded.gz):
		 * look inside rather than calling the text corrupt protobuf. */
		ret = format__gunzip(data, len, lim->max_decompressed, &raw,
				     &rawlen, err, errlen);
		if (ret)
			return ret;
		if (rawlen && !looks_like_protobuf(raw, rawlen)) {
			ret = folded__read(p, raw, rawlen, lim, err, errlen);
			if (ret && err[0]) {
				char inner[256];

				snprintf(inner, sizeof(inner), "%s", err);
				snprintf(err, errlen, "gzipped folded: %s",
					 inner);
			}
		} else {
			ret = pprof__read(p, data, len, lim, err, errlen);
		}
		free(raw);
		return ret;
	}
	if (looks_like_protobuf(d, len))
		return pprof__read(p, data, len, lim, err, errlen);
	return folded__read(p, data, len, lim, err, errlen);
}

int profile__read_file(struct profile *p, const char *path,
		       const struct read_limits *lim, char *err, size_t errlen)
{
	struct read_limits def;
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int ret = 0;

	if (!lim) {
		read_limits__default(&def);
		lim = &def;
	}
	f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "cannot open '%s': %s", path,
			 strerror(errno));
		return ret;
	}
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 1 << 16;
			char *nbuf;

			if (cap > lim->max_input) {
				snprintf(
				    err, errlen,
				    "'%s' exceeds the input limit of %zu bytes",
				    path, lim->max_input);
				ret = -E2BIG;
				goto out;
			}
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				snprintf(err, errlen,
					 "out of memory reading '%s'", path);
				ret = -ENOMEM;
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (n == 0) {
			if (ferror(f)) {
				ret = -EIO;
				snprintf(err, errlen, "cannot read '%s': %s",
					 path, strerror(errno));
				goto out;
			}
			break;
		}
	}
	ret = profile__read(p, buf, len, lim, err, errlen);
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return ret;
}
