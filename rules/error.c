/* error.c - filling abbey_err_t messages (see error.h). */
#include "error.h"

#include <stdio.h>
#include <string.h>

void abbey_err_set(abbey_err_t *err, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

void abbey_err_prefix(abbey_err_t *err, const char *fmt, ...)
{
    char ctx[ABBEY_ERR_MAX], old[ABBEY_ERR_MAX];
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", ctx, old);
}

void abbey_err_clear(abbey_err_t *err)
{
    if (err)
        err->msg[0] = '\0';
}
