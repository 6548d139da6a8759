/* sched_status.c - the scheduler's face for operators: its part of GET /v1/status
 * and its Prometheus metrics (see scheduler.h; docs/CLUSTER.md "Status").
 *
 * The status summarises, so its size and its time under the scheduler's lock
 * do not grow with what it lists: per job, counts of tasks by state, the
 * laggiest sources and one page of sources by task number (the query's
 * offset and limit), the leases of the listed sources, open rounds with
 * their first pending tasks. Under the lock one pass over a job's tasks
 * counts states and keeps the laggiest (a heap of the query's size), and
 * what will be shown is copied (rows: a few words and the instance each);
 * the JSON is built from the copies after the lock is released. Strings a
 * row points at (sources, files' paths, master names) live as long as the
 * scheduler (interned or config memory); a lease's slave name is copied. */
#include "sched_int.h"

#include <apr_strings.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"

#define LIST_IDS_MAX 100 /* pending / missing task numbers listed per round (counts are whole) */

/* The counts of a job's tasks: by kind, then by state (exclusive: leased, a
 * glob's file read to its end, paused, due in an open round, else idle). */
enum { ST_READ, ST_EXPAND, ST_LEASED, ST_WAITING, ST_IDLE, ST_PAUSED, ST_FINISHED, ST_N };
static const char *const state_names[ST_N] = {"read", "expand", "leased",  "waiting",
                                              "idle", "paused", "finished"};

/* One source as the status shows it, copied under the lock. */
typedef struct row_t {
    int task;
    sched_kind_t kind;
    const char *source;
    char instance[SCHED_INSTANCE_MAX];
    uint64_t offset, lines, bad_lines, bytes;
    int64_t size; /* -1: unknown */
    const char **deliv;
    int ndeliv;
    int ident; /* a glob's read task: file and state below */
    const char *file;
    const char *state;
    int leased; /* the lease below is set */
    int lease_sticky;
    uint64_t lease_id, lease_start;
    int64_t lease_round, lease_expires_ms;
    const char *lease_slave; /* copied */
} row_t;

typedef struct round_copy_t {
    sched_round_t pub; /* missing unused */
    int due, done, npending;
    int ids[LIST_IDS_MAX]; /* pending (open) or missing (closed), the first ones */
    int nids;
} round_copy_t;

/* What the status shows of one job, copied under the lock. */
typedef struct job_copy_t {
    const char *name;
    int64_t round, round_ms;
    int has_round;
    int tasks, files, leases;
    int counts[ST_N]; /* by state_names */
    int lag_unknown;
    uint64_t lag_bytes, committed_bytes;
    row_t *laggiest; /* by lag, most first */
    int nlaggiest;
    row_t *page;
    int npage;
    round_copy_t *open;
    int nopen;
    int has_closed;
    round_copy_t closed;
} job_copy_t;

void sched_status_query_default(sched_status_query_t *q)
{
    q->job = NULL;
    q->offset = 0;
    q->limit = SCHED_STATUS_LIMIT;
    q->laggiest = SCHED_STATUS_LAGGIEST;
}

/* A query parameter that is an integer in [0, max], or -1 after setting err. */
static int64_t query_int(const httpd_req_t *req, const char *name, int64_t dflt, int64_t max,
                         abbey_err_t *err)
{
    const char *v = httpd_query(req, name);
    char *end;
    if (!v)
        return dflt;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < 0 || n > max) {
        abbey_err_set(err, "query parameter '%s' must be an integer from 0 to %" PRId64, name, max);
        return -1;
    }
    return n;
}

int sched_status_query_parse(const httpd_req_t *req, sched_status_query_t *q, abbey_err_t *err)
{
    sched_status_query_default(q);
    q->job = httpd_query(req, "job");
    if ((q->offset = query_int(req, "offset", 0, INT32_MAX, err)) < 0 ||
        (q->limit = (int)query_int(req, "limit", SCHED_STATUS_LIMIT, SCHED_STATUS_LIMIT_MAX, err)) <
            0 ||
        (q->laggiest = (int)query_int(req, "laggiest", SCHED_STATUS_LAGGIEST,
                                      SCHED_STATUS_LIMIT_MAX, err)) < 0)
        return -1;
    return 0;
}

/* ---- under the lock: counting and copying ---- */

static int task_state(const sched_job_t *job, const sched_task_t *t)
{
    if (t->lease)
        return ST_LEASED;
    if (t->finished)
        return ST_FINISHED;
    if (t->paused)
        return ST_PAUSED;
    for (const sched_rnd_t *r = job->open; r; r = r->next)
        if (t->counted && t->done_seq < r->seq)
            return ST_WAITING;
    return ST_IDLE;
}

static uint64_t lag_of(const sched_task_t *t)
{
    return (uint64_t)t->size > t->offset ? (uint64_t)t->size - t->offset : 0;
}

static void row_copy(const sched_t *s, const sched_task_t *t, row_t *r, apr_pool_t *pool)
{
    r->task = t->id;
    r->kind = t->kind;
    r->source = t->source;
    memcpy(r->instance, t->instance, sizeof r->instance);
    r->offset = t->offset;
    r->lines = t->lines;
    r->bad_lines = t->bad_lines;
    r->bytes = t->bytes;
    r->size = t->size;
    r->ndeliv = t->ndeliv < s->cfg->nmasters ? t->ndeliv : s->cfg->nmasters;
    r->deliv = apr_pmemdup(pool, t->deliv, sizeof(char *) * (size_t)(r->ndeliv ? r->ndeliv : 1));
    r->ident = t->ident;
    r->file = t->file ? t->file->path : NULL;
    r->state = t->finished ? "finished" : t->paused ? "paused" : "reading";
    r->leased = t->lease != NULL;
    if (t->lease) {
        r->lease_id = t->lease->id;
        r->lease_sticky = t->lease->sticky;
        r->lease_start = t->lease->start;
        r->lease_round = t->lease->round;
        r->lease_expires_ms = t->lease->expires_ms;
        r->lease_slave = apr_pstrdup(pool, t->lease->slave);
    }
}

/* The heap of the laggiest tasks (least lag at the root), ties to the lower task. */
static int lag_less(const sched_task_t *a, const sched_task_t *b)
{
    uint64_t la = lag_of(a), lb = lag_of(b);
    return la < lb || (la == lb && a->id > b->id);
}

static void heap_push(const sched_task_t **h, int *n, int cap, const sched_task_t *t)
{
    int i;
    if (*n < cap) { /* sift up */
        for (i = (*n)++; i > 0 && lag_less(t, h[(i - 1) / 2]); i = (i - 1) / 2)
            h[i] = h[(i - 1) / 2];
        h[i] = t;
        return;
    }
    if (!cap || !lag_less(h[0], t))
        return;
    for (i = 0;;) { /* t replaces the root (the least), sifted down */
        int l = 2 * i + 1, r = l + 1, m = i;
        const sched_task_t *least = t;
        if (l < *n && lag_less(h[l], least))
            m = l, least = h[l];
        if (r < *n && lag_less(h[r], least))
            m = r;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = t;
}

static int by_lag_desc(const void *a, const void *b)
{
    const sched_task_t *x = *(const sched_task_t *const *)a, *y = *(const sched_task_t *const *)b;
    return lag_less(y, x) ? -1 : lag_less(x, y) ? 1 : 0;
}

/* Open round r of job: its counts and first pending tasks (a pass that stops once
 * it found them). */
static void open_copy(const sched_job_t *job, const sched_rnd_t *r, round_copy_t *out)
{
    out->pub = r->pub;
    out->due = r->ndue;
    out->npending = r->npending;
    out->done = r->ndue > r->npending ? r->ndue - r->npending : 0;
    out->nids = 0;
    for (int i = 0; i < job->tasks->nelts && out->nids < LIST_IDS_MAX && out->nids < r->npending;
         i++) {
        const sched_task_t *t = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
        if (t->counted && t->done_seq < r->seq)
            out->ids[out->nids++] = i;
    }
}

/* Closed round pub: the first tasks missing. */
static void closed_copy(const sched_round_t *pub, round_copy_t *out)
{
    out->pub = *pub;
    out->due = out->done = 0;
    out->nids = 0;
    for (int i = 0; i < pub->nmissing && out->nids < LIST_IDS_MAX; i++)
        out->ids[out->nids++] = pub->missing[i];
    out->npending = pub->nmissing;
}

static void job_copy(const sched_t *s, const sched_job_t *job, const sched_status_query_t *q,
                     apr_pool_t *pool, job_copy_t *c)
{
    int n = job->tasks->nelts, k = 0;
    const sched_task_t **heap = mem_xcalloc((size_t)q->laggiest + 1, sizeof *heap);

    memset(c, 0, sizeof *c);
    c->name = job->cfg->name;
    c->has_round = job->cur_round != INT64_MIN;
    c->round = job->cur_round;
    c->round_ms = job->round_ms;
    c->tasks = n;
    c->files = job->nidents;
    for (int i = 0; i < n; i++) {
        const sched_task_t *t = APR_ARRAY_IDX(job->tasks, i, sched_task_t *);
        c->counts[t->kind == SCHED_EXPAND ? ST_EXPAND : ST_READ]++;
        c->counts[task_state(job, t)]++;
        c->leases += t->lease != NULL;
        c->committed_bytes += t->kind == SCHED_READ ? t->offset : 0;
        if (t->size < 0) {
            c->lag_unknown += t->kind == SCHED_READ;
            continue;
        }
        c->lag_bytes += lag_of(t);
        if (lag_of(t) > 0)
            heap_push(heap, &k, q->laggiest, t);
    }
    qsort(heap, (size_t)k, sizeof *heap, by_lag_desc);
    c->laggiest = apr_palloc(pool, sizeof(row_t) * (size_t)(k ? k : 1));
    for (int i = 0; i < k; i++)
        row_copy(s, heap[i], &c->laggiest[i], pool);
    c->nlaggiest = k;
    free(heap);
    int64_t first = q->offset < n ? q->offset : n, last = first + q->limit;
    last = last < n ? last : n;
    c->page = apr_palloc(pool, sizeof(row_t) * (size_t)(last > first ? last - first : 1));
    for (int64_t i = first; i < last; i++)
        row_copy(s, APR_ARRAY_IDX(job->tasks, i, sched_task_t *), &c->page[c->npage++], pool);
    for (const sched_rnd_t *r = job->open; r; r = r->next)
        c->nopen++;
    c->open = apr_palloc(pool, sizeof(round_copy_t) * (size_t)(c->nopen ? c->nopen : 1));
    int i = 0;
    for (const sched_rnd_t *r = job->open; r; r = r->next, i++)
        open_copy(job, r, &c->open[i]);
    if ((c->has_closed = job->nclosed > 0))
        closed_copy(&job->closed[(job->closed_first + job->nclosed - 1) % SCHED_ROUNDS_KEPT]->pub,
                    &c->closed);
}

static json_t *slaves_json(const sched_t *s)
{
    json_t *slaves = json_array();
    for (const sched_slave_t *v = s->slaves; v; v = v->hh.next) {
        json_t *labels = json_array();
        for (int i = 0; i < v->nlabels; i++)
            json_array_append_new(labels, json_string(v->labels[i]));
        json_t *vo = json_pack("{s:s, s:o, s:I}", "name", v->name, "labels", labels, "last_seen_ms",
                               (json_int_t)v->last_seen_ms);
        if (v->sticky) /* what it holds, and its weight in the shares */
            json_object_set_new(vo, "sticky",
                                json_pack("{s:i, s:i, s:f}", "held", v->nheld, "workers",
                                          v->workers, "weight", v->workers * v->eighths / 8.0));
        if (v->has_spool) /* the slave's spool backlog, as its last lease request said */
            json_object_set_new(vo, "spool",
                                json_pack("{s:I, s:I, s:I}", "frames", (json_int_t)v->spool_frames,
                                          "bytes", (json_int_t)v->spool_bytes, "oldest_ms",
                                          (json_int_t)v->spool_oldest_ms));
        json_array_append_new(slaves, vo);
    }
    return slaves;
}

/* ---- outside the lock: the JSON ---- */

static json_t *row_json(const rules_config_t *cfg, const row_t *r)
{
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "task", r->task, "kind",
                  r->kind == SCHED_READ ? "read" : "expand", "source", r->source, "instance",
                  r->instance, "offset", (json_int_t)r->offset, "lines", (json_int_t)r->lines,
                  "bad_lines", (json_int_t)r->bad_lines, "bytes", (json_int_t)r->bytes);
    if (!o)
        return NULL;
    if (r->size >= 0) {
        uint64_t lag = (uint64_t)r->size > r->offset ? (uint64_t)r->size - r->offset : 0;
        json_object_set_new(o, "size", json_integer(r->size));
        json_object_set_new(o, "lag_bytes", json_integer((json_int_t)lag));
    } else {
        json_object_set_new(o, "lag_bytes", json_null());
    }
    json_t *d = json_object();
    for (int m = 0; m < r->ndeliv && m < cfg->nmasters; m++)
        if (r->deliv[m])
            json_object_set_new(d, cfg->masters[m].name, json_string(r->deliv[m]));
    json_object_set_new(o, "deliveries", d);
    if (r->ident) { /* a glob's read task: the file it reads now, and whether it waits */
        json_object_set_new(o, "file", r->file ? json_string(r->file) : json_null());
        json_object_set_new(o, "state", json_string(r->state));
    }
    return o;
}

static json_t *ids_json(const round_copy_t *r)
{
    json_t *a = json_array();
    for (int i = 0; i < r->nids; i++)
        json_array_append_new(a, json_integer(r->ids[i]));
    return a;
}

static json_t *job_json(const rules_config_t *cfg, const job_copy_t *c,
                        const sched_status_query_t *q)
{
    json_t *counts = json_object(), *lag = json_array(), *page = json_array(),
           *leases = json_array(), *open = json_array(), *closed = json_null(), *o;
    int bad = 0;
    for (int i = 0; i < ST_N; i++)
        json_object_set_new(counts, state_names[i], json_integer(c->counts[i]));
    json_object_set_new(counts, "lag_unknown", json_integer(c->lag_unknown));
    for (int i = 0; i < c->nlaggiest; i++)
        jsonio_push(lag, row_json(cfg, &c->laggiest[i]), &bad);
    for (int i = 0; i < c->npage; i++) {
        const row_t *r = &c->page[i];
        jsonio_push(page, row_json(cfg, r), &bad);
        if (r->leased)
            jsonio_push(leases,
                        json_pack("{s:I, s:i, s:s, s:I, s:I, s:I, s:b}", "id",
                                  (json_int_t)r->lease_id, "task", r->task, "slave", r->lease_slave,
                                  "start", (json_int_t)r->lease_start, "round",
                                  (json_int_t)r->lease_round, "expires_ms",
                                  (json_int_t)r->lease_expires_ms, "sticky", r->lease_sticky),
                        &bad);
    }
    for (int i = 0; i < c->nopen; i++) {
        const round_copy_t *r = &c->open[i];
        json_array_append_new(
            open, json_pack("{s:I, s:I, s:I, s:i, s:i, s:i, s:o}", "round",
                            (json_int_t)r->pub.round, "start_ms", (json_int_t)r->pub.start_ms,
                            "deadline_ms", (json_int_t)r->pub.deadline_ms, "due", r->due, "done",
                            r->done, "npending", r->npending, "pending", ids_json(r)));
    }
    if (c->has_closed) {
        const round_copy_t *r = &c->closed;
        json_decref(closed);
        closed = json_pack("{s:I, s:I, s:I, s:b, s:i, s:o}", "round", (json_int_t)r->pub.round,
                           "start_ms", (json_int_t)r->pub.start_ms, "closed_ms",
                           (json_int_t)r->pub.closed_ms, "incomplete", r->pub.incomplete,
                           "nmissing", r->npending, "missing", ids_json(r));
    }
    o = json_pack("{s:s, s:o, s:I, s:i, s:i, s:o, s:I, s:I, s:o, s:I, s:i, s:o, s:i, s:o, s:o, "
                  "s:o}",
                  "name", c->name, "round", c->has_round ? json_integer(c->round) : json_null(),
                  "round_ms", (json_int_t)c->round_ms, "tasks", c->tasks, "files", c->files,
                  "counts", counts, "lag_bytes", (json_int_t)c->lag_bytes, "committed_bytes",
                  (json_int_t)c->committed_bytes, "laggiest", lag, "sources_offset",
                  (json_int_t)(q->offset < c->tasks ? q->offset : c->tasks), "sources_limit",
                  q->limit, "sources", page, "leases_active", c->leases, "leases", leases,
                  "open_rounds", open, "last_closed", closed);
    return o;
}

void sched_status_json_query(sched_t *s, const sched_status_query_t *q, int64_t now_ms, buf_t *out)
{
    sched_status_query_t dq;
    apr_pool_t *pool = mem_xpool(NULL);
    job_copy_t *jobs;
    int njobs = 0;
    if (!q) {
        sched_status_query_default(&dq);
        q = &dq;
    }
    apr_thread_mutex_lock(s->lock);
    sched_advance(s, now_ms);
    const rules_config_t *cfg = s->cfg; /* configs are never freed */
    jobs = apr_palloc(pool, sizeof *jobs * (size_t)(s->njobs ? s->njobs : 1));
    for (int j = 0; j < s->njobs; j++)
        if (!q->job || strcmp(q->job, s->jobs[j].cfg->name) == 0)
            job_copy(s, &s->jobs[j], q, pool, &jobs[njobs++]);
    json_t *slaves = slaves_json(s);
    json_t *repairs = sched_repair_json(s);
    apr_thread_mutex_unlock(s->lock);
    sched_notify(s);

    json_t *ja = json_array();
    int bad = 0;
    for (int j = 0; j < njobs; j++)
        jsonio_push(ja, job_json(cfg, &jobs[j], q), &bad);
    json_t *root = json_pack("{s:o, s:o, s:o}", "jobs", ja, "slaves", slaves, "repairs", repairs);
    jsonio_dump_buf(root, out);
    json_decref(root);
    apr_pool_destroy(pool);
}

void sched_status_json(sched_t *s, int64_t now_ms, buf_t *out)
{
    sched_status_json_query(s, NULL, now_ms, out);
}

/* ---- metrics ---- */

/* The upper bounds of abbey_lease_batch_size's buckets (+Inf after them). */
static const int batch_le[SCHED_BATCH_BUCKETS] = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256};

void sched_count_lease_call(sched_t *s, int granted, int refused)
{
    if (refused) {
        s->n_lease_calls[2]++;
        return;
    }
    s->n_lease_calls[granted > 0 ? 0 : 1]++;
    s->n_batch_sum += (uint64_t)granted;
    for (int i = 0; i < SCHED_BATCH_BUCKETS; i++)
        if (granted <= batch_le[i]) {
            s->n_batch[i]++;
            break;
        }
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void put_label(buf_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            buf_printf(out, "\\n");
        else
            buf_put_u8(out, (uint8_t)*v);
    }
}

/* abbey_lease_calls_total and the abbey_lease_batch_size histogram. */
static void lease_call_metrics(const sched_t *s, buf_t *out)
{
    uint64_t cum = 0, answered = s->n_lease_calls[0] + s->n_lease_calls[1];
    buf_printf(out,
               "# HELP abbey_lease_calls_total Lease requests (POST /v1/lease) by answer: with "
               "leases, empty, or refused (an error answer).\n"
               "# TYPE abbey_lease_calls_total counter\n"
               "abbey_lease_calls_total{result=\"leases\"} %" PRIu64 "\n"
               "abbey_lease_calls_total{result=\"empty\"} %" PRIu64 "\n"
               "abbey_lease_calls_total{result=\"refused\"} %" PRIu64 "\n",
               s->n_lease_calls[0], s->n_lease_calls[1], s->n_lease_calls[2]);
    buf_printf(out, "# HELP abbey_lease_batch_size Leases granted per answered lease request.\n"
                    "# TYPE abbey_lease_batch_size histogram\n");
    for (int i = 0; i < SCHED_BATCH_BUCKETS; i++) {
        cum += s->n_batch[i];
        buf_printf(out, "abbey_lease_batch_size_bucket{le=\"%d\"} %" PRIu64 "\n", batch_le[i], cum);
    }
    buf_printf(out,
               "abbey_lease_batch_size_bucket{le=\"+Inf\"} %" PRIu64 "\n"
               "abbey_lease_batch_size_sum %" PRIu64 "\nabbey_lease_batch_size_count %" PRIu64 "\n",
               answered, s->n_batch_sum, answered);
}

void sched_metrics(sched_t *s, buf_t *out)
{
    apr_thread_mutex_lock(s->lock);
    buf_printf(out,
               "# HELP abbey_leases Leases by state.\n# TYPE abbey_leases gauge\n"
               "abbey_leases{state=\"active\"} %u\n",
               HASH_COUNT(s->leases));
    buf_printf(out,
               "# HELP abbey_leases_total Lease events by result.\n"
               "# TYPE abbey_leases_total counter\n"
               "abbey_leases_total{result=\"granted\"} %" PRIu64 "\n"
               "abbey_leases_total{result=\"completed\"} %" PRIu64 "\n"
               "abbey_leases_total{result=\"expired\"} %" PRIu64 "\n"
               "abbey_leases_total{result=\"renewed\"} %" PRIu64 "\n",
               s->n_granted, s->n_completed, s->n_expired, s->n_renewed);
    lease_call_metrics(s, out);
    buf_printf(out, "# HELP abbey_round_seconds Duration of the last closed round.\n"
                    "# TYPE abbey_round_seconds gauge\n");
    for (int j = 0; j < s->njobs; j++) {
        const sched_job_t *job = &s->jobs[j];
        if (!job->nclosed)
            continue;
        const sched_round_t *r =
            &job->closed[(job->closed_first + job->nclosed - 1) % SCHED_ROUNDS_KEPT]->pub;
        buf_printf(out, "abbey_round_seconds{job=\"");
        put_label(out, job->cfg->name);
        buf_printf(out, "\"} %.3f\n", (double)(r->closed_ms - r->start_ms) / 1000.0);
    }
    buf_printf(out, "# HELP abbey_tasks Tasks per job.\n# TYPE abbey_tasks gauge\n");
    for (int j = 0; j < s->njobs; j++) {
        buf_printf(out, "abbey_tasks{job=\"");
        put_label(out, s->jobs[j].cfg->name);
        buf_printf(out, "\"} %d\n", s->jobs[j].tasks->nelts);
    }
    json_t *rp = sched_repair_json(s);
    buf_printf(out,
               "# HELP abbey_repairs Gap repairs waiting (queued) or being done (leased).\n"
               "# TYPE abbey_repairs gauge\n"
               "abbey_repairs{state=\"queued\"} %" JSON_INTEGER_FORMAT "\n"
               "abbey_repairs{state=\"leased\"} %" JSON_INTEGER_FORMAT "\n"
               "# HELP abbey_repairs_total Gap repairs by result.\n"
               "# TYPE abbey_repairs_total counter\n"
               "abbey_repairs_total{result=\"done\"} %" JSON_INTEGER_FORMAT "\n"
               "abbey_repairs_total{result=\"failed\"} %" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(rp, "queued")),
               json_integer_value(json_object_get(rp, "leased")),
               json_integer_value(json_object_get(rp, "done")),
               json_integer_value(json_object_get(rp, "failed")));
    json_decref(rp);
    apr_thread_mutex_unlock(s->lock);
}
