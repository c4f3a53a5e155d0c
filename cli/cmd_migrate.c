// SPDX-License-Identifier: MIT
/*
 * kiln migrate: copies a store into another, window by window, at full
 * resolution (20 ms slots, every label and frame): the way a team that
 * started on one SQLite file moves to ClickHouse. Copying again, after an
 * interruption or for an overlapping range, adds nothing twice when the
 * destination is ClickHouse, which recognises windows it already holds.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/timeparse.h"
#include "storage/store.h"

#define MAX_RETRIES 8
/*
 * Windows are written a minute at a time: six times fewer requests to a
 * remote store. Batches start on whole minutes (and the range is widened to
 * them), so another copy of an overlapping range writes the same batches,
 * which ClickHouse recognises.
 */
#define BATCH_NS (60 * 1000000000ULL)

static void usage(FILE *out)
{
	fputs("usage: kiln migrate --from SRC --to DST [--since T] [--until "
	      "T]\n\n"
	      "Copies every window of the store SRC (a SQLite file) into the "
	      "store DST\n"
	      "(clickhouse://[USER[:PASS]@]HOST[:PORT]/DB, created if "
	      "missing, or another\n"
	      "SQLite file) at full resolution. Safe to run again: "
	      "ClickHouse skips the\n"
	      "windows it already holds.\n\n"
	      "  --from SRC        the store to read (read only)\n"
	      "  --to DST          the store to write\n"
	      "  --since T, --until T\n"
	      "                    copy only [T, T) (RFC 3339, unix seconds, "
	      "-2d, now),\n"
	      "                    widened to whole minutes;\n"
	      "                    default: everything\n"
	      "  -h, --help        this help\n",
	      out);
}

struct copy {
	struct store *dst;
	struct profile *batch;
	uint64_t batch_start; /* BATCH_NS boundary, 0 while empty */
	const char *name;
	uint64_t windows, samples;
	double started, reported;
};

/* Writes the batch; retries while the destination is down or slow. */
static int flush(struct copy *c)
{
	int err = 0;

	if (!c->batch_start)
		return 0;
	for (int i = 0; i <= MAX_RETRIES && !cli__stop; i++) {
		err = store__write(c->dst, c->batch);
		if (err != -EAGAIN && err != -EBUSY)
			break;
		/* 0.1 s doubling to about 25 s: a restart fits in it. */
		usleep((useconds_t)(100000u << i));
	}
	if (cli__stop)
		return -EINTR;
	if (err)
		return err;
	c->samples += profile__total(c->batch);
	profile__free(c->batch);
	c->batch = NULL;
	c->batch_start = 0;
	if (clock__mono_s() - c->reported >= 5) {
		c->reported = clock__mono_s();
		pr_note("migrate: %llu windows, %llu samples ...",
			(unsigned long long)c->windows,
			(unsigned long long)c->samples);
	}
	return 0;
}

static int copy_window(const struct profile *p, void *ctx)
{
	struct copy *c = ctx;
	const struct profile_meta *m = profile__meta_const(p);
	uint64_t start = m->start_ns - m->start_ns % BATCH_NS;
	int err;

	if (c->batch_start && start != c->batch_start && (err = flush(c)))
		return err;
	if (!c->batch) {
		if (!(c->batch = profile__new()))
			return -ENOMEM;
		c->batch_start = start;
		*profile__meta(c->batch) = *m;
		profile__meta(c->batch)->start_ns = start;
		profile__meta(c->batch)->duration_ns = BATCH_NS;
	}
	profile__merge(c->batch, p);
	c->windows++;
	return 0;
}

int cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *from = NULL, *to = NULL, *since = NULL, *until = NULL;
	struct store_query q = {0};
	struct store *src = NULL;
	struct store_stats ss;
	struct copy cp = {0};
	char sname[512], dname[512];
	uint64_t now = clock__unix_ns();
	int c, err, rc = EXIT_RUNTIME;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 's':
			since = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || !from || !to) {
		pr_err("%s", optind < argc ? "unexpected argument"
					   : "--from and --to are required");
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((since && timeparse__time(since, now, &q.from_ns)) ||
	    (until && timeparse__time(until, now, &q.to_ns))) {
		pr_err("--since/--until: not a time (RFC 3339, unix seconds, "
		       "-2d, now)");
		return EXIT_USAGE;
	}
	store__redact(from, sname, sizeof(sname));
	store__redact(to, dname, sizeof(dname));
	if (!strcmp(from, to)) {
		pr_err("--from and --to are the same store");
		return EXIT_USAGE;
	}
	src =
	    store__open(&(struct store_opts){.path = from, .read_only = true});
	if (!src) {
		pr_err("cannot open '%s': %s", sname, strerror(errno));
		return EXIT_RUNTIME;
	}
	store__stats(src, &ss);
	if (!since)
		q.from_ns = ss.first_ns;
	if (!until)
		q.to_ns = ss.last_ns ? ss.last_ns : now;
	/* Whole batches only: a batch cut by the range would differ from the
	 * whole one a previous copy wrote, and count twice. */
	q.from_ns -= q.from_ns % BATCH_NS;
	if (q.to_ns % BATCH_NS)
		q.to_ns += BATCH_NS - q.to_ns % BATCH_NS;
	cp.dst = store__open(&(struct store_opts){.path = to});
	if (!cp.dst) {
		pr_err("cannot open '%s': %s", dname, strerror(errno));
		goto out;
	}
	cli__catch_stop_signals();
	cp.started = cp.reported = clock__mono_s();
	err =
	    q.from_ns < q.to_ns ? store__windows(src, &q, copy_window, &cp) : 0;
	if (!err)
		err = flush(&cp);
	if (err) {
		pr_err("stopped after %llu windows: %s",
		       (unsigned long long)cp.windows,
		       err == -EOPNOTSUPP
			   ? "this store cannot be read window by window "
			     "(copy from SQLite)"
			   : strerror(-err));
		goto out;
	}
	pr_note("copied %llu windows, %llu samples from '%s' to '%s' in %.1f s",
		(unsigned long long)cp.windows, (unsigned long long)cp.samples,
		sname, dname, clock__mono_s() - cp.started);
	rc = 0;
out:
	profile__free(cp.batch);
	store__close(cp.dst);
	store__close(src);
	return rc;
}
