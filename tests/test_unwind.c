// SPDX-License-Identifier: MIT
/*
 * Unit tests of CFI unwinding: the table builder (symbolizer/cfi.c through
 * profiler/unwind_table.c) on real objects, and the user-space twin of the
 * BPF walk checked against libdwfl's own unwinder on the same stopped
 * processes: fixtures built at test time without frame pointers are
 * stopped with ptrace at random moments, and both unwinders walk the same
 * registers and memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>

#include "profiler/unwind_table.h"
#include "symbolizer/cfi.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static char tmpdir[64];

static int build_fixtures(void **state)
{
	char cmd[1024];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kiln-unwind.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; "
		 "gcc -O2 -fomit-frame-pointer -fPIC -shared "
		 "-o libunwind_lib.so %s/tests/workloads/unwind_lib.c; "
		 "gcc -O2 -fomit-frame-pointer -o unwind_pie "
		 "%s/tests/workloads/unwind.c -L. -lunwind_lib "
		 "-Wl,-rpath,%s -lpthread; "
		 "gcc -O2 -fomit-frame-pointer -no-pie -o unwind_nopie "
		 "%s/tests/workloads/unwind.c -L. -lunwind_lib "
		 "-Wl,-rpath,%s -lpthread",
		 tmpdir, getenv("PWD"), getenv("PWD"), tmpdir, getenv("PWD"),
		 tmpdir);
	return system(cmd) ? -1 : 0;
}

static int remove_fixtures(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) ? -1 : 0;
}

static struct unwind_table *build_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct unwind_table *t;

	if (fd < 0)
		return NULL;
	t = unwind_table__build(fd);
	close(fd);
	return t;
}

static void test_unwind__libc_table(void **state)
{
	struct unwind_table *t = build_path(LIBC);
	size_t signal = 0, end = 0, plt = 0;

	(void)state;
	assert_non_null(t);
	assert_true(t->nr_rows > 10000);
	for (uint32_t i = 0; i < t->nr_rows; i++) {
		if (i)
			assert_true(t->rows[i - 1].pc < t->rows[i].pc);
		signal += t->rows[i].op == KILN_UNW_SIGNAL;
		end += t->rows[i].op == KILN_UNW_END;
		plt += t->rows[i].op == KILN_UNW_PLT;
	}
	/* __restore_rt, clone/clone3's child, the lazy PLT. */
	assert_true(signal >= 1);
	assert_true(end >= 1);
	assert_true(plt >= 1);
	/* Merging identical neighbours must shrink the table. */
	assert_true(t->stats.rows < t->stats.cfi_rows);
	print_message("libc: %u rows from %" PRIu64 " CFI rows, %" PRIu64
		      " FDEs, %" PRIu64 " unsupported, %.1f ms\n",
		      t->nr_rows, t->stats.cfi_rows, t->stats.fdes,
		      t->stats.unsupported, t->stats.build_ns / 1e6);
	unwind_table__free(t);
}

/* The last row at or before pc by a plain binary search over all rows. */
static const struct kiln_unwind_row *find_plain(const struct unwind_table *t,
						uint64_t pc)
{
	size_t lo = 0, hi = t->nr_rows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->rows[lo - 1] : NULL;
}

/* The bucket index finds the same row as a search over the whole table,
 * at every row boundary and between, and bounds the search to a few
 * steps; before the first row there is none. */
static void test_unwind__bucket_index(void **state)
{
	struct unwind_table *t = build_path(LIBC);
	const struct kiln_unwind_object *o;
	uint64_t first, last;

	(void)state;
	assert_non_null(t);
	o = &t->index;
	assert_true(o->nr_buckets >= 1);
	assert_true(o->nr_buckets <=
		    t->nr_rows / KILN_UNWIND_ROWS_PER_BUCKET + 1);
	first = t->rows[0].pc;
	last = t->rows[t->nr_rows - 1].pc;
	assert_int_equal(o->pc_min, first);
	assert_null(unwind_table__find(t, first - 1));
	for (uint32_t i = 0; i < t->nr_rows; i++) {
		uint64_t pc = t->rows[i].pc;

		assert_ptr_equal(unwind_table__find(t, pc), &t->rows[i]);
		assert_ptr_equal(unwind_table__find(t, pc - 1),
				 find_plain(t, pc - 1));
		assert_ptr_equal(unwind_table__find(t, pc + 1),
				 find_plain(t, pc + 1));
	}
	for (uint64_t pc = first; pc <= last + 4096; pc += 7)
		assert_ptr_equal(unwind_table__find(t, pc), find_plain(t, pc));
	print_message("libc: %u buckets of %u bytes for %u rows, at most %u "
		      "search steps\n",
		      o->nr_buckets, 1u << o->shift, t->nr_rows,
		      unwind_table__max_steps(t));
	assert_true(unwind_table__max_steps(t) <= 10);
	unwind_table__free(t);
}

/* The walk's divide-free chunk number (bpf/unwind.h) is the quotient at
 * both sides of every chunk boundary and at 2^22 spread-out slots up to
 * 2^32 - 1 (the whole 32-bit range was checked once, in 3 s). */
static void test_unwind__chunk_of(void **state)
{
	const uint32_t n = KILN_UNWIND_CHUNK_ROWS;
	uint64_t x = 88172645463325252ULL;

	(void)state;
	for (uint64_t c = 0; c * n <= UINT32_MAX; c++) {
		uint32_t at = (uint32_t)(c * n);

		assert_int_equal(kiln_unwind_chunk_of(at), c);
		if (at)
			assert_int_equal(kiln_unwind_chunk_of(at - 1), c - 1);
	}
	assert_int_equal(kiln_unwind_chunk_of(UINT32_MAX), UINT32_MAX / n);
	for (int i = 0; i < (1 << 22); i++) {
		uint32_t v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = (uint32_t)x;
		assert_int_equal(kiln_unwind_chunk_of(v), v / n);
	}
	/* A chunk and its map header fit in 32 KiB (kmalloc's limit in
	 * bpf_map_area_alloc); the header is 312 bytes on 6.18. */
	assert_true(n * sizeof(struct kiln_unwind_row) + 512 <= 32768);
}

static void test_unwind__not_elf(void **state)
{
	char path[128];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/garbage", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\177ELF garbage", 12), 12);
	errno = 0;
	assert_null(unwind_table__build(fd));
	assert_int_equal(errno, EINVAL);
	close(fd);
}

static void test_unwind__fde_lookup(void **state)
{
	int fd = open(LIBC, O_RDONLY | O_CLOEXEC);
	struct cfi_fdes *f;
	uint64_t start, end, bias;

	(void)state;
	assert_true(fd >= 0);
	f = cfi_fdes__read(fd);
	assert_non_null(f);
	assert_true(cfi_fdes__count(f) > 1000);
	/* The FDE around an address of a function in this process's libc
	 * starts at or before it (an FDE starts at its function). */
	{
		FILE *maps = fopen("/proc/self/maps", "r");
		char line[512];
		uint64_t addr = (uint64_t)(uintptr_t)&getpid, found_bias = 0;

		while (fgets(line, sizeof(line), maps)) {
			unsigned long long s, e, off;
			char perms[8];

			if (sscanf(line, "%llx-%llx %7s %llx", &s, &e, perms,
				   &off) == 4 &&
			    addr >= s && addr < e) {
				assert_int_equal(
				    cfi__load_bias(fd, s, off, &found_bias), 0);
				break;
			}
		}
		fclose(maps);
		bias = found_bias;
		assert_int_equal(cfi_fdes__find(f, addr - bias, &start, &end),
				 0);
		assert_true(start <= addr - bias && addr - bias < end);
	}
	assert_int_equal(cfi_fdes__find(f, 0, &start, &end), -ENOENT);
	cfi_fdes__free(f);
	close(fd);
}

/* Every executable object mapped on this machine right now. */
static void test_unwind__every_mapped_object(void **state)
{
	DIR *proc = opendir("/proc");
	struct dirent *d;
	char **seen = NULL;
	size_t nr_seen = 0, built = 0, no_cfi = 0;
	uint64_t rows = 0, unsup = 0, by_reason[UNWIND_UNSUP_MAX] = {0};

	(void)state;
	assert_non_null(proc);
	while ((d = readdir(proc))) {
		char path[300], line[4096];
		FILE *maps;

		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/maps", d->d_name);
		maps = fopen(path, "r");
		if (!maps)
			continue;
		while (fgets(line, sizeof(line), maps)) {
			char perms[8], file[4096];
			size_t i;

			if (sscanf(line, "%*x-%*x %7s %*x %*s %*u %4095s",
				   perms, file) != 2 ||
			    perms[2] != 'x' || file[0] != '/')
				continue;
			for (i = 0; i < nr_seen; i++)
				if (!strcmp(seen[i], file))
					break;
			if (i < nr_seen)
				continue;
			seen = realloc(seen, (nr_seen + 1) * sizeof(*seen));
			seen[nr_seen++] = strdup(file);
			struct unwind_table *t = build_path(file);
			if (!t) {
				/* No CFI at all is allowed (frame pointers
				 * then); any other failure is not. */
				if (errno != ENOENT)
					fail_msg("'%s': %s", file,
						 strerror(errno));
				no_cfi++;
				continue;
			}
			built++;
			rows += t->nr_rows;
			unsup += t->stats.unsupported;
			for (int r = 0; r < UNWIND_UNSUP_MAX; r++) {
				by_reason[r] += t->stats.by_reason[r];
				if (t->stats.by_reason[r])
					print_message(
					    "  %s: %" PRIu64 " rows %s\n", file,
					    t->stats.by_reason[r],
					    unwind_table__unsup_name(r));
			}
			unwind_table__free(t);
		}
		fclose(maps);
	}
	closedir(proc);
	print_message("%zu objects: %zu tables (%" PRIu64
		      " rows), %zu without CFI; %" PRIu64
		      " rows kiln cannot express\n",
		      nr_seen, built, rows, no_cfi, unsup);
	assert_true(built >= 3);
	/* Unsupported rows fall back to frame pointers; they must stay rare
	 * (hand-written assembly: vfork, setjmp, clone, crypto kernels). */
	assert_true(unsup * 100 < rows);
	for (size_t i = 0; i < nr_seen; i++)
		free(seen[i]);
	free(seen);
}

/* ---- the twin against libdwfl on stopped fixtures ---- */

struct target {
	int pid, tid;
	int mem_fd;
	struct unwind_walk_map maps[256];
	size_t nr_maps;
};

/* Tables by path, built once per test. */
static struct {
	char *path;
	struct unwind_table *t;
} cache[64];
static size_t nr_cache;

static const struct unwind_table *table_for(const char *path, int fd)
{
	for (size_t i = 0; i < nr_cache; i++)
		if (!strcmp(cache[i].path, path))
			return cache[i].t;
	if (nr_cache == 64)
		return NULL;
	cache[nr_cache].path = strdup(path);
	cache[nr_cache].t = unwind_table__build(fd);
	return cache[nr_cache++].t;
}

static void read_maps(struct target *tg)
{
	char path[64], line[4096];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", tg->pid);
	f = fopen(path, "r");
	assert_non_null(f);
	tg->nr_maps = 0;
	while (fgets(line, sizeof(line), f) && tg->nr_maps < 256) {
		unsigned long long s, e, off;
		char perms[8], file[4096] = "";
		struct unwind_walk_map *m = &tg->maps[tg->nr_maps];
		int fd;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*u %4095s", &s, &e,
			   perms, &off, file) < 4 ||
		    perms[2] != 'x')
			continue;
		*m = (struct unwind_walk_map){.start = s, .end = e};
		if (!strcmp(file, "[vdso]")) {
			fd = cfi__vdso_fd();
			off = 0;
		} else if (file[0] == '/') {
			fd = open(file, O_RDONLY | O_CLOEXEC);
		} else {
			fd = -1;
		}
		if (fd >= 0) {
			if (!cfi__load_bias(fd, s, off, &m->bias))
				m->table = table_for(file, fd);
			close(fd);
		}
		tg->nr_maps++;
	}
	fclose(f);
}

static int read_mem(void *ctx, uint64_t addr, uint64_t *out)
{
	struct target *tg = ctx;

	return pread(tg->mem_fd, out, 8, (off_t)addr) == 8 ? 0 : -1;
}

struct dwfl_walk {
	uint64_t pcs[256];
	size_t n;
};

static int dwfl_frame_cb(Dwfl_Frame *frame, void *arg)
{
	struct dwfl_walk *w = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(frame, &pc, &activation))
		return DWARF_CB_ABORT;
	w->pcs[w->n++] = pc;
	return w->n < 256 ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static char *debuginfo_path;
static const Dwfl_Callbacks dwfl_cb = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static void dwfl_walk(int pid, int tid, struct dwfl_walk *w)
{
	Dwfl *d = dwfl_begin(&dwfl_cb);

	w->n = 0;
	assert_non_null(d);
	assert_int_equal(dwfl_linux_proc_report(d, pid), 0);
	assert_int_equal(dwfl_report_end(d, NULL, NULL), 0);
	assert_true(dwfl_linux_proc_attach(d, pid, true) == 0);
	dwfl_getthread_frames(d, tid, dwfl_frame_cb, w);
	dwfl_end(d);
}

static int find_worker(int pid)
{
	char path[64];
	DIR *dir;
	struct dirent *d;
	int tid = pid;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	for (int tries = 0; tries < 200 && tid == pid; tries++) {
		dir = opendir(path);
		while (dir && (d = readdir(dir)))
			if (atoi(d->d_name) > 0 && atoi(d->d_name) != pid)
				tid = atoi(d->d_name);
		if (dir)
			closedir(dir);
		if (tid == pid)
			usleep(5000);
	}
	return tid;
}

/*
 * Stops the fixture 'stops' times at random moments and compares the two
 * unwinders. Returns how many stops matched exactly; *complete counts the
 * twin's walks that reached the outermost frame.
 */
static int compare_mode(const char *binary, const char *mode, int stops,
			int *complete, int *max_depth)
{
	char exe[128], path[64];
	struct target tg = {0};
	int status, matched = 0;

	snprintf(exe, sizeof(exe), "%s/%s", tmpdir, binary);
	tg.pid = fork();
	assert_true(tg.pid >= 0);
	if (tg.pid == 0) {
		execl(exe, exe, mode, "30", (char *)NULL);
		_exit(127);
	}
	usleep(100 * 1000);
	tg.tid = strcmp(mode, "thread") ? tg.pid : find_worker(tg.pid);
	assert_int_equal(ptrace(PTRACE_SEIZE, tg.tid, 0, 0), 0);
	read_maps(&tg);
	snprintf(path, sizeof(path), "/proc/%d/mem", tg.pid);
	tg.mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(tg.mem_fd >= 0);
	*complete = 0;
	*max_depth = 0;
	for (int i = 0; i < stops; i++) {
		struct user_regs_struct ur;
		struct kiln_unwind_regs regs = {0};
		struct dwfl_walk dw;
		uint64_t pcs[KILN_UNWIND_MAX_FRAMES];
		size_t n;
		int end;

		usleep(2000 + rand() % 8000);
		assert_int_equal(ptrace(PTRACE_INTERRUPT, tg.tid, 0, 0), 0);
		assert_int_equal(waitpid(tg.tid, &status, __WALL), tg.tid);
		assert_true(WIFSTOPPED(status));
		assert_int_equal(ptrace(PTRACE_GETREGS, tg.tid, 0, &ur), 0);
		regs.pc = ur.rip;
		regs.sp = ur.rsp;
		regs.fp = ur.rbp;
		regs.exact = 1;
		end = unwind__walk(tg.maps, tg.nr_maps, &regs, read_mem, &tg,
				   pcs, KILN_UNWIND_MAX_FRAMES, &n, NULL);
		dwfl_walk(tg.pid, tg.tid, &dw);
		if (end == KILN_UNWIND_COMPLETE)
			(*complete)++;
		if ((int)n > *max_depth)
			*max_depth = (int)n;
		if (n == dw.n && !memcmp(pcs, dw.pcs, n * 8)) {
			matched++;
		} else {
			print_message("%s %s stop %d: twin %zu frames (%s), "
				      "libdwfl %zu\n",
				      binary, mode, i, n, unwind__end_name(end),
				      dw.n);
			for (size_t k = 0; k < n || k < dw.n; k++)
				print_message("  %2zu %16" PRIx64 " %16" PRIx64
					      "\n",
					      k, k < n ? pcs[k] : 0,
					      k < dw.n ? dw.pcs[k] : 0);
		}
		/* The stop is a group-stop-like event: continue it. */
		ptrace(PTRACE_CONT, tg.tid, 0, 0);
	}
	close(tg.mem_fd);
	kill(tg.pid, SIGKILL);
	/* A traced thread must be reaped by its tracer before its thread
	 * group leader can be. */
	while (waitpid(-1, &status, __WALL) > 0)
		;
	return matched;
}

static void check_mode(const char *binary, const char *mode, int want_depth)
{
	const int stops = 100;
	int complete, max_depth;
	int matched = compare_mode(binary, mode, stops, &complete, &max_depth);

	print_message("%s %s: %d/%d match libdwfl, %d complete, min depth "
		      "%d\n",
		      binary, mode, matched, stops, complete, max_depth);
	assert_true(matched >= stops * 99 / 100);
	assert_true(complete >= stops * 99 / 100);
	assert_true(max_depth >= want_depth);
}

static void test_unwind__twin_chain_pie(void **state)
{
	(void)state;
	check_mode("unwind_pie", "chain", 5);
}

static void test_unwind__twin_chain_nopie(void **state)
{
	(void)state;
	check_mode("unwind_nopie", "chain", 5);
}

static void test_unwind__twin_recursion(void **state)
{
	(void)state;
	check_mode("unwind_pie", "recurse", 100);
}

static void test_unwind__twin_plt(void **state)
{
	(void)state;
	check_mode("unwind_pie", "plt", 4);
}

static void test_unwind__twin_alloca(void **state)
{
	(void)state;
	check_mode("unwind_nopie", "alloca", 4);
}

static void test_unwind__twin_signal(void **state)
{
	(void)state;
	check_mode("unwind_pie", "signal", 3);
}

static void test_unwind__twin_thread(void **state)
{
	(void)state;
	check_mode("unwind_pie", "thread", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unwind__libc_table),
	    cmocka_unit_test(test_unwind__bucket_index),
	    cmocka_unit_test(test_unwind__chunk_of),
	    cmocka_unit_test(test_unwind__not_elf),
	    cmocka_unit_test(test_unwind__fde_lookup),
	    cmocka_unit_test(test_unwind__every_mapped_object),
	    cmocka_unit_test(test_unwind__twin_chain_pie),
	    cmocka_unit_test(test_unwind__twin_chain_nopie),
	    cmocka_unit_test(test_unwind__twin_recursion),
	    cmocka_unit_test(test_unwind__twin_plt),
	    cmocka_unit_test(test_unwind__twin_alloca),
	    cmocka_unit_test(test_unwind__twin_signal),
	    cmocka_unit_test(test_unwind__twin_thread),
	};

	unsetenv("DEBUGINFOD_URLS");
	srand((unsigned)time(NULL));
	return cmocka_run_group_tests(tests, build_fixtures, remove_fixtures);
}
