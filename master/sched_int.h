/* sched_int.h - the scheduler's internal state, shared by sched.c (tasks, rounds),
 * sched_lease.c (granting, renewing, expiring and completing leases), sched_ready.c (the
 * ready queues), sched_sticky.c (sticky leases: idle reports, shares, releases),
 * sched_config.c (adopting a reloaded config), sched_status.c (status JSON, metrics),
 * sched_http.c and sched_http_batch.c (handlers), sched_recover.c (journal records,
 * recovery), sched_ckpt.c (checkpoints), sched_slaves.c (the slaves it knows),
 * sched_ident.c (the files of globs, one reader each) and sched_upload.c (listings
 * sent in parts; its own lock).
 *
 * Everything below is guarded by sched_t.lock. Memory: tasks and their strings
 * live in sched_t.pool (a task dropped after a reload leaves the job's arrays,
 * its memory stays in the pool, so lease answers' strings stay valid); each round has its own
 * subpool, destroyed when the round leaves the kept window and no
 * callback is still using it; leases, slaves, ready queues and glob files (sched_ident_t)
 * are malloc'd and freed when they end (the pool's cleanup frees what is
 * left). A glob's dropped read task goes to a free list and is used again
 * for the next such task: strings a lease answer points at (a task's
 * source, a file's path) are interned (sched_intern), never freed.
 *
 * Due-ness is derived, never stored per round: each round a job starts gets
 * the next sequence number (seq: 1, 2, ...; round numbers themselves restart
 * lower when the round length grows), a task is done for every round up to
 * its done_seq, and an active task (not gone, not paused) is due for an open
 * round when done_seq is below its seq. Each open round counts its due tasks
 * not done (npending), kept exact by sched_task_done and sched_task_sync, so a
 * round starts, and closes when complete, in O(1) whatever the number of
 * tasks. */
#ifndef ABBEY_SCHED_INT_H
#define ABBEY_SCHED_INT_H

#include <apr_tables.h>
#include <jansson.h>
#include <apr_thread_mutex.h>
#include <uthash.h>

#include "frame.h"
#include "jsonio.h"
#include "sched_heap.h"
#include "scheduler.h"

#define SCHED_BATCH_BUCKETS 10 /* abbey_lease_batch_size's buckets but +Inf */

struct sched_lrec_t;
struct sched_ident_t;
struct sched_queue_t;

typedef struct sched_task_t {
    /* first, in one cache line: what the ready heaps compare and the rounds count */
    int id;                      /* index in job->tasks */
    int ready_pos;               /* in queue->ready (unowned and active), else -1 */
    int64_t done_seq;            /* done for every round up to this seq (0: none) */
    int64_t last_leased_ms;      /* 0: never */
    int counted;                 /* active (not gone, not paused): in job->nactive and its
                                    queue's ntasks (sched_task_sync keeps it) */
    int paused;                  /* neither due nor leased: finished, or file not listed */
    struct sched_lrec_t *lease;  /* the active lease, or NULL */
    struct sched_queue_t *queue; /* the ready queue of its job and label set */
    uint64_t age; /* when made (sched_t.task_age): ties go to the older, as by id (ids keep
                     that order), but it never changes */
    sched_kind_t kind;
    const char *source; /* path / URL / pattern */
    const char *const *labels;
    int nlabels;
    char instance[SCHED_INSTANCE_MAX]; /* current instance, "" until named */
    uint64_t offset;                   /* committed offset in instance */
    int64_t size;                      /* last size a slave reported, -1: unknown */
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
    UT_hash_handle hi;              /* job->by_inst */
    struct sched_task_t *next_free; /* s->free_tasks */
    int64_t lr_round;               /* the round its latest range was listed in ... */
    int lr_index;                   /* ... at this index of its ranges (-1: none) */
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
    int64_t seq;                /* its job's count of rounds started, this one included */
    int ndue;                   /* tasks due when it started (active then) */
    int npending;               /* active tasks with done_seq below its seq: it closes at 0 */
    int refs;                   /* kept window + pending callback */
    struct sched_rnd_t *next;   /* open list, oldest first */
} sched_rnd_t;

typedef struct sched_job_t {
    const rules_job_t *cfg;
    int index;
    int64_t round_ms;                       /* the length of rounds started from now on */
    int64_t cur_round;                      /* the newest started round, INT64_MIN before any */
    int64_t round_seq;                      /* its seq (rounds started; 0 before any) */
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
    int gone;    /* not in the config any more: dropped once it has no task and no open round */
    int ngone;   /* its tasks with gone set */
    int nactive; /* tasks counted (active): due for a round that starts */
    apr_pool_t *carry_pool;        /* (made on first use) holds carry: */
    apr_array_header_t *carry;     /* ranges completed with no round open to list them in
                                      (sched_range_t): listed in the next one that starts */
    struct sched_queue_t **queues; /* ready queues, one per label set (malloc'd) */
    int nqueues;
} sched_job_t;

/* The ready tasks of one job with one label set (sched_ready.c): tasks that are
 * active and held by no lease, least first by (due round, last leased, task id). */
typedef struct sched_queue_t {
    int job;                   /* its job's index in sched_t.jobs (kept on drops) */
    const char *const *labels; /* the label set (config memory, which is never freed) */
    int nlabels;
    sched_heap_t ready;
    int ntasks;          /* active tasks in it, held or not (the shares) */
    int64_t weight;      /* cached: the weight of the live sticky slaves with its labels */
    uint64_t weight_gen; /* ... as of sched_t.weight_gen ... */
    int64_t weight_sec;  /* ... and this second */
} sched_queue_t;

struct sched_slave_t;

typedef struct sched_lrec_t {
    uint64_t id;
    int64_t exp_key; /* sched_t.expiry's key: expires_ms when last placed (renewals only
                        raise expires_ms; the heap catches up when the key comes due) */
    int exp_pos;     /* in sched_t.expiry */
    char *slave;
    sched_job_t *job;
    sched_task_t *task;
    int64_t round;
    uint64_t start;
    int64_t expires_ms;
    UT_hash_handle hh; /* sched_t.leases by id */

    /* a sticky lease (sched_sticky.c): held across rounds until released, taken
     * back or expired */
    int sticky;
    struct sched_slave_t *owner;        /* its slave's record (counts it) */
    sched_queue_t *queue;               /* the queue it is counted in at the owner */
    int release;                        /* the primary asked for it back */
    struct sched_lrec_t *sprev, *snext; /* the owner's sticky leases */
} sched_lrec_t;

/* How many sticky leases a slave holds in one queue. */
typedef struct sched_held_t {
    sched_queue_t *queue;
    int n;
} sched_held_t;

typedef struct sched_slave_t {
    char *name;
    char **labels;
    int nlabels;
    int64_t last_seen_ms;
    int has_spool; /* the last lease request carried "spool" (below) */
    int64_t spool_frames, spool_bytes, spool_oldest_ms;
    UT_hash_handle hh; /* sched_t.slaves by name */
    /* sticky leases (sched_sticky.c) */
    int sticky;          /* it asked for sticky leases: counted in the shares while live */
    int workers;         /* its reading threads (>= 1) */
    int eighths;         /* its weight: workers * eighths / 8, eighths 1..8 (lagging halves) */
    sched_lrec_t *held;  /* its sticky leases */
    int nheld, nrelease; /* how many, and how many asked back */
    sched_held_t *byq;   /* per queue it holds in (few) */
    int nbyq, byq_cap;
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
typedef struct sched_upload_t sched_upload_t; /* sched_upload.c: its own lock */
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
    sched_heap_t expiry;         /* the leases, soonest expiry first */
    struct sched_idslot_t *byid; /* the leases by id (sched_lease.c: one probe, one record) */
    size_t byid_cap, byid_used;
    sched_slave_t *slaves;
    uint64_t weight_gen;    /* bumped when a slave's weight or labels change (sched_sticky.c) */
    uint64_t task_age;      /* tasks made so far (sched_task_t.age) */
    int64_t slaves_next_ms; /* no slave is forgotten before this (sched_slaves_expire) */
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
    sched_upload_t *upload; /* listings sent in parts (sched_upload.c; made on first use) */
    /* POST /v1/lease by answer (sched_count_lease_call): with leases, empty, refused; the
     * leases per answered call (buckets of sched_status.c's batch_le, and their sum) */
    uint64_t n_lease_calls[3];
    uint64_t n_batch[SCHED_BATCH_BUCKETS], n_batch_sum;
};

/* With the lock held: count a POST /v1/lease answered with granted leases, or
 * refused (an error answer). */
void sched_count_lease_call(sched_t *s, int granted, int refused);

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
 * in the open rounds it was due for; a resumed one is due from the next round. */
void sched_task_pause(sched_job_t *job, sched_task_t *t, int paused);

/* With the lock held: task t is done for every round up to the one numbered
 * round, when that one is open or the newest started (nothing else: a closed
 * round is no claim on the open ones): the open rounds it was due for count
 * it done. */
void sched_task_done(sched_job_t *job, sched_task_t *t, int64_t round);

/* With the lock held: add delta to the pending count of each open round t is
 * due for by its done_seq (t starts or stops counting: sched_task_sync). */
void sched_rounds_count(sched_job_t *job, const sched_task_t *t, int delta);

/* With the lock held: close job's oldest open rounds while they are complete
 * or past their deadline; returns how many closed. sched_round_close closes
 * the oldest one (complete: as complete, whatever it counts: recovery). */
int sched_rounds_close(sched_t *s, sched_job_t *job, int64_t now);
void sched_round_close(sched_t *s, sched_job_t *job, int64_t now, int complete);

/* ---- the ready queues: sched_ready.c, all with the lock held ---- */

/* Bring t's standing in line with its fields: whether it counts (active: not
 * paused, and not gone unless it holds a lease; job->nactive, its queue's
 * ntasks, the open rounds), its queue (by its labels) and its place in the
 * queue's heap (ready: counted, not gone, no lease). Call it after changing
 * any of those fields or done_seq, last_leased_ms, id. O(log n). */
void sched_task_sync(sched_job_t *job, sched_task_t *t);

/* The seq of the round t owes first: done_seq + 1. */
int64_t sched_task_due(const sched_task_t *t);

/* The open round of job with this seq, or NULL. */
sched_rnd_t *sched_round_by_seq(sched_job_t *job, int64_t seq);

/* The best ready task for a slave with labels: in the queues those labels
 * cover, the least of their tops by (round, last leased, job, task). For a
 * one-shot lease (v NULL) only a task due for an open round, *round the
 * oldest open round it owes; for a sticky one (v its slave) any ready task of
 * a queue where v is below its share, *round as for one-shot, or its due
 * round when it owes none. NULL when there is none. */
sched_task_t *sched_ready_pick(sched_t *s, sched_slave_t *v, const char *const *labels, int nlabels,
                               int64_t now, sched_job_t **job, int64_t *round);

/* 1 when every label of need is among have. */
int sched_labels_cover(const char *const *need, int nneed, const char *const *have, int nhave);

/* job's queues follow its index (after the jobs moved); free them (no task may
 * use them any more). */
void sched_ready_reindex(sched_job_t *job);
void sched_ready_free(sched_job_t *job);

/* ---- leases: sched_lease.c, all with the lock held ---- */

/* The expiry heap and the index by id (sched_create); freeing the index (cleanup). */
void sched_leases_init(sched_t *s);
void sched_leases_free(sched_t *s);

/* The lease with this id, or NULL. */
sched_lrec_t *sched_lease_find(sched_t *s, uint64_t id);

/* Lease t (ready) of job for round to slave, now: a one-shot lease record
 * (sticky: sched_sticky.c links it), out filled as POST /v1/lease answers it. */
sched_lrec_t *sched_lease_grant(sched_t *s, sched_job_t *job, sched_task_t *t, int64_t round,
                                const char *slave, int64_t now, sched_lease_t *out);

/* End l (freed): its task back in its ready queue (or, gone, dropped later). */
void sched_lease_end(sched_t *s, sched_lrec_t *l);

/* Extend l to now + lease_ms (not a lease asked back). */
void sched_lease_renew(sched_t *s, sched_lrec_t *l, int64_t now);

/* End every lease whose expiry is at or before now (soonest first). */
void sched_leases_expire(sched_t *s, int64_t now);

/* Renew slave's lease id (or repair lease): 0, or -1 when it is not slave's. */
int sched_renew_one(sched_t *s, const char *slave, uint64_t id, int64_t now_ms,
                    int64_t *expires_ms);

/* Check, journal (without waiting: *ticket to commit after unlocking, 0 when
 * nothing was journaled) and apply completion c (a repair's too), as
 * sched_complete describes; a refused one of a sticky lease ends the lease. */
apr_status_t sched_complete_one(sched_t *s, const sched_completion_t *c, int64_t now_ms,
                                uint64_t *ticket, abbey_err_t *err);

/* ---- sticky leases: sched_sticky.c, all with the lock held ---- */

/* slave name's record, touched, with labels (releasing what they no longer
 * cover) and workers, counted in the shares. */
sched_slave_t *sched_sticky_slave(sched_t *s, const char *name, const char *const *labels,
                                  int nlabels, int workers, int64_t now);

/* How many more leases of q v may hold (its share less what it holds; <= 0: none). */
int64_t sched_share_room(sched_t *s, sched_slave_t *v, sched_queue_t *q, int64_t now);

/* A report said lagging (1) or not (0): v's weight halves, or grows back by an eighth. */
void sched_sticky_lagging(sched_t *s, sched_slave_t *v, int lagging);

/* l leaves its owner's list and counts (sched_lease_end). */
void sched_sticky_unlink(sched_t *s, sched_lrec_t *l);

/* t's file changed (renamed, or an archive continues it): its sticky lease, if
 * it has one, is asked back, so that its holder gets the lease of the new one. */
void sched_sticky_stale(sched_task_t *t);

/* End every sticky lease v holds (it is forgotten). */
void sched_sticky_release_all(sched_t *s, sched_slave_t *v);

/* Ask back v's leases whose task left the config or needs labels v lacks; the
 * same for every slave (after a reload). */
void sched_sticky_misfit(sched_t *s, sched_slave_t *v);
void sched_sticky_reconcile(sched_t *s);

/* The read task of job that reads source's instance: a glob's (by instance)
 * or the path's; NULL when none. */
sched_task_t *sched_read_task(sched_job_t *job, const char *source, const char *instance);

/* Drop one reference to a round (its pool goes with the last). */
void sched_round_unref(sched_rnd_t *r);

/* A new round numbered number of job, with its own pool (a subpool of s->pool)
 * holding it: pub.round, start_ms and deadline_ms set from the job's round
 * length, no ranges, nothing due, refs 1. Not linked anywhere. Cannot fail. */
sched_rnd_t *sched_round_new(sched_t *s, const sched_job_t *job, int64_t number);

/* Put closed round r in job's kept window (its pub fields final), releasing the
 * oldest kept one when the window is full. */
void sched_round_keep(sched_job_t *job, sched_rnd_t *r);

/* The number of job's round (of its current length) that holds time ms. */
int64_t sched_round_at(const sched_job_t *job, int64_t ms);

/* Forget the ranges job carries to its next round (sched.c). */
void sched_carry_free(sched_job_t *job);

/* The task of job with this kind and source, or NULL. */
sched_task_t *sched_task_find(sched_job_t *job, sched_kind_t kind, const char *source);

/* With the lock held: apply completion c (already checked, or read back from
 * the journal) to task t of job for round (a one-shot lease's round, a sticky
 * one's check's): commit the range (listed in that round, or closed, in the
 * oldest open one), offset, instance and size (read) or apply the expansion
 * (sched_expand_apply), make the task done up to that round when finished, add
 * the counters, then drop what left the config and close the rounds it
 * completes. A one-shot lease is ended first; a sticky one stays.
 * The one place a completion changes the state: sched_complete and recovery
 * both come here. job may be freed on return (a gone job). */
void sched_complete_apply(sched_t *s, sched_job_t *job, sched_task_t *t, int64_t round,
                          const sched_completion_t *c, int64_t now_ms);

/* sched_recover.c, with the lock held and s->jn set: append completion c of
 * lease l (checked, not yet applied) to the journal as one record frame.
 * *ticket receives the journal ticket to commit after unlocking. APR_EGENERAL
 * with "journal: <reason>" when it cannot be encoded or appended. */
apr_status_t sched_journal_completion(sched_t *s, const sched_lrec_t *l, int64_t round,
                                      const sched_completion_t *c, int64_t now_ms, uint64_t *ticket,
                                      abbey_err_t *err);

/* sched_recover.c, with the lock held and s->jn set: append a "close" record:
 * job's rounds up to its newest closed one closed at now_ms (complete, by
 * "nothing new" reports, which are not journaled). A failure is logged. */
void sched_journal_close(sched_t *s, const sched_job_t *job, int64_t now_ms);

/* sched_recover.c, with the lock held and s->jn set: append an "advance to
 * now_ms" record (sched_advance started or closed rounds). A failure is logged
 * (the store is then failed: the next completion is refused with it). */
void sched_journal_advance(sched_t *s, int64_t now_ms);

/* sched_slaves.c, all with the lock held: the record of slave name (made
 * when new, evicting the least recently heard of past SCHED_SLAVES_MAX), its
 * last_seen_ms raised to now; its labels replaced by labels[0..n); forget
 * one; forget every slave not heard of for its time at now. */
sched_slave_t *sched_slave_touch(sched_t *s, const char *name, int64_t now);
void sched_slave_set_labels(sched_t *s, sched_slave_t *v, const char *const *labels, int n);
void sched_slave_forget(sched_t *s, sched_slave_t *v);
/* A slave may be forgotten as soon as at (its spool emptied, or it is new). */
void sched_slaves_soonest(sched_t *s, int64_t at);
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
/* 1 when a queued repair waits for a slave with these labels (a sticky slave then asks). */
int sched_repair_waiting(sched_t *s, const char *const *labels, int nlabels);
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
 * holds no lease), or set whether it is gone. */
void sched_task_leave(sched_t *s, sched_job_t *job, sched_task_t *t);
void sched_task_set_gone(sched_t *s, sched_job_t *job, sched_task_t *t, int gone);

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

/* ---- listings in parts: sched_upload.c (docs/CLUSTER.md "A listing in parts"),
 * without the lock (they take their own, and the scheduler's through
 * sched_renew and sched_complete) ---- */

/* Take part c of an expansion's listing: its paths (and files) are the
 * listing's from index offset on; more: parts follow. The lease must be the
 * slave's (it is renewed). Returns APR_SUCCESS with *received (the paths
 * held so far) when the part was kept, or, for the last part, what
 * sched_complete returned for the whole listing; APR_EINVAL (409) for a
 * lease not the slave's or a part out of order, APR_BADARG (400) for parts
 * with and without files, APR_ENOSPC (413) for a listing over 64 MiB of
 * paths, APR_EAGAIN (503) while listings in progress hold 256 MiB, with err. */
apr_status_t sched_upload_part(sched_t *s, const sched_completion_t *c, int64_t offset, int more,
                               int64_t now_ms, int64_t *received, abbey_err_t *err);

/* 1 the first time it is asked about lease (of the last 64 asked about): its
 * refusal is to be logged; 0 after. */
int sched_upload_log_once(sched_t *s, uint64_t lease);

/* ---- HTTP: sched_http.c (the single calls) and sched_http_batch.c (the
 * batched ones) ---- */

/* The body as a JSON object, or NULL after answering 400; rd is made ready to read it. */
json_t *sched_http_body(const httpd_req_t *req, httpd_resp_t *resp, jsonio_rd_t *rd);

/* 0 when rd read every field well, else -1 after answering 400 with its first problem. */
int sched_http_bad(const jsonio_rd_t *rd, httpd_resp_t *resp);

/* A required name (slave, master, job) read with rd: non-empty, at most 255 bytes. */
const char *sched_http_name(jsonio_rd_t *rd, const json_t *o, const char *key);

/* The optional "spool" backlog of a request ({"frames","bytes","oldest_ms"}, integers
 * >= 0) read with rd: 1 with v set, or 0 when absent; and recording it (has: it was
 * there) for slave, which is forgotten sooner without one. */
int sched_http_spool(jsonio_rd_t *rd, const json_t *root, int64_t v[3]);
void sched_http_set_spool(sched_t *s, const char *slave, int has, const int64_t v[3]);

/* A lease as its answer holds it (a new reference). */
json_t *sched_lease_json(const sched_lease_t *l);

/* A completion's fields into c (strings point into root, arrays in pool), read
 * with rd (a problem is recorded there); "slave" only with need_slave. */
void sched_completion_parse(jsonio_rd_t *rd, const json_t *root, apr_pool_t *pool,
                            sched_completion_t *c, int need_slave);

/* Add to answer what slave learns with every batched call (sched_news):
 * "now_ms", "rounds", "more", "release". */
void sched_http_news(sched_t *s, const char *slave, int64_t now_ms, apr_pool_t *pool,
                     json_t *answer);

/* POST /v1/lease/renew with "leases", POST /v1/complete with "completions",
 * "idle" or "released" (root: the body, borrowed). */
void sched_http_renew_batch(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, json_t *root,
                            int64_t now_ms);
void sched_http_report(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, json_t *root,
                       int64_t now_ms);

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
