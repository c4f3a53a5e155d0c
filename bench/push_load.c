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
 * Windows look like an agent's (tests/histgen.h, HISTGEN_SERVICES): CPUS *
 * 99 Hz * 10 s samples evenly spaced over the window, 60 processes of 12
 * programs, stacks of 8-41 frames from per-program call trees with
 * C++-like function names and source files and kernel tails, processes
 * and stacks drawn with a steep (cubic) skew.
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
#include "tests/histgen.h"

#define NS 1000000000ULL
#define NPROC 60
#define ENCODE_REPS 10 /* size: encodes timed */
#define NPROG 12

static const char *const progs[NPROG] = {
    "postgres", "nginx",   "java",	 "python3", "node",    "envoy",
    "redis",	"kubelet", "containerd", "sshd",    "systemd", "rsyslogd"};

/*
 * The windows of one host's agent: every host has the same dictionary
 * (programs, stacks) under its own host label. 'host' must outlive the
 * generator.
 */
static struct histgen *host_windows(const char *const *host)
{
	struct histgen *g = histgen__new(&(struct histgen_opts){
	    .seed = 0x9e3779b97f4a7c15ULL,
	    .shape = HISTGEN_SERVICES,
	    .stacks = 250,
	    .funcs = 400,
	    .depth_min = 8,
	    .depth_max = 37,
	    .stack_pick = HISTGEN_CUBE,
	    .programs = NPROG,
	    .comms = progs,
	    .hosts = host,
	    .nr_hosts = 1,
	    .pid_base = 1000,
	    .live = NPROC,
	    .live_pick = HISTGEN_CUBE,
	    .even_times = 1,
	    .jitter_ns = 5000000,
	});

	if (!g)
		abort(); /* the options are constant */
	return g;
}

/*
 * One window of 'cpus' CPUs at 99 Hz over 'secs' seconds from 'start' (the
 * generator's profile: the next window rewrites it, and the number of
 * samples must stay the same).
 */
static struct profile *window(struct histgen *g, uint64_t start, int cpus,
			      int secs, uint64_t seed)
{
	histgen__seed(g, seed * 0x2545f4914f6cdd1dULL + 1);
	return histgen__refill(g, start, start + (uint64_t)secs * NS,
			       (size_t)cpus * 99 * (size_t)secs);
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

static int bad_size(void)
{
	fprintf(stderr, "push_load: --cpus and --window must be at least 1\n");
	return 2;
}

static int cmd_frame(int argc, char **argv)
{
	struct wire_header h = {0};
	const char *out = argv[2], *host = h.host;
	uint64_t start = strtoull(arg(argc, argv, "--start", "0"), NULL, 10);
	int cpus = atoi(arg(argc, argv, "--cpus", "2"));
	struct histgen *g;
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
	if (cpus < 1)
		return bad_size();
	g = host_windows(&host);
	p = window(g, h.start_ns, cpus, 10, h.seq);
	if (encode(p, &h, &frame, &len, NULL))
		return 1;
	f = fopen(out, "wb");
	if (!f || fwrite(frame, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "push_load: cannot write '%s'\n", out);
		return 1;
	}
	printf("%llu\n", (unsigned long long)h.samples);
	free(frame);
	histgen__free(g);
	return 0;
}

static int cmd_size(int argc, char **argv)
{
	int cpus = atoi(arg(argc, argv, "--cpus", "16"));
	int secs = atoi(arg(argc, argv, "--window", "10"));
	struct wire_header h = {.instance = 1, .seq = 1};
	const char *host = h.host;
	struct histgen *g;
	struct profile *p;
	uint8_t *frame;
	size_t len, raw, plen = 0;
	char *pb = NULL;
	FILE *f;
	struct timespec a, b;

	h.start_ns = 1800000000ULL * NS;
	h.end_ns = h.start_ns + (uint64_t)secs * NS;
	snprintf(h.host, sizeof(h.host), "host-0001");
	if (cpus < 1 || secs < 1)
		return bad_size();
	g = host_windows(&host);
	p = window(g, h.start_ns, cpus, secs, 1);
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
	histgen__free(g);
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

	if (hosts < 1 || windows < 1 || threads < 1 || threads > 64 || cpus < 1)
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
	 * server. Encoding happens before the clock starts; jobs are sent
	 * window by window, each window from every host. */
	r.njobs = (size_t)hosts * (size_t)windows;
	r.jobs = calloc(r.njobs, sizeof(*r.jobs));
	fprintf(stderr, "push_load: encoding %zu windows...\n", r.njobs);
	for (int hh = 0; hh < hosts; hh++) {
		char name[sizeof(((struct wire_header *)0)->host)];
		const char *host = name;
		struct histgen *g;

		snprintf(name, sizeof(name), "host-%04d", hh);
		g = host_windows(&host);
		for (int w = 0; w < windows; w++) {
			struct wire_header h = {0};
			struct job *j = &r.jobs[(size_t)w * hosts + hh];
			uint64_t start = (base + (uint64_t)w * 10) * NS;
			struct profile *p;

			snprintf(h.host, sizeof(h.host), "%s", name);
			/* Unique per run: runs share the server's store. */
			h.instance = base * 10000 + (uint64_t)hh + 1;
			h.seq = (uint64_t)w + 1;
			h.start_ns = start;
			h.end_ns = start + 10 * NS;
			p = window(g, start, cpus, 10,
				   (uint64_t)(w * 7 + hh % 4));
			if (encode(p, &h, &j->frame, &j->len, NULL))
				return 1;
			j->samples = h.samples;
		}
		histgen__free(g);
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
