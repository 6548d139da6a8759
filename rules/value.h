/* value.h - the typed value a line field or an expression produces, and key tuples.
 *
 * A value_t is a small tagged value. Strings are not owned: s/len point into the
 * line being processed (or into an expression context's scratch space), so a
 * value_t is valid only until the next line. Fields parsed from a line keep their
 * raw text in s/len even when they are numbers, so they can be shown as text.
 *
 * Key tuples (an entry's key columns) are encoded into bytes with value_key_put:
 * a tag byte per column, then a fixed 8-byte number or a varint length and the
 * string bytes. Equal tuples give equal bytes, so the encoding is the hash-table
 * key, the frame's row key, and what export renders back to text. */
#ifndef ABBEY_VALUE_H
#define ABBEY_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum value_kind_t {
    VALUE_NULL = 0, /* missing ("-" in access logs, absent field, failed function) */
    VALUE_INT,      /* i */
    VALUE_FLOAT,    /* f */
    VALUE_STR,      /* s, len */
    VALUE_BOOL,     /* i is 0 or 1 */
    VALUE_TIME      /* i: seconds since the Unix epoch, UTC; shown as ISO 8601 */
} value_kind_t;

typedef struct value_t {
    uint8_t kind;  /* value_kind_t */
    uint32_t len;  /* bytes at s */
    const char *s; /* text (VALUE_STR), or the raw field text of a number; may be NULL */
    union {
        int64_t i;
        double f;
    };
} value_t;

/* Numeric view. Returns 0 and sets *out for INT, FLOAT, BOOL, TIME, and for a STR
 * that is a whole decimal number (optional sign, digits, optional fraction and
 * exponent); returns -1 for NULL and for any other text. */
int value_to_double(const value_t *v, double *out);

/* Like value_to_double, but 1 in *is_int when the value is an exact integer
 * (INT, BOOL, TIME, or integer text that fits int64); then *i holds it. */
int value_to_number(const value_t *v, int64_t *i, double *f, int *is_int);

/* Truth of a value for `where`: NULL, 0, 0.0, "" and false are false. */
int value_truthy(const value_t *v);

/* 64-bit hash of a value for distinct counting: numbers hash by numeric value
 * (so 200 and 200.0 agree), strings by their bytes. NULL hashes to a fixed value. */
uint64_t value_hash(const value_t *v);

/* Hash of arbitrary bytes (XXH3, seed 0). */
uint64_t value_hash_bytes(const void *p, size_t len);

/* Append the key encoding of one column to b. */
void value_key_put(buf_t *b, const value_t *v);

/* Decode the next key column from r into v (strings point into r's buffer).
 * Returns 0, or -1 when the bytes are not a valid encoding. */
int value_key_get(buf_reader_t *r, value_t *v);

/* Append a value as text to b: integers in decimal, floats with up to 17
 * significant digits (shortest that round-trips is not required; "%.15g"),
 * TIME as "2015-05-17T10:05:00Z", BOOL as true/false, NULL as nothing. */
void value_render(buf_t *b, const value_t *v);

/* Parse an ISO-8601-free duration such as "10s", "1m", "5m", "1h", "1d", "500ms".
 * Returns 0 and milliseconds in *ms, or -1 when the text is not a duration. */
int value_parse_duration(const char *s, size_t len, int64_t *ms);

#endif
