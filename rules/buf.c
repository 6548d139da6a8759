/* buf.c - byte buffer writer and bounds-checked reader (see buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void buf_init(buf_t *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_free(buf_t *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(buf_t *b)
{
    b->len = 0;
}

/* Room for extra more bytes: 0, or -1 with b unchanged. try: through mem.h
 * (the allocation the per-line path may see fail, test hook included). */
static int grow(buf_t *b, size_t extra, int try)
{
    size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
    uint8_t *data;
    if (need <= b->cap)
        return 0;
    if (need < b->len)
        return -1; /* extra overflows */
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (!(data = try ? mem_realloc(b->data, cap) : realloc(b->data, cap)))
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

int buf_try_reserve(buf_t *b, size_t extra)
{
    return grow(b, extra, 1);
}

void buf_reserve(buf_t *b, size_t extra)
{
    if (grow(b, extra, 0) < 0)
        mem_oom("a buffer", b->len + extra < b->len ? SIZE_MAX : b->len + extra);
}

void buf_put(buf_t *b, const void *p, size_t n)
{
    if (!n)
        return;
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_put_u32(buf_t *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    buf_put(b, x, 4);
}

void buf_put_varint(buf_t *b, uint64_t v)
{
    buf_reserve(b, 10);
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

void buf_put_svarint(buf_t *b, int64_t v)
{
    buf_put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void buf_put_f64(buf_t *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    buf_put_u64(b, u);
}

void buf_put_str(buf_t *b, const void *p, size_t n)
{
    buf_put_varint(b, n);
    buf_put(b, p, n);
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_reader_init(buf_reader_t *r, const void *p, size_t len)
{
    r->p = p;
    r->end = r->p + len;
    r->failed = 0;
}

int buf_reader_failed(const buf_reader_t *r)
{
    return r->failed;
}

size_t buf_reader_left(const buf_reader_t *r)
{
    return (size_t)(r->end - r->p);
}

const uint8_t *buf_get_bytes(buf_reader_t *r, size_t n)
{
    const uint8_t *p = r->p;
    if (r->failed || n > buf_reader_left(r)) {
        r->failed = 1;
        return NULL;
    }
    r->p += n;
    return p;
}

uint8_t buf_get_u8(buf_reader_t *r)
{
    const uint8_t *p = buf_get_bytes(r, 1);
    return p ? p[0] : 0;
}

uint32_t buf_get_u32(buf_reader_t *r)
{
    const uint8_t *p = buf_get_bytes(r, 4);
    uint32_t v = 0;
    if (p)
        for (int i = 0; i < 4; i++)
            v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t buf_get_u64(buf_reader_t *r)
{
    const uint8_t *p = buf_get_bytes(r, 8);
    uint64_t v = 0;
    if (p)
        for (int i = 0; i < 8; i++)
            v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint64_t buf_get_varint(buf_reader_t *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = buf_get_bytes(r, 1);
        if (!p)
            return 0;
        if (shift == 63 && *p > 1)
            break; /* would overflow 64 bits */
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80))
            return v;
    }
    r->failed = 1;
    return 0;
}

int64_t buf_get_svarint(buf_reader_t *r)
{
    uint64_t u = buf_get_varint(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

double buf_get_f64(buf_reader_t *r)
{
    uint64_t u = buf_get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

const uint8_t *buf_get_str(buf_reader_t *r, size_t max, size_t *len)
{
    uint64_t n = buf_get_varint(r);
    if (r->failed || n > max) {
        r->failed = 1;
        *len = 0;
        return NULL;
    }
    *len = (size_t)n;
    return buf_get_bytes(r, (size_t)n);
}
