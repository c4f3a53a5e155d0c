/* SPDX-License-Identifier: MIT */
/*
 * The in-memory profile: the one model every part of kiln speaks. The
 * sampler and symbolizer fill it, storage ingests and returns it, the
 * writers (folded, pprof, speedscope, SVG) and readers convert it.
 *
 * Everything is interned and referred to by 32-bit id: strings, frames,
 * stacks and series (label sets). Id 0 of the string table is "". Stacks are
 * stored root first (outermost caller first, leaf last), the order of
 * folded stacks. A sample is (series, stack, time, count); the same
 * (series, stack) may appear at many times.
 *
 * Pointers returned by the accessors are borrowed: valid until the next
 * call that adds to the profile.
 */
#ifndef KILN_PROFILE_H
#define KILN_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum frame_kind {
	FRAME_USER = 0,
	FRAME_KERNEL,  /* folded suffix _[k] */
	FRAME_INLINED, /* user code inlined into its caller: _[i] */
	FRAME_JIT,     /* from /tmp/perf-PID.map: _[j] */
	FRAME_SPECIAL, /* kiln's own placeholders: [lost user stack], ... */
	FRAME_KIND_MAX,
};

struct frame {
	uint32_t name;	  /* string id of the function (or module+0xoff) */
	uint32_t file;	  /* string id of the source file, 0 if unknown */
	uint32_t module;  /* string id of the binary, 0 if unknown */
	uint32_t line;	  /* source line, 0 if unknown */
	uint32_t kind;	  /* enum frame_kind */
	uint32_t sysname; /* string id of the mangled name, 0 if not mangled */
	uint64_t addr;	  /* address within module (ELF vaddr), 0 if unknown */
	/*
	 * What names the frame again once better debug info arrives (user
	 * code in a file with a build id): the build id (string id of its
	 * lowercase hex, 0 if unknown) and the file offset of the byte that
	 * was looked up (a return address minus one). Both 0 elsewhere.
	 */
	uint32_t build_id;
	uint32_t pad_; /* zero: frames are compared as bytes */
	uint64_t offset;
};

struct label {
	uint32_t key;	/* string id */
	uint32_t value; /* string id */
};

struct sample {
	uint32_t series;
	uint32_t stack;
	uint64_t time_ns; /* unix time in ns; 0 when unknown */
	uint64_t count;
};

/* Well-known label keys. */
#define LABEL_HOST "host"
#define LABEL_COMM "comm"
#define LABEL_PID "pid"
#define LABEL_EXE "exe"
#define LABEL_BUILD_ID "build_id"
#define LABEL_CONTAINER "container"

struct profile_meta {
	uint64_t start_ns;    /* unix ns of the first sample window */
	uint64_t duration_ns; /* length of the recording */
	uint64_t period_ns;   /* ns of CPU per sample count (1e9 / Hz) */
};

struct profile;

/* Allocates an empty profile. Returns NULL with errno set on failure. */
struct profile *profile__new(void);
void profile__free(struct profile *p);

/* Interns a NUL-terminated string (or 'len' bytes) and returns its id. */
uint32_t profile__intern(struct profile *p, const char *s);
uint32_t profile__intern_len(struct profile *p, const char *s, size_t len);
const char *profile__str(const struct profile *p, uint32_t id);
size_t profile__nr_strings(const struct profile *p);

/* Interns a frame (all fields compared) and returns its id. */
uint32_t profile__add_frame(struct profile *p, const struct frame *f);
/* Convenience: frame with only a name and kind. */
uint32_t profile__add_named_frame(struct profile *p, const char *name,
				  enum frame_kind kind);
const struct frame *profile__frame(const struct profile *p, uint32_t id);
size_t profile__nr_frames(const struct profile *p);

/* Interns a stack of frame ids, root first. An empty stack is allowed. */
uint32_t profile__add_stack(struct profile *p, const uint32_t *frames,
			    size_t depth);
const uint32_t *profile__stack(const struct profile *p, uint32_t id,
			       size_t *depth);
size_t profile__nr_stacks(const struct profile *p);

/*
 * Interns a series, a set of labels. Labels are sorted by key name, so the
 * order given does not matter. Duplicate keys are the caller's error.
 */
uint32_t profile__add_series(struct profile *p, const struct label *labels,
			     size_t n);
const struct label *profile__series(const struct profile *p, uint32_t id,
				    size_t *n);
/* The value of label 'key' in a series, or NULL. */
const char *profile__series_label(const struct profile *p, uint32_t series,
				  const char *key);
size_t profile__nr_series(const struct profile *p);

/* Bytes the profile's arrays and hash sets have allocated (capacity, not
 * length): what a cache made of a profile costs. */
size_t profile__mem_bytes(const struct profile *p);

/* Appends a sample. Samples are not merged; see profile__compact(). */
void profile__add_sample(struct profile *p, uint32_t series, uint32_t stack,
			 uint64_t time_ns, uint64_t count);
const struct sample *profile__samples(const struct profile *p, size_t *n);
uint64_t profile__total(const struct profile *p);

/*
 * Merges samples with equal (series, stack) and time bucket, where a bucket
 * is 'bucket_ns' wide (0 merges across all time, keeping the earliest time).
 * Sorts samples by (series, stack, time).
 */
void profile__compact(struct profile *p, uint64_t bucket_ns);

/*
 * Adds every sample of 'src' to 'dst', re-interning as needed. Returns 0,
 * or -ENOMEM (a checked 'dst' ran out of memory; others abort).
 */
int profile__merge(struct profile *dst, const struct profile *src);

/* What profile__merge_relabel() changes while it copies. */
struct profile_relabel {
	/* "KEY=VALUE" labels added to every series, replacing the series'
	 * own KEY; among repeated keys the last one wins. */
	const char *const *labels;
	size_t nr_labels;
	uint64_t time_ns; /* nonzero: the time of every sample */
};

/*
 * profile__merge() with relabelling: the one copy of a profile into
 * another (uploads and imports relabel, queries merge). Returns 0, -EINVAL
 * (a label that is not KEY=VALUE in UTF-8; 'dst' may hold part of the
 * copy then) or -ENOMEM as profile__merge().
 */
int profile__merge_relabel(struct profile *dst, const struct profile *src,
			   const struct profile_relabel *rl);

/*
 * Allocation failures: a profile aborts the process when it cannot grow,
 * unless it is "checked" (profiles built from requests and uploads,
 * whose size the input decides): then the add functions return id 0 and
 * add nothing, profile__oom() turns true, and the caller must report the
 * failure and free the profile. Accessors stay safe on such a profile.
 */
void profile__set_checked(struct profile *p);
bool profile__checked(const struct profile *p);
bool profile__oom(const struct profile *p);

struct profile_meta *profile__meta(struct profile *p);
const struct profile_meta *profile__meta_const(const struct profile *p);

/* The folded-stack name of a frame: name plus _[k]/_[i]/_[j] suffix. */
size_t profile__frame_folded_name(const struct profile *p, uint32_t frame,
				  char *buf, size_t size);

#endif
