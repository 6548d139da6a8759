/* check_sched_persist_store.c - unit tests for the scheduler's store (master/sched_ckpt.c,
 * master/sched_recover.c): when a checkpoint is due (never written, a round closed, a
 * config change, not a mere completion), journal records and checkpoints that do not read
 * back (skipped, or recovery stopped with the field named, as for an open round whose due
 * count disagrees), and a journal that cannot write (RLIMIT_FSIZE in a child: the
 * completion refused with the offset and lease kept, HTTP 503 for completions and leases).
 * The clock is driven by hand over the config of tests/fixture_sched.h
 * (FIXTURE_SCHED_PERSIST: jobs web and api); the oracle is the state the test set up by
 * hand: sched_checkpoint_due after each step, the records the test wrote into the store
 * itself, and the task's offset and instance read back from a new scheduler recovered from
 * the same directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "frame.h"
#include "journal.h"
#include "rules.h"
#include "sched_int.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_sched_persist_store"
#define FIXTURE_SCHED_PERSIST
#include "fixture_sched.h"

START_TEST(test_checkpoint_due)
{
    inst_t in;
    sched_lease_t all[16];
    inst_open(&in, cfg, T0);
    ck_assert_int_eq(sched_checkpoint_due(in.s), 1); /* never written */
    checkpoint(&in);
    ck_assert_int_eq(sched_checkpoint_due(in.s), 0);
    /* a completion that closes nothing: still not due */
    int n = lease(in.s, "s1", 16, T0 + 1, all);
    ck_assert_int_eq(n, 4);
    OK(done(in.s, "s1", find(all, n, A)->id, "i", 0, 10, 0, NULL, T0 + 2));
    ck_assert_int_eq(sched_checkpoint_due(in.s), 0);
    /* c at its end closes api's round */
    OK(done(in.s, "s1", find(all, n, C)->id, "c", 0, 10, 1, NULL, T0 + 3));
    ck_assert_int_eq(sched_checkpoint_due(in.s), 1);
    checkpoint(&in);
    ck_assert_int_eq(sched_checkpoint_due(in.s), 0);
    /* web's round closes at its deadline, at a tick; a round starting is not enough */
    sched_tick(in.s, T0 + 3 * RMS - 1);
    ck_assert_int_eq(sched_checkpoint_due(in.s), 0);
    sched_tick(in.s, T0 + 3 * RMS);
    ck_assert_int_eq(sched_checkpoint_due(in.s), 1);
    checkpoint(&in);
    ck_assert_int_eq(sched_checkpoint_due(in.s), 0);
    /* a config change */
    sched_set_config(in.s, cfg_web);
    ck_assert_int_eq(sched_checkpoint_due(in.s), 1);
    checkpoint(&in);
    ck_assert_int_eq(sched_checkpoint_due(in.s), 0);
    inst_drop(&in);
}
END_TEST

static int no_frame(void *ctx, const char *file, uint64_t offset, const uint8_t *frame, size_t len,
                    const frame_header_t *h)
{
    return 0;
}

/* Write one record frame with payload text into a fresh store: as a journal
 * record (ckpt 0) or as a checkpoint (1). */
static void write_raw(const char *text, int ckpt)
{
    apr_pool_t *p;
    journal_t *jn;
    abbey_err_t err;
    frame_header_t h;
    buf_t b;
    uint64_t ticket;
    apr_pool_create(&p, pool);
    ck_assert_int_eq(journal_open(dir, "sched", JOURNAL_FSYNC_BATCH, p, &jn, &err), APR_SUCCESS);
    ck_assert_int_eq(journal_recover(jn, no_frame, no_frame, NULL, NULL, &err), APR_SUCCESS);
    memset(&h, 0, sizeof h);
    buf_init(&b);
    ck_assert_int_eq(frame_encode_record(&h, text, strlen(text), &b, &err), APR_SUCCESS);
    if (ckpt) {
        uint64_t seq = journal_rotate(jn, &err);
        ck_assert_uint_gt(seq, 0);
        ck_assert_int_eq(journal_checkpoint(jn, seq, b.data, b.len, &err), APR_SUCCESS);
    } else {
        ck_assert_int_eq(journal_append(jn, b.data, b.len, &ticket, &err), APR_SUCCESS);
        ck_assert_int_eq(journal_commit(jn, ticket, &err), APR_SUCCESS);
    }
    buf_free(&b);
    journal_close(jn);
    apr_pool_destroy(p);
}

/* A checkpoint that does not read back whole stops recovery with the field named;
 * a journal record that does not is skipped (logged). */
START_TEST(test_bad_records)
{
    inst_t in;
    abbey_err_t err;
    write_raw("{\"type\":\"complete\",\"now\":5}", 0);
    write_raw("[1, 2]", 0);
    inst_open(&in, cfg, T0);
    ck_assert_int_eq(in.s->recovered.skipped, 2);
    inst_drop(&in);

    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    write_raw("{\"type\":\"checkpoint\",\"version\":1,\"next_lease\":7}", 1);
    apr_pool_create(&in.p, pool);
    ck_assert_int_eq(journal_open(dir, "sched", JOURNAL_FSYNC_BATCH, in.p, &in.jn, &err),
                     APR_SUCCESS);
    in.s = sched_create(cfg, NULL, in.p);
    abbey_err_clear(&err);
    ck_assert_int_ne(sched_recover(in.s, in.jn, T0, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err.msg, "field 'jobs'") && strstr(err.msg, ".ckpt"), "%s", err.msg);
    inst_drop(&in);
}
END_TEST

/* The checkpoint's JSON (its one record frame) into *text (pool memory). */
static int grab_ckpt(void *ctx, const char *file, uint64_t offset, const uint8_t *frame, size_t len,
                     const frame_header_t *h)
{
    frame_header_t rh;
    uint8_t *data;
    size_t dlen, flen;
    abbey_err_t err;
    ck_assert_int_eq(frame_record(frame, len, pool, &rh, &data, &dlen, &flen, &err), APR_SUCCESS);
    *(const char **)ctx = (const char *)data;
    return 0;
}

/* An open round whose pending count disagrees with the tasks due for it (by
 * their done_seq) is refused at recovery, with the field named (closing it
 * would list the due ones in room for npending). */
START_TEST(test_checkpoint_due_count_disagrees)
{
    inst_t in;
    sched_lease_t all[16];
    abbey_err_t err;
    const char *text = NULL, *at;
    char *bad;

    inst_open(&in, cfg, T0);
    ck_assert_int_eq(lease(in.s, "s1", 16, T0 + 1, all), 4);
    checkpoint(&in);
    inst_drop(&in);
    apr_pool_create(&in.p, pool);
    ck_assert_int_eq(journal_open(dir, "sched", JOURNAL_FSYNC_BATCH, in.p, &in.jn, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(journal_recover(in.jn, grab_ckpt, no_frame, &text, NULL, &err), APR_SUCCESS);
    inst_drop(&in);
    ck_assert_ptr_nonnull(text);
    /* web's open round: 3 tasks due, none done; say 2 are pending */
    at = strstr(text, "\"ndue\":3,\"npending\":3");
    ck_assert_ptr_nonnull(at);
    bad = apr_pstrdup(pool, text);
    bad[at - text + strlen("\"ndue\":3,\"npending\":")] = '2';
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    write_raw(bad, 1);
    apr_pool_create(&in.p, pool);
    ck_assert_int_eq(journal_open(dir, "sched", JOURNAL_FSYNC_BATCH, in.p, &in.jn, &err),
                     APR_SUCCESS);
    in.s = sched_create(cfg, NULL, in.p);
    abbey_err_clear(&err);
    ck_assert_int_ne(sched_recover(in.s, in.jn, T0, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err.msg, "field 'npending' of round 170000000 is 2, but 3 tasks are due"),
                  "%s", err.msg);
    inst_drop(&in);
    /* the checkpoint as written recovers */
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    write_raw(text, 1);
    inst_open(&in, cfg, T0);
    inst_drop(&in);
}
END_TEST

/* ---- tcase journal failure ---- */

/* The newest journal segment in dir, for its size. */
static off_t segment_size(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char best[256] = "";
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".journal") && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    if (d)
        closedir(d);
    char path[400];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, best);
    return best[0] && stat(path, &sb) == 0 ? sb.st_size : -1;
}

static int efbig_child(int fd)
{
    char msg[ABBEY_ERR_MAX + 128];
    inst_t in;
    sched_lease_t all[16];
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(msg, sizeof msg, __VA_ARGS__);                                                    \
        if (write(fd, msg, strlen(msg)) < 0)                                                       \
            return 9;                                                                              \
        return 1;                                                                                  \
    } while (0)
    signal(SIGXFSZ, SIG_IGN);
    inst_open(&in, cfg, T0);
    int n = lease(in.s, "s1", 16, T0 + 1, all);
    const sched_lease_t *a = find(all, n, A);
    if (!a || done(in.s, "s1", a->id, "i", 0, 100, 0, NULL, T0 + 2) != APR_SUCCESS)
        FAIL("first completion: %s", last_err.msg);
    n = lease(in.s, "s1", 16, T0 + 3, all);
    if (!(a = find(all, n, A)) || a->start != 100)
        FAIL("no lease of a from 100");
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    off_t size = segment_size();
    if (size <= 0)
        FAIL("no journal segment in %s", dir);
    rl.rlim_cur = (rlim_t)size; /* not one byte more */
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        FAIL("setrlimit: %s", strerror(errno));
    apr_status_t rv = done(in.s, "s1", a->id, "i", 100, 200, 1, NULL, T0 + 4);
    if (rv != APR_EGENERAL || strncmp(last_err.msg, "journal", 7) != 0)
        FAIL("completion past the limit: status %d, '%s'", rv, last_err.msg);
    sched_task_t *t = sched_task_find(sched_job_find(in.s, "web"), SCHED_READ, A);
    if (t->offset != 100 || t->lease == NULL)
        FAIL("offset %" PRIu64 " / lease %p after the refused completion", t->offset,
             (void *)t->lease);
    /* the HTTP answer for it: 503 with the reason */
    char body[256];
    snprintf(body, sizeof body,
             "{\"slave\":\"s1\",\"lease\":%" PRIu64 ",\"instance\":\"i\",\"start\":100,"
             "\"end\":200,\"at_end\":true}",
             a->id);
    httpd_req_t req = {.method = "POST",
                       .path = "/v1/complete",
                       .body = (const uint8_t *)body,
                       .body_len = strlen(body),
                       .pool = in.p};
    httpd_resp_t resp = {.status = 200};
    buf_init(&resp.body);
    sched_http_complete(in.s, &req, &resp, T0 + 5);
    int status = resp.status;
    int names = resp.body.len && memmem(resp.body.data, resp.body.len, "journal", 7) != NULL;
    buf_free(&resp.body);
    if (status != 503 || !names)
        FAIL("HTTP status %d (error names the journal: %d)", status, names);
    if (t->offset != 100)
        FAIL("offset %" PRIu64 " after the refused HTTP completion", t->offset);
    /* the size the refused completions saw still shows as lag (not 0) */
    {
        sched_completion_t c = read_completion("s1", a->id, "i", 100, 200, 1, NULL, 5000);
        if (complete(in.s, &c, T0 + 6) != APR_EGENERAL)
            FAIL("a completion was taken by the failed store");
        if (t->size != 5000)
            FAIL("size %" PRId64 " after a refused completion that saw 5000", t->size);
    }
    /* and no lease is granted while the store has failed: every read would be read again */
    snprintf(body, sizeof body, "{\"slave\":\"s2\",\"labels\":[],\"max\":8}");
    req.path = "/v1/lease";
    req.body_len = strlen(body);
    resp.status = 200;
    buf_init(&resp.body);
    sched_http_lease(in.s, &req, &resp, T0 + 60000); /* a's lease would have expired */
    status = resp.status;
    names = resp.body.len && memmem(resp.body.data, resp.body.len, "journal has failed", 18);
    buf_free(&resp.body);
    if (status != 503 || !names)
        FAIL("lease while the store has failed: HTTP %d (error names it: %d)", status, names);
    inst_drop(&in);
    return 0;
#undef FAIL
}

START_TEST(test_append_failure)
{
    int pfd[2], status;
    char msg[2048];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pfd[0]);
        int rc = efbig_child(pfd[1]);
        apr_pool_destroy(pool); /* leave nothing for valgrind's leak check of the child */
        apr_terminate();
        _exit(rc);
    }
    close(pfd[1]);
    ssize_t n = read(pfd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child (status 0x%x): %s", status,
                  msg);
    /* what the child committed is recovered: a at 100, not 200 */
    inst_t in;
    inst_open(&in, cfg, T0 + 6);
    sched_task_t *t = sched_task_find(sched_job_find(in.s, "web"), SCHED_READ, A);
    ck_assert_uint_eq(t->offset, 100);
    ck_assert_str_eq(t->instance, "i");
    inst_drop(&in);
}
END_TEST

/* A checkpoint of version 2 (states per task in each open round) is read: each task owes
 * the rounds its states said it was due for, and where its latest range was listed stays. */
START_TEST(test_checkpoint_version2)
{
    inst_t in;
    sched_lease_t all[16];
    const char *task = "{\"kind\":\"%s\",\"source\":\"%s\",\"glob\":null,\"instance\":\"%s\","
                       "\"offset\":%d,\"size\":-1,\"last_leased_ms\":0,\"lines\":0,"
                       "\"bad_lines\":0,\"bytes\":0,\"deliveries\":{},\"ident\":false,"
                       "\"finished\":false,\"stamp\":0}";
    char *text = apr_psprintf(
        pool,
        "{\"type\":\"checkpoint\",\"version\":2,\"next_lease\":10,\"n_granted\":0,"
        "\"n_completed\":0,\"n_expired\":0,\"n_renewed\":0,\"jobs\":[{\"name\":\"web\","
        "\"round_ms\":10000,\"cur_round\":%" PRId64 ",\"next_start_ms\":%" PRId64 ","
        "\"tasks\":[%s,%s,%s],\"ident_seq\":0,\"files\":[],\"open\":["
        "{\"round\":%" PRId64 ",\"start_ms\":%" PRId64 ",\"deadline_ms\":%" PRId64 ","
        "\"ntasks\":3,\"state\":\"212\",\"last_range\":[0,-1,-1],\"ndue\":3,\"ndone\":2,"
        "\"ranges\":[[\"" A "#ia\",0,100]]},"
        "{\"round\":%" PRId64 ",\"start_ms\":%" PRId64 ",\"deadline_ms\":%" PRId64 ","
        "\"ntasks\":3,\"state\":\"111\",\"last_range\":[-1,-1,-1],\"ndue\":3,\"ndone\":0,"
        "\"ranges\":[]}],\"closed\":[]}]}",
        R0 + 1, T0 + 2 * RMS, apr_psprintf(pool, task, "read", A, "ia", 100),
        apr_psprintf(pool, task, "read", B, "ib", 50), apr_psprintf(pool, task, "expand", G, "", 0),
        R0, T0, T0 + 3 * RMS, R0 + 1, T0 + RMS, T0 + 4 * RMS);
    write_raw(text, 1);
    inst_open(&in, cfg, T0 + RMS + 1);
    int n = lease(in.s, "s1", 16, T0 + RMS + 2, all);
    ck_assert_int_eq(n, 4); /* web's three, api's c */
    const sched_lease_t *a = find(all, n, A), *b = find(all, n, B), *g = find(all, n, G);
    ck_assert_int_eq(b->round, R0); /* b owes R0, a and the glob R0 + 1 */
    ck_assert_int_eq(a->round, R0 + 1);
    ck_assert_int_eq(g->round, R0 + 1);
    ck_assert_uint_eq(a->start, 100);
    ck_assert_uint_eq(b->start, 50);
    /* b's range in R0 follows a's; a's next range in R0 + 1 */
    OK(done(in.s, "s1", b->id, "ib", 50, 60, 1, NULL, T0 + RMS + 3));
    sched_job_t *web = sched_job_find(in.s, "web");
    ck_assert_int_eq(web->nclosed, 1);
    const sched_round_t *r = &web->closed[web->closed_first]->pub;
    ck_assert_int_eq(r->round, R0);
    ck_assert_int_eq(r->incomplete, 0);
    ck_assert_int_eq(r->nranges, 2);
    ck_assert_str_eq(r->ranges[1].source, B "#ib");
    inst_drop(&in);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched_persist_store");
    TCase *tc = tcase_create("recover");
    tcase_add_checked_fixture(tc, persist_setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_checkpoint_due);
    tcase_add_test(tc, test_bad_records);
    tcase_add_test(tc, test_checkpoint_due_count_disagrees);
    tcase_add_test(tc, test_checkpoint_version2);
    suite_add_tcase(s, tc);
    tc = tcase_create("failure");
    tcase_add_checked_fixture(tc, persist_setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_append_failure);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
