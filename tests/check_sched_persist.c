/* check_sched_persist.c - unit tests for the scheduler's recovery (master/sched_ckpt.c,
 * master/sched_recover.c): the journal of completions and round starts/closes, checkpoints,
 * and recovery from them, also into a config that lost a job or gained a source; when a
 * checkpoint is due, records that do not read back and a journal that cannot write are
 * tests/check_sched_persist_store.c.
 *
 * The clock is driven by hand. The config (tests/fixture_sched.h, FIXTURE_SCHED_PERSIST):
 * job "web" (10 s rounds; sources /var/log/a.log, /var/log/b.log [rack1], the glob
 * /data/app-*.log [rack2]) and job "api" (/var/log/c.log). One scenario (scenario() below,
 * times and values worked out in its comments) leases and completes across five rounds:
 * partial and at-end reads, a glob expansion, a rotation, a completion landing in an older
 * open round, rounds started and closed (at a deadline) by ticks. The oracle for recovery
 * is the state of the scheduler that ran the scenario, dumped from its internals
 * (sched_int.h) by this file's own code: a recovered scheduler must dump the same, whether
 * it recovered from the journal alone, a checkpoint in the middle plus the journal, or a
 * checkpoint alone. Clock, lease, completion and store helpers: tests/fixture_sched.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "journal.h"
#include "rules.h"
#include "sched_int.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_sched_persist"
#define FIXTURE_SCHED_PERSIST
#include "fixture_sched.h"

/* ---- leases and completions (lease, find, done, expand: tests/fixture_sched.h) ---- */

/* Complete a read lease as s1; m1/m2: delivery results or NULL; lines/bytes -1: absent. */
static apr_status_t done_full(sched_t *s, uint64_t id, const char *inst, int64_t start, int64_t end,
                              int at_end, const char *next, int64_t size, int64_t lines,
                              int64_t bytes, const char *m1, const char *m2, int64_t now)
{
    const char *ms[2], *rs[2];
    int nd = 0;
    sched_completion_t c = read_completion("s1", id, inst, start, end, at_end, next, size);
    if (m1)
        ms[nd] = "m1", rs[nd++] = m1;
    if (m2)
        ms[nd] = "m2", rs[nd++] = m2;
    c.lines = lines;
    c.bad_lines = lines > 0 ? 1 : -1;
    c.bytes = bytes;
    c.ndeliveries = nd;
    c.delivery_masters = ms;
    c.delivery_results = rs;
    return complete(s, &c, now);
}

/* Lease everything leasable at now and return the lease of source (must be there). */
static sched_lease_t lease_of(sched_t *s, const char *source, int64_t now, sched_lease_t *all,
                              int *n)
{
    *n = lease(s, "s1", 16, now, all);
    const sched_lease_t *l = find(all, *n, source);
    ck_assert_msg(l != NULL, "no lease for %s at %" PRId64, source, now);
    return *l;
}

/* ---- the scenario ---- */

typedef struct sc_t {
    uint64_t max_id;     /* the highest lease id granted */
    uint64_t app2_lease; /* active when the scenario ends */
    int after_ckpt;      /* completions after the checkpoint */
} sc_t;

static void note(sc_t *sc, const sched_lease_t *l, int n)
{
    for (int i = 0; i < n; i++)
        if (l[i].id > sc->max_id)
            sc->max_id = l[i].id;
}

/* Run the scenario on in; checkpoint after step ckpt_step (1..5; 0: never).
 * Completions: step 1: 4, 2: 1, 3: 2, 4: 1, 5: 2. */
static void scenario(inst_t *in, int ckpt_step, sc_t *sc)
{
    sched_t *s = in->s;
    sched_lease_t all[16], la, lb, lg, lc, l1, l2;
    int n, completed = 0;
    memset(sc, 0, sizeof *sc);
#define STEP_END(k)                                                                                \
    do {                                                                                           \
        if (ckpt_step == (k))                                                                      \
            checkpoint(in), completed = 0;                                                         \
    } while (0)

    /* 1. T0+5, round R0 of both jobs: a, b, the glob, c */
    la = lease_of(s, A, T0 + 5, all, &n);
    note(sc, all, n);
    ck_assert_int_eq(n, 4);
    lb = *find(all, n, B);
    lg = *find(all, n, G);
    lc = *find(all, n, C);
    OK(done_full(s, la.id, "i1", 0, 100, 0, NULL, 500, 10, 100, "ok", NULL, T0 + 5));
    const char *paths[] = {P1, P2};
    OK(expand(s, "s1", lg.id, paths, 2, T0 + 5)); /* tasks 3, 4 of web: due from R0+1 */
    OK(done(s, "s1", lb.id, "b1", 0, 50, 1, NULL, T0 + 5));
    OK(done(s, "s1", lc.id, "c1", 0, 10, 1, NULL, T0 + 5)); /* api R0 closes */
    completed += 4;
    STEP_END(1);

    /* 2. T0+10: a again from 100, at end: web R0 closes (a, b, glob done) */
    la = lease_of(s, A, T0 + 10, all, &n);
    note(sc, all, n);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(la.start, 100);
    OK(done(s, "s1", la.id, "i1", 100, 300, 1, NULL, T0 + 10));
    completed += 1;
    STEP_END(2);

    /* 3. T0+RMS+1, round R0+1: web a, b, glob, app-1, app-2; api c. a rotates to
     * i2; app-1 is read to its end; the rest stay leased */
    la = lease_of(s, A, T0 + RMS + 1, all, &n);
    note(sc, all, n);
    ck_assert_int_eq(n, 6);
    l1 = *find(all, n, P1);
    l2 = *find(all, n, P2);
    ck_assert_int_eq(l1.round, R0 + 1);
    OK(done_full(s, la.id, "i1", 300, 400, 1, "i2", 20, -1, -1, NULL, "spooled", T0 + RMS + 1));
    OK(done(s, "s1", l1.id, "p1", 0, 70, 1, NULL, T0 + RMS + 1));
    completed += 2;
    STEP_END(3);

    /* 4. T0+2*RMS+3: R0+2 starts; app-2's lease of R0+1 completes: its range
     * goes into R0+1 (still open), not at end */
    OK(done(s, "s1", l2.id, "p2", 0, 30, 0, NULL, T0 + 2 * RMS + 3));
    completed += 1;
    STEP_END(4);

    /* 5. ticks alone: R0+3 starts at T0+3*RMS+1; at T0+4*RMS+1 R0+1 closes at
     * its deadline (T0+4*RMS), incomplete, and R0+4 starts (only the journal's
     * round records can tell recovery so). Then at TEND = T0+4*RMS+5: a (due
     * in R0+2, i2 from 0), app-1 (R0+2, from 70) and app-2 (R0+2, from 30)
     * are leasable again (b, the glob and c still hold their leases of step 3) */
    sched_tick(s, T0 + 3 * RMS + 1);
    sched_tick(s, T0 + 4 * RMS + 1);
    la = lease_of(s, A, TEND, all, &n);
    note(sc, all, n);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(la.instance, "i2");
    ck_assert_uint_eq(la.start, 0);
    l1 = *find(all, n, P1);
    l2 = *find(all, n, P2);
    ck_assert_int_eq(l1.round, R0 + 2);
    ck_assert_uint_eq(l1.start, 70);
    ck_assert_uint_eq(l2.start, 30);
    OK(done_full(s, l1.id, "p1", 70, 90, 1, NULL, 90, 5, 20, "ok", "spooled", TEND));
    OK(done(s, "s1", la.id, "i2", 0, 15, 0, NULL, TEND));
    completed += 2;
    sc->app2_lease = l2.id;
    STEP_END(5);
    sc->after_ckpt = completed;
#undef STEP_END
}

/* ---- the oracle: the state, dumped from the internals ---- */

static void dump_round_ranges(FILE *f, const sched_range_t *g, int n)
{
    for (int i = 0; i < n; i++)
        fprintf(f, " [%s %" PRIu64 " %" PRIu64 ")", g[i].source, g[i].start, g[i].end);
}

/* Everything recovery must restore, of job only (NULL: every job, and the counters).
 * Leases, slaves and last_leased_ms are left out (not restored / not journaled). */
static char *dump(sched_t *s, const char *only)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    apr_thread_mutex_lock(s->lock);
    for (int j = 0; j < s->njobs; j++) {
        sched_job_t *job = &s->jobs[j];
        if (only && strcmp(job->cfg->name, only) != 0)
            continue;
        fprintf(f, "job %s round_ms %" PRId64 " cur %" PRId64 " seq %" PRId64 " next %" PRId64 "\n",
                job->cfg->name, job->round_ms, job->cur_round, job->round_seq, job->next_start_ms);
        for (int i = 0; i < job->tasks->nelts; i++) {
            const sched_task_t *t = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
            fprintf(f,
                    " task %d %d %s glob %s inst '%s' off %" PRIu64 " size %" PRId64
                    " counters %" PRIu64 " %" PRIu64 " %" PRIu64 " labels %d",
                    t->id, t->kind, t->source, t->glob ? t->glob : "-", t->instance, t->offset,
                    t->size, t->lines, t->bad_lines, t->bytes, t->nlabels);
            fprintf(f, " done %" PRId64 " last range %" PRId64 "/%d", t->done_seq, t->lr_round,
                    t->lr_index);
            for (int m = 0; m < s->cfg->nmasters; m++)
                fprintf(f, " %s", t->deliv[m] ? t->deliv[m] : "-");
            fprintf(f, "\n");
        }
        for (const sched_rnd_t *r = job->open; r; r = r->next) {
            fprintf(
                f, " open %" PRId64 " seq %" PRId64 " %" PRId64 " %" PRId64 " due %d pending %d",
                r->pub.round, r->seq, r->pub.start_ms, r->pub.deadline_ms, r->ndue, r->npending);
            dump_round_ranges(f, (const sched_range_t *)r->ranges->elts, r->ranges->nelts);
            fprintf(f, "\n");
        }
        for (int i = 0; i < job->nclosed; i++) {
            const sched_round_t *r = &job->closed[(job->closed_first + i) % SCHED_ROUNDS_KEPT]->pub;
            fprintf(f, " closed %" PRId64 " %" PRId64 " %" PRId64 " at %" PRId64 " incomplete %d",
                    r->round, r->start_ms, r->deadline_ms, r->closed_ms, r->incomplete);
            dump_round_ranges(f, r->ranges, r->nranges);
            fprintf(f, " missing");
            for (int k = 0; k < r->nmissing; k++)
                fprintf(f, " %d", r->missing[k]);
            fprintf(f, "\n");
        }
    }
    if (!only)
        fprintf(f, "completed %" PRIu64 "\n", s->n_completed);
    apr_thread_mutex_unlock(s->lock);
    fclose(f);
    return text;
}

/* sched_rounds as text: the public face of the closed rounds. */
static void rounds_text(void *ctx, const char *job, const sched_round_t *r)
{
    FILE *f = ctx;
    fprintf(f, "%s %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %d", job, r->round, r->start_ms,
            r->deadline_ms, r->closed_ms, r->incomplete);
    dump_round_ranges(f, r->ranges, r->nranges);
    fprintf(f, "\n");
}

static char *rounds_of(sched_t *s, const char *job)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int n = sched_rounds(s, job, -1, rounds_text, f);
    fprintf(f, "n=%d\n", n);
    fclose(f);
    return text;
}

static void expect_same(char *want, char *got)
{
    ck_assert_msg(strcmp(want, got) == 0, "recovered state differs.\nwant:\n%s\ngot:\n%s", want,
                  got);
    free(want);
    free(got);
}

static int closed_calls;
static void count_closed(void *ctx, const char *job, const sched_round_t *r)
{
    closed_calls++;
}

/* Run the scenario (checkpoint after ckpt_step), drop the scheduler, recover a
 * new one from the same directory at TEND: it must hold the same state.
 * Leaves the recovered one in *out (and the scenario's facts in *sc). */
static void run_and_recover(int ckpt_step, inst_t *out, sc_t *sc)
{
    inst_t in;
    inst_open(&in, cfg, T0);
    scenario(&in, ckpt_step, sc);
    char *want = dump(in.s, NULL), *want_web = rounds_of(in.s, "web");
    char *want_api = rounds_of(in.s, "api");
    inst_drop(&in);

    abbey_err_t err;
    sched_opts_t o = {.lease_ms = 60000, .lease_bytes = 1000, .deadline_rounds = 3};
    apr_pool_create(&out->p, pool);
    ck_assert_int_eq(journal_open(dir, "sched", JOURNAL_FSYNC_BATCH, out->p, &out->jn, &err),
                     APR_SUCCESS);
    out->s = sched_create(cfg, &o, out->p);
    closed_calls = 0;
    sched_on_round_closed(out->s, count_closed, NULL);
    sched_tick(out->s, TEND); /* rounds started before recovery are forgotten by it */
    ck_assert_msg(sched_recover(out->s, out->jn, TEND, &err) == APR_SUCCESS, "recover: %s",
                  err.msg);
    sched_attach_journal(out->s, out->jn);
    ck_assert_int_eq(closed_calls, 0); /* rounds closed before the crash are not delivered again */
    expect_same(want, dump(out->s, NULL));
    expect_same(want_web, rounds_of(out->s, "web"));
    expect_same(want_api, rounds_of(out->s, "api"));
    ck_assert_int_eq(out->s->recovered.replayed, (uint64_t)sc->after_ckpt);
    ck_assert_int_eq(out->s->recovered.skipped, 0);
    ck_assert_int_eq(out->s->recovered.mismatched, 0);
    ck_assert_int_eq(out->s->recovered.checkpoint_seq > 0, ckpt_step > 0);
}

/* After recovery: every due task is leased again from its committed offset, with
 * ids above every old one. */
static void expect_resume(inst_t *in, const sc_t *sc)
{
    sched_lease_t all[16];
    int n = lease(in->s, "s1", 16, TEND + 1, all);
    /* web R0+2: a, b, glob, app-2 (app-1 is done in it: due in R0+3); api: c */
    ck_assert_int_eq(n, 6);
    for (int i = 0; i < n; i++)
        ck_assert_uint_gt(all[i].id, sc->max_id);
    const sched_lease_t *a = find(all, n, A), *p2 = find(all, n, P2), *p1 = find(all, n, P1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(p1);
    ck_assert_ptr_nonnull(p2);
    ck_assert_str_eq(a->instance, "i2"); /* the rotation survived */
    ck_assert_uint_eq(a->start, 15);     /* the committed offset: not 0, not beyond */
    ck_assert_int_eq(a->round, R0 + 2);
    ck_assert_str_eq(p2->instance, "p2");
    ck_assert_uint_eq(p2->start, 30);
    ck_assert_int_eq(p2->round, R0 + 2);
    ck_assert_uint_eq(p1->start, 90);
    ck_assert_int_eq(p1->round, R0 + 3); /* done in R0+2 */
    /* and the work goes on */
    OK(done(in->s, "s1", a->id, "i2", 15, 40, 1, NULL, TEND + 2));
}

/* ---- tcase recover ---- */

START_TEST(test_journal_only)
{
    inst_t in;
    sc_t sc;
    run_and_recover(0, &in, &sc);
    expect_resume(&in, &sc);
    /* recover once more (the first recovery's own records and the new
     * completion are in a newer segment): the same state again */
    char *want = dump(in.s, NULL);
    inst_drop(&in);
    inst_open(&in, cfg, TEND + 2);
    expect_same(want, dump(in.s, NULL));
    inst_drop(&in);
}
END_TEST

START_TEST(test_checkpoint_middle)
{
    for (int step = 1; step <= 5; step++) {
        inst_t in;
        sc_t sc;
        run_and_recover(step, &in, &sc);
        expect_resume(&in, &sc);
        inst_drop(&in);
        nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
    }
}
END_TEST

START_TEST(test_old_lease_refused)
{
    inst_t in;
    sc_t sc;
    run_and_recover(2, &in, &sc);
    /* app-2's lease was active when the scheduler went away */
    ck_assert_int_eq(done(in.s, "s1", sc.app2_lease, "p2", 30, 60, 1, NULL, TEND + 1), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(last_err.msg, "not yours"));
    sched_lease_t all[16];
    int n = lease(in.s, "s1", 16, TEND + 1, all);
    ck_assert_int_gt(n, 0);
    for (int i = 0; i < n; i++)
        ck_assert_uint_ge(all[i].id, sc.max_id + 1000000);
    /* the refused completion changed nothing: app-2 from 30 */
    ck_assert_uint_eq(find(all, n, P2)->start, 30);
    inst_drop(&in);
}
END_TEST

/* The rotation and the glob's paths, through the journal and through a checkpoint. */
START_TEST(test_rotation_and_expand)
{
    for (int step = 0; step <= 5; step += 5) {
        inst_t in;
        sc_t sc;
        run_and_recover(step, &in, &sc);
        sched_job_t *web = sched_job_find(in.s, "web");
        ck_assert_ptr_nonnull(web);
        ck_assert_int_eq(web->tasks->nelts, 5);
        sched_task_t *a = sched_task_find(web, SCHED_READ, A);
        ck_assert_str_eq(a->instance, "i2");
        ck_assert_uint_eq(a->offset, 15);
        ck_assert_int_eq(a->size, 20);
        for (int k = 0; k < 2; k++) {
            sched_task_t *p = sched_task_find(web, SCHED_READ, k ? P2 : P1);
            ck_assert_ptr_nonnull(p);
            ck_assert_str_eq(p->glob, G);
            ck_assert_int_eq(p->nlabels, 1); /* the glob's labels, from the config */
            ck_assert_str_eq(p->labels[0], "rack2");
        }
        /* a slave without rack2 gets neither the glob nor its paths: a, b and api's c */
        const char *r1[] = {"rack1"};
        sched_lease_t all[16];
        int n = sched_lease(in.s, "s9", r1, 1, 16, TEND + 1, all);
        ck_assert_int_eq(n, 3);
        ck_assert_ptr_nonnull(find(all, n, A));
        ck_assert_ptr_nonnull(find(all, n, B));
        ck_assert_ptr_nonnull(find(all, n, C));
        inst_drop(&in);
        nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
    }
}
END_TEST

/* A config without job api: recovery drops it, web is whole. */
START_TEST(test_job_gone)
{
    for (int step = 0; step <= 2; step += 2) {
        inst_t in;
        sc_t sc;
        abbey_err_t err;
        inst_open(&in, cfg, T0);
        scenario(&in, step, &sc);
        char *want = dump(in.s, "web"), *want_rounds = rounds_of(in.s, "web");
        inst_drop(&in);
        sched_opts_t o = {.lease_ms = 60000, .lease_bytes = 1000, .deadline_rounds = 3};
        apr_pool_create(&in.p, pool);
        ck_assert_int_eq(journal_open(dir, "sched", JOURNAL_FSYNC_BATCH, in.p, &in.jn, &err),
                         APR_SUCCESS);
        in.s = sched_create(cfg_web, &o, in.p);
        ck_assert_msg(sched_recover(in.s, in.jn, TEND, &err) == APR_SUCCESS, "%s", err.msg);
        expect_same(want, dump(in.s, "web"));
        expect_same(want_rounds, rounds_of(in.s, "web"));
        ck_assert_int_eq(sched_rounds(in.s, "api", -1, rounds_text, stderr), -1);
        ck_assert_int_eq(in.s->njobs, 1);
        if (step == 0) { /* c's completion is in the journal: skipped */
            ck_assert_int_eq(in.s->recovered.skipped, 1);
            ck_assert_int_eq(in.s->recovered.jobs_dropped, 0);
        } else { /* api is in the checkpoint: dropped with its task */
            ck_assert_int_eq(in.s->recovered.skipped, 0);
            ck_assert_int_eq(in.s->recovered.jobs_dropped, 1);
            ck_assert_int_eq(in.s->recovered.tasks_dropped, 1);
        }
        inst_drop(&in);
        nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
    }
}
END_TEST

/* A source added to the config after the checkpoint starts fresh, and joins the next round. */
START_TEST(test_source_added)
{
    static const char *YNEW = MASTERS "jobs:\n"
                                      "  - name: web\n"
                                      "    round: 10s\n"
                                      "    sources:\n"
                                      "      - /var/log/new.log\n"
                                      "      - " A "\n"
                                      "      - {path: " B ", labels: [rack1]}\n"
                                      "      - {path: '" G "', labels: [rack2]}\n" GROUPS API;
    rules_config_t *cnew;
    abbey_err_t err;
    sched_lease_t all[16];
    sc_t sc;
    inst_t in;
    ck_assert_int_eq(rules_load_buffer(YNEW, strlen(YNEW), "new.yaml", pool, &cnew, &err),
                     APR_SUCCESS);
    inst_open(&in, cfg, T0);
    scenario(&in, 5, &sc);
    inst_drop(&in);
    inst_open(&in, cnew, TEND);
    sched_job_t *web = sched_job_find(in.s, "web");
    ck_assert_int_eq(web->tasks->nelts, 6);
    sched_task_t *t = sched_task_find(web, SCHED_READ, "/var/log/new.log");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->id, 5); /* after the restored ones: the open rounds do not list it */
    ck_assert_uint_eq(t->offset, 0);
    ck_assert_str_eq(t->instance, "");
    ck_assert_uint_eq(sched_task_find(web, SCHED_READ, A)->offset, 15);
    for (sched_rnd_t *r = web->open; r; r = r->next)
        ck_assert_int_ge(t->done_seq, r->seq); /* not due in them */
    int n = lease(in.s, "s1", 16, TEND + 1, all);
    ck_assert_int_eq(n, 6);
    ck_assert_ptr_null(find(all, n, "/var/log/new.log"));
    /* it joins the next round */
    n = lease(in.s, "s1", 16, T0 + 5 * RMS + 1, all);
    ck_assert_ptr_nonnull(find(all, n, "/var/log/new.log"));
    inst_drop(&in);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched_persist");
    TCase *tc = tcase_create("recover");
    tcase_add_checked_fixture(tc, persist_setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_journal_only);
    tcase_add_test(tc, test_checkpoint_middle);
    tcase_add_test(tc, test_old_lease_refused);
    tcase_add_test(tc, test_rotation_and_expand);
    tcase_add_test(tc, test_job_gone);
    tcase_add_test(tc, test_source_added);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
