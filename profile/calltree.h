/* SPDX-License-Identifier: MIT */
/*
 * The call tree of one profile, or of two side by side (a diff): the one
 * builder behind the SVG writer, the web flame graph and `kiln diff`.
 *
 * A node is a (parent, name) pair; a name is a function name and its frame
 * kind (with 'by_name', the name alone: inlined and out-of-line copies
 * merge, pprof's default granularity). Node 0 is the root. With
 * 'with_process', the first level holds the process names (comm labels).
 * Beside the nodes, per-name counts feed function tables: self (the name
 * is the leaf) and total (the name is anywhere in the stack, counted once
 * per stack, so recursion does not count twice).
 *
 * Every allocation whose size follows the input is checked: on failure
 * calltree__add() returns -ENOMEM and the tree must only be released.
 * The struct is public for the encoders (web/flame.c, profile/svg.c),
 * which read it; only the functions below change it.
 */
#ifndef KILN_CALLTREE_H
#define KILN_CALLTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/idxset.h"
#include "profile/profile.h"

#define CALLTREE_NONE UINT32_MAX
/* The kind of process-name nodes, after enum frame_kind's. */
#define CALLTREE_KIND_PROCESS FRAME_KIND_MAX

struct calltree_name {
	char *name;
	char *file;    /* "path:line", "path" or "" (first frame seen wins) */
	char *sysname; /* the mangled name (C++, Rust), NULL if none */
	char *module;  /* binary base name or kernel module, NULL if none */
	uint32_t kind;
};

struct calltree_node {
	uint32_t name;
	uint32_t parent;		    /* CALLTREE_NONE for the root */
	uint32_t first_child, next_sibling; /* CALLTREE_NONE: none */
	uint32_t depth;			    /* root 0 */
	uint64_t total[2], self[2];	    /* per side: 0 = A/only, 1 = B */
};

struct calltree_opts {
	const char *root;	     /* name of node 0; NULL: "total" */
	const char *unknown_process; /* NULL: "[unknown process]" */
	bool by_name;		     /* key names without their kind */
	bool functions_only;	     /* per-name counts only, no nodes */
	bool diff;		     /* two sides: width is their sum */
};

struct calltree {
	struct calltree_opts opts;
	struct calltree_name *names;
	size_t nr_names, cap_names;
	struct idxset name_set;
	struct calltree_node *nodes; /* node 0 is the root */
	size_t nr_nodes, cap_nodes;
	struct idxset child_set;
	/* Per-name counts (indexed by name id). */
	uint64_t *fn_self[2], *fn_total[2];
	uint32_t *fn_seen; /* stamp to count a name once per stack */
	size_t cap_fn;
	uint32_t stamp;
	uint64_t total[2];
	uint32_t max_depth;
	bool diff;
	/* Set by calltree__limit(). */
	uint64_t min_total; /* nodes below this are merged into "other" */
	uint64_t merged_nodes, merged_samples, other_nodes, out_nodes;
};

struct calltree_add_opts {
	bool with_process; /* first level: the comm label of each series */
	/*
	 * Keeps only stacks with a frame whose name matches: 'match' returns
	 * 1 (match), 0 (no match) or -errno, which stops calltree__add()
	 * and is its return value. NULL keeps every stack.
	 */
	int (*match)(void *ctx, const char *name);
	void *match_ctx;
};

/* 'opts' NULL: defaults (web flame graph's). Small fixed allocations. */
void calltree__init(struct calltree *t, const struct calltree_opts *opts);
void calltree__release(struct calltree *t);

/* Adds every sample of 'p' to side 'side' (0 or 1). Returns 0, -ENOMEM or
 * the error of opts->match. */
int calltree__add(struct calltree *t, const struct profile *p, int side,
		  const struct calltree_add_opts *opts);

/* Interns a name; CALLTREE_NONE when out of memory. */
uint32_t calltree__name(struct calltree *t, const char *name, uint32_t kind,
			const char *file, uint32_t line);

/* A node's width: total[0], plus total[1] in a diff tree. */
static inline uint64_t calltree__width(const struct calltree *t,
				       const struct calltree_node *n)
{
	return n->total[0] + (t->diff ? n->total[1] : 0);
}

/*
 * Picks the smallest node width to keep so that the tree, with one
 * "other" node per parent standing for its narrower children, has at most
 * 'max_nodes' nodes. Fills min_total and the merged_* counters.
 */
void calltree__limit(struct calltree *t, size_t max_nodes);

/*
 * Writes the ids of node's children into 'kids' (room for nr_nodes) in
 * the order of 'cmp' (a qsort_r comparator of node ids; NULL: by name,
 * then kind). Returns how many.
 */
size_t calltree__children(const struct calltree *t, uint32_t node,
			  uint32_t *kids,
			  int (*cmp)(const void *, const void *, void *),
			  void *ctx);

#endif
