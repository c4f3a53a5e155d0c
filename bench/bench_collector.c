// SPDX-License-Identifier: MIT
/*
 * The agent's per-sample path: collector__add (stack interning, the
 * process table lookup) on synthetic samples shaped like a busy 2-CPU
 * machine at 99 Hz: ~2,000 samples per 10 s window, 4,000 distinct stacks
 * of 5-80 user frames (plus 0-10 kernel frames from 48 kernel paths) over
 * 40 processes,
 * popularity Zipf-distributed. Each record is first copied into one
 * buffer (the ring buffer the kernel has just written; the copy is in the
 * time per sample). Windows are flushed into a profile as the agent does,
 * timed separately.
 *
 *   bench_collector [WINDOWS]   default 500 (1,000,000 samples)
 *
 * A quarter of the processes are this one, with user frames in its own
 * executable mappings (so the process table's mapping lookups are real);
 * the others do not exist, so their user frames come out as [unknown].
 * Kernel frames go through /proc/kallsyms.
 */
#include <math.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "profile/profile.h"
#include "profiler/collector.h"
#include "profiler/proc_table.h"
#include "symbolizer/symbolizer.h"

#define STACKS 4000
#define PROCS 40
#define PER_WINDOW 2000
#define FAKE_PID 3900000 /* above any pid_max in use: never scanned */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Executable mappings of this process: where its user frames point. */
static size_t self_text(uint64_t *start, uint64_t *end, size_t max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], perms[8];
	unsigned long long a, b;
	size_t n = 0;

	while (f && n < max && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%llx %7s", &a, &b, perms) == 3 &&
		    perms[2] == 'x' && !strstr(line, "[v")) {
			start[n] = a;
			end[n++] = b;
		}
	if (f)
		fclose(f);
	return n;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long windows = argc > 1 ? atol(argv[1]) : 500;
	struct symbolizer_opts sopts = {0};
	struct collector_opts copts = {.host = "bench"};
	struct kiln_sample *stacks = calloc(STACKS, sizeof(*stacks));
	double *cdf = calloc(STACKS, sizeof(*cdf));
	struct kiln_sample *hot = calloc(1, sizeof(*hot));
	double add_s = 0, flush_s = 0, sum = 0;
	size_t frames = 0;

	if (windows <= 0 || !stacks || !cdf || !hot) {
		fprintf(stderr, "usage: bench_collector [WINDOWS]\n");
		return 2;
	}
	log_level = LOG_WARN;
	struct symbolizer *sym = symbolizer__new(&sopts);
	struct proc_table *procs = sym ? proc_table__new(sym) : NULL;
	struct collector *c = procs ? collector__new(sym, procs, &copts) : NULL;
	if (!c) {
		fprintf(stderr,
			"bench_collector: cannot start the collector\n");
		return 3;
	}

	uint64_t text_lo[64], text_hi[64];
	size_t nr_text = self_text(text_lo, text_hi, 64);

	for (int i = 0; i < STACKS; i++) {
		struct kiln_sample *s = &stacks[i];
		int proc = (int)(rnd() % PROCS);
		bool self = proc < PROCS / 4 && nr_text;

		s->pid = s->tid =
		    self ? (uint32_t)getpid() : FAKE_PID + (uint32_t)proc;
		snprintf(s->comm, sizeof(s->comm), "prog%d", proc);
		s->kstack_len = (int32_t)(rnd() % 11);
		s->ustack_len = 5 + (int32_t)(rnd() % 76);
		s->unwind_end = 1; /* complete */
		/* Kernel stacks come from a few dozen paths (syscall
		 * entries, interrupts, page faults). */
		uint64_t path = rnd() % 48;
		for (int k = 0; k < s->kstack_len; k++)
			s->kstack[k] = 0xffffffff81000000ULL +
				       (path * 7 + (uint64_t)k) * 0x2340;
		/* Stacks of one program share their outer frames. */
		for (int u = 0; u < s->ustack_len; u++) {
			uint64_t r = u > s->ustack_len / 2
					 ? (uint64_t)proc * 7919 + (uint64_t)u
					 : rnd();

			s->ustack[u] =
			    self ? text_lo[r % nr_text] +
				       (r >> 8) % (text_hi[r % nr_text] -
						   text_lo[r % nr_text])
				 : 0x400000ULL + r % 0x200000;
		}
		frames += (size_t)(s->kstack_len + s->ustack_len);
		sum += 1.0 / (i + 1);
		cdf[i] = sum;
	}

	for (long w = 0; w < windows; w++) {
		struct profile *out = profile__new();
		double t0 = cpu_s();

		for (int i = 0; i < PER_WINDOW; i++) {
			double x = (double)(rnd() % 1000000) / 1e6 * sum;
			size_t lo = 0, hi = STACKS - 1;

			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (cdf[mid] < x)
					lo = mid + 1;
				else
					hi = mid;
			}
			/* The kernel has just written the record into the
			 * ring buffer: copy it into one hot buffer. */
			const struct kiln_sample *from = &stacks[lo];
			memcpy(hot, from, offsetof(struct kiln_sample, kstack));
			memcpy(hot->kstack, from->kstack,
			       (size_t)from->kstack_len * 8);
			memcpy(hot->ustack, from->ustack,
			       (size_t)from->ustack_len * 8);
			hot->time_ns =
			    (uint64_t)(w * PER_WINDOW + i) * 5000000ULL;
			collector__add(c, hot);
		}
		double t1 = cpu_s();
		collector__flush(c, out);
		double t2 = cpu_s();
		add_s += t1 - t0;
		flush_s += t2 - t1;
		profile__free(out);
	}
	printf("collector__add: %.0f ns/sample (%ld samples, %.1f frames "
	       "per stack)\n",
	       add_s / (windows * PER_WINDOW) * 1e9, windows * PER_WINDOW,
	       (double)frames / STACKS);
	printf("collector__flush: %.2f ms/window of %d samples\n",
	       flush_s / windows * 1e3, PER_WINDOW);
	collector__free(c);
	proc_table__free(procs);
	symbolizer__free(sym);
	free(stacks);
	free(cdf);
	free(hot);
	return 0;
}
