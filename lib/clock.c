// SPDX-License-Identifier: MIT
#include "lib/clock.h"

#include <time.h>

static uint64_t read_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t clock__unix_ns(void)
{
	return read_ns(CLOCK_REALTIME);
}

uint64_t clock__mono_ns(void)
{
	return read_ns(CLOCK_MONOTONIC);
}

uint64_t clock__mono_us(void)
{
	return read_ns(CLOCK_MONOTONIC) / 1000;
}

double clock__mono_s(void)
{
	return (double)read_ns(CLOCK_MONOTONIC) / 1e9;
}

uint64_t clock__mono_coarse_ms(void)
{
	return read_ns(CLOCK_MONOTONIC_COARSE) / 1000000;
}
