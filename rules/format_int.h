/* format_int.h - internals shared by the line-format files: the compiled format_t,
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

typedef enum format_kind_t {
    FORMAT_KIND_COMBINED,
    FORMAT_KIND_COMMON,
    FORMAT_KIND_SPLIT
} format_kind_t;

/* Field numbers of the built-in access-log formats (common stops at BYTES). */
enum {
    FORMAT_F_IP,
    FORMAT_F_IDENT,
    FORMAT_F_USER,
    FORMAT_F_TIME,
    FORMAT_F_REQUEST,
    FORMAT_F_METHOD,
    FORMAT_F_PATH,
    FORMAT_F_PROTOCOL,
    FORMAT_F_STATUS,
    FORMAT_F_BYTES,
    FORMAT_F_REFERER,
    FORMAT_F_AGENT,
    FORMAT_F_COMMON_N = FORMAT_F_REFERER,
    FORMAT_F_COMBINED_N = FORMAT_F_AGENT + 1
};

struct format_t {
    format_kind_t kind;
    const char *name; /* "combined", "common", "split" */
    int nfields;
    const char *names[FORMAT_MAX_FIELDS]; /* NUL-terminated, pool (or static) memory */
    size_t namelens[FORMAT_MAX_FIELDS];
    format_type_t types[FORMAT_MAX_FIELDS];
    const char *delim; /* split only */
    size_t dlen;
};

format_bad_t format_parse_access(const format_t *f, const char *line, size_t len, uint64_t need,
                                 value_t *fields);
format_bad_t format_parse_split(const format_t *f, const char *line, size_t len, uint64_t num,
                                value_t *fields);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12, d 1..31);
 * H. Hinnant's days_from_civil, exact for every year. */
static inline int64_t format_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Days in month m (1..12) of year y. */
static inline unsigned format_month_days(int64_t y, unsigned m)
{
    static const uint8_t dm[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
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

/* Set a field. */
static inline void format_set(value_t *v, value_kind_t kind, const char *s, size_t len)
{
    v->kind = (uint8_t)kind;
    v->s = s;
    v->len = (uint32_t)len;
}

#endif
