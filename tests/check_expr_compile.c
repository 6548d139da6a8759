/* check_expr_compile.c - unit tests for compiling expressions (rules/expr_parse.c,
 * rules/expr_lex.c): every class of compile error with its exact position, aggregates where
 * none may be, the limits on sizes and depths, the field masks and types an expression
 * needs, and untyped (FORMAT_AUTO) fields. The oracle is the message and position each
 * erroneous source must give, and masks and types worked out by hand from the source. */
#include <check.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "check_run.h"
#include "expr.h"
#include "expr_int.h" /* JIT-compiled regexes; the match context of a context */
#include "format.h"

#define FIXTURE_SUITE "check_expr_compile"
#include "fixture_expr.h"

/* ---- errors ---- */

START_TEST(test_errors)
{
    static const struct {
        const char *src, *msg;
    } cases[] = {
        {"stauts = 200", "rules.yaml:12:20: unknown field 'stauts', expected one of: ip, ident, "
                         "user, time, request, method, path, protocol, status, bytes, referer, "
                         "agent"},
        {"status >=", "rules.yaml:12:29: unexpected end of expression, expected an operand (a "
                      "field, number, string, function or '(')"},
        {"(status = 200", "rules.yaml:12:33: unexpected end of expression, expected ')' to close "
                          "the '(' at 12:20"},
        {"((status) = 200", "rules.yaml:12:35: unexpected end of expression, expected ')' to "
                            "close the '(' at 12:20"},
        {"status = 200)", "rules.yaml:12:32: unexpected ')', expected end of expression (no '(' "
                          "to close)"},
        {"status = 200 200", "rules.yaml:12:33: unexpected '200', expected an operator or end of "
                             "expression"},
        {"status < 300 < 400", "rules.yaml:12:33: unexpected '<', expected an operator or end "
                               "of expression"},
        {"", "rules.yaml:12:20: unexpected end of expression, expected an expression"},
        {"foo(1)", "rules.yaml:12:20: unknown function 'foo', expected one of: time_bucket, "
                   "lower, upper, len, substr, int, float, str, coalesce"},
        {"lower(path, 1)", "rules.yaml:12:32: lower() takes 1 argument, expected ')' before this "
                           "one"},
        {"coalesce(1, 2, 3)", "rules.yaml:12:35: coalesce() takes 2 arguments, expected ')' "
                              "before this one"},
        {"substr(path)", "rules.yaml:12:31: substr() takes at least 2 arguments, got 1"},
        {"len()", "rules.yaml:12:24: len() takes 1 argument, got 0"},
        {"lower(path,)", "rules.yaml:12:31: unexpected ')', expected an operand (a field, "
                         "number, string, function or '(')"},
        {"lower(path", "rules.yaml:12:30: unexpected end of expression, expected ',' or ')' "
                       "after a function argument"},
        {"path + 1", "rules.yaml:12:20: 'path' is text, expected a number for '+'"},
        {"1 * method", "rules.yaml:12:24: 'method' is text, expected a number for '*'"},
        {"-path", "rules.yaml:12:21: 'path' is text, expected a number for '-'"},
        {"true + 1", "rules.yaml:12:20: 'true' is true/false, expected a number for '+'"},
        {"status = \"200\"", "rules.yaml:12:29: \"200\" is text, expected a number to compare "
                             "with 'status'"},
        {"path > 3", "rules.yaml:12:27: '3' is a number, expected text to compare with 'path'"},
        {"true < 1", "rules.yaml:12:27: '1' is a number, expected true/false to compare with "
                     "'true'"},
        {"referer = null", "rules.yaml:12:30: comparison with null is always false, expected a "
                           "value (to test for a missing value use 'x' or 'not x')"},
        {"status ~ '^2'", "rules.yaml:12:20: '~' needs text, 'status' is a number"},
        {"time !~ '^2'", "rules.yaml:12:20: '!~' needs text, 'time' is a time"},
        {"path ~ '('", "rules.yaml:12:27: invalid regular expression: missing closing "
                       "parenthesis at offset 1 of the pattern, expected a PCRE2 pattern"},
        {"path ~ '(*UTF)x'", "rules.yaml:12:27: invalid regular expression: using UTF is "
                             "disabled by the application at offset 6 of the pattern, expected "
                             "a PCRE2 pattern"},
        {"path ~ path", "rules.yaml:12:27: unexpected 'path', expected a string literal (the "
                        "regular expression) after '~'"},
        {"lower(status)", "rules.yaml:12:26: lower() needs text, 'status' is a number"},
        {"len(1 + 2)", "rules.yaml:12:24: len() needs text, '1 + 2' is a number"},
        {"substr(path, 'a')", "rules.yaml:12:33: 'a' is text, expected a number for substr()"},
        {"status in [200, \"x\"]", "rules.yaml:12:36: \"x\" is text, expected a number like "
                                   "the list's first item"},
        {"status in []", "rules.yaml:12:31: unexpected ']', expected a string or number literal "
                         "in the list"},
        {"status in [200,]", "rules.yaml:12:35: unexpected ']', expected a string or number "
                             "literal in the list"},
        {"status in [200 300]", "rules.yaml:12:35: unexpected '300', expected ',' or ']' in the "
                                "list"},
        {"status in 200", "rules.yaml:12:30: unexpected '200', expected '[' to start the list "
                          "after 'in'"},
        {"status in [bytes]", "rules.yaml:12:31: unexpected 'bytes', expected a string or "
                              "number literal in the list"},
        {"status in [-bytes]", "rules.yaml:12:31: '-bytes' is not a literal, expected a string "
                               "or number literal in the list"},
        {"path in [1, 2]", "rules.yaml:12:20: 'path' is text, expected a number for 'in' with a "
                           "list of numbers"},
        {"status not in ['a']", "rules.yaml:12:20: 'in' with a list of strings needs text, "
                                "'status' is a number"},
        {"9223372036854775808", "rules.yaml:12:20: integer '9223372036854775808' out of range, "
                                "expected at most 9223372036854775807"},
        {"1e999", "rules.yaml:12:20: number '1e999' out of range"},
        {"path = \"abc", "rules.yaml:12:27: unterminated string, expected a closing \""},
        {"path = 'abc\\'", "rules.yaml:12:27: unterminated string, expected a closing '"},
        {"status ! 200", "rules.yaml:12:27: unexpected '!', expected '!=' or '!~' (use 'not' "
                         "for negation)"},
        {"status # 1", "rules.yaml:12:27: unexpected character '#'"},
        {"10x", "rules.yaml:12:20: malformed number '10x', expected a number or a duration such "
                "as 10s, 1m, 1h, 1d"},
        {"1.5h", "rules.yaml:12:20: malformed number '1.5h', expected a number or a duration "
                 "such as 10s, 1m, 1h, 1d (whole numbers only)"},
        {"time_bucket(time, 500ms)", "rules.yaml:12:38: duration '500ms' is not a whole number "
                                     "of seconds"},
        {"time_bucket(time, path)", "rules.yaml:12:38: 'path' is not a duration, expected a "
                                    "positive duration literal such as 10s, 1m, 1h, 1d or 60"},
        {"time_bucket(time, 0)", "rules.yaml:12:38: '0' is not a duration, expected a positive "
                                 "duration literal such as 10s, 1m, 1h, 1d or 60"},
        {"time_bucket(time, -60)", "rules.yaml:12:38: '-60' is not a duration, expected a "
                                   "positive duration literal such as 10s, 1m, 1h, 1d or 60"},
        {"time_bucket(path, 1m)", "rules.yaml:12:32: time_bucket() needs a time or a number, "
                                  "'path' is text"},
        {"status = 200 and\n  foo = 1", "rules.yaml:13:3: unknown field 'foo', expected one of: "
                                        "ip, ident, user, time, request, method, path, "
                                        "protocol, status, bytes, referer, agent"},
        {"status = 200 and\n\n bytes > 'x'", "rules.yaml:14:10: 'x' is text, expected a number "
                                             "to compare with 'bytes'"},
        {"STATUS AND 1", "rules.yaml:12:20: unknown field 'STATUS', expected one of: ip, ident, "
                         "user, time, request, method, path, protocol, status, bytes, referer, "
                         "agent"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_str_eq(error_of(cases[i].src), cases[i].msg);
}
END_TEST

START_TEST(test_error_aggregates)
{
    static const char *aggs[] = {"count",          "sum",       "min", "max", "avg", "distinct",
                                 "distinct_exact", "percentile"};
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++) {
        char src[64], want[512];
        snprintf(src, sizeof src, "1 + %s(bytes)", aggs[i]);
        snprintf(want, sizeof want,
                 "rules.yaml:12:24: '%s' is an aggregate, not a function "
                 "here (aggregates go in an entry's values), expected one of: time_bucket, "
                 "lower, upper, len, substr, int, float, str, coalesce",
                 aggs[i]);
        ck_assert_str_eq(error_of(src), want);
    }
}
END_TEST

START_TEST(test_error_limits)
{
    char *deep = "1", *chain = "1", *parens = "";
    expr_t *e;
    abbey_err_t err;
    /* right-nested sums: n '+' need n + 1 value slots */
    for (int i = 0; i < 63; i++)
        deep = apr_psprintf(pool, "1 + (%s)", deep);
    e = compile(deep);
    ck_assert_int_eq(e->depth, 64);
    deep = apr_psprintf(pool, "1 + (%s)", deep);
    ck_assert_str_eq(error_of(deep), "rules.yaml:12:20: expression needs 65 value slots, more "
                                     "than the 64 an evaluation context has, expected a "
                                     "simpler expression");
    /* a long left-deep chain needs two slots, up to the tree height limit */
    for (int i = 0; i < 500; i++)
        chain = apr_pstrcat(pool, chain, "+1", NULL);
    e = compile(chain);
    ck_assert_int_eq(e->depth, 2);
    parse(LINE1);
    value_t v;
    ck_assert_int_eq(expr_eval(e, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_INT && v.i == 501);
    for (int i = 0; i < 20; i++)
        chain = apr_pstrcat(pool, chain, "+1", NULL);
    ck_assert_str_eq(error_of(chain), "rules.yaml:12:20: expression nested more than 512 levels "
                                      "deep, expected a simpler expression (use 'in [...]' for "
                                      "long alternatives)");
    for (int i = 0; i < 300; i++)
        parens = apr_pstrcat(pool, parens, "(", NULL);
    ck_assert_str_eq(error_of(parens), "rules.yaml:12:220: expression nested more than 200 "
                                       "levels deep");
    /* without a where, positions count from 1:1 of an unnamed expression */
    ck_assert_int_eq(expr_compile("status +", comb, NULL, pool, &e, &err), APR_EINVAL);
    ck_assert_str_eq(err.msg, "<expression>:1:9: unexpected end of expression, expected an "
                              "operand (a field, number, string, function or '(')");
}
END_TEST

/* ---- masks and types ---- */

#define BIT(i) ((uint64_t)1 << (i))

START_TEST(test_masks)
{
    /* combined: ip 0, ident 1, user 2, time 3, request 4, method 5, path 6,
     * protocol 7, status 8, bytes 9, referer 10, agent 11 */
    static const struct {
        const char *src;
        uint64_t fields, numeric;
        int ref;
        expr_type_t type;
    } cases[] = {
        {"status", BIT(8), 0, 8, EXPR_T_NUM},
        {"(path)", BIT(6), 0, 6, EXPR_T_STR},
        {"time", BIT(3), 0, 3, EXPR_T_TIME},
        {"bytes + 1", BIT(9), BIT(9), -1, EXPR_T_NUM},
        {"-bytes", BIT(9), BIT(9), -1, EXPR_T_NUM},
        {"status >= 200 and method = 'GET'", BIT(8) | BIT(5), BIT(8), -1, EXPR_T_BOOL},
        {"time_bucket(time, 1m)", BIT(3), BIT(3), -1, EXPR_T_TIME},
        {"time + 60", BIT(3), BIT(3), -1, EXPR_T_TIME},
        {"time - time", BIT(3), BIT(3), -1, EXPR_T_NUM},
        {"lower(path)", BIT(6), 0, -1, EXPR_T_STR},
        {"len(agent) > 100", BIT(11), 0, -1, EXPR_T_BOOL},
        {"path ~ 'x' or referer in ['a']", BIT(6) | BIT(10), 0, -1, EXPR_T_BOOL},
        {"status in [200, 304]", BIT(8), BIT(8), -1, EXPR_T_BOOL},
        {"int(bytes)", BIT(9), BIT(9), -1, EXPR_T_NUM},
        {"int(user)", BIT(2), 0, -1, EXPR_T_NUM},
        {"substr(path, status)", BIT(6) | BIT(8), BIT(8), -1, EXPR_T_STR},
        {"coalesce(bytes, 0)", BIT(9), 0, -1, EXPR_T_NUM},
        {"coalesce(bytes, 0) * 2", BIT(9), BIT(9), -1, EXPR_T_NUM},
        {"coalesce(referer, agent)", BIT(10) | BIT(11), 0, -1, EXPR_T_STR},
        {"coalesce(referer, 1)", BIT(10), 0, -1, EXPR_T_ANY},
        {"coalesce(null, status)", BIT(8), 0, -1, EXPR_T_NUM},
        {"str(bytes)", BIT(9), 0, -1, EXPR_T_STR},
        {"42", 0, 0, -1, EXPR_T_NUM},
        {"not ip", BIT(0), 0, -1, EXPR_T_BOOL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expr_t *e = compile(cases[i].src);
        ck_assert_msg(expr_fields(e) == cases[i].fields, "%s: fields %llx", cases[i].src,
                      (unsigned long long)expr_fields(e));
        ck_assert_msg(expr_numeric_fields(e) == cases[i].numeric, "%s: numeric %llx", cases[i].src,
                      (unsigned long long)expr_numeric_fields(e));
        ck_assert_msg(expr_field_ref(e) == cases[i].ref, "%s: ref %d", cases[i].src,
                      expr_field_ref(e));
        ck_assert_msg(expr_type(e) == cases[i].type, "%s: type %d", cases[i].src, expr_type(e));
    }
}
END_TEST

/* ---- untyped fields ---- */

START_TEST(test_auto_fields)
{
    /* ts:time, user (auto), api:str, code (auto), ms:float */
    const char *names[] = {"ts:time", "user", "api:str", "code", "ms:float"};
    static const struct {
        const char *src;
        uint64_t numeric;
        expr_type_t type;
    } cases[] = {
        {"code > 5", BIT(3), EXPR_T_BOOL},
        {"code = '007'", 0, EXPR_T_BOOL},
        {"code = user", 0, EXPR_T_BOOL},
        {"code + 1", BIT(3), EXPR_T_NUM},
        {"code in [1, 2]", BIT(3), EXPR_T_BOOL},
        {"code in ['1', '2']", 0, EXPR_T_BOOL},
        {"coalesce(code, user) + 1", BIT(3) | BIT(1), EXPR_T_NUM},
        {"int(code)", BIT(3), EXPR_T_NUM},
        {"int(api)", 0, EXPR_T_NUM},
        {"time_bucket(code, 1m)", BIT(3), EXPR_T_TIME},
        {"lower(user) ~ 'bob'", 0, EXPR_T_BOOL},
        {"user", 0, EXPR_T_ANY},
        {"ms / 2", BIT(4), EXPR_T_NUM},
    };
    format_t *f;
    ck_assert_int_eq(format_create_split("\t", names, 5, pool, &f, NULL), APR_SUCCESS);
    format_state_t *st = format_state_create(f, 1 << 20, pool);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expr_t *e = compile_f(cases[i].src, f);
        ck_assert_msg(expr_numeric_fields(e) == cases[i].numeric, "%s: numeric %llx", cases[i].src,
                      (unsigned long long)expr_numeric_fields(e));
        ck_assert_msg(expr_type(e) == cases[i].type, "%s: type %d", cases[i].src, expr_type(e));
    }
    /* the same field as a number and as text: converted by the format, raw text kept */
    const char *line = "1431857103\tBob\t/api/v1\t007\t12.5";
    expr_t *num = compile_f("code + 1", f), *txt = compile_f("code = '007'", f);
    expr_t *both = compile_f("code = user", f), *ms = compile_f("ms * 2", f);
    uint64_t nmask = expr_numeric_fields(num), need = BIT(1) | BIT(3) | BIT(4);
    value_t v;
    ck_assert_int_eq(format_parse(st, line, strlen(line), need, nmask, fields), FORMAT_OK);
    expr_ctx_reset(ctx);
    ck_assert_int_eq(expr_eval(num, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_INT && v.i == 8);
    ck_assert_int_eq(expr_eval(txt, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_BOOL && v.i == 1);
    ck_assert_int_eq(expr_eval(ms, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_FLOAT && v.f == 25.0);
    ck_assert_int_eq(expr_eval(both, fields, ctx, &v), -1); /* 7 against "Bob" */
    /* unconverted text used as a number at run time */
    ck_assert_int_eq(format_parse(st, line, strlen(line), need, 0, fields), FORMAT_OK);
    ck_assert_int_eq(expr_eval(num, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_INT && v.i == 8);
    line = "1431857103\tBob\t/api/v1\t7\t12.5";
    ck_assert_int_eq(format_parse(st, line, strlen(line), need, 0, fields), FORMAT_OK);
    ck_assert_int_eq(expr_eval(txt, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_BOOL && v.i == 0);
    line = "1431857103\t7.0\t/api/v1\t7\t12.5";
    ck_assert_int_eq(format_parse(st, line, strlen(line), need, 0, fields), FORMAT_OK);
    ck_assert_int_eq(expr_eval(both, fields, ctx, &v), 0); /* "7" vs "7.0": both text */
    ck_assert(v.kind == VALUE_BOOL && v.i == 0);
    line = "1431857103\tx\t/api/v1\tseven\t12.5";
    ck_assert_int_eq(format_parse(st, line, strlen(line), need, 0, fields), FORMAT_OK);
    ck_assert_int_eq(expr_eval(num, fields, ctx, &v), -1);
    ck_assert_str_eq(error_f("api + 1", f), "rules.yaml:12:20: 'api' is text, expected a number "
                                            "for '+'");
    ck_assert_str_eq(error_f("nope", f), "rules.yaml:12:20: unknown field 'nope', expected one "
                                         "of: ts, user, api, code, ms");
}
END_TEST

static Suite *expr_compile_suite(void)
{
    Suite *s = suite_create("expr_compile");
    TCase *tc;

    tc = tcase_create("compile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_error_aggregates);
    tcase_add_test(tc, test_error_limits);
    tcase_add_test(tc, test_masks);
    tcase_add_test(tc, test_auto_fields);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(expr_compile_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
