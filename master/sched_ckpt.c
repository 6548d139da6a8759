/* sched_ckpt.c - the scheduler's checkpoint: its format, writing it
 * (sched_checkpoint) and restoring it during recovery (sched_on_checkpoint,
 * called through sched_recover in sched_recover.c, which replays the journal
 * after it).
 *
 * A checkpoint is one record frame (frame.h, FRAME_FLAG_RECORD; its header's
 * lease is the next lease id) whose JSON payload is the whole state:
 *   {"type": "checkpoint", "version": 2, "next_lease", "n_granted",
 *    "n_completed", "n_expired", "n_renewed", "jobs": [job, ...]}
 *   job:    {"name", "round_ms", "cur_round" (null: none yet), "next_start_ms",
 *            "tasks": [{"kind", "source", "glob" (or null), "instance", "offset",
 *            "size", "last_leased_ms", "lines", "bad_lines", "bytes",
 *            "deliveries": {master: result}, "ident" (a glob's read task of one
 *            file), "finished", "stamp" (an expand task's listings)}, ...],
 *            "ident_seq", "files": [the files globs listed: sched_ident.c],
 *            "open": [{"round", "start_ms", "deadline_ms", "ntasks", "state" (a
 *            digit per task), "last_range", "ndue", "ndone", "ranges"}, ...],
 *            "closed": [{"round", "start_ms", "deadline_ms", "closed_ms",
 *            "incomplete", "ranges", "missing"}, ...]}
 *   ranges: [[source, start, end], ...]
 * uint64 values as jsonio_u64 writes them. Version 1 (without the files of
 * globs, "ident", "finished", "stamp", "ident_seq") is read too. Restoring puts the jobs still in
 * the config back (by name; their tasks and rounds exactly as they were), then
 * lets sched_set_config reconcile that with the config (tasks that left it
 * are dropped, new sources added, labels and round length taken from it). A
 * checkpoint that does not read back stops recovery with the file and the
 * first bad field. */
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

#define CKPT_VERSION 2 /* 1 is read too: it has no glob files */

/* ---- checkpoint: writing ---- */

static json_t *ranges_json(const sched_range_t *g, int n, int *bad)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        jsonio_push(
            a, json_pack("[s, o, o]", g[i].source, jsonio_u64(g[i].start), jsonio_u64(g[i].end)),
            bad);
    return a;
}

static json_t *task_ckpt(const sched_t *s, const sched_task_t *t, int *bad)
{
    json_t *d = json_object();
    for (int m = 0; m < s->cfg->nmasters; m++)
        if (t->deliv[m])
            jsonio_put(d, s->cfg->masters[m].name, json_string(t->deliv[m]), bad);
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:b, s:b, s:o}",
                     "kind", sched_kind_name(t->kind), "source", t->source, "glob",
                     t->glob ? json_string(t->glob) : json_null(), "instance", t->instance,
                     "offset", jsonio_u64(t->offset), "size", (json_int_t)t->size, "last_leased_ms",
                     (json_int_t)t->last_leased_ms, "lines", jsonio_u64(t->lines), "bad_lines",
                     jsonio_u64(t->bad_lines), "bytes", jsonio_u64(t->bytes), "deliveries", d,
                     "ident", t->ident, "finished", t->finished, "stamp", jsonio_u64(t->stamp));
}

static json_t *open_ckpt(const sched_rnd_t *r, int *bad)
{
    char *state = mem_xmalloc((size_t)r->ntasks + 1);
    json_t *last = json_array();
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
        jsonio_push(tasks, task_ckpt(s, APR_ARRAY_IDX(job->tasks, i, sched_task_t *), bad), bad);
    for (const sched_rnd_t *r = job->open; r; r = r->next)
        jsonio_push(open, open_ckpt(r, bad), bad);
    for (int i = 0; i < job->nclosed; i++)
        jsonio_push(closed,
                    closed_ckpt(job->closed[(job->closed_first + i) % SCHED_ROUNDS_KEPT], bad),
                    bad);
    json_t *cur = job->cur_round == INT64_MIN ? json_null() : json_integer(job->cur_round);
    return json_pack("{s:s, s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o}", "name", job->cfg->name,
                     "round_ms", (json_int_t)job->round_ms, "cur_round", cur, "next_start_ms",
                     (json_int_t)job->next_start_ms, "tasks", tasks, "open", open, "closed", closed,
                     "ident_seq", jsonio_u64(job->ident_seq), "files", sched_ident_ckpt(job, bad));
}

/* The whole state as one JSON object, or NULL when a string could not be encoded. */
static json_t *state_ckpt(const sched_t *s)
{
    int bad = 0;
    json_t *jobs = json_array();
    for (int j = 0; j < s->njobs; j++)
        jsonio_push(jobs, job_ckpt(s, &s->jobs[j], &bad), &bad);
    if (bad) {
        json_decref(jobs);
        return NULL;
    }
    return json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "type", "checkpoint", "version",
                     CKPT_VERSION, "next_lease", jsonio_u64(s->next_lease), "n_granted",
                     jsonio_u64(s->n_granted), "n_completed", jsonio_u64(s->n_completed),
                     "n_expired", jsonio_u64(s->n_expired), "n_renewed", jsonio_u64(s->n_renewed),
                     "jobs", jobs);
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
    apr_status_t rv = seq ? sched_encode_record(&h, state, &b, err) : APR_EGENERAL;
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

/* ---- checkpoint: restoring ---- */

static void restored_push(sched_rx_t *x, sched_task_t *t)
{
    if (x->nrestored == x->restored_cap) {
        x->restored_cap = x->restored_cap ? 2 * x->restored_cap : 64;
        x->restored = mem_xrealloc(x->restored, sizeof(*x->restored) * x->restored_cap);
    }
    x->restored[x->nrestored++] = t;
}

/* [[source, start, end], ...] into arr (sched_range_t, strings in pool). */
static void restore_ranges(sched_rx_t *x, json_t *a, apr_array_header_t *arr, apr_pool_t *pool)
{
    for (size_t i = 0; a && i < json_array_size(a) && !x->rd.failed; i++) {
        json_t *g = json_array_get(a, i);
        const char *src = json_string_value(json_array_get(g, 0));
        uint64_t start = jsonio_item_u64(&x->rd, json_array_get(g, 1), "ranges");
        uint64_t end = jsonio_item_u64(&x->rd, json_array_get(g, 2), "ranges");
        if (!src || json_array_size(g) != 3 || end < start) {
            jsonio_fail(&x->rd, "ranges", "has an item that is not [source, start, end]");
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

static void restore_task(sched_rx_t *x, sched_job_t *job, json_t *o)
{
    sched_t *s = x->s;
    sched_kind_t kind;
    const char *source = jsonio_get_str(&x->rd, o, "source", 1, SIZE_MAX);
    const char *kname = jsonio_get_str(&x->rd, o, "kind", 1, 15);
    if (x->rd.failed || !*source || sched_kind_parse(kname, &kind) < 0) {
        jsonio_fail(&x->rd, "kind/source", "must be read/expand and a non-empty source");
        return;
    }
    const char *instance = jsonio_get_str(&x->rd, o, "instance", 1, SCHED_INSTANCE_MAX - 1);
    int ident = kind == SCHED_READ && json_is_true(json_object_get(o, "ident"));
    if (x->rd.failed)
        return;
    if (ident ? !*instance || sched_read_task(job, source, instance) != NULL
              : sched_task_find(job, kind, source) != NULL) {
        jsonio_fail(&x->rd, "source", "names a task already restored");
        return;
    }
    const char *glob = json_is_null(json_object_get(o, "glob"))
                           ? NULL /* written null when the task has none */
                           : jsonio_get_str(&x->rd, o, "glob", 0, SIZE_MAX);
    uint64_t offset = jsonio_get_u64(&x->rd, o, "offset");
    int64_t size = jsonio_get_i64(&x->rd, o, "size"),
            last = jsonio_get_i64(&x->rd, o, "last_leased_ms");
    uint64_t lines = jsonio_get_u64(&x->rd, o, "lines"),
             bad = jsonio_get_u64(&x->rd, o, "bad_lines");
    uint64_t bytes = jsonio_get_u64(&x->rd, o, "bytes");
    json_t *d = jsonio_get_obj(&x->rd, o, "deliveries", 1), *v;
    if (x->rd.failed)
        return;
    /* labels come from the config (sched_set_config, after the restore) */
    sched_task_t *t = ident ? sched_task_alloc(s, job, kind, sched_intern(s, source), NULL, 0)
                            : sched_task_add(s, job, kind, source, NULL, 0);
    snprintf(t->instance, sizeof t->instance, "%s", instance);
    if (ident) {
        t->ident = 1;
        t->finished = json_is_true(json_object_get(o, "finished"));
        HASH_ADD(hi, job->by_inst, instance, strlen(t->instance), t);
    }
    json_t *stamp = json_object_get(o, "stamp");
    if (kind == SCHED_EXPAND && stamp)
        t->stamp = jsonio_item_u64(&x->rd, stamp, "stamp");
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

static void restore_open(sched_rx_t *x, sched_job_t *job, json_t *o)
{
    int64_t number = jsonio_get_i64(&x->rd, o, "round"),
            ntasks = jsonio_get_i64(&x->rd, o, "ntasks");
    const char *state = jsonio_get_str(&x->rd, o, "state", 1, SIZE_MAX);
    json_t *last = jsonio_get_arr(&x->rd, o, "last_range"),
           *ranges = jsonio_get_arr(&x->rd, o, "ranges");
    int64_t ndue = jsonio_get_i64(&x->rd, o, "ndue"), ndone = jsonio_get_i64(&x->rd, o, "ndone");
    if (x->rd.failed)
        return;
    if (ntasks < 0 || ntasks > job->tasks->nelts || strlen(state) != (size_t)ntasks ||
        json_array_size(last) != (size_t)ntasks || ndone < 0 || ndone > ndue) {
        jsonio_fail(&x->rd, "ntasks",
                    "does not agree with state, last_range, ndue, ndone or tasks");
        return;
    }
    sched_rnd_t *r = sched_round_new(x->s, job, number, (int)ntasks);
    r->pub.start_ms = jsonio_get_i64(&x->rd, o, "start_ms");
    r->pub.deadline_ms = jsonio_get_i64(&x->rd, o, "deadline_ms");
    r->ndue = (int)ndue;
    r->ndone = (int)ndone;
    restore_ranges(x, ranges, r->ranges, r->pool);
    int64_t due = 0;
    for (int i = 0; i < ntasks && !x->rd.failed; i++) {
        json_t *lr = json_array_get(last, (size_t)i);
        if (state[i] < '0' + SCHED_NOT_DUE || state[i] > '0' + SCHED_DONE || !json_is_integer(lr) ||
            json_integer_value(lr) < -1 || json_integer_value(lr) >= r->ranges->nelts)
            jsonio_fail(&x->rd, "state/last_range", "has a bad value");
        r->state[i] = (uint8_t)(state[i] - '0');
        r->last_range[i] = (int)json_integer_value(lr);
        due += r->state[i] == SCHED_DUE;
    }
    if (!x->rd.failed && due != ndue - ndone) /* round_close lists the due ones in ndue - ndone */
        jsonio_fail(&x->rd, "state", "does not have ndue - ndone tasks due");
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

static void restore_closed(sched_rx_t *x, sched_job_t *job, json_t *o)
{
    int64_t number = jsonio_get_i64(&x->rd, o, "round");
    json_t *ranges = jsonio_get_arr(&x->rd, o, "ranges"),
           *missing = jsonio_get_arr(&x->rd, o, "missing");
    int incomplete = jsonio_get_bool(&x->rd, o, "incomplete", 1);
    if (x->rd.failed)
        return;
    sched_rnd_t *r = sched_round_new(x->s, job, number, 0);
    r->pub.start_ms = jsonio_get_i64(&x->rd, o, "start_ms");
    r->pub.deadline_ms = jsonio_get_i64(&x->rd, o, "deadline_ms");
    r->pub.closed_ms = jsonio_get_i64(&x->rd, o, "closed_ms");
    r->pub.incomplete = incomplete == 1;
    restore_ranges(x, ranges, r->ranges, r->pool);
    r->pub.nranges = r->ranges->nelts;
    r->pub.ranges = (const sched_range_t *)r->ranges->elts;
    int *m = apr_palloc(r->pool, sizeof(int) * (json_array_size(missing) + 1));
    for (size_t i = 0; i < json_array_size(missing); i++) {
        json_t *v = json_array_get(missing, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
            jsonio_fail(&x->rd, "missing", "has an item that is not a task number");
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
void sched_job_reset_rounds(sched_job_t *job)
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
    sched_job_reset_rounds(job);
    for (int i = 0; i < job->tasks->nelts; i++) {
        sched_task_t *t = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
        if (t->kind == SCHED_EXPAND)
            sched_ident_forget(job, t);
    }
    HASH_CLEAR(hh, job->by_path);
    HASH_CLEAR(hi, job->by_inst);
    job->ident_seq = 0;
    job->tasks->nelts = 0; /* the tasks' memory stays in the pool */
    job->cap_logged = 0;
}

static void restore_job(sched_rx_t *x, sched_job_t *job, json_t *o)
{
    json_t *cur = json_object_get(o, "cur_round");
    int64_t round_ms = jsonio_get_i64(&x->rd, o, "round_ms"),
            next = jsonio_get_i64(&x->rd, o, "next_start_ms");
    json_t *tasks = jsonio_get_arr(&x->rd, o, "tasks"), *open = jsonio_get_arr(&x->rd, o, "open");
    json_t *closed = jsonio_get_arr(&x->rd, o, "closed");
    if (!json_is_null(cur) && !json_is_integer(cur))
        jsonio_fail(&x->rd, "cur_round", "must be an integer or null");
    if (!x->rd.failed && round_ms <= 0)
        jsonio_fail(&x->rd, "round_ms", "must be positive");
    if (x->rd.failed)
        return;
    job_reset(job);
    job->round_ms = round_ms; /* sched_set_config applies the config's length from the next round */
    job->cur_round = json_is_null(cur) ? INT64_MIN : json_integer_value(cur);
    job->next_start_ms = next;
    for (size_t i = 0; i < json_array_size(tasks) && !x->rd.failed; i++) {
        jsonio_where(&x->rd, "checkpoint: job '%s' task %zu", job->cfg->name, i);
        restore_task(x, job, json_array_get(tasks, i));
    }
    json_t *seq = json_object_get(o, "ident_seq");
    if (seq && !x->rd.failed) {
        jsonio_where(&x->rd, "checkpoint: job '%s'", job->cfg->name);
        job->ident_seq = jsonio_item_u64(&x->rd, seq, "ident_seq");
    }
    if (!x->rd.failed)
        sched_ident_restore(x, job, json_object_get(o, "files"));
    for (size_t i = 0; i < json_array_size(open) && !x->rd.failed; i++) {
        jsonio_where(&x->rd, "checkpoint: job '%s' open round %zu", job->cfg->name, i);
        restore_open(x, job, json_array_get(open, i));
    }
    for (size_t i = 0; i < json_array_size(closed) && !x->rd.failed; i++) {
        jsonio_where(&x->rd, "checkpoint: job '%s' closed round %zu", job->cfg->name, i);
        restore_closed(x, job, json_array_get(closed, i));
    }
}

static void restore_state(sched_rx_t *x, json_t *root)
{
    sched_t *s = x->s;
    jsonio_where(&x->rd, "checkpoint");
    const char *type = jsonio_get_str(&x->rd, root, "type", 1, 31);
    int64_t version = jsonio_get_i64(&x->rd, root, "version");
    json_t *jobs = jsonio_get_arr(&x->rd, root, "jobs");
    if (!x->rd.failed && (strcmp(type, "checkpoint") != 0 || version < 1 || version > CKPT_VERSION))
        jsonio_fail(&x->rd, "type/version", "is not a scheduler checkpoint of version 1 or 2");
    uint64_t next = jsonio_get_u64(&x->rd, root, "next_lease");
    uint64_t granted = jsonio_get_u64(&x->rd, root, "n_granted"),
             done = jsonio_get_u64(&x->rd, root, "n_completed");
    uint64_t expired = jsonio_get_u64(&x->rd, root, "n_expired"),
             renewed = jsonio_get_u64(&x->rd, root, "n_renewed");
    if (x->rd.failed)
        return;
    s->next_lease = next > s->next_lease ? next : s->next_lease;
    s->n_granted = granted;
    s->n_completed = done;
    s->n_expired = expired;
    s->n_renewed = renewed;
    for (size_t i = 0; i < json_array_size(jobs) && !x->rd.failed; i++) {
        json_t *o = json_array_get(jobs, i);
        jsonio_where(&x->rd, "checkpoint: job %zu", i);
        const char *name = jsonio_get_str(&x->rd, o, "name", 1, SIZE_MAX);
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
int sched_on_checkpoint(void *ctx, const char *file, uint64_t offset, const uint8_t *frame,
                        size_t len, const frame_header_t *h)
{
    sched_rx_t *x = ctx;
    (void)h;
    if (x->ckpt_frames++ > 0) {
        abbey_err_set(&x->stop, "%s@%" PRIu64 ": a second frame in a scheduler checkpoint", file,
                      offset);
        return x->stopped = 1;
    }
    apr_pool_clear(x->tmp);
    json_t *root = sched_decode_record(frame, len, x->tmp, &x->stop);
    if (!root) {
        abbey_err_prefix(&x->stop, "%s@%" PRIu64 ": checkpoint", file, offset);
        return x->stopped = 1;
    }
    sched_t *s = x->s;
    jsonio_rd_init(&x->rd);
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
