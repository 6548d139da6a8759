/* mem.h - heap memory for what grows with the data, reporting failure instead of aborting.
 *
 * Partial tables (rows, slot arrays), the heap parts of aggregate states (hash
 * sets, HyperLogLog registers, sketch bins) and the engine's key buffers grow
 * with the keys and values a log holds, so their allocation can fail on a big
 * enough log. They allocate through these functions, which return NULL (and
 * change nothing) when the memory is not there; their callers turn NULL into
 * an "out of memory" error (ptable.h, agg.h, engine.h). Fixed-size memory made
 * once (an engine, a table's header) still aborts when it cannot be had.
 *
 * A test hook makes the n-th allocation through these functions (counted in
 * every thread, from the moment it is armed) fail, once: a deterministic
 * out-of-memory for tests. Thread-safe. */
#ifndef ABBEY_MEM_H
#define ABBEY_MEM_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

void *mem_alloc(size_t n);                    /* malloc, or NULL */
void *mem_calloc(size_t n, size_t size);      /* calloc, or NULL */
void *mem_realloc(void *p, size_t n);         /* realloc, or NULL with p unchanged */
void *mem_palloc(apr_pool_t *pool, size_t n); /* apr_palloc, or NULL (pools without abort_fn) */

/* Test hook: the n-th allocation from now fails (n = 0: disarm). */
void mem_fail_at(uint64_t n);

/* Arms the hook from the environment: ABBEY_TEST_ALLOC_FAIL=n (a decimal n > 0).
 * Returns n, or 0 when the variable is unset or not such a number. */
uint64_t mem_fail_from_env(void);

#endif
