/* sched_int.h - the scheduler's internal state, shared by sched.c (tasks, leases,
 * rounds), sched_config.c (adopting a reloaded config), sched_status.c (status
 * JSON, metrics), sched_http.c (handlers), sched_recover.c (journal records,
 * recovery), sched_ckpt.c (checkpoints) and sched_slaves.c (the slaves it knows).
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
#include <jansson.h>
#include <apr_thread_mutex.h>
#include <uthash.h>

#include "frame.h"
#include "jsonio.h"
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
    int error_logged;                  /* its last completion's "error" was logged (the next
                                          one is logged only after one without) */
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

struct journal_t;

/* What the last sched_recover did (sched_recover.c; logged, and read by tests). */
typedef struct sched_recovery_stats_t {
    uint64_t checkpoint_seq;               /* the checkpoint loaded, 0: none */
    int tasks, open_rounds, closed_rounds; /* restored from it (jobs still in the config) */
    int jobs_dropped, tasks_dropped;       /* in it, but no longer in the config */
    uint64_t replayed;                     /* completion records applied again */
    uint64_t skipped;                      /* completion records whose job or task is gone */
    uint64_t mismatched;                   /* applied although instance/start differed (logged) */
    uint64_t advances;                     /* round start/close records replayed */
    uint64_t max_lease;                    /* the highest lease id the records name */
    uint64_t damaged;                      /* damaged ranges the journal skipped */
    int64_t elapsed_ms;
} sched_recovery_stats_t;

typedef struct sched_pending_t {
    const char *job; /* the job's name (config memory, which outlives the scheduler) */
    sched_rnd_t *round;
} sched_pending_t;

typedef struct sched_repair_t sched_repair_t; /* sched_repair.c */

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
    /* durability (sched_ckpt.c, sched_recover.c) */
    struct journal_t *jn;             /* attached journal, or NULL */
    uint64_t nround_events;           /* rounds started + closed so far (sched_advance compares) */
    int ckpt_due;                     /* rounds closed since the last checkpoint */
    const rules_config_t *ckpt_cfg;   /* the config of the last checkpoint (NULL: none yet) */
    sched_recovery_stats_t recovered; /* the last sched_recover */
    /* gap repair (sched_repair.c) */
    sched_repair_t *repairs, **repairs_tail; /* FIFO: queued and leased repairs */
    int nrepairs;
    uint64_t n_repairs_queued, n_repairs_done, n_repairs_failed;
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

/* A new round numbered number of job, with its own pool (a subpool of s->pool)
 * holding it: pub.round, start_ms and deadline_ms set from the job's round
 * length, no ranges, room for ntasks task states (all SCHED_NOT_DUE, last_range
 * -1), refs 1. Not linked anywhere. Cannot fail. */
sched_rnd_t *sched_round_new(sched_t *s, const sched_job_t *job, int64_t number, int ntasks);

/* Put closed round r in job's kept window (its pub fields final), releasing the
 * oldest kept one when the window is full. */
void sched_round_keep(sched_job_t *job, sched_rnd_t *r);

/* The task of job with this kind and source, or NULL. */
sched_task_t *sched_task_find(sched_job_t *job, sched_kind_t kind, const char *source);

/* With the lock held: apply completion c (already checked, or read back from
 * the journal) to task t of job for round (the lease's round): commit the range,
 * offset, instance and size (read) or add the paths (expand), mark the task
 * done in that round when finished, add the counters, then drop what left the
 * config and close the rounds it completes. t must hold no lease (end it first).
 * The one place a completion changes the state: sched_complete and recovery
 * both come here. job may be freed on return (a gone job). */
void sched_complete_apply(sched_t *s, sched_job_t *job, sched_task_t *t, int64_t round,
                          const sched_completion_t *c, int64_t now_ms);

/* sched_recover.c, with the lock held and s->jn set: append completion c of
 * lease l (checked, not yet applied) to the journal as one record frame.
 * *ticket receives the journal ticket to commit after unlocking. APR_EGENERAL
 * with "journal: <reason>" when it cannot be encoded or appended. */
apr_status_t sched_journal_completion(sched_t *s, const sched_lrec_t *l,
                                      const sched_completion_t *c, int64_t now_ms, uint64_t *ticket,
                                      abbey_err_t *err);

/* sched_recover.c, with the lock held and s->jn set: append an "advance to
 * now_ms" record (sched_advance started or closed rounds). A failure is logged
 * (the store is then failed: the next completion is refused with it). */
void sched_journal_advance(sched_t *s, int64_t now_ms);

/* sched_slaves.c, all with the lock held: the record of slave name (made
 * when new, evicting the least recently heard of past SCHED_SLAVES_MAX), its
 * last_seen_ms raised to now; its labels replaced by labels[0..n); forget
 * one; forget every slave not heard of for its time at now. */
sched_slave_t *sched_slave_touch(sched_t *s, const char *name, int64_t now);
void sched_slave_set_labels(sched_slave_t *v, const char *const *labels, int n);
void sched_slave_forget(sched_t *s, sched_slave_t *v);
void sched_slaves_expire(sched_t *s, int64_t now);
/* 1 when every label of task t is among have. */
int sched_labels_fit(const sched_task_t *t, const char *const *have, int nhave);

/* sched_repair.c, all with the lock held (sched_repair itself takes it):
 * grant up to max queued repairs to slave (labels fit) into out, returns how
 * many; renew one (0, or -1: not this slave's repair lease); complete one (a
 * completion with repair set: APR_EINVAL when the lease is not this slave's
 * repair lease); put expired repair leases back in the queue; the "repairs"
 * object of the status (queued, leased, asked, done, failed); free everything (the pool cleanup).
 */
int sched_repair_grant(sched_t *s, const char *slave, const char *const *labels, int nlabels,
                       int max, int64_t now_ms, sched_lease_t *out);
int sched_repair_renew(sched_t *s, const char *slave, uint64_t id, int64_t now_ms,
                       int64_t *expires_ms);
apr_status_t sched_repair_complete(sched_t *s, const sched_completion_t *c, abbey_err_t *err);
void sched_repair_expire(sched_t *s, int64_t now_ms);
json_t *sched_repair_json(sched_t *s);
void sched_repair_free_all(sched_t *s);

/* sched_config.c, with the lock held and s->ngone > 0: drop the gone tasks that
 * hold no lease (each counts as done in the open rounds due it; later task ids
 * shift down), then (sched_drop_jobs, after the rounds were closed) the gone
 * jobs left with no task and no open round. */
void sched_drop_tasks(sched_t *s, sched_job_t *job);
void sched_drop_jobs(sched_t *s);

/* ---- durability: sched_ckpt.c (the checkpoint) and sched_recover.c (the
 * journal, recovery) ---- */

/* One sched_recover's state, handed to journal_recover's callbacks as ctx. */
typedef struct sched_rx_t {
    sched_t *s;
    abbey_err_t stop; /* why sched_on_checkpoint stopped journal_recover */
    int stopped;
    jsonio_rd_t rd;          /* the record or checkpoint being read */
    apr_pool_t *tmp;         /* cleared per record */
    int ckpt_frames;         /* frames of the checkpoint seen */
    sched_task_t **restored; /* the tasks the checkpoint restored (to count the dropped) */
    size_t nrestored, restored_cap;
    sched_recovery_stats_t st;
} sched_rx_t;

/* sched_recover.c: a state record. sched_encode_record appends a record frame
 * with header h and root's JSON as payload to out, releasing root; APR_EINVAL
 * when root is NULL (a value could not be put in JSON) or cannot be encoded.
 * sched_decode_record returns the JSON object a record frame carries (a new
 * reference; the frame's bytes are copied into pool), or NULL with err. */
apr_status_t sched_encode_record(const frame_header_t *h, json_t *root, buf_t *out,
                                 abbey_err_t *err);
json_t *sched_decode_record(const uint8_t *frame, size_t len, apr_pool_t *pool, abbey_err_t *err);

/* sched_recover.c: a task kind's name in records ("read", "expand"; "other"), and
 * back (-1 for any other name or NULL). */
const char *sched_kind_name(sched_kind_t k);
int sched_kind_parse(const char *name, sched_kind_t *out);

/* sched_ckpt.c, with the lock held: forget job's open and closed rounds (recovery
 * starts from none: the checkpoint's, or the journal's). */
void sched_job_reset_rounds(sched_job_t *job);

/* sched_ckpt.c: journal_recover's ckpt_fn for sched_recover (ctx: its sched_rx_t),
 * taking the lock itself: restore the checkpoint's one frame onto the scheduler and
 * reconcile it with the config (sched_set_config). Returns 1, the reason in
 * x->stop and x->stopped set, when the checkpoint cannot be restored. */
int sched_on_checkpoint(void *ctx, const char *file, uint64_t offset, const uint8_t *frame,
                        size_t len, const frame_header_t *h);

#endif
