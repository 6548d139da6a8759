/* check_agg_dict.c - unit tests for states written against a frame dictionary (rules/agg_dict.c,
 * agg_encode_dict / agg_decode_dict, agg_derives / agg_derive: agg.h, "the frame dictionary").
 *
 * The oracle of every round trip is the original state's version 1 encoding (agg_encode: sorted
 * hashes, packed registers, bins and extremes as they are), which is canonical: a state decoded
 * from the dictionary form must encode to the same bytes. The dictionary's bytes are checked
 * against a layout written out by hand from the hashes the test computed itself
 * (value_hash). Malformed forms are crafted byte by byte and must be refused with a reason,
 * leaving an empty state; budgets and out of memory (mem.h's test hook) are exercised on
 * both sides. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "agg.h"
#include "mem.h"

#define FIXTURE_SUITE "check_agg_dict"
#include "fixture_agg.h"

#define BIG_BUDGET (1ull << 40)

static uint64_t hash_of(const char *s)
{
    value_t v = vstr(s);
    return value_hash(&v);
}

/* The v1 bytes of a state: the oracle of "the same state". */
static void v1(const agg_spec_t *s, const void *st, buf_t *b)
{
    enc(s, st, b);
}

static void assert_same(const agg_spec_t *s, const void *a, const void *b)
{
    buf_t x, y;
    buf_init(&x);
    buf_init(&y);
    v1(s, a, &x);
    v1(s, b, &y);
    ck_assert_uint_eq(x.len, y.len);
    ck_assert_msg(memcmp(x.data, y.data, x.len) == 0, "%s: states differ", agg_kind_name(s->kind));
    buf_free(&x);
    buf_free(&y);
}

/* n states of spec s, encoded against one dictionary (count, put, encode each), decoded with a
 * fresh one, and each compared with its original. Returns the bytes written. */
static size_t round_trip(const agg_spec_t *s, void **st, int n)
{
    agg_dict_t *d = agg_dict_create(), *d2 = agg_dict_create();
    buf_t b;
    buf_reader_t r;
    abbey_err_t err;
    size_t len;

    buf_init(&b);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(agg_dict_count(d, s, st[i]), 0);
    ck_assert_int_eq(agg_dict_put(d, &b), 0);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(agg_encode_dict(s, st[i], d, &b), 0);
    buf_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(agg_dict_get(d2, &r, BIG_BUDGET, &err), APR_SUCCESS);
    for (int i = 0; i < n; i++) {
        void *c = snew(s);
        int from = 7;
        ck_assert_msg(agg_decode_dict(s, c, d2, &r, &from, &err) == APR_SUCCESS, "%s", err.msg);
        ck_assert_int_eq(from, -1);
        assert_same(s, st[i], c);
        sfree(s, c);
    }
    ck_assert_uint_eq(buf_reader_left(&r), 0);
    len = b.len;
    buf_free(&b);
    agg_dict_destroy(d);
    agg_dict_destroy(d2);
    return len;
}

/* A state from v1 bytes (to hold what no update can make, such as the hash 0). */
static void *from_v1(const agg_spec_t *s, const buf_t *b)
{
    void *st = snew(s);
    buf_reader_t r;
    abbey_err_t err;
    buf_reader_init(&r, b->data, b->len);
    ck_assert_msg(agg_decode(s, st, &r, &err) == APR_SUCCESS, "%s", err.msg);
    return st;
}

/* ---- round trips ----------------------------------------------------------------- */

START_TEST(test_sets_round_trip)
{
    enum { NS = 60 };
    agg_spec_t s = {AGG_DISTINCT_EXACT, 0, 300};
    void *st[NS + 1];
    char name[32];
    buf_t b;
    size_t len, v1len = 0;

    rng_state = 11;
    buf_init(&b);
    for (int i = 0; i < NS; i++) {
        int n = i == 0 ? 0 : (int)(rnd() % 400); /* some past the cap of 300 */
        st[i] = snew(&s);
        for (int k = 0; k < n; k++) {
            double z = rnd01();
            snprintf(name, sizeof name, "v%d", (int)(2000 * z * z)); /* skewed: shared members */
            add(&s, st[i], vstr(name));
        }
        v1(&s, st[i], &b);
        v1len += b.len;
    }
    /* the hash 0 and the largest hash, which no value of the test gives */
    buf_reset(&b);
    buf_put_u8(&b, 0x16);
    buf_put_u8(&b, 0);
    buf_put_varint(&b, 3);
    buf_put_u64(&b, 0);
    buf_put_u64(&b, 5);
    buf_put_u64(&b, UINT64_MAX);
    st[NS] = from_v1(&s, &b);
    len = round_trip(&s, st, NS + 1);
    ck_assert_msg(len * 2 < v1len, "dictionary form %zu bytes, version 1 %zu", len, v1len);
    for (int i = 0; i <= NS; i++)
        sfree(&s, st[i]);
    buf_free(&b);
}
END_TEST

START_TEST(test_dictionary_layout)
{
    agg_spec_t s = {AGG_DISTINCT_EXACT, 0, 0};
    const char *names[4] = {"a", "b", "c", "d"};
    int holders[4] = {10, 3, 2, 1}; /* tiers 3, 1, 1, 0 */
    void *st[10];
    uint64_t h[4], lo, hi;
    agg_dict_t *d = agg_dict_create();
    buf_t got, want;

    for (int i = 0; i < 10; i++) {
        st[i] = snew(&s);
        for (int k = 0; k < 4; k++)
            if (i < holders[k])
                add(&s, st[i], vstr(names[k]));
    }
    for (int k = 0; k < 4; k++)
        h[k] = hash_of(names[k]);
    lo = h[1] < h[2] ? h[1] : h[2];
    hi = h[1] < h[2] ? h[2] : h[1];
    buf_init(&got);
    buf_init(&want);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(agg_dict_count(d, &s, st[i]), 0);
    ck_assert_uint_eq(agg_dict_weight(d), 4 + 10 + 3 + 2 + 1);
    ck_assert_int_eq(agg_dict_put(d, &got), 0);
    buf_put_varint(&want, 4);
    buf_put_varint(&want, 1); /* tier 3: a */
    buf_put_u64(&want, h[0]);
    buf_put_varint(&want, 2); /* tier 1: b and c, by hash */
    buf_put_u64(&want, lo);
    buf_put_varint(&want, hi - lo - 1);
    buf_put_varint(&want, 1); /* tier 0: d */
    buf_put_u64(&want, h[3]);
    ck_assert_uint_eq(got.len, want.len);
    ck_assert(memcmp(got.data, want.data, got.len) == 0);
    /* the set {a, b, c, d}: indices 0, 1, 2, 3: count 4, first 0, gaps 0 */
    buf_reset(&got);
    ck_assert_int_eq(agg_encode_dict(&s, st[0], d, &got), 0);
    ck_assert_uint_eq(got.len, 7);
    ck_assert(memcmp(got.data, "\x26\x00\x04\x00\x00\x00\x00", 7) == 0);
    /* the set {a}: one member, index 0 */
    buf_reset(&got);
    ck_assert_int_eq(agg_encode_dict(&s, st[9], d, &got), 0);
    ck_assert_uint_eq(got.len, 4);
    ck_assert(memcmp(got.data, "\x26\x00\x01\x00", 4) == 0);
    for (int i = 0; i < 10; i++)
        sfree(&s, st[i]);
    agg_dict_destroy(d);
    buf_free(&got);
    buf_free(&want);
}
END_TEST

START_TEST(test_distinct_forms)
{
    agg_spec_t s = spec_of(AGG_DISTINCT);
    int sizes[5] = {0, 1, 700, 1024, 20000};
    void *st[5];
    char name[32];
    buf_t b;

    buf_init(&b);
    for (int i = 0; i < 5; i++) {
        st[i] = snew(&s);
        for (int k = 0; k < sizes[i]; k++) {
            snprintf(name, sizeof name, "ip%d", k * 7 + i);
            add(&s, st[i], vstr(name));
        }
    }
    round_trip(&s, st, 5);
    /* a dense state is written as its nonzero registers */
    {
        agg_dict_t *d = agg_dict_create();
        ck_assert_int_eq(agg_dict_count(d, &s, st[4]), 0);
        ck_assert_uint_eq(agg_dict_weight(d), AGG_DICT_DENSE_WEIGHT);
        ck_assert_int_eq(agg_dict_put(d, &b), 0);
        buf_reset(&b);
        ck_assert_int_eq(agg_encode_dict(&s, st[4], d, &b), 0);
        ck_assert_uint_eq(b.data[0], 0x25);
        ck_assert_uint_eq(b.data[1], 2);
        agg_dict_destroy(d);
    }
    for (int i = 0; i < 5; i++)
        sfree(&s, st[i]);
    buf_free(&b);
}
END_TEST

/* x derived into a fresh distinct state through a dictionary's budget equals h. */
static void assert_derives(const agg_spec_t *hs, const void *h, const agg_spec_t *xs, const void *x)
{
    agg_dict_t *d = agg_dict_create();
    buf_t b;
    buf_reader_t r;
    abbey_err_t err;
    void *c = snew(hs);
    int from = -1;

    ck_assert_int_eq(agg_derives(hs, h, xs, x), 1);
    buf_init(&b);
    buf_put_varint(&b, 0); /* an empty dictionary */
    agg_encode_derived(hs, 3, &b);
    ck_assert_uint_eq(b.len, 4);
    buf_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(agg_dict_get(d, &r, BIG_BUDGET, &err), APR_SUCCESS);
    ck_assert_int_eq(agg_decode_dict(hs, c, d, &r, &from, &err), APR_SUCCESS);
    ck_assert_int_eq(from, 3);
    ck_assert_int_eq(agg_derive(hs, c, xs, x, d, &err), APR_SUCCESS);
    assert_same(hs, h, c);
    sfree(hs, c);
    agg_dict_destroy(d);
    buf_free(&b);
}

START_TEST(test_derived)
{
    agg_spec_t hs = spec_of(AGG_DISTINCT), xs = {AGG_DISTINCT_EXACT, 0, 0},
               small = {AGG_DISTINCT_EXACT, 0, 10}, cnt = spec_of(AGG_COUNT);
    int sizes[5] = {0, 5, 100, 1024, 5000};
    char name[32];
    abbey_err_t err;

    for (int i = 0; i < 5; i++) {
        void *h = snew(&hs), *x = snew(&xs), *other = snew(&xs), *capped = snew(&small);
        for (int k = 0; k < sizes[i]; k++) {
            snprintf(name, sizeof name, "u%d", k);
            add(&hs, h, vstr(name));
            add(&xs, x, vstr(name));
            add(&small, capped, vstr(name));
            snprintf(name, sizeof name, "w%d", k);
            add(&xs, other, vstr(name));
        }
        assert_derives(&hs, h, &xs, x);
        ck_assert_int_eq(agg_derives(&hs, h, &xs, other), sizes[i] == 0);
        ck_assert_int_eq(agg_derives(&hs, h, &small, capped), sizes[i] <= 10);
        ck_assert_int_eq(agg_derives(&xs, x, &hs, h), 0);
        ck_assert_int_eq(agg_derives(&cnt, x, &xs, x), 0);
        if (sizes[i] > 10 && sizes[i] <= 1024) { /* one more value in the exact set only */
            add(&xs, x, vstr("extra"));
            ck_assert_int_eq(agg_derives(&hs, h, &xs, x), 0);
        }
        sfree(&hs, h);
        sfree(&xs, x);
        sfree(&xs, other);
        sfree(&small, capped);
    }
    /* a distinct is derived from a distinct_exact, nothing else */
    {
        void *a = snew(&hs), *b = snew(&hs);
        agg_dict_t *d = agg_dict_create();
        err.msg[0] = '\0';
        ck_assert_int_eq(agg_derive(&hs, a, &hs, b, d, &err), APR_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "cannot be derived"));
        sfree(&hs, a);
        sfree(&hs, b);
        agg_dict_destroy(d);
    }
}
END_TEST

START_TEST(test_percentile_form)
{
    agg_spec_t s = spec_of(AGG_PERCENTILE);
    enum { NS = 9 };
    void *st[NS];
    buf_t b;
    size_t dict_len = 0, v1len = 0;

    rng_state = 5;
    buf_init(&b);
    for (int i = 0; i < NS; i++)
        st[i] = snew(&s);
    for (int k = 0; k < 3000; k++) /* byte counts: integral extremes, many single bins */
        add(&s, st[0], vint((int64_t)exp(7 + 2 * rnd_normal())));
    add(&s, st[1], vint(-12));  /* negative, one value */
    add(&s, st[2], vflt(-0.0)); /* -0.0 is not written as the integer 0 */
    add(&s, st[2], vint(3));
    add(&s, st[3], vflt(2.5)); /* fractional extremes */
    add(&s, st[3], vint(7));
    add(&s, st[4], vint(9007199254740992ll)); /* 2^53 and past it */
    add(&s, st[4], vflt(9007199254740994.0));
    add(&s, st[5], vint(-9007199254740992ll));
    add(&s, st[5], vint(9007199254740992ll));
    add(&s, st[6], vflt(1e300));
    add(&s, st[6], vint(0));
    for (int k = 0; k < 500; k++) /* the same bin many times */
        add(&s, st[7], vint(1000));
    (void)st[8]; /* empty */
    round_trip(&s, st, NS);
    for (int i = 0; i < NS; i++) {
        agg_dict_t *d = agg_dict_create();
        v1(&s, st[i], &b);
        v1len = b.len;
        buf_reset(&b);
        ck_assert_int_eq(agg_encode_dict(&s, st[i], d, &b), 0);
        dict_len = b.len;
        if (i == 0 || i == 1 || i == 7)
            ck_assert_msg(dict_len + 10 <= v1len, "sketch %d: %zu bytes, version 1 %zu", i,
                          dict_len, v1len);
        agg_dict_destroy(d);
    }
    for (int i = 0; i < NS; i++)
        sfree(&s, st[i]);
    buf_free(&b);
}
END_TEST

/* ---- malformed forms, budgets ------------------------------------------------------ */

/* A dictionary of the hashes 100, 200, 300 (one tier) followed by bytes; decoded as spec s
 * with the given budget: must be refused with reason in the message and an empty state. */
static void refused(const agg_spec_t *s, uint64_t budget, const uint8_t *p, size_t n,
                    const char *reason)
{
    agg_dict_t *d = agg_dict_create();
    buf_t b;
    buf_reader_t r;
    abbey_err_t err;
    void *st = snew(s);
    agg_result_t res1;
    int from;
    apr_status_t rv;

    buf_init(&b);
    buf_put_varint(&b, 3);
    buf_put_varint(&b, 3);
    buf_put_u64(&b, 100);
    buf_put_varint(&b, 99);
    buf_put_varint(&b, 99);
    buf_put(&b, p, n);
    buf_reader_init(&r, b.data, b.len);
    ck_assert_int_eq(agg_dict_get(d, &r, budget, &err), APR_SUCCESS);
    err.msg[0] = '\0';
    rv = agg_decode_dict(s, st, d, &r, &from, &err);
    ck_assert_msg(rv == APR_EINVAL, "%s: accepted bytes that must be refused (%s)",
                  agg_kind_name(s->kind), reason);
    ck_assert_msg(strstr(err.msg, reason) != NULL, "expected '%s', got '%s'", reason, err.msg);
    agg_result(s, st, &res1);
    ck_assert(res1.num == 0);
    sfree(s, st);
    agg_dict_destroy(d);
    buf_free(&b);
}

#define REFUSED(s, budget, bytes, reason)                                                          \
    refused(s, budget, (const uint8_t *)(bytes), sizeof(bytes) - 1, reason)

START_TEST(test_malformed_states)
{
    agg_spec_t x = {AGG_DISTINCT_EXACT, 0, 2}, h = spec_of(AGG_DISTINCT),
               p = spec_of(AGG_PERCENTILE);
    REFUSED(&x, BIG_BUDGET, "\x16\x00\x00", "not a version 2 distinct_exact state");
    REFUSED(&x, BIG_BUDGET, "", "truncated");
    REFUSED(&x, BIG_BUDGET, "\x26\x02\x00", "unknown flags");
    REFUSED(&x, BIG_BUDGET, "\x26\x00\x03\x00\x00\x00", "set of 3 members (limit 2");
    REFUSED(&x, BIG_BUDGET, "\x26\x00\x01\x03", "past the dictionary");
    REFUSED(&x, BIG_BUDGET, "\x26\x00\x02\x02\x00", "past the dictionary");
    REFUSED(&x, BIG_BUDGET, "\x26\x00\x02\x00", "1 bytes left");
    REFUSED(&x, BIG_BUDGET, "\x26\x00\x02\x00\x80", "truncated");
    REFUSED(&x, 3 + 1, "\x26\x00\x02\x00\x00", "more than the frame's size allows");
    REFUSED(&h, BIG_BUDGET, "\x25\x01", "unknown form 1"); /* version 1's packed registers */
    REFUSED(&h, BIG_BUDGET, "\x25\x04", "unknown form 4");
    REFUSED(&h, BIG_BUDGET, "\x25\x00\x04\x00\x00\x00\x00", "set of 4 members");
    REFUSED(&h, BIG_BUDGET, "\x25\x02\x81\x80\x01", "nonzero registers");
    REFUSED(&h, BIG_BUDGET, "\x25\x02\x01\x00\x00", "bad value");
    REFUSED(&h, BIG_BUDGET, "\x25\x02\x01\x00\x34", "bad value"); /* 52 > 51 */
    REFUSED(&h, BIG_BUDGET, "\x25\x02\x01\x80\x80\x01\x01", "index past the last register");
    REFUSED(&h, BIG_BUDGET, "\x25\x02\x02\xff\x7f\x01\x00\x01", "index past the last register");
    REFUSED(&h, BIG_BUDGET, "\x25\x02\x02\x00\x01", "2 nonzero registers");
    REFUSED(&h, BIG_BUDGET, "\x25\x02\x02\x00\x01\x80\x80", "truncated");
    REFUSED(&h, 3 + AGG_DICT_DENSE_WEIGHT - 1, "\x25\x02\x01\x00\x01",
            "more than the frame's size allows");
    REFUSED(&h, BIG_BUDGET, "\x25\x03\x80\x80\x04", "bad value index");
    REFUSED(&p, BIG_BUDGET, "\x17\x00\x00\x00", "not a version 2 percentile state");
    REFUSED(&p, BIG_BUDGET, "\x27\x00\x00\x01\x02\x01\x02\x00\x00", "bad extremes (form 2)");
    REFUSED(&p, BIG_BUDGET, "\x27\x00\x00\x01\x02\x01\x01\x00", "truncated");
    REFUSED(&p, BIG_BUDGET, "\x27\x00\x00\x01\x02\x01\x01\x80\x80\x80\x80\x80\x80\x80\x80\x02\x00",
            "bad extremes"); /* min 2^56 */
    REFUSED(&p, BIG_BUDGET, "\x27\x00\x00\x01\x02\x01\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
            "bad extremes"); /* max past 2^53 */
    REFUSED(&p, BIG_BUDGET,
            "\x27\x00\x00\x01\x02\x01\x00\x00\x00\x00\x00\x00\x00\xf0\x7f"
            "\x00\x00\x00\x00\x00\x00\xf0\xff",
            "bad extremes"); /* doubles: min +inf > max -inf */
    REFUSED(&p, BIG_BUDGET,
            "\x27\x00\x00\x02\x02\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x01\x02\x00",
            "bad bin 1"); /* a count of 2^64 + 1 */
    REFUSED(&p, BIG_BUDGET, "\x27\x00\x00\x02\x02\x01\x80", "truncated");
}
END_TEST

/* A dictionary from bytes: refused with reason. */
static void dict_refused(uint64_t budget, const uint8_t *p, size_t n, const char *reason)
{
    agg_dict_t *d = agg_dict_create();
    buf_reader_t r;
    abbey_err_t err;
    err.msg[0] = '\0';
    buf_reader_init(&r, p, n);
    ck_assert_int_eq(agg_dict_get(d, &r, budget, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, reason) != NULL, "expected '%s', got '%s'", reason, err.msg);
    agg_dict_destroy(d);
}

#define DICT_REFUSED(budget, bytes, reason)                                                        \
    dict_refused(budget, (const uint8_t *)(bytes), sizeof(bytes) - 1, reason)

START_TEST(test_malformed_dictionaries)
{
    DICT_REFUSED(BIG_BUDGET, "", "truncated");
    DICT_REFUSED(BIG_BUDGET, "\x05\x01\x02\x03", "dictionary of 5 hashes (3 bytes left");
    DICT_REFUSED(2, "\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "room for 2");
    DICT_REFUSED(BIG_BUDGET, "\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00", "a tier of 0 hashes");
    DICT_REFUSED(BIG_BUDGET, "\x02\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                 "a tier of 3 hashes at 0 of 2");
    DICT_REFUSED(BIG_BUDGET, "\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00", "truncated at hash 1");
    DICT_REFUSED(BIG_BUDGET, "\x02\x01\x01\x00\x00\x00\x00\x00\x00", "truncated at hash 0");
    DICT_REFUSED(BIG_BUDGET, "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x01\x05\x00",
                 "truncated at hash 1");
    DICT_REFUSED(BIG_BUDGET, "\x02\x02\xfe\xff\xff\xff\xff\xff\xff\xff\x01",
                 "hash 1 is past the largest"); /* 2^64 - 2, then + 2 */
    DICT_REFUSED(BIG_BUDGET,
                 "\x02\x01\x07\x00\x00\x00\x00\x00\x00\x00\x01\x07\x00\x00\x00\x00\x00\x00\x00",
                 "hash 1 repeats an earlier one");
    {
        static const uint8_t ok[] = "\x02\x02\xfe\xff\xff\xff\xff\xff\xff\xff\x00";
        agg_dict_t *d = agg_dict_create();
        buf_reader_t r;
        abbey_err_t err;
        buf_reader_init(&r, ok, sizeof ok - 1); /* 2^64 - 2 and 2^64 - 1 */
        ck_assert_int_eq(agg_dict_get(d, &r, 2, &err), APR_SUCCESS);
        ck_assert_int_eq(agg_dict_take(d, 1), -1); /* the two hashes took the budget */
        ck_assert_int_eq(agg_dict_take(d, 0), 0);
        agg_dict_destroy(d);
    }
}
END_TEST

START_TEST(test_budget_and_derived_limits)
{
    agg_spec_t hs = spec_of(AGG_DISTINCT), xs = {AGG_DISTINCT_EXACT, 0, 0};
    void *h = snew(&hs), *x = snew(&xs), *c = snew(&hs);
    agg_dict_t *d = agg_dict_create();
    buf_reader_t r;
    abbey_err_t err;
    char name[16];

    for (int k = 0; k < 40; k++) {
        snprintf(name, sizeof name, "m%d", k);
        add(&hs, h, vstr(name));
        add(&xs, x, vstr(name));
    }
    buf_reader_init(&r, "\x00", 1);
    ck_assert_int_eq(agg_dict_get(d, &r, 39, &err), APR_SUCCESS);
    err.msg[0] = '\0';
    ck_assert_int_eq(agg_derive(&hs, c, &xs, x, d, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than the frame's size allows"));
    ck_assert_int_eq(agg_dict_take(d, 39), 0); /* a refusal takes nothing */
    ck_assert_int_eq(agg_dict_take(d, 1), -1);
    sfree(&hs, h);
    sfree(&xs, x);
    sfree(&hs, c);
    agg_dict_destroy(d);
}
END_TEST

/* ---- out of memory ----------------------------------------------------------------- */

START_TEST(test_out_of_memory)
{
    static const agg_kind_t kinds[] = {AGG_DISTINCT, AGG_DISTINCT_EXACT};
    char name[32];
    for (int k = 0; k < N(kinds); k++) {
        agg_spec_t s = spec_of(kinds[k]);
        void *st[2] = {snew(&s), snew(&s)};
        buf_t want;
        buf_init(&want);
        for (int i = 0; i < 3000; i++) {
            snprintf(name, sizeof name, "k%d", i);
            add(&s, st[i % 7 == 0], vstr(name));
        }
        for (uint64_t n = 1;; n++) { /* encoding: count, put, encode */
            agg_dict_t *d = agg_dict_create();
            buf_t b;
            int rc = 0;
            buf_init(&b);
            mem_fail_at(n);
            for (int i = 0; i < 2 && rc == 0 && d; i++)
                rc = agg_dict_count(d, &s, st[i]);
            if (rc == 0 && d)
                rc = agg_dict_put(d, &b);
            for (int i = 0; i < 2 && rc == 0 && d; i++)
                rc = agg_encode_dict(&s, st[i], d, &b);
            mem_fail_at(0);
            agg_dict_destroy(d);
            if (rc == 0 && d) {
                buf_free(&want);
                want = b;
                break;
            }
            ck_assert(d == NULL || rc == AGG_NOMEM);
            buf_free(&b);
        }
        for (uint64_t n = 1;; n++) { /* decoding */
            agg_dict_t *d = agg_dict_create();
            buf_reader_t r;
            abbey_err_t err = {{0}};
            apr_status_t rv = APR_SUCCESS;
            void *c[2] = {snew(&s), snew(&s)};
            int from, done;
            buf_reader_init(&r, want.data, want.len);
            mem_fail_at(n);
            rv = d ? agg_dict_get(d, &r, BIG_BUDGET, &err) : APR_ENOMEM;
            for (int i = 0; i < 2 && rv == APR_SUCCESS; i++)
                rv = agg_decode_dict(&s, c[i], d, &r, &from, &err);
            mem_fail_at(0);
            done = rv == APR_SUCCESS;
            if (done) {
                assert_same(&s, st[0], c[0]);
                assert_same(&s, st[1], c[1]);
            } else {
                ck_assert_int_eq(rv, APR_ENOMEM);
                ck_assert_msg(!d || strstr(err.msg, "out of memory") != NULL, "%s", err.msg);
            }
            sfree(&s, c[0]);
            sfree(&s, c[1]);
            agg_dict_destroy(d);
            if (done)
                break;
        }
        sfree(&s, st[0]);
        sfree(&s, st[1]);
        buf_free(&want);
    }
}
END_TEST

static Suite *agg_dict_suite(void)
{
    Suite *s = suite_create("agg_dict");
    TCase *tc = tcase_create("round_trip");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sets_round_trip);
    tcase_add_test(tc, test_dictionary_layout);
    tcase_add_test(tc, test_distinct_forms);
    tcase_add_test(tc, test_derived);
    tcase_add_test(tc, test_percentile_form);
    suite_add_tcase(s, tc);
    tc = tcase_create("malformed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_malformed_states);
    tcase_add_test(tc, test_malformed_dictionaries);
    tcase_add_test(tc, test_budget_and_derived_limits);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed = check_run(agg_dict_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
