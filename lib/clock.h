/* SPDX-License-Identifier: MIT */
/* The one clock helper: wall-clock and monotonic time. */
#ifndef KILN_CLOCK_H
#define KILN_CLOCK_H

#include <stdint.h>

/* Unix time in ns (CLOCK_REALTIME): sample and store time stamps. */
uint64_t clock__unix_ns(void);
/* CLOCK_MONOTONIC in ns, µs and seconds: durations and deadlines. */
uint64_t clock__mono_ns(void);
uint64_t clock__mono_us(void);
double clock__mono_s(void);
/* CLOCK_MONOTONIC_COARSE in ms (a few ms of resolution): for rate limits
 * checked on hot paths, where a precise clock read per call costs more
 * than the work it limits. */
uint64_t clock__mono_coarse_ms(void);

#endif
