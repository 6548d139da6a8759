/* check_merger_persist.c - unit tests for the merger's durability (master/merger_ckpt.c,
 * master/merger_recover.c and the journaled accept path in master/merger.c): journal-only
 * recovery, checkpoints (twice), a damaged journal frame, and a journal that cannot write
 * (RLIMIT_FSIZE in a child: MERGE_UNAVAILABLE, HTTP 503, nothing merged); what else a
 * restart keeps is tests/check_merger_persist_state.c.
 *
 * The two-master config of check_merger.c (tests/fixture_merger.h, shared with it, with the
 * frames FR and the crash and restart helpers of both persistence suites); frames are made
 * the way a slave makes them (engine_feed over synthetic log lines, frame_encode). A merger
 * gets a journal (journal.h) in a temporary directory, takes frames, is thrown away without
 * any shutdown step (as a crash would), and a new merger recovers from the same directory.
 * Oracles: the first merger's own reports and status (the JSON, minus counting_since_ms
 * where no checkpoint carries it), a merger without journal fed the frames that should
 * survive, the engine run over the same lines in one go, and the recovery's summary log
 * line (stderr captured). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "check_run.h"
#include "engine.h"
#include "export.h"
#include "frame.h"
#include "httpd.h"
#include "journal.h"
#include "merger.h"
#include "rules.h"

#define FIXTURE_SUITE "check_merger_persist"
#define FIXTURE_MERGER_PERSIST
#include "fixture_merger.h"

/* The api report over frames sel[0..n) (indexes into fr) computed in one go by the engine. */
static char *oracle_api(const fr_t *fr, const int *sel, int n)
{
    partial_t *p = partial_create(job, pool);
    const rules_report_t *r = &job->reports[0];
    buf_t b;
    for (int i = 0; i < n; i++) {
        const fr_t *f = &fr[sel[i]];
        ck_assert_int_eq(engine_feed(eng, text[f->s] + off[f->s][f->l0],
                                     off[f->s][f->l1] - off[f->s][f->l0], off[f->s][f->l0], p, NULL,
                                     NULL),
                         APR_SUCCESS);
    }
    buf_init(&b);
    export_render(job, r, p->tables[r->entry->index], &b, pool);
    buf_put_u8(&b, 0);
    partial_destroy(p);
    return (char *)b.data;
}

/* A merger without journal fed frames sel[0..n) of fr: the reference. */
static merger_t *reference(const fr_t *fr, const int *sel, int n)
{
    merger_t *m = merger_create(cfg, "m1", exp_dir, pool);
    ck_assert_ptr_nonnull(m);
    for (int i = 0; i < n; i++)
        expect_send(m, &fr[sel[i]], MERGE_MERGED);
    return m;
}

/* ---- (1) journal only --------------------------------------------------------- */

START_TEST(journal_only)
{
    life_t l;
    char *before, *after, *want;

    start(&l);
    assert_log(&l, "recovered: no checkpoint, journal ");
    assert_log(&l, " 0 frames: 0 merged");
    for (int i = 0; i < NFR; i++)
        expect_send(l.m, &FR[i], MERGE_MERGED);
    before = snapshot(l.m, 0);
    crash(&l);

    start(&l);
    assert_log(&l, "recovered: no checkpoint, journal ");
    assert_log(&l, " 8 frames: 8 merged, 0 duplicate, 0 refused, 0 damaged ranges, in ");
    after = snapshot(l.m, 0);
    assert_same(after, before, "state recovered from the journal");
    ck_assert_int_eq(figure(l.m, NULL, "lines"), 850);
    /* independent: the period's totals (next hour: frames 6 and 7) */
    {
        int sel[] = {6, 7};
        char *got = report(l.m, "api", NULL);
        want = oracle_api(FR, sel, 2);
        assert_same(got, want, "api report");
        free(got);
        free(want);
    }
    for (int i = 0; i < NFR; i++)
        expect_send(l.m, &FR[i], MERGE_DUPLICATE);
    ck_assert_int_eq(figure(l.m, "partials", "merged"), NFR);
    free(before);
    free(after);
    crash(&l);

    /* recovered again: the journal still holds everything, once */
    start(&l);
    assert_log(&l, " 8 frames: 8 merged, 0 duplicate, 0 refused");
    crash(&l);
}
END_TEST

/* ---- (2) checkpoints ------------------------------------------------------------ */

START_TEST(checkpoint_then_more)
{
    const fr_t conflict = {1, 100, 500, H0}; /* never wholly covered */
    const fr_t more[] = {{0, 450, 500, H0 + 361}, {1, 400, 450, H0 + 361}, {0, 500, 600, H0 + 362}};
    life_t l;
    char *before, *after;
    abbey_err_t err;
    buf_t other;

    start(&l);
    for (int i = 0; i < 4; i++)
        expect_send(l.m, &FR[i], MERGE_MERGED);
    /* counters that only a checkpoint keeps: a duplicate, a conflict, a frame for m2 */
    expect_send(l.m, &FR[0], MERGE_DUPLICATE);
    expect_send(l.m, &conflict, MERGE_CONFLICT);
    buf_init(&other);
    frame_of(&FR[4], "m2", &other);
    ck_assert_int_eq(merger_accept(l.m, other.data, other.len, NULL, &err), MERGE_REJECTED);
    buf_free(&other);
    checkpoint(&l);
    for (int i = 4; i < NFR; i++)
        expect_send(l.m, &FR[i], MERGE_MERGED);
    before = snapshot(l.m, 1);
    crash(&l);

    start(&l);
    assert_log(&l, "recovered: checkpoint ");
    /* the replay saw only the frames after the checkpoint */
    assert_log(&l, " 4 frames: 4 merged, 0 duplicate, 0 refused, 0 damaged ranges");
    after = snapshot(l.m, 1);
    assert_same(after, before, "state recovered from checkpoint and journal");
    /* the snapshot holds the bad lines by reason: 1 in 23 lines is garbage */
    ck_assert_int_gt(figure(l.m, "bad_lines_by_reason", "fields"), 0);
    ck_assert_int_eq(figure(l.m, "bad_lines_by_reason", "fields"), figure(l.m, NULL, "bad_lines"));
    free(after);
    free(before);

    /* a second checkpoint, by the recovered merger */
    expect_send(l.m, &more[0], MERGE_MERGED);
    expect_send(l.m, &more[1], MERGE_MERGED);
    checkpoint(&l);
    expect_send(l.m, &more[2], MERGE_MERGED);
    before = snapshot(l.m, 1);
    crash(&l);

    start(&l);
    assert_log(&l, "recovered: checkpoint ");
    assert_log(&l, " 1 frames: 1 merged, 0 duplicate, 0 refused, 0 damaged ranges");
    after = snapshot(l.m, 1);
    assert_same(after, before, "state after a second checkpoint");
    for (int i = 0; i < NFR; i++)
        expect_send(l.m, &FR[i], MERGE_DUPLICATE);
    for (int i = 0; i < 3; i++)
        expect_send(l.m, &more[i], MERGE_DUPLICATE);
    expect_send(l.m, &conflict, MERGE_CONFLICT);
    free(after);
    free(before);

    /* a checkpoint right after recovery, nothing after it: the journal replays nothing */
    checkpoint(&l);
    before = snapshot(l.m, 1);
    crash(&l);
    start(&l);
    assert_log(&l, " 0 frames: 0 merged");
    after = snapshot(l.m, 1);
    assert_same(after, before, "state from a checkpoint alone");
    free(after);
    free(before);
    crash(&l);
}
END_TEST

/* ---- (3) a damaged journal frame ------------------------------------------------ */

/* The largest journal segment in jdir, into path. */
static void find_segment(char *path, size_t size)
{
    DIR *d = opendir(jdir);
    struct dirent *e;
    off_t best = -1;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        struct stat st;
        char p[512];
        size_t n = strlen(e->d_name);
        if (n < 8 || strcmp(e->d_name + n - 8, ".journal") != 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", jdir, e->d_name);
        if (stat(p, &st) == 0 && st.st_size > best) {
            best = st.st_size;
            snprintf(path, size, "%s", p);
        }
    }
    closedir(d);
    ck_assert_msg(best > 0, "no journal segment in %s", jdir);
}

START_TEST(damaged_frame)
{
    life_t l;
    char seg[512], *got, *want;
    uint64_t at = 0, len2 = 0;
    int kept[] = {0, 1, 3, 4}, all[] = {0, 1, 2, 3, 4};
    merger_t *ref;
    FILE *f;
    int c;

    start(&l);
    for (int i = 0; i < 5; i++) {
        buf_t b;
        buf_init(&b);
        frame_of(&FR[i], "m1", &b);
        if (i < 2)
            at += b.len;
        if (i == 2)
            len2 = b.len;
        buf_free(&b);
        expect_send(l.m, &FR[i], MERGE_MERGED);
    }
    crash(&l);

    /* flip one byte in the middle of frame 2 */
    find_segment(seg, sizeof seg);
    f = fopen(seg, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, (long)(at + len2 / 2), SEEK_SET), 0);
    c = fgetc(f);
    ck_assert_int_ne(c, EOF);
    ck_assert_int_eq(fseek(f, (long)(at + len2 / 2), SEEK_SET), 0);
    fputc(c ^ 0x40, f);
    fclose(f);

    start(&l);
    assert_log(&l, " 4 frames: 4 merged, 0 duplicate, 0 refused, 1 damaged ranges");
    ref = reference(FR, kept, 4);
    got = snapshot(l.m, 0);
    want = snapshot(ref, 0);
    assert_same(got, want, "state without the damaged frame");
    free(got);
    free(want);
    want = oracle_api(FR, kept, 4);
    got = report(l.m, "api", NULL);
    assert_same(got, want, "api report without the damaged frame");
    free(got);
    free(want);

    /* the others are recorded; the damaged one was lost, so it merges again */
    for (int i = 0; i < 4; i++)
        expect_send(l.m, &FR[kept[i]], MERGE_DUPLICATE);
    expect_send(l.m, &FR[2], MERGE_MERGED);
    want = oracle_api(FR, all, 5);
    got = report(l.m, "api", NULL);
    assert_same(got, want, "api report with the frame sent again");
    free(got);
    free(want);
    crash(&l);

    /* and it is journaled again: the next recovery has it */
    start(&l);
    assert_log(&l, " 1 damaged ranges");
    want = oracle_api(FR, all, 5);
    got = report(l.m, "api", NULL);
    assert_same(got, want, "api report after the second recovery");
    free(got);
    free(want);
    crash(&l);
}
END_TEST

/* ---- (4) a journal that cannot write ----------------------------------------- */

/* POST body to /v1/partials on port; 0 or -1 when curl fails. */
static int post(int port, const void *body, size_t len, http_ans_t *ans)
{
    return http_call(port, "POST", "/v1/partials", body, len, ans);
}

/* In a child: the journal's segment may not grow; frame 2 directly and
 * frame 3 over HTTP must be refused as unavailable and not merged. Writes
 * what went wrong to fd; returns the exit code. */
static int unavailable_child(life_t *l, const buf_t *f2, const buf_t *f3, const char *api_before,
                             int fd)
{
    char msg[ABBEY_ERR_MAX + 256] = "";
    char seg[512], *api;
    struct stat st;
    struct rlimit rl;
    abbey_err_t err;
    merge_result_t r;
    httpd_t *h;
    http_ans_t a;
    json_t *o;
    buf_t metrics;
    int rc = 0;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(msg, sizeof msg, __VA_ARGS__);                                                    \
        rc = write(fd, msg, strlen(msg)) < 0 ? 9 : 1;                                              \
        goto out;                                                                                  \
    } while (0)

    buf_init(&a.body);
    buf_init(&metrics);
    signal(SIGXFSZ, SIG_IGN);
    find_segment(seg, sizeof seg);
    if (stat(seg, &st) != 0)
        FAIL("stat %s: %s", seg, strerror(errno));
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = (rlim_t)st.st_size;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        FAIL("setrlimit: %s", strerror(errno));

    err.msg[0] = 0;
    r = merger_accept(l->m, f2->data, f2->len, NULL, &err);
    if (r != MERGE_UNAVAILABLE)
        FAIL("frame 2 past the file size limit: %s (%s), not unavailable", merger_result_name(r),
             err.msg);
    if (!strstr(err.msg, "journal"))
        FAIL("the reason does not name the journal: %s", err.msg);
    api = report(l->m, "api", NULL);
    if (strcmp(api, api_before) != 0) {
        free(api);
        FAIL("the refused frame changed the api report");
    }
    free(api);
    o = status(l->m);
    if (json_integer_value(
            json_object_get(json_object_get(job_status(o), "partials"), "unavailable")) != 1 ||
        json_integer_value(json_object_get(json_object_get(o, "partials"), "unavailable")) != 1 ||
        json_integer_value(json_object_get(json_object_get(o, "partials"), "merged")) != 2) {
        char *t = json_dumps(o, JSON_COMPACT);
        snprintf(msg, sizeof msg, "status counts: %s", t);
        free(t);
        json_decref(o);
        rc = write(fd, msg, strlen(msg)) < 0 ? 9 : 1;
        goto out;
    }
    json_decref(o);
    merger_metrics(l->m, &metrics);
    buf_put_u8(&metrics, 0);
    if (!strstr((char *)metrics.data,
                "abbey_partials_total{master=\"m1\",job=\"web\",result=\"unavailable\"} 1\n"))
        FAIL("metrics lack the unavailable count:\n%s", (char *)metrics.data);

    /* over HTTP: 503 with the reason */
    h = httpd_create("sekrit", l->pool);
    merger_register(l->m, h);
    if (httpd_start(h, "127.0.0.1", 0, 2, &err) != APR_SUCCESS)
        FAIL("httpd_start: %s", err.msg);
    if (post(httpd_port(h), f3->data, f3->len, &a) != 0)
        FAIL("POST failed");
    httpd_stop(h);
    if (a.status != 503 || !(o = json_loads((char *)a.body.data, 0, NULL)))
        FAIL("POST while the journal fails: %ld %s", a.status, (char *)a.body.data);
    if (!json_is_string(json_object_get(o, "error")) ||
        !strstr(json_string_value(json_object_get(o, "error")), "journal")) {
        json_decref(o);
        FAIL("503 body: %s", (char *)a.body.data);
    }
    json_decref(o);
    if (figure(l->m, "partials", "merged") != 2)
        FAIL("a frame refused over HTTP was merged");
out:
    buf_free(&a.body);
    buf_free(&metrics);
    return rc;
#undef FAIL
}

START_TEST(journal_fails)
{
    life_t l;
    buf_t f2, f3;
    int pfd[2], status, sel[] = {0, 1, 2, 3};
    char msg[2048], *api_before, *got, *want;
    ssize_t n;
    pid_t pid;

    start(&l);
    expect_send(l.m, &FR[0], MERGE_MERGED);
    expect_send(l.m, &FR[1], MERGE_MERGED);
    buf_init(&f2);
    buf_init(&f3);
    frame_of(&FR[2], "m1", &f2);
    frame_of(&FR[3], "m1", &f3);
    api_before = report(l.m, "api", NULL);

    ck_assert_int_eq(pipe(pfd), 0);
    fflush(stderr);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int rc;
        close(pfd[0]);
        rc = unavailable_child(&l, &f2, &f3, api_before, pfd[1]);
        buf_free(&f2);
        buf_free(&f3);
        free(api_before);
        free(l.log);
        _exit(rc);
    }
    close(pfd[1]);
    n = read(pfd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child (status 0x%x): %s", status,
                  msg);
    free(api_before);

    /* the journal as the child left it: frames 0 and 1 only; a retry merges 2 and 3 */
    crash(&l);
    start(&l);
    assert_log(&l, " 2 frames: 2 merged, 0 duplicate, 0 refused, 0 damaged ranges");
    ck_assert_int_eq(merger_accept(l.m, f2.data, f2.len, NULL, NULL), MERGE_MERGED);
    ck_assert_int_eq(merger_accept(l.m, f3.data, f3.len, NULL, NULL), MERGE_MERGED);
    got = report(l.m, "api", NULL);
    want = oracle_api(FR, sel, 4);
    assert_same(got, want, "api report after the retry");
    free(got);
    free(want);
    ck_assert_int_eq(figure(l.m, "partials", "unavailable"), 0);
    buf_free(&f2);
    buf_free(&f3);
    crash(&l);
}
END_TEST

static Suite *persist_suite(void)
{
    Suite *s = suite_create("merger_persist");
    TCase *tc = tcase_create("recovery");
    tcase_add_checked_fixture(tc, persist_setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, journal_only);
    tcase_add_test(tc, checkpoint_then_more);
    tcase_add_test(tc, damaged_frame);
    tcase_add_test(tc, journal_fails);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = check_run(persist_suite());
    curl_global_cleanup();
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
