/* sched_recover.c - the scheduler's journal: its records (format, writing),
 * attaching it, replaying it and recovering after a crash (sched_recover;
 * scheduler.h "durability"; the store is journal.h). The checkpoint is
 * sched_ckpt.c's: format, writing, restoring.
 *
 * Every state record is a record frame (frame.h, FRAME_FLAG_RECORD) whose
 * payload is one JSON object with a "type":
 *   "complete"    a successful completion, appended (under the lock, after the
 *                 checks, before it is applied) with all sched_complete_apply
 *                 needs: job, task kind and source, the lease's round, the
 *                 completion's fields (an expansion's "files" too), plus the
 *                 lease id and the time. A read task is found by source and
 *                 instance (a glob's read tasks share names, not instances). The frame
 *                 header repeats job, source#instance, start, end, round, lease
 *                 and slave for tools.
 *   "advance"     sched_advance started or closed rounds at "now" (rounds that
 *                 start, or close at their deadline, with no completion to say
 *                 so). Replayed by calling sched_advance with that time: on the
 *                 same state it does the same thing.
 * (A checkpoint is one record of type "checkpoint": sched_ckpt.c.)
 * Recovery restores the checkpoint onto the scheduler built from the current
 * config (sched_on_checkpoint), then replays the journal: completions through
 * sched_complete_apply (the same code as sched_complete), advances through
 * sched_advance. Leases are not restored. uint64 values are written with
 * jsonio_u64 (integers up to INT64_MAX, decimal strings above) and read with
 * jsonio's reader, which takes either form. */
#include "sched_int.h"

#include <apr_strings.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"

#define LEASE_GAP 1000000 /* lease ids after a recovery start this far above every known one */

/* ---- the journal records ---- */

apr_status_t sched_encode_record(const frame_header_t *h, json_t *root, buf_t *out,
                                 abbey_err_t *err)
{
    if (!root) {
        abbey_err_set(err, "cannot encode a state record: a name or path is not valid UTF-8");
        return APR_EINVAL;
    }
    buf_t js;
    buf_init(&js);
    apr_status_t rv = APR_EINVAL;
    if (jsonio_dump_buf(root, &js) == 0)
        rv = frame_encode_record(h, js.data, js.len, out, err);
    else
        abbey_err_set(err, "cannot encode a state record as JSON");
    json_decref(root);
    buf_free(&js);
    return rv;
}

json_t *sched_decode_record(const uint8_t *frame, size_t len, apr_pool_t *pool, abbey_err_t *err)
{
    frame_header_t h;
    uint8_t *data;
    size_t dlen, flen;

    if (frame_record(frame, len, pool, &h, &data, &dlen, &flen, err) != APR_SUCCESS)
        return NULL;
    return jsonio_parse_object(data, dlen, err);
}

const char *sched_kind_name(sched_kind_t k)
{
    return k == SCHED_READ ? "read" : k == SCHED_EXPAND ? "expand" : "other";
}

int sched_kind_parse(const char *name, sched_kind_t *out)
{
    if (name && strcmp(name, "read") == 0)
        *out = SCHED_READ;
    else if (name && strcmp(name, "expand") == 0)
        *out = SCHED_EXPAND;
    else
        return -1;
    return 0;
}

static json_t *completion_json(const sched_lrec_t *l, const sched_completion_t *c, int64_t now,
                               uint64_t next_lease)
{
    const sched_task_t *t = l->task;
    int bad = 0;
    json_t *o = json_pack(
        "{s:s, s:I, s:o, s:o, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "type", "complete", "now",
        (json_int_t)now, "lease", jsonio_u64(l->id), "next_lease", jsonio_u64(next_lease), "slave",
        c->slave, "job", l->job->cfg->name, "kind", sched_kind_name(t->kind), "round",
        (json_int_t)l->round, "size", (json_int_t)c->size, "lines", (json_int_t)c->lines,
        "bad_lines", (json_int_t)c->bad_lines, "bytes", (json_int_t)c->bytes);
    if (!o)
        return NULL;
    jsonio_put(o, "source", json_string(t->source), &bad);
    if (t->kind == SCHED_READ) {
        jsonio_put(o, "instance", json_string(c->instance), &bad);
        jsonio_put(o, "start", json_integer(c->start), &bad);
        jsonio_put(o, "end", json_integer(c->end), &bad);
        jsonio_put(o, "at_end", json_boolean(c->at_end > 0), &bad);
        if (c->next_instance && c->next_instance[0])
            jsonio_put(o, "next_instance", json_string(c->next_instance), &bad);
    } else {
        json_t *paths = json_array();
        for (int i = 0; i < c->npaths; i++)
            jsonio_push(paths, json_string(c->paths[i]), &bad);
        jsonio_put(o, "paths", paths, &bad);
        if (c->files)
            jsonio_put(o, "files", sched_files_json(c), &bad);
    }
    json_t *d = json_object();
    for (int i = 0; i < c->ndeliveries; i++)
        jsonio_put(d, c->delivery_masters[i], json_string(c->delivery_results[i]), &bad);
    jsonio_put(o, "deliveries", d, &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

apr_status_t sched_journal_completion(sched_t *s, const sched_lrec_t *l,
                                      const sched_completion_t *c, int64_t now_ms, uint64_t *ticket,
                                      abbey_err_t *err)
{
    frame_header_t h;
    buf_t b;
    memset(&h, 0, sizeof h);
    h.round = (uint64_t)l->round;
    h.lease = l->id;
    if (l->task->kind == SCHED_READ) {
        h.start = (uint64_t)c->start;
        h.end = (uint64_t)c->end;
        h.lines = c->lines > 0 ? (uint64_t)c->lines : 0;
        h.bad_lines = c->bad_lines > 0 ? (uint64_t)c->bad_lines : 0;
        h.bytes = c->bytes > 0 ? (uint64_t)c->bytes : 0;
    }
    /* the header strings are for tools: cut to their size */
    snprintf(h.job, sizeof h.job, "%s", l->job->cfg->name);
    snprintf(h.source, sizeof h.source, "%s#%s", l->task->source,
             l->task->kind == SCHED_READ ? c->instance : "");
    snprintf(h.slave, sizeof h.slave, "%s", c->slave);
    buf_init(&b);
    apr_status_t rv =
        sched_encode_record(&h, completion_json(l, c, now_ms, s->next_lease), &b, err);
    if (rv == APR_SUCCESS)
        rv = journal_append(s->jn, b.data, b.len, ticket, err);
    buf_free(&b);
    if (rv != APR_SUCCESS) {
        abbey_err_prefix(err, "journal");
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

void sched_journal_advance(sched_t *s, int64_t now_ms)
{
    frame_header_t h;
    abbey_err_t err;
    buf_t b;
    memset(&h, 0, sizeof h);
    buf_init(&b);
    json_t *o = json_pack("{s:s, s:I, s:o}", "type", "advance", "now", (json_int_t)now_ms,
                          "next_lease", jsonio_u64(s->next_lease));
    if (sched_encode_record(&h, o, &b, &err) != APR_SUCCESS ||
        journal_append(s->jn, b.data, b.len, NULL, &err) != APR_SUCCESS)
        log_msg("scheduler journal: round start/close at %" PRId64 " not recorded: %s", now_ms,
                err.msg); /* recovery then redoes it at the next record's time */
    buf_free(&b);
}

void sched_attach_journal(sched_t *s, journal_t *jn)
{
    apr_thread_mutex_lock(s->lock);
    s->jn = jn;
    apr_thread_mutex_unlock(s->lock);
}

/* ---- journal replay ---- */

/* A completion record back into c (strings point into o, arrays into x->tmp). */
static void completion_from_json(sched_rx_t *x, json_t *o, sched_kind_t kind, sched_completion_t *c)
{
    memset(c, 0, sizeof *c);
    c->slave = jsonio_get_str(&x->rd, o, "slave", 0, SIZE_MAX);
    c->lease = jsonio_get_u64(&x->rd, o, "lease");
    c->size = jsonio_get_i64(&x->rd, o, "size");
    c->lines = jsonio_get_i64(&x->rd, o, "lines");
    c->bad_lines = jsonio_get_i64(&x->rd, o, "bad_lines");
    c->bytes = jsonio_get_i64(&x->rd, o, "bytes");
    c->npaths = -1;
    c->start = c->end = -1;
    c->at_end = -1;
    if (kind == SCHED_READ) {
        c->instance = jsonio_get_str(&x->rd, o, "instance", 1, SCHED_INSTANCE_MAX - 1);
        c->start = jsonio_get_i64(&x->rd, o, "start");
        c->end = jsonio_get_i64(&x->rd, o, "end");
        c->at_end = json_is_true(json_object_get(o, "at_end"));
        c->next_instance = jsonio_get_str(&x->rd, o, "next_instance", 0, SCHED_INSTANCE_MAX - 1);
        if (!x->rd.failed && (c->start < 0 || c->end < c->start))
            jsonio_fail(&x->rd, "start/end", "is not a range");
    } else {
        json_t *paths = jsonio_get_arr(&x->rd, o, "paths");
        const char **p = apr_palloc(x->tmp, sizeof(char *) * (json_array_size(paths) + 1));
        c->npaths = (int)json_array_size(paths);
        for (int i = 0; i < c->npaths; i++) {
            p[i] = json_string_value(json_array_get(paths, (size_t)i));
            if (!p[i] || !p[i][0])
                jsonio_fail(&x->rd, "paths", "has an item that is not a non-empty string");
        }
        c->paths = p;
        sched_files_parse(&x->rd, json_object_get(o, "files"), c->npaths, x->tmp, &c->files);
    }
    json_t *d = json_object_get(o, "deliveries"), *v;
    const char *name;
    const char **ms = apr_palloc(x->tmp, sizeof(char *) * (json_object_size(d) + 1));
    const char **rs = apr_palloc(x->tmp, sizeof(char *) * (json_object_size(d) + 1));
    json_object_foreach(d, name, v)
    {
        if (json_is_string(v)) {
            ms[c->ndeliveries] = name;
            rs[c->ndeliveries++] = json_string_value(v);
        }
    }
    c->delivery_masters = ms;
    c->delivery_results = rs;
}

static void replay_completion(sched_rx_t *x, json_t *o, int64_t now, const char *at)
{
    sched_t *s = x->s;
    sched_kind_t kind = SCHED_READ;
    sched_completion_t c;
    const char *job_name = jsonio_get_str(&x->rd, o, "job", 1, SIZE_MAX);
    const char *source = jsonio_get_str(&x->rd, o, "source", 1, SIZE_MAX);
    int64_t round = jsonio_get_i64(&x->rd, o, "round");
    if (!x->rd.failed && sched_kind_parse(jsonio_get_str(&x->rd, o, "kind", 1, 15), &kind) < 0)
        jsonio_fail(&x->rd, "kind", "is not read or expand");
    if (!x->rd.failed)
        completion_from_json(x, o, kind, &c);
    if (x->rd.failed) {
        log_msg("scheduler recovery: %s: skipped: %s", at, x->rd.err.msg);
        x->st.skipped++;
        return;
    }
    if (c.lease > x->st.max_lease)
        x->st.max_lease = c.lease;
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now); /* as sched_complete did first */
    sched_job_t *job = sched_job_find(s, job_name);
    sched_task_t *t = !job                 ? NULL
                      : kind == SCHED_READ ? sched_read_task(job, source, c.instance)
                                           : sched_task_find(job, kind, source);
    if (!t || t->gone) {
        x->st.skipped++; /* its job or task left the config */
    } else {
        if (kind == SCHED_READ && ((t->instance[0] && strcmp(t->instance, c.instance) != 0) ||
                                   t->offset != (uint64_t)c.start)) {
            /* only when the state was changed without a record (a config reload
             * before the last checkpoint): the record is the later truth */
            log_msg("scheduler recovery: %s: %s#%s at %" PRIu64 ", the record says %s at %" PRId64
                    ": applied as recorded",
                    at, t->source, t->instance, t->offset, c.instance, c.start);
            snprintf(t->instance, sizeof t->instance, "%s", c.instance);
            t->offset = (uint64_t)c.start;
            x->st.mismatched++;
        }
        sched_complete_apply(s, job, t, round, &c, now);
        x->st.replayed++;
    }
    apr_thread_mutex_unlock(s->lock);
}

/* A journal frame (journal_recover's fn). Bad records are logged and skipped. */
static int on_record(void *ctx, const char *file, uint64_t offset, const uint8_t *frame, size_t len,
                     const frame_header_t *h)
{
    sched_rx_t *x = ctx;
    abbey_err_t err;
    char at[320];
    snprintf(at, sizeof at, "%s@%" PRIu64, file, offset);
    if (!(h->flags & FRAME_FLAG_RECORD)) {
        log_msg("scheduler recovery: %s: not a state record: skipped", at);
        x->st.skipped++;
        return 0;
    }
    apr_pool_clear(x->tmp);
    json_t *root = sched_decode_record(frame, len, x->tmp, &err);
    if (!root) {
        log_msg("scheduler recovery: %s: skipped: %s", at, err.msg);
        x->st.skipped++;
        return 0;
    }
    jsonio_rd_init(&x->rd); /* a bad record is skipped (logged), not fatal */
    jsonio_where(&x->rd, "record");
    const char *type = jsonio_get_str(&x->rd, root, "type", 1, 31);
    int64_t now = jsonio_get_i64(&x->rd, root, "now");
    uint64_t next = jsonio_get_u64(&x->rd, root, "next_lease");
    if (x->rd.failed) {
        log_msg("scheduler recovery: %s: skipped: %s", at, x->rd.err.msg);
        x->st.skipped++;
    } else if (strcmp(type, "complete") == 0) {
        replay_completion(x, root, now, at);
    } else if (strcmp(type, "advance") == 0) {
        apr_thread_mutex_lock(x->s->lock);
        sched_advance(x->s, now);
        apr_thread_mutex_unlock(x->s->lock);
        x->st.advances++;
    } else {
        log_msg("scheduler recovery: %s: unknown record type '%s': skipped", at, type);
        x->st.skipped++;
    }
    if (!x->rd.failed && next > x->st.max_lease + 1)
        x->st.max_lease = next - 1; /* ids below next were handed out */
    json_decref(root);
    return 0;
}

/* ---- recovery ---- */

apr_status_t sched_recover(sched_t *s, journal_t *jn, int64_t now_ms, abbey_err_t *err)
{
    sched_rx_t x;
    journal_recovery_t js;
    memset(&x, 0, sizeof x);
    memset(&js, 0, sizeof js);
    x.s = s;
    apr_thread_mutex_lock(s->lock);
    if (s->leases) {
        apr_thread_mutex_unlock(s->lock);
        abbey_err_set(err, "scheduler recovery: leases were granted already (recover first)");
        return APR_EINVAL;
    }
    for (int j = 0; j < s->njobs; j++)
        sched_job_reset_rounds(&s->jobs[j]); /* a tick before recovery started rounds too early */
    /* rounds that close again while replaying closed before the crash: not delivered
     * again (a consumer catches up with sched_rounds) */
    sched_round_fn on_closed = s->on_closed;
    s->on_closed = NULL;
    s->replaying = 1; /* what replaying redoes was logged when it was done */
    apr_thread_mutex_unlock(s->lock);
    x.tmp = mem_xpool(s->pool);
    apr_status_t rv = journal_recover(jn, sched_on_checkpoint, on_record, &x, &js, err);
    if (rv != APR_SUCCESS && x.stopped)
        abbey_err_set(err, "%s", x.stop.msg); /* not journal_recover's "stopped by the caller" */
    apr_pool_destroy(x.tmp);
    free(x.restored);
    apr_thread_mutex_lock(s->lock);
    s->on_closed = on_closed;
    s->replaying = 0;
    if (rv == APR_SUCCESS) {
        uint64_t top = s->next_lease > x.st.max_lease + 1 ? s->next_lease : x.st.max_lease + 1;
        s->next_lease = top + LEASE_GAP; /* above every id handed out before the restart */
        x.st.checkpoint_seq = js.checkpoint_seq;
        x.st.damaged = js.damaged;
        x.st.elapsed_ms = js.elapsed_ms;
        s->recovered = x.st;
        journal_t *attached = s->jn;
        s->jn = jn; /* this advance is journaled like any other */
        sched_advance(s, now_ms);
        s->jn = attached;
    }
    apr_thread_mutex_unlock(s->lock);
    if (rv != APR_SUCCESS) {
        abbey_err_prefix(err, "scheduler recovery");
        return rv;
    }
    sched_notify(s);
    log_msg("scheduler recovered: checkpoint %" PRIu64 " (%d tasks, %d open and %d closed "
            "rounds), %" PRIu64 " completions replayed, %" PRIu64 " skipped, %" PRIu64
            " mismatched, %" PRIu64 " round advances, %d jobs and %d tasks no longer configured, "
            "%" PRIu64 " damaged ranges, next lease %" PRIu64 ", %" PRId64 " ms",
            x.st.checkpoint_seq, x.st.tasks, x.st.open_rounds, x.st.closed_rounds, x.st.replayed,
            x.st.skipped, x.st.mismatched, x.st.advances, x.st.jobs_dropped, x.st.tasks_dropped,
            x.st.damaged, s->next_lease, x.st.elapsed_ms);
    return APR_SUCCESS;
}
