/* check_agg.c - unit tests for the mergeable aggregates (rules/agg*.c).
 *
 * Every figure is checked against an independent oracle: hand-computed decimal
 * strings, a decimal big-number adder for integer sums, exactly representable
 * float data whose sum is known, brute-force min/max/distinct counts, and a sorted
 * copy for nearest-rank percentiles. Merge tests split a dataset into halves and
 * into 7 uneven pieces merged in several orders (some through encode/decode) and
 * require the same figure, and for sketches the same encoded bins/registers, as
 * the whole. Decoder tests truncate, flip and hand-craft encodings. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "agg.h"
#include "agg_int.h"
#include "mem.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- helpers ----------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rnd01(void) /* (0, 1) */
{
    return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
}

static double rnd_normal(void)
{
    return sqrt(-2.0 * log(rnd01())) * cos(6.283185307179586 * rnd01());
}

static agg_spec_t spec_of(agg_kind_t k)
{
    agg_spec_t s = {k, 50.0, 0};
    return s;
}

static value_t vint(int64_t i)
{
    value_t v = {.kind = VALUE_INT, .i = i};
    return v;
}

static value_t vflt(double f)
{
    value_t v = {.kind = VALUE_FLOAT, .f = f};
    return v;
}

static value_t vstr(const char *s)
{
    value_t v = {.kind = VALUE_STR, .s = s, .len = (uint32_t)strlen(s)};
    return v;
}

static void *snew(const agg_spec_t *s)
{
    void *p = malloc(agg_state_size(s));
    ck_assert_ptr_nonnull(p);
    agg_init(s, p);
    return p;
}

static void sfree(const agg_spec_t *s, void *p)
{
    agg_release(s, p);
    free(p);
}

/* Hot loops test with `if` and abort only on failure: every passing ck_assert
 * costs Check a write to its pipe. */
static void add(const agg_spec_t *s, void *st, value_t v)
{
    if (agg_update(s, st, &v) != 0)
        ck_abort_msg("%s: update refused a value", agg_kind_name(s->kind));
}

static void enc(const agg_spec_t *s, const void *st, buf_t *b)
{
    buf_reset(b);
    agg_encode(s, st, b);
}

/* A copy made through the encoding, as a master receives it. */
static void *scopy(const agg_spec_t *s, const void *st)
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

static agg_result_t res(const agg_spec_t *s, const void *st)
{
    agg_result_t r;
    agg_result(s, st, &r);
    return r;
}

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

START_TEST(test_constants)
{
    ck_assert(fabs(AGG_DD_LN_GAMMA - log((1 + AGG_DD_ALPHA) / (1 - AGG_DD_ALPHA))) < 1e-15);
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
                failures += agg_update(&s, st, &(value_t){.kind = VALUE_FLOAT, .f = v[i]}) == AGG_NOMEM;
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
    failed = check_run(agg_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
