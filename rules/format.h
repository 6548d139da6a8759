/* format.h - line formats: turn one log line into an array of typed fields.
 *
 * Built-ins: "combined" (Apache/nginx combined log) and "common" (CLF). Their
 * fields, in order:
 *   ip, ident, user, time, request, method, path, protocol, status, bytes  (common)
 *   ... plus referer, agent                                                (combined)
 * `time` is the bracketed time converted to VAL_TIME (UTC epoch seconds, the
 * line's own +hhmm offset applied); `status` and `bytes` are VAL_INT; a field
 * written "-" is VAL_NULL; method/path/protocol are split from the request.
 *
 * "split": a delimiter string and named fields; a field may carry a type,
 * "name:int", "name:float", "name:time" (epoch seconds), "name:str"; an untyped
 * field is FMT_AUTO: text that becomes a number when a rule needs one.
 *
 * A compiled fmt_t is immutable and may be shared by threads; fmt_parse is
 * reentrant (all state is in the caller's val_t array) and allocates nothing. */
#ifndef ABBEY_FORMAT_H
#define ABBEY_FORMAT_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "value.h"

#define FMT_MAX_FIELDS 64

typedef enum fmt_type_t {
    FMT_STR,   /* text */
    FMT_INT,   /* integer; non-integer text makes the line bad */
    FMT_FLOAT, /* number; non-numeric text makes the line bad */
    FMT_TIME,  /* epoch seconds (VAL_TIME) */
    FMT_AUTO   /* text, converted to a number where a rule needs one */
} fmt_type_t;

/* Why a line is bad. FMT_OK is 0. */
typedef enum fmt_bad_t {
    FMT_OK = 0,
    FMT_BAD_FIELDS,   /* too few / too many fields, or structure not recognised */
    FMT_BAD_QUOTE,    /* a quoted field is not closed */
    FMT_BAD_TIME,     /* bracketed or typed time does not parse */
    FMT_BAD_NUMBER,   /* a numeric field is not a number */
    FMT_BAD_REQUEST,  /* not used for rejecting: odd requests keep method/path NULL */
    FMT_BAD_TOO_LONG, /* line longer than the format accepts */
    FMT_BAD__COUNT
} fmt_bad_t;

typedef struct fmt_t fmt_t;

/* Compile a built-in format by name ("combined" or "common").
 * On error (unknown name) returns APR_EINVAL with a message listing the built-ins. */
apr_status_t fmt_create_builtin(const char *name, apr_pool_t *pool, fmt_t **out, abbey_err_t *err);

/* Compile a split format: delim (non-empty) separates fields; names are
 * "name" or "name:type". Duplicate or empty names, unknown types, or more than
 * FMT_MAX_FIELDS fields give APR_EINVAL and a message naming the field. */
apr_status_t fmt_create_split(const char *delim, const char *const *fields, int nfields,
                              apr_pool_t *pool, fmt_t **out, abbey_err_t *err);

const char *fmt_name(const fmt_t *f);              /* "combined", "common", "split" */
int fmt_nfields(const fmt_t *f);
const char *fmt_field_name(const fmt_t *f, int i);
fmt_type_t fmt_field_type(const fmt_t *f, int i);
int fmt_field_index(const fmt_t *f, const char *name, size_t len); /* -1 when unknown */

/* Parse one line (without its '\n'; a trailing '\r' is ignored) into fields[0..nfields).
 * need: bit i set when field i's value is used by the rules; fields not needed
 *       may be left unconverted (their kind is unspecified), but the line's
 *       structure is always checked in full, so badness never depends on rules.
 * num:  bit i set when field i (FMT_AUTO) is used as a number: it is converted,
 *       and the line is bad (FMT_BAD_NUMBER) when it is not numeric text.
 * Returns FMT_OK, or the reason the line is bad. Never reads outside line[0..len). */
fmt_bad_t fmt_parse(const fmt_t *f, const char *line, size_t len, uint64_t need, uint64_t num,
                    val_t *fields);

/* Short text for a reason, e.g. "unterminated quote". */
const char *fmt_bad_text(fmt_bad_t why);

#endif
