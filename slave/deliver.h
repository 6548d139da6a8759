/* deliver.h - sending one task range's frames to every master (POST /v1/partials), or
 * one frame of several ranges (deliver_parts, docs/CLUSTER.md "Frames of several ranges").
 *
 * Every master gets a frame for every range, carrying the tables of the
 * rule groups it owns (an empty frame when it owns none of the job's), so
 * each can tell when its share of a round is complete. A gap repair
 * (repair.c) sends its range to one master only (only_master). Answers, as
 * slave/partials.h reads them:
 *   200 merged / duplicate / expired - done (expired is logged: the
 *                             master took it, but counts it in no report);
 *   409 conflict            - the master has part of the range: the parts it
 *                             lacks are read again from the source and sent
 *                             to that master alone;
 *   5xx, no answer          - one retry after a pause; then, with a spool,
 *                             the frame is appended to the spool of that
 *                             master and job (fsync'ed): "spooled", and the
 *                             spool's re-delivery thread sends it later;
 *                             without a spool, or when the append fails
 *                             (logged loudly, naming the file): failed;
 *   400, 401, 413, other    - failed (the reason is logged; never spooled),
 *                             also a 200 or 409 that does not read as one of
 *                             abbey's (partials.h).
 * A failed delivery means the lease must not be completed: it expires, the
 * range is read again, and the masters that merged it answer duplicate.
 * Not thread-safe: one deliverer per worker. */
#ifndef ABBEY_DELIVER_H
#define ABBEY_DELIVER_H

#include <apr_pools.h>
#include <stdint.h>

#include "buf.h"
#include "engine.h"
#include "frame.h"
#include "hclient.h"
#include "partial.h"
#include "rules.h"
#include "spool.h"
#include "task.h"

#define DELIVER_MAX_PARTS 64 /* missing parts re-read per conflict (more: failed) */
#define DELIVER_MAX_DEPTH 3  /* conflicts answered to re-sent parts, in a row */

typedef enum deliver_result_t {
    DELIVER_OK,      /* merged, duplicate, or a conflict resolved */
    DELIVER_SPOOLED, /* (some of) it is in the spool: the lease may complete */
    DELIVER_FAILED,  /* not delivered: do not complete the lease */
    DELIVER_SKIPPED  /* not sent: only_master names another master */
} deliver_result_t;

typedef struct deliver_t {
    hclient_t *hc;
    const rules_config_t *cfg;
    const rules_job_t *job;
    const char *fallback_url; /* for a master without url (the primary's) */
    const char *slave;        /* this slave's name */
    uint64_t lease, round;
    const char *source;    /* "<path or url>#<instance>" */
    const char *read_path; /* what a conflict re-reads (a file, fd path or URL) */
    engine_t *engine;      /* the job's engine, for re-reads */
    task_io_t *io;
    apr_pool_t *pool;        /* the task's pool */
    int retry_ms;            /* pause before the one retry */
    spool_t *spool;          /* where frames a master will not take go (NULL: nowhere) */
    const char *only_master; /* send to this master alone (a gap repair); NULL: to all */
    buf_t *frame;            /* scratch for encoding (reused) */
    hclient_resp_t *resp;    /* scratch for answers (reused) */
    /* results, per master of cfg (filled by deliver_range) */
    deliver_result_t *results;
    int parts_resent;  /* sub-ranges re-read and sent after conflicts */
    partial_t *reread; /* internal: the re-reads' partial (NULL to start) */
} deliver_t;

/* Send the frames of [start, end) (start < end), whose lines were read into
 * p, to every master of d->cfg, or to d->only_master alone when it is set
 * (the others' results are DELIVER_SKIPPED; a name that is no master of
 * cfg is logged, nothing is sent and 1 is returned). d->results (room for
 * cfg->nmasters) gets each master's result; returns how many masters
 * failed (0: all OK, spooled or skipped).
 * Failures are logged with the master's name and the reason. */
int deliver_range(deliver_t *d, const partial_t *p, uint64_t start, uint64_t end);

/* One range of a frame of several: a lease's, read with d's engine. */
typedef struct deliver_part_t {
    frame_range_t range;       /* its source id, lease, [start, end) (start < end), and the
                                  lines, bad lines and bytes its reading added to the partial */
    const char *read_path;     /* what reading it alone again reads (a file, fd path or URL) */
    deliver_result_t *results; /* per master of d->cfg (room for nmasters), filled */
} deliver_part_t;

/* Send every master one frame of the n parts (2 to FRAME_MAX_RANGES ranges of d->job, one
 * round: d->round, whose lines were all read into p; their counters add up to p's), with
 * the groups it owns. A master that takes it (merged, duplicate, expired) or whose spool
 * does has every part OK or SPOOLED; one that answers 409, refuses it, or for which it
 * cannot be encoded gets each part read again alone and sent as deliver_range sends a
 * range (its conflicts repaired) to it alone. p NULL: the parts are not in one partial
 * (a read after them failed; n may be 1): every master gets each part alone. d->only_master must be
 * NULL; d->source, read_path and lease are restored after. parts[i].results[m] gets each
 * part's result at master m; returns how many of them failed. */
int deliver_parts(deliver_t *d, const partial_t *p, deliver_part_t *parts, int n);

#endif
