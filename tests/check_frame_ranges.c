/* check_frame_ranges.c - unit tests for frames of several ranges (rules/frame_ranges.c,
 * rules/frame.c; docs/CLUSTER.md "Frames of several ranges"): a partial read over three
 * ranges of two sources encoded as one frame and read back (ranges, counters, rows), frames
 * of one range unchanged (the same bytes with or without a list of one, an old version 1
 * frame read as one range), 16 ranges of the longest sources, range lists forged by hand
 * around a valid payload (each refused with its reason, the destination partial unchanged),
 * lists the encoder refuses, and the ranges as text. The job, its lines and the destination
 * partial are tests/fixture_frame.h; the oracle for counters is the sum the test kept of
 * what each range fed. */
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

#define FIXTURE_SUITE "check_frame_ranges"
#include "fixture_frame.h"
#include "fixture_frame_v1.h"

/* Range i of r: source, lease, [start, end), counters. */
static void set_range(frame_ranges_t *r, uint32_t i, const char *source, uint64_t lease,
                      uint64_t start, uint64_t end, uint64_t lines, uint64_t bad, uint64_t bytes)
{
    frame_range_t *x = &r->r[i];
    memset(x, 0, sizeof *x);
    snprintf(x->source, sizeof x->source, "%s", source);
    x->lease = lease;
    x->start = start;
    x->end = end;
    x->lines = lines;
    x->bad_lines = bad;
    x->bytes = bytes;
    if (r->n < i + 1)
        r->n = i + 1;
}

/* p fed over three ranges (two of a.log, one of b.log), r their list: each range's
 * counters are what its feed added to p. */
static void three_ranges(partial_t *p, frame_ranges_t *r)
{
    static const long first[3] = {0, 100, 160}, n[3] = {100, 60, 35};
    static const char *src[3] = {"/logs/a.log#2049:11:0", "/logs/b.log#2049:12:0",
                                 "/logs/a.log#2049:11:0"};
    static const uint64_t start[3] = {0, 4096, 20000};

    memset(r, 0, sizeof *r);
    for (int i = 0; i < 3; i++) {
        uint64_t l0 = p->lines, b0 = p->bad_lines, y0 = p->bytes;
        feed(p, first[i], n[i]);
        set_range(r, (uint32_t)i, src[i], 30 + (uint64_t)i, start[i], start[i] + (p->bytes - y0),
                  p->lines - l0, p->bad_lines - b0, p->bytes - y0);
    }
}

static void same_ranges(const frame_ranges_t *a, const frame_ranges_t *b)
{
    ck_assert_uint_eq(a->n, b->n);
    for (uint32_t i = 0; i < a->n; i++) {
        ck_assert_str_eq(a->r[i].source, b->r[i].source);
        ck_assert_uint_eq(a->r[i].lease, b->r[i].lease);
        ck_assert_uint_eq(a->r[i].start, b->r[i].start);
        ck_assert_uint_eq(a->r[i].end, b->r[i].end);
        ck_assert_uint_eq(a->r[i].lines, b->r[i].lines);
        ck_assert_uint_eq(a->r[i].bad_lines, b->r[i].bad_lines);
        ck_assert_uint_eq(a->r[i].bytes, b->r[i].bytes);
    }
}

START_TEST(test_round_trip)
{
    partial_t *p = partial_create(&J.job, pool), *q = partial_create(&J.job, pool);
    frame_ranges_t *r = malloc(sizeof *r), *got = malloc(sizeof *got);
    frame_header_t h, ph;
    abbey_err_t err;
    size_t flen = 0;
    buf_t out;
    char *fp, *fq;

    three_ranges(p, r);
    header_init(&h, p); /* its own range is replaced by the list's first */
    h.ranges = r;
    buf_init(&out);
    ck_assert_int_eq(frame_encode(&h, p, NULL, &out, &err), APR_SUCCESS);
    ck_assert_int_eq(frame_peek_ranges(out.data, out.len, &ph, got, &flen, &err), APR_SUCCESS);
    ck_assert_uint_eq(flen, out.len);
    ck_assert_uint_eq(ph.nranges, 3);
    ck_assert_ptr_null(ph.ranges);
    same_ranges(r, got);
    ck_assert_str_eq(ph.source, "/logs/a.log#2049:11:0"); /* the header's: the first range's */
    ck_assert_uint_eq(ph.lease, 30);
    ck_assert_uint_eq(ph.start, 0);
    ck_assert_uint_eq(ph.end, r->r[0].end);
    ck_assert_uint_eq(ph.lines, 195); /* the frame's: every range's */
    ck_assert_uint_eq(ph.lines, r->r[0].lines + r->r[1].lines + r->r[2].lines);
    ck_assert_uint_eq(ph.bad_lines, p->bad_lines);
    ck_assert_uint_eq(ph.bytes, 195 * 120);
    /* the rows of every range, once */
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, &ph, q, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(ph.nranges, 3);
    fp = fingerprint(p);
    fq = fingerprint(q);
    ck_assert_str_eq(fp, fq);
    free(fp);
    free(fq);
    /* frame_peek says how many, without the list */
    ck_assert_int_eq(frame_peek(out.data, out.len, &ph, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(ph.nranges, 3);
    /* one group selected: the same list */
    buf_reset(&out);
    ck_assert_int_eq(frame_encode(&h, p, (const uint8_t[]){0, 1}, &out, &err), APR_SUCCESS);
    ck_assert_int_eq(frame_peek_ranges(out.data, out.len, &ph, got, NULL, &err), APR_SUCCESS);
    same_ranges(r, got);
    buf_free(&out);
    free(r);
    free(got);
}
END_TEST

START_TEST(test_one_range_unchanged)
{
    partial_t *p = partial_create(&J.job, pool);
    frame_ranges_t *one = calloc(1, sizeof *one), *got = malloc(sizeof *got);
    frame_header_t h, ph;
    abbey_err_t err;
    buf_t a, b;

    feed(p, 0, 50);
    buf_init(&a);
    buf_init(&b);
    encode_ok(p, NULL, &h, &a);
    set_range(one, 0, "/elsewhere#1", 99, 5, 6, 1, 0, 1); /* a list of one is ignored */
    h.ranges = one;
    ck_assert_int_eq(frame_encode(&h, p, NULL, &b, &err), APR_SUCCESS);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_int_eq(memcmp(a.data, b.data, a.len), 0);
    ck_assert_int_eq(frame_peek_ranges(a.data, a.len, &ph, got, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(ph.nranges, 1);
    ck_assert_uint_eq(got->n, 1);
    ck_assert_str_eq(got->r[0].source, "/var/log/nginx/access.log#ino=1234");
    ck_assert_uint_eq(got->r[0].lease, 7);
    ck_assert_uint_eq(got->r[0].start, 1000);
    ck_assert_uint_eq(got->r[0].end, 1000 + 50 * 120);
    ck_assert_uint_eq(got->r[0].lines, 50);
    ck_assert_uint_eq(got->r[0].bytes, 50 * 120);
    /* a frame written by version 1's encoder (old journals and spools): one range */
    ck_assert_int_eq(frame_peek_ranges(frame_v1, sizeof frame_v1, &ph, got, NULL, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(ph.nranges, 1);
    ck_assert_uint_eq(got->n, 1);
    ck_assert_uint_eq(got->r[0].lines, FRAME_V1_LINES);
    ck_assert_uint_eq(got->r[0].start, 1000);
    buf_free(&a);
    buf_free(&b);
    free(one);
    free(got);
}
END_TEST

START_TEST(test_most_ranges)
{
    partial_t *p = partial_create(&J.job, pool), *q = partial_create(&J.job, pool);
    frame_ranges_t *r = calloc(1, sizeof *r), *got = malloc(sizeof *got);
    char src[FRAME_SOURCE_MAX];
    frame_header_t h, ph;
    abbey_err_t err;
    buf_t out;

    for (int i = 0; i < FRAME_MAX_RANGES; i++) {
        uint64_t l0 = p->lines, b0 = p->bad_lines, y0 = p->bytes;
        memset(src, 'a' + i, sizeof src - 1);
        src[sizeof src - 1] = '\0';
        feed(p, i * 10L, 10);
        set_range(r, (uint32_t)i, src, (uint64_t)i, 0, 1200, p->lines - l0, p->bad_lines - b0,
                  p->bytes - y0);
    }
    header_init(&h, p);
    h.ranges = r;
    buf_init(&out);
    ck_assert_int_eq(frame_encode(&h, p, NULL, &out, &err), APR_SUCCESS);
    ck_assert_int_eq(frame_peek_ranges(out.data, out.len, &ph, got, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(ph.nranges, FRAME_MAX_RANGES);
    same_ranges(r, got);
    ck_assert_int_eq(frame_decode(out.data, out.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(q->lines, 10 * FRAME_MAX_RANGES);
    /* one more is refused */
    r->n = FRAME_MAX_RANGES + 1;
    buf_reset(&out);
    ck_assert_int_eq(frame_encode(&h, p, NULL, &out, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "at most 16"));
    ck_assert_uint_eq(out.len, 0);
    buf_free(&out);
    free(r);
    free(got);
}
END_TEST

/* ---- lists forged by hand ---------------------------------------------- */

/* A header of ranges [0, 100) lease 5 of "a#1", lines 10, bad 1, bytes 100, then
 * regex_limit_hits and no reasons; the caller appends the list. */
static void forged_header(buf_t *b)
{
    buf_reset(b);
    buf_put_u64(b, 1);   /* config hash */
    buf_put_u64(b, 2);   /* round */
    buf_put_u64(b, 5);   /* lease */
    buf_put_u64(b, 0);   /* start */
    buf_put_u64(b, 100); /* end */
    buf_put_varint(b, 10);
    buf_put_varint(b, 1);
    buf_put_varint(b, 100);
    buf_put_str(b, "web", 3);
    buf_put_str(b, "a#1", 3);
    buf_put_str(b, "s1", 2);
    buf_put_str(b, "m1", 2);
    buf_put_varint(b, 0); /* regex_limit_hits */
    buf_put_varint(b, 0); /* no reasons (the bad line is "unknown") */
}

static void put_range(buf_t *b, const char *src, size_t slen, uint64_t lease, uint64_t start,
                      uint64_t end, uint64_t lines, uint64_t bad, uint64_t bytes)
{
    buf_put_str(b, src, slen);
    buf_put_varint(b, lease);
    buf_put_varint(b, start);
    buf_put_varint(b, end);
    buf_put_varint(b, lines);
    buf_put_varint(b, bad);
    buf_put_varint(b, bytes);
}

/* A valid frame (version 1, no groups: an empty payload) around header bytes hdr. */
static void wrap(const buf_t *hdr, uint8_t flags, buf_t *out)
{
    uint8_t raw = 0, z[64];
    uLongf zlen = sizeof z;
    ck_assert_int_eq(compress2(z, &zlen, &raw, 1, 6), Z_OK);
    buf_reset(out);
    buf_put(out, FRAME_MAGIC, 4);
    buf_put_u8(out, 1);
    buf_put_u8(out, flags);
    buf_put_u8(out, 0);
    buf_put_u8(out, 0);
    buf_put_u32(out, (uint32_t)hdr->len);
    buf_put_u32(out, (uint32_t)zlen);
    buf_put_u32(out, 1);
    buf_put(out, hdr->data, hdr->len);
    buf_put(out, z, zlen);
    buf_put_u32(out, (uint32_t)crc32(0L, out->data, (uInt)out->len));
}

/* The frame of header hdr is refused by frame_peek and frame_decode with reason. */
static void refused(const buf_t *hdr, uint8_t flags, const char *reason)
{
    buf_t f;
    abbey_err_t err;
    frame_header_t h;
    buf_init(&f);
    wrap(hdr, flags, &f);
    err.msg[0] = '\0';
    ck_assert_int_eq(frame_peek(f.data, f.len, &h, NULL, &err), APR_EINVAL);
    if (!strstr(err.msg, reason))
        ck_abort_msg("expected '%s' in the error, got '%s'", reason, err.msg);
    decode_fails(f.data, f.len);
    assert_into_unchanged();
    buf_free(&f);
}

START_TEST(test_forged_lists)
{
    buf_t hdr, f;
    abbey_err_t err;
    frame_header_t h;
    frame_ranges_t *got = malloc(sizeof *got);

    buf_init(&hdr);
    buf_init(&f);
    into_init();
    /* the well-formed list the cases break: [0, 100) of a#1, [0, 50) of b#1 */
    forged_header(&hdr);
    buf_put_varint(&hdr, 2);
    put_range(&hdr, "a#1", 3, 5, 0, 100, 6, 1, 60);
    put_range(&hdr, "b#1", 3, 9, 0, 50, 4, 0, 40);
    wrap(&hdr, 0, &f);
    ck_assert_int_eq(frame_peek_ranges(f.data, f.len, &h, got, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(got->n, 2);
    ck_assert_str_eq(got->r[1].source, "b#1");
    ck_assert_uint_eq(got->r[1].lease, 9);
    /* two ranges of one source that touch but do not overlap */
    forged_header(&hdr);
    buf_put_varint(&hdr, 2);
    put_range(&hdr, "a#1", 3, 5, 0, 100, 6, 1, 60);
    put_range(&hdr, "a#1", 3, 9, 100, 150, 4, 0, 40);
    wrap(&hdr, 0, &f);
    ck_assert_int_eq(frame_peek(f.data, f.len, &h, NULL, &err), APR_SUCCESS);

    struct {
        uint64_t count;
        const char *src2;
        size_t slen2;
        uint64_t start1, start2, end2, lines2;
        int trailing;
        const char *reason;
    } cases[] = {
        {1, "b#1", 3, 0, 0, 50, 4, 0, "a count of 2 to 16"},
        {FRAME_MAX_RANGES + 1, "b#1", 3, 0, 0, 50, 4, 0, "a count of 2 to 16"},
        {3, "b#1", 3, 0, 0, 50, 4, 0, "range 3 of 3 is truncated"},
        {2, "", 0, 0, 0, 50, 4, 0, "range 2: the source is empty"},
        {2, "b\0#1", 4, 0, 0, 50, 4, 0, "range 2: the source is holding a NUL byte"},
        {2, "b#1", 3, 0, 50, 50, 4, 0, "range 2 (b#1): [50, 50) is empty or inverted"},
        {2, "b#1", 3, 0, 60, 50, 4, 0, "[60, 50) is empty or inverted"},
        {2, "b#1", 3, 1, 0, 50, 4, 0, "range 1 is not the header's range"},
        {2, "a#1", 3, 0, 99, 120, 4, 0, "ranges 1 and 2 of a#1 overlap"},
        {2, "b#1", 3, 0, 0, 50, 5, 0, "the ranges' lines, bad lines and bytes (11, 1, 100)"},
        {2, "b#1", 3, 0, 0, 50, 4, 1, "1 unexpected bytes after the fields"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        forged_header(&hdr);
        buf_put_varint(&hdr, cases[i].count);
        put_range(&hdr, "a#1", 3, 5, cases[i].start1, 100, 6, 1, 60);
        put_range(&hdr, cases[i].src2, cases[i].slen2, 9, cases[i].start2, cases[i].end2,
                  cases[i].lines2, 0, 40);
        if (cases[i].trailing)
            buf_put_u8(&hdr, 0);
        refused(&hdr, 0, cases[i].reason);
    }
    /* a counter list that overflows */
    forged_header(&hdr);
    buf_put_varint(&hdr, 2);
    put_range(&hdr, "a#1", 3, 5, 0, 100, UINT64_MAX, 1, 60);
    put_range(&hdr, "b#1", 3, 9, 0, 50, 11, 0, 40);
    refused(&hdr, 0, "the ranges' counters overflow");
    /* a state record covers no range */
    forged_header(&hdr);
    buf_put_varint(&hdr, 2);
    put_range(&hdr, "a#1", 3, 5, 0, 100, 6, 1, 60);
    put_range(&hdr, "b#1", 3, 9, 0, 50, 4, 0, 40);
    wrap(&hdr, FRAME_FLAG_RECORD, &f);
    ck_assert_int_eq(frame_peek(f.data, f.len, &h, NULL, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "a state record with a range list"));
    into_done();
    buf_free(&hdr);
    buf_free(&f);
    free(got);
}
END_TEST

/* ---- what the encoder refuses ------------------------------------------- */

START_TEST(test_encode_refuses)
{
    partial_t *p = partial_create(&J.job, pool);
    frame_ranges_t *r = malloc(sizeof *r), *bad = malloc(sizeof *bad);
    frame_header_t h;
    abbey_err_t err;
    buf_t out;

    three_ranges(p, r);
    header_init(&h, p);
    buf_init(&out);
    buf_put(&out, "keep", 4);
    struct {
        int what;
        const char *reason;
    } cases[] = {
        {0, "are not the frame's"},
        {1, "overlap"},
        {2, "is empty or inverted"},
        {3, "the source is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        *bad = *r;
        if (cases[i].what == 0)
            bad->r[1].lines++;
        else if (cases[i].what == 1)
            bad->r[2].start = bad->r[0].end - 1;
        else if (cases[i].what == 2)
            bad->r[1].end = bad->r[1].start;
        else
            bad->r[2].source[0] = '\0';
        h.ranges = bad;
        ck_assert_int_eq(frame_encode(&h, p, NULL, &out, &err), APR_EINVAL);
        if (!strstr(err.msg, cases[i].reason))
            ck_abort_msg("expected '%s' in the error, got '%s'", cases[i].reason, err.msg);
        ck_assert_uint_eq(out.len, 4); /* out unchanged */
    }
    buf_free(&out);
    free(r);
    free(bad);
}
END_TEST

START_TEST(test_text)
{
    frame_ranges_t *r = calloc(1, sizeof *r);
    char small[24], text[256];

    set_range(r, 0, "a#1", 1, 0, 10, 1, 0, 10);
    frame_ranges_text(r, text, sizeof text);
    ck_assert_str_eq(text, "a#1 [0, 10)");
    set_range(r, 1, "b#2", 2, 5, 7, 1, 0, 2);
    frame_ranges_text(r, text, sizeof text);
    ck_assert_str_eq(text, "2 ranges: a#1 [0, 10), b#2 [5, 7)");
    frame_ranges_text(r, small, sizeof small);
    ck_assert_str_eq(small, "2 ranges: a#1 [0, 10), "); /* cut to fit */
    free(r);
}
END_TEST

static Suite *ranges_suite(void)
{
    Suite *s = suite_create("frame_ranges");
    TCase *tc = tcase_create("ranges");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_one_range_unchanged);
    tcase_add_test(tc, test_most_ranges);
    tcase_add_test(tc, test_forged_lists);
    tcase_add_test(tc, test_encode_refuses);
    tcase_add_test(tc, test_text);
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
