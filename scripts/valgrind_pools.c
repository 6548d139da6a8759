/* valgrind_pools.c - an LD_PRELOAD library for memcheck runs (scripts/valgrind.sh): every
 * apr_palloc becomes its own malloc block, freed when its pool is cleared or destroyed.
 *
 * APR pools hand out pieces of large blocks and reuse them after a clear, so memcheck (and
 * ASan) cannot see a write past a pool allocation, a read of pool bytes never written (they
 * hold whatever the last user left: "defined" to memcheck), or a use after the pool was
 * cleared. With this library each allocation is a block of its own, with memcheck's red zones
 * and undefined contents, and the pool frees it. The frees wait until the outermost
 * apr_pool_clear/apr_pool_destroy returns, as APR frees a pool's memory after all its
 * cleanups have run (a cleanup may read memory allocated after it was registered).
 *
 * Test tooling only: one cleanup record (from the pool itself) per allocation. Threads: as
 * APR's, a pool is used by one thread at a time; the deferred frees are per thread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <apr_pools.h>
#undef apr_pcalloc /* a macro over apr_palloc; the function is defined here too */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static __thread int in_register; /* apr_pool_cleanup_register allocates from the pool */
static __thread int clear_depth; /* inside apr_pool_clear/apr_pool_destroy */
static __thread void **deferred; /* blocks of cleared pools, freed when the clear returns */
static __thread size_t ndeferred, capdeferred;

static void free_deferred(void)
{
    for (size_t i = 0; i < ndeferred; i++)
        free(deferred[i]);
    free(deferred); /* a thread's list must not outlive the thread */
    deferred = NULL;
    ndeferred = capdeferred = 0;
}

static apr_status_t defer_free(void *block)
{
    if (ndeferred == capdeferred) {
        size_t cap = capdeferred ? capdeferred * 2 : 1024;
        void **grown = realloc(deferred, cap * sizeof *grown);
        if (!grown) {
            free(block); /* no room to wait: free now (no cleanup of this pool reads it) */
            return APR_SUCCESS;
        }
        deferred = grown;
        capdeferred = cap;
    }
    deferred[ndeferred++] = block;
    if (!clear_depth) /* apr_pool_cleanup_run, or a destroy APR made without the PLT */
        free_deferred();
    return APR_SUCCESS;
}

void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    static void *(*next)(apr_pool_t *, apr_size_t);
    void *block;

    if (!next)
        next = (void *(*)(apr_pool_t *, apr_size_t))dlsym(RTLD_NEXT, "apr_palloc");
    if (in_register)
        return next(p, size);
    if (!(block = malloc(size ? size : 1))) {
        apr_abortfunc_t abort_fn = apr_pool_abort_get(p);
        if (abort_fn)
            abort_fn(APR_ENOMEM);
        return NULL;
    }
    in_register = 1;
    apr_pool_cleanup_register(p, block, defer_free, apr_pool_cleanup_null);
    in_register = 0;
    return block;
}

void *apr_pcalloc(apr_pool_t *p, apr_size_t size)
{
    void *block = apr_palloc(p, size);
    return block ? memset(block, 0, size) : NULL;
}

/* Call APR's NAME (cached in *next) on p, then free the blocks of the pools it released. */
static void release(apr_pool_t *p, void (**next)(apr_pool_t *), const char *name)
{
    if (!*next)
        *next = (void (*)(apr_pool_t *))dlsym(RTLD_NEXT, name);
    clear_depth++;
    (*next)(p);
    if (--clear_depth == 0)
        free_deferred();
}

void apr_pool_clear(apr_pool_t *p)
{
    static void (*next)(apr_pool_t *);
    release(p, &next, "apr_pool_clear");
}

void apr_pool_destroy(apr_pool_t *p)
{
    static void (*next)(apr_pool_t *);
    release(p, &next, "apr_pool_destroy");
}
