// SPDX-License-Identifier: MIT
/*
 * pprof (google/pprof profile.proto, gzip-compressed) writer and reader.
 *
 * Model mapping, kiln -> pprof:
 * - A kiln stack is root first; runs of FRAME_INLINED frames sit leafward
 *   of the frame they were inlined into: [caller, inl1, inl2] means
 *   caller's code inlined inl1, which inlined inl2, all at caller's
 *   address. Each such run becomes one Location whose Lines are leaf
 *   first (inl2, inl1, caller), and Sample.location_id is leaf first.
 *   The Location address is the non-inlined frame's addr. An inlined
 *   frame at the root (no caller before it) gets a Location of its own.
 * - Function = (name, file, system_name): system_name is the mangled name
 *   of a demangled C++/Rust function, else the name. Mapping = (module,
 *   kernel or not). Kernel
 *   frames map to "[kernel.kallsyms]" (or "[module]"), JIT frames to
 *   "[jit]" (or their /tmp/perf-PID.map), so the kind survives a round
 *   trip. Mappings start at 0 (kiln keeps ELF addresses, not load
 *   addresses) and claim has_functions so pprof never re-symbolizes.
 *   The build id comes from the series labels exe/build_id.
 * - Series labels become per-sample labels: pid and tid numeric, the
 *   rest (comm, host, ...) strings.
 * - Values: samples/count and cpu/nanoseconds = count * period_ns.
 *   Samples are merged across time; time_nanos/duration_nanos carry the
 *   profile's window.
 *
 * The reader takes files from kiln or other tools (Go's runtime/pprof,
 * perf_to_profile, ...): it picks the samples/count value if there is
 * one, else the default sample type, else the last; labels become series
 * labels; Lines become frames, every Line but the last FRAME_INLINED.
 * It counts the top-level fields before decoding, so absurd counts are
 * refused before any allocation, and decodes through a bounded arena.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/path.h"
#include "lib/escape.h"
#include "profile/format.h"
#include "lib/log.h"
#include "profile.pb-c.h"

#define DEFAULT_PERIOD_NS (1000000000ull / 99)

typedef Kiln__Pprof__Profile PProfile;
typedef Kiln__Pprof__Sample PSample;
typedef Kiln__Pprof__Location PLocation;
typedef Kiln__Pprof__Line PLine;
typedef Kiln__Pprof__Function PFunction;
typedef Kiln__Pprof__Mapping PMapping;
typedef Kiln__Pprof__Label PLabel;
typedef Kiln__Pprof__ValueType PValueType;

/* ------------------------------------------------------------------ */
/* writer                                                              */
/* ------------------------------------------------------------------ */

/* Growable array of elements of one type; grows by doubling. Sizes follow
 * the profile: out of memory sets 'oom' (the write fails) and adds
 * nothing. */
#define ARR_PUSH(oom, arr, n, cap, val)                                        \
	do {                                                                   \
		if ((n) == (cap)) {                                            \
			size_t c_ = (cap) ? (cap)*2 : 64;                      \
			void *a_ = realloc((arr), c_ * sizeof(*(arr)));        \
			if (!a_) {                                             \
				(oom) = true;                                  \
				break;                                         \
			}                                                      \
			(arr) = a_;                                            \
			(cap) = c_;                                            \
		}                                                              \
		(arr)[(n)++] = (val);                                          \
	} while (0)

struct wmapping {
	uint32_t filename, build_id; /* pprof string indices */
	uint64_t limit;
	bool inlines;
};

struct wlocation {
	uint64_t mapping_id, address;
	uint32_t first_line, nr_lines; /* into lines[] */
};

struct writer {
	const struct profile *p;
	struct profile *strs;	  /* pprof string table, by interning */
	struct profile *func_ids; /* (name, file) -> function index */
	struct profile *map_ids;  /* (filename, build id) -> mapping index */
	struct profile *loc_ids;  /* run of frame ids -> location index */
	uint32_t *frame_func;	  /* per frame: function id (0 = not yet) */
	uint32_t *frame_map;	  /* per frame: mapping id + 1 (0 = not yet) */
	uint32_t *frame_loc;	  /* per frame: its one-frame location id */

	struct wmapping *maps;
	size_t nr_maps, cap_maps;
	struct wlocation *locs;
	size_t nr_locs, cap_locs;
	PLine *lines;
	size_t nr_lines, cap_lines;
	uint32_t *func_name, *func_file, *func_sys;
	size_t nr_funcs, cap_funcs, cap_funcs2;

	/* module string (kiln id) -> build id string (kiln id) */
	uint32_t *build_id_of;
	bool oom; /* an allocation failed: the write fails with -ENOMEM */
};

static uint32_t wstr(struct writer *w, const char *s)
{
	return profile__intern(w->strs, s);
}

/* The build id of a module, from series labels exe=... build_id=... */
static uint32_t module_build_id(struct writer *w, uint32_t module)
{
	const char *m = profile__str(w->p, module);

	if (!*m)
		return 0;
	if (w->build_id_of[module] != UINT32_MAX)
		return w->build_id_of[module];
	uint32_t found = 0;
	for (size_t s = 0; s < profile__nr_series(w->p) && !found; s++) {
		const char *exe =
		    profile__series_label(w->p, (uint32_t)s, LABEL_EXE);
		const char *bid =
		    profile__series_label(w->p, (uint32_t)s, LABEL_BUILD_ID);

		if (exe && bid && *bid &&
		    (!strcmp(exe, m) ||
		     !strcmp(path__base_name(exe), path__base_name(m))))
			found = profile__intern(w->strs, bid);
	}
	w->build_id_of[module] = found;
	return found;
}

/* Mapping id (1-based, 0 = none) for a physical frame. */
static uint64_t frame_mapping(struct writer *w, uint32_t fid)
{
	const struct frame *f = profile__frame(w->p, fid);
	const char *mod = profile__str(w->p, f->module);
	char buf[512];
	const char *file = mod;

	if (w->frame_map[fid])
		return w->frame_map[fid] - 1;
	switch (f->kind) {
	case FRAME_KERNEL:
		if (!*mod)
			file = "[kernel.kallsyms]";
		else if (mod[0] != '[') {
			snprintf(buf, sizeof(buf), "[%s]", mod);
			file = buf;
		}
		break;
	case FRAME_JIT:
		if (strncmp(mod, "/tmp/perf-", 10))
			file = "[jit]";
		break;
	default:
		break;
	}
	uint64_t id = 0;
	if (*file) {
		uint32_t key[2] = {wstr(w, file),
				   f->kind == FRAME_KERNEL ||
					   f->kind == FRAME_JIT
				       ? 0
				       : module_build_id(w, f->module)};
		size_t before = profile__nr_stacks(w->map_ids);
		uint32_t idx = profile__add_stack(w->map_ids, key, 2);

		if (profile__nr_stacks(w->map_ids) != before) {
			struct wmapping m = {.filename = key[0],
					     .build_id = key[1]};
			ARR_PUSH(w->oom, w->maps, w->nr_maps, w->cap_maps, m);
		}
		id = idx + 1;
	}
	w->frame_map[fid] = (uint32_t)id + 1;
	return id;
}

static uint32_t frame_function(struct writer *w, uint32_t fid)
{
	const struct frame *f = profile__frame(w->p, fid);

	if (w->frame_func[fid])
		return w->frame_func[fid];
	uint32_t key[3] = {wstr(w, profile__str(w->p, f->name)),
			   wstr(w, profile__str(w->p, f->file)),
			   f->sysname ? wstr(w, profile__str(w->p, f->sysname))
				      : 0};
	size_t before = profile__nr_stacks(w->func_ids);
	uint32_t idx = profile__add_stack(w->func_ids, key, 3);

	if (profile__nr_stacks(w->func_ids) != before) {
		if (w->nr_funcs == w->cap_funcs) {
			size_t cap = w->cap_funcs ? w->cap_funcs * 2 : 64;
			uint32_t *a = realloc(w->func_name, cap * sizeof(*a));

			if (a)
				w->func_name = a;
			a = a ? realloc(w->func_file, cap * sizeof(*a)) : NULL;
			if (a)
				w->func_file = a;
			a = a ? realloc(w->func_sys, cap * sizeof(*a)) : NULL;
			if (!a) {
				w->oom = true;
				return idx + 1;
			}
			w->func_sys = a;
			w->cap_funcs = cap;
		}
		/* system_name: the mangled name, or the name when none. */
		w->func_sys[w->nr_funcs] = key[2] ? key[2] : key[0];
		w->func_name[w->nr_funcs] = key[0];
		w->func_file[w->nr_funcs++] = key[1];
	}
	w->frame_func[fid] = idx + 1;
	return idx + 1;
}

static uint64_t run_location_new(struct writer *w, const uint32_t *frames,
				 size_t n);

/* Location id (1-based) for the run frames[0..n) (root first). */
static uint64_t run_location(struct writer *w, const uint32_t *frames, size_t n)
{
	/* Most runs are one frame: skip hashing them after the first time. */
	if (n == 1 && w->frame_loc[frames[0]])
		return w->frame_loc[frames[0]];
	uint64_t id = run_location_new(w, frames, n);

	if (n == 1)
		w->frame_loc[frames[0]] = (uint32_t)id;
	return id;
}

static uint64_t run_location_new(struct writer *w, const uint32_t *frames,
				 size_t n)
{
	size_t before = profile__nr_stacks(w->loc_ids);
	uint32_t idx = profile__add_stack(w->loc_ids, frames, n);

	if (profile__nr_stacks(w->loc_ids) == before)
		return idx + 1;
	const struct frame *phys = profile__frame(w->p, frames[0]);
	struct wlocation loc = {
	    .mapping_id = frame_mapping(w, frames[0]),
	    .address = phys->addr,
	    .first_line = (uint32_t)w->nr_lines,
	    .nr_lines = (uint32_t)n,
	};
	/* Lines are leaf first: the innermost inlined callee, caller last. */
	for (size_t i = n; i-- > 0;) {
		PLine line = KILN__PPROF__LINE__INIT;
		const struct frame *f = profile__frame(w->p, frames[i]);

		line.function_id = frame_function(w, frames[i]);
		line.line = f->line;
		ARR_PUSH(w->oom, w->lines, w->nr_lines, w->cap_lines, line);
	}
	if (loc.mapping_id) {
		struct wmapping *m = &w->maps[loc.mapping_id - 1];

		if (loc.address >= m->limit)
			m->limit = loc.address + 1;
		if (n > 1)
			m->inlines = true;
	}
	ARR_PUSH(w->oom, w->locs, w->nr_locs, w->cap_locs, loc);
	return idx + 1;
}

/* Streams packed protobuf bytes through deflate into a FILE. */
struct gz_buffer {
	ProtobufCBuffer base;
	z_stream zs;
	FILE *out;
	int err;
	unsigned char chunk[1 << 16];
};

static void gz_drain(struct gz_buffer *b, int flush)
{
	int zret;

	do {
		b->zs.next_out = b->chunk;
		b->zs.avail_out = sizeof(b->chunk);
		zret = deflate(&b->zs, flush);
		size_t have = sizeof(b->chunk) - b->zs.avail_out;

		if (have && fwrite(b->chunk, 1, have, b->out) != have)
			b->err = -EIO;
	} while (b->zs.avail_out == 0 || (flush == Z_FINISH && zret == Z_OK));
}

static void gz_append(ProtobufCBuffer *base, size_t len, const uint8_t *data)
{
	struct gz_buffer *b = (struct gz_buffer *)base;

	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		b->zs.next_in = (unsigned char *)data;
		b->zs.avail_in = n;
		gz_drain(b, Z_NO_FLUSH);
		data += n;
		len -= n;
	}
}

static PLabel *make_label(struct profile *strs, const char *key,
			  const char *value, PLabel *l)
{
	kiln__pprof__label__init(l);
	l->key = profile__intern(strs, key);
	/* pid and tid are numbers to pprof (it can then filter ranges). */
	if (!strcmp(key, LABEL_PID) || !strcmp(key, "tid")) {
		char *end;
		long long v = strtoll(value, &end, 10);

		if (*value && !*end) {
			l->num = v;
			return l;
		}
	}
	l->str = profile__intern(strs, value);
	return l;
}

int pprof__write(const struct profile *src, const struct write_opts *opts,
		 FILE *out)
{
	struct profile *p = profile__new();
	struct writer w = {0};
	PProfile prof = KILN__PPROF__PROFILE__INIT;
	PValueType vt[2] = {KILN__PPROF__VALUE_TYPE__INIT,
			    KILN__PPROF__VALUE_TYPE__INIT};
	PValueType *vtp[2] = {&vt[0], &vt[1]};
	PValueType period_type = KILN__PPROF__VALUE_TYPE__INIT;
	PSample *samples = NULL, **sample_ptrs = NULL;
	PLocation *plocs = NULL, **ploc_ptrs = NULL;
	PFunction *pfuncs = NULL, **pfunc_ptrs = NULL;
	PMapping *pmaps = NULL, **pmap_ptrs = NULL;
	uint64_t *loc_ids = NULL;
	int64_t *values = NULL;
	PLabel *labels = NULL, **label_ptrs = NULL;
	uint32_t *series_label_off = NULL, *series_label_n = NULL;
	ProtobufCBinaryData *strtab = NULL;
	char **strfix = NULL;
	size_t *loc_off = NULL;
	PLine **line_ptrs = NULL;
	struct gz_buffer *gz = NULL;
	size_t n, nr_loc_ids = 0, nr_labels = 0, cap_loc_ids = 0;
	int err = 0;

	(void)opts;
	if (!p)
		return -ENOMEM;
	w.strs = profile__new();
	w.func_ids = profile__new();
	w.map_ids = profile__new();
	w.loc_ids = profile__new();
	if (!w.strs || !w.func_ids || !w.map_ids || !w.loc_ids) {
		err = -ENOMEM;
		goto out;
	}
	/* Copies as big as the input: out of memory fails the write. */
	profile__set_checked(p);
	profile__set_checked(w.strs);
	profile__set_checked(w.func_ids);
	profile__set_checked(w.map_ids);
	profile__set_checked(w.loc_ids);
	if (profile__merge(p, src))
		goto oom;
	profile__compact(p, 0);
	*profile__meta(p) = *profile__meta_const(src);
	w.p = p;
	w.frame_func = calloc((profile__nr_frames(p)) + 1, sizeof(uint32_t));
	if (!w.frame_func)
		goto oom;
	w.frame_map = calloc((profile__nr_frames(p)) + 1, sizeof(uint32_t));
	if (!w.frame_map)
		goto oom;
	w.frame_loc = calloc((profile__nr_frames(p)) + 1, sizeof(uint32_t));
	if (!w.frame_loc)
		goto oom;
	w.build_id_of = malloc((profile__nr_strings(p) + 1) * sizeof(uint32_t));
	if (!w.build_id_of)
		goto oom;
	memset(w.build_id_of, 0xff, profile__nr_strings(p) * sizeof(uint32_t));

	uint64_t period = profile__meta_const(p)->period_ns;
	if (!period)
		period = DEFAULT_PERIOD_NS;
	vt[0].type = wstr(&w, "samples");
	vt[0].unit = wstr(&w, "count");
	vt[1].type = wstr(&w, "cpu");
	vt[1].unit = wstr(&w, "nanoseconds");
	period_type.type = vt[1].type;
	period_type.unit = vt[1].unit;

	/* Labels once per series; samples point into the shared array. */
	size_t nsr = profile__nr_series(p);
	series_label_off = calloc((nsr) + 1, sizeof(uint32_t));
	if (!series_label_off)
		goto oom;
	series_label_n = calloc((nsr) + 1, sizeof(uint32_t));
	if (!series_label_n)
		goto oom;
	size_t total_labels = 0;
	for (size_t s = 0; s < nsr; s++) {
		profile__series(p, (uint32_t)s, &n);
		total_labels += n;
	}
	labels = calloc((total_labels) + 1, sizeof(*labels));
	if (!labels)
		goto oom;
	label_ptrs = calloc((total_labels) + 1, sizeof(*label_ptrs));
	if (!label_ptrs)
		goto oom;
	for (size_t s = 0; s < nsr; s++) {
		const struct label *l = profile__series(p, (uint32_t)s, &n);

		series_label_off[s] = (uint32_t)nr_labels;
		series_label_n[s] = (uint32_t)n;
		for (size_t i = 0; i < n; i++) {
			label_ptrs[nr_labels] = make_label(
			    w.strs, profile__str(p, l[i].key),
			    profile__str(p, l[i].value), &labels[nr_labels]);
			nr_labels++;
		}
	}

	/* Samples: location ids are collected first, pointers fixed later
	 * because the array moves while it grows. */
	const struct sample *s = profile__samples(p, &n);
	size_t nsamples = n;
	loc_off = calloc((nsamples) + 1, sizeof(size_t));
	if (!loc_off)
		goto oom;
	samples = calloc((nsamples) + 1, sizeof(*samples));
	if (!samples)
		goto oom;
	sample_ptrs = calloc((nsamples) + 1, sizeof(*sample_ptrs));
	if (!sample_ptrs)
		goto oom;
	values = calloc((nsamples * 2) + 1, sizeof(*values));
	if (!values)
		goto oom;
	for (size_t i = 0; i < nsamples; i++) {
		size_t depth;
		const uint32_t *fr = profile__stack(p, s[i].stack, &depth);

		loc_off[i] = nr_loc_ids;
		/* Walk runs from the leaf end: a run is a physical frame
		 * followed (leafward) by the frames inlined into it. */
		size_t end = depth;
		while (end > 0) {
			size_t start = end - 1;

			while (start > 0 &&
			       profile__frame(p, fr[start])->kind ==
				   FRAME_INLINED)
				start--;
			uint64_t id = run_location(&w, fr + start, end - start);
			ARR_PUSH(w.oom, loc_ids, nr_loc_ids, cap_loc_ids, id);
			end = start;
		}
		kiln__pprof__sample__init(&samples[i]);
		samples[i].n_location_id = nr_loc_ids - loc_off[i];
		values[2 * i] = (int64_t)s[i].count;
		values[2 * i + 1] = (int64_t)(s[i].count * period);
		samples[i].n_value = 2;
		samples[i].value = &values[2 * i];
		samples[i].n_label = series_label_n[s[i].series];
		samples[i].label = label_ptrs + series_label_off[s[i].series];
		sample_ptrs[i] = &samples[i];
	}
	if (w.oom || profile__oom(w.strs) || profile__oom(w.func_ids) ||
	    profile__oom(w.map_ids) || profile__oom(w.loc_ids))
		goto oom;
	for (size_t i = 0; i < nsamples; i++)
		samples[i].location_id = loc_ids + loc_off[i];

	plocs = calloc((w.nr_locs) + 1, sizeof(*plocs));
	if (!plocs)
		goto oom;
	ploc_ptrs = calloc((w.nr_locs) + 1, sizeof(*ploc_ptrs));
	if (!ploc_ptrs)
		goto oom;
	line_ptrs = calloc((w.nr_lines) + 1, sizeof(*line_ptrs));
	if (!line_ptrs)
		goto oom;
	for (size_t i = 0; i < w.nr_lines; i++)
		line_ptrs[i] = &w.lines[i];
	for (size_t i = 0; i < w.nr_locs; i++) {
		kiln__pprof__location__init(&plocs[i]);
		plocs[i].id = i + 1;
		plocs[i].mapping_id = w.locs[i].mapping_id;
		plocs[i].address = w.locs[i].address;
		plocs[i].n_line = w.locs[i].nr_lines;
		plocs[i].line = line_ptrs + w.locs[i].first_line;
		ploc_ptrs[i] = &plocs[i];
	}
	pfuncs = calloc((w.nr_funcs) + 1, sizeof(*pfuncs));
	if (!pfuncs)
		goto oom;
	pfunc_ptrs = calloc((w.nr_funcs) + 1, sizeof(*pfunc_ptrs));
	if (!pfunc_ptrs)
		goto oom;
	for (size_t i = 0; i < w.nr_funcs; i++) {
		kiln__pprof__function__init(&pfuncs[i]);
		pfuncs[i].id = i + 1;
		pfuncs[i].name = w.func_name[i];
		pfuncs[i].system_name = w.func_sys[i];
		pfuncs[i].filename = w.func_file[i];
		pfunc_ptrs[i] = &pfuncs[i];
	}
	pmaps = calloc((w.nr_maps) + 1, sizeof(*pmaps));
	if (!pmaps)
		goto oom;
	pmap_ptrs = calloc((w.nr_maps) + 1, sizeof(*pmap_ptrs));
	if (!pmap_ptrs)
		goto oom;
	for (size_t i = 0; i < w.nr_maps; i++) {
		kiln__pprof__mapping__init(&pmaps[i]);
		pmaps[i].id = i + 1;
		pmaps[i].memory_start = 0;
		pmaps[i].memory_limit = w.maps[i].limit;
		pmaps[i].filename = w.maps[i].filename;
		pmaps[i].build_id = w.maps[i].build_id;
		pmaps[i].has_functions = true;
		pmaps[i].has_filenames = true;
		pmaps[i].has_line_numbers = true;
		pmaps[i].has_inline_frames = w.maps[i].inlines;
		pmap_ptrs[i] = &pmaps[i];
	}

	const struct profile_meta *meta = profile__meta_const(p);
	prof.n_sample_type = 2;
	prof.sample_type = vtp;
	prof.n_sample = nsamples;
	prof.sample = sample_ptrs;
	prof.n_mapping = w.nr_maps;
	prof.mapping = pmap_ptrs;
	prof.n_location = w.nr_locs;
	prof.location = ploc_ptrs;
	prof.n_function = w.nr_funcs;
	prof.function = pfunc_ptrs;
	prof.time_nanos = (int64_t)meta->start_ns;
	prof.duration_nanos = (int64_t)meta->duration_ns;
	prof.period_type = &period_type;
	prof.period = (int64_t)period;
	prof.default_sample_type = vt[1].type;

	/* The string table last: everything above interned into it. */
	size_t nstr = profile__nr_strings(w.strs);
	strtab = calloc((nstr) + 1, sizeof(*strtab));
	if (!strtab)
		goto oom;
	/* pprof strings are UTF-8 (kiln's reader and Go's insist): names
	 * from binaries and comm are not always, so those are rewritten
	 * as lib/escape.h's text. */
	strfix = calloc((nstr) + 1, sizeof(*strfix));
	if (!strfix)
		goto oom;
	for (size_t i = 0; i < nstr; i++) {
		const char *str = profile__str(w.strs, (uint32_t)i);

		if (!escape__text_clean(str, strlen(str))) {
			strfix[i] = escape__text_dup(str);
			if (!strfix[i])
				goto oom;
			str = strfix[i];
		}
		strtab[i].data = (uint8_t *)str;
		strtab[i].len = strlen(str);
	}
	prof.n_string_table = nstr;
	prof.string_table = strtab;

	gz = calloc((1) + 1, sizeof(*gz));
	if (!gz)
		goto oom;
	gz->base.append = gz_append;
	gz->out = out;
	/* BestSpeed like Go's runtime/pprof: profiles are written often. */
	if (deflateInit2(&gz->zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		err = -ENOMEM;
		goto out;
	}
	protobuf_c_message_pack_to_buffer(&prof.base, &gz->base);
	gz->zs.next_in = NULL;
	gz->zs.avail_in = 0;
	gz_drain(gz, Z_FINISH);
	deflateEnd(&gz->zs);
	err = gz->err;
	if (!err && fflush(out))
		err = -EIO;
	if (0) {
	oom:
		err = -ENOMEM;
	}
out:
	free(line_ptrs);
	free(loc_off);
	free(gz);
	free(strtab);
	for (size_t i = 0; strfix && i < profile__nr_strings(w.strs); i++)
		free(strfix[i]);
	free(strfix);
	free(pmaps);
	free(pmap_ptrs);
	free(pfuncs);
	free(pfunc_ptrs);
	free(plocs);
	free(ploc_ptrs);
	free(samples);
	free(sample_ptrs);
	free(values);
	free(loc_ids);
	free(labels);
	free(label_ptrs);
	free(series_label_off);
	free(series_label_n);
	free(w.frame_func);
	free(w.frame_map);
	free(w.frame_loc);
	free(w.build_id_of);
	free(w.maps);
	free(w.locs);
	free(w.lines);
	free(w.func_name);
	free(w.func_file);
	free(w.func_sys);
	profile__free(w.strs);
	profile__free(w.func_ids);
	profile__free(w.map_ids);
	profile__free(w.loc_ids);
	profile__free(p);
	return err;
}

/* ------------------------------------------------------------------ */
/* reader                                                              */
/* ------------------------------------------------------------------ */

/* A bump allocator for protobuf-c: decoding a million samples makes
 * millions of small allocations, and a cap on the total turns a hostile
 * "a billion empty messages" input into a clean error. */
struct arena {
	char **chunks;
	size_t nr_chunks, cap_chunks;
	char *cur;
	size_t used, cap;
	size_t total, max;
	bool over;
};

static void *arena_alloc(void *data, size_t size)
{
	struct arena *a = data;

	size = (size + 15) & ~(size_t)15;
	if (size > a->max || a->total + size > a->max) {
		a->over = true;
		return NULL;
	}
	if (!a->cur || a->used + size > a->cap) {
		size_t cap = size > (1u << 20) ? size : (1u << 20);
		char *c = malloc(cap);

		if (!c)
			return NULL;
		if (a->nr_chunks == a->cap_chunks) {
			size_t ncap = a->cap_chunks ? a->cap_chunks * 2 : 16;
			char **nc = realloc(a->chunks, ncap * sizeof(*nc));

			if (!nc) {
				free(c);
				return NULL;
			}
			a->chunks = nc;
			a->cap_chunks = ncap;
		}
		a->chunks[a->nr_chunks++] = c;
		a->cur = c;
		a->used = 0;
		a->cap = cap;
	}
	void *ret = a->cur + a->used;
	a->used += size;
	a->total += size;
	return ret;
}

static void arena_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

static void arena_release(struct arena *a)
{
	for (size_t i = 0; i < a->nr_chunks; i++)
		free(a->chunks[i]);
	free(a->chunks);
}

static bool read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *pp;
	uint64_t r = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (q >= end)
			return false;
		uint8_t b = *q++;

		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*pp = q;
			*v = r;
			return true;
		}
	}
	return false;
}

/* Counts top-level repeated fields without decoding them, so limits are
 * enforced before the decoder allocates anything. */
static int prescan(const uint8_t *d, size_t len, size_t counts[16], char *err,
		   size_t errlen)
{
	const uint8_t *q = d, *end = d + len;

	while (q < end) {
		uint64_t tag, v;

		if (!read_varint(&q, end, &tag))
			goto bad;
		switch (tag & 7) {
		case 0:
			if (!read_varint(&q, end, &v))
				goto bad;
			break;
		case 1:
			if (end - q < 8)
				goto bad;
			q += 8;
			break;
		case 2:
			if (!read_varint(&q, end, &v) ||
			    v > (uint64_t)(end - q))
				goto bad;
			q += v;
			break;
		case 5:
			if (end - q < 4)
				goto bad;
			q += 4;
			break;
		default:
			goto bad;
		}
		if ((tag >> 3) < 16)
			counts[tag >> 3]++;
	}
	return 0;
bad:
	snprintf(
	    err, errlen,
	    "corrupt or truncated protobuf at byte %zu (not a pprof profile?)",
	    (size_t)(q - d));
	return -EINVAL;
}

struct idmap {
	uint64_t *ids; /* sorted, when not dense */
	uint32_t *idx;
	size_t n;
	bool dense;
};

static int idx_cmp(const void *a, const void *b, void *ctx)
{
	const uint64_t *ids = ctx;
	uint64_t x = ids[*(const uint32_t *)a], y = ids[*(const uint32_t *)b];

	return x < y ? -1 : x > y;
}

/* ids[i] is the id of element i. Returns 0 or -EINVAL (zero/dup ids). */
static int idmap__init(struct idmap *m, uint64_t *ids, size_t n)
{
	m->n = n;
	m->dense = true;
	m->ids = ids;
	m->idx = NULL;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == 0)
			return -EINVAL;
		if (ids[i] != i + 1)
			m->dense = false;
	}
	if (m->dense)
		return 0;
	m->idx = malloc((n ? n : 1) * sizeof(*m->idx));
	if (!m->idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		m->idx[i] = (uint32_t)i;
	qsort_r(m->idx, n, sizeof(*m->idx), idx_cmp, ids);
	for (size_t i = 1; i < n; i++)
		if (ids[m->idx[i]] == ids[m->idx[i - 1]])
			return -EINVAL;
	return 0;
}

/* Index of 'id', or -1. */
static long idmap__find(const struct idmap *m, uint64_t id)
{
	if (m->dense)
		return id >= 1 && id <= m->n ? (long)(id - 1) : -1;
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint64_t v = m->ids[m->idx[mid]];

		if (v == id)
			return m->idx[mid];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct reader {
	struct profile *p;
	const PProfile *prof;
	uint32_t *sid; /* pprof string index -> kiln id + 1 */
	char *err;
	size_t errlen;
};

/* Kiln string id of pprof string 'idx'; -1 when out of range. */
static int64_t rstr(struct reader *r, int64_t idx)
{
	if (idx < 0 || (uint64_t)idx >= r->prof->n_string_table)
		return -1;
	if (!r->sid[idx]) {
		const ProtobufCBinaryData *b = &r->prof->string_table[idx];

		/* protobuf-c leaves data NULL for empty strings */
		r->sid[idx] =
		    profile__intern_len(
			r->p, b->len ? (const char *)b->data : "", b->len) +
		    1;
	}
	return r->sid[idx] - 1;
}

static bool str_is(struct reader *r, int64_t idx, const char *s)
{
	if (idx < 0 || (uint64_t)idx >= r->prof->n_string_table)
		return false;
	const ProtobufCBinaryData *b = &r->prof->string_table[idx];

	return b->len == strlen(s) && !memcmp(b->data, s, b->len);
}

static enum frame_kind mapping_kind(const char *file)
{
	size_t n = strlen(file);

	if (!strcmp(file, "[jit]") || !strncmp(file, "/tmp/perf-", 10))
		return FRAME_JIT;
	/* "[kernel.kallsyms]", "[ext4]": bracketed names that are not one
	 * of the kernel's names for user memory. */
	if (n > 2 && file[0] == '[' && file[n - 1] == ']' &&
	    strcmp(file, "[vdso]") && strcmp(file, "[vsyscall]") &&
	    strcmp(file, "[heap]") && strcmp(file, "[stack]") &&
	    strncmp(file, "[anon", 5))
		return FRAME_KERNEL;
	return FRAME_USER;
}

#define RERR(code, ...)                                                        \
	do {                                                                   \
		snprintf(err, errlen, __VA_ARGS__);                            \
		ret = (code);                                                  \
		goto out;                                                      \
	} while (0)

int pprof__read(struct profile *p, const void *data, size_t len,
		const struct read_limits *lim, char *err, size_t errlen)
{
	struct read_limits def;
	void *raw = NULL;
	const uint8_t *buf = data;
	size_t buflen = len, counts[16] = {0};
	struct arena arena = {0};
	ProtobufCAllocator alloc = {arena_alloc, arena_free, &arena};
	PProfile *prof = NULL;
	struct reader r = {.p = p, .err = err, .errlen = errlen};
	struct idmap mmap = {0}, fmap = {0}, lmap = {0};
	uint64_t *mids = NULL, *fids = NULL, *lids = NULL;
	uint32_t *map_module = NULL, *map_kind = NULL;
	uint32_t *loc_off = NULL, *loc_len = NULL, *loc_frames = NULL;
	uint32_t *stack = NULL;
	struct label *labels = NULL;
	size_t nr_loc_frames = 0;
	int ret = 0;

	if (!lim) {
		read_limits__default(&def);
		lim = &def;
	}
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
		ret = format__gunzip(data, len, lim->max_decompressed, &raw,
				     &buflen, err, errlen);
		if (ret)
			return ret;
		buf = raw;
	} else if (len > lim->max_decompressed) {
		snprintf(err, errlen,
			 "protobuf of %zu bytes exceeds the limit of %zu", len,
			 lim->max_decompressed);
		return -E2BIG;
	}
	ret = prescan(buf, buflen, counts, err, errlen);
	if (ret)
		goto out;
	if (counts[2] > lim->max_samples)
		RERR(-E2BIG, "%zu samples exceed the limit of %zu", counts[2],
		     lim->max_samples);
	if (counts[4] > lim->max_locations)
		RERR(-E2BIG, "%zu locations exceed the limit of %zu", counts[4],
		     lim->max_locations);
	if (counts[5] > lim->max_functions)
		RERR(-E2BIG, "%zu functions exceed the limit of %zu", counts[5],
		     lim->max_functions);
	if (counts[6] > lim->max_strings)
		RERR(-E2BIG, "%zu strings exceed the limit of %zu", counts[6],
		     lim->max_strings);
	if (counts[3] > lim->max_locations)
		RERR(-E2BIG, "%zu mappings exceed the limit of %zu", counts[3],
		     lim->max_locations);

	arena.max = lim->max_memory;
	prof = kiln__pprof__profile__unpack(&alloc, buflen, buf);
	if (!prof) {
		if (arena.over)
			RERR(-E2BIG,
			     "decoding needs more than the limit of %zu bytes "
			     "of memory",
			     lim->max_memory);
		RERR(-EINVAL,
		     "corrupt or truncated protobuf (not a pprof profile?)");
	}
	r.prof = prof;

	/* Strings: entry 0 is "", all valid UTF-8. */
	if (prof->n_string_table == 0 || prof->string_table[0].len != 0)
		RERR(-EINVAL, "string table must start with the empty string");
	for (size_t i = 0; i < prof->n_string_table; i++)
		if (!escape__utf8_valid(
			(const char *)prof->string_table[i].data,
			prof->string_table[i].len))
			RERR(
			    -EILSEQ,
			    "string %zu is not valid UTF-8 (or has a NUL byte)",
			    i);
	r.sid = calloc(prof->n_string_table, sizeof(*r.sid));
	if (!r.sid)
		RERR(-ENOMEM, "out of memory");

	/* Which value is "the count". */
	if (prof->n_sample_type == 0)
		RERR(-EINVAL, "no sample types");
	size_t vi = prof->n_sample_type - 1;
	bool found = false;
	for (size_t i = 0; i < prof->n_sample_type; i++) {
		if (str_is(&r, prof->sample_type[i]->type, "samples") &&
		    str_is(&r, prof->sample_type[i]->unit, "count")) {
			vi = i;
			found = true;
			break;
		}
	}
	if (!found && prof->default_sample_type) {
		for (size_t i = 0; i < prof->n_sample_type; i++)
			if (prof->sample_type[i]->type ==
			    prof->default_sample_type)
				vi = i;
	}

	/* Mappings and functions. */
	mids = malloc((prof->n_mapping + 1) * sizeof(*mids));
	fids = malloc((prof->n_function + 1) * sizeof(*fids));
	lids = malloc((prof->n_location + 1) * sizeof(*lids));
	map_module = calloc(prof->n_mapping + 1, sizeof(*map_module));
	map_kind = calloc(prof->n_mapping + 1, sizeof(*map_kind));
	if (!mids || !fids || !lids || !map_module || !map_kind)
		RERR(-ENOMEM, "out of memory");
	for (size_t i = 0; i < prof->n_mapping; i++) {
		int64_t s = rstr(&r, prof->mapping[i]->filename);

		if (s < 0)
			RERR(-EINVAL, "mapping %zu: bad file name index", i);
		map_module[i] = (uint32_t)s;
		map_kind[i] = mapping_kind(profile__str(p, (uint32_t)s));
		mids[i] = prof->mapping[i]->id;
	}
	ret = idmap__init(&mmap, mids, prof->n_mapping);
	if (ret)
		RERR(ret, "mapping ids are zero or repeated");
	for (size_t i = 0; i < prof->n_function; i++) {
		const PFunction *f = prof->function[i];

		if (rstr(&r, f->name) < 0 || rstr(&r, f->system_name) < 0 ||
		    rstr(&r, f->filename) < 0)
			RERR(-EINVAL, "function %zu: bad string index", i);
		fids[i] = f->id;
	}
	ret = idmap__init(&fmap, fids, prof->n_function);
	if (ret)
		RERR(ret, "function ids are zero or repeated");

	/* Locations -> runs of frames, root first. */
	size_t total_lines = 0;
	for (size_t i = 0; i < prof->n_location; i++) {
		size_t nl = prof->location[i]->n_line;

		if (nl > lim->max_depth)
			RERR(-E2BIG,
			     "location %zu has %zu lines, over the depth limit "
			     "of %zu",
			     i, nl, lim->max_depth);
		total_lines += nl ? nl : 1;
		lids[i] = prof->location[i]->id;
	}
	ret = idmap__init(&lmap, lids, prof->n_location);
	if (ret)
		RERR(ret, "location ids are zero or repeated");
	loc_off = malloc((prof->n_location + 1) * sizeof(*loc_off));
	loc_len = malloc((prof->n_location + 1) * sizeof(*loc_len));
	loc_frames = malloc((total_lines + 1) * sizeof(*loc_frames));
	if (!loc_off || !loc_len || !loc_frames)
		RERR(-ENOMEM, "out of memory");
	for (size_t i = 0; i < prof->n_location; i++) {
		const PLocation *l = prof->location[i];
		struct frame f = {0};
		uint32_t kind = FRAME_USER;
		uint64_t rel = l->address;

		f.addr = l->address;
		if (l->mapping_id) {
			long mi = idmap__find(&mmap, l->mapping_id);

			if (mi < 0)
				RERR(-EINVAL,
				     "location %" PRIu64
				     ": unknown mapping id %" PRIu64,
				     l->id, l->mapping_id);
			f.module = map_module[mi];
			kind = map_kind[mi];
			const PMapping *m = prof->mapping[mi];
			if (l->address >= m->memory_start)
				rel = l->address - m->memory_start +
				      m->file_offset;
		}
		loc_off[i] = (uint32_t)nr_loc_frames;
		loc_len[i] = l->n_line ? (uint32_t)l->n_line : 1;
		if (!l->n_line) {
			/* Unsymbolized: name it module+offset like perf. */
			char name[600];
			const char *mod = profile__str(p, f.module);

			if (*mod)
				snprintf(name, sizeof(name), "%s+0x%" PRIx64,
					 path__base_name(mod), rel);
			else
				snprintf(name, sizeof(name), "0x%" PRIx64,
					 l->address);
			f.name = profile__intern(p, name);
			f.kind = kind;
			loc_frames[nr_loc_frames++] = profile__add_frame(p, &f);
			continue;
		}
		/* Lines are leaf first; the last one is the physical frame. */
		for (size_t j = l->n_line; j-- > 0;) {
			const PLine *ln = l->line[j];
			long fi = idmap__find(&fmap, ln->function_id);

			if (fi < 0)
				RERR(-EINVAL,
				     "location %" PRIu64
				     ": unknown function id %" PRIu64,
				     l->id, ln->function_id);
			const PFunction *fn = prof->function[fi];
			int64_t name = rstr(&r, fn->name);

			int64_t sys = rstr(&r, fn->system_name);

			if (!*profile__str(p, (uint32_t)name))
				name = sys;
			f.name = (uint32_t)name;
			/* A system name other than the name is the mangled
			 * one (C++, Rust), kept for tooltips. */
			f.sysname = sys != name ? (uint32_t)sys : 0;
			f.file = (uint32_t)rstr(&r, fn->filename);
			f.line = ln->line > 0 && ln->line < UINT32_MAX
				     ? (uint32_t)ln->line
				     : 0;
			f.kind = j == l->n_line - 1 ? kind : FRAME_INLINED;
			if (f.kind == FRAME_USER && !l->mapping_id) {
				const char *nm = profile__str(p, f.name);
				size_t n = strlen(nm);

				if (n > 2 && nm[0] == '[' && nm[n - 1] == ']')
					f.kind = FRAME_SPECIAL;
			}
			loc_frames[nr_loc_frames++] = profile__add_frame(p, &f);
		}
	}

	/* Samples. */
	stack = malloc((lim->max_depth + 1) * sizeof(*stack));
	labels = malloc(64 * sizeof(*labels));
	if (!stack || !labels)
		RERR(-ENOMEM, "out of memory");
	uint64_t period_ns = 0;
	if (prof->period_type &&
	    str_is(&r, prof->period_type->unit, "nanoseconds") &&
	    prof->period > 0)
		period_ns = (uint64_t)prof->period;
	uint64_t t0 = prof->time_nanos > 0 ? (uint64_t)prof->time_nanos : 0;
	for (size_t i = 0; i < prof->n_sample; i++) {
		const PSample *s = prof->sample[i];
		size_t depth = 0, nl = 0;

		if (s->n_value != prof->n_sample_type)
			RERR(-EINVAL,
			     "sample %zu has %zu values for %zu sample types",
			     i, s->n_value, prof->n_sample_type);
		int64_t v = s->value[vi];
		if (v < 0)
			RERR(-EINVAL,
			     "sample %zu has a negative value %" PRId64, i, v);
		if ((uint64_t)v > lim->max_count)
			RERR(-E2BIG,
			     "sample %zu: value %" PRId64
			     " exceeds the limit of %llu",
			     i, v, (unsigned long long)lim->max_count);
		for (size_t j = s->n_location_id; j-- > 0;) {
			long li = idmap__find(&lmap, s->location_id[j]);

			if (li < 0)
				RERR(-EINVAL,
				     "sample %zu: unknown location id %" PRIu64,
				     i, s->location_id[j]);
			if (depth + loc_len[li] > lim->max_depth)
				RERR(-E2BIG,
				     "sample %zu: stack deeper than the limit "
				     "of %zu frames",
				     i, lim->max_depth);
			memcpy(stack + depth, loc_frames + loc_off[li],
			       loc_len[li] * sizeof(*stack));
			depth += loc_len[li];
		}
		if (s->n_label > 64)
			RERR(-E2BIG,
			     "sample %zu has %zu labels, over the limit of 64",
			     i, s->n_label);
		for (size_t j = 0; j < s->n_label; j++) {
			const PLabel *l = s->label[j];
			int64_t key = rstr(&r, l->key), val;
			bool dup = false;

			if (key < 0 || rstr(&r, l->str) < 0)
				RERR(-EINVAL,
				     "sample %zu: bad label string index", i);
			if (key == 0)
				continue;
			for (size_t k = 0; k < nl; k++)
				dup |= labels[k].key == (uint32_t)key;
			if (dup) /* pprof allows repeats; a series cannot. */
				continue;
			if (l->str) {
				val = rstr(&r, l->str);
			} else {
				char num[32];

				snprintf(num, sizeof(num), "%" PRId64, l->num);
				val = profile__intern(p, num);
			}
			labels[nl].key = (uint32_t)key;
			labels[nl++].value = (uint32_t)val;
		}
		if (v == 0)
			continue;
		profile__add_sample(p, profile__add_series(p, labels, nl),
				    profile__add_stack(p, stack, depth), t0,
				    (uint64_t)v);
	}
	struct profile_meta *meta = profile__meta(p);
	meta->start_ns = t0;
	meta->duration_ns =
	    prof->duration_nanos > 0 ? (uint64_t)prof->duration_nanos : 0;
	meta->period_ns = period_ns;
out:
	free(stack);
	free(labels);
	free(loc_off);
	free(loc_len);
	free(loc_frames);
	free(map_module);
	free(map_kind);
	free(mids);
	free(fids);
	free(lids);
	free(mmap.idx);
	free(fmap.idx);
	free(lmap.idx);
	free(r.sid);
	arena_release(&arena);
	free(raw);
	return ret;
}
