/* check_keys_top.c - max_keys and top: in one job (issue 11): the two bounds on an entry's
 * rows side by side. An entry with `max_keys` folds the keys past it into an overflow row
 * and counts its rows' lines (a hidden count when it has no count value); an entry with
 * `top:` keeps a Space-Saving summary instead, with neither (no hidden count, no overflow
 * row, max_keys refused beside it). Both go through the engine, frames from two "slaves"
 * merged at a "master", and every writer: CSV, JSON, Prometheus text, the history database
 * (read back with SQLite's API) and the dashboard's description; and both tables' memory
 * (ptable_bytes) is accounted, the summary's evictions and long keys included.
 *
 * The oracle is counted here from the synthetic log, apart from abbey: per path, its lines,
 * its ms and its users. */
#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "dashboard.h"
#include "engine.h"
#include "export.h"
#include "fixture_keys.h"
#include "fixture_rules.h"
#include "fixture_sqlite.h"
#include "frame.h"
#include "history.h"
#include "partial.h"
#include "ptable_top.h"
#include "value.h"

/* pages: no count value (so a hidden line count), 10 keys at most; heavy: the same values
 * in a top-3 summary of 8 rows ranked by the sum of ms. */
static const char *RULES =
    "jobs:\n"
    "  - name: t\n"
    "    sources: [/dev/null]\n"
    "    format: {split: \" \", fields: [user, path, ms:int]}\n"
    "    groups:\n"
    "      - name: g\n"
    "        entries:\n"
    "          - name: pages\n"
    "            key: [path]\n"
    "            values: {ms: sum(ms), users: distinct(user)}\n"
    "            max_keys: 10\n"
    "          - name: heavy\n"
    "            key: [path]\n"
    "            values: {ms: sum(ms), users: distinct(user)}\n"
    "            top: {k: 3, by: ms, capacity: 8}\n"
    "    reports:\n"
    "      - {name: pages, entry: pages, order: ms desc, limit: 3, metrics: true}\n"
    "      - {name: heavy, entry: heavy, metrics: true}\n"
    "      - {name: pages_js, entry: pages, format: json, limit: 2}\n"
    "      - {name: heavy_js, entry: heavy, format: json}\n";

enum { E_PAGES, E_HEAVY };
enum { R_PAGES, R_HEAVY, R_PAGES_JS, R_HEAVY_JS };
#define NPATH 40
#define NLINES 400
#define HALF 200

/* Line i: path /p<i % 40>, user u<i % 7>; paths 0, 1, 2 weigh 1000, 900, 800 ms a line, the
 * others i % 13. Each half of the log meets the paths in the same order, 0 first. */
typedef struct oracle_t {
    uint64_t lines, ms_total, hits[NPATH], ms[NPATH];
} oracle_t;

static long ms_of(long i)
{
    int p = (int)(i % NPATH);
    return p < 3 ? 1000 - 100 * p : i % 13;
}

/* A partial of the job fed lines [a, b), counted into o. */
static partial_t *fed(const rules_job_t *job, long a, long b, oracle_t *o)
{
    partial_t *p = partial_create(job, pool);
    buf_t buf;
    buf_init(&buf);
    for (long i = a; i < b; i++) {
        buf_printf(&buf, "u%ld /p%ld %ld\n", i % 7, i % NPATH, ms_of(i));
        o->lines++;
        o->hits[i % NPATH]++;
        o->ms[i % NPATH] += (uint64_t)ms_of(i);
        o->ms_total += (uint64_t)ms_of(i);
    }
    ck_assert_int_eq(
        engine_feed(engine_create(job, pool), (const char *)buf.data, buf.len, 0, p, NULL, NULL),
        APR_SUCCESS);
    buf_free(&buf);
    return p;
}

static void encode(const partial_t *p, buf_t *out)
{
    frame_header_t h;
    abbey_err_t err;
    memset(&h, 0, sizeof h);
    h.end = 1;
    strcpy(h.job, "t");
    strcpy(h.source, "s#1");
    frame_header_counts(&h, p);
    ck_assert_msg(frame_encode(&h, p, NULL, out, &err) == APR_SUCCESS, "%s", err.msg);
}

/* The master's totals: the two halves of the log, each a slave's frame. */
static partial_t *master(const rules_job_t *job, oracle_t *o)
{
    partial_t *m = partial_create(job, pool);
    abbey_err_t err;
    buf_t f;
    buf_init(&f);
    for (int s = 0; s < 2; s++) {
        buf_reset(&f);
        encode(fed(job, s * HALF, (s + 1) * HALF, o), &f);
        ck_assert_msg(frame_decode(f.data, f.len, job, NULL, m, NULL, &err) == APR_SUCCESS, "%s",
                      err.msg);
    }
    buf_free(&f);
    return m;
}

/* Figure of state st (of spec s) as an integer. */
static uint64_t figure(const agg_spec_t *s, const void *st)
{
    agg_result_t r;
    agg_result(s, st, &r);
    return strtoull(r.text, NULL, 10);
}

/* Report r of the job over m as its writer renders it (NUL-terminated in b). */
static const char *render(const rules_job_t *job, const partial_t *m, int r, buf_t *b)
{
    buf_reset(b);
    export_render(job, &job->reports[r], m->tables[job->reports[r].entry->index], b, pool);
    buf_put_u8(b, 0);
    return (const char *)b->data;
}

/* ---- the rules ---------------------------------------------------------- */

START_TEST(test_rules)
{
    const rules_job_t *j = &load_ok(RULES)->jobs[0];
    const rules_entry_t *pages = j->entries[E_PAGES], *heavy = j->entries[E_HEAVY];

    /* pages: its values and the hidden count; 10 rows at most */
    ck_assert_int_eq(pages->nspecs, 3);
    ck_assert_int_eq(pages->lines_spec, 2);
    ck_assert_uint_eq(pages->max_keys, 10);
    ck_assert_uint_eq(rules_entry_max_rows(pages), 10);
    /* heavy: its values only, no key limit; its summary's 8 rows bound it */
    ck_assert_int_eq(heavy->nspecs, 2);
    ck_assert_int_eq(heavy->lines_spec, -1);
    ck_assert_uint_eq(heavy->max_keys, 0);
    ck_assert_uint_eq(rules_entry_max_rows(heavy), 8);
    ck_assert_int_eq(rules_entry_ncols(heavy), 4);
    ck_assert_str_eq(rules_col_name(heavy, 3), "ms_error");
    /* a top entry with a count keeps it as a value, still no hidden count */
    heavy = load_ok("jobs:\n  - name: t\n    sources: [/dev/null]\n"
                    "    format: {split: \" \", fields: [path]}\n"
                    "    groups:\n      - name: g\n        entries:\n"
                    "          - {name: e, key: [path], values: {n: count}, top: {k: 1, by: n}}\n")
                ->jobs[0]
                .entries[0];
    ck_assert_int_eq(heavy->nspecs, 1);
    ck_assert_uint_eq(rules_entry_max_rows(heavy), 64);
}
END_TEST

/* max_keys beside top: is refused where it is written, whichever comes first. */
START_TEST(test_rules_top_with_max_keys)
{
#define ENTRY_RULES(entry)                                                                         \
    "jobs:\n  - name: t\n    sources: [/dev/null]\n"                                               \
    "    format: {split: \" \", fields: [path, ms:int]}\n"                                         \
    "    groups:\n      - name: g\n        entries:\n" entry
    expect_error(ENTRY_RULES("          - name: top_pages\n"
                             "            key: [path]\n"
                             "            values: {bytes: sum(ms)}\n"
                             "            top: {k: 100, by: bytes}\n"
                             "            max_keys: 5000\n"),
                 "bad.yaml:12:23: ", "entry 'top_pages'", "max_keys does not apply",
                 "keeps at most 1600 rows", "set top: capacity", NULL);
    expect_error(ENTRY_RULES("          - {name: e, key: [path], values: {n: count}, max_keys: 7, "
                             "top: {k: 2, by: n, capacity: 9}}\n"),
                 "bad.yaml:8:", "entry 'e'", "max_keys does not apply", "at most 9 rows", NULL);
#undef ENTRY_RULES
}
END_TEST

/* ---- tables ------------------------------------------------------------- */

/* pages at the master: the first 10 paths of each half (the same), exact; the other 30
 * folded; every line and every ms counted once across the rows. */
static void check_pages(const ptable_t *t, const oracle_t *o)
{
    size_t cur = 0;
    uint64_t ms = 0, lines = 0, folded = 0;
    const ptable_row_t *row;

    ck_assert_uint_eq(ptable_count(t), 10);
    while ((row = ptable_next(t, &cur)) != NULL) {
        int p = row_path(row);
        ck_assert_int_lt(p, 10);
        ck_assert_uint_eq(fig(t, row, 0), o->ms[p]);
        ck_assert_uint_eq(fig(t, row, 2), o->hits[p]); /* the hidden count */
        ms += fig(t, row, 0);
        lines += fig(t, row, 2);
    }
    for (int p = 10; p < NPATH; p++)
        folded += o->hits[p];
    ck_assert_ptr_nonnull(ptable_overflow(t));
    ck_assert_uint_eq(ptable_folded_lines(t), folded);
    ck_assert_uint_eq(ptable_folded_keys(t), NPATH - 10);
    ck_assert_uint_eq(lines + ptable_folded_lines(t), o->lines);
    ck_assert_uint_eq(ms + fig(t, ptable_overflow(t), 0), o->ms_total);
    assert_heap_walk(t);
}

/* heavy at the master: at most 8 rows, no overflow row; each row's true ms within
 * [ms - error, ms]; the floor at most N / 8, every path above it kept. */
static void check_heavy(const ptable_t *t, const oracle_t *o)
{
    const agg_spec_t *s = &ptable_specs(t)[0];
    uint64_t floor = figure(s, ptable_top_floor(t));
    uint8_t kept[NPATH] = {0};
    size_t cur = 0;
    const ptable_row_t *row;

    ck_assert_uint_eq(ptable_top_m(t), 8);
    ck_assert_uint_le(ptable_count(t), 8);
    ck_assert_ptr_null(ptable_overflow(t));
    ck_assert_uint_eq(ptable_folded_lines(t), 0);
    ck_assert_uint_le(floor * 8, o->ms_total);
    while ((row = ptable_next(t, &cur)) != NULL) {
        int p = row_path(row);
        uint64_t v = fig(t, row, 0), e = figure(s, ptable_top_error(t, row));
        ck_assert_msg(v - e <= o->ms[p] && o->ms[p] <= v, "/p%d: %llu not in [%llu, %llu]", p,
                      (unsigned long long)o->ms[p], (unsigned long long)(v - e),
                      (unsigned long long)v);
        ck_assert_uint_le(e, floor);
        kept[p] = 1;
    }
    for (int p = 0; p < NPATH; p++)
        ck_assert_msg(kept[p] || o->ms[p] <= floor, "/p%d (%llu ms) above the floor %llu, lost", p,
                      (unsigned long long)o->ms[p], (unsigned long long)floor);
    assert_heap_walk(t);
}

/* Frames from two slaves merged at a master, and the same lines merged in one process. */
START_TEST(test_tables)
{
    const rules_job_t *j = &load_ok(RULES)->jobs[0];
    oracle_t o = {0}, o2 = {0};
    partial_t *m = master(j, &o), *w = fed(j, 0, HALF, &o2);

    check_pages(m->tables[E_PAGES], &o);
    check_heavy(m->tables[E_HEAVY], &o);
    ck_assert_int_eq(partial_merge(w, fed(j, HALF, NLINES, &o2), NULL), APR_SUCCESS);
    check_pages(w->tables[E_PAGES], &o2);
    check_heavy(w->tables[E_HEAVY], &o2);
}
END_TEST

/* An overflow row for the top entry (the pages's renamed) is refused, in either version; the
 * master unchanged. */
START_TEST(test_frame_overflow_of_top)
{
    const rules_job_t *j = &load_ok(RULES)->jobs[0];
    oracle_t o = {0};
    partial_t *q = partial_create(j, pool), *p = fed(j, 0, HALF, &o);
    buf_t f, raw;
    abbey_err_t err;
    size_t at = 0;

    buf_init(&f);
    buf_init(&raw);
    for (int version = 2; version >= 1; version--) {
        buf_reset(&f);
        encode(p, &f);
        if (version == 1)
            frame_as_v1(&f, p);
        frame_payload(&f, &raw);
        at = 0;
        /* the overflow rows: a count of 1 (pages's alone), then its name */
        for (size_t k = 0; k + 7 <= raw.len; k++)
            if (raw.data[k] == 1 && raw.data[k + 1] == 5 &&
                memcmp(raw.data + k + 2, "pages", 5) == 0)
                at = k;
        ck_assert_uint_gt(at, 0);
        memcpy(raw.data + at + 2, "heavy", 5);
        frame_reframe(&f, &raw);
        ck_assert_int_eq(frame_decode(f.data, f.len, j, NULL, q, NULL, &err), APR_EINVAL);
        ck_assert_msg(strstr(err.msg, "overflow row of entry 'heavy', which keeps a top-K summary"),
                      "%s", err.msg);
        ck_assert_uint_eq(ptable_count(q->tables[E_HEAVY]), 0);
        ck_assert_ptr_null(ptable_overflow(q->tables[E_HEAVY]));
        ck_assert_int_eq(partial_is_empty(q), 1);
    }
    buf_free(&f);
    buf_free(&raw);
}
END_TEST

/* Row a of t and row b of u: every state, and a summary row's error, the same bytes (agg_encode
 * is canonical). */
static void assert_same_row(const ptable_t *t, const ptable_row_t *a, const ptable_t *u,
                            const ptable_row_t *b)
{
    buf_t x, y;
    buf_init(&x);
    buf_init(&y);
    ck_assert_int_eq(ptable_nspecs(t), ptable_nspecs(u));
    for (int v = 0; v < ptable_nspecs(t); v++) {
        agg_encode(&ptable_specs(t)[v], a->state + ptable_offset(t, v), &x);
        agg_encode(&ptable_specs(u)[v], b->state + ptable_offset(u, v), &y);
    }
    if (ptable_top_m(t)) {
        agg_encode(&ptable_specs(t)[0], ptable_top_error(t, a), &x);
        agg_encode(&ptable_specs(u)[0], ptable_top_error(u, b), &y);
    }
    ck_assert_uint_eq(x.len, y.len);
    ck_assert(memcmp(x.data, y.data, x.len) == 0);
    buf_free(&x);
    buf_free(&y);
}

/* t and u hold the same rows by key, the same summary (m, floor, errors) and the same overflow
 * row and folded keys; with bytes, the same ptable_bytes too. */
static void assert_same_table(const ptable_t *t, const ptable_t *u, int bytes)
{
    size_t cur = 0;
    const ptable_row_t *row;
    buf_t x, y;

    ck_assert_uint_eq(ptable_count(t), ptable_count(u));
    while ((row = ptable_next(t, &cur)) != NULL) {
        const ptable_row_t *other = ptable_find(u, row->key, row->klen, row->hash);
        ck_assert_ptr_nonnull(other);
        assert_same_row(t, row, u, other);
    }
    ck_assert_uint_eq(ptable_top_m(t), ptable_top_m(u));
    buf_init(&x);
    buf_init(&y);
    if (ptable_top_m(t)) {
        agg_encode(&ptable_specs(t)[0], ptable_top_floor(t), &x);
        agg_encode(&ptable_specs(u)[0], ptable_top_floor(u), &y);
    }
    ck_assert_int_eq(!ptable_overflow(t), !ptable_overflow(u));
    if (ptable_overflow(t)) {
        assert_same_row(t, ptable_overflow(t), u, ptable_overflow(u));
        agg_encode(ptable_folded_spec(), ptable_folded_state(t), &x);
        agg_encode(ptable_folded_spec(), ptable_folded_state(u), &y);
    }
    ck_assert_uint_eq(x.len, y.len);
    ck_assert(memcmp(x.data, y.data, x.len) == 0);
    if (bytes)
        ck_assert_uint_eq(ptable_bytes(t), ptable_bytes(u));
    buf_free(&x);
    buf_free(&y);
}

/* A partial with a summary that evicted (a floor, errors) and an overflow row: its version 2
 * frame decodes to what its version 1 frame decodes to, and to the partial's own rows, both
 * straight into an empty partial (memory accounted alike) and merged into one holding rows. */
START_TEST(test_v2_as_v1)
{
    const rules_job_t *j = &load_ok(RULES)->jobs[0];
    oracle_t o = {0}, o2 = {0};
    partial_t *p = fed(j, 0, NLINES, &o);
    partial_t *q1 = partial_create(j, pool), *q2 = partial_create(j, pool);
    partial_t *m1 = fed(j, 0, HALF, &o2), *m2 = fed(j, 0, HALF, &o2);
    buf_t f1, f2;
    abbey_err_t err;

    ck_assert_ptr_nonnull(ptable_overflow(p->tables[E_PAGES]));
    ck_assert_uint_gt(figure(&j->entries[E_HEAVY]->specs[0], ptable_top_floor(p->tables[E_HEAVY])),
                      0);
    buf_init(&f1);
    buf_init(&f2);
    encode(p, &f2);
    ck_assert_uint_eq(f2.data[4], 2);
    buf_put(&f1, f2.data, f2.len);
    frame_as_v1(&f1, p);
    ck_assert_uint_eq(f1.data[4], 1);
    ck_assert_msg(frame_decode(f1.data, f1.len, j, NULL, q1, NULL, &err) == APR_SUCCESS, "%s",
                  err.msg);
    ck_assert_msg(frame_decode(f2.data, f2.len, j, NULL, q2, NULL, &err) == APR_SUCCESS, "%s",
                  err.msg);
    ck_assert_uint_eq(q2->lines, NLINES);
    ck_assert_msg(frame_decode(f1.data, f1.len, j, NULL, m1, NULL, &err) == APR_SUCCESS, "%s",
                  err.msg);
    ck_assert_msg(frame_decode(f2.data, f2.len, j, NULL, m2, NULL, &err) == APR_SUCCESS, "%s",
                  err.msg);
    for (int e = 0; e < j->nentries; e++) {
        assert_same_table(q1->tables[e], q2->tables[e], 1);
        assert_same_table(p->tables[e], q2->tables[e], 0);
        assert_same_table(m1->tables[e], m2->tables[e], 1);
        assert_heap_walk(q2->tables[e]);
        assert_heap_walk(m2->tables[e]);
    }
    check_pages(q2->tables[E_PAGES], &o);
    check_heavy(q2->tables[E_HEAVY], &o);
    buf_free(&f1);
    buf_free(&f2);
}
END_TEST

/* ---- the writers -------------------------------------------------------- */

/* CSV and JSON: pages with its overflow columns and row, heavy with its error column. */
START_TEST(test_csv_json)
{
    const rules_job_t *j = &load_ok(RULES)->jobs[0];
    oracle_t o = {0};
    partial_t *m = master(j, &o);
    const ptable_t *t = m->tables[E_PAGES];
    char want[512];
    json_t *js, *rows;
    json_error_t jerr;
    buf_t b;

    buf_init(&b);
    /* pages: its 3 heaviest kept paths (0, 1, 2), then the overflow row */
    snprintf(want, sizeof want,
             "path,ms,users,_overflow,_folded_lines,_folded_keys\r\n"
             "/p0,%llu,7,0,,\r\n/p1,%llu,7,0,,\r\n/p2,%llu,7,0,,\r\n,%llu,7,1,300,30\r\n",
             (unsigned long long)o.ms[0], (unsigned long long)o.ms[1], (unsigned long long)o.ms[2],
             (unsigned long long)fig(t, ptable_overflow(t), 0));
    ck_assert_str_eq(render(j, m, R_PAGES, &b), want);
    /* heavy: the same three by ms, each seen from the start of each half: errors 0 */
    snprintf(want, sizeof want,
             "path,ms,users,ms_error\r\n/p0,%llu,7,0\r\n/p1,%llu,7,0\r\n"
             "/p2,%llu,7,0\r\n",
             (unsigned long long)o.ms[0], (unsigned long long)o.ms[1], (unsigned long long)o.ms[2]);
    ck_assert_str_eq(render(j, m, R_HEAVY, &b), want);
    /* JSON: folded lines and keys and the overflow row for pages; none for heavy */
    js = json_loads(render(j, m, R_PAGES_JS, &b), 0, &jerr);
    ck_assert_msg(js, "%s", jerr.text);
    ck_assert_int_eq(json_integer_value(json_object_get(js, "folded_lines")), 300);
    rows = json_object_get(js, "rows");
    ck_assert_int_eq(json_array_size(rows), 3);
    ck_assert(json_is_true(json_object_get(json_array_get(rows, 2), "_overflow")));
    ck_assert(json_is_null(json_object_get(json_array_get(rows, 2), "path")));
    json_decref(js);
    js = json_loads(render(j, m, R_HEAVY_JS, &b), 0, &jerr);
    ck_assert_msg(js, "%s", jerr.text);
    ck_assert_ptr_null(json_object_get(js, "folded_lines"));
    rows = json_object_get(js, "rows");
    ck_assert_int_eq(json_array_size(rows), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *row = json_array_get(rows, i);
        ck_assert_int_eq(json_integer_value(json_object_get(row, "ms")), (json_int_t)o.ms[i]);
        ck_assert_int_eq(json_integer_value(json_object_get(row, "ms_error")), 0);
        ck_assert_ptr_null(json_object_get(row, "_overflow"));
    }
    json_decref(js);
    buf_free(&b);
}
END_TEST

/* Prometheus text: heavy's error column a gauge of its own; pages's overflow row no series. */
START_TEST(test_prometheus)
{
    const rules_job_t *j = &load_ok(RULES)->jobs[0];
    oracle_t o = {0};
    partial_t *m = master(j, &o);
    const rules_report_t *r;
    char want[160];
    buf_t b;

    buf_init(&b);
    r = &j->reports[R_HEAVY];
    export_prom(r, export_rows(r, m->tables[E_HEAVY], pool), &b, pool);
    buf_put_u8(&b, 0);
    ck_assert_ptr_nonnull(strstr((char *)b.data, "# TYPE abbey_report_t_heavy_ms_error gauge\n"));
    for (int p = 0; p < 3; p++) {
        snprintf(want, sizeof want, "abbey_report_t_heavy_ms_error{path=\"/p%d\"} 0\n", p);
        ck_assert_msg(strstr((char *)b.data, want), "no '%s' in\n%s", want, b.data);
    }
    ck_assert_ptr_null(strstr((char *)b.data, "_overflow"));
    buf_reset(&b);
    r = &j->reports[R_PAGES];
    export_prom(r, export_rows(r, m->tables[E_PAGES], pool), &b, pool);
    buf_put_u8(&b, 0);
    snprintf(want, sizeof want, "abbey_report_t_pages_ms_total{path=\"/p0\"} %llu\n",
             (unsigned long long)o.ms[0]);
    ck_assert_msg(strstr((char *)b.data, want), "no '%s' in\n%s", want, b.data);
    ck_assert_ptr_null(strstr((char *)b.data, "path=\"\"")); /* no series for the overflow row */
    ck_assert_ptr_null(strstr((char *)b.data, "_error"));
    buf_free(&b);
}
END_TEST

/* The history database: heavy's table has the error column; pages's has the kept rows only. */
START_TEST(test_history)
{
    const rules_job_t *j = &load_ok(RULES)->jobs[0];
    oracle_t o = {0};
    partial_t *m = master(j, &o);
    history_batch_t *hb = history_batch_create(0, 1000, 0, 0);
    char dir[] = "/tmp/abbey-keys-top-XXXXXX", path[64], want[256];
    history_t *h;
    abbey_err_t err;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/h.sqlite", dir);
    ck_assert_msg(history_open(path, pool, &h, &err) == APR_SUCCESS, "%s", err.msg);
    for (int i = 0; i < j->nreports; i++) {
        const rules_report_t *r = &j->reports[i];
        history_batch_add(hb, j, r, export_rows(r, m->tables[r->entry->index], pool));
    }
    ck_assert_msg(history_write(h, hb, 1000, 0, &err) == APR_SUCCESS, "%s", err.msg);
    history_batch_free(hb);
    history_close(h);
    snprintf(want, sizeof want, "[/p0]|%llu|7|0\n[/p1]|%llu|7|0\n[/p2]|%llu|7|0\n",
             (unsigned long long)o.ms[0], (unsigned long long)o.ms[1], (unsigned long long)o.ms[2]);
    ck_assert_str_eq(sqlite_rows(path,
                                 "SELECT path, ms, users, ms_error FROM \"t/heavy\" ORDER BY ms "
                                 "DESC"),
                     want);
    ck_assert_str_eq(sqlite_rows(path, "SELECT count(*), count(path) FROM \"t/pages\""), "3|3\n");
    ck_assert_str_eq(sqlite_rows(path,
                                 "SELECT count(*) FROM pragma_table_info('t/pages') WHERE name "
                                 "LIKE '%error' OR name LIKE '\\_%' ESCAPE '\\'"),
                     "0\n");
    snprintf(want, sizeof want, "rm -rf %s", dir);
    ck_assert_int_eq(system(want), 0);
}
END_TEST

/* The dashboard describes heavy's error column, and pages as the columns it has. */
START_TEST(test_dashboard)
{
    rules_config_t *c = load_ok(RULES);
    json_t *d = dashboard_describe(c, NULL, "standalone", NULL);
    json_t *reps = json_object_get(json_array_get(json_object_get(d, "jobs"), 0), "reports");
    json_t *pages = json_object_get(json_array_get(reps, R_PAGES), "columns");
    json_t *heavy = json_object_get(json_array_get(reps, R_HEAVY), "columns");

    ck_assert_int_eq(json_array_size(pages), 3);
    ck_assert_int_eq(json_array_size(heavy), 4);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(heavy, 3), "agg")), "error");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(heavy, 3), "of")), "ms");
    json_decref(d);
}
END_TEST

/* ---- memory ------------------------------------------------------------- */

static ptable_row_t *upsert(ptable_t *t, const char *key, buf_t *k)
{
    value_t v = {.kind = VALUE_STR, .s = key, .len = strlen(key)};
    buf_reset(k);
    value_key_put(k, &v);
    return ptable_upsert(t, k->data, (uint32_t)k->len, value_hash_bytes(k->data, k->len));
}

/* One line of weight 1 into row (its count), re-placed in the summary. */
static void add_line(ptable_t *t, ptable_row_t *row)
{
    ck_assert_int_eq(agg_update(&ptable_specs(t)[0], row->state + ptable_offset(t, 0), NULL), 0);
    ptable_top_touch(t, row);
}

/* A summary's bytes: an evicted row's heap parts given back, a long key's buffer counted,
 * everything but the heap array given back by a clear. */
START_TEST(test_top_bytes)
{
    static const agg_spec_t specs[2] = {{.kind = AGG_COUNT}, {.kind = AGG_DISTINCT}};
    ptable_t *t = ptable_create_top(specs, 2, 0, 2, pool);
    size_t empty = ptable_bytes(t), before;
    char long_key[301];
    ptable_row_t *a, *b;
    buf_t k;

    (void)agg_heap_take(); /* nothing of another test's */
    buf_init(&k);
    a = upsert(t, "/a", &k);
    add_line(t, a);
    for (int i = 0; i < 2000; i++) { /* a dense HyperLogLog: 16 KiB, told to the table */
        value_t v = {.kind = VALUE_INT, .i = i};
        agg_update(&specs[1], a->state + ptable_offset(t, 1), &v);
    }
    ptable_heap_add(t, agg_heap_take());
    b = upsert(t, "/b", &k);
    add_line(t, b);
    add_line(t, b);
    ck_assert_uint_eq(ptable_heap(t), 16384 + AGG_HEAP_OVERHEAD);
    ck_assert_uint_ge(ptable_bytes(t), empty + 16384 + 2 * sizeof(ptable_row_t));
    /* a 300-byte key takes /a's row (the smallest): its registers go, its key buffer comes */
    before = ptable_bytes(t);
    memset(long_key, 'x', 300);
    long_key[300] = '\0';
    ck_assert_ptr_eq(upsert(t, long_key, &k), a);
    ck_assert_uint_eq(ptable_count(t), 2);
    assert_heap_walk(t);
    ck_assert_uint_eq(ptable_heap(t), 0);
    ck_assert_uint_ge(ptable_bytes(t) + 16384, before + 300);
    ck_assert_uint_lt(ptable_bytes(t) + 16384, before + 300 + 256);
    /* cleared: rows and key buffers given back, the heap array (a few slots) kept */
    ptable_clear(t);
    ck_assert_uint_ge(ptable_bytes(t), empty);
    ck_assert_uint_lt(ptable_bytes(t), empty + 300);
    buf_free(&k);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("keys_top");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rules);
    tcase_add_test(tc, test_rules_top_with_max_keys);
    tcase_add_test(tc, test_tables);
    tcase_add_test(tc, test_frame_overflow_of_top);
    tcase_add_test(tc, test_v2_as_v1);
    tcase_add_test(tc, test_csv_json);
    tcase_add_test(tc, test_prometheus);
    tcase_add_test(tc, test_history);
    tcase_add_test(tc, test_dashboard);
    tcase_add_test(tc, test_top_bytes);
    suite_add_tcase(s, tc);
    return check_run(s) ? 1 : 0;
}
