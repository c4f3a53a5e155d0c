/* SPDX-License-Identifier: MIT */
/*
 * The collector turns raw BPF samples into profile samples. Samples are
 * gathered raw (pid + addresses), identical stacks merged, and each
 * distinct raw stack symbolized once per flush: at the end of `kiln
 * record`, or at the end of each agent window.
 *
 * Every loss is made visible as a placeholder frame ([lost user stack],
 * [lost kernel stack], [truncated], [lost: ring buffer full]) so profile
 * totals never shrink silently.
 */
#ifndef KILN_COLLECTOR_H
#define KILN_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "profiler/proc_table.h"
#include "profile/profile.h"
#include "profiler/sampler.h"
#include "symbolizer/symbolizer.h"

struct collector;

struct collector_opts {
	const char *host;	     /* host label; NULL leaves it out */
	uint64_t clock_offset;	     /* monotonic -> unix ns (sampler) */
	uint64_t time_resolution_ns; /* sample times are rounded down to it */
	/* Called every ~20 ms while a flush symbolizes, so the caller can
	 * drain the ring buffer (collector__add is allowed meanwhile: new
	 * samples go to the next flush). NULL: none. */
	void (*drain)(void *ctx);
	void *drain_ctx;
};

struct collector *collector__new(struct symbolizer *sym,
				 struct proc_table *procs,
				 const struct collector_opts *opts);
void collector__free(struct collector *c);

/*
 * Records one sample (the process table must have seen its task events).
 * Returns true when it is the first sample of its process.
 */
bool collector__add(struct collector *c, const struct kiln_sample *s);

/* Records 'count' samples lost before they reached user space. */
void collector__add_lost(struct collector *c, const char *reason,
			 uint64_t count, uint64_t time_ns);

/*
 * Asks the symbolizer for the objects of every mapping the gathered stacks
 * touch and it was not asked for yet (see proc_table__open_objects). Call
 * it before collector__flush, then collect what the loader finished.
 */
void collector__request_objects(struct collector *c);

/*
 * Symbolizes everything gathered since the last flush into 'out' (which
 * may already hold samples) and starts over. Returns the samples added.
 */
uint64_t collector__flush(struct collector *c, struct profile *out);

/* Samples gathered since the last flush. */
uint64_t collector__pending(const struct collector *c);

/* Bytes of the collector's arrays and hash sets (the window being filled
 * and the spare one it reuses), for /metrics. */
size_t collector__mem_bytes(const struct collector *c);

#endif
