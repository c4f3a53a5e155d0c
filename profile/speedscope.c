// SPDX-License-Identifier: MIT
/*
 * speedscope JSON writer (speedscope's src/lib/file-format-spec.ts): a
 * "sampled" profile whose samples are stacks of indices into
 * shared.frames, root first, with one weight (the sample count) each.
 *
 * The process name is the root frame of every stack, as in folded output,
 * so one merged profile still separates processes. When there are several
 * process names, one profile per name follows the merged one (speedscope
 * offers them in its profile picker); at most MAX_SPLIT of them, largest
 * first, so a whole-system profile stays a reasonable file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/escape.h"
#include "profile/format.h"

#define MAX_SPLIT 32

struct sscope {
	struct profile *keys;  /* interner: (name, file, line) -> index */
	uint32_t *frame_index; /* kiln frame id -> index + 1 */
	uint32_t *comm_index;  /* kiln string id -> index + 1 */
};

static uint32_t key_index(struct sscope *ss, const char *name, const char *file,
			  uint32_t line)
{
	uint32_t key[3] = {profile__intern(ss->keys, name),
			   profile__intern(ss->keys, file), line};

	return profile__add_stack(ss->keys, key, 3);
}

static void write_samples(FILE *out, const struct profile *p, struct sscope *ss,
			  const char *name, const char *only_comm,
			  uint32_t comm_key)
{
	size_t n;
	const struct sample *s = profile__samples(p, &n);
	uint64_t total = 0;
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		const char *c =
		    profile__series_label(p, s[i].series, LABEL_COMM);

		if (!only_comm || (c && !strcmp(c, only_comm)))
			total += s[i].count;
	}
	fputs("{\"type\":\"sampled\",\"name\":", out);
	escape__json_file(out, name);
	fprintf(out,
		",\"unit\":\"none\",\"startValue\":0,\"endValue\":%" PRIu64
		",\"samples\":[",
		total);
	for (size_t i = 0; i < n; i++) {
		const char *c =
		    profile__series_label(p, s[i].series, LABEL_COMM);
		size_t depth;
		const uint32_t *fr = profile__stack(p, s[i].stack, &depth);

		if (only_comm && !(c && !strcmp(c, only_comm)))
			continue;
		fputs(first ? "[" : ",[", out);
		first = false;
		uint32_t cid = profile__intern((struct profile *)p,
					       c && *c ? c : "[unknown]");
		(void)comm_key;
		fprintf(out, "%u", ss->comm_index[cid] - 1);
		for (size_t j = 0; j < depth; j++)
			fprintf(out, ",%u", ss->frame_index[fr[j]] - 1);
		fputc(']', out);
	}
	fputs("],\"weights\":[", out);
	first = true;
	for (size_t i = 0; i < n; i++) {
		const char *c =
		    profile__series_label(p, s[i].series, LABEL_COMM);

		if (only_comm && !(c && !strcmp(c, only_comm)))
			continue;
		fprintf(out, first ? "%" PRIu64 : ",%" PRIu64, s[i].count);
		first = false;
	}
	fputs("]}", out);
}

struct comm_total {
	const char *name;
	uint64_t count;
};

static int comm_cmp(const void *a, const void *b)
{
	const struct comm_total *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

int speedscope__write(const struct profile *src, const struct write_opts *opts,
		      FILE *out)
{
	struct profile *p = profile__new();
	struct sscope ss = {0};
	struct comm_total *comms = NULL;
	size_t ncomms = 0, n;
	char name[1024];
	int err = 0;

	if (!p)
		return -ENOMEM;
	ss.keys = profile__new();
	if (!ss.keys) {
		profile__free(p);
		return -ENOMEM;
	}
	/* Copies as big as the input: out of memory fails the write. */
	profile__set_checked(p);
	profile__set_checked(ss.keys);
	uint32_t *comm_slot = NULL;
	if (profile__merge(p, src))
		goto oom;
	profile__compact(p, 0);
	/* "[unknown]" is interned up front: comm lookups below must not
	 * grow the string table while comm_index is sized. */
	profile__intern(p, "[unknown]");
	ss.frame_index = calloc(profile__nr_frames(p) + 1, sizeof(uint32_t));
	ss.comm_index = calloc(profile__nr_strings(p) + 1, sizeof(uint32_t));
	comm_slot = calloc(profile__nr_strings(p) + 1, sizeof(uint32_t));
	if (!ss.frame_index || !ss.comm_index || !comm_slot || profile__oom(p))
		goto oom;

	const struct sample *s = profile__samples(p, &n);
	for (size_t i = 0; i < n; i++) {
		const char *c =
		    profile__series_label(p, s[i].series, LABEL_COMM);
		uint32_t cid = profile__intern(p, c && *c ? c : "[unknown]");
		size_t depth;
		const uint32_t *fr = profile__stack(p, s[i].stack, &depth);

		if (!ss.comm_index[cid]) {
			ss.comm_index[cid] =
			    key_index(&ss, profile__str(p, cid), "", 0) + 1;
			struct comm_total *more =
			    realloc(comms, (ncomms + 1) * sizeof(*comms));

			if (!more)
				goto oom;
			comms = more;
			comms[ncomms++] =
			    (struct comm_total){profile__str(p, cid), 0};
			comm_slot[cid] = (uint32_t)ncomms - 1;
		}
		comms[comm_slot[cid]].count += s[i].count;
		for (size_t j = 0; j < depth; j++) {
			if (ss.frame_index[fr[j]])
				continue;
			const struct frame *f = profile__frame(p, fr[j]);

			profile__frame_folded_name(p, fr[j], name,
						   sizeof(name));
			ss.frame_index[fr[j]] =
			    key_index(&ss, name, profile__str(p, f->file),
				      f->line) +
			    1;
		}
	}

	if (profile__oom(ss.keys))
		goto oom;

	const char *title = opts && opts->title ? opts->title : "kiln profile";
	fputs("{\"$schema\":\"https://www.speedscope.app/"
	      "file-format-schema.json\","
	      "\"exporter\":\"kiln\",\"name\":",
	      out);
	escape__json_file(out, title);
	fputs(",\"activeProfileIndex\":0,\"shared\":{\"frames\":[", out);
	size_t nframes = profile__nr_stacks(ss.keys);
	for (size_t i = 0; i < nframes; i++) {
		size_t k;
		const uint32_t *key = profile__stack(ss.keys, (uint32_t)i, &k);

		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		escape__json_file(out, profile__str(ss.keys, key[0]));
		if (*profile__str(ss.keys, key[1])) {
			fputs(",\"file\":", out);
			escape__json_file(out, profile__str(ss.keys, key[1]));
		}
		if (key[2])
			fprintf(out, ",\"line\":%u", key[2]);
		fputc('}', out);
	}
	fputs("]},\"profiles\":[", out);
	write_samples(out, p, &ss, title, NULL, 0);
	if (ncomms > 1) {
		qsort(comms, ncomms, sizeof(*comms), comm_cmp);
		for (size_t k = 0; k < ncomms && k < MAX_SPLIT; k++) {
			fputc(',', out);
			write_samples(out, p, &ss, comms[k].name, comms[k].name,
				      0);
		}
	}
	fputs("]}\n", out);
	if (ferror(out) || fflush(out))
		err = -EIO;
	if (0) {
	oom:
		err = -ENOMEM;
	}
	free(comms);
	free(comm_slot);
	free(ss.frame_index);
	free(ss.comm_index);
	profile__free(ss.keys);
	profile__free(p);
	return err;
}
