/* check_partials.c - unit tests for slave/partials.c (the one client of
 * POST /v1/partials), hclient_base_url (common/hclient.c), and the same
 * answers through its three users: the worker's delivery (deliver.c), the
 * spool's re-delivery (spool.c) and abbey-replay (replay.c, run as a program).
 *
 * Answers are read from bodies written here by hand; posts go to the fake
 * masters of tests/fixture_slave.h, which record every frame they were sent
 * and answer as each test scripts them. The oracles are those records, the
 * spool's files on disk, the completions the fake primary received, and
 * abbey-replay's exit status. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "hclient.h"
#include "partials.h"
#include "slave.h"
#include "spool.h"

#define FIXTURE_SUITE "check_partials"
#include "fixture_slave.h"

/* =============================================================== reading */

/* What partials_read makes of an answer with this status and body. */
static partials_result_t read_answer(long status, const char *body, partials_answer_t *out)
{
    hclient_resp_t r;
    partials_result_t res;
    memset(&r, 0, sizeof r);
    buf_init(&r.body);
    r.status = status;
    buf_put(&r.body, body, strlen(body));
    res = partials_read(&r, pool, out);
    buf_free(&r.body);
    ck_assert_int_eq(out->status, status);
    return res;
}

START_TEST(read_200_results)
{
    partials_answer_t a;
    ck_assert_int_eq(read_answer(200, "{\"result\":\"merged\"}", &a), PARTIALS_MERGED);
    ck_assert_str_eq(a.reason, "");
    ck_assert_int_eq(read_answer(200, "{\"result\":\"duplicate\"}", &a), PARTIALS_DUPLICATE);
    ck_assert_int_eq(read_answer(200, "{\"result\":\"expired\"}", &a), PARTIALS_EXPIRED);
    ck_assert_str_eq(a.reason, "");
    ck_assert_ptr_null(a.have);
    /* a 200 that is not an abbey master's: never taken for a delivery */
    ck_assert_int_eq(read_answer(200, "{\"ok\":true}", &a), PARTIALS_REFUSED);
    ck_assert_str_eq(a.reason, "HTTP 200 without a result abbey knows: {\"ok\":true}");
    ck_assert_int_eq(read_answer(200, "{\"result\":\"accepted\"}", &a), PARTIALS_REFUSED);
    ck_assert_int_eq(read_answer(200, "<html>OK</html>", &a), PARTIALS_REFUSED);
    ck_assert_str_eq(a.reason, "HTTP 200 without a result abbey knows: <html>OK</html>");
    ck_assert_int_eq(read_answer(200, "", &a), PARTIALS_REFUSED);
}
END_TEST

/* A 409's ranges in any order, overlapping, empty and inverted pairs: one set. */
START_TEST(read_409_ranges)
{
    partials_answer_t a;
    uint64_t x, y, miss[4][2];
    ck_assert_int_eq(read_answer(409,
                                 "{\"result\":\"conflict\",\"ranges\":"
                                 "[[20,30],[0,10],[8,22],[40,40],[50,45],[60,70]]}",
                                 &a),
                     PARTIALS_CONFLICT);
    ck_assert_str_eq(a.reason, "");
    ck_assert_str_eq(a.ranges, "[[20,30],[0,10],[8,22],[40,40],[50,45],[60,70]]");
    ck_assert_uint_eq(ranges_count(a.have), 2);
    ranges_get(a.have, 0, &x, &y);
    ck_assert(x == 0 && y == 30);
    ranges_get(a.have, 1, &x, &y);
    ck_assert(x == 60 && y == 70);
    ck_assert_uint_eq(ranges_missing(a.have, 5, 80, miss, 4), 2);
    ck_assert(miss[0][0] == 30 && miss[0][1] == 60 && miss[1][0] == 70 && miss[1][1] == 80);
    /* an empty list: the master holds none of it */
    ck_assert_int_eq(read_answer(409, "{\"result\":\"conflict\",\"ranges\":[]}", &a),
                     PARTIALS_CONFLICT);
    ck_assert_uint_eq(ranges_count(a.have), 0);
}
END_TEST

/* A 409 whose "ranges" is not a list of [a, b] integer pairs >= 0 is refused
 * whole: no pair of it is taken for what the master holds. */
START_TEST(read_409_malformed_is_refused)
{
    static const char *bodies[] = {
        "{\"result\":\"conflict\"}",
        "{\"result\":\"conflict\",\"ranges\":\"0-10\"}",
        "{\"result\":\"conflict\",\"ranges\":[[0,10],[\"x\",3]]}",
        "{\"result\":\"conflict\",\"ranges\":[[0,10],[3]]}",
        "{\"result\":\"conflict\",\"ranges\":[[0,10],[1,2,3]]}",
        "{\"result\":\"conflict\",\"ranges\":[[0,10],[-5,3]]}",
        "{\"result\":\"conflict\",\"ranges\":[[0,10],[2.5,3]]}",
        "{\"result\":\"conflict\",\"ranges\":[[0,10],7]}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        partials_answer_t a;
        ck_assert_msg(read_answer(409, bodies[i], &a) == PARTIALS_REFUSED, "%s", bodies[i]);
        ck_assert_ptr_null(a.have);
        ck_assert_msg(strncmp(a.reason, "HTTP 409 without valid \"ranges\": ", 33) == 0, "%s",
                      a.reason);
    }
}
END_TEST

START_TEST(read_other_statuses)
{
    partials_answer_t a;
    ck_assert_int_eq(read_answer(503, "{\"error\":\"the journal is unavailable\"}", &a),
                     PARTIALS_UNAVAILABLE);
    ck_assert_str_eq(a.reason, "HTTP 503: the journal is unavailable");
    ck_assert_int_eq(read_answer(500, "oops", &a), PARTIALS_UNAVAILABLE);
    ck_assert_str_eq(a.reason, "HTTP 500: oops");
    ck_assert_int_eq(read_answer(400, "{\"error\":\"no job 'x'\\nhere\"}", &a), PARTIALS_REFUSED);
    ck_assert_str_eq(a.reason, "HTTP 400: no job 'x' here"); /* one line */
    ck_assert_int_eq(read_answer(401, "{\"error\":\"token\"}", &a), PARTIALS_REFUSED);
    ck_assert_int_eq(read_answer(413, "{\"error\":\"too big\"}", &a), PARTIALS_REFUSED);
    ck_assert_int_eq(read_answer(404, "", &a), PARTIALS_REFUSED);
    ck_assert_str_eq(a.reason, "HTTP 404: ");
    ck_assert_str_eq(partials_result_name(PARTIALS_EXPIRED), "expired");
    ck_assert_str_eq(partials_result_name(PARTIALS_REFUSED), "refused");
}
END_TEST

/* =================================================================== URLs */

START_TEST(urls_lose_trailing_slashes_only)
{
    ck_assert_str_eq(hclient_base_url("http://h:1", pool), "http://h:1");
    ck_assert_str_eq(hclient_base_url("http://h:1///", pool), "http://h:1");
    ck_assert_str_eq(hclient_base_url("https://h/a/", pool), "https://h/a");
    ck_assert_str_eq(hclient_base_url("http://", pool), "http://");
    ck_assert_str_eq(hclient_base_url("https:///", pool), "https://");
    ck_assert_ptr_null(hclient_base_url("ftp://h/", pool));
    ck_assert_ptr_null(hclient_base_url("h:1", pool));
    ck_assert_ptr_null(hclient_base_url("", pool));
    ck_assert_str_eq(partials_url("http://h:1", pool), "http://h:1/v1/partials");
    ck_assert_str_eq(partials_url("http://h:1//", pool), "http://h:1/v1/partials");
    ck_assert_str_eq(partials_url("https://h/m2/", pool), "https://h/m2/v1/partials");
}
END_TEST

/* ================================================================ posting */

/* A frame of [0, 10) of "x.log#1" for master m of the fake's job, with no rows. */
static void make_frame(buf_t *out, const char *m)
{
    const rules_job_t *job = fake.job;
    partial_t *p = partial_create(job, pool);
    uint8_t groups[8] = {0};
    frame_header_t h;
    abbey_err_t err;

    memset(&h, 0, sizeof h);
    h.config_hash = test_cfg->hash;
    h.round = 77;
    h.lease = 1;
    h.end = 10;
    snprintf(h.job, sizeof h.job, "%s", job->name);
    snprintf(h.source, sizeof h.source, "x.log#1");
    snprintf(h.slave, sizeof h.slave, "s1");
    snprintf(h.master, sizeof h.master, "%s", m);
    for (int g = 0; g < job->ngroups; g++)
        groups[g] = strcmp(test_cfg->masters[job->groups[g].master].name, m) == 0;
    buf_init(out);
    ck_assert_msg(frame_encode(&h, p, groups, out, &err) == APR_SUCCESS, "%s", err.msg);
    partial_destroy(p);
}

typedef struct retries_t {
    int n, next[4], tries[4], pause_ms[4];
} retries_t;

static void on_retry(void *ctx, int next, int tries, int pause_ms, const char *reason)
{
    retries_t *r = ctx;
    ck_assert_ptr_nonnull(strstr(reason, "503"));
    if (r->n < 4) {
        r->next[r->n] = next;
        r->tries[r->n] = tries;
        r->pause_ms[r->n] = pause_ms;
    }
    r->n++;
}

/* 503 twice, then merged: three POSTs, two retries announced with doubling pauses. */
START_TEST(post_tries_again_while_unavailable)
{
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    hclient_resp_t resp;
    retries_t seen = {0};
    partials_retry_t retry = {3, 1, on_retry, &seen};
    partials_answer_t a;
    buf_t f;

    make_frame(&f, "m2");
    buf_init(&resp.body);
    fake.script[1].fail503 = 2;
    ck_assert_int_eq(partials_post(hc, partials_url(apr_pstrcat(pool, fake_base, "/", NULL), pool),
                                   f.data, f.len, &retry, &resp, pool, &a),
                     PARTIALS_MERGED);
    ck_assert_int_eq(a.tries, 3);
    ck_assert_int_eq(fake.nframes, 3);
    ck_assert_int_eq(fake.frames[0].answered, 503);
    ck_assert_int_eq(fake.frames[1].answered, 503);
    ck_assert_int_eq(fake.frames[2].answered, 200);
    ck_assert_int_eq(seen.n, 2);
    ck_assert(seen.next[0] == 2 && seen.tries[0] == 3 && seen.pause_ms[0] == 1);
    ck_assert(seen.next[1] == 3 && seen.tries[1] == 3 && seen.pause_ms[1] == 2);
    /* unavailable every time: given up after the tries, with the last reason */
    fake.script[1].fail503 = 3;
    ck_assert_int_eq(
        partials_post(hc, partials_url(fake_base, pool), f.data, f.len, &retry, &resp, pool, &a),
        PARTIALS_UNAVAILABLE);
    ck_assert_int_eq(a.tries, 3);
    ck_assert_int_eq(a.status, 503);
    ck_assert_str_eq(a.reason, "HTTP 503: busy");
    ck_assert_int_eq(fake.nframes, 6);
    /* without a retry: once */
    fake.script[1].fail503 = 1;
    ck_assert_int_eq(
        partials_post(hc, partials_url(fake_base, pool), f.data, f.len, NULL, &resp, pool, &a),
        PARTIALS_UNAVAILABLE);
    ck_assert_int_eq(a.tries, 1);
    ck_assert_int_eq(fake.nframes, 7);
    buf_free(&resp.body);
    buf_free(&f);
}
END_TEST

/* A refusal and a conflict are answers: never tried again. */
START_TEST(post_refused_and_conflict_once)
{
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    hclient_resp_t resp;
    partials_retry_t retry = {3, 1, NULL, NULL};
    partials_answer_t a;
    uint64_t miss[2][2];
    buf_t f;

    make_frame(&f, "m2");
    buf_init(&resp.body);
    fake.script[1].refuse400 = 1;
    ck_assert_int_eq(
        partials_post(hc, partials_url(fake_base, pool), f.data, f.len, &retry, &resp, pool, &a),
        PARTIALS_REFUSED);
    ck_assert_int_eq(a.tries, 1);
    ck_assert_str_eq(a.reason, "HTTP 400: refused");
    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict, "[[0,4]]");
    ck_assert_int_eq(
        partials_post(hc, partials_url(fake_base, pool), f.data, f.len, &retry, &resp, pool, &a),
        PARTIALS_CONFLICT);
    ck_assert_int_eq(a.tries, 1);
    ck_assert_uint_eq(ranges_missing(a.have, 0, 10, miss, 2), 1);
    ck_assert(miss[0][0] == 4 && miss[0][1] == 10);
    ck_assert_int_eq(fake.nframes, 2);
    buf_free(&resp.body);
    buf_free(&f);
}
END_TEST

/* Nobody listening: unavailable, the reason names the call. */
START_TEST(post_no_answer)
{
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    hclient_resp_t resp;
    partials_retry_t retry = {2, 1, NULL, NULL};
    partials_answer_t a;
    const char *url;
    buf_t f;

    make_frame(&f, "m2");
    buf_init(&resp.body);
    httpd_stop(fake_srv);
    url = partials_url(fake_base, pool);
    ck_assert_int_eq(partials_post(hc, url, f.data, f.len, &retry, &resp, pool, &a),
                     PARTIALS_UNAVAILABLE);
    ck_assert_int_eq(a.status, 0);
    ck_assert_int_eq(a.tries, 2);
    ck_assert_msg(strncmp(a.reason, apr_pstrcat(pool, "POST ", url, ": ", NULL), strlen(url) + 7) ==
                      0,
                  "%s", a.reason);
    buf_free(&resp.body);
    buf_free(&f);
}
END_TEST

/* ================================================ the three users agree */

/* One read lease of all of p for the fake primary to hand out. */
static void lease(uint64_t id, const char *p)
{
    fake_queue(apr_psprintf(pool,
                            "{\"id\":%" PRIu64 ",\"job\":\"t\",\"kind\":\"read\",\"task\":1,"
                            "\"source\":\"%s\",\"instance\":\"\",\"start\":0,\"cap\":1048576,"
                            "\"round\":77,\"expires_ms\":4102444800000}",
                            id, p));
}

/* A log of n lines "u<i> 200". */
static const char *small_log(int n)
{
    const char *s = "";
    for (int i = 0; i < n; i++)
        s = apr_psprintf(pool, "%su%d 200\n", s, i);
    return s;
}

/* The deliveries of completion i: m2's result. */
static const char *m2_delivery(int i)
{
    json_t *c = completion(i);
    const char *r = apr_pstrdup(
        pool, json_string_value(json_object_get(json_object_get(c, "deliveries"), "m2")));
    json_decref(c);
    return r;
}

/* deliver.c: expired is delivered (the lease completes, "ok"); a 200 that is
 * not an abbey master's is not (the lease stays: it expires, read again). */
START_TEST(deliver_expired_yes_unknown_200_no)
{
    const char *p = tpath("d.log");
    slave_t *s = new_slave(1, NULL);
    worker_t *w = worker_create(s, 0);

    put_file(p, "w", small_log(20));
    snprintf(fake.script[1].body200, sizeof fake.script[1].body200, "{\"result\":\"expired\"}");
    lease(1, p);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 2);
    ck_assert_int_eq(fake.ncompletes, 1);
    ck_assert_str_eq(m2_delivery(0), "ok");
    ck_assert(log_has("delivered, but expired"));
    snprintf(fake.script[1].body200, sizeof fake.script[1].body200, "{\"ok\":true}");
    lease(2, p);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 4);
    ck_assert_int_eq(fake.frames[3].answered, 200);
    ck_assert_int_eq(fake.ncompletes, 1); /* not completed */
    ck_assert(log_has("refused: HTTP 200 without a result abbey knows: {\"ok\":true}"));
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* One frame of all of p spooled for m2 (m2 answers 503 twice). */
static void spool_frame(worker_t *w, uint64_t id, const char *p)
{
    int n0 = fake.nframes;
    fake.script[1].fail503 = 2;
    lease(id, p);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, n0 + 3);
    ck_assert_str_eq(m2_delivery(fake.ncompletes - 1), "spooled");
}

/* spool.c: expired acknowledges the frame (segment deleted); a 200 that is
 * not an abbey master's does not (kept, not held: the master is backed off);
 * a 409 with one malformed pair is refused whole (held), even though its
 * other pair covers the frame. */
START_TEST(spool_same_answers)
{
    const char *p = tpath("s.log"), *dir = tpath("spool"), *files[4];
    slave_t *s = new_slave(1, dir);
    worker_t *w = worker_create(s, 0);
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    spool_backlog_t b;

    put_file(p, "w", small_log(20));
    spool_frame(w, 1, p);
    snprintf(fake.script[1].body200, sizeof fake.script[1].body200, "{\"result\":\"expired\"}");
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 1000);
    ck_assert_int_eq(fake.nframes, 4);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 0);
    ck_assert(log_has("as expired"));

    spool_frame(w, 2, p);
    snprintf(fake.script[1].body200, sizeof fake.script[1].body200, "{\"ok\":true}");
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 2000);
    ck_assert_int_eq(fake.nframes, 8);
    ck_assert_int_eq(fake.frames[7].answered, 200);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    spool_backlog(s->spool, 2000, &b);
    ck_assert_uint_eq(b.frames, 1);
    ck_assert_uint_eq(b.held, 0);
    ck_assert(log_has("does not take spooled frames yet"));

    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict, "[[0,100000],[\"x\",3]]");
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 4000); /* after the backoff */
    ck_assert_int_eq(fake.nframes, 9);
    ck_assert_int_eq(fake.frames[8].answered, 409);
    spool_backlog(s->spool, 4000, &b);
    ck_assert_uint_eq(b.frames, 0);
    ck_assert_uint_eq(b.held, 1);
    ck_assert(log_has("HTTP 409 without valid \"ranges\""));
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* abbey-replay (the program) over dir with --primary: its exit status and
 * stderr into *err_text. */
static int run_replay(const char *dir, const char **err_text)
{
    const char *bdir = getenv("ABBEY_BUILDDIR"), *bin, *tok = tpath("token"), *errf;
    pid_t pid;
    int st;

    if (!bdir) { /* run by hand: this program is BUILDDIR/tests/check_partials */
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        ck_assert_int_gt(n, 0);
        self[n] = '\0';
        *strrchr(self, '/') = '\0';
        *strrchr(self, '/') = '\0';
        bdir = apr_pstrdup(pool, self);
    }
    bin = apr_pstrcat(pool, bdir, "/slave/abbey-replay", NULL);
    errf = tpath("replay.err");
    put_file(tok, "w", TOKEN "\n");
    chmod(tok, 0600);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        execl(bin, bin, "--primary", fake_base, "--token-file", tok, "--keep", dir, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    *err_text = slurp(errf, 0, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* replay.c: m2's url in the config ends in '/' (test_yaml): the frames reach
 * its /v1/partials; expired counts as delivered; a 200 that is not an abbey
 * master's is not delivered. */
START_TEST(replay_same_answers)
{
    const char *p = tpath("r.log"), *dir = tpath("spool"), *err;
    slave_t *s = new_slave(1, dir);
    worker_t *w = worker_create(s, 0);
    int rc;

    put_file(p, "w", small_log(20));
    spool_frame(w, 1, p);
    worker_destroy(w);
    slave_join(s);

    rc = run_replay(dir, &err);
    ck_assert_msg(rc == 0, "abbey-replay exited %d: %s", rc, err);
    ck_assert_int_eq(fake.nframes, 4);
    ck_assert_int_eq(fake.frames[3].answered, 200);
    ck_assert_str_eq(fake.frames[3].master, "m2");
    ck_assert_ptr_nonnull(
        strstr(err, "1 frames delivered (1 merged, 0 duplicate), 0 not delivered"));

    snprintf(fake.script[1].body200, sizeof fake.script[1].body200, "{\"result\":\"expired\"}");
    rc = run_replay(dir, &err);
    ck_assert_msg(rc == 0, "abbey-replay exited %d: %s", rc, err);
    ck_assert_ptr_nonnull(strstr(err, "says expired"));

    snprintf(fake.script[1].body200, sizeof fake.script[1].body200, "{\"ok\":true}");
    rc = run_replay(dir, &err);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(strstr(err, "refused: HTTP 200 without a result abbey knows"));
    ck_assert_int_eq(fake.nframes, 6);
}
END_TEST

static Suite *partials_suite(void)
{
    Suite *s = suite_create("partials");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, read_200_results);
    tcase_add_test(tc, read_409_ranges);
    tcase_add_test(tc, read_409_malformed_is_refused);
    tcase_add_test(tc, read_other_statuses);
    tcase_add_test(tc, urls_lose_trailing_slashes_only);
    suite_add_tcase(s, tc);
    tc = tcase_create("post");
    tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, post_tries_again_while_unavailable);
    tcase_add_test(tc, post_refused_and_conflict_once);
    tcase_add_test(tc, post_no_answer);
    suite_add_tcase(s, tc);
    tc = tcase_create("users");
    tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, deliver_expired_yes_unknown_200_no);
    tcase_add_test(tc, spool_same_answers);
    tcase_add_test(tc, replay_same_answers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(partials_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
