/* fixture_format.h - the shared fixture of the line format suites (tests/check_format.c,
 * tests/check_format_split.c): the builtin formats combined and common, the field indexes
 * of combined, and parsing from a heap copy of exactly the line's length (so that under
 * ASan or valgrind any read past the end is caught), with checks of each field's kind, text
 * and value; times written by glibc's strftime read back (ck_round_trip); a tcase is made
 * with its fixture and timeout by new_case.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_FORMAT_H
#define ABBEY_TESTS_FIXTURE_FORMAT_H

#include <apr_general.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_format.h"
#endif

enum { IP, IDENT, USER, TIME, REQUEST, METHOD, PATH, PROTOCOL, STATUS, BYTES, REFERER, AGENT };
#define ALL (~(uint64_t)0)

static apr_pool_t *pool;
static format_t *combined, *common;
static format_state_t *combined_st, *common_st; /* their parse states */

static inline void setup(void)
{
    abbey_err_t err;
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(format_create_builtin("combined", pool, &combined, &err), APR_SUCCESS);
    ck_assert_int_eq(format_create_builtin("common", pool, &common, &err), APR_SUCCESS);
    combined_st = format_state_create(combined, 1 << 20, pool);
    common_st = format_state_create(common, 1 << 20, pool);
}

static inline void teardown(void)
{
    apr_pool_destroy(pool);
}

/* ---- helpers ------------------------------------------------------------ */

static inline char *dup_exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    memcpy(p, s, n);
    return p;
}

/* Parse a heap copy of [s, s + n) of exactly n bytes; *copy receives it (caller frees). */
static inline format_bad_t parse_n(const format_t *f, const char *s, size_t n, uint64_t need,
                                   uint64_t num, value_t *v, char **copy)
{
    *copy = dup_exact(s, n);
    for (int i = 0; i < FORMAT_MAX_FIELDS; i++)
        v[i] = (value_t){.kind = 0xee, .s = (const char *)1, .len = 0xdead};
    format_bad_t why = format_parse(format_state_create(f, n + 4096, pool), *copy, n, need, num, v);
    if (why == FORMAT_OK)
        for (int i = 0; i < format_nfields(f); i++) {
            if (!((need >> i) & 1))
                continue; /* an unneeded field is left as it was */
            ck_assert_msg(v[i].kind <= VALUE_TIME, "field %d kind %d unset", i, v[i].kind);
            if (v[i].s)
                ck_assert_msg(v[i].s >= *copy && v[i].s + v[i].len <= *copy + n,
                              "field %d text outside the line", i);
            else
                ck_assert_uint_eq(v[i].len, 0);
        }
    return why;
}

/* Parse a C string with every need bit and no num bit; returns the reason. Text checks on the
 * result must happen before the next call (the copy is kept until then). */
static char *last_copy;
static inline format_bad_t parse(const format_t *f, const char *line, value_t *v)
{
    free(last_copy);
    return parse_n(f, line, strlen(line), ALL, 0, v, &last_copy);
}

static inline void free_last(void)
{
    free(last_copy);
    last_copy = NULL;
}

#define ck_text(v, k, text) ck_text_at(v, k, text, __LINE__)
static inline void ck_text_at(const value_t *v, int kind, const char *text, int at)
{
    ck_assert_msg(v->kind == kind, "line %d: kind %d, expected %d", at, v->kind, kind);
    if (!text) {
        ck_assert_msg(v->s == NULL && v->len == 0, "line %d: expected no text", at);
        return;
    }
    ck_assert_msg(v->s && v->len == strlen(text) && memcmp(v->s, text, v->len) == 0,
                  "line %d: text \"%.*s\", expected \"%s\"", at, (int)v->len, v->s ? v->s : "",
                  text);
}

#define ck_int(v, k, n, text) ck_int_at(v, k, n, text, __LINE__)
static inline void ck_int_at(const value_t *v, int kind, int64_t n, const char *text, int at)
{
    ck_text_at(v, kind, text, at);
    ck_assert_msg(v->i == n, "line %d: value %lld, expected %lld", at, (long long)v->i,
                  (long long)n);
}

/* Random instants of 1970..2037 written by strftime(pattern) under TZ=zone (NULL: UTC),
 * then sep and tail, parsed by f: field 0 must read back as the instant and field 1's text
 * be tail; or, when the local reading happens twice, field 0 may be an earlier instant
 * within two hours that strftime(cmp) writes alike (cmp: the pattern, or a part of it that
 * f reads in full: a pattern whose %Z f skips reads the later of two readings as the
 * earlier). */
static inline void ck_round_trip(const format_t *f, const char *pattern, const char *zone,
                                 const char *sep, const char *tail, const char *cmp)
{
    unsigned s = 77;
    setenv("TZ", zone ? zone : "UTC", 1);
    tzset();
    for (int k = 0; k < 4000; k++) {
        char text[160], lt[160], lu[160];
        value_t v[FORMAT_MAX_FIELDS];
        struct tm tm;
        time_t t, u;
        s = s * 1103515245u + 12345u;
        t = (time_t)((double)(s >> 1) / 2147483648.0 * 2145916800.0);
        localtime_r(&t, &tm);
        strftime(text, sizeof text, pattern, &tm);
        strftime(lt, sizeof lt, cmp, &tm);
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", sep, tail);
        ck_assert_msg(parse(f, text, v) == FORMAT_OK, "\"%s\" (%s) does not read", text, pattern);
        ck_assert_msg(v[1].s && v[1].len == strlen(tail) && memcmp(v[1].s, tail, v[1].len) == 0,
                      "\"%s\" (%s): the field after the time is not \"%s\"", text, pattern, tail);
        u = (time_t)v[0].i;
        localtime_r(&u, &tm);
        strftime(lu, sizeof lu, cmp, &tm);
        ck_assert_msg(u == t || (u < t && t - u <= 7200 && strcmp(lu, lt) == 0),
                      "\"%s\" (%s, %s) read as %lld, not %lld", text, pattern, zone ? zone : "UTC",
                      (long long)u, (long long)t);
    }
    unsetenv("TZ");
    tzset();
    free_last();
}

static inline TCase *new_case(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return tc;
}

#endif
