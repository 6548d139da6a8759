/* check_format_syslog.c - unit tests for the syslog line format (rules/format_syslog.c):
 * rsyslog file lines (BSD stamps, RSYSLOG_FileFormat's RFC 3339 stamps), RFC 3164 and
 * RFC 5424 lines with PRI, tags, nil values, structured data, the year of year-less
 * stamps (the source's mtime, rollover, leap days), zones, and refusals.
 *
 * Oracles: the examples of RFC 3164 (section 5.4) and RFC 5424 (section 6.5) with their
 * fields as the RFCs explain them, epochs from the C library's timegm, and facility and
 * severity numbers from the RFCs' tables. Lines are parsed from heap copies of exactly
 * their length (tests/fixture_format_state.h). */
#include <apr_general.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "format.h"

#define FIXTURE_SUITE "check_format_syslog"
#include "fixture_format.h"
#include "fixture_format_state.h"

enum { TIME_, HOST, APP, PID, MSGID, FAC, SEV, FAC_NAME, SEV_NAME, MESSAGE, SD, NF };
#define NAMES ((1u << FAC_NAME) | (1u << SEV_NAME)) /* static text */

/* Epoch seconds of a UTC date and time (the C library's timegm). */
static int64_t utc(int y, int mon, int d, int hh, int mm, int ss)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = d,
                    .tm_hour = hh,
                    .tm_min = mm,
                    .tm_sec = ss};
    return (int64_t)timegm(&tm);
}

static format_t *mk(const char *tz)
{
    format_spec_t spec = {.kind = "syslog", .timezone = tz};
    format_t *f = NULL;
    abbey_err_t err;
    ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_SUCCESS, "%s", err.msg);
    return f;
}

/* A parse state of a syslog format in zone tz, reading a source last written at mtime. */
static format_state_t *mk_st(const char *tz, int64_t mtime)
{
    format_state_t *st = format_state_create(mk(tz), 4096, pool);
    format_state_source(st, mtime);
    return st;
}

static format_bad_t parse1(format_state_t *st, const char *line, value_t *v)
{
    return parse_st(st, line, v, NAMES);
}

START_TEST(test_fields)
{
    format_t *f = mk(NULL);
    static const char *const names[NF] = {
        "time",     "host",          "app",           "pid",     "msgid",          "facility",
        "severity", "facility_name", "severity_name", "message", "structured_data"};
    static const format_type_t types[NF] = {FORMAT_TIME, FORMAT_STR, FORMAT_STR, FORMAT_INT,
                                            FORMAT_STR,  FORMAT_INT, FORMAT_INT, FORMAT_STR,
                                            FORMAT_STR,  FORMAT_STR, FORMAT_STR};
    ck_assert_str_eq(format_name(f), "syslog");
    ck_assert_int_eq(format_nfields(f), NF);
    ck_assert(!format_is_open(f));
    for (int i = 0; i < NF; i++) {
        ck_assert_str_eq(format_field_name(f, i), names[i]);
        ck_assert_int_eq(format_field_type(f, i), types[i]);
    }
    ck_assert_int_eq(format_field_index(f, "nothing", 7), -1);
}
END_TEST

START_TEST(test_file_lines)
{
    format_state_t *st = mk_st(NULL, utc(2024, 7, 1, 0, 0, 0));
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(parse1(st, "Jun 14 15:16:01 web1 sshd[4242]: Accepted publickey", v),
                     FORMAT_OK);
    ck_int(&v[TIME_], VALUE_TIME, utc(2024, 6, 14, 15, 16, 1), "Jun 14 15:16:01");
    ck_text(&v[HOST], VALUE_STR, "web1");
    ck_text(&v[APP], VALUE_STR, "sshd");
    ck_int(&v[PID], VALUE_INT, 4242, "4242");
    ck_text(&v[MESSAGE], VALUE_STR, "Accepted publickey");
    ck_text(&v[MSGID], VALUE_NULL, NULL);
    ck_text(&v[SD], VALUE_NULL, NULL);
    for (int i = FAC; i <= SEV_NAME; i++)
        ck_text(&v[i], VALUE_NULL, NULL); /* no PRI */
    /* single-digit days, padded with a space or not, or with a zero */
    static const char *const days[] = {"Jun  4 01:02:03 h a: m", "Jun 4 01:02:03 h a: m",
                                       "Jun 04 01:02:03 h a: m"};
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(parse1(st, days[i], v) == FORMAT_OK, "%s", days[i]);
        ck_assert_int_eq(v[TIME_].i, utc(2024, 6, 4, 1, 2, 3));
        ck_text(&v[HOST], VALUE_STR, "h");
    }
    /* tags: no pid, '/', '-', '.', parentheses */
    static const struct {
        const char *line, *app, *pid, *msg;
    } tags[] = {
        {"Jun 14 15:16:01 h su: (to root) on pts/0", "su", NULL, "(to root) on pts/0"},
        {"Jun 14 15:16:01 h postfix/smtpd[77]: connect", "postfix/smtpd", "77", "connect"},
        {"Jun 14 15:16:01 h systemd-logind[7]: New session", "systemd-logind", "7", "New session"},
        {"Jun 14 15:16:01 h org.gnome.Shell.desktop[1234]: x", "org.gnome.Shell.desktop", "1234",
         "x"},
        {"Jun 14 15:16:01 h sshd(pam_unix)[99]: session opened", "sshd(pam_unix)", "99",
         "session opened"},
        {"Jun 14 15:16:01 h kernel: [ 1.5] usb 1-1: new", "kernel", NULL, "[ 1.5] usb 1-1: new"},
        {"Jun 14 15:16:01 h app:no space", "app", NULL, "no space"},
        {"Jun 14 15:16:01 h app:", "app", NULL, ""},
        {"Jun 14 15:16:01 h app[1]:", "app", "1", ""},
        {"Jun 14 15:16:01 h app[abc]: m", "app", "", "m"},
        {"Jun 14 15:16:01 h app[+5]: m", "app", "", "m"},
        {"Jun 14 15:16:01 h app[-5]: m", "app", "", "m"},
        {"Jun 14 15:16:01 h app[99999999999999999999]: m", "app", "", "m"},
        {"Jun 14 15:16:01 h app[]: m", "app", "", "m"},
        /* no tag: the whole rest is the message */
        {"Jun 14 15:16:01 h last message repeated 3 times", NULL, NULL,
         "last message repeated 3 times"},
        {"Jun 14 15:16:01 h app[12] no colon", NULL, NULL, "app[12] no colon"},
        {"Jun 14 15:16:01 h app[12", NULL, NULL, "app[12"},
        {"Jun 14 15:16:01 h : empty tag", NULL, NULL, ": empty tag"},
        {"Jun 14 15:16:01 h ", NULL, NULL, ""},
    };
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        ck_assert_msg(parse1(st, tags[i].line, v) == FORMAT_OK, "%s", tags[i].line);
        ck_text(&v[HOST], VALUE_STR, "h");
        ck_text(&v[APP], tags[i].app ? VALUE_STR : VALUE_NULL, tags[i].app);
        if (tags[i].pid && *tags[i].pid)
            ck_int(&v[PID], VALUE_INT, atoi(tags[i].pid), tags[i].pid);
        else
            ck_assert_int_eq(v[PID].kind, VALUE_NULL); /* none, or not a number */
        ck_text(&v[MESSAGE], VALUE_STR, tags[i].msg);
    }
    /* a CR before the newline is not part of the message */
    ck_assert_int_eq(parse1(st, "Jun 14 15:16:01 h a: m\r", v), FORMAT_OK);
    ck_text(&v[MESSAGE], VALUE_STR, "m");
    /* RSYSLOG_FileFormat: RFC 3339 with fraction and offset */
    ck_assert_int_eq(parse1(st, "2024-06-14T15:16:01.123456+02:00 host app[123]: msg", v),
                     FORMAT_OK);
    ck_int(&v[TIME_], VALUE_TIME, utc(2024, 6, 14, 13, 16, 1), "2024-06-14T15:16:01.123456+02:00");
    ck_text(&v[HOST], VALUE_STR, "host");
    ck_text(&v[APP], VALUE_STR, "app");
    ck_int(&v[PID], VALUE_INT, 123, "123");
    ck_text(&v[MESSAGE], VALUE_STR, "msg");
    ck_assert_int_eq(parse1(st, "2024-06-14T15:16:01Z host app: msg", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2024, 6, 14, 15, 16, 1));
    st_free();
}
END_TEST

START_TEST(test_rfc3164)
{
    format_state_t *st = mk_st(NULL, utc(2023, 11, 1, 0, 0, 0));
    value_t v[FORMAT_MAX_FIELDS];
    /* RFC 3164, 5.4, example 1: facility 4 (auth), severity 2 (crit) */
    ck_assert_int_eq(
        parse1(st, "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
               v),
        FORMAT_OK);
    ck_int(&v[TIME_], VALUE_TIME, utc(2023, 10, 11, 22, 14, 15), "Oct 11 22:14:15");
    ck_text(&v[HOST], VALUE_STR, "mymachine");
    ck_text(&v[APP], VALUE_STR, "su");
    ck_assert_int_eq(v[PID].kind, VALUE_NULL);
    ck_assert(v[FAC].kind == VALUE_INT && v[FAC].i == 4);
    ck_assert(v[SEV].kind == VALUE_INT && v[SEV].i == 2);
    ck_text(&v[FAC_NAME], VALUE_STR, "auth");
    ck_text(&v[SEV_NAME], VALUE_STR, "crit");
    ck_text(&v[MESSAGE], VALUE_STR, "'su root' failed for lonvick on /dev/pts/8");
    /* a relay that dropped the host: the first word ends in ':' */
    ck_assert_int_eq(parse1(st, "<13>Feb  5 17:32:18 app[9]: hello", v), FORMAT_OK);
    ck_text(&v[HOST], VALUE_NULL, NULL);
    ck_text(&v[APP], VALUE_STR, "app");
    ck_int(&v[PID], VALUE_INT, 9, "9");
    ck_text(&v[FAC_NAME], VALUE_STR, "user");
    ck_text(&v[SEV_NAME], VALUE_STR, "notice");
    ck_assert_int_eq(parse1(st, "<13>Feb  5 17:32:18 app:", v), FORMAT_OK);
    ck_text(&v[HOST], VALUE_NULL, NULL);
    ck_text(&v[APP], VALUE_STR, "app");
    ck_text(&v[MESSAGE], VALUE_STR, "");
    /* every PRI from 0 to 191: facility = PRI / 8, severity = PRI % 8 */
    static const char *const fac[24] = {
        "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
        "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
        "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};
    static const char *const sev[8] = {"emerg",   "alert",  "crit", "err",
                                       "warning", "notice", "info", "debug"};
    char line[64];
    for (int pri = 0; pri <= 191; pri++) {
        snprintf(line, sizeof line, "<%d>Jan  1 00:00:00 h a: m", pri);
        ck_assert_msg(parse1(st, line, v) == FORMAT_OK, "%s", line);
        ck_assert(v[FAC].i == pri / 8 && v[SEV].i == pri % 8);
        ck_text(&v[FAC_NAME], VALUE_STR, fac[pri / 8]);
        ck_text(&v[SEV_NAME], VALUE_STR, sev[pri % 8]);
    }
    /* invalid PRI: too large, leading zeros, empty, not digits, not closed */
    static const char *const bad[] = {"<192>", "<999>", "<1000>", "<01>", "<00>", "<>",
                                      "<a>",   "<-1>",  "<34",    "<",    "<1 >"};
    char why[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line, "%sOct 11 22:14:15 h a: m", bad[i]);
        ck_assert_msg(parse1(st, line, v) == FORMAT_BAD_SYNTAX, "%s", line);
        ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_SYNTAX, why, sizeof why),
                         "facility: syntax error");
        ck_assert_int_eq(parse_stn(st, line, strlen(line), 0, 0, NAMES, v), FORMAT_BAD_SYNTAX);
    }
    st_free();
}
END_TEST

START_TEST(test_rfc5424)
{
    format_state_t *st = mk_st(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    /* RFC 5424, 6.5, example 1 (with a BOM before MSG) */
    ck_assert_int_eq(parse1(st,
                            "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                            "\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
                            v),
                     FORMAT_OK);
    ck_int(&v[TIME_], VALUE_TIME, utc(2003, 10, 11, 22, 14, 15), "2003-10-11T22:14:15.003Z");
    ck_text(&v[HOST], VALUE_STR, "mymachine.example.com");
    ck_text(&v[APP], VALUE_STR, "su");
    ck_assert_int_eq(v[PID].kind, VALUE_NULL);
    ck_text(&v[MSGID], VALUE_STR, "ID47");
    ck_text(&v[SD], VALUE_NULL, NULL);
    ck_text(&v[MESSAGE], VALUE_STR, "'su root' failed for lonvick on /dev/pts/8");
    ck_assert(v[FAC].i == 4 && v[SEV].i == 2);
    /* example 2: an offset, a numeric PROCID, nil MSGID and SD */
    ck_assert_int_eq(parse1(st,
                            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
                            "%% It's time to make the do-nuts.",
                            v),
                     FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2003, 8, 24, 12, 14, 15));
    ck_text(&v[HOST], VALUE_STR, "192.0.2.1");
    ck_text(&v[APP], VALUE_STR, "myproc");
    ck_int(&v[PID], VALUE_INT, 8710, "8710");
    ck_text(&v[MSGID], VALUE_NULL, NULL);
    ck_text(&v[MESSAGE], VALUE_STR, "%% It's time to make the do-nuts.");
    ck_text(&v[FAC_NAME], VALUE_STR, "local4");
    ck_text(&v[SEV_NAME], VALUE_STR, "notice");
    /* example 3: structured data, then a message */
    const char *sd = "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]";
    char line[512];
    snprintf(line, sizeof line,
             "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 %s "
             "\xef\xbb\xbf"
             "An application event log entry...",
             sd);
    ck_assert_int_eq(parse1(st, line, v), FORMAT_OK);
    ck_text(&v[SD], VALUE_STR, sd);
    ck_text(&v[APP], VALUE_STR, "evntslog");
    ck_text(&v[MESSAGE], VALUE_STR, "An application event log entry...");
    /* example 4: two SD elements, no message */
    const char *sd2 = "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
                      "eventID=\"1011\"][examplePriority@32473 class=\"high\"]";
    snprintf(line, sizeof line,
             "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com "
             "evntslog - ID47 %s",
             sd2);
    ck_assert_int_eq(parse1(st, line, v), FORMAT_OK);
    ck_text(&v[SD], VALUE_STR, sd2);
    ck_text(&v[MESSAGE], VALUE_NULL, NULL);
    /* every value nil */
    ck_assert_int_eq(parse1(st, "<0>1 - - - - - -", v), FORMAT_OK);
    for (int i = TIME_; i <= MSGID; i++)
        ck_assert_int_eq(v[i].kind, VALUE_NULL);
    ck_text(&v[SD], VALUE_NULL, NULL);
    ck_text(&v[MESSAGE], VALUE_NULL, NULL);
    ck_text(&v[FAC_NAME], VALUE_STR, "kern");
    ck_text(&v[SEV_NAME], VALUE_STR, "emerg");
    ck_assert_int_eq(parse1(st, "<0>1 - - - - - - ", v), FORMAT_OK);
    ck_text(&v[MESSAGE], VALUE_STR, "");
    ck_assert_int_eq(parse1(st, "<0>1 - - - - - - \xef\xbb\xbf", v), FORMAT_OK);
    ck_text(&v[MESSAGE], VALUE_STR, "");
    ck_assert_int_eq(parse1(st, "<0>1 - - - - - - \xef\xbb", v), FORMAT_OK);
    ck_text(&v[MESSAGE], VALUE_STR, "\xef\xbb"); /* not a whole BOM: kept */
    /* escapes in SD values: \" \\ \] do not end the value; the text stays raw */
    ck_assert_int_eq(parse1(st, "<0>1 - - - - - [id a=\"x\\\"]y\\\\\" b=\"\"] m\r", v), FORMAT_OK);
    ck_text(&v[SD], VALUE_STR, "[id a=\"x\\\"]y\\\\\" b=\"\"]");
    ck_text(&v[MESSAGE], VALUE_STR, "m");
    /* broken 5424 structure */
    static const struct {
        const char *line;
        format_bad_t why;
    } bad[] = {
        {"<0>1 - - - - -", FORMAT_BAD_FIELDS},
        {"<0>1 - - - - - ", FORMAT_BAD_FIELDS},
        {"<0>1 - - - -", FORMAT_BAD_FIELDS},
        {"<0>1 -  - - - -", FORMAT_BAD_FIELDS},
        {"<0>1", FORMAT_BAD_FIELDS},
        {"<0>1 ", FORMAT_BAD_FIELDS},
        {"<0>1 - - - - - x", FORMAT_BAD_SYNTAX},
        {"<0>1 - - - - - -x", FORMAT_BAD_SYNTAX},
        {"<0>1 - - - - - [id a=\"b]", FORMAT_BAD_QUOTE},
        {"<0>1 - - - - - [id a=\"b\\\"]", FORMAT_BAD_QUOTE},
        {"<0>1 - - - - - [id a=b]", FORMAT_BAD_SYNTAX},
        {"<0>1 - - - - - [id a]", FORMAT_BAD_SYNTAX},
        {"<0>1 - - - - - [id =\"b\"]", FORMAT_BAD_SYNTAX},
        {"<0>1 - - - - - []", FORMAT_BAD_SYNTAX},
        {"<0>1 - - - - - [ a=\"b\"]", FORMAT_BAD_SYNTAX},
        {"<0>1 - - - - - [id", FORMAT_BAD_SYNTAX},
        {"<0>1 - - - - - [id]x", FORMAT_BAD_SYNTAX},
        {"<0>1 - - - - - [id] [x]", FORMAT_OK}, /* "[x]" is the message */
        {"<0>1 2003-10-11 - - - - -", FORMAT_BAD_TIME},
        {"<0>1 yesterday - - - - -", FORMAT_BAD_TIME},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *l = bad[i].line;
        ck_assert_msg(parse1(st, l, v) == bad[i].why, "%s: %d", l, parse1(st, l, v));
        ck_assert_int_eq(parse_stn(st, l, strlen(l), 0, 0, NAMES, v), bad[i].why);
    }
    /* a time that has the shape but not the calendar: bad only when time is needed */
    const char *l = "<0>1 2003-02-29T00:00:00Z - - - - -";
    ck_assert_int_eq(parse1(st, l, v), FORMAT_BAD_TIME);
    ck_assert_int_eq(parse_stn(st, l, strlen(l), ~(uint64_t)1, 0, NAMES, v), FORMAT_OK);
    st_free();
}
END_TEST

/* The year of a year-less stamp: the mtime's, or the one before. */
START_TEST(test_year)
{
    value_t v[FORMAT_MAX_FIELDS];
    format_state_t *st = mk_st(NULL, utc(2024, 1, 2, 3, 0, 0));
    ck_assert_int_eq(parse1(st, "Dec 31 23:59:59 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2023, 12, 31, 23, 59, 59));
    ck_assert_int_eq(parse1(st, "Jan  1 00:00:00 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2024, 1, 1, 0, 0, 0));
    ck_assert_int_eq(parse1(st, "Jan  3 00:00:00 h a: m", v), FORMAT_OK); /* within a day: kept */
    ck_assert_int_eq(v[TIME_].i, utc(2024, 1, 3, 0, 0, 0));
    ck_assert_int_eq(parse1(st, "Jan 31 00:00:00 h a: m", v), FORMAT_OK); /* later: a year back */
    ck_assert_int_eq(v[TIME_].i, utc(2023, 1, 31, 0, 0, 0));
    ck_assert_int_eq(parse1(st, "Feb  1 00:00:00 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2023, 2, 1, 0, 0, 0));
    /* a new source: a file last written in December keeps January in its year */
    format_state_source(st, utc(2024, 12, 31, 12, 0, 0));
    ck_assert_int_eq(parse1(st, "Jan  1 00:00:00 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2024, 1, 1, 0, 0, 0));
    /* leap day: fine in 2024, bad in 2023 (when time is needed) */
    format_state_source(st, utc(2024, 3, 1, 0, 0, 0));
    ck_assert_int_eq(parse1(st, "Feb 29 12:00:00 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2024, 2, 29, 12, 0, 0));
    format_state_source(st, utc(2023, 5, 1, 0, 0, 0));
    ck_assert_int_eq(parse1(st, "Feb 29 12:00:00 h a: m", v), FORMAT_BAD_TIME);
    char why[128];
    ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_TIME, why, sizeof why),
                     "time is not a time");
    ck_assert_int_eq(parse_stn(st, "Feb 29 12:00:00 h a: m", 22, 1u << HOST, 0, NAMES, v),
                     FORMAT_OK);
    ck_text(&v[HOST], VALUE_STR, "h");
    /* Feb 29 in a file written in January 2025: December's rule gives 2024, a leap year */
    format_state_source(st, utc(2025, 1, 10, 0, 0, 0));
    ck_assert_int_eq(parse1(st, "Feb 29 12:00:00 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2024, 2, 29, 12, 0, 0));
    /* mtime 0: now; a line of the current month is in the current year */
    format_state_source(st, 0);
    time_t now = time(NULL);
    struct tm tm;
    char line[64];
    gmtime_r(&now, &tm);
    strftime(line, sizeof line, "%b %d 00:00:00 h a: m", &tm);
    ck_assert_int_eq(parse1(st, line, v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, 0, 0, 0));
    /* calendar errors: only when time is needed */
    static const char *const bad[] = {"Jun 31 00:00:00 h a: m", "Jun 00 00:00:00 h a: m",
                                      "Jun 14 24:00:00 h a: m", "Jun 14 23:60:00 h a: m",
                                      "Jun 14 23:00:60 h a: m", "Jun 99 23:00:00 h a: m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse1(st, bad[i], v) == FORMAT_BAD_TIME, "%s", bad[i]);
        ck_assert_int_eq(parse_stn(st, bad[i], strlen(bad[i]), 1u << APP, 0, NAMES, v), FORMAT_OK);
    }
    st_free();
}
END_TEST

/* Times without an offset are in the format's zone; stamps with one keep it. */
START_TEST(test_zones)
{
    value_t v[FORMAT_MAX_FIELDS];
    format_state_t *st = mk_st("+02:00", utc(2024, 6, 30, 0, 0, 0));
    ck_assert_int_eq(parse1(st, "Jun 14 15:16:01 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2024, 6, 14, 13, 16, 1));
    ck_assert_int_eq(parse1(st, "2024-06-14T15:16:01.5 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2024, 6, 14, 13, 16, 1));
    ck_assert_int_eq(parse1(st, "2024-06-14T15:16:01-05:00 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2024, 6, 14, 20, 16, 1));
    ck_assert_int_eq(parse1(st, "<1>1 2024-06-14T15:16:01 h a - - - m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2024, 6, 14, 13, 16, 1));
    /* the reference month is the zone's: 23:30 UTC on Dec 31 is January 1 at +02:00 */
    format_state_source(st, utc(2023, 12, 31, 23, 30, 0));
    ck_assert_int_eq(parse1(st, "Jan  1 01:00:00 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2023, 12, 31, 23, 0, 0));
    ck_assert_int_eq(parse1(st, "Dec 31 23:00:00 h a: m", v), FORMAT_OK);
    ck_assert_int_eq(v[TIME_].i, utc(2023, 12, 31, 21, 0, 0));
    /* the other spellings of a zone */
    static const struct {
        const char *tz;
        int off;
    } zones[] = {{"UTC", 0},
                 {"-0800", -8 * 3600},
                 {"+05:30", 19800},
                 {"+14", 14 * 3600},
                 {"-14:00", -14 * 3600}};
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        st = mk_st(zones[i].tz, utc(2024, 6, 30, 0, 0, 0));
        ck_assert_int_eq(parse1(st, "Jun 14 15:16:01 h a: m", v), FORMAT_OK);
        ck_assert_int_eq(v[TIME_].i, utc(2024, 6, 14, 15, 16, 1) - zones[i].off);
    }
    st_free();
}
END_TEST

START_TEST(test_broken)
{
    format_state_t *st = mk_st(NULL, utc(2024, 7, 1, 0, 0, 0));
    value_t v[FORMAT_MAX_FIELDS];
    static const struct {
        const char *line;
        format_bad_t why;
    } bad[] = {
        {"", FORMAT_BAD_FIELDS},
        {"hello world", FORMAT_BAD_FIELDS},
        {"Jux 14 15:16:01 h a: m", FORMAT_BAD_FIELDS},
        {"Jun 14 15:16:01", FORMAT_BAD_FIELDS},
        {"Jun 14 15:16:01 ", FORMAT_BAD_FIELDS},
        {"Jun 14 15:16:01 host", FORMAT_BAD_FIELDS},
        {"Jun 14 15:16:01  a: m", FORMAT_BAD_FIELDS},
        {"2024-06-14T15:16:01Z", FORMAT_BAD_FIELDS},
        {"<13>Jux 14 15:16:01 h a: m", FORMAT_BAD_TIME},
        {"<13>", FORMAT_BAD_TIME},
        {"Jun 14 15:16", FORMAT_BAD_TIME},
        {"Jun 14 15:16:0x h a: m", FORMAT_BAD_TIME},
        {"Jun 14 15-16-01 h a: m", FORMAT_BAD_TIME},
        {"Jun 14 15:16:01.5 h a: m", FORMAT_BAD_TIME},
        {"Jun 14 15:16:012 h a: m", FORMAT_BAD_TIME},
        {"Jun   4 15:16:01 h a: m", FORMAT_BAD_TIME},
        {"Jun 144 15:16:01 h a: m", FORMAT_BAD_TIME},
        {"Jun14 15:16:01 h a: m", FORMAT_BAD_TIME},
        {"2024-06-14 15:16:01 h a: m", FORMAT_BAD_TIME},
        {"2024-06-1 h a: m", FORMAT_BAD_TIME},
        {"1 2003-10-11T22:14:15.003Z h a - - - m", FORMAT_BAD_TIME}, /* 5424 needs a PRI */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *l = bad[i].line;
        ck_assert_msg(parse1(st, l, v) == bad[i].why, "%s: %d", l, parse1(st, l, v));
        ck_assert_int_eq(parse_stn(st, l, strlen(l), 0, 0, NAMES, v), bad[i].why);
    }
    /* ISO stamps with the shape but not the calendar: bad only when time is needed */
    static const char *const cal[] = {"2024-13-01T00:00:00Z h a: m", "2024-06-14T15:16:01+2 h a: m",
                                      "2024-06-14T25:00:00Z h a: m", "2024-06-14T15:16:01x h a: m"};
    for (size_t i = 0; i < sizeof cal / sizeof cal[0]; i++) {
        ck_assert_msg(parse1(st, cal[i], v) == FORMAT_BAD_TIME, "%s", cal[i]);
        ck_assert_int_eq(parse_stn(st, cal[i], strlen(cal[i]), 1u << HOST, 0, NAMES, v), FORMAT_OK);
    }
    /* NUL bytes and invalid UTF-8 are message text */
    static const char l[] = "Jun 14 15:16:01 h a: \0\xff\xfe";
    ck_assert_int_eq(parse_stn(st, l, sizeof l - 1, ALL, 0, NAMES, v), FORMAT_OK);
    ck_assert_uint_eq(v[MESSAGE].len, 3);
    st_free();
}
END_TEST

START_TEST(test_create)
{
    abbey_err_t err;
    format_t *f;
    static const char *const fields[] = {"a"};
    static const struct {
        format_spec_t spec;
        const char *msg;
    } bad[] = {
        {{.kind = "syslog", .arg = ","}, "syslog format: delimiter does not apply (the fields"},
        {{.kind = "syslog", .fields = fields, .nfields = 1}, "syslog format: fields does not"},
        {{.kind = "syslog", .header = 1}, "syslog format: header does not apply"},
        {{.kind = "syslog", .time_format = "%s"}, "syslog format: time_format does not apply"},
        {{.kind = "syslog", .timezone = "+15:00"}, "+15:00"},
        {{.kind = "syslog", .timezone = "+02:60"}, "+02:60"},
        {{.kind = "syslog", .timezone = "02:00"}, "02:00"},
        {{.kind = "syslog", .timezone = "+2:00"}, "+2:00"},
        {{.kind = "syslog", .timezone = "+02-00"}, "+02-00"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        format_spec_t spec = bad[i].spec;
        ck_assert_int_eq(format_create(&spec, pool, &f, &err), APR_EINVAL);
        ck_assert_msg(strstr(err.msg, bad[i].msg) != NULL, "%s", err.msg);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create(FIXTURE_SUITE);
    apr_initialize();
    tcase_add_test(new_case(s, "fields"), test_fields);
    tcase_add_test(new_case(s, "file_lines"), test_file_lines);
    tcase_add_test(new_case(s, "rfc3164"), test_rfc3164);
    tcase_add_test(new_case(s, "rfc5424"), test_rfc5424);
    tcase_add_test(new_case(s, "year"), test_year);
    tcase_add_test(new_case(s, "zones"), test_zones);
    tcase_add_test(new_case(s, "broken"), test_broken);
    tcase_add_test(new_case(s, "create"), test_create);
    int failed = check_run(s);
    apr_terminate();
    return failed ? 1 : 0;
}
