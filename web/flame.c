// SPDX-License-Identifier: MIT
/*
 * Encodes a call tree (profile/calltree.h) in the compact form the browser
 * draws: a name table plus, per depth, a flat integer array of nodes
 * (Pyroscope's "flamebearer" idea). Nodes with the same function name
 * under the same parent merge, as in flamegraph.pl.
 *
 * calltree__limit() keeps responses bounded: the narrowest nodes are
 * merged into one "[other]" child per parent, and the response says how
 * many nodes and samples went there, so nothing disappears silently.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_int.h"

#define NONE CALLTREE_NONE

static const char kind_letters[] = "ukijsp";

void flame__init(struct calltree *t, bool diff)
{
	struct calltree_opts o = {.diff = diff};

	calltree__init(t, &o);
}

int flame__match(void *ctx, const char *name)
{
	return web_match__exec(ctx, name);
}

struct level_entry {
	uint32_t node; /* NONE: an "[other]" node */
	uint64_t x;
	uint64_t total[2];
};

static void write_entry(struct calltree *t, struct jbuf *b,
			const struct level_entry *e, uint64_t *end,
			uint32_t other_name)
{
	uint64_t self[2], w;
	uint32_t name;

	if (e->node == NONE) {
		self[0] = e->total[0];
		self[1] = e->total[1];
		name = other_name;
	} else {
		self[0] = t->nodes[e->node].self[0];
		self[1] = t->nodes[e->node].self[1];
		name = t->nodes[e->node].name;
	}
	w = e->total[0] + (t->diff ? e->total[1] : 0);
	jbuf__sep(b);
	jbuf__u64(b, e->x - *end);
	jbuf__raw(b, ",", 1);
	jbuf__u64(b, e->total[0]);
	jbuf__raw(b, ",", 1);
	jbuf__u64(b, self[0]);
	if (t->diff) {
		jbuf__raw(b, ",", 1);
		jbuf__u64(b, e->total[1]);
		jbuf__raw(b, ",", 1);
		jbuf__u64(b, self[1]);
	}
	jbuf__raw(b, ",", 1);
	jbuf__u64(b, name);
	*end = e->x + w;
}

int flame__write_json(struct calltree *t, struct jbuf *b)
{
	return flame__write_json_path(t, b, NULL, 0);
}

int flame__write_json_path(struct calltree *t, struct jbuf *b,
			   const uint32_t *path, size_t path_len)
{
	size_t level = 0;
	struct level_entry *cur = NULL, *next = NULL;
	size_t nr_cur = 1, nr_next, cap = t->nr_nodes + 1;
	uint32_t *kids = NULL, other_name;
	int err = 0;

	if (!t->out_nodes)
		t->out_nodes = t->nr_nodes;
	/* Interned before the name table is written. */
	other_name = calltree__name(t, "[other]", FRAME_SPECIAL, NULL, 0);
	if (other_name == NONE)
		return -ENOMEM;
	cur = malloc(cap * sizeof(*cur));
	next = malloc(cap * sizeof(*next));
	kids = malloc(cap * sizeof(*kids));
	if (!cur || !next || !kids) {
		err = -ENOMEM;
		goto out;
	}

	jbuf__puts(b, "\"names\":[");
	for (size_t i = 0; i < t->nr_names; i++) {
		jbuf__sep(b);
		jbuf__str(b, t->names[i].name);
	}
	jbuf__puts(b, "],\"kinds\":\"");
	for (size_t i = 0; i < t->nr_names; i++)
		jbuf__raw(b, &kind_letters[t->names[i].kind], 1);
	jbuf__puts(b, "\",\"files\":[");
	for (size_t i = 0; i < t->nr_names; i++) {
		jbuf__sep(b);
		jbuf__str(b, t->names[i].file);
	}
	/* Tooltips: the mangled name and the module ([ext4], libc.so.6). */
	jbuf__puts(b, "],\"sysnames\":[");
	for (size_t i = 0; i < t->nr_names; i++) {
		jbuf__sep(b);
		jbuf__str(b, t->names[i].sysname ? t->names[i].sysname : "");
	}
	jbuf__puts(b, "],\"modules\":[");
	for (size_t i = 0; i < t->nr_names; i++) {
		jbuf__sep(b);
		jbuf__str(b, t->names[i].module ? t->names[i].module : "");
	}
	jbuf__puts(b, "],\"levels\":[");

	cur[0].node = 0;
	cur[0].x = 0;
	cur[0].total[0] = t->nodes[0].total[0];
	cur[0].total[1] = t->nodes[0].total[1];
	while (nr_cur) {
		uint64_t end = 0;

		jbuf__sep(b);
		jbuf__raw(b, "[", 1);
		for (size_t i = 0; i < nr_cur; i++)
			write_entry(t, b, &cur[i], &end, other_name);
		jbuf__raw(b, "]", 1);

		nr_next = 0;
		for (size_t i = 0; i < nr_cur; i++) {
			struct level_entry other = {NONE, 0, {0, 0}};
			uint64_t x = cur[i].x;
			size_t nk = 0;

			if (cur[i].node == NONE)
				continue;
			nk = calltree__children(t, cur[i].node, kids, NULL,
						NULL);
			for (size_t k = 0; k < nk; k++) {
				const struct calltree_node *c =
				    &t->nodes[kids[k]];

				/* Above the subtree asked for: its path only.
				 */
				if (level < path_len) {
					if (kids[k] != path[level])
						continue;
				} else if (calltree__width(t, c) <
					   t->min_total) {
					other.total[0] += c->total[0];
					other.total[1] += c->total[1];
					continue;
				}
				next[nr_next].node = kids[k];
				next[nr_next].x = x;
				next[nr_next].total[0] = c->total[0];
				next[nr_next].total[1] = c->total[1];
				x += calltree__width(t, c);
				nr_next++;
			}
			if (other.total[0] || other.total[1]) {
				other.x = x;
				next[nr_next++] = other;
			}
		}
		struct level_entry *tmp = cur;
		cur = next;
		next = tmp;
		nr_cur = nr_next;
		level++;
	}
	jbuf__raw(b, "]", 1);
	if (b->oom)
		err = -ENOMEM;
out:
	free(cur);
	free(next);
	free(kids);
	return err;
}

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

int flame__limit_subtree(struct calltree *t, uint32_t top, size_t max_nodes)
{
	uint32_t *stack = NULL;
	uint64_t *widths = NULL;
	size_t n = 0, sp = 0;

	t->min_total = 0;
	t->merged_nodes = t->merged_samples = t->other_nodes = 0;
	stack = malloc(t->nr_nodes * sizeof(*stack));
	widths = malloc(t->nr_nodes * sizeof(*widths));
	if (!stack || !widths) {
		free(stack);
		free(widths);
		return -ENOMEM;
	}
	/* Widths of every node below 'top'. */
	stack[sp++] = top;
	while (sp) {
		uint32_t nd = stack[--sp];

		for (uint32_t c = t->nodes[nd].first_child; c != NONE;
		     c = t->nodes[c].next_sibling) {
			widths[n++] = calltree__width(t, &t->nodes[c]);
			stack[sp++] = c;
		}
	}
	if (n > max_nodes) {
		qsort(widths, n, sizeof(*widths), cmp_u64_desc);
		/* Strictly wider than the first node left out; "[other]"
		 * nodes take the room the ties would have taken. */
		t->min_total = widths[max_nodes] + 1;
	}
	t->out_nodes = t->nodes[top].depth + 1;
	stack[sp++] = top;
	while (sp) {
		uint32_t nd = stack[--sp];
		bool other = false;

		for (uint32_t c = t->nodes[nd].first_child; c != NONE;
		     c = t->nodes[c].next_sibling) {
			uint64_t w = calltree__width(t, &t->nodes[c]);

			if (w >= t->min_total) {
				t->out_nodes++;
				stack[sp++] = c;
				continue;
			}
			t->merged_nodes++;
			t->merged_samples += w;
			other = true;
		}
		if (other) {
			t->other_nodes++;
			t->out_nodes++;
		}
	}
	free(stack);
	free(widths);
	return 0;
}

uint32_t flame__find_path(const struct calltree *t, const char *path,
			  uint32_t *nodes, size_t max, size_t *len)
{
	uint32_t cur = 0;
	const char *p = path;

	*len = 0;
	while (*p) {
		const char *e = strchr(p, ';');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		uint32_t found = NONE;

		if (*len == max)
			return NONE;
		for (uint32_t c = t->nodes[cur].first_child; c != NONE;
		     c = t->nodes[c].next_sibling) {
			const char *nm = t->names[t->nodes[c].name].name;

			if (strlen(nm) == n && !memcmp(nm, p, n)) {
				found = c;
				break;
			}
		}
		if (found == NONE)
			return NONE;
		nodes[(*len)++] = found;
		cur = found;
		p = e ? e + 1 : p + n;
	}
	return cur;
}

struct fn_sort_ctx {
	const struct calltree *t;
	double scale[2];
};

static double fn_key(const struct fn_sort_ctx *c, uint32_t i)
{
	const struct calltree *t = c->t;

	if (t->diff) {
		double d = t->fn_self[1][i] * c->scale[1] -
			   t->fn_self[0][i] * c->scale[0];
		return d < 0 ? -d : d;
	}
	return (double)t->fn_self[0][i] + (double)t->fn_total[0][i] * 1e-12;
}

static int cmp_fn(const void *a, const void *b, void *ctx)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	double kx = fn_key(ctx, x), ky = fn_key(ctx, y);

	if (kx != ky)
		return kx < ky ? 1 : -1;
	return x < y ? -1 : x > y;
}

int flame__write_functions(struct calltree *t, struct jbuf *b, size_t limit)
{
	struct fn_sort_ctx ctx = {t, {0, 0}};
	uint32_t *idx;
	size_t n = 0;

	idx = malloc((t->nr_names + 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (int s = 0; s < 2; s++)
		ctx.scale[s] = t->total[s] ? 1.0 / (double)t->total[s] : 0;
	for (uint32_t i = 0; i < t->nr_names; i++) {
		if (t->names[i].kind == CALLTREE_KIND_PROCESS)
			continue;
		if (!t->fn_total[0][i] && !t->fn_total[1][i])
			continue;
		idx[n++] = i;
	}
	qsort_r(idx, n, sizeof(*idx), cmp_fn, &ctx);
	if (n > limit)
		n = limit;
	jbuf__puts(b, "\"functions\":[");
	for (size_t k = 0; k < n; k++) {
		uint32_t i = idx[k];

		jbuf__sep(b);
		jbuf__puts(b, "{\"name\":");
		jbuf__str(b, t->names[i].name);
		jbuf__printf(b, ",\"kind\":\"%c\",\"file\":",
			     kind_letters[t->names[i].kind]);
		jbuf__str(b, t->names[i].file);
		if (t->names[i].sysname) {
			jbuf__puts(b, ",\"system_name\":");
			jbuf__str(b, t->names[i].sysname);
		}
		if (t->names[i].module) {
			jbuf__puts(b, ",\"module\":");
			jbuf__str(b, t->names[i].module);
		}
		if (t->diff) {
			jbuf__printf(b,
				     ",\"self_a\":%llu,\"total_a\":%llu,"
				     "\"self_b\":%llu,\"total_b\":%llu}",
				     (unsigned long long)t->fn_self[0][i],
				     (unsigned long long)t->fn_total[0][i],
				     (unsigned long long)t->fn_self[1][i],
				     (unsigned long long)t->fn_total[1][i]);
		} else {
			jbuf__printf(b, ",\"self\":%llu,\"total\":%llu}",
				     (unsigned long long)t->fn_self[0][i],
				     (unsigned long long)t->fn_total[0][i]);
		}
	}
	jbuf__raw(b, "]", 1);
	free(idx);
	return b->oom ? -ENOMEM : 0;
}
