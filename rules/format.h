/* format.h - line formats: turn one log line into an array of typed fields.
 *
 * Built-ins: "combined" (Apache/nginx combined log) and "common" (CLF). Their
 * fields, in order:
 *   ip, ident, user, time, request, method, path, protocol, status, bytes  (common)
 *   ... plus referer, agent                                                (combined)
 * `time` is the bracketed time converted to VALUE_TIME (UTC epoch seconds, the
 * line's own +hhmm offset applied); `status` and `bytes` are VALUE_INT; a field
 * written "-" is VALUE_NULL; method/path/protocol are split from the request.
 *
 * "split": a delimiter string and named fields; a field may carry a type,
 * "name:int", "name:float", "name:time" (epoch seconds), "name:str"; an untyped
 * field is FORMAT_AUTO: text that becomes a number when a rule needs one.
 *
 * A compiled format_t is immutable and may be shared by threads; format_parse is
 * reentrant (all state is in the caller's value_t array) and allocates nothing. */
#ifndef ABBEY_FORMAT_H
#define ABBEY_FORMAT_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "value.h"

#define FORMAT_MAX_FIELDS 64

typedef enum format_type_t {
    FORMAT_STR,   /* text */
    FORMAT_INT,   /* integer; non-integer text makes the line bad */
    FORMAT_FLOAT, /* number; non-numeric text makes the line bad */
    FORMAT_TIME,  /* epoch seconds (VALUE_TIME) */
    FORMAT_AUTO   /* text, converted to a number where a rule needs one */
} format_type_t;

/* Why a line is bad. FORMAT_OK is 0. */
typedef enum format_bad_t {
    FORMAT_OK = 0,
    FORMAT_BAD_FIELDS,   /* too few / too many fields, or structure not recognised */
    FORMAT_BAD_QUOTE,    /* a quoted field is not closed */
    FORMAT_BAD_TIME,     /* bracketed or typed time does not parse */
    FORMAT_BAD_NUMBER,   /* a numeric field is not a number */
    FORMAT_BAD_REQUEST,  /* not used for rejecting: odd requests keep method/path NULL */
    FORMAT_BAD_TOO_LONG, /* line longer than the format accepts */
    FORMAT_BAD__COUNT
} format_bad_t;

typedef struct format_t format_t;

/* Compile a built-in format by name ("combined" or "common").
 * On error (unknown name) returns APR_EINVAL with a message listing the built-ins. */
apr_status_t format_create_builtin(const char *name, apr_pool_t *pool, format_t **out,
                                   abbey_err_t *err);

/* Compile a split format: delim (non-empty) separates fields; names are
 * "name" or "name:type". Duplicate or empty names, unknown types, or more than
 * FORMAT_MAX_FIELDS fields give APR_EINVAL and a message naming the field. */
apr_status_t format_create_split(const char *delim, const char *const *fields, int nfields,
                                 apr_pool_t *pool, format_t **out, abbey_err_t *err);

const char *format_name(const format_t *f); /* "combined", "common", "split" */
int format_nfields(const format_t *f);
const char *format_field_name(const format_t *f, int i);
format_type_t format_field_type(const format_t *f, int i);
int format_field_index(const format_t *f, const char *name, size_t len); /* -1 when unknown */

/* Parse one line (without its '\n'; a trailing '\r' is ignored) into fields[0..nfields).
 * need: bit i set when field i's value is used by the rules; fields not needed
 *       may be left unconverted (their kind is unspecified), but the line's
 *       structure is always checked in full, so badness never depends on rules.
 * num:  bit i set when field i (FORMAT_AUTO) is used as a number: it is converted,
 *       and the line is bad (FORMAT_BAD_NUMBER) when it is not numeric text.
 * Returns FORMAT_OK, or the reason the line is bad. Never reads outside line[0..len). */
format_bad_t format_parse(const format_t *f, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *fields);

/* Short text for a reason, e.g. "unterminated quote". */
const char *format_bad_text(format_bad_t why);

#endif
