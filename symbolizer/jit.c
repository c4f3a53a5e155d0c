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
static int open_map(struct jit_map *m, const char *sysroot, bool *from_host)
{
	char path[PATH_MAX], name[64];
	struct stat st;
	int root, fd;

	snprintf(name, sizeof(name), "/tmp/perf-%d.map", m->pid);
	*from_host = false;
	if (!sysroot[0]) {
		snprintf(path, sizeof(path), "/proc/%d", m->pid);
		if (!m->have_uid && !stat(path, &st)) {
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

static void refuse(struct jit_maps *jm, const struct jit_map *m, uint64_t size)
{
	jm->refused++;
	if (!jm->warned)
		pr_warn("not reading the JIT map of pid %d: %llu bytes, above "
			"the limit of %llu per map and %llu in all (see "
			"kiln_symbolizer_jit_maps_refused_total)",
			m->pid, (unsigned long long)size, JIT_MAX_FILE,
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

static int jit_read(struct jit_maps *jm, struct jit_map *m, const char *sysroot)
{
	struct jit_sym *syms = NULL;
	size_t nr = 0, cap = 0, len = 0;
	uint64_t bytes, others = jm->bytes - m->bytes;
	char *text = NULL, *line, *next;
	struct stat st;
	uint32_t seq = 0;
	bool from_host;
	int fd, err;

	m->tried = true;
	fd = open_map(m, sysroot, &from_host);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > JIT_MAX_FILE ||
	    others + (uint64_t)st.st_size > JIT_MAX_TOTAL) {
		refuse(jm, m, (uint64_t)st.st_size);
		err = -EFBIG;
		goto out;
	}
	err = read_all(fd, (uint64_t)st.st_size, &text, &len);
	if (err)
		goto out;
	for (line = text; line && *line; line = next) {
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
		syms[nr++] = (struct jit_sym){start, size, end + 1, seq++};
	}
	bytes = len + 1 + cap * sizeof(*syms);
	if (others + bytes > JIT_MAX_TOTAL) {
		refuse(jm, m, bytes);
		err = -EFBIG;
		goto out;
	}
	qsort(syms, nr, sizeof(*syms), jit_cmp);
	free(m->syms);
	free(m->text);
	m->syms = syms;
	m->text = text;
	m->nr = nr;
	jm->bytes = others + bytes;
	m->bytes = bytes;
	syms = NULL;
	text = NULL;
	m->from_host = from_host;
	m->mtime = st.st_mtim.tv_sec;
	m->mtime_ns = st.st_mtim.tv_nsec;
	m->size = st.st_size;
	err = 0;
out:
	free(syms);
	free(text);
	close(fd);
	return err;
}

struct jit_map *jit__get(struct jit_maps *jm, const char *sysroot, int pid,
			 bool create)
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
	jit_read(jm, m, sysroot);
	return m;
}

int jit__reload_if_changed(struct jit_maps *jm, struct jit_map *m,
			   const char *sysroot)
{
	struct stat st;
	bool from_host;
	int fd = open_map(m, sysroot, &from_host);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		close(fd);
		return -ENOENT;
	}
	close(fd);
	if (m->tried && from_host == m->from_host &&
	    st.st_mtim.tv_sec == m->mtime &&
	    st.st_mtim.tv_nsec == m->mtime_ns && st.st_size == m->size)
		return -EAGAIN; /* unchanged: the miss is real */
	return jit_read(jm, m, sysroot);
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
