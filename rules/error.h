/* error.h - the error report abbey functions fill: one message a user can act on.
 *
 * Functions that can fail return apr_status_t and, when given a non-NULL
 * abbey_err_t, leave a message naming where the problem is (file, line, column,
 * source, offset) and what was expected. Library code never exits. */
#ifndef ABBEY_ERROR_H
#define ABBEY_ERROR_H

#include <stdarg.h>

#define ABBEY_ERR_MAX 1024

typedef struct abbey_err_t {
    char msg[ABBEY_ERR_MAX];
} abbey_err_t;

/* Replace the message (printf format). err may be NULL: then nothing happens. */
void abbey_err_set(abbey_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Put context in front of the current message: "<context>: <old message>". */
void abbey_err_prefix(abbey_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empty the message. */
void abbey_err_clear(abbey_err_t *err);

#endif
