/* check_frame_v2.c - unit tests for compact frames (frame.h, version 2: rules/frame_payload.c):
 * an old frame still decoded, the bytes written and their order, distinct derived from
 * distinct_exact through a whole frame, the fall back to version 1 for a partial too
 * compressible for the decoder's budget, and version 2 frames forged around hand-made payloads
 * (keys out of order or sharing too much, key bytes past the budget, derived states from the
 * wrong value, broken dictionaries and zstd streams), every one refused with its reason and
 * the destination partial unchanged.
 *
 * Oracles: the version 1 encoder's own bytes (tests/fixture_frame_v1.h) against the same lines
 * fed now; every state's version 1 encoding (agg_encode, canonical) for "the same state"; the
 * bytes each test forged. The job and lines are tests/fixture_frame.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <apr_general.h>

#include "check_run.h"
#include "frame.h"
#include "frame_int.h"
#include "rules.h"
#include "value.h"

#define FIXTURE_SUITE "check_frame_v2"
#include "fixture_frame.h"
#include "fixture_frame_v1.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Every state of every row of p and q, by key, as version 1 bytes: equal. */
static void assert_same_states(const partial_t *p, const partial_t *q)
{
    buf_t a, b;
    buf_init(&a);
    buf_init(&b);
    for (int e = 0; e < NENT; e++) {
        const ptable_t *t = p->tables[e], *u = q->tables[e];
        const ptable_row_t *row;
        size_t cur = 0;
        ck_assert_uint_eq(ptable_count(t), ptable_count(u));
        while ((row = ptable_next(t, &cur)) != NULL) {
            const ptable_row_t *other = ptable_find(u, row->key, row->klen, row->hash);
            ck_assert_ptr_nonnull(other);
            for (int v = 0; v < J.ent[e].nvalues; v++) {
                buf_reset(&a);
                buf_reset(&b);
                agg_encode(&J.specs[e][v], row->state + ptable_offset(t, v), &a);
                agg_encode(&J.specs[e][v], other->state + ptable_offset(u, v), &b);
                ck_assert_uint_eq(a.len, b.len);
                ck_assert_msg(memcmp(a.data, b.data, a.len) == 0, "entry %s value %s differs",
                              J.ent[e].name, J.values[e][v].name);
            }
        }
    }
    buf_free(&a);
    buf_free(&b);
}

/* Every table of p accounts the heap parts of its states as they measure themselves
 * (ptable.h): what a decoder allocated was noted. */
static void assert_heap_accounted(const partial_t *p)
{
    for (int e = 0; e < NENT; e++) {
        const ptable_t *t = p->tables[e];
        const ptable_row_t *row;
        size_t cur = 0, sum = 0;
        while ((row = ptable_next(t, &cur)) != NULL)
            sum += ptable_row_heap(t, row);
        ck_assert_uint_eq(ptable_heap(t), sum);
    }
}

/* ---- versions ----------------------------------------------------------------- */

START_TEST(test_old_frame_decoded)
{
    partial_t *want = partial_create(&J.job, pool), *got = partial_create(&J.job, pool);
    frame_header_t h, h2;
    buf_t both, f2;
    size_t flen;
    abbey_err_t err;
    char *fw, *fg;

    feed(want, 0, FRAME_V1_LINES);
    ck_assert_int_eq(frame_peek(frame_v1, sizeof frame_v1, &h, &flen, &err), APR_SUCCESS);
    ck_assert_uint_eq(h.version, 1);
    ck_assert_uint_eq(flen, sizeof frame_v1);
    ck_assert_msg(frame_decode(frame_v1, sizeof frame_v1, &J.job, &h, got, &flen, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    ck_assert_uint_eq(h.lines, FRAME_V1_LINES);
    ck_assert_uint_eq(h.round, 42);
    fw = fingerprint(want);
    fg = fingerprint(got);
    ck_assert_str_eq(fg, fw);
    assert_same_states(want, got);
    free(fg);
    /* a journal or spool holding both versions, back to back */
    buf_init(&both);
    buf_init(&f2);
    encode_ok(want, NULL, &h2, &f2);
    ck_assert_uint_eq(f2.data[4], 2);
    buf_put(&both, frame_v1, sizeof frame_v1);
    buf_put(&both, f2.data, f2.len);
    partial_clear(got);
    ck_assert_int_eq(frame_decode(both.data, both.len, &J.job, NULL, got, &flen, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(frame_decode(both.data + flen, both.len - flen, &J.job, &h2, got, NULL, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(h2.version, 2);
    ck_assert_uint_eq(got->lines, 2 * FRAME_V1_LINES);
    free(fw);
    buf_free(&both);
    buf_free(&f2);
}
END_TEST

/* Lines [0, n) fed in chunks of step, last chunk first. */
static void feed_backwards(partial_t *p, long n, long step)
{
    for (long first = (n - 1) / step * step; first >= 0; first -= step)
        feed(p, first, first + step <= n ? step : n - first);
}

START_TEST(test_written_in_key_order)
{
    partial_t *a = partial_create(&J.job, pool), *b = partial_create(&J.job, pool),
              *c = partial_create(&J.job, pool);
    frame_header_t h;
    buf_t fa, fb, fc;
    abbey_err_t err;

    feed_backwards(a, 3000, 7);
    ck_assert_int_eq(partial_merge(b, a, NULL), APR_SUCCESS); /* the rows in a's order */
    buf_init(&fa);
    buf_init(&fb);
    buf_init(&fc);
    encode_ok(a, NULL, &h, &fa);
    encode_ok(b, NULL, &h, &fb);
    ck_assert_uint_eq(fa.data[4], 2);
    ck_assert_int_eq(frame_decode(fa.data, fa.len, &J.job, NULL, c, NULL, &err), APR_SUCCESS);
    assert_same_states(a, c);
    assert_heap_accounted(c);
    encode_ok(c, NULL, &h, &fc); /* the rows in the frame's order */
    /* the same rows and states, inserted in other orders: the same bytes */
    ck_assert_uint_eq(fa.len, fb.len);
    ck_assert(memcmp(fa.data, fb.data, fa.len) == 0);
    ck_assert_uint_eq(fa.len, fc.len);
    ck_assert(memcmp(fa.data, fc.data, fa.len) == 0);
    buf_free(&fa);
    buf_free(&fb);
    buf_free(&fc);
}
END_TEST

/* pages' visitors and users counting the same values (users' cap raised past the sparse
 * distinct's size), so that every visitors state is derived from users: 200 pages seeing
 * visitors of a pool of 300 (sparse sets sharing their members), and a page seeing 2,000
 * others (dense). */
static void feed_same_values(partial_t *p, long n, int visitors)
{
    char ip[32], path[16];
    buf_t k;
    buf_init(&k);
    for (long i = 0; i < n + 2000; i++) {
        int len = i < n ? snprintf(ip, sizeof ip, "10.0.%ld", (i * 37 + i / 200) % 300)
                        : snprintf(ip, sizeof ip, "10.9.%ld", i);
        int plen = i < n ? snprintf(path, sizeof path, "/p%ld", i % 200)
                         : snprintf(path, sizeof path, "/big");
        value_t vp[4] = {{.kind = VALUE_INT, .i = i % 1000},
                         {.kind = VALUE_STR, .s = ip, .len = (uint32_t)len},
                         {.kind = VALUE_STR, .s = ip, .len = (uint32_t)len},
                         {.kind = VALUE_INT, .i = i % 1000}};
        if (!visitors)
            vp[1].kind = VALUE_NULL;
        buf_reset(&k);
        put_s(&k, path, (size_t)plen);
        put_int(&k, VALUE_TIME, 1431857100);
        put_int(&k, VALUE_INT, 200);
        update(p, E_PAGES, &k, vp);
    }
    p->lines += (uint64_t)n + 2000;
    buf_free(&k);
}

START_TEST(test_derived_distinct)
{
    partial_t *p = partial_create(&J.job, pool), *q = partial_create(&J.job, pool),
              *none = partial_create(&J.job, pool);
    frame_header_t h;
    buf_t f, g, raw, z;
    abbey_err_t err;
    uint64_t weight;
    uLongf zlen;

    set_value(&J.ent[E_PAGES], 2, "users", AGG_DISTINCT_EXACT, 0, 100000);
    feed_same_values(p, 5000, 1);
    feed_same_values(none, 5000, 0);
    buf_init(&f);
    buf_init(&g);
    buf_init(&raw);
    buf_init(&z);
    encode_ok(p, NULL, &h, &f);
    ck_assert_int_eq(frame_decode(f.data, f.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    assert_same_states(p, q);
    assert_heap_accounted(q);
    /* visitors cost next to nothing: the frame is hardly bigger than one whose visitors saw
     * nothing (written out, their 7,000 members and 2,000 registers would take kilobytes) */
    encode_ok(none, NULL, &h, &g);
    ck_assert_msg(f.len < g.len + 1000, "%zu bytes, %zu without visitors", f.len, g.len);
    /* and a version 1 payload of the same partial, deflated as version 1 did, is bigger */
    ck_assert_int_eq(frame_payload_put(&raw, p, NULL, 1, &weight, &err), APR_SUCCESS);
    zlen = compressBound((uLong)raw.len);
    buf_reserve(&z, zlen);
    ck_assert_int_eq(compress2(z.data, &zlen, raw.data, (uLong)raw.len, 1), Z_OK);
    ck_assert_msg(le32(f.data + 12) < zlen, "version 2 payload %u bytes, version 1 %lu",
                  le32(f.data + 12), (unsigned long)zlen);
    buf_free(&f);
    buf_free(&g);
    buf_free(&raw);
    buf_free(&z);
}
END_TEST

/* A frame of the header of an empty partial's frame and this raw payload, compressed as
 * version (1: zlib, 2: zstd) says, with the right lengths and CRC. */
static void forge(buf_t *out, int version, const uint8_t *raw, size_t n)
{
    partial_t *empty = partial_create(&J.job, pool);
    frame_header_t h;
    buf_t model;
    size_t at, zlen;
    uint32_t hl;

    buf_init(&model);
    encode_ok(empty, NULL, &h, &model);
    hl = le32(model.data + 8);
    buf_reset(out);
    buf_put(out, model.data, 20 + hl);
    out->data[4] = (uint8_t)version;
    at = out->len;
    if (version == 2) {
        zlen = ZSTD_compressBound(n);
        buf_reserve(out, zlen);
        zlen = ZSTD_compress(out->data + at, zlen, raw, n, 3);
        ck_assert(!ZSTD_isError(zlen));
    } else {
        uLongf zl = compressBound((uLong)n);
        buf_reserve(out, zl);
        ck_assert_int_eq(compress2(out->data + at, &zl, raw, (uLong)n, 6), Z_OK);
        zlen = zl;
    }
    out->len += zlen;
    for (int i = 0; i < 4; i++) {
        out->data[12 + i] = (uint8_t)(zlen >> (8 * i));
        out->data[16 + i] = (uint8_t)(n >> (8 * i));
    }
    buf_put_u32(out, (uint32_t)crc32(0L, out->data, (uInt)out->len));
    buf_free(&model);
}

static void expect_refused(const buf_t *f, const char *reason)
{
    abbey_err_t err;
    err.msg[0] = '\0';
    ck_assert_int_eq(frame_decode(f->data, f->len, &J.job, NULL, into, NULL, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, reason) != NULL, "expected '%s' in '%s'", reason, err.msg);
    assert_into_unchanged();
}

START_TEST(test_too_compressible_falls_back)
{
    partial_t *p = partial_create(&J.job, pool), *q = partial_create(&J.job, pool);
    frame_header_t h, got;
    buf_t f, raw;
    abbey_err_t err;
    uint64_t weight;
    char name[16];

    into_init();
    /* 4,000 pages each holding the same 1,000 users: 4,000,000 members in all, whose indices
     * (gaps of 0) and rows (alike but for a byte of the key) compress to almost nothing */
    set_value(&J.ent[E_PAGES], 2, "users", AGG_DISTINCT_EXACT, 0, 1000);
    for (int k = 0; k < 4000; k++) {
        buf_t key;
        buf_init(&key);
        put_s(&key, "/p", 2);
        put_int(&key, VALUE_TIME, 1431857100 + k);
        put_int(&key, VALUE_INT, 200);
        for (int u = 0; u < 1000; u++) {
            value_t vp[4] = {{.kind = VALUE_NULL},
                             {.kind = VALUE_NULL},
                             {.kind = VALUE_NULL},
                             {.kind = VALUE_NULL}};
            int len = snprintf(name, sizeof name, "u%d", u);
            vp[2] = (value_t){.kind = VALUE_STR, .s = name, .len = (uint32_t)len};
            update(p, E_PAGES, &key, vp);
        }
        buf_free(&key);
    }
    buf_init(&f);
    buf_init(&raw);
    encode_ok(p, NULL, &h, &f);
    ck_assert_int_eq(frame_peek(f.data, f.len, &got, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.version, 1);
    ck_assert_int_eq(frame_decode(f.data, f.len, &J.job, NULL, q, NULL, &err), APR_SUCCESS);
    assert_same_states(p, q);
    /* the same partial as a version 2 frame: refused */
    ck_assert_int_eq(frame_payload_put(&raw, p, NULL, 2, &weight, &err), APR_SUCCESS);
    ck_assert_uint_ge(weight, 4000000);
    forge(&f, 2, raw.data, raw.len);
    ck_assert_msg(weight > (uint64_t)le32(f.data + 12) * 1032 / 8,
                  "the premise: %llu units for %u compressed bytes", (unsigned long long)weight,
                  le32(f.data + 12));
    expect_refused(&f, "more than the frame's size allows");
    buf_free(&f);
    buf_free(&raw);
    into_done();
}
END_TEST

/* ---- forged version 2 payloads ---------------------------------------------------- */

/* The start of a payload: an empty dictionary, group traffic, nentries entries, entry
 * by_status with its four kinds and nrows rows. */
static void start_status(buf_t *b, uint64_t nrows)
{
    buf_reset(b);
    buf_put_varint(b, 0); /* no hashes */
    buf_put_varint(b, 1);
    buf_put_str(b, "traffic", 7);
    buf_put_varint(b, 1);
    buf_put_str(b, "by_status", 9);
    buf_put_varint(b, 4);
    for (int v = 0; v < 4; v++)
        buf_put_u8(b, (uint8_t)J.specs[E_STATUS][v].kind);
    buf_put_varint(b, nrows);
}

/* The start of a payload: an empty dictionary, group traffic, entry pages with its kinds and
 * nrows rows. */
static void start_pages(buf_t *b, uint64_t nrows)
{
    buf_reset(b);
    buf_put_varint(b, 0);
    buf_put_varint(b, 1);
    buf_put_str(b, "traffic", 7);
    buf_put_varint(b, 1);
    buf_put_str(b, "pages", 5);
    buf_put_varint(b, 4);
    for (int v = 0; v < 4; v++) {
        buf_put_u8(b, (uint8_t)J.specs[E_PAGES][v].kind);
        if (J.specs[E_PAGES][v].kind == AGG_PERCENTILE)
            buf_put_f64(b, J.specs[E_PAGES][v].pct);
        else if (J.specs[E_PAGES][v].kind == AGG_DISTINCT_EXACT)
            buf_put_varint(b, J.specs[E_PAGES][v].cap);
    }
    buf_put_varint(b, nrows);
}

/* One by_status row: key (status code), sharing same bytes with the previous key, then
 * states of one line. */
static void status_row(buf_t *b, int64_t code, size_t same)
{
    buf_t key;
    uint64_t st[8];
    buf_init(&key);
    put_int(&key, VALUE_INT, code);
    buf_put_varint(b, same);
    buf_put_str(b, key.data + same, key.len - same);
    for (int v = 0; v < 4; v++) {
        agg_spec_t *s = &J.specs[E_STATUS][v];
        agg_init(s, st);
        agg_update(s, st, s->kind == AGG_COUNT ? NULL : &(value_t){.kind = VALUE_INT, .i = 5});
        agg_encode(s, st, b);
        agg_release(s, st);
    }
    buf_free(&key);
}

static void refuse_payload(const buf_t *raw, const char *reason)
{
    buf_t f;
    buf_init(&f);
    forge(&f, 2, raw->data, raw->len);
    expect_refused(&f, reason);
    buf_free(&f);
}

START_TEST(test_forged_keys)
{
    buf_t b;
    abbey_err_t err;
    partial_t *ok = partial_create(&J.job, pool);

    into_init();
    buf_init(&b);
    /* in order (keys are compared as bytes: 200 and 201 differ in their first byte after
     * the tag), the second sharing the tag: accepted */
    start_status(&b, 2);
    status_row(&b, 200, 0);
    status_row(&b, 201, 1);
    {
        buf_t f;
        buf_init(&f);
        forge(&f, 2, b.data, b.len);
        ck_assert_msg(frame_decode(f.data, f.len, &J.job, NULL, ok, NULL, &err) == APR_SUCCESS,
                      "%s", err.msg);
        ck_assert_uint_eq(ptable_count(ok->tables[E_STATUS]), 2);
        buf_free(&f);
    }
    start_status(&b, 2);
    status_row(&b, 201, 0);
    status_row(&b, 200, 1);
    refuse_payload(&b, "row 1: keys are not in order");
    start_status(&b, 2);
    status_row(&b, 200, 0);
    status_row(&b, 200, 9);
    refuse_payload(&b, "row 1: keys are not in order");
    start_status(&b, 2);
    status_row(&b, 200, 0);
    status_row(&b, 200, 3);
    refuse_payload(&b, "row 1: keys are not in order");
    start_status(&b, 1);
    buf_put_varint(&b, 1); /* the first key shares a byte with none */
    buf_put_str(&b, "\x01", 1);
    refuse_payload(&b, "row 0: key shares 1 bytes with a previous key of 0");
    start_status(&b, 2);
    status_row(&b, 200, 0);
    buf_put_varint(&b, 10);
    buf_put_str(&b, "", 0);
    refuse_payload(&b, "row 1: key shares 10 bytes with a previous key of 9");
    start_status(&b, 2);
    status_row(&b, 200, 0);
    buf_put_varint(&b, 9);
    buf_put_str(&b, "\x01", 1); /* in order, but not one key column */
    refuse_payload(&b, "row 1: key is not 1 valid key columns");
    buf_free(&b);
    into_done();
}
END_TEST

START_TEST(test_refused_into_empty)
{
    partial_t *empty = partial_create(&J.job, pool), *dst = partial_create(&J.job, pool),
              *p = partial_create(&J.job, pool);
    char *want = fingerprint(empty), *got;
    frame_header_t h;
    buf_t b, f;
    abbey_err_t err;

    /* an empty destination is decoded into directly (frame.c): a frame refused after its
     * first rows went in leaves it empty all the same, and it takes the next frame */
    buf_init(&b);
    buf_init(&f);
    start_status(&b, 3);
    status_row(&b, 200, 0);
    status_row(&b, 201, 1);
    status_row(&b, 200, 1);
    forge(&f, 2, b.data, b.len);
    ck_assert_int_eq(frame_decode(f.data, f.len, &J.job, NULL, dst, NULL, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "row 2: keys are not in order"));
    ck_assert_int_eq(partial_is_empty(dst), 1);
    got = fingerprint(dst);
    ck_assert_str_eq(got, want);
    free(got);
    feed(p, 0, 300);
    buf_reset(&f);
    encode_ok(p, NULL, &h, &f);
    ck_assert_int_eq(frame_decode(f.data, f.len, &J.job, NULL, dst, NULL, &err), APR_SUCCESS);
    assert_same_states(p, dst);
    ck_assert_uint_eq(dst->lines, 300);
    ck_assert_int_eq(partial_is_empty(dst), 0);
    free(want);
    buf_free(&b);
    buf_free(&f);
}
END_TEST

START_TEST(test_forged_key_bytes_budget)
{
    enum { PATH = 100000, ROWS = 200 };
    char *path = malloc(PATH);
    buf_t b, key;
    uint64_t st[64];

    into_init();
    memset(path, 'a', PATH);
    buf_init(&b);
    buf_init(&key);
    start_pages(&b, ROWS);
    /* each key: a path of 100 KB (shared) and a time whose first byte grows: 20 MB of keys
     * from a few bytes each */
    for (int r = 0; r < ROWS; r++) {
        size_t same = 0;
        agg_dict_t *d = agg_dict_create(); /* empty: the states hold no hash */
        buf_reset(&key);
        put_s(&key, path, PATH);
        put_int(&key, VALUE_TIME, 0x55586a00 + r);
        put_int(&key, VALUE_INT, 200);
        if (r)
            same = key.len - 17; /* all but the time's 8 bytes and the status */
        buf_put_varint(&b, same);
        buf_put_str(&b, key.data + same, key.len - same);
        for (int v = 0; v < 4; v++) {
            agg_spec_t *s = &J.specs[E_PAGES][v];
            ck_assert_uint_le(agg_state_size(s), sizeof st);
            agg_init(s, st);
            ck_assert_int_eq(agg_encode_dict(s, st, d, &b), 0);
            agg_release(s, st);
        }
        agg_dict_destroy(d);
    }
    refuse_payload(&b, "keys are longer than the frame's size allows");
    free(path);
    buf_free(&b);
    buf_free(&key);
    into_done();
}
END_TEST

/* A pages payload of one row whose visitors (value 1) is written as derived from value from. */
static void derived_payload(buf_t *b, int from)
{
    uint64_t st[64];
    buf_t key;
    agg_dict_t *d = agg_dict_create();

    buf_init(&key);
    start_pages(b, 1);
    put_s(&key, "/x", 2);
    put_int(&key, VALUE_TIME, 1431857100);
    put_int(&key, VALUE_INT, 200);
    buf_put_varint(b, 0);
    buf_put_str(b, key.data, key.len);
    for (int v = 0; v < 4; v++) {
        agg_spec_t *s = &J.specs[E_PAGES][v];
        agg_init(s, st);
        if (v == 1)
            agg_encode_derived(s, from, b);
        else
            ck_assert_int_eq(agg_encode_dict(s, st, d, b), 0);
        agg_release(s, st);
    }
    agg_dict_destroy(d);
    buf_free(&key);
}

START_TEST(test_forged_derived)
{
    buf_t b, f;
    partial_t *ok = partial_create(&J.job, pool);
    abbey_err_t err;

    into_init();
    buf_init(&b);
    buf_init(&f);
    derived_payload(&b, 2); /* from users: accepted, an empty set */
    forge(&f, 2, b.data, b.len);
    ck_assert_msg(frame_decode(f.data, f.len, &J.job, NULL, ok, NULL, &err) == APR_SUCCESS, "%s",
                  err.msg);
    derived_payload(&b, 0);
    refuse_payload(&b, "value 'visitors': distinct state cannot be derived from a avg state");
    derived_payload(&b, 1);
    refuse_payload(&b, "is derived from value 1, which is itself derived");
    derived_payload(&b, 4);
    refuse_payload(&b, "is derived from value 4, which is not in the entry");
    derived_payload(&b, 40000);
    refuse_payload(&b, "which is not in the entry");
    buf_free(&b);
    buf_free(&f);
    into_done();
}
END_TEST

START_TEST(test_forged_streams)
{
    partial_t *p = partial_create(&J.job, pool);
    buf_t raw, f;
    abbey_err_t err;
    uint64_t weight;

    into_init();
    feed(p, 0, 200);
    buf_init(&raw);
    buf_init(&f);
    ck_assert_int_eq(frame_payload_put(&raw, p, NULL, 2, &weight, &err), APR_SUCCESS);
    /* the version says zstd, the payload is zlib */
    forge(&f, 1, raw.data, raw.len);
    f.data[4] = 2;
    {
        uint32_t crc = (uint32_t)crc32(0L, f.data, (uInt)(f.len - 4));
        for (int i = 0; i < 4; i++)
            f.data[f.len - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    expect_refused(&f, "corrupt zstd stream");
    /* a version 2 payload read as version 1 */
    forge(&f, 1, raw.data, raw.len);
    decode_fails(f.data, f.len);
    assert_into_unchanged();
    /* U one less than the stream holds */
    {
        buf_t g;
        uint32_t u;
        buf_init(&g);
        forge(&g, 2, raw.data, raw.len);
        u = le32(g.data + 16) - 1;
        for (int i = 0; i < 4; i++)
            g.data[16 + i] = (uint8_t)(u >> (8 * i));
        u = (uint32_t)crc32(0L, g.data, (uInt)(g.len - 4));
        for (int i = 0; i < 4; i++)
            g.data[g.len - 4 + i] = (uint8_t)(u >> (8 * i));
        expect_refused(&g, "frame payload:");
        buf_free(&g);
    }
    /* a dictionary longer than the payload */
    forge(&f, 2, (const uint8_t *)"\x05\x01\x02\x03", 4);
    expect_refused(&f, "frame payload: dictionary of 5 hashes (3 bytes left");
    buf_free(&raw);
    buf_free(&f);
    into_done();
}
END_TEST

static Suite *frame_v2_suite(void)
{
    Suite *s = suite_create("frame_v2");
    TCase *tc = tcase_create("versions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_old_frame_decoded);
    tcase_add_test(tc, test_written_in_key_order);
    tcase_add_test(tc, test_derived_distinct);
    tcase_add_test(tc, test_too_compressible_falls_back);
    suite_add_tcase(s, tc);
    tc = tcase_create("forged");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_forged_keys);
    tcase_add_test(tc, test_refused_into_empty);
    tcase_add_test(tc, test_forged_key_bytes_budget);
    tcase_add_test(tc, test_forged_derived);
    tcase_add_test(tc, test_forged_streams);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(frame_v2_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
