/* SPDX-License-Identifier: MIT */
/*
 * The one place that turns untrusted bytes (function names read from
 * binaries, process names from the kernel) into text: JSON string bodies,
 * XML text and attributes, and plain text for terminals and folded files.
 *
 * Every escaper validates UTF-8 the same way: a byte that does not start a
 * valid sequence (bad lead byte, truncated or overlong sequence, surrogate,
 * code point above U+10FFFF) becomes U+FFFD, and decoding resumes at the
 * next byte. So two writers always agree on what a bad name looks like, and
 * what kiln writes, kiln (and every strict parser) can read back.
 *
 * Control characters: JSON escapes them (\n, \t, \r, \uXXXX, DEL and the
 * C1 controls too, so JSON on a terminal is harmless); XML writes
 * tab, newline and carriage return as character references and replaces
 * the others (XML 1.0 cannot carry C0 controls at all), DEL and the C1
 * controls with U+FFFD; text replaces
 * every C0 and C1 control and DEL with U+FFFD, so nothing written to a
 * terminal can move its cursor or change its state.
 */
#ifndef KILN_ESCAPE_H
#define KILN_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
#define ESCAPE_REPLACEMENT "\xef\xbf\xbd"

/* Receives escaped output in pieces. */
typedef void escape_sink_fn(void *ctx, const char *s, size_t len);

/*
 * Length (2..4) of the valid multi-byte UTF-8 sequence at 's', 1 for an
 * ASCII byte, 0 when the byte at 's' does not start a valid sequence.
 * Reads at most 'avail' bytes.
 */
size_t escape__utf8_seq(const char *s, size_t avail);

/* True when 'len' bytes at 's' are valid UTF-8 without NUL bytes. */
bool escape__utf8_valid(const char *s, size_t len);

/* The longest prefix of 's' (of 'len' bytes) that is at most 'max' bytes
 * and does not end inside a UTF-8 sequence. */
size_t escape__utf8_clip(const char *s, size_t len, size_t max);

/* JSON string body (no quotes) of 'len' bytes at 's'. */
void escape__json(escape_sink_fn *sink, void *ctx, const char *s, size_t len);
/* XML text and attribute value (quotes and apostrophes escaped too). */
void escape__xml(escape_sink_fn *sink, void *ctx, const char *s, size_t len);
/* Plain text: valid UTF-8 without control characters. */
void escape__text(escape_sink_fn *sink, void *ctx, const char *s, size_t len);

/* FILE conveniences over a NUL-terminated string. escape__json_file()
 * writes the quotes too. */
void escape__json_file(FILE *out, const char *s);
void escape__xml_file(FILE *out, const char *s);
void escape__text_file(FILE *out, const char *s);

/*
 * A malloc'd copy of 's' as escape__text() writes it, or NULL with errno
 * set.
 */
char *escape__text_dup(const char *s);

/* True when escape__text() would write 's' unchanged. */
bool escape__text_clean(const char *s, size_t len);

#endif
