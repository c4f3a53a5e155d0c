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
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
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
	dwobj__close(obj);
	free(obj);
	sym->stats.objects_open--;
}

static void object_ref(struct symbolizer *sym, struct sym_object *obj)
{
	if (obj->refcount++ == 0)
		lru_unlink(sym, obj);
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
	while (sym->lru_len > sym->opts.max_cached_objects) {
		struct sym_object *old = sym->lru_head;

		lru_unlink(sym, old);
		object_destroy(sym, old);
		sym->stats.objects_evicted++;
	}
}

static struct sym_object *object_new(struct symbolizer *sym, const char *path,
				     int fd, const char *file_name)
{
	struct sym_object *obj = xcalloc(1, sizeof(*obj));
	int err;

	obj->path = strpool__intern(&sym->strs, path);
	err = dwobj__open(sym, obj, fd, file_name);
	if (err) {
		free(obj);
		errno = -err;
		return NULL;
	}
	obj->refcount = 1;
	obj->all_next = sym->all;
	if (sym->all)
		sym->all->all_prev = obj;
	sym->all = obj;
	sym->stats.objects_open++;
	sym->stats.objects_opened++;
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

/* Whether the process lives in our mount namespace's root. */
static bool same_root(int pid)
{
	char link[64], target[8];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/root", pid);
	n = readlink(link, target, sizeof(target));
	return n == 1 && target[0] == '/';
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

/*
 * Opens the mapped file: map_files first (exactly the mapped inode, even
 * deleted; needs root), then through the process's root (containers), then
 * the host path. Fills 'file_name' with the path libdwfl should use to find
 * .gnu_debuglink files next to the binary.
 */
static int open_mapping(struct symbolizer *sym, const struct sym_mapping *map,
			const char *path, bool deleted, char *file_name,
			size_t size)
{
	char buf[2 * PATH_MAX];
	bool host = map->pid <= 0 || same_root(map->pid);
	int fd;

	if (host)
		snprintf(file_name, size, "%s%s", sym->sysroot, path);
	else
		snprintf(file_name, size, "/proc/%d/root%s", map->pid, path);

	if (map->pid > 0 && map->end > map->start) {
		snprintf(buf, sizeof(buf), "/proc/%d/map_files/%llx-%llx",
			 map->pid, (unsigned long long)map->start,
			 (unsigned long long)map->end);
		fd = open(buf, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (build_id_matches(fd, map))
				return fd;
			close(fd);
		}
	}
	/* A deleted file's path now names another file (or nothing): only a
	 * build id can tell whether it is still the same binary. */
	if (deleted && !(map->build_id && map->build_id_len))
		return -ENOENT;
	if (map->pid > 0 && !host) {
		snprintf(buf, sizeof(buf), "/proc/%d/root%s", map->pid, path);
		fd = open(buf, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (build_id_matches(fd, map))
				return fd;
			close(fd);
		}
	}
	snprintf(buf, sizeof(buf), "%s%s", sym->sysroot, path);
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!build_id_matches(fd, map)) {
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
	obj = object_new(sym, "[vdso]", fd, "[vdso]");
	if (!obj)
		return NULL;
	object_add_key(sym, obj, "vdso");
	sym->vdso = obj;
	return obj;
}

struct sym_object *symbolizer__object_get(struct symbolizer *sym,
					  const struct sym_mapping *map)
{
	char key_bid[160], key_file[PATH_MAX + 64], key_stat[64];
	char file_name[2 * PATH_MAX], path[PATH_MAX];
	struct sym_object *obj;
	uint8_t id[64];
	struct stat st;
	bool deleted;
	size_t len;
	int fd, n;

	if (!map || !map->path || !map->path[0]) {
		errno = EINVAL;
		return NULL;
	}
	if (!strcmp(map->path, "[vdso]"))
		return get_vdso(sym);
	if (map->path[0] != '/') {
		/* [heap], [stack], [vsyscall], anonymous: no file. */
		errno = ENOENT;
		return NULL;
	}
	deleted = is_deleted(map->path, &len);
	if (len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(path, map->path, len);
	path[len] = '\0';

	key_bid[0] = key_file[0] = '\0';
	if (map->build_id && map->build_id_len &&
	    map->build_id_len <= sizeof(id)) {
		strcpy(key_bid, "b:");
		build_id__hex(map->build_id, map->build_id_len, key_bid + 2,
			      sizeof(key_bid) - 2);
		obj = objtab_find(&sym->objs, key_bid);
		if (obj)
			goto found;
	}
	if (map->dev || map->ino) {
		snprintf(key_file, sizeof(key_file), "f:%llx:%llx:%s",
			 (unsigned long long)map->dev,
			 (unsigned long long)map->ino, path);
		obj = objtab_find(&sym->objs, key_file);
		if (obj)
			goto found;
	}

	fd =
	    open_mapping(sym, map, path, deleted, file_name, sizeof(file_name));
	if (fd < 0) {
		pr_debug("failed to open '%s' of pid %d: %s", path, map->pid,
			 strerror(-fd));
		errno = -fd;
		return NULL;
	}
	/* Without a build id from the caller the file itself may still be
	 * one we hold (another process, another path to the same file). */
	if (!key_bid[0]) {
		n = fd__build_id(fd, id, sizeof(id));
		if (n > 0) {
			strcpy(key_bid, "b:");
			build_id__hex(id, (size_t)n, key_bid + 2,
				      sizeof(key_bid) - 2);
			obj = objtab_find(&sym->objs, key_bid);
			if (obj) {
				close(fd);
				goto found;
			}
		}
	}
	key_stat[0] = '\0';
	if (!fstat(fd, &st)) {
		snprintf(key_stat, sizeof(key_stat), "s:%llx:%llx",
			 (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
		if (!key_bid[0]) {
			obj = objtab_find(&sym->objs, key_stat);
			if (obj) {
				close(fd);
				goto found;
			}
		}
	}
	obj = object_new(sym, path, fd, file_name);
	if (!obj) {
		pr_debug("failed to load '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (key_bid[0])
		object_add_key(sym, obj, key_bid);
	else if (key_stat[0])
		/* Inode keys only without a build id: inodes get reused. */
		object_add_key(sym, obj, key_stat);
	if (key_file[0])
		object_add_key(sym, obj, key_file);
	return obj;

found:
	object_ref(sym, obj);
	if (key_file[0])
		object_add_key(sym, obj, key_file);
	return obj;
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
	uint64_t off, lookup_off, vaddr, lookup;

	out->n = 0;
	off = addr - map->start + map->pgoff;
	out->vaddr = off;
	if (!obj)
		return -ENOENT;
	if (dwobj__file_to_vaddr(obj, off, &vaddr))
		return -ENOENT;
	out->vaddr = vaddr;
	/* A return address points after the call: addr - 1 is in the call
	 * instruction, so the line is the calling one. */
	lookup_off = is_return && off ? off - 1 : off;
	if (dwobj__file_to_vaddr(obj, lookup_off, &lookup))
		lookup = vaddr;
	return dwobj__resolve(sym, obj, lookup, out);
}

int symbolizer__resolve_kernel(struct symbolizer *sym, uint64_t addr,
			       struct sym_result *out)
{
	const struct ksym *ks;

	out->n = 0;
	out->vaddr = addr;
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

int symbolizer__resolve_jit(struct symbolizer *sym, int pid, uint64_t addr,
			    struct sym_result *out)
{
	struct jit_map *m =
	    jit__get(&sym->jit, &sym->strs, sym->sysroot, pid, true);
	const struct jit_sym *js = jit__find(m, addr);

	out->n = 0;
	out->vaddr = addr;
	/* JITs append as they compile: a miss may be newer code. */
	if (!js && !jit__reload_if_changed(m, &sym->strs, sym->sysroot))
		js = jit__find(m, addr);
	if (!js)
		return -ENOENT;
	out->frames[0] = (struct sym_frame){.name = js->name};
	out->n = 1;
	return 0;
}

void symbolizer__load_jit(struct symbolizer *sym, int pid)
{
	struct jit_map *m =
	    jit__get(&sym->jit, &sym->strs, sym->sysroot, pid, false);

	if (m)
		jit__reload_if_changed(m, &sym->strs, sym->sysroot);
	else
		jit__get(&sym->jit, &sym->strs, sym->sysroot, pid, true);
}

void symbolizer__forget_pid(struct symbolizer *sym, int pid)
{
	jit__forget(&sym->jit, pid);
}

void symbolizer__stats(const struct symbolizer *sym,
		       struct symbolizer_stats *out)
{
	*out = sym->stats;
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
	strpool__release(&sym->strs);
	free((char *)sym->opts.kallsyms_path);
	free(sym->debuginfo_path);
	free(sym->sysroot);
	free(sym);
}
