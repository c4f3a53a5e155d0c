// SPDX-License-Identifier: MIT
#include "profiler/proc_table.h"

#include <ctype.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/safe_open.h"
#include "lib/xalloc.h"

#define NR_BUCKETS 4096

/* A process as the table keeps it: the public part, then its own. */
struct proc_entry {
	struct proc_info pub;
	struct proc_mapping *maps; /* sorted by start */
	size_t nr_maps, cap_maps;
	bool exe_pending;
	struct proc_info *next; /* in its hash bucket */
};

/* Every proc_info comes from proc_new(), inside a proc_entry. */
static struct proc_entry *priv(struct proc_info *p)
{
	return (struct proc_entry *)((char *)p -
				     offsetof(struct proc_entry, pub));
}

static const struct proc_entry *priv_c(const struct proc_info *p)
{
	return (const struct proc_entry *)((const char *)p -
					   offsetof(struct proc_entry, pub));
}

struct proc_table {
	struct symbolizer *sym;
	struct proc_info *buckets[NR_BUCKETS];
	size_t count;
	size_t nr_dead;	 /* exited, not yet freed */
	uint64_t sweeps; /* proc_table__sweep() calls so far */
	int *exited;	 /* pids that exited since the last sweep or so */
	struct proc_table_listener listener;
	size_t nr_exited, cap_exited;
	struct cgroups *cgroups; /* borrowed, or NULL */
};

/* /proc files of other processes: never blocking, regular files only. */
static FILE *proc_fopen(const char *path)
{
	int fd = safe_open(path, SAFE_OPEN_ANY_SIZE);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "re");
	if (!f)
		close(fd);
	return f;
}

struct proc_table *proc_table__new(struct symbolizer *sym)
{
	struct proc_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->sym = sym;
	return t;
}

void proc_table__set_listener(struct proc_table *t,
			      const struct proc_table_listener *l)
{
	if (l)
		t->listener = *l;
	else
		memset(&t->listener, 0, sizeof(t->listener));
}

static void mapping_release(struct proc_table *t, struct proc_mapping *m)
{
	if (t->listener.mapping_removed)
		t->listener.mapping_removed(t->listener.ctx, &m->map);
	symbolizer__object_put(t->sym, m->obj);
	free((char *)m->map.path);
	free((uint8_t *)m->map.build_id);
}

static void clear_maps(struct proc_table *t, struct proc_info *p)
{
	struct proc_entry *e = priv(p);
	for (size_t i = 0; i < e->nr_maps; i++)
		mapping_release(t, &e->maps[i]);
	e->nr_maps = 0;
}

static void proc_free(struct proc_table *t, struct proc_info *p)
{
	clear_maps(t, p);
	free(priv(p)->maps);
	free(p->exe);
	free(p->build_id);
	free(p->container);
	free(priv(p));
}

void proc_table__free(struct proc_table *t)
{
	if (!t)
		return;
	for (size_t b = 0; b < NR_BUCKETS; b++) {
		struct proc_info *p = t->buckets[b], *next;

		for (; p; p = next) {
			next = priv(p)->next;
			proc_free(t, p);
		}
	}
	free(t->exited);
	free(t);
}

struct proc_info *proc_table__find(struct proc_table *t, int pid)
{
	for (struct proc_info *p = t->buckets[pid % NR_BUCKETS]; p;
	     p = priv(p)->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

/* Without cgroup ids (cgroups__container() unsupported): from /proc. */
static void read_container(struct proc_info *p)
{
	char path[64], line[512], id[13];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", p->pid);
	f = proc_fopen(path);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (cgroups__container_in_path(line, id)) {
			free(p->container);
			p->container = xstrdup(id);
			break;
		}
	fclose(f);
}

void proc_table__set_cgroups(struct proc_table *t, struct cgroups *cg)
{
	t->cgroups = cg;
}

void proc_table__sample_cgroup(struct proc_table *t, struct proc_info *p,
			       uint64_t id)
{
	const char *container = NULL;

	if (p->cgroup_known && p->cgroup_id == id)
		return;
	p->cgroup_known = true;
	p->cgroup_id = id;
	if (!t->cgroups || cgroups__container(t->cgroups, id, &container)) {
		/* Once per process: it has just been sampled, so is likely
		 * still there. */
		read_container(p);
		return;
	}
	free(p->container);
	p->container = container ? xstrdup(container) : NULL;
}

static struct proc_info *proc_new(struct proc_table *t, int pid)
{
	struct proc_entry *e = xcalloc(1, sizeof(*e));
	struct proc_info *p = &e->pub;
	size_t b = pid % NR_BUCKETS;

	p->pid = pid;
	priv(p)->next = t->buckets[b];
	t->buckets[b] = p;
	t->count++;
	return p;
}

/* Removes mappings overlapping [start, end): a new mmap replaces them. */
static void unmap_range(struct proc_table *t, struct proc_info *p,
			uint64_t start, uint64_t end)
{
	struct proc_entry *e = priv(p);
	size_t out = 0;

	for (size_t i = 0; i < e->nr_maps; i++) {
		struct proc_mapping *m = &e->maps[i];

		if (m->map.start < end && start < m->map.end)
			mapping_release(t, m);
		else
			e->maps[out++] = *m;
	}
	e->nr_maps = out;
}

static void set_exe(struct proc_info *p, const char *path,
		    struct sym_object *obj)
{
	if (p->exe != path) {
		free(p->exe);
		p->exe = xstrdup(path);
	}
	free(p->build_id);
	p->build_id = obj && *sym_object__build_id(obj)
			  ? xstrdup(sym_object__build_id(obj))
			  : NULL;
}

static void add_mapping(struct proc_table *t, struct proc_info *p,
			const struct sym_mapping *map)
{
	struct proc_entry *e = priv(p);
	struct proc_mapping m = {.map = *map};
	size_t pos;

	m.map.pid = p->pid;
	m.anon = !map->path[0] || !strcmp(map->path, "//anon") ||
		 !strncmp(map->path, "[anon", 5) ||
		 !strncmp(map->path, "/memfd:", 7);
	if (map->path[0] == '[' && strcmp(map->path, "[vdso]"))
		return; /* [vsyscall], [uprobes]: nothing to symbolize */
	if (m.anon)	/* a JIT's new code: its perf map may have grown */
		symbolizer__jit_changed(t->sym, p->pid);
	unmap_range(t, p, map->start, map->end);
	m.map.path = xstrdup(map->path);
	if (map->build_id_len) {
		uint8_t *id = xmalloc(map->build_id_len);
		memcpy(id, map->build_id, map->build_id_len);
		m.map.build_id = id;
	}
	if (e->exe_pending && !m.anon && map->path[0] == '/') {
		set_exe(p, map->path, NULL);
		e->exe_pending = false;
	}
	if (e->nr_maps == e->cap_maps) {
		e->cap_maps = e->cap_maps ? e->cap_maps * 2 : 16;
		e->maps = xrealloc(e->maps, e->cap_maps * sizeof(*e->maps));
	}
	for (pos = e->nr_maps;
	     pos > 0 && e->maps[pos - 1].map.start > m.map.start; pos--)
		e->maps[pos] = e->maps[pos - 1];
	e->maps[pos] = m;
	e->nr_maps++;
	if (t->listener.mapping_added)
		t->listener.mapping_added(t->listener.ctx, &m.map);
}

void proc_info__named_unread(struct proc_info *p, uint64_t addr)
{
	struct proc_entry *e = priv(p);
	const struct proc_mapping *m = proc_info__lookup(p, addr);

	if (m)
		e->maps[m - e->maps].named_unread = true;
}

const struct proc_mapping *proc_info__lookup(const struct proc_info *p,
					     uint64_t addr)
{
	const struct proc_entry *e = priv_c(p);
	size_t lo = 0, hi = e->nr_maps;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (e->maps[mid].map.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct proc_mapping *m = &e->maps[lo - 1];
	return addr < m->map.end ? m : NULL;
}

void proc_table__open_objects(struct proc_table *t, struct proc_info *p,
			      const uint64_t *addrs, size_t n)
{
	const struct proc_mapping *last = NULL;
	bool jit_missed = false;

	for (size_t i = 0; i < n; i++) {
		struct proc_mapping *m;
		int err;

		/* Called for every sample: neighbouring frames are mostly in
		 * one object, so the previous frame's mapping is tried before
		 * a search of the table. */
		if (last && addrs[i] >= last->map.start &&
		    addrs[i] < last->map.end && last->tried && !last->anon)
			continue;
		m = (struct proc_mapping *)proc_info__lookup(p, addrs[i]);
		last = m;
		if (!m || m->anon) {
			/* JIT code, or a frame-pointer walk's garbage: the
			 * perf map is looked at (off this thread, rarely).
			 * One miss asks for the process's map: the rest of
			 * the stack would only meet the same rate limit. */
			struct sym_result r;

			if (!jit_missed && symbolizer__resolve_jit(
					       t->sym, p->pid, addrs[i], &r))
				jit_missed = true;
			continue;
		}
		if (m->tried)
			continue;
		m->tried = true;
		err = symbolizer__object_request(t->sym, &m->map, &m->obj);
		if (err == -EINPROGRESS) {
			m->loading = true;
			continue;
		}
		if (err == -EAGAIN) {
			m->tried = false; /* the loader is busy: next sample */
			continue;
		}
		if (!m->obj) {
			pr_debug("pid %d: cannot open '%s': %s", p->pid,
				 m->map.path, strerror(-err));
			continue;
		}
		if (p->exe && !p->build_id && !strcmp(m->map.path, p->exe))
			set_exe(p, p->exe, m->obj);
	}
}

/* Frames of 'obj' were stored by offset before it was read: the agent's
 * renamer names them now (cli/renamer.c). */
static void note_named_late(struct proc_table *t, struct sym_object *obj)
{
	const char *build_id = obj ? sym_object__build_id(obj) : NULL;

	if (build_id && build_id[0])
		symbolizer__note_improved(t->sym, build_id);
}

void proc_table__object_loaded(void *ctx, const struct sym_mapping *map,
			       struct sym_object *obj)
{
	struct proc_table *t = ctx;
	struct proc_info *p = proc_table__find(t, map->pid);

	for (size_t i = 0; p && i < priv(p)->nr_maps; i++) {
		struct proc_mapping *m = &priv(p)->maps[i];

		if (!m->loading || m->map.start != map->start ||
		    m->map.end != map->end || strcmp(m->map.path, map->path))
			continue;
		m->loading = false;
		m->obj = obj;
		if (m->named_unread)
			note_named_late(t, obj);
		m->named_unread = false;
		if (obj && p->exe && !p->build_id &&
		    !strcmp(m->map.path, p->exe))
			set_exe(p, p->exe, obj);
		return;
	}
	/* Unmapped, exec'd or exited meanwhile: a short-lived process's
	 * samples were most likely named before the file was read. */
	note_named_late(t, obj);
	symbolizer__object_put(t->sym, obj);
}

static void read_comm(struct proc_info *p)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", p->pid);
	f = proc_fopen(path);
	if (!f)
		return;
	if (fgets(p->comm, sizeof(p->comm), f))
		p->comm[strcspn(p->comm, "\n")] = 0;
	fclose(f);
}

int proc_table__scan(struct proc_table *t, int pid)
{
	char path[64], line[4096], exe[4096];
	struct proc_info *p;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = proc_fopen(path);
	if (!f)
		return -errno;
	p = proc_table__find(t, pid);
	if (!p)
		p = proc_new(t, pid);
	clear_maps(t, p);
	priv(p)->exe_pending = false;
	read_comm(p);
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		free(p->exe);
		p->exe = xstrdup(exe);
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off, ino;
		unsigned int maj, min;
		char perms[8];
		int pos = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start,
			   &end, perms, &off, &maj, &min, &ino, &pos) < 7)
			continue;
		if (perms[2] != 'x')
			continue;
		char *name = line + pos;
		name[strcspn(name, "\n")] = 0;
		struct sym_mapping map = {
		    .start = start,
		    .end = end,
		    .pgoff = off,
		    .path = name,
		    .dev = ((uint64_t)maj << 32) | min,
		    .ino = ino,
		};
		add_mapping(t, p, &map);
	}
	fclose(f);
	return 0;
}

int proc_table__scan_all(struct proc_table *t)
{
	DIR *dir = opendir("/proc");
	struct dirent *d;

	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		proc_table__scan(t, (int)pid);
	}
	closedir(dir);
	return 0;
}

struct proc_info *proc_table__get(struct proc_table *t, int pid)
{
	struct proc_info *p = proc_table__find(t, pid);

	if (p)
		return p;
	if (proc_table__scan(t, pid) == 0)
		return proc_table__find(t, pid);
	return proc_new(t, pid);
}

/* A pid seen alive again (exec after an exit record, or pid reuse). */
static void revive(struct proc_table *t, struct proc_info *p)
{
	if (p->dead) {
		p->dead = false;
		t->nr_dead--;
	}
}

void proc_table__handle(struct proc_table *t, const struct task_event *e)
{
	struct proc_info *p, *parent;

	switch (e->type) {
	case TASK_MMAP: {
		struct sym_mapping map = {
		    .start = e->addr,
		    .end = e->addr + e->len,
		    .pgoff = e->pgoff,
		    .path = e->filename,
		    .build_id = e->build_id,
		    .build_id_len = e->build_id_len,
		    .dev = e->dev,
		    .ino = e->ino,
		};
		p = proc_table__find(t, e->pid);
		if (!p)
			p = proc_new(t, e->pid);
		add_mapping(t, p, &map);
		break;
	}
	case TASK_COMM:
		if (e->pid != e->tid)
			break; /* a thread renamed itself */
		p = proc_table__find(t, e->pid);
		if (!p)
			p = proc_new(t, e->pid);
		snprintf(p->comm, sizeof(p->comm), "%s", e->comm);
		if (e->exec) {
			/* A new image: the old mappings are gone, the next
			 * file mapping is the executable. */
			clear_maps(t, p);
			priv(p)->exe_pending = true;
			revive(t, p);
		}
		break;
	case TASK_FORK:
		if (e->pid == e->ppid)
			break; /* a new thread */
		p = proc_table__find(t, e->pid);
		/* Records come from per-CPU buffers, so the child's exec (on
		 * another CPU) may arrive before its fork: a live entry is
		 * already newer than this record. */
		if (p && !p->dead)
			break;
		if (p) { /* pid reuse: start over */
			clear_maps(t, p);
			revive(t, p);
			free(p->build_id);
			free(p->container);
			p->build_id = p->container = NULL;
			p->cgroup_known = false;
		} else {
			p = proc_new(t, e->pid);
		}
		parent = proc_table__find(t, e->ppid);
		if (!parent)
			break;
		memcpy(p->comm, parent->comm, sizeof(p->comm));
		if (parent->exe)
			set_exe(p, parent->exe, NULL);
		if (parent->build_id)
			p->build_id = xstrdup(parent->build_id);
		if (parent->container)
			p->container = xstrdup(parent->container);
		p->cgroup_id = parent->cgroup_id;
		p->cgroup_known = parent->cgroup_known;
		for (size_t i = 0; i < priv(parent)->nr_maps; i++)
			add_mapping(t, p, &priv(parent)->maps[i].map);
		break;
	case TASK_EXIT:
		if (e->pid != e->tid)
			break;
		p = proc_table__find(t, e->pid);
		if (p && !p->dead) {
			p->dead = true;
			p->exit_sweep = t->sweeps;
			t->nr_dead++;
			if (t->nr_exited == t->cap_exited) {
				t->cap_exited =
				    t->cap_exited ? t->cap_exited * 2 : 64;
				t->exited =
				    xrealloc(t->exited, t->cap_exited *
							    sizeof(*t->exited));
			}
			t->exited[t->nr_exited++] = p->pid;
			/* Only JIT runtimes map anonymous executable memory;
			 * read their perf map before /proc/PID goes away. */
			for (size_t i = 0; i < priv(p)->nr_maps; i++)
				if (priv(p)->maps[i].anon) {
					symbolizer__load_jit(t->sym, e->pid);
					break;
				}
		}
		break;
	}
}

static void unlink_and_free(struct proc_table *t, struct proc_info *p)
{
	struct proc_info **pp = &t->buckets[p->pid % NR_BUCKETS];

	while (*pp != p)
		pp = &priv(*pp)->next;
	*pp = priv(p)->next;
	symbolizer__forget_pid(t->sym, p->pid);
	proc_free(t, p);
	t->count--;
	t->nr_dead--;
}

size_t proc_table__reap(struct proc_table *t)
{
	for (size_t b = 0; b < NR_BUCKETS; b++)
		for (struct proc_info *p = t->buckets[b]; p; p = priv(p)->next)
			p->pending = false;
	t->nr_exited = 0;
	return proc_table__prune(t);
}

size_t proc_table__prune(struct proc_table *t)
{
	size_t pruned = 0;

	/* Records arrive from per-CPU buffers in no global order, so an mmap
	 * or comm record can recreate a process after its exit was seen.
	 * Such entries never get another exit: ask the kernel. */
	for (size_t b = 0; b < NR_BUCKETS; b++) {
		struct proc_info *p = t->buckets[b], *next;

		for (; p; p = next) {
			next = priv(p)->next;
			if (p->pending)
				continue;
			if (!p->dead &&
			    (kill(p->pid, 0) == 0 || errno != ESRCH))
				continue;
			if (!p->dead) {
				p->dead = true;
				t->nr_dead++;
			}
			unlink_and_free(t, p);
			pruned++;
		}
	}
	return pruned;
}

void proc_table__sweep(struct proc_table *t)
{
	size_t kept = 0;

	/* Samples taken before an exit are in the ring buffer by the time
	 * the exit is seen: one full drain later, an exited process with
	 * nothing pending can go. This keeps the table small under churn;
	 * the ones with pending samples go at the next reap. */
	for (size_t i = 0; i < t->nr_exited; i++) {
		struct proc_info *p = proc_table__find(t, t->exited[i]);

		if (!p || !p->dead || p->pending)
			continue;
		if (p->exit_sweep < t->sweeps)
			unlink_and_free(t, p);
		else
			t->exited[kept++] = t->exited[i];
	}
	t->nr_exited = kept;
	t->sweeps++;
}

size_t proc_table__count(const struct proc_table *t)
{
	return t->count;
}
