/* partial.c - a job's partial result: one ptable per entry plus line counters (see partial.h).
 *
 * Tables are indexed by entry index (job->entries[i]) and live in the
 * partial's own subpool, so partial_destroy frees everything at once (each
 * table's pool cleanup releases the heap parts of its states). */
#include "partial.h"

#include <stdlib.h>

#include "rules.h"

partial_t *partial_create(const struct rules_job_t *job, apr_pool_t *pool)
{
    apr_pool_t *sub;
    partial_t *p;
    int n = job->nentries;

    if (apr_pool_create(&sub, pool) != APR_SUCCESS)
        abort();
    apr_pool_tag(sub, "partial");
    p = apr_pcalloc(sub, sizeof *p);
    p->job = job;
    p->pool = sub;
    p->tables = apr_pcalloc(sub, sizeof *p->tables * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++)
        p->tables[i] = ptable_create(job->entries[i]->specs, job->entries[i]->nvalues, sub);
    return p;
}

void partial_merge(partial_t *dst, const partial_t *src)
{
    for (int i = 0; i < dst->job->nentries; i++)
        ptable_merge(dst->tables[i], src->tables[i]);
    dst->lines += src->lines;
    dst->bad_lines += src->bad_lines;
    dst->bytes += src->bytes;
    dst->regex_limit_hits += src->regex_limit_hits;
}

void partial_clear(partial_t *p)
{
    for (int i = 0; i < p->job->nentries; i++)
        ptable_clear(p->tables[i]);
    p->lines = p->bad_lines = p->bytes = p->regex_limit_hits = 0;
}

void partial_destroy(partial_t *p)
{
    apr_pool_destroy(p->pool);
}
