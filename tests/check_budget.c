/* check_budget.c - unit tests for the memory budget (common/budget.c).
 *
 * The size text (units, limits, the error naming the flag), the limit check
 * against the allowance, the thresholds, the resident set read from
 * /proc/self/statm (against a 64 MiB block touched here), the shared slots
 * written by threads, and a master's per-job decision with the readings and
 * the clock as parameters: hand-worked transitions at and around each
 * threshold, then a simulation of a master that merges a frame only while
 * its job is not over and steps every job after each merge, whose memory must
 * stay under the limit plus one frame's growth while the small jobs are still
 * served up to the limit. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_thread_proc.h>

#include "budget.h"
#include "check_run.h"

#define MiB (1ull << 20)

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* ---- sizes ---------------------------------------------------------------- */

static uint64_t size_ok(const char *text)
{
    uint64_t n = 0;
    abbey_err_t err;
    ck_assert_msg(budget_parse_size("--memory-limit", text, &n, &err) == 0, "%s: %s", text,
                  err.msg);
    return n;
}

static void size_bad(const char *text)
{
    uint64_t n = 7;
    abbey_err_t err;
    ck_assert_msg(budget_parse_size("--memory-limit", text, &n, &err) != 0, "%s was taken", text);
    ck_assert_msg(strstr(err.msg, "--memory-limit: '") == err.msg, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, text) != NULL, "the error names the text: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "512MiB") != NULL, "the error gives an example: %s", err.msg);
    ck_assert_int_eq(n, 7); /* unchanged */
}

START_TEST(sizes)
{
    ck_assert_uint_eq(size_ok("1"), 1);
    ck_assert_uint_eq(size_ok("4096B"), 4096);
    ck_assert_uint_eq(size_ok("3k"), 3 * 1024);
    ck_assert_uint_eq(size_ok("3K"), 3 * 1024);
    ck_assert_uint_eq(size_ok("3KiB"), 3 * 1024);
    ck_assert_uint_eq(size_ok("512MiB"), 512 * MiB);
    ck_assert_uint_eq(size_ok("512M"), 512 * MiB);
    ck_assert_uint_eq(size_ok("2GiB"), 2048 * MiB);
    ck_assert_uint_eq(size_ok("2G"), 2048 * MiB);
    ck_assert_uint_eq(size_ok("1TiB"), 1ull << 40);
    ck_assert_uint_eq(size_ok("1024T"), 1ull << 50); /* the largest */
    size_bad("");
    size_bad("0");
    size_bad("0MiB");
    size_bad("MiB");
    size_bad("512MB"); /* powers of 1000 are not guessed at */
    size_bad("2GB");
    size_bad("512 MiB");
    size_bad("-1G");
    size_bad("1.5G");
    size_bad("1025T");
    size_bad("99999999999999999999999");
    size_bad("12x");
}
END_TEST

START_TEST(limit_against_allowance)
{
    abbey_err_t err;
    uint64_t a = budget_allowance(0, 0), s = budget_allowance(2, 4 * MiB);

    ck_assert_uint_eq(a, BUDGET_BASE);
    ck_assert_uint_eq(s, BUDGET_BASE + 8 * MiB);
    ck_assert_int_eq(budget_check_limit("--memory-limit", 64 * MiB, a, &err), 0);
    ck_assert_int_ne(budget_check_limit("--memory-limit", 32 * MiB, a, &err), 0);
    ck_assert_msg(strstr(err.msg, "--memory-limit 32.0 MiB leaves no room for tables") == err.msg,
                  "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "the process needs 32.0 MiB") != NULL, "%s", err.msg);
    /* the size it advises is enough, and 1 MiB less than the smallest that is would not be */
    {
        const char *at = strstr(err.msg, "give at least ");
        uint64_t least;
        ck_assert_ptr_nonnull(at);
        least = size_ok(at + strlen("give at least "));
        ck_assert_int_eq(budget_check_limit("--memory-limit", least, a, &err), 0);
        ck_assert_uint_gt(budget_near(least), a);
    }
    ck_assert_int_ne(budget_check_limit("--memory-limit", 40 * MiB, s, &err), 0);
    ck_assert_int_eq(budget_check_limit("--memory-limit", 48 * MiB, s, &err), 0);
}
END_TEST

START_TEST(thresholds)
{
    ck_assert_uint_eq(budget_near(800), 700);
    ck_assert_uint_eq(budget_clear(800), 600);
    ck_assert_int_eq(budget_is_near(800, 699), 0);
    ck_assert_int_eq(budget_is_near(800, 700), 1);
    ck_assert_int_eq(budget_is_near(0, UINT64_MAX), 0); /* no budget */
}
END_TEST

START_TEST(text)
{
    char b[32];
    ck_assert_str_eq(budget_text(900, b, sizeof b), "900 B");
    ck_assert_str_eq(budget_text(1536, b, sizeof b), "1.5 KiB");
    ck_assert_str_eq(budget_text(512 * MiB, b, sizeof b), "512.0 MiB");
    ck_assert_str_eq(budget_text(3 * 1024 * MiB, b, sizeof b), "3.0 GiB");
}
END_TEST

/* The resident set grows by what a block touched here takes. */
START_TEST(rss)
{
    size_t n = 64 * MiB;
    uint64_t before = budget_rss(), after;
    char *p = malloc(n);

    ck_assert_uint_gt(before, 1 * MiB);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = (char)i;
    after = budget_rss();
    ck_assert_msg(after >= before + 60 * MiB, "RSS %llu -> %llu after touching 64 MiB",
                  (unsigned long long)before, (unsigned long long)after);
    free(p);
}
END_TEST

/* ---- shared slots ----------------------------------------------------------- */

typedef struct slot_arg_t {
    budget_t *b;
    int slot;
} slot_arg_t;

static void *APR_THREAD_FUNC write_slot(apr_thread_t *t, void *data)
{
    slot_arg_t *a = data;
    for (uint64_t i = 1; i <= 100000; i++)
        budget_set(a->b, a->slot, i);
    (void)t;
    return NULL;
}

START_TEST(slots)
{
    budget_t *b = budget_create(100 * MiB, 10 * MiB, 4, pool);
    apr_thread_t *th[4];
    slot_arg_t args[4];
    apr_status_t rv;

    ck_assert_uint_eq(budget_limit(b), 100 * MiB);
    ck_assert_uint_eq(budget_allowance_of(b), 10 * MiB);
    ck_assert_uint_eq(budget_used(b), 10 * MiB);
    budget_set(b, 2, 5 * MiB);
    ck_assert_uint_eq(budget_used(b), 15 * MiB);
    budget_set(b, 4, 1);  /* out of range: ignored */
    budget_set(b, -1, 1); /* too */
    ck_assert_uint_eq(budget_used(b), 15 * MiB);
    for (int i = 0; i < 4; i++) {
        args[i] = (slot_arg_t){b, i};
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, write_slot, &args[i], pool), APR_SUCCESS);
    }
    for (int i = 0; i < 4; i++)
        apr_thread_join(&rv, th[i]);
    ck_assert_uint_eq(budget_used(b), 10 * MiB + 4 * 100000);
}
END_TEST

/* ---- a master's jobs ----------------------------------------------------------- */

static budget_change_t step(budget_state_t *s, uint64_t limit, uint64_t used, uint64_t tables,
                            int njobs, uint64_t job, int64_t now)
{
    budget_reading_t r = {limit, used, tables, njobs};
    return budget_job_step(s, &r, job, now);
}

/* One job, limit 800 (near 700, clear 600), the allowance 100. */
START_TEST(one_job)
{
    budget_state_t s = {0, 0};

    ck_assert_int_eq(step(&s, 800, 699, 599, 1, 599, 10), BUDGET_SAME);
    ck_assert_int_eq(s.over, 0);
    ck_assert_int_eq(step(&s, 800, 700, 600, 1, 600, 20), BUDGET_ENTERED);
    ck_assert_int_eq(s.over, 1);
    ck_assert_int_eq(s.since_ms, 20);
    ck_assert_int_eq(step(&s, 800, 900, 800, 1, 800, 30), BUDGET_SAME); /* stays over */
    ck_assert_int_eq(step(&s, 800, 650, 550, 1, 550, 40), BUDGET_SAME); /* under near, over clear */
    ck_assert_int_eq(step(&s, 800, 600, 500, 1, 500, 50), BUDGET_SAME); /* at clear */
    ck_assert_int_eq(s.since_ms, 20);
    ck_assert_int_eq(step(&s, 800, 599, 499, 1, 499, 60), BUDGET_LEFT);
    ck_assert_int_eq(s.over, 0);
    ck_assert_int_eq(s.since_ms, 60);
    ck_assert_int_eq(step(&s, 800, 650, 550, 1, 550, 70), BUDGET_SAME); /* not back before near */
    /* no budget: never over, and a job over when the budget went is let go */
    ck_assert_int_eq(step(&s, 0, UINT64_MAX, 1000, 1, 1000, 80), BUDGET_SAME);
    s.over = 1;
    ck_assert_int_eq(step(&s, 0, UINT64_MAX, 1000, 1, 1000, 90), BUDGET_LEFT);
}
END_TEST

/* Two jobs: a (big) holds the memory, b (small) does not. */
START_TEST(two_jobs)
{
    budget_state_t a = {0, 0}, b = {0, 0};

    /* at near: a holds more than half of the tables, b less */
    ck_assert_int_eq(step(&a, 800, 700, 600, 2, 540, 1), BUDGET_ENTERED);
    ck_assert_int_eq(step(&b, 800, 700, 600, 2, 60, 1), BUDGET_SAME);
    /* b is served up to the limit */
    ck_assert_int_eq(step(&b, 800, 799, 699, 2, 159, 2), BUDGET_SAME);
    ck_assert_int_eq(step(&b, 800, 800, 700, 2, 160, 3), BUDGET_ENTERED);
    ck_assert_int_eq(b.since_ms, 3);
    /* under near again (a's period went): b takes frames, a (still holding most, over
     * clear) does not */
    ck_assert_int_eq(step(&a, 800, 690, 590, 2, 430, 4), BUDGET_SAME);
    ck_assert_int_eq(step(&b, 800, 690, 590, 2, 160, 4), BUDGET_LEFT);
    /* a's share falls under even while the memory is over clear: a is let go too */
    ck_assert_int_eq(step(&a, 800, 650, 550, 2, 274, 5), BUDGET_LEFT);
    ck_assert_int_eq(a.over, 0);
    /* an even share counts as holding: with three jobs, 200 of 600 */
    ck_assert_int_eq(step(&a, 800, 700, 600, 3, 200, 6), BUDGET_ENTERED);
}
END_TEST

/* A master's life: frames of three jobs (one big, two small) arrive in a
 * random order; a frame is merged only while its job is not over (as
 * merger_accept checks before it decodes), every job is stepped after each
 * merge. The accounted memory stays under the limit plus one frame's growth;
 * the small jobs are served until the memory reaches the limit, the big one
 * is refused from near on. */
START_TEST(simulated_master)
{
    const uint64_t limit = 1000 * MiB, allowance = BUDGET_BASE, frame_max = 4 * MiB;
    uint64_t bytes[3] = {0, 0, 0}, max_used = 0;
    budget_state_t st[3] = {{0, 0}, {0, 0}, {0, 0}};
    unsigned seed = 11;
    int refused[3] = {0, 0, 0}, small_refused_below_limit = 0, big_merged_over_near = 0;

    for (int i = 0; i < 200000; i++) {
        int j = (int)(rand_r(&seed) % 10) < 6 ? 0 : 1 + (int)(rand_r(&seed) % 2);
        uint64_t grow = j == 0 ? (uint64_t)rand_r(&seed) % frame_max
                               : (uint64_t)rand_r(&seed) % (frame_max / 16);
        uint64_t tables = bytes[0] + bytes[1] + bytes[2], used = allowance + tables;
        budget_reading_t r;

        if (st[j].over) {
            refused[j]++;
            if (j > 0 && used < limit)
                small_refused_below_limit++;
            continue;
        }
        if (j == 0 && used >= budget_near(limit))
            big_merged_over_near++;
        bytes[j] += grow;
        tables += grow;
        r = (budget_reading_t){limit, allowance + tables, tables, 3};
        if (r.used > max_used)
            max_used = r.used;
        for (int k = 0; k < 3; k++)
            budget_job_step(&st[k], &r, bytes[k], i);
    }
    ck_assert_msg(max_used < limit + frame_max, "memory %llu MiB over %llu MiB + a frame",
                  (unsigned long long)(max_used / MiB), (unsigned long long)(limit / MiB));
    ck_assert_int_gt(refused[0], 0);
    ck_assert_int_eq(big_merged_over_near, 0);
    ck_assert_int_eq(small_refused_below_limit, 0);
    ck_assert_int_gt(refused[1] + refused[2], 0); /* they reached the limit in the end */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("budget");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, limit_against_allowance);
    tcase_add_test(tc, thresholds);
    tcase_add_test(tc, text);
    tcase_add_test(tc, rss);
    tcase_add_test(tc, slots);
    tcase_add_test(tc, one_job);
    tcase_add_test(tc, two_jobs);
    tcase_add_test(tc, simulated_master);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    apr_initialize();
    int failed = check_run(suite());
    apr_terminate();
    return failed ? 1 : 0;
}
