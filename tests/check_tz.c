/* check_tz.c - unit tests for time zones (rules/tz.c, rules/tz_posix.c): names and fixed
 * offsets, TZif files of the system's tz database and built by hand (version 1, slim ones
 * that lean on their footer, damaged ones), POSIX TZ rules, gaps and overlaps, far past and
 * future, abbreviations, and the local periods of `reset: hour|day` across DST changes.
 * Oracles, all independent of tz.c: glibc's localtime_r with TZ set in this process (for
 * offsets, zone files and POSIX strings alike), Python's zoneinfo run as a child process
 * (local readings to UTC with fold=0, and the first instant of each local hour and day,
 * found by stepping a minute at a time), and dates worked out with `python3 -c` / `TZ=...
 * date`, quoted where they are used. */
#include <apr_general.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "tz.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static const tz_t *load(const char *name)
{
    const tz_t *tz = NULL;
    abbey_err_t err;
    ck_assert_msg(tz_load(name, pool, &tz, &err) == APR_SUCCESS, "%s: %s", name, err.msg);
    return tz;
}

/* tz_load must refuse name with a message holding every piece. */
static void refuse(const char *name, const char *piece1, const char *piece2)
{
    const tz_t *tz = NULL;
    abbey_err_t err;
    err.msg[0] = 0;
    ck_assert_msg(tz_load(name, pool, &tz, &err) != APR_SUCCESS, "accepted %s", name);
    ck_assert_msg(strstr(err.msg, piece1), "%s: \"%s\" lacks \"%s\"", name, err.msg, piece1);
    ck_assert_msg(!piece2 || strstr(err.msg, piece2), "%s: \"%s\" lacks \"%s\"", name, err.msg,
                  piece2);
}

/* glibc's offset at t under TZ=zone (a name or a POSIX string). */
static long glibc_offset(const char *zone, int64_t t)
{
    static char current[256];
    time_t tt = (time_t)t;
    struct tm tm;
    if (strcmp(current, zone) != 0) {
        snprintf(current, sizeof current, "%s", zone);
        setenv("TZ", zone, 1);
        tzset();
    }
    ck_assert_ptr_nonnull(localtime_r(&tt, &tm));
    return tm.tm_gmtoff;
}

/* Offsets of tz against glibc's for TZ=zone: n instants spread over from..2400 and every
 * hour of 2024..2026. Returns the instants compared. */
static long compare_glibc(const tz_t *tz, const char *zone, int64_t from, int n)
{
    unsigned s = 12345;
    long count = 0;
    for (int k = 0; k < n; k++) {
        s = s * 1103515245u + 12345u;
        int64_t t = from + (int64_t)((double)(s >> 1) / 2147483648.0 * (13569465600.0 - from));
        ck_assert_msg(tz_offset_at(tz, t) == glibc_offset(zone, t), "%s at %lld: %d, glibc %ld",
                      zone, (long long)t, tz_offset_at(tz, t), glibc_offset(zone, t));
        count++;
    }
    for (int64_t t = 1704067200; t < 1798761600; t += 3600, count++)
        ck_assert_msg(tz_offset_at(tz, t) == glibc_offset(zone, t), "%s at %lld: %d, glibc %ld",
                      zone, (long long)t, tz_offset_at(tz, t), glibc_offset(zone, t));
    return count;
}

/* ---- names and fixed offsets ------------------------------------------------ */

START_TEST(names_and_offsets)
{
    static const struct {
        const char *name, *canon;
        int32_t off;
    } ok[] = {
        {"UTC", "UTC", 0},           {"+08:00", "+08:00", 28800},  {"+0800", "+08:00", 28800},
        {"+08", "+08:00", 28800},    {"-05:30", "-05:30", -19800}, {"-0530", "-05:30", -19800},
        {"+14:00", "+14:00", 50400}, {"-14:00", "-14:00", -50400}, {"+00:00", "UTC", 0},
        {"-00", "UTC", 0},
    };
    int32_t off;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const tz_t *tz = load(ok[i].name);
        ck_assert_str_eq(tz_name(tz), ok[i].canon);
        ck_assert_int_eq(tz_offset_at(tz, 1700000000), ok[i].off);
        ck_assert_int_eq(tz_fixed_offset(tz, &off), 1);
        ck_assert_int_eq(off, ok[i].off);
        int64_t u;
        ck_assert_int_eq(tz_local_to_utc(tz, 1700000000, &u), 0);
        ck_assert_int_eq(u, 1700000000 - ok[i].off);
    }
    ck_assert_ptr_eq(load("UTC"), tz_utc());
    ck_assert_int_eq(tz_fixed_offset(load("Europe/Berlin"), &off), 0);
    ck_assert_int_eq(tz_fixed_offset(load("Etc/GMT-8"), &off), 1); /* a file, one offset */
    ck_assert_int_eq(off, 28800);
    ck_assert_str_eq(tz_name(load("Asia/Shanghai")), "Asia/Shanghai");

    refuse("+14:01", "bad time zone \"+14:01\"", "at most 14:00");
    refuse("+25:00", "at most 14:00", "+08:00");
    refuse("+8", "an offset is", NULL);
    refuse("+08:0", "an offset is", NULL);
    refuse("+08:60", "an offset is", NULL);
    refuse("+08-00", "an offset is", NULL);
    refuse("08:00", "bad time zone", "Europe/Berlin");
    refuse("../../etc/passwd", "bad time zone", "no \"..\", not absolute");
    refuse("Europe/../Europe/Berlin", "bad time zone", NULL);
    refuse("/usr/share/zoneinfo/UTC", "bad time zone", "not absolute");
    refuse("Europe//Berlin", "bad time zone", NULL);
    refuse("Europe/", "bad time zone", NULL);
    refuse("Europe/-x", "bad time zone", NULL);
    refuse("Europe/Ber lin", "bad time zone", NULL);
    refuse("", "bad time zone", "such as Europe/Berlin");
    refuse("Europe/Berln", "unknown time zone \"Europe/Berln\": no such zone",
           "such as Europe/Berlin");
    refuse("Europe", "is a directory of zones", "Europe/Berlin");
    refuse("right/Europe/Berlin", "leap seconds", NULL);
}
END_TEST

/* $TZDIR is where zones are read; a file there that is not TZif is refused. */
START_TEST(tzdir)
{
    char dir[] = "/tmp/check_tz.XXXXXX", path[128];
    const char *old = getenv("TZDIR");
    FILE *f;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/Junk", dir);
    f = fopen(path, "w");
    fputs("not a zone\n", f);
    fclose(f);
    setenv("TZDIR", dir, 1);
    refuse("Junk", "time zone \"Junk\": it is not a TZif file", NULL);
    refuse("Europe/Berlin", "no such zone", dir);
    if (old)
        setenv("TZDIR", old, 1);
    else
        unsetenv("TZDIR");
    unlink(path);
    rmdir(dir);
    ck_assert_int_eq(tz_offset_at(load("Europe/Berlin"), 1751328000), 7200); /* 2025-07-01 */
}
END_TEST

/* ---- the system's zones against glibc ------------------------------------------ */

static const char *const zones[] = {
    "Europe/Berlin",      "Europe/London",       "Europe/Dublin",    "Europe/Moscow",
    "America/New_York",   "America/Los_Angeles", "America/Santiago", "America/Sao_Paulo",
    "America/St_Johns",   "America/Havana",      "Australia/Sydney", "Australia/Lord_Howe",
    "Australia/Adelaide", "Asia/Kolkata",        "Asia/Shanghai",    "Asia/Tehran",
    "Asia/Kathmandu",     "Pacific/Chatham",     "Pacific/Apia",     "Pacific/Kiritimati",
    "Africa/Casablanca",  "Antarctica/Troll",    "Africa/Cairo",     "Asia/Gaza",
    "America/Godthab",    "Etc/GMT+12",          "Asia/Jerusalem",   "Pacific/Norfolk",
};

START_TEST(system_zones)
{
    long n = 0;
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
        n += compare_glibc(load(zones[i]), zones[i], -3786825600LL, 20000); /* from 1850 */
    ck_assert_int_gt(n, 1000000);
}
END_TEST

/* Far past and future: clamped, never overflowing; the footer's rule holds far ahead. */
START_TEST(far_times)
{
    const tz_t *b = load("Europe/Berlin");
    int64_t u;
    /* 3000-07-01 and 3000-01-01 (python3 -c 'import
     * calendar;print(calendar.timegm((3000,7,1,0,0,0)))') */
    ck_assert_int_eq(tz_offset_at(b, 32519318400LL), 7200);
    ck_assert_int_eq(tz_offset_at(b, 32503680000LL), 3600);
    ck_assert_int_eq(tz_offset_at(b, -5000000000LL), glibc_offset("Europe/Berlin", -5000000000LL));
    for (int i = 0; i < 4; i++) {
        int64_t t = i == 0   ? INT64_MIN
                    : i == 1 ? INT64_MAX
                    : i == 2 ? INT64_MIN / 2
                             : INT64_MAX / 3;
        int32_t o = tz_offset_at(b, t);
        ck_assert(o == 3600 || o == 7200 || o == 3208); /* 3208: Berlin's LMT */
        tz_local_to_utc(b, t, &u);
        ck_assert(u >= -((int64_t)1 << 57) && u <= ((int64_t)1 << 57));
        ck_assert_int_ge(tz_period_start(b, tz_period(b, t, 86400), 86400), -((int64_t)1 << 57));
        tz_period_start(b, t, 3600);
    }
}
END_TEST

START_TEST(abbreviations)
{
    const tz_t *b = load("Europe/Berlin"), *s = load("Australia/Sydney");
    int32_t off;
    ck_assert_int_eq(tz_abbrev_offset(b, "CET", 3, &off), 0);
    ck_assert_int_eq(off, 3600);
    ck_assert_int_eq(tz_abbrev_offset(b, "CEST", 4, &off), 0);
    ck_assert_int_eq(off, 7200);
    ck_assert_int_eq(tz_abbrev_offset(b, "CESTX", 4, &off), 0); /* only len bytes count */
    ck_assert_int_eq(tz_abbrev_offset(b, "UTC", 3, &off), 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(tz_abbrev_offset(b, "Z", 1, &off), 0);
    ck_assert_int_eq(tz_abbrev_offset(b, "AEST", 4, &off), -1);
    ck_assert_int_eq(tz_abbrev_offset(b, "CE", 2, &off), -1);
    ck_assert_int_eq(tz_abbrev_offset(s, "AEDT", 4, &off), 0);
    ck_assert_int_eq(off, 39600);
    ck_assert_int_eq(tz_abbrev_offset(s, "AEST", 4, &off), 0);
    ck_assert_int_eq(off, 36000);
    ck_assert_int_eq(tz_abbrev_offset(tz_utc(), "CET", 3, &off), -1);
    ck_assert_int_eq(tz_abbrev_offset(tz_utc(), "GMT", 3, &off), 0);
}
END_TEST

/* ---- TZif files built by hand ---------------------------------------------- */

typedef struct zb_t {
    char version; /* 0, '2', '3' */
    int n;
    int64_t at[16];
    uint8_t idx[16];
    int ntypes;
    int32_t off[4];
    uint8_t abbr_at[4];
    const char *chars; /* NUL-separated abbreviations */
    int nchars;
    int leap, isut; /* leap seconds; UT indicators */
    const char *footer;
} zb_t;

static unsigned char *put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
    return p + 4;
}

static unsigned char *block(const zb_t *z, int w, unsigned char *p)
{
    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)z->version;
    memset(p + 5, 0, 15);
    p += 20;
    p = put32(p, (uint32_t)z->isut), p = put32(p, 0), p = put32(p, (uint32_t)z->leap);
    p = put32(p, (uint32_t)z->n), p = put32(p, (uint32_t)z->ntypes);
    p = put32(p, (uint32_t)z->nchars);
    for (int i = 0; i < z->n; i++) {
        if (w == 8)
            p = put32(p, (uint32_t)((uint64_t)z->at[i] >> 32));
        p = put32(p, (uint32_t)z->at[i]);
    }
    for (int i = 0; i < z->n; i++)
        *p++ = z->idx[i];
    for (int k = 0; k < z->ntypes; k++) {
        p = put32(p, (uint32_t)z->off[k]);
        *p++ = 0;
        *p++ = z->abbr_at[k];
    }
    memcpy(p, z->chars, (size_t)z->nchars);
    p += z->nchars;
    memset(p, 0, (size_t)z->leap * (size_t)(w + 4) + (size_t)z->isut);
    return p + z->leap * (w + 4) + z->isut;
}

/* The file of z into out (big enough); its length. */
static size_t build(const zb_t *z, unsigned char *out)
{
    unsigned char *p = block(z, 4, out);
    if (z->version) {
        p = block(z, 8, p);
        p += sprintf((char *)p, "\n%s\n", z->footer ? z->footer : "");
    }
    return (size_t)(p - out);
}

/* Berlin written slim: its transitions of 1996 only, then the footer's rule. */
static const zb_t slim = {
    .version = '2',
    .n = 2,
    .at = {828838800, 846381600}, /* 1996-03-31T01:00Z, 1996-10-27T01:00Z */
    .idx = {1, 0},
    .ntypes = 2,
    .off = {3600, 7200},
    .abbr_at = {0, 4},
    .chars = "CET\0CEST",
    .nchars = 9,
    .footer = "CET-1CEST,M3.5.0,M10.5.0/3",
};

static const tz_t *parse_zb(const zb_t *z, abbey_err_t *err)
{
    static unsigned char buf[4096];
    const tz_t *tz = NULL;
    size_t n = build(z, buf);
    unsigned char *copy = malloc(n);
    memcpy(copy, buf, n);
    if (tz_parse("test", copy, n, pool, &tz, err) != APR_SUCCESS)
        tz = NULL;
    free(copy);
    return tz;
}

START_TEST(slim_and_v1_files)
{
    abbey_err_t err;
    const tz_t *tz = parse_zb(&slim, &err);
    zb_t v1 = slim;
    ck_assert_msg(tz != NULL, "%s", err.msg);
    /* from 1996 on the slim file and the system's fat one agree everywhere */
    for (int64_t t = 828838800; t < 7258118400LL + 86400 * 3650; t += 3599 * 7)
        ck_assert_msg(tz_offset_at(tz, t) == glibc_offset("Europe/Berlin", t), "%lld",
                      (long long)t);
    ck_assert_int_eq(tz_offset_at(tz, 0), 3600); /* before the first: type 0 */
    /* version 1: no footer; the last transition's offset holds after it */
    v1.version = 0;
    v1.footer = NULL;
    tz = parse_zb(&v1, &err);
    ck_assert_msg(tz != NULL, "%s", err.msg);
    ck_assert_int_eq(tz_offset_at(tz, 840000000), 7200);
    ck_assert_int_eq(tz_offset_at(tz, 1751328000), 3600);
    /* no transitions, a footer: the rule holds at every time */
    v1 = slim;
    v1.n = 0;
    tz = parse_zb(&v1, &err);
    ck_assert_msg(tz != NULL, "%s", err.msg);
    for (int64_t t = 0; t < 4000000000LL; t += 86400 * 7 + 3) /* glibc: from 1970 */
        ck_assert_int_eq(tz_offset_at(tz, t), glibc_offset("CET-1CEST,M3.5.0,M10.5.0/3", t));
}
END_TEST

/* POSIX TZ strings, as footers, against glibc reading the same string as TZ. */
START_TEST(posix_rules)
{
    static const char *const rules[] = {
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "EST5EDT,M3.2.0,M11.1.0",
        "AEST-10AEDT,M10.1.0,M4.1.0/3",     /* southern: DST across the new year */
        "<+0330>-3:30",                     /* quoted name, no DST */
        "IST-2IDT,M3.4.4/26,M10.5.0",       /* version 3: hour 26 */
        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", /* negative times */
        "NZST-12NZDT-13,M9.5.0,M4.1.0/3",
        "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", /* half an hour of DST */
        "XXX3YYY,J60/2,J300/2",
        "XXX3YYY,J10/-167,J5/100", /* a week of daylight time, early in January */
        "XXX3YYY,59/2,299/2",
        "<-01>1<+00>,M3.5.0/0,M10.5.0/1",
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        zb_t z = slim;
        abbey_err_t err;
        const tz_t *tz;
        z.n = 0;
        z.footer = rules[i];
        tz = parse_zb(&z, &err);
        ck_assert_msg(tz != NULL, "%s: %s", rules[i], err.msg);
        compare_glibc(tz, rules[i], 0, 20000); /* glibc reads TZ strings from 1970 only */
    }
    /* no rule: the United States' since 2007, as tzcode (glibc takes its posixrules file):
     * in 2024 from 2024-03-10T07:00Z to 2024-11-03T06:00Z */
    {
        zb_t z = slim;
        abbey_err_t err;
        const tz_t *tz;
        z.n = 0;
        z.footer = "ABC5DEF";
        tz = parse_zb(&z, &err);
        ck_assert_msg(tz != NULL, "%s", err.msg);
        ck_assert_int_eq(tz_offset_at(tz, 1710054000 - 1), -18000);
        ck_assert_int_eq(tz_offset_at(tz, 1710054000), -14400);
        ck_assert_int_eq(tz_offset_at(tz, 1730613600 - 1), -14400);
        ck_assert_int_eq(tz_offset_at(tz, 1730613600), -18000);
        /* DST all year (RFC 8536's example; glibc drops it for hours around each new year) */
        z.footer = "EST5EDT,0/0,J365/25";
        tz = parse_zb(&z, &err);
        ck_assert_msg(tz != NULL, "%s", err.msg);
        for (int64_t t = 0; t < 4102444800LL; t += 3607)
            ck_assert_int_eq(tz_offset_at(tz, t), -14400);
    }
    static const char *const bad[] = {
        "C-1",
        "CET",
        "CET-1CEST,M3.5.0",
        "CET-1CEST,M13.5.0,M10.5.0",
        "CET-1CEST,M3.6.0,M10.5.0",
        "CET-1CEST,M3.5.7,M10.5.0",
        "CET-25",
        "CET-1CEST,J0,J10",
        "CET-1CEST,366,1",
        "<AB>1",
        "<ABC1",
        "CET-1:60",
        "TTDf0bbb,J1,J365/50", /* fuzz_time: daylight time outlasting the year made periods
                                  go back at a new year */
        "CET-1CEST,M3.5.0/168,M10.5.0",
        "CET-1CEST,M3.5.0,M10.5.0x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zb_t z = slim;
        abbey_err_t err;
        z.footer = bad[i];
        ck_assert_msg(parse_zb(&z, &err) == NULL, "accepted %s", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "footer is not a POSIX TZ string"));
    }
}
END_TEST

/* Every proper prefix of a real zone file, and each kind of damage, is refused by name. */
START_TEST(damaged_files)
{
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    unsigned char buf[8192];
    size_t n;
    abbey_err_t err;
    const tz_t *tz;
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_int_eq(tz_parse("Europe/Berlin", buf, n, pool, &tz, &err), APR_SUCCESS);
    for (size_t len = 0; len < n; len++) {
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        ck_assert_msg(tz_parse("Europe/Berlin", copy, len, pool, &tz, &err) == APR_EINVAL,
                      "accepted %zu of %zu bytes", len, n);
        ck_assert_ptr_nonnull(strstr(err.msg, "time zone \"Europe/Berlin\": "));
        free(copy);
    }
    static const struct {
        const char *what;
        int kind;
    } damage[] = {
        {"not a TZif file", 0}, {"unknown TZif version", 1}, {"leap seconds", 2},
        {"does not exist", 3},  {"not in order", 4},         {"out of range", 5},
        {"not terminated", 6},  {"no local time types", 7},  {"footer is missing", 8},
        {"counts disagree", 9},
    };
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        zb_t z = slim;
        unsigned char out[4096];
        size_t len;
        switch (damage[i].kind) {
        case 2:
            z.leap = 1;
            break;
        case 3:
            z.idx[1] = 2;
            break;
        case 4:
            z.at[1] = z.at[0];
            break;
        case 5:
            z.off[1] = 26 * 3600 + 1;
            break;
        case 6:
            z.nchars = 8;
            break;
        case 7:
            z.ntypes = 0;
            z.n = 0;
            break;
        case 9:
            z.isut = 1; /* one indicator for two types */
            break;
        }
        len = build(&z, out);
        if (damage[i].kind == 0)
            out[0] = 'X';
        if (damage[i].kind == 1)
            out[4] = '1';
        if (damage[i].kind == 8)
            len--; /* the footer's closing newline */
        ck_assert_msg(tz_parse("bad", out, len, pool, &tz, &err) == APR_EINVAL, "accepted %s",
                      damage[i].what);
        ck_assert_msg(strstr(err.msg, damage[i].what), "%s, wanted %s", err.msg, damage[i].what);
    }
}
END_TEST

/* ---- Python's zoneinfo: local readings and periods ---------------------------- */

/* The oracle: for each zone, each transition of 1980..2040 found by stepping an hour at a
 * time; around it, local readings every 15 minutes read with fold=0 (a reading in a gap
 * takes the offset before the change, one in an overlap is the earlier instant), and the
 * first instant of every local hour and day, found a minute at a time with the local clock
 * held at its highest reading. Lines: "L zone local utc" and "P zone len n start". */
static const char *const oracle_py =
    "import sys\n"
    "from datetime import datetime, timedelta, timezone\n"
    "from zoneinfo import ZoneInfo\n"
    "U = timezone.utc\n"
    "def off(z, t):\n"
    "    return int(datetime.fromtimestamp(t, U).astimezone(z).utcoffset().total_seconds())\n"
    "for name in sys.argv[1:]:\n"
    "    z = ZoneInfo(name)\n"
    "    t = 315532800; prev = off(z, t); trans = []\n"
    "    while t < 2208988800:\n"
    "        t += 21600; o = off(z, t)\n"
    "        if o != prev:\n"
    "            lo, hi = t - 21600, t\n"
    "            while hi - lo > 1:\n"
    "                mid = (lo + hi) // 2\n"
    "                if off(z, mid) == prev: lo = mid\n"
    "                else: hi = mid\n"
    "            trans.append(hi); prev = o\n"
    "    for T in trans[:: max(1, len(trans) // 12)]:\n"
    "        ob, oa = off(z, T - 1), off(z, T)\n"
    "        for L in range(T + min(ob, oa) - 7200, T + max(ob, oa) + 7200, 900):\n"
    "            d = datetime(1970, 1, 1) + timedelta(seconds=L)\n"
    "            print('L', name, L, int(d.replace(tzinfo=z, fold=0).timestamp()))\n"
    "        for ln in (3600, 86400):\n"
    "            hi = None; last = None\n"
    "            for u in range(T - 2 * 86400 - T % 60, T + 2 * 86400, 60):\n"
    "                loc = u + off(z, u)\n"
    "                hi = loc if hi is None or loc > hi else hi\n"
    "                n = hi // ln\n"
    "                if last is not None and n != last: print('P', name, ln, n, u)\n"
    "                last = n\n";

START_TEST(python_oracle)
{
    static const char *const names[] = {
        "Europe/Berlin",       "Australia/Sydney", "America/New_York", "Asia/Kolkata",
        "Australia/Lord_Howe", "America/Santiago", "Pacific/Apia",     "Africa/Casablanca",
        "Europe/Dublin",       "Pacific/Chatham",  "Antarctica/Troll", "America/St_Johns",
    };
    char script[] = "/tmp/check_tz_py.XXXXXX", cmd[1024], line[256];
    int fd = mkstemp(script);
    long nl = 0, np = 0;
    FILE *p;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, oracle_py, strlen(oracle_py)), (ssize_t)strlen(oracle_py));
    close(fd);
    int at = snprintf(cmd, sizeof cmd, "python3 %s", script);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        at += snprintf(cmd + at, sizeof cmd - (size_t)at, " %s", names[i]);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof line, p)) {
        char kind, name[64];
        long long a, b, c;
        const tz_t *tz;
        int64_t u;
        if (sscanf(line, "L %63s %lld %lld", name, &a, &b) == 3) {
            tz = load(name);
            tz_local_to_utc(tz, a, &u);
            ck_assert_msg(u == b, "%s local %lld: %lld, zoneinfo %lld", name, a, (long long)u, b);
            nl++;
        } else if (sscanf(line, "%c %63s %lld %lld %lld", &kind, name, &a, &b, &c) == 5) {
            tz = load(name);
            ck_assert_msg(tz_period_start(tz, b, a) == c,
                          "%s period %lld of %llds: %lld, "
                          "zoneinfo %lld",
                          name, b, a, (long long)tz_period_start(tz, b, a), c);
            ck_assert_int_eq(tz_period(tz, c, a), b);
            ck_assert_int_lt(tz_period(tz, c - 1, a), b);
            np++;
        }
    }
    ck_assert_int_eq(pclose(p), 0);
    unlink(script);
    ck_assert_int_gt(nl, 2000);
    ck_assert_int_gt(np, 2000);
}
END_TEST

/* ---- gaps, overlaps and periods, case by case ------------------------------- */

START_TEST(gaps_and_overlaps)
{
    const tz_t *b = load("Europe/Berlin"), *s = load("Australia/Sydney");
    int64_t u;
    /* Berlin 2025-03-30 02:30 does not exist: read in CET, 01:30Z (shown as 03:30 CEST) */
    ck_assert_int_eq(tz_local_to_utc(b, 1743301800, &u), 1); /* 2025-03-30T02:30 local */
    ck_assert_int_eq(u, 1743298200);                         /* 2025-03-30T01:30:00Z */
    /* Berlin 2025-10-26 02:30 happens twice: the earlier, 00:30Z */
    ck_assert_int_eq(tz_local_to_utc(b, 1761445800, &u), 2); /* 2025-10-26T02:30 local */
    ck_assert_int_eq(u, 1761438600);                         /* 2025-10-26T00:30:00Z */
    ck_assert_int_eq(tz_local_to_utc(b, 1761449400, &u), 0); /* 03:30 local: once */
    ck_assert_int_eq(u, 1761445800);
    /* Sydney 2025-10-05 02:30 does not exist (AEST -> AEDT): 2025-10-04T16:30Z */
    ck_assert_int_eq(tz_local_to_utc(s, 1759631400, &u), 1);
    ck_assert_int_eq(u, 1759595400);
    /* Sydney 2025-04-06 02:30 twice: the earlier, in AEDT, 2025-04-05T15:30Z */
    ck_assert_int_eq(tz_local_to_utc(s, 1743906600, &u), 2);
    ck_assert_int_eq(u, 1743867000);
}
END_TEST

/* Local days and hours (python3 zoneinfo: datetime(2025,3,30,tzinfo=ZoneInfo(...)).timestamp()). */
START_TEST(periods)
{
    const tz_t *b = load("Europe/Berlin"), *s = load("Australia/Sydney"), *k = load("Asia/Kolkata");
    static const struct {
        int64_t start, next; /* one local day and the next */
        int hours;
    } days_b[] = {{1743289200, 1743372000, 23},    /* 2025-03-30: 23 h */
                  {1761429600, 1761519600, 25},    /* 2025-10-26: 25 h */
                  {1743202800, 1743289200, 24}},   /* 2025-03-29 */
        days_s[] = {{1743858000, 1743948000, 25},  /* 2025-04-06 */
                    {1759586400, 1759669200, 23}}; /* 2025-10-05 */
    for (int i = 0; i < 3; i++) {
        int64_t n = tz_period(b, days_b[i].start, 86400);
        ck_assert_int_eq(tz_period_start(b, n, 86400), days_b[i].start);
        ck_assert_int_eq(tz_period_start(b, n + 1, 86400), days_b[i].next);
        ck_assert_int_eq(days_b[i].next - days_b[i].start, days_b[i].hours * 3600);
        ck_assert_int_eq(tz_period(b, days_b[i].next - 1, 86400), n);
        ck_assert_int_eq(tz_period(b, days_b[i].start - 1, 86400), n - 1);
    }
    for (int i = 0; i < 2; i++) {
        int64_t n = tz_period(s, days_s[i].start, 86400);
        ck_assert_int_eq(tz_period_start(s, n, 86400), days_s[i].start);
        ck_assert_int_eq(tz_period_start(s, n + 1, 86400), days_s[i].next);
        ck_assert_int_eq(days_s[i].next - days_s[i].start, days_s[i].hours * 3600);
    }
    /* Kolkata hours start at :30 UTC: 2025-05-01T10:00 local is 04:30Z */
    int64_t h = tz_period(k, 1746073800, 3600);
    ck_assert_int_eq(tz_period_start(k, h, 3600), 1746073800);
    ck_assert_int_eq(tz_period(k, 1746073799, 3600), h - 1);
    /* Berlin, autumn: the repeated 02:00 hour is one period, 00:00Z to 02:00Z */
    h = tz_period(b, 1761436800, 3600); /* 2025-10-26T00:00Z = 02:00 CEST */
    ck_assert_int_eq(tz_period_start(b, h, 3600), 1761436800);
    ck_assert_int_eq(tz_period(b, 1761440400, 3600), h); /* 01:00Z = 02:00 CET */
    ck_assert_int_eq(tz_period(b, 1761443999, 3600), h);
    ck_assert_int_eq(tz_period(b, 1761444000, 3600), h + 1); /* 03:00 CET */
    /* Berlin, spring: 02:00 local never comes; hour 01 is followed by hour 03 */
    h = tz_period(b, 1743296400, 3600); /* 2025-03-30T01:00Z = 03:00 CEST */
    ck_assert_int_eq(tz_period(b, 1743296399, 3600), h - 2);
    ck_assert_int_eq(tz_period_start(b, h - 1, 3600), 1743296400); /* empty: the next one's */
    /* UTC and fixed offsets: plain arithmetic */
    ck_assert_int_eq(tz_period(tz_utc(), -1, 86400), -1);
    ck_assert_int_eq(tz_period_start(load("+05:30"), 20000, 86400), 20000LL * 86400 - 19800);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tz");
    TCase *tc = tcase_create("tz");
    apr_initialize();
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, names_and_offsets);
    tcase_add_test(tc, tzdir);
    tcase_add_test(tc, system_zones);
    tcase_add_test(tc, far_times);
    tcase_add_test(tc, abbreviations);
    tcase_add_test(tc, slim_and_v1_files);
    tcase_add_test(tc, posix_rules);
    tcase_add_test(tc, damaged_files);
    tcase_add_test(tc, python_oracle);
    tcase_add_test(tc, gaps_and_overlaps);
    tcase_add_test(tc, periods);
    suite_add_tcase(s, tc);
    int failed = check_run(s);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
