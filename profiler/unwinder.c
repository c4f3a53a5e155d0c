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
#include <sys/resource.h>
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
/* How long a file that could not be opened waits before another try. */
#define RETRY_NS (5 * 1000000000ULL)
/* How often the builder reads the files the walk met unnamed. */
#define UNKNOWN_POLL_MS 100

enum obj_state {
	OBJ_NEW,      /* no table, not queued */
	OBJ_QUEUED,   /* a build job waits for the builder */
	OBJ_BUILDING, /* the builder has it */
	OBJ_LOADED,   /* rows in the map */
	OBJ_NO_CFI,   /* nothing to build: frame pointers */
	OBJ_NO_ROOM,  /* did not fit */
	OBJ_EVICTED,  /* had a table, gave its room away */
};

/* Where to open a file: a mapping of a (hopefully still live) process. */
struct source {
	int pid;
	bool vdso;
	uint64_t start, end, pgoff; /* pgoff in bytes */
	uint64_t kdev, ino;	    /* the kernel's dev_t encoding; 0 unknown */
	char *path;		    /* NULL: only /proc/PID/map_files */
	uint8_t build_id[20];
	size_t build_id_len;
};

struct uobj {
	char key[96]; /* "b:<build id>", "i:<dev>:<ino>:<path>" or "vdso" */
	uint32_t id;
	/* Live mappings of its files (the sum of their refs, from the time
	 * each file was found to hold this object). */
	int refs;
	enum obj_state state;
	struct job *job; /* OBJ_QUEUED: its build job */
	uint32_t base, nr_rows;
	uint32_t nr_slots;		 /* rows and buckets in the row array */
	struct kiln_unwind_object index; /* pc_min, shift, nr_buckets */
	uint64_t unref_seq; /* when refs dropped to 0, for LRU eviction */
	struct source src;  /* where it was last opened, to build again */
	struct uobj *next;  /* hash chain (by key) */
};

enum file_state {
	FILE_PENDING,  /* a resolve job waits or runs */
	FILE_RESOLVED, /* its object is known and in unwind_files */
	FILE_FAILED,   /* could not be opened: retry after 'retry_ns' */
};

/*
 * A mapped file as the process table names it: by (dev, inode) when it
 * knows them, else by build id and path (mmap records carry one or the
 * other), "vdso" for the vDSO. A mapping of a file seen before costs a
 * hash lookup and no system call.
 */
struct ufile {
	char key[160];
	enum file_state state;
	uint32_t object; /* FILE_RESOLVED: the object, or NO_OBJECT */
	int refs;	 /* live mappings */
	uint64_t unref_seq, retry_ns;
	/* What it wrote into unwind_files. */
	struct kiln_unwind_file_key bpf_keys[2];
	int nr_bpf_keys;
	struct ufile *next;
};

enum job_kind {
	JOB_RESOLVE, /* open a new file: build id, load bias, unwind_files */
	JOB_BUILD,   /* read an object's CFI into the row array */
};

struct job {
	enum job_kind kind;
	struct ufile *file; /* JOB_RESOLVE */
	struct uobj *obj;   /* JOB_BUILD */
	struct source src;
	int fd; /* JOB_BUILD: the file, already open; or -1 */
	struct job *next;
};

/* Processes whose mappings were counted, so that removing the mappings
 * of one that was not (--pid) does not take references it never gave. */
struct upid {
	int pid;
	int mappings;
	struct upid *next;
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
	struct ufile *files[NR_BUCKETS];
	size_t nr_files, max_files;
	struct upid *pids[NR_BUCKETS];
	struct job *qhead, *qtail;
	struct range *free; /* free row ranges, sorted by start */
	size_t nr_free, cap_free;
	/* Descriptors of the row array's chunks (bpf/unwind.h) while a table
	 * is written, else -1; and the keys 0..KILN_UNWIND_CHUNK_ROWS-1 for
	 * batch writes. */
	int *chunk_fds;
	uint32_t nr_chunks, nr_made; /* chunks 0..nr_made-1 exist */
	uint32_t *chunk_keys;
	/* Chunks can be opened again by id (CAP_SYS_ADMIN): their fds are
	 * closed after each write instead of kept, one a chunk (a thousand
	 * and more for a whole system's tables). */
	int reopen; /* 0: not known yet, 1: yes, -1: no */
	bool raised_nofile;
	uint64_t seq;
	int vdso_fd;
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

/* One more file descriptor per chunk: a whole system's tables take a
 * thousand or more, past a soft limit of 1024. Raised once, to the hard
 * limit. */
static bool raise_nofile(struct unwinder *u)
{
	struct rlimit rl;

	if (u->raised_nofile || getrlimit(RLIMIT_NOFILE, &rl) ||
	    rl.rlim_cur >= rl.rlim_max)
		return false;
	u->raised_nofile = true;
	rl.rlim_cur = rl.rlim_max;
	return !setrlimit(RLIMIT_NOFILE, &rl);
}

static int new_chunk(struct unwinder *u)
{
	int fd = bpf_map_create(
	    BPF_MAP_TYPE_ARRAY, "kiln_unw_rows", sizeof(uint32_t),
	    sizeof(struct kiln_unwind_row), KILN_UNWIND_CHUNK_ROWS, NULL);

	if (fd < 0 && errno == EMFILE && raise_nofile(u))
		return new_chunk(u);
	return fd < 0 ? -errno : fd;
}

/*
 * Makes chunks up to 'c' and half as many more as are made already (at
 * least 64, 2 MiB), and puts them in the row array with one update: each
 * update of an array of maps waits for an RCU grace period (tens of ms on
 * a loaded machine), so one update a chunk held a whole system's tables
 * back by seconds.
 */
static int make_chunks(struct unwinder *u, uint32_t c)
{
	uint32_t n = u->nr_made / 2, count, id;
	uint32_t keys[256];
	int fds[256], err = 0;

	if (n < 64)
		n = 64;
	if (n < c + 1 - u->nr_made)
		n = c + 1 - u->nr_made;
	if (n > 256)
		n = 256;
	if (n > u->nr_chunks - u->nr_made)
		n = u->nr_chunks - u->nr_made;
	for (count = 0; count < n; count++) {
		fds[count] = new_chunk(u);
		if (fds[count] < 0) {
			err = fds[count];
			break;
		}
		keys[count] = u->nr_made + count;
	}
	n = count;
	if (n && bpf_map_update_batch(u->maps.rows_fd, keys, fds, &count, NULL))
		err = -errno;
	else
		count = n;
	for (uint32_t i = 0; i < n; i++) {
		if (i < count && u->reopen != 1)
			u->chunk_fds[keys[i]] = fds[i];
		else
			close(fds[i]);
	}
	u->nr_made += count;
	if (count && !u->reopen) {
		int again = bpf_map_lookup_elem(u->maps.rows_fd, &keys[0], &id)
				? -1
				: bpf_map_get_fd_by_id(id);

		u->reopen = again >= 0 ? 1 : -1;
		if (again >= 0) {
			close(again);
			for (uint32_t i = 0; i < count; i++) {
				close(u->chunk_fds[keys[i]]);
				u->chunk_fds[keys[i]] = -1;
			}
		}
	}
	if (err && c >= u->nr_made)
		pr_warn("failed to make unwind row chunks: %s", strerror(-err));
	return c < u->nr_made ? 0 : err ? err : -ENOSPC;
}

/* Chunk 'c' of the row array, made or opened again as needed. */
static int chunk_fd(struct unwinder *u, uint32_t c)
{
	uint32_t id;
	int fd, err;

	if (c >= u->nr_chunks)
		return -ERANGE;
	while (c >= u->nr_made) {
		err = make_chunks(u, c);
		if (err)
			return err;
	}
	if (u->chunk_fds[c] >= 0)
		return u->chunk_fds[c];
	if (bpf_map_lookup_elem(u->maps.rows_fd, &c, &id)) {
		err = -errno;
		pr_warn("failed to find unwind row chunk %u: %s", c,
			strerror(-err));
		return err;
	}
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0) {
		err = -errno;
		pr_warn("failed to open an unwind row chunk: %s",
			strerror(-err));
		return err;
	}
	u->chunk_fds[c] = fd;
	return fd;
}

/* Writes 'n' slots at row array index 'at', chunk by chunk; each chunk's
 * fd is closed once written when it can be opened again, so a table
 * spanning a hundred chunks (node) holds one at a time. */
static int write_slots(struct unwinder *u, uint32_t at, const void *src,
		       uint32_t n)
{
	const char *p = src;
	int err;

	while (n) {
		uint32_t c = at / KILN_UNWIND_CHUNK_ROWS;
		uint32_t k = at % KILN_UNWIND_CHUNK_ROWS;
		uint32_t len = KILN_UNWIND_CHUNK_ROWS - k, count;
		int fd = chunk_fd(u, c);

		if (fd < 0)
			return fd;
		if (len > n)
			len = n;
		count = len;
		err = 0;
		if (bpf_map_update_batch(fd, &u->chunk_keys[k], p, &count,
					 NULL))
			err = -errno;
		if (u->reopen == 1) {
			close(fd);
			u->chunk_fds[c] = -1;
		}
		if (err) {
			pr_warn("failed to write unwind rows: %s",
				strerror(-err));
			return err;
		}
		at += len;
		p += (size_t)len * sizeof(struct kiln_unwind_row);
		n -= len;
	}
	return 0;
}

/* Copies a table's rows, then its buckets, into the row array at 'base'. */
static int write_rows(struct unwinder *u, uint32_t base,
		      const struct unwind_table *t)
{
	int err;

	_Static_assert(sizeof(struct kiln_unwind_bucket) ==
			   sizeof(struct kiln_unwind_row),
		       "buckets share the row array");
	err = write_slots(u, base, t->rows, t->nr_rows);
	if (!err)
		err = write_slots(u, base + t->nr_rows, t->buckets,
				  t->index.nr_buckets);
	return err;
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

/* ---- jobs ---- */

static void source_free(struct source *src)
{
	free(src->path);
	src->path = NULL;
}

static void source_copy(struct source *dst, const struct source *src)
{
	*dst = *src;
	dst->path = src->path ? xstrdup(src->path) : NULL;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	source_free(&j->src);
	free(j);
}

/* Queues a job (taking 'src''s path and 'fd'). With the lock held. */
static struct job *enqueue(struct unwinder *u, enum job_kind kind,
			   struct source *src, int fd)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->src = *src;
	src->path = NULL;
	j->fd = fd;
	if (u->qtail)
		u->qtail->next = j;
	else
		u->qhead = j;
	u->qtail = j;
	u->st.queued++;
	pthread_cond_signal(&u->cond);
	return j;
}

static void enqueue_build(struct unwinder *u, struct uobj *o,
			  const struct source *src, int fd)
{
	struct source copy;

	source_copy(&copy, src);
	o->state = OBJ_QUEUED;
	o->job = enqueue(u, JOB_BUILD, &copy, fd);
	o->job->obj = o;
	publish(u, o, KILN_UNW_OBJ_PENDING);
}

/* ---- files ---- */

static void hex(const uint8_t *id, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 3 <= size; i++)
		n += (size_t)snprintf(out + n, size - n, "%02x", id[i]);
}

/* /proc/PID/maps's dev (major << 32 | minor) as the kernel's dev_t. */
static uint64_t kernel_dev(uint64_t dev)
{
	return (dev >> 32) << 20 | (dev & 0xfffff);
}

static bool unwindable(const struct sym_mapping *m)
{
	if (!strcmp(m->path, "[vdso]"))
		return true;
	/* Anonymous memory (JIT) and [vsyscall] have no file: the walk
	 * falls back to frame pointers there. */
	return m->path[0] == '/' && strncmp(m->path, "/memfd:", 7);
}

/* The file key of a mapping (struct ufile). */
static void file_key(const struct sym_mapping *m, char *key, size_t size)
{
	char hexid[64] = "";

	if (!strcmp(m->path, "[vdso]")) {
		snprintf(key, size, "vdso");
	} else if (m->ino) {
		snprintf(key, size, "i:%" PRIu64 ":%" PRIu64,
			 kernel_dev(m->dev), m->ino);
	} else if (m->build_id_len) {
		hex(m->build_id, m->build_id_len, hexid, sizeof(hexid));
		snprintf(key, size, "b:%s:%.100s", hexid, m->path);
	} else {
		snprintf(key, size, "p:%.150s", m->path);
	}
}

static struct ufile *find_file(struct unwinder *u, const char *key)
{
	struct ufile *f = u->files[hash_str(key) % NR_BUCKETS];

	for (; f; f = f->next)
		if (!strcmp(f->key, key))
			return f;
	return NULL;
}

static bool bpf_key_used(struct unwinder *u, const struct ufile *except,
			 const struct kiln_unwind_file_key *k)
{
	for (size_t b = 0; b < NR_BUCKETS; b++)
		for (struct ufile *f = u->files[b]; f; f = f->next)
			for (int i = 0; f != except && i < f->nr_bpf_keys; i++)
				if (!memcmp(&f->bpf_keys[i], k, sizeof(*k)))
					return true;
	return false;
}

/*
 * Forgets the file no live mapping has held for longest, and its entries
 * in unwind_files (those no other file wrote too). Only when the table is
 * full: a file kept costs nothing, and a new process of it finds it.
 */
static bool evict_file(struct unwinder *u)
{
	struct ufile *victim = NULL, **pp;

	for (size_t b = 0; b < NR_BUCKETS; b++)
		for (struct ufile *f = u->files[b]; f; f = f->next)
			if (f->refs == 0 && f->state != FILE_PENDING &&
			    (!victim || f->unref_seq < victim->unref_seq))
				victim = f;
	if (!victim)
		return false;
	for (int i = 0; i < victim->nr_bpf_keys; i++)
		if (!bpf_key_used(u, victim, &victim->bpf_keys[i]))
			bpf_map_delete_elem(u->maps.files_fd,
					    &victim->bpf_keys[i]);
	pp = &u->files[hash_str(victim->key) % NR_BUCKETS];
	while (*pp != victim)
		pp = &(*pp)->next;
	*pp = victim->next;
	free(victim);
	u->nr_files--;
	u->st.files_evicted++;
	return true;
}

static struct ufile *new_file(struct unwinder *u, const char *key)
{
	struct ufile *f;
	size_t b = hash_str(key) % NR_BUCKETS;

	if (u->nr_files >= u->max_files && !evict_file(u)) {
		u->st.files_full++;
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->object = KILN_UNWIND_NO_OBJECT;
	f->state = FILE_PENDING;
	f->next = u->files[b];
	u->files[b] = f;
	u->nr_files++;
	return f;
}

static void source_of(struct source *src, const struct sym_mapping *m)
{
	memset(src, 0, sizeof(*src));
	src->pid = m->pid;
	src->vdso = !strcmp(m->path, "[vdso]");
	src->start = m->start;
	src->end = m->end;
	src->pgoff = src->vdso ? 0 : m->pgoff;
	if (m->ino) {
		src->kdev = kernel_dev(m->dev);
		src->ino = m->ino;
	}
	src->path = xstrdup(m->path);
	if (m->build_id_len && m->build_id_len <= sizeof(src->build_id)) {
		memcpy(src->build_id, m->build_id, m->build_id_len);
		src->build_id_len = m->build_id_len;
	}
}

static void resolve_later(struct unwinder *u, struct ufile *f,
			  struct source *src)
{
	struct job *j;

	f->state = FILE_PENDING;
	j = enqueue(u, JOB_RESOLVE, src, -1);
	j->file = f;
}

/* Whether the file at 'fd' is the one mapped: same inode, or same build
 * id (mmap records name the file by build id, not inode). */
static bool same_file(int fd, const struct source *src)
{
	uint8_t id[20];
	struct stat sb;

	if (src->ino)
		return !fstat(fd, &sb) && sb.st_ino == src->ino;
	return src->build_id_len &&
	       cfi__build_id(fd, id, sizeof(id)) == (int)src->build_id_len &&
	       !memcmp(id, src->build_id, src->build_id_len);
}

/*
 * Opens the file of a mapping through lib/safe_open.h, as the symbolizer
 * does: never blocking (a hostile process can put a FIFO where its mapped
 * file was), regular files only, and a container's paths resolved inside
 * its root, never through the host's view of its symlinks. The host path
 * is the last resort, for a process already gone (the builder opens
 * files a little after their mmap records; a compiler's passes are gone
 * by then), and only when it is still the very file that was mapped.
 */
static int open_source(const struct source *src)
{
	char path[4200];
	int fd, root;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 src->pid, src->start, src->end);
	fd = safe_open(path, SAFE_OPEN_ANY_SIZE);
	if (fd >= 0 || !src->path)
		return fd < 0 ? -1 : fd;
	snprintf(path, sizeof(path), "/proc/%d/root", src->pid);
	root = safe_open_root(path);
	if (root >= 0) {
		fd = safe_open_in_root(root, src->path, SAFE_OPEN_ANY_SIZE);
		close(root);
		if (fd >= 0)
			return fd;
	}
	if (!src->ino && !src->build_id_len)
		return -1;
	fd = safe_open(src->path, SAFE_OPEN_ANY_SIZE);
	if (fd >= 0 && !same_file(fd, src)) {
		close(fd);
		return -1;
	}
	return fd < 0 ? -1 : fd;
}

static void add_bpf_key(struct unwinder *u, struct ufile *f,
			const struct kiln_unwind_file_key *k,
			const struct kiln_unwind_file_value *v)
{
	for (int i = 0; i < f->nr_bpf_keys; i++)
		if (!memcmp(&f->bpf_keys[i], k, sizeof(*k)))
			return;
	if (f->nr_bpf_keys >= 2)
		return;
	if (bpf_map_update_elem(u->maps.files_fd, k, v, BPF_ANY)) {
		u->st.files_full++;
		return;
	}
	f->bpf_keys[f->nr_bpf_keys++] = *k;
}

/*
 * The builder's part of a new file: open it, read its build id (unless
 * the mmap record gave it) and load bias, find or make its object, and
 * tell the BPF walk, by the inode the kernel names (the record's, and the
 * opened file's: on overlayfs the vma holds the file below). A new object
 * is queued for its table.
 */
static void resolve(struct unwinder *u, struct ufile *f, struct source *src)
{
	struct kiln_unwind_file_value v = {.object = KILN_UNWIND_NO_OBJECT};
	struct kiln_unwind_file_key keys[2];
	char key[96], hexid[64] = "";
	uint8_t id[20];
	uint64_t bias;
	struct stat sb;
	struct uobj *o;
	int fd, n, nr_keys = 0;
	bool fstat_ok = false, bias_ok = false;

	memset(keys, 0, sizeof(keys));
	fd = src->vdso ? dup(u->vdso_fd) : open_source(src);
	if (fd < 0) {
		pthread_mutex_lock(&u->lock);
		f->state = FILE_FAILED;
		f->retry_ns = mono_ns() + RETRY_NS;
		u->st.open_errors++;
		pthread_mutex_unlock(&u->lock);
		return;
	}
	if (src->vdso) {
		snprintf(key, sizeof(key), "vdso");
	} else {
		fstat_ok = !fstat(fd, &sb);
		n = src->build_id_len ? (int)src->build_id_len
				      : cfi__build_id(fd, id, sizeof(id));
		if (n > 0) {
			hex(src->build_id_len ? src->build_id : id, (size_t)n,
			    hexid, sizeof(hexid));
			snprintf(key, sizeof(key), "b:%s", hexid);
		} else {
			snprintf(key, sizeof(key),
				 "i:%" PRIu64 ":%" PRIu64 ":%.60s",
				 fstat_ok ? (uint64_t)sb.st_dev : src->kdev,
				 fstat_ok ? (uint64_t)sb.st_ino : src->ino,
				 src->path ? src->path : "");
		}
	}
	bias_ok = !cfi__load_bias(fd, src->start, src->pgoff, &bias);
	if (bias_ok)
		v.vaddr_delta = src->start - bias - src->pgoff;
	if (src->vdso) {
		nr_keys = 1; /* 0:0 */
	} else {
		if (src->ino) {
			keys[nr_keys].dev = src->kdev;
			keys[nr_keys++].ino = src->ino;
		}
		if (fstat_ok) {
			keys[nr_keys].dev = ((uint64_t)major(sb.st_dev) << 20) |
					    minor(sb.st_dev);
			keys[nr_keys++].ino = sb.st_ino;
		}
	}

	pthread_mutex_lock(&u->lock);
	o = bias_ok ? find_obj(u, key) : NULL;
	if (bias_ok && !o)
		o = new_obj(u, key);
	if (o)
		v.object = o->id;
	for (int i = 0; i < nr_keys; i++)
		add_bpf_key(u, f, &keys[i], &v);
	f->object = v.object;
	f->state = FILE_RESOLVED;
	if (o) {
		o->refs += f->refs;
		source_free(&o->src);
		source_copy(&o->src, src);
		/* The walk met it, or a live process maps it. */
		if (o->state == OBJ_NEW ||
		    (o->state == OBJ_EVICTED && o->refs > 0)) {
			enqueue_build(u, o, src, fd);
			fd = -1;
		}
	}
	pthread_mutex_unlock(&u->lock);
	if (fd >= 0)
		close(fd);
}

static void build(struct unwinder *u, struct uobj *o, struct job *j)
{
	struct unwind_table *t;
	uint64_t start = mono_ns();
	int fd = j->fd, err;

	j->fd = -1;
	if (fd < 0)
		fd = j->src.vdso ? dup(u->vdso_fd) : open_source(&j->src);
	if (fd < 0) {
		t = NULL;
		err = ESRCH;
	} else {
		t = unwind_table__build(fd);
		err = t ? 0 : errno;
		close(fd);
	}
	pthread_mutex_lock(&u->lock);
	u->st.build_ns += mono_ns() - start;
	if (fd < 0) {
		/* Gone before it could be read: the next mapping (or a
		 * sample's demand) tries again. */
		o->state = OBJ_EVICTED;
		publish(u, o, 0);
		u->st.open_errors++;
	} else {
		install(u, o, t, err);
	}
	pthread_mutex_unlock(&u->lock);
	unwind_table__free(t);
}

/*
 * Reads the files the walk met that unwind_files does not name (the
 * kernel's names: a process whose records are not read yet, a copy of a
 * known file under another inode) and queues each once. Lock held.
 */
static void poll_unknown(struct unwinder *u)
{
	struct kiln_unwind_file_key k, next;
	struct kiln_unwind_unknown v;
	bool first = true;
	int n = 0;

	while (n++ < KILN_UNWIND_UNKNOWN_FILES &&
	       !bpf_map_get_next_key(u->maps.unknown_fd, first ? NULL : &k,
				     &next)) {
		char key[160];
		struct source src = {0};
		struct ufile *f;

		first = false;
		k = next;
		if (bpf_map_lookup_and_delete_elem(u->maps.unknown_fd, &k, &v))
			continue;
		first = true; /* deleted: start again from the first key */
		snprintf(key, sizeof(key), "i:%" PRIu64 ":%" PRIu64,
			 (uint64_t)k.dev, (uint64_t)k.ino);
		f = find_file(u, key);
		/* Met again before its entry was written (or while a try
		 * waits): nothing new. */
		if (f && (f->state != FILE_FAILED || mono_ns() < f->retry_ns))
			continue;
		if (!f)
			f = new_file(u, key);
		if (!f)
			continue;
		u->st.unknown_files++;
		src.pid = (int)v.pid;
		src.start = v.start;
		src.end = v.end;
		src.pgoff = v.pgoff * 4096;
		src.kdev = k.dev;
		src.ino = k.ino;
		resolve_later(u, f, &src);
	}
}

static void *builder_main(void *arg)
{
	struct unwinder *u = arg;
	uint64_t next_poll = 0;

	/* Not nice'd: on a busy machine a starved builder means stacks
	 * cut at "[unwind table not loaded]" for longer. */
	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct job *j;

		while (!u->qhead && !u->stop) {
			struct timespec ts;

			if (mono_ns() >= next_poll) {
				poll_unknown(u);
				next_poll =
				    mono_ns() + UNKNOWN_POLL_MS * 1000000ULL;
				if (u->qhead)
					break;
			}
			pthread_cond_broadcast(&u->idle);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += UNKNOWN_POLL_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&u->cond, &u->lock, &ts);
		}
		if (u->stop)
			break;
		j = u->qhead;
		u->qhead = j->next;
		if (!u->qhead)
			u->qtail = NULL;
		u->st.queued--;
		u->building = true;
		if (j->kind == JOB_BUILD) {
			j->obj->state = OBJ_BUILDING;
			j->obj->job = NULL;
		}
		pthread_mutex_unlock(&u->lock);

		if (j->kind == JOB_RESOLVE)
			resolve(u, j->file, &j->src);
		else
			build(u, j->obj, j);
		job_free(j);

		pthread_mutex_lock(&u->lock);
		u->building = false;
		if (mono_ns() >= next_poll) {
			poll_unknown(u);
			next_poll = mono_ns() + UNKNOWN_POLL_MS * 1000000ULL;
		}
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

/* ---- mappings ---- */

static struct upid **find_pid(struct unwinder *u, int pid)
{
	struct upid **pp = &u->pids[(uint32_t)pid % NR_BUCKETS];

	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

static void obj_ref(struct unwinder *u, struct ufile *f,
		    const struct sym_mapping *m)
{
	struct uobj *o;
	struct source src;

	if (f->state != FILE_RESOLVED || f->object >= u->nr_ids)
		return;
	o = u->by_id[f->object];
	if (o->refs++ == 0 && o->state == OBJ_EVICTED) {
		source_of(&src, m);
		enqueue_build(u, o, &src, -1);
		source_free(&src);
	}
}

/*
 * No system call and no map update for a file seen before (the common
 * case: a new process of a known program); a new file is opened and
 * named on the builder thread.
 */
void unwinder__mapping_added(struct unwinder *u, const struct sym_mapping *m)
{
	char key[160];
	struct source src;
	struct ufile *f;
	struct upid **pp;

	if (!unwindable(m) || m->end <= m->start)
		return;
	file_key(m, key, sizeof(key));
	pthread_mutex_lock(&u->lock);
	f = find_file(u, key);
	if (!f) {
		f = new_file(u, key);
		if (!f)
			goto out;
		source_of(&src, m);
		resolve_later(u, f, &src);
	} else if (f->state == FILE_FAILED && mono_ns() >= f->retry_ns) {
		source_of(&src, m);
		resolve_later(u, f, &src);
	}
	f->refs++;
	obj_ref(u, f, m);
	pp = find_pid(u, m->pid);
	if (!*pp) {
		*pp = xcalloc(1, sizeof(**pp));
		(*pp)->pid = m->pid;
	}
	(*pp)->mappings++;
	u->st.mappings++;
out:
	pthread_mutex_unlock(&u->lock);
}

void unwinder__mapping_removed(struct unwinder *u, const struct sym_mapping *m)
{
	char key[160];
	struct ufile *f;
	struct upid **pp, *p;
	struct uobj *o;

	if (!unwindable(m) || m->end <= m->start)
		return;
	file_key(m, key, sizeof(key));
	pthread_mutex_lock(&u->lock);
	pp = find_pid(u, m->pid);
	f = find_file(u, key);
	if (!*pp || !f || f->refs <= 0)
		goto out;
	p = *pp;
	if (--p->mappings == 0) {
		*pp = p->next;
		free(p);
	}
	u->st.mappings--;
	if (--f->refs == 0)
		f->unref_seq = ++u->seq;
	if (f->state == FILE_RESOLVED && f->object < u->nr_ids) {
		o = u->by_id[f->object];
		if (o->refs > 0 && --o->refs == 0)
			o->unref_seq = ++u->seq;
	}
out:
	pthread_mutex_unlock(&u->lock);
}

void unwinder__demand(struct unwinder *u, uint32_t id)
{
	struct job *j, **pp;
	struct uobj *o;

	pthread_mutex_lock(&u->lock);
	if (id >= u->nr_ids)
		goto out;
	o = u->by_id[id];
	if (o->state == OBJ_EVICTED && o->src.pid) {
		/* A process nobody counted (its records lost) still runs it. */
		enqueue_build(u, o, &o->src, -1);
		u->st.demanded++;
		goto out;
	}
	j = o->job;
	if (o->state != OBJ_QUEUED || !j || u->qhead == j)
		goto out;
	for (pp = &u->qhead; *pp && *pp != j; pp = &(*pp)->next)
		;
	if (!*pp)
		goto out;
	*pp = j->next;
	if (u->qtail == j) {
		struct job *last = u->qhead;

		while (last && last->next)
			last = last->next;
		u->qtail = last;
	}
	j->next = u->qhead;
	u->qhead = j;
	if (!u->qtail)
		u->qtail = j;
	u->st.demanded++;
out:
	pthread_mutex_unlock(&u->lock);
}

struct unwinder *unwinder__new(const struct sampler_unwind_maps *maps)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	struct source vdso = {.vdso = true};
	struct ufile *f;

	if (!u) {
		errno = ENOMEM;
		return NULL;
	}
	u->maps = *maps;
	u->max_files = maps->nr_objects;
	u->st.rows_capacity = maps->nr_rows;
	u->nr_chunks = (maps->nr_rows + KILN_UNWIND_CHUNK_ROWS - 1) /
		       KILN_UNWIND_CHUNK_ROWS;
	u->chunk_fds = malloc(u->nr_chunks * sizeof(*u->chunk_fds));
	u->chunk_keys = malloc(KILN_UNWIND_CHUNK_ROWS * sizeof(*u->chunk_keys));
	if (!u->chunk_fds || !u->chunk_keys) {
		free(u->chunk_fds);
		free(u->chunk_keys);
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t c = 0; c < u->nr_chunks; c++)
		u->chunk_fds[c] = -1;
	for (uint32_t k = 0; k < KILN_UNWIND_CHUNK_ROWS; k++)
		u->chunk_keys[k] = k;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	pthread_cond_init(&u->idle, NULL);
	free_range(u, 0, maps->nr_rows);
	u->vdso_fd = cfi__vdso_fd();
	/* The vDSO is the same image in every process: named once, under
	 * key 0:0, before any process is seen. */
	if (u->vdso_fd >= 0) {
		f = new_file(u, "vdso");
		resolve_later(u, f, &vdso);
	}
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
	while (u->qhead) {
		struct job *j = u->qhead;

		u->qhead = j->next;
		job_free(j);
	}
	for (uint32_t i = 0; i < u->nr_ids; i++) {
		source_free(&u->by_id[i]->src);
		free(u->by_id[i]);
	}
	for (size_t b = 0; b < NR_BUCKETS; b++) {
		for (struct ufile *f = u->files[b], *next; f; f = next) {
			next = f->next;
			free(f);
		}
		for (struct upid *p = u->pids[b], *next; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	if (u->vdso_fd >= 0)
		close(u->vdso_fd);
	for (uint32_t c = 0; c < u->nr_chunks; c++)
		if (u->chunk_fds[c] >= 0)
			close(u->chunk_fds[c]);
	free(u->chunk_fds);
	free(u->chunk_keys);
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
	out->files = u->nr_files;
	pthread_mutex_unlock(&u->lock);
}
