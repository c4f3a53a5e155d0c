// SPDX-License-Identifier: MIT
/*
 * Cost of better names, per object:
 *
 *   bench_names demangle < NAMES   one symbol name a line (nm output's
 *                                  names): µs to demangle them all, ns each
 *   bench_names go BINARY ADDRS    ELF vaddrs, one a line (hex): the first
 *                                  resolution in a Go binary (reads
 *                                  .gopclntab) and the rest, in µs and ns
 *
 * Prints key=value lines on stdout; bench/names.sh runs the reference
 * tools (c++filt, go tool addr2line) on the same input in the same run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "symbolizer/demangle.h"
#include "symbolizer/symbolizer.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int bench_demangle(void)
{
	char line[8192], out[DEMANGLE_MAX_LEN * 4];
	char **names = NULL;
	size_t nr = 0, cap = 0, mangled = 0, done = 0;
	double t0, t1;

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (nr == cap) {
			cap = cap ? cap * 2 : 4096;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				return 1;
		}
		names[nr++] = strdup(line);
	}
	t0 = now_us();
	for (size_t i = 0; i < nr; i++) {
		if (!demangle__is_mangled(names[i]))
			continue;
		mangled++;
		done += demangle__name(names[i], out, sizeof(out)) > 0;
	}
	t1 = now_us();
	printf("demangle names=%zu mangled=%zu demangled=%zu total_us=%.0f "
	       "ns_per_name=%.0f\n",
	       nr, mangled, done, t1 - t0,
	       mangled ? (t1 - t0) * 1e3 / (double)mangled : 0);
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	return 0;
}

static int bench_go(const char *bin, const char *addr_file)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct sym_mapping m = {.pid = 0, .path = bin, .end = 1ULL << 40};
	struct sym_object *obj;
	struct sym_result r;
	uint64_t *addrs = NULL, min = UINT64_MAX;
	size_t nr = 0, cap = 0, named = 0;
	unsigned long long a;
	double t0, t1, t2;
	FILE *f = fopen(addr_file, "r");

	if (!sym || !f)
		return 1;
	while (fscanf(f, "%llx", &a) == 1) {
		if (nr == cap) {
			cap = cap ? cap * 2 : 4096;
			addrs = realloc(addrs, cap * sizeof(*addrs));
			if (!addrs)
				return 1;
		}
		addrs[nr++] = a;
		if (a < min)
			min = a;
	}
	fclose(f);
	if (!nr)
		return 1;
	/* Non-PIE Go: text at 0x401000 from file offset 0x1000; map the file
	 * so that addresses are the ELF vaddrs. */
	m.start = 0x400000;
	m.pgoff = 0;
	t0 = now_us();
	obj = symbolizer__object_get(sym, &m);
	if (!obj)
		return 1;
	named += !symbolizer__resolve(sym, obj, &m, addrs[0], false, &r) &&
		 r.n && !strchr(r.frames[r.n - 1].name, '+');
	t1 = now_us();
	for (size_t i = 1; i < nr; i++)
		named +=
		    !symbolizer__resolve(sym, obj, &m, addrs[i], false, &r) &&
		    r.n && !strchr(r.frames[r.n - 1].name, '+');
	t2 = now_us();
	printf("go binary=%s addrs=%zu named=%zu open_and_first_us=%.0f "
	       "ns_per_lookup=%.0f\n",
	       bin, nr, named, t1 - t0,
	       nr > 1 ? (t2 - t1) * 1e3 / (double)(nr - 1) : 0);
	symbolizer__object_put(sym, obj);
	symbolizer__free(sym);
	free(addrs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "demangle"))
		return bench_demangle();
	if (argc == 4 && !strcmp(argv[1], "go"))
		return bench_go(argv[2], argv[3]);
	fprintf(stderr, "usage: bench_names demangle < NAMES | bench_names go "
			"BINARY ADDRS\n");
	return 2;
}
