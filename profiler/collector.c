// SPDX-License-Identifier: MIT
#include "profiler/collector.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/path.h"
#include "lib/idxset.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define EFAULT_NEG (-EFAULT)

struct raw_sample {
	uint32_t stack;
	uint64_t time_ns;
	uint64_t count;
};

/* One distinct raw stack: who, and the addresses, leaf first. */
struct raw_stack {
	uint32_t pid;
	uint32_t flags;
	int32_t klen, ulen; /* frames, or -errno */
	char comm[KILN_COMM_LEN];
	uint32_t lost_reason; /* string index for lost records, else 0 */
	uint32_t addrs;	      /* index of the first address in 'addrs' */
	uint64_t fp[2];	      /* fingerprint of the addresses (fp_stack) */
};

/* The part of a raw stack compared exactly when interning. */
#define RAW_HEAD_LEN offsetof(struct raw_stack, addrs)

/*
 * One window's gathered samples. Two are kept: the one filling and the one
 * being flushed; a flushed batch's arrays are reused by the next, so a
 * steady agent allocates nothing per sample or per window.
 */
struct batch {
	struct raw_stack *stacks;
	size_t nr_stacks, cap_stacks;
	uint64_t *addrs;
	size_t nr_addrs, cap_addrs;
	struct idxset stack_set;
	struct raw_sample *samples;
	size_t nr_samples, cap_samples;
};

/*
 * Frames already made for an address in this flush: stacks share most of
 * their frames (the kernel's entry paths, a program's outer frames), and
 * one lookup here replaces the symbolizer's, the string interning of each
 * name, file and module, and the frame's interning. Emptied at each flush;
 * its arrays are kept.
 */
struct fcache_ent {
	uint64_t addr;
	uint32_t pid;	 /* 0 for kernel frames */
	uint32_t kind;	 /* FC_KERNEL, FC_CALL (return address), FC_LEAF */
	uint32_t off, n; /* frame ids in fcache.ids */
};

enum { FC_KERNEL = 1, FC_CALL, FC_LEAF };

struct fcache {
	struct fcache_ent *ents;
	size_t nr, cap;
	uint32_t *ids;
	size_t nr_ids, cap_ids;
	struct idxset set;
};

struct collector {
	struct symbolizer *sym;
	struct proc_table *procs;
	struct collector_opts opts;

	struct batch cur;   /* filling */
	struct batch spare; /* emptied arrays, for the next flush */
	struct fcache fc;   /* the flush's address -> frames */
	uint64_t pending;

	char **lost_reasons;
	size_t nr_lost_reasons;
};

struct collector *collector__new(struct symbolizer *sym,
				 struct proc_table *procs,
				 const struct collector_opts *opts)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->sym = sym;
	c->procs = procs;
	c->opts = *opts;
	if (!c->opts.time_resolution_ns)
		c->opts.time_resolution_ns = 10 * 1000 * 1000;
	return c;
}

static void batch__release(struct batch *b)
{
	idxset__release(&b->stack_set);
	free(b->stacks);
	free(b->addrs);
	free(b->samples);
	memset(b, 0, sizeof(*b));
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	batch__release(&c->cur);
	batch__release(&c->spare);
	idxset__release(&c->fc.set);
	free(c->fc.ents);
	free(c->fc.ids);
	for (size_t i = 0; i < c->nr_lost_reasons; i++)
		free(c->lost_reasons[i]);
	free(c->lost_reasons);
	free(c);
}

static size_t nr_frames(int32_t len)
{
	return len > 0 ? (size_t)len : 0;
}

/*
 * A 128-bit fingerprint of a stack's addresses, in two lanes of 64 bits
 * with different multipliers, each lane split over even and odd words so
 * the four multiply chains run in parallel. Interning compares the head
 * (pid, comm, flags, lengths) exactly and the addresses by fingerprint:
 * comparing them word by word against the stored copy (cold memory) was
 * most of the per-sample cost. A collision needs two stacks of the same
 * process and the same depths whose fingerprints agree on 128 bits; a
 * process that forged one would only merge two of its own stacks.
 */
static void fp_stack(const uint64_t *k, size_t nk, const uint64_t *u, size_t nu,
		     uint64_t out[2])
{
	const uint64_t m1 = 0xff51afd7ed558ccdULL, m2 = 0xc4ceb9fe1a85ec53ULL;
	uint64_t a0 = 0x9e3779b97f4a7c15ULL ^ nk, a1 = 0x2545f4914f6cdd1dULL;
	uint64_t b0 = 0xbf58476d1ce4e5b9ULL ^ nu, b1 = 0x94d049bb133111ebULL;
	const uint64_t *w = k;
	size_t n = nk, i;

	for (int part = 0; part < 2; part++) {
		for (i = 0; i + 1 < n; i += 2) {
			a0 = (a0 ^ w[i]) * m1;
			a1 = (a1 ^ w[i + 1]) * m1;
			b0 = (b0 + w[i]) * m2;
			b1 = (b1 + w[i + 1]) * m2;
			a0 ^= a0 >> 32;
			a1 ^= a1 >> 32;
			b0 ^= b0 >> 29;
			b1 ^= b1 >> 29;
		}
		if (i < n) {
			a0 = (a0 ^ w[i]) * m1;
			b1 = (b1 + w[i]) * m2;
			a0 ^= a0 >> 32;
			b1 ^= b1 >> 29;
		}
		/* Where the kernel part ends matters: mix it in between. */
		a1 = hash__mix64(a1 ^ n);
		w = u;
		n = nu;
	}
	out[0] = hash__mix64(a0 ^ hash__mix64(a1 + 0x632be59bd9b4e019ULL));
	out[1] = hash__mix64(b0 + hash__mix64(b1 ^ 0x8cb92ba72f3d8dd7ULL));
}

static bool raw_eq(uint32_t id, const void *key, void *ctx)
{
	const struct batch *b = ctx;
	const struct raw_stack *k = key, *r = &b->stacks[id];

	return r->fp[0] == k->fp[0] && r->fp[1] == k->fp[1] &&
	       !memcmp(r, k, RAW_HEAD_LEN);
}

#define GROW(b, field, cap, need, first)                                       \
	do {                                                                   \
		if ((need) > (b)->cap) {                                       \
			size_t n_ = (b)->cap ? (b)->cap : (first);             \
			while (n_ < (need))                                    \
				n_ *= 2;                                       \
			(b)->field =                                           \
			    xrealloc((b)->field, n_ * sizeof(*(b)->field));    \
			(b)->cap = n_;                                         \
		}                                                              \
	} while (0)

/* Returns the stack's id in the batch. */
static uint32_t intern_raw(struct collector *c, struct raw_stack *head,
			   const uint64_t *kstack, const uint64_t *ustack)
{
	struct batch *b = &c->cur;
	size_t nk = nr_frames(head->klen), nu = nr_frames(head->ulen);
	uint32_t hash, id;

	fp_stack(kstack, nk, ustack, nu, head->fp);
	hash = hash__bytes(head, RAW_HEAD_LEN, (uint32_t)head->fp[0]);
	if (!idxset__find(&b->stack_set, hash, head, raw_eq, b, &id))
		return id;
	GROW(b, addrs, cap_addrs, b->nr_addrs + nk + nu, 1024);
	GROW(b, stacks, cap_stacks, b->nr_stacks + 1, 256);
	struct raw_stack *r = &b->stacks[b->nr_stacks];
	*r = *head;
	r->addrs = (uint32_t)b->nr_addrs;
	if (nk)
		memcpy(&b->addrs[b->nr_addrs], kstack, nk * 8);
	if (nu)
		memcpy(&b->addrs[b->nr_addrs + nk], ustack, nu * 8);
	b->nr_addrs += nk + nu;
	id = (uint32_t)b->nr_stacks++;
	idxset__insert(&b->stack_set, hash, id);
	return id;
}

static void push_sample(struct collector *c, uint32_t stack, uint64_t time_ns,
			uint64_t count)
{
	struct batch *b = &c->cur;

	GROW(b, samples, cap_samples, b->nr_samples + 1, 1024);
	time_ns -= time_ns % c->opts.time_resolution_ns;
	b->samples[b->nr_samples++] =
	    (struct raw_sample){stack, time_ns, count};
	c->pending += count;
}

bool collector__add(struct collector *c, const struct kiln_sample *s)
{
	struct raw_stack head = {0};
	struct proc_info *p;

	head.pid = s->pid;
	/* How the user walk ended rides in the high half of the flags. */
	head.flags = s->flags | (s->unwind_end & 0xffff) << 16;
	head.klen =
	    s->kstack_len > KILN_MAX_STACK ? KILN_MAX_STACK : s->kstack_len;
	head.ulen =
	    s->ustack_len > KILN_MAX_STACK ? KILN_MAX_STACK : s->ustack_len;
	memcpy(head.comm, s->comm, sizeof(head.comm));
	head.comm[sizeof(head.comm) - 1] = 0;
	/* First sight of a process: read its maps while it is alive. */
	p = proc_table__get(c->procs, (int)s->pid);
	p->samples++;
	p->pending = true;
	proc_table__sample_cgroup(c->procs, p, s->cgroup_id);
	uint32_t id = intern_raw(c, &head, (const uint64_t *)s->kstack,
				 (const uint64_t *)s->ustack);
	if (head.ulen > 0)
		proc_table__open_objects(c->procs, p,
					 (const uint64_t *)s->ustack,
					 (size_t)head.ulen);
	push_sample(c, id, s->time_ns + c->opts.clock_offset, 1);
	return p->samples == 1;
}

void collector__add_lost(struct collector *c, const char *reason,
			 uint64_t count, uint64_t time_ns)
{
	struct raw_stack head = {0};
	size_t i;

	if (!count)
		return;
	for (i = 0; i < c->nr_lost_reasons; i++)
		if (!strcmp(c->lost_reasons[i], reason))
			break;
	if (i == c->nr_lost_reasons) {
		c->lost_reasons = xrealloc(c->lost_reasons,
					   (i + 1) * sizeof(*c->lost_reasons));
		c->lost_reasons[c->nr_lost_reasons++] = xstrdup(reason);
	}
	head.lost_reason = (uint32_t)i + 1;
	snprintf(head.comm, sizeof(head.comm), "[lost]");
	push_sample(c, intern_raw(c, &head, NULL, NULL), time_ns, count);
}

uint64_t collector__pending(const struct collector *c)
{
	return c->pending;
}

static size_t batch__bytes(const struct batch *b)
{
	return b->cap_stacks * sizeof(*b->stacks) +
	       b->cap_addrs * sizeof(*b->addrs) +
	       b->cap_samples * sizeof(*b->samples) +
	       b->stack_set.cap * sizeof(*b->stack_set.slots);
}

size_t collector__mem_bytes(const struct collector *c)
{
	return batch__bytes(&c->cur) + batch__bytes(&c->spare) +
	       c->fc.cap * sizeof(*c->fc.ents) +
	       c->fc.cap_ids * sizeof(*c->fc.ids) +
	       c->fc.set.cap * sizeof(*c->fc.set.slots);
}

/* ---- symbolization into a profile ---- */

struct stack_buf {
	uint32_t *ids;
	size_t len, cap;
};

static void stack_push(struct stack_buf *b, uint32_t id)
{
	if (b->len == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->ids = xrealloc(b->ids, b->cap * sizeof(*b->ids));
	}
	b->ids[b->len++] = id;
}

/* What names a user frame again later: its object's build id and the
 * file offset looked up (frame.build_id, frame.offset). */
struct frame_key {
	const char *build_id; /* NULL or "" when unknown */
	uint64_t offset;
};

static void set_key(struct profile *out, struct frame *f,
		    const struct frame_key *k)
{
	if (k && k->build_id && k->build_id[0]) {
		f->build_id = profile__intern(out, k->build_id);
		f->offset = k->offset;
	}
}

static void push_unresolved(struct profile *out, struct stack_buf *b,
			    const char *module, uint64_t offset,
			    enum frame_kind kind, const struct frame_key *k)
{
	char name[512];
	struct frame f = {.kind = kind, .addr = offset};

	/* No file to be relative to ([anon], [unknown], [kernel]): one name
	 * for all such code, the address kept only in frame.addr (pprof's
	 * Location.address), so these frames merge in flame graphs. */
	if (module[0] == '[')
		snprintf(name, sizeof(name), "%s", module);
	else
		snprintf(name, sizeof(name), "%s+0x%" PRIx64, module, offset);
	f.name = profile__intern(out, name);
	f.module = profile__intern(out, module);
	set_key(out, &f, k);
	stack_push(b, profile__add_frame(out, &f));
}

static void push_result(struct profile *out, struct stack_buf *b,
			const struct sym_result *r, const char *module,
			enum frame_kind outer_kind, const struct frame_key *k)
{
	uint32_t mod = profile__intern(out, module);

	for (size_t i = 0; i < r->n; i++) {
		struct frame f = {
		    .name = profile__intern(out, r->frames[i].name),
		    .file = r->frames[i].file
				? profile__intern(out, r->frames[i].file)
				: 0,
		    .sysname =
			r->frames[i].system_name
			    ? profile__intern(out, r->frames[i].system_name)
			    : 0,
		    .line = r->frames[i].line,
		    .module = mod,
		    .kind = r->frames[i].inlined ? FRAME_INLINED : outer_kind,
		    .addr = r->vaddr,
		};
		set_key(out, &f, k);
		stack_push(b, profile__add_frame(out, &f));
	}
}

static void push_user_frame(struct collector *c, struct profile *out,
			    struct stack_buf *b, struct proc_info *p,
			    uint64_t addr, bool is_return)
{
	const struct proc_mapping *m = proc_info__lookup(p, addr);
	struct sym_result r;
	struct frame_key k = {0};
	char hex[129];
	int err = -ENOENT;

	if (m && m->obj) {
		err = symbolizer__resolve(c->sym, m->obj, &m->map, addr,
					  is_return, &r);
		k = (struct frame_key){sym_object__build_id(m->obj), r.offset};
	} else if (m && !m->anon && m->map.build_id) {
		/* Not read yet: the mapping's build id (from the kernel's
		 * mmap record) lets the frame be named once it is. */
		uint64_t off = addr - m->map.start + m->map.pgoff;

		build_id__hex(m->map.build_id, m->map.build_id_len, hex,
			      sizeof(hex));
		k = (struct frame_key){hex, is_return && off ? off - 1 : off};
		if (!m->named_unread)
			proc_info__named_unread(p, addr);
	}
	if (!err) {
		push_result(out, b, &r, m->map.path, FRAME_USER, &k);
		return;
	}
	if ((!m || m->anon) &&
	    !symbolizer__resolve_jit(c->sym, p->pid, addr, &r)) {
		push_result(out, b, &r, "[jit]", FRAME_JIT, NULL);
		return;
	}
	if (m && !m->anon)
		push_unresolved(out, b, path__base_name(m->map.path),
				m->obj ? r.vaddr
				       : addr - m->map.start + m->map.pgoff,
				FRAME_USER, &k);
	else
		push_unresolved(out, b, m ? "[anon]" : "[unknown]", addr,
				FRAME_USER, NULL);
}

static void push_kernel_frame(struct collector *c, struct profile *out,
			      struct stack_buf *b, uint64_t addr)
{
	struct sym_result r;

	if (!symbolizer__resolve_kernel(c->sym, addr, &r))
		push_result(out, b, &r, symbolizer__kernel_module(c->sym, addr),
			    FRAME_KERNEL, NULL);
	else
		push_unresolved(out, b, "[kernel]", addr, FRAME_KERNEL, NULL);
}

static bool fc_eq(uint32_t id, const void *key, void *ctx)
{
	const struct fcache_ent *e = &((const struct fcache *)ctx)->ents[id];
	const struct fcache_ent *k = key;

	return e->addr == k->addr && e->pid == k->pid && e->kind == k->kind;
}

/* Pushes the frames of a user (p set) or kernel address, from the flush's
 * cache when this address was seen before in it. */
static void push_frame_cached(struct collector *c, struct profile *out,
			      struct stack_buf *b, struct proc_info *p,
			      uint64_t addr, uint32_t kind)
{
	struct fcache *fc = &c->fc;
	struct fcache_ent key = {addr, p ? (uint32_t)p->pid : 0, kind, 0, 0};
	uint32_t hash = (uint32_t)hash__mix64(addr ^ (uint64_t)key.pid << 32 ^
					      (uint64_t)kind << 61);
	size_t start = b->len, n;
	uint32_t id;

	if (!idxset__find(&fc->set, hash, &key, fc_eq, fc, &id)) {
		for (uint32_t i = 0; i < fc->ents[id].n; i++)
			stack_push(b, fc->ids[fc->ents[id].off + i]);
		return;
	}
	if (p)
		push_user_frame(c, out, b, p, addr, kind == FC_CALL);
	else
		push_kernel_frame(c, out, b, addr);
	n = b->len - start;
	GROW(fc, ids, cap_ids, fc->nr_ids + n, 1024);
	GROW(fc, ents, cap, fc->nr + 1, 256);
	memcpy(&fc->ids[fc->nr_ids], &b->ids[start], n * sizeof(*fc->ids));
	key.off = (uint32_t)fc->nr_ids;
	key.n = (uint32_t)n;
	fc->nr_ids += n;
	fc->ents[fc->nr] = key;
	idxset__insert(&fc->set, hash, (uint32_t)fc->nr++);
}

static uint32_t series_for(struct collector *c, struct profile *out,
			   const struct raw_stack *r)
{
	struct proc_info *p = proc_table__find(c->procs, (int)r->pid);
	struct label l[6];
	size_t n = 0;
	char pid[16];

#define ADD_LABEL(k, v)                                                        \
	do {                                                                   \
		l[n].key = profile__intern(out, k);                            \
		l[n++].value = profile__intern(out, v);                        \
	} while (0)
	if (c->opts.host)
		ADD_LABEL(LABEL_HOST, c->opts.host);
	if (r->lost_reason) {
		ADD_LABEL(LABEL_COMM, "[lost]");
		return profile__add_series(out, l, n);
	}
	/* The process's name, not the thread's, roots the stack. */
	ADD_LABEL(LABEL_COMM, p && p->comm[0] && r->pid ? p->comm : r->comm);
	snprintf(pid, sizeof(pid), "%u", r->pid);
	ADD_LABEL(LABEL_PID, pid);
	if (p && p->exe)
		ADD_LABEL(LABEL_EXE, p->exe);
	if (p && p->build_id)
		ADD_LABEL(LABEL_BUILD_ID, p->build_id);
	if (p && p->container)
		ADD_LABEL(LABEL_CONTAINER, p->container);
#undef ADD_LABEL
	return profile__add_series(out, l, n);
}

/* How many user frames, from the leaf, are plausible return addresses. */
static size_t user_depth(struct collector *c, struct proc_info *p,
			 const uint64_t *ustack, size_t n)
{
	struct sym_result r;

	if (!p)
		return n;
	for (size_t i = 0; i < n; i++) {
		const struct proc_mapping *m = proc_info__lookup(p, ustack[i]);
		bool in_file = m && !m->anon;

		if (in_file ||
		    !symbolizer__resolve_jit(c->sym, p->pid, ustack[i], &r))
			continue;
		/* The leaf is the sampled instruction pointer: keep it. */
		return i ? i : 1;
	}
	return n;
}

/* The root frame that says why a CFI walk stopped short, or NULL. */
static const char *unwind_cut(unsigned int end)
{
	switch (end) {
	case KILN_UNWIND_NO_INFO:
		return "[no unwind info]";
	case KILN_UNWIND_NOT_LOADED:
		return "[unwind table not loaded]";
	case KILN_UNWIND_NO_ROOM:
		return "[unwind memory full]";
	case KILN_UNWIND_UNREADABLE:
		return "[unreadable stack]";
	case KILN_UNWIND_BAD_FRAME:
		return "[bad frame]";
	default:
		return NULL;
	}
}

static uint32_t symbolize_stack(struct collector *c, struct profile *out,
				const struct raw_stack *r,
				const uint64_t *addrs, struct stack_buf *b)
{
	const uint64_t *kstack = &addrs[r->addrs];
	const uint64_t *ustack = kstack + nr_frames(r->klen);
	struct proc_info *p = proc_table__find(c->procs, (int)r->pid);

	b->len = 0;
	if (r->lost_reason) {
		char name[128];

		snprintf(name, sizeof(name), "[lost: %s]",
			 c->lost_reasons[r->lost_reason - 1]);
		stack_push(b,
			   profile__add_named_frame(out, name, FRAME_SPECIAL));
		return profile__add_stack(out, b->ids, b->len);
	}
	unsigned int uend = r->flags >> 16;
	/* uend 0: a sample without a CFI walk (hand-made in tests). */
	bool utrunc = uend == KILN_UNWIND_FP_WALK || uend == 0
			  ? r->ulen == KILN_MAX_STACK
			  : uend == KILN_UNWIND_FRAME_LIMIT;
	if (r->klen == KILN_MAX_STACK || utrunc)
		stack_push(b, profile__add_named_frame(out, "[truncated]",
						       FRAME_SPECIAL));
	if (!(r->flags & KILN_SAMPLE_KTHREAD)) {
		if (r->ulen < 0)
			stack_push(
			    b, profile__add_named_frame(
				   out, "[lost user stack]", FRAME_SPECIAL));
		/* A frame-pointer walk through code built without frame
		 * pointers yields garbage: cut the stack at the first address
		 * no executable mapping covers and say so at its root. */
		size_t depth = user_depth(c, p, ustack, nr_frames(r->ulen));
		const char *cut = unwind_cut(uend);
		if (depth < nr_frames(r->ulen))
			stack_push(b, profile__add_named_frame(out, "[unknown]",
							       FRAME_SPECIAL));
		else if (cut && r->ulen > 0)
			stack_push(b, profile__add_named_frame(out, cut,
							       FRAME_SPECIAL));
		/* ustack[0] is the leaf: walk from the root. */
		for (size_t i = depth; i-- > 0;)
			if (p)
				push_frame_cached(c, out, b, p, ustack[i],
						  i > 0 ? FC_CALL : FC_LEAF);
			else
				push_unresolved(out, b, "[unknown]", ustack[i],
						FRAME_USER, NULL);
	}
	if (r->klen < 0 && r->klen != EFAULT_NEG)
		stack_push(b, profile__add_named_frame(
				  out, "[lost kernel stack]", FRAME_SPECIAL));
	for (size_t i = nr_frames(r->klen); i-- > 0;)
		push_frame_cached(c, out, b, NULL, kstack[i], FC_KERNEL);
	return profile__add_stack(out, b->ids, b->len);
}

void collector__request_objects(struct collector *c)
{
	/* A mapping's record may have been read after its sample (they come
	 * through different buffers): ask for its object now, by path if
	 * the process is gone. */
	for (size_t i = 0; i < c->cur.nr_stacks; i++) {
		const struct raw_stack *r = &c->cur.stacks[i];
		struct proc_info *p;

		if (r->lost_reason || r->ulen <= 0)
			continue;
		p = proc_table__find(c->procs, (int)r->pid);
		if (p)
			proc_table__open_objects(
			    c->procs, p,
			    &c->cur.addrs[r->addrs + nr_frames(r->klen)],
			    (size_t)r->ulen);
	}
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Keeps an emptied batch's arrays for reuse, unless they are far larger
 * than this window needed (a burst should not pin its memory). */
static void batch__recycle(struct collector *c, struct batch *b)
{
	if (b->cap_addrs > 4 * b->nr_addrs + 4096 ||
	    b->cap_samples > 4 * b->nr_samples + 4096) {
		batch__release(b);
		return;
	}
	b->nr_stacks = b->nr_addrs = b->nr_samples = 0;
	idxset__clear(&b->stack_set);
	batch__release(&c->spare);
	c->spare = *b;
}

uint64_t collector__flush(struct collector *c, struct profile *out)
{
	/* The batch is taken out of the collector, so samples that arrive
	 * while it is symbolized (the drain below) start the next one, in
	 * the spare arrays. */
	struct batch b = c->cur;
	uint32_t *stack_ids =
	    xmalloc((b.nr_stacks ? b.nr_stacks : 1) * sizeof(*stack_ids));
	uint32_t *series_ids =
	    xmalloc((b.nr_stacks ? b.nr_stacks : 1) * sizeof(*series_ids));
	struct stack_buf buf = {0};
	uint64_t added = c->pending;
	double last_drain = mono_ms();

	c->cur = c->spare;
	memset(&c->spare, 0, sizeof(c->spare));
	c->pending = 0;
	/* Frame ids are of 'out': the cache starts empty for each flush. */
	c->fc.nr = c->fc.nr_ids = 0;
	idxset__clear(&c->fc.set);

	for (size_t i = 0; i < b.nr_stacks; i++) {
		stack_ids[i] =
		    symbolize_stack(c, out, &b.stacks[i], b.addrs, &buf);
		series_ids[i] = series_for(c, out, &b.stacks[i]);
		/* A large batch (new binaries, cold caches) takes a while:
		 * keep the ring buffer drained meanwhile. */
		if (c->opts.drain && mono_ms() - last_drain >= 20) {
			c->opts.drain(c->opts.drain_ctx);
			last_drain = mono_ms();
		}
	}
	for (size_t i = 0; i < b.nr_samples; i++) {
		const struct raw_sample *s = &b.samples[i];

		profile__add_sample(out, series_ids[s->stack],
				    stack_ids[s->stack], s->time_ns, s->count);
	}
	free(buf.ids);
	free(stack_ids);
	free(series_ids);
	batch__recycle(c, &b);
	if (c->fc.cap > 4 * c->fc.nr + 65536) {
		/* A burst: do not keep its size. */
		idxset__release(&c->fc.set);
		free(c->fc.ents);
		free(c->fc.ids);
		memset(&c->fc, 0, sizeof(c->fc));
	}
	return added;
}
