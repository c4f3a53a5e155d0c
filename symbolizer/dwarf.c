// SPDX-License-Identifier: MIT
/*
 * One ELF object as a libdwfl module, and address -> frames inside it.
 *
 * Each object gets its own Dwfl with the file reported at base 0, so module
 * addresses are ELF virtual addresses and an object shared by many
 * processes (mapped at different bases) is resolved once per address.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdwelf.h>
#include <stdatomic.h>
#include <zlib.h>

#include "lib/log.h"
#include "lib/safe_open.h"
#include "lib/xalloc.h"
#include "symbolizer/sym_int.h"

#define DEFAULT_MAX_ADDRS 32768
/* Deeper inline chains than this are cut, keeping the outermost frames. */
#define MAX_CHAIN 64

static void cu_index_free(struct cu_index *ix);
static void load_syms(struct sym_object *obj);
static uint64_t cu_index_bytes(const struct cu_index *ix);
static atomic_bool warned_big_debug;

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
		    .exec = ph->p_flags & PF_X,
		};
	}
	return obj->nr_loads ? 0 : -ENOEXEC;
}

/*
 * The debug and symbol sections of an ELF file, by what reading them costs:
 * compressed ones are decompressed into memory by libdw (sizes from their
 * headers, before anything is decompressed), the others are mapped.
 * Returns -EFBIG when a section libdwfl needs for symbols (not DWARF)
 * would decompress past 'cap'.
 */
static int debug_sizes(Elf *elf, uint64_t cap, uint64_t *heap, uint64_t *mapped)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	*heap = *mapped = 0;
	if (elf_getshdrstrndx(elf, &shstrndx))
		return 0; /* no section names: nothing libdw would read */
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr mem, *sh = gelf_getshdr(scn, &mem);
		const char *name;
		uint64_t size;
		bool debug;

		if (!sh || sh->sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh->sh_name);
		if (!name)
			continue;
		debug = !strncmp(name, ".debug_", 7) ||
			!strncmp(name, ".zdebug_", 8);
		if (!debug && sh->sh_type != SHT_SYMTAB &&
		    strcmp(name, ".strtab"))
			continue;
		size = sh->sh_size;
		if (sh->sh_flags & SHF_COMPRESSED) {
			GElf_Chdr chdr;

			if (!gelf_getchdr(scn, &chdr))
				return -EINVAL;
			size = chdr.ch_size;
		} else if (!strncmp(name, ".zdebug_", 8)) {
			/* GNU style: "ZLIB" and a big-endian 64-bit size. */
			Elf_Data *raw = elf_rawdata(scn, NULL);
			const unsigned char *b = raw ? raw->d_buf : NULL;

			if (!b || raw->d_size < 12 || memcmp(b, "ZLIB", 4))
				return -EINVAL;
			size = 0;
			for (int i = 4; i < 12; i++)
				size = size << 8 | b[i];
		} else {
			*mapped += size;
			continue;
		}
		if (!debug && size > cap)
			return -EFBIG;
		*heap += size;
	}
	return 0;
}

/* Whether the debug sections of 'elf' fit the object's cap. */
static bool debug_fits(struct sym_object *obj, Elf *elf, const char *path)
{
	uint64_t cap = obj->sym->opts.max_object_debug_bytes;
	uint64_t heap, mapped;

	if (debug_sizes(elf, cap, &heap, &mapped) || heap > cap ||
	    mapped > 8 * cap) {
		/* One warning for the first; the counter tells the rest. */
		if (!atomic_exchange(&warned_big_debug, true))
			pr_warn("skipping the debug sections of '%s': %llu "
				"bytes decompressed, %llu mapped, above the "
				"%llu-byte limit per object (see "
				"kiln_symbolizer_debug_skipped_total)",
				path, (unsigned long long)heap,
				(unsigned long long)mapped,
				(unsigned long long)cap);
		obj->sections_skipped++;
		return false;
	}
	obj->debug_bytes = heap;
	return true;
}

/* The CRC32 of a whole file, as .gnu_debuglink records it. */
static int file_crc32(int fd, uint32_t *out)
{
	unsigned char buf[64 * 1024];
	uLong crc = crc32(0L, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		crc = crc32(crc, buf, (uInt)n);
		off += n;
	}
	*out = (uint32_t)crc;
	return 0;
}

/*
 * Keeps 'fd' if it is the debug file of 'obj': the same build id when the
 * binary has one, else the CRC its .gnu_debuglink records. A file that
 * matches but whose sections are over the cap is refused too.
 */
static int check_debug_candidate(struct sym_object *obj, int fd,
				 const char *path, const unsigned char *bits,
				 int len, bool by_link, GElf_Word crc)
{
	const void *id;
	uint32_t file_crc;
	bool match = false;
	Elf *elf;
	int n;

	if (fd < 0)
		return -1;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		n = (int)dwelf_elf_gnu_build_id(elf, &id);
		if (len > 0)
			match = n == len && !memcmp(id, bits, (size_t)len);
		else if (by_link)
			match = !file_crc32(fd, &file_crc) && file_crc == crc;
		if (match && !debug_fits(obj, elf, path)) {
			uint64_t heap, mapped;

			/* Its symbol table is still worth having (stripped
			 * binaries keep local functions only there): take it
			 * while libdwfl looks for symbols, never its DWARF. */
			if (obj->symtab_done ||
			    debug_sizes(elf,
					obj->sym->opts.max_object_debug_bytes,
					&heap, &mapped) == -EFBIG)
				match = false;
			else
				obj->no_dwarf = true;
		} else if (!match) {
			obj->debug_rejected++;
		}
	}
	elf_end(elf);
	if (match)
		return fd;
	close(fd);
	return -1;
}

static void build_id_path(char *path, size_t size, const char *prefix,
			  const unsigned char *bits, int len)
{
	int n = snprintf(path, size, "%s/usr/lib/debug/.build-id/%02x/", prefix,
			 bits[0]);

	for (int i = 1; i < len && n < (int)size - 8; i++)
		n += snprintf(path + n, size - n, "%02x", bits[i]);
	snprintf(path + n, size - n, ".debug");
}

/*
 * A dwz file (.gnu_debugaltlink), which libdwfl asks this callback for with
 * its path as the "debuglink". Only the host's debug root is trusted for
 * them: an absolute path under /usr/lib/debug, no "..". Left unset, libdw
 * would search for it itself with a blocking open() of whatever path the
 * debug file names, so dwobj__open turns DWARF off when none was given.
 */
static int find_altfile(struct sym_object *obj, const char *name, char **out)
{
	char path[PATH_MAX];
	uint64_t heap, mapped;
	Elf *elf;
	int fd;

	if (strncmp(name, "/usr/lib/debug/", 15) || strstr(name, "/../") ||
	    strlen(name) >= sizeof(path) - strlen(obj->sym->sysroot))
		return -1;
	snprintf(path, sizeof(path), "%s%s", obj->sym->sysroot, name);
	fd = safe_open(path, SYM_MAX_FILE_SIZE);
	if (fd < 0)
		return -1;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF ||
	    debug_sizes(elf, obj->sym->opts.max_object_debug_bytes, &heap,
			&mapped) ||
	    obj->debug_bytes + heap > obj->sym->opts.max_object_debug_bytes) {
		elf_end(elf);
		close(fd);
		return -1;
	}
	elf_end(elf);
	obj->debug_bytes += heap;
	obj->alt_given = true;
	*out = strdup(path);
	return fd;
}

/*
 * libdwfl's standard search (build-id path, then .gnu_debuglink next to
 * the file, in .debug/, and under the debug root) without its last step,
 * debuginfod: a profiler must not reach the network unasked, and libdw's
 * client costs a socket pair per Dwfl even with no server configured.
 * Paths next to the binary are resolved inside the process's root; the
 * debug root is the host's. The module's userdata is the object.
 */
static int find_debuginfo_local(Dwfl_Module *mod, void **userdata,
				const char *modname, Dwarf_Addr base,
				const char *file_name, const char *debuglink,
				GElf_Word crc, char **debuginfo_file_name)
{
	struct sym_object *obj = *userdata;
	const struct sym_source *src = obj ? obj->src : NULL;
	const unsigned char *bits = NULL;
	GElf_Addr vaddr;
	char path[PATH_MAX * 2], dir[PATH_MAX];
	int len = dwfl_module_build_id(mod, &bits, &vaddr), fd;
	const char *sysroot;

	(void)modname;
	(void)base;
	if (!obj || !obj->sym || obj->no_dwarf)
		return -1;
	sysroot = obj->sym->sysroot;
	if (debuglink && strchr(debuglink, '/'))
		return find_altfile(obj, debuglink, debuginfo_file_name);
	if (len > 0) {
		build_id_path(path, sizeof(path), sysroot, bits, len);
		fd = check_debug_candidate(obj,
					   safe_open(path, SYM_MAX_FILE_SIZE),
					   path, bits, len, false, 0);
		if (fd >= 0)
			goto found;
		if (src && src->root_fd >= 0 && !src->host_fallback) {
			build_id_path(path, sizeof(path), "", bits, len);
			fd = check_debug_candidate(
			    obj,
			    safe_open_in_root(src->root_fd, path,
					      SYM_MAX_FILE_SIZE),
			    path, bits, len, false, 0);
			if (fd >= 0)
				goto found;
		}
	}
	/* A debuglink is a file name, never a path (nor ".." ). */
	if (!debuglink || !file_name || !src || src->root_fd < 0 ||
	    !debuglink[0] || strchr(debuglink, '/') ||
	    !strcmp(debuglink, "..") || !strcmp(debuglink, "."))
		return -1;
	snprintf(dir, sizeof(dir), "%s", file_name);
	char *slash = strrchr(dir, '/');
	if (!slash || dir[0] != '/')
		return -1;
	*slash = 0;
	const char *const patterns[] = {"%s/%s", "%s/.debug/%s"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), patterns[i], dir, debuglink);
		if (!strcmp(path, file_name))
			continue;
		fd = check_debug_candidate(
		    obj,
		    safe_open_in_root(src->root_fd, path, SYM_MAX_FILE_SIZE),
		    path, bits, len, true, crc);
		if (fd >= 0)
			goto found;
	}
	/* The debug root mirrors the binary's directory on the host. */
	snprintf(path, sizeof(path), "%s/usr/lib/debug%s/%s", sysroot, dir,
		 debuglink);
	fd = check_debug_candidate(obj, safe_open(path, SYM_MAX_FILE_SIZE),
				   path, bits, len, true, crc);
	if (fd < 0)
		return -1;
found:
	*debuginfo_file_name = strdup(path);
	return fd;
}

void dwobj__init_callbacks(Dwfl_Callbacks *cbs)
{
	cbs->find_elf = dwfl_build_id_find_elf;
	cbs->find_debuginfo = find_debuginfo_local;
	cbs->section_address = dwfl_offline_section_address;
}

/*
 * Switches an object to the debug file at 'path' (from debuginfod): DWARF
 * and the full symbol table come from it from now on, so what was
 * resolved before (module+offset names) is forgotten.
 */
static int attach_debug(struct symbolizer *sym, struct sym_object *obj,
			const char *path)
{
	Dwarf_Addr bias = 0;
	Dwfl_Module *m;
	void **userdata;
	const char *alt_name;
	const void *alt_id;
	Dwarf *dw;
	Dwfl *d;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	d = dwfl_begin(&sym->cbs);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	dwfl_report_begin(d);
	m = dwfl_report_elf(d, obj->path, path, fd, 0, true);
	dwfl_report_end(d, NULL, NULL);
	if (!m) {
		close(fd);
		dwfl_end(d);
		return -ENOEXEC;
	}
	dwfl_module_info(m, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = NULL; /* the file is its own debug file: no search */
	dw = dwfl_module_getdwarf(m, &bias);
	/* A dwz'd file names a supplementary file that libdw would open by
	 * itself (blocking, any path): not used (see find_altfile). */
	if (!dw || dwelf_dwarf_gnu_debugaltlink(dw, &alt_name, &alt_id) > 0) {
		dwfl_end(d);
		return dw ? -ENOTSUP : -ENODATA;
	}
	dwfl_end(obj->dbg_dwfl);
	obj->dbg_dwfl = d;
	obj->dmod = m;
	obj->dwbias = bias;
	/* libdw maps it and decompresses what it reads: its size is a fair
	 * share of the cache's budget. */
	obj->debug_bytes += (uint64_t)st.st_size;
	/* Symbols, CU indexes and resolved addresses of the stripped file
	 * go. The sorted symbol table is rebuilt now from the debug file's
	 * full .symtab: code no DWARF describes (_start, asm) is named by
	 * it, not by its FDE. Once per arrival, so the cost is fine here. */
	free(obj->syms);
	obj->syms = NULL;
	obj->nr_syms = 0;
	obj->syms_bytes = 0;
	obj->syms_loaded = false;
	dwobj__drop_indexes(obj);
	load_syms(obj);
	pr_info("debuginfod: debug info for '%s' (%s) arrived", obj->path,
		obj->build_id);
	symbolizer__note_improved(sym, obj->build_id);
	return 0;
}

/* Asks the debuginfod client whether the object's debug file is here. */
static void debug_poll(struct symbolizer *sym, struct sym_object *obj)
{
	char path[PATH_MAX];
	int err = dbgd__lookup(sym->dbgd, obj->build_id, path, sizeof(path));
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	obj->dbg_checked = ts.tv_sec;
	obj->dbg_pending = err == -EAGAIN;
	if (!err && attach_debug(sym, obj, path))
		pr_debug("debuginfod: cannot use '%s' for '%s'", path,
			 obj->path);
}

int dwobj__open(const struct symbolizer *sym, struct sym_object *obj, int fd,
		const struct sym_source *src, const char *file_name)
{
	void **userdata;
	const unsigned char *bits;
	GElf_Addr bid_vaddr;
	Dwarf_Addr dwbias = 0;
	Elf *elf;
	Dwarf *dw = NULL;
	int err, len;

	obj->sym = sym;
	obj->src = src;
	/* Section sizes from the headers, before libdw decompresses. */
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		err = -ENOEXEC;
		goto err_fd;
	}
	obj->no_dwarf = !debug_fits(obj, elf, file_name);
	if (obj->no_dwarf) {
		uint64_t heap, mapped;

		if (debug_sizes(elf, sym->opts.max_object_debug_bytes, &heap,
				&mapped) == -EFBIG) {
			elf_end(elf);
			err = -EFBIG;
			goto err_fd;
		}
	}
	elf_end(elf);

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
	obj->mod =
	    dwfl_report_elf(obj->dwfl, obj->path, file_name, fd, 0, true);
	dwfl_report_end(obj->dwfl, NULL, NULL);
	if (!obj->mod) {
		pr_debug("failed to read '%s': %s", file_name, dwfl_errmsg(-1));
		err = -ENOEXEC;
		goto err_dwfl; /* fd not consumed on failure */
	}
	fd = -1; /* now owned by libdwfl, which keeps the ELF mapped */
	dwfl_module_info(obj->mod, &userdata, NULL, NULL, NULL, NULL, NULL,
			 NULL);
	*userdata = obj; /* for find_debuginfo_local */
	err = read_loads(obj);
	if (err)
		goto err_dwfl;
	len = dwfl_module_build_id(obj->mod, &bits, &bid_vaddr);
	if (len > 0)
		build_id__hex(bits, (size_t)len, obj->build_id,
			      sizeof(obj->build_id));
	/*
	 * Find the debug file and the symbol table now: debuglink lookups go
	 * through the process's root, held only while loading.
	 */
	/* Symbols first: a separate debug file found now whose DWARF is
	 * over the cap still gives its symbol table (no_dwarf is set). */
	dwfl_module_getsymtab(obj->mod);
	obj->symtab_done = true;
	if (!obj->no_dwarf) {
		const char *alt_name;
		const void *alt_id;

		dw = dwfl_module_getdwarf(obj->mod, &dwbias);
		obj->dwbias = dwbias;
		/* A dwz file that was not given: libdw must never go and
		 * look for it (see find_altfile). */
		if (dw && !obj->alt_given &&
		    dwelf_dwarf_gnu_debugaltlink(dw, &alt_name, &alt_id) > 0)
			obj->no_dwarf = true;
		/* No DWARF here: debuginfod may have it, asked for on the first
		 * resolution (the symbolizing thread owns the client). */
		obj->dbg_pending = !dw && sym->dbgd && obj->build_id[0];
	}
	obj->src = NULL;
	/* Sorting a large symbol table takes a while: here, off the
	 * sampling thread. */
	load_syms(obj);
	/* Reading touched every page of the symbol and string tables: they
	 * are faulted in again as resolution needs them. */
	dwobj__pageout(obj);

	obj->addr_max = sym->opts.max_cached_addrs ? sym->opts.max_cached_addrs
						   : DEFAULT_MAX_ADDRS;
	/* The table starts small and doubles up to addr_max entries, so
	 * objects that see few samples stay small. */
	obj->addr_cap = 256;
	obj->bytes += obj->debug_bytes + sizeof(*obj) +
		      obj->nr_loads * sizeof(*obj->loads);
	return 0;

err_dwfl:
	dwfl_end(obj->dwfl);
	obj->dwfl = NULL;
	obj->mod = NULL;
err_fd:
	obj->src = NULL;
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * What names.c-side work keeps (demangled and FDE names, Go's table, the
 * debuginfod file): it points into the ELF image, so it goes whenever the
 * image does. A debug file fetched before is found again in the disk
 * cache: 'pending' says whether to look for it.
 */
static void names_release(struct sym_object *obj, bool pending)
{
	namecache__release(&obj->names);
	fde__free(obj);
	gopcln__free(obj->go);
	obj->go = NULL;
	obj->go_loaded = false;
	pending = pending && (obj->dbg_pending || obj->dmod);
	dwfl_end(obj->dbg_dwfl);
	obj->dbg_dwfl = NULL;
	obj->dmod = NULL;
	obj->dbg_pending = pending;
	obj->dbg_checked = 0;
}

void dwobj__close(struct sym_object *obj)
{
	names_release(obj, false);
	dwfl_end(obj->dwfl);
	obj->dwfl = NULL;
	obj->mod = NULL;
	free(obj->loads);
	obj->loads = NULL;
	free(obj->syms);
	obj->syms = NULL;
	obj->nr_syms = 0;
	obj->syms_bytes = 0;
	obj->syms_loaded = false;
	free(obj->addrs);
	obj->addrs = NULL;
	free(obj->pool);
	obj->pool = NULL;
	for (size_t i = 0; i < obj->cap_cus; i++)
		if (obj->cus[i].key)
			cu_index_free(obj->cus[i].ix);
	free(obj->cus);
	obj->cus = NULL;
	obj->nr_cus = obj->cap_cus = 0;
}

/* What malloc holds in use, every arena and mapped chunk. */
static uint64_t malloc_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

void dwobj__drop_indexes(struct sym_object *obj)
{
	uint64_t held = malloc_in_use(), freed, floor;

	/* The sorted symbol table stays: rebuilding a large one would take
	 * the sampling thread a while (unloading frees it, and the loader
	 * builds it again). */
	free(obj->addrs);
	obj->addrs = NULL;
	obj->addr_len = 0;
	obj->addr_cap = 256;
	free(obj->pool);
	obj->pool = NULL;
	obj->pool_len = obj->pool_cap = 0;
	for (size_t i = 0; i < obj->cap_cus; i++)
		if (obj->cus[i].key)
			cu_index_free(obj->cus[i].ix);
	free(obj->cus);
	obj->cus = NULL;
	obj->nr_cus = obj->cap_cus = 0;
	/*
	 * Only what was freed leaves the count. The line and CU tables libdw
	 * built for resolutions (counted then, as heap growth: up to tens of
	 * MB for a big object) stay with the Dwfl until the object is
	 * unloaded, and must keep counting, or the cache's ceiling is blind
	 * to them. Another thread allocating meanwhile can only make 'freed'
	 * smaller, which errs on the side of evicting.
	 */
	freed = held - malloc_in_use();
	if (freed > held)
		freed = 0;
	floor = obj->debug_bytes + sizeof(*obj) +
		obj->nr_loads * sizeof(*obj->loads) + obj->names.bytes +
		fde__bytes(obj) + (obj->go ? gopcln__bytes() : 0) +
		obj->syms_bytes;
	obj->bytes = obj->bytes > floor + freed ? obj->bytes - freed : floor;
}

static void pageout_elf(Elf *elf)
{
	GElf_Ehdr mem, *eh = elf ? gelf_getehdr(elf, &mem) : NULL;
	size_t size;
	char *p;
	uintptr_t start, end;

	/*
	 * Executables and shared objects in native byte order are read in
	 * place, never written (only ET_REL files are relocated in place),
	 * so dropping our pages of the private mapping loses nothing: they
	 * are faulted in again from the page cache. MADV_PAGEOUT would skip
	 * the pages the sampled processes share with us.
	 */
	if (!eh || (eh->e_type != ET_EXEC && eh->e_type != ET_DYN))
		return;
	p = elf_rawfile(elf, &size);
	if (!p || !size)
		return;
	/* libelf maps whole files (ELF_C_READ_MMAP*): page aligned. */
	start = (uintptr_t)p & ~(uintptr_t)4095;
	end = (uintptr_t)p + size;
	madvise((void *)start, end - start, MADV_DONTNEED);
}

void dwobj__pageout(struct sym_object *obj)
{
	Dwarf_Addr bias;
	Dwarf *dw;

	if (!obj->mod)
		return;
	pageout_elf(dwfl_module_getelf(obj->mod, &bias));
	dw = obj->no_dwarf ? NULL : dwfl_module_getdwarf(obj->mod, &bias);
	if (dw)
		pageout_elf(dwarf_getelf(dw));
}

void dwobj__unload(struct sym_object *obj)
{
	dwobj__drop_indexes(obj);
	names_release(obj, true);
	free(obj->syms);
	obj->syms = NULL;
	obj->nr_syms = 0;
	obj->syms_bytes = 0;
	obj->syms_loaded = false;
	dwfl_end(obj->dwfl);
	obj->dwfl = NULL;
	obj->mod = NULL;
	obj->debug_bytes = 0;
	obj->bytes = sizeof(*obj) + obj->nr_loads * sizeof(*obj->loads);
	obj->unloaded = true;
}

void dwobj__transplant(struct sym_object *to, struct sym_object *from)
{
	void **userdata;

	dwobj__drop_indexes(to);
	names_release(to, true);
	to->dbg_pending = to->dbg_pending || from->dbg_pending;
	dwfl_end(to->dwfl);
	to->dwfl = from->dwfl;
	to->mod = from->mod;
	to->dwbias = from->dwbias;
	to->no_dwarf = from->no_dwarf;
	to->debug_bytes = from->debug_bytes;
	to->syms = from->syms;
	to->nr_syms = from->nr_syms;
	to->syms_loaded = from->syms_loaded;
	to->syms_bytes = from->syms_bytes;
	to->addr_max = from->addr_max;
	to->addr_cap = from->addr_cap;
	to->bytes = from->bytes;
	to->unloaded = false;
	dwfl_module_info(to->mod, &userdata, NULL, NULL, NULL, NULL, NULL,
			 NULL);
	*userdata = to;
	from->dwfl = NULL;
	from->mod = NULL;
	from->syms = NULL;
	dwobj__close(from);
}

int dwobj__file_to_vaddr(const struct sym_object *obj, uint64_t off,
			 uint64_t *vaddr)
{
	for (size_t i = 0; i < obj->nr_loads; i++) {
		const struct sym_load *l = &obj->loads[i];
		/* Mappings are page aligned: the segment's first page starts
		 * below p_offset, and bss pages extend past p_filesz. */
		uint64_t lo = l->offset & ~0xfffULL;
		uint64_t hi =
		    l->offset + (l->memsz > l->filesz ? l->memsz : l->filesz);

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

/*
 * A CU's functions and inlined calls as a tree, so a lookup is a binary
 * search plus a walk down a few children instead of dwarf_getscopes'
 * walk over the whole CU (twice, for inlines) on every address.
 */
struct cu_node {
	const char *name;      /* libdw's, lives with the object */
	const char *call_file; /* where this was inlined */
	uint32_t call_line;
	uint32_t parent; /* node index, NO_NODE for a subprogram */
	uint32_t first_child, next_sibling;
	uint32_t first_range, nr_ranges;
	bool inlined;
};

struct cu_range {
	uint64_t lo, hi;
	uint32_t node;
};

struct cu_index {
	struct cu_node *nodes;
	size_t nr_nodes, cap_nodes;
	struct cu_range *ranges; /* per node, in node order */
	size_t nr_ranges, cap_ranges;
	struct cu_range *tops; /* subprogram ranges, sorted by lo */
	size_t nr_tops;
};

static uint64_t cu_index_bytes(const struct cu_index *ix)
{
	return sizeof(*ix) + ix->cap_nodes * sizeof(*ix->nodes) +
	       ix->cap_ranges * sizeof(*ix->ranges) +
	       (ix->nr_ranges ? ix->nr_ranges : 1) * sizeof(*ix->tops);
}

#define NO_NODE UINT32_MAX

static int range_cmp(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

static uint32_t add_node(struct cu_index *ix, Dwarf_Die *cudie, Dwarf_Die *die,
			 bool inlined, uint32_t parent)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	struct cu_node *n;
	const char *name, *file;
	uint32_t id, first = (uint32_t)ix->nr_ranges;

	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (lo >= hi)
			continue;
		if (ix->nr_ranges == ix->cap_ranges) {
			ix->cap_ranges =
			    ix->cap_ranges ? ix->cap_ranges * 2 : 64;
			ix->ranges = xrealloc(
			    ix->ranges, ix->cap_ranges * sizeof(*ix->ranges));
		}
		ix->ranges[ix->nr_ranges++] =
		    (struct cu_range){lo, hi, (uint32_t)ix->nr_nodes};
	}
	if (ix->nr_ranges == first)
		return NO_NODE; /* no code: a declaration or abstract origin */
	if (ix->nr_nodes == ix->cap_nodes) {
		ix->cap_nodes = ix->cap_nodes ? ix->cap_nodes * 2 : 64;
		ix->nodes =
		    xrealloc(ix->nodes, ix->cap_nodes * sizeof(*ix->nodes));
	}
	id = (uint32_t)ix->nr_nodes++;
	n = &ix->nodes[id];
	name = die_name(die);
	file = inlined ? call_file(cudie, die) : NULL;
	*n = (struct cu_node){
	    /* libdw's strings: they live as long as the object. */
	    .name = name ? name : "??",
	    .call_file = file,
	    .call_line = inlined ? call_line(die) : 0,
	    .parent = parent,
	    .first_child = NO_NODE,
	    .next_sibling = NO_NODE,
	    .first_range = first,
	    .nr_ranges = (uint32_t)ix->nr_ranges - first,
	    .inlined = inlined,
	};
	return id;
}

/* Preorder walk; 'parent' is the innermost enclosing function node. */
static void index_children(struct symbolizer *sym, struct cu_index *ix,
			   Dwarf_Die *cudie, Dwarf_Die *die, uint32_t parent,
			   uint32_t *last_child, int depth)
{
	Dwarf_Die child;

	if (depth > 64 || dwarf_child(die, &child))
		return;
	do {
		int tag = dwarf_tag(&child);
		uint32_t id = NO_NODE, last = NO_NODE;

		switch (tag) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
		case DW_TAG_entry_point:
			/* A subprogram nested in another (GNU C nested
			 * functions) is its own top-level function. */
			id = add_node(
			    ix, cudie, &child, tag == DW_TAG_inlined_subroutine,
			    tag == DW_TAG_inlined_subroutine ? parent
							     : NO_NODE);
			break;
		/* Types and variables hold no code: skip their subtrees. */
		case DW_TAG_structure_type:
		case DW_TAG_class_type:
		case DW_TAG_union_type:
		case DW_TAG_enumeration_type:
		case DW_TAG_variable:
		case DW_TAG_formal_parameter:
		case DW_TAG_base_type:
		case DW_TAG_pointer_type:
		case DW_TAG_typedef:
		case DW_TAG_array_type:
		case DW_TAG_subroutine_type:
		case DW_TAG_const_type:
		case DW_TAG_volatile_type:
		case DW_TAG_call_site:
		case DW_TAG_GNU_call_site:
			continue;
		default:
			break;
		}
		if (id != NO_NODE) {
			/* Top-level functions are found through 'tops'. */
			if (ix->nodes[id].parent != NO_NODE) {
				if (*last_child == NO_NODE)
					ix->nodes[parent].first_child = id;
				else
					ix->nodes[*last_child].next_sibling =
					    id;
				*last_child = id;
			}
			index_children(sym, ix, cudie, &child, id, &last,
				       depth + 1);
		} else {
			/* Lexical blocks, namespaces: children belong to
			 * the enclosing function (or the top level). */
			index_children(sym, ix, cudie, &child, parent,
				       last_child, depth + 1);
		}
	} while (!dwarf_siblingof(&child, &child));
}

static struct cu_index *cu_index_build(struct symbolizer *sym, Dwarf_Die *cudie)
{
	struct cu_index *ix = xcalloc(1, sizeof(*ix));
	uint32_t last = NO_NODE;

	index_children(sym, ix, cudie, cudie, NO_NODE, &last, 0);
	ix->tops =
	    xcalloc(ix->nr_ranges ? ix->nr_ranges : 1, sizeof(*ix->tops));
	for (size_t i = 0; i < ix->nr_ranges; i++)
		if (ix->nodes[ix->ranges[i].node].parent == NO_NODE)
			ix->tops[ix->nr_tops++] = ix->ranges[i];
	qsort(ix->tops, ix->nr_tops, sizeof(*ix->tops), range_cmp);
	return ix;
}

static void cu_index_free(struct cu_index *ix)
{
	if (!ix)
		return;
	free(ix->nodes);
	free(ix->ranges);
	free(ix->tops);
	free(ix);
}

static struct cu_index *cu_index_get(struct symbolizer *sym,
				     struct sym_object *obj, Dwarf_Die *cudie)
{
	uint64_t key = dwarf_dieoffset(cudie) + 1;
	struct cu_slot *slot;
	size_t i;

	if ((obj->nr_cus + 1) * 2 > obj->cap_cus) {
		size_t cap = obj->cap_cus ? obj->cap_cus * 2 : 16;
		struct cu_slot *slots = xcalloc(cap, sizeof(*slots));

		obj->bytes += (cap - obj->cap_cus) * sizeof(*slots);

		for (size_t j = 0; j < obj->cap_cus; j++) {
			if (!obj->cus[j].key)
				continue;
			for (i = (obj->cus[j].key * 0x9e3779b97f4a7c15ULL >>
				  32) &
				 (cap - 1);
			     slots[i].key; i = (i + 1) & (cap - 1))
				;
			slots[i] = obj->cus[j];
		}
		free(obj->cus);
		obj->cus = slots;
		obj->cap_cus = cap;
	}
	for (i = (key * 0x9e3779b97f4a7c15ULL >> 32) & (obj->cap_cus - 1);
	     obj->cus[i].key; i = (i + 1) & (obj->cap_cus - 1))
		if (obj->cus[i].key == key)
			return obj->cus[i].ix;
	slot = &obj->cus[i];
	slot->key = key;
	slot->ix = cu_index_build(sym, cudie);
	obj->bytes += cu_index_bytes(slot->ix);
	obj->nr_cus++;
	return slot->ix;
}

static bool node_covers(const struct cu_index *ix, const struct cu_node *n,
			uint64_t pc)
{
	for (uint32_t r = 0; r < n->nr_ranges; r++) {
		const struct cu_range *cr = &ix->ranges[n->first_range + r];

		if (pc >= cr->lo && pc < cr->hi)
			return true;
	}
	return false;
}

/* Innermost first: the deepest node covering pc, then its parents. */
static size_t inline_chain(struct symbolizer *sym, struct sym_object *obj,
			   Dwarf_Die *cudie, Dwarf_Addr pc, const char *file,
			   uint32_t line, struct chain *out)
{
	struct cu_index *ix = cu_index_get(sym, obj, cudie);
	size_t lo = 0, hi = ix->nr_tops, n = 0;
	uint32_t node, child;

	if (!ix->nr_tops || pc < ix->tops[0].lo)
		return 0;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->tops[mid].lo <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if (pc >= ix->tops[lo].hi)
		return 0;
	node = ix->tops[lo].node;
	for (;;) {
		for (child = ix->nodes[node].first_child; child != NO_NODE;
		     child = ix->nodes[child].next_sibling)
			if (node_covers(ix, &ix->nodes[child], pc))
				break;
		if (child == NO_NODE)
			break;
		node = child;
	}
	for (; node != NO_NODE && n < MAX_CHAIN;
	     node = ix->nodes[node].parent) {
		const struct cu_node *cn = &ix->nodes[node];

		out[n++] = (struct chain){cn->name, file, line, cn->inlined};
		/* The caller's position is where this call was inlined. */
		file = cn->call_file;
		line = cn->call_line;
	}
	return n;
}

static uint32_t sym_rank(const GElf_Sym *s, const char *name)
{
	static const uint32_t bind_rank[] = {
	    [STB_GLOBAL] = 0, [STB_WEAK] = 1, [STB_LOCAL] = 2};
	unsigned bind = GELF_ST_BIND(s->st_info),
		 type = GELF_ST_TYPE(s->st_info);
	uint32_t r = bind <= STB_WEAK ? bind_rank[bind] : 3;
	uint32_t us = 0;

	while (name[us] == '_' && us < 7)
		us++;
	/* Sized functions first (NOTYPE labels mark places inside them),
	 * then global over local (qsort over __GI_qsort), then fewer
	 * leading underscores. */
	return ((type == STT_NOTYPE || !s->st_size) ? 64u : 0u) + r * 8 + us;
}

static int elf_sym_cmp(const void *a, const void *b)
{
	const struct elf_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? 1 : -1; /* the best one last */
	return strcmp(y->name, x->name);
}

static void load_syms(struct sym_object *obj)
{
	Dwfl_Module *mod = obj->dmod ? obj->dmod : obj->mod;
	int nsyms = dwfl_module_getsymtab(mod);
	size_t n = 0;

	obj->syms_loaded = true;
	if (nsyms <= 0)
		return;
	obj->syms = malloc((size_t)nsyms * sizeof(*obj->syms));
	if (!obj->syms)
		return;
	obj->syms_bytes = (size_t)nsyms * sizeof(*obj->syms);
	obj->bytes += obj->syms_bytes;
	for (int i = 1; i < nsyms; i++) {
		GElf_Sym s;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(mod, i, &s, &addr,
							   &shndx, NULL, NULL);
		unsigned type = GELF_ST_TYPE(s.st_info);

		if (!name || !*name || !addr || s.st_shndx == SHN_UNDEF)
			continue;
		if (type != STT_FUNC && type != STT_GNU_IFUNC &&
		    type != STT_NOTYPE)
			continue;
		obj->syms[n++] =
		    (struct elf_sym){addr, s.st_size, name, sym_rank(&s, name)};
	}
	qsort(obj->syms, n, sizeof(*obj->syms), elf_sym_cmp);
	obj->nr_syms = n;
}

/* Sizeless symbols only count in code: __bss_start is no function. */
static bool in_text(const struct sym_object *obj, uint64_t vaddr)
{
	for (size_t i = 0; i < obj->nr_loads; i++) {
		const struct sym_load *l = &obj->loads[i];

		if (l->exec && vaddr >= l->vaddr && vaddr - l->vaddr < l->memsz)
			return true;
	}
	return false;
}

/*
 * The function symbol covering 'addr': the best of the aliases at the
 * greatest address <= addr whose size covers it; a sizeless symbol (asm)
 * reaches to the next symbol. Sets *sized to whether it is a real function.
 */
static const char *find_sym(struct sym_object *obj, uint64_t addr, bool *sized)
{
	size_t lo = 0, hi;

	if (!obj->syms_loaded)
		load_syms(obj);
	hi = obj->nr_syms;
	if (!hi || addr < obj->syms[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (obj->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	/* A few steps back cover a sized function holding a label. */
	for (size_t i = lo + 1, steps = 0; i-- > 0 && steps < 8; steps++) {
		const struct elf_sym *s = &obj->syms[i];

		if (s->size && addr - s->addr < s->size) {
			*sized = true;
			return s->name;
		}
		if (!s->size && i == lo && in_text(obj, s->addr) &&
		    in_text(obj, addr)) {
			*sized = false;
			return s->name;
		}
	}
	return NULL;
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

	if (!obj->addrs) {
		obj->addrs = xcalloc(obj->addr_cap, sizeof(*obj->addrs));
		obj->bytes += obj->addr_cap * sizeof(*obj->addrs);
	}
	/* Clear when full: cheaper than LRU bookkeeping on every hit, and a
	 * profile's hot addresses come back within one refill. */
	if (obj->addr_len >= obj->addr_max) {
		cache_clear(obj);
	} else if ((obj->addr_len + 1) * 2 > obj->addr_cap) {
		size_t old_cap = obj->addr_cap;
		struct addr_entry *old = obj->addrs;

		obj->bytes += old_cap * sizeof(*obj->addrs);
		obj->addr_cap *= 2;
		obj->addrs = xcalloc(obj->addr_cap, sizeof(*obj->addrs));
		for (size_t j = 0; j < old_cap; j++) {
			if (!old[j].key)
				continue;
			for (i = addr_slot(obj, old[j].key); obj->addrs[i].key;
			     i = (i + 1) & (obj->addr_cap - 1))
				;
			obj->addrs[i] = old[j];
		}
		free(old);
	}
	if (obj->pool_len + res->n > obj->pool_cap) {
		size_t old_cap = obj->pool_cap;

		obj->pool_cap = obj->pool_cap ? obj->pool_cap * 2 : 256;
		while (obj->pool_cap < obj->pool_len + res->n)
			obj->pool_cap *= 2;
		obj->bytes += (obj->pool_cap - old_cap) * sizeof(*obj->pool);
		obj->pool =
		    xrealloc(obj->pool, obj->pool_cap * sizeof(*obj->pool));
	}
	for (i = addr_slot(obj, key); obj->addrs[i].key;
	     i = (i + 1) & (obj->addr_cap - 1))
		;
	obj->addrs[i] =
	    (struct addr_entry){key, (uint32_t)obj->pool_len, (uint32_t)res->n};
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

/*
 * Code without symbols is named by its module and the start of the
 * function containing it ("gzip+0x4710"), so all its addresses share one
 * frame instead of one name per address. NULL when no FDE covers vaddr.
 */
static const char *fde_name(struct sym_object *obj, uint64_t vaddr)
{
	const char *base = strrchr(obj->path, '/'), *kept;
	char name[512];
	uint64_t start, key;

	if (fde__func_start(obj, vaddr, &start))
		return NULL;
	/* Kept with the object: keys with bit 63 never clash with the
	 * addresses of mangled names. */
	key = start | (1ULL << 63);
	kept = namecache__find(&obj->names, key);
	if (kept)
		return kept;
	snprintf(name, sizeof(name), "%s+0x%" PRIx64,
		 base ? base + 1 : obj->path, start);
	return namecache__put(&obj->names, key, name);
}

/* Go code without DWARF: frames from .gopclntab, innermost first. */
static size_t go_chain(struct sym_object *obj, uint64_t vaddr,
		       struct chain *out)
{
	struct go_frame gf[MAX_CHAIN];
	size_t n;

	if (!obj->go_loaded) {
		GElf_Addr bias;
		Elf *elf = dwfl_module_getelf(obj->mod, &bias);

		obj->go_loaded = true;
		obj->go =
		    elf ? gopcln__open(elf, obj->loads, obj->nr_loads) : NULL;
		obj->bytes += obj->go ? gopcln__bytes() : 0;
	}
	n = gopcln__lookup(obj->go, vaddr, gf, MAX_CHAIN);
	for (size_t i = 0; i < n; i++)
		out[i] = (struct chain){gf[i].name, gf[i].file, gf[i].line,
					gf[i].inlined};
	return n;
}

static void lookup(struct symbolizer *sym, struct sym_object *obj,
		   uint64_t vaddr, struct sym_result *out)
{
	struct chain chain[MAX_CHAIN];
	const char *symname, *file = NULL;
	Dwarf_Die *cudie;
	Dwarf_Addr bias;
	Dwarf_Line *dl;
	bool sized = false;
	uint32_t line = 0;
	size_t n = 0, skip;
	int lineno;

	out->n = 0;
	symname = find_sym(obj, vaddr, &sized);
	cudie = obj->no_dwarf
		    ? NULL
		    : dwfl_module_addrdie(obj->dmod ? obj->dmod : obj->mod,
					  vaddr, &bias);
	if (cudie) {
		dl = dwarf_getsrc_die(cudie, vaddr - bias);
		if (dl) {
			file = dwarf_linesrc(dl, NULL, NULL);
			if (!dwarf_lineno(dl, &lineno) && lineno > 0)
				line = (uint32_t)lineno;
		}
		n = inline_chain(sym, obj, cudie, vaddr - bias, file, line,
				 chain);
	} else {
		n = go_chain(obj, vaddr, chain);
	}
	if (!n) {
		if (!symname)
			symname = fde_name(obj, vaddr);
		if (!symname)
			return;
		chain[n++] = (struct chain){symname, file, line, false};
	} else if (symname && sized && !chain[n - 1].inlined) {
		/* The symbol table names the code actually run (foo.cold,
		 * foo.constprop.0), as perf and nm show it. */
		chain[n - 1].name = symname;
	}
	/* Keep the outermost frames: the stack must still join its caller. */
	skip = n > SYM_MAX_INLINE ? n - SYM_MAX_INLINE : 0;
	for (size_t i = n; i-- > skip;) {
		struct sym_frame *f = &out->frames[out->n++];

		/* Strings of the ELF file and of libdw: valid while the
		 * object lives, so nothing is copied per address. */
		f->name = chain[i].name ? chain[i].name : "??";
		f->file = chain[i].file;
		/* C++/Rust: demangled once per symbol and object. */
		f->name =
		    namecache__demangle(&obj->names, f->name, &f->system_name);
		f->line = chain[i].line;
		f->inlined = chain[i].inlined;
	}
}

int dwobj__resolve(struct symbolizer *sym, struct sym_object *obj,
		   uint64_t vaddr, struct sym_result *out)
{
	const struct addr_entry *e;
	uint64_t before, after, bytes;

	if (obj->dbg_pending) {
		struct timespec ts;

		/* A second between looks: the client's table is locked. */
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		if (ts.tv_sec != obj->dbg_checked)
			debug_poll(sym, obj);
	}
	e = cache_get(obj, vaddr + 1);
	if (e) {
		sym->stats.hits++;
		out->n = e->n;
		memcpy(out->frames, obj->pool + e->first,
		       e->n * sizeof(*out->frames));
		return e->n ? 0 : -ENOENT;
	}
	sym->stats.misses++;
	/*
	 * What a miss costs in memory is measured, not estimated: libdw
	 * builds CU and line tables lazily, in memory it frees only with
	 * the object. The malloc counters (main arena and mapped chunks: this
	 * thread's) before and after give the object's growth, ours and
	 * libdw's; another thread allocating meanwhile can only make it
	 * larger, which errs on the side of evicting.
	 */
	before = malloc_in_use();
	bytes = obj->bytes;
	lookup(sym, obj, vaddr, out);
	/* Misses are cached too: unresolvable hot addresses are common. */
	cache_put(obj, vaddr + 1, out);
	after = malloc_in_use();
	obj->bytes = bytes + (after > before ? after - before : 0);
	return out->n ? 0 : -ENOENT;
}
