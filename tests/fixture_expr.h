/* fixture_expr.h - the shared fixture of the expression suites (tests/check_expr.c,
 * tests/check_expr_regex.c, tests/check_expr_compile.c): the combined format, an evaluation
 * context, the fields of a parsed line, line 1 of the sample log and a line with "-"
 * fields, compile and evaluate helpers with the ASSERT_* checks of a result's kind and
 * value, the error message of what must not compile, and the sample log
 * data/apache_combined_10k.log read whole.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_EXPR_H
#define ABBEY_TESTS_FIXTURE_EXPR_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "expr.h"
#include "format.h"

#ifndef ABBEY_SRCDIR
#define ABBEY_SRCDIR "."
#endif

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_expr.h"
#endif

static apr_pool_t *pool;
static format_t *comb;
static format_state_t *comb_st; /* comb's parse state */
static expr_ctx_t *ctx;
static value_t fields[FORMAT_MAX_FIELDS];
static const expr_where_t W = {"rules.yaml", 12, 20};

/* Line 1 of the sample log, and a line with "-" for bytes and referer. */
static const char *const LINE1 =
    "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET "
    "/presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1\" 200 203023 "
    "\"http://semicomplete.com/presentations/logstash-monitorama-2013/\" \"Mozilla/5.0 "
    "(Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/32.0.1700.77 Safari/537.36\"";
static const char *const LINE_DASH =
    "10.0.0.1 - - [01/Jan/2016:00:00:00 +0000] \"HEAD /Index.HTML HTTP/1.0\" 304 - \"-\" \"curl\"";

static inline void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(format_create_builtin("combined", pool, &comb, NULL), APR_SUCCESS);
    comb_st = format_state_create(comb, 1 << 20, pool);
    ctx = expr_ctx_create(pool);
}

static inline void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static inline expr_t *compile_f(const char *src, format_t *f)
{
    abbey_err_t err = {{0}};
    expr_t *e = NULL;
    apr_status_t rv = expr_compile(src, f, &W, pool, &e, &err);
    ck_assert_msg(rv == APR_SUCCESS, "compiling %s: %s", src, err.msg);
    ck_assert_str_eq(expr_text(e), src);
    return e;
}

static inline expr_t *compile(const char *src)
{
    return compile_f(src, comb);
}

/* The error message compiling src gives (which must fail). */
static inline const char *error_f(const char *src, format_t *f)
{
    static abbey_err_t err;
    expr_t *e = NULL;
    apr_status_t rv = expr_compile(src, f, &W, pool, &e, &err);
    ck_assert_msg(rv == APR_EINVAL, "%s should not compile", src);
    ck_assert(e == NULL);
    return err.msg;
}

static inline const char *error_of(const char *src)
{
    return error_f(src, comb);
}

static inline void parse(const char *line)
{
    ck_assert_int_eq(format_parse(comb_st, line, strlen(line), ~0ull, 0, fields), FORMAT_OK);
}

/* Evaluate src over line (combined format); the evaluation must succeed. */
static inline value_t ev_line(const char *src, const char *line)
{
    value_t v;
    expr_t *e = compile(src);
    parse(line);
    expr_ctx_reset(ctx);
    ck_assert_msg(expr_eval(e, fields, ctx, &v) == 0, "evaluating %s", src);
    return v;
}

static inline value_t ev(const char *src)
{
    return ev_line(src, LINE1);
}

#define ASSERT_INT(src, want)                                                                      \
    do {                                                                                           \
        value_t v_ = ev(src);                                                                      \
        ck_assert_msg(v_.kind == VALUE_INT, "%s: kind %d", src, v_.kind);                          \
        ck_assert_msg(v_.i == (want), "%s = %lld", src, (long long)v_.i);                          \
    } while (0)

#define ASSERT_FLOAT(src, want)                                                                    \
    do {                                                                                           \
        value_t v_ = ev(src);                                                                      \
        ck_assert_msg(v_.kind == VALUE_FLOAT, "%s: kind %d", src, v_.kind);                        \
        ck_assert_msg(v_.f == (want), "%s = %.17g", src, v_.f);                                    \
    } while (0)

#define ASSERT_BOOL_LINE(src, line, want)                                                          \
    do {                                                                                           \
        value_t v_ = ev_line(src, line);                                                           \
        ck_assert_msg(v_.kind == VALUE_BOOL, "%s: kind %d", src, v_.kind);                         \
        ck_assert_msg(v_.i == (want), "%s gave %lld", src, (long long)v_.i);                       \
    } while (0)

#define ASSERT_BOOL(src, want) ASSERT_BOOL_LINE(src, LINE1, want)

#define ASSERT_NULL(src, line)                                                                     \
    do {                                                                                           \
        value_t v_ = ev_line(src, line);                                                           \
        ck_assert_msg(v_.kind == VALUE_NULL, "%s: kind %d", src, v_.kind);                         \
    } while (0)

#define ASSERT_STR(src, want)                                                                      \
    do {                                                                                           \
        value_t v_ = ev(src);                                                                      \
        ck_assert_msg(v_.kind == VALUE_STR, "%s: kind %d", src, v_.kind);                          \
        ck_assert_msg(v_.len == strlen(want) && !memcmp(v_.s, want, v_.len), "%s = '%.*s'", src,   \
                      (int)v_.len, v_.s);                                                          \
    } while (0)

/* The sample log (padded: see below); free it. */
static inline char *read_log(size_t *size)
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

#endif
