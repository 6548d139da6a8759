/* agg.c - aggregate dispatch by kind, kind names, and the small fixed-size kinds:
 * count, sum, min, max, avg (see agg.h), with the comparisons a top-K summary
 * ranks counts and sums by. The kinds with heap parts live in agg_hll.c
 * (distinct), agg_exact.c (distinct_exact) and agg_ddsketch.c (percentile). */
#include "agg.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "invariant.h"

/* The ranking functions take a count or a sum only. */
#define ASSERT_RANKS(s) ABBEY_ASSERT(agg_ranks((s)->kind))

/* ---- state layouts of the fixed kinds --------------------------------------------- */

typedef struct agg_count_t {
    uint64_t n;
} agg_count_t;

#define SUM_FLOAT 1u    /* a non-integer value was added to fs/fc */
#define SUM_OVERFLOW 2u /* the 128-bit accumulator overflowed; part of it moved to fs */

/* sum and avg. The int128 lives in two words: the block is only 8-aligned. */
typedef struct agg_sum_t {
    uint64_t lo, hi; /* exact sum of the integer values */
    double fs, fc;   /* Neumaier sum of the other values, and its compensation */
    uint64_t n;      /* values added */
    uint32_t flags;  /* SUM_* */
    uint32_t pad;
} agg_sum_t;

#define MM_INT 1u /* i holds the extreme of the integer values */
#define MM_FLT 2u /* d holds the extreme of the non-integer values */

/* min and max: integers and floats kept apart, so integers stay exact. */
typedef struct agg_mm_t {
    int64_t i;
    double d;
    uint32_t flags;
    uint32_t pad;
} agg_mm_t;

_Static_assert(sizeof(agg_count_t) % 8 == 0, "state size");
_Static_assert(sizeof(agg_sum_t) % 8 == 0, "state size");
_Static_assert(sizeof(agg_mm_t) % 8 == 0, "state size");
_Static_assert(sizeof(agg_hll_t) % 8 == 0, "state size");
_Static_assert(sizeof(agg_exact_t) % 8 == 0, "state size");
_Static_assert(sizeof(agg_dd_t) % 8 == 0, "state size");

/* ---- names -------------------------------------------------------------------------- */

static const char *const kind_names[AGG__COUNT] = {
    "count", "sum", "min", "max", "avg", "distinct", "distinct_exact", "percentile",
};

const char *agg_kind_name(agg_kind_t k)
{
    return (unsigned)k < AGG__COUNT ? kind_names[k] : "?";
}

int agg_kind_from_name(const char *name, size_t len, agg_kind_t *out)
{
    for (int k = 0; k < AGG__COUNT; k++) {
        if (strlen(kind_names[k]) == len && memcmp(kind_names[k], name, len) == 0) {
            *out = (agg_kind_t)k;
            return 0;
        }
    }
    return -1;
}

int agg_takes_arg(agg_kind_t k)
{
    return k != AGG_COUNT;
}

int agg_needs_number(agg_kind_t k)
{
    return k == AGG_SUM || k == AGG_MIN || k == AGG_MAX || k == AGG_AVG || k == AGG_PERCENTILE;
}

/* ---- text helpers --------------------------------------------------------------------- */

void agg_fmt_double(char *out, size_t n, double d)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    /* a whole number below 1e17 reads better without an exponent: "15000000000" */
    if (strchr(out, 'e') && fabs(d) >= 1 && fabs(d) < 1e17)
        snprintf(out, n, "%.0f", d);
}

static __int128 sum_get(const agg_sum_t *s)
{
    return (__int128)(((unsigned __int128)s->hi << 64) | s->lo);
}

static void sum_set(agg_sum_t *s, __int128 v)
{
    s->lo = (uint64_t)v;
    s->hi = (uint64_t)((unsigned __int128)v >> 64);
}

static void i128_text(char *out, __int128 v)
{
    char tmp[48];
    int k = 0;
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[k++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (v < 0)
        *out++ = '-';
    while (k)
        *out++ = tmp[--k];
    *out = '\0';
}

/* ---- sum / avg -------------------------------------------------------------------------- */

/* Neumaier's compensated addition of x to (*s, *c). */
static void neu_add(double *s, double *c, double x)
{
    double t = *s + x;
    if (isfinite(t))
        *c += fabs(*s) >= fabs(x) ? (*s - t) + x : (x - t) + *s;
    *s = t;
}

/* Adds an integer (or a whole accumulator) to the exact part; on overflow the old
 * exact part moves into the float part and the flag sticks. */
static void sum_add_int(agg_sum_t *s, __int128 x)
{
    __int128 acc = sum_get(s), r;
    if (__builtin_add_overflow(acc, x, &r)) {
        neu_add(&s->fs, &s->fc, (double)acc);
        s->flags |= SUM_OVERFLOW;
        r = x;
    }
    sum_set(s, r);
}

static double sum_total(const agg_sum_t *s)
{
    double t = s->fs, c = s->fc;
    neu_add(&t, &c, (double)sum_get(s));
    return t + c;
}

static void sum_merge(agg_sum_t *d, const agg_sum_t *s)
{
    __int128 x = sum_get(s);
    double fs = s->fs, fc = s->fc;
    d->flags |= s->flags;
    d->n += s->n;
    sum_add_int(d, x);
    neu_add(&d->fs, &d->fc, fs);
    d->fc += fc;
}

static void sum_result(const agg_sum_t *s, agg_result_t *out)
{
    out->num = sum_total(s);
    if (s->flags & SUM_OVERFLOW)
        out->flags |= AGG_RES_OVERFLOW;
    if (s->flags & (SUM_FLOAT | SUM_OVERFLOW))
        agg_fmt_double(out->text, sizeof out->text, out->num);
    else
        i128_text(out->text, sum_get(s));
}

static void avg_result(const agg_sum_t *s, agg_result_t *out)
{
    if (!s->n) {
        out->flags |= AGG_RES_NULL;
        return;
    }
    if (s->flags & (SUM_FLOAT | SUM_OVERFLOW)) {
        out->num = sum_total(s) / (double)s->n;
    } else {
        __int128 v = sum_get(s), q = v / (__int128)s->n, r = v % (__int128)s->n;
        out->num = (double)q + (double)r / (double)s->n;
    }
    snprintf(out->text, sizeof out->text, "%.10g", out->num);
}

static void sum_encode(const agg_sum_t *s, buf_t *out)
{
    __int128 v = sum_get(s);
    unsigned __int128 z = ((unsigned __int128)v << 1) ^ (unsigned __int128)(v >> 127);
    buf_put_u8(out, (uint8_t)s->flags);
    buf_put_varint(out, s->n);
    buf_put_varint(out, (uint64_t)z);
    buf_put_varint(out, (uint64_t)(z >> 64));
    if (s->flags & (SUM_FLOAT | SUM_OVERFLOW)) {
        buf_put_f64(out, s->fs);
        buf_put_f64(out, s->fc);
    }
}

static int sum_decode(agg_sum_t *s, buf_reader_t *r, abbey_err_t *err)
{
    unsigned __int128 z;
    uint8_t flags = buf_get_u8(r);
    if (flags & ~(SUM_FLOAT | SUM_OVERFLOW)) {
        abbey_err_set(err, "unknown flags 0x%02x", flags);
        return -1;
    }
    s->flags = flags;
    s->n = buf_get_varint(r);
    z = buf_get_varint(r);
    z |= (unsigned __int128)buf_get_varint(r) << 64;
    sum_set(s, (__int128)(z >> 1) ^ -(__int128)(z & 1));
    if (flags) {
        s->fs = buf_get_f64(r);
        s->fc = buf_get_f64(r);
    }
    return 0;
}

static int sum_update(agg_sum_t *s, const value_t *v)
{
    int64_t i;
    double f;
    int is_int;
    if (value_to_number(v, &i, &f, &is_int) < 0 || (!is_int && !isfinite(f)))
        return -1;
    if (is_int) {
        sum_add_int(s, i);
    } else {
        neu_add(&s->fs, &s->fc, f);
        s->flags |= SUM_FLOAT;
    }
    s->n++;
    return 0;
}

/* ---- min / max ------------------------------------------------------------------------ */

/* <0, 0, >0 as the integer i is below, equal to, above the (non-NaN) double d. */
static int cmp_int_dbl(int64_t i, double d)
{
    double fl;
    int64_t di;
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    fl = floor(d);
    di = (int64_t)fl;
    if (i != di)
        return i < di ? -1 : 1;
    return fl < d ? -1 : 0;
}

/* Keeps in m the smaller (want_max 0) or larger (1) of m and (i | d). */
static void mm_put(agg_mm_t *m, int want_max, int is_int, int64_t i, double d)
{
    if (is_int) {
        if (!(m->flags & MM_INT) || (want_max ? i > m->i : i < m->i))
            m->i = i;
        m->flags |= MM_INT;
    } else {
        if (!(m->flags & MM_FLT) || (want_max ? d > m->d : d < m->d))
            m->d = d;
        m->flags |= MM_FLT;
    }
}

static int mm_update(agg_mm_t *m, int want_max, const value_t *v)
{
    int64_t i;
    double f;
    int is_int;
    if (value_to_number(v, &i, &f, &is_int) < 0 || (!is_int && isnan(f)))
        return -1;
    mm_put(m, want_max, is_int, i, f);
    return 0;
}

static void mm_merge(agg_mm_t *d, const agg_mm_t *s, int want_max)
{
    if (s->flags & MM_INT)
        mm_put(d, want_max, 1, s->i, 0);
    if (s->flags & MM_FLT)
        mm_put(d, want_max, 0, 0, s->d);
}

/* The extreme as it was seen: an integer prints exactly, a float shortest. */
static void mm_result(const agg_mm_t *m, int want_max, agg_result_t *out)
{
    int use_int;
    if (!m->flags) {
        out->flags |= AGG_RES_NULL;
        return;
    }
    if (m->flags == (MM_INT | MM_FLT)) {
        int c = cmp_int_dbl(m->i, m->d);
        use_int = want_max ? c >= 0 : c <= 0;
    } else {
        use_int = m->flags == MM_INT;
    }
    if (use_int) {
        out->num = (double)m->i;
        snprintf(out->text, sizeof out->text, "%" PRId64, m->i);
    } else {
        out->num = m->d;
        agg_fmt_double(out->text, sizeof out->text, m->d);
    }
}

static void mm_encode(const agg_mm_t *m, buf_t *out)
{
    buf_put_u8(out, (uint8_t)m->flags);
    if (m->flags & MM_INT)
        buf_put_svarint(out, m->i);
    if (m->flags & MM_FLT)
        buf_put_f64(out, m->d);
}

static int mm_decode(agg_mm_t *m, buf_reader_t *r, abbey_err_t *err)
{
    uint8_t flags = buf_get_u8(r);
    if (flags & ~(MM_INT | MM_FLT)) {
        abbey_err_set(err, "unknown flags 0x%02x", flags);
        return -1;
    }
    m->flags = flags;
    if (flags & MM_INT)
        m->i = buf_get_svarint(r);
    if (flags & MM_FLT) {
        m->d = buf_get_f64(r);
        if (isnan(m->d) && !buf_reader_failed(r)) {
            abbey_err_set(err, "NaN extreme");
            return -1;
        }
    }
    return 0;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

size_t agg_state_size(const agg_spec_t *s)
{
    switch (s->kind) {
    case AGG_COUNT:
        return sizeof(agg_count_t);
    case AGG_SUM:
    case AGG_AVG:
        return sizeof(agg_sum_t);
    case AGG_MIN:
    case AGG_MAX:
        return sizeof(agg_mm_t);
    case AGG_DISTINCT:
        return sizeof(agg_hll_t);
    case AGG_DISTINCT_EXACT:
        return sizeof(agg_exact_t);
    case AGG_PERCENTILE:
        return sizeof(agg_dd_t);
    default:
        return 8;
    }
}

void agg_init(const agg_spec_t *s, void *state)
{
    memset(state, 0, agg_state_size(s));
    if (s->kind == AGG_DISTINCT)
        agg_hll_init(state);
    else if (s->kind == AGG_DISTINCT_EXACT)
        agg_hset_init(&((agg_exact_t *)state)->set);
    else if (s->kind == AGG_PERCENTILE)
        agg_dd_init(state);
}

int agg_update(const agg_spec_t *s, void *state, const value_t *v)
{
    double f;
    if (s->kind == AGG_COUNT) {
        ((agg_count_t *)state)->n++;
        return 0;
    }
    if (!v || v->kind == VALUE_NULL)
        return 0;
    switch (s->kind) {
    case AGG_SUM:
    case AGG_AVG:
        return sum_update(state, v);
    case AGG_MIN:
    case AGG_MAX:
        return mm_update(state, s->kind == AGG_MAX, v);
    case AGG_DISTINCT:
        return agg_hll_add(state, value_hash(v));
    case AGG_DISTINCT_EXACT:
        return agg_exact_add(state, agg_exact_cap(s), value_hash(v));
    case AGG_PERCENTILE:
        if (value_to_double(v, &f) < 0)
            return -1;
        return agg_dd_add(state, f);
    default:
        return -1;
    }
}

int agg_merge(const agg_spec_t *s, void *dst, const void *src)
{
    switch (s->kind) {
    case AGG_COUNT:
        ((agg_count_t *)dst)->n += ((const agg_count_t *)src)->n;
        break;
    case AGG_SUM:
    case AGG_AVG:
        sum_merge(dst, src);
        break;
    case AGG_MIN:
    case AGG_MAX:
        mm_merge(dst, src, s->kind == AGG_MAX);
        break;
    case AGG_DISTINCT:
        return agg_hll_merge(dst, src);
    case AGG_DISTINCT_EXACT:
        return agg_exact_merge(dst, src, agg_exact_cap(s));
    case AGG_PERCENTILE:
        return agg_dd_merge(dst, src);
    default:
        break;
    }
    return 0;
}

__thread int64_t agg_heap_delta;

/* Bytes of a set's slot array (with the allocator's overhead), 0 without one. */
static size_t hset_heap(const agg_hset_t *set)
{
    return set->slots ? ((size_t)8 << set->lg) + AGG_HEAP_OVERHEAD : 0;
}

static size_t dd_store_heap(const agg_ddstore_t *st)
{
    return st->c ? (size_t)st->cap * sizeof *st->c + AGG_HEAP_OVERHEAD : 0;
}

size_t agg_heap_bytes(const agg_spec_t *s, const void *state)
{
    const agg_hll_t *h = state;
    const agg_dd_t *d = state;
    switch (s->kind) {
    case AGG_DISTINCT:
        return h->regs ? AGG_HLL_M + AGG_HEAP_OVERHEAD : hset_heap(&h->set);
    case AGG_DISTINCT_EXACT:
        return hset_heap(&((const agg_exact_t *)state)->set);
    case AGG_PERCENTILE:
        return dd_store_heap(&d->pos) + dd_store_heap(&d->neg);
    default:
        return 0;
    }
}

uint64_t agg_count_value(const void *state)
{
    return ((const agg_count_t *)state)->n;
}

void agg_release(const agg_spec_t *s, void *state)
{
    if (s->kind == AGG_DISTINCT)
        agg_hll_release(state);
    else if (s->kind == AGG_DISTINCT_EXACT)
        agg_hset_free(&((agg_exact_t *)state)->set);
    else if (s->kind == AGG_PERCENTILE)
        agg_dd_release(state);
}

void agg_encode(const agg_spec_t *s, const void *state, buf_t *out)
{
    buf_put_u8(out, AGG_TAG(s->kind));
    switch (s->kind) {
    case AGG_COUNT:
        buf_put_varint(out, ((const agg_count_t *)state)->n);
        break;
    case AGG_SUM:
    case AGG_AVG:
        sum_encode(state, out);
        break;
    case AGG_MIN:
    case AGG_MAX:
        mm_encode(state, out);
        break;
    case AGG_DISTINCT:
        agg_hll_encode(state, out);
        break;
    case AGG_DISTINCT_EXACT:
        agg_exact_encode(state, out);
        break;
    case AGG_PERCENTILE:
        agg_dd_encode(state, out);
        break;
    default:
        break;
    }
}

int agg_check_tag(const agg_spec_t *s, buf_reader_t *r, abbey_err_t *err)
{
    uint8_t tag = buf_get_u8(r);
    if (buf_reader_failed(r)) {
        abbey_err_set(err, "truncated");
        return -1;
    }
    if (tag != AGG_TAG(s->kind)) {
        abbey_err_set(err, "tag 0x%02x is not a version %d %s state", tag, AGG_FORMAT_VERSION,
                      agg_kind_name(s->kind));
        return -1;
    }
    return 0;
}

static int decode_kind(const agg_spec_t *s, void *state, buf_reader_t *r, abbey_err_t *err)
{
    switch (s->kind) {
    case AGG_COUNT:
        ((agg_count_t *)state)->n = buf_get_varint(r);
        return 0;
    case AGG_SUM:
    case AGG_AVG:
        return sum_decode(state, r, err);
    case AGG_MIN:
    case AGG_MAX:
        return mm_decode(state, r, err);
    case AGG_DISTINCT:
        return agg_hll_decode(state, r, err);
    case AGG_DISTINCT_EXACT:
        return agg_exact_decode(state, agg_exact_cap(s), r, err);
    case AGG_PERCENTILE:
        return agg_dd_decode(state, r, err);
    default:
        abbey_err_set(err, "unknown kind %d", (int)s->kind);
        return -1;
    }
}

/* The end of a decode that returned rc: on failure the reason is prefixed, r is
 * marked failed and the state is left empty. */
static apr_status_t decoded(const agg_spec_t *s, void *state, buf_reader_t *r, int rc,
                            abbey_err_t *err)
{
    if (rc == 0 && buf_reader_failed(r)) {
        abbey_err_set(err, "truncated");
        rc = -1;
    }
    if (rc == 0)
        return APR_SUCCESS;
    abbey_err_prefix(err, "%s state", agg_kind_name(s->kind));
    r->failed = 1;
    agg_release(s, state);
    agg_init(s, state);
    return rc == AGG_NOMEM ? APR_ENOMEM : APR_EINVAL;
}

apr_status_t agg_decode(const agg_spec_t *s, void *state, buf_reader_t *r, abbey_err_t *err)
{
    int rc = agg_check_tag(s, r, err);
    if (rc == 0)
        rc = decode_kind(s, state, r, err);
    return decoded(s, state, r, rc, err);
}

/* ---- against a frame dictionary (agg.h, agg_dict.c) ---------------------------------------- */

/* Kinds whose bytes against a dictionary differ from agg_encode's (tag version 2). */
static int dict_kind(agg_kind_t k)
{
    return k == AGG_DISTINCT || k == AGG_DISTINCT_EXACT || k == AGG_PERCENTILE;
}

int agg_dict_count(agg_dict_t *d, const agg_spec_t *s, const void *state)
{
    if (s->kind == AGG_DISTINCT)
        return agg_hll_count_dict(state, d);
    if (s->kind == AGG_DISTINCT_EXACT)
        return agg_dict_count_set(d, &((const agg_exact_t *)state)->set);
    return 0;
}

int agg_encode_dict(const agg_spec_t *s, const void *state, agg_dict_t *d, buf_t *out)
{
    const agg_exact_t *e = state;
    if (!dict_kind(s->kind)) {
        agg_encode(s, state, out);
        return 0;
    }
    buf_put_u8(out, AGG_TAG_DICT(s->kind));
    if (s->kind == AGG_PERCENTILE) {
        agg_dd_encode_dict(state, out);
        return 0;
    }
    if (s->kind == AGG_DISTINCT)
        return agg_hll_encode_dict(state, d, out);
    buf_put_u8(out, e->set.flag ? 1 : 0);
    return agg_dict_put_set(d, &e->set, out);
}

apr_status_t agg_decode_dict(const agg_spec_t *s, void *state, agg_dict_t *d, buf_reader_t *r,
                             int *from, abbey_err_t *err)
{
    uint8_t tag, flag;
    int rc = -1;
    *from = -1;
    if (!dict_kind(s->kind))
        return agg_decode(s, state, r, err);
    tag = buf_get_u8(r);
    if (buf_reader_failed(r))
        abbey_err_set(err, "truncated");
    else if (tag != AGG_TAG_DICT(s->kind))
        abbey_err_set(err, "tag 0x%02x is not a version %d %s state", tag, AGG_DICT_FORMAT_VERSION,
                      agg_kind_name(s->kind));
    else if (s->kind == AGG_PERCENTILE)
        rc = agg_dd_decode_dict(state, r, err);
    else if (s->kind == AGG_DISTINCT)
        rc = agg_hll_decode_dict(state, d, r, from, err);
    else if ((flag = buf_get_u8(r)) > 1)
        abbey_err_set(err, "unknown flags 0x%02x", flag);
    else {
        ((agg_exact_t *)state)->set.flag = flag;
        rc = agg_dict_get_set(d, &((agg_exact_t *)state)->set, agg_exact_cap(s), r, err);
    }
    return decoded(s, state, r, rc, err);
}

int agg_derives(const agg_spec_t *s, const void *state, const agg_spec_t *xs, const void *xstate)
{
    return s->kind == AGG_DISTINCT && xs->kind == AGG_DISTINCT_EXACT &&
           agg_hll_of_exact(state, xstate);
}

void agg_encode_derived(const agg_spec_t *s, int from, buf_t *out)
{
    ABBEY_ASSERT(s->kind == AGG_DISTINCT && from >= 0 && from < AGG_DERIVED_MAX);
    buf_put_u8(out, AGG_TAG_DICT(s->kind));
    agg_hll_encode_derived(from, out);
}

apr_status_t agg_derive(const agg_spec_t *s, void *state, const agg_spec_t *xs, const void *xstate,
                        agg_dict_t *d, abbey_err_t *err)
{
    int rc;
    if (s->kind != AGG_DISTINCT || xs->kind != AGG_DISTINCT_EXACT) {
        abbey_err_set(err, "%s state cannot be derived from a %s state", agg_kind_name(s->kind),
                      agg_kind_name(xs->kind));
        return APR_EINVAL;
    }
    if ((rc = agg_hll_derive(state, xstate, d, err)) == 0)
        return APR_SUCCESS;
    abbey_err_prefix(err, "%s state", agg_kind_name(s->kind));
    agg_release(s, state);
    agg_init(s, state);
    return rc == AGG_NOMEM ? APR_ENOMEM : APR_EINVAL;
}

void agg_result(const agg_spec_t *s, const void *state, agg_result_t *out)
{
    memset(out, 0, sizeof *out);
    switch (s->kind) {
    case AGG_COUNT:
        out->num = (double)((const agg_count_t *)state)->n;
        snprintf(out->text, sizeof out->text, "%" PRIu64, ((const agg_count_t *)state)->n);
        break;
    case AGG_SUM:
        sum_result(state, out);
        break;
    case AGG_AVG:
        avg_result(state, out);
        break;
    case AGG_MIN:
    case AGG_MAX:
        mm_result(state, s->kind == AGG_MAX, out);
        break;
    case AGG_DISTINCT:
        out->num = round(agg_hll_estimate(state));
        snprintf(out->text, sizeof out->text, "%.0f", out->num);
        break;
    case AGG_DISTINCT_EXACT:
        out->num = ((const agg_exact_t *)state)->set.n;
        snprintf(out->text, sizeof out->text, "%" PRIu32, ((const agg_exact_t *)state)->set.n);
        if (((const agg_exact_t *)state)->set.flag)
            out->flags |= AGG_RES_CAPPED;
        break;
    case AGG_PERCENTILE:
        if (!agg_dd_count(state)) {
            out->flags |= AGG_RES_NULL;
            break;
        }
        out->num = agg_dd_quantile(state, s->pct);
        snprintf(out->text, sizeof out->text, "%.10g", out->num);
        break;
    default:
        break;
    }
}

/* ---- ranking (top-K summaries) ----------------------------------------------------- */

int agg_ranks(agg_kind_t k)
{
    return k == AGG_COUNT || k == AGG_SUM;
}

/* 1 when a sum's figure is its exact integer part (no float added, no overflow). */
static int sum_exact(const agg_sum_t *s)
{
    return !(s->flags & (SUM_FLOAT | SUM_OVERFLOW));
}

int agg_cmp(const agg_spec_t *s, const void *a, const void *b)
{
    ASSERT_RANKS(s);
    if (s->kind == AGG_COUNT) {
        uint64_t x = ((const agg_count_t *)a)->n, y = ((const agg_count_t *)b)->n;
        return (x > y) - (x < y);
    }
    const agg_sum_t *x = a, *y = b;
    if (sum_exact(x) && sum_exact(y)) {
        __int128 i = sum_get(x), j = sum_get(y);
        return (i > j) - (i < j);
    }
    double d = sum_total(x), e = sum_total(y);
    return (d > e) - (d < e);
}

void agg_copy(const agg_spec_t *s, void *dst, const void *src)
{
    ASSERT_RANKS(s);
    memcpy(dst, src, agg_state_size(s));
}

int agg_nonneg(const agg_spec_t *s, const void *state)
{
    ASSERT_RANKS(s);
    if (s->kind == AGG_COUNT)
        return 1;
    return sum_exact(state) ? sum_get(state) >= 0 : sum_total(state) >= 0;
}

int agg_zero(const agg_spec_t *s, const void *state)
{
    ASSERT_RANKS(s);
    if (s->kind == AGG_COUNT)
        return ((const agg_count_t *)state)->n == 0;
    return sum_exact(state) ? sum_get(state) == 0 : sum_total(state) == 0;
}
