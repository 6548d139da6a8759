/* check_rejects.c - unit tests for common/rejects.c, the files bad lines are kept in: records
 * and their escaping (NUL, invalid UTF-8, controls, quotes, backslashes, a line cut at
 * REJECTS_LINE_MAX), the rate limit per round with its not_kept records, rotation by size,
 * a directory that cannot be made, symbolic links and a FIFO refused, a disk that fills
 * (RLIMIT_FSIZE), threads sharing a writer, and the engine's sink.
 *
 * The oracle is what each test wrote: every record is parsed back with jansson and its line
 * unescaped by the documented rule (\\ is a backslash, \xNN a byte), which must give the
 * bytes the test put in. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_thread_proc.h>

#include "check_run.h"
#include "engine.h"
#include "rejects.h"
#include "rules.h"

#define FIXTURE_SUITE "check_rejects"
#include "fixture_source.h"

/* A job "web" (combined) whose rejects go to dir with these limits. */
static const rules_job_t *job_with(const char *dir, long per_round, const char *size, int keep)
{
    rules_config_t *cfg;
    abbey_err_t err;
    const char *text =
        apr_psprintf(pool,
                     "jobs:\n"
                     "  - name: web\n"
                     "    sources: [/dev/null]\n"
                     "    format: combined\n"
                     "    rejects: {path: \"%s\", max_per_round: %ld, "
                     "max_size: %s, keep: %d}\n"
                     "    groups:\n"
                     "      - {name: g, entries: [{name: e, key: [status], values: {n: count}}]}\n",
                     dir, per_round, size, keep);
    ck_assert_msg(rules_load_buffer(text, strlen(text), "r.yaml", pool, &cfg, &err) == APR_SUCCESS,
                  "%s", err.msg);
    return &cfg->jobs[0];
}

static engine_bad_t bad(const char *line, size_t len, uint64_t offset)
{
    engine_bad_t b = {offset, FORMAT_BAD_NUMBER, "status is not a number", line, len, len};
    return b;
}

/* The bytes of path (NUL-terminated, in pool), *len its length; NULL when absent. */
static char *slurp(const char *path, size_t *len)
{
    char *data;
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    data = apr_palloc(pool, n + 1);
    ck_assert_uint_eq(fread(data, 1, n, f), n);
    fclose(f);
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

/* The records of a file, parsed: an array of objects (every line must be
 * one); *torn counts lines that are not JSON (a record a full disk cut). */
static json_t *records(const char *path, int *torn)
{
    json_t *a = json_array();
    char *data = slurp(path, NULL), *save = NULL;
    if (torn)
        *torn = 0;
    if (!data)
        return a;
    for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *o = json_loads(l, 0, &e);
        if (!o && torn) {
            (*torn)++;
            continue;
        }
        ck_assert_msg(o && json_is_object(o), "%s: not a JSON object: %.200s (%s)", path, l,
                      e.text);
        json_array_append_new(a, o);
    }
    return a;
}

/* The documented unescaping of a record's text: \\ -> \, \xNN -> the byte. */
static size_t unescape(const char *s, char *out)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\\' && s[i + 1] == '\\') {
            out[o++] = '\\';
            i++;
        } else if (s[i] == '\\' && s[i + 1] == 'x') {
            unsigned v;
            ck_assert_int_eq(sscanf(s + i + 2, "%2x", &v), 1);
            out[o++] = (char)v;
            i += 3;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

static const char *str_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    ck_assert_msg(s != NULL, "no string '%s'", key);
    return s;
}

/* A test's writer: job "web" with rejects in dir (job_with), a set of writers
 * in its own pool sub (destroying it closes them), and the job's writer f. */
typedef struct tw_t {
    const rules_job_t *job;
    apr_pool_t *sub;
    rejects_t *r;
    rejects_file_t *f;
} tw_t;

static tw_t writer(const char *dir, long per_round, const char *size, int keep)
{
    tw_t w;
    w.job = job_with(dir, per_round, size, keep);
    apr_pool_create(&w.sub, pool);
    w.r = rejects_create(w.sub);
    w.f = rejects_file(w.r, w.job);
    return w;
}

/* The integer key of record i of a (records). */
static json_int_t num_at(json_t *a, size_t i, const char *key)
{
    return json_integer_value(json_object_get(json_array_get(a, i), key));
}

START_TEST(test_records_and_escaping)
{
    static const char *const lines[] = {
        "plain text",
        "quote \" and backslash \\ and \\x41",
        "tab\there, bell\a, DEL\x7f, C1 \xc2\x85 and caf\xc3\xa9 and \xe2\x82\xac",
        "invalid \xff\xfe, a lone \x80, overlong \xc0\xaf, surrogate \xed\xa0\x80",
    };
    const char *dir = tpath("rej");
    tw_t w = writer(dir, 100, "1MiB", 3);
    rejects_file_t *f = w.f;
    char *big = malloc(REJECTS_LINE_MAX + 500), *back = malloc(4 * REJECTS_LINE_MAX);
    char nul[] = "a\0b\0\0c";
    rejects_stats_t st;
    struct stat sb;
    json_t *a;
    mode_t um = umask(0);

    umask(um);
    ck_assert_ptr_eq(rejects_file(w.r, w.job), f);
    for (size_t i = 0; i < 4; i++) {
        engine_bad_t b = bad(lines[i], strlen(lines[i]), 100 * i);
        rejects_put(f, 1, "/var/log/x\xff.log", &b);
    }
    engine_bad_t b = bad(nul, sizeof nul - 1, 400);
    rejects_put(f, 1, "/s", &b);
    for (size_t i = 0; i < REJECTS_LINE_MAX + 500; i++)
        big[i] = (char)('a' + i % 26);
    b = bad(big, REJECTS_LINE_MAX + 500, 500);
    rejects_put(f, 1, "/s", &b);
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.kept, 6);
    ck_assert_uint_eq(st.not_kept + st.lost, 0);
    ck_assert_str_eq(st.path, apr_pstrcat(pool, dir, "/web.rejects", NULL));
    ck_assert_int_eq(stat(st.path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0640 & ~um);

    a = records(st.path, NULL);
    ck_assert_uint_eq(json_array_size(a), 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *o = json_array_get(a, i);
        size_t n = unescape(str_of(o, "line"), back);
        ck_assert_str_eq(str_of(o, "reason"), "number");
        ck_assert_str_eq(str_of(o, "why"), "status is not a number");
        ck_assert_int_eq(json_integer_value(json_object_get(o, "offset")), (json_int_t)(100 * i));
        if (i < 4) {
            ck_assert_uint_eq(n, strlen(lines[i]));
            ck_assert_int_eq(memcmp(back, lines[i], n), 0);
            ck_assert_ptr_null(json_object_get(o, "truncated"));
        } else if (i == 4) {
            ck_assert_uint_eq(n, sizeof nul - 1);
            ck_assert_int_eq(memcmp(back, nul, n), 0);
        } else {
            ck_assert_uint_eq(n, REJECTS_LINE_MAX);
            ck_assert_int_eq(memcmp(back, big, n), 0);
            ck_assert(json_is_true(json_object_get(o, "truncated")));
            ck_assert_int_eq(json_integer_value(json_object_get(o, "bytes")),
                             REJECTS_LINE_MAX + 500);
        }
    }
    ck_assert_str_eq(str_of(json_array_get(a, 0), "source"), "/var/log/x\\xff.log");
    json_decref(a);
    apr_pool_destroy(w.sub);
    free(big);
    free(back);
}
END_TEST

/* 2000 lines of random bytes (every value, lengths 0 to 300, runs of bytes
 * >= 0x80 to make some valid UTF-8): each record is JSON and gives its bytes back. */
START_TEST(test_random_lines)
{
    tw_t w = writer(tpath("rej"), 100000, "64MiB", 3);
    rejects_file_t *f = w.f;
    static char lines[2000][300];
    size_t lens[2000], n;
    char back[4 * 300];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    rejects_stats_t st;
    json_t *a;

    for (int i = 0; i < 2000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        lens[i] = (size_t)(seed >> 33) % 301;
        for (size_t k = 0; k < lens[i]; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            lines[i][k] = (char)(seed >> 56);
            if (k && (seed >> 20) % 3 == 0 && (unsigned char)lines[i][k - 1] >= 0xc2 &&
                (unsigned char)lines[i][k - 1] <= 0xdf)
                lines[i][k] = (char)(0x80 | (seed >> 40) % 64); /* a valid 2-byte sequence */
        }
        engine_bad_t b = bad(lines[i], lens[i], (uint64_t)i);
        rejects_put(f, 1, "/s", &b);
    }
    rejects_stats(f, &st);
    a = records(st.path, NULL);
    ck_assert_uint_eq(json_array_size(a), 2000);
    for (int i = 0; i < 2000; i++) {
        n = unescape(str_of(json_array_get(a, (size_t)i), "line"), back);
        ck_assert_msg(n == lens[i] && memcmp(back, lines[i], n) == 0, "line %d differs", i);
    }
    json_decref(a);
    apr_pool_destroy(w.sub);
}
END_TEST

START_TEST(test_rate_per_round)
{
    tw_t w = writer(tpath("rej"), 3, "1MiB", 3);
    rejects_file_t *f = w.f;
    engine_bad_t b = bad("x", 1, 0);
    rejects_stats_t st;
    json_t *a;

    for (int i = 0; i < 10; i++) {
        b.offset = (uint64_t)i;
        rejects_put(f, 5, "/s", &b);
    }
    for (int i = 0; i < 5; i++) {
        b.offset = 100 + (uint64_t)i;
        rejects_put(f, i == 2 ? 4 : 6, "/s", &b); /* a late line of round 4 counts in 6 */
    }
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.kept, 6);
    ck_assert_uint_eq(st.not_kept, 9);
    apr_pool_destroy(w.sub); /* round 6 ends: its record */
    a = records(st.path, NULL);
    ck_assert_uint_eq(json_array_size(a), 8);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(num_at(a, (size_t)i, "offset"), i);
    ck_assert_int_eq(num_at(a, 3, "round"), 5);
    ck_assert_int_eq(num_at(a, 3, "not_kept"), 7);
    ck_assert_int_eq(num_at(a, 3, "max_per_round"), 3);
    for (int i = 4; i < 7; i++)
        ck_assert_int_eq(num_at(a, (size_t)i, "offset"), 100 + i - 4);
    ck_assert_int_eq(num_at(a, 7, "round"), 6);
    ck_assert_int_eq(num_at(a, 7, "not_kept"), 2);
    json_decref(a);
}
END_TEST

START_TEST(test_max_per_round_zero)
{
    tw_t w = writer(tpath("rej"), 0, "1MiB", 3);
    rejects_file_t *f = w.f;
    engine_bad_t b = bad("x", 1, 0);
    rejects_stats_t st;
    json_t *a;

    for (int i = 0; i < 4; i++)
        rejects_put(f, 0, "/s", &b);
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.kept, 0);
    ck_assert_uint_eq(st.not_kept, 4);
    apr_pool_destroy(w.sub);
    a = records(st.path, NULL);
    ck_assert_uint_eq(json_array_size(a), 1);
    ck_assert_int_eq(num_at(a, 0, "not_kept"), 4);
    json_decref(a);
}
END_TEST

/* Records of ~100 bytes into 4 KiB files, 2 kept: the newest records, in order,
 * in web.rejects.2, .1 and web.rejects; no file over 4 KiB; no .3. */
START_TEST(test_rotation)
{
    const char *dir = tpath("rej");
    tw_t w = writer(dir, 100000, "4KiB", 2);
    rejects_file_t *f = w.f;
    const char *names[3] = {"web.rejects.2", "web.rejects.1", "web.rejects"};
    json_int_t next = -1;
    size_t total = 0;
    rejects_stats_t st;

    for (int i = 0; i < 400; i++) {
        engine_bad_t b =
            bad("a line of a log that does not parse under its format", 52, (uint64_t)i);
        rejects_put(f, 1, "/var/log/app.log", &b);
    }
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.kept, 400);
    for (int k = 0; k < 3; k++) {
        const char *p = apr_pstrcat(pool, dir, "/", names[k], NULL);
        struct stat sb;
        json_t *a = records(p, NULL);
        ck_assert_int_eq(stat(p, &sb), 0);
        ck_assert_int_le(sb.st_size, 4096);
        ck_assert_uint_gt(json_array_size(a), k < 2 ? 20 : 0); /* rotated ones are full */
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_int_t o = num_at(a, i, "offset");
            ck_assert(next < 0 || o == next);
            next = o + 1;
        }
        total += json_array_size(a);
        json_decref(a);
    }
    ck_assert_int_eq(next, 400);
    ck_assert_uint_lt(total, 400);
    ck_assert_int_ne(access(apr_pstrcat(pool, dir, "/web.rejects.3", NULL), F_OK), 0);
    apr_pool_destroy(w.sub);
}
END_TEST

/* Lines that cannot be written are counted (lost), never block, and the writer
 * tries again in the next round. */
START_TEST(test_unwritable_dir)
{
    const char *dir = tpath("notadir");
    tw_t w = writer(dir, 100, "1MiB", 3);
    rejects_file_t *f = w.f;
    engine_bad_t b = bad("x", 1, 0);
    rejects_stats_t st;
    json_t *a;

    put_file(dir, "a file where the directory should be\n", 37);
    for (int i = 0; i < 5; i++)
        rejects_put(f, 1, "/s", &b);
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.kept, 0);
    ck_assert_uint_eq(st.lost, 5);
    /* the parent is a file too: mkdir fails */
    const rules_job_t *job2 = job_with(apr_pstrcat(pool, dir, "/sub", NULL), 100, "1MiB", 3);
    rejects_file_t *f2 = rejects_file(w.r, job2);
    ck_assert_ptr_ne(f2, f);
    rejects_put(f2, 1, "/s", &b);
    rejects_stats(f2, &st);
    ck_assert_uint_eq(st.lost, 1);
    /* fixed: the next round writes */
    ck_assert_int_eq(unlink(dir), 0);
    rejects_put(f, 1, "/s", &b);
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.lost, 6);
    rejects_put(f, 2, "/s", &b);
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.kept, 1);
    a = records(st.path, NULL);
    ck_assert_uint_eq(json_array_size(a), 1);
    json_decref(a);
    apr_pool_destroy(w.sub);
}
END_TEST

/* A symbolic link at the file's name (dangling or not) or at a rotated name,
 * and a FIFO, are never written through. */
START_TEST(test_links_refused)
{
    const char *dir = tpath("rej"), *target = tpath("target"), *path;
    tw_t w = writer(dir, 100, "4KiB", 1);
    rejects_file_t *f = w.f;
    engine_bad_t b = bad("x", 1, 0);
    rejects_stats_t st;
    size_t n;

    ck_assert_int_eq(mkdir(dir, 0700), 0);
    path = apr_pstrcat(pool, dir, "/web.rejects", NULL);
    put_file(target, "keep me\n", 8);
    ck_assert_int_eq(symlink(target, path), 0);
    rejects_put(f, 1, "/s", &b);
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.lost, 1);
    ck_assert_str_eq(slurp(target, &n), "keep me\n");
    /* dangling: the target is not created */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(symlink(tpath("nothing"), path), 0);
    rejects_put(f, 2, "/s", &b);
    ck_assert_int_ne(access(tpath("nothing"), F_OK), 0);
    /* a FIFO: refused at once (O_NONBLOCK), not waited on */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    rejects_put(f, 3, "/s", &b);
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.lost, 3);
    ck_assert_uint_eq(st.kept, 0);
    /* a link at the rotated name is replaced by the rename, its target untouched */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(symlink(target, apr_pstrcat(pool, path, ".1", NULL)), 0);
    for (int i = 0; i < 100; i++)
        rejects_put(f, 4, "/s", &b);
    rejects_stats(f, &st);
    ck_assert_uint_eq(st.kept, 100);
    ck_assert_str_eq(slurp(target, &n), "keep me\n");
    struct stat sb;
    ck_assert_int_eq(lstat(apr_pstrcat(pool, path, ".1", NULL), &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    apr_pool_destroy(w.sub);
}
END_TEST

/* A file that cannot grow (RLIMIT_FSIZE: EFBIG, as a full disk gives ENOSPC):
 * lines are counted lost, a record cut short is ended before the next. */
START_TEST(test_disk_full)
{
    tw_t w = writer(tpath("rej"), 100000, "1MiB", 3);
    rejects_file_t *f = w.f;
    engine_bad_t b = bad("a bad line of some length, to cut a record in two", 50, 0);
    struct rlimit lim = {1000, RLIM_INFINITY}, old;
    rejects_stats_t st;
    int torn;
    json_t *a;

    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim.rlim_max = old.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (int i = 0; i < 50; i++) {
        b.offset = (uint64_t)i;
        rejects_put(f, 1, "/s", &b);
    }
    rejects_stats(f, &st);
    ck_assert_uint_gt(st.kept, 3);
    ck_assert_uint_gt(st.lost, 30);
    ck_assert_uint_eq(st.kept + st.lost, 50);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    b.offset = 1000;
    rejects_put(f, 2, "/s", &b);
    rejects_stats(f, &st);
    a = records(st.path, &torn);
    ck_assert_int_le(torn, 1);
    ck_assert_uint_eq(json_array_size(a), st.kept);
    ck_assert_int_eq(num_at(a, st.kept - 1, "offset"), 1000);
    json_decref(a);
    apr_pool_destroy(w.sub);
}
END_TEST

/* ---- threads ---------------------------------------------------------------- */

#define NTHREADS 4
#define PER_THREAD 500

typedef struct tctx_t {
    rejects_file_t *f;
    char source[16];
} tctx_t;

static void *APR_THREAD_FUNC writer_main(apr_thread_t *t, void *data)
{
    tctx_t *c = data;
    (void)t;
    for (int i = 0; i < PER_THREAD; i++) {
        engine_bad_t b = bad("a line from a thread", 20, (uint64_t)i);
        rejects_put(c->f, 1, c->source, &b);
    }
    return NULL;
}

START_TEST(test_threads)
{
    tw_t w = writer(tpath("rej"), 1000000, "64MiB", 3);
    apr_thread_t *th[NTHREADS];
    tctx_t ctx[NTHREADS];
    int per[NTHREADS] = {0};
    rejects_stats_t st;
    json_t *a;

    for (int i = 0; i < NTHREADS; i++) {
        ctx[i].f = rejects_file(w.r, w.job);
        snprintf(ctx[i].source, sizeof ctx[i].source, "/t%d", i);
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, writer_main, &ctx[i], pool), APR_SUCCESS);
    }
    for (int i = 0; i < NTHREADS; i++) {
        apr_status_t trv;
        apr_thread_join(&trv, th[i]);
    }
    rejects_stats(ctx[0].f, &st);
    ck_assert_uint_eq(st.kept, NTHREADS * PER_THREAD);
    a = records(st.path, NULL);
    ck_assert_uint_eq(json_array_size(a), NTHREADS * PER_THREAD);
    for (size_t i = 0; i < json_array_size(a); i++) {
        int t = str_of(json_array_get(a, i), "source")[2] - '0';
        ck_assert(t >= 0 && t < NTHREADS);
        per[t]++;
    }
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(per[i], PER_THREAD);
    json_decref(a);
    apr_pool_destroy(w.sub);
}
END_TEST

/* The engine's bad lines through rejects_attach: each with its reason and the
 * field to blame; a job without rejects: gets no writer and no sink. */
START_TEST(test_engine_sink)
{
    tw_t w = writer(tpath("rej"), 100, "1MiB", 3);
    engine_t *e = engine_create(w.job, pool);
    partial_t *p = partial_create(w.job, pool);
    rejects_sink_t s = {rejects_file(w.r, w.job), "/var/log/access.log", 9};
    const char *in =
        "1.2.3.4 - - [18/May/2015:02:05:46 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"c\"\n"
        "garbage\n"
        "1.2.3.4 - - [18/May/2015:02:05:46 +0000] \"GET / HTTP/1.1\" 2x0 5 \"-\" \"c\"\n";
    rejects_stats_t st;
    rules_job_t plain = *w.job;
    json_t *a;

    rejects_attach(e, &s);
    ck_assert_int_eq(engine_feed(e, in, strlen(in), 0, p, NULL, NULL), APR_SUCCESS);
    ck_assert_uint_eq(p->bad_lines, 2);
    rejects_stats(s.file, &st);
    ck_assert_uint_eq(st.kept, 2);
    a = records(st.path, NULL);
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_str_eq(str_of(json_array_get(a, 0), "reason"), "fields");
    ck_assert_str_eq(str_of(json_array_get(a, 0), "line"), "garbage");
    ck_assert_int_eq(num_at(a, 0, "offset"), 72);
    ck_assert_str_eq(str_of(json_array_get(a, 1), "why"), "status is not a number");
    ck_assert_str_eq(str_of(json_array_get(a, 1), "source"), "/var/log/access.log");
    json_decref(a);
    plain.rejects.dir = NULL;
    ck_assert_ptr_null(rejects_file(w.r, &plain));
    s.file = NULL;
    rejects_attach(e, &s); /* no sink: nothing more is written */
    ck_assert_int_eq(engine_feed(e, in, strlen(in), 0, p, NULL, NULL), APR_SUCCESS);
    rejects_stats(rejects_file(w.r, w.job), &st);
    ck_assert_uint_eq(st.kept, 2);
    apr_pool_destroy(w.sub);
}
END_TEST

static Suite *rejects_suite(void)
{
    Suite *s = suite_create("rejects");
    TCase *tc = tcase_create("rejects");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_records_and_escaping);
    tcase_add_test(tc, test_random_lines);
    tcase_add_test(tc, test_rate_per_round);
    tcase_add_test(tc, test_max_per_round_zero);
    tcase_add_test(tc, test_rotation);
    tcase_add_test(tc, test_unwritable_dir);
    tcase_add_test(tc, test_links_refused);
    tcase_add_test(tc, test_disk_full);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_engine_sink);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(rejects_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
