/* SPDX-License-Identifier: MIT */
/*
 * C++ (Itanium ABI) and Rust (legacy and v0) demangling, with libiberty's
 * demangler (the one binutils and gdb use). Callers cache the result: the
 * symbolizer demangles a symbol once per object, never per sample.
 */
#ifndef KILN_DEMANGLE_H
#define KILN_DEMANGLE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Longest name handed to the demangler. libiberty sizes its work arrays on
 * the stack from the name's length (about 72 bytes a character), so a
 * hostile 1 MB symbol would overflow the stack. Longer names stay mangled.
 */
#define DEMANGLE_MAX_LEN 4096

/* Whether 'name' looks mangled (_Z..., _R..., _GLOBAL__...): a cheap test
 * that keeps plain C and Go names away from the demangler. */
bool demangle__is_mangled(const char *name);

/*
 * The demangled form of 'name' with its parameter list
 * ("node::Start(int, char**)"; Rust without the legacy hash), written into
 * 'buf'. Returns its length, or 0 when 'name' is not mangled, malformed, too
 * long, or the result does not fit (buf is then left undefined).
 */
size_t demangle__name(const char *name, char *buf, size_t size);

#endif
