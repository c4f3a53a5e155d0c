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
#include "symbolizer/debuginfod.h"
#include "symbolizer/symbolizer.h"

/*
 * String interning, for kernel symbols: they live here until the symbolizer
 * is freed. Names from ELF objects and JIT maps are not interned (that
 * would grow without bound): they live with their object or map.
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

/*
 * Names an object makes up and keeps for its lifetime (demangle.c):
 * demangled forms keyed by the mangled name's address (a string of the
 * object's ELF file or libdw, stable while the object lives), so each
 * symbol is demangled once per object, never per sample; and synthetic
 * names keyed by number (fde names: module+start). Freed with the object.
 */
struct namecache {
	struct nc_slot {
		uint64_t key; /* 0 = empty */
		char *val;    /* owned; NULL: the name does not demangle */
	} * slots;
	size_t len, cap;
	uint64_t bytes; /* what the strings take */
};

/* The demangled form of 'name' (an object's string), with *mangled set to
 * 'name'; else 'name' itself with *mangled NULL. */
const char *namecache__demangle(struct namecache *nc, const char *name,
				const char **mangled);
/* The string kept under 'key' (keys with bit 63 set), or NULL. */
const char *namecache__find(const struct namecache *nc, uint64_t key);
/* Keeps a copy of 's' under 'key'; returns it, or NULL without memory. */
const char *namecache__put(struct namecache *nc, uint64_t key, const char *s);
void namecache__release(struct namecache *nc);

struct cu_index;

struct sym_object {
	struct sym_object *lru_prev,
	    *lru_next; /* in the LRU while unreferenced */
	struct sym_object *all_prev, *all_next; /* every object, for freeing */
	int refcount;
	char *keys[3];	    /* lookup keys under which it is registered */
	char *path;	    /* as first seen */
	char build_id[129]; /* lowercase hex, up to 64 bytes */

	uint64_t bytes;		   /* accounted in the cache's total */
	uint64_t debug_bytes;	   /* debug/symbol sections, decompressed */
	uint32_t sections_skipped; /* counted once registered */
	uint32_t debug_rejected;
	bool no_dwarf;	  /* DWARF over the cap: symbol table only */
	bool symtab_done; /* loading: the symbol table was looked for */
	bool alt_given;	  /* loading: a dwz file was handed to libdwfl */
	/* Objects in use can be unloaded to stay under the cache's ceiling
	 * and read again on demand through these O_PATH handles. */
	int reload_fd, reload_root; /* -1 when not reloadable */
	bool unloaded, reloading;
	/* A frame was resolved while unloaded, so stored by offset: named
	 * again once read (symbolizer__note_improved). */
	bool named_unloaded;
	/* Read again: unloaded from this symbolizer__trim() call on only,
	 * so what asked for it (the next window's frames, the renamer after
	 * it) finds it read. */
	uint64_t unload_from;
	uint64_t last_used; /* resolution clock, for LRU among objects in use */
	uint64_t trim_gen;
	/* While loading only (the loader thread): where debuglink targets
	 * are looked up, and the caps. */
	const struct sym_source *src;
	const struct symbolizer *sym;

	Dwfl *dwfl;
	Dwfl_Module *mod;
	/* The debug file debuginfod brought, when there was none locally:
	 * DWARF and symbols come from dmod then. */
	Dwfl *dbg_dwfl;
	Dwfl_Module *dmod;
	bool dbg_pending;   /* asked for, not here yet */
	time_t dbg_checked; /* last look, monotonic seconds */
	Dwarf_Addr dwbias;  /* DWARF address = vaddr - dwbias */
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
	uint64_t syms_bytes;
	bool syms_loaded;

	/* Per-CU function/inline index, built on first use of each CU,
	 * in an open-addressing table keyed by the CU's DIE offset. */
	struct cu_slot {
		uint64_t key; /* DIE offset + 1; 0 = empty */
		struct cu_index *ix;
	} * cus;
	size_t nr_cus, cap_cus;

	/* Demangled and synthetic names (demangle.c). */
	struct namecache names;
	/* FDE ranges (cfi.c), for code without symbols
	 * (fde.c), read on first need. */
	struct cfi_fdes *fdes;
	bool fdes_loaded;
	/* Go's line table, when there is no DWARF (gopclntab.c). */
	struct gopcln *go;
	bool go_loaded;

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
	const char *name; /* in the map's copy of the file */
	uint32_t seq;	  /* line order: later lines win on overlap */
};

struct jit_map {
	struct jit_map *next;
	int pid;
	uint32_t gen; /* tells a reused pid's map from the old one */
	struct jit_sym *syms;
	size_t nr;
	char *text;	/* the file's contents: names point into it */
	uint64_t bytes; /* text + syms, in jit_maps.bytes */
	bool tried;	/* attempted to load at least once */
	bool have_uid;	/* uid: the process's owner, while it lived */
	uid_t uid;
	bool from_host; /* read from the host's /tmp (the process gone) */
	time_t mtime;	/* change detection for re-reads */
	long mtime_ns;
	off_t size;
	/* Checks run on the loader thread, at most one at a time, and not
	 * again before JIT_RECHECK_MS (JIT_ABSENT_MS without a file) unless
	 * the process mapped anonymous executable memory since ('dirty') or
	 * exited. */
	bool loading;
	bool dirty;
	int last_err;	     /* of the last check: 0, -ENOENT (no map)... */
	uint64_t checked_ms; /* CLOCK_MONOTONIC ms of the last check */
};

#define JIT_BUCKETS 256
/* A perf map larger than this is not read; all maps together are held
 * to JIT_MAX_TOTAL bytes (a map that does not fit is refused, counted). */
#define JIT_MAX_FILE (16ULL << 20)
#define JIT_MAX_TOTAL (24ULL << 20)
/* A miss re-checks a process's map at most this often, and an absent map
 * is looked for again at most this often (new anonymous executable memory
 * and exits ask at once). */
#define JIT_RECHECK_MS 2000
#define JIT_ABSENT_MS 3000
/* Even when asked at once, not more often than this. */
#define JIT_MIN_CHECK_MS 500
struct jit_maps {
	struct jit_map *buckets[JIT_BUCKETS];
	uint64_t bytes;
	uint64_t refused;
	uint64_t checks; /* files looked at (on the loader thread) */
	uint32_t gen;
	bool warned;
};

/*
 * One read of a perf map, done by the loader thread: in, what is known of
 * the map (change detection, the owner's uid); out, the new contents or
 * err: -EAGAIN unchanged, -EFBIG over JIT_MAX_FILE, -errno.
 */
struct jit_read {
	int pid;
	uint32_t gen;
	bool have_uid, tried, from_host;
	uid_t uid;
	time_t mtime;
	long mtime_ns;
	off_t size;
	int err;
	struct jit_sym *syms;
	size_t nr, cap, len;
	char *text;
};

/* The map of 'pid', NULL if none (created empty when 'create'). */
struct jit_map *jit__get(struct jit_maps *jm, int pid, bool create);
/* Fills 'r' from 'm' for a read. */
void jit__read_init(const struct jit_map *m, struct jit_read *r);
/* Reads (any thread; touches nothing shared). */
void jit__read(const char *sysroot, struct jit_read *r);
/* Takes a read's result into its map (if the pid's map is still the one
 * it was read for), under the total cap; frees what it does not take. */
void jit__install(struct jit_maps *jm, struct jit_read *r);
const struct jit_sym *jit__find(const struct jit_map *m, uint64_t addr);
void jit__forget(struct jit_maps *jm, int pid);
void jit__release(struct jit_maps *jm);

/*
 * Handles on a mapped file taken while its process lives (no file system
 * is touched: O_PATH), read later by the loader: the exact mapped inode
 * through /proc/PID/map_files, and the process's root, inside which paths
 * (the file's, its debuglink's) are resolved.
 */
struct sym_source {
	int path_fd; /* O_PATH on /proc/PID/map_files/A-B, or -1 */
	int root_fd; /* O_PATH on the process's root (or the host's), or -1 */
	bool host_fallback; /* the host's root for a process that is gone */
	bool host_root;	    /* root_fd is our own root (no need to keep it) */
};

void sym_source__take(struct symbolizer *sym, const struct sym_mapping *map,
		      struct sym_source *src);
void sym_source__release(struct sym_source *src);

/* Mapped binaries and debug files larger than this are not read. */
#define SYM_MAX_FILE_SIZE (4ULL << 30)

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

/* Build ids queued for renaming at most: an agent restarting on a full
 * debuginfod disk cache may attach hundreds of files in one window. */
#define SYM_MAX_IMPROVED 4096

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
	struct dbgd *dbgd; /* debuginfod client, NULL when off */
	struct symbolizer_stats stats;
	uint64_t cache_bytes;
	uint64_t pinned_bytes;	   /* at the last trim: see symbolizer_stats */
	uint64_t clock;		   /* resolutions so far: objects' last_used */
	uint64_t trim_gen;	   /* one per cache_trim */
	uint64_t trims;		   /* symbolizer__trim() calls */
	const char *kernel_module; /* interned "[kernel.kallsyms]" */
	struct sym_loader *loader; /* started on the first request */
	/* Build ids to name again: symbolizer__take_improved(). */
	char (*improved)[129];
	size_t nr_improved, cap_improved;
};

/* dwarf.c: one ELF file as a Dwfl module, and address resolution in it. */
/* Fills libdwfl callbacks: local debug file search, no debuginfod. */
void dwobj__init_callbacks(Dwfl_Callbacks *cbs);
/* Reads 'fd' (consumed); src (NULL for the vDSO) finds debug files.
 * Touches nothing shared in 'sym': the loader thread runs it. */
int dwobj__open(const struct symbolizer *sym, struct sym_object *obj, int fd,
		const struct sym_source *src, const char *file_name);
void dwobj__close(struct sym_object *obj);
/* Returns the resident pages of the mapped ELF files (read again on
 * demand from the page cache). */
void dwobj__pageout(struct sym_object *obj);
/* Frees everything read from the files (the object can be read again
 * with dwobj__open into another object and dwobj__transplant). */
void dwobj__unload(struct sym_object *obj);
/* Moves what 'from' read into 'to' (unloaded); 'from' keeps only its
 * shell (path, handles) for the caller to free. */
void dwobj__transplant(struct sym_object *to, struct sym_object *from);
/* Frees what resolution rebuilds on demand; updates obj->bytes. */
void dwobj__drop_indexes(struct sym_object *obj);
int dwobj__resolve(struct symbolizer *sym, struct sym_object *obj,
		   uint64_t vaddr, struct sym_result *out);
int dwobj__file_to_vaddr(const struct sym_object *obj, uint64_t off,
			 uint64_t *vaddr);

/* cfi.c: the FDE ranges of an ELF file already open (NULL, errno set). */
struct cfi_fdes *cfi_fdes__read_elf(Elf *elf);

/* fde.c: the start of the function (FDE) containing vaddr: 0 or -ENOENT. */
int fde__func_start(struct sym_object *obj, uint64_t vaddr, uint64_t *start);
void fde__free(struct sym_object *obj);
uint64_t fde__bytes(const struct sym_object *obj);

/* gopclntab.c: Go's line table, for Go binaries without DWARF. */
struct gopcln;
struct go_frame {
	const char *name; /* in the file image; valid while the object is */
	const char *file; /* likewise, or NULL */
	uint32_t line;
	bool inlined;
};
/* NULL when the object has no table of a known format (errno unset). */
struct gopcln *gopcln__open(Elf *elf, const struct sym_load *loads,
			    size_t nr_loads);
void gopcln__free(struct gopcln *g);
/* Frames at pc, innermost first (inlined calls, then the function). */
size_t gopcln__lookup(const struct gopcln *g, uint64_t pc, struct go_frame *out,
		      size_t max);
bool gopcln__has_inlines(const struct gopcln *g);
size_t gopcln__bytes(void);

/* buildid.c */
int elf__build_id(Elf *elf, uint8_t *buf, size_t size);
int fd__build_id(int fd, uint8_t *buf, size_t size);
/* A memfd holding this kernel's vDSO image, or -errno. */
int vdso__memfd(void);

#endif
