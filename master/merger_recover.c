/* merger_recover.c - the merger's journal: attaching it (merger_attach_journal),
 * replaying it and recovering after a restart (merger_recover).
 *
 * merger.c appends every new frame to the attached journal (journal.h) before
 * merging it, so the journal's records are the partial frames themselves.
 * merger_recover hands the newest whole checkpoint to merger_ckpt.c
 * (merger_on_checkpoint restores it) and replays the journal after it through
 * merger_accept, where frames the checkpoint holds are duplicates by range. */
#include "merger_int.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "frame.h"
#include "journal.h"
#include "log.h"
#include "mem.h"

#define RECOVER_LOG_MAX 20 /* refused journal frames logged one by one */

static int64_t now_ms(void)
{
    return (int64_t)(apr_time_now() / 1000);
}

void merger_attach_journal(merger_t *m, journal_t *jn)
{
    apr_thread_mutex_lock(m->lock);
    m->journal = jn;
    m->last_ticket = 0; /* tickets are a journal's own */
    apr_thread_mutex_unlock(m->lock);
}

/* ---- replaying the journal ---------------------------------------------- */

static int on_journal_frame(void *ctx, const char *file, uint64_t offset, const uint8_t *frame,
                            size_t len, const frame_header_t *h)
{
    merger_rx_t *rc = ctx;
    abbey_err_t e;

    if (!rc->checked && merger_ckpt_done(rc) != 0)
        return 1;
    e.msg[0] = 0;
    switch (merger_accept(rc->m, frame, len, NULL, &e)) {
    case MERGE_MERGED:
    case MERGE_EXPIRED:
        rc->merged++;
        break;
    case MERGE_DUPLICATE:
        rc->duplicate++;
        break;
    case MERGE_CONFLICT:
        abbey_err_set(&e, "%s [%" PRIu64 ", %" PRIu64 ")%s overlaps ranges merged before",
                      h->source, h->start, h->end,
                      h->nranges > 1 ? apr_psprintf(rc->pool, " (and %u more ranges of its frame)",
                                                    h->nranges - 1)
                                     : "");
        /* fall through */
    default:
        if (rc->refused++ < RECOVER_LOG_MAX)
            log_msg("recovery: %s @%" PRIu64 ": journal frame of job '%s' not merged: %s", file,
                    offset, h->job, e.msg);
    }
    return 0;
}

static void log_summary(const merger_rx_t *rc, const journal_recovery_t *st, int64_t ms)
{
    const char *ck = "no checkpoint";
    char size[32];

    if (st->checkpoint_seq)
        ck = apr_psprintf(rc->pool, "checkpoint %" PRIu64 " (%" PRIu64 " frames, %s)",
                          st->checkpoint_seq, st->checkpoint_frames,
                          budget_text(st->checkpoint_bytes, size, sizeof size));
    if (st->checkpoints_damaged)
        ck = apr_psprintf(rc->pool, "%s after %d damaged checkpoints", ck, st->checkpoints_damaged);
    log_msg("recovered: %s, journal %d segments %" PRIu64 " frames: %" PRIu64 " merged, %" PRIu64
            " duplicate, %" PRIu64 " refused, %" PRIu64 " damaged ranges, in %" PRId64 " ms",
            ck, st->segments, st->frames, rc->merged, rc->duplicate, rc->refused, st->damaged, ms);
}

apr_status_t merger_recover(merger_t *m, journal_t *jn, abbey_err_t *err)
{
    int64_t t0 = now_ms();
    journal_recovery_t st;
    merger_rx_t rc;
    apr_status_t rv;

    memset(&rc, 0, sizeof rc);
    memset(&st, 0, sizeof st);
    apr_thread_mutex_lock(m->lock);
    if (m->journal) {
        apr_thread_mutex_unlock(m->lock);
        abbey_err_set(err, "merger_recover: a journal is attached; recover before attaching it");
        return APR_EINVAL;
    }
    rc.m = m;
    rc.pool = mem_xpool(m->pool);
    rc.skip = apr_pcalloc(rc.pool, (size_t)(m->cfg->njobs > 0 ? m->cfg->njobs : 1));
    m->recovering = 1; /* journal frames were acknowledged: never refused over the budget */
    apr_thread_mutex_unlock(m->lock);

    rv = journal_recover(jn, merger_on_checkpoint, on_journal_frame, &rc, &st, err);
    apr_thread_mutex_lock(m->lock);
    m->recovering = 0;
    merger_budget_update(m, NULL); /* a job over budget now refuses its new frames */
    apr_thread_mutex_unlock(m->lock);
    if (rv == APR_SUCCESS && !rc.checked)
        merger_ckpt_done(&rc);
    if (rv == APR_SUCCESS && !rc.failed && st.checkpoint_seq && !rc.have_meta) {
        abbey_err_set(&rc.err, "checkpoint %" PRIu64 " has no metadata record", st.checkpoint_seq);
        rc.failed = 1;
    }
    if (rc.failed) {
        abbey_err_set(err, "recovery: %s", rc.err.msg);
        rv = rv == APR_SUCCESS ? APR_EINVAL : rv;
    } else if (rv == APR_SUCCESS) {
        apr_thread_mutex_lock(m->lock);
        for (int i = 0; i < m->cfg->njobs; i++)
            merger_owe_kept_rounds(&m->jobs[i]); /* e.g. journal frames lost to damage */
        apr_thread_mutex_unlock(m->lock);
        log_summary(&rc, &st, now_ms() - t0);
    }
    apr_pool_destroy(rc.pool);
    return rv;
}
