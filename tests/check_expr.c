/* check_expr.c - unit tests for rules/expr*.c: arithmetic and precedence,
 * logic and short-circuit, in-lists, regexes (counted against a hand-written
 * scan of the sample log; a match that gives up at its limit; warnings for
 * nested quantifiers), time buckets, string functions and scratch
 * exhaustion, NULL semantics, every class of compile error with its exact
 * position, field masks and types, untyped (FORMAT_AUTO) fields, and that
 * evaluation allocates nothing. Oracles are hand-worked values or brute force. */
#include <check.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "check_run.h"
#include "expr.h"
#include "expr_int.h" /* JIT-compiled regexes; the match context of a context */
#include "format.h"

#ifndef ABBEY_SRCDIR
#define ABBEY_SRCDIR "."
#endif

static apr_pool_t *pool;
static format_t *comb;
static expr_ctx_t *ctx;
static value_t fields[FORMAT_MAX_FIELDS];
static const expr_where_t W = {"rules.yaml", 12, 20};

/* Line 1 of the sample log, and a line with "-" for bytes and referer. */
static const char *LINE1 =
    "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET "
    "/presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1\" 200 203023 "
    "\"http://semicomplete.com/presentations/logstash-monitorama-2013/\" \"Mozilla/5.0 "
    "(Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/32.0.1700.77 Safari/537.36\"";
static const char *LINE_DASH =
    "10.0.0.1 - - [01/Jan/2016:00:00:00 +0000] \"HEAD /Index.HTML HTTP/1.0\" 304 - \"-\" \"curl\"";

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(format_create_builtin("combined", pool, &comb, NULL), APR_SUCCESS);
    ctx = expr_ctx_create(pool);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static expr_t *compile_f(const char *src, const format_t *f)
{
    abbey_err_t err = {{0}};
    expr_t *e = NULL;
    apr_status_t rv = expr_compile(src, f, &W, pool, &e, &err);
    ck_assert_msg(rv == APR_SUCCESS, "compiling %s: %s", src, err.msg);
    ck_assert_str_eq(expr_text(e), src);
    return e;
}

static expr_t *compile(const char *src)
{
    return compile_f(src, comb);
}

/* The error message compiling src gives (which must fail). */
static const char *error_f(const char *src, const format_t *f)
{
    static abbey_err_t err;
    expr_t *e = NULL;
    apr_status_t rv = expr_compile(src, f, &W, pool, &e, &err);
    ck_assert_msg(rv == APR_EINVAL, "%s should not compile", src);
    ck_assert(e == NULL);
    return err.msg;
}

static const char *error_of(const char *src)
{
    return error_f(src, comb);
}

static void parse(const char *line)
{
    ck_assert_int_eq(format_parse(comb, line, strlen(line), ~0ull, 0, fields), FORMAT_OK);
}

/* Evaluate src over line (combined format); the evaluation must succeed. */
static value_t ev_line(const char *src, const char *line)
{
    value_t v;
    expr_t *e = compile(src);
    parse(line);
    expr_ctx_reset(ctx);
    ck_assert_msg(expr_eval(e, fields, ctx, &v) == 0, "evaluating %s", src);
    return v;
}

static value_t ev(const char *src)
{
    return ev_line(src, LINE1);
}

#define ASSERT_INT(src, want)                                                                 \
    do {                                                                                      \
        value_t v_ = ev(src);                                                                   \
        ck_assert_msg(v_.kind == VALUE_INT, "%s: kind %d", src, v_.kind);                      \
        ck_assert_msg(v_.i == (want), "%s = %lld", src, (long long)v_.i);                     \
    } while (0)

#define ASSERT_FLOAT(src, want)                                                               \
    do {                                                                                      \
        value_t v_ = ev(src);                                                                   \
        ck_assert_msg(v_.kind == VALUE_FLOAT, "%s: kind %d", src, v_.kind);                    \
        ck_assert_msg(v_.f == (want), "%s = %.17g", src, v_.f);                               \
    } while (0)

#define ASSERT_BOOL_LINE(src, line, want)                                                     \
    do {                                                                                      \
        value_t v_ = ev_line(src, line);                                                        \
        ck_assert_msg(v_.kind == VALUE_BOOL, "%s: kind %d", src, v_.kind);                     \
        ck_assert_msg(v_.i == (want), "%s gave %lld", src, (long long)v_.i);                  \
    } while (0)

#define ASSERT_BOOL(src, want) ASSERT_BOOL_LINE(src, LINE1, want)

#define ASSERT_NULL(src, line)                                                                \
    do {                                                                                      \
        value_t v_ = ev_line(src, line);                                                        \
        ck_assert_msg(v_.kind == VALUE_NULL, "%s: kind %d", src, v_.kind);                     \
    } while (0)

#define ASSERT_STR(src, want)                                                                 \
    do {                                                                                      \
        value_t v_ = ev(src);                                                                   \
        ck_assert_msg(v_.kind == VALUE_STR, "%s: kind %d", src, v_.kind);                      \
        ck_assert_msg(v_.len == strlen(want) && !memcmp(v_.s, want, v_.len),                 \
                      "%s = '%.*s'", src, (int)v_.len, v_.s);                                 \
    } while (0)

/* ---- arithmetic ---- */

START_TEST(test_precedence)
{
    ASSERT_INT("2+3*4", 14);
    ASSERT_INT("(2+3)*4", 20);
    ASSERT_INT("10-4-3", 3);        /* left associative: (10-4)-3 */
    ASSERT_INT("2*3-4*5", -14);
    ASSERT_FLOAT("100/10/5", 2.0);  /* (100/10)/5, and '/' is always float */
    ASSERT_FLOAT("7/2", 3.5);
    ASSERT_FLOAT("6/2", 3.0);
    ASSERT_INT("7%3", 1);
    ASSERT_INT("-7%3", -1);         /* sign of the dividend, like C and fmod */
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
    ASSERT_BOOL("1e300 * 1e300 > 9223372036854775807", 1);       /* inf */
    ASSERT_BOOL("(1e300 * 1e300) - (1e300 * 1e300) = 1", 0);     /* NaN: unordered */
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
    ASSERT_BOOL("true or true and false", 1);  /* true or (true and false) */
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

/* ---- regexes ---- */

static char *read_log(size_t *size)
{
    const char *path = ABBEY_SRCDIR "/data/apache_combined_10k.log";
    FILE *f = fopen(path, "rb");
    char *data;
    ck_assert_msg(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    /* padded: PCRE2's JIT reads the subject in aligned 16-byte blocks and may
     * read (harmlessly, never across a page) past the last line, which
     * valgrind would report */
    data = calloc(*size + 64, 1);
    ck_assert(fread(data, 1, *size, f) == *size);
    fclose(f);
    return data;
}

static int ends_with(const value_t *v, const char *suffix)
{
    size_t n = strlen(suffix);
    return v->kind == VALUE_STR && v->len >= n && !memcmp(v->s + v->len - n, suffix, n);
}

static int contains_nocase(const value_t *v, const char *needle)
{
    size_t n = strlen(needle);
    if (v->kind != VALUE_STR)
        return 0;
    for (size_t i = 0; i + n <= v->len; i++)
        if (!strncasecmp(v->s + i, needle, n))
            return 1;
    return 0;
}

START_TEST(test_regex_log)
{
    size_t size, lines = 0;
    char *data = read_log(&size), *p = data, *nl;
    expr_t *png = compile("path ~ \"\\.png$\""), *notpng = compile("path !~ '\\.png$'");
    expr_t *bot = compile("agent ~ '(?i)googlebot'");
    expr_t *pres = compile("path ~ \"^/presentations/\" and status = 200");
    long n_png = 0, n_notpng = 0, n_bot = 0, n_pres = 0;
    long o_png = 0, o_notpng = 0, o_bot = 0, o_pres = 0;
    int jit = 0;
    size_t jitsize = 0;

    pcre2_config(PCRE2_CONFIG_JIT, &jit);
    ck_assert_int_eq(pcre2_pattern_info(png->regexes[0].code, PCRE2_INFO_JITSIZE, &jitsize), 0);
    if (jit)
        ck_assert_msg(jitsize > 0, "the pattern should be JIT-compiled");
    for (; p < data + size; p = nl + 1) {
        value_t v;
        nl = memchr(p, '\n', (size_t)(data + size - p));
        if (!nl)
            break;
        if (format_parse(comb, p, (size_t)(nl - p), ~0ull, 0, fields) != FORMAT_OK)
            continue;
        lines++;
        expr_ctx_reset(ctx);
        ck_assert_int_eq(expr_eval(png, fields, ctx, &v), 0);
        n_png += v.i;
        ck_assert_int_eq(expr_eval(notpng, fields, ctx, &v), 0);
        n_notpng += v.i;
        ck_assert_int_eq(expr_eval(bot, fields, ctx, &v), 0);
        n_bot += v.i;
        ck_assert_int_eq(expr_eval(pres, fields, ctx, &v), 0);
        n_pres += v.i;
        /* the oracle: plain byte scans of the same fields */
        o_png += ends_with(&fields[6], ".png");
        o_notpng += fields[6].kind == VALUE_STR && !ends_with(&fields[6], ".png");
        o_bot += contains_nocase(&fields[11], "googlebot");
        o_pres += fields[6].kind == VALUE_STR && fields[6].len >= 15
                  && !memcmp(fields[6].s, "/presentations/", 15) && fields[8].kind == VALUE_INT
                  && fields[8].i == 200;
    }
    ck_assert_uint_gt(lines, 9990);
    ck_assert_int_gt(o_png, 100);
    ck_assert_int_gt(o_bot, 10);
    ck_assert_int_gt(o_pres, 10);
    ck_assert_int_eq(n_png, o_png);
    ck_assert_int_eq(n_notpng, o_notpng);
    ck_assert_int_eq(n_bot, o_bot);
    ck_assert_int_eq(n_pres, o_pres);
    free(data);
}
END_TEST

START_TEST(test_regex_cases)
{
    ASSERT_BOOL("path ~ 'kibana'", 1);
    ASSERT_BOOL("path ~ '^kibana'", 0);
    ASSERT_BOOL("path !~ '^kibana'", 1);
    ASSERT_BOOL("path ~ '\\d{4}'", 1);           /* the escape \d reaches PCRE2 as written */
    ASSERT_BOOL("path ~ '(a)(b)(c)|kib(ana)'", 1); /* more groups than match data slots */
    ASSERT_BOOL("protocol ~ 'HTTP/1\\.1'", 1);
    ASSERT_BOOL("protocol ~ 'HTTP/1\\.0'", 0);
    ASSERT_BOOL("lower(path) ~ 'index\\.html'", 0);
    ASSERT_BOOL_LINE("lower(path) ~ 'index\\.html'", LINE_DASH, 1);
    ASSERT_BOOL_LINE("path ~ 'index\\.html'", LINE_DASH, 0);
    ASSERT_BOOL("str(status) ~ '^2'", 1);
    /* matching NULL is false, both ways */
    ASSERT_BOOL_LINE("referer ~ ''", LINE_DASH, 0);
    ASSERT_BOOL_LINE("referer !~ 'x'", LINE_DASH, 0);
    ASSERT_BOOL("'' ~ '^$'", 1);
}
END_TEST

/* A combined-format line whose path is "/", n 'a's, then last. */
static const char *a_line(size_t n, char last)
{
    char *path = apr_palloc(pool, n + 3);
    path[0] = '/';
    memset(path + 1, 'a', n);
    path[n + 1] = last;
    path[n + 2] = '\0';
    return apr_psprintf(pool,
                        "10.0.0.1 - - [17/May/2015:10:05:03 +0000] \"GET %s HTTP/1.1\" "
                        "200 5 \"-\" \"curl\"",
                        path);
}

/* "/aaa...ab" against (a+)+$ does not match, but a backtracking matcher only
 * learns that after trying every split of the a's: PCRE2 gives up at its
 * limit. Both ~ and !~ are then false, the evaluation succeeds (the line is
 * not bad) and the context says a limit was hit, until the next reset. */
START_TEST(test_regex_limit)
{
    expr_t *m = compile("path ~ '(a+)+$'"), *nm = compile("path !~ '(a+)+$'");
    expr_t *other = compile("status = 200 and path ~ '^/a'");
    static const size_t lens[] = {1000, 2000, 4000};
    value_t v;

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        parse(a_line(lens[i], 'b'));
        expr_ctx_reset(ctx);
        ck_assert_int_eq(expr_ctx_limit_hit(ctx), 0);
        ck_assert_msg(expr_eval(m, fields, ctx, &v) == 0, "%zu a's: the line is not bad", lens[i]);
        ck_assert(v.kind == VALUE_BOOL && v.i == 0);
        ck_assert_int_eq(expr_ctx_limit_hit(ctx), 1);
        ck_assert_int_eq(expr_eval(nm, fields, ctx, &v), 0);
        ck_assert(v.kind == VALUE_BOOL && v.i == 0); /* false both ways, like NULL */
        expr_ctx_reset(ctx);
        ck_assert_int_eq(expr_ctx_limit_hit(ctx), 0);
        ck_assert_int_eq(expr_eval(other, fields, ctx, &v), 0);
        ck_assert(v.kind == VALUE_BOOL && v.i == 1);
        ck_assert_int_eq(expr_ctx_limit_hit(ctx), 0);
    }
    /* where the pattern decides quickly there is no limit: a long match, a short miss */
    ASSERT_BOOL_LINE("path ~ '(a+)+$'", a_line(4000, 'a'), 1);
    ck_assert_int_eq(expr_ctx_limit_hit(ctx), 0);
    ASSERT_BOOL_LINE("path ~ '(a+)+$'", a_line(8, 'b'), 0);
    ASSERT_BOOL_LINE("path !~ '(a+)+$'", a_line(8, 'b'), 1);
    ck_assert_int_eq(expr_ctx_limit_hit(ctx), 0);
    /* the interpreter (no JIT) gives up under the same match context */
    {
        int errcode;
        PCRE2_SIZE erroff;
        const char *line = a_line(4000, 'b'), *path = strstr(line, "/a");
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR) "(a+)+$", PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
        ck_assert_int_eq(pcre2_match(re, (PCRE2_SPTR)path, 4002, 0, PCRE2_NO_JIT, ctx->md, ctx->mc),
                         PCRE2_ERROR_MATCHLIMIT);
        pcre2_code_free(re);
    }
}
END_TEST

/* A pattern with nested quantifiers runs from one start position with one
 * budget for the line: runs of 12 a's, each ended by 'b', cost (a+)+$ up to
 * 2^12 steps at every start, under the limit each time; together they exceed
 * it, and the match gives up instead of spending seconds on the line. It
 * matches as the pattern does: every pattern on every subject below agrees
 * with PCRE2 run on the pattern as written, without limits. */
START_TEST(test_regex_whole_line)
{
    static const char *const pats[] = {"(a+)+$",        "^(a|aa)+$", "(a|aa)+b",
                                       "x(b+)*y",       "(.*a){2}",  "(?i)(A+)+B",
                                       "^(?:[a-c]+)*$", "(a*)*c",    "(?<=x)(a+)+"};
    static const char *const subjects[] = {"",          "a",    "aab", "xaaa",   "ab@x",
                                           "xbbby",     "xy",   "AAB", "abcabc", "ba",
                                           "aaaaaaaac", "zxaa", "\n"};
    char runs[4096 + 16], src[64], line[4200];
    const char *names[] = {"x:str"};
    format_t *split1;
    value_t v;
    size_t n = 1;

    runs[0] = '/';
    while (n < 4096) {
        memset(runs + n, 'a', 12);
        runs[n + 12] = 'b';
        n += 13;
    }
    runs[n] = '\0';
    snprintf(line, sizeof line,
             "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET %s HTTP/1.1\" 200 "
             "5 \"-\" \"c\"",
             runs);
    parse(line);
    expr_ctx_reset(ctx);
    ck_assert_int_eq(expr_eval(compile("path ~ '(a+)+$'"), fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_BOOL && v.i == 0);
    ck_assert_int_eq(expr_ctx_limit_hit(ctx), 1);
    ck_assert_int_eq(format_create_split(",", names, 1, pool, &split1, NULL), APR_SUCCESS);
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        int errcode;
        PCRE2_SIZE erroff;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)pats[i], PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        expr_t *e;
        snprintf(src, sizeof src, "x ~ '%s'", pats[i]);
        e = compile_f(src, split1);
        ck_assert_int_eq(e->regexes[0].whole_line, 1);
        for (size_t k = 0; k < sizeof subjects / sizeof subjects[0]; k++) {
            int want =
                pcre2_match(re, (PCRE2_SPTR)subjects[k], strlen(subjects[k]), 0, 0, md, NULL) >= 0;
            fields[0] =
                (value_t){.kind = VALUE_STR, .s = subjects[k], .len = (uint32_t)strlen(subjects[k])};
            expr_ctx_reset(ctx);
            ck_assert_int_eq(expr_eval(e, fields, ctx, &v), 0);
            ck_assert_msg(v.i == want, "'%s' ~ '%s' gave %lld", subjects[k], pats[i],
                          (long long)v.i);
            ck_assert_msg(!expr_ctx_limit_hit(ctx), "'%s' ~ '%s' gave up", subjects[k], pats[i]);
        }
        pcre2_match_data_free(md);
        pcre2_code_free(re);
    }
    /* not rewritten: a pattern that must open with its (*VERB), or uses \G */
    ck_assert_int_eq(compile_f("x ~ '(*NO_JIT)(a+)+$'", split1)->regexes[0].whole_line, 0);
    ck_assert_int_eq(compile_f("x ~ '\\G(a+)+$'", split1)->regexes[0].whole_line, 0);
    ck_assert_int_eq(compile_f("x ~ 'a+b'", split1)->regexes[0].whole_line, 0);
}
END_TEST

/* Regexes with nested quantifiers compile with one warning naming the rules
 * file, line and column of the pattern and the offending group; others none. */
START_TEST(test_regex_warnings)
{
    static const struct {
        const char *pat, *group;
    } risky[] = {
        {"(a+)+$", "(a+)+"},         {"(a*)*", "(a*)*"},           {"(a|aa)+", "(a|aa)+"},
        {"(.*a){3}", "(.*a){3}"},    {"^(?:x+y?)*z", "(?:x+y?)*"}, {"x((ab)+)+", "((ab)+)+"},
        {"(?<n>a+)+", "(?<n>a+)+"},  {"(a+){2,}", "(a+){2,}"},     {"(\\w+\\s?)*$", "(\\w+\\s?)*"},
        {"([a-z]+)*@", "([a-z]+)*"}, {"(a+?)+", "(a+?)+"},
    };
    static const char *const safe[] = {
        "a+b+",
        "(ab)+",
        "(a+)?",
        "[(a+)+]",
        "\\(a+\\)+",
        "(?>a+)+",
        "(a++)+",
        "a{2}b",
        "(a){5}",
        "(a+){1}",
        "\\Q(a+)+\\E",
        "(?#c)(ab)+",
        "(?i)(bot|crawl|spider)",
        "(?i)\\.(png|jpe?g|gif|ico)$",
        "a{,3}",
        "[]a+)+]",
        "x\\{(a+)+", /* an escaped brace, then a real nesting */
    };
    char src[128], want[256];

    for (size_t i = 0; i < sizeof risky / sizeof risky[0]; i++) {
        expr_t *e;
        snprintf(src, sizeof src, "path ~ '%s'", risky[i].pat);
        e = compile(src);
        ck_assert_msg(expr_nwarnings(e) == 1, "%s: %d warnings", src, expr_nwarnings(e));
        /* W puts the expression at line 12, column 20; the pattern is 7 bytes in */
        snprintf(want, sizeof want,
                 "rules.yaml:12:27: warning: regex \"%s\" nests quantifiers "
                 "(\"%s\" at offset %zu ",
                 risky[i].pat, risky[i].group,
                 (size_t)(strstr(risky[i].pat, risky[i].group) - risky[i].pat));
        ck_assert_msg(strncmp(expr_warning(e, 0), want, strlen(want)) == 0, "%s: %s", src,
                      expr_warning(e, 0));
        ck_assert_ptr_null(expr_warning(e, 1));
    }
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++) {
        expr_t *e;
        snprintf(src, sizeof src, "path ~ '%s'", safe[i]);
        e = compile(src);
        if (strcmp(safe[i], "x\\{(a+)+") == 0) {
            ck_assert_int_eq(expr_nwarnings(e), 1);
            continue;
        }
        ck_assert_msg(expr_nwarnings(e) == 0, "%s: %s", src, expr_warning(e, 0));
    }
    /* one warning per risky regex, in the order written */
    {
        expr_t *e = compile("path ~ '(a+)+' or agent ~ 'x' or\n  referer !~ '(b|bb)*'");
        ck_assert_int_eq(expr_nwarnings(e), 2);
        ck_assert(strncmp(expr_warning(e, 0), "rules.yaml:12:27: warning: regex \"(a+)+\"", 40) ==
                  0);
        ck_assert_msg(
            strncmp(expr_warning(e, 1), "rules.yaml:13:14: warning: regex \"(b|bb)*\"", 42) == 0,
            "%s", expr_warning(e, 1));
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
        {"time_bucket(time, 5m)", 1431857103 - 3},            /* 10:05:00 */
        {"time_bucket(time, 1h)", 1431857103 - 5 * 60 - 3},   /* 10:00:00 */
        {"time_bucket(time, 1d)", 1431857103 - 36303},        /* 00:00:00 */
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
        "bytes = 0", "bytes != 0", "bytes < 1", "bytes >= 0", "referer = '-'", "referer != 'x'",
        "referer < 'z'", "bytes + 1 > 0", "-bytes != 0", "null in [1]",
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
    static const char *aggs[] = {"count", "sum", "min", "max", "avg", "distinct",
                                 "distinct_exact", "percentile"};
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++) {
        char src[64], want[512];
        snprintf(src, sizeof src, "1 + %s(bytes)", aggs[i]);
        snprintf(want, sizeof want, "rules.yaml:12:24: '%s' is an aggregate, not a function "
                 "here (aggregates go in an entry's values), expected one of: time_bucket, "
                 "lower, upper, len, substr, int, float, str, coalesce", aggs[i]);
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
        ck_assert_msg(expr_numeric_fields(e) == cases[i].numeric, "%s: numeric %llx",
                      cases[i].src, (unsigned long long)expr_numeric_fields(e));
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
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expr_t *e = compile_f(cases[i].src, f);
        ck_assert_msg(expr_numeric_fields(e) == cases[i].numeric, "%s: numeric %llx",
                      cases[i].src, (unsigned long long)expr_numeric_fields(e));
        ck_assert_msg(expr_type(e) == cases[i].type, "%s: type %d", cases[i].src, expr_type(e));
    }
    /* the same field as a number and as text: converted by the format, raw text kept */
    const char *line = "1431857103\tBob\t/api/v1\t007\t12.5";
    expr_t *num = compile_f("code + 1", f), *txt = compile_f("code = '007'", f);
    expr_t *both = compile_f("code = user", f), *ms = compile_f("ms * 2", f);
    uint64_t nmask = expr_numeric_fields(num), need = BIT(1) | BIT(3) | BIT(4);
    value_t v;
    ck_assert_int_eq(format_parse(f, line, strlen(line), need, nmask, fields), FORMAT_OK);
    expr_ctx_reset(ctx);
    ck_assert_int_eq(expr_eval(num, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_INT && v.i == 8);
    ck_assert_int_eq(expr_eval(txt, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_BOOL && v.i == 1);
    ck_assert_int_eq(expr_eval(ms, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_FLOAT && v.f == 25.0);
    ck_assert_int_eq(expr_eval(both, fields, ctx, &v), -1); /* 7 against "Bob" */
    /* unconverted text used as a number at run time */
    ck_assert_int_eq(format_parse(f, line, strlen(line), need, 0, fields), FORMAT_OK);
    ck_assert_int_eq(expr_eval(num, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_INT && v.i == 8);
    line = "1431857103\tBob\t/api/v1\t7\t12.5";
    ck_assert_int_eq(format_parse(f, line, strlen(line), need, 0, fields), FORMAT_OK);
    ck_assert_int_eq(expr_eval(txt, fields, ctx, &v), 0);
    ck_assert(v.kind == VALUE_BOOL && v.i == 0);
    line = "1431857103\t7.0\t/api/v1\t7\t12.5";
    ck_assert_int_eq(format_parse(f, line, strlen(line), need, 0, fields), FORMAT_OK);
    ck_assert_int_eq(expr_eval(both, fields, ctx, &v), 0); /* "7" vs "7.0": both text */
    ck_assert(v.kind == VALUE_BOOL && v.i == 0);
    line = "1431857103\tx\t/api/v1\tseven\t12.5";
    ck_assert_int_eq(format_parse(f, line, strlen(line), need, 0, fields), FORMAT_OK);
    ck_assert_int_eq(expr_eval(num, fields, ctx, &v), -1);
    ck_assert_str_eq(error_f("api + 1", f), "rules.yaml:12:20: 'api' is text, expected a number "
                                            "for '+'");
    ck_assert_str_eq(error_f("nope", f), "rules.yaml:12:20: unknown field 'nope', expected one "
                                         "of: ts, user, api, code, ms");
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
            if (format_parse(comb, p, (size_t)(nl - p), ~0ull, 0, fields) != FORMAT_OK)
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

    tc = tcase_create("regex");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_regex_log);
    tcase_add_test(tc, test_regex_cases);
    tcase_add_test(tc, test_regex_limit);
    tcase_add_test(tc, test_regex_whole_line);
    tcase_add_test(tc, test_regex_warnings);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("functions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_time_bucket);
    tcase_add_test(tc, test_string_functions);
    tcase_add_test(tc, test_conversions);
    tcase_add_test(tc, test_scratch_exhaustion);
    suite_add_tcase(s, tc);

    tc = tcase_create("compile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_error_aggregates);
    tcase_add_test(tc, test_error_limits);
    tcase_add_test(tc, test_masks);
    tcase_add_test(tc, test_auto_fields);
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
