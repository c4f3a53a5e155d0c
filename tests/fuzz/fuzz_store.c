// SPDX-License-Identifier: MIT
/* libFuzzer target: every store read over a corrupted copy of a real
 * store (see fuzz_store.h). */
#include <stddef.h>
#include <stdint.h>

#include "profile/format.h"
#include "fuzz_store.h"

static struct fuzz_store fs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_level = LOG_ERROR;
	if (fuzz_store__init(&fs)) {
		fprintf(stderr, "fuzz_store: cannot write the base store\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_store__run(&fs, data, size);
	return 0;
}
