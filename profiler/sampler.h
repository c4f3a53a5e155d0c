/* SPDX-License-Identifier: MIT */
/*
 * The sampler: loads bpf/profile.bpf.c, opens one cpu-clock perf event per
 * online CPU in frequency mode, and delivers two streams to callbacks:
 * stack samples (through a BPF ring buffer) and task events (mmap, comm,
 * fork, exit: perf's side-band records on a dummy event per CPU), which
 * keep the process table current while processes are alive.
 *
 * The only file that includes the BPF skeleton and libbpf.
 */
#ifndef KILN_SAMPLER_H
#define KILN_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "bpf/profile.h"

struct sampler;

enum task_event_type {
	TASK_MMAP,
	TASK_COMM, /* exec when 'exec' is set */
	TASK_FORK,
	TASK_EXIT,
};

struct task_event {
	enum task_event_type type;
	uint32_t pid, tid;
	uint32_t ppid, ptid; /* FORK, EXIT */
	bool exec;	     /* COMM caused by exec */
	const char *comm;    /* COMM */
	/* MMAP: an executable mapping. */
	uint64_t addr, len, pgoff;
	const char *filename;
	const uint8_t *build_id; /* NULL when the kernel sent dev/inode */
	size_t build_id_len;
	uint64_t dev, ino;
};

struct sampler_callbacks {
	void (*sample)(const struct kiln_sample *s, void *ctx);
	void (*task)(const struct task_event *e, void *ctx);
	void *ctx;
};

struct sampler_opts {
	unsigned int frequency; /* Hz */
	const int *pids; /* sample only these (and children); NULL: all */
	size_t nr_pids;
	bool kernel_stacks;
	bool user_stacks;
	bool include_idle;    /* sample the idle task (pid 0) too */
	size_t ringbuf_bytes; /* 0 picks a default */
	/* User stacks: enum kiln_unwind_mode (CFI tables by default). */
	unsigned int unwind_mode;
	/* Capacity of the unwind maps (CFI mode); 0 picks a default. */
	uint32_t unwind_rows, unwind_objects;
	/* Record cgroup ids of this v1 hierarchy (cgroups__v1_controller());
	 * 0: cgroup v2's. */
	unsigned int cgroup_v1_controller;
};

/*
 * Checks privileges and kernel support, loads the BPF program and starts
 * the task events. Returns NULL with errno set after printing one line that
 * says what to do (-EPERM: not root / no CAP_BPF+CAP_PERFMON; -ENOENT: no
 * BTF).
 */
struct sampler *sampler__new(const struct sampler_opts *opts,
			     const struct sampler_callbacks *cb);

/*
 * Starts sampling on every CPU. Separate from sampler__new() so the caller
 * can read /proc between the two: task events already flow, and no sample
 * waits in the ring buffer while the scan runs. Returns 0 or -errno (the
 * reason printed).
 */
int sampler__start(struct sampler *s);
void sampler__free(struct sampler *s);

/* Waits up to timeout_ms for data and delivers it. Returns 0 or -errno. */
int sampler__poll(struct sampler *s, int timeout_ms);

struct sampler_stats {
	uint64_t samples; /* events that reached the program */
	uint64_t filtered;
	uint64_t ringbuf_full;	/* lost */
	uint64_t kstack_errors; /* lost kernel stacks */
	uint64_t ustack_errors; /* lost user stacks */
	uint64_t kstack_truncated;
	uint64_t ustack_truncated;
	uint64_t task_events_lost; /* side-band records lost */
	uint64_t pids_full;	   /* --pid children not followed: map full */
	/* User stack walks by how they ended (enum kiln_unwind_end). */
	uint64_t unwind_end[KILN_UNWIND_END_MAX];
	uint64_t cfi_frames, fp_frames; /* user frames, by method */
	/* Records read from the ring buffer, the bytes they took there, and
	 * those dropped because their size and lengths disagree. */
	uint64_t records, record_bytes, bad_records;
};
int sampler__stats(struct sampler *s, struct sampler_stats *out);

/*
 * The unwind maps (CFI mode), for profiler/unwinder.c to fill: the row
 * array's fd (an array of maps: nr_rows slots in chunks of
 * KILN_UNWIND_CHUNK_ROWS, each an array map that the unwinder makes and
 * puts in place when a table first needs it), the object array
 * mapped into this process (writes are seen by the BPF program at once),
 * the files map's fd and the fd of the files the walk met unnamed. Valid
 * until sampler__free().
 * Returns 0, or -ENOENT in frame-pointer mode.
 */
struct sampler_unwind_maps {
	int rows_fd;
	uint32_t nr_rows;
	struct kiln_unwind_object *objects;
	uint32_t nr_objects;
	int files_fd;	/* (dev, inode) -> object */
	int unknown_fd; /* (dev, inode) -> where the walk met it */
};
int sampler__unwind_maps(struct sampler *s, struct sampler_unwind_maps *out);

/*
 * Checks a ring-buffer record (bpf/profile.h: the head of a kiln_sample,
 * then exactly the frames its lengths say) and copies it into 'out'.
 * Returns 0, or -EINVAL for a record too short, with a length out of range,
 * or whose size is not what its lengths say; nothing is read past 'size'.
 */
int sampler__unpack(const void *data, size_t size, struct kiln_sample *out);

/* With a pid filter: whether 'pid' is sampled (in the set, or a child
 * that joined it). Without one: always true. */
bool sampler__pid_sampled(struct sampler *s, int pid);

/* Offset to add to a sample's CLOCK_MONOTONIC time to get unix ns. */
uint64_t sampler__clock_offset(void);

#endif
