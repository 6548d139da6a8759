/* check_sched.c - unit tests for the primary's scheduler (master/sched*.c).
 *
 * The clock is driven by hand (no sleeping). The config: job "web", 10 s
 * rounds, sources /var/log/a.log (task 0), /var/log/b.log with labels
 * [rack1] (task 1) and the glob /data/app-*.log with labels [rack2]
 * (task 2). Expected values are worked out by hand in the comments; the
 * random test checks the rounds' ranges against the completions the test
 * itself made (the union must be exactly what was committed, no overlap).
 * The HTTP handlers are called with fake requests, and once through the
 * real server (master/httpd.c) on 127.0.0.1. The config-independent helpers
 * (clock, lease, complete, status) are tests/fixture_sched.h. */
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "hclient.h"
#include "httpd.h"
#include "rules.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_sched"
#include "fixture_sched.h"

static const char *YAML = "masters:\n"
                          "  - {name: m1, url: 'http://127.0.0.1:7101', weight: 1}\n"
                          "  - {name: m2, url: 'http://127.0.0.1:7102', weight: 1}\n"
                          "jobs:\n"
                          "  - name: web\n"
                          "    round: 10s\n"
                          "    sources:\n"
                          "      - " A "\n"
                          "      - {path: " B ", labels: [rack1]}\n"
                          "      - {path: '" G "', labels: [rack2]}\n"
                          "    format: combined\n"
                          "    groups:\n"
                          "      - name: g\n"
                          "        entries:\n"
                          "          - name: e\n"
                          "            values: {hits: count}\n";

static void setup(void)
{
    sched_setup(YAML, "sched.yaml", 0);
}

/* ---- closed-round recorder ---- */

#define REC_MAX 16
typedef struct rec_t {
    int n;
    int64_t round[REC_MAX];
    int incomplete[REC_MAX];
    char ranges[REC_MAX][512]; /* "source start end;" ... */
    char missing[REC_MAX][64]; /* "0 1 " ... */
} rec_t;

static void record(void *ctx, const char *job, const sched_round_t *r)
{
    rec_t *rec = ctx;
    ck_assert_str_eq(job, "web");
    ck_assert_int_lt(rec->n, REC_MAX);
    int i = rec->n++;
    rec->round[i] = r->round;
    rec->incomplete[i] = r->incomplete;
    rec->ranges[i][0] = rec->missing[i][0] = 0;
    for (int k = 0; k < r->nranges; k++) {
        size_t len = strlen(rec->ranges[i]);
        snprintf(rec->ranges[i] + len, sizeof(rec->ranges[i]) - len, "%s %" PRIu64 " %" PRIu64 ";",
                 r->ranges[k].source, r->ranges[k].start, r->ranges[k].end);
    }
    for (int k = 0; k < r->nmissing; k++) {
        size_t len = strlen(rec->missing[i]);
        snprintf(rec->missing[i] + len, sizeof(rec->missing[i]) - len, "%d ", r->missing[k]);
    }
}

/* ---- tcase leases ---- */

START_TEST(test_first_round)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    int n = lease(s, "s1", 8, T0 + 5, l);
    ck_assert_int_eq(n, 3);
    const sched_lease_t *a = find(l, n, A), *b = find(l, n, B), *g = find(l, n, G);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(a->kind, SCHED_READ);
    ck_assert_int_eq(b->kind, SCHED_READ);
    ck_assert_int_eq(g->kind, SCHED_EXPAND);
    ck_assert_int_eq(a->task, 0);
    ck_assert_int_eq(b->task, 1);
    ck_assert_int_eq(g->task, 2);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(l[i].job, "web");
        ck_assert_str_eq(l[i].instance, "");
        ck_assert_uint_eq(l[i].start, 0);
        ck_assert_uint_eq(l[i].cap, 1000);
        ck_assert_int_eq(l[i].round, R0);
        ck_assert_int_eq(l[i].expires_ms, T0 + 5 + 5000);
        ck_assert_uint_eq(l[i].id, (uint64_t)i + 1); /* unique, increasing from 1 */
    }
    /* every task holds a lease: nothing more, for anyone */
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 6, l), 0);
    ck_assert_int_eq(lease(s, "s2", 8, T0 + 6, l), 0);
}
END_TEST

START_TEST(test_labels)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    /* no labels: only a.log (b needs rack1, the glob rack2) */
    int n = sched_lease(s, "bare", NULL, 0, 8, T0, l);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(l[0].source, A);
    /* rack1 only: b.log, not the glob */
    const char *r1[] = {"rack1"};
    n = sched_lease(s, "r1", r1, 1, 8, T0, l);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(l[0].source, B);
    /* extra labels do not hurt: rack2 + other gets the glob */
    const char *r2[] = {"other", "rack2"};
    n = sched_lease(s, "r2", r2, 2, 8, T0, l);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(l[0].source, G);
}
END_TEST

START_TEST(test_max)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    ck_assert_int_eq(lease(s, "s1", 0, T0, l), 0);
    ck_assert_int_eq(lease(s, "s1", -3, T0, l), 0);
    int n1 = lease(s, "s1", 2, T0, l);
    ck_assert_int_eq(n1, 2);
    int seen[3] = {0};
    seen[l[0].task]++;
    seen[l[1].task]++;
    ck_assert_int_eq(lease(s, "s2", 2, T0, l), 1); /* the one left */
    seen[l[0].task]++;
    ck_assert_int_eq(lease(s, "s3", 2, T0, l), 0);
    ck_assert_int_eq(seen[0] + seen[1] + seen[2], 3);
    ck_assert_int_eq(seen[0] * seen[1] * seen[2], 1); /* each task exactly once */
}
END_TEST

START_TEST(test_order_least_recent)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    /* T0: ties (never leased) go to the lowest task: 0 */
    ck_assert_int_eq(lease(s, "s1", 1, T0, l), 1);
    ck_assert_int_eq(l[0].task, 0);
    ck_assert_int_eq(done(s, "s1", l[0].id, "i", 0, 10, 0, NULL, T0), APR_SUCCESS);
    /* T0 + 1: task 1 (never leased) before task 0 (leased at T0) */
    ck_assert_int_eq(lease(s, "s1", 1, T0 + 1, l), 1);
    ck_assert_int_eq(l[0].task, 1);
    ck_assert_int_eq(done(s, "s1", l[0].id, "j", 0, 0, 1, NULL, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 1, T0 + 2, l), 1);
    ck_assert_int_eq(l[0].task, 2); /* held, expires at T0 + 5002 */
    ck_assert_int_eq(lease(s, "s1", 1, T0 + 3, l), 1);
    ck_assert_int_eq(l[0].task, 0);
    ck_assert_int_eq(done(s, "s1", l[0].id, "i", 10, 20, 1, NULL, T0 + 3), APR_SUCCESS);
    /* R0 + 1 (R0 still open: the glob is not done). The glob first: it is due
     * for the older round R0 although leased last but one (T0 + 2); then in
     * R0 + 1 the least recently leased: task 1 (T0 + 1), task 0 (T0 + 3). */
    ck_assert_int_eq(lease(s, "s1", 8, T0 + RMS, l), 3);
    ck_assert_int_eq(l[0].task, 2);
    ck_assert_int_eq(l[0].round, R0);
    ck_assert_int_eq(l[1].task, 1);
    ck_assert_int_eq(l[1].round, R0 + 1);
    ck_assert_int_eq(l[2].task, 0);
    ck_assert_int_eq(l[2].round, R0 + 1);
    ck_assert_uint_eq(l[2].start, 20);
}
END_TEST

/* ---- tcase completions ---- */

START_TEST(test_commit_offsets)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    const sched_lease_t *a = find(l, 3, A);
    ck_assert_int_eq(done(s, "s1", a->id, "8:1:0", 0, 1000, 1, "", T0 + 10), APR_SUCCESS);
    /* a is done for R0: not leased again in R0 */
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 20, l), 0);
    /* next round: from the committed offset, with the instance the slave named */
    int n = lease(s, "s1", 8, T0 + RMS, l);
    ck_assert_int_ge(n, 1);
    a = find(l, n, A);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->instance, "8:1:0");
    ck_assert_uint_eq(a->start, 1000);
    ck_assert_int_eq(a->round, R0 + 1);
    uint64_t id = a->id;
    /* at_end false: still due in the same round, from the new start */
    ck_assert_int_eq(done(s, "s1", id, "8:1:0", 1000, 2000, 0, NULL, T0 + RMS + 1), APR_SUCCESS);
    n = lease(s, "s1", 8, T0 + RMS + 2, l);
    a = find(l, n, A);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->start, 2000);
    ck_assert_int_eq(a->round, R0 + 1);
}
END_TEST

START_TEST(test_completion_errors)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    const sched_lease_t *a = find(l, 3, A);
    ck_assert_int_eq(done(s, "s1", a->id, "8:1:0", 0, 500, 0, NULL, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 2, l), 1);
    uint64_t id = l[0].id;
    ck_assert_uint_eq(l[0].start, 500);

    ck_assert_int_eq(done(s, "s2", id, "8:1:0", 500, 600, 1, NULL, T0 + 3), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "not yours"));
    ck_assert_int_eq(done(s, "s1", 9999, "8:1:0", 500, 600, 1, NULL, T0 + 3), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "lease 9999 is not yours"));
    ck_assert_int_eq(done(s, "s1", id, "8:1:0", 400, 600, 1, NULL, T0 + 3), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "committed offset 500"));
    ck_assert_int_eq(done(s, "s1", id, "8:9:0", 500, 600, 1, NULL, T0 + 3), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "instance"));
    ck_assert_int_eq(done(s, "s1", id, "8:1:0", 500, 499, 1, NULL, T0 + 3), APR_BADARG);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "'end'"));
    ck_assert_int_eq(done(s, "s1", id, "8:1:0", 500, -1, 1, NULL, T0 + 3), APR_BADARG);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "'end' missing"));
    ck_assert_int_eq(done(s, "s1", id, NULL, 500, 600, 1, NULL, T0 + 3), APR_BADARG);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "'instance' missing"));
    ck_assert_int_eq(done(s, "s1", id, "8:1:0", 500, 600, -1, NULL, T0 + 3), APR_BADARG);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "'at_end' missing"));
    /* the refusals left the lease alone: the right completion goes through, once */
    ck_assert_int_eq(done(s, "s1", id, "8:1:0", 500, 600, 1, NULL, T0 + 4), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", id, "8:1:0", 600, 700, 1, NULL, T0 + 5), APR_EINVAL);
}
END_TEST

START_TEST(test_expiry)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    const sched_lease_t *a = find(l, 3, A);
    ck_assert_int_eq(done(s, "s1", a->id, "8:1:0", 0, 500, 0, NULL, T0 + 100), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 200, l), 1);
    uint64_t first = l[0].id;
    ck_assert_int_eq(l[0].expires_ms, T0 + 5200);
    /* b and the glob expired at T0 + 5000; a not yet */
    int n = lease(s, "s2", 8, T0 + 5199, l);
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_null(find(l, n, A));
    /* at expiry: the same task, from the same offset, to s2 */
    ck_assert_int_eq(lease(s, "s2", 8, T0 + 5200, l), 1);
    a = find(l, 1, A);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->start, 500);
    ck_assert_str_eq(a->instance, "8:1:0");
    ck_assert_uint_ne(a->id, first);
    ck_assert_int_eq(done(s, "s1", first, "8:1:0", 500, 900, 1, NULL, T0 + 5300), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "expired?"));
    ck_assert_int_eq(done(s, "s2", a->id, "8:1:0", 500, 900, 1, NULL, T0 + 5300), APR_SUCCESS);

    buf_t m;
    buf_init(&m);
    sched_metrics(s, &m);
    buf_put_u8(&m, 0);
    /* granted 3 + 1 + 2 + 1; completed 2; expired: b, the glob, a's second lease */
    ck_assert_ptr_nonnull(strstr((char *)m.data, "abbey_leases_total{result=\"granted\"} 7\n"));
    ck_assert_ptr_nonnull(strstr((char *)m.data, "abbey_leases_total{result=\"completed\"} 2\n"));
    ck_assert_ptr_nonnull(strstr((char *)m.data, "abbey_leases_total{result=\"expired\"} 3\n"));
    ck_assert_ptr_nonnull(strstr((char *)m.data, "abbey_leases{state=\"active\"} 2\n"));
    ck_assert_ptr_nonnull(strstr((char *)m.data, "abbey_tasks{job=\"web\"} 3\n"));
    buf_free(&m);
}
END_TEST

START_TEST(test_expiry_by_tick)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    ck_assert_int_eq(lease(s, "s1", 1, T0, l), 1);
    uint64_t id = l[0].id;
    sched_tick(s, T0 + 5000);
    /* expired by the tick: the completion is refused */
    ck_assert_int_eq(done(s, "s1", id, "x", 0, 10, 1, NULL, T0 + 5001), APR_EINVAL);
}
END_TEST

START_TEST(test_renew)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    int64_t exp = 0;
    ck_assert_int_eq(lease(s, "s1", 1, T0, l), 1);
    uint64_t id = l[0].id;
    ck_assert_int_eq(sched_renew(s, "s1", id, T0 + 4000, &exp), APR_SUCCESS);
    ck_assert_int_eq(exp, T0 + 9000);
    ck_assert_int_eq(sched_renew(s, "s2", id, T0 + 4000, &exp), APR_NOTFOUND);
    ck_assert_int_eq(sched_renew(s, "s1", 12345, T0 + 4000, &exp), APR_NOTFOUND);
    /* past the original expiry, still held */
    ck_assert_int_eq(lease(s, "s2", 8, T0 + 8999, l), 2);
    ck_assert_ptr_null(find(l, 2, A));
    /* then it expires: renew says gone */
    ck_assert_int_eq(sched_renew(s, "s1", id, T0 + 9000, &exp), APR_NOTFOUND);
}
END_TEST

START_TEST(test_expand)
{
    sched_t *s = mk(60000);
    sched_lease_t l[8];
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    uint64_t gid = find(l, 3, G)->id;
    /* without paths: 400 */
    ck_assert_int_eq(expand(s, "s1", gid, NULL, -1, T0 + 1), APR_BADARG);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "'paths'"));
    const char *p1[] = {"/data/app-1.log", "/data/app-2.log", "/data/app-1.log"};
    ck_assert_int_eq(expand(s, "s1", gid, p1, 3, T0 + 1), APR_SUCCESS);
    /* new tasks 3 and 4 join the next round, not this one */
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 2, l), 0);
    int n = lease(s, "s1", 8, T0 + RMS, l); /* R0 + 1: glob, app-1, app-2 (a, b still leased) */
    ck_assert_int_eq(n, 3);
    const sched_lease_t *x1 = find(l, n, "/data/app-1.log"), *x2 = find(l, n, "/data/app-2.log");
    ck_assert_ptr_nonnull(x1);
    ck_assert_ptr_nonnull(x2);
    ck_assert_int_eq(x1->kind, SCHED_READ);
    ck_assert_int_eq(x1->task, 3);
    ck_assert_int_eq(x2->task, 4);
    ck_assert_int_eq(x1->round, R0 + 1);
    /* labels inherited from the glob: a slave without rack2 is not given them */
    gid = find(l, n, G)->id;
    /* a known path (even a file source's) keeps its task; one new one is added */
    const char *p2[] = {"/data/app-2.log", "/data/app-3.log", A};
    ck_assert_int_eq(expand(s, "s1", gid, p2, 3, T0 + RMS + 1), APR_SUCCESS);
    buf_t m;
    buf_init(&m);
    sched_metrics(s, &m);
    buf_put_u8(&m, 0);
    ck_assert_ptr_nonnull(strstr((char *)m.data, "abbey_tasks{job=\"web\"} 6\n"));
    buf_free(&m);
    /* R0 + 2: app-3 (task 5) is due; needs rack2 */
    const char *r1[] = {"rack1"};
    n = sched_lease(s, "r1", r1, 1, 8, T0 + 2 * RMS, l);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strncmp(l[i].source, "/data/", 6) != 0, "%s leased without rack2",
                      l[i].source);
    n = lease(s, "s1", 8, T0 + 2 * RMS, l);
    ck_assert_ptr_nonnull(find(l, n, "/data/app-3.log"));
    ck_assert_int_eq(find(l, n, "/data/app-3.log")->task, 5);
}
END_TEST

START_TEST(test_rotation)
{
    sched_t *s = mk(60000);
    rec_t rec = {0};
    sched_lease_t l[8];
    sched_on_round_closed(s, record, &rec);
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    uint64_t a = find(l, 3, A)->id, b = find(l, 3, B)->id, g = find(l, 3, G)->id;
    ck_assert_int_eq(done(s, "s1", a, "8:1:0", 0, 700, 0, "8:2:0", T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 2, l), 1);
    ck_assert_str_eq(l[0].source, A);
    ck_assert_str_eq(l[0].instance, "8:2:0");
    ck_assert_uint_eq(l[0].start, 0);
    a = l[0].id;
    /* the old instance is done: completing against it is refused */
    ck_assert_int_eq(done(s, "s1", a, "8:1:0", 700, 800, 1, NULL, T0 + 3), APR_EINVAL);
    ck_assert_int_eq(done(s, "s1", a, "8:2:0", 0, 300, 1, NULL, T0 + 3), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", b, "8:5:0", 0, 0, 1, NULL, T0 + 4), APR_SUCCESS);
    const char *none[] = {NULL};
    ck_assert_int_eq(expand(s, "s1", g, none, 0, T0 + 5), APR_SUCCESS);
    /* round R0 closed; b read nothing: no range */
    ck_assert_int_eq(rec.n, 1);
    ck_assert_int_eq(rec.round[0], R0);
    ck_assert_int_eq(rec.incomplete[0], 0);
    ck_assert_str_eq(rec.ranges[0], A "#8:1:0 0 700;" A "#8:2:0 0 300;");
}
END_TEST

/* ---- tcase rounds ---- */

/* Complete every task of round R0 leased to s1 (a in two pieces). */
static void finish_round0(sched_t *s)
{
    sched_lease_t l[8];
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    uint64_t a = find(l, 3, A)->id, b = find(l, 3, B)->id, g = find(l, 3, G)->id;
    ck_assert_int_eq(done(s, "s1", b, "8:5:0", 0, 40, 1, NULL, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", a, "8:1:0", 0, 100, 0, NULL, T0 + 2), APR_SUCCESS);
    const char *none[] = {NULL};
    ck_assert_int_eq(expand(s, "s1", g, none, 0, T0 + 3), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 4, l), 1);
    ck_assert_int_eq(done(s, "s1", l[0].id, "8:1:0", 100, 250, 1, NULL, T0 + 5), APR_SUCCESS);
}

START_TEST(test_round_complete)
{
    sched_t *s = mk(60000);
    rec_t rec = {0};
    sched_on_round_closed(s, record, &rec);
    finish_round0(s);
    ck_assert_int_eq(rec.n, 1);
    ck_assert_int_eq(rec.round[0], R0);
    ck_assert_int_eq(rec.incomplete[0], 0);
    /* a's two pieces are adjacent: listed as one range */
    ck_assert_str_eq(rec.ranges[0], B "#8:5:0 0 40;" A "#8:1:0 0 250;");
    sched_tick(s, T0 + 9999);
    ck_assert_int_eq(rec.n, 1);
    /* the next round starts; nothing is done in it: it stays open until its deadline */
    sched_tick(s, T0 + RMS);
    sched_tick(s, T0 + RMS + 3 * RMS - 1);
    ck_assert_int_eq(rec.n, 1);
    sched_tick(s, T0 + RMS + 3 * RMS);
    ck_assert_int_eq(rec.n, 2);
    ck_assert_int_eq(rec.round[1], R0 + 1);
    ck_assert_int_eq(rec.incomplete[1], 1);
    ck_assert_str_eq(rec.missing[1], "0 1 2 ");
    ck_assert_str_eq(rec.ranges[1], "");
}
END_TEST

START_TEST(test_round_deadline_and_jump)
{
    sched_t *s = mk(5000);
    rec_t rec = {0};
    sched_lease_t l[8];
    sched_on_round_closed(s, record, &rec);
    finish_round0(s);
    /* R0 + 1: b and the glob done, a read in part */
    int64_t t1 = T0 + RMS;
    ck_assert_int_eq(lease(s, "s1", 8, t1, l), 3);
    ck_assert_int_eq(done(s, "s1", find(l, 3, B)->id, "8:5:0", 40, 90, 1, NULL, t1 + 1),
                     APR_SUCCESS);
    const char *none[] = {NULL};
    ck_assert_int_eq(expand(s, "s1", find(l, 3, G)->id, none, 0, t1 + 1), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, 3, A)->id, "8:1:0", 250, 300, 0, NULL, t1 + 2),
                     APR_SUCCESS);
    /* no call until well past R0 + 1's deadline (t1 + 30 s): R0 + 2 and R0 + 3 are
     * never created; R0 + 1 closes incomplete, missing task 0; R0 + 6 starts */
    sched_tick(s, t1 + 3 * RMS + 2 * RMS + 7);
    ck_assert_int_eq(rec.n, 2);
    ck_assert_int_eq(rec.round[1], R0 + 1);
    ck_assert_int_eq(rec.incomplete[1], 1);
    ck_assert_str_eq(rec.missing[1], "0 ");
    ck_assert_str_eq(rec.ranges[1], B "#8:5:0 40 90;" A "#8:1:0 250 300;");
    ck_assert_int_eq(lease(s, "s1", 8, t1 + 5 * RMS + 8, l), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(l[i].round, R0 + 6);
    ck_assert_uint_eq(find(l, 3, A)->start, 300);

    /* GET /v1/rounds: exactly the closed rounds after `after`, increasing */
    httpd_resp_t resp = {.status = 200};
    json_t *j;
    char after[32];
    buf_init(&resp.body);
    snprintf(after, sizeof(after), "%" PRId64, R0 - 1);
    sched_http_rounds(s, "web", after, &resp);
    ck_assert_int_eq(resp.status, 200);
    j = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "job")), "web");
    json_t *rounds = json_object_get(j, "rounds");
    ck_assert_int_eq(json_array_size(rounds), 2);
    json_t *r0 = json_array_get(rounds, 0), *r1 = json_array_get(rounds, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "round")), R0);
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "start_ms")), T0);
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "deadline_ms")), T0 + 3 * RMS);
    ck_assert(json_is_false(json_object_get(r0, "incomplete")));
    ck_assert_int_eq(json_array_size(json_object_get(r0, "ranges")), 2);
    json_t *g0 = json_array_get(json_object_get(r0, "ranges"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(g0, "source")), A "#8:1:0");
    ck_assert_int_eq(json_integer_value(json_object_get(g0, "start")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(g0, "end")), 250);
    ck_assert_int_eq(json_integer_value(json_object_get(r1, "round")), R0 + 1);
    ck_assert(json_is_true(json_object_get(r1, "incomplete")));
    json_decref(j);

    snprintf(after, sizeof(after), "%" PRId64, R0);
    sched_http_rounds(s, "web", after, &resp);
    j = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
    rounds = json_object_get(j, "rounds");
    ck_assert_int_eq(json_array_size(rounds), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rounds, 0), "round")),
                     R0 + 1);
    json_decref(j);
    snprintf(after, sizeof(after), "%" PRId64, R0 + 1);
    sched_http_rounds(s, "web", after, &resp);
    j = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(j, "rounds")), 0);
    json_decref(j);
    /* without after: all of them */
    sched_http_rounds(s, "web", NULL, &resp);
    j = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(j, "rounds")), 2);
    json_decref(j);
    sched_http_rounds(s, "nope", "1", &resp);
    ck_assert_int_eq(resp.status, 404);
    sched_http_rounds(s, NULL, "1", &resp);
    ck_assert_int_eq(resp.status, 400);
    ck_assert_ptr_nonnull(memmem(resp.body.data, resp.body.len, "'job'", 5));
    sched_http_rounds(s, "web", "12x", &resp);
    ck_assert_int_eq(resp.status, 400);
    ck_assert_ptr_nonnull(memmem(resp.body.data, resp.body.len, "'after'", 7));
    buf_free(&resp.body);
}
END_TEST

START_TEST(test_late_completion)
{
    /* a lease outlives its round's deadline: the range is listed in the job's
     * oldest open round, which still wants its own at_end for the task */
    sched_t *s = mk(100000);
    rec_t rec = {0};
    sched_lease_t l[8];
    sched_on_round_closed(s, record, &rec);
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    uint64_t a = find(l, 3, A)->id;
    ck_assert_int_eq(done(s, "s1", find(l, 3, B)->id, "b", 0, 5, 1, NULL, T0 + 1), APR_SUCCESS);
    const char *none[] = {NULL};
    ck_assert_int_eq(expand(s, "s1", find(l, 3, G)->id, none, 0, T0 + 1), APR_SUCCESS);
    sched_tick(s, T0 + 3 * RMS); /* R0 closes incomplete, R0 + 3 starts */
    ck_assert_int_eq(rec.n, 1);
    ck_assert_int_eq(rec.incomplete[0], 1);
    ck_assert_str_eq(rec.missing[0], "0 ");
    ck_assert_str_eq(rec.ranges[0], B "#b 0 5;");
    ck_assert_int_eq(done(s, "s1", a, "a", 0, 100, 1, NULL, T0 + 3 * RMS + 1), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 3 * RMS + 2, l), 3);
    ck_assert_uint_eq(find(l, 3, A)->start, 100);
    ck_assert_int_eq(find(l, 3, A)->round, R0 + 3);
    ck_assert_int_eq(done(s, "s1", find(l, 3, A)->id, "a", 100, 100, 1, NULL, T0 + 3 * RMS + 3),
                     APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, 3, B)->id, "b", 5, 5, 1, NULL, T0 + 3 * RMS + 3),
                     APR_SUCCESS);
    ck_assert_int_eq(expand(s, "s1", find(l, 3, G)->id, none, 0, T0 + 3 * RMS + 3), APR_SUCCESS);
    ck_assert_int_eq(rec.n, 2);
    ck_assert_int_eq(rec.round[1], R0 + 3);
    ck_assert_int_eq(rec.incomplete[1], 0);
    ck_assert_str_eq(rec.ranges[1], A "#a 0 100;");
}
END_TEST

/* Random leases, partial reads, rotations and expiries over many rounds. The
 * oracle: for each source id, the ranges the test saw accepted, which must
 * be exactly the union of the closed rounds' ranges, and contiguous from 0. */
typedef struct oracle_t {
    int n;
    char src[64][64];
    uint64_t bytes[64]; /* accepted bytes per source id */
    uint64_t listed[64];
} oracle_t;

static int oracle_slot(oracle_t *o, const char *src)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->src[i], src) == 0)
            return i;
    ck_assert_int_lt(o->n, 64);
    snprintf(o->src[o->n], sizeof(o->src[0]), "%s", src);
    return o->n++;
}

static void oracle_round(void *ctx, const char *job, const sched_round_t *r)
{
    oracle_t *o = ctx;
    for (int i = 0; i < r->nranges; i++) {
        int k = oracle_slot(o, r->ranges[i].source);
        /* ranges of a source come in order, each starting where the last ended */
        ck_assert_uint_eq(r->ranges[i].start, o->listed[k]);
        ck_assert_uint_gt(r->ranges[i].end, r->ranges[i].start);
        o->listed[k] = r->ranges[i].end;
    }
}

START_TEST(test_random_ranges)
{
    sched_t *s = mk(3000);
    oracle_t o = {0};
    sched_lease_t l[8];
    const char *none[] = {NULL};
    unsigned seed = 12345;
    uint64_t truth[3] = {0}; /* the test's own committed offsets for a, b */
    int gen[3] = {0};
    sched_on_round_closed(s, oracle_round, &o);
    int64_t now = T0;
    for (int step = 0; step < 3000; step++) {
        now += 1 + rand_r(&seed) % 700;
        int n = lease(s, (step & 1) ? "s1" : "s2", 1 + rand_r(&seed) % 3, now, l);
        for (int i = 0; i < n; i++) {
            if (rand_r(&seed) % 5 == 0)
                continue; /* abandoned: expires */
            if (l[i].kind == SCHED_EXPAND) {
                ck_assert_int_eq(expand(s, (step & 1) ? "s1" : "s2", l[i].id, none, 0, now),
                                 APR_SUCCESS);
                continue;
            }
            int t = l[i].task;
            char inst[32], next[32];
            snprintf(inst, sizeof(inst), "i%d", gen[t]);
            ck_assert_uint_eq(l[i].start, truth[t]);
            uint64_t len = rand_r(&seed) % 200;
            int rotate = rand_r(&seed) % 17 == 0;
            snprintf(next, sizeof(next), "i%d", gen[t] + 1);
            ck_assert_int_eq(done(s, (step & 1) ? "s1" : "s2", l[i].id, inst, (int64_t)truth[t],
                                  (int64_t)(truth[t] + len), rand_r(&seed) % 2,
                                  rotate ? next : NULL, now),
                             APR_SUCCESS);
            char id[64];
            snprintf(id, sizeof(id), "%s#%s", l[i].source, inst);
            if (len)
                o.bytes[oracle_slot(&o, id)] += len;
            truth[t] += len;
            if (rotate) {
                gen[t]++;
                truth[t] = 0;
            }
        }
    }
    /* close everything still open: past every deadline, then nothing more is read */
    sched_tick(s, now + 10 * RMS);
    sched_tick(s, now + 20 * RMS);
    ck_assert_int_gt(o.n, 2);
    for (int i = 0; i < o.n; i++)
        ck_assert_msg(o.listed[i] == o.bytes[i],
                      "%s: rounds list %" PRIu64 " bytes, %" PRIu64 " accepted", o.src[i],
                      o.listed[i], o.bytes[i]);
}
END_TEST

/* ---- tcase threads ---- */

typedef struct th_ctx_t {
    sched_t *s;
    atomic_int held[3];
    atomic_int doubles;
    atomic_long reads;
    atomic_int next_id;
} th_ctx_t;

/* Lease and complete in a loop (all in round R0, reads never at_end, so the
 * two read tasks stay due); a task must never be held by two leases. */
static void *APR_THREAD_FUNC worker(apr_thread_t *th, void *arg)
{
    th_ctx_t *c = arg;
    char name[16];
    sched_lease_t l[4];
    snprintf(name, sizeof(name), "w%d", atomic_fetch_add(&c->next_id, 1));
    while (atomic_load(&c->next_id) < 4)
        ; /* start together */
    for (int it = 0; it < 10000; it++) {
        int64_t now = T0 + it;
        int n = lease(c->s, name, 2, now, l);
        for (int i = 0; i < n; i++) {
            int expect = 0;
            if (!atomic_compare_exchange_strong(&c->held[l[i].task], &expect, 1))
                atomic_fetch_add(&c->doubles, 1);
        }
        for (int i = 0; i < n; i++) {
            sched_completion_t cc = {.slave = name,
                                     .lease = l[i].id,
                                     .instance = "x",
                                     .start = (int64_t)l[i].start,
                                     .end = (int64_t)l[i].start + 1,
                                     .at_end = 0,
                                     .size = -1,
                                     .lines = -1,
                                     .bad_lines = -1,
                                     .bytes = -1,
                                     .npaths = -1};
            const char *none[] = {NULL};
            if (l[i].kind == SCHED_EXPAND) {
                cc.npaths = 0;
                cc.paths = none;
            }
            atomic_store(&c->held[l[i].task], 0); /* the scheduler holds it until complete */
            apr_status_t rv = sched_complete(c->s, &cc, now, NULL);
            ck_assert_int_eq(rv, APR_SUCCESS);
            if (l[i].kind == SCHED_READ)
                atomic_fetch_add(&c->reads, 1);
        }
    }
    return NULL; /* not apr_thread_exit: gcc 12's ASan trips on pthread_exit */
}

START_TEST(test_threads)
{
    th_ctx_t c = {.s = mk(1000000)};
    apr_thread_t *th[4];
    apr_status_t rv;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, worker, &c, pool), APR_SUCCESS);
    for (int i = 0; i < 4; i++)
        apr_thread_join(&rv, th[i]);
    ck_assert_int_eq(atomic_load(&c.doubles), 0);
    /* every read completion committed one more byte: the offsets of a and b
     * sum to the read completions */
    buf_t st;
    buf_init(&st);
    sched_status_json(c.s, T0 + 5000, &st);
    json_t *j = json_loadb((const char *)st.data, st.len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *src = json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "sources");
    long sum = 0;
    for (int i = 0; i < 2; i++)
        sum += (long)json_integer_value(json_object_get(json_array_get(src, (size_t)i), "offset"));
    ck_assert_int_eq(sum, atomic_load(&c.reads));
    ck_assert_int_gt(sum, 100);
    json_decref(j);
    buf_free(&st);
}
END_TEST

/* ---- tcase http (call, bad: tests/fixture_sched.h) ---- */

START_TEST(test_http_lease_renew)
{
    sched_t *s = mk(5000);
    json_t *j;
    bad(sched_http_lease, s, NULL, "empty");
    bad(sched_http_lease, s, "{", "malformed JSON");
    bad(sched_http_lease, s, "[1]", "object");
    bad(sched_http_lease, s, "{\"labels\":[],\"max\":1}", "'slave'");
    bad(sched_http_lease, s, "{\"slave\":7,\"labels\":[],\"max\":1}", "'slave'");
    bad(sched_http_lease, s, "{\"slave\":\"\",\"labels\":[],\"max\":1}", "'slave'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"max\":1}", "'labels'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":\"rack1\",\"max\":1}", "'labels'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[1],\"max\":1}", "'labels'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[]}", "'max'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":\"2\"}", "'max'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":-1}", "'max'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":1.5}", "'max'");
    /* nothing was leased by the refused calls */
    ck_assert_int_eq(call(sched_http_lease, s,
                          "{\"slave\":\"s1\",\"labels\":[\"rack1\",\"rack2\"],\"max\":8,\"x\":{}}",
                          T0, &j),
                     200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "config")), cfg->hash_hex);
    json_t *ls = json_object_get(j, "leases");
    ck_assert_int_eq(json_array_size(ls), 3);
    json_t *l0 = json_array_get(ls, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "id")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(l0, "job")), "web");
    ck_assert_str_eq(json_string_value(json_object_get(l0, "kind")), "read");
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "task")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(l0, "source")), A);
    ck_assert_str_eq(json_string_value(json_object_get(l0, "instance")), "");
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "start")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "cap")), 1000);
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "round")), R0);
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "expires_ms")), T0 + 5000);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ls, 2), "kind")), "expand");
    json_decref(j);

    bad(sched_http_renew, s, "{\"slave\":\"s1\"}", "'lease'");
    bad(sched_http_renew, s, "{\"slave\":\"s1\",\"lease\":\"1\"}", "'lease'");
    bad(sched_http_renew, s, "{\"lease\":1}", "'slave'");
    ck_assert_int_eq(call(sched_http_renew, s, "{\"slave\":\"s1\",\"lease\":1}", T0 + 100, &j),
                     200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "expires_ms")), T0 + 5100);
    json_decref(j);
    ck_assert_int_eq(call(sched_http_renew, s, "{\"slave\":\"s1\",\"lease\":1}", T0 + 5100, &j),
                     410);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "error")));
    json_decref(j);
}
END_TEST

/* The slaves status lists: names, in any order, comma-separated. */
static char *slave_names(sched_t *s, int64_t now, char *out, size_t n)
{
    json_t *j = status(s, now), *v;
    size_t i, at = 0;
    out[0] = '\0';
    json_array_foreach(json_object_get(j, "slaves"), i, v)
    {
        at += (size_t)snprintf(out + at, n - at, "%s%s", at ? "," : "",
                               json_string_value(json_object_get(v, "name")));
        if (at >= n)
            break;
    }
    json_decref(j);
    return out;
}

/* Slave names are forgotten: after SCHED_SLAVE_FORGET_MS without a word (a
 * day when its spool held frames), and the least recently heard of past
 * SCHED_SLAVES_MAX, so made-up names cannot grow the primary's state. */
START_TEST(test_slaves_forgotten)
{
    sched_t *s = mk(5000);
    sched_lease_t out[8];
    char names[256];
    json_t *j;

    lease(s, "s1", 0, T0, out);
    ck_assert_int_eq(call(sched_http_lease, s,
                          "{\"slave\":\"s2\",\"labels\":[],\"max\":0,"
                          "\"spool\":{\"frames\":3,\"bytes\":300,\"oldest_ms\":1}}",
                          T0, &j),
                     200);
    json_decref(j);
    lease(s, "s3", 0, T0 + SCHED_SLAVE_FORGET_MS - 1, out);
    ck_assert_str_eq(slave_names(s, T0 + SCHED_SLAVE_FORGET_MS - 1, names, sizeof names),
                     "s1,s2,s3");
    ck_assert_str_eq(slave_names(s, T0 + SCHED_SLAVE_FORGET_MS, names, sizeof names), "s2,s3");
    ck_assert_str_eq(slave_names(s, T0 + SCHED_SLAVE_BACKLOG_FORGET_MS, names, sizeof names), "");
    /* a flood of names: at most SCHED_SLAVES_MAX, the oldest go first */
    const int64_t t1 = T0 + SCHED_SLAVE_BACKLOG_FORGET_MS;
    for (int i = 0; i < SCHED_SLAVES_MAX + 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "x%d", i);
        lease(s, name, 0, t1 + i, out);
    }
    j = status(s, t1 + SCHED_SLAVES_MAX + 10);
    json_t *sl = json_object_get(j, "slaves");
    ck_assert_int_eq(json_array_size(sl), SCHED_SLAVES_MAX);
    for (size_t i = 0; i < json_array_size(sl); i++) {
        const char *n = json_string_value(json_object_get(json_array_get(sl, i), "name"));
        ck_assert_msg(atoi(n + 1) >= 10, "slave %s should have been forgotten", n);
    }
    json_decref(j);
    /* a slave's labels are bounded in bytes */
    char body[2048];
    int at = snprintf(body, sizeof body, "{\"slave\":\"big\",\"max\":1,\"labels\":[");
    for (int i = 0; i < 8; i++)
        at += snprintf(body + at, sizeof body - (size_t)at, "%s\"%0200d\"", i ? "," : "", i);
    snprintf(body + at, sizeof body - (size_t)at, "]}");
    bad(sched_http_lease, s, body, "labels");
}
END_TEST

START_TEST(test_http_complete_status)
{
    sched_t *s = mk(60000);
    sched_lease_t l[8];
    json_t *j;
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    /* lease 1 = a, 2 = b, 3 = the glob */
#define C(rest) "{\"slave\":\"s1\",\"lease\":1" rest "}"
    bad(sched_http_complete, s, C(",\"instance\":\"i\",\"start\":\"0\",\"end\":5,\"at_end\":true"),
        "'start'");
    bad(sched_http_complete, s, C(",\"instance\":\"i\",\"start\":0,\"end\":-5,\"at_end\":true"),
        "'end'");
    bad(sched_http_complete, s, C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":1"),
        "'at_end'");
    bad(sched_http_complete, s, C(",\"instance\":3,\"start\":0,\"end\":5,\"at_end\":true"),
        "'instance'");
    bad(sched_http_complete, s, C(",\"start\":0,\"end\":5,\"at_end\":true"), "'instance'");
    bad(sched_http_complete, s, C(",\"instance\":\"i\",\"start\":0,\"at_end\":true"), "'end'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"next_instance\":[]"),
        "'next_instance'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"deliveries\":[]"),
        "'deliveries'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"deliveries\":{\"m1\":1}"),
        "'deliveries'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"lines\":\"9\""), "'lines'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"size\":-2"), "'size'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"lease\":3,\"paths\":\"/x\"}", "'paths'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"lease\":3}", "'paths'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"lease\":0}", "'lease'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\"}", "'lease'");
    ck_assert_int_eq(call(sched_http_complete, s,
                          "{\"slave\":\"s2\",\"lease\":1,\"instance\":\"i\",\"start\":0,\"end\":5,"
                          "\"at_end\":true}",
                          T0 + 1, &j),
                     409);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "not yours"));
    json_decref(j);
    ck_assert_int_eq(call(sched_http_complete, s,
                          C(",\"instance\":\"8:1:0\",\"start\":0,\"end\":1000,\"at_end\":false,"
                            "\"next_instance\":\"\",\"lines\":50,\"bad_lines\":1,\"bytes\":1000,"
                            "\"size\":1500,\"deliveries\":{\"m1\":\"ok\",\"m2\":\"spooled\","
                            "\"m9\":\"ok\"},\"extra\":[1,2]"),
                          T0 + 2, &j),
                     200);
    ck_assert(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    ck_assert_int_eq(call(sched_http_complete, s,
                          "{\"slave\":\"s1\",\"lease\":3,\"paths\":[\"/data/app-1.log\"]}", T0 + 3,
                          &j),
                     200);
    json_decref(j);
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 8, T0 + 4, l), 1); /* a again, from 1000 */
    ck_assert_uint_eq(l[0].start, 1000);
#undef C

    buf_t st;
    buf_init(&st);
    sched_status_json(s, T0 + 5, &st);
    j = json_loadb((const char *)st.data, st.len, 0, NULL);
    buf_free(&st);
    ck_assert_ptr_nonnull(j);
    json_t *job = json_array_get(json_object_get(j, "jobs"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(job, "name")), "web");
    ck_assert_int_eq(json_integer_value(json_object_get(job, "round")), R0);
    json_t *src = json_object_get(job, "sources");
    ck_assert_int_eq(json_array_size(src), 4);
    json_t *a = json_array_get(src, 0), *b = json_array_get(src, 1);
    ck_assert_str_eq(json_string_value(json_object_get(a, "source")), A);
    ck_assert_str_eq(json_string_value(json_object_get(a, "instance")), "8:1:0");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "offset")), 1000);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "size")), 1500);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "lag_bytes")), 500);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "lines")), 50);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "deliveries"), "m2")),
                     "spooled");
    ck_assert_ptr_null(json_object_get(b, "size"));
    ck_assert(json_is_null(json_object_get(b, "lag_bytes")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(src, 3), "source")),
                     "/data/app-1.log");
    json_t *ls = json_object_get(job, "leases");
    ck_assert_int_eq(json_array_size(ls), 2); /* b (lease 2) and a again (lease 4) */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ls, 0), "id")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ls, 0), "start")), 1000);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ls, 1), "slave")), "s1");
    json_t *open = json_object_get(job, "open_rounds");
    ck_assert_int_eq(json_array_size(open), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(open, 0), "due")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(open, 0), "done")), 1);
    json_t *sl = json_array_get(json_object_get(j, "slaves"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(sl, "name")), "s1");
    ck_assert_int_eq(json_array_size(json_object_get(sl, "labels")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(sl, "last_seen_ms")), T0 + 4);
    json_decref(j);
}
END_TEST

/* Through the real server: token, routes, body limit, a round trip. */
START_TEST(test_http_server)
{
    sched_t *s = mk(60000);
    abbey_err_t err;
    httpd_t *h = httpd_create("tok", pool);
    sched_register(s, h);
    ck_assert_msg(httpd_start(h, "127.0.0.1", 0, 2, &err) == APR_SUCCESS, "%s", err.msg);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", httpd_port(h));
    hclient_global_init();
    hclient_t *c = hclient_create("tok", 2000, 10000, pool);
    hclient_t *nc = hclient_create("bad", 2000, 10000, pool);
    hclient_resp_t r = {0};
    const char *lbody = "{\"slave\":\"s1\",\"labels\":[\"rack1\",\"rack2\"],\"max\":8}";
    buf_init(&r.body);
    ck_assert_int_eq(hclient_request(nc, "POST", apr_pstrcat(pool, base, "/v1/lease", NULL),
                                     "application/json", lbody, strlen(lbody), NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 401);
    ck_assert_int_eq(hclient_request(c, "POST", apr_pstrcat(pool, base, "/v1/lease", NULL),
                                     "application/json", lbody, strlen(lbody), NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 200);
    json_t *j = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    json_t *ls = json_object_get(j, "leases");
    ck_assert_int_eq(json_array_size(ls), 3);
    int64_t round = json_integer_value(json_object_get(json_array_get(ls, 0), "round"));
    for (size_t i = 0; i < 3; i++) {
        json_t *l = json_array_get(ls, i);
        char body[256];
        if (strcmp(json_string_value(json_object_get(l, "kind")), "expand") == 0)
            snprintf(body, sizeof(body),
                     "{\"slave\":\"s1\",\"lease\":%" JSON_INTEGER_FORMAT ",\"paths\":[]}",
                     json_integer_value(json_object_get(l, "id")));
        else
            snprintf(body, sizeof(body),
                     "{\"slave\":\"s1\",\"lease\":%" JSON_INTEGER_FORMAT
                     ",\"instance\":\"i%zu\",\"start\":0,\"end\":%zu,\"at_end\":true}",
                     json_integer_value(json_object_get(l, "id")), i, 10 * (i + 1));
        ck_assert_int_eq(hclient_request(c, "POST", apr_pstrcat(pool, base, "/v1/complete", NULL),
                                         "application/json", body, strlen(body), NULL, &r, &err),
                         APR_SUCCESS);
        ck_assert_int_eq(r.status, 200);
    }
    json_decref(j);
    const char *url = apr_psprintf(pool, "%s/v1/rounds?job=web&after=%" PRId64, base, round - 1);
    ck_assert_int_eq(hclient_request(c, "GET", url, NULL, NULL, 0, NULL, &r, &err), APR_SUCCESS);
    ck_assert_int_eq(r.status, 200);
    j = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    json_t *rounds = json_object_get(j, "rounds");
    ck_assert_int_eq(json_array_size(rounds), 1);
    json_t *r0 = json_array_get(rounds, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "round")), round);
    json_t *g = json_object_get(r0, "ranges");
    ck_assert_int_eq(json_array_size(g), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(g, 0), "source")), A "#i0");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(g, 1), "end")), 20);
    json_decref(j);
    /* a body over 1 MiB: 413 */
    size_t big = (1u << 20) + 10;
    char *huge = apr_palloc(pool, big);
    memset(huge, ' ', big);
    ck_assert_int_eq(hclient_request(c, "POST", apr_pstrcat(pool, base, "/v1/complete", NULL),
                                     "application/json", huge, big, NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 413);
    buf_free(&r.body);
    httpd_stop(h);
}
END_TEST

/* ---- tcase reload (sched_set_config) ---- */

#define C "/var/log/c.log"
#define M12                                                                                        \
    "masters:\n  - {name: m1, url: 'http://127.0.0.1:7101'}\n"                                     \
    "  - {name: m2, url: 'http://127.0.0.1:7102'}\n"

/* One job in YAML: name, round, source lines ("      - x\n" each). */
static const char *job_y(const char *name, const char *round, const char *sources)
{
    return apr_pstrcat(pool, "  - name: ", name, "\n    round: ", round, "\n    sources:\n",
                       sources,
                       "    format: combined\n    groups:\n      - name: g\n        entries:\n"
                       "          - name: e\n            values: {hits: count}\n",
                       NULL);
}

static rules_config_t *load(const char *masters, const char *jobs)
{
    rules_config_t *c;
    abbey_err_t err;
    const char *y = apr_pstrcat(pool, masters, "jobs:\n", jobs, NULL);
    ck_assert_msg(rules_load_buffer(y, strlen(y), "reload.yaml", pool, &c, &err) == APR_SUCCESS,
                  "config: %s\n%s", err.msg, y);
    return c;
}

/* The status of job as "task:source@offset,..." and its job list as "web,api," */
static const char *st_sources(sched_t *s, int64_t now, const char *job)
{
    json_t *j = status(s, now), *jobs = json_object_get(j, "jobs"), *o;
    const char *out = NULL;
    size_t i;
    json_array_foreach(jobs, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "name")), job) != 0)
            continue;
        json_t *src = json_object_get(o, "sources"), *t;
        size_t k;
        out = "";
        json_array_foreach(src, k, t)
        {
            out = apr_psprintf(pool, "%s%d:%s@%d,", out,
                               (int)json_integer_value(json_object_get(t, "task")),
                               json_string_value(json_object_get(t, "source")),
                               (int)json_integer_value(json_object_get(t, "offset")));
        }
    }
    json_decref(j);
    return out;
}

static const char *st_jobs(sched_t *s, int64_t now)
{
    json_t *j = status(s, now), *o;
    const char *out = "";
    size_t i;
    json_array_foreach(json_object_get(j, "jobs"), i, o)
    {
        out = apr_pstrcat(pool, out, json_string_value(json_object_get(o, "name")), ",", NULL);
    }
    json_decref(j);
    return out;
}

/* Closed rounds of any job: "job round incomplete [ranges]|" */
static void log_round(void *ctx, const char *job, const sched_round_t *r)
{
    const char **log = ctx;
    const char *g = "";
    for (int k = 0; k < r->nranges; k++)
        g = apr_psprintf(pool, "%s%s %d %d;", g, r->ranges[k].source, (int)r->ranges[k].start,
                         (int)r->ranges[k].end);
    *log =
        apr_psprintf(pool, "%s%s %" PRId64 " %d [%s]|", *log, job, r->round - R0, r->incomplete, g);
}

/* (a) the same job plus a new source; masters change too */
START_TEST(test_reload_new_source)
{
    rules_config_t *c1 = load(M12, job_y("web", "10s", "      - " A "\n      - " B "\n"));
    rules_config_t *c2 = load("masters:\n  - {name: m2, url: 'http://127.0.0.1:7102'}\n"
                              "  - {name: m3, url: 'http://127.0.0.1:7103'}\n",
                              job_y("web", "10s", "      - " A "\n      - " B "\n      - " C "\n"));
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 2);
    uint64_t a = find(l, 2, A)->id, b = find(l, 2, B)->id;
    const char *dm[] = {"m1", "m2"}, *dr[] = {"ok", "spooled"};
    sched_completion_t cc = {.slave = "s1",
                             .lease = a,
                             .instance = "ia",
                             .start = 0,
                             .end = 100,
                             .at_end = 0,
                             .size = 400,
                             .lines = 7,
                             .bad_lines = -1,
                             .bytes = -1,
                             .ndeliveries = 2,
                             .delivery_masters = dm,
                             .delivery_results = dr,
                             .npaths = -1};
    ck_assert_int_eq(sched_complete(s, &cc, T0 + 1, NULL), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", b, "ib", 0, 50, 1, NULL, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 2, l), 1); /* a, from 100 */
    a = l[0].id;
    ck_assert_uint_eq(l[0].start, 100);

    sched_set_config(s, c2);
    /* the lease granted before the reload is still good */
    ck_assert_int_eq(done(s, "s1", a, "ia", 100, 300, 1, NULL, T0 + 3), APR_SUCCESS);
    /* R0 closed with its two tasks; c is not due in R0 */
    /* (a's first piece came first; its second one is merged into it) */
    ck_assert_str_eq(log, "web 0 0 [" A "#ia 0 300;" B "#ib 0 50;]|");
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 4, l), 0);
    ck_assert_str_eq(st_sources(s, T0 + 4, "web"), "0:" A "@300,1:" B "@50,2:" C "@0,");
    /* counters, size and deliveries kept: m2 stays (now masters[0]), m1 is gone */
    json_t *j = status(s, T0 + 4);
    json_t *ta = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "sources"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(ta, "lines")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(ta, "size")), 400);
    ck_assert_str_eq(json_string_value(json_object_get(ta, "instance")), "ia");
    json_t *d = json_object_get(ta, "deliveries");
    ck_assert_int_eq(json_object_size(d), 1);
    ck_assert_str_eq(json_string_value(json_object_get(d, "m2")), "spooled");
    json_decref(j);
    /* the next round: old offsets and instances, the new source from 0 */
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + RMS, l), 3);
    ck_assert_uint_eq(find(l, 3, A)->start, 300);
    ck_assert_str_eq(find(l, 3, A)->instance, "ia");
    ck_assert_uint_eq(find(l, 3, B)->start, 50);
    ck_assert_uint_eq(find(l, 3, C)->start, 0);
    ck_assert_str_eq(find(l, 3, C)->instance, "");
    ck_assert_int_eq(find(l, 3, C)->task, 2);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(l[i].round, R0 + 1);
    /* lease answers name the new config */
    json_t *jl;
    ck_assert_int_eq(
        call(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":1}", T0 + RMS, &jl),
        200);
    ck_assert_str_eq(json_string_value(json_object_get(jl, "config")), c2->hash_hex);
    ck_assert_str_ne(c1->hash_hex, c2->hash_hex);
    json_decref(jl);
}
END_TEST

/* (b) sources removed while leased: completions accepted, never leased again, rounds close */
START_TEST(test_reload_source_removed)
{
    rules_config_t *c1 =
        load(M12, job_y("web", "10s", "      - " A "\n      - " B "\n      - " C "\n"));
    rules_config_t *c2 = load(M12, job_y("web", "10s", "      - " B "\n"));
    sched_t *s = mk_cfg(c1, 5000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 3);
    uint64_t a = find(l, 3, A)->id, b = find(l, 3, B)->id, c = find(l, 3, C)->id;
    ck_assert_int_eq(done(s, "s1", b, "ib", 0, 50, 1, NULL, T0 + 1), APR_SUCCESS);
    sched_set_config(s, c2);
    ck_assert_int_eq(sched_lease(s, "s2", NULL, 0, 8, T0 + 2, l), 0);
    /* a's completion (not even at_end) is accepted and listed */
    ck_assert_int_eq(done(s, "s1", a, "ia", 0, 100, 0, NULL, T0 + 3), APR_SUCCESS);
    ck_assert_str_eq(log, ""); /* c still holds its lease */
    ck_assert_int_eq(sched_lease(s, "s2", NULL, 0, 8, T0 + 4, l), 0);
    ck_assert_str_eq(st_sources(s, T0 + 4, "web"), "0:" B "@50,1:" C "@0,");
    /* c's lease expires: c is dropped, it counts as done, R0 closes complete */
    sched_tick(s, T0 + 5000);
    ck_assert_str_eq(log, "web 0 0 [" B "#ib 0 50;" A "#ia 0 100;]|");
    ck_assert_int_eq(done(s, "s1", c, "ic", 0, 10, 1, NULL, T0 + 5001), APR_EINVAL);
    ck_assert_str_eq(st_sources(s, T0 + 5001, "web"), "0:" B "@50,");
    /* from now on only b, renumbered as task 0 */
    ck_assert_int_eq(sched_lease(s, "s2", NULL, 0, 8, T0 + RMS, l), 1);
    ck_assert_str_eq(l[0].source, B);
    ck_assert_int_eq(l[0].task, 0);
    ck_assert_uint_eq(l[0].start, 50);
    ck_assert_int_eq(done(s, "s2", l[0].id, "ib", 50, 60, 1, NULL, T0 + RMS + 1), APR_SUCCESS);
    ck_assert_str_eq(log, "web 0 0 [" B "#ib 0 50;" A "#ia 0 100;]|web 1 0 [" B "#ib 50 60;]|");
    ck_assert_int_eq(sched_lease(s, "s2", NULL, 0, 8, T0 + 2 * RMS, l), 1);
}
END_TEST

/* A removed source that is due and not leased: it counts as done at once. It
 * sits between two others: the open round's pending list shifts. */
START_TEST(test_reload_removed_middle)
{
    rules_config_t *c1 = load(M12, job_y("web", "10s",
                                         "      - " A "\n      - {path: " B ", labels: [rack1]}\n"
                                         "      - " C "\n"));
    rules_config_t *c2 = load(M12, job_y("web", "10s", "      - " A "\n      - " C "\n"));
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 2); /* b needs rack1 */
    uint64_t a = find(l, 2, A)->id, c = find(l, 2, C)->id;
    sched_set_config(s, c2);
    json_t *j = status(s, T0 + 1);
    json_t *o = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "open_rounds"), 0);
    /* due 3, b counted done: pending are a and c as tasks 0 and 1 */
    ck_assert_int_eq(json_integer_value(json_object_get(o, "due")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "done")), 1);
    json_t *p = json_object_get(o, "pending");
    ck_assert_int_eq(json_array_size(p), 2);
    ck_assert_int_eq(json_integer_value(json_array_get(p, 0)), 0);
    ck_assert_int_eq(json_integer_value(json_array_get(p, 1)), 1);
    json_decref(j);
    ck_assert_int_eq(done(s, "s1", c, "ic", 0, 5, 1, NULL, T0 + 2), APR_SUCCESS);
    ck_assert_str_eq(log, "");
    ck_assert_int_eq(done(s, "s1", a, "ia", 0, 7, 1, NULL, T0 + 3), APR_SUCCESS);
    ck_assert_str_eq(log, "web 0 0 [" C "#ic 0 5;" A "#ia 0 7;]|");
}
END_TEST

/* (c) a new job and (d) a job removed */
START_TEST(test_reload_jobs)
{
    const char *web = job_y("web", "10s", "      - " A "\n");
    const char *api = job_y("api", "10s", "      - /var/log/api.log\n      - /var/log/api2.log\n");
    rules_config_t *c1 = load(M12, web);
    rules_config_t *c2 = load(M12, apr_pstrcat(pool, web, api, NULL));
    rules_config_t *c3 = load(M12, web);
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 1);
    uint64_t a = l[0].id;
    ck_assert_int_eq(sched_rounds(s, "api", -1, log_round, &log), -1);
    sched_set_config(s, c2);
    /* (c) api starts as at creation: its tasks are due in the current round */
    ck_assert_str_eq(st_jobs(s, T0 + 5), "web,api,");
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 5, l), 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_str_eq(l[i].job, "api");
        ck_assert_int_eq(l[i].round, R0);
        ck_assert_uint_eq(l[i].start, 0);
    }
    uint64_t x = find(l, 2, "/var/log/api.log")->id, y = find(l, 2, "/var/log/api2.log")->id;
    ck_assert_int_eq(done(s, "s1", x, "x", 0, 9, 1, NULL, T0 + 6), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", a, "ia", 0, 3, 1, NULL, T0 + 6), APR_SUCCESS);
    ck_assert_str_eq(log, "web 0 0 [" A "#ia 0 3;]|");
    ck_assert_int_eq(sched_rounds(s, "api", -1, log_round, &log), 0);
    /* (d) api leaves while api2 holds its lease: listed until that lease ends */
    sched_set_config(s, c3);
    ck_assert_str_eq(st_jobs(s, T0 + 7), "web,api,");
    ck_assert_str_eq(st_sources(s, T0 + 7, "api"), "0:/var/log/api2.log@0,");
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 8, l), 0);
    ck_assert_int_eq(done(s, "s1", y, "y", 0, 4, 0, NULL, T0 + 9), APR_SUCCESS);
    /* its round closed (the dropped task counts as done), then the job left */
    ck_assert_str_eq(log, "web 0 0 [" A "#ia 0 3;]|api 0 0 [/var/log/api.log#x 0 9;"
                          "/var/log/api2.log#y 0 4;]|");
    ck_assert_str_eq(st_jobs(s, T0 + 10), "web,");
    ck_assert_int_eq(sched_rounds(s, "api", -1, log_round, &log), -1);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + RMS, l), 1);
    ck_assert_str_eq(l[0].job, "web");
    buf_t m;
    buf_init(&m);
    sched_metrics(s, &m);
    buf_put_u8(&m, 0);
    ck_assert_ptr_null(strstr((char *)m.data, "api"));
    buf_free(&m);
    /* api comes back: a new job again, from offset 0 */
    sched_set_config(s, c2);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + RMS + 1, l), 2);
    ck_assert_uint_eq(find(l, 2, "/var/log/api.log")->start, 0);
    ck_assert_int_eq(find(l, 2, "/var/log/api.log")->round, R0 + 1);
}
END_TEST

/* A job removed with no lease goes at the next call; its open round is delivered. */
START_TEST(test_reload_job_removed_idle)
{
    const char *web = job_y("web", "10s", "      - " A "\n");
    rules_config_t *c1 =
        load(M12, apr_pstrcat(pool, web, job_y("api", "10s", "      - " C "\n"), NULL));
    rules_config_t *c2 = load(M12, web);
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_on_round_closed(s, log_round, &log);
    sched_tick(s, T0);
    sched_set_config(s, c2);
    sched_tick(s, T0 + 1);
    ck_assert_str_eq(log, "api 0 0 []|");
    ck_assert_str_eq(st_jobs(s, T0 + 2), "web,");
}
END_TEST

/* (e) labels from the new config */
START_TEST(test_reload_labels)
{
    rules_config_t *c1 =
        load(M12, job_y("web", "10s", "      - " A "\n      - {path: " B ", labels: [rack1]}\n"));
    rules_config_t *c2 =
        load(M12, job_y("web", "10s", "      - {path: " A ", labels: [rack2]}\n      - " B "\n"));
    sched_t *s = mk_cfg(c1, 60000);
    sched_lease_t l[8];
    const char *r1[] = {"rack1"}, *r2[] = {"rack2"};
    sched_tick(s, T0);
    sched_set_config(s, c2);
    ck_assert_int_eq(sched_lease(s, "r1", r1, 1, 8, T0 + 1, l), 1);
    ck_assert_str_eq(l[0].source, B);                                   /* no labels now: anyone */
    ck_assert_int_eq(sched_lease(s, "bare", NULL, 0, 8, T0 + 1, l), 0); /* a needs rack2 */
    ck_assert_int_eq(sched_lease(s, "r1", r1, 1, 8, T0 + 1, l), 0);
    ck_assert_int_eq(sched_lease(s, "r2", r2, 1, 8, T0 + 1, l), 1);
    ck_assert_str_eq(l[0].source, A);
}
END_TEST

/* (f) expanded tasks stay while a glob of the job lists them */
START_TEST(test_reload_glob)
{
    const char *gsrc = "      - {path: '" G "', labels: [rack3]}\n";
    rules_config_t *c2 =
        load(M12, job_y("web", "10s", apr_pstrcat(pool, "      - " A "\n", gsrc, NULL)));
    rules_config_t *c3 =
        load(M12, job_y("web", "10s",
                        "      - " A "\n      - {path: '/data/*.log', labels: [rack4]}\n"));
    rules_config_t *c4 = load(M12, job_y("web", "10s", "      - " A "\n"));
    sched_t *s = mk(60000);
    sched_lease_t l[8];
    const char *r3[] = {"rack3"}, *r4[] = {"rack4"};
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    const char *p[] = {"/data/app-1.log", "/data/app-2.log"}, *none[] = {NULL};
    ck_assert_int_eq(expand(s, "s1", find(l, 3, G)->id, p, 2, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, 3, A)->id, "ia", 0, 10, 1, NULL, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, 3, B)->id, "ib", 0, 20, 1, NULL, T0 + 1), APR_SUCCESS);
    int n = lease(s, "s1", 8, T0 + RMS, l);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(done(s, "s1", find(l, n, p[0])->id, "i1", 0, 100, 1, NULL, T0 + RMS + 1),
                     APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, n, p[1])->id, "i2", 0, 70, 1, NULL, T0 + RMS + 1),
                     APR_SUCCESS);
    ck_assert_int_eq(expand(s, "s1", find(l, n, G)->id, none, 0, T0 + RMS + 1), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, n, A)->id, "ia", 10, 10, 1, NULL, T0 + RMS + 1),
                     APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, n, B)->id, "ib", 20, 20, 1, NULL, T0 + RMS + 1),
                     APR_SUCCESS);
    /* b leaves; the glob stays (labels now rack3): app-1 and app-2 keep their offsets */
    sched_set_config(s, c2);
    ck_assert_str_eq(st_sources(s, T0 + RMS + 2, "web"),
                     "0:" A "@10,1:" G "@0,2:/data/app-1.log@100,3:/data/app-2.log@70,");
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 2 * RMS, l), 1); /* rack1, rack2: only a */
    ck_assert_str_eq(l[0].source, A);
    n = sched_lease(s, "s3", r3, 1, 8, T0 + 2 * RMS, l);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(find(l, n, p[0])->start, 100);
    ck_assert_str_eq(find(l, n, p[0])->instance, "i1");
    ck_assert_uint_eq(find(l, n, p[1])->start, 70);
    ck_assert_ptr_nonnull(find(l, n, G));
    ck_assert_int_eq(done(s, "s3", find(l, n, p[0])->id, "i1", 100, 100, 1, NULL, T0 + 2 * RMS),
                     APR_SUCCESS);
    ck_assert_int_eq(done(s, "s3", find(l, n, p[1])->id, "i2", 70, 70, 1, NULL, T0 + 2 * RMS),
                     APR_SUCCESS);
    ck_assert_int_eq(expand(s, "s3", find(l, n, G)->id, none, 0, T0 + 2 * RMS), APR_SUCCESS);
    /* another pattern that still matches them (as glob(3) would): they stay, with its labels */
    sched_set_config(s, c3);
    ck_assert_str_eq(st_sources(s, T0 + 2 * RMS + 1, "web"),
                     "0:" A "@10,1:/data/app-1.log@100,2:/data/app-2.log@70,3:/data/*.log@0,");
    ck_assert_int_eq(sched_lease(s, "s3", r3, 1, 8, T0 + 3 * RMS, l), 0);
    n = sched_lease(s, "s4", r4, 1, 8, T0 + 3 * RMS, l);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(find(l, n, p[0])->start, 100);
    ck_assert_int_eq(find(l, n, "/data/*.log")->kind, SCHED_EXPAND);
    /* no glob any more: they go once their leases end */
    sched_set_config(s, c4);
    ck_assert_str_eq(st_sources(s, T0 + 3 * RMS + 1, "web"),
                     "0:" A "@10,1:/data/app-1.log@100,2:/data/app-2.log@70,3:/data/*.log@0,");
    ck_assert_int_eq(done(s, "s4", find(l, n, p[0])->id, "i1", 100, 150, 1, NULL, T0 + 3 * RMS + 2),
                     APR_SUCCESS);
    ck_assert_int_eq(done(s, "s4", find(l, n, p[1])->id, "i2", 70, 80, 0, NULL, T0 + 3 * RMS + 2),
                     APR_SUCCESS);
    /* its expand completion is accepted, and adds nothing */
    const char *p3[] = {"/data/app-3.log"};
    ck_assert_int_eq(expand(s, "s4", find(l, n, "/data/*.log")->id, p3, 1, T0 + 3 * RMS + 2),
                     APR_SUCCESS);
    ck_assert_str_eq(st_sources(s, T0 + 3 * RMS + 3, "web"), "0:" A "@10,");
    ck_assert_int_eq(sched_lease(s, "s4", r4, 1, 8, T0 + 4 * RMS, l), 0);
}
END_TEST

/* (g) a round length change applies from the next round */
START_TEST(test_reload_round_length)
{
    rules_config_t *c1 = load(M12, job_y("web", "10s", "      - " A "\n"));
    rules_config_t *c2 = load(M12, job_y("web", "20s", "      - " A "\n"));
    rules_config_t *c3 = load(M12, job_y("web", "5s", "      - " A "\n"));
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 1);
    sched_set_config(s, c2);
    /* R0 keeps its 10 s and its deadline T0 + 30 s */
    json_t *j = status(s, T0 + 1);
    json_t *job = json_array_get(json_object_get(j, "jobs"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(job, "round_ms")), 20000);
    json_t *o = json_array_get(json_object_get(job, "open_rounds"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "deadline_ms")), T0 + 3 * RMS);
    json_decref(j);
    ck_assert_int_eq(done(s, "s1", l[0].id, "ia", 0, 5, 1, NULL, T0 + 2), APR_SUCCESS);
    /* R0 ends at T0 + 10 s; the first 20 s boundary from there is T0 + 20 s
     * (T0 = 85000000 * 20000): nothing is due in between */
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + RMS, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 19999, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 20000, l), 1);
    int64_t r20 = INT64_C(85000001);
    ck_assert_int_eq(l[0].round, r20);
    ck_assert_uint_eq(l[0].start, 5);
    j = status(s, T0 + 20000);
    o = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "open_rounds"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "start_ms")), T0 + 20000);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "deadline_ms")), T0 + 80000);
    json_decref(j);
    ck_assert_int_eq(done(s, "s1", l[0].id, "ia", 5, 6, 1, NULL, T0 + 20001), APR_SUCCESS);
    /* then every 20 s: nothing at T0 + 30 s, the next at T0 + 40 s */
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 39999, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 40000, l), 1);
    ck_assert_int_eq(l[0].round, r20 + 1);
    /* shorter (5 s) from the next round: [T0 + 40 s, T0 + 60 s) keeps its 20 s */
    sched_set_config(s, c3);
    ck_assert_int_eq(done(s, "s1", l[0].id, "ia", 6, 7, 1, NULL, T0 + 40001), APR_SUCCESS);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 59999, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 60000, l), 1);
    ck_assert_int_eq(l[0].round, (T0 + 60000) / 5000);
    ck_assert_int_eq(done(s, "s1", l[0].id, "ia", 7, 8, 1, NULL, T0 + 60001), APR_SUCCESS);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 64999, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 65000, l), 1);
    ck_assert_int_eq(l[0].round, (T0 + 65000) / 5000);
    /* relative to R0: 85000001 - 170000000, ..., 340000012 - 170000000 */
    ck_assert_str_eq(log, "web 0 0 [" A "#ia 0 5;]|"
                          "web -84999999 0 [" A "#ia 5 6;]|"
                          "web -84999998 0 [" A "#ia 6 7;]|"
                          "web 170000012 0 [" A "#ia 7 8;]|");
}
END_TEST

/* Reloads racing leases and completions from other threads stay consistent. */
typedef struct rl_ctx_t {
    sched_t *s;
    atomic_int done;
} rl_ctx_t;

static void *APR_THREAD_FUNC rl_worker(apr_thread_t *th, void *arg)
{
    rl_ctx_t *c = arg;
    sched_lease_t l[4];
    const char *none[] = {NULL};
    for (int it = 0; it < 20000; it++) {
        int64_t now = T0 + it;
        int n = lease(c->s, "w", 4, now, l);
        for (int i = 0; i < n; i++) {
            sched_completion_t cc = {.slave = "w",
                                     .lease = l[i].id,
                                     .instance = "x",
                                     .start = (int64_t)l[i].start,
                                     .end = (int64_t)l[i].start + 1,
                                     .at_end = 1,
                                     .size = -1,
                                     .lines = -1,
                                     .bad_lines = -1,
                                     .bytes = -1,
                                     .npaths = -1};
            const char *p[] = {"/data/app-1.log"};
            if (l[i].kind == SCHED_EXPAND) {
                cc.npaths = it % 2;
                cc.paths = it % 2 ? p : none;
            }
            /* every lease is completed by its holder in time: never refused */
            ck_assert_int_eq(sched_complete(c->s, &cc, now, NULL), APR_SUCCESS);
        }
    }
    atomic_store(&c->done, 1);
    return NULL;
}

START_TEST(test_reload_threads)
{
    rules_config_t *cs[3] = {
        cfg, load(M12, job_y("web", "5s", "      - " A "\n      - " C "\n")),
        load(M12, apr_pstrcat(pool, job_y("api", "1s", "      - " B "\n"),
                              job_y("web", "10s", "      - '" G "'\n"), NULL))};
    rl_ctx_t c = {.s = mk(1000000)};
    apr_thread_t *th;
    apr_status_t rv;
    ck_assert_int_eq(apr_thread_create(&th, NULL, rl_worker, &c, pool), APR_SUCCESS);
    for (int i = 0; i < 300 || !atomic_load(&c.done); i++) {
        sched_set_config(c.s, cs[i % 3]);
        json_decref(status(c.s, T0 + i));
    }
    apr_thread_join(&rv, th);
    /* no lease is left: the last config's sources, exactly */
    sched_set_config(c.s, cs[1]);
    ck_assert_str_eq(st_jobs(c.s, T0 + 30000), "web,");
    const char *src = st_sources(c.s, T0 + 30000, "web");
    ck_assert_msg(strncmp(src, "0:" A "@", strlen("0:" A "@")) == 0 && strstr(src, ",1:" C "@") &&
                      !strstr(src, ",2:"),
                  "%s", src);
}
END_TEST

static Suite *sched_suite(void)
{
    Suite *s = suite_create("sched");
    TCase *t;

    t = tcase_create("leases");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_first_round);
    tcase_add_test(t, test_labels);
    tcase_add_test(t, test_max);
    tcase_add_test(t, test_order_least_recent);
    tcase_add_test(t, test_expiry);
    tcase_add_test(t, test_expiry_by_tick);
    tcase_add_test(t, test_renew);
    suite_add_tcase(s, t);

    t = tcase_create("completions");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_commit_offsets);
    tcase_add_test(t, test_completion_errors);
    tcase_add_test(t, test_expand);
    tcase_add_test(t, test_rotation);
    suite_add_tcase(s, t);

    t = tcase_create("rounds");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_round_complete);
    tcase_add_test(t, test_round_deadline_and_jump);
    tcase_add_test(t, test_late_completion);
    tcase_add_test(t, test_random_ranges);
    suite_add_tcase(s, t);

    t = tcase_create("threads");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_threads);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);

    t = tcase_create("http");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_http_lease_renew);
    tcase_add_test(t, test_slaves_forgotten);
    tcase_add_test(t, test_http_complete_status);
    tcase_add_test(t, test_http_server);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);

    t = tcase_create("reload");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_reload_new_source);
    tcase_add_test(t, test_reload_source_removed);
    tcase_add_test(t, test_reload_removed_middle);
    tcase_add_test(t, test_reload_jobs);
    tcase_add_test(t, test_reload_job_removed_idle);
    tcase_add_test(t, test_reload_labels);
    tcase_add_test(t, test_reload_glob);
    tcase_add_test(t, test_reload_round_length);
    tcase_add_test(t, test_reload_threads);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(sched_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
