/* agg.h - mergeable aggregates: the statistics an entry's values compute.
 *
 * Every aggregate is a state with init / update / merge / encode / decode /
 * result, and merge is associative and commutative, so slave-side combining,
 * master merging, spool replay and journal recovery are all the same merge.
 *
 *   count                 rows seen (no argument)
 *   sum(x)                exact for integers (128-bit accumulator; overflow of
 *                         that is detected and reported), compensated for floats
 *   min(x), max(x)        numeric; integers stay exact
 *   avg(x)                sum / count of non-missing values
 *   distinct(x)           HyperLogLog, 2^14 registers (standard error 0.81%),
 *                         exact while small (sparse list of hashes)
 *   distinct_exact(x[,cap]) set of 64-bit value hashes, at most cap (default
 *                         100000); beyond the cap it stops growing and the
 *                         result is flagged AGG_RES_CAPPED (a lower bound)
 *   percentile(x, p)      DDSketch, relative accuracy a = 1% (gamma = (1+a)/(1-a)
 *                         ~ 1.0202): the nearest-rank percentile, i.e. the k-th
 *                         smallest value with k = max(1, ceil(p/100 * n)), answered
 *                         as the representative 2 gamma^i / (gamma + 1) of the bin
 *                         holding rank k and clamped into the exact [min, max], so
 *                         within 1% of the exact value (|x| < 1e-9 counts as 0; a
 *                         store spanning over 4096 bins collapses its lowest ones)
 *
 * Missing values (VALUE_NULL) are skipped by every aggregate but count. NaN is
 * refused like a non-number; sum, avg and percentile also refuse infinities.
 * Result text: count, distinct, distinct_exact and integer sum/min/max exact
 * decimals; float sum/min/max the shortest text that reads back; avg and
 * percentile "%.10g".
 *
 * A state is a fixed block of agg_state_size() bytes (8-aligned) inside a
 * partial-table row; growing parts (HLL registers, hash sets, sketch bins) live
 * on the heap (allocated through mem.h: failure is AGG_NOMEM, never an abort)
 * and are freed by agg_release. Functions on distinct states are
 * safe in different threads; none locks. */
#ifndef ABBEY_AGG_H
#define ABBEY_AGG_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "value.h"

typedef enum agg_kind_t {
    AGG_COUNT = 0,
    AGG_SUM,
    AGG_MIN,
    AGG_MAX,
    AGG_AVG,
    AGG_DISTINCT,
    AGG_DISTINCT_EXACT,
    AGG_PERCENTILE,
    AGG__COUNT
} agg_kind_t;

#define AGG_EXACT_CAP_DEFAULT 100000u
#define AGG_EXACT_CAP_MAX 10000000u

typedef struct agg_spec_t {
    agg_kind_t kind;
    double pct;   /* percentile: p in (0, 100] */
    uint32_t cap; /* distinct_exact: cap on the set's size (0: default; max CAP_MAX) */
} agg_spec_t;

/* Result flags. */
#define AGG_RES_NULL 1     /* no values were seen (min/max/avg/percentile) */
#define AGG_RES_CAPPED 2   /* distinct_exact hit its cap: the figure is a lower bound */
#define AGG_RES_OVERFLOW 4 /* sum overflowed its 128-bit accumulator: figure is a float */

typedef struct agg_result_t {
    double num;     /* the figure as a double (sorting, comparisons) */
    char text[48];  /* the exact figure as text ("" when AGG_RES_NULL) */
    unsigned flags; /* AGG_RES_* */
} agg_result_t;

const char *agg_kind_name(agg_kind_t k);                               /* "count", "sum", ... */
int agg_kind_from_name(const char *name, size_t len, agg_kind_t *out); /* 0 or -1 */
int agg_takes_arg(agg_kind_t k);                                       /* 1 for all but count */
int agg_needs_number(agg_kind_t k); /* 1 for sum, min, max, avg, percentile */

size_t agg_state_size(const agg_spec_t *s);      /* bytes, multiple of 8 */
void agg_init(const agg_spec_t *s, void *state); /* a fresh, empty state */

/* What agg_update and agg_merge return when a heap part of the state could not
 * grow (mem.h): the state stays valid (releasable, mergeable, encodable) but
 * lacks some of what was added. Only distinct, distinct_exact and percentile
 * have heap parts. */
#define AGG_NOMEM (-2)

/* Add one value (NULL v for count). Returns 0; -1 when the aggregate needs a
 * number and v is not one (NULL values are skipped and return 0); AGG_NOMEM. */
int agg_update(const agg_spec_t *s, void *state, const value_t *v);

/* dst := dst merged with src. src is unchanged. Returns 0, or AGG_NOMEM (dst
 * then holds part of src). */
int agg_merge(const agg_spec_t *s, void *dst, const void *src);

/* Free the heap parts; the state must be agg_init'ed again before reuse. */
void agg_release(const agg_spec_t *s, void *state);

/* Serialize a state (compact; HLL and sketches sparse while small). */
void agg_encode(const agg_spec_t *s, const void *state, buf_t *out);

/* Decode one state written by agg_encode into a fresh (agg_init'ed) state.
 * Bounds every length and value before use; on malformed input returns
 * APR_EINVAL with a reason, APR_ENOMEM ("out of memory ...") when a heap part
 * could not be allocated; either way the state is then empty and valid. */
apr_status_t agg_decode(const agg_spec_t *s, void *state, buf_reader_t *r, abbey_err_t *err);

/* The figure a report shows. */
void agg_result(const agg_spec_t *s, const void *state, agg_result_t *out);

/* ---- the frame dictionary (agg_dict.c) ----------------------------------------------
 * A version 2 frame (frame.h) writes every 64-bit hash its sets hold (distinct while
 * sparse, distinct_exact) once, in a dictionary, and each set as the indices of its
 * members in it: varint count, the first index, then each gap to the next less one, all
 * varints. A page's hash held by thousands of clients' sets costs its bytes once and an
 * index of a byte or two in each set. The dictionary is ordered by tier, tier t holding
 * the hashes 2^t to 2^(t+1) - 1 of the frame's sets hold, the highest tier first (so the
 * most common members get the smallest indices), and by hash within a tier: varint count
 * of hashes, then per tier its varint size, its first hash (u64) and each next one as
 * the varint gap from the previous less one. A dense distinct is written as its nonzero
 * registers (varint count, then each as the varint gap from the previous one's index
 * plus one, and its value byte); a percentile's whole-number extremes as integers, and a
 * bin of count 1 in one byte; the other kinds as agg_encode writes them (the tag's
 * version is 2 for the three kinds whose bytes differ). One dictionary per frame being
 * encoded or decoded; not thread-safe.
 *
 * Encoding goes in three steps over the same states: agg_dict_count each, agg_dict_put
 * (numbers the hashes and appends the dictionary), agg_encode_dict each. Decoding:
 * agg_dict_get, then agg_decode_dict each state, in the order they were written. The
 * decoder is given a budget, in units of 8 bytes of memory: the dictionary's hashes, set
 * members (one unit each), dense registers (AGG_DICT_DENSE_WEIGHT each state) and
 * whatever the caller charges (agg_dict_take) come out of it, and a state that would
 * exceed it is refused as malformed, so that a small frame cannot make its decoder
 * allocate much. agg_dict_weight is what the counted states will cost a decoder. */
typedef struct agg_dict_t agg_dict_t;
#define AGG_DICT_DENSE_WEIGHT 2048 /* 16 KiB of registers */

agg_dict_t *agg_dict_create(void);    /* NULL without memory */
void agg_dict_destroy(agg_dict_t *d); /* NULL is fine */
/* Count state's set members (AGG_NOMEM when the dictionary could not grow). */
int agg_dict_count(agg_dict_t *d, const agg_spec_t *s, const void *state);
void agg_dict_count_weight(agg_dict_t *d, uint64_t units); /* a caller's own units */
uint64_t agg_dict_weight(const agg_dict_t *d);
/* Number the counted hashes and append varint n and the n hashes (u64): 0 or AGG_NOMEM. */
int agg_dict_put(agg_dict_t *d, buf_t *out);
/* agg_encode, with the sets as indices (the state must have been counted): 0, or
 * AGG_NOMEM (scratch for a set's indices). */
int agg_encode_dict(const agg_spec_t *s, const void *state, agg_dict_t *d, buf_t *out);
/* Read a dictionary (at most budget hashes, each 8 bytes that are there, none repeated)
 * into a fresh d and keep what is left of budget: APR_SUCCESS, APR_EINVAL or APR_ENOMEM
 * with the reason. */
apr_status_t agg_dict_get(agg_dict_t *d, buf_reader_t *r, uint64_t budget, abbey_err_t *err);
/* Take units from the budget: 0, or -1 (unchanged) when there are not that many left. */
int agg_dict_take(agg_dict_t *d, uint64_t units);
/* agg_decode of what agg_encode_dict (or agg_encode_derived) wrote, against d, as
 * agg_decode (the state is empty and valid on failure). *from is -1, or for a derived
 * state the value it is derived from (then the state is empty: see agg_derive). */
apr_status_t agg_decode_dict(const agg_spec_t *s, void *state, agg_dict_t *d, buf_reader_t *r,
                             int *from, abbey_err_t *err);

/* A distinct state that is exactly what a distinct_exact state of the same row gives
 * (the hashes of the set while it is sparse, their registers once dense: as when both
 * saw the same values and the exact set is not capped) is written as a reference to that
 * value instead of its hashes or registers: agg_encode_derived writes the tag, form byte 3
 * and the varint index of the value (< AGG_DERIVED_MAX). agg_derives: 1 when state (of
 * spec s) is what xstate (of spec xs) gives; agg_derive makes state (empty) so, out of
 * d's budget: APR_SUCCESS, or APR_EINVAL / APR_ENOMEM with the reason (state then empty). */
#define AGG_DERIVED_MAX 65536
int agg_derives(const agg_spec_t *s, const void *state, const agg_spec_t *xs, const void *xstate);
void agg_encode_derived(const agg_spec_t *s, int from, buf_t *out);
apr_status_t agg_derive(const agg_spec_t *s, void *state, const agg_spec_t *xs, const void *xstate,
                        agg_dict_t *d, abbey_err_t *err);

/* Memory the state holds on the heap (its growing parts), in bytes, with
 * AGG_HEAP_OVERHEAD per block for the allocator's own: 0 for the fixed
 * kinds. O(1). */
#define AGG_HEAP_OVERHEAD 16
size_t agg_heap_bytes(const agg_spec_t *s, const void *state);

/* What the heap parts of the calling thread's states grew by (negative: gave
 * back) since the last agg_heap_take, in agg_heap_bytes's measure: every
 * allocation and free of a heap part adds its size here, so the owner of the
 * states (ptable.h) learns what an update, merge or decode cost by taking it
 * right after, without looking at the states. A kind with heap parts must
 * note them (agg_int.h, AGG_HEAP_NOTE). */
extern __thread int64_t agg_heap_delta;
static inline int64_t agg_heap_take(void)
{
    int64_t d = agg_heap_delta;
    agg_heap_delta = 0;
    return d;
}

/* The n of a count state (s->kind must be AGG_COUNT). */
uint64_t agg_count_value(const void *state);

/* Shortest "%.Ng" text (N <= 17) that reads back as d, into out (n bytes);
 * whole numbers below 1e17 without an exponent: how float figures are shown. */
void agg_fmt_double(char *out, size_t n, double d);

/* ---- ranking: what a top-K summary (ptable_top.h) needs of its count or sum ---
 * agg_ranks(k): 1 for the kinds a summary may rank rows by: count and sum (their
 * states are plain bytes: no heap part, copied by agg_copy, added by agg_merge).
 * The others take such a state only. */
int agg_ranks(agg_kind_t k);
/* <0, 0, >0 as a's figure is below, equal to, above b's: exact for counts and
 * integer sums, by the double figure once a sum holds a float or overflowed. */
int agg_cmp(const agg_spec_t *s, const void *a, const void *b);
/* dst := src (dst's old contents are dropped; neither has heap parts). */
void agg_copy(const agg_spec_t *s, void *dst, const void *src);
/* 1 when the figure is zero or more (not a negative sum, not NaN), else 0. */
int agg_nonneg(const agg_spec_t *s, const void *state);
/* 1 when the figure is zero (an empty state), else 0. */
int agg_zero(const agg_spec_t *s, const void *state);

#endif
