/* check_dashboard.c - unit tests for the dashboard's server side: the views and
 * ownership dashboard_describe gives each report (master/dashboard.c), where the
 * figures come from and whether a round was exported incomplete
 * (master/merger_dash.c), the session cookie (master/httpd_session.c) and the
 * one-file page's inline data and policy (master/web_page.c). The merger, its
 * config and frames are tests/fixture_merger.h's. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "check_run.h"
#include "dashboard.h"
#include "httpd_session.h"
#include "merger.h"
#include "rules.h"
#include "web_page.h"

#define FIXTURE_SUITE "check_dashboard"
#define FIXTURE_MERGER_RECOUNT
#include "fixture_merger.h"

static const char *VIEWS =
    "masters:\n"
    "  - {name: m1, url: \"http://127.0.0.1:1\"}\n"
    "  - {name: m2, url: \"http://127.0.0.1:2\"}\n"
    "jobs:\n"
    "  - name: web\n"
    "    timezone: \"+05:30\"\n"
    "    sources: [/dev/null]\n"
    "    format: combined\n"
    "    groups:\n"
    "      - name: a\n"
    "        entries:\n"
    "          - {name: totals, values: {hits: count, p95: percentile(bytes, "
    "95)}}\n"
    "          - {name: per_min, key: [time_bucket(time, 1m)], values: "
    "{hits: count}}\n"
    "      - name: b\n"
    "        entries:\n"
    "          - {name: pages, key: [path, status], values: {hits: count}}\n"
    "    reports:\n"
    "      - {name: totals, entry: totals}\n"
    "      - {name: per_min, entry: per_min, scope: round}\n"
    "      - {name: top, entry: pages, order: hits desc, limit: 5, "
    "columns: [path, hits]}\n"
    "      - {name: pages, entry: pages, order: hits desc}\n";

static json_t *report_of(json_t *d, const char *name)
{
    json_t *reps = json_object_get(json_array_get(json_object_get(d, "jobs"), 0), "reports");
    for (size_t i = 0; i < json_array_size(reps); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(reps, i), "name")), name) == 0)
            return json_array_get(reps, i);
    return NULL;
}

static const char *str_of(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "(none)";
}

START_TEST(describe_views)
{
    rules_config_t *vc;
    abbey_err_t err;
    json_t *d, *r, *job;
    const char *owner_a;

    ck_assert_int_eq(rules_load_buffer(VIEWS, strlen(VIEWS), "views.yaml", pool, &vc, &err),
                     APR_SUCCESS);
    owner_a = vc->masters[vc->jobs[0].groups[0].master].name;
    d = dashboard_describe(vc, "m1", "primary", NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(str_of(d, "role"), "primary");
    job = json_array_get(json_object_get(d, "jobs"), 0);
    ck_assert_str_eq(str_of(job, "timezone"), "+05:30");
    ck_assert_int_eq(json_integer_value(json_object_get(job, "tz_offset_s")), 19800);
    ck_assert(json_is_null(json_object_get(job, "fresh")));
    r = report_of(d, "totals");
    ck_assert_str_eq(str_of(r, "view"), "totals");
    ck_assert_str_eq(str_of(r, "owner"), owner_a);
    ck_assert(json_is_true(json_object_get(r, "owned")) == (strcmp(owner_a, "m1") == 0));
    ck_assert_str_eq(str_of(json_array_get(json_object_get(r, "columns"), 1), "agg"), "percentile");
    r = report_of(d, "per_min");
    ck_assert_str_eq(str_of(r, "view"), "timeseries");
    ck_assert_str_eq(str_of(r, "scope"), "round");
    ck_assert_str_eq(str_of(json_array_get(json_object_get(r, "columns"), 0), "type"), "time");
    r = report_of(d, "top");
    ck_assert_str_eq(str_of(r, "view"), "top");
    ck_assert_str_eq(str_of(r, "order"), "hits");
    ck_assert_int_eq(json_array_size(json_object_get(r, "columns")), 2); /* columns: shown only */
    ck_assert(
        json_is_true(json_object_get(json_array_get(json_object_get(r, "columns"), 0), "key")));
    r = report_of(d, "pages"); /* an order without a limit: a table */
    ck_assert_str_eq(str_of(r, "view"), "table");
    json_decref(d);
    d = dashboard_describe(vc, NULL, "standalone", NULL); /* standalone owns everything */
    ck_assert(json_is_true(json_object_get(report_of(d, "top"), "owned")));
    ck_assert(json_is_true(json_object_get(report_of(d, "totals"), "owned")));
    json_decref(d);
}
END_TEST

/* round.incomplete, period.rounds_incomplete of job web. */
static void fresh(merger_t *m, uint64_t *round, int *incomplete, json_int_t *period_incomplete)
{
    json_t *f = merger_freshness_json(m, "web");
    json_t *r = json_object_get(f, "round");
    *round = (uint64_t)json_integer_value(json_object_get(r, "round"));
    *incomplete = json_is_true(json_object_get(r, "incomplete"));
    *period_incomplete =
        json_integer_value(json_object_get(json_object_get(f, "period"), "rounds_incomplete"));
    json_decref(f);
}

START_TEST(freshness_incomplete_then_amended)
{
    merger_t *m = new_merger("m1");
    const uint64_t R = H0 + 5;
    const int64_t dl = (int64_t)(R + 1) * ROUND_MS + 2 * ROUND_MS;
    sel_t both[] = {{0, 0, 100}, {1, 0, 80}};
    json_t *f = merger_freshness_json(m, "web");
    json_int_t pinc;
    uint64_t r;
    int inc;

    ck_assert(json_is_null(json_object_get(f, "round"))); /* nothing exported yet */
    json_decref(f);
    ck_assert(json_is_null(merger_freshness_json(m, "nope")));
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, R), MERGE_MERGED); /* source 1's range is late */
    round_closed(m, R, both, 2, dl);
    ck_assert_int_eq(merger_tick(m, dl), 1);
    fresh(m, &r, &inc, &pinc);
    ck_assert_uint_eq(r, R);
    ck_assert_msg(inc && pinc == 1,
                  "exported at its deadline without a range: incomplete (%d, %lld)", inc,
                  (long long)pinc);
    ck_assert_int_eq(deliver(m, "m1", 1, 0, 80, R), MERGE_MERGED);
    ck_assert_int_eq(merger_tick(m, dl + 1), 1);
    fresh(m, &r, &inc, &pinc);
    ck_assert_msg(!inc && pinc == 0, "amended: complete (%d, %lld)", inc, (long long)pinc);
    f = merger_freshness_json(m, "web");
    ck_assert_int_eq(json_integer_value(json_object_get(f, "rounds_incomplete")), 1); /* ever */
    json_decref(f);
}
END_TEST

START_TEST(session_cookie)
{
    char v[HTTPD_SESSION_LEN], hdr[512], set[256];
    const int64_t now = 1760000000;

    ck_assert_int_eq(httpd_session_make("sekrit", now, v), 0);
    ck_assert_ptr_null(strstr(v, "sekrit"));
    snprintf(hdr, sizeof hdr, "a=1; %s=%s; b=2", HTTPD_SESSION_COOKIE, v);
    ck_assert(httpd_session_check(hdr, "sekrit", now));
    ck_assert(httpd_session_check(hdr, "sekrit", now + HTTPD_SESSION_MAX_AGE_S));
    ck_assert(!httpd_session_check(hdr, "sekrit", now + HTTPD_SESSION_MAX_AGE_S + 1)); /* expired */
    ck_assert(!httpd_session_check(hdr, "other", now)); /* another token */
    ck_assert(!httpd_session_check(NULL, "sekrit", now));
    ck_assert(!httpd_session_check("abbey_session=", "sekrit", now));
    ck_assert(!httpd_session_check("abbey_session=v1.x", "sekrit", now));
    snprintf(hdr, sizeof hdr, "x%s=%s", HTTPD_SESSION_COOKIE, v); /* another cookie's name */
    ck_assert(!httpd_session_check(hdr, "sekrit", now));
    for (size_t i = 3; v[i]; i++) { /* any byte changed: refused */
        char t[HTTPD_SESSION_LEN];
        memcpy(t, v, sizeof t);
        t[i] = t[i] == '1' ? '2' : '1';
        snprintf(hdr, sizeof hdr, "%s=%s", HTTPD_SESSION_COOKIE, t);
        ck_assert_msg(!httpd_session_check(hdr, "sekrit", now), "byte %zu changed: %s", i, t);
    }
    httpd_session_set_cookie(v, set, sizeof set);
    ck_assert_ptr_nonnull(strstr(set, "; HttpOnly; SameSite=Strict"));
    httpd_session_set_cookie(NULL, set, sizeof set);
    ck_assert_ptr_nonnull(strstr(set, "Max-Age=0"));
}
END_TEST

START_TEST(one_file_page)
{
    static const char data[] = "{\"k\":\"</script><img src=x onerror=alert(1)>\"}";
    buf_t b;
    char *page;

    buf_init(&b);
    web_page(&b, data, strlen(data));
    buf_put_u8(&b, 0);
    page = (char *)b.data;
    ck_assert_ptr_null(strstr(page, "<img"));
    ck_assert_ptr_nonnull(strstr(page, "\\u003c/script>\\u003cimg src=x"));
    ck_assert_ptr_nonnull(strstr(page, web_asset("app.js")->csp));
    ck_assert_ptr_null(strstr(page, "unsafe-inline"));
    ck_assert_ptr_null(strstr(page, "src=\"/ui/")); /* nothing to fetch */
    buf_reset(&b);
    web_page(&b, NULL, 0); /* served: the assets by URL, no data */
    buf_put_u8(&b, 0);
    ck_assert_ptr_nonnull(strstr((char *)b.data, "<script src=\"/ui/app.js?v="));
    ck_assert_ptr_null(strstr((char *)b.data, "abbey-data"));
    buf_free(&b);
}
END_TEST

static Suite *dashboard_suite(void)
{
    Suite *s = suite_create("dashboard");
    TCase *tc = tcase_create("dashboard");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, describe_views);
    tcase_add_test(tc, freshness_incomplete_then_amended);
    tcase_add_test(tc, session_cookie);
    tcase_add_test(tc, one_file_page);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = check_run(dashboard_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
