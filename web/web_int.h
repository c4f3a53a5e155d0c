/* SPDX-License-Identifier: MIT */
/*
 * Private to web/: the JSON buffer, the flame graph encoder and the request
 * parameter parser. Kept free of civetweb so tests and benches can drive
 * them directly.
 */
#ifndef KILN_WEB_INT_H
#define KILN_WEB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/calltree.h"
#include "profile/profile.h"
#include "storage/query_params.h"
#include "storage/store.h"

/* ---- growable output buffer with JSON helpers (jbuf.c) ---- */

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

/* ---- flame graph encoding of a call tree (flame.c) ---- */

/* Kind letters of names: u k i j s as enum frame_kind, p for a process. */
#define FLAME_KIND_PROCESS CALLTREE_KIND_PROCESS

/* A call tree as the web draws it: root "total", processes unnamed in
 * their comm label are "[unknown process]", two sides when 'diff'. */
void flame__init(struct calltree *t, bool diff);
/* calltree_add_opts.match over a struct web_match ('ctx'). */
int flame__match(void *ctx, const char *name);
/*
 * Writes the "names", "kinds", "files", "levels" members (no braces):
 * levels[d] is a flat array of [x_delta, total, self, name] per node (diff:
 * [x_delta, total_a, self_a, total_b, self_b, name], width total_a+total_b),
 * x delta-encoded from the end of the previous node of the level. Children
 * are in name order; nodes narrower than calltree__limit()'s cut come last
 * as one "[other]" node.
 */
int flame__write_json(struct calltree *t, struct jbuf *b);
/*
 * The same for the subtree at the end of 'path' (node ids from depth 1,
 * as flame__find_path() gives them): the levels above it hold only the
 * path's nodes, so the browser can graft the subtree where it belongs.
 */
int flame__write_json_path(struct calltree *t, struct jbuf *b,
			   const uint32_t *path, size_t path_len);
/*
 * Follows a ';'-separated path of names from the root (first match per
 * level). Fills 'nodes' (room for 'max') and '*len'; returns the last
 * node, 0 for an empty path, or CALLTREE_NONE when a name is missing or
 * the path is longer than 'max'.
 */
uint32_t flame__find_path(const struct calltree *t, const char *path,
			  uint32_t *nodes, size_t max, size_t *len);
/*
 * calltree__limit() for the subtree under 'top' alone: at most
 * 'max_nodes' nodes below it. Returns 0 or -ENOMEM.
 */
int flame__limit_subtree(struct calltree *t, uint32_t top, size_t max_nodes);
/*
 * Writes "functions":[...] sorted by self (diff: by change of self share),
 * at most 'limit' rows, process names left out.
 */
int flame__write_functions(struct calltree *t, struct jbuf *b, size_t limit);

#endif
