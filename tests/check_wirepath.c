/* check_wirepath.c - unit tests for common/wirepath.c: the wire form of file paths.
 *
 * Hand-worked cases (escapes, '%' before hex digits, UTF-8 edge cases: overlong forms,
 * surrogates, code points past U+10FFFF, cut sequences), then random byte strings: decoding
 * the encoding gives the bytes back, and jansson takes every encoding as a JSON string (its
 * own UTF-8 check is the oracle for "valid text"). */
#include <apr_general.h>
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "utf8.h"
#include "wirepath.h"

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

/* encode(raw) == wire and decode(wire) == raw */
static void both_ways(const char *raw, const char *wire)
{
    ck_assert_str_eq(wirepath_encode(raw, pool), wire);
    ck_assert_str_eq(wirepath_decode(wire, pool), raw);
}

START_TEST(hand_worked)
{
    const char *plain = "/var/log/nginx/access.log";
    ck_assert_ptr_eq(wirepath_encode(plain, pool), plain); /* nothing to escape: itself */
    ck_assert_ptr_eq(wirepath_decode(plain, pool), plain);
    both_ways("/logs/app-\xff.log", "/logs/app-%FF.log");
    both_ways("/logs/caf\xc3\xa9.log", "/logs/caf\xc3\xa9.log"); /* UTF-8 stays */
    both_ways("/logs/\xc3.log", "/logs/%C3.log");                /* a cut sequence */
    both_ways("a\xc0\xaf", "a%C0%AF");                           /* overlong '/' */
    both_ways("a\xed\xa0\x80", "a%ED%A0%80");                    /* a surrogate */
    both_ways("a\xf4\x90\x80\x80", "a%F4%90%80%80");             /* past U+10FFFF */
    both_ways("a\xf0\x9f\x98\x80", "a\xf0\x9f\x98\x80");         /* U+1F600 stays */
    /* '%' is escaped only where it would read as an escape */
    both_ways("100%.log", "100%.log");
    both_ways("a%41b", "a%41b");   /* %41 is not an escape: bytes < 0x80 never are */
    both_ways("a%ffb", "a%25ffb"); /* a literal "%ff" */
    both_ways("a%25b", "a%2525b"); /* a literal "%25" */
    both_ways("a%\xff", "a%%FF");  /* '%' then byte 0xff */
    both_ways("%", "%");
    ck_assert_str_eq(wirepath_decode("a%00b%7F", pool), "a%00b%7F"); /* never a NUL */
    ck_assert_str_eq(wirepath_decode("%c3%a9", pool), "\xc3\xa9");   /* either case */
    ck_assert_uint_eq(utf8_char("\xe2\x82\xac", 3), 3);
    ck_assert_uint_eq(utf8_char("\xe2\x82\xac", 2), 0);
    ck_assert_uint_eq(utf8_char("\x80", 1), 0);
}
END_TEST

/* Random names (bytes 1..255, with '%' and hex digits often): decode(encode(x)) == x, and
 * the encoding is UTF-8 text that jansson accepts. */
START_TEST(random_round_trip)
{
    static const char pick[] = "%%%25fF8aC/.x\xc3\xa9\xe2\x82\xac\xff\x80\xed\xf4";
    char raw[40];
    srand(20251206);
    for (int i = 0; i < 200000; i++) {
        int n = rand() % (int)(sizeof raw - 1);
        const char *wire;
        json_t *j;
        for (int k = 0; k < n; k++)
            raw[k] = (char)(rand() % 3 ? pick[rand() % (int)(sizeof pick - 1)] : 1 + rand() % 255);
        raw[n] = '\0';
        wire = wirepath_encode(raw, pool);
        ck_assert_str_eq(wirepath_decode(wire, pool), raw);
        j = json_string(wire);
        ck_assert_msg(j != NULL, "case %d: the encoding is not UTF-8 for jansson", i);
        json_decref(j);
        if (i % 10000 == 0)
            apr_pool_clear(pool);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("wirepath");
    TCase *tc = tcase_create("wirepath");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, hand_worked);
    tcase_add_test(tc, random_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite()) ? 1 : 0;
}
