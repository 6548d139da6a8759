/* sched_int.h - the scheduler's internal state, shared by sched.c (tasks, leases,
 * rounds), sched_config.c (adopting a reloaded config), sched_status.c (status
 * JSON, metrics), sched_http.c (handlers), sched_recover.c (journal records,
 * recovery), sched_ckpt.c (checkpoints), sched_slaves.c (the slaves it knows)
 * and sched_ident.c (the files of globs, one reader each).
 *
 * Everything below is guarded by sched_t.lock. Memory: tasks and their strings
 * live in sched_t.pool (a task dropped after a reload leaves the job's arrays,
 * its memory stays in the pool, so lease answers' strings stay valid); each round has its own
 * subpool, destroyed when the round leaves the kept window and no
 * callback is still using it; leases, slaves and glob files (sched_ident_t)
 * are malloc'd and freed when they end (the pool's cleanup frees what is
 * left). A glob's dropped read task goes to a free list and is used again
 * for the next such task: strings a lease answer points at (a task's
 * source, a file's path) are interned (sched_intern), never freed. */
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
struct sched_ident_t;

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
    UT_hash_handle hh;                 /* job->by_path (read tasks only, but a glob's) */
    int ndeliv;                        /* deliv's length (the config's masters then) */
    /* a glob's read task (sched_ident.c): one file, whatever its name becomes */
    int ident;                      /* its instance "dev:inode:n" (n: job->ident_seq) never moves */
    struct sched_ident_t *file;     /* the file it reads: its own, or a copy that continues it
                                       (an archive); NULL once that file is forgotten */
    int finished;                   /* file is an archive read to its end */
    int paused;                     /* neither due nor leased: finished, or file not listed */
    UT_hash_handle hi;              /* job->by_inst */
    struct sched_task_t *next_free; /* s->free_tasks */
    /* an expand task: the files its expansions listed (sched_ident.c) */
    struct sched_ident_t *files_head, *files_tail; /* least recently listed first */
    uint64_t stamp;                                /* expansions with files applied so far */
} sched_task_t;

/* A file's identity, and its head's fingerprint (hash keys: no padding). */
typedef struct sched_fkey_t {
    uint64_t dev, ino;
} sched_fkey_t;
typedef struct sched_head_t {
    uint64_t len, hash;
} sched_head_t;

/* A file a glob listed (sched_ident.c): its identity and head fingerprint,
 * where it was last listed and who reads it. */
typedef struct sched_ident_t {
    sched_fkey_t key;   /* job->idents (unless detached) */
    char id[48];        /* key as "dev:inode" (lease answers' file_id) */
    sched_head_t head;  /* its fingerprint (len 0: none); in job->by_head while a task
                           reads it (indexed) */
    int has_head;       /* head is known */
    int archive;        /* read as a stream (its listed name says: .gz, .zst) */
    uint64_t size;      /* as last listed (an archive: compressed) */
    const char *path;   /* where last listed (wire form, interned) */
    sched_task_t *glob; /* the expand task that lists it */
    sched_task_t *task; /* the task that reads it (task->file == this), or NULL */
    uint64_t stamp;     /* glob->stamp when last listed */
    int absent;         /* not listed by its glob's last expansion */
    int detached;       /* left job->idents: its dev:inode names another file now */
    int indexed;        /* in job->by_head (through a chain) */
    struct sched_ident_t *prev, *next; /* the glob's list, by stamp */
    struct sched_ident_t *same_head;   /* the next indexed file with the same head */
    UT_hash_handle hh, hf;             /* job->idents, job->by_head */
} sched_ident_t;

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
    int cap_logged;         /* SCHED_MAX_TASKS reached (logged once) */
    sched_ident_t *idents;  /* files globs listed, by dev:inode (sched_ident.c) */
    sched_ident_t *by_head; /* files read by a task, by head fingerprint (one per chain) */
    sched_task_t *by_inst;  /* glob read tasks by instance */
    uint64_t ident_seq;     /* the last number given to a glob read task's instance */
    int nidents;            /* files known (attached or not) */
    int gone;  /* not in the config any more: dropped once it has no task and no open round */
    int ngone; /* its tasks with gone set */
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
typedef struct sched_name_t sched_name_t;     /* sched_ident.c: interned strings */

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
    sched_name_t *names;                     /* interned strings (sched_intern) */
    sched_task_t *free_tasks;                /* dropped glob read tasks, to use again */
    int replaying;                           /* sched_recover is replaying the journal */
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

/* With the lock held: append a task of source (kept as given: it must live
 * as long as the scheduler) to job, in no index; one from the free list when
 * there is one. Cannot fail. */
sched_task_t *sched_task_alloc(sched_t *s, sched_job_t *job, sched_kind_t kind, const char *source,
                               const char *const *labels, int nlabels);

/* With the lock held: pause (paused 1) or resume task t: a paused task is
 * neither leased nor due in rounds started from now on, and counts as done
 * in the open rounds it was due for. */
void sched_task_pause(sched_job_t *job, sched_task_t *t, int paused);

/* The read task of job that reads source's instance: a glob's (by instance)
 * or the path's; NULL when none. */
sched_task_t *sched_read_task(sched_job_t *job, const char *source, const char *instance);

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
 * offset, instance and size (read) or apply the expansion (sched_expand_apply),
 * mark the task done in that round when finished, add the counters, then drop
 * what left the config and close the rounds it completes. t must hold no lease (end it first).
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

/* sched_config.c, with the lock held: mark t gone (it leaves the job once it
 * holds no lease). */
void sched_task_leave(sched_t *s, sched_job_t *job, sched_task_t *t);

/* ---- the files of globs: sched_ident.c (docs/CLUSTER.md "Globs over a
 * rotating series"), all with the lock held ---- */

/* A copy of str that lives as long as s (one per distinct string). */
const char *sched_intern(sched_t *s, const char *str);

/* Apply glob's expansion c: with c->files, touch the files known, give each
 * new one a task (or let a new archive continue a plain file gone from the
 * listing whose head it begins with, or leave it when it is a copy of one
 * listed), pause the tasks of files not listed, forget files not listed for
 * SCHED_IDENT_GRACE expansions (their tasks leave the job); without (an
 * older slave), add a task per path not seen before. Nothing when glob is
 * gone. */
void sched_expand_apply(sched_t *s, sched_job_t *job, sched_task_t *glob,
                        const sched_completion_t *c);

/* After a read completion c of glob read task t was committed: an archive
 * read to its end finishes t (paused). */
void sched_ident_read(sched_job_t *job, sched_task_t *t, const sched_completion_t *c);

/* The lease fields of glob read task t: its file's path and "dev:inode". */
void sched_ident_lease(const sched_task_t *t, sched_lease_t *out);

/* Forget glob's files (it leaves the job, or the job is reset); their tasks
 * lose their file. */
void sched_ident_forget(sched_job_t *job, sched_task_t *glob);

/* Glob read task t leaves the job (dropped): out of by_inst, its file loses
 * its reader, t goes to the free list. */
void sched_ident_drop(sched_t *s, sched_job_t *job, sched_task_t *t);

/* Free every file of every job and forget interned strings (the pool's cleanup). */
void sched_ident_free_all(sched_t *s);

/* "files" of a completion: parse the array (npaths items) with rd into
 * *out (in pool), or write c's as JSON (NULL when a string cannot be put in
 * JSON). An item: {"id": "dev:inode", "size", "head", "hash"} or {"error"}. */
void sched_files_parse(jsonio_rd_t *rd, const json_t *arr, int npaths, apr_pool_t *pool,
                       const sched_file_t **out);
json_t *sched_files_json(const sched_completion_t *c);

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

/* sched_ident.c: job's glob files as checkpoint JSON, each glob's in its
 * list's order (NULL items when a path cannot be put in JSON: *bad set);
 * and restoring them (after the job's tasks; x->rd fails on a bad item). */
json_t *sched_ident_ckpt(const sched_job_t *job, int *bad);
void sched_ident_restore(sched_rx_t *x, sched_job_t *job, const json_t *arr);

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
