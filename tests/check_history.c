/* check_history.c - unit tests for the history database (export/history.c, history_read.c):
 * what a batch writes, read back through SQLite's own API (not abbey's reader): tables
 * and columns named from the rules, quoted, meta columns apart; an export written again
 * replaced, not doubled; empty exports listed; retention by the job's keep and the
 * default; a reloaded report's new column added; tables whose names differ only in case;
 * hostile keys; the JSON of GET /v1/history (shape, order, last, null for missing
 * columns); files that are not this schema's refused. */
#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "fixture_sqlite.h"
#include "engine.h"
#include "export.h"
#include "history.h"
#include "rules.h"

static apr_pool_t *pool;
static char dir[64];
static char path[128];

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    snprintf(dir, sizeof dir, "/tmp/abbey-history-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub/h.sqlite", dir); /* its directory is made too */
}

static void teardown(void)
{
    char cmd[200];
    apr_pool_destroy(pool);
    apr_terminate();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A job w: key column named Start (meets the meta column "start" but for
 * case), a key whose column name holds quotes, a value; and job W, whose
 * table names differ from w's only in case. */
#define RULES(extra_value, keep)                                                                   \
    "jobs:\n"                                                                                      \
    "  - name: w\n" keep "    sources: [/dev/null]\n"                                              \
    "    format: {split: \"|\", fields: [api, ms:int]}\n"                                          \
    "    groups:\n"                                                                                \
    "      - name: g\n"                                                                            \
    "        entries:\n"                                                                           \
    "          - name: e\n"                                                                        \
    "            key: [{Start: api}, 'coalesce(api, \"-\")']\n"                                    \
    "            values: {n: count, avg: avg(ms)" extra_value "}\n"                                \
    "    reports:\n"                                                                               \
    "      - {name: r, entry: e}\n"                                                                \
    "      - {name: one, entry: e, columns: [n]}\n"                                                \
    "  - name: W\n"                                                                                \
    "    sources: [/dev/null]\n"                                                                   \
    "    format: {split: \"|\", fields: [api, ms:int]}\n"                                          \
    "    groups:\n"                                                                                \
    "      - name: g\n"                                                                            \
    "        entries:\n"                                                                           \
    "          - {name: e, key: [api], values: {n: count}}\n"                                      \
    "    reports:\n"                                                                               \
    "      - {name: r, entry: e}\n"

static rules_config_t *load(const char *yaml)
{
    rules_config_t *c;
    abbey_err_t err;
    ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), "h.yaml", pool, &c, &err) == APR_SUCCESS,
                  "%s", err.msg);
    return c;
}

/* The tables of job j after feeding lines. */
static partial_t *feed(const rules_job_t *job, const char *lines)
{
    partial_t *p = partial_create(job, pool);
    engine_t *e = engine_create(job, pool);
    ck_assert_int_eq(engine_feed(e, lines, strlen(lines), 0, p, NULL, NULL), APR_SUCCESS);
    return p;
}

/* A batch of every report of job over p, written at now. */
static void write_job(history_t *h, const rules_job_t *job, partial_t *p, int64_t start,
                      int64_t end, int incomplete, int final, int64_t now, int64_t keep)
{
    history_batch_t *b = history_batch_create(start, end, incomplete, final);
    abbey_err_t err;
    for (int i = 0; i < job->nreports; i++) {
        const rules_report_t *r = &job->reports[i];
        history_batch_add(b, job, r, export_rows(r, p->tables[r->entry->index], pool));
    }
    ck_assert_msg(history_write(h, b, now, keep, &err) == APR_SUCCESS, "%s", err.msg);
    history_batch_free(b);
}

/* The rows of sql over the database (fixture_sqlite.h). */
static const char *query(const char *sql)
{
    return sqlite_rows(path, sql);
}

#define T0 1763721900000LL /* 2025-11-21T10:45:00.000Z */

/* Tables named job/report, the meta columns first, a report column that meets
 * one (ignoring case) renamed, a column name with quotes kept; rows as the
 * CSV shows them (text of invalid UTF-8 replaced, NUL kept, NULL figures). */
START_TEST(test_write_schema)
{
    rules_config_t *c = load(RULES("", ""));
    history_t *h;
    abbey_err_t err;
    ck_assert_msg(history_open(path, pool, &h, &err) == APR_SUCCESS, "%s", err.msg);
    write_job(h, &c->jobs[0], feed(&c->jobs[0], "/a|10\n/a|20\n/b\xff|\n"), T0, T0 + 1000, 0, 0,
              T0 + 1500, 0);
    ck_assert_str_eq(query("SELECT name FROM pragma_table_info('w/r')"),
                     "[start]\n[end]\n[incomplete]\n[final]\n[Start_2]\n"
                     "[coalesce(api, \"-\")]\n[n]\n[avg]\n");
    ck_assert_str_eq(query("SELECT * FROM \"w/r\" ORDER BY rowid"),
                     "[2025-11-21T10:45:00.000Z]|[2025-11-21T10:45:01.000Z]|0|0|[/a]|[/a]|2|15\n"
                     "[2025-11-21T10:45:00.000Z]|[2025-11-21T10:45:01.000Z]|0|0|[/b\xef\xbf\xbd]|"
                     "[/b\xef\xbf\xbd]|1|<null>\n");
    ck_assert_str_eq(query("SELECT job, report, \"start\", \"end\", incomplete, final, \"rows\" "
                           "FROM exports ORDER BY report"),
                     "[w]|[one]|[2025-11-21T10:45:00.000Z]|[2025-11-21T10:45:01.000Z]|0|0|2\n"
                     "[w]|[r]|[2025-11-21T10:45:00.000Z]|[2025-11-21T10:45:01.000Z]|0|0|2\n");
    ck_assert_str_eq(query("PRAGMA journal_mode"), "[wal]\n");
    ck_assert_str_eq(query("PRAGMA user_version"), "1\n");
}
END_TEST

/* The same export again (an amended round) replaces its rows; an export with
 * no rows is listed; a final period report sits beside the rounds. */
START_TEST(test_replace_empty_final)
{
    rules_config_t *c = load(RULES("", ""));
    const rules_job_t *w = &c->jobs[0];
    history_t *h;
    abbey_err_t err;
    ck_assert_int_eq(history_open(path, pool, &h, &err), APR_SUCCESS);
    write_job(h, w, feed(w, "/a|1\n"), T0, T0 + 1000, 1, 0, T0 + 1500, 0);
    write_job(h, w, feed(w, "/a|1\n/a|2\n/c|3\n"), T0, T0 + 1000, 0, 0, T0 + 2500, 0);
    write_job(h, w, feed(w, ""), T0 + 1000, T0 + 2000, 0, 0, T0 + 2500, 0);
    write_job(h, w, feed(w, "/a|1\n"), T0, T0 + 86400000, 0, 1, T0 + 3500, 0);
    ck_assert_str_eq(query("SELECT \"start\", incomplete, final, Start_2, n FROM \"w/r\" "
                           "ORDER BY final, rowid"),
                     "[2025-11-21T10:45:00.000Z]|0|0|[/a]|2\n"
                     "[2025-11-21T10:45:00.000Z]|0|0|[/c]|1\n"
                     "[2025-11-21T10:45:00.000Z]|0|1|[/a]|1\n");
    ck_assert_str_eq(query("SELECT \"start\", \"end\", incomplete, final, \"rows\" FROM exports "
                           "WHERE report = 'r' ORDER BY final, \"start\""),
                     "[2025-11-21T10:45:00.000Z]|[2025-11-21T10:45:01.000Z]|0|0|2\n"
                     "[2025-11-21T10:45:01.000Z]|[2025-11-21T10:45:02.000Z]|0|0|0\n"
                     "[2025-11-21T10:45:00.000Z]|[2025-11-22T10:45:00.000Z]|0|1|1\n");
}
END_TEST

/* Rows whose start is older than now - keep go: the default keep, or the
 * job's own (history: {keep: 2s}). */
START_TEST(test_retention)
{
    rules_config_t *c = load(RULES("", ""));
    rules_config_t *k = load(RULES("", "    history: {keep: 2s}\n"));
    history_t *h;
    abbey_err_t err;
    ck_assert_int_eq(history_open(path, pool, &h, &err), APR_SUCCESS);
    for (int i = 0; i < 5; i++)
        write_job(h, &c->jobs[0], feed(&c->jobs[0], "/a|1\n"), T0 + i * 1000, T0 + i * 1000 + 1000,
                  0, 0, T0 + i * 1000 + 1000, 3000);
    /* at T0 + 5000, keep 3 s: the rounds starting at T0 + 2000 .. 4000 stay */
    ck_assert_str_eq(query("SELECT substr(\"start\", 18) FROM \"w/r\" ORDER BY rowid"),
                     "[02.000Z]\n[03.000Z]\n[04.000Z]\n");
    ck_assert_str_eq(query("SELECT count(*) FROM exports WHERE report = 'r'"), "3\n");
    /* the job's own keep (2 s) wins over the default (1 day) */
    write_job(h, &k->jobs[0], feed(&k->jobs[0], "/a|1\n"), T0 + 5000, T0 + 6000, 0, 0, T0 + 6000,
              86400000);
    ck_assert_str_eq(query("SELECT substr(\"start\", 18) FROM \"w/r\" ORDER BY rowid"),
                     "[04.000Z]\n[05.000Z]\n");
    ck_assert_str_eq(query("SELECT substr(\"start\", 18) FROM exports WHERE report = 'one' "
                           "ORDER BY \"start\""),
                     "[04.000Z]\n[05.000Z]\n");
}
END_TEST

/* A reloaded report with one more column: the table gets it (NULL in older
 * rows); a table whose name differs from another only in case is left out. */
START_TEST(test_new_column_and_case)
{
    rules_config_t *c = load(RULES("", "")), *c2 = load(RULES(", hi: max(ms)", ""));
    history_t *h;
    abbey_err_t err;
    ck_assert_int_eq(history_open(path, pool, &h, &err), APR_SUCCESS);
    write_job(h, &c->jobs[0], feed(&c->jobs[0], "/a|1\n"), T0, T0 + 1000, 0, 0, T0 + 1000, 0);
    write_job(h, &c2->jobs[0], feed(&c2->jobs[0], "/a|7\n"), T0 + 1000, T0 + 2000, 0, 0, T0 + 2000,
              0);
    ck_assert_str_eq(query("SELECT n, hi FROM \"w/r\" ORDER BY rowid"), "1|<null>\n1|7\n");
    write_job(h, &c->jobs[1], feed(&c->jobs[1], "/x|1\n"), T0, T0 + 1000, 0, 0, T0 + 1000, 0);
    ck_assert_str_eq(query("SELECT count(*) FROM \"w/r\""), "2\n"); /* nothing of W's */
    ck_assert_str_eq(query("SELECT count(*) FROM exports WHERE job = 'W'"), "0\n");
}
END_TEST

/* history_read: {"job","report","columns","rounds"}, the last N round exports
 * (final 0) oldest first, each with its rows in the report's order, empty ones
 * too; a column the table lacks is null. */
START_TEST(test_read_json)
{
    rules_config_t *c = load(RULES("", "")), *c2 = load(RULES(", hi: max(ms)", ""));
    const rules_job_t *w = &c->jobs[0];
    history_t *h;
    abbey_err_t err;
    json_error_t jerr;
    json_t *root, *rounds, *rd;
    buf_t b;
    ck_assert_int_eq(history_open(path, pool, &h, &err), APR_SUCCESS);
    write_job(h, w, feed(w, "/a|1\n/b|2\n/b|4\n"), T0, T0 + 1000, 1, 0, T0 + 1000, 0);
    write_job(h, w, feed(w, ""), T0 + 1000, T0 + 2000, 0, 0, T0 + 2000, 0);
    write_job(h, w, feed(w, "/z\"q\\|5\n"), T0 + 2000, T0 + 3000, 0, 0, T0 + 3000, 0);
    write_job(h, w, feed(w, "/a|1\n"), T0, T0 + 86400000, 0, 1, T0 + 3000, 0);
    buf_init(&b);
    ck_assert_int_eq(history_read(h, &c2->jobs[0], &c2->jobs[0].reports[0], 2, &b, &err),
                     APR_SUCCESS);
    buf_put_u8(&b, 0);
    ck_assert_str_eq((const char *)b.data,
                     "{\"job\":\"w\",\"report\":\"r\",\"columns\":[\"Start\",\"coalesce(api, "
                     "\\\"-\\\")\",\"n\",\"avg\",\"hi\"],\"rounds\":["
                     "{\"start\":\"2025-11-21T10:45:01.000Z\",\"end\":\"2025-11-21T10:45:02.000Z\","
                     "\"incomplete\":false,\"rows\":[]},"
                     "{\"start\":\"2025-11-21T10:45:02.000Z\",\"end\":\"2025-11-21T10:45:03.000Z\","
                     "\"incomplete\":false,\"rows\":[[\"/z\\\"q\\\\\",\"/z\\\"q\\\\\",1,5,null]]}"
                     "]}\n");
    buf_reset(&b);
    ck_assert_int_eq(history_read(h, w, &w->reports[0], 60, &b, &err), APR_SUCCESS);
    root = json_loadb((const char *)b.data, b.len, 0, &jerr);
    ck_assert_msg(root != NULL, "%s", jerr.text);
    rounds = json_object_get(root, "rounds");
    ck_assert_uint_eq(json_array_size(rounds), 3);
    rd = json_array_get(rounds, 0);
    ck_assert(json_is_true(json_object_get(rd, "incomplete")));
    ck_assert_uint_eq(json_array_size(json_object_get(rd, "rows")), 2);
    ck_assert_str_eq(
        json_string_value(json_array_get(json_array_get(json_object_get(rd, "rows"), 1), 0)), "/b");
    ck_assert_int_eq(
        json_integer_value(json_array_get(json_array_get(json_object_get(rd, "rows"), 1), 3)), 3);
    json_decref(root);
    /* a report nothing was written for: no rounds */
    buf_reset(&b);
    ck_assert_int_eq(history_read(h, &c->jobs[1], &c->jobs[1].reports[0], 5, &b, &err),
                     APR_SUCCESS);
    buf_put_u8(&b, 0);
    ck_assert_str_eq(
        (const char *)b.data,
        "{\"job\":\"W\",\"report\":\"r\",\"columns\":[\"api\",\"n\"],\"rounds\":[]}\n");
    buf_free(&b);
}
END_TEST

/* Files that are not this schema's are refused, naming the file. */
START_TEST(test_open_refused)
{
    history_t *h;
    abbey_err_t err;
    sqlite3 *db;
    FILE *f;
    ck_assert_int_eq(history_open(path, pool, &h, &err), APR_SUCCESS);
    history_close(h);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version=2", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert_int_ne(history_open(path, pool, &h, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "schema version 2"));
    snprintf(path, sizeof path, "%s/text", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("these are not the bytes of an SQLite database, but some text that is long enough "
          "to be taken for its header\n",
          f);
    fclose(f);
    ck_assert_int_ne(history_open(path, pool, &h, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "not a database"));
}
END_TEST

static Suite *history_suite(void)
{
    Suite *su = suite_create("history");
    TCase *tc = tcase_create("history");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_write_schema);
    tcase_add_test(tc, test_replace_empty_final);
    tcase_add_test(tc, test_retention);
    tcase_add_test(tc, test_new_column_and_case);
    tcase_add_test(tc, test_read_json);
    tcase_add_test(tc, test_open_refused);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    return check_run(history_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
