/* check_max_keys.c - unit tests for max_keys (issue 11): an entry's tables fold the keys past
 * the limit into one overflow row (rules/ptable.c), in the engine (rules/engine.c), in
 * merges (rules/partial.c), through frames (rules/frame.c) and in reports (export/); and the
 * table's memory accounting (ptable_bytes).
 *
 * Oracles are counted here, apart from abbey: per path, the lines and ms of a synthetic
 * log and the order in which paths first appear; every check compares a table's rows and
 * its overflow row with them, and the sum over all rows with the line count. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "fixture_keys.h"
#include "engine.h"
#include "export.h"
#include "frame.h"
#include "partial.h"
#include "rules.h"
#include "value.h"

static apr_pool_t *pool;

static const char *RULES =
    "jobs:\n"
    "  - name: t\n"
    "    sources: [/dev/null]\n"
    "    format: {split: \" \", fields: [user, path, ms:int]}\n"
    "    groups:\n"
    "      - name: g\n"
    "        entries:\n"
    "          - {name: pages, key: [path], values: {hits: count, ms: sum(ms)}, max_keys: 10}\n"
    "          - name: slow\n"
    "            key: [path]\n"
    "            values: {ms: sum(ms), users: distinct(user)}\n"
    "            max_keys: 5\n"
    "          - {name: users, key: [user], values: {hits: count}}\n"
    "    reports:\n"
    "      - {name: top, entry: pages, order: hits desc, limit: 3}\n"
    "      - {name: js, entry: pages, format: json, limit: 2}\n"
    "      - {name: us, entry: users, format: json}\n";

enum { E_PAGES, E_SLOW, E_USERS };
#define NPATH 100

static const rules_job_t *job;

/* The synthetic log: line i has path /p<path_of(i)>, ms i % 97, user u<i % 7>. */
static int path_of(long i)
{
    return (int)((i * 37 + i / 13) % NPATH);
}

typedef struct oracle_t {
    uint64_t lines, hits[NPATH], ms[NPATH];
    int order[NPATH]; /* paths in the order they first appear */
    int nseen;
} oracle_t;

/* Lines [a, b) of the log into buf (reset), counted into o. */
static void make_lines(long a, long b, buf_t *buf, oracle_t *o)
{
    buf_reset(buf);
    for (long i = a; i < b; i++) {
        int p = path_of(i);
        buf_printf(buf, "u%ld /p%d %ld\n", i % 7, p, i % 97);
        if (!o->hits[p])
            o->order[o->nseen++] = p;
        o->lines++;
        o->hits[p]++;
        o->ms[p] += (uint64_t)(i % 97);
    }
}

/* A partial of job fed lines [a, b). */
static partial_t *fed(long a, long b, oracle_t *o)
{
    engine_t *e = engine_create(job, pool);
    partial_t *p = partial_create(job, pool);
    buf_t buf;
    buf_init(&buf);
    make_lines(a, b, &buf, o);
    ck_assert_int_eq(engine_feed(e, (const char *)buf.data, buf.len, 0, p, NULL, NULL),
                     APR_SUCCESS);
    buf_free(&buf);
    return p;
}

/* Every row of t (value 0 counts lines of pages, or is ms of slow: want[]) and its overflow
 * row against the oracle: kept[p] marks the paths that must be rows. Returns the sum of
 * value 0 over all rows. */
static uint64_t check_rows(const ptable_t *t, const uint64_t *want, const uint8_t *kept)
{
    size_t cur = 0, n = 0, nkept = 0;
    uint64_t sum = 0, rest = 0;
    const ptable_row_t *row;
    for (int p = 0; p < NPATH; p++)
        if (kept[p])
            nkept++;
        else
            rest += want[p];
    while ((row = ptable_next(t, &cur)) != NULL) {
        int p = row_path(row);
        ck_assert_msg(kept[p], "/p%d is a row, but it should have folded", p);
        ck_assert_uint_eq(fig(t, row, 0), want[p]);
        sum += want[p];
        n++;
    }
    ck_assert_uint_eq(n, nkept);
    ck_assert_uint_eq(ptable_count(t), nkept);
    if (rest) {
        ck_assert_ptr_nonnull(ptable_overflow(t));
        ck_assert_uint_eq(fig(t, ptable_overflow(t), 0), rest);
    } else {
        ck_assert_ptr_null(ptable_overflow(t));
    }
    return sum + rest;
}

static void setup(void)
{
    rules_config_t *cfg;
    abbey_err_t err;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_msg(rules_load_buffer(RULES, strlen(RULES), "t.yaml", pool, &cfg, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    job = &cfg->jobs[0];
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

/* ---- the rules ---------------------------------------------------------- */

static void expect_refused(const char *entry_line, const char *needle)
{
    char text[1024];
    rules_config_t *cfg;
    abbey_err_t err;
    snprintf(text, sizeof text,
             "jobs:\n  - name: t\n    sources: [/dev/null]\n    format: {split: \" \", fields: "
             "[user, path, ms:int]}\n    groups:\n      - name: g\n        entries:\n%s",
             entry_line);
    ck_assert_int_ne(rules_load_buffer(text, strlen(text), "t.yaml", pool, &cfg, &err),
                     APR_SUCCESS);
    ck_assert_msg(strstr(err.msg, needle), "expected '%s', got '%s'", needle, err.msg);
}

START_TEST(test_rules)
{
    const rules_entry_t *pages = job->entries[E_PAGES], *slow = job->entries[E_SLOW];
    ck_assert_uint_eq(pages->max_keys, 10);
    ck_assert_uint_eq(slow->max_keys, 5);
    ck_assert_uint_eq(job->entries[E_USERS]->max_keys, RULES_MAX_KEYS_DEFAULT);
    ck_assert_uint_eq(RULES_MAX_KEYS_DEFAULT, 1000000);
    /* a count value is the rows' lines; without one a hidden count is */
    ck_assert_int_eq(pages->nspecs, 2);
    ck_assert_int_eq(pages->lines_spec, 0);
    ck_assert_int_eq(slow->nvalues, 2);
    ck_assert_int_eq(slow->nspecs, 3);
    ck_assert_int_eq(slow->lines_spec, 2);
    ck_assert_int_eq(slow->specs[2].kind, AGG_COUNT);
    expect_refused("          - {name: e, key: [path], values: {n: count}, max_keys: 0}\n",
                   "t.yaml:8:66: max_keys must be an integer from 1 to 100000000, found '0'");
    expect_refused("          - {name: e, key: [path], values: {n: count}, max_keys: 100000001}\n",
                   "max_keys must be an integer from 1 to 100000000");
    expect_refused("          - {name: e, key: [path], values: {n: count}, max_keys: lots}\n",
                   "found 'lots'");
    expect_refused("          - {name: e, key: [path], values: {_overflow: count}}\n",
                   "t.yaml:8:45: column name '_overflow' is reserved");
    expect_refused("          - {name: e, key: [{_folded_keys: path}], values: {n: count}}\n",
                   "column name '_folded_keys' is reserved");
}
END_TEST

/* ---- the engine --------------------------------------------------------- */

/* The sum of want[p] over the paths p that are not kept (NULL: all). */
static uint64_t sum_folded(const uint64_t *want, const uint8_t *kept)
{
    uint64_t n = 0;
    for (int p = 0; p < NPATH; p++)
        n += kept && kept[p] ? 0 : want[p];
    return n;
}

/* The first max distinct paths of o, marked in kept. */
static void first_paths(const oracle_t *o, int max, uint8_t *kept)
{
    memset(kept, 0, NPATH);
    for (int k = 0; k < max && k < o->nseen; k++)
        kept[o->order[k]] = 1;
}

START_TEST(test_engine_folds)
{
    oracle_t o = {0};
    partial_t *p = fed(0, 2000, &o);
    uint8_t kept[NPATH];
    const ptable_t *pages = p->tables[E_PAGES], *slow = p->tables[E_SLOW];

    ck_assert_int_eq(o.nseen, NPATH);
    first_paths(&o, 10, kept);
    /* every line once: the rows and the overflow row add up to the lines */
    ck_assert_uint_eq(check_rows(pages, o.hits, kept), o.lines);
    ck_assert_uint_eq(ptable_folded_lines(pages), sum_folded(o.hits, kept));
    ck_assert_uint_eq(ptable_folded_keys(pages), NPATH - 10); /* exact below 1024 */
    ck_assert_uint_eq(fig(pages, ptable_overflow(pages), 1), sum_folded(o.ms, kept));
    /* slow has no count: its hidden count still knows the folded lines */
    first_paths(&o, 5, kept);
    ck_assert_uint_eq(check_rows(slow, o.ms, kept), sum_folded(o.ms, NULL));
    ck_assert_uint_eq(ptable_folded_lines(slow), sum_folded(o.hits, kept));
    ck_assert_uint_eq(ptable_folded_keys(slow), NPATH - 5);
    for (int e = 0; e < job->nentries; e++)
        assert_heap_walk(p->tables[e]);
    ck_assert_uint_gt(ptable_heap(slow), 5 * 80); /* 5 rows' sets, and the folded keys' */
    /* users: 7 keys, far below the default: no overflow row */
    ck_assert_uint_eq(ptable_count(p->tables[E_USERS]), 7);
    ck_assert_ptr_null(ptable_overflow(p->tables[E_USERS]));
    ck_assert_uint_eq(ptable_folded_lines(p->tables[E_USERS]), 0);
}
END_TEST

/* ---- merges ------------------------------------------------------------- */

/* What a merge of partials fed o[0..n) holds (partial.h): a key's lines are in its row of
 * the merged table for the partials that had it as a row, the rest in the overflow row;
 * kept marks the merged table's rows, the keys of the first partials that fit. Into want:
 * each key's figure in the merged table's row (0 for a key that is not a row). Every
 * partial here has 10 rows, so the first one's keys fill the merged table (which new keys
 * a table with room for only some of them takes: test_merge_admits_by_hash). */
static void merged_oracle(const oracle_t *o, int n, const uint64_t *(*col)(const oracle_t *),
                          uint64_t *want, uint8_t *kept)
{
    int nkept = 0;
    memset(kept, 0, NPATH);
    memset(want, 0, sizeof(uint64_t) * NPATH);
    for (int i = 0; i < n; i++) {
        uint8_t rows[NPATH];
        first_paths(&o[i], 10, rows);
        for (int p = 0; p < NPATH; p++)
            if (rows[p] && !kept[p] && nkept < 10)
                kept[p] = 1, nkept++;
        for (int p = 0; p < NPATH; p++)
            if (rows[p] && kept[p])
                want[p] += col(&o[i])[p];
    }
}

static const uint64_t *hits_of(const oracle_t *o)
{
    return o->hits;
}

START_TEST(test_merge_folds)
{
    oracle_t o[2] = {{0}}, all = {0};
    partial_t *a = fed(0, 700, &o[0]), *b = fed(700, 2000, &o[1]), *c = partial_create(job, pool);
    uint8_t kept[NPATH];
    uint64_t want[NPATH], in_rows = 0;
    buf_t scratch;
    size_t cur = 0;
    const ptable_row_t *row;
    const ptable_t *t = c->tables[E_PAGES];

    buf_init(&scratch);
    make_lines(0, 2000, &scratch, &all);
    buf_free(&scratch);
    ck_assert_int_eq(partial_merge(c, a, NULL), APR_SUCCESS);
    ck_assert_int_eq(partial_merge(c, b, NULL), APR_SUCCESS);
    /* a's keys (its first 10 paths) were there first and stay, with b's lines of the keys b
     * had as rows; what either folded, and b's other keys, are in the overflow row */
    merged_oracle(o, 2, hits_of, want, kept);
    while ((row = ptable_next(t, &cur)) != NULL) {
        ck_assert(kept[row_path(row)]);
        ck_assert_uint_eq(fig(t, row, 0), want[row_path(row)]);
        in_rows += want[row_path(row)];
    }
    ck_assert_uint_eq(ptable_count(t), 10);
    ck_assert_uint_eq(fig(t, ptable_overflow(t), 0), 2000 - in_rows);
    ck_assert_uint_eq(ptable_folded_lines(t), 2000 - in_rows);
    ck_assert_uint_eq(c->lines, 2000);
    /* the distinct keys with lines in the overflow row: every key but those whose every
     * line is in its row */
    {
        uint64_t nfolded = 0;
        for (int p = 0; p < NPATH; p++)
            nfolded += !kept[p] || want[p] != all.hits[p];
        ck_assert_uint_eq(ptable_folded_keys(t), nfolded);
    }
}
END_TEST

/* A table with room for some of a merge's new keys takes those of smallest hash. */
START_TEST(test_merge_admits_by_hash)
{
    static const agg_spec_t specs[1] = {{.kind = AGG_COUNT}};
    ptable_t *dst[2], *src[2];
    uint64_t h[40];
    buf_t k;
    size_t cur;
    const ptable_row_t *row;

    buf_init(&k);
    for (int d = 0; d < 2; d++) {
        dst[d] = ptable_create(specs, 1, pool);
        src[d] = ptable_create(specs, 1, pool);
        ptable_set_limit(dst[d], 15, 0);
    }
    for (int i = 0; i < 40; i++) { /* dst: keys 0..9; src: keys 0..39, in two orders */
        for (int d = 0; d < 2; d++) {
            int key = d ? 39 - i : i;
            value_t v = {.kind = VALUE_INT, .i = key};
            buf_reset(&k);
            value_key_put(&k, &v);
            h[key] = value_hash_bytes(k.data, k.len);
            agg_update(&specs[0], ptable_upsert(src[d], k.data, (uint32_t)k.len, h[key])->state,
                       NULL);
            if (key < 10)
                agg_update(&specs[0], ptable_upsert(dst[d], k.data, (uint32_t)k.len, h[key])->state,
                           NULL);
        }
    }
    for (int d = 0; d < 2; d++) {
        uint64_t cut, sum = 0;
        int nkept = 0, below = 0;
        ck_assert_int_eq(ptable_merge(dst[d], src[d]), APR_SUCCESS);
        ck_assert_uint_eq(ptable_count(dst[d]), 15);
        /* the 5 admitted: the smallest hashes among keys 10..39 */
        cur = 0;
        cut = 0;
        while ((row = ptable_next(dst[d], &cur)) != NULL) {
            buf_reader_t r;
            value_t v;
            buf_reader_init(&r, row->key, row->klen);
            value_key_get(&r, &v);
            sum += fig(dst[d], row, 0);
            if (v.i >= 10) {
                nkept++;
                cut = row->hash > cut ? row->hash : cut;
                ck_assert_uint_eq(fig(dst[d], row, 0), 1);
            } else {
                ck_assert_uint_eq(fig(dst[d], row, 0), 2);
            }
        }
        ck_assert_int_eq(nkept, 5);
        for (int key = 10; key < 40; key++)
            below += h[key] <= cut;
        ck_assert_int_eq(below, 5);
        ck_assert_uint_eq(sum + fig(dst[d], ptable_overflow(dst[d]), 0), 50);
        ck_assert_uint_eq(ptable_folded_keys(dst[d]), 25);
    }
    buf_free(&k);
}
END_TEST

/* The overflow rows of several partials merge into one; merging partials with overflow
 * rows in any order gives the same totals. */
START_TEST(test_overflow_merges_with_overflow)
{
    oracle_t o[4] = {{0}}, rev[4];
    partial_t *p[4], *x = partial_create(job, pool), *y = partial_create(job, pool);
    uint64_t total[2] = {0, 0}, want[NPATH];
    uint8_t kept[NPATH];

    for (int i = 0; i < 4; i++) {
        p[i] = fed(i * 1000, (i + 1) * 1000, &o[i]);
        ck_assert_ptr_nonnull(ptable_overflow(p[i]->tables[E_PAGES]));
        rev[3 - i] = o[i];
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(partial_merge(x, p[i], NULL), APR_SUCCESS);
        ck_assert_int_eq(partial_merge(y, p[3 - i], NULL), APR_SUCCESS);
    }
    for (int k = 0; k < 2; k++) {
        const ptable_t *t = (k ? y : x)->tables[E_PAGES];
        size_t cur = 0;
        const ptable_row_t *row;
        merged_oracle(k ? rev : o, 4, hits_of, want, kept);
        while ((row = ptable_next(t, &cur)) != NULL) {
            ck_assert(kept[row_path(row)]);
            ck_assert_uint_eq(fig(t, row, 0), want[row_path(row)]);
            total[k] += fig(t, row, 0);
        }
        total[k] += fig(t, ptable_overflow(t), 0);
        ck_assert_uint_eq(ptable_folded_lines(t), fig(t, ptable_overflow(t), 0));
        ck_assert_uint_eq(ptable_count(t), 10);
    }
    ck_assert_uint_eq(total[0], 4000);
    ck_assert_uint_eq(total[1], 4000);
    for (int e = 0; e < job->nentries; e++) {
        assert_heap_walk(x->tables[e]);
        assert_heap_walk(y->tables[e]);
    }
}
END_TEST

/* ---- frames ------------------------------------------------------------- */

static void encode(const partial_t *p, buf_t *out)
{
    frame_header_t h;
    abbey_err_t err;
    memset(&h, 0, sizeof h);
    h.start = 0;
    h.end = 1;
    strcpy(h.job, "t");
    strcpy(h.source, "s#1");
    frame_header_counts(&h, p);
    ck_assert_msg(frame_encode(&h, p, NULL, out, &err) == APR_SUCCESS, "%s", err.msg);
}

/* The same rows and figures (every state's figure, the overflow row's, folded keys). */
static void assert_same_tables(const partial_t *a, const partial_t *b)
{
    for (int e = 0; e < job->nentries; e++) {
        const ptable_t *x = a->tables[e], *y = b->tables[e];
        size_t cur = 0;
        const ptable_row_t *row;
        ck_assert_uint_eq(ptable_count(x), ptable_count(y));
        while ((row = ptable_next(x, &cur)) != NULL) {
            const ptable_row_t *r2 = ptable_find(y, row->key, row->klen, row->hash);
            ck_assert_ptr_nonnull(r2);
            for (int v = 0; v < ptable_nspecs(x); v++)
                ck_assert_uint_eq(fig(x, row, v), fig(y, r2, v));
        }
        ck_assert_int_eq(!ptable_overflow(x), !ptable_overflow(y));
        if (ptable_overflow(x))
            for (int v = 0; v < ptable_nspecs(x); v++)
                ck_assert_uint_eq(fig(x, ptable_overflow(x), v), fig(y, ptable_overflow(y), v));
        ck_assert_uint_eq(ptable_folded_lines(x), ptable_folded_lines(y));
        ck_assert_uint_eq(ptable_folded_keys(x), ptable_folded_keys(y));
    }
}

START_TEST(test_frame_round_trip)
{
    oracle_t o = {0};
    partial_t *p = fed(0, 2000, &o), *q = partial_create(job, pool), *small;
    buf_t f;
    abbey_err_t err;
    uint8_t kept[NPATH];

    buf_init(&f);
    encode(p, &f);
    ck_assert_int_eq(frame_decode(f.data, f.len, job, NULL, q, NULL, &err), APR_SUCCESS);
    assert_same_tables(p, q);
    for (int e = 0; e < job->nentries; e++)
        assert_heap_walk(q->tables[e]);
    ck_assert_uint_gt(ptable_folded_lines(q->tables[E_SLOW]), 0);
    /* a partial holding an overflow row and no row is not empty (frames decode straight into
     * an empty one only, frame.c) */
    small = partial_create(job, pool);
    ck_assert_int_eq(partial_is_empty(small), 1);
    ck_assert_ptr_nonnull(ptable_overflow_make(small->tables[E_SLOW]));
    ck_assert_int_eq(partial_is_empty(small), 0);
    partial_clear(small);
    ck_assert_int_eq(partial_is_empty(small), 1);
    /* into a table with a smaller limit: it folds more, the lines stay */
    ptable_set_limit(small->tables[E_PAGES], 4, 0);
    ck_assert_int_eq(frame_decode(f.data, f.len, job, NULL, small, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(ptable_count(small->tables[E_PAGES]), 4);
    first_paths(&o, 10, kept);
    {
        uint64_t sum = fig(small->tables[E_PAGES], ptable_overflow(small->tables[E_PAGES]), 0);
        size_t cur = 0;
        const ptable_row_t *row;
        while ((row = ptable_next(small->tables[E_PAGES], &cur)) != NULL) {
            ck_assert(kept[row_path(row)]); /* only keys the frame had as rows */
            sum += fig(small->tables[E_PAGES], row, 0);
        }
        ck_assert_uint_eq(sum, o.lines);
    }
    /* as a merge keeps them (ptable.h): the frame's 4 keys of least hash, also when the frame
     * went straight into an empty partial; the limit stays */
    {
        uint64_t h[NPATH], n = 0;
        size_t cur = 0;
        const ptable_row_t *row;
        while ((row = ptable_next(q->tables[E_PAGES], &cur)) != NULL)
            h[n++] = row->hash;
        ck_assert_uint_eq(n, 10);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t less = 0;
            for (uint64_t k = 0; k < n; k++)
                less += h[k] < h[i];
            cur = 0;
            while ((row = ptable_next(small->tables[E_PAGES], &cur)) != NULL && row->hash != h[i])
                ;
            ck_assert_msg((row != NULL) == (less < 4), "key of hash rank %llu",
                          (unsigned long long)less);
        }
    }
    ck_assert_uint_eq(ptable_max_keys(small->tables[E_PAGES]), 4);
    ck_assert_uint_eq(ptable_max_keys(small->tables[E_SLOW]), 5);
    for (int e = 0; e < job->nentries; e++)
        assert_heap_walk(small->tables[e]);
    buf_free(&f);
}
END_TEST

/* A frame from before the hidden line count (version 1, as all such frames are): slow's rows
 * carry its two values only; it decodes, those rows' lines are 0. A version 2 frame has all
 * its entries' states: without them it is refused. */
START_TEST(test_frame_without_line_counts)
{
    oracle_t o = {0};
    partial_t *p = fed(0, 5, &o), *q = partial_create(job, pool);
    rules_entry_t legacy = *job->entries[E_SLOW];
    rules_job_t old = *job;
    rules_entry_t *entries[3] = {job->entries[0], &legacy, job->entries[2]};
    rules_group_t group = job->groups[0];
    rules_entry_t *gentries[3] = {job->entries[0], &legacy, job->entries[2]};
    buf_t f;
    abbey_err_t err;
    size_t cur = 0;
    const ptable_row_t *row;

    ck_assert_ptr_null(ptable_overflow(p->tables[E_SLOW]));
    legacy.nspecs = legacy.nvalues;
    group.entries = gentries;
    old.entries = entries;
    old.groups = &group;
    p->job = &old;
    buf_init(&f);
    encode(p, &f);
    ck_assert_int_eq(frame_decode(f.data, f.len, job, NULL, q, NULL, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "entry 'slow' has 2 values in the frame, 3 in job 't'"), "%s",
                  err.msg);
    ck_assert_int_eq(partial_is_empty(q), 1);
    frame_as_v1(&f, p);
    ck_assert_int_eq(frame_decode(f.data, f.len, job, NULL, q, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(ptable_count(q->tables[E_SLOW]), 5);
    while ((row = ptable_next(q->tables[E_SLOW], &cur)) != NULL) {
        ck_assert_uint_eq(fig(q->tables[E_SLOW], row, 0), o.ms[row_path(row)]);
        ck_assert_uint_eq(fig(q->tables[E_SLOW], row, 2), 0); /* lines unknown */
    }
    buf_free(&f);
}
END_TEST

/* Ways to break the overflow rows: raw is the payload (either version), at the offset of
 * their count (2: pages and slow), and the rows run to the end. */
static void fix_trailing(buf_t *raw, size_t at)
{
    (void)at;
    buf_put_u8(raw, 7);
}

static void fix_zero(buf_t *raw, size_t at)
{
    raw->data[at] = 0;
}

static void fix_short(buf_t *raw, size_t at)
{
    raw->data[at] = 3; /* says three, holds two */
}

static void fix_twice(buf_t *raw, size_t at)
{
    const uint8_t *slow = memmem(raw->data + at, raw->len - at, "\x04slow", 5);
    size_t n;
    uint8_t *pages;
    ck_assert_ptr_nonnull(slow);
    n = (size_t)(slow - (raw->data + at + 1)); /* pages's overflow row */
    pages = malloc(n);
    memcpy(pages, raw->data + at + 1, n);
    buf_put(raw, pages, n);
    raw->data[at] = 3;
    free(pages);
}

static void fix_unknown(buf_t *raw, size_t at)
{
    raw->data[at + 6] = 'x'; /* "pagex" */
}

START_TEST(test_frame_forged_overflows)
{
    oracle_t o = {0};
    partial_t *p = fed(0, 2000, &o), *q = partial_create(job, pool);
    buf_t f, raw;
    abbey_err_t err;
    size_t at = 0;
    struct {
        void (*fix)(buf_t *, size_t);
        const char *reason;
    } cases[] = {
        {fix_trailing, "1 unexpected bytes after the overflow rows"},
        {fix_zero, "0 overflow rows, job 't' has 3 entries"},
        {fix_short, "overflow row's entry name is truncated or malformed"},
        {fix_twice, "entry 'pages' has two overflow rows"},
        {fix_unknown, "overflow row of entry 'pagex', which is not in the job"},
    };

    buf_init(&f);
    buf_init(&raw);
    for (size_t i = 0; i < 2 * sizeof cases / sizeof cases[0]; i++) {
        int version = i % 2 ? 1 : 2; /* each case in both versions */
        buf_reset(&f);
        encode(p, &f);
        ck_assert_uint_eq(f.data[4], 2);
        if (version == 1)
            frame_as_v1(&f, p);
        frame_payload(&f, &raw);
        at = 0;
        /* the overflow rows: a count of 2, then "pages" (its name's length 5), the last such */
        for (size_t k = 0; k + 7 <= raw.len; k++)
            if (raw.data[k] == 2 && raw.data[k + 1] == 5 &&
                memcmp(raw.data + k + 2, "pages", 5) == 0)
                at = k;
        ck_assert_uint_gt(at, 0);
        frame_reframe(&f, &raw); /* unchanged: it decodes */
        ck_assert_int_eq(
            frame_decode(f.data, f.len, job, NULL, partial_create(job, pool), NULL, &err),
            APR_SUCCESS);
        cases[i / 2].fix(&raw, at);
        frame_reframe(&f, &raw);
        err.msg[0] = '\0';
        ck_assert_int_eq(frame_decode(f.data, f.len, job, NULL, q, NULL, &err), APR_EINVAL);
        ck_assert_msg(strstr(err.msg, cases[i / 2].reason), "version %d: expected '%s', got '%s'",
                      version, cases[i / 2].reason, err.msg);
        ck_assert_uint_eq(ptable_count(q->tables[E_PAGES]), 0); /* q is unchanged */
        ck_assert_ptr_null(ptable_overflow(q->tables[E_PAGES]));
    }
    buf_free(&f);
    buf_free(&raw);
}
END_TEST

/* ---- reports ------------------------------------------------------------ */

START_TEST(test_reports)
{
    oracle_t o = {0};
    partial_t *p = fed(0, 2000, &o);
    const ptable_t *t = p->tables[E_PAGES];
    buf_t b;
    json_t *js, *rows, *last;
    json_error_t jerr;
    char want[128];
    const char *line;
    int n = 0;

    buf_init(&b);
    export_render(job, &job->reports[0], t, &b, pool); /* top: hits desc, limit 3 */
    buf_put_u8(&b, 0);
    ck_assert_msg(
        strncmp((char *)b.data, "path,hits,ms,_overflow,_folded_lines,_folded_keys\r\n", 51) == 0,
        "%s", b.data);
    for (line = (char *)b.data; (line = strstr(line, "\r\n")) != NULL; line += 2)
        n++;
    ck_assert_int_eq(n, 1 + 3 + 1); /* header, the limit's 3 rows, the overflow row */
    ck_assert_ptr_nonnull(strstr((char *)b.data, ",0,,\r\n"));
    snprintf(want, sizeof want, "\r\n,%llu,%llu,1,%llu,%llu\r\n",
             (unsigned long long)ptable_folded_lines(t),
             (unsigned long long)fig(t, ptable_overflow(t), 1),
             (unsigned long long)ptable_folded_lines(t), (unsigned long long)(NPATH - 10));
    ck_assert_msg(strstr((char *)b.data, want), "no '%s' at the end of:\n%s", want, b.data);
    ck_assert_str_eq(strstr((char *)b.data, want) + strlen(want), "");
    /* JSON: the overflow row last, after the limit's 2 rows */
    buf_reset(&b);
    export_render(job, &job->reports[1], t, &b, pool);
    js = json_loadb((const char *)b.data, b.len, 0, &jerr);
    ck_assert_msg(js, "%s", jerr.text);
    rows = json_object_get(js, "rows");
    ck_assert_uint_eq(json_array_size(rows), 3);
    last = json_array_get(rows, 2);
    ck_assert(json_is_true(json_object_get(last, "_overflow")));
    ck_assert(json_is_null(json_object_get(last, "path")));
    ck_assert_int_eq(json_integer_value(json_object_get(last, "hits")),
                     (json_int_t)ptable_folded_lines(t));
    ck_assert_ptr_null(json_object_get(json_array_get(rows, 0), "_overflow"));
    ck_assert_int_eq(json_integer_value(json_object_get(js, "folded_lines")),
                     (json_int_t)ptable_folded_lines(t));
    ck_assert_int_eq(json_integer_value(json_object_get(js, "folded_keys")), NPATH - 10);
    json_decref(js);
    /* an entry without an overflow row: neither the columns nor the members */
    buf_reset(&b);
    export_render(job, &job->reports[2], p->tables[E_USERS], &b, pool);
    buf_put_u8(&b, 0);
    ck_assert_ptr_null(strstr((char *)b.data, "folded"));
    ck_assert_ptr_null(strstr((char *)b.data, "_overflow"));
    buf_free(&b);
}
END_TEST

/* ---- memory ------------------------------------------------------------- */

START_TEST(test_bytes)
{
    static const agg_spec_t specs[2] = {{.kind = AGG_COUNT}, {.kind = AGG_DISTINCT}};
    ptable_t *t = ptable_create(specs, 2, pool), *u = ptable_create(specs, 2, pool);
    size_t empty = ptable_bytes(t), one, before;
    (void)agg_heap_take(); /* nothing of another test's */
    buf_t k;
    value_t key = {.kind = VALUE_STR, .s = "/a", .len = 2};
    ptable_row_t *row;

    buf_init(&k);
    value_key_put(&k, &key);
    row = ptable_upsert(t, k.data, (uint32_t)k.len, value_hash_bytes(k.data, k.len));
    one = ptable_bytes(t);
    /* a row: its header, its states and its key */
    ck_assert_uint_ge(one - empty, sizeof(ptable_row_t) + k.len + agg_state_size(&specs[1]));
    ck_assert_uint_lt(one - empty, 256);
    /* 2000 distinct values turn the HyperLogLog dense: 16 KiB more, told to the table */
    for (int i = 0; i < 2000; i++) {
        value_t v = {.kind = VALUE_INT, .i = i};
        agg_update(&specs[1], row->state + ptable_offset(t, 1), &v);
    }
    ptable_heap_add(t, agg_heap_take());
    ck_assert_uint_eq(ptable_heap(t), ptable_row_heap(t, row));
    ck_assert_uint_eq(ptable_row_heap(t, row), 16384 + AGG_HEAP_OVERHEAD);
    ck_assert_uint_ge(ptable_bytes(t), one + 16384);
    ck_assert_uint_lt(ptable_bytes(t), one + 16384 + 1024);
    /* a merge tells the other table */
    before = ptable_bytes(u);
    ck_assert_int_eq(ptable_merge(u, t), APR_SUCCESS);
    ck_assert_uint_ge(ptable_bytes(u), before + 16384);
    /* growth of the slot array counts, and clearing gives everything back */
    for (int i = 0; i < 1000; i++) {
        value_t v = {.kind = VALUE_INT, .i = i};
        buf_reset(&k);
        value_key_put(&k, &v);
        ptable_upsert(t, k.data, (uint32_t)k.len, value_hash_bytes(k.data, k.len));
    }
    ck_assert_uint_ge(ptable_bytes(t), one + 16384 + 1000 * (sizeof(ptable_row_t) + 16));
    ptable_clear(t);
    ck_assert_uint_eq(ptable_bytes(t), empty + (2048 - 16) * 16); /* the bigger slot array */
    ptable_release(t);
    ck_assert_uint_eq(ptable_bytes(t), empty);
    buf_free(&k);
}
END_TEST

static Suite *max_keys_suite(void)
{
    Suite *s = suite_create("max_keys");
    TCase *tc = tcase_create("max_keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rules);
    tcase_add_test(tc, test_engine_folds);
    tcase_add_test(tc, test_merge_folds);
    tcase_add_test(tc, test_merge_admits_by_hash);
    tcase_add_test(tc, test_overflow_merges_with_overflow);
    tcase_add_test(tc, test_frame_round_trip);
    tcase_add_test(tc, test_frame_without_line_counts);
    tcase_add_test(tc, test_frame_forged_overflows);
    tcase_add_test(tc, test_reports);
    tcase_add_test(tc, test_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(max_keys_suite()) ? 1 : 0;
}
