/* check_expr.c - unit tests for rules/expr*.c: arithmetic and precedence, logic and
 * short-circuit, in-lists, NULL semantics, time buckets, string functions and scratch
 * exhaustion, and that evaluation allocates nothing; regexes are tests/check_expr_regex.c,
 * compile errors, masks and untyped fields tests/check_expr_compile.c. Oracles are
 * hand-worked values or brute force (tests/fixture_expr.h: compiled over the combined
 * format and evaluated over a real line). */
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

#define FIXTURE_SUITE "check_expr"
#include "fixture_expr.h"

/* ---- arithmetic ---- */

START_TEST(test_precedence)
{
    ASSERT_INT("2+3*4", 14);
    ASSERT_INT("(2+3)*4", 20);
    ASSERT_INT("10-4-3", 3); /* left associative: (10-4)-3 */
    ASSERT_INT("2*3-4*5", -14);
    ASSERT_FLOAT("100/10/5", 2.0); /* (100/10)/5, and '/' is always float */
    ASSERT_FLOAT("7/2", 3.5);
    ASSERT_FLOAT("6/2", 3.0);
    ASSERT_INT("7%3", 1);
    ASSERT_INT("-7%3", -1); /* sign of the dividend, like C and fmod */
    ASSERT_INT("2+7%3*2", 4);
    ASSERT_INT("-2*3", -6);
    ASSERT_INT("2*-3", -6);
    ASSERT_INT("- -3", 3);
    ASSERT_INT("1 - -1", 2);
    ASSERT_INT("-(2+3)", -5);
    ASSERT_INT("-status", -200);
    ASSERT_INT("-status + 1", -199); /* unary minus binds tighter than + */
    ASSERT_INT("bytes - status*1000", 3023);
    ASSERT_INT("1m + 1h + 1d + 10s", 60 + 3600 + 86400 + 10);
    ASSERT_INT("2000ms", 2);
}
END_TEST

START_TEST(test_numbers)
{
    ASSERT_FLOAT("1 + 0.5", 1.5);
    ASSERT_FLOAT("0.5 * 4", 2.0);
    ASSERT_FLOAT("1e3", 1000.0);
    ASSERT_FLOAT("2.5e-1 + 1", 1.25);
    ASSERT_FLOAT("7.5 % 2", 1.5);
    ASSERT_FLOAT("-bytes / 2", -101511.5);
    ASSERT_INT("9223372036854775807 - 1", 9223372036854775806LL);
    ASSERT_FLOAT("9223372036854775807 + 1", 9223372036854775808.0); /* overflow: float */
    ASSERT_FLOAT("-9223372036854775807 - 2", -9223372036854775809.0);
    ASSERT_FLOAT("4611686018427387904 * 2", 9223372036854775808.0);
    ASSERT_INT("-9223372036854775807 % -1", 0);
    ASSERT_NULL("1 / 0", LINE1);
    ASSERT_NULL("1.5 / 0.0", LINE1);
    ASSERT_NULL("7 % 0", LINE1);
    /* mixed comparisons are exact: 2^53+1 is not 2^53 even though doubles say so */
    ASSERT_BOOL("9007199254740993 > 9007199254740992.0", 1);
    ASSERT_BOOL("9007199254740993 = 9007199254740992.0", 0);
    ASSERT_BOOL("9007199254740992.0 < 9007199254740993", 1);
    ASSERT_BOOL("1 = 1.0", 1);
    ASSERT_BOOL("status = 200.0", 1);
    ASSERT_BOOL("status == 200", 1);
    ASSERT_BOOL("status != 200", 0);
    ASSERT_BOOL("status < 200.5", 1);
    ASSERT_BOOL("status <= 199.99", 0);
    ASSERT_BOOL("1e300 * 1e300 > 9223372036854775807", 1);   /* inf */
    ASSERT_BOOL("(1e300 * 1e300) - (1e300 * 1e300) = 1", 0); /* NaN: unordered */
    ASSERT_BOOL("(1e300 * 1e300) - (1e300 * 1e300) != 1", 1);
    ASSERT_BOOL("100/10/5 = 2", 1);
}
END_TEST

START_TEST(test_time_arith)
{
    value_t v = ev("time + 60");
    ck_assert_int_eq(v.kind, VALUE_TIME);
    ck_assert_int_eq(v.i, 1431857103 + 60);
    v = ev("time - 3");
    ck_assert_int_eq(v.kind, VALUE_TIME);
    ck_assert_int_eq(v.i, 1431857100);
    v = ev("time - time");
    ck_assert_int_eq(v.kind, VALUE_INT);
    ck_assert_int_eq(v.i, 0);
    ASSERT_BOOL("time > 1431857102 and time < 1431857104", 1);
    ASSERT_BOOL("time = 1431857103", 1);
}
END_TEST

/* ---- logic ---- */

START_TEST(test_truth_tables)
{
    static const char *ops[] = {"and", "or"};
    for (int op = 0; op < 2; op++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                char src[64];
                int want = op == 0 ? (a && b) : (a || b);
                snprintf(src, sizeof src, "%s %s %s", a ? "true" : "false", ops[op],
                         b ? "true" : "false");
                ASSERT_BOOL(src, want);
                /* same with non-boolean operands: 0, "" are false; 5, "x" true */
                snprintf(src, sizeof src, "%s %s %s", a ? "5" : "0", ops[op], b ? "'x'" : "''");
                ASSERT_BOOL(src, want);
            }
    ASSERT_BOOL("not true", 0);
    ASSERT_BOOL("not false", 1);
    ASSERT_BOOL("not not true", 1);
    ASSERT_BOOL("not 0", 1);
    ASSERT_BOOL("not ''", 1);
    ASSERT_BOOL("not 'a'", 0);
    ASSERT_BOOL("not 0.0", 1);
    /* not binds tighter than and, and tighter than or */
    ASSERT_BOOL("not false and false", 0);
    ASSERT_BOOL("true or true and false", 1); /* true or (true and false) */
    ASSERT_BOOL("(true or true) and false", 0);
    ASSERT_BOOL("false and false or true", 1); /* (false and false) or true */
    ASSERT_BOOL("not status = 404", 1);        /* not (status = 404) */
    ASSERT_BOOL("status >= 200 and status < 300 and method in ['GET', 'HEAD']", 1);
    ASSERT_BOOL_LINE("status >= 200 and status < 300 and method in ['GET', 'HEAD']", LINE_DASH, 0);
}
END_TEST

START_TEST(test_short_circuit)
{
    /* x is an untyped field holding text: used as a number it fails the line (-1) */
    const char *names[] = {"x", "y"};
    format_t *f;
    expr_t *e;
    value_t v, row[2] = {{.kind = VALUE_STR, .s = "abc", .len = 3},
                         {.kind = VALUE_STR, .s = "1", .len = 1}};
    ck_assert_int_eq(format_create_split(",", names, 2, pool, &f, NULL), APR_SUCCESS);
    e = compile_f("x + 1 > 0", f);
    ck_assert_int_eq(expr_eval(e, row, ctx, &v), -1);
    e = compile_f("false and x + 1 > 0", f);
    ck_assert_int_eq(expr_eval(e, row, ctx, &v), 0);
    ck_assert(v.kind == VALUE_BOOL && v.i == 0);
    e = compile_f("true and x + 1 > 0", f);
    ck_assert_int_eq(expr_eval(e, row, ctx, &v), -1);
    e = compile_f("true or x + 1 > 0", f);
    ck_assert_int_eq(expr_eval(e, row, ctx, &v), 0);
    ck_assert(v.kind == VALUE_BOOL && v.i == 1);
    e = compile_f("false or x + 1 > 0", f);
    ck_assert_int_eq(expr_eval(e, row, ctx, &v), -1);
    e = compile_f("y = 1 or x + 1 > 0", f);
    ck_assert_int_eq(expr_eval(e, row, ctx, &v), 0);
    ck_assert(v.kind == VALUE_BOOL && v.i == 1);
    e = compile_f("coalesce(y, x + 1)", f); /* the second argument is not evaluated */
    ck_assert_int_eq(expr_eval(e, row, ctx, &v), 0);
    ck_assert(v.kind == VALUE_STR && v.len == 1 && v.s[0] == '1');
    e = compile_f("y + 1", f); /* text that is a number converts at run time */
    ck_assert_int_eq(expr_eval(e, row, ctx, &v), 0);
    ck_assert(v.kind == VALUE_INT && v.i == 2);
}
END_TEST

/* ---- in-lists ---- */

START_TEST(test_in_lists)
{
    ASSERT_BOOL("method in ['GET', 'HEAD']", 1);
    ASSERT_BOOL("method in [\"POST\", \"PUT\"]", 0);
    ASSERT_BOOL("method not in ['POST', 'PUT']", 1);
    ASSERT_BOOL("method not in ['GET']", 0);
    ASSERT_BOOL("method in ['GE', 'GETS', 'get']", 0); /* exact bytes, no prefixes */
    ASSERT_BOOL("status in [200, 304]", 1);
    ASSERT_BOOL("status in [404, 500, 503]", 0);
    ASSERT_BOOL("status not in [404, 500]", 1);
    ASSERT_BOOL("status in [200.0]", 1);
    ASSERT_BOOL("status in [199.5, 200.5]", 0);
    ASSERT_BOOL("-1 in [3, -1, 2]", 1);
    ASSERT_BOOL("60 in [1m, 2m]", 1);
    ASSERT_BOOL("status in [200] and method in ['GET']", 1);
    /* NULL is in no list, and not in no list either */
    ASSERT_BOOL_LINE("bytes in [0, 1]", LINE_DASH, 0);
    ASSERT_BOOL_LINE("bytes not in [0, 1]", LINE_DASH, 0);
    ASSERT_BOOL_LINE("referer in ['-', '']", LINE_DASH, 0);
}
END_TEST

START_TEST(test_in_list_brute_force)
{
    /* a list of 300 pseudo-random numbers and strings against a linear search */
    int64_t items[300];
    char *src = "x in [", *ssrc = "x in [";
    unsigned seed = 12345;
    for (int i = 0; i < 300; i++) {
        seed = seed * 1103515245u + 12345u;
        items[i] = (int64_t)(seed >> 8) % 2000 - 1000;
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)items[i]);
        src = apr_pstrcat(pool, src, i ? ", " : "", num, NULL);
        ssrc = apr_pstrcat(pool, ssrc, i ? ", " : "", "'k", num, "'", NULL);
    }
    src = apr_pstrcat(pool, src, "]", NULL);
    ssrc = apr_pstrcat(pool, ssrc, "]", NULL);
    const char *names[] = {"x:int"}, *snames[] = {"x:str"};
    format_t *f, *sf;
    ck_assert_int_eq(format_create_split(",", names, 1, pool, &f, NULL), APR_SUCCESS);
    ck_assert_int_eq(format_create_split(",", snames, 1, pool, &sf, NULL), APR_SUCCESS);
    expr_t *e = compile_f(src, f), *se = compile_f(ssrc, sf);
    for (int64_t x = -1100; x <= 1100; x++) {
        int want = 0;
        char buf[32];
        value_t row = {.kind = VALUE_INT, .i = x}, srow, v;
        for (int i = 0; i < 300; i++)
            want |= items[i] == x;
        ck_assert_int_eq(expr_eval(e, &row, ctx, &v), 0);
        ck_assert_msg(v.kind == VALUE_BOOL && v.i == want, "%lld", (long long)x);
        snprintf(buf, sizeof buf, "k%lld", (long long)x);
        srow = (value_t){.kind = VALUE_STR, .s = buf, .len = (uint32_t)strlen(buf)};
        ck_assert_int_eq(expr_eval(se, &srow, ctx, &v), 0);
        ck_assert_msg(v.kind == VALUE_BOOL && v.i == want, "%s", buf);
    }
}
END_TEST

/* ---- time buckets ---- */

START_TEST(test_time_bucket)
{
    /* 17/May/2015:10:05:03 +0000 is 1431857103 (10:05:03 into the day) */
    static const struct {
        const char *src;
        int64_t want;
    } cases[] = {
        {"time", 1431857103},
        {"time_bucket(time, 1m)", 1431857103 - 3},
        {"time_bucket(time, 10s)", 1431857103 - 3},
        {"time_bucket(time, 5m)", 1431857103 - 3},          /* 10:05:00 */
        {"time_bucket(time, 1h)", 1431857103 - 5 * 60 - 3}, /* 10:00:00 */
        {"time_bucket(time, 1d)", 1431857103 - 36303},      /* 00:00:00 */
        {"time_bucket(time, 60)", 1431857103 - 3},
        {"time_bucket(0, 1m)", 0},
        {"time_bucket(59, 1m)", 0},
        {"time_bucket(60, 1m)", 60},
        {"time_bucket(-1, 1m)", -60},
        {"time_bucket(-60, 1m)", -60},
        {"time_bucket(-61, 1m)", -120},
        {"time_bucket(61.9, 60)", 60},
        {"time_bucket(-0.5, 10s)", -10},
        {"time_bucket(-9223372036854775807, 1s)", -9223372036854775807LL},
        {"time_bucket(9223372036854775807, 2)", 9223372036854775806LL},
        {"time_bucket(time + 57, 1m)", 1431857160},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        value_t v = ev(cases[i].src);
        ck_assert_msg(v.kind == VALUE_TIME, "%s: kind %d", cases[i].src, v.kind);
        ck_assert_msg(v.i == cases[i].want, "%s = %lld", cases[i].src, (long long)v.i);
    }
    ASSERT_NULL("time_bucket(-9223372036854775807 - 1, 7)", LINE1); /* no multiple of 7 fits */
    ASSERT_NULL("time_bucket(bytes, 1m)", LINE_DASH);
    ASSERT_NULL("time_bucket(1e300, 1m)", LINE1);
    ck_assert_int_eq(expr_type(compile("time_bucket(time, 1m)")), EXPR_T_TIME);
}
END_TEST

/* ---- strings ---- */

START_TEST(test_string_functions)
{
    ASSERT_STR("lower('AbC-9')", "abc-9");
    ASSERT_STR("upper(method)", "GET");
    ASSERT_STR("lower(method)", "get");
    ASSERT_INT("len(method)", 3);
    ASSERT_INT("len('')", 0);
    /* "/presentations/" "logstash-monitorama-2013/" "images/" "kibana-search.png" */
    ASSERT_INT("len(path)", 15 + 25 + 7 + 17);
    ASSERT_STR("substr('abcdef', 1, 3)", "bcd");
    ASSERT_STR("substr('abcdef', 0)", "abcdef");
    ASSERT_STR("substr('abcdef', -2)", "ef");
    ASSERT_STR("substr('abcdef', -10, 2)", "ab");
    ASSERT_STR("substr('abc', 5)", "");
    ASSERT_STR("substr('abc', 1, -1)", "");
    ASSERT_STR("substr('abcdef', 2.9, 1)", "c");
    ASSERT_STR("substr(path, 0, 14)", "/presentations");
    ASSERT_STR("str(status)", "200");
    ASSERT_STR("str(status + 1)", "201");
    ASSERT_STR("str(1.5)", "1.5");
    ASSERT_STR("str(-7)", "-7");
    ASSERT_STR("str(true)", "true");
    ASSERT_STR("str(time)", "2015-05-17T10:05:03Z");
    ASSERT_STR("str(time_bucket(time, 1h))", "2015-05-17T10:00:00Z");
    ASSERT_STR("'a\\'b\\\"c\\\\d\\te\\nf'", "a'b\"c\\d\te\nf");
    ASSERT_STR("\"x\\.y\"", "x\\.y");
}
END_TEST

START_TEST(test_conversions)
{
    ASSERT_INT("int('42')", 42);
    ASSERT_INT("int(3.9)", 3);
    ASSERT_INT("int(-3.9)", -3);
    ASSERT_INT("int('2.5e1')", 25);
    ASSERT_INT("int(time)", 1431857103);
    ASSERT_INT("int(true)", 1);
    ASSERT_NULL("int('abc')", LINE1);
    ASSERT_NULL("int(1e300)", LINE1);
    ASSERT_FLOAT("float(3)", 3.0);
    ASSERT_FLOAT("float('0.25')", 0.25);
    ASSERT_FLOAT("float(status) / 400", 0.5);
    ASSERT_NULL("float('x1')", LINE1);
    ASSERT_INT("coalesce(null, 5)", 5);
    ASSERT_INT("coalesce(7, 5)", 7);
    ASSERT_INT("coalesce(bytes, 0)", 203023);
    value_t v = ev_line("coalesce(bytes, 0)", LINE_DASH);
    ck_assert(v.kind == VALUE_INT && v.i == 0);
    v = ev_line("coalesce(referer, 'none')", LINE_DASH);
    ck_assert(v.kind == VALUE_STR && v.len == 4 && !memcmp(v.s, "none", 4));
    ASSERT_NULL("coalesce(null, null)", LINE1);
}
END_TEST

START_TEST(test_scratch_exhaustion)
{
    /* a 40000-byte field: one lower() fits the 64 KiB scratch, two do not */
    const char *names[] = {"s:str"};
    format_t *f;
    char *big = malloc(40000);
    value_t row, v;
    expr_t *lo, *both, *len2;
    memset(big, 'A', 40000);
    row = (value_t){.kind = VALUE_STR, .s = big, .len = 40000};
    ck_assert_int_eq(format_create_split(",", names, 1, pool, &f, NULL), APR_SUCCESS);
    lo = compile_f("lower(s)", f);
    both = compile_f("lower(s) = lower(s)", f);
    len2 = compile_f("len(upper(lower(s)))", f);
    expr_ctx_reset(ctx);
    ck_assert_int_eq(expr_eval(lo, &row, ctx, &v), 0);
    ck_assert(v.kind == VALUE_STR && v.len == 40000 && v.s[0] == 'a' && v.s[39999] == 'a');
    ck_assert_int_eq(expr_eval(lo, &row, ctx, &v), 0); /* no reset: scratch is full */
    ck_assert_int_eq(v.kind, VALUE_NULL);
    expr_ctx_reset(ctx);
    ck_assert_int_eq(expr_eval(lo, &row, ctx, &v), 0);
    ck_assert_int_eq(v.kind, VALUE_STR);
    expr_ctx_reset(ctx);
    ck_assert_int_eq(expr_eval(both, &row, ctx, &v), 0); /* NULL on one side: false */
    ck_assert(v.kind == VALUE_BOOL && v.i == 0);
    expr_ctx_reset(ctx);
    ck_assert_int_eq(expr_eval(len2, &row, ctx, &v), 0); /* upper(NULL) is NULL, len too */
    ck_assert_int_eq(v.kind, VALUE_NULL);
    /* 40000 of 65536 bytes are in use: (65536 - 40000) / 2 two-byte results still fit */
    for (int i = 0; i < 20000; i++) {
        value_t small = {.kind = VALUE_STR, .s = "Ab", .len = 2};
        ck_assert_int_eq(expr_eval(lo, &small, ctx, &v), 0);
        if (i < 12768)
            ck_assert(v.kind == VALUE_STR && v.len == 2 && !memcmp(v.s, "ab", 2));
        else
            ck_assert_int_eq(v.kind, VALUE_NULL);
    }
    free(big);
}
END_TEST

/* ---- NULL ---- */

START_TEST(test_null_semantics)
{
    static const char *never[] = {
        "bytes = 0",      "bytes != 0",    "bytes < 1",     "bytes >= 0",  "referer = '-'",
        "referer != 'x'", "referer < 'z'", "bytes + 1 > 0", "-bytes != 0", "null in [1]",
    };
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        ASSERT_BOOL_LINE(never[i], LINE_DASH, 0);
    ASSERT_BOOL_LINE("not bytes", LINE_DASH, 1);
    ASSERT_BOOL_LINE("not referer", LINE_DASH, 1);
    ASSERT_BOOL_LINE("not (bytes > 0)", LINE_DASH, 1);
    ASSERT_BOOL_LINE("not null", LINE_DASH, 1);
    ASSERT_BOOL_LINE("bytes or true", LINE_DASH, 1);
    ASSERT_BOOL_LINE("bytes and true", LINE_DASH, 0);
    ASSERT_NULL("bytes + 1", LINE_DASH);
    ASSERT_NULL("bytes * 0", LINE_DASH);
    ASSERT_NULL("-bytes", LINE_DASH);
    ASSERT_NULL("null + 1", LINE_DASH);
    ASSERT_NULL("referer", LINE_DASH);
    ASSERT_NULL("lower(referer)", LINE_DASH);
    ASSERT_NULL("len(referer)", LINE_DASH);
    ASSERT_NULL("substr(referer, 1)", LINE_DASH);
    ASSERT_NULL("substr('abc', bytes)", LINE_DASH);
    ASSERT_NULL("str(bytes)", LINE_DASH);
    ASSERT_NULL("int(bytes)", LINE_DASH);
    ASSERT_NULL("null", LINE_DASH);
    ASSERT_BOOL_LINE("bytes = 0 or status = 304", LINE_DASH, 1);
}
END_TEST

/* ---- evaluation allocates nothing ---- */

START_TEST(test_no_allocation)
{
    size_t size, evals = 0;
    char *data = read_log(&size);
    expr_t *ex[4] = {
        compile("status >= 200 and status < 300 and method in ['GET', 'HEAD']"),
        compile("lower(path) ~ '\\.(png|jpg|gif)$' or len(agent) > 100"),
        compile("str(time_bucket(time, 1m))"),
        compile("coalesce(bytes, 0) / 1024 > 1 and upper(substr(path, 0, 4)) = 'x'"),
    };
    struct mallinfo2 before, after;
    const char *end = data + size;
    value_t v;
    for (int round = 0; round < 11; round++) {
        if (round == 1)
            before = mallinfo2(); /* after a warm-up round */
        for (const char *p = data, *nl; p < end; p = nl + 1) {
            nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                break;
            if (format_parse(comb_st, p, (size_t)(nl - p), ~0ull, 0, fields) != FORMAT_OK)
                continue;
            expr_ctx_reset(ctx);
            for (int k = 0; k < 4; k++)
                ck_assert_int_eq(expr_eval(ex[k], fields, ctx, &v), 0);
            evals++;
        }
    }
    after = mallinfo2();
    ck_assert_uint_gt(evals, 100000);
    ck_assert_uint_eq(after.uordblks, before.uordblks);
    ck_assert_uint_eq(after.hblkhd, before.hblkhd);
    free(data);
}
END_TEST

static Suite *expr_suite(void)
{
    Suite *s = suite_create("expr");
    TCase *tc;

    tc = tcase_create("arithmetic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_time_arith);
    suite_add_tcase(s, tc);

    tc = tcase_create("logic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_truth_tables);
    tcase_add_test(tc, test_short_circuit);
    tcase_add_test(tc, test_in_lists);
    tcase_add_test(tc, test_in_list_brute_force);
    tcase_add_test(tc, test_null_semantics);
    suite_add_tcase(s, tc);

    tc = tcase_create("functions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_time_bucket);
    tcase_add_test(tc, test_string_functions);
    tcase_add_test(tc, test_conversions);
    tcase_add_test(tc, test_scratch_exhaustion);
    suite_add_tcase(s, tc);

    tc = tcase_create("memory");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_no_allocation);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(expr_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
