/* fixture_keys.h - what the max_keys suites share (tests/check_max_keys.c,
 * tests/check_keys_top.c): a row's figures and its path key "/p<n>" read back, the heap walk
 * that checks a table's accounted heap parts, and a frame's payload taken out and put back
 * (frame_payload decompresses it, frame_reframe compresses another in its place with the
 * lengths and the CRC made right again, so that the decoder reads forged bytes as a sound
 * frame; zlib for a version 1 frame, zstd for 2), and a frame rewritten as the version 1
 * encoder writes it (frame_as_v1). Each suite compiles its own copy (everything here is
 * static). */
#ifndef ABBEY_TESTS_FIXTURE_KEYS_H
#define ABBEY_TESTS_FIXTURE_KEYS_H

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "buf.h"
#include "frame_int.h"
#include "ptable.h"
#include "value.h"

/* Value v's figure in row as an integer. */
static uint64_t fig(const ptable_t *t, const ptable_row_t *row, int v)
{
    agg_result_t r;
    agg_result(&ptable_specs(t)[v], row->state + ptable_offset(t, v), &r);
    return strtoull(r.text, NULL, 10);
}

/* The number n of a row keyed by the path "/p<n>" (its key's bytes only: a summary's row may
 * hold an older, longer key's bytes after them). */
static int row_path(const ptable_row_t *row)
{
    buf_reader_t r;
    value_t v;
    int p = 0;
    buf_reader_init(&r, row->key, row->klen);
    ck_assert_int_eq(value_key_get(&r, &v), 0);
    ck_assert(v.kind == VALUE_STR && v.len > 2 && v.len < 12 && memcmp(v.s, "/p", 2) == 0);
    for (uint32_t i = 2; i < v.len; i++)
        p = p * 10 + (v.s[i] - '0');
    return p;
}

/* The heap parts t accounted equal its states' own measure (ptable.h): every row, the
 * overflow row and the folded keys. */
static void assert_heap_walk(const ptable_t *t)
{
    size_t cur = 0, sum = 0;
    const ptable_row_t *row;
    while ((row = ptable_next(t, &cur)) != NULL)
        sum += ptable_row_heap(t, row);
    if (ptable_overflow(t))
        sum += ptable_row_heap(t, ptable_overflow(t)) +
               agg_heap_bytes(ptable_folded_spec(), ptable_folded_state(t));
    ck_assert_uint_eq(ptable_heap(t), sum);
}

/* The 32-bit little-endian field at offset at of frame f. */
static uint32_t frame_le32(const buf_t *f, size_t at)
{
    return f->data[at] | f->data[at + 1] << 8 | f->data[at + 2] << 16 |
           (uint32_t)f->data[at + 3] << 24;
}

/* The raw (decompressed) payload of frame f into raw. */
static void frame_payload(const buf_t *f, buf_t *raw)
{
    size_t ulen = frame_le32(f, 16), zlen = frame_le32(f, 12);
    const uint8_t *z = f->data + 20 + frame_le32(f, 8);
    buf_reset(raw);
    buf_reserve(raw, ulen + 1);
    if (f->data[4] == 2) {
        ck_assert_uint_eq(ZSTD_decompress(raw->data, ulen, z, zlen), ulen);
    } else {
        uLongf ul = ulen;
        ck_assert_int_eq(uncompress(raw->data, &ul, z, zlen), Z_OK);
        ck_assert_uint_eq(ul, ulen);
    }
    raw->len = ulen;
}

/* f with the payload raw instead (compressed as f's version says; lengths and CRC made
 * right again). */
static void frame_reframe(buf_t *f, const buf_t *raw)
{
    size_t zlen = f->data[4] == 2 ? ZSTD_compressBound(raw->len) : compressBound((uLong)raw->len);
    buf_t out;
    buf_init(&out);
    buf_put(&out, f->data, 20 + frame_le32(f, 8));
    buf_reserve(&out, zlen + 4);
    if (f->data[4] == 2) {
        zlen = ZSTD_compress(out.data + out.len, zlen, raw->data, raw->len, 3);
        ck_assert(!ZSTD_isError(zlen));
    } else {
        uLongf zl = zlen;
        ck_assert_int_eq(compress2(out.data + out.len, &zl, raw->data, (uLong)raw->len, 1), Z_OK);
        zlen = zl;
    }
    out.len += zlen;
    for (int i = 0; i < 4; i++) {
        out.data[12 + i] = (uint8_t)(zlen >> (8 * i));
        out.data[16 + i] = (uint8_t)(raw->len >> (8 * i));
    }
    buf_put_u32(&out, (uint32_t)crc32(0L, out.data, (uInt)out.len));
    buf_free(f);
    *f = out;
}

/* f, a frame of p (every group) as frame_encode wrote it, rewritten as the version 1 encoder
 * writes p: the same header, the version 1 payload (frame_int.h), zlib. */
static void frame_as_v1(buf_t *f, const partial_t *p)
{
    buf_t raw;
    uint64_t weight;
    abbey_err_t err;
    buf_init(&raw);
    ck_assert_int_eq(frame_payload_put(&raw, p, NULL, 1, &weight, &err), APR_SUCCESS);
    f->data[4] = 1;
    frame_reframe(f, &raw);
    buf_free(&raw);
}

#endif
