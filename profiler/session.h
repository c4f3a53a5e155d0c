/* SPDX-License-Identifier: MIT */
/*
 * A sampling session: the sampler, process table, symbolizer and collector
 * wired together. `kiln record` runs one and flushes once at the end;
 * `kiln agent` flushes once per window. Same pipeline, either way.
 */
#ifndef KILN_SESSION_H
#define KILN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"
#include "profiler/sampler.h"
#include "symbolizer/symbolizer.h"
#include "symbolizer/debuginfod.h"
#include "profiler/unwinder.h"

struct session;

struct session_opts {
	unsigned int frequency;
	const int *pids;
	size_t nr_pids;
	bool kernel_stacks, user_stacks;
	bool include_idle;
	const char *host; /* host label, NULL for none */
	/* The symbolizer's object cache ceiling; 0 picks its default. */
	uint64_t symbol_cache_bytes;
	/* How long a flush waits for objects still being read, draining the
	 * ring buffer meanwhile (0: not at all); frames of objects not read
	 * by then are written as module+0xoffset. */
	int flush_wait_ms;
	struct dbgd_opts debuginfod; /* urls NULL: no debuginfod */
	/* User stacks: enum kiln_unwind_mode (CFI tables, the default, or
	 * frame pointers only). */
	unsigned int unwind_mode;
	/* Ceiling for the unwind tables' kernel memory; 0 picks a default
	 * sized from the host's memory. */
	uint64_t unwind_memory;
};

struct session_stats {
	struct sampler_stats sampler;
	uint64_t samples_collected; /* delivered to user space, total */
	uint64_t lost;		    /* every sample lost, any cause */
	uint64_t processes_seen;    /* distinct processes with samples */
	uint64_t processes_tracked; /* in the process table now */
	uint64_t sym_hits, sym_misses, objects_open;
	struct symbolizer_stats sym;  /* everything the symbolizer counts */
	struct unwinder_stats unwind; /* zero in frame-pointer mode */
	uint64_t collector_bytes;     /* the collector's window arrays */
	uint64_t cgroups_held;	      /* cgroup id -> container cache */
};

/* Starts sampling. NULL with errno set (the reason already printed). */
struct session *session__new(const struct session_opts *opts);
void session__free(struct session *s);

/* Delivers what the kernel has; waits up to timeout_ms. */
int session__poll(struct session *s, int timeout_ms);

/*
 * Symbolizes everything since the last flush into 'out', including
 * placeholder samples for losses, then forgets exited processes. Returns
 * the number of samples added.
 */
uint64_t session__flush(struct session *s, struct profile *out);

/* Takes in the objects the loader finished, waiting up to wait_ms for
 * those still being read: their build ids are then queued for naming the
 * frames stored by offset again (symbolizer__take_improved). */
void session__collect_loads(struct session *s, int wait_ms);

void session__stats(struct session *s, struct session_stats *out);

/* The session's symbolizer, for the thread that polls and flushes (it is
 * not thread safe): naming stored frames again when debug info arrives. */
struct symbolizer *session__symbolizer(struct session *s);

#endif
