/* check_slave.c - unit tests for the slave's worker end to end (worker.c, deliver.c,
 * slave.c): read, HTTP and expand leases, caps, conflicts, retries, rotation, config
 * switches, the renewer and the slave's threads, against a fake primary and fake masters
 * served in-process by master/httpd.c (tests/fixture_slave.h, shared with
 * tests/check_slave_sources.c, tests/check_slave_spool.c and tests/check_slave_repair.c).
 * File instances and HTTP sources are tests/check_slave_sources.c, the spool
 * tests/check_slave_spool.c.
 *
 * Oracles are independent of the code under test: the bytes the test wrote, and line and
 * key counts computed here from the generated text for frames (tests/fixture_slave.h's
 * worker helpers). */
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

#define FIXTURE_SUITE "check_slave"
#define FIXTURE_SLAVE_WORKER
#include "fixture_slave.h"

/* ============================================== worker against fake servers */

START_TEST(worker_read_lease_end_to_end)
{
    const char *p = tpath("app.log"), *text = gen_log(40, "u9 2"), *inst, *src;
    uint64_t end = last_nl(text, strlen(text)), lines;
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;
    long u0;

    ck_assert_int_eq(test_cfg->jobs[0].groups[0].master, 0);
    ck_assert_int_eq(test_cfg->jobs[0].groups[1].master, 1);
    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    src = apr_pstrcat(pool, p, "#", inst, NULL);
    queue_lease(5, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.config_gets, 1);
    ck_assert_int_eq(fake.nframes, 2);
    check_frame(&fake.frames[0], "m1", src, text, 0, end);
    check_frame(&fake.frames[1], "m2", src, text, 0, end);
    ck_assert_uint_eq(fake.frames[0].lease, 5);
    c = completion(0);
    count_lines(text, 0, end, &lines, &u0);
    ck_assert_str_eq(jstr(c, "slave"), "s1");
    ck_assert_int_eq(jint(c, "lease"), 5);
    ck_assert_str_eq(jstr(c, "instance"), inst);
    ck_assert_int_eq(jint(c, "start"), 0);
    ck_assert_int_eq(jint(c, "end"), (int64_t)end);
    ck_assert(json_is_true(json_object_get(c, "at_end"))); /* only a partial line is left */
    ck_assert_str_eq(jstr(c, "next_instance"), "");
    ck_assert_int_eq(jint(c, "lines"), (int64_t)lines);
    ck_assert_int_eq(jint(c, "bytes"), (int64_t)end);
    ck_assert_int_eq(jint(c, "bad_lines"), 0);
    ck_assert_int_eq(jint(c, "size"), (int64_t)strlen(text));
    ck_assert_str_eq(jstr(json_object_get(c, "deliveries"), "m1"), "ok");
    ck_assert_str_eq(jstr(json_object_get(c, "deliveries"), "m2"), "ok");
    json_decref(c);
    /* no lease: nothing happens */
    ck_assert_int_eq(worker_once(w), 0);
    ck_assert_int_eq(fake.ncompletes, 1);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_cap_limits_the_read)
{
    const char *p = tpath("cap.log"), *text = gen_log(30, ""), *inst;
    uint64_t end = last_nl(text, 100);
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;

    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    queue_lease(6, "read", p, inst, 0, 100);
    queue_lease(7, "read", p, inst, end, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(worker_once(w), 1);
    c = completion(0);
    ck_assert_int_eq(jint(c, "end"), (int64_t)end);
    ck_assert(json_is_false(json_object_get(c, "at_end")));
    json_decref(c);
    c = completion(1);
    ck_assert_int_eq(jint(c, "start"), (int64_t)end);
    ck_assert_int_eq(jint(c, "end"), (int64_t)strlen(text));
    ck_assert(json_is_true(json_object_get(c, "at_end")));
    json_decref(c);
    check_frame(&fake.frames[3], "m2", apr_pstrcat(pool, p, "#", inst, NULL), text, end,
                strlen(text));
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* A conflict whose gap does not end at a line end (the master's ranges are
 * not this file's lines: changed under the same instance) fails the delivery. */
START_TEST(worker_conflict_misaligned_fails)
{
    const char *p = tpath("conf.log"), *text = gen_log(50, "");
    uint64_t end = strlen(text), x1 = last_nl(text, 90);
    slave_t *s = new_slave(1, NULL);
    worker_t *w;

    put_file(p, "w", text);
    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict, "[[%" PRIu64 ",%" PRIu64 "]]",
             x1 + 3, end + 500);
    queue_lease(8, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.frames[0].answered, 200);
    ck_assert_int_eq(fake.frames[1].answered, 409);
    ck_assert_int_eq(fake.nframes, 2); /* [0, x1 + 3) re-read ends at x1: nothing sent */
    ck_assert_int_eq(fake.ncompletes, 0);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* m2 already has parts of the range: only the missing parts go to it, read again. */
START_TEST(worker_conflict_line_aligned)
{
    const char *p = tpath("conf2.log"), *text = gen_log(50, "u1 4"), *src;
    uint64_t end = last_nl(text, strlen(text)), x1 = last_nl(text, 90), x2 = last_nl(text, 200);
    uint64_t x3 = last_nl(text, 260);
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;

    put_file(p, "w", text);
    src = apr_pstrcat(pool, p, "#", stat_instance(p, 0), NULL);
    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict,
             "[[%" PRIu64 ",%" PRIu64 "],[%" PRIu64 ",%" PRIu64 "]]", x3, end + 500, x1, x2);
    queue_lease(9, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 4);
    check_frame(&fake.frames[0], "m1", src, text, 0, end);
    check_frame(&fake.frames[1], "m2", src, text, 0, end);
    ck_assert_int_eq(fake.frames[1].answered, 409);
    check_frame(&fake.frames[2], "m2", src, text, 0, x1);
    check_frame(&fake.frames[3], "m2", src, text, x2, x3);
    ck_assert_int_eq(fake.frames[3].answered, 200);
    c = completion(0);
    ck_assert_int_eq(jint(c, "end"), (int64_t)end);
    ck_assert_str_eq(jstr(json_object_get(c, "deliveries"), "m2"), "ok");
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_503_retry_then_fail)
{
    const char *p = tpath("busy.log"), *text = gen_log(10, "");
    slave_t *s = new_slave(1, NULL);
    worker_t *w;

    put_file(p, "w", text);
    fake.script[0].fail503 = 1; /* one 503: the retry gets through */
    queue_lease(10, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 3);
    ck_assert_int_eq(fake.frames[0].answered, 503);
    ck_assert_int_eq(fake.frames[1].answered, 200);
    ck_assert_int_eq(fake.ncompletes, 1);
    fake.script[0].fail503 = 2; /* 503 twice: failed, the lease is not completed */
    queue_lease(11, "read", p, "", 0, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 6);
    ck_assert_int_eq(fake.frames[3].answered, 503);
    ck_assert_int_eq(fake.frames[4].answered, 503);
    ck_assert_str_eq(fake.frames[5].master, "m2");
    ck_assert_int_eq(fake.ncompletes, 1);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_rotation_reads_old_then_moves)
{
    const char *p = tpath("rot.log"), *old_text = gen_log(12, ""), *old, *next;
    uint64_t start = last_nl(old_text, 40);
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;

    put_file(p, "w", old_text);
    old = stat_instance(p, 0);
    ck_assert_int_eq(rename(p, tpath("rot.log.1")), 0);
    put_file(p, "w", "u7 200\n");
    next = stat_instance(p, 0);
    queue_lease(12, "read", p, old, start, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 2);
    check_frame(&fake.frames[0], "m1", apr_pstrcat(pool, p, "#", old, NULL), old_text, start,
                strlen(old_text));
    c = completion(0);
    ck_assert_str_eq(jstr(c, "instance"), old);
    ck_assert_int_eq(jint(c, "end"), (int64_t)strlen(old_text));
    ck_assert_str_eq(jstr(c, "next_instance"), next);
    ck_assert(json_is_false(json_object_get(c, "at_end"))); /* the new file has data */
    ck_assert_int_eq(jint(c, "size"), 7);
    json_decref(c);
    /* the old file gone: nothing read, the task moves on */
    ck_assert_int_eq(unlink(tpath("rot.log.1")), 0);
    queue_lease(13, "read", p, old, start, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 2);
    c = completion(1);
    ck_assert_int_eq(jint(c, "start"), (int64_t)start);
    ck_assert_int_eq(jint(c, "end"), (int64_t)start);
    ck_assert_str_eq(jstr(c, "next_instance"), next);
    ck_assert_int_eq(json_object_size(json_object_get(c, "deliveries")), 0);
    json_decref(c);
    /* truncated under the offset: generation + 1 */
    queue_lease(14, "read", p, next, 100, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    c = completion(2);
    ck_assert_str_eq(jstr(c, "next_instance"), stat_instance(p, 1));
    ck_assert_int_eq(jint(c, "end"), 100);
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* The old file of a rotation is now shorter than the committed offset (it was
 * truncated before the rename): nothing to read, the task moves on anyway. */
START_TEST(worker_rotated_file_shorter_than_offset)
{
    const char *p = tpath("short.log"), *old, *next;
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;

    put_file(p, "w", "u1 200\n");
    old = stat_instance(p, 0);
    ck_assert_int_eq(rename(p, tpath("short.log.1")), 0);
    put_file(p, "w", "u2 200\n");
    next = stat_instance(p, 0);
    queue_lease(15, "read", p, old, 100, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 0);
    c = completion(0);
    ck_assert_int_eq(jint(c, "start"), 100);
    ck_assert_int_eq(jint(c, "end"), 100);
    ck_assert_str_eq(jstr(c, "next_instance"), next);
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_http_lease)
{
    const char *text = gen_log(20, "u3 40"), *url, *src;
    uint64_t end = last_nl(text, strlen(text));
    slave_t *s;
    worker_t *w;
    json_t *c;

    put_file(tpath("web.log"), "w", text);
    if (range_server_start(tmpdir, 0) != 0)
        return;
    s = new_slave(1, NULL);
    url = url_of("web.log");
    src = apr_pstrcat(pool, url, "#http:0", NULL);
    queue_lease(20, "read", url, "", 0, 1 << 20);
    queue_lease(21, "read", url, "http:0", end + 10, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    check_frame(&fake.frames[0], "m1", src, text, 0, end);
    check_frame(&fake.frames[1], "m2", src, text, 0, end);
    c = completion(0);
    ck_assert_str_eq(jstr(c, "instance"), "http:0");
    ck_assert_int_eq(jint(c, "end"), (int64_t)end);
    ck_assert(json_is_true(json_object_get(c, "at_end")));
    ck_assert_int_eq(jint(c, "size"), (int64_t)strlen(text));
    json_decref(c);
    /* the server's file is now smaller than the offset: a new generation */
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 2);
    c = completion(1);
    ck_assert_str_eq(jstr(c, "instance"), "http:0");
    ck_assert_str_eq(jstr(c, "next_instance"), "http:1");
    ck_assert_int_eq(jint(c, "end"), (int64_t)end + 10);
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_expand_lease)
{
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c, *paths;

    put_file(tpath("x-2.log"), "w", "");
    put_file(tpath("x-1.log"), "w", "");
    put_file(tpath("y.log"), "w", "");
    queue_lease(30, "expand", tpath("x-*.log"), "", 0, 1);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    c = completion(0);
    paths = json_object_get(c, "paths");
    ck_assert_int_eq(json_array_size(paths), 2);
    ck_assert_str_eq(json_string_value(json_array_get(paths, 0)), tpath("x-1.log"));
    ck_assert_str_eq(json_string_value(json_array_get(paths, 1)), tpath("x-2.log"));
    ck_assert_int_eq(jint(c, "lease"), 30);
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* A lease answer naming another config: fetched (If-None-Match the old one) and used. */
START_TEST(worker_config_switch)
{
    const char *p = tpath("sw.log"), *yaml2 = test_yaml("\n    round: 5s");
    rules_config_t *cfg2;
    abbey_err_t err;
    slave_t *s = new_slave(1, NULL);
    worker_t *w;

    ck_assert_int_eq(rules_load_buffer(yaml2, strlen(yaml2), "t2.yaml", pool, &cfg2, &err),
                     APR_SUCCESS);
    ck_assert_uint_ne(cfg2->hash, test_cfg->hash);
    put_file(p, "w", gen_log(5, ""));
    queue_lease(40, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_uint_eq(fake.frames[0].config_hash, test_cfg->hash);
    pthread_mutex_lock(&fake.lock);
    snprintf(fake.config, sizeof fake.config, "%s", yaml2);
    snprintf(fake.etag, sizeof fake.etag, "cafe0002");
    snprintf(fake.lease_config, sizeof fake.lease_config, "cafe0002");
    pthread_mutex_unlock(&fake.lock);
    queue_lease(41, "read", p, "", 0, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.config_gets, 2);
    ck_assert_str_eq(fake.inm, "\"cafe0001\"");
    ck_assert_uint_eq(fake.frames[2].config_hash, cfg2->hash);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* The renewer, on a driven clock: every lease_ms / 3; 410 marks the lease gone. */
START_TEST(renewer_schedule)
{
    slave_t *s = new_slave(1, NULL);
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    json_t *b;

    slave_lease_track(s, 7, 3000, 0); /* granted at 0, expires at 3000: renew every 1000 */
    ck_assert_int_eq(slave_renew_pass(s, hc, 999), 1);
    ck_assert_int_eq(fake.renews, 0);
    slave_renew_pass(s, hc, 1000);
    ck_assert_int_eq(fake.renews, 1);
    b = json_loads(fake.renew_body, 0, NULL);
    ck_assert_int_eq(jint(b, "lease"), 7);
    ck_assert_str_eq(jstr(b, "slave"), "s1");
    json_decref(b);
    ck_assert_int_eq(slave_renew_pass(s, hc, 1999), 1);
    ck_assert_int_eq(fake.renews, 1);
    slave_renew_pass(s, hc, 2000);
    ck_assert_int_eq(fake.renews, 2);
    fake.renew_status = 410;
    ck_assert_int_eq(slave_lease_gone(s, 7), 0);
    slave_renew_pass(s, hc, 3000);
    ck_assert_int_eq(slave_lease_gone(s, 7), 1);
    slave_renew_pass(s, hc, 9000); /* a gone lease is not renewed again */
    ck_assert_int_eq(fake.renews, 3);
    slave_lease_untrack(s, 7);
    slave_renew_pass(s, hc, 20000);
    ck_assert_int_eq(fake.renews, 3);
    slave_join(s);
}
END_TEST

/* Threads: two workers drain the leases; a stop request ends them cleanly. */
START_TEST(slave_threads_run_and_stop)
{
    const char *p = tpath("thr.log");
    slave_t *s = new_slave(2, NULL);
    abbey_err_t err;
    int done = 0;

    put_file(p, "w", gen_log(20, ""));
    for (int i = 0; i < 6; i++)
        queue_lease(50 + (uint64_t)i, "read", p, "", 0, 1 << 20);
    fake.script[0].slow_ms = 20;
    ck_assert_int_eq(slave_config_update(s, hclient_create(TOKEN, 2000, 10000, pool), NULL, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(slave_start(s, &err), APR_SUCCESS);
    for (int i = 0; i < 1000 && !done; i++) { /* at most 10 s */
        usleep(10000);
        pthread_mutex_lock(&fake.lock);
        done = fake.ncompletes == 6;
        pthread_mutex_unlock(&fake.lock);
    }
    slave_request_stop(s);
    slave_join(s);
    ck_assert_int_eq(fake.ncompletes, 6);
    ck_assert_int_eq(fake.nframes, 12);
}
END_TEST

static Suite *slave_suite(void)
{
    Suite *s = suite_create("slave");
    TCase *tc;

    tc = tcase_create("worker");
    tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, worker_read_lease_end_to_end);
    tcase_add_test(tc, worker_cap_limits_the_read);
    tcase_add_test(tc, worker_conflict_misaligned_fails);
    tcase_add_test(tc, worker_conflict_line_aligned);
    tcase_add_test(tc, worker_503_retry_then_fail);
    tcase_add_test(tc, worker_rotation_reads_old_then_moves);
    tcase_add_test(tc, worker_rotated_file_shorter_than_offset);
    tcase_add_test(tc, worker_http_lease);
    tcase_add_test(tc, worker_expand_lease);
    tcase_add_test(tc, worker_config_switch);
    tcase_add_test(tc, renewer_schedule);
    tcase_add_test(tc, slave_threads_run_and_stop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    hclient_global_init();
    failed = check_run(slave_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
