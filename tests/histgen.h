/* SPDX-License-Identifier: MIT */
/*
 * Synthetic profile history for the unit tests and the benchmarks: the one
 * generator behind tests/test_storage.c (exact reference samples),
 * bench/bench_store.c (a day of a 16-CPU host, Zipf stacks, pid churn),
 * bench/web_datagen.c (a random call tree for the web tests and bench) and
 * bench/push_load.c (a fleet's agent windows, as pushed over the wire).
 *
 * A generator holds a dictionary, processes (series) and pools of stacks
 * built once from the seed, and a sample stream that draws windows from
 * them: each sample's time, process, stack and count. The same options and
 * seed give the same history, sample for sample.
 *
 * Linked into the test and bench binaries (not into kiln); it aborts on
 * allocation failure like the code it serves.
 */
#ifndef KILN_TESTS_HISTGEN_H
#define KILN_TESTS_HISTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

/* How the stacks look. */
enum histgen_shape {
	/*
	 * 'stacks' stacks: stack k is main;work|idle;leaf_k (main in
	 * main.c:10 of 'exe' at 0x1000; work (k odd, sysname _Z4workv) or
	 * idle, inlined, line 20 + k % 2; leaf_k a kernel frame of module
	 * "[kernel]" at 0xffffffff81000000 + k), and stack 0 is main alone.
	 * A query result decodes back to k from the leaf's name.
	 */
	HISTGEN_FLAT,
	/*
	 * 'stacks' paths through one call tree of 'funcs' functions in
	 * 'exe' (every 17th a kernel function, every 23rd inlined, every
	 * 97th JIT), 'depth_min'..'depth_max' deep: the first levels come
	 * from few functions, deeper ones from more, so prefixes are shared
	 * like in real call trees.
	 */
	HISTGEN_TREE,
	/*
	 * Each program has its own pool of 'stacks'..'stacks_max' - 1
	 * stacks, 'depth_min'..'depth_max' deep: main, then its own
	 * 'funcs' functions (30% of them inlined frames), libc calls, and
	 * kernel frames in the last six levels.
	 */
	HISTGEN_PROGRAMS,
	/*
	 * Services as a server's agent sees them: each program has 'funcs'
	 * C++-style functions of its own ("<comm>::detail::Component<j>
	 * <std::basic_string<char>>::handle_<k>(Request const&)" in
	 * src/<comm>/module<m>/file<f>.cc of /usr/bin/<comm>, every 9th
	 * inlined) and a pool of 'stacks' stacks 'depth_min'..'depth_max'
	 * deep that walk them with a fixed stride (branching from the sixth
	 * level on, so prefixes are shared); every third stack ends in a tail
	 * of four of 200 kernel functions all programs share.
	 */
	HISTGEN_SERVICES,
};

/* How an index is drawn out of n. */
enum histgen_pick {
	HISTGEN_UNIFORM,
	HISTGEN_ZIPF,	/* rank r with weight 1 / r^s */
	HISTGEN_SQUARE, /* a * b / n of two uniform draws: low indexes likelier
			 */
	HISTGEN_EACH,	/* one after the other, no draw (every stack once) */
	/* n * u^3 of a uniform u in [0, 1): steeper than SQUARE */
	HISTGEN_CUBE,
};

struct histgen_opts {
	uint64_t seed; /* 0: a fixed default */

	/* Stacks. */
	enum histgen_shape shape;
	size_t stacks, stacks_max; /* see the shapes */
	size_t funcs;
	size_t depth_min, depth_max;
	enum histgen_pick stack_pick;
	double stack_zipf; /* s of HISTGEN_ZIPF */
	const char *exe;   /* FLAT, TREE: the binary and the exe label */

	/*
	 * Processes: 'live' of them run at once (the series a sample is
	 * drawn from); every hour after 'start_ns', 'churn_per_hour' of the
	 * live ones are replaced by new pids, for 'hours' at most. Process i
	 * runs program i % 'programs' (or a Zipf draw over them with
	 * 'program_zipf' > 0) on host hosts[i % nr_hosts], with pid
	 * 'pid_base' + i; a program's comm is comms[p] or COMM_PREFIX<p>.
	 */
	size_t programs;
	double program_zipf;
	const char *const *comms;
	const char *comm_prefix; /* NULL: "prog" */
	const char *const *hosts;
	size_t nr_hosts; /* 0: one host, "h1" */
	uint64_t pid_base;
	size_t live;
	enum histgen_pick live_pick;
	double live_zipf;
	size_t churn_per_hour;
	uint64_t start_ns;
	double hours;
	/* exe, build_id and, for every third process, container labels, as
	 * an agent writes them (PROGRAMS, SERVICES: each program is
	 * /usr/bin/<comm>) */
	int agent_labels;
	/* this share of samples is swapper/0 (pid 0) in the idle loop */
	unsigned idle_percent;

	/*
	 * Samples: times on a 'step_ns' grid (0: 1 ns), counts 1..count_max.
	 * With 'even_times' the i-th of n samples drawn over a range is at
	 * i/n of it plus up to 'jitter_ns' (as a sampler's ticks come), not
	 * in a random slot of the grid.
	 */
	uint64_t step_ns;
	uint64_t count_max;
	int even_times;
	uint64_t jitter_ns;
};

/* A drawn sample, in the generator's terms. */
struct histgen_sample {
	uint32_t process; /* pid is pid_base + process; HISTGEN_IDLE: idle */
	uint32_t stack;	  /* index in its program's pool (FLAT: leaf_k's k) */
	uint64_t time_ns, count;
};

#define HISTGEN_IDLE UINT32_MAX

struct histgen_stats {
	size_t stacks;	  /* stacks in all pools */
	size_t frames;	  /* frames they use */
	size_t processes; /* processes that have run so far (pids used) */
};

/* Builds the dictionary. Returns NULL with errno EINVAL on bad options. */
struct histgen *histgen__new(const struct histgen_opts *o);
void histgen__free(struct histgen *g);

/* Restarts the sample stream from 'seed' (0: the default seed); the
 * dictionary stays. */
void histgen__seed(struct histgen *g, uint64_t seed);

/*
 * Draws n samples in [from_ns, to_ns) into 'out', first replacing the
 * processes due to churn by 'from_ns'.
 */
void histgen__draw(struct histgen *g, uint64_t from_ns, uint64_t to_ns,
		   size_t n, struct histgen_sample *out);

/* A new profile: the whole dictionary plus these samples (period 99 Hz). */
struct profile *histgen__profile(struct histgen *g,
				 const struct histgen_sample *s, size_t n);

/*
 * The generator's own profile with n freshly drawn samples in [from_ns,
 * to_ns): the first call adds them, later ones rewrite them in place, so
 * that a benchmark times its reader or writer, not the building of
 * profiles. n must stay the same. Owned by the generator.
 */
struct profile *histgen__refill(struct histgen *g, uint64_t from_ns,
				uint64_t to_ns, size_t n);

void histgen__stats(const struct histgen *g, struct histgen_stats *st);

#endif
