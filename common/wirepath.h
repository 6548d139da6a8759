/* wirepath.h - file paths as JSON carries them: any bytes, written as UTF-8 text.
 *
 * A file name is bytes; a JSON string must be UTF-8. The wire form of a
 * path keeps every valid UTF-8 character as it is, writes each byte of an
 * invalid sequence as "%XX" (two upper-case hex digits, always 80 to FF),
 * and writes a '%' as "%25" when it would otherwise read as such an escape
 * (a '%' followed by "25" or by two hex digits from 80 to FF). Decoding
 * turns "%25" and "%80".."%FF" back into bytes and leaves any other '%' as
 * it is. So a UTF-8 path without such a '%' is its own wire form, and
 * decode(encode(p)) == p for every path p. The slave encodes the paths a
 * glob matches and decodes the file and glob paths of its leases; the
 * rules file's paths are in wire form too (docs/CLUSTER.md, docs/RULES.md).
 * Thread-safe. */
#ifndef ABBEY_WIREPATH_H
#define ABBEY_WIREPATH_H

#include <apr_pools.h>
#include <stddef.h>

/* The wire form of path, in pool (path itself when nothing needs escaping). */
const char *wirepath_encode(const char *path, apr_pool_t *pool);

/* The path whose wire form is wire, in pool (wire itself when it holds no
 * escape). Never yields a NUL byte: "%00".."%7F" are not escapes. */
const char *wirepath_decode(const char *wire, apr_pool_t *pool);

#endif
