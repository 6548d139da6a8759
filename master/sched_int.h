/* sched_int.h - the scheduler's internal state, shared by sched.c (tasks, leases,
 * rounds), sched_status.c (status JSON, metrics) and sched_http.c (handlers).
 *
 * Everything below is guarded by sched_t.lock. Memory: tasks and their strings
 * live in sched_t.pool (tasks are never removed); each round has its own
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
    UT_hash_handle hh;                 /* job->by_path (read tasks only) */
} sched_task_t;

typedef struct sched_rnd_t {
    sched_round_t pub;          /* ranges/missing filled when it closes */
    apr_pool_t *pool;           /* holds this struct and everything below */
    apr_array_header_t *ranges; /* sched_range_t */
    int ntasks;                 /* tasks of the job when it started */
    uint8_t *state;             /* per task < ntasks: SCHED_NOT_DUE / DUE / DONE */
    int *last_range;            /* per task: index of its latest range here, -1 */
    int ndue, ndone;
    int refs;                 /* kept window + pending callback */
    struct sched_rnd_t *next; /* open list, oldest first */
} sched_rnd_t;

typedef struct sched_job_t {
    const rules_job_t *cfg;
    int index;
    int64_t round_ms;
    int64_t cur_round;                      /* the newest started round, INT64_MIN before any */
    apr_array_header_t *tasks;              /* sched_task_t * */
    sched_task_t *by_path;                  /* read tasks by source (uthash) */
    sched_rnd_t *open;                      /* open rounds, oldest first */
    sched_rnd_t *closed[SCHED_ROUNDS_KEPT]; /* ring: closed[(first + i) % KEPT] */
    int closed_first, nclosed;
    int cap_logged; /* SCHED_MAX_TASKS reached (logged once) */
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
    UT_hash_handle hh; /* sched_t.slaves by name */
} sched_slave_t;

typedef struct sched_pending_t {
    sched_job_t *job;
    sched_rnd_t *round;
} sched_pending_t;

struct sched_t {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    const rules_config_t *cfg;
    sched_opts_t opts;
    int njobs;
    sched_job_t *jobs;
    uint64_t next_lease;
    sched_lrec_t *leases;
    sched_slave_t *slaves;
    uint64_t n_granted, n_completed, n_expired, n_renewed;
    sched_round_fn on_closed;
    void *on_closed_ctx;
    char announced[17];          /* config hash named in lease answers (sched_announce_config) */
    sched_pending_t *pending; /* closed rounds waiting for the callback (FIFO) */
    int npending, pending_head, pending_cap;
    int notifying; /* a thread is delivering pending rounds */
};

/* With the lock held: start due rounds, expire leases, close rounds (queued
 * for the callback). */
void sched_advance(sched_t *s, int64_t now_ms);

/* Without the lock: deliver queued closed rounds to the callback, in order. */
void sched_notify(sched_t *s);

/* The job named name, or NULL (no lock needed: the job list is fixed). */
sched_job_t *sched_job_find(sched_t *s, const char *name);

#endif
