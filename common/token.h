/* token.h - the shared bearer token: read from a file, compared in constant time. */
#ifndef ABBEY_TOKEN_H
#define ABBEY_TOKEN_H

#include <apr_pools.h>
#include <stddef.h>

#include "error.h"

#define TOKEN_MAX 256

/* Read the first line of path (surrounding blanks trimmed) into *token (pool
 * memory). Refused with APR_EINVAL and a message naming the file (and, for a
 * bad byte, its offset): an empty first line, a token longer than TOKEN_MAX,
 * a NUL or another control byte in it. An unreadable file: its APR error.
 * When the file can be read by its group or by others, a warning naming it
 * and its mode is logged (log_msg) and the token is still read. */
apr_status_t token_read_file(const char *path, apr_pool_t *pool, const char **token,
                             abbey_err_t *err);

/* 1 when the Authorization header value is "Bearer <token>", compared in time
 * independent of where they differ. header may be NULL (0). */
int token_check_header(const char *header, const char *token);

#endif
