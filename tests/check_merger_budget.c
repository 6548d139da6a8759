/* check_merger_budget.c - unit tests for a master's memory budget (master/merger_budget.c and
 * where master/merger.c, merger_recover.c and merger_gaps.c consult it).
 *
 * One master m1 and two jobs: "web" (the fixture's, tests/fixture_merger.h: by_api, by_user,
 * by_status, a round-scope report, so it keeps round partials and holds the memory) and
 * "tiny" (one entry, the statuses). Limits are set from what the merger's own status says
 * its tables hold, with no allowance, so the thresholds fall where a test wants them:
 * - the job holding the memory is refused (MERGE_UNAVAILABLE, the reason naming the job, the
 *   master and the limit) before its frame is decoded, while duplicates are still answered,
 *   the other job's frames are merged and the reports served; at the limit itself the other
 *   job is refused too; with the budget gone both take frames again; the reports then equal
 *   the engine's recount of the merged lines; status, metrics and the log (once each way);
 * - HTTP: 503 with {"error": ...} for a refused frame, the report still 200;
 * - recovery: a journal whose frames exceed a (lowered) budget is replayed whole (nothing
 *   refused), the job is marked over budget and refuses its next frame, and a restart with the
 *   budget raised takes it; the reports equal those before the crash;
 * - gap repair asks nothing for a job over budget. */
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

#include "budget.h"
#include "check_run.h"
#include "engine.h"
#include "frame.h"
#include "httpd.h"
#include "journal.h"
#include "merger.h"
#include "rules.h"

#define FIXTURE_SUITE "check_merger_budget"
#define FIXTURE_MERGER_RECOUNT
#define FIXTURE_MERGER_PERSIST
#define FIXTURE_MERGER_RULES                                                                       \
    "masters:\n"                                                                                   \
    "  - {name: m1, url: \"http://127.0.0.1:1\"}\n"                                                \
    "jobs:\n"                                                                                      \
    "  - name: web\n"                                                                              \
    "    round: 10s\n"                                                                             \
    "    reset: hour\n"                                                                            \
    "    sources: [/dev/null]\n"                                                                   \
    "    format: {split: \" \", fields: [user, api, status:int, ms:int]}\n"                        \
    "    groups:\n"                                                                                \
    "      - name: traffic\n"                                                                      \
    "        entries:\n"                                                                           \
    "          - {name: by_api, key: [api], values: {hits: count, ms: sum(ms)}}\n"                 \
    "      - name: users\n"                                                                        \
    "        entries:\n"                                                                           \
    "          - {name: by_user, key: [user], values: {hits: count, worst: max(ms)}}\n"            \
    "      - name: errors\n"                                                                       \
    "        entries:\n"                                                                           \
    "          - {name: by_status, key: [status], values: {hits: count}}\n"                        \
    "    reports:\n"                                                                               \
    "      - {name: api, entry: by_api, order: hits desc}\n"                                       \
    "      - {name: api_round, entry: by_api, scope: round}\n"                                     \
    "      - {name: users, entry: by_user, format: json}\n"                                        \
    "      - {name: status, entry: by_status}\n"                                                   \
    "  - name: tiny\n"                                                                             \
    "    round: 10s\n"                                                                             \
    "    reset: hour\n"                                                                            \
    "    sources: [/dev/zero]\n"                                                                   \
    "    format: {split: \" \", fields: [user, api, status:int, ms:int]}\n"                        \
    "    groups:\n"                                                                                \
    "      - name: codes\n"                                                                        \
    "        entries:\n"                                                                           \
    "          - {name: by_code, key: [status], values: {hits: count}}\n"                          \
    "    reports:\n"                                                                               \
    "      - {name: codes, entry: by_code}\n"
#include "fixture_merger.h"

/* ---- frames of either job ------------------------------------------------------ */

/* The frame of lines [l0, l1) of source s in round r for job name (the fixture's frame_for,
 * pointed at that job and an engine of it). */
static void frame_of_job(const char *name, int s, int l0, int l1, uint64_t r, buf_t *out)
{
    const rules_job_t *keep = job;
    engine_t *keep_eng = eng;
    job = rules_find_job(cfg, name);
    ck_assert_ptr_nonnull(job);
    if (job != keep)
        eng = engine_create(job, pool);
    frame_for("m1", s, l0, l1, r, 0, out);
    job = keep;
    eng = keep_eng;
}

/* Accept that frame; the result, and the reason in err. */
static merge_result_t send_job(merger_t *m, const char *name, int s, int l0, int l1, uint64_t r,
                               abbey_err_t *err)
{
    buf_t b;
    merge_result_t res;
    buf_init(&b);
    frame_of_job(name, s, l0, l1, r, &b);
    err->msg[0] = 0;
    res = merger_accept(m, b.data, b.len, NULL, err);
    buf_free(&b);
    return res;
}

static void expect_job(merger_t *m, const char *name, int s, int l0, int l1, merge_result_t want)
{
    abbey_err_t err;
    merge_result_t got = send_job(m, name, s, l0, l1, H0, &err);
    ck_assert_msg(got == want, "%s [%d, %d) of %d: %s, wanted %s (%s)", name, l0, l1, s,
                  merger_result_name(got), merger_result_name(want), err.msg);
}

/* ---- what the merger says ---------------------------------------------------------- */

/* The "memory" object of job name in the status (json_decref the status st). */
static json_t *job_memory(json_t *st, const char *name)
{
    json_t *jobs = json_object_get(st, "jobs"), *j;
    size_t i;
    json_array_foreach(jobs, i, j)
    {
        if (strcmp(json_string_value(json_object_get(j, "name")), name) == 0)
            return json_object_get(j, "memory");
    }
    ck_abort_msg("no job %s in the status", name);
    return NULL;
}

static uint64_t job_bytes(merger_t *m, const char *name)
{
    json_t *st = status(m);
    uint64_t n = (uint64_t)json_integer_value(json_object_get(job_memory(st, name), "bytes"));
    json_decref(st);
    return n;
}

static int over(merger_t *m, const char *name)
{
    json_t *st = status(m);
    int o = json_is_true(json_object_get(job_memory(st, name), "over_budget"));
    json_decref(st);
    return o;
}

static json_int_t refused(merger_t *m, const char *name)
{
    json_t *st = status(m);
    json_int_t n = json_integer_value(json_object_get(job_memory(st, name), "refused"));
    json_decref(st);
    return n;
}

static char *metrics(merger_t *m)
{
    buf_t b;
    buf_init(&b);
    merger_metrics(m, &b);
    buf_put_u8(&b, 0);
    return (char *)b.data;
}

static void assert_metric(const char *text, const char *line)
{
    ck_assert_msg(strstr(text, line) != NULL, "metrics lack \"%s\":\n%s", line, text);
}

/* Occurrences of needle in s. */
static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* ---- the job that holds the memory, and the others ------------------------------ */

START_TEST(holder_refused_others_served)
{
    merger_t *m = new_merger("m1");
    sel_t first[] = {{0, 0, 300}}, all[] = {{0, 0, 300}, {1, 0, 100}};
    uint64_t web, tiny, u, limit;
    abbey_err_t err;
    json_t *st, *mem;
    char *text, line[256], *log;

    expect_job(m, "web", 0, 0, 300, MERGE_MERGED);
    expect_job(m, "tiny", 0, 0, 100, MERGE_MERGED);
    web = job_bytes(m, "web");
    tiny = job_bytes(m, "tiny");
    ck_assert_uint_gt(web, tiny);
    ck_assert_uint_gt(tiny, 0);
    u = web + tiny;
    limit = u + u / 8 + 1; /* near(limit) <= u < limit: the holder is refused, tiny is not */
    ck_assert_uint_le(budget_near(limit), u);

    capture_begin();
    merger_set_budget(m, limit, 0);
    ck_assert_int_eq(over(m, "web"), 1);
    ck_assert_int_eq(over(m, "tiny"), 0);

    ck_assert_int_eq(send_job(m, "web", 1, 0, 100, H0, &err), MERGE_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "job 'web' is over master m1's memory budget") != NULL, "%s",
                  err.msg);
    snprintf(line, sizeof line, "--memory-limit %s", budget_text(limit, (char[32]){0}, 32));
    ck_assert_msg(strstr(err.msg, line) != NULL, "%s lacks %s", err.msg, line);
    ck_assert_int_eq(send_job(m, "web", 1, 0, 100, H0, &err), MERGE_UNAVAILABLE);
    expect_job(m, "web", 0, 0, 300, MERGE_DUPLICATE); /* what it has is still answered */
    expect_job(m, "web", 0, 100, 200, MERGE_DUPLICATE);
    expect_job(m, "tiny", 0, 100, 200, MERGE_MERGED); /* the other job goes on */
    ck_assert_int_eq(refused(m, "web"), 2);
    ck_assert_int_eq(refused(m, "tiny"), 0);
    ck_assert_int_eq(job_figure(st = status(m), "partials", "unavailable"), 2);
    mem = json_object_get(st, "memory");
    ck_assert_int_eq(json_integer_value(json_object_get(mem, "limit")), (json_int_t)limit);
    ck_assert_int_eq(json_integer_value(json_object_get(mem, "allowance")), 0);
    ck_assert_int_gt(json_integer_value(json_object_get(mem, "rss")), 1 << 20);
    ck_assert_int_gt(json_integer_value(json_object_get(job_memory(st, "web"), "since_ms")), 0);
    ck_assert(json_is_null(json_object_get(job_memory(st, "tiny"), "since_ms")));
    json_decref(st);
    assert_api(m, first, 1); /* reports are served, the refused frame is in none */

    text = metrics(m);
    snprintf(line, sizeof line, "abbey_memory_limit_bytes{master=\"m1\"} %llu\n",
             (unsigned long long)limit);
    assert_metric(text, line);
    assert_metric(text, "abbey_job_over_budget{master=\"m1\",job=\"web\"} 1\n");
    assert_metric(text, "abbey_job_over_budget{master=\"m1\",job=\"tiny\"} 0\n");
    assert_metric(text, "abbey_budget_refused_total{master=\"m1\",job=\"web\"} 2\n");
    assert_metric(text, "# HELP abbey_memory_rss_bytes ");
    assert_metric(text, "# TYPE abbey_budget_refused_total counter\n");
    free(text);

    /* at the limit itself every job is refused */
    merger_set_budget(m, job_bytes(m, "web") + job_bytes(m, "tiny"), 0);
    ck_assert_int_eq(over(m, "tiny"), 1);
    ck_assert_int_eq(send_job(m, "tiny", 1, 0, 100, H0, &err), MERGE_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "job 'tiny' is over") != NULL, "%s", err.msg);

    /* no budget: both take frames again, and nothing refused was counted */
    merger_set_budget(m, 0, 0);
    log = capture_end();
    ck_assert_int_eq(over(m, "web") + over(m, "tiny"), 0);
    expect_job(m, "web", 1, 0, 100, MERGE_MERGED);
    expect_job(m, "tiny", 1, 0, 100, MERGE_MERGED);
    assert_api(m, all, 2);
    ck_assert_int_eq(count_of(log, "MEMORY BUDGET: job web: its new frames are refused"), 1);
    ck_assert_int_eq(count_of(log, "MEMORY BUDGET: job tiny: its new frames are refused"), 1);
    ck_assert_int_eq(count_of(log, "memory budget: job web takes frames again"), 1);
    ck_assert_int_eq(count_of(log, "memory budget: job tiny takes frames again"), 1);
    ck_assert_msg(strstr(log, "most in entry 'by_") != NULL, "the log names an entry:\n%s", log);
    free(log);
    text = metrics(m);
    ck_assert_ptr_null(strstr(text, "abbey_memory_limit_bytes"));
    free(text);
}
END_TEST

START_TEST(http_503)
{
    merger_t *m = new_merger("m1");
    httpd_t *h = httpd_create("sekrit", pool);
    sel_t first[] = {{0, 0, 300}};
    abbey_err_t err;
    http_ans_t a;
    buf_t f;
    json_t *o;
    char *want;

    merger_register(m, h);
    ck_assert_msg(httpd_start(h, "127.0.0.1", 0, 2, &err) == APR_SUCCESS, "%s", err.msg);
    buf_init(&a.body);
    expect_job(m, "web", 0, 0, 300, MERGE_MERGED);
    merger_set_budget(m, 1, 0);
    buf_init(&f);
    frame_of_job("web", 1, 0, 100, H0, &f);
    http(httpd_port(h), "POST", "/v1/partials", f.data, f.len, &a);
    ck_assert_int_eq(a.status, 503);
    o = json_loads((char *)a.body.data, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_msg(strstr(json_string_value(json_object_get(o, "error")), "memory budget") != NULL,
                  "%s", (char *)a.body.data);
    json_decref(o);
    want = oracle_api_csv(first, 1);
    http(httpd_port(h), "GET", "/v1/reports/web/api", NULL, 0, &a);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq((char *)a.body.data, want);
    free(want);
    httpd_stop(h);
    buf_free(&a.body);
    buf_free(&f);
}
END_TEST

/* ---- recovery ------------------------------------------------------------------- */

START_TEST(recovery_marks_over_budget)
{
    life_t l;
    abbey_err_t err;
    char *before, *after;
    uint64_t held;
    sel_t next_hour[] = {{FR[6].s, FR[6].l0, FR[6].l1}};

    start(&l); /* no budget: it takes everything */
    for (int i = 0; i < 6; i++)
        expect_send(l.m, &FR[i], MERGE_MERGED);
    held = job_bytes(l.m, "web");
    before = report(l.m, "api", NULL);
    crash(&l);

    /* half the memory the journal needs: replayed whole all the same */
    start_limit(&l, cfg, held / 2);
    assert_log(&l, "6 merged, 0 duplicate, 0 refused");
    assert_log(&l, "MEMORY BUDGET: job web: its new frames are refused");
    ck_assert_int_eq(over(l.m, "web"), 1);
    after = report(l.m, "api", NULL);
    assert_same(after, before, "api after recovery");
    free(after);
    ck_assert_int_eq(send_fr(l.m, &FR[6], &err), MERGE_UNAVAILABLE);
    ck_assert_msg(strstr(err.msg, "memory budget") != NULL, "%s", err.msg);
    expect_send(l.m, &FR[0], MERGE_DUPLICATE);
    crash(&l);

    /* the limit raised: the frame the spool kept is taken */
    start_limit(&l, cfg, held * 4);
    ck_assert_int_eq(over(l.m, "web"), 0);
    expect_send(l.m, &FR[6], MERGE_MERGED);
    assert_api(l.m, next_hour, 1); /* FR[6] starts the next hour's period */
    crash(&l);
    free(before);
}
END_TEST

/* ---- gap repair --------------------------------------------------------------- */

static void on_gap(void *ctx, const merger_gap_t *g)
{
    (void)g;
    (*(int *)ctx)++;
}

START_TEST(no_repair_while_over)
{
    merger_t *m = new_merger("m1");
    merger_range_t ranges[2] = {range_of(0, 0, 100), range_of(1, 0, 80)};
    int64_t deadline = (int64_t)(H0 + 2) * ROUND_MS, now = deadline + 120000;
    int n = 0;

    expect_job(m, "web", 0, 0, 100, MERGE_MERGED);
    close_round(m, H0, deadline, ranges, 2);
    ck_assert_int_eq(merger_gaps(m, now, 60000, 10, on_gap, &n), 1);
    merger_set_budget(m, 1, 0);
    n = 0;
    ck_assert_int_eq(merger_gaps(m, now, 60000, 10, on_gap, &n), 0);
    merger_set_budget(m, 0, 0);
    ck_assert_int_eq(merger_gaps(m, now, 60000, 10, on_gap, &n), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("merger_budget");
    TCase *tc = tcase_create("budget");
    tcase_add_checked_fixture(tc, persist_setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, holder_refused_others_served);
    tcase_add_test(tc, http_503);
    tcase_add_test(tc, recovery_marks_over_budget);
    tcase_add_test(tc, no_repair_while_over);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = check_run(suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? 1 : 0;
}
