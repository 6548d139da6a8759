/* agg_int.h - internals shared by the aggregate files (agg.c, agg_hll.c, agg_exact.c,
 * agg_ddsketch.c): the state layouts, the encoding tag, the u64 hash set used by both
 * distinct kinds, and the per-kind entry points agg.c dispatches to. Not a public header. */
#ifndef ABBEY_AGG_INT_H
#define ABBEY_AGG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h"

/* A heap part of n bytes was allocated (n > 0) or freed (n < 0): the
 * accounting of agg_heap_take (agg.h), with the allocator's overhead. */
#define AGG_HEAP_NOTE(n)                                                                           \
    (agg_heap_delta += (n) > 0 ? (int64_t)(n) + AGG_HEAP_OVERHEAD : (int64_t)(n)-AGG_HEAP_OVERHEAD)

/* Encoded states start with one tag byte: the format version in the high nibble,
 * the kind in the low nibble. */
#define AGG_FORMAT_VERSION 1
#define AGG_TAG(kind) ((uint8_t)((AGG_FORMAT_VERSION << 4) | (unsigned)(kind)))

/* States written against a frame dictionary (agg_encode_dict) whose bytes differ from
 * agg_encode's (distinct, distinct_exact) carry this version in their tag. */
#define AGG_DICT_FORMAT_VERSION 2
#define AGG_TAG_DICT(kind) ((uint8_t)((AGG_DICT_FORMAT_VERSION << 4) | (unsigned)(kind)))

/* Reads and checks the tag byte; on mismatch fills err and returns -1. */
int agg_check_tag(const agg_spec_t *s, buf_reader_t *r, abbey_err_t *err);

/* ---- hash set of 64-bit hashes (open addressing, linear probing) ---------------- */

/* Slot value 0 means empty; the member 0 is kept in has_zero instead. n counts
 * every member, the zero included. Grows by doubling at 3/4 load. */
typedef struct agg_hset_t {
    uint64_t *slots; /* 1 << lg slots, NULL while lg == 0 */
    uint32_t n;
    uint8_t lg;
    uint8_t has_zero;
    uint8_t flag; /* free for the owner: distinct_exact's capped mark */
    uint8_t pad;
} agg_hset_t;

/* Functions that grow a heap part return AGG_NOMEM (agg.h) when the memory is
 * not there (mem.h); the state is then still valid and releasable. */
void agg_hset_init(agg_hset_t *s);
void agg_hset_free(agg_hset_t *s);
int agg_hset_add(agg_hset_t *s, uint64_t h); /* 1 added, 0 already present, AGG_NOMEM */
int agg_hset_has(const agg_hset_t *s, uint64_t h);
int agg_hset_reserve(agg_hset_t *s, uint32_t n); /* room for n members without growth */
/* Writes varint n then the members in increasing order as u64. */
void agg_hset_encode(const agg_hset_t *s, buf_t *out);
/* Reads what agg_hset_encode wrote into an empty set, refusing more than max
 * members, more members than bytes left, and members not strictly increasing.
 * Returns 0, or -1 (malformed) or AGG_NOMEM with err filled (the set stays
 * releasable). */
int agg_hset_decode(agg_hset_t *s, uint32_t max, buf_reader_t *r, abbey_err_t *err);

/* ---- sets against a frame dictionary (agg_dict.c, see agg.h) ------------------------ */

int agg_dict_count_set(agg_dict_t *d, const agg_hset_t *set);           /* 0, AGG_NOMEM */
int agg_dict_put_set(agg_dict_t *d, const agg_hset_t *set, buf_t *out); /* 0, AGG_NOMEM */
/* Into an empty set: at most max members, each in the dictionary, out of the budget.
 * 0, -1 (malformed) or AGG_NOMEM, with err filled. */
int agg_dict_get_set(agg_dict_t *d, agg_hset_t *set, uint32_t max, buf_reader_t *r,
                     abbey_err_t *err);

/* ---- distinct (HyperLogLog, agg_hll.c) ------------------------------------------- */

#define AGG_HLL_P 14
#define AGG_HLL_M (1u << AGG_HLL_P)
#define AGG_HLL_SPARSE_MAX 1024u /* exact hashes kept before turning dense */

/* Sparse (regs NULL): set holds the distinct hashes. Dense: regs is a heap array
 * of AGG_HLL_M one-byte registers and the set is empty. */
typedef struct agg_hll_t {
    agg_hset_t set;
    uint8_t *regs;
} agg_hll_t;

void agg_hll_init(agg_hll_t *h);
void agg_hll_release(agg_hll_t *h);
int agg_hll_add(agg_hll_t *h, uint64_t hash);            /* 0 or AGG_NOMEM */
int agg_hll_merge(agg_hll_t *dst, const agg_hll_t *src); /* 0 or AGG_NOMEM */
void agg_hll_encode(const agg_hll_t *h, buf_t *out);
int agg_hll_decode(agg_hll_t *h, buf_reader_t *r, abbey_err_t *err); /* 0, -1, AGG_NOMEM */
double agg_hll_estimate(const agg_hll_t *h);
int agg_hll_count_dict(const agg_hll_t *h, agg_dict_t *d);              /* 0, AGG_NOMEM */
int agg_hll_encode_dict(const agg_hll_t *h, agg_dict_t *d, buf_t *out); /* 0, AGG_NOMEM */
/* 0, -1 or AGG_NOMEM; *from as agg_decode_dict's (agg.h) */
int agg_hll_decode_dict(agg_hll_t *h, agg_dict_t *d, buf_reader_t *r, int *from, abbey_err_t *err);

/* ---- distinct_exact (capped hash set, agg_exact.c) ------------------------------- */

/* set.flag is 1 once the cap refused a member. */
typedef struct agg_exact_t {
    agg_hset_t set;
} agg_exact_t;

uint32_t agg_exact_cap(const agg_spec_t *s); /* spec cap, default and max applied */
int agg_exact_add(agg_exact_t *e, uint32_t cap, uint64_t hash);              /* 0, AGG_NOMEM */
int agg_exact_merge(agg_exact_t *dst, const agg_exact_t *src, uint32_t cap); /* 0, AGG_NOMEM */
void agg_exact_encode(const agg_exact_t *e, buf_t *out);
/* 0, -1 (malformed) or AGG_NOMEM */
int agg_exact_decode(agg_exact_t *e, uint32_t cap, buf_reader_t *r, abbey_err_t *err);

/* agg_derives and agg_derive (agg.h) for a distinct h and a distinct_exact x (agg_hll.c) */
int agg_hll_of_exact(const agg_hll_t *h, const agg_exact_t *x);
int agg_hll_derive(agg_hll_t *h, const agg_exact_t *x, agg_dict_t *d, abbey_err_t *err);
void agg_hll_encode_derived(int from, buf_t *out);

/* ---- percentile (DDSketch, agg_ddsketch.c) --------------------------------------- */

#define AGG_DD_ALPHA 0.01
#define AGG_DD_MAX_BINS 4096                 /* per store; lowest bins collapse beyond this */
#define AGG_DD_ZERO 1e-9                     /* |x| below this counts as zero */
#define AGG_DD_LN_GAMMA 0.020000666706669524 /* log((1 + ALPHA) / (1 - ALPHA)) */

/* Bin counts for indices [lo, hi] (n > 0), stored at c[idx - off], c has cap slots. */
typedef struct agg_ddstore_t {
    uint64_t *c;
    uint64_t n;
    int32_t off;
    uint32_t cap;
    int32_t lo, hi;
} agg_ddstore_t;

typedef struct agg_dd_t {
    agg_ddstore_t pos, neg; /* neg holds |x| of negative values */
    uint64_t zero;
    double min, max; /* exact extremes (valid when a count is > 0) */
} agg_dd_t;

void agg_dd_init(agg_dd_t *d);
void agg_dd_release(agg_dd_t *d);
int agg_dd_add(agg_dd_t *d, double x);                /* 0; -1 for NaN and infinities; AGG_NOMEM */
int agg_dd_merge(agg_dd_t *dst, const agg_dd_t *src); /* 0 or AGG_NOMEM */
void agg_dd_encode(const agg_dd_t *d, buf_t *out);
int agg_dd_decode(agg_dd_t *d, buf_reader_t *r, abbey_err_t *err); /* 0, -1, AGG_NOMEM */
/* Against a frame dictionary (agg.h): whole-number extremes as integers. */
void agg_dd_encode_dict(const agg_dd_t *d, buf_t *out);
int agg_dd_decode_dict(agg_dd_t *d, buf_reader_t *r, abbey_err_t *err); /* 0, -1, AGG_NOMEM */
uint64_t agg_dd_count(const agg_dd_t *d);
/* The pct-th percentile (nearest rank, see agg.h); d must hold a value. */
double agg_dd_quantile(const agg_dd_t *d, double pct);

#endif
