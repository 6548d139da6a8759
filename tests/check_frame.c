/* check_frame.c - unit tests for the frame codec (rules/frame.c): round trips and truncated
 * or bit-flipped frames; frames forged by hand are tests/check_frame_forged.c.
 *
 * A hand-built job (two groups, every aggregate kind, keys of ints, strings, NULL and TIME:
 * tests/fixture_frame.h) is fed synthetic lines; frames must round-trip to the same
 * agg_result text for every row, and every truncated or bit-flipped frame must be refused
 * with a reason while leaving the destination partial unchanged. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <apr_general.h>

#include "check_run.h"
#include "frame.h"
#include "rules.h"
#include "value.h"

#define FIXTURE_SUITE "check_frame"
#include "fixture_frame.h"

/* ---- round trips -------------------------------------------------------- */

START_TEST(test_round_trip)
{
    partial_t *p, *q, *twice;
    frame_header_t h, got;
    buf_t out;
    size_t flen = 0;
    abbey_err_t err;
    char *fp, *fq;

    p = partial_create(&J.job, pool);
    feed(p, 0, 3000);
    ck_assert_uint_gt(ptable_count(p->tables[E_PAGES]), 400);
    buf_init(&out);
    encode_ok(p, NULL, &h, &out);
    q = partial_create(&J.job, pool);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, &got, q, &flen, &err), APR_SUCCESS);
    ck_assert_uint_eq(flen, out.len);
    ck_assert_uint_eq(got.config_hash, h.config_hash);
    ck_assert_uint_eq(got.round, 42);
    ck_assert_uint_eq(got.lease, 7);
    ck_assert_uint_eq(got.start, 1000);
    ck_assert_uint_eq(got.end, h.end);
    ck_assert_uint_eq(got.lines, 3000);
    ck_assert_uint_eq(got.bad_lines, 300);
    ck_assert_uint_eq(got.bad_by[FORMAT_BAD_QUOTE], 100);
    ck_assert_uint_eq(got.bad_by[FORMAT_BAD_TIME], 100);
    ck_assert_uint_eq(got.bad_by[PARTIAL_BAD_VALUE], 100);
    ck_assert_uint_eq(got.bad_by[PARTIAL_BAD_UNKNOWN], 0);
    ck_assert_uint_eq(got.bytes, 360000);
    ck_assert_str_eq(got.job, "web");
    ck_assert_str_eq(got.source, h.source);
    ck_assert_str_eq(got.slave, "slave-1");
    ck_assert_str_eq(got.master, "m1");
    fp = fingerprint(p);
    fq = fingerprint(q);
    ck_assert_str_eq(fq, fp);
    free(fq);
    /* a second decode merges on top: equal to p merged with itself */
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    twice = partial_create(&J.job, pool);
    ck_assert_int_eq(partial_merge(twice, p, NULL), APR_SUCCESS);
    ck_assert_int_eq(partial_merge(twice, p, NULL), APR_SUCCESS);
    free(fp);
    fp = fingerprint(twice);
    fq = fingerprint(q);
    ck_assert_str_eq(fq, fp);
    ck_assert_uint_eq(q->lines, 6000);
    free(fp);
    free(fq);
    buf_free(&out);
}
END_TEST

START_TEST(test_group_selection)
{
    static const uint8_t only_traffic[2] = {1, 0}, only_clients[2] = {0, 1}, none[2] = {0, 0};
    partial_t *p = partial_create(&J.job, pool), *q;
    frame_header_t h;
    buf_t out, a, b;
    abbey_err_t err;

    feed(p, 0, 500);
    buf_init(&out);
    buf_init(&a);
    buf_init(&b);
    encode_ok(p, only_traffic, &h, &out);
    q = partial_create(&J.job, pool);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    for (int e = 0; e < NENT; e++) {
        buf_reset(&a);
        buf_reset(&b);
        table_text(p->tables[e], &a);
        table_text(q->tables[e], &b);
        if (e == E_TOTAL) {
            ck_assert_uint_eq(ptable_count(q->tables[e]), 0);
        } else {
            ck_assert_uint_eq(a.len, b.len);
            ck_assert(memcmp(a.data, b.data, a.len) == 0);
        }
    }
    partial_clear(q);
    buf_reset(&out);
    encode_ok(p, only_clients, &h, &out);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(ptable_count(q->tables[E_STATUS]) + ptable_count(q->tables[E_PAGES]), 0);
    ck_assert_uint_eq(ptable_count(q->tables[E_TOTAL]), 1);
    /* empty frame: no rows, but the line counters arrive */
    partial_clear(q);
    buf_reset(&out);
    encode_ok(p, none, &h, &out);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    for (int e = 0; e < NENT; e++)
        ck_assert_uint_eq(ptable_count(q->tables[e]), 0);
    ck_assert_uint_eq(q->lines, 500);
    ck_assert_uint_eq(q->bad_lines, 50);
    ck_assert_uint_eq(q->bytes, 60000);
    buf_free(&out);
    buf_free(&a);
    buf_free(&b);
}
END_TEST

START_TEST(test_concatenated_and_resync)
{
    partial_t *p1 = partial_create(&J.job, pool), *p2, *q;
    frame_header_t h1, h2, got;
    buf_t all, f1, f2;
    size_t flen, off1, off2, pos;
    abbey_err_t err;

    p2 = partial_create(&J.job, pool);
    q = partial_create(&J.job, pool);
    feed(p1, 0, 100);
    feed(p2, 100, 50);
    buf_init(&all);
    buf_init(&f1);
    buf_init(&f2);
    encode_ok(p1, NULL, &h1, &f1);
    encode_ok(p2, NULL, &h2, &f2);
    /* back to back */
    buf_put(&all, f1.data, f1.len);
    buf_put(&all, f2.data, f2.len);
    ck_assert_int_eq(frame_decode(all.data, all.len, &J.job, &got, q, &flen, &err), APR_SUCCESS);
    ck_assert_uint_eq(flen, f1.len);
    ck_assert_uint_eq(got.lines, 100);
    ck_assert_int_eq(frame_decode(all.data + flen, all.len - flen, &J.job, &got, q, &flen, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(flen, f2.len);
    ck_assert_uint_eq(got.lines, 50);
    ck_assert_uint_eq(q->lines, 150);
    /* garbage, a look-alike, frame 1 (corrupted), junk, frame 2 */
    buf_reset(&all);
    buf_put(&all, "garbage ABB ABBx", 16);
    off1 = all.len;
    buf_put(&all, f1.data, f1.len);
    all.data[off1 + f1.len / 2] ^= 0x40;
    buf_put(&all, "junk", 4);
    off2 = all.len;
    buf_put(&all, f2.data, f2.len);
    ck_assert_uint_eq(frame_resync(all.data, all.len, 0), off1);
    ck_assert_uint_eq(frame_resync(all.data, all.len, off1), off1);
    ck_assert_int_eq(frame_decode(all.data + off1, all.len - off1, &J.job, NULL, q, NULL, &err),
                     APR_EINVAL);
    pos = frame_resync(all.data, all.len, off1 + 1);
    ck_assert_uint_eq(pos, off2);
    ck_assert_int_eq(frame_decode(all.data + pos, all.len - pos, &J.job, NULL, q, &flen, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(pos + flen, all.len);
    ck_assert_uint_eq(frame_resync(all.data, all.len, off2 + 1), all.len);
    ck_assert_uint_eq(frame_resync(all.data, all.len, all.len + 5), all.len);
    ck_assert_uint_eq(frame_resync((const uint8_t *)"ABBF", 4, 0), 0);
    ck_assert_uint_eq(frame_resync((const uint8_t *)"xABB", 4, 0), 4);
    buf_free(&all);
    buf_free(&f1);
    buf_free(&f2);
}
END_TEST

START_TEST(test_header_string_limits)
{
    partial_t *p = partial_create(&J.job, pool);
    frame_header_t h, got;
    buf_t out;
    abbey_err_t err;
    size_t flen;
    struct {
        char *field;
        size_t max;
        const char *what;
    } f[4];

    buf_init(&out);
    header_init(&h, p);
    f[0].field = h.job, f[0].max = FRAME_NAME_MAX, f[0].what = "job";
    f[1].field = h.source, f[1].max = FRAME_SOURCE_MAX, f[1].what = "source";
    f[2].field = h.slave, f[2].max = FRAME_NAME_MAX, f[2].what = "slave";
    f[3].field = h.master, f[3].max = FRAME_NAME_MAX, f[3].what = "master";
    for (int i = 0; i < 4; i++) {
        memset(f[i].field, 'a' + i, f[i].max - 1);
        f[i].field[f[i].max - 1] = '\0';
    }
    ck_assert_int_eq(frame_encode(&h, p, NULL, &out, &err), APR_SUCCESS);
    ck_assert_int_eq(frame_peek(out.data, out.len, &got, &flen, &err), APR_SUCCESS);
    ck_assert_uint_eq(flen, out.len);
    ck_assert_str_eq(got.job, h.job);
    ck_assert_str_eq(got.source, h.source);
    ck_assert_str_eq(got.slave, h.slave);
    ck_assert_str_eq(got.master, h.master);
    ck_assert_uint_eq(strlen(got.source), FRAME_SOURCE_MAX - 1);
    for (int i = 0; i < 4; i++) {
        size_t before = out.len;
        f[i].field[f[i].max - 1] = 'z'; /* one past: no room for the NUL */
        ck_assert_int_eq(frame_encode(&h, p, NULL, &out, &err), APR_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, f[i].what));
        ck_assert_uint_eq(out.len, before);
        f[i].field[f[i].max - 1] = '\0';
    }
    buf_free(&out);
}
END_TEST

static void check_truncations(const buf_t *f, int check_into_every)
{
    for (size_t n = 0; n < f->len; n++) {
        abbey_err_t err;
        frame_header_t h;
        size_t flen;
        ck_assert_int_eq(decode_fails(f->data, n), APR_INCOMPLETE);
        ck_assert_int_eq(frame_peek(f->data, n, &h, &flen, &err), APR_INCOMPLETE);
        if (n % (size_t)check_into_every == 0)
            assert_into_unchanged();
    }
    assert_into_unchanged();
}

START_TEST(test_truncations)
{
    partial_t *small, *big;
    frame_header_t h;
    buf_t fs, fb;

    into_init();
    small = partial_create(&J.job, pool);
    big = partial_create(&J.job, pool);
    feed(small, 0, 3);
    feed(big, 0, 2000);
    buf_init(&fs);
    buf_init(&fb);
    encode_ok(small, NULL, &h, &fs);
    encode_ok(big, NULL, &h, &fb);
    check_truncations(&fs, 1);
    check_truncations(&fb, 997);
    buf_free(&fs);
    buf_free(&fb);
    into_done();
}
END_TEST

static void check_flips(buf_t *f, size_t step)
{
    static const uint8_t masks[3] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < f->len; i += step)
        for (int m = 0; m < 3; m++) {
            f->data[i] ^= masks[m];
            decode_fails(f->data, f->len);
            f->data[i] ^= masks[m];
            assert_into_unchanged();
        }
    assert_into_unchanged();
}

START_TEST(test_byte_flips)
{
    partial_t *small, *big;
    frame_header_t h;
    buf_t fs, fb;
    abbey_err_t err;

    into_init();
    small = partial_create(&J.job, pool);
    big = partial_create(&J.job, pool);
    feed(small, 0, 4);
    feed(big, 0, 3000);
    buf_init(&fs);
    buf_init(&fb);
    encode_ok(small, NULL, &h, &fs);
    encode_ok(big, NULL, &h, &fb);
    check_flips(&fs, 1);
    check_flips(&fb, fb.len / 300 + 1);
    /* the frames are intact again */
    ck_assert_int_eq(frame_decode(fs.data, fs.len, &J.job, NULL, into, NULL, &err), APR_SUCCESS);
    ck_assert_int_eq(frame_decode(fb.data, fb.len, &J.job, NULL, into, NULL, &err), APR_SUCCESS);
    buf_free(&fs);
    buf_free(&fb);
    into_done();
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("round_trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_group_selection);
    tcase_add_test(tc, test_concatenated_and_resync);
    tcase_add_test(tc, test_header_string_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("damaged");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_truncations);
    tcase_add_test(tc, test_byte_flips);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(frame_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
