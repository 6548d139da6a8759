/* sched_ready.c - the ready queues: which tasks a lease may be granted for, without a pass
 * over the tasks (the scheduler's internals: sched_int.h).
 *
 * Each job keeps one queue per label set its tasks need; a queue holds its
 * ready tasks (active: not gone, not paused; held by no lease) in a heap,
 * least first by due round (done_seq + 1: the oldest round the task owes),
 * then least recently leased, then age (task number order, which drops keep). sched_task_sync is
 * the one place a task's standing is brought in line with its fields (whether it counts in the
 * rounds and the shares, its queue, its place in the heap): every change of gone, paused, lease,
 * done_seq, last_leased_ms or labels is followed by it, in O(log n). A grant looks at the top of
 * each queue whose labels the slave has (sched_ready_pick): O(queues + log n) for each lease,
 * whatever the number of tasks. */
#include "sched_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "mem.h"

int64_t sched_task_due(const sched_task_t *t)
{
    return t->done_seq + 1;
}

int sched_labels_cover(const char *const *need, int nneed, const char *const *have, int nhave)
{
    for (int i = 0; i < nneed; i++) {
        int found = 0;
        for (int k = 0; k < nhave && !found; k++)
            found = strcmp(need[i], have[k]) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

/* The same set of labels (in any order). */
static int labels_same(const char *const *a, int na, const char *const *b, int nb)
{
    return sched_labels_cover(a, na, b, nb) && sched_labels_cover(b, nb, a, na);
}

/* The queue of job for t's labels, made when new. */
static sched_queue_t *queue_for(sched_job_t *job, const sched_task_t *t)
{
    for (int i = 0; i < job->nqueues; i++)
        if (labels_same(job->queues[i]->labels, job->queues[i]->nlabels, t->labels, t->nlabels))
            return job->queues[i];
    sched_queue_t *q = mem_xcalloc(1, sizeof *q);
    q->job = job->index;
    q->labels = t->labels;
    q->nlabels = t->nlabels;
    q->weight_gen = UINT64_MAX;                                    /* never computed */
    sched_heap_init(&q->ready, offsetof(sched_task_t, ready_pos)); /* (see sched_task_sync) */
    job->queues = mem_xrealloc(job->queues, sizeof(*job->queues) * (size_t)(job->nqueues + 1));
    job->queues[job->nqueues++] = q;
    return q;
}

void sched_task_sync(sched_job_t *job, sched_task_t *t)
{
    int counted = t->id >= 0 && !t->paused && (!t->gone || t->lease);
    sched_queue_t *q = t->queue;
    if (t->id >= 0 &&
        (!q || !labels_same(q->labels, q->nlabels, t->labels, t->nlabels))) { /* (re)labelled */
        if (q) {
            sched_heap_remove(&q->ready, t);
            q->ntasks -= t->counted;
        }
        q = t->queue = queue_for(job, t);
        q->ntasks += t->counted;
    }
    if (counted != t->counted) {
        /* a task that stops counting is as done in the open rounds it was due for;
         * one that starts counting (done_seq set first by the caller) owes them */
        sched_rounds_count(job, t, counted ? 1 : -1);
        job->nactive += counted ? 1 : -1;
        if (q)
            q->ntasks += counted ? 1 : -1;
        t->counted = counted;
    }
    if (!q)
        return;
    if (counted && !t->lease && !t->gone) /* ready: by due round, last lease, age */
        sched_heap_set(&q->ready, t, sched_task_due(t), t->last_leased_ms, (int64_t)t->age);
    else
        sched_heap_remove(&q->ready, t);
}

/* The pick's order: the round a lease would be for, then least recently leased, then job
 * and task number (as the order before the queues). */
typedef struct cand_t {
    sched_job_t *job;
    sched_queue_t *queue;
    sched_task_t *task;
    int64_t round;
} cand_t;

static int cand_better(const cand_t *a, const cand_t *b)
{
    if (!b->task)
        return 1;
    if (a->round != b->round)
        return a->round < b->round;
    if (a->task->last_leased_ms != b->task->last_leased_ms)
        return a->task->last_leased_ms < b->task->last_leased_ms;
    if (a->job->index != b->job->index)
        return a->job->index < b->job->index;
    return a->task->age < b->task->age;
}

sched_task_t *sched_ready_pick(sched_t *s, sched_slave_t *v, const char *const *labels, int nlabels,
                               int64_t now, sched_job_t **jobp, int64_t *round)
{
    cand_t best = {0};
    for (int j = 0; j < s->njobs; j++) {
        sched_job_t *job = &s->jobs[j];
        if (job->gone)
            continue;
        for (int i = 0; i < job->nqueues; i++) {
            sched_queue_t *q = job->queues[i];
            sched_task_t *t = sched_heap_top(&q->ready);
            if (!t || !sched_labels_cover(q->labels, q->nlabels, labels, nlabels))
                continue;
            int64_t due = sched_task_due(t);
            int open = job->open && due <= job->round_seq;
            /* a one-shot lease is for a round the task owes; a sticky one takes the
             * task to hold (due ones first), within the slave's share */
            if (v ? sched_share_room(s, v, q, now) <= 0 : !open)
                continue;
            sched_rnd_t *r = !open                   ? NULL
                             : due <= job->open->seq ? job->open
                                                     : sched_round_by_seq(job, due);
            cand_t c = {job, q, t, r ? r->pub.round : INT64_MAX}; /* (open rounds: seq in a row) */
            if (cand_better(&c, &best))
                best = c;
        }
    }
    if (!best.task)
        return NULL;
    *jobp = best.job;
    *round = best.round;
    return best.task;
}

void sched_ready_reindex(sched_job_t *job)
{
    for (int i = 0; i < job->nqueues; i++)
        job->queues[i]->job = job->index;
}

void sched_ready_free(sched_job_t *job)
{
    for (int i = 0; i < job->nqueues; i++) {
        sched_heap_free(&job->queues[i]->ready);
        free(job->queues[i]);
    }
    free(job->queues);
    job->queues = NULL;
    job->nqueues = 0;
}
