// SPDX-License-Identifier: MIT
/*
 * Unwind table build time and size for the objects given on the command
 * line (make bench: libc, python3, node): rows read from libdw, rows kept
 * after merging, bytes in the kernel map, the bucket index (buckets, bytes
 * each, most search steps in a bucket), milliseconds on one core.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "profiler/unwind_table.h"

int main(int argc, char **argv)
{
	printf("%-40s %9s %9s %7s %8s %7s %6s %7s\n", "object", "cfi rows",
	       "rows", "KiB", "buckets", "bytes", "steps", "ms");
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		struct unwind_table *t;

		if (fd < 0) {
			printf("%-48s %s\n", argv[i], strerror(errno));
			continue;
		}
		t = unwind_table__build(fd);
		close(fd);
		if (!t) {
			printf("%-48s %s\n", argv[i], strerror(errno));
			continue;
		}
		/* KiB: rows and buckets, 8 bytes each, as in the kernel;
		 * steps: the most binary search steps within a bucket. */
		printf("%-40s %9llu %9u %7.0f %8u %7u %6u %7.1f\n", argv[i],
		       (unsigned long long)t->stats.cfi_rows, t->nr_rows,
		       (t->nr_rows + t->index.nr_buckets) * 8 / 1024.0,
		       t->index.nr_buckets, 1u << t->index.shift,
		       unwind_table__max_steps(t), t->stats.build_ns / 1e6);
		unwind_table__free(t);
	}
	return 0;
}
