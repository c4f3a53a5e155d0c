// SPDX-License-Identifier: MIT
/*
 * JIT symbols from perf maps (/tmp/perf-PID.map, lines "START SIZE name"
 * in hex without 0x), as written by V8, the JVM's perf-map-agent, LuaJIT,
 * Python 3.12's perf trampoline and others. Read through /proc/PID/root so
 * a process in a container finds its own /tmp.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "symbolizer/sym_int.h"

static int jit_cmp(const void *a, const void *b)
{
	const struct jit_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static FILE *open_map(struct jit_map *m, const char *sysroot)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/root/tmp/perf-%d.map", m->pid,
		 m->pid);
	f = fopen(path, "re");
	if (!f) {
		/* The process is gone (or /proc is not ours): host /tmp. */
		snprintf(path, sizeof(path), "%s/tmp/perf-%d.map", sysroot,
			 m->pid);
		f = fopen(path, "re");
	}
	if (f) {
		free(m->path);
		m->path = xstrdup(path);
	}
	return f;
}

static int jit_read(struct jit_map *m, struct strpool *sp, const char *sysroot)
{
	struct jit_sym *syms = NULL;
	size_t nr = 0, cap = 0, linecap = 0;
	char *line = NULL;
	struct stat st;
	ssize_t len;
	uint32_t seq = 0;
	FILE *f;
	int err;

	m->tried = true;
	f = open_map(m, sysroot);
	if (!f)
		return -errno;
	if (fstat(fileno(f), &st)) {
		err = -errno;
		goto out;
	}
	while ((len = getline(&line, &linecap, f)) > 0) {
		char *p = line, *end;
		uint64_t start, size;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		start = strtoull(p, &end, 16);
		if (end == p || *end != ' ')
			continue;
		p = end + 1;
		size = strtoull(p, &end, 16);
		if (end == p || *end != ' ' || !size)
			continue;
		if (nr == cap) {
			struct jit_sym *n;

			cap = cap ? cap * 2 : 256;
			n = realloc(syms, cap * sizeof(*n));
			if (!n) {
				err = -ENOMEM;
				goto out;
			}
			syms = n;
		}
		syms[nr].start = start;
		syms[nr].size = size;
		syms[nr].name = strpool__intern(sp, end + 1);
		syms[nr].seq = seq++;
		nr++;
	}
	qsort(syms, nr, sizeof(*syms), jit_cmp);
	free(m->syms);
	m->syms = syms;
	m->nr = nr;
	syms = NULL;
	m->mtime = st.st_mtim.tv_sec;
	m->mtime_ns = st.st_mtim.tv_nsec;
	m->size = st.st_size;
	err = 0;
out:
	free(syms);
	free(line);
	fclose(f);
	return err;
}

struct jit_map *jit__get(struct jit_maps *jm, struct strpool *sp,
			 const char *sysroot, int pid, bool create)
{
	struct jit_map **head = &jm->buckets[(unsigned)pid % JIT_BUCKETS];
	struct jit_map *m;

	for (m = *head; m; m = m->next)
		if (m->pid == pid)
			return m;
	if (!create)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->pid = pid;
	m->next = *head;
	*head = m;
	jit_read(m, sp, sysroot);
	return m;
}

int jit__reload_if_changed(struct jit_map *m, struct strpool *sp,
			   const char *sysroot)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/root/tmp/perf-%d.map", m->pid,
		 m->pid);
	if (stat(path, &st)) {
		snprintf(path, sizeof(path), "%s/tmp/perf-%d.map", sysroot,
			 m->pid);
		if (stat(path, &st))
			return -ENOENT;
	}
	if (m->tried && m->path && !strcmp(path, m->path) &&
	    st.st_mtim.tv_sec == m->mtime &&
	    st.st_mtim.tv_nsec == m->mtime_ns && st.st_size == m->size)
		return -EAGAIN; /* unchanged: the miss is real */
	return jit_read(m, sp, sysroot);
}

const struct jit_sym *jit__find(const struct jit_map *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nr;

	if (!m->nr || addr < m->syms[0].start)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].start <= addr)
			lo = mid;
		else
			hi = mid;
	}
	/* Entries may overlap (re-JITted code): walk back a little to the
	 * closest start that covers the address. */
	for (size_t i = lo + 1, n = 0; i-- > 0 && n < 16; n++) {
		const struct jit_sym *s = &m->syms[i];

		if (addr - s->start < s->size)
			return s;
	}
	return NULL;
}

static void jit_map_free(struct jit_map *m)
{
	free(m->syms);
	free(m->path);
	free(m);
}

void jit__forget(struct jit_maps *jm, int pid)
{
	struct jit_map **p = &jm->buckets[(unsigned)pid % JIT_BUCKETS];

	for (; *p; p = &(*p)->next) {
		if ((*p)->pid == pid) {
			struct jit_map *m = *p;

			*p = m->next;
			jit_map_free(m);
			return;
		}
	}
}

void jit__release(struct jit_maps *jm)
{
	for (size_t i = 0; i < JIT_BUCKETS; i++) {
		while (jm->buckets[i]) {
			struct jit_map *m = jm->buckets[i];

			jm->buckets[i] = m->next;
			jit_map_free(m);
		}
	}
}
