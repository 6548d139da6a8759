/* check_merger_keys.c - unit tests for max_keys at a master (master/merger.c, checkpoints and
 * journal recovery, status): period totals and round partials fold keys past the limit into
 * their overflow row, a recovered master holds the same rows, overflow rows and folded counts
 * as before it stopped, and the figures over all rows equal an independent recount.
 *
 * The fixture of the merger suites (tests/fixture_merger.h) with its config changed only in
 * max_keys: by_api (5 apis) keeps 3, by_user (13 users) keeps 4. Frames are made the way a
 * slave makes them (engine_feed, frame_encode), so they fold already; the master folds again
 * where frames meet. Oracles: the lines of the fixture's logs counted here (good lines per
 * frame), and the first merger's own reports and status for the recovered one. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "check_run.h"
#include "engine.h"
#include "frame.h"
#include "journal.h"
#include "merger.h"
#include "rules.h"

#define FIXTURE_SUITE "check_merger_keys"
#define FIXTURE_MERGER_PERSIST
#define FIXTURE_MERGER_RULES                                                                       \
    "masters:\n"                                                                                   \
    "  - {name: m1, url: \"http://127.0.0.1:1\", weight: 2}\n"                                     \
    "  - {name: m2, url: \"http://127.0.0.1:2\", weight: 1}\n"                                     \
    "jobs:\n"                                                                                      \
    "  - name: web\n"                                                                              \
    "    round: 10s\n"                                                                             \
    "    reset: hour\n"                                                                            \
    "    sources: [/dev/null]\n"                                                                   \
    "    format: {split: \" \", fields: [user, api, status:int, ms:int]}\n"                        \
    "    groups:\n"                                                                                \
    "      - name: traffic\n"                                                                      \
    "        weight: 3\n"                                                                          \
    "        entries:\n"                                                                           \
    "          - name: by_api\n"                                                                   \
    "            key: [api]\n"                                                                     \
    "            values: {hits: count, ms: sum(ms)}\n"                                             \
    "            max_keys: 3\n"                                                                    \
    "      - name: users\n"                                                                        \
    "        entries:\n"                                                                           \
    "          - name: by_user\n"                                                                  \
    "            key: [user]\n"                                                                    \
    "            values: {hits: count, worst: max(ms)}\n"                                          \
    "            max_keys: 4\n"                                                                    \
    "      - name: errors\n"                                                                       \
    "        entries:\n"                                                                           \
    "          - name: by_status\n"                                                                \
    "            key: [status]\n"                                                                  \
    "            values: {hits: count}\n"                                                          \
    "    reports:\n"                                                                               \
    "      - {name: api, entry: by_api, order: hits desc}\n"                                       \
    "      - {name: api_round, entry: by_api, scope: round}\n"                                     \
    "      - {name: users, entry: by_user, format: json}\n"                                        \
    "      - {name: status, entry: by_status}\n"
#include "fixture_merger.h"

/* Good lines of frames fr[from..to). */
static long good_lines(int from, int to)
{
    long n = 0;
    for (int i = from; i < to; i++)
        for (int l = FR[i].l0; l < FR[i].l1; l++)
            n += !bad_line(FR[i].s, l);
    return n;
}

/* The apis with lines in the master's overflow row of by_api after frames fr[from..to) in
 * order: each frame's partial keeps the first 3 apis of its good lines (the others fold
 * there); the master keeps the first frame's 3 (the table is empty and they fit) and folds
 * the rest of any later frame. */
static int folded_apis(int from, int to)
{
    int master[NAPI] = {0}, folded[NAPI] = {0}, n = 0;
    for (int i = from; i < to; i++) {
        int rows[NAPI] = {0}, nrows = 0;
        for (int l = FR[i].l0; l < FR[i].l1; l++) {
            int a = line_api(FR[i].s, l);
            if (bad_line(FR[i].s, l) || rows[a])
                continue;
            if (nrows < 3)
                rows[a] = 1, nrows++;
            else
                folded[a] = 1;
        }
        for (int a = 0; a < NAPI; a++)
            if (rows[a] && i == from)
                master[a] = 1;
            else if (rows[a] && !master[a])
                folded[a] = 1;
    }
    for (int a = 0; a < NAPI; a++)
        n += folded[a];
    return n;
}

/* The sum of column col (0-based) over the CSV report's rows, the overflow row included;
 * *overflow: 1 when it has one (its _overflow cell is 1). */
static long csv_sum(const char *csv, int col, int *overflow)
{
    const char *line = strstr(csv, "\r\n");
    long sum = 0;
    *overflow = strstr(csv, ",_overflow,_folded_lines,_folded_keys\r\n") != NULL;
    while (line && line[2]) {
        const char *f = line + 2;
        for (int c = 0; c < col; c++)
            f = strchr(f, ',') + 1;
        sum += atol(f);
        line = strstr(line + 2, "\r\n");
    }
    return sum;
}

/* The status's entry name of job web: its member field. */
static json_int_t entry_figure(merger_t *m, const char *name, const char *field)
{
    json_t *st = status(m), *es = json_object_get(job_status(st), "entries");
    json_int_t v = -1;
    for (size_t i = 0; i < json_array_size(es); i++) {
        json_t *e = json_array_get(es, i);
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            v = json_integer_value(json_object_get(e, field));
    }
    json_decref(st);
    ck_assert_msg(v >= 0, "status has no entry %s with %s", name, field);
    return v;
}

START_TEST(totals_fold_and_survive)
{
    life_t l;
    char *before, *after, *api;
    int overflow;

    start(&l);
    for (int i = 0; i < 4; i++)
        expect_send(l.m, &FR[i], MERGE_MERGED);
    checkpoint(&l);
    for (int i = 4; i < 6; i++)
        expect_send(l.m, &FR[i], MERGE_MERGED);
    /* the hour of frames 0..5: every good line once over the rows of the period report */
    api = report(l.m, "api", "csv");
    ck_assert_int_eq(csv_sum(api, 1, &overflow), good_lines(0, 6));
    ck_assert_msg(overflow, "the api report has no overflow row:\n%s", api);
    free(api);
    ck_assert_int_eq(entry_figure(l.m, "by_api", "keys"), 3);
    ck_assert_int_eq(entry_figure(l.m, "by_api", "max_keys"), 3);
    ck_assert_int_gt(entry_figure(l.m, "by_api", "folded_lines"), 0);
    ck_assert_int_eq(entry_figure(l.m, "by_api", "folded_keys"), folded_apis(0, 6));
    ck_assert_int_eq(entry_figure(l.m, "by_user", "keys"), 4);
    ck_assert_int_gt(entry_figure(l.m, "by_user", "bytes"), 0);
    before = snapshot(l.m, 1);
    crash(&l);

    /* the checkpoint's totals (frames 0..3) and the journal's frames 4 and 5 */
    start(&l);
    assert_log(&l, "recovered: checkpoint ");
    assert_log(&l, " 2 frames: 2 merged, 0 duplicate, 0 refused");
    after = snapshot(l.m, 1);
    assert_same(after, before, "state recovered with overflow rows");
    free(after);
    free(before);

    /* the next hour, and a checkpoint alone */
    for (int i = 6; i < NFR; i++)
        expect_send(l.m, &FR[i], MERGE_MERGED);
    api = report(l.m, "api", "csv");
    ck_assert_int_eq(csv_sum(api, 1, &overflow), good_lines(6, NFR));
    free(api);
    checkpoint(&l);
    before = snapshot(l.m, 1);
    crash(&l);
    start(&l);
    after = snapshot(l.m, 1);
    assert_same(after, before, "state from a checkpoint with overflow rows");
    free(after);
    free(before);
    crash(&l);
}
END_TEST

/* The same frames in another order: the period's figures over all rows are the same. */
START_TEST(order_changes_rows_not_totals)
{
    merger_t *a = merger_create(cfg, "m1", exp_dir, pool),
             *b = merger_create(cfg, "m1", exp_dir, pool);
    char *ra, *rb;
    int oa, ob;

    for (int i = 0; i < 6; i++) {
        expect_send(a, &FR[i], MERGE_MERGED);
        expect_send(b, &FR[5 - i], MERGE_MERGED);
    }
    ra = report(a, "api", "csv");
    rb = report(b, "api", "csv");
    ck_assert_int_eq(csv_sum(ra, 1, &oa), good_lines(0, 6));
    ck_assert_int_eq(csv_sum(rb, 1, &ob), good_lines(0, 6));
    ck_assert_int_eq(csv_sum(ra, 2, &oa), csv_sum(rb, 2, &ob)); /* ms too */
    ck_assert(oa && ob);
    free(ra);
    free(rb);
}
END_TEST

/* A reload that changes only max_keys restarts the job's totals (its structure changed); the
 * same text again keeps them. */
START_TEST(reload_changes_the_limit)
{
    merger_t *m = merger_create(cfg, "m1", exp_dir, pool);
    char *text = apr_pstrdup(pool, RULES), *at = strstr(text, "max_keys: 3"), *api;
    rules_config_t *same, *wider;
    abbey_err_t err;
    int overflow;

    for (int i = 0; i < 6; i++)
        expect_send(m, &FR[i], MERGE_MERGED);
    ck_assert_msg(rules_load_buffer(RULES, strlen(RULES), "same.yaml", pool, &same, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    ck_assert_int_eq(merger_set_config(m, same, &err), 0);
    ck_assert_int_eq(entry_figure(m, "by_api", "keys"), 3);
    api = report(m, "api", "csv");
    ck_assert_int_eq(csv_sum(api, 1, &overflow), good_lines(0, 6));
    free(api);
    ck_assert_ptr_nonnull(at);
    at[strlen("max_keys: ")] = '9'; /* max_keys: 9 */
    ck_assert_msg(rules_load_buffer(text, strlen(text), "wider.yaml", pool, &wider, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    ck_assert_int_eq(merger_set_config(m, wider, &err), 0);
    ck_assert_int_eq(entry_figure(m, "by_api", "max_keys"), 9);
    ck_assert_int_eq(entry_figure(m, "by_api", "keys"), 0); /* restarted */
    expect_send(m, &FR[6], MERGE_MERGED);
    api = report(m, "api", "csv");
    ck_assert_int_eq(csv_sum(api, 1, &overflow), good_lines(6, 7));
    free(api);
    /* the frame's 3 rows fit; what its slave (built with max_keys 3) folded stays folded */
    ck_assert_int_eq(entry_figure(m, "by_api", "keys"), 3);
    ck_assert_int_eq(entry_figure(m, "by_api", "folded_keys"), folded_apis(6, 7));
}
END_TEST

static Suite *keys_suite(void)
{
    Suite *s = suite_create("merger_keys");
    TCase *tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, persist_setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, totals_fold_and_survive);
    tcase_add_test(tc, order_changes_rows_not_totals);
    tcase_add_test(tc, reload_changes_the_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = check_run(keys_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
