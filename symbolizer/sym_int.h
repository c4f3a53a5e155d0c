/* SPDX-License-Identifier: MIT */
/*
 * Private declarations shared by the symbolizer's files. Nothing here is
 * visible outside symbolizer/; libdw and libelf types stay in this module.
 */
#ifndef KILN_SYM_INT_H
#define KILN_SYM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "lib/idxset.h"
#include "symbolizer/symbolizer.h"

/*
 * String interning: every name and file handed out lives here until the
 * symbolizer is freed, so results stay valid after their object is evicted.
 */
struct strpool {
	struct idxset set;
	const char **strs;
	size_t nr, cap;
	char *chunk; /* current arena chunk */
	size_t chunk_used, chunk_size;
	char **chunks; /* every chunk, for freeing */
	size_t nr_chunks;
};

void strpool__init(struct strpool *sp);
void strpool__release(struct strpool *sp);
const char *strpool__intern(struct strpool *sp, const char *s);
const char *strpool__intern_len(struct strpool *sp, const char *s, size_t len);

/* A PT_LOAD segment: how file offsets map to ELF virtual addresses. */
struct sym_load {
	uint64_t offset, vaddr, filesz, memsz;
	bool exec;
};

/* A cached resolution: frames live in the object's frame pool. */
struct addr_entry {
	uint64_t key; /* looked-up vaddr + 1; 0 = empty slot */
	uint32_t first;
	uint32_t n;
};

struct cu_index;

struct sym_object {
	struct sym_object *lru_prev,
	    *lru_next; /* in the LRU while unreferenced */
	struct sym_object *all_prev, *all_next; /* every object, for freeing */
	int refcount;
	char *keys[3];	    /* lookup keys under which it is registered */
	const char *path;   /* interned */
	char build_id[129]; /* lowercase hex, up to 64 bytes */

	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwarf_Addr dwbias; /* DWARF address = vaddr - dwbias */
	struct sym_load *loads;
	size_t nr_loads;

	/* Code symbols sorted by address, built on first resolve: faster
	 * than dwfl_module_addrinfo on big symbol tables. */
	struct elf_sym {
		uint64_t addr, size;
		const char *name; /* in the ELF's string table */
		uint32_t rank;	  /* lower wins among aliases */
	} * syms;
	size_t nr_syms;
	bool syms_loaded;

	/* Per-CU function/inline index, built on first use of each CU,
	 * in an open-addressing table keyed by the CU's DIE offset. */
	struct cu_slot {
		uint64_t key; /* DIE offset + 1; 0 = empty */
		struct cu_index *ix;
	} * cus;
	size_t nr_cus, cap_cus;

	/* Resolved addresses: open addressing, cleared when full. */
	struct addr_entry *addrs;
	size_t addr_cap, addr_len, addr_max;
	struct sym_frame *pool;
	size_t pool_len, pool_cap;
};

struct ksym {
	uint64_t addr;
	const char *name;   /* interned */
	const char *module; /* interned: "[kernel.kallsyms]" or "[ext4]" */
};

struct kallsyms {
	struct ksym *syms;
	size_t nr;
	bool loaded;
	int err; /* 0, or -errno of the failed load */
};

int kallsyms__load(struct kallsyms *ks, struct strpool *sp, const char *path);
void kallsyms__release(struct kallsyms *ks);
const struct ksym *kallsyms__find(const struct kallsyms *ks, uint64_t addr);

struct jit_sym {
	uint64_t start, size;
	const char *name; /* interned */
	uint32_t seq;	  /* line order: later lines win on overlap */
};

struct jit_map {
	struct jit_map *next;
	int pid;
	struct jit_sym *syms;
	size_t nr;
	char *path;   /* the file it was read from */
	bool tried;   /* attempted to load at least once */
	time_t mtime; /* change detection for re-reads */
	long mtime_ns;
	off_t size;
};

#define JIT_BUCKETS 256
struct jit_maps {
	struct jit_map *buckets[JIT_BUCKETS];
};

struct jit_map *jit__get(struct jit_maps *jm, struct strpool *sp,
			 const char *sysroot, int pid, bool create);
int jit__reload_if_changed(struct jit_map *m, struct strpool *sp,
			   const char *sysroot);
const struct jit_sym *jit__find(const struct jit_map *m, uint64_t addr);
void jit__forget(struct jit_maps *jm, int pid);
void jit__release(struct jit_maps *jm);

/* Object key -> object, with removal (objects come and go under churn). */
struct objtab_entry {
	struct objtab_entry *next;
	const char *key; /* owned by the object */
	struct sym_object *obj;
};

struct objtab {
	struct objtab_entry **buckets;
	size_t nr_buckets, len;
};

struct symbolizer {
	struct symbolizer_opts opts;
	Dwfl_Callbacks cbs; /* must outlive every Dwfl */
	char *sysroot;	    /* "" for "/" */
	char *debuginfo_path;
	struct strpool strs;
	struct objtab objs;
	struct sym_object *lru_head, *lru_tail; /* oldest first */
	struct sym_object *all;
	size_t lru_len;
	struct sym_object *vdso; /* the vDSO is one object for every process */
	struct kallsyms ks;
	struct jit_maps jit;
	struct symbolizer_stats stats;
	const char *kernel_module; /* interned "[kernel.kallsyms]" */
};

/* dwarf.c: one ELF file as a Dwfl module, and address resolution in it. */
/* Fills libdwfl callbacks: local debug file search, no debuginfod. */
void dwobj__init_callbacks(Dwfl_Callbacks *cbs);
int dwobj__open(struct symbolizer *sym, struct sym_object *obj, int fd,
		const char *file_name);
void dwobj__close(struct sym_object *obj);
int dwobj__resolve(struct symbolizer *sym, struct sym_object *obj,
		   uint64_t vaddr, struct sym_result *out);
int dwobj__file_to_vaddr(const struct sym_object *obj, uint64_t off,
			 uint64_t *vaddr);

/* buildid.c */
int elf__build_id(Elf *elf, uint8_t *buf, size_t size);
int fd__build_id(int fd, uint8_t *buf, size_t size);
void build_id__hex(const uint8_t *id, size_t len, char *out, size_t out_size);
/* A memfd holding this kernel's vDSO image, or -errno. */
int vdso__memfd(void);

#endif
