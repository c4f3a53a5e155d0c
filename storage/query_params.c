// SPDX-License-Identifier: MIT
/*
 * Query-string parsing and validation (see query_params.h): the HTTP
 * API's and the CLI's db: sources'. Bounded here (lengths, counts,
 * ranges) so the callers only see sane values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timeparse.h"
#include "storage/query_params.h"

#define NS 1000000000ULL
/* Older than this is not a profile: a typo such as "from=17". */
#define MIN_SANE_NS (946684800ULL * NS) /* 2000-01-01 */
#define MAX_RANGE_NS (400ULL * 86400 * NS)
#define MAX_FUTURE_NS (86400ULL * NS)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX and '+' in place; returns -EINVAL on a bad escape or NUL. */
static int url_decode(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '+') {
			*w++ = ' ';
		} else if (*s == '%') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			*w++ = (char)(hi * 16 + lo);
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
	return 0;
}

int query_params__parse(struct query_params *pp, const char *qs, char *err,
			size_t errlen)
{
	char *save = NULL, *tok;

	memset(pp, 0, sizeof(*pp));
	if (!qs)
		qs = "";
	if (strlen(qs) > QUERY_MAX_STRING) {
		snprintf(err, errlen, "query string longer than %d bytes",
			 QUERY_MAX_STRING);
		return -E2BIG;
	}
	pp->buf = strdup(qs);
	if (!pp->buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (tok = strtok_r(pp->buf, "&", &save); tok;
	     tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');
		const char *v = "";

		if (pp->n == sizeof(pp->kv) / sizeof(pp->kv[0])) {
			snprintf(err, errlen, "more than %zu parameters",
				 sizeof(pp->kv) / sizeof(pp->kv[0]));
			return -E2BIG;
		}
		if (eq) {
			*eq = '\0';
			v = eq + 1;
		}
		if (url_decode(tok) || (eq && url_decode(eq + 1))) {
			snprintf(err, errlen,
				 "malformed %%-escape in parameter");
			return -EINVAL;
		}
		if (strlen(v) > QUERY_MAX_VALUE) {
			snprintf(err, errlen,
				 "parameter '%.64s' longer than %d bytes", tok,
				 QUERY_MAX_VALUE);
			return -E2BIG;
		}
		pp->kv[pp->n].key = tok;
		pp->kv[pp->n].value = v;
		pp->n++;
	}
	return 0;
}

void query_params__release(struct query_params *pp)
{
	free(pp->buf);
	memset(pp, 0, sizeof(*pp));
}

const char *query_params__get(const struct query_params *pp, const char *key)
{
	for (size_t i = 0; i < pp->n; i++)
		if (!strcmp(pp->kv[i].key, key))
			return pp->kv[i].value;
	return NULL;
}

int query_params__uint(const struct query_params *pp, const char *key,
		       uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
		       char *err, size_t errlen)
{
	const char *v = query_params__get(pp, key);
	unsigned long long n;
	char *end;

	if (!v || !*v) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end || errno || v[0] == '-' || n < min || n > max) {
		snprintf(err, errlen, "'%s' must be an integer in [%llu, %llu]",
			 key, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

static bool key_known(const char *const *known, const char *key, size_t len)
{
	if (!known)
		return true;
	for (; *known; known++)
		if (strlen(*known) == len && !strncmp(*known, key, len))
			return true;
	return false;
}

int query_params__range(const struct query_params *pp, const char *prefix,
			uint64_t now_ns, const char *const *known,
			struct query_range *r, char *err, size_t errlen)
{
	char key[32];
	const char *from, *to;
	int ret;

	memset(r, 0, sizeof(*r));
	r->q.filters = r->filters;
	snprintf(key, sizeof(key), "%sfrom", prefix);
	from = query_params__get(pp, key);
	snprintf(key, sizeof(key), "%sto", prefix);
	to = query_params__get(pp, key);
	if (!from || !*from)
		from = "-1h";
	if (!to || !*to)
		to = "now";
	ret = timeparse__time(from, now_ns, &r->q.from_ns);
	if (ret) {
		snprintf(err, errlen, "cannot parse %sfrom '%.64s'", prefix,
			 from);
		return -EINVAL;
	}
	ret = timeparse__time(to, now_ns, &r->q.to_ns);
	if (ret) {
		snprintf(err, errlen, "cannot parse %sto '%.64s'", prefix, to);
		return -EINVAL;
	}
	if (r->q.from_ns >= r->q.to_ns) {
		snprintf(err, errlen, "%sfrom must be before %sto", prefix,
			 prefix);
		return -EINVAL;
	}
	if (r->q.from_ns < MIN_SANE_NS || r->q.to_ns > now_ns + MAX_FUTURE_NS ||
	    r->q.to_ns - r->q.from_ns > MAX_RANGE_NS) {
		snprintf(err, errlen,
			 "time range %sfrom..%sto out of bounds (after 2000, "
			 "at most 400 days, not beyond tomorrow)",
			 prefix, prefix);
		return -EINVAL;
	}

	snprintf(key, sizeof(key), "%sfilter", prefix);
	for (size_t i = 0; i < pp->n; i++) {
		const char *v = pp->kv[i].value, *eq, *nt, *kend, *val;
		int op;

		if (strcmp(pp->kv[i].key, key))
			continue;
		/* key=value, key!=value, key=~regex, key!~regex */
		eq = strchr(v, '=');
		nt = strstr(v, "!~");
		if (nt && (!eq || nt < eq)) {
			op = QUERY_OP_NOT_MATCH;
			kend = nt;
			val = nt + 2;
		} else if (eq && eq > v && eq[-1] == '!') {
			op = QUERY_OP_NOT_EQUAL;
			kend = eq - 1;
			val = eq + 1;
		} else if (eq && eq[1] == '~') {
			op = QUERY_OP_MATCH;
			kend = eq;
			val = eq + 2;
		} else {
			op = QUERY_OP_EQUAL;
			kend = eq;
			val = eq ? eq + 1 : NULL;
		}
		if (!kend || kend == v) {
			snprintf(err, errlen,
				 "%s '%.64s' is not key=value (or key!=value, "
				 "key=~regex, key!~regex)",
				 key, v);
			return -EINVAL;
		}
		if (!key_known(known, v, (size_t)(kend - v))) {
			snprintf(err, errlen, "unknown label '%.*s' in %s",
				 (int)(kend - v > 64 ? 64 : kend - v), v, key);
			return -EINVAL;
		}
		if (r->q.nr_filters + r->nr_ops == QUERY_MAX_FILTERS) {
			snprintf(err, errlen, "more than %d filters",
				 QUERY_MAX_FILTERS);
			return -E2BIG;
		}
		/* The key is cut out in place: the buffer is ours. */
		((char *)v)[kend - v] = '\0';
		if (op != QUERY_OP_EQUAL) {
			r->ops[r->nr_ops].key = v;
			r->ops[r->nr_ops].value = val;
			r->ops[r->nr_ops++].op = op;
			continue;
		}
		r->filters[r->q.nr_filters].key = v;
		r->filters[r->q.nr_filters].value = val;
		r->q.nr_filters++;
	}
	return 0;
}

int query_params__only(const struct query_params *pp,
		       const char *const *allowed, char *err, size_t errlen)
{
	for (size_t i = 0; i < pp->n; i++) {
		const char *const *a = allowed;

		while (*a && strcmp(*a, pp->kv[i].key))
			a++;
		if (!*a) {
			snprintf(err, errlen, "unknown parameter '%.64s'",
				 pp->kv[i].key);
			return -EINVAL;
		}
	}
	return 0;
}
