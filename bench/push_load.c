// SPDX-License-Identifier: MIT
/*
 * Load generator and frame maker for the cluster push path:
 *
 *   push_load frame OUT [--host H] [--instance N] [--seq N] [--start S]
 *                       [--cpus N]
 *       writes one push frame (storage/wire.h) of a synthetic window to
 *       OUT (tests replay, damage and truncate it)
 *   push_load size [--cpus N] [--window S]
 *       prints bytes per sample of one window: wire frame, gzipped pprof,
 *       raw wire payload
 *   push_load run URL --hosts N [--windows W] [--threads T]
 *                     [--token-file F] [--server-pid PID] [--cpus N]
 *       replays W windows from each of N simulated hosts (N * W frames,
 *       encoded before the clock starts) to URL/api/v1/push with T
 *       concurrent clients, window by window as a fleet would send them,
 *       and prints samples per second and per server CPU second
 *
 * Windows look like an agent's: CPUS * 99 Hz * 10 s samples over ~60
 * processes, stacks of 8-40 frames drawn from per-program call trees,
 * C++-like function names and source files, Zipf-distributed.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profile/format.h"
#include "profile/profile.h"
#include "storage/wire.h"

#define NS 1000000000ULL
#define NPROC 60
#define ENCODE_REPS 10 /* size: encodes timed */
#define NPROG 12
#define STACKS_PER_PROG 250
#define FUNCS_PER_PROG 400

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Zipf-ish: small indexes much more likely. */
static size_t zipf(size_t n)
{
	double u = (double)(rnd() % 1000000) / 1e6;

	return (size_t)((double)n * u * u * u) % n;
}

static const char *const progs[NPROG] = {
    "postgres", "nginx",   "java",	 "python3", "node",    "envoy",
    "redis",	"kubelet", "containerd", "sshd",    "systemd", "rsyslogd"};

struct gen {
	uint32_t series[NPROC];
	uint32_t stacks[NPROG][STACKS_PER_PROG];
};

static void build_dict(struct profile *p, struct gen *g, const char *host)
{
	char name[160], file[96], pid[16];
	uint32_t funcs[NPROG][FUNCS_PER_PROG], kfuncs[200];

	for (int k = 0; k < 200; k++) {
		struct frame f = {0};

		snprintf(name, sizeof(name), "%s_%d",
			 k % 3 ? "do_syscall" : "__x64_sys_read", k);
		f.name = profile__intern(p, name);
		f.module = profile__intern(p, "[kernel]");
		f.kind = FRAME_KERNEL;
		f.addr = 0xffffffff81000000ULL + (uint64_t)k * 0x1a0;
		kfuncs[k] = profile__add_frame(p, &f);
	}
	for (int pr = 0; pr < NPROG; pr++) {
		for (int k = 0; k < FUNCS_PER_PROG; k++) {
			struct frame f = {0};

			snprintf(name, sizeof(name),
				 "%s::detail::Component%d<std::basic_string<"
				 "char>>::handle_%d(Request const&)",
				 progs[pr], k / 20, k);
			snprintf(file, sizeof(file),
				 "src/%s/module%d/file%d.cc", progs[pr], k / 40,
				 k / 8);
			f.name = profile__intern(p, name);
			f.file = profile__intern(p, file);
			snprintf(file, sizeof(file), "/usr/bin/%s", progs[pr]);
			f.module = profile__intern(p, file);
			f.line = (uint32_t)(10 + k * 13 % 900);
			f.addr = 0x400000 + (uint64_t)k * 0x230;
			f.kind = k % 9 ? FRAME_USER : FRAME_INLINED;
			funcs[pr][k] = profile__add_frame(p, &f);
		}
		/* Call trees: stacks share prefixes like real ones do. */
		for (int s = 0; s < STACKS_PER_PROG; s++) {
			uint32_t st[48];
			size_t depth = 8 + rnd() % 30, j;

			for (j = 0; j < depth; j++)
				st[j] =
				    funcs[pr]
					 [(j * 7 + (j > 4 ? rnd() % 12 : 0)) %
					  FUNCS_PER_PROG];
			if (s % 3 == 0)
				for (int q = 0; q < 4 && j < 48; q++)
					st[j++] = kfuncs[rnd() % 200];
			g->stacks[pr][s] = profile__add_stack(p, st, j);
		}
	}
	for (int i = 0; i < NPROC; i++) {
		struct label l[3];

		snprintf(pid, sizeof(pid), "%d", 1000 + i * 37);
		l[0] = (struct label){profile__intern(p, "host"),
				      profile__intern(p, host)};
		l[1] = (struct label){profile__intern(p, "comm"),
				      profile__intern(p, progs[i % NPROG])};
		l[2] = (struct label){profile__intern(p, "pid"),
				      profile__intern(p, pid)};
		g->series[i] = profile__add_series(p, l, 3);
	}
}

/* One window of 'cpus' CPUs at 99 Hz over 'secs' seconds from 'start'. */
static struct profile *make_window(const char *host, uint64_t start, int cpus,
				   int secs, uint64_t seed)
{
	struct profile *p = profile__new();
	struct gen g;
	uint64_t n = (uint64_t)cpus * 99 * (uint64_t)secs;

	rng_state = 0x9e3779b97f4a7c15ULL; /* the same dictionary each time */
	build_dict(p, &g, host);
	rng_state = seed * 0x2545f4914f6cdd1dULL + 1;
	profile__meta(p)->period_ns = NS / 99;
	profile__meta(p)->start_ns = start;
	for (uint64_t i = 0; i < n; i++) {
		size_t proc = zipf(NPROC);
		uint64_t t =
		    start + i * ((uint64_t)secs * NS / n) + rnd() % 5000000;

		profile__add_sample(
		    p, g.series[proc],
		    g.stacks[proc % NPROG][zipf(STACKS_PER_PROG)], t, 1);
	}
	return p;
}

static int encode(const struct profile *p, struct wire_header *h,
		  uint8_t **frame, size_t *len, size_t *raw_out)
{
	uint8_t *payload;
	size_t plen;
	uint64_t raw;
	int err = wire__encode_payload(p, &payload, &plen, &raw, &h->samples);

	if (err)
		return err;
	err = wire__frame(h, raw, payload, plen, frame, len);
	free(payload);
	if (raw_out)
		*raw_out = raw;
	return err;
}

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return def;
}

static int cmd_frame(int argc, char **argv)
{
	struct wire_header h = {0};
	const char *out = argv[2];
	uint64_t start = strtoull(arg(argc, argv, "--start", "0"), NULL, 10);
	int cpus = atoi(arg(argc, argv, "--cpus", "2"));
	struct profile *p;
	uint8_t *frame;
	size_t len;
	FILE *f;

	if (!start)
		start = (uint64_t)time(NULL) - 60;
	h.instance = strtoull(arg(argc, argv, "--instance", "1"), NULL, 10);
	h.seq = strtoull(arg(argc, argv, "--seq", "1"), NULL, 10);
	h.start_ns = start * NS;
	h.end_ns = (start + 10) * NS;
	snprintf(h.host, sizeof(h.host), "%s",
		 arg(argc, argv, "--host", "loadgen"));
	p = make_window(h.host, h.start_ns, cpus, 10, h.seq);
	if (encode(p, &h, &frame, &len, NULL))
		return 1;
	f = fopen(out, "wb");
	if (!f || fwrite(frame, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "push_load: cannot write '%s'\n", out);
		return 1;
	}
	printf("%llu\n", (unsigned long long)h.samples);
	free(frame);
	profile__free(p);
	return 0;
}

static int cmd_size(int argc, char **argv)
{
	int cpus = atoi(arg(argc, argv, "--cpus", "16"));
	int secs = atoi(arg(argc, argv, "--window", "10"));
	struct wire_header h = {.instance = 1, .seq = 1};
	struct profile *p;
	uint8_t *frame;
	size_t len, raw, plen = 0;
	char *pb = NULL;
	FILE *f;
	struct timespec a, b;

	h.start_ns = 1800000000ULL * NS;
	h.end_ns = h.start_ns + (uint64_t)secs * NS;
	snprintf(h.host, sizeof(h.host), "host-0001");
	p = make_window(h.host, h.start_ns, cpus, secs, 1);
	/* CPU time of the thread, over several encodes: wall time means
	 * little on a shared machine. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (int i = 0; i < ENCODE_REPS; i++) {
		if (i)
			free(frame);
		if (encode(p, &h, &frame, &len, &raw))
			return 1;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	f = open_memstream(&pb, &plen);
	if (pprof__write(p, NULL, f))
		return 1;
	fclose(f);
	double n = (double)h.samples;
	printf("window: %d CPUs x 99 Hz x %d s = %.0f samples, %zu stacks\n",
	       cpus, secs, n, profile__nr_stacks(p));
	printf("wire frame (zlib): %zu bytes, %.2f B/sample; raw payload "
	       "%zu bytes, %.2f B/sample; encode %.1f ms of CPU\n",
	       len, len / n, raw, raw / n,
	       ((b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6) /
		   ENCODE_REPS);
	printf("pprof (gzip, no per-sample time): %zu bytes, %.2f B/sample\n",
	       plen, plen / n);
	free(frame);
	free(pb);
	profile__free(p);
	return 0;
}

/* ---- run ---- */

struct job {
	uint8_t *frame;
	size_t len;
	uint64_t samples;
};

struct run {
	const char *url;
	char auth[600];
	struct job *jobs;
	size_t njobs;
	atomic_size_t next;
	atomic_ullong ok, dup, busy, failed, samples;
};

static size_t discard(char *d, size_t s, size_t n, void *ctx)
{
	(void)d;
	(void)ctx;
	return s * n;
}

static void *client(void *arg)
{
	struct run *r = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[1024];

	snprintf(url, sizeof(url), "%s/api/v1/push", r->url);
	h = curl_slist_append(h, "Content-Type: application/x-kiln-window");
	h = curl_slist_append(h, "Expect:");
	if (r->auth[0])
		h = curl_slist_append(h, r->auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	for (;;) {
		size_t i = atomic_fetch_add(&r->next, 1);
		long status = 0;

		if (i >= r->njobs)
			break;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->jobs[i].frame);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->jobs[i].len);
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200) {
			atomic_fetch_add(&r->ok, 1);
			atomic_fetch_add(&r->samples, r->jobs[i].samples);
		} else if (status == 409) {
			atomic_fetch_add(&r->dup, 1);
		} else if (status == 503) {
			/* An agent keeps the window and retries later. */
			atomic_fetch_add(&r->busy, 1);
		} else {
			atomic_fetch_add(&r->failed, 1);
		}
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static double proc_cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_run(int argc, char **argv)
{
	struct run r = {.url = argv[2]};
	int hosts = atoi(arg(argc, argv, "--hosts", "1"));
	int windows = atoi(arg(argc, argv, "--windows", "3"));
	int threads = atoi(arg(argc, argv, "--threads", "4"));
	int cpus = atoi(arg(argc, argv, "--cpus", "16"));
	int pid = atoi(arg(argc, argv, "--server-pid", "0"));
	const char *tokf = arg(argc, argv, "--token-file", NULL);
	uint64_t base = strtoull(arg(argc, argv, "--start", "0"), NULL, 10);
	pthread_t th[64];
	double t0, t1, c0, c1;

	if (hosts < 1 || windows < 1 || threads < 1 || threads > 64)
		return 2;
	if (tokf) {
		char tok[513] = "";
		FILE *f = fopen(tokf, "r");

		if (!f || !fgets(tok, sizeof(tok), f))
			return 1;
		fclose(f);
		tok[strcspn(tok, "\r\n")] = '\0';
		snprintf(r.auth, sizeof(r.auth), "Authorization: Bearer %s",
			 tok);
	}
	if (!base)
		base = ((uint64_t)time(NULL) - (uint64_t)windows * 10 - 60) /
		       10 * 10;
	/* A few distinct windows, relabelled per host and shifted per slot:
	 * encoding every window from scratch would take longer than the
	 * server. Encoding happens before the clock starts. */
	r.njobs = (size_t)hosts * (size_t)windows;
	r.jobs = calloc(r.njobs, sizeof(*r.jobs));
	fprintf(stderr, "push_load: encoding %zu windows...\n", r.njobs);
	for (int w = 0; w < windows; w++) {
		for (int hh = 0; hh < hosts; hh++) {
			struct wire_header h = {0};
			struct job *j = &r.jobs[(size_t)w * hosts + hh];
			uint64_t start = (base + (uint64_t)w * 10) * NS;
			struct profile *p;

			snprintf(h.host, sizeof(h.host), "host-%04d", hh);
			/* Unique per run: runs share the server's store. */
			h.instance = base * 10000 + (uint64_t)hh + 1;
			h.seq = (uint64_t)w + 1;
			h.start_ns = start;
			h.end_ns = start + 10 * NS;
			p = make_window(h.host, start, cpus, 10,
					(uint64_t)(w * 7 + hh % 4));
			if (encode(p, &h, &j->frame, &j->len, NULL))
				return 1;
			j->samples = h.samples;
			profile__free(p);
		}
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c0 = proc_cpu_s(pid);
	t0 = mono();
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, client, &r);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t1 = mono();
	c1 = proc_cpu_s(pid);
	double secs = t1 - t0, cpu = c1 - c0;
	double sps = (double)atomic_load(&r.samples) / secs;
	printf("hosts %d windows %zu ok %llu dup %llu busy(503) %llu failed "
	       "%llu in %.2f s: "
	       "%.0f windows/s, %.0f samples/s",
	       hosts, r.njobs, (unsigned long long)atomic_load(&r.ok),
	       (unsigned long long)atomic_load(&r.dup),
	       (unsigned long long)atomic_load(&r.busy),
	       (unsigned long long)atomic_load(&r.failed), secs,
	       (double)atomic_load(&r.ok) / secs, sps);
	if (pid > 0 && cpu > 0)
		printf(", server cpu %.2f s = %.0f samples per CPU second", cpu,
		       (double)atomic_load(&r.samples) / cpu);
	printf("; real time needs %.0f samples/s for %d hosts (x%.1f)\n",
	       (double)hosts * cpus * 99, hosts,
	       sps / ((double)hosts * cpus * 99));
	for (size_t i = 0; i < r.njobs; i++)
		free(r.jobs[i].frame);
	free(r.jobs);
	return atomic_load(&r.failed) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "frame"))
		return cmd_frame(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "size"))
		return cmd_size(argc, argv);
	if (argc >= 3 && !strcmp(argv[1], "run"))
		return cmd_run(argc, argv);
	fprintf(stderr, "usage: push_load frame OUT [--host H] [--instance N] "
			"[--seq N] [--start S] [--cpus N]\n"
			"       push_load size [--cpus N] [--window S]\n"
			"       push_load run URL --hosts N [--windows W] "
			"[--threads T] [--token-file F] [--server-pid PID]\n");
	return 2;
}
