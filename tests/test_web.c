// SPDX-License-Identifier: MIT
/* Unit tests of web/'s civetweb-free parts: JSON, parameters, flame tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/store.h"
#include "web/api.h"
#include "web/web_int.h"

#define NS 1000000000ULL
#define NOW (1800000000ULL * NS)

static void test_web__json_escapes_and_replaces_bad_utf8(void **state)
{
	struct jbuf b;

	(void)state;
	jbuf__init(&b);
	jbuf__str(&b, "a\"b\\c\nd\x01\xc3\xa9\xff");
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\\ufffd\"");
	b.len = 0;
	jbuf__raw(&b, "[", 1);
	jbuf__sep(&b);
	jbuf__u64(&b, 0);
	jbuf__sep(&b);
	jbuf__u64(&b, 18446744073709551615ULL);
	assert_string_equal(b.p, "[0,18446744073709551615");
	jbuf__release(&b);
}

static void test_web__params_decode_and_limits(void **state)
{
	struct query_params pp;
	char err[256], big[QUERY_MAX_STRING + 10];

	(void)state;
	assert_int_equal(
	    query_params__parse(&pp, "a=1&b=x%3Dy+z&c", err, sizeof(err)), 0);
	assert_string_equal(query_params__get(&pp, "b"), "x=y z");
	assert_string_equal(query_params__get(&pp, "c"), "");
	assert_null(query_params__get(&pp, "d"));
	query_params__release(&pp);
	assert_int_equal(query_params__parse(&pp, "a=%2", err, sizeof(err)),
			 -EINVAL);
	query_params__release(&pp);
	assert_int_equal(query_params__parse(&pp, "a=%00", err, sizeof(err)),
			 -EINVAL);
	query_params__release(&pp);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(query_params__parse(&pp, big, err, sizeof(err)),
			 -E2BIG);
	query_params__release(&pp);
}

static void test_web__range_checks(void **state)
{
	static const char *const known[] = {"comm", "host", NULL};
	struct query_params pp;
	struct query_range r;
	char err[256];

	(void)state;
	query_params__parse(&pp, "from=-15m&filter=comm%3Dx&filter=host%3Dy",
			    err, sizeof(err));
	assert_int_equal(
	    query_params__range(&pp, "", NOW, known, &r, err, sizeof(err)), 0);
	assert_true(r.q.from_ns == NOW - 15 * 60 * NS);
	assert_true(r.q.to_ns == NOW);
	assert_int_equal(r.q.nr_filters, 2);
	assert_string_equal(r.filters[1].key, "host");
	assert_string_equal(r.filters[1].value, "y");
	query_params__release(&pp);

	const char *bad[] = {"from=now&to=-1h", "from=10",	  "from=-401d",
			     "to=%2B2d",	"filter=pid%3D1", "filter=comm",
			     "from=soon"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		query_params__parse(&pp, bad[i], err, sizeof(err));
		assert_int_equal(query_params__range(&pp, "", NOW, known, &r,
						     err, sizeof(err)),
				 -EINVAL);
		assert_true(strlen(err) > 0);
		query_params__release(&pp);
	}
}

static void test_web__range_filter_operators(void **state)
{
	static const char *const known[] = {"comm", "host", NULL};
	struct query_params pp;
	struct query_range r;
	char err[256];

	(void)state;
	query_params__parse(
	    &pp,
	    "filter=comm%21%3Ddb&filter=host%3D~h.&filter=comm%21~"
	    "x%3Dy&filter=host%3Dh1",
	    err, sizeof(err));
	assert_int_equal(
	    query_params__range(&pp, "", NOW, known, &r, err, sizeof(err)), 0);
	assert_int_equal(r.q.nr_filters, 1);
	assert_string_equal(r.filters[0].key, "host");
	assert_string_equal(r.filters[0].value, "h1");
	assert_int_equal(r.nr_ops, 3);
	assert_string_equal(r.ops[0].key, "comm");
	assert_string_equal(r.ops[0].value, "db");
	assert_int_equal(r.ops[0].op, QUERY_OP_NOT_EQUAL);
	assert_string_equal(r.ops[1].key, "host");
	assert_string_equal(r.ops[1].value, "h.");
	assert_int_equal(r.ops[1].op, QUERY_OP_MATCH);
	/* '!~' before any '=': the value keeps its '='. */
	assert_string_equal(r.ops[2].key, "comm");
	assert_string_equal(r.ops[2].value, "x=y");
	assert_int_equal(r.ops[2].op, QUERY_OP_NOT_MATCH);
	query_params__release(&pp);

	const char *bad[] = {"filter=%21%3Dx", "filter=nope%21~x", "filter=~x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		query_params__parse(&pp, bad[i], err, sizeof(err));
		assert_int_equal(query_params__range(&pp, "", NOW, known, &r,
						     err, sizeof(err)),
				 -EINVAL);
		query_params__release(&pp);
	}
}

/* A profile of 'n' leaves under one parent, leaf i with count i + 1. */
static struct profile *fan_profile(int n)
{
	struct profile *p = profile__new();
	struct label l = {profile__intern(p, "comm"),
			  profile__intern(p, "app")};
	uint32_t s = profile__add_series(p, &l, 1);
	uint32_t root = profile__add_named_frame(p, "root", FRAME_USER);
	char name[32];

	for (int i = 0; i < n; i++) {
		uint32_t st[2];

		snprintf(name, sizeof(name), "leaf%03d", i);
		st[0] = root;
		st[1] = profile__add_named_frame(p, name, FRAME_USER);
		profile__add_sample(p, s, profile__add_stack(p, st, 2), NS,
				    (uint64_t)i + 1);
	}
	return p;
}

static void test_web__flame_limit_merges_narrow_nodes(void **state)
{
	struct profile *p = fan_profile(100);
	struct calltree_add_opts ao = {.with_process = true};
	struct calltree t;
	struct jbuf b;

	(void)state;
	flame__init(&t, false);
	assert_int_equal(calltree__add(&t, p, 0, &ao), 0);
	/* root + app + root + 100 leaves */
	assert_int_equal(t.nr_nodes, 103);
	assert_true(t.total[0] == 5050);
	calltree__limit(&t, 20);
	assert_true(t.out_nodes <= 20);
	assert_int_equal(t.other_nodes, 1);
	/* Kept leaves are the widest: all of them above every merged one. */
	assert_true(t.merged_nodes == 100 - (t.out_nodes - 4));
	uint64_t kept = t.out_nodes - 4, merged_sum = 0;
	for (uint64_t i = 1; i <= 100 - kept; i++)
		merged_sum += i;
	assert_true(t.merged_samples == merged_sum);
	jbuf__init(&b);
	assert_int_equal(flame__write_json(&t, &b), 0);
	assert_non_null(strstr(b.p, "\"[other]\""));
	jbuf__release(&b);
	calltree__release(&t);
	profile__free(p);
}

static void test_web__flame_counts_recursion_once(void **state)
{
	struct profile *p = profile__new();
	uint32_t f = profile__add_named_frame(p, "rec", FRAME_USER),
		 st[3] = {f, f, f};
	struct calltree t;

	(void)state;
	profile__add_sample(p, profile__add_series(p, NULL, 0),
			    profile__add_stack(p, st, 3), NS, 4);
	flame__init(&t, false);
	assert_int_equal(calltree__add(&t, p, 0, NULL), 0);
	assert_int_equal(t.nr_nodes, 4);
	/* name 0 is "total", 1 is "rec" */
	assert_true(t.fn_total[0][1] == 4);
	assert_true(t.fn_self[0][1] == 4);
	calltree__release(&t);
	profile__free(p);
}

/* Tooltip material: a kernel frame's module ([ext4]) and a C++ frame's
 * mangled name travel with the names, the _[k] kind letter too. */
static void test_web__flame_modules_and_system_names(void **state)
{
	struct profile *p = profile__new();
	struct frame user = {.name = profile__intern(p, "ns::f(int)"),
			     .sysname = profile__intern(p, "_ZN2ns1fEi"),
			     .module = profile__intern(p, "/usr/bin/app")};
	struct frame kern = {.name = profile__intern(p, "ext4_file_read_iter"),
			     .module = profile__intern(p, "[ext4]"),
			     .kind = FRAME_KERNEL};
	uint32_t st[2] = {profile__add_frame(p, &user),
			  profile__add_frame(p, &kern)};
	struct calltree t;
	struct jbuf b;

	(void)state;
	profile__add_sample(p, profile__add_series(p, NULL, 0),
			    profile__add_stack(p, st, 2), NS, 3);
	flame__init(&t, false);
	assert_int_equal(calltree__add(&t, p, 0, NULL), 0);
	jbuf__init(&b);
	assert_int_equal(flame__write_json(&t, &b), 0);
	/* names: total, ns::f(int), ext4_file_read_iter, [other] */
	assert_non_null(strstr(b.p, "\"kinds\":\"suks\""));
	assert_non_null(
	    strstr(b.p, "\"sysnames\":[\"\",\"_ZN2ns1fEi\",\"\",\"\"]"));
	assert_non_null(
	    strstr(b.p, "\"modules\":[\"\",\"app\",\"[ext4]\",\"\"]"));
	jbuf__release(&b);
	calltree__release(&t);
	profile__free(p);
}

/*
 * A request over its time budget gets 503 with Retry-After and says why;
 * a pattern over PCRE2's limits gets 400. Against a real store file.
 */
static void test_web__budgets_answer_503_and_400(void **state)
{
	char dir[] = "/tmp/kiln-test-web-XXXXXX", path[64];
	struct store_opts so = {.path = path};
	struct timespec ts;
	struct web_response r;
	struct api_ctx c;
	struct profile *p;
	struct store *st;
	uint64_t now;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.db", dir);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * NS;
	p = profile__new();
	{
		struct label l = {profile__intern(p, "comm"),
				  profile__intern(p, "app")};
		uint32_t s = profile__add_series(p, &l, 1), fr[2];

		fr[0] = profile__add_named_frame(p, "main", FRAME_USER);
		for (int i = 0; i < 20; i++) {
			char name[16];

			snprintf(name, sizeof(name), "leaf%d", i);
			fr[1] = profile__add_named_frame(p, name, FRAME_USER);
			profile__add_sample(p, s, profile__add_stack(p, fr, 2),
					    now - 60 * NS, 1);
		}
	}
	st = store__open(&so);
	assert_non_null(st);
	assert_int_equal(store__write(st, p), 0);
	store__close(st);
	profile__free(p);

	so.read_only = true;
	st = store__open(&so);
	assert_non_null(st);
	c = (struct api_ctx){.st = st, .now_ns = now};

	web_response__init(&r);
	api__get(&c, "flamegraph", "from=-1h&to=now", &r);
	assert_int_equal(r.status, 200);
	web_response__release(&r);

	c.deadline_mono_ns = 1; /* long past */
	web_response__init(&r);
	api__get(&c, "flamegraph", "from=-1h&to=now", &r);
	assert_int_equal(r.status, 503);
	assert_true(r.retry_after > 0);
	assert_non_null(strstr(r.body.p, "took longer"));
	web_response__release(&r);
	web_response__init(&r);
	api__get(&c, "timeline", "from=-1h&to=now", &r);
	assert_int_equal(r.status, 503);
	web_response__release(&r);

	c.deadline_mono_ns = 0;
	web_response__init(&r);
	api__get(&c, "top", "from=-1h&to=now&match=(a%2B)%2B%24", &r);
	assert_int_equal(r.status, 200); /* short names: within limits */
	web_response__release(&r);
	web_response__init(&r);
	api__get(&c, "flamegraph", "from=-1h&to=now&max_nodes=1000000", &r);
	assert_int_equal(r.status, 400);
	web_response__release(&r);

	store__close(st);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_web__json_escapes_and_replaces_bad_utf8),
	    cmocka_unit_test(test_web__params_decode_and_limits),
	    cmocka_unit_test(test_web__range_checks),
	    cmocka_unit_test(test_web__range_filter_operators),
	    cmocka_unit_test(test_web__flame_limit_merges_narrow_nodes),
	    cmocka_unit_test(test_web__flame_counts_recursion_once),
	    cmocka_unit_test(test_web__flame_modules_and_system_names),
	    cmocka_unit_test(test_web__budgets_answer_503_and_400),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
