// SPDX-License-Identifier: MIT
/* kiln: continuous whole-system profiler. Dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "lib/log.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
    {"record", cmd_record, "sample the whole system (or some pids) once"},
    {"agent", cmd_agent,
     "sample continuously into a SQLite store, serve the UI"},
    {"query", cmd_query, "read a time range of a store as a profile"},
    {"server", cmd_server, "serve a store's UI and API without sampling"},
    {"diff", cmd_diff, "compare two profiles; exit 1 on a regression"},
    {"import", cmd_import, "put a pprof or folded profile into a store"},
    {"export", cmd_export, "convert a profile file between formats"},
    {"migrate", cmd_migrate,
     "copy a store into another (SQLite to ClickHouse)"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kiln COMMAND [OPTIONS]   (kiln COMMAND --help for "
		     "more)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "\nKILN_LOG=error|warn|info|debug sets the log level.\n");
}

int main(int argc, char **argv)
{
	log__init(LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kiln %s\n", KILN_BUILD_ID);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	pr_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
