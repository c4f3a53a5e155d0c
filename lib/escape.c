// SPDX-License-Identifier: MIT
#include "lib/escape.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t escape__utf8_seq(const char *str, size_t avail)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	if (!avail)
		return 0;
	if (s[0] < 0x80)
		return 1;
	/* Second-byte ranges from RFC 3629's table exclude overlong forms,
	 * surrogates and code points above U+10FFFF. */
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

bool escape__utf8_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = escape__utf8_seq(s + i, len - i);

		if (!n || !s[i])
			return false;
		i += n;
	}
	return true;
}

size_t escape__utf8_clip(const char *s, size_t len, size_t max)
{
	size_t i = 0;

	while (i < len) {
		size_t n = escape__utf8_seq(s + i, len - i);

		if (!n)
			n = 1; /* a bad byte is one (replaced) character */
		if (i + n > max)
			break;
		i += n;
	}
	return i;
}

enum mode { MODE_JSON, MODE_XML, MODE_TEXT };

/* What one ASCII control or special byte becomes; NULL keeps it. */
static const char *special(enum mode m, unsigned char c, char tmp[8])
{
	switch (m) {
	case MODE_JSON:
		switch (c) {
		case '"':
			return "\\\"";
		case '\\':
			return "\\\\";
		case '\n':
			return "\\n";
		case '\t':
			return "\\t";
		case '\r':
			return "\\r";
		}
		if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, 8, "\\u%04x", c);
			return tmp;
		}
		return NULL;
	case MODE_XML:
		switch (c) {
		case '<':
			return "&lt;";
		case '>':
			return "&gt;";
		case '&':
			return "&amp;";
		case '"':
			return "&quot;";
		case '\'':
			return "&#39;";
		case '\t':
			return "&#9;";
		case '\n':
			return "&#10;";
		case '\r':
			return "&#13;";
		}
		return c < 0x20 || c == 0x7f ? ESCAPE_REPLACEMENT : NULL;
	case MODE_TEXT:
		return c < 0x20 || c == 0x7f ? ESCAPE_REPLACEMENT : NULL;
	}
	return NULL;
}

static void escape(enum mode m, escape_sink_fn *sink, void *ctx, const char *s,
		   size_t len)
{
	const char *run = s, *end = s + len;
	char tmp[8];

	while (s < end) {
		size_t n = escape__utf8_seq(s, (size_t)(end - s));
		const char *rep;

		if (n == 1) {
			rep = special(m, (unsigned char)*s, tmp);
			if (!rep) {
				s++;
				continue;
			}
		} else if (n > 1) {
			/* C1 controls (U+0080..U+009F) act on terminals:
			 * escaped in JSON, replaced in XML and text. */
			if ((unsigned char)s[0] != 0xc2 ||
			    (unsigned char)s[1] >= 0xa0) {
				s += n;
				continue;
			}
			if (m == MODE_JSON) {
				snprintf(tmp, 8, "\\u%04x",
					 (unsigned char)s[1]);
				rep = tmp;
			} else {
				rep = ESCAPE_REPLACEMENT;
			}
		} else {
			rep = m == MODE_JSON ? "\\ufffd" : ESCAPE_REPLACEMENT;
			n = 1;
		}
		if (s > run)
			sink(ctx, run, (size_t)(s - run));
		sink(ctx, rep, strlen(rep));
		s += n;
		run = s;
	}
	if (s > run)
		sink(ctx, run, (size_t)(s - run));
}

void escape__json(escape_sink_fn *sink, void *ctx, const char *s, size_t len)
{
	escape(MODE_JSON, sink, ctx, s, len);
}

void escape__xml(escape_sink_fn *sink, void *ctx, const char *s, size_t len)
{
	escape(MODE_XML, sink, ctx, s, len);
}

void escape__text(escape_sink_fn *sink, void *ctx, const char *s, size_t len)
{
	escape(MODE_TEXT, sink, ctx, s, len);
}

static void file_sink(void *ctx, const char *s, size_t len)
{
	fwrite(s, 1, len, ctx);
}

void escape__json_file(FILE *out, const char *s)
{
	fputc('"', out);
	escape(MODE_JSON, file_sink, out, s, strlen(s));
	fputc('"', out);
}

void escape__xml_file(FILE *out, const char *s)
{
	escape(MODE_XML, file_sink, out, s, strlen(s));
}

void escape__text_file(FILE *out, const char *s)
{
	escape(MODE_TEXT, file_sink, out, s, strlen(s));
}

bool escape__text_clean(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = escape__utf8_seq(s + i, len - i);
		unsigned char c = (unsigned char)s[i];

		if (!n || c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && (unsigned char)s[i + 1] < 0xa0))
			return false;
		i += n;
	}
	return true;
}

struct dup_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void dup_sink(void *ctx, const char *s, size_t len)
{
	struct dup_buf *b = ctx;

	if (b->oom)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t cap = (b->len + len + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = 0;
}

char *escape__text_dup(const char *s)
{
	size_t len = strlen(s);
	struct dup_buf b = {malloc(len + 1), 0, len + 1, false};

	if (!b.p)
		return NULL;
	b.p[0] = 0;
	escape(MODE_TEXT, dup_sink, &b, s, len);
	if (b.oom) {
		free(b.p);
		errno = ENOMEM;
		return NULL;
	}
	return b.p;
}
