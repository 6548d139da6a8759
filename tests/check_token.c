/* check_token.c - tests of common/token.c: the token file (trimming, empty,
 * too long, NUL and control bytes refused with the file and the byte offset,
 * the warning on a file its group or others can read) and the constant-time
 * Authorization check. Files live in a fresh directory under /tmp; the
 * warning is read back from stderr, redirected to a file around the call. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "token.h"

static apr_pool_t *pool;
static char dir[64];

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    snprintf(dir, sizeof dir, "/tmp/check_token_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    rmdir(dir); /* each test removed its files */
    apr_pool_destroy(pool);
}

/* A file in dir holding len bytes of content, with mode. */
static const char *write_tmp(const char *name, const void *content, size_t len, mode_t mode)
{
    const char *path = apr_pstrcat(pool, dir, "/", name, NULL);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(content, 1, len, f), len);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static const char *write_str(const char *name, const char *content)
{
    return write_tmp(name, content, strlen(content), 0600);
}

/* token_read_file with stderr sent to a file; what it logged in *logged. */
static apr_status_t read_logged(const char *path, const char **tok, abbey_err_t *err,
                                const char **logged)
{
    const char *lpath = apr_pstrcat(pool, dir, "/stderr", NULL);
    int saved = dup(2), fd = open(lpath, O_CREAT | O_TRUNC | O_RDWR, 0600);
    char text[4096];
    ssize_t n;
    apr_status_t rv;

    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    rv = token_read_file(path, pool, tok, err);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(lpath);
    text[n > 0 ? n : 0] = '\0';
    *logged = apr_pstrdup(pool, text);
    return rv;
}

START_TEST(test_token_header)
{
    static const char *const bad[] = {
        "",           "Bearer abcd", "Bearer ab", "Bearer abd", "Bearer  abc", "Bearer abc ",
        "bearer abc", "Bearerabc",   "abc",       "Bearer ",    "Bearer xbc"};
    ck_assert_int_eq(token_check_header("Bearer abc", "abc"), 1);
    ck_assert_int_eq(token_check_header(NULL, "abc"), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(token_check_header(bad[i], "abc") == 0, "'%s'", bad[i]);
}
END_TEST

START_TEST(test_token_file)
{
    abbey_err_t err = {{0}};
    const char *tok = NULL, *path;
    char longtok[TOKEN_MAX + 3];

    path = write_str("ok", "  \tsecret-42 \r\nsecond line\n");
    ck_assert_int_eq(token_read_file(path, pool, &tok, &err), APR_SUCCESS);
    ck_assert_str_eq(tok, "secret-42");
    unlink(path);

    path = write_str("nonl", "abc");
    ck_assert_int_eq(token_read_file(path, pool, &tok, &err), APR_SUCCESS);
    ck_assert_str_eq(tok, "abc");
    unlink(path);

    static const char *const empty[] = {"", "   \n", "\n\nabc\n", " \t\r\n"};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        path = write_str("empty", empty[i]);
        err.msg[0] = '\0';
        ck_assert_int_eq(token_read_file(path, pool, &tok, &err), APR_EINVAL);
        ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "empty"), "%s", err.msg);
        unlink(path);
    }

    memset(longtok, 'k', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    path = write_str("long", longtok);
    ck_assert_int_eq(token_read_file(path, pool, &tok, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "longer"), "%s", err.msg);
    unlink(path);
    longtok[TOKEN_MAX] = '\0'; /* exactly TOKEN_MAX characters: fine */
    path = write_str("max", longtok);
    ck_assert_int_eq(token_read_file(path, pool, &tok, &err), APR_SUCCESS);
    ck_assert_uint_eq(strlen(tok), TOKEN_MAX);
    unlink(path);

    path = "/tmp/check_token_no_such_dir/token";
    err.msg[0] = '\0';
    ck_assert_int_ne(token_read_file(path, pool, &tok, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
}
END_TEST

/* A NUL or control byte anywhere in the token: refused, naming the file and
 * the byte's offset in it (a NUL used to cut the token short, silently). */
START_TEST(test_token_bad_bytes)
{
    static const struct {
        const char *content;
        size_t len, offset;
        const char *what;
    } cases[] = {
        {"secret\0tail\n", 12, 6, "a NUL byte (0x00)"},
        {"\0secret", 7, 0, "a NUL byte (0x00)"},
        {"  secret\0", 9, 8, "a NUL byte (0x00)"},
        {"sec\x1bret", 7, 3, "a control byte (0x1b)"},
        {"sec\tret\n", 8, 3, "a control byte (0x09)"},
        {"secret\x7f\n", 8, 6, "a control byte (0x7f)"},
    };
    abbey_err_t err = {{0}};
    const char *tok = "unchanged", *path;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char want[64];
        path = write_tmp("bad", cases[i].content, cases[i].len, 0600);
        err.msg[0] = '\0';
        ck_assert_int_eq(token_read_file(path, pool, &tok, &err), APR_EINVAL);
        snprintf(want, sizeof want, ": byte %zu is %s", cases[i].offset, cases[i].what);
        ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0 && strstr(err.msg, want),
                      "case %zu: %s", i, err.msg);
        ck_assert_str_eq(tok, "unchanged");
        unlink(path);
    }
    /* bytes after the first line do not matter; non-ASCII bytes are kept */
    path = write_tmp("second", "s\xc3\xa9kret\n\0\x01\n", 11, 0600);
    ck_assert_int_eq(token_read_file(path, pool, &tok, &err), APR_SUCCESS);
    ck_assert_str_eq(tok, "s\xc3\xa9kret");
    unlink(path);
}
END_TEST

/* A token file its group or others can read: read, with a warning naming
 * the file and its mode; none for 0600 or 0400. */
START_TEST(test_token_mode)
{
    static const struct {
        mode_t mode;
        const char *want; /* NULL: no warning */
    } cases[] = {
        {0600, NULL},
        {0400, NULL},
        {0640, "can be read by its group (mode 0640): chmod 600 "},
        {0604, "can be read by others (mode 0604): chmod 600 "},
        {0644, "can be read by its group and others (mode 0644): chmod 600 "},
        {0666, "can be read by its group and others (mode 0666): chmod 600 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        abbey_err_t err = {{0}};
        const char *tok = NULL, *logged, *path = write_tmp("tok", "secret\n", 7, cases[i].mode);
        ck_assert_int_eq(read_logged(path, &tok, &err, &logged), APR_SUCCESS);
        ck_assert_str_eq(tok, "secret");
        if (!cases[i].want) {
            ck_assert_msg(logged[0] == '\0', "mode %04o: %s", (unsigned)cases[i].mode, logged);
        } else {
            const char *w = strstr(logged, "warning: the token file ");
            ck_assert_msg(w && strstr(w, path) && strstr(w, cases[i].want), "mode %04o: '%s'",
                          (unsigned)cases[i].mode, logged);
        }
        unlink(path);
    }
}
END_TEST

static Suite *token_suite(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("token");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_token_header);
    tcase_add_test(tc, test_token_file);
    tcase_add_test(tc, test_token_bad_bytes);
    tcase_add_test(tc, test_token_mode);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    apr_initialize();
    failed = check_run(token_suite());
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
