/* sched_persist.c - the scheduler's durability: journal records, their replay and
 * the recovery after a crash (scheduler.h "durability"; the store is journal.h);
 * the checkpoint's state is written and restored by sched_ckpt.c.
 *
 * Every state record is a record frame (frame.h, FRAME_FLAG_RECORD) whose
 * payload is one JSON object with a "type":
 *   "complete"    a successful completion, appended (under the lock, after the
 *                 checks, before it is applied) with all sched_complete_apply
 *                 needs: job, task kind and source, the lease's round, the
 *                 completion's fields, plus the lease id and the time. The frame
 *                 header repeats job, source#instance, start, end, round, lease
 *                 and slave for tools.
 *   "advance"     sched_advance started or closed rounds at "now" (rounds that
 *                 start, or close at their deadline, with no completion to say
 *                 so). Replayed by calling sched_advance with that time: on the
 *                 same state it does the same thing.
 *   "checkpoint"  the whole state, the one frame of a checkpoint file.
 * Recovery restores the checkpoint onto the scheduler built from the current
 * config (jobs by name; their tasks and rounds exactly as they were), then lets
 * sched_set_config reconcile that with the config (tasks that left it are
 * dropped, new sources added, labels and round length taken from it), then
 * replays the journal: completions through sched_complete_apply (the same code
 * as sched_complete), advances through sched_advance. Leases are not restored.
 * JSON integers are int64: unsigned values above INT64_MAX are written as
 * decimal strings, and readers take either form. */
#include "sched_int.h"

#include <apr_strings.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "log.h"
#include "mem.h"

#define LEASE_GAP 1000000 /* lease ids after a recovery start this far above every known one */

/* ---- JSON writing ---- */

json_t *sched_ju64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    return json_string(b);
}

/* Append v to array a / set o[k] = v; a NULL v (json_pack or json_string refused a
 * string that is not UTF-8) is remembered in *bad instead of being lost quietly. */
void sched_push(json_t *a, json_t *v, int *bad)
{
    if (!v || json_array_append_new(a, v) != 0)
        *bad = 1;
}

void sched_put(json_t *o, const char *k, json_t *v, int *bad)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *bad = 1;
}

static int dump_to_buf(const char *p, size_t n, void *data)
{
    buf_put(data, p, n);
    return 0;
}

/* Append a record frame with header h and root's JSON as payload to out; releases root
 * (NULL: a value could not be put in JSON). */
apr_status_t sched_encode_record(const frame_header_t *h, json_t *root, buf_t *out,
                                 abbey_err_t *err)
{
    if (!root) {
        abbey_err_set(err, "cannot encode a state record: a name or path is not valid UTF-8");
        return APR_EINVAL;
    }
    buf_t js;
    buf_init(&js);
    json_dump_callback(root, dump_to_buf, &js, JSON_COMPACT);
    json_decref(root);
    apr_status_t rv = frame_encode_record(h, js.data, js.len, out, err);
    buf_free(&js);
    return rv;
}

/* ---- JSON reading: the first problem is kept, with where it was ---- */

int sched_rd_fail(sched_rd_t *x, const char *key, const char *what)
{
    if (!x->failed)
        abbey_err_set(&x->err, "%s: field '%s' %s", x->where, key, what);
    x->failed = 1;
    return 0;
}

int64_t sched_rd_i64(sched_rd_t *x, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return sched_rd_fail(x, key, "missing or not an integer");
    return json_integer_value(v);
}

/* v: an integer >= 0, or a decimal string (values above INT64_MAX). */
uint64_t sched_rd_u64v(sched_rd_t *x, json_t *v, const char *key)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return (uint64_t)json_integer_value(v);
    if (json_is_string(v)) {
        const char *p = json_string_value(v);
        char *end;
        errno = 0;
        unsigned long long u = strtoull(p, &end, 10);
        if (*p >= '0' && *p <= '9' && !*end && errno == 0)
            return u;
    }
    return (uint64_t)sched_rd_fail(x, key, "missing or not an unsigned integer");
}

uint64_t sched_rd_u64(sched_rd_t *x, json_t *o, const char *key)
{
    return sched_rd_u64v(x, json_object_get(o, key), key);
}

/* A string shorter than max (no NUL inside); NULL when absent or null and !required. */
const char *sched_rd_str(sched_rd_t *x, json_t *o, const char *key, size_t max, int required)
{
    json_t *v = json_object_get(o, key);
    if (!required && (!v || json_is_null(v)))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) >= max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        sched_rd_fail(x, key, "missing, not a string, or too long");
        return NULL;
    }
    return json_string_value(v);
}

json_t *sched_rd_arr(sched_rd_t *x, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_array(v))
        sched_rd_fail(x, key, "missing or not an array");
    return json_is_array(v) ? v : NULL;
}

void sched_rd_where(sched_rd_t *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->where, sizeof x->where, fmt, ap);
    va_end(ap);
}

/* ---- the journal records ---- */

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
        (json_int_t)now, "lease", sched_ju64(l->id), "next_lease", sched_ju64(next_lease), "slave",
        c->slave, "job", l->job->cfg->name, "kind", sched_kind_name(t->kind), "round",
        (json_int_t)l->round, "size", (json_int_t)c->size, "lines", (json_int_t)c->lines,
        "bad_lines", (json_int_t)c->bad_lines, "bytes", (json_int_t)c->bytes);
    if (!o)
        return NULL;
    sched_put(o, "source", json_string(t->source), &bad);
    if (t->kind == SCHED_READ) {
        sched_put(o, "instance", json_string(c->instance), &bad);
        sched_put(o, "start", json_integer(c->start), &bad);
        sched_put(o, "end", json_integer(c->end), &bad);
        sched_put(o, "at_end", json_boolean(c->at_end > 0), &bad);
        if (c->next_instance && c->next_instance[0])
            sched_put(o, "next_instance", json_string(c->next_instance), &bad);
    } else {
        json_t *paths = json_array();
        for (int i = 0; i < c->npaths; i++)
            sched_push(paths, json_string(c->paths[i]), &bad);
        sched_put(o, "paths", paths, &bad);
    }
    json_t *d = json_object();
    for (int i = 0; i < c->ndeliveries; i++)
        sched_put(d, c->delivery_masters[i], json_string(c->delivery_results[i]), &bad);
    sched_put(o, "deliveries", d, &bad);
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
                          "next_lease", sched_ju64(s->next_lease));
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
    c->slave = sched_rd_str(&x->rd, o, "slave", SIZE_MAX, 0);
    c->lease = sched_rd_u64(&x->rd, o, "lease");
    c->size = sched_rd_i64(&x->rd, o, "size");
    c->lines = sched_rd_i64(&x->rd, o, "lines");
    c->bad_lines = sched_rd_i64(&x->rd, o, "bad_lines");
    c->bytes = sched_rd_i64(&x->rd, o, "bytes");
    c->npaths = -1;
    c->start = c->end = -1;
    c->at_end = -1;
    if (kind == SCHED_READ) {
        c->instance = sched_rd_str(&x->rd, o, "instance", SCHED_INSTANCE_MAX, 1);
        c->start = sched_rd_i64(&x->rd, o, "start");
        c->end = sched_rd_i64(&x->rd, o, "end");
        c->at_end = json_is_true(json_object_get(o, "at_end"));
        c->next_instance = sched_rd_str(&x->rd, o, "next_instance", SCHED_INSTANCE_MAX, 0);
        if (!x->rd.failed && (c->start < 0 || c->end < c->start))
            sched_rd_fail(&x->rd, "start/end", "is not a range");
    } else {
        json_t *paths = sched_rd_arr(&x->rd, o, "paths");
        const char **p = apr_palloc(x->tmp, sizeof(char *) * (json_array_size(paths) + 1));
        c->npaths = (int)json_array_size(paths);
        for (int i = 0; i < c->npaths; i++) {
            p[i] = json_string_value(json_array_get(paths, (size_t)i));
            if (!p[i] || !p[i][0])
                sched_rd_fail(&x->rd, "paths", "has an item that is not a non-empty string");
        }
        c->paths = p;
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
    sched_kind_t kind;
    sched_completion_t c;
    const char *job_name = sched_rd_str(&x->rd, o, "job", SIZE_MAX, 1);
    const char *source = sched_rd_str(&x->rd, o, "source", SIZE_MAX, 1);
    int64_t round = sched_rd_i64(&x->rd, o, "round");
    if (!x->rd.failed && sched_kind_parse(sched_rd_str(&x->rd, o, "kind", 16, 1), &kind) < 0)
        sched_rd_fail(&x->rd, "kind", "is not read or expand");
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
    sched_task_t *t = job ? sched_task_find(job, kind, source) : NULL;
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
    uint8_t *data;
    size_t dlen, flen;
    json_error_t jerr;
    frame_header_t rh;
    abbey_err_t err;
    char at[320];
    snprintf(at, sizeof at, "%s@%" PRIu64, file, offset);
    if (!(h->flags & FRAME_FLAG_RECORD)) {
        log_msg("scheduler recovery: %s: not a state record: skipped", at);
        x->st.skipped++;
        return 0;
    }
    apr_pool_clear(x->tmp);
    if (frame_record(frame, len, x->tmp, &rh, &data, &dlen, &flen, &err) != APR_SUCCESS) {
        log_msg("scheduler recovery: %s: skipped: %s", at, err.msg);
        x->st.skipped++;
        return 0;
    }
    json_t *root = json_loadb((const char *)data, dlen, 0, &jerr);
    if (!json_is_object(root)) {
        log_msg("scheduler recovery: %s: skipped: %s", at, root ? "not a JSON object" : jerr.text);
        json_decref(root);
        x->st.skipped++;
        return 0;
    }
    x->rd.failed = 0; /* a bad record is skipped (logged), not fatal */
    sched_rd_where(&x->rd, "record");
    const char *type = sched_rd_str(&x->rd, root, "type", 32, 1);
    int64_t now = sched_rd_i64(&x->rd, root, "now");
    uint64_t next = sched_rd_u64(&x->rd, root, "next_lease");
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
    apr_thread_mutex_unlock(s->lock);
    x.tmp = mem_xpool(s->pool);
    apr_status_t rv = journal_recover(jn, sched_on_checkpoint, on_record, &x, &js, err);
    if (rv != APR_SUCCESS && x.stopped)
        abbey_err_set(err, "%s", x.stop.msg); /* not journal_recover's "stopped by the caller" */
    apr_pool_destroy(x.tmp);
    free(x.restored);
    apr_thread_mutex_lock(s->lock);
    s->on_closed = on_closed;
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
