/* format_int.h - internals shared by the line-format files: the kinds' ops
 * table, the compiled format_t and the per-thread format_state_t, the shared
 * text-to-value conversion, and small inline scanners (fixed-format time,
 * integers).
 *
 * A kind is one file, format_<kind>.c, defining one format_ops_t named
 * format_<kind>_ops; FORMAT_KINDS lists them, and format.c sends every call
 * of format.h to the format's kind. format_scan.c holds the number and time
 * scanners every kind shares (format_convert turns a field's text into its
 * type). Nothing here allocates or touches stdio on the parse path: these run
 * once per log line. */
#ifndef ABBEY_FORMAT_INT_H
#define ABBEY_FORMAT_INT_H

#include <stdint.h>
#include <string.h>

#include "format.h"
#include "invariant.h"
#include "tz.h"

/* Every kind: X(name) for format_<name>_ops. */
#define FORMAT_KINDS(X) X(logformat) X(split) X(json) X(logfmt) X(syslog) X(regex) X(csv)

typedef struct format_ops_t {
    /* The kind names it compiles (spec->kind), NULL-terminated: "json",
     * or "combined" and "common". */
    const char *const *names;
    /* Compile spec into f: f->ops, f->name, f->pool, f->time_format and
     * f->timezone are set, no field yet. APR_EINVAL with a message on error
     * (and spec->err_at set when it is about a byte of spec->arg). */
    apr_status_t (*create)(format_t *f, format_spec_t *spec, abbey_err_t *err);
    /* Open kinds: add the field a rule names (format_add_field does the
     * bookkeeping), returning its index, or -1 when name cannot be one of
     * this kind's fields. NULL: a closed kind. */
    int (*add_field)(format_t *f, const char *name, size_t len);
    /* The kind's per-thread state (st->impl), made once in st->pool. NULL:
     * none. Cannot fail. */
    void *(*state_create)(const format_t *f, format_state_t *st);
    /* The source's header line (format_header). NULL: the kind has none. */
    format_bad_t (*header)(format_state_t *st, const char *line, size_t len);
    /* format_parse, after the '\r' is trimmed and len checked. */
    format_bad_t (*parse)(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *fields);
} format_ops_t;

#define FORMAT_DECLARE_OPS(k) extern const format_ops_t format_##k##_ops;
FORMAT_KINDS(FORMAT_DECLARE_OPS)
#undef FORMAT_DECLARE_OPS

struct format_t {
    const format_ops_t *ops;
    const char *name; /* the kind's name as the rules spell it */
    apr_pool_t *pool; /* the format's memory (open kinds add fields in it) */
    int nfields;
    const char *names[FORMAT_MAX_FIELDS]; /* NUL-terminated, pool (or static) memory */
    size_t namelens[FORMAT_MAX_FIELDS];
    format_type_t types[FORMAT_MAX_FIELDS];
    const char *time_format;          /* spec->time_format, or NULL */
    const char *timezone;             /* spec->timezone, or NULL */
    const tz_t *tz;                   /* the zone of times without an offset (UTC when none) */
    const struct format_time_t *time; /* time_format compiled, or NULL: the built-in forms */
    int header;                       /* csv: sources start with a header line */
    const char *spec_text;            /* format_spec_text */
    void *impl;                       /* the kind's compiled form */
};

struct format_state_t {
    const format_t *f;
    apr_pool_t *pool;
    size_t max_line;     /* scratch capacity (max_line + 1 bytes) */
    char *scratch;       /* NULL until format_scratch first needs it */
    size_t scratch_used; /* reset by every format_parse */
    int bad_field;       /* the field the last bad line is blamed on, or -1 */
    int64_t mtime;       /* the source's modification time (0: unknown) */
    void *impl;          /* the kind's per-thread state */
};

/* Append a field (name[0..len), copied into f->pool, of type) to f: its
 * index, or -1 when FORMAT_MAX_FIELDS are in use. The caller has checked the
 * name is not there yet. */
int format_add_field(format_t *f, const char *name, size_t len, format_type_t type);

/* Parse "name" or "name:type" (int, float, time, str; no type: FORMAT_AUTO) as
 * field number i (1-based, for messages) of the `what` format: *name, *len
 * and *type. APR_EINVAL with a message naming the field when the name is not
 * a letter or '_' followed by letters, digits or '_' (extra: other bytes a
 * kind allows in names, e.g. "." and "-"; NULL: none), or the type unknown. */
apr_status_t format_field_spec(const char *what, int i, const char *spec, const char *extra,
                               const char **name, size_t *len, format_type_t *type,
                               abbey_err_t *err);

/* Add spec->fields to f in order ("name" or "name:type", format_field_spec
 * with no extra name bytes), for the `what` format: APR_EINVAL with a message
 * naming the field when there are more than FORMAT_MAX_FIELDS, a name is bad
 * or given twice. */
apr_status_t format_add_listed(format_t *f, const format_spec_t *spec, const char *what,
                               abbey_err_t *err);

/* n bytes of st's scratch for the current line's unescaped text (n is at
 * most the line's length, so it always fits): valid until the next parse. */
static inline char *format_scratch(format_state_t *st, size_t n)
{
    char *p;
    if (!st->scratch)
        st->scratch = apr_palloc(st->pool, st->max_line + 1);
    ABBEY_ASSERT(st->scratch_used + n <= st->max_line + 1);
    p = st->scratch + st->scratch_used;
    st->scratch_used += n;
    return p;
}

/* ---- format_scan.c: numbers and times shared by every kind ---- */

/* [p, e) as an int64: optional sign, 1+ digits. Returns 0; -1 when not integer
 * text; -2 when it is integer text out of range. */
int format_scan_int(const char *p, const char *e, int64_t *out);
/* [p, e) as a double: [+-] (digits [. digits] | . digits) [(e|E) [+-] digits].
 * Returns 0, or -1 when not such text. */
int format_scan_float(const char *p, const char *e, double *out);
/* ---- format_time.c: times ---- */

/* ISO 8601 / RFC 3339 "YYYY-MM-DD(T|t| )HH:MM:SS[(.|,)frac][Z|z|+hh[:]mm|+hh]" at [p, e)
 * (no offset: UTC; seconds up to 60, a leap second being the next minute's first) into
 * epoch seconds. 0, or -1. */
int format_scan_iso_time(const char *p, const char *e, int64_t *out);
/* The same, parted: the local reading *local, and the written offset (*has_off = 1,
 * *off seconds east; Z is 0) or none (*has_off = 0). 0, or -1. */
int format_scan_iso_parts(const char *p, const char *e, int64_t *local, int32_t *off, int *has_off);
/* A time field's text [p, e) in any built-in form, times without an offset in UTC: epoch
 * seconds, milliseconds, microseconds or nanoseconds by the integer's digits (up to 12,
 * 13-15, 16-18, 19; a fraction rounds down), ISO 8601, Apache %t (brackets optional).
 * 0, or -1. */
int format_scan_time(const char *p, const char *e, int64_t *out);
/* A time-typed field's text [p, e) into UTC epoch seconds by st's format: its time_format
 * (format_time_compile; without a year, format_guess_year), else the built-in forms with
 * times without an offset read in the format's zone. 0, or -1 when the text is not such a
 * time. */
int format_time_scan(const format_state_t *st, const char *p, const char *e, int64_t *out);
/* The UTC instant of a local reading (seconds since 1970-01-01 00:00 on the local clock)
 * in f's zone (tz.h: a reading in a gap is taken with the offset before the change, one in
 * an overlap is the earlier instant): 0, or -1 when |local| > FORMAT_TIME_LIMIT. For
 * kinds that assemble a local time themselves (syslog). Thread-safe. */
int format_local_to_utc(const format_t *f, int64_t local, int64_t *utc);
/* The year of a local date written without one (month mon, day, seconds sod into the day;
 * day may run past the month: day 40 of January is 9 February): that of the source's
 * modification time (st->mtime; 0: now) on the clock of st's format, or the year before
 * when the time would otherwise be more than a day after it (a "Dec 31" line in a file last
 * written on 2 January). For syslog and time_format without %Y. Thread-safe. */
int64_t format_guess_year(const format_state_t *st, unsigned mon, unsigned day, int64_t sod);
#define FORMAT_TIME_LIMIT ((int64_t)1 << 52)

typedef struct format_time_t format_time_t;
/* How a pattern reads. */
typedef enum format_time_mode_t {
    /* A `time_format`: the field's whole text; a number may have fewer digits than its
     * width, a space in the pattern is a run of blanks, %z may be Z, +hh or +hh:mm, %Z
     * names the offset; the pattern must name a date (or be an epoch form). */
    FORMAT_TIME_PATTERN,
    /* Apache's %{...}t: the text exactly as strftime writes it (every number its width,
     * %e %k %l space-padded, names whole or in 3 letters as the directive says, %z +hhmm,
     * %Z letters skipped), so that the pattern alone says where it ends; a pattern
     * without a year, a month and a day (or %j), or %s, is text. */
    FORMAT_TIME_STRFTIME
} format_time_mode_t;
/* Compile a pattern (in FORMAT_TIME_PATTERN mode also epoch, epoch_ms, epoch_us, epoch_ns;
 * docs/RULES.md) into *out, in pool. APR_EINVAL with a message naming what is wrong and
 * listing the directives; *at is then the byte of spec at fault, or -1 when it is about
 * the whole. */
apr_status_t format_time_compile(const char *spec, format_time_mode_t mode, apr_pool_t *pool,
                                 const format_time_t **out, long *at, abbey_err_t *err);
/* 1 when tf gives an instant (a FORMAT_TIME_STRFTIME pattern may be text). */
int format_time_instant(const format_time_t *tf);
/* Match the pattern tf (not an epoch form) at the start of [p, e): the end of the text it
 * matched, or NULL when the text does not fit it or is not a real date and time. When tf
 * gives an instant, *out is its UTC epoch seconds (the text's offset applied, else read
 * on the clock of st's format; without a year, format_guess_year). Reads nothing outside
 * [p, e); allocates nothing; thread-safe with a state per thread. */
const char *format_time_match(const format_time_t *tf, const format_state_t *st, const char *p,
                              const char *e, int64_t *out);

/* Field i's text [p, e) into v by f->types[i]: str stays text; int, float and
 * time convert ("" and "-" are VALUE_NULL); auto converts only when bit i of
 * num is set. FORMAT_OK, or FORMAT_BAD_NUMBER / FORMAT_BAD_TIME with
 * st->bad_field = i. v's text is [p, e) in every case. */
format_bad_t format_convert(format_state_t *st, int i, const char *p, const char *e, uint64_t num,
                            value_t *v);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12, d 1..31). */
static inline int64_t format_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    return civil_to_days(y, m, d);
}

/* Days in month m (1..12) of year y. */
static inline unsigned format_month_days(int64_t y, unsigned m)
{
    static const uint8_t dm[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && civil_leap(y))
        return 29;
    return dm[m];
}

/* Value of the two decimal digits at p, or -1 when either is not a digit. */
static inline int format_2dig(const char *p)
{
    unsigned a = (unsigned char)p[0] - '0', b = (unsigned char)p[1] - '0';
    return (a > 9 || b > 9) ? -1 : (int)(a * 10 + b);
}

/* Month number 1..12 from an English three-letter abbreviation ("Jan"), 0 when none. */
static inline unsigned format_month3(const char *p)
{
    uint32_t k = (uint32_t)(unsigned char)p[0] << 16 | (uint32_t)(unsigned char)p[1] << 8 |
                 (unsigned char)p[2];
#define FORMAT_M3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
    switch (k) {
    case FORMAT_M3('J', 'a', 'n'):
        return 1;
    case FORMAT_M3('F', 'e', 'b'):
        return 2;
    case FORMAT_M3('M', 'a', 'r'):
        return 3;
    case FORMAT_M3('A', 'p', 'r'):
        return 4;
    case FORMAT_M3('M', 'a', 'y'):
        return 5;
    case FORMAT_M3('J', 'u', 'n'):
        return 6;
    case FORMAT_M3('J', 'u', 'l'):
        return 7;
    case FORMAT_M3('A', 'u', 'g'):
        return 8;
    case FORMAT_M3('S', 'e', 'p'):
        return 9;
    case FORMAT_M3('O', 'c', 't'):
        return 10;
    case FORMAT_M3('N', 'o', 'v'):
        return 11;
    case FORMAT_M3('D', 'e', 'c'):
        return 12;
    default:
        return 0;
    }
#undef FORMAT_M3
}

/* Epoch seconds of a date and time of day, each already range-checked except
 * the day against its month. Returns 0, or -1 when the day does not exist. */
static inline int format_civil_to_epoch(int64_t y, unsigned mon, unsigned d, unsigned hh,
                                        unsigned mm, unsigned ss, int64_t *out)
{
    if (d < 1 || d > format_month_days(y, mon))
        return -1;
    *out = format_days_from_civil(y, mon, d) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

#define FORMAT_CLF_TIME_LEN 26 /* "17/May/2015:10:05:03 +0000" */

/* Parse the Apache %t text (without brackets), exactly FORMAT_CLF_TIME_LEN bytes at p,
 * into UTC epoch seconds. Checks every position and range (day within the month,
 * leap years, hour < 24, minute and second < 60, offset hours < 24 and minutes < 60).
 * Returns 0, or -1 when the text is not such a time. */
static inline int format_clf_time(const char *p, int64_t *out)
{
    if (p[2] != '/' || p[6] != '/' || p[11] != ':' || p[14] != ':' || p[17] != ':' ||
        p[20] != ' ' || (p[21] != '+' && p[21] != '-'))
        return -1;
    int d = format_2dig(p), y1 = format_2dig(p + 7), y2 = format_2dig(p + 9);
    int hh = format_2dig(p + 12), mm = format_2dig(p + 15), ss = format_2dig(p + 18);
    int oh = format_2dig(p + 22), om = format_2dig(p + 24);
    unsigned mon = format_month3(p + 3);
    if ((d | y1 | y2 | hh | mm | ss | oh | om) < 0 || !mon || hh > 23 || mm > 59 || ss > 59 ||
        oh > 23 || om > 59)
        return -1;
    int64_t t;
    if (format_civil_to_epoch(y1 * 100 + y2, mon, (unsigned)d, (unsigned)hh, (unsigned)mm,
                              (unsigned)ss, &t) < 0)
        return -1;
    int64_t off = oh * 3600 + om * 60;
    *out = p[21] == '+' ? t - off : t + off;
    return 0;
}

/* The four hex digits at p (the caller has checked p + 4 is inside the text)
 * as a number, or -1 when one is not a hex digit. */
static inline int format_hex4(const char *p)
{
    int n = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)p[i], d;
        if (c - '0' <= 9)
            d = c - '0';
        else if ((c | 0x20) - 'a' <= 5)
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        n = n * 16 + (int)d;
    }
    return n;
}

/* Code point cp (at most 0x10FFFF) as UTF-8 at out; returns the bytes
 * written (1..4). For the kinds that unescape \uXXXX (json, logfmt). */
static inline size_t format_utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Set a field. */
static inline void format_set(value_t *v, value_kind_t kind, const char *s, size_t len)
{
    v->kind = (uint8_t)kind;
    v->s = s;
    v->len = (uint32_t)len;
}

#endif
