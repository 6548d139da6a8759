/* agg_ddsketch.c - percentile: a DDSketch with relative accuracy 1% (see agg.h).
 *
 * A value x > 0 goes to bin i = ceil(log_gamma(x)), gamma = (1 + a) / (1 - a),
 * a = 0.01; bin i covers (gamma^(i-1), gamma^i] and is represented by
 * 2 gamma^i / (gamma + 1) = (1 - a) gamma^i, within a of anything in it.
 * Negative values go to a second store by |x|; |x| < 1e-9 counts as zero.
 * Each store is a contiguous array of counts over a window of bin indices; when
 * a store would span more than AGG_DD_MAX_BINS bins, the lowest bins collapse
 * into the lowest kept one. The final bins depend only on the values seen (the
 * window is always [top - MAX_BINS + 1, top] once collapsing starts), so every
 * split and merge order gives identical bins. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "mem.h"

#define DD_IDX_MIN (-2048) /* |x| >= 1e-9 gives index >= -1036 */
#define DD_IDX_MAX 40000   /* x <= DBL_MAX gives index <= 35488 */

void agg_dd_init(agg_dd_t *d)
{
    memset(d, 0, sizeof *d);
}

void agg_dd_release(agg_dd_t *d)
{
    if (d->pos.c)
        AGG_HEAP_NOTE(-(int64_t)(d->pos.cap * sizeof *d->pos.c));
    if (d->neg.c)
        AGG_HEAP_NOTE(-(int64_t)(d->neg.cap * sizeof *d->neg.c));
    free(d->pos.c);
    free(d->neg.c);
    agg_dd_init(d);
}

uint64_t agg_dd_count(const agg_dd_t *d)
{
    return d->pos.n + d->neg.n + d->zero;
}

static int32_t dd_index(double x)
{
    return (int32_t)ceil(log(x) / AGG_DD_LN_GAMMA);
}

static double dd_value(int32_t i)
{
    return (1.0 - AGG_DD_ALPHA) * exp(i * AGG_DD_LN_GAMMA);
}

/* Makes the array cover [lo, hi]; lo < st->lo means growth downwards. Counts of
 * the old array that fall in the new one are kept (the caller has zeroed any
 * that would not). Returns 0, or AGG_NOMEM with st unchanged. */
static int store_ensure(agg_ddstore_t *st, int32_t lo, int32_t hi)
{
    uint32_t span = (uint32_t)(hi - lo + 1), ncap = span * 2;
    int32_t noff;
    uint64_t *c;
    if (st->c && lo >= st->off && (int64_t)hi < (int64_t)st->off + st->cap)
        return 0;
    if (ncap < 16)
        ncap = 16;
    if (ncap < st->cap)
        ncap = st->cap;
    if (ncap > 2 * AGG_DD_MAX_BINS)
        ncap = 2 * AGG_DD_MAX_BINS;
    if (!st->c)
        noff = lo - (int32_t)(ncap - span) / 2;
    else if (lo < st->lo)
        noff = hi - (int32_t)ncap + 1;
    else
        noff = lo;
    if (!(c = mem_calloc(ncap, sizeof *c)))
        return AGG_NOMEM;
    AGG_HEAP_NOTE((int64_t)(ncap * sizeof *c));
    if (st->c)
        AGG_HEAP_NOTE(-(int64_t)(st->cap * sizeof *st->c));
    if (st->c) {
        int64_t a = st->off > noff ? st->off : noff;
        int64_t b = (int64_t)st->off + st->cap < (int64_t)noff + ncap ? (int64_t)st->off + st->cap
                                                                      : (int64_t)noff + ncap;
        if (a < b)
            memcpy(c + (a - noff), st->c + (a - st->off), (size_t)(b - a) * sizeof *c);
        free(st->c);
    }
    st->c = c;
    st->off = noff;
    st->cap = ncap;
    return 0;
}

/* The sum of the bins below index l. */
static uint64_t store_sum_below(const agg_ddstore_t *st, int32_t l)
{
    uint64_t below = 0;
    for (int32_t j = st->lo; j < l && j <= st->hi; j++)
        below += st->c[j - st->off];
    return below;
}

/* Adds k to bin i, collapsing the lowest bins past AGG_DD_MAX_BINS. Returns 0,
 * or AGG_NOMEM with st unchanged. */
static int store_add(agg_ddstore_t *st, int32_t i, uint64_t k)
{
    int32_t lo = i, hi = i, old_lo = st->lo, old_hi = st->hi;
    if (st->n) {
        lo = st->lo < i ? st->lo : i;
        hi = st->hi > i ? st->hi : i;
    }
    if ((int64_t)hi - lo + 1 > AGG_DD_MAX_BINS) {
        int32_t l = hi - AGG_DD_MAX_BINS + 1;
        uint64_t below = store_sum_below(st, l);
        if (store_ensure(st, l, hi) < 0)
            return AGG_NOMEM;
        /* the bins below l that the (maybe new) array still holds collapse into l */
        for (int32_t j = old_lo > st->off ? old_lo : st->off; j < l && j <= old_hi; j++)
            st->c[j - st->off] = 0;
        st->c[l - st->off] += below;
        if (i < l)
            i = l;
        lo = l;
    } else if (store_ensure(st, lo, hi) < 0) {
        return AGG_NOMEM;
    }
    st->c[i - st->off] += k;
    st->lo = lo;
    st->hi = hi;
    st->n += k;
    return 0;
}

int agg_dd_add(agg_dd_t *d, double x)
{
    int first;
    if (!isfinite(x))
        return -1;
    first = !agg_dd_count(d);
    if (fabs(x) < AGG_DD_ZERO)
        d->zero++;
    else if (store_add(x > 0 ? &d->pos : &d->neg, dd_index(fabs(x)), 1) < 0)
        return AGG_NOMEM; /* d unchanged */
    if (first) {
        d->min = d->max = x;
    } else {
        if (x < d->min)
            d->min = x;
        if (x > d->max)
            d->max = x;
    }
    return 0;
}

static void store_double(agg_ddstore_t *st)
{
    if (!st->n)
        return;
    for (int32_t j = st->lo; j <= st->hi; j++)
        st->c[j - st->off] *= 2;
    st->n *= 2;
}

static int store_merge(agg_ddstore_t *dst, const agg_ddstore_t *src)
{
    if (!src->n)
        return 0;
    for (int32_t j = src->lo; j <= src->hi; j++)
        if (src->c[j - src->off] && store_add(dst, j, src->c[j - src->off]) < 0)
            return AGG_NOMEM;
    return 0;
}

int agg_dd_merge(agg_dd_t *dst, const agg_dd_t *src)
{
    uint64_t had = agg_dd_count(dst);
    if (dst == src) {
        store_double(&dst->pos);
        store_double(&dst->neg);
        dst->zero *= 2;
        return 0;
    }
    if (!agg_dd_count(src))
        return 0;
    if (!had || src->min < dst->min)
        dst->min = src->min;
    if (!had || src->max > dst->max)
        dst->max = src->max;
    dst->zero += src->zero;
    if (store_merge(&dst->pos, &src->pos) < 0 || store_merge(&dst->neg, &src->neg) < 0)
        return AGG_NOMEM; /* dst holds part of src: its extremes may be src's */
    return 0;
}

/* Store: varint count of nonzero bins, then per bin the index (svarint for the
 * first, varint gap after) and the varint count. Against a frame dictionary
 * (dict), a bin after the first is one varint ((gap - 1) << 1 | (count > 1)),
 * then varint count - 2 when the count is over 1: most bins of a sketch of
 * few values hold one, and cost a byte. */
static void store_encode(const agg_ddstore_t *st, buf_t *out, int dict)
{
    uint32_t k = 0;
    int32_t prev = 0;
    for (int32_t j = st->lo; st->n && j <= st->hi; j++)
        k += st->c[j - st->off] != 0;
    buf_put_varint(out, k);
    for (int32_t j = st->lo; k && j <= st->hi; j++) {
        uint64_t c = st->c[j - st->off];
        if (!c)
            continue;
        if (j == st->lo) {
            buf_put_svarint(out, j);
            buf_put_varint(out, c);
        } else if (!dict) {
            buf_put_varint(out, (uint64_t)(j - prev));
            buf_put_varint(out, c);
        } else {
            buf_put_varint(out, (uint64_t)(j - prev - 1) << 1 | (c > 1));
            if (c > 1)
                buf_put_varint(out, c - 2);
        }
        prev = j;
    }
}

void agg_dd_encode(const agg_dd_t *d, buf_t *out)
{
    buf_put_varint(out, d->zero);
    store_encode(&d->neg, out, 0);
    store_encode(&d->pos, out, 0);
    if (agg_dd_count(d)) {
        buf_put_f64(out, d->min);
        buf_put_f64(out, d->max);
    }
}

#define DD_INT_MAX 9007199254740992.0 /* 2^53: integers up to it are exact doubles */

/* A whole number a double holds exactly, -0.0 excluded (it would come back as 0). */
static int dd_integral(double x)
{
    return x >= -DD_INT_MAX && x <= DD_INT_MAX && x == (double)(int64_t)x &&
           !(x == 0 && signbit(x));
}

/* As agg_dd_encode, but extremes that are whole numbers (as a sum of byte counts or
 * milliseconds is) are written as a flag byte 1, svarint min and varint max - min;
 * others as a flag byte 0 and the two doubles. */
void agg_dd_encode_dict(const agg_dd_t *d, buf_t *out)
{
    buf_put_varint(out, d->zero);
    store_encode(&d->neg, out, 1);
    store_encode(&d->pos, out, 1);
    if (!agg_dd_count(d))
        return;
    if (dd_integral(d->min) && dd_integral(d->max)) {
        buf_put_u8(out, 1);
        buf_put_svarint(out, (int64_t)d->min);
        buf_put_varint(out, (uint64_t)((int64_t)d->max - (int64_t)d->min));
    } else {
        buf_put_u8(out, 0);
        buf_put_f64(out, d->min);
        buf_put_f64(out, d->max);
    }
}

static int store_decode(agg_ddstore_t *st, buf_reader_t *r, uint64_t *total, int dict,
                        abbey_err_t *err)
{
    uint64_t k = buf_get_varint(r);
    int64_t first = 0, j = 0;
    if (k > AGG_DD_MAX_BINS || k > buf_reader_left(r) / (dict ? 1 : 2)) {
        abbey_err_set(err, "%llu bins (max %d, %zu bytes left)", (unsigned long long)k,
                      AGG_DD_MAX_BINS, buf_reader_left(r));
        return -1;
    }
    for (uint64_t b = 0; b < k; b++) {
        uint64_t gap = 0, c, x;
        if (!b) {
            j = buf_get_svarint(r);
            c = buf_get_varint(r);
        } else if (!dict) {
            gap = buf_get_varint(r);
            c = buf_get_varint(r);
        } else {
            x = buf_get_varint(r);
            gap = (x >> 1) + 1;
            c = x & 1 ? buf_get_varint(r) : 0;
            c = !(x & 1) ? 1 : c <= UINT64_MAX - 2 ? c + 2 : 0; /* 0: refused below */
        }
        if (b)
            j += (int64_t)(gap > (uint64_t)AGG_DD_MAX_BINS ? AGG_DD_MAX_BINS : gap);
        if (buf_reader_failed(r)) {
            abbey_err_set(err, "truncated bins");
            return -1;
        }
        if (!b)
            first = j;
        if ((b && !gap) || !c || j < DD_IDX_MIN || j > DD_IDX_MAX ||
            j - first + 1 > AGG_DD_MAX_BINS || __builtin_add_overflow(*total, c, total)) {
            abbey_err_set(err, "bad bin %llu (index %lld, count %llu)", (unsigned long long)b,
                          (long long)j, (unsigned long long)c);
            return -1;
        }
        if (store_add(st, (int32_t)j, c) < 0) {
            abbey_err_set(err, "out of memory for the bins");
            return AGG_NOMEM;
        }
    }
    return 0;
}

/* The extremes as agg_dd_encode_dict wrote them: 0, or -1 with err filled. */
static int get_int_extremes(agg_dd_t *d, buf_reader_t *r, abbey_err_t *err)
{
    uint8_t form = buf_get_u8(r);
    int64_t lo;
    uint64_t span;
    if (form == 0) {
        d->min = buf_get_f64(r);
        d->max = buf_get_f64(r);
        return 0;
    }
    lo = buf_get_svarint(r);
    span = buf_get_varint(r);
    if (form != 1 || lo < -(int64_t)DD_INT_MAX || lo > (int64_t)DD_INT_MAX ||
        span > (uint64_t)((int64_t)DD_INT_MAX - lo)) {
        if (!buf_reader_failed(r))
            abbey_err_set(err, "bad extremes (form %u)", form);
        return buf_reader_failed(r) ? 0 : -1;
    }
    d->min = (double)lo;
    d->max = (double)(lo + (int64_t)span);
    return 0;
}

static int dd_decode(agg_dd_t *d, buf_reader_t *r, int dict, abbey_err_t *err)
{
    uint64_t total = d->zero = buf_get_varint(r);
    int rc;
    if ((rc = store_decode(&d->neg, r, &total, dict, err)) < 0 ||
        (rc = store_decode(&d->pos, r, &total, dict, err)) < 0)
        return rc;
    if (!total)
        return 0;
    if (dict) {
        if (get_int_extremes(d, r, err) < 0)
            return -1;
    } else {
        d->min = buf_get_f64(r);
        d->max = buf_get_f64(r);
    }
    if (!buf_reader_failed(r) && !(d->min <= d->max)) {
        abbey_err_set(err, "bad extremes %g, %g", d->min, d->max);
        return -1;
    }
    return 0;
}

int agg_dd_decode(agg_dd_t *d, buf_reader_t *r, abbey_err_t *err)
{
    return dd_decode(d, r, 0, err);
}

int agg_dd_decode_dict(agg_dd_t *d, buf_reader_t *r, abbey_err_t *err)
{
    return dd_decode(d, r, 1, err);
}

/* Rank k = max(1, ceil(pct/100 * n)); the product carries a 1e-12 relative
 * allowance so a decimal pct (99.9) ranks as it would in decimal arithmetic. */
static uint64_t dd_rank(double pct, uint64_t n)
{
    double x = pct * (double)n / 100.0;
    x -= fabs(x) * 1e-12;
    if (!(x > 1.0))
        return 1;
    if (x >= (double)n)
        return n;
    return (uint64_t)ceil(x);
}

double agg_dd_quantile(const agg_dd_t *d, double pct)
{
    uint64_t k = dd_rank(pct, agg_dd_count(d)), cum = 0;
    double v = d->max;
    int found = 0;
    for (int32_t j = d->neg.hi; d->neg.n && j >= d->neg.lo && !found; j--) {
        cum += d->neg.c[j - d->neg.off];
        if (cum >= k) {
            v = -dd_value(j);
            found = 1;
        }
    }
    if (!found && (cum += d->zero) >= k) {
        v = 0.0;
        found = 1;
    }
    for (int32_t j = d->pos.lo; d->pos.n && j <= d->pos.hi && !found; j++) {
        cum += d->pos.c[j - d->pos.off];
        if (cum >= k) {
            v = dd_value(j);
            found = 1;
        }
    }
    if (v < d->min)
        v = d->min;
    if (v > d->max)
        v = d->max;
    return v;
}
