/* agg_hll.c - distinct: HyperLogLog with 2^14 one-byte registers (see agg.h).
 *
 * While small the state is sparse: the distinct 64-bit hashes themselves, in an
 * agg_hset_t, so the count is exact up to AGG_HLL_SPARSE_MAX values. Past that it
 * turns dense: register idx = top 14 bits of the hash, value = 1 + leading zeros
 * of the remaining 50 bits (51 when they are all zero). Registers are a max over
 * the hashes seen, so any split and merge order gives the same registers, hence
 * the same estimate. The estimate is Ertl's improved raw estimator ("New
 * cardinality estimation algorithms for HyperLogLog sketches", 2017), which needs
 * no bias tables and is accurate at every range. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "mem.h"

#define HLL_Q (64 - AGG_HLL_P)         /* bits left after the index */
#define HLL_PACKED (AGG_HLL_M / 4 * 3) /* bytes of 6-bit packed registers */

/* FORM_REGS: the nonzero registers only (agg_encode_dict's dense form, see agg.h);
 * FORM_DERIVED: what a distinct_exact value of the same row gives (agg_derives). */
enum { FORM_SPARSE = 0, FORM_DENSE = 1, FORM_REGS = 2, FORM_DERIVED = 3 };

void agg_hll_init(agg_hll_t *h)
{
    agg_hset_init(&h->set);
    h->regs = NULL;
}

void agg_hll_release(agg_hll_t *h)
{
    agg_hset_free(&h->set);
    if (h->regs)
        AGG_HEAP_NOTE(-(int64_t)AGG_HLL_M);
    free(h->regs);
    h->regs = NULL;
}

static void reg_add(uint8_t *regs, uint64_t hash)
{
    uint32_t idx = (uint32_t)(hash >> HLL_Q);
    uint64_t w = hash << AGG_HLL_P;
    uint8_t rho = w ? (uint8_t)(__builtin_clzll(w) + 1) : HLL_Q + 1;
    if (regs[idx] < rho)
        regs[idx] = rho;
}

/* The registers of x's members into regs (AGG_HLL_M, zeroed by the caller). */
static void regs_of(uint8_t *regs, const agg_hset_t *x)
{
    size_t nslots = x->slots ? (size_t)1 << x->lg : 0;
    if (x->has_zero)
        reg_add(regs, 0);
    for (size_t i = 0; i < nslots; i++)
        if (x->slots[i])
            reg_add(regs, x->slots[i]);
}

/* Zeroed registers, noted as a heap part (AGG_HEAP_NOTE); NULL without memory. */
static uint8_t *new_regs(void)
{
    uint8_t *regs = mem_calloc(AGG_HLL_M, 1);
    if (regs)
        AGG_HEAP_NOTE((int64_t)AGG_HLL_M);
    return regs;
}

/* Sparse to dense: 0, or AGG_NOMEM with h unchanged. */
static int to_dense(agg_hll_t *h)
{
    uint8_t *regs = new_regs();
    if (!regs)
        return AGG_NOMEM;
    regs_of(regs, &h->set);
    agg_hset_free(&h->set);
    h->regs = regs;
    return 0;
}

/* A sparse set one past AGG_HLL_SPARSE_MAX that could not turn dense is still a
 * valid (exact) state; the next add tries again. */
int agg_hll_add(agg_hll_t *h, uint64_t hash)
{
    if (h->regs) {
        reg_add(h->regs, hash);
        return 0;
    }
    if (agg_hset_add(&h->set, hash) < 0)
        return AGG_NOMEM;
    return h->set.n > AGG_HLL_SPARSE_MAX ? to_dense(h) : 0;
}

int agg_hll_merge(agg_hll_t *dst, const agg_hll_t *src)
{
    size_t nslots = src->set.slots ? (size_t)1 << src->set.lg : 0;
    if (dst == src)
        return 0;
    if (src->regs) {
        if (!dst->regs && to_dense(dst) < 0)
            return AGG_NOMEM;
        for (uint32_t i = 0; i < AGG_HLL_M; i++)
            if (dst->regs[i] < src->regs[i])
                dst->regs[i] = src->regs[i];
        return 0;
    }
    if (src->set.has_zero && agg_hll_add(dst, 0) < 0)
        return AGG_NOMEM;
    for (size_t i = 0; i < nslots; i++)
        if (src->set.slots[i] && agg_hll_add(dst, src->set.slots[i]) < 0)
            return AGG_NOMEM;
    return 0;
}

void agg_hll_encode(const agg_hll_t *h, buf_t *out)
{
    if (!h->regs) {
        buf_put_u8(out, FORM_SPARSE);
        agg_hset_encode(&h->set, out);
        return;
    }
    buf_put_u8(out, FORM_DENSE);
    buf_reserve(out, HLL_PACKED);
    for (uint32_t i = 0; i < AGG_HLL_M; i += 4) {
        uint32_t v = (uint32_t)h->regs[i] | (uint32_t)h->regs[i + 1] << 6 |
                     (uint32_t)h->regs[i + 2] << 12 | (uint32_t)h->regs[i + 3] << 18;
        buf_put_u8(out, (uint8_t)v);
        buf_put_u8(out, (uint8_t)(v >> 8));
        buf_put_u8(out, (uint8_t)(v >> 16));
    }
}

static int decode_dense(agg_hll_t *h, buf_reader_t *r, abbey_err_t *err)
{
    const uint8_t *p = buf_get_bytes(r, HLL_PACKED);
    if (!p) {
        abbey_err_set(err, "truncated registers");
        return -1;
    }
    if (!(h->regs = new_regs())) {
        abbey_err_set(err, "out of memory for the registers");
        return AGG_NOMEM;
    }
    for (uint32_t i = 0; i < AGG_HLL_M; i += 4, p += 3) {
        uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
        for (int k = 0; k < 4; k++) {
            uint8_t reg = (uint8_t)((v >> (6 * k)) & 63);
            if (reg > HLL_Q + 1) {
                abbey_err_set(err, "register %u holds %u (max %d)", i + k, reg, HLL_Q + 1);
                return -1;
            }
            h->regs[i + k] = reg;
        }
    }
    return 0;
}

int agg_hll_decode(agg_hll_t *h, buf_reader_t *r, abbey_err_t *err)
{
    uint8_t form = buf_get_u8(r);
    if (buf_reader_failed(r)) {
        abbey_err_set(err, "truncated");
        return -1;
    }
    if (form == FORM_SPARSE)
        return agg_hset_decode(&h->set, AGG_HLL_SPARSE_MAX, r, err);
    if (form == FORM_DENSE)
        return decode_dense(h, r, err);
    abbey_err_set(err, "unknown form %u", form);
    return -1;
}

/* ---- against a frame dictionary (agg.h) ------------------------------------------- */

/* A sparse set past AGG_HLL_SPARSE_MAX (one that could not turn dense) is written
 * as registers, which is what it turns into. */
static int sparse_written(const agg_hll_t *h)
{
    return !h->regs && h->set.n <= AGG_HLL_SPARSE_MAX;
}

int agg_hll_count_dict(const agg_hll_t *h, agg_dict_t *d)
{
    if (sparse_written(h))
        return agg_dict_count_set(d, &h->set);
    agg_dict_count_weight(d, AGG_DICT_DENSE_WEIGHT);
    return 0;
}

int agg_hll_encode_dict(const agg_hll_t *h, agg_dict_t *d, buf_t *out)
{
    uint8_t tmp[AGG_HLL_M];
    const uint8_t *regs = h->regs;
    uint32_t nz = 0, prev = 0;

    if (sparse_written(h)) {
        buf_put_u8(out, FORM_SPARSE);
        return agg_dict_put_set(d, &h->set, out);
    }
    if (!regs) {
        memset(tmp, 0, sizeof tmp);
        regs_of(tmp, &h->set);
        regs = tmp;
    }
    for (uint32_t i = 0; i < AGG_HLL_M; i++)
        nz += regs[i] != 0;
    buf_put_u8(out, FORM_REGS);
    buf_put_varint(out, nz);
    for (uint32_t i = 0; i < AGG_HLL_M; i++)
        if (regs[i]) {
            buf_put_varint(out, i - prev);
            buf_put_u8(out, regs[i]);
            prev = i + 1;
        }
    return 0;
}

static int decode_regs(agg_hll_t *h, agg_dict_t *d, buf_reader_t *r, abbey_err_t *err)
{
    uint64_t nz = buf_get_varint(r), at = 0;
    if (buf_reader_failed(r) || nz > AGG_HLL_M || nz > buf_reader_left(r) / 2) {
        abbey_err_set(err, "%llu nonzero registers (at most %u, %zu bytes left)",
                      (unsigned long long)nz, AGG_HLL_M, buf_reader_left(r));
        return -1;
    }
    if (agg_dict_take(d, AGG_DICT_DENSE_WEIGHT) != 0) {
        abbey_err_set(err, "registers are more than the frame's size allows");
        return -1;
    }
    if (!(h->regs = new_regs())) {
        abbey_err_set(err, "out of memory for the registers");
        return AGG_NOMEM;
    }
    for (uint64_t k = 0; k < nz; k++) {
        uint64_t gap = buf_get_varint(r);
        uint8_t reg = buf_get_u8(r);
        if (buf_reader_failed(r) || gap >= AGG_HLL_M - at || reg == 0 || reg > HLL_Q + 1) {
            abbey_err_set(err, "register %llu: %s", (unsigned long long)k,
                          buf_reader_failed(r)          ? "truncated"
                          : reg == 0 || reg > HLL_Q + 1 ? "bad value"
                                                        : "index past the last register");
            return -1;
        }
        at += gap;
        h->regs[at++] = reg;
    }
    return 0;
}

int agg_hll_decode_dict(agg_hll_t *h, agg_dict_t *d, buf_reader_t *r, int *from, abbey_err_t *err)
{
    uint8_t form = buf_get_u8(r);
    uint64_t x;
    if (buf_reader_failed(r)) {
        abbey_err_set(err, "truncated");
        return -1;
    }
    if (form == FORM_DERIVED) {
        x = buf_get_varint(r);
        if (buf_reader_failed(r) || x >= AGG_DERIVED_MAX) {
            abbey_err_set(err, "derived from a bad value index");
            return -1;
        }
        *from = (int)x;
        return 0;
    }
    if (form == FORM_SPARSE)
        return agg_dict_get_set(d, &h->set, AGG_HLL_SPARSE_MAX, r, err);
    if (form == FORM_REGS)
        return decode_regs(h, d, r, err);
    abbey_err_set(err, "unknown form %u", form);
    return -1;
}

int agg_hll_of_exact(const agg_hll_t *h, const agg_exact_t *x)
{
    uint8_t tmp[AGG_HLL_M];
    size_t nslots = h->set.slots ? (size_t)1 << h->set.lg : 0;

    if (x->set.flag || (h->regs != NULL) != (x->set.n > AGG_HLL_SPARSE_MAX))
        return 0;
    if (h->regs) {
        memset(tmp, 0, sizeof tmp);
        regs_of(tmp, &x->set);
        return memcmp(tmp, h->regs, AGG_HLL_M) == 0;
    }
    if (h->set.n != x->set.n || (h->set.has_zero && !agg_hset_has(&x->set, 0)))
        return 0;
    for (size_t i = 0; i < nslots; i++)
        if (h->set.slots[i] && !agg_hset_has(&x->set, h->set.slots[i]))
            return 0;
    return 1;
}

void agg_hll_encode_derived(int from, buf_t *out)
{
    buf_put_u8(out, FORM_DERIVED);
    buf_put_varint(out, (uint64_t)from);
}

int agg_hll_derive(agg_hll_t *h, const agg_exact_t *x, agg_dict_t *d, abbey_err_t *err)
{
    size_t nslots = x->set.slots ? (size_t)1 << x->set.lg : 0;
    int dense = x->set.n > AGG_HLL_SPARSE_MAX;

    if (agg_dict_take(d, dense ? AGG_DICT_DENSE_WEIGHT : x->set.n) != 0) {
        abbey_err_set(err, "derived state is more than the frame's size allows");
        return -1;
    }
    if (dense) {
        if (!(h->regs = new_regs())) {
            abbey_err_set(err, "out of memory for the registers");
            return AGG_NOMEM;
        }
        regs_of(h->regs, &x->set);
        return 0;
    }
    if (x->set.n && agg_hset_reserve(&h->set, x->set.n) < 0) {
        abbey_err_set(err, "out of memory for a set of %u hashes", x->set.n);
        return AGG_NOMEM;
    }
    if (x->set.has_zero)
        agg_hset_add(&h->set, 0);
    for (size_t i = 0; i < nslots; i++)
        if (x->set.slots[i])
            agg_hset_add(&h->set, x->set.slots[i]); /* reserved: cannot fail */
    return 0;
}

/* Ertl's sigma and tau series. */
static double hll_sigma(double x)
{
    double y = 1.0, z = x, zp;
    if (x == 1.0)
        return INFINITY;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (z != zp);
    return z;
}

static double hll_tau(double x)
{
    double y = 1.0, z = 1.0 - x, zp;
    if (x == 0.0 || x == 1.0)
        return 0.0;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != zp);
    return z / 3.0;
}

double agg_hll_estimate(const agg_hll_t *h)
{
    uint32_t c[HLL_Q + 2] = {0};
    const double m = AGG_HLL_M;
    double z;
    if (!h->regs)
        return h->set.n;
    for (uint32_t i = 0; i < AGG_HLL_M; i++)
        c[h->regs[i]]++;
    z = m * hll_tau(1.0 - c[HLL_Q + 1] / m);
    for (int k = HLL_Q; k >= 1; k--)
        z = 0.5 * (z + c[k]);
    z += m * hll_sigma(c[0] / m);
    return m * m / (2.0 * log(2.0) * z);
}
