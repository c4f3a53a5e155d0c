// SPDX-License-Identifier: MIT
/* kiln export: convert any importable profile file to another format. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "lib/log.h"
#include "profile/diff.h"
#include "profile/format.h"

static void usage(FILE *out)
{
	fputs(
	    "usage: kiln export IN [-o OUT] [--format "
	    "pprof|folded|speedscope|svg]\n"
	    "                  [--title T] [--width PX] [--min-width PX] "
	    "[--icicle]\n"
	    "                  [--plain-folded] [--top N]\n\n"
	    "Converts a profile (pprof, gzip or not, or folded stacks; '-' is "
	    "stdin)\n"
	    "to another format. Without --format the format follows OUT's "
	    "name\n"
	    "(.pb.gz/.pprof pprof, .json speedscope, .svg svg), else "
	    "folded.\n\n"
	    "  -o, --output FILE   write here instead of stdout\n"
	    "  --title T, --width PX, --min-width PX, --icicle   SVG options\n"
	    "  --plain-folded      folded input has no process name as first "
	    "frame\n"
	    "  --top N             print a pprof -top style table of the N "
	    "functions\n"
	    "                      with the most self samples (0: all) "
	    "instead\n",
	    out);
}

static enum profile_format format_from_path(const char *path)
{
	size_t n = strlen(path);
#define ENDS(s) (n >= strlen(s) && !strcmp(path + n - strlen(s), s))
	if (ENDS(".pb.gz") || ENDS(".pprof") || ENDS(".pb"))
		return FORMAT_PPROF;
	if (ENDS(".json"))
		return FORMAT_SPEEDSCOPE;
	if (ENDS(".svg"))
		return FORMAT_SVG;
#undef ENDS
	return FORMAT_FOLDED;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'f'},
	    {"title", required_argument, NULL, 't'},
	    {"width", required_argument, NULL, 'w'},
	    {"min-width", required_argument, NULL, 'm'},
	    {"icicle", no_argument, NULL, 'i'},
	    {"plain-folded", no_argument, NULL, 'P'},
	    {"top", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct write_opts wo = {0};
	struct read_limits lim;
	enum profile_format fmt = FORMAT_UNKNOWN;
	const char *in, *outpath = NULL;
	long top = -1;
	char *end;
	struct profile *p = NULL;
	FILE *out = stdout;
	int c, ret;

	read_limits__default(&lim);
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			outpath = optarg;
			break;
		case 'f':
			fmt = format__from_name(optarg);
			if (fmt == FORMAT_UNKNOWN || fmt == FORMAT_JSON) {
				pr_err("unknown export format '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			wo.title = optarg;
			break;
		case 'w':
			wo.width = (int)strtol(optarg, &end, 10);
			if (*end || wo.width < 100 || wo.width > 100000) {
				pr_err("bad --width '%s' (100..100000)",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			wo.min_width = strtod(optarg, &end);
			if (*end || wo.min_width < 0) {
				pr_err("bad --min-width '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			wo.icicle = true;
			break;
		case 'P':
			lim.folded_no_comm = true;
			break;
		case 'T':
			top = strtol(optarg, &end, 10);
			if (*end || top < 0) {
				pr_err("bad --top '%s'", optarg);
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
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	in = argv[optind];
	if (fmt == FORMAT_UNKNOWN)
		fmt = outpath ? format_from_path(outpath) : FORMAT_FOLDED;

	p = cli__load_profile(in, NULL, &lim, NULL);
	if (!p)
		return EXIT_RUNTIME;
	if (outpath && strcmp(outpath, "-")) {
		out = fopen(outpath, "wb");
		if (!out) {
			pr_err("cannot create '%s': %s", outpath,
			       strerror(errno));
			profile__free(p);
			return EXIT_RUNTIME;
		}
	}
	if (top >= 0)
		ret = diff__write_top(p, (size_t)top, out);
	else
		ret = profile__write(p, fmt, &wo, out);
	if (out != stdout && fclose(out) && !ret)
		ret = -EIO;
	profile__free(p);
	if (ret) {
		pr_err("cannot write '%s': %s", outpath ? outpath : "stdout",
		       strerror(-ret));
		if (outpath && strcmp(outpath, "-"))
			remove(outpath);
		return EXIT_RUNTIME;
	}
	return 0;
}
