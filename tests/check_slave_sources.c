/* check_slave_sources.c - unit tests for what a slave reads: file instances
 * (source/instance.c: names, growth, rotation found by inode, an old file deleted,
 * truncation, missing paths, decisions on open descriptors) and HTTP sources
 * (source/source_http.c: Range reads against tests/tools/range_server.py, a server without
 * ranges, a task reading lines over HTTP, Last-Modified as the modification time, the header
 * of a csv source read for a range past it). Oracles are independent of the code under test:
 * stat(2) for instance names and the bytes the test wrote for reads. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "deliver.h"
#include "frame.h"
#include "hclient.h"
#include "httpd.h"
#include "instance.h"
#include "slave.h"
#include "source.h"
#include "spool.h"
#include "value.h"

#define FIXTURE_SUITE "check_slave_sources"
#include "fixture_slave.h"

/* ================================================================= instance */

START_TEST(instance_names)
{
    instance_id_t id;
    char s[INSTANCE_MAX];
    uint64_t gen;
    ck_assert_int_eq(instance_parse("2049:131075:7", &id), 0);
    ck_assert_uint_eq(id.dev, 2049);
    ck_assert_uint_eq(id.ino, 131075);
    ck_assert_uint_eq(id.gen, 7);
    id.gen = 8;
    instance_format(&id, s);
    ck_assert_str_eq(s, "2049:131075:8");
    ck_assert_int_eq(instance_parse("", &id), -1);
    ck_assert_int_eq(instance_parse("1:2", &id), -1);
    ck_assert_int_eq(instance_parse("1:2:3:4", &id), -1);
    ck_assert_int_eq(instance_parse("1:x:3", &id), -1);
    ck_assert_int_eq(instance_parse("1:2:3 ", &id), -1);
    ck_assert_int_eq(instance_parse("99999999999999999999:1:0", &id), -1);
    ck_assert_int_eq(instance_http_parse("", &gen), 0);
    ck_assert_uint_eq(gen, 0);
    ck_assert_int_eq(instance_http_parse("http:12", &gen), 0);
    ck_assert_uint_eq(gen, 12);
    ck_assert_int_eq(instance_http_parse("http:", &gen), -1);
    ck_assert_int_eq(instance_http_parse("1:2:3", &gen), -1);
    instance_http_format(13, s);
    ck_assert_str_eq(s, "http:13");
}
END_TEST

START_TEST(instance_new_then_grows)
{
    const char *p = tpath("a.log");
    instance_plan_t plan;
    abbey_err_t err;
    char inst[INSTANCE_MAX];

    put_file(p, "w", "one\ntwo\n");
    ck_assert_int_eq(instance_plan(p, "", 0, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_str_eq(plan.instance, stat_instance(p, 0));
    ck_assert_str_eq(plan.next_instance, "");
    ck_assert_uint_eq(plan.size, 8);
    ck_assert_str_eq(slurp(plan.read_path, 0, NULL), "one\ntwo\n");
    snprintf(inst, sizeof inst, "%s", plan.instance);
    put_file(p, "a", "three\n");
    ck_assert_int_eq(instance_plan(p, inst, 8, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_str_eq(plan.instance, inst);
    ck_assert_uint_eq(plan.size, 14);
    ck_assert_str_eq(slurp(plan.read_path, 8, NULL), "three\n");
    /* a generation named by an earlier truncation is kept */
    inst[strlen(inst) - 1] = '3';
    ck_assert_int_eq(instance_plan(p, inst, 14, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_str_eq(plan.instance, inst);
}
END_TEST

START_TEST(instance_rotation_found_by_inode)
{
    const char *p = tpath("b.log"), *old;
    instance_plan_t plan;
    abbey_err_t err;

    put_file(p, "w", "old-1\nold-2\nold-3\n");
    old = stat_instance(p, 0);
    put_file(tpath("other.log"), "w", "noise\n");
    ck_assert_int_eq(rename(p, tpath("b.log.1")), 0);
    put_file(p, "w", "new-1\n");
    ck_assert_int_eq(instance_plan(p, old, 6, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_ROTATED);
    ck_assert_str_eq(plan.instance, old);
    ck_assert_str_eq(plan.found, tpath("b.log.1"));
    ck_assert_uint_eq(plan.size, 18);
    ck_assert_str_eq(slurp(plan.read_path, 6, NULL), "old-2\nold-3\n");
    ck_assert_str_eq(plan.next_instance, stat_instance(p, 0));
    ck_assert_uint_eq(plan.next_size, 6);
}
END_TEST

START_TEST(instance_rotation_old_deleted_is_lost)
{
    const char *p = tpath("c.log"), *old;
    instance_plan_t plan;
    abbey_err_t err;

    put_file(p, "w", "old\n");
    old = stat_instance(p, 0);
    ck_assert_int_eq(rename(p, tpath("c.log.1")), 0);
    put_file(p, "w", "new-new\n");
    ck_assert_int_eq(unlink(tpath("c.log.1")), 0);
    ck_assert_int_eq(instance_plan(p, old, 2, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_LOST);
    ck_assert_ptr_null(plan.read_path);
    ck_assert_str_eq(plan.next_instance, stat_instance(p, 0));
    ck_assert_uint_eq(plan.next_size, 8);
}
END_TEST

START_TEST(instance_truncation_bumps_gen)
{
    const char *p = tpath("d.log");
    char inst[INSTANCE_MAX];
    instance_plan_t plan;
    abbey_err_t err;

    put_file(p, "w", "0123456789\n0123456789\n");
    snprintf(inst, sizeof inst, "%s", stat_instance(p, 4));
    ck_assert_int_eq(truncate(p, 5), 0);
    ck_assert_int_eq(instance_plan(p, inst, 22, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_TRUNCATED);
    ck_assert_str_eq(plan.instance, inst);
    ck_assert_str_eq(plan.next_instance, stat_instance(p, 5));
    ck_assert_uint_eq(plan.next_size, 5);
    ck_assert_ptr_null(plan.read_path);
    /* exactly at the size is not a truncation */
    ck_assert_int_eq(instance_plan(p, inst, 5, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    /* a new task whose start is past the end: named, and moved to gen 1 */
    ck_assert_int_eq(instance_plan(p, "", 9, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_TRUNCATED);
    ck_assert_str_eq(plan.instance, stat_instance(p, 0));
    ck_assert_str_eq(plan.next_instance, stat_instance(p, 1));
}
END_TEST

START_TEST(instance_missing_paths)
{
    const char *p = tpath("e.log"), *old;
    instance_plan_t plan;
    abbey_err_t err;

    /* a new task on a path that does not exist yet */
    ck_assert_int_eq(instance_plan(p, "", 0, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_GONE);
    ck_assert_str_eq(plan.instance, "");
    /* renamed away, no new file yet: the old one is still read */
    put_file(p, "w", "x\ny\n");
    old = stat_instance(p, 0);
    ck_assert_int_eq(rename(p, tpath("e.log.old")), 0);
    ck_assert_int_eq(instance_plan(p, old, 2, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_ROTATED);
    ck_assert_str_eq(plan.next_instance, "");
    ck_assert_str_eq(slurp(plan.read_path, 2, NULL), "y\n");
    /* and gone entirely */
    ck_assert_int_eq(unlink(tpath("e.log.old")), 0);
    ck_assert_int_eq(instance_plan(p, old, 2, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_GONE);
    ck_assert_str_eq(plan.instance, old);
    /* a lease instance that is not dev:inode:gen */
    ck_assert_int_eq(instance_plan(p, "http:0", 0, pool, &plan, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "http:0"));
}
END_TEST

/* The plan holds the file it decided about: replacing the path afterwards
 * does not change what is read. */
START_TEST(instance_decision_on_descriptors)
{
    const char *p = tpath("f.log");
    instance_plan_t plan;
    abbey_err_t err;

    put_file(p, "w", "first file\n");
    ck_assert_int_eq(instance_plan(p, "", 0, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(unlink(p), 0);
    put_file(p, "w", "second file, longer\n");
    ck_assert_str_eq(slurp(plan.read_path, 0, NULL), "first file\n");
}
END_TEST

/* =========================================================== range server */

/* Everything a reader gives from offset, read in pieces of step bytes. */
static char *read_all(const char *url, uint64_t offset, size_t step, uint64_t *total)
{
    source_reader_t *r;
    abbey_err_t err;
    buf_t b;
    char *s, piece[64];
    size_t got;
    apr_status_t rv;

    ck_assert_int_eq(source_open(url, offset, pool, &r, &err), APR_SUCCESS);
    if (total)
        ck_assert_msg(source_total(r, total, &err) == APR_SUCCESS, "%s", err.msg);
    buf_init(&b);
    while ((rv = source_read(r, piece, step, &got, &err)) == APR_SUCCESS)
        buf_put(&b, piece, got);
    ck_assert_msg(rv == APR_EOF, "%s", err.msg);
    source_close(r);
    s = apr_pstrndup(pool, b.data ? (const char *)b.data : "", b.len);
    buf_free(&b);
    return s;
}

START_TEST(http_ranges)
{
    const char *text = "alpha\nbravo\ncharlie\ndelta\n"; /* 26 bytes */
    source_reader_t *r;
    abbey_err_t err;
    uint64_t total = 0;
    char piece[8];
    size_t got;

    put_file(tpath("h.log"), "w", text);
    if (range_server_start(tmpdir, 0) != 0)
        return;
    ck_assert_str_eq(read_all(url_of("h.log"), 0, 64, &total), text);
    ck_assert_uint_eq(total, 26);
    ck_assert_str_eq(read_all(url_of("h.log"), 6, 5, &total), text + 6);
    ck_assert_str_eq(read_all(url_of("h.log"), 25, 3, NULL), "\n");
    /* past the end: a 416 says the size, and there is nothing to read */
    ck_assert_str_eq(read_all(url_of("h.log"), 40, 8, &total), "");
    ck_assert_uint_eq(total, 26);
    ck_assert_str_eq(read_all(url_of("h.log"), 26, 8, &total), "");
    ck_assert_uint_eq(total, 26);
    /* the file shrinks: the size reported is below the old offset */
    put_file(tpath("h.log"), "w", "x\n");
    ck_assert_str_eq(read_all(url_of("h.log"), 20, 8, &total), "");
    ck_assert_uint_eq(total, 2);
    /* a missing file is an error naming the URL and the status */
    ck_assert_int_eq(source_open(url_of("nope.log"), 0, pool, &r, &err), APR_SUCCESS);
    ck_assert_int_ne(source_read(r, piece, sizeof piece, &got, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, "404"));
    ck_assert_ptr_nonnull(strstr(err.msg, "nope.log"));
    source_close(r);
    range_server_stop();
}
END_TEST

/* A server that ignores Range answers 200 with everything: skip to the offset. */
START_TEST(http_server_without_ranges)
{
    const char *text = "one\ntwo\nthree\n";
    uint64_t total = 0;
    put_file(tpath("w.log"), "w", text);
    if (range_server_start(tmpdir, 1) != 0)
        return;
    ck_assert_str_eq(read_all(url_of("w.log"), 4, 3, &total), "two\nthree\n");
    ck_assert_uint_eq(total, 14);
    ck_assert_str_eq(read_all(url_of("w.log"), 14, 3, NULL), "");
    range_server_stop();
}
END_TEST

/* The task runner over an http reader: whole lines of [a, b) only. */
START_TEST(http_task_lines)
{
    const char *yaml = "jobs:\n"
                       "  - name: t\n"
                       "    sources: [/dev/null]\n"
                       "    format: {split: \" \", fields: [user, status:int]}\n"
                       "    groups:\n"
                       "      - name: g\n"
                       "        entries:\n"
                       "          - name: all\n"
                       "            values: {n: count}\n";
    const char *text = "u1 200\nu2 404\nu3 200\nu4 5"; /* 3 whole lines, then a partial */
    rules_config_t *cfg;
    engine_t *e;
    partial_t *p;
    task_io_t io = {0}; /* no stop flag */
    abbey_err_t err;
    uint64_t done;

    put_file(tpath("t.log"), "w", text);
    if (range_server_start(tmpdir, 0) != 0)
        return;
    ck_assert_int_eq(rules_load_buffer(yaml, strlen(yaml), "t.yaml", pool, &cfg, &err),
                     APR_SUCCESS);
    e = engine_create(&cfg->jobs[0], pool);
    p = partial_create(&cfg->jobs[0], pool);
    io.size = 8; /* smaller than the range: several requests, lines across blocks */
    io.buf = apr_palloc(pool, io.size);
    ck_assert_int_eq(task_run_file(e, url_of("t.log"), 7, 25, 0, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(done, 21);
    ck_assert_uint_eq(p->lines, 2);
    ck_assert_uint_eq(p->bytes, 14);
    range_server_stop();
}
END_TEST

/* Over HTTP: the modification time is the server's Last-Modified (the file's mtime here), and
 * a range of a csv with a header that starts past it gets the header through a second reader
 * (a URL cannot seek); a server that sends no Last-Modified gives 0. */
START_TEST(http_mtime_and_header)
{
    const char *yaml = "jobs:\n"
                       "  - name: t\n"
                       "    sources: [/dev/null]\n"
                       "    format: {csv: {header: true, fields: [status:int]}}\n"
                       "    groups:\n"
                       "      - name: g\n"
                       "        entries:\n"
                       "          - {name: all, key: [status], values: {n: count}}\n";
    const char *text = "user,status\nu1,200\nu2,x\nu3,404\n"; /* lines at 12, 19, 24 */
    struct timespec t[2] = {{1431857103, 0}, {1431857103, 0}};
    rules_config_t *cfg;
    source_reader_t *r;
    engine_t *e;
    partial_t *p;
    task_io_t io = {0};
    abbey_err_t err;
    uint64_t done;
    int64_t mtime = -1;

    put_file(tpath("c.csv"), "w", text);
    ck_assert_int_eq(utimensat(AT_FDCWD, tpath("c.csv"), t, 0), 0);
    if (range_server_start(tmpdir, 0) != 0)
        return;
    ck_assert_int_eq(source_open(url_of("c.csv"), 19, pool, &r, &err), APR_SUCCESS);
    ck_assert_msg(source_mtime(r, &mtime, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert_int_eq(mtime, 1431857103);
    source_close(r);
    ck_assert_int_eq(rules_load_buffer(yaml, strlen(yaml), "t.yaml", pool, &cfg, &err),
                     APR_SUCCESS);
    e = engine_create(&cfg->jobs[0], pool);
    p = partial_create(&cfg->jobs[0], pool);
    io.size = 8; /* the header is longer than a block: several requests for it too */
    io.buf = apr_palloc(pool, io.size);
    ck_assert_int_eq(task_run_file(e, url_of("c.csv"), 19, 31, 0, &io, p, NULL, &done, pool, &err),
                     APR_ENOSPC); /* a header longer than the buffer holds */
    io.size = 64;
    io.buf = apr_palloc(pool, io.size);
    ck_assert_msg(task_run_file(e, url_of("c.csv"), 19, 31, 0, &io, p, NULL, &done, pool, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    ck_assert_uint_eq(done, 31);
    ck_assert_uint_eq(p->lines, 2);
    ck_assert_uint_eq(p->bad_lines, 1); /* u2,x; u3,404 counts: the header was read */
    ck_assert_int_eq(engine_mtime(e), 1431857103);
    range_server_stop();
}
END_TEST

static Suite *slave_sources_suite(void)
{
    Suite *s = suite_create("slave_sources");
    TCase *tc;

    tc = tcase_create("instance");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, instance_names);
    tcase_add_test(tc, instance_new_then_grows);
    tcase_add_test(tc, instance_rotation_found_by_inode);
    tcase_add_test(tc, instance_rotation_old_deleted_is_lost);
    tcase_add_test(tc, instance_truncation_bumps_gen);
    tcase_add_test(tc, instance_missing_paths);
    tcase_add_test(tc, instance_decision_on_descriptors);
    suite_add_tcase(s, tc);

    tc = tcase_create("source_http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, http_ranges);
    tcase_add_test(tc, http_server_without_ranges);
    tcase_add_test(tc, http_task_lines);
    tcase_add_test(tc, http_mtime_and_header);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    hclient_global_init();
    failed = check_run(slave_sources_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
