/* check_task.c - unit tests for source/task.c and the file reader under it (source/source_file.c):
 * lines over the limit (inside a block, across blocks, across a range's end, unended at the end
 * of the file), ranges read the way a slave reads them (any cap), files cut while read, sources
 * that are not regular files (refused without blocking, also by instance.c), readers opened
 * through /proc/self/fd/N naming their file, the stop flag, a memory budget that cuts runs, the
 * buffer size for a config, a thread's engines per job (task_engines_t), the header line a range
 * past byte 0 of a csv source with a header reads first (or fails without), and the modification
 * time every run gives the engine.
 *
 * Oracles: the test writes the text and knows, line by line, which lines are good, which are
 * over the limit, and where each starts; counts are computed here from that, never by abbey. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "instance.h"
#include "source.h"
#include "task.h"

#define FIXTURE_SUITE "check_task"
#include "fixture_source.h"

/* A job of the given format and entry key; max_line as given ("" for the default). */
static rules_config_t *job_of(const char *max_line, const char *format, const char *key)
{
    const char *yaml = apr_psprintf(
        pool,
        "jobs:\n"
        "  - name: t\n"
        "    sources: [/dev/null]\n"
        "%s"
        "    format: %s\n"
        "    groups:\n"
        "      - name: g\n"
        "        entries:\n"
        "          - name: by_status\n"
        "            key: [%s]\n"
        "            values: {n: count}\n",
        *max_line ? apr_psprintf(pool, "    max_line: %s\n", max_line) : "", format, key);
    rules_config_t *cfg;
    abbey_err_t err;
    ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), "t.yaml", pool, &cfg, &err) == APR_SUCCESS,
                  "%s", err.msg);
    return cfg;
}

/* A job whose lines are "<user> <status>"; max_line as given ("" for the default). */
static rules_config_t *job_with(const char *max_line)
{
    return job_of(max_line, "{split: \" \", fields: [user, status:int]}", "status");
}

/* A buffer of size bytes, with no stop flag. */
static task_io_t io_of(size_t size)
{
    task_io_t io = {.buf = apr_palloc(pool, size), .size = size, .stop = NULL};
    return io;
}

/* The text of the tests: 3 good lines, a line of n bytes (n - 4 'x' then " 404": cut into
 * pieces, its tail would read as a good line of status 404), 2 good lines; *at receives the
 * long line's offset, *after the offset after its '\n'. */
static const char *text_with_long_line(size_t n, uint64_t *at, uint64_t *after)
{
    const char *head = "u1 200\nu2 200\nu3 302\n", *tail = "u4 200\nu5 500\n";
    char *x = apr_palloc(pool, n + 1);
    memset(x, 'x', n - 4);
    memcpy(x + n - 4, " 404", 5);
    *at = strlen(head);
    *after = *at + n + 1;
    return apr_pstrcat(pool, head, x, "\n", tail, NULL);
}

/* Lines, bad lines and bytes of p, and that status 404 was never counted. */
static void expect_counts(const partial_t *p, uint64_t lines, uint64_t bad, uint64_t bytes)
{
    ck_assert_uint_eq(p->lines, lines);
    ck_assert_uint_eq(p->bad_lines, bad);
    ck_assert_uint_eq(p->bytes, bytes);
}

/* ============================================================ long lines */

/* A line longer than the buffer is one bad line "line too long", never pieces. */
START_TEST(long_line_across_blocks_is_one_bad_line)
{
    uint64_t at, after, done;
    const char *text = text_with_long_line(1000, &at, &after);
    size_t len = strlen(text);
    rules_config_t *cfg = job_with("");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    engine_samples_t smp = {0};
    task_io_t io = io_of(64); /* the line spans 16 blocks */
    abbey_err_t err;

    put_file(tpath("a.log"), text, len);
    ck_assert_int_eq(task_run_file(e, tpath("a.log"), 0, len, 0, &io, p, &smp, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(done, len);
    expect_counts(p, 6, 1, len);
    ck_assert_int_eq(smp.n, 1);
    ck_assert_uint_eq(smp.s[0].offset, at);
    ck_assert_str_eq(smp.s[0].why, "line too long");
    ck_assert_int_eq(strspn(smp.s[0].text, "x"), 64); /* its first bytes: one block here */
}
END_TEST

/* max_line from the rules: a line over it inside one block is bad too; one at it is good. */
START_TEST(max_line_from_the_rules)
{
    rules_config_t *cfg = job_with("100");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    engine_samples_t smp = {0};
    task_io_t io = io_of(4096);
    char ok[101], over[102];
    const char *text;
    uint64_t done;
    abbey_err_t err;

    ck_assert_uint_eq(cfg->jobs[0].max_line, 100);
    memset(ok, 'y', 96);
    strcpy(ok + 96, " 200"); /* 100 bytes: the limit */
    memset(over, 'z', 97);
    strcpy(over + 97, " 404"); /* 101 bytes */
    text = apr_pstrcat(pool, "u1 200\n", ok, "\n", over, "\nu2 500\n", NULL);
    put_file(tpath("b.log"), text, strlen(text));
    ck_assert_int_eq(
        task_run_file(e, tpath("b.log"), 0, UINT64_MAX, 1, &io, p, &smp, &done, pool, &err),
        APR_SUCCESS);
    expect_counts(p, 4, 1, strlen(text));
    ck_assert_int_eq(smp.n, 1);
    ck_assert_str_eq(smp.s[0].why, "line too long");
    ck_assert_uint_eq(smp.s[0].offset, 7 + 101);
    /* the default: 4 MiB; the same 101 bytes are then a good line */
    ck_assert_uint_eq(job_with("")->jobs[0].max_line, 4u << 20);
}
END_TEST

/* A range whose end falls inside an over-long line: the line is skipped through its '\n'
 * (past end), so the next range never starts inside it; an end before the limit is reached
 * leaves the line to the next range. */
START_TEST(range_end_inside_long_line)
{
    uint64_t at, after, done;
    const char *text = text_with_long_line(1000, &at, &after);
    size_t len = strlen(text);
    rules_config_t *cfg = job_with("");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = io_of(64);
    abbey_err_t err;

    put_file(tpath("c.log"), text, len);
    /* 500 bytes of it are in the range: over the limit (63), so it is skipped to its end */
    ck_assert_int_eq(
        task_run_file(e, tpath("c.log"), 0, at + 500, 0, &io, p, NULL, &done, pool, &err),
        APR_SUCCESS);
    ck_assert_uint_eq(done, after);
    expect_counts(p, 4, 1, after);
    /* 10 bytes of it: not known to be long yet, left whole to the next range */
    partial_clear(p);
    ck_assert_int_eq(
        task_run_file(e, tpath("c.log"), 0, at + 10, 0, &io, p, NULL, &done, pool, &err),
        APR_SUCCESS);
    ck_assert_uint_eq(done, at);
    expect_counts(p, 3, 0, at);
    /* a range that starts at it and ends inside it */
    partial_clear(p);
    ck_assert_int_eq(
        task_run_file(e, tpath("c.log"), at, at + 100, 0, &io, p, NULL, &done, pool, &err),
        APR_SUCCESS);
    ck_assert_uint_eq(done, after);
    expect_counts(p, 1, 1, after - at);
}
END_TEST

/* Read the file as a slave does, lease after lease from the last end with a byte cap (one
 * block when a lease ends where it started): for every cap, the totals are those of the
 * whole file and every lease starts at a line start. */
START_TEST(leases_of_any_cap)
{
    uint64_t at, after;
    const char *text = text_with_long_line(300, &at, &after);
    size_t len = strlen(text);
    rules_config_t *cfg = job_with("");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = io_of(64);
    abbey_err_t err;

    put_file(tpath("d.log"), text, len);
    for (uint64_t cap = 1; cap <= len; cap++) {
        uint64_t start = 0, done;
        int n = 0;
        partial_clear(p);
        while (start < len && n++ < 100) {
            uint64_t end = start + cap < len ? start + cap : len;
            ck_assert_int_eq(
                task_run_file(e, tpath("d.log"), start, end, 0, &io, p, NULL, &done, pool, &err),
                APR_SUCCESS);
            if (done == start && end < len) /* a line longer than the cap: one block */
                ck_assert_int_eq(task_run_file(e, tpath("d.log"), start,
                                               start + io.size < len ? start + io.size : len, 0,
                                               &io, p, NULL, &done, pool, &err),
                                 APR_SUCCESS);
            ck_assert_msg(done > start, "cap %" PRIu64 ": no progress at %" PRIu64, cap, start);
            ck_assert_msg(done == len || text[done - 1] == '\n',
                          "cap %" PRIu64 ": a lease ends at %" PRIu64 ", inside a line", cap, done);
            start = done;
        }
        ck_assert_uint_eq(start, len);
        expect_counts(p, 6, 1, len);
    }
}
END_TEST

/* A memory budget that cuts every read after its first block (the slave near its budget),
 * counting its calls. */
static int cut_always(void *ctx, partial_t *out)
{
    (void)out;
    (*(int *)ctx)++;
    return 1;
}

static int cut_never(void *ctx, partial_t *out)
{
    (void)out;
    (*(int *)ctx)++;
    return 0;
}

/* Runs cut by the budget end at a line end past their start (never inside the over-long
 * line), say so, and read from there on give the whole file's counts; a budget that never
 * cuts is asked and leaves the run whole. */
START_TEST(budget_cuts_at_a_line_end)
{
    uint64_t at, after, start = 0, done;
    const char *text = text_with_long_line(300, &at, &after);
    size_t len = strlen(text);
    rules_config_t *cfg = job_with("");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = io_of(16);
    abbey_err_t err;
    int asked = 0, runs = 0, cuts = 0;

    put_file(tpath("k.log"), text, len);
    io.budget = cut_always;
    io.budget_ctx = &asked;
    while (start < len && runs++ < 100) {
        ck_assert_int_eq(
            task_run_file(e, tpath("k.log"), start, len, 0, &io, p, NULL, &done, pool, &err),
            APR_SUCCESS);
        ck_assert_msg(done > start, "no progress at %" PRIu64, start);
        ck_assert_msg(text[done - 1] == '\n', "cut at %" PRIu64 ", inside a line", done);
        ck_assert_msg(done <= at || done >= after, "cut at %" PRIu64 " in the long line", done);
        ck_assert_int_eq(io.cut, done < len);
        cuts += io.cut;
        start = done;
    }
    ck_assert_uint_eq(start, len);
    ck_assert_int_ge(cuts, 3); /* 16-byte blocks: after u2, after u3, after the long line */
    ck_assert_int_eq(asked, cuts);
    expect_counts(p, 6, 1, len);

    partial_clear(p);
    asked = 0;
    io.budget = cut_never;
    ck_assert_int_eq(task_run_file(e, tpath("k.log"), 0, len, 0, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(done, len);
    ck_assert_int_eq(io.cut, 0);
    ck_assert_int_gt(asked, 0);
    expect_counts(p, 6, 1, len);
}
END_TEST

/* An over-long line at the end of the file without its '\n': left unread while the file may
 * grow; counted once (bad) by a one-shot run, or once its '\n' arrives. */
START_TEST(unended_long_line_at_the_end)
{
    rules_config_t *cfg = job_with("");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = io_of(64);
    char x[401];
    const char *text;
    uint64_t done;
    abbey_err_t err;
    FILE *f;

    memset(x, 'x', 400);
    x[400] = '\0';
    text = apr_pstrcat(pool, "u1 200\nu2 200\n", x, NULL);
    put_file(tpath("e.log"), text, strlen(text));
    ck_assert_int_eq(
        task_run_file(e, tpath("e.log"), 0, UINT64_MAX, 0, &io, p, NULL, &done, pool, &err),
        APR_SUCCESS);
    ck_assert_uint_eq(done, 14);
    expect_counts(p, 2, 0, 14);
    partial_clear(p);
    ck_assert_int_eq(
        task_run_file(e, tpath("e.log"), 0, strlen(text), 1, &io, p, NULL, &done, pool, &err),
        APR_SUCCESS);
    ck_assert_uint_eq(done, strlen(text));
    expect_counts(p, 3, 1, strlen(text));
    /* its '\n' and one more line arrive: the next range (from 14) counts it once */
    f = fopen(tpath("e.log"), "ab");
    fputs("\nu3 500\n", f);
    fclose(f);
    partial_clear(p);
    ck_assert_int_eq(
        task_run_file(e, tpath("e.log"), 14, UINT64_MAX, 0, &io, p, NULL, &done, pool, &err),
        APR_SUCCESS);
    ck_assert_uint_eq(done, strlen(text) + 8);
    expect_counts(p, 2, 1, strlen(text) + 8 - 14);
}
END_TEST

/* ======================================================= files cut while read */

/* The run planned [0, size) (a one-shot run: at_eof_final); the file is cut before the read:
 * an error naming the file and both offsets, and the whole lines before the cut counted. */
START_TEST(file_truncated_between_stat_and_read)
{
    rules_config_t *cfg = job_with("");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = io_of(4096);
    const char *text = "", *path = tpath("f.log"), *head;
    size_t size, cut;
    uint64_t done;
    abbey_err_t err;

    for (int i = 0; i < 1000; i++)
        text = apr_psprintf(pool, "%su%d 200\n", text, i);
    size = strlen(text);
    put_file(path, text, size);
    cut = size / 2 + 3; /* inside a line */
    ck_assert_int_eq(truncate(path, (off_t)cut), 0);
    ck_assert_int_eq(task_run_file(e, path, 0, size, 1, &io, p, NULL, &done, pool, &err), APR_EOF);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_msg(strstr(err.msg, "truncated while being read") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, apr_psprintf(pool, "ends at byte %" APR_SIZE_T_FMT, cut)) != NULL,
                  "%s", err.msg);
    ck_assert_ptr_nonnull(
        strstr(err.msg, apr_psprintf(pool, "before byte %" APR_SIZE_T_FMT, size)));
    /* whole lines only: the cut line is not one */
    head = apr_pstrndup(pool, text, cut);
    ck_assert_uint_eq(done, (uint64_t)(strrchr(head, '\n') - head) + 1);
    {
        uint64_t want = 0;
        for (size_t i = 0; i < done; i++)
            want += text[i] == '\n';
        ck_assert_uint_eq(p->lines, want);
        ck_assert_uint_eq(p->bad_lines, 0);
    }
    /* the same file read to its (new) end is no error */
    partial_clear(p);
    ck_assert_int_eq(task_run_file(e, path, 0, cut, 1, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(done, cut);
}
END_TEST

/* ================================================== sources that are not files */

/* A FIFO (no writer: open would block) and a directory are refused at once, naming the path;
 * instance.c refuses them the same way. Check's timeout fails the test if anything blocks. */
START_TEST(not_regular_files_refused)
{
    rules_config_t *cfg = job_with("");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = io_of(4096);
    const char *fifo = tpath("pipe"), *dir = tpath("dir");
    instance_plan_t plan;
    uint64_t done;
    abbey_err_t err;

    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_ne(task_run_file(e, fifo, 0, UINT64_MAX, 1, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(err.msg, apr_pstrcat(pool, fifo,
                                          ": is a FIFO, not a regular file: only regular files "
                                          "are read",
                                          NULL));
    ck_assert_int_ne(task_run_file(e, dir, 0, UINT64_MAX, 1, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, apr_pstrcat(pool, dir, ": is a directory", NULL)));
    ck_assert_uint_eq(p->lines, 0);
    ck_assert_int_eq(instance_plan(fifo, "", 0, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_REFUSED);
    ck_assert_ptr_null(plan.read_path);
    ck_assert_ptr_nonnull(strstr(plan.why, apr_pstrcat(pool, fifo, ": is a FIFO", NULL)));
    ck_assert_int_eq(instance_plan(dir, "", 0, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_REFUSED);
}
END_TEST

/* A reader opened through /proc/self/fd/N (as the slave reads what instance.c holds) names
 * the file in its messages, never the descriptor's path. */
START_TEST(descriptor_paths_name_the_file)
{
    const char *path = tpath("g.log"), *dir = tpath("gdir"), *fdp;
    source_reader_t *r;
    abbey_err_t err;
    int fd;

    put_file(path, "u1 200\n", 7);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    fdp = apr_psprintf(pool, "/proc/self/fd/%d", fd);
    ck_assert_int_eq(source_open(fdp, 0, pool, &r, &err), APR_SUCCESS);
    ck_assert_str_eq(source_name(r), path);
    source_close(r);
    close(fd);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    fd = open(dir, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    fdp = apr_psprintf(pool, "/proc/self/fd/%d", fd);
    ck_assert_int_ne(source_open(fdp, 0, pool, &r, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, dir));
    ck_assert_ptr_null(strstr(err.msg, "/proc/self/fd"));
    close(fd);
}
END_TEST

/* ======================================================= stop, buffer size */

/* Once the stop flag is set, reading ends before the next block: APR_EINTR, nothing after. */
START_TEST(stop_flag_ends_the_read)
{
    rules_config_t *cfg = job_with("");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = io_of(8);
    volatile int stop = 1;
    uint64_t done;
    abbey_err_t err;

    put_file(tpath("h.log"), "u1 200\nu2 200\n", 14);
    io.stop = &stop;
    ck_assert_int_eq(task_run_file(e, tpath("h.log"), 7, 14, 0, &io, p, NULL, &done, pool, &err),
                     APR_EINTR);
    ck_assert_uint_eq(done, 7);
    ck_assert_uint_eq(p->lines, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "stopping"));
    stop = 0;
    ck_assert_int_eq(task_run_file(e, tpath("h.log"), 7, 14, 0, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 1);
}
END_TEST

START_TEST(buffer_size_for_a_config)
{
    ck_assert_uint_eq(task_io_size(job_with(""), 0), (4u << 20) + 1);
    ck_assert_uint_eq(task_io_size(job_with("8MiB"), 0), (8u << 20) + 1);
    ck_assert_uint_eq(task_io_size(job_with("64KiB"), 0), TASK_BLOCK);
    ck_assert_uint_eq(task_io_size(job_with("8MiB"), 4096), 4096); /* explicit: caps the lines */
}
END_TEST

/* A thread's engines: made on first use, the same ones after, the partial keeping what
 * earlier tasks put in it; the buffer sized for the config; the stop flag left as it was. */
START_TEST(engines_made_once_per_job)
{
    rules_config_t *cfg = job_with("8MiB");
    task_engines_t t;
    engine_t *e1, *e2;
    partial_t *p1, *p2;
    volatile int stop = 0;
    uint64_t done;
    abbey_err_t err;

    memset(&t, 0, sizeof t);
    t.io.stop = &stop;
    task_engines_init(&t, cfg, 0, pool);
    ck_assert(t.io.stop == &stop);
    ck_assert_uint_eq(t.io.size, (8u << 20) + 1);
    ck_assert_ptr_null(t.engines[0]);
    task_engines_get(&t, &cfg->jobs[0], &e1, &p1);
    ck_assert_ptr_nonnull(e1);
    put_file(tpath("e.log"), "u1 200\nu2 404\n", 14);
    ck_assert_int_eq(
        task_run_file(e1, tpath("e.log"), 0, 14, 0, &t.io, p1, NULL, &done, pool, &err),
        APR_SUCCESS);
    task_engines_get(&t, &cfg->jobs[0], &e2, &p2);
    ck_assert_ptr_eq(e2, e1);
    ck_assert_ptr_eq(p2, p1);
    ck_assert_uint_eq(p2->lines, 2);
}
END_TEST

/* ===================================================== headers and mtimes */

/* A csv job whose header names the columns; status is an int, so "x" is a bad line. */
static rules_config_t *csv_job(const char *max_line)
{
    return job_of(max_line, "{csv: {header: true, fields: [status:int]}}", "status, user");
}

/* A range that starts mid-file gets the source's header: cut anywhere at a line start, the
 * two ranges count what the whole file counts (every fifth line bad), through a file path
 * and through a descriptor path whose file was renamed and replaced (the header is the open
 * file's, not the new one's). */
START_TEST(range_past_the_header_gets_it)
{
    rules_config_t *cfg = csv_job("");
    char *text = apr_pstrdup(pool, "\xEF\xBB\xBFuser,\"sta\"\"tus\",status\r\n");
    uint64_t starts[64], done, lines = 0, bad = 0, bad_after7 = 0;
    int n = 0, fd;
    abbey_err_t err;
    task_io_t io = io_of(40); /* blocks of one or two lines */
    const char *path = tpath("h.csv"), *fdp;

    for (int i = 0; i < 40; i++) {
        starts[n++] = strlen(text);
        text = apr_psprintf(pool, "%s\"u%d, \"\"q\"\"\",x,%s\r\n", text, i,
                            i % 5 == 4 ? "x" : (i % 2 ? "404" : "200"));
        lines++;
        bad += i % 5 == 4;
        bad_after7 += i >= 7 && i % 5 == 4;
    }
    put_file(path, text, strlen(text));
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    fdp = apr_psprintf(pool, "/proc/self/fd/%d", fd);
    ck_assert_int_eq(rename(path, tpath("h.csv.1")), 0);
    put_file(path, "status,user\n1,2\n", 16); /* another header: must not be used */
    for (int k = 0; k < n; k += 3) {
        engine_t *e = engine_create(&cfg->jobs[0], pool);
        partial_t *p = partial_create(&cfg->jobs[0], pool);
        ck_assert_int_eq(task_run_file(e, fdp, 0, starts[k], 0, &io, p, NULL, &done, pool, &err),
                         APR_SUCCESS);
        ck_assert_msg(task_run_file(e, fdp, starts[k], strlen(text), 0, &io, p, NULL, &done, pool,
                                    &err) == APR_SUCCESS,
                      "%s", err.msg);
        ck_assert_uint_eq(done, strlen(text));
        ck_assert_uint_eq(p->lines, lines);
        ck_assert_uint_eq(p->bad_lines, bad);
        ck_assert_uint_eq(p->bytes, strlen(text));
    }
    close(fd);
    /* the same through the path of a file that stays put */
    put_file(path, text, strlen(text));
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    ck_assert_int_eq(
        task_run_file(e, path, starts[7], strlen(text), 0, &io, p, NULL, &done, pool, &err),
        APR_SUCCESS);
    ck_assert_uint_eq(p->lines, lines - 7);
    ck_assert_uint_eq(p->bad_lines, bad_after7);
}
END_TEST

/* No header to be had: the task fails before consuming anything, naming the file. */
START_TEST(range_past_a_missing_header_fails)
{
    rules_config_t *cfg = csv_job("64");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = io_of(4096);
    uint64_t done = 99;
    abbey_err_t err;
    char *longname = apr_palloc(pool, 101);

    memset(longname, 'n', 100);
    longname[100] = '\0';
    put_file(tpath("l.csv"), apr_pstrcat(pool, longname, ",status\nu,200\n", NULL), 114);
    ck_assert_int_eq(task_run_file(e, tpath("l.csv"), 108, 114, 0, &io, p, NULL, &done, pool, &err),
                     APR_ENOSPC);
    ck_assert_uint_eq(done, 108);
    ck_assert_msg(strstr(err.msg, "from byte 108: ") &&
                      strstr(err.msg, "l.csv: its first line is longer than 64 bytes"),
                  "%s", err.msg);
    put_file(tpath("q.csv"), "user,\"status\nu,200\n", 19);
    ck_assert_int_eq(task_run_file(e, tpath("q.csv"), 13, 19, 0, &io, p, NULL, &done, pool, &err),
                     APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "q.csv: its first line is not a header line (unterminated"), "%s",
                  err.msg);
    put_file(tpath("t.csv"), "u,200", 5); /* truncated since the range was planned */
    ck_assert_int_eq(task_run_file(e, tpath("t.csv"), 2, 9, 0, &io, p, NULL, &done, pool, &err),
                     APR_EOF);
    ck_assert_msg(strstr(err.msg, "t.csv: it ends at byte 5"), "%s", err.msg);
    ck_assert_uint_eq(p->lines, 0);
    /* from byte 0 the header is the range's own first line */
    ck_assert_int_eq(task_run_file(e, tpath("q.csv"), 0, 19, 0, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(p->lines, 2); /* "user,\"status" does not end its quote: bad lines */
    ck_assert_uint_eq(p->bad_lines, 2);
}
END_TEST

/* Every run tells the engine its source's modification time, from byte 0 or later. */
START_TEST(mtime_reaches_the_engine)
{
    rules_config_t *cfg = job_with("");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = io_of(64);
    struct timespec a[2] = {{1431857103, 0}, {1431857103, 0}}, b[2] = {{86400, 0}, {86400, 0}};
    uint64_t done;
    abbey_err_t err;

    put_file(tpath("m1.log"), "u1 200\nu2 200\n", 14);
    put_file(tpath("m2.log"), "u3 200\n", 7);
    ck_assert_int_eq(utimensat(AT_FDCWD, tpath("m1.log"), a, 0), 0);
    ck_assert_int_eq(utimensat(AT_FDCWD, tpath("m2.log"), b, 0), 0);
    ck_assert_int_eq(engine_mtime(e), 0);
    ck_assert_int_eq(task_run_file(e, tpath("m1.log"), 7, 14, 0, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(engine_mtime(e), 1431857103);
    ck_assert_int_eq(task_run_file(e, tpath("m2.log"), 0, 7, 0, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(engine_mtime(e), 86400);
    ck_assert_uint_eq(p->lines, 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("task");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, long_line_across_blocks_is_one_bad_line);
    tcase_add_test(tc, max_line_from_the_rules);
    tcase_add_test(tc, range_end_inside_long_line);
    tcase_add_test(tc, leases_of_any_cap);
    tcase_add_test(tc, budget_cuts_at_a_line_end);
    tcase_add_test(tc, unended_long_line_at_the_end);
    tcase_add_test(tc, file_truncated_between_stat_and_read);
    tcase_add_test(tc, not_regular_files_refused);
    tcase_add_test(tc, descriptor_paths_name_the_file);
    tcase_add_test(tc, stop_flag_ends_the_read);
    tcase_add_test(tc, buffer_size_for_a_config);
    tcase_add_test(tc, engines_made_once_per_job);
    tcase_add_test(tc, range_past_the_header_gets_it);
    tcase_add_test(tc, range_past_a_missing_header_fails);
    tcase_add_test(tc, mtime_reaches_the_engine);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite()) ? 1 : 0;
}
