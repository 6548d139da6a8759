/* invariant.c - the report of a failed ABBEY_ASSERT (see invariant.h). */
#include "invariant.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void invariant_failed(const char *cond, const char *file, int line, const char *func)
{
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "abbey: assertion failed: %s:%d: %s: %s\n", file, line, func,
                     cond);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg) {
        n = (int)sizeof msg - 1;
        msg[n - 1] = '\n';
    }
    if (write(2, msg, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
    abort();
}
