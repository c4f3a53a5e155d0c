/* SPDX-License-Identifier: MIT */
/*
 * The one parser of store queries, for the HTTP API's query strings and the
 * CLI's "db:PATH?from=..&to=..&filter=k=v" sources: URL decoding, bounded
 * key/value lists, time ranges (RFC 3339, unix seconds, -1h, now) with
 * sanity bounds, and label filters (key=value, key!=value, key=~regex,
 * key!~regex). Everything a client can send is bounded here; every
 * rejection comes with a one-line message.
 */
#ifndef KILN_QUERY_PARAMS_H
#define KILN_QUERY_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

#define QUERY_MAX_FILTERS 32
#define QUERY_MAX_VALUE 1024
#define QUERY_MAX_STRING 8192

enum query_op {
	QUERY_OP_EQUAL = 0, /* key=value: q.filters */
	QUERY_OP_NOT_EQUAL, /* key!=value */
	QUERY_OP_MATCH,	    /* key=~regex (whole value) */
	QUERY_OP_NOT_MATCH, /* key!~regex */
};

/* One side of a query: range and filters; strings point into 'storage'. */
struct query_range {
	struct store_query q;
	struct store_filter filters[QUERY_MAX_FILTERS];
	/* Filters other than key=value, left for the API to resolve into
	 * key=value filters against the label values in the range. */
	struct {
		const char *key, *value;
		int op; /* enum query_op */
	} ops[QUERY_MAX_FILTERS];
	size_t nr_ops;
};

struct query_params {
	char *buf; /* decoded copy of the query string, NUL separated */
	struct {
		const char *key, *value;
	} kv[128];
	size_t n;
};

/* Parses a raw query string. Returns 0, or -E2BIG / -EINVAL with 'err'. */
int query_params__parse(struct query_params *pp, const char *qs, char *err,
			size_t errlen);
void query_params__release(struct query_params *pp);
/* The first value of 'key', or NULL. */
const char *query_params__get(const struct query_params *pp, const char *key);
/*
 * Fills a range from "<prefix>from", "<prefix>to" and "<prefix>filter"
 * (prefix "" or "a_"/"b_"), defaults -1h .. now. Checks the range is
 * ordered and sane and that filters are key=value with known keys
 * ('known' is a NULL-terminated list or NULL to skip the check). Returns 0
 * or -EINVAL with a message in 'err'.
 */
int query_params__range(const struct query_params *pp, const char *prefix,
			uint64_t now_ns, const char *const *known,
			struct query_range *r, char *err, size_t errlen);
/* Parses an unsigned integer parameter within [min, max]. */
int query_params__uint(const struct query_params *pp, const char *key,
		       uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
		       char *err, size_t errlen);

/*
 * Checks that every key is one of 'allowed' (NULL-terminated). Returns 0
 * or -EINVAL with "unknown parameter ..." in 'err'.
 */
int query_params__only(const struct query_params *pp,
		       const char *const *allowed, char *err, size_t errlen);

#endif
