/* check_slave_repair.c - tests of the slave's gap repair leases (slave/repair.c,
 * worker_parse_lease's "repair" kind, deliver.c's only_master), end to end
 * against a fake primary and fake masters served in-process by
 * master/httpd.c, as tests/check_slave.c does (the fixture both share:
 * tests/fixture_slave.h).
 *
 * Oracles are independent of the code under test: line and status counts
 * of a byte range are computed here from the bytes the test wrote, with
 * plain string code (no abbey parser); spool files are read with
 * frame_peek. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <dirent.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "frame.h"
#include "hclient.h"
#include "httpd.h"
#include "slave.h"
#include "value.h"

#define FIXTURE_SUITE "check_slave_repair"
#include "fixture_slave.h"

#define ROUND 4242

/* =================================================================== slave */

/* A repair lease as the primary hands it out. */
static const char *repair_json(uint64_t id, const char *source, const char *instance, uint64_t a,
                               uint64_t b, const char *master)
{
    return apr_psprintf(pool,
                        "{\"id\":%" PRIu64 ",\"job\":\"t\",\"kind\":\"repair\",\"task\":3,"
                        "\"source\":\"%s\",\"instance\":\"%s\",\"start\":%" PRIu64
                        ",\"end\":%" PRIu64 ",\"cap\":%" PRIu64 ",\"round\":%d,"
                        "\"master\":\"%s\",\"expires_ms\":4102444800000}",
                        id, source, instance, a, b, b - a, ROUND, master);
}

static void queue_repair(uint64_t id, const char *source, const char *instance, uint64_t a,
                         uint64_t b, const char *master)
{
    fake_queue(repair_json(id, source, instance, a, b, master));
}

/* Run one turn of a fresh worker of s (which is then joined). */
static void run_one(slave_t *s)
{
    worker_t *w = worker_create(s, 0);
    ck_assert_int_eq(worker_once(w), 1);
    worker_destroy(w);
    slave_join(s);
}

/* ================================================================= oracles */

/* Generated log: line i is "u<i%5> <status>\n" with the status drawn from
 * statuses[] by a small LCG, so that every range has its own counts. */
static const char *gen_log(int nlines)
{
    unsigned x = 7;
    char *s = "";
    for (int i = 0; i < nlines; i++) {
        x = x * 1103515245u + 12345u;
        s = apr_psprintf(pool, "%su%d %s\n", s, i % 5, statuses[(x >> 16) % NSTATUS]);
    }
    return s;
}

/* Over text[a, b) (a at a line start): the lines ('\n' count) and, per
 * statuses[], how many lines have that status (the text after the space). */
static void count_range(const char *text, uint64_t a, uint64_t b, uint64_t *lines,
                        long status[NSTATUS])
{
    *lines = 0;
    memset(status, 0, sizeof(long) * NSTATUS);
    for (uint64_t i = a; i < b; i++) {
        if (i == a || text[i - 1] == '\n') {
            const char *sp = strchr(text + i, ' ');
            for (int k = 0; sp && k < NSTATUS; k++)
                status[k] += strncmp(sp + 1, statuses[k], 3) == 0 && sp[4] == '\n';
        }
        *lines += text[i] == '\n';
    }
}

/* The frame f holds exactly the lines of text[a, b), for m2, lease id. */
static void check_m2_frame(const fake_frame_t *f, const char *source, const char *text, uint64_t a,
                           uint64_t b, uint64_t id)
{
    uint64_t lines;
    long status[NSTATUS], sum = 0;
    count_range(text, a, b, &lines, status);
    ck_assert_str_eq(f->master, "m2");
    ck_assert_str_eq(f->source, source);
    ck_assert_uint_eq(f->start, a);
    ck_assert_uint_eq(f->end, b);
    ck_assert_uint_eq(f->lease, id);
    ck_assert_uint_eq(f->round, ROUND);
    ck_assert_uint_eq(f->config_hash, test_cfg->hash);
    ck_assert_uint_eq(f->lines, lines);
    ck_assert_uint_eq(f->bytes, b - a);
    ck_assert_int_eq(f->user_rows, 0); /* m1's group is not in m2's frame */
    for (int k = 0; k < NSTATUS; k++) {
        ck_assert_msg(f->status[k] == status[k], "status %s: frame %ld, text %ld", statuses[k],
                      f->status[k], status[k]);
        sum += status[k];
    }
    ck_assert_int_eq(sum, (long)lines); /* (the oracle saw every line) */
}

/* A repair completion: slave s1, lease id, repair true, none of a read's fields. */
static void check_repair_completion(json_t *c, uint64_t id)
{
    ck_assert_str_eq(json_string_value(json_object_get(c, "slave")), "s1");
    ck_assert_int_eq(json_integer_value(json_object_get(c, "lease")), (json_int_t)id);
    ck_assert(json_is_true(json_object_get(c, "repair")));
    ck_assert_ptr_null(json_object_get(c, "instance"));
    ck_assert_ptr_null(json_object_get(c, "start"));
    ck_assert_ptr_null(json_object_get(c, "end"));
    ck_assert_ptr_null(json_object_get(c, "at_end"));
}

/* The completion's deliveries: exactly {"m2": want}. */
static void check_deliveries(json_t *c, const char *want)
{
    json_t *d = json_object_get(c, "deliveries");
    ck_assert(json_is_object(d));
    ck_assert_int_eq(json_object_size(d), 1);
    ck_assert_str_eq(json_string_value(json_object_get(d, "m2")), want);
    ck_assert_ptr_null(json_object_get(c, "error"));
}

/* The completion's error, which names every needle. */
static void check_error(json_t *c, const char *const *needles, int n)
{
    const char *e = json_string_value(json_object_get(c, "error"));
    ck_assert_msg(e != NULL, "no error in %s", json_dumps(c, 0));
    for (int i = 0; i < n; i++)
        ck_assert_msg(strstr(e, needles[i]) != NULL, "'%s' not in error '%s'", needles[i], e);
    ck_assert_ptr_null(json_object_get(c, "deliveries"));
}

/* ================================================================== tests */

START_TEST(parse_repair_leases)
{
    slave_lease_t l;
    abbey_err_t err;
    json_t *o = json_loads(repair_json(9, "/x.log", "1:2:0", 100, 250, "m2"), 0, NULL);
    ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), 0);
    ck_assert_int_eq(l.kind, SLAVE_LEASE_REPAIR);
    ck_assert_uint_eq(l.id, 9);
    ck_assert_uint_eq(l.start, 100);
    ck_assert_uint_eq(l.end, 250);
    ck_assert_str_eq(l.master, "m2");
    ck_assert_str_eq(l.instance, "1:2:0");
    ck_assert_int_eq(l.round, ROUND);
    /* end not above start, no end, empty or missing master: refused */
    json_object_set_new(o, "end", json_integer(100));
    ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "end"));
    json_object_del(o, "end");
    ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), -1);
    json_object_set_new(o, "end", json_integer(250));
    json_object_set_new(o, "master", json_string(""));
    ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "master"));
    json_object_del(o, "master");
    ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), -1);
    /* the other kinds are unchanged */
    json_object_set_new(o, "kind", json_string("read"));
    ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), 0);
    ck_assert_int_eq(l.kind, SLAVE_LEASE_READ);
    ck_assert_ptr_null(l.master);
    ck_assert_uint_eq(l.end, 0);
    json_object_set_new(o, "kind", json_string("expand"));
    ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), 0);
    ck_assert_int_eq(l.kind, SLAVE_LEASE_EXPAND);
    json_object_set_new(o, "kind", json_string("fix"));
    ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), -1);
    json_decref(o);
}
END_TEST

/* A lease with a missing or bad field is refused, the error naming the lease and the
 * first bad field; "task" and "instance" may be left out. */
START_TEST(parse_lease_names_bad_field)
{
    static const struct {
        const char *key, *value; /* value: JSON text, NULL: the key is removed */
        const char *error;
    } cases[] = {
        {"cap", "0", "lease 5: field 'cap' must be an integer >= 1"},
        {"start", "\"0\"", "lease 5: field 'start' must be an integer >= 0"},
        {"job", NULL, "lease 5: field 'job' is missing"},
        {"task", "\"3\"", "lease 5: field 'task' must be an integer >= -1"},
        {"source", "\"\"", "lease 5: field 'source' must not be empty"},
        {"round", "null", "lease 5: field 'round' must be an integer"},
        {"id", "-1", "a lease: field 'id' must be an integer >= 0"},
        {"kind", "\"fix\"", "lease 5: field 'kind' is 'fix', not read, expand or repair"},
    };
    const char *good =
        "{\"id\":5,\"job\":\"web\",\"kind\":\"read\",\"task\":1,\"source\":\"/x.log\","
        "\"instance\":\"1:2:0\",\"start\":0,\"cap\":100,\"round\":7,\"expires_ms\":9}";
    slave_lease_t l;
    abbey_err_t err;
    json_t *o;

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        o = json_loads(good, 0, NULL);
        ck_assert_ptr_nonnull(o);
        if (cases[i].value)
            json_object_set_new(o, cases[i].key, json_loads(cases[i].value, JSON_DECODE_ANY, NULL));
        else
            json_object_del(o, cases[i].key);
        err.msg[0] = 0;
        ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), -1);
        ck_assert_str_eq(err.msg, cases[i].error);
        json_decref(o);
    }
    o = json_loads(good, 0, NULL);
    json_object_del(o, "task");
    json_object_del(o, "instance");
    ck_assert_int_eq(worker_parse_lease(o, pool, &l, &err), 0);
    ck_assert_int_eq(l.task, -1);
    ck_assert_str_eq(l.instance, "");
    ck_assert_uint_eq(l.cap, 100);
    json_decref(o);
}
END_TEST

/* [A, B) of a log: one frame, to m2 only, holding exactly those lines. */
START_TEST(repair_file_range_to_m2_only)
{
    const char *p = tpath("app.log"), *text = gen_log(60), *inst = NULL;
    uint64_t a = last_nl(text, 100), b = last_nl(text, 300);
    json_t *c;

    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    ck_assert_uint_gt(a, 0);
    ck_assert_uint_lt(b, strlen(text));
    queue_repair(91, p, inst, a, b, "m2");
    run_one(new_slave(1, NULL));
    ck_assert_int_eq(fake.nframes, 1);
    check_m2_frame(&fake.frames[0], apr_pstrcat(pool, p, "#", inst, NULL), text, a, b, 91);
    c = completion(0);
    check_repair_completion(c, 91);
    check_deliveries(c, "ok");
    json_decref(c);
    ck_assert_msg(log_has("repair lease 91: job t"), "no start line");
    ck_assert_msg(log_has("-> master m2: ok"), "no end line");
}
END_TEST

/* The instance was rotated away: found by its inode, read there. */
START_TEST(repair_rotated_instance)
{
    const char *p = tpath("rot.log"), *text = gen_log(40), *inst;
    uint64_t a = last_nl(text, 120), b = strlen(text);
    json_t *c;

    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    ck_assert_int_eq(rename(p, tpath("rot.log.1")), 0);
    put_file(p, "w", "u1 200\nu2 404\n");
    queue_repair(92, p, inst, a, b, "m2");
    run_one(new_slave(1, NULL));
    ck_assert_int_eq(fake.nframes, 1);
    check_m2_frame(&fake.frames[0], apr_pstrcat(pool, p, "#", inst, NULL), text, a, b, 92);
    c = completion(0);
    check_repair_completion(c, 92);
    check_deliveries(c, "ok");
    json_decref(c);
}
END_TEST

/* The file is gone (and no rotated copy holds it): an error, no frame. */
START_TEST(repair_missing_file_is_an_error)
{
    const char *p = tpath("gone.log"), *text = gen_log(20), *inst;
    json_t *c;

    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    ck_assert_int_eq(unlink(p), 0);
    queue_repair(93, p, inst, 0, last_nl(text, 50), "m2");
    run_one(new_slave(1, NULL));
    ck_assert_int_eq(fake.nframes, 0);
    c = completion(0);
    check_repair_completion(c, 93);
    check_error(c, (const char *[]){p, inst, "not found", "m2"}, 4);
    json_decref(c);
}
END_TEST

/* A range past the file's end, and a range whose end is not a line end any
 * more: errors naming the range, no frame. */
START_TEST(repair_beyond_end_is_an_error)
{
    const char *p = tpath("short.log"), *text = gen_log(20), *inst;
    uint64_t size = strlen(text), a = last_nl(text, 40);
    const char *range = apr_psprintf(pool, "[%" PRIu64 ", %" PRIu64 ")", a, size + 30);
    slave_t *s = new_slave(1, NULL);
    worker_t *w = worker_create(s, 0);
    json_t *c;

    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    queue_repair(94, p, inst, a, size + 30, "m2");
    queue_repair(95, p, inst, a, a + 3, "m2"); /* mid-line */
    ck_assert_int_eq(worker_once(w), 1);
    ck_assert_int_eq(worker_once(w), 1);
    worker_destroy(w);
    slave_join(s);
    ck_assert_int_eq(fake.nframes, 0);
    c = completion(0);
    check_repair_completion(c, 94);
    check_error(c, (const char *[]){p, inst, range, "shorter than the end"}, 4);
    json_decref(c);
    c = completion(1);
    check_repair_completion(c, 95);
    check_error(c, (const char *[]){p, "not at the end"}, 2);
    json_decref(c);
}
END_TEST

/* A master the config does not name: an error, nothing sent. */
START_TEST(repair_unknown_master_is_an_error)
{
    const char *p = tpath("um.log"), *text = gen_log(20);
    json_t *c;

    put_file(p, "w", text);
    queue_repair(96, p, stat_instance(p, 0), 0, last_nl(text, 60), "m9");
    run_one(new_slave(1, NULL));
    ck_assert_int_eq(fake.nframes, 0);
    c = completion(0);
    check_repair_completion(c, 96);
    check_error(c, (const char *[]){"'m9'", "not in config"}, 2);
    json_decref(c);
}
END_TEST

/* m2 answers 503 twice: the frame is spooled, the completion says so. */
START_TEST(repair_503_twice_spooled)
{
    const char *p = tpath("sp.log"), *text = gen_log(50), *dir = tpath("spool"), *inst;
    const char *files[4];
    uint64_t a = last_nl(text, 100), b = last_nl(text, 300), off = 0;
    frame_header_t h;
    abbey_err_t err;
    size_t flen;
    long n;
    const uint8_t *data;
    int frames = 0;
    json_t *c;

    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    fake.script[1].fail503 = 2;
    queue_repair(97, p, inst, a, b, "m2");
    run_one(new_slave(1, dir));
    ck_assert_int_eq(fake.nframes, 2);
    ck_assert_int_eq(fake.frames[0].answered, 503);
    ck_assert_int_eq(fake.frames[1].answered, 503);
    check_m2_frame(&fake.frames[1], apr_pstrcat(pool, p, "#", inst, NULL), text, a, b, 97);
    ck_assert_int_eq(spool_files(dir, "m1", files, 4), 0);
    ck_assert_int_eq(spool_files(dir, "m2", files, 4), 1);
    data = (const uint8_t *)slurp(files[0], 0, &n);
    while (off < (uint64_t)n) { /* whole frames, read with frame_peek */
        ck_assert_int_eq(frame_peek(data + off, (size_t)n - off, &h, &flen, &err), APR_SUCCESS);
        off += flen;
        frames++;
    }
    ck_assert_int_eq(frames, 1);
    ck_assert_str_eq(h.master, "m2");
    ck_assert_uint_eq(h.start, a);
    ck_assert_uint_eq(h.end, b);
    ck_assert_uint_eq(h.lease, 97);
    ck_assert_uint_eq(h.round, ROUND);
    c = completion(0);
    check_repair_completion(c, 97);
    check_deliveries(c, "spooled");
    json_decref(c);
}
END_TEST

/* 503 twice without a spool: not delivered, so not completed (it expires). */
START_TEST(repair_503_without_spool_not_completed)
{
    const char *p = tpath("ns.log"), *text = gen_log(30);

    put_file(p, "w", text);
    fake.script[1].fail503 = 2;
    queue_repair(98, p, stat_instance(p, 0), 0, last_nl(text, 150), "m2");
    run_one(new_slave(1, NULL));
    ck_assert_int_eq(fake.nframes, 2);
    ck_assert_int_eq(fake.ncompletes, 0);
    ck_assert_msg(log_has("-> master m2: failed"), "no end line");
}
END_TEST

/* m2 has part of the range (409): only the rest is read again and sent to it. */
START_TEST(repair_conflict_sends_the_rest)
{
    const char *p = tpath("cf.log"), *text = gen_log(60), *inst, *src;
    uint64_t a = last_nl(text, 100), x = last_nl(text, 220), b = last_nl(text, 380);
    json_t *c;

    put_file(p, "w", text);
    inst = stat_instance(p, 0);
    src = apr_pstrcat(pool, p, "#", inst, NULL);
    snprintf(fake.script[1].conflict, sizeof fake.script[1].conflict, "[[0,%" PRIu64 "]]", x);
    queue_repair(99, p, inst, a, b, "m2");
    run_one(new_slave(1, NULL));
    ck_assert_int_eq(fake.nframes, 2);
    ck_assert_int_eq(fake.frames[0].answered, 409);
    check_m2_frame(&fake.frames[0], src, text, a, b, 99);
    ck_assert_int_eq(fake.frames[1].answered, 200);
    check_m2_frame(&fake.frames[1], src, text, x, b, 99);
    c = completion(0);
    check_deliveries(c, "ok");
    json_decref(c);
}
END_TEST

/* An http(s) source: the Range reader; "" names generation 0 as reads do. */
START_TEST(repair_http_range)
{
    const char *text = gen_log(40), *url;
    uint64_t a = last_nl(text, 90), b = last_nl(text, 260);
    json_t *c;

    put_file(tpath("web.log"), "w", text);
    if (range_server_start(tmpdir, 0) != 0)
        return;
    url = apr_pstrcat(pool, server_base, "/web.log", NULL);
    queue_repair(100, url, "http:0", a, b, "m2");
    queue_repair(101, url, "http:0", a, strlen(text) + 1, "m2");
    queue_repair(102, url, "", a, b, "m2");
    {
        slave_t *s = new_slave(1, NULL);
        worker_t *w = worker_create(s, 0);
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(worker_once(w), 1);
        worker_destroy(w);
        slave_join(s);
    }
    ck_assert_int_eq(fake.nframes, 2);
    check_m2_frame(&fake.frames[0], apr_pstrcat(pool, url, "#http:0", NULL), text, a, b, 100);
    check_m2_frame(&fake.frames[1], apr_pstrcat(pool, url, "#http:0", NULL), text, a, b, 102);
    c = completion(0);
    check_deliveries(c, "ok");
    json_decref(c);
    c = completion(1);
    check_repair_completion(c, 101);
    check_error(c, (const char *[]){url, "fewer than the end"}, 2);
    json_decref(c);
    range_server_stop();
}
END_TEST

static Suite *repair_suite(void)
{
    Suite *s = suite_create("slave_repair");
    TCase *tc = tcase_create("repair");
    tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parse_repair_leases);
    tcase_add_test(tc, parse_lease_names_bad_field);
    tcase_add_test(tc, repair_file_range_to_m2_only);
    tcase_add_test(tc, repair_rotated_instance);
    tcase_add_test(tc, repair_missing_file_is_an_error);
    tcase_add_test(tc, repair_beyond_end_is_an_error);
    tcase_add_test(tc, repair_unknown_master_is_an_error);
    tcase_add_test(tc, repair_503_twice_spooled);
    tcase_add_test(tc, repair_503_without_spool_not_completed);
    tcase_add_test(tc, repair_conflict_sends_the_rest);
    tcase_add_test(tc, repair_http_range);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    hclient_global_init();
    failed = check_run(repair_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
