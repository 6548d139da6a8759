/* merger_int.h - the merger's state, shared by merger.c (merging and bookkeeping),
 * merger_export.c (round and period exports), merger_http.c (HTTP, status, metrics),
 * merger_config.c (adopting a reloaded config, structure fingerprints),
 * merger_ckpt.c (the checkpoint: format, writing, restoring), merger_recover.c
 * (the journal: attaching, replaying, recovery) and merger_budget.c (the
 * memory budget: which jobs' frames are refused).
 *
 * Everything below m->lock is guarded by it. Per job: the source ranges,
 * the kept rounds (ascending by number) and the kept periods (ascending by
 * id). Renders made under the lock become queued writes (mwrite_t), written
 * to disk by merger_tick outside the state lock.
 *
 * merger_set_config replaces m->cfg and m->jobs (a new array) under the lock;
 * old arrays stay allocated (in m->pool) with their job/owned intact and
 * their state emptied, so a pointer taken from merger_job before a reload
 * stays readable. Code that decodes outside the lock notes j->gen and checks
 * it again (by name) under the lock. */
#ifndef ABBEY_MERGER_INT_H
#define ABBEY_MERGER_INT_H

#include <apr_hash.h>
#include <apr_thread_mutex.h>
#include <jansson.h>

#include "budget.h"
#include "export.h"
#include "frame.h"
#include "merger.h"
#include "partial.h"
#include "ranges.h"

#define MERGER_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define MERGER_SCRATCH_IDLE 8           /* idle scratch partials kept per job */
#define MERGER_MARKER_MAX 1000          /* missing ranges listed in an INCOMPLETE marker */
#define MERGER_OWED_MAX 262144          /* owed ranges kept per job (the oldest go first) */

typedef struct mcount_t {
    uint64_t merged, duplicate, conflict, rejected, late, expired;
    uint64_t unavailable; /* answered MERGE_UNAVAILABLE (journal append or commit failed) */
} mcount_t;

#define MERGER_NCOUNTS 7 /* the counters of mcount_t */

typedef struct mround_t {
    uint64_t r;
    apr_pool_t *pool; /* the round's own: its partial and closed ranges */
    partial_t *p;     /* NULL when no owned report has round scope */
    int closed;       /* the primary's closed-round info arrived */
    int primary_incomplete;
    int64_t deadline_ms;
    size_t nranges;
    merger_range_t *ranges; /* non-empty closed ranges, copies in pool */
    int exported;           /* exported at least once */
    int export_incomplete;  /* the last export was marked INCOMPLETE */
    size_t export_missing;  /* missing ranges at the last export */
    int dirty;              /* frames merged since the last export */
} mround_t;

/* A range a closed round lists that this master had not merged when it
 * learnt of the round: owed until merged, whatever becomes of the round
 * (merger_gaps.c). Entries live in the job's owed_pool. */
typedef struct mowed_t {
    struct mowed_t *next;
    uint64_t round;
    int64_t deadline_ms;
    uint64_t start, end;
    const char *source;
} mowed_t;

typedef struct mperiod_t {
    int64_t id;
    partial_t *totals;
    int final_exported; /* period/<stamp>/ written */
    int dirty;          /* changed since the final export */
} mperiod_t;

typedef struct mjob_t {
    const rules_job_t *job;
    int64_t round_ms;
    int64_t period_ms;   /* 0: reset never (one period) */
    const tz_t *tz;      /* the job's zone: periods follow its clock */
    uint8_t *owned;      /* per group: 1 when this master owns it */
    int need_round;      /* some owned report has round scope */
    apr_pool_t *pool;    /* the sources hash, keys and ranges */
    apr_hash_t *sources; /* source id -> ranges_t */
    mround_t *rounds[MERGER_KEEP_ROUNDS];
    int nrounds;
    int dropped; /* some round was dropped: rounds <= floor are gone */
    uint64_t floor;
    mperiod_t periods[MERGER_KEEP_PERIODS];
    int nperiods;
    int any_closed, any_exported;
    uint64_t last_closed, last_exported;
    uint64_t rounds_exported, rounds_amended, rounds_incomplete;
    mcount_t c;
    uint64_t lines, bad_lines, bytes;
    uint64_t regex_limit_hits;            /* from the frames' headers (expr.h: a regex gave up) */
    uint64_t bad_by[PARTIAL_BAD_N];       /* bad_lines by reason, from the frames' headers */
    partial_t *idle[MERGER_SCRATCH_IDLE]; /* scratch partials for decoding */
    int nidle;
    uint64_t gen;               /* structure generation: changes when the structure does */
    int64_t since_ms;           /* wall clock when the current structure started */
    int64_t changed_ms;         /* since_ms of a structure that replaced another, else 0 */
    int period_changed;         /* frames merged into the totals since they were last rendered */
    int period_stale;           /* a round export skipped changed period reports (throttled) */
    int64_t period_render_ms;   /* when the period reports were last rendered (0: never) */
    apr_pool_t *owed_pool;      /* the owed entries (a subpool of pool, made when first needed) */
    mowed_t *owed, **owed_tail; /* closed ranges not merged yet, oldest round first */
    size_t nowed, owed_freed;   /* entries listed; entries unlinked since the pool was rebuilt */
    uint64_t owed_dropped;      /* entries dropped over MERGER_OWED_MAX (logged) */
    int any_current;            /* merger_set_current_round was called */
    uint64_t current;           /* the primary's newest started round */
    uint64_t mem_bytes;         /* its tables' bytes as of the last merger_budget_update */
    budget_state_t budget;      /* over the memory budget: new frames refused (merger_budget.c) */
    uint64_t budget_refused;    /* frames refused for it */
} mjob_t;

typedef struct mwrite_t {
    struct mwrite_t *next;
    char *path;
    uint8_t *data; /* NULL: remove path */
    size_t len;
    struct history_batch_t *batch; /* non-NULL: no file; write this to the history database */
} mwrite_t;

struct merger_t {
    const rules_config_t *cfg;
    const char *self;
    int self_index;
    const char *dir;
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;        /* the state */
    apr_thread_mutex_t *export_lock; /* serializes merger_tick's writes */
    mjob_t *jobs;                    /* cfg->njobs */
    uint64_t gen;                    /* last structure generation handed out */
    mcount_t unknown;                /* frames refused before a job was known */
    uint64_t export_errors;
    int64_t last_now;              /* last merger_tick's now_ms (0: none) */
    mwrite_t *queue, **queue_tail; /* renders waiting for merger_tick */
    int queued_exports;            /* exports among them */
    int64_t period_every_ms;       /* merger_set_period_interval; 0: every round */
    uint64_t frame_bytes;          /* bytes of every frame merger_accept was given */
    uint64_t frame_bytes_accepted; /* of them, frames merged or duplicate */
    uint64_t combined_frames;      /* frames of several ranges merged */
    uint64_t combined_ranges;      /* their ranges */
    struct journal_t *journal;     /* merger_attach_journal; NULL: frames are not journaled */
    uint64_t last_ticket;          /* journal ticket of the newest frame appended (0: none) */
    struct history_t *history;     /* merger_set_history; NULL: off */
    int64_t history_keep_ms;       /* its default keep */
    apr_hash_t *prom;              /* merger_prom.c: report -> its latest Prometheus text */
    uint64_t budget_limit;         /* merger_set_budget; 0: no memory budget */
    uint64_t budget_allowance;     /* what the process holds besides the tables */
    int recovering;                /* merger_recover is replaying: no frame is refused */
};

/* merger.c */
/* Point j at job: its timing, the groups m->self_index owns (a new array), need_round. */
void merger_job_bind(merger_t *m, mjob_t *j, const rules_job_t *job);
/* Set up j for job: bound, empty, a new generation, since now. */
void merger_job_init(merger_t *m, mjob_t *j, const rules_job_t *job);
/* Free j's rounds, periods and scratch partials (not its sources); j is left empty. */
void merger_job_clear(mjob_t *j);
/* The job named name in the current config, or NULL; the caller holds m->lock. */
mjob_t *merger_job_locked(merger_t *m, const char *name);
/* The period of round r: that of the round's first second on the job's local
 * clock (tz_period); 0 with reset: never. */
int64_t merger_period_of(const mjob_t *j, uint64_t r);
/* The first instant of period id, in ms (tz_period_start); j->period_ms != 0. */
int64_t merger_period_start_ms(const mjob_t *j, int64_t id);
/* The kept round r; created (empty, with a partial when j->need_round) when
 * absent and still within retention, dropping the oldest when full after its
 * export; NULL when the round is no longer (or cannot be) kept. */
mround_t *merger_round_get(merger_t *m, mjob_t *j, uint64_t r);
/* The kept period id; created (empty) when absent, dropping the oldest when
 * full after its final export; NULL when older than every kept period. */
mperiod_t *merger_period_get(merger_t *m, mjob_t *j, int64_t id);
const ranges_t *merger_source_ranges(const mjob_t *j, const char *source);

/* What one entry's tables hold at this master (status, metrics): keys and
 * what folded in the newest period's totals (ptable.h), and the approximate
 * bytes of every table of the entry it keeps (period totals, round partials,
 * idle scratch partials). Under m->lock; O(tables kept), rows are not walked. */
typedef struct merger_entry_mem_t {
    uint64_t keys, bytes, folded_lines, folded_keys;
} merger_entry_mem_t;
void merger_entry_memory(const mjob_t *j, int entry, merger_entry_mem_t *out);

/* merger_budget.c (under m->lock) */
/* Bring the tables' bytes of j (NULL: every job) up to date, then step every
 * job's budget state (budget_job_step), logging each change. */
void merger_budget_update(merger_t *m, mjob_t *j);
/* 1 when j's new frame must be refused (j over budget, not recovering):
 * counted (unavailable, budget_refused), the reason in err; else 0. */
int merger_budget_refuse(merger_t *m, mjob_t *j, abbey_err_t *err);
/* Status: {"limit","near","clear" (null without a limit),"allowance","tables",
 * "accounted","rss"}; per job {"bytes","over_budget","since_ms","refused"}. */
json_t *merger_budget_status(const merger_t *m);
json_t *merger_budget_job_json(const mjob_t *j);
/* The budget's metric families (merger.h, merger_metrics). */
void merger_budget_metrics(const merger_t *m, buf_t *out);

/* merger_gaps.c (under m->lock) */
/* Owe r (a range closed round `round` lists, due for repair from deadline_ms)
 * unless j has merged all of it; over MERGER_OWED_MAX the oldest entry is
 * dropped (counted, logged). */
void merger_owe(mjob_t *j, uint64_t round, int64_t deadline_ms, const merger_range_t *r);
/* Forget every owed range of j (its round numbering restarts). */
void merger_owed_clear(mjob_t *j);
/* Owe the unmerged parts of every kept closed round of j (after recovery). */
void merger_owe_kept_rounds(mjob_t *j);

/* merger_export.c (all under m->lock) */
/* Pool cleanup of the merger: frees the writes still queued. */
apr_status_t merger_queue_free(void *m);
void merger_export_round(merger_t *m, mjob_t *j, mround_t *rd, apr_pool_t *tp);
void merger_export_period(merger_t *m, mjob_t *j, mperiod_t *p, apr_pool_t *tp);
/* Number of rd's closed ranges not fully merged. */
size_t merger_round_missing(const mjob_t *j, const mround_t *rd);
/* "20251121T104500Z" (or ".250Z" with milliseconds) of ms since the epoch, in pool. */
const char *merger_stamp(int64_t ms, apr_pool_t *pool);
/* The report job/report of an owned group, or NULL. */
const rules_report_t *merger_owned_report(const merger_t *m, const mjob_t *j, const char *name);
/* merger_job_locked taking m->lock itself (call without it). */
mjob_t *merger_job(merger_t *m, const char *name);

/* merger_prom.c (under m->lock) */
/* Keep rows (just rendered as report r's latest file) as r's Prometheus text
 * when r has metrics: true (export_prom). */
void merger_prom_keep(merger_t *m, const rules_job_t *job, const rules_report_t *r,
                      const export_rows_t *rows, apr_pool_t *tp);
/* Append the kept texts of the current config's owned reports, in its order
 * (and forget those of reports no longer in it). */
void merger_prom_metrics(merger_t *m, buf_t *out);

/* merger_history.c */
struct history_batch_t;
/* A batch for an export of [start_ms, end_ms) (history_batch_create), or NULL
 * when history is off. */
struct history_batch_t *merger_history_batch(merger_t *m, int64_t start_ms, int64_t end_ms,
                                             int incomplete, int final);
/* Queue b (may be NULL; freed when empty) after the writes queued so far
 * (under m->lock). */
void merger_history_queue(merger_t *m, struct history_batch_t *b);
/* Write b (outside m->lock, under the export lock); 0, or -1 logged. */
int merger_history_write(merger_t *m, const struct history_batch_t *b, int64_t now_ms);
/* GET /v1/history/{job}/{report}[?last=N] (merger_register's route). */
void merger_on_history(void *ctx, const httpd_req_t *req, httpd_resp_t *resp);

/* merger_http.c: the counters' names (in status, metrics and checkpoints), in
 * merger_count_field's order; counter i (0 to MERGER_NCOUNTS - 1) of c; c as
 * the JSON object {"merged": n, ...} (values as jsonio_u64 writes them). */
extern const char *const merger_count_names[MERGER_NCOUNTS];
uint64_t *merger_count_field(mcount_t *c, int i);
json_t *merger_counts_json(const mcount_t *c);
/* Bad lines by reason (partial_t.bad_by) as {"quote": n, ...}, the reasons
 * not 0 only, by partial_reason_name (values as jsonio_u64 writes them). */
json_t *merger_reasons_json(const uint64_t bad_by[PARTIAL_BAD_N]);

/* merger_config.c */
/* A 64-bit fingerprint of what merger_set_config compares to call a job's
 * structure unchanged (groups, entries, reports, format fields, timing);
 * cfg gives the masters' names. Equal structures give equal fingerprints. */
uint64_t merger_job_fingerprint(const rules_config_t *cfg, const rules_job_t *job);
/* merger_job_fingerprint of j's job as 16 lowercase hex digits and a NUL. */
void merger_fingerprint_hex(const merger_t *m, const mjob_t *j, char out[17]);

/* ---- durability: merger_ckpt.c (the checkpoint) and merger_recover.c (the
 * journal, recovery) ---- */

#define MERGER_CKPT_VERSION 1
#define MERGER_CKPT_PERIOD "@period" /* source of a period-totals frame */
#define MERGER_CKPT_ROUND "@round"   /* source of a round-partial frame */

/* One merger_recover's state, handed to journal_recover's callbacks as ctx. */
typedef struct merger_rx_t {
    merger_t *m;
    apr_pool_t *pool; /* scratch for the recovery */
    abbey_err_t err;  /* the first failure */
    int failed;
    int have_meta;         /* the checkpoint's metadata record was read */
    int checked;           /* merger_ckpt_done ran */
    const char *ckpt_file; /* the checkpoint read (in pool) */
    uint8_t *skip;         /* per job index: its checkpoint frames are not restored */
    uint64_t expect_frames, got_frames;
    uint64_t merged, duplicate, refused; /* journal frames replayed */
} merger_rx_t;

/* merger_ckpt.c: journal_recover's ckpt_fn for merger_recover (ctx: its
 * merger_rx_t), taking m->lock itself: the metadata record first, then the
 * partial frames. Returns 1, the reason in rc->err and rc->failed set, when
 * the checkpoint cannot be restored. */
int merger_on_checkpoint(void *ctx, const char *file, uint64_t offset, const uint8_t *frame,
                         size_t len, const frame_header_t *h);

/* merger_ckpt.c: once the checkpoint's frames are read (sets rc->checked): 0,
 * or -1 with rc->err and rc->failed when they are not as many as its metadata
 * says. */
int merger_ckpt_done(merger_rx_t *rc);

/* Internal face of merger_report: *fmt_out receives the format rendered. */
int merger_report_fmt(merger_t *m, const char *job, const char *report, const char *format,
                      buf_t *out, rules_report_format_t *fmt_out);

#endif
