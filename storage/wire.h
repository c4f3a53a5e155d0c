/* SPDX-License-Identifier: MIT */
/*
 * The push wire format: one committed agent window, self-contained, as it
 * travels from `kiln agent --push` to `kiln server` (POST /api/v1/push).
 *
 * A frame is a small uncompressed header followed by a zlib stream:
 *
 *   "KLNW" u8(version = 2; version 1 is read too)
 *   varint instance   agent instance id (random, persisted in its store)
 *   varint seq        window number within the instance (1, 2, ...)
 *   varint start_ns   window start, unix ns
 *   varint end_ns     window end, unix ns (>= start_ns)
 *   varint samples    sum of the counts in the payload (checked)
 *   varint host_len, host bytes (UTF-8, 1..255)
 *   varint raw_len    size of the payload after inflating (checked)
 *   zlib(payload)
 *
 * The payload is the window's own dictionary and its counts at the store's
 * 20 ms resolution:
 *
 *   varint period_ns, varint base_slot (unix ns / 20 ms of slot 0)
 *   varint nr_strings, then per string varint len + bytes (id 0 is the
 *          implicit "", so the first string listed has id 1)
 *   varint nr_frames, per frame varint name, file, module (string ids),
 *          line, kind, addr; when kind has WIRE_FRAME_MORE (16) set
 *          (version 2), varint system_name, build_id (string ids) and
 *          zigzag(file offset - addr) follow (struct frame: what names
 *          the frame again once debug info arrives); version 1 payloads
 *          never set it
 *   varint nr_stacks, per stack (frame ids, root first; stacks listed in
 *          lexicographic order) varint shared prefix with the previous
 *          stack, varint number of new frames, the new frame ids
 *   varint nr_series, per series varint nr_labels, then (key, value)
 *          string id pairs
 *   varint nr_groups, per (series, stack) group in (series, stack) order:
 *          varint series delta; varint stack (a delta when the series did
 *          not change, else absolute); varint nr_slots; per slot
 *          varint(slot delta * 2 + (count != 1)) [varint count]
 *
 * The window's identity is (instance, seq); the host and start time ride
 * along so the server can show and check them. Decoding treats every byte
 * as hostile: every id, count, length and size is bounded.
 */
#ifndef KILN_WIRE_H
#define KILN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

#define WIRE_VERSION 2
#define WIRE_VERSION_MIN 1
#define WIRE_FRAME_MORE 16u /* in a frame's kind: more fields follow */
#define WIRE_MAX_HOST 255

struct wire_header {
	uint64_t instance;
	uint64_t seq;
	uint64_t start_ns, end_ns;
	uint64_t samples;
	char host[WIRE_MAX_HOST + 1];
};

struct wire_limits {
	size_t max_frame;   /* bytes of the whole frame as received */
	size_t max_payload; /* bytes after inflating */
	size_t max_strings, max_string_len;
	size_t max_frames, max_stacks, max_depth;
	size_t max_series, max_labels;
	size_t max_entries; /* (series, stack, slot) entries */
	uint64_t max_slots; /* window span in 20 ms slots */
	uint64_t max_count; /* per entry */
};

/* Defaults: 16 MiB frame, 256 MiB payload, a day of slots, ... */
void wire_limits__default(struct wire_limits *lim);

/*
 * Encodes the samples of 'p' (times quantized to 20 ms slots; a time of
 * 0 counts as the earliest slot) into a compressed payload, malloc'ed
 * into *out. Returns 0 or -ENOMEM / -EINVAL (nothing to encode is fine:
 * an empty payload). *raw_len receives the uncompressed size and
 * *samples the sum of counts, both needed for the header.
 */
int wire__encode_payload(const struct profile *p, uint8_t **out, size_t *len,
			 uint64_t *raw_len, uint64_t *samples);

/*
 * Builds a frame from a header and a payload made by
 * wire__encode_payload(). Returns 0 or -ENOMEM / -EINVAL (bad host).
 */
int wire__frame(const struct wire_header *h, uint64_t raw_len,
		const void *payload, size_t len, uint8_t **out,
		size_t *out_len);

/*
 * Decodes a frame into 'h' and the fresh profile 'out' (NULL: header
 * only). Returns 0 or -errno with a one-line reason in 'err': -EINVAL /
 * -EBADMSG malformed or truncated, -EILSEQ a string that is not UTF-8,
 * -E2BIG over a limit, -ENOMEM. On error 'out' must be discarded.
 */
int wire__decode(const void *data, size_t len, const struct wire_limits *lim,
		 struct wire_header *h, struct profile *out, char *err,
		 size_t errlen);

#endif
