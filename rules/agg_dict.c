/* agg_dict.c - a frame's dictionary of set members, and sets written as indices into it (see
 * agg.h, "the frame dictionary").
 *
 * Encoding: every member of every set the frame will hold is counted in an open-addressing
 * map (hash -> sets holding it), the distinct hashes are then ordered (by tier, most shared
 * first, then by hash) and numbered, and a set is written as its members' indices, sorted
 * and delta-coded. Decoding reads the hashes into an array (refusing a repeated one) and a set's
 * indices back into hashes. The decoder's budget bounds what the whole frame may make it
 * allocate (hashes, set members, dense registers, key bytes), whatever the indices say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "invariant.h"
#include "mem.h"

#define DICT_LG_MIN 10

typedef struct dict_slot_t {
    uint64_t hash;
    uint32_t sets;  /* sets holding it; 0: the slot is empty */
    uint32_t index; /* its place in the dictionary, once numbered */
} dict_slot_t;

struct agg_dict_t {
    /* encoder: the map, then the order */
    dict_slot_t *slots; /* 1 << lg */
    uint8_t lg;
    uint32_t n; /* distinct hashes */
    uint64_t weight;
    uint32_t *idx; /* a set's indices being written (cap entries) */
    uint32_t cap;
    /* decoder */
    uint64_t *hashes; /* n of them, in dictionary order */
    uint64_t budget;  /* what the states decoded against it may still hold */
};

agg_dict_t *agg_dict_create(void)
{
    return mem_calloc(1, sizeof(agg_dict_t));
}

void agg_dict_destroy(agg_dict_t *d)
{
    if (!d)
        return;
    free(d->slots);
    free(d->idx);
    free(d->hashes);
    free(d);
}

/* ---- encoding ----------------------------------------------------------------------- */

static size_t slot_of(uint64_t h, unsigned lg)
{
    return (size_t)((h * 0x9e3779b97f4a7c15ull) >> (64 - lg));
}

static dict_slot_t *find(dict_slot_t *slots, unsigned lg, uint64_t h)
{
    size_t mask = ((size_t)1 << lg) - 1, i = slot_of(h, lg);
    while (slots[i].sets && slots[i].hash != h)
        i = (i + 1) & mask;
    return &slots[i];
}

static int grow(agg_dict_t *d)
{
    unsigned lg = d->slots ? d->lg + 1u : DICT_LG_MIN;
    size_t old = d->slots ? (size_t)1 << d->lg : 0;
    dict_slot_t *slots = mem_calloc((size_t)1 << lg, sizeof *slots);
    if (!slots)
        return AGG_NOMEM;
    for (size_t i = 0; i < old; i++)
        if (d->slots[i].sets)
            *find(slots, lg, d->slots[i].hash) = d->slots[i];
    free(d->slots);
    d->slots = slots;
    d->lg = (uint8_t)lg;
    return 0;
}

static int count_one(agg_dict_t *d, uint64_t h)
{
    dict_slot_t *s;
    if (!d->slots || (uint64_t)(d->n + 1) * 4 > ((uint64_t)3 << d->lg))
        if (grow(d) < 0)
            return AGG_NOMEM;
    s = find(d->slots, d->lg, h);
    if (!s->sets) {
        s->hash = h;
        d->n++;
    }
    if (s->sets < UINT32_MAX)
        s->sets++;
    return 0;
}

int agg_dict_count_set(agg_dict_t *d, const agg_hset_t *set)
{
    size_t nslots = set->slots ? (size_t)1 << set->lg : 0;
    d->weight += set->n;
    if (set->has_zero && count_one(d, 0) < 0)
        return AGG_NOMEM;
    for (size_t i = 0; i < nslots; i++)
        if (set->slots[i] && count_one(d, set->slots[i]) < 0)
            return AGG_NOMEM;
    return 0;
}

void agg_dict_count_weight(agg_dict_t *d, uint64_t units)
{
    d->weight += units;
}

uint64_t agg_dict_weight(const agg_dict_t *d)
{
    return d->weight + d->n;
}

/* Hashes held by 2^t to 2^(t+1) - 1 sets are tier t. */
static int tier(uint32_t sets)
{
    return 31 - __builtin_clz(sets);
}

static int by_tier(const void *a, const void *b)
{
    const dict_slot_t *x = *(const dict_slot_t *const *)a, *y = *(const dict_slot_t *const *)b;
    int tx = tier(x->sets), ty = tier(y->sets);
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

int agg_dict_put(agg_dict_t *d, buf_t *out)
{
    size_t nslots = d->slots ? (size_t)1 << d->lg : 0, k = 0;
    dict_slot_t **order = d->n ? mem_alloc((size_t)d->n * sizeof *order) : NULL;

    if (d->n && !order)
        return AGG_NOMEM;
    for (size_t i = 0; i < nslots; i++)
        if (d->slots[i].sets)
            order[k++] = &d->slots[i];
    ABBEY_ASSERT(k == d->n);
    if (k)
        qsort(order, k, sizeof *order, by_tier);
    buf_put_varint(out, d->n);
    for (uint32_t i = 0, run = 0; i < d->n; i++) {
        order[i]->index = i;
        if (i == run) { /* a tier starts: its size, then its first hash */
            while (++run < d->n && tier(order[run]->sets) == tier(order[i]->sets))
                ;
            buf_put_varint(out, run - i);
            buf_put_u64(out, order[i]->hash);
        } else {
            buf_put_varint(out, order[i]->hash - order[i - 1]->hash - 1);
        }
    }
    free(order);
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int agg_dict_put_set(agg_dict_t *d, const agg_hset_t *set, buf_t *out)
{
    size_t nslots = set->slots ? (size_t)1 << set->lg : 0;
    uint32_t k = 0;

    buf_put_varint(out, set->n);
    if (!set->n)
        return 0;
    if (set->n > d->cap) {
        uint32_t *idx = mem_realloc(d->idx, (size_t)set->n * sizeof *idx);
        if (!idx)
            return AGG_NOMEM;
        d->idx = idx;
        d->cap = set->n;
    }
    if (set->has_zero)
        d->idx[k++] = find(d->slots, d->lg, 0)->index;
    for (size_t i = 0; i < nslots; i++)
        if (set->slots[i]) {
            const dict_slot_t *s = find(d->slots, d->lg, set->slots[i]);
            ABBEY_ASSERT(s->sets); /* counted (agg_dict_count) */
            d->idx[k++] = s->index;
        }
    ABBEY_ASSERT(k == set->n);
    qsort(d->idx, k, sizeof *d->idx, cmp_u32);
    buf_put_varint(out, d->idx[0]);
    for (uint32_t i = 1; i < k; i++)
        buf_put_varint(out, d->idx[i] - d->idx[i - 1] - 1);
    return 0;
}

/* ---- decoding ----------------------------------------------------------------------- */

apr_status_t agg_dict_get(agg_dict_t *d, buf_reader_t *r, uint64_t budget, abbey_err_t *err)
{
    uint64_t n = buf_get_varint(r);
    agg_hset_t seen;
    apr_status_t rv = APR_SUCCESS;

    if (buf_reader_failed(r)) {
        abbey_err_set(err, "dictionary: truncated");
        return APR_EINVAL;
    }
    if (n > buf_reader_left(r) || n > budget || n > UINT32_MAX) {
        abbey_err_set(err, "dictionary of %llu hashes (%zu bytes left, room for %llu)",
                      (unsigned long long)n, buf_reader_left(r), (unsigned long long)budget);
        return APR_EINVAL;
    }
    d->budget = budget - n;
    d->n = (uint32_t)n;
    if (!n)
        return APR_SUCCESS;
    agg_hset_init(&seen);
    if (!(d->hashes = mem_alloc((size_t)n * 8)) || agg_hset_reserve(&seen, (uint32_t)n) < 0) {
        abbey_err_set(err, "dictionary: out of memory for %llu hashes", (unsigned long long)n);
        agg_hset_free(&seen);
        return APR_ENOMEM;
    }
    for (uint32_t i = 0, run = 0; i < d->n && rv == APR_SUCCESS; i++) {
        if (i == run) {
            uint64_t m = buf_get_varint(r);
            if (m == 0 || m > d->n - i) {
                abbey_err_set(err, "dictionary: a tier of %llu hashes at %u of %u",
                              (unsigned long long)m, i, d->n);
                rv = APR_EINVAL;
                break;
            }
            run = i + (uint32_t)m;
            d->hashes[i] = buf_get_u64(r);
        } else {
            uint64_t gap = buf_get_varint(r);
            if (gap >= UINT64_MAX - d->hashes[i - 1]) {
                abbey_err_set(err, "dictionary: hash %u is past the largest", i);
                rv = APR_EINVAL;
                break;
            }
            d->hashes[i] = d->hashes[i - 1] + gap + 1;
        }
        if (buf_reader_failed(r)) {
            abbey_err_set(err, "dictionary: truncated at hash %u of %u", i, d->n);
            rv = APR_EINVAL;
        } else if (agg_hset_add(&seen, d->hashes[i]) == 0) {
            abbey_err_set(err, "dictionary: hash %u repeats an earlier one", i);
            rv = APR_EINVAL;
        }
    }
    agg_hset_free(&seen);
    return rv;
}

int agg_dict_take(agg_dict_t *d, uint64_t units)
{
    if (units > d->budget)
        return -1;
    d->budget -= units;
    return 0;
}

int agg_dict_get_set(agg_dict_t *d, agg_hset_t *set, uint32_t max, buf_reader_t *r,
                     abbey_err_t *err)
{
    uint64_t n = buf_get_varint(r), at = 0;

    if (buf_reader_failed(r)) {
        abbey_err_set(err, "truncated");
        return -1;
    }
    if (n > max || n > d->n || n > buf_reader_left(r)) {
        abbey_err_set(err, "set of %llu members (limit %u, dictionary of %u, %zu bytes left)",
                      (unsigned long long)n, max, d->n, buf_reader_left(r));
        return -1;
    }
    if (agg_dict_take(d, n) != 0) {
        abbey_err_set(err, "set of %llu members is more than the frame's size allows",
                      (unsigned long long)n);
        return -1;
    }
    if (n && agg_hset_reserve(set, (uint32_t)n) < 0) {
        abbey_err_set(err, "out of memory for a set of %llu hashes", (unsigned long long)n);
        return AGG_NOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t step = buf_get_varint(r);
        if (buf_reader_failed(r) || step >= d->n - at) {
            abbey_err_set(err, "index %llu of the set is %s", (unsigned long long)i,
                          buf_reader_failed(r) ? "truncated" : "past the dictionary");
            return -1;
        }
        at += step;
        agg_hset_add(set, d->hashes[at]); /* new (distinct hashes, increasing indices) and
                                             reserved: cannot fail */
        at++;
    }
    return 0;
}
