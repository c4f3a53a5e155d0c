// SPDX-License-Identifier: MIT
/* The push wire format; the layout is documented in storage/wire.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/escape.h"
#include "storage/store_int.h"
#include "storage/wire.h"

static const uint8_t magic[4] = {'K', 'L', 'N', 'W'};
#define UNUSED_ID UINT32_MAX
#define WIRE_ZLIB_LEVEL 3 /* see wire__encode_payload */

void wire_limits__default(struct wire_limits *lim)
{
	*lim = (struct wire_limits){
	    .max_frame = 16u << 20,
	    .max_payload = 256u << 20,
	    .max_strings = 1u << 20,
	    .max_string_len = 64u << 10,
	    .max_frames = 1u << 21,
	    .max_stacks = 1u << 21,
	    .max_depth = 1024,
	    .max_series = 1u << 17,
	    .max_labels = 64,
	    .max_entries = 1u << 24,
	    .max_slots = 24ULL * 3600 * 50,
	    .max_count = 1ULL << 32,
	};
}

/* ---- a growing byte buffer ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static bool wbuf__reserve(struct wbuf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *n;

		while (cap < b->len + more)
			cap *= 2;
		n = realloc(b->p, cap);
		if (!n) {
			b->oom = true;
			return false;
		}
		b->p = n;
		b->cap = cap;
	}
	return true;
}

static void wbuf__varint(struct wbuf *b, uint64_t v)
{
	if (wbuf__reserve(b, 10))
		b->len = (size_t)(varint__put(b->p + b->len, v) - b->p);
}

static void wbuf__bytes(struct wbuf *b, const void *s, size_t n)
{
	if (wbuf__reserve(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

/* ---- encoding ---- */

struct enc_ent {
	uint32_t series, stack;
	uint64_t slot, count;
};

struct enc_stack {
	uint32_t old;
	const uint32_t *frames; /* new frame ids */
	size_t depth;
};

static int cmp_stack(const void *a, const void *b)
{
	const struct enc_stack *x = a, *y = b;
	size_t n = x->depth < y->depth ? x->depth : y->depth;

	for (size_t i = 0; i < n; i++)
		if (x->frames[i] != y->frames[i])
			return x->frames[i] < y->frames[i] ? -1 : 1;
	return x->depth < y->depth ? -1 : x->depth > y->depth;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct enc_ent *x = a, *y = b;

	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Signed deltas as varints: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ... */
static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (uint64_t) - (int64_t)(d >> 63);
}

static uint64_t unzigzag(uint64_t v)
{
	return (v >> 1) ^ (uint64_t) - (int64_t)(v & 1);
}

static uint32_t use_str(uint32_t *smap, uint32_t *nr, uint32_t id)
{
	if (id == 0)
		return 0;
	if (smap[id] == UNUSED_ID)
		smap[id] = ++*nr;
	return smap[id];
}

int wire__encode_payload(const struct profile *p, uint8_t **out, size_t *len,
			 uint64_t *raw_len, uint64_t *samples)
{
	size_t n, nstr = profile__nr_strings(p), nfr = profile__nr_frames(p);
	size_t nst = profile__nr_stacks(p), nse = profile__nr_series(p);
	const struct sample *s = profile__samples(p, &n);
	uint32_t *smap = malloc((nstr ? nstr : 1) * sizeof(*smap));
	uint32_t *fmap = malloc((nfr ? nfr : 1) * sizeof(*fmap));
	uint32_t *stmap = malloc((nst ? nst : 1) * sizeof(*stmap));
	uint32_t *semap = malloc((nse ? nse : 1) * sizeof(*semap));
	uint32_t *fold = malloc((nfr ? nfr : 1) * sizeof(*fold));
	uint32_t *seold = malloc((nse ? nse : 1) * sizeof(*seold));
	struct enc_ent *ents = malloc((n ? n : 1) * sizeof(*ents));
	struct enc_stack *stacks = malloc((nst ? nst : 1) * sizeof(*stacks));
	uint32_t *fbuf = NULL;
	uint32_t nr_str = 0, nr_fr = 0, nr_st = 0, nr_se = 0;
	size_t nfbuf = 0, m = 0;
	uint64_t base = UINT64_MAX, total = 0;
	struct wbuf b = {0};
	uLongf zlen;
	uint8_t *z = NULL;
	int err = 0;

	*out = NULL;
	if (!smap || !fmap || !stmap || !semap || !fold || !seold || !ents ||
	    !stacks) {
		err = -ENOMEM;
		goto out;
	}
	memset(smap, 0xff, (nstr ? nstr : 1) * sizeof(*smap));
	memset(fmap, 0xff, (nfr ? nfr : 1) * sizeof(*fmap));
	memset(stmap, 0xff, (nst ? nst : 1) * sizeof(*stmap));
	memset(semap, 0xff, (nse ? nse : 1) * sizeof(*semap));

	/* Which series and stacks are used, and the earliest slot. */
	for (size_t i = 0; i < n; i++) {
		if (!s[i].count)
			continue;
		if (semap[s[i].series] == UNUSED_ID) {
			seold[nr_se] = s[i].series;
			semap[s[i].series] = nr_se++;
		}
		if (stmap[s[i].stack] == UNUSED_ID) {
			stmap[s[i].stack] = 0; /* numbered after sorting */
			stacks[nr_st++].old = s[i].stack;
		}
		if (s[i].time_ns && s[i].time_ns / SLOT_NS < base)
			base = s[i].time_ns / SLOT_NS;
	}
	if (base == UINT64_MAX)
		base = 0;
	/* Frames in first-use order over the used stacks; frame ids of
	 * stacks rewritten into one buffer so stacks can be sorted. */
	for (uint32_t i = 0; i < nr_st; i++) {
		size_t depth;

		profile__stack(p, stacks[i].old, &depth);
		nfbuf += depth;
	}
	fbuf = malloc((nfbuf ? nfbuf : 1) * sizeof(*fbuf));
	if (!fbuf) {
		err = -ENOMEM;
		goto out;
	}
	nfbuf = 0;
	for (uint32_t i = 0; i < nr_st; i++) {
		size_t depth;
		const uint32_t *fr = profile__stack(p, stacks[i].old, &depth);

		stacks[i].frames = fbuf + nfbuf;
		stacks[i].depth = depth;
		for (size_t j = 0; j < depth; j++) {
			if (fmap[fr[j]] == UNUSED_ID) {
				fold[nr_fr] = fr[j];
				fmap[fr[j]] = nr_fr++;
			}
			fbuf[nfbuf++] = fmap[fr[j]];
		}
	}
	qsort(stacks, nr_st, sizeof(*stacks), cmp_stack);
	for (uint32_t i = 0; i < nr_st; i++)
		stmap[stacks[i].old] = i;
	/* Strings: numbered in the order frames and labels use them. */
	for (uint32_t i = 0; i < nr_fr; i++) {
		const struct frame *f = profile__frame(p, fold[i]);

		use_str(smap, &nr_str, f->name);
		use_str(smap, &nr_str, f->file);
		use_str(smap, &nr_str, f->module);
		use_str(smap, &nr_str, f->sysname);
		use_str(smap, &nr_str, f->build_id);
	}
	for (uint32_t i = 0; i < nr_se; i++) {
		size_t nl;
		const struct label *l = profile__series(p, seold[i], &nl);

		for (size_t j = 0; j < nl; j++) {
			use_str(smap, &nr_str, l[j].key);
			use_str(smap, &nr_str, l[j].value);
		}
	}

	/* Entries, merged per (series, stack, slot). */
	for (size_t i = 0; i < n; i++) {
		if (!s[i].count)
			continue;
		ents[m++] = (struct enc_ent){
		    .series = semap[s[i].series],
		    .stack = stmap[s[i].stack],
		    .slot = s[i].time_ns ? s[i].time_ns / SLOT_NS - base : 0,
		    .count = s[i].count,
		};
		total += s[i].count;
	}
	qsort(ents, m, sizeof(*ents), cmp_ent);
	size_t k = 0;
	for (size_t i = 0; i < m; i++) {
		if (k && !cmp_ent(&ents[k - 1], &ents[i]))
			ents[k - 1].count += ents[i].count;
		else
			ents[k++] = ents[i];
	}
	m = k;

	wbuf__varint(&b, profile__meta_const(p)->period_ns);
	wbuf__varint(&b, base);
	/* The string table, in new-id order. */
	wbuf__varint(&b, nr_str);
	{
		uint32_t *sold = malloc((nr_str + 1) * sizeof(*sold));

		if (!sold) {
			err = -ENOMEM;
			goto out;
		}
		for (uint32_t i = 1; i < nstr; i++)
			if (smap[i] != UNUSED_ID)
				sold[smap[i]] = i;
		for (uint32_t i = 1; i <= nr_str; i++) {
			const char *str = profile__str(p, sold[i]);
			size_t sl = strlen(str);

			wbuf__varint(&b, sl);
			wbuf__bytes(&b, str, sl);
		}
		free(sold);
	}
	wbuf__varint(&b, nr_fr);
	for (uint32_t i = 0; i < nr_fr; i++) {
		const struct frame *f = profile__frame(p, fold[i]);

		wbuf__varint(&b, f->name ? smap[f->name] : 0);
		wbuf__varint(&b, f->file ? smap[f->file] : 0);
		wbuf__varint(&b, f->module ? smap[f->module] : 0);
		bool more = f->sysname || f->build_id || f->offset;

		wbuf__varint(&b, f->line);
		wbuf__varint(&b, f->kind | (more ? WIRE_FRAME_MORE : 0));
		wbuf__varint(&b, f->addr);
		if (more) {
			wbuf__varint(&b, f->sysname ? smap[f->sysname] : 0);
			wbuf__varint(&b, f->build_id ? smap[f->build_id] : 0);
			/* Near the address: text is mapped at its file
			 * offset in most objects (a return address looks
			 * up the byte before). */
			wbuf__varint(&b, zigzag(f->offset - f->addr));
		}
	}
	wbuf__varint(&b, nr_st);
	for (uint32_t i = 0; i < nr_st; i++) {
		size_t shared = 0;

		if (i) {
			const struct enc_stack *prev = &stacks[i - 1];

			while (shared < prev->depth &&
			       shared < stacks[i].depth &&
			       prev->frames[shared] == stacks[i].frames[shared])
				shared++;
		}
		wbuf__varint(&b, shared);
		wbuf__varint(&b, stacks[i].depth - shared);
		for (size_t j = shared; j < stacks[i].depth; j++)
			wbuf__varint(&b, stacks[i].frames[j]);
	}
	wbuf__varint(&b, nr_se);
	for (uint32_t i = 0; i < nr_se; i++) {
		size_t nl;
		const struct label *l = profile__series(p, seold[i], &nl);

		wbuf__varint(&b, nl);
		for (size_t j = 0; j < nl; j++) {
			wbuf__varint(&b, l[j].key ? smap[l[j].key] : 0);
			wbuf__varint(&b, l[j].value ? smap[l[j].value] : 0);
		}
	}
	/* Groups of (series, stack). */
	size_t ngroups = 0;
	for (size_t i = 0; i < m; i++)
		if (!i || ents[i].series != ents[i - 1].series ||
		    ents[i].stack != ents[i - 1].stack)
			ngroups++;
	wbuf__varint(&b, ngroups);
	uint32_t pse = 0, pst = 0;
	for (size_t i = 0; i < m;) {
		size_t j = i;

		while (j < m && ents[j].series == ents[i].series &&
		       ents[j].stack == ents[i].stack)
			j++;
		wbuf__varint(&b, ents[i].series - pse);
		wbuf__varint(&b, ents[i].series == pse && i
				     ? ents[i].stack - pst
				     : ents[i].stack);
		wbuf__varint(&b, j - i);
		for (size_t q = i; q < j; q++) {
			uint64_t d = q == i ? ents[q].slot
					    : ents[q].slot - ents[q - 1].slot;

			wbuf__varint(&b, d << 1 | (ents[q].count != 1));
			if (ents[q].count != 1)
				wbuf__varint(&b, ents[q].count);
		}
		pse = ents[i].series;
		pst = ents[i].stack;
		i = j;
	}
	if (b.oom) {
		err = -ENOMEM;
		goto out;
	}
	zlen = compressBound(b.len);
	z = malloc(zlen);
	if (!z) {
		err = -ENOMEM;
		goto out;
	}
	/* Level 3: measured (bench/push_load size, CPU time) at 60% of level
	 * 6's encoding CPU for 4-6% more bytes. */
	if (compress2(z, &zlen, b.p, b.len, WIRE_ZLIB_LEVEL) != Z_OK) {
		err = -ENOMEM;
		goto out;
	}
	*out = z;
	*len = zlen;
	*raw_len = b.len;
	*samples = total;
	z = NULL;
out:
	free(z);
	free(b.p);
	free(smap);
	free(fmap);
	free(stmap);
	free(semap);
	free(fold);
	free(seold);
	free(ents);
	free(stacks);
	free(fbuf);
	return err;
}

int wire__frame(const struct wire_header *h, uint64_t raw_len,
		const void *payload, size_t len, uint8_t **out, size_t *out_len)
{
	size_t hl = strnlen(h->host, sizeof(h->host));
	struct wbuf b = {0};

	if (!hl || hl > WIRE_MAX_HOST || h->end_ns < h->start_ns)
		return -EINVAL;
	wbuf__bytes(&b, magic, sizeof(magic));
	wbuf__bytes(&b, (const uint8_t[]){WIRE_VERSION}, 1);
	wbuf__varint(&b, h->instance);
	wbuf__varint(&b, h->seq);
	wbuf__varint(&b, h->start_ns);
	wbuf__varint(&b, h->end_ns);
	wbuf__varint(&b, h->samples);
	wbuf__varint(&b, hl);
	wbuf__bytes(&b, h->host, hl);
	wbuf__varint(&b, raw_len);
	wbuf__bytes(&b, payload, len);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}

/* ---- decoding ---- */

struct rd {
	const uint8_t *p, *end;
	char *err;
	size_t errlen;
	int ret;
};

static int rd_fail(struct rd *r, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rd_fail(struct rd *r, int ret, const char *fmt, ...)
{
	va_list ap;

	if (r->ret)
		return r->ret;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	r->ret = ret;
	return ret;
}

/* Reads a varint; on a short or overlong one records the error. */
static bool rd_u64(struct rd *r, uint64_t *v, const char *what)
{
	const uint8_t *q;

	if (r->ret)
		return false;
	q = varint__get(r->p, r->end, v);
	if (!q) {
		rd_fail(r, -EBADMSG, "truncated or malformed %s", what);
		return false;
	}
	r->p = q;
	return true;
}

/* A count of items that each take at least one byte: bounded by the
 * limit and by what is left, so no allocation outgrows the input. */
static bool rd_count(struct rd *r, size_t *n, size_t limit, const char *what)
{
	uint64_t v;

	if (!rd_u64(r, &v, what))
		return false;
	if (v > limit) {
		rd_fail(r, -E2BIG, "%s: %llu is over the limit of %zu", what,
			(unsigned long long)v, limit);
		return false;
	}
	if (v > (uint64_t)(r->end - r->p)) {
		rd_fail(r, -EBADMSG, "%s: %llu claimed, data is shorter", what,
			(unsigned long long)v);
		return false;
	}
	*n = (size_t)v;
	return true;
}

static bool rd_id(struct rd *r, uint32_t *id, size_t bound, const char *what)
{
	uint64_t v;

	if (!rd_u64(r, &v, what))
		return false;
	if (v >= bound) {
		rd_fail(r, -EBADMSG, "%s %llu out of range (%zu)", what,
			(unsigned long long)v, bound);
		return false;
	}
	*id = (uint32_t)v;
	return true;
}

static int read_header(struct rd *r, const struct wire_limits *lim,
		       struct wire_header *h, uint64_t *raw_len)
{
	uint64_t hl;

	memset(h, 0, sizeof(*h));
	if (r->end - r->p < 5 || memcmp(r->p, magic, sizeof(magic)))
		return rd_fail(r, -EINVAL, "not a kiln push frame (bad magic)");
	if (r->p[4] < WIRE_VERSION_MIN || r->p[4] > WIRE_VERSION)
		return rd_fail(
		    r, -EPROTO,
		    "push frame version %u, this kiln reads %u to %u", r->p[4],
		    WIRE_VERSION_MIN, WIRE_VERSION);
	r->p += 5;
	if (!rd_u64(r, &h->instance, "instance") ||
	    !rd_u64(r, &h->seq, "seq") || !rd_u64(r, &h->start_ns, "start") ||
	    !rd_u64(r, &h->end_ns, "end") ||
	    !rd_u64(r, &h->samples, "samples") ||
	    !rd_u64(r, &hl, "host length"))
		return r->ret;
	if (!h->instance || !h->seq)
		return rd_fail(r, -EINVAL, "instance and seq must be non-zero");
	if (h->end_ns < h->start_ns)
		return rd_fail(r, -EINVAL, "window ends before it starts");
	if (!hl || hl > WIRE_MAX_HOST || hl > (uint64_t)(r->end - r->p))
		return rd_fail(r, -EBADMSG, "bad host length %llu",
			       (unsigned long long)hl);
	if (!escape__utf8_valid((const char *)r->p, (size_t)hl))
		return rd_fail(r, -EILSEQ, "host name is not UTF-8");
	memcpy(h->host, r->p, (size_t)hl);
	h->host[hl] = '\0';
	r->p += hl;
	if (!rd_u64(r, raw_len, "payload length"))
		return r->ret;
	if (*raw_len > lim->max_payload)
		return rd_fail(r, -E2BIG,
			       "payload of %llu bytes is over the limit of %zu",
			       (unsigned long long)*raw_len, lim->max_payload);
	return 0;
}

static int inflate_exact(struct rd *r, const uint8_t *z, size_t zlen,
			 uint8_t *out, size_t raw_len)
{
	z_stream zs;
	int zret;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK)
		return rd_fail(r, -ENOMEM, "cannot start inflating");
	zs.next_in = (Bytef *)z;
	zs.next_out = out;
	/* Inputs and outputs are bounded by the limits, far below 4 GiB. */
	zs.avail_in = (uInt)zlen;
	zs.avail_out = (uInt)raw_len;
	zret = inflate(&zs, Z_FINISH);
	if (zret != Z_STREAM_END) {
		const char *why = zs.msg ? zs.msg : "corrupt";

		if (zret == Z_BUF_ERROR)
			why = zs.avail_in ? "longer than its header says"
					  : "truncated";
		inflateEnd(&zs);
		return rd_fail(r, -EBADMSG,
			       "payload does not inflate to %zu bytes (%s)",
			       raw_len, why);
	}
	if (zs.avail_out || zs.avail_in) {
		inflateEnd(&zs);
		return rd_fail(r, -EBADMSG,
			       "payload size does not match its header");
	}
	inflateEnd(&zs);
	return 0;
}

struct dec {
	uint32_t *str, *frame, *stack, *series;
	uint32_t *prev, *cur, *ids;
};

static void dec__free(struct dec *d)
{
	free(d->str);
	free(d->frame);
	free(d->stack);
	free(d->series);
	free(d->prev);
	free(d->cur);
	free(d->ids);
}

static int read_payload(struct rd *r, const struct wire_limits *lim,
			const struct wire_header *h, struct profile *out)
{
	size_t nstr, nfr, nst, nse, ngr, nprev = 0, entries = 0;
	uint64_t period, base, total = 0;
	struct dec d = {0};
	int ret;

	if (!rd_u64(r, &period, "period") || !rd_u64(r, &base, "base slot"))
		return r->ret;
	if (base > (UINT64_MAX / SLOT_NS) / 2)
		return rd_fail(r, -EINVAL, "base slot out of range");
	profile__meta(out)->period_ns = period;
	profile__meta(out)->start_ns = h->start_ns;
	profile__meta(out)->duration_ns = h->end_ns - h->start_ns;

	if (!rd_count(r, &nstr, lim->max_strings, "strings"))
		return r->ret;
	d.str = malloc((nstr + 1) * sizeof(*d.str));
	if (!d.str)
		goto oom;
	d.str[0] = 0;
	for (size_t i = 1; i <= nstr; i++) {
		uint64_t sl;

		if (!rd_u64(r, &sl, "string length"))
			goto fail;
		if (sl > lim->max_string_len) {
			rd_fail(r, -E2BIG,
				"string of %llu bytes is over the "
				"limit of %zu",
				(unsigned long long)sl, lim->max_string_len);
			goto fail;
		}
		if (sl > (uint64_t)(r->end - r->p)) {
			rd_fail(r, -EBADMSG, "truncated string");
			goto fail;
		}
		if (!escape__utf8_valid((const char *)r->p, (size_t)sl)) {
			rd_fail(r, -EILSEQ, "string %zu is not UTF-8", i);
			goto fail;
		}
		d.str[i] =
		    profile__intern_len(out, (const char *)r->p, (size_t)sl);
		r->p += sl;
	}

	if (!rd_count(r, &nfr, lim->max_frames, "frames"))
		goto fail;
	d.frame = malloc((nfr ? nfr : 1) * sizeof(*d.frame));
	if (!d.frame)
		goto oom;
	for (size_t i = 0; i < nfr; i++) {
		uint32_t name, file, module, sys = 0, bid = 0;
		uint64_t line, kind, addr, offset = 0;

		if (!rd_id(r, &name, nstr + 1, "frame name") ||
		    !rd_id(r, &file, nstr + 1, "frame file") ||
		    !rd_id(r, &module, nstr + 1, "frame module") ||
		    !rd_u64(r, &line, "line") || !rd_u64(r, &kind, "kind") ||
		    !rd_u64(r, &addr, "address"))
			goto fail;
		/* Version 2: the mangled name, build id and file offset
		 * follow when the kind says so; version 1 never sets it. */
		if ((kind & WIRE_FRAME_MORE) &&
		    (!rd_id(r, &sys, nstr + 1, "frame system name") ||
		     !rd_id(r, &bid, nstr + 1, "frame build id") ||
		     !rd_u64(r, &offset, "frame offset")))
			goto fail;
		if (kind & WIRE_FRAME_MORE)
			offset = addr + unzigzag(offset);
		kind &= ~(uint64_t)WIRE_FRAME_MORE;
		if (line > UINT32_MAX || kind >= FRAME_KIND_MAX) {
			rd_fail(r, -EINVAL, "frame %zu: bad line or kind", i);
			goto fail;
		}
		struct frame f = {.name = d.str[name],
				  .file = d.str[file],
				  .module = d.str[module],
				  .line = (uint32_t)line,
				  .kind = (uint32_t)kind,
				  .addr = addr,
				  .sysname = d.str[sys],
				  .build_id = d.str[bid],
				  .offset = offset};
		d.frame[i] = profile__add_frame(out, &f);
	}

	if (!rd_count(r, &nst, lim->max_stacks, "stacks"))
		goto fail;
	d.stack = malloc((nst ? nst : 1) * sizeof(*d.stack));
	d.prev = malloc((lim->max_depth + 1) * sizeof(*d.prev));
	d.ids = malloc((lim->max_depth + 1) * sizeof(*d.ids));
	if (!d.stack || !d.prev || !d.ids)
		goto oom;
	for (size_t i = 0; i < nst; i++) {
		uint64_t shared, nnew;

		if (!rd_u64(r, &shared, "shared prefix") ||
		    !rd_u64(r, &nnew, "stack depth"))
			goto fail;
		if (shared > nprev || nnew > lim->max_depth - shared) {
			rd_fail(r, shared > nprev ? -EBADMSG : -E2BIG,
				"stack %zu: bad prefix or deeper than %zu", i,
				lim->max_depth);
			goto fail;
		}
		for (size_t j = 0; j < nnew; j++)
			if (!rd_id(r, &d.prev[shared + j], nfr, "frame id"))
				goto fail;
		nprev = (size_t)(shared + nnew);
		for (size_t j = 0; j < nprev; j++)
			d.ids[j] = d.frame[d.prev[j]];
		d.stack[i] = profile__add_stack(out, d.ids, nprev);
	}

	if (!rd_count(r, &nse, lim->max_series, "series"))
		goto fail;
	d.series = malloc((nse ? nse : 1) * sizeof(*d.series));
	if (!d.series)
		goto oom;
	for (size_t i = 0; i < nse; i++) {
		struct label ls[256];
		size_t nl;

		if (!rd_count(r, &nl,
			      lim->max_labels < 256 ? lim->max_labels : 256,
			      "labels"))
			goto fail;
		for (size_t j = 0; j < nl; j++) {
			uint32_t k, v;

			if (!rd_id(r, &k, nstr + 1, "label key") ||
			    !rd_id(r, &v, nstr + 1, "label value"))
				goto fail;
			if (!k) {
				rd_fail(r, -EINVAL, "empty label key");
				goto fail;
			}
			ls[j] = (struct label){d.str[k], d.str[v]};
			for (size_t q = 0; q < j; q++)
				if (ls[q].key == ls[j].key) {
					rd_fail(r, -EINVAL,
						"series %zu repeats label '%s'",
						i,
						profile__str(out, ls[j].key));
					goto fail;
				}
		}
		d.series[i] = profile__add_series(out, ls, nl);
	}

	if (!rd_count(r, &ngr, lim->max_entries, "groups"))
		goto fail;
	uint32_t se = 0, st = 0;
	for (size_t g = 0; g < ngr; g++) {
		uint64_t dse, dst, nslots, slot = 0;

		if (!rd_u64(r, &dse, "series delta") ||
		    !rd_u64(r, &dst, "stack") ||
		    !rd_count(r, &nslots, lim->max_entries - entries, "slots"))
			goto fail;
		if (dse >= nse - se) {
			rd_fail(r, -EBADMSG, "series out of range");
			goto fail;
		}
		se += (uint32_t)dse;
		if (g && !dse) {
			if (dst >= nst - st) {
				rd_fail(r, -EBADMSG, "stack out of range");
				goto fail;
			}
			st += (uint32_t)dst;
		} else {
			if (dst >= nst) {
				rd_fail(r, -EBADMSG, "stack out of range");
				goto fail;
			}
			st = (uint32_t)dst;
		}
		if (!nslots) {
			rd_fail(r, -EBADMSG, "empty group");
			goto fail;
		}
		entries += nslots;
		for (size_t q = 0; q < nslots; q++) {
			uint64_t v, count = 1;

			if (!rd_u64(r, &v, "slot"))
				goto fail;
			if ((v >> 1) >= lim->max_slots ||
			    (q && (v >> 1) >= lim->max_slots - slot)) {
				rd_fail(r, -E2BIG, "slot beyond %llu",
					(unsigned long long)lim->max_slots);
				goto fail;
			}
			slot = q ? slot + (v >> 1) : v >> 1;
			if ((v & 1) && !rd_u64(r, &count, "count"))
				goto fail;
			if (!count || count > lim->max_count) {
				rd_fail(r, -EINVAL, "count %llu out of range",
					(unsigned long long)count);
				goto fail;
			}
			total += count;
			profile__add_sample(out, d.series[se], d.stack[st],
					    (base + slot) * SLOT_NS, count);
		}
	}
	if (r->p != r->end) {
		rd_fail(r, -EBADMSG, "%zu bytes after the counts",
			(size_t)(r->end - r->p));
		goto fail;
	}
	if (total != h->samples) {
		rd_fail(r, -EBADMSG, "counts sum to %llu, the header says %llu",
			(unsigned long long)total,
			(unsigned long long)h->samples);
		goto fail;
	}
	dec__free(&d);
	return 0;
oom:
	rd_fail(r, -ENOMEM, "out of memory");
fail:
	ret = r->ret;
	dec__free(&d);
	return ret ? ret : -EBADMSG;
}

int wire__decode(const void *data, size_t len, const struct wire_limits *lim,
		 struct wire_header *h, struct profile *out, char *err,
		 size_t errlen)
{
	struct wire_limits dflt;
	struct rd r = {.p = data,
		       .end = (const uint8_t *)data + len,
		       .err = err,
		       .errlen = errlen};
	uint64_t raw_len;
	uint8_t *raw;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!lim) {
		wire_limits__default(&dflt);
		lim = &dflt;
	}
	if (len > lim->max_frame)
		return rd_fail(&r, -E2BIG,
			       "push of %zu bytes is over the limit of %zu",
			       len, lim->max_frame);
	if ((ret = read_header(&r, lim, h, &raw_len)))
		return ret;
	if (!out)
		return 0;
	raw = malloc(raw_len ? raw_len : 1);
	if (!raw)
		return rd_fail(&r, -ENOMEM, "out of memory");
	ret =
	    inflate_exact(&r, r.p, (size_t)(r.end - r.p), raw, (size_t)raw_len);
	if (!ret) {
		struct rd pr = {.p = raw,
				.end = raw + raw_len,
				.err = err,
				.errlen = errlen};

		ret = read_payload(&pr, lim, h, out);
	}
	free(raw);
	return ret;
}
