/* durable.h - a cluster master's state on disk: recovery at start, checkpoints while running.
 *
 * Under the data directory (--data-dir) a master keeps one store (journal.h)
 * for its merger, named "merger", and the primary a second one for its
 * scheduler, named "sched". durable_start locks the directory (one process
 * per data dir), recovers both from their newest checkpoint plus journal and
 * attaches the journals, so from then on every frame a master acknowledges
 * and every completion the primary accepts is in a journal first.
 * durable_tick writes checkpoints: the merger's every checkpoint_every_ms, or
 * sooner once its journal has grown by checkpoint_bytes since the last one;
 * the scheduler's whenever rounds closed (sched_checkpoint_due) once its journal
 * since the last one is as big as that checkpoint (so a checkpoint's cost, in
 * proportion to the tasks, is paid in proportion to the journal), at most once
 * a second. durable_stop writes both one last time (a clean stop restarts
 * from checkpoints alone). A failed checkpoint is logged and retried at the
 * next tick; the journals keep everything meanwhile.
 * Called from the master's main thread only. */
#ifndef ABBEY_DURABLE_H
#define ABBEY_DURABLE_H

#include <apr_pools.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "journal.h"
#include "merger.h"
#include "scheduler.h"

typedef struct durable_opts_t {
    const char *dir;             /* the data directory (created when missing) */
    journal_fsync_t fsync;       /* --fsync */
    int64_t checkpoint_every_ms; /* --checkpoint-every; <= 0: 60000 */
    uint64_t checkpoint_bytes;   /* journal growth that brings a checkpoint forward; 0: 256 MiB */
} durable_opts_t;

typedef struct durable_t durable_t;

/* Lock o->dir, recover m (and s when not NULL: the primary) and attach the
 * journals. Returns APR status with err: the directory cannot be made or
 * locked ("in use by another process"), a store cannot be read. */
apr_status_t durable_start(const durable_opts_t *o, merger_t *m, sched_t *s, int64_t now_ms,
                           apr_pool_t *pool, durable_t **out, abbey_err_t *err);

/* Write the checkpoints that are due at now_ms. */
void durable_tick(durable_t *d, int64_t now_ms);

/* Write the merger's checkpoint now (the caller ran merger_tick first, so
 * queued exports are on disk). After a config change that restarted a job's
 * totals: the journal before it must not be replayed into the new structure. */
void durable_checkpoint_merger(durable_t *d, int64_t now_ms);

/* Append a JSON object for GET /v1/status: {"fsync":"batch","merger":{store},
 * "sched":{store} (the primary only)}, a store being {"appended_frames",
 * "appended_bytes","fsyncs","journal_bytes" (since the newest checkpoint),
 * "checkpoints","checkpoint_seq","checkpoint_bytes","failed"}. */
void durable_status_json(durable_t *d, buf_t *out);

/* Last checkpoints, journals closed, directory unlocked. d is unusable after. */
void durable_stop(durable_t *d);

#endif
