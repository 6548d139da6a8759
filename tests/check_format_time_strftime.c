/* check_format_time_strftime.c - unit tests for the strftime mode of time patterns
 * (rules/format_time.c, FORMAT_TIME_STRFTIME), which Apache's %{...}t forms compile to: the
 * text exactly as strftime writes it, so that the form alone says where the field ends (a
 * number right after it stays the next field's), every conversion the time_format patterns
 * have, forms without a whole date read as text, and the forms refused at load with their
 * byte. Lines are parsed from a heap copy of exactly their length (tests/fixture_format.h).
 * Oracles: glibc's strftime (UTC, and with TZ set in this process) writing random instants
 * that must read back as the same instant (or the earlier of a local reading that happens
 * twice), and epochs from `date -u -d ... +%s` beside the hand-made cases. */
#include <apr_general.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "format.h"
#include "format_int.h"

#define FIXTURE_SUITE "check_format_time_strftime"
#include "fixture_format.h"

/* The apache format "%{form}t" sep "%>s", with the format's timezone zone (NULL: none). */
static format_t *mk(const char *form, const char *sep, const char *zone)
{
    char str[256];
    format_spec_t spec = {.kind = "apache", .arg = str, .timezone = zone};
    format_t *f = NULL;
    abbey_err_t err;
    snprintf(str, sizeof str, "%%{%s}t%s%%>s", form, sep);
    ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_SUCCESS, "%s: %s", str, err.msg);
    return f;
}

/* "text|200" with the form then "|": a time want, or bad (why). */
#define ck_time(form, text, want) ck_line(form, text, want, FORMAT_OK, __LINE__)
#define ck_bad(form, text) ck_line(form, text, 0, FORMAT_BAD_TIME, __LINE__)
static void ck_line(const char *form, const char *text, int64_t want, format_bad_t why, int at)
{
    format_t *f = mk(form, "|", NULL);
    value_t v[FORMAT_MAX_FIELDS];
    char line[256];
    snprintf(line, sizeof line, "%s|200", text);
    format_bad_t got = parse(f, line, v);
    ck_assert_msg(got == why, "line %d: %s on \"%s\": %s", at, form, text, format_bad_text(got));
    if (why == FORMAT_OK)
        ck_assert_msg(v[0].kind == VALUE_TIME && v[0].i == want,
                      "line %d: %s on \"%s\" read as %lld, not %lld", at, form, text,
                      (long long)v[0].i, (long long)want);
}

/* form's text written by strftime, the status 200 right after sep, must read back
 * (ck_round_trip). %Z is skipped, so a local time that happens twice ("02:30 CET" on the
 * autumn night) reads as its earlier instant. */
static void round_trip(const char *form, const char *sep, const char *zone)
{
    format_t *f = mk(form, sep, zone);
    ck_assert_int_eq(format_field_type(f, 0), FORMAT_TIME);
    ck_round_trip(f, form, zone, sep, "200", strstr(form, "%Z") ? "%F %T" : form);
}

/* Every conversion, as glibc writes it; an empty sep: the status's digits touch the form,
 * whose exact widths say where the time ends. */
START_TEST(round_trips_utc)
{
    static const struct {
        const char *form, *sep;
    } c[] = {
        {"%d/%b/%Y:%H:%M:%S %z", "|"},
        {"%a, %d %b %Y %H:%M:%S %z", " "},
        {"%A %B %e %Y %l:%M:%S %p", "|"},
        {"%Y%m%d%H%M%S", ""},
        {"%j/%Y %k:%M:%S", ""},
        {"%D %T", " "},
        {"%F %R:%S %z", ""},
        {"%s", "|"},
        {"%y-%m-%d %I:%M:%S %p", " "},
        {"%h %e %Y %T %Z", ""},
        {"%F%t%T", ""},
        {"[%d/%b/%Y %T] 100%%", " "},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        round_trip(c[i].form, c[i].sep, NULL);
}
END_TEST

/* Local times in the format's zone; %z moves the time, %Z is skipped. */
START_TEST(round_trips_zones)
{
    static const char *const zones[] = {"Europe/Berlin", "America/New_York", "Asia/Kolkata",
                                        "Australia/Lord_Howe"};
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        round_trip("%F %T", "|", zones[i]);
        round_trip("%d/%b/%Y:%H:%M:%S %z", "", zones[i]);
        round_trip("%a %e %b %Y %T %Z", " ", zones[i]);
    }
}
END_TEST

/* Exactly as strftime writes it: what a time_format takes that strftime never writes is a
 * bad line here (date -u -d 2015-05-17T10:05:03 +%s = 1431857103). */
START_TEST(exact_text)
{
    ck_time("%d/%m/%Y %H:%M:%S", "17/05/2015 10:05:03", 1431857103);
    ck_bad("%d/%m/%Y %H:%M:%S", "17/5/2015 10:05:03");   /* a time_format takes one digit */
    ck_bad("%d/%m/%Y %H:%M:%S", "17/05/2015  10:05:03"); /* ... and a run of blanks */
    ck_bad("%d/%m/%Y %H:%M:%S", "17/05/2015\t10:05:03"); /* ... or a tab for a space */
    ck_time("%e %b %Y", " 7 May 2015", 1430956800);      /* %e: space-padded */
    ck_time("%e %b %Y", "07 May 2015", 1430956800);      /* or zero */
    ck_bad("%e %b %Y", "7 May 2015");                    /* but two bytes */
    ck_time("%k:%M %F", " 9:05 2015-05-17", 1431853500); /* %k %l: space-padded hours */
    ck_time("%l:%M %p %F", " 1:05 PM 2015-05-17", 1431867900);
    ck_bad("%j %Y", "1 2015"); /* %j: three digits */
    ck_time("%j %Y", "001 2015", 1420070400);
    ck_time("%d %b %Y", "17 may 2015", 1431820800); /* names in any case */
    ck_time("%d %B %Y", "17 MAY 2015", 1431820800);
    ck_bad("%d %b %Y", "17 Sept 2015");                             /* %b: three letters */
    ck_bad("%d %B %Y", "17 Sep 2015");                              /* %B: the whole name */
    ck_time("%A %d %B %Y", "Sunday 17 September 2015", 1442448000); /* not checked */
    ck_bad("%a %d %b %Y", "Sux 17 May 2015");                       /* a weekday's name */
    ck_bad("%A %d %b %Y", "Sun 17 May 2015");
    ck_time("%F %T %z", "2015-05-17 12:05:03 +0200", 1431857103);
    ck_bad("%F %T %z", "2015-05-17 12:05:03 +02:00"); /* %z: +hhmm only */
    ck_bad("%F %T %z", "2015-05-17 10:05:03 Z");
    ck_bad("%F %T %z", "2015-05-17 12:05:03 +02");
    ck_time("%F %T %Z", "2015-05-17 10:05:03 CEST", 1431857103);  /* %Z skipped */
    ck_time("%F %T %Z", "2015-05-17 10:05:03 +0530", 1431857103); /* numeric, as tzdata's */
    ck_bad("%F %T %Z", "2015-05-17 10:05:03 +");
    ck_bad("%F %T %Z", "2015-05-17 10:05:03 ");
    ck_time("%F %T", "2016-12-31 23:59:60", 1483228800); /* a leap second */
    ck_bad("%F %T", "2015-05-17 10:05:61");
    ck_bad("%F %T", "2015-02-29 10:05:03");
    ck_time("%s", "-1", -1); /* before 1970 */
    ck_time("%F %T.%f", "2015-05-17 10:05:03.123456", 1431857103);
    /* the form ends where it ends, even when the next field starts with a digit */
    format_t *f = mk("%Y%m%d", "", NULL);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(parse(f, "20150517404", v), FORMAT_OK);
    ck_int(&v[0], VALUE_TIME, 1431820800, "20150517");
    ck_int(&v[1], VALUE_INT, 404, "404");
    ck_assert_int_eq(parse(f, "2015051404", v), FORMAT_OK); /* the 14th, then "04" */
    ck_int(&v[0], VALUE_TIME, 1431561600, "20150514");
    ck_int(&v[1], VALUE_INT, 4, "04");
    ck_assert_int_eq(parse(f, "2015-05-17404", v), FORMAT_BAD_TIME);
    free_last();
}
END_TEST

/* A form without a year, a month and a day (or %j), or %s, is text: its numbers only say
 * where it ends, so they are not checked against a calendar. */
START_TEST(text_forms)
{
    static const char *const forms[] = {"%H:%M:%S", "%b %e %T", "%I:%M", "%Y-%m", "epoch"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        const format_time_t *tf;
        abbey_err_t err;
        long at;
        ck_assert_msg(format_time_compile(forms[i], FORMAT_TIME_STRFTIME, pool, &tf, &at, &err) ==
                          APR_SUCCESS,
                      "%s: %s", forms[i], err.msg);
        ck_assert_msg(!format_time_instant(tf), "%s gives an instant", forms[i]);
    }
    format_t *f = mk("%b %e %T", "|", NULL);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(format_field_type(f, 0), FORMAT_STR);
    ck_assert_int_eq(parse(f, "Feb 31 24:61:99|200", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "Feb 31 24:61:99");
    ck_assert_int_eq(parse(f, "Feb 31 2:61:99|200", v), FORMAT_BAD_TIME); /* not its widths */
    free_last();
}
END_TEST

/* Refused when compiled: a directive that sets what another set, a time that cannot be
 * told from the whole form, bad bytes; with the byte at fault (1-based in the message). */
START_TEST(refusals)
{
    static const struct {
        const char *form;
        long at;
        const char *piece;
    } c[] = {
        {"%Y-%q", 3, "unknown directive %q at byte 4"},
        {"%F %", 3, "a '%' ends it at byte 4"},
        {"%F %Y", 3, "%Y sets what an earlier directive set at byte 4"},
        {"%F %T %z %z", 9, "%z sets what"},
        {"%I:%M %F", -1, "%I and %l need %p"},
        {"%j %F", -1, "%j is the date"},
        {"%s %F", -1, "%s is a whole time"},
        {"", -1, "expected 1 to 255 bytes"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const format_time_t *tf;
        abbey_err_t err;
        long at;
        ck_assert_msg(format_time_compile(c[i].form, FORMAT_TIME_STRFTIME, pool, &tf, &at, &err) ==
                          APR_EINVAL,
                      "accepted %s", c[i].form);
        ck_assert_msg(
            at == c[i].at && strstr(err.msg, c[i].piece) && strncmp(err.msg, "%{...}t \"", 9) == 0,
            "%s: at %ld \"%s\", wanted %ld \"%s\"", c[i].form, at, err.msg, c[i].at, c[i].piece);
    }
    /* %Z sets nothing (it is skipped): it may come with %z */
    const format_time_t *tf;
    abbey_err_t err;
    long at;
    ck_assert_int_eq(format_time_compile("%F %T %z %Z", FORMAT_TIME_STRFTIME, pool, &tf, &at, &err),
                     APR_SUCCESS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("format_time_strftime");
    apr_initialize();
    TCase *tc = new_case(s, "strftime");
    tcase_add_test(tc, round_trips_utc);
    tcase_add_test(tc, round_trips_zones);
    tc = new_case(s, "exact");
    tcase_add_test(tc, exact_text);
    tcase_add_test(tc, text_forms);
    tcase_add_test(tc, refusals);
    int failed = check_run(s);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
