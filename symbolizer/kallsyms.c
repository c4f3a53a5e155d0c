// SPDX-License-Identifier: MIT
/*
 * Kernel symbols from /proc/kallsyms: read once into an array sorted by
 * address, looked up by binary search. Only text symbols count (t T w W);
 * a symbol ends where the next one starts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "symbolizer/sym_int.h"

/* The last symbol has no successor; trust it this far (a large function). */
#define KSYM_LAST_MAX (1u << 20)

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Aliases at one address: pick one deterministically. */
	return strcmp(x->name, y->name);
}

int kallsyms__load(struct kallsyms *ks, struct strpool *sp, const char *path)
{
	const char *kernel = strpool__intern(sp, "[kernel.kallsyms]");
	size_t cap = 0, linecap = 0;
	bool nonzero = false;
	char *line = NULL;
	ssize_t len;
	FILE *f;
	int err;

	ks->loaded = true;
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		pr_warn("failed to open '%s': %s", path, strerror(errno));
		goto out;
	}
	while ((len = getline(&line, &linecap, f)) > 0) {
		char *p = line, *end, *name, *mod;
		struct ksym *s;
		uint64_t addr;
		char type;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		addr = strtoull(p, &end, 16);
		if (end == p || *end != ' ')
			continue;
		type = end[1];
		if (!type || end[2] != ' ')
			continue;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		name = end + 3;
		/* Module symbols: "name\t[module]"; bpf and ftrace too. */
		mod = strchr(name, '\t');
		if (mod)
			*mod++ = '\0';
		if (!*name)
			continue;
		if (ks->nr == cap) {
			struct ksym *n;

			cap = cap ? cap * 2 : 65536;
			n = realloc(ks->syms, cap * sizeof(*n));
			if (!n) {
				err = -ENOMEM;
				goto out_close;
			}
			ks->syms = n;
		}
		s = &ks->syms[ks->nr++];
		s->addr = addr;
		s->name = strpool__intern(sp, name);
		s->module = mod && *mod ? strpool__intern(sp, mod) : kernel;
		nonzero |= addr != 0;
	}
	if (!nonzero) {
		/* kptr_restrict hides addresses from non-root readers. */
		pr_warn(
		    "'%s' has no usable addresses (not root, or kptr_restrict)",
		    path);
		err = -ENOENT;
		goto out_close;
	}
	qsort(ks->syms, ks->nr, sizeof(*ks->syms), ksym_cmp);
	err = 0;
out_close:
	fclose(f);
out:
	free(line);
	if (err) {
		free(ks->syms);
		ks->syms = NULL;
		ks->nr = 0;
	}
	ks->err = err;
	return err;
}

void kallsyms__release(struct kallsyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	memset(ks, 0, sizeof(*ks));
}

const struct ksym *kallsyms__find(const struct kallsyms *ks, uint64_t addr)
{
	size_t lo = 0, hi = ks->nr;

	if (!ks->nr || addr < ks->syms[0].addr)
		return NULL;
	/* Last symbol with addr <= 'addr'. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (lo + 1 == ks->nr && addr - ks->syms[lo].addr > KSYM_LAST_MAX)
		return NULL;
	return &ks->syms[lo];
}
