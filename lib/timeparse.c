// SPDX-License-Identifier: MIT
#include "lib/timeparse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define NS 1000000000ULL

/*
 * Reads "DIGITS[.DIGITS]" as a value scaled by 'scale' (so "1.5" with
 * scale 1e9 gives 1500000000). Returns the end, or NULL if no digits or
 * on overflow (*ovf set).
 */
static const char *read_scaled(const char *p, uint64_t scale, uint64_t *out,
			       bool *ovf)
{
	uint64_t whole = 0, frac = 0, div = 1;
	bool digits = false;

	for (; isdigit((unsigned char)*p); p++, digits = true) {
		if (whole > (UINT64_MAX - 9) / 10) {
			*ovf = true;
			return NULL;
		}
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		for (; isdigit((unsigned char)*p); p++, digits = true) {
			/* Digits past nanosecond precision are dropped. */
			if (div < 1000000000000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				div *= 10;
			}
		}
	}
	if (!digits)
		return NULL;
	if (scale && whole > UINT64_MAX / scale) {
		*ovf = true;
		return NULL;
	}
	/* frac/div * scale, without overflow for scale <= 1e9 * 604800. */
	unsigned __int128 f = (unsigned __int128)frac * scale / div;
	*out = whole * scale;
	if (*out > UINT64_MAX - (uint64_t)f) {
		*ovf = true;
		return NULL;
	}
	*out += (uint64_t)f;
	return p;
}

static const struct unit {
	const char *name;
	uint64_t scale;
} time_units[] = {
    /* Longest names first so "ms" is not read as "m" then "s". */
    {"ns", 1},	    {"us", 1000},     {"ms", 1000000},	 {"s", NS},
    {"m", 60 * NS}, {"h", 3600 * NS}, {"d", 86400 * NS}, {"w", 604800 * NS},
};

int timeparse__duration(const char *s, uint64_t *out_ns)
{
	uint64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		const char *num = p, *end;
		const struct unit *u = NULL;
		uint64_t v;
		bool ovf = false;

		while (isdigit((unsigned char)*p) || *p == '.')
			p++;
		if (p == num)
			return -EINVAL;
		for (size_t i = 0;
		     i < sizeof(time_units) / sizeof(time_units[0]); i++) {
			size_t n = strlen(time_units[i].name);

			if (!strncmp(p, time_units[i].name, n) &&
			    !isalpha((unsigned char)p[n])) {
				u = &time_units[i];
				break;
			}
		}
		if (!u && *p)
			return -EINVAL;
		if (!u && p != s + strlen(s))
			return -EINVAL;
		end = read_scaled(num, u ? u->scale : NS, &v, &ovf);
		if (!end)
			return ovf ? -ERANGE : -EINVAL;
		if (end != p)
			return -EINVAL; /* "1.2.3" */
		if (total > UINT64_MAX - v)
			return -ERANGE;
		total += v;
		if (u)
			p += strlen(u->name);
		else
			break; /* a bare number stands alone */
	}
	*out_ns = total;
	return 0;
}

int timeparse__size(const char *s, uint64_t *bytes)
{
	static const char *const prefixes = "KMGT";
	uint64_t scale = 1, v;
	const char *p;
	bool ovf = false;

	if (!s || !*s)
		return -EINVAL;
	p = s;
	while (isdigit((unsigned char)*p) || *p == '.')
		p++;
	if (p == s)
		return -EINVAL;
	if (*p) {
		const char *pos = strchr(prefixes, toupper((unsigned char)*p));

		if (pos && *pos) {
			for (const char *q = prefixes; q <= pos; q++)
				scale *= 1024;
			if (!strcasecmp(p + 1, "") || !strcasecmp(p + 1, "B") ||
			    !strcasecmp(p + 1, "iB"))
				;
			else
				return -EINVAL;
		} else if (strcasecmp(p, "B")) {
			return -EINVAL;
		}
	}
	if (!read_scaled(s, scale, &v, &ovf))
		return ovf ? -ERANGE : -EINVAL;
	*bytes = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's method). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static bool read_fixed(const char **p, int n, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static int parse_rfc3339(const char *s, uint64_t *out_ns)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
					 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
	const char *p = s;
	uint64_t frac = 0, div = 1;
	int64_t t, off = 0;

	if (!read_fixed(&p, 4, &y) || *p++ != '-' || !read_fixed(&p, 2, &mo) ||
	    *p++ != '-' || !read_fixed(&p, 2, &d))
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if (!read_fixed(&p, 2, &h) || *p++ != ':' || !read_fixed(&p, 2, &mi) ||
	    *p++ != ':' || !read_fixed(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++)
			if (div < NS) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				div *= 10;
			}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;

		if (!read_fixed(&p, 2, &oh) || *p++ != ':' ||
		    !read_fixed(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		off = sign * (int64_t)(oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	/* Leap second 60 is allowed by RFC 3339 and folds into the next. */
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 &&
	    !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	if (t < 0 || (uint64_t)t > UINT64_MAX / NS - 1)
		return -ERANGE;
	*out_ns = (uint64_t)t * NS + frac * (NS / div);
	return 0;
}

/*
 * Beyond this, a time is a typo or an attack, not a profile: 2200-01-01.
 * (Unix nanoseconds end in 2554; sums and rollups near that wrap.)
 */
#define TIME_MAX_NS (7258118400ULL * NS)

static int time_parse_any(const char *s, uint64_t now_ns, uint64_t *out_ns);

int timeparse__time(const char *s, uint64_t now_ns, uint64_t *out_ns)
{
	int err = time_parse_any(s, now_ns, out_ns);

	if (!err && *out_ns >= TIME_MAX_NS)
		return -ERANGE;
	return err;
}

static int time_parse_any(const char *s, uint64_t now_ns, uint64_t *out_ns)
{
	uint64_t d;
	bool ovf = false;
	const char *end;
	int err;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "now")) {
		*out_ns = now_ns;
		return 0;
	}
	if (*s == '-' || *s == '+') {
		if ((err = timeparse__duration(s + 1, &d)))
			return err;
		if (*s == '-') {
			if (d > now_ns)
				return -ERANGE;
			*out_ns = now_ns - d;
		} else {
			if (now_ns > UINT64_MAX - d)
				return -ERANGE;
			*out_ns = now_ns + d;
		}
		return 0;
	}
	if (strlen(s) >= 10 && s[4] == '-')
		return parse_rfc3339(s, out_ns);
	end = read_scaled(s, NS, &d, &ovf);
	if (!end)
		return ovf ? -ERANGE : -EINVAL;
	if (*end)
		return -EINVAL;
	*out_ns = d;
	return 0;
}
