/* check_sched_reload.c - unit tests for the scheduler adopting a reloaded config
 * (sched_set_config, master/sched_config.c): a new source and new masters, a source removed
 * (at the end or in the middle), jobs added and removed, labels and globs changed, a new
 * round length, and reloads racing leases and completions from another thread. The clock is
 * driven by hand from the SCHED_YAML config (tests/fixture_sched.h); the oracle is the
 * status as "task:source@offset" lists and job lists, and the closed rounds logged, worked
 * out by hand for each reload: committed offsets are kept, removed tasks' leases refused,
 * and new tasks join at the next round. */
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "hclient.h"
#include "httpd.h"
#include "rules.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_sched_reload"
#include "fixture_sched.h"

static void setup(void)
{
    sched_setup(SCHED_YAML, "sched.yaml", 0);
}

/* ---- tcase reload (sched_set_config) ---- */

#define C "/var/log/c.log"
#define M12                                                                                        \
    "masters:\n  - {name: m1, url: 'http://127.0.0.1:7101'}\n"                                     \
    "  - {name: m2, url: 'http://127.0.0.1:7102'}\n"

/* One job in YAML: name, round, source lines ("      - x\n" each). */
static const char *job_y(const char *name, const char *round, const char *sources)
{
    return apr_pstrcat(pool, "  - name: ", name, "\n    round: ", round, "\n    sources:\n",
                       sources,
                       "    format: combined\n    groups:\n      - name: g\n        entries:\n"
                       "          - name: e\n            values: {hits: count}\n",
                       NULL);
}

static rules_config_t *load(const char *masters, const char *jobs)
{
    rules_config_t *c;
    abbey_err_t err;
    const char *y = apr_pstrcat(pool, masters, "jobs:\n", jobs, NULL);
    ck_assert_msg(rules_load_buffer(y, strlen(y), "reload.yaml", pool, &c, &err) == APR_SUCCESS,
                  "config: %s\n%s", err.msg, y);
    return c;
}

/* The status of job as "task:source@offset,..." and its job list as "web,api," */
static const char *st_sources(sched_t *s, int64_t now, const char *job)
{
    json_t *j = status(s, now), *jobs = json_object_get(j, "jobs"), *o;
    const char *out = NULL;
    size_t i;
    json_array_foreach(jobs, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "name")), job) != 0)
            continue;
        json_t *src = json_object_get(o, "sources"), *t;
        size_t k;
        out = "";
        json_array_foreach(src, k, t)
        {
            out = apr_psprintf(pool, "%s%d:%s@%d,", out,
                               (int)json_integer_value(json_object_get(t, "task")),
                               json_string_value(json_object_get(t, "source")),
                               (int)json_integer_value(json_object_get(t, "offset")));
        }
    }
    json_decref(j);
    return out;
}

static const char *st_jobs(sched_t *s, int64_t now)
{
    json_t *j = status(s, now), *o;
    const char *out = "";
    size_t i;
    json_array_foreach(json_object_get(j, "jobs"), i, o)
    {
        out = apr_pstrcat(pool, out, json_string_value(json_object_get(o, "name")), ",", NULL);
    }
    json_decref(j);
    return out;
}

/* Closed rounds of any job: "job round incomplete [ranges]|" */
static void log_round(void *ctx, const char *job, const sched_round_t *r)
{
    const char **log = ctx;
    const char *g = "";
    for (int k = 0; k < r->nranges; k++)
        g = apr_psprintf(pool, "%s%s %d %d;", g, r->ranges[k].source, (int)r->ranges[k].start,
                         (int)r->ranges[k].end);
    *log =
        apr_psprintf(pool, "%s%s %" PRId64 " %d [%s]|", *log, job, r->round - R0, r->incomplete, g);
}

/* (a) the same job plus a new source; masters change too */
START_TEST(test_reload_new_source)
{
    rules_config_t *c1 = load(M12, job_y("web", "10s", "      - " A "\n      - " B "\n"));
    rules_config_t *c2 = load("masters:\n  - {name: m2, url: 'http://127.0.0.1:7102'}\n"
                              "  - {name: m3, url: 'http://127.0.0.1:7103'}\n",
                              job_y("web", "10s", "      - " A "\n      - " B "\n      - " C "\n"));
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 2);
    uint64_t a = find(l, 2, A)->id, b = find(l, 2, B)->id;
    const char *dm[] = {"m1", "m2"}, *dr[] = {"ok", "spooled"};
    sched_completion_t cc = {.slave = "s1",
                             .lease = a,
                             .instance = "ia",
                             .start = 0,
                             .end = 100,
                             .at_end = 0,
                             .size = 400,
                             .lines = 7,
                             .bad_lines = -1,
                             .bytes = -1,
                             .ndeliveries = 2,
                             .delivery_masters = dm,
                             .delivery_results = dr,
                             .npaths = -1};
    ck_assert_int_eq(sched_complete(s, &cc, T0 + 1, NULL), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", b, "ib", 0, 50, 1, NULL, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 2, l), 1); /* a, from 100 */
    a = l[0].id;
    ck_assert_uint_eq(l[0].start, 100);

    sched_set_config(s, c2);
    /* the lease granted before the reload is still good */
    ck_assert_int_eq(done(s, "s1", a, "ia", 100, 300, 1, NULL, T0 + 3), APR_SUCCESS);
    /* R0 closed with its two tasks; c is not due in R0 */
    /* (a's first piece came first; its second one is merged into it) */
    ck_assert_str_eq(log, "web 0 0 [" A "#ia 0 300;" B "#ib 0 50;]|");
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 4, l), 0);
    ck_assert_str_eq(st_sources(s, T0 + 4, "web"), "0:" A "@300,1:" B "@50,2:" C "@0,");
    /* counters, size and deliveries kept: m2 stays (now masters[0]), m1 is gone */
    json_t *j = status(s, T0 + 4);
    json_t *ta = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "sources"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(ta, "lines")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(ta, "size")), 400);
    ck_assert_str_eq(json_string_value(json_object_get(ta, "instance")), "ia");
    json_t *d = json_object_get(ta, "deliveries");
    ck_assert_int_eq(json_object_size(d), 1);
    ck_assert_str_eq(json_string_value(json_object_get(d, "m2")), "spooled");
    json_decref(j);
    /* the next round: old offsets and instances, the new source from 0 */
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + RMS, l), 3);
    ck_assert_uint_eq(find(l, 3, A)->start, 300);
    ck_assert_str_eq(find(l, 3, A)->instance, "ia");
    ck_assert_uint_eq(find(l, 3, B)->start, 50);
    ck_assert_uint_eq(find(l, 3, C)->start, 0);
    ck_assert_str_eq(find(l, 3, C)->instance, "");
    ck_assert_int_eq(find(l, 3, C)->task, 2);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(l[i].round, R0 + 1);
    /* lease answers name the new config */
    json_t *jl;
    ck_assert_int_eq(
        call(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":1}", T0 + RMS, &jl),
        200);
    ck_assert_str_eq(json_string_value(json_object_get(jl, "config")), c2->hash_hex);
    ck_assert_str_ne(c1->hash_hex, c2->hash_hex);
    json_decref(jl);
}
END_TEST

/* (b) sources removed while leased: completions accepted, never leased again, rounds close */
START_TEST(test_reload_source_removed)
{
    rules_config_t *c1 =
        load(M12, job_y("web", "10s", "      - " A "\n      - " B "\n      - " C "\n"));
    rules_config_t *c2 = load(M12, job_y("web", "10s", "      - " B "\n"));
    sched_t *s = mk_cfg(c1, 5000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 3);
    uint64_t a = find(l, 3, A)->id, b = find(l, 3, B)->id, c = find(l, 3, C)->id;
    ck_assert_int_eq(done(s, "s1", b, "ib", 0, 50, 1, NULL, T0 + 1), APR_SUCCESS);
    sched_set_config(s, c2);
    ck_assert_int_eq(sched_lease(s, "s2", NULL, 0, 8, T0 + 2, l), 0);
    /* a's completion (not even at_end) is accepted and listed */
    ck_assert_int_eq(done(s, "s1", a, "ia", 0, 100, 0, NULL, T0 + 3), APR_SUCCESS);
    ck_assert_str_eq(log, ""); /* c still holds its lease */
    ck_assert_int_eq(sched_lease(s, "s2", NULL, 0, 8, T0 + 4, l), 0);
    ck_assert_str_eq(st_sources(s, T0 + 4, "web"), "0:" B "@50,1:" C "@0,");
    /* c's lease expires: c is dropped, it counts as done, R0 closes complete */
    sched_tick(s, T0 + 5000);
    ck_assert_str_eq(log, "web 0 0 [" B "#ib 0 50;" A "#ia 0 100;]|");
    ck_assert_int_eq(done(s, "s1", c, "ic", 0, 10, 1, NULL, T0 + 5001), APR_EINVAL);
    ck_assert_str_eq(st_sources(s, T0 + 5001, "web"), "0:" B "@50,");
    /* from now on only b, renumbered as task 0 */
    ck_assert_int_eq(sched_lease(s, "s2", NULL, 0, 8, T0 + RMS, l), 1);
    ck_assert_str_eq(l[0].source, B);
    ck_assert_int_eq(l[0].task, 0);
    ck_assert_uint_eq(l[0].start, 50);
    ck_assert_int_eq(done(s, "s2", l[0].id, "ib", 50, 60, 1, NULL, T0 + RMS + 1), APR_SUCCESS);
    ck_assert_str_eq(log, "web 0 0 [" B "#ib 0 50;" A "#ia 0 100;]|web 1 0 [" B "#ib 50 60;]|");
    ck_assert_int_eq(sched_lease(s, "s2", NULL, 0, 8, T0 + 2 * RMS, l), 1);
}
END_TEST

/* A removed source that is due and not leased: it counts as done at once. It
 * sits between two others: the open round's pending list shifts. */
START_TEST(test_reload_removed_middle)
{
    rules_config_t *c1 = load(M12, job_y("web", "10s",
                                         "      - " A "\n      - {path: " B ", labels: [rack1]}\n"
                                         "      - " C "\n"));
    rules_config_t *c2 = load(M12, job_y("web", "10s", "      - " A "\n      - " C "\n"));
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 2); /* b needs rack1 */
    uint64_t a = find(l, 2, A)->id, c = find(l, 2, C)->id;
    sched_set_config(s, c2);
    json_t *j = status(s, T0 + 1);
    json_t *o = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "open_rounds"), 0);
    /* due 3, b counted done: pending are a and c as tasks 0 and 1 */
    ck_assert_int_eq(json_integer_value(json_object_get(o, "due")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "done")), 1);
    json_t *p = json_object_get(o, "pending");
    ck_assert_int_eq(json_array_size(p), 2);
    ck_assert_int_eq(json_integer_value(json_array_get(p, 0)), 0);
    ck_assert_int_eq(json_integer_value(json_array_get(p, 1)), 1);
    json_decref(j);
    ck_assert_int_eq(done(s, "s1", c, "ic", 0, 5, 1, NULL, T0 + 2), APR_SUCCESS);
    ck_assert_str_eq(log, "");
    ck_assert_int_eq(done(s, "s1", a, "ia", 0, 7, 1, NULL, T0 + 3), APR_SUCCESS);
    ck_assert_str_eq(log, "web 0 0 [" C "#ic 0 5;" A "#ia 0 7;]|");
}
END_TEST

/* (c) a new job and (d) a job removed */
START_TEST(test_reload_jobs)
{
    const char *web = job_y("web", "10s", "      - " A "\n");
    const char *api = job_y("api", "10s", "      - /var/log/api.log\n      - /var/log/api2.log\n");
    rules_config_t *c1 = load(M12, web);
    rules_config_t *c2 = load(M12, apr_pstrcat(pool, web, api, NULL));
    rules_config_t *c3 = load(M12, web);
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 1);
    uint64_t a = l[0].id;
    ck_assert_int_eq(sched_rounds(s, "api", -1, log_round, &log), -1);
    sched_set_config(s, c2);
    /* (c) api starts as at creation: its tasks are due in the current round */
    ck_assert_str_eq(st_jobs(s, T0 + 5), "web,api,");
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 5, l), 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_str_eq(l[i].job, "api");
        ck_assert_int_eq(l[i].round, R0);
        ck_assert_uint_eq(l[i].start, 0);
    }
    uint64_t x = find(l, 2, "/var/log/api.log")->id, y = find(l, 2, "/var/log/api2.log")->id;
    ck_assert_int_eq(done(s, "s1", x, "x", 0, 9, 1, NULL, T0 + 6), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", a, "ia", 0, 3, 1, NULL, T0 + 6), APR_SUCCESS);
    ck_assert_str_eq(log, "web 0 0 [" A "#ia 0 3;]|");
    ck_assert_int_eq(sched_rounds(s, "api", -1, log_round, &log), 0);
    /* (d) api leaves while api2 holds its lease: listed until that lease ends */
    sched_set_config(s, c3);
    ck_assert_str_eq(st_jobs(s, T0 + 7), "web,api,");
    ck_assert_str_eq(st_sources(s, T0 + 7, "api"), "0:/var/log/api2.log@0,");
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 8, l), 0);
    ck_assert_int_eq(done(s, "s1", y, "y", 0, 4, 0, NULL, T0 + 9), APR_SUCCESS);
    /* its round closed (the dropped task counts as done), then the job left */
    ck_assert_str_eq(log, "web 0 0 [" A "#ia 0 3;]|api 0 0 [/var/log/api.log#x 0 9;"
                          "/var/log/api2.log#y 0 4;]|");
    ck_assert_str_eq(st_jobs(s, T0 + 10), "web,");
    ck_assert_int_eq(sched_rounds(s, "api", -1, log_round, &log), -1);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + RMS, l), 1);
    ck_assert_str_eq(l[0].job, "web");
    buf_t m;
    buf_init(&m);
    sched_metrics(s, &m);
    buf_put_u8(&m, 0);
    ck_assert_ptr_null(strstr((char *)m.data, "api"));
    buf_free(&m);
    /* api comes back: a new job again, from offset 0 */
    sched_set_config(s, c2);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + RMS + 1, l), 2);
    ck_assert_uint_eq(find(l, 2, "/var/log/api.log")->start, 0);
    ck_assert_int_eq(find(l, 2, "/var/log/api.log")->round, R0 + 1);
}
END_TEST

/* A job removed with no lease goes at the next call; its open round is delivered. */
START_TEST(test_reload_job_removed_idle)
{
    const char *web = job_y("web", "10s", "      - " A "\n");
    rules_config_t *c1 =
        load(M12, apr_pstrcat(pool, web, job_y("api", "10s", "      - " C "\n"), NULL));
    rules_config_t *c2 = load(M12, web);
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_on_round_closed(s, log_round, &log);
    sched_tick(s, T0);
    sched_set_config(s, c2);
    sched_tick(s, T0 + 1);
    ck_assert_str_eq(log, "api 0 0 []|");
    ck_assert_str_eq(st_jobs(s, T0 + 2), "web,");
}
END_TEST

/* (e) labels from the new config */
START_TEST(test_reload_labels)
{
    rules_config_t *c1 =
        load(M12, job_y("web", "10s", "      - " A "\n      - {path: " B ", labels: [rack1]}\n"));
    rules_config_t *c2 =
        load(M12, job_y("web", "10s", "      - {path: " A ", labels: [rack2]}\n      - " B "\n"));
    sched_t *s = mk_cfg(c1, 60000);
    sched_lease_t l[8];
    const char *r1[] = {"rack1"}, *r2[] = {"rack2"};
    sched_tick(s, T0);
    sched_set_config(s, c2);
    ck_assert_int_eq(sched_lease(s, "r1", r1, 1, 8, T0 + 1, l), 1);
    ck_assert_str_eq(l[0].source, B);                                   /* no labels now: anyone */
    ck_assert_int_eq(sched_lease(s, "bare", NULL, 0, 8, T0 + 1, l), 0); /* a needs rack2 */
    ck_assert_int_eq(sched_lease(s, "r1", r1, 1, 8, T0 + 1, l), 0);
    ck_assert_int_eq(sched_lease(s, "r2", r2, 1, 8, T0 + 1, l), 1);
    ck_assert_str_eq(l[0].source, A);
}
END_TEST

/* (f) expanded tasks stay while a glob of the job lists them */
START_TEST(test_reload_glob)
{
    const char *gsrc = "      - {path: '" G "', labels: [rack3]}\n";
    rules_config_t *c2 =
        load(M12, job_y("web", "10s", apr_pstrcat(pool, "      - " A "\n", gsrc, NULL)));
    rules_config_t *c3 =
        load(M12, job_y("web", "10s",
                        "      - " A "\n      - {path: '/data/*.log', labels: [rack4]}\n"));
    rules_config_t *c4 = load(M12, job_y("web", "10s", "      - " A "\n"));
    sched_t *s = mk(60000);
    sched_lease_t l[8];
    const char *r3[] = {"rack3"}, *r4[] = {"rack4"};
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    const char *p[] = {"/data/app-1.log", "/data/app-2.log"}, *none[] = {NULL};
    ck_assert_int_eq(expand(s, "s1", find(l, 3, G)->id, p, 2, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, 3, A)->id, "ia", 0, 10, 1, NULL, T0 + 1), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, 3, B)->id, "ib", 0, 20, 1, NULL, T0 + 1), APR_SUCCESS);
    int n = lease(s, "s1", 8, T0 + RMS, l);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(done(s, "s1", find(l, n, p[0])->id, "i1", 0, 100, 1, NULL, T0 + RMS + 1),
                     APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, n, p[1])->id, "i2", 0, 70, 1, NULL, T0 + RMS + 1),
                     APR_SUCCESS);
    ck_assert_int_eq(expand(s, "s1", find(l, n, G)->id, none, 0, T0 + RMS + 1), APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, n, A)->id, "ia", 10, 10, 1, NULL, T0 + RMS + 1),
                     APR_SUCCESS);
    ck_assert_int_eq(done(s, "s1", find(l, n, B)->id, "ib", 20, 20, 1, NULL, T0 + RMS + 1),
                     APR_SUCCESS);
    /* b leaves; the glob stays (labels now rack3): app-1 and app-2 keep their offsets */
    sched_set_config(s, c2);
    ck_assert_str_eq(st_sources(s, T0 + RMS + 2, "web"),
                     "0:" A "@10,1:" G "@0,2:/data/app-1.log@100,3:/data/app-2.log@70,");
    ck_assert_int_eq(lease(s, "s1", 8, T0 + 2 * RMS, l), 1); /* rack1, rack2: only a */
    ck_assert_str_eq(l[0].source, A);
    n = sched_lease(s, "s3", r3, 1, 8, T0 + 2 * RMS, l);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(find(l, n, p[0])->start, 100);
    ck_assert_str_eq(find(l, n, p[0])->instance, "i1");
    ck_assert_uint_eq(find(l, n, p[1])->start, 70);
    ck_assert_ptr_nonnull(find(l, n, G));
    ck_assert_int_eq(done(s, "s3", find(l, n, p[0])->id, "i1", 100, 100, 1, NULL, T0 + 2 * RMS),
                     APR_SUCCESS);
    ck_assert_int_eq(done(s, "s3", find(l, n, p[1])->id, "i2", 70, 70, 1, NULL, T0 + 2 * RMS),
                     APR_SUCCESS);
    ck_assert_int_eq(expand(s, "s3", find(l, n, G)->id, none, 0, T0 + 2 * RMS), APR_SUCCESS);
    /* another pattern that still matches them (as glob(3) would): they stay, with its labels */
    sched_set_config(s, c3);
    ck_assert_str_eq(st_sources(s, T0 + 2 * RMS + 1, "web"),
                     "0:" A "@10,1:/data/app-1.log@100,2:/data/app-2.log@70,3:/data/*.log@0,");
    ck_assert_int_eq(sched_lease(s, "s3", r3, 1, 8, T0 + 3 * RMS, l), 0);
    n = sched_lease(s, "s4", r4, 1, 8, T0 + 3 * RMS, l);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(find(l, n, p[0])->start, 100);
    ck_assert_int_eq(find(l, n, "/data/*.log")->kind, SCHED_EXPAND);
    /* no glob any more: they go once their leases end */
    sched_set_config(s, c4);
    ck_assert_str_eq(st_sources(s, T0 + 3 * RMS + 1, "web"),
                     "0:" A "@10,1:/data/app-1.log@100,2:/data/app-2.log@70,3:/data/*.log@0,");
    ck_assert_int_eq(done(s, "s4", find(l, n, p[0])->id, "i1", 100, 150, 1, NULL, T0 + 3 * RMS + 2),
                     APR_SUCCESS);
    ck_assert_int_eq(done(s, "s4", find(l, n, p[1])->id, "i2", 70, 80, 0, NULL, T0 + 3 * RMS + 2),
                     APR_SUCCESS);
    /* its expand completion is accepted, and adds nothing */
    const char *p3[] = {"/data/app-3.log"};
    ck_assert_int_eq(expand(s, "s4", find(l, n, "/data/*.log")->id, p3, 1, T0 + 3 * RMS + 2),
                     APR_SUCCESS);
    ck_assert_str_eq(st_sources(s, T0 + 3 * RMS + 3, "web"), "0:" A "@10,");
    ck_assert_int_eq(sched_lease(s, "s4", r4, 1, 8, T0 + 4 * RMS, l), 0);
}
END_TEST

/* (g) a round length change applies from the next round */
START_TEST(test_reload_round_length)
{
    rules_config_t *c1 = load(M12, job_y("web", "10s", "      - " A "\n"));
    rules_config_t *c2 = load(M12, job_y("web", "20s", "      - " A "\n"));
    rules_config_t *c3 = load(M12, job_y("web", "5s", "      - " A "\n"));
    sched_t *s = mk_cfg(c1, 60000);
    const char *log = "";
    sched_lease_t l[8];
    sched_on_round_closed(s, log_round, &log);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0, l), 1);
    sched_set_config(s, c2);
    /* R0 keeps its 10 s and its deadline T0 + 30 s */
    json_t *j = status(s, T0 + 1);
    json_t *job = json_array_get(json_object_get(j, "jobs"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(job, "round_ms")), 20000);
    json_t *o = json_array_get(json_object_get(job, "open_rounds"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "deadline_ms")), T0 + 3 * RMS);
    json_decref(j);
    ck_assert_int_eq(done(s, "s1", l[0].id, "ia", 0, 5, 1, NULL, T0 + 2), APR_SUCCESS);
    /* R0 ends at T0 + 10 s; the first 20 s boundary from there is T0 + 20 s
     * (T0 = 85000000 * 20000): nothing is due in between */
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + RMS, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 19999, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 20000, l), 1);
    int64_t r20 = INT64_C(85000001);
    ck_assert_int_eq(l[0].round, r20);
    ck_assert_uint_eq(l[0].start, 5);
    j = status(s, T0 + 20000);
    o = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "open_rounds"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "start_ms")), T0 + 20000);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "deadline_ms")), T0 + 80000);
    json_decref(j);
    ck_assert_int_eq(done(s, "s1", l[0].id, "ia", 5, 6, 1, NULL, T0 + 20001), APR_SUCCESS);
    /* then every 20 s: nothing at T0 + 30 s, the next at T0 + 40 s */
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 39999, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 40000, l), 1);
    ck_assert_int_eq(l[0].round, r20 + 1);
    /* shorter (5 s) from the next round: [T0 + 40 s, T0 + 60 s) keeps its 20 s */
    sched_set_config(s, c3);
    ck_assert_int_eq(done(s, "s1", l[0].id, "ia", 6, 7, 1, NULL, T0 + 40001), APR_SUCCESS);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 59999, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 60000, l), 1);
    ck_assert_int_eq(l[0].round, (T0 + 60000) / 5000);
    ck_assert_int_eq(done(s, "s1", l[0].id, "ia", 7, 8, 1, NULL, T0 + 60001), APR_SUCCESS);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 64999, l), 0);
    ck_assert_int_eq(sched_lease(s, "s1", NULL, 0, 8, T0 + 65000, l), 1);
    ck_assert_int_eq(l[0].round, (T0 + 65000) / 5000);
    /* relative to R0: 85000001 - 170000000, ..., 340000012 - 170000000 */
    ck_assert_str_eq(log, "web 0 0 [" A "#ia 0 5;]|"
                          "web -84999999 0 [" A "#ia 5 6;]|"
                          "web -84999998 0 [" A "#ia 6 7;]|"
                          "web 170000012 0 [" A "#ia 7 8;]|");
}
END_TEST

/* Reloads racing leases and completions from other threads stay consistent. */
typedef struct rl_ctx_t {
    sched_t *s;
    atomic_int done;
} rl_ctx_t;

static void *APR_THREAD_FUNC rl_worker(apr_thread_t *th, void *arg)
{
    rl_ctx_t *c = arg;
    sched_lease_t l[4];
    const char *none[] = {NULL};
    for (int it = 0; it < 20000; it++) {
        int64_t now = T0 + it;
        int n = lease(c->s, "w", 4, now, l);
        for (int i = 0; i < n; i++) {
            sched_completion_t cc = {.slave = "w",
                                     .lease = l[i].id,
                                     .instance = "x",
                                     .start = (int64_t)l[i].start,
                                     .end = (int64_t)l[i].start + 1,
                                     .at_end = 1,
                                     .size = -1,
                                     .lines = -1,
                                     .bad_lines = -1,
                                     .bytes = -1,
                                     .npaths = -1};
            const char *p[] = {"/data/app-1.log"};
            if (l[i].kind == SCHED_EXPAND) {
                cc.npaths = it % 2;
                cc.paths = it % 2 ? p : none;
            }
            /* every lease is completed by its holder in time: never refused */
            ck_assert_int_eq(sched_complete(c->s, &cc, now, NULL), APR_SUCCESS);
        }
    }
    atomic_store(&c->done, 1);
    return NULL;
}

START_TEST(test_reload_threads)
{
    rules_config_t *cs[3] = {
        cfg, load(M12, job_y("web", "5s", "      - " A "\n      - " C "\n")),
        load(M12, apr_pstrcat(pool, job_y("api", "1s", "      - " B "\n"),
                              job_y("web", "10s", "      - '" G "'\n"), NULL))};
    rl_ctx_t c = {.s = mk(1000000)};
    apr_thread_t *th;
    apr_status_t rv;
    ck_assert_int_eq(apr_thread_create(&th, NULL, rl_worker, &c, pool), APR_SUCCESS);
    for (int i = 0; i < 300 || !atomic_load(&c.done); i++) {
        sched_set_config(c.s, cs[i % 3]);
        json_decref(status(c.s, T0 + i));
    }
    apr_thread_join(&rv, th);
    /* no lease is left: the last config's sources, exactly */
    sched_set_config(c.s, cs[1]);
    ck_assert_str_eq(st_jobs(c.s, T0 + 30000), "web,");
    const char *src = st_sources(c.s, T0 + 30000, "web");
    ck_assert_msg(strncmp(src, "0:" A "@", strlen("0:" A "@")) == 0 && strstr(src, ",1:" C "@") &&
                      !strstr(src, ",2:"),
                  "%s", src);
}
END_TEST

static Suite *sched_reload_suite(void)
{
    Suite *s = suite_create("sched_reload");
    TCase *t;

    t = tcase_create("reload");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_reload_new_source);
    tcase_add_test(t, test_reload_source_removed);
    tcase_add_test(t, test_reload_removed_middle);
    tcase_add_test(t, test_reload_jobs);
    tcase_add_test(t, test_reload_job_removed_idle);
    tcase_add_test(t, test_reload_labels);
    tcase_add_test(t, test_reload_glob);
    tcase_add_test(t, test_reload_round_length);
    tcase_add_test(t, test_reload_threads);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(sched_reload_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
