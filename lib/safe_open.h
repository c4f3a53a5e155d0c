/* SPDX-License-Identifier: MIT */
/*
 * Opening files on behalf of other processes. kiln runs as root and opens
 * paths that any local user or container controls: mapped binaries, debug
 * files, JIT perf maps, /proc/PID/ files. Every such open goes through
 * here, so that none of them can
 *   - block: O_NONBLOCK and O_NOCTTY, so a FIFO or a device at the path
 *     opens at once, and is then refused (fstat: regular files only);
 *   - bloat: a size cap is checked before anything is read;
 *   - escape: a path inside a process's root is resolved inside that root
 *     (openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so a
 *     container's absolute symlinks and '..' stay in the container, and
 *     /proc/self/fd tricks are refused, never resolved in the host's view.
 * Descriptors are O_CLOEXEC. All functions return an fd or -errno:
 * -EINVAL for something other than a regular file, -EFBIG above the cap.
 */
#ifndef KILN_SAFE_OPEN_H
#define KILN_SAFE_OPEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* No size cap (procfs files report size 0 anyway). */
#define SAFE_OPEN_ANY_SIZE 0

/*
 * Opens an absolute host path, or a /proc/PID/ path (magic links such as
 * /proc/PID/map_files/ are followed: they name exactly the inode a process
 * maps). Regular files of at most max_size bytes (SAFE_OPEN_ANY_SIZE: any).
 */
int safe_open(const char *path, uint64_t max_size);

/*
 * Opens 'path' (absolute or relative) inside the directory 'root_fd' as if
 * root_fd were "/": symlinks and ".." cannot leave it, magic links are
 * refused. Same checks as safe_open().
 */
int safe_open_in_root(int root_fd, const char *path, uint64_t max_size);

/*
 * A handle on a directory to use as a root: O_PATH, so nothing on the
 * target file system is opened (no FUSE or device open can block). For
 * "/proc/PID/root" it keeps the process's root reachable after it exits.
 */
int safe_open_root(const char *path);

/*
 * An O_PATH handle on a file (for /proc/PID/map_files/ entries): takes the
 * file without opening it, so a hostile file system cannot block the
 * caller. Reopen it later, from another thread, with safe_reopen().
 */
int safe_open_path(const char *path);
int safe_reopen(int path_fd, uint64_t max_size);

/*
 * Reads a small file whole (procfs files, /sys files): at most size - 1
 * bytes into buf, NUL terminated. Returns the length or -errno.
 */
ssize_t safe_read_small(const char *path, char *buf, size_t size);

#endif
