/* fixture_rules.h - the shared fixture of the rules-loader suites (tests/check_rules.c,
 * tests/check_metrics.c): a pool per test, load_ok (a file that must load, "ok.yaml")
 * and expect_error (one that must not, "bad.yaml", with the message's position and
 * words). Each suite compiles its own copy (everything here is static). */
#ifndef ABBEY_TESTS_FIXTURE_RULES_H
#define ABBEY_TESTS_FIXTURE_RULES_H

#include <check.h>
#include <stdarg.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "rules.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static rules_config_t *load_ok(const char *yaml)
{
    rules_config_t *c = NULL;
    abbey_err_t err;
    apr_status_t rv = rules_load_buffer(yaml, strlen(yaml), "ok.yaml", pool, &c, &err);
    ck_assert_msg(rv == APR_SUCCESS, "load failed: %s", err.msg);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* The load must fail; the message must start with where and contain each word. */
static void expect_error(const char *yaml, const char *where, ...)
{
    rules_config_t *c = NULL;
    abbey_err_t err;
    va_list ap;
    const char *w;
    apr_status_t rv = rules_load_buffer(yaml, strlen(yaml), "bad.yaml", pool, &c, &err);
    ck_assert_msg(rv != APR_SUCCESS, "expected an error at %s, the file loaded", where);
    ck_assert_ptr_null(c);
    ck_assert_msg(strncmp(err.msg, where, strlen(where)) == 0,
                  "message '%s' does not start with %s", err.msg, where);
    va_start(ap, where);
    while ((w = va_arg(ap, const char *)) != NULL)
        ck_assert_msg(strstr(err.msg, w) != NULL, "message '%s' lacks '%s'", err.msg, w);
    va_end(ap);
}

#endif
