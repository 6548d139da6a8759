/* check_slave_combine.c - unit tests for sending a frame of several ranges (slave/deliver.c,
 * deliver_parts; docs/CLUSTER.md "Frames of several ranges") against the fake masters of
 * tests/fixture_slave.h: two files read into one partial go to each master as one frame of
 * both ranges; a master that answers 409, or refuses the frame (as one that predates range
 * lists does), gets each range read again alone; one that is down gets the frame spooled
 * whole; parts not in one partial (a read after them failed) go each alone to every master.
 * How a worker comes to combine leases (the holder's queue) is tests/check_slave_hold.c.
 *
 * Oracles: the generated text (line and key counts worked out here, check_frame) and the
 * frames the fake masters decoded. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "deliver.h"
#include "frame.h"
#include "framelog.h"
#include "hclient.h"
#include "httpd.h"
#include "slave.h"
#include "task.h"
#include "worker_int.h"

#define FIXTURE_SUITE "check_slave_combine"
#define FIXTURE_SLAVE_WORKER
#include "fixture_slave.h"

/* Two files a.log and b.log read into one partial by a worker, ready to deliver. */
typedef struct two_t {
    slave_t *s;
    worker_t *w;
    engine_t *e;
    partial_t *p;
    const char *text[2], *path[2], *src[2];
    deliver_part_t parts[2];
    deliver_t d;
} two_t;

static void two_read(two_t *t, const char *spool_dir)
{
    const rules_job_t *job;
    slave_lease_t l;
    abbey_err_t err;

    t->s = new_slave(1, spool_dir);
    t->w = worker_create(t->s, 0);
    ck_assert_int_eq(worker_use_config(t->w, "cafe0001"), 0);
    job = rules_find_job(t->w->cfg->rules, "t");
    worker_engine(t->w, job, &t->e, &t->p);
    for (int i = 0; i < 2; i++) {
        uint64_t l0 = t->p->lines, b0 = t->p->bad_lines, y0 = t->p->bytes, done;
        t->path[i] = tpath(i ? "b.log" : "a.log");
        t->text[i] = gen_log(20 + 7 * i, i ? "u4 404\n" : "");
        put_file(t->path[i], "w", t->text[i]);
        t->src[i] = apr_pstrcat(pool, t->path[i], "#", stat_instance(t->path[i], 0), NULL);
        ck_assert_int_eq(task_run_file(t->e, t->path[i], 0, strlen(t->text[i]), 0, &t->w->tasks.io,
                                       t->p, NULL, &done, t->w->task_pool, &err),
                         APR_SUCCESS);
        ck_assert_uint_eq(done, strlen(t->text[i]));
        deliver_part_t *x = &t->parts[i];
        memset(x, 0, sizeof *x);
        snprintf(x->range.source, sizeof x->range.source, "%s", t->src[i]);
        x->range.lease = 10 + (uint64_t)i;
        x->range.end = done;
        x->range.lines = t->p->lines - l0;
        x->range.bad_lines = t->p->bad_lines - b0;
        x->range.bytes = t->p->bytes - y0;
        x->read_path = t->path[i];
        x->results = apr_pcalloc(pool, 2 * sizeof(deliver_result_t));
    }
    memset(&l, 0, sizeof l);
    l.id = 10;
    l.job = "t";
    l.source = t->path[0];
    l.round = 77;
    worker_deliver_init(t->w, &l, job, t->e, stat_instance(t->path[0], 0), t->path[0], &t->d);
}

static void two_done(two_t *t)
{
    worker_destroy(t->w);
    slave_join(t->s);
}

/* Frame i is one of both ranges to master m, its counts the oracle's over both files. */
static void check_both(int i, const char *m)
{
    const fake_frame_t *f = &fake.frames[i];
    uint64_t la, lb;
    long ua, ub;
    count_lines(gen_log(20, ""), 0, strlen(gen_log(20, "")), &la, &ua);
    count_lines(gen_log(27, "u4 404\n"), 0, strlen(gen_log(27, "u4 404\n")), &lb, &ub);
    ck_assert_str_eq(f->master, m);
    ck_assert_uint_eq(f->nranges, 2);
    ck_assert_uint_eq(f->lines, la + lb);
    ck_assert_uint_eq(f->round, 77);
    ck_assert_uint_eq(f->lease, 10); /* the first range's */
    if (strcmp(m, "m1") == 0)
        ck_assert_int_eq(f->u0, ua + ub);
    else
        ck_assert_int_eq(f->user_rows, 0);
}

START_TEST(parts_one_frame_each)
{
    two_t t;
    two_read(&t, NULL);
    ck_assert_int_eq(deliver_parts(&t.d, t.p, t.parts, 2), 0);
    ck_assert_int_eq(fake.nframes, 2);
    check_both(0, "m1");
    check_both(1, "m2");
    for (int i = 0; i < 2; i++)
        for (int m = 0; m < 2; m++)
            ck_assert_int_eq(t.parts[i].results[m], DELIVER_OK);
    two_done(&t);
}
END_TEST

/* m2 answers 409 (or refuses): it gets each range alone, read again; m1 the one frame. */
static void falls_back(int refuse)
{
    two_t t;
    two_read(&t, NULL);
    if (refuse)
        fake.script[1].refuse400 = 1;
    else
        snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict, "[]");
    ck_assert_int_eq(deliver_parts(&t.d, t.p, t.parts, 2), 0);
    ck_assert_int_eq(fake.nframes, 4);
    check_both(0, "m1");
    check_both(1, "m2");
    ck_assert_int_eq(fake.frames[1].answered, refuse ? 400 : 409);
    for (int i = 0; i < 2; i++) {
        check_frame(&fake.frames[2 + i], "m2", t.src[i], t.text[i], 0, strlen(t.text[i]));
        ck_assert_uint_eq(fake.frames[2 + i].nranges, 1);
        ck_assert_uint_eq(fake.frames[2 + i].lease, 10 + (uint64_t)i);
        ck_assert_int_eq(fake.frames[2 + i].answered, 200);
        ck_assert_int_eq(t.parts[i].results[0], DELIVER_OK);
        ck_assert_int_eq(t.parts[i].results[1], DELIVER_OK);
    }
    ck_assert_int_eq(t.d.parts_resent, 2);
    two_done(&t);
}

START_TEST(parts_conflict_each_alone)
{
    falls_back(0);
}
END_TEST

START_TEST(parts_refused_each_alone)
{
    falls_back(1);
}
END_TEST

static int on_spooled(void *ctx, uint64_t off, const uint8_t *frame, size_t len,
                      const frame_header_t *h)
{
    (void)off, (void)frame, (void)len;
    ck_assert_uint_eq(h->nranges, 2);
    ++*(int *)ctx;
    return 0;
}

START_TEST(parts_spooled_whole)
{
    const char *files[4];
    abbey_err_t err;
    two_t t;
    int n = 0;

    two_read(&t, tpath("spool"));
    fake.script[1].fail503 = 2; /* m2 is down: tried twice */
    ck_assert_int_eq(deliver_parts(&t.d, t.p, t.parts, 2), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(t.parts[i].results[0], DELIVER_OK);
        ck_assert_int_eq(t.parts[i].results[1], DELIVER_SPOOLED);
    }
    ck_assert_int_eq(spool_files(tpath("spool"), "m2", files, 4), 1);
    ck_assert_int_eq(framelog_walk(files[0], 0, on_spooled, NULL, &n, NULL, pool, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1); /* one frame of both ranges */
    two_done(&t);
}
END_TEST

START_TEST(parts_without_partial)
{
    two_t t;
    two_read(&t, NULL);
    ck_assert_int_eq(deliver_parts(&t.d, NULL, t.parts, 2), 0);
    ck_assert_int_eq(fake.nframes, 4); /* each range alone, to each master */
    check_frame(&fake.frames[0], "m1", t.src[0], t.text[0], 0, strlen(t.text[0]));
    check_frame(&fake.frames[1], "m1", t.src[1], t.text[1], 0, strlen(t.text[1]));
    check_frame(&fake.frames[2], "m2", t.src[0], t.text[0], 0, strlen(t.text[0]));
    check_frame(&fake.frames[3], "m2", t.src[1], t.text[1], 0, strlen(t.text[1]));
    /* one part alone */
    ck_assert_int_eq(deliver_parts(&t.d, NULL, t.parts + 1, 1), 0);
    ck_assert_int_eq(fake.nframes, 6);
    check_frame(&fake.frames[5], "m2", t.src[1], t.text[1], 0, strlen(t.text[1]));
    two_done(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("slave_combine");
    TCase *tc = tcase_create("parts");
    tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parts_one_frame_each);
    tcase_add_test(tc, parts_conflict_each_alone);
    tcase_add_test(tc, parts_refused_each_alone);
    tcase_add_test(tc, parts_spooled_whole);
    tcase_add_test(tc, parts_without_partial);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    hclient_global_init();
    return check_run(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
