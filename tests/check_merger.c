/* check_merger.c - unit tests for the master's merger (master/merger*.c).
 *
 * A two-master config (m1 weight 2, m2 weight 1) with one job of three rule
 * groups and a split format; two synthetic logs are cut into line-aligned
 * byte ranges and turned into frames the way a slave does (engine_feed, then
 * frame_encode with the groups of the addressed master). Oracles: a
 * brute-force recount of the log lines (hand-rolled CSV for the `api`
 * report) and the same lines computed in one go through the engine and
 * export_render; files are checked on disk after merger_tick. Covers
 * exactly-once (duplicate, conflict, sub-ranges), rejects, order
 * independence, round export (covered, deadline, INCOMPLETE, amendment),
 * period boundaries, group ownership, retention, threads, and the HTTP
 * handlers over loopback. The config, logs and frame builders are
 * tests/fixture_merger.h (shared with tests/check_merger_persist.c). */
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
#include "fixture_merger.h"

/* ---- the independent recount ------------------------------------------- */

/* Lines [l0, l1) of source s, as selected by a test. */
typedef struct sel_t {
    int s, l0, l1;
} sel_t;

typedef struct api_row_t {
    int api;
    long hits, ms;
} api_row_t;

static int api_row_cmp(const void *a, const void *b)
{
    const api_row_t *x = a, *y = b;
    if (x->hits != y->hits)
        return x->hits > y->hits ? -1 : 1;
    return x->api - y->api;
}

/* The `api` report (order hits desc) over the selected lines, as CSV. */
static char *oracle_api_csv(const sel_t *sel, int n)
{
    api_row_t rows[NAPI];
    buf_t b;
    int k = 0;

    for (int a = 0; a < NAPI; a++)
        rows[a] = (api_row_t){a, 0, 0};
    for (int i = 0; i < n; i++)
        for (int l = sel[i].l0; l < sel[i].l1; l++)
            if (!bad_line(sel[i].s, l)) {
                rows[line_api(sel[i].s, l)].hits++;
                rows[line_api(sel[i].s, l)].ms += line_ms(sel[i].s, l);
            }
    qsort(rows, NAPI, sizeof rows[0], api_row_cmp);
    buf_init(&b);
    buf_printf(&b, "api,hits,ms\r\n");
    for (int a = 0; a < NAPI; a++)
        if (rows[a].hits) {
            buf_printf(&b, "/a%d,%ld,%ld\r\n", rows[a].api, rows[a].hits, rows[a].ms);
            k++;
        }
    buf_put_u8(&b, 0);
    return (char *)b.data;
}

/* Report `name` over the selected lines computed in one go (engine + export_render). */
static char *oracle_render(const char *name, const sel_t *sel, int n)
{
    partial_t *p = partial_create(job, pool);
    const rules_report_t *r = NULL;
    buf_t b;
    for (int i = 0; i < job->nreports; i++)
        if (strcmp(job->reports[i].name, name) == 0)
            r = &job->reports[i];
    ck_assert_ptr_nonnull(r);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(engine_feed(eng, text[sel[i].s] + off[sel[i].s][sel[i].l0],
                                     off[sel[i].s][sel[i].l1] - off[sel[i].s][sel[i].l0],
                                     off[sel[i].s][sel[i].l0], p, NULL, NULL),
                         APR_SUCCESS);
    buf_init(&b);
    export_render(job, r, p->tables[r->entry->index], &b, pool);
    buf_put_u8(&b, 0);
    partial_destroy(p);
    return (char *)b.data;
}

/* ---- frames (frame_for: tests/fixture_merger.h) ------------------------ */

static merge_result_t deliver(merger_t *m, const char *master, int s, int l0, int l1, uint64_t r)
{
    buf_t b;
    abbey_err_t err;
    merge_result_t res;
    buf_init(&b);
    frame_for(master, s, l0, l1, r, 0, &b);
    err.msg[0] = 0;
    res = merger_accept(m, b.data, b.len, NULL, &err);
    ck_assert_msg(res != MERGE_REJECTED, "rejected: %s", err.msg);
    buf_free(&b);
    return res;
}

/* ---- files and reports -------------------------------------------------- */

static const char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *path_of(const char *fmt, ...)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    va_list ap;
    int n = snprintf(p, 512, "%s/web/", dir);
    va_start(ap, fmt);
    vsnprintf(p + n, (size_t)(512 - n), fmt, ap);
    va_end(ap);
    return p;
}

/* "20251009T090010Z" for ms since the epoch (whole seconds). */
static const char *stamp(int64_t ms)
{
    static char out[4][32];
    static int next;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char *p = out[next++ % 4];
    gmtime_r(&t, &tm);
    strftime(p, 32, "%Y%m%dT%H%M%SZ", &tm);
    return p;
}

static const char *round_dir(uint64_t r)
{
    return stamp((int64_t)r * ROUND_MS);
}

static void assert_file(const char *path, const char *want)
{
    char *got = slurp(path);
    ck_assert_msg(got != NULL, "missing %s", path);
    ck_assert_msg(strcmp(got, want) == 0, "%s:\n%s\nwanted:\n%s", path, got, want);
    free(got);
}

static void assert_report(merger_t *m, const char *name, const char *want)
{
    char *got = report(m, name, NULL);
    ck_assert_msg(strcmp(got, want) == 0, "report %s:\n%s\nwanted:\n%s", name, got, want);
    free(got);
}

static void assert_api(merger_t *m, const sel_t *sel, int n)
{
    char *want = oracle_api_csv(sel, n);
    assert_report(m, "api", want);
    free(want);
}

static json_int_t job_figure(json_t *st, const char *section, const char *name)
{
    json_t *j = json_array_get(json_object_get(st, "jobs"), 0);
    if (section)
        j = json_object_get(j, section);
    return json_integer_value(json_object_get(j, name));
}

static void round_closed(merger_t *m, uint64_t r, const sel_t *sel, int n, int64_t deadline_ms)
{
    merger_range_t ranges[16];
    for (int i = 0; i < n; i++)
        ranges[i] = range_of(sel[i].s, sel[i].l0, sel[i].l1);
    close_round(m, r, deadline_ms, ranges, n);
}

/* ---- fixture (setup, teardown: tests/fixture_merger.h) ------------------ */

static merger_t *new_merger(const char *self)
{
    merger_t *m = merger_create(cfg, self, dir, pool);
    ck_assert_ptr_nonnull(m);
    return m;
}

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

/* ---- rounds ------------------------------------------------------------- */

START_TEST(round_export)
{
    merger_t *m = new_merger("m1");
    const uint64_t R = H0 + 5;
    const int64_t start = (int64_t)R * ROUND_MS;
    sel_t r0[] = {{0, 0, 100}, {1, 0, 80}};
    char *want;
    json_t *st;

    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, R), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 1, 0, 80, R), MERGE_MERGED);
    ck_assert_int_eq(merger_tick(m, start + ROUND_MS), 0); /* not closed yet */
    round_closed(m, R, r0, 2, start + 3 * ROUND_MS);
    ck_assert_uint_eq(merger_last_closed_round(m, "web"), R);
    ck_assert_int_eq(merger_tick(m, start + ROUND_MS + 500), 1);
    ck_assert_int_eq(merger_tick(m, start + ROUND_MS + 600), 0);

    want = oracle_api_csv(r0, 2);
    assert_file(path_of("history/%s/api.csv", round_dir(R)), want);
    assert_file(path_of("api.csv"), want);
    free(want);
    want = oracle_render("api_round", r0, 2);
    assert_file(path_of("history/%s/api_round.csv", round_dir(R)), want);
    assert_file(path_of("api_round.csv"), want);
    free(want);
    want = oracle_render("users", r0, 2);
    assert_file(path_of("history/%s/users.json", round_dir(R)), want);
    assert_file(path_of("users.json"), want);
    free(want);
    ck_assert(!exists(path_of("history/%s/INCOMPLETE", round_dir(R))));
    ck_assert(!exists(path_of("status.csv")));
    ck_assert(!exists(path_of("history/%s/status.csv", round_dir(R))));

    /* R+1: B's range is missing */
    {
        sel_t r1[] = {{0, 100, 200}, {1, 80, 160}};
        sel_t r1_a[] = {{0, 100, 200}};
        sel_t both[] = {{0, 0, 200}, {1, 0, 160}};
        const int64_t s1 = start + ROUND_MS, dl = s1 + 3 * ROUND_MS;
        char *marker, needle[128];

        ck_assert_int_eq(deliver(m, "m1", 0, 100, 200, R + 1), MERGE_MERGED);
        round_closed(m, R + 1, r1, 2, dl);
        ck_assert_int_eq(merger_tick(m, dl - 1), 0);
        ck_assert(!exists(path_of("history/%s", round_dir(R + 1))));
        ck_assert_int_eq(merger_tick(m, dl), 1);
        want = oracle_render("api_round", r1_a, 1);
        assert_file(path_of("history/%s/api_round.csv", round_dir(R + 1)), want);
        assert_file(path_of("api_round.csv"), want);
        free(want);
        marker = slurp(path_of("history/%s/INCOMPLETE", round_dir(R + 1)));
        ck_assert_ptr_nonnull(marker);
        snprintf(needle, sizeof needle, "%s %llu %llu\n", SRC[1], (unsigned long long)off[1][80],
                 (unsigned long long)off[1][160]);
        ck_assert_msg(strstr(marker, needle) != NULL, "marker:\n%s", marker);
        ck_assert_ptr_null(strstr(marker, SRC[0]));
        free(marker);
        ck_assert_int_eq(merger_tick(m, dl + 1), 0);

        /* the missing frame arrives: amended, marker gone */
        ck_assert_int_eq(deliver(m, "m1", 1, 80, 160, R + 1), MERGE_MERGED);
        ck_assert_int_eq(merger_tick(m, dl + 2), 1);
        ck_assert(!exists(path_of("history/%s/INCOMPLETE", round_dir(R + 1))));
        want = oracle_render("api_round", r1, 2);
        assert_file(path_of("history/%s/api_round.csv", round_dir(R + 1)), want);
        assert_file(path_of("api_round.csv"), want);
        free(want);
        want = oracle_api_csv(both, 2);
        assert_file(path_of("api.csv"), want);
        assert_file(path_of("history/%s/api.csv", round_dir(R + 1)), want);
        free(want);
        /* R's history is untouched */
        want = oracle_render("api_round", r0, 2);
        assert_file(path_of("history/%s/api_round.csv", round_dir(R)), want);
        free(want);
        ck_assert_int_eq(merger_tick(m, dl + 3), 0);
    }

    /* R+2: closed before its frame arrives */
    {
        sel_t r2[] = {{0, 200, 250}};
        ck_assert_int_eq(merger_tick(m, start + 3 * ROUND_MS), 0);
        round_closed(m, R + 2, r2, 1, start + 5 * ROUND_MS);
        ck_assert_int_eq(merger_tick(m, start + 3 * ROUND_MS + 1), 0);
        ck_assert_int_eq(deliver(m, "m1", 0, 200, 250, R + 2), MERGE_MERGED);
        ck_assert_int_eq(merger_tick(m, start + 3 * ROUND_MS + 2), 1);
        want = oracle_render("api_round", r2, 1);
        assert_file(path_of("api_round.csv"), want);
        free(want);
    }
    st = status(m);
    ck_assert_int_eq(job_figure(st, NULL, "last_exported_round"), (json_int_t)(R + 2));
    ck_assert_int_eq(job_figure(st, NULL, "last_closed_round"), (json_int_t)(R + 2));
    ck_assert_int_eq(job_figure(st, NULL, "rounds_exported"), 3);
    ck_assert_int_eq(job_figure(st, NULL, "rounds_amended"), 1);
    ck_assert_int_eq(job_figure(st, "partials", "late"), 1);
    ck_assert_int_eq(json_array_size(json_object_get(json_array_get(json_object_get(st, "jobs"), 0),
                                                     "pending_rounds")),
                     0);
    json_decref(st);
    ck_assert_uint_eq(merger_last_closed_round(m, "web"), R + 2);
    ck_assert_uint_eq(merger_last_closed_round(m, "nope"), 0);
}
END_TEST

START_TEST(primary_incomplete)
{
    /* the primary closed the round at its deadline: exported with a marker even if covered */
    merger_t *m = new_merger("m1");
    sel_t r0[] = {{0, 0, 50}};
    merger_range_t rg = {SRC[0], 0, off[0][50]};
    merger_round_t rd = {.round = H0,
                         .start_ms = (int64_t)H0 * ROUND_MS,
                         .deadline_ms = (int64_t)(H0 + 3) * ROUND_MS,
                         .incomplete = 1,
                         .nranges = 1,
                         .ranges = &rg};
    char *marker;

    ck_assert_int_eq(deliver(m, "m1", 0, 0, 50, H0), MERGE_MERGED);
    merger_round_closed(m, "web", &rd);
    ck_assert_int_eq(merger_tick(m, rd.deadline_ms - 1), 0);
    ck_assert_int_eq(merger_tick(m, rd.deadline_ms), 1);
    marker = slurp(path_of("history/%s/INCOMPLETE", round_dir(H0)));
    ck_assert_ptr_nonnull(marker);
    ck_assert_ptr_nonnull(strstr(marker, "primary"));
    free(marker);
    {
        char *want = oracle_api_csv(r0, 1);
        assert_file(path_of("history/%s/api.csv", round_dir(H0)), want);
        free(want);
    }
}
END_TEST

START_TEST(period_boundary)
{
    merger_t *m = new_merger("m1");
    const uint64_t a = H0 + 1, b = H0 + 360; /* hour H, hour H+1 */
    sel_t in_h[] = {{0, 0, 100}}, in_h1[] = {{0, 100, 200}}, late[] = {{0, 200, 250}};
    sel_t h_all[] = {{0, 0, 100}, {0, 200, 250}};
    const char *hstamp = stamp((int64_t)H0 * ROUND_MS);
    char *want;

    ck_assert_str_eq(hstamp, "20251009T090000Z");
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, a), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 100, 200, b), MERGE_MERGED);
    round_closed(m, a, in_h, 1, (int64_t)(a + 3) * ROUND_MS);
    round_closed(m, b, in_h1, 1, (int64_t)(b + 3) * ROUND_MS);
    /* round a, round b, final period H */
    ck_assert_int_eq(merger_tick(m, (int64_t)(b + 1) * ROUND_MS), 3);

    want = oracle_api_csv(in_h, 1);
    assert_file(path_of("period/%s/api.csv", hstamp), want);
    assert_file(path_of("history/%s/api.csv", round_dir(a)), want);
    free(want);
    want = oracle_render("users", in_h, 1);
    assert_file(path_of("period/%s/users.json", hstamp), want);
    free(want);
    ck_assert(!exists(path_of("period/%s/api_round.csv", hstamp))); /* round scope */
    want = oracle_api_csv(in_h1, 1);
    assert_file(path_of("api.csv"), want);
    assert_report(m, "api", want);
    free(want);
    want = oracle_render("users", in_h1, 1);
    assert_file(path_of("users.json"), want);
    free(want);
    ck_assert(!exists(path_of("period/%s", stamp((int64_t)b * ROUND_MS))));

    /* late data for hour H amends its final reports, not the latest */
    ck_assert_int_eq(deliver(m, "m1", 0, 200, 250, a + 1), MERGE_MERGED);
    round_closed(m, a + 1, late, 1, (int64_t)(a + 4) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m, (int64_t)(b + 2) * ROUND_MS), 2); /* round a+1, period H */
    want = oracle_api_csv(h_all, 2);
    assert_file(path_of("period/%s/api.csv", hstamp), want);
    free(want);
    want = oracle_api_csv(in_h1, 1);
    assert_file(path_of("api.csv"), want);
    free(want);
    want = oracle_render("api_round", in_h1, 1);
    assert_file(path_of("api_round.csv"), want); /* still the newest round's */
    free(want);
    ck_assert_int_eq(merger_tick(m, (int64_t)(b + 3) * ROUND_MS), 0);
}
END_TEST

START_TEST(empty_round_new_period)
{
    /* the first round of hour H+1 brings no data: the latest period reports are empty */
    merger_t *m = new_merger("m1");
    const uint64_t a = H0 + 359, b = H0 + 360;
    sel_t in_h[] = {{1, 0, 120}};
    const char *hstamp = stamp((int64_t)H0 * ROUND_MS);
    char *want;

    ck_assert_int_eq(deliver(m, "m1", 1, 0, 120, a), MERGE_MERGED);
    round_closed(m, a, in_h, 1, (int64_t)(a + 3) * ROUND_MS);
    round_closed(m, b, NULL, 0, (int64_t)(b + 3) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m, (int64_t)(b + 1) * ROUND_MS), 3);
    want = oracle_api_csv(in_h, 1);
    assert_file(path_of("period/%s/api.csv", hstamp), want);
    free(want);
    assert_file(path_of("api.csv"), "api,hits,ms\r\n");
    assert_file(path_of("api_round.csv"), "api,hits,ms\r\n");
    assert_file(path_of("history/%s/api.csv", round_dir(b)), "api,hits,ms\r\n");
}
END_TEST

/* Frames merged after the last round export (a round not closed yet) are in
 * the files a master leaves behind: merger_flush renders changed totals even
 * when no round export marked them stale. */
START_TEST(flush_writes_changed_totals)
{
    merger_t *m = new_merger("m1");
    const uint64_t R = H0 + 5;
    sel_t r0[] = {{0, 0, 100}}, both[] = {{0, 0, 100}, {1, 0, 50}};
    char *want;

    merger_set_period_interval(m, 10000);
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, R), MERGE_MERGED);
    round_closed(m, R, r0, 1, (int64_t)(R + 3) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m, (int64_t)(R + 1) * ROUND_MS), 1);
    want = oracle_api_csv(r0, 1);
    assert_file(path_of("api.csv"), want);
    free(want);
    /* acknowledged, its round still open; then the master stops */
    ck_assert_int_eq(deliver(m, "m1", 1, 0, 50, R + 1), MERGE_MERGED);
    ck_assert_int_eq(merger_tick(m, (int64_t)(R + 1) * ROUND_MS + 100), 0);
    merger_flush(m, (int64_t)(R + 1) * ROUND_MS + 200);
    want = oracle_api_csv(both, 2);
    assert_file(path_of("api.csv"), want);
    free(want);
}
END_TEST

START_TEST(owned_groups_only)
{
    char two[96];
    merger_t *m1 = new_merger("m1"), *m2;
    sel_t sel[] = {{0, 0, 300}};
    buf_t b;
    char *want, *got;

    snprintf(two, sizeof two, "%s/two", dir);
    m2 = merger_create(cfg, "m2", two, pool);
    ck_assert_int_eq(deliver(m1, "m1", 0, 0, 300, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m2, "m2", 0, 0, 300, H0), MERGE_MERGED);
    round_closed(m1, H0, sel, 1, (int64_t)(H0 + 3) * ROUND_MS);
    round_closed(m2, H0, sel, 1, (int64_t)(H0 + 3) * ROUND_MS);
    ck_assert_int_eq(merger_tick(m1, (int64_t)(H0 + 1) * ROUND_MS), 1);
    ck_assert_int_eq(merger_tick(m2, (int64_t)(H0 + 1) * ROUND_MS), 1);

    /* m1: traffic and users */
    want = oracle_api_csv(sel, 1);
    assert_file(path_of("api.csv"), want);
    free(want);
    ck_assert(exists(path_of("users.json")));
    ck_assert(exists(path_of("history/%s/api_round.csv", round_dir(H0))));
    ck_assert(!exists(path_of("status.csv")));
    ck_assert(!exists(path_of("history/%s/status.csv", round_dir(H0))));
    /* m2: errors */
    want = oracle_render("status", sel, 1);
    assert_file(path_of("../two/web/status.csv"), want);
    assert_file(path_of("../two/web/history/%s/status.csv", round_dir(H0)), want);
    got = report(m2, "status", NULL);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    ck_assert(!exists(path_of("../two/web/api.csv")));
    ck_assert(!exists(path_of("../two/web/users.json")));
    ck_assert(!exists(path_of("../two/web/history/%s/api_round.csv", round_dir(H0))));

    buf_init(&b);
    ck_assert_int_eq(merger_report(m2, "web", "api", NULL, &b), 404);
    ck_assert_int_eq(merger_report(m1, "web", "status", NULL, &b), 404);
    ck_assert_int_eq(merger_report(m1, "web", "nope", NULL, &b), 404);
    ck_assert_int_eq(merger_report(m1, "nope", "api", NULL, &b), 404);
    ck_assert_int_eq(merger_report(m1, "web", "api", "xml", &b), 400);
    buf_reset(&b);
    ck_assert_int_eq(merger_report(m1, "web", "api", "json", &b), 200);
    ck_assert_int_gt(b.len, 0);
    ck_assert_int_eq(b.data[0], '{');
    buf_free(&b);
}
END_TEST

START_TEST(retention)
{
    merger_t *m = new_merger("m1");
    const int n = MERGER_KEEP_ROUNDS + 6;
    json_t *st;
    char *marker;
    sel_t all[] = {{0, 0, n}};

    /* frames for n rounds, none closed: the oldest rounds are dropped, exported first */
    for (int i = 1; i < n; i++)
        ck_assert_int_eq(deliver(m, "m1", 0, i, i + 1, H0 + (uint64_t)i), MERGE_MERGED);
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + (uint64_t)n) * ROUND_MS), 5);
    for (int i = 1; i <= 5; i++)
        ck_assert(exists(path_of("history/%s/api_round.csv", round_dir(H0 + (uint64_t)i))));
    ck_assert(!exists(path_of("history/%s", round_dir(H0 + 6))));
    marker = slurp(path_of("history/%s/INCOMPLETE", round_dir(H0 + 1)));
    ck_assert_ptr_nonnull(marker);
    ck_assert_ptr_nonnull(strstr(marker, "not closed"));
    free(marker);
    {
        sel_t one[] = {{0, 1, 2}};
        char *want = oracle_render("api_round", one, 1);
        assert_file(path_of("history/%s/api_round.csv", round_dir(H0 + 1)), want);
        free(want);
    }
    /* a frame for a dropped round still counts in the totals, as late */
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 1, H0), MERGE_MERGED);
    assert_api(m, all, 1);
    st = status(m);
    ck_assert_int_eq(job_figure(st, "partials", "late"), 1);
    ck_assert_int_eq(job_figure(st, "partials", "merged"), n);
    json_decref(st);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

typedef struct feeder_t {
    merger_t *m;
    buf_t *frames;
    int n;
    unsigned seed;
    int counts[4];
} feeder_t;

static void *APR_THREAD_FUNC feed_thread(apr_thread_t *th, void *arg)
{
    feeder_t *f = arg;
    int *order = malloc(sizeof(int) * (size_t)f->n);
    for (int i = 0; i < f->n; i++)
        order[i] = i;
    for (int i = f->n - 1; i > 0; i--) {
        int j = (int)(rand_r(&f->seed) % (unsigned)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < f->n; i++) {
        abbey_err_t err;
        merge_result_t r =
            merger_accept(f->m, f->frames[order[i]].data, f->frames[order[i]].len, NULL, &err);
        f->counts[r]++;
    }
    free(order);
    (void)th; /* returns instead of apr_thread_exit: pthread_exit upsets ASan */
    return NULL;
}

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

/* method path on port, which must get an answer (see http_call). */
static void http(int port, const char *method, const char *path, const void *body, size_t len,
                 http_ans_t *ans)
{
    ck_assert_int_eq(http_call(port, method, path, body, len, ans), 0);
}

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

/* ---- adopting a reloaded config (merger_set_config) --------------------- */

/* RULES with the first occurrence of from replaced by to (malloc'd). */
static char *rules_subst(const char *from, const char *to)
{
    const char *at = strstr(RULES, from);
    buf_t b;
    ck_assert_ptr_nonnull(at);
    buf_init(&b);
    buf_put(&b, RULES, (size_t)(at - RULES));
    buf_put(&b, to, strlen(to));
    buf_put(&b, at + strlen(from), strlen(at + strlen(from)) + 1);
    return (char *)b.data;
}

static const char *NEW_ENTRY = /* a new entry (and report) in group traffic */
    "            values: {hits: count, ms: sum(ms)}\n"
    "          - name: slow\n"
    "            key: [api]\n"
    "            where: ms >= 500\n"
    "            values: {hits: count}\n";

/* A second job; named to be placed last (hunger-weight visits groups of equal
 * weight by "job/group" name), so web's groups stay where they are. */
static const char *JOB2 = "  - name: zapi\n"
                          "    round: 10s\n"
                          "    reset: hour\n"
                          "    sources: [/dev/null]\n"
                          "    format: {split: \" \", fields: [user, api, status:int, ms:int]}\n"
                          "    groups:\n"
                          "      - name: calls\n"
                          "        entries:\n"
                          "          - name: by_api\n"
                          "            key: [api]\n"
                          "            values: {hits: count, ms: sum(ms)}\n"
                          "    reports:\n"
                          "      - {name: api, entry: by_api, order: hits desc}\n";

static rules_config_t *load_rules(const char *t)
{
    rules_config_t *c;
    abbey_err_t err;
    ck_assert_msg(rules_load_buffer(t, strlen(t), "reload.yaml", pool, &c, &err) == APR_SUCCESS,
                  "%s", err.msg);
    return c;
}

/* Frames and oracles from now on use config c's job name. */
static void use_rules(rules_config_t *c, const char *name)
{
    cfg = c;
    job = rules_find_job(c, name);
    ck_assert_ptr_nonnull(job);
    eng = engine_create(job, pool);
}

static json_t *status_job(json_t *st, const char *name)
{
    json_t *jobs = json_object_get(st, "jobs");
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        json_t *j = json_array_get(jobs, i);
        if (strcmp(json_string_value(json_object_get(j, "name")), name) == 0)
            return j;
    }
    return NULL;
}

static json_int_t since_of(merger_t *m, const char *name)
{
    json_t *st = status(m), *j = status_job(st, name);
    json_int_t v;
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_integer(json_object_get(j, "counting_since_ms")));
    v = json_integer_value(json_object_get(j, "counting_since_ms"));
    json_decref(st);
    return v;
}

static int64_t wall_ms(void)
{
    return (int64_t)(apr_time_now() / 1000);
}

static merge_result_t send_frame(merger_t *m, const buf_t *b, abbey_err_t *err)
{
    err->msg[0] = 0;
    return merger_accept(m, b->data, b->len, NULL, err);
}

START_TEST(reload_comment_only)
{
    int64_t t0 = wall_ms();
    merger_t *m = new_merger("m1");
    rules_config_t *a = cfg, *a2;
    char *text2 = malloc(strlen(RULES) + 64), *files[3], *api_before, *users_before, *got;
    const char *names[3] = {"api.csv", "users.json", "api_round.csv"};
    sel_t r1[] = {{0, 0, 100}}, pend[] = {{1, 0, 50}, {1, 50, 120}};
    sel_t all[] = {{0, 0, 100}, {1, 0, 120}};
    json_int_t since;
    abbey_err_t err;
    buf_t old;
    json_t *st;

    strcpy(text2, "# reloaded: only this comment is new\n");
    strcat(text2, RULES);
    a2 = load_rules(text2);
    ck_assert_uint_ne(a2->hash, a->hash);
    buf_init(&old);
    frame_for("m1", 0, 0, 100, H0, 0, &old);
    ck_assert_int_eq(send_frame(m, &old, &err), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 1, 0, 50, H0 + 1), MERGE_MERGED);
    round_closed(m, H0, r1, 1, (int64_t)(H0 + 3) * ROUND_MS);
    round_closed(m, H0 + 1, pend, 2, (int64_t)(H0 + 100) * ROUND_MS); /* pending: 50..120 */
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 2) * ROUND_MS), 1);
    for (int i = 0; i < 3; i++)
        files[i] = slurp(path_of("%s", names[i]));
    api_before = report(m, "api", NULL);
    users_before = report(m, "users", NULL);
    since = since_of(m, "web");
    ck_assert_int_ge(since, t0);
    usleep(3000); /* a structural change would now show a later counting_since_ms */

    ck_assert_int_eq(merger_set_config(m, a2, &err), 0);
    use_rules(a2, "web");
    /* everything kept: a duplicate is still a duplicate, reports byte-identical */
    ck_assert_int_eq(send_frame(m, &old, &err), MERGE_DUPLICATE);
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_DUPLICATE); /* new config's hash */
    got = report(m, "api", NULL);
    ck_assert_str_eq(got, api_before);
    free(got);
    got = report(m, "users", NULL);
    ck_assert_str_eq(got, users_before);
    free(got);
    ck_assert_int_eq(since_of(m, "web"), since);
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 3) * ROUND_MS), 0);
    for (int i = 0; i < 3; i++) {
        assert_file(path_of("%s", names[i]), files[i]);
        free(files[i]);
    }
    /* the pending round is still pending and exports once its missing range arrives */
    st = status(m);
    ck_assert_int_eq(json_array_size(json_object_get(status_job(st, "web"), "pending_rounds")), 1);
    ck_assert_int_eq(job_figure(st, "partials", "merged"), 2);
    ck_assert_int_eq(job_figure(st, "partials", "duplicate"), 2);
    json_decref(st);
    ck_assert_int_eq(deliver(m, "m1", 1, 50, 120, H0 + 1), MERGE_MERGED);
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 4) * ROUND_MS), 1);
    ck_assert(!exists(path_of("history/%s/INCOMPLETE", round_dir(H0 + 1))));
    assert_api(m, all, 2);
    got = oracle_render("api_round", &all[1], 1);
    assert_file(path_of("history/%s/api_round.csv", round_dir(H0 + 1)), got);
    free(got);
    ck_assert_int_eq(merger_set_config(m, a2, &err), 0); /* the same config again: no change */
    free(api_before);
    free(users_before);
    free(text2);
    buf_free(&old);
}
END_TEST

START_TEST(reload_new_entry)
{
    merger_t *m = new_merger("m1");
    char *text_b = rules_subst("            values: {hits: count, ms: sum(ms)}\n", NEW_ENTRY);
    char *text_b2, *want, *got;
    rules_config_t *b;
    sel_t before[] = {{0, 0, 100}, {1, 0, 80}}, after[] = {{0, 100, 200}};
    const char *hstamp = stamp((int64_t)H0 * ROUND_MS);
    buf_t old;
    abbey_err_t err;
    int64_t t0;
    json_t *st;

    text_b2 = malloc(strlen(text_b) + 128);
    strcpy(text_b2, text_b);
    strcat(text_b2, "      - {name: slow, entry: slow}\n");
    b = load_rules(text_b2);
    buf_init(&old);
    frame_for("m1", 0, 0, 100, H0, 0, &old);
    ck_assert_int_eq(send_frame(m, &old, &err), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 1, 0, 80, H0 + 1), MERGE_MERGED);
    t0 = wall_ms();
    ck_assert_int_eq(merger_set_config(m, b, &err), 0);
    ck_assert_int_ge(since_of(m, "web"), t0);

    /* the previous structure's period reports, written at the next tick */
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 2) * ROUND_MS), 1);
    want = oracle_api_csv(before, 2);
    assert_file(path_of("period/%s/api.csv", hstamp), want);
    free(want);
    want = oracle_render("users", before, 2);
    assert_file(path_of("period/%s/users.json", hstamp), want);
    free(want);
    ck_assert(!exists(path_of("period/%s/slow.csv", hstamp)));

    /* old frames of those ranges are duplicates, under either config */
    ck_assert_int_eq(send_frame(m, &old, &err), MERGE_DUPLICATE);
    use_rules(b, "web");
    ck_assert_ptr_eq(job->entries[1]->group, &job->groups[0]); /* slow is in traffic */
    ck_assert_int_eq(deliver(m, "m1", 1, 0, 80, H0 + 1), MERGE_DUPLICATE);
    /* new frames merge; the new structure counts only them */
    ck_assert_int_eq(deliver(m, "m1", 0, 100, 200, H0 + 2), MERGE_MERGED);
    assert_api(m, after, 1);
    want = oracle_render("slow", after, 1);
    got = report(m, "slow", NULL);
    ck_assert_str_eq(got, want);
    ck_assert_ptr_nonnull(strstr(want, "\r\n/a")); /* the oracle has rows */
    free(got);
    free(want);
    want = oracle_render("users", after, 1);
    got = report(m, "users", NULL);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    /* counters and ranges carried on */
    st = status(m);
    ck_assert_int_eq(job_figure(st, "partials", "merged"), 3);
    ck_assert_int_eq(job_figure(st, "partials", "duplicate"), 2);
    ck_assert_int_eq(job_figure(st, NULL, "lines"), 280);
    json_decref(st);
    free(text_b);
    free(text_b2);
    buf_free(&old);
}
END_TEST

/* The master that owns group calls of job zapi in config c. */
static const char *calls_owner(const rules_config_t *c)
{
    return c->masters[rules_find_job(c, "zapi")->groups[0].master].name;
}

static const char *zapi_path(const char *fmt, const char *arg)
{
    static char p[512];
    int n = snprintf(p, sizeof p, "%s/zapi/", dir);
    snprintf(p + n, sizeof p - (size_t)n, fmt, arg);
    return p;
}

START_TEST(reload_new_job)
{
    char *text_c = malloc(strlen(RULES) + strlen(JOB2) + 1);
    rules_config_t *c;
    const char *owner;
    merger_t *m;
    json_int_t since;
    sel_t sel[] = {{1, 0, 150}};
    abbey_err_t err;
    char *want, *got;
    buf_t body;
    json_t *st;

    strcpy(text_c, RULES);
    strcat(text_c, JOB2);
    c = load_rules(text_c);
    owner = calls_owner(c);
    m = new_merger(owner);
    since = since_of(m, "web");
    ck_assert_msg(merger_set_config(m, c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(since_of(m, "web"), since); /* web did not change */
    st = status(m);
    ck_assert_int_eq(json_array_size(json_object_get(st, "jobs")), 2);
    ck_assert_ptr_nonnull(status_job(st, "zapi"));
    json_decref(st);
    use_rules(c, "zapi");
    ck_assert_int_eq(deliver(m, owner, 1, 0, 150, H0), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, owner, 1, 0, 150, H0), MERGE_DUPLICATE);
    want = oracle_api_csv(sel, 1);
    buf_init(&body);
    ck_assert_int_eq(merger_report(m, "zapi", "api", NULL, &body), 200);
    buf_put_u8(&body, 0);
    got = (char *)body.data;
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    free(text_c);
}
END_TEST

START_TEST(reload_removed_job)
{
    char *text_c = malloc(strlen(RULES) + strlen(JOB2) + 1);
    rules_config_t *a = cfg, *c;
    const char *owner;
    merger_t *m;
    sel_t sel[] = {{0, 0, 200}};
    abbey_err_t err;
    char *want;
    buf_t f, body;
    json_t *st;

    strcpy(text_c, RULES);
    strcat(text_c, JOB2);
    c = load_rules(text_c);
    owner = calls_owner(c);
    m = merger_create(c, owner, dir, pool);
    ck_assert_ptr_nonnull(m);
    use_rules(c, "zapi");
    buf_init(&f);
    frame_for(owner, 0, 0, 200, H0, 0, &f);
    ck_assert_int_eq(send_frame(m, &f, &err), MERGE_MERGED);

    ck_assert_int_eq(merger_set_config(m, a, &err), 0);
    st = status(m);
    ck_assert_int_eq(json_array_size(json_object_get(st, "jobs")), 1);
    ck_assert_ptr_null(status_job(st, "zapi"));
    json_decref(st);
    /* exported once: its round (never closed: INCOMPLETE) and its period */
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 1) * ROUND_MS), 2);
    want = oracle_api_csv(sel, 1);
    assert_file(zapi_path("period/%s/api.csv", stamp((int64_t)H0 * ROUND_MS)), want);
    assert_file(zapi_path("history/%s/api.csv", round_dir(H0)), want);
    free(want);
    ck_assert(exists(zapi_path("history/%s/INCOMPLETE", round_dir(H0))));
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 2) * ROUND_MS), 0);
    /* gone: its frames are for an unknown job, its reports unknown */
    ck_assert_int_eq(send_frame(m, &f, &err), MERGE_REJECTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown job 'zapi'"));
    buf_init(&body);
    ck_assert_int_eq(merger_report(m, "zapi", "api", NULL, &body), 404);
    buf_free(&body);
    buf_free(&f);
    free(text_c);
}
END_TEST

START_TEST(reload_moves_group)
{
    merger_t *m = new_merger("m1");
    char *text_d = rules_subst("weight: 2}", "weight: 1}"), *text_e;
    rules_config_t *a = cfg, *d, *e;
    const rules_job_t *dj;
    const char *moved = NULL;
    sel_t sel[] = {{0, 0, 100}, {0, 100, 180}};
    abbey_err_t err;

    text_e = rules_subst("  - {name: m1, url: \"http://127.0.0.1:1\", weight: 2}\n",
                         "  - {name: m3, url: \"http://127.0.0.1:1\", weight: 2}\n");
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_MERGED);
    d = load_rules(text_d);
    dj = rules_find_job(d, "web");
    for (int g = 0; g < dj->ngroups && !moved; g++)
        if (strcmp(d->masters[dj->groups[g].master].name, a->masters[job->groups[g].master].name) !=
            0)
            moved = dj->groups[g].name;
    ck_assert_ptr_nonnull(moved); /* the test's premise: m1 weight 1 moves a group */
    err.msg[0] = 0;
    ck_assert_int_eq(merger_set_config(m, d, &err), -1);
    ck_assert_msg(strstr(err.msg, apr_psprintf(pool, "group '%s'", moved)) != NULL, "%s", err.msg);
    e = load_rules(text_e);
    ck_assert_int_eq(merger_set_config(m, e, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "'m1'"));
    /* the old config is kept: frames for it merge, its reports are served */
    ck_assert_int_eq(deliver(m, "m1", 0, 0, 100, H0), MERGE_DUPLICATE);
    ck_assert_int_eq(deliver(m, "m1", 0, 100, 180, H0), MERGE_MERGED);
    assert_api(m, sel, 2);
    free(text_d);
    free(text_e);
}
END_TEST

/* Sum of hits and ms per api (/a<i>) in an `api` CSV report. */
static void add_api_csv(const char *csv, long hits[NAPI], long ms[NAPI])
{
    const char *p = strstr(csv, "\r\n");
    ck_assert_ptr_nonnull(p);
    for (p += 2; *p; p = strstr(p, "\r\n") + 2) {
        int a;
        long h, t;
        ck_assert_int_eq(sscanf(p, "/a%d,%ld,%ld", &a, &h, &t), 3);
        ck_assert(a >= 0 && a < NAPI);
        hits[a] += h;
        ms[a] += t;
    }
}

START_TEST(reload_under_load)
{
    merger_t *m = new_merger("m1");
    char *text_a2 = malloc(strlen(RULES) + 16), *text_b, *got;
    rules_config_t *a = cfg, *a2, *b;
    buf_t frames[2 * (NLINES / 10)];
    feeder_t f[2];
    apr_thread_t *t[2];
    apr_status_t trv;
    int n = 0, merged = 0, dup = 0;
    long hits[NAPI] = {0}, ms[NAPI] = {0}, want_hits[NAPI] = {0}, want_ms[NAPI] = {0};
    abbey_err_t err;
    json_t *st;

    strcpy(text_a2, "# again\n");
    strcat(text_a2, RULES);
    a2 = load_rules(text_a2);
    text_b = rules_subst("            values: {hits: count, ms: sum(ms)}\n", NEW_ENTRY);
    b = load_rules(text_b);
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < NLINES; l += 10) {
            buf_init(&frames[n]);
            frame_for("m1", s, l, l + 10, H0 + (uint64_t)(l / 100), 0, &frames[n]);
            n++;
        }
    for (int i = 0; i < 2; i++) {
        f[i] = (feeder_t){.m = m, .frames = frames, .n = n, .seed = 77u + (unsigned)i};
        ck_assert_int_eq(apr_thread_create(&t[i], NULL, feed_thread, &f[i], pool), APR_SUCCESS);
    }
    for (int k = 0; k < 6; k++) /* unchanged structure, back and forth */
        ck_assert_int_eq(merger_set_config(m, k % 2 ? a : a2, &err), 0);
    for (long spin = 0; spin < 2000000; spin++) { /* let some frames merge first */
        st = status(m);
        merged = (int)job_figure(st, "partials", "merged");
        json_decref(st);
        if (merged >= n / 3)
            break;
        usleep(50);
    }
    ck_assert_int_eq(merger_set_config(m, b, &err), 0); /* a new entry: totals restart */
    merged = 0;
    for (int i = 0; i < 2; i++) {
        apr_thread_join(&trv, t[i]);
        merged += f[i].counts[MERGE_MERGED];
        dup += f[i].counts[MERGE_DUPLICATE];
        ck_assert_int_eq(f[i].counts[MERGE_CONFLICT] + f[i].counts[MERGE_REJECTED], 0);
    }
    ck_assert_int_eq(merged, n);
    ck_assert_int_eq(dup, n);
    /* every line counted once: in the export at the change or in the new totals */
    ck_assert_int_eq(merger_tick(m, (int64_t)(H0 + 10) * ROUND_MS), 1);
    got = slurp(path_of("period/%s/api.csv", stamp((int64_t)H0 * ROUND_MS)));
    ck_assert_ptr_nonnull(got);
    add_api_csv(got, hits, ms);
    free(got);
    got = report(m, "api", NULL);
    add_api_csv(got, hits, ms);
    free(got);
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < NLINES; l++)
            if (!bad_line(s, l)) {
                want_hits[line_api(s, l)]++;
                want_ms[line_api(s, l)] += line_ms(s, l);
            }
    for (int i = 0; i < NAPI; i++) {
        ck_assert_int_eq(hits[i], want_hits[i]);
        ck_assert_int_eq(ms[i], want_ms[i]);
    }
    st = status(m);
    ck_assert_int_eq(job_figure(st, NULL, "lines"), 2 * NLINES);
    json_decref(st);
    for (int i = 0; i < n; i++)
        buf_free(&frames[i]);
    free(text_a2);
    free(text_b);
}
END_TEST

static Suite *merger_suite(void)
{
    Suite *s = suite_create("merger");
    TCase *tc = tcase_create("exactly_once");
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

    tc = tcase_create("rounds");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_export);
    tcase_add_test(tc, primary_incomplete);
    tcase_add_test(tc, period_boundary);
    tcase_add_test(tc, empty_round_new_period);
    tcase_add_test(tc, owned_groups_only);
    tcase_add_test(tc, flush_writes_changed_totals);
    tcase_add_test(tc, retention);
    suite_add_tcase(s, tc);

    tc = tcase_create("serving");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, threads);
    tcase_add_test(tc, metrics_text);
    tcase_add_test(tc, http_handlers);
    suite_add_tcase(s, tc);

    tc = tcase_create("reload");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reload_comment_only);
    tcase_add_test(tc, reload_new_entry);
    tcase_add_test(tc, reload_new_job);
    tcase_add_test(tc, reload_removed_job);
    tcase_add_test(tc, reload_moves_group);
    tcase_add_test(tc, reload_under_load);
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
