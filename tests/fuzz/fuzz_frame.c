/* fuzz_frame.c - libFuzzer target for the frame decoder (rules/frame.c, rules/frame_payload.c).
 *
 * Arbitrary bytes are decoded against a hand-built job (two groups, entries
 * using every aggregate kind; by_status keeps 2 keys, the rest folding into its
 * overflow row; pages has the hidden line count; heavy is a top-2 summary of 3
 * rows). The first input byte picks how the rest is used:
 *   0  as a byte stream of frames: frame_peek / frame_decode each, stepping by
 *      frame_len, resyncing with frame_resync after a corrupt one;
 *   1  the same, after writing the correct CRC where the lengths say it goes
 *      (so mutations reach the header, zlib/zstd and payload checks);
 *   2  as a raw version 1 payload: the target wraps it in a valid header,
 *      deflates it and adds the CRC (so mutations reach the group / entry /
 *      row / state decoder);
 *   3  as the bytes of a state record: frame_encode_record wraps them;
 *   4  as a raw version 2 payload (frame dictionary, front-coded keys, states
 *      against the dictionary, derived distinct), wrapped with zstd;
 *   5  as a header's range list (frame_ranges.c): the target writes a header of
 *      range [0, 10) of "src" (3 lines, 1 bad, 10 bytes) up to its reasons, then the
 *      bytes, around a payload of no group (so mutations reach every check of a list).
 * Every frame also goes through frame_record: a frame is a partial (frame_decode
 * takes it) or a record (frame_record takes it), never both, and both agree
 * with frame_peek on its length and on a torn one. Every frame that decodes is
 * re-encoded and decoded again, and must give the same rows and results (the
 * overflow rows, folded keys and summaries' floors and errors too), and
 * the second encoding must be the same bytes as the first (a decoded state is
 * the state that was written); every record that reads back is re-encoded and
 * read again, and must give the same header and bytes (abort otherwise). Every
 * header that decodes has its bad lines by reason adding up to bad_lines, and
 * they survive the re-encoding. Every frame that frame_peek takes has ranges
 * (frame_peek_ranges) as a list must be: 1 to FRAME_MAX_RANGES of them, the first the
 * header's, non-empty and not overlapping within a source, their counters adding up
 * to the header's; a decoded frame of several is re-encoded with its list and must give
 * the same ranges back. On an empty corpus directory LLVMFuzzerInitialize writes seed
 * inputs for all six modes (frames of several ranges among them).
 * Build and run: scripts/fuzz.sh frame SECONDS (see docs/FUZZING.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <apr_general.h>

#include "frame.h"
#include "frame_int.h"
#include "fuzz_seeds.h"
#include "ptable_top.h"
#include "rules.h"
#include "value.h"

enum { NENT = 4, NSPECS = 5 };

static rules_job_t job;
static rules_group_t groups[2];
static rules_entry_t ent[NENT];
static rules_entry_t *eptr[NENT];
static rules_value_t values[NENT][NSPECS];
static agg_spec_t specs[NENT][NSPECS];
static apr_pool_t *root;

static void set_value(int e, int v, const char *name, agg_kind_t k, double pct, uint32_t cap)
{
    values[e][v].name = name;
    values[e][v].spec = (agg_spec_t){.kind = k, .pct = pct, .cap = cap};
    specs[e][v] = values[e][v].spec;
}

static void job_init(void)
{
    static const char *names[NENT] = {"by_status", "pages", "total", "heavy"};
    static const int nkeys[NENT] = {1, 2, 0, 1}, nvalues[NENT] = {4, 4, 2, 2};
    static const uint64_t max_keys[NENT] = {2, 1000, 1000, 0};
    for (int i = 0; i < NENT; i++) {
        eptr[i] = &ent[i];
        ent[i] = (rules_entry_t){.name = names[i],
                                 .index = i,
                                 .nkeys = nkeys[i],
                                 .nvalues = nvalues[i],
                                 .nspecs = nvalues[i] + (i == 1), /* pages: the hidden count */
                                 .lines_spec = i == 1   ? 4
                                               : i == 3 ? -1
                                                        : 0,
                                 .max_keys = max_keys[i],
                                 .values = values[i],
                                 .specs = specs[i],
                                 .group = &groups[i >= 2]};
    }
    ent[3].top_k = 2;
    ent[3].top_by = 0;
    ent[3].top_m = 3;
    set_value(0, 0, "hits", AGG_COUNT, 0, 0);
    set_value(0, 1, "bytes", AGG_SUM, 0, 0);
    set_value(0, 2, "min_ms", AGG_MIN, 0, 0);
    set_value(0, 3, "max_ms", AGG_MAX, 0, 0);
    set_value(1, 0, "avg_bytes", AGG_AVG, 0, 0);
    set_value(1, 1, "visitors", AGG_DISTINCT, 0, 0);
    set_value(1, 2, "users", AGG_DISTINCT_EXACT, 0, 20);
    set_value(1, 3, "p95", AGG_PERCENTILE, 95, 0);
    set_value(2, 0, "hits", AGG_COUNT, 0, 0);
    set_value(2, 1, "p50", AGG_PERCENTILE, 50, 0);
    specs[1][4] = (agg_spec_t){.kind = AGG_COUNT}; /* the hidden count */
    set_value(3, 0, "n", AGG_COUNT, 0, 0);
    set_value(3, 1, "sz", AGG_SUM, 0, 0);
    groups[0] =
        (rules_group_t){.name = "traffic", .index = 0, .weight = 1, .nentries = 2, .entries = eptr};
    groups[1] = (rules_group_t){
        .name = "clients", .index = 1, .weight = 1, .nentries = 2, .entries = eptr + 2};
    job = (rules_job_t){
        .name = "web", .ngroups = 2, .groups = groups, .nentries = NENT, .entries = eptr};
}

static void header_init(frame_header_t *h)
{
    memset(h, 0, sizeof *h);
    h->end = 10;
    h->lines = 3;
    h->bad_lines = 1;
    h->bytes = 10;
    strcpy(h->job, "web");
    strcpy(h->source, "src");
    strcpy(h->slave, "s");
    strcpy(h->master, "m");
}

/* ---- the round-trip oracle ----------------------------------------------- */

/* Bad lines by reason add up to bad_lines (what every decoded header and partial keeps). */
static void reasons_add_up(const uint64_t *bad_by, uint64_t bad_lines)
{
    uint64_t sum = 0;
    for (int r = 0; r < PARTIAL_BAD_N; r++) {
        if (bad_by[r] > bad_lines - sum)
            abort();
        sum += bad_by[r];
    }
    if (sum != bad_lines)
        abort();
}

/* The figures of states x and y of spec s are the same. */
static void same_state(const agg_spec_t *s, const void *x, const void *y)
{
    agg_result_t a, b;
    agg_result(s, x, &a);
    agg_result(s, y, &b);
    if (strcmp(a.text, b.text) != 0 || a.flags != b.flags)
        abort();
}

static void same_row(const ptable_t *a, const ptable_row_t *ra, const ptable_t *b,
                     const ptable_row_t *rb)
{
    for (int v = 0; v < ptable_nspecs(a); v++)
        same_state(&ptable_specs(a)[v], ra->state + ptable_offset(a, v),
                   rb->state + ptable_offset(b, v));
    if (ptable_top_m(a))
        same_state(&ptable_specs(a)[ptable_top_by(a)], ptable_top_error(a, ra),
                   ptable_top_error(b, rb));
}

static void same_tables(const ptable_t *a, const ptable_t *b)
{
    size_t cur = 0;
    const ptable_row_t *ra;
    if (ptable_count(a) != ptable_count(b) || !ptable_overflow(a) != !ptable_overflow(b))
        abort();
    while ((ra = ptable_next(a, &cur)) != NULL) {
        const ptable_row_t *rb = ptable_find(b, ra->key, ra->klen, ra->hash);
        if (!rb)
            abort();
        same_row(a, ra, b, rb);
    }
    if (ptable_overflow(a)) {
        same_row(a, ptable_overflow(a), b, ptable_overflow(b));
        same_state(ptable_folded_spec(), ptable_folded_state(a), ptable_folded_state(b));
    }
    if (ptable_top_m(a))
        same_state(&ptable_specs(a)[ptable_top_by(a)], ptable_top_floor(a), ptable_top_floor(b));
}

static void round_trip(const partial_t *q, apr_pool_t *pool)
{
    frame_header_t h;
    partial_t *r = partial_create(&job, pool);
    abbey_err_t err;
    buf_t out, again;

    header_init(&h);
    frame_header_counts(&h, q);
    buf_init(&out);
    buf_init(&again);
    if (frame_encode(&h, q, NULL, &out, &err) != APR_SUCCESS ||
        frame_decode(out.data, out.len, &job, NULL, r, NULL, &err) != APR_SUCCESS) {
        fprintf(stderr, "re-encoded frame does not decode: %s\n", err.msg);
        abort();
    }
    if (frame_encode(&h, r, NULL, &again, &err) != APR_SUCCESS || again.len != out.len ||
        memcmp(again.data, out.data, out.len) != 0) {
        fprintf(stderr, "a decoded partial encodes to other bytes\n");
        abort();
    }
    buf_free(&again);
    for (int e = 0; e < NENT; e++)
        same_tables(q->tables[e], r->tables[e]);
    if (r->lines != q->lines || r->bad_lines != q->bad_lines || r->bytes != q->bytes ||
        r->regex_limit_hits != q->regex_limit_hits ||
        memcmp(r->bad_by, q->bad_by, sizeof r->bad_by) != 0)
        abort();
    buf_free(&out);
}

static void same_header(const frame_header_t *a, const frame_header_t *b)
{
    if (a->config_hash != b->config_hash || a->round != b->round || a->lease != b->lease ||
        a->nranges != b->nranges || a->start != b->start || a->end != b->end ||
        a->lines != b->lines || a->bad_lines != b->bad_lines || a->bytes != b->bytes ||
        a->flags != b->flags || a->regex_limit_hits != b->regex_limit_hits ||
        memcmp(a->bad_by, b->bad_by, sizeof a->bad_by) != 0 || strcmp(a->job, b->job) ||
        strcmp(a->source, b->source) || strcmp(a->slave, b->slave) || strcmp(a->master, b->master))
        abort();
}

/* A record read back (h, data, n) re-encodes to a record with the same header and bytes. */
static void record_round_trip(const frame_header_t *h, const uint8_t *data, size_t n,
                              apr_pool_t *pool)
{
    frame_header_t h2;
    abbey_err_t err;
    uint8_t *d2;
    size_t n2, flen;
    buf_t out;

    if (h->flags != FRAME_FLAG_RECORD || data[n] != '\0')
        abort();
    buf_init(&out);
    if (frame_encode_record(h, data, n, &out, &err) != APR_SUCCESS ||
        frame_record(out.data, out.len, pool, &h2, &d2, &n2, &flen, &err) != APR_SUCCESS) {
        fprintf(stderr, "re-encoded record does not read back: %s\n", err.msg);
        abort();
    }
    same_header(h, &h2);
    if (n2 != n || flen != out.len || (n && memcmp(d2, data, n) != 0))
        abort();
    buf_free(&out);
}

/* The ranges r of a frame whose header h frame_peek took are a list as frame.h says. */
static void ranges_hold(const frame_header_t *h, const frame_ranges_t *r)
{
    uint64_t lines = 0, bad = 0, bytes = 0;
    if (r->n != h->nranges || r->n < 1 || r->n > FRAME_MAX_RANGES ||
        strcmp(r->r[0].source, h->source) || r->r[0].start != h->start || r->r[0].end != h->end ||
        r->r[0].lease != h->lease)
        abort();
    for (uint32_t i = 0; i < r->n; i++) {
        const frame_range_t *x = &r->r[i];
        if (r->n > 1 && (x->start >= x->end || !x->source[0]))
            abort();
        for (uint32_t k = 0; k < i; k++)
            if (!strcmp(r->r[k].source, x->source) && r->r[k].start < x->end &&
                x->start < r->r[k].end)
                abort();
        lines += x->lines;
        bad += x->bad_lines;
        bytes += x->bytes;
    }
    if (lines != h->lines || bad != h->bad_lines || bytes != h->bytes)
        abort();
}

/* A decoded frame of several ranges (header h, ranges r, its rows in q) encodes with
 * its list, and the list reads back the same. */
static void ranges_round_trip(const frame_header_t *h, const frame_ranges_t *r, const partial_t *q)
{
    frame_header_t hh = *h, ph;
    frame_ranges_t *back = malloc(sizeof *back);
    abbey_err_t err;
    buf_t out;

    buf_init(&out);
    hh.ranges = r;
    if (frame_encode(&hh, q, NULL, &out, &err) != APR_SUCCESS ||
        frame_peek_ranges(out.data, out.len, &ph, back, NULL, &err) != APR_SUCCESS) {
        fprintf(stderr, "a frame of several ranges does not re-encode: %s\n", err.msg);
        abort();
    }
    if (back->n != r->n)
        abort();
    for (uint32_t i = 0; i < r->n; i++)
        if (strcmp(back->r[i].source, r->r[i].source) || back->r[i].lease != r->r[i].lease ||
            back->r[i].start != r->r[i].start || back->r[i].end != r->r[i].end ||
            back->r[i].lines != r->r[i].lines || back->r[i].bad_lines != r->r[i].bad_lines ||
            back->r[i].bytes != r->r[i].bytes)
            abort();
    buf_free(&out);
    free(back);
}

/* ---- modes ---------------------------------------------------------------- */

/* What frame_record says about the frame at b, checked against frame_peek's
 * verdict pv (header ph, length plen) and frame_decode's rv. */
static apr_status_t read_record(const uint8_t *b, size_t len, apr_status_t pv,
                                const frame_header_t *ph, size_t plen, apr_status_t rv,
                                apr_pool_t *pool, size_t *flen)
{
    frame_header_t h;
    abbey_err_t err;
    uint8_t *data = NULL;
    size_t n = 0;
    apr_status_t xv = frame_record(b, len, pool, &h, &data, &n, flen, &err);

    if ((xv == APR_INCOMPLETE) != (pv == APR_INCOMPLETE) || (xv != APR_SUCCESS && data))
        abort();
    if (pv == APR_SUCCESS && ph->flags == 0 && xv != APR_EINVAL)
        abort(); /* a partial is never a record */
    if (pv == APR_SUCCESS && ph->flags == FRAME_FLAG_RECORD && rv != APR_EINVAL)
        abort(); /* a record is never a partial */
    if (xv != APR_SUCCESS) {
        if (err.msg[0] == '\0')
            abort();
        return xv;
    }
    if (pv != APR_SUCCESS || *flen != plen || *flen > len)
        abort();
    same_header(ph, &h);
    record_round_trip(&h, data, n, pool);
    return xv;
}

static void decode_stream(const uint8_t *b, size_t len, apr_pool_t *pool)
{
    size_t pos = 0;
    partial_t *q = partial_create(&job, pool);
    frame_ranges_t *ranges = malloc(sizeof *ranges);
    while (pos < len) {
        frame_header_t h, ph;
        abbey_err_t err;
        size_t flen = 0, plen = 0, xlen = 0;
        apr_status_t pv = frame_peek_ranges(b + pos, len - pos, &ph, ranges, &plen, &err);
        apr_status_t rv = frame_decode(b + pos, len - pos, &job, &h, q, &flen, &err);
        apr_status_t xv = read_record(b + pos, len - pos, pv, &ph, plen, rv, pool, &xlen);
        if (pv == APR_SUCCESS) {
            reasons_add_up(ph.bad_by, ph.bad_lines);
            ranges_hold(&ph, ranges);
        }
        if (rv == APR_SUCCESS) {
            reasons_add_up(h.bad_by, h.bad_lines);
            reasons_add_up(q->bad_by, q->bad_lines);
            if (pv != APR_SUCCESS || flen != plen || flen == 0 || flen > len - pos ||
                xv == APR_SUCCESS || ph.flags != 0)
                abort();
            round_trip(q, pool);
            if (h.nranges > 1)
                ranges_round_trip(&h, ranges, q);
            pos += flen;
        } else if (xv == APR_SUCCESS) {
            pos += xlen;
        } else if (rv == APR_INCOMPLETE) {
            break;
        } else {
            if (rv != APR_EINVAL || err.msg[0] == '\0')
                abort();
            pos = frame_resync(b, len, pos + 1);
        }
    }
    free(ranges);
}

static void fix_crc(uint8_t *b, size_t len)
{
    uint64_t h, z, body;
    if (len < FRAME_FIXED)
        return;
    h = b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    z = b[12] | (uint32_t)b[13] << 8 | (uint32_t)b[14] << 16 | (uint32_t)b[15] << 24;
    body = FRAME_FIXED + h + z;
    if (body + 4 <= len) {
        uint32_t c = (uint32_t)crc32(0L, b, (uInt)body);
        for (int i = 0; i < 4; i++)
            b[body + (uint64_t)i] = (uint8_t)(c >> (8 * i));
    }
}

/* A frame of this version with a valid header around raw payload bytes; list (may be
 * NULL): the bytes after the header's reasons (a range list). */
static void wrap_list(const uint8_t *raw, size_t n, int version, const uint8_t *list, size_t nlist,
                      buf_t *out)
{
    buf_t hdr;
    uLongf zlen = compressBound((uLong)n);
    size_t zs = ZSTD_compressBound(n);
    buf_init(&hdr);
    buf_put_u64(&hdr, 0);
    buf_put_u64(&hdr, 0);
    buf_put_u64(&hdr, 0);
    buf_put_u64(&hdr, 0);
    buf_put_u64(&hdr, 10);
    buf_put_varint(&hdr, 3);
    buf_put_varint(&hdr, 1);
    buf_put_varint(&hdr, 10);
    buf_put_str(&hdr, "web", 3);
    buf_put_str(&hdr, "src", 3);
    buf_put_str(&hdr, "s", 1);
    buf_put_str(&hdr, "m", 1);
    if (list) {
        buf_put_varint(&hdr, 0); /* regex_limit_hits */
        buf_put_varint(&hdr, 0); /* no reasons */
        buf_put(&hdr, list, nlist);
    }
    buf_put(out, FRAME_MAGIC, 4);
    buf_put_u32(out, (uint32_t)version); /* then flags 0 and the reserved bytes */
    buf_put_u32(out, (uint32_t)hdr.len);
    buf_put_u32(out, 0);
    buf_put_u32(out, (uint32_t)n);
    buf_put(out, hdr.data, hdr.len);
    if (version == 2) {
        buf_reserve(out, zs + 4);
        zs = ZSTD_compress(out->data + out->len, zs, raw, n, 1);
        if (ZSTD_isError(zs))
            abort();
        zlen = (uLongf)zs;
    } else {
        buf_reserve(out, zlen + 4);
        if (compress2(out->data + out->len, &zlen, raw, (uLong)n, 1) != Z_OK)
            abort();
    }
    out->len += zlen;
    for (int i = 0; i < 4; i++)
        out->data[12 + i] = (uint8_t)(zlen >> (8 * i));
    buf_put_u32(out, (uint32_t)crc32(0L, out->data, (uInt)out->len));
    buf_free(&hdr);
}

static void wrap_payload(const uint8_t *raw, size_t n, int version, buf_t *out)
{
    wrap_list(raw, n, version, NULL, 0, out);
}

/* A record frame around raw bytes. */
static void wrap_record(const uint8_t *raw, size_t n, buf_t *out)
{
    frame_header_t h;
    abbey_err_t err;
    header_init(&h);
    if (frame_encode_record(&h, raw, n, out, &err) != APR_SUCCESS)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    buf_t b;

    if (size == 0)
        return 0;
    apr_pool_create(&pool, root);
    buf_init(&b);
    switch (data[0] % 6) {
    case 0:
        decode_stream(data + 1, size - 1, pool);
        break;
    case 1:
        buf_put(&b, data + 1, size - 1);
        fix_crc(b.data, b.len);
        decode_stream(b.data, b.len, pool);
        break;
    case 3:
        wrap_record(data + 1, size - 1, &b);
        decode_stream(b.data, b.len, pool);
        break;
    case 5:
        wrap_list((const uint8_t[]){0}, 1, 1, data + 1, size - 1, &b); /* no group */
        decode_stream(b.data, b.len, pool);
        break;
    default:
        wrap_payload(data + 1, size - 1, data[0] % 6 == 4 ? 2 : 1, &b);
        decode_stream(b.data, b.len, pool);
    }
    buf_free(&b);
    apr_pool_destroy(pool);
    return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

static void put_key_int(buf_t *k, int64_t i)
{
    value_t v = {.kind = VALUE_INT, .i = i};
    value_key_put(k, &v);
}

/* A partial with a few rows in every entry. */
static partial_t *seed_partial(apr_pool_t *pool)
{
    partial_t *p = partial_create(&job, pool);
    buf_t k;
    buf_init(&k);
    for (int i = 0; i < 12; i++) {
        value_t x = {.kind = VALUE_INT, .i = i * 37 - 100};
        value_t s = {.kind = VALUE_STR, .s = &"abcdefghijkl"[i], .len = 1};
        value_t w = {.kind = VALUE_INT, .i = i * 7}; /* a summary ranks figures >= 0 */
        for (int e = 0; e < NENT; e++) {
            ptable_t *t = p->tables[e];
            ptable_row_t *row;
            buf_reset(&k);
            if (e == 1) {
                value_key_put(&k, &s);
                put_key_int(&k, i % 3);
            } else if (e == 0) {
                if (i % 4)
                    put_key_int(&k, 200 + i % 4);
                else
                    value_key_put(&k, &(value_t){.kind = VALUE_NULL});
            } else if (e == 3) {
                put_key_int(&k, i % 5 ? i : 0); /* a heavy key and evictions */
            }
            row = ptable_upsert(t, k.data, (uint32_t)k.len, value_hash_bytes(k.data, k.len));
            for (int v = 0; v < ent[e].nspecs; v++)
                agg_update(&specs[e][v], row->state + ptable_offset(t, v),
                           specs[e][v].kind == AGG_COUNT ? NULL
                           : v == 1 && e == 1            ? &s
                           : e == 3                      ? &w
                                                         : &x);
            if (e == 3)
                ptable_top_touch(t, row);
        }
    }
    /* a row of pages whose visitors and users saw the same values (visitors written as
     * derived), and one whose visitors turned dense */
    for (int i = 0; i < 1100; i++) {
        char name[16];
        value_t s = {.kind = VALUE_STR, .s = name};
        ptable_row_t *same, *dense;
        s.len = (uint32_t)snprintf(name, sizeof name, "u%d", i % (i < 1080 ? 1100 : 15));
        buf_reset(&k);
        value_key_put(&k, &(value_t){.kind = VALUE_STR, .s = "same", .len = 4});
        put_key_int(&k, 0);
        same =
            ptable_upsert(p->tables[1], k.data, (uint32_t)k.len, value_hash_bytes(k.data, k.len));
        buf_reset(&k);
        value_key_put(&k, &(value_t){.kind = VALUE_STR, .s = "dense", .len = 5});
        put_key_int(&k, 0);
        dense =
            ptable_upsert(p->tables[1], k.data, (uint32_t)k.len, value_hash_bytes(k.data, k.len));
        if (i >= 1080) {
            agg_update(&specs[1][1], same->state + ptable_offset(p->tables[1], 1), &s);
            agg_update(&specs[1][2], same->state + ptable_offset(p->tables[1], 2), &s);
        }
        agg_update(&specs[1][1], dense->state + ptable_offset(p->tables[1], 1), &s);
    }
    p->lines = 12;
    partial_bad(p, FORMAT_BAD_QUOTE);
    partial_bad(p, FORMAT_BAD_NUMBER);
    partial_bad(p, PARTIAL_BAD_VALUE);
    buf_free(&k);
    return p;
}

/* Frames of several ranges of p (modes 0 and 1), and a list of mode 5. */
static void write_range_seeds(const char *dir, const partial_t *p)
{
    static const char *src[3] = {"src", "other#2049:7:0", "src"};
    frame_ranges_t *r = calloc(1, sizeof *r);
    frame_header_t h;
    abbey_err_t err;
    buf_t f, list;

    header_init(&h);
    frame_header_counts(&h, p);
    r->n = 3;
    for (uint32_t i = 0; i < 3; i++) {
        snprintf(r->r[i].source, sizeof r->r[i].source, "%s", src[i]);
        r->r[i].lease = 4 + i;
        r->r[i].start = i == 2 ? 10 : 0;
        r->r[i].end = i == 2 ? 30 : 10;
        r->r[i].lines = i == 0 ? p->lines - 2 : 1;
        r->r[i].bad_lines = i == 0 ? p->bad_lines : 0;
        r->r[i].bytes = i == 0 ? p->bytes : 0;
    }
    h.ranges = r;
    buf_init(&f);
    buf_init(&list);
    if (frame_encode(&h, p, NULL, &f, &err) != APR_SUCCESS) {
        fprintf(stderr, "seed-frame-ranges: %s\n", err.msg);
        abort();
    } else {
        fuzz_write_seed(dir, "seed-frame-ranges", 0, f.data, f.len);
        fuzz_write_seed(dir, "seed-frame-ranges-crcfix", 1, f.data, f.len);
    }
    /* mode 5's header: [0, 10) of "src", lease 0, 3 lines, 1 bad, 10 bytes */
    buf_put_varint(&list, 2);
    buf_put_str(&list, "src", 3);
    for (int i = 0; i < 6; i++)
        buf_put_varint(&list, (uint64_t[]){0, 0, 10, 2, 1, 6}[i]);
    buf_put_str(&list, "other#1", 7);
    for (int i = 0; i < 6; i++)
        buf_put_varint(&list, (uint64_t[]){9, 100, 200, 1, 0, 4}[i]);
    fuzz_write_seed(dir, "seed-range-list", 5, list.data, list.len);
    buf_free(&f);
    buf_free(&list);
    free(r);
}

static void write_seeds(const char *dir)
{
    apr_pool_t *pool;
    partial_t *p;
    frame_header_t h;
    abbey_err_t err;
    buf_t f, raw;

    apr_pool_create(&pool, root);
    p = seed_partial(pool);
    header_init(&h);
    frame_header_counts(&h, p);
    buf_init(&f);
    buf_init(&raw);
    if (frame_encode(&h, p, NULL, &f, &err) != APR_SUCCESS)
        abort();
    fuzz_write_seed(dir, "seed-frame", 0, f.data, f.len);
    fuzz_write_seed(dir, "seed-frame-crcfix", 1, f.data, f.len);
    /* the payloads, for modes 2 and 4, and a version 1 frame */
    {
        uint64_t weight;
        buf_t v1;
        buf_init(&v1);
        if (frame_payload_put(&raw, p, NULL, 1, &weight, &err) != APR_SUCCESS)
            abort();
        fuzz_write_seed(dir, "seed-payload", 2, raw.data, raw.len);
        wrap_payload(raw.data, raw.len, 1, &v1);
        fuzz_write_seed(dir, "seed-frame-v1", 0, v1.data, v1.len);
        buf_reset(&raw);
        if (frame_payload_put(&raw, p, NULL, 2, &weight, &err) != APR_SUCCESS)
            abort();
        fuzz_write_seed(dir, "seed-payload-v2", 4, raw.data, raw.len);
        buf_free(&v1);
    }
    buf_reset(&f);
    if (frame_encode(&h, p, (const uint8_t[2]){0, 1}, &f, &err) == APR_SUCCESS)
        fuzz_write_seed(dir, "seed-frame-clients", 0, f.data, f.len);
    {
        static const char rec[] = "{\"kind\": \"lease\", \"task\": 7, \"slave\": \"s1\"}";
        /* a record between two partials, and the record's bytes for mode 3 */
        buf_t m;
        buf_init(&m);
        buf_put(&m, f.data, f.len);
        if (frame_encode_record(&h, rec, sizeof rec - 1, &m, &err) == APR_SUCCESS) {
            buf_put(&m, f.data, f.len);
            fuzz_write_seed(dir, "seed-record-mixed", 0, m.data, m.len);
        }
        buf_free(&m);
        fuzz_write_seed(dir, "seed-record-bytes", 3, (const uint8_t *)rec, sizeof rec - 1);
    }
    write_range_seeds(dir, p);
    buf_free(&f);
    buf_free(&raw);
    apr_pool_destroy(pool);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_initialize();
    apr_pool_create(&root, NULL);
    job_init();
    fuzz_seed_dirs(*argc, *argv, write_seeds);
    return 0;
}
