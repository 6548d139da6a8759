/* sched.c - the primary's scheduler: tasks, leases, completions and rounds (see scheduler.h).
 *
 * Every public call takes the lock, first brings the state up to now
 * (sched_advance: start the current round, expire leases, close rounds), does
 * its work, releases the lock, then delivers closed rounds to the callback
 * (sched_notify). Status, metrics and HTTP live in sched_status.c and sched_http.c;
 * adopting a reloaded config in sched_config.c; checkpoints in sched_ckpt.c; the
 * journal and recovery in sched_recover.c (which applies journaled completions
 * through sched_complete_apply, and replays round starts/closes through
 * sched_advance); the slaves it knows in sched_slaves.c; what an expansion
 * adds (a task per file of a glob) in sched_ident.c. */
#include "sched_int.h"

#include <apr_strings.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "invariant.h"
#include "journal.h"
#include "log.h"
#include "mem.h"

#define DEFAULT_LEASE_MS 30000
#define DEFAULT_LEASE_BYTES (64ull << 20)
#define DEFAULT_DEADLINE_ROUNDS 3

/* ---- tasks ---- */

sched_task_t *sched_task_alloc(sched_t *s, sched_job_t *job, sched_kind_t kind, const char *source,
                               const char *const *labels, int nlabels)
{
    sched_task_t *t = s->free_tasks;
    const char **deliv = NULL;
    if (t) {
        s->free_tasks = t->next_free;
        if (t->ndeliv == s->cfg->nmasters)
            deliv = t->deliv;
        memset(t, 0, sizeof(*t));
    } else {
        t = apr_pcalloc(s->pool, sizeof(*t));
    }
    if (deliv)
        memset(deliv, 0, sizeof(char *) * (size_t)s->cfg->nmasters);
    else
        deliv = apr_pcalloc(s->pool, sizeof(char *) * (size_t)s->cfg->nmasters);
    t->id = job->tasks->nelts;
    t->kind = kind;
    t->source = source;
    t->labels = labels;
    t->nlabels = nlabels;
    t->size = -1;
    t->deliv = deliv;
    t->ndeliv = s->cfg->nmasters;
    APR_ARRAY_PUSH(job->tasks, sched_task_t *) = t;
    return t;
}

sched_task_t *sched_task_add(sched_t *s, sched_job_t *job, sched_kind_t kind, const char *source,
                             const char *const *labels, int nlabels)
{
    sched_task_t *t = sched_task_alloc(s, job, kind, apr_pstrdup(s->pool, source), labels, nlabels);
    if (kind == SCHED_READ)
        HASH_ADD_KEYPTR(hh, job->by_path, t->source, strlen(t->source), t);
    return t;
}

static sched_task_t *task_by_path(sched_job_t *job, const char *path)
{
    sched_task_t *t = NULL;
    HASH_FIND_STR(job->by_path, path, t);
    return t;
}

static sched_task_t *task_at(sched_job_t *job, int i)
{
    return APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
}

sched_task_t *sched_read_task(sched_job_t *job, const char *source, const char *instance)
{
    sched_task_t *t = NULL;
    if (instance && instance[0])
        HASH_FIND(hi, job->by_inst, instance, strlen(instance), t);
    return t && strcmp(t->source, source) == 0 ? t : task_by_path(job, source);
}

sched_task_t *sched_task_find(sched_job_t *job, sched_kind_t kind, const char *source)
{
    if (kind == SCHED_READ)
        return task_by_path(job, source);
    for (int i = 0; i < job->tasks->nelts; i++) {
        sched_task_t *t = task_at(job, i);
        if (t->kind == SCHED_EXPAND && strcmp(t->source, source) == 0)
            return t;
    }
    return NULL;
}

/* ---- rounds ---- */

void sched_round_unref(sched_rnd_t *r)
{
    ABBEY_ASSERT(r->refs > 0);
    if (--r->refs == 0)
        apr_pool_destroy(r->pool);
}

sched_rnd_t *sched_round_new(sched_t *s, const sched_job_t *job, int64_t number, int ntasks)
{
    apr_pool_t *p;
    p = mem_xpool(s->pool);
    sched_rnd_t *r = apr_pcalloc(p, sizeof(*r));
    r->pool = p;
    r->pub.round = number;
    r->pub.start_ms = number * job->round_ms;
    r->pub.deadline_ms = r->pub.start_ms + (int64_t)s->opts.deadline_rounds * job->round_ms;
    r->ranges = apr_array_make(p, 8, sizeof(sched_range_t));
    r->ntasks = ntasks;
    r->state = apr_pcalloc(p, (size_t)ntasks + 1); /* SCHED_NOT_DUE */
    r->last_range = apr_palloc(p, sizeof(int) * ((size_t)ntasks + 1));
    for (int i = 0; i < ntasks; i++)
        r->last_range[i] = -1;
    r->refs = 1;
    return r;
}

static void round_start(sched_t *s, sched_job_t *job, int64_t number)
{
    sched_rnd_t *r = sched_round_new(s, job, number, job->tasks->nelts);
    for (int i = 0; i < r->ntasks; i++) {
        const sched_task_t *t = task_at(job, i);
        r->state[i] = t->gone || t->paused ? SCHED_NOT_DUE : SCHED_DUE;
        r->ndue += r->state[i] == SCHED_DUE;
    }
    sched_rnd_t **tail = &job->open;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    job->cur_round = number;
    job->next_start_ms = (number + 1) * job->round_ms;
    s->nround_events++;
}

static sched_rnd_t *round_open(sched_job_t *job, int64_t number)
{
    for (sched_rnd_t *r = job->open; r; r = r->next)
        if (r->pub.round == number)
            return r;
    return NULL;
}

/* The oldest open round task is due for and not done, or NULL. */
static sched_rnd_t *task_due_round(sched_job_t *job, const sched_task_t *t)
{
    for (sched_rnd_t *r = job->open; r; r = r->next)
        if (t->id < r->ntasks && r->state[t->id] == SCHED_DUE)
            return r;
    return NULL;
}

static void round_mark_done(sched_rnd_t *r, const sched_task_t *t)
{
    if (r && t->id < r->ntasks && r->state[t->id] == SCHED_DUE) {
        ABBEY_ASSERT(r->ndone < r->ndue); /* ndue - ndone tasks are due */
        r->state[t->id] = SCHED_DONE;
        r->ndone++;
    }
}

void sched_task_pause(sched_job_t *job, sched_task_t *t, int paused)
{
    t->paused = paused;
    for (sched_rnd_t *r = job->open; paused && r; r = r->next)
        round_mark_done(r, t); /* the rounds close without it (rounds_close, by the caller) */
}

/* "<path>#<instance>" == id? */
static int source_id_is(const char *id, const char *path, const char *instance)
{
    size_t n = strlen(path);
    return strncmp(id, path, n) == 0 && id[n] == '#' && strcmp(id + n + 1, instance) == 0;
}

static void round_add_range(sched_rnd_t *r, const sched_task_t *t, const char *instance,
                            uint64_t start, uint64_t end)
{
    int has_slot = t->id < r->ntasks;
    if (has_slot && r->last_range[t->id] >= 0) {
        sched_range_t *last = &APR_ARRAY_IDX(r->ranges, r->last_range[t->id], sched_range_t);
        if (last->end == start && source_id_is(last->source, t->source, instance)) {
            last->end = end;
            return;
        }
    }
    sched_range_t *g = apr_array_push(r->ranges);
    g->source = apr_pstrcat(r->pool, t->source, "#", instance, NULL);
    g->start = start;
    g->end = end;
    if (has_slot)
        r->last_range[t->id] = r->ranges->nelts - 1;
}

static void pending_push(sched_t *s, sched_job_t *job, sched_rnd_t *r)
{
    if (s->pending_head + s->npending == s->pending_cap) {
        if (s->pending_head > 0) {
            memmove(s->pending, s->pending + s->pending_head,
                    sizeof(*s->pending) * (size_t)s->npending);
            s->pending_head = 0;
        } else {
            s->pending_cap = s->pending_cap ? 2 * s->pending_cap : 16;
            s->pending = mem_xrealloc(s->pending, sizeof(*s->pending) * (size_t)s->pending_cap);
        }
    }
    s->pending[s->pending_head + s->npending++] = (sched_pending_t){job->cfg->name, r};
    r->refs++;
}

static void round_close(sched_t *s, sched_job_t *job, int64_t now)
{
    sched_rnd_t *r = job->open;
    job->open = r->next;
    r->next = NULL;
    r->pub.closed_ms = now;
    r->pub.incomplete = r->ndone < r->ndue;
    r->pub.nranges = r->ranges->nelts;
    r->pub.ranges = (const sched_range_t *)r->ranges->elts;
    if (r->pub.incomplete) {
        int *m = apr_palloc(r->pool, sizeof(int) * (size_t)(r->ndue - r->ndone));
        int n = 0;
        for (int i = 0; i < r->ntasks; i++)
            if (r->state[i] == SCHED_DUE) {
                ABBEY_ASSERT(n < r->ndue - r->ndone);
                m[n++] = i;
            }
        ABBEY_ASSERT(n == r->ndue - r->ndone);
        r->pub.missing = m;
        r->pub.nmissing = n;
    }
    sched_round_keep(job, r);
    s->nround_events++;
    s->ckpt_due = 1;
    if (s->on_closed)
        pending_push(s, job, r);
}

void sched_round_keep(sched_job_t *job, sched_rnd_t *r)
{
    if (job->nclosed == SCHED_ROUNDS_KEPT) {
        sched_round_unref(job->closed[job->closed_first]);
        job->closed_first = (job->closed_first + 1) % SCHED_ROUNDS_KEPT;
        job->nclosed--;
    }
    job->closed[(job->closed_first + job->nclosed++) % SCHED_ROUNDS_KEPT] = r;
}

/* Close the job's oldest open rounds while they are complete or past deadline. */
static void rounds_close(sched_t *s, sched_job_t *job, int64_t now)
{
    while (job->open && (job->open->ndone == job->open->ndue || now >= job->open->pub.deadline_ms))
        round_close(s, job, now);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- leases ---- */

static void lease_end(sched_t *s, sched_lrec_t *l)
{
    ABBEY_ASSERT(l->task->lease == l); /* one lease per task, and it is this one */
    HASH_DEL(s->leases, l);
    l->task->lease = NULL;
    free(l->slave);
    free(l);
}

static void leases_expire(sched_t *s, int64_t now)
{
    sched_lrec_t *l, *tmp;
    HASH_ITER(hh, s->leases, l, tmp)
    {
        if (now >= l->expires_ms) {
            lease_end(s, l);
            s->n_expired++;
        }
    }
}

/* Bring everything up to now: the current round of each job, expiries, closes. */
void sched_advance(sched_t *s, int64_t now)
{
    uint64_t events = s->nround_events;
    for (int j = 0; j < s->njobs; j++) {
        sched_job_t *job = &s->jobs[j];
        /* next_start_ms is the current round's end, or after a round length
         * changed, the first boundary of the new length from there */
        if (!job->gone && (job->cur_round == INT64_MIN || now >= job->next_start_ms))
            round_start(s, job, floor_div(now, job->round_ms)); /* missed rounds: never created */
    }
    leases_expire(s, now);
    sched_repair_expire(s, now);
    sched_slaves_expire(s, now);
    for (int j = 0; j < s->njobs; j++) {
        if (s->jobs[j].ngone)
            sched_drop_tasks(s, &s->jobs[j]);
        rounds_close(s, &s->jobs[j], now);
    }
    if (s->ngone)
        sched_drop_jobs(s);
    if (s->jn && s->nround_events != events)
        sched_journal_advance(s, now); /* recovery replays it: rounds start and close alike */
}

/* Deliver pending closed rounds to the callback, outside the lock, in order.
 * Only one thread delivers at a time; others leave their rounds to it. */
void sched_notify(sched_t *s)
{
    apr_thread_mutex_lock(s->lock);
    if (s->notifying) {
        apr_thread_mutex_unlock(s->lock);
        return;
    }
    s->notifying = 1;
    while (s->npending > 0) {
        sched_pending_t p = s->pending[s->pending_head++];
        if (--s->npending == 0)
            s->pending_head = 0;
        sched_round_fn fn = s->on_closed;
        void *ctx = s->on_closed_ctx;
        apr_thread_mutex_unlock(s->lock);
        if (fn)
            fn(ctx, p.job, &p.round->pub);
        apr_thread_mutex_lock(s->lock);
        sched_round_unref(p.round);
    }
    s->notifying = 0;
    apr_thread_mutex_unlock(s->lock);
}

/* ---- create / destroy ---- */

static apr_status_t sched_cleanup(void *data)
{
    sched_t *s = data;
    sched_lrec_t *l, *lt;
    HASH_ITER(hh, s->leases, l, lt)
    {
        HASH_DEL(s->leases, l);
        free(l->slave);
        free(l);
    }
    sched_slave_t *v, *vt;
    HASH_ITER(hh, s->slaves, v, vt)
    {
        sched_slave_forget(s, v);
    }
    for (int j = 0; j < s->njobs; j++) {
        HASH_CLEAR(hh, s->jobs[j].by_path);
        HASH_CLEAR(hi, s->jobs[j].by_inst);
    }
    sched_ident_free_all(s);
    free(s->pending);
    s->pending = NULL;
    sched_repair_free_all(s);
    return APR_SUCCESS;
}

sched_t *sched_create(const rules_config_t *cfg, const sched_opts_t *opts, apr_pool_t *pool)
{
    apr_pool_t *p;
    p = mem_xpool(pool);
    sched_t *s = apr_pcalloc(p, sizeof(*s));
    s->pool = p;
    s->cfg = cfg;
    if (opts)
        s->opts = *opts;
    if (s->opts.lease_ms <= 0)
        s->opts.lease_ms = DEFAULT_LEASE_MS;
    if (s->opts.lease_bytes == 0)
        s->opts.lease_bytes = DEFAULT_LEASE_BYTES;
    if (s->opts.deadline_rounds <= 0)
        s->opts.deadline_rounds = DEFAULT_DEADLINE_ROUNDS;
    s->next_lease = 1;
    s->repairs_tail = &s->repairs;
    snprintf(s->announced, sizeof s->announced, "%s", cfg->hash_hex);
    if (apr_thread_mutex_create(&s->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS)
        mem_oom("an APR mutex", 0);
    s->njobs = cfg->njobs;
    s->jobs_cap = cfg->njobs > 0 ? cfg->njobs : 1;
    s->jobs = apr_pcalloc(p, sizeof(sched_job_t) * (size_t)s->jobs_cap);
    for (int j = 0; j < cfg->njobs; j++)
        sched_job_init(s, &s->jobs[j], &cfg->jobs[j], j);
    apr_pool_cleanup_register(p, s, sched_cleanup, apr_pool_cleanup_null);
    return s;
}

void sched_job_init(sched_t *s, sched_job_t *job, const rules_job_t *rj, int index)
{
    job->cfg = rj;
    job->index = index;
    job->round_ms = rj->round / 1000 > 0 ? rj->round / 1000 : 1;
    job->cur_round = INT64_MIN;
    job->tasks =
        apr_array_make(s->pool, rj->nsources > 0 ? rj->nsources : 1, sizeof(sched_task_t *));
    for (int k = 0; k < rj->nsources; k++) {
        const rules_source_t *src = &rj->sources[k];
        sched_kind_t kind = src->kind == RULES_SRC_GLOB ? SCHED_EXPAND : SCHED_READ;
        if (kind == SCHED_READ && task_by_path(job, src->path))
            continue; /* the same path twice: one task */
        sched_task_add(s, job, kind, src->path, src->labels, src->nlabels);
    }
}

sched_job_t *sched_job_find(sched_t *s, const char *name)
{
    for (int j = 0; j < s->njobs; j++)
        if (strcmp(s->jobs[j].cfg->name, name) == 0)
            return &s->jobs[j];
    return NULL;
}

void sched_on_round_closed(sched_t *s, sched_round_fn fn, void *ctx)
{
    apr_thread_mutex_lock(s->lock);
    s->on_closed = fn;
    s->on_closed_ctx = ctx;
    apr_thread_mutex_unlock(s->lock);
}

void sched_tick(sched_t *s, int64_t now_ms)
{
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);
}

/* ---- lease ---- */

typedef struct cand_t {
    sched_job_t *job;
    sched_task_t *task;
    int64_t round;
} cand_t;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand_t *a = pa, *b = pb;
    if (a->round != b->round)
        return a->round < b->round ? -1 : 1;
    if (a->task->last_leased_ms != b->task->last_leased_ms)
        return a->task->last_leased_ms < b->task->last_leased_ms ? -1 : 1;
    if (a->job->index != b->job->index)
        return a->job->index - b->job->index;
    return a->task->id - b->task->id;
}

static void lease_grant(sched_t *s, const cand_t *c, const char *slave, int64_t now,
                        sched_lease_t *out)
{
    sched_lrec_t *l = mem_xmalloc(sizeof(*l));
    ABBEY_ASSERT(!c->task->lease && !c->task->gone); /* at most one lease per task */
    memset(l, 0, sizeof(*l));
    l->id = s->next_lease++;
    l->slave = mem_xstrdup(slave);
    l->job = c->job;
    l->task = c->task;
    l->round = c->round;
    l->start = c->task->kind == SCHED_READ ? c->task->offset : 0;
    l->expires_ms = now + s->opts.lease_ms;
    HASH_ADD(hh, s->leases, id, sizeof(l->id), l);
    c->task->lease = l;
    c->task->last_leased_ms = now;
    s->n_granted++;

    out->id = l->id;
    out->job = c->job->cfg->name;
    out->kind = c->task->kind;
    out->task = c->task->id;
    out->source = c->task->source;
    memcpy(out->instance, c->task->instance, sizeof(out->instance));
    out->start = l->start;
    out->cap = s->opts.lease_bytes;
    out->round = l->round;
    out->expires_ms = l->expires_ms;
    out->file = NULL;
    if (c->task->ident)
        sched_ident_lease(c->task, out);
}

int sched_lease(sched_t *s, const char *slave, const char *const *labels, int nlabels, int max,
                int64_t now_ms, sched_lease_t *out)
{
    int n = 0;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    sched_slave_set_labels(sched_slave_touch(s, slave, now_ms), labels, nlabels);
    if (max > 0)
        n = sched_repair_grant(s, slave, labels, nlabels, max, now_ms, out);
    if (max > n) {
        size_t total = 0;
        for (int j = 0; j < s->njobs; j++)
            total += (size_t)s->jobs[j].tasks->nelts;
        cand_t *c = mem_xmalloc(sizeof(cand_t) * (total ? total : 1));
        size_t nc = 0;
        for (int j = 0; j < s->njobs; j++) {
            sched_job_t *job = &s->jobs[j];
            for (int i = 0; i < job->tasks->nelts; i++) {
                sched_task_t *t = task_at(job, i);
                sched_rnd_t *r;
                if (t->lease || t->gone || t->paused || !sched_labels_fit(t, labels, nlabels) ||
                    !(r = task_due_round(job, t)))
                    continue;
                c[nc++] = (cand_t){job, t, r->pub.round};
            }
        }
        qsort(c, nc, sizeof(*c), cand_cmp);
        for (size_t i = 0; i < nc && n < max; i++)
            lease_grant(s, &c[i], slave, now_ms, &out[n++]);
        free(c);
    }
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);
    return n;
}

apr_status_t sched_renew(sched_t *s, const char *slave, uint64_t lease, int64_t now_ms,
                         int64_t *expires_ms)
{
    sched_lrec_t *l = NULL;
    apr_status_t rv = APR_NOTFOUND;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    sched_slave_touch(s, slave, now_ms);
    HASH_FIND(hh, s->leases, &lease, sizeof(lease), l);
    if (l && strcmp(l->slave, slave) == 0) {
        l->expires_ms = now_ms + s->opts.lease_ms;
        if (expires_ms)
            *expires_ms = l->expires_ms;
        s->n_renewed++;
        rv = APR_SUCCESS;
    } else if (!l && sched_repair_renew(s, slave, lease, now_ms, expires_ms) == 0) {
        rv = APR_SUCCESS;
    }
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);
    return rv;
}

/* ---- complete ---- */

static void record_counters(sched_t *s, sched_task_t *t, const sched_completion_t *c)
{
    t->lines += c->lines > 0 ? (uint64_t)c->lines : 0;
    t->bad_lines += c->bad_lines > 0 ? (uint64_t)c->bad_lines : 0;
    t->bytes += c->bytes > 0 ? (uint64_t)c->bytes : 0;
    for (int i = 0; i < c->ndeliveries; i++) {
        const rules_master_t *m = rules_find_master(s->cfg, c->delivery_masters[i]);
        const char *v = c->delivery_results[i];
        if (m)
            t->deliv[m->index] = strcmp(v, "ok") == 0        ? "ok"
                                 : strcmp(v, "spooled") == 0 ? "spooled"
                                                             : "failed";
    }
}

/* Checks of a completion that need the task; APR_SUCCESS when it can be applied. */
static apr_status_t complete_check(const sched_lrec_t *l, const sched_completion_t *c,
                                   abbey_err_t *err)
{
    const sched_task_t *t = l->task;
    if (t->kind == SCHED_EXPAND) {
        if (c->npaths < 0) {
            abbey_err_set(err, "field 'paths' missing (lease %" PRIu64 " expands %s)", l->id,
                          t->source);
            return APR_BADARG;
        }
        for (int i = 0; i < c->npaths; i++)
            if (!c->paths[i][0] || strlen(c->paths[i]) >= SCHED_PATH_MAX) {
                abbey_err_set(err, "field 'paths': path %d is empty or too long", i);
                return APR_BADARG;
            }
        return APR_SUCCESS;
    }
    const char *missing = !c->instance    ? "instance"
                          : c->start < 0  ? "start"
                          : c->end < 0    ? "end"
                          : c->at_end < 0 ? "at_end"
                                          : NULL;
    if (missing) {
        abbey_err_set(err, "field '%s' missing", missing);
        return APR_BADARG;
    }
    if (strlen(c->instance) >= SCHED_INSTANCE_MAX ||
        (c->next_instance && strlen(c->next_instance) >= SCHED_INSTANCE_MAX)) {
        abbey_err_set(err, "field 'instance' or 'next_instance' longer than %d bytes",
                      SCHED_INSTANCE_MAX - 1);
        return APR_BADARG;
    }
    if (c->end < c->start) {
        abbey_err_set(err, "field 'end': %" PRId64 " is before start %" PRId64, c->end, c->start);
        return APR_BADARG;
    }
    if (t->instance[0] && strcmp(t->instance, c->instance) != 0) {
        abbey_err_set(err, "lease %" PRIu64 ": instance '%s' is not %s's current instance '%s'",
                      l->id, c->instance, t->source, t->instance);
        return APR_EINVAL;
    }
    if ((uint64_t)c->start != t->offset) {
        abbey_err_set(err,
                      "lease %" PRIu64 ": start %" PRId64 " is not the committed offset %" PRIu64
                      " of %s#%s",
                      l->id, c->start, t->offset, t->source, t->instance);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The name of the instance a task moves to, into t->instance: the slave's
 * next_instance, but a file's generation ("dev:inode:gen", instance.h) is
 * raised above the current one's. A file system may give a new file the
 * inode of one deleted since (a rotation that compresses the old file and
 * creates a new one): the task then names it anew instead of reusing the
 * name whose ranges the masters already hold, which would drop its lines
 * as duplicates. */
static void move_instance(sched_task_t *t, const char *next)
{
    instance_id_t cur, nxt;
    if (instance_parse(t->instance, &cur) == 0 && instance_parse(next, &nxt) == 0 &&
        nxt.gen <= cur.gen) {
        nxt.gen = cur.gen + 1;
        instance_format(&nxt, t->instance);
        return;
    }
    snprintf(t->instance, sizeof(t->instance), "%s", next);
}

/* Commit a checked read completion: range, offset, instance, size (a
 * glob's read task reads one file: it never moves to a next instance). */
static void complete_read(sched_job_t *job, sched_task_t *t, sched_rnd_t *r,
                          const sched_completion_t *c)
{
    uint64_t start = (uint64_t)c->start, end = (uint64_t)c->end;
    if (!t->instance[0])
        snprintf(t->instance, sizeof(t->instance), "%s", c->instance);
    if (end > start) {
        sched_rnd_t *into = r ? r : job->open;
        if (into)
            round_add_range(into, t, t->instance, start, end);
        else
            log_msg("job %s: range [%" PRIu64 ", %" PRIu64 ") of %s#%s completed after its "
                    "round closed, with no open round to list it in",
                    job->cfg->name, start, end, t->source, t->instance);
    }
    t->offset = end;
    if (c->next_instance && c->next_instance[0] && !t->ident) {
        move_instance(t, c->next_instance);
        t->offset = 0;
        t->size = -1;
    }
    if (c->size >= 0)
        t->size = c->size;
    if (t->ident)
        sched_ident_read(job, t, c);
}

void sched_complete_apply(sched_t *s, sched_job_t *job, sched_task_t *t, int64_t round,
                          const sched_completion_t *c, int64_t now_ms)
{
    sched_rnd_t *r = round_open(job, round);
    ABBEY_ASSERT(!t->lease);
    /* a read completion starts at the committed offset (checked, or set so by
     * recovery) and offsets only go forward within an instance */
    ABBEY_ASSERT(t->kind != SCHED_READ ||
                 (c->start >= 0 && c->end >= c->start && (uint64_t)c->start == t->offset));
    if (t->kind == SCHED_EXPAND)
        sched_expand_apply(s, job, t, c);
    else
        complete_read(job, t, r, c);
    if (t->kind == SCHED_EXPAND || c->at_end)
        round_mark_done(r, t);
    record_counters(s, t, c);
    s->n_completed++;
    if (job->ngone)
        sched_drop_tasks(s, job); /* this task, if it left the config */
    rounds_close(s, job, now_ms);
    if (s->ngone)
        sched_drop_jobs(s); /* job may be freed here */
}

apr_status_t sched_complete(sched_t *s, const sched_completion_t *c, int64_t now_ms,
                            abbey_err_t *err)
{
    sched_lrec_t *l = NULL;
    apr_status_t rv;
    journal_t *jn = NULL;
    uint64_t ticket = 0;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    sched_slave_touch(s, c->slave, now_ms);
    uint64_t id = c->lease;
    HASH_FIND(hh, s->leases, &id, sizeof(id), l);
    if (c->repair) {
        rv = sched_repair_complete(s, c, err); /* not journaled: masters ask again */
    } else if (!l || strcmp(l->slave, c->slave) != 0) {
        abbey_err_set(err, "lease %" PRIu64 " is not yours (expired?)", c->lease);
        rv = APR_EINVAL;
    } else if ((rv = complete_check(l, c, err)) == APR_SUCCESS && (jn = s->jn) &&
               (rv = sched_journal_completion(s, l, c, now_ms, &ticket, err)) != APR_SUCCESS) {
        if (c->size >= 0 && !(c->next_instance && c->next_instance[0]))
            l->task->size = c->size; /* not committed, but the lag it shows is real */
    } else if (rv == APR_SUCCESS) {
        /* journaled (when a journal is attached): now apply it */
        sched_task_t *t = l->task;
        sched_job_t *job = l->job;
        int64_t round = l->round;
        if (c->error && !t->error_logged) /* e.g. a FIFO: once, until it reads again */
            log_msg("job %s: %s: slave %s could not read it: %s (logged again only after a "
                    "read without error)",
                    job->cfg->name, t->source, c->slave, c->error);
        t->error_logged = c->error != NULL;
        lease_end(s, l);
        sched_complete_apply(s, job, t, round, c, now_ms);
    }
    apr_thread_mutex_unlock(s->lock);
    if (rv == APR_SUCCESS && jn && journal_commit(jn, ticket, err) != APR_SUCCESS) {
        abbey_err_prefix(err, "journal");
        rv = APR_EGENERAL; /* applied, not durable: the store is failed (restart recovers) */
    }
    sched_notify(s);
    return rv;
}

int sched_store_failed(sched_t *s, abbey_err_t *err)
{
    journal_stats_t st = {0};
    apr_thread_mutex_lock(s->lock);
    if (s->jn)
        journal_stats(s->jn, &st);
    apr_thread_mutex_unlock(s->lock);
    if (st.failed)
        abbey_err_set(err, "the primary's journal has failed (a write or fsync failed; see its "
                           "log): no leases until it is restarted and has recovered");
    return st.failed != 0;
}

/* ---- closed rounds ---- */

int sched_current_round(sched_t *s, const char *job_name, int64_t *round)
{
    int r = -1;
    apr_thread_mutex_lock(s->lock);
    sched_job_t *job = sched_job_find(s, job_name);
    if (job) {
        r = job->cur_round != INT64_MIN;
        *round = job->cur_round;
    }
    apr_thread_mutex_unlock(s->lock);
    return r;
}

int sched_rounds(sched_t *s, const char *job_name, int64_t after, sched_round_fn fn, void *ctx)
{
    int n = 0;
    apr_thread_mutex_lock(s->lock);
    sched_job_t *job = sched_job_find(s, job_name);
    if (!job) {
        apr_thread_mutex_unlock(s->lock);
        return -1;
    }
    for (int i = 0; i < job->nclosed; i++) {
        sched_rnd_t *r = job->closed[(job->closed_first + i) % SCHED_ROUNDS_KEPT];
        if (r->pub.round > after) {
            fn(ctx, job->cfg->name, &r->pub);
            n++;
        }
    }
    apr_thread_mutex_unlock(s->lock);
    return n;
}

void sched_announce_config(sched_t *s, const char *hash_hex)
{
    apr_thread_mutex_lock(s->lock);
    snprintf(s->announced, sizeof s->announced, "%s", hash_hex);
    apr_thread_mutex_unlock(s->lock);
}
