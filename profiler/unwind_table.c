// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdint.h>

#include <linux/types.h>

/* The twin reads memory through a callback (see unwind__walk). */
static int walk_read(void *rctx, __u64 addr, __u64 *dst);
#define KILN_UNWIND_READ(rctx, addr, dst) walk_read((rctx), (addr), (dst))

#include "profiler/unwind_table.h"

struct walk_reader {
	unwind_read_fn fn;
	void *ctx;
};

static int walk_read(void *rctx, __u64 addr, __u64 *dst)
{
	struct walk_reader *rd = rctx;
	uint64_t v;

	if (rd->fn(rd->ctx, addr, &v))
		return -1;
	*dst = v;
	return 0;
}

struct builder {
	struct unwind_table *t;
	size_t cap;
	int err;
};

static int push_row(struct builder *b, const struct kiln_unwind_row *row)
{
	struct unwind_table *t = b->t;

	if (t->nr_rows) {
		struct kiln_unwind_row *last = &t->rows[t->nr_rows - 1];

		/* Same rule as the row before: it simply extends. */
		if (last->op == row->op && last->cfa_off == row->cfa_off &&
		    last->fp_off == row->fp_off)
			return 0;
		/* A zero-length row (a gap closed by the next FDE). */
		if (last->pc == row->pc) {
			*last = *row;
			return 0;
		}
	}
	if (t->nr_rows >= KILN_UNWIND_MAX_ROWS)
		return -E2BIG;
	if (t->nr_rows == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		void *p = realloc(t->rows, cap * sizeof(*t->rows));

		if (!p)
			return -ENOMEM;
		t->rows = p;
		b->cap = cap;
	}
	t->rows[t->nr_rows++] = *row;
	return 0;
}

static void unsupported(struct unwind_table *t, int reason)
{
	t->stats.unsupported++;
	t->stats.by_reason[reason]++;
}

static int on_row(const struct cfi_row *c, void *ctx)
{
	struct builder *b = ctx;
	struct kiln_unwind_row row = {.op = KILN_UNW_INVALID};

	if (c->pc > UINT32_MAX) {
		unsupported(b->t, UNWIND_UNSUP_PC_RANGE);
		return 0;
	}
	row.pc = (__u32)c->pc;
	if (c->gap)
		return push_row(b, &row);
	switch (c->cfa) {
	case CFI_CFA_INVALID:
		unsupported(b->t, c->unsupported);
		return push_row(b, &row);
	case CFI_CFA_SIGNAL:
		row.op = KILN_UNW_SIGNAL;
		return push_row(b, &row);
	case CFI_CFA_PLT:
		row.op = KILN_UNW_PLT;
		row.cfa_off = (__s16)c->cfa_off;
		row.fp_off = (__s8)c->plt_threshold;
		return push_row(b, &row);
	default:
		break;
	}
	if (c->ra == CFI_REG_UNDEFINED) {
		row.op = KILN_UNW_END;
		return push_row(b, &row);
	}
	if (c->ra != CFI_REG_AT_CFA || c->ra_off != -8) {
		unsupported(b->t, UNWIND_UNSUP_RA_OFFSET);
		return push_row(b, &row);
	}
	if (c->cfa_off < INT16_MIN || c->cfa_off > INT16_MAX) {
		unsupported(b->t, UNWIND_UNSUP_CFA_OFFSET);
		return push_row(b, &row);
	}
	if (c->fp == CFI_REG_AT_CFA) {
		if (c->fp_off % 8 || c->fp_off / 8 < INT8_MIN ||
		    c->fp_off / 8 > INT8_MAX || c->fp_off == 0) {
			unsupported(b->t, UNWIND_UNSUP_FP_OFFSET);
			return push_row(b, &row);
		}
		row.fp_off = (__s8)(c->fp_off / 8);
	}
	row.op = c->cfa == CFI_CFA_SP ? KILN_UNW_CFA_SP : KILN_UNW_CFA_FP;
	row.cfa_off = (__s16)c->cfa_off;
	return push_row(b, &row);
}

/* The last row at or before pc, over all rows (before the index exists). */
static const struct kiln_unwind_row *find_any(const struct unwind_table *t,
					      uint64_t pc)
{
	size_t lo = 0, hi = t->nr_rows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->rows[lo - 1] : NULL;
}

/*
 * The entry point is the outermost frame by definition. ld.so's _start has
 * no FDE, so a stack that began there would end in "no unwind info":
 * mark it the end of the stack instead.
 */
static void mark_entry(struct unwind_table *t, uint64_t entry)
{
	const struct kiln_unwind_row *row;
	size_t pos;

	if (!entry || entry > UINT32_MAX || !t->nr_rows)
		return;
	row = find_any(t, entry);
	if (row && row->op != KILN_UNW_INVALID)
		return;
	pos = row ? (size_t)(row - t->rows) + 1 : 0;
	if (row && row->pc == entry) {
		t->rows[pos - 1].op = KILN_UNW_END;
		return;
	}
	{
		void *p = realloc(t->rows, (t->nr_rows + 1) * sizeof(*t->rows));

		if (!p)
			return;
		t->rows = p;
	}
	memmove(&t->rows[pos + 1], &t->rows[pos],
		(t->nr_rows - pos) * sizeof(*t->rows));
	t->rows[pos] =
	    (struct kiln_unwind_row){.pc = (__u32)entry, .op = KILN_UNW_END};
	t->nr_rows++;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The bucket index: the smallest bucket size (a power of two of bytes)
 * with about KILN_UNWIND_ROWS_PER_BUCKET rows per bucket or fewer
 * buckets, then for each bucket the rows its pcs can land in.
 */
static int build_index(struct unwind_table *t)
{
	struct kiln_unwind_object *o = &t->index;
	uint64_t span, want;
	uint32_t shift = 4, r = 0;

	if (!t->nr_rows)
		return 0;
	o->pc_min = t->rows[0].pc;
	span = (uint64_t)t->rows[t->nr_rows - 1].pc - o->pc_min + 1;
	want = t->nr_rows / KILN_UNWIND_ROWS_PER_BUCKET;
	if (!want)
		want = 1;
	while (shift < 31 && (span >> shift) + 1 > want)
		shift++;
	o->shift = shift;
	o->nr_buckets = (uint32_t)(((span - 1) >> shift) + 1);
	t->buckets = calloc(o->nr_buckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	for (uint32_t b = 0; b < o->nr_buckets; b++) {
		uint64_t start = (uint64_t)o->pc_min + ((uint64_t)b << shift);
		uint64_t end = start + (1ULL << shift);

		/* r: the last row starting at or before the bucket's start. */
		while (r + 1 < t->nr_rows && t->rows[r + 1].pc <= start)
			r++;
		t->buckets[b].lo = r;
		while (r + 1 < t->nr_rows && t->rows[r + 1].pc < end)
			r++;
		t->buckets[b].hi = r;
	}
	return 0;
}

struct unwind_table *unwind_table__build(int fd)
{
	struct builder b = {0};
	struct cfi_stats cs;
	uint64_t start = mono_ns();
	int err;

	b.t = calloc(1, sizeof(*b.t));
	if (!b.t) {
		errno = ENOMEM;
		return NULL;
	}
	err = cfi__read(fd, on_row, &b, &cs);
	if (err) {
		unwind_table__free(b.t);
		errno = -err;
		return NULL;
	}
	mark_entry(b.t, cs.entry);
	if (build_index(b.t)) {
		unwind_table__free(b.t);
		errno = ENOMEM;
		return NULL;
	}
	b.t->stats.fdes = cs.fdes;
	b.t->stats.cfi_rows = cs.rows;
	b.t->stats.rows = b.t->nr_rows;
	b.t->stats.debug_frame = cs.debug_frame;
	b.t->stats.build_ns = mono_ns() - start;
	/* Give back the slack of the doubling. */
	if (b.t->nr_rows && b.cap > b.t->nr_rows) {
		void *p = realloc(b.t->rows, b.t->nr_rows * sizeof(*b.t->rows));
		if (p)
			b.t->rows = p;
	}
	return b.t;
}

void unwind_table__free(struct unwind_table *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t->buckets);
	free(t);
}

const char *unwind_table__unsup_name(int reason)
{
	switch (reason) {
	case UNWIND_UNSUP_CFA_OFFSET:
		return "cfa-offset-range";
	case UNWIND_UNSUP_FP_OFFSET:
		return "fp-offset-range";
	case UNWIND_UNSUP_RA_OFFSET:
		return "ra-not-at-cfa-8";
	case UNWIND_UNSUP_PC_RANGE:
		return "pc-above-4g";
	default:
		return cfi__unsupported_name(reason);
	}
}

const struct kiln_unwind_row *unwind_table__find(const struct unwind_table *t,
						 uint64_t pc)
{
	long b = kiln_unwind_bucket_of(&t->index, pc);
	uint32_t lo, hi;

	if (pc > UINT32_MAX || b < 0)
		return NULL;
	/* The answer is in [lo, hi]; row lo starts at or before pc. */
	lo = t->buckets[b].lo;
	hi = t->buckets[b].hi;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (t->rows[mid].pc <= pc)
			lo = mid;
		else
			hi = mid - 1;
	}
	return t->rows[lo].pc <= pc ? &t->rows[lo] : NULL;
}

unsigned int unwind_table__max_steps(const struct unwind_table *t)
{
	unsigned int most = 0;

	for (uint32_t b = 0; b < t->index.nr_buckets; b++) {
		uint32_t n = t->buckets[b].hi - t->buckets[b].lo + 1;
		unsigned int steps = 0;

		while ((1u << steps) < n)
			steps++;
		if (steps > most)
			most = steps;
	}
	return most;
}

static const struct unwind_walk_map *
find_map(const struct unwind_walk_map *maps, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && addr < maps[lo - 1].end ? &maps[lo - 1] : NULL;
}

int unwind__walk(const struct unwind_walk_map *maps, size_t nr_maps,
		 const struct kiln_unwind_regs *regs, unwind_read_fn read,
		 void *ctx, uint64_t *pcs, size_t max, size_t *n,
		 struct unwind_walk_stats *st)
{
	struct walk_reader rd = {read, ctx};
	struct kiln_unwind_regs r = *regs;
	struct unwind_walk_stats local = {0};
	int end = KILN_UNWIND_FRAME_LIMIT;

	if (!st)
		st = &local;
	*st = (struct unwind_walk_stats){0};
	*n = 0;
	while (*n < max) {
		const struct unwind_walk_map *m = find_map(maps, nr_maps, r.pc);
		const struct kiln_unwind_row *row = NULL;

		pcs[(*n)++] = r.pc;
		if (m && m->table)
			row = unwind_table__find(
			    m->table, r.pc - m->bias - (r.exact ? 0 : 1));
		if (row && row->op != KILN_UNW_INVALID) {
			st->cfi_frames++;
			end = kiln_unwind_row_step(row, &r, &rd);
		} else {
			st->fp_frames++;
			end = kiln_unwind_fp_step(&r, &rd);
		}
		if (end != KILN_UNWIND_RUNNING)
			return end;
		end = KILN_UNWIND_FRAME_LIMIT;
	}
	return end;
}

const char *unwind__end_name(int end)
{
	static const char *const names[KILN_UNWIND_END_MAX] = {
	    [KILN_UNWIND_RUNNING] = "running",
	    [KILN_UNWIND_COMPLETE] = "complete",
	    [KILN_UNWIND_NO_INFO] = "no unwind info",
	    [KILN_UNWIND_NOT_LOADED] = "table not loaded yet",
	    [KILN_UNWIND_NO_ROOM] = "unwind memory full",
	    [KILN_UNWIND_FRAME_LIMIT] = "frame limit",
	    [KILN_UNWIND_UNREADABLE] = "unreadable memory",
	    [KILN_UNWIND_BAD_FRAME] = "bad frame",
	    [KILN_UNWIND_FP_WALK] = "frame pointers",
	};

	return end >= 0 && end < KILN_UNWIND_END_MAX && names[end] ? names[end]
								   : "unknown";
}
