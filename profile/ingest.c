// SPDX-License-Identifier: MIT
/* Upload parsing shared by `kiln import` and POST /api/v1/ingest. */
#include "lib/escape.h"
#include "profile/ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

/* True when the media type (before any ';') equals 'type'. */
static bool media_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	while (*ct == ' ')
		ct++;
	return !strncasecmp(ct, type, n) &&
	       (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

int ingest__parse(const void *body, size_t len, const char *content_type,
		  const struct read_limits *lim, struct profile *out, char *err,
		  size_t errlen)
{
	int ret = read_limits__check_size(lim, len, "body", err, errlen);

	if (ret)
		return ret;
	if (!content_type)
		return profile__read(out, body, len, lim, err, errlen);
	if (media_is(content_type, "application/x-protobuf") ||
	    media_is(content_type, "application/vnd.google.protobuf") ||
	    media_is(content_type, "application/protobuf") ||
	    media_is(content_type, "application/octet-stream"))
		return pprof__read(out, body, len, lim, err, errlen);
	/* gzip: pprof or folded inside, profile__read looks. */
	if (media_is(content_type, "text/plain") ||
	    media_is(content_type, "text/x-folded"))
		return folded__read(out, body, len, lim, err, errlen);
	return profile__read(out, body, len, lim, err, errlen);
}

struct profile *ingest__relabel(const struct profile *p,
				const char *const *labels, size_t nr_labels,
				uint64_t time_ns)
{
	struct profile_relabel rl = {labels, nr_labels, time_ns};
	struct profile *out = profile__new();
	int err;

	if (!out)
		return NULL;
	if (profile__checked(p))
		profile__set_checked(out);
	err = profile__merge_relabel(out, p, &rl);
	if (err) {
		profile__free(out);
		errno = -err;
		return NULL;
	}
	*profile__meta(out) = *profile__meta_const(p);
	if (time_ns)
		profile__meta(out)->start_ns = time_ns;
	return out;
}
