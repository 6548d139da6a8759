/* check_reasons.c - bad lines counted per reason, end to end through the rules layer: the
 * engine (every reason a combined or split job can give, the engine's own "value" and "line
 * too long", a header that is no header), the sink it hands bad lines to (offset, reason,
 * the text naming the field, the line's bytes), the partial (merge, clear), the frame (the
 * counts by name, an older frame without them) and a second partial merged from frames.
 *
 * The oracle is the test's own lines: each is written to be bad for one known reason (or
 * good), so the expected count of every reason is known before abbey runs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "check_run.h"
#include "engine.h"
#include "frame.h"
#include "rules.h"

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static const rules_job_t *load(const char *text)
{
    rules_config_t *cfg;
    abbey_err_t err;
    ck_assert_msg(rules_load_buffer(text, strlen(text), "reasons.yaml", pool, &cfg, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    return &cfg->jobs[0];
}

/* ---- a sink that records what it is handed ------------------------------ */

#define MAXSEEN 64

typedef struct seen_t {
    int n;
    uint64_t offset[MAXSEEN], bytes[MAXSEEN];
    int reason[MAXSEEN];
    char why[MAXSEEN][160];
    char line[MAXSEEN][256];
    size_t len[MAXSEEN];
} seen_t;

static void record(void *ctx, const engine_bad_t *b)
{
    seen_t *s = ctx;
    int i = s->n++;
    ck_assert_int_lt(i, MAXSEEN);
    s->offset[i] = b->offset;
    s->reason[i] = b->reason;
    s->bytes[i] = b->bytes;
    snprintf(s->why[i], sizeof s->why[i], "%s", b->why);
    s->len[i] = b->len < sizeof s->line[i] ? b->len : sizeof s->line[i];
    memcpy(s->line[i], b->line, s->len[i]);
}

/* The sum of p's per-reason counts: always p->bad_lines. */
static uint64_t reasons_sum(const partial_t *p)
{
    uint64_t n = 0;
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        n += p->bad_by[r];
    return n;
}

static const char *COMBINED =
    "jobs:\n"
    "  - name: web\n"
    "    sources: [/dev/null]\n"
    "    format: combined\n"
    "    max_line: 200\n"
    "    groups:\n"
    "      - name: g\n"
    "        entries:\n"
    "          - {name: by_status, key: [status], values: {hits: count, bytes: sum(bytes)}}\n"
    "          - {name: per_minute, key: [time_bucket(time, 1m)], values: {hits: count}}\n";

#define GOOD "1.2.3.4 - - [18/May/2015:02:05:46 +0000] \"GET /a HTTP/1.1\" 200 512 \"-\" \"c\""

/* Every combined line and why it is bad (FORMAT_OK: good). */
static const struct {
    const char *line;
    int reason;
    const char *why;
} CASES[] = {
    {GOOD, FORMAT_OK, NULL},
    {"just some text", FORMAT_BAD_FIELDS, "wrong number of fields or unrecognised structure"},
    {"1.2.3.4 - - [18/May/2015:02:05:46 +0000] \"GET /a HTTP/1.1", FORMAT_BAD_QUOTE,
     "unterminated quote"},
    {"1.2.3.4 - - [31/Feb/2015:02:05:46 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"c\"",
     FORMAT_BAD_TIME, "time is not a time"},
    {"1.2.3.4 - - [18/May/2015:02:05:46 +0000] \"GET / HTTP/1.1\" 2x0 5 \"-\" \"c\"",
     FORMAT_BAD_NUMBER, "status is not a number"},
    {"1.2.3.4 - - [18/May/2015:02:05:46 +0000] \"GET / HTTP/1.1\" 200 lots \"-\" \"c\"",
     FORMAT_BAD_NUMBER, "bytes is not a number"},
    {GOOD, FORMAT_OK, NULL},
    {"x 1.2.3.4 - - [18/May/2015:02:05:46 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"c\" "
     "and a great deal more text after it all, until the line is longer than the job's "
     "max_line of two hundred bytes, which it now is, by a comfortable margin of bytes",
     FORMAT_BAD_TOO_LONG, "line too long"},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

START_TEST(test_engine_reasons)
{
    const rules_job_t *job = load(COMBINED);
    engine_t *e = engine_create(job, pool);
    partial_t *p = partial_create(job, pool);
    uint64_t want[PARTIAL_BAD_N] = {0}, offs[NCASES];
    seen_t seen = {0};
    buf_t in;
    int nbad = 0;

    buf_init(&in);
    for (size_t i = 0; i < NCASES; i++) {
        offs[i] = 5000 + in.len;
        buf_printf(&in, "%s\n", CASES[i].line);
        if (CASES[i].reason != FORMAT_OK)
            want[CASES[i].reason]++, nbad++;
    }
    /* with no sink first: counts only */
    ck_assert_int_eq(engine_feed(e, (char *)in.data, in.len, 5000, p, NULL, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->lines, NCASES);
    ck_assert_uint_eq(p->bad_lines, (uint64_t)nbad);
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        ck_assert_msg(p->bad_by[r] == want[r], "reason %s: %llu, want %llu", partial_reason_name(r),
                      (unsigned long long)p->bad_by[r], (unsigned long long)want[r]);
    /* with a sink: every bad line once, in order, with what names it */
    engine_set_sink(e, record, &seen);
    ck_assert_int_eq(engine_feed(e, (char *)in.data, in.len, 5000, p, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(seen.n, nbad);
    for (size_t i = 0, k = 0; i < NCASES; i++) {
        if (CASES[i].reason == FORMAT_OK)
            continue;
        ck_assert_uint_eq(seen.offset[k], offs[i]);
        ck_assert_int_eq(seen.reason[k], CASES[i].reason);
        ck_assert_str_eq(seen.why[k], CASES[i].why);
        ck_assert_uint_eq(seen.len[k], strlen(CASES[i].line));
        ck_assert_uint_eq(seen.bytes[k], strlen(CASES[i].line));
        ck_assert_int_eq(memcmp(seen.line[k], CASES[i].line, seen.len[k]), 0);
        k++;
    }
    ck_assert_uint_eq(p->bad_lines, 2 * (uint64_t)nbad);
    ck_assert_uint_eq(reasons_sum(p), p->bad_lines);
    /* a sink removed is not called */
    engine_set_sink(e, NULL, NULL);
    ck_assert_int_eq(engine_feed(e, (char *)in.data, in.len, 5000, p, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(seen.n, nbad);
    /* the skipped line too long: its head, the bytes skipped */
    engine_set_sink(e, record, &seen);
    engine_too_long(e, "head of it", 10, 777, 5000001, p, NULL);
    ck_assert_int_eq(seen.n, nbad + 1);
    ck_assert_int_eq(seen.reason[nbad], FORMAT_BAD_TOO_LONG);
    ck_assert_uint_eq(seen.offset[nbad], 777);
    ck_assert_uint_eq(seen.len[nbad], 10);
    ck_assert_uint_eq(seen.bytes[nbad], 5000001);
    ck_assert_str_eq(seen.why[nbad], "line too long");
    ck_assert_uint_eq(p->bad_by[FORMAT_BAD_TOO_LONG], 3 * want[FORMAT_BAD_TOO_LONG] + 1);
    ck_assert_uint_eq(reasons_sum(p), p->bad_lines);
    buf_free(&in);
}
END_TEST

/* An untyped field used through coalesce is not converted by the format, so
 * text there is found by the engine: reason "value", naming the entry. */
START_TEST(test_engine_value_reason)
{
    const rules_job_t *job = load("jobs:\n"
                                  "  - name: app\n"
                                  "    sources: [/dev/null]\n"
                                  "    format: {split: \" \", fields: [user, ms]}\n"
                                  "    groups:\n"
                                  "      - name: g\n"
                                  "        entries:\n"
                                  "          - name: slow\n"
                                  "            key: [user]\n"
                                  "            values: {total: sum(coalesce(ms, 0))}\n");
    engine_t *e = engine_create(job, pool);
    partial_t *p = partial_create(job, pool);
    const char *in = "ann 10\nbob fast\ncid\nann 5\n";
    seen_t seen = {0};

    engine_set_sink(e, record, &seen);
    ck_assert_int_eq(engine_feed(e, in, strlen(in), 0, p, NULL, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 4);
    ck_assert_uint_eq(p->bad_lines, 2);
    ck_assert_uint_eq(p->bad_by[PARTIAL_BAD_VALUE], 1);
    ck_assert_uint_eq(p->bad_by[FORMAT_BAD_FIELDS], 1);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_int_eq(seen.reason[0], PARTIAL_BAD_VALUE);
    ck_assert_uint_eq(seen.offset[0], 7);
    ck_assert_str_eq(seen.why[0], "entry 'slow': a value that must be a number is not one");
    ck_assert_int_eq(seen.reason[1], FORMAT_BAD_FIELDS);
    ck_assert_uint_eq(seen.offset[1], 16);
}
END_TEST

/* Every slot has a distinct name that finds it again; "ok" and strangers are unknown. */
START_TEST(test_reason_names)
{
    for (int r = 1; r < PARTIAL_BAD_N; r++) {
        const char *n = partial_reason_name(r);
        ck_assert_int_eq(partial_reason_find(n, strlen(n)), r);
        ck_assert_uint_gt(strlen(partial_reason_text(r)), 0);
        for (int q = 1; q < r; q++)
            ck_assert_str_ne(partial_reason_name(q), n);
        ck_assert_uint_lt(strlen(n), PARTIAL_REASON_NAME_MAX);
    }
    ck_assert_str_eq(partial_reason_name(PARTIAL_BAD_VALUE), "value");
    ck_assert_str_eq(partial_reason_name(PARTIAL_BAD_UNKNOWN), "unknown");
    ck_assert_str_eq(partial_reason_name(FORMAT_BAD_QUOTE), "quote");
    ck_assert_int_eq(partial_reason_find("ok", 2), PARTIAL_BAD_UNKNOWN);
    ck_assert_int_eq(partial_reason_find("quotes", 6), PARTIAL_BAD_UNKNOWN);
    ck_assert_int_eq(partial_reason_find("quote", 5), FORMAT_BAD_QUOTE);
    ck_assert_int_eq(partial_reason_find("", 0), PARTIAL_BAD_UNKNOWN);
}
END_TEST

/* Feed CASES (each line n times) into a fresh partial of job. */
static partial_t *fed(const rules_job_t *job, engine_t *e, int n)
{
    partial_t *p = partial_create(job, pool);
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < NCASES; i++) {
            char line[512];
            int len = snprintf(line, sizeof line, "%s\n", CASES[i].line);
            ck_assert_int_eq(engine_feed(e, line, (size_t)len, 0, p, NULL, NULL), APR_SUCCESS);
        }
    return p;
}

/* engine -> partial -> frame -> a master's partial: the counts by reason
 * survive every step and add up over frames. */
START_TEST(test_through_frames)
{
    const rules_job_t *job = load(COMBINED);
    engine_t *e = engine_create(job, pool);
    partial_t *a = fed(job, e, 1), *b = fed(job, e, 3), *master = partial_create(job, pool);
    partial_t *both = fed(job, e, 1);
    frame_header_t h, got;
    abbey_err_t err;
    buf_t fa, fb;

    buf_init(&fa);
    buf_init(&fb);
    memset(&h, 0, sizeof h);
    strcpy(h.job, "web");
    strcpy(h.source, "/var/log/a#1");
    frame_header_counts(&h, a);
    h.end = 100;
    ck_assert_int_eq(frame_encode(&h, a, NULL, &fa, &err), APR_SUCCESS);
    frame_header_counts(&h, b);
    h.start = 100;
    h.end = 400;
    ck_assert_int_eq(frame_encode(&h, b, NULL, &fb, &err), APR_SUCCESS);
    ck_assert_int_eq(frame_decode(fa.data, fa.len, job, &got, master, NULL, &err), APR_SUCCESS);
    for (int r = 0; r < PARTIAL_BAD_N; r++)
        ck_assert_uint_eq(got.bad_by[r], a->bad_by[r]);
    ck_assert_int_eq(frame_decode(fb.data, fb.len, job, NULL, master, NULL, &err), APR_SUCCESS);
    ck_assert_int_eq(partial_merge(both, b, &err), APR_SUCCESS);
    ck_assert_uint_eq(master->bad_lines, 4 * a->bad_lines);
    for (int r = 0; r < PARTIAL_BAD_N; r++) {
        ck_assert_uint_eq(master->bad_by[r], both->bad_by[r]);
        ck_assert_uint_eq(master->bad_by[r], 4 * a->bad_by[r]);
    }
    ck_assert_uint_eq(master->bad_by[FORMAT_BAD_NUMBER], 8);
    ck_assert_uint_eq(reasons_sum(master), master->bad_lines);
    ck_assert_uint_eq(master->bad_by[PARTIAL_BAD_UNKNOWN], 0);
    partial_clear(master);
    ck_assert_uint_eq(reasons_sum(master), 0);
    buf_free(&fa);
    buf_free(&fb);
}
END_TEST

/* A frame that says how many lines were bad but not why (every frame from
 * before reasons, or a completion's record) decodes with them all unknown. */
START_TEST(test_frame_without_reasons)
{
    const rules_job_t *job = load(COMBINED);
    engine_t *e = engine_create(job, pool);
    partial_t *a = fed(job, e, 2), *master = partial_create(job, pool);
    frame_header_t h, got;
    abbey_err_t err;
    buf_t f;

    buf_init(&f);
    memset(&h, 0, sizeof h);
    strcpy(h.job, "web");
    h.lines = a->lines;
    h.bad_lines = a->bad_lines; /* bad_by left 0: the layout before reasons */
    ck_assert_int_eq(frame_encode(&h, a, NULL, &f, &err), APR_SUCCESS);
    ck_assert_int_eq(frame_peek(f.data, f.len, &got, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(got.bad_by[PARTIAL_BAD_UNKNOWN], a->bad_lines);
    ck_assert_int_eq(frame_decode(f.data, f.len, job, NULL, master, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(master->bad_lines, a->bad_lines);
    ck_assert_uint_eq(master->bad_by[PARTIAL_BAD_UNKNOWN], a->bad_lines);
    ck_assert_uint_eq(reasons_sum(master), master->bad_lines);
    buf_free(&f);
}
END_TEST

static Suite *reasons_suite(void)
{
    Suite *s = suite_create("reasons");
    TCase *tc = tcase_create("reasons");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_engine_reasons);
    tcase_add_test(tc, test_engine_value_reason);
    tcase_add_test(tc, test_reason_names);
    tcase_add_test(tc, test_through_frames);
    tcase_add_test(tc, test_frame_without_reasons);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(reasons_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
