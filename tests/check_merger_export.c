/* check_merger_export.c - unit tests for the merger's round export (master/merger_export.c,
 * merger_tick): a round exported once covered or at its deadline (marked INCOMPLETE, then
 * amended), the primary's incomplete rounds, period boundaries, an empty round opening a
 * new period, flushes writing only changed totals, only owned groups exported, and
 * retention. The config, logs, frames and recount are tests/fixture_merger.h; the oracle is
 * a brute-force recount of the selected log lines and the same lines computed in one go
 * through the engine and export_render, compared with the files found on disk after
 * merger_tick. */
#include <check.h>
#include <curl/curl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "check_run.h"
#include "engine.h"
#include "export.h"
#include "frame.h"
#include "httpd.h"
#include "merger.h"
#include "rules.h"

#define FIXTURE_SUITE "check_merger_export"
#define FIXTURE_MERGER_RECOUNT
#include "fixture_merger.h"

/* ---- rounds ------------------------------------------------------------- */

START_TEST(round_export)
{
    merger_t *m = new_merger("m1");
    const uint64_t R = H0 + 5;
    const int64_t start = (int64_t)R * ROUND_MS;
    sel_t r0[] = {{0, 0, 100}, {1, 0, 80}};
    char *want;
    json_t *st;

    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, R), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 1, 0, 80, R), MERGE_MERGED);
    ck_assert_int_eq(merger_tick(m, start + ROUND_MS), 0); /* not closed yet */
    round_closed(m, R, r0, 2, start + 3 * ROUND_MS);
    ck_assert_uint_eq(merger_last_closed_round(m, "web"), R);
    ck_assert_int_eq(merger_tick(m, start + ROUND_MS + 500), 1);
    ck_assert_int_eq(merger_tick(m, start + ROUND_MS + 600), 0);

    want = oracle_api_csv(r0, 2);
    assert_file(path_of("history/%s/api.csv", round_dir(R)), want);
    assert_file(path_of("api.csv"), want);
    free(want);
    want = oracle_render("api_round", r0, 2);
    assert_file(path_of("history/%s/api_round.csv", round_dir(R)), want);
    assert_file(path_of("api_round.csv"), want);
    free(want);
    want = oracle_render("users", r0, 2);
    assert_file(path_of("history/%s/users.json", round_dir(R)), want);
    assert_file(path_of("users.json"), want);
    free(want);
    ck_assert(!exists(path_of("history/%s/INCOMPLETE", round_dir(R))));
    ck_assert(!exists(path_of("status.csv")));
    ck_assert(!exists(path_of("history/%s/status.csv", round_dir(R))));

    /* R+1: B's range is missing */
    {
        sel_t r1[] = {{0, 100, 200}, {1, 80, 160}};
        sel_t r1_a[] = {{0, 100, 200}};
        sel_t both[] = {{0, 0, 200}, {1, 0, 160}};
        const int64_t s1 = start + ROUND_MS, dl = s1 + 3 * ROUND_MS;
        char *marker, needle[128];

        ck_assert_int_eq(deliver(m, "m1", 0, 100, 200, R + 1), MERGE_MERGED);
        round_closed(m, R + 1, r1, 2, dl);
        ck_assert_int_eq(merger_tick(m, dl - 1), 0);
        ck_assert(!exists(path_of("history/%s", round_dir(R + 1))));
        ck_assert_int_eq(merger_tick(m, dl), 1);
        want = oracle_render("api_round", r1_a, 1);
        assert_file(path_of("history/%s/api_round.csv", round_dir(R + 1)), want);
        assert_file(path_of("api_round.csv"), want);
        free(want);
        marker = slurp(path_of("history/%s/INCOMPLETE", round_dir(R + 1)));
        ck_assert_ptr_nonnull(marker);
        snprintf(needle, sizeof needle, "%s %llu %llu\n", SRC[1], (unsigned long long)off[1][80],
                 (unsigned long long)off[1][160]);
        ck_assert_msg(strstr(marker, needle) != NULL, "marker:\n%s", marker);
        ck_assert_ptr_null(strstr(marker, SRC[0]));
        free(marker);
        ck_assert_int_eq(merger_tick(m, dl + 1), 0);

        /* the missing frame arrives: amended, marker gone */
        ck_assert_int_eq(deliver(m, "m1", 1, 80, 160, R + 1), MERGE_MERGED);
        ck_assert_int_eq(merger_tick(m, dl + 2), 1);
        ck_assert(!exists(path_of("history/%s/INCOMPLETE", round_dir(R + 1))));
        want = oracle_render("api_round", r1, 2);
        assert_file(path_of("history/%s/api_round.csv", round_dir(R + 1)), want);
        assert_file(path_of("api_round.csv"), want);
        free(want);
        want = oracle_api_csv(both, 2);
        assert_file(path_of("api.csv"), want);
        assert_file(path_of("history/%s/api.csv", round_dir(R + 1)), want);
        free(want);
        /* R's history is untouched */
        want = oracle_render("api_round", r0, 2);
        assert_file(path_of("history/%s/api_round.csv", round_dir(R)), want);
        free(want);
        ck_assert_int_eq(merger_tick(m, dl + 3), 0);
    }

    /* R+2: closed before its frame arrives */
    {
        sel_t r2[] = {{0, 200, 250}};
        ck_assert_int_eq(merger_tick(m, start + 3 * ROUND_MS), 0);
        round_closed(m, R + 2, r2, 1, start + 5 * ROUND_MS);
        ck_assert_int_eq(merger_tick(m, start + 3 * ROUND_MS + 1), 0);
        ck_assert_int_eq(deliver(m, "m1", 0, 200, 250, R + 2), MERGE_MERGED);
        ck_assert_int_eq(merger_tick(m, start + 3 * ROUND_MS + 2), 1);
        want = oracle_render("api_round", r2, 1);
        assert_file(path_of("api_round.csv"), want);
        free(want);
    }
    st = status(m);
    ck_assert_int_eq(job_figure(st, NULL, "last_exported_round"), (json_int_t)(R + 2));
    ck_assert_int_eq(job_figure(st, NULL, "last_closed_round"), (json_int_t)(R + 2));
    ck_assert_int_eq(job_figure(st, NULL, "rounds_exported"), 3);
    ck_assert_int_eq(job_figure(st, NULL, "rounds_amended"), 1);
    ck_assert_int_eq(job_figure(st, "partials", "late"), 1);
    ck_assert_int_eq(json_array_size(json_object_get(json_array_get(json_object_get(st, "jobs"), 0),
                                                     "pending_rounds")),
                     0);
    json_decref(st);
    ck_assert_uint_eq(merger_last_closed_round(m, "web"), R + 2);
    ck_assert_uint_eq(merger_last_closed_round(m, "nope"), 0);
}
END_TEST

START_TEST(primary_incomplete)
{
    /* the primary closed the round at its deadline: exported with a marker even if covered */
    merger_t *m = new_merger("m1");
    sel_t r0[] = {{0, 0, 50}};
    merger_range_t rg = {SRC[0], 0, off[0][50]};
    merger_round_t rd = {.round = H0,
                         .start_ms = (int64_t)H0 * ROUND_MS,
                         .deadline_ms = (int64_t)(H0 + 3) * ROUND_MS,
                         .incomplete = 1,
                         .nranges = 1,
                         .ranges = &rg};
    char *marker;

    ck_assert_int_eq(deliver(m, "m1", 0, 0, 50, H0), MERGE_MERGED);
    merger_round_closed(m, "web", &rd);
    ck_assert_int_eq(merger_tick(m, rd.deadline_ms - 1), 0);
    ck_assert_int_eq(merger_tick(m, rd.deadline_ms), 1);
    marker = slurp(path_of("history/%s/INCOMPLETE", round_dir(H0)));
    ck_assert_ptr_nonnull(marker);
    ck_assert_ptr_nonnull(strstr(marker, "primary"));
    free(marker);
    {
        char *want = oracle_api_csv(r0, 1);
        assert_file(path_of("history/%s/api.csv", round_dir(H0)), want);
        free(want);
    }
}
END_TEST

START_TEST(period_boundary)
{
    merger_t *m = new_merger("m1");
    const uint64_t a = H0 + 1, b = H0 + 360; /* hour H, hour H+1 */
    sel_t in_h[] = {{0, 0, 100}}, in_h1[] = {{0, 100, 200}}, late[] = {{0, 200, 250}};
    sel_t h_all[] = {{0, 0, 100}, {0, 200, 250}};
    const char *hstamp = stamp((int64_t)H0 * ROUND_MS);
    char *want;

    ck_assert_str_eq(hstamp, "20251009T090000Z");
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, a), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 100, 200, b), MERGE_MERGED);
    round_closed(m, a, in_h, 1, (int64_t)(a + 3) * ROUND_MS);
    round_closed(m, b, in_h1, 1, (int64_t)(b + 3) * ROUND_MS);
    /* round a, round b, final period H */
    ck_assert_int_eq(merger_tick(m, (int64_t)(b + 1) * ROUND_MS), 3);

    want = oracle_api_csv(in_h, 1);
    assert_file(path_of("period/%s/api.csv", hstamp), want);
    assert_file(path_of("history/%s/api.csv", round_dir(a)), want);
    free(want);
    want = oracle_render("users", in_h, 1);
    assert_file(path_of("period/%s/users.json", hstamp), want);
    free(want);
    ck_assert(!exists(path_of("period/%s/api_round.csv", hstamp))); /* round scope */
    want = oracle_api_csv(in_h1, 1);
    assert_file(path_of("api.csv"), want);
    assert_report(m, "api", want);
    free(want);
    want = oracle_render("users", in_h1, 1);
    assert_file(path_of("users.json"), want);
    free(want);
    ck_assert(!exists(path_of("period/%s", stamp((int64_t)b * ROUND_MS))));

    /* late data for hour H amends its final reports, not the latest */
    ck_assert_int_eq(deliver(m, "m1", 0, 200, 250, a + 1), MERGE_MERGED);
    round_closed(m, a + 1, late, 1, (int64_t)(a + 4) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m, (int64_t)(b + 2) * ROUND_MS), 2); /* round a+1, period H */
    want = oracle_api_csv(h_all, 2);
    assert_file(path_of("period/%s/api.csv", hstamp), want);
    free(want);
    want = oracle_api_csv(in_h1, 1);
    assert_file(path_of("api.csv"), want);
    free(want);
    want = oracle_render("api_round", in_h1, 1);
    assert_file(path_of("api_round.csv"), want); /* still the newest round's */
    free(want);
    ck_assert_int_eq(merger_tick(m, (int64_t)(b + 3) * ROUND_MS), 0);
}
END_TEST

START_TEST(empty_round_new_period)
{
    /* the first round of hour H+1 brings no data: the latest period reports are empty */
    merger_t *m = new_merger("m1");
    const uint64_t a = H0 + 359, b = H0 + 360;
    sel_t in_h[] = {{1, 0, 120}};
    const char *hstamp = stamp((int64_t)H0 * ROUND_MS);
    char *want;

    ck_assert_int_eq(deliver(m, "m1", 1, 0, 120, a), MERGE_MERGED);
    round_closed(m, a, in_h, 1, (int64_t)(a + 3) * ROUND_MS);
    round_closed(m, b, NULL, 0, (int64_t)(b + 3) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m, (int64_t)(b + 1) * ROUND_MS), 3);
    want = oracle_api_csv(in_h, 1);
    assert_file(path_of("period/%s/api.csv", hstamp), want);
    free(want);
    assert_file(path_of("api.csv"), "api,hits,ms\r\n");
    assert_file(path_of("api_round.csv"), "api,hits,ms\r\n");
    assert_file(path_of("history/%s/api.csv", round_dir(b)), "api,hits,ms\r\n");
}
END_TEST

/* Frames merged after the last round export (a round not closed yet) are in
 * the files a master leaves behind: merger_flush renders changed totals even
 * when no round export marked them stale. */
START_TEST(flush_writes_changed_totals)
{
    merger_t *m = new_merger("m1");
    const uint64_t R = H0 + 5;
    sel_t r0[] = {{0, 0, 100}}, both[] = {{0, 0, 100}, {1, 0, 50}};
    char *want;

    merger_set_period_interval(m, 10000);
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, R), MERGE_MERGED);
    round_closed(m, R, r0, 1, (int64_t)(R + 3) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m, (int64_t)(R + 1) * ROUND_MS), 1);
    want = oracle_api_csv(r0, 1);
    assert_file(path_of("api.csv"), want);
    free(want);
    /* acknowledged, its round still open; then the master stops */
    ck_assert_int_eq(deliver(m, "m1", 1, 0, 50, R + 1), MERGE_MERGED);
    ck_assert_int_eq(merger_tick(m, (int64_t)(R + 1) * ROUND_MS + 100), 0);
    merger_flush(m, (int64_t)(R + 1) * ROUND_MS + 200);
    want = oracle_api_csv(both, 2);
    assert_file(path_of("api.csv"), want);
    free(want);
}
END_TEST

START_TEST(owned_groups_only)
{
    char two[96];
    merger_t *m1 = new_merger("m1"), *m2;
    sel_t sel[] = {{0, 0, 300}};
    buf_t b;
    char *want, *got;

    snprintf(two, sizeof two, "%s/two", dir);
    m2 = merger_create(cfg, "m2", two, pool);
    ck_assert_int_eq(deliver(m1, "m1", 0, 0, 300, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m2, "m2", 0, 0, 300, H0), MERGE_MERGED);
    round_closed(m1, H0, sel, 1, (int64_t)(H0 + 3) * ROUND_MS);
    round_closed(m2, H0, sel, 1, (int64_t)(H0 + 3) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m1, (int64_t)(H0 + 1) * ROUND_MS), 1);
    ck_assert_int_eq(merger_tick(m2, (int64_t)(H0 + 1) * ROUND_MS), 1);

    /* m1: traffic and users */
    want = oracle_api_csv(sel, 1);
    assert_file(path_of("api.csv"), want);
    free(want);
    ck_assert(exists(path_of("users.json")));
    ck_assert(exists(path_of("history/%s/api_round.csv", round_dir(H0))));
    ck_assert(!exists(path_of("status.csv")));
    ck_assert(!exists(path_of("history/%s/status.csv", round_dir(H0))));
    /* m2: errors */
    want = oracle_render("status", sel, 1);
    assert_file(path_of("../two/web/status.csv"), want);
    assert_file(path_of("../two/web/history/%s/status.csv", round_dir(H0)), want);
    got = report(m2, "status", NULL);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    ck_assert(!exists(path_of("../two/web/api.csv")));
    ck_assert(!exists(path_of("../two/web/users.json")));
    ck_assert(!exists(path_of("../two/web/history/%s/api_round.csv", round_dir(H0))));

    buf_init(&b);
    ck_assert_int_eq(merger_report(m2, "web", "api", NULL, &b), 404);
    ck_assert_int_eq(merger_report(m1, "web", "status", NULL, &b), 404);
    ck_assert_int_eq(merger_report(m1, "web", "nope", NULL, &b), 404);
    ck_assert_int_eq(merger_report(m1, "nope", "api", NULL, &b), 404);
    ck_assert_int_eq(merger_report(m1, "web", "api", "xml", &b), 400);
    buf_reset(&b);
    ck_assert_int_eq(merger_report(m1, "web", "api", "json", &b), 200);
    ck_assert_int_gt(b.len, 0);
    ck_assert_int_eq(b.data[0], '{');
    buf_free(&b);
}
END_TEST

START_TEST(retention)
{
    merger_t *m = new_merger("m1");
    const int n = MERGER_KEEP_ROUNDS + 6;
    json_t *st;
    char *marker;
    sel_t all[] = {{0, 0, n}};

    /* frames for n rounds, none closed: the oldest rounds are dropped, exported first */
    for (int i = 1; i < n; i++)
        ck_assert_int_eq(deliver(m, "m1", 0, i, i + 1, H0 + (uint64_t)i), MERGE_MERGED);
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + (uint64_t)n) * ROUND_MS), 5);
    for (int i = 1; i <= 5; i++)
        ck_assert(exists(path_of("history/%s/api_round.csv", round_dir(H0 + (uint64_t)i))));
    ck_assert(!exists(path_of("history/%s", round_dir(H0 + 6))));
    marker = slurp(path_of("history/%s/INCOMPLETE", round_dir(H0 + 1)));
    ck_assert_ptr_nonnull(marker);
    ck_assert_ptr_nonnull(strstr(marker, "not closed"));
    free(marker);
    {
        sel_t one[] = {{0, 1, 2}};
        char *want = oracle_render("api_round", one, 1);
        assert_file(path_of("history/%s/api_round.csv", round_dir(H0 + 1)), want);
        free(want);
    }
    /* a frame for a dropped round still counts in the totals, as late */
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 1, H0), MERGE_MERGED);
    assert_api(m, all, 1);
    st = status(m);
    ck_assert_int_eq(job_figure(st, "partials", "late"), 1);
    ck_assert_int_eq(job_figure(st, "partials", "merged"), n);
    json_decref(st);
}
END_TEST

static Suite *merger_export_suite(void)
{
    Suite *s = suite_create("merger_export");
    TCase *tc;

    tc = tcase_create("rounds");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_export);
    tcase_add_test(tc, primary_incomplete);
    tcase_add_test(tc, period_boundary);
    tcase_add_test(tc, empty_round_new_period);
    tcase_add_test(tc, owned_groups_only);
    tcase_add_test(tc, flush_writes_changed_totals);
    tcase_add_test(tc, retention);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = check_run(merger_export_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
