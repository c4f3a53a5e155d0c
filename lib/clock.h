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

#endif
