/* check_sched_ident.c - unit tests for the files of globs (master/sched_ident.c): one read
 * task per file whatever its name becomes, an archive continuing the file it compresses from
 * that file's committed offset under its source id, copies left unread, inode reuse, files
 * missing from listings paused then forgotten, the lease's file and file_id (repair leases
 * too), bad "files" refused, and the same state after recovery from the journal alone, a
 * checkpoint plus the journal, or a checkpoint alone.
 *
 * The clock is driven by hand; expansions are written here as a slave would report them
 * (device, inode, size, head length and hash are made up: the scheduler only compares them).
 * The scenario is a logrotate series (create + compress + delaycompress) under the glob
 * /logs/access.log*; the oracle is what each step must lease and with which file, worked
 * out in its comments, and for recovery the state of the scheduler that ran it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "journal.h"
#include "rules.h"
#include "sched_int.h"
#include "scheduler.h"

#define FIXTURE_SUITE "check_sched_ident"
#define FIXTURE_SCHED_PERSIST
#include "fixture_sched.h"

#define GL "/logs/access.log*"
#define L0 "/logs/access.log"
#define L1 "/logs/access.log.1"
#define L2 "/logs/access.log.2"
#define L2GZ "/logs/access.log.2.gz"
#define L3GZ "/logs/access.log.3.gz"

static const char *const IDENT_YAML = MASTERS "jobs:\n"
                                              "  - name: web\n"
                                              "    round: 10s\n"
                                              "    sources: ['" GL "']\n" GROUPS;

static void ident_setup(void)
{
    sched_setup(IDENT_YAML, "ident.yaml", 1);
}

/* A listed regular file: inode ino on device 1, size, head (len, hash); head -1: unknown. */
static sched_file_t fl(uint64_t ino, uint64_t size, int64_t head, uint64_t hash)
{
    return (sched_file_t){.dev = 1,
                          .ino = ino,
                          .size = size,
                          .has_head = head >= 0,
                          .head_len = head > 0 ? (uint32_t)head : 0,
                          .head_hash = hash};
}

/* Lease everything leasable at now into all (room for 16); the lease of source and
 * instance (instance NULL: any), or NULL. */
static const sched_lease_t *lease_all(sched_t *s, int64_t now, sched_lease_t *all, int *n,
                                      const char *source, const char *instance)
{
    *n = lease(s, "s1", 16, now, all);
    for (int i = 0; i < *n; i++)
        if (strcmp(all[i].source, source) == 0 &&
            (!instance || strcmp(all[i].instance, instance) == 0))
            return &all[i];
    return NULL;
}

/* The expand lease id among all[0..n). */
static uint64_t glob_lease(const sched_lease_t *all, int n)
{
    const sched_lease_t *g = find(all, n, GL);
    ck_assert_msg(g != NULL, "no lease of the glob");
    ck_assert_int_eq(g->kind, SCHED_EXPAND);
    return g->id;
}

/* Complete expand lease id with n paths and their files. */
static apr_status_t listing(sched_t *s, uint64_t id, int n, const char *const *paths,
                            const sched_file_t *files, int64_t now)
{
    sched_completion_t c = completion_of("s1", id);
    c.npaths = n;
    c.paths = paths;
    c.files = files;
    return complete(s, &c, now);
}

/* The glob read task of web reading instance inst (must be there). */
static sched_task_t *task_of(sched_t *s, const char *inst)
{
    sched_job_t *job = sched_job_find(s, "web");
    sched_task_t *t = NULL;
    HASH_FIND(hi, job->by_inst, inst, strlen(inst), t);
    ck_assert_msg(t && t->ident, "no glob read task %s", inst);
    return t;
}

static int ntasks(sched_t *s)
{
    return sched_job_find(s, "web")->tasks->nelts;
}

/* ---- the scenario: rounds R0 .. R0+7 ---- */

#define ROUND(k) (T0 + (k)*RMS + 1)

/* Complete every read lease of all[0..n) but skip (NULL: none) with nothing read, at_end. */
static void idle_reads(sched_t *s, const sched_lease_t *all, int n, const sched_lease_t *skip,
                       int64_t now)
{
    for (int i = 0; i < n; i++)
        if (all[i].kind == SCHED_READ && &all[i] != skip)
            OK(done(s, "s1", all[i].id, all[i].instance, (int64_t)all[i].start,
                    (int64_t)all[i].start, 1, NULL, now));
}

/* Run it on s up to round last (0..7), then tick to the next round's start; with in,
 * checkpoint after round ckpt - 1 (ckpt 1..8; 0: never). Files: inode 10 (the
 * first access.log, 150 bytes by its rotation), 11 (the second), 12 (10's archive), 10
 * again (the third access.log: the inode reused once 10's archive replaced 10), 20 (a copy
 * of 11). Stamps: the glob's listing of round k is its (k + 1)th. */
static void scenario(sched_t *s, inst_t *in, int ckpt, int last)
{
    sched_lease_t all[16];
    const sched_lease_t *l;
    int n;
#define CKPT(k)                                                                                    \
    do {                                                                                           \
        if (in && ckpt == (k))                                                                     \
            checkpoint(in);                                                                        \
        if (last == (k)-1)                                                                         \
            goto end;                                                                              \
    } while (0)

    /* R0: the glob alone; it lists access.log (inode 10, 100 bytes): one task, 10:1 */
    lease_all(s, ROUND(0), all, &n, GL, NULL);
    ck_assert_int_eq(n, 1);
    const char *p0[] = {L0};
    sched_file_t f0[] = {fl(10, 100, 100, 0xa1)};
    OK(listing(s, glob_lease(all, n), 1, p0, f0, ROUND(0)));
    ck_assert_int_eq(ntasks(s), 2);
    ck_assert_str_eq(task_of(s, "1:10:1")->source, L0);
    CKPT(1);

    /* R1: 10:1 reads its file [0, 100). Then access.log is rotated to access.log.1 (150
     * bytes now: its head grew) and a new empty access.log is inode 11: a task 11:2, none
     * for access.log.1, which 10:1 reads on */
    l = lease_all(s, ROUND(1), all, &n, L0, "1:10:1");
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_nonnull(l);
    ck_assert_str_eq(l->file, L0);
    ck_assert_str_eq(l->file_id, "1:10");
    ck_assert_uint_eq(l->start, 0);
    OK(done_sz(s, "s1", l->id, "1:10:1", 0, 100, 1, NULL, 100, ROUND(1)));
    const char *p1[] = {L0, L1};
    sched_file_t f1[] = {fl(11, 0, 0, 0), fl(10, 150, 150, 0xa2)};
    OK(listing(s, glob_lease(all, n), 2, p1, f1, ROUND(1)));
    ck_assert_int_eq(ntasks(s), 3);
    ck_assert_str_eq(task_of(s, "1:11:2")->source, L0);
    CKPT(2);

    /* R2: 10:1 reads [100, 150), found as access.log.1; 11:2 reads [0, 40) */
    l = lease_all(s, ROUND(2), all, &n, L0, "1:10:1");
    ck_assert_int_eq(n, 3);
    ck_assert_ptr_nonnull(l);
    ck_assert_str_eq(l->file, L1);
    ck_assert_uint_eq(l->start, 100);
    OK(done_sz(s, "s1", l->id, "1:10:1", 100, 150, 1, NULL, 150, ROUND(2)));
    for (int i = 0; i < 3; i++)
        if (all[i].kind == SCHED_READ && strcmp(all[i].instance, "1:11:2") == 0)
            OK(done_sz(s, "s1", all[i].id, "1:11:2", 0, 40, 1, NULL, 40, ROUND(2)));
    sched_file_t f2[] = {fl(11, 40, 40, 0xb0), fl(10, 150, 150, 0xa2)};
    OK(listing(s, glob_lease(all, n), 2, p1, f2, ROUND(2)));
    CKPT(3);

    /* R3: 11:2 reads [40, 80). The second rotation: access.log.1 (10) becomes access.log.2,
     * compressed into access.log.2.gz (inode 12, the head 10 had), 10 is deleted and its
     * inode reused by the new access.log; access.log (11) becomes access.log.1. The listing:
     * 10 is a new file (0 bytes, below the 150 listed): task 10:3; 12 continues 10:1 */
    l = lease_all(s, ROUND(3), all, &n, L0, "1:11:2");
    ck_assert_int_eq(n, 3);
    OK(done_sz(s, "s1", l->id, "1:11:2", 40, 80, 1, NULL, 80, ROUND(3)));
    idle_reads(s, all, n, l, ROUND(3));
    const char *p3[] = {L0, L1, L2GZ};
    sched_file_t f3[] = {fl(10, 0, 0, 0), fl(11, 80, 80, 0xb1), fl(12, 60, 150, 0xa2)};
    OK(listing(s, glob_lease(all, n), 3, p3, f3, ROUND(3)));
    ck_assert_int_eq(ntasks(s), 4);
    ck_assert_ptr_eq(task_of(s, "1:10:1")->file->path, sched_intern(s, L2GZ));
    ck_assert_str_eq(task_of(s, "1:10:3")->source, L0);
    CKPT(4);

    /* R4: 10:1 reads its archive from 150: nothing more, to its end: finished. The listing
     * adds access.log.1.gz, a compressed copy of access.log.1 (gzip -k): no task; and a
     * plain copy of it, access.log.1.bak: a file of its own (plain copies are not looked
     * for), read from 0 by task 20:4 */
    l = lease_all(s, ROUND(4), all, &n, L0, "1:10:1");
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(l->file, L2GZ);
    ck_assert_str_eq(l->file_id, "1:12");
    ck_assert_uint_eq(l->start, 150);
    OK(done_sz(s, "s1", l->id, "1:10:1", 150, 150, 1, NULL, 150, ROUND(4)));
    idle_reads(s, all, n, l, ROUND(4));
    const char *p4[] = {L0, L1, "/logs/access.log.1.bak", "/logs/access.log.1.gz", L2GZ};
    sched_file_t f4[] = {fl(10, 0, 0, 0), fl(11, 80, 80, 0xb1), fl(20, 80, 80, 0xb1),
                         fl(21, 50, 80, 0xb1), fl(12, 60, 150, 0xa2)};
    OK(listing(s, glob_lease(all, n), 5, p4, f4, ROUND(4)));
    ck_assert_int_eq(ntasks(s), 5);
    ck_assert_str_eq(task_of(s, "1:20:4")->source, "/logs/access.log.1.bak");
    CKPT(5);

    /* R5: 10:1 is finished: no lease. The archive is renamed access.log.3.gz (same inode),
     * access.log.1 (11) is left out: 11:2 pauses */
    ck_assert_ptr_null(lease_all(s, ROUND(5), all, &n, L0, "1:10:1"));
    ck_assert_int_eq(n, 4);
    idle_reads(s, all, n, NULL, ROUND(5));
    const char *p5[] = {L0, L3GZ};
    sched_file_t f5[] = {fl(10, 0, 0, 0), fl(12, 60, 150, 0xa2)};
    OK(listing(s, glob_lease(all, n), 2, p5, f5, ROUND(5)));
    ck_assert_int_eq(task_of(s, "1:11:2")->paused, 1);
    ck_assert_int_eq(task_of(s, "1:20:4")->paused, 1);
    CKPT(6);

    /* R6, R7: the glob and 10:3 alone; 11 and 20, missing from three listings, are
     * forgotten at R7 and their tasks leave the job */
    for (int k = 6; k <= 7; k++) {
        l = lease_all(s, ROUND(k), all, &n, L0, "1:10:3");
        ck_assert_int_eq(n, 2);
        ck_assert_ptr_nonnull(l);
        idle_reads(s, all, n, NULL, ROUND(k));
        OK(listing(s, glob_lease(all, n), 2, p5, f5, ROUND(k)));
        ck_assert_int_eq(ntasks(s), k == 6 ? 5 : 3);
        CKPT(k + 1);
    }
end:
    sched_tick(s, ROUND(last + 1));
#undef CKPT
}

/* The state of job web's files and tasks, as text (the oracle for recovery). */
static char *dump(sched_t *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    apr_thread_mutex_lock(s->lock);
    sched_job_t *job = sched_job_find(s, "web");
    fprintf(f, "seq %" PRIu64 " files %d\n", job->ident_seq, job->nidents);
    for (int i = 0; i < job->tasks->nelts; i++) {
        const sched_task_t *t = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
        fprintf(f,
                "task %d %s#%s off %" PRIu64 " ident %d fin %d paused %d file %s stamp %" PRIu64
                "\n",
                t->id, t->source, t->instance, t->offset, t->ident, t->finished, t->paused,
                t->file ? t->file->path : "-", t->stamp);
        for (const sched_ident_t *x = t->kind == SCHED_EXPAND ? t->files_head : NULL; x;
             x = x->next)
            fprintf(f,
                    " file %" PRIu64 ":%" PRIu64 " %s archive %d size %" PRIu64 " head %d/%" PRIu64
                    "/%" PRIx64 " stamp %" PRIu64 " absent %d detached %d indexed %d task %s\n",
                    x->key.dev, x->key.ino, x->path, x->archive, x->size, x->has_head, x->head.len,
                    x->head.hash, x->stamp, x->absent, x->detached, x->indexed,
                    x->task ? x->task->instance : "-");
    }
    for (const sched_rnd_t *r = job->open; r; r = r->next) {
        fprintf(f, "open %" PRId64 " due %d done %d:", r->pub.round, r->ndue, r->ndone);
        for (int i = 0; i < r->ntasks; i++)
            fprintf(f, " %d", r->state[i]);
        fprintf(f, "\n");
    }
    apr_thread_mutex_unlock(s->lock);
    fclose(f);
    return text;
}

/* ---- tests ---- */

START_TEST(test_series_counted_once)
{
    sched_t *s = mk_cfg(cfg, 60000);
    scenario(s, NULL, 0, 7);
    /* what is left: the glob, 10:1 (finished, reading the archive), 10:3 */
    sched_task_t *a = task_of(s, "1:10:1");
    ck_assert_int_eq(a->finished, 1);
    ck_assert_uint_eq(a->offset, 150);
    ck_assert_ptr_eq(a->file->path, sched_intern(s, L3GZ));
    ck_assert_ptr_null(sched_read_task(sched_job_find(s, "web"), L0, "1:11:2"));
    json_t *j = status(s, ROUND(8));
    json_t *job = json_array_get(json_object_get(j, "jobs"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(job, "files")), 2);
    json_t *src = json_array_get(json_object_get(job, "sources"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(src, "state")), "finished");
    ck_assert_str_eq(json_string_value(json_object_get(src, "file")), L3GZ);
    json_decref(j);
}
END_TEST

/* A repair of a range 10:1 read from access.log is read from where its lines are now. */
START_TEST(test_repair_reads_the_file)
{
    abbey_err_t err;
    sched_lease_t all[16];
    sched_t *s = mk_cfg(cfg, 60000);
    scenario(s, NULL, 0, 7);
    ck_assert_int_eq(sched_repair(s, "web", "m2", L0 "#1:10:1", 0, 100, R0 + 1, &err), APR_SUCCESS);
    int n = lease(s, "s1", 16, ROUND(8), all);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(all[0].kind, SCHED_REPAIR);
    ck_assert_str_eq(all[0].source, L0);
    ck_assert_str_eq(all[0].instance, "1:10:1");
    ck_assert_str_eq(all[0].file, L3GZ);
    ck_assert_str_eq(all[0].file_id, "1:12");
    /* 11:2 left the job with its file: its ranges cannot be read again */
    ck_assert_int_eq(sched_repair(s, "web", "m2", L0 "#1:11:2", 0, 40, R0 + 3, &err), APR_NOTFOUND);
}
END_TEST

/* Recovery reproduces the files and their tasks, stopped after round last (3: the
 * archive continues its original; 5: a file missing, its task paused; 7: the end): from
 * the journal alone, from a checkpoint taken after round k - 1 plus the journal after it,
 * and from a checkpoint alone (k = last + 1). */
START_TEST(test_recovery)
{
    static const int lasts[] = {3, 5, 7};
    int last = lasts[_i / 9], k = _i % 9;
    if (k > last + 1)
        return;
    {
        inst_t in;
        inst_open(&in, cfg, T0);
        scenario(in.s, &in, k, last);
        char *want = dump(in.s);
        inst_drop(&in);
        inst_open(&in, cfg, ROUND(last + 1));
        char *got = dump(in.s);
        ck_assert_msg(strcmp(want, got) == 0, "last %d checkpoint %d: recovered\n%s\nwanted\n%s",
                      last, k, got, want);
        free(want);
        free(got);
        inst_drop(&in);
    }
}
END_TEST

/* "files" must have an item per path, each a dev:inode id with a size, a head with its
 * hash, or an error. */
START_TEST(test_bad_files)
{
    sched_t *s = mk_cfg(cfg, 60000);
    sched_lease_t all[4];
    int n = lease(s, "s1", 4, T0 + 1, all);
    ck_assert_int_eq(n, 1);
    char *b = apr_psprintf(pool, "{\"slave\":\"s1\",\"lease\":%" PRIu64 ",\"paths\":[\"" L0 "\"],",
                           all[0].id);
    bad(sched_http_complete, s, apr_pstrcat(pool, b, "\"files\":[]}", NULL), "'files'");
    bad(sched_http_complete, s,
        apr_pstrcat(pool, b, "\"files\":[{\"id\":\"1\",\"size\":1}]}", NULL),
        "files item 0: field 'id'");
    bad(sched_http_complete, s, apr_pstrcat(pool, b, "\"files\":[{\"id\":\"1:2\"}]}", NULL),
        "'size'");
    bad(sched_http_complete, s,
        apr_pstrcat(pool, b, "\"files\":[{\"id\":\"1:2\",\"size\":1,\"head\":1,\"hash\":\"xy\"}]}",
                    NULL),
        "'hash'");
    bad(sched_http_complete, s,
        apr_pstrcat(pool, b,
                    "\"files\":[{\"id\":\"1:2\",\"size\":1,\"head\":5000,\"hash\":\"0\"}]}", NULL),
        "'head'");
    json_t *j;
    ck_assert_int_eq(call(sched_http_complete, s,
                          apr_pstrcat(pool, b, "\"files\":[{\"error\":\"is a FIFO\"}]}", NULL),
                          T0 + 2, &j),
                     200);
    json_decref(j);
    ck_assert_int_eq(ntasks(s), 1); /* nothing made of it */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched_ident");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, ident_setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_series_counted_once);
    tcase_add_test(tc, test_repair_reads_the_file);
    tcase_add_loop_test(tc, test_recovery, 0, 27);
    tcase_add_test(tc, test_bad_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite()) ? 1 : 0;
}
