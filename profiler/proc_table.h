/* SPDX-License-Identifier: MIT */
/*
 * Process tracking: for every process, its name, executable, container and
 * executable mappings, kept current from perf's side-band records (mmap,
 * comm, fork, exit) and a /proc scan at start. A mapping's object is opened
 * in the symbolizer when a sample first lands in it, while the process is
 * alive, so processes that exit and binaries that are deleted still
 * symbolize.
 * Exited processes stay until proc_table__reap(), which the caller runs
 * after their samples are symbolized.
 */
#ifndef KILN_PROC_TABLE_H
#define KILN_PROC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profiler/cgroups.h"
#include "profiler/sampler.h"
#include "symbolizer/symbolizer.h"

struct proc_table;

struct proc_mapping {
	struct sym_mapping map; /* start, end, pgoff, path, build id */
	struct sym_object *obj; /* NULL when the file could not be opened */
	bool anon;		/* anonymous executable memory (JIT) */
	bool tried;		/* opening 'obj' was attempted */
	bool loading;		/* queued in the symbolizer's loader */
	bool named_unread;	/* a frame was named before 'obj' was read */
};

struct proc_info {
	int pid;
	char comm[16];
	char *exe;	    /* path of the executable, or NULL */
	char *build_id;	    /* hex build id of the executable, or NULL */
	char *container;    /* container or cgroup id, or NULL */
	uint64_t cgroup_id; /* its samples' cgroup, 'container' is of */
	bool cgroup_known;  /* 'container' is current */
	bool dead;
	uint64_t samples;    /* since the process was first seen */
	bool pending;	     /* has samples not yet symbolized */
	uint64_t exit_sweep; /* proc_table__sweep() count when it exited */
	/* The mappings and the table's links are private to proc_table.c. */
};

/*
 * Told of every executable mapping a process gains or loses (mmap, exec,
 * fork, exit, /proc scans), for the unwind tables. Called on the thread
 * that feeds the table; 'm' is valid for the call only.
 */
struct proc_table_listener {
	void (*mapping_added)(void *ctx, const struct sym_mapping *m);
	void (*mapping_removed)(void *ctx, const struct sym_mapping *m);
	void *ctx;
};

/* 'sym' is borrowed and must outlive the table. */
struct proc_table *proc_table__new(struct symbolizer *sym);
void proc_table__free(struct proc_table *t);

/* Sets (or with NULL clears) the listener; it must outlive the table or be
 * cleared first. */
void proc_table__set_listener(struct proc_table *t,
			      const struct proc_table_listener *l);

/*
 * Container ids from sampled cgroup ids ('cg' borrowed, outliving the
 * table; NULL: from /proc/PID/cgroup, read once per process).
 */
void proc_table__set_cgroups(struct proc_table *t, struct cgroups *cg);

/* A sample of 'p' ran in cgroup 'id' (kiln_sample.cgroup_id): sets its
 * container when the cgroup is new to it. */
void proc_table__sample_cgroup(struct proc_table *t, struct proc_info *p,
			       uint64_t id);

/* Applies one side-band record. */
void proc_table__handle(struct proc_table *t, const struct task_event *e);

/* Reads /proc/PID/maps for every running process (or just one). */
int proc_table__scan_all(struct proc_table *t);
int proc_table__scan(struct proc_table *t, int pid);

/* The process, created (and scanned from /proc) on first sight. */
struct proc_info *proc_table__get(struct proc_table *t, int pid);
/* The process if known, else NULL. */
struct proc_info *proc_table__find(struct proc_table *t, int pid);

/* The mapping covering 'addr', or NULL. */
const struct proc_mapping *proc_info__lookup(const struct proc_info *p,
					     uint64_t addr);
/*
 * The collector named a frame at 'addr' by its file offset because the
 * file was not read yet (a process's first moments, or a busy loader).
 * When it is read, proc_table__object_loaded() asks for the stored frames
 * of its build id to be named again (cli/renamer.c), so those first
 * windows do not keep names such as 'prog+0x11b6'.
 */
void proc_info__named_unread(struct proc_info *p, uint64_t addr);

/*
 * Requests the objects of the mappings that 'addrs' fall in, once each.
 * Called for every sample while its process is alive, so files are reached
 * through /proc/PID/map_files (deleted files, other mount namespaces) and
 * only the binaries that are actually sampled are ever opened. Never waits
 * on a file: objects not cached are read by the symbolizer's loader and
 * arrive through proc_table__object_loaded().
 */
void proc_table__open_objects(struct proc_table *t, struct proc_info *p,
			      const uint64_t *addrs, size_t n);

/*
 * The symbolizer's loader finished an object that open_objects() queued
 * (a sym_loaded_fn; ctx is the table): the mapping takes the reference,
 * or the object is put back when the mapping is gone.
 */
void proc_table__object_loaded(void *ctx, const struct sym_mapping *map,
			       struct sym_object *obj);

/*
 * One policy, three moments to apply it: a process is freed once it has
 * exited (or is gone) and none of its samples waits for symbolization,
 * because symbolizing needs its mappings. Which of its samples still wait
 * is known at three different times, hence three calls rather than one:
 *  - reap: right after a flush symbolized everything pending (clears the
 *    'pending' flags, then prunes);
 *  - sweep: after every full drain of the ring buffer, for exits seen
 *    before the previous drain (their last samples have arrived since);
 *  - prune: every few seconds, for processes whose exit record was lost
 *    (kill(pid, 0) says ESRCH).
 */

/*
 * Clears every 'pending' flag and prunes: call it right after the pending
 * samples were symbolized. Returns how many processes were freed.
 */
size_t proc_table__reap(struct proc_table *t);
/*
 * Frees every process with no pending samples that exited or is gone
 * (kill(pid, 0) says ESRCH). Returns how many.
 */
size_t proc_table__prune(struct proc_table *t);

/*
 * Frees exited processes that have no pending samples and exited before
 * the previous sweep. Call it after every full drain of the sample buffer.
 */
void proc_table__sweep(struct proc_table *t);

size_t proc_table__count(const struct proc_table *t);

#endif
