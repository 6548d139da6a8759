/* sched_slaves.c - the slaves the primary knows: their names, labels, when each
 * was last heard of and its spool backlog (their sticky leases: sched_sticky.c); forgetting the
 * ones not heard of (SCHED_SLAVE_FORGET_MS, scheduler.h) and the least recent past
 * SCHED_SLAVES_MAX, so made-up names cannot grow the primary's state. All with
 * the scheduler's lock held (sched_int.h). */
#include "sched_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

static void free_labels(sched_slave_t *v)
{
    for (int i = 0; i < v->nlabels; i++)
        free(v->labels[i]);
    free(v->labels);
    v->labels = NULL;
    v->nlabels = 0;
}

void sched_slave_forget(sched_t *s, sched_slave_t *v)
{
    sched_sticky_release_all(s, v); /* (none left once its leases expired) */
    if (v->sticky)
        s->weight_gen++;
    HASH_DEL(s->slaves, v);
    free_labels(v);
    free(v->byq);
    free(v->name);
    free(v);
}

void sched_slaves_expire(sched_t *s, int64_t now)
{
    sched_slave_t *v, *vt;
    s->slaves_next_ms = INT64_MAX;
    HASH_ITER(hh, s->slaves, v, vt)
    {
        int backlog = v->has_spool && v->spool_frames > 0;
        int64_t at =
            v->last_seen_ms + (backlog ? SCHED_SLAVE_BACKLOG_FORGET_MS : SCHED_SLAVE_FORGET_MS);
        if (now >= at)
            sched_slave_forget(s, v);
        else if (at < s->slaves_next_ms)
            s->slaves_next_ms = at; /* (hearing of a slave only puts its time later) */
    }
}

void sched_slaves_soonest(sched_t *s, int64_t at)
{
    if (at < s->slaves_next_ms)
        s->slaves_next_ms = at;
}

/* At SCHED_SLAVES_MAX: forget the slave heard of least recently (one that
 * holds no sticky lease, when there is one). */
static void make_room(sched_t *s)
{
    sched_slave_t *v, *vt, *old = NULL;
    if (HASH_COUNT(s->slaves) < SCHED_SLAVES_MAX)
        return;
    HASH_ITER(hh, s->slaves, v, vt)
    {
        if (!old || (!v->held && old->held) ||
            (!v->held == !old->held && v->last_seen_ms < old->last_seen_ms))
            old = v;
    }
    log_msg("%d slaves known: slave %s (last heard of at %" PRId64 " ms) forgotten for a new one",
            SCHED_SLAVES_MAX, old->name, old->last_seen_ms);
    sched_slave_forget(s, old);
}

sched_slave_t *sched_slave_touch(sched_t *s, const char *name, int64_t now)
{
    sched_slave_t *v = NULL;
    HASH_FIND_STR(s->slaves, name, v);
    if (!v) {
        make_room(s);
        v = mem_xmalloc(sizeof(*v));
        memset(v, 0, sizeof(*v));
        v->name = mem_xstrdup(name);
        HASH_ADD_KEYPTR(hh, s->slaves, v->name, strlen(v->name), v);
        sched_slaves_soonest(s, now + SCHED_SLAVE_FORGET_MS);
    }
    if (now > v->last_seen_ms)
        v->last_seen_ms = now;
    return v;
}

void sched_slave_set_labels(sched_t *s, sched_slave_t *v, const char *const *labels, int n)
{
    int same = n == v->nlabels;
    for (int i = 0; same && i < n; i++)
        same = strcmp(labels[i], v->labels[i]) == 0;
    if (same)
        return;
    free_labels(v);
    v->labels = mem_xmalloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++)
        v->labels[i] = mem_xstrdup(labels[i]);
    v->nlabels = n;
    if (v->sticky) {
        s->weight_gen++;
        sched_sticky_misfit(s, v); /* what its labels no longer cover goes back */
    }
}

int sched_labels_fit(const sched_task_t *t, const char *const *have, int nhave)
{
    return sched_labels_cover(t->labels, t->nlabels, have, nhave);
}
