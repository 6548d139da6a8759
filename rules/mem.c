/* mem.c - allocation that reports failure or aborts, and the test hook (see mem.h). */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void mem_oom(const char *what, size_t n)
{
    char msg[256];
    int len = n ? snprintf(msg, sizeof msg, "abbey: out of memory: %s (%zu bytes)\n", what, n)
                : snprintf(msg, sizeof msg, "abbey: out of memory: %s\n", what);
    if (len < 0 || (size_t)len >= sizeof msg)
        len = snprintf(msg, sizeof msg, "abbey: out of memory\n");
    if (write(2, msg, (size_t)len) < 0) {
        /* nowhere left to report it */
    }
    abort();
}

void *mem_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        mem_oom("malloc", n);
    return p;
}

void *mem_xcalloc(size_t n, size_t size)
{
    void *p = n && size ? calloc(n, size) : calloc(1, size ? size : 1);
    if (!p)
        mem_oom("calloc", size && n > SIZE_MAX / size ? SIZE_MAX : n * size);
    return p;
}

void *mem_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        mem_oom("realloc", n);
    return q;
}

char *mem_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(mem_xmalloc(n), s, n);
}

apr_pool_t *mem_xpool(apr_pool_t *parent)
{
    apr_pool_t *p;
    if (apr_pool_create(&p, parent) != APR_SUCCESS)
        mem_oom("an APR pool", 0);
    return p;
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
