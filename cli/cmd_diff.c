// SPDX-License-Identifier: MIT
/*
 * kiln diff A B: compare two profiles (files or store queries) and exit 1
 * when a function's share grew by more than the threshold.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "profile/diff.h"
#include "profile/format.h"
#include "storage/store.h"
#include "lib/timeparse.h"

#define MAX_FILTERS 16

static void usage(FILE *out)
{
	fputs(
	    "usage: kiln diff BASE NEW [--threshold P%] [--metric self|total]\n"
	    "                 [--format text|markdown|json] [--svg FILE]\n"
	    "                 [--min-samples N] [--limit N] "
	    "[--plain-folded]\n\n"
	    "Compares each function's share of samples (self, and total with "
	    "its\n"
	    "callees) in NEW against BASE. BASE and NEW are profile files "
	    "(pprof or\n"
	    "folded) or store queries:\n"
	    "  'db:PATH?from=-2h&to=-1h&filter=comm=api'   (from defaults to "
	    "-1h,\n"
	    "  to to now; filter=KEY=VALUE may repeat; PATH may be a store "
	    "URL:\n"
	    "  'db:clickhouse://HOST:8123/kiln?from=-1h'; with --store URL,\n"
	    "  'db:?from=-1h' queries that store)\n\n"
	    "  --store URL      the store of 'db:?...' sources\n"
	    "  --threshold P    a regression is a share growing by more than "
	    "P\n"
	    "                   percentage points (\"2\" or \"2%\"); without "
	    "it,\n"
	    "                   report only\n"
	    "  --metric M       self (default) or total\n"
	    "  --format F       text (default), markdown (PR comment), json\n"
	    "  --svg FILE       also write a differential flame graph\n"
	    "  --min-samples N  fewer samples in either profile cannot be "
	    "judged\n"
	    "                   (default 100)\n"
	    "  --limit N        rows in the report (default 20, 0 = all)\n"
	    "  --plain-folded   folded inputs have no process name as first "
	    "frame\n\n"
	    "Exit: 0 no regression, 1 regression, 2 usage error, 3 error or "
	    "too\n"
	    "few samples to judge (said on stderr).\n",
	    out);
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"threshold", required_argument, NULL, 't'},
	    {"metric", required_argument, NULL, 'm'},
	    {"format", required_argument, NULL, 'f'},
	    {"svg", required_argument, NULL, 's'},
	    {"min-samples", required_argument, NULL, 'n'},
	    {"limit", required_argument, NULL, 'l'},
	    {"plain-folded", no_argument, NULL, 'P'},
	    {"store", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct diff_opts dopts = {.metric = DIFF_SELF,
				  .threshold_pp = -1,
				  .min_samples = 100,
				  .limit = 20};
	enum diff_output fmt = DIFF_TEXT;
	struct read_limits lim;
	const char *svg = NULL, *store = NULL;
	struct profile *base = NULL, *cur = NULL;
	struct diff *d = NULL;
	char *end;
	int c, rc = EXIT_RUNTIME;

	read_limits__default(&lim);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			store = optarg;
			break;
		case 't':
			dopts.threshold_pp = strtod(optarg, &end);
			if (end == optarg || (*end && strcmp(end, "%")) ||
			    dopts.threshold_pp < 0 ||
			    dopts.threshold_pp > 100) {
				pr_err("bad --threshold '%s' (percentage "
				       "points, 0..100)",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			if (!strcmp(optarg, "self"))
				dopts.metric = DIFF_SELF;
			else if (!strcmp(optarg, "total"))
				dopts.metric = DIFF_TOTAL;
			else {
				pr_err("bad --metric '%s' (self or total)",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			if (!strcmp(optarg, "text"))
				fmt = DIFF_TEXT;
			else if (!strcmp(optarg, "markdown") ||
				 !strcmp(optarg, "md"))
				fmt = DIFF_MARKDOWN;
			else if (!strcmp(optarg, "json"))
				fmt = DIFF_JSON;
			else {
				pr_err(
				    "bad --format '%s' (text, markdown, json)",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			svg = optarg;
			break;
		case 'n':
			dopts.min_samples = strtoull(optarg, &end, 10);
			if (*end || !*optarg || *optarg == '-') {
				pr_err("bad --min-samples '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'l':
			dopts.limit = strtoul(optarg, &end, 10);
			if (*end || !*optarg || *optarg == '-') {
				pr_err("bad --limit '%s'", optarg);
				return EXIT_USAGE;
			}
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
	if (optind != argc - 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	dopts.base_name = argv[optind];
	dopts.new_name = argv[optind + 1];
	base = cli__load_profile(argv[optind], store ? store : "", &lim, NULL);
	if (!base)
		goto out;
	cur =
	    cli__load_profile(argv[optind + 1], store ? store : "", &lim, NULL);
	if (!cur)
		goto out;
	d = diff__new(base, cur, &dopts);
	if (!d) {
		pr_err("out of memory");
		goto out;
	}
	if (diff__write(d, fmt, stdout)) {
		pr_err("cannot write the report: %s", strerror(EIO));
		goto out;
	}
	if (svg) {
		FILE *f = fopen(svg, "w");
		int ret;

		if (!f) {
			pr_err("cannot create '%s': %s", svg, strerror(errno));
			goto out;
		}
		ret = svg__write_diff(
		    base, cur, &(struct write_opts){.title = "kiln diff"}, f);
		if (fclose(f) && !ret)
			ret = -EIO;
		if (ret) {
			pr_err("cannot write '%s': %s", svg, strerror(-ret));
			goto out;
		}
	}
	switch (diff__verdict(d)) {
	case DIFF_TOO_FEW:
		pr_err("too few samples to judge: base has %llu, new has %llu, "
		       "need %llu each (--min-samples)",
		       (unsigned long long)diff__base_total(d),
		       (unsigned long long)diff__new_total(d),
		       (unsigned long long)dopts.min_samples);
		rc = EXIT_RUNTIME;
		break;
	case DIFF_REGRESSION:
		rc = 1;
		break;
	default:
		rc = 0;
	}
out:
	diff__free(d);
	profile__free(base);
	profile__free(cur);
	return rc;
}
