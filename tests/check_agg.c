/* check_agg.c - unit tests for the mergeable aggregates (rules/agg*.c): names and
 * constants, count, sum, min, max and avg, and every kind split and merged; the sketches
 * (distinct, distinct_exact, percentile), encodings and out of memory are
 * tests/check_agg_sketch.c.
 *
 * Every figure is checked against an independent oracle: hand-computed decimal strings, a
 * decimal big-number adder for integer sums, exactly representable float data whose sum is
 * known, and brute-force min/max counts. Merge tests split a dataset into halves and into 7
 * uneven pieces merged in several orders (some through encode/decode) and require the same
 * figure, and for sketches the same encoded bins/registers, as the whole. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "agg.h"
#include "agg_int.h"
#include "mem.h"

#define FIXTURE_SUITE "check_agg"
#include "fixture_agg.h"

/* ---- a decimal oracle for integer sums ------------------------------------------------ */

#define DEC_LIMBS 6 /* base 1e9: 54 digits */

typedef struct dec_t {
    uint32_t d[DEC_LIMBS]; /* little-endian limbs */
} dec_t;

static void dec_add_u64(dec_t *a, uint64_t u)
{
    uint64_t carry = 0,
             part[3] = {u % 1000000000u, u / 1000000000u % 1000000000u, u / 1000000000000000000u};
    for (int i = 0; i < DEC_LIMBS; i++) {
        uint64_t x = a->d[i] + carry + (i < 3 ? part[i] : 0);
        a->d[i] = (uint32_t)(x % 1000000000u);
        carry = x / 1000000000u;
    }
}

static int dec_cmp(const dec_t *a, const dec_t *b)
{
    for (int i = DEC_LIMBS - 1; i >= 0; i--)
        if (a->d[i] != b->d[i])
            return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

static void dec_sub(dec_t *a, const dec_t *b) /* a -= b, a >= b */
{
    int64_t borrow = 0;
    for (int i = 0; i < DEC_LIMBS; i++) {
        int64_t x = (int64_t)a->d[i] - b->d[i] - borrow;
        borrow = x < 0;
        a->d[i] = (uint32_t)(x < 0 ? x + 1000000000 : x);
    }
}

/* Decimal text of sum(v) computed as (positives) - (magnitudes of negatives). */
static void dec_sum_text(const int64_t *v, int n, char *out)
{
    dec_t p = {{0}}, m = {{0}};
    int i = DEC_LIMBS - 1, neg;
    for (int k = 0; k < n; k++) {
        if (v[k] >= 0)
            dec_add_u64(&p, (uint64_t)v[k]);
        else
            dec_add_u64(&m, 0 - (uint64_t)v[k]);
    }
    neg = dec_cmp(&p, &m) < 0;
    if (neg) {
        dec_sub(&m, &p);
        p = m;
    } else {
        dec_sub(&p, &m);
    }
    while (i > 0 && !p.d[i])
        i--;
    out += sprintf(out, "%s%u", neg ? "-" : "", p.d[i]);
    while (--i >= 0)
        out += sprintf(out, "%09u", p.d[i]);
}

/* ---- names ------------------------------------------------------------------------- */

START_TEST(test_names)
{
    static const char *names[] = {"count",          "sum",       "min", "max", "avg", "distinct",
                                  "distinct_exact", "percentile"};
    agg_kind_t k;
    for (int i = 0; i < N(names); i++) {
        ck_assert_int_eq(agg_kind_from_name(names[i], strlen(names[i]), &k), 0);
        ck_assert_int_eq(k, i);
        ck_assert_str_eq(agg_kind_name(k), names[i]);
        ck_assert_int_eq(agg_takes_arg(k), i != AGG_COUNT);
        ck_assert_int_eq(agg_needs_number(k),
                         i != AGG_COUNT && i != AGG_DISTINCT && i != AGG_DISTINCT_EXACT);
        agg_spec_t s = spec_of(k);
        ck_assert_uint_eq(agg_state_size(&s) % 8, 0);
        ck_assert_uint_le(agg_state_size(&s), 128);
    }
    ck_assert_int_eq(agg_kind_from_name("distinct_exactly", 14, &k), 0);
    ck_assert_int_eq(k, AGG_DISTINCT_EXACT);
    ck_assert_int_eq(agg_kind_from_name("distinct_exactly", 16, &k), -1);
    ck_assert_int_eq(agg_kind_from_name("Count", 5, &k), -1);
    ck_assert_int_eq(agg_kind_from_name("coun", 4, &k), -1);
    ck_assert_int_eq(agg_kind_from_name("", 0, &k), -1);
    ck_assert_int_eq(agg_kind_from_name("p95", 3, &k), -1);
}
END_TEST

/* ---- count, sum, min, max, avg ------------------------------------------------------- */

START_TEST(test_count_nulls)
{
    agg_spec_t s = spec_of(AGG_COUNT);
    void *st = snew(&s);
    value_t null = {.kind = VALUE_NULL};
    ck_assert_str_eq(res(&s, st).text, "0");
    for (int i = 0; i < 7; i++)
        add(&s, st, null);
    ck_assert_int_eq(agg_update(&s, st, NULL), 0);
    add(&s, st, vstr("x"));
    ck_assert_str_eq(res(&s, st).text, "9");
    ck_assert(res(&s, st).num == 9.0);
    sfree(&s, st);
}
END_TEST

static void sum_ints_text(const int64_t *v, int n, const char *want)
{
    agg_spec_t s = spec_of(AGG_SUM);
    void *st = snew(&s);
    for (int i = 0; i < n; i++)
        add(&s, st, vint(v[i]));
    agg_result_t r = res(&s, st);
    ck_assert_str_eq(r.text, want);
    ck_assert_uint_eq(r.flags, 0);
    ck_assert(fabs(r.num - strtod(want, NULL)) <= 1e-15 * fabs(r.num));
    sfree(&s, st);
}

START_TEST(test_sum_big_ints)
{
    static int64_t v[1000];
    char want[80];
    for (int i = 0; i < 1000; i++)
        v[i] = INT64_MAX;
    sum_ints_text(v, 1000, "9223372036854775807000"); /* (2^63-1) * 1000 */
    for (int i = 0; i < 3; i++)
        v[i] = INT64_MIN;
    sum_ints_text(v, 3, "-27670116110564327424"); /* -2^63 * 3 */
    for (int i = 0; i < 7; i++)
        v[i] = i < 5 ? INT64_MAX : INT64_MIN;
    sum_ints_text(v, 7, "27670116110564327419"); /* 5(2^63-1) - 2 * 2^63 */
    sum_ints_text(v, 0, "0");
    /* random values spread over the whole int64 range, against the decimal oracle */
    rng_state = 11;
    for (int i = 0; i < 1000; i++)
        v[i] = (int64_t)rnd() >> (rnd() % 64);
    for (int n = 1; n <= 1000; n = n * 3 + 1) {
        dec_sum_text(v, n, want);
        sum_ints_text(v, n, want);
    }
    /* numeric text sums as its number */
    agg_spec_t s = spec_of(AGG_SUM);
    void *st = snew(&s);
    add(&s, st, vstr("-9223372036854775808"));
    add(&s, st, vstr("-9223372036854775808"));
    add(&s, st, vstr("17"));
    ck_assert_str_eq(res(&s, st).text, "-18446744073709551599");
    sfree(&s, st);
}
END_TEST

START_TEST(test_sum_overflow)
{
    /* Doubling by merging a state with a copy of itself: (2^63-1) * 2^64 still fits
     * a signed 128-bit integer, one more doubling does not. */
    agg_spec_t s = spec_of(AGG_SUM);
    void *st = snew(&s), *c;
    agg_result_t r;
    add(&s, st, vint(INT64_MAX));
    for (int i = 0; i < 64; i++) {
        c = scopy(&s, st);
        agg_merge(&s, st, c);
        sfree(&s, c);
    }
    r = res(&s, st);
    ck_assert_str_eq(r.text, "170141183460469231713240559642174554112");
    ck_assert_uint_eq(r.flags, 0);
    c = scopy(&s, st);
    agg_merge(&s, st, c);
    sfree(&s, c);
    r = res(&s, st);
    ck_assert_uint_eq(r.flags, AGG_RES_OVERFLOW);
    ck_assert(fabs(r.num - 340282366920938463426481119284349108224.0) <= 1e-12 * r.num);
    ck_assert(fabs(strtod(r.text, NULL) - r.num) <= 1e-15 * r.num);
    c = scopy(&s, st); /* the flag survives encoding */
    ck_assert_uint_eq(res(&s, c).flags, AGG_RES_OVERFLOW);
    sfree(&s, c);
    sfree(&s, st);

    /* -2^63 * 2^64 is exactly the smallest int128 */
    st = snew(&s);
    add(&s, st, vint(INT64_MIN));
    for (int i = 0; i < 64; i++) {
        c = scopy(&s, st);
        agg_merge(&s, st, c);
        sfree(&s, c);
    }
    ck_assert_str_eq(res(&s, st).text, "-170141183460469231731687303715884105728");
    add(&s, st, vint(-1));
    ck_assert_uint_eq(res(&s, st).flags, AGG_RES_OVERFLOW);
    ck_assert(res(&s, st).num < -1.7e38);
    sfree(&s, st);
}
END_TEST

START_TEST(test_sum_floats)
{
    agg_spec_t s = spec_of(AGG_SUM);
    void *st = snew(&s);
    int64_t m_sum = 0;
    /* cancellation that plain and Kahan summation both get wrong */
    add(&s, st, vflt(1e100));
    add(&s, st, vflt(1.0));
    add(&s, st, vflt(-1e100));
    ck_assert_str_eq(res(&s, st).text, "1");
    sfree(&s, st);
    /* ten times 0.1: exact sum 1.0000000000000000555 rounds to 1 */
    st = snew(&s);
    for (int i = 0; i < 10; i++)
        add(&s, st, vflt(0.1));
    ck_assert_str_eq(res(&s, st).text, "1");
    sfree(&s, st);
    /* dyadic data: x = m / 1024, so the exact sum is (sum m) / 1024 */
    st = snew(&s);
    rng_state = 5;
    for (int i = 0; i < 200000; i++) {
        int64_t m = (int64_t)(rnd() % (1ull << 41)) - (1ll << 40);
        m_sum += m;
        add(&s, st, vflt((double)m / 1024.0));
    }
    double exact = (double)m_sum / 1024.0;
    ck_assert(fabs(res(&s, st).num - exact) <= 1e-15 * fabs(exact));
    ck_assert(strtod(res(&s, st).text, NULL) == res(&s, st).num);
    sfree(&s, st);
    /* mixed: integers stay exact, the float part joins at the end */
    st = snew(&s);
    add(&s, st, vint(1));
    add(&s, st, vflt(2.5));
    add(&s, st, vstr("3"));
    add(&s, st, vstr("-0.25"));
    ck_assert_str_eq(res(&s, st).text, "6.25");
    ck_assert_uint_eq(res(&s, st).flags, 0);
    sfree(&s, st);
}
END_TEST

static void mm_check(const value_t *v, int n, const char *mn, const char *mx, const char *avg)
{
    agg_spec_t smin = spec_of(AGG_MIN), smax = spec_of(AGG_MAX), savg = spec_of(AGG_AVG);
    void *a = snew(&smin), *b = snew(&smax), *c = snew(&savg);
    for (int i = 0; i < n; i++) {
        add(&smin, a, v[i]);
        add(&smax, b, v[i]);
        add(&savg, c, v[i]);
    }
    ck_assert_str_eq(res(&smin, a).text, mn);
    ck_assert_str_eq(res(&smax, b).text, mx);
    ck_assert_str_eq(res(&savg, c).text, avg);
    ck_assert_uint_eq(res(&smin, a).flags, *mn ? 0 : AGG_RES_NULL);
    ck_assert_uint_eq(res(&savg, c).flags, *avg ? 0 : AGG_RES_NULL);
    sfree(&smin, a);
    sfree(&smax, b);
    sfree(&savg, c);
}

START_TEST(test_min_max_avg)
{
    value_t null = {.kind = VALUE_NULL};
    value_t ints[] = {vint(5), vint(-3), null, vint(17), vint(2)};
    value_t flts[] = {vflt(2.5), null, vflt(-0.125), vflt(1e10)};
    value_t mixed[] = {vint(3), vflt(2.5), vstr("4"), vstr("-1.5e0")};
    value_t big[] = {vint(INT64_MAX - 1), vflt(9.2233720368547748e18), vint(INT64_MAX)};
    value_t neg_big[] = {vint(INT64_MIN + 1), vflt(-9.2233720368547748e18), vint(INT64_MIN)};
    value_t halves[] = {vint(1), vint(2)};
    value_t nulls[] = {null, null};
    mm_check(ints, N(ints), "-3", "17", "5.25");                    /* 21 / 4 */
    mm_check(flts, N(flts), "-0.125", "10000000000", "3333333334"); /* 10000000002.375 / 3 */
    mm_check(mixed, N(mixed), "-1.5", "4", "2");                    /* 8 / 4 */
    /* integers near 2^63 stay exact next to a float just below them */
    mm_check(big, N(big), "9.223372036854775e+18", "9223372036854775807", "9.223372037e+18");
    mm_check(neg_big, N(neg_big), "-9223372036854775808", "-9.223372036854775e+18",
             "-9.223372037e+18");
    mm_check(halves, N(halves), "1", "2", "1.5");
    mm_check(nulls, N(nulls), "", "", "");
    mm_check(nulls, 0, "", "", "");

    /* random integers against brute force */
    agg_spec_t smin = spec_of(AGG_MIN), smax = spec_of(AGG_MAX), savg = spec_of(AGG_AVG);
    void *a = snew(&smin), *b = snew(&smax), *c = snew(&savg);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    long double total = 0;
    char want[32];
    rng_state = 77;
    for (int i = 0; i < 10000; i++) {
        value_t v = vint((int64_t)rnd() >> 20);
        lo = v.i < lo ? v.i : lo;
        hi = v.i > hi ? v.i : hi;
        total += v.i;
        add(&smin, a, v);
        add(&smax, b, v);
        add(&savg, c, v);
    }
    sprintf(want, "%lld", (long long)lo);
    ck_assert_str_eq(res(&smin, a).text, want);
    sprintf(want, "%lld", (long long)hi);
    ck_assert_str_eq(res(&smax, b).text, want);
    ck_assert(fabsl(res(&savg, c).num - total / 10000) <= 1e-12L * fabsl(total / 10000));
    sfree(&smin, a);
    sfree(&smax, b);
    sfree(&savg, c);
}
END_TEST

START_TEST(test_update_errors)
{
    value_t null = {.kind = VALUE_NULL}, bad = vstr("abc"), half = vstr("12x"), nan = vflt(NAN);
    buf_t before, after;
    buf_init(&before);
    buf_init(&after);
    for (int k = 0; k < AGG__COUNT; k++) {
        agg_spec_t s = spec_of((agg_kind_t)k);
        void *st = snew(&s);
        add(&s, st, vint(7));
        enc(&s, st, &before);
        if (agg_needs_number(s.kind)) {
            ck_assert_int_eq(agg_update(&s, st, &bad), -1);
            ck_assert_int_eq(agg_update(&s, st, &half), -1);
            ck_assert_int_eq(agg_update(&s, st, &nan), -1);
        }
        if (k != AGG_COUNT) {
            ck_assert_int_eq(agg_update(&s, st, &null), 0);
            enc(&s, st, &after);
            ck_assert_uint_eq(before.len, after.len);
            ck_assert(memcmp(before.data, after.data, before.len) == 0);
        }
        if (!agg_needs_number(s.kind) && k != AGG_COUNT) {
            ck_assert_int_eq(agg_update(&s, st, &bad), 0);
            ck_assert_str_eq(res(&s, st).text, "2");
        }
        sfree(&s, st);
    }
    buf_free(&before);
    buf_free(&after);
}
END_TEST

/* ---- split and merge: every kind ------------------------------------------------------- */

/* Folds vals[a, b) into a fresh state. */
static void *fold(const agg_spec_t *s, const value_t *v, int a, int b)
{
    void *st = snew(s);
    for (int i = a; i < b; i++)
        add(s, st, v[i]);
    return st;
}

/* The merged state must match the whole: same text, and when bytes_equal, the same
 * encoding (identical bins, registers, sets); otherwise the figure within tol. */
static void same_as_whole(const agg_spec_t *s, const void *whole, const void *m, int bytes_equal,
                          double tol)
{
    agg_result_t rw = res(s, whole), rm = res(s, m);
    ck_assert_uint_eq(rw.flags, rm.flags);
    if (bytes_equal) {
        buf_t a, b;
        buf_init(&a);
        buf_init(&b);
        enc(s, whole, &a);
        enc(s, m, &b);
        ck_assert_str_eq(rw.text, rm.text);
        ck_assert_uint_eq(a.len, b.len);
        ck_assert(memcmp(a.data, b.data, a.len) == 0);
        buf_free(&a);
        buf_free(&b);
    } else {
        ck_assert(fabs(rw.num - rm.num) <= tol * fabs(rw.num));
    }
}

static void check_splits(const agg_spec_t *s, const value_t *v, int n, int bytes_equal)
{
    static const int weights[7] = {1, 2, 3, 5, 8, 13, 21}; /* of 53 */
    static const int orders[4][7] = {
        {0, 1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1, 0}, {3, 0, 6, 2, 5, 1, 4}, {5, 3, 1, 6, 0, 4, 2}};
    void *whole = fold(s, v, 0, n), *piece[7], *m;
    int cut[8] = {0}, w = 0;
    void *a = fold(s, v, 0, n / 2), *b = fold(s, v, n / 2, n);

    /* halves: into fresh states both ways, and into a non-empty state */
    m = snew(s);
    agg_merge(s, m, a);
    agg_merge(s, m, b);
    same_as_whole(s, whole, m, bytes_equal, 1e-12);
    sfree(s, m);
    m = snew(s);
    agg_merge(s, m, b);
    agg_merge(s, m, a);
    same_as_whole(s, whole, m, bytes_equal, 1e-12);
    sfree(s, m);
    m = scopy(s, b);
    agg_merge(s, m, a);
    same_as_whole(s, whole, m, bytes_equal, 1e-12);
    sfree(s, m);
    sfree(s, a);
    sfree(s, b);

    /* seven uneven pieces */
    for (int i = 0; i < 7; i++) {
        w += weights[i];
        cut[i + 1] = (int)((long long)n * w / 53);
    }
    for (int i = 0; i < 7; i++)
        piece[i] = fold(s, v, cut[i], cut[i + 1]);
    for (int o = 0; o < 4; o++) {
        m = snew(s);
        for (int i = 0; i < 7; i++) {
            if (o == 3) { /* this order goes through the wire encoding */
                void *c = scopy(s, piece[orders[o][i]]);
                agg_merge(s, m, c);
                sfree(s, c);
            } else {
                agg_merge(s, m, piece[orders[o][i]]);
            }
        }
        same_as_whole(s, whole, m, bytes_equal, 1e-12);
        sfree(s, m);
    }
    /* a tree: ((0+1)+(2+3)) + ((4+5)+6), built in copies */
    {
        void *t[7];
        for (int i = 0; i < 7; i++)
            t[i] = scopy(s, piece[i]);
        agg_merge(s, t[0], t[1]);
        agg_merge(s, t[2], t[3]);
        agg_merge(s, t[4], t[5]);
        agg_merge(s, t[0], t[2]);
        agg_merge(s, t[4], t[6]);
        agg_merge(s, t[4], t[0]);
        same_as_whole(s, whole, t[4], bytes_equal, 1e-12);
        for (int i = 0; i < 7; i++)
            sfree(s, t[i]);
    }
    for (int i = 0; i < 7; i++)
        sfree(s, piece[i]);
    sfree(s, whole);
}

START_TEST(test_split_merge_all_kinds)
{
    enum { NV = 20000 };
    static value_t ints[NV], mixed[NV], few[NV], wide[NV];
    static char text[NV][12];
    value_t null = {.kind = VALUE_NULL};
    int64_t isum[NV];
    int nsum = 0;
    char want[80];
    rng_state = 99;
    for (int i = 0; i < NV; i++) {
        uint64_t r = rnd();
        ints[i] = r % 10 == 0 ? null : vint((int64_t)(r >> 1) - (int64_t)(1ull << 62));
        if (ints[i].kind == VALUE_INT)
            isum[nsum++] = ints[i].i;
        mixed[i] = r % 3 == 0 ? vflt(rnd_normal() * 1e3) : vint((int64_t)(r % 2000) - 1000);
        snprintf(text[i], sizeof text[i], "u%u", (unsigned)(r % 500));
        few[i] = vstr(text[i]);
        wide[i] = vflt(pow(10.0, -9.0 + 309.0 * rnd01()) * (r % 2 ? 1 : -1));
    }
    for (int k = 0; k < AGG__COUNT; k++) {
        agg_spec_t s = spec_of((agg_kind_t)k);
        int numeric = agg_needs_number(s.kind);
        check_splits(&s, ints, NV, 1);
        /* floats: compensated sums may differ in the last bits, all else is exact */
        check_splits(&s, mixed, NV, !(s.kind == AGG_SUM || s.kind == AGG_AVG));
        if (!numeric)
            check_splits(&s, few, NV, 1); /* distinct kinds: sparse, exact */
        if (s.kind == AGG_PERCENTILE || s.kind == AGG_DISTINCT)
            check_splits(&s, wide, NV, 1); /* > 4096 bins: collapsing; dense HLL */
    }
    /* and the whole's figures against the oracles */
    agg_spec_t s = spec_of(AGG_SUM);
    void *st = fold(&s, ints, 0, NV);
    dec_sum_text(isum, nsum, want);
    ck_assert_str_eq(res(&s, st).text, want);
    sfree(&s, st);
    s = spec_of(AGG_COUNT);
    st = fold(&s, ints, 0, NV);
    ck_assert_int_eq((int)res(&s, st).num, NV);
    sfree(&s, st);
    for (int k = AGG_DISTINCT; k <= AGG_DISTINCT_EXACT; k++) {
        s = spec_of((agg_kind_t)k);
        st = fold(&s, few, 0, NV);
        ck_assert_str_eq(res(&s, st).text, "500");
        sfree(&s, st);
    }
}
END_TEST

START_TEST(test_constants)
{
    ck_assert(fabs(AGG_DD_LN_GAMMA - log((1 + AGG_DD_ALPHA) / (1 - AGG_DD_ALPHA))) < 1e-15);
}
END_TEST

static Suite *agg_suite(void)
{
    Suite *s = suite_create("agg");
    TCase *tc = tcase_create("basic");
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_constants);
    tcase_add_test(tc, test_count_nulls);
    tcase_add_test(tc, test_update_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("numeric");
    tcase_add_test(tc, test_sum_big_ints);
    tcase_add_test(tc, test_sum_overflow);
    tcase_add_test(tc, test_sum_floats);
    tcase_add_test(tc, test_min_max_avg);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_split_merge_all_kinds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(agg_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
