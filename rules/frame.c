/* frame.c - the frame codec: a partial for one source range, or an opaque
 * state record, as bytes (see frame.h). The container is here: fixed part,
 * header, compression (zlib for version 1, zstd for 2) and CRC; the partial's
 * payload is frame_payload.c.
 *
 * Encoding builds the header and the raw payload in scratch buffers,
 * compresses the payload straight into the output and appends the CRC32.
 * Decoding trusts nothing: the fixed part and every length are bounded first,
 * the CRC is checked before the header or payload is read, the payload must
 * decompress to exactly U bytes, and it is decoded into a scratch partial
 * that is merged into the caller's only when every group, entry, kind, key
 * and state checked out, so a failed decode leaves the caller's partial
 * unchanged. An empty caller's partial (a master's scratch) is decoded into
 * directly and emptied again on failure, unless the frame holds more rows
 * than its key limits: rows are decoded as the frame has them (limits
 * lifted), and only a merge folds them (ptable_merge). Record frames
 * (FRAME_FLAG_RECORD) share the layout and the checks; their payload is
 * decompressed as is by frame_record and refused by frame_decode. A frame of
 * several ranges ends its header with their list (frame_ranges.c). */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "frame_int.h"
#include "invariant.h"
#include "mem.h"
#include "rules.h"

#ifndef FRAME_ZLEVEL
#define FRAME_ZLEVEL 1 /* deflate level: frames must be cheap to produce (see frame_encode) */
#endif
#ifndef FRAME_ZSTD_LEVEL
#define FRAME_ZSTD_LEVEL 3 /* zstd level of version 2 (BENCHMARKS.md, "Frames") */
#endif
#define FRAME_MAX_RATIO 1032u /* deflate cannot expand a byte more than this */
#define FRAME_MIN_HEADER 47   /* five u64, three 1-byte varints, four empty strings */

/* ---- helpers ---------------------------------------------------------- */

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- encoding --------------------------------------------------------- */

static int check_string(const char *s, size_t max, const char *what, abbey_err_t *err)
{
    if (strnlen(s, max) < max)
        return 0;
    abbey_err_set(err, "frame: %s name is longer than %zu bytes", what, max - 1);
    return -1;
}

static void put_header(buf_t *b, const frame_header_t *h)
{
    int list = h->ranges && h->ranges->n >= 2;
    buf_put_u64(b, h->config_hash);
    buf_put_u64(b, h->round);
    buf_put_u64(b, h->lease);
    buf_put_u64(b, h->start);
    buf_put_u64(b, h->end);
    buf_put_varint(b, h->lines);
    buf_put_varint(b, h->bad_lines);
    buf_put_varint(b, h->bytes);
    buf_put_str(b, h->job, strlen(h->job));
    buf_put_str(b, h->source, strlen(h->source));
    buf_put_str(b, h->slave, strlen(h->slave));
    buf_put_str(b, h->master, strlen(h->master));
    int reasons = partial_reasons_any(h->bad_by, h->bad_lines);
    /* optional: a frame without them is what older decoders read */
    if (h->regex_limit_hits || reasons || list)
        buf_put_varint(b, h->regex_limit_hits);
    if (reasons || list)
        partial_reasons_put(b, h->bad_by);
    if (list)
        frame_ranges_put(b, h->ranges);
}

void frame_header_counts(frame_header_t *h, const partial_t *p)
{
    h->lines = p->lines;
    h->bad_lines = p->bad_lines;
    h->bytes = p->bytes;
    h->regex_limit_hits = p->regex_limit_hits;
    memcpy(h->bad_by, p->bad_by, sizeof h->bad_by);
}

/* Compress raw[0..n) onto the end of out (zlib for version 1, zstd for 2);
 * returns the compressed length (0: failed). */
static size_t deflate_onto(buf_t *out, const void *raw, size_t n, int version)
{
    uLongf zlen = compressBound((uLong)n);
    size_t zs;
    if (version >= 2) {
        zs = ZSTD_compressBound(n);
        buf_reserve(out, zs);
        zs = ZSTD_compress(out->data + out->len, zs, raw, n, FRAME_ZSTD_LEVEL);
        if (ZSTD_isError(zs))
            return 0;
        out->len += zs;
        return zs;
    }
    buf_reserve(out, zlen);
    if (compress2(out->data + out->len, &zlen, raw, (uLong)n, FRAME_ZLEVEL) != Z_OK)
        return 0;
    out->len += zlen;
    return zlen;
}

static int check_strings(const frame_header_t *h, abbey_err_t *err)
{
    return check_string(h->job, FRAME_NAME_MAX, "job", err) ||
           check_string(h->source, FRAME_SOURCE_MAX, "source", err) ||
           check_string(h->slave, FRAME_NAME_MAX, "slave", err) ||
           check_string(h->master, FRAME_NAME_MAX, "master", err);
}

/* Append one frame of this version with this flags byte, header h and the n
 * raw payload bytes (n <= FRAME_MAX_RAW, strings checked); out is unchanged on
 * failure. */
static apr_status_t encode(const frame_header_t *h, int version, uint8_t flags, const void *raw,
                           size_t n, buf_t *out, abbey_err_t *err)
{
    size_t start = out->len, zlen;
    buf_t hdr;

    buf_init(&hdr);
    put_header(&hdr, h);
    if (hdr.len > FRAME_MAX_HEADER) {
        abbey_err_set(err, "frame: header of %zu bytes exceeds %u", hdr.len, FRAME_MAX_HEADER);
        buf_free(&hdr);
        return APR_EINVAL;
    }
    buf_put(out, FRAME_MAGIC, 4);
    buf_put_u8(out, (uint8_t)version);
    buf_put_u8(out, flags);
    buf_put_u8(out, 0);
    buf_put_u8(out, 0);
    buf_put_u32(out, (uint32_t)hdr.len);
    buf_put_u32(out, 0); /* Z, set below */
    buf_put_u32(out, (uint32_t)n);
    buf_put(out, hdr.data, hdr.len);
    buf_free(&hdr);
    zlen = deflate_onto(out, raw, n, version);
    if (zlen == 0 || zlen > FRAME_MAX_PAYLOAD) {
        if (zlen)
            abbey_err_set(err, "frame: compressed payload of %zu bytes exceeds %u", zlen,
                          FRAME_MAX_PAYLOAD);
        else
            abbey_err_set(err, "frame: zlib could not compress the payload");
        out->len = start;
        return APR_EINVAL;
    }
    set_le32(out->data + start + 12, (uint32_t)zlen);
    buf_put_u32(out, (uint32_t)crc32(0L, out->data + start, (uInt)(out->len - start)));
    return APR_SUCCESS;
}

/* What a version 2 payload compressed into z bytes may cost its decoder, in the
 * dictionary's units of 8 bytes (agg.h): no more than a version 1 payload of z
 * bytes could hold 8-byte hashes. */
static uint64_t budget_of(uint32_t z)
{
    uint64_t b = (uint64_t)z * FRAME_MAX_RATIO / 8;
    return b < FRAME_MAX_RAW / 8 ? b : FRAME_MAX_RAW / 8;
}

/* Append p's frame in this version: APR_SUCCESS; APR_EINVAL or APR_ENOMEM with
 * out unchanged; APR_EGENERAL (out unchanged, no message) when a version 2
 * payload is over FRAME_MAX_RAW, or compressed so well that a decoder would
 * refuse it: more than FRAME_MAX_RATIO raw bytes per compressed byte (zstd
 * can, deflate cannot), or more for the decoder to allocate than its size
 * allows (budget_of). */
static apr_status_t encode_partial(const frame_header_t *h, const partial_t *p,
                                   const uint8_t *groups, int version, buf_t *out, abbey_err_t *err)
{
    size_t start = out->len;
    uint64_t weight;
    buf_t raw;
    apr_status_t rv;

    buf_init(&raw);
    rv = frame_payload_put(&raw, p, groups, version, &weight, err);
    if (rv == APR_SUCCESS && raw.len > FRAME_MAX_RAW && version >= 2)
        rv = APR_EGENERAL; /* rows of sets sharing no member: the dictionary costs more than
                              it saves, and version 1 may still fit */
    else if (rv == APR_SUCCESS && raw.len > FRAME_MAX_RAW) {
        abbey_err_set(err, "frame: payload of %zu bytes exceeds %u; send fewer rows per frame",
                      raw.len, FRAME_MAX_RAW);
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS)
        rv = encode(h, version, 0, raw.data, raw.len, out, err);
    if (rv == APR_SUCCESS && version >= 2) {
        uint32_t z = get_le32(out->data + start + 12);
        if (weight > budget_of(z) || raw.len > (uint64_t)z * FRAME_MAX_RATIO) {
            out->len = start;
            rv = APR_EGENERAL;
        }
    }
    buf_free(&raw);
    return rv;
}

/* h with a range list: *hh, h with its first range's lease, start, end and source, when
 * the list is one a decoder takes (else -1, the reason in err); h itself without one. */
static int with_list(const frame_header_t *h, frame_header_t *hh, abbey_err_t *err)
{
    frame_range_view_t v[FRAME_MAX_RANGES];
    const frame_ranges_t *r = h->ranges;

    *hh = *h;
    if (!r || r->n < 2)
        return 0;
    if (r->n > FRAME_MAX_RANGES) {
        abbey_err_set(err, "frame: a range list of %u ranges (at most %d)", r->n, FRAME_MAX_RANGES);
        return -1;
    }
    hh->lease = r->r[0].lease;
    hh->start = r->r[0].start;
    hh->end = r->r[0].end;
    memcpy(hh->source, r->r[0].source, sizeof hh->source);
    hh->source[sizeof hh->source - 1] = '\0';
    frame_ranges_view(r, v);
    if (frame_ranges_check(v, r->n, hh, err) != 0) {
        abbey_err_prefix(err, "frame");
        return -1;
    }
    return 0;
}

apr_status_t frame_encode(const frame_header_t *h0, const partial_t *p, const uint8_t *groups,
                          buf_t *out, abbey_err_t *err)
{
    frame_header_t hh, *h = &hh;
    apr_status_t rv;

    if (with_list(h0, &hh, err) != 0 || check_strings(h, err))
        return APR_EINVAL;
    for (int i = 0; i < p->job->nentries; i++) {
        const rules_entry_t *en = p->job->entries[i];
        if (p->failed[i] && (!groups || groups[en->group->index])) {
            abbey_err_set(err, "frame: entry '%s' ran out of memory: the partial is incomplete",
                          en->name);
            return APR_EINVAL;
        }
    }
    rv = encode_partial(h, p, groups, FRAME_VERSION, out, err);
    if (rv == APR_EGENERAL) /* so compressible that a decoder would not trust it */
        rv = encode_partial(h, p, groups, 1, out, err);
    return rv;
}

apr_status_t frame_encode_record(const frame_header_t *h, const void *data, size_t len, buf_t *out,
                                 abbey_err_t *err)
{
    frame_header_t hh = *h;

    hh.ranges = NULL; /* a record covers no range */
    if (check_strings(&hh, err))
        return APR_EINVAL;
    if (len > FRAME_MAX_RAW) {
        abbey_err_set(err, "frame: record of %zu bytes exceeds %u", len, FRAME_MAX_RAW);
        return APR_EINVAL;
    }
    return encode(&hh, FRAME_RECORD_VERSION, FRAME_FLAG_RECORD, len ? data : "", len, out, err);
}

/* ---- the fixed part, header and CRC ------------------------------------ */

typedef struct frame_lens_t {
    uint32_t h, z, u;
} frame_lens_t;

/* Check the fixed 20 bytes, as many as there are: APR_INCOMPLETE when all
 * present bytes are sane but fewer than 20, APR_EINVAL at the first bad one. */
static apr_status_t check_fixed(const uint8_t *b, size_t len, frame_lens_t *l, abbey_err_t *err)
{
    if (len == 0 || memcmp(b, FRAME_MAGIC, len < 4 ? len : 4) != 0) {
        if (len == 0)
            goto torn;
        abbey_err_set(err, "frame: bad magic (not an abbey frame)");
        return APR_EINVAL;
    }
    if (len > 4 && (b[4] < FRAME_VERSION_MIN || b[4] > FRAME_VERSION)) {
        abbey_err_set(err, "frame: version %u is not supported (expected %u to %u)", b[4],
                      FRAME_VERSION_MIN, FRAME_VERSION);
        return APR_EINVAL;
    }
    if (len > 5 && b[5] != 0 && b[5] != FRAME_FLAG_RECORD) {
        abbey_err_set(err, "frame: flags byte is 0x%02x, expected 0 or 0x%02x", b[5],
                      FRAME_FLAG_RECORD);
        return APR_EINVAL;
    }
    for (size_t i = 6; i < 8 && i < len; i++)
        if (b[i] != 0) {
            abbey_err_set(err, "frame: reserved byte is 0x%02x, expected 0", b[i]);
            return APR_EINVAL;
        }
    if (len >= 12 && ((l->h = get_le32(b + 8)) > FRAME_MAX_HEADER || l->h < FRAME_MIN_HEADER)) {
        abbey_err_set(err, "frame: header length %u %s %u", l->h,
                      l->h > FRAME_MAX_HEADER ? "exceeds" : "is below",
                      l->h > FRAME_MAX_HEADER ? FRAME_MAX_HEADER : FRAME_MIN_HEADER);
        return APR_EINVAL;
    }
    if (len >= 16 && ((l->z = get_le32(b + 12)) > FRAME_MAX_PAYLOAD || l->z == 0)) {
        if (l->z)
            abbey_err_set(err, "frame: payload length %u exceeds %u", l->z, FRAME_MAX_PAYLOAD);
        else
            abbey_err_set(err, "frame: payload length is zero");
        return APR_EINVAL;
    }
    if (len >= 20) {
        l->u = get_le32(b + 16);
        /* a partial's payload holds a group count at least; a record may be empty */
        if (l->u > FRAME_MAX_RAW || (l->u == 0 && b[5] != FRAME_FLAG_RECORD) ||
            l->u > (uint64_t)l->z * FRAME_MAX_RATIO) {
            abbey_err_set(err,
                          "frame: uncompressed length %u is impossible (limit %u, "
                          "at most %u per compressed byte, %u compressed bytes)",
                          l->u, FRAME_MAX_RAW, FRAME_MAX_RATIO, l->z);
            return APR_EINVAL;
        }
        return APR_SUCCESS;
    }
torn:
    abbey_err_set(err, "frame: torn (%zu of the %d fixed bytes)", len, FRAME_FIXED);
    return APR_INCOMPLETE;
}

static int get_name(buf_reader_t *r, char *dst, size_t cap, const char *what, abbey_err_t *err)
{
    size_t n;
    const uint8_t *s = buf_get_str(r, cap - 1, &n);
    if (!s) {
        abbey_err_set(err, "frame header: %s name is truncated or longer than %zu bytes", what,
                      cap - 1);
        return -1;
    }
    if (n && memchr(s, 0, n)) {
        abbey_err_set(err, "frame header: %s name contains a NUL byte", what);
        return -1;
    }
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static apr_status_t get_header(const uint8_t *p, size_t n, frame_header_t *h,
                               frame_ranges_t *ranges, abbey_err_t *err)
{
    buf_reader_t r;
    buf_reader_init(&r, p, n);
    h->ranges = NULL;
    h->nranges = 1;
    h->config_hash = buf_get_u64(&r);
    h->round = buf_get_u64(&r);
    h->lease = buf_get_u64(&r);
    h->start = buf_get_u64(&r);
    h->end = buf_get_u64(&r);
    h->lines = buf_get_varint(&r);
    h->bad_lines = buf_get_varint(&r);
    h->bytes = buf_get_varint(&r);
    if (buf_reader_failed(&r)) {
        abbey_err_set(err, "frame header: truncated or malformed counters");
        return APR_EINVAL;
    }
    if (get_name(&r, h->job, sizeof h->job, "job", err) ||
        get_name(&r, h->source, sizeof h->source, "source", err) ||
        get_name(&r, h->slave, sizeof h->slave, "slave", err) ||
        get_name(&r, h->master, sizeof h->master, "master", err))
        return APR_EINVAL;
    h->regex_limit_hits = buf_reader_left(&r) ? buf_get_varint(&r) : 0;
    if (buf_reader_failed(&r)) {
        abbey_err_set(err, "frame header: malformed regex_limit_hits counter");
        return APR_EINVAL;
    }
    if (partial_reasons_get(&r, h->bad_lines, h->bad_by, err) != 0) {
        abbey_err_prefix(err, "frame header");
        return APR_EINVAL;
    }
    if (buf_reader_left(&r) && frame_ranges_get(&r, h, ranges, &h->nranges, err) != 0) {
        abbey_err_prefix(err, "frame header");
        return APR_EINVAL;
    }
    if (buf_reader_left(&r)) {
        abbey_err_set(err, "frame header: %zu unexpected bytes after the fields",
                      buf_reader_left(&r));
        return APR_EINVAL;
    }
    if (h->start > h->end) {
        abbey_err_set(err, "frame header: range start %llu is after its end %llu",
                      (unsigned long long)h->start, (unsigned long long)h->end);
        return APR_EINVAL;
    }
    if (ranges && h->nranges == 1)
        frame_ranges_of_header(h, ranges);
    return APR_SUCCESS;
}

static apr_status_t peek(const uint8_t *buf, size_t len, frame_header_t *h, frame_lens_t *l,
                         size_t *total, frame_ranges_t *ranges, abbey_err_t *err)
{
    apr_status_t rv = check_fixed(buf, len, l, err);
    uint32_t stored, computed;
    size_t body;

    if (rv != APR_SUCCESS)
        return rv;
    body = FRAME_FIXED + (size_t)l->h + l->z;
    *total = body + 4;
    if (len < *total) {
        abbey_err_set(err, "frame: torn (%zu of %zu bytes)", len, *total);
        return APR_INCOMPLETE;
    }
    stored = get_le32(buf + body);
    computed = (uint32_t)crc32(0L, buf, (uInt)body);
    if (stored != computed) {
        abbey_err_set(err, "frame: CRC mismatch (stored 0x%08x, computed 0x%08x)", stored,
                      computed);
        return APR_EINVAL;
    }
    h->flags = buf[5];
    h->version = buf[4];
    if ((rv = get_header(buf + FRAME_FIXED, l->h, h, ranges, err)) != APR_SUCCESS)
        return rv;
    if (h->flags == FRAME_FLAG_RECORD && h->nranges > 1) {
        abbey_err_set(err, "frame: a state record with a range list");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t frame_peek_ranges(const uint8_t *buf, size_t len, frame_header_t *h,
                               frame_ranges_t *ranges, size_t *frame_len, abbey_err_t *err)
{
    frame_header_t tmp;
    frame_lens_t l;
    size_t total;
    apr_status_t rv = peek(buf, len, &tmp, &l, &total, ranges, err);

    if (rv != APR_SUCCESS)
        return rv;
    if (h)
        *h = tmp;
    if (frame_len)
        *frame_len = total;
    return APR_SUCCESS;
}

apr_status_t frame_peek(const uint8_t *buf, size_t len, frame_header_t *h, size_t *frame_len,
                        abbey_err_t *err)
{
    return frame_peek_ranges(buf, len, h, NULL, frame_len, err);
}

/* ---- the payload ------------------------------------------------------- */

/* Inflate in[0..zlen) into exactly ulen bytes at out. */
static apr_status_t inflate_exact(const uint8_t *in, uint32_t zlen, uint8_t *out, uint32_t ulen,
                                  int version, abbey_err_t *err)
{
    z_stream zs;
    int zr;
    apr_status_t rv = APR_EINVAL;

    if (version >= 2) {
        size_t got = ZSTD_decompress(out, ulen, in, zlen);
        if (!ZSTD_isError(got) && got == ulen)
            return APR_SUCCESS;
        if (ZSTD_isError(got))
            abbey_err_set(err, "frame payload: corrupt zstd stream (%s)", ZSTD_getErrorName(got));
        else
            abbey_err_set(err, "frame payload: decompresses to %zu bytes, header says %u", got,
                          ulen);
        return APR_EINVAL;
    }
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK) {
        abbey_err_set(err, "frame payload: cannot start zlib");
        return APR_ENOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = zlen;
    zs.next_out = out;
    zs.avail_out = ulen;
    zr = inflate(&zs, Z_FINISH);
    if (zr == Z_STREAM_END && zs.avail_out == 0 && zs.avail_in == 0)
        rv = APR_SUCCESS;
    else if (zr == Z_STREAM_END && zs.avail_out)
        abbey_err_set(err, "frame payload: inflates to %lu bytes, header says %u", zs.total_out,
                      ulen);
    else if (zr == Z_STREAM_END)
        abbey_err_set(err, "frame payload: %u bytes after the end of the zlib stream", zs.avail_in);
    else if (zs.avail_out == 0)
        abbey_err_set(err, "frame payload: inflates to more than the %u bytes the header says",
                      ulen);
    else if (zr == Z_DATA_ERROR)
        abbey_err_set(err, "frame payload: corrupt zlib stream (%s)", zs.msg ? zs.msg : "?");
    else
        abbey_err_set(err, "frame payload: zlib stream is truncated");
    inflateEnd(&zs);
    return rv;
}

/* The payload (raw, lengths l) decoded into p as the frame has its rows: every table's key
 * limit is lifted meanwhile (the partial they merge into folds what does not fit,
 * ptable_merge) and put back after. As frame_payload_get; *over is 1 when some table of p
 * now holds more rows than its limit. */
static apr_status_t get_unlimited(const uint8_t *raw, const frame_lens_t *l, int version,
                                  const rules_job_t *job, partial_t *p, int *over, abbey_err_t *err)
{
    uint64_t *max = mem_xcalloc((size_t)job->nentries + 1, sizeof *max);
    apr_status_t rv;

    for (int i = 0; i < job->nentries; i++) {
        max[i] = ptable_max_keys(p->tables[i]);
        ptable_set_limit(p->tables[i], 0, job->entries[i]->lines_spec);
    }
    rv = frame_payload_get(raw, l->u, version, budget_of(l->z), job, p, err);
    *over = 0;
    for (int i = 0; i < job->nentries; i++) {
        ptable_set_limit(p->tables[i], max[i], job->entries[i]->lines_spec);
        *over |= max[i] && ptable_count(p->tables[i]) > max[i];
    }
    free(max);
    return rv;
}

apr_status_t frame_decode(const uint8_t *buf, size_t len, const struct rules_job_t *job,
                          frame_header_t *h, partial_t *into, size_t *frame_len, abbey_err_t *err)
{
    frame_header_t hh;
    frame_lens_t l;
    size_t total;
    uint8_t *raw;
    partial_t *scratch;
    apr_status_t rv = peek(buf, len, &hh, &l, &total, NULL, err);

    if (rv != APR_SUCCESS)
        return rv;
    if (hh.flags == FRAME_FLAG_RECORD) {
        abbey_err_set(err, "frame: the frame is a state record, not a partial (flags 0x%02x)",
                      hh.flags);
        return APR_EINVAL;
    }
    if (strcmp(hh.job, job->name) != 0) {
        abbey_err_set(err, "frame: job '%s' is not job '%s'", hh.job, job->name);
        return APR_EINVAL;
    }
    raw = malloc(l.u);
    if (!raw) {
        abbey_err_set(err, "frame payload: cannot allocate %u bytes", l.u);
        return APR_ENOMEM;
    }
    rv = inflate_exact(buf + FRAME_FIXED + l.h, l.z, raw, l.u, hh.version, err);
    if (rv == APR_SUCCESS) {
        /* into empty (as a master's scratch is): decoded straight into it, and
         * emptied again on failure; else into a scratch partial, then merged */
        int direct = partial_is_empty(into), over;
        scratch = direct ? into : partial_create(job, into->pool);
        rv = get_unlimited(raw, &l, hh.version, job, scratch, &over, err);
        if (rv == APR_SUCCESS && direct && over) {
            /* more rows than into's key limit: decoded apart and merged, so that into
             * keeps the keys a merge keeps (ptable.h) */
            partial_clear(into);
            direct = 0;
            scratch = partial_create(job, into->pool);
            rv = get_unlimited(raw, &l, hh.version, job, scratch, &over, err);
        }
        if (rv == APR_SUCCESS) {
            scratch->lines = hh.lines;
            scratch->bad_lines = hh.bad_lines;
            scratch->bytes = hh.bytes;
            scratch->regex_limit_hits = hh.regex_limit_hits;
            memcpy(scratch->bad_by, hh.bad_by, sizeof hh.bad_by);
            if (!direct && (rv = partial_merge(into, scratch, err)) != APR_SUCCESS)
                abbey_err_prefix(err, "frame: merging");
        }
        if (!direct)
            partial_destroy(scratch);
        else if (rv != APR_SUCCESS)
            partial_clear(into);
    }
    free(raw);
    if (rv == APR_SUCCESS) {
        if (h)
            *h = hh;
        if (frame_len)
            *frame_len = total;
    }
    return rv;
}

apr_status_t frame_record(const uint8_t *buf, size_t len, apr_pool_t *pool, frame_header_t *h,
                          uint8_t **data, size_t *data_len, size_t *frame_len, abbey_err_t *err)
{
    frame_header_t hh;
    frame_lens_t l;
    size_t total;
    uint8_t *raw;
    apr_status_t rv = peek(buf, len, &hh, &l, &total, NULL, err);

    if (rv != APR_SUCCESS)
        return rv;
    if (hh.flags != FRAME_FLAG_RECORD) {
        abbey_err_set(err, "frame: the frame is a partial, not a state record (flags 0x%02x)",
                      hh.flags);
        return APR_EINVAL;
    }
    /* l.u is bounded (FRAME_MAX_RAW, and by the CRC-checked Z) */
    raw = apr_palloc(pool, (apr_size_t)l.u + 1);
    if (!raw) {
        abbey_err_set(err, "frame record: cannot allocate %u bytes", l.u);
        return APR_ENOMEM;
    }
    rv = inflate_exact(buf + FRAME_FIXED + l.h, l.z, raw, l.u, hh.version, err);
    if (rv != APR_SUCCESS)
        return rv;
    raw[l.u] = '\0';
    if (h)
        *h = hh;
    *data = raw;
    *data_len = l.u;
    if (frame_len)
        *frame_len = total;
    return APR_SUCCESS;
}

size_t frame_resync(const uint8_t *buf, size_t len, size_t from)
{
    const uint8_t *m;
    if (from >= len)
        return len;
    m = memmem(buf + from, len - from, FRAME_MAGIC, 4);
    return m ? (size_t)(m - buf) : len;
}
