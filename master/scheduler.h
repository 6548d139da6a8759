/* scheduler.h - the primary's scheduler: tasks, source instances, leases and rounds.
 *
 * The model is docs/CLUSTER.md ("Tasks, instances, offsets", "Rounds"):
 * - A task is one source of one job: a file or an http(s) URL (a read task)
 *   or a glob (an expand task). Completing an expand lease with "paths" and
 *   "files" gives each file (device and inode) one read task, whatever its
 *   name becomes, and lets an archive continue the file it compresses
 *   (sched_ident.c: docs/CLUSTER.md "Globs over a rotating series"). With
 *   "paths" alone (an older slave) a read task is added per path not seen
 *   before (the path is then the identity, and a path keeps its task while
 *   its glob stays in the config). Labels are the glob's.
 * - A read task reads one instance at a time ("" until a slave names it),
 *   from its committed offset. A completion commits offset = end; with
 *   next_instance the task moves to that instance at offset 0.
 * - Rounds: round r of a job covers [r * round_ms, (r + 1) * round_ms) of
 *   processing time (absolute numbers). When now enters a new round number,
 *   that round starts and every task the job has at that moment is due for
 *   it (tasks added later join the next round). If several round lengths
 *   passed since the last round started (primary stopped or slow), only the
 *   current round is started: the missed ones are never created.
 *   A due task is leased (one lease per task at a time, oldest round first)
 *   until a completion says at_end for that round. A round closes when all its
 *   due tasks are done, or incomplete at its deadline (start + deadline_rounds
 *   round lengths). Rounds of a job close in increasing order. A round with
 *   no due tasks closes at once, with no ranges.
 * - A lease expires at expires_ms: its task is leasable again from the same
 *   committed offset, and the expired holder's completion is refused.
 *
 * Time is always a parameter (milliseconds since the epoch); nothing here
 * reads the clock. Every function is thread-safe: each takes the scheduler's
 * one mutex (and round-closed callbacks are called outside it).
 *
 * (Named scheduler.h, not sched.h: master/ is on the -I path, where a
 * sched.h would shadow the system <sched.h> that <pthread.h> includes.) */
#ifndef ABBEY_SCHEDULER_H
#define ABBEY_SCHEDULER_H

#include <apr_errno.h>
#include <apr_pools.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "httpd.h"
#include "rules.h"

#define SCHED_INSTANCE_MAX 256 /* instance ids are shorter than this (else refused) */
#define SCHED_PATH_MAX 4096    /* paths from expand completions: at most this long */
#define SCHED_MAX_TASKS 100000 /* per job; expand paths past it are ignored (logged) */
#define SCHED_ROUNDS_KEPT 256  /* closed rounds kept per job for sched_rounds */
/* Slaves are forgotten (gone from status) once not heard of for this long; a
 * slave whose last lease request said its spool holds frames, after a day.
 * At most SCHED_SLAVES_MAX are known: a new name past it evicts the slave
 * heard of least recently. */
#define SCHED_SLAVE_FORGET_MS (10 * 60 * 1000LL)
#define SCHED_SLAVE_BACKLOG_FORGET_MS (24 * 3600 * 1000LL)
#define SCHED_SLAVES_MAX 4096

typedef struct sched_t sched_t;

typedef struct sched_opts_t {
    int64_t lease_ms;     /* lease lifetime; <= 0: 30000 */
    uint64_t lease_bytes; /* the cap of a read lease; 0: 64 MiB */
    int deadline_rounds;  /* a round's deadline in round lengths after its start; <= 0: 3 */
} sched_opts_t;

typedef enum sched_kind_t { SCHED_READ, SCHED_EXPAND, SCHED_REPAIR } sched_kind_t;

/* One lease, as POST /v1/lease answers it. job, source and file point into
 * the scheduler's memory and stay valid while its pool lives. */
typedef struct sched_lease_t {
    uint64_t id; /* unique, increasing from 1 */
    const char *job;
    sched_kind_t kind;
    int task;                          /* task number within the job */
    const char *source;                /* path, URL or glob pattern */
    char instance[SCHED_INSTANCE_MAX]; /* "" for a task no slave has named yet */
    uint64_t start;                    /* the committed offset */
    uint64_t cap;                      /* opts.lease_bytes */
    int64_t round;                     /* the round the task is due for (repair: the
                                          round the range was completed in) */
    int64_t expires_ms;
    uint64_t end;       /* repair: the range is [start, end) */
    const char *master; /* repair: the one master to deliver to */
    const char *file;   /* a glob's task (read, repair): the file to read, named by the
                           glob's last expansion, else NULL (source is read by instance) */
    char file_id[48];   /* with file: its "dev:inode" */
} sched_lease_t;

/* One match of an expansion (the completion's "files", docs/CLUSTER.md
 * "Globs over a rotating series"): the file at paths[i]. */
typedef struct sched_file_t {
    const char *error;  /* not a regular file, or not readable: why (nothing else is set) */
    uint64_t dev, ino;  /* its identity */
    uint64_t size;      /* its size (an archive: compressed) */
    int has_head;       /* head_len and head_hash are known */
    uint32_t head_len;  /* its first min(size, 4096) bytes (decompressed), 0: no whole line */
    uint64_t head_hash; /* their 64-bit hash (XXH3) */
} sched_file_t;

/* A completion (POST /v1/complete). Absent optional fields: NULL or -1.
 * For a read lease instance, start, end and at_end are required; for an
 * expand lease paths is required and instance/start/end/at_end are ignored
 * (an expand completion always finishes the task for its round). */
typedef struct sched_completion_t {
    const char *slave;
    uint64_t lease;
    const char *instance;            /* the instance read; NULL: absent */
    int64_t start, end;              /* -1: absent */
    int at_end;                      /* 1, 0, or -1: absent */
    const char *next_instance;       /* NULL or "": no rotation */
    int64_t size;                    /* size of the source the slave saw (after a rotation:
                                        of the new instance); -1: not reported */
    int64_t lines, bad_lines, bytes; /* counters (-1 / absent: 0) */
    int ndeliveries;                 /* per master: name -> "ok" | "spooled" | other */
    const char *const *delivery_masters;
    const char *const *delivery_results;
    int npaths; /* expand: the matching paths; npaths = -1: absent */
    const char *const *paths;
    const sched_file_t *files; /* expand: the file at each path (npaths of them), or NULL:
                                  an older slave's (paths only: one task per path) */
    int repair;                /* "repair": true - the completion of a repair lease (instance,
                                  start, end, at_end, paths are ignored) */
    const char *error;         /* repair: why it could not be done (NULL: done); read: why nothing
                                  could be read (logged; the completion applies as usual) */
} sched_completion_t;

/* A byte range [start, end) of source "<path or url>#<instance>". */
typedef struct sched_range_t {
    const char *source;
    uint64_t start, end;
} sched_range_t;

/* A closed round, as GET /v1/rounds lists it (plus closed_ms and missing). */
typedef struct sched_round_t {
    int64_t round;
    int64_t start_ms;    /* round * round_ms */
    int64_t deadline_ms; /* start_ms + deadline_rounds * round_ms */
    int64_t closed_ms;   /* when it closed */
    int incomplete;      /* closed at the deadline with tasks not done */
    int nranges;
    const sched_range_t *ranges; /* in completion order; adjacent ranges of a source merged */
    int nmissing;                /* incomplete: the due tasks not done (task numbers) */
    const int *missing;
} sched_round_t;

typedef void (*sched_round_fn)(void *ctx, const char *job, const sched_round_t *r);

/* A scheduler for cfg (which must outlive it) in a subpool of pool; freed
 * with pool. Creates one task per source of every job. Cannot fail (out of
 * memory aborts). */
sched_t *sched_create(const rules_config_t *cfg, const sched_opts_t *opts, apr_pool_t *pool);

/* Start due rounds, expire leases, close rounds that are complete or past
 * their deadline (then call the round-closed callback). Call it about once a
 * second; every other call below also does this work first. */
void sched_tick(sched_t *s, int64_t now_ms);

/* Grant up to max leases (max <= 0: none) to slave with labels into out
 * (room for max). A task is leasable when it is due for an open round, holds
 * no active lease, and its labels are all among the slave's. Older rounds
 * first, then the tasks leased least recently. Records the slave (labels,
 * last seen). Returns how many leases were written. */
int sched_lease(sched_t *s, const char *slave, const char *const *labels, int nlabels, int max,
                int64_t now_ms, sched_lease_t *out);

/* Extend slave's active lease to now + lease_ms (*expires_ms receives it).
 * APR_NOTFOUND when the lease is unknown, expired or another slave's. */
apr_status_t sched_renew(sched_t *s, const char *slave, uint64_t lease, int64_t now_ms,
                         int64_t *expires_ms);

/* Apply a completion. Returns
 *   APR_SUCCESS  - committed: offset = end (or 0 on next_instance), the range
 *                  recorded in the lease's round (or, if that round has closed
 *                  meanwhile, in the job's oldest open round), the lease ended;
 *   APR_EINVAL   - conflict (HTTP 409): the lease is not an active lease of
 *                  this slave, or instance / start do not match the task's;
 *   APR_BADARG   - malformed (HTTP 400): a required field is missing, end < start,
 *                  an id is too long;
 *   APR_EGENERAL - the journal could not take it (HTTP 503; sched_attach_journal).
 * err names the problem ("lease 17 is not yours (expired?)"). */
apr_status_t sched_complete(sched_t *s, const sched_completion_t *c, int64_t now_ms,
                            abbey_err_t *err);

/* The newest round of job started so far (the newest a lease can be for):
 * 1 with *round set, 0 when none has started yet, -1 when the job is
 * unknown. Takes the scheduler's lock. */
int sched_current_round(sched_t *s, const char *job, int64_t *round);

/* Call fn for each kept closed round of job numbered above after, in
 * increasing order, under the scheduler's lock (fn must not call sched_*).
 * Returns how many, or -1 when the job is unknown. */
int sched_rounds(sched_t *s, const char *job, int64_t after, sched_round_fn fn, void *ctx);

/* fn(ctx, job, round) is called once for each round as it closes, in closing
 * order, outside the lock, by whichever thread's sched_* call closed it (fn
 * may call sched_*; r is valid during the call). One callback; NULL removes it. */
void sched_on_round_closed(sched_t *s, sched_round_fn fn, void *ctx);

/* Bring the state up to now_ms (as sched_tick), then append the primary's half
 * of GET /v1/status as one JSON object:
 *   {"jobs":[{"name","round","round_ms","sources":[{"task","kind","source","instance",
 *     "offset","size"(when known),"lag_bytes"(size - offset, null when unknown),
 *     "lines","bad_lines","bytes","deliveries":{master:result},
 *     "file","state" (a glob's read task: the file it reads, null once forgotten;
 *     "reading", "paused" (its file not listed) or "finished" (an archive read to its end))}],
 *     "files" (the files its globs listed, known to it),
 *     "leases":[{"id","task","slave","start","round","expires_ms"}],
 *     "open_rounds":[{"round","start_ms","deadline_ms","due","done","pending":[task]}],
 *     "last_closed":{"round","start_ms","closed_ms","incomplete","missing":[task]} | null}],
 *    "slaves":[{"name","labels":[],"last_seen_ms"}]} */
void sched_status_json(sched_t *s, int64_t now_ms, buf_t *out);

/* Append Prometheus text: abbey_leases{state="active"} (gauge),
 * abbey_leases_total{result="granted|completed|expired|renewed"},
 * abbey_round_seconds{job} (the last closed round: closed_ms - start_ms),
 * abbey_tasks{job}, abbey_repairs{state="queued|leased"} (gauge; repair
 * leases are not in abbey_leases), abbey_repairs_total{result="done|failed"}. */
void sched_metrics(sched_t *s, buf_t *out);

/* Route POST /v1/lease, POST /v1/lease/renew, POST /v1/complete, POST
 * /v1/repair (bodies up to 1 MiB) and GET /v1/rounds to s. The handlers read the real clock. */
void sched_register(sched_t *s, httpd_t *httpd);

/* Adopt cfg (which must outlive the scheduler; old configs are never freed by the caller).
 * Jobs are matched by name, tasks by (job, source path/URL/pattern): a matched task keeps its
 * instance, committed offset, size, counters and its active lease; a job or source that is new
 * starts as at creation (joins at the next round); a source or job that is gone is dropped once
 * it holds no active lease (a completion of its lease is still accepted and recorded; afterwards
 * nothing is leased for it). Expand-made read tasks (from globs) stay while their glob is still
 * in the job. A job whose round length changes: the new length applies from the next round.
 * Labels come from the new config. Thread-safe; takes the scheduler's lock. Cannot fail.
 * Details:
 * - A new job's first round is the one current at the next call (as at creation); a new
 *   source of an existing job is due from the job's next round.
 * - A read task that is no longer a source is also kept when a glob of its job still
 *   lists it: the glob whose expansion added it, or one whose pattern matches its path
 *   (fnmatch FNM_PATHNAME | FNM_PERIOD, as glob(3)); its labels are then the glob's.
 *   A glob's read task of one file (made from an expansion's files) is kept only by
 *   the glob that made it (the same pattern), and only while that glob knows its file;
 *   a glob that leaves forgets its files.
 * - Dropping a task removes it from the job: the task numbers after it shift down (in
 *   status and later leases; leases already granted are unaffected). In rounds open at
 *   the reload a dropped task counts as done. Until dropped, a gone task with an active
 *   lease is still listed in status. A gone job is listed until its open rounds close
 *   (they close when its leases end); its closed rounds go to the callback as usual,
 *   then it disappears (sched_rounds: -1).
 * - Round length: the open round keeps its length and deadline; the next one starts at
 *   the first boundary of the new length at or after the open round's end (no overlap;
 *   rounds are still numbered now / round_ms, so after a longer length the numbers
 *   restart lower: /v1/rounds?after=R consumers must expect that).
 * - Delivery results follow the masters by name; sched_announce_config's hash is set to
 *   cfg's. */
void sched_set_config(sched_t *s, const rules_config_t *cfg);

/* The config hash lease answers name (slaves fetch that config when theirs
 * differs). Starts as the scheduler's own config's; the primary sets it when
 * it serves a reloaded file. Thread-safe; takes the scheduler's lock. */
void sched_announce_config(sched_t *s, const char *hash_hex);

/* The handlers themselves (sched_register routes them; ctx is the sched_t).
 * Exposed for tests; now_ms is the clock they use (the registered ones
 * pass the real time). */
void sched_http_lease(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, int64_t now_ms);
void sched_http_renew(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, int64_t now_ms);
void sched_http_complete(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp, int64_t now_ms);
/* POST /v1/repair (docs/CLUSTER.md "Gap repair"): 200 {"queued", "refused"}. */
void sched_http_repair(sched_t *s, const httpd_req_t *req, httpd_resp_t *resp);
/* job and after come from the query (job=J&after=R; after defaults to -1). */
void sched_http_rounds(sched_t *s, const char *job, const char *after, httpd_resp_t *resp);

/* ---- durability (sched_ckpt.c, sched_recover.c; docs/CLUSTER.md "Durability") --------- */

struct journal_t;

/* Recover from jn (journal.h, a fresh store) before the scheduler serves
 * anything: the newest whole checkpoint restores every job's tasks (kind,
 * source, instance, committed offset, size, counters, delivery results,
 * glob-made read tasks), round timing, open rounds (due/done per task, ranges
 * so far) and kept closed rounds, and the lease counter; then each journaled
 * completion is applied again as it was (offset, instance, range in its
 * round, counters; "no lease" is not an error here). Tasks and jobs no longer
 * in the config are dropped, new ones start as at creation. Leases are not
 * restored: lease ids continue far above every id handed out before, so a
 * slave's completion of a lease from before the restart is refused (409),
 * and its task is leased again from the committed offset (the masters answer
 * duplicate / conflict for what was already merged: nothing counts twice,
 * nothing is skipped). Then brings the state up to now_ms (sched_tick).
 * Logs one summary line. Returns APR status with err when jn cannot be read. */
apr_status_t sched_recover(sched_t *s, struct journal_t *jn, int64_t now_ms, abbey_err_t *err);

/* 1 when the attached journal has failed (a write or fsync failed): no
 * lease is granted then (HTTP 503), since no completion could be committed
 * and every read would only be read again; err says why. 0 otherwise. */
int sched_store_failed(sched_t *s, abbey_err_t *err);

/* From now on a successful completion is appended to jn (one record frame)
 * before it changes the state, and sched_complete returns only once it is
 * committed. An append failure refuses the completion (APR_EGENERAL, HTTP
 * 503: nothing changed, the slave retries); a commit failure also gives
 * APR_EGENERAL (the store is failed; a restart recovers). NULL detaches. */
void sched_attach_journal(sched_t *s, struct journal_t *jn);

/* Non-zero when rounds closed or the config changed since the last
 * sched_checkpoint (the primary checkpoints then, so journals stay short). */
int sched_checkpoint_due(sched_t *s);

/* Write a checkpoint of the whole state to jn: under the lock journal_rotate
 * and serialize (one record frame, JSON); outside it journal_checkpoint.
 * Thread-safe. Returns APR status with err. */
apr_status_t sched_checkpoint(sched_t *s, struct journal_t *jn, abbey_err_t *err);

/* ---- gap repair (sched_repair.c; docs/CLUSTER.md "Gap repair") -------------------------- */

/* Queue a repair: read [start, end) of source ("<path or url>#<instance>", as
 * rounds list it) of job again and deliver it to master alone (the frame
 * carries round). The task is the job's read task for the path (source up to
 * its last '#'); a slave gets the repair lease only when it has that task's
 * labels. Repair leases are granted before other leases, expire and renew like
 * them; a completion with "repair":true ends one: with deliveries it is done
 * (ok or spooled), with "error" it failed (logged with the reason, not retried
 * until the master asks again). A repair already queued or leased for the same
 * (job, source, start, end, master) is not queued twice. Repairs are not
 * journaled: a master asks again while its gap stays. Returns APR_SUCCESS;
 * APR_NOTFOUND with err when the job, master or task is unknown or the
 * instance was truncated since (a later generation of the same file);
 * APR_BADARG when start >= end, end > INT64_MAX, the source has no '#', or a
 * string is too long; APR_EAGAIN when SCHED_REPAIR_MAX (10000) repairs wait. */
apr_status_t sched_repair(sched_t *s, const char *job, const char *master, const char *source,
                          uint64_t start, uint64_t end, int64_t round, abbey_err_t *err);

#endif
