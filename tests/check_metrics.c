/* check_metrics.c - unit tests for reports as Prometheus metrics: the names the rules
 * loader gives (rules/rules_metrics.c: sanitised parts, counters, gauges, summaries,
 * suffixes and labels Prometheus keeps for itself, collisions refused with both names),
 * the `history:` key (rules/rules_history.c), and export_prom's text for keys from
 * hostile log lines (quotes, backslashes, newlines, NUL, bytes that are not UTF-8, keys
 * that show alike). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "engine.h"
#include "fixture_rules.h"
#include "export.h"
#include "rules.h"

static const rules_report_t *report(const rules_config_t *c, int job, const char *name)
{
    for (int i = 0; i < c->jobs[job].nreports; i++)
        if (strcmp(c->jobs[job].reports[i].name, name) == 0)
            return &c->jobs[job].reports[i];
    ck_abort_msg("no report %s", name);
    return NULL;
}

/* Family i of r: its name, type and (for a summary) its quantiles, "0.5,0.999". */
static void expect_family(const rules_report_t *r, int i, const char *name, rules_prom_type_t type,
                          const char *quantiles)
{
    const rules_prom_family_t *f;
    char q[128] = "";
    ck_assert_ptr_nonnull(r->prom);
    ck_assert_int_lt(i, r->prom->nfamilies);
    f = &r->prom->families[i];
    ck_assert_str_eq(f->name, name);
    ck_assert_int_eq(f->type, type);
    for (int k = 0; type == RULES_PROM_SUMMARY && k < f->ncols; k++)
        snprintf(q + strlen(q), sizeof q - strlen(q), "%s%s", k ? "," : "", f->quantiles[k]);
    if (quantiles)
        ck_assert_str_eq(q, quantiles);
}

#define NAMES_RULES                                                                                \
    "jobs:\n"                                                                                      \
    "  - name: web-1\n"                                                                            \
    "    sources: [/dev/null]\n"                                                                   \
    "    format: {split: \"|\", fields: [api, ms:int, le, quantile]}\n"                            \
    "    groups:\n"                                                                                \
    "      - name: g\n"                                                                            \
    "        entries:\n"                                                                           \
    "          - name: by_api\n"                                                                   \
    "            key: [api, {le: le}, {quantile: quantile}, {1m: api}, {userAgent: api}]\n"        \
    "            values: {n: count, msTotal: sum(ms), p50: percentile(ms, 50),\n"                  \
    "                     req_count: avg(ms), p999: percentile(ms, 99.9), top: max(ms)}\n"         \
    "    reports:\n"                                                                               \
    "      - {name: topPages, entry: by_api, metrics: true}\n"                                     \
    "      - {name: per.round, entry: by_api, scope: round, metrics: true}\n"                      \
    "      - {name: shown, entry: by_api, columns: [api, top, p50], metrics: true}\n"              \
    "      - {name: quiet, entry: by_api}\n"                                                       \
    "  - name: daily\n"                                                                            \
    "    reset: day\n"                                                                             \
    "    sources: [/dev/null]\n"                                                                   \
    "    format: {split: \"|\", fields: [bytes:int]}\n"                                            \
    "    groups:\n"                                                                                \
    "      - name: g\n"                                                                            \
    "        entries:\n"                                                                           \
    "          - name: totals\n"                                                                   \
    "            values: {hits: count, bytes: sum(bytes), p95: percentile(bytes, 95)}\n"           \
    "    reports:\n"                                                                               \
    "      - {name: totals, entry: totals, metrics: true}\n"

/* Parts lower-cased, camelCase split, other characters '_'; count and sum of a
 * reset: never period report are counters (_total once), the rest gauges;
 * percentiles of one argument one summary; reserved suffixes get _value;
 * labels that would start with a digit or be le/quantile get key_. */
START_TEST(test_names)
{
    rules_config_t *c = load_ok(NAMES_RULES);
    const rules_report_t *r = report(c, 0, "topPages");
    const char *labels[] = {"api", "key_le", "key_quantile", "key_1m", "user_agent"};
    for (int k = 0; k < 5; k++)
        ck_assert_str_eq(r->prom->labels[k], labels[k]);
    ck_assert_int_eq(r->prom->nfamilies, 5);
    expect_family(r, 0, "abbey_report_web_1_top_pages_n_total", RULES_PROM_COUNTER, NULL);
    expect_family(r, 1, "abbey_report_web_1_top_pages_ms_total", RULES_PROM_COUNTER, NULL);
    expect_family(r, 2, "abbey_report_web_1_top_pages_ms", RULES_PROM_SUMMARY, "0.5,0.999");
    expect_family(r, 3, "abbey_report_web_1_top_pages_req_count_value", RULES_PROM_GAUGE, NULL);
    expect_family(r, 4, "abbey_report_web_1_top_pages_top", RULES_PROM_GAUGE, NULL);
    ck_assert_ptr_nonnull(strstr(r->prom->families[1].help, "msTotal = sum(ms)"));
    ck_assert_ptr_nonnull(
        strstr(r->prom->families[2].help, "percentiles of ms; columns p50, p999"));

    r = report(c, 0, "per.round"); /* round scope: every figure a gauge */
    expect_family(r, 0, "abbey_report_web_1_per_round_n", RULES_PROM_GAUGE, NULL);
    expect_family(r, 1, "abbey_report_web_1_per_round_ms_total_value", RULES_PROM_GAUGE, NULL);
    r = report(c, 0, "shown"); /* the shown value columns only; every key stays a label */
    ck_assert_int_eq(r->prom->nfamilies, 2);
    expect_family(r, 0, "abbey_report_web_1_shown_top", RULES_PROM_GAUGE, NULL);
    expect_family(r, 1, "abbey_report_web_1_shown_ms", RULES_PROM_SUMMARY, "0.5");
    ck_assert_str_eq(r->prom->labels[4], "user_agent");
    ck_assert_ptr_null(report(c, 0, "quiet")->prom);

    r = report(c, 1, "totals"); /* reset: day: gauges; a column named like the argument */
    expect_family(r, 0, "abbey_report_daily_totals_hits", RULES_PROM_GAUGE, NULL);
    expect_family(r, 1, "abbey_report_daily_totals_bytes", RULES_PROM_GAUGE, NULL);
    expect_family(r, 2, "abbey_report_daily_totals_bytes_quantiles", RULES_PROM_SUMMARY, "0.95");
}
END_TEST

#define JOBM(name, report, extra, metrics)                                                         \
    "  - name: " name "\n"                                                                         \
    "    sources: [/dev/null]\n"                                                                   \
    "    format: {split: \"|\", fields: [api, ms:int]}\n"                                          \
    "    groups:\n"                                                                                \
    "      - name: g\n"                                                                            \
    "        entries:\n"                                                                           \
    "          - name: e\n"                                                                        \
    "            key: [api" extra "]\n"                                                            \
    "            values: {n: count, p1: percentile(ms, 50), p2: percentile(ms, 50.0)}\n"           \
    "    reports:\n"                                                                               \
    "      - {name: " report ", entry: e, columns: [api, n], metrics: " metrics "}\n"
#define JOB(name, report, extra) JOBM(name, report, extra, "true")

/* Names that would meet are refused at the report, naming both. */
START_TEST(test_collisions)
{
    expect_error("jobs:\n" JOB("a_b", "c", "") JOB("a", "b_c", ""), "bad.yaml:23:", "'b_c'",
                 "abbey_report_a_b_c_n_total",
                 "column 'n' of report 'c' of job 'a_b' (at 12:", "rename one", NULL);
    expect_error("jobs:\n" JOB("x", "r", ", {a.b: api}, {a_b: api}"),
                 "bad.yaml:12:", "key columns 'a.b' and 'a_b'", "label a_b", NULL);
    /* the same quantile twice in one summary */
    expect_error("jobs:\n" JOB("x", "r", "") "      - {name: s, entry: e, metrics: true}\n",
                 "bad.yaml:13:", "columns 'p1' and 'p2' are the same quantile (0.5)", NULL);
    expect_error("jobs:\n" JOB("x", "r", "") "      - {name: s, entry: e, metrics: yes}\n",
                 "bad.yaml:13:", "metrics", "true", NULL);
    /* the same names without metrics: true are no problem */
    load_ok("jobs:\n" JOB("a_b", "c", "") JOBM("a", "b_c", "", "false"));
}
END_TEST

#define HIST(h)                                                                                    \
    "jobs:\n"                                                                                      \
    "  - name: w\n"                                                                                \
    "    sources: [/dev/null]\n"                                                                   \
    "    format: combined\n" h "    groups:\n"                                                     \
    "      - name: g\n"                                                                            \
    "        entries:\n"                                                                           \
    "          - {name: e, values: {n: count}}\n"

START_TEST(test_history_key)
{
    ck_assert_int_eq(load_ok(HIST(""))->jobs[0].history_keep_ms, 0);
    ck_assert_int_eq(load_ok(HIST("    history: {keep: 12h}\n"))->jobs[0].history_keep_ms,
                     12LL * 3600 * 1000);
    expect_error(HIST("    history: 30d\n"), "bad.yaml:5:14:", "expected a map", NULL);
    expect_error(HIST("    history: {keep: 0s}\n"), "bad.yaml:5:21:", "from 1s to 36500d", NULL);
    expect_error(HIST("    history: {keep: 30}\n"), "bad.yaml:5:21:", "duration", NULL);
    expect_error(HIST("    history: {keep: 36501d}\n"), "bad.yaml:5:21:", "36500d", NULL);
    expect_error(HIST("    history: {keep: 1d, size: 3}\n"), "bad.yaml:5:", "unknown key 'size'",
                 NULL);
    expect_error(HIST("    history: {}\n"), "bad.yaml:5:14:", "keep", NULL);
}
END_TEST

/* ---- export_prom over hostile keys ---- */

static const char *PROM_RULES = "jobs:\n"
                                "  - name: j\n"
                                "    sources: [/dev/null]\n"
                                "    format: json\n"
                                "    groups:\n"
                                "      - name: g\n"
                                "        entries:\n"
                                "          - name: by_api\n"
                                "            key: [api]\n"
                                "            values: {n: count, p: percentile(ms, 50), "
                                "hi: max(ms)}\n"
                                "          - {name: all, values: {n: count}}\n"
                                "    reports:\n"
                                "      - {name: r, entry: by_api, metrics: true}\n"
                                "      - {name: top, entry: by_api, order: n desc, limit: 2, "
                                "metrics: true}\n"
                                "      - {name: all, entry: all, metrics: true}\n";

static const char PROM_LINES[] = "{\"api\":\"/ok\",\"ms\":1}\n"
                                 "{\"api\":\"/a\xff\",\"ms\":2}\n" /* not UTF-8 */
                                 "{\"api\":\"/a\xfe\",\"ms\":3}\n" /* shows as the same */
                                 "{\"api\":\"/a\xfe\",\"ms\":4}\n"
                                 "{\"api\":\"/q\\\"x\",\"ms\":5}\n"
                                 "{\"api\":\"/b\\\\s\",\"ms\":6}\n"
                                 "{\"api\":\"/n\\nl\",\"ms\":7}\n"
                                 "{\"api\":\"/z\\u0000z\\t\\r\",\"ms\":8}\n"
                                 "{\"ms\":9}\n"                   /* no api: "" */
                                 "{\"api\":200}\n"                /* no ms: no p, no hi */
                                 "{\"api\":\"200\",\"ms\":10}\n"; /* shows as 200 */

#define FFFD "\xef\xbf\xbd"

static void expect_prom(const char *name, const char *want, size_t wlen)
{
    rules_config_t *c = load_ok(PROM_RULES);
    const rules_job_t *job = &c->jobs[0];
    const rules_report_t *r = report(c, 0, name);
    partial_t *part = partial_create(job, pool);
    engine_t *e = engine_create(job, pool);
    buf_t b;
    ck_assert_int_eq(engine_feed(e, PROM_LINES, sizeof PROM_LINES - 1, 0, part, NULL, NULL),
                     APR_SUCCESS);
    ck_assert_uint_eq(part->bad_lines, 0);
    buf_init(&b);
    export_prom(r, export_rows(r, part->tables[r->entry->index], pool), &b, pool);
    ck_assert_msg(b.len == wlen && memcmp(b.data, want, wlen) == 0, "%s:\n%.*s\nwanted:\n%.*s",
                  name, (int)b.len, (const char *)b.data, (int)wlen, want);
    buf_free(&b);
}

/* Rows in the report's order (null first, numbers, then text by bytes); label
 * values escaped (\\, \", \n), other bytes kept, ill-formed UTF-8 as U+FFFD;
 * of two rows that show alike only the first is a series; missing figures
 * have no sample. */
START_TEST(test_prom_hostile)
{
    static const char want[] =
        "# HELP abbey_report_j_r_n_total abbey report j/r (period scope): column n = count\n"
        "# TYPE abbey_report_j_r_n_total counter\n"
        "abbey_report_j_r_n_total{api=\"\"} 1\n"
        "abbey_report_j_r_n_total{api=\"200\"} 1\n"
        "abbey_report_j_r_n_total{api=\"/a" FFFD "\"} 2\n"
        "abbey_report_j_r_n_total{api=\"/b\\\\s\"} 1\n"
        "abbey_report_j_r_n_total{api=\"/n\\nl\"} 1\n"
        "abbey_report_j_r_n_total{api=\"/ok\"} 1\n"
        "abbey_report_j_r_n_total{api=\"/q\\\"x\"} 1\n"
        "abbey_report_j_r_n_total{api=\"/z\0z\t\r\"} 1\n"
        "# HELP abbey_report_j_r_ms abbey report j/r (period scope): percentiles of ms; "
        "columns p\n"
        "# TYPE abbey_report_j_r_ms summary\n"
        "abbey_report_j_r_ms{api=\"\",quantile=\"0.5\"} 9\n"
        "abbey_report_j_r_ms{api=\"/a" FFFD "\",quantile=\"0.5\"} 3\n"
        "abbey_report_j_r_ms{api=\"/b\\\\s\",quantile=\"0.5\"} 6\n"
        "abbey_report_j_r_ms{api=\"/n\\nl\",quantile=\"0.5\"} 7\n"
        "abbey_report_j_r_ms{api=\"/ok\",quantile=\"0.5\"} 1\n"
        "abbey_report_j_r_ms{api=\"/q\\\"x\",quantile=\"0.5\"} 5\n"
        "abbey_report_j_r_ms{api=\"/z\0z\t\r\",quantile=\"0.5\"} 8\n"
        "# HELP abbey_report_j_r_hi abbey report j/r (period scope): column hi = max(ms)\n"
        "# TYPE abbey_report_j_r_hi gauge\n"
        "abbey_report_j_r_hi{api=\"\"} 9\n"
        "abbey_report_j_r_hi{api=\"/a" FFFD "\"} 4\n"
        "abbey_report_j_r_hi{api=\"/b\\\\s\"} 6\n"
        "abbey_report_j_r_hi{api=\"/n\\nl\"} 7\n"
        "abbey_report_j_r_hi{api=\"/ok\"} 1\n"
        "abbey_report_j_r_hi{api=\"/q\\\"x\"} 5\n"
        "abbey_report_j_r_hi{api=\"/z\0z\t\r\"} 8\n";
    expect_prom("r", want, sizeof want - 1);
}
END_TEST

/* order + limit bound the series; a report without keys has no braces. */
START_TEST(test_prom_limit_no_keys)
{
    static const char top[] =
        "# HELP abbey_report_j_top_n_total abbey report j/top (period scope): column n = count\n"
        "# TYPE abbey_report_j_top_n_total counter\n"
        "abbey_report_j_top_n_total{api=\"/a" FFFD "\"} 2\n"
        "abbey_report_j_top_n_total{api=\"\"} 1\n"
        "# HELP abbey_report_j_top_ms abbey report j/top (period scope): percentiles of ms; "
        "columns p\n"
        "# TYPE abbey_report_j_top_ms summary\n"
        "abbey_report_j_top_ms{api=\"/a" FFFD "\",quantile=\"0.5\"} 3\n"
        "abbey_report_j_top_ms{api=\"\",quantile=\"0.5\"} 9\n"
        "# HELP abbey_report_j_top_hi abbey report j/top (period scope): column hi = max(ms)\n"
        "# TYPE abbey_report_j_top_hi gauge\n"
        "abbey_report_j_top_hi{api=\"/a" FFFD "\"} 4\n"
        "abbey_report_j_top_hi{api=\"\"} 9\n";
    static const char all[] =
        "# HELP abbey_report_j_all_n_total abbey report j/all (period scope): column n = count\n"
        "# TYPE abbey_report_j_all_n_total counter\n"
        "abbey_report_j_all_n_total 11\n";
    expect_prom("top", top, sizeof top - 1);
    expect_prom("all", all, sizeof all - 1);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *su = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_collisions);
    tcase_add_test(tc, test_history_key);
    tcase_add_test(tc, test_prom_hostile);
    tcase_add_test(tc, test_prom_limit_no_keys);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    return check_run(metrics_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
