/* check_format_split.c - unit tests for the split line format (rules/format_split.c: fields
 * cut at a delimiter of one or more bytes, typed int, float and time) and for creating
 * formats (format_create_split's refusals, the accessors, format_bad_text). Lines are
 * parsed from a heap copy of exactly their length (tests/fixture_format.h), so under ASan
 * or valgrind any read past the end is caught. Oracles: field values worked out by hand for
 * each constructed line, strtod for floats, and the error messages the refusals must name. */
#include <apr_general.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "format.h"

#define FIXTURE_SUITE "check_format_split"
#include "fixture_format.h"

/* ---- split --------------------------------------------------------------- */

static format_t *mk_split(const char *delim, const char *const *names, int n)
{
    format_t *f = NULL;
    abbey_err_t err;
    ck_assert_msg(format_create_split(delim, names, n, pool, &f, &err) == APR_SUCCESS, "%s",
                  err.msg);
    return f;
}

START_TEST(test_split_tab)
{
    static const char *const names[] = {"ts:time", "user", "api:str", "status:int", "ms:float"};
    format_t *f = mk_split("\t", names, 5);
    value_t v[FORMAT_MAX_FIELDS];
    ck_assert_str_eq(format_name(f), "split");
    ck_assert_int_eq(format_nfields(f), 5);
    ck_assert_int_eq(parse(f, "1431857103\talice\t/v1/x\t200\t12.5", v), FORMAT_OK);
    ck_int(&v[0], VALUE_TIME, 1431857103, "1431857103");
    ck_text(&v[1], VALUE_STR, "alice");
    ck_text(&v[2], VALUE_STR, "/v1/x");
    ck_int(&v[3], VALUE_INT, 200, "200");
    ck_text(&v[4], VALUE_FLOAT, "12.5");
    ck_assert(v[4].f == 12.5);
    /* empty and "-": NULL in typed numeric fields, text in str/auto */
    ck_assert_int_eq(parse(f, "-\t-\t-\t\t-", v), FORMAT_OK);
    ck_text(&v[0], VALUE_NULL, "-");
    ck_text(&v[1], VALUE_STR, "-");
    ck_text(&v[2], VALUE_STR, "-");
    ck_text(&v[3], VALUE_NULL, "");
    ck_text(&v[4], VALUE_NULL, "-");
    ck_assert_int_eq(parse(f, "\t\t\t\t", v), FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "");
    /* field counts */
    ck_assert_int_eq(parse(f, "1\ta\tb\t200", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "1\ta\tb\t200\t1\t", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "1\ta\tb\t200\t1\tx", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "", v), FORMAT_BAD_FIELDS);
    /* typed conversions */
    ck_assert_int_eq(parse(f, "1\ta\tb\t200.5\t1", v), FORMAT_BAD_NUMBER);
    ck_assert_int_eq(parse(f, "1\ta\tb\t200\tabc", v), FORMAT_BAD_NUMBER);
    ck_assert_int_eq(parse(f, "yesterday\ta\tb\t200\t1", v), FORMAT_BAD_TIME);
    ck_assert_int_eq(parse(f, "1\ta\tb\t-42\t-1.5e3\r", v), FORMAT_OK);
    ck_int(&v[3], VALUE_INT, -42, "-42");
    ck_assert(v[4].kind == VALUE_FLOAT && v[4].f == -1500.0);
    ck_assert_int_eq(parse(f, "1\ta\tb\t9223372036854775807\t1", v), FORMAT_OK);
    ck_assert_int_eq(v[3].i, INT64_MAX);
    ck_assert_int_eq(parse(f, "1\ta\tb\t-9223372036854775808\t1", v), FORMAT_OK);
    ck_assert_int_eq(v[3].i, INT64_MIN);
    ck_assert_int_eq(parse(f, "1\ta\tb\t9223372036854775808\t1", v), FORMAT_BAD_NUMBER);
    free_last();
}
END_TEST

START_TEST(test_split_multibyte)
{
    static const char *const names[] = {"host", "bytes", "ratio", "when:time"};
    format_t *f = mk_split(" | ", names, 4);
    value_t v[FORMAT_MAX_FIELDS];
    /* auto fields are text unless num says otherwise */
    ck_assert_int_eq(parse(f, "web1 | 1024 | 0.25 | 2015-05-17T10:05:03Z", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "web1");
    ck_text(&v[1], VALUE_STR, "1024");
    ck_text(&v[2], VALUE_STR, "0.25");
    ck_int(&v[3], VALUE_TIME, 1431857103, "2015-05-17T10:05:03Z");
    uint64_t num = (1u << 1) | (1u << 2);
    char *copy;
    const char *l1 = "web1 | 1024 | 0.25 | 2015-05-17T10:05:03Z";
    ck_assert_int_eq(parse_n(f, l1, strlen(l1), ALL, num, v, &copy), FORMAT_OK);
    ck_int(&v[1], VALUE_INT, 1024, "1024");
    ck_assert(v[2].kind == VALUE_FLOAT && v[2].f == 0.25);
    ck_text(&v[0], VALUE_STR, "web1");
    free(copy);
    const char *l2 = "web1 | 10k | 0.25 | 2015-05-17T10:05:03Z";
    ck_assert_int_eq(parse_n(f, l2, strlen(l2), ALL, num, v, &copy), FORMAT_BAD_NUMBER);
    free(copy);
    ck_assert_int_eq(parse_n(f, l2, strlen(l2), ALL, 0, v, &copy), FORMAT_OK);
    free(copy);
    const char *l3 = "web1 | - |  | -";
    ck_assert_int_eq(parse_n(f, l3, strlen(l3), ALL, num, v, &copy), FORMAT_OK);
    ck_text(&v[1], VALUE_NULL, "-");
    ck_text(&v[2], VALUE_NULL, "");
    ck_text(&v[3], VALUE_NULL, "-");
    free(copy);
    /* an integer too large for int64 is a float when auto */
    const char *l4 = "a | 99999999999999999999 | 1e2 | 0";
    ck_assert_int_eq(parse_n(f, l4, strlen(l4), ALL, num, v, &copy), FORMAT_OK);
    ck_assert(v[1].kind == VALUE_FLOAT && v[1].f == 1e20);
    ck_assert(v[2].kind == VALUE_FLOAT && v[2].f == 100.0);
    free(copy);
    /* the delimiter's pieces alone do not split; wrong counts */
    ck_assert_int_eq(parse(f, "a | b | c | d | 0", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "a|b | c | d", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "a|b | c | x | d", v), FORMAT_BAD_TIME);
    ck_assert_int_eq(parse(f, "a|b | c | x | 0", v), FORMAT_OK);
    ck_text(&v[0], VALUE_STR, "a|b");
    ck_assert_int_eq(parse(f, "a | b | c", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "a | b | c | 0 | ", v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(parse(f, "a | b | c | 0 |", v), FORMAT_BAD_TIME); /* "0 |" is not a time */
    free_last();
}
END_TEST

START_TEST(test_split_times)
{
    static const char *const names[] = {"t:time"};
    format_t *f = mk_split(",", names, 1);
    value_t v[FORMAT_MAX_FIELDS];
    static const struct {
        const char *text;
        int64_t epoch;
    } ok[] = {
        {"1431857103", 1431857103},
        {"1431857103.999", 1431857103},
        {"-1", -1},
        {"2015-05-17T10:05:03Z", 1431857103},
        {"2015-05-17 10:05:03", 1431857103},
        {"2015-05-17T10:05:03.250-07:00", 1431882303},
        {"2015-05-17T10:05:03+0200", 1431849903},
        {"2015-05-17T10:05:03+05", 1431839103},
        {"17/May/2015:10:05:03 +0000", 1431857103},
        {"[17/May/2015:10:05:03 -0700]", 1431882303},
        {"2016-02-29T00:00:00Z", 1456704000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(parse(f, ok[i].text, v) == FORMAT_OK, "%s", ok[i].text);
        ck_int(&v[0], VALUE_TIME, ok[i].epoch, ok[i].text);
    }
    static const char *const bad[] = {
        "2015-02-29T00:00:00Z",
        "2015-13-01T00:00:00Z",
        "2015-05-17T24:00:00Z",
        "2015-05-17T10:05:03+2400",
        "2015-05-17T10:05:03+02:",
        "2015-05-17T10:05:03X",
        "2015-05-17T10:05:03.",
        "2015-05-17",
        "12a",
        "1.2.3",
        "1.",
        "[17/May/2015:10:05:03 +0000",
        "31/Apr/2015:10:05:03 +0000",
        "now",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse(f, bad[i], v) == FORMAT_BAD_TIME, "accepted %s", bad[i]);
    free_last();
}
END_TEST

/* Floats against strtod: every result must be the correctly rounded double. */
START_TEST(test_split_floats)
{
    static const char *const names[] = {"x:float"};
    format_t *f = mk_split("\t", names, 1);
    value_t v[FORMAT_MAX_FIELDS];
    static const char *const fixed[] = {
        "0",
        "-0",
        "+1",
        "1.",
        ".5",
        "0.1",
        "3.14159",
        "1e22",
        "1e23",
        "9007199254740993",
        "123456789012345678901234567890",
        "0.000000000000000000000000001",
        "1.7976931348623157e308",
        "4.9e-324",
        "2.2250738585072014e-308",
        "00012.50",
        "1E-5",
        "1e+5",
        "0.30000000000000004",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        ck_assert_msg(parse(f, fixed[i], v) == FORMAT_OK, "%s", fixed[i]);
        ck_assert_msg(v[0].f == strtod(fixed[i], NULL), "%s: %.17g", fixed[i], v[0].f);
    }
    srand(12345);
    char text[64];
    for (int i = 0; i < 20000; i++) {
        int ip = rand() % 20, fp = rand() % 20, n = 0;
        if (rand() % 2)
            text[n++] = '-';
        for (int k = 0; k < ip; k++)
            text[n++] = (char)('0' + rand() % 10);
        text[n++] = '.';
        for (int k = 0; k < fp; k++)
            text[n++] = (char)('0' + rand() % 10);
        if (ip + fp == 0)
            text[n++] = '7';
        if (rand() % 3 == 0)
            n += snprintf(text + n, sizeof text - (size_t)n, "e%d", rand() % 80 - 40);
        text[n] = '\0';
        ck_assert_msg(parse(f, text, v) == FORMAT_OK, "%s", text);
        ck_assert_msg(v[0].f == strtod(text, NULL), "%s: %.17g", text, v[0].f);
    }
    static const char *const bad[] = {".",   "e5",  "1e", "1e+", "1.2.3", "0x10", "inf",
                                      "nan", "1,5", " 1", "1 ",  "--1",   "1e5.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse(f, bad[i], v) == FORMAT_BAD_NUMBER, "accepted %s", bad[i]);
    free_last();
}
END_TEST

/* ---- creating formats ----------------------------------------------------- */

static void expect_create_error(const char *delim, const char *const *names, int n,
                                const char *mention)
{
    format_t *f = NULL;
    abbey_err_t err = {{0}};
    ck_assert_int_eq(format_create_split(delim, names, n, pool, &f, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, mention) != NULL, "message \"%s\" lacks \"%s\"", err.msg,
                  mention);
}

/* The structure is checked before any conversion: a line with the wrong number of fields is
 * FORMAT_BAD_FIELDS whatever is needed, and a field no rule needs is never converted. */
START_TEST(test_split_structure_first)
{
    static const char *const names[] = {"n:int", "word"};
    format_t *f = mk_split(" | ", names, 2);
    format_state_t *st = format_state_create(f, 4096, pool);
    value_t v[FORMAT_MAX_FIELDS];
    const char *extra = "abc | x | y", *good = "abc | x";
    ck_assert_int_eq(format_parse(st, extra, strlen(extra), ALL, 0, v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(format_parse(st, extra, strlen(extra), 0, 0, v), FORMAT_BAD_FIELDS);
    ck_assert_int_eq(format_parse(st, good, strlen(good), ALL, 0, v), FORMAT_BAD_NUMBER);
    char why[128];
    ck_assert_str_eq(format_bad_describe(st, FORMAT_BAD_NUMBER, why, sizeof why),
                     "n is not a number");
    ck_assert_int_eq(format_parse(st, good, strlen(good), 1u << 1, 0, v), FORMAT_OK);
    ck_text(&v[1], VALUE_STR, "x");
}
END_TEST

START_TEST(test_create_errors)
{
    static const char *const dup[] = {"a", "status:int", "b", "status"};
    expect_create_error("\t", dup, 4, "\"status\"");
    expect_create_error("\t", dup, 4, "duplicate");
    static const char *const badtype[] = {"a", "ms:double"};
    expect_create_error("\t", badtype, 2, "ms:double");
    expect_create_error("\t", badtype, 2, "unknown type");
    static const char *const badname[] = {"9lives"};
    expect_create_error(",", badname, 1, "\"9lives\"");
    static const char *const dash[] = {"ok", "user-agent"};
    expect_create_error(",", dash, 2, "\"user-agent\"");
    static const char *const empty[] = {"a", ""};
    expect_create_error(",", empty, 2, "field 2");
    static const char *const notype[] = {":int"};
    expect_create_error(",", notype, 1, "\":int\"");
    static const char *const emptytype[] = {"x:"};
    expect_create_error(",", emptytype, 1, "\"x:\"");
    static const char *const one[] = {"a"};
    expect_create_error("", one, 1, "delimiter");
    expect_create_error(NULL, one, 1, "delimiter");

    const char *many[FORMAT_MAX_FIELDS + 1];
    char names[FORMAT_MAX_FIELDS + 1][16];
    for (int i = 0; i <= FORMAT_MAX_FIELDS; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        many[i] = names[i];
    }
    expect_create_error(",", many, FORMAT_MAX_FIELDS + 1, "\"f64\"");
    expect_create_error(",", many, FORMAT_MAX_FIELDS + 1, "too many");
    format_t *f = mk_split(",", many, FORMAT_MAX_FIELDS);
    ck_assert_int_eq(format_nfields(f), FORMAT_MAX_FIELDS);
    ck_assert_int_eq(format_field_index(f, "f63", 3), 63);

    abbey_err_t err;
    ck_assert_int_eq(format_create_builtin("access", pool, &f, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "combined"));
    ck_assert_ptr_nonnull(strstr(err.msg, "common"));
}
END_TEST

START_TEST(test_accessors)
{
    static const char *const want[] = {"ip",   "ident",    "user",   "time",  "request", "method",
                                       "path", "protocol", "status", "bytes", "referer", "agent"};
    ck_assert_str_eq(format_name(combined), "combined");
    ck_assert_str_eq(format_name(common), "common");
    ck_assert_int_eq(format_nfields(combined), 12);
    ck_assert_int_eq(format_nfields(common), 10);
    for (int i = 0; i < 12; i++) {
        ck_assert_str_eq(format_field_name(combined, i), want[i]);
        ck_assert_int_eq(format_field_index(combined, want[i], strlen(want[i])), i);
    }
    ck_assert_int_eq(format_field_type(combined, TIME), FORMAT_TIME);
    ck_assert_int_eq(format_field_type(combined, STATUS), FORMAT_INT);
    ck_assert_int_eq(format_field_type(combined, BYTES), FORMAT_INT);
    ck_assert_int_eq(format_field_type(combined, AGENT), FORMAT_STR);
    ck_assert_int_eq(format_field_index(common, "agent", 5), -1);
    ck_assert_ptr_null(format_field_name(common, 10));
    /* names need not be NUL-terminated */
    ck_assert_int_eq(format_field_index(combined, "statusXYZ", 6), STATUS);
    ck_assert_int_eq(format_field_index(combined, "stat", 4), -1);
    ck_assert_int_eq(format_field_index(combined, "path == 1", 4), PATH);

    static const char *const names[] = {"ts:time", "user", "n:int", "x:float", "s:str"};
    format_t *f = mk_split(" | ", names, 5);
    static const format_type_t types[] = {FORMAT_TIME, FORMAT_AUTO, FORMAT_INT, FORMAT_FLOAT,
                                          FORMAT_STR};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(format_field_type(f, i), types[i]);
    ck_assert_str_eq(format_field_name(f, 0), "ts");
    ck_assert_int_eq(format_field_index(f, "user", 4), 1);
    ck_assert_int_eq(format_field_index(f, "ts:time", 7), -1);

    ck_assert_str_eq(format_bad_text(FORMAT_BAD_QUOTE), "unterminated quote");
    for (int i = 0; i < FORMAT_BAD__COUNT; i++)
        ck_assert(format_bad_text((format_bad_t)i)[0] != '\0');
}
END_TEST

static Suite *format_split_suite(void)
{
    Suite *s = suite_create("format_split");
    TCase *tc = new_case(s, "split");
    tcase_add_test(tc, test_split_tab);
    tcase_add_test(tc, test_split_multibyte);
    tcase_add_test(tc, test_split_times);
    tcase_add_test(tc, test_split_floats);
    tc = new_case(s, "create");
    tcase_add_test(tc, test_split_structure_first);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_accessors);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(format_split_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
