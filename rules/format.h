/* format.h - line formats: turn one log line into an array of typed fields.
 *
 * A job's `format:` (docs/RULES.md) compiles into a format_t: its kind (one
 * backend per file, format_int.h lists them) and its fields, each with a name
 * and a type. "nginx" and "apache" take a server's log format string
 * (format_logformat*.c: variables are fields named after them). Built-ins:
 * "combined" (Apache/nginx combined log) and "common" (CLF), which are Apache
 * format strings read a little more leniently. Their fields, in order:
 *   ip, ident, user, time, request, method, path, protocol, status, bytes  (common)
 *   ... plus referer, agent                                                (combined)
 * `time` is the bracketed time converted to VALUE_TIME (UTC epoch seconds, the
 * line's own +hhmm offset applied); `status` and `bytes` are VALUE_INT; a field
 * written "-" is VALUE_NULL; method/path/protocol are split from the request.
 *
 * "split": a delimiter string and named fields; a field may carry a type,
 * "name:int", "name:float", "name:time" (an instant: UTC epoch seconds, read by
 * the spec's time_format and timezone, format_time.c), "name:str"; an untyped
 * field is FORMAT_AUTO: text that becomes a number when a rule needs one.
 *
 * The others, each in its format_<kind>.c and docs/RULES.md: "json" (member
 * paths), "regex" (named groups), "csv" (columns, or a header per source),
 * "logfmt" (keys), "syslog" (BSD, RFC 3164 and RFC 5424 fields).
 *
 * Closed and open formats. A closed format (combined, split, regex, ...) knows
 * its fields when it is compiled. An open one (json, logfmt, csv with a
 * header) learns them from the rules: format_field_index adds a field the
 * first time a rule names it. Either way the fields are fixed once the rules
 * are loaded.
 *
 * Parsing only what is needed. The caller says which fields the rules read
 * (need) and which of those they read as numbers (num). A line is bad when its
 * structure is broken (always checked in full: field count, quotes, brackets,
 * JSON syntax, regex match) or when a needed field does not hold its type; a
 * field no rule reads is never converted, and a parser may stop looking at
 * its content once the last needed field is found, as long as it still
 * checks the structure.
 *
 * Threads. A compiled format_t is immutable once the rules are loaded and may
 * be shared by threads. Parsing needs a format_state_t (scratch space for
 * unescaped text, a regex's match data, the current source's header and
 * modification time): one per thread, made once; format_parse allocates
 * nothing. */
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

/* Why a line is bad. FORMAT_OK is 0. The values are stable: counts per
 * reason travel in frames and status (format_bad_name). */
typedef enum format_bad_t {
    FORMAT_OK = 0,
    FORMAT_BAD_FIELDS,      /* too few / too many fields, or structure not recognised */
    FORMAT_BAD_QUOTE,       /* a quoted field is not closed */
    FORMAT_BAD_TIME,        /* a time field does not parse */
    FORMAT_BAD_NUMBER,      /* a numeric field is not a number */
    FORMAT_BAD_REQUEST,     /* not used for rejecting: odd requests keep method/path NULL */
    FORMAT_BAD_TOO_LONG,    /* line longer than the job's max_line */
    FORMAT_BAD_SYNTAX,      /* not valid JSON / logfmt / CSV (the kind's grammar) */
    FORMAT_BAD_ESCAPE,      /* a bad escape in quoted text (JSON \u, logfmt, ...) */
    FORMAT_BAD_NOMATCH,     /* the format's regex did not match the line */
    FORMAT_BAD_MATCH_LIMIT, /* the regex gave up at its match limits */
    FORMAT_BAD_HEADER,      /* a CSV line before the source's header was read */
    FORMAT_BAD__COUNT
} format_bad_t;

typedef struct format_t format_t;
typedef struct format_state_t format_state_t;

/* A format as the rules spell it (rules_load.c fills it from `format:`). */
typedef struct format_spec_t {
    const char *kind;          /* "combined", "common", "split", "json", "regex", "nginx",
                                  "apache", "syslog", "logfmt", "csv" */
    const char *arg;           /* split: the delimiter; regex: the pattern; nginx, apache: the
                                  log format string; csv: the delimiter (NULL: ","); else NULL */
    const char *const *fields; /* "name" or "name:type": split and csv without a header: every
                                  field in order; the others: types for some of their fields */
    int nfields;
    int header;              /* csv: the first line of every source names the fields */
    const char *time_format; /* how time-typed text is written: epoch, epoch_ms, epoch_us,
                                epoch_ns or a strptime-style pattern (NULL: the built-in
                                forms: epochs by their digits, ISO 8601, Apache %t) */
    const char *timezone;    /* the zone of times written without an offset (NULL: UTC) */
    long err_at;             /* out: the byte of arg an error is about, or -1 */
    const char *err_key;     /* out: "time_format" or "timezone" when the error is about that
                                key, else NULL */
} format_spec_t;

/* Compile spec into *out (in pool). On error returns APR_EINVAL with a
 * message naming what is wrong ("unknown format \"x\"...", "nginx format:
 * unknown variable $foo"); when the problem is at a byte of spec->arg (a
 * pattern or a log format string), spec->err_at is that byte's offset, which
 * the rules loader turns into the file's line and column, else -1; when it is
 * the time_format or the timezone, spec->err_key names that key. The zone is
 * read from the system's tz database (tz.h). */
apr_status_t format_create(format_spec_t *spec, apr_pool_t *pool, format_t **out, abbey_err_t *err);

/* Shorthands of format_create: a kind without arguments ("combined",
 * "common", "json", ...), and a split format. */
apr_status_t format_create_builtin(const char *name, apr_pool_t *pool, format_t **out,
                                   abbey_err_t *err);
apr_status_t format_create_split(const char *delim, const char *const *fields, int nfields,
                                 apr_pool_t *pool, format_t **out, abbey_err_t *err);

const char *format_name(const format_t *f); /* the kind: "combined", "split", "json", ... */
/* The whole spec as one string (kind, argument, header, time format, zone):
 * two formats with the same spec text and fields parse alike. */
const char *format_spec_text(const format_t *f);
int format_nfields(const format_t *f);
const char *format_field_name(const format_t *f, int i);
format_type_t format_field_type(const format_t *f, int i);
/* 1 when rules may name fields the format does not list yet (json, logfmt,
 * csv with a header). */
int format_is_open(const format_t *f);
/* 1 when the first line of every source is a header (csv with header: true). */
int format_has_header(const format_t *f);

/* The index of the field a rule names (name[0..len)), or -1 when there is
 * none. An open format adds a field the first time it is named, when the
 * name is one it can hold (a JSON member path, a logfmt key) and fewer than
 * FORMAT_MAX_FIELDS are used: only while the rules load (single-threaded). */
int format_field_index(format_t *f, const char *name, size_t len);

/* A parse state for f, for one thread, in pool; max_line bounds the lines it
 * will parse (scratch space for unescaped text is that size, made on first
 * need). Cannot fail. */
format_state_t *format_state_create(const format_t *f, size_t max_line, apr_pool_t *pool);

/* Start a new source: its modification time (epoch seconds; 0: unknown, now
 * is used), which dates times written without a year (syslog, a time_format
 * without %Y), and forget the previous source's header. */
void format_state_source(format_state_t *st, int64_t mtime);

/* The header line of the current source (format_has_header): names the
 * fields by position. FORMAT_OK, or why the line is not a header. */
format_bad_t format_header(format_state_t *st, const char *line, size_t len);

/* Parse one line (without its '\n'; a trailing '\r' is ignored) into
 * fields[0..nfields) with st's format.
 * need: bit i set when field i's value is used by the rules; other fields
 *       are left unconverted (their kind and text are unspecified).
 * num:  bit i set when field i (FORMAT_AUTO) is used as a number: it is converted,
 *       and the line is bad (FORMAT_BAD_NUMBER) when it is not numeric text.
 * Returns FORMAT_OK, or the reason the line is bad (format_bad_describe says
 * more). Text values point into line or into st's scratch, valid until the
 * next call. Never reads outside line[0..len). */
format_bad_t format_parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *fields);

/* Short text for a reason, e.g. "unterminated quote". */
const char *format_bad_text(format_bad_t why);
/* A stable one-word name for a reason, for counts in status and metrics:
 * "fields", "quote", "time", "number", "too_long", "syntax", ... */
const char *format_bad_name(format_bad_t why);

/* The field the last line st parsed is blamed on (a type it does not hold),
 * or -1 when no field is. */
int format_bad_field(const format_state_t *st);

/* Why the last line st parsed is bad, naming the field when one is to blame
 * ("status is not a number", "regex did not match"), as a NUL-terminated
 * string of at most cap bytes in out. Returns out. */
const char *format_bad_describe(const format_state_t *st, format_bad_t why, char *out, size_t cap);

#endif
