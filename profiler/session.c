// SPDX-License-Identifier: MIT
#include "profiler/session.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>

#include "profiler/collector.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "profiler/proc_table.h"
#include "symbolizer/symbolizer.h"

struct session {
	struct symbolizer *sym;
	struct proc_table *procs;
	struct cgroups *cgroups;
	struct collector *collector;
	struct sampler *sampler;
	struct unwinder *unwinder;
	uint64_t clock_offset;
	uint64_t collected;
	uint64_t processes_seen;
	uint64_t lost_reported; /* ring buffer losses already in a profile */
	time_t next_prune_s;	/* when to drop processes that are gone */
	int flush_wait_ms;
	bool may_drain; /* during a flush's first pass */
};

static void on_sample(const struct kiln_sample *sample, void *ctx)
{
	struct session *s = ctx;

	if (sample->unwind_missing && s->unwinder)
		unwinder__demand(s->unwinder, sample->unwind_missing - 1);
	if (collector__add(s->collector, sample))
		s->processes_seen++;
	s->collected++;
}

static void on_mapping_added(void *ctx, const struct sym_mapping *m)
{
	struct session *s = ctx;

	/* With --pid, only the sampled processes need tables. */
	if (sampler__pid_sampled(s->sampler, m->pid))
		unwinder__mapping_added(s->unwinder, m);
}

static void on_mapping_removed(void *ctx, const struct sym_mapping *m)
{
	struct session *s = ctx;

	unwinder__mapping_removed(s->unwinder, m);
}

/*
 * Rows of unwind table the kernel may hold: the ceiling asked for, else
 * 1/128 of the host's memory up to 64 MiB (this machine's whole running
 * system, browsers, node and a ClickHouse server included, needed about
 * 40 MiB).
 */
static uint32_t unwind_rows(uint64_t ceiling)
{
	struct sysinfo si;
	uint64_t bytes = ceiling;

	if (!bytes) {
		bytes = 64ULL << 20;
		if (!sysinfo(&si) &&
		    (uint64_t)si.totalram * si.mem_unit / 128 < bytes)
			bytes = (uint64_t)si.totalram * si.mem_unit / 128;
	}
	bytes /= sizeof(struct kiln_unwind_row);
	if (bytes < 1024)
		bytes = 1024;
	return bytes > (1u << 30) ? 1u << 30 : (uint32_t)bytes;
}

static void on_task(const struct task_event *e, void *ctx)
{
	struct session *s = ctx;

	proc_table__handle(s->procs, e);
}

/* During a long flush: samples keep flowing into the next batch. */
static void drain(void *ctx)
{
	struct session *s = ctx;

	if (s->may_drain)
		sampler__poll(s->sampler, 0);
}

struct session *session__new(const struct session_opts *opts)
{
	struct session *s = calloc(1, sizeof(*s));
	struct symbolizer_opts sym_opts = {0};
	struct sampler_opts sopts = {
	    .frequency = opts->frequency,
	    .pids = opts->pids,
	    .nr_pids = opts->nr_pids,
	    .kernel_stacks = opts->kernel_stacks,
	    .user_stacks = opts->user_stacks,
	    .include_idle = opts->include_idle,
	    .unwind_mode = opts->unwind_mode,
	    .unwind_rows = unwind_rows(opts->unwind_memory),
	};
	struct sampler_callbacks cb = {on_sample, on_task, NULL};
	int err;

	if (!s)
		return NULL;
	/*
	 * A fixed mmap threshold: large buffers (decompressed debug sections,
	 * symbol tables) come and go as the symbolizer's cache turns over;
	 * mapped, they go back to the kernel when freed. glibc's default
	 * raises the threshold after such frees, and the heap then keeps
	 * them as fragments.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	cb.ctx = s;
	s->clock_offset = sampler__clock_offset();
	sym_opts.max_cache_bytes = opts->symbol_cache_bytes;
	s->flush_wait_ms = opts->flush_wait_ms;
	sym_opts.debuginfod = opts->debuginfod;
	s->sym = symbolizer__new(&sym_opts);
	if (!s->sym) {
		err = -errno;
		pr_err("failed to start the symbolizer: %s", strerror(-err));
		goto err_free;
	}
	s->cgroups = cgroups__new();
	s->procs = s->cgroups ? proc_table__new(s->sym) : NULL;
	if (s->procs) {
		proc_table__set_cgroups(s->procs, s->cgroups);
		sopts.cgroup_v1_controller = cgroups__v1_controller(s->cgroups);
	}
	struct collector_opts copts = {.host = opts->host,
				       .clock_offset = s->clock_offset,
				       .drain = drain,
				       .drain_ctx = s};
	s->collector =
	    s->procs ? collector__new(s->sym, s->procs, &copts) : NULL;
	if (!s->collector) {
		err = -ENOMEM;
		goto err_free;
	}
	/* Task events start before the /proc scan, so nothing falls between. */
	s->sampler = sampler__new(&sopts, &cb);
	if (!s->sampler) {
		err = -errno;
		goto err_free;
	}
	if (opts->unwind_mode == KILN_UNWIND_MODE_CFI) {
		struct sampler_unwind_maps maps;
		struct proc_table_listener l = {on_mapping_added,
						on_mapping_removed, NULL};

		err = sampler__unwind_maps(s->sampler, &maps);
		s->unwinder = err ? NULL : unwinder__new(&maps);
		if (!s->unwinder) {
			err = err ? err : -errno;
			pr_err("failed to start the unwinder: %s",
			       strerror(-err));
			goto err_free;
		}
		l.ctx = s;
		proc_table__set_listener(s->procs, &l);
	}
	if (opts->nr_pids)
		for (size_t i = 0; i < opts->nr_pids; i++)
			proc_table__scan(s->procs, opts->pids[i]);
	else
		proc_table__scan_all(s->procs);
	/* Give the builder a moment, so the first samples of the processes
	 * already running find their tables; it goes on in the background. */
	if (s->unwinder)
		unwinder__wait_idle(s->unwinder, 1000);
	err = sampler__start(s->sampler);
	if (err)
		goto err_free;
	return s;

err_free:
	session__free(s);
	errno = -err;
	return NULL;
}

void session__free(struct session *s)
{
	if (!s)
		return;
	if (s->procs)
		proc_table__set_listener(s->procs, NULL);
	unwinder__free(s->unwinder);
	sampler__free(s->sampler);
	collector__free(s->collector);
	proc_table__free(s->procs);
	cgroups__free(s->cgroups);
	symbolizer__free(s->sym);
	free(s);
}

int session__poll(struct session *s, int timeout_ms)
{
	int err = sampler__poll(s->sampler, timeout_ms);
	struct timespec now;

	/* Objects the loader finished: later samples resolve with them. */
	symbolizer__object_collect(s->sym, 0, proc_table__object_loaded,
				   s->procs);
	proc_table__sweep(s->procs);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec >= s->next_prune_s) {
		proc_table__prune(s->procs);
		s->next_prune_s = now.tv_sec + 5;
	}
	return err;
}

/* Up to flush_wait_ms for the objects being read, draining the ring
 * buffer meanwhile: a slow or hostile file delays a window by that much at
 * most, and loses no sample. */
static void wait_for_loads(struct session *s)
{
	struct symbolizer_stats st;
	struct timespec t0, t;
	double waited;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		symbolizer__object_collect(s->sym, 0, proc_table__object_loaded,
					   s->procs);
		symbolizer__stats(s->sym, &st);
		clock_gettime(CLOCK_MONOTONIC, &t);
		waited = (t.tv_sec - t0.tv_sec) * 1e3 +
			 (t.tv_nsec - t0.tv_nsec) / 1e6;
		if (!st.loads_queued || waited >= s->flush_wait_ms)
			return;
		sampler__poll(s->sampler, 5);
	}
}

uint64_t session__flush(struct session *s, struct profile *out)
{
	struct sampler_stats st;
	uint64_t added;

	/* Drain what is already in the buffers so the window is complete. */
	sampler__poll(s->sampler, 0);
	if (!sampler__stats(s->sampler, &st) &&
	    st.ringbuf_full > s->lost_reported) {
		collector__add_lost(s->collector, "ring buffer full",
				    st.ringbuf_full - s->lost_reported,
				    clock__unix_ns());
		s->lost_reported = st.ringbuf_full;
	}
	/* Objects not read yet are asked for; a flush waits a bounded time
	 * for them, then writes their frames as module+0xoffset. */
	collector__request_objects(s->collector);
	wait_for_loads(s);
	s->may_drain = true;
	added = collector__flush(s->collector, out);
	s->may_drain = false;
	/* What the drain brought in belongs to this flush too (record has
	 * no next one); their objects were asked for as they came. */
	if (collector__pending(s->collector))
		added += collector__flush(s->collector, out);
	symbolizer__trim(s->sym);
	/* Give back what the window's symbolization freed, in every malloc
	 * arena (the loader thread has its own). */
	malloc_trim(0);
	proc_table__reap(s->procs);
	return added;
}

void session__collect_loads(struct session *s, int wait_ms)
{
	symbolizer__object_collect(s->sym, wait_ms, proc_table__object_loaded,
				   s->procs);
}

struct symbolizer *session__symbolizer(struct session *s)
{
	return s->sym;
}

void session__stats(struct session *s, struct session_stats *out)
{
	struct symbolizer_stats sym;

	*out = (struct session_stats){0};
	sampler__stats(s->sampler, &out->sampler);
	symbolizer__stats(s->sym, &sym);
	out->samples_collected = s->collected;
	out->lost = out->sampler.ringbuf_full + out->sampler.bad_records +
		    out->sampler.kstack_errors + out->sampler.ustack_errors;
	out->processes_seen = s->processes_seen;
	out->processes_tracked = proc_table__count(s->procs);
	out->sym_hits = sym.hits;
	out->sym_misses = sym.misses;
	out->objects_open = sym.objects_open;
	out->sym = sym;
	if (s->unwinder)
		unwinder__stats(s->unwinder, &out->unwind);
	out->collector_bytes = collector__mem_bytes(s->collector);
	if (s->cgroups) {
		uint64_t resolved;

		cgroups__stats(s->cgroups, &out->cgroups_held, &resolved);
	}
}
