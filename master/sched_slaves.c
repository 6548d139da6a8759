/* sched_slaves.c - the slaves the primary knows: their names, labels, when each
 * was last heard of and its spool backlog; forgetting the ones not heard of
 * (SCHED_SLAVE_FORGET_MS, scheduler.h) and the least recent past
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
    HASH_DEL(s->slaves, v);
    free_labels(v);
    free(v->name);
    free(v);
}

void sched_slaves_expire(sched_t *s, int64_t now)
{
    sched_slave_t *v, *vt;
    HASH_ITER(hh, s->slaves, v, vt)
    {
        int backlog = v->has_spool && v->spool_frames > 0;
        if (now - v->last_seen_ms >=
            (backlog ? SCHED_SLAVE_BACKLOG_FORGET_MS : SCHED_SLAVE_FORGET_MS))
            sched_slave_forget(s, v);
    }
}

/* At SCHED_SLAVES_MAX: forget the slave heard of least recently. */
static void make_room(sched_t *s)
{
    sched_slave_t *v, *vt, *old = NULL;
    if (HASH_COUNT(s->slaves) < SCHED_SLAVES_MAX)
        return;
    HASH_ITER(hh, s->slaves, v, vt)
    {
        if (!old || v->last_seen_ms < old->last_seen_ms)
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
    }
    if (now > v->last_seen_ms)
        v->last_seen_ms = now;
    return v;
}

void sched_slave_set_labels(sched_slave_t *v, const char *const *labels, int n)
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
}

int sched_labels_fit(const sched_task_t *t, const char *const *have, int nhave)
{
    for (int i = 0; i < t->nlabels; i++) {
        int found = 0;
        for (int k = 0; k < nhave && !found; k++)
            found = strcmp(t->labels[i], have[k]) == 0;
        if (!found)
            return 0;
    }
    return 1;
}
