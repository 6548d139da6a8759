/* durable.c - the master's stores: lock, recover, attach, checkpoint (see durable.h). */
#include "durable.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define SCHED_CHECKPOINT_MIN_MS 1000

struct durable_t {
    durable_opts_t o;
    apr_pool_t *pool;
    apr_file_t *lock; /* DIR/LOCK, held with an exclusive lock */
    merger_t *merger;
    sched_t *sched;
    journal_t *mj, *sj;
    int64_t merger_last_ms, sched_last_ms;
};

/* Create dir and hold DIR/LOCK exclusively (not blocking). */
static apr_status_t lock_dir(durable_t *d, abbey_err_t *err)
{
    const char *path = apr_pstrcat(d->pool, d->o.dir, "/LOCK", NULL);
    char pid[32], why[256];
    apr_size_t n;
    apr_status_t rv = apr_dir_make_recursive(d->o.dir, APR_FPROT_OS_DEFAULT, d->pool);
    if (rv != APR_SUCCESS) {
        abbey_err_set(err, "%s: cannot create the data directory: %s", d->o.dir,
                      apr_strerror(rv, why, sizeof why));
        return rv;
    }
    rv = apr_file_open(&d->lock, path, APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE, d->pool);
    if (rv != APR_SUCCESS) {
        abbey_err_set(err, "%s: %s", path, apr_strerror(rv, why, sizeof why));
        return rv;
    }
    rv = apr_file_lock(d->lock, APR_FLOCK_EXCLUSIVE | APR_FLOCK_NONBLOCK);
    if (rv != APR_SUCCESS) {
        n = sizeof pid - 1;
        if (apr_file_read(d->lock, pid, &n) != APR_SUCCESS)
            n = 0;
        pid[n] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        abbey_err_set(err, "%s is in use by another process%s%s%s", d->o.dir, n ? " (pid " : "",
                      pid, n ? ")" : "");
        return rv;
    }
    apr_file_trunc(d->lock, 0);
    n = (apr_size_t)snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    apr_file_write(d->lock, pid, &n);
    return APR_SUCCESS;
}

static apr_status_t open_store(durable_t *d, const char *name, journal_t **out, abbey_err_t *err)
{
    return journal_open(d->o.dir, name, d->o.fsync, d->pool, out, err);
}

apr_status_t durable_start(const durable_opts_t *o, merger_t *m, sched_t *s, int64_t now_ms,
                           apr_pool_t *pool, durable_t **out, abbey_err_t *err)
{
    durable_t *d = apr_pcalloc(pool, sizeof *d);
    apr_status_t rv;

    d->o = *o;
    if (d->o.checkpoint_every_ms <= 0)
        d->o.checkpoint_every_ms = 60000;
    if (!d->o.checkpoint_bytes)
        d->o.checkpoint_bytes = 256u << 20;
    d->pool = pool;
    d->merger = m;
    d->sched = s;
    d->merger_last_ms = d->sched_last_ms = now_ms;
    if ((rv = lock_dir(d, err)) != APR_SUCCESS)
        return rv;
    if ((rv = open_store(d, "merger", &d->mj, err)) != APR_SUCCESS ||
        (rv = merger_recover(m, d->mj, err)) != APR_SUCCESS)
        return rv;
    if (s && ((rv = open_store(d, "sched", &d->sj, err)) != APR_SUCCESS ||
              (rv = sched_recover(s, d->sj, now_ms, err)) != APR_SUCCESS))
        return rv;
    merger_attach_journal(m, d->mj);
    if (s)
        sched_attach_journal(s, d->sj);
    log_msg("state in %s, fsync %s, checkpoints every %" PRId64 " ms or %" PRIu64 " journal bytes",
            d->o.dir, journal_fsync_name(d->o.fsync), d->o.checkpoint_every_ms,
            d->o.checkpoint_bytes);
    *out = d;
    return APR_SUCCESS;
}

void durable_checkpoint_merger(durable_t *d, int64_t now_ms)
{
    abbey_err_t err;
    d->merger_last_ms = now_ms;
    if (merger_checkpoint(d->merger, d->mj, &err) != APR_SUCCESS)
        log_msg("merger checkpoint failed (the journal keeps everything; retrying later): %s",
                err.msg);
}

static void checkpoint_sched(durable_t *d, int64_t now_ms)
{
    abbey_err_t err;
    d->sched_last_ms = now_ms;
    if (sched_checkpoint(d->sched, d->sj, &err) != APR_SUCCESS)
        log_msg("scheduler checkpoint failed (the journal keeps everything; retrying later): %s",
                err.msg);
}

void durable_tick(durable_t *d, int64_t now_ms)
{
    journal_stats_t st;
    journal_stats(d->mj, &st);
    if (now_ms - d->merger_last_ms >= d->o.checkpoint_every_ms ||
        st.segment_bytes >= d->o.checkpoint_bytes)
        durable_checkpoint_merger(d, now_ms);
    if (!d->sched || now_ms - d->sched_last_ms < SCHED_CHECKPOINT_MIN_MS)
        return;
    /* a checkpoint writes every task: after closed rounds only once the journal since the
     * last one holds as much (idle rounds add a small record each), so its cost stays
     * in proportion to what happened, not to the number of tasks */
    journal_stats(d->sj, &st);
    if (now_ms - d->sched_last_ms >= d->o.checkpoint_every_ms ||
        st.segment_bytes >= d->o.checkpoint_bytes ||
        (sched_checkpoint_due(d->sched) && st.segment_bytes >= st.checkpoint_bytes))
        checkpoint_sched(d, now_ms);
}

static void store_json(journal_t *j, buf_t *out)
{
    journal_stats_t st;
    journal_stats(j, &st);
    buf_printf(out,
               "{\"appended_frames\":%" PRIu64 ",\"appended_bytes\":%" PRIu64 ",\"fsyncs\":%" PRIu64
               ",\"journal_bytes\":%" PRIu64 ",\"checkpoints\":%" PRIu64
               ",\"checkpoint_seq\":%" PRIu64 ",\"checkpoint_bytes\":%" PRIu64 ",\"failed\":%s}",
               st.appended_frames, st.appended_bytes, st.fsyncs, st.segment_bytes, st.checkpoints,
               st.checkpoint_seq, st.checkpoint_bytes, st.failed ? "true" : "false");
}

void durable_status_json(durable_t *d, buf_t *out)
{
    buf_printf(out, "{\"fsync\":\"%s\",\"merger\":", journal_fsync_name(d->o.fsync));
    store_json(d->mj, out);
    if (d->sj) {
        buf_printf(out, ",\"sched\":");
        store_json(d->sj, out);
    }
    buf_printf(out, "}");
}

void durable_stop(durable_t *d)
{
    int64_t now = (int64_t)(apr_time_now() / 1000);
    durable_checkpoint_merger(d, now);
    if (d->sched)
        checkpoint_sched(d, now);
    merger_attach_journal(d->merger, NULL);
    if (d->sched)
        sched_attach_journal(d->sched, NULL);
    journal_close(d->mj);
    if (d->sj)
        journal_close(d->sj);
    apr_file_unlock(d->lock);
    apr_file_close(d->lock);
}
