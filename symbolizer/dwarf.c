// SPDX-License-Identifier: MIT
/*
 * One ELF object as a libdwfl module, and address -> frames inside it.
 *
 * Each object gets its own Dwfl with the file reported at base 0, so module
 * addresses are ELF virtual addresses and an object shared by many
 * processes (mapped at different bases) is resolved once per address.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>

#include "profiler/log.h"
#include "profiler/xalloc.h"
#include "symbolizer/sym_int.h"

#define DEFAULT_MAX_ADDRS 8192
/* Deeper inline chains than this are cut, keeping the outermost frames. */
#define MAX_CHAIN 64

static int read_loads(struct sym_object *obj)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(obj->mod, &bias);
	size_t nphdr;

	if (!elf || elf_getphdrnum(elf, &nphdr))
		return -EINVAL;
	obj->loads = xcalloc(nphdr ? nphdr : 1, sizeof(*obj->loads));
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);

		if (!ph || ph->p_type != PT_LOAD)
			continue;
		obj->loads[obj->nr_loads++] = (struct sym_load){
			.offset = ph->p_offset,
			.vaddr = ph->p_vaddr,
			.filesz = ph->p_filesz,
			.memsz = ph->p_memsz,
		};
	}
	return obj->nr_loads ? 0 : -ENOEXEC;
}

int dwobj__open(struct symbolizer *sym, struct sym_object *obj, int fd,
		const char *file_name)
{
	const unsigned char *bits;
	GElf_Addr bid_vaddr;
	Dwarf_Addr dwbias = 0;
	int err, len;

	obj->dwfl = dwfl_begin(&sym->cbs);
	if (!obj->dwfl) {
		pr_warn("failed to start libdwfl for '%s': %s", file_name,
			dwfl_errmsg(-1));
		err = -ENOMEM;
		goto err_fd;
	}
	dwfl_report_begin(obj->dwfl);
	/* base 0, add_p_vaddr: the module's addresses are the ELF vaddrs for
	 * executables and shared objects (prelinked ones too). */
	obj->mod = dwfl_report_elf(obj->dwfl, obj->path, file_name, fd, 0, true);
	dwfl_report_end(obj->dwfl, NULL, NULL);
	if (!obj->mod) {
		pr_debug("failed to read '%s': %s", file_name, dwfl_errmsg(-1));
		err = -ENOEXEC;
		goto err_dwfl; /* fd not consumed on failure */
	}
	fd = -1; /* now owned by libdwfl, which keeps the ELF mapped */
	err = read_loads(obj);
	if (err)
		goto err_dwfl;
	len = dwfl_module_build_id(obj->mod, &bits, &bid_vaddr);
	if (len > 0)
		build_id__hex(bits, (size_t)len, obj->build_id,
			      sizeof(obj->build_id));
	/*
	 * Find the debug file and the symbol table now: debuglink lookups go
	 * through the process's /proc/PID/root, which vanishes when it exits.
	 */
	dwfl_module_getdwarf(obj->mod, &dwbias);
	obj->dwbias = dwbias;
	dwfl_module_getsymtab(obj->mod);

	obj->addr_max = sym->opts.max_cached_addrs ? sym->opts.max_cached_addrs
						   : DEFAULT_MAX_ADDRS;
	obj->addr_cap = 16;
	while (obj->addr_cap < obj->addr_max * 2)
		obj->addr_cap *= 2;
	return 0;

err_dwfl:
	dwfl_end(obj->dwfl);
	obj->dwfl = NULL;
	obj->mod = NULL;
err_fd:
	if (fd >= 0)
		close(fd);
	return err;
}

void dwobj__close(struct sym_object *obj)
{
	dwfl_end(obj->dwfl);
	obj->dwfl = NULL;
	obj->mod = NULL;
	free(obj->loads);
	obj->loads = NULL;
	free(obj->addrs);
	obj->addrs = NULL;
	free(obj->pool);
	obj->pool = NULL;
}

int dwobj__file_to_vaddr(const struct sym_object *obj, uint64_t off,
			 uint64_t *vaddr)
{
	for (size_t i = 0; i < obj->nr_loads; i++) {
		const struct sym_load *l = &obj->loads[i];
		/* Mappings are page aligned: the segment's first page starts
		 * below p_offset, and bss pages extend past p_filesz. */
		uint64_t lo = l->offset & ~0xfffULL;
		uint64_t hi = l->offset + (l->memsz > l->filesz ? l->memsz
								 : l->filesz);

		if (off >= lo && off < hi) {
			*vaddr = off - l->offset + l->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

/* The linkage name if there is one (C++), else the plain name. */
static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute mem, *attr;
	const char *name;

	attr = dwarf_attr_integrate(die, DW_AT_linkage_name, &mem);
	if (!attr)
		attr = dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &mem);
	name = attr ? dwarf_formstring(attr) : NULL;
	return name ? name : dwarf_diename(die);
}

static const char *call_file(Dwarf_Die *cudie, Dwarf_Die *die)
{
	Dwarf_Attribute mem;
	Dwarf_Files *files;
	Dwarf_Word idx;
	size_t nfiles;

	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &mem), &idx))
		return NULL;
	if (dwarf_getsrcfiles(cudie, &files, &nfiles) || idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

static uint32_t call_line(Dwarf_Die *die)
{
	Dwarf_Attribute mem;
	Dwarf_Word line;

	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &mem), &line))
		return 0;
	return (uint32_t)line;
}

struct chain {
	const char *name, *file;
	uint32_t line;
	bool inlined;
};

/* Innermost first, like the scopes libdw returns. */
static size_t inline_chain(Dwarf_Die *cudie, Dwarf_Addr pc, const char *file,
			   uint32_t line, struct chain *out)
{
	Dwarf_Die *scopes = NULL, inner;
	int nscopes = dwarf_getscopes(cudie, pc, &scopes);
	size_t n = 0;

	/* dwarf_getscopes continues past an inlined instance with the scopes
	 * of its abstract origin; the concrete nesting (the call chain) comes
	 * from the scopes of the innermost DIE itself. */
	if (nscopes > 0 && dwarf_tag(&scopes[0]) == DW_TAG_inlined_subroutine) {
		inner = scopes[0];
		free(scopes);
		scopes = NULL;
		nscopes = dwarf_getscopes_die(&inner, &scopes);
	}

	for (int i = 0; i < nscopes && n < MAX_CHAIN; i++) {
		Dwarf_Die *d = &scopes[i];
		int tag = dwarf_tag(d);

		if (tag != DW_TAG_subprogram &&
		    tag != DW_TAG_inlined_subroutine && tag != DW_TAG_entry_point)
			continue;
		out[n++] = (struct chain){ die_name(d), file, line,
					   tag == DW_TAG_inlined_subroutine };
		if (tag != DW_TAG_inlined_subroutine)
			break;
		/* The caller's position is where this call was inlined. */
		file = call_file(cudie, d);
		line = call_line(d);
	}
	free(scopes);
	return n;
}

static void cache_clear(struct sym_object *obj)
{
	if (obj->addrs)
		memset(obj->addrs, 0, obj->addr_cap * sizeof(*obj->addrs));
	obj->addr_len = 0;
	obj->pool_len = 0;
}

static inline size_t addr_slot(const struct sym_object *obj, uint64_t key)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) &
	       (obj->addr_cap - 1);
}

static void cache_put(struct sym_object *obj, uint64_t key,
		      const struct sym_result *res)
{
	size_t i;

	if (!obj->addrs)
		obj->addrs = xcalloc(obj->addr_cap, sizeof(*obj->addrs));
	/* Clear when full: cheaper than LRU bookkeeping on every hit, and a
	 * profile's hot addresses come back within one refill. */
	if (obj->addr_len >= obj->addr_max)
		cache_clear(obj);
	if (obj->pool_len + res->n > obj->pool_cap) {
		obj->pool_cap = obj->pool_cap ? obj->pool_cap * 2 : 256;
		while (obj->pool_cap < obj->pool_len + res->n)
			obj->pool_cap *= 2;
		obj->pool = xrealloc(obj->pool,
				     obj->pool_cap * sizeof(*obj->pool));
	}
	for (i = addr_slot(obj, key); obj->addrs[i].key;
	     i = (i + 1) & (obj->addr_cap - 1))
		;
	obj->addrs[i] = (struct addr_entry){ key, (uint32_t)obj->pool_len,
					     (uint32_t)res->n };
	memcpy(obj->pool + obj->pool_len, res->frames,
	       res->n * sizeof(*res->frames));
	obj->pool_len += res->n;
	obj->addr_len++;
}

static const struct addr_entry *cache_get(const struct sym_object *obj,
					  uint64_t key)
{
	if (!obj->addrs)
		return NULL;
	for (size_t i = addr_slot(obj, key); obj->addrs[i].key;
	     i = (i + 1) & (obj->addr_cap - 1))
		if (obj->addrs[i].key == key)
			return &obj->addrs[i];
	return NULL;
}

static void lookup(struct symbolizer *sym, struct sym_object *obj,
		   uint64_t vaddr, struct sym_result *out)
{
	struct chain chain[MAX_CHAIN];
	const char *symname, *file = NULL;
	Dwarf_Die *cudie;
	Dwarf_Addr bias;
	Dwarf_Line *dl;
	GElf_Off symoff;
	GElf_Sym elfsym;
	uint32_t line = 0;
	size_t n = 0, skip;
	int lineno;

	out->n = 0;
	symname = dwfl_module_addrinfo(obj->mod, vaddr, &symoff, &elfsym, NULL,
				       NULL, NULL);
	/* Code only: an address that lands on a variable is not a frame. */
	if (symname && GELF_ST_TYPE(elfsym.st_info) != STT_FUNC &&
	    GELF_ST_TYPE(elfsym.st_info) != STT_GNU_IFUNC &&
	    GELF_ST_TYPE(elfsym.st_info) != STT_NOTYPE)
		symname = NULL;
	cudie = dwfl_module_addrdie(obj->mod, vaddr, &bias);
	if (cudie) {
		dl = dwarf_getsrc_die(cudie, vaddr - bias);
		if (dl) {
			file = dwarf_linesrc(dl, NULL, NULL);
			if (!dwarf_lineno(dl, &lineno) && lineno > 0)
				line = (uint32_t)lineno;
		}
		n = inline_chain(cudie, vaddr - bias, file, line, chain);
	}
	if (!n) {
		if (!symname)
			return;
		chain[n++] = (struct chain){ symname, file, line, false };
	} else if (symname && !chain[n - 1].inlined &&
		   GELF_ST_TYPE(elfsym.st_info) != STT_NOTYPE) {
		/* The symbol table names the code actually run (foo.cold,
		 * foo.constprop.0), as perf and nm show it. */
		chain[n - 1].name = symname;
	}
	/* Keep the outermost frames: the stack must still join its caller. */
	skip = n > SYM_MAX_INLINE ? n - SYM_MAX_INLINE : 0;
	for (size_t i = n; i-- > skip;) {
		struct sym_frame *f = &out->frames[out->n++];

		f->name = strpool__intern(&sym->strs,
					  chain[i].name ? chain[i].name : "??");
		f->file = chain[i].file ? strpool__intern(&sym->strs,
							  chain[i].file)
					: NULL;
		f->line = chain[i].line;
		f->inlined = chain[i].inlined;
	}
}

int dwobj__resolve(struct symbolizer *sym, struct sym_object *obj,
		   uint64_t vaddr, struct sym_result *out)
{
	const struct addr_entry *e = cache_get(obj, vaddr + 1);

	if (e) {
		sym->stats.hits++;
		out->n = e->n;
		memcpy(out->frames, obj->pool + e->first,
		       e->n * sizeof(*out->frames));
		return e->n ? 0 : -ENOENT;
	}
	sym->stats.misses++;
	lookup(sym, obj, vaddr, out);
	/* Misses are cached too: unresolvable hot addresses are common. */
	cache_put(obj, vaddr + 1, out);
	return out->n ? 0 : -ENOENT;
}
