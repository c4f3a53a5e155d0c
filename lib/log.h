/* SPDX-License-Identifier: MIT */
/*
 * One logging facility for every module. stdout carries data only, so every
 * message goes to stderr, as "kiln: LEVEL: message" and one write(2) per
 * line, so lines of concurrent threads never interleave; a trailing newline
 * in the message is dropped, never doubled. The level is checked before the
 * arguments are evaluated, so pr_debug() in a hot path costs one comparison.
 */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include <stdarg.h>

/* LOG_NOTE: a command's own status lines ("kiln: imported ..."), always
 * shown and without a level word; not a level to set. */
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_NOTE };

extern enum log_level log_level;

void log__printf(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log__vprintf(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Parses KILN_LOG (error|warn|info|debug) if set; otherwise keeps 'fallback'.
 */
void log__init(enum log_level fallback);

#define pr_log(level, ...)                                                     \
	do {                                                                   \
		if ((level) <= log_level)                                      \
			log__printf((level), __VA_ARGS__);                     \
	} while (0)
#define pr_err(...) pr_log(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) pr_log(LOG_WARN, __VA_ARGS__)
#define pr_info(...) pr_log(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) pr_log(LOG_DEBUG, __VA_ARGS__)
#define pr_note(...) log__printf(LOG_NOTE, __VA_ARGS__)

/* A progress line on a terminal: "\rkiln: ...", no newline, one write. */
void log__progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends the progress line. */
void log__progress_done(void);

#endif
