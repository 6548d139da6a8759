/* check_format_regex.c - unit tests for the regex line format (rules/format_regex.c): named
 * groups as fields in group order, types from `fields:`, lines that do not match, optional
 * groups, conversions only of needed fields, pathological patterns that give up at the match
 * limit (a reason of their own), bytes that are not UTF-8 and NULs, and the refusals at load
 * time (no named group, a pattern PCRE2 refuses with its offset, a typed name that is no
 * group, names used twice) through format_create and through a rules file (line and column).
 *
 * Lines are parsed from a heap copy of exactly their length (tests/fixture_format.h), so under
 * ASan or valgrind any read past the end is caught. Oracles: field values worked out by hand
 * for each constructed line; the messages the refusals must name; positions counted in the
 * YAML text written here. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "format.h"
#include "rules.h"

#define FIXTURE_SUITE "check_format_regex"
#include "fixture_format.h"

/* A regex format of pattern with `fields:` types (n of them); the test fails when refused. */
static format_t *mk_regex(const char *pattern, const char *const *types, int n)
{
    format_spec_t spec = {.kind = "regex", .arg = pattern, .fields = types, .nfields = n};
    format_t *f = NULL;
    abbey_err_t err;
    ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_SUCCESS, "%s: %s", pattern, err.msg);
    return f;
}

/* The pattern (with types) is refused with a message holding mention; *err_at receives
 * spec.err_at. */
static void expect_refused(const char *pattern, const char *const *types, int n,
                           const char *mention, long *err_at)
{
    format_spec_t spec = {.kind = "regex", .arg = pattern, .fields = types, .nfields = n};
    format_t *f = NULL;
    abbey_err_t err = {{0}};
    ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_EINVAL, "%s was accepted", pattern);
    ck_assert_msg(strstr(err.msg, mention) != NULL, "%s: message \"%s\" lacks \"%s\"", pattern,
                  err.msg, mention);
    if (err_at)
        *err_at = spec.err_at;
}

#define LOG_RE                                                                                     \
    "^(?<ip>\\S+) \\[(?<when>[^]]+)\\] \"(?<method>[A-Z]+) (?<path>[^ \"]*)[^\"]*\" "              \
    "(?<status>\\d{3}) (?<bytes>\\d+|-)(?: (?<ms>\\S+))?$"

START_TEST(test_groups_are_fields)
{
    static const char *const types[] = {"status:int", "when:time", "ms:float"};
    format_t *f = mk_regex(LOG_RE, types, 3);
    static const char *const names[] = {"ip", "when", "method", "path", "status", "bytes", "ms"};
    static const format_type_t want[] = {FORMAT_AUTO, FORMAT_TIME, FORMAT_AUTO, FORMAT_AUTO,
                                         FORMAT_INT,  FORMAT_AUTO, FORMAT_FLOAT};
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_str_eq(format_name(f), "regex");
    ck_assert_int_eq(format_is_open(f), 0);
    ck_assert_int_eq(format_has_header(f), 0);
    ck_assert_int_eq(format_nfields(f), 7);
    for (int i = 0; i < 7; i++) {
        ck_assert_str_eq(format_field_name(f, i), names[i]);
        ck_assert_int_eq(format_field_type(f, i), want[i]);
    }
    ck_assert_int_eq(format_field_index(f, "nosuch", 6), -1);

    ck_assert_int_eq(
        parse(f, "10.0.0.1 [17/May/2015:10:05:03 +0000] \"GET /a?b=1 HTTP/1.1\" 200 512 0.25", v),
        FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "10.0.0.1");
    ck_int(&v[1], VALUE_TIME, 1431857103, "17/May/2015:10:05:03 +0000");
    ck_text(&v[2], VALUE_STR, "GET");
    ck_text(&v[3], VALUE_STR, "/a?b=1");
    ck_int(&v[4], VALUE_INT, 200, "200");
    ck_text(&v[5], VALUE_STR, "512"); /* untyped: text unless a rule reads it as a number */
    ck_assert(v[6].kind == VALUE_FLOAT && v[6].f == 0.25);
    /* the optional group absent: NULL (no text), the others as before */
    ck_assert_int_eq(parse(f, "::1 [2015-05-17T10:05:03Z] \"POST / HTTP/2\" 404 -", v), FORMAT_OK);
    ck_int(&v[1], VALUE_TIME, 1431857103, "2015-05-17T10:05:03Z");
    ck_int(&v[4], VALUE_INT, 404, "404");
    ck_text(&v[5], VALUE_STR, "-");
    ck_text(&v[6], VALUE_NULL, NULL);
    /* CRLF: the '\r' is not part of the line, so $ still matches */
    ck_assert_int_eq(parse(f, "h [1431857103] \"GET / x\" 500 0\r", v), FORMAT_OK);
    ck_int(&v[4], VALUE_INT, 500, "500");
    ck_int(&v[1], VALUE_TIME, 1431857103, "1431857103");
    free_last();
}
END_TEST

START_TEST(test_no_match_and_conversions)
{
    static const char *const types[] = {"status:int", "when:time"};
    format_t *f = mk_regex(LOG_RE, types, 2);
    format_state_t *st = format_state_create(f, 4096, pool);
    value_t v[FORMAT_MAX_FIELDS];
    char why[128];
    const char *line;

    ck_assert_int_eq(parse(f, "", v), FORMAT_BAD_NOMATCH);
    ck_assert_int_eq(parse(f, "garbage", v), FORMAT_BAD_NOMATCH);
    /* $ anchors: trailing text makes the line not match */
    ck_assert_int_eq(parse(f, "h [1] \"GET / x\" 200 5 1 2", v), FORMAT_BAD_NOMATCH);
    line = "h [x] \"GET / x\" 2000 5";
    ck_assert_int_eq(format_parse(st, line, strlen(line), ALL, 0, v), FORMAT_BAD_NOMATCH);
    ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_NOMATCH, why, sizeof why),
                     "regex did not match");
    ck_assert_str_eq(format_bad_name(FORMAT_BAD_NOMATCH), "no_match");
    /* a needed time that does not parse: bad, blamed on the field */
    line = "h [yesterday] \"GET / x\" 200 5";
    ck_assert_int_eq(format_parse(st, line, strlen(line), ALL, 0, v), FORMAT_BAD_TIME);
    ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_TIME, why, sizeof why),
                     "when is not a time");
    /* not needed: not converted, the line is good */
    ck_assert_int_eq(format_parse(st, line, strlen(line), 1u << 4, 0, v), FORMAT_OK);
    ck_int(&v[4], VALUE_INT, 200, "200");
    /* untyped bytes read as a number only when num says so */
    line = "h [1] \"GET / x\" 200 -";
    ck_assert_int_eq(format_parse(st, line, strlen(line), ALL, 1u << 5, v), FORMAT_OK);
    ck_text(&v[5], VALUE_NULL, "-");
    line = "h [1] \"GET / x\" 200 77";
    ck_assert_int_eq(format_parse(st, line, strlen(line), ALL, 1u << 5, v), FORMAT_OK);
    ck_int(&v[5], VALUE_INT, 77, "77");
    /* a typed int out of range */
    static const char *const big[] = {"n:int"};
    format_t *g = mk_regex("^(?<n>\\d+)$", big, 1);
    ck_assert_int_eq(parse(g, "9223372036854775807", v), FORMAT_OK);
    ck_assert_int_eq(parse(g, "9223372036854775808", v), FORMAT_BAD_NUMBER);
    free_last();
}
END_TEST

/* Groups: unnamed ones are no fields; the order is by group number, not by name; an
 * optional group after the last that matched is NULL too; an empty match is text "". */
START_TEST(test_group_order_and_optional)
{
    format_t *f = mk_regex("(?<zeta>z+)?(x)(?<alpha>a*)(?:-(?<mid>m))?(?<end>e)?", NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(format_nfields(f), 4);
    ck_assert_str_eq(format_field_name(f, 0), "zeta");
    ck_assert_str_eq(format_field_name(f, 1), "alpha");
    ck_assert_str_eq(format_field_name(f, 2), "mid");
    ck_assert_str_eq(format_field_name(f, 3), "end");
    ck_assert_int_eq(parse(f, "zzxaa-me", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "zz");
    ck_text(&v[1], VALUE_STR, "aa");
    ck_text(&v[2], VALUE_STR, "m");
    ck_text(&v[3], VALUE_STR, "e");
    ck_assert_int_eq(parse(f, "x", v), FORMAT_OK);
    ck_text(&v[0], VALUE_NULL, NULL);
    ck_text(&v[1], VALUE_STR, "");
    ck_text(&v[2], VALUE_NULL, NULL);
    ck_text(&v[3], VALUE_NULL, NULL);
    /* not anchored: the pattern matches where it matches, as written */
    ck_assert_int_eq(parse(f, "..x..", v), FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "");
    ck_assert_int_eq(parse(f, "no", v), FORMAT_BAD_NOMATCH);
    /* a numeric need on a NULL group is NULL, not bad */
    static const char *const t[] = {"mid:int"};
    format_t *g = mk_regex("^(?<a>\\w)(?<mid>\\d+)?$", t, 1);
    ck_assert_int_eq(parse(g, "q", v), FORMAT_OK);
    ck_text(&v[1], VALUE_NULL, NULL);
    /* the same name in both branches of a branch reset is one group, one field */
    format_t *h = mk_regex("^(?|(?<x>a+)|(?<x>b+))(?<y>.*)$", NULL, 0);
    ck_assert_int_eq(format_nfields(h), 2);
    ck_assert_int_eq(parse(h, "bbc", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "bb");
    ck_text(&v[1], VALUE_STR, "c");
    free_last();
}
END_TEST

/* Bytes as they are: invalid UTF-8, NULs and a '\r' inside the line are matched as bytes. */
START_TEST(test_bytes)
{
    format_t *f = mk_regex("^(?<k>[^=]*)=(?<v>.*)$", NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    char *copy;
    static const char line[] = "\xff\xfe\0k=\xc3\x28\0\rend";
    ck_assert_int_eq(parse_n(f, line, sizeof line - 1, ALL, 0, v, &copy), FORMAT_OK);
    ck_assert_uint_eq(v[0].len, 4);
    ck_assert_uint_eq(v[1].len, 7);
    ck_assert(memcmp(v[1].s, "\xc3\x28\0\rend", 7) == 0);
    free(copy);
    /* (*UTF) is refused: lines are bytes */
    expect_refused("(*UTF)(?<a>.)", NULL, 0, "UTF", NULL);
    /* a line of 1 MiB matches in full */
    size_t n = 1u << 20;
    char *big = malloc(n + 2);
    memset(big, 'q', n);
    memcpy(big + n, "=1", 2);
    ck_assert_int_eq(parse_n(f, big, n + 2, ALL, 0, v, &copy), FORMAT_OK);
    ck_assert_uint_eq(v[0].len, n);
    free(copy);
    free(big);
}
END_TEST

/* Patterns that backtrack without end give up at the limit: a bad line of its own reason,
 * soon. The nested quantifier is matched from one start position (a budget for the line). */
START_TEST(test_match_limit)
{
    format_t *f = mk_regex("(?<x>(a+)+)$", NULL, 0);
    format_t *g = mk_regex("^(?<x>(a|aa)+)b$", NULL, 0);
    format_t *h = mk_regex("^(?<x>a*a*a*a*a*a*a*a*a*a*)$", NULL, 0);
    format_state_t *st = format_state_create(f, 1 << 20, pool);
    value_t v[FORMAT_MAX_FIELDS];
    char why[128];
    char *copy;
    size_t n = 20000;
    char *line = malloc(n);
    struct timespec t0, t1;
    memset(line, 'a', n); /* a...abc: each pattern fails only at the end, after backtracking */
    memcpy(line + n - 2, "bc", 2);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(parse_n(f, line, n, ALL, 0, v, &copy), FORMAT_BAD_MATCH_LIMIT);
    free(copy);
    ck_assert_int_eq(parse_n(g, line, n, ALL, 0, v, &copy), FORMAT_BAD_MATCH_LIMIT);
    free(copy);
    ck_assert_int_eq(parse_n(h, line, n, ALL, 0, v, &copy), FORMAT_BAD_MATCH_LIMIT);
    free(copy);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* generous: each gives up within milliseconds; without limits these take for ever */
    ck_assert_msg(t1.tv_sec - t0.tv_sec < 20, "giving up took %lld s",
                  (long long)(t1.tv_sec - t0.tv_sec));
    ck_assert_int_eq(format_parse(st, line, n, ALL, 0, v), FORMAT_BAD_MATCH_LIMIT);
    ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_MATCH_LIMIT, why, sizeof why),
                     "regex match limit");
    ck_assert_str_eq(format_bad_name(FORMAT_BAD_MATCH_LIMIT), "match_limit");
    /* the same patterns on short lines still match, or do not, as they should */
    ck_assert_int_eq(format_parse(st, "aaa", 3, ALL, 0, v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "aaa");
    ck_assert_int_eq(format_parse(st, "aab", 3, ALL, 0, v), FORMAT_BAD_NOMATCH);
    ck_assert_int_eq(parse(g, "aaab", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "aaa");
    /* an anchored pattern has a budget for the whole line: a long line that needs a long
     * backtrack (.* to the end, back to the first space) still matches */
    format_t *k = mk_regex("^(?<a>.*) (?<b>\\d+) (?<c>\\S*)$", NULL, 0);
    memset(line, 'y', n);
    memcpy(line + 10, " 1 ", 3);
    ck_assert_int_eq(parse_n(k, line, n, ALL, 0, v, &copy), FORMAT_OK);
    ck_assert_uint_eq(v[0].len, 10);
    ck_assert_uint_eq(v[2].len, n - 13);
    free(copy);
    free_last();
    free(line);
}
END_TEST

START_TEST(test_refused)
{
    long at = -2;
    static const char *const nosuch[] = {"ip", "status:int"};
    static const char *const twice[] = {"a:int", "a:str"};
    static const char *const badtype[] = {"a:double"};
    expect_refused("^(\\S+) (\\d+)$", NULL, 0, "no named group", &at);
    expect_refused("", NULL, 0, "empty", NULL);
    expect_refused("^(?<a>x", NULL, 0, "missing closing parenthesis", &at);
    ck_assert_int_eq(at, 7);
    expect_refused("^(?<a>x)[", NULL, 0, "offset 9", &at);
    ck_assert_int_eq(at, 9);
    expect_refused("^(?<ip>\\S+) (?<code>\\d+)$", nosuch, 2, "\"status\"", &at);
    ck_assert_int_eq(at, -1);
    expect_refused("^(?<ip>\\S+) (?<code>\\d+)$", nosuch, 2, "ip, code", NULL);
    expect_refused("^(?<a>x)$", twice, 2, "typed twice", NULL);
    expect_refused("^(?<a>x)$", badtype, 1, "unknown type", NULL);
    expect_refused("(?J)^(?<a>x)(?<a>y)$", NULL, 0, "more than one group", NULL);

    char pat[65 * 12 + 1], *p = pat;
    for (int i = 0; i < 65; i++)
        p += sprintf(p, "(?<g%d>x)", i);
    expect_refused(pat, NULL, 0, "at most 64", NULL);
    p = pat;
    for (int i = 0; i < 64; i++)
        p += sprintf(p, "(?<g%d>x)", i);
    ck_assert_int_eq(format_nfields(mk_regex(pat, NULL, 0)), 64);

    format_spec_t spec = {.kind = "regex", .arg = "(?<a>x)", .header = 1};
    format_t *f;
    abbey_err_t err;
    ck_assert_int_eq(format_create(&spec, pool, &f, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "header"));
}
END_TEST

/* Through a rules file: the position of a bad pattern is the file's line and column. */
static const char *load_error(const char *format_line)
{
    static abbey_err_t err;
    const char *yaml = apr_psprintf(pool,
                                    "jobs:\n"
                                    "  - name: t\n"
                                    "    sources: [/dev/null]\n"
                                    "%s\n"
                                    "    groups:\n"
                                    "      - name: g\n"
                                    "        entries:\n"
                                    "          - {name: e, key: [a], values: {n: count}}\n",
                                    format_line);
    rules_config_t *cfg;
    if (rules_load_buffer(yaml, strlen(yaml), "r.yaml", pool, &cfg, &err) == APR_SUCCESS)
        return NULL;
    return err.msg;
}

START_TEST(test_rules_file)
{
    const char *msg;
    /* the pattern starts at column 22 of line 4; PCRE2 blames its end, offset 10 */
    msg = load_error("    format: {regex: '^(?<a>(x)$'}");
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strncmp(msg, "r.yaml:4:32:", 12) == 0, "%s", msg);
    ck_assert_msg(strstr(msg, "offset 10"), "%s", msg);
    msg = load_error("    format: {regex: '^(?<a>x)$', fields: [a:int]}");
    ck_assert_msg(msg == NULL, "%s", msg);
    msg = load_error("    format: {regex: '^(?<b>x)$', fields: [a:int]}");
    ck_assert_msg(msg && strstr(msg, "r.yaml:4:") && strstr(msg, "no group"), "%s", msg);
    msg = load_error("    format: {regex: '^(?<a>x)$', delimiter: ','}");
    ck_assert_msg(msg && strstr(msg, "delimiter"), "%s", msg);
    /* a rule naming a field that is no group lists the groups */
    msg = load_error("    format: {regex: '^(?<b>x)$'}");
    ck_assert_msg(msg && strstr(msg, "unknown field 'a'") && strstr(msg, "b"), "%s", msg);
}
END_TEST

/* Two states of one format (two threads) keep their own match data. */
START_TEST(test_states_apart)
{
    format_t *f = mk_regex("^(?<w>\\w+)$", NULL, 0);
    format_state_t *a = format_state_create(f, 64, pool), *b = format_state_create(f, 64, pool);
    value_t va[FORMAT_MAX_FIELDS], vb[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(format_parse(a, "one", 3, ALL, 0, va), FORMAT_OK);
    ck_assert_int_eq(format_parse(b, "three", 5, ALL, 0, vb), FORMAT_OK);
    ck_assert_uint_eq(va[0].len, 3);
    ck_assert_uint_eq(vb[0].len, 5);
    /* longer than the state's max_line: too long, never matched */
    ck_assert_int_eq(format_parse(a,
                                  "x123456789x123456789x123456789x123456789x123456789x123456789x",
                                  61, ALL, 0, va),
                     FORMAT_OK);
    char l[66];
    memset(l, 'x', sizeof l);
    ck_assert_int_eq(format_parse(a, l, sizeof l, ALL, 0, va), FORMAT_BAD_TOO_LONG);
}
END_TEST

static Suite *format_regex_suite(void)
{
    Suite *s = suite_create("format_regex");
    TCase *tc = new_case(s, "regex");
    tcase_add_test(tc, test_groups_are_fields);
    tcase_add_test(tc, test_no_match_and_conversions);
    tcase_add_test(tc, test_group_order_and_optional);
    tcase_add_test(tc, test_bytes);
    tcase_add_test(tc, test_match_limit);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_rules_file);
    tcase_add_test(tc, test_states_apart);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(format_regex_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
