// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kiln's sampler: runs on every cpu-clock perf event and streams one record
 * per sample (pid, tid, cpu, comm, time, kernel and user stacks) through a
 * ring buffer. Stacks are copied into the record rather than interned in a
 * STACK_TRACE map: no hash collisions can lose stacks, and every loss that
 * remains (ring buffer full, unreadable stack) is counted in 'stats'.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "profile.h"

#define PF_KTHREAD 0x00200000

const volatile bool filter_pids = false;
const volatile bool want_kernel = true;
const volatile bool want_user = true;
const volatile bool include_idle = false;
/* Wake the reader only when this much is waiting: it polls on a timer
 * anyway, and a wakeup per sample would cost more than the sampling. */
const volatile __u64 wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the sampler before load */
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KILN_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Processes to sample when filter_pids is set; children join on fork. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

/* Unused by the programs: the sampler opens mmap/comm/exit tracking events
 * into it with perf_buffer__new_raw(). */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} task_events SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);

	if (v)
		*v += 1;
}

SEC("perf_event")
int sample_stack(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	struct task_struct *task;
	struct kiln_sample *s;
	long len;

	count(KILN_STAT_SAMPLES);
	if ((!include_idle && tid == 0) ||
	    (filter_pids && !bpf_map_lookup_elem(&pids, &pid))) {
		count(KILN_STAT_FILTERED);
		return 0;
	}
	s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
	if (!s) {
		count(KILN_STAT_RINGBUF_FULL);
		return 0;
	}
	task = (struct task_struct *)bpf_get_current_task();
	s->time_ns = bpf_ktime_get_ns();
	s->pid = pid;
	s->tid = tid;
	s->cpu = bpf_get_smp_processor_id();
	s->flags = 0;
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		s->flags |= KILN_SAMPLE_KTHREAD;
	bpf_get_current_comm(s->comm, sizeof(s->comm));

	s->kstack_len = 0;
	if (want_kernel) {
		len = bpf_get_stack(ctx, s->kstack, sizeof(s->kstack), 0);
		if (len < 0) {
			/* -EFAULT: interrupted in user mode, no kernel part. */
			if (len != -14)
				count(KILN_STAT_KSTACK_ERROR);
			s->kstack_len = len;
		} else {
			s->kstack_len = len / 8;
			if (s->kstack_len == KILN_MAX_STACK)
				count(KILN_STAT_KSTACK_TRUNCATED);
		}
	}
	s->ustack_len = 0;
	if (want_user && !(s->flags & KILN_SAMPLE_KTHREAD)) {
		len = bpf_get_stack(ctx, s->ustack, sizeof(s->ustack),
				    BPF_F_USER_STACK);
		if (len < 0) {
			count(KILN_STAT_USTACK_ERROR);
			s->ustack_len = len;
		} else {
			s->ustack_len = len / 8;
			if (s->ustack_len == KILN_MAX_STACK)
				count(KILN_STAT_USTACK_TRUNCATED);
		}
	}
	bpf_ringbuf_submit(s, bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) >=
				      wakeup_bytes
				  ? BPF_RB_FORCE_WAKEUP
				  : BPF_RB_NO_WAKEUP);
	return 0;
}

/* With --pid, children of sampled processes are sampled too. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(track_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ppid, cpid;
	__u8 one = 1;

	if (!filter_pids)
		return 0;
	ppid = BPF_CORE_READ(parent, tgid);
	cpid = BPF_CORE_READ(child, tgid);
	if (ppid != cpid && bpf_map_lookup_elem(&pids, &ppid) &&
	    bpf_map_update_elem(&pids, &cpid, &one, BPF_ANY))
		count(KILN_STAT_PIDS_FULL);
	return 0;
}

/* A process leaves the set when its last thread exits, so the map holds
 * live processes only and pids reused later are not sampled by mistake. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(track_exit, struct task_struct *task)
{
	__u32 pid;

	if (!filter_pids || BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	pid = BPF_CORE_READ(task, tgid);
	bpf_map_delete_elem(&pids, &pid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
