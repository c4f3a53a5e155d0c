// SPDX-License-Identifier: MIT
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum log_level log_level = LOG_WARN;

void log__printf(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {"error", "warning", "info",
					     "debug"};
	va_list ap;

	fprintf(stderr, "kiln: %s: ", prefix[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void log__init(enum log_level fallback)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	const char *env = getenv("KILN_LOG");

	log_level = fallback;
	if (!env)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(env, names[i]))
			log_level = (enum log_level)i;
}
