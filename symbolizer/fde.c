// SPDX-License-Identifier: MIT
/*
 * Function starts of code without symbols, from the unwind information
 * every binary carries: the binary search table of .eh_frame_hdr lists
 * each FDE's first address, sorted. The FDE covering an address starts
 * at the greatest entry <= the address; libdw's CFI reader confirms that
 * an FDE covers it at all (padding and PLT stubs may lie between FDEs).
 *
 * Only the table encoding linkers emit (datarel | sdata4, 8 bytes a pair)
 * is read; anything else, and every malformed header, leaves the object
 * without function starts. Every offset is checked against the segment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>

#include "symbolizer/sym_int.h"

#define EH_PE_omit 0xff
#define EH_PE_udata4 0x03
#define EH_PE_sdata4 0x0b
#define EH_PE_pcrel 0x10
#define EH_PE_datarel 0x30
/* More FDEs than any real object has (node: ~60k). */
#define MAX_FDES (1u << 22)

struct fde_table {
	uint64_t *starts; /* sorted ELF virtual addresses */
	size_t n;
	Dwarf_CFI *cfi; /* .eh_frame, for coverage checks */
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v; /* .eh_frame_hdr of x86-64/arm64 objects: little endian */
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reads the table of the PT_GNU_EH_FRAME segment. */
static int read_hdr(Elf *elf, struct fde_table *t)
{
	size_t nphdr, size, count;
	const GElf_Phdr *hdr = NULL;
	GElf_Phdr mem;
	Elf_Data *d;
	const uint8_t *p;

	if (elf_getphdrnum(elf, &nphdr))
		return -EINVAL;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr *ph = gelf_getphdr(elf, (int)i, &mem);

		if (ph && ph->p_type == PT_GNU_EH_FRAME) {
			hdr = ph;
			break;
		}
	}
	if (!hdr || hdr->p_filesz < 12 || hdr->p_filesz > (1u << 30))
		return -ENOENT;
	d = elf_getdata_rawchunk(elf, (int64_t)hdr->p_offset, hdr->p_filesz,
				 ELF_T_BYTE);
	if (!d || !d->d_buf || d->d_size < 12)
		return -ENOENT;
	p = d->d_buf;
	size = d->d_size;
	/* version 1; eh_frame_ptr: 4 bytes in any sane encoding; the count
	 * as (s|u)data4; the table as datarel|sdata4. */
	if (p[0] != 1 || p[1] == EH_PE_omit ||
	    ((p[2] & 0x0f) != EH_PE_udata4 && (p[2] & 0x0f) != EH_PE_sdata4) ||
	    p[3] != (EH_PE_datarel | EH_PE_sdata4))
		return -ENOTSUP;
	count = rd32(p + 8);
	if (!count || count > MAX_FDES || count > (size - 12) / 8)
		return -EINVAL;
	t->starts = malloc(count * sizeof(*t->starts));
	if (!t->starts)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		int32_t rel = (int32_t)rd32(p + 12 + i * 8);

		t->starts[i] = hdr->p_vaddr + (uint64_t)(int64_t)rel;
	}
	/* The table is sorted by definition; a hostile one may not be. */
	for (size_t i = 1; i < count; i++) {
		if (t->starts[i] < t->starts[i - 1]) {
			qsort(t->starts, count, sizeof(*t->starts), u64_cmp);
			break;
		}
	}
	t->n = count;
	return 0;
}

static struct fde_table *fde_table_load(struct sym_object *obj)
{
	struct fde_table *t = calloc(1, sizeof(*t));
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(obj->mod, &bias);

	if (!t)
		return NULL;
	if (!elf || read_hdr(elf, t)) {
		free(t->starts);
		t->starts = NULL;
		t->n = 0;
		return t; /* remembered as empty: not read again */
	}
	t->cfi = dwarf_getcfi_elf(elf);
	return t;
}

int fde__func_start(struct sym_object *obj, uint64_t vaddr, uint64_t *start)
{
	struct fde_table *t;
	Dwarf_Frame *frame = NULL;
	size_t lo = 0, hi;

	if (!obj->fdes_loaded) {
		obj->fdes_loaded = true;
		obj->fdes = fde_table_load(obj);
		obj->bytes += fde__bytes(obj);
	}
	t = obj->fdes;
	if (!t || !t->n || vaddr < t->starts[0])
		return -ENOENT;
	hi = t->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->starts[mid] <= vaddr)
			lo = mid;
		else
			hi = mid;
	}
	/* An FDE must cover the address, else it lies between functions. */
	if (t->cfi) {
		if (dwarf_cfi_addrframe(t->cfi, vaddr, &frame))
			return -ENOENT;
		free(frame);
	}
	*start = t->starts[lo];
	return 0;
}

uint64_t fde__bytes(const struct sym_object *obj)
{
	return obj->fdes ? sizeof(*obj->fdes) +
			       obj->fdes->n * sizeof(*obj->fdes->starts)
			 : 0;
}

void fde__free(struct sym_object *obj)
{
	struct fde_table *t = obj->fdes;

	if (t) {
		dwarf_cfi_end(t->cfi);
		free(t->starts);
		free(t);
	}
	obj->fdes = NULL;
	obj->fdes_loaded = false;
}
