// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the push wire decoder (storage/wire.c), the bytes a
 * `kiln server` takes from the network. The first input byte picks the
 * mode: even, the rest is a whole frame; odd, the rest is a raw payload
 * that the target compresses and frames, so the fuzzer reaches the
 * payload parser past zlib. A window that decodes must encode again and
 * decode to the same total.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "storage/wire.h"

static void limits(struct wire_limits *lim)
{
	wire_limits__default(lim);
	lim->max_payload = 16 << 20;
	lim->max_entries = 1 << 20;
	lim->max_strings = 1 << 16;
	lim->max_frames = 1 << 16;
	lim->max_stacks = 1 << 16;
}

static void roundtrip(const struct profile *p, const struct wire_header *h)
{
	struct wire_header h2 = *h, got;
	struct profile *q = profile__new();
	uint8_t *payload, *frame;
	size_t plen, flen;
	uint64_t raw;
	char err[256];

	if (wire__encode_payload(p, &payload, &plen, &raw, &h2.samples))
		abort();
	if (wire__frame(&h2, raw, payload, plen, &frame, &flen))
		abort();
	if (wire__decode(frame, flen, NULL, &got, q, err, sizeof(err)) ||
	    profile__total(q) != profile__total(p))
		abort();
	free(payload);
	free(frame);
	profile__free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_limits lim;
	struct wire_header h;
	struct profile *p;
	uint8_t *frame = NULL;
	const uint8_t *in = data + 1;
	size_t len = size ? size - 1 : 0;
	char err[256];

	if (size < 1)
		return 0;
	limits(&lim);
	if (data[0] & 1) {
		struct wire_header fh = {.instance = 1,
					 .seq = 1,
					 .start_ns = 1,
					 .end_ns = 2,
					 .samples = 0};
		uLongf zlen = compressBound(len);
		uint8_t *z = malloc(zlen);
		size_t flen;

		strcpy(fh.host, "fuzz");
		if (compress2(z, &zlen, in, len, 1) != Z_OK)
			abort();
		if (wire__frame(&fh, len, z, zlen, &frame, &flen))
			abort();
		free(z);
		in = frame;
		len = flen;
	}
	p = profile__new();
	if (!wire__decode(in, len, &lim, &h, p, err, sizeof(err)))
		roundtrip(p, &h);
	profile__free(p);
	free(frame);
	return 0;
}
