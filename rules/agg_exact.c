/* agg_exact.c - distinct_exact: a capped set of 64-bit value hashes (see agg.h), and
 * the open-addressing hash set it is built on (agg_hset_t, shared with the sparse
 * mode of the HyperLogLog in agg_hll.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "mem.h"

#define HSET_LG_MIN 3

/* Slot of h in a table of 1 << lg slots: Fibonacci hashing of the whole hash. */
static size_t slot_of(uint64_t h, unsigned lg)
{
    return (size_t)((h * 0x9e3779b97f4a7c15ull) >> (64 - lg));
}

void agg_hset_init(agg_hset_t *s)
{
    memset(s, 0, sizeof *s);
}

void agg_hset_free(agg_hset_t *s)
{
    if (s->slots)
        AGG_HEAP_NOTE(-((int64_t)8 << s->lg));
    free(s->slots);
    s->slots = NULL;
    s->lg = 0;
    s->n = 0;
    s->has_zero = 0;
}

/* Places a nonzero h known to be absent. */
static void place(uint64_t *slots, unsigned lg, uint64_t h)
{
    size_t mask = ((size_t)1 << lg) - 1, i = slot_of(h, lg);
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = h;
}

/* Moves the members to a table of 1 << lg slots: 0, or AGG_NOMEM (s unchanged). */
static int rehash(agg_hset_t *s, unsigned lg)
{
    size_t old = s->slots ? (size_t)1 << s->lg : 0;
    uint64_t *slots = mem_calloc((size_t)1 << lg, sizeof(uint64_t));
    if (!slots)
        return AGG_NOMEM;
    for (size_t i = 0; i < old; i++)
        if (s->slots[i])
            place(slots, lg, s->slots[i]);
    AGG_HEAP_NOTE((int64_t)8 << lg);
    if (s->slots)
        AGG_HEAP_NOTE(-((int64_t)8 << s->lg));
    free(s->slots);
    s->slots = slots;
    s->lg = (uint8_t)lg;
    return 0;
}

/* Smallest table size (log2) holding n nonzero members at 3/4 load. */
static unsigned lg_for(uint64_t n)
{
    unsigned lg = HSET_LG_MIN;
    while ((n + 1) * 4 > ((uint64_t)3 << lg))
        lg++;
    return lg;
}

int agg_hset_reserve(agg_hset_t *s, uint32_t n)
{
    unsigned lg = lg_for(n);
    if (!s->slots || lg > s->lg)
        return rehash(s, lg);
    return 0;
}

int agg_hset_has(const agg_hset_t *s, uint64_t h)
{
    size_t mask, i;
    if (!h)
        return s->has_zero;
    if (!s->slots)
        return 0;
    mask = ((size_t)1 << s->lg) - 1;
    for (i = slot_of(h, s->lg); s->slots[i]; i = (i + 1) & mask)
        if (s->slots[i] == h)
            return 1;
    return 0;
}

int agg_hset_add(agg_hset_t *s, uint64_t h)
{
    size_t mask, i;
    uint32_t held;
    if (!h) {
        if (s->has_zero)
            return 0;
        s->has_zero = 1;
        s->n++;
        return 1;
    }
    held = s->n - s->has_zero;
    if (!s->slots || (uint64_t)(held + 1) * 4 > ((uint64_t)3 << s->lg)) {
        if (agg_hset_has(s, h))
            return 0; /* present: no room needed */
        if (rehash(s, s->slots ? s->lg + 1u : HSET_LG_MIN) < 0)
            return AGG_NOMEM;
    }
    mask = ((size_t)1 << s->lg) - 1;
    for (i = slot_of(h, s->lg); s->slots[i]; i = (i + 1) & mask)
        if (s->slots[i] == h)
            return 0;
    s->slots[i] = h;
    s->n++;
    return 1;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int cmp_le64(const void *a, const void *b)
{
    uint64_t x = get_le64(a), y = get_le64(b);
    return x < y ? -1 : x > y;
}

/* The members go out as they sit in the slots, then are sorted where they
 * were written: no scratch array. */
void agg_hset_encode(const agg_hset_t *s, buf_t *out)
{
    size_t nslots = s->slots ? (size_t)1 << s->lg : 0, at;
    buf_put_varint(out, s->n);
    if (!s->n)
        return;
    buf_reserve(out, (size_t)8 * s->n);
    at = out->len;
    if (s->has_zero)
        buf_put_u64(out, 0);
    for (size_t i = 0; i < nslots; i++)
        if (s->slots[i])
            buf_put_u64(out, s->slots[i]);
    qsort(out->data + at, s->n, 8, cmp_le64);
}

int agg_hset_decode(agg_hset_t *s, uint32_t max, buf_reader_t *r, abbey_err_t *err)
{
    uint64_t n = buf_get_varint(r), prev = 0;
    if (buf_reader_failed(r)) {
        abbey_err_set(err, "truncated");
        return -1;
    }
    if (n > max || n > buf_reader_left(r) / 8) {
        abbey_err_set(err, "set of %llu hashes (limit %u, %zu bytes left)", (unsigned long long)n,
                      max, buf_reader_left(r));
        return -1;
    }
    if (n && agg_hset_reserve(s, (uint32_t)n) < 0) {
        abbey_err_set(err, "out of memory for a set of %llu hashes", (unsigned long long)n);
        return AGG_NOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t h = buf_get_u64(r);
        if (i > 0 && h <= prev) {
            abbey_err_set(err, "hashes not in increasing order at %llu", (unsigned long long)i);
            return -1;
        }
        agg_hset_add(s, h); /* cannot fail: reserved */
        prev = h;
    }
    return 0;
}

/* ---- distinct_exact ------------------------------------------------------------------ */

uint32_t agg_exact_cap(const agg_spec_t *s)
{
    if (!s->cap)
        return AGG_EXACT_CAP_DEFAULT;
    return s->cap > AGG_EXACT_CAP_MAX ? AGG_EXACT_CAP_MAX : s->cap;
}

int agg_exact_add(agg_exact_t *e, uint32_t cap, uint64_t hash)
{
    if (e->set.n < cap)
        return agg_hset_add(&e->set, hash) < 0 ? AGG_NOMEM : 0;
    if (!agg_hset_has(&e->set, hash))
        e->set.flag = 1;
    return 0;
}

int agg_exact_merge(agg_exact_t *dst, const agg_exact_t *src, uint32_t cap)
{
    const agg_hset_t *s = &src->set;
    size_t nslots = s->slots ? (size_t)1 << s->lg : 0;
    if (dst == src)
        return 0;
    if (s->flag)
        dst->set.flag = 1;
    if (s->has_zero && agg_exact_add(dst, cap, 0) < 0)
        return AGG_NOMEM;
    for (size_t i = 0; i < nslots; i++)
        if (s->slots[i] && agg_exact_add(dst, cap, s->slots[i]) < 0)
            return AGG_NOMEM;
    return 0;
}

void agg_exact_encode(const agg_exact_t *e, buf_t *out)
{
    buf_put_u8(out, e->set.flag ? 1 : 0);
    agg_hset_encode(&e->set, out);
}

int agg_exact_decode(agg_exact_t *e, uint32_t cap, buf_reader_t *r, abbey_err_t *err)
{
    uint8_t flag = buf_get_u8(r);
    if (flag > 1) {
        abbey_err_set(err, "unknown flags 0x%02x", flag);
        return -1;
    }
    e->set.flag = flag;
    return agg_hset_decode(&e->set, cap, r, err);
}
