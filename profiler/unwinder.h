/* SPDX-License-Identifier: MIT */
/*
 * Feeds the BPF walker's unwind maps. The walk finds each address's vma in
 * the kernel and its file's object in 'unwind_files', so this writes per
 * mapped FILE, never per process: the first mapping of a file (told by the
 * process table) queues it for a builder thread, which opens it, reads its
 * build id and load bias, finds its object (keyed by build id, so a
 * library mapped by a thousand processes is one table), names the file
 * in unwind_files, and reads the object's CFI (profiler/unwind_table.c)
 * into the row array. Later mappings of that file cost a hash lookup and
 * a reference, no system call; nothing of this runs on the caller's
 * (sampling) thread. Files the walk meets before user space does (lost
 * records, a copy under another inode) come back through 'unwind_unknown'.
 *
 * References: a file counts the live mappings of it; an object counts the
 * live mappings of all the files found to hold it. Only objects at 0 are
 * evicted.
 *
 * The row array has a fixed size (--unwind-memory); when a table does not
 * fit, tables of objects no live process maps are evicted, oldest first;
 * if it still does not fit, the object is marked "unwind memory full" and
 * its frames say so.
 */
#ifndef KILN_UNWINDER_H
#define KILN_UNWINDER_H

#include <stddef.h>
#include <stdint.h>

#include "profiler/sampler.h"
#include "symbolizer/symbolizer.h"

struct unwinder;

/* 'maps' stay owned by the sampler, which must outlive the unwinder. */
struct unwinder *unwinder__new(const struct sampler_unwind_maps *maps);
void unwinder__free(struct unwinder *u);

/* A process mapped (or lost) an executable range. */
void unwinder__mapping_added(struct unwinder *u, const struct sym_mapping *m);
void unwinder__mapping_removed(struct unwinder *u, const struct sym_mapping *m);

/*
 * A sample's walk found object 'id' (kiln_sample.unwind_missing - 1)
 * without its table: build it before the others waiting.
 */
void unwinder__demand(struct unwinder *u, uint32_t id);

/* Waits until the build queue is empty (tests, benchmarks); 0 or
 * -ETIMEDOUT. */
int unwinder__wait_idle(struct unwinder *u, int timeout_ms);

struct unwinder_stats {
	uint64_t objects;	/* known objects */
	uint64_t tables_loaded; /* objects whose rows are in the map now */
	uint64_t no_cfi;	/* objects without CFI (frame pointers) */
	uint64_t no_room;	/* objects refused: unwind memory full */
	uint64_t build_errors;	/* objects whose CFI could not be read */
	uint64_t evicted;	/* tables evicted to make room */
	uint64_t queued;	/* waiting for the builder */
	uint64_t rows_used, rows_capacity;
	uint64_t unsupported_rows; /* CFI rows kiln cannot express */
	uint64_t build_ns;	   /* builder thread time spent building */
	uint64_t mappings;	   /* executable mappings of live processes */
	uint64_t files;		   /* files known (by inode or build id) */
	uint64_t files_full;	   /* files left out: the files map full */
	uint64_t files_evicted;	   /* files forgotten to make room */
	uint64_t unknown_files;	   /* files the walk met before user space */
	uint64_t open_errors;	   /* files that could not be opened */
	uint64_t objects_full;	   /* files left out: object array full */
	uint64_t demanded;	   /* builds moved ahead because samples hit */
};
void unwinder__stats(struct unwinder *u, struct unwinder_stats *out);

#endif
