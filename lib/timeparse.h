/* SPDX-License-Identifier: MIT */
/*
 * Parsing of the times, durations and sizes users type on the command line
 * and in API parameters. Pure functions, no locale, no time zone database:
 * RFC 3339 carries its own offset and everything else is relative or UTC.
 */
#ifndef KILN_TIMEPARSE_H
#define KILN_TIMEPARSE_H

#include <stdint.h>

/*
 * Parses a point in time into unix nanoseconds:
 *   "now"                            now_ns
 *   "-15m", "-1h", "-2d", "-30s"     now_ns minus a duration (any form
 *                                    timeparse__duration accepts; "+5m" adds)
 *   "1700000000", "1700000000.25"    unix seconds
 *   "2026-11-21T14:02:00Z", "2026-11-21T14:02:00.123+01:00"
 *                                    RFC 3339 (fractional seconds to ns;
 *                                    'Z' or a numeric offset required;
 *                                    't'/'z' and a space separator accepted)
 * Returns 0, -EINVAL for anything else, -ERANGE for a time before 1970 or
 * from 2200 on (nobody profiles that far ahead: a typo or an attack).
 */
int timeparse__time(const char *s, uint64_t now_ns, uint64_t *out_ns);

/*
 * Parses a duration: a sequence of NUMBER UNIT ("10s", "7d", "1h30m",
 * "1.5h"), units ns, us, ms, s, m, h, d, w; a bare number is seconds.
 * Returns 0, -EINVAL, or -ERANGE on overflow.
 */
int timeparse__duration(const char *s, uint64_t *out_ns);

/*
 * Parses a size: NUMBER [UNIT], units B, K/KB/KiB, M/MB/MiB, G/GB/GiB,
 * T/TB/TiB (case-insensitive), all powers of 1024; a bare number is bytes.
 * "500MB", "1G", "1.5G". Returns 0, -EINVAL, or -ERANGE on overflow.
 */
int timeparse__size(const char *s, uint64_t *bytes);

#endif
