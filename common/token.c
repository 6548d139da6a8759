/* token.c - reading the token file and checking Authorization headers (see token.h). */
#include "token.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <ctype.h>
#include <string.h>

apr_status_t token_read_file(const char *path, apr_pool_t *pool, const char **token,
                             abbey_err_t *err)
{
    char line[TOKEN_MAX + 2], ebuf[128];
    apr_file_t *f;
    apr_status_t rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, pool);
    size_t len;
    char *s;

    if (rv != APR_SUCCESS) {
        abbey_err_set(err, "%s: cannot read the token file: %s", path,
                      apr_strerror(rv, ebuf, sizeof ebuf));
        return rv;
    }
    memset(line, 0, sizeof line);
    rv = apr_file_gets(line, sizeof line, f);
    apr_file_close(f);
    s = line;
    while (*s && isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    if ((rv != APR_SUCCESS && rv != APR_EOF) || len == 0 || len > TOKEN_MAX) {
        abbey_err_set(err, "%s: the token must be one line of 1 to %d characters", path,
                      TOKEN_MAX);
        return APR_EINVAL;
    }
    *token = apr_pstrndup(pool, s, len);
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
        diff |= (unsigned)(unsigned char)token[i] ^ (unsigned)(unsigned char)(i < hlen ? header[i] : 0);
    return diff == 0;
}
