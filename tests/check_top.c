/* check_top.c - unit tests for top-K entries: the Space-Saving summary of rules/ptable_top.c
 * (updates, evictions, merges, error bounds, out of memory), its frame form (round trip, and
 * forged summaries refused), `top:` in the rules loader and the engine's ranked lines. The
 * reports of top entries are tests/check_top_reports.c.
 *
 * Oracles: streams small enough to follow by hand (the exact rows, values, errors and
 * floor after each step), and random streams recounted exactly in arrays indexed by key
 * number, against which the summary's guarantees must hold: every row's true figure in
 * [value - error, value], every key whose true figure exceeds the floor kept, the floor
 * at most N/m, and for a summary never merged its values adding up to N. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include <apr_general.h>

#include "check_run.h"
#include "engine.h"
#include "fixture_top.h"
#include "frame.h"
#include "mem.h"
#include "partial.h"
#include "ptable_top.h"
#include "rules.h"
#include "value.h"

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* ---- tables by hand: keys "k<i>" (one text column), ranked value 0 ------------ */

/* A sum ranks, a count rides along (value 1). */
static const agg_spec_t SUM_SPECS[2] = {{.kind = AGG_SUM}, {.kind = AGG_COUNT}};
/* A count ranks, a sum rides along. */
static const agg_spec_t CNT_SPECS[2] = {{.kind = AGG_COUNT}, {.kind = AGG_SUM}};

static void make_key(buf_t *b, long i, size_t pad)
{
    char s[512];
    int n = snprintf(s, sizeof s, "k%ld", i);
    value_t v = {.kind = VALUE_STR, .s = s};
    while (pad-- > 0 && (size_t)n < sizeof s - 1)
        s[n++] = '.';
    v.len = (uint32_t)n;
    buf_reset(b);
    value_key_put(b, &v);
}

static long key_number(const ptable_row_t *row)
{
    buf_reader_t r;
    value_t v;
    buf_reader_init(&r, row->key, row->klen);
    char text[32];
    if (value_key_get(&r, &v) != 0 || v.kind != VALUE_STR || v.len < 2)
        return -1;
    snprintf(text, sizeof text, "%.*s", (int)v.len, v.s);
    return strtol(text + 1, NULL, 10);
}

static int64_t figure(const agg_spec_t *s, const void *state)
{
    agg_result_t res;
    agg_result(s, state, &res);
    return strtoll(res.text, NULL, 10);
}

static int64_t value_of(const ptable_t *t, const ptable_row_t *row, int v)
{
    return figure(&ptable_specs(t)[v], row->state + ptable_offset(t, v));
}

static int64_t error_of(const ptable_t *t, const ptable_row_t *row)
{
    return figure(&ptable_specs(t)[ptable_top_by(t)], ptable_top_error(t, row));
}

static int64_t floor_of(const ptable_t *t)
{
    return figure(&ptable_specs(t)[ptable_top_by(t)], ptable_top_floor(t));
}

/* One line of key i and weight w (w 1 for a count-ranked table), as the engine
 * applies it. NULL when the table could not grow. */
static ptable_row_t *add_pad(ptable_t *t, long i, int64_t w, size_t pad)
{
    buf_t b;
    value_t x = {.kind = VALUE_INT, .i = w};
    ptable_row_t *row;
    buf_init(&b);
    make_key(&b, i, pad);
    row = ptable_upsert(t, b.data, (uint32_t)b.len, value_hash_bytes(b.data, b.len));
    buf_free(&b);
    if (!row)
        return NULL;
    for (int v = 0; v < ptable_nspecs(t); v++)
        ck_assert_int_eq(agg_update(&ptable_specs(t)[v], row->state + ptable_offset(t, v),
                                    ptable_specs(t)[v].kind == AGG_COUNT ? NULL : &x),
                         0);
    ptable_top_touch(t, row);
    return row;
}

static ptable_row_t *add(ptable_t *t, long i, int64_t w)
{
    return add_pad(t, i, w, 0);
}

static ptable_row_t *find(const ptable_t *t, long i)
{
    buf_t b;
    ptable_row_t *row;
    buf_init(&b);
    make_key(&b, i, 0);
    row = ptable_find(t, b.data, (uint32_t)b.len, value_hash_bytes(b.data, b.len));
    buf_free(&b);
    return row;
}

/* Row of key i must hold ranked value v and error e. */
static void expect_row(const ptable_t *t, long i, int64_t v, int64_t e)
{
    ptable_row_t *row = find(t, i);
    ck_assert_msg(row != NULL, "key k%ld is not kept", i);
    ck_assert_int_eq(value_of(t, row, ptable_top_by(t)), v);
    ck_assert_int_eq(error_of(t, row), e);
}

/* The summary's guarantees against the exact figures truth[0..nkeys) of a
 * stream whose ranked total is n. With never_merged, the values add up to n. */
static void check_bounds(const ptable_t *t, const int64_t *truth, long nkeys, int64_t n,
                         int never_merged)
{
    size_t cur = 0;
    ptable_row_t *row;
    int64_t fl = floor_of(t), sum = 0;
    int by = ptable_top_by(t);
    char *kept = calloc((size_t)nkeys, 1);

    ck_assert_uint_le(ptable_count(t), ptable_top_m(t));
    ck_assert_int_ge(fl, 0);
    ck_assert_msg(fl * (int64_t)ptable_top_m(t) <= n, "floor %lld above N/m (N %lld, m %u)",
                  (long long)fl, (long long)n, ptable_top_m(t));
    while ((row = ptable_next(t, &cur)) != NULL) {
        long k = key_number(row);
        int64_t v = value_of(t, row, by), e = error_of(t, row);
        ck_assert(k >= 0 && k < nkeys);
        kept[k] = 1;
        ck_assert_msg(truth[k] <= v && v - e <= truth[k] && e >= 0 && e <= fl && v >= fl,
                      "key k%ld: value %lld error %lld true %lld floor %lld", k, (long long)v,
                      (long long)e, (long long)truth[k], (long long)fl);
        ck_assert_int_le(value_of(t, row, 1 - by), by == 0 ? INT64_MAX : truth[k]);
        sum += v;
    }
    for (long k = 0; k < nkeys; k++)
        ck_assert_msg(kept[k] || truth[k] <= fl, "key k%ld (true %lld) above the floor %lld lost",
                      k, (long long)truth[k], (long long)fl);
    if (never_merged)
        ck_assert_int_eq(sum, n);
    free(kept);
}

/* ---- updates and evictions ------------------------------------------------------ */

START_TEST(test_evict_by_hand)
{
    ptable_t *t = ptable_create_top(SUM_SPECS, 2, 0, 3, pool);
    add(t, 1, 10); /* a */
    add(t, 2, 20); /* b */
    add(t, 3, 30); /* c */
    ck_assert(ptable_top_full(t));
    ck_assert_int_eq(floor_of(t), 0);
    add(t, 4, 5); /* d takes a's row: 10 + 5, error 10 */
    ck_assert_ptr_null(find(t, 1));
    expect_row(t, 4, 15, 10);
    ck_assert_int_eq(floor_of(t), 10);
    add(t, 5, 1); /* e takes d's (the smallest, 15) */
    ck_assert_ptr_null(find(t, 4));
    expect_row(t, 5, 16, 15);
    add(t, 2, 1);   /* b kept: 21 */
    add(t, 6, 100); /* f takes e's: 116, error 16 */
    expect_row(t, 2, 21, 0);
    expect_row(t, 3, 30, 0);
    expect_row(t, 6, 116, 16);
    ck_assert_int_eq(floor_of(t), 16);
    ck_assert_uint_eq(ptable_count(t), 3);
    /* the count riding along holds the lines seen while kept */
    ck_assert_int_eq(value_of(t, find(t, 6), 1), 1);
    ck_assert_int_eq(value_of(t, find(t, 2), 1), 2);
    ptable_clear(t);
    ck_assert_uint_eq(ptable_count(t), 0);
    ck_assert_int_eq(floor_of(t), 0);
    add(t, 7, 3);
    expect_row(t, 7, 3, 0);
}
END_TEST

/* A skewed random stream: key k with probability ~ 1/(k+1). */
static long draw(unsigned *seed, long nkeys)
{
    double u = (double)rand_r(seed) / ((double)RAND_MAX + 1);
    long k = (long)(exp(u * log((double)nkeys + 1))) - 1;
    return k < 0 ? 0 : k >= nkeys ? nkeys - 1 : k;
}

#define NK 500

START_TEST(test_stream_bounds)
{
    static const uint32_t ms[] = {1, 2, 7, 32, 100, 600};
    for (size_t c = 0; c < sizeof ms / sizeof ms[0]; c++)
        for (int ranked_sum = 0; ranked_sum < 2; ranked_sum++) {
            ptable_t *t = ptable_create_top(ranked_sum ? SUM_SPECS : CNT_SPECS, 2, 0, ms[c], pool);
            int64_t truth[NK] = {0}, n = 0;
            unsigned seed = (unsigned)(c * 7 + (size_t)ranked_sum);
            for (int i = 0; i < 20000; i++) {
                long k = draw(&seed, NK);
                int64_t w = ranked_sum ? rand_r(&seed) % 50 : 1;
                ck_assert_ptr_nonnull(add(t, k, w));
                truth[k] += w;
                n += w;
                if (i % 4999 == 0)
                    check_bounds(t, truth, NK, n, 1);
            }
            check_bounds(t, truth, NK, n, 1);
        }
}
END_TEST

START_TEST(test_long_keys)
{
    /* evictions hand rows to ever longer keys: the key room grows, the keys stay whole */
    ptable_t *t = ptable_create_top(CNT_SPECS, 2, 0, 4, pool);
    buf_t b;
    buf_init(&b);
    for (long i = 0; i < 400; i++) {
        ptable_row_t *row = add_pad(t, i, 1, (size_t)i);
        ck_assert_ptr_nonnull(row);
        make_key(&b, i, (size_t)i);
        ck_assert_uint_eq(row->klen, b.len);
        ck_assert_mem_eq(row->key, b.data, b.len);
    }
    buf_free(&b);
    ck_assert_uint_eq(ptable_count(t), 4);
    ck_assert_int_eq(floor_of(t), 99); /* 400 lines over 4 rows, round robin */
}
END_TEST

/* ---- merging ------------------------------------------------------------------- */

START_TEST(test_merge_by_hand)
{
    ptable_t *d = ptable_create_top(SUM_SPECS, 2, 0, 3, pool);
    ptable_t *s = ptable_create_top(SUM_SPECS, 2, 0, 3, pool);
    ptable_t *s2 = ptable_create_top(SUM_SPECS, 2, 0, 3, pool);

    add(d, 1, 10); /* a */
    add(d, 2, 20); /* b */
    add(d, 3, 30); /* c */
    add(s, 1, 5);  /* a */
    add(s, 4, 40); /* d */
    add(s, 5, 1);  /* e */
    /* floors 0: a = 15 is dropped for d = 40, e = 1 is dropped; the floor is 15 */
    ck_assert_int_eq(ptable_merge(d, s), APR_SUCCESS);
    ck_assert_uint_eq(ptable_count(d), 3);
    ck_assert_ptr_null(find(d, 1));
    ck_assert_ptr_null(find(d, 5));
    expect_row(d, 2, 20, 0);
    expect_row(d, 3, 30, 0);
    expect_row(d, 4, 40, 0);
    ck_assert_int_eq(floor_of(d), 15);

    /* s2: b 5 (error 2), x 50 (error 4), y 9 (error 9), floor 9, made by evictions */
    add(s2, 6, 9); /* y0 */
    add(s2, 7, 9); /* y1 */
    add(s2, 8, 2); /* y2 */
    add(s2, 2, 3); /* b takes y2's row: 2 + 3, error 2; floor 2 */
    add(s2, 9, 2); /* z takes b's row (5): 7, error 5 */
    add(s2, 2, 1); /* b takes z's row (7): 8, error 7 */
    ck_assert_int_eq(floor_of(s2), 7);
    /* rows: y0 9/0, y1 9/0, b 8/7, floor 7 */
    expect_row(s2, 2, 8, 7);
    /* merge: c, d (not in s2) gain 7; b = 20 + 8, error 7; y0, y1 = 9 + 15 = 24, error 15;
     * floor 15 + 7 = 22; the three largest: d 47, c 37, b 28; y0, y1 dropped at 24 */
    ck_assert_int_eq(ptable_merge(d, s2), APR_SUCCESS);
    expect_row(d, 4, 47, 7);
    expect_row(d, 3, 37, 7);
    expect_row(d, 2, 28, 7);
    ck_assert_int_eq(floor_of(d), 24);
    ck_assert_uint_eq(ptable_count(d), 3);
}
END_TEST

START_TEST(test_merge_bounds)
{
    enum { PARTS = 6, LINES = 6000 };
    for (int ranked_sum = 0; ranked_sum < 2; ranked_sum++)
        for (uint32_t m = 4; m <= 256; m *= 4) {
            ptable_t *p[PARTS],
                *chain = ptable_create_top(ranked_sum ? SUM_SPECS : CNT_SPECS, 2, 0, m, pool);
            int64_t truth[NK] = {0}, n = 0;
            unsigned seed = m + (unsigned)ranked_sum;
            for (int i = 0; i < PARTS; i++) {
                p[i] = ptable_create_top(ranked_sum ? SUM_SPECS : CNT_SPECS, 2, 0, m, pool);
                /* parts of different sizes and mixes of keys */
                for (int l = 0; l < LINES * (i + 1) / PARTS; l++) {
                    long k = (draw(&seed, NK) + (i % 2) * 37) % NK;
                    int64_t w = ranked_sum ? 1 + rand_r(&seed) % 40 : 1;
                    add(p[i], k, w);
                    truth[k] += w;
                    n += w;
                }
            }
            /* a chain of merges into an empty summary */
            for (int i = 0; i < PARTS; i++)
                ck_assert_int_eq(ptable_merge(chain, p[i]), APR_SUCCESS);
            check_bounds(chain, truth, NK, n, 0);
            /* a tree: (0+1) + ((2+3) + (4+5)) */
            ck_assert_int_eq(ptable_merge(p[0], p[1]), APR_SUCCESS);
            ck_assert_int_eq(ptable_merge(p[2], p[3]), APR_SUCCESS);
            ck_assert_int_eq(ptable_merge(p[4], p[5]), APR_SUCCESS);
            ck_assert_int_eq(ptable_merge(p[2], p[4]), APR_SUCCESS);
            ck_assert_int_eq(ptable_merge(p[0], p[2]), APR_SUCCESS);
            check_bounds(p[0], truth, NK, n, 0);
        }
}
END_TEST

/* Out of memory at each allocation of evictions (long keys) and merges in
 * turn: the call fails cleanly, the table stays usable and releasable. */
START_TEST(test_out_of_memory)
{
    int failures = 0;
    for (uint64_t at = 1; at < 200; at++) {
        apr_pool_t *sub;
        ptable_t *a, *b;
        int failed = 0;
        apr_pool_create(&sub, pool);
        a = ptable_create_top(CNT_SPECS, 2, 0, 8, sub);
        b = ptable_create_top(CNT_SPECS, 2, 0, 8, sub);
        mem_fail_at(at);
        for (long i = 0; i < 60; i++) {
            failed |= add_pad(a, i % 23, 1, (size_t)(i % 40) * 3) == NULL;
            failed |= add_pad(b, (i * 7) % 31, 1, (size_t)i) == NULL;
        }
        failed |= ptable_merge(a, b) != APR_SUCCESS;
        mem_fail_at(0);
        failures += failed;
        ck_assert_uint_le(ptable_count(a), 8);
        ptable_release(a); /* what partial_fail does */
        ck_assert_uint_eq(ptable_count(a), 0);
        ck_assert_ptr_nonnull(add(a, 1, 1));
        apr_pool_destroy(sub);
    }
    ck_assert_int_gt(failures, 0); /* the hook reached the summary's allocations */
}
END_TEST

/* ---- rules, engine, frames, reports -------------------------------------------- */

static rules_config_t *load(const char *text, abbey_err_t *err)
{
    rules_config_t *cfg = NULL;
    if (rules_load_buffer(text, strlen(text), "top.yaml", pool, &cfg, err) != APR_SUCCESS)
        return NULL;
    return cfg;
}

static void feed(const rules_job_t *job, partial_t *p, const char *lines)
{
    engine_t *e = engine_create(job, pool);
    abbey_err_t err;
    ck_assert_int_eq(engine_feed(e, lines, strlen(lines), 0, p, NULL, &err), APR_SUCCESS);
}

START_TEST(test_rules)
{
    abbey_err_t err;
    rules_config_t *cfg = load(TOP_RULES, &err);
    const rules_job_t *j;
    ck_assert_msg(cfg != NULL, "%s", err.msg);
    j = &cfg->jobs[0];
    ck_assert_int_eq(j->entries[0]->top_k, 2);
    ck_assert_int_eq(j->entries[0]->top_by, 0);
    ck_assert_uint_eq(j->entries[0]->top_m, 4);
    ck_assert_str_eq(j->entries[0]->top_error, "hits_error");
    ck_assert_int_eq(rules_entry_ncols(j->entries[0]), 4);
    ck_assert_str_eq(rules_col_name(j->entries[0], 3), "hits_error");
    /* reports: ordered by the ranked value, descending, k rows unless fewer asked */
    ck_assert_int_eq(j->reports[0].order_col, 1);
    ck_assert_int_eq(j->reports[0].order_desc, 1);
    ck_assert_int_eq(j->reports[0].limit, 2);
    ck_assert_int_eq(j->reports[0].ncols, 4);
    ck_assert_int_eq(j->reports[1].cols[2], 3);
    ck_assert_int_eq(j->reports[2].order_col, 1);
    ck_assert_int_eq(j->reports[2].limit, 1);
}
END_TEST

/* TOP_RULES with text `from` replaced by `to` must be refused with a message holding want. */
static void refused(const char *from, const char *to, const char *want)
{
    abbey_err_t err;
    const char *at = strstr(TOP_RULES, from);
    char text[4096];
    ck_assert_ptr_nonnull(at);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - TOP_RULES), TOP_RULES, to,
             at + strlen(from));
    ck_assert_msg(load(text, &err) == NULL, "accepted: %s", to);
    ck_assert_msg(strstr(err.msg, want) != NULL, "'%s': message '%s' lacks '%s'", to, err.msg,
                  want);
    ck_assert_msg(strncmp(err.msg, "top.yaml:", 9) == 0, "no position: %s", err.msg);
}

START_TEST(test_rules_refused)
{
    refused("by: hits,", "by: nope,", "no value column 'nope' in entry 'hits'");
    refused("values: {hits: count, bytes: sum(bytes)}\n            top: {k: 2, by: hits",
            "values: {hits: count, b: avg(bytes)}\n            top: {k: 2, by: nope",
            "no value column 'nope' in entry 'hits' (its count and sum columns: hits)");
    refused("values: {hits: count, bytes: sum(bytes)}\n            top: {k: 2, by: hits",
            "values: {hits: count, b: max(bytes)}\n            top: {k: 2, by: b",
            "'b' is not a count or a sum (it is max); top ranks rows by one of entry 'hits': "
            "hits");
    refused("k: 2, by: hits", "k: 0, by: hits", "top: k");
    refused("k: 2, by: hits", "k: 100001, by: hits", "top: k");
    refused("capacity: 4}", "capacity: 1}", "top: capacity");
    refused("capacity: 4}", "capacity: 2000001}", "top: capacity");
    refused("capacity: 4}", "capacity: 4, m: 3}", "unknown");
    refused("top: {k: 2, by: hits, capacity: 4}", "top: 5", "top: expected a map");
    refused("top: {k: 2, by: hits, capacity: 4}", "top: {by: hits}", "k");
    refused("values: {hits: count, bytes: sum(bytes)}",
            "values: {hits: count, hits_error: sum(bytes)}",
            "the error column 'hits_error' of 'hits' has the name of a column");
    refused("{name: hits, entry: hits,", "{name: hits, entry: hits, order: path asc,",
            "its reports are ordered 'hits desc'");
    refused("{name: hits, entry: hits,", "{name: hits, entry: hits, order: hits asc,",
            "its reports are ordered 'hits desc'");
    refused("{name: hits, entry: hits,", "{name: hits, entry: hits, limit: 3,",
            "limit 3 is more than the 2 rows");
}
END_TEST

START_TEST(test_engine_lines)
{
    abbey_err_t err;
    rules_config_t *cfg = load(TOP_RULES, &err);
    const rules_job_t *j = &cfg->jobs[0];
    partial_t *p = partial_create(j, pool);
    ptable_t *vol = p->tables[1];
    value_t k;
    buf_t b;

    /* vol keeps 2 rows by bytes: statuses 200 (500) and 404 (7) */
    feed(j, p, "/a 200 500\n/b 404 7\n");
    ck_assert_uint_eq(ptable_count(vol), 2);
    /* a negative weight makes the line bad (reason value), for every entry */
    feed(j, p, "/c 500 -3\n");
    ck_assert_uint_eq(p->bad_lines, 1);
    ck_assert_uint_eq(p->bad_by[PARTIAL_BAD_VALUE], 1);
    ck_assert_uint_eq(ptable_count(p->tables[0]), 2);
    /* a line adding 0 for a status not kept takes no row; the row kept takes its count */
    feed(j, p, "/d 301 0\n/e 404 0\n");
    ck_assert_int_eq(floor_of(vol), 0);
    buf_init(&b);
    k = (value_t){.kind = VALUE_INT, .i = 404};
    value_key_put(&b, &k);
    ck_assert_ptr_nonnull(
        ptable_find(vol, b.data, (uint32_t)b.len, value_hash_bytes(b.data, b.len)));
    ck_assert_int_eq(
        value_of(vol, ptable_find(vol, b.data, (uint32_t)b.len, value_hash_bytes(b.data, b.len)),
                 1),
        2);
    /* a small integer key evicted and taken again: rows are never cached by value */
    feed(j, p, "/f 302 9\n");  /* 302 takes 404's row: 7 + 9 = 16, error 7 */
    feed(j, p, "/g 404 30\n"); /* 404 takes 302's row: 16 + 30, error 16 */
    ck_assert_int_eq(
        value_of(vol, ptable_find(vol, b.data, (uint32_t)b.len, value_hash_bytes(b.data, b.len)),
                 0),
        46);
    ck_assert_int_eq(
        error_of(vol, ptable_find(vol, b.data, (uint32_t)b.len, value_hash_bytes(b.data, b.len))),
        16);
    ck_assert_int_eq(floor_of(vol), 16);
    buf_free(&b);
}
END_TEST

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rows of entry e of p as sorted text "key value... error", then the floor,
 * every figure times `times`. */
static char *fingerprint(const partial_t *p, int e, int times)
{
    const ptable_t *t = p->tables[e];
    size_t cur = 0, n = 0;
    ptable_row_t *row;
    char **lines = calloc(ptable_count(t) + 1, sizeof *lines), *out = calloc(1, 1 << 16);
    while ((row = ptable_next(t, &cur)) != NULL) {
        char *l = malloc(256);
        buf_reader_t r;
        value_t k;
        int o;
        buf_reader_init(&r, row->key, row->klen);
        ck_assert_int_eq(value_key_get(&r, &k), 0);
        o = snprintf(l, 256, "%.*s", (int)k.len, k.s);
        for (int v = 0; v < ptable_nspecs(t); v++)
            o += snprintf(l + o, 256 - (size_t)o, " %lld", (long long)value_of(t, row, v) * times);
        snprintf(l + o, 256 - (size_t)o, " e%lld", (long long)error_of(t, row) * times);
        lines[n++] = l;
    }
    qsort(lines, n, sizeof *lines, line_cmp);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
        free(lines[i]);
    }
    sprintf(out + strlen(out), "floor %lld", (long long)floor_of(t) * times);
    free(lines);
    return out;
}

static void encode(const partial_t *p, buf_t *out)
{
    frame_header_t h;
    abbey_err_t err;
    memset(&h, 0, sizeof h);
    strcpy(h.job, "j");
    strcpy(h.source, "/dev/null#1");
    h.end = 1;
    frame_header_counts(&h, p);
    buf_reset(out);
    ck_assert_msg(frame_encode(&h, p, NULL, out, &err) == APR_SUCCESS, "%s", err.msg);
}

START_TEST(test_frame_round_trip)
{
    abbey_err_t err;
    rules_config_t *cfg = load(TOP_RULES, &err);
    const rules_job_t *j = &cfg->jobs[0];
    partial_t *p = partial_create(j, pool), *q = partial_create(j, pool);
    buf_t f;
    char *a, *b;

    feed(j, p, "/a 200 5\n/b 200 5\n/c 404 1\n/a 200 1\n/d 500 4\n/e 301 9\n/f 302 2\n");
    ck_assert_int_gt(floor_of(p->tables[0]), 0); /* evictions happened in both entries */
    ck_assert_int_gt(floor_of(p->tables[1]), 0);
    buf_init(&f);
    encode(p, &f);
    ck_assert_msg(frame_decode(f.data, f.len, j, NULL, q, NULL, &err) == APR_SUCCESS, "%s",
                  err.msg);
    for (int times = 1; times <= 2; times++) {
        for (int e = 0; e < 2; e++) {
            a = fingerprint(p, e, times);
            b = fingerprint(q, e, 1);
            ck_assert_str_eq(a, b);
            free(a);
            free(b);
        }
        /* decoded again, the summary merges with itself: every figure doubles */
        ck_assert_int_eq(frame_decode(f.data, f.len, j, NULL, q, NULL, &err), APR_SUCCESS);
    }
    buf_free(&f);
}
END_TEST

/* A state of s holding x. */
static void put_state(buf_t *b, const agg_spec_t *s, int64_t x)
{
    uint64_t st[8];
    value_t v = {.kind = VALUE_INT, .i = x};
    agg_init(s, st);
    for (int64_t i = 0; s->kind == AGG_COUNT && i < x; i++)
        agg_update(s, st, NULL);
    if (s->kind != AGG_COUNT)
        agg_update(s, st, &v);
    agg_encode(s, st, b);
}

/* The frame version the forged payloads below are written in (1 or 2). */
static int forge_version;

/* A payload of group g with entry e alone: nrows rows "/r<i>" of ranked value
 * vals[i] (its other value 1) and error errs[i], m and floor as given; the
 * last cut bytes left out. In version 2, an empty dictionary first and each key
 * as sharing nothing with the previous one (counts and sums are written alike
 * in both versions). */
static void forge(buf_t *b, const rules_entry_t *e, uint64_t nrows, uint64_t m, int64_t floor,
                  const int64_t *vals, const int64_t *errs, size_t cut)
{
    buf_reset(b);
    if (forge_version == 2)
        buf_put_varint(b, 0);
    buf_put_varint(b, 1);
    buf_put_str(b, "g", 1);
    buf_put_varint(b, 1);
    buf_put_str(b, e->name, strlen(e->name));
    buf_put_varint(b, 2);
    buf_put_u8(b, (uint8_t)e->specs[0].kind);
    buf_put_u8(b, (uint8_t)e->specs[1].kind);
    buf_put_varint(b, nrows);
    buf_put_varint(b, m);
    put_state(b, &e->specs[0], floor);
    for (uint64_t r = 0; r < nrows; r++) {
        char key[16];
        buf_t k;
        value_t v = {.kind = VALUE_STR, .s = key};
        v.len = (uint32_t)snprintf(key, sizeof key, "/r%llu", (unsigned long long)r);
        buf_init(&k);
        value_key_put(&k, &v);
        if (forge_version == 2)
            buf_put_varint(b, 0);
        buf_put_str(b, k.data, k.len);
        buf_free(&k);
        put_state(b, &e->specs[0], vals[r]);
        put_state(b, &e->specs[1], 1);
        put_state(b, &e->specs[0], errs[r]);
    }
    b->len -= cut;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A valid frame of job j around the raw payload, in forge_version. */
static void wrap(buf_t *out, const rules_job_t *j, const buf_t *raw)
{
    buf_t f;
    size_t zlen =
        forge_version == 2 ? ZSTD_compressBound(raw->len) : compressBound((uLong)raw->len);
    uint8_t *z = malloc(zlen);
    uint32_t h;
    buf_init(&f);
    encode(partial_create(j, pool), &f);
    h = le32(f.data + 8);
    if (forge_version == 2) {
        zlen = ZSTD_compress(z, zlen, raw->data, raw->len, 3);
        ck_assert(!ZSTD_isError(zlen));
    } else {
        uLongf zl = zlen;
        ck_assert_int_eq(compress2(z, &zl, raw->data, (uLong)raw->len, 6), Z_OK);
        zlen = zl;
    }
    f.data[4] = (uint8_t)forge_version;
    buf_reset(out);
    buf_put(out, f.data, 12);
    buf_put_u32(out, (uint32_t)zlen);
    buf_put_u32(out, (uint32_t)raw->len);
    buf_put(out, f.data + 20, h);
    buf_put(out, z, zlen);
    buf_put_u32(out, (uint32_t)crc32(0L, out->data, (uInt)out->len));
    free(z);
    buf_free(&f);
}

/* The forged summary must decode (want NULL) or be refused with a message
 * holding want, leaving into as it was. */
static void decode_forged(const rules_job_t *j, int e, partial_t *into, uint64_t nrows, uint64_t m,
                          int64_t floor, const int64_t *vals, const int64_t *errs, size_t cut,
                          const char *want)
{
    buf_t raw, f;
    abbey_err_t err;
    char *before = fingerprint(into, e, 1), *after;
    apr_status_t rv;
    buf_init(&raw);
    buf_init(&f);
    forge(&raw, j->entries[e], nrows, m, floor, vals, errs, cut);
    wrap(&f, j, &raw);
    rv = frame_decode(f.data, f.len, j, NULL, into, NULL, &err);
    if (!want) {
        ck_assert_msg(rv == APR_SUCCESS, "refused: %s", err.msg);
    } else {
        ck_assert_msg(rv == APR_EINVAL, "accepted, or %d: want '%s'", rv, want);
        ck_assert_msg(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
        after = fingerprint(into, e, 1);
        ck_assert_str_eq(before, after);
        free(after);
    }
    free(before);
    buf_free(&raw);
    buf_free(&f);
}

START_TEST(test_frame_refused)
{
    abbey_err_t err;
    rules_config_t *cfg = load(TOP_RULES, &err);
    const rules_job_t *j = &cfg->jobs[0];
    partial_t *into = partial_create(j, pool);
    static const int64_t v31[] = {3, 1}, e00[] = {0, 0}, e02[] = {0, 2};
    static const int64_t v3333[] = {3, 3, 3, 3}, v3133[] = {3, 1, 3, 3}, e0122[] = {0, 1, 2, 2};
    static const int64_t v5m1[] = {5, -1}, e0m1[] = {0, -1};

    feed(j, into, "/a 200 5\n/r1 404 3\n");
    for (forge_version = 1; forge_version <= 2; forge_version++) {
        /* the forger is right: these decode */
        decode_forged(j, 0, into, 2, 4, 0, v31, e00, 0, NULL);
        decode_forged(j, 0, into, 4, 4, 2, v3333, e0122, 0, NULL);
        decode_forged(j, 1, into, 2, 2, 0, v31, e00, 0, NULL);
        /* and these are refused */
        decode_forged(j, 0, into, 2, 5, 0, v31, e00, 0,
                      "entry 'hits': summary keeps 5 rows in the frame, 4 in the rules");
        decode_forged(j, 1, into, 3, 2, 0, v3333, e0122, 0,
                      "entry 'vol': summary has 3 rows, more than the 2 it keeps");
        decode_forged(j, 0, into, 2, 4, 1, v31, e00, 0, "above zero in a summary not full");
        decode_forged(j, 0, into, 4, 4, 2, v3133, e0122, 0,
                      "row 1: summary row: the value is below the summary's floor");
        decode_forged(j, 0, into, 2, 4, 0, v31, e02, 0, "row 1: summary row: the error is above");
        decode_forged(j, 0, into, 2, 4, 0, v31, e00, 1, "entry 'hits' row 1: error");
        decode_forged(j, 1, into, 2, 2, 0, v5m1, e00, 0,
                      "row 1: summary row: the value is negative");
        decode_forged(j, 1, into, 2, 2, 0, v31, e0m1, 0,
                      "row 1: summary row: the error is negative");
        decode_forged(j, 1, into, 2, 2, -1, v31, e00, 0, "entry 'vol': summary floor is negative");
        /* an empty partial (decoded into directly, frame.c) stays empty */
        decode_forged(j, 0, partial_create(j, pool), 4, 4, 2, v3133, e0122, 0,
                      "row 1: summary row: the value is below the summary's floor");
    }
}
END_TEST

Suite *top_suite(void)
{
    Suite *s = suite_create("top");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_evict_by_hand);
    tcase_add_test(tc, test_stream_bounds);
    tcase_add_test(tc, test_long_keys);
    tcase_add_test(tc, test_merge_by_hand);
    tcase_add_test(tc, test_merge_bounds);
    tcase_add_test(tc, test_out_of_memory);
    tcase_add_test(tc, test_rules);
    tcase_add_test(tc, test_rules_refused);
    tcase_add_test(tc, test_engine_lines);
    tcase_add_test(tc, test_frame_round_trip);
    tcase_add_test(tc, test_frame_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    apr_initialize();
    int failed = check_run(top_suite());
    apr_terminate();
    return failed ? 1 : 0;
}
