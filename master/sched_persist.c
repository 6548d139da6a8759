/* sched_persist.c - the scheduler's durability: journal records, checkpoints and
 * recovery after a crash (scheduler.h "durability"; the store is journal.h).
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

#define CKPT_VERSION 1
#define LEASE_GAP 1000000 /* lease ids after a recovery start this far above every known one */

/* ---- JSON writing ---- */

static json_t *ju64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    return json_string(b);
}

/* Append v to array a / set o[k] = v; a NULL v (json_pack or json_string refused a
 * string that is not UTF-8) is remembered in *bad instead of being lost quietly. */
static void push(json_t *a, json_t *v, int *bad)
{
    if (!v || json_array_append_new(a, v) != 0)
        *bad = 1;
}

static void put(json_t *o, const char *k, json_t *v, int *bad)
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
static apr_status_t encode_record(const frame_header_t *h, json_t *root, buf_t *out,
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

typedef struct rd_t {
    abbey_err_t err; /* "<where>: field '<key>' <what>" */
    char where[256]; /* "checkpoint: job 'web' task 3", ... */
    int failed;
} rd_t;

static int rd_fail(rd_t *x, const char *key, const char *what)
{
    if (!x->failed)
        abbey_err_set(&x->err, "%s: field '%s' %s", x->where, key, what);
    x->failed = 1;
    return 0;
}

static int64_t rd_i64(rd_t *x, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return rd_fail(x, key, "missing or not an integer");
    return json_integer_value(v);
}

/* v: an integer >= 0, or a decimal string (values above INT64_MAX). */
static uint64_t rd_u64v(rd_t *x, json_t *v, const char *key)
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
    return (uint64_t)rd_fail(x, key, "missing or not an unsigned integer");
}

static uint64_t rd_u64(rd_t *x, json_t *o, const char *key)
{
    return rd_u64v(x, json_object_get(o, key), key);
}

/* A string shorter than max (no NUL inside); NULL when absent or null and !required. */
static const char *rd_str(rd_t *x, json_t *o, const char *key, size_t max, int required)
{
    json_t *v = json_object_get(o, key);
    if (!required && (!v || json_is_null(v)))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) >= max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        rd_fail(x, key, "missing, not a string, or too long");
        return NULL;
    }
    return json_string_value(v);
}

static json_t *rd_arr(rd_t *x, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_array(v))
        rd_fail(x, key, "missing or not an array");
    return json_is_array(v) ? v : NULL;
}

static void rd_where(rd_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rd_where(rd_t *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->where, sizeof x->where, fmt, ap);
    va_end(ap);
}

/* ---- the journal records ---- */

static const char *kind_name(sched_kind_t k)
{
    return k == SCHED_READ ? "read" : k == SCHED_EXPAND ? "expand" : "other";
}

static int kind_parse(const char *name, sched_kind_t *out)
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
    json_t *o = json_pack("{s:s, s:I, s:o, s:o, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "type",
                          "complete", "now", (json_int_t)now, "lease", ju64(l->id), "next_lease",
                          ju64(next_lease), "slave", c->slave, "job", l->job->cfg->name, "kind",
                          kind_name(t->kind), "round", (json_int_t)l->round, "size",
                          (json_int_t)c->size, "lines", (json_int_t)c->lines, "bad_lines",
                          (json_int_t)c->bad_lines, "bytes", (json_int_t)c->bytes);
    if (!o)
        return NULL;
    put(o, "source", json_string(t->source), &bad);
    if (t->kind == SCHED_READ) {
        put(o, "instance", json_string(c->instance), &bad);
        put(o, "start", json_integer(c->start), &bad);
        put(o, "end", json_integer(c->end), &bad);
        put(o, "at_end", json_boolean(c->at_end > 0), &bad);
        if (c->next_instance && c->next_instance[0])
            put(o, "next_instance", json_string(c->next_instance), &bad);
    } else {
        json_t *paths = json_array();
        for (int i = 0; i < c->npaths; i++)
            push(paths, json_string(c->paths[i]), &bad);
        put(o, "paths", paths, &bad);
    }
    json_t *d = json_object();
    for (int i = 0; i < c->ndeliveries; i++)
        put(d, c->delivery_masters[i], json_string(c->delivery_results[i]), &bad);
    put(o, "deliveries", d, &bad);
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
    apr_status_t rv = encode_record(&h, completion_json(l, c, now_ms, s->next_lease), &b, err);
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
                          "next_lease", ju64(s->next_lease));
    if (encode_record(&h, o, &b, &err) != APR_SUCCESS ||
        journal_append(s->jn, b.data, b.len, NULL, &err) != APR_SUCCESS)
        log_msg("scheduler journal: round start/close at %" PRId64 " not recorded: %s", now_ms,
                err.msg); /* recovery then redoes it at the next record's time */
    buf_free(&b);
}

/* ---- checkpoint: writing ---- */

static json_t *ranges_json(const sched_range_t *g, int n, int *bad)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        push(a, json_pack("[s, o, o]", g[i].source, ju64(g[i].start), ju64(g[i].end)), bad);
    return a;
}

static json_t *task_ckpt(const sched_t *s, const sched_task_t *t, int *bad)
{
    json_t *d = json_object();
    for (int m = 0; m < s->cfg->nmasters; m++)
        if (t->deliv[m])
            put(d, s->cfg->masters[m].name, json_string(t->deliv[m]), bad);
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:I, s:I, s:o, s:o, s:o, s:o}", "kind",
                     kind_name(t->kind), "source", t->source, "glob",
                     t->glob ? json_string(t->glob) : json_null(), "instance", t->instance,
                     "offset", ju64(t->offset), "size", (json_int_t)t->size, "last_leased_ms",
                     (json_int_t)t->last_leased_ms, "lines", ju64(t->lines), "bad_lines",
                     ju64(t->bad_lines), "bytes", ju64(t->bytes), "deliveries", d);
}

static json_t *open_ckpt(const sched_rnd_t *r, int *bad)
{
    char *state = malloc((size_t)r->ntasks + 1);
    json_t *last = json_array();
    if (!state)
        abort();
    for (int i = 0; i < r->ntasks; i++) {
        state[i] = (char)('0' + r->state[i]);
        json_array_append_new(last, json_integer(r->last_range[i]));
    }
    state[r->ntasks] = 0;
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:i, s:s, s:o, s:i, s:i, s:o}", "round", (json_int_t)r->pub.round,
        "start_ms", (json_int_t)r->pub.start_ms, "deadline_ms", (json_int_t)r->pub.deadline_ms,
        "ntasks", r->ntasks, "state", state, "last_range", last, "ndue", r->ndue, "ndone", r->ndone,
        "ranges", ranges_json((const sched_range_t *)r->ranges->elts, r->ranges->nelts, bad));
    free(state);
    return o;
}

static json_t *closed_ckpt(const sched_rnd_t *r, int *bad)
{
    json_t *missing = json_array();
    for (int i = 0; i < r->pub.nmissing; i++)
        json_array_append_new(missing, json_integer(r->pub.missing[i]));
    return json_pack("{s:I, s:I, s:I, s:I, s:b, s:o, s:o}", "round", (json_int_t)r->pub.round,
                     "start_ms", (json_int_t)r->pub.start_ms, "deadline_ms",
                     (json_int_t)r->pub.deadline_ms, "closed_ms", (json_int_t)r->pub.closed_ms,
                     "incomplete", r->pub.incomplete, "ranges",
                     ranges_json(r->pub.ranges, r->pub.nranges, bad), "missing", missing);
}

static json_t *job_ckpt(const sched_t *s, const sched_job_t *job, int *bad)
{
    json_t *tasks = json_array(), *open = json_array(), *closed = json_array();
    for (int i = 0; i < job->tasks->nelts; i++)
        push(tasks, task_ckpt(s, APR_ARRAY_IDX(job->tasks, i, sched_task_t *), bad), bad);
    for (const sched_rnd_t *r = job->open; r; r = r->next)
        push(open, open_ckpt(r, bad), bad);
    for (int i = 0; i < job->nclosed; i++)
        push(closed, closed_ckpt(job->closed[(job->closed_first + i) % SCHED_ROUNDS_KEPT], bad),
             bad);
    json_t *cur = job->cur_round == INT64_MIN ? json_null() : json_integer(job->cur_round);
    return json_pack("{s:s, s:I, s:o, s:I, s:o, s:o, s:o}", "name", job->cfg->name, "round_ms",
                     (json_int_t)job->round_ms, "cur_round", cur, "next_start_ms",
                     (json_int_t)job->next_start_ms, "tasks", tasks, "open", open, "closed",
                     closed);
}

/* The whole state as one JSON object, or NULL when a string could not be encoded. */
static json_t *state_ckpt(const sched_t *s)
{
    int bad = 0;
    json_t *jobs = json_array();
    for (int j = 0; j < s->njobs; j++)
        push(jobs, job_ckpt(s, &s->jobs[j], &bad), &bad);
    if (bad) {
        json_decref(jobs);
        return NULL;
    }
    return json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "type", "checkpoint", "version",
                     CKPT_VERSION, "next_lease", ju64(s->next_lease), "n_granted",
                     ju64(s->n_granted), "n_completed", ju64(s->n_completed), "n_expired",
                     ju64(s->n_expired), "n_renewed", ju64(s->n_renewed), "jobs", jobs);
}

apr_status_t sched_checkpoint(sched_t *s, journal_t *jn, abbey_err_t *err)
{
    frame_header_t h;
    buf_t b;
    memset(&h, 0, sizeof h);
    snprintf(h.source, sizeof h.source, "scheduler checkpoint");
    buf_init(&b);
    apr_thread_mutex_lock(s->lock);
    json_t *state = NULL;
    uint64_t seq = journal_rotate(jn, err); /* the segments before seq: exactly this state */
    if (seq) {
        h.lease = s->next_lease;
        state = state_ckpt(s); /* a copy: encoded and compressed outside the lock */
        s->ckpt_due = 0;
        s->ckpt_cfg = s->cfg;
    }
    apr_thread_mutex_unlock(s->lock);
    apr_status_t rv = seq ? encode_record(&h, state, &b, err) : APR_EGENERAL;
    if (rv == APR_SUCCESS)
        rv = journal_checkpoint(jn, seq, b.data, b.len, err);
    if (rv != APR_SUCCESS) {
        apr_thread_mutex_lock(s->lock);
        s->ckpt_due = 1; /* try again later */
        apr_thread_mutex_unlock(s->lock);
    }
    buf_free(&b);
    if (rv != APR_SUCCESS)
        abbey_err_prefix(err, "scheduler checkpoint");
    return rv;
}

int sched_checkpoint_due(sched_t *s)
{
    apr_thread_mutex_lock(s->lock);
    int due = s->ckpt_due || s->cfg != s->ckpt_cfg;
    apr_thread_mutex_unlock(s->lock);
    return due;
}

void sched_attach_journal(sched_t *s, journal_t *jn)
{
    apr_thread_mutex_lock(s->lock);
    s->jn = jn;
    apr_thread_mutex_unlock(s->lock);
}

/* ---- checkpoint: restoring ---- */

typedef struct rx_t {
    sched_t *s;
    abbey_err_t stop; /* why on_checkpoint stopped journal_recover */
    int stopped;
    rd_t rd;                 /* the record or checkpoint being read */
    apr_pool_t *tmp;         /* cleared per record */
    int ckpt_frames;         /* frames of the checkpoint seen */
    sched_task_t **restored; /* the tasks the checkpoint restored (to count the dropped) */
    size_t nrestored, restored_cap;
    sched_recovery_stats_t st;
} rx_t;

static void restored_push(rx_t *x, sched_task_t *t)
{
    if (x->nrestored == x->restored_cap) {
        x->restored_cap = x->restored_cap ? 2 * x->restored_cap : 64;
        x->restored = realloc(x->restored, sizeof(*x->restored) * x->restored_cap);
        if (!x->restored)
            abort();
    }
    x->restored[x->nrestored++] = t;
}

/* [[source, start, end], ...] into arr (sched_range_t, strings in pool). */
static void restore_ranges(rx_t *x, json_t *a, apr_array_header_t *arr, apr_pool_t *pool)
{
    for (size_t i = 0; a && i < json_array_size(a) && !x->rd.failed; i++) {
        json_t *g = json_array_get(a, i);
        const char *src = json_string_value(json_array_get(g, 0));
        uint64_t start = rd_u64v(&x->rd, json_array_get(g, 1), "ranges");
        uint64_t end = rd_u64v(&x->rd, json_array_get(g, 2), "ranges");
        if (!src || json_array_size(g) != 3 || end < start) {
            rd_fail(&x->rd, "ranges", "has an item that is not [source, start, end]");
            return;
        }
        sched_range_t *r = apr_array_push(arr);
        r->source = apr_pstrdup(pool, src);
        r->start = start;
        r->end = end;
    }
}

/* The delivery result literal record_counters would have stored, or NULL. */
static const char *deliv_literal(const char *v)
{
    static const char *const known[] = {"ok", "spooled", "failed"};
    for (size_t i = 0; v && i < sizeof known / sizeof *known; i++)
        if (strcmp(v, known[i]) == 0)
            return known[i];
    return NULL;
}

static void restore_task(rx_t *x, sched_job_t *job, json_t *o)
{
    sched_t *s = x->s;
    sched_kind_t kind;
    const char *source = rd_str(&x->rd, o, "source", SIZE_MAX, 1);
    const char *kname = rd_str(&x->rd, o, "kind", 16, 1);
    if (x->rd.failed || !*source || kind_parse(kname, &kind) < 0) {
        rd_fail(&x->rd, "kind/source", "must be read/expand and a non-empty source");
        return;
    }
    if (sched_task_find(job, kind, source)) {
        rd_fail(&x->rd, "source", "names a task already restored");
        return;
    }
    const char *instance = rd_str(&x->rd, o, "instance", SCHED_INSTANCE_MAX, 1);
    const char *glob = rd_str(&x->rd, o, "glob", SIZE_MAX, 0);
    uint64_t offset = rd_u64(&x->rd, o, "offset");
    int64_t size = rd_i64(&x->rd, o, "size"), last = rd_i64(&x->rd, o, "last_leased_ms");
    uint64_t lines = rd_u64(&x->rd, o, "lines"), bad = rd_u64(&x->rd, o, "bad_lines");
    uint64_t bytes = rd_u64(&x->rd, o, "bytes");
    json_t *d = json_object_get(o, "deliveries"), *v;
    if (!json_is_object(d))
        rd_fail(&x->rd, "deliveries", "missing or not an object");
    if (x->rd.failed)
        return;
    /* labels come from the config (sched_set_config, after the restore) */
    sched_task_t *t = sched_task_add(s, job, kind, source, NULL, 0);
    snprintf(t->instance, sizeof t->instance, "%s", instance);
    t->glob = glob ? apr_pstrdup(s->pool, glob) : NULL;
    t->offset = offset;
    t->size = size < 0 ? -1 : size;
    t->last_leased_ms = last;
    t->lines = lines;
    t->bad_lines = bad;
    t->bytes = bytes;
    const char *name;
    json_object_foreach(d, name, v)
    {
        const rules_master_t *m = rules_find_master(s->cfg, name);
        if (m) /* a master no longer in the config: its result is dropped */
            t->deliv[m->index] = deliv_literal(json_string_value(v));
    }
    restored_push(x, t);
}

static void restore_open(rx_t *x, sched_job_t *job, json_t *o)
{
    int64_t number = rd_i64(&x->rd, o, "round"), ntasks = rd_i64(&x->rd, o, "ntasks");
    const char *state = rd_str(&x->rd, o, "state", SIZE_MAX, 1);
    json_t *last = rd_arr(&x->rd, o, "last_range"), *ranges = rd_arr(&x->rd, o, "ranges");
    int64_t ndue = rd_i64(&x->rd, o, "ndue"), ndone = rd_i64(&x->rd, o, "ndone");
    if (x->rd.failed)
        return;
    if (ntasks < 0 || ntasks > job->tasks->nelts || strlen(state) != (size_t)ntasks ||
        json_array_size(last) != (size_t)ntasks || ndone < 0 || ndone > ndue) {
        rd_fail(&x->rd, "ntasks", "does not agree with state, last_range, ndue, ndone or tasks");
        return;
    }
    sched_rnd_t *r = sched_round_new(x->s, job, number, (int)ntasks);
    r->pub.start_ms = rd_i64(&x->rd, o, "start_ms");
    r->pub.deadline_ms = rd_i64(&x->rd, o, "deadline_ms");
    r->ndue = (int)ndue;
    r->ndone = (int)ndone;
    restore_ranges(x, ranges, r->ranges, r->pool);
    for (int i = 0; i < ntasks && !x->rd.failed; i++) {
        json_t *lr = json_array_get(last, (size_t)i);
        if (state[i] < '0' + SCHED_NOT_DUE || state[i] > '0' + SCHED_DONE || !json_is_integer(lr) ||
            json_integer_value(lr) < -1 || json_integer_value(lr) >= r->ranges->nelts)
            rd_fail(&x->rd, "state/last_range", "has a bad value");
        r->state[i] = (uint8_t)(state[i] - '0');
        r->last_range[i] = (int)json_integer_value(lr);
    }
    if (x->rd.failed) {
        sched_round_unref(r);
        return;
    }
    sched_rnd_t **tail = &job->open;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    x->st.open_rounds++;
}

static void restore_closed(rx_t *x, sched_job_t *job, json_t *o)
{
    int64_t number = rd_i64(&x->rd, o, "round");
    json_t *ranges = rd_arr(&x->rd, o, "ranges"), *missing = rd_arr(&x->rd, o, "missing");
    json_t *inc = json_object_get(o, "incomplete");
    if (!json_is_boolean(inc))
        rd_fail(&x->rd, "incomplete", "missing or not a boolean");
    if (x->rd.failed)
        return;
    sched_rnd_t *r = sched_round_new(x->s, job, number, 0);
    r->pub.start_ms = rd_i64(&x->rd, o, "start_ms");
    r->pub.deadline_ms = rd_i64(&x->rd, o, "deadline_ms");
    r->pub.closed_ms = rd_i64(&x->rd, o, "closed_ms");
    r->pub.incomplete = json_is_true(inc);
    restore_ranges(x, ranges, r->ranges, r->pool);
    r->pub.nranges = r->ranges->nelts;
    r->pub.ranges = (const sched_range_t *)r->ranges->elts;
    int *m = apr_palloc(r->pool, sizeof(int) * (json_array_size(missing) + 1));
    for (size_t i = 0; i < json_array_size(missing); i++) {
        json_t *v = json_array_get(missing, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
            rd_fail(&x->rd, "missing", "has an item that is not a task number");
        m[i] = (int)json_integer_value(v);
    }
    r->pub.missing = m;
    r->pub.nmissing = (int)json_array_size(missing);
    if (x->rd.failed) {
        sched_round_unref(r);
        return;
    }
    sched_round_keep(job, r);
    x->st.closed_rounds++;
}

/* Forget job's rounds (recovery starts from none: the checkpoint's, or the journal's). */
static void job_reset_rounds(sched_job_t *job)
{
    while (job->open) {
        sched_rnd_t *r = job->open;
        job->open = r->next;
        sched_round_unref(r);
    }
    for (int i = 0; i < job->nclosed; i++)
        sched_round_unref(job->closed[(job->closed_first + i) % SCHED_ROUNDS_KEPT]);
    job->nclosed = job->closed_first = 0;
    job->cur_round = INT64_MIN;
    job->next_start_ms = 0;
}

/* Forget what job holds (it was built from the config; a checkpoint replaces it). */
static void job_reset(sched_job_t *job)
{
    job_reset_rounds(job);
    HASH_CLEAR(hh, job->by_path);
    job->tasks->nelts = 0; /* the tasks' memory stays in the pool */
    job->cap_logged = 0;
}

static void restore_job(rx_t *x, sched_job_t *job, json_t *o)
{
    json_t *cur = json_object_get(o, "cur_round");
    int64_t round_ms = rd_i64(&x->rd, o, "round_ms"), next = rd_i64(&x->rd, o, "next_start_ms");
    json_t *tasks = rd_arr(&x->rd, o, "tasks"), *open = rd_arr(&x->rd, o, "open");
    json_t *closed = rd_arr(&x->rd, o, "closed");
    if (!json_is_null(cur) && !json_is_integer(cur))
        rd_fail(&x->rd, "cur_round", "missing, or not an integer or null");
    if (!x->rd.failed && round_ms <= 0)
        rd_fail(&x->rd, "round_ms", "must be positive");
    if (x->rd.failed)
        return;
    job_reset(job);
    job->round_ms = round_ms; /* sched_set_config applies the config's length from the next round */
    job->cur_round = json_is_null(cur) ? INT64_MIN : json_integer_value(cur);
    job->next_start_ms = next;
    for (size_t i = 0; i < json_array_size(tasks) && !x->rd.failed; i++) {
        rd_where(&x->rd, "checkpoint: job '%s' task %zu", job->cfg->name, i);
        restore_task(x, job, json_array_get(tasks, i));
    }
    for (size_t i = 0; i < json_array_size(open) && !x->rd.failed; i++) {
        rd_where(&x->rd, "checkpoint: job '%s' open round %zu", job->cfg->name, i);
        restore_open(x, job, json_array_get(open, i));
    }
    for (size_t i = 0; i < json_array_size(closed) && !x->rd.failed; i++) {
        rd_where(&x->rd, "checkpoint: job '%s' closed round %zu", job->cfg->name, i);
        restore_closed(x, job, json_array_get(closed, i));
    }
}

static void restore_state(rx_t *x, json_t *root)
{
    sched_t *s = x->s;
    rd_where(&x->rd, "checkpoint");
    const char *type = rd_str(&x->rd, root, "type", 32, 1);
    int64_t version = rd_i64(&x->rd, root, "version");
    json_t *jobs = rd_arr(&x->rd, root, "jobs");
    if (!x->rd.failed && (strcmp(type, "checkpoint") != 0 || version != CKPT_VERSION))
        rd_fail(&x->rd, "type/version", "is not a scheduler checkpoint of version 1");
    uint64_t next = rd_u64(&x->rd, root, "next_lease");
    uint64_t granted = rd_u64(&x->rd, root, "n_granted"),
             done = rd_u64(&x->rd, root, "n_completed");
    uint64_t expired = rd_u64(&x->rd, root, "n_expired"),
             renewed = rd_u64(&x->rd, root, "n_renewed");
    if (x->rd.failed)
        return;
    s->next_lease = next > s->next_lease ? next : s->next_lease;
    s->n_granted = granted;
    s->n_completed = done;
    s->n_expired = expired;
    s->n_renewed = renewed;
    for (size_t i = 0; i < json_array_size(jobs) && !x->rd.failed; i++) {
        json_t *o = json_array_get(jobs, i);
        rd_where(&x->rd, "checkpoint: job %zu", i);
        const char *name = rd_str(&x->rd, o, "name", SIZE_MAX, 1);
        if (x->rd.failed)
            break;
        sched_job_t *job = sched_job_find(s, name);
        if (!job || job->gone) {
            json_t *t = json_object_get(o, "tasks");
            log_msg("scheduler recovery: job %s is no longer in the config: dropped", name);
            x->st.jobs_dropped++;
            x->st.tasks_dropped += (int)json_array_size(t);
            continue;
        }
        restore_job(x, job, o);
    }
}

/* The checkpoint's frame (journal_recover's ckpt_fn). */
static int on_checkpoint(void *ctx, const char *file, uint64_t offset, const uint8_t *frame,
                         size_t len, const frame_header_t *h)
{
    rx_t *x = ctx;
    uint8_t *data;
    size_t dlen, flen;
    json_error_t jerr;
    frame_header_t rh;
    (void)h;
    if (x->ckpt_frames++ > 0) {
        abbey_err_set(&x->stop, "%s@%" PRIu64 ": a second frame in a scheduler checkpoint", file,
                      offset);
        return x->stopped = 1;
    }
    apr_pool_clear(x->tmp);
    if (frame_record(frame, len, x->tmp, &rh, &data, &dlen, &flen, &x->stop) != APR_SUCCESS) {
        abbey_err_prefix(&x->stop, "%s@%" PRIu64, file, offset);
        return x->stopped = 1;
    }
    json_t *root = json_loadb((const char *)data, dlen, 0, &jerr);
    if (!json_is_object(root)) {
        abbey_err_set(&x->stop, "%s@%" PRIu64 ": checkpoint JSON: %s", file, offset,
                      root ? "not an object" : jerr.text);
        json_decref(root);
        return x->stopped = 1;
    }
    sched_t *s = x->s;
    x->rd.failed = 0;
    apr_thread_mutex_lock(s->lock);
    restore_state(x, root);
    apr_thread_mutex_unlock(s->lock);
    json_decref(root);
    if (x->rd.failed) {
        abbey_err_set(&x->stop, "%s: %s", file, x->rd.err.msg);
        return x->stopped = 1;
    }
    /* reconcile with the config: drop what left it, add new sources, labels, round length */
    char announced[sizeof s->announced];
    memcpy(announced, s->announced, sizeof announced);
    sched_set_config(s, s->cfg);
    apr_thread_mutex_lock(s->lock);
    memcpy(s->announced, announced, sizeof announced);
    for (size_t i = 0; i < x->nrestored; i++) {
        if (x->restored[i]->id < 0)
            x->st.tasks_dropped++;
        else
            x->st.tasks++;
    }
    apr_thread_mutex_unlock(s->lock);
    free(x->restored);
    x->restored = NULL;
    x->nrestored = x->restored_cap = 0;
    return 0;
}

/* ---- journal replay ---- */

/* A completion record back into c (strings point into o, arrays into x->tmp). */
static void completion_from_json(rx_t *x, json_t *o, sched_kind_t kind, sched_completion_t *c)
{
    memset(c, 0, sizeof *c);
    c->slave = rd_str(&x->rd, o, "slave", SIZE_MAX, 0);
    c->lease = rd_u64(&x->rd, o, "lease");
    c->size = rd_i64(&x->rd, o, "size");
    c->lines = rd_i64(&x->rd, o, "lines");
    c->bad_lines = rd_i64(&x->rd, o, "bad_lines");
    c->bytes = rd_i64(&x->rd, o, "bytes");
    c->npaths = -1;
    c->start = c->end = -1;
    c->at_end = -1;
    if (kind == SCHED_READ) {
        c->instance = rd_str(&x->rd, o, "instance", SCHED_INSTANCE_MAX, 1);
        c->start = rd_i64(&x->rd, o, "start");
        c->end = rd_i64(&x->rd, o, "end");
        c->at_end = json_is_true(json_object_get(o, "at_end"));
        c->next_instance = rd_str(&x->rd, o, "next_instance", SCHED_INSTANCE_MAX, 0);
        if (!x->rd.failed && (c->start < 0 || c->end < c->start))
            rd_fail(&x->rd, "start/end", "is not a range");
    } else {
        json_t *paths = rd_arr(&x->rd, o, "paths");
        const char **p = apr_palloc(x->tmp, sizeof(char *) * (json_array_size(paths) + 1));
        c->npaths = (int)json_array_size(paths);
        for (int i = 0; i < c->npaths; i++) {
            p[i] = json_string_value(json_array_get(paths, (size_t)i));
            if (!p[i] || !p[i][0])
                rd_fail(&x->rd, "paths", "has an item that is not a non-empty string");
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

static void replay_completion(rx_t *x, json_t *o, int64_t now, const char *at)
{
    sched_t *s = x->s;
    sched_kind_t kind;
    sched_completion_t c;
    const char *job_name = rd_str(&x->rd, o, "job", SIZE_MAX, 1);
    const char *source = rd_str(&x->rd, o, "source", SIZE_MAX, 1);
    int64_t round = rd_i64(&x->rd, o, "round");
    if (!x->rd.failed && kind_parse(rd_str(&x->rd, o, "kind", 16, 1), &kind) < 0)
        rd_fail(&x->rd, "kind", "is not read or expand");
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
    rx_t *x = ctx;
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
    rd_where(&x->rd, "record");
    const char *type = rd_str(&x->rd, root, "type", 32, 1);
    int64_t now = rd_i64(&x->rd, root, "now");
    uint64_t next = rd_u64(&x->rd, root, "next_lease");
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
    rx_t x;
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
        job_reset_rounds(&s->jobs[j]); /* a tick before recovery started rounds too early */
    /* rounds that close again while replaying closed before the crash: not delivered
     * again (a consumer catches up with sched_rounds) */
    sched_round_fn on_closed = s->on_closed;
    s->on_closed = NULL;
    apr_thread_mutex_unlock(s->lock);
    apr_pool_create(&x.tmp, s->pool);
    apr_status_t rv = journal_recover(jn, on_checkpoint, on_record, &x, &js, err);
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
