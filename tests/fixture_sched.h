/* fixture_sched.h - the shared fixture of the scheduler suites (tests/check_sched.c,
 * tests/check_sched_http.c, tests/check_sched_reload.c, tests/check_sched_persist.c,
 * tests/check_sched_persist_store.c, tests/check_repair.c, tests/check_repair_gaps.c): the
 * hand-driven clock (T0, RMS, R0), the sources A, B and G of job "web", the config loaded
 * into cfg, an optional tmpdir, and helpers that lease (as a slave with both labels), find
 * leases, complete them (sched_completion_t with every field absent but those given), read
 * the status JSON and call the HTTP handlers; then the configs of the scheduler suites
 * (SCHED_YAML) and of the repair suites (REPAIR_YAML, with their repair helpers), and, for
 * the suites that define FIXTURE_SCHED_PERSIST, the two-job config and a scheduler with its
 * store.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name: the tmpdir prefix) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_SCHED_H
#define ABBEY_TESTS_FIXTURE_SCHED_H

#include <apr_general.h>
#include <check.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "httpd.h"
#include "rules.h"
#include "scheduler.h"

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_sched.h"
#endif

#define T0 INT64_C(1700000000000) /* a round boundary: T0 / 10000 = 170000000 */
#define RMS INT64_C(10000)
#define R0 (T0 / RMS)
#define A "/var/log/a.log"
#define B "/var/log/b.log"
#define G "/data/app-*.log"

static apr_pool_t *pool;
static rules_config_t *cfg;
static abbey_err_t last_err; /* the error of the last complete() */
static char dir[64];         /* the tmpdir ("" without one) */
static const char *ALL[] = {"rack1", "rack2"};

/* ---- fixture ---- */

/* yaml (called name in messages) compiled in pool; it must load. */
static inline rules_config_t *load_config(const char *yaml, const char *name)
{
    rules_config_t *c;
    abbey_err_t err;
    ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), name, pool, &c, &err) == APR_SUCCESS,
                  "config: %s", err.msg);
    return c;
}

/* APR, the pool, cfg from yaml, and with with_dir /tmp/FIXTURE_SUITE.XXXXXX in dir. */
static inline void sched_setup(const char *yaml, const char *name, int with_dir)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    cfg = load_config(yaml, name);
    dir[0] = '\0';
    if (with_dir) {
        strcpy(dir, "/tmp/" FIXTURE_SUITE ".XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
    }
}

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static inline void teardown(void)
{
    if (dir[0])
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
    apr_terminate();
}

/* ---- leases and completions ---- */

/* A scheduler over c: leases of lease_ms, 1000 bytes, deadline 3 rounds. */
static inline sched_t *mk_cfg(const rules_config_t *c, int64_t lease_ms)
{
    sched_opts_t o = {.lease_ms = lease_ms, .lease_bytes = 1000, .deadline_rounds = 3};
    return sched_create(c, &o, pool);
}

static inline sched_t *mk(int64_t lease_ms)
{
    return mk_cfg(cfg, lease_ms);
}

/* Lease for a slave carrying both labels. */
static inline int lease(sched_t *s, const char *slave, int max, int64_t now, sched_lease_t *out)
{
    return sched_lease(s, slave, ALL, 2, max, now, out);
}

static inline const sched_lease_t *find(const sched_lease_t *l, int n, const char *source)
{
    for (int i = 0; i < n; i++)
        if (strcmp(l[i].source, source) == 0)
            return &l[i];
    return NULL;
}

/* A completion of lease id by slave with every optional field absent. */
static inline sched_completion_t completion_of(const char *slave, uint64_t id)
{
    return (sched_completion_t){.slave = slave,
                                .lease = id,
                                .start = -1,
                                .end = -1,
                                .at_end = -1,
                                .size = -1,
                                .lines = -1,
                                .bad_lines = -1,
                                .bytes = -1,
                                .npaths = -1};
}

/* sched_complete of c at now, its error into last_err. */
static inline apr_status_t complete(sched_t *s, const sched_completion_t *c, int64_t now)
{
    abbey_err_clear(&last_err);
    return sched_complete(s, c, now, &last_err);
}

/* A read completion: [start, end) of inst read, at_end, next (or NULL) the
 * next instance, size -1: absent. */
static inline sched_completion_t read_completion(const char *slave, uint64_t id, const char *inst,
                                                 int64_t start, int64_t end, int at_end,
                                                 const char *next, int64_t size)
{
    sched_completion_t c = completion_of(slave, id);
    c.instance = inst;
    c.start = start;
    c.end = end;
    c.at_end = at_end;
    c.next_instance = next;
    c.size = size;
    return c;
}

static inline apr_status_t done_sz(sched_t *s, const char *slave, uint64_t id, const char *inst,
                                   int64_t start, int64_t end, int at_end, const char *next,
                                   int64_t size, int64_t now)
{
    sched_completion_t c = read_completion(slave, id, inst, start, end, at_end, next, size);
    return complete(s, &c, now);
}

static inline apr_status_t done(sched_t *s, const char *slave, uint64_t id, const char *inst,
                                int64_t start, int64_t end, int at_end, const char *next,
                                int64_t now)
{
    return done_sz(s, slave, id, inst, start, end, at_end, next, -1, now);
}

/* A glob lease's completion: the n paths it expanded to. */
static inline apr_status_t expand(sched_t *s, const char *slave, uint64_t id,
                                  const char *const *paths, int n, int64_t now)
{
    sched_completion_t c = completion_of(slave, id);
    c.npaths = n;
    c.paths = paths;
    return complete(s, &c, now);
}

/* sched_status_json at now, parsed (json_decref it). */
static inline json_t *status(sched_t *s, int64_t now)
{
    buf_t st;
    buf_init(&st);
    sched_status_json(s, now, &st);
    json_t *j = json_loadb((const char *)st.data, st.len, 0, NULL);
    buf_free(&st);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* ---- the HTTP handlers, called with fake requests ---- */

typedef void (*handler_fn)(sched_t *, const httpd_req_t *, httpd_resp_t *, int64_t);

/* Call handler h with body (a POST to "/"); returns the status, *out the
 * parsed answer (which must be JSON; json_decref it). */
static inline int call(handler_fn h, sched_t *s, const char *body, int64_t now, json_t **out)
{
    httpd_req_t req = {.method = "POST",
                       .path = "/",
                       .body = (const uint8_t *)body,
                       .body_len = body ? strlen(body) : 0,
                       .pool = pool};
    httpd_resp_t resp = {.status = 200};
    buf_init(&resp.body);
    h(s, &req, &resp, now);
    *out = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
    ck_assert_msg(*out != NULL, "answer is not JSON: %.*s", (int)resp.body.len,
                  (const char *)resp.body.data);
    buf_free(&resp.body);
    return resp.status;
}

/* Expect 400 from h for body, with an error naming word. */
static inline void bad(handler_fn h, sched_t *s, const char *body, const char *word)
{
    json_t *j;
    int st = call(h, s, body, T0, &j);
    ck_assert_msg(st == 400, "%s: status %d", body ? body : "(null)", st);
    const char *e = json_string_value(json_object_get(j, "error"));
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(strstr(e, word) != NULL, "%s: error '%s' lacks %s", body ? body : "(null)", e,
                  word);
    json_decref(j);
}

/* ---- the scheduler suites' config (tests/check_sched.c, check_sched_http.c,
 * check_sched_reload.c) ---- */

/* Job "web", 10 s rounds: A (task 0), B with labels [rack1] (task 1) and the glob G with
 * labels [rack2] (task 2); masters m1 and m2. */
static const char *const SCHED_YAML = "masters:\n"
                                      "  - {name: m1, url: 'http://127.0.0.1:7101', weight: 1}\n"
                                      "  - {name: m2, url: 'http://127.0.0.1:7102', weight: 1}\n"
                                      "jobs:\n"
                                      "  - name: web\n"
                                      "    round: 10s\n"
                                      "    sources:\n"
                                      "      - " A "\n"
                                      "      - {path: " B ", labels: [rack1]}\n"
                                      "      - {path: '" G "', labels: [rack2]}\n"
                                      "    format: combined\n"
                                      "    groups:\n"
                                      "      - name: g\n"
                                      "        entries:\n"
                                      "          - name: e\n"
                                      "            values: {hits: count}\n";

/* ---- gap repair (tests/check_repair.c, tests/check_repair_gaps.c) ---- */

#define IA A "#2049:131:0" /* an instance of a */
#define IB B "#2049:132:0" /* an instance of b */

/* The repair suites' config: masters m1 and m2, job "web" with 10 s rounds over
 * A (task 0), B with labels [rack1] (task 1) and the glob G with labels [rack2]
 * (task 2). */
static const char *const REPAIR_YAML = "masters:\n"
                                       "  - {name: m1, url: 'http://127.0.0.1:7101', weight: 1}\n"
                                       "  - {name: m2, url: 'http://127.0.0.1:7102', weight: 1}\n"
                                       "jobs:\n"
                                       "  - name: web\n"
                                       "    round: 10s\n"
                                       "    sources:\n"
                                       "      - " A "\n"
                                       "      - {path: " B ", labels: [rack1]}\n"
                                       "      - {path: '" G "', labels: [rack2]}\n"
                                       "    format: {split: \" \", fields: [user, api, ms:int]}\n"
                                       "    groups:\n"
                                       "      - name: g\n"
                                       "        entries:\n"
                                       "          - name: e\n"
                                       "            key: [api]\n"
                                       "            values: {hits: count}\n";

/* Complete repair lease id as slave: done (error NULL) or failed. */
static inline apr_status_t repair_done(sched_t *s, const char *slave, uint64_t id,
                                       const char *error, int64_t now)
{
    static const char *const masters[] = {"m2"}, *const results[] = {"ok"};
    sched_completion_t c = completion_of(slave, id);
    c.repair = 1;
    c.error = error;
    if (!error) {
        c.ndeliveries = 1;
        c.delivery_masters = masters;
        c.delivery_results = results;
    }
    return complete(s, &c, now);
}

/* A figure of the status's "repairs" object. */
static inline json_int_t repairs(sched_t *s, int64_t now, const char *name)
{
    json_t *j = status(s, now);
    json_t *v = json_object_get(json_object_get(j, "repairs"), name);
    ck_assert_msg(json_is_integer(v), "status has no repairs.%s", name);
    json_int_t n = json_integer_value(v);
    json_decref(j);
    return n;
}

/* ---- the scheduler's durability (tests/check_sched_persist.c,
 * tests/check_sched_persist_store.c; they define FIXTURE_SCHED_PERSIST) ---- */
#ifdef FIXTURE_SCHED_PERSIST

#include "journal.h"

#define C "/var/log/c.log"
#define P1 "/data/app-1.log"
#define P2 "/data/app-2.log"
#define TEND (T0 + 4 * RMS + 5)

#define MASTERS                                                                                    \
    "masters:\n"                                                                                   \
    "  - {name: m1, url: 'http://127.0.0.1:7101', weight: 1}\n"                                    \
    "  - {name: m2, url: 'http://127.0.0.1:7102', weight: 1}\n"
#define GROUPS                                                                                     \
    "    format: combined\n"                                                                       \
    "    groups:\n"                                                                                \
    "      - name: g\n"                                                                            \
    "        entries:\n"                                                                           \
    "          - name: e\n"                                                                        \
    "            values: {hits: count}\n"
#define WEB                                                                                        \
    "  - name: web\n"                                                                              \
    "    round: 10s\n"                                                                             \
    "    sources:\n"                                                                               \
    "      - " A "\n"                                                                              \
    "      - {path: " B ", labels: [rack1]}\n"                                                     \
    "      - {path: '" G "', labels: [rack2]}\n" GROUPS
#define API                                                                                        \
    "  - name: api\n"                                                                              \
    "    round: 10s\n"                                                                             \
    "    sources:\n"                                                                               \
    "      - " C "\n" GROUPS

static const char *const YAML_BOTH = MASTERS "jobs:\n" WEB API;
static const char *const YAML_WEB = MASTERS "jobs:\n" WEB;

static rules_config_t *cfg_web;

/* Both jobs in cfg (and a tmpdir); web alone in cfg_web. */
static inline void persist_setup(void)
{
    sched_setup(YAML_BOTH, "both.yaml", 1);
    cfg_web = load_config(YAML_WEB, "web.yaml");
}

/* ---- one scheduler with its store ---- */

typedef struct inst_t {
    apr_pool_t *p;
    journal_t *jn;
    sched_t *s;
} inst_t;

/* A scheduler for c in its own pool, recovered from the store in dir at now,
 * with the journal attached. */
static inline void inst_open(inst_t *in, const rules_config_t *c, int64_t now)
{
    abbey_err_t err;
    sched_opts_t o = {.lease_ms = 60000, .lease_bytes = 1000, .deadline_rounds = 3};
    apr_pool_create(&in->p, pool);
    ck_assert_msg(journal_open(dir, "sched", JOURNAL_FSYNC_BATCH, in->p, &in->jn, &err) ==
                      APR_SUCCESS,
                  "journal_open: %s", err.msg);
    in->s = sched_create(c, &o, in->p);
    ck_assert_msg(sched_recover(in->s, in->jn, now, &err) == APR_SUCCESS, "recover: %s", err.msg);
    sched_attach_journal(in->s, in->jn);
}

/* Forget the scheduler as a killed process would: no checkpoint, nothing flushed
 * by the scheduler (the journal's file is closed so the next open may take it). */
static inline void inst_drop(inst_t *in)
{
    journal_close(in->jn);
    apr_pool_destroy(in->p);
    memset(in, 0, sizeof *in);
}

static inline void checkpoint(inst_t *in)
{
    abbey_err_t err;
    ck_assert_msg(sched_checkpoint(in->s, in->jn, &err) == APR_SUCCESS, "checkpoint: %s", err.msg);
}

#define OK(x) ck_assert_msg((x) == APR_SUCCESS, "%s: %s", #x, last_err.msg)

#endif /* FIXTURE_SCHED_PERSIST */

#endif
