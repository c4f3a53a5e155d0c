// SPDX-License-Identifier: MIT
/*
 * Symbolization throughput: kiln's symbolizer against eu-addr2line -f -i
 * on the same addresses of the same binary, in the same run.
 *
 *   bench_symbolize [BINARY [NADDRS]]
 *
 * BINARY defaults to this bench itself (libkiln.a built -O2 -g, so real
 * DWARF with inlines); a stripped library whose debug file is under
 * /usr/lib/debug/.build-id (libc with libc6-dbg) works too. Addresses are drawn
 * at random (fixed seed) inside the binary's functions, weighted by size, as
 * samples would be. Prints one key=value line per measurement on stdout.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "symbolizer/symbolizer.h"

struct func {
	uint64_t addr, size;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: reproducible across runs and libcs. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Function symbols with sizes, from nm (the bench stays out of libelf). */
static struct func *read_funcs(const char *bin, const char *flags, size_t *nr,
			       uint64_t *total)
{
	char cmd[PATH_MAX + 64], line[1024], type;
	unsigned long long a, s;
	struct func *f = NULL;
	size_t cap = 0;
	FILE *p;

	*nr = 0;
	*total = 0;
	snprintf(cmd, sizeof(cmd), "nm %s -S --defined-only '%s' 2>/dev/null",
		 flags, bin);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%llx %llx %c", &a, &s, &type) != 3 || !s ||
		    (type != 't' && type != 'T'))
			continue;
		if (*nr == cap) {
			cap = cap ? cap * 2 : 1024;
			f = realloc(f, cap * sizeof(*f));
			if (!f)
				exit(1);
		}
		f[*nr].addr = a;
		f[*nr].size = s;
		*total += s;
		(*nr)++;
	}
	pclose(p);
	return f;
}

/* The executable PT_LOAD, from readelf: how the loader would map it. */
static int text_segment(const char *bin, uint64_t *off, uint64_t *vaddr,
			uint64_t *memsz, bool *dyn)
{
	char cmd[PATH_MAX + 64], line[1024];
	unsigned long long o, v, pa, fs, ms;
	char flags[16];
	int found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -hlW '%s' 2>/dev/null", bin);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	*dyn = false;
	while (fgets(line, sizeof(line), p)) {
		if (strstr(line, "Type:") && strstr(line, "DYN"))
			*dyn = true;
		if (!found &&
		    sscanf(line,
			   " LOAD 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx %15[RWE ]",
			   &o, &v, &pa, &fs, &ms, flags) == 6 &&
		    strchr(flags, 'E')) {
			*off = o;
			*vaddr = v;
			*memsz = ms;
			found = 1;
		}
	}
	pclose(p);
	return found ? 0 : -ENOENT;
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], cmd[2 * PATH_MAX],
	    tmp[] = "/tmp/kiln-bench-XXXXXX";
	const char *bin = argc > 1 ? argv[1] : NULL;
	size_t naddrs = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000;
	uint64_t seed = 0x9e3779b97f4a7c15ULL, total, off = 0, vaddr = 0,
		 memsz = 0;
	uint64_t base;
	size_t nfuncs, frames_cold = 0, resolved = 0, inl = 0, a2l_lines = 0;
	struct symbolizer *sym;
	struct sym_object *obj;
	struct symbolizer_stats st;
	struct sym_mapping m;
	struct sym_result r;
	struct func *funcs;
	uint64_t *addrs;
	double t0, cold, warm, a2l;
	bool dyn = false;
	FILE *f;
	int fd;

	if (!bin)
		bin = "/proc/self/exe";
	if (!realpath(bin, self)) {
		fprintf(stderr, "bench_symbolize: '%s': %s\n", bin,
			strerror(errno));
		return 1;
	}
	bin = self;
	funcs = read_funcs(bin, "", &nfuncs, &total);
	if (!nfuncs) {
		/* Stripped (a distribution library): its dynamic symbols. */
		free(funcs);
		funcs = read_funcs(bin, "-D", &nfuncs, &total);
	}
	if (!funcs || !nfuncs ||
	    text_segment(bin, &off, &vaddr, &memsz, &dyn)) {
		fprintf(stderr,
			"bench_symbolize: no functions or text in '%s'\n", bin);
		return 1;
	}
	/* Map it the way ld.so would: PIE at a typical base, ET_EXEC as is. */
	base = dyn ? 0x555555554000ULL : 0;
	m = (struct sym_mapping){
	    .pid = 0,
	    .start = base + (vaddr & ~0xfffULL),
	    .end = base + ((vaddr + memsz + 0xfff) & ~0xfffULL),
	    .pgoff = off & ~0xfffULL,
	    .path = bin,
	};
	addrs = malloc(naddrs * sizeof(*addrs));
	if (!addrs)
		return 1;
	for (size_t i = 0; i < naddrs; i++) {
		uint64_t pick = rnd(&seed) % total;
		size_t j = 0;

		while (pick >= funcs[j].size)
			pick -= funcs[j++].size;
		addrs[i] = funcs[j].addr + pick;
	}

	/* kiln: opening the object counts, as it would in a profile. */
	t0 = now_ms();
	sym = symbolizer__new(NULL);
	obj = symbolizer__object_get(sym, &m);
	if (!obj) {
		fprintf(stderr, "bench_symbolize: cannot open '%s': %s\n", bin,
			strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < naddrs; i++) {
		if (symbolizer__resolve(sym, obj, &m, base + addrs[i], false,
					&r))
			continue;
		resolved++;
		frames_cold += r.n;
		if (getenv("BENCH_DUMP"))
			for (size_t k = r.n; k-- > 0;)
				fprintf(stderr, "%#" PRIx64 " %s %s:%u%s\n",
					addrs[i], r.frames[k].name,
					r.frames[k].file ? r.frames[k].file
							 : "??",
					r.frames[k].line,
					r.frames[k].inlined ? " [i]" : "");
		for (size_t k = 0; k < r.n; k++)
			inl += r.frames[k].inlined;
	}
	cold = now_ms() - t0;
	t0 = now_ms();
	for (size_t i = 0; i < naddrs; i++)
		symbolizer__resolve(sym, obj, &m, base + addrs[i], false, &r);
	warm = now_ms() - t0;
	symbolizer__stats(sym, &st);
	symbolizer__object_put(sym, obj);
	symbolizer__free(sym);

	/* eu-addr2line: same addresses on stdin, output counted. */
	fd = mkstemp(tmp);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		return 1;
	for (size_t i = 0; i < naddrs; i++)
		fprintf(f, "0x%" PRIx64 "\n", addrs[i]);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "eu-addr2line -f -i -e '%s' < %s", bin, tmp);
	t0 = now_ms();
	f = popen(cmd, "r");
	if (f) {
		char line[4096];

		while (fgets(line, sizeof(line), f))
			a2l_lines++;
		pclose(f);
	}
	a2l = now_ms() - t0;
	unlink(tmp);

	printf("binary=%s functions=%zu addresses=%zu\n", bin, nfuncs, naddrs);
	printf("kiln_resolved=%zu kiln_frames=%zu kiln_inlined_frames=%zu "
	       "eu_addr2line_frames=%zu\n",
	       resolved, frames_cold, inl, a2l_lines / 2);
	printf("kiln_cold_ms=%.1f kiln_warm_ms=%.1f eu_addr2line_ms=%.1f\n",
	       cold, warm, a2l);
	printf("kiln_cold_us_per_addr=%.2f eu_addr2line_us_per_addr=%.2f "
	       "speedup_cold=%.1fx speedup_warm=%.1fx cache_hits=%" PRIu64 "\n",
	       cold * 1e3 / naddrs, a2l * 1e3 / naddrs, a2l / cold, a2l / warm,
	       st.hits);
	free(addrs);
	free(funcs);
	return 0;
}
