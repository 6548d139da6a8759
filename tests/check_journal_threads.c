/* check_journal_threads.c - unit tests for the journal's group commit (master/journal.c):
 * commits grouped under one fsync, writer threads appending in batch mode, rotation and
 * checkpoints running while they write, and the fsync counts of the ALWAYS and NEVER modes.
 * Frames are record frames whose header names their writer and counter
 * (tests/fixture_journal.h); the oracle is each writer's own count of what it appended and
 * had committed: recovery must hand back every committed frame once, each writer's in
 * order, with the fsync counts the modes promise. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>

#include "check_run.h"
#include "buf.h"
#include "frame.h"
#include "journal.h"

#define FIXTURE_SUITE "check_journal_threads"
#include "fixture_journal.h"

START_TEST(test_commit_groups)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_stats_t st;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    abbey_err_t err;
    uint64_t t[5];

    for (int i = 0; i < 5; i++)
        t[i] = append(j, 0, i, 0);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.fsyncs, 0);
    ck_assert_int_eq(journal_commit(j, t[4], &err), APR_SUCCESS);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.fsyncs, 1); /* one fsync for the five */
    ck_assert_int_eq(journal_commit(j, t[2], &err), APR_SUCCESS);
    ck_assert_int_eq(journal_commit(j, 0, &err), APR_SUCCESS);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.fsyncs, 1);
    /* a ticket never issued */
    ck_assert_int_eq(journal_commit(j, t[4] + 1, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "never issued") != NULL, "%s", err.msg);
    /* rotation makes the old segment durable only when it has unsynced frames */
    rotate(j);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.fsyncs, 1);
    append(j, 0, 5, 0);
    rotate(j);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.fsyncs, 2);
    ck_assert_int_eq(journal_commit(j, t[4] + 1, &err), APR_SUCCESS); /* covered by it */
    journal_stats(j, &st);
    ck_assert_uint_eq(st.fsyncs, 2);
    ck_assert_int_eq(st.failed, 0);
    journal_close(j);
}
END_TEST

/* ---- threads -------------------------------------------------------------------- */

enum { NTHREADS = 4, PER_THREAD = 200 };

typedef struct thr_t {
    journal_t *j;
    int id;
    pthread_mutex_t *state; /* held across each append when set */
    int *counts;            /* the state: frames appended per writer */
    int failed;
    char msg[ABBEY_ERR_MAX + 64];
} thr_t;

static void *writer(void *arg)
{
    thr_t *t = arg;
    buf_t f;
    abbey_err_t err;
    buf_init(&f);
    for (int i = 0; i < PER_THREAD && !t->failed; i++) {
        uint64_t ticket = 0;
        apr_status_t rv;
        buf_reset(&f);
        make_frame(t->id, i, (size_t)(i % 50), &f);
        if (t->state)
            pthread_mutex_lock(t->state);
        rv = journal_append(t->j, f.data, f.len, &ticket, &err);
        if (t->state) {
            t->counts[t->id] = i + 1;
            pthread_mutex_unlock(t->state);
        }
        if (rv == APR_SUCCESS)
            rv = journal_commit(t->j, ticket, &err);
        if (rv != APR_SUCCESS) {
            t->failed = 1;
            snprintf(t->msg, sizeof t->msg, "writer %d frame %d: %s", t->id, i, err.msg);
        }
    }
    buf_free(&f);
    return NULL;
}

static void run_writers(journal_t *j, thr_t *t, pthread_t *tid, pthread_mutex_t *state, int *counts)
{
    for (int k = 0; k < NTHREADS; k++) {
        t[k] = (thr_t){.j = j, .id = k, .state = state, .counts = counts};
        ck_assert_int_eq(pthread_create(&tid[k], NULL, writer, &t[k]), 0);
    }
}

static void join_writers(thr_t *t, pthread_t *tid)
{
    for (int k = 0; k < NTHREADS; k++) {
        ck_assert_int_eq(pthread_join(tid[k], NULL), 0);
        ck_assert_msg(!t[k].failed, "%s", t[k].msg);
    }
}

/* Every writer's frames from next[w] on, in order, to PER_THREAD. */
static void expect_writers(const got_t *g, int from, int *next)
{
    for (int k = from; k < g->n; k++) {
        const item_t *x = &g->it[k];
        ck_assert_int_eq(x->ckpt, 0);
        ck_assert_uint_lt(x->w, NTHREADS);
        ck_assert_uint_eq(x->i, (uint64_t)next[x->w]);
        next[x->w]++;
    }
    for (int w = 0; w < NTHREADS; w++)
        ck_assert_int_eq(next[w], PER_THREAD);
}

START_TEST(test_batch_threads)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_stats_t st;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    thr_t t[NTHREADS];
    pthread_t tid[NTHREADS];
    int next[NTHREADS] = {0};

    run_writers(j, t, tid, NULL, NULL);
    join_writers(t, tid);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.appended_frames, NTHREADS * PER_THREAD);
    ck_assert_msg(st.fsyncs < NTHREADS * PER_THREAD, "no grouping: %llu fsyncs for %d frames",
                  (unsigned long long)st.fsyncs, NTHREADS * PER_THREAD);
    ck_assert_uint_gt(st.fsyncs, 0);
    journal_close(j);
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    ck_assert_int_eq(g->n, NTHREADS * PER_THREAD);
    expect_writers(g, 0, next);
    journal_close(j);
}
END_TEST

/* The record bytes of the first frame of file (a checkpoint): n bytes into out. */
static void read_counts(const char *file, void *out, size_t n)
{
    uint8_t buf[4096], *data;
    size_t len, dlen;
    frame_header_t h;
    abbey_err_t err;
    apr_pool_t *p;
    FILE *f = fopen(path_of(file), "rb");

    ck_assert_ptr_nonnull(f);
    len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    apr_pool_create(&p, pool);
    ck_assert_msg(frame_record(buf, len, p, &h, &data, &dlen, NULL, &err) == APR_SUCCESS, "%s",
                  err.msg);
    ck_assert_uint_eq(dlen, n);
    memcpy(out, data, n);
    apr_pool_destroy(p);
}

/* Writers hold a state lock across their appends; checkpoints serialize that state
 * under the same lock right after rotating: recovery must give each writer's frames
 * exactly from where the checkpoint's state left off. */
START_TEST(test_rotate_while_writing)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    thr_t t[NTHREADS];
    pthread_t tid[NTHREADS];
    pthread_mutex_t state = PTHREAD_MUTEX_INITIALIZER;
    int counts[NTHREADS] = {0}, next[NTHREADS], done, nckpt = 0;
    abbey_err_t err;

    run_writers(j, t, tid, &state, counts);
    do {
        frame_header_t h;
        buf_t b;
        uint64_t seq;
        buf_init(&b);
        memset(&h, 0, sizeof h);
        h.round = 100;
        pthread_mutex_lock(&state);
        seq = journal_rotate(j, &err);
        ck_assert_msg(seq != 0, "%s", err.msg);
        ck_assert_int_eq(frame_encode_record(&h, counts, sizeof counts, &b, &err), APR_SUCCESS);
        done = 1;
        for (int k = 0; k < NTHREADS; k++)
            done &= counts[k] == PER_THREAD;
        pthread_mutex_unlock(&state);
        ck_assert_msg(journal_checkpoint(j, seq, b.data, b.len, &err) == APR_SUCCESS, "%s",
                      err.msg);
        buf_free(&b);
        nckpt++;
        usleep(2000); /* let frames gather between checkpoints (not a timing assertion) */
    } while (!done && nckpt < 1000);
    join_writers(t, tid);
    journal_close(j);

    /* the checkpoint's counts, then the rest of each writer's frames */
    g = new_got();
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    ck_assert_uint_eq(rs.checkpoint_frames, 1);
    ck_assert_int_ge(g->n, 1);
    ck_assert_int_eq(g->it[0].ckpt, 1);
    read_counts(g->it[0].file, next, sizeof next);
    expect_writers(g, 1, next);
    journal_close(j);
}
END_TEST

START_TEST(test_always_and_never)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_stats_t st;
    journal_t *j = recover(JOURNAL_FSYNC_ALWAYS, g, &rs);
    abbey_err_t err;
    uint64_t t = 0;

    for (int i = 0; i < 20; i++)
        t = append(j, 0, i, 0);
    ck_assert_int_eq(journal_commit(j, t, &err), APR_SUCCESS);
    rotate(j);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.fsyncs, 20);
    ck_assert_uint_eq(st.appended_frames, 20);
    journal_close(j);

    j = recover(JOURNAL_FSYNC_NEVER, g, &rs);
    ck_assert_int_eq(g->n, 20);
    for (int i = 20; i < 40; i++)
        t = append(j, 0, i, 0);
    ck_assert_int_eq(journal_commit(j, t, &err), APR_SUCCESS);
    checkpoint(j, rotate(j), 2); /* checkpoints are still written (and fsynced) */
    append(j, 0, 40, 0);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.fsyncs, 0);
    ck_assert_uint_eq(st.checkpoints, 1);
    journal_close(j);
    j = recover(JOURNAL_FSYNC_BATCH, new_got(), &rs);
    ck_assert_uint_eq(rs.checkpoint_frames, 2);
    ck_assert_uint_eq(rs.frames, 1);
    journal_close(j);
}
END_TEST

static Suite *journal_threads_suite(void)
{
    Suite *su = suite_create("journal_threads");
    TCase *tc;

    tc = tcase_create("durability");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_commit_groups);
    tcase_add_test(tc, test_batch_threads);
    tcase_add_test(tc, test_rotate_while_writing);
    tcase_add_test(tc, test_always_and_never);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    int failed = check_run(journal_threads_suite());
    free(got_storage.it);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
