/* civil.h - the proleptic Gregorian calendar: days since 1970-01-01 to and from dates
 * (Howard Hinnant's algorithms, exact for every year that fits), and leap years. Pure inline
 * functions, used by value rendering, the line formats' time scanners and the time zones. */
#ifndef ABBEY_CIVIL_H
#define ABBEY_CIVIL_H

#include <stdint.h>

/* Days from 1970-01-01 to y-m-d (m 1..12, d 1..31). */
static inline int64_t civil_to_days(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The date of day z since 1970-01-01. */
static inline void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 1 when y is a leap year. */
static inline int civil_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

#endif
