// SPDX-License-Identifier: MIT
/*
 * JIT symbols from perf maps (/tmp/perf-PID.map, lines "START SIZE name"
 * in hex without 0x), as written by V8, the JVM's perf-map-agent, LuaJIT,
 * Python 3.12's perf trampoline and others.
 *
 * The file belongs to the sampled process, so it is read as hostile input:
 * resolved inside the process's root (its own /tmp, never the host's view
 * of a container's symlinks), non-blocking and regular files only (a FIFO
 * there cannot stall the agent), and bounded in bytes per map and in all.
 * When the process is gone, the host's /tmp is read only if the file
 * belongs to the user the process ran as (as perf checks), or to root.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/safe_open.h"
#include "lib/xalloc.h"
#include "symbolizer/sym_int.h"

static int jit_cmp(const void *a, const void *b)
{
	const struct jit_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Opens the map as the process sees it, or the host's copy (see above). */
static int open_map(struct jit_read *m, const char *sysroot, bool *from_host)
{
	char path[PATH_MAX], name[64];
	struct stat st;
	int root, fd;

	snprintf(name, sizeof(name), "/tmp/perf-%d.map", m->pid);
	*from_host = false;
	if (!sysroot[0]) {
		snprintf(path, sizeof(path), "/proc/%d", m->pid);
		if (!m->have_uid) {
			/* Gone before its owner was known: the host's copy
			 * could not be trusted, nothing to open. */
			if (stat(path, &st))
				return -ESRCH;
			m->uid = st.st_uid;
			m->have_uid = true;
		}
		snprintf(path, sizeof(path), "/proc/%d/root", m->pid);
		root = safe_open_root(path);
		if (root >= 0) {
			fd = safe_open_in_root(root, name, SAFE_OPEN_ANY_SIZE);
			close(root);
			return fd;
		}
	}
	/* The process is gone (or a test's sysroot): the host's /tmp. */
	*from_host = true;
	snprintf(path, sizeof(path), "%s%s", sysroot, name);
	fd = safe_open(path, SAFE_OPEN_ANY_SIZE);
	if (fd < 0 || sysroot[0])
		return fd;
	if (fstat(fd, &st) || !m->have_uid ||
	    (st.st_uid != 0 && st.st_uid != m->uid)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static void refuse(struct jit_maps *jm, int pid, uint64_t size)
{
	jm->refused++;
	if (!jm->warned)
		pr_warn("not reading the JIT map of pid %d: %llu bytes, above "
			"the limit of %llu per map and %llu in all (see "
			"kiln_symbolizer_jit_maps_refused_total)",
			pid, (unsigned long long)size, JIT_MAX_FILE,
			JIT_MAX_TOTAL);
	jm->warned = true;
}

/* Reads the whole file, at most 'limit' bytes; NUL terminated. */
static int read_all(int fd, uint64_t size, char **out, size_t *len)
{
	char *buf = malloc(size + 1);
	size_t n = 0;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	while (n < size) {
		r = read(fd, buf + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int parse(struct jit_read *r)
{
	uint32_t seq = 0;
	char *line, *next;

	for (line = r->text; line && *line; line = next) {
		char *p = line, *end;
		uint64_t start, size;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		start = strtoull(p, &end, 16);
		if (end == p || *end != ' ')
			continue;
		p = end + 1;
		size = strtoull(p, &end, 16);
		if (end == p || *end != ' ' || !size)
			continue;
		if (r->nr == r->cap) {
			struct jit_sym *n;

			r->cap = r->cap ? r->cap * 2 : 256;
			n = realloc(r->syms, r->cap * sizeof(*n));
			if (!n)
				return -ENOMEM;
			r->syms = n;
		}
		r->syms[r->nr++] =
		    (struct jit_sym){start, size, end + 1, seq++};
	}
	qsort(r->syms, r->nr, sizeof(*r->syms), jit_cmp);
	return 0;
}

void jit__read_init(const struct jit_map *m, struct jit_read *r)
{
	*r = (struct jit_read){
	    .pid = m->pid,
	    .gen = m->gen,
	    .have_uid = m->have_uid,
	    .tried = m->tried,
	    .from_host = m->from_host,
	    .uid = m->uid,
	    .mtime = m->mtime,
	    .mtime_ns = m->mtime_ns,
	    .size = m->size,
	};
}

void jit__read(const char *sysroot, struct jit_read *r)
{
	struct stat st;
	bool from_host;
	int fd = open_map(r, sysroot, &from_host);

	if (fd < 0) {
		r->err = fd;
		return;
	}
	if (fstat(fd, &st)) {
		r->err = -errno;
		goto out;
	}
	if (r->tried && from_host == r->from_host &&
	    st.st_mtim.tv_sec == r->mtime &&
	    st.st_mtim.tv_nsec == r->mtime_ns && st.st_size == r->size) {
		r->err = -EAGAIN; /* unchanged: the miss is real */
		goto out;
	}
	r->from_host = from_host;
	r->mtime = st.st_mtim.tv_sec;
	r->mtime_ns = st.st_mtim.tv_nsec;
	r->size = st.st_size;
	if ((uint64_t)st.st_size > JIT_MAX_FILE) {
		r->err = -EFBIG;
		goto out;
	}
	r->err = read_all(fd, (uint64_t)st.st_size, &r->text, &r->len);
	if (!r->err)
		r->err = parse(r);
out:
	close(fd);
}

static void read_release(struct jit_read *r)
{
	free(r->syms);
	free(r->text);
	r->syms = NULL;
	r->text = NULL;
}

void jit__install(struct jit_maps *jm, struct jit_read *r)
{
	struct jit_map *m = jit__get(jm, r->pid, false);
	uint64_t bytes, others;

	if (!m || m->gen != r->gen) {
		read_release(r); /* forgotten (exited) meanwhile */
		return;
	}
	m->loading = false;
	m->tried = true;
	m->last_err = r->err;
	m->have_uid = r->have_uid;
	m->uid = r->uid;
	if (r->err == -EFBIG)
		refuse(jm, m->pid, (uint64_t)r->size);
	if (r->err) {
		read_release(r);
		return;
	}
	others = jm->bytes - m->bytes;
	bytes = r->len + 1 + r->cap * sizeof(*r->syms);
	if (others + bytes > JIT_MAX_TOTAL) {
		refuse(jm, m->pid, bytes);
		m->last_err = -EFBIG;
		read_release(r);
		return;
	}
	free(m->syms);
	free(m->text);
	m->syms = r->syms;
	m->text = r->text;
	m->nr = r->nr;
	r->syms = NULL;
	r->text = NULL;
	jm->bytes = others + bytes;
	m->bytes = bytes;
	m->from_host = r->from_host;
	m->mtime = r->mtime;
	m->mtime_ns = r->mtime_ns;
	m->size = r->size;
}

struct jit_map *jit__get(struct jit_maps *jm, int pid, bool create)
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
	m->gen = ++jm->gen;
	m->next = *head;
	*head = m;
	return m;
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

static void jit_map_free(struct jit_maps *jm, struct jit_map *m)
{
	jm->bytes -= m->bytes;
	free(m->syms);
	free(m->text);
	free(m);
}

void jit__forget(struct jit_maps *jm, int pid)
{
	struct jit_map **p = &jm->buckets[(unsigned)pid % JIT_BUCKETS];

	for (; *p; p = &(*p)->next) {
		if ((*p)->pid == pid) {
			struct jit_map *m = *p;

			*p = m->next;
			jit_map_free(jm, m);
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
			jit_map_free(jm, m);
		}
	}
}
