/* sched_lease.c - the scheduler's leases: granting one-shot leases from the ready queues,
 * renewing, expiring, and checking and committing completions (see scheduler.h; the
 * internals in sched_int.h).
 *
 * A lease record is in sched_t.leases (uthash, for walks), in an index by id
 * (open addressing with the id beside its record: a report's lookups read one
 * slot and one record each) and in the expiry heap (soonest
 * first), so expiring costs O(log n) per lease that expires, never a pass over
 * all of them. A renewal only moves the lease's expiry: the heap keeps the key
 * it was placed by, and a lease whose key comes due but was renewed meanwhile
 * is placed again (once per lease lifetime, however often it is renewed). A one-shot lease (the
 * protocol of older slaves) ends with its completion; a sticky one (sched_sticky.c) stays with its
 * slave until it is released, taken back or expires. Either way the task leaves its ready queue
 * while leased and comes back when the lease ends (sched_task_sync). */
#include "sched_int.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "journal.h"
#include "log.h"
#include "mem.h"

/* ---- the index by id ---- */

#define ID_EMPTY 0         /* (lease ids start at 1) */
#define ID_GONE UINT64_MAX /* a removed lease's slot: probes go on past it */

typedef struct sched_idslot_t {
    uint64_t id;
    sched_lrec_t *l;
} sched_idslot_t;

static size_t id_hash(uint64_t id, size_t cap)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static void id_put(sched_idslot_t *slots, size_t cap, sched_lrec_t *l)
{
    size_t i = id_hash(l->id, cap);
    while (slots[i].id != ID_EMPTY && slots[i].id != ID_GONE)
        i = (i + 1) & (cap - 1);
    slots[i] = (sched_idslot_t){l->id, l};
}

/* Room for one more (at most half full, tombstones counted): rebuilt twice as big
 * as the live leases need. */
static void id_room(sched_t *s)
{
    if ((s->byid_used + 1) * 2 <= s->byid_cap)
        return;
    size_t live = HASH_COUNT(s->leases), cap = 64;
    while (cap < (live + 1) * 4)
        cap *= 2;
    sched_idslot_t *slots = mem_xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < s->byid_cap; i++)
        if (s->byid[i].id != ID_EMPTY && s->byid[i].id != ID_GONE)
            id_put(slots, cap, s->byid[i].l);
    free(s->byid);
    s->byid = slots;
    s->byid_cap = cap;
    s->byid_used = live;
}

static sched_idslot_t *id_slot(sched_t *s, uint64_t id)
{
    if (!s->byid_cap || id == ID_EMPTY || id == ID_GONE)
        return NULL;
    for (size_t i = id_hash(id, s->byid_cap);; i = (i + 1) & (s->byid_cap - 1)) {
        if (s->byid[i].id == id)
            return &s->byid[i];
        if (s->byid[i].id == ID_EMPTY)
            return NULL;
    }
}

void sched_leases_free(sched_t *s)
{
    free(s->byid);
    s->byid = NULL;
    s->byid_cap = s->byid_used = 0;
}

void sched_leases_init(sched_t *s)
{
    sched_heap_init(&s->expiry, offsetof(sched_lrec_t, exp_pos)); /* by (exp_key, id) */
}

sched_lrec_t *sched_lease_find(sched_t *s, uint64_t id)
{
    sched_idslot_t *slot = id_slot(s, id);
    return slot ? slot->l : NULL;
}

sched_lrec_t *sched_lease_grant(sched_t *s, sched_job_t *job, sched_task_t *t, int64_t round,
                                const char *slave, int64_t now, sched_lease_t *out)
{
    sched_lrec_t *l = mem_xcalloc(1, sizeof(*l));
    ABBEY_ASSERT(!t->lease && !t->gone); /* at most one lease per task */
    l->id = s->next_lease++;
    l->slave = mem_xstrdup(slave);
    l->job = job;
    l->task = t;
    l->round = round;
    l->start = t->kind == SCHED_READ ? t->offset : 0;
    l->expires_ms = l->exp_key = now + s->opts.lease_ms;
    l->exp_pos = -1;
    HASH_ADD(hh, s->leases, id, sizeof(l->id), l);
    id_room(s);
    id_put(s->byid, s->byid_cap, l);
    s->byid_used++;
    sched_heap_set(&s->expiry, l, l->exp_key, (int64_t)l->id, 0);
    t->lease = l;
    t->last_leased_ms = now;
    sched_task_sync(job, t); /* out of its ready queue */
    s->n_granted++;

    memset(out, 0, sizeof *out);
    out->id = l->id;
    out->job = job->cfg->name;
    out->kind = t->kind;
    out->task = t->id;
    out->source = t->source;
    memcpy(out->instance, t->instance, sizeof(out->instance));
    out->start = l->start;
    out->cap = s->opts.lease_bytes;
    out->round = l->round;
    out->expires_ms = l->expires_ms;
    if (t->ident)
        sched_ident_lease(t, out);
    return l;
}

void sched_lease_end(sched_t *s, sched_lrec_t *l)
{
    sched_task_t *t = l->task;
    ABBEY_ASSERT(t->lease == l); /* one lease per task, and it is this one */
    if (l->sticky)
        sched_sticky_unlink(s, l);
    HASH_DEL(s->leases, l);
    *id_slot(s, l->id) = (sched_idslot_t){ID_GONE, NULL};
    sched_heap_remove(&s->expiry, l);
    t->lease = NULL;
    sched_task_sync(l->job, t); /* back in its ready queue, or (gone) no longer counted */
    free(l->slave);
    free(l);
}

void sched_lease_renew(sched_t *s, sched_lrec_t *l, int64_t now)
{
    if (l->release)
        return;                             /* asked back: released by its slave, or it expires */
    l->expires_ms = now + s->opts.lease_ms; /* (later than exp_key: placed again when due) */
}

void sched_leases_expire(sched_t *s, int64_t now)
{
    sched_lrec_t *l;
    while ((l = sched_heap_top(&s->expiry)) != NULL && now >= l->exp_key) {
        if (now < l->expires_ms) { /* renewed since it was placed */
            l->exp_key = l->expires_ms;
            sched_heap_set(&s->expiry, l, l->exp_key, (int64_t)l->id, 0);
            continue;
        }
        if (l->sticky && !s->replaying)
            log_msg("lease %" PRIu64 " of %s (%s %s#%s, sticky) expired: %s for %" PRId64
                    " ms; the task is leased again from offset %" PRIu64,
                    l->id, l->slave, l->job->cfg->name, l->task->source, l->task->instance,
                    l->release ? "asked back and not released" : "not renewed", s->opts.lease_ms,
                    l->task->offset);
        sched_lease_end(s, l);
        s->n_expired++;
    }
}

int sched_lease(sched_t *s, const char *slave, const char *const *labels, int nlabels, int max,
                int64_t now_ms, sched_lease_t *out)
{
    int n = 0;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    sched_slave_set_labels(s, sched_slave_touch(s, slave, now_ms), labels, nlabels);
    if (max > 0)
        n = sched_repair_grant(s, slave, labels, nlabels, max, now_ms, out);
    while (n < max) {
        sched_job_t *job;
        int64_t round;
        sched_task_t *t = sched_ready_pick(s, NULL, labels, nlabels, now_ms, &job, &round);
        if (!t)
            break;
        sched_lease_grant(s, job, t, round, slave, now_ms, &out[n++]);
    }
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);
    return n;
}

apr_status_t sched_renew(sched_t *s, const char *slave, uint64_t lease, int64_t now_ms,
                         int64_t *expires_ms)
{
    apr_status_t rv = APR_NOTFOUND;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    sched_slave_touch(s, slave, now_ms);
    if (sched_renew_one(s, slave, lease, now_ms, expires_ms) == 0)
        rv = APR_SUCCESS;
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);
    return rv;
}

int sched_renew_one(sched_t *s, const char *slave, uint64_t id, int64_t now_ms, int64_t *expires_ms)
{
    sched_lrec_t *l = sched_lease_find(s, id);
    if (l && strcmp(l->slave, slave) == 0) {
        sched_lease_renew(s, l, now_ms);
        if (expires_ms)
            *expires_ms = l->expires_ms;
        s->n_renewed++;
        return 0;
    }
    return !l ? sched_repair_renew(s, slave, id, now_ms, expires_ms) : -1;
}

/* ---- completions ---- */

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

apr_status_t sched_complete_one(sched_t *s, const sched_completion_t *c, int64_t now_ms,
                                uint64_t *ticket, abbey_err_t *err)
{
    sched_lrec_t *l = sched_lease_find(s, c->lease);
    apr_status_t rv;
    *ticket = 0;
    if (c->repair)
        return sched_repair_complete(s, c, err); /* not journaled: masters ask again */
    if (!l || strcmp(l->slave, c->slave) != 0) {
        abbey_err_set(err, "lease %" PRIu64 " is not yours (expired?)", c->lease);
        return APR_EINVAL;
    }
    if (l->sticky && !c->has_round) {
        abbey_err_set(err, "field 'round' missing (lease %" PRIu64 " is sticky)", c->lease);
        return APR_BADARG;
    }
    sched_task_t *t = l->task;
    sched_job_t *job = l->job;
    /* a sticky lease's check names its round; a one-shot lease is for its own */
    int64_t round = l->sticky ? c->round : l->round;
    if ((rv = complete_check(l, c, err)) != APR_SUCCESS) {
        if (rv == APR_EINVAL && l->sticky)
            sched_lease_end(s, l); /* its holder is out of step: read again from the offset */
        return rv;
    }
    if (s->jn &&
        (rv = sched_journal_completion(s, l, round, c, now_ms, ticket, err)) != APR_SUCCESS) {
        if (c->size >= 0 && !(c->next_instance && c->next_instance[0]))
            t->size = c->size; /* not committed, but the lag it shows is real */
        return rv;
    }
    /* journaled (when a journal is attached): now apply it */
    if (c->error && !t->error_logged) /* e.g. a FIFO: once, until it reads again */
        log_msg("job %s: %s: slave %s could not read it: %s (logged again only after a "
                "read without error)",
                job->cfg->name, t->source, c->slave, c->error);
    t->error_logged = c->error != NULL;
    if (l->sticky)
        sched_lease_renew(s, l, now_ms); /* its holder is alive */
    else
        sched_lease_end(s, l);
    sched_complete_apply(s, job, t, round, c, now_ms);
    return APR_SUCCESS;
}

apr_status_t sched_complete(sched_t *s, const sched_completion_t *c, int64_t now_ms,
                            abbey_err_t *err)
{
    uint64_t ticket = 0;
    journal_t *jn;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    sched_slave_touch(s, c->slave, now_ms);
    apr_status_t rv = sched_complete_one(s, c, now_ms, &ticket, err);
    jn = s->jn;
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
