/* check_source.c - unit tests for the source layer's dispatch (source/source.c): each rules
 * source kind expands through its kind (a file to its decoded path, a URL to itself, a glob to
 * its sorted matches), a path is read by the kind that claims it (a URL by the http kind,
 * without I/O at open; anything else by the file kind), a source is split at line starts
 * only when its kind can seek, closing is safe twice, a file's modification time is stat's,
 * and a file's first line is read without moving a reader opened later in it. The file kind's
 * reading is check_task.c's, the http kind's Range reads check_slave_sources.c's.
 *
 * Oracles: the paths and bytes the test writes, and line starts computed here from the text. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "source.h"

#define FIXTURE_SUITE "check_source"
#include "fixture_source.h"

#define DEAD_URL "http://127.0.0.1:1/access.log" /* nothing listens on port 1 */

/* The paths src expands to. */
static apr_array_header_t *expand(rules_source_kind_t kind, const char *path)
{
    rules_source_t src;
    apr_array_header_t *out = apr_array_make(pool, 4, sizeof(const char *));
    abbey_err_t err;
    memset(&src, 0, sizeof src);
    src.kind = kind;
    src.path = path;
    ck_assert_msg(source_expand(&src, pool, out, &err) == APR_SUCCESS, "%s", err.msg);
    return out;
}

#define PATH_AT(a, i) APR_ARRAY_IDX(a, i, const char *)

START_TEST(expand_by_rules_kind)
{
    apr_array_header_t *out;

    out = expand(RULES_SRC_FILE, "/var/log/a%FF.log"); /* wire form: %FF is byte 0xff */
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_str_eq(PATH_AT(out, 0), "/var/log/a\xff.log");

    out = expand(RULES_SRC_HTTP, "http://h/a%FF.log"); /* a URL is never decoded */
    ck_assert_int_eq(out->nelts, 1);
    ck_assert_str_eq(PATH_AT(out, 0), "http://h/a%FF.log");

    put_file(tpath("b.log"), "x\n", 2);
    put_file(tpath("a.log"), "x\n", 2);
    put_file(tpath("c.txt"), "x\n", 2);
    out = expand(RULES_SRC_GLOB, tpath("*.log"));
    ck_assert_int_eq(out->nelts, 2);
    ck_assert_str_eq(PATH_AT(out, 0), tpath("a.log"));
    ck_assert_str_eq(PATH_AT(out, 1), tpath("b.log"));

    out = expand(RULES_SRC_GLOB, tpath("*.gz")); /* no match: nothing, not an error */
    ck_assert_int_eq(out->nelts, 0);
}
END_TEST

START_TEST(open_by_the_kind_that_claims_the_path)
{
    source_reader_t *r;
    abbey_err_t err;
    char buf[16];
    size_t got;
    uint64_t size;

    ck_assert_int_eq(source_is_http(DEAD_URL), 1);
    ck_assert_int_eq(source_is_http("HTTPS://h/x"), 1);
    ck_assert_int_eq(source_is_http("/var/log/http://x"), 0);

    /* a URL: the http kind, which does no I/O at open; the first read asks the server */
    ck_assert_int_eq(source_open(DEAD_URL, 5, pool, &r, &err), APR_SUCCESS);
    ck_assert_str_eq(source_name(r), DEAD_URL);
    ck_assert_int_ne(source_read(r, buf, sizeof buf, &got, &err), APR_SUCCESS);
    ck_assert_uint_eq(got, 0);
    source_close(r);

    /* anything else: the file kind, from the offset */
    put_file(tpath("f.log"), "abc\n", 4);
    ck_assert_int_eq(source_open(tpath("f.log"), 1, pool, &r, &err), APR_SUCCESS);
    ck_assert_str_eq(source_name(r), tpath("f.log"));
    ck_assert_int_eq(source_total(r, &size, &err), APR_SUCCESS);
    ck_assert_uint_eq(size, 4);
    ck_assert_int_eq(source_read(r, buf, sizeof buf, &got, &err), APR_SUCCESS);
    ck_assert_uint_eq(got, 3);
    ck_assert_int_eq(memcmp(buf, "bc\n", 3), 0);
    ck_assert_int_eq(source_read(r, buf, sizeof buf, &got, &err), APR_EOF);
    source_close(r);
    source_close(r); /* twice is safe, and NULL */
    source_close(NULL);

    ck_assert_int_ne(source_open(tpath("missing.log"), 0, pool, &r, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err.msg, "missing.log: cannot open") != NULL, "%s", err.msg);
}
END_TEST

/* The first line start at or after want (a line starts at 0 or after a '\n'). */
static uint64_t line_start_from(const char *text, uint64_t size, uint64_t want)
{
    uint64_t s = want;
    while (s < size && s > 0 && text[s - 1] != '\n')
        s++;
    return s;
}

START_TEST(split_at_line_starts_when_the_kind_can_seek)
{
    char *text = apr_palloc(pool, 64 * 1024);
    uint64_t size = 0, offs[9], want[9];
    int n, nwant = 0;
    abbey_err_t err;

    for (int i = 0; size < 60000; i++) { /* lines of 1 to 200 bytes */
        size_t len = (size_t)(i * 37) % 200;
        memset(text + size, 'x', len);
        size += len;
        text[size++] = '\n';
    }
    put_file(tpath("s.log"), text, (size_t)size);

    want[0] = 0;
    for (int i = 1; i < 8; i++) {
        uint64_t s = line_start_from(text, size, size / 8 * (uint64_t)i);
        if (s > want[nwant] && s < size)
            want[++nwant] = s;
    }
    want[++nwant] = size;
    ck_assert_int_eq(source_split(tpath("s.log"), size, 8, offs, &n, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(n, nwant);
    for (int k = 0; k <= n; k++)
        ck_assert_uint_eq(offs[k], want[k]);

    ck_assert_int_eq(source_split(tpath("s.log"), size, 1, offs, &n, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(offs[1], size);

    /* a URL cannot seek: one part, and nothing is asked of its server */
    ck_assert_int_eq(source_split(DEAD_URL, 1000000, 8, offs, &n, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(offs[0], 0);
    ck_assert_uint_eq(offs[1], 1000000);
}
END_TEST

/* A file's modification time is what stat(2) says; a URL that does not answer is an error;
 * a kind without the op says 0 (none today: every kind has it). */
START_TEST(mtime_of_a_file)
{
    source_reader_t *r;
    abbey_err_t err;
    struct timespec times[2] = {{1431857103, 0}, {1431857103, 0}};
    struct stat st;
    int64_t mtime = -1;

    put_file(tpath("m.log"), "x\n", 2);
    ck_assert_int_eq(utimensat(AT_FDCWD, tpath("m.log"), times, 0), 0);
    ck_assert_int_eq(stat(tpath("m.log"), &st), 0);
    ck_assert_int_eq(source_open(tpath("m.log"), 1, pool, &r, &err), APR_SUCCESS);
    ck_assert_int_eq(source_mtime(r, &mtime, &err), APR_SUCCESS);
    ck_assert_int_eq(mtime, (int64_t)st.st_mtime);
    ck_assert_int_eq(mtime, 1431857103);
    source_close(r);

    ck_assert_int_eq(source_open(DEAD_URL, 0, pool, &r, &err), APR_SUCCESS);
    ck_assert_int_ne(source_mtime(r, &mtime, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err.msg, DEAD_URL) != NULL, "%s", err.msg);
    source_close(r);
}
END_TEST

/* The first line of a file read through a reader opened later in it: the reader then reads
 * on from where it was opened. Too long, or no '\n' at all, is an error naming the file. */
START_TEST(first_line_of_a_file)
{
    const char *text = "name,status\r\nx,200\ny,404\n";
    source_reader_t *r;
    abbey_err_t err;
    char buf[64], line[32];
    size_t len = 0, got;

    put_file(tpath("h.csv"), text, strlen(text));
    ck_assert_int_eq(source_open(tpath("h.csv"), 19, pool, &r, &err), APR_SUCCESS);
    ck_assert_int_eq(source_first_line(r, 19, line, sizeof line, &len, NULL, &err), APR_SUCCESS);
    ck_assert_uint_eq(len, 12);
    ck_assert_int_eq(memcmp(line, "name,status\r", 12), 0);
    ck_assert_int_eq(source_read(r, buf, sizeof buf, &got, &err), APR_SUCCESS);
    ck_assert_uint_eq(got, 6);
    ck_assert_int_eq(memcmp(buf, "y,404\n", 6), 0);
    /* a line must fit with its '\n': 12 bytes need 13 */
    ck_assert_int_eq(source_first_line(r, 19, line, 13, &len, NULL, &err), APR_SUCCESS);
    ck_assert_int_eq(source_first_line(r, 19, line, 12, &len, NULL, &err), APR_ENOSPC);
    ck_assert_msg(strstr(err.msg, "h.csv: its first line is longer than 11 bytes"), "%s", err.msg);
    source_close(r);

    put_file(tpath("n.csv"), "no newline", 10);
    ck_assert_int_eq(source_open(tpath("n.csv"), 3, pool, &r, &err), APR_SUCCESS);
    ck_assert_int_eq(source_first_line(r, 3, line, sizeof line, &len, NULL, &err), APR_EOF);
    ck_assert_msg(strstr(err.msg, "n.csv: it ends at byte 10"), "%s", err.msg);
    source_close(r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("source");
    TCase *tc = tcase_create("source");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, expand_by_rules_kind);
    tcase_add_test(tc, open_by_the_kind_that_claims_the_path);
    tcase_add_test(tc, split_at_line_starts_when_the_kind_can_seek);
    tcase_add_test(tc, mtime_of_a_file);
    tcase_add_test(tc, first_line_of_a_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite()) ? 1 : 0;
}
