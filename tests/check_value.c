/* check_value.c - unit tests for rules/value.c and rules/buf.c: numbers, hashing,
 * key encoding, rendering, durations, varints and the bounded reader. */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "buf.h"
#include "value.h"

static value_t str(const char *s)
{
    value_t v = {.kind = VALUE_STR, .s = s, .len = (uint32_t)strlen(s)};
    return v;
}

static value_t num(int64_t i)
{
    value_t v = {.kind = VALUE_INT, .i = i};
    return v;
}

START_TEST(test_numbers)
{
    int64_t i;
    double f;
    int is_int;
    value_t v = str("12345");
    ck_assert_int_eq(value_to_number(&v, &i, &f, &is_int), 0);
    ck_assert(is_int);
    ck_assert_int_eq(i, 12345);
    v = str("-9223372036854775808");
    ck_assert_int_eq(value_to_number(&v, &i, &f, &is_int), 0);
    ck_assert(is_int && i == INT64_MIN);
    v = str("9223372036854775808"); /* one past INT64_MAX: a float */
    ck_assert_int_eq(value_to_number(&v, &i, &f, &is_int), 0);
    ck_assert(!is_int);
    ck_assert(f == 9223372036854775808.0);
    v = str("2.5e3");
    ck_assert_int_eq(value_to_number(&v, &i, &f, &is_int), 0);
    ck_assert(!is_int && f == 2500.0);
    const char *bad[] = {"", "-", "+", "1.2.3", "12a", " 1", "1e", ".", "e5", "0x10"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        v = str(bad[k]);
        ck_assert_msg(value_to_number(&v, &i, &f, &is_int) == -1, "'%s' is not a number", bad[k]);
    }
    v.kind = VALUE_NULL;
    ck_assert_int_eq(value_to_double(&v, &f), -1);
}
END_TEST

START_TEST(test_truthy)
{
    value_t v = num(0);
    ck_assert(!value_truthy(&v));
    v = num(-3);
    ck_assert(value_truthy(&v));
    v = str("");
    ck_assert(!value_truthy(&v));
    v = str("x");
    ck_assert(value_truthy(&v));
    v.kind = VALUE_NULL;
    ck_assert(!value_truthy(&v));
    v.kind = VALUE_FLOAT;
    v.f = 0.0;
    ck_assert(!value_truthy(&v));
}
END_TEST

START_TEST(test_hash)
{
    value_t a = num(200), b = {.kind = VALUE_FLOAT, .f = 200.0}, c = num(201), s = str("200");
    ck_assert(value_hash(&a) == value_hash(&b)); /* numbers hash by value */
    ck_assert(value_hash(&a) != value_hash(&c));
    ck_assert(value_hash(&s) == value_hash_bytes("200", 3));
    value_t z = {.kind = VALUE_FLOAT, .f = -0.0}, z2 = num(0);
    ck_assert(value_hash(&z) == value_hash(&z2));
}
END_TEST

START_TEST(test_key_roundtrip)
{
    buf_t b;
    buf_reader_t r;
    value_t in[5], out;
    in[0] = num(-7);
    in[1] = str("GET /a,b \"q\"");
    in[2].kind = VALUE_NULL;
    in[3].kind = VALUE_TIME;
    in[3].i = 1431857103;
    in[4].kind = VALUE_FLOAT;
    in[4].f = 0.25;
    buf_init(&b);
    for (int i = 0; i < 5; i++)
        value_key_put(&b, &in[i]);
    buf_reader_init(&r, b.data, b.len);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(value_key_get(&r, &out), 0);
        ck_assert_int_eq(out.kind, in[i].kind);
    }
    ck_assert_uint_eq(buf_reader_left(&r), 0);
    /* every truncation is refused */
    for (size_t cut = 0; cut < b.len; cut++) {
        int ok = 1;
        buf_reader_init(&r, b.data, cut);
        for (int i = 0; i < 5 && ok; i++)
            ok = value_key_get(&r, &out) == 0;
        ck_assert_msg(!ok, "truncated key at %zu accepted", cut);
    }
    /* distinct tuples give distinct bytes: ("ab","c") vs ("a","bc") */
    buf_t x, y;
    value_t ab = str("ab"), c = str("c"), a = str("a"), bc = str("bc");
    buf_init(&x);
    buf_init(&y);
    value_key_put(&x, &ab);
    value_key_put(&x, &c);
    value_key_put(&y, &a);
    value_key_put(&y, &bc);
    ck_assert(x.len != y.len || memcmp(x.data, y.data, x.len) != 0);
    buf_free(&x);
    buf_free(&y);
    buf_free(&b);
}
END_TEST

static void check_render(const value_t *v, const char *want)
{
    buf_t b;
    buf_init(&b);
    value_render(&b, v);
    ck_assert_uint_eq(b.len, strlen(want));
    ck_assert(b.len == 0 || memcmp(b.data, want, b.len) == 0);
    buf_free(&b);
}

START_TEST(test_render)
{
    value_t v = num(-42);
    check_render(&v, "-42");
    v.kind = VALUE_TIME;
    v.i = 1431857103; /* date -u -d @1431857103 */
    check_render(&v, "2015-05-17T10:05:03Z");
    v.i = 0;
    check_render(&v, "1970-01-01T00:00:00Z");
    v.i = -1;
    check_render(&v, "1969-12-31T23:59:59Z");
    v.i = 951782400; /* 2000-02-29 */
    check_render(&v, "2000-02-29T00:00:00Z");
    v.kind = VALUE_FLOAT;
    v.f = 2.5;
    check_render(&v, "2.5");
    v.kind = VALUE_NULL;
    check_render(&v, "");
    v = str("x,y");
    check_render(&v, "x,y");
}
END_TEST

START_TEST(test_duration)
{
    int64_t ms;
    ck_assert_int_eq(value_parse_duration("10s", 3, &ms), 0);
    ck_assert_int_eq(ms, 10000);
    ck_assert_int_eq(value_parse_duration("1m", 2, &ms), 0);
    ck_assert_int_eq(ms, 60000);
    ck_assert_int_eq(value_parse_duration("2h", 2, &ms), 0);
    ck_assert_int_eq(ms, 7200000);
    ck_assert_int_eq(value_parse_duration("1d", 2, &ms), 0);
    ck_assert_int_eq(ms, 86400000);
    ck_assert_int_eq(value_parse_duration("250ms", 5, &ms), 0);
    ck_assert_int_eq(ms, 250);
    const char *bad[] = {"",
                         "s",
                         "10",
                         "10x",
                         "1.5s",
                         "-1s",
                         "10 s",
                         "99999999999999999d",
                         "999999999999d",
                         "9223372036854776s"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        ck_assert_msg(value_parse_duration(bad[k], strlen(bad[k]), &ms) == -1, "'%s'", bad[k]);
}
END_TEST

START_TEST(test_buf_varints)
{
    const uint64_t u[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
    const int64_t s[] = {0, -1, 1, -64, 64, INT64_MIN, INT64_MAX};
    buf_t b;
    buf_reader_t r;
    buf_init(&b);
    for (size_t i = 0; i < sizeof u / sizeof *u; i++)
        buf_put_varint(&b, u[i]);
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        buf_put_svarint(&b, s[i]);
    buf_put_u32(&b, 0xdeadbeef);
    buf_put_f64(&b, -1.5);
    buf_put_str(&b, "abc", 3);
    buf_reader_init(&r, b.data, b.len);
    for (size_t i = 0; i < sizeof u / sizeof *u; i++)
        ck_assert(buf_get_varint(&r) == u[i]);
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        ck_assert(buf_get_svarint(&r) == s[i]);
    ck_assert_uint_eq(buf_get_u32(&r), 0xdeadbeef);
    ck_assert(buf_get_f64(&r) == -1.5);
    size_t len;
    const uint8_t *p = buf_get_str(&r, 10, &len);
    ck_assert(p && len == 3 && memcmp(p, "abc", 3) == 0);
    ck_assert(!buf_reader_failed(&r));
    /* reading past the end fails and sticks */
    ck_assert_uint_eq(buf_get_u8(&r), 0);
    ck_assert(buf_reader_failed(&r));
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_bounds)
{
    const uint8_t overlong[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0};
    const uint8_t toolarge[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    const uint8_t strlong[2] = {0x05, 'a'};
    buf_reader_t r;
    size_t len;
    buf_reader_init(&r, overlong, sizeof overlong);
    buf_get_varint(&r);
    ck_assert(buf_reader_failed(&r)); /* longer than 10 bytes */
    buf_reader_init(&r, toolarge, sizeof toolarge);
    buf_get_varint(&r);
    ck_assert(buf_reader_failed(&r)); /* more than 64 bits */
    buf_reader_init(&r, strlong, sizeof strlong);
    ck_assert(buf_get_str(&r, 100, &len) == NULL); /* claims 5 bytes, has 1 */
    ck_assert(buf_reader_failed(&r));
    buf_reader_init(&r, strlong, sizeof strlong);
    ck_assert(buf_get_str(&r, 4, &len) == NULL); /* above the caller's bound */
}
END_TEST

static Suite *value_suite(void)
{
    Suite *s = suite_create("value");
    TCase *tc = tcase_create("value");
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_truthy);
    tcase_add_test(tc, test_hash);
    tcase_add_test(tc, test_key_roundtrip);
    tcase_add_test(tc, test_render);
    tcase_add_test(tc, test_duration);
    suite_add_tcase(s, tc);
    tc = tcase_create("buf");
    tcase_add_test(tc, test_buf_varints);
    tcase_add_test(tc, test_buf_bounds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(value_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
