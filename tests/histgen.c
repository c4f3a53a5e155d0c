// SPDX-License-Identifier: MIT
/*
 * Synthetic profile history (tests/histgen.h). One xorshift64 stream
 * builds the dictionary and then draws samples, so a bench's history is
 * the same from run to run; rebuilding the dictionary into another
 * profile replays the building part of the stream on a copy of the seed
 * and gives the same ids.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "tests/histgen.h"

#define NS 1000000000ULL
#define DEFAULT_SEED 88172645463325252ULL
#define MAX_DEPTH 128
#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define KERNEL_FUNCS 200 /* SERVICES: the kernel functions tails come from */
#define KERNEL_TAIL 4

struct pool {
	uint32_t *stacks; /* stack ids */
	size_t n;
	double *cdf; /* HISTGEN_ZIPF */
};

struct histgen {
	struct histgen_opts o;
	struct profile *p; /* the dictionary (and histgen__refill's samples) */
	uint64_t rng;	   /* the sample stream */
	struct pool *pools;
	size_t nr_pools, nr_frames;
	uint32_t *series, *prog; /* per process */
	size_t max_procs, nr_procs;
	size_t *live;
	double *live_cdf, *prog_cdf;
	uint32_t idle_series, idle_stack;
	uint64_t next_churn_ns;
	size_t next_each;
};

/* Whether each program has its own pool of stacks (or all share one). */
static int pool_per_program(const struct histgen_opts *o)
{
	return o->shape == HISTGEN_PROGRAMS || o->shape == HISTGEN_SERVICES;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The CDF of a Zipf distribution over n ranks. */
static double *zipf_cdf(size_t n, double s)
{
	double *cdf = xmalloc(n * sizeof(*cdf)), sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += 1.0 / pow((double)(i + 1), s);
	for (size_t i = 0; i < n; i++)
		cdf[i] =
		    (i ? cdf[i - 1] : 0) + 1.0 / pow((double)(i + 1), s) / sum;
	return cdf;
}

static size_t zipf_pick(uint64_t *rng, const double *cdf, size_t n)
{
	double u = (double)(rnd(rng) >> 11) / 9007199254740992.0;
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t pick(struct histgen *g, enum histgen_pick how, double *cdf,
		   size_t n)
{
	size_t a;

	switch (how) {
	case HISTGEN_ZIPF:
		return zipf_pick(&g->rng, cdf, n);
	case HISTGEN_SQUARE:
		a = rnd(&g->rng) % n;
		return a * (rnd(&g->rng) % n) / n;
	case HISTGEN_EACH:
		return g->next_each++ % n;
	case HISTGEN_CUBE: {
		double u = (double)(rnd(&g->rng) % 1000000) / 1e6;

		return (size_t)((double)n * u * u * u) % n;
	}
	default:
		return rnd(&g->rng) % n;
	}
}

static uint32_t add_frame(struct profile *p, const char *name,
			  enum frame_kind kind, const char *file, uint32_t line,
			  const char *module, uint64_t addr)
{
	struct frame f = {0};

	f.name = profile__intern(p, name);
	f.kind = kind;
	f.file = file ? profile__intern(p, file) : 0;
	f.line = line;
	f.module = profile__intern(p, module);
	f.addr = addr;
	return profile__add_frame(p, &f);
}

static void comm_of(const struct histgen *g, size_t prog, char *buf, size_t len)
{
	if (g->o.comms)
		snprintf(buf, len, "%s", g->o.comms[prog]);
	else
		snprintf(buf, len, "%s%zu", g->o.comm_prefix, prog);
}

static void flat_stacks(struct histgen *g, struct profile *p, struct pool *pl)
{
	char buf[32];

	for (size_t k = 0; k < pl->n; k++) {
		uint32_t fr[3];
		struct frame f = {0};

		f.name = profile__intern(p, "main");
		f.file = profile__intern(p, "main.c");
		f.module = profile__intern(p, g->o.exe);
		f.line = 10;
		f.addr = 0x1000;
		fr[0] = profile__add_frame(p, &f);
		f.name = profile__intern(p, k % 2 ? "work" : "idle");
		f.sysname = profile__intern(p, k % 2 ? "_Z4workv" : "");
		f.line = 20 + (uint32_t)k % 2;
		f.kind = FRAME_INLINED;
		fr[1] = profile__add_frame(p, &f);
		f.sysname = 0;
		snprintf(buf, sizeof(buf), "leaf_%zu", k);
		f.name = profile__intern(p, buf);
		f.file = 0;
		f.line = 0;
		f.module = profile__intern(p, "[kernel]");
		f.kind = FRAME_KERNEL;
		f.addr = 0xffffffff81000000ULL + (uint64_t)k;
		fr[2] = profile__add_frame(p, &f);
		pl->stacks[k] = profile__add_stack(p, fr, k ? 3 : 1);
	}
}

static size_t depth_of(const struct histgen *g, uint64_t *rng)
{
	return g->o.depth_min +
	       rnd(rng) % (g->o.depth_max - g->o.depth_min + 1);
}

static void tree_stacks(struct histgen *g, struct profile *p, struct pool *pl,
			uint64_t *rng)
{
	size_t nf = g->o.funcs;
	uint32_t *funcs = xcalloc(nf, sizeof(*funcs)), path[MAX_DEPTH];
	char name[64];

	for (size_t i = 0; i < nf; i++) {
		enum frame_kind kind = i % 17 == 0   ? FRAME_KERNEL
				       : i % 23 == 0 ? FRAME_INLINED
				       : i % 97 == 0 ? FRAME_JIT
						     : FRAME_USER;

		snprintf(name, sizeof(name), "%s_%zu",
			 kind == FRAME_KERNEL ? "k_func" : "fn", i);
		funcs[i] = add_frame(
		    p, name, kind, "src/gen.c", (uint32_t)(i % 900 + 1),
		    kind == FRAME_KERNEL ? "[kernel]" : g->o.exe, 0);
	}
	for (size_t s = 0; s < pl->n; s++) {
		size_t depth = depth_of(g, rng);

		for (size_t d = 0; d < depth; d++) {
			size_t span = 2 + d * d * 3;

			if (span > nf)
				span = nf;
			path[d] = funcs[(rnd(rng) % span + d * 7) % nf];
		}
		pl->stacks[s] = profile__add_stack(p, path, depth);
	}
	free(funcs);
}

/* Walks down program 'prog''s call graph: its own functions, libc, and a
 * kernel tail. */
static void program_stacks(struct histgen *g, struct profile *p,
			   struct pool *pl, size_t prog, uint64_t *rng)
{
	char comm[64], exe[96], buf[128], file[128];

	comm_of(g, prog, comm, sizeof(comm));
	snprintf(exe, sizeof(exe), "/usr/bin/%s", comm);
	for (size_t k = 0; k < pl->n; k++) {
		size_t depth = depth_of(g, rng), d = 0;
		uint32_t fr[MAX_DEPTH];

		snprintf(buf, sizeof(buf), "src/%s/main.c", comm);
		fr[d++] = add_frame(p, "main", FRAME_USER, buf, 12, exe, 0);
		while (d < depth) {
			uint64_t r = rnd(rng) % 100;
			size_t fn = rnd(rng) % g->o.funcs;

			if (d + 6 > depth && r < 40) {
				snprintf(buf, sizeof(buf), "kernel_fn_%d",
					 (int)(rnd(rng) % 500));
				fr[d++] = add_frame(p, buf, FRAME_KERNEL, NULL,
						    0, "[kernel]", 0);
			} else if (r < 15) {
				snprintf(buf, sizeof(buf), "libc_fn_%d",
					 (int)(rnd(rng) % 300));
				fr[d++] = add_frame(p, buf, FRAME_USER, NULL, 0,
						    LIBC, 0);
			} else {
				snprintf(buf, sizeof(buf), "%s_fn_%zu", comm,
					 fn);
				snprintf(file, sizeof(file), "src/%s/f%zu.c",
					 comm, fn / 10);
				fr[d++] = add_frame(
				    p, buf, r < 30 ? FRAME_INLINED : FRAME_USER,
				    file, 10 + (uint32_t)fn, exe, 0);
			}
		}
		pl->stacks[k] = profile__add_stack(p, fr, depth);
	}
}

/* The kernel functions SERVICES stacks end in, shared by all programs. */
static void kernel_funcs(struct profile *p, uint32_t *kern)
{
	char name[64];

	for (size_t k = 0; k < KERNEL_FUNCS; k++) {
		snprintf(name, sizeof(name), "%s_%zu",
			 k % 3 ? "do_syscall" : "__x64_sys_read", k);
		kern[k] = add_frame(p, name, FRAME_KERNEL, NULL, 0, "[kernel]",
				    0xffffffff81000000ULL + k * 0x1a0);
	}
}

/* Program 'prog''s functions, and stacks that walk them with a stride. */
static void service_stacks(struct histgen *g, struct profile *p,
			   struct pool *pl, size_t prog, const uint32_t *kern,
			   uint64_t *rng)
{
	size_t nf = g->o.funcs;
	uint32_t *funcs = xcalloc(nf, sizeof(*funcs)), fr[MAX_DEPTH];
	char comm[64], exe[96], name[256], file[160];

	comm_of(g, prog, comm, sizeof(comm));
	snprintf(exe, sizeof(exe), "/usr/bin/%s", comm);
	for (size_t k = 0; k < nf; k++) {
		snprintf(name, sizeof(name),
			 "%s::detail::Component%zu<std::basic_string<char>>::"
			 "handle_%zu(Request const&)",
			 comm, k / 20, k);
		snprintf(file, sizeof(file), "src/%s/module%zu/file%zu.cc",
			 comm, k / 40, k / 8);
		funcs[k] =
		    add_frame(p, name, k % 9 ? FRAME_USER : FRAME_INLINED, file,
			      (uint32_t)(10 + k * 13 % 900), exe,
			      0x400000 + (uint64_t)k * 0x230);
	}
	for (size_t s = 0; s < pl->n; s++) {
		size_t depth = depth_of(g, rng), d;

		for (d = 0; d < depth; d++)
			fr[d] =
			    funcs[(d * 7 + (d > 4 ? rnd(rng) % 12 : 0)) % nf];
		if (s % 3 == 0)
			for (size_t t = 0; t < KERNEL_TAIL; t++)
				fr[d++] = kern[rnd(rng) % KERNEL_FUNCS];
		pl->stacks[s] = profile__add_stack(p, fr, d);
	}
	free(funcs);
}

static uint32_t add_process(struct histgen *g, struct profile *p, size_t i,
			    size_t prog)
{
	char comm[64], pid[24], exe[96], bid[48];
	struct label l[6];
	size_t n = 0;

	comm_of(g, prog, comm, sizeof(comm));
	snprintf(pid, sizeof(pid), "%llu",
		 (unsigned long long)(g->o.pid_base + i));
	l[n++] =
	    (struct label){profile__intern(p, LABEL_HOST),
			   profile__intern(p, g->o.hosts[i % g->o.nr_hosts])};
	l[n++] = (struct label){profile__intern(p, LABEL_COMM),
				profile__intern(p, comm)};
	l[n++] = (struct label){profile__intern(p, LABEL_PID),
				profile__intern(p, pid)};
	if (pool_per_program(&g->o))
		snprintf(exe, sizeof(exe), "/usr/bin/%s", comm);
	else
		snprintf(exe, sizeof(exe), "%s", g->o.exe);
	l[n++] = (struct label){profile__intern(p, LABEL_EXE),
				profile__intern(p, exe)};
	if (g->o.agent_labels) {
		snprintf(bid, sizeof(bid), "%08x%08x",
			 (unsigned)prog * 2654435761u, (unsigned)prog);
		l[n++] = (struct label){profile__intern(p, "build_id"),
					profile__intern(p, bid)};
		if (i % 3 == 0)
			l[n++] =
			    (struct label){profile__intern(p, LABEL_CONTAINER),
					   profile__intern(p, "c0ffee")};
	}
	return profile__add_series(p, l, n);
}

/*
 * Builds the dictionary into 'p' with the stream 'rng'. The first build
 * (into the generator's own profile) sizes the pools; later ones replay
 * the same calls, so the ids they record are the same.
 */
static void build(struct histgen *g, struct profile *p, uint64_t *rng,
		  int first)
{
	uint32_t kern[KERNEL_FUNCS];

	if (g->o.shape == HISTGEN_SERVICES)
		kernel_funcs(p, kern);
	for (size_t k = 0; k < g->nr_pools; k++) {
		struct pool *pl = &g->pools[k];

		if (g->o.shape == HISTGEN_PROGRAMS) {
			size_t n = g->o.stacks +
				   rnd(rng) % (g->o.stacks_max - g->o.stacks);

			if (first)
				pl->n = n;
		} else {
			pl->n = g->o.stacks;
		}
		if (first) {
			pl->stacks = xcalloc(pl->n, sizeof(*pl->stacks));
			if (g->o.stack_pick == HISTGEN_ZIPF)
				pl->cdf = zipf_cdf(pl->n, g->o.stack_zipf);
		}
		if (g->o.shape == HISTGEN_FLAT)
			flat_stacks(g, p, pl);
		else if (g->o.shape == HISTGEN_TREE)
			tree_stacks(g, p, pl, rng);
		else if (g->o.shape == HISTGEN_SERVICES)
			service_stacks(g, p, pl, k, kern, rng);
		else
			program_stacks(g, p, pl, k, rng);
	}
	g->nr_frames = profile__nr_frames(p);
	if (g->o.idle_percent) {
		uint32_t fr[3] = {
		    profile__add_named_frame(p, "secondary_startup_64",
					     FRAME_KERNEL),
		    profile__add_named_frame(p, "do_idle", FRAME_KERNEL),
		    profile__add_named_frame(p, "default_idle", FRAME_KERNEL),
		};
		struct label l[3] = {
		    {profile__intern(p, LABEL_HOST),
		     profile__intern(p, g->o.hosts[0])},
		    {profile__intern(p, LABEL_COMM),
		     profile__intern(p, "swapper/0")},
		    {profile__intern(p, LABEL_PID), profile__intern(p, "0")},
		};

		g->idle_stack = profile__add_stack(p, fr, 3);
		g->idle_series = profile__add_series(p, l, 3);
	}
	for (size_t i = 0; i < g->max_procs; i++) {
		size_t prog = g->o.program_zipf > 0
				  ? zipf_pick(rng, g->prog_cdf, g->o.programs)
				  : i % g->o.programs;

		g->prog[i] = (uint32_t)prog;
		g->series[i] = add_process(g, p, i, prog);
	}
	profile__meta(p)->period_ns = NS / 99;
}

struct histgen *histgen__new(const struct histgen_opts *opts)
{
	static const char *const one_host[] = {"h1"};
	struct histgen *g;

	size_t tail = opts->shape == HISTGEN_SERVICES ? KERNEL_TAIL : 0;

	if (!opts->stacks || !opts->programs || !opts->live ||
	    (!pool_per_program(opts) && !opts->exe) ||
	    (opts->shape == HISTGEN_PROGRAMS &&
	     opts->stacks_max <= opts->stacks) ||
	    (opts->shape != HISTGEN_FLAT &&
	     (!opts->funcs || !opts->depth_min ||
	      opts->depth_max < opts->depth_min ||
	      opts->depth_max + tail > MAX_DEPTH))) {
		errno = EINVAL;
		return NULL;
	}
	g = xcalloc(1, sizeof(*g));
	g->o = *opts;
	if (!g->o.seed)
		g->o.seed = DEFAULT_SEED;
	if (!g->o.comm_prefix)
		g->o.comm_prefix = "prog";
	if (!g->o.nr_hosts) {
		g->o.hosts = one_host;
		g->o.nr_hosts = 1;
	}
	if (!g->o.step_ns)
		g->o.step_ns = 1;
	if (!g->o.count_max)
		g->o.count_max = 1;
	g->nr_pools = pool_per_program(&g->o) ? g->o.programs : 1;
	g->pools = xcalloc(g->nr_pools, sizeof(*g->pools));
	g->max_procs = g->o.live;
	if (g->o.churn_per_hour)
		g->max_procs += (size_t)(g->o.hours + 1) * g->o.churn_per_hour;
	g->series = xcalloc(g->max_procs, sizeof(*g->series));
	g->prog = xcalloc(g->max_procs, sizeof(*g->prog));
	if (g->o.program_zipf > 0)
		g->prog_cdf = zipf_cdf(g->o.programs, g->o.program_zipf);
	g->p = profile__new();
	if (!g->p)
		abort();
	g->rng = g->o.seed;
	build(g, g->p, &g->rng, 1);
	g->live = xcalloc(g->o.live, sizeof(*g->live));
	for (size_t i = 0; i < g->o.live; i++)
		g->live[i] = i;
	g->nr_procs = g->o.live;
	if (g->o.live_pick == HISTGEN_ZIPF)
		g->live_cdf = zipf_cdf(g->o.live, g->o.live_zipf);
	g->next_churn_ns = g->o.start_ns + 3600 * NS;
	return g;
}

void histgen__free(struct histgen *g)
{
	if (!g)
		return;
	for (size_t k = 0; k < g->nr_pools; k++) {
		free(g->pools[k].stacks);
		free(g->pools[k].cdf);
	}
	free(g->pools);
	free(g->series);
	free(g->prog);
	free(g->live);
	free(g->live_cdf);
	free(g->prog_cdf);
	profile__free(g->p);
	free(g);
}

void histgen__seed(struct histgen *g, uint64_t seed)
{
	g->rng = seed ? seed : DEFAULT_SEED; /* xorshift stays at 0 */
}

/* Replaces the processes due to churn by 'from_ns'. */
static void churn(struct histgen *g, uint64_t from_ns)
{
	while (g->o.churn_per_hour && from_ns >= g->next_churn_ns) {
		for (size_t c = 0;
		     c < g->o.churn_per_hour && g->nr_procs < g->max_procs; c++)
			g->live[rnd(&g->rng) % g->o.live] = g->nr_procs++;
		g->next_churn_ns += 3600 * NS;
	}
}

static const struct pool *pool_of(const struct histgen *g, uint32_t process)
{
	return &g->pools[pool_per_program(&g->o) ? g->prog[process] : 0];
}

/* Draws the i-th of n samples in [from_ns, to_ns). */
static void draw_one(struct histgen *g, uint64_t from_ns, uint64_t to_ns,
		     size_t i, size_t n, struct histgen_sample *s)
{
	uint64_t slots = (to_ns - from_ns) / g->o.step_ns;

	if (g->o.even_times)
		s->time_ns =
		    from_ns + i * ((to_ns - from_ns) / n) +
		    (g->o.jitter_ns ? rnd(&g->rng) % g->o.jitter_ns : 0);
	else
		s->time_ns =
		    from_ns + rnd(&g->rng) % (slots ? slots : 1) * g->o.step_ns;
	if (g->o.idle_percent && rnd(&g->rng) % 100 < g->o.idle_percent) {
		s->process = HISTGEN_IDLE;
		s->stack = 0;
	} else {
		size_t proc = g->o.live == 1 ? 0
					     : pick(g, g->o.live_pick,
						    g->live_cdf, g->o.live);
		const struct pool *pl;

		s->process = (uint32_t)g->live[proc];
		pl = pool_of(g, s->process);
		s->stack = (uint32_t)pick(g, g->o.stack_pick, pl->cdf, pl->n);
	}
	s->count = g->o.count_max > 1 ? 1 + rnd(&g->rng) % g->o.count_max : 1;
}

void histgen__draw(struct histgen *g, uint64_t from_ns, uint64_t to_ns,
		   size_t n, struct histgen_sample *out)
{
	churn(g, from_ns);
	for (size_t i = 0; i < n; i++)
		draw_one(g, from_ns, to_ns, i, n, &out[i]);
}

static struct sample to_sample(const struct histgen *g,
			       const struct histgen_sample *s)
{
	if (s->process == HISTGEN_IDLE)
		return (struct sample){g->idle_series, g->idle_stack,
				       s->time_ns, s->count};
	return (struct sample){g->series[s->process],
			       pool_of(g, s->process)->stacks[s->stack],
			       s->time_ns, s->count};
}

struct profile *histgen__profile(struct histgen *g,
				 const struct histgen_sample *s, size_t n)
{
	struct profile *p = profile__new();
	uint64_t rng = g->o.seed;

	if (!p)
		abort();
	build(g, p, &rng, 0);
	for (size_t i = 0; i < n; i++) {
		struct sample x = to_sample(g, &s[i]);

		profile__add_sample(p, x.series, x.stack, x.time_ns, x.count);
	}
	return p;
}

struct profile *histgen__refill(struct histgen *g, uint64_t from_ns,
				uint64_t to_ns, size_t n)
{
	struct histgen_sample hs;
	size_t have;
	struct sample *s;

	profile__samples(g->p, &have);
	if (!have)
		for (size_t i = 0; i < n; i++)
			profile__add_sample(g->p, 0, 0, 0, 1);
	s = (struct sample *)profile__samples(g->p, &have);
	if (have != n)
		abort();
	churn(g, from_ns);
	for (size_t i = 0; i < n; i++) {
		draw_one(g, from_ns, to_ns, i, n, &hs);
		s[i] = to_sample(g, &hs);
	}
	profile__meta(g->p)->start_ns = from_ns;
	return g->p;
}

void histgen__stats(const struct histgen *g, struct histgen_stats *st)
{
	st->stacks = 0;
	for (size_t k = 0; k < g->nr_pools; k++)
		st->stacks += g->pools[k].n;
	st->frames = g->nr_frames;
	st->processes = g->nr_procs;
}
