// SPDX-License-Identifier: MIT
/*
 * Function starts of code without symbols, from the unwind information
 * every binary carries: the FDE containing an address gives the start of
 * its function, so all addresses of one function share one name. The
 * FDE ranges come from the CFI reader (cfi.c: .eh_frame, or .debug_frame
 * when that is all there is), read once per object on first need, from
 * the ELF image the object already holds.
 */
#include <errno.h>
#include <stdlib.h>

#include "symbolizer/cfi.h"
#include "symbolizer/sym_int.h"

/* cfi_fdes keeps a {start, end} pair per FDE. */
#define FDE_BYTES 16

int fde__func_start(struct sym_object *obj, uint64_t vaddr, uint64_t *start)
{
	uint64_t end;

	if (!obj->fdes_loaded) {
		GElf_Addr bias;
		Elf *elf =
		    obj->mod ? dwfl_module_getelf(obj->mod, &bias) : NULL;

		obj->fdes_loaded = true;
		/* Remembered when absent or unreadable: not read again. */
		obj->fdes = elf ? cfi_fdes__read_elf(elf) : NULL;
		obj->bytes += fde__bytes(obj);
	}
	if (!obj->fdes)
		return -ENOENT;
	return cfi_fdes__find(obj->fdes, vaddr, start, &end);
}

uint64_t fde__bytes(const struct sym_object *obj)
{
	return obj->fdes ? cfi_fdes__count(obj->fdes) * FDE_BYTES : 0;
}

void fde__free(struct sym_object *obj)
{
	cfi_fdes__free(obj->fdes);
	obj->fdes = NULL;
	obj->fdes_loaded = false;
}
