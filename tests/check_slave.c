/* check_slave.c - unit tests for the slave: source/instance.c (file instances:
 * growth, rotation, loss, truncation), source/source_http.c (Range reads
 * against tests/tools/range_server.py), and the worker end to end (worker.c,
 * deliver.c, slave.c) against a fake primary and fake masters served
 * in-process by master/httpd.c (tests/fixture_slave.h, shared with
 * tests/check_slave_repair.c).
 *
 * Oracles are independent of the code under test: stat(2) for instance
 * names, the bytes the test wrote for reads, and line and key counts computed
 * here from the generated text for frames. */
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

#define FIXTURE_SUITE "check_slave"
#include "fixture_slave.h"

/* ================================================================= instance */

START_TEST(instance_names)
{
    instance_id_t id;
    char s[INSTANCE_MAX];
    uint64_t gen;
    ck_assert_int_eq(instance_parse("2049:131075:7", &id), 0);
    ck_assert_uint_eq(id.dev, 2049);
    ck_assert_uint_eq(id.ino, 131075);
    ck_assert_uint_eq(id.gen, 7);
    id.gen = 8;
    instance_format(&id, s);
    ck_assert_str_eq(s, "2049:131075:8");
    ck_assert_int_eq(instance_parse("", &id), -1);
    ck_assert_int_eq(instance_parse("1:2", &id), -1);
    ck_assert_int_eq(instance_parse("1:2:3:4", &id), -1);
    ck_assert_int_eq(instance_parse("1:x:3", &id), -1);
    ck_assert_int_eq(instance_parse("1:2:3 ", &id), -1);
    ck_assert_int_eq(instance_parse("99999999999999999999:1:0", &id), -1);
    ck_assert_int_eq(instance_http_parse("", &gen), 0);
    ck_assert_uint_eq(gen, 0);
    ck_assert_int_eq(instance_http_parse("http:12", &gen), 0);
    ck_assert_uint_eq(gen, 12);
    ck_assert_int_eq(instance_http_parse("http:", &gen), -1);
    ck_assert_int_eq(instance_http_parse("1:2:3", &gen), -1);
    instance_http_format(13, s);
    ck_assert_str_eq(s, "http:13");
}
END_TEST

START_TEST(instance_new_then_grows)
{
    const char *p = tpath("a.log");
    instance_plan_t plan;
    abbey_err_t err;
    char inst[INSTANCE_MAX];

    put_file(p, "w", "one\ntwo\n");
    ck_assert_int_eq(instance_plan(p, "", 0, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_str_eq(plan.instance, stat_instance(p, 0));
    ck_assert_str_eq(plan.next_instance, "");
    ck_assert_uint_eq(plan.size, 8);
    ck_assert_str_eq(slurp(plan.read_path, 0, NULL), "one\ntwo\n");
    snprintf(inst, sizeof inst, "%s", plan.instance);
    put_file(p, "a", "three\n");
    ck_assert_int_eq(instance_plan(p, inst, 8, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_str_eq(plan.instance, inst);
    ck_assert_uint_eq(plan.size, 14);
    ck_assert_str_eq(slurp(plan.read_path, 8, NULL), "three\n");
    /* a generation named by an earlier truncation is kept */
    inst[strlen(inst) - 1] = '3';
    ck_assert_int_eq(instance_plan(p, inst, 14, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_str_eq(plan.instance, inst);
}
END_TEST

START_TEST(instance_rotation_found_by_inode)
{
    const char *p = tpath("b.log"), *old;
    instance_plan_t plan;
    abbey_err_t err;

    put_file(p, "w", "old-1\nold-2\nold-3\n");
    old = stat_instance(p, 0);
    put_file(tpath("other.log"), "w", "noise\n");
    ck_assert_int_eq(rename(p, tpath("b.log.1")), 0);
    put_file(p, "w", "new-1\n");
    ck_assert_int_eq(instance_plan(p, old, 6, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_ROTATED);
    ck_assert_str_eq(plan.instance, old);
    ck_assert_str_eq(plan.found, tpath("b.log.1"));
    ck_assert_uint_eq(plan.size, 18);
    ck_assert_str_eq(slurp(plan.read_path, 6, NULL), "old-2\nold-3\n");
    ck_assert_str_eq(plan.next_instance, stat_instance(p, 0));
    ck_assert_uint_eq(plan.next_size, 6);
}
END_TEST

START_TEST(instance_rotation_old_deleted_is_lost)
{
    const char *p = tpath("c.log"), *old;
    instance_plan_t plan;
    abbey_err_t err;

    put_file(p, "w", "old\n");
    old = stat_instance(p, 0);
    ck_assert_int_eq(rename(p, tpath("c.log.1")), 0);
    put_file(p, "w", "new-new\n");
    ck_assert_int_eq(unlink(tpath("c.log.1")), 0);
    ck_assert_int_eq(instance_plan(p, old, 2, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_LOST);
    ck_assert_ptr_null(plan.read_path);
    ck_assert_str_eq(plan.next_instance, stat_instance(p, 0));
    ck_assert_uint_eq(plan.next_size, 8);
}
END_TEST

START_TEST(instance_truncation_bumps_gen)
{
    const char *p = tpath("d.log");
    char inst[INSTANCE_MAX];
    instance_plan_t plan;
    abbey_err_t err;

    put_file(p, "w", "0123456789\n0123456789\n");
    snprintf(inst, sizeof inst, "%s", stat_instance(p, 4));
    ck_assert_int_eq(truncate(p, 5), 0);
    ck_assert_int_eq(instance_plan(p, inst, 22, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_TRUNCATED);
    ck_assert_str_eq(plan.instance, inst);
    ck_assert_str_eq(plan.next_instance, stat_instance(p, 5));
    ck_assert_uint_eq(plan.next_size, 5);
    ck_assert_ptr_null(plan.read_path);
    /* exactly at the size is not a truncation */
    ck_assert_int_eq(instance_plan(p, inst, 5, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    /* a new task whose start is past the end: named, and moved to gen 1 */
    ck_assert_int_eq(instance_plan(p, "", 9, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_TRUNCATED);
    ck_assert_str_eq(plan.instance, stat_instance(p, 0));
    ck_assert_str_eq(plan.next_instance, stat_instance(p, 1));
}
END_TEST

START_TEST(instance_missing_paths)
{
    const char *p = tpath("e.log"), *old;
    instance_plan_t plan;
    abbey_err_t err;

    /* a new task on a path that does not exist yet */
    ck_assert_int_eq(instance_plan(p, "", 0, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_GONE);
    ck_assert_str_eq(plan.instance, "");
    /* renamed away, no new file yet: the old one is still read */
    put_file(p, "w", "x\ny\n");
    old = stat_instance(p, 0);
    ck_assert_int_eq(rename(p, tpath("e.log.old")), 0);
    ck_assert_int_eq(instance_plan(p, old, 2, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_ROTATED);
    ck_assert_str_eq(plan.next_instance, "");
    ck_assert_str_eq(slurp(plan.read_path, 2, NULL), "y\n");
    /* and gone entirely */
    ck_assert_int_eq(unlink(tpath("e.log.old")), 0);
    ck_assert_int_eq(instance_plan(p, old, 2, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_GONE);
    ck_assert_str_eq(plan.instance, old);
    /* a lease instance that is not dev:inode:gen */
    ck_assert_int_eq(instance_plan(p, "http:0", 0, pool, &plan, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "http:0"));
}
END_TEST

/* The plan holds the file it decided about: replacing the path afterwards
 * does not change what is read. */
START_TEST(instance_decision_on_descriptors)
{
    const char *p = tpath("f.log");
    instance_plan_t plan;
    abbey_err_t err;

    put_file(p, "w", "first file\n");
    ck_assert_int_eq(instance_plan(p, "", 0, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(unlink(p), 0);
    put_file(p, "w", "second file, longer\n");
    ck_assert_str_eq(slurp(plan.read_path, 0, NULL), "first file\n");
}
END_TEST

/* =========================================================== range server */

static const char *url_of(const char *name)
{
    return apr_pstrcat(pool, server_base, "/", name, NULL);
}

/* Everything a reader gives from offset, read in pieces of step bytes. */
static char *read_all(const char *url, uint64_t offset, size_t step, uint64_t *total)
{
    source_reader_t *r;
    abbey_err_t err;
    buf_t b;
    char *s, piece[64];
    size_t got;
    apr_status_t rv;

    ck_assert_int_eq(source_open(url, offset, pool, &r, &err), APR_SUCCESS);
    if (total)
        ck_assert_msg(source_total(r, total, &err) == APR_SUCCESS, "%s", err.msg);
    buf_init(&b);
    while ((rv = source_read(r, piece, step, &got, &err)) == APR_SUCCESS)
        buf_put(&b, piece, got);
    ck_assert_msg(rv == APR_EOF, "%s", err.msg);
    source_close(r);
    s = apr_pstrndup(pool, b.data ? (const char *)b.data : "", b.len);
    buf_free(&b);
    return s;
}

START_TEST(http_ranges)
{
    const char *text = "alpha\nbravo\ncharlie\ndelta\n"; /* 26 bytes */
    source_reader_t *r;
    abbey_err_t err;
    uint64_t total = 0;
    char piece[8];
    size_t got;

    put_file(tpath("h.log"), "w", text);
    if (range_server_start(tmpdir, 0) != 0)
        return;
    ck_assert_str_eq(read_all(url_of("h.log"), 0, 64, &total), text);
    ck_assert_uint_eq(total, 26);
    ck_assert_str_eq(read_all(url_of("h.log"), 6, 5, &total), text + 6);
    ck_assert_str_eq(read_all(url_of("h.log"), 25, 3, NULL), "\n");
    /* past the end: a 416 says the size, and there is nothing to read */
    ck_assert_str_eq(read_all(url_of("h.log"), 40, 8, &total), "");
    ck_assert_uint_eq(total, 26);
    ck_assert_str_eq(read_all(url_of("h.log"), 26, 8, &total), "");
    ck_assert_uint_eq(total, 26);
    /* the file shrinks: the size reported is below the old offset */
    put_file(tpath("h.log"), "w", "x\n");
    ck_assert_str_eq(read_all(url_of("h.log"), 20, 8, &total), "");
    ck_assert_uint_eq(total, 2);
    /* a missing file is an error naming the URL and the status */
    ck_assert_int_eq(source_open(url_of("nope.log"), 0, pool, &r, &err), APR_SUCCESS);
    ck_assert_int_ne(source_read(r, piece, sizeof piece, &got, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, "404"));
    ck_assert_ptr_nonnull(strstr(err.msg, "nope.log"));
    source_close(r);
    range_server_stop();
}
END_TEST

/* A server that ignores Range answers 200 with everything: skip to the offset. */
START_TEST(http_server_without_ranges)
{
    const char *text = "one\ntwo\nthree\n";
    uint64_t total = 0;
    put_file(tpath("w.log"), "w", text);
    if (range_server_start(tmpdir, 1) != 0)
        return;
    ck_assert_str_eq(read_all(url_of("w.log"), 4, 3, &total), "two\nthree\n");
    ck_assert_uint_eq(total, 14);
    ck_assert_str_eq(read_all(url_of("w.log"), 14, 3, NULL), "");
    range_server_stop();
}
END_TEST

/* The task runner over an http reader: whole lines of [a, b) only. */
START_TEST(http_task_lines)
{
    const char *yaml = "jobs:\n"
                       "  - name: t\n"
                       "    sources: [/dev/null]\n"
                       "    format: {split: \" \", fields: [user, status:int]}\n"
                       "    groups:\n"
                       "      - name: g\n"
                       "        entries:\n"
                       "          - name: all\n"
                       "            values: {n: count}\n";
    const char *text = "u1 200\nu2 404\nu3 200\nu4 5"; /* 3 whole lines, then a partial */
    rules_config_t *cfg;
    engine_t *e;
    partial_t *p;
    task_io_t io = {0}; /* no stop flag */
    abbey_err_t err;
    uint64_t done;

    put_file(tpath("t.log"), "w", text);
    if (range_server_start(tmpdir, 0) != 0)
        return;
    ck_assert_int_eq(rules_load_buffer(yaml, strlen(yaml), "t.yaml", pool, &cfg, &err),
                     APR_SUCCESS);
    e = engine_create(&cfg->jobs[0], pool);
    p = partial_create(&cfg->jobs[0], pool);
    io.size = 8; /* smaller than the range: several requests, lines across blocks */
    io.buf = apr_palloc(pool, io.size);
    ck_assert_int_eq(task_run_file(e, url_of("t.log"), 7, 25, 0, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(done, 21);
    ck_assert_uint_eq(p->lines, 2);
    ck_assert_uint_eq(p->bytes, 14);
    range_server_stop();
}
END_TEST

/* ============================================== worker against fake servers */

static void queue_lease(uint64_t id, const char *kind, const char *source, const char *instance,
                        uint64_t start, uint64_t cap)
{
    fake_queue(apr_psprintf(pool,
                            "{\"id\":%" PRIu64 ",\"job\":\"t\",\"kind\":\"%s\",\"task\":1,"
                            "\"source\":\"%s\",\"instance\":\"%s\",\"start\":%" PRIu64
                            ",\"cap\":%" PRIu64 ",\"round\":77,\"expires_ms\":4102444800000}",
                            id, kind, source, instance, start, cap));
}

/* Generated log: line i is "u<i%5> <status>\n"; what the oracle counts. */
static const char *gen_log(int nlines, const char *tail)
{
    static const char *st[] = {"200", "404", "500"};
    const char *s = "";
    for (int i = 0; i < nlines; i++)
        s = apr_psprintf(pool, "%su%d %s\n", s, i % 5, st[i % 3]);
    return apr_pstrcat(pool, s, tail, NULL);
}

/* Oracle over text[a, b): whole lines, and how many are user u0. */
static void count_lines(const char *text, uint64_t a, uint64_t b, uint64_t *lines, long *u0)
{
    *lines = 0;
    *u0 = 0;
    for (uint64_t i = a; i < b; i++) {
        if (i == a || text[i - 1] == '\n')
            *u0 += strncmp(text + i, "u0 ", 3) == 0;
        *lines += text[i] == '\n';
    }
}

static int64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "field %s", k);
    return (int64_t)json_integer_value(v);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    ck_assert_msg(v != NULL, "field %s", k);
    return apr_pstrdup(pool, v);
}

/* A frame to master m covering [a, b) with the oracle's counts, groups split right. */
static void check_frame(const fake_frame_t *f, const char *m, const char *source, const char *text,
                        uint64_t a, uint64_t b)
{
    uint64_t lines;
    long u0;
    count_lines(text, a, b, &lines, &u0);
    ck_assert_str_eq(f->master, m);
    ck_assert_str_eq(f->source, source);
    ck_assert_str_eq(f->job, "t");
    ck_assert_uint_eq(f->start, a);
    ck_assert_uint_eq(f->end, b);
    ck_assert_uint_eq(f->lines, lines);
    ck_assert_uint_eq(f->bytes, b - a);
    ck_assert_uint_eq(f->round, 77);
    ck_assert_uint_eq(f->config_hash, test_cfg->hash);
    if (strcmp(m, "m1") == 0) { /* g1 (by_user) is m1's, g2 (by_status) m2's */
        ck_assert_int_gt(f->user_rows, 0);
        ck_assert_int_eq(f->status_rows, 0);
        ck_assert_int_eq(f->u0, u0);
    } else {
        ck_assert_int_eq(f->user_rows, 0);
        ck_assert_int_gt(f->status_rows, 0);
    }
}

START_TEST(worker_read_lease_end_to_end)
{
    const char *p = tpath("app.log"), *text = gen_log(40, "u9 2"), *inst, *src;
    uint64_t end = last_nl(text, strlen(text)), lines;
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;
    long u0;

    ck_assert_int_eq(test_cfg->jobs[0].groups[0].master, 0);
    ck_assert_int_eq(test_cfg->jobs[0].groups[1].master, 1);
    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    src = apr_pstrcat(pool, p, "#", inst, NULL);
    queue_lease(5, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.config_gets, 1);
    ck_assert_int_eq(fake.nframes, 2);
    check_frame(&fake.frames[0], "m1", src, text, 0, end);
    check_frame(&fake.frames[1], "m2", src, text, 0, end);
    ck_assert_uint_eq(fake.frames[0].lease, 5);
    c = completion(0);
    count_lines(text, 0, end, &lines, &u0);
    ck_assert_str_eq(jstr(c, "slave"), "s1");
    ck_assert_int_eq(jint(c, "lease"), 5);
    ck_assert_str_eq(jstr(c, "instance"), inst);
    ck_assert_int_eq(jint(c, "start"), 0);
    ck_assert_int_eq(jint(c, "end"), (int64_t)end);
    ck_assert(json_is_true(json_object_get(c, "at_end"))); /* only a partial line is left */
    ck_assert_str_eq(jstr(c, "next_instance"), "");
    ck_assert_int_eq(jint(c, "lines"), (int64_t)lines);
    ck_assert_int_eq(jint(c, "bytes"), (int64_t)end);
    ck_assert_int_eq(jint(c, "bad_lines"), 0);
    ck_assert_int_eq(jint(c, "size"), (int64_t)strlen(text));
    ck_assert_str_eq(jstr(json_object_get(c, "deliveries"), "m1"), "ok");
    ck_assert_str_eq(jstr(json_object_get(c, "deliveries"), "m2"), "ok");
    json_decref(c);
    /* no lease: nothing happens */
    ck_assert_int_eq(worker_once(w), 0);
    ck_assert_int_eq(fake.ncompletes, 1);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_cap_limits_the_read)
{
    const char *p = tpath("cap.log"), *text = gen_log(30, ""), *inst;
    uint64_t end = last_nl(text, 100);
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;

    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    queue_lease(6, "read", p, inst, 0, 100);
    queue_lease(7, "read", p, inst, end, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(worker_once(w), 1);
    c = completion(0);
    ck_assert_int_eq(jint(c, "end"), (int64_t)end);
    ck_assert(json_is_false(json_object_get(c, "at_end")));
    json_decref(c);
    c = completion(1);
    ck_assert_int_eq(jint(c, "start"), (int64_t)end);
    ck_assert_int_eq(jint(c, "end"), (int64_t)strlen(text));
    ck_assert(json_is_true(json_object_get(c, "at_end")));
    json_decref(c);
    check_frame(&fake.frames[3], "m2", apr_pstrcat(pool, p, "#", inst, NULL), text, end,
                strlen(text));
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* A conflict whose gap does not end at a line end (the master's ranges are
 * not this file's lines: changed under the same instance) fails the delivery. */
START_TEST(worker_conflict_misaligned_fails)
{
    const char *p = tpath("conf.log"), *text = gen_log(50, "");
    uint64_t end = strlen(text), x1 = last_nl(text, 90);
    slave_t *s = new_slave(1, NULL);
    worker_t *w;

    put_file(p, "w", text);
    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict, "[[%" PRIu64 ",%" PRIu64 "]]",
             x1 + 3, end + 500);
    queue_lease(8, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.frames[0].answered, 200);
    ck_assert_int_eq(fake.frames[1].answered, 409);
    ck_assert_int_eq(fake.nframes, 2); /* [0, x1 + 3) re-read ends at x1: nothing sent */
    ck_assert_int_eq(fake.ncompletes, 0);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* m2 already has parts of the range: only the missing parts go to it, read again. */
START_TEST(worker_conflict_line_aligned)
{
    const char *p = tpath("conf2.log"), *text = gen_log(50, "u1 4"), *src;
    uint64_t end = last_nl(text, strlen(text)), x1 = last_nl(text, 90), x2 = last_nl(text, 200);
    uint64_t x3 = last_nl(text, 260);
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;

    put_file(p, "w", text);
    src = apr_pstrcat(pool, p, "#", stat_instance(p, 0), NULL);
    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict,
             "[[%" PRIu64 ",%" PRIu64 "],[%" PRIu64 ",%" PRIu64 "]]", x3, end + 500, x1, x2);
    queue_lease(9, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 4);
    check_frame(&fake.frames[0], "m1", src, text, 0, end);
    check_frame(&fake.frames[1], "m2", src, text, 0, end);
    ck_assert_int_eq(fake.frames[1].answered, 409);
    check_frame(&fake.frames[2], "m2", src, text, 0, x1);
    check_frame(&fake.frames[3], "m2", src, text, x2, x3);
    ck_assert_int_eq(fake.frames[3].answered, 200);
    c = completion(0);
    ck_assert_int_eq(jint(c, "end"), (int64_t)end);
    ck_assert_str_eq(jstr(json_object_get(c, "deliveries"), "m2"), "ok");
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_503_retry_then_fail)
{
    const char *p = tpath("busy.log"), *text = gen_log(10, "");
    slave_t *s = new_slave(1, NULL);
    worker_t *w;

    put_file(p, "w", text);
    fake.script[0].fail503 = 1; /* one 503: the retry gets through */
    queue_lease(10, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 3);
    ck_assert_int_eq(fake.frames[0].answered, 503);
    ck_assert_int_eq(fake.frames[1].answered, 200);
    ck_assert_int_eq(fake.ncompletes, 1);
    fake.script[0].fail503 = 2; /* 503 twice: failed, the lease is not completed */
    queue_lease(11, "read", p, "", 0, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 6);
    ck_assert_int_eq(fake.frames[3].answered, 503);
    ck_assert_int_eq(fake.frames[4].answered, 503);
    ck_assert_str_eq(fake.frames[5].master, "m2");
    ck_assert_int_eq(fake.ncompletes, 1);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_rotation_reads_old_then_moves)
{
    const char *p = tpath("rot.log"), *old_text = gen_log(12, ""), *old, *next;
    uint64_t start = last_nl(old_text, 40);
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;

    put_file(p, "w", old_text);
    old = stat_instance(p, 0);
    ck_assert_int_eq(rename(p, tpath("rot.log.1")), 0);
    put_file(p, "w", "u7 200\n");
    next = stat_instance(p, 0);
    queue_lease(12, "read", p, old, start, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 2);
    check_frame(&fake.frames[0], "m1", apr_pstrcat(pool, p, "#", old, NULL), old_text, start,
                strlen(old_text));
    c = completion(0);
    ck_assert_str_eq(jstr(c, "instance"), old);
    ck_assert_int_eq(jint(c, "end"), (int64_t)strlen(old_text));
    ck_assert_str_eq(jstr(c, "next_instance"), next);
    ck_assert(json_is_false(json_object_get(c, "at_end"))); /* the new file has data */
    ck_assert_int_eq(jint(c, "size"), 7);
    json_decref(c);
    /* the old file gone: nothing read, the task moves on */
    ck_assert_int_eq(unlink(tpath("rot.log.1")), 0);
    queue_lease(13, "read", p, old, start, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 2);
    c = completion(1);
    ck_assert_int_eq(jint(c, "start"), (int64_t)start);
    ck_assert_int_eq(jint(c, "end"), (int64_t)start);
    ck_assert_str_eq(jstr(c, "next_instance"), next);
    ck_assert_int_eq(json_object_size(json_object_get(c, "deliveries")), 0);
    json_decref(c);
    /* truncated under the offset: generation + 1 */
    queue_lease(14, "read", p, next, 100, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    c = completion(2);
    ck_assert_str_eq(jstr(c, "next_instance"), stat_instance(p, 1));
    ck_assert_int_eq(jint(c, "end"), 100);
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* The old file of a rotation is now shorter than the committed offset (it was
 * truncated before the rename): nothing to read, the task moves on anyway. */
START_TEST(worker_rotated_file_shorter_than_offset)
{
    const char *p = tpath("short.log"), *old, *next;
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c;

    put_file(p, "w", "u1 200\n");
    old = stat_instance(p, 0);
    ck_assert_int_eq(rename(p, tpath("short.log.1")), 0);
    put_file(p, "w", "u2 200\n");
    next = stat_instance(p, 0);
    queue_lease(15, "read", p, old, 100, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 0);
    c = completion(0);
    ck_assert_int_eq(jint(c, "start"), 100);
    ck_assert_int_eq(jint(c, "end"), 100);
    ck_assert_str_eq(jstr(c, "next_instance"), next);
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_http_lease)
{
    const char *text = gen_log(20, "u3 40"), *url, *src;
    uint64_t end = last_nl(text, strlen(text));
    slave_t *s;
    worker_t *w;
    json_t *c;

    put_file(tpath("web.log"), "w", text);
    if (range_server_start(tmpdir, 0) != 0)
        return;
    s = new_slave(1, NULL);
    url = url_of("web.log");
    src = apr_pstrcat(pool, url, "#http:0", NULL);
    queue_lease(20, "read", url, "", 0, 1 << 20);
    queue_lease(21, "read", url, "http:0", end + 10, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    check_frame(&fake.frames[0], "m1", src, text, 0, end);
    check_frame(&fake.frames[1], "m2", src, text, 0, end);
    c = completion(0);
    ck_assert_str_eq(jstr(c, "instance"), "http:0");
    ck_assert_int_eq(jint(c, "end"), (int64_t)end);
    ck_assert(json_is_true(json_object_get(c, "at_end")));
    ck_assert_int_eq(jint(c, "size"), (int64_t)strlen(text));
    json_decref(c);
    /* the server's file is now smaller than the offset: a new generation */
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.nframes, 2);
    c = completion(1);
    ck_assert_str_eq(jstr(c, "instance"), "http:0");
    ck_assert_str_eq(jstr(c, "next_instance"), "http:1");
    ck_assert_int_eq(jint(c, "end"), (int64_t)end + 10);
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

START_TEST(worker_expand_lease)
{
    slave_t *s = new_slave(1, NULL);
    worker_t *w;
    json_t *c, *paths;

    put_file(tpath("x-2.log"), "w", "");
    put_file(tpath("x-1.log"), "w", "");
    put_file(tpath("y.log"), "w", "");
    queue_lease(30, "expand", tpath("x-*.log"), "", 0, 1);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    c = completion(0);
    paths = json_object_get(c, "paths");
    ck_assert_int_eq(json_array_size(paths), 2);
    ck_assert_str_eq(json_string_value(json_array_get(paths, 0)), tpath("x-1.log"));
    ck_assert_str_eq(json_string_value(json_array_get(paths, 1)), tpath("x-2.log"));
    ck_assert_int_eq(jint(c, "lease"), 30);
    json_decref(c);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* A lease answer naming another config: fetched (If-None-Match the old one) and used. */
START_TEST(worker_config_switch)
{
    const char *p = tpath("sw.log"), *yaml2 = test_yaml("\n    round: 5s");
    rules_config_t *cfg2;
    abbey_err_t err;
    slave_t *s = new_slave(1, NULL);
    worker_t *w;

    ck_assert_int_eq(rules_load_buffer(yaml2, strlen(yaml2), "t2.yaml", pool, &cfg2, &err),
                     APR_SUCCESS);
    ck_assert_uint_ne(cfg2->hash, test_cfg->hash);
    put_file(p, "w", gen_log(5, ""));
    queue_lease(40, "read", p, "", 0, 1 << 20);
    w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_uint_eq(fake.frames[0].config_hash, test_cfg->hash);
    pthread_mutex_lock(&fake.lock);
    snprintf(fake.config, sizeof fake.config, "%s", yaml2);
    snprintf(fake.etag, sizeof fake.etag, "cafe0002");
    snprintf(fake.lease_config, sizeof fake.lease_config, "cafe0002");
    pthread_mutex_unlock(&fake.lock);
    queue_lease(41, "read", p, "", 0, 1 << 20);
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(fake.config_gets, 2);
    ck_assert_str_eq(fake.inm, "\"cafe0001\"");
    ck_assert_uint_eq(fake.frames[2].config_hash, cfg2->hash);
    worker_destroy(w);
    slave_join(s);
}
END_TEST

/* The renewer, on a driven clock: every lease_ms / 3; 410 marks the lease gone. */
START_TEST(renewer_schedule)
{
    slave_t *s = new_slave(1, NULL);
    hclient_t *hc = hclient_create(TOKEN, 2000, 10000, pool);
    json_t *b;

    slave_lease_track(s, 7, 3000, 0); /* granted at 0, expires at 3000: renew every 1000 */
    ck_assert_int_eq(slave_renew_pass(s, hc, 999), 1);
    ck_assert_int_eq(fake.renews, 0);
    slave_renew_pass(s, hc, 1000);
    ck_assert_int_eq(fake.renews, 1);
    b = json_loads(fake.renew_body, 0, NULL);
    ck_assert_int_eq(jint(b, "lease"), 7);
    ck_assert_str_eq(jstr(b, "slave"), "s1");
    json_decref(b);
    ck_assert_int_eq(slave_renew_pass(s, hc, 1999), 1);
    ck_assert_int_eq(fake.renews, 1);
    slave_renew_pass(s, hc, 2000);
    ck_assert_int_eq(fake.renews, 2);
    fake.renew_status = 410;
    ck_assert_int_eq(slave_lease_gone(s, 7), 0);
    slave_renew_pass(s, hc, 3000);
    ck_assert_int_eq(slave_lease_gone(s, 7), 1);
    slave_renew_pass(s, hc, 9000); /* a gone lease is not renewed again */
    ck_assert_int_eq(fake.renews, 3);
    slave_lease_untrack(s, 7);
    slave_renew_pass(s, hc, 20000);
    ck_assert_int_eq(fake.renews, 3);
    slave_join(s);
}
END_TEST

/* Threads: two workers drain the leases; a stop request ends them cleanly. */
START_TEST(slave_threads_run_and_stop)
{
    const char *p = tpath("thr.log");
    slave_t *s = new_slave(2, NULL);
    abbey_err_t err;
    int done = 0;

    put_file(p, "w", gen_log(20, ""));
    for (int i = 0; i < 6; i++)
        queue_lease(50 + (uint64_t)i, "read", p, "", 0, 1 << 20);
    fake.script[0].slow_ms = 20;
    ck_assert_int_eq(slave_config_update(s, hclient_create(TOKEN, 2000, 10000, pool), NULL, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(slave_start(s, &err), APR_SUCCESS);
    for (int i = 0; i < 1000 && !done; i++) { /* at most 10 s */
        usleep(10000);
        pthread_mutex_lock(&fake.lock);
        done = fake.ncompletes == 6;
        pthread_mutex_unlock(&fake.lock);
    }
    slave_request_stop(s);
    slave_join(s);
    ck_assert_int_eq(fake.ncompletes, 6);
    ck_assert_int_eq(fake.nframes, 12);
}
END_TEST

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
    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict,
             "[[0,10],[5,%" PRIu64 "]]", end + 100);
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

static Suite *slave_suite(void)
{
    Suite *s = suite_create("slave");
    TCase *tc = tcase_create("instance");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, instance_names);
    tcase_add_test(tc, instance_new_then_grows);
    tcase_add_test(tc, instance_rotation_found_by_inode);
    tcase_add_test(tc, instance_rotation_old_deleted_is_lost);
    tcase_add_test(tc, instance_truncation_bumps_gen);
    tcase_add_test(tc, instance_missing_paths);
    tcase_add_test(tc, instance_decision_on_descriptors);
    suite_add_tcase(s, tc);

    tc = tcase_create("source_http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, http_ranges);
    tcase_add_test(tc, http_server_without_ranges);
    tcase_add_test(tc, http_task_lines);
    suite_add_tcase(s, tc);

    tc = tcase_create("worker");
    tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, worker_read_lease_end_to_end);
    tcase_add_test(tc, worker_cap_limits_the_read);
    tcase_add_test(tc, worker_conflict_misaligned_fails);
    tcase_add_test(tc, worker_conflict_line_aligned);
    tcase_add_test(tc, worker_503_retry_then_fail);
    tcase_add_test(tc, worker_rotation_reads_old_then_moves);
    tcase_add_test(tc, worker_rotated_file_shorter_than_offset);
    tcase_add_test(tc, worker_http_lease);
    tcase_add_test(tc, worker_expand_lease);
    tcase_add_test(tc, worker_config_switch);
    tcase_add_test(tc, renewer_schedule);
    tcase_add_test(tc, slave_threads_run_and_stop);
    suite_add_tcase(s, tc);

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
    failed = check_run(slave_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
