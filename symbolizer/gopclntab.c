// SPDX-License-Identifier: MIT
/*
 * Go's own line table (.gopclntab), for Go binaries without DWARF or
 * symbols (go build -ldflags="-s -w"): function names, file:line and the
 * inlined calls the compiler recorded, as the Go runtime reads them for
 * its tracebacks. Formats of Go 1.16 (magic 0xfffffffa), 1.18 and 1.19
 * (0xfffffff0) and 1.20+ (0xfffffff1); older ones are not read.
 *
 * Layout, from the format's description in the Go runtime (symtab.go):
 * a header (pcHeader) gives the offsets of the function name table, the
 * per-CU file index table (cutab), the file name table, the pc-value
 * tables and the function table. The function table pairs each
 * function's entry pc with the offset of its _func record; a _func names
 * the pc-value tables for file and line, the inline tree index (pcdata
 * 2) and the inline tree itself (funcdata 3). Since Go 1.18 funcdata are
 * offsets from moduledata.gofunc, which only the moduledata record knows:
 * it is found by scanning data segments for a pointer to the table.
 *
 * The table comes from a hostile file: every offset and length is checked
 * against the table (or the file image), varint loops are bounded, names
 * must end inside the table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer/sym_int.h"

#define GO116_MAGIC 0xfffffffau
#define GO118_MAGIC 0xfffffff0u
#define GO120_MAGIC 0xfffffff1u
#define PCDATA_INLTREE 2
#define FUNCDATA_INLTREE 3
/* Steps through one pc-value table; real tables have thousands at most. */
#define MAX_PCVALUE_STEPS (1u << 20)
#define MAX_NAME 4096

struct gopcln {
	const uint8_t *tab; /* the table, inside the file image */
	uint64_t size, vaddr;
	const uint8_t *img; /* the whole file */
	size_t img_size;
	uint32_t magic;
	uint8_t quantum, ptrsize;
	uint64_t nfunc, text;
	uint64_t funcnames, cutab, filetab, pctab, functab; /* offsets */
	uint64_t gofunc; /* vaddr; 0 when unknown (no inline trees) */
	const struct sym_load *loads;
	size_t nr_loads;
};

static bool rd(const struct gopcln *g, uint64_t off, uint64_t len, void *out)
{
	if (off > g->size || len > g->size - off)
		return false;
	memcpy(out, g->tab + off, len);
	return true;
}

static bool rd32(const struct gopcln *g, uint64_t off, uint32_t *v)
{
	return rd(g, off, 4, v); /* x86-64 and arm64: little endian */
}

/* A pointer-sized field. */
static bool rdptr(const struct gopcln *g, uint64_t off, uint64_t *v)
{
	uint32_t v32;

	if (g->ptrsize == 8)
		return rd(g, off, 8, v);
	if (!rd32(g, off, &v32))
		return false;
	*v = v32;
	return true;
}

/* The file offset of 'len' bytes at 'vaddr', or false. */
static bool vaddr_to_img(const struct gopcln *g, uint64_t vaddr, uint64_t len,
			 uint64_t *off)
{
	for (size_t i = 0; i < g->nr_loads; i++) {
		const struct sym_load *l = &g->loads[i];

		if (vaddr >= l->vaddr && vaddr - l->vaddr < l->filesz &&
		    len <= l->filesz - (vaddr - l->vaddr)) {
			*off = l->offset + (vaddr - l->vaddr);
			return *off <= g->img_size && len <= g->img_size - *off;
		}
	}
	return false;
}

/* A NUL-terminated string at 'off' of the table, or NULL. */
static const char *str_at(const struct gopcln *g, uint64_t off)
{
	uint64_t max;

	if (off >= g->size)
		return NULL;
	max = g->size - off < MAX_NAME ? g->size - off : MAX_NAME;
	if (!memchr(g->tab + off, 0, max))
		return NULL;
	return (const char *)g->tab + off;
}

static bool uvarint(const struct gopcln *g, uint64_t *off, uint32_t *v)
{
	uint32_t r = 0;

	for (unsigned shift = 0; shift < 35; shift += 7) {
		uint8_t b;

		if (!rd(g, (*off)++, 1, &b))
			return false;
		r |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

/*
 * The value of pc-value table 'tab' (offset into pctab) at 'pc', for a
 * function starting at 'entry'. Values start at -1; each step adds a
 * zig-zag delta and advances pc by a delta times the instruction quantum.
 */
static bool pcvalue(const struct gopcln *g, uint32_t tab, uint64_t entry,
		    uint64_t pc, int32_t *out)
{
	uint64_t off = g->pctab + tab, cur = entry;
	int32_t val = -1;

	if (!tab)
		return false;
	for (uint32_t step = 0; step < MAX_PCVALUE_STEPS; step++) {
		uint32_t uv, pcd;

		if (!uvarint(g, &off, &uv))
			return false;
		if (!uv && step)
			return false; /* end of table: pc not covered */
		val += (int32_t)((uv & 1) ? ~(uv >> 1) : (uv >> 1));
		if (!uvarint(g, &off, &pcd))
			return false;
		cur += (uint64_t)pcd * g->quantum;
		if (pc < cur) {
			*out = val;
			return true;
		}
	}
	return false;
}

/* A function record: where its fields are, by format. */
struct gofunc_rec {
	uint64_t off; /* of the _func, in the table */
	uint64_t entry;
	int32_t nameoff;
	uint32_t pcfile, pcln, npcdata, cu;
	uint8_t nfuncdata;
	uint64_t pcdata; /* offset of the pcdata array */
};

static bool read_func(const struct gopcln *g, uint64_t off, uint64_t entry,
		      struct gofunc_rec *f)
{
	/* Go 1.16 starts with a pointer-sized entry, later ones with a
	 * 32-bit entry offset; Go 1.20 added startLine after cuOffset. */
	uint64_t base = off + (g->magic == GO116_MAGIC ? g->ptrsize : 4);
	uint64_t nfd = base + (g->magic == GO120_MAGIC ? 39 : 35);
	uint32_t name;

	f->off = off;
	f->entry = entry;
	f->pcdata = nfd + 1;
	if (!rd32(g, base, &name) || !rd32(g, base + 16, &f->pcfile) ||
	    !rd32(g, base + 20, &f->pcln) || !rd32(g, base + 24, &f->npcdata) ||
	    !rd32(g, base + 28, &f->cu) || !rd(g, nfd, 1, &f->nfuncdata))
		return false;
	f->nameoff = (int32_t)name;
	return f->npcdata < 1024;
}

static const char *func_name(const struct gopcln *g, int32_t nameoff)
{
	return nameoff < 0 ? NULL : str_at(g, g->funcnames + (uint32_t)nameoff);
}

static const char *file_name(const struct gopcln *g, uint32_t cu,
			     int32_t fileno)
{
	uint32_t off;

	if (fileno < 0 ||
	    !rd32(g, g->cutab + ((uint64_t)cu + (uint32_t)fileno) * 4, &off) ||
	    off == UINT32_MAX)
		return NULL;
	return str_at(g, g->filetab + off);
}

static bool pcdata_tab(const struct gopcln *g, const struct gofunc_rec *f,
		       uint32_t i, uint32_t *tab)
{
	return i < f->npcdata && rd32(g, f->pcdata + 4 * (uint64_t)i, tab);
}

/* The inline tree of a function: the file offset of its first entry. */
static bool inline_tree(const struct gopcln *g, const struct gofunc_rec *f,
			uint64_t *img_off)
{
	uint64_t p = f->pcdata + 4 * (uint64_t)f->npcdata, vaddr;

	if (f->nfuncdata <= FUNCDATA_INLTREE)
		return false;
	if (g->magic == GO116_MAGIC) {
		/* Pointers, aligned to their size by address. */
		if (g->ptrsize == 8 && ((g->vaddr + p) & 4))
			p += 4;
		if (!rdptr(g, p + (uint64_t)FUNCDATA_INLTREE * g->ptrsize,
			   &vaddr) ||
		    !vaddr)
			return false;
	} else {
		uint32_t off;

		if (!g->gofunc ||
		    !rd32(g, p + 4 * (uint64_t)FUNCDATA_INLTREE, &off) ||
		    off == UINT32_MAX)
			return false;
		vaddr = g->gofunc + off;
	}
	return vaddr_to_img(g, vaddr, 1, img_off);
}

/* Finds the function containing pc; false if none. */
static bool find_func(const struct gopcln *g, uint64_t pc, struct gofunc_rec *f)
{
	/* Go 1.16: {uintptr entry, uintptr funcoff}; later: {u32, u32}
	 * relative to the text start. nfunc + 1 entries: the last one ends
	 * the last function. */
	uint64_t esz = g->magic == GO116_MAGIC ? 2u * g->ptrsize : 8;
	uint64_t lo = 0, hi = g->nfunc, entry, next, funcoff;

	if (!g->nfunc)
		return false;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2, e;

		if (g->magic == GO116_MAGIC) {
			if (!rdptr(g, g->functab + mid * esz, &e))
				return false;
		} else {
			uint32_t e32;

			if (!rd32(g, g->functab + mid * esz, &e32))
				return false;
			e = g->text + e32;
		}
		if (e <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if (g->magic == GO116_MAGIC) {
		if (!rdptr(g, g->functab + lo * esz, &entry) ||
		    !rdptr(g, g->functab + lo * esz + g->ptrsize, &funcoff) ||
		    !rdptr(g, g->functab + (lo + 1) * esz, &next))
			return false;
	} else {
		uint32_t e, fo, n;

		if (!rd32(g, g->functab + lo * esz, &e) ||
		    !rd32(g, g->functab + lo * esz + 4, &fo) ||
		    !rd32(g, g->functab + (lo + 1) * esz, &n))
			return false;
		entry = g->text + e;
		next = g->text + n;
		funcoff = fo;
	}
	if (pc < entry || pc >= next || funcoff >= g->size - g->functab)
		return false;
	return read_func(g, g->functab + funcoff, entry, f);
}

size_t gopcln__lookup(const struct gopcln *g, uint64_t pc, struct go_frame *out,
		      size_t max)
{
	struct gofunc_rec f;
	uint64_t tree = 0, cur = pc;
	uint32_t inl_tab = 0;
	bool have_tree;
	size_t n = 0;

	if (!g || !max || !find_func(g, pc, &f))
		return 0;
	have_tree = pcdata_tab(g, &f, PCDATA_INLTREE, &inl_tab) && inl_tab &&
		    inline_tree(g, &f, &tree);
	/* Innermost first: each inlined call, then the function itself, the
	 * position of each being looked up at the pc standing for it. */
	while (n < max) {
		int32_t file = -1, line = 0, ix = -1;
		const char *name = NULL;

		pcvalue(g, f.pcfile, f.entry, cur, &file);
		pcvalue(g, f.pcln, f.entry, cur, &line);
		if (have_tree && pcvalue(g, inl_tab, f.entry, cur, &ix) &&
		    ix >= 0 && n + 1 < max) {
			/* 1.20+: {funcID, pad[3], nameOff, parentPc,
			 * startLine}; before: {parent i16, funcID, pad, file,
			 * line, func_, parentPc}. */
			uint64_t esz = g->magic == GO120_MAGIC ? 16 : 20;
			uint64_t at = tree + (uint64_t)ix * esz;
			uint64_t name_at = g->magic == GO120_MAGIC ? 4 : 12;
			int32_t nameoff, parent_pc;

			if (at > g->img_size || esz > g->img_size - at)
				break;
			memcpy(&nameoff, g->img + at + name_at, 4);
			memcpy(&parent_pc, g->img + at + name_at + 4, 4);
			name = func_name(g, nameoff);
			out[n++] = (struct go_frame){
			    .name = name ? name : "??",
			    .file = file_name(g, f.cu, file),
			    .line = line > 0 ? (uint32_t)line : 0,
			    .inlined = true,
			};
			if (parent_pc < 0)
				break;
			cur = f.entry + (uint32_t)parent_pc;
			continue;
		}
		name = func_name(g, f.nameoff);
		out[n++] = (struct go_frame){
		    .name = name ? name : "??",
		    .file = file_name(g, f.cu, file),
		    .line = line > 0 ? (uint32_t)line : 0,
		};
		break;
	}
	/* The outermost entry must be the function itself. */
	if (n && out[n - 1].inlined) {
		const char *name = func_name(g, f.nameoff);

		out[n - 1] = (struct go_frame){.name = name ? name : "??"};
	}
	return n;
}

/* ---- finding and opening the table ---- */

static bool parse_header(struct gopcln *g)
{
	uint32_t magic;
	uint8_t h[4];
	uint64_t w[8];
	size_t nw;

	if (!rd32(g, 0, &magic) || !rd(g, 4, 4, h))
		return false;
	if (magic != GO116_MAGIC && magic != GO118_MAGIC &&
	    magic != GO120_MAGIC)
		return false;
	if (h[0] || h[1] || (h[2] != 1 && h[2] != 2 && h[2] != 4) ||
	    (h[3] != 4 && h[3] != 8))
		return false;
	g->magic = magic;
	g->quantum = h[2];
	g->ptrsize = h[3];
	/* nfunc, nfiles, [textStart,] then five offsets. */
	nw = magic == GO116_MAGIC ? 7 : 8;
	for (size_t i = 0; i < nw; i++)
		if (!rdptr(g, 8 + i * g->ptrsize, &w[i]))
			return false;
	g->nfunc = w[0];
	if (magic == GO116_MAGIC) {
		g->text = 0;
		memmove(&w[3], &w[2], 5 * sizeof(w[0]));
	} else {
		g->text = w[2];
	}
	g->funcnames = w[3];
	g->cutab = w[4];
	g->filetab = w[5];
	g->pctab = w[6];
	g->functab = w[7];
	for (size_t i = 3; i < 8; i++)
		if (w[i] >= g->size)
			return false;
	/* The function table must hold nfunc + 1 entries. */
	uint64_t esz = magic == GO116_MAGIC ? 2u * g->ptrsize : 8;
	return g->nfunc && g->nfunc < (1u << 24) &&
	       (g->nfunc + 1) * esz <= g->size - g->functab;
}

/* Go 1.18+: moduledata.gofunc, from the moduledata record that points to
 * the table. Its layout is fixed per format; the record is accepted only
 * when its funcnametab and text fields agree with the header. */
static void find_gofunc(struct gopcln *g)
{
	size_t idx = g->magic == GO120_MAGIC ? 40 : 38;
	uint64_t ps = g->ptrsize, need = (idx + 1) * ps;

	if (g->magic == GO116_MAGIC || ps != 8)
		return;
	for (size_t i = 0; i < g->nr_loads; i++) {
		const struct sym_load *l = &g->loads[i];

		if (l->exec || l->offset > g->img_size ||
		    l->filesz > g->img_size - l->offset || l->filesz < need)
			continue;
		const uint8_t *seg = g->img + l->offset;

		for (uint64_t o = 0; o + need <= l->filesz; o += ps) {
			uint64_t w0, w1, text, gofunc;

			memcpy(&w0, seg + o, 8);
			if (w0 != g->vaddr)
				continue;
			memcpy(&w1, seg + o + 8, 8);
			memcpy(&text, seg + o + 22 * 8, 8);
			memcpy(&gofunc, seg + o + idx * 8, 8);
			if (w1 != g->vaddr + g->funcnames ||
			    (g->text && text != g->text))
				continue;
			uint64_t off;

			if (vaddr_to_img(g, gofunc, 1, &off))
				g->gofunc = gofunc;
			return;
		}
	}
}

struct gopcln *gopcln__open(Elf *elf, const struct sym_load *loads,
			    size_t nr_loads)
{
	struct gopcln *g;
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	bool found = false, go = false, have_shdrs;

	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->img = (const uint8_t *)elf_rawfile(elf, &g->img_size);
	g->loads = loads;
	g->nr_loads = nr_loads;
	if (!g->img)
		goto fail;
	/* By section, when section headers survive. */
	have_shdrs =
	    !elf_getshdrstrndx(elf, &shstrndx) && elf_nextscn(elf, NULL);
	if (have_shdrs) {
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh) ||
			    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
				continue;
			if (!strcmp(name, ".go.buildinfo"))
				go = true;
			if (strcmp(name, ".gopclntab") ||
			    sh.sh_type == SHT_NOBITS)
				continue;
			if (sh.sh_offset > g->img_size ||
			    sh.sh_size > g->img_size - sh.sh_offset)
				break;
			g->tab = g->img + sh.sh_offset;
			g->size = sh.sh_size;
			g->vaddr = sh.sh_addr;
			found = parse_header(g);
			break;
		}
	}
	/* By its magic in a non-executable segment (Go 1.16+ keeps the
	 * table in read-only data; section headers may be gone). Only for
	 * Go binaries or ones without sections: the scan reads every data
	 * page, which other large objects need not pay for. */
	for (size_t i = 0; !found && (go || !have_shdrs) && i < nr_loads; i++) {
		const struct sym_load *l = &loads[i];

		if (l->exec || l->offset > g->img_size ||
		    l->filesz > g->img_size - l->offset)
			continue;
		for (uint64_t o = 0; !found && o + 64 <= l->filesz; o += 4) {
			const uint8_t *p = g->img + l->offset + o;
			uint32_t m;

			memcpy(&m, p, 4);
			if (m != GO116_MAGIC && m != GO118_MAGIC &&
			    m != GO120_MAGIC)
				continue;
			g->tab = p;
			g->size = l->filesz - o;
			g->vaddr = l->vaddr + o;
			found = parse_header(g);
		}
	}
	if (!found)
		goto fail;
	/* A position-independent binary has its text start relocated at
	 * load time: the file holds 0. Then the .text section tells. */
	if (!g->text && g->magic != GO116_MAGIC) {
		scn = NULL;
		while (!elf_getshdrstrndx(elf, &shstrndx) &&
		       (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (gelf_getshdr(scn, &sh) &&
			    (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
			    !strcmp(name, ".text")) {
				g->text = sh.sh_addr;
				break;
			}
		}
		if (!g->text)
			goto fail;
	}
	find_gofunc(g);
	return g;
fail:
	free(g);
	return NULL;
}

size_t gopcln__bytes(void)
{
	return sizeof(struct gopcln); /* the table stays in the file */
}

void gopcln__free(struct gopcln *g)
{
	free(g);
}

bool gopcln__has_inlines(const struct gopcln *g)
{
	return g && (g->magic == GO116_MAGIC || g->gofunc);
}
