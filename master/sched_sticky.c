/* sched_sticky.c - sticky leases (docs/CLUSTER.md "Sticky leases"): held across rounds,
 * granted in batches within each slave's share, made done for a round by a completion or
 * by "nothing new", given back or taken back (the scheduler's internals: sched_int.h).
 *
 * A slave that asks for sticky leases is counted in the shares while it is
 * live (heard of within the lease lifetime). Its share of a queue (one job,
 * one label set) of n active tasks is ceil(n * w / W): w its weight (workers
 * times eighths / 8; a lagging report halves eighths, a report without it
 * raises them by one), W the weight of the live slaves that carry the queue's
 * labels (computed at most once a second, or when a slave's weight or labels
 * change). Each slave keeps the list of its sticky leases and how many it
 * holds per queue, so a report, a share or a release costs what the slave
 * holds, never what the job holds. A lease the primary asks back is not
 * renewed any more: its slave releases it, or it expires. */
#include "sched_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "journal.h"
#include "log.h"
#include "mem.h"

/* ---- a slave's holdings ---- */

static sched_held_t *held_slot(sched_slave_t *v, const sched_queue_t *q, int make)
{
    for (int i = 0; i < v->nbyq; i++)
        if (v->byq[i].queue == q)
            return &v->byq[i];
    if (!make)
        return NULL;
    if (v->nbyq == v->byq_cap) {
        v->byq_cap = v->byq_cap ? 2 * v->byq_cap : 4;
        v->byq = mem_xrealloc(v->byq, sizeof(*v->byq) * (size_t)v->byq_cap);
    }
    v->byq[v->nbyq] = (sched_held_t){(sched_queue_t *)q, 0};
    return &v->byq[v->nbyq++];
}

static void sticky_link(sched_slave_t *v, sched_lrec_t *l)
{
    l->sticky = 1;
    l->owner = v;
    l->queue = l->task->queue;
    l->sprev = NULL;
    l->snext = v->held;
    if (v->held)
        v->held->sprev = l;
    v->held = l;
    v->nheld++;
    held_slot(v, l->queue, 1)->n++;
}

void sched_sticky_unlink(sched_t *s, sched_lrec_t *l)
{
    sched_slave_t *v = l->owner;
    (void)s;
    if (!v)
        return;
    if (l->sprev)
        l->sprev->snext = l->snext;
    else
        v->held = l->snext;
    if (l->snext)
        l->snext->sprev = l->sprev;
    v->nheld--;
    v->nrelease -= l->release;
    sched_held_t *h = held_slot(v, l->queue, 0);
    ABBEY_ASSERT(h && h->n > 0); /* counted when linked */
    if (--h->n == 0)
        *h = v->byq[--v->nbyq]; /* (a queue freed later is never compared then) */
    l->owner = NULL;
}

void sched_sticky_release_all(sched_t *s, sched_slave_t *v)
{
    while (v->held)
        sched_lease_end(s, v->held);
}

/* Ask for l back: it is no longer renewed (its slave releases it, or it expires). */
static void ask_back(sched_lrec_t *l)
{
    if (l->release)
        return;
    l->release = 1;
    l->owner->nrelease++;
}

/* ---- shares ---- */

static int64_t weight_of(const sched_slave_t *v)
{
    return (int64_t)v->workers * v->eighths;
}

static int live(const sched_t *s, const sched_slave_t *v, int64_t now)
{
    return v->sticky && now - v->last_seen_ms < s->opts.lease_ms;
}

/* The weight of the live sticky slaves that carry q's labels. */
static int64_t queue_weight(sched_t *s, sched_queue_t *q, int64_t now)
{
    int64_t sec = now / 1000;
    if (q->weight_gen == s->weight_gen && q->weight_sec == sec)
        return q->weight;
    int64_t w = 0;
    for (const sched_slave_t *v = s->slaves; v; v = v->hh.next)
        if (live(s, v, now) &&
            sched_labels_cover(q->labels, q->nlabels, (const char *const *)v->labels, v->nlabels))
            w += weight_of(v);
    q->weight = w;
    q->weight_gen = s->weight_gen;
    q->weight_sec = sec;
    return w;
}

int64_t sched_share_room(sched_t *s, sched_slave_t *v, sched_queue_t *q, int64_t now)
{
    int64_t w = weight_of(v), total = queue_weight(s, q, now);
    if (total < w)
        total = w; /* (not counted yet) */
    int64_t share = ((int64_t)q->ntasks * w + total - 1) / total;
    const sched_held_t *h = held_slot(v, q, 0);
    return share - (h ? h->n : 0);
}

sched_slave_t *sched_sticky_slave(sched_t *s, const char *name, const char *const *labels,
                                  int nlabels, int workers, int64_t now)
{
    sched_slave_t *v = sched_slave_touch(s, name, now);
    sched_slave_set_labels(s, v, labels, nlabels);
    if (workers < 1)
        workers = 1;
    if (!v->sticky || v->workers != workers) {
        v->sticky = 1;
        v->workers = workers;
        if (!v->eighths)
            v->eighths = 8;
        s->weight_gen++;
    }
    return v;
}

void sched_sticky_lagging(sched_t *s, sched_slave_t *v, int lagging)
{
    int e = lagging ? (v->eighths > 1 ? v->eighths / 2 : 1) : (v->eighths < 8 ? v->eighths + 1 : 8);
    if (v->sticky && e != v->eighths) {
        v->eighths = e;
        s->weight_gen++;
    }
}

void sched_sticky_stale(sched_task_t *t)
{
    if (t->lease && t->lease->sticky && t->lease->owner)
        ask_back(t->lease);
}

void sched_sticky_misfit(sched_t *s, sched_slave_t *v)
{
    (void)s;
    for (sched_lrec_t *l = v->held; l; l = l->snext)
        if (l->task->gone || !sched_labels_cover(l->task->labels, l->task->nlabels,
                                                 (const char *const *)v->labels, v->nlabels))
            ask_back(l);
}

void sched_sticky_reconcile(sched_t *s)
{
    for (sched_slave_t *v = s->slaves; v; v = v->hh.next)
        if (v->held)
            sched_sticky_misfit(s, v);
}

/* Ask v for what it holds past its share of a queue that has no ready task left
 * (the others below their share then take them). */
static void rebalance(sched_t *s, sched_slave_t *v, int64_t now)
{
    for (int i = 0; i < v->nbyq; i++) {
        sched_queue_t *q = v->byq[i].queue;
        int64_t excess = -sched_share_room(s, v, q, now);
        if (excess <= 0 || q->ready.n > 0)
            continue;
        for (sched_lrec_t *l = v->held; l && excess > 0; l = l->snext)
            if (l->queue == q && (l->release || (ask_back(l), 1)))
                excess--;
    }
}

/* 1 when v holds less than its share of a queue that has ready tasks. */
static int wants_more(sched_t *s, sched_slave_t *v, int64_t now)
{
    for (int j = 0; j < s->njobs; j++)
        for (int i = 0; i < s->jobs[j].nqueues; i++) {
            sched_queue_t *q = s->jobs[j].queues[i];
            if (q->ready.n > 0 &&
                sched_labels_cover(q->labels, q->nlabels, (const char *const *)v->labels,
                                   v->nlabels) &&
                sched_share_room(s, v, q, now) > 0)
                return 1;
        }
    return 0;
}

/* ---- the calls ---- */

int sched_lease_sticky(sched_t *s, const sched_ask_t *a, int64_t now_ms, sched_lease_t *out)
{
    int n = 0;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    sched_slave_t *v = sched_sticky_slave(s, a->slave, a->labels, a->nlabels, a->workers, now_ms);
    if (a->lagging >= 0)
        sched_sticky_lagging(s, v, a->lagging);
    if (a->max > 0)
        n = sched_repair_grant(s, a->slave, a->labels, a->nlabels, a->max, now_ms, out);
    while (n < a->max) {
        sched_job_t *job;
        int64_t round;
        sched_task_t *t = sched_ready_pick(s, v, a->labels, a->nlabels, now_ms, &job, &round);
        if (!t)
            break;
        if (round == INT64_MAX) /* done for the rounds started: it owes the next one */
            round = sched_round_at(job, job->next_start_ms);
        sticky_link(v, sched_lease_grant(s, job, t, round, a->slave, now_ms, &out[n]));
        out[n++].sticky = 1;
    }
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);
    return n;
}

/* "Nothing new" for the leases of g: done for every open round up to g->round. */
static void idle_apply(sched_t *s, const char *slave, const sched_idle_t *g, int64_t now,
                       uint64_t *gone, int *ngone)
{
    sched_job_t *job = sched_job_find(s, g->job);
    for (int i = 0; i < g->nleases; i++) {
        sched_lrec_t *l = sched_lease_find(s, g->leases[i]);
        if (!l || !l->sticky || l->job != job || strcmp(l->slave, slave) != 0) {
            gone[(*ngone)++] = g->leases[i];
            continue;
        }
        sched_lease_renew(s, l, now);
        sched_task_done(job, l->task, g->round); /* (a round not open is no claim) */
    }
    if (job && sched_rounds_close(s, job, now) > 0 && s->jn)
        sched_journal_close(s, job, now); /* recovery closes them again */
}

apr_status_t sched_report(sched_t *s, const sched_report_t *r, int64_t now_ms,
                          apr_status_t *results, abbey_err_t *errs, sched_commit_t *commits,
                          uint64_t *gone, int *ngone)
{
    uint64_t ticket = 0;
    journal_t *jn;
    abbey_err_t err;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    sched_slave_t *v = sched_slave_touch(s, r->slave, now_ms);
    *ngone = 0;
    if (r->lagging >= 0)
        sched_sticky_lagging(s, v, r->lagging);
    for (int i = 0; i < r->ncompletions; i++) {
        uint64_t tk = 0;
        sched_completion_t c = r->completions[i];
        c.slave = r->slave;
        abbey_err_clear(&errs[i]);
        results[i] = sched_complete_one(s, &c, now_ms, &tk, &errs[i]);
        if (tk > ticket)
            ticket = tk;
        sched_lrec_t *l = commits ? sched_lease_find(s, c.lease) : NULL;
        if (commits && (commits[i].known = results[i] == APR_SUCCESS && l && l->sticky)) {
            memcpy(commits[i].instance, l->task->instance, sizeof commits[i].instance);
            commits[i].offset = l->task->offset;
        }
    }
    for (int i = 0; i < r->nidle; i++)
        idle_apply(s, r->slave, &r->idle[i], now_ms, gone, ngone);
    for (int i = 0; i < r->nreleased; i++) {
        sched_lrec_t *l = sched_lease_find(s, r->released[i]);
        if (l && l->sticky && strcmp(l->slave, r->slave) == 0)
            sched_lease_end(s, l);
        else
            gone[(*ngone)++] = r->released[i];
    }
    for (int j = 0; s->ngone && j < s->njobs; j++)
        if (s->jobs[j].ngone)
            sched_drop_tasks(s, &s->jobs[j]); /* tasks that left the config, released */
    if (s->ngone)
        sched_drop_jobs(s);
    jn = s->jn;
    apr_thread_mutex_unlock(s->lock);
    if (ticket && jn && journal_commit(jn, ticket, &err) != APR_SUCCESS)
        for (int i = 0; i < r->ncompletions; i++)
            if (results[i] == APR_SUCCESS) { /* applied, not durable: the store is failed */
                results[i] = APR_EGENERAL;
                abbey_err_set(&errs[i], "journal: %s", err.msg);
            }
    sched_notify(s);
    return APR_SUCCESS;
}

int sched_renew_batch(sched_t *s, const char *slave, const uint64_t *ids, int n, int64_t now_ms,
                      uint64_t *gone, int64_t *expires_ms)
{
    int ngone = 0;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    sched_slave_touch(s, slave, now_ms);
    for (int i = 0; i < n; i++)
        if (sched_renew_one(s, slave, ids[i], now_ms, NULL) != 0)
            gone[ngone++] = ids[i];
    *expires_ms = now_ms + s->opts.lease_ms;
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);
    return ngone;
}

void sched_news(sched_t *s, const char *slave, int64_t now_ms, apr_pool_t *pool, sched_news_t *out)
{
    memset(out, 0, sizeof *out);
    out->now_ms = now_ms;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    memcpy(out->config, s->announced, sizeof out->config);
    out->rounds = apr_pcalloc(pool, sizeof(*out->rounds) * (size_t)(s->njobs + 1));
    for (int j = 0; j < s->njobs; j++) {
        const sched_job_t *job = &s->jobs[j];
        if (job->gone || job->cur_round == INT64_MIN)
            continue;
        sched_round_info_t *ri = &out->rounds[out->nrounds++];
        ri->job = job->cfg->name;
        ri->round = job->cur_round;
        ri->next_ms = job->next_start_ms;
        ri->next = sched_round_at(job, job->next_start_ms);
    }
    sched_slave_t *v = NULL;
    HASH_FIND_STR(s->slaves, slave, v);
    if (v && v->sticky) {
        rebalance(s, v, now_ms);
        out->more = wants_more(s, v, now_ms) ||
                    sched_repair_waiting(s, (const char *const *)v->labels, v->nlabels);
        out->release = apr_palloc(pool, sizeof(uint64_t) * (size_t)(v->nrelease + 1));
        for (sched_lrec_t *l = v->held; l && out->nrelease < v->nrelease; l = l->snext)
            if (l->release)
                out->release[out->nrelease++] = l->id;
    }
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);
}
