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

#include "lib/escape.h"
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

static void jbuf_sink(void *ctx, const char *s, size_t len)
{
	jbuf__raw(ctx, s, len);
}

void jbuf__str(struct jbuf *b, const char *s)
{
	jbuf__raw(b, "\"", 1);
	escape__json(jbuf_sink, b, s, strlen(s));
	jbuf__raw(b, "\"", 1);
}
