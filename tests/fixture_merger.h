/* fixture_merger.h - the shared fixture of the merger suites (tests/check_merger.c,
 * tests/check_merger_persist.c): the two-master config RULES (job "web", three
 * groups), two synthetic logs with their line offsets, frames built the way a
 * slave builds them (engine_feed, then frame_encode with the groups of the
 * addressed master), and small file, status and HTTP helpers.
 *
 * Each suite compiles its own copy (everything here is static); it defines
 * FIXTURE_SUITE (its name: the tmpdir prefix) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_MERGER_H
#define ABBEY_TESTS_FIXTURE_MERGER_H

#include <check.h>
#include <curl/curl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_general.h>

#include "engine.h"
#include "frame.h"
#include "merger.h"
#include "rules.h"

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_merger.h"
#endif

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

static int bad_line(int s, int i)
{
    return (i + s) % 23 == 0;
}

static int line_api(int s, int i)
{
    return (i * 3 + s) % NAPI;
}

static int line_ms(int s, int i)
{
    return (i * 37 + s * 11) % 1000;
}

/* text[s] and off[s]: NLINES lines "u<n> /a<api> <status> <ms>", some garbage. */
static void make_text(int s)
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

static int master_index(const char *name)
{
    return rules_find_master(cfg, name)->index;
}

/* A frame for lines [l0, l1) of source s in round r, addressed to master,
 * carrying the groups that master owns (groups_all: every group). */
static void frame_for(const char *master, int s, int l0, int l1, uint64_t r, int groups_all,
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
    h.lines = p->lines;
    h.bad_lines = p->bad_lines;
    h.bytes = p->bytes;
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
static merger_range_t range_of(int s, int l0, int l1)
{
    return (merger_range_t){SRC[s], off[s][l0], off[s][l1]};
}

/* Round r of "web" closed with ranges[0..n) covered. */
static void close_round(merger_t *m, uint64_t r, int64_t deadline_ms, merger_range_t *ranges, int n)
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
static char *slurp(const char *path)
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

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Report name of job web in format (NULL: its own), which must answer 200 (free it). */
static char *report(merger_t *m, const char *name, const char *format)
{
    buf_t b;
    buf_init(&b);
    ck_assert_int_eq(merger_report(m, "web", name, format, &b), 200);
    buf_put_u8(&b, 0);
    return (char *)b.data;
}

/* merger_status_json, parsed (json_decref it). */
static json_t *status(merger_t *m)
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

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    buf_put(arg, p, size * n);
    return size * n;
}

/* method path on port (body for a POST); the answer into ans; 0, or -1 when
 * curl fails. */
static int http_call(int port, const char *method, const char *path, const void *body, size_t len,
                     http_ans_t *ans)
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

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

/* The pool, cfg/job/eng over RULES, both logs, and /tmp/FIXTURE_SUITE.XXXXXX in dir. */
static void setup(void)
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

static void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(text[0]);
    free(text[1]);
    apr_pool_destroy(pool);
}

#endif
