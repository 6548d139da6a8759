/* check_merger_tz.c - period boundaries on a local clock (master/merger.c merger_period_of,
 * merger_export.c period names): job "web" with `reset: day` in Europe/Berlin gets frames
 * in the last and first rounds of the local days around both DST changes of 2025; each
 * frame must land in its local day (the spring day 23 hours long, the autumn one 25), and
 * each day's final reports must be under period/<its first instant, UTC>/. Then period
 * numbers and starts of Australia/Sydney days and Asia/Kolkata hours. The config, logs and
 * recount are tests/fixture_merger.h; the oracle for local midnights is glibc's mktime with
 * TZ set in this process (and the values python3's zoneinfo gives, quoted), for contents
 * the fixture's brute-force recount of the lines each frame carried. */
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
#include "merger_int.h"
#include "rules.h"

#define FIXTURE_SUITE "check_merger_tz"
#define FIXTURE_MERGER_RECOUNT
#define FIXTURE_MERGER_RULES                                                                       \
    "masters:\n"                                                                                   \
    "  - {name: m1, url: \"http://127.0.0.1:1\", weight: 2}\n"                                     \
    "  - {name: m2, url: \"http://127.0.0.1:2\", weight: 1}\n"                                     \
    "jobs:\n"                                                                                      \
    "  - name: web\n"                                                                              \
    "    round: 10s\n"                                                                             \
    "    reset: day\n"                                                                             \
    "    timezone: Europe/Berlin\n"                                                                \
    "    sources: [/dev/null]\n"                                                                   \
    "    format: {split: \" \", fields: [user, api, status:int, ms:int]}\n"                        \
    "    groups:\n"                                                                                \
    "      - name: traffic\n"                                                                      \
    "        weight: 3\n"                                                                          \
    "        entries:\n"                                                                           \
    "          - name: by_api\n"                                                                   \
    "            key: [api]\n"                                                                     \
    "            values: {hits: count, ms: sum(ms)}\n"                                             \
    "      - name: users\n"                                                                        \
    "        entries:\n"                                                                           \
    "          - name: by_user\n"                                                                  \
    "            key: [user]\n"                                                                    \
    "            values: {hits: count, worst: max(ms)}\n"                                          \
    "      - name: errors\n"                                                                       \
    "        entries:\n"                                                                           \
    "          - name: by_status\n"                                                                \
    "            key: [status]\n"                                                                  \
    "            values: {hits: count}\n"                                                          \
    "    reports:\n"                                                                               \
    "      - {name: api, entry: by_api, order: hits desc}\n"                                       \
    "      - {name: api_round, entry: by_api, scope: round}\n"                                     \
    "      - {name: users, entry: by_user, format: json}\n"                                        \
    "      - {name: status, entry: by_status}\n"
#include "fixture_merger.h"

/* Local midnight of y-m-d in zone, as UTC seconds: glibc's mktime under TZ=zone. */
static int64_t midnight(const char *zone, int y, int m, int d)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_isdst = -1};
    time_t t;
    setenv("TZ", zone, 1);
    tzset();
    t = mktime(&tm);
    unsetenv("TZ");
    tzset();
    return (int64_t)t;
}

/* Frames in the last round before local midnight `from` (the day before began at prev),
 * the first after it, the last before the next midnight `to`, and the first after it:
 * each local day's final reports hold exactly its own frames, under the day's first
 * instant. */
static void days_around(int64_t prev, int64_t from, int64_t to)
{
    merger_t *m = new_merger("m1");
    const uint64_t a = (uint64_t)(from / 10) - 1, b = a + 1, c = (uint64_t)(to / 10) - 1, d = c + 1;
    sel_t sa[] = {{0, 0, 50}}, sb[] = {{0, 50, 100}}, sc[] = {{0, 100, 150}},
          sd[] = {{0, 150, 200}}, sbc[] = {{0, 50, 150}};
    mjob_t *j = merger_job(m, "web");
    char *want;

    /* the rounds' periods: b and c share one, a and d are the days around it */
    ck_assert_int_eq(merger_period_of(j, b), merger_period_of(j, a) + 1);
    ck_assert_int_eq(merger_period_of(j, c), merger_period_of(j, b));
    ck_assert_int_eq(merger_period_of(j, d), merger_period_of(j, b) + 1);
    ck_assert_int_eq(merger_period_start_ms(j, merger_period_of(j, b)), from * 1000);
    ck_assert_int_eq(merger_period_start_ms(j, merger_period_of(j, d)), to * 1000);

    ck_assert_int_eq(deliver(m, "m1", 0, 0, 50, a), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 50, 100, b), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 100, 150, c), MERGE_MERGED);
    ck_assert_int_eq(deliver(m, "m1", 0, 150, 200, d), MERGE_MERGED);
    round_closed(m, a, sa, 1, (int64_t)(a + 3) * ROUND_MS);
    round_closed(m, b, sb, 1, (int64_t)(b + 3) * ROUND_MS);
    round_closed(m, c, sc, 1, (int64_t)(c + 3) * ROUND_MS);
    round_closed(m, d, sd, 1, (int64_t)(d + 3) * ROUND_MS);
    /* four rounds, and the final reports of the day before and of the day itself */
    ck_assert_int_eq(merger_tick(m, (int64_t)(d + 1) * ROUND_MS), 6);

    want = oracle_api_csv(sa, 1);
    assert_file(path_of("period/%s/api.csv", stamp(prev * 1000)), want);
    free(want);
    want = oracle_api_csv(sbc, 1);
    assert_file(path_of("period/%s/api.csv", stamp(from * 1000)), want);
    free(want);
    want = oracle_render("users", sbc, 1);
    assert_file(path_of("period/%s/users.json", stamp(from * 1000)), want);
    free(want);
    ck_assert(!exists(path_of("period/%s", stamp(to * 1000)))); /* the newest day goes on */
    want = oracle_api_csv(sd, 1);
    assert_file(path_of("api.csv"), want);
    free(want);
}

/* 2025-03-30 in Berlin: from 2025-03-29T23:00Z to 2025-03-30T22:00Z, 23 hours (python3 -c
 * 'from zoneinfo import ZoneInfo;from datetime import datetime;print(datetime(2025,3,30,
 * tzinfo=ZoneInfo("Europe/Berlin")).timestamp())' gives 1743289200). */
START_TEST(berlin_spring_day)
{
    int64_t from = midnight("Europe/Berlin", 2025, 3, 30),
            to = midnight("Europe/Berlin", 2025, 3, 31);
    ck_assert_int_eq(from, 1743289200);
    ck_assert_int_eq(to - from, 23 * 3600);
    ck_assert_str_eq(stamp(from * 1000), "20250329T230000Z");
    ck_assert_str_eq(stamp(to * 1000), "20250330T220000Z");
    ck_assert_str_eq(stamp(midnight("Europe/Berlin", 2025, 3, 29) * 1000), "20250328T230000Z");
    days_around(midnight("Europe/Berlin", 2025, 3, 29), from, to);
}
END_TEST

/* 2025-10-26 in Berlin: from 2025-10-25T22:00Z to 2025-10-26T23:00Z, 25 hours. */
START_TEST(berlin_autumn_day)
{
    int64_t from = midnight("Europe/Berlin", 2025, 10, 26),
            to = midnight("Europe/Berlin", 2025, 10, 27);
    ck_assert_int_eq(from, 1761429600);
    ck_assert_int_eq(to - from, 25 * 3600);
    ck_assert_str_eq(stamp(to * 1000), "20251026T230000Z");
    ck_assert_str_eq(stamp(midnight("Europe/Berlin", 2025, 10, 25) * 1000), "20251024T220000Z");
    days_around(midnight("Europe/Berlin", 2025, 10, 25), from, to);
}
END_TEST

/* A merger over a one-job config of the given reset and timezone; its job. */
static mjob_t *job_in(const char *reset, const char *zone)
{
    char yaml[512];
    rules_config_t *c;
    abbey_err_t err;
    merger_t *m;
    snprintf(yaml, sizeof yaml,
             "jobs:\n  - name: web\n    round: 10s\n    reset: %s\n    timezone: %s\n"
             "    sources: [/dev/null]\n    format: combined\n"
             "    groups: [{name: g, entries: [{name: e, values: {n: count}}]}]\n",
             reset, zone);
    ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), "tz.yaml", pool, &c, &err) == APR_SUCCESS,
                  "%s", err.msg);
    m = merger_create(c, "local", dir, pool);
    ck_assert_ptr_nonnull(m);
    return merger_job(m, "web");
}

/* Sydney's days across both changes of 2025 (April 6: 25 h, October 5: 23 h), every round
 * of the two days before and after: each round's period starts at the local midnight
 * before it, and ends at the next. */
START_TEST(sydney_days)
{
    mjob_t *j = job_in("day", "Australia/Sydney");
    static const int dates[][3] = {{2025, 4, 4}, {2025, 10, 3}};
    ck_assert_int_eq(midnight("Australia/Sydney", 2025, 4, 7) -
                         midnight("Australia/Sydney", 2025, 4, 6),
                     25 * 3600);
    ck_assert_int_eq(midnight("Australia/Sydney", 2025, 10, 6) -
                         midnight("Australia/Sydney", 2025, 10, 5),
                     23 * 3600);
    for (int k = 0; k < 2; k++)
        for (int day = 0; day < 4; day++) {
            int64_t from =
                        midnight("Australia/Sydney", dates[k][0], dates[k][1], dates[k][2] + day),
                    to = midnight("Australia/Sydney", dates[k][0], dates[k][1],
                                  dates[k][2] + day + 1);
            int64_t id = merger_period_of(j, (uint64_t)(from / 10));
            ck_assert_int_eq(merger_period_start_ms(j, id), from * 1000);
            for (int64_t t = from; t < to; t += 590)
                ck_assert_int_eq(merger_period_of(j, (uint64_t)(t / 10)), id);
            ck_assert_int_eq(merger_period_of(j, (uint64_t)(to / 10)), id + 1);
        }
}
END_TEST

/* Kolkata's hours start at :30 UTC; UTC's at :00; with reset: never there is one period. */
START_TEST(kolkata_hours)
{
    mjob_t *k = job_in("hour", "Asia/Kolkata"), *u = job_in("hour", "UTC"),
           *n = job_in("never", "Asia/Kolkata");
    /* 2025-05-01T04:30:00Z = 10:00 IST */
    int64_t id = merger_period_of(k, 174607380);
    ck_assert_int_eq(merger_period_start_ms(k, id), 1746073800000LL);
    ck_assert_int_eq(merger_period_of(k, 174607379), id - 1);
    ck_assert_int_eq(merger_period_of(k, 174607380 + 359), id);
    ck_assert_int_eq(merger_period_of(k, 174607380 + 360), id + 1);
    id = merger_period_of(u, 174607380);
    ck_assert_int_eq(merger_period_start_ms(u, id), 1746072000000LL); /* 04:00Z */
    ck_assert_int_eq(merger_period_of(n, 174607380), 0);
    ck_assert_int_eq(merger_period_of(n, 0), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("merger_tz");
    TCase *tc = tcase_create("merger_tz");
    apr_initialize();
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, berlin_spring_day);
    tcase_add_test(tc, berlin_autumn_day);
    tcase_add_test(tc, sydney_days);
    tcase_add_test(tc, kolkata_hours);
    suite_add_tcase(s, tc);
    int failed = check_run(s);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
