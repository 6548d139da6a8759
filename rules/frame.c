/* frame.c - the frame codec: a partial for one source range, or an opaque
 * state record, as bytes (see frame.h).
 *
 * Encoding builds the header and the raw payload in scratch buffers, deflates
 * the payload straight into the output and appends the CRC32. Decoding trusts
 * nothing: the fixed part and every length are bounded first, the CRC is
 * checked before the header or payload is read, the payload must inflate to
 * exactly U bytes, and it is decoded into a scratch partial that is merged
 * into the caller's only when every group, entry, kind, key and state
 * checked out, so a failed decode leaves the caller's partial unchanged.
 * Record frames (FRAME_FLAG_RECORD) share the layout and the checks; their
 * payload is inflated as is by frame_record and refused by frame_decode. */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "invariant.h"
#include "ptable_top.h"
#include "rules.h"

#ifndef FRAME_ZLEVEL
#define FRAME_ZLEVEL 1 /* deflate level: frames must be cheap to produce (see frame_encode) */
#endif
#define FRAME_MAX_RATIO 1032u /* deflate cannot expand a byte more than this */
#define FRAME_MIN_HEADER 47   /* five u64, three 1-byte varints, four empty strings */
#define FRAME_NAME_SHOWN 64   /* bytes of an untrusted name shown in a message */

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

/* Untrusted bytes as printable text for a message (truncated, escaped). */
static const char *shown(const uint8_t *s, size_t n, char out[4 * FRAME_NAME_SHOWN + 4])
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < FRAME_NAME_SHOWN; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' && s[i] != '\'')
            out[o++] = (char)s[i];
        else
            o += (size_t)snprintf(out + o, 5, "\\x%02x", s[i]);
    }
    if (n > FRAME_NAME_SHOWN) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int name_eq(const char *name, const uint8_t *s, size_t n)
{
    return strlen(name) == n && (n == 0 || memcmp(name, s, n) == 0);
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
    if (h->regex_limit_hits || reasons)
        buf_put_varint(b, h->regex_limit_hits);
    if (reasons)
        partial_reasons_put(b, h->bad_by);
}

void frame_header_counts(frame_header_t *h, const partial_t *p)
{
    h->lines = p->lines;
    h->bad_lines = p->bad_lines;
    h->bytes = p->bytes;
    h->regex_limit_hits = p->regex_limit_hits;
    memcpy(h->bad_by, p->bad_by, sizeof h->bad_by);
}

static void put_spec(buf_t *b, const agg_spec_t *s)
{
    buf_put_u8(b, (uint8_t)s->kind);
    if (s->kind == AGG_PERCENTILE)
        buf_put_f64(b, s->pct);
    else if (s->kind == AGG_DISTINCT_EXACT)
        buf_put_varint(b, s->cap);
}

static void put_states(buf_t *b, const rules_entry_t *e, const ptable_t *t, const ptable_row_t *row)
{
    for (int v = 0; v < e->nspecs; v++)
        agg_encode(&e->specs[v], row->state + ptable_offset(t, v), b);
}

static void put_entry(buf_t *b, const rules_entry_t *e, const ptable_t *t)
{
    size_t cur = 0;
    const ptable_row_t *row;

    buf_put_str(b, e->name, strlen(e->name));
    buf_put_varint(b, (uint64_t)e->nspecs);
    for (int v = 0; v < e->nspecs; v++)
        put_spec(b, &e->specs[v]);
    buf_put_varint(b, ptable_count(t));
    if (e->top_k)
        ptable_top_put_head(t, b);
    while ((row = ptable_next(t, &cur)) != NULL) {
        buf_put_str(b, row->key, row->klen);
        put_states(b, e, t, row);
        if (e->top_k)
            ptable_top_put_row(t, row, b);
    }
}

/* The overflow rows of the selected entries that have one (frame.h); nothing
 * when none has. */
static void put_overflows(buf_t *b, const partial_t *p, const uint8_t *groups)
{
    const rules_job_t *job = p->job;
    uint64_t n = 0;

    for (int i = 0; i < job->nentries; i++)
        n += (!groups || groups[job->entries[i]->group->index]) && ptable_overflow(p->tables[i]);
    if (!n)
        return;
    buf_put_varint(b, n);
    for (int i = 0; i < job->nentries; i++) {
        const rules_entry_t *e = job->entries[i];
        const ptable_t *t = p->tables[i];
        if ((groups && !groups[e->group->index]) || !ptable_overflow(t))
            continue;
        buf_put_str(b, e->name, strlen(e->name));
        put_states(b, e, t, ptable_overflow(t));
        agg_encode(ptable_folded_spec(), ptable_folded_state(t), b);
    }
}

static void put_payload(buf_t *b, const partial_t *p, const uint8_t *groups)
{
    const rules_job_t *job = p->job;
    uint64_t ng = 0;

    for (int g = 0; g < job->ngroups; g++)
        ng += !groups || groups[g];
    buf_put_varint(b, ng);
    for (int g = 0; g < job->ngroups; g++) {
        const rules_group_t *grp = &job->groups[g];
        if (groups && !groups[g])
            continue;
        buf_put_str(b, grp->name, strlen(grp->name));
        buf_put_varint(b, (uint64_t)grp->nentries);
        for (int e = 0; e < grp->nentries; e++)
            put_entry(b, grp->entries[e], p->tables[grp->entries[e]->index]);
    }
    put_overflows(b, p, groups);
}

/* Deflate raw[0..n) onto the end of out; returns the compressed length (0: failed). */
static size_t deflate_onto(buf_t *out, const void *raw, size_t n)
{
    uLongf zlen = compressBound((uLong)n);
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

/* Append one frame with this flags byte, header h and the n raw payload
 * bytes (n <= FRAME_MAX_RAW, strings checked); out is unchanged on failure. */
static apr_status_t encode(const frame_header_t *h, uint8_t flags, const void *raw, size_t n,
                           buf_t *out, abbey_err_t *err)
{
    size_t start = out->len, zlen;
    buf_t hdr;

    buf_init(&hdr);
    put_header(&hdr, h);
    buf_put(out, FRAME_MAGIC, 4);
    buf_put_u8(out, FRAME_VERSION);
    buf_put_u8(out, flags);
    buf_put_u8(out, 0);
    buf_put_u8(out, 0);
    buf_put_u32(out, (uint32_t)hdr.len);
    buf_put_u32(out, 0); /* Z, set below */
    buf_put_u32(out, (uint32_t)n);
    buf_put(out, hdr.data, hdr.len);
    buf_free(&hdr);
    zlen = deflate_onto(out, raw, n);
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

apr_status_t frame_encode(const frame_header_t *h, const partial_t *p, const uint8_t *groups,
                          buf_t *out, abbey_err_t *err)
{
    buf_t raw;
    apr_status_t rv;

    if (check_strings(h, err))
        return APR_EINVAL;
    for (int i = 0; i < p->job->nentries; i++) {
        const rules_entry_t *en = p->job->entries[i];
        if (p->failed[i] && (!groups || groups[en->group->index])) {
            abbey_err_set(err, "frame: entry '%s' ran out of memory: the partial is incomplete",
                          en->name);
            return APR_EINVAL;
        }
    }
    buf_init(&raw);
    put_payload(&raw, p, groups);
    if (raw.len > FRAME_MAX_RAW) {
        abbey_err_set(err, "frame: payload of %zu bytes exceeds %u; send fewer rows per frame",
                      raw.len, FRAME_MAX_RAW);
        rv = APR_EINVAL;
    } else {
        rv = encode(h, 0, raw.data, raw.len, out, err);
    }
    buf_free(&raw);
    return rv;
}

apr_status_t frame_encode_record(const frame_header_t *h, const void *data, size_t len, buf_t *out,
                                 abbey_err_t *err)
{
    if (check_strings(h, err))
        return APR_EINVAL;
    if (len > FRAME_MAX_RAW) {
        abbey_err_set(err, "frame: record of %zu bytes exceeds %u", len, FRAME_MAX_RAW);
        return APR_EINVAL;
    }
    return encode(h, FRAME_FLAG_RECORD, len ? data : "", len, out, err);
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
    if (len > 4 && b[4] != FRAME_VERSION) {
        abbey_err_set(err, "frame: version %u is not supported (expected %u)", b[4], FRAME_VERSION);
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

static apr_status_t get_header(const uint8_t *p, size_t n, frame_header_t *h, abbey_err_t *err)
{
    buf_reader_t r;
    buf_reader_init(&r, p, n);
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
    return APR_SUCCESS;
}

static apr_status_t peek(const uint8_t *buf, size_t len, frame_header_t *h, frame_lens_t *l,
                         size_t *total, abbey_err_t *err)
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
    return get_header(buf + FRAME_FIXED, l->h, h, err);
}

apr_status_t frame_peek(const uint8_t *buf, size_t len, frame_header_t *h, size_t *frame_len,
                        abbey_err_t *err)
{
    frame_header_t tmp;
    frame_lens_t l;
    size_t total;
    apr_status_t rv = peek(buf, len, &tmp, &l, &total, err);

    if (rv != APR_SUCCESS)
        return rv;
    if (h)
        *h = tmp;
    if (frame_len)
        *frame_len = total;
    return APR_SUCCESS;
}

/* ---- the payload ------------------------------------------------------- */

/* Inflate in[0..zlen) into exactly ulen bytes at out. */
static apr_status_t inflate_exact(const uint8_t *in, uint32_t zlen, uint8_t *out, uint32_t ulen,
                                  abbey_err_t *err)
{
    z_stream zs;
    int zr;
    apr_status_t rv = APR_EINVAL;

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

typedef struct decoder_t {
    buf_reader_t r;
    const rules_job_t *job;
    partial_t *scratch;
    uint8_t *seen_group; /* job->ngroups */
    uint8_t *seen_entry; /* job->nentries */
    int *nstates;        /* job->nentries: states per row in this frame (nspecs, or nvalues
                            for a frame from before the hidden line count) */
    abbey_err_t *err;
} decoder_t;

static const char *value_name(const rules_entry_t *e, int v, char tmp[16])
{
    if (e->values && e->values[v].name)
        return e->values[v].name;
    snprintf(tmp, 16, "#%d", v);
    return tmp;
}

static apr_status_t bad(decoder_t *d, const char *what)
{
    abbey_err_set(d->err, "frame payload: %s is truncated or malformed", what);
    return APR_EINVAL;
}

static apr_status_t check_specs(decoder_t *d, const rules_entry_t *e, int nv)
{
    char tmp[16];
    for (int v = 0; v < nv; v++) {
        const agg_spec_t *s = &e->specs[v];
        uint8_t kind = buf_get_u8(&d->r);
        double pct = 0;
        uint64_t cap = 0;
        if (kind == AGG_PERCENTILE)
            pct = buf_get_f64(&d->r);
        else if (kind == AGG_DISTINCT_EXACT)
            cap = buf_get_varint(&d->r);
        if (buf_reader_failed(&d->r))
            return bad(d, "value kinds");
        if (kind != s->kind) {
            abbey_err_set(d->err,
                          "frame payload: entry '%s' value '%s' is %s in the frame, %s in "
                          "job '%s'",
                          e->name, value_name(e, v, tmp),
                          kind < AGG__COUNT ? agg_kind_name(kind) : "an unknown kind",
                          agg_kind_name(s->kind), d->job->name);
            return APR_EINVAL;
        }
        if ((kind == AGG_PERCENTILE && !(pct == s->pct)) ||
            (kind == AGG_DISTINCT_EXACT && cap != s->cap)) {
            abbey_err_set(d->err,
                          "frame payload: entry '%s' value '%s' has %s %g in the frame, "
                          "%g in job '%s'",
                          e->name, value_name(e, v, tmp),
                          kind == AGG_PERCENTILE ? "percentile" : "cap",
                          kind == AGG_PERCENTILE ? pct : (double)cap,
                          kind == AGG_PERCENTILE ? s->pct : (double)s->cap, d->job->name);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* A key must be exactly e->nkeys valid value_key encodings. */
static int key_ok(const uint8_t *k, size_t klen, int nkeys)
{
    buf_reader_t r;
    value_t v;
    buf_reader_init(&r, k, klen);
    for (int i = 0; i < nkeys; i++)
        if (value_key_get(&r, &v) != 0 || buf_reader_failed(&r))
            return 0;
    return buf_reader_left(&r) == 0;
}

static apr_status_t decode_rows(decoder_t *d, const rules_entry_t *e)
{
    ptable_t *t = d->scratch->tables[e->index];
    uint64_t nrows = buf_get_varint(&d->r);
    char tmp[16];

    if (buf_reader_failed(&d->r))
        return bad(d, "row count");
    if (nrows > buf_reader_left(&d->r)) {
        abbey_err_set(d->err, "frame payload: entry '%s' claims %llu rows in %zu bytes", e->name,
                      (unsigned long long)nrows, buf_reader_left(&d->r));
        return APR_EINVAL;
    }
    if (e->top_k && ptable_top_get_head(t, nrows, &d->r, d->err) != 0) {
        abbey_err_prefix(d->err, "frame payload: entry '%s'", e->name);
        return APR_EINVAL;
    }
    for (uint64_t i = 0; i < nrows; i++) {
        size_t klen, before = ptable_count(t);
        const uint8_t *k = buf_get_str(&d->r, buf_reader_left(&d->r), &klen);
        ptable_row_t *row;
        if (!k)
            return bad(d, "row key");
        if (!key_ok(k, klen, e->nkeys)) {
            abbey_err_set(d->err,
                          "frame payload: entry '%s' row %llu: key is not %d valid "
                          "key columns",
                          e->name, (unsigned long long)i, e->nkeys);
            return APR_EINVAL;
        }
        row = ptable_upsert(t, k, (uint32_t)klen, value_hash_bytes(k, klen));
        if (!row) {
            abbey_err_set(d->err,
                          "frame payload: entry '%s' row %llu: out of memory after %zu "
                          "rows",
                          e->name, (unsigned long long)i, before);
            return APR_ENOMEM;
        }
        if (ptable_count(t) == before) {
            abbey_err_set(d->err, "frame payload: entry '%s' row %llu repeats a key", e->name,
                          (unsigned long long)i);
            return APR_EINVAL;
        }
        for (int v = 0; v < d->nstates[e->index]; v++) {
            apr_status_t rv =
                agg_decode(&e->specs[v], row->state + ptable_offset(t, v), &d->r, d->err);
            if (rv != APR_SUCCESS) {
                abbey_err_prefix(d->err, "frame payload: entry '%s' row %llu value '%s'", e->name,
                                 (unsigned long long)i, value_name(e, v, tmp));
                return rv;
            }
        }
        ptable_heap_add(t, agg_heap_take());
        if (e->top_k && ptable_top_get_row(t, row, &d->r, d->err) != 0) {
            abbey_err_prefix(d->err, "frame payload: entry '%s' row %llu", e->name,
                             (unsigned long long)i);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t decode_entry(decoder_t *d, const rules_group_t *g)
{
    size_t n;
    const uint8_t *name = buf_get_str(&d->r, buf_reader_left(&d->r), &n);
    const rules_entry_t *e = NULL;
    char show[4 * FRAME_NAME_SHOWN + 4];
    uint64_t nv;

    if (!name)
        return bad(d, "entry name");
    for (int i = 0; i < g->nentries && !e; i++)
        if (name_eq(g->entries[i]->name, name, n))
            e = g->entries[i];
    if (!e) {
        abbey_err_set(d->err, "frame payload: entry '%s' is not in group '%s' of job '%s'",
                      shown(name, n, show), g->name, d->job->name);
        return APR_EINVAL;
    }
    ABBEY_ASSERT(e->index >= 0 && e->index < d->job->nentries && d->job->entries[e->index] == e);
    if (d->seen_entry[e->index]++) {
        abbey_err_set(d->err, "frame payload: entry '%s' appears twice", e->name);
        return APR_EINVAL;
    }
    nv = buf_get_varint(&d->r);
    if (buf_reader_failed(&d->r))
        return bad(d, "value count");
    if (nv != (uint64_t)e->nspecs && nv != (uint64_t)e->nvalues) {
        abbey_err_set(d->err,
                      "frame payload: entry '%s' has %llu values in the frame, %d in "
                      "job '%s'",
                      e->name, (unsigned long long)nv, e->nspecs, d->job->name);
        return APR_EINVAL;
    }
    d->nstates[e->index] = (int)nv;
    if (check_specs(d, e, (int)nv) != APR_SUCCESS)
        return APR_EINVAL;
    return decode_rows(d, e);
}

static apr_status_t decode_group(decoder_t *d)
{
    size_t n;
    const uint8_t *name = buf_get_str(&d->r, buf_reader_left(&d->r), &n);
    const rules_group_t *g = NULL;
    char show[4 * FRAME_NAME_SHOWN + 4];
    uint64_t ne;

    if (!name)
        return bad(d, "group name");
    for (int i = 0; i < d->job->ngroups && !g; i++)
        if (name_eq(d->job->groups[i].name, name, n))
            g = &d->job->groups[i];
    if (!g) {
        abbey_err_set(d->err, "frame payload: group '%s' is not in job '%s'", shown(name, n, show),
                      d->job->name);
        return APR_EINVAL;
    }
    if (d->seen_group[g->index]++) {
        abbey_err_set(d->err, "frame payload: group '%s' appears twice", g->name);
        return APR_EINVAL;
    }
    ne = buf_get_varint(&d->r);
    if (buf_reader_failed(&d->r))
        return bad(d, "entry count");
    if (ne > (uint64_t)g->nentries) {
        abbey_err_set(d->err,
                      "frame payload: group '%s' has %llu entries in the frame, %d in "
                      "job '%s'",
                      g->name, (unsigned long long)ne, g->nentries, d->job->name);
        return APR_EINVAL;
    }
    for (uint64_t i = 0; i < ne; i++)
        if (decode_entry(d, g) != APR_SUCCESS)
            return APR_EINVAL;
    return APR_SUCCESS;
}

/* One overflow row (frame.h): an entry of the frame, once, with all its states. */
static apr_status_t decode_overflow(decoder_t *d, uint8_t *seen)
{
    size_t n;
    const uint8_t *name = buf_get_str(&d->r, buf_reader_left(&d->r), &n);
    const rules_entry_t *e = NULL;
    char show[4 * FRAME_NAME_SHOWN + 4];
    ptable_t *t;
    ptable_row_t *row;
    apr_status_t rv = APR_SUCCESS;

    if (!name)
        return bad(d, "overflow row's entry name");
    for (int i = 0; i < d->job->nentries && !e; i++)
        if (name_eq(d->job->entries[i]->name, name, n))
            e = d->job->entries[i];
    if (!e || !d->seen_entry[e->index] || e->top_k || d->nstates[e->index] != e->nspecs) {
        abbey_err_set(d->err, "frame payload: overflow row of entry '%s', %s",
                      e ? e->name : shown(name, n, show),
                      !e                         ? "which is not in the job"
                      : !d->seen_entry[e->index] ? "which is not in the frame"
                      : e->top_k ? "which keeps a top-K summary (it evicts, it never folds)"
                                 : "whose rows carry no line counts");
        return APR_EINVAL;
    }
    if (seen[e->index]++) {
        abbey_err_set(d->err, "frame payload: entry '%s' has two overflow rows", e->name);
        return APR_EINVAL;
    }
    t = d->scratch->tables[e->index];
    if (!(row = ptable_overflow_make(t))) {
        abbey_err_set(d->err, "frame payload: entry '%s': out of memory for its overflow row",
                      e->name);
        return APR_ENOMEM;
    }
    for (int v = 0; v < e->nspecs && rv == APR_SUCCESS; v++)
        rv = agg_decode(&e->specs[v], row->state + ptable_offset(t, v), &d->r, d->err);
    if (rv == APR_SUCCESS)
        rv = agg_decode(ptable_folded_spec(), ptable_folded_state(t), &d->r, d->err);
    ptable_heap_add(t, agg_heap_take());
    if (rv != APR_SUCCESS)
        abbey_err_prefix(d->err, "frame payload: overflow row of entry '%s'", e->name);
    return rv;
}

/* What follows the groups when some entry has an overflow row. */
static apr_status_t decode_overflows(decoder_t *d)
{
    uint64_t n = buf_get_varint(&d->r);
    uint8_t *seen = apr_pcalloc(d->scratch->pool, (size_t)d->job->nentries + 1);
    if (buf_reader_failed(&d->r))
        return bad(d, "overflow row count");
    if (n == 0 || n > (uint64_t)d->job->nentries) {
        abbey_err_set(d->err, "frame payload: %llu overflow rows, job '%s' has %d entries",
                      (unsigned long long)n, d->job->name, d->job->nentries);
        return APR_EINVAL;
    }
    for (uint64_t i = 0; i < n; i++)
        if (decode_overflow(d, seen) != APR_SUCCESS)
            return APR_EINVAL;
    return APR_SUCCESS;
}

static apr_status_t decode_payload(decoder_t *d)
{
    uint64_t ng = buf_get_varint(&d->r);
    if (buf_reader_failed(&d->r))
        return bad(d, "group count");
    if (ng > (uint64_t)d->job->ngroups) {
        abbey_err_set(d->err, "frame payload: %llu groups, job '%s' has %d", (unsigned long long)ng,
                      d->job->name, d->job->ngroups);
        return APR_EINVAL;
    }
    for (uint64_t i = 0; i < ng; i++)
        if (decode_group(d) != APR_SUCCESS)
            return APR_EINVAL;
    if (buf_reader_left(&d->r) && decode_overflows(d) != APR_SUCCESS)
        return APR_EINVAL;
    if (buf_reader_left(&d->r)) {
        abbey_err_set(d->err, "frame payload: %zu unexpected bytes after the overflow rows",
                      buf_reader_left(&d->r));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t frame_decode(const uint8_t *buf, size_t len, const struct rules_job_t *job,
                          frame_header_t *h, partial_t *into, size_t *frame_len, abbey_err_t *err)
{
    frame_header_t hh;
    frame_lens_t l;
    size_t total;
    uint8_t *raw;
    decoder_t d;
    apr_status_t rv = peek(buf, len, &hh, &l, &total, err);

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
    rv = inflate_exact(buf + FRAME_FIXED + l.h, l.z, raw, l.u, err);
    if (rv == APR_SUCCESS) {
        memset(&d, 0, sizeof d);
        buf_reader_init(&d.r, raw, l.u);
        d.job = job;
        d.err = err;
        d.scratch = partial_create(job, into->pool);
        for (int i = 0; i < job->nentries; i++) /* the frame's rows as they are: into folds */
            ptable_set_limit(d.scratch->tables[i], 0, job->entries[i]->lines_spec);
        d.seen_group = apr_pcalloc(d.scratch->pool, (size_t)job->ngroups + 1);
        d.seen_entry = apr_pcalloc(d.scratch->pool, (size_t)job->nentries + 1);
        d.nstates = apr_pcalloc(d.scratch->pool, sizeof(int) * ((size_t)job->nentries + 1));
        rv = decode_payload(&d);
        if (rv == APR_SUCCESS) {
            d.scratch->lines = hh.lines;
            d.scratch->bad_lines = hh.bad_lines;
            d.scratch->bytes = hh.bytes;
            d.scratch->regex_limit_hits = hh.regex_limit_hits;
            memcpy(d.scratch->bad_by, hh.bad_by, sizeof hh.bad_by);
            if ((rv = partial_merge(into, d.scratch, err)) != APR_SUCCESS)
                abbey_err_prefix(err, "frame: merging");
        }
        partial_destroy(d.scratch);
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
    apr_status_t rv = peek(buf, len, &hh, &l, &total, err);

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
    rv = inflate_exact(buf + FRAME_FIXED + l.h, l.z, raw, l.u, err);
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
