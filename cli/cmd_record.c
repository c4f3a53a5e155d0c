// SPDX-License-Identifier: MIT
/* kiln record: sample the whole system (or some processes) once. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "profile/format.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "profiler/session.h"
#include "profiler/unwind_table.h"

#define MAX_PIDS 1024

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: kiln record [OPTIONS]\n"
	    "Samples the stacks of every process on every CPU (or of the "
	    "given\n"
	    "processes and their children) and writes one profile.\n\n"
	    "  -F, --frequency HZ   samples per second per CPU (default 99)\n"
	    "  -d, --duration SECS  how long to record (default 10; Ctrl-C "
	    "ends early)\n"
	    "  -p, --pid PID        only this process and its children "
	    "(repeatable)\n"
	    "      --kernel-only    kernel stacks only\n"
	    "      --user-only      user stacks only\n"
	    "      --include-idle   also sample the idle task\n" CLI_UNWIND_HELP
	    "  -f, --format FMT     folded (default), pprof, speedscope, svg\n"
	    "  -o, --output FILE    write the profile here (default stdout)\n"
	    "      --title TEXT     title for SVG output\n" CLI_DEBUGINFOD_HELP
	    "  -h, --help           show this help\n");
}

static void print_summary(const struct session_stats *st, double secs,
			  uint64_t in_profile)
{
	const struct sampler_stats *s = &st->sampler;

	pr_note(
	    "%llu samples from %llu processes in %.1f s; %llu in the profile",
	    (unsigned long long)st->samples_collected,
	    (unsigned long long)st->processes_seen, secs,
	    (unsigned long long)in_profile);
	pr_note("lost samples: %llu (ring buffer full), %llu (malformed "
		"record); unreadable stacks kept as placeholders: %llu user, "
		"%llu kernel; truncated at %d frames: %llu user, %llu kernel",
		(unsigned long long)s->ringbuf_full,
		(unsigned long long)s->bad_records,
		(unsigned long long)s->ustack_errors,
		(unsigned long long)s->kstack_errors, KILN_MAX_STACK,
		(unsigned long long)s->ustack_truncated,
		(unsigned long long)s->kstack_truncated);
	if (s->records)
		pr_note("ring buffer: %llu records, %.0f bytes each on average",
			(unsigned long long)s->records,
			(double)s->record_bytes / (double)s->records);
	if (st->unwind.rows_capacity) {
		static const int order[] = {
		    KILN_UNWIND_COMPLETE,    KILN_UNWIND_NO_INFO,
		    KILN_UNWIND_NOT_LOADED,  KILN_UNWIND_NO_ROOM,
		    KILN_UNWIND_FRAME_LIMIT, KILN_UNWIND_UNREADABLE,
		    KILN_UNWIND_BAD_FRAME,
		};

		char line[512];
		size_t n = 0;

		/* One line, one write (lib/log.h): built here first. */
		n += (size_t)snprintf(line, sizeof(line), "user stacks:");
		for (size_t i = 0;
		     i < sizeof(order) / sizeof(order[0]) && n < sizeof(line);
		     i++)
			n += (size_t)snprintf(
			    line + n, sizeof(line) - n, "%s %llu %s",
			    i ? "," : "",
			    (unsigned long long)s->unwind_end[order[i]],
			    unwind__end_name(order[i]));
		pr_note("%s; frames: %llu by unwind table, %llu by frame "
			"pointer",
			line, (unsigned long long)s->cfi_frames,
			(unsigned long long)s->fp_frames);
		pr_note("unwind tables: %llu objects, %llu loaded (%llu of "
			"%llu rows, %.1f MiB), %llu without CFI, %llu did not "
			"fit, %llu queued; built in %.2f s",
			(unsigned long long)st->unwind.objects,
			(unsigned long long)st->unwind.tables_loaded,
			(unsigned long long)st->unwind.rows_used,
			(unsigned long long)st->unwind.rows_capacity,
			st->unwind.rows_capacity * 8.0 / (1 << 20),
			(unsigned long long)st->unwind.no_cfi,
			(unsigned long long)st->unwind.no_room,
			(unsigned long long)st->unwind.queued,
			st->unwind.build_ns / 1e9);
	}
	if (s->pids_full)
		pr_note("%llu child processes not sampled: too many live "
			"processes under --pid",
			(unsigned long long)s->pids_full);
	if (st->sym.sections_skipped)
		pr_note("%llu objects read without their debug sections (above "
			"the size limit per object)",
			(unsigned long long)st->sym.sections_skipped);
	if (s->task_events_lost)
		pr_note("%llu process events lost: some frames may stay "
			"unsymbolized",
			(unsigned long long)s->task_events_lost);
}

int cmd_record(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"frequency", required_argument, NULL, 'F'},
	    {"duration", required_argument, NULL, 'd'},
	    {"pid", required_argument, NULL, 'p'},
	    {"kernel-only", no_argument, NULL, 'K'},
	    {"user-only", no_argument, NULL, 'U'},
	    {"include-idle", no_argument, NULL, 'I'},
	    {"unwind", required_argument, NULL, 'W'},
	    {"unwind-memory", required_argument, NULL, 'M'},
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"title", required_argument, NULL, 'T'},
	    {"debuginfod", required_argument, NULL, 'G'},
	    {"debuginfod-cache", required_argument, NULL, 'Y'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *dbgd_url = NULL, *dbgd_cache = NULL;
	char dbgd_buf[4096];
	/* The one flush at the end waits a little for objects still being
	 * read (bounded: a hostile file cannot hold the recording). */
	struct session_opts opts = {.frequency = 99,
				    .kernel_stacks = true,
				    .user_stacks = true,
				    .flush_wait_ms = 2000};
	struct write_opts wopts = {0};
	enum profile_format fmt = FORMAT_FOLDED;
	unsigned long duration = 10, v;
	const char *output = NULL;
	static int pids[MAX_PIDS];
	size_t nr_pids = 0;
	int c, err, ret = EXIT_RUNTIME;

	optind = 1;
	while ((c = getopt_long(argc, argv, "F:d:p:f:o:h", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'F':
			if (cli__frequency(optarg, &opts.frequency))
				return EXIT_USAGE;
			break;
		case 'd':
			if (cli__uint(optarg, 365UL * 24 * 3600, &duration)) {
				pr_err("--duration must be a positive number "
				       "of seconds, not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'p':
			if (cli__uint(optarg, INT_MAX, &v) ||
			    nr_pids == MAX_PIDS) {
				pr_err("--pid must be a process id, not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			pids[nr_pids++] = (int)v;
			break;
		case 'K':
			opts.user_stacks = false;
			break;
		case 'U':
			opts.kernel_stacks = false;
			break;
		case 'I':
			opts.include_idle = true;
			break;
		case 'W':
			if (cli__unwind_mode(optarg, &opts.unwind_mode))
				return EXIT_USAGE;
			break;
		case 'M':
			if (cli__unwind_memory(optarg, &opts.unwind_memory))
				return EXIT_USAGE;
			break;
		case 'f':
			fmt = format__from_name(optarg);
			if (fmt == FORMAT_UNKNOWN || fmt == FORMAT_JSON) {
				pr_err("unknown --format '%s' (folded, pprof, "
				       "speedscope, svg)",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			output = optarg;
			break;
		case 'T':
			wopts.title = optarg;
			break;
		case 'G':
			dbgd_url = optarg;
			break;
		case 'Y':
			dbgd_cache = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli__extra_args(argc, argv))
		return EXIT_USAGE;
	if (!opts.user_stacks && !opts.kernel_stacks) {
		pr_err("--kernel-only and --user-only exclude each other");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < nr_pids; i++) {
		if (kill(pids[i], 0) && errno == ESRCH) {
			pr_err("no process with pid %d", pids[i]);
			return EXIT_RUNTIME;
		}
	}
	opts.pids = pids;
	opts.nr_pids = nr_pids;

	FILE *out = stdout;
	if (output) {
		out = fopen(output, "w");
		if (!out) {
			pr_err("failed to open '%s': %s", output,
			       strerror(errno));
			return EXIT_RUNTIME;
		}
	}

	cli__catch_stop_signals();

	cli__debuginfod_opts(dbgd_url, dbgd_cache, &opts.debuginfod, dbgd_buf,
			     sizeof(dbgd_buf));
	struct session *s = session__new(&opts);
	if (!s)
		goto out_close;
	bool tty = isatty(STDERR_FILENO);
	double start = clock__mono_s(), last_progress = 0, now = start;
	struct session_stats st;

	while (!cli__stop &&
	       (now = clock__mono_s()) - start < (double)duration) {
		err = session__poll(s, 100);
		if (err && err != -EINTR) {
			pr_err("reading samples failed: %s", strerror(-err));
			break;
		}
		if (tty && now - last_progress >= 1.0) {
			session__stats(s, &st);
			log__progress("recording %.0f/%lu s, %llu samples ",
				      now - start, duration,
				      (unsigned long long)st.samples_collected);
			last_progress = now;
		}
	}
	if (tty)
		log__progress_done();

	struct profile *p = profile__new();
	if (!p) {
		pr_err("out of memory");
		goto out_session;
	}
	uint64_t in_profile = session__flush(s, p);
	session__stats(s, &st);
	struct profile_meta *meta = profile__meta(p);
	uint64_t end_ns = clock__unix_ns();
	double secs = clock__mono_s() - start;
	meta->duration_ns = (uint64_t)(secs * 1e9);
	meta->start_ns = end_ns - meta->duration_ns;
	meta->period_ns = 1000000000ULL / opts.frequency;

	err = profile__write(p, fmt, &wopts, out);
	if (err)
		pr_err("failed to write the profile%s%s: %s",
		       output ? " to " : "", output ? output : "",
		       err == -ENOTSUP ? "format not supported yet"
				       : strerror(-err));
	else
		ret = 0;
	print_summary(&st, secs, in_profile);
	profile__free(p);
out_session:
	session__free(s);
out_close:
	if (out != stdout && fclose(out) && !ret) {
		pr_err("failed to write '%s': %s", output, strerror(errno));
		ret = EXIT_RUNTIME;
	}
	return ret;
}
