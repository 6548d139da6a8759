/* check_engine.c - unit tests for rules/engine.c: lines through a compiled job into a partial,
 * all-or-nothing bad lines, block splits, samples, the bundled sample log, and a regex
 * that gives up at its limit (counted apart, never a bad line). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "engine.h"
#include "mem.h"
#include "rules.h"
#include "value.h"

#ifndef ABBEY_SRCDIR
#define ABBEY_SRCDIR "."
#endif

static apr_pool_t *pool;

static const char *RULES =
    "jobs:\n"
    "  - name: t\n"
    "    sources: [/dev/null]\n"
    "    format: {split: \"\\t\", fields: [user, api, status:int, ms:float]}\n"
    "    groups:\n"
    "      - name: g\n"
    "        entries:\n"
    "          - name: by_api\n"
    "            key: [api]\n"
    "            values: {n: count, ms: sum(ms), worst: max(ms)}\n"
    "          - name: ok\n"
    "            where: status < 500\n"
    "            values: {n: count, users: distinct_exact(user)}\n"
    "          - name: slow\n"
    "            key: [api, status]\n"
    "            where: ms * 2 > 100\n"
    "            values: {n: count}\n";

static rules_config_t *load(const char *text)
{
    rules_config_t *cfg;
    abbey_err_t err;
    apr_status_t rv = rules_load_buffer(text, strlen(text), "test.yaml", pool, &cfg, &err);
    ck_assert_msg(rv == APR_SUCCESS, "load: %s", err.msg);
    return cfg;
}

/* The figure in column `value` of the row whose key tuple is keys[0..nkeys). */
static const char *figure(const partial_t *p, int entry, const value_t *keys, int nkeys, int value,
                          agg_result_t *res)
{
    const rules_entry_t *en = p->job->entries[entry];
    ptable_row_t *row;
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < nkeys; i++)
        value_key_put(&b, &keys[i]);
    row = ptable_find(p->tables[entry], b.data, (uint32_t)b.len, value_hash_bytes(b.data, b.len));
    buf_free(&b);
    if (!row)
        return NULL;
    agg_result(&en->values[value].spec, row->state + ptable_offset(p->tables[entry], value), res);
    return res->text;
}

static value_t s(const char *x)
{
    value_t v = {.kind = VALUE_STR, .s = x, .len = (uint32_t)strlen(x)};
    return v;
}

static value_t i64(int64_t x)
{
    value_t v = {.kind = VALUE_INT, .i = x};
    return v;
}

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static const char *LINES = "ann\t/a\t200\t10\n"
                           "bob\t/a\t200\t70.5\n"
                           "ann\t/b\t503\t200\n"
                           "cid\t/a\t404\t1\n";

START_TEST(test_entries)
{
    rules_config_t *cfg = load(RULES);
    const rules_job_t *job = &cfg->jobs[0];
    engine_t *e = engine_create(job, pool);
    partial_t *p = partial_create(job, pool);
    agg_result_t r;
    value_t k[2];

    ck_assert_int_eq(engine_feed(e, LINES, strlen(LINES), 0, p, NULL, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 4);
    ck_assert_uint_eq(p->bad_lines, 0);
    ck_assert_uint_eq(p->bytes, strlen(LINES));
    k[0] = s("/a");
    ck_assert_str_eq(figure(p, 0, k, 1, 0, &r), "3");
    ck_assert(r.num == 3);
    figure(p, 0, k, 1, 1, &r);
    ck_assert(r.num == 81.5);
    figure(p, 0, k, 1, 2, &r);
    ck_assert(r.num == 70.5);
    k[0] = s("/b");
    ck_assert_str_eq(figure(p, 0, k, 1, 0, &r), "1");
    ck_assert_uint_eq(ptable_count(p->tables[0]), 2);
    /* ok: status < 500 → 3 lines, users ann, bob, cid */
    ck_assert_str_eq(figure(p, 1, NULL, 0, 0, &r), "3");
    ck_assert_str_eq(figure(p, 1, NULL, 0, 1, &r), "3");
    /* slow: ms*2 > 100 → (/a,200) once (70.5), (/b,503) once */
    k[0] = s("/a");
    k[1] = i64(200);
    ck_assert_str_eq(figure(p, 2, k, 2, 0, &r), "1");
    k[0] = s("/b");
    k[1] = i64(503);
    ck_assert_str_eq(figure(p, 2, k, 2, 0, &r), "1");
    ck_assert_uint_eq(ptable_count(p->tables[2]), 2);
}
END_TEST

START_TEST(test_bad_lines_change_nothing)
{
    rules_config_t *cfg = load(RULES);
    const rules_job_t *job = &cfg->jobs[0];
    engine_t *e = engine_create(job, pool);
    partial_t *p = partial_create(job, pool);
    engine_samples_t smp = {0};
    const char *bad = "ann\t/a\t200\tfast\n" /* ms is not a number */
                      "ann\t/a\n"            /* too few fields */
                      "x\t/a\t2x0\t1\n";     /* status not an int */
    agg_result_t r;
    value_t k = s("/a");

    ck_assert_int_eq(engine_feed(e, bad, strlen(bad), 1000, p, &smp, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 3);
    ck_assert_uint_eq(p->bad_lines, 3);
    for (int i = 0; i < job->nentries; i++)
        ck_assert_uint_eq(ptable_count(p->tables[i]), 0);
    ck_assert_int_eq(smp.n, 3);
    ck_assert_uint_eq(smp.s[0].offset, 1000);
    ck_assert_uint_eq(smp.s[1].offset, 1000 + strlen("ann\t/a\t200\tfast\n"));
    ck_assert_str_eq(smp.s[1].text, "ann\t/a");
    ck_assert_int_eq(engine_feed(e, LINES, strlen(LINES), 0, p, &smp, NULL), APR_SUCCESS);
    ck_assert_str_eq(figure(p, 0, &k, 1, 0, &r), "3");
}
END_TEST

START_TEST(test_block_splits)
{
    rules_config_t *cfg = load(RULES);
    const rules_job_t *job = &cfg->jobs[0];
    engine_t *e = engine_create(job, pool);
    partial_t *whole = partial_create(job, pool), *parts = partial_create(job, pool);
    size_t len = strlen(LINES);
    agg_result_t a, b;
    value_t k = s("/a");

    ck_assert_int_eq(engine_feed(e, LINES, len, 0, whole, NULL, NULL), APR_SUCCESS);
    /* feed line by line, including a last line without '\n' */
    for (const char *p = LINES; p < LINES + len;) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p) + (nl + 1 == LINES + len ? 0 : 1);
        ck_assert_int_eq(engine_feed(e, p, n, (uint64_t)(p - LINES), parts, NULL, NULL),
                         APR_SUCCESS);
        p = nl + 1;
    }
    ck_assert_uint_eq(parts->lines, whole->lines);
    for (int v = 0; v < 3; v++)
        ck_assert_str_eq(figure(parts, 0, &k, 1, v, &a), figure(whole, 0, &k, 1, v, &b));
}
END_TEST

START_TEST(test_sample_log)
{
    const char *text = "jobs:\n"
                       "  - name: web\n"
                       "    sources: [x.log]\n"
                       "    format: combined\n"
                       "    groups:\n"
                       "      - name: g\n"
                       "        entries:\n"
                       "          - name: by_status\n"
                       "            key: [status]\n"
                       "            values: {hits: count}\n";
    rules_config_t *cfg = load(text);
    const rules_job_t *job = &cfg->jobs[0];
    engine_t *e = engine_create(job, pool);
    partial_t *p = partial_create(job, pool);
    engine_samples_t smp = {0};
    const char *path = ABBEY_SRCDIR "/data/apache_combined_10k.log";
    FILE *f = fopen(path, "rb");
    char *data;
    long size;
    agg_result_t r;
    value_t k = i64(200);
    /* awk '{print $9}' data/apache_combined_10k.log | sort | uniq -c */
    ck_assert_msg(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)size);
    ck_assert(fread(data, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    ck_assert_int_eq(engine_feed(e, data, (size_t)size, 0, p, &smp, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 10000);
    ck_assert_uint_eq(p->bad_lines, 1);
    ck_assert_int_eq(smp.n, 1);
    ck_assert(strncmp(smp.s[0].text, "46.118.127.106 - - [20/May/2015:12:05:17", 40) == 0);
    /* the cut-off line has status 200; it is bad, so 200 counts 9125 of awk's 9126 */
    ck_assert_str_eq(figure(p, 0, &k, 1, 0, &r), "9125");
    k = i64(304);
    ck_assert_str_eq(figure(p, 0, &k, 1, 0, &r), "445");
    k = i64(404);
    ck_assert_str_eq(figure(p, 0, &k, 1, 0, &r), "213");
    ck_assert_uint_eq(ptable_count(p->tables[0]), 8);
    free(data);
}
END_TEST

/* A regex that gives up at its limit: the where is false on that line, the
 * line still counts for every other entry (it is not bad), and the partial
 * counts it in regex_limit_hits. Lines: user \t api, the api built here. */
START_TEST(test_regex_limit_line)
{
    const char *text = "jobs:\n"
                       "  - name: t\n"
                       "    sources: [/dev/null]\n"
                       "    format: {split: \"\\t\", fields: [user, api]}\n"
                       "    groups:\n"
                       "      - name: g\n"
                       "        entries:\n"
                       "          - name: all\n"
                       "            key: [user]\n"
                       "            values: {n: count}\n"
                       "          - name: ends_a\n"
                       "            where: api ~ \"(a+)+$\"\n"
                       "            values: {n: count}\n"
                       "          - name: not_a\n"
                       "            where: api !~ \"(a+)+$\"\n"
                       "            values: {n: count}\n";
    rules_config_t *cfg = load(text);
    const rules_job_t *job = &cfg->jobs[0];
    engine_t *e = engine_create(job, pool);
    partial_t *p = partial_create(job, pool);
    engine_samples_t smp = {0};
    buf_t in;
    agg_result_t r;
    value_t k;
    char patho[3002];

    memset(patho, 'a', 3000);
    patho[3000] = 'b'; /* no match, found only by giving up */
    patho[3001] = '\0';
    buf_init(&in);
    /* 10 lines: 4 end in 'a' (match), 3 short misses, 3 pathological */
    buf_printf(&in, "ann\t/aaaa\nbob\t/xa\nann\t/ab\nbob\t/aab\n");
    buf_printf(&in, "cid\t%s\nann\t/a\ncid\t%s\n", patho, patho);
    buf_printf(&in, "bob\t/b\nann\t/ba\ncid\t%s\n", patho);
    ck_assert_int_eq(engine_feed(e, (const char *)in.data, in.len, 0, p, &smp, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 10);
    ck_assert_uint_eq(p->bad_lines, 0);
    ck_assert_int_eq(smp.n, 0);
    ck_assert_uint_eq(p->regex_limit_hits, 3);
    k = s("ann");
    ck_assert_str_eq(figure(p, 0, &k, 1, 0, &r), "4");
    k = s("bob");
    ck_assert_str_eq(figure(p, 0, &k, 1, 0, &r), "3");
    k = s("cid");
    ck_assert_str_eq(figure(p, 0, &k, 1, 0, &r), "3");
    ck_assert_str_eq(figure(p, 1, NULL, 0, 0, &r), "4"); /* /aaaa /xa /a /ba */
    ck_assert_str_eq(figure(p, 2, NULL, 0, 0, &r), "3"); /* /ab /aab /b: false both ways */
    buf_free(&in);
}
END_TEST

/* An entry whose table runs out of memory (mem.h's hook fails the n-th
 * allocation, for every n the run makes) fails alone: engine_feed says
 * APR_ENOMEM and names it with its key count, its table is emptied and takes
 * no more rows, and every line still counts for the other entries, exactly
 * as in a run without the failure; the line counters too. */
START_TEST(test_out_of_memory)
{
    const char *text =
        "jobs:\n"
        "  - name: t\n"
        "    sources: [/dev/null]\n"
        "    format: {split: \"\\t\", fields: [user, api, ms:float]}\n"
        "    groups:\n"
        "      - name: g\n"
        "        entries:\n"
        "          - name: by_user\n"
        "            key: [user]\n"
        "            values: {n: count, apis: distinct(api), p50: percentile(ms, 50)}\n"
        "          - name: by_api\n"
        "            key: [api]\n"
        "            values: {n: count, ms: sum(ms), users: distinct_exact(user)}\n";
    rules_config_t *cfg = load(text);
    const rules_job_t *job = &cfg->jobs[0];
    engine_t *e = engine_create(job, pool);
    partial_t *ref = partial_create(job, pool);
    buf_t in;
    uint64_t n;
    int saw[2] = {0, 0};

    buf_init(&in);
    for (int i = 0; i < 800; i++)
        buf_printf(&in, "u%d\t/api/%d\t%d.5\n%s", i % 200, i % 13, i % 97,
                   i % 300 == 0 ? "bad line\n" : "");
    buf_printf(&in, "%01000d\t/api/long\t1\n", 7); /* a key longer than the key buffer */
    ck_assert_int_eq(engine_feed(e, (const char *)in.data, in.len, 0, ref, NULL, NULL),
                     APR_SUCCESS);
    for (n = 1;; n++) {
        apr_pool_t *sub;
        partial_t *p;
        abbey_err_t err = {{0}};
        apr_status_t rv;
        int failed = -1;
        char want[96];
        apr_pool_create(&sub, pool);
        e = engine_create(job, sub); /* a fresh key buffer: its growth fails too */
        p = partial_create(job, sub);
        mem_fail_at(n);
        rv = engine_feed(e, (const char *)in.data, in.len, 0, p, NULL, &err);
        mem_fail_at(0);
        ck_assert_uint_eq(p->lines, ref->lines);
        ck_assert_uint_eq(p->bad_lines, ref->bad_lines);
        ck_assert_uint_eq(p->bytes, ref->bytes);
        for (int i = 0; i < 2; i++)
            if (p->failed[i]) {
                ck_assert_int_eq(failed, -1); /* one failure, one entry */
                failed = i;
            }
        if (rv == APR_SUCCESS) {
            ck_assert_int_eq(failed, -1);
            apr_pool_destroy(sub);
            break;
        }
        ck_assert_int_eq(rv, APR_ENOMEM);
        ck_assert_int_ne(failed, -1);
        saw[failed] = 1;
        snprintf(want, sizeof want, "entry '%s': out of memory after %llu keys",
                 job->entries[failed]->name, (unsigned long long)p->failed_keys[failed]);
        ck_assert_str_eq(err.msg, want);
        ck_assert_uint_eq(ptable_count(p->tables[failed]), 0);
        ck_assert_uint_le(p->failed_keys[failed], ptable_count(ref->tables[failed]));
        /* the other entry: every row and figure as without the failure */
        {
            int o = 1 - failed;
            size_t cur = 0;
            ptable_row_t *row;
            ck_assert_uint_eq(ptable_count(p->tables[o]), ptable_count(ref->tables[o]));
            while ((row = ptable_next(ref->tables[o], &cur)) != NULL) {
                ptable_row_t *got = ptable_find(p->tables[o], row->key, row->klen, row->hash);
                ck_assert_ptr_nonnull(got);
                for (int v = 0; v < job->entries[o]->nvalues; v++) {
                    agg_result_t a, b;
                    const agg_spec_t *sp = &job->entries[o]->specs[v];
                    agg_result(sp, row->state + ptable_offset(ref->tables[o], v), &a);
                    agg_result(sp, got->state + ptable_offset(p->tables[o], v), &b);
                    ck_assert_str_eq(b.text, a.text);
                }
            }
        }
        /* a failed entry stays failed and empty in later feeds */
        ck_assert_int_eq(engine_feed(e, (const char *)in.data, in.len, 0, p, NULL, NULL),
                         APR_SUCCESS);
        ck_assert_uint_eq(ptable_count(p->tables[failed]), 0);
        ck_assert_uint_eq(p->failed[failed], 1);
        apr_pool_destroy(sub);
    }
    ck_assert(saw[0] && saw[1]);
    ck_assert_uint_gt(n, 200);
    buf_free(&in);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *su = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_entries);
    tcase_add_test(tc, test_bad_lines_change_nothing);
    tcase_add_test(tc, test_block_splits);
    tcase_add_test(tc, test_sample_log);
    tcase_add_test(tc, test_regex_limit_line);
    tcase_add_test(tc, test_out_of_memory);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    int failed;
    failed = check_run(engine_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
