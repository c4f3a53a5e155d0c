// SPDX-License-Identifier: MIT
/*
 * A growable byte buffer with just enough JSON to write API responses.
 * Responses can be megabytes (big flame graphs), so allocation failure is
 * remembered in 'oom' and reported once by the caller instead of aborting.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_int.h"

void jbuf__init(struct jbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void jbuf__release(struct jbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static bool jbuf__reserve(struct jbuf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return false;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void jbuf__raw(struct jbuf *b, const char *s, size_t len)
{
	if (!jbuf__reserve(b, len))
		return;
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void jbuf__puts(struct jbuf *b, const char *s)
{
	jbuf__raw(b, s, strlen(s));
}

void jbuf__printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !jbuf__reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void jbuf__u64(struct jbuf *b, uint64_t v)
{
	char tmp[24], *q = tmp + sizeof(tmp);

	do {
		*--q = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	jbuf__raw(b, q, (size_t)(tmp + sizeof(tmp) - q));
}

void jbuf__sep(struct jbuf *b)
{
	char c;

	if (!b->len)
		return;
	c = b->p[b->len - 1];
	if (c != '[' && c != '{' && c != ':' && c != ',')
		jbuf__raw(b, ",", 1);
}

/* Length of a valid UTF-8 sequence at 's', or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xe0 && s[1] < 0xa0)
			return 0;
		if (s[0] == 0xed && s[1] > 0x9f)
			return 0; /* surrogates */
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xf0 && s[1] < 0x90)
			return 0;
		if (s[0] == 0xf4 && s[1] > 0x8f)
			return 0;
		return 4;
	}
	return 0;
}

void jbuf__str(struct jbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *run = s;

	jbuf__raw(b, "\"", 1);
	while (*s) {
		size_t n = utf8_len(s);

		if (n == 1 && *s >= 0x20 && *s != '"' && *s != '\\') {
			s++;
			continue;
		}
		if (n > 1) {
			s += n;
			continue;
		}
		jbuf__raw(b, (const char *)run, (size_t)(s - run));
		if (n == 0) /* not UTF-8: JSON must be */
			jbuf__puts(b, "\\ufffd");
		else if (*s == '"')
			jbuf__puts(b, "\\\"");
		else if (*s == '\\')
			jbuf__puts(b, "\\\\");
		else if (*s == '\n')
			jbuf__puts(b, "\\n");
		else if (*s == '\t')
			jbuf__puts(b, "\\t");
		else
			jbuf__printf(b, "\\u%04x", *s);
		s++;
		run = s;
	}
	jbuf__raw(b, (const char *)run, (size_t)(s - run));
	jbuf__raw(b, "\"", 1);
}
