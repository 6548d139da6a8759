/* check_merger_reload.c - unit tests for the merger adopting a reloaded config
 * (merger_set_config, master/merger_config.c): a change in comments only, a new entry, a
 * new job, a removed job, a group moved to the other master, and reloads under a load of
 * frames from another thread. The config, logs, frames and recount are
 * tests/fixture_merger.h; the oracle is a brute-force recount of the lines each config saw
 * (totals kept across a reload that does not touch them, restarted where it does), the
 * export files on disk and the status's counting_since_ms. */
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

#define FIXTURE_SUITE "check_merger_reload"
#define FIXTURE_MERGER_RECOUNT
#include "fixture_merger.h"

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

static Suite *merger_reload_suite(void)
{
    Suite *s = suite_create("merger_reload");
    TCase *tc;

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
    failed = check_run(merger_reload_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
