/* deliver.c - one task range's frames to every master, with the 409 repair; and one frame
 * of several ranges to every master, with its fallback range by range (see deliver.h).
 *
 * For each master (or the one only_master names): encode the frame with
 * that master's groups, POST it (partials.h), and on a conflict compute the
 * parts of the range the master lacks (ranges_missing over the ranges it
 * answered), read exactly those bytes again into a fresh partial and send each as its
 * own frame to that master alone. A re-sent part may meet a conflict again
 * (another slave is delivering the same range right now); that repeats at most
 * DELIVER_MAX_DEPTH times. A frame (or re-sent part) a master will not take
 * (no answer, 5xx after the retry) goes to the spool when there is one. A frame of
 * several ranges is encoded with their list (frame.h); a master that does not take it
 * whole (a 409, a refusal) gets each range read again alone and sent as above. */
#include "deliver.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <inttypes.h>
#include <string.h>

#include "frame.h"
#include "invariant.h"
#include "log.h"
#include "partials.h"

static deliver_result_t send_range(deliver_t *d, int m, const partial_t *p, uint64_t a, uint64_t b,
                                   int depth);

/* Encode into d->frame the frame for master m from p: of [a, b) of d's range, or of the
 * ranges of fr when it is not NULL. */
static apr_status_t encode(deliver_t *d, int m, const partial_t *p, uint64_t a, uint64_t b,
                           const frame_ranges_t *fr, abbey_err_t *err)
{
    const rules_job_t *job = d->job;
    uint8_t *groups = apr_pcalloc(d->pool, (apr_size_t)job->ngroups + 1);
    frame_header_t h;

    memset(&h, 0, sizeof h);
    h.config_hash = d->cfg->hash;
    h.round = d->round;
    h.lease = d->lease;
    h.start = a;
    h.end = b;
    h.ranges = fr; /* (then lease, start, end and source are its first range's) */
    frame_header_counts(&h, p);
    if (strlen(job->name) >= sizeof h.job || strlen(d->source) >= sizeof h.source ||
        strlen(d->slave) >= sizeof h.slave || strlen(d->cfg->masters[m].name) >= sizeof h.master) {
        abbey_err_set(err, "a name is too long for a frame header (source %s)", d->source);
        return APR_EINVAL;
    }
    strcpy(h.job, job->name);
    strcpy(h.source, d->source);
    strcpy(h.slave, d->slave);
    strcpy(h.master, d->cfg->masters[m].name);
    for (int g = 0; g < job->ngroups; g++)
        groups[g] = job->groups[g].master == m;
    buf_reset(d->frame);
    return frame_encode(&h, p, groups, d->frame, err);
}

/* "<source> [a, b)" of d's range, for logs (in d->pool). */
static const char *range_text(const deliver_t *d, uint64_t a, uint64_t b)
{
    return apr_psprintf(d->pool, "%s [%" PRIu64 ", %" PRIu64 ")", d->source, a, b);
}

/* POST d->frame (of what: its ranges as text) to master m (tried twice while it is
 * unavailable) into *ans; a frame not delivered is logged with the reason. */
static partials_result_t post_frame(deliver_t *d, int m, const char *what, partials_answer_t *ans)
{
    const rules_master_t *ms = &d->cfg->masters[m];
    const char *url = partials_url(ms->url ? ms->url : d->fallback_url, d->pool);
    partials_retry_t retry = {2, d->retry_ms, NULL, NULL};

    partials_post(d->hc, url, d->frame->data, d->frame->len, &retry, d->resp, d->pool, ans);
    switch (ans->result) {
    case PARTIALS_UNAVAILABLE:
        log_msg("master %s: frame %s not delivered: %s", ms->name, what, ans->reason);
        break;
    case PARTIALS_REFUSED:
        log_msg("master %s: frame %s refused: %s", ms->name, what, ans->reason);
        break;
    case PARTIALS_EXPIRED:
        log_msg("master %s: frame %s delivered, but expired: its period is no longer kept, so "
                "it is counted in no report",
                ms->name, what);
        break;
    default:
        break;
    }
    return ans->result;
}

/* Read [a, b) again and send it to master m alone. */
static deliver_result_t resend_part(deliver_t *d, int m, uint64_t a, uint64_t b, int depth)
{
    abbey_err_t err;
    uint64_t done;
    apr_status_t rv;

    if (!d->reread)
        d->reread = partial_create(d->job, d->pool);
    partial_clear(d->reread);
    rv = task_run_file(d->engine, d->read_path, a, b, 0, d->io, d->reread, NULL, &done, d->pool,
                       &err);
    if (rv != APR_SUCCESS) {
        log_msg("master %s: cannot read %s [%" PRIu64 ", %" PRIu64 ") again: %s",
                d->cfg->masters[m].name, d->source, a, b, err.msg);
        return DELIVER_FAILED;
    }
    if (done != b) {
        log_msg("master %s: %s [%" PRIu64 ", %" PRIu64 ") read again ends at %" PRIu64
                ", not at a line end as before (changed under the same instance?)",
                d->cfg->masters[m].name, d->source, a, b, done);
        return DELIVER_FAILED;
    }
    d->parts_resent++;
    return send_range(d, m, d->reread, a, b, depth);
}

/* Master m has part of [a, b) (have, from its 409 answer): send it the rest. */
static deliver_result_t repair(deliver_t *d, int m, uint64_t a, uint64_t b, const ranges_t *have,
                               int depth)
{
    uint64_t(*miss)[2];
    size_t nmiss;
    int spooled = 0;

    miss = apr_palloc(d->pool, sizeof *miss * (DELIVER_MAX_PARTS + 1));
    nmiss = ranges_missing(have, a, b, miss, DELIVER_MAX_PARTS + 1);
    if (nmiss > DELIVER_MAX_PARTS) {
        log_msg("master %s: frame %s [%" PRIu64 ", %" PRIu64 "): more than %d missing parts",
                d->cfg->masters[m].name, d->source, a, b, DELIVER_MAX_PARTS);
        return DELIVER_FAILED;
    }
    for (size_t i = 0; i < nmiss; i++) {
        deliver_result_t r = resend_part(d, m, miss[i][0], miss[i][1], depth + 1);
        if (r == DELIVER_FAILED)
            return DELIVER_FAILED;
        spooled |= r == DELIVER_SPOOLED;
    }
    return spooled ? DELIVER_SPOOLED : DELIVER_OK;
}

/* Master m did not take d->frame (of what): into the spool when there is one.
 * A failed append is logged loudly: the lease stays unacknowledged. */
static deliver_result_t spool_frame(deliver_t *d, int m, const char *what)
{
    const char *master = d->cfg->masters[m].name, *file;
    abbey_err_t err;

    if (!d->spool)
        return DELIVER_FAILED;
    if (spool_append(d->spool, master, d->job->name, d->frame->data, d->frame->len,
                     (int64_t)(apr_time_now() / 1000), d->pool, &file, &err) != APR_SUCCESS) {
        log_msg("SPOOL FAILED: master %s: frame %s could not be written to spool file %s: %s; "
                "lease %" PRIu64 " stays unacknowledged (it expires and the range is read "
                "again: nothing is lost)",
                master, what, file, err.msg, d->lease);
        return DELIVER_FAILED;
    }
    log_msg("master %s: frame %s spooled to %s", master, what, file);
    return DELIVER_SPOOLED;
}

/* Encode and send the frame of [a, b) from p to master m; repair conflicts. */
static deliver_result_t send_range(deliver_t *d, int m, const partial_t *p, uint64_t a, uint64_t b,
                                   int depth)
{
    abbey_err_t err;
    partials_answer_t ans;
    const char *what = range_text(d, a, b);
    if (encode(d, m, p, a, b, NULL, &err) != APR_SUCCESS) {
        log_msg("master %s: cannot encode the frame of %s [%" PRIu64 ", %" PRIu64 "): %s",
                d->cfg->masters[m].name, d->source, a, b, err.msg);
        return DELIVER_FAILED;
    }
    switch (post_frame(d, m, what, &ans)) {
    case PARTIALS_MERGED:
    case PARTIALS_DUPLICATE:
    case PARTIALS_EXPIRED:
        return DELIVER_OK;
    case PARTIALS_CONFLICT:
        if (depth >= DELIVER_MAX_DEPTH) {
            log_msg("master %s: frame %s [%" PRIu64 ", %" PRIu64 "): still in conflict after "
                    "%d repairs",
                    d->cfg->masters[m].name, d->source, a, b, depth);
            return DELIVER_FAILED;
        }
        return repair(d, m, a, b, ans.have, depth);
    case PARTIALS_UNAVAILABLE:
        return spool_frame(d, m, what);
    default:
        return DELIVER_FAILED;
    }
}

/* The index of d->only_master in d->cfg; -1 when it is not set, -2 when it
 * names no master (logged). */
static int only_index(const deliver_t *d, uint64_t start, uint64_t end)
{
    if (!d->only_master)
        return -1;
    for (int m = 0; m < d->cfg->nmasters; m++)
        if (strcmp(d->cfg->masters[m].name, d->only_master) == 0)
            return m;
    log_msg("frame %s [%" PRIu64 ", %" PRIu64 "): master '%s' is not in the config: not sent",
            d->source, start, end, d->only_master);
    return -2;
}

int deliver_range(deliver_t *d, const partial_t *p, uint64_t start, uint64_t end)
{
    int failed = 0, only = only_index(d, start, end);
    d->parts_resent = 0;
    for (int m = 0; m < d->cfg->nmasters; m++) {
        if (only != -1 && m != only) {
            d->results[m] = DELIVER_SKIPPED;
            continue;
        }
        d->results[m] = send_range(d, m, p, start, end, 0);
        failed += d->results[m] == DELIVER_FAILED;
    }
    failed += only == -2;
    if (d->reread) {
        partial_destroy(d->reread);
        d->reread = NULL;
    }
    return failed;
}

/* ---- a frame of several ranges ------------------------------------------------ */

/* What send_parts did for a master: its result, or FALLBACK: send each range alone. */
#define DELIVER_FALLBACK ((deliver_result_t)-1)

/* The one frame of every range to master m: taken (OK), spooled, failed (a spool that
 * cannot take it), or DELIVER_FALLBACK when the master would not take it whole. */
static deliver_result_t send_parts(deliver_t *d, int m, const partial_t *p,
                                   const frame_ranges_t *fr, const char *what)
{
    const char *master = d->cfg->masters[m].name;
    partials_answer_t ans;
    abbey_err_t err;

    if (encode(d, m, p, 0, 0, fr, &err) != APR_SUCCESS) {
        log_msg("master %s: cannot encode the frame of %s (%s): each range is read again and "
                "sent alone",
                master, what, err.msg);
        return DELIVER_FALLBACK;
    }
    switch (post_frame(d, m, what, &ans)) {
    case PARTIALS_MERGED:
    case PARTIALS_DUPLICATE:
    case PARTIALS_EXPIRED:
        return DELIVER_OK;
    case PARTIALS_UNAVAILABLE:
        return spool_frame(d, m, what);
    case PARTIALS_CONFLICT:
        log_msg("master %s: frame %s: conflict, it holds some of them (%.*s); each range is "
                "read again and sent alone",
                master, what, (int)(d->resp->body.len < 600 ? d->resp->body.len : 600),
                d->resp->body.data ? (const char *)d->resp->body.data : "");
        return DELIVER_FALLBACK;
    default: /* refused (logged): e.g. a master that predates frames of several ranges */
        log_msg("master %s: each range of %s is read again and sent alone", master, what);
        return DELIVER_FALLBACK;
    }
}

/* Part x read again alone and sent to master m (deliver_range's way, conflicts included). */
static deliver_result_t part_alone(deliver_t *d, int m, const deliver_part_t *x)
{
    const char *source = d->source, *read_path = d->read_path;
    uint64_t lease = d->lease;
    deliver_result_t r;

    d->source = x->range.source;
    d->read_path = x->read_path;
    d->lease = x->range.lease;
    r = resend_part(d, m, x->range.start, x->range.end, 0);
    d->source = source;
    d->read_path = read_path;
    d->lease = lease;
    return r;
}

int deliver_parts(deliver_t *d, const partial_t *p, deliver_part_t *parts, int n)
{
    frame_ranges_t *fr = apr_pcalloc(d->pool, sizeof *fr);
    char *what = apr_palloc(d->pool, 1024);
    int failed = 0;

    ABBEY_ASSERT(n >= (p ? 2 : 1) && n <= FRAME_MAX_RANGES && !d->only_master);
    d->parts_resent = 0;
    fr->n = (uint32_t)n;
    for (int i = 0; i < n; i++)
        fr->r[i] = parts[i].range;
    frame_ranges_text(fr, what, 1024);
    for (int m = 0; m < d->cfg->nmasters; m++) {
        deliver_result_t r = p ? send_parts(d, m, p, fr, what) : DELIVER_FALLBACK;
        for (int i = 0; i < n; i++) {
            parts[i].results[m] = r == DELIVER_FALLBACK ? part_alone(d, m, &parts[i]) : r;
            failed += parts[i].results[m] == DELIVER_FAILED;
        }
    }
    if (d->reread) {
        partial_destroy(d->reread);
        d->reread = NULL;
    }
    return failed;
}
