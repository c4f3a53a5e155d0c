// SPDX-License-Identifier: MIT
/*
 * kiln agent: sample the whole machine continuously, symbolize as it goes,
 * write one window at a time into the SQLite store and serve the UI.
 *
 * One thread samples, symbolizes and writes: a window's write takes
 * milliseconds, far less than the ring buffer holds. A window that cannot
 * be written (disk full, locked) stays in memory and is retried with the
 * next one, up to a bound; the loss beyond it is counted, never silent.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "lib/clock.h"
#include "cli/push.h"
#include "cli/renamer.h"
#include "lib/log.h"
#include "profiler/session.h"
#include "profiler/unwind_table.h"
#include "storage/store.h"
#include "storage/wire.h"
#include "lib/timeparse.h"
#include "cli/web_proc.h"

/* Samples kept in memory while the store cannot be written. */
#define MAX_BACKLOG_SAMPLES (2u << 20)

/* The agent's own counters, read by /metrics from a web worker thread. */
struct agent_counters {
	pthread_mutex_t lock;
	struct session_stats session;
	struct store_stats store;
	uint64_t windows_written;
	uint64_t windows_failed;
	uint64_t samples_dropped; /* backlog overflow while the store failed */
	uint64_t samples_written;
	double cpu_seconds;
	uint64_t rss_bytes;
	uint64_t heap_bytes, heap_free_bytes; /* malloc: in use, held free */
	uint64_t window_bytes; /* the last window's profile, before writing */
	double started;
	double last_window; /* monotonic s of the last window written */
	double window_s;
	struct pusher *pusher; /* set before the web server starts */
};

/* Unhealthy when no window was written for three window lengths (and at
 * least 5 s): sampling or the store is stuck, whatever the cause. */
static bool agent_healthy(void *ctx, char *reason, size_t size)
{
	struct agent_counters *c = ctx;
	double now = clock__mono_s(), last, limit;

	pthread_mutex_lock(&c->lock);
	last = c->last_window;
	limit = 3 * c->window_s < 5 ? 5 : 3 * c->window_s;
	pthread_mutex_unlock(&c->lock);
	if (now - last <= limit)
		return true;
	snprintf(reason, size,
		 "no window written for %.0f s (a window every %.1f s)",
		 now - last, c->window_s);
	return false;
}

static void read_self_usage(double *cpu_s, uint64_t *rss)
{
	struct rusage ru;
	long pages = 0;
	FILE *f;

	getrusage(RUSAGE_SELF, &ru);
	*cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		 ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%*s %ld", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	*rss = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void write_metrics(FILE *out, void *ctx)
{
	struct agent_counters *c = ctx;
	struct agent_counters s;

	pthread_mutex_lock(&c->lock);
	s = *c;
	pthread_mutex_unlock(&c->lock);
#define METRIC(name, type, help, value)                                        \
	fprintf(out,                                                           \
		"# HELP kiln_" name " " help "\n# TYPE kiln_" name " " type    \
		"\nkiln_" name " %llu\n",                                      \
		(unsigned long long)(value))
	METRIC("samples_total", "counter", "Samples delivered by the kernel.",
	       s.session.samples_collected);
	fprintf(out, "# HELP kiln_lost_samples_total Samples lost, by "
		     "cause.\n# TYPE kiln_lost_samples_total counter\n");
	fprintf(out,
		"kiln_lost_samples_total{cause=\"ring_buffer_full\"} %llu\n",
		(unsigned long long)s.session.sampler.ringbuf_full);
	fprintf(out,
		"kiln_lost_samples_total{cause=\"store_backlog_full\"} %llu\n",
		(unsigned long long)s.samples_dropped);
	fprintf(out,
		"kiln_lost_samples_total{cause=\"malformed_record\"} %llu\n",
		(unsigned long long)s.session.sampler.bad_records);
	METRIC("ring_buffer_bytes_total", "counter",
	       "Bytes the samples' records took in the ring buffer.",
	       s.session.sampler.record_bytes);
	fprintf(out, "# HELP kiln_unreadable_stacks_total Samples kept with a "
		     "placeholder for an unreadable stack.\n# TYPE "
		     "kiln_unreadable_stacks_total counter\n");
	fprintf(out, "kiln_unreadable_stacks_total{kind=\"user\"} %llu\n",
		(unsigned long long)s.session.sampler.ustack_errors);
	fprintf(out, "kiln_unreadable_stacks_total{kind=\"kernel\"} %llu\n",
		(unsigned long long)s.session.sampler.kstack_errors);
	fprintf(
	    out,
	    "# HELP kiln_truncated_stacks_total Stacks deeper than the "
	    "kernel's limit.\n# TYPE kiln_truncated_stacks_total counter\n");
	fprintf(out, "kiln_truncated_stacks_total{kind=\"user\"} %llu\n",
		(unsigned long long)s.session.sampler.ustack_truncated);
	fprintf(out, "kiln_truncated_stacks_total{kind=\"kernel\"} %llu\n",
		(unsigned long long)s.session.sampler.kstack_truncated);
	fprintf(out, "# HELP kiln_user_stacks_total User stack walks, by how "
		     "they ended.\n# TYPE kiln_user_stacks_total counter\n");
	for (int i = KILN_UNWIND_COMPLETE; i < KILN_UNWIND_END_MAX; i++)
		fprintf(out, "kiln_user_stacks_total{end=\"%s\"} %llu\n",
			unwind__end_name(i),
			(unsigned long long)s.session.sampler.unwind_end[i]);
	fprintf(out, "# HELP kiln_user_frames_total User frames walked, by "
		     "method.\n# TYPE kiln_user_frames_total counter\n");
	fprintf(out, "kiln_user_frames_total{method=\"cfi\"} %llu\n",
		(unsigned long long)s.session.sampler.cfi_frames);
	fprintf(out, "kiln_user_frames_total{method=\"frame_pointer\"} %llu\n",
		(unsigned long long)s.session.sampler.fp_frames);
	METRIC("unwind_tables_loaded", "gauge",
	       "Objects whose unwind table is in the kernel.",
	       s.session.unwind.tables_loaded);
	METRIC("unwind_tables_queued", "gauge",
	       "Objects waiting for their unwind table to be built.",
	       s.session.unwind.queued);
	METRIC("unwind_tables_no_room_total", "counter",
	       "Objects refused an unwind table: --unwind-memory full.",
	       s.session.unwind.no_room);
	METRIC("unwind_tables_evicted_total", "counter",
	       "Unwind tables evicted to make room.", s.session.unwind.evicted);
	METRIC("unwind_rows", "gauge", "Unwind table rows in the kernel.",
	       s.session.unwind.rows_used);
	METRIC("unwind_rows_capacity", "gauge",
	       "Unwind table rows the kernel map holds (--unwind-memory).",
	       s.session.unwind.rows_capacity);
	METRIC("unwind_memory_bytes", "gauge",
	       "Kernel memory the unwind tables use (rows and bucket index).",
	       s.session.unwind.rows_used * 8);
	METRIC("unwind_memory_limit_bytes", "gauge",
	       "Ceiling of the unwind tables' kernel memory (--unwind-memory).",
	       s.session.unwind.rows_capacity * 8);
	METRIC("task_events_lost_total", "counter",
	       "Process events (mmap, exec, exit) lost.",
	       s.session.sampler.task_events_lost);
	METRIC("pid_filter_full_total", "counter",
	       "Child processes not sampled: the --pid set was full.",
	       s.session.sampler.pids_full);
	METRIC("windows_written_total", "counter",
	       "Windows committed to the store.", s.windows_written);
	METRIC("window_write_failures_total", "counter",
	       "Window writes that failed and were retried.", s.windows_failed);
	METRIC("samples_written_total", "counter",
	       "Samples committed to the store.", s.samples_written);
	METRIC("symbolizer_cache_hits_total", "counter",
	       "Symbolizer address cache hits.", s.session.sym_hits);
	METRIC("symbolizer_cache_misses_total", "counter",
	       "Symbolizer address cache misses.", s.session.sym_misses);
	METRIC("symbolizer_objects_open", "gauge",
	       "ELF objects held by the symbolizer.", s.session.objects_open);
	METRIC("symbolizer_cache_bytes", "gauge",
	       "Bytes held by the symbolizer's object cache (ceiling: "
	       "--symbol-cache-size).",
	       s.session.sym.cache_bytes);
	METRIC("symbolizer_cache_limit_bytes", "gauge",
	       "The symbolizer's object cache ceiling (--symbol-cache-size).",
	       s.session.sym.cache_limit);
	METRIC("symbolizer_cache_pinned_bytes", "gauge",
	       "Bytes of the cache held by objects in use that cannot be "
	       "unloaded now (read again for the current window): the cache "
	       "exceeds its ceiling by this at most.",
	       s.session.sym.cache_pinned);
	METRIC("symbolizer_objects_evicted_total", "counter",
	       "Objects evicted from the symbolizer's cache.",
	       s.session.sym.objects_evicted);
	METRIC("symbolizer_indexes_dropped_total", "counter",
	       "Objects in use whose indexes were dropped to stay under the "
	       "ceiling.",
	       s.session.sym.indexes_dropped);
	METRIC("symbolizer_objects_unloaded_total", "counter",
	       "Objects in use unloaded to stay under the ceiling (read again "
	       "when next resolved).",
	       s.session.sym.objects_unloaded);
	METRIC("symbolizer_debug_skipped_total", "counter",
	       "Objects read without their debug sections: above the "
	       "per-object size limit.",
	       s.session.sym.sections_skipped);
	METRIC("symbolizer_debug_files_rejected_total", "counter",
	       "Candidate debug files refused: CRC or build id mismatch.",
	       s.session.sym.debug_files_rejected);
	METRIC("symbolizer_jit_bytes", "gauge", "Bytes held for JIT perf maps.",
	       s.session.sym.jit_bytes);
	METRIC("symbolizer_jit_maps_refused_total", "counter",
	       "JIT perf maps not read: above the size limits.",
	       s.session.sym.jit_maps_refused);
	METRIC("symbolizer_loads_queued", "gauge",
	       "Objects waiting for the symbolizer's loader thread.",
	       s.session.sym.loads_queued);
	METRIC("processes_tracked", "gauge", "Processes in the process table.",
	       s.session.processes_tracked);
	METRIC("collector_bytes", "gauge",
	       "Bytes of the collector's arrays (the window being gathered "
	       "and the spare one it reuses; sized by the busiest window).",
	       s.session.collector_bytes);
	METRIC("window_profile_bytes", "gauge",
	       "Bytes of the last window's symbolized profile (freed once "
	       "written; kept while the store cannot be written, up to the "
	       "backlog bound).",
	       s.window_bytes);
	METRIC("cgroups_cached", "gauge",
	       "Cgroup ids held by the cgroup id -> container cache.",
	       s.session.cgroups_held);
	METRIC("db_size_bytes", "gauge",
	       "Store size on disk (main file and WAL).", s.store.size_bytes);
	METRIC("retention_rows_deleted_total", "counter",
	       "Rows deleted by retention.", s.store.rows_deleted);
	METRIC("store_cache_bytes", "gauge",
	       "Bytes of the store writer's id cache (dropped past 8 MB).",
	       s.store.cache_bytes);
	METRIC("store_cache_resets_total", "counter",
	       "Times the store writer's id cache was dropped for its size.",
	       s.store.cache_resets);
	METRIC("sqlite_memory_bytes", "gauge",
	       "Bytes SQLite holds (page cache, statements).",
	       s.store.sqlite_memory_bytes);
	METRIC("resident_memory_bytes", "gauge",
	       "The agent's resident set size.", s.rss_bytes);
	METRIC("heap_bytes", "gauge",
	       "Bytes the agent has allocated (malloc, every arena).",
	       s.heap_bytes);
	METRIC("heap_free_bytes", "gauge",
	       "Bytes malloc holds free in its arenas (fragmentation).",
	       s.heap_free_bytes);
	fprintf(
	    out,
	    "# HELP kiln_cpu_seconds_total CPU time used by the agent.\n# TYPE "
	    "kiln_cpu_seconds_total counter\nkiln_cpu_seconds_total %.3f\n",
	    s.cpu_seconds);
	push__metrics(s.pusher, out);
#undef METRIC
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: kiln agent [OPTIONS]\n"
	    "Samples every process on every CPU continuously, writes the "
	    "profiles\n"
	    "into a SQLite store a window at a time, and serves the web UI.\n\n"
	    "  --db PATH              the store (default ./kiln.db)\n"
	    "  -F, --frequency HZ     samples per second per CPU (default 99)\n"
	    "  --window DURATION      how often samples are written (default "
	    "10s)\n"
	    "  --retention DURATION   drop data older than this (default 7d; 0 "
	    "keeps all)\n"
	    "  --max-db-size SIZE     drop the oldest data above this size "
	    "(e.g. 2GB)\n"
	    "  --host NAME            host label (default the hostname)\n"
	    "  --listen ADDR          web UI and API address (default "
	    "127.0.0.1:7070)\n"
	    "  --auth-token-file F    bearer token, required to listen beyond "
	    "loopback\n"
	    "  --no-web               do not serve the UI\n"
	    "  --ingest               accept POST /api/v1/ingest uploads "
	    "(off by default)\n"
	    "  --user NAME            the web server's own process runs as "
	    "this "
	    "user\n"
	    "                         (default kiln, else nobody), without "
	    "capabilities;\n"
	    "                         the store is made group-readable (and "
	    "-writable)\n"
	    "                         for its group\n"
	    "  --max-upload SIZE      largest upload body (default 64MB)\n"
	    "  --public-url URL       http(s)://HOST[:PORT] users reach the UI "
	    "by, when\n"
	    "                         not an IP address or localhost\n"
	    "  --stats-interval DUR   how often to log a summary line (default "
	    "60s)\n"
	    "  --symbol-cache-size SIZE  memory for symbol tables and debug "
	    "info\n"
	    "                         (default 16MB)\n" CLI_UNWIND_HELP
		CLI_DEBUGINFOD_HELP
	    "  --push URL             also ship every window to a kiln server "
	    "(http[s]://HOST:PORT);\n"
	    "                         the store is the spool: what the server "
	    "has not\n"
	    "                         acknowledged is sent after an outage, "
	    "oldest first\n"
	    "  --push-token-file F    bearer token for the server (first "
	    "line of F)\n"
	    "  --push-ca FILE         CA certificate(s) to verify an https "
	    "server\n"
	    "  --push-format FMT      kiln (default) or pyroscope (pprof per "
	    "window to\n"
	    "                         URL/ingest, labels in the name)\n"
	    "  --push-app NAME        application name for pyroscope "
	    "(default kiln)\n"
	    "  --push-max-backoff DUR longest wait between retries (default "
	    "30s)\n"
	    "  -h, --help             show this help\n"
	    "SIGINT or SIGTERM writes the open window and exits 0.\n");
}

struct agent {
	struct agent_counters counters;
	struct session *session;
	struct store *store;
	struct profile *backlog; /* samples not yet in the store */
	bool failing;
	struct pusher *pusher;	  /* --push: windows are spooled for it */
	uint64_t window_start_ns; /* start of the backlog's first window */
	struct renamer *renamer;  /* stored frames named again */
};

/*
 * Commits the backlog; with --push it is also spooled for the server in
 * the same transaction, so a window is either stored and queued or
 * neither, whatever happens to the process.
 */
static int commit_window(struct agent *a)
{
	struct store_window w = {.start_ns = a->window_start_ns,
				 .end_ns = clock__unix_ns()};
	uint8_t *payload = NULL;
	int err;

	if (!a->pusher)
		return store__write(a->store, a->backlog);
	if (w.end_ns < w.start_ns)
		w.end_ns = w.start_ns; /* the wall clock stepped back */
	err = wire__encode_payload(a->backlog, &payload, &w.len, &w.raw_len,
				   &w.samples);
	if (err)
		return err;
	w.payload = payload;
	err = store__write_spooled(a->store, a->backlog, &w, NULL);
	free(payload);
	if (!err)
		push__wake(a->pusher);
	return err;
}

static unsigned rename_budget_ms(uint64_t window_ns)
{
	uint64_t ms = window_ns / 20000000ULL;

	return ms < 10 ? 10 : ms > 500 ? 500 : (unsigned)ms;
}

/* Writes the backlog; on failure keeps it for the next try. */
static void write_window(struct agent *a)
{
	size_t n;
	int err;

	profile__samples(a->backlog, &n);
	if (!n) {
		/* Nothing sampled is still a window done. */
		pthread_mutex_lock(&a->counters.lock);
		if (!a->failing)
			a->counters.last_window = clock__mono_s();
		pthread_mutex_unlock(&a->counters.lock);
		a->window_start_ns = clock__unix_ns();
		return;
	}
	err = commit_window(a);
	pthread_mutex_lock(&a->counters.lock);
	a->counters.window_bytes = profile__mem_bytes(a->backlog);
	if (err) {
		a->counters.windows_failed++;
		pthread_mutex_unlock(&a->counters.lock);
		/* The store already logged the error, once; say what the
		 * agent does about it, once too, not once per window. */
		if (!a->failing)
			pr_warn("cannot write a window to the store (%s): "
				"keeping up to %u samples in memory and "
				"retrying every window",
				strerror(-err), MAX_BACKLOG_SAMPLES);
		a->failing = true;
		if (n > MAX_BACKLOG_SAMPLES) {
			/* Bound memory: drop the oldest window's worth,
			 * counted. */
			uint64_t dropped = profile__total(a->backlog);

			profile__free(a->backlog);
			a->backlog = profile__new();
			pthread_mutex_lock(&a->counters.lock);
			a->counters.samples_dropped += dropped;
			pthread_mutex_unlock(&a->counters.lock);
			pr_err("dropped %llu samples that could not be written",
			       (unsigned long long)dropped);
		}
		return;
	}
	a->counters.windows_written++;
	a->counters.last_window = clock__mono_s();
	a->counters.samples_written += profile__total(a->backlog);
	pr_debug("window committed: %llu samples, %llu written in all",
		 (unsigned long long)profile__total(a->backlog),
		 (unsigned long long)a->counters.samples_written);
	pthread_mutex_unlock(&a->counters.lock);
	if (a->failing)
		pr_warn("the store is writable again; the backlog is written");
	a->failing = false;
	profile__free(a->backlog);
	a->backlog = profile__new();
	a->window_start_ns = clock__unix_ns();
}

static void update_counters(struct agent *a)
{
	struct agent_counters *c = &a->counters;
	struct session_stats ss;
	struct store_stats st;
	double cpu;
	uint64_t rss;

	session__stats(a->session, &ss);
	store__stats(a->store, &st);
	read_self_usage(&cpu, &rss);
	/* Walks every arena under its lock: once a window, not per request. */
	struct mallinfo2 mi = mallinfo2();
	pthread_mutex_lock(&c->lock);
	c->heap_bytes = mi.uordblks + mi.hblkhd;
	c->heap_free_bytes = mi.fordblks;
	c->session = ss;
	c->store = st;
	c->cpu_seconds = cpu;
	c->rss_bytes = rss;
	uint64_t lost = ss.sampler.ringbuf_full + c->samples_dropped;
	pthread_mutex_unlock(&c->lock);
	push__set_lost(a->pusher, lost);
}

static void log_summary(struct agent *a)
{
	struct agent_counters *c = &a->counters;
	double up = clock__mono_s() - c->started;

	pr_info("samples %llu, lost %llu (ring buffer %llu, backlog %llu), "
		"windows %llu written %llu failed, symbolizer hits %llu misses "
		"%llu, db %.1f MB, cpu %.2f%% of a core, rss %.1f MB",
		(unsigned long long)c->session.samples_collected,
		(unsigned long long)(c->session.sampler.ringbuf_full +
				     c->samples_dropped),
		(unsigned long long)c->session.sampler.ringbuf_full,
		(unsigned long long)c->samples_dropped,
		(unsigned long long)c->windows_written,
		(unsigned long long)c->windows_failed,
		(unsigned long long)c->session.sym_hits,
		(unsigned long long)c->session.sym_misses,
		c->store.size_bytes / 1e6,
		up > 0 ? 100.0 * c->cpu_seconds / up : 0, c->rss_bytes / 1e6);
	{
		const uint64_t *e = c->session.sampler.unwind_end;

		pr_info("user stacks: %llu complete, %llu no unwind info, %llu "
			"table not loaded yet, %llu unwind memory full, %llu "
			"frame limit, %llu unreadable; unwind tables %llu "
			"loaded, %llu queued, %.1f of %.1f MiB",
			(unsigned long long)e[KILN_UNWIND_COMPLETE],
			(unsigned long long)e[KILN_UNWIND_NO_INFO],
			(unsigned long long)e[KILN_UNWIND_NOT_LOADED],
			(unsigned long long)e[KILN_UNWIND_NO_ROOM],
			(unsigned long long)e[KILN_UNWIND_FRAME_LIMIT],
			(unsigned long long)(e[KILN_UNWIND_UNREADABLE] +
					     e[KILN_UNWIND_BAD_FRAME]),
			(unsigned long long)c->session.unwind.tables_loaded,
			(unsigned long long)c->session.unwind.queued,
			c->session.unwind.rows_used * 8.0 / (1 << 20),
			c->session.unwind.rows_capacity * 8.0 / (1 << 20));
	}
}

int cmd_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'D'},
	    {"frequency", required_argument, NULL, 'F'},
	    {"window", required_argument, NULL, 'w'},
	    {"retention", required_argument, NULL, 'r'},
	    {"max-db-size", required_argument, NULL, 'm'},
	    {"host", required_argument, NULL, 'H'},
	    {"listen", required_argument, NULL, 'l'},
	    {"auth-token-file", required_argument, NULL, 'a'},
	    {"no-web", no_argument, NULL, 'N'},
	    {"ingest", no_argument, NULL, 'i'},
	    {"public-url", required_argument, NULL, 'u'},
	    {"max-upload", required_argument, NULL, 'U'},
	    {"user", required_argument, NULL, 'X'},
	    {"stats-interval", required_argument, NULL, 's'},
	    {"symbol-cache-size", required_argument, NULL, 'C'},
	    {"debuginfod", required_argument, NULL, 'G'},
	    {"debuginfod-cache", required_argument, NULL, 'Y'},
	    {"unwind", required_argument, NULL, 'W'},
	    {"unwind-memory", required_argument, NULL, 'M'},
	    {"push", required_argument, NULL, 'P'},
	    {"push-token-file", required_argument, NULL, 'T'},
	    {"push-ca", required_argument, NULL, 'K'},
	    {"push-format", required_argument, NULL, 'f'},
	    {"push-app", required_argument, NULL, 'A'},
	    {"push-max-backoff", required_argument, NULL, 'B'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *dbgd_url = NULL, *dbgd_cache = NULL;
	char dbgd_buf[4096];
	struct agent a = {.counters = {.lock = PTHREAD_MUTEX_INITIALIZER}};
	struct store_opts sopts = {.path = "kiln.db",
				   .retention_ns =
				       7ULL * 24 * 3600 * 1000000000ULL};
	/* A window waits for binaries still being read: a tenth of the
	 * window, at most 300 ms (set once the window is known). */
	struct session_opts opts = {
	    .frequency = 99, .kernel_stacks = true, .user_stacks = true};
	struct web_proc_opts wopts = {0};
	struct push_opts popts = {0};
	uint64_t window_ns = 10ULL * 1000000000ULL,
		 stats_ns = 60ULL * 1000000000ULL;
	char host[256] = "";
	bool web = true;
	struct web_proc *srv = NULL;
	int c, ret = EXIT_RUNTIME;

	optind = 1;
	while ((c = getopt_long(argc, argv, "F:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			sopts.path = optarg;
			break;
		case 'G':
			dbgd_url = optarg;
			break;
		case 'Y':
			dbgd_cache = optarg;
			break;
		case 'W':
			if (cli__unwind_mode(optarg, &opts.unwind_mode))
				return EXIT_USAGE;
			break;
		case 'M':
			if (cli__unwind_memory(optarg, &opts.unwind_memory))
				return EXIT_USAGE;
			break;
		case 'F':
			if (cli__frequency(optarg, &opts.frequency))
				return EXIT_USAGE;
			break;
		case 'w':
			if (timeparse__duration(optarg, &window_ns) ||
			    window_ns < 100000000ULL) {
				pr_err("--window must be a duration of at "
				       "least 100ms (like 10s), not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (!strcmp(optarg, "0"))
				sopts.retention_ns = 0;
			else if (timeparse__duration(optarg,
						     &sopts.retention_ns)) {
				pr_err("--retention must be a duration (like "
				       "7d), not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			if (timeparse__size(optarg, &sopts.max_size_bytes)) {
				pr_err("--max-db-size must be a size (like "
				       "2GB), not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'H':
			snprintf(host, sizeof(host), "%s", optarg);
			break;
		case 'l':
			wopts.listen = optarg;
			break;
		case 'a':
			wopts.auth_token_file = optarg;
			break;
		case 'i':
			wopts.enable_ingest = true;
			break;
		case 'u':
			wopts.public_url = optarg;
			break;
		case 'U':
			if (cli__max_upload(optarg, &wopts.max_upload_bytes))
				return EXIT_USAGE;
			break;
		case 'N':
			web = false;
			break;
		case 'X':
			wopts.user = optarg;
			break;
		case 'C':
			if (timeparse__size(optarg, &opts.symbol_cache_bytes) ||
			    opts.symbol_cache_bytes < (1ULL << 20)) {
				pr_err("--symbol-cache-size must be a size of "
				       "at least 1MB (like 32MB), not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			if (timeparse__duration(optarg, &stats_ns) ||
			    !stats_ns) {
				pr_err("--stats-interval must be a duration, "
				       "not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'P':
			popts.url = optarg;
			break;
		case 'T':
			popts.token_file = optarg;
			break;
		case 'K':
			popts.ca_file = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "kiln"))
				popts.format = PUSH_KILN;
			else if (!strcmp(optarg, "pyroscope"))
				popts.format = PUSH_PYROSCOPE;
			else {
				pr_err("--push-format must be kiln or "
				       "pyroscope, not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'A':
			popts.app = optarg;
			break;
		case 'B':
			if (timeparse__duration(optarg,
						&popts.max_backoff_ns) ||
			    !popts.max_backoff_ns) {
				pr_err("--push-max-backoff must be a duration "
				       "(like 30s), not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!popts.url && (popts.token_file || popts.ca_file || popts.app)) {
		pr_err("--push-token-file, --push-ca and --push-app need "
		       "--push URL");
		return EXIT_USAGE;
	}
	if (cli__extra_args(argc, argv))
		return EXIT_USAGE;
	if (!host[0] && gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "localhost");
	opts.host = host;
	if (log_level < LOG_INFO && !getenv("KILN_LOG"))
		log_level = LOG_INFO;

	cli__catch_stop_signals();

	a.store = store__open(&sopts);
	if (!a.store)
		return EXIT_RUNTIME; /* the store said why */
	a.backlog = profile__new();
	cli__debuginfod_opts(dbgd_url, dbgd_cache, &opts.debuginfod, dbgd_buf,
			     sizeof(dbgd_buf));
	a.window_start_ns = clock__unix_ns();
	if (popts.url) {
		popts.db_path = sopts.path;
		popts.host = host;
		a.pusher = push__start(&popts);
		if (!a.pusher)
			goto out; /* push said why */
		a.counters.pusher = a.pusher;
	}
	opts.flush_wait_ms = (int)(window_ns / 10000000ULL);
	if (opts.flush_wait_ms > 300)
		opts.flush_wait_ms = 300;
	a.session = session__new(&opts);
	if (!a.session || !a.backlog)
		goto out;
	a.renamer = renamer__new(a.store, session__symbolizer(a.session));
	if (!a.renamer)
		goto out;
	a.counters.started = clock__mono_s();
	a.counters.last_window = a.counters.started;
	a.counters.window_s = window_ns / 1e9;
	update_counters(&a);
	if (web) {
		wopts.db_path = sopts.path;
		wopts.metrics = write_metrics;
		wopts.ctx = &a.counters;
		wopts.healthy = agent_healthy;
		/* Its own unprivileged process: see cli/web_proc.h. */
		srv = web_proc__start(&wopts, &ret);
		if (!srv)
			goto out; /* it said why; ret is kiln server's code */
		/* The port actually bound: --listen ADDR:0 picks a free one. */
		const char *listen =
		    wopts.listen ? wopts.listen : "127.0.0.1:7070";
		const char *colon = strrchr(listen, ':');
		pr_info("serving the UI at http://%.*s:%d/",
			colon ? (int)(colon - listen) : 9,
			colon ? listen : "127.0.0.1", web_proc__port(srv));
	}
	pr_info("sampling every CPU at %u Hz into '%s', a window every %.1f s",
		opts.frequency, sopts.path, window_ns / 1e9);

	double next_window = clock__mono_s() + window_ns / 1e9;
	double next_stats = clock__mono_s() + stats_ns / 1e9;
	while (!cli__stop) {
		int err = session__poll(a.session, 100);

		web_proc__tick(srv);
		if (err && err != -EINTR)
			pr_warn("reading samples failed: %s", strerror(-err));
		double now = clock__mono_s();
		if (now >= next_window) {
			session__flush(a.session, a.backlog);
			write_window(&a);
			/* Debug info that arrived names the stored frames of
			 * its build id again: a twentieth of a window at most
			 * per window, so sampling is never held up for long. */
			if (!a.failing)
				renamer__step(a.renamer,
					      rename_budget_ms(window_ns));
			/* What the renaming resolved counts too. */
			symbolizer__fit(session__symbolizer(a.session));
			store__enforce_retention(a.store, clock__unix_ns());
			update_counters(&a);
			next_window += window_ns / 1e9;
			if (next_window < now)
				next_window = now + window_ns / 1e9;
		}
		if (now >= next_stats) {
			log_summary(&a);
			next_stats = now + stats_ns / 1e9;
		}
	}
	/* Write the open window before leaving. */
	session__flush(a.session, a.backlog);
	write_window(&a);
	/* Sampling has stopped: up to 2 s to name what was stored by offset
	 * (files read late, debug files that arrived). The files still being
	 * read are taken in first, and again whenever the renamer waits for
	 * one read again: nothing else polls for them after this. */
	if (!a.failing) {
		double end = clock__mono_s() + 2.0;
		double left;

		session__collect_loads(a.session, 1000);
		while ((left = end - clock__mono_s()) > 0 &&
		       renamer__step(a.renamer, (unsigned)(left * 1000)))
			session__collect_loads(a.session, 100);
	}
	update_counters(&a);
	log_summary(&a);
	ret = a.failing ? EXIT_RUNTIME : 0;
out:
	/* A few seconds to deliver the last windows; the rest stays spooled
	 * for the next start. */
	push__stop(a.pusher, 3.0);
	web_proc__stop(srv);
	renamer__free(a.renamer);
	session__free(a.session);
	profile__free(a.backlog);
	store__close(a.store);
	return ret;
}
