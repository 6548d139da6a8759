/* check_top_reports.c - what shows a top entry's rows: its reports (CSV, JSON: the K rows of
 * largest ranked value, then the `<by>_error` column), their metrics (`metrics: true`: the
 * error column a gauge of its own; export_prom), and the dashboard's description of them
 * (master/dashboard.c). The oracle is lines small enough to follow by hand: each summary's
 * rows, values and errors after them are worked out in the comments. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "check_run.h"
#include "dashboard.h"
#include "engine.h"
#include "export.h"
#include "fixture_rules.h"
#include "fixture_top.h"
#include "partial.h"

/* hits keeps 4 rows: /a 3, /b 2, /c 1, /d 1; then /e takes a row of 1 (error 1).
 * vol keeps 2: 200 and 404 (3 bytes each), then 500 (5) takes 404's row (3 + 5,
 * error 3); 200 ends with 1 + 2 + 4 + 6 + 7 + 8 = 28 bytes over 6 lines. */
static const char LINES[] = "/a 200 1\n/b 200 2\n/a 404 3\n/c 200 4\n/b 500 5\n/a 200 6\n"
                            "/d 200 7\n/e 200 8\n";

static const rules_report_t *report(const rules_job_t *job, const char *name)
{
    for (int i = 0; i < job->nreports; i++)
        if (strcmp(job->reports[i].name, name) == 0)
            return &job->reports[i];
    ck_abort_msg("no report %s", name);
    return NULL;
}

static partial_t *fed(const rules_job_t *job)
{
    partial_t *p = partial_create(job, pool);
    ck_assert_int_eq(
        engine_feed(engine_create(job, pool), LINES, sizeof LINES - 1, 0, p, NULL, NULL),
        APR_SUCCESS);
    return p;
}

/* Report name of job over p, as its writer renders it (NUL-terminated in b). */
static const char *render(const rules_job_t *job, const partial_t *p, const char *name, buf_t *b)
{
    const rules_report_t *r = report(job, name);
    buf_reset(b);
    export_render(job, r, p->tables[r->entry->index], b, pool);
    buf_put_u8(b, 0);
    return (const char *)b->data;
}

START_TEST(test_reports)
{
    const rules_job_t *j = &load_ok(TOP_RULES)->jobs[0];
    partial_t *p = fed(j);
    buf_t b;

    buf_init(&b);
    /* the top 2 by hits: /a 3, then /b and /e with 2 (ties by key) */
    ck_assert_str_eq(render(j, p, "hits", &b), "path,hits,bytes,hits_error\r\n"
                                               "/a,3,10,0\r\n"
                                               "/b,2,7,0\r\n");
    ck_assert_str_eq(render(j, p, "hits_json", &b),
                     "{\"job\":\"j\",\"report\":\"hits_json\",\"entry\":\"hits\","
                     "\"scope\":\"period\",\"columns\":[\"path\",\"hits\",\"hits_error\"],"
                     "\"rows\":[\n{\"path\":\"/a\",\"hits\":3,\"hits_error\":0},\n"
                     "{\"path\":\"/b\",\"hits\":2,\"hits_error\":0}]}\n");
    ck_assert_str_eq(render(j, p, "vol", &b), "status,bytes,n,bytes_error\r\n"
                                              "200,28,6,0\r\n");
    buf_free(&b);
}
END_TEST

START_TEST(test_metrics)
{
    static const char want[] =
        "# HELP abbey_report_j_hits_hits_total abbey report j/hits (period scope): column hits "
        "= count\n"
        "# TYPE abbey_report_j_hits_hits_total counter\n"
        "abbey_report_j_hits_hits_total{path=\"/a\"} 3\n"
        "abbey_report_j_hits_hits_total{path=\"/b\"} 2\n"
        "# HELP abbey_report_j_hits_bytes_total abbey report j/hits (period scope): column bytes "
        "= sum(bytes)\n"
        "# TYPE abbey_report_j_hits_bytes_total counter\n"
        "abbey_report_j_hits_bytes_total{path=\"/a\"} 10\n"
        "abbey_report_j_hits_bytes_total{path=\"/b\"} 7\n"
        "# HELP abbey_report_j_hits_hits_error abbey report j/hits (period scope): column "
        "hits_error = the error bound of hits (top)\n"
        "# TYPE abbey_report_j_hits_hits_error gauge\n"
        "abbey_report_j_hits_hits_error{path=\"/a\"} 0\n"
        "abbey_report_j_hits_hits_error{path=\"/b\"} 0\n";
    const rules_job_t *j = &load_ok(TOP_RULES)->jobs[0];
    const rules_report_t *r = report(j, "hits");
    partial_t *p = fed(j);
    buf_t b;

    ck_assert_ptr_nonnull(r->prom);
    ck_assert_int_eq(r->prom->nfamilies, 3);
    buf_init(&b);
    export_prom(r, export_rows(r, p->tables[r->entry->index], pool), &b, pool);
    ck_assert_msg(b.len == sizeof want - 1 && memcmp(b.data, want, b.len) == 0, "%.*s", (int)b.len,
                  (const char *)b.data);
    buf_free(&b);
}
END_TEST

/* The error column's metric is named like any column's, so it can meet another's. */
START_TEST(test_metric_names_meet)
{
    expect_error("jobs:\n"
                 "  - name: j\n"
                 "    sources: [/dev/null]\n"
                 "    format: {split: \" \", fields: [path, bytes:int]}\n"
                 "    groups:\n"
                 "      - name: g\n"
                 "        entries:\n"
                 "          - name: e\n"
                 "            key: [path]\n"
                 "            values: {hits: count, hits.error: max(bytes)}\n"
                 "            top: {k: 2, by: hits}\n"
                 "    reports:\n"
                 "      - {name: r, entry: e, metrics: true}\n",
                 "bad.yaml:13:", "column 'hits_error'", "abbey_report_j_r_hits_error",
                 "column 'hits.error'", NULL);
}
END_TEST

static json_t *report_json(json_t *d, const char *name)
{
    json_t *reps = json_object_get(json_array_get(json_object_get(d, "jobs"), 0), "reports");
    for (size_t i = 0; i < json_array_size(reps); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(reps, i), "name")), name) == 0)
            return json_array_get(reps, i);
    ck_abort_msg("no report %s", name);
    return NULL;
}

START_TEST(test_dashboard)
{
    rules_config_t *c = load_ok(TOP_RULES);
    json_t *d = dashboard_describe(c, NULL, "standalone", NULL), *r, *cols, *err;

    r = report_json(d, "hits");
    ck_assert_str_eq(json_string_value(json_object_get(r, "view")), "top");
    ck_assert_str_eq(json_string_value(json_object_get(r, "order")), "hits");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "limit")), 2);
    cols = json_object_get(r, "columns");
    ck_assert_int_eq(json_array_size(cols), 4);
    err = json_array_get(cols, 3);
    ck_assert_str_eq(json_string_value(json_object_get(err, "name")), "hits_error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "agg")), "error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "of")), "hits");
    ck_assert(json_is_false(json_object_get(err, "key")));
    json_decref(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("top_reports");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_reports);
    tcase_add_test(tc, test_metrics);
    tcase_add_test(tc, test_metric_names_meet);
    tcase_add_test(tc, test_dashboard);
    suite_add_tcase(s, tc);
    return check_run(s) ? 1 : 0;
}
