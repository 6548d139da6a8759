/* check_sched_sticky.c - unit tests for sticky leases (master/sched_sticky.c,
 * master/sched_ready.c, master/sched_lease.c; docs/CLUSTER.md "Sticky leases"): batches
 * within each slave's share, rebalancing when slaves join, completions that leave the lease
 * held, "nothing new" that closes rounds without a journal record per source, claims of
 * rounds not started, leases taken back (labels, a lagging slave), given back, expired and
 * granted again from the committed offset, recovery of rounds closed by idle reports, and
 * the ready queues' order and cost.
 *
 * The clock is driven by hand. The config: job "web" (10 s rounds) over N file sources
 * /var/log/f<i>.log (labels [rack1] on every third one when asked), masters m1 and m2.
 * Expected values are worked out in the comments: shares are ceil(tasks * w / W) of the
 * live slaves' weights; the journal's size is read from the store's own statistics. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "journal.h"
#include "rules.h"
#include "sched_int.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_sched_sticky"
#include "fixture_sched.h"

/* Job web over n sources; with labelled, every third one needs [rack1]. */
static rules_config_t *many(int n, int labelled)
{
    buf_t y;
    buf_init(&y);
    buf_printf(&y, "masters:\n"
                   "  - {name: m1, url: 'http://127.0.0.1:7101', weight: 1}\n"
                   "  - {name: m2, url: 'http://127.0.0.1:7102', weight: 1}\n"
                   "jobs:\n"
                   "  - name: web\n"
                   "    round: 10s\n"
                   "    sources:\n");
    for (int i = 0; i < n; i++)
        buf_printf(&y,
                   labelled && i % 3 == 0 ? "      - {path: /var/log/f%d.log, labels: [rack1]}\n"
                                          : "      - /var/log/f%d.log\n",
                   i);
    buf_printf(&y, "    format: combined\n"
                   "    groups:\n"
                   "      - name: g\n"
                   "        entries:\n"
                   "          - name: e\n"
                   "            values: {hits: count}\n");
    buf_put_u8(&y, 0);
    rules_config_t *c = load_config((const char *)y.data, "many.yaml");
    buf_free(&y);
    return c;
}

static void setup(void)
{
    sched_setup(SCHED_YAML, "sched.yaml", 1);
}

/* Sticky leases for slave (labels rack1 and rack2, workers w), up to max. */
static int ask(sched_t *s, const char *slave, int w, int max, int64_t now, sched_lease_t *out)
{
    sched_ask_t a = {slave, ALL, 2, max, w, -1};
    return sched_lease_sticky(s, &a, now, out);
}

/* A report of slave: n completions cs, idle leases of round, released ids. */
static int report(sched_t *s, const char *slave, const sched_completion_t *cs, int n,
                  const uint64_t *idle, int nidle, int64_t round, const uint64_t *rel, int nrel,
                  int64_t now, apr_status_t *rv, uint64_t *gone)
{
    sched_idle_t g = {"web", round, nidle, idle};
    sched_report_t r = {slave, n, cs, nidle ? 1 : 0, &g, nrel, rel, -1};
    abbey_err_t errs[16];
    int ngone = 0;
    ck_assert_int_le(n, 16);
    ck_assert_int_eq(sched_report(s, &r, now, rv, errs, NULL, gone, &ngone), APR_SUCCESS);
    return ngone;
}

/* The news for slave at now: *more, and the ids asked back into rel (their count). */
static int news(sched_t *s, const char *slave, int64_t now, int *more, uint64_t *rel)
{
    sched_news_t nw;
    sched_news(s, slave, now, pool, &nw);
    *more = nw.more;
    for (int i = 0; i < nw.nrelease; i++)
        rel[i] = nw.release[i];
    return nw.nrelease;
}

/* A sticky completion of lease id: [start, end) of inst, at_end, for round. */
static sched_completion_t sticky_done(uint64_t id, const char *inst, int64_t start, int64_t end,
                                      int at_end, int64_t round)
{
    sched_completion_t c = read_completion("x", id, inst, start, end, at_end, NULL, -1);
    c.has_round = 1;
    c.round = round;
    return c;
}

/* ---- closed-round recorder ---- */

typedef struct rec_t {
    int n;
    int64_t round[8];
    int incomplete[8];
    char ranges[8][256];
} rec_t;

static void record(void *ctx, const char *job, const sched_round_t *r)
{
    rec_t *rec = ctx;
    (void)job;
    ck_assert_int_lt(rec->n, 8);
    int i = rec->n++;
    rec->round[i] = r->round;
    rec->incomplete[i] = r->incomplete;
    rec->ranges[i][0] = 0;
    for (int k = 0; k < r->nranges; k++) {
        size_t len = strlen(rec->ranges[i]);
        snprintf(rec->ranges[i] + len, sizeof rec->ranges[i] - len, "%s %" PRIu64 " %" PRIu64 ";",
                 r->ranges[k].source, r->ranges[k].start, r->ranges[k].end);
    }
}

/* ---- tcase shares ---- */

/* One slave alone takes every task; a second one joining gets half once the first gives
 * back what is past its share; a third with twice the workers gets half of the rest. */
START_TEST(test_shares_and_rebalance)
{
    sched_t *s = mk_cfg(many(30, 0), 60000);
    sched_lease_t l[64];
    uint64_t rel[64], gone[64];
    apr_status_t rv[16];
    int more;
    ck_assert_int_eq(ask(s, "s1", 2, 1024, T0, l), 30); /* alone: its share is all 30 */
    for (int i = 0; i < 30; i++) {
        ck_assert(l[i].sticky);
        ck_assert_int_eq(l[i].round, R0);
    }
    ck_assert_int_eq(ask(s, "s2", 2, 1024, T0 + 1, l), 0); /* nothing ready */
    /* s1 is past its share (ceil(30 * 2 / 4) = 15) and nothing is ready: 15 asked back */
    ck_assert_int_eq(news(s, "s1", T0 + 2, &more, rel), 15);
    ck_assert_int_eq(more, 0);
    ck_assert_int_eq(news(s, "s1", T0 + 3, &more, rel), 15); /* the same, until given back */
    ck_assert_int_eq(news(s, "s2", T0 + 3, &more, rel), 0);
    ck_assert_int_eq(more, 0);
    ck_assert_int_eq(report(s, "s1", NULL, 0, NULL, 0, 0, rel, 15, T0 + 4, rv, gone), 0);
    ck_assert_int_eq(news(s, "s2", T0 + 5, &more, rel), 0);
    ck_assert_int_eq(more, 1); /* below its share, and 15 are ready */
    ck_assert_int_eq(ask(s, "s2", 2, 1024, T0 + 5, l), 15);
    /* s3 with 4 workers: W = 8, its share ceil(30 * 4 / 8) = 15; s1 and s2 ceil(30 * 2 / 8)
     * = 8 each: 7 each asked back */
    ck_assert_int_eq(ask(s, "s3", 4, 1024, T0 + 6, l), 0);
    ck_assert_int_eq(news(s, "s1", T0 + 7, &more, rel), 7);
    ck_assert_int_eq(report(s, "s1", NULL, 0, NULL, 0, 0, rel, 7, T0 + 7, rv, gone), 0);
    ck_assert_int_eq(news(s, "s2", T0 + 8, &more, rel), 0); /* 7 are ready: nothing asked back */
    ck_assert_int_eq(ask(s, "s3", 4, 1024, T0 + 8, l), 7);
    ck_assert_int_eq(news(s, "s2", T0 + 9, &more, rel), 7);
    ck_assert_int_eq(report(s, "s2", NULL, 0, NULL, 0, 0, rel, 7, T0 + 9, rv, gone), 0);
    ck_assert_int_eq(ask(s, "s3", 4, 1024, T0 + 10, l), 7);
    ck_assert_int_eq(ask(s, "s3", 4, 1024, T0 + 10, l), 0); /* at its share: 14 of 15 */
    json_t *j = status(s, T0 + 11);
    json_t *sl = json_object_get(j, "slaves"), *v;
    size_t i;
    int held = 0;
    json_array_foreach(sl, i, v) held +=
        (int)json_integer_value(json_object_get(json_object_get(v, "sticky"), "held"));
    ck_assert_int_eq(held, 30); /* each task held once: 8 + 8 + 14 */
    json_decref(j);
}
END_TEST

/* Labels: a slave gets only the queues its labels cover; when its labels change, what they
 * no longer cover is asked back and not renewed. */
START_TEST(test_labels_ask_back)
{
    sched_t *s = mk_cfg(many(9, 1), 60000); /* f0, f3, f6 need rack1 */
    sched_lease_t l[16];
    uint64_t ids[16], rel[16], gone[16];
    int more;
    int64_t exp;
    sched_ask_t bare = {"s1", NULL, 0, 100, 1, -1};
    ck_assert_int_eq(sched_lease_sticky(s, &bare, T0, l), 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_ptr_null(strstr("/var/log/f0.log /var/log/f3.log /var/log/f6.log", l[i].source));
        ids[i] = l[i].id;
    }
    ck_assert_int_eq(ask(s, "s1", 1, 100, T0 + 1, l), 3); /* now with rack1: the rest */
    for (int i = 0; i < 3; i++)
        ids[6 + i] = l[i].id;
    const char *other[] = {"rack2"};
    sched_ask_t r2 = {"s1", other, 1, 0, 1, -1};
    ck_assert_int_eq(sched_lease_sticky(s, &r2, T0 + 2, l), 0);
    ck_assert_int_eq(news(s, "s1", T0 + 3, &more, rel), 3); /* f0, f3, f6 */
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(rel[i] >= ids[6] && rel[i] <= ids[8], 1);
    /* asked back: a renewal does not extend them (nor are they gone: they expire at
     * T0 + 1 + 60000); the others are renewed */
    ck_assert_int_eq(sched_renew_batch(s, "s1", ids, 9, T0 + 50000, gone, &exp), 0);
    sched_ask_t bare2 = {"s2", ALL, 2, 100, 1, -1};
    ck_assert_int_eq(sched_lease_sticky(s, &bare2, T0 + 60000, l), 0);
    ck_assert_int_eq(sched_lease_sticky(s, &bare2, T0 + 60001, l), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(
            strstr("/var/log/f0.log /var/log/f3.log /var/log/f6.log", l[i].source));
}
END_TEST

/* A lagging slave's weight halves: past its share, what it holds goes to the others. */
START_TEST(test_lagging)
{
    sched_t *s = mk_cfg(many(16, 0), 60000);
    sched_lease_t l[32];
    uint64_t rel[32], gone[32];
    apr_status_t rv[16];
    int more;
    ck_assert_int_eq(ask(s, "s1", 1, 8, T0, l), 8);
    ck_assert_int_eq(ask(s, "s2", 1, 100, T0 + 1, l), 8); /* shares of 8 each */
    ck_assert_int_eq(news(s, "s1", T0 + 2, &more, rel), 0);
    sched_idle_t g = {"web", R0, 0, NULL};
    sched_report_t r = {"s1", 0, NULL, 1, &g, 0, NULL, 1};
    abbey_err_t errs[1];
    int ngone;
    ck_assert_int_eq(sched_report(s, &r, T0 + 3, rv, errs, NULL, gone, &ngone), APR_SUCCESS);
    /* s1 weighs 4/8 of a worker against s2's 8/8: share ceil(16 * 4 / 12) = 6: 2 back */
    ck_assert_int_eq(news(s, "s1", T0 + 4, &more, rel), 2);
    ck_assert_int_eq(report(s, "s1", NULL, 0, NULL, 0, 0, rel, 2, T0 + 5, rv, gone), 0);
    ck_assert_int_eq(ask(s, "s2", 1, 100, T0 + 6, l), 2); /* share ceil(16 * 8 / 12) = 11 */
}
END_TEST

/* ---- tcase rounds ---- */

/* Completions leave a sticky lease held; "nothing new" makes the rest done; the round
 * closes complete with the ranges read, and nothing is journaled for the idle sources
 * but the round's one close record. */
START_TEST(test_idle_closes_rounds)
{
    abbey_err_t err;
    journal_t *jn;
    journal_stats_t st0, st1;
    sched_t *s = mk_cfg(many(10, 0), 60000);
    rec_t rec = {0};
    sched_lease_t l[16];
    uint64_t ids[16], gone[16];
    apr_status_t rv[16];
    ck_assert_int_eq(journal_open(dir, "sched", JOURNAL_FSYNC_BATCH, pool, &jn, &err), APR_SUCCESS);
    ck_assert_msg(sched_recover(s, jn, T0, &err) == APR_SUCCESS, "%s", err.msg);
    sched_attach_journal(s, jn);
    sched_on_round_closed(s, record, &rec);
    ck_assert_int_eq(ask(s, "s1", 2, 100, T0, l), 10);
    for (int i = 0; i < 10; i++)
        ids[i] = l[i].id;
    /* R0: task 0 read [0, 100) and at its end, 1..9 nothing */
    sched_completion_t c = sticky_done(ids[0], "i0", 0, 100, 1, R0);
    ck_assert_int_eq(report(s, "s1", &c, 1, ids + 1, 9, R0, NULL, 0, T0 + 10, rv, gone), 0);
    ck_assert_int_eq(rv[0], APR_SUCCESS);
    ck_assert_int_eq(rec.n, 1);
    ck_assert_int_eq(rec.incomplete[0], 0);
    ck_assert_str_eq(rec.ranges[0], "/var/log/f0.log#i0 0 100;");
    /* R0 + 1: every source idle; the leases are still held; one close record */
    journal_stats(jn, &st0);
    ck_assert_int_eq(report(s, "s1", NULL, 0, ids, 10, R0 + 1, NULL, 0, T0 + RMS + 5, rv, gone), 0);
    journal_stats(jn, &st1);
    ck_assert_int_eq(rec.n, 2);
    ck_assert_int_eq(rec.round[1], R0 + 1);
    ck_assert_str_eq(rec.ranges[1], "");
    /* (the advance record of R0 + 1's start, and its close record) */
    ck_assert_uint_eq(st1.appended_frames - st0.appended_frames, 2);
    ck_assert_uint_eq(st1.fsyncs, st0.fsyncs); /* no fsync waited for */
    /* the offset moved and stays with the holder: a completion from 100 is accepted */
    c = sticky_done(ids[0], "i0", 100, 150, 1, R0 + 2);
    ck_assert_int_eq(report(s, "s1", &c, 1, ids + 1, 9, R0 + 2, NULL, 0, T0 + 2 * RMS, rv, gone),
                     0);
    ck_assert_int_eq(rv[0], APR_SUCCESS);
    ck_assert_int_eq(rec.n, 3);
    ck_assert_str_eq(rec.ranges[2], "/var/log/f0.log#i0 100 150;");
    sched_attach_journal(s, NULL);
    journal_close(jn);
}
END_TEST

/* Claims: a round not started and a closed one are no claim; one round's idle does not
 * make a later round done; a completion claiming a closed round lists its range in the
 * oldest open one. */
START_TEST(test_claims)
{
    sched_t *s = mk_cfg(many(2, 0), 60000);
    rec_t rec = {0};
    sched_lease_t l[4];
    uint64_t ids[2], gone[4];
    apr_status_t rv[4];
    sched_on_round_closed(s, record, &rec);
    ck_assert_int_eq(ask(s, "s1", 1, 10, T0, l), 2);
    ids[0] = l[0].id, ids[1] = l[1].id;
    ck_assert_int_eq(report(s, "s1", NULL, 0, ids, 2, R0 + 1, NULL, 0, T0 + 1, rv, gone), 0);
    ck_assert_int_eq(rec.n, 0); /* R0 + 1 has not started: no claim on R0 */
    ck_assert_int_eq(report(s, "s1", NULL, 0, ids, 1, R0, NULL, 0, T0 + 2, rv, gone), 0);
    ck_assert_int_eq(rec.n, 0); /* task 1 still owes R0 */
    sched_tick(s, T0 + RMS);    /* R0 + 1 starts */
    ck_assert_int_eq(report(s, "s1", NULL, 0, ids + 1, 1, R0, NULL, 0, T0 + RMS + 1, rv, gone), 0);
    ck_assert_int_eq(rec.n, 1); /* R0 done: closes; R0 + 1 still owed by both */
    /* task 0 reads in a check it claims of R0 (closed): listed in R0 + 1 */
    sched_completion_t c = sticky_done(ids[0], "a", 0, 10, 1, R0);
    ck_assert_int_eq(report(s, "s1", &c, 1, ids + 1, 1, R0 + 1, NULL, 0, T0 + RMS + 2, rv, gone),
                     0);
    ck_assert_int_eq(rec.n, 1); /* task 0 made done for R0 only: R0 + 1 waits for it */
    ck_assert_int_eq(report(s, "s1", NULL, 0, ids, 1, R0 + 1, NULL, 0, T0 + RMS + 3, rv, gone), 0);
    ck_assert_int_eq(rec.n, 2);
    ck_assert_str_eq(rec.ranges[1], "/var/log/f0.log#a 0 10;");
    /* a sticky completion without its round: 400; someone else's lease: gone / 409 */
    sched_completion_t bad = read_completion("s1", ids[0], "a", 10, 20, 1, NULL, -1);
    ck_assert_int_eq(complete(s, &bad, T0 + RMS + 4), APR_BADARG);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "'round'"));
    ck_assert_int_eq(report(s, "s2", NULL, 0, ids, 2, R0 + 1, NULL, 0, T0 + RMS + 5, rv, gone), 2);
}
END_TEST

/* A refused completion (not the committed offset) ends the sticky lease: the task is
 * ready again, from its committed offset, for anyone. */
START_TEST(test_refused_ends_lease)
{
    sched_t *s = mk_cfg(many(1, 0), 60000);
    sched_lease_t l[2];
    uint64_t gone[4];
    apr_status_t rv[2];
    ck_assert_int_eq(ask(s, "s1", 1, 10, T0, l), 1);
    sched_completion_t c = sticky_done(l[0].id, "a", 0, 40, 1, R0);
    ck_assert_int_eq(report(s, "s1", &c, 1, NULL, 0, 0, NULL, 0, T0 + 1, rv, gone), 0);
    ck_assert_int_eq(rv[0], APR_SUCCESS);
    c = sticky_done(l[0].id, "a", 0, 80, 1, R0); /* from 0 again: not the offset (40) */
    ck_assert_int_eq(report(s, "s1", &c, 1, NULL, 0, 0, NULL, 0, T0 + 2, rv, gone), 0);
    ck_assert_int_eq(rv[0], APR_EINVAL);
    ck_assert_int_eq(ask(s, "s2", 1, 10, T0 + 3, l), 1);
    ck_assert_uint_eq(l[0].start, 40);
    ck_assert_str_eq(l[0].instance, "a");
    ck_assert_int_eq(l[0].round, R0 + 1); /* done for R0: it owes the next one */
}
END_TEST

/* A dead slave's leases expire (they are never renewed): others take its tasks from the
 * committed offsets; the rounds it held up close at their deadline, then as before. */
START_TEST(test_expiry_moves_tasks)
{
    sched_t *s = mk_cfg(many(4, 0), 60000);
    rec_t rec = {0};
    sched_lease_t l[8];
    uint64_t ids[4], gone[8];
    apr_status_t rv[4];
    sched_on_round_closed(s, record, &rec);
    ck_assert_int_eq(ask(s, "s1", 1, 2, T0, l), 2);
    ck_assert_int_eq(ask(s, "s2", 1, 8, T0, l + 2), 2);
    for (int i = 0; i < 4; i++)
        ids[i] = l[i].id;
    sched_completion_t c = sticky_done(ids[0], "a", 0, 10, 0, R0); /* s1 read 10, then died */
    ck_assert_int_eq(report(s, "s1", &c, 1, NULL, 0, 0, NULL, 0, T0 + 1, rv, gone), 0);
    for (int64_t t = T0 + 1000; t < T0 + 60000; t += 1000) /* s2 reports every second */
        ck_assert_int_eq(report(s, "s2", NULL, 0, ids + 2, 2, t / RMS, NULL, 0, t, rv, gone), 0);
    /* R0 closed at its deadline (T0 + 30 s), then R0 + 1 and R0 + 2: s1's tasks missing */
    ck_assert_int_eq(rec.n, 3);
    ck_assert_int_eq(rec.round[0], R0);
    ck_assert_int_eq(rec.incomplete[0], 1);
    ck_assert_int_eq(ask(s, "s2", 1, 8, T0 + 59999, l), 0); /* s1's expire at T0 + 60000/1 */
    int n = ask(s, "s2", 1, 8, T0 + 60001, l);
    ck_assert_int_eq(n, 2);
    const sched_lease_t *a = find(l, n, "/var/log/f0.log");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->start, 10);
    ck_assert_str_eq(a->instance, "a");
    buf_t m;
    buf_init(&m);
    sched_metrics(s, &m);
    buf_put_u8(&m, 0);
    ck_assert_ptr_nonnull(strstr((char *)m.data, "abbey_leases_total{result=\"expired\"} 2\n"));
    buf_free(&m);
}
END_TEST

/* A repair waiting for a sticky slave: its answers say "more", and its next batch holds the
 * repair lease (one-shot) besides nothing new. */
START_TEST(test_repair_says_more)
{
    sched_t *s = mk_cfg(many(1, 0), 60000);
    sched_lease_t l[4];
    uint64_t rel[4], gone[4];
    apr_status_t rv[2];
    abbey_err_t err;
    int more;
    ck_assert_int_eq(ask(s, "s1", 1, 8, T0, l), 1);
    sched_completion_t c = sticky_done(l[0].id, "a", 0, 40, 1, R0);
    ck_assert_int_eq(report(s, "s1", &c, 1, NULL, 0, 0, NULL, 0, T0 + 1, rv, gone), 0);
    ck_assert_int_eq(news(s, "s1", T0 + 2, &more, rel), 0);
    ck_assert_int_eq(more, 0);
    ck_assert_int_eq(sched_repair(s, "web", "m2", "/var/log/f0.log#a", 0, 40, R0, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(news(s, "s1", T0 + 3, &more, rel), 0);
    ck_assert_int_eq(more, 1);
    ck_assert_int_eq(ask(s, "s1", 1, 8, T0 + 4, l), 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert(!l[0].sticky);
    ck_assert_int_eq(news(s, "s1", T0 + 5, &more, rel), 0);
    ck_assert_int_eq(more, 0);
}
END_TEST

/* ---- tcase recovery ---- */

typedef struct inst2_t {
    apr_pool_t *p;
    journal_t *jn;
    sched_t *s;
} inst2_t;

static void open2(inst2_t *in, const rules_config_t *c, int64_t now)
{
    abbey_err_t err;
    sched_opts_t o = {.lease_ms = 60000, .lease_bytes = 1000, .deadline_rounds = 3};
    apr_pool_create(&in->p, pool);
    ck_assert_int_eq(journal_open(dir, "sched", JOURNAL_FSYNC_BATCH, in->p, &in->jn, &err),
                     APR_SUCCESS);
    in->s = sched_create(c, &o, in->p);
    ck_assert_msg(sched_recover(in->s, in->jn, now, &err) == APR_SUCCESS, "%s", err.msg);
    sched_attach_journal(in->s, in->jn);
}

static void drop2(inst2_t *in)
{
    journal_close(in->jn);
    apr_pool_destroy(in->p);
}

static void rounds_text(void *ctx, const char *job, const sched_round_t *r)
{
    char **out = ctx;
    *out = apr_psprintf(pool, "%s%s %" PRId64 " %d %" PRId64 " [", *out, job, r->round,
                        r->incomplete, r->closed_ms);
    for (int i = 0; i < r->nranges; i++)
        *out = apr_psprintf(pool, "%s%s %" PRIu64 " %" PRIu64 ";", *out, r->ranges[i].source,
                            r->ranges[i].start, r->ranges[i].end);
    *out = apr_pstrcat(pool, *out, "]\n", NULL);
}

/* Rounds closed by idle reports (not journaled but as close records) close again,
 * complete, when the primary recovers after a kill; the offsets are the committed ones. */
START_TEST(test_recover_idle_closes)
{
    rules_config_t *c4 = many(4, 0);
    inst2_t in;
    sched_lease_t l[8];
    uint64_t ids[4], gone[8];
    apr_status_t rv[4];
    char *before = "", *after = "";
    open2(&in, c4, T0);
    ck_assert_int_eq(ask(in.s, "s1", 1, 8, T0 + 1, l), 4);
    for (int i = 0; i < 4; i++)
        ids[i] = l[i].id;
    sched_completion_t c = sticky_done(ids[1], "b", 0, 30, 1, R0);
    ck_assert_int_eq(report(in.s, "s1", &c, 1, ids, 1, R0, NULL, 0, T0 + 2, rv, gone), 0);
    ck_assert_int_eq(report(in.s, "s1", NULL, 0, ids + 2, 2, R0, NULL, 0, T0 + 3, rv, gone), 0);
    for (int k = 1; k <= 3; k++) /* three idle rounds */
        ck_assert_int_eq(
            report(in.s, "s1", NULL, 0, ids, 4, R0 + k, NULL, 0, T0 + k * RMS + 1, rv, gone), 0);
    ck_assert_int_eq(sched_rounds(in.s, "web", -1, rounds_text, &before), 4);
    drop2(&in); /* killed */
    open2(&in, c4, T0 + 3 * RMS + 2);
    ck_assert_int_eq(sched_rounds(in.s, "web", -1, rounds_text, &after), 4);
    ck_assert_str_eq(after, before);
    ck_assert_ptr_nonnull(strstr(after, "web 170000000 0 1700000000003 [/var/log/f1.log#b 0 30;]"));
    /* the leases are not restored: the tasks are granted again from their offsets */
    int n = ask(in.s, "s2", 1, 8, T0 + 3 * RMS + 3, l);
    ck_assert_int_eq(n, 4);
    ck_assert_uint_eq(find(l, n, "/var/log/f1.log")->start, 30);
    drop2(&in);
}
END_TEST

/* ---- tcase queues ---- */

/* Granting costs O(log n) per lease: a grant among 50,000 ready tasks costs about what it
 * costs among 1,000 (within 4x here: a unit test on a shared machine, the fastest of 20
 * batches of 50 grants each, so that being preempted does not count; the figure asked for,
 * 2x, is measured by tests/tools/sched_bench). */
START_TEST(test_grant_cost)
{
    double per[2];
    int sizes[2] = {1000, 50000};
    for (int k = 0; k < 2; k++) {
        rules_config_t *c = many(sizes[k], 0);
        sched_t *s = mk_cfg(c, 60000000);
        sched_lease_t l[1];
        sched_tick(s, T0);
        per[k] = 1e12;
        for (int b = 0; b < 20; b++) {
            struct timespec t0, t1;
            int grants = 0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (int i = 0; i < 50; i++)
                grants += lease(s, "s1", 1, T0 + 1, l);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            ck_assert_int_eq(grants, 50);
            double ns =
                ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 50;
            if (ns < per[k])
                per[k] = ns;
        }
    }
    ck_assert_msg(per[1] < 4 * per[0] + 1000, "a grant: %.0f ns at 1,000 tasks, %.0f at 50,000",
                  per[0], per[1]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched_sticky");
    TCase *t = tcase_create("shares");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_shares_and_rebalance);
    tcase_add_test(t, test_labels_ask_back);
    tcase_add_test(t, test_lagging);
    suite_add_tcase(s, t);
    t = tcase_create("rounds");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_idle_closes_rounds);
    tcase_add_test(t, test_claims);
    tcase_add_test(t, test_refused_ends_lease);
    tcase_add_test(t, test_expiry_moves_tasks);
    tcase_add_test(t, test_repair_says_more);
    suite_add_tcase(s, t);
    t = tcase_create("recovery");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_recover_idle_closes);
    suite_add_tcase(s, t);
    t = tcase_create("queues");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_grant_cost);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_run(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
