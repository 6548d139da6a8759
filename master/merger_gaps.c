/* merger_gaps.c - what closed rounds list that this master never got (see merger.h).
 *
 * A round's closed ranges are what the slaves completed; this master had a
 * frame for each of them coming (an empty one when it owns nothing there).
 * When the primary's closed-round info arrives, every listed range this
 * master has not fully merged is owed: kept in the job's owed list until
 * merged, independent of round retention, so a master that learns of rounds
 * long after they closed (it was down, its data dir was lost, the slave that
 * read the range died with its spool) still knows what it lacks. A part still
 * missing well after the round's deadline was lost on the way: gap repair
 * asks the primary to have it read again (gap_repair.c). merger_gaps walks the
 * list and forgets what has been merged meanwhile. */
#include "merger_int.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "log.h"
#include "mem.h"

#define GAP_PARTS 64 /* missing parts taken from one owed range */

static int covered(const mjob_t *j, const char *source, uint64_t start, uint64_t end)
{
    const ranges_t *have = merger_source_ranges(j, source);
    return have && ranges_covers(have, start, end);
}

/* Rebuild the owed pool when most of its entries were unlinked. */
static void owed_compact(mjob_t *j)
{
    apr_pool_t *np;
    mowed_t *o, *head = NULL, **tail = &head;
    size_t n = 0;

    if (j->owed_freed < 1024 || j->owed_freed < j->nowed)
        return;
    np = mem_xpool(j->pool);
    for (o = j->owed; o; o = o->next, n++) {
        mowed_t *c = apr_pmemdup(np, o, sizeof *o);
        c->source = apr_pstrdup(np, o->source);
        c->next = NULL;
        *tail = c;
        tail = &c->next;
    }
    ABBEY_ASSERT(n == j->nowed);
    apr_pool_destroy(j->owed_pool);
    j->owed_pool = np;
    j->owed = head;
    j->owed_tail = head ? tail : &j->owed;
    j->owed_freed = 0;
}

/* Unlink the entry *pp points at. */
static void owed_unlink(mjob_t *j, mowed_t **pp)
{
    mowed_t *o = *pp;
    *pp = o->next;
    if (j->owed_tail == &o->next)
        j->owed_tail = pp;
    j->nowed--;
    j->owed_freed++;
}

void merger_owe(mjob_t *j, uint64_t round, int64_t deadline_ms, const merger_range_t *r)
{
    mowed_t *o;

    if (!r->source || r->start >= r->end || covered(j, r->source, r->start, r->end))
        return;
    if (!j->owed_pool)
        j->owed_pool = mem_xpool(j->pool);
    if (!j->owed)
        j->owed_tail = &j->owed; /* also after the job's slot moved (merger_set_config) */
    ABBEY_ASSERT(*j->owed_tail == NULL && (j->owed != NULL) == (j->nowed > 0));
    if (j->nowed >= MERGER_OWED_MAX) {
        if (j->owed_dropped++ == 0)
            log_msg("job %s: more than %d closed ranges not merged: the oldest are forgotten "
                    "(gap repair will not ask for them), e.g. %s [%" PRIu64 ", %" PRIu64 ")",
                    j->job->name, MERGER_OWED_MAX, j->owed->source, j->owed->start, j->owed->end);
        owed_unlink(j, &j->owed);
    }
    o = apr_palloc(j->owed_pool, sizeof *o);
    o->next = NULL;
    o->round = round;
    o->deadline_ms = deadline_ms;
    o->start = r->start;
    o->end = r->end;
    o->source = apr_pstrdup(j->owed_pool, r->source);
    *j->owed_tail = o;
    j->owed_tail = &o->next;
    j->nowed++;
    ABBEY_ASSERT(j->nowed <= MERGER_OWED_MAX);
    owed_compact(j);
}

void merger_owed_clear(mjob_t *j)
{
    if (j->owed_pool)
        apr_pool_destroy(j->owed_pool);
    j->owed_pool = NULL;
    j->owed = NULL;
    j->owed_tail = &j->owed;
    j->nowed = j->owed_freed = 0;
}

/* "round start end source", the identity of an owed range */
static const char *owed_key(uint64_t round, const merger_range_t *r, apr_pool_t *pool)
{
    return apr_psprintf(pool, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %s", round, r->start, r->end,
                        r->source);
}

void merger_owe_kept_rounds(mjob_t *j)
{
    apr_pool_t *tp;
    apr_hash_t *known;

    tp = mem_xpool(j->pool);
    known = apr_hash_make(tp);
    for (const mowed_t *o = j->owed; o; o = o->next) {
        merger_range_t r = {o->source, o->start, o->end};
        apr_hash_set(known, owed_key(o->round, &r, tp), APR_HASH_KEY_STRING, "");
    }
    for (int i = 0; i < j->nrounds; i++) {
        const mround_t *rd = j->rounds[i];
        for (size_t x = 0; rd->closed && x < rd->nranges; x++)
            if (!apr_hash_get(known, owed_key(rd->r, &rd->ranges[x], tp), APR_HASH_KEY_STRING))
                merger_owe(j, rd->r, rd->deadline_ms, &rd->ranges[x]);
    }
    apr_pool_destroy(tp);
}

/* Under the lock: report the missing parts of j's owed ranges due at
 * now_ms - after_ms to fn, dropping the ranges merged meanwhile; *n counts
 * the gaps reported, up to max. */
static void job_gaps(mjob_t *j, int64_t now_ms, int64_t after_ms, int max, int *n, merger_gap_fn fn,
                     void *ctx)
{
    uint64_t parts[GAP_PARTS][2];
    mowed_t **pp = &j->owed;
    size_t kept = 0;

    while (*pp) {
        mowed_t *o = *pp;
        const ranges_t *have = merger_source_ranges(j, o->source);
        size_t np = 1;
        if (have) {
            np = ranges_missing(have, o->start, o->end, parts, GAP_PARTS);
        } else {
            parts[0][0] = o->start;
            parts[0][1] = o->end;
        }
        if (np == 0) {
            owed_unlink(j, pp);
            continue;
        }
        for (size_t p = 0; p < np && *n < max && o->deadline_ms <= now_ms - after_ms; p++) {
            merger_gap_t g = {j->job->name, o->round, o->source, parts[p][0], parts[p][1]};
            fn(ctx, &g);
            (*n)++;
        }
        pp = &o->next;
        kept++;
    }
    ABBEY_ASSERT(kept == j->nowed && (!j->owed || j->owed_tail == pp)); /* the list's count */
    owed_compact(j);
}

int merger_gaps(merger_t *m, int64_t now_ms, int64_t after_ms, int max, merger_gap_fn fn, void *ctx)
{
    int n = 0;

    apr_thread_mutex_lock(m->lock);
    for (int k = 0; k < m->cfg->njobs; k++)
        if (!m->jobs[k].budget.over) /* what it lacks is in the slaves' spools: a repair
                                        would be refused and spooled again */
            job_gaps(&m->jobs[k], now_ms, after_ms, max, &n, fn, ctx);
    apr_thread_mutex_unlock(m->lock);
    return n;
}
