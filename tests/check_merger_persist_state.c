/* check_merger_persist_state.c - unit tests for what a merger keeps across a crash and
 * restart besides its merged frames (master/merger_ckpt.c, master/merger_recover.c): round
 * bookkeeping (closed rounds, history exports) across a restart, a structure change between
 * checkpoint and restart (totals restart empty, ranges and counters stay), record frames
 * refused by merger_accept and never journaled, and counters above INT64_MAX (one encoding
 * for status and checkpoint). The config, frames FR and the crash and restart helpers are
 * tests/fixture_merger.h; the oracle is the first merger's own status, reports and export
 * files before the crash, the values the test set, and the recovery's summary log line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "check_run.h"
#include "engine.h"
#include "export.h"
#include "frame.h"
#include "journal.h"
#include "merger.h"
#include "merger_int.h"
#include "rules.h"

#define FIXTURE_SUITE "check_merger_persist_state"
#define FIXTURE_MERGER_PERSIST
#include "fixture_merger.h"

/* ---- (5) rounds across a restart ------------------------------------------------ */

static void round_closed(merger_t *m, uint64_t r, const fr_t *fr, int n, int64_t deadline_ms)
{
    merger_range_t ranges[8];
    for (int i = 0; i < n; i++)
        ranges[i] = range_of(fr[i].s, fr[i].l0, fr[i].l1);
    close_round(m, r, deadline_ms, ranges, n);
}

/* EXPORT/web/history/<stamp of round r>/<name> */
static const char *history(uint64_t r, const char *name)
{
    static char p[512];
    time_t t = (time_t)((int64_t)r * ROUND_MS / 1000);
    struct tm tm;
    char stamp[32];
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(p, sizeof p, "%s/web/history/%s/%s", exp_dir, stamp, name);
    return p;
}

START_TEST(rounds_survive)
{
    const uint64_t R = H0 + 5;
    const int64_t start_ms = (int64_t)R * ROUND_MS, dl = start_ms + 4 * ROUND_MS;
    const fr_t r0[] = {{0, 0, 100, R}, {1, 0, 80, R}};
    const fr_t r1[] = {{0, 100, 200, R + 1}, {1, 80, 160, R + 1}};
    const fr_t r2[] = {{0, 200, 250, R + 2}};
    life_t l;
    char *before, *after;
    json_t *st, *pending;

    start(&l);
    expect_send(l.m, &r0[0], MERGE_MERGED);
    expect_send(l.m, &r0[1], MERGE_MERGED);
    round_closed(l.m, R, r0, 2, dl);
    ck_assert_int_eq(merger_tick(l.m, start_ms + ROUND_MS), 1); /* R, covered */
    expect_send(l.m, &r1[0], MERGE_MERGED);                     /* r1[1] is missing */
    round_closed(l.m, R + 1, r1, 2, dl);
    ck_assert_int_eq(merger_tick(l.m, dl), 1); /* R + 1 at its deadline, INCOMPLETE */
    ck_assert(exists(history(R + 1, "INCOMPLETE")));
    round_closed(l.m, R + 2, r2, 1, dl + 10 * ROUND_MS); /* closed, its frame not here */
    ck_assert_int_eq(merger_tick(l.m, dl + 1), 0);
    checkpoint(&l);
    before = snapshot(l.m, 1);
    crash(&l);

    start(&l);
    after = snapshot(l.m, 1);
    assert_same(after, before, "state with round bookkeeping");
    free(after);
    free(before);
    ck_assert_uint_eq(merger_last_closed_round(l.m, "web"), R + 2);
    st = status(l.m);
    ck_assert_int_eq(json_integer_value(json_object_get(job_status(st), "last_exported_round")),
                     (json_int_t)(R + 1));
    pending = json_object_get(job_status(st), "pending_rounds");
    ck_assert_int_eq(json_array_size(pending), 1);
    ck_assert_int_eq(json_integer_value(json_array_get(pending, 0)), (json_int_t)(R + 2));
    json_decref(st);

    /* nothing is exported again */
    ck_assert_int_eq(merger_tick(l.m, dl + 2), 0);
    ck_assert_int_eq(figure(l.m, NULL, "rounds_exported"), 2);
    /* the missing range of R + 1 arrives: amended, its marker removed */
    expect_send(l.m, &r1[1], MERGE_MERGED);
    ck_assert_int_eq(merger_tick(l.m, dl + 3), 1);
    ck_assert(!exists(history(R + 1, "INCOMPLETE")));
    ck_assert_int_eq(figure(l.m, NULL, "rounds_amended"), 1);
    /* R + 2's frame: exported once covered */
    expect_send(l.m, &r2[0], MERGE_MERGED);
    ck_assert_int_eq(merger_tick(l.m, dl + 4), 1);
    ck_assert_int_eq(merger_tick(l.m, dl + 5), 0);
    ck_assert_int_eq(figure(l.m, NULL, "rounds_exported"), 3);
    ck_assert_int_eq(figure(l.m, NULL, "last_exported_round"), (json_int_t)(R + 2));
    crash(&l);
}
END_TEST

/* ---- owed ranges across a restart ---------------------------------------------- */

typedef struct gaps_seen_t {
    int n;
    uint64_t round[8], start[8], end[8];
} gaps_seen_t;

static void on_gap(void *ctx, const merger_gap_t *g)
{
    gaps_seen_t *gs = ctx;
    if (gs->n < 8) {
        gs->round[gs->n] = g->round;
        gs->start[gs->n] = g->start;
        gs->end[gs->n] = g->end;
    }
    gs->n++;
}

/* A range a closed round listed and this master never got stays owed across a
 * checkpoint and a restart, even once its round is no longer kept (more than
 * MERGER_KEEP_ROUNDS later rounds): gap repair still asks for it. */
START_TEST(owed_survive)
{
    const uint64_t R = H0 + 5, n = MERGER_KEEP_ROUNDS + 10;
    const fr_t missing = {1, 0, 80, R}, got = {0, 0, 100, R};
    const int64_t dl = (int64_t)(R + 3) * ROUND_MS, late = (int64_t)(R + n + 3) * ROUND_MS;
    const fr_t listed[] = {got, missing};
    gaps_seen_t gs = {0};
    life_t l;

    start(&l);
    expect_send(l.m, &got, MERGE_MERGED);
    round_closed(l.m, R, listed, 2, dl);
    for (uint64_t i = 1; i < n; i++) /* later rounds, nothing listed: R leaves retention */
        close_round(l.m, R + i, dl + (int64_t)i * ROUND_MS, NULL, 0);
    ck_assert_int_eq(figure(l.m, NULL, "ranges_owed"), 1);
    checkpoint(&l);
    crash(&l);

    start(&l);
    ck_assert_int_eq(figure(l.m, NULL, "ranges_owed"), 1);
    ck_assert_int_eq(merger_gaps(l.m, late + 60000, 60000, 8, on_gap, &gs), 1);
    ck_assert_uint_eq(gs.round[0], R);
    ck_assert_uint_eq(gs.start[0], off[1][0]);
    ck_assert_uint_eq(gs.end[0], off[1][80]);
    /* once it arrives (a repair), nothing is owed */
    expect_send(l.m, &missing, MERGE_MERGED);
    gs.n = 0;
    ck_assert_int_eq(merger_gaps(l.m, late + 60000, 60000, 8, on_gap, &gs), 0);
    ck_assert_int_eq(figure(l.m, NULL, "ranges_owed"), 0);
    crash(&l);
}
END_TEST

/* ---- structure changed between checkpoint and restart --------------------------- */

START_TEST(structure_changed)
{
    char *changed_text = apr_pstrdup(pool, RULES), *at = strstr(changed_text, "order: hits desc");
    rules_config_t *changed;
    abbey_err_t err;
    life_t l;
    char *api;

    memcpy(at, "order: ms   desc", 16);
    ck_assert_msg(rules_load_buffer(changed_text, strlen(changed_text), "changed.yaml", pool,
                                    &changed, &err) == APR_SUCCESS,
                  "%s", err.msg);
    start(&l);
    for (int i = 0; i < 4; i++)
        expect_send(l.m, &FR[i], MERGE_MERGED);
    round_closed(l.m, H0, FR, 2, (int64_t)H0 * ROUND_MS + 1000 * ROUND_MS);
    checkpoint(&l);
    crash(&l);

    start_conf(&l, changed);
    assert_log(&l, "job web: its rules changed since checkpoint");
    api = report(l.m, "api", NULL);
    ck_assert_str_eq(api, "api,hits,ms\r\n"); /* totals restart empty */
    free(api);
    /* ranges, counters and round bookkeeping stay */
    for (int i = 0; i < 4; i++)
        expect_send(l.m, &FR[i], MERGE_DUPLICATE);
    ck_assert_int_eq(figure(l.m, "partials", "merged"), 4);
    ck_assert_int_eq(figure(l.m, NULL, "lines"), 360);
    ck_assert_uint_eq(merger_last_closed_round(l.m, "web"), H0);
    expect_send(l.m, &FR[4], MERGE_MERGED);
    crash(&l);
}
END_TEST

/* ---- (6) record frames ---------------------------------------------------------- */

START_TEST(record_frame_refused)
{
    frame_header_t h;
    abbey_err_t err;
    life_t l;
    buf_t b;

    ck_assert_str_eq(merger_result_name(MERGE_UNAVAILABLE), "unavailable");
    start(&l);
    expect_send(l.m, &FR[0], MERGE_MERGED);
    /* a record frame is refused before its range is looked at: one over a
     * merged range is not a duplicate, one over a new range records nothing */
    for (int i = 0; i < 2; i++) {
        const fr_t *f = &FR[i == 0 ? 0 : 2];
        memset(&h, 0, sizeof h);
        h.start = off[f->s][f->l0];
        h.end = off[f->s][f->l1];
        h.round = f->r;
        strcpy(h.job, "web");
        strcpy(h.source, SRC[f->s]);
        strcpy(h.master, "m1");
        buf_init(&b);
        ck_assert_int_eq(frame_encode_record(&h, "{}", 2, &b, &err), APR_SUCCESS);
        err.msg[0] = 0;
        ck_assert_int_eq(merger_accept(l.m, b.data, b.len, NULL, &err), MERGE_REJECTED);
        ck_assert_msg(strstr(err.msg, "a state record, not a partial") != NULL, "%s", err.msg);
        buf_free(&b);
    }
    ck_assert_int_eq(figure(l.m, "partials", "duplicate"), 0);
    expect_send(l.m, &FR[2], MERGE_MERGED);
    ck_assert_int_eq(figure(l.m, "partials", "unavailable"), 0);
    crash(&l);
    /* nor is it journaled */
    start(&l);
    assert_log(&l, " 2 frames: 2 merged, 0 duplicate, 0 refused");
    crash(&l);
}
END_TEST

/* The status's "partials" object of job (NULL: the merger's total), as text. */
static char *partials_text(merger_t *m, const char *job)
{
    json_t *st = status(m), *o = job ? job_status(st) : st;
    char *s;

    ck_assert_ptr_nonnull(o);
    s = json_dumps(json_object_get(o, "partials"), JSON_COMPACT);
    json_decref(st);
    return s;
}

/* /v1/status and the checkpoint write the counters with one encoding: a value above
 * INT64_MAX is its decimal string (not a negative integer), the fields in their order,
 * and it survives a checkpoint and a restart. The counters are set directly (2^63 frames
 * cannot be sent). */
START_TEST(counts_above_int64)
{
    const char *job_want = "{\"merged\":1,\"duplicate\":0,\"conflict\":\"18446744073709551615\","
                           "\"rejected\":0,\"late\":0,\"expired\":0,\"unavailable\":0}";
    const char *all_want = "{\"merged\":\"9223372036854775808\",\"duplicate\":0,"
                           "\"conflict\":\"18446744073709551615\",\"rejected\":2,\"late\":0,"
                           "\"expired\":0,\"unavailable\":0}";
    char *before, *after;
    life_t l;

    start(&l);
    expect_send(l.m, &FR[0], MERGE_MERGED);
    apr_thread_mutex_lock(l.m->lock);
    l.m->unknown.merged = 9223372036854775807ull; /* + the job's 1 merged: 2^63 */
    l.m->unknown.rejected = 2;
    l.m->jobs[0].c.conflict = 18446744073709551615ull;
    apr_thread_mutex_unlock(l.m->lock);
    before = partials_text(l.m, "web");
    ck_assert_str_eq(before, job_want);
    free(before);
    before = partials_text(l.m, NULL);
    ck_assert_str_eq(before, all_want);
    checkpoint(&l);
    crash(&l);
    start(&l);
    after = partials_text(l.m, NULL);
    ck_assert_str_eq(after, before);
    free(after);
    after = partials_text(l.m, "web");
    ck_assert_str_eq(after, job_want);
    free(after);
    free(before);
    crash(&l);
}
END_TEST

/* Bad lines a checkpoint does not give reasons for (one written before reasons
 * existed: here the state is set so) come back as "unknown", and the counts by
 * reason still add up to bad_lines; those it gives come back as they were. */
START_TEST(reasons_restored)
{
    json_int_t bad;
    json_t *st, *by;
    life_t l;

    start(&l);
    expect_send(l.m, &FR[0], MERGE_MERGED);
    expect_send(l.m, &FR[1], MERGE_MERGED);
    bad = figure(l.m, NULL, "bad_lines");
    ck_assert_int_gt(bad, 1);
    ck_assert_int_eq(figure(l.m, "bad_lines_by_reason", "fields"), bad);
    apr_thread_mutex_lock(l.m->lock);
    l.m->jobs[0].bad_by[FORMAT_BAD_FIELDS] = 1; /* the rest said no reason */
    apr_thread_mutex_unlock(l.m->lock);
    checkpoint(&l);
    crash(&l);
    start(&l);
    st = status(l.m);
    by = json_object_get(job_status(st), "bad_lines_by_reason");
    ck_assert_int_eq(json_object_size(by), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(by, "fields")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(by, "unknown")), bad - 1);
    json_decref(st);
    crash(&l);
}
END_TEST

static Suite *persist_state_suite(void)
{
    Suite *s = suite_create("merger_persist_state");
    TCase *tc = tcase_create("recovery");
    tcase_add_checked_fixture(tc, persist_setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rounds_survive);
    tcase_add_test(tc, owed_survive);
    tcase_add_test(tc, structure_changed);
    tcase_add_test(tc, record_frame_refused);
    tcase_add_test(tc, counts_above_int64);
    tcase_add_test(tc, reasons_restored);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = check_run(persist_state_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
