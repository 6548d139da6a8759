/* check_repair.c - unit tests for gap repair on the master side: the primary's
 * repair queue and leases (master/sched_repair.c through scheduler.h and its
 * HTTP handlers), a master finding what closed rounds list but it never merged
 * (merger_gaps, master/merger_gaps.c) and asking for it (gap_repair_tick,
 * master/gap_repair.c). docs/CLUSTER.md "Gap repair".
 *
 * The clock is driven by hand (explicit now_ms, no sleeping). The config: job
 * "web", 10 s rounds, sources /var/log/a.log (task 0), /var/log/b.log with
 * labels [rack1] (task 1) and the glob /data/app-*.log with labels [rack2]
 * (task 2); masters m1 and m2. Frames for the merger are empty (no rows):
 * only their byte ranges matter here. The slave's half is
 * tests/check_slave_repair.c. The scheduler helpers are tests/fixture_sched.h. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "frame.h"
#include "hclient.h"
#include "httpd.h"
#include "merger.h"
#include "partial.h"
#include "gap_repair.h"
#include "rules.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_repair"
#include "fixture_sched.h"

#define IA A "#2049:131:0" /* an instance of a */
#define IB B "#2049:132:0" /* an instance of b */

static const char *YAML = "masters:\n"
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

static const char *RACK1[] = {"rack1"};
static const char *RACK2[] = {"rack2"};

static void setup(void)
{
    sched_setup(YAML, "repair.yaml", 1);
}

/* ---- scheduler helpers ---- */

static apr_status_t ask(sched_t *s, const char *job, const char *master, const char *source,
                        uint64_t start, uint64_t end, int64_t round)
{
    abbey_err_clear(&last_err);
    return sched_repair(s, job, master, source, start, end, round, &last_err);
}

/* The first repair lease among n, or NULL. */
static const sched_lease_t *repair_of(const sched_lease_t *l, int n)
{
    for (int i = 0; i < n; i++)
        if (l[i].kind == SCHED_REPAIR)
            return &l[i];
    return NULL;
}

static const sched_lease_t *read_of(const sched_lease_t *l, int n, const char *source)
{
    for (int i = 0; i < n; i++)
        if (l[i].kind == SCHED_READ && strcmp(l[i].source, source) == 0)
            return &l[i];
    return NULL;
}

/* Complete repair lease id as slave: done (error NULL) or failed. */
static apr_status_t repair_done(sched_t *s, const char *slave, uint64_t id, const char *error,
                                int64_t now)
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
static json_int_t repairs(sched_t *s, int64_t now, const char *name)
{
    json_t *j = status(s, now);
    json_t *v = json_object_get(json_object_get(j, "repairs"), name);
    ck_assert_msg(json_is_integer(v), "status has no repairs.%s", name);
    json_int_t n = json_integer_value(v);
    json_decref(j);
    return n;
}

/* The committed offset of task of job web, from the status. */
static json_int_t offset_of(sched_t *s, int64_t now, int task)
{
    json_t *j = status(s, now);
    json_t *src = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "sources"), (size_t)task);
    ck_assert_ptr_nonnull(src);
    json_int_t n = json_integer_value(json_object_get(src, "offset"));
    json_decref(j);
    return n;
}

static void assert_err_has(const char *word)
{
    ck_assert_msg(strstr(last_err.msg, word) != NULL, "error '%s' lacks '%s'", last_err.msg, word);
}

/* ---- tcase queue ---- */

START_TEST(test_granted_first)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 65536, R0 - 3), APR_SUCCESS);
    /* max 1 at the start of round R0: three read tasks are due, the repair comes first */
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 1, T0, l), 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_str_eq(l[0].job, "web");
    ck_assert_int_eq(l[0].task, 0);
    ck_assert_str_eq(l[0].source, A);
    ck_assert_str_eq(l[0].instance, "2049:131:0");
    ck_assert_uint_eq(l[0].start, 0);
    ck_assert_uint_eq(l[0].end, 65536);
    ck_assert_uint_eq(l[0].cap, 65536);
    ck_assert_str_eq(l[0].master, "m2");
    ck_assert_int_eq(l[0].round, R0 - 3);
    ck_assert_int_eq(l[0].expires_ms, T0 + 5000);
    uint64_t rid = l[0].id;
    ck_assert_uint_ge(rid, 1);
    /* then the read tasks, with other ids; the repair is not granted twice */
    int n = sched_lease(s, "s1", ALL, 2, 8, T0 + 1, l);
    ck_assert_int_eq(n, 3);
    ck_assert_ptr_null(repair_of(l, n));
    for (int i = 0; i < n; i++)
        ck_assert_uint_ne(l[i].id, rid);
    ck_assert_ptr_nonnull(read_of(l, n, A));
    /* a repair asked while the read task of a is leased: still granted at once */
    ck_assert_int_eq(ask(s, "web", "m1", IA, 100, 200, R0 - 2), APR_SUCCESS);
    n = sched_lease(s, "s2", ALL, 2, 8, T0 + 2, l);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_str_eq(l[0].master, "m1");
    ck_assert_uint_eq(l[0].start, 100);
    ck_assert_uint_eq(l[0].end, 200);
    ck_assert_int_eq(l[0].round, R0 - 2);
    ck_assert_int_eq(l[0].task, 0);
}
END_TEST

START_TEST(test_dedup)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 100, R0 - 1), APR_SUCCESS);
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 100, R0 - 1), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, T0, "queued"), 1);
    ck_assert_int_eq(repairs(s, T0, "asked"), 1);
    /* leased: asking again still does not queue it */
    int n = sched_lease(s, "s1", ALL, 2, 8, T0, l);
    const sched_lease_t *r = repair_of(l, n);
    ck_assert_ptr_nonnull(r);
    uint64_t rid = r->id;
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 100, R0), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, T0, "queued"), 0);
    ck_assert_int_eq(repairs(s, T0, "leased"), 1);
    ck_assert_int_eq(repairs(s, T0, "asked"), 1);
    n = sched_lease(s, "s2", ALL, 2, 8, T0 + 1, l);
    ck_assert_ptr_null(repair_of(l, n));
    /* another master, another end, another instance: each a repair of its own */
    ck_assert_int_eq(ask(s, "web", "m1", IA, 0, 100, R0 - 1), APR_SUCCESS);
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 101, R0 - 1), APR_SUCCESS);
    ck_assert_int_eq(ask(s, "web", "m2", A "#2049:131:1", 0, 100, R0 - 1), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, T0 + 1, "queued"), 3);
    ck_assert_int_eq(repairs(s, T0 + 1, "asked"), 4);
    /* once the first has ended, the same range may be asked for again */
    ck_assert_int_eq(repair_done(s, "s1", rid, NULL, T0 + 2), APR_SUCCESS);
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 100, R0 - 1), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, T0 + 2, "queued"), 4);
    ck_assert_int_eq(repairs(s, T0 + 2, "asked"), 5);
}
END_TEST

START_TEST(test_labels)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    ck_assert_int_eq(ask(s, "web", "m2", IB, 10, 20, R0 - 1), APR_SUCCESS);
    /* no labels: only a's read lease; rack2 only: a and the glob */
    int n = sched_lease(s, "s0", NULL, 0, 8, T0, l);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_null(repair_of(l, n));
    n = sched_lease(s, "s2", RACK2, 1, 8, T0, l);
    ck_assert_ptr_null(repair_of(l, n));
    ck_assert_int_eq(repairs(s, T0, "queued"), 1);
    /* rack1: the repair, first */
    n = sched_lease(s, "s1", RACK1, 1, 8, T0 + 1, l);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_str_eq(l[0].source, B);
    ck_assert_int_eq(l[0].task, 1);
    ck_assert_str_eq(l[0].instance, "2049:132:0");
    ck_assert_int_eq(repairs(s, T0 + 1, "queued"), 0);
    ck_assert_int_eq(repairs(s, T0 + 1, "leased"), 1);
}
END_TEST

START_TEST(test_complete)
{
    sched_t *s = mk(60000);
    sched_lease_t l[8];
    /* a's read task commits [0, 100) first */
    int n = sched_lease(s, "s1", ALL, 2, 8, T0, l);
    ck_assert_int_eq(n, 3);
    uint64_t ra = read_of(l, n, A)->id;
    ck_assert_int_eq(done(s, "s1", ra, "2049:131:0", 0, 100, 0, NULL, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(offset_of(s, T0 + 1, 0), 100);

    /* done */
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 50, R0), APR_SUCCESS);
    n = sched_lease(s, "s1", ALL, 2, 1, T0 + 2, l);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    uint64_t r1 = l[0].id;
    ck_assert_int_eq(repair_done(s, "s1", r1, NULL, T0 + 3), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, T0 + 3, "done"), 1);
    ck_assert_int_eq(repairs(s, T0 + 3, "failed"), 0);
    ck_assert_int_eq(repairs(s, T0 + 3, "queued"), 0);
    ck_assert_int_eq(repairs(s, T0 + 3, "leased"), 0);
    /* ended: completing it again is refused */
    ck_assert_int_eq(repair_done(s, "s1", r1, NULL, T0 + 4), APR_EINVAL);
    ck_assert_int_eq(repairs(s, T0 + 4, "done"), 1);

    /* failed */
    ck_assert_int_eq(ask(s, "web", "m2", IA, 50, 100, R0), APR_SUCCESS);
    n = sched_lease(s, "s1", ALL, 2, 1, T0 + 5, l);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_int_eq(
        repair_done(s, "s1", l[0].id, IA " [50, 100) for master m2: file is gone", T0 + 6),
        APR_SUCCESS);
    ck_assert_int_eq(repairs(s, T0 + 6, "failed"), 1);
    ck_assert_int_eq(repairs(s, T0 + 6, "done"), 1);
    ck_assert_int_eq(repairs(s, T0 + 6, "queued"), 0);

    /* refused: another slave's repair lease, an unknown id, a read lease's id,
     * a completion without "repair" for a repair lease */
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 100, R0), APR_SUCCESS);
    n = sched_lease(s, "s1", ALL, 2, 1, T0 + 7, l);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    uint64_t r3 = l[0].id;
    ck_assert_int_eq(repair_done(s, "s2", r3, NULL, T0 + 8), APR_EINVAL);
    assert_err_has("not yours");
    ck_assert_int_eq(repair_done(s, "s1", 999999, NULL, T0 + 8), APR_EINVAL);
    ck_assert_int_eq(done(s, "s1", r3, "2049:131:0", 0, 100, 1, NULL, T0 + 8), APR_EINVAL);
    n = sched_lease(s, "s1", ALL, 2, 8, T0 + 9, l);
    ck_assert_int_eq(n, 1); /* a's read task again (b and the glob are still leased) */
    ck_assert_int_eq(l[0].kind, SCHED_READ);
    ck_assert_uint_eq(l[0].start, 100);
    ra = l[0].id;
    ck_assert_int_eq(repair_done(s, "s1", ra, NULL, T0 + 9), APR_EINVAL);
    ck_assert_int_eq(repairs(s, T0 + 9, "leased"), 1);
    ck_assert_int_eq(repairs(s, T0 + 9, "done"), 1);
    /* still s1's: its own completion ends it */
    ck_assert_int_eq(repair_done(s, "s1", r3, NULL, T0 + 10), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, T0 + 10, "done"), 2);
    /* the read lease survived the bad repair completion; no repair moved the offset */
    ck_assert_int_eq(offset_of(s, T0 + 10, 0), 100);
    ck_assert_int_eq(done(s, "s1", ra, "2049:131:0", 100, 180, 1, NULL, T0 + 11), APR_SUCCESS);
    ck_assert_int_eq(offset_of(s, T0 + 11, 0), 180);
}
END_TEST

START_TEST(test_expire_renew)
{
    sched_t *s = mk(5000);
    sched_lease_t l[8];
    int64_t exp = 0;
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 100, R0 - 1), APR_SUCCESS);
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 1, T0, l), 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    uint64_t id1 = l[0].id;
    ck_assert_int_eq(l[0].expires_ms, T0 + 5000);
    /* renew: extended to now + lease_ms; not by another slave */
    ck_assert_int_eq(sched_renew(s, "s1", id1, T0 + 4000, &exp), APR_SUCCESS);
    ck_assert_int_eq(exp, T0 + 9000);
    ck_assert_int_eq(sched_renew(s, "s2", id1, T0 + 4000, &exp), APR_NOTFOUND);
    /* not expired at T0 + 8000 (it would have been without the renewal) */
    int n = sched_lease(s, "s2", ALL, 2, 8, T0 + 8000, l);
    ck_assert_ptr_null(repair_of(l, n));
    ck_assert_int_eq(repairs(s, T0 + 8000, "leased"), 1);
    /* expired at T0 + 9000: queued again, granted again with a new id */
    ck_assert_int_eq(repairs(s, T0 + 9000, "queued"), 1);
    ck_assert_int_eq(repairs(s, T0 + 9000, "leased"), 0);
    n = sched_lease(s, "s2", ALL, 2, 1, T0 + 9000, l);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    uint64_t id2 = l[0].id;
    ck_assert_uint_ne(id2, id1);
    ck_assert_uint_eq(l[0].start, 0);
    ck_assert_uint_eq(l[0].end, 100);
    ck_assert_str_eq(l[0].master, "m2");
    ck_assert_int_eq(l[0].expires_ms, T0 + 14000);
    /* the expired holder can neither renew nor complete */
    ck_assert_int_eq(sched_renew(s, "s1", id1, T0 + 9001, &exp), APR_NOTFOUND);
    ck_assert_int_eq(repair_done(s, "s1", id1, NULL, T0 + 9001), APR_EINVAL);
    ck_assert_int_eq(sched_renew(s, "s2", id2, T0 + 10000, &exp), APR_SUCCESS);
    ck_assert_int_eq(exp, T0 + 15000);
    ck_assert_int_eq(repair_done(s, "s2", id2, NULL, T0 + 14000), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, T0 + 14000, "done"), 1);
    ck_assert_int_eq(repairs(s, T0 + 14000, "asked"), 1);
}
END_TEST

START_TEST(test_refused)
{
    sched_t *s = mk(60000);
    sched_lease_t l[8];
    ck_assert_int_eq(ask(s, "nope", "m2", IA, 0, 100, R0), APR_NOTFOUND);
    assert_err_has("unknown job 'nope'");
    ck_assert_int_eq(ask(s, "web", "m9", IA, 0, 100, R0), APR_NOTFOUND);
    assert_err_has("unknown master 'm9'");
    ck_assert_int_eq(ask(s, "web", "m2", "/var/log/zzz.log#2049:1:0", 0, 100, R0), APR_NOTFOUND);
    assert_err_has("no source /var/log/zzz.log");
    /* the glob is an expand task: no read task of that path */
    ck_assert_int_eq(ask(s, "web", "m2", G "#2049:1:0", 0, 100, R0), APR_NOTFOUND);
    ck_assert_int_eq(ask(s, "web", "m2", A, 0, 100, R0), APR_BADARG);
    assert_err_has("not \"<path>#<instance>\"");
    ck_assert_int_eq(ask(s, "web", "m2", A "#", 0, 100, R0), APR_BADARG);
    assert_err_has("not \"<path>#<instance>\"");
    ck_assert_int_eq(ask(s, "web", "m2", "#2049:131:0", 0, 100, R0), APR_BADARG);
    ck_assert_int_eq(ask(s, "web", "m2", IA, 100, 100, R0), APR_BADARG);
    assert_err_has("start must be below end");
    ck_assert_int_eq(ask(s, "web", "m2", IA, 200, 100, R0), APR_BADARG);
    assert_err_has("start must be below end");
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, UINT64_MAX, R0), APR_BADARG);
    assert_err_has("end is out of range");
    ck_assert_int_eq(ask(s, NULL, "m2", IA, 0, 100, R0), APR_BADARG);
    assert_err_has("no job");
    ck_assert_int_eq(ask(s, "web", NULL, IA, 0, 100, R0), APR_BADARG);
    assert_err_has("no master");
    ck_assert_int_eq(ask(s, "web", "m2", NULL, 0, 100, R0), APR_BADARG);
    ck_assert_int_eq(repairs(s, T0, "asked"), 0);
    ck_assert_int_eq(repairs(s, T0, "queued"), 0);

    /* a truncated: the task moves from 2049:131:0 to generation 1 */
    int n = sched_lease(s, "s1", ALL, 2, 8, T0, l);
    ck_assert_int_eq(n, 3);
    uint64_t ra = read_of(l, n, A)->id;
    ck_assert_int_eq(done(s, "s1", ra, "2049:131:0", 0, 100, 0, "2049:131:1", T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(ask(s, "web", "m2", IA, 0, 100, R0), APR_NOTFOUND);
    assert_err_has("truncated");
    assert_err_has("2049:131:1");
    /* the current generation, and another file (rotated: another inode), are fine */
    ck_assert_int_eq(ask(s, "web", "m2", A "#2049:131:1", 0, 100, R0), APR_SUCCESS);
    ck_assert_int_eq(ask(s, "web", "m2", A "#2049:777:0", 0, 100, R0), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, T0 + 2, "asked"), 2);
    ck_assert_int_eq(repairs(s, T0 + 2, "queued"), 2);
}
END_TEST

/* ---- tcase http ---- */

/* sched_http_repair as a handler_fn (it takes no clock). */
static void http_repair(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, int64_t now)
{
    (void)now;
    sched_http_repair(s, req, resp);
}

START_TEST(test_http)
{
    sched_t *s = mk(5000);
    json_t *j;
    bad(http_repair, s, NULL, "empty");
    bad(http_repair, s, "{", "malformed");
    bad(http_repair, s, "{\"job\":\"web\",\"ranges\":[]}", "'master'");
    bad(http_repair, s, "{\"master\":\"m2\",\"ranges\":[]}", "'job'");
    bad(http_repair, s, "{\"master\":\"m2\",\"job\":\"web\"}", "'ranges'");
    bad(http_repair, s, "{\"master\":\"m2\",\"job\":\"web\",\"ranges\":{}}", "'ranges'");
    ck_assert_int_eq(repairs(s, T0, "asked"), 0);

    /* one good range, one with start >= end, one without a round */
    const char *body =
        apr_psprintf(pool,
                     "{\"master\":\"m2\",\"job\":\"web\",\"ranges\":["
                     "{\"source\":\"" IA "\",\"start\":0,\"end\":65536,\"round\":%" PRId64 "},"
                     "{\"source\":\"" IA "\",\"start\":500,\"end\":400,\"round\":1},"
                     "{\"source\":\"" IA "\",\"start\":0,\"end\":10}]}",
                     R0);
    ck_assert_int_eq(call(http_repair, s, body, T0, &j), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "queued")), 1);
    json_t *refused = json_object_get(j, "refused");
    ck_assert_int_eq(json_array_size(refused), 2);
    json_t *r0 = json_array_get(refused, 0);
    ck_assert_str_eq(json_string_value(json_object_get(r0, "source")), IA);
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "start")), 500);
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "end")), 400);
    ck_assert_msg(
        strstr(json_string_value(json_object_get(r0, "error")), "start must be below end"),
        "refusal does not say why: %s", json_string_value(json_object_get(r0, "error")));
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(json_array_get(refused, 1), "error")), "round"));
    json_decref(j);
    ck_assert_int_eq(repairs(s, T0, "queued"), 1);

    /* a negative end: refused (not read as 2^64 - 1) */
    ck_assert_int_eq(call(http_repair, s,
                          "{\"master\":\"m2\",\"job\":\"web\",\"ranges\":[{\"source\":\"" IA
                          "\",\"start\":0,\"end\":-1,\"round\":1}]}",
                          T0, &j),
                     200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "queued")), 0);
    ck_assert_int_eq(json_array_size(json_object_get(j, "refused")), 1);
    json_decref(j);

    /* an unknown master: 200, every range refused */
    ck_assert_int_eq(call(http_repair, s,
                          "{\"master\":\"m9\",\"job\":\"web\",\"ranges\":[{\"source\":\"" IA
                          "\",\"start\":0,\"end\":5,\"round\":1}]}",
                          T0, &j),
                     200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "queued")), 0);
    ck_assert_int_eq(json_array_size(json_object_get(j, "refused")), 1);
    json_decref(j);

    /* the lease answer for the repair: kind, end, master */
    ck_assert_int_eq(
        call(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":1}", T0 + 1, &j), 200);
    json_t *ls = json_object_get(j, "leases");
    ck_assert_int_eq(json_array_size(ls), 1);
    json_t *l = json_array_get(ls, 0);
    ck_assert_str_eq(json_string_value(json_object_get(l, "kind")), "repair");
    ck_assert_str_eq(json_string_value(json_object_get(l, "job")), "web");
    ck_assert_str_eq(json_string_value(json_object_get(l, "source")), A);
    ck_assert_str_eq(json_string_value(json_object_get(l, "instance")), "2049:131:0");
    ck_assert_int_eq(json_integer_value(json_object_get(l, "task")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "start")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "end")), 65536);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "cap")), 65536);
    ck_assert_int_eq(json_integer_value(json_object_get(l, "round")), R0);
    ck_assert_str_eq(json_string_value(json_object_get(l, "master")), "m2");
    ck_assert_int_eq(json_integer_value(json_object_get(l, "expires_ms")), T0 + 1 + 5000);
    json_decref(j);
    /* a read lease's answer has neither end nor master */
    ck_assert_int_eq(
        call(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":1}", T0 + 2, &j), 200);
    l = json_array_get(json_object_get(j, "leases"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(l, "kind")), "read");
    ck_assert_ptr_null(json_object_get(l, "end"));
    ck_assert_ptr_null(json_object_get(l, "master"));
    json_decref(j);
}
END_TEST

/* ---- merger side: frames, closed rounds, gaps ---- */

/* An empty frame (no rows) of [start, end) of source in round r, for master. */
static merge_result_t deliver(merger_t *m, const char *master, const char *source, uint64_t start,
                              uint64_t end, uint64_t r)
{
    const rules_job_t *job = rules_find_job(cfg, "web");
    partial_t *p = partial_create(job, pool);
    frame_header_t h;
    uint8_t none[8] = {0};
    buf_t b;
    abbey_err_t err;
    memset(&h, 0, sizeof h);
    h.config_hash = cfg->hash;
    h.round = r;
    h.lease = 7;
    h.start = start;
    h.end = end;
    snprintf(h.job, sizeof h.job, "web");
    snprintf(h.source, sizeof h.source, "%s", source);
    snprintf(h.slave, sizeof h.slave, "s1");
    snprintf(h.master, sizeof h.master, "%s", master);
    buf_init(&b);
    ck_assert_int_eq(frame_encode(&h, p, none, &b, &err), APR_SUCCESS);
    partial_destroy(p);
    abbey_err_clear(&err);
    merge_result_t res = merger_accept(m, b.data, b.len, NULL, &err);
    ck_assert_msg(res == MERGE_MERGED, "frame [%" PRIu64 ", %" PRIu64 ") not merged: %s (%s)",
                  start, end, merger_result_name(res), err.msg);
    buf_free(&b);
    return res;
}

/* The primary closed round r of web with deadline_ms and these ranges. */
static void closed(merger_t *m, uint64_t r, int64_t deadline_ms, const merger_range_t *ranges,
                   size_t n)
{
    merger_round_t rd = {.round = r,
                         .start_ms = (int64_t)r * RMS,
                         .deadline_ms = deadline_ms,
                         .nranges = n,
                         .ranges = ranges};
    merger_round_closed(m, "web", &rd);
}

#define GAPS_MAX 16
typedef struct gaps_t {
    int n;
    uint64_t round[GAPS_MAX], start[GAPS_MAX], end[GAPS_MAX];
    char source[GAPS_MAX][256];
} gaps_t;

static void on_gap(void *ctx, const merger_gap_t *g)
{
    gaps_t *gs = ctx;
    ck_assert_str_eq(g->job, "web");
    ck_assert_int_lt(gs->n, GAPS_MAX);
    gs->round[gs->n] = g->round;
    gs->start[gs->n] = g->start;
    gs->end[gs->n] = g->end;
    snprintf(gs->source[gs->n], sizeof gs->source[0], "%s", g->source);
    gs->n++;
}

static gaps_t gaps(merger_t *m, int64_t now, int64_t after, int max)
{
    gaps_t g = {0};
    int n = merger_gaps(m, now, after, max, on_gap, &g);
    ck_assert_int_eq(n, g.n);
    return g;
}

static merger_t *new_merger(const char *self)
{
    merger_t *m = merger_create(cfg, self, dir, pool);
    ck_assert_ptr_nonnull(m);
    return m;
}

#define DL (T0 + 3 * RMS) /* round R0's deadline */
#define AFTER INT64_C(60000)

START_TEST(test_gaps)
{
    merger_t *m = new_merger("m1");
    merger_range_t listed[] = {{IA, 0, 100}, {IA, 100, 200}};
    deliver(m, "m1", IA, 0, 100, (uint64_t)R0);
    closed(m, (uint64_t)R0, DL, listed, 2);
    /* not yet deadline + after */
    ck_assert_int_eq(gaps(m, DL + AFTER - 1, AFTER, 16).n, 0);
    ck_assert_int_eq(gaps(m, DL, AFTER, 16).n, 0);
    /* then exactly [100, 200) */
    gaps_t g = gaps(m, DL + AFTER, AFTER, 16);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.round[0], (uint64_t)R0);
    ck_assert_str_eq(g.source[0], IA);
    ck_assert_uint_eq(g.start[0], 100);
    ck_assert_uint_eq(g.end[0], 200);
    ck_assert_int_eq(gaps(m, DL + AFTER, AFTER, 0).n, 0);
    /* part of it arrives: the rest */
    deliver(m, "m1", IA, 100, 150, (uint64_t)R0);
    g = gaps(m, DL + AFTER + 1, AFTER, 16);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.start[0], 150);
    ck_assert_uint_eq(g.end[0], 200);
    /* a round with frames but not closed: nothing from it */
    deliver(m, "m1", IA, 300, 400, (uint64_t)R0 + 1);
    g = gaps(m, DL + 10 * AFTER, AFTER, 16);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.round[0], (uint64_t)R0);
    /* all there: no gap */
    deliver(m, "m1", IA, 150, 200, (uint64_t)R0);
    ck_assert_int_eq(gaps(m, DL + 10 * AFTER, AFTER, 16).n, 0);
}
END_TEST

START_TEST(test_gaps_parts)
{
    merger_t *m = new_merger("m2");
    /* a source never heard of, and a range with two holes */
    merger_range_t listed[] = {{IB, 0, 50}, {IA, 0, 1000}};
    deliver(m, "m2", IA, 100, 200, (uint64_t)R0);
    deliver(m, "m2", IA, 300, 1000, (uint64_t)R0);
    closed(m, (uint64_t)R0, DL, listed, 2);
    /* a later round closed, its deadline not yet past: nothing from it */
    merger_range_t later[] = {{IA, 1000, 2000}};
    closed(m, (uint64_t)R0 + 5, DL + 5 * RMS, later, 1);
    gaps_t g = gaps(m, DL + AFTER, AFTER, 16);
    ck_assert_int_eq(g.n, 3);
    ck_assert_str_eq(g.source[0], IB);
    ck_assert_uint_eq(g.start[0], 0);
    ck_assert_uint_eq(g.end[0], 50);
    ck_assert_str_eq(g.source[1], IA);
    ck_assert_uint_eq(g.start[1], 0);
    ck_assert_uint_eq(g.end[1], 100);
    ck_assert_uint_eq(g.start[2], 200);
    ck_assert_uint_eq(g.end[2], 300);
    /* max caps the count */
    g = gaps(m, DL + AFTER, AFTER, 2);
    ck_assert_int_eq(g.n, 2);
    ck_assert_uint_eq(g.end[1], 100);
    /* once the later round's deadline + after passed: its range too */
    g = gaps(m, DL + 5 * RMS + AFTER, AFTER, 16);
    ck_assert_int_eq(g.n, 4);
    ck_assert_uint_eq(g.round[3], (uint64_t)R0 + 5);
    ck_assert_uint_eq(g.start[3], 1000);
    ck_assert_uint_eq(g.end[3], 2000);
}
END_TEST

/* A master that learns of closed rounds long after they closed (it was down,
 * or started with an empty data dir) owes every range it lacks, however many
 * rounds came after: more than it keeps round partials for. */
START_TEST(test_gaps_old_rounds)
{
    merger_t *m = new_merger("m1");
    const uint64_t n = MERGER_KEEP_ROUNDS + 40;
    /* frames of the newest rounds arrive first (slaves deliver live data) */
    for (uint64_t i = n - 5; i < n; i++)
        deliver(m, "m1", IA, 100 * i, 100 * (i + 1), (uint64_t)R0 + i);
    /* then the primary's closed rounds, oldest first: each lists [100 i, 100 (i + 1)) */
    for (uint64_t i = 0; i < n; i++) {
        merger_range_t listed[] = {{IA, 100 * i, 100 * (i + 1)}};
        closed(m, (uint64_t)R0 + i, DL + (int64_t)i * RMS, listed, 1);
    }
    /* every range it never got is a gap, the oldest first, with its own round */
    gaps_t g = gaps(m, DL + (int64_t)n * RMS + AFTER, AFTER, GAPS_MAX);
    ck_assert_int_eq(g.n, GAPS_MAX);
    for (int k = 0; k < GAPS_MAX; k++) {
        ck_assert_uint_eq(g.round[k], (uint64_t)R0 + (uint64_t)k);
        ck_assert_uint_eq(g.start[k], 100 * (uint64_t)k);
        ck_assert_uint_eq(g.end[k], 100 * (uint64_t)k + 100);
    }
    /* the first 60 arrive (repaired): the next ones are asked for, and none of the merged */
    for (uint64_t i = 0; i < 60; i++)
        deliver(m, "m1", IA, 100 * i, 100 * (i + 1), (uint64_t)R0 + i);
    g = gaps(m, DL + (int64_t)n * RMS + AFTER, AFTER, GAPS_MAX);
    ck_assert_int_eq(g.n, GAPS_MAX);
    ck_assert_uint_eq(g.round[0], (uint64_t)R0 + 60);
    ck_assert_uint_eq(g.start[0], 6000);
    /* a repeat of a closed round adds nothing */
    merger_range_t again[] = {{IA, 0, 100}};
    closed(m, (uint64_t)R0, DL, again, 1);
    g = gaps(m, DL + (int64_t)n * RMS + AFTER, AFTER, GAPS_MAX);
    ck_assert_uint_eq(g.round[0], (uint64_t)R0 + 60);
}
END_TEST

/* ---- gap_repair_tick ---- */

START_TEST(test_repair_tick)
{
    sched_t *s = mk(600000);
    merger_t *m = new_merger("m1");
    sched_lease_t l[8];
    merger_range_t listed[] = {{IA, 0, 100}, {IA, 100, 200}};
    deliver(m, "m1", IA, 0, 100, (uint64_t)R0);
    closed(m, (uint64_t)R0, DL, listed, 2);
    gap_repair_t *rp = gap_repair_create(m, "m1", s, NULL, NULL, AFTER, pool);
    ck_assert_ptr_nonnull(rp);
    int64_t now = DL + AFTER - 1000;
    /* too early: nothing asked */
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 0);
    /* the gap is due: one repair queued, for m1, of the missing range */
    now += REPAIR_CHECK_MS;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 1);
    ck_assert_int_eq(repairs(s, now, "queued"), 1);
    int64_t first = now;
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 1, now, l), 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_str_eq(l[0].master, "m1");
    ck_assert_str_eq(l[0].source, A);
    ck_assert_str_eq(l[0].instance, "2049:131:0");
    ck_assert_uint_eq(l[0].start, 100);
    ck_assert_uint_eq(l[0].end, 200);
    ck_assert_int_eq(l[0].round, R0);
    /* the slave failed it; the gap stays, but within after it is not asked again */
    ck_assert_int_eq(repair_done(s, "s1", l[0].id, "gone", now + 1), APR_SUCCESS);
    ck_assert_int_eq(repairs(s, now + 1, "queued"), 0);
    now += REPAIR_CHECK_MS;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 1);
    ck_assert_int_eq(repairs(s, now, "queued"), 0);
    now = first + AFTER - 1;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 1);
    /* `after` past the last ask (at the next check): asked again */
    now += REPAIR_CHECK_MS;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 2);
    ck_assert_int_eq(repairs(s, now, "queued"), 1);
    /* and again after another `after`, while still queued: the scheduler keeps one */
    now += AFTER;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 2);
    ck_assert_int_eq(repairs(s, now, "queued"), 1);
    /* a repair that ended: asked for again once `after` passed since the last ask */
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 1, now, l), 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_int_eq(repair_done(s, "s1", l[0].id, NULL, now), APR_SUCCESS);
    now += AFTER;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 3);
    ck_assert_int_eq(repairs(s, now, "queued"), 1);
    /* a new gap (round R0 + 1, long past its deadline) waits for the next check */
    merger_range_t next[] = {{IA, 200, 300}};
    closed(m, (uint64_t)R0 + 1, DL + RMS, next, 1);
    gap_repair_tick(rp, now + REPAIR_CHECK_MS - 1);
    ck_assert_int_eq(repairs(s, now, "asked"), 3);
    now += REPAIR_CHECK_MS;
    gap_repair_tick(rp, now);
    ck_assert_int_eq(repairs(s, now, "asked"), 4);
    ck_assert_int_eq(repairs(s, now, "queued"), 2);
    /* both done, and the ranges arrive: no gap, nothing asked any more */
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 2, now, l), 2);
    ck_assert_int_eq(repair_done(s, "s1", l[0].id, NULL, now), APR_SUCCESS);
    ck_assert_int_eq(repair_done(s, "s1", l[1].id, NULL, now), APR_SUCCESS);
    deliver(m, "m1", IA, 100, 300, (uint64_t)R0);
    gap_repair_tick(rp, now + 3 * AFTER);
    ck_assert_int_eq(repairs(s, now + 3 * AFTER, "asked"), 4);
    ck_assert_int_eq(repairs(s, now + 3 * AFTER, "queued"), 0);
}
END_TEST

/* A secondary asks through POST /v1/repair on the primary's server. */
START_TEST(test_repair_tick_http)
{
    sched_t *s = mk(600000);
    merger_t *m = new_merger("m2");
    abbey_err_t err;
    sched_lease_t l[8];
    httpd_t *h = httpd_create("tok", pool);
    sched_register(s, h);
    ck_assert_msg(httpd_start(h, "127.0.0.1", 0, 2, &err) == APR_SUCCESS, "%s", err.msg);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", httpd_port(h));
    hclient_global_init();
    hclient_t *c = hclient_create("tok", 2000, 10000, pool);
    merger_range_t listed[] = {{IB, 0, 100}, {IA, 0, 80}};
    deliver(m, "m2", IA, 0, 80, (uint64_t)R0);
    closed(m, (uint64_t)R0, DL, listed, 2);
    gap_repair_t *rp = gap_repair_create(m, "m2", NULL, c, base, AFTER, pool);
    gap_repair_tick(rp, DL + AFTER);
    ck_assert_int_eq(repairs(s, DL + AFTER, "asked"), 1);
    ck_assert_int_eq(repairs(s, DL + AFTER, "queued"), 1);
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 1, DL + AFTER, l), 1);
    ck_assert_int_eq(l[0].kind, SCHED_REPAIR);
    ck_assert_str_eq(l[0].master, "m2");
    ck_assert_str_eq(l[0].source, B);
    ck_assert_uint_eq(l[0].start, 0);
    ck_assert_uint_eq(l[0].end, 100);
    ck_assert_int_eq(l[0].round, R0);
    httpd_stop(h);
}
END_TEST

static Suite *repair_suite(void)
{
    Suite *s = suite_create("repair");
    TCase *t;

    t = tcase_create("queue");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_granted_first);
    tcase_add_test(t, test_dedup);
    tcase_add_test(t, test_labels);
    tcase_add_test(t, test_complete);
    tcase_add_test(t, test_expire_renew);
    tcase_add_test(t, test_refused);
    suite_add_tcase(s, t);

    t = tcase_create("http");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_http);
    suite_add_tcase(s, t);

    t = tcase_create("gaps");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_gaps);
    tcase_add_test(t, test_gaps_parts);
    tcase_add_test(t, test_gaps_old_rounds);
    suite_add_tcase(s, t);

    t = tcase_create("ask");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_repair_tick);
    tcase_add_test(t, test_repair_tick_http);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_run(repair_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
