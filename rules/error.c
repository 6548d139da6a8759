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
    char old[ABBEY_ERR_MAX];
    size_t n;
    va_list ap;
    if (!err)
        return;
    memcpy(old, err->msg, sizeof old);
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    if (n + 2 < sizeof err->msg) {
        memcpy(err->msg + n, ": ", 2);
        n += 2;
        /* keep as much of the old message as fits, NUL included */
        size_t room = sizeof err->msg - n - 1, olen = strnlen(old, sizeof old - 1);
        memcpy(err->msg + n, old, olen < room ? olen : room);
        err->msg[n + (olen < room ? olen : room)] = '\0';
    }
}

void abbey_err_clear(abbey_err_t *err)
{
    if (err)
        err->msg[0] = '\0';
}
