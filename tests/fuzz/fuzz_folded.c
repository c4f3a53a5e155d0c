// SPDX-License-Identifier: MIT
/* libFuzzer target: the folded reader, with and without a comm frame. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct read_limits lim;
	char err[256];

	fuzz__limits(&lim);
	for (int plain = 0; plain < 2; plain++) {
		struct profile *p = profile__new();

		lim.folded_no_comm = plain;
		if (!folded__read(p, data, size, &lim, err, sizeof(err)))
			fuzz__check(p);
		profile__free(p);
	}
	return 0;
}
