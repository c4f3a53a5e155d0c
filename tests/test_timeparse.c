// SPDX-License-Identifier: MIT
/* Times, durations and sizes as users type them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/timeparse.h"

#define NS 1000000000ULL
static const uint64_t NOW = 1763733720ULL * NS; /* 2025-11-21T14:02:00Z */

static uint64_t t(const char *s)
{
	uint64_t v = 0;

	assert_int_equal(timeparse__time(s, NOW, &v), 0);
	return v;
}

static void test_timeparse__rfc3339(void **state)
{
	(void)state;
	assert_int_equal(t("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(t("2025-11-21T14:02:00Z"), NOW);
	assert_int_equal(t("2025-11-21t14:02:00z"), NOW);
	assert_int_equal(t("2025-11-21 14:02:00Z"), NOW);
	assert_int_equal(t("2025-11-21T15:02:00+01:00"), NOW);
	assert_int_equal(t("2025-11-21T09:32:00-04:30"), NOW);
	assert_int_equal(t("2025-11-21T14:02:00.5Z"), NOW + NS / 2);
	assert_int_equal(t("2025-11-21T14:02:00.123456789Z"), NOW + 123456789);
	/* Digits past ns are dropped, not rounded into the next second. */
	assert_int_equal(t("2025-11-21T14:02:00.9999999999Z"), NOW + 999999999);
	assert_int_equal(t("2024-02-29T00:00:00Z"), 1709164800ULL * NS);
	assert_int_equal(t("2000-03-01T00:00:00Z"), 951868800ULL * NS);
}

static void test_timeparse__relative_and_unix(void **state)
{
	(void)state;
	assert_int_equal(t("now"), NOW);
	assert_int_equal(t("-15m"), NOW - 900 * NS);
	assert_int_equal(t("-1h"), NOW - 3600 * NS);
	assert_int_equal(t("-2d"), NOW - 2 * 86400 * NS);
	assert_int_equal(t("-30s"), NOW - 30 * NS);
	assert_int_equal(t("-1h30m"), NOW - 5400 * NS);
	assert_int_equal(t("+5m"), NOW + 300 * NS);
	assert_int_equal(t("-15"), NOW - 15 * NS); /* bare: seconds */
	assert_int_equal(t("1700000000"), 1700000000ULL * NS);
	assert_int_equal(t("1700000000.25"), 1700000000ULL * NS + NS / 4);
}

static void test_timeparse__garbage(void **state)
{
	static const char *const bad[] = {
	    "",
	    "yesterday",
	    "-",
	    "-15x",
	    "15m",
	    "2025-11-21",
	    "2025-11-21T14:02:00",
	    "2025-13-01T00:00:00Z",
	    "2025-02-29T00:00:00Z",
	    "2025-11-21T24:00:00Z",
	    "2025-11-21T14:02:00+1:00",
	    "2025-11-21T14:02:00Zjunk",
	    "2025-11-21T14:02:00.Z",
	    "17000000x",
	    "1.2.3",
	    "now ",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = timeparse__time(bad[i], NOW, &v);

		if (err != -EINVAL)
			fail_msg("'%s' gave %d, not -EINVAL", bad[i], err);
	}
	assert_int_equal(timeparse__time(NULL, NOW, &v), -EINVAL);
	assert_int_equal(timeparse__time("-1000000d", NOW, &v), -ERANGE);
	assert_int_equal(timeparse__time("1969-12-31T23:59:59Z", NOW, &v),
			 -ERANGE);
	assert_int_equal(timeparse__time("99999999999999999999999", NOW, &v),
			 -ERANGE);
}

static void test_timeparse__durations(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(timeparse__duration("10s", &v), 0);
	assert_int_equal(v, 10 * NS);
	assert_int_equal(timeparse__duration("7d", &v), 0);
	assert_int_equal(v, 7 * 86400 * NS);
	assert_int_equal(timeparse__duration("1h", &v), 0);
	assert_int_equal(v, 3600 * NS);
	assert_int_equal(timeparse__duration("1.5h", &v), 0);
	assert_int_equal(v, 5400 * NS);
	assert_int_equal(timeparse__duration("250ms", &v), 0);
	assert_int_equal(v, 250000000);
	assert_int_equal(timeparse__duration("2w", &v), 0);
	assert_int_equal(v, 14 * 86400 * NS);
	assert_int_equal(timeparse__duration("90", &v), 0);
	assert_int_equal(v, 90 * NS);
	assert_int_equal(timeparse__duration("1h1m1s", &v), 0);
	assert_int_equal(v, 3661 * NS);
	assert_int_equal(timeparse__duration("", &v), -EINVAL);
	assert_int_equal(timeparse__duration("h", &v), -EINVAL);
	assert_int_equal(timeparse__duration("10x", &v), -EINVAL);
	assert_int_equal(timeparse__duration("10 s", &v), -EINVAL);
	assert_int_equal(timeparse__duration("-10s", &v), -EINVAL);
	assert_int_equal(timeparse__duration("1.2.3s", &v), -EINVAL);
	assert_int_equal(timeparse__duration("100000000000w", &v), -ERANGE);
}

static void test_timeparse__sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(timeparse__size("500MB", &v), 0);
	assert_int_equal(v, 500ULL << 20);
	assert_int_equal(timeparse__size("1G", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(timeparse__size("1.5g", &v), 0);
	assert_int_equal(v, 3ULL << 29);
	assert_int_equal(timeparse__size("64KiB", &v), 0);
	assert_int_equal(v, 64ULL << 10);
	assert_int_equal(timeparse__size("2T", &v), 0);
	assert_int_equal(v, 2ULL << 40);
	assert_int_equal(timeparse__size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(timeparse__size("12B", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(timeparse__size("", &v), -EINVAL);
	assert_int_equal(timeparse__size("MB", &v), -EINVAL);
	assert_int_equal(timeparse__size("10XB", &v), -EINVAL);
	assert_int_equal(timeparse__size("10MBs", &v), -EINVAL);
	assert_int_equal(timeparse__size("99999999999T", &v), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timeparse__rfc3339),
	    cmocka_unit_test(test_timeparse__relative_and_unix),
	    cmocka_unit_test(test_timeparse__garbage),
	    cmocka_unit_test(test_timeparse__durations),
	    cmocka_unit_test(test_timeparse__sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
