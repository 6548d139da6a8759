/* check_sched_http.c - unit tests for the scheduler's HTTP side (master/sched_http.c,
 * master/sched_status.c): POST /v1/lease, /v1/renew and /v1/complete with every malformed
 * body refused, slaves forgotten after a while or past SCHED_SLAVES_MAX, the status, and
 * the handlers through the real server (master/httpd.c) on 127.0.0.1: token, routes, body
 * limit, a round trip. The handlers are called with fake requests (call and bad,
 * tests/fixture_sched.h) over SCHED_YAML with the clock driven by hand; the oracle is the
 * status code, the error's wording and the JSON fields of each answer, worked out by hand
 * from the leases and completions the test made. */
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

#define FIXTURE_SUITE "check_sched_http"
#include "fixture_sched.h"

static void setup(void)
{
    sched_setup(SCHED_YAML, "sched.yaml", 0);
}

/* ---- tcase http (call, bad: tests/fixture_sched.h) ---- */

START_TEST(test_http_lease_renew)
{
    sched_t *s = mk(5000);
    json_t *j;
    bad(sched_http_lease, s, NULL, "empty");
    bad(sched_http_lease, s, "{", "malformed JSON");
    bad(sched_http_lease, s, "[1]", "object");
    bad(sched_http_lease, s, "{\"labels\":[],\"max\":1}", "'slave'");
    bad(sched_http_lease, s, "{\"slave\":7,\"labels\":[],\"max\":1}", "'slave'");
    bad(sched_http_lease, s, "{\"slave\":\"\",\"labels\":[],\"max\":1}", "'slave'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"max\":1}", "'labels'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":\"rack1\",\"max\":1}", "'labels'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[1],\"max\":1}", "'labels'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[]}", "'max'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":\"2\"}", "'max'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":-1}", "'max'");
    bad(sched_http_lease, s, "{\"slave\":\"s1\",\"labels\":[],\"max\":1.5}", "'max'");
    /* nothing was leased by the refused calls */
    ck_assert_int_eq(call(sched_http_lease, s,
                          "{\"slave\":\"s1\",\"labels\":[\"rack1\",\"rack2\"],\"max\":8,\"x\":{}}",
                          T0, &j),
                     200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "config")), cfg->hash_hex);
    json_t *ls = json_object_get(j, "leases");
    ck_assert_int_eq(json_array_size(ls), 3);
    json_t *l0 = json_array_get(ls, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "id")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(l0, "job")), "web");
    ck_assert_str_eq(json_string_value(json_object_get(l0, "kind")), "read");
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "task")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(l0, "source")), A);
    ck_assert_str_eq(json_string_value(json_object_get(l0, "instance")), "");
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "start")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "cap")), 1000);
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "round")), R0);
    ck_assert_int_eq(json_integer_value(json_object_get(l0, "expires_ms")), T0 + 5000);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ls, 2), "kind")), "expand");
    json_decref(j);

    bad(sched_http_renew, s, "{\"slave\":\"s1\"}", "'lease'");
    bad(sched_http_renew, s, "{\"slave\":\"s1\",\"lease\":\"1\"}", "'lease'");
    bad(sched_http_renew, s, "{\"lease\":1}", "'slave'");
    ck_assert_int_eq(call(sched_http_renew, s, "{\"slave\":\"s1\",\"lease\":1}", T0 + 100, &j),
                     200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "expires_ms")), T0 + 5100);
    json_decref(j);
    ck_assert_int_eq(call(sched_http_renew, s, "{\"slave\":\"s1\",\"lease\":1}", T0 + 5100, &j),
                     410);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "error")));
    json_decref(j);
}
END_TEST

/* The slaves status lists: names, in any order, comma-separated. */
static char *slave_names(sched_t *s, int64_t now, char *out, size_t n)
{
    json_t *j = status(s, now), *v;
    size_t i, at = 0;
    out[0] = '\0';
    json_array_foreach(json_object_get(j, "slaves"), i, v)
    {
        at += (size_t)snprintf(out + at, n - at, "%s%s", at ? "," : "",
                               json_string_value(json_object_get(v, "name")));
        if (at >= n)
            break;
    }
    json_decref(j);
    return out;
}

/* Slave names are forgotten: after SCHED_SLAVE_FORGET_MS without a word (a
 * day when its spool held frames), and the least recently heard of past
 * SCHED_SLAVES_MAX, so made-up names cannot grow the primary's state. */
START_TEST(test_slaves_forgotten)
{
    sched_t *s = mk(5000);
    sched_lease_t out[8];
    char names[256];
    json_t *j;

    lease(s, "s1", 0, T0, out);
    ck_assert_int_eq(call(sched_http_lease, s,
                          "{\"slave\":\"s2\",\"labels\":[],\"max\":0,"
                          "\"spool\":{\"frames\":3,\"bytes\":300,\"oldest_ms\":1}}",
                          T0, &j),
                     200);
    json_decref(j);
    lease(s, "s3", 0, T0 + SCHED_SLAVE_FORGET_MS - 1, out);
    ck_assert_str_eq(slave_names(s, T0 + SCHED_SLAVE_FORGET_MS - 1, names, sizeof names),
                     "s1,s2,s3");
    ck_assert_str_eq(slave_names(s, T0 + SCHED_SLAVE_FORGET_MS, names, sizeof names), "s2,s3");
    ck_assert_str_eq(slave_names(s, T0 + SCHED_SLAVE_BACKLOG_FORGET_MS, names, sizeof names), "");
    /* a flood of names: at most SCHED_SLAVES_MAX, the oldest go first */
    const int64_t t1 = T0 + SCHED_SLAVE_BACKLOG_FORGET_MS;
    for (int i = 0; i < SCHED_SLAVES_MAX + 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "x%d", i);
        lease(s, name, 0, t1 + i, out);
    }
    j = status(s, t1 + SCHED_SLAVES_MAX + 10);
    json_t *sl = json_object_get(j, "slaves");
    ck_assert_int_eq(json_array_size(sl), SCHED_SLAVES_MAX);
    for (size_t i = 0; i < json_array_size(sl); i++) {
        const char *n = json_string_value(json_object_get(json_array_get(sl, i), "name"));
        ck_assert_msg(atoi(n + 1) >= 10, "slave %s should have been forgotten", n);
    }
    json_decref(j);
    /* a slave's labels are bounded in bytes */
    char body[2048];
    int at = snprintf(body, sizeof body, "{\"slave\":\"big\",\"max\":1,\"labels\":[");
    for (int i = 0; i < 8; i++)
        at += snprintf(body + at, sizeof body - (size_t)at, "%s\"%0200d\"", i ? "," : "", i);
    snprintf(body + at, sizeof body - (size_t)at, "]}");
    bad(sched_http_lease, s, body, "labels");
}
END_TEST

START_TEST(test_http_complete_status)
{
    sched_t *s = mk(60000);
    sched_lease_t l[8];
    json_t *j;
    ck_assert_int_eq(lease(s, "s1", 8, T0, l), 3);
    /* lease 1 = a, 2 = b, 3 = the glob */
#define C(rest) "{\"slave\":\"s1\",\"lease\":1" rest "}"
    bad(sched_http_complete, s, C(",\"instance\":\"i\",\"start\":\"0\",\"end\":5,\"at_end\":true"),
        "'start'");
    bad(sched_http_complete, s, C(",\"instance\":\"i\",\"start\":0,\"end\":-5,\"at_end\":true"),
        "'end'");
    bad(sched_http_complete, s, C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":1"),
        "'at_end'");
    bad(sched_http_complete, s, C(",\"instance\":3,\"start\":0,\"end\":5,\"at_end\":true"),
        "'instance'");
    bad(sched_http_complete, s, C(",\"start\":0,\"end\":5,\"at_end\":true"), "'instance'");
    bad(sched_http_complete, s, C(",\"instance\":\"i\",\"start\":0,\"at_end\":true"), "'end'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"next_instance\":[]"),
        "'next_instance'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"deliveries\":[]"),
        "'deliveries'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"deliveries\":{\"m1\":1}"),
        "'deliveries'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"lines\":\"9\""), "'lines'");
    bad(sched_http_complete, s,
        C(",\"instance\":\"i\",\"start\":0,\"end\":5,\"at_end\":true,\"size\":-2"), "'size'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"lease\":3,\"paths\":\"/x\"}", "'paths'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"lease\":3}", "'paths'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"lease\":0}", "'lease'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\"}", "'lease'");
    ck_assert_int_eq(call(sched_http_complete, s,
                          "{\"slave\":\"s2\",\"lease\":1,\"instance\":\"i\",\"start\":0,\"end\":5,"
                          "\"at_end\":true}",
                          T0 + 1, &j),
                     409);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "not yours"));
    json_decref(j);
    ck_assert_int_eq(call(sched_http_complete, s,
                          C(",\"instance\":\"8:1:0\",\"start\":0,\"end\":1000,\"at_end\":false,"
                            "\"next_instance\":\"\",\"lines\":50,\"bad_lines\":1,\"bytes\":1000,"
                            "\"size\":1500,\"deliveries\":{\"m1\":\"ok\",\"m2\":\"spooled\","
                            "\"m9\":\"ok\"},\"extra\":[1,2]"),
                          T0 + 2, &j),
                     200);
    ck_assert(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    ck_assert_int_eq(call(sched_http_complete, s,
                          "{\"slave\":\"s1\",\"lease\":3,\"paths\":[\"/data/app-1.log\"]}", T0 + 3,
                          &j),
                     200);
    json_decref(j);
    ck_assert_int_eq(sched_lease(s, "s1", ALL, 2, 8, T0 + 4, l), 1); /* a again, from 1000 */
    ck_assert_uint_eq(l[0].start, 1000);
#undef C

    buf_t st;
    buf_init(&st);
    sched_status_json(s, T0 + 5, &st);
    j = json_loadb((const char *)st.data, st.len, 0, NULL);
    buf_free(&st);
    ck_assert_ptr_nonnull(j);
    json_t *job = json_array_get(json_object_get(j, "jobs"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(job, "name")), "web");
    ck_assert_int_eq(json_integer_value(json_object_get(job, "round")), R0);
    json_t *src = json_object_get(job, "sources");
    ck_assert_int_eq(json_array_size(src), 4);
    json_t *a = json_array_get(src, 0), *b = json_array_get(src, 1);
    ck_assert_str_eq(json_string_value(json_object_get(a, "source")), A);
    ck_assert_str_eq(json_string_value(json_object_get(a, "instance")), "8:1:0");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "offset")), 1000);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "size")), 1500);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "lag_bytes")), 500);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "lines")), 50);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "deliveries"), "m2")),
                     "spooled");
    ck_assert_ptr_null(json_object_get(b, "size"));
    ck_assert(json_is_null(json_object_get(b, "lag_bytes")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(src, 3), "source")),
                     "/data/app-1.log");
    json_t *ls = json_object_get(job, "leases");
    ck_assert_int_eq(json_array_size(ls), 2); /* b (lease 2) and a again (lease 4) */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ls, 0), "id")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ls, 0), "start")), 1000);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ls, 1), "slave")), "s1");
    json_t *open = json_object_get(job, "open_rounds");
    ck_assert_int_eq(json_array_size(open), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(open, 0), "due")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(open, 0), "done")), 1);
    json_t *sl = json_array_get(json_object_get(j, "slaves"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(sl, "name")), "s1");
    ck_assert_int_eq(json_array_size(json_object_get(sl, "labels")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(sl, "last_seen_ms")), T0 + 4);
    json_decref(j);
}
END_TEST

/* Through the real server: token, routes, body limit, a round trip. */
START_TEST(test_http_server)
{
    sched_t *s = mk(60000);
    abbey_err_t err;
    httpd_t *h = httpd_create("tok", pool);
    sched_register(s, h);
    ck_assert_msg(httpd_start(h, "127.0.0.1", 0, 2, &err) == APR_SUCCESS, "%s", err.msg);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", httpd_port(h));
    hclient_global_init();
    hclient_t *c = hclient_create("tok", 2000, 10000, pool);
    hclient_t *nc = hclient_create("bad", 2000, 10000, pool);
    hclient_resp_t r = {0};
    const char *lbody = "{\"slave\":\"s1\",\"labels\":[\"rack1\",\"rack2\"],\"max\":8}";
    buf_init(&r.body);
    ck_assert_int_eq(hclient_request(nc, "POST", apr_pstrcat(pool, base, "/v1/lease", NULL),
                                     "application/json", lbody, strlen(lbody), NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 401);
    ck_assert_int_eq(hclient_request(c, "POST", apr_pstrcat(pool, base, "/v1/lease", NULL),
                                     "application/json", lbody, strlen(lbody), NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 200);
    json_t *j = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    json_t *ls = json_object_get(j, "leases");
    ck_assert_int_eq(json_array_size(ls), 3);
    int64_t round = json_integer_value(json_object_get(json_array_get(ls, 0), "round"));
    for (size_t i = 0; i < 3; i++) {
        json_t *l = json_array_get(ls, i);
        char body[256];
        if (strcmp(json_string_value(json_object_get(l, "kind")), "expand") == 0)
            snprintf(body, sizeof(body),
                     "{\"slave\":\"s1\",\"lease\":%" JSON_INTEGER_FORMAT ",\"paths\":[]}",
                     json_integer_value(json_object_get(l, "id")));
        else
            snprintf(body, sizeof(body),
                     "{\"slave\":\"s1\",\"lease\":%" JSON_INTEGER_FORMAT
                     ",\"instance\":\"i%zu\",\"start\":0,\"end\":%zu,\"at_end\":true}",
                     json_integer_value(json_object_get(l, "id")), i, 10 * (i + 1));
        ck_assert_int_eq(hclient_request(c, "POST", apr_pstrcat(pool, base, "/v1/complete", NULL),
                                         "application/json", body, strlen(body), NULL, &r, &err),
                         APR_SUCCESS);
        ck_assert_int_eq(r.status, 200);
    }
    json_decref(j);
    const char *url = apr_psprintf(pool, "%s/v1/rounds?job=web&after=%" PRId64, base, round - 1);
    ck_assert_int_eq(hclient_request(c, "GET", url, NULL, NULL, 0, NULL, &r, &err), APR_SUCCESS);
    ck_assert_int_eq(r.status, 200);
    j = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    json_t *rounds = json_object_get(j, "rounds");
    ck_assert_int_eq(json_array_size(rounds), 1);
    json_t *r0 = json_array_get(rounds, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "round")), round);
    json_t *g = json_object_get(r0, "ranges");
    ck_assert_int_eq(json_array_size(g), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(g, 0), "source")), A "#i0");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(g, 1), "end")), 20);
    json_decref(j);
    /* a body over 1 MiB: 413 */
    size_t big = (1u << 20) + 10;
    char *huge = apr_palloc(pool, big);
    memset(huge, ' ', big);
    ck_assert_int_eq(hclient_request(c, "POST", apr_pstrcat(pool, base, "/v1/complete", NULL),
                                     "application/json", huge, big, NULL, &r, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(r.status, 413);
    buf_free(&r.body);
    httpd_stop(h);
}
END_TEST

/* The batched calls (docs/CLUSTER.md "Sticky leases"): a sticky batch with the rounds and
 * the clock; a report whose completions are answered one by one (a bad item refused in its
 * own result, the others applied: an accepted one says where its holder reads on), whose
 * idle leases make the round done, and whose released leases end; a batched renewal that
 * names what is gone; malformed idle and released lists refused as a whole. */
START_TEST(test_http_batches)
{
    sched_t *s = mk(5000);
    json_t *j;
    ck_assert_int_eq(call(sched_http_lease, s,
                          "{\"slave\":\"s1\",\"labels\":[\"rack1\",\"rack2\"],\"max\":8,"
                          "\"sticky\":true,\"workers\":2}",
                          T0 + 7, &j),
                     200);
    json_t *ls = json_object_get(j, "leases");
    ck_assert_int_eq(json_array_size(ls), 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert(json_is_true(json_object_get(json_array_get(ls, i), "sticky")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "now_ms")), T0 + 7);
    json_t *r = json_object_get(json_object_get(j, "rounds"), "web");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "round")), R0);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "next")), R0 + 1);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "next_ms")), T0 + RMS);
    ck_assert(json_is_false(json_object_get(j, "more")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "release")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "config")), cfg->hash_hex);
    json_decref(j);
    /* a report: lease 1 (a) read [0, 10), lease 9 is nobody's, a bad item; 2 (b) and 3 (the
     * glob) nothing new: R0 closes */
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"idle\":[{\"job\":\"web\"}]}", "'round'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"idle\":{}}", "'idle'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"released\":[0]}", "'released'");
    bad(sched_http_complete, s, "{\"completions\":[]}", "'slave'");
    bad(sched_http_complete, s, "{\"slave\":\"s1\",\"completions\":{}}", "'completions'");
    ck_assert_int_eq(
        call(sched_http_complete, s,
             "{\"slave\":\"s1\",\"completions\":["
             "{\"lease\":1,\"round\":170000000,\"instance\":\"8:1:0\",\"start\":0,"
             "\"end\":10,\"at_end\":true},"
             "{\"lease\":9,\"round\":170000000,\"instance\":\"x\",\"start\":0,\"end\":1,"
             "\"at_end\":true},"
             "{\"lease\":1,\"end\":\"x\"}],"
             "\"idle\":[{\"job\":\"web\",\"round\":170000000,\"leases\":[2,3,9]}]}",
             T0 + 8, &j),
        200);
    json_t *res = json_object_get(j, "results");
    ck_assert_int_eq(json_array_size(res), 3);
    json_t *r0 = json_array_get(res, 0), *r1 = json_array_get(res, 1), *r2 = json_array_get(res, 2);
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "status")), 200);
    ck_assert_str_eq(json_string_value(json_object_get(r0, "instance")), "8:1:0");
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "start")), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(r1, "status")), 409);
    ck_assert_int_eq(json_integer_value(json_object_get(r2, "status")), 400);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(r2, "error")), "completions item 2: field 'end'"));
    ck_assert_int_eq(json_array_size(json_object_get(j, "gone")), 1);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(j, "gone"), 0)), 9);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "expires_ms")), T0 + 8 + 5000);
    json_decref(j);
    j = status(s, T0 + 9);
    json_t *job = json_array_get(json_object_get(j, "jobs"), 0);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(job, "last_closed"), "round")), R0);
    ck_assert(json_is_false(json_object_get(json_object_get(job, "last_closed"), "incomplete")));
    ck_assert_int_eq(json_array_size(json_object_get(job, "leases")), 3); /* still held */
    json_decref(j);
    /* renew in one call; 9 is gone; then release 3 */
    bad(sched_http_renew, s, "{\"slave\":\"s1\",\"leases\":[\"1\"]}", "'leases'");
    ck_assert_int_eq(
        call(sched_http_renew, s, "{\"slave\":\"s1\",\"leases\":[1,2,3,9]}", T0 + 4000, &j), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "expires_ms")), T0 + 9000);
    ck_assert_int_eq(json_array_size(json_object_get(j, "gone")), 1);
    json_decref(j);
    ck_assert_int_eq(
        call(sched_http_complete, s, "{\"slave\":\"s1\",\"released\":[3]}", T0 + 4001, &j), 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "gone")), 0);
    json_decref(j);
    ck_assert_int_eq(call(sched_http_lease, s,
                          "{\"slave\":\"s2\",\"labels\":[\"rack2\"],\"max\":8,\"sticky\":true}",
                          T0 + 4002, &j),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "leases")), 1); /* the glob, given back */
    json_decref(j);
    /* not renewed: 1 and 2 expire at T0 + 9000, and are gone */
    ck_assert_int_eq(
        call(sched_http_renew, s, "{\"slave\":\"s1\",\"leases\":[1,2]}", T0 + 9000, &j), 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "gone")), 2);
    json_decref(j);
}
END_TEST

static Suite *sched_http_suite(void)
{
    Suite *s = suite_create("sched_http");
    TCase *t;

    t = tcase_create("http");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_http_lease_renew);
    tcase_add_test(t, test_slaves_forgotten);
    tcase_add_test(t, test_http_complete_status);
    tcase_add_test(t, test_http_server);
    tcase_add_test(t, test_http_batches);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(sched_http_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
