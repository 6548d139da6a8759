/* check_utf8.c - unit tests for common/utf8.c: validation, U+FFFD replacement, escaping.
 *
 * The oracle for validity is a decoder written here from the definition
 * (code point value, shortest form, no surrogates, at most U+10FFFF), run over
 * every 1-, 2- and 3-byte sequence and a sample of 4-byte ones; replacement
 * outputs are the ones Python's bytes.decode("utf-8", "replace") gives for the
 * same bytes (maximal subparts); escapes are written out by hand. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "utf8.h"

/* 1 when s[0..n) is exactly one well-formed UTF-8 character, by its value. */
static int one_char(const unsigned char *s, size_t n)
{
    uint32_t cp, min;
    if (n == 1)
        return s[0] < 0x80;
    if ((n == 2 && (s[0] & 0xe0) != 0xc0) || (n == 3 && (s[0] & 0xf0) != 0xe0) ||
        (n == 4 && (s[0] & 0xf8) != 0xf0))
        return 0;
    cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    return cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

static void expect_replaced(const char *in, size_t n, const char *want)
{
    const char *got;
    buf_t b;
    buf_init(&b);
    utf8_put_replaced(&b, in, n);
    got = b.len ? (const char *)b.data : "";
    ck_assert_uint_eq(b.len, strlen(want));
    ck_assert_msg(memcmp(got, want, b.len) == 0, "replaced '%.*s', want '%s'", (int)b.len, got,
                  want);
    ck_assert_uint_eq(utf8_valid_prefix(got, b.len), b.len);
    buf_free(&b);
}

static void expect_escaped(const char *in, size_t n, const char *want)
{
    char out[256];
    ck_assert_str_eq(utf8_escape(out, sizeof out, in, n), want);
}

/* 1 when all of s[0..n) is well-formed: character by character, each one's
 * length from its lead byte's high bits, then one_char. */
static int all_valid(const unsigned char *s, size_t n)
{
    size_t i = 0, l;
    while (i < n) {
        l = s[i] < 0x80             ? 1
            : (s[i] & 0xe0) == 0xc0 ? 2
            : (s[i] & 0xf0) == 0xe0 ? 3
            : (s[i] & 0xf8) == 0xf0 ? 4
                                    : 0;
        if (!l || l > n - i || !one_char(s + i, l))
            return 0;
        i += l;
    }
    return 1;
}

/* Every sequence of 1, 2 and 3 bytes, and 4 bytes over every lead, second
 * and third byte with the edges of the continuation range last: valid
 * exactly when the value decoder says so. (Mismatches counted, asserted once.) */
START_TEST(test_valid_against_decoder)
{
    static const unsigned char last[] = {0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xff};
    unsigned char s[4];
    unsigned long bad = 0, checked = 0;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        bad += (utf8_valid_prefix((char *)s, 1) == 1) != all_valid(s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            bad += (utf8_valid_prefix((char *)s, 2) == 2) != all_valid(s, 2);
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                bad += (utf8_valid_prefix((char *)s, 3) == 3) != all_valid(s, 3);
                checked++;
                for (size_t d = 0; a >= 0xf0 && a < 0xf8 && d < sizeof last; d++) {
                    s[3] = last[d];
                    bad += (utf8_valid_prefix((char *)s, 4) == 4) != all_valid(s, 4);
                    checked++;
                }
            }
        }
    }
    ck_assert_uint_gt(checked, 16777216);
    ck_assert_uint_eq(bad, 0);
}
END_TEST

/* The position of the first ill-formed byte, at every offset of the
 * eight-bytes-at-a-time ASCII path. */
START_TEST(test_prefix_positions)
{
    char s[40];
    for (size_t at = 0; at < 24; at++) {
        memset(s, 'a', sizeof s);
        s[at] = (char)0xff;
        ck_assert_uint_eq(utf8_valid_prefix(s, sizeof s), at);
        memcpy(s + at, "\xe2\x82\xac", 3); /* the euro sign: valid */
        ck_assert_uint_eq(utf8_valid_prefix(s, sizeof s), sizeof s);
        ck_assert_uint_eq(utf8_valid_prefix(s, at + 2), at); /* cut inside it */
    }
    ck_assert_uint_eq(utf8_valid_prefix("", 0), 0);
    ck_assert_uint_eq(utf8_valid_prefix("a\0b", 3), 3); /* NUL is a character */
}
END_TEST

START_TEST(test_replaced)
{
    expect_replaced("/a\xff/b", 5, "/a\xef\xbf\xbd/b");         /* 0xff */
    expect_replaced("x\xe2\x82", 3, "x\xef\xbf\xbd");           /* truncated, at the end */
    expect_replaced("\xe2\x82x", 3, "\xef\xbf\xbdx");           /* truncated, then ASCII */
    expect_replaced("\xf0\x9f\x98!", 4, "\xef\xbf\xbd!");       /* 3 of 4 bytes */
    expect_replaced("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong '/' */
    expect_replaced("\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
    expect_replaced("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    expect_replaced("\xf4\x90\x80\x80", 4,
                    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* > U+10FFFF */
    expect_replaced("\x80\xbf", 2, "\xef\xbf\xbd\xef\xbf\xbd");          /* lone continuations */
    /* well-formed text, controls included, is copied unchanged */
    expect_replaced("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x01\x1b[0m", 14,
                    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x01\x1b[0m");
    expect_replaced("", 0, "");
    {
        buf_t b;
        buf_init(&b);
        utf8_put_replaced(&b, "a\0\xff", 3); /* NUL kept, not an end */
        ck_assert_uint_eq(b.len, 5);
        ck_assert(memcmp(b.data, "a\0\xef\xbf\xbd", 5) == 0);
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_escaped)
{
    expect_escaped("GET /a b", 8, "GET /a b");
    expect_escaped("a\\x41", 5, "a\\\\x41"); /* a backslash doubles: reversible */
    expect_escaped("\x1b]0;owned\x07", 10, "\\x1b]0;owned\\x07");
    expect_escaped("a\0b\r\n\t\x7f", 7, "a\\x00b\\x0d\\x0a\\x09\\x7f");
    expect_escaped("\xc2\x9b"
                   "2J",
                   4, "\\xc2\\x9b2J"); /* C1 CSI */
    expect_escaped("\xc2\xa0\xc3\xa9\xe2\x82\xac", 7, "\xc2\xa0\xc3\xa9\xe2\x82\xac");
    expect_escaped("\xff\xc0\xaf\xed\xa0\x80", 6, "\\xff\\xc0\\xaf\\xed\\xa0\\x80");
    expect_escaped("\xe2\x82", 2, "\\xe2\\x82");
    expect_escaped("", 0, "");
}
END_TEST

/* A full destination stops at a whole escape or character, NUL terminated. */
START_TEST(test_escaped_cap)
{
    char out[8];
    ck_assert_str_eq(utf8_escape(out, 6, "ab\x01", 3), "ab");
    ck_assert_str_eq(utf8_escape(out, 7, "ab\x01", 3), "ab\\x01");
    ck_assert_str_eq(utf8_escape(out, 4, "a\xe2\x82\xac", 4), "a");
    ck_assert_str_eq(utf8_escape(out, 5, "a\xe2\x82\xac", 4), "a\xe2\x82\xac");
    ck_assert_str_eq(utf8_escape(out, 1, "abc", 3), "");
}
END_TEST

static Suite *utf8_suite(void)
{
    Suite *su = suite_create("utf8");
    TCase *tc = tcase_create("utf8");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_valid_against_decoder);
    tcase_add_test(tc, test_prefix_positions);
    tcase_add_test(tc, test_replaced);
    tcase_add_test(tc, test_escaped);
    tcase_add_test(tc, test_escaped_cap);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    return check_run(utf8_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
