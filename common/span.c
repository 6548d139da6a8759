/* span.c - the missing parts of a byte range against a list of ranges (see span.h). */
#include "span.h"

#include <stdlib.h>

static int by_start(const void *x, const void *y)
{
    const uint64_t *p = x, *q = y;
    if (p[0] != q[0])
        return p[0] < q[0] ? -1 : 1;
    return p[1] < q[1] ? -1 : p[1] > q[1];
}

size_t span_normalize(uint64_t (*have)[2], size_t n)
{
    size_t k = 0;
    qsort(have, n, sizeof have[0], by_start);
    for (size_t i = 0; i < n; i++) {
        if (have[i][0] >= have[i][1])
            continue;
        if (k && have[i][0] <= have[k - 1][1]) {
            if (have[i][1] > have[k - 1][1])
                have[k - 1][1] = have[i][1];
            continue;
        }
        have[k][0] = have[i][0];
        have[k][1] = have[i][1];
        k++;
    }
    return k;
}

size_t span_missing(uint64_t (*have)[2], size_t n, uint64_t a, uint64_t b, uint64_t (*out)[2],
                    size_t max)
{
    size_t got = 0;
    uint64_t at = a; /* first byte not yet accounted for */

    if (a >= b)
        return 0;
    n = span_normalize(have, n);
    for (size_t i = 0; i < n && at < b; i++) {
        if (have[i][1] <= at)
            continue;
        if (have[i][0] >= b)
            break;
        if (have[i][0] > at) {
            if (got == max)
                return got;
            out[got][0] = at;
            out[got][1] = have[i][0];
            got++;
        }
        at = have[i][1];
    }
    if (at < b && got < max) {
        out[got][0] = at;
        out[got][1] = b;
        got++;
    }
    return got;
}
