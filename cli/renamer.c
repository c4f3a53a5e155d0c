// SPDX-License-Identifier: MIT
/* Stored frames named again when debug info arrives: see renamer.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/renamer.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "profile/profile.h"
#include "storage/store.h"
#include "symbolizer/symbolizer.h"

#define BATCH 256 /* frames read, resolved and renamed per transaction */

struct renamer {
	struct store *st;
	struct symbolizer *sym;
	char build_id[132]; /* the one being gone through; "" when idle */
	bool off;	    /* the store keeps no build ids (ClickHouse) */
	int64_t after;	    /* the last frame id done */
	uint64_t frames, renamed; /* for the build id under way */
	uint64_t busy_ns;	  /* time spent on it, over the steps */
	struct renamer_stats stats;
	/* Build ids gone through, and the last frame id then: an object
	 * read again (memory ceiling) brings its debug file back, and only
	 * frames stored since need naming. */
	struct done {
		char build_id[132];
		int64_t after;
	} * done;
	size_t nr_done, cap_done;
	struct store_frame_ref refs[BATCH];
	struct store_frame_name names[BATCH];
};

struct renamer *renamer__new(struct store *st, struct symbolizer *sym)
{
	struct renamer *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->st = st;
	r->sym = sym;
	return r;
}

void renamer__free(struct renamer *r)
{
	if (r)
		free(r->done);
	free(r);
}

static struct done *done_find(struct renamer *r, const char *build_id)
{
	for (size_t i = 0; i < r->nr_done; i++)
		if (!strcmp(r->done[i].build_id, build_id))
			return &r->done[i];
	return NULL;
}

/* Remembers how far a build id's frames were gone through (bounded:
 * past it, a build id is simply gone through again from the start). */
static void done_set(struct renamer *r)
{
	struct done *d = done_find(r, r->build_id);

	if (!d && r->nr_done < 4096) {
		if (r->nr_done == r->cap_done) {
			size_t cap = r->cap_done ? 2 * r->cap_done : 16;
			struct done *n = realloc(r->done, cap * sizeof(*n));

			if (!n)
				return;
			r->done = n;
			r->cap_done = cap;
		}
		d = &r->done[r->nr_done++];
		snprintf(d->build_id, sizeof(d->build_id), "%s", r->build_id);
	}
	if (d)
		d->after = r->after;
}

static void finish(struct renamer *r, const char *why)
{
	if (why) {
		pr_warn("cannot name the stored frames of build id %s again: "
			"%s",
			r->build_id, why);
	} else {
		done_set(r);
		/* Also after every object that was read late: quiet unless
		 * a name changed. */
		pr_log(r->renamed ? LOG_INFO : LOG_DEBUG,
		       "%llu of %llu stored frames of build id %s named again "
		       "(%.1f ms)",
		       (unsigned long long)r->renamed,
		       (unsigned long long)r->frames, r->build_id,
		       (double)r->busy_ns / 1e6);
	}
	r->stats.build_ids++;
	r->build_id[0] = '\0';
}

/*
 * One batch of the build id under way. Returns false when the step must
 * end (the object is being read again, or the store failed).
 */
static bool batch(struct renamer *r)
{
	struct profile *strs;
	uint32_t ids[BATCH][3];
	size_t k = 0;
	int n, err;
	bool reloading = false;

	n = store__frames_of_build_id(r->st, r->build_id, r->after, r->refs,
				      BATCH);
	if (n == -EOPNOTSUPP) {
		pr_info("debuginfod: this store does not name stored frames "
			"again; windows written from now on have the new "
			"names");
		r->off = true;
		r->build_id[0] = '\0';
		return false;
	}
	if (n < 0) {
		finish(r, strerror(-n));
		return false;
	}
	if (!n) {
		finish(r, NULL);
		return true;
	}
	/* The symbolizer's strings last until its next call: kept here. */
	strs = profile__new();
	if (!strs) {
		finish(r, strerror(ENOMEM));
		return false;
	}
	for (int i = 0; i < n; i++) {
		struct sym_result res;

		err = symbolizer__resolve_build_id(r->sym, r->build_id,
						   r->refs[i].offset, &res);
		if (err == -EAGAIN) {
			n = i; /* the rest once it is read again */
			reloading = true;
			break;
		}
		if (err == -ESRCH || err == -EINVAL) {
			profile__free(strs);
			/* Evicted: it comes back with its debug file when it
			 * is next sampled, is reported again then, and the
			 * pass goes on from here. */
			if (err == -ESRCH) {
				done_set(r);
				r->build_id[0] = '\0';
			} else {
				finish(r, "bad build id");
			}
			return false;
		}
		if (err || !res.n)
			continue; /* nothing covers it: the name stays */
		/* The outermost function: the frame stored for the address
		 * (inlined callees are not in old stacks). */
		const struct sym_frame *f = &res.frames[0];
		r->names[k] = (struct store_frame_name){.id = r->refs[i].id,
							.line = f->line};
		ids[k][0] = profile__intern(strs, f->name);
		ids[k][1] =
		    f->system_name ? profile__intern(strs, f->system_name) : 0;
		ids[k][2] = f->file ? profile__intern(strs, f->file) : 0;
		k++;
	}
	/* Interning may move strings: pointers are taken once all are in. */
	for (size_t i = 0; i < k; i++) {
		r->names[i].name = profile__str(strs, ids[i][0]);
		r->names[i].system_name =
		    ids[i][1] ? profile__str(strs, ids[i][1]) : NULL;
		r->names[i].file =
		    ids[i][2] ? profile__str(strs, ids[i][2]) : NULL;
	}
	err = k ? store__rename_frames(r->st, r->names, k) : 0;
	profile__free(strs);
	if (err < 0) {
		finish(r, strerror(-err));
		return false;
	}
	r->frames += (uint64_t)n;
	r->renamed += (uint64_t)err;
	r->stats.frames += (uint64_t)n;
	r->stats.renamed += (uint64_t)err;
	if (n)
		r->after = r->refs[n - 1].id;
	return !reloading;
}

bool renamer__step(struct renamer *r, unsigned budget_ms)
{
	uint64_t t0 = clock__mono_ns(), t;
	uint64_t end = t0 + (uint64_t)budget_ms * 1000000ULL;
	bool more;

	if (r->off) {
		/* Drained, so the symbolizer's queue never overflows. */
		while (symbolizer__take_improved(r->sym, r->build_id,
						 sizeof(r->build_id)))
			;
		r->build_id[0] = '\0';
		return false;
	}
	do {
		if (!r->build_id[0]) {
			if (!symbolizer__take_improved(r->sym, r->build_id,
						       sizeof(r->build_id)))
				return false;
			struct done *d = done_find(r, r->build_id);

			r->after = d ? d->after : 0;
			r->frames = r->renamed = r->busy_ns = 0;
		}
		more = batch(r);
		t = clock__mono_ns();
		r->busy_ns += t - t0;
		t0 = t;
	} while (more && t < end);
	return r->build_id[0] != '\0';
}

void renamer__stats(const struct renamer *r, struct renamer_stats *out)
{
	*out = r->stats;
}
