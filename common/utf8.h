/* utf8.h - UTF-8 checks for text that leaves abbey: reports and terminal output.
 *
 * Log bytes are not always UTF-8. What abbey writes for other programs must be:
 * reports (CSV, JSON, GET /v1/reports) replace each ill-formed part with U+FFFD,
 * and text shown on a terminal (bad-line samples) is escaped so that no control
 * byte reaches it. Well-formed means the Unicode definition (RFC 3629): no
 * overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF. A
 * "maximal subpart" is the longest start of a well-formed sequence found at an
 * ill-formed position (at least one byte), as in Unicode 15 §3.9 (U+FFFD
 * substitution of maximal subparts) and Python's decode(errors="replace").
 * Pure functions: thread-safe, no allocation except growing the caller's buf_t. */
#ifndef ABBEY_UTF8_H
#define ABBEY_UTF8_H

#include <stddef.h>

#include "buf.h"

/* Bytes of the well-formed character at s[0..len) (1 to 4), or 0 when s does
 * not start with one. len >= 1. Cannot fail. */
size_t utf8_char(const char *s, size_t len);

/* The number of leading bytes of s[0..len) that are well-formed UTF-8: len
 * when all of it is. Cannot fail. */
size_t utf8_valid_prefix(const char *s, size_t len);

/* Append s[0..len) to out, each maximal subpart of an ill-formed sequence
 * replaced by U+FFFD (EF BF BD); well-formed bytes, control characters
 * included, are copied unchanged. Cannot fail (out grows; see buf.h). */
void utf8_put_replaced(buf_t *out, const char *s, size_t len);

/* Write s[0..len) escaped for a terminal into dst (cap bytes, cap >= 1), NUL
 * terminated, and return dst: printable well-formed UTF-8 is copied, a
 * backslash becomes "\\", and every other byte (C0 controls, DEL, the bytes
 * of C1 controls U+0080..U+009F, bytes of ill-formed sequences, NUL) becomes
 * "\xNN" (lower-case hex), so the text is reversible and carries no control
 * byte. Stops early, at a character boundary, when dst is full; 4 * len + 1
 * bytes always suffice. Cannot fail. */
char *utf8_escape(char *dst, size_t cap, const char *s, size_t len);

#endif
