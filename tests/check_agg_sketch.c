/* check_agg_sketch.c - unit tests for the sketch aggregates and the encodings of every
 * aggregate (rules/agg_hll.c, rules/agg_exact.c, rules/agg_ddsketch.c, rules/agg.c):
 * distinct (HLL) accuracy and its sparse edge, distinct_exact counts and cap, percentile
 * accuracy and small sets, encode/decode round trips, truncated, flipped and hand-crafted
 * encodings, and every allocation failing in turn. Oracles: brute-force distinct counts, a
 * sorted copy for nearest-rank percentiles (within the sketch's relative error), the bytes
 * each test crafted, and the state's own figures before and after a refused call. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "agg.h"
#include "agg_int.h"
#include "mem.h"

#define FIXTURE_SUITE "check_agg_sketch"
#include "fixture_agg.h"

/* ---- distinct (HLL) ---------------------------------------------------------------------- */

/* n distinct integers from a seed's own range, each added 1-3 times. */
static double hll_run(int n, uint64_t seed, int strings)
{
    agg_spec_t s = spec_of(AGG_DISTINCT);
    void *st = snew(&s);
    char text[32];
    double est;
    rng_state = seed;
    for (int i = 0; i < n; i++) {
        int reps = 1 + (int)(rnd() % 3);
        for (int r = 0; r < reps; r++) {
            if (strings) {
                snprintf(text, sizeof text, "user-%llu-%d", (unsigned long long)seed, i);
                add(&s, st, vstr(text));
            } else {
                add(&s, st, vint((int64_t)(seed << 32) + i));
            }
        }
    }
    est = res(&s, st).num;
    ck_assert(est == strtod(res(&s, st).text, NULL));
    sfree(&s, st);
    return est;
}

START_TEST(test_hll_accuracy)
{
    static const int ns[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    double sum_err = 0;
    int runs = 0;
    ck_assert(hll_run(0, 1, 0) == 0.0);
    for (int i = 0; i < N(ns); i++) {
        int seeds = ns[i] >= 1000000 ? 2 : ns[i] >= 10000 ? 6 : 3;
        for (int sd = 0; sd < seeds; sd++) {
            double est = hll_run(ns[i], 1000 + (uint64_t)sd * 7 + (uint64_t)i, sd % 2);
            double err = fabs(est - ns[i]) / ns[i];
            if (ns[i] <= (int)AGG_HLL_SPARSE_MAX) {
                ck_assert_msg(est == ns[i], "n=%d est=%.0f", ns[i], est);
            } else {
                ck_assert_msg(err <= 0.035, "n=%d est=%.0f", ns[i], est);
                sum_err += err;
                runs++;
            }
        }
    }
    ck_assert_msg(sum_err / runs < 0.015, "mean error %g", sum_err / runs);
}
END_TEST

START_TEST(test_hll_sparse_edge)
{
    /* exact through the sparse limit; just past it the estimate is still close */
    agg_spec_t s = spec_of(AGG_DISTINCT);
    void *st = snew(&s);
    for (int i = 0; i < (int)AGG_HLL_SPARSE_MAX; i++)
        add(&s, st, vint(i));
    ck_assert_int_eq((int)res(&s, st).num, AGG_HLL_SPARSE_MAX);
    for (int i = 0; i < 100; i++)
        add(&s, st, vint(i)); /* duplicates */
    ck_assert_int_eq((int)res(&s, st).num, AGG_HLL_SPARSE_MAX);
    add(&s, st, vint(-1));
    ck_assert(fabs(res(&s, st).num - 1025) <= 0.03 * 1025);
    /* 200 and 200.0 and "200" are one value */
    sfree(&s, st);
    st = snew(&s);
    add(&s, st, vint(200));
    add(&s, st, vflt(200.0));
    add(&s, st, vstr("200"));
    add(&s, st, vstr("abc"));
    ck_assert_str_eq(res(&s, st).text, "3");
    sfree(&s, st);
}
END_TEST

/* ---- distinct_exact ------------------------------------------------------------------------- */

static void *exact_range(const agg_spec_t *s, int a, int b)
{
    void *st = snew(s);
    for (int i = a; i < b; i++) {
        add(s, st, vint(i));
        add(s, st, vint(a + (i * 7) % (b - a))); /* duplicates inside the range */
    }
    return st;
}

START_TEST(test_exact_counts_and_cap)
{
    agg_spec_t s = spec_of(AGG_DISTINCT_EXACT), s80 = s, s100 = s;
    void *a, *b, *m;
    agg_result_t r;
    s80.cap = 800;
    s100.cap = 100;
    for (int n = 1; n <= 5000; n *= 3) {
        a = exact_range(&s, 10, 10 + n);
        r = res(&s, a);
        ck_assert_int_eq((int)r.num, n);
        ck_assert_uint_eq(r.flags, 0);
        sfree(&s, a);
    }
    /* exactly at the cap is not capped; one more is, and holds the cap */
    a = exact_range(&s100, 0, 100);
    ck_assert_uint_eq(res(&s100, a).flags, 0);
    add(&s100, a, vint(5));
    ck_assert_uint_eq(res(&s100, a).flags, 0);
    add(&s100, a, vint(100));
    r = res(&s100, a);
    ck_assert_uint_eq(r.flags, AGG_RES_CAPPED);
    ck_assert_str_eq(r.text, "100");
    sfree(&s100, a);
    a = exact_range(&s100, 0, 150);
    ck_assert_uint_eq(res(&s100, a).flags, AGG_RES_CAPPED);
    ck_assert_str_eq(res(&s100, a).text, "100");
    /* a capped side makes the merge capped, even into an empty state */
    m = snew(&s100);
    agg_merge(&s100, m, a);
    ck_assert_uint_eq(res(&s100, m).flags, AGG_RES_CAPPED);
    sfree(&s100, m);
    sfree(&s100, a);
    /* overlapping sets: union 0..999 = 1000 */
    a = exact_range(&s, 0, 600);
    b = exact_range(&s, 400, 1000);
    m = scopy(&s, a);
    agg_merge(&s, m, b);
    ck_assert_str_eq(res(&s, m).text, "1000");
    ck_assert_uint_eq(res(&s, m).flags, 0);
    sfree(&s, m);
    sfree(&s, a);
    sfree(&s, b);
    /* the same union over a cap of 800: capped at 800 */
    a = exact_range(&s80, 0, 600);
    b = exact_range(&s80, 400, 1000);
    agg_merge(&s80, a, b);
    ck_assert_str_eq(res(&s80, a).text, "800");
    ck_assert_uint_eq(res(&s80, a).flags, AGG_RES_CAPPED);
    sfree(&s80, a);
    sfree(&s80, b);
    /* overlap that fits the cap exactly is not capped */
    a = exact_range(&s80, 0, 500);
    b = exact_range(&s80, 300, 800);
    agg_merge(&s80, a, b);
    ck_assert_str_eq(res(&s80, a).text, "800");
    ck_assert_uint_eq(res(&s80, a).flags, 0);
    sfree(&s80, a);
    sfree(&s80, b);
}
END_TEST

/* ---- percentile ------------------------------------------------------------------------------ */

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p in tenths of a percent; nearest rank k = ceil(p10 * n / 1000), at least 1. */
static void pct_check(const double *x, int n, const char *what)
{
    static const int p10s[] = {1, 10, 500, 900, 950, 990, 999, 1000};
    double *sorted = malloc(sizeof *sorted * (size_t)n);
    agg_spec_t s = spec_of(AGG_PERCENTILE);
    void *st = snew(&s);
    memcpy(sorted, x, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_dbl);
    for (int i = 0; i < n; i++)
        add(&s, st, vflt(x[i]));
    for (int i = 0; i < N(p10s); i++) {
        long long k = ((long long)p10s[i] * n + 999) / 1000;
        double exact = sorted[(k < 1 ? 1 : k) - 1], got;
        agg_result_t r;
        s.pct = p10s[i] / 10.0;
        r = res(&s, st);
        got = strtod(r.text, NULL);
        ck_assert_uint_eq(r.flags, 0);
        ck_assert_msg(fabs(got - exact) <= 0.01 * fabs(exact) * (1 + 1e-9) + 1e-9,
                      "%s n=%d p=%g: got %s, exact %.17g", what, n, s.pct, r.text, exact);
        ck_assert(fabs(got - r.num) <= 1e-9 * fabs(r.num));
    }
    sfree(&s, st);
    free(sorted);
}

START_TEST(test_percentile_accuracy)
{
    enum { NP = 200000 };
    double *x = malloc(sizeof *x * 1000000);
    rng_state = 3;
    for (int i = 0; i < 1000000; i++)
        x[i] = rnd01() * 1e6;
    pct_check(x, 1000000, "uniform");
    for (int i = 0; i < NP; i++)
        x[i] = exp(2.0 * rnd_normal());
    pct_check(x, NP, "lognormal");
    for (int i = 0; i < NP; i++)
        x[i] = 1.0 / pow(rnd01(), 1.0 / 1.1); /* Pareto, alpha 1.1 */
    pct_check(x, NP, "pareto");
    for (int i = 0; i < NP; i++)
        x[i] = (double)(int64_t)(rnd() % 2001) - 1000; /* negatives, many exact zeros */
    pct_check(x, NP, "ints -1000..1000");
    for (int i = 0; i < NP; i++)
        x[i] = rnd_normal() * (i % 2 ? 1e-3 : 1e6);
    pct_check(x, NP, "two-scale normal");
    for (int i = 0; i < NP; i++)
        x[i] = -exp(3.0 * rnd_normal());
    pct_check(x, NP, "negative lognormal");
    x[0] = 42.0;
    pct_check(x, 1, "single");
    x[0] = -7.5;
    pct_check(x, 1, "single negative");
    for (int i = 0; i < 100; i++)
        x[i] = i % 3 ? 0.0 : 1e-12;
    pct_check(x, 100, "zeros");
    for (int i = 0; i < 1000; i++)
        x[i] = 1e300 / (1 + i % 10);
    pct_check(x, 1000, "huge");
    free(x);
}
END_TEST

START_TEST(test_percentile_small)
{
    /* exact nearest rank on tiny sets where bins and clamping are visible */
    agg_spec_t s = spec_of(AGG_PERCENTILE);
    void *st = snew(&s);
    agg_result_t r = res(&s, st);
    ck_assert_uint_eq(r.flags, AGG_RES_NULL);
    ck_assert_str_eq(r.text, "");
    add(&s, st, vint(42));
    s.pct = 1;
    ck_assert_str_eq(res(&s, st).text, "42"); /* clamped into [min, max] */
    s.pct = 100;
    ck_assert_str_eq(res(&s, st).text, "42");
    for (int i = 1; i <= 100; i++)
        add(&s, st, vint(i == 42 ? 0 : i)); /* 0, 1..41, 43..100, and the 42 above */
    /* n = 101: p50 -> rank ceil(50.5) = 51; sorted 0, 1..41 are ranks 1..42, 42 is
     * rank 43, 43 is rank 44, so rank 51 is 50 */
    s.pct = 50;
    ck_assert(fabs(res(&s, st).num - 50) <= 0.5);
    s.pct = 0.5; /* rank 1 -> 0 exactly (zero bin) */
    ck_assert_str_eq(res(&s, st).text, "0");
    s.pct = 100;
    ck_assert_str_eq(res(&s, st).text, "100");
    sfree(&s, st);
}
END_TEST

/* ---- encode / decode ---------------------------------------------------------------------- */

static void *sample_state(const agg_spec_t *s, int n, uint64_t seed)
{
    void *st = snew(s);
    char text[24];
    rng_state = seed;
    for (int i = 0; i < n; i++) {
        uint64_t r = rnd();
        if (!agg_needs_number(s->kind) && r % 4 == 0) {
            snprintf(text, sizeof text, "v%llu", (unsigned long long)(r % 100000));
            add(s, st, vstr(text));
        } else if (r % 3 == 0) {
            add(s, st, vflt(rnd_normal() * 1e4));
        } else {
            add(s, st, vint((int64_t)(r % 200001) - 100000));
        }
    }
    return st;
}

static void roundtrip(const agg_spec_t *s, const void *st)
{
    buf_t a, b;
    void *c = scopy(s, st);
    agg_result_t r1 = res(s, st), r2 = res(s, c);
    buf_init(&a);
    buf_init(&b);
    ck_assert_str_eq(r1.text, r2.text);
    ck_assert_uint_eq(r1.flags, r2.flags);
    ck_assert(r1.num == r2.num || (isnan(r1.num) && isnan(r2.num)));
    enc(s, st, &a);
    enc(s, c, &b);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(memcmp(a.data, b.data, a.len) == 0);
    buf_free(&a);
    buf_free(&b);
    sfree(s, c);
}

/* Decodes bytes into a fresh state, exercising the state if accepted. */
static apr_status_t try_decode(const agg_spec_t *s, const uint8_t *p, size_t len)
{
    buf_reader_t r;
    abbey_err_t err;
    buf_t out;
    void *st = snew(s), *m;
    apr_status_t rv;
    agg_result_t res1;
    err.msg[0] = '\0';
    buf_reader_init(&r, p, len);
    rv = agg_decode(s, st, &r, &err);
    if (rv != APR_SUCCESS) {
        ck_assert_int_eq(rv, APR_EINVAL);
        ck_assert(err.msg[0] != '\0');
    }
    agg_result(s, st, &res1);
    buf_init(&out);
    agg_encode(s, st, &out);
    m = snew(s);
    add(s, m, vint(3));
    agg_merge(s, m, st);
    agg_merge(s, st, m);
    buf_free(&out);
    sfree(s, m);
    sfree(s, st);
    return rv;
}

START_TEST(test_encode_roundtrip)
{
    static const int sizes[] = {0, 1, 5, 300, 3000, 60000};
    for (int k = 0; k < AGG__COUNT; k++) {
        agg_spec_t s = spec_of((agg_kind_t)k);
        s.cap = 2000;
        for (int i = 0; i < N(sizes); i++) {
            void *st = sample_state(&s, sizes[i], 40 + (uint64_t)i);
            roundtrip(&s, st);
            sfree(&s, st);
        }
    }
}
END_TEST

START_TEST(test_decode_truncated_and_flipped)
{
    static const int sizes[] = {0, 1, 7, 200, 5000};
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x40};
    buf_t b;
    buf_init(&b);
    for (int k = 0; k < AGG__COUNT; k++) {
        agg_spec_t s = spec_of((agg_kind_t)k);
        s.cap = 3000;
        for (int i = 0; i < N(sizes); i++) {
            void *st = sample_state(&s, sizes[i], 7 + (uint64_t)i);
            size_t step;
            enc(&s, st, &b);
            ck_assert_int_eq(try_decode(&s, b.data, b.len), APR_SUCCESS);
            /* every truncation is refused (large encodings: a stride and both ends) */
            step = b.len > 2000 ? b.len / 500 : 1;
            for (size_t cut = 0; cut < b.len; cut += (cut < 64 || cut + 64 > b.len) ? 1 : step)
                ck_assert_msg(try_decode(&s, b.data, cut) == APR_EINVAL, "%s size %d cut %zu",
                              agg_kind_name(s.kind), sizes[i], cut);
            /* byte flips never crash */
            step = b.len > 400 ? b.len / 200 : 1;
            for (size_t pos = 0; pos < b.len; pos += step)
                for (int mk = 0; mk < N(masks); mk++) {
                    b.data[pos] ^= masks[mk];
                    try_decode(&s, b.data, b.len);
                    b.data[pos] ^= masks[mk];
                }
            sfree(&s, st);
        }
    }
    buf_free(&b);
}
END_TEST

static apr_status_t decode_buf(agg_kind_t k, uint32_t cap, const buf_t *b)
{
    agg_spec_t s = spec_of(k);
    s.cap = cap;
    return try_decode(&s, b->data, b->len);
}

START_TEST(test_decode_crafted)
{
    buf_t b;
    buf_init(&b);
    /* wrong kind tag, unknown version */
    buf_put_u8(&b, AGG_TAG(AGG_COUNT));
    buf_put_varint(&b, 5);
    ck_assert_int_eq(decode_buf(AGG_COUNT, 0, &b), APR_SUCCESS);
    ck_assert_int_eq(decode_buf(AGG_SUM, 0, &b), APR_EINVAL);
    b.data[0] = 0x20;
    ck_assert_int_eq(decode_buf(AGG_COUNT, 0, &b), APR_EINVAL);

    /* HLL dense registers: 51 is the largest valid value for p = 14 */
    for (int reg = 51; reg <= 52; reg++) {
        buf_reset(&b);
        buf_put_u8(&b, AGG_TAG(AGG_DISTINCT));
        buf_put_u8(&b, 1);
        for (int i = 0; i < (int)AGG_HLL_M / 4; i++) {
            uint32_t v =
                (uint32_t)reg | (uint32_t)reg << 6 | (uint32_t)reg << 12 | (uint32_t)reg << 18;
            buf_put_u8(&b, (uint8_t)v);
            buf_put_u8(&b, (uint8_t)(v >> 8));
            buf_put_u8(&b, (uint8_t)(v >> 16));
        }
        ck_assert_int_eq(decode_buf(AGG_DISTINCT, 0, &b), reg == 51 ? APR_SUCCESS : APR_EINVAL);
    }
    /* HLL sparse: count beyond the bytes, beyond the limit, out of order */
    buf_reset(&b);
    buf_put_u8(&b, AGG_TAG(AGG_DISTINCT));
    buf_put_u8(&b, 0);
    buf_put_varint(&b, 1000000000);
    buf_put_u64(&b, 1);
    ck_assert_int_eq(decode_buf(AGG_DISTINCT, 0, &b), APR_EINVAL);
    buf_reset(&b);
    buf_put_u8(&b, AGG_TAG(AGG_DISTINCT));
    buf_put_u8(&b, 0);
    buf_put_varint(&b, AGG_HLL_SPARSE_MAX + 1);
    for (uint64_t i = 1; i <= AGG_HLL_SPARSE_MAX + 1; i++)
        buf_put_u64(&b, i);
    ck_assert_int_eq(decode_buf(AGG_DISTINCT, 0, &b), APR_EINVAL);
    b.data[2] = 0x80; /* varint 1024 = 0x80 0x08 (1025 was 0x81 0x08) */
    b.data[3] = 0x08;
    b.len -= 8;
    ck_assert_int_eq(decode_buf(AGG_DISTINCT, 0, &b), APR_SUCCESS);
    memcpy(b.data + 4 + 8 * 5, b.data + 4 + 8 * 4, 8); /* duplicate hash */
    ck_assert_int_eq(decode_buf(AGG_DISTINCT, 0, &b), APR_EINVAL);

    /* distinct_exact: more members than the cap */
    buf_reset(&b);
    buf_put_u8(&b, AGG_TAG(AGG_DISTINCT_EXACT));
    buf_put_u8(&b, 0);
    buf_put_varint(&b, 11);
    for (uint64_t i = 0; i < 11; i++)
        buf_put_u64(&b, i * 1000);
    ck_assert_int_eq(decode_buf(AGG_DISTINCT_EXACT, 11, &b), APR_SUCCESS);
    ck_assert_int_eq(decode_buf(AGG_DISTINCT_EXACT, 10, &b), APR_EINVAL);

    /* DDSketch: a bin range of exactly the cap is fine, one more is refused */
    for (int gap = AGG_DD_MAX_BINS - 1; gap <= AGG_DD_MAX_BINS; gap++) {
        buf_reset(&b);
        buf_put_u8(&b, AGG_TAG(AGG_PERCENTILE));
        buf_put_varint(&b, 0); /* zeros */
        buf_put_varint(&b, 0); /* negative bins */
        buf_put_varint(&b, 2); /* positive bins */
        buf_put_svarint(&b, -100);
        buf_put_varint(&b, 3);
        buf_put_varint(&b, (uint64_t)gap);
        buf_put_varint(&b, 1);
        buf_put_f64(&b, 1.0);
        buf_put_f64(&b, 2.0);
        ck_assert_int_eq(decode_buf(AGG_PERCENTILE, 0, &b),
                         gap < AGG_DD_MAX_BINS ? APR_SUCCESS : APR_EINVAL);
    }
    /* DDSketch: bin count beyond the bytes left; counts that overflow */
    buf_reset(&b);
    buf_put_u8(&b, AGG_TAG(AGG_PERCENTILE));
    buf_put_varint(&b, 0);
    buf_put_varint(&b, 4000);
    buf_put_svarint(&b, 1);
    buf_put_varint(&b, 1);
    ck_assert_int_eq(decode_buf(AGG_PERCENTILE, 0, &b), APR_EINVAL);
    buf_reset(&b);
    buf_put_u8(&b, AGG_TAG(AGG_PERCENTILE));
    buf_put_varint(&b, UINT64_MAX);
    buf_put_varint(&b, 0);
    buf_put_varint(&b, 1);
    buf_put_svarint(&b, 1);
    buf_put_varint(&b, 1);
    buf_put_f64(&b, 1.0);
    buf_put_f64(&b, 1.0);
    ck_assert_int_eq(decode_buf(AGG_PERCENTILE, 0, &b), APR_EINVAL);
    buf_free(&b);
}
END_TEST

/* ---- out of memory ------------------------------------------------------------------ */

/* The n-th allocation fails (mem.h's hook), for every n that updating, merging
 * and decoding a state with heap parts makes: exactly one call says AGG_NOMEM
 * (APR_ENOMEM and "out of memory" for decode), and the state stays usable:
 * its result reads, it encodes and decodes, it releases (ASan, valgrind); a
 * decode that fails leaves it empty. Values: 3000 spread over 1e-3..1e12, so
 * that sets grow, the HLL turns dense and the sketch collapses bins. */
START_TEST(test_out_of_memory)
{
    static const agg_kind_t kinds[] = {AGG_DISTINCT, AGG_DISTINCT_EXACT, AGG_PERCENTILE};
    enum { NV = 3000 };
    static double v[NV];
    buf_t b;
    buf_init(&b);
    rng_state = 99;
    for (int i = 0; i < NV; i++)
        v[i] = pow(10.0, -3 + 15 * rnd01());
    for (int k = 0; k < N(kinds); k++) {
        agg_spec_t s = spec_of(kinds[k]);
        void *ref = snew(&s), *half = snew(&s);
        agg_result_t want;
        for (int i = 0; i < NV; i++)
            add(&s, i < NV / 2 ? half : ref, vflt(v[i]));
        ck_assert_int_eq(agg_merge(&s, ref, half), 0);
        want = res(&s, ref);
        for (uint64_t n = 1;; n++) { /* update, then merge */
            void *st = snew(&s), *c;
            int failures = 0;
            mem_fail_at(n);
            for (int i = NV / 2; i < NV; i++)
                failures +=
                    agg_update(&s, st, &(value_t){.kind = VALUE_FLOAT, .f = v[i]}) == AGG_NOMEM;
            failures += agg_merge(&s, st, half) == AGG_NOMEM;
            mem_fail_at(0);
            ck_assert_msg(failures <= 1, "%s, allocation %llu: %d failures", agg_kind_name(s.kind),
                          (unsigned long long)n, failures);
            c = scopy(&s, st);
            ck_assert_str_eq(res(&s, c).text, res(&s, st).text);
            if (!failures)
                ck_assert_str_eq(res(&s, st).text, want.text);
            sfree(&s, c);
            sfree(&s, st);
            if (!failures)
                break;
        }
        enc(&s, ref, &b);
        for (uint64_t n = 1;; n++) { /* decode */
            void *st = snew(&s);
            buf_reader_t r;
            abbey_err_t err = {{0}};
            apr_status_t rv;
            buf_reader_init(&r, b.data, b.len);
            mem_fail_at(n);
            rv = agg_decode(&s, st, &r, &err);
            mem_fail_at(0);
            if (rv == APR_SUCCESS) {
                ck_assert_str_eq(res(&s, st).text, want.text);
                sfree(&s, st);
                break;
            }
            ck_assert_int_eq(rv, APR_ENOMEM);
            ck_assert_msg(strstr(err.msg, "out of memory") != NULL, "%s", err.msg);
            ck_assert(res(&s, st).num == 0);
            sfree(&s, st);
        }
        sfree(&s, ref);
        sfree(&s, half);
    }
    buf_free(&b);
}
END_TEST

static Suite *agg_sketch_suite(void)
{
    Suite *s = suite_create("agg_sketch");
    TCase *tc;
    tc = tcase_create("distinct");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_hll_accuracy);
    tcase_add_test(tc, test_hll_sparse_edge);
    tcase_add_test(tc, test_exact_counts_and_cap);
    suite_add_tcase(s, tc);
    tc = tcase_create("percentile");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_percentile_accuracy);
    tcase_add_test(tc, test_percentile_small);
    suite_add_tcase(s, tc);
    tc = tcase_create("encoding");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_encode_roundtrip);
    tcase_add_test(tc, test_decode_truncated_and_flipped);
    tcase_add_test(tc, test_decode_crafted);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(agg_sketch_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
