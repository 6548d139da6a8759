/* token.c - reading the token file and checking Authorization headers (see token.h). */
#include "token.h"

#include <apr_file_io.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#define TOKEN_READ (TOKEN_MAX + 1024) /* bytes read: the first line, blanks around the token */

/* Warn when the file can be read by its group or by others. */
static void mode_warn(const char *path, apr_file_t *f)
{
    apr_os_file_t fd;
    struct stat st;
    const char *who;

    if (apr_os_file_get(&fd, f) != APR_SUCCESS || fstat(fd, &st) != 0 ||
        !(st.st_mode & (S_IRGRP | S_IROTH)))
        return;
    who = !(st.st_mode & S_IROTH)   ? "its group"
          : !(st.st_mode & S_IRGRP) ? "others"
                                    : "its group and others";
    log_msg("warning: the token file %s can be read by %s (mode %04o): chmod 600 %s", path, who,
            (unsigned)(st.st_mode & 07777), path);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The token in the first line of buf[0, n): [*a, *e), blanks trimmed.
 * Returns 0, or -1 with a message naming path in err. */
static int token_find(const char *path, const char *buf, size_t n, size_t *a, size_t *e,
                      abbey_err_t *err)
{
    const char *nl = memchr(buf, '\n', n);
    *a = 0;
    *e = nl ? (size_t)(nl - buf) : n;
    if (!nl && n == TOKEN_READ) {
        abbey_err_set(err, "%s: the token is longer than %d characters", path, TOKEN_MAX);
        return -1;
    }
    while (*a < *e && is_blank(buf[*a]))
        (*a)++;
    while (*e > *a && is_blank(buf[*e - 1]))
        (*e)--;
    if (*a == *e) {
        abbey_err_set(err, "%s: %s: the token must be its first line, 1 to %d printable characters",
                      path, n ? "the first line is empty" : "the file is empty", TOKEN_MAX);
        return -1;
    }
    for (size_t i = *a; i < *e; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x20 || c == 0x7f) {
            abbey_err_set(err,
                          "%s: byte %zu is %s (0x%02x): the token must be printable "
                          "characters",
                          path, i, c ? "a control byte" : "a NUL byte", c);
            return -1;
        }
    }
    if (*e - *a > TOKEN_MAX) {
        abbey_err_set(err, "%s: the token is longer than %d characters", path, TOKEN_MAX);
        return -1;
    }
    return 0;
}

apr_status_t token_read_file(const char *path, apr_pool_t *pool, const char **token,
                             abbey_err_t *err)
{
    char buf[TOKEN_READ], ebuf[128];
    apr_file_t *f;
    apr_status_t rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, pool);
    apr_size_t n = 0;
    size_t a, e;

    if (rv != APR_SUCCESS) {
        abbey_err_set(err, "%s: cannot read the token file: %s", path,
                      apr_strerror(rv, ebuf, sizeof ebuf));
        return rv;
    }
    rv = apr_file_read_full(f, buf, sizeof buf, &n);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        abbey_err_set(err, "%s: cannot read the token file: %s", path,
                      apr_strerror(rv, ebuf, sizeof ebuf));
        apr_file_close(f);
        return rv;
    }
    if (token_find(path, buf, n, &a, &e, err) != 0) {
        apr_file_close(f);
        return APR_EINVAL;
    }
    mode_warn(path, f);
    apr_file_close(f);
    *token = apr_pstrndup(pool, buf + a, e - a);
    return APR_SUCCESS;
}

int token_check_header(const char *header, const char *token)
{
    size_t tlen = strlen(token), hlen;
    unsigned diff = 0;
    if (!header || strncmp(header, "Bearer ", 7) != 0)
        return 0;
    header += 7;
    hlen = strlen(header);
    diff = (unsigned)(hlen ^ tlen);
    for (size_t i = 0; i < tlen; i++)
        diff |=
            (unsigned)(unsigned char)token[i] ^ (unsigned)(unsigned char)(i < hlen ? header[i] : 0);
    return diff == 0;
}
