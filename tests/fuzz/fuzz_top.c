/* fuzz_top.c - libFuzzer target for top-K summaries (rules/ptable_top.c): their decoder, and
 * their updates and merges against an exact count.
 *
 * The job (rules_load_buffer) has two top entries: `hits` (top 3 by a count, 8 rows kept,
 * a sum riding along) and `vol` (top 2 by a sum, 4 rows kept, a count and a max riding
 * along). The first input byte picks how the rest is used:
 *   0  as a version 1 frame payload (2: version 2, its dictionary first and its keys
 *      front-coded): the target wraps it in a valid frame (zlib; 2: zstd) and decodes it
 *      (frame_decode) into an empty partial, so mutations reach the summary's head
 *      (m, floor) and rows (values, errors). A summary that decodes must hold what the
 *      decoder promises (at most m rows; every value and error >= 0, error <= value,
 *      value >= floor; a floor above zero only in a full summary) and re-encode to a
 *      frame that decodes to the same rows; when its figures are below 2^52 (counts
 *      wrap at 2^64 when added, in any entry), merge with itself (decoded again: every
 *      figure doubles, the rows stay) and with the summaries of the fixed lines,
 *      keeping all of it;
 *   1  as operations on two summaries A and B of a sum-ranked table (one byte of key
 *      0..63 or an operation, one byte of weight): add to A, add to B, merge B into A
 *      (then B starts afresh), clear A. The target keeps the exact sums per key of what
 *      each summary saw; after every merge and at the end both must hold the
 *      Space-Saving guarantees against them: true <= value, value - error <= true,
 *      error <= floor <= value, every key whose true sum exceeds the floor kept, the floor
 *      at most N/m, at most m rows.
 * Anything else aborts. On an empty corpus directory LLVMFuzzerInitialize writes seed
 * inputs for the three modes. Build and run: scripts/fuzz.sh top SECONDS (docs/FUZZING.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <apr_general.h>

#include "engine.h"
#include "frame.h"
#include "frame_int.h"
#include "fuzz_seeds.h"
#include "ptable_top.h"
#include "rules.h"
#include "value.h"

static const char RULES[] = "jobs:\n"
                            "  - name: z\n"
                            "    sources: [/dev/null]\n"
                            "    format: {split: \" \", fields: [path, bytes:int]}\n"
                            "    groups:\n"
                            "      - name: g\n"
                            "        entries:\n"
                            "          - name: hits\n"
                            "            key: [path]\n"
                            "            values: {hits: count, bytes: sum(bytes)}\n"
                            "            top: {k: 3, by: hits, capacity: 8}\n"
                            "          - name: vol\n"
                            "            key: [path]\n"
                            "            values: {bytes: sum(bytes), n: count, big: max(bytes)}\n"
                            "            top: {k: 2, by: bytes, capacity: 4}\n";

static const char LINES[] = "/a 10\n/b 20\n/a 5\n/c 1\n/d 7\n/e 9\n/f 3\n/a 0\n/g 12\n/h 2\n"
                            "/i 4\n/j 8\n/b 6\n/k 11\n";

static apr_pool_t *root;
static rules_config_t *cfg;
static const rules_job_t *job;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_top: %s:%d: %s\n", __FILE__, __LINE__, #c);                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A figure of a count or sum state: its double (the states here stay small). */
static double num(const agg_spec_t *s, const void *state)
{
    agg_result_t r;
    agg_result(s, state, &r);
    return r.num;
}

/* What a decoded summary must be (ptable_top.h). */
static void summary_sane(const ptable_t *t)
{
    const agg_spec_t *s = &ptable_specs(t)[ptable_top_by(t)];
    const void *fl = ptable_top_floor(t);
    size_t cur = 0;
    ptable_row_t *row;
    CHECK(ptable_count(t) <= ptable_top_m(t));
    CHECK(agg_nonneg(s, fl));
    CHECK(agg_zero(s, fl) || ptable_top_full(t));
    while ((row = ptable_next(t, &cur)) != NULL) {
        const void *v = row->state + ptable_offset(t, ptable_top_by(t));
        const void *e = ptable_top_error(t, row);
        CHECK(agg_nonneg(s, v) && agg_nonneg(s, e));
        CHECK(agg_cmp(s, e, v) <= 0 && agg_cmp(s, v, fl) >= 0);
    }
}

/* 1 when every count and sum of p (errors and floors too) is below 2^52 in
 * magnitude: exact as doubles, and far from wrapping when added up. */
static int small_figures(const partial_t *p)
{
    const double lim = 4503599627370496.0;
    for (int i = 0; i < job->nentries; i++) {
        const ptable_t *t = p->tables[i];
        const agg_spec_t *by = &ptable_specs(t)[ptable_top_by(t)];
        size_t cur = 0;
        ptable_row_t *row;
        if (!(num(by, ptable_top_floor(t)) < lim))
            return 0;
        while ((row = ptable_next(t, &cur)) != NULL) {
            if (!(num(by, ptable_top_error(t, row)) < lim))
                return 0;
            for (int v = 0; v < ptable_nspecs(t); v++) {
                const agg_spec_t *s = &ptable_specs(t)[v];
                double x = num(s, row->state + ptable_offset(t, v));
                if ((s->kind == AGG_COUNT || s->kind == AGG_SUM) && !(x < lim && x > -lim))
                    return 0;
            }
        }
    }
    return 1;
}

/* Rows of entry i as "key value... error" lines, sorted, then the floor; figures
 * times `times`. */
static void rows_text(const partial_t *p, int i, double times, buf_t *out)
{
    const ptable_t *t = p->tables[i];
    size_t cur = 0, n = 0;
    ptable_row_t *row;
    buf_t *lines = calloc(ptable_count(t) + 1, sizeof *lines);
    buf_reset(out);
    while ((row = ptable_next(t, &cur)) != NULL) {
        buf_t *l = &lines[n++];
        buf_init(l);
        for (uint32_t k = 0; k < row->klen; k++)
            buf_printf(l, "%02x", row->key[k]);
        for (int v = 0; v < ptable_nspecs(t); v++) {
            const agg_spec_t *s = &ptable_specs(t)[v];
            if (s->kind == AGG_COUNT || s->kind == AGG_SUM)
                buf_printf(l, " %.17g", num(s, row->state + ptable_offset(t, v)) * times);
        }
        buf_printf(l, " e%.17g",
                   num(&ptable_specs(t)[ptable_top_by(t)], ptable_top_error(t, row)) * times);
        buf_put_u8(l, 0);
    }
    for (size_t a = 1; a < n; a++) /* insertion sort: a handful of rows */
        for (size_t b = a; b > 0 && strcmp((char *)lines[b - 1].data, (char *)lines[b].data) > 0;
             b--) {
            buf_t x = lines[b];
            lines[b] = lines[b - 1];
            lines[b - 1] = x;
        }
    for (size_t a = 0; a < n; a++) {
        buf_printf(out, "%s\n", (char *)lines[a].data);
        buf_free(&lines[a]);
    }
    buf_printf(out, "floor %.17g",
               num(&ptable_specs(t)[ptable_top_by(t)], ptable_top_floor(t)) * times);
    free(lines);
}

static void encode(const partial_t *p, buf_t *out)
{
    frame_header_t h;
    abbey_err_t err;
    memset(&h, 0, sizeof h);
    strcpy(h.job, "z");
    strcpy(h.source, "src");
    h.end = 1;
    frame_header_counts(&h, p);
    CHECK(frame_encode(&h, p, NULL, out, &err) == APR_SUCCESS);
}

/* A valid frame of the job, of this version, around raw payload bytes. */
static void wrap(const uint8_t *raw, size_t n, int version, buf_t *out, apr_pool_t *pool)
{
    buf_t f;
    size_t zlen = version == 2 ? ZSTD_compressBound(n) : compressBound((uLong)n);
    uint32_t h;
    buf_init(&f);
    encode(partial_create(job, pool), &f);
    h = f.data[8] | (uint32_t)f.data[9] << 8 | (uint32_t)f.data[10] << 16 |
        (uint32_t)f.data[11] << 24;
    f.data[4] = (uint8_t)version;
    buf_put(out, f.data, 12);
    buf_put_u32(out, 0);
    buf_put_u32(out, (uint32_t)n);
    buf_put(out, f.data + FRAME_FIXED, h);
    buf_reserve(out, zlen + 4);
    if (version == 2) {
        zlen = ZSTD_compress(out->data + out->len, zlen, n ? raw : (const uint8_t *)"", n, 1);
        CHECK(!ZSTD_isError(zlen));
    } else {
        uLongf zl = zlen;
        CHECK(compress2(out->data + out->len, &zl, n ? raw : (const uint8_t *)"", (uLong)n, 1) ==
              Z_OK);
        zlen = zl;
    }
    out->len += zlen;
    for (int i = 0; i < 4; i++)
        out->data[12 + i] = (uint8_t)(zlen >> (8 * i));
    buf_put_u32(out, (uint32_t)crc32(0L, out->data, (uInt)out->len));
    buf_free(&f);
}

static void decode_payload(const uint8_t *raw, size_t n, int version, apr_pool_t *pool)
{
    partial_t *p = partial_create(job, pool), *q = partial_create(job, pool);
    abbey_err_t err;
    buf_t f, a, b;
    engine_t *e;

    buf_init(&f);
    wrap(raw, n, version, &f, pool);
    if (frame_decode(f.data, f.len, job, NULL, p, NULL, &err) != APR_SUCCESS) {
        CHECK(err.msg[0]);
        buf_free(&f);
        return;
    }
    buf_init(&a);
    buf_init(&b);
    for (int i = 0; i < job->nentries; i++)
        summary_sane(p->tables[i]);
    /* re-encoded, the same rows; decoded once more, every figure doubles */
    buf_reset(&f);
    encode(p, &f);
    CHECK(frame_decode(f.data, f.len, job, NULL, q, NULL, &err) == APR_SUCCESS);
    for (int i = 0; i < job->nentries; i++) {
        rows_text(p, i, 1, &a);
        rows_text(q, i, 1, &b);
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    }
    CHECK(frame_decode(f.data, f.len, job, NULL, q, NULL, &err) == APR_SUCCESS);
    if (!small_figures(p)) { /* counts wrap at 2^64 when added (agg.h), as in any entry */
        buf_free(&a);
        buf_free(&b);
        buf_free(&f);
        return;
    }
    for (int i = 0; i < job->nentries; i++) {
        rows_text(p, i, 2, &a);
        rows_text(q, i, 1, &b);
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        summary_sane(q->tables[i]);
    }
    /* merged with summaries of lines, both ways */
    e = engine_create(job, pool);
    CHECK(engine_feed(e, LINES, sizeof LINES - 1, 0, q, NULL, &err) == APR_SUCCESS);
    CHECK(partial_merge(q, p, &err) == APR_SUCCESS);
    CHECK(partial_merge(p, q, &err) == APR_SUCCESS);
    for (int i = 0; i < job->nentries; i++) {
        summary_sane(p->tables[i]);
        summary_sane(q->tables[i]);
    }
    buf_free(&a);
    buf_free(&b);
    buf_free(&f);
}

/* ---- mode 1: operations against exact sums ------------------------------------- */

enum { OPS_KEYS = 64, OPS_M = 5 };
static const agg_spec_t OPS_SPECS[2] = {{.kind = AGG_SUM}, {.kind = AGG_COUNT}};

typedef struct side_t {
    ptable_t *t;
    int64_t truth[OPS_KEYS];
    int64_t n;
} side_t;

static long key_of(const ptable_row_t *row)
{
    CHECK(row->klen == 2 && row->key[0] == 'k' && row->key[1] < OPS_KEYS);
    return row->key[1];
}

static void guarantees(const side_t *s)
{
    const ptable_t *t = s->t;
    double fl = num(&OPS_SPECS[0], ptable_top_floor(t));
    uint8_t kept[OPS_KEYS] = {0};
    size_t cur = 0;
    ptable_row_t *row;
    CHECK(ptable_count(t) <= OPS_M);
    CHECK(fl >= 0 && fl * OPS_M <= (double)s->n);
    while ((row = ptable_next(t, &cur)) != NULL) {
        long k = key_of(row);
        double v = num(&OPS_SPECS[0], row->state + ptable_offset(t, 0));
        double e = num(&OPS_SPECS[0], ptable_top_error(t, row));
        kept[k] = 1;
        CHECK((double)s->truth[k] <= v && v - e <= (double)s->truth[k]);
        CHECK(e >= 0 && e <= fl && v >= fl);
    }
    for (int k = 0; k < OPS_KEYS; k++)
        CHECK(kept[k] || (double)s->truth[k] <= fl);
}

static void add(side_t *s, uint8_t k, uint8_t w)
{
    uint8_t key[2] = {'k', k};
    value_t x = {.kind = VALUE_INT, .i = w};
    ptable_row_t *row = ptable_upsert(s->t, key, 2, value_hash_bytes(key, 2));
    CHECK(row);
    agg_update(&OPS_SPECS[0], row->state + ptable_offset(s->t, 0), &x);
    agg_update(&OPS_SPECS[1], row->state + ptable_offset(s->t, 1), NULL);
    ptable_top_touch(s->t, row);
    s->truth[k] += w;
    s->n += w;
}

static void run_ops(const uint8_t *d, size_t n, apr_pool_t *pool)
{
    side_t a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.t = ptable_create_top(OPS_SPECS, 2, 0, OPS_M, pool);
    b.t = ptable_create_top(OPS_SPECS, 2, 0, OPS_M, pool);
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint8_t op = d[i] >> 6, k = d[i] & 63, w = d[i + 1];
        if (op == 0) {
            add(&a, k, w);
        } else if (op == 1) {
            add(&b, k, w);
        } else if (op == 2 && k < 32) { /* merge B into A; B afresh */
            CHECK(ptable_merge(a.t, b.t) == APR_SUCCESS);
            for (int x = 0; x < OPS_KEYS; x++)
                a.truth[x] += b.truth[x];
            a.n += b.n;
            ptable_clear(b.t);
            memset(b.truth, 0, sizeof b.truth);
            b.n = 0;
            guarantees(&a);
        } else if (op == 2) { /* A afresh */
            ptable_clear(a.t);
            memset(a.truth, 0, sizeof a.truth);
            a.n = 0;
        } else {
            add(k % 2 ? &b : &a, (uint8_t)(k % 7), w); /* a few heavy keys */
        }
    }
    guarantees(&a);
    guarantees(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    if (size == 0)
        return 0;
    apr_pool_create(&pool, root);
    if (data[0] % 3 == 1)
        run_ops(data + 1, size - 1, pool);
    else
        decode_payload(data + 1, size - 1, data[0] % 3 == 2 ? 2 : 1, pool);
    apr_pool_destroy(pool);
    return 0;
}

/* ---- seeds ---------------------------------------------------------------------- */

/* The payload of a frame of the fixed lines (evictions in both entries), and operations. */
static void write_seeds(const char *dir)
{
    apr_pool_t *pool;
    partial_t *p;
    abbey_err_t err;
    buf_t raw;
    uint64_t weight;
    uint8_t ops[96];

    apr_pool_create(&pool, root);
    p = partial_create(job, pool);
    CHECK(engine_feed(engine_create(job, pool), LINES, sizeof LINES - 1, 0, p, NULL, &err) ==
          APR_SUCCESS);
    buf_init(&raw);
    for (int version = 1; version <= 2; version++) {
        buf_reset(&raw);
        CHECK(frame_payload_put(&raw, p, NULL, version, &weight, &err) == APR_SUCCESS);
        fuzz_write_seed(dir, version == 1 ? "seed-payload" : "seed-payload-v2",
                        version == 1 ? 0 : 2, raw.data, raw.len);
    }
    for (size_t i = 0; i < sizeof ops; i += 2) {
        ops[i] = (uint8_t)((i % 24 == 22 ? 2u << 6 : (i % 4 ? 1u : 0u) << 6) | ((i * 7) % 13));
        ops[i + 1] = (uint8_t)(i * 11);
    }
    fuzz_write_seed(dir, "seed-ops", 1, ops, sizeof ops);
    buf_free(&raw);
    apr_pool_destroy(pool);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    abbey_err_t err;
    apr_initialize();
    apr_pool_create(&root, NULL);
    if (rules_load_buffer(RULES, sizeof RULES - 1, "fuzz_top.yaml", root, &cfg, &err) !=
        APR_SUCCESS) {
        fprintf(stderr, "fuzz_top: %s\n", err.msg);
        abort();
    }
    job = &cfg->jobs[0];
    fuzz_seed_dirs(*argc, *argv, write_seeds);
    return 0;
}
