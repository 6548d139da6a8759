/* check_ptable.c - unit tests for the partial table (rules/ptable.c) and partials
 * (rules/partial.c).
 *
 * Oracles are brute-force arrays indexed by key number: what each key's count
 * and sum must be, computed without the table. Out of memory is injected with
 * mem.h's hook at every allocation of a scenario in turn. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "check_run.h"
#include "mem.h"
#include "partial.h"
#include "ptable.h"
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

/* Key number i as a two-column key: (INT i, STR "k<i>"). */
static void make_key(buf_t *b, long i)
{
    char s[32];
    value_t v = {.kind = VALUE_INT, .i = i};
    buf_reset(b);
    value_key_put(b, &v);
    v.kind = VALUE_STR;
    v.len = (uint32_t)snprintf(s, sizeof s, "k%ld", i);
    v.s = s;
    value_key_put(b, &v);
}

/* The key number of a row made by make_key, or -1. */
static long key_number(const ptable_row_t *row)
{
    buf_reader_t r;
    value_t v;
    buf_reader_init(&r, row->key, row->klen);
    if (value_key_get(&r, &v) != 0 || v.kind != VALUE_INT)
        return -1;
    return (long)v.i;
}

static ptable_row_t *upsert_key(ptable_t *t, buf_t *b, long i)
{
    make_key(b, i);
    return ptable_upsert(t, b->data, (uint32_t)b->len, value_hash_bytes(b->data, b->len));
}

static ptable_row_t *find_key(ptable_t *t, buf_t *b, long i)
{
    make_key(b, i);
    return ptable_find(t, b->data, (uint32_t)b->len, value_hash_bytes(b->data, b->len));
}

static uint64_t count_of(const ptable_t *t, const ptable_row_t *row, int v)
{
    agg_result_t res;
    agg_result(&ptable_specs(t)[v], row->state + ptable_offset(t, v), &res);
    return strtoull(res.text, NULL, 10);
}

/* ---- insert / lookup ---------------------------------------------------- */

#define NKEYS 100000

START_TEST(test_many_keys)
{
    static const agg_spec_t specs[2] = {{.kind = AGG_COUNT}, {.kind = AGG_SUM}};
    ptable_t *t = ptable_create(specs, 2, pool);
    uint32_t *want_count = calloc(NKEYS, sizeof *want_count);
    int64_t *want_sum = calloc(NKEYS, sizeof *want_sum);
    uint8_t *seen = calloc(NKEYS, 1);
    buf_t b;
    size_t cur = 0, rows = 0;
    ptable_row_t *row;

    buf_init(&b);
    /* pass p updates every key whose number has more than p occurrences */
    for (int p = 0; p < 5; p++)
        for (long i = 0; i < NKEYS; i++) {
            value_t x = {.kind = VALUE_INT, .i = i * 3 + p};
            if ((long)(i % 5) < p)
                continue;
            row = upsert_key(t, &b, i);
            agg_update(&specs[0], row->state + ptable_offset(t, 0), NULL);
            agg_update(&specs[1], row->state + ptable_offset(t, 1), &x);
            want_count[i]++;
            want_sum[i] += x.i;
        }
    ck_assert_uint_eq(ptable_count(t), NKEYS);
    for (long i = 0; i < NKEYS; i++) {
        agg_result_t res;
        char txt[32];
        row = find_key(t, &b, i);
        ck_assert_ptr_nonnull(row);
        ck_assert_int_eq(key_number(row), i);
        ck_assert_uint_eq(count_of(t, row, 0), want_count[i]);
        agg_result(&specs[1], row->state + ptable_offset(t, 1), &res);
        snprintf(txt, sizeof txt, "%lld", (long long)want_sum[i]);
        ck_assert_str_eq(res.text, txt);
    }
    for (long i = NKEYS; i < NKEYS + 1000; i++)
        ck_assert_ptr_null(find_key(t, &b, i));
    while ((row = ptable_next(t, &cur)) != NULL) {
        long k = key_number(row);
        ck_assert(k >= 0 && k < NKEYS);
        ck_assert_int_eq(seen[k], 0);
        seen[k] = 1;
        rows++;
    }
    ck_assert_uint_eq(rows, NKEYS);
    ck_assert_ptr_null(ptable_next(t, &cur)); /* stays at the end */
    buf_free(&b);
    free(want_count);
    free(want_sum);
    free(seen);
}
END_TEST

START_TEST(test_growth_keeps_rows)
{
    static const agg_spec_t specs[1] = {{.kind = AGG_COUNT}};
    ptable_t *t = ptable_create(specs, 1, pool);
    ptable_row_t **first = calloc(20000, sizeof *first);
    buf_t b;

    buf_init(&b);
    for (long i = 0; i < 20000; i++) {
        first[i] = upsert_key(t, &b, i);
        agg_update(&specs[0], first[i]->state, NULL);
        /* every earlier row is still the same row, through many doublings */
        if ((i & (i - 1)) == 0)
            for (long j = 0; j <= i; j++)
                ck_assert_ptr_eq(find_key(t, &b, j), first[j]);
    }
    for (long i = 0; i < 20000; i++) {
        ck_assert_ptr_eq(upsert_key(t, &b, i), first[i]);
        ck_assert_int_eq(key_number(first[i]), i);
        ck_assert_uint_eq(count_of(t, first[i], 0), 1);
        ck_assert_uint_eq(first[i]->hash, value_hash_bytes(b.data, b.len));
    }
    buf_free(&b);
    free(first);
}
END_TEST

/* Hashes chosen by hand: all equal in their low 32 bits (one probe chain for
 * any table size), some equal in all 64 bits with different keys. */
START_TEST(test_collisions)
{
    static const agg_spec_t specs[1] = {{.kind = AGG_COUNT}};
    ptable_t *t = ptable_create(specs, 1, pool);
    enum { N = 3000 };
    ptable_row_t *rows[N];
    buf_t b;

    buf_init(&b);
    for (long i = 0; i < N; i++) {
        uint64_t h = ((uint64_t)(i / 3) << 32) | 0x5u; /* three keys share each full hash */
        make_key(&b, i);
        rows[i] = ptable_upsert(t, b.data, (uint32_t)b.len, h);
        agg_update(&specs[0], rows[i]->state, NULL);
        ck_assert_uint_eq(ptable_count(t), (size_t)i + 1);
    }
    for (long i = N - 1; i >= 0; i--) {
        uint64_t h = ((uint64_t)(i / 3) << 32) | 0x5u;
        make_key(&b, i);
        ck_assert_ptr_eq(ptable_find(t, b.data, (uint32_t)b.len, h), rows[i]);
        ck_assert_ptr_eq(ptable_upsert(t, b.data, (uint32_t)b.len, h), rows[i]);
        ck_assert_int_eq(key_number(rows[i]), i);
        /* same key under a different hash is a different (absent) key */
        ck_assert_ptr_null(ptable_find(t, b.data, (uint32_t)b.len, h ^ 0x100000000ull * 7919));
        /* a prefix of the key with the same hash is absent */
        ck_assert_ptr_null(ptable_find(t, b.data, (uint32_t)b.len - 1, h));
    }
    ck_assert_uint_eq(ptable_count(t), N);
    buf_free(&b);
}
END_TEST

START_TEST(test_empty_key)
{
    static const agg_spec_t specs[1] = {{.kind = AGG_COUNT}};
    ptable_t *t = ptable_create(specs, 1, pool);
    uint64_t h = value_hash_bytes("", 0);
    ptable_row_t *row = ptable_upsert(t, NULL, 0, h), *other;
    buf_t b;
    size_t cur = 0;
    int empty_rows = 0;

    ck_assert_ptr_nonnull(row);
    ck_assert_uint_eq(row->klen, 0);
    agg_update(&specs[0], row->state, NULL);
    ck_assert_ptr_eq(ptable_upsert(t, "", 0, h), row);
    agg_update(&specs[0], row->state, NULL);
    buf_init(&b);
    other = upsert_key(t, &b, 1);
    ck_assert_ptr_ne(other, row);
    ck_assert_ptr_eq(ptable_find(t, NULL, 0, h), row);
    ck_assert_uint_eq(ptable_count(t), 2);
    while ((other = ptable_next(t, &cur)) != NULL)
        if (other->klen == 0) {
            empty_rows++;
            ck_assert_uint_eq(count_of(t, other, 0), 2);
        }
    ck_assert_int_eq(empty_rows, 1);
    buf_free(&b);
}
END_TEST

/* ---- merge / clear ------------------------------------------------------ */

static const agg_spec_t merge_specs[] = {
    {.kind = AGG_COUNT},
    {.kind = AGG_SUM},
    {.kind = AGG_MIN},
    {.kind = AGG_MAX},
    {.kind = AGG_AVG},
    {.kind = AGG_DISTINCT},
    {.kind = AGG_DISTINCT_EXACT, .cap = 50},
    {.kind = AGG_PERCENTILE, .pct = 90},
};
#define NMERGE ((int)(sizeof merge_specs / sizeof merge_specs[0]))

/* Line j of input `which`: its key number and its value. */
static long in_key(int which, long j)
{
    return which == 0 ? j % 700 : (j * 7) % 1100 + 300; /* overlap: keys 300..699 */
}

static void feed(ptable_t *t, buf_t *b, int which, long n)
{
    for (long j = 0; j < n; j++) {
        ptable_row_t *row = upsert_key(t, b, in_key(which, j));
        value_t x = {.kind = VALUE_INT, .i = (j * 131 + which * 17) % 1000 - 200};
        for (int v = 0; v < NMERGE; v++)
            agg_update(&merge_specs[v], row->state + ptable_offset(t, v), v ? &x : NULL);
    }
}

static void assert_same_rows(ptable_t *a, ptable_t *b)
{
    size_t cur = 0;
    ptable_row_t *ra;
    ck_assert_uint_eq(ptable_count(a), ptable_count(b));
    while ((ra = ptable_next(a, &cur)) != NULL) {
        ptable_row_t *rb = ptable_find(b, ra->key, ra->klen, ra->hash);
        ck_assert_ptr_nonnull(rb);
        for (int v = 0; v < NMERGE; v++) {
            agg_result_t x, y;
            agg_result(&merge_specs[v], ra->state + ptable_offset(a, v), &x);
            agg_result(&merge_specs[v], rb->state + ptable_offset(b, v), &y);
            ck_assert_str_eq(x.text, y.text);
            ck_assert_uint_eq(x.flags, y.flags);
        }
    }
}

START_TEST(test_merge)
{
    ptable_t *a = ptable_create(merge_specs, NMERGE, pool);
    ptable_t *b = ptable_create(merge_specs, NMERGE, pool);
    ptable_t *both = ptable_create(merge_specs, NMERGE, pool);
    long want[1400] = {0};
    buf_t k;
    size_t cur = 0;
    ptable_row_t *row;

    buf_init(&k);
    feed(a, &k, 0, 5000);
    feed(b, &k, 1, 4000);
    feed(both, &k, 0, 5000);
    feed(both, &k, 1, 4000);
    ptable_merge(a, b);
    assert_same_rows(a, both);
    /* brute-force count per key */
    for (long j = 0; j < 5000; j++)
        want[in_key(0, j)]++;
    for (long j = 0; j < 4000; j++)
        want[in_key(1, j)]++;
    while ((row = ptable_next(a, &cur)) != NULL)
        ck_assert_uint_eq(count_of(a, row, 0), (uint64_t)want[key_number(row)]);
    ck_assert_uint_eq(ptable_count(a), 1400);
    ck_assert_uint_eq(ptable_count(b), 1100); /* src unchanged */
    /* merging into an empty table copies */
    {
        ptable_t *c = ptable_create(merge_specs, NMERGE, pool);
        ptable_merge(c, both);
        assert_same_rows(c, both);
    }
    buf_free(&k);
}
END_TEST

START_TEST(test_clear_reuse)
{
    ptable_t *t = ptable_create(merge_specs, NMERGE, pool);
    ptable_t *fresh = ptable_create(merge_specs, NMERGE, pool);
    buf_t k;
    size_t cur = 0;

    buf_init(&k);
    feed(t, &k, 0, 3000);
    ck_assert_uint_eq(ptable_count(t), 700);
    ptable_clear(t);
    ck_assert_uint_eq(ptable_count(t), 0);
    ck_assert_ptr_null(ptable_next(t, &cur));
    ck_assert_ptr_null(find_key(t, &k, 5));
    feed(t, &k, 1, 2000);
    feed(fresh, &k, 1, 2000);
    assert_same_rows(t, fresh);
    ptable_clear(t);
    ptable_clear(t); /* twice is fine */
    feed(t, &k, 0, 10);
    ck_assert_uint_eq(ptable_count(t), 10);
    buf_free(&k);
    /* the pool's cleanup releases the states still in t and fresh */
}
END_TEST

START_TEST(test_offsets)
{
    ptable_t *t = ptable_create(merge_specs, NMERGE, pool);
    size_t off = 0;
    ck_assert_int_eq(ptable_nspecs(t), NMERGE);
    ck_assert_ptr_eq(ptable_specs(t), merge_specs);
    for (int v = 0; v < NMERGE; v++) {
        ck_assert_uint_eq(ptable_offset(t, v), off);
        ck_assert_uint_eq(ptable_offset(t, v) % 8, 0);
        off += agg_state_size(&merge_specs[v]);
    }
}
END_TEST

/* ---- partials ----------------------------------------------------------- */

typedef struct tjob_t {
    rules_job_t job;
    rules_group_t groups[2];
    rules_entry_t ent[3];
    rules_entry_t *eptr[3];
    agg_spec_t specs[3][2];
} tjob_t;

static void tjob_init(tjob_t *j)
{
    static const char *names[3] = {"a", "b", "c"};
    memset(j, 0, sizeof *j);
    j->job.name = "web";
    j->job.ngroups = 2;
    j->job.groups = j->groups;
    j->job.nentries = 3;
    j->job.entries = j->eptr;
    for (int e = 0; e < 3; e++) {
        j->eptr[e] = &j->ent[e];
        j->ent[e].name = names[e];
        j->ent[e].index = e;
        j->ent[e].nkeys = 2;
        j->ent[e].nvalues = j->ent[e].nspecs = 2;
        j->ent[e].specs = j->specs[e];
        j->specs[e][0].kind = AGG_COUNT;
        j->specs[e][1].kind = e == 2 ? AGG_DISTINCT_EXACT : AGG_SUM;
        j->specs[e][1].cap = 100;
        j->ent[e].group = &j->groups[e == 2];
    }
    j->groups[0] =
        (rules_group_t){.name = "g0", .index = 0, .weight = 1, .nentries = 2, .entries = j->eptr};
    j->groups[1] = (rules_group_t){
        .name = "g1", .index = 1, .weight = 1, .nentries = 1, .entries = j->eptr + 2};
}

START_TEST(test_partial)
{
    tjob_t j;
    partial_t *p, *q;
    buf_t k;

    tjob_init(&j);
    buf_init(&k);
    p = partial_create(&j.job, pool);
    q = partial_create(&j.job, pool);
    ck_assert_ptr_eq(p->job, &j.job);
    for (int e = 0; e < 3; e++) {
        ck_assert_uint_eq(ptable_count(p->tables[e]), 0);
        ck_assert_ptr_eq(ptable_specs(p->tables[e]), j.specs[e]);
        for (long i = 0; i < 50; i++) {
            ptable_row_t *row = upsert_key(p->tables[e], &k, i % (10 + e));
            agg_update(&j.specs[e][0], row->state, NULL);
            row = upsert_key(q->tables[e], &k, i % 20);
            agg_update(&j.specs[e][0], row->state, NULL);
        }
    }
    p->lines = 10;
    p->bad_lines = 1;
    p->bytes = 1000;
    q->lines = 5;
    q->bad_lines = 2;
    q->bytes = 7;
    ck_assert_int_eq(partial_merge(p, q, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 15);
    ck_assert_uint_eq(p->bad_lines, 3);
    ck_assert_uint_eq(p->bytes, 1007);
    for (int e = 0; e < 3; e++) {
        uint64_t total = 0;
        size_t cur = 0;
        ptable_row_t *row;
        ck_assert_uint_eq(ptable_count(p->tables[e]), 20);
        while ((row = ptable_next(p->tables[e], &cur)) != NULL)
            total += count_of(p->tables[e], row, 0);
        ck_assert_uint_eq(total, 100);
    }
    partial_clear(p);
    ck_assert_uint_eq(p->lines + p->bad_lines + p->bytes, 0);
    for (int e = 0; e < 3; e++)
        ck_assert_uint_eq(ptable_count(p->tables[e]), 0);
    partial_destroy(p);
    partial_destroy(q);
    buf_free(&k);
}
END_TEST

/* ---- out of memory --------------------------------------------------------- */

#define OOM_KEYS 300

typedef struct oom_run_t {
    int failures;              /* operations that said "out of memory" */
    uint8_t present[OOM_KEYS]; /* keys whose row was made */
    uint64_t count[OOM_KEYS];  /* count aggregate of each such key (the oracle) */
} oom_run_t;

/* OOM_KEYS keys, each updated three times, into t (count, distinct,
 * distinct_exact, percentile: every kind with heap parts), then t merged into
 * a fresh table. Every failing operation is counted; t must stay consistent. */
static ptable_t *oom_scenario(const agg_spec_t *specs, int nspecs, oom_run_t *o, apr_pool_t *p)
{
    ptable_t *t = ptable_create(specs, nspecs, p), *m = ptable_create(specs, nspecs, p);
    buf_t k;
    buf_init(&k);
    memset(o, 0, sizeof *o);
    for (int round = 0; round < 3; round++)
        for (long i = 0; i < OOM_KEYS; i++) {
            ptable_row_t *row = upsert_key(t, &k, i);
            value_t v = {.kind = VALUE_INT, .i = i * 1000 + round * 7};
            if (!row) {
                o->failures++;
                continue;
            }
            o->present[i] = 1;
            o->count[i]++;
            for (int s = 0; s < nspecs; s++)
                if (agg_update(&specs[s], row->state + ptable_offset(t, s), s ? &v : NULL) ==
                    AGG_NOMEM)
                    o->failures++;
        }
    if (ptable_merge(m, t) != APR_SUCCESS)
        o->failures++;
    buf_free(&k);
    return t;
}

/* The n-th allocation fails (mem.h's hook), for every n the scenario makes:
 * each failure is reported by exactly the operation that met it, nothing
 * crashes or leaks (ASan, valgrind), and the table keeps every row it said it
 * made, with the right counts. Then the hook is past the last allocation and
 * nothing fails. */
START_TEST(test_out_of_memory)
{
    static const agg_spec_t specs[4] = {{.kind = AGG_COUNT},
                                        {.kind = AGG_DISTINCT},
                                        {.kind = AGG_DISTINCT_EXACT},
                                        {.kind = AGG_PERCENTILE, .pct = 50}};
    oom_run_t o;
    buf_t k;
    uint64_t n;
    buf_init(&k);
    for (n = 1;; n++) {
        apr_pool_t *p;
        ptable_t *t;
        size_t rows = 0;
        apr_pool_create(&p, pool);
        mem_fail_at(n);
        t = oom_scenario(specs, 4, &o, p);
        mem_fail_at(0);
        ck_assert_msg(o.failures <= 1, "allocation %llu: %d failures reported",
                      (unsigned long long)n, o.failures);
        for (long i = 0; i < OOM_KEYS; i++) {
            ptable_row_t *row = find_key(t, &k, i);
            ck_assert_int_eq(row != NULL, o.present[i]);
            if (row) {
                ck_assert_uint_eq(count_of(t, row, 0), o.count[i]);
                rows++;
            }
        }
        ck_assert_uint_eq(ptable_count(t), rows);
        apr_pool_destroy(p);
        if (!o.failures)
            break; /* n is past the scenario's last allocation */
    }
    ck_assert_uint_gt(n, OOM_KEYS); /* a row, sets and bins per key at least */
    buf_free(&k);
}
END_TEST

/* A partial whose entry runs out of memory while merging: that entry fails
 * (emptied, named with its key count), the others and the counters merge; a
 * failed source entry makes the destination's fail too; partial_clear forgets. */
START_TEST(test_partial_out_of_memory)
{
    tjob_t j;
    partial_t *p, *q, *r;
    buf_t k;
    abbey_err_t err = {{0}};
    char want[80];

    tjob_init(&j);
    buf_init(&k);
    p = partial_create(&j.job, pool);
    q = partial_create(&j.job, pool);
    r = partial_create(&j.job, pool);
    for (int e = 0; e < 3; e++)
        for (long i = 0; i < 40; i++) {
            ck_assert_ptr_nonnull(upsert_key(p->tables[e], &k, i));
            ck_assert_ptr_nonnull(upsert_key(q->tables[e], &k, i + 1000));
        }
    q->lines = 5;
    /* entry 0's merge makes allocations 1..: the 3rd fails, in its rows or slots */
    mem_fail_at(3);
    ck_assert_int_eq(partial_merge(p, q, &err), APR_ENOMEM);
    mem_fail_at(0);
    ck_assert_uint_eq(p->failed[0], 1);
    ck_assert_uint_ge(p->failed_keys[0], 40);
    ck_assert_uint_lt(p->failed_keys[0], 80);
    snprintf(want, sizeof want, "entry 'a': out of memory after %llu keys",
             (unsigned long long)p->failed_keys[0]);
    ck_assert_str_eq(err.msg, want);
    ck_assert_uint_eq(ptable_count(p->tables[0]), 0);
    for (int e = 1; e < 3; e++) {
        ck_assert_uint_eq(p->failed[e], 0);
        ck_assert_uint_eq(ptable_count(p->tables[e]), 80);
    }
    ck_assert_uint_eq(p->lines, 5);
    /* merging more into a failed entry keeps it failed and empty */
    ck_assert_int_eq(partial_merge(p, q, NULL), APR_SUCCESS);
    ck_assert_uint_eq(ptable_count(p->tables[0]), 0);
    /* a failed entry carries over, with its key count */
    ck_assert_int_eq(partial_merge(r, p, NULL), APR_SUCCESS);
    ck_assert_uint_eq(r->failed[0], 1);
    ck_assert_uint_eq(r->failed_keys[0], p->failed_keys[0]);
    ck_assert_uint_eq(ptable_count(r->tables[1]), 80);
    partial_fail(r, 0, &err); /* again: only the message */
    ck_assert_uint_eq(r->failed_keys[0], p->failed_keys[0]);
    ck_assert_str_eq(err.msg, want);
    partial_clear(p);
    ck_assert_uint_eq(p->failed[0] + p->failed_keys[0], 0);
    ck_assert_ptr_nonnull(upsert_key(p->tables[0], &k, 1));
    /* the key count reads with thousands separators */
    for (long i = 0; i < 1234567; i++)
        ck_assert_ptr_nonnull(upsert_key(p->tables[1], &k, i));
    partial_fail(p, 1, &err);
    ck_assert_str_eq(err.msg, "entry 'b': out of memory after 1,234,567 keys");
    partial_destroy(p); /* before j, whose specs they point to, goes */
    partial_destroy(q);
    partial_destroy(r);
    buf_free(&k);
}
END_TEST

static Suite *ptable_suite(void)
{
    Suite *s = suite_create("ptable");
    TCase *tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_many_keys);
    tcase_add_test(tc, test_growth_keeps_rows);
    tcase_add_test(tc, test_collisions);
    tcase_add_test(tc, test_empty_key);
    tcase_add_test(tc, test_offsets);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_merge);
    tcase_add_test(tc, test_clear_reuse);
    suite_add_tcase(s, tc);
    tc = tcase_create("partial");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_partial);
    suite_add_tcase(s, tc);
    tc = tcase_create("out of memory");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_out_of_memory);
    tcase_add_test(tc, test_partial_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(ptable_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
