/* check_merger.c - unit tests for the master's merger (master/merger*.c): exactly-once
 * (duplicates, conflicts, sub-ranges), rejects, future and expired rounds, order
 * independence, threads feeding it, and its metrics and HTTP handlers over loopback; round
 * export is tests/check_merger_export.c, adopting a reloaded config
 * tests/check_merger_reload.c.
 *
 * A two-master config (m1 weight 2, m2 weight 1) with one job of three rule groups and a
 * split format; two synthetic logs are cut into line-aligned byte ranges and turned into
 * frames the way a slave does (engine_feed, then frame_encode with the groups of the
 * addressed master). Oracles: a brute-force recount of the log lines (hand-rolled CSV for
 * the `api` report) and the same lines computed in one go through the engine and
 * export_render. The config, logs, frame builders and the recount are
 * tests/fixture_merger.h (FIXTURE_MERGER_RECOUNT). */
#include <check.h>
#include <curl/curl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "check_run.h"
#include "engine.h"
#include "export.h"
#include "frame.h"
#include "httpd.h"
#include "merger.h"
#include "rules.h"

#define FIXTURE_SUITE "check_merger"
#define FIXTURE_MERGER_RECOUNT
#include "fixture_merger.h"

/* ---- exactly-once ------------------------------------------------------- */

START_TEST(ownership)
{
    /* hunger-weight by hand (docs/RULES.md): traffic(3) -> m1 at 3/2; errors(1)
     * -> m2 at 1/1 (m1 would be 4/2); users(1) -> tie at 2, larger weight m1 */
    ck_assert_int_eq(job->groups[0].master, master_index("m1"));
    ck_assert_int_eq(job->groups[1].master, master_index("m1"));
    ck_assert_int_eq(job->groups[2].master, master_index("m2"));
    ck_assert_ptr_null(merger_create(cfg, "m3", dir, pool));
}
END_TEST

START_TEST(duplicate_frame)
{
    merger_t *m = new_merger("m1");
    sel_t sel[] = {{0, 0, 100}};
    buf_t b, sub, other;
    abbey_err_t err;
    json_t *st, *fb;

    buf_init(&b);
    buf_init(&sub);
    buf_init(&other);
    frame_for("m1", 0, 0, 100, H0, 0, &b);
    frame_for("m1", 0, 20, 40, H0, 0, &sub);
    frame_for("m2", 0, 0, 100, H0, 0, &other);
    ck_assert_int_eq(merger_accept(m, b.data, b.len, NULL, &err), MERGE_MERGED);
    assert_api(m, sel, 1);
    ck_assert_int_eq(merger_accept(m, b.data, b.len, NULL, &err), MERGE_DUPLICATE);
    assert_api(m, sel, 1);
    /* a sub-range of what is merged is a duplicate too */
    ck_assert_int_eq(merger_accept(m, sub.data, sub.len, NULL, &err), MERGE_DUPLICATE);
    assert_api(m, sel, 1);
    /* addressed to m2: rejected, counted as received only */
    ck_assert_int_eq(merger_accept(m, other.data, other.len, NULL, &err), MERGE_REJECTED);
    st = status(m);
    /* frame bytes: every body given, and those merged or duplicate */
    fb = json_object_get(st, "frame_bytes");
    ck_assert_int_eq(json_integer_value(json_object_get(fb, "accepted")),
                     (json_int_t)(2 * b.len + sub.len));
    ck_assert_int_eq(json_integer_value(json_object_get(fb, "received")),
                     (json_int_t)(2 * b.len + sub.len + other.len));
    ck_assert_uint_gt(sub.len, 0);
    ck_assert_uint_gt(other.len, 0);
    ck_assert_int_eq(job_figure(st, "partials", "merged"), 1);
    ck_assert_int_eq(job_figure(st, "partials", "duplicate"), 2);
    ck_assert_int_eq(job_figure(st, NULL, "lines"), 100);
    ck_assert_int_eq(job_figure(st, NULL, "bytes"), (json_int_t)off[0][100]);
    ck_assert_int_eq(job_figure(st, NULL, "bad_lines"), 5); /* lines 0, 23, 46, 69, 92 */
    json_decref(st);
    buf_free(&b);
    buf_free(&sub);
    buf_free(&other);
}
END_TEST

START_TEST(conflict_then_missing)
{
    merger_t *m = new_merger("m1");
    merger_conflict_t c;
    abbey_err_t err;
    buf_t b;
    char *want, *got;
    buf_init(&b);
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_MERGED);
    frame_for("m1", 0, 50, 150, H0, 0, &b);
    ck_assert_int_eq(merger_accept(m, b.data, b.len, &c, &err), MERGE_CONFLICT);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.ranges[0][0], 0);
    ck_assert_uint_eq(c.ranges[0][1], off[0][100]);
    ck_assert_int_eq(deliver(m, "m1", 0, 100, 150, H0), MERGE_MERGED);

    /* two separate ranges inside a frame's range */
    ck_assert_int_eq(deliver(m, "m1", 0, 200, 250, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 300, 350, H0), MERGE_MERGED);
    buf_reset(&b);
    frame_for("m1", 0, 180, 400, H0, 0, &b);
    ck_assert_int_eq(merger_accept(m, b.data, b.len, &c, &err), MERGE_CONFLICT);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_uint_eq(c.ranges[0][0], off[0][200]);
    ck_assert_uint_eq(c.ranges[0][1], off[0][250]);
    ck_assert_uint_eq(c.ranges[1][0], off[0][300]);
    ck_assert_uint_eq(c.ranges[1][1], off[0][350]);
    /* the other source is untouched by all this */
    ck_assert_int_eq(deliver(m, "m1", 1, 180, 400, H0), MERGE_MERGED);
    /* the slave sends just the missing parts */
    ck_assert_int_eq(deliver(m, "m1", 0, 180, 200, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 250, 300, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 350, 400, H0), MERGE_MERGED);
    ck_assert_int_eq(merger_accept(m, b.data, b.len, &c, &err), MERGE_DUPLICATE);

    {
        sel_t with_b[] = {{0, 0, 150}, {0, 180, 400}, {1, 180, 400}};
        assert_api(m, with_b, 3);
        want = oracle_render("users", with_b, 3);
        got = report(m, "users", NULL);
        ck_assert_str_eq(got, want);
        free(want);
        free(got);
    }
    buf_free(&b);
}
END_TEST

START_TEST(rejects)
{
    merger_t *m = new_merger("m1");
    buf_t good, bad;
    abbey_err_t err;
    size_t positions[] = {0, 5, 9, 14, 19, 30, 0 /* payload */, 0 /* crc */};
    json_t *st;
    int nrej = 0;
    char *before, *after;

    buf_init(&good);
    buf_init(&bad);
    frame_for("m1", 0, 0, 100, H0, 0, &good);
    before = report(m, "api", NULL);

    /* addressed to the other master */
    frame_for("m2", 0, 0, 100, H0, 0, &bad);
    err.msg[0] = 0;
    ck_assert_int_eq(merger_accept(m, bad.data, bad.len, NULL, &err), MERGE_REJECTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "m2"));
    nrej++;

    /* byte flips anywhere: header, payload, CRC */
    positions[6] = good.len / 2;
    positions[7] = good.len - 1;
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        buf_reset(&bad);
        buf_put(&bad, good.data, good.len);
        bad.data[positions[i]] ^= 0x40;
        err.msg[0] = 0;
        ck_assert_int_eq(merger_accept(m, bad.data, bad.len, NULL, &err), MERGE_REJECTED);
        ck_assert_msg(strstr(err.msg, "frame") != NULL, "flip at %zu: reason '%s'", positions[i],
                      err.msg);
        nrej++;
    }
    /* truncated, and trailing bytes */
    for (size_t cut = 1; cut < good.len; cut += good.len / 5) {
        err.msg[0] = 0;
        ck_assert_int_eq(merger_accept(m, good.data, good.len - cut, NULL, &err), MERGE_REJECTED);
        ck_assert_msg(err.msg[0] != 0, "no reason for a cut of %zu", cut);
        nrej++;
    }
    ck_assert_int_eq(merger_accept(m, good.data, 0, NULL, &err), MERGE_REJECTED);
    nrej++;
    buf_reset(&bad);
    buf_put(&bad, good.data, good.len);
    buf_put_u8(&bad, 0);
    ck_assert_int_eq(merger_accept(m, bad.data, bad.len, NULL, &err), MERGE_REJECTED);
    nrej++;

    /* an empty range */
    buf_reset(&bad);
    frame_for("m1", 0, 10, 10, H0, 0, &bad);
    ck_assert_int_eq(merger_accept(m, bad.data, bad.len, NULL, &err), MERGE_REJECTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
    nrej++;

    /* rows of a group m1 does not own (errors is m2's) */
    buf_reset(&bad);
    frame_for("m1", 0, 0, 100, H0, 1, &bad);
    ck_assert_int_eq(merger_accept(m, bad.data, bad.len, NULL, &err), MERGE_REJECTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "errors"));
    nrej++;

    after = report(m, "api", NULL);
    ck_assert_str_eq(after, before);
    free(after);
    st = status(m);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(st, "partials"), "rejected")), nrej);
    ck_assert_int_eq(job_figure(st, "partials", "merged"), 0);
    ck_assert_int_eq(job_figure(st, NULL, "sources"), 0);
    json_decref(st);

    /* nothing of the refused frames was recorded: the good one merges */
    ck_assert_int_eq(merger_accept(m, good.data, good.len, NULL, &err), MERGE_MERGED);
    {
        sel_t sel[] = {{0, 0, 100}};
        assert_api(m, sel, 1);
    }
    free(before);
    buf_free(&good);
    buf_free(&bad);
}
END_TEST

/* Frames for rounds the primary has not started are refused with the
 * reason: three of them, thousands of periods ahead, used to push the
 * current period out of the kept ones (its totals gone, later frames
 * answered merged but counted nowhere). */
START_TEST(future_rounds)
{
    merger_t *m = new_merger("m1");
    const uint64_t R = H0 + 5, ahead = 60000 / ROUND_MS; /* MERGER_AHEAD_MS in rounds */
    sel_t all[] = {{0, 0, 300}};
    abbey_err_t err;
    buf_t b;
    json_t *st;

    buf_init(&b);
    ck_assert_int_eq(merger_tick(m, (int64_t)R * ROUND_MS), 0);
    ck_assert_uint_eq(merger_round_limit(m, "web"), R + ahead);
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, R), MERGE_MERGED);
    for (uint64_t k = 1; k <= 3; k++) {
        buf_reset(&b);
        frame_for("m1", 0, 100 + 10 * (int)k, 110 + 10 * (int)k, R + k * 360 * 5000, 0, &b);
        err.msg[0] = 0;
        ck_assert_int_eq(merger_accept(m, b.data, b.len, NULL, &err), MERGE_REJECTED);
        ck_assert_msg(strstr(err.msg, "beyond the rounds the primary has started"), "%s", err.msg);
    }
    /* the edge: the limit itself merges, one past it does not */
    buf_reset(&b);
    frame_for("m1", 0, 150, 160, R + ahead + 1, 0, &b);
    ck_assert_int_eq(merger_accept(m, b.data, b.len, NULL, &err), MERGE_REJECTED);
    ck_assert_int_eq(deliver(m, "m1", 0, 100, 200, R + ahead), MERGE_MERGED);
    /* the primary started later rounds than this master's clock says: they are allowed */
    merger_set_current_round(m, "web", R + 100);
    merger_set_current_round(m, "web", R); /* never moves back */
    ck_assert_uint_eq(merger_round_limit(m, "web"), R + 100 + ahead);
    ck_assert_int_eq(deliver(m, "m1", 0, 200, 300, R + 100), MERGE_MERGED);
    /* every merged frame is in the totals, the refused ones in none */
    assert_api(m, all, 1);
    st = status(m);
    ck_assert_int_eq(job_figure(st, "partials", "rejected"), 4);
    ck_assert_int_eq(job_figure(st, "partials", "merged"), 3);
    ck_assert_int_eq(job_figure(st, "partials", "expired"), 0);
    json_decref(st);
    buf_free(&b);
}
END_TEST

/* A frame whose period is no longer kept is answered expired, never merged. */
START_TEST(expired_frames)
{
    merger_t *m = new_merger("m1");
    const uint64_t hour = 3600000 / ROUND_MS;
    sel_t newest[] = {{0, 100, 200}};
    json_t *st;

    for (uint64_t h = 1; h <= MERGER_KEEP_PERIODS; h++)
        ck_assert_int_eq(deliver(m, "m1", 1, (int)h * 10, (int)h * 10 + 10, H0 + h * hour),
                         MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 100, 200, H0 + MERGER_KEEP_PERIODS * hour), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_EXPIRED); /* hour H: gone */
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_DUPLICATE);
    st = status(m);
    ck_assert_int_eq(job_figure(st, "partials", "expired"), 1);
    ck_assert_int_eq(job_figure(st, "partials", "merged"), MERGER_KEEP_PERIODS + 1);
    json_decref(st);
    {
        sel_t both[] = {{0, 100, 200}, {1, 30, 40}};
        assert_api(m, both, 2); /* the newest period: no trace of the expired frame */
        (void)newest;
    }
}
END_TEST

START_TEST(unknown_job)
{
    merger_t *m = new_merger("m1");
    frame_header_t h;
    partial_t *p = partial_create(job, pool);
    buf_t b;
    abbey_err_t err;

    memset(&h, 0, sizeof h);
    h.start = 0;
    h.end = 10;
    strcpy(h.job, "nope");
    strcpy(h.source, SRC[0]);
    strcpy(h.master, "m1");
    buf_init(&b);
    ck_assert_int_eq(frame_encode(&h, p, NULL, &b, &err), APR_SUCCESS);
    ck_assert_int_eq(merger_accept(m, b.data, b.len, NULL, &err), MERGE_REJECTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
    buf_free(&b);
}
END_TEST

/* ---- order independence ------------------------------------------------- */

static int cuts(int *out, int n, unsigned *seed)
{
    int k = 0;
    out[k++] = 0;
    while (out[k - 1] < n) {
        int step = 1 + (int)(rand_r(seed) % 90);
        out[k] = out[k - 1] + step > n ? n : out[k - 1] + step;
        k++;
    }
    return k;
}

START_TEST(any_order)
{
    fr_t frs[64];
    int n = 0, c[NLINES + 2];
    unsigned seed = 42;
    char *first_api = NULL, *first_users = NULL, *first_file = NULL;
    sel_t all[] = {{0, 0, NLINES}, {1, 0, NLINES}};

    for (int s = 0; s < 2; s++) {
        int k = cuts(c, NLINES, &seed);
        for (int i = 0; i + 1 < k; i++)
            frs[n++] = (fr_t){s, c[i], c[i + 1], H0 + (uint64_t)(i % 3)};
    }
    ck_assert_int_lt(n, 64);
    for (int run = 0; run < 5; run++) {
        merger_t *m;
        char *api, *users, *file;
        char sub[160];
        /* a fresh export dir per run */
        snprintf(sub, sizeof sub, "%s/run%d", dir, run);
        m = merger_create(cfg, "m1", sub, pool);
        for (int i = n - 1; i > 0 && run > 0; i--) {
            int j = (int)(rand_r(&seed) % (unsigned)(i + 1));
            fr_t t = frs[i];
            frs[i] = frs[j];
            frs[j] = t;
        }
        for (int i = 0; i < n; i++)
            ck_assert_int_eq(deliver(m, "m1", frs[i].s, frs[i].l0, frs[i].l1, frs[i].r),
                             MERGE_MERGED);
        for (uint64_t r = H0; r < H0 + 3; r++) {
            sel_t sel[64];
            int k = 0;
            for (int i = 0; i < n; i++)
                if (frs[i].r == r)
                    sel[k++] = (sel_t){frs[i].s, frs[i].l0, frs[i].l1};
            round_closed(m, r, sel, k, (int64_t)(r + 3) * ROUND_MS);
        }
        ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 1) * ROUND_MS), 3);
        api = report(m, "api", NULL);
        users = report(m, "users", NULL);
        snprintf(sub, sizeof sub, "%s/run%d/web/users.json", dir, run);
        file = slurp(sub);
        ck_assert_ptr_nonnull(file);
        if (!first_api) {
            char *want = oracle_api_csv(all, 2);
            ck_assert_str_eq(api, want);
            free(want);
            want = oracle_render("users", all, 2);
            ck_assert_str_eq(users, want);
            ck_assert_str_eq(file, want);
            free(want);
            first_api = api;
            first_users = users;
            first_file = file;
        } else {
            ck_assert_str_eq(api, first_api);
            ck_assert_str_eq(users, first_users);
            ck_assert_str_eq(file, first_file);
            free(api);
            free(users);
            free(file);
        }
    }
    free(first_api);
    free(first_users);
    free(first_file);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

START_TEST(threads)
{
    merger_t *m = new_merger("m1");
    buf_t frames[2 * (NLINES / 10)];
    int n = 0;
    feeder_t f[4];
    apr_thread_t *t[4];
    apr_status_t trv;
    int merged = 0, dup = 0, other = 0;
    sel_t all[] = {{0, 0, NLINES}, {1, 0, NLINES}};
    char *want, *got;
    json_t *st;

    for (int s = 0; s < 2; s++)
        for (int l = 0; l < NLINES; l += 10) {
            buf_init(&frames[n]);
            frame_for("m1", s, l, l + 10, H0 + (uint64_t)(l / 100), 0, &frames[n]);
            n++;
        }
    /* every thread sends every frame, in its own order: each merges exactly once */
    for (int i = 0; i < 4; i++) {
        f[i] = (feeder_t){.m = m, .frames = frames, .n = n, .seed = 1000u + (unsigned)i};
        ck_assert_int_eq(apr_thread_create(&t[i], NULL, feed_thread, &f[i], pool), APR_SUCCESS);
    }
    for (int i = 0; i < 4; i++) {
        apr_thread_join(&trv, t[i]);
        merged += f[i].counts[MERGE_MERGED];
        dup += f[i].counts[MERGE_DUPLICATE];
        other += f[i].counts[MERGE_CONFLICT] + f[i].counts[MERGE_REJECTED];
    }
    ck_assert_int_eq(merged, n);
    ck_assert_int_eq(dup, 3 * n);
    ck_assert_int_eq(other, 0);
    assert_api(m, all, 2);
    want = oracle_render("users", all, 2);
    got = report(m, "users", NULL);
    ck_assert_str_eq(got, want);
    free(want);
    free(got);
    st = status(m);
    ck_assert_int_eq(job_figure(st, NULL, "lines"), 2 * NLINES);
    ck_assert_int_eq(job_figure(st, NULL, "bytes"), (json_int_t)(off[0][NLINES] + off[1][NLINES]));
    json_decref(st);
    for (int i = 0; i < n; i++)
        buf_free(&frames[i]);
}
END_TEST

/* ---- status, metrics, HTTP ---------------------------------------------- */

START_TEST(metrics_text)
{
    merger_t *m = new_merger("m1");
    buf_t b;
    sel_t sel[] = {{0, 0, 100}};

    buf_t f;
    char want[128];
    abbey_err_t err;

    buf_init(&f);
    frame_for("m1", 0, 0, 100, H0, 0, &f);
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_DUPLICATE);
    ck_assert_int_eq(merger_accept(m, f.data, 10, NULL, &err), MERGE_REJECTED); /* truncated */
    round_closed(m, H0, sel, 1, (int64_t)(H0 + 3) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 2) * ROUND_MS + 500), 1);
    buf_init(&b);
    merger_metrics(m, &b);
    buf_put_u8(&b, 0);
    ck_assert_ptr_nonnull(strstr(
        (char *)b.data, "abbey_partials_total{master=\"m1\",job=\"web\",result=\"merged\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr((char *)b.data,
               "abbey_partials_total{master=\"m1\",job=\"web\",result=\"duplicate\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr((char *)b.data, "abbey_lines_total{master=\"m1\",job=\"web\"} 100\n"));
    ck_assert_ptr_nonnull(
        strstr((char *)b.data, "abbey_bad_lines_total{master=\"m1\",job=\"web\"} 5\n"));
    /* "garbage line N" has three fields, not four; no other reason is listed */
    ck_assert_ptr_nonnull(
        strstr((char *)b.data,
               "abbey_bad_lines_reason_total{master=\"m1\",job=\"web\",reason=\"fields\"} 5\n"));
    ck_assert_ptr_null(strstr((char *)b.data, "reason=\"number\""));
    ck_assert_ptr_nonnull(
        strstr((char *)b.data, "abbey_rounds_exported_total{master=\"m1\",job=\"web\"} 1\n"));
    /* now = end of the round + 1.5 s */
    ck_assert_ptr_nonnull(
        strstr((char *)b.data, "abbey_round_lag_seconds{master=\"m1\",job=\"web\"} 10.500\n"));
    /* the two whole frames were accepted; the truncated one only received */
    snprintf(want, sizeof want, "abbey_frame_bytes_total{master=\"m1\",frames=\"accepted\"} %zu\n",
             2 * f.len);
    ck_assert_msg(strstr((char *)b.data, want), "missing %s", want);
    snprintf(want, sizeof want, "abbey_frame_bytes_total{master=\"m1\",frames=\"received\"} %zu\n",
             2 * f.len + 10);
    ck_assert_msg(strstr((char *)b.data, want), "missing %s", want);
    buf_free(&f);
    buf_free(&b);
}
END_TEST

START_TEST(http_handlers)
{
    merger_t *m = new_merger("m1");
    httpd_t *h = httpd_create("sekrit", pool);
    abbey_err_t err;
    http_ans_t a;
    buf_t f1, f2;
    json_t *o, *rg;
    int port;
    sel_t sel[] = {{0, 0, 100}};
    char *want;

    merger_register(m, h);
    ck_assert_msg(httpd_start(h, "127.0.0.1", 0, 2, &err) == APR_SUCCESS, "%s", err.msg);
    port = httpd_port(h);
    buf_init(&a.body);
    buf_init(&f1);
    buf_init(&f2);
    frame_for("m1", 0, 0, 100, H0, 0, &f1);
    frame_for("m1", 0, 50, 150, H0, 0, &f2);

    http(port, "POST", "/v1/partials", f1.data, f1.len, &a);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq((char *)a.body.data, "{\"result\":\"merged\"}");
    http(port, "POST", "/v1/partials", f1.data, f1.len, &a);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq((char *)a.body.data, "{\"result\":\"duplicate\"}");
    http(port, "POST", "/v1/partials", f2.data, f2.len, &a);
    ck_assert_int_eq(a.status, 409);
    o = json_loads((char *)a.body.data, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "result")), "conflict");
    rg = json_object_get(o, "ranges");
    ck_assert_int_eq(json_array_size(rg), 1);
    ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(rg, 0), 0)), 0);
    ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(rg, 0), 1)),
                     (json_int_t)off[0][100]);
    json_decref(o);
    f2.data[f2.len / 2] ^= 1;
    http(port, "POST", "/v1/partials", f2.data, f2.len, &a);
    ck_assert_int_eq(a.status, 400);
    o = json_loads((char *)a.body.data, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "error")), "frame"));
    json_decref(o);
    http(port, "POST", "/v1/partials", "", 0, &a);
    ck_assert_int_eq(a.status, 400);

    want = oracle_api_csv(sel, 1);
    http(port, "GET", "/v1/reports/web/api", NULL, 0, &a);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq((char *)a.body.data, want);
    free(want);
    http(port, "GET", "/v1/reports/web/api?format=json", NULL, 0, &a);
    ck_assert_int_eq(a.status, 200);
    o = json_loads((char *)a.body.data, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "report")), "api");
    json_decref(o);
    http(port, "GET", "/v1/reports/web/status", NULL, 0, &a);
    ck_assert_int_eq(a.status, 404);
    http(port, "GET", "/v1/reports/web", NULL, 0, &a);
    ck_assert_int_eq(a.status, 404);
    http(port, "GET", "/v1/reports/web/api?format=xml", NULL, 0, &a);
    ck_assert_int_eq(a.status, 400);

    httpd_stop(h);
    buf_free(&a.body);
    buf_free(&f1);
    buf_free(&f2);
}
END_TEST

static Suite *merger_suite(void)
{
    Suite *s = suite_create("merger");
    TCase *tc;

    tc = tcase_create("exactly_once");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ownership);
    tcase_add_test(tc, duplicate_frame);
    tcase_add_test(tc, conflict_then_missing);
    tcase_add_test(tc, rejects);
    tcase_add_test(tc, future_rounds);
    tcase_add_test(tc, expired_frames);
    tcase_add_test(tc, unknown_job);
    tcase_add_test(tc, any_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("serving");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, threads);
    tcase_add_test(tc, metrics_text);
    tcase_add_test(tc, http_handlers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = check_run(merger_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
