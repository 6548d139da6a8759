/* check_framelog.c - unit tests for files of frames (common/framelog.c): appending (with
 * and without sync), frames bigger than the read block, a file size limit hit during an
 * append (RLIMIT_FSIZE in a child), and walks from a non-zero offset; damaged files are
 * tests/check_framelog_damage.c.
 *
 * Frames are real ones (frame_encode over partials a small split-format job was fed:
 * tests/fixture_framelog.h). The oracle is the bytes the test itself put in the file: the
 * offsets are running sums of the frames' lengths, and damaged ranges are where the test
 * cut or started. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>

#include "check_run.h"
#include "buf.h"
#include "frame.h"
#include "framelog.h"

#define FIXTURE_SUITE "check_framelog"
#include "fixture_framelog.h"

/* ---- appending ---------------------------------------------------------- */

START_TEST(test_append_walk)
{
    enum { N = 20 };
    const char *path = path_in("a/b/spool.abf");
    framelog_writer_t *w;
    framelog_stats_t st;
    abbey_err_t err;
    uint64_t off[N + 1], cut = 99;
    buf_t all, f;
    seen_t *s = new_seen();
    struct stat sb;

    build(N, &all, off);
    ck_assert_msg(framelog_open(path, pool, &w, &cut, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert_uint_eq(cut, 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_uint_eq(framelog_size(w), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(framelog_append(w, all.data + off[i], off[i + 1] - off[i], i % 2, &err) ==
                          APR_SUCCESS,
                      "%s", err.msg);
        ck_assert_uint_eq(framelog_size(w), off[i + 1]);
    }
    ck_assert_int_eq(framelog_sync(w, &err), APR_SUCCESS);
    /* not one whole frame: refused, file unchanged */
    ck_assert_int_eq(framelog_append(w, all.data, off[1] - 1, 1, &err), APR_EINVAL);
    ck_assert_int_eq(framelog_append(w, all.data, off[2], 1, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_uint_eq(framelog_size(w), all.len);
    framelog_close(w);
    ck_assert_uint_eq(file_size(path), all.len);

    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, N);
    expect_frames(s, 0, off, 0, N);
    ck_assert_int_eq(s->ndamage, 0);
    ck_assert_uint_eq(st.frames, N);
    ck_assert_uint_eq(st.bytes, all.len);
    ck_assert_uint_eq(st.damaged, 0);
    ck_assert_uint_eq(st.damaged_bytes, 0);
    ck_assert_int_eq(st.torn_tail, 0);

    /* reopening a clean file cuts nothing and appends after the end */
    buf_init(&f);
    make_frame(N, 0, &f);
    ck_assert_msg(framelog_open(path, pool, &w, &cut, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert_uint_eq(cut, 0);
    ck_assert_uint_eq(framelog_size(w), all.len);
    ck_assert_int_eq(framelog_append(w, f.data, f.len, 1, &err), APR_SUCCESS);
    framelog_close(w);
    memset(s, 0, sizeof *s);
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, N + 1);
    ck_assert_uint_eq(s->off[N], all.len);
    ck_assert_uint_eq(s->round[N], N);
    ck_assert_uint_eq(st.bytes, all.len + f.len);

    /* a callback that says stop ends the walk there */
    memset(s, 0, sizeof *s);
    s->stop_after = 3;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, 3);
    ck_assert_uint_eq(st.frames, 3);
    buf_free(&f);
    buf_free(&all);
}
END_TEST

/* Many frames across several read blocks, and a frame bigger than a block. */
START_TEST(test_blocks_and_big_frame)
{
    const char *path = path_in("big.abf");
    framelog_writer_t *w;
    framelog_stats_t st;
    abbey_err_t err;
    buf_t small, big, all;
    seen_t *s = new_seen();
    int nsmall = 0;

    buf_init(&small);
    buf_init(&big);
    buf_init(&all);
    make_frame(3, 0, &small);
    make_frame(7, 150000, &big);
    ck_assert_uint_gt(big.len, 1u << 20); /* bigger than the walker's block */
    ck_assert_msg(framelog_open(path, pool, &w, NULL, &err) == APR_SUCCESS, "%s", err.msg);
    while (all.len < (3u << 20)) {
        if (nsmall == 2000) {
            ck_assert_int_eq(framelog_append(w, big.data, big.len, 0, &err), APR_SUCCESS);
            buf_put(&all, big.data, big.len);
        }
        ck_assert_int_eq(framelog_append(w, small.data, small.len, 0, &err), APR_SUCCESS);
        buf_put(&all, small.data, small.len);
        nsmall++;
    }
    framelog_close(w);
    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, nsmall + 1);
    ck_assert_int_eq(s->ndamage, 0);
    ck_assert_uint_eq(st.bytes, all.len);
    for (int i = 0, at = 0; i < s->nframes; i++) {
        int is_big = i == 2000;
        ck_assert_uint_eq(s->off[i], (uint64_t)at);
        ck_assert_uint_eq(s->len[i], is_big ? big.len : small.len);
        ck_assert_uint_eq(s->round[i], is_big ? 7 : 3);
        ck_assert(s->same[i]);
        at += (int)s->len[i];
    }
    buf_free(&small);
    buf_free(&big);
    buf_free(&all);
}
END_TEST

/* ---- out of space ------------------------------------------------------- */

/* In a child (file size limits are per process): append 3 frames, lower the
 * limit to the middle of the 4th, append it, check the failure; write what
 * went wrong to fd and exit non-zero. */
static int efbig_child(const char *path, const buf_t *all, const uint64_t *off, int fd)
{
    framelog_writer_t *w;
    abbey_err_t err;
    struct rlimit rl;
    apr_status_t rv;
    char msg[ABBEY_ERR_MAX + 64] = "";

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(msg, sizeof msg, __VA_ARGS__);                                                    \
        if (write(fd, msg, strlen(msg)) < 0)                                                       \
            return 9;                                                                              \
        return 1;                                                                                  \
    } while (0)

    signal(SIGXFSZ, SIG_IGN);
    if (framelog_open(path, pool, &w, NULL, &err) != APR_SUCCESS)
        FAIL("open: %s", err.msg);
    for (int i = 0; i < 3; i++)
        if (framelog_append(w, all->data + off[i], off[i + 1] - off[i], 1, &err) != APR_SUCCESS)
            FAIL("append %d: %s", i, err.msg);
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = (rlim_t)(off[3] + (off[4] - off[3]) / 2);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        FAIL("setrlimit: %s", strerror(errno));
    rv = framelog_append(w, all->data + off[3], off[4] - off[3], 1, &err);
    if (rv != APR_FROM_OS_ERROR(EFBIG))
        FAIL("append past the limit returned %d, not EFBIG: %s", rv, err.msg);
    if (!strstr(err.msg, path) || !strstr(err.msg, "file size limit reached"))
        FAIL("message does not name the path and the limit: %s", err.msg);
    if (framelog_size(w) != off[3])
        FAIL("size %llu after the failed append", (unsigned long long)framelog_size(w));
    {
        struct stat sb;
        if (stat(path, &sb) != 0 || (uint64_t)sb.st_size != off[3])
            FAIL("file is %lld bytes after the failed append, not %llu", (long long)sb.st_size,
                 (unsigned long long)off[3]);
    }
    /* room again: the next append goes right after the last whole frame */
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        FAIL("setrlimit back: %s", strerror(errno));
    if (framelog_append(w, all->data + off[4], off[5] - off[4], 1, &err) != APR_SUCCESS)
        FAIL("append after the limit was raised: %s", err.msg);
    framelog_close(w);
    return 0;
#undef FAIL
}

START_TEST(test_file_size_limit)
{
    enum { N = 5 };
    const char *path = path_in("limit/spool.abf");
    uint64_t off[N + 1];
    framelog_stats_t st;
    buf_t all;
    seen_t *s = new_seen();
    int pfd[2], status;
    char msg[2048];
    ssize_t n;
    pid_t pid;

    build(N, &all, off);
    ck_assert_int_eq(pipe(pfd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int rc;
        close(pfd[0]);
        rc = efbig_child(path, &all, off, pfd[1]);
        buf_free(&all); /* leave nothing for valgrind's leak check of the child */
        _exit(rc);
    }
    close(pfd[1]);
    n = read(pfd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child (status 0x%x): %s", status,
                  msg);

    /* the file: frames 0, 1, 2 and 4, nothing else */
    s->oracle = NULL;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, 4);
    ck_assert_int_eq(s->ndamage, 0);
    ck_assert_uint_eq(s->round[2], 2);
    ck_assert_uint_eq(s->round[3], 4);
    ck_assert_uint_eq(s->off[3], off[3]);
    ck_assert_uint_eq(st.bytes, off[3] + off[5] - off[4]);
    buf_free(&all);
}
END_TEST

/* ---- walking from an offset -------------------------------------------- */

START_TEST(test_walk_from_offset)
{
    enum { N = 6 };
    const char *path = path_in("from.abf");
    uint64_t off[N + 1];
    framelog_stats_t st;
    buf_t all;
    seen_t *s = new_seen();

    build(N, &all, off);
    write_file(path, all.data, all.len);
    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, off[2], s, &st);
    ck_assert_int_eq(s->nframes, N - 2);
    expect_frames(s, 0, off, 2, N);
    ck_assert_int_eq(s->ndamage, 0);
    ck_assert_uint_eq(st.bytes, all.len - off[2]);

    /* from the middle of frame 1: its rest is damage, then frames 2.. */
    memset(s, 0, sizeof *s);
    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, off[1] + 5, s, &st);
    ck_assert_int_eq(s->ndamage, 1);
    ck_assert_uint_eq(s->dstart[0], off[1] + 5);
    ck_assert_uint_eq(s->dend[0], off[2]);
    expect_frames(s, 0, off, 2, N);

    /* at and past the end: nothing */
    memset(s, 0, sizeof *s);
    walk(path, all.len, s, &st);
    ck_assert_int_eq(s->nframes + s->ndamage, 0);
    walk(path, all.len + 100, s, &st);
    ck_assert_int_eq(s->nframes + s->ndamage, 0);
    ck_assert_uint_eq(st.frames + st.damaged, 0);
    buf_free(&all);
}
END_TEST

static Suite *framelog_suite(void)
{
    Suite *su = suite_create("framelog");
    TCase *tc = tcase_create("append");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_append_walk);
    tcase_add_test(tc, test_blocks_and_big_frame);
    tcase_add_test(tc, test_file_size_limit);
    suite_add_tcase(su, tc);

    tc = tcase_create("walk");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_walk_from_offset);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    int failed;
    failed = check_run(framelog_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
