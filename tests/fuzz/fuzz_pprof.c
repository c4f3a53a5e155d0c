// SPDX-License-Identifier: MIT
/* libFuzzer target: the pprof reader (gzip and raw protobuf). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct read_limits lim;
	struct profile *p = profile__new();
	char err[256];

	fuzz__limits(&lim);
	if (!pprof__read(p, data, size, &lim, err, sizeof(err)))
		fuzz__check(p);
	profile__free(p);
	return 0;
}
