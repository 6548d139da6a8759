/* check_sched.c - unit tests for the primary's scheduler (master/sched*.c): leases,
 * completions, rounds and leasing from threads; its HTTP handlers are
 * tests/check_sched_http.c, adopting a reloaded config tests/check_sched_reload.c.
 *
 * The clock is driven by hand (no sleeping). The config (SCHED_YAML,
 * tests/fixture_sched.h): job "web", 10 s rounds, sources /var/log/a.log (task 0),
 * /var/log/b.log with labels [rack1] (task 1) and the glob /data/app-*.log with labels
 * [rack2] (task 2). Expected values are worked out by hand in the comments; the random test
 * checks the rounds' ranges against the completions the test itself made (the union must be
 * exactly what was committed, no overlap). The config-independent helpers (clock, lease,
 * complete, status) are tests/fixture_sched.h. */
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

static void setup(void)
{
    sched_setup(SCHED_YAML, "sched.yaml", 0);
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
    ck_assert_str_eq(l[0].instance, "8:2:1"); /* a file's generation goes up at each move */
    ck_assert_uint_eq(l[0].start, 0);
    a = l[0].id;
    /* the old instance is done: completing against it is refused */
    ck_assert_int_eq(done(s, "s1", a, "8:1:0", 700, 800, 1, NULL, T0 + 3), APR_EINVAL);
    ck_assert_int_eq(done(s, "s1", a, "8:2:1", 0, 300, 1, NULL, T0 + 3), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", b, "8:5:0", 0, 0, 1, NULL, T0 + 4), APR_SUCCESS);
    const char *none[] = {NULL};
    ck_assert_int_eq(expand(s, "s1", g, none, 0, T0 + 5), APR_SUCCESS);
    /* round R0 closed; b read nothing: no range */
    ck_assert_int_eq(rec.n, 1);
    ck_assert_int_eq(rec.round[0], R0);
    ck_assert_int_eq(rec.incomplete[0], 0);
    ck_assert_str_eq(rec.ranges[0], A "#8:1:0 0 700;" A "#8:2:1 0 300;");
}
END_TEST

/* A new file that got the inode of an instance the task read before (a rotation that deletes
 * the file it compressed, then creates a new one) is named anew: its ranges are not those the
 * masters hold for the old one. */
START_TEST(test_rotation_inode_reused)
{
    sched_t *s = mk(60000);
    sched_lease_t l[8];
    uint64_t a;
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    a = find(l, 3, A)->id;
    ck_assert_int_eq(done(s, "s1", a, "8:1:0", 0, 700, 0, "8:2:0", T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 2, l), 1);
    ck_assert_int_eq(done(s, "s1", l[0].id, "8:2:1", 0, 50, 0, "8:1:0", T0 + 3), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 4, l), 1);
    ck_assert_str_eq(l[0].instance, "8:1:2"); /* inode 1 again, never "8:1:0" again */
    ck_assert_int_eq(done(s, "s1", l[0].id, "8:1:2", 0, 10, 0, "8:1:3", T0 + 5), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 6, l), 1);
    ck_assert_str_eq(l[0].instance, "8:1:3"); /* a truncation's own generation is kept */
    ck_assert_int_eq(done(s, "s1", l[0].id, "8:1:3", 0, 10, 0, "http:4", T0 + 7), APR_SUCCESS);
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 8, l), 1);
    ck_assert_str_eq(l[0].instance, "http:4"); /* not a file's name: as the slave said */
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
    tcase_add_test(t, test_rotation_inode_reused);
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
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(sched_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
