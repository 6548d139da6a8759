/* check_format.c - unit tests for the access line formats (rules/format.h: combined and
 * common): real lines, the sample file, truncations, constructed lines and times; the split
 * format and creating formats are tests/check_format_split.c.
 *
 * Oracles: hand-worked field values for real lines of data/apache_combined_10k.log (epochs
 * from `date -u -d ... +%s`), whole-file counts taken with mawk, and the C library's
 * timegm/gmtime_r for every calendar day of 1899..2101. Every line is parsed from a heap
 * copy of exactly its length (tests/fixture_format.h), so under ASan or valgrind any read
 * past the end is caught. The data directory is $ABBEY_DATA_DIR, else the source tree's
 * data/. */
#include <apr_general.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "format.h"

#ifndef ABBEY_SRCDIR
#define ABBEY_SRCDIR "."
#endif

#define FIXTURE_SUITE "check_format"
#include "fixture_format.h"

static char *read_data(const char *name, size_t *len)
{
    const char *dir = getenv("ABBEY_DATA_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ABBEY_SRCDIR "/data", name);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s (set ABBEY_DATA_DIR)", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert(fread(buf, 1, (size_t)n, fp) == (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* Line number lineno (1-based) of the buffer: start and length without '\n'. */
static const char *nth_line(const char *buf, size_t len, int lineno, size_t *n)
{
    const char *p = buf, *end = buf + len;
    for (int i = 1; i < lineno; i++) {
        p = memchr(p, '\n', (size_t)(end - p));
        ck_assert(p != NULL);
        p++;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *n = (size_t)((nl ? nl : end) - p);
    return p;
}

/* ---- real lines --------------------------------------------------------- */

typedef struct exp_line {
    int lineno;
    const char *ip, *time;
    int64_t epoch;
    const char *method, *path, *protocol;
    int status;
    const char *bytes;   /* text; "-" for NULL */
    const char *referer; /* NULL when "-" */
    const char *agent;   /* NULL when "-" */
} exp_line;

static const char *UA_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 "
                            "(KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36";
static const char *UA_GOOGLE =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
static const char *UA_SOGOU =
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)";

static const exp_line real[] = {
    {1, "83.149.9.216", "17/May/2015:10:05:03 +0000", 1431857103, "GET",
     "/presentations/logstash-monitorama-2013/images/kibana-search.png", "HTTP/1.1", 200, "203023",
     "http://semicomplete.com/presentations/logstash-monitorama-2013/", NULL},
    {23, "83.149.9.216", "17/May/2015:10:05:56 +0000", 1431857156, "GET", "/favicon.ico",
     "HTTP/1.1", 200, "3638", NULL, NULL},
    {43, "207.241.237.225", "17/May/2015:10:05:58 +0000", 1431857158, "GET", "/blog/tags/examples",
     "HTTP/1.0", 200, "9208", "http://www.semicomplete.com/blog/tags/C",
     "Mozilla/5.0 (compatible; archive.org_bot +http://www.archive.org/details/archive.org_bot)"},
    {44, "200.49.190.101", "17/May/2015:10:05:36 +0000", 1431857136, "GET", "/reset.css",
     "HTTP/1.1", 200, "1015", NULL, NULL},
    {63, "66.249.73.185", "17/May/2015:10:05:22 +0000", 1431857122, "GET",
     "/doc/index.html?org/elasticsearch/action/search/SearchResponse.html", "HTTP/1.1", 404, "294",
     NULL, NULL},
    {77, "218.30.103.62", "17/May/2015:11:05:11 +0000", 1431860711, "GET", "/robots.txt",
     "HTTP/1.1", 200, "-", NULL, NULL},
    {86, "218.30.103.62", "17/May/2015:11:05:17 +0000", 1431860717, "GET",
     "/projects/xdotool/xdotool.xhtml", "HTTP/1.1", 304, "-", NULL, NULL},
    {150, "134.76.249.10", "17/May/2015:11:05:47 +0000", 1431860747, "GET", "/projects/xdotool",
     "HTTP/1.1", 301, "339", "http://tuxradar.com/content/xdotool-script-your-mouse",
     "Mozilla/5.0 (X11; Linux x86_64; rv:26.0) Gecko/20100101 Firefox/26.0"},
    {426, "173.252.73.114", "17/May/2015:14:05:30 +0000", 1431871530, "GET",
     "/presentations/logstash-puppetconf-2012/images/apache-negative-duration.png", "HTTP/1.1", 206,
     "97173", NULL, "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"},
    {2071, "66.249.73.135", "18/May/2015:03:05:34 +0000", 1431918334, "GET", "/misc/Title.php.txt",
     "HTTP/1.1", 500, "-", NULL, NULL},
    {5340, "204.244.74.22", "19/May/2015:06:05:17 +0000", 1432015517, "GET",
     "/files/xdotool/xdotool-2.20101014.3063.tar.gz", "HTTP/1.1", 416, "400", NULL,
     "Wget/1.14 (linux-gnu)"},
    {10000, "46.105.14.53", "20/May/2015:21:05:15 +0000", 1432155915, "GET",
     "/blog/tags/puppet?flav=rss20", "HTTP/1.1", 200, "14872", NULL,
     "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/"},
};

/* The agent of a table row: rows with NULL agent name one of the shared ones. */
static const char *agent_of(const exp_line *e)
{
    switch (e->lineno) {
    case 1:
    case 23:
        return UA_MAC;
    case 44:
        return NULL;
    case 63:
    case 2071:
        return UA_GOOGLE;
    case 77:
    case 86:
        return UA_SOGOU;
    default:
        return e->agent;
    }
}

static void check_real(const exp_line *e, const value_t *v, int with_tail)
{
    char req[1024];
    snprintf(req, sizeof req, "%s %s %s", e->method, e->path, e->protocol);
    ck_text(&v[IP], VALUE_STR, e->ip);
    ck_text(&v[IDENT], VALUE_NULL, "-");
    ck_text(&v[USER], VALUE_NULL, "-");
    ck_int(&v[TIME], VALUE_TIME, e->epoch, e->time);
    ck_text(&v[REQUEST], VALUE_STR, req);
    ck_text(&v[METHOD], VALUE_STR, e->method);
    ck_text(&v[PATH], VALUE_STR, e->path);
    ck_text(&v[PROTOCOL], VALUE_STR, e->protocol);
    char st[8];
    snprintf(st, sizeof st, "%d", e->status);
    ck_int(&v[STATUS], VALUE_INT, e->status, st);
    if (strcmp(e->bytes, "-") == 0)
        ck_text(&v[BYTES], VALUE_NULL, "-");
    else
        ck_int(&v[BYTES], VALUE_INT, strtoll(e->bytes, NULL, 10), e->bytes);
    if (!with_tail)
        return;
    ck_text(&v[REFERER], e->referer ? VALUE_STR : VALUE_NULL, e->referer ? e->referer : "-");
    const char *agent = agent_of(e);
    ck_text(&v[AGENT], agent ? VALUE_STR : VALUE_NULL, agent ? agent : "-");
}

START_TEST(test_real_lines)
{
    size_t len, n;
    char *buf = read_data("apache_combined_10k.log", &len), *copy;
    value_t v[FORMAT_MAX_FIELDS];
    for (size_t k = 0; k < sizeof real / sizeof real[0]; k++) {
        const char *line = nth_line(buf, len, real[k].lineno, &n);
        ck_assert_msg(parse_n(combined, line, n, ALL, 0, v, &copy) == FORMAT_OK, "line %d",
                      real[k].lineno);
        check_real(&real[k], v, 1);
        free(copy);
        /* the same line read as common: the referer/agent tail is ignored */
        ck_assert(parse_n(common, line, n, ALL, 0, v, &copy) == FORMAT_OK);
        check_real(&real[k], v, 0);
        free(copy);
        /* only the status needed: same structure, the status alone converted */
        ck_assert(parse_n(combined, line, n, 1u << STATUS, 0, v, &copy) == FORMAT_OK);
        ck_assert_int_eq(v[STATUS].i, real[k].status);
        ck_assert_int_eq(v[TIME].kind, 0xee); /* not needed: not touched */
        free(copy);
    }
    free(buf);
}
END_TEST

/* The bad line 8899: cut off inside the agent quote. */
START_TEST(test_real_bad_line)
{
    size_t len, n;
    char *buf = read_data("apache_combined_10k.log", &len), *copy;
    value_t v[FORMAT_MAX_FIELDS];
    const char *line = nth_line(buf, len, 8899, &n);
    ck_assert_int_eq(parse_n(combined, line, n, ALL, 0, v, &copy), FORMAT_BAD_QUOTE);
    free(copy);
    /* common ignores the tail, so the same line is fine there */
    ck_assert_int_eq(parse_n(common, line, n, ALL, 0, v, &copy), FORMAT_OK);
    ck_text(&v[IP], VALUE_STR, "46.118.127.106");
    ck_int(&v[BYTES], VALUE_INT, 235, "235");
    free(copy);
    free(buf);
}
END_TEST

/* Whole file: counts checked against mawk over the good lines (all but 8899):
 *   mawk 'NR!=8899{c[$9]++} END{for(k in c) print k, c[k]}'
 *   mawk 'NR!=8899{if ($10!="-") s+=$10; else nb++; d[substr($4,2,11)]++}'
 *   mawk -F'"' 'NR!=8899{split($2,a," "); m[a[1]]++; if ($4=="-") r++; if ($6=="-") ag++}' */
START_TEST(test_sample_file)
{
    size_t len;
    char *buf = read_data("apache_combined_10k.log", &len);
    const char *p = buf, *end = buf + len;
    value_t v[FORMAT_MAX_FIELDS];
    long good = 0, bad = 0, bad_at = 0, lineno = 0, status[1000] = {0};
    long null_bytes = 0, null_ref = 0, null_agent = 0, day[4] = {0};
    long get = 0, head = 0, post = 0, options = 0;
    int64_t sum_bytes = 0;
    format_bad_t why_bad = FORMAT_OK;
    const int64_t may17 = 1431820800; /* date -u -d 2015-05-17 +%s */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        format_bad_t why = format_parse(combined_st, p, n, ALL, 0, v);
        lineno++;
        if (why != FORMAT_OK) {
            bad++;
            bad_at = lineno;
            why_bad = why;
        } else {
            good++;
            ck_assert(v[STATUS].kind == VALUE_INT && v[STATUS].i >= 0 && v[STATUS].i < 1000);
            status[v[STATUS].i]++;
            if (v[BYTES].kind == VALUE_NULL)
                null_bytes++;
            else
                sum_bytes += v[BYTES].i;
            null_ref += v[REFERER].kind == VALUE_NULL;
            null_agent += v[AGENT].kind == VALUE_NULL;
            int64_t d = (v[TIME].i - may17) / 86400;
            ck_assert(v[TIME].i >= may17 && d < 4);
            day[d]++;
            ck_assert(v[METHOD].kind == VALUE_STR);
            if (v[METHOD].len == 3 && !memcmp(v[METHOD].s, "GET", 3))
                get++;
            else if (v[METHOD].len == 4 && !memcmp(v[METHOD].s, "HEAD", 4))
                head++;
            else if (v[METHOD].len == 4 && !memcmp(v[METHOD].s, "POST", 4))
                post++;
            else if (v[METHOD].len == 7 && !memcmp(v[METHOD].s, "OPTIONS", 7))
                options++;
        }
        p = nl ? nl + 1 : end;
    }
    ck_assert_int_eq(lineno, 10000);
    ck_assert_int_eq(good, 9999);
    ck_assert_int_eq(bad, 1);
    ck_assert_int_eq(bad_at, 8899);
    ck_assert_int_eq(why_bad, FORMAT_BAD_QUOTE);
    ck_assert_int_eq(status[200], 9125); /* 9126 over all 10,000 lines: 8899 is a 200 */
    ck_assert_int_eq(status[304], 445);
    ck_assert_int_eq(status[404], 213);
    ck_assert_int_eq(status[301], 164);
    ck_assert_int_eq(status[206], 45);
    ck_assert_int_eq(status[500], 3);
    ck_assert_int_eq(status[416], 2);
    ck_assert_int_eq(status[403], 2);
    ck_assert_int_eq(null_bytes, 669);
    ck_assert_int_eq(sum_bytes, 2747282505LL);
    ck_assert_int_eq(null_ref, 4072);
    ck_assert_int_eq(null_agent, 190);
    ck_assert_int_eq(day[0], 1632);
    ck_assert_int_eq(day[1], 2893);
    ck_assert_int_eq(day[2], 2896);
    ck_assert_int_eq(day[3], 2578);
    ck_assert_int_eq(get, 9951);
    ck_assert_int_eq(head, 42);
    ck_assert_int_eq(post, 5);
    ck_assert_int_eq(options, 1);
    free(buf);
}
END_TEST

/* Every prefix of real lines: exactly the cuts that end a complete field list
 * parse (inside the bytes digits, right after bytes, right after the referer's
 * closing quote, the full line); every other cut is bad. Positions found with
 * plain string searches on the full line. */
START_TEST(test_truncation)
{
    size_t len, n;
    char *buf = read_data("apache_combined_10k.log", &len), *copy;
    value_t v[FORMAT_MAX_FIELDS], full[FORMAT_MAX_FIELDS];
    for (size_t k = 0; k < sizeof real / sizeof real[0]; k++) {
        const char *line = nth_line(buf, len, real[k].lineno, &n);
        ck_assert(parse_n(combined, line, n, ALL, 0, full, &copy) == FORMAT_OK);
        free(copy);
        char mark[16];
        snprintf(mark, sizeof mark, "\" %d ", real[k].status);
        const char *st = strstr(line, mark);
        ck_assert(st != NULL);
        size_t bytes_at = (size_t)(st - line) + strlen(mark);
        size_t bytes_end = bytes_at + strlen(real[k].bytes);
        size_t ref_len = real[k].referer ? strlen(real[k].referer) : 1;
        size_t ref_end = bytes_end + 1 + 2 + ref_len; /* ' "' text '"' */
        for (size_t cut = 0; cut <= n; cut++) {
            int ok_combined = cut == n || cut == ref_end ||
                              (cut > bytes_at && cut <= bytes_end &&
                               (strcmp(real[k].bytes, "-") || cut == bytes_end));
            int ok_common = cut > bytes_at && (strcmp(real[k].bytes, "-") || cut >= bytes_end);
            format_bad_t why = parse_n(combined, line, cut, ALL, 0, v, &copy);
            ck_assert_msg((why == FORMAT_OK) == ok_combined, "line %d cut %zu: %s", real[k].lineno,
                          cut, format_bad_text(why));
            if (why == FORMAT_OK) {
                ck_assert_int_eq(v[TIME].i, full[TIME].i);
                ck_assert_int_eq(v[STATUS].i, full[STATUS].i);
                ck_assert_int_eq(v[PATH].len, full[PATH].len);
                ck_assert_int_eq(v[AGENT].kind, cut == n ? full[AGENT].kind : VALUE_NULL);
            }
            free(copy);
            why = parse_n(common, line, cut, ALL, 0, v, &copy);
            ck_assert_msg((why == FORMAT_OK) == ok_common, "common line %d cut %zu: %s",
                          real[k].lineno, cut, format_bad_text(why));
            free(copy);
        }
    }
    free(buf);
}
END_TEST

/* ---- constructed access lines -------------------------------------------- */

#define HEAD_ "1.2.3.4 - - [17/May/2015:10:05:03 +0000] "

START_TEST(test_null_fields)
{
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(parse(combined, HEAD_ "\"-\" 408 - \"-\" \"-\"", v), FORMAT_OK);
    ck_text(&v[REQUEST], VALUE_NULL, "-");
    ck_text(&v[METHOD], VALUE_NULL, NULL);
    ck_text(&v[PATH], VALUE_NULL, NULL);
    ck_text(&v[PROTOCOL], VALUE_NULL, NULL);
    ck_int(&v[STATUS], VALUE_INT, 408, "408");
    ck_text(&v[BYTES], VALUE_NULL, "-");
    ck_text(&v[REFERER], VALUE_NULL, "-");
    ck_text(&v[AGENT], VALUE_NULL, "-");
    /* ident and user given */
    ck_assert_int_eq(parse(combined,
                           "::1 id bob [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" "
                           "200 0 \"\" \"x\"",
                           v),
                     FORMAT_OK);
    ck_text(&v[IP], VALUE_STR, "::1");
    ck_text(&v[IDENT], VALUE_STR, "id");
    ck_text(&v[USER], VALUE_STR, "bob");
    ck_int(&v[BYTES], VALUE_INT, 0, "0");
    ck_text(&v[REFERER], VALUE_STR, "");
    ck_text(&v[AGENT], VALUE_STR, "x");
    /* a user name with a space runs up to " [" */
    ck_assert_int_eq(parse(combined,
                           "1.2.3.4 - john smith [17/May/2015:10:05:03 +0000] "
                           "\"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
                           v),
                     FORMAT_OK);
    ck_text(&v[USER], VALUE_STR, "john smith");
    /* an ip of "-" stays text */
    ck_assert_int_eq(
        parse(common, "- - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1", v), FORMAT_OK);
    ck_text(&v[IP], VALUE_STR, "-");
    free_last();
}
END_TEST

START_TEST(test_escaped_quotes)
{
    value_t v[FORMAT_MAX_FIELDS];
    /* agent: Mozilla \"quoted\" agent\\   (an escaped quote, then an escaped backslash) */
    ck_assert_int_eq(parse(combined,
                           HEAD_ "\"GET /a\\\"b HTTP/1.1\" 200 5 \"-\" "
                                 "\"Mozilla \\\"quoted\\\" agent\\\\\"",
                           v),
                     FORMAT_OK);
    ck_text(&v[REQUEST], VALUE_STR, "GET /a\\\"b HTTP/1.1");
    ck_text(&v[PATH], VALUE_STR, "/a\\\"b");
    ck_text(&v[AGENT], VALUE_STR, "Mozilla \\\"quoted\\\" agent\\\\");
    /* the last quote escaped: the agent never closes */
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 5 \"-\" \"agent\\\"", v),
                     FORMAT_BAD_QUOTE);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 5 \"-\" \"\\\\\\\"", v),
                     FORMAT_BAD_QUOTE);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1", v), FORMAT_BAD_QUOTE);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 5 \"http://x", v),
                     FORMAT_BAD_QUOTE);
    free_last();
}
END_TEST

START_TEST(test_offsets)
{
    value_t v[FORMAT_MAX_FIELDS];
    static const struct {
        const char *t;
        int64_t epoch;
    } c[] = {
        {"17/May/2015:10:05:03 +0200", 1431849903}, /* 10:05:03 UTC - 2h */
        {"17/May/2015:10:05:03 -0700", 1431882303}, /* + 7h */
        {"17/May/2015:10:05:03 +0530", 1431837303}, {"01/Jan/1970:00:00:00 +0000", 0},
        {"01/Jan/1970:00:00:00 +0100", -3600},      {"31/Dec/1969:23:59:59 +0000", -1},
        {"29/Feb/2016:00:00:00 +0000", 1456704000}, {"29/Feb/2000:12:00:00 +0000", 951825600},
        {"31/Dec/1999:23:59:59 +0000", 946684799},  {"19/Jan/2038:03:14:08 +0000", 2147483648LL},
        {"30/Apr/2015:23:59:59 +0000", 1430438399},
    };
    char line[256];
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        snprintf(line, sizeof line, "h - - [%s] \"GET / HTTP/1.1\" 200 1", c[i].t);
        ck_assert_msg(parse(common, line, v) == FORMAT_OK, "%s", c[i].t);
        ck_int(&v[TIME], VALUE_TIME, c[i].epoch, c[i].t);
    }
    free_last();
}
END_TEST

START_TEST(test_bad_times)
{
    value_t v[FORMAT_MAX_FIELDS];
    static const char *const bad[] = {
        "31/Apr/2015:10:05:03 +0000", "29/Feb/2015:10:05:03 +0000",  "29/Feb/1900:00:00:00 +0000",
        "30/Feb/2016:00:00:00 +0000", "00/May/2015:10:05:03 +0000",  "32/May/2015:10:05:03 +0000",
        "17/May/2015:24:00:00 +0000", "17/May/2015:23:60:00 +0000",  "17/May/2015:23:59:60 +0000",
        "17/Mai/2015:10:05:03 +0000", "17/may/2015:10:05:03 +0000",  "17/MAY/2015:10:05:03 +0000",
        "17/May/2015:10:05:03 +2400", "17/May/2015:10:05:03 +0060",  "17/May/2015:10:05:03 0000 ",
        "17/May/2015 10:05:03 +0000", "7/May/2015:10:05:03 +0000 ",  "17/May/15:10:05:03 +0000",
        "17/May/2015:10:05:03",       "17/May/2015:10:05:03 +00000", "1a/May/2015:10:05:03 +0000",
        "17-May-2015:10:05:03 +0000", "17/May/2015:10:0x:03 +0000",  "",
    };
    char line[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line, "h - - [%s] \"GET / HTTP/1.1\" 200 1", bad[i]);
        ck_assert_msg(parse(common, line, v) == FORMAT_BAD_TIME, "accepted [%s]", bad[i]);
    }
    ck_assert_int_eq(
        parse(common, "h - - [29/Feb/2016:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1", v), FORMAT_OK);
    free_last();
}
END_TEST

/* Every day of 1899..2101 (and the 29..31 that do not exist), against timegm. */
START_TEST(test_time_brute)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    value_t v[FORMAT_MAX_FIELDS];
    char line[128];
    long checked = 0, invalid = 0;
    for (int y = 1899; y <= 2101; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= 31; d++) {
                int hh = (d * 7 + m) % 24, mi = (y + d) % 60, ss = (m * d) % 60;
                int oh = (y + m) % 15, om = (d % 2) * 30, neg = (y + d) % 2;
                snprintf(line, sizeof line,
                         "h - - [%02d/%s/%04d:%02d:%02d:%02d %c%02d%02d] "
                         "\"GET / HTTP/1.1\" 200 1",
                         d, mon[m - 1], y, hh, mi, ss, neg ? '-' : '+', oh, om);
                struct tm tm = {.tm_year = y - 1900,
                                .tm_mon = m - 1,
                                .tm_mday = d,
                                .tm_hour = hh,
                                .tm_min = mi,
                                .tm_sec = ss};
                time_t t = timegm(&tm);
                struct tm back;
                gmtime_r(&t, &back);
                format_bad_t why = format_parse(common_st, line, strlen(line), ALL, 0, v);
                if (back.tm_mday != d) {
                    ck_assert_msg(why == FORMAT_BAD_TIME, "accepted %s", line);
                    invalid++;
                    continue;
                }
                int64_t off = (int64_t)(oh * 3600 + om * 60);
                ck_assert_msg(why == FORMAT_OK, "rejected %s", line);
                ck_assert_msg(v[TIME].i == (int64_t)t + (neg ? off : -off), "%s: %lld", line,
                              (long long)v[TIME].i);
                checked++;
            }
    /* 203 years: 73,749 real days (49 leap years incl. 2000, not 1900/2100) */
    ck_assert_int_eq(checked, 203 * 365 + 49);
    ck_assert_int_eq(invalid, 203 * 12 * 31 - checked);
}
END_TEST

START_TEST(test_odd_requests)
{
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET\" 400 0 \"-\" \"-\"", v), FORMAT_OK);
    ck_text(&v[REQUEST], VALUE_STR, "GET");
    ck_text(&v[METHOD], VALUE_NULL, NULL);
    ck_text(&v[PATH], VALUE_NULL, NULL);
    ck_text(&v[PROTOCOL], VALUE_NULL, NULL);
    ck_assert_int_eq(parse(combined, HEAD_ "\"\\x16\\x03\\x01\\x00\\xa5\" 400 226 \"-\" \"-\"", v),
                     FORMAT_OK);
    ck_text(&v[REQUEST], VALUE_STR, "\\x16\\x03\\x01\\x00\\xa5");
    ck_text(&v[METHOD], VALUE_NULL, NULL);
    /* raw binary bytes */
    ck_assert_int_eq(parse(combined, HEAD_ "\"\x16\x03\x01\x7f\xff\" 400 0 \"-\" \"-\"", v),
                     FORMAT_OK);
    ck_text(&v[REQUEST], VALUE_STR, "\x16\x03\x01\x7f\xff");
    ck_text(&v[METHOD], VALUE_NULL, NULL);
    ck_assert_int_eq(parse(combined, HEAD_ "\"\" 400 0 \"-\" \"-\"", v), FORMAT_OK);
    ck_text(&v[REQUEST], VALUE_STR, "");
    ck_text(&v[METHOD], VALUE_NULL, NULL);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET /\" 200 0 \"-\" \"-\"", v), FORMAT_OK);
    ck_text(&v[METHOD], VALUE_STR, "GET");
    ck_text(&v[PATH], VALUE_STR, "/");
    ck_text(&v[PROTOCOL], VALUE_NULL, NULL);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET /a b HTTP/1.1\" 200 0 \"-\" \"-\"", v),
                     FORMAT_OK);
    ck_text(&v[METHOD], VALUE_STR, "GET");
    ck_text(&v[PATH], VALUE_STR, "/a b");
    ck_text(&v[PROTOCOL], VALUE_STR, "HTTP/1.1");
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET  HTTP/1.1\" 200 0 \"-\" \"-\"", v), FORMAT_OK);
    ck_text(&v[METHOD], VALUE_STR, "GET");
    ck_text(&v[PATH], VALUE_NULL, NULL);
    ck_text(&v[PROTOCOL], VALUE_STR, "HTTP/1.1");
    ck_assert_int_eq(parse(combined, HEAD_ "\" /x HTTP/1.1 \" 200 0 \"-\" \"-\"", v), FORMAT_OK);
    ck_text(&v[METHOD], VALUE_NULL, NULL);
    ck_text(&v[PATH], VALUE_STR, "/x HTTP/1.1");
    ck_text(&v[PROTOCOL], VALUE_NULL, NULL);
    free_last();
}
END_TEST

START_TEST(test_numbers_and_structure)
{
    value_t v[FORMAT_MAX_FIELDS];
    const char *ok = HEAD_ "\"GET / HTTP/1.1\" ";
    char line[256];
    static const struct {
        const char *tail;
        format_bad_t why;
    } c[] = {
        {"200 12", FORMAT_OK},
        {"2 12", FORMAT_OK},
        {"9999 12", FORMAT_OK},
        {"20000 12", FORMAT_BAD_NUMBER},
        {"2x0 12", FORMAT_BAD_NUMBER},
        {"-200 12", FORMAT_BAD_NUMBER},
        {"- 12", FORMAT_BAD_NUMBER},
        {"200 12a", FORMAT_BAD_NUMBER},
        {"200 -1", FORMAT_BAD_NUMBER},
        {"200 --", FORMAT_BAD_NUMBER},
        {"200", FORMAT_BAD_FIELDS},
        {"200 ", FORMAT_BAD_FIELDS},
        {"", FORMAT_BAD_FIELDS},
        {"200  12", FORMAT_BAD_FIELDS}, /* an empty unquoted field: the structure is broken */
        {"200 123456789012345678", FORMAT_OK},
        {"200 1234567890123456789", FORMAT_BAD_NUMBER},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        snprintf(line, sizeof line, "%s%s", ok, c[i].tail);
        ck_assert_msg(parse(common, line, v) == c[i].why, "[%s]: %s", c[i].tail,
                      format_bad_text(parse(common, line, v)));
    }
    ck_assert_int_eq(parse(common, HEAD_ "\"GET / HTTP/1.1\" 200 123456789012345678", v),
                     FORMAT_OK);
    ck_int(&v[BYTES], VALUE_INT, 123456789012345678LL, "123456789012345678");
    /* structure */
    ck_assert_int_eq(parse(combined, "", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(combined, "garbage", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(
        parse(combined, " - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1", v),
        FORMAT_BAD_FIELDS);
    ck_assert_int_eq(
        parse(combined, "h - - 17/May/2015:10:05:03 +0000 \"GET / HTTP/1.1\" 200 1", v),
        FORMAT_BAD_FIELDS);
    ck_assert_int_eq(
        parse(combined, "h - - [17/May/2015:10:05:03 +0000]\"GET / HTTP/1.1\" 200 1", v),
        FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(combined, "h - - [17/May/2015:10:05:03 +0000] GET / HTTP/1.1 200 1", v),
                     FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\"200 1", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 1 x", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 1 \"-\"\"-\"", v),
                     FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 1 \"-\" \"-\"x", v),
                     FORMAT_BAD_FIELDS);
    free_last();
}
END_TEST

START_TEST(test_trailing_text)
{
    value_t v[FORMAT_MAX_FIELDS];
    /* nginx adds fields after the agent: ignored */
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 1 \"r\" \"a\" 0.005 \"-\"", v),
                     FORMAT_OK);
    ck_text(&v[REFERER], VALUE_STR, "r");
    ck_text(&v[AGENT], VALUE_STR, "a");
    /* a trailing '\r' is not part of the line */
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 1 \"r\" \"a\"\r", v), FORMAT_OK);
    ck_text(&v[AGENT], VALUE_STR, "a");
    ck_assert_int_eq(parse(common, HEAD_ "\"GET / HTTP/1.1\" 200 77\r", v), FORMAT_OK);
    ck_int(&v[BYTES], VALUE_INT, 77, "77");
    /* common: anything after bytes is ignored */
    ck_assert_int_eq(parse(common, HEAD_ "\"GET / HTTP/1.1\" 200 1 \"r\" \"unterminated", v),
                     FORMAT_OK);
    ck_int(&v[BYTES], VALUE_INT, 1, "1");
    /* combined without the referer/agent tail: those are NULL */
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 1", v), FORMAT_OK);
    ck_text(&v[REFERER], VALUE_NULL, NULL);
    ck_text(&v[AGENT], VALUE_NULL, NULL);
    ck_assert_int_eq(parse(combined, HEAD_ "\"GET / HTTP/1.1\" 200 1 \"r\"", v), FORMAT_OK);
    ck_text(&v[REFERER], VALUE_STR, "r");
    ck_text(&v[AGENT], VALUE_NULL, NULL);
    free_last();
}
END_TEST

static Suite *format_suite(void)
{
    Suite *s = suite_create("format");
    TCase *tc = new_case(s, "real");
    tcase_add_test(tc, test_real_lines);
    tcase_add_test(tc, test_real_bad_line);
    tcase_add_test(tc, test_sample_file);
    tcase_add_test(tc, test_truncation);
    tc = new_case(s, "access");
    tcase_add_test(tc, test_null_fields);
    tcase_add_test(tc, test_escaped_quotes);
    tcase_add_test(tc, test_odd_requests);
    tcase_add_test(tc, test_numbers_and_structure);
    tcase_add_test(tc, test_trailing_text);
    tc = new_case(s, "time");
    tcase_add_test(tc, test_offsets);
    tcase_add_test(tc, test_bad_times);
    tcase_add_test(tc, test_time_brute);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(format_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
