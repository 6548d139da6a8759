/* sched.c - the primary's scheduler: tasks, rounds and what a completion changes (see
 * scheduler.h).
 *
 * Every public call takes the lock, first brings the state up to now
 * (sched_advance: start the current round, expire leases, close rounds), does
 * its work, releases the lock, then delivers closed rounds to the callback
 * (sched_notify). A round starts in O(1): every active task is due for it by
 * its done_seq (sched_int.h), and the round counts the ones not done. Leases
 * (granting, renewing, expiring, completing) live in sched_lease.c, the ready
 * queues in sched_ready.c, sticky leases in sched_sticky.c; status, metrics
 * and HTTP in sched_status.c, sched_http.c and sched_http_batch.c; adopting a
 * reloaded config in sched_config.c; checkpoints in sched_ckpt.c; the
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
    t->done_seq = job->round_seq; /* due from the next round that starts */
    t->age = ++s->task_age;
    t->ready_pos = -1;
    t->lr_index = -1;
    APR_ARRAY_PUSH(job->tasks, sched_task_t *) = t;
    sched_task_sync(job, t);
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

sched_rnd_t *sched_round_new(sched_t *s, const sched_job_t *job, int64_t number)
{
    apr_pool_t *p;
    p = mem_xpool(s->pool);
    sched_rnd_t *r = apr_pcalloc(p, sizeof(*r));
    r->pool = p;
    r->pub.round = number;
    r->pub.start_ms = number * job->round_ms;
    r->pub.deadline_ms = r->pub.start_ms + (int64_t)s->opts.deadline_rounds * job->round_ms;
    r->ranges = apr_array_make(p, 8, sizeof(sched_range_t));
    r->refs = 1;
    return r;
}

static void round_start(sched_t *s, sched_job_t *job, int64_t number)
{
    sched_rnd_t *r = sched_round_new(s, job, number);
    /* every active task is due: its done_seq is below (at most the last round's) */
    r->seq = ++job->round_seq;
    r->ndue = r->npending = job->nactive;
    sched_rnd_t **tail = &job->open;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    job->cur_round = number;
    job->next_start_ms = (number + 1) * job->round_ms;
    s->nround_events++;
    for (int i = 0; job->carry && i < job->carry->nelts; i++) { /* listed in no round yet */
        sched_range_t *g = apr_array_push(r->ranges);
        *g = APR_ARRAY_IDX(job->carry, i, sched_range_t);
        g->source = apr_pstrdup(r->pool, g->source);
    }
    sched_carry_free(job);
}

void sched_carry_free(sched_job_t *job)
{
    if (job->carry_pool)
        apr_pool_destroy(job->carry_pool);
    job->carry_pool = NULL;
    job->carry = NULL;
}

static sched_rnd_t *round_open(sched_job_t *job, int64_t number)
{
    for (sched_rnd_t *r = job->open; r; r = r->next)
        if (r->pub.round == number)
            return r;
    return NULL;
}

void sched_rounds_count(sched_job_t *job, const sched_task_t *t, int delta)
{
    for (sched_rnd_t *r = job->open; r; r = r->next)
        if (t->done_seq < r->seq) {
            r->npending += delta;
            ABBEY_ASSERT(r->npending >= 0);
        }
}

sched_rnd_t *sched_round_by_seq(sched_job_t *job, int64_t seq)
{
    for (sched_rnd_t *r = job->open; r; r = r->next)
        if (r->seq == seq)
            return r;
    return NULL;
}

void sched_task_done(sched_job_t *job, sched_task_t *t, int64_t round)
{
    sched_rnd_t *at = round_open(job, round);
    int64_t seq = at ? at->seq : round == job->cur_round ? job->round_seq : 0;
    if (seq <= t->done_seq)
        return;
    if (t->counted)
        for (sched_rnd_t *r = job->open; r; r = r->next)
            if (t->done_seq < r->seq && r->seq <= seq) {
                ABBEY_ASSERT(r->npending > 0); /* it was due there and not done */
                r->npending--;
            }
    t->done_seq = seq;
    sched_task_sync(job, t); /* (its ready key) */
}

void sched_task_pause(sched_job_t *job, sched_task_t *t, int paused)
{
    t->paused = paused;
    if (!paused && job->round_seq > t->done_seq)
        t->done_seq = job->round_seq; /* (uncounted: no round changes) due from the next one */
    sched_task_sync(job, t);          /* paused: counts as done in the open rounds, which close
                                         without it (rounds_close, by the caller) */
}

/* "<path>#<instance>" == id? */
static int source_id_is(const char *id, const char *path, const char *instance)
{
    size_t n = strlen(path);
    return strncmp(id, path, n) == 0 && id[n] == '#' && strcmp(id + n + 1, instance) == 0;
}

static void round_add_range(sched_rnd_t *r, sched_task_t *t, const char *instance, uint64_t start,
                            uint64_t end)
{
    if (t->lr_round == r->pub.round && t->lr_index >= 0 && t->lr_index < r->ranges->nelts) {
        sched_range_t *last = &APR_ARRAY_IDX(r->ranges, t->lr_index, sched_range_t);
        if (last->end == start && source_id_is(last->source, t->source, instance)) {
            last->end = end;
            return;
        }
    }
    sched_range_t *g = apr_array_push(r->ranges);
    g->source = apr_pstrcat(r->pool, t->source, "#", instance, NULL);
    g->start = start;
    g->end = end;
    t->lr_round = r->pub.round;
    t->lr_index = r->ranges->nelts - 1;
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

/* The tasks of job still due for r (incomplete: a walk, at its deadline only). */
static void round_missing(sched_job_t *job, sched_rnd_t *r)
{
    int *m = apr_palloc(r->pool, sizeof(int) * (size_t)(r->npending + 1));
    int n = 0;
    for (int i = 0; i < job->tasks->nelts && n < r->npending; i++) {
        const sched_task_t *t = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
        if (t->counted && t->done_seq < r->seq)
            m[n++] = i;
    }
    ABBEY_ASSERT(n == r->npending); /* npending counts exactly those */
    r->pub.missing = m;
    r->pub.nmissing = n;
}

void sched_round_close(sched_t *s, sched_job_t *job, int64_t now, int complete)
{
    sched_rnd_t *r = job->open;
    job->open = r->next;
    r->next = NULL;
    r->pub.closed_ms = now;
    r->pub.incomplete = !complete && r->npending > 0;
    r->pub.nranges = r->ranges->nelts;
    r->pub.ranges = (const sched_range_t *)r->ranges->elts;
    if (r->pub.incomplete)
        round_missing(job, r);
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

int sched_rounds_close(sched_t *s, sched_job_t *job, int64_t now)
{
    int n = 0;
    while (job->open && (job->open->npending == 0 || now >= job->open->pub.deadline_ms)) {
        sched_round_close(s, job, now, 0);
        n++;
    }
    return n;
}

int64_t sched_round_at(const sched_job_t *job, int64_t ms)
{
    int64_t q = ms / job->round_ms; /* (floor: ms may be negative) */
    return (ms % job->round_ms != 0 && (ms < 0) != (job->round_ms < 0)) ? q - 1 : q;
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
            round_start(s, job, sched_round_at(job, now)); /* missed rounds: never created */
    }
    sched_leases_expire(s, now);
    sched_repair_expire(s, now);
    if (now >= s->slaves_next_ms)
        sched_slaves_expire(s, now); /* (a walk over the slaves: only when one may go) */
    for (int j = 0; j < s->njobs; j++) {
        if (s->jobs[j].ngone)
            sched_drop_tasks(s, &s->jobs[j]);
        sched_rounds_close(s, &s->jobs[j], now);
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
    sched_slave_t *v, *vt;
    HASH_ITER(hh, s->slaves, v, vt)
    {
        sched_slave_forget(s, v); /* (its sticky leases end with it) */
    }
    HASH_ITER(hh, s->leases, l, lt)
    {
        HASH_DEL(s->leases, l);
        free(l->slave);
        free(l);
    }
    sched_heap_free(&s->expiry);
    sched_leases_free(s);
    for (int j = 0; j < s->njobs; j++) {
        HASH_CLEAR(hh, s->jobs[j].by_path);
        HASH_CLEAR(hi, s->jobs[j].by_inst);
        sched_ready_free(&s->jobs[j]);
        sched_carry_free(&s->jobs[j]);
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
    sched_leases_init(s);
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

/* A range completed when no round is open (its own closed, complete, and the next
 * one not started): listed in the next round that starts. */
static void carry(sched_job_t *job, const sched_task_t *t, uint64_t start, uint64_t end)
{
    if (!job->carry_pool) {
        job->carry_pool = mem_xpool(NULL);
        job->carry = apr_array_make(job->carry_pool, 8, sizeof(sched_range_t));
    }
    sched_range_t *g = apr_array_push(job->carry);
    g->source = apr_pstrcat(job->carry_pool, t->source, "#", t->instance, NULL);
    g->start = start;
    g->end = end;
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
            carry(job, t, start, end);
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
    /* a read completion starts at the committed offset (checked, or set so by
     * recovery) and offsets only go forward within an instance */
    ABBEY_ASSERT(t->kind != SCHED_READ ||
                 (c->start >= 0 && c->end >= c->start && (uint64_t)c->start == t->offset));
    if (t->kind == SCHED_EXPAND)
        sched_expand_apply(s, job, t, c);
    else
        complete_read(job, t, r, c);
    if (t->kind == SCHED_EXPAND || c->at_end > 0)
        sched_task_done(job, t, round);
    record_counters(s, t, c);
    s->n_completed++;
    if (job->ngone)
        sched_drop_tasks(s, job); /* this task, if it left the config */
    sched_rounds_close(s, job, now_ms);
    if (s->ngone)
        sched_drop_jobs(s); /* job may be freed here */
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
