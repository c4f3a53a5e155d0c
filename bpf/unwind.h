/* SPDX-License-Identifier: MIT */
/*
 * User stack unwinding from CFI tables: the row format the BPF walker reads
 * from its maps, the register set it carries from frame to frame, and one
 * step of the walk. Shared by bpf/profile.bpf.c and by the user-space twin
 * of the walk (profiler/unwind_table.c), so the code the tests check
 * against libdwfl's unwinder is the code the kernel runs.
 *
 * The includer defines KILN_UNWIND_READ(ctx, addr, dst): read 8 bytes of
 * the sampled process's memory at 'addr' into *dst, 0 on success.
 *
 * x86-64 is what runs today. The format leaves room for arm64: there the
 * CFA is sp or x29 plus an offset as well, x29 and x30 are saved as a pair
 * (so "fp saved at CFA + fp_off" also locates the return address at the
 * next slot), and a leaf that saved nothing returns through lr; that would
 * be another op (KILN_UNW_CFA_SP_LR) and an 'lr' in the register set.
 */
#ifndef KILN_BPF_UNWIND_H
#define KILN_BPF_UNWIND_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Frames of a user stack: kernel.perf_event_max_stack's default, and the
 * size of kiln_sample's ustack. */
#define KILN_UNWIND_MAX_FRAMES 127
/* Slots per CPU in the walk's output map (a power of two >= the frames). */
#define KILN_UNWIND_PCS_PER_CPU 128
/* Binary search steps: enough for 2^22 rows in one object (node: 0.4 M). */
#define KILN_UNWIND_SEARCH_STEPS 22
#define KILN_UNWIND_MAX_ROWS (1u << KILN_UNWIND_SEARCH_STEPS)

/*
 * The row array (rows and bucket indexes of every object, 8 bytes a slot)
 * is cut into chunks of this many slots, each its own small array map:
 * slot i is entry i % KILN_UNWIND_CHUNK_ROWS of chunk i /
 * KILN_UNWIND_CHUNK_ROWS. A chunk with its map header (312 bytes on 6.18)
 * stays within 32 KiB, so the kernel allocates it with kmalloc, in the
 * direct map's huge pages, not vmalloc's 4 KiB pages: a cold row then
 * costs a cache miss, not also a TLB miss (on a VM, a two-dimensional page
 * walk: measured 750 ns against 450 for a row in a chunk). Chunks are made
 * as tables need them, up to the ceiling.
 */
#define KILN_UNWIND_CHUNK_ROWS 4032

/* i / KILN_UNWIND_CHUNK_ROWS for any 32-bit i, without a divide (a 64-bit
 * div costs 40-90 cycles, and the walk needs ~60 of these a sample):
 * 4032 = 64 * 63, and (x * ceil(2^32 / 63)) >> 32 is x / 63 for every
 * x < 2^26 (checked for every i). */
static __always_inline __u32 kiln_unwind_chunk_of(__u32 i)
{
	return (__u32)(((__u64)(i >> 6) * 68174085ULL) >> 32);
}

/* How a row finds the CFA, or a command. */
enum kiln_unwind_op {
	/* No unwind information here: fall back to the frame pointer. */
	KILN_UNW_INVALID = 0,
	KILN_UNW_CFA_SP, /* CFA = sp + cfa_off */
	KILN_UNW_CFA_FP, /* CFA = fp + cfa_off */
	/* x86-64 lazy PLT stub: CFA = sp + cfa_off, plus 8 when
	 * (pc & 15) >= fp_off. fp is unchanged. */
	KILN_UNW_PLT,
	/* Signal trampoline (__restore_rt): sp points at the ucontext, the
	 * interrupted registers are in its mcontext. */
	KILN_UNW_SIGNAL,
	/* Outermost frame (_start, clone's child): the stack ends here. */
	KILN_UNW_END,
};

/*
 * One row: from 'pc' (an ELF virtual address of the object) up to the next
 * row's pc. The return address is at CFA - 8 (x86-64). 8 bytes, so an
 * array map stores it without padding.
 */
struct kiln_unwind_row {
	__u32 pc;
	__s16 cfa_off;
	__u8 op;     /* enum kiln_unwind_op */
	__s8 fp_off; /* fp saved at CFA + 8 * fp_off; 0: fp unchanged */
};

/*
 * Where an object's table is in the row array (map 'unwind_objects'): its
 * rows, then its bucket index. Bucket b covers the ELF vaddrs
 * [pc_min + (b << shift), pc_min + ((b + 1) << shift)) and names the rows
 * any pc in it can fall in, so the walk's binary search runs over a few
 * rows instead of the whole object's (node: 2^19 rows, 19 steps; a bucket
 * about KILN_UNWIND_ROWS_PER_BUCKET, 3).
 */
struct kiln_unwind_object {
	__u32 base;	  /* row array index of the first row */
	__u32 nr_rows;	  /* 0: not loaded (see flags) */
	__u32 flags;	  /* enum kiln_unwind_object_flags */
	__u32 index;	  /* row array index of bucket 0 */
	__u32 pc_min;	  /* the first row's pc */
	__u32 nr_buckets; /* >= 1 when loaded */
	__u32 shift;	  /* log2 of the bytes a bucket covers */
	__u32 pad;
};

/* A bucket: its rows are lo..hi (object-relative, inclusive): lo covers
 * the bucket's first byte, hi is the last row starting inside it. Stored
 * in the row array (8 bytes, like a row). */
struct kiln_unwind_bucket {
	__u32 lo, hi;
};

/* Buckets are sized so that an object has about this many rows per
 * bucket (a power of two of bytes each). */
#define KILN_UNWIND_ROWS_PER_BUCKET 8

/* The bucket of ELF vaddr 'pc' in a loaded object, or -1 before its first
 * row. Past the last bucket is the last bucket (its last row runs on). */
static __always_inline long
kiln_unwind_bucket_of(const struct kiln_unwind_object *o, __u64 pc)
{
	__u64 b;

	if (pc < o->pc_min || !o->nr_buckets)
		return -1;
	b = (pc - o->pc_min) >> (o->shift & 31);
	return b < o->nr_buckets ? (long)b : (long)o->nr_buckets - 1;
}

enum kiln_unwind_object_flags {
	KILN_UNW_OBJ_PENDING = 1 << 0, /* table being built */
	KILN_UNW_OBJ_NO_CFI = 1 << 1,  /* none: frame pointers only */
	KILN_UNW_OBJ_NO_ROOM = 1 << 2, /* unwind memory full */
};

/* A mapping as the walk keeps it between frames (the vma last found). */
struct kiln_unwind_map_value {
	__u64 start, end; /* the vma, to skip lookups */
	__u64 bias;	  /* ELF vaddr = address - bias */
	__u32 object;	  /* index into unwind_objects */
	__u32 pad;
};

/* An object id naming no object: a file known to have no table (or not
 * known yet), anonymous memory. */
#define KILN_UNWIND_NO_OBJECT 0xffffffffu

/* Levels of the kernel's vma tree (a maple tree) the walk descends at
 * most: 16 slots a node, 10 in its inner nodes, so 8 levels hold more
 * vmas than a process may have (vm.max_map_count, 65530 by default). */
#define KILN_UNWIND_MT_LEVELS 8

/*
 * Key of 'unwind_files': a mapped file as the kernel names it. The walk
 * finds the vma of an address in the kernel's vma tree and its file's
 * object here, so user space writes one entry per file, never per
 * process, and a process is unwindable from its first sample. The vDSO
 * (no file) is key 0:0.
 */
struct kiln_unwind_file_key {
	__u64 dev; /* inode->i_sb->s_dev (the kernel's MKDEV encoding) */
	__u64 ino;
};

struct kiln_unwind_file_value {
	/* p_vaddr - p_offset of the executable segment: an address's ELF
	 * vaddr is addr - vm_start + vm_pgoff * 4096 + this. */
	__u64 vaddr_delta;
	__u32 object; /* KILN_UNWIND_NO_OBJECT: no table (frame pointers) */
	__u32 pad;
};

/* Value of 'unwind_unknown' (keyed by file): where the walk met a file
 * unwind_files does not name, so user space can open it
 * (/proc/PID/map_files/START-END) while the process lives. */
struct kiln_unwind_unknown {
	__u64 start, end, pgoff;
	__u32 pid;
	__u32 pad;
};

/* Entries of 'unwind_unknown' (an LRU hash): files met between two reads
 * by user space. */
#define KILN_UNWIND_UNKNOWN_FILES 256

/* The registers the walk carries (x86-64: rip, rsp, rbp). */
struct kiln_unwind_regs {
	__u64 pc, sp, fp;
	/* pc is the interrupted instruction (leaf, or after a signal), not a
	 * return address: look it up as is, not as pc - 1. */
	__u32 exact;
	__u32 pad;
};

/* Why a user stack walk stopped (kiln_sample.unwind_end). */
enum kiln_unwind_end {
	KILN_UNWIND_RUNNING = 0,
	KILN_UNWIND_COMPLETE,	 /* reached the outermost frame */
	KILN_UNWIND_NO_INFO,	 /* no unwind info and no usable frame ptr */
	KILN_UNWIND_NOT_LOADED,	 /* the object's table is not built yet */
	KILN_UNWIND_NO_ROOM,	 /* unwind memory full: object has no table */
	KILN_UNWIND_FRAME_LIMIT, /* KILN_UNWIND_MAX_FRAMES reached */
	KILN_UNWIND_UNREADABLE,	 /* stack memory could not be read */
	KILN_UNWIND_BAD_FRAME,	 /* the walk went backwards: corrupt stack */
	KILN_UNWIND_FP_WALK,	 /* --unwind=fp: bpf_get_stack's walk */
	KILN_UNWIND_END_MAX,
};

/* x86-64 ucontext_t: uc_mcontext at 40, gregs[REG_RBP=10, RSP=15, RIP=16]. */
#define KILN_X86_UC_RBP (40 + 10 * 8)
#define KILN_X86_UC_RSP (40 + 15 * 8)
#define KILN_X86_UC_RIP (40 + 16 * 8)

#ifdef KILN_UNWIND_READ
/*
 * Applies one row to 'r', moving it to the caller's frame. Returns
 * KILN_UNWIND_RUNNING to go on, or why the walk ends.
 */
static __always_inline int
kiln_unwind_row_step(const struct kiln_unwind_row *row,
		     struct kiln_unwind_regs *r, void *rctx)
{
	__u64 cfa, ra, fp = r->fp;

	(void)rctx;
	switch (row->op) {
	case KILN_UNW_END:
		return KILN_UNWIND_COMPLETE;
	case KILN_UNW_SIGNAL: {
		__u64 uc = r->sp, pc, sp;

		if (KILN_UNWIND_READ(rctx, uc + KILN_X86_UC_RIP, &pc) ||
		    KILN_UNWIND_READ(rctx, uc + KILN_X86_UC_RSP, &sp) ||
		    KILN_UNWIND_READ(rctx, uc + KILN_X86_UC_RBP, &fp))
			return KILN_UNWIND_UNREADABLE;
		r->pc = pc;
		r->sp = sp;
		r->fp = fp;
		r->exact = 1;
		return pc ? KILN_UNWIND_RUNNING : KILN_UNWIND_BAD_FRAME;
	}
	case KILN_UNW_CFA_SP:
		cfa = r->sp + row->cfa_off;
		break;
	case KILN_UNW_CFA_FP:
		cfa = r->fp + row->cfa_off;
		break;
	case KILN_UNW_PLT:
		cfa = r->sp + row->cfa_off +
		      ((r->pc & 15) >= (__u64)(__u8)row->fp_off ? 8 : 0);
		break;
	default:
		return KILN_UNWIND_NO_INFO;
	}
	/* The caller's frame is above this one: anything else is a corrupt
	 * stack or a wrong rule, and could loop. */
	if (cfa <= r->sp)
		return KILN_UNWIND_BAD_FRAME;
	if (KILN_UNWIND_READ(rctx, cfa - 8, &ra))
		return KILN_UNWIND_UNREADABLE;
	if (row->op != KILN_UNW_PLT && row->fp_off &&
	    KILN_UNWIND_READ(rctx, cfa + (__s64)row->fp_off * 8, &fp))
		return KILN_UNWIND_UNREADABLE;
	r->pc = ra;
	r->sp = cfa;
	r->fp = fp;
	r->exact = 0;
	/* A zero return address ends some stacks (thread entry points of
	 * runtimes that clear it instead of marking it undefined). */
	return ra ? KILN_UNWIND_RUNNING : KILN_UNWIND_COMPLETE;
}

/*
 * One frame-pointer step, for code without unwind information (JIT): the
 * caller's fp at [fp], the return address at [fp + 8].
 */
static __always_inline int kiln_unwind_fp_step(struct kiln_unwind_regs *r,
					       void *rctx)
{
	__u64 fp = r->fp, next, ra;

	(void)rctx;
	if (!fp || fp < r->sp || (fp & 7))
		return KILN_UNWIND_NO_INFO;
	if (KILN_UNWIND_READ(rctx, fp, &next) ||
	    KILN_UNWIND_READ(rctx, fp + 8, &ra))
		return KILN_UNWIND_NO_INFO;
	if (!ra)
		return KILN_UNWIND_NO_INFO;
	r->pc = ra;
	r->sp = fp + 16;
	r->fp = next;
	r->exact = 0;
	return KILN_UNWIND_RUNNING;
}
#endif

#endif
