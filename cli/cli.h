/* SPDX-License-Identifier: MIT */
/* Stop signals every long-running command shares (clocks: lib/clock.h). */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/format.h"

#include "symbolizer/debuginfod.h"

/* Set by SIGINT/SIGTERM once cli__catch_stop_signals() ran. */
extern volatile sig_atomic_t cli__stop;

/* SIGINT and SIGTERM set cli__stop (so the command can finish its work);
 * SIGPIPE is ignored (a closed socket or pipe is an error return). */
void cli__catch_stop_signals(void);

/*
 * debuginfod settings: 'url' (--debuginfod) or else DEBUGINFOD_URLS; the
 * cache in 'cache' (--debuginfod-cache) or else $KILN_DEBUGINFOD_CACHE,
 * $XDG_CACHE_HOME/kiln/debuginfod, ~/.cache/kiln/debuginfod; limits from
 * KILN_DEBUGINFOD_{TIMEOUT_MS,MAX_BYTES,CACHE_BYTES,RETRY_S,MISS_S}. out->urls
 * stays NULL when nothing asks for debuginfod. 'buf' holds the path.
 */
void cli__debuginfod_opts(const char *url, const char *cache,
			  struct dbgd_opts *out, char *buf, size_t size);

/* After getopt_long(): says "unexpected argument" and returns -1 when
 * arguments are left (exit EXIT_USAGE); 0 when none are. */
int cli__extra_args(int argc, char **argv);

/* --max-upload SIZE (kiln server, kiln agent): a size above 0 and up to
 * 4GB into *out; otherwise says so and returns -1 (exit EXIT_USAGE). */
int cli__max_upload(const char *arg, size_t *out);

/* --unwind METHOD (kiln record, kiln agent): "cfi" or "fp" into *mode
 * (enum kiln_unwind_mode); otherwise says so and returns -1. */
int cli__unwind_mode(const char *arg, unsigned int *mode);

/* A whole number 1..max (decimal digits only) into *out; otherwise -1,
 * and the caller says what the option needs. */
int cli__uint(const char *arg, unsigned long max, unsigned long *out);

/* --frequency HZ (kiln record, kiln agent): 1..10000 into *hz; otherwise
 * says so and returns -1. */
int cli__frequency(const char *arg, unsigned int *hz);

/* --unwind-memory MIB: 1..4096 MiB into *bytes; otherwise says so and
 * returns -1. */
int cli__unwind_memory(const char *arg, uint64_t *bytes);

#define CLI_UNWIND_HELP                                                        \
	"      --unwind METHOD  user stacks: cfi (default: unwind tables "     \
	"from\n"                                                               \
	"                       .eh_frame, frame pointers where there are "    \
	"none)\n"                                                              \
	"                       or fp (frame pointers only)\n"                 \
	"      --unwind-memory MIB  ceiling for the unwind tables' kernel "    \
	"memory\n"                                                             \
	"                       (default: 1/128 of RAM, at most 64)\n"

#define CLI_DEBUGINFOD_HELP                                                    \
	"      --debuginfod URL fetch missing debug info from these "          \
	"debuginfod\n"                                                         \
	"                       servers in the background (default: "          \
	"$DEBUGINFOD_URLS)\n"                                                  \
	"      --debuginfod-cache DIR  where fetched files are kept\n"

/*
 * The CLI commands' one way to read a profile: a file ('-' is stdin; any
 * importable format, limits 'lim') or, when 'store' is not NULL, also a
 * "db:PATH?from=..&to=..&filter=KEY=VALUE" query of a store ('store' non
 * empty stands in for an empty PATH). On failure says "cannot VERB 'SRC':
 * why" through lib/log.h ('verb' NULL: "read") and returns NULL: the
 * caller exits with EXIT_RUNTIME.
 */
struct profile *cli__load_profile(const char *src, const char *store,
				  const struct read_limits *lim,
				  const char *verb);

#endif
