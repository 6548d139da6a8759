/* check_format_time.c - unit tests for times in log lines (rules/format_time.c): the
 * built-in forms (epoch seconds, ms, µs and ns told apart by their digits; ISO 8601 with
 * every offset spelling; Apache %t), the epoch forms a format names, `time_format`
 * directives, times without an offset read in the format's zone (gaps and overlaps), the
 * year of a time written without one, refusals at compile time with their position in the
 * rules file, and format_local_to_utc. Lines are parsed from a heap copy of exactly their
 * length (tests/fixture_format.h). Oracles: glibc's strftime (UTC, and with TZ set in this
 * process) writing random instants that must read back as the same instant, epoch values
 * from `python3 -c` / `date -u -d` quoted beside the hand-made cases, and Python's zoneinfo
 * (fold=0) for readings in gaps and overlaps. */
#include <apr_general.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "format.h"
#include "format_int.h"
#include "rules.h"

#define FIXTURE_SUITE "check_format_time"
#include "fixture_format.h"

/* A split format "t<TAB>x" whose t is time-typed, with time_format tf and zone (NULL: none). */
static format_t *mk(const char *tf, const char *zone)
{
    static const char *const names[] = {"t:time", "x"};
    format_spec_t spec = {.kind = "split",
                          .arg = "\t",
                          .fields = names,
                          .nfields = 2,
                          .time_format = tf,
                          .timezone = zone};
    format_t *f = NULL;
    abbey_err_t err;
    ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_SUCCESS, "%s: %s", tf, err.msg);
    return f;
}

/* The time text reads as want (or is bad: want_bad). */
#define ck_time(f, text, want) ck_time_at(f, text, want, 0, __LINE__)
#define ck_bad(f, text) ck_time_at(f, text, 0, 1, __LINE__)
static void ck_time_at(format_t *f, const char *text, int64_t want, int want_bad, int at)
{
    char line[512];
    value_t v[FORMAT_MAX_FIELDS];
    format_bad_t why;
    snprintf(line, sizeof line, "%s\tx", text);
    why = parse(f, line, v);
    if (want_bad) {
        ck_assert_msg(why == FORMAT_BAD_TIME, "line %d: \"%s\" read as %lld", at, text,
                      (long long)v[0].i);
        return;
    }
    ck_assert_msg(why == FORMAT_OK, "line %d: \"%s\": %s", at, text, format_bad_text(why));
    ck_assert_msg(v[0].kind == VALUE_TIME && v[0].i == want,
                  "line %d: \"%s\" read as %lld, not %lld", at, text, (long long)v[0].i,
                  (long long)want);
}

/* ---- the built-in forms ------------------------------------------------------ */

START_TEST(builtin_forms)
{
    format_t *f = mk(NULL, NULL);
    /* 2015-05-17T10:05:03Z = 1431857103 (date -u -d 2015-05-17T10:05:03 +%s) */
    ck_time(f, "1431857103", 1431857103);
    ck_time(f, "1431857103.999", 1431857103);
    ck_time(f, "+1431857103", 1431857103);
    ck_time(f, "1431857103123", 1431857103);       /* 13 digits: ms */
    ck_time(f, "1431857103123.9", 1431857103);     /* ms, fraction dropped */
    ck_time(f, "1431857103123456", 1431857103);    /* 16: µs */
    ck_time(f, "1431857103123456789", 1431857103); /* 19: ns */
    ck_time(f, "999999999999", 999999999999LL);    /* 12 digits: still seconds */
    ck_time(f, "100000000000000", 100000000000LL); /* 15 digits: ms */
    ck_time(f, "-1", -1);
    ck_time(f, "-1.5", -2); /* rounded down: the second it falls in */
    ck_time(f, "-1500", -1500);
    ck_time(f, "-1431857103123", -1431857104); /* ms before 1970, rounded down */
    ck_time(f, "0", 0);
    ck_bad(f, "12345678901234567890"); /* 20 digits: out of range */
    ck_bad(f, "1.");
    ck_bad(f, ".5");
    ck_bad(f, "1e9");
    ck_bad(f, "--1");
    /* ISO 8601 / RFC 3339 spellings */
    ck_time(f, "2015-05-17T10:05:03Z", 1431857103);
    ck_time(f, "2015-05-17t10:05:03z", 1431857103);
    ck_time(f, "2015-05-17 10:05:03", 1431857103);
    ck_time(f, "2015-05-17T10:05:03.123456789Z", 1431857103);
    ck_time(f, "2015-05-17 10:05:03,250", 1431857103); /* Python logging's comma */
    ck_time(f, "2015-05-17T12:05:03+02:00", 1431857103);
    ck_time(f, "2015-05-17T12:05:03+0200", 1431857103);
    ck_time(f, "2015-05-17T12:05:03+02", 1431857103);
    ck_time(f, "2015-05-17T04:35:03-05:30", 1431857103);
    ck_time(f, "2015-05-17T10:05:03-00:00", 1431857103);
    ck_time(f, "2016-12-31T23:59:60Z", 1483228800); /* a leap second: the next minute's first */
    ck_time(f, "[17/May/2015:10:05:03 +0000]", 1431857103);
    ck_time(f, "17/May/2015:12:05:03 +0200", 1431857103);
    ck_bad(f, "2015-05-17T10:05:03+2");
    ck_bad(f, "2015-05-17T10:05:03+02:0");
    ck_bad(f, "2015-05-17T10:05:03,");
    ck_bad(f, "2015-05-17T10:05:61Z");
    ck_bad(f, "2015-05-17X10:05:03Z");
    ck_bad(f, "2015-05-17T10:05:03ZZ");
    free_last();
}
END_TEST

START_TEST(epoch_forms)
{
    format_t *s = mk("epoch", NULL), *ms = mk("epoch_ms", NULL), *us = mk("epoch_us", NULL),
             *ns = mk("epoch_ns", NULL);
    ck_time(s, "1431857103123", 1431857103123LL); /* seconds whatever the digits */
    ck_time(s, "1431857103.5", 1431857103);
    ck_time(ms, "1431857103123", 1431857103);
    ck_time(ms, "999", 0); /* few digits: still ms */
    ck_time(ms, "-1", -1);
    ck_time(ms, "-1000", -1);
    ck_time(ms, "-1001", -2);
    ck_time(ms, "1431857103123.75", 1431857103);
    ck_time(us, "1431857103999999", 1431857103);
    ck_time(us, "1", 0);
    ck_time(ns, "1431857103000000000", 1431857103);
    ck_time(ns, "-1", -1);
    ck_bad(ms, "2015-05-17T10:05:03Z"); /* a named form takes only that form */
    ck_bad(s, "17/May/2015:10:05:03 +0000");
    ck_bad(ms, "abc");
    ck_bad(ms, "1 ");
    free_last();
}
END_TEST

/* ---- time_format against strftime ---------------------------------------------- */

/* pattern's text written by strftime must read back (ck_round_trip); with zone, f's
 * timezone is zone too. */
static void round_trip(const char *pattern, const char *zone)
{
    ck_round_trip(mk(pattern, zone), pattern, zone, "\t", "x", pattern);
}

START_TEST(directives_utc)
{
    static const char *const patterns[] = {
        "%Y-%m-%dT%H:%M:%S%z",
        "%d/%b/%Y:%H:%M:%S %z",
        "%a, %d %b %Y %H:%M:%S %z",
        "%A %B %d %Y %T",
        "%b %e %H:%M:%S %Y",
        "%Y%m%d%H%M%S",
        "%j/%Y %T",
        "%D %I:%M:%S %p",
        "%F %T",
        "%s",
        "%d.%m.%y %k:%M:%S",
        "%e-%h-%Y %l:%M:%S %p",
        "[%d/%b/%Y %R:%S]",
        "%Y-%m-%d %H:%M:%S.000%%",
        "%Y-%m-%dT%H:%M:%S %Z",
    };
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
        round_trip(patterns[i], NULL);
}
END_TEST

/* Local times in the format's zone; with %Z the abbreviation settles overlaps. */
START_TEST(directives_zones)
{
    static const char *const zones[] = {"Europe/Berlin", "Australia/Sydney", "America/New_York",
                                        "Asia/Kolkata", "Australia/Lord_Howe"};
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        round_trip("%F %T", zones[i]);
        round_trip("%d/%b/%Y:%H:%M:%S", zones[i]);
        round_trip("%F %T %z", zones[i]);
        round_trip("%F %T %Z", zones[i]);
    }
}
END_TEST

/* Hand-made cases around a zone's changes (python3 zoneinfo, fold=0:
 * datetime(2025,3,30,2,30,tzinfo=ZoneInfo("Europe/Berlin")).timestamp() = 1743298200). */
START_TEST(zone_gaps_and_overlaps)
{
    format_t *iso = mk(NULL, "Europe/Berlin"), *tf = mk("%F %T", "Europe/Berlin"),
             *z = mk("%F %T %Z", "Europe/Berlin"), *syd = mk("%d/%m/%Y %T", "Australia/Sydney");
    ck_time(iso, "2025-03-30 02:30:00", 1743298200); /* gap: read in CET, 01:30Z */
    ck_time(tf, "2025-03-30 02:30:00", 1743298200);
    ck_time(iso, "2025-10-26 02:30:00", 1761438600); /* overlap: the earlier, 00:30Z */
    ck_time(tf, "2025-10-26 02:30:00", 1761438600);
    ck_time(z, "2025-10-26 02:30:00 CEST", 1761438600);
    ck_time(z, "2025-10-26 02:30:00 CET", 1761442200); /* the later, named */
    ck_time(z, "2025-10-26 02:30:00 UTC", 1761445800);
    ck_bad(z, "2025-10-26 02:30:00 EST"); /* not an abbreviation of the zone */
    ck_time(iso, "2025-07-01T12:00:00", 1751364000);
    ck_time(iso, "2025-07-01T12:00:00Z", 1751371200); /* an offset wins over the zone */
    ck_time(iso, "1751371200", 1751371200);           /* epochs have no zone */
    ck_time(syd, "06/04/2025 02:30:00", 1743867000);  /* overlap: AEDT, 2025-04-05T15:30Z */
    ck_time(syd, "05/10/2025 02:30:00", 1759595400);  /* gap: read in AEST */
    free_last();
}
END_TEST

START_TEST(directive_edges)
{
    format_t *f = mk("%d/%m/%Y %H:%M:%S", NULL), *p = mk("%I:%M %p %m/%d/%Y", NULL),
             *names = mk("%a %b %d %Y", NULL), *yd = mk("%Y %j", NULL), *fr = mk("%T.%f %F", NULL),
             *y2 = mk("%y-%m-%d", NULL), *sp = mk("%b %e %Y", NULL), *nt = mk("%F%n%T", NULL);
    ck_time(f, "17/05/2015 10:05:03", 1431857103);
    ck_time(f, "7/5/2015 10:5:3", 1430993103); /* one digit where two are allowed */
    ck_time(f, "29/02/2016 00:00:00", 1456704000);
    ck_time(f, "31/12/2016 23:59:60", 1483228800); /* leap second */
    ck_bad(f, "29/02/2015 00:00:00");
    ck_bad(f, "31/04/2015 00:00:00");
    ck_bad(f, "17/13/2015 10:05:03");
    ck_bad(f, "17/05/2015 24:05:03");
    ck_bad(f, "17/05/2015 10:60:03");
    ck_bad(f, "17/05/2015 10:05:61");
    ck_bad(f, "00/05/2015 10:05:03");
    ck_bad(f, "17/05/215 10:05:03");
    ck_bad(f, "17/05/2015  10:05:03x");
    ck_bad(f, "17/05/2015");
    ck_bad(f, "17/05/2015 10:05:03 ");
    ck_time(f, "17/05/2015     10:05:03", 1431857103); /* a space matches a run of blanks */
    ck_time(p, "12:30 AM 01/01/2020", 1577838600);     /* 00:30 */
    ck_time(p, "12:30 pm 01/01/2020", 1577881800);     /* 12:30 */
    ck_time(p, "01:30 PM 01/01/2020", 1577885400);
    ck_bad(p, "13:30 PM 01/01/2020");
    ck_bad(p, "00:30 AM 01/01/2020");
    ck_bad(p, "01:30 XM 01/01/2020");
    ck_time(names, "Sun May 17 2015", 1431820800);
    ck_time(names, "sunday MAY 17 2015", 1431820800); /* any case, full names */
    ck_time(names, "Mon May 17 2015", 1431820800);    /* the weekday is not checked */
    ck_bad(names, "Sux May 17 2015");
    ck_bad(names, "Sun Mey 17 2015");
    ck_time(yd, "2016 366", 1483142400); /* 2016-12-31 */
    ck_time(yd, "2015 1", 1420070400);
    ck_bad(yd, "2015 366");
    ck_bad(yd, "2015 0");
    ck_time(fr, "10:05:03.123456 2015-05-17", 1431857103);
    ck_bad(fr, "10:05:03. 2015-05-17");
    ck_time(y2, "68-01-01", 3092601600LL); /* 2068 */
    ck_time(y2, "69-01-01", -31536000);    /* 1969 */
    ck_time(sp, "May  7 2015", 1430956800);
    ck_time(sp, "May 17 2015", 1431820800);
    ck_time(sp, "May 07 2015", 1430956800);
    ck_time(nt, "2015-05-17 10:05:03", 1431857103); /* %n and %t: blanks */
    ck_bad(nt, "2015-05-1710:05:03");
    free_last();
}
END_TEST

/* The examples of docs/RULES.md ("Times and time zones"), as written there. */
START_TEST(doc_examples)
{
    format_t *syslog = mk("%b %e %H:%M:%S", NULL), *rfc = mk("%a, %d %b %Y %H:%M:%S %z", NULL),
             *py = mk("%Y-%m-%d %H:%M:%S,%f", NULL), *ms = mk("epoch_ms", NULL),
             *b = mk(NULL, "Europe/Berlin"), *z = mk("%F %T %Z", "Europe/Berlin");
    value_t v[FORMAT_MAX_FIELDS];
    format_state_t *st = format_state_create(syslog, 4096, pool);
    format_state_source(st, 1749081600); /* the file last written 2025-06-05 */
    ck_assert_int_eq(format_parse(st, "Jun  4 15:16:01\tx", 17, ALL, 0, v), FORMAT_OK);
    ck_assert_int_eq(v[0].i, 1749050161); /* 2025-06-04T15:16:01Z */
    ck_time(rfc, "Mon, 02 Jun 2025 15:16:01 +0200", 1748870161);
    ck_time(py, "2025-06-02 15:16:01,123", 1748877361);
    ck_time(ms, "1748870161123", 1748870161);
    ck_time(b, "1431857103.25", 1431857103);
    ck_time(b, "1431857103250", 1431857103);
    ck_time(b, "2025-03-30 02:30:00", 1743298200);     /* 01:30 UTC */
    ck_time(b, "2025-10-26 02:30:00", 1761438600);     /* 00:30 UTC */
    ck_time(z, "2025-10-26 02:30:00 CET", 1761442200); /* 01:30 UTC */
    free_last();
}
END_TEST

/* A time without a year: the year of the source's modification time, or the one before
 * when that would be more than a day after it. */
START_TEST(year_from_mtime)
{
    format_t *f = mk("%b %e %H:%M:%S", NULL), *z = mk("%b %e %H:%M:%S", "Asia/Tokyo");
    static const char *const line = "Dec 31 23:00:00\tx", *june = "Jun  2 10:00:00\tx",
                             *jan = "Jan  1 01:00:00\tx";
    value_t v[FORMAT_MAX_FIELDS];
    format_state_t *st = format_state_create(f, 4096, pool),
                   *zt = format_state_create(z, 4096, pool);
    format_state_source(st, 1735776000); /* 2025-01-02T00:00Z */
    ck_assert_int_eq(format_parse(st, line, strlen(line), ALL, 0, v), FORMAT_OK);
    ck_assert_int_eq(v[0].i, 1735686000); /* 2024-12-31T23:00Z */
    /* a day of the year: day 365 of 2024 (a leap year) is 30 December */
    {
        format_t *j = mk("%j %T", NULL);
        format_state_t *js = format_state_create(j, 4096, pool);
        format_state_source(js, 1735776000);
        ck_assert_int_eq(format_parse(js, "365 23:00:00\tx", 13, ALL, 0, v), FORMAT_OK);
        ck_assert_int_eq(v[0].i, 1735599600);                    /* 2024-12-30T23:00Z */
        ck_assert_int_eq(format_guess_year(js, 1, 40, 0), 2024); /* 9 February: after */
        ck_assert_int_eq(format_guess_year(js, 1, 2, 0), 2025);
        ck_assert_int_eq(format_guess_year(js, 12, 31, 0), 2024);
        ck_assert_int_eq(format_guess_year(js, 1, 3, 0), 2025); /* within a day after */
        ck_assert_int_eq(format_guess_year(js, 1, 3, 3600), 2024);
    }
    format_state_source(st, 1748779200); /* 2025-06-01T12:00Z */
    ck_assert_int_eq(format_parse(st, june, strlen(june), ALL, 0, v), FORMAT_OK);
    ck_assert_int_eq(v[0].i, 1748858400); /* 2025-06-02T10:00Z: within a day after */
    format_state_source(st, 1748736000);  /* 2025-06-01T00:00Z */
    ck_assert_int_eq(format_parse(st, june, strlen(june), ALL, 0, v), FORMAT_OK);
    ck_assert_int_eq(v[0].i, 1717322400); /* 2024-06-02T10:00Z */
    /* the year is Tokyo's: 2024-12-31T20:00Z is already 2025 there */
    format_state_source(zt, 1735675200);
    ck_assert_int_eq(format_parse(zt, jan, strlen(jan), ALL, 0, v), FORMAT_OK);
    ck_assert_int_eq(v[0].i, 1735660800); /* 2025-01-01T01:00+09:00 */
}
END_TEST

START_TEST(local_to_utc)
{
    format_t *b = mk(NULL, "Europe/Berlin"), *u = mk(NULL, NULL);
    int64_t out;
    ck_assert_int_eq(format_local_to_utc(b, 1743301800, &out), 0); /* 2025-03-30 02:30: gap */
    ck_assert_int_eq(out, 1743298200);
    ck_assert_int_eq(format_local_to_utc(b, 1761445800, &out), 0); /* 2025-10-26 02:30 */
    ck_assert_int_eq(out, 1761438600);
    ck_assert_int_eq(format_local_to_utc(u, 1761445800, &out), 0);
    ck_assert_int_eq(out, 1761445800);
    ck_assert_int_eq(format_local_to_utc(b, INT64_MAX, &out), -1);
    ck_assert_int_eq(format_local_to_utc(b, -FORMAT_TIME_LIMIT - 1, &out), -1);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------ */

START_TEST(refusals)
{
    static const struct {
        const char *tf, *zone, *piece;
    } bad[] = {
        {"%Y-%q", NULL, "unknown directive %q at byte 4"},
        {"%Y-%m-%d %", NULL, "a '%' ends it at byte 10"},
        {"%H:%M:%S", NULL, "it needs a date"},
        {"%Y-%m", NULL, "it needs a date"},
        {"%Y-%m-%d %Y", NULL, "%Y sets what an earlier directive set at byte 10"},
        {"%F %Y", NULL, "%Y sets what an earlier directive set at byte 4"},
        {"%Y %F", NULL, "%Y sets what an earlier directive set at byte 4"}, /* the %F */
        {"%F %\x01", NULL, "unknown directive % and byte 0x01 at byte 4"},
        {"%y %Y %m %d", NULL, "%Y sets what"},
        {"%I:%M %F", NULL, "%I and %l need %p"},
        {"%H %p %F", NULL, "need %p, and %p needs %I"},
        {"%Y %j %m", NULL, "%j is the date"},
        {"%s %F", NULL, "%s is a whole time"},
        {"", NULL, "expected 1 to 255 bytes"},
        {"epoch_s", NULL, "it needs a date"},
        {"%F", "Mars/Olympus", "unknown time zone \"Mars/Olympus\""},
        {"%F", "+15:00", "at most 14:00"},
        {NULL, "../zoneinfo/UTC", "bad time zone"},
    };
    char big[400];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        static const char *const names[] = {"t:time"};
        format_spec_t spec = {.kind = "split",
                              .arg = ",",
                              .fields = names,
                              .nfields = 1,
                              .time_format = bad[i].tf,
                              .timezone = bad[i].zone};
        format_t *f = NULL;
        abbey_err_t err;
        ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_EINVAL, "accepted %s", bad[i].tf);
        ck_assert_msg(strstr(err.msg, bad[i].piece), "%s: \"%s\" lacks \"%s\"", bad[i].tf, err.msg,
                      bad[i].piece);
        ck_assert_str_eq(spec.err_key, bad[i].zone ? "timezone" : "time_format");
    }
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    {
        static const char *const names[] = {"t:time"};
        format_spec_t spec = {
            .kind = "split", .arg = ",", .fields = names, .nfields = 1, .time_format = big};
        format_t *f;
        abbey_err_t err;
        ck_assert_int_eq(format_create(&spec, pool, &f, &err), APR_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "expected 1 to 255 bytes"));
    }
}
END_TEST

/* The rules loader puts a bad time_format or timezone of a format at its own line:col. */
START_TEST(rules_positions)
{
    static const char *const head = "jobs:\n"
                                    "  - name: web\n"
                                    "    sources: [/a.log]\n";
    static const char *const tail =
        "    groups: [{name: g, entries: [{name: e, values: {n: count}}]}]\n";
    static const struct {
        const char *format, *where, *piece;
    } cases[] = {
        {"    format: {split: \",\", fields: [t:time], time_format: \"%Q\"}\n",
         "bad.yaml:4:57:", "unknown directive %Q"},
        {"    format: {split: \",\", fields: [t:time], timezone: Mars/Base}\n",
         "bad.yaml:4:54:", "unknown time zone"},
        {"    format:\n      split: \",\"\n      fields: [t:time]\n      time_format: \"%H\"\n",
         "bad.yaml:7:20:", "needs a date"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[1024];
        rules_config_t *c = NULL;
        abbey_err_t err;
        snprintf(yaml, sizeof yaml, "%s%s%s", head, cases[i].format, tail);
        ck_assert_int_ne(rules_load_buffer(yaml, strlen(yaml), "bad.yaml", pool, &c, &err),
                         APR_SUCCESS);
        ck_assert_msg(strncmp(err.msg, cases[i].where, strlen(cases[i].where)) == 0 &&
                          strstr(err.msg, cases[i].piece),
                      "\"%s\", wanted %s ... %s", err.msg, cases[i].where, cases[i].piece);
    }
    /* and a good one loads, with the zone in the job */
    {
        char yaml[1024];
        rules_config_t *c = NULL;
        abbey_err_t err;
        snprintf(yaml, sizeof yaml,
                 "%s    timezone: Asia/Shanghai\n    format: {split: \",\", fields: [t:time], "
                 "time_format: \"%%F %%T\", timezone: Europe/Berlin}\n%s",
                 head, tail);
        ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), "ok.yaml", pool, &c, &err) ==
                          APR_SUCCESS,
                      "%s", err.msg);
        ck_assert_str_eq(tz_name(c->jobs[0].tz), "Asia/Shanghai");
        rules_free(c);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("format_time");
    apr_initialize();
    TCase *tc = new_case(s, "forms");
    tcase_add_test(tc, builtin_forms);
    tcase_add_test(tc, epoch_forms);
    tcase_add_test(tc, zone_gaps_and_overlaps);
    tcase_add_test(tc, directive_edges);
    tcase_add_test(tc, year_from_mtime);
    tcase_add_test(tc, doc_examples);
    tcase_add_test(tc, local_to_utc);
    tc = new_case(s, "strftime");
    tcase_add_test(tc, directives_utc);
    tcase_add_test(tc, directives_zones);
    tc = new_case(s, "refusals");
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, rules_positions);
    int failed = check_run(s);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
