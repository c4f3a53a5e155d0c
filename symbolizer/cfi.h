/* SPDX-License-Identifier: MIT */
/*
 * Call frame information (CFI) of an ELF object, read with libdw: the
 * unwind rules of .eh_frame (or of .debug_frame when that is all the
 * object has), row by row, in the reduced form a stack walker needs. The
 * rules come from libdw's CFI interpreter (dwarf_cfi_addrframe,
 * dwarf_frame_cfa, dwarf_frame_register); kiln only enumerates the FDEs to
 * know which addresses to ask about.
 *
 * Rows are architecture-neutral in shape: the CFA is a base register (stack
 * or frame pointer) plus an offset, or one of a few recognised special
 * cases; the frame pointer and return address are "unchanged", "saved at
 * CFA + offset" or "undefined". x86-64 is what is recognised today.
 */
#ifndef KILN_CFI_H
#define KILN_CFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cfi_cfa {
	CFI_CFA_INVALID = 0, /* not expressible: see 'unsupported' */
	CFI_CFA_SP,	     /* CFA = sp + cfa_off */
	CFI_CFA_FP,	     /* CFA = fp + cfa_off */
	/* x86-64 lazy-binding PLT stub: CFA = sp + cfa_off, plus 8 when
	 * (pc & 15) >= plt_threshold (the stub pushed one more word). */
	CFI_CFA_PLT,
	/* A signal trampoline (the FDE's 'S' augmentation): the caller's
	 * registers are in the signal frame at sp. */
	CFI_CFA_SIGNAL,
};

enum cfi_reg_rule {
	CFI_REG_SAME = 0,  /* unchanged from the frame below */
	CFI_REG_AT_CFA,	   /* saved at CFA + off */
	CFI_REG_UNDEFINED, /* not recoverable; for the return address: the
			      outermost frame */
};

/* Why a row cannot be expressed (CFI_CFA_INVALID rows). */
enum cfi_unsupported {
	CFI_OK = 0,
	CFI_UNSUP_CFA_EXPR, /* a DWARF expression other than the PLT one */
	CFI_UNSUP_CFA_REG,  /* CFA based on a register other than sp/fp */
	CFI_UNSUP_FP_RULE,  /* fp saved in a register or by expression */
	CFI_UNSUP_RA_RULE,  /* return address not at CFA + off */
	CFI_UNSUP_NO_RULE,  /* libdw found no frame for an FDE address */
	CFI_UNSUP_MAX,
};

struct cfi_row {
	uint64_t pc; /* first ELF virtual address the row applies to */
	int64_t cfa_off;
	int64_t fp_off; /* CFI_REG_AT_CFA: fp saved at CFA + fp_off */
	int64_t ra_off; /* CFI_REG_AT_CFA: return address at CFA + ra_off */
	uint8_t cfa;	/* enum cfi_cfa */
	uint8_t fp;	/* enum cfi_reg_rule */
	uint8_t ra;	/* enum cfi_reg_rule */
	uint8_t plt_threshold;
	uint8_t unsupported; /* enum cfi_unsupported */
	/* A gap: no FDE covers [pc, next row's pc). */
	bool gap;
};

struct cfi_stats {
	uint64_t fdes;
	uint64_t rows;	      /* rows delivered, gaps included */
	uint64_t gaps;	      /* gaps between FDEs */
	uint64_t unsupported; /* rows with CFI_CFA_INVALID */
	uint64_t by_reason[CFI_UNSUP_MAX];
	bool debug_frame; /* read from .debug_frame (no .eh_frame) */
	uint64_t entry;	  /* the ELF entry point (e_entry), 0 if none */
};

/*
 * Called for every row in increasing pc order; rows cover [pc, next pc).
 * The last row of a range is a gap row. Returning non-zero stops the read
 * and cfi__read returns that value.
 */
typedef int (*cfi_row_fn)(const struct cfi_row *row, void *ctx);

/*
 * Reads the CFI of the ELF file open at 'fd' (not closed). Returns 0, or
 * -ENOENT when the object has no CFI, -EINVAL when it is not a readable
 * ELF file, -ENOTSUP for a machine other than x86-64, or the callback's
 * value. 'st' (may be NULL) receives counts.
 */
int cfi__read(int fd, cfi_row_fn fn, void *ctx, struct cfi_stats *st);

/* A short name for an unsupported reason ("cfa-expression"). */
const char *cfi__unsupported_name(enum cfi_unsupported r);

/*
 * The load bias of a mapping of the ELF file at 'fd': 'start' maps file
 * offset 'pgoff'; an ELF virtual address is the process address minus the
 * bias. 0, -EINVAL (not ELF) or -ENOENT (no PT_LOAD covers pgoff).
 */
int cfi__load_bias(int fd, uint64_t start, uint64_t pgoff, uint64_t *bias);

/*
 * A memfd holding this host's vDSO image (every process maps the same one),
 * so its CFI can be read like a file's. The caller closes it; -errno.
 */
int cfi__vdso_fd(void);

/* The GNU build id of the ELF file at 'fd': its length, or -errno. */
int cfi__build_id(int fd, uint8_t *buf, size_t size);

/*
 * The FDE ranges of an object: which function-sized range of code an
 * address falls in, even in a stripped binary (useful to group unknown
 * frames by function).
 */
struct cfi_fdes;

/* NULL with errno set (ENOENT: no CFI; EINVAL: not ELF). */
struct cfi_fdes *cfi_fdes__read(int fd);
void cfi_fdes__free(struct cfi_fdes *f);
/* The FDE containing 'vaddr': 0, or -ENOENT. */
int cfi_fdes__find(const struct cfi_fdes *f, uint64_t vaddr, uint64_t *start,
		   uint64_t *end);
size_t cfi_fdes__count(const struct cfi_fdes *f);

#endif
