// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the ingest request parser. The first input byte picks
 * the Content-Type, the rest is the body; relabelling runs on success.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "profile/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {
	    NULL,
	    "application/x-protobuf",
	    "text/plain; charset=utf-8",
	    "application/octet-stream",
	    "text/x-folded",
	    "bogus/type",
	};
	static const char *const labels[] = {"commit=abc", "comm=x"};
	struct read_limits lim;
	struct profile *p;
	char err[256];

	if (size < 1)
		return 0;
	fuzz__limits(&lim);
	p = profile__new();
	if (!ingest__parse(data + 1, size - 1,
			   types[data[0] % (sizeof(types) / sizeof(types[0]))],
			   &lim, p, err, sizeof(err))) {
		struct profile *q = ingest__relabel(p, labels, 2, 1);

		if (!q || profile__total(q) != profile__total(p))
			abort();
		profile__free(q);
	}
	profile__free(p);
	return 0;
}
