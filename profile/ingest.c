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
	struct read_limits def;

	if (!lim) {
		read_limits__default(&def);
		lim = &def;
	}
	if (len > lim->max_input) {
		snprintf(err, errlen,
			 "body of %zu bytes exceeds the limit of %zu", len,
			 lim->max_input);
		return -E2BIG;
	}
	if (len == 0) {
		snprintf(err, errlen, "empty body");
		return -EINVAL;
	}
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
	struct profile *out = profile__new();
	size_t nf = profile__nr_frames(p), nst = profile__nr_stacks(p);
	size_t nsr = profile__nr_series(p), n;
	uint32_t *keys, *vals, *fmap, *stmap, *smap;

	if (!out)
		return NULL;
	keys = xcalloc(nr_labels, sizeof(*keys));
	vals = xcalloc(nr_labels, sizeof(*vals));
	fmap = xcalloc(nf, sizeof(*fmap));
	stmap = xcalloc(nst, sizeof(*stmap));
	smap = xcalloc(nsr, sizeof(*smap));
	for (size_t i = 0; i < nr_labels; i++) {
		const char *eq = strchr(labels[i], '=');

		if (!eq || eq == labels[i] ||
		    !escape__utf8_valid(labels[i], strlen(labels[i]))) {
			profile__free(out);
			out = NULL;
			errno = EINVAL;
			goto out;
		}
		keys[i] = profile__intern_len(out, labels[i],
					      (size_t)(eq - labels[i]));
		vals[i] = profile__intern(out, eq + 1);
	}
	for (size_t f = 0; f < nf; f++) {
		struct frame fr = *profile__frame(p, (uint32_t)f);

		fr.name = profile__intern(out, profile__str(p, fr.name));
		fr.file = profile__intern(out, profile__str(p, fr.file));
		fr.module = profile__intern(out, profile__str(p, fr.module));
		fr.sysname = profile__intern(out, profile__str(p, fr.sysname));
		fmap[f] = profile__add_frame(out, &fr);
	}
	for (size_t k = 0; k < nst; k++) {
		size_t depth;
		const uint32_t *ids = profile__stack(p, (uint32_t)k, &depth);
		uint32_t *copy = xcalloc(depth, sizeof(*copy));

		for (size_t j = 0; j < depth; j++)
			copy[j] = fmap[ids[j]];
		stmap[k] = profile__add_stack(out, copy, depth);
		free(copy);
	}
	for (size_t s = 0; s < nsr; s++) {
		const struct label *l = profile__series(p, (uint32_t)s, &n);
		struct label *copy = xcalloc(n + nr_labels, sizeof(*copy));
		size_t m = 0;

		/* Upload labels win over the profile's own; among repeated
		 * upload keys the last one wins. */
		for (size_t k = 0; k < nr_labels; k++) {
			bool later = false;

			for (size_t k2 = k + 1; k2 < nr_labels; k2++)
				later |= keys[k2] == keys[k];
			if (!later)
				copy[m++] = (struct label){keys[k], vals[k]};
		}
		for (size_t j = 0; j < n; j++) {
			uint32_t key =
			    profile__intern(out, profile__str(p, l[j].key));
			bool replaced = false;

			for (size_t k = 0; k < nr_labels; k++)
				replaced |= key == keys[k];
			if (!replaced)
				copy[m++] = (struct label){
				    key, profile__intern(
					     out, profile__str(p, l[j].value))};
		}
		smap[s] = profile__add_series(out, copy, m);
		free(copy);
	}
	const struct sample *smp = profile__samples(p, &n);
	for (size_t i = 0; i < n; i++)
		profile__add_sample(
		    out, smap[smp[i].series], stmap[smp[i].stack],
		    time_ns ? time_ns : smp[i].time_ns, smp[i].count);
	*profile__meta(out) = *profile__meta_const(p);
	if (time_ns)
		profile__meta(out)->start_ns = time_ns;
out:
	free(keys);
	free(vals);
	free(fmap);
	free(stmap);
	free(smap);
	return out;
}
