/* token.h - the shared bearer token: read from a file, compared in constant time. */
#ifndef ABBEY_TOKEN_H
#define ABBEY_TOKEN_H

#include <apr_pools.h>
#include <stddef.h>

#include "error.h"

#define TOKEN_MAX 256

/* Read the first line of path (surrounding whitespace trimmed) into *token
 * (pool memory). Empty or longer than TOKEN_MAX: APR_EINVAL with a message. */
apr_status_t token_read_file(const char *path, apr_pool_t *pool, const char **token,
                             abbey_err_t *err);

/* 1 when the Authorization header value is "Bearer <token>", compared in time
 * independent of where they differ. header may be NULL (0). */
int token_check_header(const char *header, const char *token);

#endif
