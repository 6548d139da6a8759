/* sched_int.h - the scheduler's internal state, shared by sched.c (tasks, leases,
 * rounds), sched_config.c (adopting a reloaded config), sched_status.c (status
 * JSON, metrics) and sched_http.c (handlers).
 *
 * Everything below is guarded by sched_t.lock. Memory: tasks and their strings
 * live in sched_t.pool (a task dropped after a reload leaves the job's arrays,
 * its memory stays in the pool, so lease answers' strings stay valid); each round has its own
 * subpool, destroyed when the round leaves the kept window and no
 * callback is still using it; leases and slaves are malloc'd and freed when
 * they end (the pool's cleanup frees what is left). */
#ifndef ABBEY_SCHED_INT_H
#define ABBEY_SCHED_INT_H

#include <apr_tables.h>
#include <apr_thread_mutex.h>
#include <uthash.h>

#include "scheduler.h"

enum { SCHED_NOT_DUE = 0, SCHED_DUE = 1, SCHED_DONE = 2 };

struct sched_lrec_t;

typedef struct sched_task_t {
    int id; /* index in job->tasks */
    sched_kind_t kind;
    const char *source; /* path / URL / pattern */
    const char *const *labels;
    int nlabels;
    char instance[SCHED_INSTANCE_MAX]; /* current instance, "" until named */
    uint64_t offset;                   /* committed offset in instance */
    int64_t size;                      /* last size a slave reported, -1: unknown */
    struct sched_lrec_t *lease;        /* the active lease, or NULL */
    int64_t last_leased_ms;            /* 0: never */
    uint64_t lines, bad_lines, bytes;  /* totals of its completions */
    const char **deliv;                /* per config master: last delivery result or NULL */
    const char *glob;                  /* read task: pattern of a glob that listed it, or NULL */
    int gone;                          /* not in the config any more: dropped once unleased */
    UT_hash_handle hh;                 /* job->by_path (read tasks only) */
} sched_task_t;

typedef struct sched_rnd_t {
    sched_round_t pub;          /* ranges/missing filled when it closes */
    apr_pool_t *pool;           /* holds this struct and everything below */
    apr_array_header_t *ranges; /* sched_range_t */
    int ntasks;                 /* tasks of the job when it started (less the dropped ones) */
    uint8_t *state;             /* per task < ntasks: SCHED_NOT_DUE / DUE / DONE (a dropped
                                   task's slot is removed, as DONE, and later ids shift) */
    int *last_range;            /* per task: index of its latest range here, -1 */
    int ndue, ndone;
    int refs;                 /* kept window + pending callback */
    struct sched_rnd_t *next; /* open list, oldest first */
} sched_rnd_t;

typedef struct sched_job_t {
    const rules_job_t *cfg;
    int index;
    int64_t round_ms;                       /* the length of rounds started from now on */
    int64_t cur_round;                      /* the newest started round, INT64_MIN before any */
    int64_t next_start_ms;                  /* the next round starts when now reaches this */
    apr_array_header_t *tasks;              /* sched_task_t * */
    sched_task_t *by_path;                  /* read tasks by source (uthash) */
    sched_rnd_t *open;                      /* open rounds, oldest first */
    sched_rnd_t *closed[SCHED_ROUNDS_KEPT]; /* ring: closed[(first + i) % KEPT] */
    int closed_first, nclosed;
    int cap_logged; /* SCHED_MAX_TASKS reached (logged once) */
    int gone;       /* not in the config any more: dropped once it has no task and no open round */
    int ngone;      /* its tasks with gone set */
} sched_job_t;

typedef struct sched_lrec_t {
    uint64_t id;
    char *slave;
    sched_job_t *job;
    sched_task_t *task;
    int64_t round;
    uint64_t start;
    int64_t expires_ms;
    UT_hash_handle hh; /* sched_t.leases by id */
} sched_lrec_t;

typedef struct sched_slave_t {
    char *name;
    char **labels;
    int nlabels;
    int64_t last_seen_ms;
    int has_spool; /* the last lease request carried "spool" (below) */
    int64_t spool_frames, spool_bytes, spool_oldest_ms;
    UT_hash_handle hh; /* sched_t.slaves by name */
} sched_slave_t;

typedef struct sched_pending_t {
    const char *job; /* the job's name (config memory, which outlives the scheduler) */
    sched_rnd_t *round;
} sched_pending_t;

struct sched_t {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    const rules_config_t *cfg;
    sched_opts_t opts;
    int njobs, jobs_cap;
    sched_job_t *jobs; /* moves when jobs are added or dropped (sched_config.c) */
    int ngone;         /* gone tasks and jobs not dropped yet (0: nothing to sweep) */
    uint64_t next_lease;
    sched_lrec_t *leases;
    sched_slave_t *slaves;
    uint64_t n_granted, n_completed, n_expired, n_renewed;
    sched_round_fn on_closed;
    void *on_closed_ctx;
    char announced[17];       /* config hash named in lease answers (sched_announce_config) */
    sched_pending_t *pending; /* closed rounds waiting for the callback (FIFO) */
    int npending, pending_head, pending_cap;
    int notifying; /* a thread is delivering pending rounds */
};

/* With the lock held: start due rounds, expire leases, close rounds (queued
 * for the callback). */
void sched_advance(sched_t *s, int64_t now_ms);

/* Without the lock: deliver queued closed rounds to the callback, in order. */
void sched_notify(sched_t *s);

/* The job named name, or NULL. With the lock held (the job list changes on reload). */
sched_job_t *sched_job_find(sched_t *s, const char *name);

/* With the lock held: set up job (zeroed memory) for rj with one task per source. */
void sched_job_init(sched_t *s, sched_job_t *job, const rules_job_t *rj, int index);

/* With the lock held: append a task to job (a read task goes into by_path). */
sched_task_t *sched_task_add(sched_t *s, sched_job_t *job, sched_kind_t kind, const char *source,
                             const char *const *labels, int nlabels);

/* Drop one reference to a round (its pool goes with the last). */
void sched_round_unref(sched_rnd_t *r);

/* sched_config.c, with the lock held and s->ngone > 0: drop the gone tasks that
 * hold no lease (each counts as done in the open rounds due it; later task ids
 * shift down), then (sched_drop_jobs, after the rounds were closed) the gone
 * jobs left with no task and no open round. */
void sched_drop_tasks(sched_t *s, sched_job_t *job);
void sched_drop_jobs(sched_t *s);

#endif
