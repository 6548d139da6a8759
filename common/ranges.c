/* ranges.c - a sorted, coalesced set of byte ranges [a, b) (see ranges.h).
 *
 * The set is an array of disjoint, non-adjacent ranges in ascending order
 * (two ranges that touch are always merged into one), so every query is a
 * binary search followed by a short walk. The array lives on the heap and
 * grows by doubling (mem.h: out of memory aborts); a cleanup on the owner's
 * pool frees it. */
#include "ranges.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "mem.h"

typedef struct range_t {
    uint64_t a, b;
} range_t;

struct ranges_t {
    range_t *v;
    size_t n, cap;
};

static apr_status_t ranges_cleanup(void *data)
{
    ranges_t *r = data;
    free(r->v);
    r->v = NULL;
    r->n = r->cap = 0;
    return APR_SUCCESS;
}

ranges_t *ranges_create(apr_pool_t *pool)
{
    ranges_t *r = apr_pcalloc(pool, sizeof *r);
    apr_pool_cleanup_register(pool, r, ranges_cleanup, apr_pool_cleanup_null);
    return r;
}

/* Index of the first range whose end is > x (n when none). */
static size_t first_ending_after(const ranges_t *r, uint64_t x)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->v[mid].b > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Index of the first range whose start is > x (n when none). */
static size_t first_starting_after(const ranges_t *r, uint64_t x)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->v[mid].a > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

ranges_verdict_t ranges_check(const ranges_t *r, uint64_t a, uint64_t b)
{
    size_t i;
    if (a >= b)
        return RANGES_COVERED;
    i = first_ending_after(r, a);
    if (i == r->n || r->v[i].a >= b)
        return RANGES_NEW;
    if (r->v[i].a <= a && r->v[i].b >= b)
        return RANGES_COVERED;
    return RANGES_OVERLAP;
}

int ranges_covers(const ranges_t *r, uint64_t a, uint64_t b)
{
    return ranges_check(r, a, b) == RANGES_COVERED;
}

static void grow(ranges_t *r)
{
    size_t cap = r->cap ? r->cap * 2 : 4;
    r->v = mem_xrealloc(r->v, cap * sizeof *r->v);
    r->cap = cap;
}

/* The range at i and its neighbours are in order: non-empty, disjoint, and
 * not touching (ranges_add keeps the whole array so, one range at a time). */
static void check_around(const ranges_t *r, size_t i)
{
    ABBEY_ASSERT(i < r->n && r->n <= r->cap);
    ABBEY_ASSERT(r->v[i].a < r->v[i].b);
    ABBEY_ASSERT(i == 0 || r->v[i - 1].b < r->v[i].a);
    ABBEY_ASSERT(i + 1 == r->n || r->v[i].b < r->v[i + 1].a);
}

void ranges_add(ranges_t *r, uint64_t a, uint64_t b)
{
    size_t i, j;
    if (a >= b)
        return;
    /* ranges i..j-1 touch or overlap [a, b): end >= a and start <= b */
    i = a ? first_ending_after(r, a - 1) : 0;
    j = first_starting_after(r, b);
    if (i == j) {
        if (r->n == r->cap)
            grow(r);
        memmove(&r->v[i + 1], &r->v[i], (r->n - i) * sizeof *r->v);
        r->v[i].a = a;
        r->v[i].b = b;
        r->n++;
        check_around(r, i);
        return;
    }
    if (r->v[i].a < a)
        a = r->v[i].a;
    if (r->v[j - 1].b > b)
        b = r->v[j - 1].b;
    r->v[i].a = a;
    r->v[i].b = b;
    memmove(&r->v[i + 1], &r->v[j], (r->n - j) * sizeof *r->v);
    r->n -= j - i - 1;
    check_around(r, i);
}

size_t ranges_overlapping(const ranges_t *r, uint64_t a, uint64_t b, uint64_t (*out)[2], size_t max)
{
    size_t n = 0;
    if (a >= b)
        return 0;
    for (size_t i = first_ending_after(r, a); i < r->n && r->v[i].a < b && n < max; i++) {
        out[n][0] = r->v[i].a;
        out[n][1] = r->v[i].b;
        n++;
    }
    return n;
}

size_t ranges_missing(const ranges_t *r, uint64_t a, uint64_t b, uint64_t (*out)[2], size_t max)
{
    size_t n = 0;
    uint64_t at = a; /* first byte not yet accounted for */
    if (a >= b)
        return 0;
    for (size_t i = first_ending_after(r, a); i < r->n && r->v[i].a < b; i++) {
        if (r->v[i].a > at) {
            if (n == max)
                return n;
            out[n][0] = at;
            out[n][1] = r->v[i].a;
            n++;
        }
        at = r->v[i].b;
    }
    if (at < b && n < max) {
        out[n][0] = at;
        out[n][1] = b;
        n++;
    }
    return n;
}

size_t ranges_count(const ranges_t *r)
{
    return r->n;
}

void ranges_get(const ranges_t *r, size_t i, uint64_t *a, uint64_t *b)
{
    *a = i < r->n ? r->v[i].a : 0;
    *b = i < r->n ? r->v[i].b : 0;
}
