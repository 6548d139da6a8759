/* mem.h - abbey's one out-of-memory policy: the per-line path reports it, the rest aborts.
 *
 * Two kinds of memory, two kinds of functions:
 *
 * mem_alloc, mem_calloc, mem_realloc, mem_palloc - what grows with the data.
 * Partial tables (rows, slot arrays), the heap parts of aggregate states (hash
 * sets, HyperLogLog registers, sketch bins) and the engine's key buffers grow
 * with the keys and values a log holds, so their allocation can fail on a big
 * enough log. They allocate through these functions, which return NULL (and
 * change nothing) when the memory is not there; their callers turn NULL into
 * an "out of memory" error (ptable.h, agg.h, engine.h).
 *
 * mem_x* and mem_oom - everything else: control-plane state (schedulers,
 * mergers, spools, clients, lists sized by the configuration or by a peer's
 * answer) and fixed-size memory made once (an engine, a table's header).
 * They never return NULL: when the memory is not there they write
 * "abbey: out of memory: WHAT (N bytes)" to stderr in one write and abort.
 * Code never calls abort() itself after an allocation, nor keeps its own
 * xmalloc: it calls these.
 *
 * A test hook makes the n-th allocation through these functions (counted in
 * every thread, from the moment it is armed) fail, once: a deterministic
 * out-of-memory for tests; mem_x* do not count for it. Thread-safe. */
#ifndef ABBEY_MEM_H
#define ABBEY_MEM_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

void *mem_alloc(size_t n);                    /* malloc, or NULL */
void *mem_calloc(size_t n, size_t size);      /* calloc, or NULL */
void *mem_realloc(void *p, size_t n);         /* realloc, or NULL with p unchanged */
void *mem_palloc(apr_pool_t *pool, size_t n); /* apr_palloc, or NULL (pools without abort_fn) */

/* Write "abbey: out of memory: <what> (<n> bytes)" (without the bytes when n
 * is 0) to stderr and abort: for memory other allocators failed to get
 * (curl, PCRE2, an APR mutex). */
void mem_oom(const char *what, size_t n) __attribute__((noreturn));

void *mem_xmalloc(size_t n);               /* malloc (n 0: 1 byte), or mem_oom */
void *mem_xcalloc(size_t n, size_t size);  /* calloc (n 0: one item), or mem_oom */
void *mem_xrealloc(void *p, size_t n);     /* realloc (n 0: 1 byte), or mem_oom */
char *mem_xstrdup(const char *s);          /* strdup, or mem_oom */
apr_pool_t *mem_xpool(apr_pool_t *parent); /* apr_pool_create (parent NULL: a root), or mem_oom */

/* Test hook: the n-th allocation from now fails (n = 0: disarm). */
void mem_fail_at(uint64_t n);

/* Arms the hook from the environment: ABBEY_TEST_ALLOC_FAIL=n (a decimal n > 0).
 * Returns n, or 0 when the variable is unset or not such a number. */
uint64_t mem_fail_from_env(void);

#endif
