/* mem.c - allocation that reports failure, and the test hook that makes one fail (see mem.h). */
#include "mem.h"

#include <stdlib.h>

static uint64_t fail_at; /* 0: the hook is off */
static uint64_t counted; /* allocations since it was armed */

/* 1 when the hook says this allocation fails. */
static int hook_fires(void)
{
    uint64_t at = __atomic_load_n(&fail_at, __ATOMIC_RELAXED);
    return at && __atomic_add_fetch(&counted, 1, __ATOMIC_RELAXED) == at;
}

void *mem_alloc(size_t n)
{
    return hook_fires() ? NULL : malloc(n);
}

void *mem_calloc(size_t n, size_t size)
{
    return hook_fires() ? NULL : calloc(n, size);
}

void *mem_realloc(void *p, size_t n)
{
    return hook_fires() ? NULL : realloc(p, n);
}

void *mem_palloc(apr_pool_t *pool, size_t n)
{
    return hook_fires() ? NULL : apr_palloc(pool, n);
}

void mem_fail_at(uint64_t n)
{
    __atomic_store_n(&fail_at, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&counted, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fail_at, n, __ATOMIC_RELAXED);
}

uint64_t mem_fail_from_env(void)
{
    const char *s = getenv("ABBEY_TEST_ALLOC_FAIL");
    char *end;
    unsigned long long n;
    if (!s || *s < '0' || *s > '9')
        return 0;
    n = strtoull(s, &end, 10);
    if (*end || !n)
        return 0;
    mem_fail_at(n);
    return n;
}
