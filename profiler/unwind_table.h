/* SPDX-License-Identifier: MIT */
/*
 * Compact unwind tables for the BPF walker: an object's CFI rows (read by
 * symbolizer/cfi.h) reduced to struct kiln_unwind_row (bpf/unwind.h),
 * sorted by pc, with identical neighbours merged. And the user-space twin
 * of the BPF walk over such tables, for tests and tools: the same step code
 * (bpf/unwind.h), reading memory through a callback.
 */
#ifndef KILN_UNWIND_TABLE_H
#define KILN_UNWIND_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "bpf/unwind.h"
#include "symbolizer/cfi.h"

/* Rows kiln's row format cannot hold, beyond what libdw reports. */
enum unwind_table_unsup {
	UNWIND_UNSUP_CFA_OFFSET = CFI_UNSUP_MAX, /* CFA offset outside s16 */
	UNWIND_UNSUP_FP_OFFSET, /* fp slot not a multiple of 8 or too far */
	UNWIND_UNSUP_RA_OFFSET, /* return address not at CFA - 8 */
	UNWIND_UNSUP_PC_RANGE,	/* code above 4 GiB (pc is 32 bits) */
	UNWIND_UNSUP_MAX,
};

struct unwind_table_stats {
	uint64_t fdes;
	uint64_t cfi_rows;    /* rows read from libdw, gaps included */
	uint64_t rows;	      /* after merging identical neighbours */
	uint64_t unsupported; /* CFI rows kiln cannot express (fall back) */
	uint64_t by_reason[UNWIND_UNSUP_MAX];
	uint64_t build_ns;
	int debug_frame; /* read from .debug_frame */
};

struct unwind_table {
	struct kiln_unwind_row *rows;
	uint32_t nr_rows;
	/* The bucket index (bpf/unwind.h): object fields pc_min, shift and
	 * nr_buckets; base and index are where a copy is put. */
	struct kiln_unwind_object index;
	struct kiln_unwind_bucket *buckets;
	struct unwind_table_stats stats;
};

/*
 * Builds the table of the ELF object open at 'fd'. Returns NULL with errno
 * set: ENOENT (no CFI), EINVAL (not ELF), ENOTSUP (not x86-64), E2BIG (more
 * than KILN_UNWIND_MAX_ROWS rows), ENOMEM.
 */
struct unwind_table *unwind_table__build(int fd);
void unwind_table__free(struct unwind_table *t);

/* Name of an unsupported reason, enum cfi_unsupported or unwind_table_unsup. */
const char *unwind_table__unsup_name(int reason);

/* The row covering ELF vaddr 'pc', or NULL (before the first row): a
 * binary search within pc's bucket, as the BPF walk does. */
const struct kiln_unwind_row *unwind_table__find(const struct unwind_table *t,
						 uint64_t pc);

/* The most search steps any bucket of 't' needs (tests, benchmarks). */
unsigned int unwind_table__max_steps(const struct unwind_table *t);

/* ---- the user-space twin of the BPF walk ---- */

struct unwind_walk_map {
	uint64_t start, end;		  /* process addresses */
	uint64_t bias;			  /* ELF vaddr = address - bias */
	const struct unwind_table *table; /* NULL: no CFI (frame pointers) */
};

/* Reads 8 bytes at 'addr' into *out: 0, or non-zero when unreadable. */
typedef int (*unwind_read_fn)(void *ctx, uint64_t addr, uint64_t *out);

struct unwind_walk_stats {
	uint32_t cfi_frames, fp_frames;
};

/*
 * Walks from 'regs' (the interrupted registers, exact pc) over 'maps'
 * (sorted by start, not overlapping), writing up to 'max' pcs, leaf first,
 * to 'pcs' and their number to *n. Returns why the walk ended (enum
 * kiln_unwind_end), as the BPF program would.
 */
int unwind__walk(const struct unwind_walk_map *maps, size_t nr_maps,
		 const struct kiln_unwind_regs *regs, unwind_read_fn read,
		 void *ctx, uint64_t *pcs, size_t max, size_t *n,
		 struct unwind_walk_stats *st);

/* "complete", "no unwind info", ... for an enum kiln_unwind_end. */
const char *unwind__end_name(int end);

#endif
