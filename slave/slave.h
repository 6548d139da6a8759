/* slave.h - the abbey-slave program's parts, shared between its files.
 *
 * A slave_t holds what the threads share: the options, the current config
 * (fetched from the primary, swapped when a lease answer names another
 * hash), the leases in progress (which the renewer keeps alive) and the stop
 * flag (slave.c). The holder (hold.c) holds the slave's sticky leases across
 * rounds (docs/CLUSTER.md "Sticky leases"): it asks for batches, checks each
 * task once a round, queues the ones that grew for the worker threads
 * (worker.c: read -> deliver (deliver.c) -> a completion, each with its own
 * HTTP client, engines and buffers; combine.c: several leases of one job and
 * round read in a row and sent in one frame) and reports completions and
 * "nothing new" in batches. With --single-leases (a primary older than this
 * protocol) each worker loops lease -> read -> deliver -> complete itself.
 * The renewer thread (slave_renew_pass) extends one-shot leases; the
 * re-delivery thread sends what the spool (spool.c) holds. Every call to the
 * primary, whichever thread makes it (the holder's included), goes over one
 * client (primary_hc), so a slave keeps one connection to the primary however
 * many workers it runs; frames for the other masters go over each worker's
 * own client.
 * main.c parses the command line, fetches the first config, starts the
 * threads and turns SIGTERM/SIGINT into slave_request_stop.
 *
 * Thread safety: slave_* functions are thread-safe (they take the slave's
 * lock; a config fetch is serialized by a second lock so that renewals are
 * never held up by one). A worker_t belongs to one thread. */
#ifndef ABBEY_SLAVE_H
#define ABBEY_SLAVE_H

#include <apr_pools.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <jansson.h>
#include <stdint.h>

#include "engine.h"
#include "error.h"
#include "hclient.h"
#include "partial.h"
#include "rules.h"
#include "task.h"

#define SLAVE_HASH_MAX 96 /* config hashes (ETag values) are shorter */

typedef struct slave_opts_t {
    const char *primary; /* base URL, without a trailing '/' */
    const char *name;
    const char **labels;
    int nlabels;
    int workers;           /* >= 1 */
    const char *spool_dir; /* the spool (slave_spool_open); NULL: no spooling */
    const char *token;     /* the bearer token (NULL: none) */
    int poll_ms;           /* idle wait between lease calls */
    int retry_ms;          /* pause before the one retry of a failed call */
    long connect_ms;       /* HTTP connect timeout */
    long timeout_ms;       /* HTTP whole-call timeout */
    size_t block;          /* read block per worker (0: TASK_BLOCK, or what the config's
                              max_line needs; set, it caps the lines parsed at block - 1) */
    int single;            /* one lease per request (worker_once), not sticky batches */
    uint64_t memory_limit; /* --memory-limit (common/budget.h); 0: none */
} slave_opts_t;

/* One config, shared by reference count: workers keep the one their engines
 * were built for until they switch between leases. */
typedef struct slave_cfg_t {
    rules_config_t *rules;
    apr_pool_t *pool;          /* own root pool, destroyed with the last reference */
    char hash[SLAVE_HASH_MAX]; /* the primary's ETag (the rules' hash_hex) */
    int refs;
} slave_cfg_t;

/* A lease in progress, as the renewer sees it. */
typedef struct slave_active_t {
    uint64_t id;
    int64_t lease_ms; /* lifetime at grant: renewed every lease_ms / 3 */
    int64_t next_ms;  /* when to renew next */
    int gone;         /* the primary said 410: the lease is lost */
} slave_active_t;

typedef struct slave_t {
    slave_opts_t opts;
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;       /* guards cfg, active, nactive, stop */
    apr_thread_mutex_t *fetch_lock; /* one config fetch at a time */
    apr_thread_cond_t *wake;        /* broadcast on stop: sleepers wake */
    slave_cfg_t *cfg;               /* the current config; NULL before the first fetch */
    slave_active_t *active;
    int nactive, maxactive;
    volatile int stop;
    int renew_stop;   /* the renewer's stop (after the workers'; atomic) */
    int primary_down; /* the last lease call failed (atomic; logged once for all workers) */
    const char *config_url, *lease_url, *renew_url, *complete_url; /* the primary's calls */
    hclient_t *primary_hc; /* every call to the primary, from every thread: one kept-alive
                              connection (the workers' and the spool's clients go through
                              it for the primary's URL: hclient_via) */
    apr_thread_t *renewer;
    struct spool_t *spool;     /* NULL: no spooling (slave_spool_open) */
    struct hold_t *hold;       /* the sticky leases (hold.c; NULL with opts.single) */
    struct budget_t *budget;   /* --memory-limit: a slot per worker (its partials' bytes);
                                  NULL: none */
    uint64_t budget_cuts;      /* reads cut near the budget (atomic) */
    int64_t budget_logged_ms;  /* when a cut was last logged (atomic) */
    struct rejects_t *rejects; /* the jobs' bad-line writers (common/rejects.h), shared */
    apr_thread_t *redeliverer; /* the spool's re-delivery thread */
    int redeliver_stop;        /* its stop (atomic) */
    apr_thread_t **threads;
    struct worker_t **workers;
} slave_t;

typedef enum slave_lease_kind_t {
    SLAVE_LEASE_READ,   /* read from start, up to cap bytes, deliver to every master */
    SLAVE_LEASE_EXPAND, /* expand a glob, report the paths */
    SLAVE_LEASE_REPAIR  /* read exactly [start, end) again, deliver to master alone (repair.c) */
} slave_lease_kind_t;

/* A lease as POST /v1/lease hands it out (strings in the task pool). */
typedef struct slave_lease_t {
    uint64_t id;
    const char *job;
    slave_lease_kind_t kind;
    int64_t task;
    const char *source;   /* path, URL or pattern (resolved by the primary) */
    const char *instance; /* "" for a new task */
    const char *file;     /* a glob's task: the file to read (wire form), which must be
                             file_id ("dev:inode") or be found renamed in its directory;
                             NULL for others, which read source by instance */
    const char *file_id;
    uint64_t start, cap;
    uint64_t end;       /* repair: the range's end (> start); else 0 */
    const char *master; /* repair: the one master to send to; else NULL */
    int64_t round;
    int64_t expires_ms;
    int sticky; /* held across rounds (hold.c): its completions go to the holder */
} slave_lease_t;

/* One slave worker thread's state: its lease loop (worker.c), its HTTP
 * client and buffers, and the engines it reads with (task_engines_t, shared
 * with standalone's threads, source/task.h). */
typedef struct worker_t {
    slave_t *s;
    int index;
    apr_pool_t *pool;        /* own allocator: threads never share a pool */
    apr_pool_t *task_pool;   /* cleared after every lease */
    apr_pool_t *engine_pool; /* tasks' engines, partials and buffer; cleared on a config switch */
    hclient_t *hc;           /* calls to the primary and the masters */
    slave_cfg_t *cfg;        /* the config its engines belong to (one reference) */
    task_engines_t tasks;    /* per job of cfg, and the block buffer (in engine_pool); its
                                io.stop is the slave's stop flag */
    buf_t frame;             /* frame encoding buffer, reused */
    buf_t body;              /* JSON request bodies, reused */
    hclient_resp_t resp;     /* answers, reused */
} worker_t;

/* --- slave.c ------------------------------------------------------------ */

/* Milliseconds since the epoch (the real clock; only loops call it). */
int64_t slave_now_ms(void);

/* A slave for opts (copied; strings must outlive it), in pool; with
 * opts->memory_limit, its budget (a slot per worker). Cannot fail. */
slave_t *slave_create(const slave_opts_t *opts, apr_pool_t *pool);

/* The memory a slave of workers workers reading blocks of block bytes (0:
 * TASK_BLOCK) holds besides its partials: budget_allowance (common/budget.h). */
uint64_t slave_allowance(int workers, size_t block);

/* Make the current config the primary's: GET /v1/config (If-None-Match the
 * current hash) with hc. want: the hash a lease answer named (NULL: any);
 * when the current config already has it nothing is fetched. Returns
 * APR_SUCCESS when the current config is (now) the primary's, else an error
 * with the reason in err (the old config stays current). */
apr_status_t slave_config_update(slave_t *s, hclient_t *hc, const char *want, abbey_err_t *err);

/* The current config with one more reference (NULL before the first fetch),
 * and giving a reference back. */
slave_cfg_t *slave_config_acquire(slave_t *s);
void slave_config_release(slave_t *s, slave_cfg_t *c);

/* Leases in progress: tracked from grant until completion (or abandonment). */
void slave_lease_track(slave_t *s, uint64_t id, int64_t expires_ms, int64_t now_ms);
void slave_lease_untrack(slave_t *s, uint64_t id);
/* 1 when the primary said the lease is gone (410). */
int slave_lease_gone(slave_t *s, uint64_t id);

/* The renewer's one pass at time now: POST /v1/lease/renew for every lease
 * due, with hc. Returns the milliseconds until the next one is due (at most
 * 200). */
int64_t slave_renew_pass(slave_t *s, hclient_t *hc, int64_t now_ms);

/* Wait up to ms, or less when stop is requested. Returns 1 when stopping. */
int slave_sleep(slave_t *s, int64_t ms);

/* Ask every thread to stop (async-signal-unsafe: call from a thread). */
void slave_request_stop(slave_t *s);
int slave_stopping(slave_t *s);

/* Open opts.spool_dir as the slave's spool (picking up the segments already
 * there) before slave_start / worker_once use it. APR status with the reason
 * in err when the directory cannot be created or read. */
apr_status_t slave_spool_open(slave_t *s, abbey_err_t *err);

/* Start the worker threads, the renewer and (with a spool) the re-delivery
 * thread; slave_join waits for the workers (after slave_request_stop they
 * finish their lease and return), then stops the renewer and the
 * re-delivery thread and releases everything the threads held. */
apr_status_t slave_start(slave_t *s, abbey_err_t *err);
void slave_join(slave_t *s);

/* --- worker.c ----------------------------------------------------------- */

/* A worker for s (index for logs), with its own pools and HTTP client. */
worker_t *worker_create(slave_t *s, int index);
void worker_destroy(worker_t *w);

/* One turn: ask the primary for a lease and run it. Returns 1 when a lease
 * was run (completed or not), 0 when there was none, -1 when the primary
 * did not answer (or the answer was unusable). */
int worker_once(worker_t *w);

/* Run one lease (the turn's second half; exposed for tests). cfg is the
 * worker's config. */
void worker_run_lease(worker_t *w, const slave_lease_t *l);

/* Parse a lease object of a /v1/lease answer into l (strings copied to
 * pool): kind "read", "expand" or "repair" (which also needs "end" > start
 * and a non-empty "master"); "task" and "instance" may be absent (-1, "").
 * 0, or -1 with the reason in err ("lease <id>: field '<key>' <what>", the
 * first bad field). */
int worker_parse_lease(json_t *o, apr_pool_t *pool, slave_lease_t *l, abbey_err_t *err);

/* The worker's engine and partial for job (made on first use, in the
 * engine pool); the partial is cleared. */
void worker_engine(worker_t *w, const rules_job_t *job, engine_t **e, partial_t **p);

/* Fill *d to deliver a range of lease l, read from read_path (instance:
 * the frame source's "#instance"), with e: every field but only_master,
 * with results in the task pool. */
struct deliver_t;
void worker_deliver_init(worker_t *w, const slave_lease_t *l, const rules_job_t *job, engine_t *e,
                         const char *instance, const char *read_path, struct deliver_t *d);

/* POST /v1/complete with root (released); untracks l first. A refusal or
 * no answer is logged (the lease expires). A sticky lease's completion goes
 * to the holder instead (hold_result), which reports it in a batch. */
void worker_complete(worker_t *w, const slave_lease_t *l, json_t *root);

/* --- combine.c ---------------------------------------------------------- */

#define SLAVE_COMBINE_RANGES 8 /* ranges of one combined frame (frame.h allows 16) */

struct hold_t;
struct hold_item_t;

/* Run item it of holder h (hold_take) with the config named hash (fetched when new; when it
 * cannot be had nothing is run: checked again later). A sticky read lease takes with it the
 * leases the holder has queued for the same job and round, as docs/CLUSTER.md "Frames of
 * several ranges" says, and sends their ranges in one frame per master; anything else runs
 * as worker_run_lease runs it. Every item run goes back with hold_done. */
void worker_run_items(worker_t *w, struct hold_t *h, struct hold_item_t *it, const char *hash);

/* --- expand.c ----------------------------------------------------------- */

#define SLAVE_LISTING_PART (512u << 10) /* a listing's part: half the primary's body limit */

/* The bytes a listing (its "paths" and "files", JSON arrays) takes in a body. */
size_t slave_listing_bytes(const json_t *paths, const json_t *files);

/* Send expand lease's listing (paths and files: borrowed arrays of one item per
 * match) in parts of at most SLAVE_LISTING_PART (docs/CLUSTER.md "A listing in
 * parts"): completions with "offset", "more" and, when round >= 0, "round",
 * over hc (to s->complete_url; each part retried once after no answer or a
 * 5xx), with body and resp as buffers. Returns the last part's HTTP status
 * (200: the primary applied the whole listing), the status of the part it
 * refused (err says which and why), or 0 when a part got no answer (err). */
long slave_listing_send(slave_t *s, hclient_t *hc, uint64_t lease, int64_t round,
                        const json_t *paths, const json_t *files, buf_t *body, hclient_resp_t *resp,
                        abbey_err_t *err);

/* Run expand lease l: glob its pattern and complete with "paths" (sorted,
 * wire form) and, per path, "files": the file's identity, size and head
 * fingerprint (instance_identify), or the reason it is left out. A pattern
 * that cannot be expanded leaves the lease to expire (logged). */
void slave_expand_run(worker_t *w, const slave_lease_t *l);

/* --- hold.c: sticky leases ------------------------------------------------ */

typedef struct hold_t hold_t;
struct hold_item_t;

/* The holder of s (in s->pool); its thread runs with slave_start. */
hold_t *hold_create(slave_t *s);

/* Start the holder's thread, and stop it (after the workers: it reports what
 * they read and releases every sticky lease it holds first). */
apr_status_t hold_start(hold_t *h, abbey_err_t *err);
void hold_stop(hold_t *h);

/* A worker's side: the next queued lease to run (waits up to wait_ms; NULL
 * when none or stopping), and giving it back once run. */
struct hold_item_t *hold_take(hold_t *h, int64_t wait_ms);
void hold_done(hold_t *h, struct hold_item_t *it);
/* Without waiting: the first queued sticky read lease of job whose check is of round,
 * while the holder's config is still config (NULL: none); given back with hold_done. */
struct hold_item_t *hold_take_more(hold_t *h, const char *job, int64_t round, const char *config);

/* The lease an item holds, and its config (the hash the primary names). */
const slave_lease_t *hold_lease(const struct hold_item_t *it);
void hold_config(hold_t *h, char *out);

/* worker_complete of a sticky lease: keep root (owned from now on) as its
 * completion, reported in the holder's next batch. */
void hold_result(const slave_lease_t *l, json_t *root);

/* --- repair.c ----------------------------------------------------------- */

/* Run repair lease l of job (docs/CLUSTER.md "Gap repair"): read exactly
 * [l->start, l->end) of l->source's instance l->instance and deliver one
 * frame of it to master l->master alone; complete with its delivery, or
 * with an error when the master is not in the config or the range cannot
 * be read whole (nothing is sent then). A failed delivery leaves the lease
 * to expire. Logs the repair's start and end. */
void slave_repair_run(worker_t *w, const slave_lease_t *l, const rules_job_t *job);

#endif
