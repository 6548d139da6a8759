/* tz.h - time zones: UTC, fixed offsets, and IANA zones read from the system's tz database.
 *
 * A zone is loaded by name once (while the rules load) and is immutable after:
 *   "UTC"                     offset 0;
 *   "+08:00", "-0530", "+08"  a fixed offset, at most 14:00 either way;
 *   "Europe/Berlin", ...      an IANA zone: the TZif file of that name under $TZDIR
 *                             (default /usr/share/zoneinfo), read by tz.c itself (RFC
 *                             8536: version 1 to 4, the 64-bit data of version 2 and
 *                             later, and the POSIX TZ string of its footer for times
 *                             after the last transition, tz_posix.c).
 * Nothing here reads or sets the TZ variable or calls localtime/mktime: every
 * function below is thread-safe on a loaded zone and allocates nothing.
 *
 * Local time. local = utc + tz_offset_at(utc). Converting back is ambiguous
 * twice a year in zones with daylight saving time; tz_local_to_utc's policy:
 *   - gap (clocks go forward, 02:30 does not exist in Europe/Berlin on the last
 *     Sunday of March): the local time is read with the offset in force before
 *     the change, as glibc's mktime and Python's zoneinfo (fold=0) do: 02:30 is
 *     01:30 UTC, which the clocks show as 03:30 CEST;
 *   - overlap (clocks go back, 02:30 happens twice on the last Sunday of
 *     October): the earlier instant, 02:30 CEST = 00:30 UTC.
 *
 * Periods (`reset: hour|day` of a job) follow the local clock: period n of
 * length len holds the instants whose local time is in [n * len, (n + 1) * len).
 * When the clocks go back the local clock is held at its highest reading
 * until it passes it again, so period numbers never decrease: with `reset: hour`
 * the repeated hour is one period of two hours; a skipped hour has no instant.
 * Times are clamped to +-2^56 seconds (about two billion years) before any
 * computation, so no input overflows. */
#ifndef ABBEY_TZ_H
#define ABBEY_TZ_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "civil.h"
#include "error.h"

typedef struct tz_t tz_t;

#define TZ_FILE_MAX (1u << 20) /* a larger zone file is refused */
#define TZ_OFFSET_MAX 93600    /* 26 h: no zone's offset may be larger either way */

/* Load the zone `name` into *out (in pool). APR_EINVAL with a message naming
 * the zone and giving examples when the name is malformed (only
 * [A-Za-z0-9_+-/], no "..", no leading '/'), no such zone exists, or its file
 * is damaged or not a TZif file; the file's APR error when it cannot be read.
 * Single-threaded use of pool; reads $TZDIR. */
apr_status_t tz_load(const char *name, apr_pool_t *pool, const tz_t **out, abbey_err_t *err);

/* A zone from the bytes of a TZif file (what tz_load does after reading it),
 * named name. APR_EINVAL with a message saying what is damaged. Never reads
 * outside data[0..len). */
apr_status_t tz_parse(const char *name, const unsigned char *data, size_t len, apr_pool_t *pool,
                      const tz_t **out, abbey_err_t *err);

/* The UTC zone (static). Cannot fail. */
const tz_t *tz_utc(void);

/* The zone's name: "UTC", "+08:00" (fixed offsets are spelled +hh:mm), or the
 * IANA name as given. Two zones with the same name give the same times on one
 * machine. */
const char *tz_name(const tz_t *tz);

/* 1 and *off (seconds east of UTC) when the zone is a fixed offset (UTC is
 * one), else 0. */
int tz_fixed_offset(const tz_t *tz, int32_t *off);

/* Seconds east of UTC in force at utc (epoch seconds). */
int32_t tz_offset_at(const tz_t *tz, int64_t utc);

/* The instant the local clock reading local (seconds since 1970-01-01 00:00
 * local) stands for, into *utc, by the gap and overlap policy above. Returns
 * 0 when the reading exists once, 1 in a gap, 2 in an overlap. */
int tz_local_to_utc(const tz_t *tz, int64_t local, int64_t *utc);

/* The offset a zone abbreviation stands for in this zone ("CET" -> 3600 and
 * "CEST" -> 7200 in Europe/Berlin; the most recent meaning when a zone reused
 * one), into *off: 0, or -1 when the zone has no such abbreviation. "UTC",
 * "GMT" and "Z" are 0 in every zone. */
int tz_abbrev_offset(const tz_t *tz, const char *s, size_t len, int32_t *off);

/* The number of the local period of len seconds (3600: hours, 86400: days)
 * holding utc; non-decreasing in utc. */
int64_t tz_period(const tz_t *tz, int64_t utc, int64_t len);

/* The first instant (UTC seconds) of period n of len seconds: the first whose
 * tz_period is at least n (so for a period no instant has, the start of the
 * next one). */
int64_t tz_period_start(const tz_t *tz, int64_t n, int64_t len);

/* floor(a / b) for b > 0. */
static inline int64_t tz_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

#endif
