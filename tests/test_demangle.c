// SPDX-License-Identifier: MIT
/*
 * The demangler: C++ (templates, operators, lambdas, clones), Rust legacy
 * and v0, names left alone (C, Go), and hostile input (garbage, huge and
 * deeply nested names) that must come back undemangled, never crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "symbolizer/demangle.h"

static void expect(const char *mangled, const char *want)
{
	char buf[1024];
	size_t n = demangle__name(mangled, buf, sizeof(buf));

	if (!want) {
		assert_int_equal(n, 0);
		return;
	}
	if (!n)
		fail_msg("'%s' was not demangled", mangled);
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void test_demangle__cpp(void **state)
{
	(void)state;
	expect("_ZN4node5StartEiPPc", "node::Start(int, char**)");
	expect("_ZN2ns3vecIiEixEm", "ns::vec<int>::operator[](unsigned long)");
	expect("_ZNK8kiln_fix4GridIlE3sumEi",
	       "kiln_fix::Grid<long>::sum(int) const");
	expect("_ZZ4mainENKUliE_clEi",
	       "main::{lambda(int)#1}::operator()(int) const");
	expect("_Z3foov.cold", "foo() [clone .cold]");
	expect("_ZN3fooC2Ev", "foo::foo()");
	expect("_ZStlsISt11char_traitsIcEERSt13basic_ostreamIcT_ES5_PKc",
	       "std::basic_ostream<char, std::char_traits<char> >& "
	       "std::operator<< <std::char_traits<char> "
	       ">(std::basic_ostream<char, std::char_traits<char> >&, char "
	       "const*)");
	/* GCC's static initializer symbols are readable as they are. */
	expect("_GLOBAL__sub_I_main.cpp", NULL);
}

static void test_demangle__rust(void **state)
{
	(void)state;
	/* Legacy: the trailing hash goes. */
	expect("_ZN7mycrate10hot_legacy17h0123456789abcdefE",
	       "mycrate::hot_legacy");
	expect("_ZN4core3ptr13drop_in_place17h1234567890abcdefE",
	       "core::ptr::drop_in_place");
	/* v0. */
	expect("_RNvCs1234_7mycrate6hot_v0", "mycrate::hot_v0");
	expect("_RNvNtCs15kBYyAo9fc_7mycrate4main4main", "mycrate::main::main");
}

static void test_demangle__left_alone(void **state)
{
	char buf[64];

	(void)state;
	expect("main", NULL);
	expect("main.(*T).Method", NULL); /* Go */
	expect("__libc_start_main", NULL);
	expect("_start", NULL);
	expect("", NULL);
	assert_false(demangle__is_mangled(NULL));
	assert_int_equal(demangle__name(NULL, buf, sizeof(buf)), 0);
	/* A result that does not fit is refused, not cut. */
	assert_int_equal(demangle__name("_ZN4node5StartEiPPc", buf, 8), 0);
	assert_int_equal(demangle__name("_ZN4node5StartEiPPc", buf, 0), 0);
}

static void test_demangle__hostile(void **state)
{
	static const char *const garbage[] = {
	    "_Z",
	    "_R",
	    "_ZN",
	    "_ZN4node",
	    "_ZN999999999999999999999E",
	    "_Z1",
	    "_RNv",
	    "_RNvC",
	    "_Z\xff\xfe",
	    "_ZZZZZZZZ",
	    "_ZSt",
	    "_ZN4nodeILi9999999999999999999999EEE",
	};
	char buf[8192];
	size_t big = 1 << 20;
	char *s = malloc(big + 1);

	(void)state;
	for (size_t i = 0; i < sizeof(garbage) / sizeof(*garbage); i++)
		demangle__name(garbage[i], buf, sizeof(buf)); /* no crash */
	/* A megabyte name: refused by length before the demangler, whose
	 * work arrays live on the stack. */
	assert_non_null(s);
	memcpy(s, "_ZN", 3);
	for (size_t i = 3; i < big; i++)
		s[i] = "3abc"[i % 4];
	s[big] = 0;
	assert_int_equal(demangle__name(s, buf, sizeof(buf)), 0);
	/* Deep nesting just under the length limit: the recursion limit
	 * holds (result or refusal, no crash). */
	size_t n = 0;
	n += (size_t)snprintf(s, big, "_Z1f");
	while (n + 8 < DEMANGLE_MAX_LEN)
		n += (size_t)snprintf(s + n, big - n, "PFvPFv");
	snprintf(s + n, big - n, "vE");
	demangle__name(s, buf, sizeof(buf));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_demangle__cpp),
	    cmocka_unit_test(test_demangle__rust),
	    cmocka_unit_test(test_demangle__left_alone),
	    cmocka_unit_test(test_demangle__hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
