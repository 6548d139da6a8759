/* check_format_logfmt.c - unit tests for the logfmt line format (rules/format_logfmt.c):
 * pairs, bare and quoted values, JSON escapes, flags, duplicate keys, typed fields, the
 * grammar's refusals (with need and without), key names rules may use, refusals at
 * create, a 20 MB line, and a job in a rules file through the engine.
 *
 * Oracles: values worked out by hand for each constructed line, UTF-8 bytes of code
 * points from the Unicode standard (U+00E9 = C3 A9, U+1F600 = F0 9F 98 80, U+FFFD =
 * EF BF BD), the reasons go-logfmt gives for the same inputs, and counts of the engine
 * against the lines' own figures. Lines are parsed from heap copies of exactly their
 * length (tests/fixture_format_state.h), so any read past the end shows under ASan. */
#include <apr_general.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "engine.h"
#include "format.h"
#include "rules.h"

#define FIXTURE_SUITE "check_format_logfmt"
#include "fixture_format.h"
#include "fixture_format_state.h"

/* A logfmt format with types for some keys, and the keys named in order. */
static format_t *mk(const char *const *types, int ntypes, const char *const *keys, int nkeys)
{
    format_spec_t spec = {.kind = "logfmt", .fields = types, .nfields = ntypes};
    format_t *f = NULL;
    abbey_err_t err;
    ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert(format_is_open(f));
    for (int i = 0; i < nkeys; i++)
        ck_assert_int_ge(format_field_index(f, keys[i], strlen(keys[i])), 0);
    return f;
}

/* The create error for spec, or "" when it is accepted. */
static const char *refusal(format_spec_t *spec, abbey_err_t *err)
{
    format_t *f;
    err->msg[0] = '\0';
    return format_create(spec, pool, &f, err) == APR_SUCCESS ? "" : err->msg;
}

enum { K_LEVEL, K_MSG, K_DUR, K_STATUS, K_HTTP_STATUS, K_REQ_ID, K_ABSENT };
static const char *const keys[] = {"level",       "msg",        "dur",   "status",
                                   "http.status", "request-id", "absent"};

START_TEST(test_pairs)
{
    format_t *f = mk(NULL, 0, keys, 7);
    format_state_t *st = format_state_create(f, 4096, pool);
    value_t v[FORMAT_MAX_FIELDS];
    const char *l = "level=info msg=\"hello \\\"world\\\"\" dur=1.5s status=200 "
                    "http.status=404 request-id=abc-123";
    ck_assert_str_eq(format_name(f), "logfmt");
    ck_assert_int_eq(format_nfields(f), 7);
    ck_assert_int_eq(format_field_type(f, K_STATUS), FORMAT_AUTO);
    ck_assert_int_eq(parse_st(st, l, v, 0), FORMAT_OK);
    ck_text(&v[K_LEVEL], VALUE_STR, "info");
    ck_text(&v[K_MSG], VALUE_STR, "hello \"world\"");
    ck_text(&v[K_DUR], VALUE_STR, "1.5s");
    ck_text(&v[K_STATUS], VALUE_STR, "200");
    ck_text(&v[K_HTTP_STATUS], VALUE_STR, "404");
    ck_text(&v[K_REQ_ID], VALUE_STR, "abc-123");
    ck_text(&v[K_ABSENT], VALUE_NULL, NULL);
    /* untyped fields read as numbers: converted, and bad when not numeric */
    uint64_t num = 1u << K_STATUS | 1u << K_HTTP_STATUS;
    ck_assert_int_eq(parse_stn(st, l, strlen(l), ALL, num, 0, v), FORMAT_OK);
    ck_int(&v[K_STATUS], VALUE_INT, 200, "200");
    ck_int(&v[K_HTTP_STATUS], VALUE_INT, 404, "404");
    ck_assert_int_eq(parse_stn(st, l, strlen(l), ALL, 1u << K_DUR, 0, v), FORMAT_BAD_NUMBER);
    char why[128];
    ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_NUMBER, why, sizeof why),
                     "dur is not a number");
    /* ... but only when needed */
    ck_assert_int_eq(parse_stn(st, l, strlen(l), 1u << K_LEVEL, 1u << K_DUR, 0, v), FORMAT_OK);
    /* a quoted number is a number; blanks are any bytes up to ' ', a CR ends the line */
    const char *l2 = "\t status=\"201\"\t\tmsg=\"a\tb\"  level= \r";
    ck_assert_int_eq(parse_stn(st, l2, strlen(l2), ALL, num, 0, v), FORMAT_OK);
    ck_int(&v[K_STATUS], VALUE_INT, 201, "201");
    ck_text(&v[K_MSG], VALUE_STR, "a\tb");
    ck_text(&v[K_LEVEL], VALUE_STR, "");
    ck_text(&v[K_HTTP_STATUS], VALUE_NULL, NULL);
    /* NUL bytes are blanks too */
    static const char l3[] = "level=warn\0status=3\0";
    ck_assert_int_eq(parse_stn(st, l3, sizeof l3 - 1, ALL, 0, 0, v), FORMAT_OK);
    ck_text(&v[K_LEVEL], VALUE_STR, "warn");
    ck_text(&v[K_STATUS], VALUE_STR, "3");
    /* the first of duplicate keys wins */
    ck_assert_int_eq(parse_st(st, "status=1 level=a status=2 level=\"b\" status", v, 0), FORMAT_OK);
    ck_text(&v[K_STATUS], VALUE_STR, "1");
    ck_text(&v[K_LEVEL], VALUE_STR, "a");
    /* empty and "-" values are missing when read as numbers */
    ck_assert_int_eq(parse_stn(st, "status= dur=-", 13, ALL, num | 1u << K_DUR, 0, v), FORMAT_OK);
    ck_text(&v[K_STATUS], VALUE_NULL, "");
    ck_text(&v[K_DUR], VALUE_NULL, "-");
    st_free();
}
END_TEST

START_TEST(test_escapes)
{
    static const char *const k[] = {"s"};
    format_t *f = mk(NULL, 0, k, 1);
    format_state_t *st = format_state_create(f, 4096, pool);
    value_t v[FORMAT_MAX_FIELDS];
    static const struct {
        const char *line, *text;
    } ok[] = {
        {"s=\"\"", ""},
        {"s=\"a b=c\\\"d\"", "a b=c\"d"},
        {"s=\"\\\\ \\/ \\b\\f\\n\\r\\t\"", "\\ / \b\f\n\r\t"},
        {"s=\"caf\\u00e9\"", "caf\xc3\xa9"},
        {"s=\"\\u00E9\\u20AC\\u0041\"", "\xc3\xa9\xe2\x82\xac"
                                        "A"},
        {"s=\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!"},
        {"s=\"\\ud800\"", "\xef\xbf\xbd"},
        {"s=\"\\ud800\\u0041\"", "\xef\xbf\xbd"
                                 "A"},
        {"s=\"\\ude00\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"s=\"\\u0000\"", ""}, /* length 1: checked below */
        {"s=\"raw \xff\xfe bytes\"", "raw \xff\xfe bytes"},
        {"s=\"=\\\"\" x=1", "=\""},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(parse_st(st, ok[i].line, v, 0) == FORMAT_OK, "%s", ok[i].line);
        if (i == 9) {
            ck_assert(v[0].kind == VALUE_STR && v[0].len == 1 && v[0].s[0] == '\0');
            continue;
        }
        ck_assert_msg(v[0].kind == VALUE_STR && v[0].len == strlen(ok[i].text) &&
                          memcmp(v[0].s, ok[i].text, v[0].len) == 0,
                      "%s: got \"%.*s\"", ok[i].line, (int)v[0].len, v[0].s);
    }
    /* text without an escape points into the line itself */
    ck_assert_int_eq(parse_st(st, "s=\"plain text\"", v, 0), FORMAT_OK);
    ck_assert(v[0].s == st_copy + 3);
    st_free();
}
END_TEST

START_TEST(test_refusals)
{
    static const char *const k[] = {"a", "b"};
    format_t *f = mk(NULL, 0, k, 2);
    format_state_t *st = format_state_create(f, 4096, pool);
    value_t v[FORMAT_MAX_FIELDS];
    static const struct {
        const char *line;
        format_bad_t why;
    } bad[] = {
        {"a=\"abc", FORMAT_BAD_QUOTE},
        {"a=\"abc\\\"", FORMAT_BAD_QUOTE},
        {"a=\"abc\\", FORMAT_BAD_QUOTE},
        {"a=\"", FORMAT_BAD_QUOTE},
        {"a=\"\\u12", FORMAT_BAD_QUOTE},
        {"a=\"\\x\"", FORMAT_BAD_ESCAPE},
        {"a=\"\\'\"", FORMAT_BAD_ESCAPE},
        {"a=\"\\u12\"", FORMAT_BAD_ESCAPE},
        {"a=\"\\u12g4\"", FORMAT_BAD_ESCAPE},
        {"a=\"\\U0041\"", FORMAT_BAD_ESCAPE},
        {"=value", FORMAT_BAD_SYNTAX},
        {"a=1 =2", FORMAT_BAD_SYNTAX},
        {"a=b=c", FORMAT_BAD_SYNTAX},
        {"a=b\"c", FORMAT_BAD_SYNTAX},
        {"a=\"b\"c", FORMAT_BAD_SYNTAX},
        {"a=\"b\"=", FORMAT_BAD_SYNTAX},
        {"\"a\"=1", FORMAT_BAD_SYNTAX},
        {"a\"=1", FORMAT_BAD_SYNTAX},
        {"a==1", FORMAT_BAD_SYNTAX},
        {"", FORMAT_BAD_SYNTAX},
        {"   \t ", FORMAT_BAD_SYNTAX},
        {"\r", FORMAT_BAD_SYNTAX},
        /* the first fault decides, wherever it is */
        {"x=\"\\q\" y=\"open", FORMAT_BAD_ESCAPE},
        {"x=\"open y=1", FORMAT_BAD_QUOTE},
        {"x=\"open \\q", FORMAT_BAD_ESCAPE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *l = bad[i].line;
        ck_assert_msg(parse_st(st, l, v, 0) == bad[i].why, "%s: %d", l, parse_st(st, l, v, 0));
        /* structure is checked whatever is needed, in pairs no rule reads too */
        ck_assert_int_eq(parse_stn(st, l, strlen(l), 0, 0, 0, v), bad[i].why);
        char *other = malloc(strlen(l) + 8);
        sprintf(other, "b=1 %s", l);
        ck_assert_msg(parse_stn(st, other, strlen(other), 1u << 1, 0, 0, v) == bad[i].why ||
                          bad[i].line[0] == '\0' || strspn(l, " \t\r") == strlen(l),
                      "%s", other);
        free(other);
    }
    /* words without '=' are flags: a line of plain text is well formed */
    ck_assert_int_eq(parse_st(st, "Starting server...", v, 0), FORMAT_OK);
    ck_assert_int_eq(parse_st(st, "a", v, 0), FORMAT_OK);
    st_free();
}
END_TEST

START_TEST(test_flags_and_types)
{
    static const char *const types[] = {"dur:float", "code:int", "at:time", "who:str", "req.id"};
    static const char *const k[] = {"debug", "dur", "who"};
    format_t *f = mk(types, 5, k, 3);
    format_state_t *st = format_state_create(f, 4096, pool);
    value_t v[FORMAT_MAX_FIELDS];
    enum { T_DUR, T_CODE, T_AT, T_WHO, T_REQ, T_DEBUG };
    ck_assert_int_eq(format_nfields(f), 6); /* dur and who were there already */
    ck_assert_int_eq(format_field_index(f, "debug", 5), T_DEBUG);
    ck_assert_int_eq(format_field_type(f, T_DUR), FORMAT_FLOAT);
    ck_assert_int_eq(format_field_type(f, T_CODE), FORMAT_INT);
    ck_assert_int_eq(format_field_type(f, T_AT), FORMAT_TIME);
    ck_assert_int_eq(format_field_type(f, T_WHO), FORMAT_STR);
    ck_assert_int_eq(format_field_type(f, T_REQ), FORMAT_AUTO);
    const char *l = "at=2024-06-14T15:16:01Z dur=0.25 code=-7 who=\"x\" req.id=9 debug";
    ck_assert_int_eq(parse_st(st, l, v, 0), FORMAT_OK);
    ck_int(&v[T_AT], VALUE_TIME, 1718378161, "2024-06-14T15:16:01Z");
    ck_assert(v[T_DUR].kind == VALUE_FLOAT && v[T_DUR].f == 0.25);
    ck_int(&v[T_CODE], VALUE_INT, -7, "-7");
    ck_text(&v[T_WHO], VALUE_STR, "x");
    ck_text(&v[T_REQ], VALUE_STR, "9");
    ck_assert(v[T_DEBUG].kind == VALUE_BOOL && v[T_DEBUG].i == 1);
    /* a flag in a typed field is its empty value: missing, or "" for str */
    ck_assert_int_eq(parse_st(st, "dur code at who", v, 0), FORMAT_OK);
    ck_text(&v[T_DUR], VALUE_NULL, "");
    ck_text(&v[T_CODE], VALUE_NULL, "");
    ck_text(&v[T_AT], VALUE_NULL, "");
    ck_text(&v[T_WHO], VALUE_STR, "");
    ck_text(&v[T_DEBUG], VALUE_NULL, NULL);
    /* an untyped flag read as a number is true, 1 */
    ck_assert_int_eq(parse_stn(st, "debug", 5, ALL, 1u << T_DEBUG, 0, v), FORMAT_OK);
    ck_assert(v[T_DEBUG].kind == VALUE_BOOL && v[T_DEBUG].i == 1);
    /* typed values that do not convert make the line bad, naming the field */
    char why[128];
    ck_assert_int_eq(parse_st(st, "debug code=12x", v, 0), FORMAT_BAD_NUMBER);
    ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_NUMBER, why, sizeof why),
                     "code is not a number");
    ck_assert_int_eq(parse_st(st, "at=yesterday", v, 0), FORMAT_BAD_TIME);
    ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_TIME, why, sizeof why), "at is not a time");
    ck_assert_int_eq(parse_stn(st, "at=yesterday", 12, 1u << T_DUR, 0, 0, v), FORMAT_OK);
    ck_assert_int_eq(parse_st(st, "dur=\"1e3\"", v, 0), FORMAT_OK);
    ck_assert(v[T_DUR].kind == VALUE_FLOAT && v[T_DUR].f == 1000.0);
    st_free();
}
END_TEST

START_TEST(test_names)
{
    format_t *f = mk(NULL, 0, NULL, 0);
    abbey_err_t err;
    /* any text a key can be, dots, dashes and UTF-8 included */
    static const char *const good[] = {"http.status", "request-id", "a/b", "\xd0\xba\xd0\xbb",
                                       "x[0]",        "1st",        "k:v"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_int_eq(format_field_index(f, good[i], strlen(good[i])), (int)i);
    ck_assert_int_eq(format_field_index(f, "http.status", 11), 0); /* found, not added again */
    static const char *const bad[] = {"", "a b", "a=b", "a\"b", "tab\t", "nul\0x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(format_field_index(f, bad[i], i == 5 ? 5 : strlen(bad[i])), -1);
    /* up to FORMAT_MAX_FIELDS keys */
    char name[16];
    for (int i = format_nfields(f); i < FORMAT_MAX_FIELDS; i++) {
        snprintf(name, sizeof name, "k%d", i);
        ck_assert_int_eq(format_field_index(f, name, strlen(name)), i);
    }
    ck_assert_int_eq(format_field_index(f, "one_more", 8), -1);
    /* the 64th field parses */
    format_state_t *st = format_state_create(f, 4096, pool);
    value_t v[FORMAT_MAX_FIELDS];
    snprintf(name, sizeof name, "k%d=last", FORMAT_MAX_FIELDS - 1);
    ck_assert_int_eq(parse_st(st, name, v, 0), FORMAT_OK);
    ck_text(&v[FORMAT_MAX_FIELDS - 1], VALUE_STR, "last");
    /* keys of the same length, and long ones, are told apart */
    char a31[33], a32[33], a40[41], a41[42], line[320];
    memset(a31, 'a', 31), memcpy(a31 + 31, "1", 2);
    memset(a32, 'a', 31), memcpy(a32 + 31, "2", 2);
    memset(a40, 'a', 40), a40[40] = '\0';
    memset(a41, 'a', 41), a41[41] = '\0';
    const char *k2[] = {a31, a32, a40, "ab", "ba"};
    format_t *g = mk(NULL, 0, k2, 5);
    st = format_state_create(g, 4096, pool);
    snprintf(line, sizeof line, "ba=5 %s=2 %s=x %s=3 ab=4", a32, a41, a40);
    ck_assert_int_eq(parse_st(st, line, v, 0), FORMAT_OK);
    ck_text(&v[0], VALUE_NULL, NULL);
    ck_text(&v[1], VALUE_STR, "2");
    ck_text(&v[2], VALUE_STR, "3");
    ck_text(&v[3], VALUE_STR, "4");
    ck_text(&v[4], VALUE_STR, "5");
    /* refusals at create */
    static const char *const dup[] = {"a", "b:int", "a:str"};
    static const char *const badtype[] = {"a:bool"};
    static const char *const badname[] = {"a b"};
    format_spec_t s1 = {.kind = "logfmt", .fields = dup, .nfields = 3};
    ck_assert_str_eq(refusal(&s1, &err), "logfmt format: fields: field 3 \"a\": duplicate name");
    format_spec_t s2 = {.kind = "logfmt", .fields = badtype, .nfields = 1};
    ck_assert_ptr_nonnull(strstr(refusal(&s2, &err), "unknown type \"bool\""));
    format_spec_t s3 = {.kind = "logfmt", .fields = badname, .nfields = 1};
    ck_assert_ptr_nonnull(strstr(refusal(&s3, &err), "field 1 \"a b\""));
    format_spec_t s4 = {.kind = "logfmt", .arg = ";"};
    ck_assert_ptr_nonnull(strstr(refusal(&s4, &err), "delimiter does not apply"));
    format_spec_t s5 = {.kind = "logfmt", .header = 1};
    ck_assert_ptr_nonnull(strstr(refusal(&s5, &err), "header does not apply"));
    st_free();
}
END_TEST

/* A 20 MB line: parsed whole, quickly, and an unterminated quote at its start is found. */
START_TEST(test_huge_line)
{
    static const char *const k[] = {"big", "end"};
    format_t *f = mk(NULL, 0, k, 2);
    size_t n = 20u << 20;
    format_state_t *st = format_state_create(f, n, pool);
    value_t v[FORMAT_MAX_FIELDS];
    char *l = malloc(n + 1);
    memcpy(l, "big=\"", 5);
    for (size_t i = 5; i < n; i++)
        l[i] = (i % 1000 == 0) ? '\\' : (i % 1000 == 1) ? 'n' : 'x';
    ck_assert_int_eq(parse_stn(st, l, n, ALL, 0, 0, v), FORMAT_BAD_QUOTE);
    memcpy(l + n - 7, "\" end=1", 7);
    ck_assert_int_eq(parse_stn(st, l, n, ALL, 0, 0, v), FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "1");
    size_t escapes = 0;
    for (size_t i = 5; i < n - 7; i++)
        escapes += l[i] == '\\';
    ck_assert_uint_eq(v[0].len, n - 12 - escapes);
    ck_assert(v[0].s[0] == 'x' && v[0].s[994] == 'x' && v[0].s[995] == '\n');
    /* one byte longer than the state allows: too long, never parsed */
    l[n] = 'x';
    ck_assert_int_eq(format_parse(st, l, n + 1, ALL, 0, v), FORMAT_BAD_TOO_LONG);
    free(l);
    st_free();
}
END_TEST

/* A job with format: logfmt through the engine: rules name keys, a flag is a condition. */
START_TEST(test_engine)
{
    static const char *rules = "jobs:\n"
                               "  - name: app\n"
                               "    sources: [/dev/null]\n"
                               "    format: {logfmt: {fields: [dur:float]}}\n"
                               "    groups:\n"
                               "      - name: g\n"
                               "        entries:\n"
                               "          - name: by_level\n"
                               "            key: [level]\n"
                               "            values: {n: count, dur: sum(dur), st: sum(status)}\n"
                               "          - name: cached\n"
                               "            where: cache_hit\n"
                               "            values: {n: count}\n";
    static const char *lines = "level=info dur=0.5 status=200 cache_hit\n"
                               "level=info dur=1.5 status=\"404\" msg=\"x=y\"\n"
                               "level=error dur=2 status=500 cache_hit\n"
                               "level=info dur=\"abc\" status=200\n" /* bad: dur:float */
                               "level=info status=2xx\n"             /* bad: summed */
                               "level=info msg=\"unterminated\n"     /* bad: quote */
                               "level=debug\n";
    rules_config_t *cfg;
    abbey_err_t err;
    ck_assert_msg(rules_load_buffer(rules, strlen(rules), "t.yaml", pool, &cfg, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    const rules_job_t *job = &cfg->jobs[0];
    ck_assert_str_eq(format_name(job->format), "logfmt");
    engine_t *e = engine_create(job, pool);
    partial_t *p = partial_create(job, pool);
    ck_assert_int_eq(engine_feed(e, lines, strlen(lines), 0, p, NULL, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 7);
    ck_assert_uint_eq(p->bad_lines, 3);
    ck_assert_uint_eq(ptable_count(p->tables[0]), 3); /* info, error, debug */
    ck_assert_uint_eq(ptable_count(p->tables[1]), 1);
    rules_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create(FIXTURE_SUITE);
    apr_initialize();
    tcase_add_test(new_case(s, "pairs"), test_pairs);
    tcase_add_test(new_case(s, "escapes"), test_escapes);
    tcase_add_test(new_case(s, "refusals"), test_refusals);
    tcase_add_test(new_case(s, "flags_and_types"), test_flags_and_types);
    tcase_add_test(new_case(s, "names"), test_names);
    tcase_add_test(new_case(s, "huge_line"), test_huge_line);
    tcase_add_test(new_case(s, "engine"), test_engine);
    int failed = check_run(s);
    apr_terminate();
    return failed ? 1 : 0;
}
