// SPDX-License-Identifier: MIT
/* lib/escape: one UTF-8 validation and replacement for every writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/escape.h"

struct out {
	char s[512];
	size_t len;
};

static void sink(void *ctx, const char *s, size_t len)
{
	struct out *o = ctx;

	assert_true(o->len + len < sizeof(o->s));
	memcpy(o->s + o->len, s, len);
	o->len += len;
	o->s[o->len] = 0;
}

typedef void escape_fn(escape_sink_fn *, void *, const char *, size_t);

static const char *run(escape_fn *fn, const char *in)
{
	static struct out o;

	o.len = 0;
	o.s[0] = 0;
	fn(sink, &o, in, strlen(in));
	return o.s;
}

#define R ESCAPE_REPLACEMENT

static void test_escape__utf8_validation(void **state)
{
	(void)state;
	assert_true(escape__utf8_valid("plain \xc3\xa9 \xf0\x9f\x94\xa5", 13));
	assert_false(escape__utf8_valid("\xff", 1));
	assert_false(escape__utf8_valid("\xc0\xaf", 2));	 /* overlong */
	assert_false(escape__utf8_valid("\xed\xa0\x80", 3));	 /* surrogate */
	assert_false(escape__utf8_valid("\xf4\x90\x80\x80", 4)); /* >10FFFF */
	assert_false(escape__utf8_valid("\xe2\x82", 2));	 /* truncated */
	assert_false(escape__utf8_valid("a\0b", 3));
	/* A clip never ends inside a sequence. */
	assert_int_equal(escape__utf8_clip("\xc3\xa9\xc3\xa9", 4, 3), 2);
	assert_int_equal(escape__utf8_clip("ab\xff", 3, 3), 3);
}

static void test_escape__json(void **state)
{
	(void)state;
	assert_string_equal(run(escape__json, "a\"b\\c\nd\r\t\x01\xc3\xa9\xff"),
			    "a\\\"b\\\\c\\nd\\r\\t\\u0001\xc3\xa9\\ufffd");
	/* One replacement per bad byte, the same in every escaper. */
	assert_string_equal(run(escape__json, "\xe2\x82x"), "\\ufffd\\ufffdx");
	assert_string_equal(run(escape__json, "\x7f\xc2\x9b\xc2\xa0"),
			    "\\u007f\\u009b\xc2\xa0");
}

static void test_escape__xml(void **state)
{
	(void)state;
	assert_string_equal(run(escape__xml, "<a href='x'>&\"</a>"),
			    "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
	assert_string_equal(run(escape__xml, "t\tn\n\x1b[0m\xff\x7f\xc2\x85"),
			    "t&#9;n&#10;" R "[0m" R R R);
}

static void test_escape__text(void **state)
{
	(void)state;
	/* Terminal escapes, DEL and C1 controls cannot reach a terminal. */
	assert_string_equal(
	    run(escape__text, "\x1b[31mred\x7f\xc2\x9b\xc2\xa0"),
	    R "[31mred" R R "\xc2\xa0");
	assert_string_equal(run(escape__text, "\xe2\x82\xac ok"),
			    "\xe2\x82\xac ok");
	assert_true(escape__text_clean("ok \xe2\x82\xac", 6));
	assert_false(escape__text_clean("\xff", 1));
	assert_false(escape__text_clean("a\tb", 3));
	char *d = escape__text_dup("x\xffy");
	assert_string_equal(d, "x" R "y");
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape__utf8_validation),
	    cmocka_unit_test(test_escape__json),
	    cmocka_unit_test(test_escape__xml),
	    cmocka_unit_test(test_escape__text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
