/* check_export.c - unit tests for export/: CSV and JSON rendering, order, limit, columns,
 * quoting, missing values, time keys, atomic report files, and keys that are not
 * UTF-8 or hold NUL, control characters, quotes and commas (every writer must give
 * well-formed UTF-8 and parseable JSON). */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "engine.h"
#include "export.h"
#include "rules.h"

static apr_pool_t *pool;

static const char *RULES =
    "jobs:\n"
    "  - name: t\n"
    "    sources: [/dev/null]\n"
    "    format: {split: \"|\", fields: [ts:time, user, api, ms:int]}\n"
    "    groups:\n"
    "      - name: g\n"
    "        entries:\n"
    "          - name: by_api\n"
    "            key: [api]\n"
    "            values: {n: count, ms: sum(ms), avg: avg(ms)}\n"
    "          - name: per_min\n"
    "            key: [{minute: time_bucket(ts, 1m)}]\n"
    "            values: {n: count, worst: max(ms)}\n"
    "    reports:\n"
    "      - {name: all, entry: by_api}\n"
    "      - {name: top, entry: by_api, order: n desc, limit: 2, columns: [api, n]}\n"
    "      - {name: cheap, entry: by_api, order: ms asc}\n"
    "      - {name: js, entry: by_api, format: json, order: n desc}\n"
    "      - {name: minutes, entry: per_min}\n";

/* 1431857103 = 2015-05-17T10:05:03Z */
static const char *LINES = "1431857103|ann|/a|10\n"
                           "1431857110|bob|/a|20\n"
                           "1431857170|ann|\"q,x\"|5\n"
                           "1431857171|cid|/b|\n"
                           "1431857172|cid|/b|7\n"
                           "1431857173|cid||1\n";

static const rules_job_t *job;
static partial_t *totals;

static void setup(void)
{
    rules_config_t *cfg;
    abbey_err_t err;
    engine_t *e;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_msg(rules_load_buffer(RULES, strlen(RULES), "t.yaml", pool, &cfg, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    job = &cfg->jobs[0];
    e = engine_create(job, pool);
    totals = partial_create(job, pool);
    ck_assert_int_eq(engine_feed(e, LINES, strlen(LINES), 0, totals, NULL, NULL), APR_SUCCESS);
    ck_assert_uint_eq(totals->bad_lines, 0);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static void expect(const char *report, const char *want)
{
    for (int r = 0; r < job->nreports; r++) {
        const rules_report_t *rep = &job->reports[r];
        buf_t b;
        if (strcmp(rep->name, report) != 0)
            continue;
        buf_init(&b);
        export_render(job, rep, totals->tables[rep->entry->index], &b, pool);
        buf_put_u8(&b, 0);
        ck_assert_str_eq((const char *)b.data, want);
        buf_free(&b);
        return;
    }
    ck_abort_msg("no report %s", report);
}

/* Rows: "" (empty api) n1 ms1; "\"q,x\"" n1 ms5; /a n2 ms30; /b n2 ms7 (one ms missing). */
START_TEST(test_csv_default_order)
{
    expect("all", "api,n,ms,avg\r\n"
                  ",1,1,1\r\n"
                  "\"\"\"q,x\"\"\",1,5,5\r\n"
                  "/a,2,30,15\r\n"
                  "/b,2,7,7\r\n");
}
END_TEST

START_TEST(test_csv_order_limit_columns)
{
    /* n desc; ties broken by key ascending; limit 2 */
    expect("top", "api,n\r\n/a,2\r\n/b,2\r\n");
    expect("cheap", "api,n,ms,avg\r\n"
                    ",1,1,1\r\n"
                    "\"\"\"q,x\"\"\",1,5,5\r\n"
                    "/b,2,7,7\r\n"
                    "/a,2,30,15\r\n");
}
END_TEST

START_TEST(test_time_keys)
{
    expect("minutes", "minute,n,worst\r\n"
                      "2015-05-17T10:05:00Z,2,20\r\n"
                      "2015-05-17T10:06:00Z,4,7\r\n");
}
END_TEST

START_TEST(test_json)
{
    expect("js", "{\"job\":\"t\",\"report\":\"js\",\"entry\":\"by_api\",\"scope\":\"period\","
                 "\"columns\":[\"api\",\"n\",\"ms\",\"avg\"],\"rows\":[\n"
                 "{\"api\":\"/a\",\"n\":2,\"ms\":30,\"avg\":15},\n"
                 "{\"api\":\"/b\",\"n\":2,\"ms\":7,\"avg\":7},\n"
                 "{\"api\":\"\",\"n\":1,\"ms\":1,\"avg\":1},\n"
                 "{\"api\":\"\\\"q,x\\\"\",\"n\":1,\"ms\":5,\"avg\":5}]}\n");
}
END_TEST

START_TEST(test_report_file)
{
    char dir[] = "/tmp/abbey-export-XXXXXX";
    const char *path;
    abbey_err_t err;
    char got[256];
    FILE *f;
    size_t n;
    ck_assert(mkdtemp(dir) != NULL);
    ck_assert_int_eq(
        export_report_file(job, &job->reports[1], totals->tables[0], dir, pool, &path, &err),
        APR_SUCCESS);
    ck_assert(strstr(path, "/t/top.csv") != NULL);
    f = fopen(path, "rb");
    ck_assert(f != NULL);
    n = fread(got, 1, sizeof got - 1, f);
    got[n] = '\0';
    fclose(f);
    ck_assert_str_eq(got, "api,n\r\n/a,2\r\n/b,2\r\n");
    unlink(path);
    /* a directory that cannot be made: an error naming it, no crash */
    ck_assert_int_ne(export_report_file(job, &job->reports[1], totals->tables[0],
                                        "/proc/abbey-no-such", pool, &path, &err),
                     APR_SUCCESS);
    ck_assert(strstr(err.msg, "/proc/abbey-no-such") != NULL);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/t", dir);
    rmdir(sub);
    rmdir(dir);
}
END_TEST

/* Keys from a log that is not UTF-8 and holds NUL, controls, quotes and commas.
 * One line per key ("api|ms"), each key once except /a\xfe's row, which has n 2. */
static const char *HOSTILE_RULES = "jobs:\n"
                                   "  - name: h\n"
                                   "    sources: [/dev/null]\n"
                                   "    format: {split: \"|\", fields: [api, ms:int]}\n"
                                   "    groups:\n"
                                   "      - name: g\n"
                                   "        entries:\n"
                                   "          - name: by_api\n"
                                   "            key: [api]\n"
                                   "            values: {n: count, ms: sum(ms)}\n"
                                   "    reports:\n"
                                   "      - {name: csv, entry: by_api}\n"
                                   "      - {name: json, entry: by_api, format: json}\n";

static const char HOSTILE_LINES[] = "/ok|1\n"
                                    "/a\xff|2\n" /* not a UTF-8 byte */
                                    "/a\xfe|3\n" /* same shown key, own row */
                                    "/a\xfe|4\n"
                                    "/b\xe2\x82|5\n"               /* truncated euro sign */
                                    "/c\xc0\xaf|6\n"               /* overlong '/' */
                                    "/d\xed\xa0\x80|7\n"           /* surrogate U+D800 */
                                    "/e\0z|8\n"                    /* NUL inside the key */
                                    "/f\x01\x1b[0m\r\t|9\n"        /* controls, CR, tab */
                                    "/g\"q\",x|10\n"               /* quotes and a comma */
                                    "/h\xc3\xa9\xe2\x82\xac|11\n"; /* valid: kept as is */

#define FFFD "\xef\xbf\xbd"

/* Render report name of the hostile job; compare with want[0..wlen). */
static void expect_hostile(const char *name, const char *want, size_t wlen, buf_t *got)
{
    rules_config_t *cfg;
    const rules_job_t *hj;
    partial_t *part;
    abbey_err_t err;
    engine_t *e;
    ck_assert_msg(rules_load_buffer(HOSTILE_RULES, strlen(HOSTILE_RULES), "h.yaml", pool, &cfg,
                                    &err) == APR_SUCCESS,
                  "%s", err.msg);
    hj = &cfg->jobs[0];
    e = engine_create(hj, pool);
    part = partial_create(hj, pool);
    ck_assert_int_eq(engine_feed(e, HOSTILE_LINES, sizeof HOSTILE_LINES - 1, 0, part, NULL, NULL),
                     APR_SUCCESS);
    ck_assert_uint_eq(part->lines, 11);
    ck_assert_uint_eq(part->bad_lines, 0);
    for (int r = 0; r < hj->nreports; r++) {
        if (strcmp(hj->reports[r].name, name) != 0)
            continue;
        export_render(hj, &hj->reports[r], part->tables[0], got, pool);
        ck_assert_msg(got->len == wlen && memcmp(got->data, want, wlen) == 0,
                      "%s report:\n%.*s\nwanted:\n%.*s", name, (int)got->len,
                      (const char *)got->data, (int)wlen, want);
        return;
    }
    ck_abort_msg("no report %s", name);
}

/* CSV: invalid bytes as U+FFFD (maximal subparts), NUL and controls kept,
 * quoting for CR, quotes and commas; rows in raw byte order of their keys. */
START_TEST(test_csv_not_utf8)
{
    static const char want[] = "api,n,ms\r\n"
                               "/a" FFFD ",2,7\r\n"
                               "/a" FFFD ",1,2\r\n"
                               "/b" FFFD ",1,5\r\n"
                               "/c" FFFD FFFD ",1,6\r\n"
                               "/d" FFFD FFFD FFFD ",1,7\r\n"
                               "/e\0z,1,8\r\n"
                               "\"/f\x01\x1b[0m\r\t\",1,9\r\n"
                               "\"/g\"\"q\"\",x\",1,10\r\n"
                               "/h\xc3\xa9\xe2\x82\xac,1,11\r\n"
                               "/ok,1,1\r\n";
    buf_t b;
    buf_init(&b);
    expect_hostile("csv", want, sizeof want - 1, &b);
    buf_free(&b);
}
END_TEST

/* JSON: the same text, escaped; jansson (which refuses ill-formed UTF-8) parses
 * it and gives back each key, the NUL one at its full length. */
START_TEST(test_json_not_utf8)
{
    static const char want[] =
        "{\"job\":\"h\",\"report\":\"json\",\"entry\":\"by_api\",\"scope\":\"period\","
        "\"columns\":[\"api\",\"n\",\"ms\"],\"rows\":[\n"
        "{\"api\":\"/a" FFFD "\",\"n\":2,\"ms\":7},\n"
        "{\"api\":\"/a" FFFD "\",\"n\":1,\"ms\":2},\n"
        "{\"api\":\"/b" FFFD "\",\"n\":1,\"ms\":5},\n"
        "{\"api\":\"/c" FFFD FFFD "\",\"n\":1,\"ms\":6},\n"
        "{\"api\":\"/d" FFFD FFFD FFFD "\",\"n\":1,\"ms\":7},\n"
        "{\"api\":\"/e\\u0000z\",\"n\":1,\"ms\":8},\n"
        "{\"api\":\"/f\\u0001\\u001b[0m\\u000d\\u0009\",\"n\":1,\"ms\":9},\n"
        "{\"api\":\"/g\\\"q\\\",x\",\"n\":1,\"ms\":10},\n"
        "{\"api\":\"/h\xc3\xa9\xe2\x82\xac\",\"n\":1,\"ms\":11},\n"
        "{\"api\":\"/ok\",\"n\":1,\"ms\":1}]}\n";
    json_error_t jerr;
    json_t *root, *rows, *api;
    buf_t b;
    buf_init(&b);
    expect_hostile("json", want, sizeof want - 1, &b);
    root = json_loadb((const char *)b.data, b.len, JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(root != NULL, "jansson: %s at %d", jerr.text, jerr.position);
    rows = json_object_get(root, "rows");
    ck_assert_uint_eq(json_array_size(rows), 10);
    api = json_object_get(json_array_get(rows, 5), "api");
    ck_assert_uint_eq(json_string_length(api), 4);
    ck_assert(memcmp(json_string_value(api), "/e\0z", 4) == 0);
    api = json_object_get(json_array_get(rows, 6), "api");
    ck_assert_str_eq(json_string_value(api), "/f\x01\x1b[0m\r\t");
    json_decref(root);
    buf_free(&b);
}
END_TEST

static Suite *export_suite(void)
{
    Suite *su = suite_create("export");
    TCase *tc = tcase_create("export");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_csv_default_order);
    tcase_add_test(tc, test_csv_order_limit_columns);
    tcase_add_test(tc, test_time_keys);
    tcase_add_test(tc, test_json);
    tcase_add_test(tc, test_report_file);
    tcase_add_test(tc, test_csv_not_utf8);
    tcase_add_test(tc, test_json_not_utf8);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    int failed;
    failed = check_run(export_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
