/* buf.h - growable byte buffer for encoders, and a bounds-checked reader for decoders.
 *
 * Writers append little-endian integers, LEB128 varints, doubles and
 * length-prefixed strings to a buf_t (heap memory, released by buf_free).
 * Readers (buf_reader_t) never read past their end: a read that would is
 * refused, the reader is marked failed, and zero/NULL is returned, so a decoder
 * can read a whole record and test buf_reader_failed() once.
 * Not thread-safe; one buffer or reader per thread. */
#ifndef ABBEY_BUF_H
#define ABBEY_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct buf_t {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf_t;

typedef struct buf_reader_t {
    const uint8_t *p;
    const uint8_t *end;
    int failed;
} buf_reader_t;

/* Writer. Allocation failure aborts the process, except in buf_try_reserve: a
 * writer on the per-line path reserves with it first, so that the appends
 * that follow need no memory. */
void buf_init(buf_t *b);
void buf_free(buf_t *b);
void buf_reset(buf_t *b);                    /* len = 0, keeps capacity */
void buf_reserve(buf_t *b, size_t extra);    /* room for extra more bytes */
int buf_try_reserve(buf_t *b, size_t extra); /* the same; -1 (b unchanged) without memory */
void buf_put(buf_t *b, const void *p, size_t n);
static inline void buf_put_u8(buf_t *b, uint8_t v);
void buf_put_u32(buf_t *b, uint32_t v);               /* little-endian */
static inline void buf_put_u64(buf_t *b, uint64_t v); /* little-endian */
void buf_put_varint(buf_t *b, uint64_t v);            /* unsigned LEB128 */
void buf_put_svarint(buf_t *b, int64_t v);            /* zigzag + LEB128 */
void buf_put_f64(buf_t *b, double v);                 /* IEEE-754 bits, little-endian */
void buf_put_str(buf_t *b, const void *p, size_t n);  /* varint length + bytes */
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reader over [p, p+len). */
void buf_reader_init(buf_reader_t *r, const void *p, size_t len);
int buf_reader_failed(const buf_reader_t *r); /* 1 once any read was refused */
size_t buf_reader_left(const buf_reader_t *r);
uint8_t buf_get_u8(buf_reader_t *r);
uint32_t buf_get_u32(buf_reader_t *r);
uint64_t buf_get_u64(buf_reader_t *r);
uint64_t buf_get_varint(buf_reader_t *r); /* refuses encodings longer than 10 bytes */
int64_t buf_get_svarint(buf_reader_t *r);
double buf_get_f64(buf_reader_t *r);
/* Points *p at n bytes inside the reader's buffer (no copy); NULL and failed when short. */
const uint8_t *buf_get_bytes(buf_reader_t *r, size_t n);
/* Reads a varint length (refused above max) and points at that many bytes. */
const uint8_t *buf_get_str(buf_reader_t *r, size_t max, size_t *len);

/* Inline: the hot path (key encoding) appends a tag and a number per line. */
static inline void buf_put_u8(buf_t *b, uint8_t v)
{
    if (b->len + 1 > b->cap)
        buf_reserve(b, 1);
    b->data[b->len++] = v;
}

static inline void buf_put_u64(buf_t *b, uint64_t v)
{
    if (b->len + 8 > b->cap)
        buf_reserve(b, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(b->data + b->len, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        b->data[b->len + i] = (uint8_t)(v >> (8 * i));
#endif
    b->len += 8;
}

#endif
