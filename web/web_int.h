/* SPDX-License-Identifier: MIT */
/*
 * Private to web/: the JSON buffer, the flame tree builder and the request
 * parameter parser. Kept free of civetweb so tests and benches can drive
 * them directly.
 */
#ifndef KILN_WEB_INT_H
#define KILN_WEB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/idxset.h"
#include "profile/profile.h"
#include "storage/store.h"

/* ---- growable output buffer with JSON helpers (json.c) ---- */

struct jbuf {
	char *p;
	size_t len, cap;
	bool oom; /* an allocation failed: the content is truncated */
};

void jbuf__init(struct jbuf *b);
void jbuf__release(struct jbuf *b);
void jbuf__raw(struct jbuf *b, const char *s, size_t len);
void jbuf__puts(struct jbuf *b, const char *s);
void jbuf__printf(struct jbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal with quotes; invalid UTF-8 bytes become U+FFFD. */
void jbuf__str(struct jbuf *b, const char *s);
void jbuf__u64(struct jbuf *b, uint64_t v);
/* Writes a comma unless the last byte opened an array/object or was ':'. */
void jbuf__sep(struct jbuf *b);

/* ---- bounded regular expressions for match= (match.c) ---- */

#define WEB_MATCH_MAX_LEN 512	 /* bytes of pattern */
#define WEB_MATCH_MAX_NEST 32	 /* nested parentheses */
#define WEB_MATCH_STEPS 100000	 /* backtracking steps per name */
#define WEB_MATCH_DEPTH 1000	 /* backtracking depth per name */
#define WEB_MATCH_HEAP_KIB 1024	 /* match heap per name */
#define WEB_MATCH_BUDGET_MS 2000 /* all matching of one request */

/* A compiled pattern with its match state: one request's, not shared. */
struct web_match;

/*
 * Compiles 'pattern' (PCRE2 syntax, byte mode). Returns 0, or -E2BIG (too
 * long), -EINVAL (malformed or too complex) or -ENOMEM with 'err' set.
 */
int web_match__compile(const char *pattern, struct web_match **out, char *err,
		       size_t errlen);
/*
 * 1 if 's' matches, 0 if not; -E2BIG when one match went over its step,
 * depth or heap limit, -ETIME once the request's matching time is spent.
 */
int web_match__exec(struct web_match *m, const char *s);
void web_match__free(struct web_match *m);

/* ---- flame tree (flame.c) ---- */

/* Kind letters of names: u k i j s as enum frame_kind, p for a process. */
#define FLAME_KIND_PROCESS FRAME_KIND_MAX

struct flame_name {
	char *name;
	char *file; /* "path:line" or "" */
	uint32_t kind;
};

struct flame_node {
	uint32_t name;
	uint32_t parent;
	uint32_t first_child, next_sibling; /* UINT32_MAX: none */
	uint64_t total[2], self[2];	    /* per side: 0 = A/only, 1 = B */
};

struct flame_tree {
	struct flame_name *names;
	size_t nr_names, cap_names;
	struct idxset name_set;
	struct flame_node *nodes; /* node 0 is the root, "total" */
	size_t nr_nodes, cap_nodes;
	struct idxset child_set;
	/* Per-function counts for the top table (indexed by name). */
	uint64_t *fn_self[2], *fn_total[2];
	uint32_t *fn_seen; /* stamp to count a function once per stack */
	size_t cap_fn;
	uint32_t stamp;
	uint64_t total[2];
	bool diff;
	/* Set by flame_tree__limit(). */
	uint64_t min_total; /* nodes below this are merged into "other" */
	uint64_t merged_nodes, merged_samples, other_nodes, out_nodes;
};

struct flame_add_opts {
	bool with_process; /* first level: the comm label of each series */
	struct web_match *match; /* keep only stacks with a matching frame */
};

void flame_tree__init(struct flame_tree *t, bool diff);
void flame_tree__release(struct flame_tree *t);
/*
 * Adds every sample of 'p' to side 'side' (0 or 1). Returns 0, -ENOMEM, or
 * an error of web_match__exec (the search went over its budget).
 */
int flame_tree__add(struct flame_tree *t, const struct profile *p, int side,
		    const struct flame_add_opts *opts);
/*
 * Picks the smallest node total to keep so that the encoded tree has at most
 * 'max_nodes' nodes, counting one "other" node per parent whose narrower
 * children are merged. Fills the merged_* counters.
 */
void flame_tree__limit(struct flame_tree *t, size_t max_nodes);
/*
 * Writes the "names", "kinds", "files", "levels" members (no braces):
 * levels[d] is a flat array of [x_delta, total, self, name] per node (diff:
 * [x_delta, total_a, self_a, total_b, self_b, name], width total_a+total_b),
 * x delta-encoded from the end of the previous node of the level. Children
 * are in name order; merged children come last as one "[other]" node.
 */
int flame_tree__write_json(struct flame_tree *t, struct jbuf *b);
/*
 * Writes "functions":[...] sorted by self (diff: by change of self share),
 * at most 'limit' rows, process names left out.
 */
int flame_tree__write_functions(struct flame_tree *t, struct jbuf *b,
				size_t limit);

/* ---- request parameters (params.c) ---- */

#define WEB_MAX_FILTERS 32
#define WEB_MAX_VALUE 1024
#define WEB_MAX_QUERY 8192

/* One side of a query: range and filters; strings point into 'storage'. */
struct web_range {
	struct store_query q;
	struct store_filter filters[WEB_MAX_FILTERS];
};

struct web_params {
	char *buf; /* decoded copy of the query string, NUL separated */
	struct {
		const char *key, *value;
	} kv[128];
	size_t n;
};

/* Parses a raw query string. Returns 0, or -E2BIG / -EINVAL with 'err'. */
int web_params__parse(struct web_params *pp, const char *qs, char *err,
		      size_t errlen);
void web_params__release(struct web_params *pp);
/* The first value of 'key', or NULL. */
const char *web_params__get(const struct web_params *pp, const char *key);
/*
 * Fills a range from "<prefix>from", "<prefix>to" and "<prefix>filter"
 * (prefix "" or "a_"/"b_"), defaults -1h .. now. Checks the range is
 * ordered and sane and that filters are key=value with known keys
 * ('known' is a NULL-terminated list or NULL to skip the check). Returns 0
 * or -EINVAL with a message in 'err'.
 */
int web_params__range(const struct web_params *pp, const char *prefix,
		      uint64_t now_ns, const char *const *known,
		      struct web_range *r, char *err, size_t errlen);
/* Parses an unsigned integer parameter within [min, max]. */
int web_params__uint(const struct web_params *pp, const char *key, uint64_t def,
		     uint64_t min, uint64_t max, uint64_t *out, char *err,
		     size_t errlen);

#endif
