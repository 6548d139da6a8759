/* frame_ranges.c - a frame's range list: the ranges a frame of several covers (frame.h,
 * docs/CLUSTER.md "Frames of several ranges").
 *
 * frame.c writes the list at the end of the header and reads it back; both go through
 * the one check here, so an encoder never writes a list a decoder refuses. The decoder
 * checks the list in place (sources point into the header) and copies it out only when
 * asked, so frame_peek costs no more than a bounded walk of at most FRAME_MAX_RANGES
 * entries. */
#include <stdio.h>
#include <string.h>

#include "frame_int.h"

/* Add b to *sum; 0 when it overflowed. */
static int add_ok(uint64_t *sum, uint64_t b)
{
    if (*sum > UINT64_MAX - b)
        return 0;
    *sum += b;
    return 1;
}

static int same_source(const frame_range_view_t *a, const frame_range_view_t *b)
{
    return a->slen == b->slen && memcmp(a->src, b->src, a->slen) == 0;
}

/* Range i's own fields: a source of 1 to FRAME_SOURCE_MAX - 1 bytes without a NUL, a
 * non-empty range. */
static int check_one(const frame_range_view_t *v, uint32_t i, abbey_err_t *err)
{
    if (v->slen == 0 || v->slen >= FRAME_SOURCE_MAX || memchr(v->src, 0, v->slen)) {
        abbey_err_set(err, "range %u: the source is %s", i + 1,
                      v->slen == 0                  ? "empty"
                      : v->slen >= FRAME_SOURCE_MAX ? "too long"
                                                    : "holding a NUL byte");
        return -1;
    }
    if (v->start >= v->end) {
        abbey_err_set(err, "range %u (%.*s): [%llu, %llu) is empty or inverted", i + 1,
                      (int)v->slen, v->src, (unsigned long long)v->start,
                      (unsigned long long)v->end);
        return -1;
    }
    return 0;
}

int frame_ranges_check(const frame_range_view_t *v, uint32_t n, const frame_header_t *h,
                       abbey_err_t *err)
{
    uint64_t lines = 0, bad = 0, bytes = 0;

    if (n < 2 || n > FRAME_MAX_RANGES) {
        abbey_err_set(err, "a range list of %u ranges (2 to %d are allowed)", n, FRAME_MAX_RANGES);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (check_one(&v[i], i, err) != 0)
            return -1;
        for (uint32_t k = 0; k < i; k++)
            if (same_source(&v[k], &v[i]) && v[k].start < v[i].end && v[i].start < v[k].end) {
                abbey_err_set(err,
                              "ranges %u and %u of %.*s overlap: [%llu, %llu) and [%llu, %llu)",
                              k + 1, i + 1, (int)v[i].slen, v[i].src,
                              (unsigned long long)v[k].start, (unsigned long long)v[k].end,
                              (unsigned long long)v[i].start, (unsigned long long)v[i].end);
                return -1;
            }
        if (!add_ok(&lines, v[i].lines) || !add_ok(&bad, v[i].bad_lines) ||
            !add_ok(&bytes, v[i].bytes)) {
            abbey_err_set(err, "the ranges' counters overflow");
            return -1;
        }
    }
    if (strlen(h->source) != v[0].slen || memcmp(h->source, v[0].src, v[0].slen) != 0 ||
        h->start != v[0].start || h->end != v[0].end || h->lease != v[0].lease) {
        abbey_err_set(err, "range 1 is not the header's range");
        return -1;
    }
    if (lines != h->lines || bad != h->bad_lines || bytes != h->bytes) {
        abbey_err_set(err,
                      "the ranges' lines, bad lines and bytes (%llu, %llu, %llu) are not the "
                      "frame's (%llu, %llu, %llu)",
                      (unsigned long long)lines, (unsigned long long)bad, (unsigned long long)bytes,
                      (unsigned long long)h->lines, (unsigned long long)h->bad_lines,
                      (unsigned long long)h->bytes);
        return -1;
    }
    return 0;
}

void frame_ranges_put(buf_t *b, const frame_ranges_t *r)
{
    buf_put_varint(b, r->n);
    for (uint32_t i = 0; i < r->n; i++) {
        const frame_range_t *x = &r->r[i];
        buf_put_str(b, x->source, strlen(x->source));
        buf_put_varint(b, x->lease);
        buf_put_varint(b, x->start);
        buf_put_varint(b, x->end);
        buf_put_varint(b, x->lines);
        buf_put_varint(b, x->bad_lines);
        buf_put_varint(b, x->bytes);
    }
}

void frame_ranges_view(const frame_ranges_t *r, frame_range_view_t *v)
{
    for (uint32_t i = 0; i < r->n && i < FRAME_MAX_RANGES; i++) {
        const frame_range_t *x = &r->r[i];
        v[i] = (frame_range_view_t){(const uint8_t *)x->source,
                                    strnlen(x->source, FRAME_SOURCE_MAX),
                                    x->lease,
                                    x->start,
                                    x->end,
                                    x->lines,
                                    x->bad_lines,
                                    x->bytes};
    }
}

int frame_ranges_get(buf_reader_t *rd, const frame_header_t *h, frame_ranges_t *out, uint32_t *n,
                     abbey_err_t *err)
{
    frame_range_view_t v[FRAME_MAX_RANGES];
    uint64_t count = buf_get_varint(rd);

    if (buf_reader_failed(rd) || count < 2 || count > FRAME_MAX_RANGES) {
        abbey_err_set(err, "malformed range list (a count of 2 to %d ranges expected)",
                      FRAME_MAX_RANGES);
        return -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        v[i].src = buf_get_str(rd, FRAME_SOURCE_MAX - 1, &v[i].slen);
        v[i].lease = buf_get_varint(rd);
        v[i].start = buf_get_varint(rd);
        v[i].end = buf_get_varint(rd);
        v[i].lines = buf_get_varint(rd);
        v[i].bad_lines = buf_get_varint(rd);
        v[i].bytes = buf_get_varint(rd);
        if (!v[i].src || buf_reader_failed(rd)) {
            abbey_err_set(err, "range %u of %llu is truncated or malformed", i + 1,
                          (unsigned long long)count);
            return -1;
        }
    }
    if (frame_ranges_check(v, (uint32_t)count, h, err) != 0)
        return -1;
    *n = (uint32_t)count;
    if (!out)
        return 0;
    out->n = (uint32_t)count;
    for (uint32_t i = 0; i < count; i++) {
        frame_range_t *x = &out->r[i];
        memcpy(x->source, v[i].src, v[i].slen);
        x->source[v[i].slen] = '\0';
        x->lease = v[i].lease;
        x->start = v[i].start;
        x->end = v[i].end;
        x->lines = v[i].lines;
        x->bad_lines = v[i].bad_lines;
        x->bytes = v[i].bytes;
    }
    return 0;
}

void frame_ranges_of_header(const frame_header_t *h, frame_ranges_t *out)
{
    frame_range_t *x = &out->r[0];
    out->n = 1;
    memcpy(x->source, h->source, sizeof x->source);
    x->lease = h->lease;
    x->start = h->start;
    x->end = h->end;
    x->lines = h->lines;
    x->bad_lines = h->bad_lines;
    x->bytes = h->bytes;
}

void frame_ranges_text(const frame_ranges_t *r, char *out, size_t size)
{
    size_t at = 0;
    int k = 0;

    out[0] = '\0';
    if (r->n > 1)
        k = snprintf(out, size, "%u ranges: ", r->n);
    for (uint32_t i = 0; k >= 0 && i < r->n; i++) {
        at += (size_t)k;
        if (at >= size)
            break;
        k = snprintf(out + at, size - at, "%s%s [%llu, %llu)", i ? ", " : "", r->r[i].source,
                     (unsigned long long)r->r[i].start, (unsigned long long)r->r[i].end);
    }
}
