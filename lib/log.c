// SPDX-License-Identifier: MIT
#include "lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longer messages are cut, with "..." saying so. */
#define LINE_MAX_BYTES 4096

enum log_level log_level = LOG_WARN;

void log__vprintf(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
	    "error: ", "warning: ", "info: ", "debug: ", ""};
	char line[LINE_MAX_BYTES];
	int saved = errno, n, m;
	size_t len;

	n = snprintf(line, sizeof(line), "kiln: %s",
		     prefix[level <= LOG_NOTE ? level : LOG_DEBUG]);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
		memcpy(line + len - 3, "...", 3);
	}
	/* Callers (and libbpf) may end their text with a newline already. */
	while (len > (size_t)n && line[len - 1] == '\n')
		len--;
	line[len++] = '\n';
	/* One write per line: lines of concurrent threads never interleave.
	 * A failed write of a log line has nowhere else to go. */
	if (write(STDERR_FILENO, line, len) < 0)
		(void)0;
	errno = saved;
}

void log__printf(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log__vprintf(level, fmt, ap);
	va_end(ap);
}

void log__progress(const char *fmt, ...)
{
	char line[256] = "\rkiln: ";
	size_t n = strlen(line);
	va_list ap;
	int m;

	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += (size_t)m < sizeof(line) - n ? (size_t)m : sizeof(line) - n - 1;
	if (write(STDERR_FILENO, line, n) < 0)
		(void)0;
}

void log__progress_done(void)
{
	if (write(STDERR_FILENO, "\n", 1) < 0)
		(void)0;
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
