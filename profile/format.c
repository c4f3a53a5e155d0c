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
	case FORMAT_JSON:
		return json__write(p, opts, out);
	default:
		return -ENOTSUP;
	}
}
