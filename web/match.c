// SPDX-License-Identifier: MIT
/*
 * The search of match=: PCRE2 with every cost bounded. glibc's regcomp
 * recursed once per nested group (a short pattern overflowed a worker's
 * stack) and its matcher backtracked without limit, so a single GET could
 * kill or stall the server. Here the pattern length, the nesting depth,
 * the compiled size (PCRE2's own limit), the backtracking steps, the
 * depth and the heap of each match are capped, and so is the total time
 * one request spends matching.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "web/web_int.h"
#include "lib/clock.h"

struct web_match {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	uint64_t deadline_us;
};

void web_match__free(struct web_match *m)
{
	if (!m)
		return;
	pcre2_match_data_free(m->md);
	pcre2_match_context_free(m->mctx);
	pcre2_code_free(m->code);
	free(m);
}

int web_match__compile(const char *pattern, struct web_match **out, char *err,
		       size_t errlen)
{
	pcre2_compile_context *cctx = NULL;
	struct web_match *m;
	PCRE2_SIZE eoff = 0;
	size_t len = strlen(pattern);
	int ecode = 0, ret = 0;

	*out = NULL;
	if (len > WEB_MATCH_MAX_LEN) {
		snprintf(err, errlen, "pattern in 'match' longer than %d bytes",
			 WEB_MATCH_MAX_LEN);
		return -E2BIG;
	}
	m = calloc(1, sizeof(*m));
	cctx = pcre2_compile_context_create(NULL);
	if (!m || !cctx)
		goto oom;
	pcre2_set_max_pattern_length(cctx, WEB_MATCH_MAX_LEN);
	pcre2_set_parens_nest_limit(cctx, WEB_MATCH_MAX_NEST);
	/*
	 * Byte mode, no UTF: frame names are untrusted bytes and need not be
	 * valid UTF-8. \C and callouts are never wanted in a search box.
	 */
	m->code = pcre2_compile((PCRE2_SPTR)pattern, len,
				PCRE2_NEVER_BACKSLASH_C | PCRE2_NO_AUTO_CAPTURE,
				&ecode, &eoff, cctx);
	if (!m->code) {
		PCRE2_UCHAR msg[160];

		if (pcre2_get_error_message(ecode, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ecode);
		snprintf(err, errlen,
			 "malformed or too complex regex in 'match' at offset "
			 "%zu: %s",
			 (size_t)eoff, (const char *)msg);
		ret = -EINVAL;
		goto fail;
	}
	m->md = pcre2_match_data_create(1, NULL);
	m->mctx = pcre2_match_context_create(NULL);
	if (!m->md || !m->mctx)
		goto oom;
	pcre2_set_match_limit(m->mctx, WEB_MATCH_STEPS);
	pcre2_set_depth_limit(m->mctx, WEB_MATCH_DEPTH);
	pcre2_set_heap_limit(m->mctx, WEB_MATCH_HEAP_KIB);
	m->deadline_us = clock__mono_us() + WEB_MATCH_BUDGET_MS * 1000ULL;
	pcre2_compile_context_free(cctx);
	*out = m;
	return 0;
oom:
	snprintf(err, errlen, "out of memory compiling 'match'");
	ret = -ENOMEM;
fail:
	pcre2_compile_context_free(cctx);
	web_match__free(m);
	return ret;
}

int web_match__exec(struct web_match *m, const char *s)
{
	int rc;

	if (clock__mono_us() > m->deadline_us)
		return -ETIME;
	rc = pcre2_match(m->code, (PCRE2_SPTR)s, strlen(s), 0, 0, m->md,
			 m->mctx);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT)
		return -E2BIG;
	return rc == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -EINVAL;
}
