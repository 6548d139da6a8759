/* format_int.h - internals shared by the line-format files: the compiled fmt_t,
 * the per-kind parsers, and small inline scanners (fixed-format time, integers).
 *
 * format.c owns the registry and accessors, format_access.c parses combined and
 * common lines, format_split.c parses delimiter-separated lines. Nothing here
 * allocates or touches stdio: these run once per log line. */
#ifndef ABBEY_FORMAT_INT_H
#define ABBEY_FORMAT_INT_H

#include <stdint.h>
#include <string.h>

#include "format.h"

typedef enum fmt_kind_t { FMT_KIND_COMBINED, FMT_KIND_COMMON, FMT_KIND_SPLIT } fmt_kind_t;

/* Field numbers of the built-in access-log formats (common stops at BYTES). */
enum {
    FMT_F_IP, FMT_F_IDENT, FMT_F_USER, FMT_F_TIME, FMT_F_REQUEST, FMT_F_METHOD, FMT_F_PATH,
    FMT_F_PROTOCOL, FMT_F_STATUS, FMT_F_BYTES, FMT_F_REFERER, FMT_F_AGENT,
    FMT_F_COMMON_N = FMT_F_REFERER, FMT_F_COMBINED_N = FMT_F_AGENT + 1
};

struct fmt_t {
    fmt_kind_t kind;
    const char *name;                    /* "combined", "common", "split" */
    int nfields;
    const char *names[FMT_MAX_FIELDS];   /* NUL-terminated, pool (or static) memory */
    size_t namelens[FMT_MAX_FIELDS];
    fmt_type_t types[FMT_MAX_FIELDS];
    const char *delim;                   /* split only */
    size_t dlen;
};

fmt_bad_t fmt_parse_access(const fmt_t *f, const char *line, size_t len, uint64_t need,
                           val_t *fields);
fmt_bad_t fmt_parse_split(const fmt_t *f, const char *line, size_t len, uint64_t num,
                          val_t *fields);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12, d 1..31);
 * H. Hinnant's days_from_civil, exact for every year. */
static inline int64_t fmt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Days in month m (1..12) of year y. */
static inline unsigned fmt_month_days(int64_t y, unsigned m)
{
    static const uint8_t dm[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 29;
    return dm[m];
}

/* Value of the two decimal digits at p, or -1 when either is not a digit. */
static inline int fmt_2dig(const char *p)
{
    unsigned a = (unsigned char)p[0] - '0', b = (unsigned char)p[1] - '0';
    return (a > 9 || b > 9) ? -1 : (int)(a * 10 + b);
}

/* Month number 1..12 from an English three-letter abbreviation ("Jan"), 0 when none. */
static inline unsigned fmt_month3(const char *p)
{
    uint32_t k = (uint32_t)(unsigned char)p[0] << 16 | (uint32_t)(unsigned char)p[1] << 8
                 | (unsigned char)p[2];
#define FMT_M3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
    switch (k) {
    case FMT_M3('J', 'a', 'n'): return 1;
    case FMT_M3('F', 'e', 'b'): return 2;
    case FMT_M3('M', 'a', 'r'): return 3;
    case FMT_M3('A', 'p', 'r'): return 4;
    case FMT_M3('M', 'a', 'y'): return 5;
    case FMT_M3('J', 'u', 'n'): return 6;
    case FMT_M3('J', 'u', 'l'): return 7;
    case FMT_M3('A', 'u', 'g'): return 8;
    case FMT_M3('S', 'e', 'p'): return 9;
    case FMT_M3('O', 'c', 't'): return 10;
    case FMT_M3('N', 'o', 'v'): return 11;
    case FMT_M3('D', 'e', 'c'): return 12;
    default: return 0;
    }
#undef FMT_M3
}

/* Epoch seconds of a date and time of day, each already range-checked except
 * the day against its month. Returns 0, or -1 when the day does not exist. */
static inline int fmt_civil_to_epoch(int64_t y, unsigned mon, unsigned d, unsigned hh,
                                     unsigned mm, unsigned ss, int64_t *out)
{
    if (d < 1 || d > fmt_month_days(y, mon))
        return -1;
    *out = fmt_days_from_civil(y, mon, d) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

#define FMT_CLF_TIME_LEN 26 /* "17/May/2015:10:05:03 +0000" */

/* Parse the Apache %t text (without brackets), exactly FMT_CLF_TIME_LEN bytes at p,
 * into UTC epoch seconds. Checks every position and range (day within the month,
 * leap years, hour < 24, minute and second < 60, offset hours < 24 and minutes < 60).
 * Returns 0, or -1 when the text is not such a time. */
static inline int fmt_clf_time(const char *p, int64_t *out)
{
    if (p[2] != '/' || p[6] != '/' || p[11] != ':' || p[14] != ':' || p[17] != ':'
        || p[20] != ' ' || (p[21] != '+' && p[21] != '-'))
        return -1;
    int d = fmt_2dig(p), y1 = fmt_2dig(p + 7), y2 = fmt_2dig(p + 9);
    int hh = fmt_2dig(p + 12), mm = fmt_2dig(p + 15), ss = fmt_2dig(p + 18);
    int oh = fmt_2dig(p + 22), om = fmt_2dig(p + 24);
    unsigned mon = fmt_month3(p + 3);
    if ((d | y1 | y2 | hh | mm | ss | oh | om) < 0 || !mon || hh > 23 || mm > 59 || ss > 59
        || oh > 23 || om > 59)
        return -1;
    int64_t t;
    if (fmt_civil_to_epoch(y1 * 100 + y2, mon, (unsigned)d, (unsigned)hh, (unsigned)mm,
                           (unsigned)ss, &t) < 0)
        return -1;
    int64_t off = oh * 3600 + om * 60;
    *out = p[21] == '+' ? t - off : t + off;
    return 0;
}

/* Set a field. */
static inline void fmt_set(val_t *v, val_kind_t kind, const char *s, size_t len)
{
    v->kind = (uint8_t)kind;
    v->s = s;
    v->len = (uint32_t)len;
}

#endif
