// SPDX-License-Identifier: MIT
/*
 * Symbolizer tests against real ELF files: fixture programs are compiled
 * with gcc at test time (PIE, non-PIE, stripped with a .gnu_debuglink, a
 * shared library), run as child processes, and resolved through their
 * real /proc/PID/maps.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbolizer/symbolizer.h"

/* A fixed build id, so the test knows what read_build_id must return. */
#define FIX_BUILD_ID "0123456789abcdef0123456789abcdef01234567"

static char fixdir[1024]; /* tests/fixtures in the source tree */
static char tmpdir[256];
/* Children still running when an assertion fails are killed at teardown. */
static pid_t live[16];

static int line_mark_inner, line_call_inner, line_call_middle, line_call_leaf,
    line_lib;

static void __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "fixture command failed (%d): %s\n", rc, cmd);
		fail_msg("fixture command failed: %s", cmd);
	}
}

static void path_in(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* The line of the fixture that carries 'marker' in a comment. */
static int marker_line(const char *file, const char *marker)
{
	char path[PATH_MAX], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", fixdir, file);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, marker)) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	fail_msg("marker '%s' not in '%s'", marker, path);
	return 0;
}

static int setup_fixtures(void **state)
{
	char src[PATH_MAX], abs_src[PATH_MAX];
	char *slash;

	(void)state;
	snprintf(fixdir, sizeof(fixdir), "%s", __FILE__);
	slash = strrchr(fixdir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(fixdir, ".");
	strncat(fixdir, "/fixtures", sizeof(fixdir) - strlen(fixdir) - 1);
	snprintf(src, sizeof(src), "%s/sym_prog.c", fixdir);
	if (access(src, R_OK)) {
		fprintf(stderr,
			"fixture '%s' not found: run from the repo root\n",
			src);
		return -1;
	}
	strcpy(tmpdir, "/tmp/kiln-test-sym-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;

	sh("gcc -O2 -g -fPIE -pie -Wl,--build-id=0x" FIX_BUILD_ID
	   " %s -o %s/prog_pie",
	   src, tmpdir);
	sh("gcc -O2 -g -fno-pie -no-pie %s -o %s/prog_nopie", src, tmpdir);
	/* Stripped of everything, even .symtab: names and lines can only
	 * come from the debug file named by the debuglink. */
	sh("cd %s && cp prog_pie prog_stripped && "
	   "objcopy --only-keep-debug prog_stripped prog_stripped.debug && "
	   "objcopy --strip-all --add-gnu-debuglink=prog_stripped.debug "
	   "prog_stripped",
	   tmpdir);
	/* Stripped with no debug file anywhere: only .eh_frame is left. */
	sh("cd %s && strip --strip-all -o prog_bare prog_pie", tmpdir);
	sh("gcc -O2 -g -shared -fPIC %s/sym_lib.c -o %s/libkfix.so", fixdir,
	   tmpdir);
	if (!realpath(src, abs_src))
		return -1;
	/* No build id: a debug file is matched by the debuglink's CRC. In
	 * crc_bad/ the file at the debuglink's name is another build (its
	 * functions renamed), which must be refused. */
	sh("cd %s && mkdir crc_ok crc_bad && "
	   "gcc -O2 -g -fPIE -pie -Wl,--build-id=none %s -o crc_ok/prog && "
	   "objcopy --only-keep-debug crc_ok/prog crc_ok/prog.debug && "
	   "objcopy --strip-all --add-gnu-debuglink=crc_ok/prog.debug "
	   "crc_ok/prog && cp crc_ok/prog crc_bad/prog && "
	   "gcc -O2 -g -fPIE -pie -Wl,--build-id=none -Dkfix_outer=wrong_outer "
	   "%s -o crc_bad/full && "
	   "objcopy --only-keep-debug crc_bad/full crc_bad/prog.debug",
	   tmpdir, abs_src, abs_src);
	/* A dwz link to a path outside the debug root (a FIFO, say). */
	sh("cd %s && printf '/tmp/kiln-no-such-dwz\\0aaaaaaaaaaaaaaaaaaaa' "
	   "> altlink && objcopy --add-section .gnu_debugaltlink=altlink "
	   "prog_pie prog_altlink",
	   tmpdir);

	line_mark_inner = marker_line("sym_prog.c", "MARK_INNER");
	line_call_inner = marker_line("sym_prog.c", "CALL_INNER */");
	line_call_middle = marker_line("sym_prog.c", "CALL_MIDDLE");
	line_call_leaf = marker_line("sym_prog.c", "CALL_LEAF");
	line_lib = marker_line("sym_lib.c", "LIB_LINE");
	return 0;
}

static int teardown_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (live[i] > 0) {
			kill(live[i], SIGKILL);
			waitpid(live[i], NULL, 0);
		}
	}
	if (tmpdir[0])
		sh("rm -rf '%s'", tmpdir);
	return 0;
}

/* ---- child processes ---- */

static void live_add(pid_t pid)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (!live[i]) {
			live[i] = pid;
			return;
		}
}

static void live_del(pid_t pid)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == pid)
			live[i] = 0;
}

struct child {
	pid_t pid;
	uint64_t outer, mark, ret, sink;
};

static void child_start(const char *bin, struct child *c)
{
	int pfd[2];
	FILE *f;
	int n;

	assert_int_equal(pipe(pfd), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execl(bin, bin, "sleep", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	live_add(c->pid);
	f = fdopen(pfd[0], "r");
	assert_non_null(f);
	n = fscanf(f,
		   "outer=%" SCNx64 " mark=%" SCNx64 " ret=%" SCNx64
		   " sink=%" SCNx64,
		   &c->outer, &c->mark, &c->ret, &c->sink);
	fclose(f);
	if (n != 4) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		fail_msg("fixture '%s' printed no addresses", bin);
	}
}

static void child_stop(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		live_del(c->pid);
		c->pid = 0;
	}
}

/* The /proc/PID/maps line covering 'addr'. */
static int find_mapping(int pid, uint64_t addr, struct sym_mapping *m,
			char *path, size_t size)
{
	char file[64], line[PATH_MAX + 128];
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/maps", pid);
	f = fopen(file, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off, ino;
		unsigned maj, min;
		int pos = 0;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start,
			   &end, perms, &off, &maj, &min, &ino, &pos) < 7)
			continue;
		if (addr < start || addr >= end)
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(path, size, "%s", pos ? line + pos : "");
		memset(m, 0, sizeof(*m));
		m->pid = pid;
		m->start = start;
		m->end = end;
		m->pgoff = off;
		m->path = path;
		m->dev = ((uint64_t)maj << 8) | min;
		m->ino = ino;
		fclose(f);
		return 0;
	}
	fclose(f);
	return -ENOENT;
}

/* nm's value for 'name' in 'bin' (the ELF vaddr). */
static uint64_t nm_addr(const char *bin, const char *name)
{
	char cmd[2 * PATH_MAX], line[512], type, sym[256];
	unsigned long long v;
	uint64_t found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm '%s'", bin);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%llx %c %255s", &v, &type, sym) == 3 &&
		    !strcmp(sym, name))
			found = v;
	pclose(p);
	if (!found)
		fail_msg("nm found no '%s' in '%s'", name, bin);
	return found;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return s && a >= b && !strcmp(s + a - b, suffix);
}

/* Resolves 'addr' of a live child: mapping, object, frames. */
static int resolve_in(struct symbolizer *sym, int pid, uint64_t addr,
		      bool is_return, struct sym_result *res,
		      struct sym_object **objp)
{
	char path[PATH_MAX];
	struct sym_mapping m;
	struct sym_object *obj;
	int err;

	assert_int_equal(find_mapping(pid, addr, &m, path, sizeof(path)), 0);
	obj = symbolizer__object_get(sym, &m);
	assert_non_null(obj);
	err = symbolizer__resolve(sym, obj, &m, addr, is_return, res);
	if (objp)
		*objp = obj;
	else
		symbolizer__object_put(sym, obj);
	return err;
}

static void check_inline_chain(const struct sym_result *r)
{
	assert_int_equal(r->n, 3);
	assert_string_equal(r->frames[0].name, "kfix_outer");
	assert_false(r->frames[0].inlined);
	assert_int_equal(r->frames[0].line, line_call_middle);
	assert_string_equal(r->frames[1].name, "kfix_middle");
	assert_true(r->frames[1].inlined);
	assert_int_equal(r->frames[1].line, line_call_inner);
	assert_string_equal(r->frames[2].name, "kfix_inner");
	assert_true(r->frames[2].inlined);
	assert_int_equal(r->frames[2].line, line_mark_inner);
	for (size_t i = 0; i < 3; i++)
		assert_true(ends_with(r->frames[i].file, "/sym_prog.c"));
}

/* ---- tests ---- */

static void test_symbolizer__inline_chain(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_result r;
	char bin[PATH_MAX];
	struct child c;

	(void)state;
	assert_non_null(sym);
	path_in(bin, sizeof(bin), "prog_pie");
	child_start(bin, &c);
	assert_int_equal(resolve_in(sym, c.pid, c.mark, false, &r, NULL), 0);
	child_stop(&c);
	check_inline_chain(&r);
	symbolizer__free(sym);
}

static void test_symbolizer__return_address_uses_call_line(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_result r;
	char bin[PATH_MAX];
	struct child c;

	(void)state;
	path_in(bin, sizeof(bin), "prog_pie");
	child_start(bin, &c);
	assert_int_equal(resolve_in(sym, c.pid, c.ret, true, &r, NULL), 0);
	child_stop(&c);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.frames[0].name, "kfix_caller");
	assert_int_equal(r.frames[0].line, line_call_leaf);
	/* vaddr is the return address itself, not the adjusted one. */
	assert_int_equal(r.vaddr,
			 c.ret - (c.outer - nm_addr(bin, "kfix_outer")));
	symbolizer__free(sym);
}

static void test_symbolizer__debuglink(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_result r;
	char bin[PATH_MAX];
	struct child c;

	(void)state;
	path_in(bin, sizeof(bin), "prog_stripped");
	child_start(bin, &c);
	assert_int_equal(resolve_in(sym, c.pid, c.mark, false, &r, NULL), 0);
	check_inline_chain(&r);
	assert_int_equal(resolve_in(sym, c.pid, c.outer, false, &r, NULL), 0);
	child_stop(&c);
	assert_string_equal(r.frames[0].name, "kfix_outer");
	symbolizer__free(sym);
}

/* Without a build id, the debug file must have the debuglink's CRC. */
static void test_symbolizer__debuglink_crc(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct symbolizer_stats st;
	struct sym_result r;
	char bin[PATH_MAX];
	struct child c;

	(void)state;
	path_in(bin, sizeof(bin), "crc_ok/prog");
	child_start(bin, &c);
	assert_int_equal(resolve_in(sym, c.pid, c.outer, false, &r, NULL), 0);
	child_stop(&c);
	assert_string_equal(r.frames[0].name, "kfix_outer");
	symbolizer__free(sym);

	sym = symbolizer__new(NULL);
	path_in(bin, sizeof(bin), "crc_bad/prog");
	child_start(bin, &c);
	resolve_in(sym, c.pid, c.outer, false, &r, NULL);
	child_stop(&c);
	for (size_t i = 0; i < r.n; i++)
		assert_string_not_equal(r.frames[i].name, "wrong_outer");
	symbolizer__stats(sym, &st);
	assert_true(st.debug_files_rejected >= 1);
	symbolizer__free(sym);
}

/* A .gnu_debugaltlink outside the debug root: no dwz file is given, so
 * DWARF is off (libdw would open that path itself); symbols still work. */
static void test_symbolizer__altlink_outside_debug_root(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_result r;
	char bin[PATH_MAX];
	struct child c;

	(void)state;
	path_in(bin, sizeof(bin), "prog_altlink");
	child_start(bin, &c);
	assert_int_equal(resolve_in(sym, c.pid, c.outer, false, &r, NULL), 0);
	child_stop(&c);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.frames[0].name, "kfix_outer");
	assert_null(r.frames[0].file);
	symbolizer__free(sym);
}

/* Without any symbols, every address of a function is named by the module
 * and the function's start, from its .eh_frame FDE. */
static void test_symbolizer__stripped_groups_by_function(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_result r;
	char bin[PATH_MAX], full[PATH_MAX], want[64];
	struct child c;

	(void)state;
	path_in(bin, sizeof(bin), "prog_bare");
	path_in(full, sizeof(full), "prog_pie");
	snprintf(want, sizeof(want), "prog_bare+0x%" PRIx64,
		 nm_addr(full, "kfix_outer"));
	child_start(bin, &c);
	/* mark (inside inlined code) and outer: two addresses, one name. */
	assert_int_equal(resolve_in(sym, c.pid, c.mark, false, &r, NULL), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.frames[0].name, want);
	assert_null(r.frames[0].system_name);
	assert_int_equal(resolve_in(sym, c.pid, c.outer, false, &r, NULL), 0);
	assert_string_equal(r.frames[0].name, want);
	assert_int_equal(resolve_in(sym, c.pid, c.outer + 1, false, &r, NULL),
			 0);
	assert_string_equal(r.frames[0].name, want);
	/* Data is in no FDE. */
	assert_int_equal(resolve_in(sym, c.pid, c.sink, false, &r, NULL),
			 -ENOENT);
	child_stop(&c);
	symbolizer__free(sym);
}

/*
 * Debian's libc is stripped; its DWARF only exists in libc6-dbg's
 * /usr/lib/debug/.build-id/xx/rest.debug (scripts/deps.sh installs it).
 */
static void test_symbolizer__build_id_debug_file(void **state)
{
	/* libc's DWARF is 10 MB decompressed: above the default cap. */
	struct symbolizer_opts opts = {.max_cache_bytes = 64 << 20};
	struct symbolizer *sym = symbolizer__new(&opts);
	char debug[PATH_MAX], hex[129];
	struct sym_object *obj;
	struct sym_result r;
	uint64_t addr = (uint64_t)(uintptr_t)&qsort;

	(void)state;
	assert_int_equal(resolve_in(sym, getpid(), addr, false, &r, &obj), 0);
	snprintf(hex, sizeof(hex), "%s", sym_object__build_id(obj));
	assert_int_equal(strlen(hex), 40);
	snprintf(debug, sizeof(debug), "/usr/lib/debug/.build-id/%.2s/%s.debug",
		 hex, hex + 2);
	if (access(debug, R_OK))
		fail_msg("'%s' is missing: install libc6-dbg (scripts/deps.sh)",
			 debug);
	assert_true(r.n >= 1);
	assert_true(strstr(r.frames[0].name, "qsort") != NULL);
	/* Only the debug file has lines. */
	assert_non_null(r.frames[r.n - 1].file);
	assert_true(r.frames[r.n - 1].line > 0);
	symbolizer__object_put(sym, obj);
	symbolizer__free(sym);
}

static void no_waiter(void *ctx, const struct sym_mapping *map,
		      struct sym_object *obj)
{
	(void)ctx;
	(void)map;
	(void)obj;
	fail_msg("a reload has no waiter");
}

/*
 * Over the cache's ceiling, an object in use is unloaded (everything read
 * from its file freed): resolving it then asks the loader thread to read
 * it again and answers -ENOENT meanwhile; once read, it resolves as
 * before, and its build id is queued so that the frames stored by offset
 * meanwhile are named again (it is kept read through the next flush for
 * that). Memory stays bounded; only latency is lost.
 */
static void test_symbolizer__unload_in_use_and_reload(void **state)
{
	struct symbolizer_opts opts = {.max_cache_bytes = 1,
				       .max_object_debug_bytes = 64 << 20};
	struct symbolizer *sym = symbolizer__new(&opts);
	struct symbolizer_stats st;
	struct sym_mapping m;
	struct sym_object *obj;
	struct sym_result r;
	char bin[PATH_MAX], path[PATH_MAX], id[132];
	struct child c;
	int err = -ENOENT;

	(void)state;
	path_in(bin, sizeof(bin), "prog_pie");
	child_start(bin, &c);
	assert_int_equal(find_mapping(c.pid, c.mark, &m, path, sizeof(path)),
			 0);
	obj = symbolizer__object_get(sym, &m);
	assert_non_null(obj);
	symbolizer__stats(sym, &st);
	assert_true(st.objects_unloaded >= 1);
	assert_int_equal(symbolizer__resolve(sym, obj, &m, c.mark, false, &r),
			 -ENOENT);
	assert_false(symbolizer__take_improved(sym, id, sizeof(id)));
	for (int i = 0; i < 100 && err; i++) {
		symbolizer__object_collect(sym, 100, no_waiter, NULL);
		err = symbolizer__resolve(sym, obj, &m, c.mark, false, &r);
	}
	child_stop(&c);
	assert_int_equal(err, 0);
	check_inline_chain(&r);
	symbolizer__stats(sym, &st);
	assert_true(st.objects_reloaded >= 1);
	/* The frame answered -ENOENT was stored as module+0xoffset. */
	assert_true(symbolizer__take_improved(sym, id, sizeof(id)));
	assert_string_equal(id, sym_object__build_id(obj));
	assert_true(id[0]);
	/* Kept through the next flush's trim, so the renamer (after the
	 * window is written) finds it read; unloaded again at the one after. */
	symbolizer__trim(sym);
	assert_int_equal(symbolizer__resolve_build_id(sym, id, r.offset, &r),
			 0);
	symbolizer__trim(sym);
	assert_int_equal(symbolizer__resolve_build_id(sym, id, r.offset, &r),
			 -EAGAIN);
	symbolizer__object_put(sym, obj);
	symbolizer__free(sym);
}

static void test_symbolizer__pie_and_non_pie(void **state)
{
	static const char *const bins[] = {"prog_pie", "prog_nopie"};
	struct symbolizer *sym = symbolizer__new(NULL);

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct sym_result r;
		char bin[PATH_MAX];
		struct child c;

		path_in(bin, sizeof(bin), bins[i]);
		child_start(bin, &c);
		assert_int_equal(
		    resolve_in(sym, c.pid, c.outer, false, &r, NULL), 0);
		assert_string_equal(r.frames[0].name, "kfix_outer");
		assert_false(r.frames[0].inlined);
		assert_int_equal(r.vaddr, nm_addr(bin, "kfix_outer"));
		if (i == 1) /* non-PIE: runtime address is the vaddr */
			assert_int_equal(r.vaddr, c.outer);
		else /* PIE: loaded away from its link address */
			assert_int_not_equal(r.vaddr, c.outer);
		assert_int_equal(
		    resolve_in(sym, c.pid, c.mark, false, &r, NULL), 0);
		child_stop(&c);
		check_inline_chain(&r);
	}
	symbolizer__free(sym);
}

static void test_symbolizer__shared_library(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_object *obj;
	struct sym_result r;
	char lib[PATH_MAX];
	uint8_t id[64];
	char hex[129];
	void *h, *fn;
	int len;

	(void)state;
	path_in(lib, sizeof(lib), "libkfix.so");
	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	fn = dlsym(h, "kfix_lib_func");
	assert_non_null(fn);
	assert_int_equal(resolve_in(sym, getpid(), (uint64_t)(uintptr_t)fn + 1,
				    false, &r, &obj),
			 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.frames[0].name, "kfix_lib_func");
	assert_true(ends_with(r.frames[0].file, "/sym_lib.c"));
	assert_true(r.frames[0].line >= (uint32_t)line_lib - 2 &&
		    r.frames[0].line <= (uint32_t)line_lib);
	assert_int_equal(r.vaddr, nm_addr(lib, "kfix_lib_func") + 1);

	len = symbolizer__read_build_id(lib, id, sizeof(id));
	assert_true(len > 0);
	for (int i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	assert_string_equal(sym_object__build_id(obj), hex);
	assert_string_equal(sym_object__path(obj), lib);
	symbolizer__object_put(sym, obj);
	dlclose(h);
	symbolizer__free(sym);
}

static void test_symbolizer__read_build_id(void **state)
{
	uint8_t id[64];
	char bin[PATH_MAX], hex[129];
	int len;

	(void)state;
	path_in(bin, sizeof(bin), "prog_pie");
	len = symbolizer__read_build_id(bin, id, sizeof(id));
	assert_int_equal(len, 20);
	for (int i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	assert_string_equal(hex, FIX_BUILD_ID);
	/* The debug file carries the same id in its note section. */
	path_in(bin, sizeof(bin), "prog_stripped.debug");
	assert_int_equal(symbolizer__read_build_id(bin, id, sizeof(id)), 20);
	assert_int_equal(symbolizer__read_build_id(bin, id, 4), -ENOSPC);
	assert_int_equal(symbolizer__read_build_id("/nonexistent/x", id, 64),
			 -ENOENT);
}

static void test_symbolizer__deleted_binary(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_mapping m_outer, m_mark;
	struct sym_object *o_outer, *o_mark;
	char bin[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX];
	struct sym_result r;
	struct child c;

	(void)state;
	path_in(bin, sizeof(bin), "prog_deleted");
	sh("cp %s/prog_pie %s", tmpdir, bin);
	child_start(bin, &c);
	assert_int_equal(unlink(bin), 0);
	/* Read after the unlink: maps now says "(deleted)". */
	assert_int_equal(find_mapping(c.pid, c.outer, &m_outer, p1, sizeof(p1)),
			 0);
	assert_true(ends_with(p1, " (deleted)"));
	assert_int_equal(find_mapping(c.pid, c.mark, &m_mark, p2, sizeof(p2)),
			 0);
	o_outer = symbolizer__object_get(sym, &m_outer);
	o_mark = symbolizer__object_get(sym, &m_mark);
	assert_non_null(o_outer);
	assert_non_null(o_mark);
	assert_string_equal(sym_object__path(o_outer), bin);
	child_stop(&c); /* gone: no /proc/PID left, no file on disk */

	assert_int_equal(
	    symbolizer__resolve(sym, o_outer, &m_outer, c.outer, false, &r), 0);
	assert_string_equal(r.frames[0].name, "kfix_outer");
	assert_int_equal(
	    symbolizer__resolve(sym, o_mark, &m_mark, c.mark, false, &r), 0);
	check_inline_chain(&r);
	symbolizer__object_put(sym, o_outer);
	symbolizer__object_put(sym, o_mark);
	symbolizer__free(sym);
}

static void
test_symbolizer__deleted_without_build_id_is_not_guessed(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_mapping m = {
	    .pid = 0, /* no process to reach map_files through */
	    .start = 0x400000,
	    .end = 0x401000,
	    .path = "/bin/sh (deleted)",
	};

	(void)state;
	/* /bin/sh exists, but it is not the deleted file that was mapped. */
	assert_null(symbolizer__object_get(sym, &m));
	symbolizer__free(sym);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static uint64_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

/* Resolves every 64th byte of this test binary's text (kiln's code,
 * built with -g) in 'sym', holding the object in *objp. */
static void resolve_own_text(struct symbolizer *sym, struct sym_object **objp,
			     uint64_t *heap0, uint64_t *count0)
{
	static char path[PATH_MAX];
	static struct sym_mapping m;
	struct symbolizer_stats st;
	struct sym_result r;

	assert_int_equal(find_mapping(getpid(),
				      (uint64_t)(uintptr_t)&heap_in_use, &m,
				      path, sizeof(path)),
			 0);
	*objp = symbolizer__object_get(sym, &m);
	assert_non_null(*objp);
	/* The symbol table is built by the first resolution: before. */
	symbolizer__resolve(sym, *objp, &m, m.start, false, &r);
	symbolizer__stats(sym, &st);
	*heap0 = heap_in_use();
	*count0 = st.cache_bytes;
	for (uint64_t a = m.start; a < m.end; a += 64)
		symbolizer__resolve(sym, *objp, &m, a, false, &r);
}

/*
 * What resolutions make libdw build (line and CU tables, freed only with
 * the object) stays counted when a trim drops the object's own indexes:
 * the cache's count is never blind to memory the symbolizer still holds.
 */
static void test_symbolizer__trim_counts_libdw_tables(void **state)
{
	struct symbolizer_opts opts = {.max_cache_bytes = 1ULL << 30,
				       .max_object_debug_bytes = 256 << 20};
	struct symbolizer *sym = symbolizer__new(&opts);
	struct symbolizer_stats st;
	struct sym_object *obj;
	uint64_t heap0, count0, held, counted, full;

	(void)state;
	/* First the count of the object once everything is resolved. */
	resolve_own_text(sym, &obj, &heap0, &count0);
	symbolizer__stats(sym, &st);
	full = st.cache_bytes;
	print_message("resolutions: heap +%" PRIu64 " KB, counted +%" PRIu64
		      " KB\n",
		      (heap_in_use() - heap0) >> 10, (full - count0) >> 10);
	assert_true(heap_in_use() - heap0 > (1u << 20)); /* means something */
	symbolizer__object_put(sym, obj);
	symbolizer__free(sym);

	/* Again, then a trim under a ceiling half way: the object (in use)
	 * drops its own indexes, and is unloaded only if the count says it
	 * is still over. */
	opts.max_cache_bytes = count0 + (full - count0) / 2;
	sym = symbolizer__new(&opts);
	resolve_own_text(sym, &obj, &heap0, &count0);
	symbolizer__trim(sym);
	symbolizer__stats(sym, &st);
	held = heap_in_use() > heap0 ? heap_in_use() - heap0 : 0;
	counted = st.cache_bytes > count0 ? st.cache_bytes - count0 : 0;
	print_message("after trim: held +%" PRIu64 " KB, counted +%" PRIu64
		      " KB, unloaded %" PRIu64 "\n",
		      held >> 10, counted >> 10, st.objects_unloaded);
	assert_true(held <= counted + (128u << 10));
	symbolizer__object_put(sym, obj);
	symbolizer__free(sym);
}

/* Objects handed over by symbolizer__object_collect(), kept. */
struct loaded {
	struct sym_object *objs[4];
	int n;
};

static void keep_loaded(void *ctx, const struct sym_mapping *map,
			struct sym_object *obj)
{
	struct loaded *l = ctx;

	(void)map;
	assert_non_null(obj);
	assert_true(l->n < 4);
	l->objs[l->n++] = obj;
}

/*
 * What the loader reads between two trims is bounded: once what arrived
 * takes the cache past twice its ceiling, the next object waits for a
 * trim (a window mapping many big objects held them all before).
 */
static void test_symbolizer__loader_waits_past_twice_the_ceiling(void **state)
{
	struct symbolizer_opts opts = {.max_cache_bytes = 1};
	struct symbolizer *sym = symbolizer__new(&opts);
	struct symbolizer_stats st;
	struct sym_mapping m1, m2;
	struct sym_object *obj = NULL;
	struct loaded ld = {0};
	char bin1[PATH_MAX], bin2[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX];
	struct child c1, c2;

	(void)state;
	path_in(bin1, sizeof(bin1), "prog_pie");
	path_in(bin2, sizeof(bin2), "prog_nopie");
	child_start(bin1, &c1);
	child_start(bin2, &c2);
	assert_int_equal(find_mapping(c1.pid, c1.outer, &m1, p1, sizeof(p1)),
			 0);
	assert_int_equal(find_mapping(c2.pid, c2.outer, &m2, p2, sizeof(p2)),
			 0);
	assert_int_equal(symbolizer__object_request(sym, &m1, &obj),
			 -EINPROGRESS);
	symbolizer__object_collect(sym, 5000, keep_loaded, &ld);
	assert_int_equal(ld.n, 1);
	/* The cache (1 byte) is past twice its ceiling: the next one waits. */
	assert_int_equal(symbolizer__object_request(sym, &m2, &obj),
			 -EINPROGRESS);
	assert_int_equal(symbolizer__object_collect(sym, 300, keep_loaded, &ld),
			 0);
	symbolizer__stats(sym, &st);
	assert_int_equal(st.loads_queued, 1);
	/* A trim lets it go on. */
	symbolizer__trim(sym);
	symbolizer__object_collect(sym, 5000, keep_loaded, &ld);
	assert_int_equal(ld.n, 2);
	child_stop(&c1);
	child_stop(&c2);
	for (int i = 0; i < ld.n; i++)
		symbolizer__object_put(sym, ld.objs[i]);
	symbolizer__free(sym);
}

static void test_symbolizer__object_cache_and_eviction(void **state)
{
	struct symbolizer_opts opts = {.max_cached_objects = 1};
	struct symbolizer *sym;
	struct symbolizer_stats st;
	struct sym_mapping m1, m2;
	struct sym_object *a, *b, *a2;
	char bin1[PATH_MAX], bin2[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX];
	struct child c1, c2, c3;
	int fds_before = count_fds();

	(void)state;
	sym = symbolizer__new(&opts);
	path_in(bin1, sizeof(bin1), "prog_pie");
	path_in(bin2, sizeof(bin2), "prog_nopie");
	child_start(bin1, &c1);
	child_start(bin1, &c3);
	child_start(bin2, &c2);

	/* Two processes of one binary share one object. */
	assert_int_equal(find_mapping(c1.pid, c1.outer, &m1, p1, sizeof(p1)),
			 0);
	a = symbolizer__object_get(sym, &m1);
	assert_int_equal(find_mapping(c3.pid, c3.outer, &m1, p1, sizeof(p1)),
			 0);
	a2 = symbolizer__object_get(sym, &m1);
	assert_ptr_equal(a, a2);
	symbolizer__stats(sym, &st);
	assert_int_equal(st.objects_opened, 1);
	symbolizer__object_put(sym, a2);
	symbolizer__object_put(sym, a); /* into the LRU, still open */
	symbolizer__stats(sym, &st);
	assert_int_equal(st.objects_open, 1);
	assert_int_equal(st.objects_evicted, 0);

	assert_int_equal(find_mapping(c2.pid, c2.outer, &m2, p2, sizeof(p2)),
			 0);
	b = symbolizer__object_get(sym, &m2);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	symbolizer__object_put(sym, b); /* LRU of 1: the older one goes */
	symbolizer__stats(sym, &st);
	assert_int_equal(st.objects_opened, 2);
	assert_int_equal(st.objects_evicted, 1);
	assert_int_equal(st.objects_open, 1);

	child_stop(&c1);
	child_stop(&c2);
	child_stop(&c3);
	symbolizer__free(sym);
	assert_int_equal(count_fds(), fds_before);
}

static void test_symbolizer__address_cache_counts(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct symbolizer_stats s0, s1, s2;
	struct sym_result r1, r2;
	struct sym_object *obj;
	struct sym_mapping m;
	char bin[PATH_MAX], p[PATH_MAX];
	struct child c;

	(void)state;
	path_in(bin, sizeof(bin), "prog_pie");
	child_start(bin, &c);
	assert_int_equal(find_mapping(c.pid, c.mark, &m, p, sizeof(p)), 0);
	obj = symbolizer__object_get(sym, &m);
	child_stop(&c);
	symbolizer__stats(sym, &s0);
	assert_int_equal(symbolizer__resolve(sym, obj, &m, c.mark, false, &r1),
			 0);
	symbolizer__stats(sym, &s1);
	assert_int_equal(s1.misses, s0.misses + 1);
	assert_int_equal(s1.hits, s0.hits);
	assert_int_equal(symbolizer__resolve(sym, obj, &m, c.mark, false, &r2),
			 0);
	symbolizer__stats(sym, &s2);
	assert_int_equal(s2.hits, s1.hits + 1);
	assert_int_equal(s2.misses, s1.misses);
	/* The hit returns the same frames (same interned strings). */
	assert_int_equal(r1.n, r2.n);
	for (size_t i = 0; i < r1.n; i++) {
		assert_ptr_equal(r1.frames[i].name, r2.frames[i].name);
		assert_int_equal(r1.frames[i].line, r2.frames[i].line);
	}
	symbolizer__object_put(sym, obj);
	symbolizer__free(sym);
}

static void test_symbolizer__small_address_cache_stays_correct(void **state)
{
	struct symbolizer_opts opts = {.max_cached_addrs = 2};
	struct symbolizer *sym = symbolizer__new(&opts);
	struct sym_object *obj;
	struct sym_mapping m;
	struct sym_result r;
	char bin[PATH_MAX], p[PATH_MAX];
	struct child c;

	(void)state;
	path_in(bin, sizeof(bin), "prog_pie");
	child_start(bin, &c);
	assert_int_equal(find_mapping(c.pid, c.mark, &m, p, sizeof(p)), 0);
	obj = symbolizer__object_get(sym, &m);
	child_stop(&c);
	/* Cycling through more addresses than fit forces clears. */
	for (int round = 0; round < 3; round++) {
		assert_int_equal(
		    symbolizer__resolve(sym, obj, &m, c.mark, false, &r), 0);
		check_inline_chain(&r);
		assert_int_equal(
		    symbolizer__resolve(sym, obj, &m, c.outer, false, &r), 0);
		assert_string_equal(r.frames[0].name, "kfix_outer");
		assert_int_equal(
		    symbolizer__resolve(sym, obj, &m, c.ret, true, &r), 0);
		assert_string_equal(r.frames[0].name, "kfix_caller");
	}
	symbolizer__object_put(sym, obj);
	symbolizer__free(sym);
}

static void test_symbolizer__unresolvable_is_enoent(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_object *obj;
	struct sym_mapping m;
	struct sym_result r;
	char bin[PATH_MAX], p[PATH_MAX];
	struct child c;

	(void)state;
	path_in(bin, sizeof(bin), "prog_pie");
	child_start(bin, &c);
	/* A variable is not code. */
	assert_int_equal(resolve_in(sym, c.pid, c.sink, false, &r, NULL),
			 -ENOENT);
	assert_int_equal(r.n, 0);
	/* Past every PT_LOAD of the file. */
	assert_int_equal(find_mapping(c.pid, c.outer, &m, p, sizeof(p)), 0);
	obj = symbolizer__object_get(sym, &m);
	child_stop(&c);
	m.pgoff = 1ULL << 40;
	assert_int_equal(symbolizer__resolve(sym, obj, &m, m.start, false, &r),
			 -ENOENT);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.vaddr, 1ULL << 40);
	/* No object at all (file unreachable): still a vaddr. */
	assert_int_equal(
	    symbolizer__resolve(sym, NULL, &m, m.start + 16, false, &r),
	    -ENOENT);
	assert_int_equal(r.vaddr, (1ULL << 40) + 16);
	symbolizer__object_put(sym, obj);

	m = (struct sym_mapping){
	    .pid = 1, .start = 0x1000, .end = 0x2000, .path = "[heap]"};
	assert_null(symbolizer__object_get(sym, &m));
	m.path = "/nonexistent/kiln/binary";
	m.pid = 0;
	assert_null(symbolizer__object_get(sym, &m));
	assert_int_equal(errno, ENOENT);
	symbolizer__free(sym);
}

static void test_symbolizer__vdso(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	char path[PATH_MAX];
	struct sym_mapping m;
	struct sym_object *obj, *obj2;
	struct sym_result r;
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	(void)state;
	assert_non_null(f);
	memset(&m, 0, sizeof(m));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (strstr(line, "[vdso]") &&
		    sscanf(line, "%llx-%llx", &s, &e) == 2) {
			m.start = s;
			m.end = e;
		}
	}
	fclose(f);
	if (!m.start) {
		/* a kernel without a vDSO, or valgrind, which hides it */
		symbolizer__free(sym);
		skip();
	}
	snprintf(path, sizeof(path), "[vdso]");
	m.pid = getpid();
	m.path = path;
	obj = symbolizer__object_get(sym, &m);
	assert_non_null(obj);
	obj2 = symbolizer__object_get(sym, &m);
	assert_ptr_equal(obj, obj2);
	symbolizer__object_put(sym, obj2);
	for (uint64_t a = m.start; a < m.end && !found; a += 4)
		if (!symbolizer__resolve(sym, obj, &m, a, false, &r))
			found =
			    strstr(r.frames[r.n - 1].name, "clock_gettime") ||
			    strstr(r.frames[r.n - 1].name, "gettimeofday");
	assert_true(found);
	symbolizer__object_put(sym, obj);
	symbolizer__free(sym);
}

static void test_symbolizer__kallsyms(void **state)
{
	struct symbolizer_opts opts = {0};
	struct symbolizer *sym;
	struct sym_result r;
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/kallsyms", fixdir);
	opts.kallsyms_path = path;
	sym = symbolizer__new(&opts);

	assert_int_equal(
	    symbolizer__resolve_kernel(sym, 0xffffffff81000250, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.frames[0].name, "do_syscall_64");
	assert_null(r.frames[0].file);
	assert_false(r.frames[0].inlined);
	assert_int_equal(r.vaddr, 0xffffffff81000250);
	assert_string_equal(symbolizer__kernel_module(sym, 0xffffffff81000250),
			    "[kernel.kallsyms]");
	/* Lower-case t and weak W are text; D data is not. */
	assert_int_equal(
	    symbolizer__resolve_kernel(sym, 0xffffffff81000100, &r), 0);
	assert_string_equal(r.frames[0].name, "secondary_startup_64");
	assert_int_equal(
	    symbolizer__resolve_kernel(sym, 0xffffffff81000410, &r), 0);
	assert_string_equal(r.frames[0].name, "weak_helper");
	/* Modules. */
	assert_int_equal(
	    symbolizer__resolve_kernel(sym, 0xffffffffc0100210, &r), 0);
	assert_string_equal(r.frames[0].name, "ext4_mb_new_blocks");
	assert_string_equal(symbolizer__kernel_module(sym, 0xffffffffc0100210),
			    "[ext4]");
	assert_string_equal(symbolizer__kernel_module(sym, 0xffffffffc0200004),
			    "[nf_tables]");
	assert_int_equal(
	    symbolizer__resolve_kernel(sym, 0xffffffffc0300040, &r), 0);
	assert_string_equal(r.frames[0].name,
			    "bpf_prog_6deef7357e7b4530_do_sample");
	/* Below the first text symbol. */
	assert_int_equal(
	    symbolizer__resolve_kernel(sym, 0xffffffff80000000, &r), -ENOENT);
	assert_int_equal(r.n, 0);
	symbolizer__free(sym);
}

static void test_symbolizer__kallsyms_without_addresses(void **state)
{
	struct symbolizer_opts opts = {0};
	struct symbolizer *sym;
	struct sym_result r;
	char path[PATH_MAX];
	FILE *f;

	(void)state;
	/* What a non-root reader sees with kptr_restrict. */
	path_in(path, sizeof(path), "kallsyms_zero");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("0000000000000000 T _stext\n0000000000000000 T do_syscall_64\n"
	      "0000000000000000 t ext4_file_read_iter\t[ext4]\n",
	      f);
	fclose(f);
	opts.kallsyms_path = path;
	sym = symbolizer__new(&opts);
	assert_int_equal(symbolizer__resolve_kernel(sym, 0, &r), -ENOENT);
	assert_int_equal(
	    symbolizer__resolve_kernel(sym, 0xffffffff81000000, &r), -ENOENT);
	symbolizer__free(sym);
}

static void write_file(const char *path, const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void no_object(void *ctx, const struct sym_mapping *map,
		      struct sym_object *obj)
{
	(void)ctx;
	(void)map;
	(void)obj;
	fail_msg("a JIT map read is not an object load");
}

/* Resolves after the loader thread read what the first try asked for. */
static int resolve_jit_settled(struct symbolizer *sym, int pid, uint64_t addr,
			       struct sym_result *r)
{
	int err = symbolizer__resolve_jit(sym, pid, addr, r);

	if (err != -EINPROGRESS)
		return err;
	symbolizer__object_collect(sym, 5000, no_object, NULL);
	return symbolizer__resolve_jit(sym, pid, addr, r);
}

static void test_symbolizer__perf_map(void **state)
{
	/* A pid that cannot exist, so /proc/PID/root misses and the
	 * sysroot's /tmp is read. */
	const int pid = 99999999;
	struct symbolizer_opts opts = {.sysroot = tmpdir};
	struct symbolizer *sym;
	struct symbolizer_stats st;
	char dir[PATH_MAX], map[PATH_MAX + 32];
	struct sym_result r;

	(void)state;
	path_in(dir, sizeof(dir), "tmp");
	mkdir(dir, 0755);
	snprintf(map, sizeof(map), "%s/perf-%d.map", dir, pid);
	write_file(map, "w",
		   "7f0000001000 100 LazyCompile:~add /app/a.js:1\n"
		   "7f0000000000 40 Builtin:ArgumentsAdaptor\n"
		   "garbage line\n");
	sym = symbolizer__new(&opts);
	/* The file is read off the caller's thread. */
	assert_int_equal(symbolizer__resolve_jit(sym, pid, 0x7f0000001010, &r),
			 -EINPROGRESS);
	assert_int_equal(resolve_jit_settled(sym, pid, 0x7f0000001010, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.frames[0].name, "LazyCompile:~add /app/a.js:1");
	assert_int_equal(symbolizer__resolve_jit(sym, pid, 0x7f000000003f, &r),
			 0);
	assert_string_equal(r.frames[0].name, "Builtin:ArgumentsAdaptor");
	/* Size is exclusive; a miss right after a read looks no further. */
	assert_int_equal(symbolizer__resolve_jit(sym, pid, 0x7f0000000040, &r),
			 -ENOENT);
	/* Newly JITted code in new anonymous memory: the next miss re-reads
	 * the grown file. */
	write_file(map, "a", "7f0000002000 20 LazyCompile:*mul /app/a.js:9\n");
	symbolizer__jit_changed(sym, pid);
	usleep(600 * 1000);
	assert_int_equal(resolve_jit_settled(sym, pid, 0x7f0000002008, &r), 0);
	assert_string_equal(r.frames[0].name, "LazyCompile:*mul /app/a.js:9");
	/* Loaded as the process exits, it resolves after the file is gone. */
	symbolizer__load_jit(sym, pid);
	symbolizer__object_collect(sym, 5000, no_object, NULL);
	assert_int_equal(unlink(map), 0);
	assert_int_equal(symbolizer__resolve_jit(sym, pid, 0x7f0000001000, &r),
			 0);
	symbolizer__forget_pid(sym, pid);
	assert_int_equal(resolve_jit_settled(sym, pid, 0x7f0000001000, &r),
			 -ENOENT);
	/* A pid without a map file: looked for once, then remembered as
	 * absent (misses ask no more files). */
	assert_int_equal(resolve_jit_settled(sym, pid - 1, 0x1000, &r),
			 -ENOENT);
	symbolizer__stats(sym, &st);
	uint64_t checks = st.jit_checks;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(
		    symbolizer__resolve_jit(sym, pid - 1, 0x1000 + i, &r),
		    -ENOENT);
	symbolizer__object_collect(sym, 0, no_object, NULL);
	symbolizer__stats(sym, &st);
	assert_int_equal(st.jit_checks, checks);
	/* A FIFO at the path: refused at once, never read. */
	assert_int_equal(mkfifo(map, 0600), 0);
	symbolizer__jit_changed(sym, pid);
	usleep(600 * 1000);
	assert_int_equal(resolve_jit_settled(sym, pid, 0x7f0000001000, &r),
			 -ENOENT);
	unlink(map);
	symbolizer__free(sym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_symbolizer__inline_chain),
	    cmocka_unit_test(test_symbolizer__return_address_uses_call_line),
	    cmocka_unit_test(test_symbolizer__debuglink),
	    cmocka_unit_test(test_symbolizer__debuglink_crc),
	    cmocka_unit_test(test_symbolizer__altlink_outside_debug_root),
	    cmocka_unit_test(test_symbolizer__stripped_groups_by_function),
	    cmocka_unit_test(test_symbolizer__build_id_debug_file),
	    cmocka_unit_test(test_symbolizer__unload_in_use_and_reload),
	    cmocka_unit_test(test_symbolizer__trim_counts_libdw_tables),
	    cmocka_unit_test(
		test_symbolizer__loader_waits_past_twice_the_ceiling),
	    cmocka_unit_test(test_symbolizer__pie_and_non_pie),
	    cmocka_unit_test(test_symbolizer__shared_library),
	    cmocka_unit_test(test_symbolizer__read_build_id),
	    cmocka_unit_test(test_symbolizer__deleted_binary),
	    cmocka_unit_test(
		test_symbolizer__deleted_without_build_id_is_not_guessed),
	    cmocka_unit_test(test_symbolizer__object_cache_and_eviction),
	    cmocka_unit_test(test_symbolizer__address_cache_counts),
	    cmocka_unit_test(
		test_symbolizer__small_address_cache_stays_correct),
	    cmocka_unit_test(test_symbolizer__unresolvable_is_enoent),
	    cmocka_unit_test(test_symbolizer__vdso),
	    cmocka_unit_test(test_symbolizer__kallsyms),
	    cmocka_unit_test(test_symbolizer__kallsyms_without_addresses),
	    cmocka_unit_test(test_symbolizer__perf_map),
	};

	return cmocka_run_group_tests_name("symbolizer", tests, setup_fixtures,
					   teardown_fixtures);
}
