/* combine.c - running what the holder queued: several sticky read leases of one job and
 * round read in a row into one partial and sent as one frame per master (docs/CLUSTER.md
 * "Frames of several ranges"; see slave.h).
 *
 * A sticky read lease is read (worker_read); while the frame may grow (fewer than
 * SLAVE_COMBINE_RANGES ranges, fewer bytes read than the first lease's cap, not stopping, no
 * read cut near the memory budget) the next lease the holder queued for the same job and
 * round under the same config is taken at once (hold_take_more, never waited for) and read
 * into the same partial. The ranges that read something are delivered: one as
 * deliver_range sends a lease's range, several as one frame (deliver_parts, which falls
 * back to each range alone for a master that will not take the frame whole). Then each
 * lease is completed with its own range, counters and deliveries (a range some master did
 * not take is not), and every item goes back to the holder. A read that fails leaves its
 * lease uncompleted, and the ranges read before it are each sent alone, read again: the
 * partial holds part of the failed one. Anything else the holder queued (one-shot leases,
 * expansions, repairs) is run as worker_run_lease runs it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "budget.h"
#include "deliver.h"
#include "frame.h"
#include "log.h"
#include "slave.h"
#include "worker_int.h"

_Static_assert(SLAVE_COMBINE_RANGES <= FRAME_MAX_RANGES, "a combined frame fits a range list");

/* One lease of a combined read. */
typedef struct part_t {
    struct hold_item_t *it;
    const slave_lease_t *l;
    worker_outcome_t o;
    deliver_part_t dp; /* its range, with what its read added to the partial; dp.results: per
                          master, NULL when nothing was sent (an empty range) */
    int read_failed;
} part_t;

/* 1 when the frame of parts[0..n), which read `read` bytes, may take one more range. */
static int may_grow(worker_t *w, const part_t *parts, int n, uint64_t read)
{
    budget_t *b = w->s->budget;
    return n < SLAVE_COMBINE_RANGES && read < parts[0].l->cap && !slave_stopping(w->s) &&
           !w->tasks.io.cut && !(b && budget_is_near(budget_limit(b), budget_used(b)));
}

/* Deliver the ranges of parts[0..n) that read something (p: the partial that holds them
 * all, NULL when a read failed after them): their results filled. */
static void deliver_all(worker_t *w, const rules_job_t *job, engine_t *e, const partial_t *p,
                        part_t *parts, int n)
{
    const rules_config_t *cfg = w->cfg->rules;
    deliver_part_t dp[SLAVE_COMBINE_RANGES];
    part_t *sent[SLAVE_COMBINE_RANGES];
    deliver_t d;
    int k = 0;

    for (int i = 0; i < n; i++) {
        part_t *x = &parts[i];
        if (x->read_failed || x->o.end <= x->o.start)
            continue;
        snprintf(x->dp.range.source, sizeof x->dp.range.source, "%s#%s", x->l->source,
                 x->o.instance);
        x->dp.range.lease = x->l->id;
        x->dp.range.start = x->o.start;
        x->dp.range.end = x->o.end;
        x->dp.read_path = x->o.read_path;
        x->dp.results = apr_pcalloc(w->task_pool, sizeof *x->dp.results * (size_t)cfg->nmasters);
        dp[k] = x->dp;
        sent[k++] = x;
    }
    if (k == 0)
        return;
    worker_deliver_init(w, sent[0]->l, job, e, sent[0]->o.instance, sent[0]->o.read_path, &d);
    if (k == 1 && p) { /* one range: the frame a lease alone sends */
        deliver_range(&d, p, sent[0]->o.start, sent[0]->o.end);
        memcpy(sent[0]->dp.results, d.results, sizeof *d.results * (size_t)cfg->nmasters);
    } else {
        deliver_parts(&d, p, dp, k);
    }
}

/* Read it and the leases combined with it (see the top), deliver, complete; every item
 * goes back to the holder. */
static void run_combined(worker_t *w, hold_t *h, struct hold_item_t *it, const rules_job_t *job,
                         const char *hash)
{
    part_t *parts = apr_pcalloc(w->task_pool, sizeof *parts * SLAVE_COMBINE_RANGES);
    const rules_config_t *cfg = w->cfg->rules;
    engine_t *e;
    partial_t *p;
    abbey_err_t err;
    uint64_t read = 0;
    int n = 0, failed = 0;

    worker_engine(w, job, &e, &p);
    for (;;) {
        part_t *x = &parts[n++];
        uint64_t l0 = p->lines, b0 = p->bad_lines, y0 = p->bytes;
        x->it = it;
        x->l = hold_lease(it);
        if (worker_read(w, x->l, job, e, p, &x->o, &err) != APR_SUCCESS) {
            log_msg("lease %" PRIu64 " (%s): not completed: %s", x->l->id, x->l->job, err.msg);
            x->read_failed = failed = 1;
            break;
        }
        x->dp.range.lines = p->lines - l0;
        x->dp.range.bad_lines = p->bad_lines - b0;
        x->dp.range.bytes = p->bytes - y0;
        read += x->o.end - x->o.start;
        if (!may_grow(w, parts, n, read) || !(it = hold_take_more(h, job->name, x->l->round, hash)))
            break;
    }
    deliver_all(w, job, e, failed ? NULL : p, parts, n);
    for (int i = 0; i < n; i++) {
        part_t *x = &parts[i];
        const frame_range_t *r = &x->dp.range;
        int nf = 0;
        for (int m = 0; x->dp.results && m < cfg->nmasters; m++)
            nf += x->dp.results[m] == DELIVER_FAILED;
        if (x->read_failed)
            slave_lease_untrack(w->s, x->l->id);
        else if (nf)
            worker_not_completed(w, x->l, &x->o, nf);
        else
            worker_finish(w, x->l, &x->o, r->lines, r->bad_lines, r->bytes, x->dp.results);
    }
    for (int i = 0; i < n; i++)
        hold_done(h, parts[i].it);
}

void worker_run_items(worker_t *w, hold_t *h, struct hold_item_t *it, const char *hash)
{
    const slave_lease_t *l = hold_lease(it);
    const rules_job_t *job;

    apr_pool_clear(w->task_pool);
    if (worker_use_config(w, hash) != 0) {
        log_msg("lease %" PRIu64 ": config %s is not available; checked again later", l->id, hash);
        hold_done(h, it);
        return;
    }
    job = rules_find_job(w->cfg->rules, l->job);
    if (!job || !l->sticky || l->kind != SLAVE_LEASE_READ) {
        worker_run_lease(w, l);
        hold_done(h, it);
        return;
    }
    run_combined(w, h, it, job, hash);
    worker_lease_end(w);
}
