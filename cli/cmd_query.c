// SPDX-License-Identifier: MIT
/*
 * kiln query: read a time range of a store, merged into one profile, as
 * folded stacks, JSON, or any other format the writers know.
 * The JSON form is kiln's own (profile/json_write.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "cli/commands.h"
#include "profile/format.h"
#include "lib/log.h"
#include "profile/profile.h"
#include "storage/store.h"
#include "lib/timeparse.h"

#define MAX_FILTERS 64

static void usage(FILE *out)
{
	fputs("usage: kiln query --store URL [--from T] [--to T] [--filter "
	      "KEY=VALUE]...\n"
	      "                  [--format folded|json|pprof|speedscope|svg] "
	      "[-o FILE]\n\n"
	      "Merges every sample of a store in [from, to) into one profile. "
	      "Works\n"
	      "while an agent writes the store.\n\n"
	      "  --store URL        the store (default ./kiln.db): a SQLite "
	      "file\n"
	      "                     (PATH, sqlite:PATH) or clickhouse://"
	      "[USER[:PASS]@]\n"
	      "                     HOST[:PORT]/DB; --db is the same\n"
	      "  --from T, --to T   RFC 3339 (2026-11-21T14:02:00Z), unix "
	      "seconds,\n"
	      "                     or relative (-15m, -1h, -2d, now); default "
	      "-1h, now\n"
	      "  --filter K=V       keep series whose label K is V (host, "
	      "comm, pid,\n"
	      "                     exe, build_id, container, or an imported "
	      "label);\n"
	      "                     repeated keys OR, different keys AND\n"
	      "  --format F         folded (default), json, pprof, speedscope, "
	      "svg\n"
	      "  -o, --output FILE  write here instead of stdout\n",
	      out);
}

int cmd_query(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"store", required_argument, NULL, 'd'},
	    {"from", required_argument, NULL, 'F'},
	    {"to", required_argument, NULL, 'T'},
	    {"filter", required_argument, NULL, 'f'},
	    {"format", required_argument, NULL, 'm'},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *db = "kiln.db", *from = "-1h", *to = "now", *outpath = NULL;
	struct store_filter filters[MAX_FILTERS];
	struct store_query q = {.filters = filters};
	enum profile_format fmt = FORMAT_FOLDED;
	struct store *st = NULL;
	struct profile *p = NULL;
	FILE *out = stdout;
	uint64_t now;
	int c, err, ret = EXIT_RUNTIME;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'F':
			from = optarg;
			break;
		case 'T':
			to = optarg;
			break;
		case 'f': {
			char *eq = strchr(optarg, '=');

			if (!eq || eq == optarg) {
				pr_err("--filter wants KEY=VALUE, not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			if (q.nr_filters == MAX_FILTERS) {
				pr_err("more than %d filters", MAX_FILTERS);
				return EXIT_USAGE;
			}
			*eq = '\0';
			filters[q.nr_filters++] =
			    (struct store_filter){optarg, eq + 1};
			break;
		}
		case 'm':
			fmt = format__from_name(optarg);
			if (fmt == FORMAT_UNKNOWN) {
				pr_err("unknown format '%s' (folded, json, "
				       "pprof, speedscope, svg)",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			pr_err("unknown or incomplete option '%s' (see kiln "
			       "query --help)",
			       argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s' (see kiln query --help)",
		       argv[optind]);
		return EXIT_USAGE;
	}
	now = clock__unix_ns();
	if (timeparse__time(from, now, &q.from_ns)) {
		pr_err("--from '%s' is not a time (RFC 3339, unix seconds, "
		       "-15m, now)",
		       from);
		return EXIT_USAGE;
	}
	if (timeparse__time(to, now, &q.to_ns)) {
		pr_err("--to '%s' is not a time (RFC 3339, unix seconds, -15m, "
		       "now)",
		       to);
		return EXIT_USAGE;
	}
	if (q.from_ns >= q.to_ns) {
		pr_err("--from '%s' is not before --to '%s'", from, to);
		return EXIT_USAGE;
	}

	st = store__open(&(struct store_opts){.path = db, .read_only = true});
	if (!st)
		return EXIT_RUNTIME; /* store__open said why */
	p = profile__new();
	if (!p) {
		pr_err("out of memory");
		goto out;
	}
	/* Folded lines and the SVG name the process only: the store merges
	 * every other label (hosts, pids) away, which keeps a fleet's
	 * profile small. */
	if (fmt == FORMAT_FOLDED || fmt == FORMAT_SVG) {
		static const char *const comm_only[] = {LABEL_COMM};

		q.merge = true;
		q.keep = comm_only;
		q.nr_keep = 1;
	}
	err = store__query(st, &q, p);
	if (err == -EINVAL) {
		pr_err("a --filter names a label the store does not have");
		ret = EXIT_USAGE;
		goto out;
	}
	if (err) {
		char name[512];

		store__redact(db, name, sizeof(name));
		pr_err("reading '%s' failed: %s", name, strerror(-err));
		goto out;
	}
	if (outpath && !(out = fopen(outpath, "w"))) {
		pr_err("cannot write '%s': %s", outpath, strerror(errno));
		out = stdout;
		goto out;
	}
	err = profile__write(p, fmt, &(struct write_opts){0}, out);
	if (out != stdout ? fclose(out) : fflush(out))
		err = err ? err : -EIO;
	out = stdout;
	if (err) {
		pr_err("writing %s output failed: %s", format__name(fmt),
		       strerror(-err));
		goto out;
	}
	ret = 0;
out:
	if (out != stdout)
		fclose(out);
	profile__free(p);
	store__close(st);
	return ret;
}
