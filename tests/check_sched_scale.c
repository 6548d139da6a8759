/* check_sched_scale.c - unit tests for the scheduler's faces at scale: a glob's listing
 * sent in parts (master/sched_upload.c through sched_http_complete: order, a part sent
 * again, another slave's part, files or none, the SCHED_MAX_TASKS cap, the 64 MiB cap),
 * the summarised status (master/sched_status.c: counts by kind and state, lag and
 * committed bytes, the laggiest, pages of sources) and the lease-call metrics
 * (abbey_lease_calls_total, abbey_lease_batch_size). The handlers are called with fake
 * requests (tests/fixture_sched.h) over SCHED_YAML with the clock driven by hand; the
 * oracle is what the test sent and completed, counted by hand. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "httpd.h"
#include "rules.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_sched_scale"
#include "fixture_sched.h"

static void setup(void)
{
    sched_setup(SCHED_YAML, "sched.yaml", 0);
}

/* The body of a part of lease's listing by slave: paths /data/app-<i>.log for i in
 * [from, from + n), each with a file "7:<i + 1>" (no files when !files), at offset
 * (-1: absent) with more (-1: absent). len: each path padded with 'x' to at least len
 * bytes. Allocated in pool. */
static const char *part_body(const char *slave, uint64_t lease, int64_t from, int n, int files,
                             int64_t offset, int more, size_t len)
{
    json_t *paths = json_array(), *fs = json_array();
    char *pad = calloc(len + 1, 1);
    memset(pad, 'x', len);
    for (int i = 0; i < n; i++) {
        char p[64], id[32];
        snprintf(p, sizeof p, "/data/app-%" PRId64 ".log", from + i);
        json_array_append_new(
            paths, json_string(len > strlen(p) ? apr_pstrcat(pool, p, pad + strlen(p), NULL) : p));
        snprintf(id, sizeof id, "7:%" PRId64, from + i + 1);
        json_array_append_new(fs, json_pack("{s:s, s:i, s:i, s:s}", "id", id, "size", 0, "head", 0,
                                            "hash", "0000000000000000"));
    }
    free(pad);
    json_t *o =
        json_pack("{s:s, s:I, s:o}", "slave", slave, "lease", (json_int_t)lease, "paths", paths);
    if (files)
        json_object_set_new(o, "files", fs);
    else
        json_decref(fs);
    if (offset >= 0)
        json_object_set_new(o, "offset", json_integer(offset));
    if (more >= 0)
        json_object_set_new(o, "more", json_boolean(more));
    char *text = json_dumps(o, JSON_COMPACT);
    const char *body = apr_pstrdup(pool, text);
    free(text);
    json_decref(o);
    return body;
}

/* POST /v1/complete with body at now: the status; *received the answer's "received" (-1). */
static int post(sched_t *s, const char *body, int64_t now, int64_t *received, char *err, size_t n)
{
    json_t *j;
    int st = call(sched_http_complete, s, body, now, &j);
    json_t *r = json_object_get(j, "received"), *e = json_object_get(j, "error");
    if (received)
        *received = json_is_integer(r) ? json_integer_value(r) : -1;
    if (err)
        snprintf(err, n, "%s", e ? json_string_value(e) : "");
    json_decref(j);
    return st;
}

/* The job's "tasks" and "files" in the status. */
static void tasks_files(sched_t *s, int64_t now, int *tasks, int *files)
{
    json_t *j = status(s, now), *job = json_array_get(json_object_get(j, "jobs"), 0);
    *tasks = (int)json_integer_value(json_object_get(job, "tasks"));
    *files = (int)json_integer_value(json_object_get(job, "files"));
    json_decref(j);
}

/* The glob's lease (task 2) of a fresh scheduler. */
static uint64_t glob_lease(sched_t *s, int64_t now)
{
    sched_lease_t l[8];
    int n = lease(s, "s1", 8, now, l);
    const sched_lease_t *g = find(l, n, G);
    ck_assert_ptr_nonnull(g);
    return g->id;
}

/* ---- a listing in parts ---- */

START_TEST(test_parts_in_order)
{
    sched_t *s = mk(60000);
    uint64_t g = glob_lease(s, T0);
    int64_t got;
    char err[512];
    int tasks, files;

    ck_assert_int_eq(post(s, part_body("s1", g, 0, 3000, 1, 0, 1, 0), T0 + 1, &got, NULL, 0), 200);
    ck_assert_int_eq(got, 3000);
    /* the same part again (its answer lost): taken once */
    ck_assert_int_eq(post(s, part_body("s1", g, 0, 3000, 1, 0, 1, 0), T0 + 2, &got, NULL, 0), 200);
    ck_assert_int_eq(got, 3000);
    /* another slave's part for the lease: refused, the listing kept */
    ck_assert_int_eq(
        post(s, part_body("s2", g, 3000, 10, 1, 3000, 1, 0), T0 + 3, NULL, err, sizeof err), 409);
    ck_assert_msg(strstr(err, "not yours"), "%s", err);
    /* parts without files after parts with: 400 */
    ck_assert_int_eq(
        post(s, part_body("s1", g, 3000, 10, 0, 3000, 1, 0), T0 + 4, NULL, err, sizeof err), 400);
    /* that dropped the listing: a part at 3000 is now out of order, one at 0 starts over */
    ck_assert_int_eq(
        post(s, part_body("s1", g, 3000, 10, 1, 3000, 1, 0), T0 + 5, NULL, err, sizeof err), 409);
    ck_assert_msg(strstr(err, "offset 3000, where 0"), "%s", err);
    ck_assert_int_eq(post(s, part_body("s1", g, 0, 3000, 1, 0, 1, 0), T0 + 6, &got, NULL, 0), 200);
    ck_assert_int_eq(post(s, part_body("s1", g, 3000, 3000, 1, 3000, 1, 0), T0 + 7, &got, NULL, 0),
                     200);
    ck_assert_int_eq(got, 6000);
    /* a gap: 409 */
    ck_assert_int_eq(
        post(s, part_body("s1", g, 7000, 10, 1, 7000, 1, 0), T0 + 8, NULL, err, sizeof err), 409);
    /* nothing applied before the last part */
    tasks_files(s, T0 + 9, &tasks, &files);
    ck_assert_int_eq(tasks, 3);
    ck_assert_int_eq(files, 0);
    /* over again, three parts, the last without "more": one expansion of 7001 files */
    ck_assert_int_eq(post(s, part_body("s1", g, 0, 3000, 1, 0, 1, 0), T0 + 10, &got, NULL, 0), 200);
    ck_assert_int_eq(post(s, part_body("s1", g, 3000, 4000, 1, 3000, 1, 0), T0 + 11, &got, NULL, 0),
                     200);
    ck_assert_int_eq(post(s, part_body("s1", g, 7000, 1, 1, 7000, -1, 0), T0 + 12, &got, NULL, 0),
                     200);
    tasks_files(s, T0 + 13, &tasks, &files);
    ck_assert_int_eq(tasks, 3 + 7001);
    ck_assert_int_eq(files, 7001);
    /* the lease ended with its completion: a part for it is refused */
    ck_assert_int_eq(post(s, part_body("s1", g, 0, 1, 1, 0, 1, 0), T0 + 14, NULL, err, sizeof err),
                     409);
    /* a part without paths is malformed */
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"lease\":3,\"offset\":0,\"more\":true}",
        "paths");
    bad(sched_http_complete, s,
        "{\"slave\":\"s1\",\"lease\":3,\"paths\":[],\"offset\":-1,\"more\":true}", "offset");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"lease\":3,\"paths\":[],\"more\":1}", "more");
}
END_TEST

/* Parts keep the lease alive (each renews it); a listing whose lease expired is dropped. */
START_TEST(test_parts_renew)
{
    sched_t *s = mk(5000);
    uint64_t g = glob_lease(s, T0);
    int64_t got;
    int tasks, files;
    for (int k = 0; k < 4; k++) /* 4 parts 4 s apart: 16 s of a 5 s lease */
        ck_assert_int_eq(post(s, part_body("s1", g, k * 100, 100, 1, k * 100, 1, 0),
                              T0 + 4000 * (k + 1), &got, NULL, 0),
                         200);
    ck_assert_int_eq(got, 400);
    ck_assert_int_eq(post(s, part_body("s1", g, 400, 100, 1, 400, 0, 0), T0 + 20000, &got, NULL, 0),
                     200);
    tasks_files(s, T0 + 20001, &tasks, &files);
    ck_assert_int_eq(files, 500);
    /* a new round's glob lease, whose parts stop: the lease expires, the next part is
     * refused and the listing gone */
    sched_lease_t l[8];
    int n = lease(s, "s1", 8, T0 + RMS * 3, l);
    const sched_lease_t *x = find(l, n, G);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(
        post(s, part_body("s1", x->id, 0, 100, 1, 0, 1, 0), T0 + RMS * 3, &got, NULL, 0), 200);
    ck_assert_int_eq(
        post(s, part_body("s1", x->id, 100, 100, 1, 100, 1, 0), T0 + RMS * 3 + 6000, &got, NULL, 0),
        409);
}
END_TEST

/* SCHED_MAX_TASKS matches a listing: those past it are left out; the job's globs make
 * that many tasks besides the configured sources. */
START_TEST(test_parts_cap)
{
    sched_t *s = mk(600000);
    uint64_t g = glob_lease(s, T0);
    int64_t got = 0, at = 0;
    int tasks, files;
    const int part = 25000, total = SCHED_MAX_TASKS + 5;
    while (at < total) {
        int n = total - at < part ? (int)(total - at) : part;
        ck_assert_int_eq(
            post(s, part_body("s1", g, at, n, 1, at, at + n < total, 0), T0 + 1, &got, NULL, 0),
            200);
        at += n;
    }
    tasks_files(s, T0 + 2, &tasks, &files);
    ck_assert_int_eq(files, SCHED_MAX_TASKS);
    ck_assert_int_eq(tasks, 3 + SCHED_MAX_TASKS);
}
END_TEST

/* A listing over 64 MiB of paths: 413, and the listing dropped. */
START_TEST(test_parts_bytes)
{
    sched_t *s = mk(600000);
    uint64_t g = glob_lease(s, T0);
    int64_t got;
    char err[512];
    const int n = 4000; /* paths of 4000 bytes: 16 MB a part */
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(
            post(s, part_body("s1", g, k * n, n, 1, k * n, 1, 4000), T0 + 1, &got, NULL, 0), 200);
    ck_assert_int_eq(
        post(s, part_body("s1", g, 4 * n, n, 1, 4 * n, 1, 4000), T0 + 2, NULL, err, sizeof err),
        413);
    ck_assert_msg(strstr(err, "64 MiB"), "%s", err);
    ck_assert_int_eq(
        post(s, part_body("s1", g, 4 * n, 1, 1, 4 * n, 0, 0), T0 + 3, NULL, err, sizeof err),
        409); /* dropped: nothing to continue */
}
END_TEST

/* ---- the status, summarised ---- */

/* The status of s with q, parsed. */
static json_t *status_q(sched_t *s, const sched_status_query_t *q, int64_t now)
{
    buf_t st;
    buf_init(&st);
    sched_status_json_query(s, q, now, &st);
    json_t *j = json_loadb((const char *)st.data, st.len, 0, NULL);
    buf_free(&st);
    ck_assert_ptr_nonnull(j);
    return j;
}

static int64_t iget(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

START_TEST(test_status_summary)
{
    sched_t *s = mk(600000);
    uint64_t g = glob_lease(s, T0); /* leases 1 (a), 2 (b), g (the glob) */
    int64_t got;
    const int nf = 1500;
    /* the glob lists 1500 files: tasks 3 .. 1502 */
    ck_assert_int_eq(post(s, part_body("s1", g, 0, nf, 1, 0, 0, 0), T0 + 1, &got, NULL, 0), 200);
    /* a (task 0): [0, 100) of 400; b stays leased */
    ck_assert_int_eq(done_sz(s, "s1", 1, "8:1:0", 0, 100, 0, NULL, 400, T0 + 2), APR_SUCCESS);
    /* the next round: lease 60 tasks and complete each [0, 10 * i) of a size 1000 * i: lag
     * 990 * i, so the laggiest are the last ones */
    sched_lease_t l[256];
    int64_t t1 = T0 + RMS;
    int n = sched_lease(s, "s2", ALL, 2, 60, t1, l), lagged = 0;
    ck_assert_int_eq(n, 60);
    uint64_t committed = 100, lag = 300, bigfile = 0;
    for (int i = 0; i < n; i++) {
        if (l[i].kind != SCHED_READ || !l[i].file)
            continue; /* a, b (b is leased by s1: not here), the glob */
        int64_t k = ++lagged;
        ck_assert_int_eq(
            done_sz(s, "s2", l[i].id, l[i].instance, 0, 10 * k, 1, NULL, 1000 * k, t1 + 1),
            APR_SUCCESS);
        committed += (uint64_t)(10 * k);
        lag += (uint64_t)(990 * k);
        bigfile = (uint64_t)l[i].task;
    }
    ck_assert_int_ge(lagged, 50);

    sched_status_query_t q;
    sched_status_query_default(&q);
    json_t *j = status_q(s, &q, t1 + 2), *job = json_array_get(json_object_get(j, "jobs"), 0);
    ck_assert_int_eq(iget(job, "tasks"), 3 + nf);
    ck_assert_int_eq(iget(job, "files"), nf);
    json_t *c = json_object_get(job, "counts");
    ck_assert_int_eq(iget(c, "read"), 2 + nf);
    ck_assert_int_eq(iget(c, "expand"), 1);
    /* leased: b (s1); a was leased again in round 2 only if s2's 60 took it */
    int64_t leased = iget(c, "leased"), waiting = iget(c, "waiting"), idle = iget(c, "idle");
    ck_assert_int_eq(leased + waiting + idle + iget(c, "paused") + iget(c, "finished"), 3 + nf);
    ck_assert_int_eq(iget(c, "paused"), 0);
    ck_assert_int_eq(idle, lagged); /* done for the round */
    ck_assert_int_eq(leased, (int64_t)json_array_size(json_object_get(job, "leases")));
    ck_assert_int_eq(iget(job, "leases_active"), leased);
    ck_assert_int_eq(iget(c, "lag_unknown"), 2 + nf - 1 - lagged); /* all but a and the lagged */
    ck_assert_uint_eq((uint64_t)iget(job, "committed_bytes"), committed);
    ck_assert_uint_eq((uint64_t)iget(job, "lag_bytes"), lag);
    /* the laggiest: 10, most first, the last lagged file first */
    json_t *lg = json_object_get(job, "laggiest");
    ck_assert_int_eq(json_array_size(lg), SCHED_STATUS_LAGGIEST);
    ck_assert_int_eq(iget(json_array_get(lg, 0), "task"), (int64_t)bigfile);
    ck_assert_int_eq(iget(json_array_get(lg, 0), "lag_bytes"), 990 * lagged);
    for (size_t i = 1; i < json_array_size(lg); i++)
        ck_assert_int_eq(iget(json_array_get(lg, i), "lag_bytes"), 990 * (lagged - (int64_t)i));
    /* the first page: tasks 0 .. 999 */
    json_t *src = json_object_get(job, "sources");
    ck_assert_int_eq(json_array_size(src), SCHED_STATUS_LIMIT);
    ck_assert_int_eq(iget(json_array_get(src, 999), "task"), 999);
    ck_assert_int_eq(iget(job, "sources_offset"), 0);
    json_t *open = json_array_get(json_object_get(job, "open_rounds"), 0);
    ck_assert_int_le(json_array_size(json_object_get(open, "pending")), 100);
    ck_assert_int_eq(iget(open, "npending"), iget(open, "due") - iget(open, "done"));
    json_decref(j);

    /* the next page, 3 laggiest, one job by name */
    q.offset = 1000;
    q.limit = 600;
    q.laggiest = 3;
    q.job = "web";
    j = status_q(s, &q, t1 + 3);
    job = json_array_get(json_object_get(j, "jobs"), 0);
    src = json_object_get(job, "sources");
    ck_assert_int_eq(json_array_size(src), 3 + nf - 1000);
    ck_assert_int_eq(iget(json_array_get(src, 0), "task"), 1000);
    ck_assert_int_eq(json_array_size(json_object_get(job, "laggiest")), 3);
    ck_assert_int_eq(iget(job, "sources_offset"), 1000);
    json_decref(j);
    /* past the end, and another job: nothing listed */
    q.offset = 5000;
    j = status_q(s, &q, t1 + 4);
    job = json_array_get(json_object_get(j, "jobs"), 0);
    ck_assert_int_eq(json_array_size(json_object_get(job, "sources")), 0);
    ck_assert_int_eq(iget(job, "tasks"), 3 + nf);
    json_decref(j);
    q.job = "nosuch";
    j = status_q(s, &q, t1 + 5);
    ck_assert_int_eq(json_array_size(json_object_get(j, "jobs")), 0);
    json_decref(j);
}
END_TEST

/* ---- metrics ---- */

/* The value of the sample named by the line prefix key in text. */
static long long sample(const char *text, const char *key)
{
    char *k = apr_pstrcat(pool, "\n", key, " ", NULL);
    const char *p = strstr(text, k);
    ck_assert_msg(p != NULL, "no sample %s", key);
    return atoll(p + strlen(k));
}

START_TEST(test_lease_call_metrics)
{
    sched_t *s = mk(600000);
    json_t *j;
    /* three leases in one call, then an empty call, two refused calls, one of 1 */
    ck_assert_int_eq(call(sched_http_lease, s,
                          "{\"slave\":\"s1\",\"labels\":[\"rack1\",\"rack2\"],"
                          "\"max\":8}",
                          T0, &j),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "leases")), 3);
    json_decref(j);
    ck_assert_int_eq(
        call(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":8}", T0 + 1, &j), 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "leases")), 0);
    json_decref(j);
    bad(sched_http_lease, s, "{\"slave\":\"s1\"}", "labels");
    bad(sched_http_lease, s, "{", "JSON");
    ck_assert_int_eq(done(s, "s1", 1, "8:1:0", 0, 10, 1, NULL, T0 + 2), APR_SUCCESS);
    ck_assert_int_eq(
        call(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":8}", T0 + RMS, &j), 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "leases")), 1); /* a, next round */
    json_decref(j);

    buf_t m;
    buf_init(&m);
    buf_put(&m, "\n", 1);
    sched_metrics(s, &m);
    buf_put(&m, "", 1);
    const char *t = (const char *)m.data;
    ck_assert_int_eq(sample(t, "abbey_lease_calls_total{result=\"leases\"}"), 2);
    ck_assert_int_eq(sample(t, "abbey_lease_calls_total{result=\"empty\"}"), 1);
    ck_assert_int_eq(sample(t, "abbey_lease_calls_total{result=\"refused\"}"), 2);
    ck_assert_int_eq(sample(t, "abbey_lease_batch_size_bucket{le=\"0\"}"), 1);
    ck_assert_int_eq(sample(t, "abbey_lease_batch_size_bucket{le=\"1\"}"), 2);
    ck_assert_int_eq(sample(t, "abbey_lease_batch_size_bucket{le=\"2\"}"), 2);
    ck_assert_int_eq(sample(t, "abbey_lease_batch_size_bucket{le=\"4\"}"), 3);
    ck_assert_int_eq(sample(t, "abbey_lease_batch_size_bucket{le=\"+Inf\"}"), 3);
    ck_assert_int_eq(sample(t, "abbey_lease_batch_size_sum"), 4);
    ck_assert_int_eq(sample(t, "abbey_lease_batch_size_count"), 3);
    ck_assert_ptr_nonnull(strstr(t, "# TYPE abbey_lease_batch_size histogram\n"));
    ck_assert_ptr_nonnull(strstr(t, "# HELP abbey_lease_calls_total "));
    buf_free(&m);
}
END_TEST

static Suite *sched_scale_suite(void)
{
    Suite *s = suite_create("sched_scale");
    TCase *t = tcase_create("parts");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_parts_in_order);
    tcase_add_test(t, test_parts_renew);
    tcase_add_test(t, test_parts_cap);
    tcase_add_test(t, test_parts_bytes);
    tcase_set_timeout(t, 300);
    suite_add_tcase(s, t);
    t = tcase_create("status");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_status_summary);
    tcase_add_test(t, test_lease_call_metrics);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_run(sched_scale_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
