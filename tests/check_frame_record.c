/* check_frame_record.c - unit tests for record frames (rules/frame.c: frame_encode_record,
 * frame_record, and the flags byte in frame_peek / frame_decode).
 *
 * The oracle is the bytes the test made: records of 0 bytes to ~1 MiB (text
 * that compresses and pseudo-random bytes that do not) must come back byte for
 * byte with their header; every torn prefix must be APR_INCOMPLETE, every
 * single-byte change refused, a record refused by frame_decode (leaving the
 * partial unchanged) and a partial refused by frame_record, and any flags byte
 * but 0 and FRAME_FLAG_RECORD refused as corrupt even under a valid CRC. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <apr_general.h>

#include "check_run.h"
#include "buf.h"
#include "frame.h"
#include "partial.h"
#include "rules.h"

static apr_pool_t *pool;
static const rules_job_t *job;

static const char *RULES = "jobs:\n"
                           "  - name: t\n"
                           "    sources: [/dev/null]\n"
                           "    format: {split: \"|\", fields: [api, ms:int]}\n"
                           "    groups:\n"
                           "      - name: g\n"
                           "        entries:\n"
                           "          - name: by_api\n"
                           "            key: [api]\n"
                           "            values: {n: count, ms: sum(ms)}\n";

static void setup(void)
{
    rules_config_t *cfg;
    abbey_err_t err;
    apr_initialize();
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_msg(rules_load_buffer(RULES, strlen(RULES), "rec.yaml", pool, &cfg, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    job = &cfg->jobs[0];
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static void header_init(frame_header_t *h, uint64_t round)
{
    memset(h, 0, sizeof *h);
    h->config_hash = 0x0123456789abcdefull;
    h->round = round;
    h->lease = 77;
    h->start = 1000;
    h->end = 2000;
    h->lines = 5;
    h->bad_lines = 1;
    h->bytes = 300;
    strcpy(h->job, "t");
    strcpy(h->source, "sched");
    strcpy(h->slave, "");
    strcpy(h->master, "m1");
}

/* n bytes: JSON-ish text (compresses) or pseudo-random bytes (does not). */
static uint8_t *make_data(size_t n, int random)
{
    uint8_t *d = malloc(n ? n : 1);
    uint64_t x = 0x9E3779B97F4A7C15ull ^ n;
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; i++) {
        if (random) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            d[i] = (uint8_t)x;
        } else {
            d[i] = (uint8_t) "{\"task\": 42, \"lease\": \"abc\"}\n"[i % 29];
        }
    }
    return d;
}

static void encode_ok(const frame_header_t *h, const void *d, size_t n, buf_t *out)
{
    abbey_err_t err;
    ck_assert_msg(frame_encode_record(h, d, n, out, &err) == APR_SUCCESS, "%s", err.msg);
}

static void same_header(const frame_header_t *a, const frame_header_t *b)
{
    ck_assert_uint_eq(a->config_hash, b->config_hash);
    ck_assert_uint_eq(a->round, b->round);
    ck_assert_uint_eq(a->lease, b->lease);
    ck_assert_uint_eq(a->start, b->start);
    ck_assert_uint_eq(a->end, b->end);
    ck_assert_uint_eq(a->lines, b->lines);
    ck_assert_uint_eq(a->bad_lines, b->bad_lines);
    ck_assert_uint_eq(a->bytes, b->bytes);
    ck_assert_str_eq(a->job, b->job);
    ck_assert_str_eq(a->source, b->source);
    ck_assert_str_eq(a->slave, b->slave);
    ck_assert_str_eq(a->master, b->master);
}

/* Read the record at buf and compare it with (h, d, n); returns its frame length. */
static size_t expect_record(const uint8_t *buf, size_t len, const frame_header_t *h,
                            const uint8_t *d, size_t n)
{
    frame_header_t got;
    uint8_t *data = NULL;
    size_t dlen = 12345, flen = 0, plen = 0;
    abbey_err_t err;

    ck_assert_msg(frame_record(buf, len, pool, &got, &data, &dlen, &flen, &err) == APR_SUCCESS,
                  "%s", err.msg);
    same_header(h, &got);
    ck_assert_uint_eq(got.flags, FRAME_FLAG_RECORD);
    ck_assert_uint_eq(dlen, n);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(data[n], '\0');
    ck_assert_msg(n == 0 || memcmp(data, d, n) == 0, "record bytes differ");
    ck_assert_int_eq(frame_peek(buf, len, &got, &plen, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.flags, FRAME_FLAG_RECORD);
    ck_assert_uint_eq(plen, flen);
    return flen;
}

/* ---- round trips ---------------------------------------------------------- */

START_TEST(test_round_trip_sizes)
{
    static const size_t sizes[] = {0, 1, 2, 29, 100, 4095, 4096, 65537, 300000, (1u << 20) + 3};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int random = 0; random < 2; random++) {
            frame_header_t h;
            uint8_t *d = make_data(sizes[i], random);
            buf_t out;
            size_t flen;

            header_init(&h, i);
            h.flags = 0x55; /* the encoder ignores it */
            buf_init(&out);
            encode_ok(&h, d, sizes[i], &out);
            ck_assert_uint_eq(out.data[5], FRAME_FLAG_RECORD);
            flen = expect_record(out.data, out.len, &h, d, sizes[i]);
            ck_assert_uint_eq(flen, out.len);
            /* a buffer longer than the frame: the frame ends where it says */
            buf_put(&out, "ABBFxyz", 7);
            ck_assert_uint_eq(expect_record(out.data, out.len, &h, d, sizes[i]), flen);
            buf_free(&out);
            free(d);
        }
}
END_TEST

/* Frames back to back in one buffer, appended after bytes already there. */
START_TEST(test_back_to_back)
{
    enum { N = 20 };
    frame_header_t h[N];
    uint8_t *d[N];
    size_t n[N], off[N + 1];
    buf_t out;

    buf_init(&out);
    buf_put(&out, "prefix", 6);
    for (int i = 0; i < N; i++) {
        n[i] = (size_t)i * 37;
        d[i] = make_data(n[i], i % 2);
        header_init(&h[i], (uint64_t)i);
        snprintf(h[i].source, sizeof h[i].source, "record-%d", i);
        off[i] = out.len;
        encode_ok(&h[i], d[i], n[i], &out);
    }
    off[N] = out.len;
    ck_assert_int_eq(memcmp(out.data, "prefix", 6), 0);
    for (int i = 0; i < N; i++) {
        size_t flen = expect_record(out.data + off[i], out.len - off[i], &h[i], d[i], n[i]);
        ck_assert_uint_eq(off[i] + flen, off[i + 1]);
        free(d[i]);
    }
    buf_free(&out);
}
END_TEST

/* ---- damage ----------------------------------------------------------------- */

/* frame_record must fail with rv and leave every output untouched. */
static void expect_refused(const uint8_t *b, size_t len, apr_status_t rv, const char *reason)
{
    frame_header_t h;
    uint8_t *data = (uint8_t *)"untouched";
    size_t dlen = 12345, flen = 54321;
    abbey_err_t err;
    apr_status_t got;

    memset(&h, 0xAB, sizeof h);
    err.msg[0] = '\0';
    got = frame_record(b, len, pool, &h, &data, &dlen, &flen, &err);
    ck_assert_msg(got == rv, "frame_record returned %d, expected %d (%s)", got, rv, err.msg);
    ck_assert_str_eq((const char *)data, "untouched");
    ck_assert_uint_eq(dlen, 12345);
    ck_assert_uint_eq(flen, 54321);
    ck_assert_uint_eq(h.round, 0xABABABABABABABABull);
    ck_assert_uint_gt(strlen(err.msg), 0);
    if (reason && !strstr(err.msg, reason))
        ck_abort_msg("expected '%s' in the error, got '%s'", reason, err.msg);
}

START_TEST(test_torn_prefixes)
{
    static const size_t sizes[] = {0, 50, 3000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        frame_header_t h;
        uint8_t *d = make_data(sizes[i], 1);
        buf_t out;
        abbey_err_t err;

        header_init(&h, 1);
        buf_init(&out);
        encode_ok(&h, d, sizes[i], &out);
        for (size_t cut = 0; cut < out.len; cut++) {
            expect_refused(out.data, cut, APR_INCOMPLETE, "torn");
            ck_assert_int_eq(frame_peek(out.data, cut, NULL, NULL, &err), APR_INCOMPLETE);
        }
        buf_free(&out);
        free(d);
    }
}
END_TEST

START_TEST(test_torn_big)
{
    size_t n = (1u << 20) + 3;
    frame_header_t h;
    uint8_t *d = make_data(n, 1);
    buf_t out;

    header_init(&h, 2);
    buf_init(&out);
    encode_ok(&h, d, n, &out);
    ck_assert_uint_gt(out.len, n); /* random bytes do not compress */
    for (size_t cut = 0; cut < out.len; cut += cut < 64 ? 1 : 65521)
        expect_refused(out.data, cut, APR_INCOMPLETE, "torn");
    expect_refused(out.data, out.len - 1, APR_INCOMPLETE, "torn");
    buf_free(&out);
    free(d);
}
END_TEST

START_TEST(test_every_byte_flip)
{
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x5a};
    static const size_t sizes[] = {0, 300};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        frame_header_t h;
        uint8_t *d = make_data(sizes[s], 0);
        buf_t out;

        header_init(&h, 3);
        buf_init(&out);
        encode_ok(&h, d, sizes[s], &out);
        for (size_t i = 0; i < out.len; i++)
            for (size_t m = 0; m < sizeof masks; m++) {
                frame_header_t ph;
                uint8_t *data = NULL;
                size_t dlen = 0, flen = 0;
                abbey_err_t err;
                apr_status_t rv;

                out.data[i] ^= masks[m];
                rv = frame_record(out.data, out.len, pool, &ph, &data, &dlen, &flen, &err);
                ck_assert_msg(rv == APR_EINVAL || rv == APR_INCOMPLETE,
                              "flip 0x%02x at byte %zu of %zu not detected (rv %d)", masks[m], i,
                              out.len, rv);
                ck_assert_ptr_null(data);
                ck_assert_int_ne(frame_peek(out.data, out.len, NULL, NULL, &err), APR_SUCCESS);
                out.data[i] ^= masks[m];
            }
        expect_record(out.data, out.len, &h, d, sizes[s]);
        buf_free(&out);
        free(d);
    }
}
END_TEST

/* ---- records and partials do not mix ------------------------------------------ */

START_TEST(test_decode_refuses_record)
{
    partial_t *into = partial_create(job, pool);
    frame_header_t h, got;
    buf_t out;
    abbey_err_t err;
    size_t flen = 777;
    const char *json = "{\"kind\": \"lease\"}";

    header_init(&h, 4);
    strcpy(h.job, job->name); /* even for the right job */
    into->lines = 9;
    buf_init(&out);
    encode_ok(&h, json, strlen(json), &out);
    memset(&got, 0, sizeof got);
    err.msg[0] = '\0';
    ck_assert_int_eq(frame_decode(out.data, out.len, job, &got, into, &flen, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "frame is a state record, not a partial") != NULL, "%s", err.msg);
    ck_assert_uint_eq(flen, 777);
    ck_assert_uint_eq(got.round, 0);
    ck_assert_uint_eq(into->lines, 9);
    ck_assert_uint_eq(ptable_count(into->tables[0]), 0);
    buf_free(&out);
    partial_destroy(into);
}
END_TEST

START_TEST(test_record_refuses_partial)
{
    partial_t *p = partial_create(job, pool), *into = partial_create(job, pool);
    frame_header_t h, got;
    buf_t out;
    abbey_err_t err;
    size_t flen = 0;

    header_init(&h, 5);
    h.flags = FRAME_FLAG_RECORD; /* the encoder ignores it */
    buf_init(&out);
    ck_assert_msg(frame_encode(&h, p, NULL, &out, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert_uint_eq(out.data[5], 0);
    expect_refused(out.data, out.len, APR_EINVAL, "partial, not a state record");
    ck_assert_int_eq(frame_peek(out.data, out.len, &got, &flen, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.flags, 0);
    ck_assert_uint_eq(flen, out.len);
    ck_assert_msg(frame_decode(out.data, out.len, job, NULL, into, NULL, &err) == APR_SUCCESS, "%s",
                  err.msg);
    buf_free(&out);
    partial_destroy(p);
    partial_destroy(into);
}
END_TEST

static void fix_crc(buf_t *f)
{
    uint32_t c = (uint32_t)crc32(0L, f->data, (uInt)(f->len - 4));
    for (int i = 0; i < 4; i++)
        f->data[f->len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

START_TEST(test_unknown_flags)
{
    static const uint8_t bad[] = {0x02, 0x03, 0x80, 0xff};
    partial_t *into = partial_create(job, pool);
    frame_header_t h;
    buf_t out;
    abbey_err_t err;

    header_init(&h, 6);
    strcpy(h.job, job->name);
    buf_init(&out);
    encode_ok(&h, "{}", 2, &out);
    for (size_t i = 0; i < sizeof bad; i++) {
        out.data[5] = bad[i];
        fix_crc(&out);
        expect_refused(out.data, out.len, APR_EINVAL, "flags byte");
        err.msg[0] = '\0';
        ck_assert_int_eq(frame_peek(out.data, out.len, NULL, NULL, &err), APR_EINVAL);
        ck_assert_msg(strstr(err.msg, "flags byte") != NULL, "%s", err.msg);
        ck_assert_int_eq(frame_decode(out.data, out.len, job, NULL, into, NULL, &err), APR_EINVAL);
        /* refused from the 6th byte on, before the rest is there */
        ck_assert_int_eq(frame_peek(out.data, 6, NULL, NULL, &err), APR_EINVAL);
    }
    /* the reserved bytes stay reserved */
    out.data[5] = FRAME_FLAG_RECORD;
    out.data[7] = 1;
    fix_crc(&out);
    expect_refused(out.data, out.len, APR_EINVAL, "reserved");
    out.data[7] = 0;
    fix_crc(&out);
    expect_record(out.data, out.len, &h, (const uint8_t *)"{}", 2);
    buf_free(&out);
    partial_destroy(into);
}
END_TEST

/* A partial frame claiming an empty payload stays corrupt; a record whose
 * payload does not inflate to U is refused. */
START_TEST(test_lengths)
{
    frame_header_t h;
    buf_t out;

    header_init(&h, 7);
    buf_init(&out);
    encode_ok(&h, "", 0, &out);
    ck_assert_uint_eq(out.data[16] | out.data[17] | out.data[18] | out.data[19], 0);
    out.data[5] = 0; /* the same bytes as a partial with U = 0 */
    fix_crc(&out);
    expect_refused(out.data, out.len, APR_EINVAL, "uncompressed length 0 is impossible");
    out.data[5] = FRAME_FLAG_RECORD;
    out.data[16] = 1; /* U = 1, the stream inflates to 0 */
    fix_crc(&out);
    expect_refused(out.data, out.len, APR_EINVAL, "inflates to 0 bytes, header says 1");
    buf_reset(&out);
    encode_ok(&h, "abcdef", 6, &out);
    out.data[16] = 5; /* U = 5: the stream has more */
    fix_crc(&out);
    expect_refused(out.data, out.len, APR_EINVAL, "inflates to more than");
    buf_free(&out);
}
END_TEST

START_TEST(test_encode_limits)
{
    frame_header_t h;
    buf_t out;
    abbey_err_t err;
    static const uint8_t one = 1;

    header_init(&h, 8);
    buf_init(&out);
    buf_put(&out, "keep", 4);
    /* too long: refused before the data is read */
    ck_assert_int_eq(frame_encode_record(&h, &one, (size_t)FRAME_MAX_RAW + 1, &out, &err),
                     APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "exceeds") != NULL, "%s", err.msg);
    ck_assert_uint_eq(out.len, 4);
    memset(h.master, 'x', sizeof h.master); /* no NUL within the limit */
    ck_assert_int_eq(frame_encode_record(&h, &one, 1, &out, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "master name") != NULL, "%s", err.msg);
    ck_assert_uint_eq(out.len, 4);
    ck_assert_int_eq(memcmp(out.data, "keep", 4), 0);
    buf_free(&out);
}
END_TEST

static Suite *frame_record_suite(void)
{
    Suite *su = suite_create("frame_record");
    TCase *tc = tcase_create("round trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip_sizes);
    tcase_add_test(tc, test_back_to_back);
    tcase_add_test(tc, test_encode_limits);
    suite_add_tcase(su, tc);

    tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_torn_prefixes);
    tcase_add_test(tc, test_torn_big);
    tcase_add_test(tc, test_every_byte_flip);
    tcase_add_test(tc, test_lengths);
    suite_add_tcase(su, tc);

    tc = tcase_create("kinds");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_decode_refuses_record);
    tcase_add_test(tc, test_record_refuses_partial);
    tcase_add_test(tc, test_unknown_flags);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    int failed = check_run(frame_record_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
