/* check_merger_ranges.c - unit tests for frames of several ranges at a master (master/merger.c,
 * merger_http.c, merger_ckpt.c, merger_recover.c; docs/CLUSTER.md "Frames of several
 * ranges"): a frame of all-new ranges merged whole; its exact re-delivery a duplicate; a
 * frame with one range overlapping what the master holds (or one wholly held beside new
 * ones) a conflict naming the clashing ranges, over HTTP too, with nothing of it merged; a
 * closed round listing each range of a combined frame exported complete, and an owed range
 * paid by one; recovery from the journal and from a checkpoint plus the journal.
 *
 * The two-master config and synthetic logs of the merger suites (tests/fixture_merger.h);
 * a combined frame is built as a slave builds it: the engine fed each range in turn into
 * one partial, the ranges' counters what each added. Oracles: the api report recounted
 * from the lines themselves (oracle_api_csv), a merger fed the same lines as single
 * frames, and the journal's recovery summary (stderr captured). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "check_run.h"
#include "engine.h"
#include "frame.h"
#include "httpd.h"
#include "journal.h"
#include "merger.h"
#include "rules.h"

#define FIXTURE_SUITE "check_merger_ranges"
#define FIXTURE_MERGER_RECOUNT
#define FIXTURE_MERGER_PERSIST
#include "fixture_merger.h"

/* One frame for master covering the line ranges sel[0..n) in round r, each range its
 * lease 40 + i; groups as the master owns them. */
static void combined_for(const char *master, const sel_t *sel, int n, uint64_t r, buf_t *out)
{
    partial_t *p = partial_create(job, pool);
    frame_ranges_t *fr = calloc(1, sizeof *fr);
    frame_header_t h;
    uint8_t mask[8];
    abbey_err_t err;
    int mi = master_index(master);

    for (int i = 0; i < n; i++) {
        const sel_t *x = &sel[i];
        uint64_t l0 = p->lines, b0 = p->bad_lines, y0 = p->bytes;
        ck_assert_int_eq(engine_feed(eng, text[x->s] + off[x->s][x->l0],
                                     off[x->s][x->l1] - off[x->s][x->l0], off[x->s][x->l0], p, NULL,
                                     NULL),
                         APR_SUCCESS);
        snprintf(fr->r[i].source, sizeof fr->r[i].source, "%s", SRC[x->s]);
        fr->r[i].lease = 40 + (uint64_t)i;
        fr->r[i].start = off[x->s][x->l0];
        fr->r[i].end = off[x->s][x->l1];
        fr->r[i].lines = p->lines - l0;
        fr->r[i].bad_lines = p->bad_lines - b0;
        fr->r[i].bytes = p->bytes - y0;
    }
    fr->n = (uint32_t)n;
    memset(&h, 0, sizeof h);
    h.config_hash = cfg->hash;
    h.round = r;
    frame_header_counts(&h, p);
    strcpy(h.job, job->name);
    strcpy(h.slave, "s1");
    strcpy(h.master, master);
    h.ranges = fr;
    for (int g = 0; g < job->ngroups; g++)
        mask[g] = job->groups[g].master == mi;
    ck_assert_msg(frame_encode(&h, p, mask, out, &err) == APR_SUCCESS, "%s", err.msg);
    partial_destroy(p);
    free(fr);
}

static merge_result_t send_combined(merger_t *m, const sel_t *sel, int n, uint64_t r,
                                    merger_conflict_t *c)
{
    buf_t b;
    abbey_err_t err;
    merge_result_t res;
    buf_init(&b);
    combined_for("m1", sel, n, r, &b);
    err.msg[0] = 0;
    res = merger_accept(m, b.data, b.len, c, &err);
    ck_assert_msg(res != MERGE_REJECTED, "rejected: %s", err.msg);
    buf_free(&b);
    return res;
}

static json_int_t combined_figure(merger_t *m, const char *name)
{
    json_t *st = status(m);
    json_int_t v = json_integer_value(json_object_get(json_object_get(st, "combined"), name));
    json_decref(st);
    return v;
}

/* The reports and the status without what a conflict or a duplicate counts (the
 * partials' counters, the frame bytes received): what they must not change. */
static char *figures(merger_t *m)
{
    json_t *st = status(m);
    char *api = report(m, "api", NULL), *users = report(m, "users", NULL), *js, *out;
    json_object_del(st, "partials");
    json_object_del(st, "frame_bytes");
    json_object_del(job_status(st), "partials");
    json_object_del(st, "memory"); /* the process's RSS */
    js = json_dumps(st, JSON_SORT_KEYS | JSON_INDENT(1));
    out = malloc(strlen(api) + strlen(users) + strlen(js) + 4);
    sprintf(out, "%s\n%s\n%s", api, users, js);
    free(api);
    free(users);
    free(js);
    json_decref(st);
    return out;
}

/* ---- merged whole, then a duplicate ------------------------------------ */

START_TEST(all_new_merged)
{
    merger_t *m = new_merger("m1");
    sel_t sel[] = {{0, 0, 100}, {1, 0, 80}, {0, 200, 300}};
    char *before;

    ck_assert_int_eq(send_combined(m, sel, 3, H0, NULL), MERGE_MERGED);
    assert_api(m, sel, 3);
    ck_assert_int_eq(combined_figure(m, "frames"), 1);
    ck_assert_int_eq(combined_figure(m, "ranges"), 3);
    {
        buf_t mt;
        buf_init(&mt);
        merger_metrics(m, &mt);
        buf_put_u8(&mt, 0);
        ck_assert_ptr_nonnull(
            strstr((const char *)mt.data, "abbey_combined_ranges_total{master=\"m1\"} 3\n"));
        buf_free(&mt);
    }
    {
        json_t *st = status(m);
        ck_assert_int_eq(job_figure(st, "partials", "merged"), 1);
        ck_assert_int_eq(job_figure(st, NULL, "lines"), 280);
        ck_assert_int_eq(job_figure(st, NULL, "sources"), 2);
        json_decref(st);
    }
    /* every range is held: each alone is a duplicate, a part of one too */
    ck_assert_int_eq(deliver(m, "m1", 0, 200, 300, H0), MERGE_DUPLICATE);
    ck_assert_int_eq(deliver(m, "m1", 1, 10, 20, H0), MERGE_DUPLICATE);
    ck_assert_int_eq(deliver(m, "m1", 0, 100, 200, H0), MERGE_MERGED); /* the gap between */
    /* the exact re-delivery (a spool's, a retry's): a duplicate, nothing counted again */
    before = figures(m);
    ck_assert_int_eq(send_combined(m, sel, 3, H0, NULL), MERGE_DUPLICATE);
    {
        char *after = figures(m);
        assert_same(after, before, "state after a re-delivered combined frame");
        free(after);
    }
    ck_assert_int_eq(combined_figure(m, "frames"), 1);
    {
        sel_t all[] = {{0, 0, 300}, {1, 0, 80}};
        assert_api(m, all, 2);
    }
    free(before);
}
END_TEST

/* ---- conflicts ----------------------------------------------------------- */

START_TEST(overlap_conflict)
{
    merger_t *m = new_merger("m1");
    sel_t one[] = {{1, 0, 80}};
    sel_t clash[] = {{0, 0, 100}, {1, 40, 120}};      /* the second overlaps [0, 80) of b */
    sel_t held_and_new[] = {{1, 0, 80}, {0, 0, 100}}; /* the first wholly held */
    merger_conflict_t *c = malloc(sizeof *c);
    char *before, *after;

    ck_assert_int_eq(deliver(m, "m1", 1, 0, 80, H0), MERGE_MERGED);
    before = figures(m);
    ck_assert_int_eq(send_combined(m, clash, 2, H0, c), MERGE_CONFLICT);
    ck_assert_uint_eq(c->n, 0);
    ck_assert_uint_eq(c->nclash, 1);
    ck_assert_str_eq(c->clash[0].source, SRC[1]);
    ck_assert_uint_eq(c->clash[0].start, off[1][40]);
    ck_assert_uint_eq(c->clash[0].end, off[1][120]);
    ck_assert_uint_eq(c->clash[0].n, 1);
    ck_assert_uint_eq(c->clash[0].held[0][0], off[1][0]);
    ck_assert_uint_eq(c->clash[0].held[0][1], off[1][80]);
    ck_assert_int_eq(send_combined(m, held_and_new, 2, H0, c), MERGE_CONFLICT);
    ck_assert_uint_eq(c->nclash, 1);
    ck_assert_uint_eq(c->clash[0].start, off[1][0]);
    /* nothing of either was merged */
    after = figures(m);
    assert_same(after, before, "state after two conflicts");
    assert_api(m, one, 1);
    ck_assert_int_eq(combined_figure(m, "frames"), 0);
    {
        json_t *st = status(m);
        ck_assert_int_eq(job_figure(st, "partials", "conflict"), 2);
        json_decref(st);
    }
    /* the new ranges are still new: a slave's fallback sends them alone */
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 1, 80, 120, H0), MERGE_MERGED);
    {
        sel_t all[] = {{0, 0, 100}, {1, 0, 120}};
        assert_api(m, all, 2);
    }
    free(before);
    free(after);
    free(c);
}
END_TEST

START_TEST(conflict_over_http)
{
    merger_t *m = new_merger("m1");
    httpd_t *h = httpd_create("sekrit", pool);
    sel_t clash[] = {{0, 0, 100}, {1, 40, 120}, {1, 200, 260}};
    abbey_err_t err;
    http_ans_t a;
    buf_t f;
    json_t *o, *list, *x;

    merger_register(m, h);
    ck_assert_msg(httpd_start(h, "127.0.0.1", 0, 2, &err) == APR_SUCCESS, "%s", err.msg);
    buf_init(&a.body);
    buf_init(&f);
    ck_assert_int_eq(deliver(m, "m1", 1, 0, 80, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 1, 100, 210, H0), MERGE_MERGED);
    combined_for("m1", clash, 3, H0, &f);
    http(httpd_port(h), "POST", "/v1/partials", f.data, f.len, &a);
    ck_assert_int_eq(a.status, 409);
    o = json_loads((const char *)a.body.data, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "result")), "conflict");
    ck_assert_uint_eq(json_array_size(json_object_get(o, "ranges")), 0); /* holds nothing */
    list = json_object_get(o, "conflicts");
    ck_assert_uint_eq(json_array_size(list), 2); /* the second and third ranges */
    x = json_array_get(list, 0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "source")), SRC[1]);
    ck_assert_int_eq(json_integer_value(json_object_get(x, "start")), (json_int_t)off[1][40]);
    ck_assert_int_eq(json_integer_value(json_object_get(x, "end")), (json_int_t)off[1][120]);
    ck_assert_int_eq(
        json_integer_value(json_array_get(json_array_get(json_object_get(x, "ranges"), 0), 1)),
        (json_int_t)off[1][80]);
    x = json_array_get(list, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(x, "start")), (json_int_t)off[1][200]);
    ck_assert_int_eq(
        json_integer_value(json_array_get(json_array_get(json_object_get(x, "ranges"), 0), 0)),
        (json_int_t)off[1][100]);
    json_decref(o);
    /* once the clashing ranges are read alone, the rest merges; the same frame is now a
     * duplicate */
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 1, 80, 100, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 1, 210, 260, H0), MERGE_MERGED);
    http(httpd_port(h), "POST", "/v1/partials", f.data, f.len, &a);
    ck_assert_int_eq(a.status, 200);
    ck_assert_ptr_nonnull(strstr((const char *)a.body.data, "duplicate"));
    httpd_stop(h);
    /* the metrics count the combined frames merged: none (each met a conflict, then was a
     * duplicate) */
    buf_reset(&f);
    merger_metrics(m, &f);
    buf_put_u8(&f, 0);
    ck_assert_ptr_nonnull(
        strstr((const char *)f.data, "abbey_combined_frames_total{master=\"m1\"} 0\n"));
    ck_assert_ptr_nonnull(
        strstr((const char *)f.data, "abbey_combined_ranges_total{master=\"m1\"} 0\n"));
    buf_free(&f);
    buf_free(&a.body);
}
END_TEST

/* ---- rounds: each range of a combined frame counts ---------------------- */

static void no_gap(void *ctx, const merger_gap_t *g)
{
    (void)g;
    ++*(int *)ctx;
}

START_TEST(round_accounting)
{
    merger_t *m = new_merger("m1");
    sel_t r0[] = {{0, 0, 100}, {1, 0, 80}};
    sel_t r1[] = {{0, 100, 200}, {1, 80, 160}};
    json_t *st;

    /* round H0 closes listing both ranges; one combined frame covers it */
    ck_assert_int_eq(send_combined(m, r0, 2, H0, NULL), MERGE_MERGED);
    round_closed(m, H0, r0, 2, (int64_t)(H0 + 3) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 1) * ROUND_MS), 1);
    st = status(m);
    ck_assert_int_eq(job_figure(st, NULL, "rounds_exported"), 1);
    ck_assert_int_eq(job_figure(st, NULL, "rounds_incomplete"), 0);
    ck_assert_int_eq(job_figure(st, NULL, "ranges_owed"), 0);
    json_decref(st);
    ck_assert(!exists(path_of("history/%s/INCOMPLETE", round_dir(H0))));
    /* round H0 + 1 closes first: both ranges owed; one combined frame pays both */
    round_closed(m, H0 + 1, r1, 2, (int64_t)(H0 + 4) * ROUND_MS);
    st = status(m);
    ck_assert_int_eq(job_figure(st, NULL, "ranges_owed"), 2);
    json_decref(st);
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 2) * ROUND_MS), 0); /* waits for them */
    ck_assert_int_eq(send_combined(m, r1, 2, H0 + 1, NULL), MERGE_MERGED);
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 2) * ROUND_MS + 1), 1);
    {
        int gaps = 0;
        ck_assert_int_eq(merger_gaps(m, (int64_t)(H0 + 100) * ROUND_MS, 0, 10, no_gap, &gaps), 0);
        ck_assert_int_eq(gaps, 0);
    }
    st = status(m);
    ck_assert_int_eq(job_figure(st, NULL, "ranges_owed"), 0);
    ck_assert_int_eq(job_figure(st, NULL, "rounds_incomplete"), 0);
    json_decref(st);
    {
        sel_t all[] = {{0, 0, 200}, {1, 0, 160}};
        assert_api(m, all, 2);
    }
}
END_TEST

/* ---- recovery ---------------------------------------------------------------- */

START_TEST(recovery)
{
    sel_t a[] = {{0, 0, 100}, {1, 0, 80}};
    sel_t b[] = {{0, 100, 200}, {1, 80, 160}, {0, 250, 300}};
    sel_t c[] = {{1, 160, 300}, {0, 300, 350}};
    sel_t all[] = {{0, 0, 200}, {0, 250, 350}, {1, 0, 300}};
    life_t l;
    char *before, *after;

    /* from the journal alone */
    start(&l);
    ck_assert_int_eq(send_combined(l.m, a, 2, H0, NULL), MERGE_MERGED);
    ck_assert_int_eq(send_combined(l.m, b, 3, H0 + 1, NULL), MERGE_MERGED);
    before = snapshot(l.m, 0);
    crash(&l);
    start(&l);
    assert_log(&l, " 2 frames: 2 merged, 0 duplicate, 0 refused");
    after = snapshot(l.m, 0);
    assert_same(after, before, "state recovered from a journal of combined frames");
    free(before);
    free(after);
    ck_assert_int_eq(combined_figure(l.m, "ranges"), 5);
    ck_assert_int_eq(send_combined(l.m, b, 3, H0 + 1, NULL), MERGE_DUPLICATE);
    /* a checkpoint, one more combined frame, a crash: the checkpoint and the journal */
    checkpoint(&l);
    ck_assert_int_eq(send_combined(l.m, c, 2, H0 + 2, NULL), MERGE_MERGED);
    before = snapshot(l.m, 0);
    crash(&l);
    start(&l);
    assert_log(&l, "recovered: checkpoint ");
    assert_log(&l, " 1 frames: 1 merged, 0 duplicate, 0 refused");
    after = snapshot(l.m, 0);
    assert_same(after, before, "state recovered from a checkpoint and the journal");
    ck_assert_int_eq(combined_figure(l.m, "frames"), 3);
    ck_assert_int_eq(combined_figure(l.m, "ranges"), 7);
    assert_api(l.m, all, 3);
    /* every range is held once: each frame is a duplicate, any range alone too */
    ck_assert_int_eq(send_combined(l.m, a, 2, H0, NULL), MERGE_DUPLICATE);
    ck_assert_int_eq(send_combined(l.m, c, 2, H0 + 2, NULL), MERGE_DUPLICATE);
    ck_assert_int_eq(deliver(l.m, "m1", 0, 250, 300, H0 + 1), MERGE_DUPLICATE);
    free(before);
    free(after);
    crash(&l);
}
END_TEST

static Suite *ranges_suite(void)
{
    Suite *s = suite_create("merger_ranges");
    TCase *tc = tcase_create("ranges");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, all_new_merged);
    tcase_add_test(tc, overlap_conflict);
    tcase_add_test(tc, conflict_over_http);
    tcase_add_test(tc, round_accounting);
    suite_add_tcase(s, tc);
    tc = tcase_create("recovery");
    tcase_add_checked_fixture(tc, persist_setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, recovery);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    curl_global_init(CURL_GLOBAL_ALL);
    failed = check_run(ranges_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
