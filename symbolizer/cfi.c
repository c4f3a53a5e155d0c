// SPDX-License-Identifier: MIT
/*
 * CFI rows through libdw. libdw interprets the CIE and FDE programs; what
 * is done here is (1) listing the FDEs, whose initial location is encoded
 * per the CIE's augmentation ('R'), so that every covered address range is
 * visited, and (2) reducing libdw's DWARF expressions for the CFA, frame
 * pointer and return address to the few shapes a BPF walker can evaluate.
 */
#include "symbolizer/cfi.h"

#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer/sym_int.h"

/* x86-64 DWARF register numbers. */
#define X86_RBP 6
#define X86_RSP 7
#define X86_RA 16

struct fde_range {
	uint64_t start, end;
};

struct cie_enc {
	uint64_t off;
	uint8_t enc;
};

struct fde_list {
	struct fde_range *r;
	size_t n, cap;
	struct cie_enc *cies;
	size_t nr_cies, cap_cies;
};

/* Bytes of a pointer in encoding 'enc' (DW_EH_PE_*), or 0 if unknown. */
static size_t enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		return 8;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		return 4;
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		return 2;
	default:
		return 0;
	}
}

/* Reads an encoded pointer at 'p' (within [p, end)); 'field_addr' is its
 * address for pc-relative encodings. Only what FDEs use is supported. */
static int read_enc(const uint8_t *p, const uint8_t *end, uint8_t enc,
		    uint64_t field_addr, bool apply, uint64_t *out)
{
	size_t size = enc_size(enc);
	uint64_t v = 0;

	if (!size || (size_t)(end - p) < size)
		return -EINVAL;
	switch (enc & 0x0f) {
	case DW_EH_PE_udata2: {
		uint16_t x;
		memcpy(&x, p, 2);
		v = x;
		break;
	}
	case DW_EH_PE_sdata2: {
		int16_t x;
		memcpy(&x, p, 2);
		v = (uint64_t)(int64_t)x;
		break;
	}
	case DW_EH_PE_udata4: {
		uint32_t x;
		memcpy(&x, p, 4);
		v = x;
		break;
	}
	case DW_EH_PE_sdata4: {
		int32_t x;
		memcpy(&x, p, 4);
		v = (uint64_t)(int64_t)x;
		break;
	}
	default:
		memcpy(&v, p, 8);
		break;
	}
	if (apply) {
		switch (enc & 0x70) {
		case DW_EH_PE_absptr:
			break;
		case DW_EH_PE_pcrel:
			v += field_addr;
			break;
		default:
			return -ENOTSUP;
		}
	}
	*out = v;
	return 0;
}

/* The FDE pointer encoding of a CIE, from its augmentation ("zR", "zPLR"). */
static int cie_fde_encoding(const Dwarf_CIE *cie, uint8_t *enc)
{
	const char *a = cie->augmentation;
	const uint8_t *d = cie->augmentation_data;
	const uint8_t *end = d ? d + cie->augmentation_data_size : NULL;

	*enc = DW_EH_PE_absptr;
	if (!a || a[0] != 'z')
		return a && a[0] ? -ENOTSUP : 0;
	for (a++; *a; a++) {
		switch (*a) {
		case 'R':
			if (!d || d >= end)
				return -EINVAL;
			*enc = *d++;
			break;
		case 'L':
			if (!d || d >= end)
				return -EINVAL;
			d++;
			break;
		case 'P': {
			size_t size;

			if (!d || d >= end)
				return -EINVAL;
			size = enc_size(*d);
			if (!size || (size_t)(end - d) < size + 1)
				return -EINVAL;
			d += 1 + size;
			break;
		}
		case 'S':
		case 'B':
			break;
		default:
			return -ENOTSUP;
		}
	}
	return 0;
}

static int find_cie(struct fde_list *l, const unsigned char *ident,
		    Elf_Data *data, bool eh, uint64_t off, uint8_t *enc)
{
	Dwarf_CFI_Entry e;
	Dwarf_Off next;
	int err;

	for (size_t i = 0; i < l->nr_cies; i++)
		if (l->cies[i].off == off) {
			*enc = l->cies[i].enc;
			return 0;
		}
	if (dwarf_next_cfi(ident, data, eh, off, &next, &e) != 0 ||
	    e.cie.CIE_id != LIBDW_CIE_ID)
		return -EINVAL;
	err = eh ? cie_fde_encoding(&e.cie, enc) : 0;
	if (!eh)
		*enc = DW_EH_PE_absptr;
	if (err)
		return err;
	if (l->nr_cies == l->cap_cies) {
		size_t cap = l->cap_cies ? l->cap_cies * 2 : 16;
		void *p = realloc(l->cies, cap * sizeof(*l->cies));
		if (!p)
			return -ENOMEM;
		l->cies = p;
		l->cap_cies = cap;
	}
	l->cies[l->nr_cies++] = (struct cie_enc){off, *enc};
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct fde_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* The CFI section: .eh_frame first, else .debug_frame. */
static Elf_Scn *cfi_section(Elf *elf, bool *eh, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL, *debug = NULL;
	GElf_Shdr dshdr;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr mem, *sh = gelf_getshdr(scn, &mem);
		const char *name;

		if (!sh || sh->sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh->sh_name);
		if (!name)
			continue;
		if (!strcmp(name, ".eh_frame") && sh->sh_size > 0) {
			*eh = true;
			*shdr = *sh;
			return scn;
		}
		if (!strcmp(name, ".debug_frame") && sh->sh_size > 0 &&
		    !(sh->sh_flags & SHF_COMPRESSED)) {
			debug = scn;
			dshdr = *sh;
		}
	}
	if (debug) {
		*eh = false;
		*shdr = dshdr;
	}
	return debug;
}

/* Lists every FDE's [start, end), sorted. */
static int list_fdes(Elf *elf, struct fde_list *l, bool *eh)
{
	const unsigned char *ident =
	    (const unsigned char *)elf_getident(elf, NULL);
	GElf_Shdr shdr;
	Elf_Scn *scn = cfi_section(elf, eh, &shdr);
	Elf_Data *data;
	Dwarf_Off off = 0, next;

	if (!scn || !ident)
		return -ENOENT;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf)
		return -ENOENT;
	for (;;) {
		Dwarf_CFI_Entry e;
		uint64_t start, range;
		uint8_t enc;
		int ret = dwarf_next_cfi(ident, data, *eh, off, &next, &e);

		if (ret > 0)
			break;
		if (ret < 0) {
			if (next == (Dwarf_Off)-1 || next <= off)
				break;
			off = next;
			continue;
		}
		if (next <= off && next != (Dwarf_Off)-1)
			break;
		if (e.cie.CIE_id != LIBDW_CIE_ID &&
		    !find_cie(l, ident, data, *eh, e.fde.CIE_pointer, &enc)) {
			const uint8_t *p = e.fde.start;
			size_t size = *eh ? enc_size(enc) : 8;
			uint64_t field = shdr.sh_addr +
					 (uint64_t)(p - (uint8_t *)data->d_buf);

			if (*eh &&
			    !read_enc(p, e.fde.end, enc, field, true, &start) &&
			    !read_enc(p + size, e.fde.end, enc, 0, false,
				      &range))
				;
			else if (!*eh && e.fde.end - p >= 16) {
				memcpy(&start, p, 8);
				memcpy(&range, p + 8, 8);
			} else
				goto skip;
			if (range > 0 && start + range > start) {
				if (l->n == l->cap) {
					size_t cap = l->cap ? l->cap * 2 : 1024;
					void *q =
					    realloc(l->r, cap * sizeof(*l->r));
					if (!q)
						return -ENOMEM;
					l->r = q;
					l->cap = cap;
				}
				l->r[l->n++] =
				    (struct fde_range){start, start + range};
			}
		}
	skip:
		if (next == (Dwarf_Off)-1)
			break;
		off = next;
	}
	if (!l->n)
		return -ENOENT;
	qsort(l->r, l->n, sizeof(*l->r), cmp_range);
	return 0;
}

static void fde_list_release(struct fde_list *l)
{
	free(l->r);
	free(l->cies);
}

/* Signed DWARF operand. */
static int64_t sval(Dwarf_Word w)
{
	return (int64_t)w;
}

/* Recognises "CFA + N" as libdw spells a register's offset(N) rule. */
static bool at_cfa(const Dwarf_Op *ops, size_t n, int64_t *off)
{
	if (n == 1 && ops[0].atom == DW_OP_call_frame_cfa) {
		*off = 0;
		return true;
	}
	if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa &&
	    ops[1].atom == DW_OP_plus_uconst) {
		*off = sval(ops[1].number);
		return true;
	}
	if (n == 3 && ops[0].atom == DW_OP_call_frame_cfa &&
	    (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu ||
	     ops[1].atom == DW_OP_const1s || ops[1].atom == DW_OP_const2s ||
	     ops[1].atom == DW_OP_const4s || ops[1].atom == DW_OP_const8s) &&
	    ops[2].atom == DW_OP_plus) {
		*off = sval(ops[1].number);
		return true;
	}
	return false;
}

/*
 * The CFA expression GCC and binutils emit for x86-64 lazy PLT stubs:
 * DW_OP_breg7 (rsp) 8; DW_OP_breg16 (rip) 0; DW_OP_lit15; DW_OP_and;
 * DW_OP_litN; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus.
 */
static bool plt_expr(const Dwarf_Op *ops, size_t n, int64_t *off,
		     uint8_t *threshold)
{
	if (n != 9 || ops[0].atom != DW_OP_breg7 ||
	    ops[1].atom != DW_OP_breg16 || ops[1].number != 0 ||
	    ops[2].atom != DW_OP_lit15 || ops[3].atom != DW_OP_and ||
	    ops[4].atom < DW_OP_lit0 || ops[4].atom > DW_OP_lit15 ||
	    ops[5].atom != DW_OP_ge || ops[6].atom != DW_OP_lit3 ||
	    ops[7].atom != DW_OP_shl || ops[8].atom != DW_OP_plus)
		return false;
	*off = sval(ops[0].number);
	*threshold = (uint8_t)(ops[4].atom - DW_OP_lit0);
	return true;
}

static enum cfi_unsupported convert_cfa(Dwarf_Frame *f, struct cfi_row *row)
{
	Dwarf_Op *ops;
	size_t n;

	if (dwarf_frame_cfa(f, &ops, &n) || n == 0)
		return CFI_UNSUP_CFA_EXPR;
	if (n == 1 &&
	    (ops[0].atom == DW_OP_bregx ||
	     (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31))) {
		Dwarf_Word reg = ops[0].atom == DW_OP_bregx
				     ? ops[0].number
				     : (Dwarf_Word)(ops[0].atom - DW_OP_breg0);
		int64_t off = ops[0].atom == DW_OP_bregx ? sval(ops[0].number2)
							 : sval(ops[0].number);

		row->cfa_off = off;
		if (reg == X86_RSP)
			row->cfa = CFI_CFA_SP;
		else if (reg == X86_RBP)
			row->cfa = CFI_CFA_FP;
		else
			return CFI_UNSUP_CFA_REG;
		return CFI_OK;
	}
	if (plt_expr(ops, n, &row->cfa_off, &row->plt_threshold)) {
		row->cfa = CFI_CFA_PLT;
		return CFI_OK;
	}
	return CFI_UNSUP_CFA_EXPR;
}

static int reg_rule(Dwarf_Frame *f, int regno, uint8_t *rule, int64_t *off)
{
	Dwarf_Op mem[3], *ops;
	size_t n;

	if (dwarf_frame_register(f, regno, mem, &ops, &n))
		return -1;
	if (n == 0) {
		*rule = ops ? CFI_REG_UNDEFINED : CFI_REG_SAME;
		return 0;
	}
	if (at_cfa(ops, n, off)) {
		*rule = CFI_REG_AT_CFA;
		return 0;
	}
	return -1;
}

static void convert(Dwarf_Frame *f, bool signal, struct cfi_row *row)
{
	enum cfi_unsupported why;

	if (signal) {
		row->cfa = CFI_CFA_SIGNAL;
		return;
	}
	why = convert_cfa(f, row);
	if (!why && reg_rule(f, X86_RA, &row->ra, &row->ra_off))
		why = CFI_UNSUP_RA_RULE;
	if (!why && reg_rule(f, X86_RBP, &row->fp, &row->fp_off))
		why = CFI_UNSUP_FP_RULE;
	if (why) {
		row->cfa = CFI_CFA_INVALID;
		row->unsupported = (uint8_t)why;
	}
}

static int emit(struct cfi_stats *st, cfi_row_fn fn, void *ctx,
		const struct cfi_row *row)
{
	st->rows++;
	if (row->gap)
		st->gaps++;
	else if (row->cfa == CFI_CFA_INVALID) {
		st->unsupported++;
		st->by_reason[row->unsupported]++;
	}
	return fn(row, ctx);
}

static Elf *open_elf(int fd, int *err)
{
	Elf *elf;
	GElf_Ehdr ehdr;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
		elf_end(elf);
		*err = -EINVAL;
		return NULL;
	}
	if (ehdr.e_machine != EM_X86_64) {
		elf_end(elf);
		*err = -ENOTSUP;
		return NULL;
	}
	return elf;
}

int cfi__read(int fd, cfi_row_fn fn, void *ctx, struct cfi_stats *out)
{
	struct cfi_stats st = {0};
	struct fde_list l = {0};
	Dwarf *dw = NULL;
	Dwarf_CFI *cfi = NULL;
	uint64_t covered = 0; /* everything below is done */
	bool eh = true;
	int err;
	Elf *elf = open_elf(fd, &err);

	if (!elf)
		return err;
	err = list_fdes(elf, &l, &eh);
	if (err)
		goto out;
	st.debug_frame = !eh;
	{
		GElf_Ehdr ehdr;

		if (gelf_getehdr(elf, &ehdr))
			st.entry = ehdr.e_entry;
	}
	if (eh) {
		cfi = dwarf_getcfi_elf(elf);
	} else {
		dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
		cfi = dw ? dwarf_getcfi(dw) : NULL;
	}
	if (!cfi) {
		err = -ENOENT;
		goto out;
	}
	st.fdes = l.n;
	for (size_t i = 0; i < l.n; i++) {
		uint64_t a = l.r[i].start > covered ? l.r[i].start : covered;
		uint64_t end = l.r[i].end;

		while (a < end) {
			struct cfi_row row = {.pc = a};
			Dwarf_Frame *f = NULL;
			Dwarf_Addr s, e;
			bool signal = false;

			if (dwarf_cfi_addrframe(cfi, a, &f) ||
			    dwarf_frame_info(f, &s, &e, &signal) < 0) {
				free(f);
				row.unsupported = CFI_UNSUP_NO_RULE;
				e = end;
			} else {
				convert(f, signal, &row);
				free(f);
			}
			if (e <= a || e > end)
				e = end;
			err = emit(&st, fn, ctx, &row);
			if (err)
				goto out;
			a = e;
		}
		covered = end > covered ? end : covered;
		if (i + 1 == l.n || l.r[i + 1].start > covered) {
			struct cfi_row gap = {.pc = covered, .gap = true};

			err = emit(&st, fn, ctx, &gap);
			if (err)
				goto out;
		}
	}
out:
	if (out)
		*out = st;
	if (dw)
		dwarf_end(dw); /* frees its CFI */
	else if (cfi)
		dwarf_cfi_end(cfi);
	fde_list_release(&l);
	elf_end(elf);
	return err;
}

int cfi__load_bias(int fd, uint64_t start, uint64_t pgoff, uint64_t *bias)
{
	size_t nphdr;
	int err = -ENOENT;
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nphdr)) {
		elf_end(elf);
		return -EINVAL;
	}
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);

		if (!ph || ph->p_type != PT_LOAD)
			continue;
		/* mmap rounds the segment's offset down to a page. */
		if (pgoff >= (ph->p_offset & ~(uint64_t)0xfff) &&
		    pgoff < ph->p_offset + ph->p_filesz) {
			*bias = start - pgoff + ph->p_offset - ph->p_vaddr;
			err = 0;
			break;
		}
	}
	elf_end(elf);
	return err;
}

int cfi__vdso_fd(void)
{
	return vdso__memfd();
}

int cfi__build_id(int fd, uint8_t *buf, size_t size)
{
	return fd__build_id(fd, buf, size);
}

const char *cfi__unsupported_name(enum cfi_unsupported r)
{
	switch (r) {
	case CFI_OK:
		return "ok";
	case CFI_UNSUP_CFA_EXPR:
		return "cfa-expression";
	case CFI_UNSUP_CFA_REG:
		return "cfa-register";
	case CFI_UNSUP_FP_RULE:
		return "fp-rule";
	case CFI_UNSUP_RA_RULE:
		return "ra-rule";
	case CFI_UNSUP_NO_RULE:
		return "no-rule";
	default:
		return "unknown";
	}
}

struct cfi_fdes {
	struct fde_range *r;
	size_t n;
};

struct cfi_fdes *cfi_fdes__read(int fd)
{
	struct cfi_fdes *f;
	int err;
	Elf *elf = open_elf(fd, &err);

	if (!elf) {
		errno = -err;
		return NULL;
	}
	f = cfi_fdes__read_elf(elf);
	err = errno;
	elf_end(elf);
	errno = err;
	return f;
}

struct cfi_fdes *cfi_fdes__read_elf(Elf *elf)
{
	struct fde_list l = {0};
	struct cfi_fdes *f;
	bool eh;
	int err;

	err = list_fdes(elf, &l, &eh);
	free(l.cies);
	if (err) {
		free(l.r);
		errno = -err;
		return NULL;
	}
	f = malloc(sizeof(*f));
	if (!f) {
		free(l.r);
		errno = ENOMEM;
		return NULL;
	}
	f->r = l.r;
	f->n = l.n;
	return f;
}

void cfi_fdes__free(struct cfi_fdes *f)
{
	if (!f)
		return;
	free(f->r);
	free(f);
}

int cfi_fdes__find(const struct cfi_fdes *f, uint64_t vaddr, uint64_t *start,
		   uint64_t *end)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->r[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || vaddr >= f->r[lo - 1].end)
		return -ENOENT;
	*start = f->r[lo - 1].start;
	*end = f->r[lo - 1].end;
	return 0;
}

size_t cfi_fdes__count(const struct cfi_fdes *f)
{
	return f->n;
}
