// SPDX-License-Identifier: MIT
#include "profile/format.h"

#include <errno.h>
#include <string.h>

static const char *const format_names[] = {
    [FORMAT_FOLDED] = "folded",
    [FORMAT_PPROF] = "pprof",
    [FORMAT_SPEEDSCOPE] = "speedscope",
    [FORMAT_SVG] = "svg",
    [FORMAT_JSON] = "json",
};

enum profile_format format__from_name(const char *name)
{
	for (int i = 0; i < FORMAT_UNKNOWN; i++)
		if (!strcmp(name, format_names[i]))
			return (enum profile_format)i;
	return FORMAT_UNKNOWN;
}

const char *format__name(enum profile_format fmt)
{
	return fmt < FORMAT_UNKNOWN ? format_names[fmt] : "unknown";
}

int profile__write(const struct profile *p, enum profile_format fmt,
		   const struct write_opts *opts, FILE *out)
{
	switch (fmt) {
	case FORMAT_FOLDED:
		return folded__write(p, opts, out);
	case FORMAT_PPROF:
		return pprof__write(p, opts, out);
	case FORMAT_SPEEDSCOPE:
		return speedscope__write(p, opts, out);
	case FORMAT_SVG:
		return svg__write(p, opts, out);
	default:
		return -ENOTSUP;
	}
}

bool format__utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n >= len - i)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and out-of-range code points are
		 * what make "valid UTF-8" more than a bit-pattern check. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

void format__json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (c < 0x20)
				fprintf(out, "\\u%04x", c);
			else
				fputc(c, out);
		}
	}
	fputc('"', out);
}

void format__xml_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			/* XML 1.0 forbids most control characters outright. */
			fputc(c < 0x20 && c != '\t' && c != '\n' ? '?' : c,
			      out);
		}
	}
}
