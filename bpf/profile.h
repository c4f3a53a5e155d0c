/* SPDX-License-Identifier: MIT */
/*
 * Types shared by the BPF program (bpf/profile.bpf.c) and the sampler
 * (profiler/sampler.c). Written once, with explicit padding, __u types only.
 */
#ifndef KILN_BPF_PROFILE_H
#define KILN_BPF_PROFILE_H

#include "unwind.h"

/* kernel.perf_event_max_stack defaults to 127. */
#define KILN_MAX_STACK KILN_UNWIND_MAX_FRAMES
#define KILN_COMM_LEN 16
/* Per-CPU histogram of the program's time per kept sample: bucket i holds
 * the samples that took [i, i + 1) * KILN_SAMPLE_NS_STEP ns, the last one
 * everything longer. */
#define KILN_SAMPLE_NS_BUCKETS 128
#define KILN_SAMPLE_NS_STEP 250

/* Per-CPU counters, indexes into the 'stats' map. */
enum kiln_stat {
	KILN_STAT_SAMPLES = 0,	    /* perf events that reached the program */
	KILN_STAT_FILTERED,	    /* not in --pid set, or idle */
	KILN_STAT_RINGBUF_FULL,	    /* lost: no room in the ring buffer */
	KILN_STAT_KSTACK_ERROR,	    /* lost: kernel stack could not be read */
	KILN_STAT_USTACK_ERROR,	    /* lost: user stack could not be read */
	KILN_STAT_KSTACK_TRUNCATED, /* kept, but deeper than KILN_MAX_STACK */
	KILN_STAT_USTACK_TRUNCATED,
	KILN_STAT_PIDS_FULL, /* --pid: a child not added, the pids map full */
	/* How user stacks ended: KILN_STAT_UNWIND_END + enum kiln_unwind_end */
	KILN_STAT_UNWIND_END,
	KILN_STAT_CFI_FRAMES = KILN_STAT_UNWIND_END + KILN_UNWIND_END_MAX,
	KILN_STAT_FP_FRAMES, /* frames walked by frame pointer (no CFI) */
	/* Where the walk's time goes (bench/unwind.sh reads them). */
	KILN_STAT_MAP_LOOKUPS,	/* unused (was: mapping trie lookups) */
	KILN_STAT_FIND_VMA,	/* vma lookups (the kernel's vma tree) */
	KILN_STAT_SEARCH_STEPS, /* row search steps */
	KILN_STAT_MAX,
};

enum kiln_unwind_mode {
	KILN_UNWIND_MODE_CFI = 0, /* CFI tables, frame pointers where none */
	KILN_UNWIND_MODE_FP,	  /* bpf_get_stack's frame-pointer walk only */
};

enum kiln_sample_flags {
	KILN_SAMPLE_KTHREAD = 1 << 0, /* a kernel thread: no user stack */
};

struct kiln_sample {
	__u64 time_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u32 pid;     /* thread group id */
	__u32 tid;
	__u32 cpu;
	__u32 flags;	  /* enum kiln_sample_flags */
	__s32 kstack_len; /* frames, or -errno from bpf_get_stack */
	__s32 ustack_len;
	__u32 unwind_end; /* enum kiln_unwind_end: why the user walk stopped */
	__u16 cfi_frames; /* user frames walked with CFI rows */
	__u16 fp_frames;  /* user frames walked by frame pointer */
	/* 1 + the object whose table was missing (not built yet, or no
	 * room), so user space can build it first; 0: none. */
	__u32 unwind_missing;
	__u32 pad;
	/* The task's cgroup (a kernfs node id): in cgroup v2's hierarchy, or
	 * in the v1 hierarchy the sampler chose (profiler/cgroups.h). */
	__u64 cgroup_id;
	char comm[KILN_COMM_LEN];
	union {
		/* As the callbacks see it (profiler/sampler.h). */
		struct {
			__u64 kstack[KILN_MAX_STACK];
			__u64 ustack[KILN_MAX_STACK];
		};
		/* As the ring buffer carries it: only the frames the lengths
		 * say, the kernel's then the user's, right after the head. */
		__u64 frames[2 * KILN_MAX_STACK];
	};
};

/*
 * A ring-buffer record is the head of a struct kiln_sample (everything
 * before its frames) followed by exactly kiln_sample_frames(kstack_len) +
 * kiln_sample_frames(ustack_len) frames: the program builds the whole
 * struct in a per-CPU scratch map and sends only that much (a 10-frame
 * stack moves 152 bytes instead of 2,104). The sampler checks each record
 * against its lengths and unpacks it into a whole struct kiln_sample.
 */
#define KILN_SAMPLE_HEAD_SIZE 72
_Static_assert(__builtin_offsetof(struct kiln_sample, frames) ==
		   KILN_SAMPLE_HEAD_SIZE,
	       "the record's head is everything before the frames");
/* Frames a length stands for: a negative length is an -errno, no frames. */
#define kiln_sample_frames(len)                                                \
	((len) > 0 ? ((len) < KILN_MAX_STACK ? (__u32)(len) : KILN_MAX_STACK)  \
		   : 0)

#endif
