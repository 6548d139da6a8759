/* check_ranges.c - unit tests for the range sets of common/ranges.c.
 *
 * The oracle is a bitmap over a small universe of U bytes (placed at 0 and
 * just below UINT64_MAX): after every random ranges_add the set must equal the
 * maximal runs of set bits (so it is sorted and coalesced), and ranges_check,
 * ranges_covers, ranges_overlapping and ranges_missing must agree with a
 * byte-by-byte scan for random queries. Hand-worked cases cover adjacency and
 * the ends of the u64 space. A set made from a list as a 409 answer carries
 * one (any order, overlapping, empty and inverted pairs) must give the
 * missing parts a bitmap of the list gives. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "check_run.h"
#include "ranges.h"

#define U 400 /* oracle universe, in bytes */

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* xorshift64*: a deterministic generator the test owns */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* The maximal runs of bits in [lo, hi) of bm, set or clear (want), as absolute offsets. */
static size_t runs(const unsigned char *bm, unsigned lo, unsigned hi, int want, uint64_t base,
                   uint64_t (*out)[2])
{
    size_t n = 0;
    for (unsigned i = lo; i < hi;) {
        if ((bm[i] != 0) != want) {
            i++;
            continue;
        }
        unsigned j = i;
        while (j < hi && (bm[j] != 0) == want)
            j++;
        out[n][0] = base + i;
        out[n][1] = base + j;
        n++;
        i = j;
    }
    return n;
}

/* The runs of set bits that intersect [lo, hi), whole (not clipped). */
static size_t runs_touching(const unsigned char *bm, unsigned lo, unsigned hi, uint64_t base,
                            uint64_t (*out)[2])
{
    uint64_t all[U][2];
    size_t n = runs(bm, 0, U, 1, base, all), k = 0;
    for (size_t i = 0; i < n; i++)
        if (all[i][0] < base + hi && all[i][1] > base + lo) {
            out[k][0] = all[i][0];
            out[k][1] = all[i][1];
            k++;
        }
    return k;
}

static void check_against(const ranges_t *r, const unsigned char *bm, uint64_t base)
{
    static uint64_t want[U][2], got[U][2];
    size_t nw = runs(bm, 0, U, 1, base, want);

    /* the set itself: sorted, coalesced */
    ck_assert_uint_eq(ranges_count(r), nw);
    for (size_t i = 0; i < nw; i++) {
        uint64_t a, b;
        ranges_get(r, i, &a, &b);
        ck_assert_uint_eq(a, want[i][0]);
        ck_assert_uint_eq(b, want[i][1]);
    }
    for (int q = 0; q < 40; q++) {
        unsigned lo = rnd_below(U), hi = lo + 1 + rnd_below(U - lo), set = 0;
        size_t n;
        for (unsigned i = lo; i < hi; i++)
            set += bm[i] != 0;
        ranges_verdict_t expect = set == 0         ? RANGES_NEW
                                  : set == hi - lo ? RANGES_COVERED
                                                   : RANGES_OVERLAP;
        ck_assert_int_eq(ranges_check(r, base + lo, base + hi), expect);
        ck_assert_int_eq(ranges_covers(r, base + lo, base + hi), expect == RANGES_COVERED);

        nw = runs_touching(bm, lo, hi, base, want);
        n = ranges_overlapping(r, base + lo, base + hi, got, U);
        ck_assert_uint_eq(n, nw);
        ck_assert(memcmp(got, want, n * sizeof got[0]) == 0);
        if (nw > 1) { /* truncated to max */
            ck_assert_uint_eq(ranges_overlapping(r, base + lo, base + hi, got, 1), 1);
            ck_assert_uint_eq(got[0][0], want[0][0]);
        }

        nw = runs(bm, lo, hi, 0, base, want);
        n = ranges_missing(r, base + lo, base + hi, got, U);
        ck_assert_uint_eq(n, nw);
        ck_assert(memcmp(got, want, n * sizeof got[0]) == 0);
        if (nw > 1) {
            ck_assert_uint_eq(ranges_missing(r, base + lo, base + hi, got, nw - 1), nw - 1);
            ck_assert(memcmp(got, want, (nw - 1) * sizeof got[0]) == 0);
        }
    }
}

static void random_run(uint64_t seed, uint64_t base, unsigned maxlen)
{
    unsigned char bm[U];
    ranges_t *r = ranges_create(pool);

    rng_state = seed;
    memset(bm, 0, sizeof bm);
    check_against(r, bm, base);
    for (int step = 0; step < 150; step++) {
        unsigned a = rnd_below(U), len = 1 + rnd_below(maxlen);
        unsigned b = a + len > U ? U : a + len;
        ranges_add(r, base + a, base + b);
        memset(bm + a, 1, b - a);
        check_against(r, bm, base);
    }
    /* fill every gap: one range */
    ranges_add(r, base, base + U);
    memset(bm, 1, U);
    check_against(r, bm, base);
    ck_assert_uint_eq(ranges_count(r), 1);
}

START_TEST(random_vs_bitmap)
{
    for (uint64_t seed = 1; seed <= 12; seed++) {
        random_run(seed * 0x9E3779B97F4A7C15ULL, 0, 4 + (unsigned)seed * 3);
        random_run(seed * 0xD1B54A32D192ED03ULL, UINT64_MAX - U, 4 + (unsigned)seed * 3);
    }
}
END_TEST

START_TEST(adjacency)
{
    ranges_t *r = ranges_create(pool);
    uint64_t a, b, out[4][2];

    ck_assert_int_eq(ranges_check(r, 0, 10), RANGES_NEW);
    ck_assert_int_eq(ranges_check(r, 5, 5), RANGES_COVERED); /* empty */
    ranges_add(r, 10, 20);
    ranges_add(r, 30, 40);
    ck_assert_uint_eq(ranges_count(r), 2);
    /* touching ranges are not overlapping */
    ck_assert_int_eq(ranges_check(r, 0, 10), RANGES_NEW);
    ck_assert_int_eq(ranges_check(r, 20, 30), RANGES_NEW);
    ck_assert_uint_eq(ranges_overlapping(r, 20, 30, out, 4), 0);
    ck_assert_int_eq(ranges_check(r, 19, 21), RANGES_OVERLAP);
    ck_assert_int_eq(ranges_check(r, 9, 40), RANGES_OVERLAP);
    /* [20, 30) touches both: one range [10, 40) */
    ranges_add(r, 20, 30);
    ck_assert_uint_eq(ranges_count(r), 1);
    ranges_get(r, 0, &a, &b);
    ck_assert_uint_eq(a, 10);
    ck_assert_uint_eq(b, 40);
    ck_assert_int_eq(ranges_check(r, 15, 35), RANGES_COVERED);
    /* in-order reading stays one range */
    for (uint64_t x = 40; x < 4000; x += 37)
        ranges_add(r, x, x + 37);
    ck_assert_uint_eq(ranges_count(r), 1);
    ranges_add(r, 5000, 6000);
    ranges_add(r, 0, 5);
    ck_assert_uint_eq(ranges_missing(r, 0, 7000, out, 4), 3);
    ck_assert_uint_eq(out[0][0], 5);
    ck_assert_uint_eq(out[0][1], 10);
    ck_assert_uint_eq(out[1][0], 4036); /* last add: [3999, 4036) */
    ck_assert_uint_eq(out[1][1], 5000);
    ck_assert_uint_eq(out[2][0], 6000);
    ck_assert_uint_eq(out[2][1], 7000);
    /* swallowing several ranges at once */
    ranges_add(r, 1, 6500);
    ck_assert_uint_eq(ranges_count(r), 1);
    ranges_get(r, 0, &a, &b);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(b, 6500);
}
END_TEST

START_TEST(u64_extremes)
{
    ranges_t *r = ranges_create(pool);
    const uint64_t M = UINT64_MAX;
    uint64_t a, b, out[4][2];

    ranges_add(r, M - 10, M);
    ranges_add(r, 0, 5);
    ck_assert_int_eq(ranges_check(r, M - 1, M), RANGES_COVERED);
    ck_assert_int_eq(ranges_check(r, M - 11, M), RANGES_OVERLAP);
    ck_assert_int_eq(ranges_check(r, 5, M - 10), RANGES_NEW);
    ck_assert_int_eq(ranges_check(r, 0, 1), RANGES_COVERED);
    ck_assert_uint_eq(ranges_missing(r, 0, M, out, 4), 1);
    ck_assert_uint_eq(out[0][0], 5);
    ck_assert_uint_eq(out[0][1], M - 10);
    ck_assert_uint_eq(ranges_overlapping(r, 3, M - 3, out, 4), 2);
    ck_assert_uint_eq(out[0][1], 5);
    ck_assert_uint_eq(out[1][0], M - 10);
    ranges_add(r, 5, M - 10);
    ck_assert_uint_eq(ranges_count(r), 1);
    ranges_get(r, 0, &a, &b);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(b, M);
    ck_assert_int_eq(ranges_check(r, 0, M), RANGES_COVERED);
    ck_assert_uint_eq(ranges_missing(r, 0, M, out, 4), 0);
}
END_TEST

START_TEST(many_ranges)
{
    /* every other block: n ranges, then fill the holes backwards */
    ranges_t *r = ranges_create(pool);
    const uint64_t n = 3000;
    for (uint64_t i = 0; i < n; i++)
        ranges_add(r, i * 20, i * 20 + 10);
    ck_assert_uint_eq(ranges_count(r), n);
    for (uint64_t i = n; i-- > 0;) {
        uint64_t a, b;
        ranges_add(r, i * 20 + 10, i * 20 + 20);
        ck_assert_uint_eq(ranges_count(r), i + 1);
        ranges_get(r, i, &a, &b);
        ck_assert_uint_eq(a, i * 20);
        ck_assert_uint_eq(b, n * 20);
    }
}
END_TEST

/* ================================ a list off the wire (the ranges of a 409 answer) */

/* The set of have[0..n), added in the order given. */
static ranges_t *from_list(uint64_t (*have)[2], size_t n)
{
    ranges_t *r = ranges_create(pool);
    for (size_t i = 0; i < n; i++)
        ranges_add(r, have[i][0], have[i][1]);
    return r;
}

START_TEST(list_hand_worked)
{
    uint64_t have[3][2] = {{20, 30}, {0, 10}, {8, 22}}, out[4][2];
    uint64_t two[2][2] = {{0, 10}, {20, 30}};
    ck_assert_uint_eq(ranges_missing(from_list(two, 2), 5, 25, out, 4), 1);
    ck_assert_uint_eq(out[0][0], 10);
    ck_assert_uint_eq(out[0][1], 20);
    ck_assert_uint_eq(ranges_missing(from_list(two, 2), 0, 40, out, 4), 2);
    ck_assert_uint_eq(out[1][0], 30);
    ck_assert_uint_eq(out[1][1], 40);
    /* unsorted and overlapping: [0, 30) is covered */
    ck_assert_uint_eq(ranges_missing(from_list(have, 3), 0, 40, out, 4), 1);
    ck_assert_uint_eq(out[0][0], 30);
    ck_assert_uint_eq(out[0][1], 40);
    ck_assert_uint_eq(ranges_missing(from_list(have, 3), 3, 30, out, 4), 0);
    ck_assert_uint_eq(ranges_missing(from_list(have, 0), 7, 9, out, 4), 1);
    ck_assert_uint_eq(out[0][0], 7);
    ck_assert_uint_eq(out[0][1], 9);
    ck_assert_uint_eq(ranges_missing(from_list(have, 0), 9, 9, out, 4), 0);
}
END_TEST

/* Random lists (unsorted, overlapping, empty and inverted pairs) against a bitmap. */
START_TEST(list_vs_bitmap)
{
    unsigned seed = 12345;
    for (int iter = 0; iter < 5000; iter++) {
        uint64_t have[8][2], out[9][2], want[40][2];
        int covered[64] = {0};
        size_t n, nwant = 0, got;
        uint64_t a, b;
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % 8;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            have[i][0] = (seed >> 8) % 64;
            have[i][1] = (seed >> 20) % 65;
            for (uint64_t x = have[i][0]; x < have[i][1]; x++)
                covered[x] = 1;
        }
        seed = seed * 1103515245u + 12345u;
        a = (seed >> 8) % 64;
        b = (seed >> 20) % 65;
        for (uint64_t x = a; x < b; x++) /* maximal runs of uncovered bytes */
            if (!covered[x]) {
                if (nwant && want[nwant - 1][1] == x)
                    want[nwant - 1][1] = x + 1;
                else {
                    want[nwant][0] = x;
                    want[nwant][1] = x + 1;
                    nwant++;
                }
            }
        got = ranges_missing(from_list(have, n), a, b, out, n + 1);
        ck_assert_uint_eq(got, nwant);
        for (size_t i = 0; i < got; i++) {
            ck_assert_uint_eq(out[i][0], want[i][0]);
            ck_assert_uint_eq(out[i][1], want[i][1]);
        }
    }
}
END_TEST

static Suite *ranges_suite(void)
{
    Suite *s = suite_create("ranges");
    TCase *tc = tcase_create("oracle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, random_vs_bitmap);
    suite_add_tcase(s, tc);
    tc = tcase_create("cases");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, adjacency);
    tcase_add_test(tc, u64_extremes);
    tcase_add_test(tc, many_ranges);
    suite_add_tcase(s, tc);
    tc = tcase_create("list");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, list_hand_worked);
    tcase_add_test(tc, list_vs_bitmap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(ranges_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
