// SPDX-License-Identifier: MIT
#include "lib/safe_open.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

/* Refuses what is not a regular file, or is larger than the cap. */
static int check_fd(int fd, uint64_t max_size)
{
	struct stat st;
	int err;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto err_close;
	}
	if (max_size && (uint64_t)st.st_size > max_size) {
		err = -EFBIG;
		goto err_close;
	}
	return fd;
err_close:
	close(fd);
	return err;
}

int safe_open(const char *path, uint64_t max_size)
{
	return check_fd(open(path, OPEN_FLAGS), max_size);
}

int safe_open_in_root(int root_fd, const char *path, uint64_t max_size)
{
	struct open_how how = {
	    .flags = OPEN_FLAGS,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	if (root_fd < 0)
		return -EBADF;
	/* glibc 2.36 has no wrapper. No fallback without openat2: resolving
	 * a container's path any other way is what this refuses to do. */
	fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	return check_fd((int)fd, max_size);
}

int safe_open_root(const char *path)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int safe_open_path(const char *path)
{
	int fd = open(path, O_PATH | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int safe_reopen(int path_fd, uint64_t max_size)
{
	char proc[64];

	if (path_fd < 0)
		return -EBADF;
	/* Reopening through /proc/self/fd opens the same inode for reading
	 * (the only way from an O_PATH handle). */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
	return check_fd(open(proc, OPEN_FLAGS), max_size);
}

ssize_t safe_read_small(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd, err;

	if (!size)
		return -EINVAL;
	fd = safe_open(path, SAFE_OPEN_ANY_SIZE);
	if (fd < 0)
		return fd;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return (ssize_t)len;
}
