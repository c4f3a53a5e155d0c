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
#include <bpf/bpf_endian.h>

/* The walk's step code (bpf/unwind.h) reads user memory through this. */
#define KILN_UNWIND_READ(ctx, addr, dst)                                       \
	bpf_probe_read_user((dst), 8, (const void *)(addr))

#include "profile.h"

#define PF_KTHREAD 0x00200000

const volatile bool filter_pids = false;
const volatile bool want_kernel = true;
const volatile bool want_user = true;
const volatile bool include_idle = false;
/* Wake the reader only when this much is waiting: it polls on a timer
 * anyway, and a wakeup per sample would cost more than the sampling. */
const volatile __u64 wakeup_bytes = 1 << 20;
/* The ring buffer's size: with less room than a bare record, a sample is
 * counted lost before its stacks are walked for nothing. */
const volatile __u64 ring_bytes = 4 << 20;
/* enum kiln_unwind_mode */
const volatile __u32 unwind_mode = KILN_UNWIND_MODE_CFI;
/* 0: cgroup ids from cgroup v2; else 1 + the v1 controller (kernel ssid)
 * whose hierarchy's ids to record. */
const volatile __u32 cgroup_v1_controller = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the sampler before load */
} samples SEC(".maps");

/* Where a sample is built before only its used part goes to 'samples'. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kiln_sample);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KILN_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KILN_SAMPLE_NS_BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} sample_ns SEC(".maps");

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

/*
 * Unwind tables (profiler/unwinder.c fills them): every object's rows, one
 * sorted run per object, in one row array cut into chunks (bpf/unwind.h:
 * KILN_UNWIND_CHUNK_ROWS) that user space makes as it needs them; where
 * each object's run is; and per mapped file (not per process), which
 * object it holds. The walk finds an address's mapping in the kernel's own
 * vma tree.
 */
struct unwind_chunk {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KILN_UNWIND_CHUNK_ROWS);
	/* Sizes, not types: the row type would be only a forward declaration
	 * in this inner map's BTF, which libbpf cannot size. */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct kiln_unwind_row));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* sized by the sampler before load */
	__type(key, __u32);
	__array(values, struct unwind_chunk);
} unwind_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* sized by the sampler before load */
	__type(key, __u32);
	__type(value, struct kiln_unwind_object);
} unwind_objects SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* sized by the sampler before load */
	__type(key, struct kiln_unwind_file_key);
	__type(value, struct kiln_unwind_file_value);
} unwind_files SEC(".maps");

/* Files the walk met that unwind_files does not name yet (a process whose
 * mmap records user space has not read, a copy of a known file under
 * another inode): user space reads them from here. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KILN_UNWIND_UNKNOWN_FILES);
	__type(key, struct kiln_unwind_file_key);
	__type(value, struct kiln_unwind_unknown);
} unwind_unknown SEC(".maps");

/*
 * The walk's output, KILN_UNWIND_PCS_PER_CPU slots per CPU, copied into the
 * sample when it ends. Written through map lookups keyed by the frame
 * number rather than indexed: an index would be tracked precisely by the
 * verifier, which then could not prune the walk's loop and would verify
 * every one of its 127 iterations.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries,
	       KILN_UNWIND_PCS_PER_CPU); /* x CPUs, by the sampler */
	__type(key, __u32);
	__type(value, __u64);
} unwind_pcs SEC(".maps");

/*
 * A frame count in [0, KILN_MAX_STACK] the verifier can see is one: a
 * compare alone is not enough, as the compiler may test a copy and go on
 * with the original. KILN_MAX_STACK is 2^k - 1, so the mask changes no
 * value in range.
 */
_Static_assert((KILN_MAX_STACK & (KILN_MAX_STACK + 1)) == 0,
	       "KILN_MAX_STACK is a mask");
static __always_inline __u32 frames_bounded(__u32 n)
{
	if (n > KILN_MAX_STACK)
		n = KILN_MAX_STACK;
	barrier_var(n);
	return n & KILN_MAX_STACK;
}

static __always_inline void add(__u32 stat, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);

	if (v)
		*v += n;
}

static __always_inline void count(__u32 stat)
{
	add(stat, 1);
}

static __always_inline void time_sample(__u64 t0)
{
	__u64 dt = (bpf_ktime_get_ns() - t0) / KILN_SAMPLE_NS_STEP, *v;
	__u32 b = dt < KILN_SAMPLE_NS_BUCKETS ? (__u32)dt
					      : KILN_SAMPLE_NS_BUCKETS - 1;

	v = bpf_map_lookup_elem(&sample_ns, &b);
	if (v)
		*v += 1;
}

struct walk {
	struct kiln_unwind_regs regs;
	struct kiln_unwind_map_value map; /* the last mapping looked up */
	/* The one before: a stack that calls into a library and back (a
	 * program's _start under libc's __libc_start_main) finds its way
	 * back here instead of in the vma tree again. */
	struct kiln_unwind_map_value prev;
	__u32 slot0; /* this CPU's first slot in unwind_pcs */
	__u32 pid;
	__u32 n;
	__u32 end;
	__u32 missing, missing_end; /* first object without its table */
	__u16 cfi_frames, fp_frames;
};

struct search {
	__u64 pc;
	__u32 lo, hi; /* row array indexes: the answer is in [lo, hi) */
	__u32 steps;
};

/* Slot 'i' of the row array (a row or a bucket), or NULL. Both lookups
 * are inlined by the verifier (array of maps, then an array). */
static __always_inline const void *row_at(__u32 i)
{
	__u32 c = kiln_unwind_chunk_of(i), k = i - c * KILN_UNWIND_CHUNK_ROWS;
	void *chunk = bpf_map_lookup_elem(&unwind_rows, &c);

	return chunk ? bpf_map_lookup_elem(chunk, &k) : NULL;
}

/* One binary search step. */
static long search_step(__u32 i, void *data)
{
	struct search *q = data;
	const struct kiln_unwind_row *row;
	__u32 mid;

	if (q->hi - q->lo <= 1)
		return 1;
	q->steps++;
	mid = q->lo + (q->hi - q->lo) / 2;
	row = row_at(mid);
	if (!row)
		return 1;
	if (row->pc <= q->pc)
		q->lo = mid;
	else
		q->hi = mid;
	return 0;
}

/* The last row whose pc is <= 'pc' in an object's table, or NULL: its
 * bucket names a few rows, a binary search finds the one. */
static __always_inline const struct kiln_unwind_row *
find_row(const struct kiln_unwind_object *objp, __u64 pc)
{
	struct kiln_unwind_object obj = *objp;
	const struct kiln_unwind_bucket *bucket;
	const struct kiln_unwind_row *row;
	struct search q = {.pc = pc};
	long b = kiln_unwind_bucket_of(&obj, pc);
	__u32 slot;

	if (pc > 0xffffffffULL || b < 0)
		return NULL;
	slot = obj.index + (__u32)b;
	/* Buckets share the row array: 8 bytes, like a row. */
	bucket = row_at(slot);
	if (!bucket || bucket->lo > bucket->hi || bucket->hi >= obj.nr_rows)
		return NULL;
	q.lo = obj.base + bucket->lo;
	q.hi = obj.base + bucket->hi + 1;
	bpf_loop(KILN_UNWIND_SEARCH_STEPS, search_step, &q, 0);
	add(KILN_STAT_SEARCH_STEPS, q.steps);
	row = row_at(q.lo);
	return row && row->pc <= pc ? row : NULL;
}

#define VM_EXEC 0x00000004

/* Kernel memory at 'p' as a 'type' the program may read fields of
 * directly (inline loads that fault to 0, not a helper call per field). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KCAST(type, p)                                                         \
	((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))

/* A walk down the mm's maple tree (the kernel's vma tree). */
struct mt_walk {
	__u64 addr;
	__u64 enode; /* an encoded node; at a leaf, the entry (a vma) */
	__u32 found;
};

/* The slot of node 'n' (npiv pivots) whose range holds q->addr: the first
 * pivot >= addr; a zero pivot past the first ends the node's data (its
 * last slot runs to the node's end). */
#define MT_SCAN(n, npiv)                                                       \
	do {                                                                   \
		slot = (__u64)(n)->slot[npiv];                                 \
		for (int j = 0; j < (npiv); j++) {                             \
			__u64 p = (n)->pivot[j];                               \
			if (p >= q->addr || (j && !p)) {                       \
				slot = (__u64)(n)->slot[j];                    \
				break;                                         \
			}                                                      \
		}                                                              \
	} while (0)

/*
 * One level of the maple tree. Read without the mmap lock: bpf_find_vma
 * takes it, and in this hard-irq context can do so once per sample only
 * (a second call in the same sample fails with -EBUSY while the first
 * one's deferred unlock is pending). Nodes are freed after an RCU grace
 * period and vmas are SLAB_TYPESAFE_BY_RCU, so what is read is memory of
 * the right kind; the caller checks that the vma found covers the address
 * and belongs to the mm, so a walk racing with a change finds the right
 * vma or none.
 */
static long mt_level(__u32 i, void *data)
{
	struct mt_walk *q = data;
	__u64 node = q->enode & ~255ULL, slot;
	__u32 type = (q->enode >> 3) & 15;

	if (type == bpf_core_enum_value(enum maple_type, maple_arange_64)) {
		struct maple_arange_64 *n = KCAST(struct maple_arange_64, node);

		MT_SCAN(n, 9);
	} else if (type ==
		       bpf_core_enum_value(enum maple_type, maple_range_64) ||
		   type ==
		       bpf_core_enum_value(enum maple_type, maple_leaf_64)) {
		struct maple_range_64 *n = KCAST(struct maple_range_64, node);

		MT_SCAN(n, 15);
	} else {
		return 1;
	}
	q->enode = slot;
	if (type == bpf_core_enum_value(enum maple_type, maple_leaf_64)) {
		q->found = 1;
		return 1;
	}
	return slot ? 0 : 1;
}

/*
 * The mapping of 'pc' into w->map (the one there moves to w->prev, and
 * w->prev is tried first): the vma holding it, and its file's
 * object from unwind_files (the vDSO, which has no file, under key 0:0).
 * 1, or 0 when pc is in no vma. A vma without a known object gets object
 * KILN_UNWIND_NO_OBJECT (frame pointers), so its other frames skip the
 * lookup too. A global function: the verifier checks it once, not again
 * for every state of the walk's loop (4 s of loading when inlined).
 */
__noinline int find_mapping(struct walk *w, __u64 pc)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *mm = task->mm;
	struct mt_walk q = {.addr = pc};
	struct kiln_unwind_file_key key = {0};
	struct kiln_unwind_file_value *v;
	struct kiln_unwind_map_value last;
	struct vm_area_struct *vma;
	struct file *file;
	__u64 pgoff;

	if (!w)
		return 0;
	last = w->map;
	if (pc >= w->prev.start && pc < w->prev.end) {
		w->map = w->prev;
		w->prev = last;
		return 1;
	}
	if (last.end)
		w->prev = last;
	count(KILN_STAT_FIND_VMA);
	if (!mm)
		return 0;
	q.enode = (__u64)mm->mm_mt.ma_root;
	/* A root that is a node is marked 2 in its low bits. */
	if ((q.enode & 3) != 2 || q.enode < 4096)
		return 0;
	bpf_loop(KILN_UNWIND_MT_LEVELS, mt_level, &q, 0);
	if (!q.found || !q.enode)
		return 0;
	vma = KCAST(struct vm_area_struct, q.enode);
	if ((__u64)vma->vm_mm != (__u64)mm || pc < vma->vm_start ||
	    pc >= vma->vm_end)
		return 0;
	w->map.start = vma->vm_start;
	w->map.end = vma->vm_end;
	w->map.object = KILN_UNWIND_NO_OBJECT;
	if (!(vma->vm_flags & VM_EXEC))
		return 1;
	pgoff = vma->vm_pgoff;
	file = vma->vm_file;
	if (file) {
		key.ino = file->f_inode->i_ino;
		key.dev = file->f_inode->i_sb->s_dev;
	} else if (!bpf_core_field_exists(mm->context.vdso) ||
		   w->map.start != (__u64)mm->context.vdso) {
		return 1; /* anonymous: JIT code, frame pointers */
	}
	v = bpf_map_lookup_elem(&unwind_files, &key);
	if (!v) {
		struct kiln_unwind_unknown u = {
		    .start = w->map.start,
		    .end = w->map.end,
		    .pgoff = pgoff,
		    .pid = w->pid,
		};

		/* Tell user space once (until it reads it); meanwhile the
		 * walk says the table is not loaded if it stops short. */
		if (file)
			bpf_map_update_elem(&unwind_unknown, &key, &u,
					    BPF_NOEXIST);
		if (!w->missing) {
			w->missing = KILN_UNWIND_NO_OBJECT;
			w->missing_end = KILN_UNWIND_NOT_LOADED;
		}
		return 1;
	}
	w->map.bias = w->map.start - pgoff * 4096 - v->vaddr_delta;
	w->map.object = v->object;
	return 1;
}

/* One frame: record its pc, then step to its caller. 1 ends the loop. */
static long walk_frame(__u32 i, void *data)
{
	struct walk *w = data;
	const struct kiln_unwind_object *obj;
	const struct kiln_unwind_row *found;
	struct kiln_unwind_row row;
	__u64 pc = w->regs.pc, *out;
	__u32 n = w->n, slot;
	int end;

	if (n >= KILN_MAX_STACK) {
		w->end = KILN_UNWIND_FRAME_LIMIT;
		return 1;
	}
	slot = w->slot0 + n;
	out = bpf_map_lookup_elem(&unwind_pcs, &slot);
	if (!out) {
		w->end = KILN_UNWIND_FRAME_LIMIT;
		return 1;
	}
	*out = pc;
	w->n = n + 1;

	if ((pc < w->map.start || pc >= w->map.end) && !find_mapping(w, pc)) {
		w->map.start = w->map.end = 0;
		goto fp;
	}
	obj = bpf_map_lookup_elem(&unwind_objects, &w->map.object);
	if (!obj)
		goto fp;
	if (!obj->nr_rows) {
		/* No table (yet): frame pointers may still get through (they
		 * do on code built with them); if the walk then stops short,
		 * the missing table is named as the reason. */
		if (!(obj->flags & KILN_UNW_OBJ_NO_CFI) && !w->missing) {
			w->missing = w->map.object + 1;
			w->missing_end = obj->flags & KILN_UNW_OBJ_NO_ROOM
					     ? KILN_UNWIND_NO_ROOM
					     : KILN_UNWIND_NOT_LOADED;
		}
		goto fp;
	}
	found = find_row(obj, pc - w->map.bias - (w->regs.exact ? 0 : 1));
	if (!found)
		goto fp;
	row = *found;
	if (row.op == KILN_UNW_INVALID)
		goto fp;
	w->cfi_frames++;
	end = kiln_unwind_row_step(&row, &w->regs, NULL);
	goto out;
fp:
	w->fp_frames++;
	end = kiln_unwind_fp_step(&w->regs, NULL);
out:
	if (end == KILN_UNWIND_RUNNING)
		return 0;
	w->end = end;
	return 1;
}

/* The user registers at the sample: the interrupted ones when the sample
 * hit user mode, else those saved at kernel entry. */
static __always_inline int user_regs(struct bpf_perf_event_data *ctx,
				     struct kiln_unwind_regs *r)
{
	struct pt_regs *regs;

	/* User addresses are below 2^47 (x86-64, 4-level and the low half
	 * of 5-level paging); kernel text is far above. */
	if (ctx->regs.ip < (1ULL << 47)) {
		r->pc = ctx->regs.ip;
		r->sp = ctx->regs.sp;
		r->fp = ctx->regs.bp;
	} else {
		regs = (struct pt_regs *)bpf_task_pt_regs(
		    bpf_get_current_task_btf());
		if (!regs)
			return -1;
		r->pc = BPF_CORE_READ(regs, ip);
		r->sp = BPF_CORE_READ(regs, sp);
		r->fp = BPF_CORE_READ(regs, bp);
	}
	r->exact = 1;
	return r->pc ? 0 : -1;
}

/* Walks the user stack into s->frames, after the kernel's frames. */
static __always_inline void walk_user(struct bpf_perf_event_data *ctx,
				      struct kiln_sample *s, __u32 pid)
{
	struct walk w = {.pid = pid, .end = KILN_UNWIND_FRAME_LIMIT};
	__u32 at;

	__u64 *first;

	w.slot0 = bpf_get_smp_processor_id() * KILN_UNWIND_PCS_PER_CPU;
	first = bpf_map_lookup_elem(&unwind_pcs, &w.slot0);
	if (!first || user_regs(ctx, &w.regs)) {
		s->ustack_len = -14; /* -EFAULT, as bpf_get_stack says */
		s->unwind_end = KILN_UNWIND_UNREADABLE;
		count(KILN_STAT_USTACK_ERROR);
		return;
	}
	bpf_loop(KILN_MAX_STACK, walk_frame, &w, 0);
	if (w.end == KILN_UNWIND_RUNNING)
		w.end = KILN_UNWIND_FRAME_LIMIT;
	if (w.missing && w.end != KILN_UNWIND_COMPLETE &&
	    w.end != KILN_UNWIND_FRAME_LIMIT)
		w.end = w.missing_end;
	s->unwind_missing = w.missing;
	w.n = frames_bounded(w.n);
	/* An array map's values are contiguous: this CPU's slots follow.
	 * Only the frames walked: the record ends with them. Where they go is
	 * read back from the record only now: a value known before the walk
	 * would be carried through its verification, three times over (no
	 * kernel stack, some, the most). */
	at = frames_bounded(kiln_sample_frames(s->kstack_len));
	bpf_probe_read_kernel(&s->frames[at], w.n * sizeof(__u64), first);
	s->ustack_len = (__s32)w.n;
	s->unwind_end = w.end;
	s->cfi_frames = w.cfi_frames;
	s->fp_frames = w.fp_frames;
	if (w.end == KILN_UNWIND_FRAME_LIMIT)
		count(KILN_STAT_USTACK_TRUNCATED);
	if (w.end < KILN_UNWIND_END_MAX)
		count(KILN_STAT_UNWIND_END + w.end);
	add(KILN_STAT_CFI_FRAMES, w.cfi_frames);
	add(KILN_STAT_FP_FRAMES, w.fp_frames);
}

/* The task's cgroup in the hierarchy user space resolves ids in. */
static __u64 cgroup_id(struct task_struct *task)
{
	struct cgroup_subsys_state *css = NULL;
	struct css_set *cset;
	__u32 ssid = cgroup_v1_controller - 1;

	if (!cgroup_v1_controller)
		return bpf_get_current_cgroup_id();
	if (ssid >=
	    bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT))
		return 0;
	cset = BPF_CORE_READ(task, cgroups);
	if (bpf_probe_read_kernel(
		&css, sizeof(css),
		(void *)cset + bpf_core_field_offset(struct css_set, subsys) +
		    ssid * sizeof(css)))
		return 0;
	return BPF_CORE_READ(css, cgroup, kn, id);
}

SEC("perf_event")
int sample_stack(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	__u64 t0 = bpf_ktime_get_ns();
	struct task_struct *task;
	struct kiln_sample *s;
	__u32 zero = 0, nk;
	__u64 size;
	long len;

	count(KILN_STAT_SAMPLES);
	if ((!include_idle && tid == 0) ||
	    (filter_pids && !bpf_map_lookup_elem(&pids, &pid))) {
		count(KILN_STAT_FILTERED);
		return 0;
	}
	/* Records take an 8-byte header each. */
	if (bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) + 8 +
		KILN_SAMPLE_HEAD_SIZE >
	    ring_bytes) {
		count(KILN_STAT_RINGBUF_FULL);
		return 0;
	}
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	s->time_ns = bpf_ktime_get_ns();
	s->pid = pid;
	s->tid = tid;
	s->cpu = bpf_get_smp_processor_id();
	s->flags = 0;
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		s->flags |= KILN_SAMPLE_KTHREAD;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	s->cgroup_id = cgroup_id(task);

	s->kstack_len = 0;
	if (want_kernel) {
		len = bpf_get_stack(ctx, s->frames,
				    KILN_MAX_STACK * sizeof(__u64), 0);
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
	s->unwind_end = KILN_UNWIND_COMPLETE;
	s->cfi_frames = s->fp_frames = 0;
	s->unwind_missing = 0;
	s->pad = 0;
	if (want_user && !(s->flags & KILN_SAMPLE_KTHREAD) &&
	    unwind_mode == KILN_UNWIND_MODE_CFI) {
		walk_user(ctx, s, pid);
	} else if (want_user && !(s->flags & KILN_SAMPLE_KTHREAD)) {
		s->unwind_end = KILN_UNWIND_FP_WALK;
		count(KILN_STAT_UNWIND_END + KILN_UNWIND_FP_WALK);
		/* The user frames follow the kernel's. */
		nk = frames_bounded(kiln_sample_frames(s->kstack_len));
		len = bpf_get_stack(ctx, &s->frames[nk],
				    KILN_MAX_STACK * sizeof(__u64),
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
	size = KILN_SAMPLE_HEAD_SIZE +
	       (frames_bounded(kiln_sample_frames(s->kstack_len)) +
		frames_bounded(kiln_sample_frames(s->ustack_len))) *
		   sizeof(__u64);
	if (bpf_ringbuf_output(&samples, s, size,
			       bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) +
					   size >=
				       wakeup_bytes
				   ? BPF_RB_FORCE_WAKEUP
				   : BPF_RB_NO_WAKEUP))
		count(KILN_STAT_RINGBUF_FULL);
	else
		time_sample(t0);
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
