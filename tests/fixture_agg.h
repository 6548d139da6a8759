/* fixture_agg.h - the shared fixture of the aggregate suites (tests/check_agg.c,
 * tests/check_agg_sketch.c): a seeded random generator (uniform and normal), values of each
 * kind, and states made, updated, encoded, copied through their encoding (as a master
 * receives them), read and released by the spec's own calls.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_AGG_H
#define ABBEY_TESTS_FIXTURE_AGG_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_agg.h"
#endif

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- helpers ----------------------------------------------------------------------- */

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double rnd01(void) /* (0, 1) */
{
    return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
}

static inline double rnd_normal(void)
{
    return sqrt(-2.0 * log(rnd01())) * cos(6.283185307179586 * rnd01());
}

static inline agg_spec_t spec_of(agg_kind_t k)
{
    agg_spec_t s = {k, 50.0, 0};
    return s;
}

static inline value_t vint(int64_t i)
{
    value_t v = {.kind = VALUE_INT, .i = i};
    return v;
}

static inline value_t vflt(double f)
{
    value_t v = {.kind = VALUE_FLOAT, .f = f};
    return v;
}

static inline value_t vstr(const char *s)
{
    value_t v = {.kind = VALUE_STR, .s = s, .len = (uint32_t)strlen(s)};
    return v;
}

static inline void *snew(const agg_spec_t *s)
{
    void *p = malloc(agg_state_size(s));
    ck_assert_ptr_nonnull(p);
    agg_init(s, p);
    return p;
}

static inline void sfree(const agg_spec_t *s, void *p)
{
    agg_release(s, p);
    free(p);
}

/* Hot loops test with `if` and abort only on failure: every passing ck_assert
 * costs Check a write to its pipe. */
static inline void add(const agg_spec_t *s, void *st, value_t v)
{
    if (agg_update(s, st, &v) != 0)
        ck_abort_msg("%s: update refused a value", agg_kind_name(s->kind));
}

static inline void enc(const agg_spec_t *s, const void *st, buf_t *b)
{
    buf_reset(b);
    agg_encode(s, st, b);
}

/* A copy made through the encoding, as a master receives it. */
static inline void *scopy(const agg_spec_t *s, const void *st)
{
    buf_t b;
    buf_reader_t r;
    abbey_err_t err;
    void *c = snew(s);
    buf_init(&b);
    agg_encode(s, st, &b);
    buf_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(agg_decode(s, c, &r, &err), APR_SUCCESS);
    ck_assert_uint_eq(buf_reader_left(&r), 0);
    buf_free(&b);
    return c;
}

static inline agg_result_t res(const agg_spec_t *s, const void *st)
{
    agg_result_t r;
    agg_result(s, st, &r);
    return r;
}

#endif
