/* check_format_logformat.c - unit tests for the nginx and apache formats
 * (rules/format_logformat*.c): format strings pasted from a server's config, the fields and
 * types they give, lines split by them (quotes, escapes, "-", requests, times, lists,
 * odd literals, adjacent fields, long lines), under every instruction set the splitter has.
 * Malformed strings and Apache's directives are tests/check_format_logformat_compile.c.
 *
 * Oracles: field values worked out by hand for each constructed line, epochs from
 * `date -u -d ... +%s`, and for long lines the lengths the test itself built. Lines are parsed
 * from a heap copy of exactly their length (tests/fixture_format.h), so under ASan or valgrind
 * any read past the end is caught. */
#include <apr_general.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "format.h"
#include "format_logformat_int.h"

#define FIXTURE_SUITE "check_format_logformat"
#include "fixture_format.h"

static format_t *mk(const char *kind, const char *str)
{
    format_spec_t spec = {.kind = kind, .arg = str};
    format_t *f = NULL;
    abbey_err_t err = {{0}};
    ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_SUCCESS, "[%s]: %s", str, err.msg);
    ck_assert_int_eq(spec.err_at, -1);
    return f;
}

/* The index of field name in f (which must have it). */
static int fx(const format_t *f, const char *name)
{
    int i = format_field_index((format_t *)f, name, strlen(name));
    ck_assert_msg(i >= 0, "no field %s", name);
    return i;
}

static void ck_fields(const format_t *f, const char *const *names, const format_type_t *types,
                      int n)
{
    ck_assert_int_eq(format_nfields(f), n);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(format_field_name(f, i), names[i]);
        ck_assert_msg(format_field_type(f, i) == types[i], "%s: type %d, expected %d", names[i],
                      format_field_type(f, i), types[i]);
    }
}

/* ---- nginx ------------------------------------------------------------------------- */

#define NGINX_MAIN                                                                                 \
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "             \
    "\"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\""

START_TEST(test_nginx_main)
{
    static const char *const names[] = {"remote_addr",  "remote_user",     "time_local",
                                        "request",      "method",          "path",
                                        "protocol",     "status",          "body_bytes_sent",
                                        "http_referer", "http_user_agent", "http_x_forwarded_for"};
    static const format_type_t types[] = {FORMAT_STR, FORMAT_STR,  FORMAT_TIME, FORMAT_STR,
                                          FORMAT_STR, FORMAT_STR,  FORMAT_STR,  FORMAT_INT,
                                          FORMAT_INT, FORMAT_AUTO, FORMAT_AUTO, FORMAT_AUTO};
    lf_set_simd((int)_i);
    format_t *f = mk("nginx", NGINX_MAIN);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_str_eq(format_name(f), "nginx");
    ck_fields(f, names, types, 12);
    ck_assert_int_eq(parse(f,
                           "203.0.113.9 - alice [17/May/2015:10:05:03 +0200] \"GET /a/b?x=1 "
                           "HTTP/1.1\" 200 512 \"http://ex.com/\" \"Mozilla/5.0 (X11)\" "
                           "\"10.0.0.1, 10.0.0.2\"",
                           v),
                     FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "203.0.113.9");
    ck_text(&v[1], VALUE_STR, "alice");
    ck_int(&v[2], VALUE_TIME, 1431849903, "17/May/2015:10:05:03 +0200");
    ck_text(&v[3], VALUE_STR, "GET /a/b?x=1 HTTP/1.1");
    ck_text(&v[4], VALUE_STR, "GET");
    ck_text(&v[5], VALUE_STR, "/a/b?x=1");
    ck_text(&v[6], VALUE_STR, "HTTP/1.1");
    ck_int(&v[7], VALUE_INT, 200, "200");
    ck_int(&v[8], VALUE_INT, 512, "512");
    ck_text(&v[9], VALUE_STR, "http://ex.com/");
    ck_text(&v[10], VALUE_STR, "Mozilla/5.0 (X11)");
    ck_text(&v[11], VALUE_STR, "10.0.0.1, 10.0.0.2");
    /* "-" is missing everywhere, the address included */
    ck_assert_int_eq(
        parse(f, "- - - [17/May/2015:10:05:03 +0000] \"-\" 400 0 \"-\" \"-\" \"-\"", v), FORMAT_OK);
    ck_text(&v[0], VALUE_NULL, "-");
    ck_text(&v[1], VALUE_NULL, "-");
    ck_text(&v[3], VALUE_NULL, "-");
    ck_text(&v[4], VALUE_NULL, NULL);
    ck_text(&v[9], VALUE_NULL, "-");
    ck_text(&v[11], VALUE_NULL, "-");
    /* a user name with a space runs up to " [" */
    ck_assert_int_eq(parse(f,
                           "::1 - john smith [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 "
                           "0 \"-\" \"a\" \"-\"",
                           v),
                     FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "john smith");
    /* structure: every piece must be there, nothing after the last quote */
    ck_assert_int_eq(parse(f,
                           "::1 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 0 \"-\" "
                           "\"a\"",
                           v),
                     FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f,
                           "::1 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 0 \"-\" "
                           "\"a\" \"-\" x",
                           v),
                     FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f,
                           "::1 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 0 \"-\" "
                           "\"a\" \"-",
                           v),
                     FORMAT_BAD_QUOTE);
    ck_assert_int_eq(
        parse(f, "::1 - - [17/May/2015] \"GET / HTTP/1.1\" 200 0 \"-\" \"a\" \"-\"", v),
        FORMAT_BAD_FIELDS);
    /* a needed field that does not hold its type: the reason names it */
    ck_assert_int_eq(parse(f,
                           "::1 - - [31/Apr/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 2x0 0 \"-\" "
                           "\"a\" \"-\"",
                           v),
                     FORMAT_BAD_TIME);
    char why[128];
    format_state_t *st = format_state_create(f, 4096, pool);
    const char *l =
        "::1 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 2x0 0 \"-\" \"a\" \"-\"";
    ck_assert_int_eq(format_parse(st, l, strlen(l), ALL, 0, v), FORMAT_BAD_NUMBER);
    ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_NUMBER, why, sizeof why),
                     "status is not a number");
    /* not needed: not converted, and the line is good */
    ck_assert_int_eq(format_parse(st, l, strlen(l), 1, 0, v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "::1");
    free_last();
}
END_TEST

START_TEST(test_nginx_times_and_numbers)
{
    lf_set_simd((int)_i);
    format_t *f =
        mk("nginx", "$remote_addr [$time_iso8601] \"$request\" $status $request_time "
                    "$upstream_response_time $upstream_status $msec $request_length "
                    "$bytes_sent $connection $connection_requests $upstream_bytes_received "
                    "$pipe");
    value_t v[FORMAT_MAX_FIELDS];
    int ti = fx(f, "time_iso8601"), rt = fx(f, "request_time"),
        ut = fx(f, "upstream_response_time");
    int us = fx(f, "upstream_status"), ms = fx(f, "msec"), rl = fx(f, "request_length");
    int bs = fx(f, "bytes_sent"), cn = fx(f, "connection"), cr = fx(f, "connection_requests");
    int ub = fx(f, "upstream_bytes_received"), pi = fx(f, "pipe");
    ck_assert_int_eq(format_field_type(f, ti), FORMAT_TIME);
    ck_assert_int_eq(format_field_type(f, rt), FORMAT_FLOAT);
    ck_assert_int_eq(format_field_type(f, ut), FORMAT_FLOAT);
    ck_assert_int_eq(format_field_type(f, us), FORMAT_AUTO);
    ck_assert_int_eq(format_field_type(f, ms), FORMAT_TIME);
    ck_assert_int_eq(format_field_type(f, rl), FORMAT_INT);
    ck_assert_int_eq(format_field_type(f, ub), FORMAT_INT);
    ck_assert_int_eq(format_field_type(f, pi), FORMAT_STR); /* known: text */
    ck_assert_int_eq(parse(f,
                           "10.1.2.3 [2015-05-17T10:05:03+02:00] \"POST /api HTTP/2.0\" 502 0.250 "
                           "0.100, 0.150 : 0.005 502, 200 : 200 1431849903.123 321 1024 17 3 "
                           "10, 20 p",
                           v),
                     FORMAT_OK);
    ck_int(&v[ti], VALUE_TIME, 1431849903, "2015-05-17T10:05:03+02:00");
    ck_assert(v[rt].kind == VALUE_FLOAT && v[rt].f == 0.25);
    ck_assert(v[ut].kind == VALUE_FLOAT && fabs(v[ut].f - 0.255) < 1e-12);
    ck_text(&v[ut], VALUE_FLOAT, "0.100, 0.150 : 0.005");
    ck_text(&v[us], VALUE_STR, "502, 200 : 200");
    ck_int(&v[ms], VALUE_TIME, 1431849903, "1431849903.123");
    ck_int(&v[rl], VALUE_INT, 321, "321");
    ck_int(&v[bs], VALUE_INT, 1024, "1024");
    ck_int(&v[cn], VALUE_INT, 17, "17");
    ck_int(&v[cr], VALUE_INT, 3, "3");
    ck_int(&v[ub], VALUE_INT, 30, "10, 20");
    ck_text(&v[pi], VALUE_STR, "p");
    /* a list of "-": missing; "-" in a list: left out */
    ck_assert_int_eq(parse(f,
                           "h [2015-05-17T10:05:03Z] \"GET / HTTP/1.1\" 200 0.000 - - 0.000 1 "
                           "2 3 4 -, 5 .",
                           v),
                     FORMAT_OK);
    ck_text(&v[ut], VALUE_NULL, "-");
    ck_text(&v[us], VALUE_NULL, "-");
    ck_int(&v[ub], VALUE_INT, 5, "-, 5");
    ck_int(&v[ms], VALUE_TIME, 0, "0.000");
    /* bad numbers, each named */
    static const char *const bad[][2] = {
        {"h [2015-05-17T10:05:03Z] \"G\" 200 0.1x - - 1 1 2 3 4 - .", "request_time"},
        {"h [2015-05-17T10:05:03Z] \"G\" 200 0.1 0.1, x - 1 1 2 3 4 - .", "upstream_response_time"},
        {"h [2015-05-17T10:05:03Z] \"G\" 200 0.1 - - 1 -1 2 3 4 - .", "request_length"},
        {"h [2015-05-17T10:05:03Z] \"G\" 200 0.1 - - 1 1 2 3 4 1,, 2 .", "upstream_bytes_received"},
        {"h [2015-05-17] \"G\" 200 0.1 - - 1 1 2 3 4 - .", "time_iso8601"},
        {"h [2015-05-17T10:05:03Z] \"G\" 200 0.1 - - 1e9x 1 2 3 4 - .", "msec"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        format_state_t *st = format_state_create(f, 4096, pool);
        char why[128];
        format_bad_t r = format_parse(st, bad[k][0], strlen(bad[k][0]), ALL, 0, v);
        ck_assert_msg(r == FORMAT_BAD_NUMBER || r == FORMAT_BAD_TIME, "%s: %d", bad[k][0], r);
        format_bad_describe(st, r, why, sizeof why);
        ck_assert_msg(strncmp(why, bad[k][1], strlen(bad[k][1])) == 0, "%s: %s", bad[k][0], why);
        /* the same line with nothing needed is good: only the structure is checked */
        ck_assert_int_eq(format_parse(st, bad[k][0], strlen(bad[k][0]), 0, 0, v), FORMAT_OK);
    }
    free_last();
}
END_TEST

/* An unknown variable is text that becomes a number where a rule needs one. */
START_TEST(test_nginx_unknown_and_num)
{
    format_t *f = mk("nginx", "$geoip_country_code|$arg_page|${http_x_ms}ms|$cookie_sid");
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(format_nfields(f), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(format_field_type(f, i), FORMAT_AUTO);
    ck_assert_int_eq(parse(f, "DE|3|250ms|abc", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "DE");
    ck_text(&v[2], VALUE_STR, "250");
    char *copy;
    const char *l = "DE|3|250ms|abc";
    ck_assert_int_eq(parse_n(f, l, strlen(l), ALL, 0x6, v, &copy), FORMAT_OK);
    ck_int(&v[1], VALUE_INT, 3, "3");
    ck_int(&v[2], VALUE_INT, 250, "250");
    free(copy);
    l = "DE|three|250ms|abc";
    ck_assert_int_eq(parse_n(f, l, strlen(l), ALL, 0x2, v, &copy), FORMAT_BAD_NUMBER);
    free(copy);
    /* the field runs to the first '|'; the last to the end */
    ck_assert_int_eq(parse(f, "a|b|1ms|c|d", v), FORMAT_OK);
    ck_text(&v[3], VALUE_STR, "c|d");
    ck_assert_int_eq(parse(f, "a|b|1|c", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "a||1ms|c", v), FORMAT_BAD_FIELDS); /* an empty unquoted field */
    ck_assert_int_eq(parse(f, "a|b|1ms|", v), FORMAT_BAD_FIELDS);
    free_last();
}
END_TEST

/* nginx's config spelling pasted as it is: log_format, the name, escape=, quoted pieces. */
START_TEST(test_nginx_pasted)
{
    const char *conf = "log_format  main  escape=json '$remote_addr - \"$request\" '\n"
                       "                    '$status \\'$http_user_agent\\'';";
    format_t *f = mk("nginx", conf);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(format_nfields(f), 7);
    ck_assert_int_eq(parse(f, "1.2.3.4 - \"GET / HTTP/1.1\" 200 'curl/8'", v), FORMAT_OK);
    ck_int(&v[fx(f, "status")], VALUE_INT, 200, "200");
    ck_text(&v[fx(f, "http_user_agent")], VALUE_STR, "curl/8");
    /* the same as one bare string */
    format_t *g = mk("nginx", "$remote_addr - \"$request\" $status '$http_user_agent'");
    ck_assert_int_eq(format_nfields(g), 7);
    ck_assert_int_eq(parse(g, "1.2.3.4 - \"GET / HTTP/1.1\" 200 'curl/8'", v), FORMAT_OK);
    /* a JSON line as escape=json writes it: escaped quotes stay in the text */
    f = mk("nginx", "escape=json {\"ip\":\"$remote_addr\",\"st\":$status,"
                    "\"ua\":\"$http_user_agent\",\"rt\":$request_time}");
    ck_assert_int_eq(
        parse(f, "{\"ip\":\"::1\",\"st\":404,\"ua\":\"say \\\"hi\\\" \\\\\",\"rt\":0.5}", v),
        FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "::1");
    ck_int(&v[1], VALUE_INT, 404, "404");
    ck_text(&v[2], VALUE_STR, "say \\\"hi\\\" \\\\");
    ck_assert(v[3].kind == VALUE_FLOAT && v[3].f == 0.5);
    ck_assert_int_eq(parse(f, "{\"ip\":\"::1\",\"st\":404,\"ua\":\"x\",\"rt\":0.5", v),
                     FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "{\"ip\":\"::1\",\"st\":404,\"ua\":\"x\\\",\"rt\":0.5}", v),
                     FORMAT_BAD_FIELDS); /* the quote before rt closes ua */
    ck_assert_int_eq(parse(f, "{\"ip\":\"::1\",\"st\":404,\"ua\":\"x\\\"}", v), FORMAT_BAD_QUOTE);
    /* escape=none lets a raw quote end the field early: such a line is bad */
    f = mk("nginx", "escape=none \"$request\" $status");
    ck_assert_int_eq(parse(f, "\"GET /a\"b HTTP/1.1\" 200", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "\"GET /a\\x22b HTTP/1.1\" 200", v),
                     FORMAT_OK); /* default escaping */
    free_last();
}
END_TEST

/* Odd literals: text before the first field and after the last one, multi-byte and
 * repeated separators, and fields that end by themselves next to each other. */
START_TEST(test_odd_literals)
{
    lf_set_simd((int)_i);
    value_t v[FORMAT_MAX_FIELDS];
    format_t *f = mk("nginx", ">> $status :: $remote_user :: [$time_local]$request_time <<");
    ck_assert_int_eq(parse(f, ">> 200 :: bob :: x :: [17/May/2015:10:05:03 +0000]0.5 <<", v),
                     FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "bob :: x"); /* the first " :: [" ends it */
    ck_int(&v[2], VALUE_TIME, 1431857103, "17/May/2015:10:05:03 +0000");
    ck_assert(v[3].kind == VALUE_FLOAT && v[3].f == 0.5);
    ck_assert_int_eq(parse(f, "> 200 :: bob :: [17/May/2015:10:05:03 +0000]0.5 <<", v),
                     FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, ">> 200 :: bob :: [17/May/2015:10:05:03 +0000]0.5 <", v),
                     FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, ">> 200 :: bob :: [17/May/2015:10:05:03 +0000]0.5 <<<", v),
                     FORMAT_BAD_FIELDS);
    /* quoted fields side by side, and a bracketed one */
    f = mk("nginx", "\"$remote_addr\"\"$remote_user\"[$msec]$status");
    ck_assert_int_eq(parse(f, "\"a b\"\"c\\\"d\"[1431857103.5]200", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "a b");
    ck_text(&v[1], VALUE_STR, "c\\\"d");
    ck_int(&v[2], VALUE_TIME, 1431857103, "1431857103.5");
    ck_int(&v[3], VALUE_INT, 200, "200");
    ck_assert_int_eq(parse(f, "\"a b\" \"c\"[1]200", v), FORMAT_BAD_FIELDS);
    /* tabs, commas, and a separator that is also inside the last field */
    f = mk("nginx", "$remote_addr\t$status,$http_user_agent");
    ck_assert_int_eq(parse(f, "::1\t301,a,b\tc", v), FORMAT_OK);
    ck_text(&v[2], VALUE_STR, "a,b\tc");
    ck_assert_int_eq(parse(f, "::1 301,a", v), FORMAT_BAD_FIELDS);
    /* apache: %t ends by itself, so it may touch the next directive */
    f = mk("apache", "%t%>s %%%b");
    ck_assert_int_eq(parse(f, "[17/May/2015:10:05:03 +0000]200 %5", v), FORMAT_OK);
    ck_int(&v[0], VALUE_TIME, 1431857103, "17/May/2015:10:05:03 +0000");
    ck_int(&v[2], VALUE_INT, 5, "5");
    ck_assert_int_eq(parse(f, "[17/May/2015:10:05:03 +000]200 %5", v), FORMAT_BAD_TIME);
    free_last();
}
END_TEST

/* Request splitting, as combined does it. */
START_TEST(test_requests)
{
    format_t *f = mk("nginx", "\"$request\" $status");
    value_t v[FORMAT_MAX_FIELDS];
    int m = fx(f, "method"), p = fx(f, "path"), pr = fx(f, "protocol");
    ck_assert_int_eq(parse(f, "\"GET /a b HTTP/1.1\" 200", v), FORMAT_OK);
    ck_text(&v[m], VALUE_STR, "GET");
    ck_text(&v[p], VALUE_STR, "/a b");
    ck_text(&v[pr], VALUE_STR, "HTTP/1.1");
    ck_assert_int_eq(parse(f, "\"\\x16\\x03\" 400", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "\\x16\\x03");
    ck_text(&v[m], VALUE_NULL, NULL);
    ck_assert_int_eq(parse(f, "\"GET /\" 200", v), FORMAT_OK);
    ck_text(&v[p], VALUE_STR, "/");
    ck_text(&v[pr], VALUE_NULL, NULL);
    ck_assert_int_eq(parse(f, "\"\" 400", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "");
    ck_text(&v[m], VALUE_NULL, NULL);
    /* only the method needed: split all the same; the request itself left alone */
    const char *l = "\"PUT /x HTTP/1.0\" 201";
    char *copy;
    ck_assert_int_eq(parse_n(f, l, strlen(l), (uint64_t)1 << m, 0, v, &copy), FORMAT_OK);
    ck_text(&v[m], VALUE_STR, "PUT");
    ck_text(&v[p], VALUE_STR, "/x");
    free(copy);
    free_last();
}
END_TEST

/* Lines long enough to cross the classifier's blocks (64 bytes) and windows (512 bytes),
 * with escapes and stop bytes on each side of every boundary, short lines, NUL bytes and
 * bytes that are not UTF-8: the same fields under every instruction set. */
START_TEST(test_long_lines)
{
    lf_set_simd((int)_i);
    format_t *f = mk("nginx", "$remote_addr \"$http_user_agent\" $status \"$http_referer\"");
    value_t v[FORMAT_MAX_FIELDS];
    char *line = malloc(4096), *ua = malloc(2048);
    for (int n = 0; n < 1400; n += n < 140 ? 1 : 7) {
        for (int i = 0; i < n; i++) /* spaces, escaped quotes and backslashes, NULs, 0xff */
            ua[i] = i % 11 == 3 ? ' ' : i % 29 == 5 ? '\0' : i % 31 == 7 ? '\xff' : 'a' + i % 26;
        for (int i = 13; i + 1 < n; i += 37) {
            ua[i] = '\\';
            ua[i + 1] = i % 2 ? '"' : '\\';
        }
        if (n && ua[n - 1] == '\\')
            ua[n - 1] = 'z';
        for (int ip = 0; ip < 3; ip++) {
            int len =
                snprintf(line, 64, "%.*s \"", 1 + ip * 30,
                         "1.2.3.4.5.6.7.8.9.1.2.3.4.5.6.7.8.9.1.2.3.4.5.6.7.8.9.1.2.3.4.5.6.7.8.9");
            memcpy(line + len, ua, (size_t)n);
            len += n;
            len += snprintf(line + len, 64, "\" 2%02d \"r\"", n % 100);
            char *copy;
            ck_assert_msg(parse_n(f, line, (size_t)len, ALL, 0, v, &copy) == FORMAT_OK, "n %d", n);
            ck_assert_int_eq(v[1].len, n);
            ck_assert(memcmp(v[1].s, ua, (size_t)n) == 0);
            ck_assert_int_eq(v[2].i, 200 + n % 100);
            ck_text(&v[3], VALUE_STR, "r");
            free(copy);
            /* cut anywhere: never good, never a read outside the line */
            for (int cut = len - 1; cut >= 0; cut -= 1 + cut / 8) {
                ck_assert(parse_n(f, line, (size_t)cut, ALL, 0, v, &copy) != FORMAT_OK);
                free(copy);
            }
        }
    }
    free(line);
    free(ua);
}
END_TEST

/* Every line of the sample parses alike under every instruction set. */
START_TEST(test_simd_agree)
{
    static const char *const lines[] = {
        "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/logstash-monitorama-"
        "2013/images/kibana-search.png HTTP/1.1\" 200 203023 \"http://semicomplete.com/"
        "presentations/logstash-monitorama-2013/\" \"Mozilla/5.0 (Macintosh; Intel Mac OS X "
        "10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36\"",
        "x - - [17/May/2015:10:05:03 +0000] \"\" 1 1",
        "x - - [17/May/2015:10:05:03 +0000] \"a\\\\\" 1 1 \"\\\"\" \"\"",
        "",
        "x",
        "- - - [] \"\" 1 1",
    };
    format_t *f[3];
    value_t v[3][FORMAT_MAX_FIELDS];
    for (int k = 0; k < 3; k++) {
        lf_set_simd(k);
        f[k] = mk("combined", NULL);
    }
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        format_bad_t r[3];
        for (int k = 0; k < 3; k++)
            r[k] = parse(f[k], lines[i], v[k]);
        ck_assert_int_eq(r[0], r[1]);
        ck_assert_int_eq(r[0], r[2]);
        for (int j = 0; r[0] == FORMAT_OK && j < 12; j++)
            ck_assert(v[0][j].kind == v[2][j].kind && v[0][j].len == v[2][j].len);
    }
    free_last();
}
END_TEST

static Suite *logformat_suite(void)
{
    Suite *s = suite_create("format_logformat");
    TCase *tc = new_case(s, "nginx");
    tcase_add_loop_test(tc, test_nginx_main, 0, 3);
    tcase_add_loop_test(tc, test_nginx_times_and_numbers, 0, 3);
    tcase_add_test(tc, test_nginx_unknown_and_num);
    tcase_add_test(tc, test_nginx_pasted);
    tc = new_case(s, "splitter");
    tcase_add_loop_test(tc, test_odd_literals, 0, 3);
    tcase_add_test(tc, test_requests);
    tcase_add_loop_test(tc, test_long_lines, 0, 3);
    tcase_add_test(tc, test_simd_agree);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(logformat_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
