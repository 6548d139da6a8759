/* check_repair_gaps.c - unit tests for gap repair on a master's side: finding what closed
 * rounds list but it never merged (merger_gaps, master/merger_gaps.c) and asking the
 * primary for it (gap_repair_tick, master/gap_repair.c), in process and through POST
 * /v1/repair on a real httpd; the primary's queue is tests/check_repair.c (docs/CLUSTER.md
 * "Gap repair"). The clock is driven by hand and the config is REPAIR_YAML
 * (tests/fixture_sched.h); frames for the merger are empty (no rows): only their byte
 * ranges matter. The oracle is the ranges each test delivered and listed as closed: the
 * gaps (round, source, start, end) are worked out by hand from those, and the asking is
 * checked against the scheduler's "repairs" figures and the repair leases it grants. */
#include <apr_general.h>
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "frame.h"
#include "gap_repair.h"
#include "hclient.h"
#include "httpd.h"
#include "merger.h"
#include "partial.h"
#include "rules.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_repair_gaps"
#include "fixture_sched.h"

static void setup(void)
{
    sched_setup(REPAIR_YAML, "repair.yaml", 1);
}

/* ---- merger side: frames, closed rounds, gaps ---- */

/* An empty frame (no rows) of [start, end) of source in round r, for master. */
static merge_result_t deliver(merger_t *m, const char *master, const char *source, uint64_t start,
                              uint64_t end, uint64_t r)
{
    const rules_job_t *job = rules_find_job(cfg, "web");
    partial_t *p = partial_create(job, pool);
    frame_header_t h;
    uint8_t none[8] = {0};
    buf_t b;
    abbey_err_t err;
    memset(&h, 0, sizeof h);
    h.config_hash = cfg->hash;
    h.round = r;
    h.lease = 7;
    h.start = start;
    h.end = end;
    snprintf(h.job, sizeof h.job, "web");
    snprintf(h.source, sizeof h.source, "%s", source);
    snprintf(h.slave, sizeof h.slave, "s1");
    snprintf(h.master, sizeof h.master, "%s", master);
    buf_init(&b);
    ck_assert_int_eq(frame_encode(&h, p, none, &b, &err), APR_SUCCESS);
    partial_destroy(p);
    abbey_err_clear(&err);
    merge_result_t res = merger_accept(m, b.data, b.len, NULL, &err);
    ck_assert_msg(res == MERGE_MERGED, "frame [%" PRIu64 ", %" PRIu64 ") not merged: %s (%s)",
                  start, end, merger_result_name(res), err.msg);
    buf_free(&b);
    return res;
}

/* The primary closed round r of web with deadline_ms and these ranges. */
static void closed(merger_t *m, uint64_t r, int64_t deadline_ms, const merger_range_t *ranges,
                   size_t n)
{
    merger_round_t rd = {.round = r,
                         .start_ms = (int64_t)r * RMS,
                         .deadline_ms = deadline_ms,
                         .nranges = n,
                         .ranges = ranges};
    merger_round_closed(m, "web", &rd);
}

#define GAPS_MAX 16
typedef struct gaps_t {
    int n;
    uint64_t round[GAPS_MAX], start[GAPS_MAX], end[GAPS_MAX];
    char source[GAPS_MAX][256];
} gaps_t;

static void on_gap(void *ctx, const merger_gap_t *g)
{
    gaps_t *gs = ctx;
    ck_assert_str_eq(g->job, "web");
    ck_assert_int_lt(gs->n, GAPS_MAX);
    gs->round[gs->n] = g->round;
    gs->start[gs->n] = g->start;
    gs->end[gs->n] = g->end;
    snprintf(gs->source[gs->n], sizeof gs->source[0], "%s", g->source);
    gs->n++;
}

static gaps_t gaps(merger_t *m, int64_t now, int64_t after, int max)
{
    gaps_t g = {0};
    int n = merger_gaps(m, now, after, max, on_gap, &g);
    ck_assert_int_eq(n, g.n);
    return g;
}

static merger_t *new_merger(const char *self)
{
    merger_t *m = merger_create(cfg, self, dir, pool);
    ck_assert_ptr_nonnull(m);
    return m;
}

#define DL (T0 + 3 * RMS) /* round R0's deadline */
#define AFTER INT64_C(60000)

START_TEST(test_gaps)
{
    merger_t *m = new_merger("m1");
    merger_range_t listed[] = {{IA, 0, 100}, {IA, 100, 200}};
    deliver(m, "m1", IA, 0, 100, (uint64_t)R0);
    closed(m, (uint64_t)R0, DL, listed, 2);
    /* not yet deadline + after */
    ck_assert_int_eq(gaps(m, DL + AFTER - 1, AFTER, 16).n, 0);
    ck_assert_int_eq(gaps(m, DL, AFTER, 16).n, 0);
    /* then exactly [100, 200) */
    gaps_t g = gaps(m, DL + AFTER, AFTER, 16);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.round[0], (uint64_t)R0);
    ck_assert_str_eq(g.source[0], IA);
    ck_assert_uint_eq(g.start[0], 100);
    ck_assert_uint_eq(g.end[0], 200);
    ck_assert_int_eq(gaps(m, DL + AFTER, AFTER, 0).n, 0);
    /* part of it arrives: the rest */
    deliver(m, "m1", IA, 100, 150, (uint64_t)R0);
    g = gaps(m, DL + AFTER + 1, AFTER, 16);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.start[0], 150);
    ck_assert_uint_eq(g.end[0], 200);
    /* a round with frames but not closed: nothing from it */
    deliver(m, "m1", IA, 300, 400, (uint64_t)R0 + 1);
    g = gaps(m, DL + 10 * AFTER, AFTER, 16);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.round[0], (uint64_t)R0);
    /* all there: no gap */
    deliver(m, "m1", IA, 150, 200, (uint64_t)R0);
    ck_assert_int_eq(gaps(m, DL + 10 * AFTER, AFTER, 16).n, 0);
}
END_TEST

START_TEST(test_gaps_parts)
{
    merger_t *m = new_merger("m2");
    /* a source never heard of, and a range with two holes */
    merger_range_t listed[] = {{IB, 0, 50}, {IA, 0, 1000}};
    deliver(m, "m2", IA, 100, 200, (uint64_t)R0);
    deliver(m, "m2", IA, 300, 1000, (uint64_t)R0);
    closed(m, (uint64_t)R0, DL, listed, 2);
    /* a later round closed, its deadline not yet past: nothing from it */
    merger_range_t later[] = {{IA, 1000, 2000}};
    closed(m, (uint64_t)R0 + 5, DL + 5 * RMS, later, 1);
    gaps_t g = gaps(m, DL + AFTER, AFTER, 16);
    ck_assert_int_eq(g.n, 3);
    ck_assert_str_eq(g.source[0], IB);
    ck_assert_uint_eq(g.start[0], 0);
    ck_assert_uint_eq(g.end[0], 50);
    ck_assert_str_eq(g.source[1], IA);
    ck_assert_uint_eq(g.start[1], 0);
    ck_assert_uint_eq(g.end[1], 100);
    ck_assert_uint_eq(g.start[2], 200);
    ck_assert_uint_eq(g.end[2], 300);
    /* max caps the count */
    g = gaps(m, DL + AFTER, AFTER, 2);
    ck_assert_int_eq(g.n, 2);
    ck_assert_uint_eq(g.end[1], 100);
    /* once the later round's deadline + after passed: its range too */
    g = gaps(m, DL + 5 * RMS + AFTER, AFTER, 16);
    ck_assert_int_eq(g.n, 4);
    ck_assert_uint_eq(g.round[3], (uint64_t)R0 + 5);
    ck_assert_uint_eq(g.start[3], 1000);
    ck_assert_uint_eq(g.end[3], 2000);
}
END_TEST

/* A master that learns of closed rounds long after they closed (it was down,
 * or started with an empty data dir) owes every range it lacks, however many
 * rounds came after: more than it keeps round partials for. */
START_TEST(test_gaps_old_rounds)
{
    merger_t *m = new_merger("m1");
    const uint64_t n = MERGER_KEEP_ROUNDS + 40;
    /* frames of the newest rounds arrive first (slaves deliver live data) */
    for (uint64_t i = n - 5; i < n; i++)
        deliver(m, "m1", IA, 100 * i, 100 * (i + 1), (uint64_t)R0 + i);
    /* then the primary's closed rounds, oldest first: each lists [100 i, 100 (i + 1)) */
    for (uint64_t i = 0; i < n; i++) {
        merger_range_t listed[] = {{IA, 100 * i, 100 * (i + 1)}};
        closed(m, (uint64_t)R0 + i, DL + (int64_t)i * RMS, listed, 1);
    }
    /* every range it never got is a gap, the oldest first, with its own round */
    gaps_t g = gaps(m, DL + (int64_t)n * RMS + AFTER, AFTER, GAPS_MAX);
    ck_assert_int_eq(g.n, GAPS_MAX);
    for (int k = 0; k < GAPS_MAX; k++) {
        ck_assert_uint_eq(g.round[k], (uint64_t)R0 + (uint64_t)k);
        ck_assert_uint_eq(g.start[k], 100 * (uint64_t)k);
        ck_assert_uint_eq(g.end[k], 100 * (uint64_t)k + 100);
    }
    /* the first 60 arrive (repaired): the next ones are asked for, and none of the merged */
    for (uint64_t i = 0; i < 60; i++)
        deliver(m, "m1", IA, 100 * i, 100 * (i + 1), (uint64_t)R0 + i);
    g = gaps(m, DL + (int64_t)n * RMS + AFTER, AFTER, GAPS_MAX);
    ck_assert_int_eq(g.n, GAPS_MAX);
    ck_assert_uint_eq(g.round[0], (uint64_t)R0 + 60);
    ck_assert_uint_eq(g.start[0], 6000);
    /* a repeat of a closed round adds nothing */
    merger_range_t again[] = {{IA, 0, 100}};
    closed(m, (uint64_t)R0, DL, again, 1);
    g = gaps(m, DL + (int64_t)n * RMS + AFTER, AFTER, GAPS_MAX);
    ck_assert_uint_eq(g.round[0], (uint64_t)R0 + 60);
}
END_TEST

/* ---- gap_repair_tick ---- */

START_TEST(test_repair_tick)
{
    sched_t *s = mk(600000);
    merger_t *m = new_merger("m1");
    sched_lease_t l[8];
    merger_range_t listed[] = {{IA, 0, 100}, {IA, 100, 200}};
    deliver(m, "m1", IA, 0, 100, (uint64_t)R0);
    closed(m, (uint64_t)R0, DL, listed, 2);
    gap_repair_t *rp = gap_repair_create(m, "m1", s, NULL, NULL, AFTER, pool);
    ck_assert_ptr_nonnull(rp);
    int64_t now = DL + AFTER - 1000;
    /* too early: nothing asked */
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 0);
    /* the gap is due: one repair queued, for m1, of the missing range */
    now += REPAIR_CHECK_MS;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 1);
    ck_assert_int_eq(repairs(s, now, "queued"), 1);
    int64_t first = now;
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 1, now, l), 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_str_eq(l[0].master, "m1");
    ck_assert_str_eq(l[0].source, A);
    ck_assert_str_eq(l[0].instance, "2049:131:0");
    ck_assert_uint_eq(l[0].start, 100);
    ck_assert_uint_eq(l[0].end, 200);
    ck_assert_int_eq(l[0].round, R0);
    /* the slave failed it; the gap stays, but within after it is not asked again */
    ck_assert_int_eq(repair_done(s, "s1", l[0].id, "gone", now + 1), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, now + 1, "queued"), 0);
    now += REPAIR_CHECK_MS;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 1);
    ck_assert_int_eq(repairs(s, now, "queued"), 0);
    now = first + AFTER - 1;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 1);
    /* `after` past the last ask (at the next check): asked again */
    now += REPAIR_CHECK_MS;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 2);
    ck_assert_int_eq(repairs(s, now, "queued"), 1);
    /* and again after another `after`, while still queued: the scheduler keeps one */
    now += AFTER;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 2);
    ck_assert_int_eq(repairs(s, now, "queued"), 1);
    /* a repair that ended: asked for again once `after` passed since the last ask */
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 1, now, l), 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_int_eq(repair_done(s, "s1", l[0].id, NULL, now), APR_SUCCESS);
    now += AFTER;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 3);
    ck_assert_int_eq(repairs(s, now, "queued"), 1);
    /* a new gap (round R0 + 1, long past its deadline) waits for the next check */
    merger_range_t next[] = {{IA, 200, 300}};
    closed(m, (uint64_t)R0 + 1, DL + RMS, next, 1);
    gap_repair_tick(rp, now + REPAIR_CHECK_MS - 1);
    ck_assert_int_eq(repairs(s, now, "asked"), 3);
    now += REPAIR_CHECK_MS;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 4);
    ck_assert_int_eq(repairs(s, now, "queued"), 2);
    /* both done, and the ranges arrive: no gap, nothing asked any more */
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 2, now, l), 2);
    ck_assert_int_eq(repair_done(s, "s1", l[0].id, NULL, now), APR_SUCCESS);
    ck_assert_int_eq(repair_done(s, "s1", l[1].id, NULL, now), APR_SUCCESS);
    deliver(m, "m1", IA, 100, 300, (uint64_t)R0);
    gap_repair_tick(rp, now + 3 * AFTER);
    ck_assert_int_eq(repairs(s, now + 3 * AFTER, "asked"), 4);
    ck_assert_int_eq(repairs(s, now + 3 * AFTER, "queued"), 0);
}
END_TEST

/* A secondary asks through POST /v1/repair on the primary's server. */
START_TEST(test_repair_tick_http)
{
    sched_t *s = mk(600000);
    merger_t *m = new_merger("m2");
    abbey_err_t err;
    sched_lease_t l[8];
    httpd_t *h = httpd_create("tok", pool);
    sched_register(s, h);
    ck_assert_msg(httpd_start(h, "127.0.0.1", 0, 2, &err) == APR_SUCCESS, "%s", err.msg);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", httpd_port(h));
    hclient_global_init();
    hclient_t *c = hclient_create("tok", 2000, 10000, pool);
    merger_range_t listed[] = {{IB, 0, 100}, {IA, 0, 80}};
    deliver(m, "m2", IA, 0, 80, (uint64_t)R0);
    closed(m, (uint64_t)R0, DL, listed, 2);
    gap_repair_t *rp = gap_repair_create(m, "m2", NULL, c, base, AFTER, pool);
    gap_repair_tick(rp, DL + AFTER);
    ck_assert_int_eq(repairs(s, DL + AFTER, "asked"), 1);
    ck_assert_int_eq(repairs(s, DL + AFTER, "queued"), 1);
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 1, DL + AFTER, l), 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_str_eq(l[0].master, "m2");
    ck_assert_str_eq(l[0].source, B);
    ck_assert_uint_eq(l[0].start, 0);
    ck_assert_uint_eq(l[0].end, 100);
    ck_assert_int_eq(l[0].round, R0);
    httpd_stop(h);
}
END_TEST

static Suite *repair_gaps_suite(void)
{
    Suite *s = suite_create("repair_gaps");
    TCase *t;

    t = tcase_create("gaps");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_gaps);
    tcase_add_test(t, test_gaps_parts);
    tcase_add_test(t, test_gaps_old_rounds);
    suite_add_tcase(s, t);

    t = tcase_create("ask");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_repair_tick);
    tcase_add_test(t, test_repair_tick_http);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_run(repair_gaps_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
