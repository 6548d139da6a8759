/* fixture_merger.h - the shared fixture of the merger suites (tests/check_merger.c,
 * tests/check_merger_export.c, tests/check_merger_reload.c, tests/check_merger_persist.c,
 * tests/check_merger_persist_state.c): the two-master config RULES (job "web", three
 * groups), two synthetic logs with their line offsets, frames built the way a slave builds
 * them (engine_feed, then frame_encode with the groups of the addressed master), and small
 * file, status and HTTP helpers. Suites that define FIXTURE_MERGER_RECOUNT also get the
 * independent recount of selected lines, deliveries, export-file checks and a feeder
 * thread; those that define FIXTURE_MERGER_PERSIST the frames FR and a merger's life with a
 * journal (start, crash, checkpoint) and snapshots of its state. A suite may define
 * FIXTURE_MERGER_RULES (a config text with job "web" and the same groups and reports) to
 * run with other round, reset or timezone settings.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name: the tmpdir prefix) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_MERGER_H
#define ABBEY_TESTS_FIXTURE_MERGER_H

#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>

#include "engine.h"
#include "frame.h"
#include "journal.h"
#include "merger.h"
#include "rules.h"

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_merger.h"
#endif

#ifdef FIXTURE_MERGER_RULES /* a suite's own config, with the same masters, job and groups */
static const char *RULES = FIXTURE_MERGER_RULES;
#else
static const char *RULES = "masters:\n"
                           "  - {name: m1, url: \"http://127.0.0.1:1\", weight: 2}\n"
                           "  - {name: m2, url: \"http://127.0.0.1:2\", weight: 1}\n"
                           "jobs:\n"
                           "  - name: web\n"
                           "    round: 10s\n"
                           "    reset: hour\n"
                           "    sources: [/dev/null]\n"
                           "    format: {split: \" \", fields: [user, api, status:int, ms:int]}\n"
                           "    groups:\n"
                           "      - name: traffic\n"
                           "        weight: 3\n"
                           "        entries:\n"
                           "          - name: by_api\n"
                           "            key: [api]\n"
                           "            values: {hits: count, ms: sum(ms)}\n"
                           "      - name: users\n"
                           "        entries:\n"
                           "          - name: by_user\n"
                           "            key: [user]\n"
                           "            values: {hits: count, worst: max(ms)}\n"
                           "      - name: errors\n"
                           "        entries:\n"
                           "          - name: by_status\n"
                           "            key: [status]\n"
                           "            values: {hits: count}\n"
                           "    reports:\n"
                           "      - {name: api, entry: by_api, order: hits desc}\n"
                           "      - {name: api_round, entry: by_api, scope: round}\n"
                           "      - {name: users, entry: by_user, format: json}\n"
                           "      - {name: status, entry: by_status}\n";
#endif

#define NLINES 600
#define NAPI 5
#define ROUND_MS 10000
/* 1760000400 s is a whole hour (2025-10-09T09:00:00Z): round H0 starts hour H;
 * H0 + 360 the next hour */
#define H0 176000040ULL

static const char *SRC[2] = {"/var/log/a.log#2049:11:0", "/var/log/b.log#2049:12:0"};

static apr_pool_t *pool;
static rules_config_t *cfg;
static const rules_job_t *job;
static engine_t *eng;
static char *text[2];
static uint64_t off[2][NLINES + 1]; /* byte offset of each line, and the end */
static char dir[64];                /* the test's tmpdir */

/* ---- the logs ------------------------------------------------------------- */

static inline int bad_line(int s, int i)
{
    return (i + s) % 23 == 0;
}

static inline int line_api(int s, int i)
{
    return (i * 3 + s) % NAPI;
}

static inline int line_ms(int s, int i)
{
    return (i * 37 + s * 11) % 1000;
}

/* text[s] and off[s]: NLINES lines "u<n> /a<api> <status> <ms>", some garbage. */
static inline void make_text(int s)
{
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < NLINES; i++) {
        off[s][i] = b.len;
        if (bad_line(s, i))
            buf_printf(&b, "garbage line %d\n", i);
        else
            buf_printf(&b, "u%d /a%d %d %d\n", (i * 7 + s) % 13, line_api(s, i),
                       i % 9 == 0 ? 500 : 200, line_ms(s, i));
    }
    off[s][NLINES] = b.len;
    buf_put_u8(&b, 0);
    text[s] = (char *)b.data;
}

/* ---- frames --------------------------------------------------------------- */

static inline int master_index(const char *name)
{
    return rules_find_master(cfg, name)->index;
}

/* A frame for lines [l0, l1) of source s in round r, addressed to master,
 * carrying the groups that master owns (groups_all: every group). */
static inline void frame_for(const char *master, int s, int l0, int l1, uint64_t r, int groups_all,
                             buf_t *out)
{
    partial_t *p = partial_create(job, pool);
    frame_header_t h;
    uint8_t mask[8];
    abbey_err_t err;
    int mi = master_index(master);

    ck_assert_int_eq(
        engine_feed(eng, text[s] + off[s][l0], off[s][l1] - off[s][l0], off[s][l0], p, NULL, NULL),
        APR_SUCCESS);
    memset(&h, 0, sizeof h);
    h.config_hash = cfg->hash;
    h.round = r;
    h.lease = 7;
    h.start = off[s][l0];
    h.end = off[s][l1];
    frame_header_counts(&h, p);
    strcpy(h.job, job->name);
    strcpy(h.source, SRC[s]);
    strcpy(h.slave, "s1");
    strcpy(h.master, master);
    for (int g = 0; g < job->ngroups; g++)
        mask[g] = job->groups[g].master == mi;
    ck_assert_int_eq(frame_encode(&h, p, groups_all ? NULL : mask, out, &err), APR_SUCCESS);
    partial_destroy(p);
}

/* The range of lines [l0, l1) of source s, as merger_round_closed takes it. */
static inline merger_range_t range_of(int s, int l0, int l1)
{
    return (merger_range_t){SRC[s], off[s][l0], off[s][l1]};
}

/* Round r of "web" closed with ranges[0..n) covered. */
static inline void close_round(merger_t *m, uint64_t r, int64_t deadline_ms, merger_range_t *ranges,
                               int n)
{
    merger_round_t rd = {.round = r,
                         .start_ms = (int64_t)r * ROUND_MS,
                         .deadline_ms = deadline_ms,
                         .nranges = (size_t)n,
                         .ranges = ranges};
    merger_round_closed(m, "web", &rd);
}

/* ---- files, status, reports --------------------------------------------- */

/* The bytes of path, NUL-terminated (free them); NULL when it cannot be opened. */
static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    buf_t b;
    char tmp[4096];
    size_t n;
    if (!f)
        return NULL;
    buf_init(&b);
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_put(&b, tmp, n);
    fclose(f);
    buf_put_u8(&b, 0);
    return (char *)b.data;
}

static inline int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Report name of job web in format (NULL: its own), which must answer 200 (free it). */
static inline char *report(merger_t *m, const char *name, const char *format)
{
    buf_t b;
    buf_init(&b);
    ck_assert_int_eq(merger_report(m, "web", name, format, &b), 200);
    buf_put_u8(&b, 0);
    return (char *)b.data;
}

/* merger_status_json, parsed (json_decref it). */
static inline json_t *status(merger_t *m)
{
    buf_t b;
    json_t *o;
    json_error_t e;
    buf_init(&b);
    merger_status_json(m, &b);
    o = json_loadb((const char *)b.data, b.len, 0, &e);
    ck_assert_msg(o != NULL, "status is not JSON: %s", e.text);
    buf_free(&b);
    return o;
}

/* ---- HTTP over loopback (token "sekrit") ---------------------------------- */

typedef struct http_ans_t {
    long status;
    buf_t body;
} http_ans_t;

static inline size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    buf_put(arg, p, size * n);
    return size * n;
}

/* method path on port (body for a POST); the answer into ans; 0, or -1 when
 * curl fails. */
static inline int http_call(int port, const char *method, const char *path, const void *body,
                            size_t len, http_ans_t *ans)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hs = NULL;
    char url[256];
    CURLcode rc;

    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    hs = curl_slist_append(hs, "Authorization: Bearer sekrit");
    hs = curl_slist_append(hs, "Content-Type: application/octet-stream");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans->body);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    buf_reset(&ans->body);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
    buf_put_u8(&ans->body, 0);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

/* ---- fixture ---------------------------------------------------------------- */

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

/* The pool, cfg/job/eng over RULES, both logs, and /tmp/FIXTURE_SUITE.XXXXXX in dir. */
static inline void setup(void)
{
    abbey_err_t err;
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_msg(rules_load_buffer(RULES, strlen(RULES), "merger.yaml", pool, &cfg, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    job = rules_find_job(cfg, "web");
    eng = engine_create(job, pool);
    make_text(0);
    make_text(1);
    strcpy(dir, "/tmp/" FIXTURE_SUITE ".XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(text[0]);
    free(text[1]);
    apr_pool_destroy(pool);
}

/* ---- a frame's lines ------------------------------------------------------- */

/* lines [l0, l1) of source s, in round r (check_merger.c, the persistence suites) */
typedef struct fr_t {
    int s, l0, l1;
    uint64_t r;
} fr_t;

/* ==== the recount (FIXTURE_MERGER_RECOUNT: tests/check_merger.c, check_merger_export.c,
 * check_merger_reload.c): the reports over selected lines worked out independently, frames
 * delivered, export files and reports checked. ==== */
#ifdef FIXTURE_MERGER_RECOUNT

#include <stdarg.h>
#include <time.h>

#include <apr_thread_proc.h>

#include "export.h"

/* ---- the independent recount ------------------------------------------- */

/* Lines [l0, l1) of source s, as selected by a test. */
typedef struct sel_t {
    int s, l0, l1;
} sel_t;

typedef struct api_row_t {
    int api;
    long hits, ms;
} api_row_t;

static inline int api_row_cmp(const void *a, const void *b)
{
    const api_row_t *x = a, *y = b;
    if (x->hits != y->hits)
        return x->hits > y->hits ? -1 : 1;
    return x->api - y->api;
}

/* The `api` report (order hits desc) over the selected lines, as CSV. */
static inline char *oracle_api_csv(const sel_t *sel, int n)
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
static inline char *oracle_render(const char *name, const sel_t *sel, int n)
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

/* ---- frames --------------------------------------------------------------- */

static inline merge_result_t deliver(merger_t *m, const char *master, int s, int l0, int l1,
                                     uint64_t r)
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

static inline const char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline const char *path_of(const char *fmt, ...)
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
static inline const char *stamp(int64_t ms)
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

static inline const char *round_dir(uint64_t r)
{
    return stamp((int64_t)r * ROUND_MS);
}

static inline void assert_file(const char *path, const char *want)
{
    char *got = slurp(path);
    ck_assert_msg(got != NULL, "missing %s", path);
    ck_assert_msg(strcmp(got, want) == 0, "%s:\n%s\nwanted:\n%s", path, got, want);
    free(got);
}

static inline void assert_report(merger_t *m, const char *name, const char *want)
{
    char *got = report(m, name, NULL);
    ck_assert_msg(strcmp(got, want) == 0, "report %s:\n%s\nwanted:\n%s", name, got, want);
    free(got);
}

static inline void assert_api(merger_t *m, const sel_t *sel, int n)
{
    char *want = oracle_api_csv(sel, n);
    assert_report(m, "api", want);
    free(want);
}

static inline json_int_t job_figure(json_t *st, const char *section, const char *name)
{
    json_t *j = json_array_get(json_object_get(st, "jobs"), 0);
    if (section)
        j = json_object_get(j, section);
    return json_integer_value(json_object_get(j, name));
}

static inline void round_closed(merger_t *m, uint64_t r, const sel_t *sel, int n,
                                int64_t deadline_ms)
{
    merger_range_t ranges[16];
    for (int i = 0; i < n; i++)
        ranges[i] = range_of(sel[i].s, sel[i].l0, sel[i].l1);
    close_round(m, r, deadline_ms, ranges, n);
}

/* ---- a merger, and HTTP ------------------------------------------------- */

static inline merger_t *new_merger(const char *self)
{
    merger_t *m = merger_create(cfg, self, dir, pool);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* method path on port, which must get an answer (see http_call). */
static inline void http(int port, const char *method, const char *path, const void *body,
                        size_t len, http_ans_t *ans)
{
    ck_assert_int_eq(http_call(port, method, path, body, len, ans), 0);
}

/* ---- frames fed from a thread ------------------------------------------- */

typedef struct feeder_t {
    merger_t *m;
    buf_t *frames;
    int n;
    unsigned seed;
    int counts[4];
} feeder_t;

static inline void *APR_THREAD_FUNC feed_thread(apr_thread_t *th, void *arg)
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

#endif /* FIXTURE_MERGER_RECOUNT */

/* ==== the merger's durability (FIXTURE_MERGER_PERSIST: tests/check_merger_persist.c,
 * tests/check_merger_persist_state.c): the frames FR, a merger's life with a journal in
 * dir (start, crash, checkpoint) and snapshots of its state. ==== */
#ifdef FIXTURE_MERGER_PERSIST

/* The frames most tests send, over two rounds, two periods and two sources. */
static const fr_t FR[] = {{0, 0, 100, H0},         {1, 0, 80, H0},         {0, 100, 200, H0 + 1},
                          {1, 80, 160, H0 + 1},    {0, 200, 300, H0 + 2},  {1, 160, 300, H0 + 2},
                          {0, 300, 450, H0 + 360}, {1, 300, 400, H0 + 361}};
#define NFR ((int)(sizeof FR / sizeof FR[0]))

static char exp_dir[128], jdir[128], logpath[128]; /* under dir */

/* ---- FR's frames -------------------------------------------------------- */

/* The frame of f addressed to master, with the groups master owns. */
static inline void frame_of(const fr_t *f, const char *master, buf_t *out)
{
    frame_for(master, f->s, f->l0, f->l1, f->r, 0, out);
}

static inline merge_result_t send_fr(merger_t *m, const fr_t *f, abbey_err_t *err)
{
    buf_t b;
    merge_result_t r;
    buf_init(&b);
    frame_of(f, "m1", &b);
    err->msg[0] = 0;
    r = merger_accept(m, b.data, b.len, NULL, err);
    buf_free(&b);
    return r;
}

/* Send f; the result must be want. */
static inline void expect_send(merger_t *m, const fr_t *f, merge_result_t want)
{
    abbey_err_t err;
    merge_result_t r = send_fr(m, f, &err);
    ck_assert_msg(r == want, "frame %d [%d, %d) round %llu: %s, wanted %s (%s)", f->s, f->l0, f->l1,
                  (unsigned long long)f->r, merger_result_name(r), merger_result_name(want),
                  err.msg);
}

/* ---- state snapshots ------------------------------------------------------ */

static inline json_t *job_status(json_t *st)
{
    return json_array_get(json_object_get(st, "jobs"), 0);
}

static inline json_int_t figure(merger_t *m, const char *section, const char *name)
{
    json_t *st = status(m), *j = job_status(st);
    json_int_t v;
    if (section)
        j = json_object_get(j, section);
    ck_assert_msg(json_is_integer(json_object_get(j, name)), "status has no %s", name);
    v = json_integer_value(json_object_get(j, name));
    json_decref(st);
    return v;
}

/* Every owned report and the status JSON (keys sorted; counting_since_ms
 * left out unless with_since). */
static inline char *snapshot(merger_t *m, int with_since)
{
    static const char *names[] = {"api", "api_round", "users"};
    json_t *st = status(m);
    char *s, *js;
    buf_t b;

    buf_init(&b);
    for (int i = 0; i < 3; i++) {
        char *r = report(m, names[i], NULL);
        buf_printf(&b, "== %s\n%s\n", names[i], r);
        free(r);
    }
    if (!with_since)
        json_object_del(job_status(st), "counting_since_ms");
    for (size_t e = 0; e < json_array_size(json_object_get(job_status(st), "entries")); e++)
        json_object_del(json_array_get(json_object_get(job_status(st), "entries"), e),
                        "bytes"); /* memory, not a figure: tables' slot arrays differ */
    json_object_del(job_status(st), "memory"); /* the same: bytes, and the budget's clock */
    json_object_del(st, "memory");
    js = json_dumps(st, JSON_SORT_KEYS | JSON_INDENT(1));
    buf_printf(&b, "== status\n%s\n", js);
    free(js);
    json_decref(st);
    buf_put_u8(&b, 0);
    s = (char *)b.data;
    return s;
}

static inline void assert_same(const char *got, const char *want, const char *what)
{
    ck_assert_msg(strcmp(got, want) == 0, "%s differs:\n%s\n---- wanted:\n%s", what, got, want);
}

/* ---- the merger's life: start (recover, attach), crash ------------------ */

typedef struct life_t {
    apr_pool_t *pool;
    merger_t *m;
    journal_t *jn;
    char *log; /* what recovery logged */
} life_t;

static int saved_stderr = -1;

static inline void capture_begin(void)
{
    int fd;
    fflush(stderr);
    saved_stderr = dup(2);
    fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
}

static inline char *capture_end(void)
{
    char *s;
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    s = slurp(logpath);
    ck_assert_ptr_nonnull(s);
    fputs(s, stderr); /* still visible in the test's output */
    return s;
}

/* A merger for m1 over conf with a memory budget of limit bytes and no
 * allowance (0: none; set before recovery, as cluster.c does), recovered from
 * jdir, the journal attached. */
static inline void start_limit(life_t *l, const rules_config_t *conf, uint64_t limit)
{
    abbey_err_t err;
    apr_status_t rv;

    memset(l, 0, sizeof *l);
    ck_assert_int_eq(apr_pool_create(&l->pool, pool), APR_SUCCESS);
    l->m = merger_create(conf, "m1", exp_dir, l->pool);
    ck_assert_ptr_nonnull(l->m);
    if (limit)
        merger_set_budget(l->m, limit, 0);
    ck_assert_msg(journal_open(jdir, "merger", JOURNAL_FSYNC_BATCH, l->pool, &l->jn, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    capture_begin();
    rv = merger_recover(l->m, l->jn, &err);
    l->log = capture_end();
    ck_assert_msg(rv == APR_SUCCESS, "recover: %s", err.msg);
    merger_attach_journal(l->m, l->jn);
}

/* The same without a budget. */
static inline void start_conf(life_t *l, const rules_config_t *conf)
{
    start_limit(l, conf, 0);
}

static inline void start(life_t *l)
{
    start_conf(l, cfg);
}

/* Gone without a checkpoint or any other shutdown step. */
static inline void crash(life_t *l)
{
    journal_close(l->jn);
    apr_pool_destroy(l->pool);
    free(l->log);
    memset(l, 0, sizeof *l);
}

static inline void checkpoint(life_t *l)
{
    abbey_err_t err;
    ck_assert_msg(merger_checkpoint(l->m, l->jn, &err) == APR_SUCCESS, "checkpoint: %s", err.msg);
}

static inline void assert_log(const life_t *l, const char *needle)
{
    ck_assert_msg(strstr(l->log, needle) != NULL, "recovery log lacks \"%s\":\n%s", needle, l->log);
}

/* ---- their fixture ---------------------------------------------------------- */

/* setup, and the export, journal and captured-stderr paths under dir. */
static inline void persist_setup(void)
{
    setup();
    snprintf(exp_dir, sizeof exp_dir, "%s/export", dir);
    snprintf(jdir, sizeof jdir, "%s/journal", dir);
    snprintf(logpath, sizeof logpath, "%s/stderr.log", dir);
}

#endif /* FIXTURE_MERGER_PERSIST */

#endif
