/* partial.h - a job's partial result: one ptable per entry, plus line counters.
 *
 * What a worker builds from a range of lines, what a frame carries (split by
 * rule group), and what a master keeps as running totals: all the same type,
 * merged with partial_merge. Not thread-safe. */
#ifndef ABBEY_PARTIAL_H
#define ABBEY_PARTIAL_H

#include <apr_pools.h>
#include <stdint.h>

#include "ptable.h"

struct rules_job_t;

typedef struct partial_t {
    const struct rules_job_t *job;
    apr_pool_t *pool;  /* owns the tables */
    ptable_t **tables; /* job->nentries, indexed by entry index */
    uint64_t lines;    /* lines read (good and bad) */
    uint64_t bad_lines;
    uint64_t bytes;
    uint64_t regex_limit_hits; /* good lines on which a regex match gave up (expr.h) */
} partial_t;

/* Empty partial for job, in a subpool of pool. Cannot fail. */
partial_t *partial_create(const struct rules_job_t *job, apr_pool_t *pool);

/* dst += src (tables and counters). Both must be of the same job. */
void partial_merge(partial_t *dst, const partial_t *src);

/* Empty every table and zero the counters. */
void partial_clear(partial_t *p);

/* Destroy (frees the subpool). */
void partial_destroy(partial_t *p);

#endif
