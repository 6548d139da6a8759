/* spool.h - the slave's spool: frames a master would not take, kept on disk and re-delivered.
 *
 * Layout: SPOOL/<master>/<job>-<seq>.spool, frames back to back
 * (common/framelog.h); seq is one counter for the whole spool directory,
 * zero-padded to 10 digits, so names sort by age. Per (master, job) one
 * segment is written at a time; a new one starts when it passes the segment
 * limit (default 64 MiB) and after a restart (segments found at start-up are
 * never written again). An append is fsync'ed before it returns: the lease
 * may then be completed. A segment's progress (the offset of the first frame
 * not yet acknowledged, and how many frames were held) is kept in a sidecar
 * SEGMENT.pos ("<offset> <held>\n"); it is a hint: a lost sidecar means
 * frames are sent again (the master answers duplicate).
 *
 * Re-delivery (spool_redeliver_pass, run by one thread per slave process)
 * walks the oldest segments first and POSTs each frame to the master its
 * header names (URL from the config it is given), through slave/partials.h.
 * Answers:
 *   200 (merged, duplicate, expired)      - acknowledged (expired is logged: the
 *                                           master counts it in no report);
 *   409 whose ranges cover the frame      - acknowledged (a duplicate);
 *   409 not covering, 400, 413, a 409     - held: logged with the ranges and
 *   without valid ranges                    kept on disk (abbey-replay or an
 *                                           operator decides); the walk goes on;
 *   no answer, 5xx, other (401, a 200     - the master is backed off (1 s
 *   without a result abbey knows)           doubling to 60 s) and its walk stops.
 * A segment all of whose frames were acknowledged is deleted (with its
 * sidecar); one with held frames stays. Damaged byte ranges are logged with
 * the file and byte offsets and skipped.
 *
 * Thread safety: every function takes the spool's lock (appends from worker
 * threads, the pass from the re-delivery thread, the backlog from anyone);
 * POSTs and walks run outside it. */
#ifndef ABBEY_SPOOL_H
#define ABBEY_SPOOL_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hclient.h"
#include "rules.h"

#define SPOOL_SEGMENT_MAX (64u << 20) /* a new segment once the current one passes this */
#define SPOOL_BACKOFF_MIN 1000        /* ms: the first pause after a failed re-delivery */
#define SPOOL_BACKOFF_MAX 60000       /* ms: pauses double up to this */
#define SPOOL_LOG_EVERY 60000         /* ms: the backlog is logged this often while non-empty */

typedef struct spool_t spool_t;

/* What is waiting: frames not yet acknowledged (held ones not counted), their
 * bytes, and the age of the oldest (ms; 0 when empty). A segment found at
 * start-up counts from its modification time. */
typedef struct spool_backlog_t {
    uint64_t frames, bytes;
    int64_t oldest_ms;
    uint64_t held; /* frames kept for abbey-replay / the operator */
} spool_backlog_t;

/* Open the spool under dir (created, mode 0700, when missing) at time now
 * and pick up the segments already there (their backlog is counted by
 * walking them from their sidecar offsets). segment_max 0: the default. The
 * spool is closed with pool. Returns APR status with the reason in err
 * (dir cannot be created or listed). */
apr_status_t spool_open(const char *dir, uint64_t segment_max, int64_t now_ms, apr_pool_t *pool,
                        spool_t **out, abbey_err_t *err);

/* Append one frame (as sent to the master, whose header names master and
 * job) to the (master, job) segment and fsync it. *file (may be NULL) gets
 * the segment's path (pool memory) also on failure, for the caller's log. On
 * failure (ENOSPC, EFBIG, permissions) nothing of the frame stays in the
 * file, and the APR status is returned with "path: reason" in err. */
apr_status_t spool_append(spool_t *sp, const char *master, const char *job, const void *frame,
                          size_t len, int64_t now_ms, apr_pool_t *pool, const char **file,
                          abbey_err_t *err);

/* The backlog at time now. */
void spool_backlog(spool_t *sp, int64_t now_ms, spool_backlog_t *out);

/* One re-delivery pass at time now with hc (the caller's client): for each
 * master not backed off, walk its segments oldest first and send their
 * frames (at most max_frames POSTs in all; 0: no limit). cfg gives the
 * masters' URLs (a master without url uses fallback_url, the primary's); a
 * frame whose master is not in cfg is left where it is (logged once).
 * Logs the backlog every SPOOL_LOG_EVERY ms while it is not empty. Returns
 * the ms until something is due (0: call again at once; at most 1000). */
int64_t spool_redeliver_pass(spool_t *sp, hclient_t *hc, const rules_config_t *cfg,
                             const char *fallback_url, int max_frames, int64_t now_ms);

#endif
