/* check_repair.c - unit tests for gap repair on the primary: its repair queue and
 * leases (master/sched_repair.c through scheduler.h: sched_repair, sched_lease,
 * sched_renew, sched_complete) and its HTTP side (sched_http_repair, and the
 * repair lease in sched_http_lease's answer). A master finding its gaps and
 * asking for them is tests/check_repair_gaps.c; the slave's half is
 * tests/check_slave_repair.c. docs/CLUSTER.md "Gap repair".
 *
 * The clock is driven by hand (explicit now_ms, no sleeping); the config is
 * the repair suites' REPAIR_YAML (tests/fixture_sched.h: masters m1 and m2,
 * job "web" over a.log, b.log [rack1] and the glob [rack2]). The oracle is
 * what each test asked for, by hand: the leases granted (kind, range, master,
 * round, expiry), the status JSON's "repairs" figures and committed offsets,
 * and the errors and HTTP answers of what must be refused. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "httpd.h"
#include "rules.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_repair"
#include "fixture_sched.h"

static const char *RACK1[] = {"rack1"};
static const char *RACK2[] = {"rack2"};

static void setup(void)
{
    sched_setup(REPAIR_YAML, "repair.yaml", 1);
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
    return s;
}

int main(void)
{
    return check_run(repair_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
