// SPDX-License-Identifier: MIT
/*
 * The symbolizer: the object cache (build id keyed, refcounted, an LRU of
 * unreferenced objects), opening files of live processes, and the public
 * entry points. DWARF work is in dwarf.c, kernel in kallsyms.c, JIT in
 * jit.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/safe_open.h"
#include "lib/xalloc.h"
#include "symbolizer/sym_int.h"

#define DEFAULT_MAX_OBJECTS 128
#define DELETED_SUFFIX " (deleted)"

/* ---- key -> object table ---- */

static uint32_t key_hash(const char *key)
{
	return hash__bytes(key, strlen(key), 0x5f3759df);
}

static struct sym_object *objtab_find(const struct objtab *t, const char *key)
{
	struct objtab_entry *e;

	if (!t->nr_buckets)
		return NULL;
	for (e = t->buckets[key_hash(key) & (t->nr_buckets - 1)]; e;
	     e = e->next)
		if (!strcmp(e->key, key))
			return e->obj;
	return NULL;
}

static void objtab_add(struct objtab *t, const char *key,
		       struct sym_object *obj)
{
	struct objtab_entry *e;
	size_t b;

	if (t->len + 1 > t->nr_buckets) {
		size_t nb = t->nr_buckets ? t->nr_buckets * 2 : 64;
		struct objtab_entry **buckets = xcalloc(nb, sizeof(*buckets));

		for (size_t i = 0; i < t->nr_buckets; i++) {
			while ((e = t->buckets[i])) {
				t->buckets[i] = e->next;
				b = key_hash(e->key) & (nb - 1);
				e->next = buckets[b];
				buckets[b] = e;
			}
		}
		free(t->buckets);
		t->buckets = buckets;
		t->nr_buckets = nb;
	}
	e = xmalloc(sizeof(*e));
	e->key = key;
	e->obj = obj;
	b = key_hash(key) & (t->nr_buckets - 1);
	e->next = t->buckets[b];
	t->buckets[b] = e;
	t->len++;
}

static void objtab_del(struct objtab *t, const char *key)
{
	struct objtab_entry **p;

	if (!t->nr_buckets)
		return;
	for (p = &t->buckets[key_hash(key) & (t->nr_buckets - 1)]; *p;
	     p = &(*p)->next) {
		if (!strcmp((*p)->key, key)) {
			struct objtab_entry *e = *p;

			*p = e->next;
			free(e);
			t->len--;
			return;
		}
	}
}

/* Registers 'key' for 'obj' unless taken or the object has no room. */
static void object_add_key(struct symbolizer *sym, struct sym_object *obj,
			   const char *key)
{
	size_t i;

	if (objtab_find(&sym->objs, key))
		return;
	for (i = 0; i < sizeof(obj->keys) / sizeof(obj->keys[0]); i++) {
		if (!obj->keys[i]) {
			obj->keys[i] = xstrdup(key);
			objtab_add(&sym->objs, obj->keys[i], obj);
			return;
		}
	}
}

/* ---- object lifetime ---- */

static void obj_free_shell(struct sym_object *obj);

static void lru_unlink(struct symbolizer *sym, struct sym_object *obj)
{
	if (obj->lru_prev)
		obj->lru_prev->lru_next = obj->lru_next;
	else
		sym->lru_head = obj->lru_next;
	if (obj->lru_next)
		obj->lru_next->lru_prev = obj->lru_prev;
	else
		sym->lru_tail = obj->lru_prev;
	obj->lru_prev = obj->lru_next = NULL;
	sym->lru_len--;
}

static void object_destroy(struct symbolizer *sym, struct sym_object *obj)
{
	for (size_t i = 0; i < sizeof(obj->keys) / sizeof(obj->keys[0]); i++) {
		if (obj->keys[i]) {
			objtab_del(&sym->objs, obj->keys[i]);
			free(obj->keys[i]);
		}
	}
	if (sym->vdso == obj)
		sym->vdso = NULL;
	if (obj->all_prev)
		obj->all_prev->all_next = obj->all_next;
	else
		sym->all = obj->all_next;
	if (obj->all_next)
		obj->all_next->all_prev = obj->all_prev;
	sym->cache_bytes -= obj->bytes;
	dwobj__close(obj);
	obj_free_shell(obj);
	sym->stats.objects_open--;
}

static void object_ref(struct symbolizer *sym, struct sym_object *obj)
{
	if (obj->refcount++ == 0)
		lru_unlink(sym, obj);
}

/* Frees unreferenced objects, oldest first, while the cache holds more
 * than its ceiling (in bytes) or count. */
/* The object in use that was resolved least recently, not yet looked at
 * in this trim. */
static struct sym_object *lru_in_use(struct symbolizer *sym)
{
	struct sym_object *best = NULL;

	for (struct sym_object *o = sym->all; o; o = o->all_next)
		if (o->refcount && !o->unloaded &&
		    o->trim_gen != sym->trim_gen && o != sym->vdso &&
		    (!best || o->last_used < best->last_used))
			best = o;
	return best;
}

static void loader_gate(struct symbolizer *sym, bool trimmed);

/* Whether an object in use can be unloaded now: it can be read again, is
 * not being read, and was not read again for the window now written (kept
 * through the next flush: see reload_done; loader_gate bounds how much is
 * read between two trims). */
static bool unloadable(const struct symbolizer *sym, const struct sym_object *o)
{
	return !o->unloaded && o != sym->vdso && o->reload_fd >= 0 &&
	       !o->reloading && o->unload_from <= sym->trims;
}

/*
 * Holds the cache to its ceiling: unreferenced objects go first, oldest
 * first; then objects in use, least recently resolved first, drop their
 * indexes and, if that is not enough, everything read from their files
 * (read again by the loader when next resolved).
 */
static void cache_trim(struct symbolizer *sym)
{
	uint64_t start = sym->cache_bytes;
	struct sym_object *o;

	while (sym->lru_head && (sym->cache_bytes > sym->opts.max_cache_bytes ||
				 sym->lru_len > sym->opts.max_cached_objects)) {
		struct sym_object *old = sym->lru_head;

		lru_unlink(sym, old);
		object_destroy(sym, old);
		sym->stats.objects_evicted++;
	}
	sym->trim_gen++;
	while (sym->cache_bytes > sym->opts.max_cache_bytes &&
	       (o = lru_in_use(sym))) {
		uint64_t before = o->bytes;

		o->trim_gen = sym->trim_gen;
		dwobj__drop_indexes(o);
		if (sym->cache_bytes - (before - o->bytes) >
			sym->opts.max_cache_bytes &&
		    unloadable(sym, o)) {
			dwobj__unload(o);
			sym->stats.objects_unloaded++;
		} else if (before != o->bytes) {
			sym->stats.indexes_dropped++;
		}
		sym->cache_bytes -= before - o->bytes;
	}
	/* What stays over the ceiling is held by objects in use that could
	 * not be unloaded: say how much (a gauge beside the ceiling). */
	sym->pinned_bytes = 0;
	for (o = sym->all; o; o = o->all_next)
		if (o->refcount && !unloadable(sym, o))
			sym->pinned_bytes += o->bytes;
	/* What was freed may sit in the loader thread's malloc arena (it
	 * allocated it): give it back now, not at the next flush. */
	if (start - sym->cache_bytes > (1u << 20))
		malloc_trim(0);
	loader_gate(sym, true);
}

void symbolizer__object_put(struct symbolizer *sym, struct sym_object *obj)
{
	if (!obj || --obj->refcount > 0)
		return;
	obj->lru_prev = sym->lru_tail;
	obj->lru_next = NULL;
	if (sym->lru_tail)
		sym->lru_tail->lru_next = obj;
	else
		sym->lru_head = obj;
	sym->lru_tail = obj;
	sym->lru_len++;
	cache_trim(sym);
}

static void obj_free_shell(struct sym_object *obj)
{
	if (obj->reload_fd >= 0)
		close(obj->reload_fd);
	if (obj->reload_root >= 0)
		close(obj->reload_root);
	free(obj->path);
	free(obj);
}

/* Makes a loaded object known: every object, stats, byte accounting. */
static void object_register(struct symbolizer *sym, struct sym_object *obj)
{
	obj->refcount = 1;
	obj->all_next = sym->all;
	if (sym->all)
		sym->all->all_prev = obj;
	sym->all = obj;
	sym->stats.objects_open++;
	sym->stats.objects_opened++;
	sym->stats.sections_skipped += obj->sections_skipped;
	sym->stats.debug_files_rejected += obj->debug_rejected;
	sym->cache_bytes += obj->bytes;
}

/* Reads the ELF behind 'fd' (consumed). No shared state is touched: the
 * loader thread runs it. */
static struct sym_object *object_load_fd(struct symbolizer *sym,
					 const char *path, int fd,
					 const struct sym_source *src)
{
	struct sym_object *obj = xcalloc(1, sizeof(*obj));
	char self[64];
	int err;

	obj->reload_fd = obj->reload_root = -1;
	if (src) {
		/* The very inode read now, to read it again after an unload
		 * (the process may be gone by then). */
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		obj->reload_fd = safe_open_path(self);
		/* A container's root, for its debuglink targets; our own
		 * root is opened again when needed (one descriptor less per
		 * object). */
		if (src->root_fd >= 0 && !src->host_fallback && !src->host_root)
			obj->reload_root =
			    fcntl(src->root_fd, F_DUPFD_CLOEXEC, 0);
	}
	obj->path = xstrdup(path);
	err = dwobj__open(sym, obj, fd, src, path);
	if (err) {
		obj_free_shell(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

/* ---- opening the file a mapping refers to ---- */

static bool is_deleted(const char *path, size_t *len)
{
	size_t n = strlen(path), s = strlen(DELETED_SUFFIX);

	*len = n;
	if (n > s && !strcmp(path + n - s, DELETED_SUFFIX)) {
		*len = n - s;
		return true;
	}
	return false;
}

static bool build_id_matches(int fd, const struct sym_mapping *map)
{
	uint8_t id[64];
	int len;

	if (!map->build_id || !map->build_id_len)
		return true;
	len = fd__build_id(fd, id, sizeof(id));
	return len == (int)map->build_id_len &&
	       !memcmp(id, map->build_id, map->build_id_len);
}

/* Whether 'fd' is the inode the mapping names (dev as major << 32 | minor,
 * as /proc/PID/maps and perf's MMAP2 records give it). */
static bool inode_matches(int fd, const struct sym_mapping *map)
{
	struct stat st;

	if (fstat(fd, &st))
		return false;
	return st.st_ino == map->ino && (((uint64_t)major(st.st_dev) << 32) |
					 minor(st.st_dev)) == map->dev;
}

void sym_source__take(struct symbolizer *sym, const struct sym_mapping *map,
		      struct sym_source *src)
{
	char buf[128];

	*src = (struct sym_source){.path_fd = -1, .root_fd = -1};
	if (map->pid > 0 && map->end > map->start) {
		snprintf(buf, sizeof(buf), "/proc/%d/map_files/%llx-%llx",
			 map->pid, (unsigned long long)map->start,
			 (unsigned long long)map->end);
		src->path_fd = safe_open_path(buf);
	}
	if (!sym->sysroot[0] && map->pid > 0) {
		struct stat st, self;

		snprintf(buf, sizeof(buf), "/proc/%d/root", map->pid);
		src->root_fd = safe_open_root(buf);
		src->host_root =
		    src->root_fd >= 0 && !fstat(src->root_fd, &st) &&
		    !stat("/", &self) && st.st_dev == self.st_dev &&
		    st.st_ino == self.st_ino;
	}
	if (src->root_fd < 0) {
		/* Tests (a sysroot), or the process is gone: the host's
		 * root, where a file must prove it is the mapped one. */
		src->root_fd =
		    safe_open_root(sym->sysroot[0] ? sym->sysroot : "/");
		src->host_fallback = !sym->sysroot[0] && map->pid > 0;
	}
}

void sym_source__release(struct sym_source *src)
{
	if (src->path_fd >= 0)
		close(src->path_fd);
	if (src->root_fd >= 0)
		close(src->root_fd);
	src->path_fd = src->root_fd = -1;
}

/*
 * Opens the mapped file: map_files first (exactly the mapped inode, even
 * deleted or in another mount namespace), then the path resolved inside
 * the process's root. Never the host's view of a container's path: when
 * the process is gone, a host path must match the mapping's build id or
 * inode, so a symlink planted at the path reaches nothing.
 */
static int open_mapping(const struct sym_mapping *map,
			const struct sym_source *src, const char *path,
			bool deleted)
{
	bool have_bid = map->build_id && map->build_id_len;
	int fd;

	if (src->path_fd >= 0) {
		fd = safe_reopen(src->path_fd, SYM_MAX_FILE_SIZE);
		if (fd >= 0) {
			if (build_id_matches(fd, map))
				return fd;
			close(fd);
		}
	}
	/* A deleted file's path now names another file (or nothing): only a
	 * build id can tell whether it is still the same binary. */
	if (deleted && !have_bid)
		return -ENOENT;
	if (src->root_fd < 0)
		return -ENOENT;
	fd = safe_open_in_root(src->root_fd, path, SYM_MAX_FILE_SIZE);
	if (fd < 0)
		return fd;
	if (have_bid ? !build_id_matches(fd, map)
		     : src->host_fallback && (!(map->dev || map->ino) ||
					      !inode_matches(fd, map))) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static struct sym_object *get_vdso(struct symbolizer *sym)
{
	struct sym_object *obj = objtab_find(&sym->objs, "vdso");
	int fd;

	if (obj) {
		object_ref(sym, obj);
		return obj;
	}
	fd = vdso__memfd();
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	obj = object_load_fd(sym, "[vdso]", fd, NULL);
	if (!obj)
		return NULL;
	object_register(sym, obj);
	object_add_key(sym, obj, "vdso");
	sym->vdso = obj;
	return obj;
}

/* The keys a mapping names its object by, known without opening it. */
struct obj_keys {
	char bid[160];		  /* "b:<hex build id>" or "" */
	char file[PATH_MAX + 64]; /* "f:dev:ino:path" or "" */
	char stat[64];		  /* "s:st_dev:st_ino", set after opening */
};

static int mapping_path(const struct sym_mapping *map, char *path, size_t size,
			bool *deleted)
{
	size_t len;

	if (!map || !map->path || !map->path[0])
		return -EINVAL;
	if (map->path[0] != '/')
		return -ENOENT; /* [heap], [stack], anonymous: no file */
	*deleted = is_deleted(map->path, &len);
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(path, map->path, len);
	path[len] = '\0';
	return 0;
}

static void keys_of(const struct sym_mapping *map, const char *path,
		    struct obj_keys *k)
{
	k->bid[0] = k->file[0] = k->stat[0] = '\0';
	if (map->build_id && map->build_id_len && map->build_id_len <= 64) {
		strcpy(k->bid, "b:");
		build_id__hex(map->build_id, map->build_id_len, k->bid + 2,
			      sizeof(k->bid) - 2);
	}
	if (map->dev || map->ino)
		snprintf(k->file, sizeof(k->file), "f:%llx:%llx:%s",
			 (unsigned long long)map->dev,
			 (unsigned long long)map->ino, path);
}

static struct sym_object *find_by_keys(struct symbolizer *sym,
				       const struct obj_keys *k)
{
	struct sym_object *obj = NULL;

	if (k->bid[0])
		obj = objtab_find(&sym->objs, k->bid);
	if (!obj && k->file[0])
		obj = objtab_find(&sym->objs, k->file);
	/* Inode keys only without a build id: inodes get reused. */
	if (!obj && !k->bid[0] && k->stat[0])
		obj = objtab_find(&sym->objs, k->stat);
	return obj;
}

/*
 * Opens the file and learns its own keys (a build id the caller did not
 * know, the inode). Touches no shared state: runs on the loader thread.
 */
static int open_with_keys(const struct sym_mapping *map,
			  const struct sym_source *src, const char *path,
			  bool deleted, struct obj_keys *k)
{
	uint8_t id[64];
	struct stat st;
	int fd, n;

	fd = open_mapping(map, src, path, deleted);
	if (fd < 0)
		return fd;
	if (!k->bid[0]) {
		n = fd__build_id(fd, id, sizeof(id));
		if (n > 0) {
			strcpy(k->bid, "b:");
			build_id__hex(id, (size_t)n, k->bid + 2,
				      sizeof(k->bid) - 2);
		}
	}
	if (!fstat(fd, &st))
		snprintf(k->stat, sizeof(k->stat), "s:%llx:%llx",
			 (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
	return fd;
}

/* Takes a reference on a found object and teaches it the mapping's key. */
static struct sym_object *object_found(struct symbolizer *sym,
				       struct sym_object *obj,
				       const struct obj_keys *k)
{
	object_ref(sym, obj);
	if (k->file[0])
		object_add_key(sym, obj, k->file);
	return obj;
}

/* Registers a freshly loaded object under its keys, or drops it for an
 * equal one that won the race. */
static struct sym_object *object_adopt(struct symbolizer *sym,
				       struct sym_object *obj,
				       const struct obj_keys *k)
{
	struct sym_object *have = find_by_keys(sym, k);

	if (have) {
		dwobj__close(obj);
		obj_free_shell(obj);
		return object_found(sym, have, k);
	}
	object_register(sym, obj);
	if (k->bid[0])
		object_add_key(sym, obj, k->bid);
	else if (k->stat[0])
		object_add_key(sym, obj, k->stat);
	if (k->file[0])
		object_add_key(sym, obj, k->file);
	cache_trim(sym);
	return obj;
}

struct sym_object *symbolizer__object_get(struct symbolizer *sym,
					  const struct sym_mapping *map)
{
	char path[PATH_MAX];
	struct sym_object *obj;
	struct sym_source src;
	struct obj_keys k;
	bool deleted;
	int fd, err;

	if (map && map->path && !strcmp(map->path, "[vdso]"))
		return get_vdso(sym);
	err = mapping_path(map, path, sizeof(path), &deleted);
	if (err) {
		errno = -err;
		return NULL;
	}
	keys_of(map, path, &k);
	obj = find_by_keys(sym, &k);
	if (obj)
		return object_found(sym, obj, &k);
	sym_source__take(sym, map, &src);
	fd = open_with_keys(map, &src, path, deleted, &k);
	if (fd < 0) {
		pr_debug("failed to open '%s' of pid %d: %s", path, map->pid,
			 strerror(-fd));
		sym_source__release(&src);
		errno = -fd;
		return NULL;
	}
	obj = find_by_keys(sym, &k);
	if (obj) {
		close(fd);
		sym_source__release(&src);
		return object_found(sym, obj, &k);
	}
	obj = object_load_fd(sym, path, fd, &src);
	sym_source__release(&src);
	if (!obj) {
		pr_debug("failed to load '%s': %s", path, strerror(errno));
		return NULL;
	}
	return object_adopt(sym, obj, &k);
}

/* ---- the loader thread: opening and reading objects off the caller's
 * thread, so a slow or hostile file never stalls sampling ---- */

/* Mappings waiting on one job (the first one's included). */
struct load_waiter {
	struct load_waiter *next;
	struct sym_mapping map; /* pid, start, end, path (owned) */
};

struct load_job {
	struct load_job *next;	     /* in the loader's queue or done list */
	struct load_job *owner_next; /* in sym->jobs, until collected */
	struct sym_mapping map;	     /* owned copies of path and build id */
	char path[PATH_MAX];
	bool deleted;
	struct obj_keys k;
	struct sym_source src;
	struct sym_object *obj; /* the result */
	int err;
	struct load_waiter *waiters;
	/* A reload of an object unloaded to stay under the ceiling: read
	 * through its own handle only, moved into it when done. */
	struct sym_object *target;
	/* A JIT perf map to read instead of an object, or NULL. */
	struct jit_read *jit;
};

#define MAX_PENDING_LOADS 512
/* Perf map reads waiting, counted apart: objects never crowd them out. */
#define MAX_PENDING_JIT 256
/* How long symbolizer__free waits for a loader stuck in a read. */
#define LOADER_JOIN_MS 1000

/*
 * Two threads: one reads objects (seconds for a large one), the other perf
 * maps (small, bounded), so a JIT's map is never queued behind a big
 * binary.
 */
struct sym_loader {
	pthread_t thread, jit_thread;
	pthread_mutex_t lock;
	pthread_cond_t work, jit_work, done_cond;
	struct load_job *todo, *todo_tail, *jit_todo, *jit_todo_tail, *done;
	bool stop;
	/* Objects read since the last trim took the cache past twice its
	 * ceiling: no more are read until the next trim (loader_gate). */
	bool full;
	/* Owner side (the symbolizer's thread only). */
	struct load_job *jobs; /* submitted, not collected */
	size_t nr_jobs;
	size_t nr_jit_jobs; /* of which perf map reads */
};

static void run_job(struct symbolizer *sym, struct load_job *job)
{
	int fd;

	if (job->jit) {
		jit__read(sym->sysroot, job->jit);
		return;
	}
	fd = job->target ? safe_reopen(job->src.path_fd, SYM_MAX_FILE_SIZE)
			 : open_with_keys(&job->map, &job->src, job->path,
					  job->deleted, &job->k);
	if (fd < 0) {
		job->err = fd;
	} else {
		job->obj = object_load_fd(sym, job->path, fd, &job->src);
		job->err = job->obj ? 0 : -errno;
	}
	sym_source__release(&job->src);
}

static void worker(struct symbolizer *sym, bool jit)
{
	struct sym_loader *l = sym->loader;
	struct load_job **todo = jit ? &l->jit_todo : &l->todo;
	struct load_job **tail = jit ? &l->jit_todo_tail : &l->todo_tail;
	pthread_cond_t *work = jit ? &l->jit_work : &l->work;
	struct load_job *job;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		while ((!*todo || (!jit && l->full)) && !l->stop)
			pthread_cond_wait(work, &l->lock);
		if (l->stop)
			break;
		job = *todo;
		*todo = job->next;
		if (!*todo)
			*tail = NULL;
		pthread_mutex_unlock(&l->lock);

		run_job(sym, job);

		pthread_mutex_lock(&l->lock);
		job->next = l->done;
		l->done = job;
		pthread_cond_broadcast(&l->done_cond);
	}
	pthread_mutex_unlock(&l->lock);
}

/*
 * Objects read between two trims are all taken into the cache (they are
 * wanted for the window being written), so without a gate a window that
 * maps many big objects had them all in memory at once (twenty 6 MB ones
 * in hostile_memory: agent peaks of 147-164 MB, 71-98 MB with the gate).
 * The loader stops when what arrived takes the cache past twice its
 * ceiling, and goes on after the next trim; meanwhile frames wait, bounded
 * by the flush's wait, then are stored by offset and named again once
 * read.
 */
static void loader_gate(struct symbolizer *sym, bool trimmed)
{
	struct sym_loader *l = sym->loader;
	bool full =
	    !trimmed && sym->cache_bytes > 2 * sym->opts.max_cache_bytes;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	if (l->full && !full)
		pthread_cond_signal(&l->work);
	l->full = full;
	pthread_mutex_unlock(&l->lock);
}

static void *loader_main(void *arg)
{
	worker(arg, false);
	return NULL;
}

static void *jit_main(void *arg)
{
	worker(arg, true);
	return NULL;
}

static int loader_start(struct symbolizer *sym)
{
	struct sym_loader *l = calloc(1, sizeof(*l));
	sigset_t all, old;
	int err;

	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->work, NULL);
	pthread_cond_init(&l->jit_work, NULL);
	pthread_cond_init(&l->done_cond, NULL);
	sym->loader = l;
	/* Signals (SIGINT, SIGTERM) are for the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&l->thread, NULL, loader_main, sym);
	if (!err) {
		err = pthread_create(&l->jit_thread, NULL, jit_main, sym);
		if (err) {
			pthread_mutex_lock(&l->lock);
			l->stop = true;
			pthread_cond_broadcast(&l->work);
			pthread_mutex_unlock(&l->lock);
			pthread_join(l->thread, NULL);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		sym->loader = NULL;
		free(l);
		return -err;
	}
	return 0;
}

static void waiter_free(struct load_waiter *w)
{
	free((char *)w->map.path);
	free(w);
}

static void job_free(struct load_job *job)
{
	struct load_waiter *w, *next;

	for (w = job->waiters; w; w = next) {
		next = w->next;
		waiter_free(w);
	}
	sym_source__release(&job->src);
	if (job->jit) {
		free(job->jit->syms);
		free(job->jit->text);
		free(job->jit);
	}
	free((uint8_t *)job->map.build_id);
	free((char *)job->map.path);
	free(job);
}

static void add_waiter(struct load_job *job, const struct sym_mapping *map)
{
	struct load_waiter *w = xcalloc(1, sizeof(*w));

	w->map = *map;
	w->map.path = xstrdup(map->path);
	w->map.build_id = NULL;
	w->map.build_id_len = 0;
	w->next = job->waiters;
	job->waiters = w;
}

/* A job for the same file already under way (same build id or inode). */
static struct load_job *find_job(struct sym_loader *l, const struct obj_keys *k)
{
	for (struct load_job *j = l->jobs; j; j = j->owner_next)
		if ((k->bid[0] && !strcmp(j->k.bid, k->bid)) ||
		    (k->file[0] && !strcmp(j->k.file, k->file)))
			return j;
	return NULL;
}

static void queue_job(struct sym_loader *l, struct load_job *job)
{
	job->owner_next = l->jobs;
	l->jobs = job;
	l->nr_jobs++;
	pthread_mutex_lock(&l->lock);
	if (job->jit) {
		if (l->jit_todo_tail)
			l->jit_todo_tail->next = job;
		else
			l->jit_todo = job;
		l->jit_todo_tail = job;
		pthread_cond_signal(&l->jit_work);
	} else {
		if (l->todo_tail)
			l->todo_tail->next = job;
		else
			l->todo = job;
		l->todo_tail = job;
		pthread_cond_signal(&l->work);
	}
	pthread_mutex_unlock(&l->lock);
}

int symbolizer__object_request(struct symbolizer *sym,
			       const struct sym_mapping *map,
			       struct sym_object **out)
{
	struct sym_loader *l;
	struct load_job *job;
	struct obj_keys k;
	char path[PATH_MAX];
	bool deleted;
	int err;

	*out = NULL;
	if (map && map->path && !strcmp(map->path, "[vdso]")) {
		/* Our own memory: nothing another process controls. */
		*out = get_vdso(sym);
		return *out ? 0 : -errno;
	}
	err = mapping_path(map, path, sizeof(path), &deleted);
	if (err)
		return err;
	keys_of(map, path, &k);
	*out = find_by_keys(sym, &k);
	if (*out) {
		object_found(sym, *out, &k);
		return 0;
	}
	if (!sym->loader && (err = loader_start(sym)))
		return err;
	l = sym->loader;
	job = find_job(l, &k);
	if (job) {
		add_waiter(job, map);
		return -EINPROGRESS;
	}
	if (l->nr_jobs - l->nr_jit_jobs >= MAX_PENDING_LOADS)
		return -EAGAIN;
	job = xcalloc(1, sizeof(*job));
	job->map = *map;
	job->map.path = xstrdup(map->path);
	if (map->build_id_len) {
		uint8_t *id = xmalloc(map->build_id_len);

		memcpy(id, map->build_id, map->build_id_len);
		job->map.build_id = id;
	}
	memcpy(job->path, path, sizeof(path));
	job->deleted = deleted;
	job->k = k;
	/* Handles on the file and the root now, while the process lives;
	 * O_PATH: no file system is asked to open anything here. */
	sym_source__take(sym, map, &job->src);
	add_waiter(job, map);
	queue_job(l, job);
	sym->stats.loads_queued = l->nr_jobs;
	return -EINPROGRESS;
}

/* An unloaded object was resolved: read it again, off this thread. */
static void request_reload(struct symbolizer *sym, struct sym_object *obj)
{
	struct load_job *job;

	if (obj->reloading || obj->reload_fd < 0)
		return;
	if (!sym->loader && loader_start(sym))
		return;
	if (sym->loader->nr_jobs - sym->loader->nr_jit_jobs >=
	    MAX_PENDING_LOADS)
		return;
	job = xcalloc(1, sizeof(*job));
	job->map.path = xstrdup(obj->path);
	snprintf(job->path, sizeof(job->path), "%s", obj->path);
	job->src.path_fd = fcntl(obj->reload_fd, F_DUPFD_CLOEXEC, 0);
	job->src.root_fd =
	    obj->reload_root >= 0
		? fcntl(obj->reload_root, F_DUPFD_CLOEXEC, 0)
		: safe_open_root(sym->sysroot[0] ? sym->sysroot : "/");
	job->target = obj;
	obj->reloading = true;
	object_ref(sym, obj); /* the job's, until collected */
	queue_job(sym->loader, job);
	sym->stats.loads_queued = sym->loader->nr_jobs;
}

static void reload_done(struct symbolizer *sym, struct load_job *job)
{
	struct sym_object *obj = job->target;
	uint64_t before = obj->bytes;

	obj->reloading = false;
	if (job->obj) {
		dwobj__transplant(obj, job->obj);
		obj_free_shell(job->obj);
		job->obj = NULL;
		sym->cache_bytes += obj->bytes - before;
		sym->stats.objects_reloaded++;
		/* Kept through the next flush: unloaded by its trim, before
		 * the renamer or any frame resolved it, it would be read
		 * again and again, naming nothing. */
		obj->unload_from = sym->trims + 2;
		/* Frames stored by offset meanwhile are named again. */
		if (obj->named_unloaded && obj->build_id[0])
			symbolizer__note_improved(sym, obj->build_id);
		obj->named_unloaded = false;
		/* No trim here: it is wanted now; the flush trims after. */
	} else {
		/* Gone or changed: its frames stay module+0xoffset. */
		pr_debug("failed to read '%s' again: %s", obj->path,
			 strerror(-job->err));
		close(obj->reload_fd);
		obj->reload_fd = -1;
		obj->named_unloaded = false;
	}
	symbolizer__object_put(sym, obj);
}

static void owner_unlink(struct sym_loader *l, struct load_job *job)
{
	struct load_job **p = &l->jobs;

	while (*p != job)
		p = &(*p)->owner_next;
	*p = job->owner_next;
	l->nr_jobs--;
}

size_t symbolizer__object_collect(struct symbolizer *sym, int wait_ms,
				  sym_loaded_fn fn, void *ctx)
{
	struct sym_loader *l = sym->loader;
	struct load_job *done, *next;
	struct timespec deadline;
	size_t n = 0;

	if (!l)
		return 0;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->lock);
	for (;;) {
		size_t nr_done = 0;

		for (struct load_job *j = l->done; j; j = j->next)
			nr_done++;
		if (wait_ms <= 0 || nr_done + n >= l->nr_jobs)
			break;
		if (pthread_cond_timedwait(&l->done_cond, &l->lock,
					   &deadline) == ETIMEDOUT)
			break;
	}
	done = l->done;
	l->done = NULL;
	pthread_mutex_unlock(&l->lock);

	for (; done; done = next) {
		struct sym_object *obj = NULL;
		struct load_waiter *w;
		bool first = true;

		next = done->next;
		owner_unlink(l, done);
		if (done->target) {
			reload_done(sym, done);
			job_free(done);
			continue;
		}
		if (done->jit) {
			l->nr_jit_jobs--;
			jit__install(&sym->jit, done->jit);
			job_free(done);
			continue;
		}
		if (done->obj) {
			obj = object_adopt(sym, done->obj, &done->k);
			done->obj = NULL;
		} else {
			pr_debug("failed to load '%s' of pid %d: %s",
				 done->path, done->map.pid,
				 strerror(-done->err));
		}
		for (w = done->waiters; w; w = w->next) {
			if (obj && !first)
				object_ref(sym, obj);
			first = false;
			fn(ctx, &w->map, obj);
			n++;
		}
		if (obj && first) /* no waiter: keep it cached only */
			symbolizer__object_put(sym, obj);
		job_free(done);
	}
	loader_gate(sym, false);
	sym->stats.loads_queued = l->nr_jobs;
	return n;
}

/* Returns false when the loader is stuck and was left behind. */
static bool loader_stop(struct symbolizer *sym)
{
	struct sym_loader *l = sym->loader;
	struct timespec deadline;
	struct load_job *j, *next;

	if (!l)
		return true;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_broadcast(&l->work);
	pthread_cond_broadcast(&l->jit_work);
	pthread_mutex_unlock(&l->lock);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += LOADER_JOIN_MS / 1000;
	if (pthread_timedjoin_np(l->thread, NULL, &deadline) ||
	    pthread_timedjoin_np(l->jit_thread, NULL, &deadline)) {
		/* Stuck in a read of some file: the job it holds and the
		 * loader stay allocated; the process is ending anyway. */
		pr_warn("the symbolizer's loader is stuck reading a file; "
			"leaving it behind");
		sym->loader = NULL;
		return false;
	}
	for (j = l->jobs; j; j = next) {
		next = j->owner_next;
		if (j->obj) {
			dwobj__close(j->obj);
			obj_free_shell(j->obj);
		}
		job_free(j);
	}
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->work);
	pthread_cond_destroy(&l->jit_work);
	pthread_cond_destroy(&l->done_cond);
	free(l);
	sym->loader = NULL;
	return true;
}

void symbolizer__fit(struct symbolizer *sym)
{
	cache_trim(sym);
}

void symbolizer__trim(struct symbolizer *sym)
{
	sym->trims++;
	symbolizer__fit(sym);
	for (struct sym_object *o = sym->all; o; o = o->all_next)
		dwobj__pageout(o);
}

const char *sym_object__build_id(const struct sym_object *obj)
{
	return obj ? obj->build_id : "";
}

const char *sym_object__path(const struct sym_object *obj)
{
	return obj ? obj->path : "";
}

/* ---- resolution ---- */

int symbolizer__resolve(struct symbolizer *sym, struct sym_object *obj,
			const struct sym_mapping *map, uint64_t addr,
			bool is_return, struct sym_result *out)
{
	uint64_t off, lookup_off, vaddr, lookup, before;
	int err;

	out->n = 0;
	off = addr - map->start + map->pgoff;
	/* A return address points after the call: addr - 1 is in the call
	 * instruction, so the line is the calling one. */
	lookup_off = is_return && off ? off - 1 : off;
	out->vaddr = off;
	out->offset = lookup_off;
	if (!obj)
		return -ENOENT;
	if (dwobj__file_to_vaddr(obj, off, &vaddr))
		return -ENOENT;
	out->vaddr = vaddr;
	obj->last_used = ++sym->clock;
	if (obj->unloaded) {
		obj->named_unloaded = true;
		request_reload(sym, obj);
		return -ENOENT;
	}
	if (dwobj__file_to_vaddr(obj, lookup_off, &lookup))
		lookup = vaddr;
	before = obj->bytes;
	err = dwobj__resolve(sym, obj, lookup, out);
	sym->cache_bytes += obj->bytes - before;
	return err;
}

bool symbolizer__take_improved(struct symbolizer *sym, char *buf, size_t size)
{
	if (!sym->nr_improved)
		return false;
	snprintf(buf, size, "%s", sym->improved[0]);
	sym->nr_improved--;
	memmove(sym->improved[0], sym->improved[1],
		sym->nr_improved * sizeof(sym->improved[0]));
	return true;
}

void symbolizer__note_improved(struct symbolizer *sym, const char *build_id)
{
	for (size_t i = 0; i < sym->nr_improved; i++)
		if (!strcmp(sym->improved[i], build_id))
			return;
	/* Bounded: past the ceiling the oldest is forgotten (its stored
	 * frames keep their names). Nobody takes them in `kiln record`. */
	if (sym->nr_improved == SYM_MAX_IMPROVED) {
		pr_debug("debuginfod: stored frames of '%s' keep their names",
			 sym->improved[0]);
		sym->nr_improved--;
		memmove(sym->improved[0], sym->improved[1],
			sym->nr_improved * sizeof(sym->improved[0]));
	}
	if (sym->nr_improved == sym->cap_improved) {
		size_t cap = sym->cap_improved ? 2 * sym->cap_improved : 16;
		char(*n)[129] = realloc(sym->improved, cap * sizeof(*n));

		if (!n)
			return;
		sym->improved = n;
		sym->cap_improved = cap;
	}
	snprintf(sym->improved[sym->nr_improved++], sizeof(sym->improved[0]),
		 "%s", build_id);
}

int symbolizer__resolve_build_id(struct symbolizer *sym, const char *build_id,
				 uint64_t offset, struct sym_result *out)
{
	struct sym_object *obj;
	uint64_t vaddr, before;
	char key[3 + sizeof(((struct sym_object *)0)->build_id)];
	int err;

	out->n = 0;
	out->vaddr = 0;
	out->offset = offset;
	if (!build_id[0] || strlen(build_id) >= sizeof(key) - 2)
		return -EINVAL;
	snprintf(key, sizeof(key), "b:%s", build_id);
	obj = objtab_find(&sym->objs, key);
	if (!obj)
		return -ESRCH;
	if (dwobj__file_to_vaddr(obj, offset, &vaddr))
		return -ENOENT;
	out->vaddr = vaddr;
	obj->last_used = ++sym->clock;
	if (obj->unloaded) {
		request_reload(sym, obj);
		return -EAGAIN;
	}
	before = obj->bytes;
	err = dwobj__resolve(sym, obj, vaddr, out);
	sym->cache_bytes += obj->bytes - before;
	return err;
}

int symbolizer__resolve_kernel(struct symbolizer *sym, uint64_t addr,
			       struct sym_result *out)
{
	const struct ksym *ks;

	out->n = 0;
	out->vaddr = addr;
	out->offset = 0;
	if (!sym->ks.loaded)
		kallsyms__load(&sym->ks, &sym->strs,
			       sym->opts.kallsyms_path ? sym->opts.kallsyms_path
						       : "/proc/kallsyms");
	ks = kallsyms__find(&sym->ks, addr);
	if (!ks)
		return -ENOENT;
	out->frames[0] = (struct sym_frame){.name = ks->name};
	out->n = 1;
	return 0;
}

const char *symbolizer__kernel_module(struct symbolizer *sym, uint64_t addr)
{
	const struct ksym *ks;

	if (!sym->ks.loaded)
		kallsyms__load(&sym->ks, &sym->strs,
			       sym->opts.kallsyms_path ? sym->opts.kallsyms_path
						       : "/proc/kallsyms");
	ks = kallsyms__find(&sym->ks, addr);
	return ks ? ks->module : sym->kernel_module;
}

/*
 * Asks the loader to look at pid's perf map, unless a look is under way or
 * one was had recently ('urgent': the process is exiting, look now).
 */
static void jit_check(struct symbolizer *sym, struct jit_map *m, bool urgent)
{
	/* Per unresolved JIT frame of every sample: a coarse clock. */
	uint64_t now = clock__mono_coarse_ms(), wait;
	struct load_job *job;

	if (m->loading)
		return;
	wait = urgent		       ? 0
	       : !m->tried || m->dirty ? JIT_MIN_CHECK_MS
	       : m->last_err	       ? JIT_ABSENT_MS
				       : JIT_RECHECK_MS;
	if (m->tried && now - m->checked_ms < wait)
		return;
	if (!sym->loader && loader_start(sym))
		return;
	if (sym->loader->nr_jit_jobs >= MAX_PENDING_JIT)
		return;
	job = xcalloc(1, sizeof(*job));
	/* No file handles: job_free() must not close descriptor 0 (it
	 * closed whatever took that number: the web process's control
	 * socket, a push connection). */
	job->src = (struct sym_source){.path_fd = -1, .root_fd = -1};
	job->jit = xmalloc(sizeof(*job->jit));
	jit__read_init(m, job->jit);
	job->map.path = xstrdup("[jit]");
	m->loading = true;
	m->dirty = false;
	m->checked_ms = now;
	sym->jit.checks++;
	sym->loader->nr_jit_jobs++;
	queue_job(sym->loader, job);
	sym->stats.loads_queued = sym->loader->nr_jobs;
}

int symbolizer__resolve_jit(struct symbolizer *sym, int pid, uint64_t addr,
			    struct sym_result *out)
{
	struct jit_map *m = jit__get(&sym->jit, pid, true);
	const struct jit_sym *js = jit__find(m, addr);

	out->n = 0;
	out->vaddr = addr;
	out->offset = 0;
	if (!js) {
		/* JITs append as they compile: a miss may be newer code,
		 * read for the next resolution. */
		jit_check(sym, m, false);
		return m->loading ? -EINPROGRESS : -ENOENT;
	}
	out->frames[0] = (struct sym_frame){.name = js->name};
	out->n = 1;
	return 0;
}

void symbolizer__jit_changed(struct symbolizer *sym, int pid)
{
	struct jit_map *m = jit__get(&sym->jit, pid, false);

	if (m)
		m->dirty = true;
}

void symbolizer__load_jit(struct symbolizer *sym, int pid)
{
	/* Only for a process whose samples asked for its map. */
	struct jit_map *m = jit__get(&sym->jit, pid, false);

	if (m)
		jit_check(sym, m, true);
}

void symbolizer__forget_pid(struct symbolizer *sym, int pid)
{
	jit__forget(&sym->jit, pid);
}

void symbolizer__stats(const struct symbolizer *sym,
		       struct symbolizer_stats *out)
{
	*out = sym->stats;
	out->cache_bytes = sym->cache_bytes;
	out->cache_limit = sym->opts.max_cache_bytes;
	out->cache_pinned = sym->pinned_bytes;
	out->jit_bytes = sym->jit.bytes;
	out->jit_maps_refused = sym->jit.refused;
	out->jit_checks = sym->jit.checks;
}

/* ---- construction ---- */

struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts)
{
	struct symbolizer *sym = calloc(1, sizeof(*sym));
	const char *root;
	size_t len;

	if (!sym) {
		errno = ENOMEM;
		return NULL;
	}
	if (opts)
		sym->opts = *opts;
	if (!sym->opts.max_cached_objects)
		sym->opts.max_cached_objects = DEFAULT_MAX_OBJECTS;
	if (!sym->opts.max_cache_bytes)
		sym->opts.max_cache_bytes = SYMBOLIZER_DEFAULT_CACHE_BYTES;
	if (!sym->opts.max_object_debug_bytes)
		sym->opts.max_object_debug_bytes =
		    sym->opts.max_cache_bytes / 2;
	root = sym->opts.sysroot ? sym->opts.sysroot : "";
	len = strlen(root);
	while (len && root[len - 1] == '/')
		len--; /* "/" and "/x/" become "" and "/x" */
	sym->sysroot = xmalloc(len + 1);
	memcpy(sym->sysroot, root, len);
	sym->sysroot[len] = '\0';
	/* Defaults of libdwfl (next to the file, .debug/, /usr/lib/debug),
	 * with the debug root under the sysroot. */
	len = strlen(sym->sysroot) + sizeof(":.debug:/usr/lib/debug");
	sym->debuginfo_path = xmalloc(len);
	snprintf(sym->debuginfo_path, len, ":.debug:%s/usr/lib/debug",
		 sym->sysroot);
	sym->opts.sysroot = NULL; /* not owned; use sym->sysroot */
	sym->opts.kallsyms_path =
	    opts && opts->kallsyms_path ? xstrdup(opts->kallsyms_path) : NULL;

	if (sym->opts.debuginfod.urls && sym->opts.debuginfod.urls[0]) {
		sym->dbgd = dbgd__new(&sym->opts.debuginfod);
		if (!sym->dbgd)
			pr_warn("debuginfod: not started: %s", strerror(errno));
	}
	/* Strings were copied by the client; do not keep the caller's. */
	memset(&sym->opts.debuginfod, 0, sizeof(sym->opts.debuginfod));
	dwobj__init_callbacks(&sym->cbs);
	sym->cbs.debuginfo_path = &sym->debuginfo_path;

	elf_version(EV_CURRENT);
	strpool__init(&sym->strs);
	sym->kernel_module = strpool__intern(&sym->strs, "[kernel.kallsyms]");
	return sym;
}

void symbolizer__free(struct symbolizer *sym)
{
	if (!sym)
		return;
	/* A loader stuck in a read still uses 'sym' (options, libdwfl
	 * callbacks) when it wakes: leave all of it to the process's exit
	 * rather than free memory under it. */
	if (!loader_stop(sym))
		return;
	/* Referenced objects too: the caller is done with all of them. */
	while (sym->all) {
		struct sym_object *obj = sym->all;

		if (!obj->refcount)
			lru_unlink(sym, obj);
		object_destroy(sym, obj);
	}
	free(sym->objs.buckets);
	kallsyms__release(&sym->ks);
	jit__release(&sym->jit);
	dbgd__free(sym->dbgd);
	free(sym->improved);
	strpool__release(&sym->strs);
	free((char *)sym->opts.kallsyms_path);
	free(sym->debuginfo_path);
	free(sym->sysroot);
	free(sym);
}
