/* check_slave_hold.c - the slave's holder of sticky leases (slave/hold.c) against the real
 * scheduler (master/sched*.c served by master/httpd.c on 127.0.0.1) and the fake masters
 * of tests/fixture_slave.h: a batch of sticky leases read once, idle rounds that cost no
 * completion and close complete, growth found by stat and read within a round or two, a
 * second slave that joins and gets its share from what the first gives back, and a stop
 * that gives every lease back.
 *
 * Real time (1 s rounds), so each test takes a few seconds. The oracle: the files the test
 * wrote (their sizes and line counts), the frames the fake masters decoded, and the
 * scheduler's own counters and status read through its C API. */
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "hclient.h"
#include "httpd.h"
#include "rules.h"
#include "scheduler.h"
#include "slave.h"

#define FIXTURE_SUITE "check_slave_hold"
#define FIXTURE_SLAVE_WORKER
#include "fixture_slave.h"

#define NFILES 3

static sched_t *sched;
static httpd_t *m2_srv; /* m2: a server of its own (the primary's url is m1's) */
static rules_config_t *cfg;
static uint64_t lease_bytes = 1 << 20; /* the primary's byte cap of a read lease */

static int64_t wall(void)
{
    return (int64_t)(apr_time_now() / 1000);
}

/* Round-closed recorder (the scheduler's callback). */
static struct {
    pthread_mutex_t lock;
    int closed, incomplete;
} rounds;

static void on_round(void *ctx, const char *job, const sched_round_t *r)
{
    (void)ctx, (void)job;
    pthread_mutex_lock(&rounds.lock);
    rounds.closed++;
    rounds.incomplete += r->incomplete;
    pthread_mutex_unlock(&rounds.lock);
}

static void h_config_real(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    h_config(ctx, req, resp);
}

/* The fake masters (frames) and config, and the real scheduler's routes, over job "t"
 * (1 s rounds) reading the files f0..f2 of the tmpdir. m2 is a server of its own, so
 * that frames to it go over the workers' own connections, as in a cluster (m1's share
 * the slave's one connection to the primary: slave.h). */
static void hold_setup(void)
{
    abbey_err_t err;
    setup();
    quiet();
    memset(&fake, 0, sizeof fake);
    memset(&rounds, 0, sizeof rounds);
    pthread_mutex_init(&fake.lock, NULL);
    pthread_mutex_init(&rounds.lock, NULL);
    fake_srv = httpd_create(TOKEN, pool);
    httpd_route(fake_srv, "GET", "/v1/config", 0, h_config_real, NULL);
    httpd_route(fake_srv, "POST", "/v1/partials", 64 << 20, h_partials, NULL);
    ck_assert_msg(httpd_start(fake_srv, "127.0.0.1", 0, 8, &err) == APR_SUCCESS, "%s", err.msg);
    snprintf(fake_base, sizeof fake_base, "http://127.0.0.1:%d", httpd_port(fake_srv));
    m2_srv = httpd_create(TOKEN, pool);
    httpd_route(m2_srv, "POST", "/v1/partials", 64 << 20, h_partials, NULL);
    ck_assert_msg(httpd_start(m2_srv, "127.0.0.1", 0, 8, &err) == APR_SUCCESS, "%s", err.msg);
    const char *yaml = test_yaml(""), *m2_url = apr_psprintf(pool, "\"%s/\"", fake_base);
    const char *m2_at = strstr(yaml, m2_url);
    ck_assert_ptr_nonnull(m2_at);
    yaml = apr_psprintf(pool, "%.*s\"http://127.0.0.1:%d\"%s", (int)(m2_at - yaml), yaml,
                        httpd_port(m2_srv), m2_at + strlen(m2_url));
    const char *files = "";
    for (int i = 0; i < NFILES; i++) {
        const char *p = tpath(apr_psprintf(pool, "f%d.log", i));
        put_file(p, "w", gen_log(10 + i, ""));
        files = apr_psprintf(pool, "%s%s%s", files, i ? ", " : "", p);
    }
    const char *at = strstr(yaml, "    sources: [/dev/null]");
    ck_assert_ptr_nonnull(at);
    yaml = apr_psprintf(pool, "%.*s    round: 1s\n    sources: [%s]%s", (int)(at - yaml), yaml,
                        files, at + strlen("    sources: [/dev/null]"));
    ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), "t.yaml", pool, &cfg, &err) == APR_SUCCESS,
                  "%s\n%s", err.msg, yaml);
    test_cfg = cfg;
    fake.job = &cfg->jobs[0];
    snprintf(fake.config, sizeof fake.config, "%s", yaml);
    snprintf(fake.etag, sizeof fake.etag, "%s", cfg->hash_hex);
    sched_opts_t o = {.lease_ms = 30000, .lease_bytes = lease_bytes, .deadline_rounds = 3};
    sched = sched_create(cfg, &o, pool);
    sched_on_round_closed(sched, on_round, NULL);
    sched_register(sched, fake_srv);
}

static void hold_teardown(void)
{
    httpd_stop(fake_srv);
    httpd_stop(m2_srv);
    teardown();
    lease_bytes = 1 << 20;
}

/* The same with reads of 28 bytes at most (4 of gen_log's 7-byte lines): a file takes
 * several reads, and a worker's first read fills its frame (nothing combined with it). */
static void small_setup(void)
{
    lease_bytes = 28;
    hold_setup();
}

/* A slave of the real primary, named name, with workers workers, its config fetched,
 * started. */
static slave_t *run_slave_workers(const char *name, int workers)
{
    abbey_err_t err;
    slave_t *s = new_slave(workers, NULL);
    s->opts.name = name;
    ck_assert_int_eq(slave_config_update(s, hclient_create(TOKEN, 2000, 10000, pool), NULL, &err),
                     APR_SUCCESS);
    ck_assert_msg(slave_start(s, &err) == APR_SUCCESS, "%s", err.msg);
    return s;
}

static slave_t *run_slave(const char *name)
{
    return run_slave_workers(name, 2);
}

/* The scheduler's status: committed bytes over the read tasks, and the sticky leases
 * held by slave (NULL: anyone). */
static void st(uint64_t *committed, int *held, const char *slave)
{
    buf_t b;
    buf_init(&b);
    sched_status_json(sched, wall(), &b);
    json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL), *job, *x;
    size_t i, k;
    ck_assert_ptr_nonnull(j);
    *committed = 0;
    *held = 0;
    json_array_foreach(json_object_get(j, "jobs"), i, job)
    {
        json_array_foreach(json_object_get(job, "sources"), k, x) *committed +=
            (uint64_t)json_integer_value(json_object_get(x, "offset"));
        json_array_foreach(json_object_get(job, "leases"), k, x) *held +=
            json_is_true(json_object_get(x, "sticky")) &&
            (!slave || strcmp(json_string_value(json_object_get(x, "slave")), slave) == 0);
    }
    json_decref(j);
    buf_free(&b);
}

static uint64_t file_bytes(void)
{
    uint64_t n = 0;
    for (int i = 0; i < NFILES; i++) {
        long len;
        slurp(tpath(apr_psprintf(pool, "f%d.log", i)), 0, &len);
        n += (uint64_t)len;
    }
    return n;
}

/* Wait up to ms for every byte committed; 1 when it was. */
static int wait_committed(int ms)
{
    uint64_t c;
    int h;
    for (int t = 0; t < ms; t += 50) {
        st(&c, &h, NULL);
        if (c == file_bytes())
            return 1;
        usleep(50000);
    }
    return 0;
}

static uint64_t completed(void)
{
    buf_t m;
    uint64_t n = 0;
    buf_init(&m);
    sched_metrics(sched, &m);
    buf_put_u8(&m, 0);
    const char *at = strstr((char *)m.data, "abbey_leases_total{result=\"completed\"} ");
    ck_assert_ptr_nonnull(at);
    n = strtoull(at + strlen("abbey_leases_total{result=\"completed\"} "), NULL, 10);
    buf_free(&m);
    return n;
}

static int frames_lines(void)
{
    int n = 0;
    pthread_mutex_lock(&fake.lock);
    for (int i = 0; i < fake.nframes; i++)
        if (strcmp(fake.frames[i].master, "m1") == 0)
            n += (int)fake.frames[i].lines;
    pthread_mutex_unlock(&fake.lock);
    return n;
}

/* A batch read once; idle rounds close complete without a completion; growth is read within
 * two rounds; a stop gives every lease back. */
START_TEST(hold_reads_idles_and_releases)
{
    uint64_t c;
    int held;
    slave_t *s = run_slave("s1");
    ck_assert_msg(wait_committed(10000), "not every byte was committed");
    st(&c, &held, "s1");
    ck_assert_int_eq(held, NFILES);
    ck_assert_int_eq(frames_lines(), 10 + 11 + 12);
    /* idle: three rounds pass, closed complete, with no completion at all */
    usleep(1200000);
    uint64_t c0 = completed();
    pthread_mutex_lock(&rounds.lock);
    int closed0 = rounds.closed;
    pthread_mutex_unlock(&rounds.lock);
    usleep(3000000);
    ck_assert_uint_eq(completed(), c0);
    pthread_mutex_lock(&rounds.lock);
    ck_assert_int_ge(rounds.closed - closed0, 2);
    ck_assert_int_eq(rounds.incomplete, 0);
    pthread_mutex_unlock(&rounds.lock);
    /* growth: found by stat, read in a round or two */
    put_file(tpath("f1.log"), "a", gen_log(7, ""));
    ck_assert_msg(wait_committed(3000), "the appended lines were not read within 3 s");
    ck_assert_int_eq(frames_lines(), 10 + 11 + 12 + 7);
    ck_assert_uint_eq(completed(), c0 + 1);
    /* the new range's frames belong to the round of the check that read it, 4 s later than
     * the lease's first reads: its masters count it in that round (and its period) */
    pthread_mutex_lock(&fake.lock);
    uint64_t first = fake.frames[0].round, last = fake.frames[fake.nframes - 1].round;
    pthread_mutex_unlock(&fake.lock);
    ck_assert_uint_ge(last, first + 4);
    ck_assert_uint_le(last, (uint64_t)(wall() / 1000));
    slave_request_stop(s);
    slave_join(s);
    st(&c, &held, NULL);
    ck_assert_int_eq(held, 0); /* given back on stop */
}
END_TEST

/* A second slave joining gets its share: the first gives back what is past its own. */
START_TEST(hold_second_slave_gets_share)
{
    uint64_t c;
    int h1, h2;
    slave_t *s1 = run_slave("s1");
    ck_assert(wait_committed(10000));
    st(&c, &h1, "s1");
    ck_assert_int_eq(h1, NFILES);
    slave_t *s2 = run_slave("s2");
    for (int t = 0; t < 100; t++) { /* 10 s at most */
        st(&c, &h2, "s2");
        st(&c, &h1, "s1");
        if (h2 >= 1 && h1 + h2 == NFILES)
            break;
        usleep(100000);
    }
    ck_assert_int_eq(h1 + h2, NFILES);
    ck_assert_int_ge(h2, 1); /* shares of ceil(3 / 2) = 2: s2 holds 1 or 2 */
    ck_assert_int_ge(h1, 1);
    put_file(tpath("f0.log"), "a", gen_log(5, ""));
    put_file(tpath("f2.log"), "a", gen_log(4, ""));
    ck_assert(wait_committed(5000));
    ck_assert_int_eq(frames_lines(), 10 + 11 + 12 + 5 + 4);
    slave_request_stop(s1);
    slave_request_stop(s2);
    slave_join(s1);
    slave_join(s2);
}
END_TEST

/* One worker, three files grown in the same round: the holder's pass queues the three
 * leases together, the worker reads them in a row and sends each master one frame of the
 * three ranges; each lease is completed with its own range (docs/CLUSTER.md "Frames of
 * several ranges"). */
START_TEST(hold_one_worker_combines)
{
    uint64_t c, c0;
    int held, n0, n1;
    slave_t *s = run_slave_workers("s1", 1);
    ck_assert(wait_committed(10000));
    st(&c, &held, "s1");
    ck_assert_int_eq(held, NFILES);
    usleep(300000); /* the first reads' completions are in */
    c0 = completed();
    pthread_mutex_lock(&fake.lock);
    n0 = fake.nframes;
    pthread_mutex_unlock(&fake.lock);
    for (int i = 0; i < NFILES; i++)
        put_file(tpath(apr_psprintf(pool, "f%d.log", i)), "a", gen_log(3 + i, ""));
    ck_assert_msg(wait_committed(5000), "the appended lines were not read within 5 s");
    ck_assert_int_eq(frames_lines(), 10 + 11 + 12 + 3 + 4 + 5);
    for (int t = 0; t < 40 && completed() < c0 + NFILES; t++)
        usleep(50000);
    ck_assert_uint_eq(completed(), c0 + NFILES); /* a completion per lease */
    pthread_mutex_lock(&fake.lock);
    n1 = fake.nframes;
    ck_assert_int_eq(n1 - n0, 2); /* one frame per master */
    for (int i = n0; i < n1; i++) {
        ck_assert_uint_eq(fake.frames[i].nranges, NFILES);
        ck_assert_uint_eq(fake.frames[i].lines, 3 + 4 + 5);
        ck_assert_int_eq(fake.frames[i].answered, 200);
    }
    pthread_mutex_unlock(&fake.lock);
    slave_request_stop(s);
    slave_join(s);
}
END_TEST

/* A slave that joins gets, without waiting for the first one's reads, the leases the first
 * one had queued for its one busy worker: the first hears of "release" although it has
 * nothing to report (its worker's frame to m2 is answered 8 s late), gives back the queued
 * ones unread, and the second takes them; every line is counted once. */
START_TEST(hold_queued_given_back)
{
    uint64_t c;
    int h1 = 0, h2 = 0, done = 0;
    pthread_mutex_lock(&fake.lock);
    fake.script[1].slow_ms = 8000;
    pthread_mutex_unlock(&fake.lock);
    slave_t *s1 = run_slave_workers("s1", 1);
    for (int t = 0; t < 100 && h1 < NFILES; t++) { /* its one worker reads one of the three */
        usleep(50000);
        st(&c, &h1, "s1");
    }
    ck_assert_int_eq(h1, NFILES);
    slave_t *s2 = run_slave_workers("s2", 1);
    for (int t = 0; t < 200 && !h2 && !done; t++) { /* (the frame's 8 s bound the wait) */
        usleep(50000);
        st(&c, &h2, "s2");
        done = completed() > 0;
    }
    ck_assert_msg(h2 >= 1 && !done, "s2 holds %d lease(s) when s1 first completed one", h2);
    pthread_mutex_lock(&fake.lock);
    fake.script[1].slow_ms = 0;
    pthread_mutex_unlock(&fake.lock);
    ck_assert_msg(wait_committed(30000), "not every byte was committed");
    ck_assert_int_eq(frames_lines(), 10 + 11 + 12);
    st(&c, &h1, "s1");
    st(&c, &h2, "s2");
    ck_assert_int_eq(h1 + h2, NFILES);
    ck_assert_int_ge(h2, 1);
    slave_request_stop(s1);
    slave_request_stop(s2);
    slave_join(s1);
    slave_join(s2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("slave_hold");
    TCase *tc = tcase_create("hold");
    tcase_add_checked_fixture(tc, hold_setup, hold_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hold_reads_idles_and_releases);
    tcase_add_test(tc, hold_second_slave_gets_share);
    tcase_add_test(tc, hold_one_worker_combines);
    suite_add_tcase(s, tc);
    TCase *small = tcase_create("small_leases");
    tcase_add_checked_fixture(small, small_setup, hold_teardown);
    tcase_set_timeout(small, 90);
    tcase_add_test(small, hold_queued_given_back);
    suite_add_tcase(s, small);
    return s;
}

int main(void)
{
    hclient_global_init();
    return check_run(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
