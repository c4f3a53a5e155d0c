// SPDX-License-Identifier: MIT
/*
 * GNU build ids (the key of the object cache and what pprof mappings carry)
 * and the vDSO image, both read with libelf.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/safe_open.h"
#include "symbolizer/sym_int.h"

static int notes_build_id(Elf_Data *data, uint8_t *buf, size_t size)
{
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nhdr;

	while ((off = gelf_getnote(data, off, &nhdr, &name_off, &desc_off))) {
		if (nhdr.n_type != NT_GNU_BUILD_ID || nhdr.n_namesz != 4 ||
		    memcmp((char *)data->d_buf + name_off, "GNU", 4))
			continue;
		if (nhdr.n_descsz == 0)
			return -ENOENT;
		if (nhdr.n_descsz > size)
			return -ENOSPC;
		memcpy(buf, (char *)data->d_buf + desc_off, nhdr.n_descsz);
		return (int)nhdr.n_descsz;
	}
	return -ENOENT;
}

int elf__build_id(Elf *elf, uint8_t *buf, size_t size)
{
	Elf_Scn *scn = NULL;
	size_t nphdr;
	int ret;

	/* Program headers first: they are what the loader maps and exist
	 * even in binaries whose section headers were stripped. */
	if (!elf_getphdrnum(elf, &nphdr)) {
		for (size_t i = 0; i < nphdr; i++) {
			GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);
			Elf_Data *data;

			if (!ph || ph->p_type != PT_NOTE)
				continue;
			data = elf_getdata_rawchunk(elf, (int64_t)ph->p_offset,
						    ph->p_filesz, ELF_T_NHDR);
			if (!data)
				continue;
			ret = notes_build_id(data, buf, size);
			if (ret != -ENOENT)
				return ret;
		}
	}
	/* Separate debug files keep the note section but no PT_NOTE. */
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr mem, *sh = gelf_getshdr(scn, &mem);
		Elf_Data *data;

		if (!sh || sh->sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		ret = notes_build_id(data, buf, size);
		if (ret != -ENOENT)
			return ret;
	}
	return -ENOENT;
}

int fd__build_id(int fd, uint8_t *buf, size_t size)
{
	Elf *elf;
	int ret;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -EINVAL;
	if (elf_kind(elf) != ELF_K_ELF)
		ret = -EINVAL;
	else
		ret = elf__build_id(elf, buf, size);
	elf_end(elf);
	return ret;
}

int symbolizer__read_build_id(const char *path, uint8_t *buf, size_t size)
{
	int fd = safe_open(path, SYM_MAX_FILE_SIZE);
	int ret;

	if (fd < 0)
		return fd;
	ret = fd__build_id(fd, buf, size);
	close(fd);
	return ret;
}

void build_id__hex(const uint8_t *id, size_t len, char *out, size_t out_size)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len && 2 * i + 2 < out_size; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 0xf];
	}
	out[2 * i] = '\0';
}

/*
 * The vDSO is the same image in every process of this kernel, so reading
 * our own copy (found through the aux vector) symbolizes everyone's.
 */
int vdso__memfd(void)
{
	const unsigned char *base = (const void *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const void *)base;
	long page = sysconf(_SC_PAGESIZE);
	size_t len = 0, off = 0;
	int fd, err;

	if (!base)
		return -ENOENT;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64)
		return -EINVAL;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
		    (const void *)(base + eh->e_phoff + i * eh->e_phentsize);

		if (ph->p_type == PT_LOAD && ph->p_offset + ph->p_filesz > len)
			len = ph->p_offset + ph->p_filesz;
	}
	if (eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize > len)
		len = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	/* The kernel maps the image in whole pages. */
	len = (len + (size_t)page - 1) & ~((size_t)page - 1);

	fd = memfd_create("kiln-vdso", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, base + off, len - off);

		if (n < 0) {
			err = -errno;
			goto err_close;
		}
		off += (size_t)n;
	}
	return fd;
err_close:
	close(fd);
	return err;
}
