// SPDX-License-Identifier: MIT
/*
 * Unwind table build time and size for the objects given on the command
 * line (make bench: libc, python3, node): rows read from libdw, rows kept
 * after merging, bytes in the kernel map, milliseconds on one core.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "profiler/unwind_table.h"

int main(int argc, char **argv)
{
	printf("%-48s %10s %10s %10s %10s\n", "object", "cfi rows", "rows",
	       "KiB", "ms");
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
		printf("%-48s %10llu %10u %10.0f %10.1f\n", argv[i],
		       (unsigned long long)t->stats.cfi_rows, t->nr_rows,
		       t->nr_rows * sizeof(*t->rows) / 1024.0,
		       t->stats.build_ns / 1e6);
		unwind_table__free(t);
	}
	return 0;
}
