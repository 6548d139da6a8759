/* check_expr_regex.c - unit tests for regexes in expressions (rules/expr_regex.c): matches
 * counted over the whole sample log, case and anchoring, a match that gives up at its limit
 * (false and counted), matches on the whole line, and warnings for nested quantifiers. The
 * oracle for the sample log is a hand-written scan of its lines (plain string code, no
 * regex); the others are worked out by hand. */
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

#define FIXTURE_SUITE "check_expr_regex"
#include "fixture_expr.h"

/* ---- regexes ---- */

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
        if (format_parse(comb_st, p, (size_t)(nl - p), ~0ull, 0, fields) != FORMAT_OK)
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
        o_pres += fields[6].kind == VALUE_STR && fields[6].len >= 15 &&
                  !memcmp(fields[6].s, "/presentations/", 15) && fields[8].kind == VALUE_INT &&
                  fields[8].i == 200;
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
    ASSERT_BOOL("path ~ '\\d{4}'", 1);             /* the escape \d reaches PCRE2 as written */
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
        ck_assert_int_eq(
            pcre2_match(re, (PCRE2_SPTR)path, 4002, 0, PCRE2_NO_JIT, ctx->md, ctx->re.mc),
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
            fields[0] = (value_t){
                .kind = VALUE_STR, .s = subjects[k], .len = (uint32_t)strlen(subjects[k])};
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

static Suite *expr_regex_suite(void)
{
    Suite *s = suite_create("expr_regex");
    TCase *tc;

    tc = tcase_create("regex");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_regex_log);
    tcase_add_test(tc, test_regex_cases);
    tcase_add_test(tc, test_regex_limit);
    tcase_add_test(tc, test_regex_whole_line);
    tcase_add_test(tc, test_regex_warnings);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(expr_regex_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
