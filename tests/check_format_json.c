/* check_format_json.c - unit tests for the json line format (rules/format_json.c,
 * rules/format_json_scan.c): member paths (nested names, array indexes, backquoted names),
 * values by JSON type, absent and null members, escapes (\uXXXX, surrogate pairs, bad and
 * lone ones), numbers at their edges (-0, 1e400, int64 limits), strings used as numbers,
 * typed fields, duplicate keys (the first wins), whitespace, nesting up to the limit and one
 * past it, invalid lines of many kinds (each as bad whatever the rules need), NUL bytes and
 * invalid UTF-8, strings ending on every side of stage one's 64-byte words and 1 KiB
 * windows, and a 20 MB line. Lines are parsed from a heap copy of exactly their length, so
 * under ASan or valgrind a read past the end is caught, and every field must point into the
 * line or into the state's scratch. Oracles: values worked out by hand from each line (UTF-8
 * bytes from the Unicode tables), and RFC 8259's grammar for what is valid. */
#include <apr_general.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "format.h"
#include "format_int.h"      /* the state's scratch, to check where text points */
#include "format_json_int.h" /* json_simd: stage one's baseline classifier too */
#include "rules.h"

#define FIXTURE_SUITE "check_format_json"
#include "fixture_format.h"

#define MAXL (24u << 20) /* max_line of these tests' states */

/* A json format with the given fields ("path" or "path:type"). */
static format_t *mk_json(const char *const *fields, int n)
{
    format_spec_t spec = {.kind = "json", .fields = fields, .nfields = n};
    format_t *f = NULL;
    abbey_err_t err;
    ck_assert_msg(format_create(&spec, pool, &f, &err) == APR_SUCCESS, "%s", err.msg);
    return f;
}

/* The index of field name, added when new. */
static int fld(format_t *f, const char *name)
{
    int i = format_field_index(f, name, strlen(name));
    ck_assert_msg(i >= 0, "field %s", name);
    return i;
}

/* Parse a heap copy of [s, s + n) with need and num; every field of a good line must point
 * into the copy or the scratch. Badness must not depend on need, except that needing a
 * field can make a good line bad for its number or time. */
static char *copy;
static format_state_t *jst;
static int jst_nfields; /* the format's field count when jst was made */
static format_bad_t jparse_n(format_t *f, const char *s, size_t n, uint64_t need, uint64_t num,
                             value_t *v)
{
    value_t w[FORMAT_MAX_FIELDS];
    free(copy);
    copy = dup_exact(s, n);
    if (!jst || jst->f != f || jst_nfields != format_nfields(f)) { /* made once fields are known */
        jst = format_state_create(f, MAXL, pool);
        jst_nfields = format_nfields(f);
    }
    format_bad_t lax = format_parse(jst, copy, n, 0, num, w);
    format_bad_t why = format_parse(jst, copy, n, need, num, v);
    ck_assert_msg(why == lax ||
                      (lax == FORMAT_OK && (why == FORMAT_BAD_NUMBER || why == FORMAT_BAD_TIME)),
                  "%.60s: %s with need, %s without", s, format_bad_name(why), format_bad_name(lax));
    if (why != FORMAT_OK)
        return why;
    for (int i = 0; i < format_nfields(f); i++) {
        ck_assert_msg(v[i].kind <= VALUE_TIME, "field %d kind %d", i, v[i].kind);
        if (!v[i].s) {
            ck_assert_uint_eq(v[i].len, 0);
            continue;
        }
        int in_line = v[i].s >= copy && v[i].s + v[i].len <= copy + n;
        int in_scratch = jst->scratch && v[i].s >= jst->scratch &&
                         v[i].s + v[i].len <= jst->scratch + jst->scratch_used;
        ck_assert_msg(in_line || in_scratch, "field %d text outside the line and scratch", i);
    }
    return why;
}

/* The field the last bad line was blamed on. */
static int st_bad_field(void)
{
    return jst->bad_field;
}

static format_bad_t jparse(format_t *f, const char *line, value_t *v)
{
    return jparse_n(f, line, strlen(line), ALL, 0, v);
}

/* Runs beside the fixture's teardown, which destroys the pool. */
static void jteardown(void)
{
    free(copy);
    copy = NULL;
    jst = NULL;
}

#define ck_float(v, want)                                                                          \
    ck_assert_msg((v)->kind == VALUE_FLOAT && (v)->f == (want), "line %d: kind %d value %.17g",    \
                  __LINE__, (v)->kind, (v)->f)

/* ---- values ---------------------------------------------------------------- */

START_TEST(test_values)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    int s = fld(f, "s"), i = fld(f, "i"), x = fld(f, "x"), t = fld(f, "t"), fa = fld(f, "f");
    int nu = fld(f, "n"), ab = fld(f, "absent"), o = fld(f, "o"), a = fld(f, "a");
    int om = fld(f, "o.m"), a1 = fld(f, "a[1]"), a9 = fld(f, "a[9]"), deep = fld(f, "o.p[0].q");
    const char *line = "{\"s\":\"text\",\"i\":-42,\"x\":2.5e1,\"t\":true,\"f\":false,\"n\":null,"
                       "\"o\":{\"m\":\"GET\",\"p\":[{\"q\":7}]},\"a\":[1,\"two\",[3]]}";
    ck_assert_str_eq(format_name(f), "json");
    ck_assert(format_is_open(f));
    ck_assert_int_eq(jparse(f, line, v), FORMAT_OK);
    ck_text(&v[s], VALUE_STR, "text");
    ck_int(&v[i], VALUE_INT, -42, "-42");
    ck_float(&v[x], 25.0);
    ck_int(&v[t], VALUE_BOOL, 1, "true");
    ck_int(&v[fa], VALUE_BOOL, 0, "false");
    ck_text(&v[nu], VALUE_NULL, "null");
    ck_text(&v[ab], VALUE_NULL, NULL);
    ck_text(&v[o], VALUE_STR, "{\"m\":\"GET\",\"p\":[{\"q\":7}]}");
    ck_text(&v[a], VALUE_STR, "[1,\"two\",[3]]");
    ck_text(&v[om], VALUE_STR, "GET");
    ck_text(&v[a1], VALUE_STR, "two");
    ck_text(&v[a9], VALUE_NULL, NULL);
    ck_int(&v[deep], VALUE_INT, 7, "7");
    /* a path through a value of another type is absent */
    int sm = fld(f, "s.m"), i0 = fld(f, "i[0]"), o0 = fld(f, "o[0]"), am = fld(f, "a.m");
    ck_assert_int_eq(jparse(f, line, v), FORMAT_OK);
    const int through[] = {sm, i0, o0, am};
    for (int k = 0; k < 4; k++)
        ck_text(&v[through[k]], VALUE_NULL, NULL);
    /* whitespace anywhere between tokens, none inside literals */
    ck_assert_int_eq(jparse(f,
                            " \t{ \"o\" :\t{ \"m\" : \"PUT\" } ,\r\"i\" : 3 , \"a\" : [ 0 ,"
                            " 5 ] }\t ",
                            v),
                     FORMAT_OK);
    ck_text(&v[om], VALUE_STR, "PUT");
    ck_int(&v[i], VALUE_INT, 3, "3");
    ck_text(&v[a], VALUE_STR, "[ 0 , 5 ]");
    ck_int(&v[a1], VALUE_INT, 5, "5");
    ck_text(&v[s], VALUE_NULL, NULL);
    /* the trailing \r of a CRLF line is not part of it; an empty object is fine */
    ck_assert_int_eq(jparse(f, "{}\r", v), FORMAT_OK);
    ck_assert_int_eq(jparse(f, "{\"o\":{},\"a\":[]}", v), FORMAT_OK);
    ck_text(&v[o], VALUE_STR, "{}");
    ck_text(&v[a], VALUE_STR, "[]");
    ck_text(&v[om], VALUE_NULL, NULL);
    /* a field no rule needs is left alone; the others are still set */
    ck_assert_int_eq(jparse_n(f, line, strlen(line), 1u << om, 0, v), FORMAT_OK);
    ck_text(&v[om], VALUE_STR, "GET");
}
END_TEST

START_TEST(test_names)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    int at = fld(f, "`@timestamp`"), sp = fld(f, "`a b`.`c.d`"), bq = fld(f, "`x``y`");
    int utf = fld(f, "`\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87`"), emp = fld(f, "``"), u = fld(f, "_u9");
    ck_assert_int_eq(jparse(f,
                            "{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"a b\":{\"c.d\":1,\"c\":{"
                            "\"d\":2}},\"x`y\":3,\"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87\":4,\"\":5,"
                            "\"_u9\":6}",
                            v),
                     FORMAT_OK);
    ck_text(&v[at], VALUE_STR, "2024-01-01T00:00:00Z");
    ck_int(&v[sp], VALUE_INT, 1, "1");
    ck_int(&v[bq], VALUE_INT, 3, "3");
    ck_int(&v[utf], VALUE_INT, 4, "4");
    ck_int(&v[emp], VALUE_INT, 5, "5");
    ck_int(&v[u], VALUE_INT, 6, "6");
    /* a key written with escapes matches its unescaped name */
    ck_assert_int_eq(jparse(f, "{\"\\u0040timestamp\":\"t\",\"x\\u0060y\":9}", v), FORMAT_OK);
    ck_text(&v[at], VALUE_STR, "t");
    ck_int(&v[bq], VALUE_INT, 9, "9");
    /* names compare by length then bytes: prefixes and longer keys do not match */
    ck_assert_int_eq(jparse(f, "{\"_u\":1,\"_u99\":2,\"_U9\":3}", v), FORMAT_OK);
    ck_text(&v[u], VALUE_NULL, NULL);
    /* what is no member path is no field; the same path spelled twice is one */
    static const char *const bad[] = {"",     "a.",   ".a",    "a..b",  "[0]",
                                      "a[]",  "a[x]", "a[-1]", "a b",   "`a",
                                      "a.`b", "1a",   "a-b",   "a[1]]", "a[1000000000]"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        ck_assert_msg(format_field_index(f, bad[k], strlen(bad[k])) == -1, "%s", bad[k]);
    ck_assert_int_eq(fld(f, "`_u9`"), u);
    ck_assert_int_eq(fld(f, "`a b`.`c`.d"), fld(f, "`a b`.c.d"));
    ck_assert_int_eq(fld(f, "a[007]"), fld(f, "a[7]"));
    ck_assert_int_eq(fld(f, "a[999999999]"), format_nfields(f) - 1);
    /* at most FORMAT_MAX_FIELDS */
    char name[16];
    while (format_nfields(f) < FORMAT_MAX_FIELDS) {
        snprintf(name, sizeof name, "f%d", format_nfields(f));
        fld(f, name);
    }
    ck_assert_int_eq(format_field_index(f, "more", 4), -1);
    ck_assert_int_eq(fld(f, "_u9"), u);
}
END_TEST

/* ---- escapes ---------------------------------------------------------------- */

START_TEST(test_escapes)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    int s = fld(f, "s"), t = fld(f, "t");
    static const struct {
        const char *json, *text;
        size_t len;
    } ok[] = {
        {"\\\"q\\\" \\\\ \\/", "\"q\" \\ /", 0},
        {"\\b\\f\\n\\r\\t", "\b\f\n\r\t", 0},
        {"caf\\u00e9 \\u00E9", "caf\xc3\xa9 \xc3\xa9", 0},                /* U+00E9, 2 bytes */
        {"\\u20ac\\u07ff\\u0800", "\xe2\x82\xac\xdf\xbf\xe0\xa0\x80", 0}, /* 3 and 2 bytes */
        {"\\ud83d\\ude00!", "\xf0\x9f\x98\x80!", 0},                      /* U+1F600 from a pair */
        {"\\uD800\\uDC00\\udbff\\udfff", "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 0},
        {"\\uffff\\ud7ff\\ue000", "\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80", 0},
        {"a\\u0000b", "a\0b", 3}, /* an escaped NUL is a byte of the value */
        {"\\u0041\\u007f", "A\x7f", 0},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        char line[256];
        snprintf(line, sizeof line, "{\"s\":\"%s\",\"t\":\"plain\"}", ok[k].json);
        ck_assert_msg(jparse(f, line, v) == FORMAT_OK, "%s", line);
        size_t n = ok[k].len ? ok[k].len : strlen(ok[k].text);
        ck_assert_msg(v[s].kind == VALUE_STR && v[s].len == n && !memcmp(v[s].s, ok[k].text, n),
                      "%s: got %.*s", ok[k].json, (int)v[s].len, v[s].s);
        ck_assert_msg(v[s].s >= jst->scratch && v[s].s < jst->scratch + jst->scratch_used,
                      "unescaped text lives in the scratch");
        ck_text(&v[t], VALUE_STR, "plain"); /* no escape: points into the line */
        ck_assert(v[t].s >= copy && v[t].s < copy + strlen(line));
    }
    static const struct {
        const char *line;
        format_bad_t why;
    } bad[] = {
        {"{\"s\":\"\\x41\"}", FORMAT_BAD_ESCAPE},
        {"{\"s\":\"\\U0041\"}", FORMAT_BAD_ESCAPE},
        {"{\"s\":\"\\u12\"}", FORMAT_BAD_ESCAPE},
        {"{\"s\":\"\\u12g4\"}", FORMAT_BAD_ESCAPE},
        {"{\"s\":\"\\ud83d\"}", FORMAT_BAD_ESCAPE}, /* a lone high surrogate */
        {"{\"s\":\"\\ud83dx\"}", FORMAT_BAD_ESCAPE},
        {"{\"s\":\"\\ud83d\\u0041\"}", FORMAT_BAD_ESCAPE}, /* not followed by a low one */
        {"{\"s\":\"\\ud83d\\ud83d\"}", FORMAT_BAD_ESCAPE},
        {"{\"s\":\"\\ude00\"}", FORMAT_BAD_ESCAPE},        /* a lone low surrogate */
        {"{\"s\":\"\\ude00\\ud83d\"}", FORMAT_BAD_ESCAPE}, /* reversed */
        {"{\"s\":\"\\ud83d\\n\"}", FORMAT_BAD_ESCAPE},
        {"{\"s\":\"a\\", FORMAT_BAD_ESCAPE}, /* cut inside an escape */
        {"{\"s\":\"\\u00", FORMAT_BAD_ESCAPE},
        {"{\"s\":\"a\\\"}", FORMAT_BAD_QUOTE},          /* the quote is escaped */
        {"{\"x\":\"\\q\",\"s\":1}", FORMAT_BAD_ESCAPE}, /* in a member no rule needs */
        {"{\"\\q\":1}", FORMAT_BAD_ESCAPE},             /* in a key */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        ck_assert_msg(jparse(f, bad[k].line, v) == bad[k].why, "%s: %s", bad[k].line,
                      format_bad_name(jparse(f, bad[k].line, v)));
}
END_TEST

/* ---- numbers ---------------------------------------------------------------- */

START_TEST(test_numbers)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    int n = fld(f, "n");
    char line[256];
#define NUM(text) (snprintf(line, sizeof line, "{\"n\":%s}", text), jparse(f, line, v))
    ck_assert_int_eq(NUM("0"), FORMAT_OK);
    ck_int(&v[n], VALUE_INT, 0, "0");
    ck_assert_int_eq(NUM("-0"), FORMAT_OK);
    ck_int(&v[n], VALUE_INT, 0, "-0");
    ck_assert_int_eq(NUM("-0.0"), FORMAT_OK);
    ck_assert(v[n].kind == VALUE_FLOAT && v[n].f == 0 && signbit(v[n].f));
    ck_assert_int_eq(NUM("9223372036854775807"), FORMAT_OK);
    ck_int(&v[n], VALUE_INT, INT64_MAX, "9223372036854775807");
    ck_assert_int_eq(NUM("-9223372036854775808"), FORMAT_OK);
    ck_int(&v[n], VALUE_INT, INT64_MIN, "-9223372036854775808");
    ck_assert_int_eq(NUM("9223372036854775808"), FORMAT_OK); /* beyond int64: a float */
    ck_float(&v[n], 9223372036854775808.0);
    ck_assert_int_eq(NUM("123456789012345678901234567890"), FORMAT_OK);
    ck_float(&v[n], 1.2345678901234568e29);
    ck_assert_int_eq(NUM("1.5"), FORMAT_OK);
    ck_float(&v[n], 1.5);
    ck_assert_int_eq(NUM("-1.25e3"), FORMAT_OK);
    ck_float(&v[n], -1250.0);
    ck_assert_int_eq(NUM("1E2"), FORMAT_OK);
    ck_float(&v[n], 100.0);
    ck_assert_int_eq(NUM("5e-1"), FORMAT_OK);
    ck_float(&v[n], 0.5);
    ck_assert_int_eq(NUM("2e+2"), FORMAT_OK);
    ck_float(&v[n], 200.0);
    ck_assert_int_eq(NUM("1e-400"), FORMAT_OK); /* underflows to zero: still a number */
    ck_float(&v[n], 0.0);
    ck_assert_int_eq(NUM("0.1"), FORMAT_OK);
    ck_float(&v[n], 0.1);
    /* beyond a double: bad when needed, fine when not */
    ck_assert_int_eq(NUM("1e400"), FORMAT_BAD_NUMBER);
    ck_assert_int_eq(st_bad_field(), n);
    ck_assert_int_eq(NUM("-1e400"), FORMAT_BAD_NUMBER);
    ck_assert_int_eq(jparse_n(f, line, strlen(line), 0, 0, v), FORMAT_OK);
    static const char *const bad[] = {
        "01",  "-01",      "1.",        ".5",    "+1",  "-",     "1e",   "1e+", "1E-", "0x10",
        "NaN", "Infinity", "-Infinity", "1.5.3", "--1", "1e5.5", "0.e1", "- 1", "1 2", "١"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        ck_assert_msg(NUM(bad[k]) == FORMAT_BAD_SYNTAX, "%s", bad[k]);
#undef NUM
}
END_TEST

START_TEST(test_strings_as_numbers)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    int st = fld(f, "status"), ms = fld(f, "ms");
    uint64_t num = (1u << st) | (1u << ms);
    char line[256], why[128];
#define LINE(a, b) (snprintf(line, sizeof line, "{\"status\":%s,\"ms\":%s}", a, b), line)
#define NPARSE(a, b) (LINE(a, b), jparse_n(f, line, strlen(line), ALL, num, v))
    /* nginx writes "status":"200": text until a rule needs a number */
    ck_assert_int_eq(jparse(f, LINE("\"200\"", "\"0.25\""), v), FORMAT_OK);
    ck_text(&v[st], VALUE_STR, "200");
    ck_assert_int_eq(jparse_n(f, line, strlen(line), ALL, num, v), FORMAT_OK);
    ck_int(&v[st], VALUE_INT, 200, "200");
    ck_float(&v[ms], 0.25);
    ck_assert_int_eq(NPARSE("\"-\"", "\"\""), FORMAT_OK);
    ck_text(&v[st], VALUE_NULL, "-");
    ck_text(&v[ms], VALUE_NULL, "");
    ck_assert_int_eq(NPARSE("\"\\u0032\\u0030\\u0034\"", "1"),
                     FORMAT_OK); /* unescaped, then converted */
    ck_int(&v[st], VALUE_INT, 204, "204");
    ck_assert_int_eq(NPARSE("\"ok\"", "1"), FORMAT_BAD_NUMBER);
    ck_assert_int_eq(st_bad_field(), st);
    ck_assert_str_eq(format_bad_describe(jst, FORMAT_BAD_NUMBER, why, sizeof why),
                     "status is not a number");
    /* an object used as a number is not one either */
    ck_assert_int_eq(NPARSE("200", "{\"a\":1}"), FORMAT_BAD_NUMBER);
    ck_assert_int_eq(st_bad_field(), ms);
    /* numbers and booleans keep their type whatever num says */
    ck_assert_int_eq(NPARSE("true", "-3"), FORMAT_OK);
    ck_int(&v[st], VALUE_BOOL, 1, "true");
    ck_int(&v[ms], VALUE_INT, -3, "-3");
    ck_assert_int_eq(NPARSE("null", "-3"), FORMAT_OK);
    ck_text(&v[st], VALUE_NULL, "null");
#undef LINE
#undef NPARSE
}
END_TEST

START_TEST(test_typed)
{
    static const char *const fields[] = {"status:int", "ts:time", "ms:float", "name:str",
                                         "`@v`.w[0]:int"};
    format_t *f = mk_json(fields, 5);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_int_eq(format_nfields(f), 5);
    ck_assert_str_eq(format_field_name(f, 4), "`@v`.w[0]");
    ck_assert_int_eq(format_field_type(f, 2), FORMAT_FLOAT);
    ck_assert_int_eq(format_field_type(f, fld(f, "other")), FORMAT_AUTO);
    ck_assert_int_eq(jparse(f,
                            "{\"status\":\"404\",\"ts\":\"2015-05-17T10:05:03Z\",\"ms\":12,"
                            "\"name\":200,\"@v\":{\"w\":[-5]}}",
                            v),
                     FORMAT_OK);
    ck_int(&v[0], VALUE_INT, 404, "404");
    ck_int(&v[1], VALUE_TIME, 1431857103, "2015-05-17T10:05:03Z");
    ck_float(&v[2], 12.0);
    ck_text(&v[3], VALUE_STR, "200");
    ck_int(&v[4], VALUE_INT, -5, "-5");
    ck_assert_int_eq(jparse(f, "{\"status\":200,\"ts\":1431857103.5,\"ms\":\"1e3\"}", v),
                     FORMAT_OK);
    ck_int(&v[0], VALUE_INT, 200, "200");
    ck_int(&v[1], VALUE_TIME, 1431857103, "1431857103.5");
    ck_float(&v[2], 1000.0);
    ck_text(&v[3], VALUE_NULL, NULL);
    ck_assert_int_eq(jparse(f, "{\"status\":null,\"ts\":null,\"name\":null}", v), FORMAT_OK);
    ck_text(&v[0], VALUE_NULL, "null");
    ck_text(&v[3], VALUE_NULL, "null");
    static const struct {
        const char *line;
        format_bad_t why;
        int field;
    } bad[] = {
        {"{\"status\":2.5}", FORMAT_BAD_NUMBER, 0},
        {"{\"status\":\"abc\"}", FORMAT_BAD_NUMBER, 0},
        {"{\"status\":true}", FORMAT_BAD_NUMBER, 0},
        {"{\"status\":[200]}", FORMAT_BAD_NUMBER, 0},
        {"{\"ts\":\"yesterday\"}", FORMAT_BAD_TIME, 1},
        {"{\"ms\":\"fast\"}", FORMAT_BAD_NUMBER, 2},
        {"{\"@v\":{\"w\":[\"x\"]}}", FORMAT_BAD_NUMBER, 4},
    };
    /* a broken structure after a field that does not convert: the structure is the reason
     * (found by fuzz_format_json) */
    ck_assert_int_eq(jparse(f, "{\"status\":\"abc\",\"x\":[}", v), FORMAT_BAD_SYNTAX);
    ck_assert_int_eq(jparse(f, "{\"status\":[[1]},\"ts\":1}", v), FORMAT_BAD_SYNTAX);
    ck_assert_int_eq(jparse(f, "{\"ts\":\"x\",\"status\":\"abc\",\"ms\":\"", v), FORMAT_BAD_QUOTE);
    ck_assert_int_eq(jparse(f, "{\"ts\":\"x\",\"status\":\"abc\"}", v), FORMAT_BAD_TIME);
    ck_assert_int_eq(st_bad_field(), 1); /* the first field that did not convert */
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ck_assert_msg(jparse(f, bad[k].line, v) == bad[k].why, "%s", bad[k].line);
        ck_assert_int_eq(st_bad_field(), bad[k].field);
        /* not needed: not converted, not bad */
        ck_assert_int_eq(
            jparse_n(f, bad[k].line, strlen(bad[k].line), ALL & ~(1ull << bad[k].field), 0, v),
            FORMAT_OK);
    }
}
END_TEST

START_TEST(test_duplicates)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    int a = fld(f, "a"), ab = fld(f, "a.b"), c0 = fld(f, "c[0].d");
    ck_assert_int_eq(jparse(f, "{\"a\":1,\"a\":2}", v), FORMAT_OK);
    ck_int(&v[a], VALUE_INT, 1, "1");
    ck_assert_int_eq(jparse(f, "{\"a\":{\"b\":1},\"a\":{\"b\":2}}", v), FORMAT_OK);
    ck_int(&v[ab], VALUE_INT, 1, "1");
    ck_text(&v[a], VALUE_STR, "{\"b\":1}");
    /* the first "a" wins whole: its lack of "b" is not filled from the second */
    ck_assert_int_eq(jparse(f, "{\"a\":{\"x\":1},\"a\":{\"b\":2}}", v), FORMAT_OK);
    ck_text(&v[ab], VALUE_NULL, NULL);
    ck_assert_int_eq(jparse(f, "{\"a\":{\"b\":1,\"b\":2}}", v), FORMAT_OK);
    ck_int(&v[ab], VALUE_INT, 1, "1");
    ck_assert_int_eq(jparse(f, "{\"c\":[{\"d\":1,\"d\":2}],\"c\":[{\"d\":3}]}", v), FORMAT_OK);
    ck_int(&v[c0], VALUE_INT, 1, "1");
    /* a duplicate written with an escape is a duplicate */
    ck_assert_int_eq(jparse(f, "{\"a\":1,\"\\u0061\":2}", v), FORMAT_OK);
    ck_int(&v[a], VALUE_INT, 1, "1");
    /* and every line starts afresh */
    ck_assert_int_eq(jparse(f, "{\"a\":7}", v), FORMAT_OK);
    ck_int(&v[a], VALUE_INT, 7, "7");
}
END_TEST

/* ---- bad lines -------------------------------------------------------------- */

START_TEST(test_invalid)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    fld(f, "a");
    fld(f, "b.c");
    static const struct {
        const char *line;
        format_bad_t why;
    } bad[] = {
        {"", FORMAT_BAD_SYNTAX},
        {"  ", FORMAT_BAD_SYNTAX},
        {"[]", FORMAT_BAD_SYNTAX}, /* not an object */
        {"1", FORMAT_BAD_SYNTAX},
        {"\"a\"", FORMAT_BAD_SYNTAX},
        {"null", FORMAT_BAD_SYNTAX},
        {"{", FORMAT_BAD_SYNTAX},
        {"}", FORMAT_BAD_SYNTAX},
        {"{\"a\"}", FORMAT_BAD_SYNTAX},
        {"{\"a\":}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1,}", FORMAT_BAD_SYNTAX},
        {"{,\"a\":1}", FORMAT_BAD_SYNTAX},
        {"{\"a\" 1}", FORMAT_BAD_SYNTAX},
        {"{\"a\"::1}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1 \"b\":2}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1}x", FORMAT_BAD_SYNTAX}, /* trailing garbage */
        {"{\"a\":1}{}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1} 1", FORMAT_BAD_SYNTAX},
        {"{\"a\":1}}", FORMAT_BAD_SYNTAX},
        {"{\"a\":[1,]}", FORMAT_BAD_SYNTAX},
        {"{\"a\":[,1]}", FORMAT_BAD_SYNTAX},
        {"{\"a\":[1 2]}", FORMAT_BAD_SYNTAX},
        {"{\"a\":[1}", FORMAT_BAD_SYNTAX},
        {"{\"a\":{\"b\":1]}", FORMAT_BAD_SYNTAX},
        {"{\"a\":[1]]}", FORMAT_BAD_SYNTAX},
        {"{\"a\":tru}", FORMAT_BAD_SYNTAX},
        {"{\"a\":True}", FORMAT_BAD_SYNTAX},
        {"{\"a\":nul}", FORMAT_BAD_SYNTAX},
        {"{\"a\":nulls}", FORMAT_BAD_SYNTAX},
        {"{\"a\":falsey}", FORMAT_BAD_SYNTAX},
        {"{\"a\":fals", FORMAT_BAD_SYNTAX},
        {"{\"a\":t", FORMAT_BAD_SYNTAX},
        {"{a:1}", FORMAT_BAD_SYNTAX},
        {"{'a':1}", FORMAT_BAD_SYNTAX},
        {"{\"a\":'x'}", FORMAT_BAD_SYNTAX},
        {"{1:1}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1", FORMAT_BAD_SYNTAX}, /* truncated */
        {"{\"a\":\"xyz", FORMAT_BAD_QUOTE},
        {"{\"a", FORMAT_BAD_QUOTE},
        {"{\"b\":{\"c\":[{\"d\":\"", FORMAT_BAD_QUOTE},
        {"{\"a\":\"x\ty\"}", FORMAT_BAD_SYNTAX}, /* a raw tab inside a string */
        {"{\"a\":\"x\x1fy\"}", FORMAT_BAD_SYNTAX},
        {"{\"a\x01\":1}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1}\x0b", FORMAT_BAD_SYNTAX},         /* not JSON whitespace */
        {"\xef\xbb\xbf{\"a\":1}", FORMAT_BAD_SYNTAX}, /* a byte order mark */
        {"{\"a\":1}\n", FORMAT_OK},                   /* JSON whitespace, so fine */
        {"{\"a\":01}", FORMAT_BAD_SYNTAX},
        {"{\"a\":-}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1.}", FORMAT_BAD_SYNTAX},
        {"{\"a\":.1}", FORMAT_BAD_SYNTAX},
        {"{\"a\":+1}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1e}", FORMAT_BAD_SYNTAX},
        {"{\"a\":NaN}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1,\"z\":[1,{\"y\":[true,false,null,\"\\uZZZZ\"]}]}", FORMAT_BAD_ESCAPE},
        {"{\"a\":1,\"z\":[1,{\"y\":[true,false,nul]}]}", FORMAT_BAD_SYNTAX},
        {"{\"a\":1,\"z\":[1,{\"y\":[true,false,null]}]}", FORMAT_OK},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        format_bad_t why = jparse(f, bad[k].line, v);
        ck_assert_msg(why == bad[k].why, "%s: %s", bad[k].line, format_bad_name(why));
    }
    /* NUL bytes: a raw one is a control byte, in a string or out of it */
    static const char nul1[] = "{\"a\":\"x\0y\"}", nul2[] = "{\"a\":1\0}", nul3[] = "{\"a\":1}\0";
    ck_assert_int_eq(jparse_n(f, nul1, sizeof nul1 - 1, ALL, 0, v), FORMAT_BAD_SYNTAX);
    ck_assert_int_eq(jparse_n(f, nul2, sizeof nul2 - 1, ALL, 0, v), FORMAT_BAD_SYNTAX);
    ck_assert_int_eq(jparse_n(f, nul3, sizeof nul3 - 1, ALL, 0, v), FORMAT_BAD_SYNTAX);
    /* bytes >= 0x80 are kept as they are, valid UTF-8 or not */
    static const char raw[] = "{\"a\":\"\xff\xfe\xc0\xaf\xed\xa0\x80\x80\",\"\xff\":1}";
    ck_assert_int_eq(jparse_n(f, raw, sizeof raw - 1, ALL, 0, v), FORMAT_OK);
    ck_assert(v[0].kind == VALUE_STR && v[0].len == 8 && !memcmp(v[0].s, raw + 6, 8));
    ck_assert_int_eq(fld(f, "`\xff`"), 2);
    ck_assert_int_eq(jparse_n(f, raw, sizeof raw - 1, ALL, 0, v), FORMAT_OK);
    ck_int(&v[2], VALUE_INT, 1, "1");
    /* reasons read well */
    char why[128];
    ck_assert_int_eq(jparse(f, "{\"a\":[}", v), FORMAT_BAD_SYNTAX);
    ck_assert_str_eq(format_bad_describe(jst, FORMAT_BAD_SYNTAX, why, sizeof why), "syntax error");
    ck_assert_str_eq(format_bad_text(FORMAT_BAD_ESCAPE), "bad escape");
}
END_TEST

/* "{"a":" then depth arrays nested around 1 (obj: depth objects {"o": ... }). */
static char *nested(int depth, int obj)
{
    char *s = malloc((size_t)depth * 6 + 16), *p = s;
    p += sprintf(p, "{\"a\":");
    for (int k = 0; k < depth; k++)
        p += sprintf(p, "%s", obj ? "{\"o\":" : "[");
    *p++ = '1';
    for (int k = 0; k < depth; k++)
        *p++ = obj ? '}' : ']';
    strcpy(p, "}");
    return s;
}

START_TEST(test_depth)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    char path[256] = "a", *line;
    for (int k = 0; k < 63; k++)
        strcat(path, "[0]");
    int deep = fld(f, path);
    /* the line's object and 63 arrays: 64 open at once, the limit */
    line = nested(63, 0);
    ck_assert_int_eq(jparse(f, line, v), FORMAT_OK);
    ck_int(&v[deep], VALUE_INT, 1, "1");
    free(line);
    line = nested(64, 0);
    ck_assert_int_eq(jparse(f, line, v), FORMAT_BAD_SYNTAX);
    free(line);
    line = nested(100000, 0); /* far deeper: refused, no stack used for it */
    ck_assert_int_eq(jparse(f, line, v), FORMAT_BAD_SYNTAX);
    free(line);
    /* objects count alike */
    line = nested(63, 1);
    ck_assert_int_eq(jparse(f, line, v), FORMAT_OK);
    free(line);
    line = nested(64, 1);
    ck_assert_int_eq(jparse(f, line, v), FORMAT_BAD_SYNTAX);
    free(line);
}
END_TEST

/* ---- stage one's words and windows -------------------------------------------- */

START_TEST(test_boundaries)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    int p = fld(f, "p"), s = fld(f, "s"), n = fld(f, "n");
    size_t cap = 2400;
    char *line = malloc(cap), *pad = malloc(cap);
    /* every string end, escape and line end on every side of the 64-byte words and of
     * the 1 KiB windows (stage one makes 16 words at a time), with the baseline classifier
     * (SSE2) and with AVX2 when the CPU has it */
    for (json_simd = JSON_SIMD_BEST; json_simd <= JSON_SIMD_BASE; json_simd++)
        for (size_t k = 0; k <= 2200; k++) {
            for (size_t j = 0; j < k; j++)
                pad[j] = j % 7 == 3 ? '\xc3' : (char)('a' + j % 26); /* bytes >= 0x80 too */
            pad[k] = '\0';
            snprintf(line, cap, "{\"p\":\"%s\",\"s\":\"a\\\"b\",\"n\":%zu}", pad, k);
            ck_assert_int_eq(jparse(f, line, v), FORMAT_OK);
            ck_assert(v[p].kind == VALUE_STR && v[p].len == k && !memcmp(v[p].s, pad, k));
            ck_text(&v[s], VALUE_STR, "a\"b");
            ck_assert(v[n].kind == VALUE_INT && v[n].i == (int64_t)k);
            /* an escape at the same places */
            snprintf(line, cap, "{\"p\":\"%s\\u00e9\"}", pad);
            ck_assert_int_eq(jparse(f, line, v), FORMAT_OK);
            ck_assert(v[p].len == k + 2 && !memcmp(v[p].s + k, "\xc3\xa9", 2));
            /* cut short inside the string, inside the escape, after it: never read past the end */
            ck_assert_int_eq(jparse_n(f, line, k + 6, ALL, 0, v), FORMAT_BAD_QUOTE);
            ck_assert_int_eq(jparse_n(f, line, k + 7, ALL, 0, v), FORMAT_BAD_ESCAPE);
            ck_assert_int_eq(jparse_n(f, line, k + 11, ALL, 0, v), FORMAT_BAD_ESCAPE);
            ck_assert_int_eq(jparse_n(f, line, k + 12, ALL, 0, v), FORMAT_BAD_QUOTE);
            /* a raw control byte at the same places */
            line[k + 6] = '\x1f';
            ck_assert_int_eq(jparse(f, line, v), FORMAT_BAD_SYNTAX);
        }
    json_simd = JSON_SIMD_BEST;
    free(line);
    free(pad);
}
END_TEST

/* ---- a 20 MB line ---------------------------------------------------------------- */

START_TEST(test_long_line)
{
    format_t *f = mk_json(NULL, 0);
    value_t v[FORMAT_MAX_FIELDS];
    int pad = fld(f, "pad"), st = fld(f, "status"), a = fld(f, "a[4999999]");
    size_t big = 20u << 20, cap = big + 64;
    char *line = malloc(cap);
    /* a 20 MB string, then the member a rule wants */
    size_t n = (size_t)sprintf(line, "{\"pad\":\"");
    memset(line + n, 'x', big);
    n += big;
    n += (size_t)sprintf(line + n, "\",\"status\":200}");
    ck_assert_int_eq(jparse_n(f, line, n, ALL, 0, v), FORMAT_OK);
    ck_assert(v[pad].kind == VALUE_STR && v[pad].len == big);
    ck_int(&v[st], VALUE_INT, 200, "200");
    ck_assert_int_eq(jparse_n(f, line, n - 15, ALL, 0, v), FORMAT_BAD_QUOTE); /* cut */
    /* 10M escapes, unescaped into the scratch */
    n = (size_t)sprintf(line, "{\"pad\":\"");
    for (size_t k = 0; k < big / 2; k++, n += 2)
        memcpy(line + n, "\\n", 2);
    n += (size_t)sprintf(line + n, "\"}");
    ck_assert_int_eq(jparse_n(f, line, n, ALL, 0, v), FORMAT_OK);
    ck_assert(v[pad].kind == VALUE_STR && v[pad].len == big / 2 && v[pad].s[0] == '\n' &&
              v[pad].s[big / 2 - 1] == '\n');
    /* 5M array elements, the last one wanted */
    n = (size_t)sprintf(line, "{\"a\":[");
    for (size_t k = 0; k < 5000000; k++, n += 2)
        memcpy(line + n, k == 4999999 ? "7]" : "1,", 2);
    line[n++] = '}';
    ck_assert_int_eq(jparse_n(f, line, n, ALL, 0, v), FORMAT_OK);
    ck_int(&v[a], VALUE_INT, 7, "7");
    free(line);
}
END_TEST

/* ---- creating ---------------------------------------------------------------------- */

START_TEST(test_create_errors)
{
    static const struct {
        const char *field, *msg;
    } cases[] = {
        {"a..b", "json format: field 1 \"a..b\": a member path is a name"},
        {"[0]", "json format: field 1 \"[0]\": a member path is a name"},
        {"a b", "json format: field 1 \"a b\": a member path is a name"},
        {"", "json format: field 1 \"\": a member path is a name"},
        {"`a", "json format: field 1 \"`a\": a member path is a name"},
        {"a:number", "json format: field 1 \"a:number\": unknown type \"number\" (int, float, "
                     "time or str)"},
        {"a:int:x", "json format: field 1 \"a:int:x\": unknown type \"int:x\""},
    };
    format_t *f;
    abbey_err_t err;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *fields[] = {cases[k].field};
        format_spec_t spec = {.kind = "json", .fields = fields, .nfields = 1};
        ck_assert_int_eq(format_create(&spec, pool, &f, &err), APR_EINVAL);
        ck_assert_msg(strncmp(err.msg, cases[k].msg, strlen(cases[k].msg)) == 0, "%s: %s",
                      cases[k].field, err.msg);
    }
    const char *dup[] = {"a.b:int", "`a`.`b`"};
    format_spec_t spec = {.kind = "json", .fields = dup, .nfields = 2};
    ck_assert_int_eq(format_create(&spec, pool, &f, &err), APR_EINVAL);
    ck_assert_str_eq(err.msg, "json format: fields: field 2 \"`a`.`b`\": the path is listed twice");
    format_spec_t delim = {.kind = "json", .arg = ","}, header = {.kind = "json", .header = 1};
    ck_assert_int_eq(format_create(&delim, pool, &f, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "json format: takes no delimiter"));
    ck_assert_int_eq(format_create(&header, pool, &f, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "json format: takes no header"));
}
END_TEST

/* The job's format after loading `format: <fmt>`; NULL with *err set when refused. */
static format_t *load_format(const char *fmt, abbey_err_t *err)
{
    char yaml[1024];
    rules_config_t *c = NULL;
    snprintf(yaml, sizeof yaml,
             "jobs:\n  - name: j\n    sources: [/tmp/x.log]\n    format: %s\n    groups:\n"
             "      - name: g\n        entries:\n          - {name: e, key: [req.method], "
             "values: {n: count, b: sum(bytes)}}\n",
             fmt);
    if (rules_load_buffer(yaml, strlen(yaml), "j.yaml", pool, &c, err) != APR_SUCCESS)
        return NULL;
    return c->jobs[0].format;
}

START_TEST(test_rules)
{
    abbey_err_t err;
    format_t *f;
    static const char *const ok[] = {"json", "{json: true}", "{json: {}}",
                                     "{json: {fields: [bytes:int, \"`@t`:time\"]}}"};
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        ck_assert_msg((f = load_format(ok[k], &err)) != NULL, "%s: %s", ok[k], err.msg);
        ck_assert_str_eq(format_name(f), "json");
        ck_assert_int_eq(format_field_index(f, "req.method", 10) >= 0, 1);
        ck_assert_int_eq(format_field_type(f, format_field_index(f, "bytes", 5)),
                         k == 3 ? FORMAT_INT : FORMAT_AUTO);
    }
    ck_assert_ptr_null(load_format("{json: {fields: [\"a..b\"]}}", &err));
    ck_assert_msg(strstr(err.msg, "j.yaml:4:") && strstr(err.msg, "field 1 \"a..b\""), "%s",
                  err.msg);
    ck_assert_ptr_null(load_format("{json: {fields: [x:long]}}", &err));
    ck_assert_msg(strstr(err.msg, "unknown type \"long\""), "%s", err.msg);
}
END_TEST

static Suite *format_json_suite(void)
{
    Suite *s = suite_create("format_json");
    TCase *tc = new_case(s, "values");
    tcase_add_checked_fixture(tc, NULL, jteardown);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_escapes);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_strings_as_numbers);
    tcase_add_test(tc, test_typed);
    tcase_add_test(tc, test_duplicates);
    tc = new_case(s, "lines");
    tcase_add_checked_fixture(tc, NULL, jteardown);
    tcase_add_test(tc, test_invalid);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_boundaries);
    tcase_add_test(tc, test_long_line);
    tc = new_case(s, "create");
    tcase_add_checked_fixture(tc, NULL, jteardown);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_rules);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(format_json_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
