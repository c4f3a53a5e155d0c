/* SPDX-License-Identifier: MIT */
/*
 * Parsing of profile uploads (POST /api/v1/ingest, `kiln import`): the
 * body is pprof (gzip or raw protobuf) or folded text. The caller owns the
 * HTTP side (body size cap, labels from query parameters, time stamp).
 */
#ifndef KILN_INGEST_H
#define KILN_INGEST_H

#include <stddef.h>

#include "profile/format.h"
#include "profile/profile.h"

/*
 * Parses 'body' into the fresh profile 'out'. 'content_type' (may be NULL
 * or carry "; charset=..." parameters) picks the format:
 * application/x-protobuf, application/vnd.google.protobuf,
 * application/octet-stream, application/gzip -> pprof; text/plain,
 * text/x-folded -> folded (with lim->folded_no_comm as given); anything
 * else or NULL -> sniffed like profile__read(). 'lim' NULL uses defaults.
 * Returns 0 or -errno with a one-line reason in 'err' (-E2BIG: over a
 * limit, for HTTP 413; -EINVAL/-EILSEQ: bad input, for 400). On error
 * 'out' holds partial data and must be discarded.
 */
int ingest__parse(const void *body, size_t len, const char *content_type,
		  const struct read_limits *lim, struct profile *out, char *err,
		  size_t errlen);

/*
 * Applies upload labels to every sample of 'p': each "key=value" in
 * 'labels' replaces or adds that label in every series, and when
 * 'time_ns' is non-zero every sample time becomes 'time_ns'. Returns a
 * new profile (caller frees; checked when 'p' is) or NULL with errno set
 * (EINVAL: a label without '=' or with an empty key or a value that is not
 * UTF-8; ENOMEM). A copy by profile__merge_relabel().
 */
struct profile *ingest__relabel(const struct profile *p,
				const char *const *labels, size_t nr_labels,
				uint64_t time_ns);

#endif
