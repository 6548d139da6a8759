/* check_slave_spool.c - unit tests for the slave's spool (slave/spool.c and its use in
 * deliver.c and worker.c): a frame a master answers 503 is spooled whole and re-delivered
 * later, 409 answers that cover the range or not, a restart resuming the spool, damaged
 * spool files skipped, a spool that cannot append (the lease not completed), a 400 never
 * spooled, and the re-delivery thread. The fake primary and masters are
 * tests/fixture_slave.h; oracles: the spool's files read with frame_peek (not the spool's
 * code), the frames and answers the fake masters recorded, and line counts computed from
 * the generated text. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "deliver.h"
#include "frame.h"
#include "hclient.h"
#include "httpd.h"
#include "instance.h"
#include "slave.h"
#include "source.h"
#include "spool.h"
#include "value.h"

#define FIXTURE_SUITE "check_slave_spool"
#define FIXTURE_SLAVE_WORKER
#include "fixture_slave.h"

/* ================================================================== spool */

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The frames of a spool file, read with frame_peek (not the spool's code):
 * their headers into h (at most max); -1 when the file is not whole frames. */
static int file_frames(const char *path, frame_header_t *h, int max)
{
    long n = file_size(path);
    const uint8_t *data = (const uint8_t *)slurp(path, 0, NULL);
    size_t off = 0, len;
    abbey_err_t err;
    int count = 0;
    while (off < (size_t)n) {
        frame_header_t tmp;
        if (frame_peek(data + off, (size_t)n - off, count < max ? &h[count] : &tmp, &len, &err) !=
            APR_SUCCESS)
            return -1;
        off += len;
        count++;
    }
    return count;
}

/* Run lease id over p with m2 answering 503 to both tries: spooled. */
static void spool_one(worker_t *w, uint64_t id, const char *p)
{
    int n0 = fake.nframes;
    fake.script[1].fail503 = 2;
    queue_lease(id, "read", p, "", 0, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, n0 + 3); /* m1, m2 503, m2 503 */
    ck_assert_int_eq(fake.frames[n0 + 1].answered, 503);
    ck_assert_int_eq(fake.frames[n0 + 2].answered, 503);
}

/* m2 answers 503: its frame is spooled (whole, fsync'ed), the lease completes
 * with "spooled" for m2 and "ok" for m1; the backlog goes to the primary; the
 * re-delivery pass backs off while m2 fails, then delivers it and deletes the
 * segment. */
START_TEST(spool_503_spooled_then_redelivered)
{
    const char *p = tpath("sp.log"), *text = gen_log(30, ""), *dir = tpath("spool"), *src;
    const char *files[4];
    uint64_t end = strlen(text);
    slave_t *s;
    worker_t *w;
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    frame_header_t h[4];
    spool_backlog_t b;
    json_t *c, *sp;
    long fsz;

    put_file(p, "w", text);
    src = apr_pstrcat(pool, p, "#", stat_instance(p, 0), NULL);
    s = new_slave(1, dir);
    w = worker_create(s, 0);
    spool_one(w, 60, p);
    c = completion(0);
    ck_assert_str_eq(jstr(json_object_get(c, "deliveries"), "m1"), "ok");
    ck_assert_str_eq(jstr(json_object_get(c, "deliveries"), "m2"), "spooled");
    ck_assert_int_eq(jint(c, "end"), (int64_t)end);
    json_decref(c);
    ck_assert_int_eq(spool_files(dir, "m1", files, 4), 0);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    ck_assert_ptr_nonnull(strstr(files[0], "/m2/t-"));
    ck_assert_int_eq(file_frames(files[0], h, 4), 1);
    ck_assert_str_eq(h[0].master, "m2");
    ck_assert_str_eq(h[0].source, src);
    ck_assert_uint_eq(h[0].start, 0);
    ck_assert_uint_eq(h[0].end, end);
    fsz = file_size(files[0]);
    spool_backlog(s->spool, slave_now_ms(), &b);
    ck_assert_uint_eq(b.frames, 1);
    ck_assert_uint_eq(b.bytes, (uint64_t)fsz);
    /* the next lease request carries the backlog */
    ck_assert_int_eq(worker_once(w), 0);
    c = json_loads(fake.lease_body, 0, NULL);
    ck_assert_ptr_nonnull(c);
    sp = json_object_get(c, "spool");
    ck_assert_int_eq(jint(sp, "frames"), 1);
    ck_assert_int_eq(jint(sp, "bytes"), fsz);
    ck_assert_int_ge(jint(sp, "oldest_ms"), 0);
    json_decref(c);
    /* re-delivery on a driven clock: 503 -> backed off 1 s */
    fake.script[1].fail503 = 1;
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 1000000);
    ck_assert_int_eq(fake.nframes, 4);
    ck_assert_int_eq(fake.frames[3].answered, 503);
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 1000999);
    ck_assert_int_eq(fake.nframes, 4); /* still backed off */
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 1001000);
    ck_assert_int_eq(fake.nframes, 5);
    ck_assert_int_eq(fake.frames[4].answered, 200);
    check_frame(&fake.frames[4], "m2", src, text, 0, end);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 0);
    spool_backlog(s->spool, slave_now_ms(), &b);
    ck_assert_uint_eq(b.frames, 0);
    ck_assert_uint_eq(b.bytes, 0);
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 1002000);
    ck_assert_int_eq(fake.nframes, 5); /* nothing is sent twice */
    /* a later spooled frame goes to a new segment, which is delivered too */
    spool_one(w, 61, p);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 1003000);
    ck_assert_int_eq(fake.nframes, 9);
    ck_assert_int_eq(fake.frames[8].answered, 200);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 0);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* 409 on re-delivery: covering ranges acknowledge the frame (segment deleted);
 * ranges covering only part of it hold it (kept, logged, not sent again). */
START_TEST(spool_409_covering_and_not)
{
    const char *p = tpath("c.log"), *text = gen_log(20, ""), *dir = tpath("spool");
    const char *files[4];
    uint64_t end = strlen(text);
    slave_t *s = new_slave(1, dir);
    worker_t *w = worker_create(s, 0);
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    spool_backlog_t b;

    put_file(p, "w", text);
    spool_one(w, 62, p);
    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict, "[[0,10],[5,%" PRIu64 "]]",
             end + 100);
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 5000);
    ck_assert_int_eq(fake.nframes, 4);
    ck_assert_int_eq(fake.frames[3].answered, 409);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 0);
    ck_assert(log_has("they cover the frame"));
    /* now a conflict that leaves [10, 20) uncovered */
    spool_one(w, 63, p);
    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict, "[[0,10],[20,%" PRIu64 "]]",
             end);
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 6000);
    ck_assert_int_eq(fake.nframes, 8);
    ck_assert_int_eq(fake.frames[7].answered, 409);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    ck_assert(log_has("[[0,10],[20,"));
    spool_backlog(s->spool, slave_now_ms(), &b);
    ck_assert_uint_eq(b.frames, 0);
    ck_assert_uint_eq(b.held, 1);
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 0, 7000);
    ck_assert_int_eq(fake.nframes, 8); /* held: not sent again */
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* Progress survives a restart: one frame of two delivered, then a new spool
 * over the same directory sends only the second. */
START_TEST(spool_restart_resumes)
{
    const char *p = tpath("r.log"), *text = gen_log(20, ""), *dir = tpath("spool"), *files[4];
    slave_t *s = new_slave(1, dir);
    worker_t *w = worker_create(s, 0);
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    apr_pool_t *sub;
    spool_t *sp2;
    spool_backlog_t b;
    abbey_err_t err;
    uint64_t cut = last_nl(text, 100);

    put_file(p, "w", text);
    spool_one(w, 64, p);
    /* a second frame, of [cut, end), in the same segment */
    fake.script[1].fail503 = 2;
    queue_lease(65, "read", p, stat_instance(p, 0), cut, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 6);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    spool_redeliver_pass(s->spool, hc, test_cfg, fake_base, 1, 1000); /* one frame */
    ck_assert_int_eq(fake.nframes, 7);
    ck_assert_uint_eq(fake.frames[6].start, 0);
    worker_destroy(w);
    slave_join(s);
    /* "restart": a new spool on the same directory */
    ck_assert_int_eq(apr_pool_create(&sub, pool), APR_SUCCESS);
    ck_assert_int_eq(spool_open(dir, 0, 2000, sub, &sp2, &err), APR_SUCCESS);
    spool_backlog(sp2, 2000, &b);
    ck_assert_uint_eq(b.frames, 1);
    spool_redeliver_pass(sp2, hc, test_cfg, fake_base, 0, 2000);
    ck_assert_int_eq(fake.nframes, 8);
    ck_assert_uint_eq(fake.frames[7].start, cut);
    ck_assert_uint_eq(fake.frames[7].end, strlen(text));
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 0);
    apr_pool_destroy(sub);
}
END_TEST

/* A segment with garbage between two frames: both frames delivered, the
 * damage logged with the file and byte offsets. */
START_TEST(spool_damage_skipped)
{
    const char *p = tpath("d.log"), *text = gen_log(20, ""), *dir = tpath("spool"), *files[4];
    slave_t *s = new_slave(1, dir);
    worker_t *w = worker_create(s, 0);
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    apr_pool_t *sub;
    spool_t *sp2;
    abbey_err_t err;
    long n;
    char *data, expect[512];
    FILE *f;

    put_file(p, "w", text);
    spool_one(w, 66, p);
    worker_destroy(w);
    slave_join(s);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    n = file_size(files[0]);
    data = slurp(files[0], 0, NULL);
    f = fopen(files[0], "ab"); /* frame, 37 bytes of garbage, the frame again */
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 37; i++)
        fputc('z', f);
    ck_assert_int_eq((long)fwrite(data, 1, (size_t)n, f), n);
    fclose(f);
    ck_assert_int_eq(apr_pool_create(&sub, pool), APR_SUCCESS);
    ck_assert_int_eq(spool_open(dir, 0, 1000, sub, &sp2, &err), APR_SUCCESS);
    spool_redeliver_pass(sp2, hc, test_cfg, fake_base, 0, 1000);
    ck_assert_int_eq(fake.nframes, 5);
    ck_assert_int_eq(fake.frames[3].answered, 200);
    ck_assert_int_eq(fake.frames[4].answered, 200);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 0);
    snprintf(expect, sizeof expect, "bytes [%ld, %ld) damaged", n, n + 37);
    ck_assert_msg(log_has(expect), "no '%s' in the log", expect);
    apr_pool_destroy(sub);
}
END_TEST

/* The spool cannot take the frame (RLIMIT_FSIZE in a forked child: EFBIG):
 * a loud line naming the file, the lease is not completed, no partial frame
 * stays in the file. */
START_TEST(spool_append_failure_not_completed)
{
    const char *p = tpath("f.log"), *text = gen_log(30, ""), *dir = tpath("spool"), *files[4];
    const char *line;
    char out[16384];
    int status, fds[2];
    ssize_t got;
    pid_t pid;

    put_file(p, "w", text);
    fake.script[1].fail503 = 2;
    queue_lease(67, "read", p, "", 0, 1 << 20);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
        slave_t *s;
        worker_t *w;
        abbey_err_t err;
        dup2(fds[1], 2); /* the log into a pipe: not subject to the file size limit */
        close(fds[0]);
        close(fds[1]);
        signal(SIGXFSZ, SIG_IGN);
        s = new_slave(1, NULL);
        s->opts.spool_dir = dir;
        if (slave_spool_open(s, &err) != APR_SUCCESS)
            _exit(3);
        setrlimit(RLIMIT_FSIZE, &rl);
        w = worker_create(s, 0);
        fprintf(stderr, "[child: worker_once %d]\n", worker_once(w));
        _exit(0); /* (under valgrind the exit status also carries its leak verdict on the
                     parent's threads, absent in the child: the result goes by the pipe) */
    }
    close(fds[1]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    got = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    out[got > 0 ? got : 0] = '\0';
    ck_assert(WIFEXITED(status));
    ck_assert_msg(strstr(out, "[child: worker_once 1]") != NULL, "child: %s", out);
    ck_assert_int_eq(fake.nframes, 3);
    ck_assert_int_eq(fake.ncompletes, 0);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    ck_assert_int_eq(file_size(files[0]), 0);
    line = strstr(out, "SPOOL FAILED");
    ck_assert_msg(line != NULL, "no loud line");
    ck_assert_ptr_nonnull(strstr(line, files[0]));
    ck_assert_ptr_nonnull(strstr(line, "lease 67 stays unacknowledged"));
}
END_TEST

/* A 400 is not spooled (the master refuses the frame itself). */
START_TEST(spool_400_not_spooled)
{
    const char *p = tpath("b.log"), *dir = tpath("spool"), *files[4];
    slave_t *s = new_slave(1, dir);
    worker_t *w = worker_create(s, 0);

    put_file(p, "w", gen_log(5, ""));
    fake.script[1].refuse400 = 1;
    queue_lease(68, "read", p, "", 0, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 2);
    ck_assert_int_eq(fake.frames[1].answered, 400);
    ck_assert_int_eq(fake.ncompletes, 0);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 0);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* The re-delivery thread of a started slave empties the spool by itself. */
START_TEST(spool_thread_redelivers)
{
    const char *p = tpath("t.log"), *dir = tpath("spool"), *files[4];
    slave_t *s = new_slave(1, dir);
    worker_t *w = worker_create(s, 0);
    abbey_err_t err;
    int left = 1;

    put_file(p, "w", gen_log(10, ""));
    spool_one(w, 69, p);
    worker_destroy(w);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    s->opts.workers = 1;
    ck_assert_int_eq(slave_start(s, &err), APR_SUCCESS);
    for (int i = 0; i < 500 && left; i++) { /* at most 5 s */
        usleep(10000);
        left = spool_files(dir, "m2", files, 4);
    }
    slave_request_stop(s);
    slave_join(s);
    ck_assert_int_eq(left, 0);
    ck_assert_int_eq(fake.nframes, 4);
    ck_assert_int_eq(fake.frames[3].answered, 200);
}
END_TEST

static Suite *slave_spool_suite(void)
{
    Suite *s = suite_create("slave_spool");
    TCase *tc;

    tc = tcase_create("spool");
    tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, spool_503_spooled_then_redelivered);
    tcase_add_test(tc, spool_409_covering_and_not);
    tcase_add_test(tc, spool_restart_resumes);
    tcase_add_test(tc, spool_damage_skipped);
    tcase_add_test(tc, spool_append_failure_not_completed);
    tcase_add_test(tc, spool_400_not_spooled);
    tcase_add_test(tc, spool_thread_redelivers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    hclient_global_init();
    failed = check_run(slave_spool_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
