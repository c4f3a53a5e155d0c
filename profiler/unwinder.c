// SPDX-License-Identifier: MIT
#include "profiler/unwinder.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/safe_open.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "profiler/unwind_table.h"
#include "symbolizer/cfi.h"

#define NR_BUCKETS 4096
#define MAX_DELTAS 8

enum obj_state {
	OBJ_NEW,      /* no table, not queued */
	OBJ_QUEUED,   /* waiting for the builder (holds 'fd') */
	OBJ_BUILDING, /* the builder has it */
	OBJ_LOADED,   /* rows in the map */
	OBJ_NO_CFI,   /* nothing to build: frame pointers */
	OBJ_NO_ROOM,  /* did not fit */
	OBJ_EVICTED,  /* had a table, gave its room away */
};

struct uobj {
	char key[96]; /* "b:<build id>" or "i:<dev>:<ino>:<path>" */
	uint32_t id;
	int refs; /* live mappings */
	enum obj_state state;
	int fd; /* OBJ_QUEUED: the file to read */
	uint32_t base, nr_rows;
	uint32_t nr_slots;		 /* rows and buckets in the row array */
	struct kiln_unwind_object index; /* pc_min, shift, nr_buckets */
	uint64_t unref_seq; /* when refs dropped to 0, for LRU eviction */
	/* Mapped file offset -> ELF vaddr at the mapping's start. */
	struct {
		uint64_t pgoff, vaddr;
	} deltas[MAX_DELTAS];
	int nr_deltas;
	struct uobj *next;  /* hash chain (by key) */
	struct uobj *qnext; /* build queue */
};

struct range {
	uint32_t start, len;
};

struct unwinder {
	struct sampler_unwind_maps maps;
	pthread_mutex_t lock;
	pthread_cond_t cond, idle;
	pthread_t thread;
	bool stop, thread_started, building;
	struct uobj *buckets[NR_BUCKETS];
	struct uobj **by_id; /* index = object id */
	uint32_t nr_ids;
	struct uobj *qhead, *qtail;
	struct range *free; /* free row ranges, sorted by start */
	size_t nr_free, cap_free;
	uint64_t seq;
	int vdso_fd;
	/* Paths whose (dev, inode) the BPF side knows (unwind_files). */
	char **files;
	size_t nr_files, cap_files;
	struct unwinder_stats st;
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct uobj *find_obj(struct unwinder *u, const char *key)
{
	struct uobj *o = u->buckets[hash_str(key) % NR_BUCKETS];

	for (; o; o = o->next)
		if (!strcmp(o->key, key))
			return o;
	return NULL;
}

/* Publishes an object's entry: rows before the count that exposes them. */
static void publish(struct unwinder *u, struct uobj *o, uint32_t flags)
{
	struct kiln_unwind_object *e = &u->maps.objects[o->id];

	__atomic_store_n(&e->nr_rows, 0, __ATOMIC_RELEASE);
	e->flags = flags;
	e->base = o->base;
	e->index = o->base + o->nr_rows;
	e->pc_min = o->index.pc_min;
	e->nr_buckets = o->index.nr_buckets;
	e->shift = o->index.shift;
	if (o->state == OBJ_LOADED)
		__atomic_store_n(&e->nr_rows, o->nr_rows, __ATOMIC_RELEASE);
}

static struct uobj *new_obj(struct unwinder *u, const char *key)
{
	struct uobj *o;
	size_t b = hash_str(key) % NR_BUCKETS;

	if (u->nr_ids >= u->maps.nr_objects) {
		u->st.objects_full++;
		return NULL;
	}
	o = xcalloc(1, sizeof(*o));
	snprintf(o->key, sizeof(o->key), "%s", key);
	o->id = u->nr_ids++;
	o->fd = -1;
	o->next = u->buckets[b];
	u->buckets[b] = o;
	u->by_id = xrealloc(u->by_id, u->nr_ids * sizeof(*u->by_id));
	u->by_id[o->id] = o;
	u->st.objects++;
	publish(u, o, KILN_UNW_OBJ_PENDING);
	return o;
}

/* ---- row ranges ---- */

static void free_range(struct unwinder *u, uint32_t start, uint32_t len)
{
	size_t i = 0;

	while (i < u->nr_free && u->free[i].start < start)
		i++;
	if (u->nr_free == u->cap_free) {
		u->cap_free = u->cap_free ? u->cap_free * 2 : 64;
		u->free = xrealloc(u->free, u->cap_free * sizeof(*u->free));
	}
	memmove(&u->free[i + 1], &u->free[i],
		(u->nr_free - i) * sizeof(*u->free));
	u->free[i] = (struct range){start, len};
	u->nr_free++;
	/* Merge with the next, then with the previous. */
	if (i + 1 < u->nr_free &&
	    u->free[i].start + u->free[i].len == u->free[i + 1].start) {
		u->free[i].len += u->free[i + 1].len;
		memmove(&u->free[i + 1], &u->free[i + 2],
			(u->nr_free - i - 2) * sizeof(*u->free));
		u->nr_free--;
	}
	if (i > 0 &&
	    u->free[i - 1].start + u->free[i - 1].len == u->free[i].start) {
		u->free[i - 1].len += u->free[i].len;
		memmove(&u->free[i], &u->free[i + 1],
			(u->nr_free - i - 1) * sizeof(*u->free));
		u->nr_free--;
	}
}

static bool alloc_first_fit(struct unwinder *u, uint32_t len, uint32_t *start)
{
	for (size_t i = 0; i < u->nr_free; i++) {
		if (u->free[i].len < len)
			continue;
		*start = u->free[i].start;
		u->free[i].start += len;
		u->free[i].len -= len;
		if (!u->free[i].len) {
			memmove(&u->free[i], &u->free[i + 1],
				(u->nr_free - i - 1) * sizeof(*u->free));
			u->nr_free--;
		}
		return true;
	}
	return false;
}

/* Gives up the table of the least recently used object nobody maps. */
static bool evict_one(struct unwinder *u)
{
	struct uobj *victim = NULL;

	for (uint32_t i = 0; i < u->nr_ids; i++) {
		struct uobj *o = u->by_id[i];

		if (o->state == OBJ_LOADED && o->refs == 0 &&
		    (!victim || o->unref_seq < victim->unref_seq))
			victim = o;
	}
	if (!victim)
		return false;
	victim->state = OBJ_EVICTED;
	publish(u, victim, 0);
	free_range(u, victim->base, victim->nr_slots);
	u->st.rows_used -= victim->nr_slots;
	u->st.tables_loaded--;
	u->st.evicted++;
	victim->nr_rows = victim->nr_slots = 0;
	return true;
}

static bool alloc_rows(struct unwinder *u, uint32_t len, uint32_t *start)
{
	while (!alloc_first_fit(u, len, start))
		if (!evict_one(u))
			return false;
	return true;
}

/* ---- the builder thread ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Copies a table's rows, then its buckets, into the row array at 'base'
 * through a mapping of just those pages, unmapped at once: the array can
 * be tens of MiB, and pages kept mapped here would count in kiln's RSS.
 */
static int write_rows(struct unwinder *u, uint32_t base,
		      const struct unwind_table *t)
{
	const size_t row = sizeof(struct kiln_unwind_row);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t start = (size_t)base * row, len;
	size_t off = start & ~(page - 1);
	char *p;

	_Static_assert(sizeof(struct kiln_unwind_bucket) ==
			   sizeof(struct kiln_unwind_row),
		       "buckets share the row array");
	len = start + ((size_t)t->nr_rows + t->index.nr_buckets) * row - off;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, u->maps.rows_fd,
		 (off_t)off);
	if (p == MAP_FAILED) {
		pr_warn("failed to map unwind rows: %s", strerror(errno));
		return -errno;
	}
	memcpy(p + (start - off), t->rows, t->nr_rows * row);
	memcpy(p + (start - off) + t->nr_rows * row, t->buckets,
	       t->index.nr_buckets * row);
	munmap(p, len);
	return 0;
}

static void install(struct unwinder *u, struct uobj *o, struct unwind_table *t,
		    int err)
{
	uint32_t base, slots;

	if (!t) {
		if (err == ENOENT) {
			o->state = OBJ_NO_CFI;
			u->st.no_cfi++;
		} else {
			/* Unreadable or foreign: frame pointers, and say so. */
			o->state = OBJ_NO_CFI;
			u->st.build_errors++;
			pr_debug("unwind table of '%s': %s", o->key,
				 strerror(err));
		}
		publish(u, o, KILN_UNW_OBJ_NO_CFI);
		return;
	}
	u->st.unsupported_rows += t->stats.unsupported;
	slots = t->nr_rows + t->index.nr_buckets;
	if (!t->nr_rows || !alloc_rows(u, slots, &base)) {
		o->state = t->nr_rows ? OBJ_NO_ROOM : OBJ_NO_CFI;
		if (t->nr_rows)
			u->st.no_room++;
		else
			u->st.no_cfi++;
		publish(u, o,
			t->nr_rows ? KILN_UNW_OBJ_NO_ROOM
				   : KILN_UNW_OBJ_NO_CFI);
		return;
	}
	if (write_rows(u, base, t)) {
		free_range(u, base, slots);
		o->state = OBJ_NO_ROOM;
		u->st.no_room++;
		publish(u, o, KILN_UNW_OBJ_NO_ROOM);
		return;
	}
	o->base = base;
	o->nr_rows = t->nr_rows;
	o->nr_slots = slots;
	o->index = t->index;
	o->state = OBJ_LOADED;
	u->st.rows_used += slots;
	u->st.tables_loaded++;
	publish(u, o, 0);
}

static void *builder_main(void *arg)
{
	struct unwinder *u = arg;

	/* Not nice'd: on a busy machine a starved builder means stacks
	 * cut at "[unwind table not loaded]" for longer. */
	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct uobj *o;
		struct unwind_table *t;
		uint64_t start;
		int fd, err;

		while (!u->qhead && !u->stop) {
			pthread_cond_broadcast(&u->idle);
			pthread_cond_wait(&u->cond, &u->lock);
		}
		if (u->stop)
			break;
		o = u->qhead;
		u->qhead = o->qnext;
		if (!u->qhead)
			u->qtail = NULL;
		u->st.queued--;
		o->state = OBJ_BUILDING;
		u->building = true;
		fd = o->fd;
		o->fd = -1;
		pthread_mutex_unlock(&u->lock);

		start = mono_ns();
		t = unwind_table__build(fd);
		err = t ? 0 : errno;
		close(fd);

		pthread_mutex_lock(&u->lock);
		u->st.build_ns += mono_ns() - start;
		install(u, o, t, err);
		u->building = false;
		pthread_mutex_unlock(&u->lock);
		unwind_table__free(t);
		pthread_mutex_lock(&u->lock);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* Queues a build; takes 'fd'. Called with the lock held. */
static void enqueue(struct unwinder *u, struct uobj *o, int fd)
{
	o->fd = fd;
	o->state = OBJ_QUEUED;
	o->qnext = NULL;
	if (u->qtail)
		u->qtail->qnext = o;
	else
		u->qhead = o;
	u->qtail = o;
	u->st.queued++;
	publish(u, o, KILN_UNW_OBJ_PENDING);
	pthread_cond_signal(&u->cond);
}

/* ---- the mapping trie ---- */

/*
 * Splits [start, end) into aligned power-of-two blocks, one trie prefix
 * each, and inserts or deletes them.
 */
static void trie_range(struct unwinder *u, const struct sym_mapping *m,
		       const struct kiln_unwind_map_value *v)
{
	uint64_t addr = m->start;

	while (addr < m->end) {
		int bits = addr ? __builtin_ctzll(addr) : 63;
		struct kiln_unwind_map_key key = {0};

		if (bits > 63)
			bits = 63;
		while (bits > 0 && (m->end - addr) < (1ULL << bits))
			bits--;
		key.prefixlen = 32 + (64 - bits);
		key.pid_be = htobe32((uint32_t)m->pid);
		key.addr_be = htobe64(addr);
		if (v) {
			if (bpf_map_update_elem(u->maps.mappings_fd, &key, v,
						BPF_ANY))
				u->st.trie_errors++;
		} else {
			bpf_map_delete_elem(u->maps.mappings_fd, &key);
		}
		addr += 1ULL << bits;
	}
}

/*
 * Opens the file behind a mapping through lib/safe_open.h, as the
 * symbolizer does: never blocking (a hostile process can put a FIFO where
 * its mapped file was), regular files only, and a container's paths
 * resolved inside its root, never through the host's view of its symlinks.
 * The host path is the last resort, for a process already gone, and only
 * when it is still the very inode that was mapped.
 */
static int open_mapping(const struct sym_mapping *m)
{
	char path[4200];
	struct stat sb;
	int fd, root;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 m->pid, m->start, m->end);
	fd = safe_open(path, SAFE_OPEN_ANY_SIZE);
	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "/proc/%d/root", m->pid);
	root = safe_open_root(path);
	if (root >= 0) {
		fd = safe_open_in_root(root, m->path, SAFE_OPEN_ANY_SIZE);
		close(root);
		if (fd >= 0)
			return fd;
	}
	if (!m->ino)
		return -1;
	fd = safe_open(m->path, SAFE_OPEN_ANY_SIZE);
	if (fd >= 0 && (fstat(fd, &sb) || sb.st_ino != m->ino)) {
		close(fd);
		return -1;
	}
	return fd < 0 ? -1 : fd;
}

static bool unwindable(const struct sym_mapping *m)
{
	if (!strcmp(m->path, "[vdso]"))
		return true;
	/* Anonymous memory (JIT) and [vsyscall] have no file: the walk
	 * falls back to frame pointers there. */
	return m->path[0] == '/' && strncmp(m->path, "/memfd:", 7);
}

static void hex(const uint8_t *id, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 3 <= size; i++)
		n += (size_t)snprintf(out + n, size - n, "%02x", id[i]);
}

/*
 * Tells the BPF walker which object this file is, so the processes that map
 * it are unwindable before user space has read their mmap records.
 */
static void register_file(struct unwinder *u, int fd,
			  const struct sym_mapping *m, uint64_t vaddr,
			  uint32_t object, bool vdso)
{
	struct kiln_unwind_file_key key = {0};
	struct kiln_unwind_file_value v = {0};
	struct stat sb;

	if (vdso)
		return;
	v.vaddr_delta = vaddr - m->pgoff;
	v.object = object;
	/* /proc/PID/maps names the inode the vma maps, which is what the
	 * BPF side reads (on overlayfs, the real file below); the kernel's
	 * dev_t packs major:minor as 12:20 bits. */
	if (m->ino) {
		key.dev = (m->dev >> 32) << 20 | (m->dev & 0xfffff);
		key.ino = m->ino;
		bpf_map_update_elem(u->maps.files_fd, &key, &v, BPF_ANY);
	}
	if (fd >= 0 && !fstat(fd, &sb)) {
		key.dev = ((uint64_t)major(sb.st_dev) << 20) | minor(sb.st_dev);
		key.ino = sb.st_ino;
		bpf_map_update_elem(u->maps.files_fd, &key, &v, BPF_ANY);
	}
}

/* Whether 'path' was registered, registering it if not. */
static bool file_seen(struct unwinder *u, const char *path)
{
	for (size_t i = 0; i < u->nr_files; i++)
		if (!strcmp(u->files[i], path))
			return true;
	/* Bounded: past this, new copies wait for their mmap records. */
	if (u->nr_files >= 4096)
		return true;
	if (u->nr_files == u->cap_files) {
		u->cap_files = u->cap_files ? u->cap_files * 2 : 64;
		u->files = xrealloc(u->files, u->cap_files * sizeof(*u->files));
	}
	u->files[u->nr_files++] = xstrdup(path);
	return false;
}

static bool find_delta(const struct uobj *o, uint64_t pgoff, uint64_t *vaddr)
{
	for (int i = 0; i < o->nr_deltas; i++)
		if (o->deltas[i].pgoff == pgoff) {
			*vaddr = o->deltas[i].vaddr;
			return true;
		}
	return false;
}

void unwinder__mapping_added(struct unwinder *u, const struct sym_mapping *m)
{
	char key[96], hexid[64] = "";
	struct kiln_unwind_map_value v = {0};
	struct uobj *o = NULL;
	uint64_t vaddr, bias;
	bool vdso = !strcmp(m->path, "[vdso]");
	int fd = -1;

	if (!unwindable(m) || m->end <= m->start)
		return;
	pthread_mutex_lock(&u->lock);
	if (vdso) {
		snprintf(key, sizeof(key), "vdso");
		o = find_obj(u, key);
	} else if (m->build_id_len) {
		hex(m->build_id, m->build_id_len, hexid, sizeof(hexid));
		snprintf(key, sizeof(key), "b:%s", hexid);
		o = find_obj(u, key);
	}
	if (!o || !find_delta(o, vdso ? 0 : m->pgoff, &vaddr)) {
		uint8_t id[64];
		int n;

		/* Not known well enough: read the file (outside the lock
		 * would be nicer; it is a header read). */
		fd = vdso ? dup(u->vdso_fd) : open_mapping(m);
		if (fd < 0)
			goto out;
		if (!o && !vdso) {
			n = cfi__build_id(fd, id, sizeof(id));
			if (n > 0) {
				hex(id, (size_t)n, hexid, sizeof(hexid));
				snprintf(key, sizeof(key), "b:%s", hexid);
			} else {
				snprintf(key, sizeof(key),
					 "i:%" PRIu64 ":%" PRIu64 ":%.60s",
					 m->dev, m->ino, m->path);
			}
			o = find_obj(u, key);
		}
		if (!o)
			o = new_obj(u, key);
		if (!o)
			goto out;
		if (cfi__load_bias(fd, m->start, vdso ? 0 : m->pgoff, &bias))
			goto out;
		vaddr = m->start - bias;
		register_file(u, fd, m, vaddr, o->id, vdso);
		file_seen(u, m->path);
		if (o->nr_deltas < MAX_DELTAS) {
			o->deltas[o->nr_deltas].pgoff = vdso ? 0 : m->pgoff;
			o->deltas[o->nr_deltas++].vaddr = vaddr;
		}
	}
	/* Another file with a known build id (a copy, a new install): the
	 * BPF side finds new processes by inode, so tell it once. */
	if (fd < 0 && !vdso && !file_seen(u, m->path)) {
		fd = m->ino ? -1 : open_mapping(m);
		register_file(u, fd, m, vaddr, o->id, false);
	}
	if (o->refs++ == 0 &&
	    (o->state == OBJ_NEW || o->state == OBJ_EVICTED)) {
		if (fd < 0)
			fd = vdso ? dup(u->vdso_fd) : open_mapping(m);
		if (fd >= 0) {
			enqueue(u, o, fd);
			fd = -1;
		}
	}
	v.start = m->start;
	v.end = m->end;
	v.bias = m->start - vaddr;
	v.object = o->id;
	trie_range(u, m, &v);
	u->st.mappings++;
out:
	pthread_mutex_unlock(&u->lock);
	if (fd >= 0)
		close(fd);
}

void unwinder__demand(struct unwinder *u, uint32_t id)
{
	struct uobj *o, **pp;

	pthread_mutex_lock(&u->lock);
	if (id >= u->nr_ids || u->by_id[id]->state != OBJ_QUEUED ||
	    u->qhead == u->by_id[id])
		goto out;
	o = u->by_id[id];
	for (pp = &u->qhead; *pp && *pp != o; pp = &(*pp)->qnext)
		;
	if (!*pp)
		goto out;
	*pp = o->qnext;
	if (u->qtail == o) {
		struct uobj *last = u->qhead;

		while (last && last->qnext)
			last = last->qnext;
		u->qtail = last;
	}
	o->qnext = u->qhead;
	u->qhead = o;
	if (!u->qtail)
		u->qtail = o;
	u->st.demanded++;
out:
	pthread_mutex_unlock(&u->lock);
}

void unwinder__mapping_removed(struct unwinder *u, const struct sym_mapping *m)
{
	struct kiln_unwind_map_key key = {0};
	struct kiln_unwind_map_value v;
	struct uobj *o;

	if (!unwindable(m) || m->end <= m->start)
		return;
	/* What the trie holds says which object this was. */
	key.prefixlen = 96;
	key.pid_be = htobe32((uint32_t)m->pid);
	key.addr_be = htobe64(m->start);
	if (bpf_map_lookup_elem(u->maps.mappings_fd, &key, &v) ||
	    v.start != m->start || v.end != m->end)
		return;
	pthread_mutex_lock(&u->lock);
	trie_range(u, m, NULL);
	u->st.mappings--;
	if (v.object < u->nr_ids) {
		o = u->by_id[v.object];
		if (o->refs > 0 && --o->refs == 0)
			o->unref_seq = ++u->seq;
	}
	pthread_mutex_unlock(&u->lock);
}

struct unwinder *unwinder__new(const struct sampler_unwind_maps *maps)
{
	struct unwinder *u = calloc(1, sizeof(*u));

	if (!u) {
		errno = ENOMEM;
		return NULL;
	}
	u->maps = *maps;
	u->st.rows_capacity = maps->nr_rows;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	pthread_cond_init(&u->idle, NULL);
	free_range(u, 0, maps->nr_rows);
	u->vdso_fd = cfi__vdso_fd();
	if (pthread_create(&u->thread, NULL, builder_main, u)) {
		unwinder__free(u);
		errno = EAGAIN;
		return NULL;
	}
	u->thread_started = true;
	return u;
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	if (u->thread_started) {
		pthread_mutex_lock(&u->lock);
		u->stop = true;
		pthread_cond_signal(&u->cond);
		pthread_mutex_unlock(&u->lock);
		pthread_join(u->thread, NULL);
	}
	for (uint32_t i = 0; i < u->nr_ids; i++) {
		if (u->by_id[i]->fd >= 0)
			close(u->by_id[i]->fd);
		free(u->by_id[i]);
	}
	if (u->vdso_fd >= 0)
		close(u->vdso_fd);
	for (size_t i = 0; i < u->nr_files; i++)
		free(u->files[i]);
	free(u->files);
	free(u->by_id);
	free(u->free);
	pthread_cond_destroy(&u->cond);
	pthread_cond_destroy(&u->idle);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

int unwinder__wait_idle(struct unwinder *u, int timeout_ms)
{
	struct timespec deadline;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&u->lock);
	while ((u->qhead || u->building) && !err)
		err = pthread_cond_timedwait(&u->idle, &u->lock, &deadline);
	pthread_mutex_unlock(&u->lock);
	return err ? -ETIMEDOUT : 0;
}

void unwinder__stats(struct unwinder *u, struct unwinder_stats *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->st;
	pthread_mutex_unlock(&u->lock);
}
