/* SPDX-License-Identifier: MIT */
/*
 * Address -> frames. Resolves user addresses inside mapped ELF objects
 * (executables, shared libraries, the vDSO) with libdwfl, kernel addresses
 * with /proc/kallsyms, and JIT addresses with /tmp/perf-PID.map.
 *
 * Objects are opened while the process that maps them is alive (through
 * /proc/PID/map_files or /proc/PID/root), so binaries in other mount
 * namespaces, deleted or replaced binaries, and processes that exit later
 * still resolve. Objects are cached by build id (falling back to path +
 * device + inode), so a library mapped by many processes is read once.
 *
 * Files are opened through lib/safe_open.h (non-blocking, regular files
 * only, size capped, paths resolved inside the process's root); debug
 * files must match the binary's build id or its debuglink CRC. Memory is
 * bounded in bytes: per object (debug sections over a cap are skipped) and
 * for the whole cache (max_cache_bytes), JIT maps too.
 *
 * Not thread safe: one symbolizer per thread (libdw's own thread safety is
 * experimental). Internally, symbolizer__object_request() hands file
 * reading to a loader thread of its own, which shares nothing with the
 * caller's resolutions but the queue.
 */
#ifndef KILN_SYMBOLIZER_H
#define KILN_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolizer/debuginfod.h"

struct symbolizer;
struct sym_object;

/* Sized for an agent whose whole RSS stays under 64 MB. */
#define SYMBOLIZER_DEFAULT_CACHE_BYTES (16ULL << 20)

struct symbolizer_opts {
	/* Root of the file system for host paths; NULL means "/". Tests use it.
	 */
	const char *sysroot;
	/* Kallsyms file; NULL means /proc/kallsyms. */
	const char *kallsyms_path;
	/* Unreferenced objects kept open for reuse (LRU); 0 picks a default. */
	size_t max_cached_objects;
	/*
	 * Ceiling, in bytes, of what the object cache holds (symbol tables,
	 * debug sections decompressed or read, indexes, resolved addresses):
	 * unreferenced objects are evicted oldest first, then objects in use
	 * drop what they can rebuild. 0 picks SYMBOLIZER_DEFAULT_CACHE_BYTES.
	 */
	uint64_t max_cache_bytes;
	/* An object whose debug sections (decompressed) exceed this is read
	 * without them (one warning, counted). 0: half the cache. */
	uint64_t max_object_debug_bytes;
	/* Resolved addresses kept per object; 0 picks a default. */
	size_t max_cached_addrs;
	/* debuginfod (urls NULL or "": off): debug files for objects with
	 * none locally, fetched in the background; frames get the better
	 * names from the next resolution on. */
	struct dbgd_opts debuginfod;
};

/* One frame of a resolution. Strings are borrowed from the object (or the
 * symbolizer): valid until the next call into the symbolizer. */
struct sym_frame {
	const char *name;	 /* function name, demangled (C++, Rust) */
	const char *system_name; /* the mangled name, NULL if not mangled */
	const char *file;	 /* source file or NULL */
	uint32_t line;		 /* 0 if unknown */
	bool inlined;		 /* an inlined call: folded suffix _[i] */
};

/*
 * The result of one lookup: frames outermost caller first, the innermost
 * inlined function last (the order of a folded stack). n == 0 means
 * unresolved; the caller then writes 'module+0xoffset'.
 */
#define SYM_MAX_INLINE 16
struct sym_result {
	struct sym_frame frames[SYM_MAX_INLINE];
	size_t n;
	uint64_t vaddr; /* the address within the ELF file (for pprof) */
	/* The file offset looked up (a return address minus one): with the
	 * object's build id, symbolizer__resolve_build_id() resolves it
	 * again. 0 outside files. */
	uint64_t offset;
};

/* How a process maps part of a file: one line of /proc/PID/maps. */
struct sym_mapping {
	int pid;	  /* the process that maps it, for /proc/PID/... */
	uint64_t start;	  /* first address of the mapping */
	uint64_t end;	  /* one past the last */
	uint64_t pgoff;	  /* file offset mapped at 'start' */
	const char *path; /* as in /proc/PID/maps, may end in " (deleted)" */
	const uint8_t *build_id; /* NULL if unknown */
	size_t build_id_len;
	uint64_t dev, ino; /* 0 if unknown */
};

struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts);
void symbolizer__free(struct symbolizer *sym);

/*
 * Opens (or finds in the cache) the object a mapping refers to and takes a
 * reference. Call it while the process is alive. Returns NULL with errno set
 * when the file cannot be reached; callers still emit module+0xoffset.
 * "[vdso]" is handled (the kernel's vDSO image is read once).
 */
struct sym_object *symbolizer__object_get(struct symbolizer *sym,
					  const struct sym_mapping *map);
/*
 * The same without ever waiting on the file: returns 0 with *out set (a
 * reference) when the object is cached; otherwise takes handles on the
 * file while the process lives (O_PATH on /proc/PID/map_files/..., the
 * process's root; nothing on the file's own file system is opened), queues
 * the reading to the symbolizer's loader thread and returns -EINPROGRESS:
 * symbolizer__object_collect() hands the object over later. -EAGAIN: too
 * many loads are queued, ask again later. Other -errno: no file to read.
 */
int symbolizer__object_request(struct symbolizer *sym,
			       const struct sym_mapping *map,
			       struct sym_object **out);

/* Called once per request that returned -EINPROGRESS, with the request's
 * mapping (pid, start, end, path; build id not kept) and a reference on the
 * object, or NULL when it could not be read. */
typedef void (*sym_loaded_fn)(void *ctx, const struct sym_mapping *map,
			      struct sym_object *obj);
/*
 * Hands over finished loads through 'fn'. Waits up to wait_ms for the
 * queued ones to finish (0: only what is done). Returns how many requests
 * were answered.
 */
size_t symbolizer__object_collect(struct symbolizer *sym, int wait_ms,
				  sym_loaded_fn fn, void *ctx);

/*
 * Gives memory back after a batch of resolutions: trims the cache to its
 * ceiling and returns the pages of mapped files (they are read again on
 * demand), so they do not stay in the resident set between batches.
 */
void symbolizer__trim(struct symbolizer *sym);

/* Trims the cache to its ceiling only, after resolutions that are not a
 * window's (the renamer's): objects read again stay protected as long as
 * symbolizer__trim() promised. */
void symbolizer__fit(struct symbolizer *sym);

/* Drops a reference; the object stays in an LRU cache. NULL is fine. */
void symbolizer__object_put(struct symbolizer *sym, struct sym_object *obj);

/* The object's build id as lowercase hex ("" if none), borrowed. */
const char *sym_object__build_id(const struct sym_object *obj);
/* The object's path (as first seen), borrowed. */
const char *sym_object__path(const struct sym_object *obj);

/*
 * Resolves 'addr', an address inside 'map' (whose object is 'obj'). A
 * non-leaf frame's address is a return address: pass is_return so the
 * lookup uses addr - 1 and lands on the calling line. Always fills
 * out->vaddr; returns 0, or -ENOENT when nothing covers the address.
 */
int symbolizer__resolve(struct symbolizer *sym, struct sym_object *obj,
			const struct sym_mapping *map, uint64_t addr,
			bool is_return, struct sym_result *out);

/*
 * Build ids whose frames can be named better now than when they were
 * stored: their debug file arrived (debuginfod), or their file was read
 * (or read again, once unloaded for room) after frames in it had been
 * named by offset. Copies one (lowercase hex)
 * into 'buf' and returns true, or returns false when there is none.
 */
bool symbolizer__take_improved(struct symbolizer *sym, char *buf, size_t size);
/* Queues one for symbolizer__take_improved() (bounded: past the ceiling
 * the oldest is forgotten). */
void symbolizer__note_improved(struct symbolizer *sym, const char *build_id);

/*
 * Resolves again what symbolizer__resolve() looked up: 'offset' (a
 * sym_result.offset) in the object with build id 'build_id', if the
 * cache holds it. Returns 0, -ENOENT (nothing covers the offset), -ESRCH
 * (no such object cached), -EAGAIN (the object is being read again: ask
 * later) or -EINVAL.
 */
int symbolizer__resolve_build_id(struct symbolizer *sym, const char *build_id,
				 uint64_t offset, struct sym_result *out);

/*
 * Resolves a kernel address from kallsyms (loaded on first use). Module
 * symbols keep their module: out->frames[0].file is NULL, and the name is
 * the symbol. Returns 0 or -ENOENT.
 */
int symbolizer__resolve_kernel(struct symbolizer *sym, uint64_t addr,
			       struct sym_result *out);
/* The module ("[kernel.kallsyms]" or "[ext4]") of a kernel address. */
const char *symbolizer__kernel_module(struct symbolizer *sym, uint64_t addr);

/*
 * Resolves an address in anonymous memory through /tmp/perf-PID.map (as
 * the process sees it, through /proc/PID/root). Never touches a file: the
 * map is read by the loader thread (symbolizer__object_collect() takes the
 * result in), first when pid is first resolved, then again after a miss,
 * at most every few seconds (an absent map less often), sooner after
 * symbolizer__jit_changed(). Returns 0, -EINPROGRESS (a read is under way:
 * collect, then resolve again) or -ENOENT.
 */
int symbolizer__resolve_jit(struct symbolizer *sym, int pid, uint64_t addr,
			    struct sym_result *out);
/* pid mapped new anonymous executable memory: its perf map may have grown,
 * look again at the next miss. */
void symbolizer__jit_changed(struct symbolizer *sym, int pid);
/* Reads pid's perf map soon (it is exiting), so it resolves after exit,
 * if its samples asked for it. */
void symbolizer__load_jit(struct symbolizer *sym, int pid);
/* Forgets what was cached for a pid that exited (JIT map). */
void symbolizer__forget_pid(struct symbolizer *sym, int pid);

struct symbolizer_stats {
	uint64_t hits, misses; /* address cache */
	uint64_t objects_open; /* objects currently held */
	uint64_t objects_opened, objects_evicted;
	uint64_t cache_bytes; /* what the object cache holds now */
	uint64_t cache_limit; /* its ceiling (max_cache_bytes) */
	/* Held, at the last trim, by objects in use that could not be
	 * unloaded (read again for the window being written, being read, or
	 * not readable again): the cache exceeds its ceiling by this at
	 * most. */
	uint64_t cache_pinned;
	uint64_t sections_skipped;     /* objects read without their DWARF */
	uint64_t debug_files_rejected; /* wrong CRC/build id, or too big */
	uint64_t indexes_dropped;      /* in-use objects trimmed for room */
	uint64_t objects_unloaded;     /* in-use objects unloaded for room */
	uint64_t objects_reloaded;     /* ... and read again when resolved */
	uint64_t jit_bytes;	       /* JIT perf maps held now */
	uint64_t jit_maps_refused;     /* perf maps over the size caps */
	uint64_t jit_checks;	       /* perf maps looked at (loader) */
	uint64_t loads_queued;	       /* loader thread: waiting now */
};
void symbolizer__stats(const struct symbolizer *sym,
		       struct symbolizer_stats *out);

/* A build id as lowercase hex into 'out' ("" when it does not fit). */
void build_id__hex(const uint8_t *id, size_t len, char *out, size_t out_size);

/* Reads the GNU build id note of an ELF file; returns its length or -errno. */
int symbolizer__read_build_id(const char *path, uint8_t *buf, size_t size);

#endif
