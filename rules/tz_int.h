/* tz_int.h - internals of the time zones (tz.c, tz_posix.c): the loaded zone, POSIX TZ
 * rules and the span of time one offset holds. Not for other modules: tz.h is the face. */
#ifndef ABBEY_TZ_INT_H
#define ABBEY_TZ_INT_H

#include <stdint.h>

#include "tz.h"

#define TZ_T_LIMIT ((int64_t)1 << 56)    /* times are clamped to +-TZ_T_LIMIT */
#define TZ_ABBR_LEN 15                   /* longest abbreviation kept */
#define TZ_NABBR 32                      /* abbreviations kept per zone */
#define TZ_EXPAND_TO INT64_C(7258118400) /* 2200-01-01: footer rules are tabled up to here */

/* When a POSIX rule changes the clocks in a year: Jn (day 1..365, February 29
 * never counted), n (day 0..365, counted) or Mm.w.d (weekday d of week w of
 * month m, w 5 = the last), at secs of local time (-167 h .. 167 h). */
typedef struct tz_when_t {
    char kind; /* 'J', 'n' or 'M' */
    uint8_t month, week, wday;
    uint16_t day;
    int32_t secs;
} tz_when_t;

/* A POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3"): standard time, and
 * daylight saving time between start (read in standard time) and end (read in
 * daylight time). Offsets are seconds east of UTC. */
typedef struct tz_rule_t {
    int32_t std_off, dst_off;
    int has_dst;
    tz_when_t start, end;
    char std_name[TZ_ABBR_LEN + 1], dst_name[TZ_ABBR_LEN + 1];
} tz_rule_t;

/* The stretch of time [start, end) over which one offset holds, and floor:
 * the highest local reading (utc + offset) of any instant before start
 * (INT64_MIN when none), which the local clock of periods is held at. */
typedef struct tz_span_t {
    int64_t start, end, floor;
    int32_t off;
} tz_span_t;

typedef struct tz_abbr_t {
    char s[TZ_ABBR_LEN + 1];
    int32_t off;
} tz_abbr_t;

struct tz_t {
    const char *name;
    int32_t off0;   /* before the first transition (or always, without any) */
    int n;          /* transitions */
    int64_t *at;    /* their instants, strictly ascending */
    int32_t *off;   /* the offset from at[i] on */
    int64_t *floor; /* the highest local reading before at[i] */
    int has_rule;   /* rule holds after at[n - 1] (always when n == 0) */
    tz_rule_t rule;
    int nabbr;
    tz_abbr_t abbr[TZ_NABBR]; /* newest meaning first */
};

/* [s, s + len) as a POSIX TZ string into *r. 0, or -1 when it is not one. */
int tz_posix_parse(const char *s, size_t len, tz_rule_t *r);

/* The span of r holding t (|t| <= TZ_T_LIMIT). */
void tz_posix_span(const tz_rule_t *r, int64_t t, tz_span_t *sp);

static inline int64_t tz_clamp(int64_t t)
{
    return t < -TZ_T_LIMIT ? -TZ_T_LIMIT : t > TZ_T_LIMIT ? TZ_T_LIMIT : t;
}

#endif
