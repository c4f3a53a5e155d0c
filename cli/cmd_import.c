// SPDX-License-Identifier: MIT
/* kiln import: put a pprof or folded profile file into a store. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "profile/format.h"
#include "profile/ingest.h"
#include "lib/timeparse.h"
#include "storage/store.h"

#define MAX_LABELS 64

static void usage(FILE *out)
{
	fputs(
	    "usage: kiln import FILE --store URL [--label KEY=VALUE]... "
	    "[--time "
	    "T]\n"
	    "                   [--plain-folded]\n\n"
	    "Reads a pprof (gzip or not) or folded profile ('-' is stdin) and\n"
	    "writes it into the store in one transaction: all of it or "
	    "nothing.\n\n"
	    "  --store URL        the store (created if missing): a SQLite "
	    "file or\n"
	    "                     clickhouse://[USER[:PASS]@]HOST[:PORT]/DB; "
	    "--db is\n"
	    "                     the same\n"
	    "  --label KEY=VALUE  added to (or replacing in) every sample, "
	    "e.g.\n"
	    "                     commit=abc branch=main; may repeat\n"
	    "  --time T           time stamp of every sample: RFC 3339, unix\n"
	    "                     seconds, -1h, or now; default: the profile's "
	    "own\n"
	    "                     time, or now when it has none\n"
	    "  --plain-folded     folded input has no process name as first "
	    "frame\n",
	    out);
}

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"store", required_argument, NULL, 'd'},
	    {"label", required_argument, NULL, 'l'},
	    {"time", required_argument, NULL, 't'},
	    {"plain-folded", no_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *labels[MAX_LABELS], *db = NULL, *when = NULL;
	size_t nr_labels = 0;
	struct read_limits lim;
	struct profile *p = NULL, *q = NULL;
	struct store *st = NULL;
	uint64_t now, t = 0;
	char name[512];
	int c, ret, rc = EXIT_RUNTIME;

	read_limits__default(&lim);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'l':
			if (nr_labels == MAX_LABELS || !strchr(optarg, '=') ||
			    *optarg == '=') {
				pr_err(
				    "bad --label '%s' (KEY=VALUE, at most %d)",
				    optarg, MAX_LABELS);
				return EXIT_USAGE;
			}
			labels[nr_labels++] = optarg;
			break;
		case 't':
			when = optarg;
			break;
		case 'P':
			lim.folded_no_comm = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !db) {
		usage(stderr);
		return EXIT_USAGE;
	}
	now = clock__unix_ns();
	if (when && timeparse__time(when, now, &t)) {
		pr_err("bad --time '%s' (RFC 3339, unix seconds, -1h, now)",
		       when);
		return EXIT_USAGE;
	}
	/* Everything is parsed and checked before the store is touched. */
	p = cli__load_profile(argv[optind], NULL, &lim, "import");
	if (!p)
		goto out;
	if (!t) {
		size_t n;
		const struct sample *s = profile__samples(p, &n);
		bool timed = n > 0;

		for (size_t i = 0; i < n && timed; i++)
			timed = s[i].time_ns != 0;
		if (!timed)
			t = now;
	}
	q = ingest__relabel(p, labels, nr_labels, t);
	if (!q) {
		pr_err("cannot label the profile: %s", strerror(errno));
		goto out;
	}
	store__redact(db, name, sizeof(name));
	st = store__open(&(struct store_opts){.path = db});
	if (!st) {
		pr_err("cannot open store '%s': %s", name, strerror(errno));
		goto out;
	}
	ret = store__write(st, q);
	if (ret) {
		pr_err("cannot write '%s' into '%s': %s", argv[optind], name,
		       strerror(-ret));
		goto out;
	}
	pr_note("imported %llu samples (%zu stacks) from '%s' into '%s'",
		(unsigned long long)profile__total(q), profile__nr_stacks(q),
		argv[optind], name);
	rc = 0;
out:
	store__close(st);
	profile__free(q);
	profile__free(p);
	return rc;
}
